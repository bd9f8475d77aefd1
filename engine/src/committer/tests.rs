use super::*;
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    schema_version: String,
    arrivals: Vec<FixtureArrival>,
    expected_commit_schedule_idx: Vec<u64>,
}

#[derive(Deserialize)]
struct FixtureArrival {
    tick: u32,
    schedule_idx: u64,
    trial_id: String,
    classification: String,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/p2e_determinism_fixture.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture copied into testdata/");
    let f: Fixture = serde_json::from_str(&text).expect("fixture parses");
    assert_eq!(f.schema_version, "p2e_determinism_fixture_v1");
    f
}

fn arrival(idx: u64, trial_id: &str, c: Classification) -> Arrival {
    Arrival {
        schedule_idx: idx,
        trial_id: trial_id.to_string(),
        ticket_id: format!("ticket_{idx}"),
        completion_seq: 1,
        classification: c,
    }
}

#[test]
fn p2e_out_of_order_completion_simulator_replays_fixture_ticks() {
    let f = fixture();
    let mut sim = OutOfOrderCompletionSimulator::new(f.arrivals.len());
    let last_tick = f.arrivals.iter().map(|a| a.tick).max().unwrap();
    for tick in 0..=last_tick {
        // The fixture's classification labels (`arrive_N`) are opaque tags: the
        // simulator carries them as trial ids so each arrival stays identifiable.
        let batch: Vec<Arrival> = f
            .arrivals
            .iter()
            .filter(|a| a.tick == tick)
            .map(|a| {
                assert!(a.classification.starts_with("arrive_"));
                arrival(a.schedule_idx, &a.trial_id, Classification::Success)
            })
            .collect();
        let offers = sim.tick(batch);
        assert!(offers.iter().all(|o| *o == Offer::Accepted), "{offers:?}");
    }
    // Tick 0 brings slots 2 and 0: only 0 is committable. Tick 1 brings 3 and 1: 1, 2, 3.
    assert_eq!(sim.per_tick, vec![vec![0], vec![1, 2, 3]]);
    assert!(sim.committer.is_done());
    assert_eq!(sim.committer.buffered_len(), 0);
}

#[test]
fn p2e_determinism_fixture_commits_contiguously_despite_out_of_order_arrivals() {
    let f = fixture();
    let mut sim = OutOfOrderCompletionSimulator::new(f.arrivals.len());
    let mut arrivals: Vec<&FixtureArrival> = f.arrivals.iter().collect();
    arrivals.sort_by_key(|a| a.tick);
    for a in arrivals {
        sim.tick([arrival(
            a.schedule_idx,
            &a.trial_id,
            Classification::Success,
        )]);
    }
    assert_eq!(sim.commits, f.expected_commit_schedule_idx);
}

#[test]
fn duplicates_are_dropped_and_conflicts_are_faults() {
    let mut c = DeterministicCommitter::new(vec![0; 3], 1, None);
    for i in 0..3 {
        c.mark_dispatched(i, &format!("ticket_{i}"));
    }
    assert_eq!(
        c.offer(arrival(1, "t1", Classification::Success)),
        Offer::Accepted
    );
    assert!(matches!(
        c.offer(arrival(1, "t1", Classification::Success)),
        Offer::Duplicate { .. }
    ));
    match c.offer(arrival(1, "t1", Classification::Error)) {
        Offer::Fault { message } => assert!(message.contains("conflicting"), "{message}"),
        o => panic!("{o:?}"),
    }
    assert_eq!(
        c.offer(arrival(0, "t0", Classification::Success)),
        Offer::Accepted
    );
    assert_eq!(
        drain_ready_completions_in_schedule_order(&mut c),
        vec![0, 1]
    );
    assert!(matches!(
        c.offer(arrival(0, "t0", Classification::Success)),
        Offer::Duplicate { .. }
    ));
    let mut stale = arrival(2, "t2", Classification::Success);
    stale.ticket_id = "other".into();
    match c.offer(stale) {
        Offer::Fault { message } => assert!(message.contains("stale"), "{message}"),
        o => panic!("{o:?}"),
    }
    match c.offer(arrival(9, "t9", Classification::Success)) {
        Offer::Fault { message } => assert!(message.contains("beyond the schedule"), "{message}"),
        o => panic!("{o:?}"),
    }
}

#[test]
fn pruning_is_decided_at_commit_and_skips_undispatched_slots() {
    // Variant 0 owns slots 0..6; prune after 2 consecutive failures. Slots 0..=2 were
    // dispatched; 3..6 were not.
    let mut c = DeterministicCommitter::new(vec![0; 6], 1, Some(2));
    for i in 0..3 {
        c.mark_dispatched(i, &format!("ticket_{i}"));
    }
    // Slot 2 finishes first: nothing commits, nothing is pruned yet.
    c.offer(arrival(2, "t2", Classification::Error));
    assert!(c.drain().is_empty());
    c.offer(arrival(0, "t0", Classification::Error));
    c.offer(arrival(1, "t1", Classification::Timeout));
    let actions = c.drain();
    assert!(matches!(
        actions[2],
        CommitAction::Prune {
            variant_idx: 0,
            consecutive_failures: 2,
            at_schedule_idx: 1
        }
    ));
    // In-flight slot 2 of the just-pruned variant commits normally; 3..6 are skipped.
    assert!(matches!(
        actions[3],
        CommitAction::Commit {
            schedule_idx: 2,
            ..
        }
    ));
    let skipped: Vec<u64> = actions
        .iter()
        .filter_map(|a| match a {
            CommitAction::SkipPruned { schedule_idx, .. } => Some(*schedule_idx),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, vec![3, 4, 5]);
    assert!(c.is_done());
}

proptest! {
    /// Completions delivered in any order, with duplicates, commit in schedule order
    /// exactly once.
    #[test]
    fn random_order_with_duplicates_commits_each_slot_once(
        n in 1usize..60,
        order_seed in any::<u64>(),
        dup_mask in proptest::collection::vec(any::<bool>(), 60),
        chunk in 1usize..8,
    ) {
        let mut order: Vec<u64> = (0..n as u64).collect();
        let mut s = order_seed;
        for i in (1..order.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut deliveries = Vec::new();
        for (k, idx) in order.iter().enumerate() {
            deliveries.push(*idx);
            if dup_mask[k % dup_mask.len()] {
                deliveries.push(*idx);
                deliveries.push(order[k / 2]);
            }
        }
        let mut sim = OutOfOrderCompletionSimulator::new(n);
        let mut dropped = 0;
        for batch in deliveries.chunks(chunk) {
            let offers = sim.tick(batch.iter().map(|i| arrival(*i, &format!("t{i}"), Classification::Success)));
            for o in offers {
                match o {
                    Offer::Accepted => {}
                    Offer::Duplicate { .. } => dropped += 1,
                    Offer::Fault { message } => prop_assert!(false, "unexpected fault {}", message),
                }
            }
        }
        prop_assert_eq!(sim.commits, (0..n as u64).collect::<Vec<_>>());
        prop_assert_eq!(dropped, deliveries.len() - n);
    }
}

#[test]
fn fail_fast_stops_a_variant_whose_first_trials_all_fail_to_spawn() {
    // Variant 0: slots 0,2,4,6,8; variant 1: slots 1,3,5,7,9 (interleaved).
    let variants: Vec<u32> = (0..10).map(|i| i % 2).collect();
    let mut c = DeterministicCommitter::new(variants, 2, None);
    for i in 0..6u64 {
        c.mark_dispatched(i, &format!("ticket_{i}"));
        let class = if i % 2 == 0 {
            Classification::SpawnFailure
        } else if i == 1 {
            // Variant 1 spawned once: later spawn failures never stop it.
            Classification::Failure
        } else {
            Classification::SpawnFailure
        };
        assert_eq!(
            c.offer(arrival(i, &format!("t{i}"), class)),
            Offer::Accepted
        );
    }
    let actions = c.drain();
    let stops: Vec<&CommitAction> = actions
        .iter()
        .filter(|a| matches!(a, CommitAction::StopUnspawnable { .. }))
        .collect();
    assert_eq!(
        stops,
        vec![&CommitAction::StopUnspawnable {
            variant_idx: 0,
            spawn_failures: FAIL_FAST_SPAWN_FAILURES,
            at_schedule_idx: 4,
        }]
    );
    assert!(c.is_pruned(0) && !c.is_pruned(1));
    // The stopped variant's undispatched slot 6 was skipped at once; 7 (variant 1)
    // is awaited.
    assert!(actions.contains(&CommitAction::SkipPruned {
        schedule_idx: 6,
        variant_idx: 0
    }));
    assert!(c.drain().is_empty());
    assert_eq!(c.next_commit_idx(), 7);
    c.mark_dispatched(7, "ticket_7");
    assert!(c.offer(arrival(7, "t7", Classification::Success)) == Offer::Accepted);
    let idx: Vec<u64> = drain_ready_completions_in_schedule_order(&mut c);
    assert_eq!(idx, vec![7, 8]);

    // Restored from a journal where variant 0 committed 2 spawn failures out of 2,
    // one more stops it; variant 1 (one success) never stops.
    let mut c = DeterministicCommitter::new((0..10).map(|i| i % 2).collect(), 2, None);
    c.restore(4, vec![2, 0], vec![false, false], [], []);
    c.restore_spawn_failures(&[2, 2], &[2, 1]);
    c.mark_dispatched(4, "ticket_4");
    c.offer(arrival(4, "t4", Classification::SpawnFailure));
    assert!(c
        .drain()
        .iter()
        .any(|a| matches!(a, CommitAction::StopUnspawnable { variant_idx: 0, .. })));
}

/// Replays arrival "ticks" through a committer: everything that arrives in one tick is
/// offered, then the ready prefix is drained. Used to prove order-independence.
#[derive(Debug)]
struct OutOfOrderCompletionSimulator {
    pub committer: DeterministicCommitter,
    pub commits: Vec<u64>,
    pub per_tick: Vec<Vec<u64>>,
}

impl OutOfOrderCompletionSimulator {
    fn new(slots: usize) -> Self {
        let mut committer = DeterministicCommitter::new(vec![0; slots], 1, None);
        for i in 0..slots as u64 {
            committer.mark_dispatched(i, &format!("ticket_{i}"));
        }
        OutOfOrderCompletionSimulator {
            committer,
            commits: Vec::new(),
            per_tick: Vec::new(),
        }
    }

    fn tick(&mut self, arrivals: impl IntoIterator<Item = Arrival>) -> Vec<Offer> {
        let offers = arrivals
            .into_iter()
            .map(|a| self.committer.offer(a))
            .collect();
        let committed: Vec<u64> = drain_ready_completions_in_schedule_order(&mut self.committer);
        self.commits.extend(&committed);
        self.per_tick.push(committed);
        offers
    }
}

/// Drain the committer and return the schedule indices committed, in order.
fn drain_ready_completions_in_schedule_order(c: &mut DeterministicCommitter) -> Vec<u64> {
    c.drain()
        .into_iter()
        .filter_map(|a| match a {
            CommitAction::Commit { schedule_idx, .. } => Some(schedule_idx),
            CommitAction::SkipPruned { schedule_idx, .. } => Some(schedule_idx),
            CommitAction::Prune { .. } | CommitAction::StopUnspawnable { .. } => None,
        })
        .collect()
}
