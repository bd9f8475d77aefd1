//! Projections: pure folds over the event sequence.
//!
//! [`Projections::apply`] is the only way state changes. It does no I/O, reads no clock
//! (timestamps come from the events) and draws no random numbers, so folding the same
//! prefix always yields the same state — the property replay, recovery and `verify`
//! stand on. Besides updating its state, `apply` reports which materialized rows changed
//! ([`Changes`]) so the store can update the SQLite tables in the same transaction.

use crate::event::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
mod commit;
mod docs;
mod facts;
mod snapshot;
mod state;
pub use facts::{FactRow, FactTable, FactTrial, FactValue};
pub use snapshot::SNAPSHOT_FORMAT;
pub use state::{
    ActiveTrial, LastAck, PauseInfo, RunControl, RunInfo, RunStatus, ScheduleProgress,
    TrialControlInfo, TrialControlState,
};

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// The parts of an event `apply` reads, whether it owns the event or borrows it.
struct EventAt<'a> {
    idx: u64,
    ts: &'a str,
    event: &'a Event,
}

/// Counts and metric sums over committed slots (of the run, or of one variant), updated
/// at each commit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Aggregate {
    /// Slots committed, whatever their status.
    pub committed: u64,
    /// Committed with status `completed` (a success or a failure).
    pub(crate) completed: u64,
    /// Committed with status `failed`.
    pub failed: u64,
    /// Skipped because their variant was pruned.
    pub skipped_pruned: u64,
    /// Committed with status `worker_lost`.
    pub worker_lost: u64,
    /// Committed slots whose outcome is an infrastructure fault (worker lost, spawn
    /// failure, disk error): outside success rates, metric means and failure streaks.
    pub infra: u64,
    /// Committed slots an operator cancelled (`labj cancel`): outside success rates,
    /// metric means and failure streaks, like infrastructure faults.
    pub cancelled: u64,
    /// Attempts lost to infrastructure and dispatched again (never committed).
    pub infra_retried: u64,
    /// Committed slots classified `success`.
    pub succeeded: u64,
    /// Per metric, the sum of its values over the scored slots that report it.
    pub metric_sums: BTreeMap<String, f64>,
    /// Per metric, how many scored slots report it.
    pub metric_counts: BTreeMap<String, u64>,
    /// Committed completions per classification name (skipped slots have none).
    pub by_classification: BTreeMap<String, u64>,
}

impl Aggregate {
    /// Slots that ran and whose outcome is the agent's: committed minus skipped minus
    /// infrastructure faults minus cancelled. The denominator of the success rate.
    pub fn scored(&self) -> u64 {
        self.committed - self.skipped_pruned - self.infra - self.cancelled
    }

    /// Scored slots that did not succeed.
    pub fn unsuccessful(&self) -> u64 {
        self.scored() - self.succeeded
    }

    /// Succeeded over scored slots (skipped and infrastructure faults excluded); `None`
    /// before any scored slot.
    pub fn success_rate(&self) -> Option<f64> {
        let ran = self.scored();
        (ran > 0).then(|| self.succeeded as f64 / ran as f64)
    }

    /// Mean of `metric` over the scored slots that report it; `None` when none does.
    pub fn mean(&self, metric: &str) -> Option<f64> {
        let n = *self.metric_counts.get(metric)?;
        (n > 0).then(|| self.metric_sums.get(metric).copied().unwrap_or(0.0) / n as f64)
    }

    fn record(&mut self, status: SlotStatus, c: Option<&TrialCompleted>) {
        self.committed += 1;
        match status {
            SlotStatus::Completed => self.completed += 1,
            SlotStatus::Failed => self.failed += 1,
            SlotStatus::SkippedPruned => self.skipped_pruned += 1,
            SlotStatus::WorkerLost => self.worker_lost += 1,
        }
        if let Some(c) = c {
            if c.classification.is_success() {
                self.succeeded += 1;
            }
            bump(&mut self.by_classification, c.classification.as_str(), 1);
            if c.classification.is_infra() {
                // A crash is never a verdict: no metrics, no share of any mean.
                self.infra += 1;
                return;
            }
            if !c.classification.is_verdict() {
                // Cancelled by an operator: no verdict either.
                self.cancelled += 1;
                return;
            }
            for (k, v) in &c.metrics {
                bump(&mut self.metric_sums, k, *v);
                bump(&mut self.metric_counts, k, 1);
            }
        }
    }

    /// This aggregate as the `aggregates_v2` document writes it, with its derived numbers.
    pub(crate) fn to_json(&self, primary_metric: Option<&str>) -> Value {
        json!({
            "committed": self.committed,
            "completed": self.completed,
            "failed": self.failed,
            "skipped_pruned": self.skipped_pruned,
            "worker_lost": self.worker_lost,
            "infra": self.infra,
            "cancelled": self.cancelled,
            "infra_retried": self.infra_retried,
            "scored": self.scored(),
            "succeeded": self.succeeded,
            "success_rate": self.success_rate(),
            "primary_metric": primary_metric,
            "primary_metric_mean": primary_metric.and_then(|m| self.mean(m)),
            "metric_sums": self.metric_sums,
            "metric_counts": self.metric_counts,
            "by_classification": self.by_classification,
        })
    }
}

/// `map[key] += by`, allocating the key only the first time it is seen (a fold meets
/// the same few keys on every commit).
fn bump<T: Copy + Default + std::ops::AddAssign>(map: &mut BTreeMap<String, T>, key: &str, by: T) {
    match map.get_mut(key) {
        Some(v) => *v += by,
        None => {
            let mut v = T::default();
            v += by;
            map.insert(key.to_string(), v);
        }
    }
}

/// The run's aggregate and each variant's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Aggregates {
    /// Over every committed slot.
    pub overall: Aggregate,
    /// Per variant id (every variant of the run, from `run_created` on).
    pub variants: BTreeMap<String, Aggregate>,
}

/// What one or more `apply` calls changed, for the materializer.
#[derive(Debug, Default)]
pub struct Changes {
    /// A milestone was folded: the `proj_docs` documents must be rewritten.
    pub(crate) docs_dirty: bool,
    /// Fact rows to append, in the order the fold produced them.
    pub rows: Vec<FactRow>,
    /// Set for pure folds (replay, recovery) that materialize nothing: fact rows are
    /// not built at all, which roughly halves the cost of folding commits.
    pub(crate) skip_rows: bool,
}

impl Changes {
    /// Changes of a fold whose rows nobody will write.
    pub fn fold_only() -> Changes {
        Changes {
            skip_rows: true,
            ..Changes::default()
        }
    }
}

/// A journal that does not fold: an event refers to state that does not exist.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("event {idx} ({kind}) does not apply: {message}")]
pub struct FoldError {
    /// The event's idx.
    pub idx: u64,
    /// Its kind.
    pub kind: String,
    /// What it refers to that does not exist, or what it contradicts.
    pub message: String,
}

/// The complete projected state of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Projections {
    /// What the run was created with; `None` before `run_created` is folded.
    pub run: Option<RunInfo>,
    /// Who is running, paused or stopping.
    pub control: RunControl,
    /// How far commits got.
    pub progress: ScheduleProgress,
    /// Counts and metric sums of the committed slots.
    pub aggregates: Aggregates,
    /// Completions (and worker_lost verdicts) waiting for their slot to be committed.
    pub pending: BTreeMap<u64, TrialCompleted>,
    /// Events folded so far: the idx the next event must have.
    pub events_applied: u64,
    /// The last `session_started`: the session driving the run (or that last drove it).
    pub session: Option<SessionStarted>,
}

impl Default for Projections {
    fn default() -> Self {
        Projections {
            run: None,
            control: RunControl {
                status: RunStatus::Running,
                active_trials: BTreeMap::new(),
                pause: None,
                max_concurrency: 1,
                warnings: Vec::new(),
                last_error: None,
                updated_at: String::new(),
                last_event_idx: 0,
            },
            progress: ScheduleProgress::default(),
            aggregates: Aggregates::default(),
            pending: BTreeMap::new(),
            events_applied: 0,
            session: None,
        }
    }
}

impl Projections {
    /// The state before any event: fold `run_created` first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fold one event. `changes` collects what the materialized tables must reflect.
    pub fn apply(&mut self, ev: &StoredEvent, changes: &mut Changes) -> Result<(), FoldError> {
        self.apply_parts(ev.idx, &ev.ts, Cow::Borrowed(&ev.event), changes)
    }

    /// Like [`apply`](Self::apply), consuming the event (no copy of large payloads).
    pub fn apply_owned(&mut self, ev: StoredEvent, changes: &mut Changes) -> Result<(), FoldError> {
        self.apply_parts(ev.idx, &ev.ts, Cow::Owned(ev.event), changes)
    }

    /// Like [`apply_owned`](Self::apply_owned) for an event not wrapped in a
    /// [`StoredEvent`]: what a fold reading rows calls, without copying the timestamp.
    pub(crate) fn apply_decoded(
        &mut self,
        idx: u64,
        ts: &str,
        event: Event,
        changes: &mut Changes,
    ) -> Result<(), FoldError> {
        self.apply_parts(idx, ts, Cow::Owned(event), changes)
    }

    fn apply_parts(
        &mut self,
        idx: u64,
        ts: &str,
        event: Cow<'_, Event>,
        changes: &mut Changes,
    ) -> Result<(), FoldError> {
        if let Cow::Owned(Event::TrialDispatched(_)) = &event {
            self.check_order(idx, &event)?;
            let Cow::Owned(Event::TrialDispatched(d)) = event else {
                unreachable!("matched above")
            };
            self.dispatch(d, ts).map_err(|message| FoldError {
                idx,
                kind: "trial_dispatched".into(),
                message,
            })?;
            self.finish_apply(idx, ts);
            return Ok(());
        }
        if let Cow::Owned(Event::TrialCompleted(_)) = &event {
            self.check_order(idx, &event)?;
            let Cow::Owned(Event::TrialCompleted(c)) = event else {
                unreachable!("matched above")
            };
            self.accept_completion(c).map_err(|message| FoldError {
                idx,
                kind: "trial_completed".into(),
                message,
            })?;
            self.finish_apply(idx, ts);
            return Ok(());
        }
        let ev = EventAt {
            idx,
            ts,
            event: &event,
        };
        self.check_order(idx, ev.event)?;
        let fail = |message: String| FoldError {
            idx: ev.idx,
            kind: ev.event.kind().to_string(),
            message,
        };
        match &ev.event {
            Event::RunCreated(e) => {
                if self.run.is_some() {
                    return Err(fail("run_created appears twice".into()));
                }
                for (i, s) in e.schedule.iter().enumerate() {
                    if s.variant_idx() >= e.variant_ids.len() || s.task_idx() >= e.task_ids.len() {
                        return Err(fail(format!("schedule slot {i} refers to no variant/task")));
                    }
                }
                self.progress.total_slots = e.schedule.len() as u64;
                self.progress.committed = vec![None; e.schedule.len()];
                for v in &e.variant_ids {
                    self.aggregates
                        .variants
                        .insert(v.clone(), Aggregate::default());
                    self.progress.consecutive_failures.insert(v.clone(), 0);
                }
                self.control.max_concurrency = e.max_concurrency.max(1);
                self.run = Some(RunInfo {
                    run_id: e.run_id.clone(),
                    experiment_id: e.experiment_id.clone(),
                    variant_ids: e.variant_ids.clone(),
                    task_ids: e.task_ids.clone(),
                    schedule: e.schedule.clone(),
                    pruning: e.pruning.clone(),
                    primary_metric: e.primary_metric.clone(),
                });
            }
            Event::SessionStarted(e) => {
                self.control.status = RunStatus::Running;
                self.control.pause = None;
                self.control.last_error = None;
                self.session = Some(e.clone());
            }
            Event::TrialDispatched(e) => self.dispatch(e.clone(), ev.ts).map_err(fail)?,
            Event::TrialCompleted(e) => {
                self.accept_completion(e.clone()).map_err(fail)?;
            }
            Event::WorkerLost(e) if e.retry => {
                if !e.classification.is_infra() {
                    return Err(fail(format!(
                        "worker_lost names `{}`, not an infrastructure class",
                        e.classification.as_str()
                    )));
                }
                let active = self
                    .control
                    .active_trials
                    .get(&e.trial_id)
                    .ok_or_else(|| fail(format!("trial {} is not active", e.trial_id)))?;
                if active.schedule_idx != e.schedule_idx {
                    return Err(fail(format!(
                        "trial {} was dispatched for slot {}, not {}",
                        e.trial_id, active.schedule_idx, e.schedule_idx
                    )));
                }
                let variant_id = active.variant_id.clone();
                self.control.active_trials.remove(&e.trial_id);
                if !e.stopped_by_kill {
                    *self
                        .progress
                        .lost_attempts
                        .entry(e.schedule_idx)
                        .or_default() += 1;
                }
                self.aggregates.overall.infra_retried += 1;
                if let Some(agg) = self.aggregates.variants.get_mut(&variant_id) {
                    agg.infra_retried += 1;
                }
            }
            Event::WorkerLost(e) => {
                if !e.classification.is_infra() {
                    return Err(fail(format!(
                        "worker_lost names `{}`, not an infrastructure class",
                        e.classification.as_str()
                    )));
                }
                let lost = TrialCompleted {
                    schedule_idx: e.schedule_idx,
                    trial_id: e.trial_id.clone(),
                    ticket_id: e.ticket_id.clone(),
                    worker_id: e.worker_id.clone(),
                    completion_seq: 0,
                    result: TrialOutcome::infra(e.classification, e.reason.clone()),
                };
                self.accept_completion(lost).map_err(fail)?;
            }
            Event::CompletionDropped(_) => {}
            Event::SlotCommitted(e) => self.commit_slot(e, changes).map_err(fail)?,
            Event::SlotSkippedPruned(e) => self.skip_slot(e, changes).map_err(fail)?,
            Event::VariantPruned(e) => {
                if !self.aggregates.variants.contains_key(&e.variant_id) {
                    return Err(fail(format!("unknown variant {}", e.variant_id)));
                }
                self.progress.pruned_variants.insert(e.variant_id.clone());
            }
            Event::PauseRequested(e) => {
                self.control.pause = Some(PauseInfo {
                    request_id: e.request_id.clone(),
                    label: e.label.clone(),
                    requested_at: e.requested_at.clone(),
                    requested_by: e.requested_by.clone(),
                    trial_id: e.trial_id.clone(),
                });
                for t in self.control.active_trials.values_mut() {
                    if e.trial_id.as_deref().is_none_or(|id| id == t.trial_id) {
                        t.control.state = TrialControlState::Pausing;
                    }
                }
            }
            Event::PauseAcked(e) => {
                if let Some(t) = self.control.active_trials.get_mut(&e.trial_id) {
                    t.control.state = if e.accepted {
                        TrialControlState::Paused
                    } else {
                        TrialControlState::Running
                    };
                    t.control.last_ack = Some(LastAck {
                        request_id: e.request_id.clone(),
                        accepted: e.accepted,
                        reason: e.reason.clone(),
                    });
                }
            }
            Event::RunPaused(_) => self.control.status = RunStatus::Paused,
            Event::RunInterrupted(e) => {
                self.control.status = RunStatus::Interrupted;
                self.control.last_error = Some(e.reason.clone());
            }
            Event::ResumeRequested(e) => {
                for id in &e.resumed_trials {
                    if let Some(t) = self.control.active_trials.get_mut(id) {
                        t.control.state = TrialControlState::Running;
                    }
                }
                let still_paused = self
                    .control
                    .active_trials
                    .values()
                    .any(|t| t.control.state == TrialControlState::Paused);
                if !still_paused {
                    self.control.status = RunStatus::Running;
                    self.control.pause = None;
                }
            }
            Event::StopRequested(e) => {
                for t in self.control.active_trials.values_mut() {
                    if e.trial_id.as_deref().is_none_or(|id| id == t.trial_id) {
                        t.control.state = TrialControlState::Stopping;
                    }
                }
            }
            Event::RunKilled(_) => self.control.status = RunStatus::Killed,
            Event::RunCompleted(_) => self.control.status = RunStatus::Completed,
            Event::RunFailed(e) => {
                self.control.status = RunStatus::Failed;
                self.control.last_error = Some(e.error.clone());
            }
            Event::BackendWarning(e) => self.control.warnings.push(e.message.clone()),
            Event::ConcurrencySet(e) => self.control.max_concurrency = e.max_concurrency.max(1),
            // Which backend job runs an attempt changes no projection: `continue` and
            // `inspect` read these events from the journal itself.
            Event::BackendJobSubmitted(_) => {}
            // A budget stop changes no projection: the coordinator decides from the
            // spend it folds, and `status` reads these events by kind.
            Event::BudgetReached(_) => {}
        }
        changes.docs_dirty |= Self::renders_docs(ev.event.kind());
        self.finish_apply(idx, ts);
        Ok(())
    }

    fn check_order(&self, idx: u64, event: &Event) -> Result<(), FoldError> {
        let fail = |message: String| FoldError {
            idx,
            kind: event.kind().to_string(),
            message,
        };
        if idx != self.events_applied {
            return Err(fail(format!(
                "expected event idx {}, got {idx}",
                self.events_applied
            )));
        }
        if self.run.is_none() && !matches!(event, Event::RunCreated(_)) {
            return Err(fail("the first event must be run_created".into()));
        }
        Ok(())
    }

    fn finish_apply(&mut self, idx: u64, ts: &str) {
        self.control.updated_at.clear();
        self.control.updated_at.push_str(ts);
        self.control.last_event_idx = idx;
        self.events_applied += 1;
    }

    /// Whether folding `kind` re-renders the `proj_docs` documents: at milestones (the
    /// run's creation, each session's start and end, control, faults), not for the
    /// per-trial events that make up almost every transaction. Rendering the three
    /// documents (the aggregates one grows with the variants) per transaction was most
    /// of the coordinator's commit cost, for tables nothing in labj reads: `status`,
    /// `inspect` and `replay` render from the fold. The stored documents say which prefix
    /// they describe (`run_control_v2.last_event_idx`); `verify` compares them with a
    /// fold of that prefix.
    pub fn renders_docs(kind: &str) -> bool {
        !matches!(
            kind,
            "trial_dispatched"
                | "trial_completed"
                | "slot_committed"
                | "slot_skipped_pruned"
                | "completion_dropped"
                | "backend_job_submitted"
        )
    }

    /// Whether slot `schedule_idx` is committed.
    pub(crate) fn is_committed(&self, schedule_idx: u64) -> bool {
        self.progress
            .committed
            .get(schedule_idx as usize)
            .is_some_and(|s| s.is_some())
    }

    /// Index of the last applied event, if any.
    pub fn last_idx(&self) -> Option<u64> {
        self.events_applied.checked_sub(1)
    }

    fn dispatch(&mut self, e: TrialDispatched, ts: &str) -> Result<(), String> {
        let run = self.run.as_ref().expect("checked by check_order");
        let variant = run
            .variant_of(e.schedule_idx)
            .ok_or_else(|| format!("schedule_idx {} out of range", e.schedule_idx))?;
        if variant != e.variant_id {
            return Err(format!(
                "slot {} belongs to variant {variant}, not {}",
                e.schedule_idx, e.variant_id
            ));
        }
        if self.is_committed(e.schedule_idx) {
            return Err(format!("slot {} is already committed", e.schedule_idx));
        }
        if self.control.active_trials.contains_key(&e.trial_id) {
            return Err(format!("trial {} is already active", e.trial_id));
        }
        self.control.active_trials.insert(
            e.trial_id.clone(),
            ActiveTrial {
                trial_id: e.trial_id,
                worker_id: e.worker_id,
                ticket_id: e.ticket_id,
                schedule_idx: e.schedule_idx,
                variant_id: e.variant_id,
                task_id: e.task_id,
                started_at: ts.to_string(),
                control: TrialControlInfo {
                    state: TrialControlState::Running,
                    last_ack: None,
                },
            },
        );
        Ok(())
    }

    fn accept_completion(&mut self, c: TrialCompleted) -> Result<(), String> {
        let active = self
            .control
            .active_trials
            .get(&c.trial_id)
            .ok_or_else(|| format!("trial {} is not active", c.trial_id))?;
        if active.schedule_idx != c.schedule_idx {
            return Err(format!(
                "trial {} was dispatched for slot {}, completion names slot {}",
                c.trial_id, active.schedule_idx, c.schedule_idx
            ));
        }
        self.control.active_trials.remove(&c.trial_id);
        self.pending.insert(c.schedule_idx, c);
        Ok(())
    }
}
