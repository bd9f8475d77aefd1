//! labj's experiment model: what an experiment says and what each trial is asked to do.
//!
//! Loading and validating experiment files and building their schedule (`experiment`),
//! the per-trial spec handed to an executor (`trial`), the input digests `continue`
//! checks (`inputs`), values given at launch (`launch_env`: `--env`, `--env-file`,
//! `--secret-file`), the isolation settings (`isolation`), the JSON Schemas every
//! document and event is checked against (`schemas`), and reading files labj does not
//! control without blocking or reading without bound (`safe_fs`). Nothing here writes a
//! journal, and the only process it starts is `tar`, unpacking an agent artifact bundle
//! (the original's current format) when the experiment loads.

#![deny(missing_docs)]
#![warn(unreachable_pub)]

mod contract;
mod error;
pub mod experiment;
mod ids;
pub mod inputs;
pub mod isolation;
pub mod launch_env;
pub mod safe_fs;
pub mod schemas;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod trial;
