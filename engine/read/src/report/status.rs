//! What `labj status` shows, read from what the journal materializes instead of a fold
//! of every event, so it answers in the same time on a run of any length (a live run
//! is asked over and over): the projections from the newest verified snapshot plus the
//! events after it (at most `journal::store::SNAPSHOT_EVERY`), the failure classes from
//! the fact tables and one completion per class. Equal to the fold of the whole journal
//! (tested against it: `cli/tests/e2e_status_fast.rs`).

use super::failures::{failure_classes_materialized, FailureClass};
use journal::{Journal, JournalError, Projections};
use std::path::Path;

/// What `labj status` reads: the projections and the failure classes, equal to a fold of
/// the whole journal.
#[derive(Debug, Clone)]
pub struct StatusView {
    /// The fold of every event the journal held when it was opened.
    pub projections: Projections,
    /// The failure classes of the slots those events committed.
    pub failures: Vec<FailureClass>,
}

/// The status of the run in `run_dir` whose journal is `journal`.
pub fn status(run_dir: &Path, journal: &Journal) -> Result<StatusView, JournalError> {
    let projections = journal.fold_from_snapshot(None)?.projections;
    // Rows of slots committed after the journal was opened (a live run) are left out:
    // commits happen in schedule order, so `next_commit_idx` is the cut.
    let failures =
        failure_classes_materialized(run_dir, journal, projections.progress.next_commit_idx)?;
    Ok(StatusView {
        projections,
        failures,
    })
}
