//! One run, one set of inputs: `continue` refuses a run whose agent program, task limits
//! or dependency files changed since it was created, naming what changed, and accepts
//! them only with `--allow-changed-inputs`, which is journaled.

mod support;
use std::path::PathBuf;
use support::crash::*;
use support::*;

/// A crashed run of 8 tasks (slow ones still running when labj was SIGKILLed).
fn crashed(s: &Scratch) -> PathBuf {
    let (run, _) = crash_with_active_trials(s, "0.3");
    run
}

#[test]
fn changed_agent_script_is_refused_then_accepted_and_journaled() {
    let s = Scratch::new();
    let run = crashed(&s);
    let arg = run.to_str().unwrap();
    // The same agent behaviour, different program: still a different agent.
    let agent = s.dir().join("agent.sh");
    let mut body = std::fs::read_to_string(&agent).unwrap();
    body.push_str("\n# tuned after the crash\n");
    std::fs::write(&agent, body).unwrap();

    let out = s.labj(&["continue", arg, "--fail-on-infra-error", "100%"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("changed since it was created: agent_programs (")
            && t.contains("--allow-changed-inputs"),
        "{t}"
    );
    assert_eq!(
        events_of(&s, &run, "session_started").len(),
        1,
        "the refused continue journals nothing"
    );

    let out = s.labj(&[
        "continue",
        arg,
        "--allow-changed-inputs",
        "--fail-on-infra-error",
        "100%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let starts = events_of(&s, &run, "session_started");
    assert_eq!(starts.len(), 2);
    let change = &starts[1]["payload"]["inputs_changed"];
    assert_eq!(
        change["changed"],
        serde_json::json!(["agent_programs"]),
        "{change}"
    );
    let created = &events_of(&s, &run, "run_created")[0]["payload"]["options"];
    assert_ne!(
        change["inputs"]["agent_programs"], created["inputs"]["agent_programs"],
        "the accepted digest is the new program's"
    );
    assert_eq!(
        change["inputs"]["dataset"], created["inputs"]["dataset"],
        "unchanged components keep their digest"
    );
    check_journal(&run);
    assert_each_slot_committed_once(&run, 8);
}

#[test]
fn changed_dataset_row_is_named_and_restored_inputs_are_accepted() {
    let s = Scratch::new();
    let (run, _) = crash_with_active_trials(&s, "0.3");
    let arg = run.to_str().unwrap();
    // The dataset row of one task changes: `dataset` is named.
    let tasks = s.dir().join("tasks.jsonl");
    let rows = std::fs::read_to_string(&tasks).unwrap();
    std::fs::write(&tasks, rows.replacen("\"n\":7", "\"n\":70", 1)).unwrap();
    let out = s.labj(&["continue", arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("changed since it was created: dataset ("),
        "{}",
        text(&out)
    );
    std::fs::write(&tasks, rows).unwrap();

    let out = s.labj(&["continue", arg, "--fail-on-infra-error", "100%"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "restored inputs are accepted: {}",
        text(&out)
    );
}
