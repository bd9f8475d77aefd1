//! labj's journal: the append-only, hash-chained SQLite event store of one run, and the
//! projections that are pure folds over its events.
//!
//! This crate never spawns a process, never reads the clock inside a fold, and is the
//! only place that knows the database layout (see `migrations/`).

pub mod event;
mod hex;
pub mod materialize;
pub mod projection;
pub mod run_dir;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod upcast;

pub use event::{Event, StoredEvent};
pub use projection::Projections;
pub use run_dir::{RunDir, JOURNAL_FILE};
pub use store::{
    Durability, Journal, JournalError, RunCreatedSummary, TrialPage, TrialQuery, TrialSort,
};
