//! Snapshot-based folds equal from-zero folds, as a property.
//!
//! The simulated coordinator of `sim` turns a random tape into a valid event sequence
//! (dispatches, out-of-order completions, commits, pruning, worker_lost retried or
//! committed, infra outcomes, pause/resume, warnings, runs ending completed, failed or
//! killed). It is appended in random batches to a real journal that takes a snapshot
//! every `every` events (random, small) and at session ends. At random indices the fold
//! from the nearest snapshot must equal the in-memory fold from event 0, must really
//! start from a snapshot when one precedes the index, and `verify`'s audit of every
//! snapshot must pass; the same holds after `rebuild` rewrote the snapshots.

mod sim;

use journal::projection::Changes;
use journal::{Durability, Journal, Projections};
use proptest::prelude::*;
use sim::{generate, Case};

fn check(case: Case, every: u64, picks: Vec<prop::sample::Index>) -> Result<(), TestCaseError> {
    let events = generate(&case);
    let n = events.len();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    j.set_snapshot_every(every);
    let mut live = Projections::new();
    let mut it = events.into_iter().peekable();
    let mut b = 0;
    while it.peek().is_some() {
        let batch: Vec<_> = it
            .by_ref()
            .take(case.batch_sizes[b % case.batch_sizes.len()])
            .collect();
        j.append(
            &mut live,
            batch,
            &format!("2025-01-01T00:00:{:02}Z", b % 60),
        )
        .unwrap();
        b += 1;
    }
    drop(j);

    let mut j = Journal::open(&path, Durability::Normal).unwrap();
    j.set_snapshot_every(every);
    // Every prefix's state, folded one event at a time from event 0.
    let mut mem = Projections::new();
    let mut prefix = Vec::with_capacity(n);
    j.for_each_event(0, None, true, |e| {
        mem.apply_owned(e, &mut Changes::fold_only()).unwrap();
        prefix.push(mem.clone());
        Ok(())
    })
    .unwrap();
    prop_assert_eq!(&mem, &live);
    for round in 0..2 {
        // Round 0: the snapshots appends took; round 1: those `rebuild` wrote.
        let snaps: Vec<u64> = j.snapshots().unwrap().iter().map(|s| s.idx).collect();
        if n as u64 >= every {
            prop_assert!(
                !snaps.is_empty(),
                "{} events, every {}: no snapshot",
                n,
                every
            );
        }
        for pick in picks.iter().map(|p| p.index(n)).chain([0, n - 1]) {
            let k = pick as u64;
            let got = j.fold_from_snapshot(Some(k)).unwrap();
            prop_assert_eq!(
                &got.projections,
                &prefix[pick],
                "round {} until {}",
                round,
                k
            );
            prop_assert!(got.rejected.is_empty(), "{:?}", got.rejected);
            let nearest = snaps.iter().copied().filter(|&s| s <= k).max();
            prop_assert_eq!(got.from_snapshot, nearest, "until {}", k);
        }
        prop_assert_eq!(j.diff_materialized().unwrap(), None);
        let all = j.fold_from_snapshot(None).unwrap();
        prop_assert_eq!(&all.projections, &mem);
        // The rebuilt snapshots fall on multiples of `every` and the last event.
        prop_assert_eq!(&j.rebuild().unwrap(), &mem);
    }
    Ok(())
}

proptest! {
    // 32 cases keep the suite fast; PROPTEST_CASES=1000 for a deeper search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32),
        ..ProptestConfig::default()
    })]

    #[test]
    fn snapshot_folds_equal_from_zero_folds_at_random_indices(
        case in sim::case(),
        every in 1u64..=24,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..8),
    ) {
        check(case, every, picks)?;
    }
}

/// A journal of the previous schema (no snapshot table) folds from event 0 through a
/// read-only handle, and opening it for writing upgrades it and starts taking snapshots.
#[test]
fn journal_of_schema_2_folds_from_zero_and_upgrades() {
    use journal::testkit::{run_created, trial_life};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    let mut live = Projections::new();
    j.append(
        &mut live,
        vec![run_created("old", 1, 8, 1)],
        "2025-01-01T00:00:00Z",
    )
    .unwrap();
    for i in 0..4 {
        j.append(
            &mut live,
            trial_life(i, 8, true).to_vec(),
            "2025-01-01T00:00:01Z",
        )
        .unwrap();
    }
    drop(j);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "DROP TABLE proj_snapshots; DROP INDEX events_rare_kinds; PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(c);
    let ro = Journal::open_read_only(&path).unwrap();
    assert_eq!(ro.schema_version(), 2);
    assert!(ro.snapshots().unwrap().is_empty());
    let got = ro.fold_from_snapshot(None).unwrap();
    assert_eq!(got.from_snapshot, None);
    assert_eq!(got.projections, live);
    drop(ro);
    let mut j = Journal::open(&path, Durability::Normal).unwrap();
    assert_eq!(j.schema_version(), journal::store::SCHEMA_VERSION);
    j.set_snapshot_every(5);
    for i in 4..8 {
        j.append(
            &mut live,
            trial_life(i, 8, true).to_vec(),
            "2025-01-01T00:00:02Z",
        )
        .unwrap();
    }
    let idxs: Vec<u64> = j.snapshots().unwrap().iter().map(|s| s.idx).collect();
    assert_eq!(
        idxs,
        vec![15, 21, 24],
        "taken by the batches crossing 15, 20 and 25 events"
    );
    let got = j.fold_from_snapshot(None).unwrap();
    assert_eq!(got.from_snapshot, Some(24));
    assert_eq!(got.projections, live);
    assert_eq!(j.diff_materialized().unwrap(), None);
}

/// `for_each_event_of_kind` finds exactly the events of a kind, the rare kinds through
/// the partial index (the query plan names it), the per-trial kinds by a scan.
#[test]
fn events_of_a_kind_come_from_the_rare_kinds_index() {
    use journal::event::{BackendWarning, Event};
    use journal::testkit::{run_created, trial_life};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    let mut live = Projections::new();
    j.append(
        &mut live,
        vec![run_created("k", 1, 6, 1)],
        "2025-01-01T00:00:00Z",
    )
    .unwrap();
    let mut warnings = Vec::new();
    for i in 0..6 {
        j.append(
            &mut live,
            trial_life(i, 6, true).to_vec(),
            "2025-01-01T00:00:01Z",
        )
        .unwrap();
        if i % 2 == 0 {
            warnings.push(j.len());
            let w = Event::BackendWarning(BackendWarning {
                code: format!("w{i}"),
                message: "m".into(),
                requested: None,
                effective: None,
                digests: vec![],
            });
            j.append(&mut live, vec![w], "2025-01-01T00:00:02Z")
                .unwrap();
        }
    }
    let of = |kind: &str| {
        let mut idxs = Vec::new();
        j.for_each_event_of_kind(kind, |e| {
            assert_eq!(e.event.kind(), kind);
            idxs.push(e.idx);
            Ok(())
        })
        .unwrap();
        idxs
    };
    assert_eq!(of("backend_warning"), warnings);
    assert_eq!(of("slot_committed").len(), 6);
    assert_eq!(of("run_completed"), Vec::<u64>::new());
    let plan: Vec<String> = j
        .raw_conn_for_tests()
        .prepare("EXPLAIN QUERY PLAN SELECT idx FROM events WHERE kind = 'backend_warning' AND kind NOT IN ('trial_dispatched', 'trial_completed', 'slot_committed', 'slot_skipped_pruned', 'completion_dropped') ORDER BY idx")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|p| p.contains("events_rare_kinds")),
        "query plan: {plan:?}"
    );
}
