//! labj's experiment model: what an experiment says and what each trial is asked to do.
//!
//! Loading and validating experiment files (`experiment`), the schedule of slots, the
//! per-trial spec handed to an executor (`trial`), the input digests `continue` checks
//! (`inputs`), values given at launch (`launch_env`: `--env`, `--env-file`, `--secret-file`), the isolation settings (`isolation`), the JSON Schemas every document and
//! event is checked against (`schemas`), and file access that never follows a link out
//! of its root (`safe_fs`). Nothing here spawns a process or writes a journal.

pub mod contract;
pub mod error;
pub mod experiment;
pub mod ids;
pub mod inputs;
pub mod isolation;
pub mod launch_env;
pub mod safe_fs;
pub mod schemas;
pub mod trial;
