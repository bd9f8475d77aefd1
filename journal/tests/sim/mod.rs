//! A small simulated coordinator shared by the projection property tests: it turns a
//! random tape into a valid event sequence for a random small run (dispatches,
//! out-of-order completions, contiguous commits, pruning, worker_lost committed or
//! retried under the infra-retry budget, infra and cancelled outcomes that leave streaks
//! alone, pause/ack/resume, warnings, concurrency changes, and an end: completed,
//! failed or killed).

#![allow(dead_code)]

use journal::event::*;
use journal::testkit;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The random choices the simulator draws from; reads 0 once exhausted.
pub struct Tape<'a> {
    pub data: &'a [u32],
    pub pos: usize,
}

impl Tape<'_> {
    pub fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn next(&mut self) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
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
pub struct Sim {
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

const OUTCOMES: [Classification; 8] = [
    Classification::SpawnFailure,
    Classification::Cancelled,
    Classification::Success,
    Classification::Success,
    Classification::Failure,
    Classification::Error,
    Classification::Timeout,
    Classification::AgentExitNonzero,
];

impl Sim {
    pub fn new(run_created: Event, metric_denominator: f64) -> Sim {
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

    pub fn step(&mut self, tape: &mut Tape) {
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
                        leaked_processes: None,
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
                    result: TrialOutcome {
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
                    },
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
                    digests: vec![],
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
                    budget: None,
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
            } else if c.is_verdict() {
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

    /// Ends an unfinished run the way a session can: failed, or killed with its active
    /// trials left active for `continue`.
    pub fn end(&mut self, how: u8) {
        match how {
            1 => self.events.push(Event::RunFailed(RunFailed {
                error: "simulated: conflicting completion".into(),
            })),
            2 => {
                let request_id = self.request_id();
                let stopped_trials = self.active.iter().map(|&s| testkit::trial_id(s)).collect();
                self.events.push(Event::RunKilled(RunKilled {
                    request_id,
                    stopped_trials,
                }));
            }
            _ => {}
        }
    }

    /// Runs the schedule to its end and completes the run.
    pub fn drain(&mut self, tape: &mut Tape) {
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
pub struct Case {
    pub variants: u32,
    pub tasks: u32,
    pub repls: u32,
    pub max_concurrency: u32,
    pub prune_after: Option<u32>,
    pub tape: Vec<u32>,
    pub drain: bool,
    /// How an undrained run ends: 0 still running, 1 `run_failed`, 2 `run_killed`
    /// (its active trials stopped and left active, as `labj kill` does).
    pub end: u8,
    /// 8.0 gives metrics with short exact decimal forms; 7.0 gives ones like 118.28571428571429.
    pub metric_denominator: f64,
    pub batch_sizes: Vec<usize>,
    pub prefixes: Vec<prop::sample::Index>,
}

pub fn case() -> impl Strategy<Value = Case> {
    (
        2u32..=3,
        2u32..=6,
        1u32..=2,
        1u32..=4,
        prop::option::of(1u32..=3),
        prop::collection::vec(any::<u32>(), 0..400),
        any::<bool>(),
        0u8..3,
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
                end,
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
                end,
                metric_denominator: 8.0,
                batch_sizes,
                prefixes,
            },
        )
}

pub fn generate(case: &Case) -> Vec<Event> {
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
    } else {
        sim.end(case.end);
    }
    sim.events
}
