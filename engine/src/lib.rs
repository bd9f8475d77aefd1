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
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod lease;
pub mod progress;
pub mod run;
pub mod signals;
pub mod wire;
pub mod worker;
