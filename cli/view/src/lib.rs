//! `labj view`: a read-only web viewer of runs (runs, run, trials, trial, compare,
//! report, inspect pages, time travel over the journal, live updates) and its static
//! export. It reads runs only through the engine's read side (`read::report`,
//! `read::inspect`) and the journal's typed reads; it never writes to a run.

#![deny(missing_docs)]
#![warn(unreachable_pub)]

mod export;
mod html;
mod pages;
mod router;
mod server;
mod site;
mod trajectory;

pub use export::{export, ExportSummary};
pub use server::{check_listen, serve, ServeConfig, ServeError};
pub use site::{Site, ViewError};
