//! labj's read side: what a run's journal says, for people and scripts.
//!
//! `report` (committed trials, status, failure classes, logs, the runs list, the
//! statistics of `labj report`), `inspect` (the forensic report of a possibly crashed
//! run), `verdict` (a run's exit code) and `outcome` (the outcome words trials are
//! filtered and labelled by). Everything here only reads a journal.

#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod inspect;
pub mod outcome;
pub mod report;
pub mod verdict;
mod verdict_check;
