//! The coordinator: the single owner of run state and the only journal writer while a
//! session runs (`run` journals what comes before it: the session's start, what
//! `continue` recovers, a backend that cannot start).
//!
//! One loop, used by `labj run` and `labj continue` alike:
//!
//! 1. handle control requests from the inbox (pause, resume, kill, cancel, set);
//! 2. commit what the committer can, then plan dispatches through the gates (global
//!    capacity, per-variant cap, chain lease, pruned variants);
//! 3. append every event of the iteration in one transaction (group commit), and only
//!    then hand the planned trials to the backend (write-ahead: a crash after the append
//!    leaves `trial_dispatched` without completion, which `continue` turns into
//!    `worker_lost`);
//! 4. block on the backend for completions (bounded wait, no busy loop) and feed them to
//!    the `DeterministicCommitter`; attempts lost to infrastructure go through the
//!    infra-retry hook (`infra`) instead. With an alarm (`wake`) the wait lasts until
//!    the loop's next timer, a completion, a control request or a signal; without, at
//!    most 50 ms.

mod budget;
mod control;
mod dispatch;
pub(crate) mod infra;
mod slots;
mod wake;

pub use infra::InfraRetry;

use crate::backend::{TrialCompletion, TrialDispatch, WorkerBackend, MAX_DRAIN_PER_POLL};
use crate::committer::{Arrival, CommitAction, DeterministicCommitter, Offer};
use crate::lease;
use journal::event::*;
pub(crate) use journal::format_ts;
use journal::{trial_id_of, Journal, JournalError, Projections};
use model::experiment::Experiment;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Installs the session's signal handlers (see `signals`): INT, TERM, HUP and
/// QUIT stop the run like `labj kill`, Ctrl-Z pauses it like `labj pause` and stops labj,
/// `fg` resumes it. Without it every signal keeps its default action.
pub fn install_interrupt_handler() -> std::io::Result<()> {
    crate::signals::install()
}

/// How long one poll may block before the loop checks the inbox and heartbeat again,
/// when no alarm wakes it (see `wake`).
const POLL_WAIT: Duration = Duration::from_millis(50);

/// The longest one wait lasts with an alarm (the heartbeat's period bounds it anyway).
const MAX_WAIT: Duration = Duration::from_secs(1);

/// Why a coordinator session stopped before the run ended.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// The journal could not be appended to, or is no longer the file on disk.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The session lost the run's lease (another process took over the run).
    #[error("run lease: {0}")]
    Lease(String),
}

/// Knobs of one coordinator session.
#[derive(Debug, Clone, Default)]
pub(crate) struct CoordinatorOptions {
    /// Print a progress line to stderr every couple of seconds.
    pub progress: bool,
    /// Fault injection for crash tests: SIGKILL this process right after the journal
    /// holds exactly this many events (`LABJ_FAULT_KILL_AFTER_EVENTS`).
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    pub kill_after_events: Option<u64>,
    /// The infra-retry budget of lost attempts (see [`infra`]).
    pub infra_retry: InfraRetry,
    /// Receives progress snapshots (replaces the stderr line when set).
    pub observer: crate::progress::Observer,
    /// The budget caps in force (`session_started.budget`); `None`: no cap.
    pub budget: Option<BudgetLimits>,
}

/// How a coordinator session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Every slot committed (`run_completed`).
    Completed,
    /// The run failed (`run_failed`): its backend can run nothing more, a completion
    /// broke the protocol, or the coordinator stalled with nothing in flight.
    Failed,
    /// Stopped by `labj kill` or a signal (`run_killed`): its running trials were
    /// stopped; `labj continue` records them as `worker_lost` and runs them again.
    Killed,
    /// A budget cap stopped dispatch and nothing runs any more (`run_interrupted`).
    BudgetReached,
}

/// What a coordinator session drives: the run's journal and its projections (the fold
/// of every event in it), the experiment, where the run lives, and this session's id.
pub(crate) struct SessionParts<'a> {
    pub journal: Journal,
    pub projections: Projections,
    pub experiment: &'a Experiment,
    pub run_dir: PathBuf,
    pub session_id: String,
    /// Active trials (by trial id) whose attempts outlived the previous session and that
    /// the backend took over (`continue` on Slurm): in flight from the start.
    pub reattached: Vec<String>,
}

/// Where an in-flight trial sits in the gates.
#[derive(Debug, Clone)]
struct InFlight {
    schedule_idx: u64,
    trial_id: String,
    variant_idx: usize,
    chain: (usize, usize),
}

pub(crate) struct Coordinator<'a> {
    journal: Journal,
    proj: Projections,
    committer: DeterministicCommitter,
    backend: Box<dyn WorkerBackend + 'a>,
    experiment: &'a Experiment,
    run_dir: PathBuf,
    run_id: String,
    session_id: String,
    opts: CoordinatorOptions,
    /// Slots never dispatched (or put back after a lost attempt): one bit per slot.
    undispatched: slots::SlotSet,
    in_flight: HashMap<String, InFlight>,
    per_variant: Vec<u32>,
    chains_busy: BTreeSet<(usize, usize)>,
    /// Dispatches journaled but not yet accepted by the backend (capacity backpressure).
    backlog: VecDeque<TrialDispatch>,
    /// Events of the current iteration, appended together.
    pending: Vec<Event>,
    ticket_prefix: String,
    /// Tickets declared lost in this session (their slot was dispatched again).
    lost_tickets: HashSet<String>,
    /// Re-dispatches per slot in this session (they name the new tickets).
    redispatches: HashMap<u64, u32>,
    /// A kill under way (`labj kill`, Ctrl-C, SIGTERM).
    killing: Option<control::Kill>,
    /// The pause Ctrl-Z made (its request id), resumed by the SIGCONT of `fg`.
    suspended_pause: Option<String>,
    pace: dispatch::Pace,
    last_beat: Instant,
    /// The inbox bell as it stood at the last read of the inbox, and when that was
    /// (`None`: never read).
    inbox_read: Option<(Option<u64>, Instant)>,
    /// When the bell was last looked at.
    bell_looked: Instant,
    last_progress: Instant,
    /// Wakes the loop's waits for control requests and signals (`None`: it polls).
    alarm: Option<wake::Alarm>,
    /// A run-wide budget cap was reached: nothing more is dispatched.
    budget_run_stopped: bool,
    /// Variants whose own cap was reached.
    budget_variant_stopped: Vec<bool>,
}

impl<'a> Coordinator<'a> {
    /// Build a coordinator over a journal whose projections are `parts.projections` (the
    /// fold of the whole journal). Stale active trials must already have been turned into
    /// `worker_lost` by the caller (`labj continue` does it from its recovery plan).
    pub(crate) fn new(
        parts: SessionParts<'a>,
        backend: Box<dyn WorkerBackend + 'a>,
        opts: CoordinatorOptions,
    ) -> Self {
        let SessionParts {
            journal,
            projections: proj,
            experiment,
            run_dir,
            session_id,
            reattached,
        } = parts;
        let run = proj.run.as_ref().expect("journal starts with run_created");
        let run_id = run.run_id.clone();
        let variants = run.variant_ids.len();
        let mut committer = DeterministicCommitter::new(
            run.schedule.iter().map(|s| s.0).collect(),
            variants,
            run.pruning.max_consecutive_failures,
        )
        .counting(run.pruning.counts);
        let consecutive = run
            .variant_ids
            .iter()
            .map(|v| {
                proj.progress
                    .consecutive_failures
                    .get(v)
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        let pruned = run
            .variant_ids
            .iter()
            .map(|v| proj.progress.pruned_variants.contains(v))
            .collect();
        let mut dispatched: Vec<(u64, String)> = proj
            .control
            .active_trials
            .values()
            .map(|t| (t.schedule_idx, t.ticket_id.clone()))
            .collect();
        dispatched.extend(
            proj.pending
                .values()
                .map(|c| (c.schedule_idx, c.ticket_id.clone())),
        );
        let buffered: Vec<Arrival> = proj.pending.values().map(arrival_of).collect();
        committer.restore(
            proj.progress.next_commit_idx,
            consecutive,
            pruned,
            dispatched.clone(),
            buffered,
        );
        let per_variant = |key: Option<&str>| -> Vec<u64> {
            run.variant_ids
                .iter()
                .map(|v| {
                    let a = proj.aggregates.variants.get(v);
                    match key {
                        None => a.map_or(0, |a| a.committed),
                        Some(k) => a
                            .and_then(|a| a.by_classification.get(k).copied())
                            .unwrap_or(0),
                    }
                })
                .collect()
        };
        committer.restore_spawn_failures(
            &per_variant(None),
            &per_variant(Some(Classification::SpawnFailure.as_str())),
        );
        let mut undispatched =
            slots::SlotSet::range_full(proj.progress.next_commit_idx, run.schedule.len() as u64);
        for (i, _) in &dispatched {
            undispatched.remove(*i);
        }
        let ticket_prefix = session_id.chars().rev().take(8).collect::<String>();
        let mut in_flight = HashMap::new();
        let mut per_variant = vec![0; variants];
        let mut chains_busy = BTreeSet::new();
        for trial_id in &reattached {
            let Some(t) = proj.control.active_trials.get(trial_id) else {
                continue;
            };
            let Some(slot) = run.schedule.get(t.schedule_idx as usize) else {
                continue;
            };
            let chain = (slot.variant_idx(), slot.task_idx());
            per_variant[slot.variant_idx()] += 1;
            chains_busy.insert(chain);
            in_flight.insert(
                t.ticket_id.clone(),
                InFlight {
                    schedule_idx: t.schedule_idx,
                    trial_id: t.trial_id.clone(),
                    variant_idx: slot.variant_idx(),
                    chain,
                },
            );
        }
        Coordinator {
            journal,
            committer,
            backend,
            experiment,
            run_dir,
            run_id,
            opts,
            undispatched,
            in_flight,
            per_variant,
            chains_busy,
            backlog: VecDeque::new(),
            pending: Vec::new(),
            ticket_prefix,
            lost_tickets: HashSet::new(),
            redispatches: HashMap::new(),
            killing: None,
            suspended_pause: None,
            pace: dispatch::Pace::default(),
            last_beat: Instant::now(),
            inbox_read: None,
            bell_looked: Instant::now(),
            last_progress: Instant::now(),
            alarm: None,
            budget_run_stopped: false,
            budget_variant_stopped: vec![false; variants],
            session_id,
            proj,
        }
    }

    pub(crate) fn into_parts(self) -> (Journal, Projections) {
        (self.journal, self.proj)
    }

    /// Drive the run until it completes, fails or is killed.
    pub(crate) fn run(&mut self) -> Result<SessionEnd, CoordinatorError> {
        self.take_backend_events();
        // Before the first look at the inbox: a request committed after that look
        // rings a bell already watched.
        self.alarm = self.backend.waker().and_then(|waker| {
            let bell = self.journal.inbox_bell_to_watch()?;
            wake::Alarm::start(&bell, waker)
        });
        loop {
            self.handle_control()?;
            self.take_backend_events();
            if let Some(end) = self.check_end()? {
                return Ok(end);
            }
            if let Some(reason) = self.backend.fatal() {
                return self.fail(reason);
            }
            self.drain_commits();
            self.check_budget()?;
            let planned = if self.may_dispatch() {
                self.plan_dispatches()
            } else {
                Vec::new()
            };
            self.flush()?;
            self.backlog.extend(planned);
            self.submit_backlog();
            self.take_backend_events();
            if self.in_flight.is_empty() && self.backlog.is_empty() && !self.committer.is_done() {
                if self.may_dispatch() && self.budget_stopped_any() {
                    // Nothing runs and a cap holds the rest back (directly, or by
                    // holding the commit order): this session ends here.
                    return self.stop_at_budget();
                }
                if self.may_dispatch() && !self.any_undispatched_runnable() {
                    // Nothing running, nothing to run, nothing to commit: the journal
                    // and the schedule disagree. Fail loudly rather than hang.
                    let msg = format!(
                        "coordinator stalled at slot {} with nothing in flight",
                        self.committer.next_commit_idx()
                    );
                    return self.fail(msg);
                }
                if !self.may_dispatch() && !self.alarmed() {
                    // Paused/interrupted with nothing running: wait for control.
                    std::thread::sleep(POLL_WAIT);
                    self.beat()?;
                    continue;
                }
            }
            // With an alarm, also a paused session with nothing running waits here (for
            // its next timer or a wake). Nothing else with nothing in flight waits: the
            // loop's next turn commits, dispatches or ends the session.
            let paused_idle = self.in_flight.is_empty() && !self.may_dispatch();
            if !self.in_flight.is_empty() || (paused_idle && self.alarmed()) {
                let wait = self.wait_for();
                let completions = match self.backend.poll_completions(wait, MAX_DRAIN_PER_POLL) {
                    Ok(c) => c,
                    Err(e) => return self.fail(e.to_string()),
                };
                for c in completions {
                    if let Some(msg) = self.on_completion(c) {
                        return self.fail(msg);
                    }
                }
            }
            self.beat()?;
            self.progress_line();
        }
    }

    fn check_end(&mut self) -> Result<Option<SessionEnd>, CoordinatorError> {
        if self.killing.is_some() {
            return self.finish_kill();
        }
        if self.committer.is_done() && self.in_flight.is_empty() {
            self.drain_commits();
            // Never claim completion in a journal that is no longer the file on disk.
            self.journal.check_file()?;
            self.pending.push(Event::RunCompleted(RunCompleted {
                committed_slots: self.committer.next_commit_idx(),
            }));
            self.flush()?;
            self.progress_line_force();
            return Ok(Some(SessionEnd::Completed));
        }
        Ok(None)
    }

    fn fail(&mut self, error: String) -> Result<SessionEnd, CoordinatorError> {
        tracing::error!(run = %self.run_id, "{error}");
        self.pending.push(Event::RunFailed(RunFailed { error }));
        self.flush()?;
        Ok(SessionEnd::Failed)
    }

    /// Append this iteration's events in one transaction.
    fn flush(&mut self) -> Result<(), CoordinatorError> {
        self.flush_answering(|_| Vec::new())
    }

    /// Append this iteration's events and write the control answers `answers` computes
    /// from the folded projections, in one transaction.
    fn flush_answering(
        &mut self,
        answers: impl FnOnce(&Projections) -> Vec<journal::store::InboxAnswer>,
    ) -> Result<(), CoordinatorError> {
        if self.pending.is_empty() {
            // Nothing to journal with it (a refusal): the answer alone.
            for a in answers(&self.proj) {
                self.journal.inbox_answer(&a)?;
            }
            return Ok(());
        }
        #[allow(unused_mut)]
        let mut events = std::mem::take(&mut self.pending);
        #[cfg(feature = "fault-injection")]
        if let Some(k) = self.opts.kill_after_events {
            let room = k.saturating_sub(self.journal.len()) as usize;
            if room < events.len() {
                events.truncate(room);
                let ts = now_ts();
                self.journal.append(&mut self.proj, events, &ts)?;
                kill_self();
            }
        }
        let ts = now_ts();
        self.journal
            .append_answering(&mut self.proj, events, &ts, answers)?;
        #[cfg(feature = "fault-injection")]
        if let Some(k) = self.opts.kill_after_events {
            if self.journal.len() >= k {
                kill_self();
            }
        }
        Ok(())
    }

    fn beat(&mut self) -> Result<(), CoordinatorError> {
        if self.last_beat.elapsed() >= lease::HEARTBEAT_EVERY {
            self.last_beat = Instant::now();
            // Between appends too: a deleted or truncated journal stops the run within a
            // heartbeat, not at its next commit.
            self.journal.check_file()?;
            let ours = lease::heartbeat(&self.journal, &self.session_id)?;
            if !ours {
                return Err(CoordinatorError::Lease(
                    "another process took over this run's lease; stopping".into(),
                ));
            }
        }
        Ok(())
    }

    /// Journal what the backend reports besides completions: warnings, ids it gave
    /// attempts, trials it lost (`worker_lost`, an infrastructure fault), deliveries it
    /// dropped.
    pub(super) fn take_backend_events(&mut self) {
        use crate::backend::BackendEvent;
        for e in self.backend.take_events() {
            match e {
                BackendEvent::Notice(n) => self.pending.push(notice_event(n)),
                BackendEvent::JobSubmitted(r) => self.pending.push(Event::BackendJobSubmitted(r)),
                BackendEvent::Lost(l) => {
                    if let Some(fault) = self.on_backend_lost(l) {
                        tracing::error!(run = %self.run_id, "{fault}");
                    }
                }
                BackendEvent::Dropped(d) => {
                    let key = format!(
                        "{}/{}/{}/{}",
                        self.run_id, d.schedule_idx, d.trial_id, d.completion_seq
                    );
                    self.pending
                        .push(Event::CompletionDropped(CompletionDropped {
                            schedule_idx: d.schedule_idx,
                            trial_id: d.trial_id,
                            ticket_id: d.ticket_id,
                            completion_seq: d.completion_seq,
                            dedupe_key: key,
                            reason: d.reason,
                        }));
                }
            }
        }
    }

    /// A trial whose remote worker is gone: through the infra-retry hook, like any
    /// lost attempt (`worker_lost`, re-run while the slot's budget lasts).
    fn on_backend_lost(&mut self, l: crate::backend::LostTrial) -> Option<String> {
        if !self.in_flight.contains_key(&l.ticket_id) {
            return None; // already completed or lost
        }
        self.backlog.retain(|d| d.ticket_id != l.ticket_id);
        let c = TrialCompletion {
            ticket_id: l.ticket_id,
            worker_id: l.worker_id,
            schedule_idx: l.schedule_idx,
            trial_id: l.trial_id,
            completion_seq: 1,
            outcome: model::trial::TrialOutcome::infra(Classification::WorkerLost, l.reason),
        };
        self.on_completion(c)
    }

    /// Judge one completion; returns a protocol fault message to fail the run.
    fn on_completion(&mut self, c: TrialCompletion) -> Option<String> {
        tracing::debug!(
            run = %self.run_id,
            trial = %c.trial_id,
            classification = c.outcome.classification.as_str(),
            "trial completed"
        );
        self.pace.observe(&c.outcome);
        if let Some(f) = self.in_flight.remove(&c.ticket_id) {
            self.per_variant[f.variant_idx] -= 1;
            self.chains_busy.remove(&f.chain);
            debug_assert_eq!(f.schedule_idx, c.schedule_idx);
            debug_assert_eq!(f.trial_id, c.trial_id);
        }
        if self.killing.is_some() && c.outcome.classification == Classification::Cancelled {
            // Stopped by `labj kill`: leave the slot active so `continue` records it as
            // worker_lost (and re-runs it) rather than committing a cancellation the
            // user did not ask for.
            return None;
        }
        if self.is_lost_ticket(&c.ticket_id) {
            self.pending
                .push(Event::CompletionDropped(CompletionDropped {
                    schedule_idx: c.schedule_idx,
                    dedupe_key: format!(
                        "{}/{}/{}/{}",
                        self.run_id, c.schedule_idx, c.trial_id, c.completion_seq
                    ),
                    trial_id: c.trial_id,
                    ticket_id: c.ticket_id,
                    completion_seq: c.completion_seq,
                    reason: "the attempt was declared lost and its slot dispatched again".into(),
                }));
            return None;
        }
        let c = if c.outcome.classification.is_infra()
            && self
                .committer
                .is_dispatched_as(c.schedule_idx, &c.ticket_id)
        {
            match self.on_lost(c) {
                infra::Lost::Commit(c) => *c,
                infra::Lost::Journaled => return None,
            }
        } else {
            c
        };
        let arrival = Arrival {
            schedule_idx: c.schedule_idx,
            trial_id: c.trial_id.clone(),
            ticket_id: c.ticket_id.clone(),
            completion_seq: c.completion_seq,
            classification: c.outcome.classification,
        };
        match self.committer.offer(arrival.clone()) {
            Offer::Accepted => {
                let mut result = c.outcome;
                result.metrics.retain(|_, v| v.is_finite());
                self.pending.push(Event::TrialCompleted(TrialCompleted {
                    schedule_idx: c.schedule_idx,
                    trial_id: c.trial_id,
                    ticket_id: c.ticket_id,
                    worker_id: c.worker_id,
                    completion_seq: c.completion_seq,
                    result,
                }));
                None
            }
            Offer::Duplicate { reason } => {
                self.pending
                    .push(Event::CompletionDropped(CompletionDropped {
                        schedule_idx: c.schedule_idx,
                        trial_id: c.trial_id,
                        ticket_id: c.ticket_id,
                        completion_seq: c.completion_seq,
                        dedupe_key: arrival.dedupe_key(&self.run_id),
                        reason,
                    }));
                None
            }
            Offer::Fault { message } => Some(format!("protocol fault: {message}")),
        }
    }

    /// Turn the committer's ready prefix into events.
    fn drain_commits(&mut self) {
        let variant_ids = &self.proj.run.as_ref().expect("run").variant_ids;
        let mut events = Vec::new();
        for action in self.committer.drain() {
            let event = match action {
                CommitAction::Commit {
                    schedule_idx,
                    trial_id,
                    status,
                    classification,
                } => Event::SlotCommitted(SlotCommitted {
                    schedule_idx,
                    trial_id,
                    status,
                    classification,
                }),
                CommitAction::SkipPruned {
                    schedule_idx,
                    variant_idx,
                } => {
                    self.undispatched.remove(schedule_idx);
                    Event::SlotSkippedPruned(SlotSkippedPruned {
                        schedule_idx,
                        trial_id: trial_id_of(schedule_idx),
                        variant_id: variant_ids[variant_idx].clone(),
                    })
                }
                CommitAction::Prune {
                    variant_idx,
                    consecutive_failures,
                    at_schedule_idx,
                } => Event::VariantPruned(VariantPruned {
                    variant_id: variant_ids[variant_idx].clone(),
                    consecutive_failures,
                    at_schedule_idx,
                }),
                CommitAction::StopUnspawnable {
                    variant_idx,
                    spawn_failures,
                    at_schedule_idx,
                } => {
                    let variant_id = variant_ids[variant_idx].clone();
                    let message = format!(
                        "variant `{variant_id}` stopped: its first {spawn_failures} trial(s) all \
                         failed to spawn, so its command cannot start (the errors are in the \
                         trial_completed events); its remaining slots are skipped"
                    );
                    tracing::error!("{message}");
                    events.push(Event::BackendWarning(BackendWarning {
                        code: "variant_unspawnable".into(),
                        message,
                        requested: None,
                        effective: None,
                        digests: vec![],
                    }));
                    Event::VariantPruned(VariantPruned {
                        variant_id,
                        consecutive_failures: spawn_failures,
                        at_schedule_idx,
                    })
                }
            };
            events.push(event);
        }
        self.pending.extend(events);
    }

    /// Whether an alarm wakes this session's waits (see `wake`).
    fn alarmed(&self) -> bool {
        self.alarm.as_ref().is_some_and(|a| a.watching())
    }

    /// How long the loop may wait for a completion: [`POLL_WAIT`] without an alarm;
    /// with one, until the loop's next timer (heartbeat, inbox fallback read, progress
    /// line, kill deadline), at most [`MAX_WAIT`].
    fn wait_for(&self) -> Duration {
        if !self.alarmed() {
            return POLL_WAIT;
        }
        let left = |every: Duration, since: Instant| every.saturating_sub(since.elapsed());
        let mut wait = MAX_WAIT.min(left(lease::HEARTBEAT_EVERY, self.last_beat));
        if let Some((_, read)) = self.inbox_read {
            wait = wait.min(left(control::INBOX_READ_EVERY, read));
        }
        if let Some(every) = self.progress_every().filter(|_| self.progress_ticks()) {
            wait = wait.min(left(every, self.last_progress));
        }
        if let Some(kill) = self.kill_deadline_in() {
            wait = wait.min(kill);
        }
        wait.max(Duration::from_millis(1))
    }

    /// Whether the progress line is refreshed while nothing changes (a clock on a
    /// terminal, the bare line's period) or only on the loop's turns.
    fn progress_ticks(&self) -> bool {
        self.opts.observer.ticks() || (!self.opts.observer.is_set() && self.opts.progress)
    }

    /// At most how often the progress line is refreshed, if there is one.
    fn progress_every(&self) -> Option<Duration> {
        // An observer renders (and throttles) itself; the bare line is for embedders.
        if self.opts.observer.is_set() {
            Some(Duration::from_millis(100))
        } else if self.opts.progress {
            Some(Duration::from_secs(2))
        } else {
            None
        }
    }

    fn progress_line(&mut self) {
        if self
            .progress_every()
            .is_some_and(|every| self.last_progress.elapsed() >= every)
        {
            self.progress_line_force();
        }
    }

    fn progress_line_force(&mut self) {
        if self.opts.observer.is_set() {
            self.last_progress = Instant::now();
            let snap =
                crate::progress::ProgressSnapshot::of(&self.proj, self.in_flight.len() as u64);
            self.opts.observer.progress(&snap);
            return;
        }
        if !self.opts.progress {
            return;
        }
        self.last_progress = Instant::now();
        let a = &self.proj.aggregates.overall;
        let spend = crate::budget::spend(&self.proj);
        let line = format!(
            "{}/{} slots committed ({} succeeded, {} failed, {} skipped, {} infra), {} re-run after infra faults, {} in flight{}",
            self.committer.next_commit_idx(),
            self.committer.total(),
            a.succeeded,
            a.unsuccessful(),
            a.skipped_pruned,
            a.infra,
            a.infra_retried,
            self.in_flight.len(),
            spend.note()
        );
        self.opts.observer.notice(&self.run_id, &line);
    }
}

fn arrival_of(c: &TrialCompleted) -> Arrival {
    Arrival {
        schedule_idx: c.schedule_idx,
        trial_id: c.trial_id.clone(),
        ticket_id: c.ticket_id.clone(),
        completion_seq: c.completion_seq,
        classification: c.classification,
    }
}

pub(crate) fn notice_event(n: crate::backend::BackendNotice) -> Event {
    Event::BackendWarning(BackendWarning {
        code: n.code,
        message: n.message,
        requested: n.requested,
        effective: n.effective,
        digests: n.digests,
    })
}

/// RFC 3339 UTC with milliseconds, from the system clock (informational only).
pub fn now_ts() -> String {
    let ms = lease::now_ms();
    format_ts(ms)
}

#[cfg(feature = "fault-injection")]
fn kill_self() -> ! {
    // Fault injection only: die exactly like `kill -9` would, with no cleanup.
    let _ = signal_hook::low_level::raise(libc::SIGKILL);
    std::process::abort()
}
