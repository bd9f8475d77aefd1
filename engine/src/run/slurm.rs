//! `labj run|continue --executor slurm`: the Slurm options (`--slurm-partition`,
//! `--slurm-arg`, `--slurm-workers`), checked, turned into a backend, and taken from
//! `run_created` on `continue`.

use super::{ExecutorKind, RunError, RunOptions};
use crate::backend::slurm::{SlurmBackend, SlurmConfig};
use journal::event::RunCreated;
use std::path::Path;

/// Slurm options mean nothing to another executor: refuse rather than ignore them.
pub(super) fn check_options(kind: ExecutorKind, opts: &RunOptions) -> Result<(), RunError> {
    if opts.slurm_workers == Some(0) {
        return Err(RunError::Invalid(
            "--slurm-workers (or LABJ_SLURM_WORKERS) must be at least 1".into(),
        ));
    }
    if kind != ExecutorKind::Slurm
        && (opts.slurm_partition.is_some()
            || !opts.slurm_args.is_empty()
            || opts.slurm_workers.is_some())
    {
        return Err(RunError::Invalid(format!(
            "--slurm-partition/--slurm-arg/--slurm-workers (or LABJ_SLURM_PARTITION/LABJ_SLURM_ARGS/LABJ_SLURM_WORKERS) apply to --executor slurm only, and this run uses --executor {}",
            kind.as_str()
        )));
    }
    Ok(())
}

/// The backend submitting this run's jobs (one per attempt, or `--slurm-workers` pilots).
pub(super) fn backend(
    opts: &RunOptions,
    run_dir: &Path,
    run_id: &str,
    capacity: usize,
) -> Result<SlurmBackend, RunError> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let labj_exe = std::env::current_exe().map_err(|e| {
        RunError::Invalid(format!(
            "cannot find the labj binary Slurm jobs should run: {e}"
        ))
    })?;
    let workdir = std::env::current_dir()
        .map_err(|e| RunError::Invalid(format!("cannot read the current directory: {e}")))?;
    let cfg = SlurmConfig {
        partition: opts.slurm_partition.clone(),
        extra_args: opts.slurm_args.clone(),
        labj_exe,
        run_dir: abs(run_dir),
        workdir,
        run_id: run_id.to_string(),
        workers: opts.slurm_workers.map(|n| n as usize),
    };
    SlurmBackend::new(cfg, capacity)
        .map_err(|e| RunError::Invalid(format!("--executor slurm: {e}")))
}

/// `continue` of a Slurm run: the options recorded at creation, where none is given.
pub(super) fn recorded(o: &mut RunOptions, created: &RunCreated) {
    if o.slurm_partition.is_none() {
        o.slurm_partition = created.options["slurm_partition"]
            .as_str()
            .map(String::from);
    }
    if o.slurm_workers.is_none() {
        o.slurm_workers = created.options["slurm_workers"]
            .as_u64()
            .map(|n| n.min(u64::from(u32::MAX)) as u32);
    }
    if o.slurm_args.is_empty() {
        if let Some(a) = created.options["slurm_args"].as_array() {
            o.slurm_args = a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
        }
    }
}
