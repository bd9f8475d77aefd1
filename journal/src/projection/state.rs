//! The state the fold keeps besides the aggregates: what the run was created with, who
//! is running, paused or stopping ([`RunControl`]), and how far commits got
//! ([`ScheduleProgress`]).

use crate::event::{PruningSpec, SlotSpec, SlotStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What the run was created with (from `run_created`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The run's id.
    pub run_id: String,
    /// The experiment's id.
    pub experiment_id: String,
    /// The variants, baseline first.
    pub variant_ids: Vec<String>,
    /// The tasks, in dataset order.
    pub task_ids: Vec<String>,
    /// Every slot, by `schedule_idx`.
    pub schedule: Vec<SlotSpec>,
    /// When a variant is pruned.
    pub pruning: PruningSpec,
    /// The metric the aggregates documents and `fact_trials.primary_metric` report.
    pub primary_metric: Option<String>,
}

impl RunInfo {
    /// The slot at `schedule_idx`, if the schedule has one.
    pub(crate) fn slot(&self, schedule_idx: u64) -> Option<SlotSpec> {
        self.schedule.get(schedule_idx as usize).copied()
    }
    /// The variant id of slot `schedule_idx`.
    pub(crate) fn variant_of(&self, schedule_idx: u64) -> Option<&str> {
        self.slot(schedule_idx)
            .and_then(|s| self.variant_ids.get(s.variant_idx()))
            .map(String::as_str)
    }
}

/// Where the run stands, as its last session-level event left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A session started (or resumed it) and has not ended it. A crashed session leaves
    /// this too: the fold cannot tell, the lease can.
    Running,
    /// Every trial a pause named acknowledged it (`run_paused`).
    Paused,
    /// The session stopped dispatching before the end (`run_interrupted`).
    Interrupted,
    /// Every slot is committed (`run_completed`).
    Completed,
    /// The session ended on an error of labj's own (`run_failed`).
    Failed,
    /// `labj kill` stopped it (`run_killed`).
    Killed,
}

impl RunStatus {
    /// The snake_case name documents and reports use.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Killed => "killed",
        }
    }
}

/// Where an active trial stands with respect to the operator's control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialControlState {
    /// Running (dispatched, resumed, or its worker refused a pause).
    Running,
    /// A pause was requested and its worker has not answered.
    Pausing,
    /// Its worker acknowledged the pause.
    Paused,
    /// A kill or cancel was requested.
    Stopping,
}

/// A worker's last answer to a pause request for a trial (`pause_acked`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAck {
    /// The pause request answered.
    pub request_id: String,
    /// Whether the trial paused.
    pub accepted: bool,
    /// Why it did not, when it did not.
    pub reason: Option<String>,
}

/// An active trial's control state and the worker's last answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialControlInfo {
    /// Where it stands.
    pub state: TrialControlState,
    /// The last `pause_acked` for it, if any.
    pub last_ack: Option<LastAck>,
}

/// A dispatched trial that has not completed (nor been lost) yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveTrial {
    /// The trial's id.
    pub trial_id: String,
    /// The worker running it.
    pub worker_id: String,
    /// Its dispatch ticket.
    pub ticket_id: String,
    /// Its slot.
    pub schedule_idx: u64,
    /// Its variant.
    pub variant_id: String,
    /// Its task.
    pub task_id: String,
    /// Timestamp of its `trial_dispatched` event.
    pub started_at: String,
    /// Where it stands with the operator's control.
    pub control: TrialControlInfo,
}

/// The pause in force or in progress (from `pause_requested`; cleared when every trial
/// resumed or a new session started).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseInfo {
    /// The pause request.
    pub request_id: String,
    /// Its label.
    pub label: Option<String>,
    /// When it was submitted.
    pub requested_at: String,
    /// Who asked.
    pub requested_by: String,
    /// The one trial it named; `None`: the whole run.
    pub trial_id: Option<String>,
}

/// `run_control_v2`: who is running, paused or stopping right now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunControl {
    /// Where the run stands.
    pub status: RunStatus,
    /// Dispatched trials not yet completed, by trial id.
    pub active_trials: BTreeMap<String, ActiveTrial>,
    /// The current pause request, if any.
    pub pause: Option<PauseInfo>,
    /// Trials run at once (`run_created`, then each `concurrency_set`; at least 1).
    pub max_concurrency: u32,
    /// Every `backend_warning` message, in order.
    pub warnings: Vec<String>,
    /// Why the run failed or was interrupted (cleared when a session starts).
    pub last_error: Option<String>,
    /// Timestamp of the last folded event.
    pub updated_at: String,
    /// Idx of the last folded event.
    pub(crate) last_event_idx: u64,
}

/// `schedule_progress_v2`: how far the committer got. Per-slot statuses are kept compact
/// (one byte per slot) because schedules reach 100,000s of slots.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScheduleProgress {
    /// Slots in the schedule.
    pub total_slots: u64,
    /// The next slot to commit: slots commit in schedule order, so every slot before it
    /// is committed and none after it.
    pub next_commit_idx: u64,
    /// Each slot's status once committed (`None` before).
    pub committed: Vec<Option<SlotStatus>>,
    /// Committed slots per status.
    pub by_status: BTreeMap<SlotStatus, u64>,
    /// Variants pruned so far.
    pub pruned_variants: BTreeSet<String>,
    /// Each variant's current pruning streak (see [`PruningSpec`]).
    pub consecutive_failures: BTreeMap<String, u32>,
    /// Attempts of not-yet-committed slots lost to infrastructure faults that spent the
    /// slot's infra-retry budget (`worker_lost` with `retry`, not stopped by a kill).
    pub lost_attempts: BTreeMap<u64, u32>,
}
