//! Lost work is re-run, never scored: `kill -9` mid-run with pruning on, then `labj
//! continue`, compared with the same experiment run without a crash (deterministic
//! agents); `--no-retry-lost` (the seed's recovery); the infra-retry budget running out;
//! infrastructure faults outside failure streaks and success-rate denominators; and
//! `continue` validating its options exactly like `run`.

mod support;
use journal::event::{Event, StoredEvent};
use journal::Projections;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::crash::*;
use support::*;

/// Variants `base` (always succeeds) and `alt` (fails on odd tasks), 8 tasks each,
/// concurrency 3, pruning after 2 consecutive failures. Base tasks 1..=3 take `slow`
/// seconds, so killing the run right after slot 0 commits leaves them in flight.
fn pruning_experiment(s: &Scratch, retry_yaml: &str) -> PathBuf {
    s.tasks(8);
    s.script(
        "agent.sh",
        r#"n=$(echo "$AGENTLAB_TASK_ID" | sed 's/^task_0*//'); n=${n:-0}
outcome=success
if [ "$AGENTLAB_VARIANT_ID" = base ] && [ "$n" -ge 1 ] && [ "$n" -le 3 ]; then sleep 1; fi
if [ "$AGENTLAB_VARIANT_ID" = alt ] && [ $((n % 2)) -eq 1 ]; then outcome=failure; fi
echo "{\"schema_version\":\"agent_result_v1\",\"outcome\":\"$outcome\",\"metrics\":{\"score\":$n}}" > "$AGENTLAB_RESULT_PATH""#,
    );
    let policies = format!("    pruning: {{max_consecutive_unsuccessful: 2}}\n{retry_yaml}");
    s.experiment(&["base", "alt"], 1, 3, &policies)
}

/// `labj run` SIGKILLed once the journal holds 8 events: 0 run_created, 1 session,
/// 2..=4 dispatch slots 0..=2, 5 slot 0 completed, 6 committed, 7 dispatch slot 3.
fn crash_with_base_in_flight(s: &Scratch, exp: &Path) -> PathBuf {
    let out = s.run_killed_after(exp, 8);
    assert_eq!(signal_of(&out.status), Some(9), "{}", text(&out));
    let run = s.the_run();
    assert_eq!(
        stale_slots(&run),
        vec![1, 2, 3],
        "three trials of variant base in flight at the crash"
    );
    run
}

fn dispatches(events: &[StoredEvent]) -> BTreeMap<u64, usize> {
    let mut n = BTreeMap::new();
    for e in events {
        if let Event::TrialDispatched(d) = &e.event {
            *n.entry(d.schedule_idx).or_default() += 1;
        }
    }
    n
}

fn lost_events(events: &[StoredEvent]) -> Vec<journal::event::WorkerLost> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::WorkerLost(w) => Some(w.clone()),
            _ => None,
        })
        .collect()
}

/// (committed, succeeded, scored, success_rate, mean score) of one variant.
fn scores(p: &Projections, v: &str) -> (u64, u64, u64, Option<f64>, Option<f64>) {
    let a = &p.aggregates.variants[v];
    (
        a.committed,
        a.succeeded,
        a.scored(),
        a.success_rate(),
        a.mean("score"),
    )
}

/// The same experiment without a crash: what a crash must not change.
fn reference_run() -> (Projections, Vec<(u64, String, String)>) {
    let s = Scratch::new();
    let exp = pruning_experiment(&s, "");
    let out = s.labj(&["run", "--json", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    (check_journal(&run), committed_slots(&run))
}

#[test]
fn crash_with_pruning_then_continue_reruns_lost_work_and_changes_no_score() {
    let (want, want_slots) = reference_run();
    assert!(want.progress.pruned_variants.is_empty());
    let s = Scratch::new();
    let exp = pruning_experiment(&s, "");
    let run = crash_with_base_in_flight(&s, &exp);
    let crash_len = read_events(&run).len();
    // Slot 3 was journaled as dispatched but the crash came before it was handed to a
    // worker (write-ahead), so it may have no directory; slots 1 and 2 had run a while.
    let had_dir: Vec<u64> = (1..=3)
        .filter(|i| run.join(format!("trials/trial_{i:06}")).is_dir())
        .collect();
    assert!(had_dir.contains(&1) && had_dir.contains(&2), "{had_dir:?}");

    let outs = continue_until_completed(&s, &run, &[]);
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].status.code(), Some(0), "{}", text(&outs[0]));
    let got = check_journal(&run);
    let events = read_events(&run);
    let lost = lost_events(&events[crash_len..]);
    assert_eq!(
        lost.iter().map(|w| w.schedule_idx).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        lost.iter().all(|w| w.retry && !w.stopped_by_kill),
        "{lost:?}"
    );
    let n = dispatches(&events);
    for idx in 1..=3 {
        assert_eq!(n[&idx], 2, "slot {idx}: lost once, re-run once");
        let kept: Vec<_> = std::fs::read_dir(run.join("trials"))
            .unwrap()
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(&format!("trial_{idx:06}.lost-"))
            })
            .collect();
        assert_eq!(
            kept.len(),
            usize::from(had_dir.contains(&idx)),
            "slot {idx}: the lost attempt's directory is kept"
        );
    }
    assert!(
        n.iter().all(|(i, c)| *c == 1 || (1..=3).contains(i)),
        "{n:?}"
    );

    // Nothing the crash touched changed a verdict: same slots, same scores, no pruning.
    assert_eq!(committed_slots(&run), want_slots);
    assert!(got.progress.pruned_variants.is_empty(), "no variant pruned");
    for v in ["base", "alt"] {
        assert_eq!(scores(&got, v), scores(&want, v), "variant {v}");
    }
    let base = &got.aggregates.variants["base"];
    assert_eq!((base.infra, base.infra_retried), (0, 3));
    assert_eq!(base.success_rate(), Some(1.0));
    assert!(got.progress.lost_attempts.is_empty());

    // The summary shows the re-runs in their own column.
    let out = s.labj(&["status", run.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("re-run") && table.contains("infra"),
        "{table}"
    );
    let base_row = table
        .lines()
        .find(|l| l.trim_start().starts_with("base "))
        .unwrap_or_else(|| panic!("no base row:\n{table}"));
    let cols: Vec<&str> = base_row.split_whitespace().collect();
    // variant (baseline) committed scored succeeded unsuccessful skipped infra cancelled
    // re-run success mean
    assert_eq!(
        &cols[1..11],
        &[
            "(baseline)",
            "8",
            "8",
            "8",
            "0",
            "0",
            "0",
            "0",
            "3",
            "100.0%"
        ],
        "{table}"
    );
}

#[test]
fn no_retry_lost_commits_worker_lost_without_pruning_or_scoring_it() {
    let (want, _) = reference_run();
    let s = Scratch::new();
    let exp = pruning_experiment(&s, "");
    let run = crash_with_base_in_flight(&s, &exp);
    let crash_len = read_events(&run).len();
    let outs = continue_until_completed(&s, &run, &["--no-retry-lost"]);
    // Committed infra faults above the default --fail-on-infra-error 0%: exit 3.
    assert_eq!(outs[0].status.code(), Some(3), "{}", text(&outs[0]));
    let summary = String::from_utf8_lossy(&outs[0].stdout);
    assert!(summary.contains("infrastructure faults: 3"), "{summary}");

    let got = check_journal(&run);
    let events = read_events(&run);
    let lost = lost_events(&events[crash_len..]);
    assert_eq!(lost.len(), 3);
    assert!(lost.iter().all(|w| !w.retry), "{lost:?}");
    let slots = committed_slots(&run);
    for idx in 1..=3usize {
        assert_eq!(slots[idx].1, "worker_lost", "{slots:?}");
    }
    assert!(
        dispatches(&events).values().all(|c| *c == 1),
        "nothing re-run"
    );
    // Three lost base trials in a row would have pruned base (pruning after 2) and made
    // its success rate 5/8; infrastructure faults are neither failures nor scored.
    assert!(got.progress.pruned_variants.is_empty(), "no variant pruned");
    let base = &got.aggregates.variants["base"];
    assert_eq!((base.committed, base.infra, base.scored()), (8, 3, 5));
    assert_eq!(base.success_rate(), Some(1.0));
    assert_eq!(
        base.metric_counts["score"], 5,
        "lost slots have no share of the mean"
    );
    assert_eq!(scores(&got, "alt"), scores(&want, "alt"));
}

#[test]
fn infra_budget_exhausted_commits_the_slot_as_worker_lost() {
    let s = Scratch::new();
    let exp = pruning_experiment(&s, "    retry: {max_attempts: 1, max_infra_attempts: 2}\n");
    let run = crash_with_base_in_flight(&s, &exp);
    // First continue: the three lost attempts are re-run (budget 2), and that session is
    // SIGKILLed right after re-dispatching them: 8 + session + 3 worker_lost + 3
    // dispatches = 15 events.
    let out = s
        .labj_cmd(&["continue", run.to_str().unwrap()])
        .env(FAULT_KILL_ENV, "15")
        .output()
        .unwrap();
    assert_eq!(signal_of(&out.status), Some(9), "{}", text(&out));
    let mid = fold_run(&run);
    assert_eq!(stale_slots(&run), vec![1, 2, 3]);
    assert_eq!(
        mid.progress.lost_attempts,
        [(1, 1), (2, 1), (3, 1)].into_iter().collect(),
        "one lost attempt charged per slot"
    );
    let outs = continue_until_completed(&s, &run, &[]);
    assert_eq!(outs[0].status.code(), Some(3), "{}", text(&outs[0]));
    let got = check_journal(&run);
    let events = read_events(&run);
    let lost = lost_events(&events);
    assert_eq!(lost.len(), 6);
    assert!(
        lost[..3].iter().all(|w| w.retry),
        "first loss re-run: {lost:?}"
    );
    assert!(
        lost[3..].iter().all(|w| !w.retry),
        "second loss spends the budget"
    );
    let slots = committed_slots(&run);
    for idx in 1..=3usize {
        assert_eq!(slots[idx].1, "worker_lost", "{slots:?}");
        assert_eq!(dispatches(&events)[&(idx as u64)], 2);
    }
    let base = &got.aggregates.variants["base"];
    assert_eq!((base.infra, base.infra_retried), (3, 3));
    assert_eq!(base.success_rate(), Some(1.0));
    assert!(got.progress.pruned_variants.is_empty());
}

#[test]
fn infra_faults_neither_break_a_failure_streak_nor_enter_the_denominator() {
    let s = Scratch::new();
    s.tasks(8);
    // Task 0 and task 4 fail at once; tasks 1..=3 are slow successes (lost at the crash).
    s.script(
        "agent.sh",
        r#"n=$(echo "$AGENTLAB_TASK_ID" | sed 's/^task_0*//'); n=${n:-0}
outcome=success
if [ "$n" -ge 1 ] && [ "$n" -le 3 ]; then sleep 1; fi
if [ "$n" -eq 0 ] || [ "$n" -eq 4 ]; then outcome=failure; fi
echo "{\"schema_version\":\"agent_result_v1\",\"outcome\":\"$outcome\",\"metrics\":{\"score\":$n}}" > "$AGENTLAB_RESULT_PATH""#,
    );
    let exp = s.experiment(
        &["a"],
        1,
        3,
        "    pruning: {max_consecutive_unsuccessful: 2}\n",
    );
    let out = s.run_killed_after(&exp, 8);
    assert_eq!(signal_of(&out.status), Some(9), "{}", text(&out));
    let run = s.the_run();
    assert_eq!(stale_slots(&run), vec![1, 2, 3]);
    continue_until_completed(
        &s,
        &run,
        &["--no-retry-lost", "--fail-on-infra-error", "100%"],
    );
    let got = check_journal(&run);
    // failure (slot 0), three worker_lost, failure (slot 4): the streak reaches 2 at
    // slot 4. Had the losses counted, `a` would have been pruned at slot 1; had they
    // reset the streak, it would not be pruned at all.
    let pruned: Vec<_> = read_events(&run)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::VariantPruned(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(pruned.len(), 1, "{pruned:?}");
    assert_eq!(
        (pruned[0].at_schedule_idx, pruned[0].consecutive_failures),
        (4, 2)
    );
    let a = &got.aggregates.variants["a"];
    assert_eq!(a.infra, 3);
    assert_eq!(a.scored(), a.committed - a.skipped_pruned - 3);
    assert_eq!(
        a.success_rate(),
        Some(a.succeeded as f64 / (a.committed - a.skipped_pruned - 3) as f64)
    );
    assert_eq!(a.by_classification["worker_lost"], 3);
}

#[test]
fn continue_refuses_max_concurrency_zero_exactly_like_run() {
    let s = Scratch::new();
    let exp = pruning_experiment(&s, "");
    let refused_run = s.labj(&["run", exp.to_str().unwrap(), "--max-concurrency", "0"]);
    assert!(
        s.first_run().is_none(),
        "run --max-concurrency 0 creates nothing"
    );
    let run = crash_with_base_in_flight(&s, &exp);
    let before = read_events(&run).len();
    let refused = s.labj(&["continue", run.to_str().unwrap(), "--max-concurrency", "0"]);
    assert_eq!(refused.status.code(), refused_run.status.code());
    assert_ne!(refused.status.code(), Some(0), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        err,
        String::from_utf8_lossy(&refused_run.stderr),
        "same error"
    );
    assert!(
        err.contains("--max-concurrency must be at least 1"),
        "{err}"
    );
    assert_eq!(read_events(&run).len(), before, "nothing journaled");
    let v = s.labj(&["verify", run.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // And the run still continues normally afterwards.
    let outs = continue_until_completed(&s, &run, &[]);
    assert_eq!(outs[0].status.code(), Some(0), "{}", text(&outs[0]));
    check_journal(&run);
}
