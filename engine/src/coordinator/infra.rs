//! The infra-retry hook: one path for every attempt lost to the machinery.
//!
//! Whatever loses an attempt — `labj continue` finding trials a dead session left
//! behind, a remote worker that stops answering, a Slurm job that died for
//! infrastructure reasons, a backend that cannot start the trial — reports it the same
//! way: a [`TrialCompletion`] whose classification is an infrastructure class
//! (`worker_lost`, `spawn_failure`, `disk_error`), or a
//! [`BackendEvent::Lost`](crate::backend::BackendEvent::Lost). The coordinator
//! then journals `worker_lost` and, while the slot's infra-retry budget lasts,
//! dispatches the slot again as a new attempt; only a slot whose budget is spent is
//! committed with the fault. Infrastructure outcomes never count in success rates,
//! means or failure streaks (see `journal::projection`), so a crash is never a verdict.
//!
//! The decision is a pure function of the journal and the budget ([`InfraRetry::decide`]),
//! and it is journaled (`worker_lost.retry`), so replaying a journal never re-decides.

use super::*;
use journal::projection::{ActiveTrial, RunStatus};

/// The run's infra-retry budget for this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfraRetry {
    /// Dispatches of one slot that may be lost before the slot commits with the fault;
    /// 1 = never re-run lost work (the behaviour of journals from before retries).
    pub max_attempts: u32,
}

impl Default for InfraRetry {
    fn default() -> Self {
        InfraRetry {
            max_attempts: model::trial::DEFAULT_MAX_INFRA_ATTEMPTS,
        }
    }
}

impl InfraRetry {
    /// Lost work is committed at once (`--no-retry-lost`, `max_infra_attempts: 1`).
    pub(crate) fn never() -> Self {
        InfraRetry { max_attempts: 1 }
    }

    /// The budget an experiment asks for, or none at all with `--no-retry-lost`.
    pub(crate) fn for_experiment(exp: &Experiment, no_retry_lost: bool) -> Self {
        if no_retry_lost {
            InfraRetry::never()
        } else {
            InfraRetry {
                max_attempts: exp.retry().infra_attempts(),
            }
        }
    }

    /// The budget recorded in a run's resolved experiment (`run_created.experiment`),
    /// for reports that have the journal but not the experiment file.
    pub fn from_resolved_experiment(experiment: &serde_json::Value) -> Self {
        let max = experiment
            .pointer("/design/policies/retry/max_infra_attempts")
            .and_then(|v| v.as_u64())
            .map(|v| v.clamp(1, u32::MAX as u64) as u32);
        InfraRetry {
            max_attempts: max.unwrap_or(model::trial::DEFAULT_MAX_INFRA_ATTEMPTS),
        }
    }

    /// Whether a lost attempt of `schedule_idx` is dispatched again. `stopped_by_kill`
    /// attempts (the user's `labj kill` / Ctrl-C) do not spend the budget.
    pub(crate) fn decide(
        &self,
        proj: &Projections,
        schedule_idx: u64,
        stopped_by_kill: bool,
    ) -> bool {
        if self.max_attempts <= 1 {
            return false;
        }
        if stopped_by_kill {
            return true;
        }
        let spent = proj
            .progress
            .lost_attempts
            .get(&schedule_idx)
            .copied()
            .unwrap_or(0);
        spent + 1 < self.max_attempts
    }

    /// The `worker_lost` event for an active trial a dead (or killed) session left
    /// behind: what `labj continue` journals before driving the run again.
    pub(crate) fn recover(
        &self,
        proj: &Projections,
        t: &ActiveTrial,
        reason: String,
    ) -> WorkerLost {
        use journal::projection::TrialControlState;
        let stopped_by_kill = proj.control.status == RunStatus::Killed
            && t.control.state == TrialControlState::Stopping;
        let retry = self.decide(proj, t.schedule_idx, stopped_by_kill);
        WorkerLost {
            schedule_idx: t.schedule_idx,
            trial_id: t.trial_id.clone(),
            worker_id: t.worker_id.clone(),
            ticket_id: t.ticket_id.clone(),
            reason: if stopped_by_kill {
                "stopped by labj kill (or Ctrl-C) before it completed".into()
            } else {
                reason
            },
            classification: Classification::WorkerLost,
            retry,
            // Only meaningful on a retry: a committed loss charges nothing further.
            stopped_by_kill: retry && stopped_by_kill,
        }
    }
}

/// What the hook did with a lost attempt.
pub(super) enum Lost {
    /// Journaled as `worker_lost` (re-queued, or committed as lost).
    Journaled,
    /// Budget spent and the backend reported a real outcome (e.g. a spawn failure's
    /// details): it takes the normal commit path.
    Commit(Box<TrialCompletion>),
}

impl Coordinator<'_> {
    /// The hook: an attempt ended by the machinery. Journals `worker_lost` and re-queues
    /// the slot while its budget lasts; otherwise lets the fault commit.
    pub(super) fn on_lost(&mut self, c: TrialCompletion) -> Lost {
        let idx = c.schedule_idx;
        let class = c.outcome.classification;
        debug_assert!(class.is_infra());
        let reason = c
            .outcome
            .error
            .clone()
            .unwrap_or_else(|| format!("{} reported by {}", class.as_str(), c.worker_id));
        if self.opts.infra_retry.decide(&self.proj, idx, false) {
            self.pending.push(Event::WorkerLost(WorkerLost {
                schedule_idx: idx,
                trial_id: c.trial_id.clone(),
                worker_id: c.worker_id.clone(),
                ticket_id: c.ticket_id.clone(),
                reason,
                classification: class,
                retry: true,
                stopped_by_kill: false,
            }));
            self.requeue(idx, &c.trial_id, &c.ticket_id);
            return Lost::Journaled;
        }
        if class != Classification::WorkerLost {
            return Lost::Commit(Box::new(c));
        }
        // Budget spent, nothing but the loss to record: commit it as `worker_lost`.
        self.pending.push(Event::WorkerLost(WorkerLost {
            schedule_idx: idx,
            trial_id: c.trial_id.clone(),
            worker_id: c.worker_id.clone(),
            ticket_id: c.ticket_id.clone(),
            reason,
            classification: class,
            retry: false,
            stopped_by_kill: false,
        }));
        let offer = self.committer.offer(Arrival {
            schedule_idx: idx,
            trial_id: c.trial_id,
            ticket_id: c.ticket_id,
            completion_seq: 0,
            classification: class,
        });
        debug_assert_eq!(offer, Offer::Accepted);
        Lost::Journaled
    }

    /// Put a slot whose attempt was lost back into the dispatch queue.
    fn requeue(&mut self, idx: u64, trial_id: &str, ticket_id: &str) {
        self.committer.release(idx);
        self.undispatched.insert(idx);
        self.lost_tickets.insert(ticket_id.to_string());
        let n = self.redispatches.entry(idx).or_default();
        *n += 1;
        set_aside_trial_dir(
            &self.run_dir,
            trial_id,
            &format!("{}-{n}", self.ticket_prefix),
        );
    }

    /// A completion for a ticket already declared lost (a worker that answered late):
    /// journaled as dropped, never committed over the re-run.
    pub(super) fn is_lost_ticket(&self, ticket_id: &str) -> bool {
        self.lost_tickets.contains(ticket_id)
    }

    /// The ticket of a slot's next dispatch in this session: unique per dispatch, so a
    /// late answer for a lost attempt can never pass for the re-run's.
    pub(super) fn ticket_for(&self, idx: u64) -> String {
        match self.redispatches.get(&idx) {
            None => format!("tk_{}_{}", self.ticket_prefix, idx),
            Some(n) => format!("tk_{}_{}_r{n}", self.ticket_prefix, idx),
        }
    }
}

/// Keep what a lost attempt left in `trials/<trial>/` as `trials/<trial>.lost-<tag>/`
/// (evidence), so the re-run starts from an empty trial directory and nothing of the
/// lost attempt — not even a result it managed to write — is mistaken for the re-run's.
/// Best effort: a missing directory (remote worker, spawn failure) is nothing to keep.
pub(crate) fn set_aside_trial_dir(run_dir: &std::path::Path, trial_id: &str, tag: &str) {
    let dir = journal::RunDir::new(run_dir).trial_dir(trial_id);
    if !dir.exists() {
        return;
    }
    let to = run_dir
        .join("trials")
        .join(format!("{trial_id}.lost-{tag}"));
    if let Err(e) = std::fs::rename(&dir, &to) {
        tracing::warn!(
            "cannot set aside {} of a lost attempt: {e}; the re-run reuses it",
            dir.display()
        );
    }
}
