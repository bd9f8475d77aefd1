//! The layout of a run's directory, owned in one place:
//!
//! ```text
//! <runs>/<run id>/
//!   journal.sqlite   the event journal (and its -wal/-shm while open)
//!   journal.head     the chain head recorded outside the journal (store::integrity)
//!   journal.bell     grows by a byte per control request (store::coord, `inbox_bell`)
//!   blobs/xx/<hex>   content-addressed evidence (results, logs, grades, workspace files)
//!   trials/<trial>/  a trial's working directory while it runs (compacted afterwards)
//! ```
//!
//! Every other crate reaches these paths through [`RunDir`]; none joins them itself.

use crate::store::{Durability, Journal, Result};
use std::path::{Path, PathBuf};

/// File name of a run's journal inside its directory.
pub const JOURNAL_FILE: &str = "journal.sqlite";

/// A run's directory: every path under it, and opening its journal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory at `root` (nothing is checked or created).
    pub fn new(root: impl AsRef<Path>) -> RunDir {
        RunDir {
            root: root.as_ref().to_path_buf(),
        }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `journal.sqlite`.
    pub fn journal_path(&self) -> PathBuf {
        self.root.join(JOURNAL_FILE)
    }

    /// The journal and the files SQLite keeps beside it while it is open.
    pub fn journal_files(&self) -> [PathBuf; 3] {
        [
            self.journal_path(),
            self.root.join(format!("{JOURNAL_FILE}-wal")),
            self.root.join(format!("{JOURNAL_FILE}-shm")),
        ]
    }

    /// `journal.head`, the chain head record.
    pub fn head_path(&self) -> PathBuf {
        crate::store::integrity::head_path(&self.journal_path())
    }

    /// `blobs/`, the content-addressed store.
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// `blobs/xx/<digest>`: where the blob of a 64-hex `digest` lives.
    pub fn blob(&self, digest: &str) -> PathBuf {
        let shard = digest.get(..2).unwrap_or(digest);
        self.blobs().join(shard).join(digest)
    }

    /// `trials/`, the trials' working directories.
    pub fn trials(&self) -> PathBuf {
        self.root.join("trials")
    }

    /// `trials/<trial_id>/`.
    pub fn trial_dir(&self, trial_id: &str) -> PathBuf {
        self.trials().join(trial_id)
    }

    /// Opens the journal for writing (the coordinator's session).
    pub fn open_journal(&self, durability: Durability) -> Result<Journal> {
        Journal::open(&self.journal_path(), durability)
    }

    /// Opens the journal read-only (every reader; never blocks a writer).
    pub fn open_read_only(&self) -> Result<Journal> {
        Journal::open_read_only(&self.journal_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_under_the_root() {
        let d = RunDir::new("/r/x");
        assert_eq!(d.journal_path(), Path::new("/r/x/journal.sqlite"));
        assert_eq!(d.head_path(), Path::new("/r/x/journal.head"));
        assert_eq!(d.blob("abcd"), Path::new("/r/x/blobs/ab/abcd"));
        assert_eq!(d.trial_dir("t1"), Path::new("/r/x/trials/t1"));
    }
}
