//! labj's journal: the append-only, hash-chained SQLite event store of one run, and the
//! projections that are pure folds over its events.
//!
//! [`event`] (the catalogue of event payloads and how they are encoded), [`store`]
//! ([`Journal`]: create, open, append, read back, verify; the lease and control inbox
//! tables; typed reads of the fact tables), [`projection`] ([`Projections`], the fold,
//! and the fact rows it produces) and [`RunDir`] (every path of a run).
//!
//! This crate never spawns a process, never reads the clock inside a fold, and is the
//! only place that knows the database layout (see `migrations/`).

#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod event;
mod hex;
mod materialize;
mod names;
pub mod projection;
mod run_dir;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod upcast;

pub use event::{Event, StoredEvent};
pub use materialize::dump_table;
pub use names::{format_ts, trial_id_of};
pub use projection::Projections;
pub use run_dir::{RunDir, JOURNAL_FILE};
pub use store::{
    Durability, Journal, JournalError, RunCreatedSummary, TrialPage, TrialQuery, TrialSort,
};
