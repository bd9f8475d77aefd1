//! Trial directories used again within a session (`engine/exec/src/executor/recycle.rs`):
//! a later trial gets a retired directory under its own name, and its agent sees exactly
//! what a fresh one would give it; nothing a previous agent planted there is written
//! through.

mod support;
use support::recorded::*;
use support::*;

#[test]
fn a_reused_trial_directory_gives_each_agent_only_its_own_inputs_and_an_empty_workspace() {
    let s = Scratch::new();
    s.tasks(8);
    let seen = s.dir().join("seen.txt");
    let victim = s.write("victim.txt", "the victim's own content\n");
    // Each agent checks what it finds before it writes anything, and records its trial
    // directory's inode. The agent of task_003 then makes its trial_input.json a second
    // name of a file outside the run: the next trial in that directory must not write
    // its input through it. A directory is known by its inode and its birth time (a
    // freed inode number is often handed out again at once; its birth time is new).
    s.script(
        "agent.sh",
        &format!(
            r#"d="$AGENTLAB_TRIAL_DIR"
bad=""
grep -q "\"$AGENTLAB_TASK_ID\"" "$AGENTLAB_TASK_PATH" || bad="$bad task"
grep -q "\"$AGENTLAB_TRIAL_ID\"" "$AGENTLAB_TRIAL_INPUT_PATH" || bad="$bad trial_input"
[ -z "$(ls -A "$AGENTLAB_WORKSPACE_DIR")" ] || bad="$bad workspace"
[ ! -e "$AGENTLAB_RESULT_PATH" ] || bad="$bad result"
for f in workspace_diff.json workspace_manifest.json agent_patch.diff grade.json; do
  [ ! -e "$d/$f" ] || bad="$bad $f"
done
[ -z "$(ls -A "$d/attempt_1")" ] || bad="$bad attempt_1"
echo "$AGENTLAB_TRIAL_ID $(stat -c %i:%W.%w "$d" | tr -d ' ') ${{bad:-ok}}" >> {seen}
[ "$AGENTLAB_TASK_ID" != task_003 ] || ln -f {victim} "$AGENTLAB_TRIAL_INPUT_PATH"
{SUCCESS}"#,
            seen = seen.display(),
            victim = victim.display(),
        ),
    );
    let exp = s.experiment(&["a"], 1, 1, "");
    let run = run_ok(&s, &exp, &[]);

    let lines = std::fs::read_to_string(&seen).unwrap();
    let rows: Vec<Vec<&str>> = lines.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(rows.len(), 8, "{lines}");
    for r in &rows {
        assert_eq!(r[2..], ["ok"], "what an agent found: {lines}");
    }
    let mut inodes: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    inodes.sort();
    inodes.dedup();
    assert!(
        inodes.len() <= 2,
        "8 trials one at a time created {} trial directories: {lines}",
        inodes.len()
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the victim's own content\n",
        "a trial input was written through a name a previous agent planted"
    );
    assert!(
        !run.join("trials/.free").exists(),
        "retired directories outlive the session"
    );
    let proj = check_journal(&run);
    assert_eq!(proj.aggregates.overall.succeeded, 8);
}
