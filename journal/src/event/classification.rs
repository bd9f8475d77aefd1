//! How a trial ended ([`Classification`]), what its committed slot holds
//! ([`SlotStatus`]), and the pruning policy that counts failures ([`PruningSpec`]): the
//! outcome taxonomy every reader of the journal shares.

use serde::{Deserialize, Serialize};

/// How a trial ended, as the committer and the aggregates see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// The agent's result (or its grader) says the trial succeeded.
    Success,
    /// A graded non-success: the result (outcome `failure` or `missing`) or the grader
    /// says the trial did not succeed.
    Failure,
    /// No verdict from a run that went wrong on the agent's side: it reported an `error`
    /// outcome, left out evidence the experiment requires, or was given inputs the
    /// executor refused.
    Error,
    /// The agent exceeded its timeout and was killed.
    Timeout,
    /// The agent exited with a non-zero status or was killed by a signal.
    AgentExitNonzero,
    /// The agent exited 0 without writing its result file.
    ResultMissing,
    /// The result file is not a usable agent result (unreadable, over its size limit, not
    /// JSON, or not of its schema).
    ResultParseError,
    /// The grader failed or gave no usable grade.
    GradeError,
    /// An operator cancelled the trial (`labj cancel`): neither a verdict nor a fault.
    Cancelled,
    /// Infrastructure: the agent could not be started.
    SpawnFailure,
    /// Infrastructure: the trial directory or blob store could not be written.
    DiskError,
    /// Infrastructure: the worker vanished (recovery after a crash or kill).
    WorkerLost,
    /// The agent was killed for exceeding a declared resource limit (memory). The agent's
    /// own verdict, like `timeout`: not infrastructure, never a success.
    ResourceLimit,
}

impl Classification {
    /// Every classification, in declaration order.
    pub const ALL: [Classification; 13] = [
        Classification::Success,
        Classification::Failure,
        Classification::Error,
        Classification::Timeout,
        Classification::AgentExitNonzero,
        Classification::ResultMissing,
        Classification::ResultParseError,
        Classification::GradeError,
        Classification::Cancelled,
        Classification::SpawnFailure,
        Classification::DiskError,
        Classification::WorkerLost,
        Classification::ResourceLimit,
    ];

    /// The snake_case name journals, fact tables and reports use.
    pub fn as_str(&self) -> &'static str {
        match self {
            Classification::Success => "success",
            Classification::Failure => "failure",
            Classification::Error => "error",
            Classification::Timeout => "timeout",
            Classification::AgentExitNonzero => "agent_exit_nonzero",
            Classification::ResultMissing => "result_missing",
            Classification::ResultParseError => "result_parse_error",
            Classification::GradeError => "grade_error",
            Classification::Cancelled => "cancelled",
            Classification::SpawnFailure => "spawn_failure",
            Classification::DiskError => "disk_error",
            Classification::WorkerLost => "worker_lost",
            Classification::ResourceLimit => "resource_limit",
        }
    }

    /// The classification named `s` (as [`as_str`](Self::as_str) writes it), if any.
    pub fn parse(s: &str) -> Option<Classification> {
        Classification::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Faults of the machinery rather than of the agent: reported apart, retryable as `infra`.
    pub fn is_infra(&self) -> bool {
        matches!(
            self,
            Classification::SpawnFailure | Classification::DiskError | Classification::WorkerLost
        )
    }

    /// Whether this is [`Classification::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Classification::Success)
    }

    /// Whether the outcome is a verdict on the agent: everything but infrastructure
    /// faults and `cancelled` (an operator stopped the trial: a decision about the run,
    /// not the agent's result). Only verdicts count in success rates, metric means and
    /// failure streaks.
    pub fn is_verdict(&self) -> bool {
        !self.is_infra() && !matches!(self, Classification::Cancelled)
    }
}

/// What a committed slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    /// The trial gave a verdict: success or failure.
    Completed,
    /// Any other classification but `worker_lost`.
    Failed,
    /// Not run: its variant was pruned.
    SkippedPruned,
    /// Committed as `worker_lost` (the worker vanished).
    WorkerLost,
}

impl SlotStatus {
    /// The snake_case name the fact tables use.
    pub fn as_str(&self) -> &'static str {
        match self {
            SlotStatus::Completed => "completed",
            SlotStatus::Failed => "failed",
            SlotStatus::SkippedPruned => "skipped_pruned",
            SlotStatus::WorkerLost => "worker_lost",
        }
    }
}

/// Pruning policy as the projections need it (the engine resolves it from the experiment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruningSpec {
    /// Prune a variant once its streak (see [`StreakCounts`]) reaches this many consecutive
    /// commits; `None` disables pruning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_failures: Option<u32>,
    /// What the streak counts (required from `run_created` v2; a v1 payload without it
    /// meant [`StreakCounts::Unsuccessful`], see `upcast.rs`).
    pub counts: StreakCounts,
}

/// Which committed slots grow a variant's pruning streak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreakCounts {
    /// Every non-success verdict, graded failures included; a success resets it
    /// (labj's `pruning.max_consecutive_unsuccessful`).
    #[default]
    Unsuccessful,
    /// Only runs that produced no answer (the agent reported `error`, exited non-zero,
    /// timed out, was killed at its memory limit, or left no usable result); an answer,
    /// right or wrong, resets it (the original runner's `max_consecutive_failures`).
    AgentFailures,
}

impl PruningSpec {
    /// The streak of a variant after one of its slots committed as `c`. Infrastructure
    /// faults and cancellations leave it as it was: a crash is never a verdict, nor is an
    /// operator's cancel.
    pub fn next_streak(&self, streak: u32, c: Classification) -> u32 {
        use Classification as C;
        match self.counts {
            StreakCounts::Unsuccessful if c.is_success() => 0,
            StreakCounts::Unsuccessful if c.is_verdict() => streak + 1,
            StreakCounts::Unsuccessful => streak,
            StreakCounts::AgentFailures => match c {
                C::Success | C::Failure => 0,
                C::Error
                | C::Timeout
                | C::AgentExitNonzero
                | C::ResultMissing
                | C::ResultParseError
                | C::ResourceLimit => streak + 1,
                C::GradeError | C::Cancelled | C::SpawnFailure | C::DiskError | C::WorkerLost => {
                    streak
                }
            },
        }
    }
}
