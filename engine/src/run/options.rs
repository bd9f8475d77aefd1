//! What `labj run` and `labj continue` are asked for besides the experiment or run: the
//! options and where trials execute.

use super::{RemoteOptions, RunError};
use journal::Durability;
use std::path::PathBuf;

/// What `labj run` and `labj continue` were asked for, besides the experiment or run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where runs live (`<project>/.lab/runs`); a new run gets a directory here.
    pub runs_dir: PathBuf,
    /// `--max-concurrency`: at most this many trials at once (`None`: the experiment's).
    pub max_concurrency: Option<u32>,
    /// Print the coordinator's progress line to stderr when no observer is set.
    pub progress: bool,
    /// How hard the journal syncs its writes (`--durable`: every commit to disk).
    pub durability: Durability,
    /// Where trials execute; `None` = `local` for `run`, the run's own for `continue`.
    pub executor: Option<ExecutorKind>,
    /// `--slurm-partition` (Slurm executor only).
    pub slurm_partition: Option<String>,
    /// `--slurm-arg` values, passed to every `sbatch` (Slurm executor only).
    pub slurm_args: Vec<String>,
    /// `--slurm-workers N`: at most N long-lived pilot worker jobs instead of one job
    /// per trial attempt (Slurm executor only).
    pub slurm_workers: Option<u32>,
    /// `--container-engine` (docker, podman or a path); `None`: `LABJ_CONTAINER_ENGINE`,
    /// else whichever is on PATH.
    pub container_engine: Option<String>,
    /// Commit lost attempts as `worker_lost` instead of re-running them (budget 1).
    pub no_retry_lost: bool,
    /// `--remote-endpoint`/`--remote-token-env` (remote executor only).
    pub remote: RemoteOptions,
    /// `continue` only: accept inputs that changed since the run was created (journaled
    /// in `session_started.inputs_changed`) instead of refusing them.
    pub allow_changed_inputs: bool,
    /// `continue --budget KEY=VALUE`: caps set, raised or removed (`none`) from this
    /// session on (see `crate::budget::apply_override`).
    pub budget_overrides: Vec<String>,
    /// Told the run id before any trial, then progress and notices (the CLI's display).
    pub observer: crate::progress::Observer,
}

impl RunOptions {
    /// The one check of the options `run` and `continue` share: both refuse the same
    /// values with the same error, and nothing refused here ever reaches the journal
    /// (where it would make `verify` fail).
    pub(crate) fn validate(&self) -> Result<(), RunError> {
        if self.max_concurrency == Some(0) {
            return Err(RunError::Invalid(
                "--max-concurrency must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Where a run's trials execute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Threads of this process on this machine.
    #[default]
    Local,
    /// One Slurm batch job per trial attempt (`backend::slurm`).
    Slurm,
    /// `labj worker serve` endpoints over HTTP (`backend::remote`).
    Remote,
}

impl ExecutorKind {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            ExecutorKind::Local => "local",
            ExecutorKind::Slurm => "slurm",
            ExecutorKind::Remote => "remote",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<ExecutorKind> {
        match s {
            "local" => Some(ExecutorKind::Local),
            "slurm" => Some(ExecutorKind::Slurm),
            "remote" => Some(ExecutorKind::Remote),
            _ => None,
        }
    }
}
