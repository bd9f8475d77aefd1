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

use journal::event::*;
use journal::projection::Changes;
use journal::store::chain_hash;
use journal::{testkit, Durability, Journal, Projections, StoredEvent};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The random choices the simulator draws from; reads 0 once exhausted.
struct Tape<'a> {
    data: &'a [u32],
    pos: usize,
}

impl Tape<'_> {
    fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn next(&mut self) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Dispatch,
    Complete,
    WorkerLost,
    Commit,
    Dropped,
    Pause,
    Resume,
    Stop,
    Warning,
    Concurrency,
    Session,
}

/// Just enough of a coordinator to emit only sequences the projections must accept.
struct Sim {
    variant_ids: Vec<String>,
    task_ids: Vec<String>,
    schedule: Vec<SlotSpec>,
    max_concurrency: usize,
    prune_after: Option<u32>,
    /// Metric values are `k / metric_denominator`.
    metric_denominator: f64,
    next_dispatch: u64,
    /// Slots whose attempt was lost and is dispatched again (infra retry).
    requeued: BTreeSet<u64>,
    /// Dispatches per slot, so a retried slot gets a fresh ticket.
    dispatches: BTreeMap<u64, u32>,
    active: Vec<u64>,
    done: BTreeMap<u64, Classification>,
    skip: BTreeSet<u64>,
    next_commit: u64,
    streak: Vec<u32>,
    pruned: Vec<bool>,
    /// Trials paused by the current pause, when the run is paused.
    paused: Option<Vec<u64>>,
    requests: u32,
    events: Vec<Event>,
}

const OUTCOMES: [Classification; 7] = [
    Classification::SpawnFailure,
    Classification::Success,
    Classification::Success,
    Classification::Failure,
    Classification::Error,
    Classification::Timeout,
    Classification::AgentExitNonzero,
];

impl Sim {
    fn new(run_created: Event, metric_denominator: f64) -> Sim {
        let Event::RunCreated(rc) = &run_created else {
            unreachable!()
        };
        Sim {
            variant_ids: rc.variant_ids.clone(),
            task_ids: rc.task_ids.clone(),
            schedule: rc.schedule.clone(),
            max_concurrency: rc.max_concurrency as usize,
            prune_after: rc.pruning.max_consecutive_failures,
            metric_denominator,
            next_dispatch: 0,
            requeued: BTreeSet::new(),
            dispatches: BTreeMap::new(),
            active: Vec::new(),
            done: BTreeMap::new(),
            skip: BTreeSet::new(),
            next_commit: 0,
            streak: vec![0; rc.variant_ids.len()],
            pruned: vec![false; rc.variant_ids.len()],
            paused: None,
            requests: 0,
            events: vec![run_created],
        }
    }

    fn slot(&self, s: u64) -> SlotSpec {
        self.schedule[s as usize]
    }

    fn request_id(&mut self) -> String {
        self.requests += 1;
        format!("req-{}", self.requests)
    }

    fn ticket(&self, s: u64) -> String {
        format!("tk{s}_{}", self.dispatches.get(&s).copied().unwrap_or(0))
    }

    fn has_dispatchable(&self) -> bool {
        !self.requeued.is_empty() || (self.next_dispatch as usize) < self.schedule.len()
    }

    /// Moves the dispatch cursor over slots of pruned variants (skipped at commit time).
    fn skip_pruned(&mut self) {
        let pruned: Vec<u64> = self
            .requeued
            .iter()
            .copied()
            .filter(|&s| self.pruned[self.slot(s).variant_idx()])
            .collect();
        for s in pruned {
            self.requeued.remove(&s);
            self.skip.insert(s);
        }
        while (self.next_dispatch as usize) < self.schedule.len()
            && self.pruned[self.slot(self.next_dispatch).variant_idx()]
        {
            self.skip.insert(self.next_dispatch);
            self.next_dispatch += 1;
        }
    }

    fn can_commit(&self) -> bool {
        self.skip.contains(&self.next_commit) || self.done.contains_key(&self.next_commit)
    }

    fn enabled(&mut self) -> Vec<(Action, u32)> {
        self.skip_pruned();
        let mut v = vec![(Action::Warning, 1), (Action::Concurrency, 1)];
        if !self.done.is_empty() || self.next_commit > 0 {
            v.push((Action::Dropped, 1));
        }
        if self.paused.is_some() {
            v.push((Action::Resume, 4));
            return v;
        }
        if self.active.len() < self.max_concurrency && self.has_dispatchable() {
            v.push((Action::Dispatch, 5));
        }
        if !self.active.is_empty() {
            v.extend([
                (Action::Complete, 5),
                (Action::WorkerLost, 1),
                (Action::Pause, 1),
                (Action::Stop, 1),
            ]);
        }
        if self.can_commit() {
            v.push((Action::Commit, 5));
        }
        v.push((Action::Session, 1));
        v
    }

    fn step(&mut self, tape: &mut Tape) {
        let enabled = self.enabled();
        let total: u32 = enabled.iter().map(|(_, w)| w).sum();
        let mut pick = tape.next() % total;
        let action = enabled
            .iter()
            .find(|(_, w)| {
                let hit = pick < *w;
                pick = pick.saturating_sub(*w);
                hit
            })
            .expect("weights cover the pick")
            .0;
        self.act(action, tape);
    }

    fn act(&mut self, action: Action, tape: &mut Tape) {
        match action {
            Action::Dispatch => {
                let s = match self.requeued.pop_first() {
                    Some(s) => s,
                    None => {
                        self.next_dispatch += 1;
                        self.next_dispatch - 1
                    }
                };
                let slot = self.slot(s);
                *self.dispatches.entry(s).or_default() += 1;
                self.active.push(s);
                self.events.push(Event::TrialDispatched(TrialDispatched {
                    schedule_idx: s,
                    trial_id: testkit::trial_id(s),
                    variant_id: self.variant_ids[slot.variant_idx()].clone(),
                    task_id: self.task_ids[slot.task_idx()].clone(),
                    repl_idx: slot.repl_idx(),
                    worker_id: format!("w{}", tape.below(3)),
                    ticket_id: self.ticket(s),
                }));
            }
            Action::Complete => {
                let s = self.active.remove(tape.below(self.active.len()));
                let c = OUTCOMES[tape.below(OUTCOMES.len())];
                let mut metrics = BTreeMap::new();
                if tape.below(5) > 0 {
                    metrics.insert(
                        "score".to_string(),
                        tape.below(1000) as f64 / self.metric_denominator,
                    );
                }
                if tape.below(2) == 0 {
                    metrics.insert("tokens".to_string(), tape.below(50_000) as f64);
                }
                let attempts = (0..tape.below(3))
                    .map(|a| AttemptRecord {
                        attempt: a as u32 + 1,
                        classification: c,
                        exit_code: (tape.below(2) == 0).then_some(a as i32),
                        duration_ms: 10,
                        detail: (tape.below(3) == 0).then(|| format!("attempt {a}")),
                    })
                    .collect();
                let evidence = (0..tape.below(3))
                    .map(|e| EvidenceRef {
                        class: format!("class{e}"),
                        path: format!("trials/{}/e{e}.json", testkit::trial_id(s)),
                        digest: "cd".repeat(32),
                        bytes: e as u64 * 10,
                    })
                    .collect();
                let chain_state = (tape.below(3) == 0).then(|| ChainStateRef {
                    chain_id: format!("chain{}", self.slot(s).task_idx()),
                    state_digest: "ef".repeat(32),
                });
                self.done.insert(s, c);
                self.events.push(Event::TrialCompleted(TrialCompleted {
                    schedule_idx: s,
                    trial_id: testkit::trial_id(s),
                    ticket_id: self.ticket(s),
                    worker_id: "w0".into(),
                    completion_seq: 1,
                    classification: c,
                    outcome: (tape.below(2) == 0).then(|| c.as_str().to_string()),
                    metrics,
                    other_metrics: Default::default(),
                    attempts,
                    duration_ms: tape.below(5000) as u64,
                    evidence,
                    artifacts: Vec::new(),
                    chain_state,
                    error: (!c.is_success() && tape.below(2) == 0).then(|| "boom".into()),
                    isolation: None,
                }));
            }
            Action::WorkerLost => {
                let s = self.active.remove(tape.below(self.active.len()));
                // Retried (budget left), committed lost, or a spawn failure committed.
                let (retry, classification) = match tape.below(4) {
                    0 | 1 => (true, Classification::WorkerLost),
                    2 => (false, Classification::WorkerLost),
                    _ => (false, Classification::SpawnFailure),
                };
                if retry {
                    self.requeued.insert(s);
                } else {
                    self.done.insert(s, classification);
                }
                self.events.push(Event::WorkerLost(WorkerLost {
                    schedule_idx: s,
                    trial_id: testkit::trial_id(s),
                    worker_id: "w0".into(),
                    ticket_id: self.ticket(s),
                    reason: "worker vanished".into(),
                    classification,
                    retry,
                    stopped_by_kill: retry && tape.below(3) == 0,
                }));
            }
            Action::Commit => self.commit_one(),
            Action::Dropped => {
                let candidates: Vec<u64> = self
                    .done
                    .keys()
                    .copied()
                    .chain(0..self.next_commit)
                    .filter(|s| !self.skip.contains(s))
                    .collect();
                if let Some(&s) = candidates.get(tape.below(candidates.len())) {
                    self.events
                        .push(Event::CompletionDropped(CompletionDropped {
                            schedule_idx: s,
                            trial_id: testkit::trial_id(s),
                            ticket_id: format!("tk{s}"),
                            completion_seq: 2,
                            reason: "duplicate".into(),
                            dedupe_key: format!("r/{s}/{}/2", testkit::trial_id(s)),
                        }));
                }
            }
            Action::Pause => {
                let request_id = self.request_id();
                let target =
                    (tape.below(3) == 0).then(|| self.active[tape.below(self.active.len())]);
                self.events.push(Event::PauseRequested(PauseRequested {
                    request_id: request_id.clone(),
                    trial_id: target.map(testkit::trial_id),
                    label: (tape.below(2) == 0).then(|| "checkpoint".into()),
                    requested_by: "cli".into(),
                    requested_at: format!("req-at-{}", self.requests),
                }));
                let targets: Vec<u64> = match target {
                    Some(t) => vec![t],
                    None => self.active.clone(),
                };
                let mut paused = Vec::new();
                let mut survivors = Vec::new();
                for t in targets {
                    let accepted = tape.below(4) != 0;
                    self.events.push(Event::PauseAcked(PauseAcked {
                        request_id: request_id.clone(),
                        trial_id: testkit::trial_id(t),
                        worker_id: "w0".into(),
                        accepted,
                        reason: (!accepted).then(|| "not pausable".into()),
                    }));
                    if accepted {
                        paused.push(t);
                    } else {
                        survivors.push(testkit::trial_id(t));
                    }
                }
                self.events.push(if survivors.is_empty() {
                    Event::RunPaused(RunPaused {
                        request_id,
                        label: None,
                        paused_trials: paused.iter().map(|&t| testkit::trial_id(t)).collect(),
                    })
                } else {
                    Event::RunInterrupted(RunInterrupted {
                        reason: "pause failed for some trials".into(),
                        survivors,
                    })
                });
                self.paused = Some(paused);
            }
            Action::Resume => {
                let paused = self.paused.take().unwrap_or_default();
                let request_id = self.request_id();
                self.events.push(Event::ResumeRequested(ResumeRequested {
                    request_id,
                    trial_id: None,
                    requested_by: "cli".into(),
                    resumed_trials: paused.into_iter().map(testkit::trial_id).collect(),
                }));
            }
            Action::Stop => {
                let t = self.active[tape.below(self.active.len())];
                let request_id = self.request_id();
                self.events.push(Event::StopRequested(StopRequested {
                    request_id,
                    scope: "cancel".into(),
                    trial_id: Some(testkit::trial_id(t)),
                    requested_by: "cli".into(),
                    reason: None,
                }));
            }
            Action::Warning => {
                let n = tape.below(4) as u32 + 1;
                self.events.push(Event::BackendWarning(BackendWarning {
                    code: "capacity_ceiling".into(),
                    message: format!("local worker capacity {n} is below the request"),
                    requested: Some(n + 1),
                    effective: Some(n),
                }));
            }
            Action::Concurrency => {
                let n = tape.below(4) as u32 + 1;
                self.max_concurrency = n as usize;
                let request_id = self.request_id();
                self.events.push(Event::ConcurrencySet(ConcurrencySet {
                    request_id,
                    max_concurrency: n,
                    requested_by: "cli".into(),
                }));
            }
            Action::Session => {
                self.events.push(Event::SessionStarted(SessionStarted {
                    session_id: format!("s{}", self.events.len()),
                    pid: 4242,
                    host: "host".into(),
                    mode: "continue".into(),
                    labj_version: "0.1.0".into(),
                    took_over_from: None,
                    inputs_changed: None,
                }));
            }
        }
    }

    fn commit_one(&mut self) {
        let s = self.next_commit;
        let v = self.slot(s).variant_idx();
        let variant_id = self.variant_ids[v].clone();
        if self.skip.remove(&s) {
            self.events
                .push(Event::SlotSkippedPruned(SlotSkippedPruned {
                    schedule_idx: s,
                    trial_id: testkit::trial_id(s),
                    variant_id,
                }));
        } else {
            let c = self.done.remove(&s).expect("can_commit checked");
            self.events.push(testkit::committed(s, c));
            if c.is_success() {
                self.streak[v] = 0;
            } else if !c.is_infra() {
                self.streak[v] += 1;
            }
            if let Some(limit) = self.prune_after {
                if !self.pruned[v] && self.streak[v] >= limit {
                    self.pruned[v] = true;
                    self.events.push(Event::VariantPruned(VariantPruned {
                        variant_id,
                        consecutive_failures: self.streak[v],
                        at_schedule_idx: s,
                    }));
                }
            }
        }
        self.next_commit += 1;
    }

    /// Runs the schedule to its end and completes the run.
    fn drain(&mut self, tape: &mut Tape) {
        if self.paused.is_some() {
            self.act(Action::Resume, tape);
        }
        loop {
            self.skip_pruned();
            if self.can_commit() {
                self.commit_one();
            } else if !self.active.is_empty() {
                self.act(Action::Complete, tape);
            } else if self.has_dispatchable() {
                self.act(Action::Dispatch, tape);
            } else {
                break;
            }
        }
        assert_eq!(self.next_commit as usize, self.schedule.len());
        self.events.push(Event::RunCompleted(RunCompleted {
            committed_slots: self.next_commit,
        }));
    }
}

#[derive(Debug, Clone)]
struct Case {
    variants: u32,
    tasks: u32,
    repls: u32,
    max_concurrency: u32,
    prune_after: Option<u32>,
    tape: Vec<u32>,
    drain: bool,
    /// 8.0 gives metrics with short exact decimal forms; 7.0 gives ones like 118.28571428571429.
    metric_denominator: f64,
    batch_sizes: Vec<usize>,
    prefixes: Vec<prop::sample::Index>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        2u32..=3,
        2u32..=6,
        1u32..=2,
        1u32..=4,
        prop::option::of(1u32..=3),
        prop::collection::vec(any::<u32>(), 0..400),
        any::<bool>(),
        prop::collection::vec(1usize..=12, 1..8),
        prop::collection::vec(any::<prop::sample::Index>(), 1..6),
    )
        .prop_map(
            |(
                variants,
                tasks,
                repls,
                max_concurrency,
                prune_after,
                tape,
                drain,
                batch_sizes,
                prefixes,
            )| Case {
                variants,
                tasks,
                repls,
                max_concurrency,
                prune_after,
                tape,
                drain,
                metric_denominator: 8.0,
                batch_sizes,
                prefixes,
            },
        )
}

fn generate(case: &Case) -> Vec<Event> {
    let mut rc = testkit::run_created("prop", case.variants, case.tasks, case.repls);
    if let Event::RunCreated(r) = &mut rc {
        r.max_concurrency = case.max_concurrency;
        r.pruning.max_consecutive_failures = case.prune_after;
    }
    let mut sim = Sim::new(rc, case.metric_denominator);
    let mut tape = Tape {
        data: &case.tape,
        pos: 0,
    };
    while !tape.exhausted() {
        sim.step(&mut tape);
    }
    if case.drain {
        sim.drain(&mut tape);
    }
    sim.events
}

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
    for (name, doc) in [
        ("run_control_v2", mem.run_control_doc()),
        ("schedule_progress_v2", mem.progress_doc()),
        ("aggregates_v2", mem.aggregates_doc()),
    ] {
        let stored: String = j
            .conn()
            .query_row("SELECT doc FROM proj_docs WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .unwrap();
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
    fn live_fold_rebuild_and_prefix_folds_agree(case in case()) {
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
