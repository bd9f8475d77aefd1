//! Dispatch: choosing which slots run next, through the gates.

use super::*;
use journal::projection::RunStatus;

/// How far past `next_commit_idx` dispatch may run ahead, per unit of capacity. Bounds
/// the completions the committer buffers when one slow slot holds the prefix back.
const LOOKAHEAD_PER_SLOT: u64 = 64;
const MIN_LOOKAHEAD: u64 = 1024;

impl Coordinator<'_> {
    /// Dispatch only while running with no pause in progress and no kill under way.
    pub(super) fn may_dispatch(&self) -> bool {
        self.killing.is_none()
            && self.proj.control.status == RunStatus::Running
            && self.proj.control.pause.is_none()
    }

    fn capacity(&self) -> usize {
        (self.proj.control.max_concurrency as usize).min(self.backend.capacity())
    }

    /// Trials dispatched ahead of a free worker, queued on the backend: one per worker
    /// while trials are short (see [`Pace`]), none otherwise.
    fn queue_depth(&mut self, capacity: usize) -> usize {
        let depth = if self.pace.short() {
            capacity.min(self.backend.max_queue_depth())
        } else {
            0
        };
        self.backend.set_queue_depth(depth);
        depth
    }

    /// Whether some undispatched slot belongs to a variant that is not pruned.
    pub(super) fn any_undispatched_runnable(&self) -> bool {
        let run = self.proj.run.as_ref().expect("run");
        self.undispatched.iter().any(|i| {
            !self
                .committer
                .is_pruned(run.schedule[i as usize].variant_idx())
        })
    }

    /// Pick slots in schedule order that pass every gate, journal their dispatch
    /// (pending events) and return them for submission after the append.
    pub(super) fn plan_dispatches(&mut self) -> Vec<TrialDispatch> {
        let capacity = self.capacity();
        let limit = capacity + self.queue_depth(capacity);
        // In-flight includes journaled dispatches still waiting in the backlog.
        let in_use = self.in_flight.len();
        if in_use >= limit {
            return Vec::new();
        }
        if self.budget_run_stopped {
            return Vec::new();
        }
        let mut room = limit - in_use;
        let schedule = &self.proj.run.as_ref().expect("run").schedule;
        let policy = self.experiment.concurrency();
        let per_variant_cap = policy.max_in_flight_per_variant.map(|v| v as usize);
        let horizon = self.committer.next_commit_idx()
            + MIN_LOOKAHEAD.max(LOOKAHEAD_PER_SLOT * capacity as u64);
        let mut chosen: Vec<(u64, SlotSpec)> = Vec::new();
        let frontier = self.committer.next_commit_idx();
        for idx in self.undispatched.range(frontier, horizon) {
            if room == 0 {
                break;
            }
            let slot = schedule[idx as usize];
            let v = slot.variant_idx();
            if self.committer.is_pruned(v) || self.budget_variant_stopped[v] {
                continue;
            }
            if per_variant_cap.is_some_and(|cap| self.per_variant[v] as usize >= cap) {
                continue;
            }
            let chain = (v, slot.task_idx());
            if policy.require_chain_lease && self.chains_busy.contains(&chain) {
                continue;
            }
            self.per_variant[v] += 1;
            if policy.require_chain_lease {
                self.chains_busy.insert(chain);
            }
            chosen.push((idx, slot));
            room -= 1;
        }
        let mut out = Vec::with_capacity(chosen.len());
        for (idx, slot) in chosen {
            self.undispatched.remove(idx);
            let spec = self
                .experiment
                .trial_spec(idx, slot, &self.run_id, &self.run_dir);
            let ticket_id = self.ticket_for(idx);
            let dispatch = TrialDispatch { ticket_id, spec };
            // Placed before it is journaled, so the journal names where it runs.
            let worker_id = self.backend.assign_worker(&dispatch);
            let TrialDispatch { ticket_id, spec } = dispatch;
            self.committer.mark_dispatched(idx, &ticket_id);
            self.in_flight.insert(
                ticket_id.clone(),
                InFlight {
                    schedule_idx: idx,
                    trial_id: spec.trial_id.clone(),
                    variant_idx: slot.variant_idx(),
                    chain: (slot.variant_idx(), slot.task_idx()),
                },
            );
            self.pending.push(Event::TrialDispatched(TrialDispatched {
                schedule_idx: idx,
                trial_id: spec.trial_id.clone(),
                variant_id: spec.variant_id.clone(),
                task_id: spec.task_id.clone(),
                repl_idx: spec.repl_idx,
                worker_id,
                ticket_id: ticket_id.clone(),
            }));
            out.push(TrialDispatch { ticket_id, spec });
        }
        out
    }

    fn backend_worker_id(&self) -> String {
        self.backend.dispatch_worker_id()
    }

    /// Hand journaled dispatches to the backend; capacity refusals stay queued (one
    /// full worker does not hold back dispatches placed on another).
    pub(super) fn submit_backlog(&mut self) {
        let mut deferred = VecDeque::new();
        if !self.backlog.is_empty() {
            self.backend
                .expect_submissions(self.backlog.make_contiguous());
        }
        while let Some(d) = self.backlog.pop_front() {
            match self.backend.submit(d.clone()) {
                Ok(_) => {}
                Err(e) if e.is_retryable() => {
                    tracing::debug!(ticket = %d.ticket_id, "backpressure: {e}");
                    deferred.push_back(d);
                }
                Err(e) => {
                    // The backend will never run it: report it as an infrastructure
                    // fault of this trial through the normal completion path.
                    let c = crate::backend::TrialCompletion {
                        ticket_id: d.ticket_id.clone(),
                        worker_id: self.backend_worker_id(),
                        schedule_idx: d.spec.schedule_idx,
                        trial_id: d.spec.trial_id.clone(),
                        completion_seq: 1,
                        outcome: model::trial::TrialOutcome::infra(
                            Classification::SpawnFailure,
                            e.to_string(),
                        ),
                    };
                    self.on_completion(c);
                }
            }
        }
        self.backlog = deferred;
    }
}

/// How long recent trials took, to decide whether dispatching ahead pays. A worker that
/// finishes a trial otherwise waits for the coordinator's round trip (completion,
/// commit and dispatch journaled in one transaction, then submit) before its next one
/// starts: under a millisecond, which is a large share of a trial only when trials are
/// that short. Long trials keep exactly `max_concurrency` dispatched, so what `status`
/// lists as active is what runs.
#[derive(Debug, Default)]
pub(super) struct Pace {
    /// Exponentially weighted mean of trial durations, ms.
    mean_ms: f64,
    seen: u32,
}

/// Below this mean trial duration (ms) trials are queued ahead.
const SHORT_TRIAL_MS: f64 = 20.0;

impl Pace {
    pub(super) fn observe(&mut self, outcome: &model::trial::TrialOutcome) {
        if outcome.attempts.is_empty() {
            return; // infrastructure outcomes say nothing about the agent's pace
        }
        let d = outcome.duration_ms as f64;
        self.mean_ms = if self.seen == 0 {
            d
        } else {
            0.8 * self.mean_ms + 0.2 * d
        };
        self.seen = self.seen.saturating_add(1);
    }

    fn short(&self) -> bool {
        self.seen >= 8 && self.mean_ms < SHORT_TRIAL_MS
    }
}
