//! The experiment model: loading a resolved experiment (v0.5 or v0.4, YAML or JSON),
//! validating it against its JSON Schema and then semantically, reading its JSONL
//! dataset, resolving variants and policies, building the schedule and the per-trial
//! [`TrialSpec`](crate::trial::TrialSpec)s, and describing it for humans.
//!
//! Everything here is pure with respect to a run: loading reads the experiment file, its
//! dataset and the files they name, and writes nothing, except that an agent artifact
//! bundle of the original's current format is unpacked once (by `tar`, keyed by its
//! digest) under the experiment's `.lab/agent_artifacts/`. The coordinator records
//! [`Experiment::resolved_json`] and [`Experiment::digest`] in `run_created`.
//!
//! Flow: [`load`] → (schema) → typed sections → semantic checks → dataset → [`Experiment`].
//! [`check_runnable`] is the release gate `labj run` calls before creating a run.

mod command;
mod dataset;
mod describe;
mod envelope;
mod fields;
mod formats;
mod grader;
pub mod limits;
mod load;
mod metrics;
mod model;
mod policy;
mod schedule;
mod spec;
mod strict;
mod templates;
mod trial_isolation;

#[cfg(test)]
mod tests;

pub use command::{explain_spawn_error, project_root};
pub use dataset::Task;

/// Reads a JSONL dataset file as `dataset.path` is read (all rows, no limit).
pub fn read_dataset_file(path: &std::path::Path) -> Result<Vec<Task>, ExperimentError> {
    dataset::read_dataset(path, None)
}
pub use crate::error::ExperimentError;
pub use describe::{describe, Description};
pub use formats::{SourceFormat, CLEAN_RESULT_PATH, CLEAN_TASK_PATH};
pub use load::{load, load_value, parse_str};
pub use model::{Dataset, Experiment, Variant};
pub use policy::{ConcurrencyPolicy, SchedulingPolicy};
pub use schedule::bounded_draw;

/// The release gate `labj run` calls before anything runs: rejects what labj can
/// describe but cannot run yet (any state policy but `isolate_per_trial`) and programs
/// that cannot start (missing, not executable, not on PATH).
pub fn check_runnable(experiment: &Experiment) -> Result<(), ExperimentError> {
    experiment.release_gate()
}
