//! `design`: replications, seed, concurrency and the typed policies (scheduling, retry,
//! pruning, concurrency, state, task boundary).

use super::ExperimentError;
use crate::trial::RetrySpec;
use journal::event::{Classification, PruningSpec, StreakCounts};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The order slots are laid out in (and therefore committed in).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulingPolicy {
    /// for each variant, for each task, for each replication.
    #[default]
    VariantSequential,
    /// for each task, for each variant, for each replication: variants stay paired.
    PairedInterleaved,
    /// the variant-sequential list, shuffled with the pinned seeded algorithm.
    Randomized,
}

impl SchedulingPolicy {
    /// The policy's name as written in `design.policies.scheduling`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SchedulingPolicy::VariantSequential => "variant_sequential",
            SchedulingPolicy::PairedInterleaved => "paired_interleaved",
            SchedulingPolicy::Randomized => "randomized",
        }
    }
}

/// What a trial may inherit from earlier trials. Only `isolate_per_trial` runs today.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StatePolicy {
    #[default]
    IsolatePerTrial,
    PersistPerTask,
    Accumulate,
}

impl StatePolicy {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            StatePolicy::IsolatePerTrial => "isolate_per_trial",
            StatePolicy::PersistPerTask => "persist_per_task",
            StatePolicy::Accumulate => "accumulate",
        }
    }
}

/// `design.policies.concurrency`: limits on which trials may be in flight together, on
/// top of the run's global cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcurrencyPolicy {
    /// At most this many in-flight trials of one variant; `None` = only the global cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight_per_variant: Option<u32>,
    /// One in-flight trial per (variant, chain) at a time.
    #[serde(default)]
    pub require_chain_lease: bool,
}

/// `design.policies.task_boundary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskBoundaryPolicy {
    /// Every task must bring its workspace (`workspace_files` or `mount_references` of a
    /// `task_boundary_v1` row); checked when the dataset is read, naming the first task
    /// without one (the original failed the run at that task's trial).
    #[serde(default)]
    pub(crate) require_workspace_materialization: bool,
}

/// `design.policies.pruning`: at most one of the two limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PruningPolicy {
    /// The original runner's: stop a variant after this many consecutive trials that
    /// produced no answer (agent error, non-zero exit, timeout, no usable result); an
    /// answer, right or wrong, resets the count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_consecutive_failures: Option<u32>,
    /// labj's: stop a variant after this many consecutive unsuccessful trials, wrong
    /// answers included; only a success resets the count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_consecutive_unsuccessful: Option<u32>,
}

impl PruningPolicy {
    /// The pruning the run journals and the committer applies.
    pub(crate) fn spec(&self) -> PruningSpec {
        match (
            self.max_consecutive_failures,
            self.max_consecutive_unsuccessful,
        ) {
            (Some(n), _) => PruningSpec {
                max_consecutive_failures: Some(n),
                counts: StreakCounts::AgentFailures,
            },
            (None, n) => PruningSpec {
                max_consecutive_failures: n,
                counts: StreakCounts::Unsuccessful,
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Policies {
    #[serde(default)]
    pub(crate) scheduling: SchedulingPolicy,
    #[serde(default)]
    pub(crate) retry: RetrySpec,
    #[serde(default)]
    pub(crate) pruning: PruningPolicy,
    #[serde(default)]
    pub(crate) concurrency: ConcurrencyPolicy,
    #[serde(default)]
    pub(crate) state: StatePolicy,
    #[serde(default)]
    pub(crate) task_boundary: TaskBoundaryPolicy,
}

/// The seed when `design.random_seed` is absent (the original runner's).
pub(crate) const DEFAULT_RANDOM_SEED: u64 = 1;

/// `design`. Defaults only matter for partial documents (see `parse_fragment`): the
/// schema requires `replications`, `max_concurrency` and `policies.scheduling` in full
/// experiments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Design {
    #[serde(default = "one")]
    pub(crate) replications: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) random_seed: Option<u64>,
    #[serde(default)]
    pub(crate) shuffle_tasks: bool,
    #[serde(default = "one")]
    pub(crate) max_concurrency: u32,
    #[serde(default)]
    pub(crate) policies: Policies,
}

fn one() -> u32 {
    1
}

impl Default for Design {
    fn default() -> Self {
        Design {
            replications: 1,
            random_seed: None,
            shuffle_tasks: false,
            max_concurrency: 1,
            policies: Policies::default(),
        }
    }
}

impl Design {
    /// Rules the schema cannot state (ranges such as `replications >= 1` are the
    /// schema's). `file` is only used to name the file in errors.
    pub(crate) fn check(&self, file: &Path) -> Result<(), ExperimentError> {
        let p = &self.policies;
        for (i, class) in p.retry.retry_on.iter().enumerate() {
            if class != "infra" && Classification::parse(class).is_none() {
                let known: Vec<&str> = Classification::ALL.iter().map(|c| c.as_str()).collect();
                return Err(ExperimentError::invalid(
                    file,
                    format!("/design/policies/retry/retry_on/{i}"),
                    format!(
                        "unknown retry_on class `{class}`; expected one of: {}, infra",
                        known.join(", ")
                    ),
                ));
            }
        }
        if p.pruning.max_consecutive_failures.is_some()
            && p.pruning.max_consecutive_unsuccessful.is_some()
        {
            return Err(ExperimentError::invalid(
                file,
                "/design/policies/pruning",
                "set either max_consecutive_failures (the original runner's: trials that \
                 produced no answer; an answer, right or wrong, resets the count) or \
                 max_consecutive_unsuccessful (labj's: wrong answers count too), not both",
            ));
        }
        Ok(())
    }

    /// The seed of every seeded permutation: `random_seed`, else 1 (the original runner's
    /// default, so an order stays reproducible without one).
    pub(crate) fn seed(&self) -> u64 {
        self.random_seed.unwrap_or(DEFAULT_RANDOM_SEED)
    }

    /// Whether anything in the schedule is drawn from the seed.
    pub(crate) fn is_seeded(&self) -> bool {
        self.policies.scheduling == SchedulingPolicy::Randomized || self.shuffle_tasks
    }
}
