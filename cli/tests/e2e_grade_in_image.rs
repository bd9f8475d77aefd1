//! Grading inside the task's environment (`benchmark.grader.strategy: in_task_image`),
//! real podman (runc) and real bubblewrap: the grader runs after the agent, in a fresh
//! container of the task's image (a fresh sandbox in sandbox mode) holding a copy of the
//! agent's final workspace and, only there, the task's hidden grading files. The agent
//! sees neither the hidden files nor anything of the grader; editing the tests in its
//! own workspace cannot change the grade; a grader that crashes or writes nothing is
//! `grade_error`.

mod support;
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::iso::*;
use support::*;

/// Three tasks, each with a public `tests/check.sh` in its workspace (what the agent
/// can see and edit) and a hidden directory `hidden/<task>/` with the real check:
/// * task_000 — the agent answers right (graded success);
/// * task_001 — the agent answers wrong and rewrites the public test to pass (graded
///   failure: the grader runs the hidden test);
/// * task_002 — the hidden grader crashes (`grade_error`); task_003 — it writes nothing.
fn setup(s: &Scratch) {
    let row = |id: &str| {
        format!(
            r#"{{"schema_version":"task_boundary_v1","task":{{"id":"{id}","prompt":"write 42 to answer.txt"}},"workspace_files":[{{"path":"tests/check.sh","content":"grep -qx 42 answer.txt\n","executable":true}}]}}"#
        )
    };
    let rows: Vec<String> = ["task_000", "task_001", "task_002", "task_003"]
        .iter()
        .map(|t| row(t))
        .collect();
    s.write("tasks.jsonl", &(rows.join("\n") + "\n"));
    let honest = "secret-expected-42\ngrep -qx 42 \"$1/answer.txt\"\n";
    for t in ["task_000", "task_001"] {
        s.write(&format!("hidden/{t}/check.sh"), honest);
    }
    s.write("hidden/task_002/check.sh", "secret-expected-42\nexit 0\n");
    s.write("hidden/task_002/crash", "1\n");
    s.write("hidden/task_003/check.sh", "secret-expected-42\nexit 0\n");
    s.write("hidden/task_003/silent", "1\n");
}

/// The agent: records whether it can see the hidden files (at the grader's container
/// path, at their host path, or by their marker line anywhere under `/agentlab` or the
/// scratch directory: experiment, every task's hidden files, runs), answers, and
/// for task_001 answers wrong and rewrites the public test to pass.
fn agent_script(hidden_host: &Path) -> String {
    format!(
        r#"seen=0
[ -e /agentlab/hidden ] && seen=1
[ -n "$(ls -A {h} 2>/dev/null)" ] && seen=1
grep -rqs 'secret-expected-4[2]' /agentlab {scratch} 2>/dev/null && seen=1
if [ "$AGENTLAB_TASK_ID" = task_001 ]; then
  echo 41 > answer.txt; printf 'exit 0\n' > tests/check.sh; rm -f tests/check.sh; mkdir -p tests; printf 'exit 0\n' > tests/check.sh
  printf '{{"schema_version":"grade_result_v1","outcome":"success"}}' > grade.json
else
  echo 42 > answer.txt
fi
printf '{{"schema_version":"agent_result_v1","outcome":"success","metrics":{{"agent_saw_hidden":%s}}}}' $seen > "$AGENTLAB_RESULT_PATH""#,
        h = hidden_host.join("task_000").display(),
        scratch = hidden_host.parent().unwrap().display()
    )
}

/// The grader: runs the hidden check against the workspace copy; `crash` / `silent`
/// markers in the hidden directory make it crash or write nothing. It also reports
/// what it saw (the hidden files, the agent's answer) and leaves a file in the copy.
const GRADER: &str = r#"h=$AGENTLAB_HIDDEN_DIR; w=$AGENTLAB_WORKSPACE_DIR
[ -e "$h/crash" ] && { echo "grader crashed" >&2; exit 3; }
[ -e "$h/silent" ] && exit 0
saw_hidden=0; grep -qs 'secret-expected-4[2]' "$h/check.sh" && saw_hidden=1
saw_ws=0; [ -f "$w/answer.txt" ] && saw_ws=1
echo graded > "$w/grader_was_here"
if sh "$h/check.sh" "$w" 2>/dev/null; then o=success; c=1; else o=failure; c=0; fi
printf '{"schema_version":"grade_result_v1","outcome":"%s","metrics":{"correct":%s,"grader_saw_hidden":%s,"grader_saw_workspace":%s}}' $o $c $saw_hidden $saw_ws > "$AGENTLAB_GRADE_PATH""#;

fn experiment(s: &Scratch, isolation: &str) -> PathBuf {
    let agent = agent_script(&s.dir().join("hidden"));
    let yaml = format!(
        "version: \"0.5\"
experiment: {{id: inimage, name: in-image grading}}
dataset: {{path: tasks.jsonl}}
design:
  replications: 1
  max_concurrency: 2
  policies:
    scheduling: variant_sequential
    state: isolate_per_trial
    retry: {{max_attempts: 1}}
baseline: {{variant_id: base, bindings: {{}}}}
variant_plan: []
runtime:
  agent:
    command: [\"sh\", \"-c\", {agent:?}]
    timeout_ms: 60000
{isolation}
benchmark:
  grader:
    command: [\"sh\", \"-c\", {GRADER:?}]
    strategy: in_task_image
    hidden_files: hidden/${{AGENTLAB_TASK_ID}}
    timeout_ms: 30000
primary_metric: correct
"
    );
    s.write("experiment.yaml", &yaml)
}

/// task id → trial_completed payload.
fn by_task(s: &Scratch, run: &Path) -> std::collections::BTreeMap<String, Value> {
    events_of(s, run, "trial_completed")
        .into_iter()
        .map(|e| {
            let p = e["payload"].clone();
            let slot = p["schedule_idx"].as_u64().unwrap();
            (format!("task_{slot:03}"), p)
        })
        .collect()
}

fn check_grades(s: &Scratch, run: &Path) {
    let done = by_task(s, run);
    assert_eq!(done.len(), 4, "{done:?}");
    let t0 = &done["task_000"];
    assert_eq!(t0["classification"], "success", "{t0}");
    let m = &t0["metrics"];
    assert_eq!(m["correct"], 1.0, "{t0}");
    assert_eq!(
        m["grader_saw_hidden"], 1.0,
        "grader sees the hidden files: {t0}"
    );
    assert_eq!(
        m["grader_saw_workspace"], 1.0,
        "grader sees the agent's work: {t0}"
    );
    for t in ["task_000", "task_001"] {
        assert_eq!(
            done[t]["metrics"]["agent_saw_hidden"], 0.0,
            "{t}: the agent saw the hidden files: {}",
            done[t]
        );
    }
    // Editing (and deleting) the public test, and forging a grade, change nothing.
    let t1 = &done["task_001"];
    assert_eq!(t1["classification"], "failure", "{t1}");
    assert_eq!(t1["metrics"]["correct"], 0.0, "{t1}");
    let t2 = &done["task_002"];
    assert_eq!(t2["classification"], "grade_error", "{t2}");
    assert!(t2["error"].as_str().unwrap().contains("exit"), "{t2}");
    let t3 = &done["task_003"];
    assert_eq!(t3["classification"], "grade_error", "{t3}");
    assert!(
        t3["error"].as_str().unwrap().contains("wrote no grade"),
        "{t3}"
    );
    // The grader worked on a copy: the agent's recorded workspace diff (the blob of
    // its `workspace_diff` evidence) names the answer but no file of the grader's.
    for t in ["task_000", "task_001"] {
        let ev = done[t]["evidence"].as_array().unwrap();
        let diff = ev
            .iter()
            .find(|e| e["class"] == "workspace_diff")
            .unwrap_or_else(|| panic!("{t}: no workspace_diff: {ev:?}"));
        let d = diff["digest"].as_str().unwrap();
        let text = std::fs::read_to_string(run.join("blobs").join(&d[..2]).join(d)).unwrap();
        assert!(text.contains("answer.txt"), "{t}: {text}");
        assert!(!text.contains("grader_was_here"), "{t}: {text}");
    }
    // grade_error is not the agent's failure, nor infrastructure.
    let p = check_journal(run);
    let a = &p.aggregates.variants["base"];
    assert_eq!(a.succeeded, 1, "{a:?}");
}

#[test]
fn in_image_grader_sees_workspace_and_hidden_tests_the_agent_never_saw() {
    require_podman();
    let s = Scratch::new();
    setup(&s);
    let exp = experiment(
        &s,
        &format!("    image: {IMAGE_A}\n  policy:\n    sandbox: {{mode: container}}\n    network: {{mode: none}}"),
    );
    let out = labj_podman(&s, &["describe", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = String::from_utf8_lossy(&out.stdout);
    assert!(
        d.contains("in the task's image (a fresh container on a copy of the agent's workspace), network none, timeout 30000 ms, hidden files hidden/${AGENTLAB_TASK_ID} (mounted only there)"),
        "{d}"
    );
    let out = labj_podman(&s, &["run", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    check_grades(&s, &run);
    // No container of the run (agent's or grader's) is left.
    assert!(containers_of(&run_id(&run)).is_empty());
}

#[test]
fn sandboxed_grader_gets_the_same_separation() {
    require_bwrap();
    let s = Scratch::new();
    setup(&s);
    let exp = experiment(&s, "  policy:\n    network: {mode: none}");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    check_grades(&s, &run);
}

#[test]
fn in_task_image_is_refused_for_plain_host_agents_and_missing_hidden_dirs() {
    let s = Scratch::new();
    setup(&s);
    let exp = experiment(&s, "");
    let out = s.labj(&["describe", exp.to_str().unwrap()]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("/benchmark/grader/strategy") && t.contains("sandbox.mode: container"),
        "{t}"
    );
    std::fs::remove_dir_all(s.dir().join("hidden/task_003")).unwrap();
    let exp = experiment(&s, "  policy:\n    network: {mode: none}");
    let out = s.labj(&["describe", exp.to_str().unwrap()]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("/benchmark/grader/hidden_files") && t.contains("task `task_003`"),
        "{t}"
    );
}
