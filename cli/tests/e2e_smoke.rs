mod support;
use support::*;

#[test]
fn quickstart_like_run_completes_and_verifies() {
    let s = Scratch::new();
    s.tasks(6);
    s.script(
        "agent.sh",
        r#"echo '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":1}}' > "$AGENTLAB_RESULT_PATH""#,
    );
    let exp = s.experiment(&["a", "b"], 2, 3, "");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let proj = check_journal(&s.the_run());
    assert_eq!(proj.progress.next_commit_idx, 24);
    assert_eq!(proj.aggregates.overall.succeeded, 24);
    assert_eq!(committed_slots(&s.the_run()).len(), 24);
}
