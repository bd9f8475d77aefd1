//! The worker boundary: how the coordinator hands trials to workers and hears back.
//!
//! Workers never touch the journal or run state. Everything they report comes back as a
//! [`TrialCompletion`] through [`WorkerBackend::poll_completions`], and only the
//! coordinator decides what it means.
//!
//! A backend that loses an attempt (its worker stopped answering, a batch job died for
//! infrastructure reasons, the trial could not be started) reports it as a completion
//! with an infrastructure classification (or as a [`LostTrial`] event). The
//! coordinator's infra-retry hook (`coordinator::infra`) journals `worker_lost` and
//! dispatches the slot again while the run's budget lasts; a backend never retries
//! lost work itself, and a late answer for a ticket declared lost is dropped.

pub(crate) mod local;
pub mod remote;
pub mod slurm;

use model::trial::{TrialOutcome, TrialSpec};
use std::sync::Arc;
use std::time::Duration;

pub(crate) use local::LocalThreadWorkerBackend;

/// A slot handed to a worker. The ticket id is chosen by the coordinator and journaled
/// in `trial_dispatched` before the worker sees the trial.
#[derive(Debug, Clone)]
pub struct TrialDispatch {
    /// The attempt's ticket: every dispatch of a slot gets a new one.
    pub ticket_id: String,
    /// What to run.
    pub spec: TrialSpec,
}

/// The backend's receipt for an accepted dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerTicket {
    /// The dispatch's ticket, echoed.
    pub ticket_id: String,
    /// Where the trial runs.
    pub worker_id: String,
}

/// What a worker reports when a trial ends.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialCompletion {
    /// The attempt that ended.
    pub ticket_id: String,
    /// Where it ran.
    pub worker_id: String,
    /// Its slot of the schedule.
    pub schedule_idx: u64,
    /// Its trial.
    pub trial_id: String,
    /// Delivery sequence number of this ticket's completion (1 for the first delivery).
    pub completion_seq: u64,
    /// What happened to the trial.
    pub outcome: TrialOutcome,
}

/// A worker's answer to a pause request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerPauseAck {
    /// The attempt asked about.
    pub ticket_id: String,
    /// Where it runs.
    pub worker_id: String,
    /// Whether it is paused now.
    pub accepted: bool,
    /// Why not, when it is not.
    pub reason: Option<String>,
}

/// Why a backend did not accept a dispatch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Backpressure: try again later. Never a run failure.
    #[error("worker capacity reached ({in_flight}/{limit} in flight)")]
    Capacity {
        /// Trials the backend holds.
        in_flight: usize,
        /// The most it holds now.
        limit: usize,
    },
    /// The backend cannot take work at all (quarantined, shut down).
    #[error("worker backend refused the trial: {0}")]
    Fatal(String),
}

impl SubmitError {
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, SubmitError::Capacity { .. })
    }
}

/// A backend that cannot deliver completions any more (the run fails with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("worker backend failed: {0}")]
pub struct BackendError(pub String);

/// A warning the backend wants journaled (e.g. a capacity ceiling below the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendNotice {
    /// What kind of warning (journaled `backend_warning.code`).
    pub code: String,
    /// One line for the person running labj.
    pub message: String,
    /// The value asked for, when the notice is about a capped value.
    pub requested: Option<u32>,
    /// The value in force instead.
    pub effective: Option<u32>,
    /// Blob digests the notice is about (journaled as `backend_warning.digests`).
    pub digests: Vec<String>,
}

/// A trial the backend can no longer deliver (its worker is gone): journaled
/// `worker_lost`, an infrastructure fault, never the agent's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostTrial {
    /// The lost attempt.
    pub ticket_id: String,
    /// Its slot of the schedule.
    pub schedule_idx: u64,
    /// Its trial.
    pub trial_id: String,
    /// The worker that is gone.
    pub worker_id: String,
    /// What happened (journaled; never a secret).
    pub reason: String,
}

/// A delivery the backend refused to pass on (a repeat, or a late completion of a trial
/// already reported lost): journaled `completion_dropped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedCompletion {
    /// The slot the delivery named.
    pub schedule_idx: u64,
    /// The trial it named.
    pub trial_id: String,
    /// The attempt it named.
    pub ticket_id: String,
    /// Its delivery sequence number.
    pub completion_seq: u64,
    /// Why it was refused.
    pub reason: String,
}

/// What a backend reports besides completions, for the coordinator to journal: one
/// type, taken with [`WorkerBackend::take_events`] (each event once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendEvent {
    /// A warning (`backend_warning`).
    Notice(BackendNotice),
    /// An accepted attempt got an id of the backend's own, e.g. a Slurm job id
    /// (`backend_job_submitted`).
    JobSubmitted(journal::event::BackendJobSubmitted),
    /// A trial whose worker is gone (`worker_lost`, through the infra-retry hook).
    Lost(LostTrial),
    /// A delivery refused (`completion_dropped`).
    Dropped(DroppedCompletion),
}

/// Where trials run: the coordinator submits dispatches, polls completions, and asks for
/// pauses and stops; a backend never touches the journal (see the module note).
pub trait WorkerBackend: Send {
    /// How many trials the backend can hold at once right now.
    fn capacity(&self) -> usize;
    /// Raise or lower the capacity the coordinator asks for (backends may cap it).
    fn set_requested_capacity(&mut self, requested: usize);
    /// Trials accepted and not yet delivered back.
    fn in_flight(&self) -> usize;
    /// How many trials beyond [`capacity`](Self::capacity) the backend could accept and
    /// hold queued, each started the moment a running one ends (its worker then waits on
    /// no coordinator round trip). Default: none.
    fn max_queue_depth(&self) -> usize {
        0
    }
    /// Accept up to `depth` (at most [`max_queue_depth`](Self::max_queue_depth)) queued
    /// trials from now on. Queued trials are dispatched (journaled) but run only within
    /// the capacity, and a pause keeps them from starting.
    fn set_queue_depth(&mut self, _depth: usize) {}
    /// `upcoming` are about to be submitted, one after another: a backend whose workers
    /// take long to start may start the ones they need together. Default: nothing.
    fn expect_submissions(&mut self, _upcoming: &[TrialDispatch]) {}
    /// Accept a dispatch (already journaled as `trial_dispatched`), or refuse it.
    fn submit(&mut self, dispatch: TrialDispatch) -> Result<WorkerTicket, SubmitError>;
    /// Wait up to `timeout` for at least one completion, then return what is ready, at
    /// most `max`; the rest stays for the next poll (bounded and lossless).
    fn poll_completions(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<TrialCompletion>, BackendError>;
    /// Pause the attempt `ticket_id` (`label` names the pause); the answer says whether
    /// it is paused.
    fn request_pause(&mut self, ticket_id: &str, label: Option<&str>) -> WorkerPauseAck;
    /// Resume the paused attempt `ticket_id`; the error says why it could not.
    fn request_resume(&mut self, ticket_id: &str) -> Result<(), String>;
    /// Stop the attempt `ticket_id`, for `reason`.
    fn request_stop(&mut self, ticket_id: &str, reason: &str);
    /// Everything to journal besides completions (warnings, job ids, lost trials,
    /// dropped deliveries), each returned once.
    fn take_events(&mut self) -> Vec<BackendEvent>;
    /// The session ends without waiting for the trials still in flight (a kill whose
    /// workers did not stop in time): do not wait for them when shutting down.
    fn abandon(&mut self) {}
    /// The worker id journaled in `trial_dispatched` (before the backend sees the trial).
    fn dispatch_worker_id(&self) -> String {
        format!("local-{}", std::process::id())
    }
    /// Choose where a dispatch will run, before it is journaled; the answer is the
    /// `worker_id` of its `trial_dispatched`.
    fn assign_worker(&mut self, _dispatch: &TrialDispatch) -> String {
        self.dispatch_worker_id()
    }
    /// Why the backend can run nothing more (the run must fail), if so.
    fn fatal(&self) -> Option<String> {
        None
    }
    /// A handle that ends a [`poll_completions`](Self::poll_completions) wait early
    /// (it then returns what is ready, possibly nothing), for backends whose wait can be
    /// interrupted. With one, the coordinator sleeps until its next timer or the next
    /// control request or signal; without, it polls every 50 ms. Default: none.
    fn waker(&self) -> Option<Waker> {
        None
    }
}

/// Ends a coordinator's wait in [`WorkerBackend::poll_completions`] early; cheap to
/// clone, callable from any thread.
#[derive(Clone)]
pub struct Waker(Arc<dyn Fn() + Send + Sync>);

impl Waker {
    /// A waker that calls `f`.
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Self {
        Waker(Arc::new(f))
    }

    /// End the wait under way, or the next one.
    pub fn wake(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

/// Upper bound of completions returned by one poll.
pub(crate) const MAX_DRAIN_PER_POLL: usize = 256;
