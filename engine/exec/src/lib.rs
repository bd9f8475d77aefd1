//! labj's trial execution: runs one trial attempt on this host and reports what
//! happened, never touching the journal.
//!
//! `executor` runs the agent (process group, timeout, output caps, result, grader,
//! evidence into the blob store); `isolation` is how this host isolates it (bubblewrap
//! sandbox, container engine CLI, sweeps so nothing outlives its trial, and the
//! preflight that checks the host can enforce an experiment's settings).

#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod executor;
pub mod isolation;
