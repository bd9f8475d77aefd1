//! `labj status` answers from what the journal materializes (projections from the newest
//! snapshot, failure classes from the fact tables and one completion per class), not
//! from a fold of every event. These tests hold it equal to the fold on real runs:
//! successes and graded failures, exit codes, signals and bad results, infrastructure
//! faults committed and re-run, pruned variants, a cancelled trial, and a run mid-flight
//! (where `labj logs` of a running trial says it is not committed yet).

mod support;
use support::crash::*;
use support::live::*;
use support::report::*;
use support::*;

use journal::Journal;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The fast path equals the fold (projections and failure classes), and `labj status
/// --json` shows exactly the fold's documents and classes. Returns the classes.
fn status_equals_fold(s: &Scratch, run: &Path) -> Vec<read::report::FailureClass> {
    let j = Journal::open_read_only(&run.join("journal.sqlite")).unwrap();
    let fast = read::report::status(run, &j).unwrap();
    let facts = read::report::collect(&j).unwrap();
    // A live run may have appended after `j` was opened: fold what `j` saw.
    let folded = j.fold(j.len().checked_sub(1)).unwrap();
    assert_eq!(fast.projections, folded, "projections of {}", run.display());
    if facts.projections == folded {
        let classes = read::report::failure_classes(run, &facts);
        assert_eq!(
            fast.failures,
            classes,
            "failure classes of {}",
            run.display()
        );
    }
    for (t, row) in facts.trials.iter().enumerate() {
        let by_slot = read::report::committed_trial(&j, row.schedule_idx).unwrap();
        assert_eq!(by_slot.as_ref(), Some(row), "trial {t} read by slot");
    }
    let out = s.labj(&["status", "--json", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("status --json");
    assert!(doc["failures"].is_array(), "{doc:#}");
    let out = s.labj(&["status", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    fast.failures
}

/// For a finished run the CLI's JSON is the fold's, document for document.
fn cli_json_is_the_folds(s: &Scratch, run: &Path) {
    let j = Journal::open_read_only(&run.join("journal.sqlite")).unwrap();
    let facts = read::report::collect(&j).unwrap();
    let p = &facts.projections;
    let out = s.labj(&["status", "--json", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("status --json");
    assert_eq!(doc["run_control"], p.run_control_doc());
    assert_eq!(doc["schedule_progress"], p.progress_doc());
    assert_eq!(doc["aggregates"], p.aggregates_doc());
    let classes = read::report::failure_classes(run, &facts);
    assert_eq!(doc["failures"], serde_json::to_value(&classes).unwrap());
}

fn names(classes: &[read::report::FailureClass]) -> Vec<String> {
    let mut v: Vec<String> = classes
        .iter()
        .map(|c| match &c.reason {
            Some(r) => format!("{} ({r})={}", c.classification, c.count),
            None => format!("{}={}", c.classification, c.count),
        })
        .collect();
    v.sort();
    v
}

#[test]
fn status_of_finished_runs_equals_the_fold_with_every_failure_class() {
    let s = Scratch::new();
    let run = paired_run(&s);
    let classes = status_equals_fold(&s, &run);
    cli_json_is_the_folds(&s, &run);
    // base fails tasks 4-7, better 0 and 6-7 (x2 replications); broken: spawn failures
    // until fail-fast stops it (at least 3 of its 16 slots, the rest skipped, not shown).
    let n = names(&classes);
    assert_eq!(n[0], "failure=14", "{classes:#?}");
    let lost: u64 = n[1]
        .strip_prefix("spawn_failure=")
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{n:?}"));
    assert!((3..16).contains(&lost) && n.len() == 2, "{n:?}");
    assert!(classes.iter().any(|c| c.infra), "{classes:#?}");

    let s = Scratch::new();
    let exp = failing_experiment(&s);
    let out = s.labj(&["run", "--json", exp.to_str().unwrap()]);
    assert!(out.status.code().is_some(), "{}", text(&out));
    let run = s.the_run();
    let classes = status_equals_fold(&s, &run);
    cli_json_is_the_folds(&s, &run);
    // The end-of-run summary reads the same classes (fact tables, no second fold).
    let summary: Value = serde_json::from_slice(&out.stdout).expect("run --json");
    assert_eq!(
        summary["failures"],
        serde_json::to_value(&classes).unwrap(),
        "{summary:#}"
    );
    let n = names(&classes);
    assert!(
        n.iter()
            .any(|c| c.starts_with("agent_exit_nonzero (exit code 3)="))
            && n.iter()
                .any(|c| c.starts_with("agent_exit_nonzero (signal 9)=")),
        "{n:?}"
    );
    let exit3 = classes
        .iter()
        .find(|c| c.reason.as_deref() == Some("exit code 3"))
        .unwrap();
    assert!(
        exit3
            .example
            .stderr_tail
            .iter()
            .any(|l| l.contains("API key missing")),
        "the example's stderr is read from its blob: {exit3:#?}"
    );
}

#[test]
fn status_equals_the_fold_after_infra_reruns_lost_commits_and_pruning() {
    // Lost attempts re-run by `continue` (infra_retried), then all successes.
    let s = Scratch::new();
    let (run, _pid) = crash_with_active_trials(&s, "0.3");
    status_equals_fold(&s, &run);
    let outs = continue_until_completed(&s, &run, &["--fail-on-infra-error", "100%"]);
    assert_eq!(outs.last().unwrap().status.code(), Some(0));
    status_equals_fold(&s, &run);
    cli_json_is_the_folds(&s, &run);
    assert!(fold_run(&run).aggregates.overall.infra_retried > 0);

    // `--no-retry-lost`: the lost trials commit as worker_lost (a completion the fold
    // synthesizes from the worker_lost event).
    let s = Scratch::new();
    let (run, _pid) = crash_with_active_trials(&s, "0.3");
    let out = s.labj(&[
        "continue",
        run.to_str().unwrap(),
        "--no-retry-lost",
        "--fail-on-infra-error",
        "100%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let classes = status_equals_fold(&s, &run);
    cli_json_is_the_folds(&s, &run);
    assert_eq!(names(&classes), ["worker_lost=3"], "{classes:#?}");

    // A variant pruned after two failures in a row: its remaining slots are skipped.
    let s = Scratch::new();
    s.tasks(6);
    s.script(
        "agent.sh",
        r#"outcome=success
[ "$AGENTLAB_VARIANT_ID" = alt ] && outcome=failure
echo "{\"schema_version\":\"agent_result_v1\",\"outcome\":\"$outcome\",\"metrics\":{\"score\":1}}" > "$AGENTLAB_RESULT_PATH""#,
    );
    let exp = s.experiment(
        &["base", "alt"],
        1,
        1,
        "    pruning: {max_consecutive_unsuccessful: 2}\n",
    );
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.code().is_some(), "{}", text(&out));
    let run = s.the_run();
    let classes = status_equals_fold(&s, &run);
    cli_json_is_the_folds(&s, &run);
    let p = fold_run(&run);
    assert!(p.progress.pruned_variants.contains("alt"), "{p:?}");
    assert_eq!(names(&classes), ["failure=2"], "{classes:#?}");
}

#[test]
fn status_of_a_live_run_equals_the_fold_mid_flight_and_after_a_cancel() {
    let _serial = serial();
    let s = Scratch::new();
    let mut live = LiveRun::start_uniform(&s, 4, 100_000, 2, 120_000);
    let active = live.wait_active(2, true);
    let run = live.run_dir.clone();
    // Mid-flight: two trials running, nothing committed.
    status_equals_fold(&s, &run);
    let out = live.labj(&["status", &live.run()]);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(shown.contains("active trials:"), "{shown}");
    // `logs` reads one slot by its index: a running trial is not committed yet.
    let out = live.labj(&["logs", &live.run(), &active[1]]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("is not committed yet (it is running)"),
        "{}",
        text(&out)
    );

    let victim = active[0].clone();
    live.control_ok("cancel", &["--trial", &victim]);
    wait_for(
        Duration::from_secs(20),
        "the cancelled slot to commit",
        || {
            let p = fold_run(&run);
            (p.aggregates.overall.cancelled == 1).then_some(())
        },
    );
    // Still running, one trial cancelled: a class of its own, read from the fact tables.
    let classes = status_equals_fold(&s, &run);
    assert_eq!(names(&classes), ["cancelled=1"], "{classes:#?}");
    assert_eq!(classes[0].example.trial_id, victim);

    live.release();
    live.finish_ok(Duration::from_secs(60));
    let classes = status_equals_fold(&s, &run);
    cli_json_is_the_folds(&s, &run);
    assert_eq!(names(&classes), ["cancelled=1"], "{classes:#?}");
}

/// `inspect` checks the whole chain in one pass without `verify`'s other passes: an
/// edited payload is still found and named, the projections stop before it, and the
/// report points at `labj verify` for what it does not check.
#[test]
fn inspect_names_an_edited_event_and_folds_up_to_it() {
    let s = Scratch::new();
    let run = paired_run(&s);
    let arg = run.to_str().unwrap();
    let out = s.labj(&["inspect", arg]);
    let shown = stdout_ok(&out);
    assert!(shown.contains("chain: ok ("), "{shown}");
    assert!(!shown.contains("labj verify"), "{shown}");

    let conn = rusqlite::Connection::open(run.join("journal.sqlite")).unwrap();
    conn.execute_batch("DROP TRIGGER events_no_update;")
        .unwrap();
    let edited: i64 = conn
        .query_row(
            "SELECT MIN(idx) FROM events WHERE kind = 'trial_completed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        // The duration gains a leading digit: the payload still decodes, only its hash
        // tells the edit.
        "UPDATE events SET payload = replace(payload, '\"duration_ms\":', '\"duration_ms\":1') WHERE idx = ?1 AND payload LIKE '%\"duration_ms\":%'",
        [edited],
    )
    .unwrap();
    assert_eq!(conn.changes(), 1, "event {edited} edited");
    drop(conn);
    let out = s.labj(&["inspect", arg]);
    let shown = stdout_ok(&out);
    assert!(shown.contains("chain: FAILED"), "{shown}");
    assert!(
        shown.contains(&format!("event {edited}: hash does not match content")),
        "{shown}"
    );
    assert!(shown.contains("`labj verify` also checks"), "{shown}");
    let out = s.labj(&["inspect", "--json", arg]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("inspect --json");
    assert_eq!(doc["verify"]["ok"], false, "{doc:#}");
    assert_eq!(doc["verify"]["first_bad_idx"], edited, "{doc:#}");
    // Folded up to the event before the edit: nothing after it is committed.
    let committed = doc["progress"]["committed_slots"].as_u64().unwrap();
    let before: u64 = Journal::open_read_only(&run.join("journal.sqlite"))
        .unwrap()
        .fold(Some(edited as u64 - 1))
        .unwrap()
        .progress
        .next_commit_idx;
    assert_eq!(committed, before, "{doc:#}");
}
