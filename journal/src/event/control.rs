//! The operator's control of a live run (`labj pause`, `resume`, `kill`, `cancel`,
//! `set --max-concurrency`) and the run-level events it leads to.

use serde::{Deserialize, Serialize};

/// `pause_requested`: `labj pause` asked the run (or one trial) to pause; the trials it
/// names are pausing until their workers answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseRequested {
    /// The control request's id.
    pub request_id: String,
    /// The one trial to pause; absent: every active trial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_id: Option<String>,
    /// The operator's label for the pause (`--label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Who asked (`user@host pid N`).
    pub requested_by: String,
    /// When the request was submitted (RFC 3339 UTC).
    pub requested_at: String,
}

/// `pause_acked`: one worker's answer to a pause request for one of its trials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseAcked {
    /// The pause request answered.
    pub request_id: String,
    /// The trial.
    pub trial_id: String,
    /// The worker that answered.
    pub worker_id: String,
    /// Whether the trial is now paused (otherwise it keeps running).
    pub accepted: bool,
    /// Why the worker refused, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `resume_requested`: `labj resume` thawed paused trials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRequested {
    /// The control request's id.
    pub request_id: String,
    /// The one trial to resume; absent: every paused trial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_id: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// Trials actually thawed by this request.
    #[serde(default)]
    pub resumed_trials: Vec<String>,
}

/// `stop_requested`: `labj kill` or `labj cancel` asked to stop trials; the trials it
/// names are stopping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequested {
    /// The control request's id.
    pub request_id: String,
    /// `kill` (whole run) or `cancel` (one trial).
    pub scope: String,
    /// The trial to cancel (scope `cancel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_id: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// The operator's reason, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `run_paused`: every trial a pause request named acknowledged it; the run is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPaused {
    /// The pause request.
    pub request_id: String,
    /// Its label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The trials now paused.
    pub paused_trials: Vec<String>,
}

/// `run_interrupted`: the session stopped dispatching without finishing the run (a pause
/// some trials refused, a budget cap reached); `continue` picks it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInterrupted {
    /// Why, in words (the run's `last_error` until the next session).
    pub reason: String,
    /// Trials that did not pause and are still running.
    #[serde(default)]
    pub survivors: Vec<String>,
}

/// `run_killed`: `labj kill` stopped the run; its stopped trials are recorded as lost by
/// the next `continue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunKilled {
    /// The kill request.
    pub request_id: String,
    /// The trials that were running and were stopped.
    pub stopped_trials: Vec<String>,
}

/// `labj set --max-concurrency N` on a live run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcurrencySet {
    /// The control request (or `continue-<session>` for `continue --max-concurrency`).
    pub request_id: String,
    /// The new limit (the fold reads 0 as 1).
    pub max_concurrency: u32,
    /// Who asked.
    pub requested_by: String,
}
