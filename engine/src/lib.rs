//! labj's engine: the experiment model, schedules, the coordinator and its deterministic
//! committer, worker backends and the trial executor.
//!
//! The engine is the only crate that spawns processes. It writes the journal only
//! through the coordinator (see `coordinator`), never from a worker.

pub mod backend;
pub mod committer;
pub mod executor;
pub mod experiment;
pub mod schemas;
pub mod trial;
