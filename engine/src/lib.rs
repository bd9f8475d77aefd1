//! labj's engine: the experiment model, schedules, the coordinator and its deterministic
//! committer, worker backends and the trial executor.
//!
//! The engine is the only crate that spawns processes. It writes the journal only
//! through the coordinator (see `coordinator`), never from a worker.

pub mod backend;
pub mod budget;
pub mod committer;
pub mod control;
pub mod coordinator;
pub mod executor;
pub mod experiment;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod inputs;
pub mod inspect;
pub mod isolation;
pub mod launch_env;
pub mod lease;
pub mod progress;
pub mod report;
pub mod run;
pub mod run_remote;
pub mod safe_fs;
pub mod schemas;
pub mod trial;
pub mod verdict;
mod verdict_check;
pub mod worker;
