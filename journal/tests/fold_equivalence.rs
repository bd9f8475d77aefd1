//! Live projections == projections rebuilt from events, as a property.
//!
//! A small simulated coordinator turns a random tape into a valid event sequence for a
//! random small run (dispatches, out-of-order completions, contiguous commits, pruning,
//! worker_lost committed or retried under the infra-retry budget, infra outcomes that
//! leave failure streaks alone, pause/ack/resume, warnings, concurrency changes). The sequence is then
//! folded four ways that must agree: one event at a time in memory, appended in batches of
//! random sizes to a real journal file (the live projections `append` maintains),
//! `Journal::fold` of the reopened file, and `Journal::rebuild`; the materialized tables
//! must equal a rebuild, and every prefix fold equals the in-memory fold of that prefix.

mod sim;

use journal::event::*;
use journal::projection::Changes;
use journal::store::chain_hash;
use journal::{Durability, Journal, Projections, StoredEvent};
use proptest::prelude::*;
use sim::{generate, Case};
use std::collections::BTreeSet;

/// Splits `events` into batches, each with its own timestamp, and computes the stored
/// form (idx, ts, chain hash) every event must get.
fn stored_batches(events: Vec<Event>, sizes: &[usize]) -> Vec<Vec<StoredEvent>> {
    let mut batches: Vec<Vec<StoredEvent>> = Vec::new();
    let mut prev = [0u8; 32];
    let mut it = events.into_iter().enumerate().peekable();
    let mut b = 0usize;
    while it.peek().is_some() {
        let ts = format!(
            "2025-01-01T{:02}:{:02}:{:02}Z",
            b / 3600,
            (b / 60) % 60,
            b % 60
        );
        let batch = it
            .by_ref()
            .take(sizes[b % sizes.len()])
            .map(|(idx, event)| {
                let hash = chain_hash(
                    &prev,
                    idx as u64,
                    event.kind(),
                    event.schedule_idx(),
                    event.trial_id(),
                    &ts,
                    &event.payload_json(),
                );
                prev = hash;
                StoredEvent {
                    idx: idx as u64,
                    ts: ts.clone(),
                    event,
                    hash,
                }
            })
            .collect();
        batches.push(batch);
        b += 1;
    }
    batches
}

fn check(case: Case) -> Result<(), TestCaseError> {
    let events = generate(&case);
    let n = events.len();
    let batches = stored_batches(events, &case.batch_sizes);

    // 1. One event at a time, in memory; keep every prefix's state.
    let mut mem = Projections::new();
    let mut prefix_states = Vec::with_capacity(n);
    for se in batches.iter().flatten() {
        mem.apply(se, &mut Changes::default())
            .map_err(|e| TestCaseError::fail(format!("generator emitted an invalid event: {e}")))?;
        prefix_states.push(mem.clone());
    }

    // 2. Appended in batches to a real file; `append` keeps `live` up to date.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    let mut live = Projections::new();
    for batch in &batches {
        let stored = j
            .append(
                &mut live,
                batch.iter().map(|e| e.event.clone()).collect(),
                &batch[0].ts,
            )
            .unwrap();
        prop_assert_eq!(&stored, batch);
        let last = batch.last().unwrap().idx as usize;
        prop_assert_eq!(&live, &prefix_states[last]);
    }
    prop_assert_eq!(&live, &mem);
    drop(j);

    // 3. Folded back from the reopened file, 4. rebuilt, and the materialized tables.
    let mut j = Journal::open(&path, Durability::Normal).unwrap();
    prop_assert_eq!(j.len(), n as u64);
    let report = j.verify_chain().unwrap();
    prop_assert_eq!(report.first_bad, None);
    prop_assert_eq!(
        report.head_hash,
        journal::store::hex(&batches.last().unwrap().last().unwrap().hash)
    );
    prop_assert_eq!(&j.fold(None).unwrap(), &mem);
    prop_assert_eq!(j.diff_materialized().unwrap(), None);
    // The documents are rendered in transactions holding a milestone only (not per trial
    // event): they describe the journal up to the end of the last such transaction.
    let milestone = batches
        .iter()
        .filter(|b| b.iter().any(|e| Projections::renders_docs(e.event.kind())))
        .map(|b| b.last().unwrap().idx as usize)
        .max()
        .expect("run_created is a milestone");
    let then = &prefix_states[milestone];
    for (name, doc) in [
        ("run_control_v2", then.run_control_doc()),
        ("schedule_progress_v2", then.progress_doc()),
        ("aggregates_v2", then.aggregates_doc()),
    ] {
        let stored: String = j.stored_doc(name).unwrap().expect("document stored");
        // Byte equality: the materializer stores `doc.to_string()`.
        prop_assert_eq!(stored, doc.to_string(), "proj_docs[{}]", name);
    }
    prop_assert_eq!(&j.rebuild().unwrap(), &mem);
    prop_assert_eq!(j.diff_materialized().unwrap(), None);

    // 5. Every sampled prefix.
    for ix in &case.prefixes {
        let k = ix.index(n);
        prop_assert_eq!(
            &j.fold(Some(k as u64)).unwrap(),
            &prefix_states[k],
            "prefix 0..={}",
            k
        );
    }
    prop_assert_eq!(&j.fold(Some(0)).unwrap(), &prefix_states[0]);
    Ok(())
}

proptest! {
    // 32 cases keep the suite fast; PROPTEST_CASES=1000 for a deeper search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32),
        ..ProptestConfig::default()
    })]

    #[test]
    fn live_fold_rebuild_and_prefix_folds_agree(case in sim::case()) {
        check(case)?;
    }
}

/// The generator itself reaches the interesting states (a guard against a simulator that
/// silently stops exercising pruning, pauses or worker_lost).
#[test]
fn generator_covers_the_event_catalogue() {
    let mut kinds = BTreeSet::new();
    for seed in 0..64u32 {
        let tape: Vec<u32> = (0..400u32)
            .map(|i| {
                (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)).rotate_left(seed % 31)
            })
            .collect();
        let case = Case {
            variants: 2 + seed % 2,
            tasks: 2 + seed % 5,
            repls: 1 + seed % 2,
            max_concurrency: 1 + seed % 4,
            prune_after: (seed % 3 != 0).then_some(1 + seed % 3),
            tape,
            drain: seed % 2 == 0,
            end: (seed % 3) as u8,
            metric_denominator: 8.0,
            batch_sizes: vec![1 + (seed % 7) as usize, 3],
            prefixes: Vec::new(),
        };
        for e in generate(&case) {
            kinds.insert(e.kind());
        }
    }
    assert!(
        retried_and_committed_lost(64),
        "generator never emits both a retried and a committed worker_lost"
    );
    for k in [
        "run_created",
        "session_started",
        "trial_dispatched",
        "trial_completed",
        "completion_dropped",
        "worker_lost",
        "slot_committed",
        "slot_skipped_pruned",
        "variant_pruned",
        "pause_requested",
        "pause_acked",
        "resume_requested",
        "stop_requested",
        "run_paused",
        "run_interrupted",
        "run_completed",
        "run_failed",
        "run_killed",
        "backend_warning",
        "concurrency_set",
    ] {
        assert!(kinds.contains(k), "generator never emits {k}: {kinds:?}");
    }
}

/// Metrics such as 828/7 = 118.28571428571429 must survive the journal unchanged, or a
/// fold of the file differs from the live projections (and `diff_materialized` reports
/// the aggregates docs as different).
#[test]
fn metric_floats_round_trip_through_the_journal() {
    let tape: Vec<u32> = (0..300u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
    let case = Case {
        variants: 2,
        tasks: 4,
        repls: 1,
        max_concurrency: 3,
        prune_after: None,
        tape,
        drain: true,
        end: 0,
        metric_denominator: 7.0,
        batch_sizes: vec![5, 2],
        prefixes: Vec::new(),
    };
    check(case).unwrap();
}

/// Whether the generator, over `seeds`, emits a `worker_lost` that retries and one that
/// commits (so both paths of the infra-retry hook are folded).
fn retried_and_committed_lost(seeds: u32) -> bool {
    let (mut retried, mut committed) = (false, false);
    for seed in 0..seeds {
        let tape: Vec<u32> = (0..400u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)).rotate_left(7))
            .collect();
        let case = Case {
            variants: 2,
            tasks: 3,
            repls: 1,
            max_concurrency: 3,
            prune_after: Some(2),
            tape,
            drain: true,
            end: 0,
            metric_denominator: 8.0,
            batch_sizes: vec![2],
            prefixes: Vec::new(),
        };
        for e in generate(&case) {
            if let Event::WorkerLost(w) = &e {
                retried |= w.retry;
                committed |= !w.retry;
            }
        }
    }
    retried && committed
}
