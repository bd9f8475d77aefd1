//! labj's engine: drives runs over the journal.
//!
//! `run` starts and continues runs (the imperative shell: it creates the journal and
//! journals the session's start); `coordinator` drives a session and journals what
//! happens in it (dispatch, commits in schedule order through the deterministic
//! committer, control requests, budget caps); `backend` is where trials
//! run (threads on this host, Slurm jobs or pilots, remote workers); `worker` is the
//! server side of the remote protocol (`labj worker serve`) and `wire` what crosses the
//! network between them. `control` is the inbox other `labj` processes write to, `lease`
//! keeps one process per run, `progress` is what a session reports to its observer and
//! `budget` what agents spent. Workers never touch the journal.

#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod backend;
pub mod budget;
mod committer;
pub mod control;
pub mod coordinator;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod lease;
pub mod progress;
pub mod run;
mod signals;
pub mod wire;
pub mod worker;
