//! The AgentLab compatibility suite, design policies: retry triggers, pruning streaks
//! and required evidence classes keep the original runner's meanings
//! (`testdata/agentlab/{retry,pruning,evidence}`, run unchanged through `labj`).
//!
//! Needs python3 (installed by scripts/setup.d/20-python3.sh).

mod support;
use journal::event::{Classification, Event, TrialCompleted};
use std::collections::BTreeMap;
use std::path::Path;
use support::agentlab::*;
use support::*;

#[test]
fn compat_retry_on_keeps_the_original_meanings() {
    // (task, classification, attempts) per trial, in schedule order.
    let outcomes = |run: &Path| -> Vec<(String, Classification, usize)> {
        let ids = task_ids(run);
        completed(run)
            .values()
            .map(|c| {
                let task = ids[c.schedule_idx as usize].clone();
                (task, c.classification, c.attempts.len())
            })
            .collect()
    };
    // retry_on: [failure] retries the agent that exited non-zero, not the wrong answer
    // and not the missing result.
    let (_s, run, out) = run_case("retry");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        outcomes(&run),
        [
            ("crash_once".to_string(), Classification::Success, 2),
            ("wrong_answer".to_string(), Classification::Failure, 1),
            (
                "no_result_once".to_string(),
                Classification::ResultMissing,
                1
            ),
        ]
    );
    // retry_on left out: the original's default retries both, never the wrong answer.
    let s = Scratch::new();
    let dir = s.dir().join("default");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["agent.py", "tasks.jsonl"] {
        std::fs::copy(case_dir("retry").join(f), dir.join(f)).unwrap();
    }
    let yaml = std::fs::read_to_string(case_dir("retry").join("experiment.yaml")).unwrap();
    let text_default = yaml.replace("      retry_on: [failure]\n", "");
    assert_ne!(text_default, yaml);
    let exp = dir.join("experiment.yaml");
    std::fs::write(&exp, text_default).unwrap();
    let out = s.labj(&["describe", exp.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 attempt(s), retry on error, failure"),
        "{}",
        text(&out)
    );
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    check_journal(&run);
    assert_eq!(
        outcomes(&run),
        [
            ("crash_once".to_string(), Classification::Success, 2),
            ("wrong_answer".to_string(), Classification::Failure, 1),
            ("no_result_once".to_string(), Classification::Success, 2),
        ]
    );
}

#[test]
fn compat_pruning_counts_runs_that_failed_not_wrong_answers() {
    let (_s, run, out) = run_case("pruning");
    assert!(out.status.success(), "{}", text(&out));
    let events = read_events(&run);
    let pruning = events
        .iter()
        .find_map(|e| match &e.event {
            Event::RunCreated(c) => Some(c.pruning.clone()),
            _ => None,
        })
        .expect("run_created");
    assert_eq!(
        pruning.counts,
        journal::event::StreakCounts::AgentFailures,
        "{pruning:?}"
    );
    let pruned: Vec<(String, u32)> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::VariantPruned(p) => Some((p.variant_id.clone(), p.consecutive_failures)),
            _ => None,
        })
        .collect();
    assert_eq!(pruned, [("crashy".to_string(), 2)]);
    let slots = committed_slots(&run);
    // `wrong` (slots 0..6): six wrong answers, all run, never pruned.
    assert!(
        slots[..6]
            .iter()
            .all(|(_, status, class)| status == "completed" && class == "failure"),
        "{slots:?}"
    );
    // `crashy` (slots 6..12): stopped after its 2nd consecutive non-zero exit.
    let crashed = slots[6..]
        .iter()
        .filter(|(_, _, class)| class == "agent_exit_nonzero")
        .count();
    let skipped = slots[6..]
        .iter()
        .filter(|(_, status, _)| status == "skipped_pruned")
        .count();
    assert_eq!((crashed, skipped), (2, 4), "{slots:?}");
}

#[test]
fn compat_required_evidence_classes_and_task_policy_overrides_of_the_original() {
    let (_s, run, out) = run_case("evidence");
    assert!(out.status.success(), "{}", text(&out));
    let ids = task_ids(&run);
    let by_task: BTreeMap<String, TrialCompleted> = completed(&run)
        .into_values()
        .map(|c| (ids[c.schedule_idx as usize].clone(), c))
        .collect();
    let traced = &by_task["traced"];
    assert_eq!(traced.classification, Classification::Success, "{traced:?}");
    assert!(traced.evidence.iter().any(|e| e.class == "agent_patch"));
    let exempt = &by_task["exempt"];
    assert_eq!(
        exempt.classification,
        Classification::Success,
        "its policy_override drops hook_events_ref: {exempt:?}"
    );
    let untraced = &by_task["untraced"];
    assert_eq!(
        untraced.classification,
        Classification::Error,
        "{untraced:?}"
    );
    let e = untraced.error.clone().unwrap_or_default();
    assert!(
        e.contains("missing required evidence classes: hook_events_ref")
            && e.contains("AGENTLAB_TRAJECTORY_PATH"),
        "{e}"
    );

    // Without a grader, a class only a grader produces is refused before anything runs.
    let s = Scratch::new();
    let dir = s.dir().join("graderless");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["agent.py", "tasks.jsonl"] {
        std::fs::copy(case_dir("evidence").join(f), dir.join(f)).unwrap();
    }
    let yaml = std::fs::read_to_string(case_dir("evidence").join("experiment.yaml")).unwrap();
    let bad = yaml.replace("agent_patch]", "grader_report]");
    assert_ne!(bad, yaml);
    let exp = dir.join("experiment.yaml");
    std::fs::write(&exp, bad).unwrap();
    let out = s.labj(&["describe", exp.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("at /benchmark/policy/required_evidence_classes/2")
            && e.contains("`grader_report` is produced only by a grader"),
        "{e}"
    );
    // A task's policy_override is checked like the experiment's fields.
    std::fs::write(&exp, &yaml).unwrap();
    let rows = std::fs::read_to_string(case_dir("evidence").join("tasks.jsonl")).unwrap();
    for (from, to, want) in [
        (
            "\"task_model\"",
            "\"task_modle\"",
            "tasks.jsonl:3: unknown field `policy_override.task_modle`; did you mean `task_model`?",
        ),
        (
            "\"task_model\": \"independent\"",
            "\"state_policy\": \"accumulate\"",
            "tasks.jsonl:3: `policy_override.state_policy` `accumulate` is not supported",
        ),
        (
            "[\"workspace_post_ref\"]",
            "[\"grader_report\"]",
            "tasks.jsonl:3: in policy_override.required_evidence_classes: evidence class `grader_report` is produced only by a grader",
        ),
    ] {
        let changed = rows.replace(from, to);
        assert_ne!(changed, rows, "{from}");
        std::fs::write(dir.join("tasks.jsonl"), changed).unwrap();
        let out = s.labj(&["describe", exp.to_str().unwrap()]);
        assert!(!out.status.success(), "{to}: {}", text(&out));
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(want), "{to}: {e}");
    }
    assert!(s.first_run().is_none(), "no run was created");
}
