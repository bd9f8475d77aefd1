//! `labj view`: a read-only web viewer of runs (runs, run, trials, trial, compare,
//! report, inspect pages, time travel over the journal, live updates) and its static
//! export. It reads runs only through the engine's read side (`read::report`,
//! `read::inspect`) and the journal's typed reads; it never writes to a run.

pub mod export;
pub mod html;
pub mod pages;
pub mod router;
pub mod server;
pub mod site;
pub mod trajectory;

pub use export::{export, ExportSummary};
pub use server::{serve, ServeConfig, ServeError};
pub use site::Site;
