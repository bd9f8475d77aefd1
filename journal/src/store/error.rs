//! The journal's error type: every way opening, reading or appending can fail, each
//! naming the file concerned.

use crate::event::DecodeError;
use crate::projection::FoldError;
use std::path::PathBuf;

/// Why the journal could not be opened, read or appended to. Every variant names a path,
/// so the message says which run is concerned.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite refused an operation (locked past the busy timeout, I/O error, constraint).
    #[error("journal {path}: {source}")]
    Sqlite {
        /// The journal file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The schema was written by a newer labj: opening it is refused, never guessed at.
    #[error("journal {path} has schema version {found}, newer than this labj understands ({supported}); upgrade labj to open it")]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// The file's schema version.
        found: u32,
        /// The newest this labj reads ([`SCHEMA_VERSION`](super::SCHEMA_VERSION)).
        supported: u32,
    },
    /// There is no file at the path.
    #[error("journal {path} does not exist")]
    Missing {
        /// The journal file.
        path: PathBuf,
    },
    /// A SQLite database without a journal's schema (`user_version` 0).
    #[error("{path} is not an initialized labj journal (still being created by `labj run`, or not a journal at all)")]
    NotInitialized {
        /// The journal file.
        path: PathBuf,
    },
    /// Not a SQLite database at all.
    #[error("{path} is not a labj journal: not a database (another kind of file, or damaged beyond its header)")]
    NotADatabase {
        /// The journal file.
        path: PathBuf,
    },
    /// A file could not be read, written or renamed.
    #[error("journal {path}: {source}")]
    Io {
        /// That file: the journal, its chain head record or its `-wal`.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// [`Journal::create`](super::Journal::create) or [`Journal::create_with`](super::Journal::create_with) found a file at the path.
    #[error("journal {path} already exists")]
    Exists {
        /// The journal file.
        path: PathBuf,
    },
    /// A stored event does not decode.
    #[error("journal {path}: event {idx}: {source}")]
    Decode {
        /// The journal file.
        path: PathBuf,
        /// The event's idx.
        idx: u64,
        /// Why it does not decode.
        #[source]
        source: DecodeError,
    },
    /// The events do not fold: one refers to state that does not exist.
    #[error("journal {path}: {source}")]
    Fold {
        /// The journal file.
        path: PathBuf,
        /// The event and why.
        #[source]
        source: FoldError,
    },
    /// An event's stored hash is not the chain hash of its content over its predecessor's
    /// (edited, inserted, deleted or reordered events).
    #[error("journal {path}: hash chain broken at event {idx}: {reason}")]
    Chain {
        /// The journal file.
        path: PathBuf,
        /// The first event that does not chain.
        idx: u64,
        /// What does not match.
        reason: String,
    },
    /// The journal file is no longer the one being written (deleted, replaced,
    /// truncated), or its chain head record says events are missing.
    #[error("journal {path} is damaged: {reason}")]
    Damaged {
        /// The journal file.
        path: PathBuf,
        /// What is wrong, with what to do about it.
        reason: String,
    },
    /// Another process appended since this handle last did: a second writer.
    #[error("journal {path}: another process appended to it (it ends at event {found}, this process expected {expected}); another labj is driving this run, so this one stops without writing")]
    Concurrent {
        /// The journal file.
        path: PathBuf,
        /// The last idx this handle wrote (`none` before any).
        expected: String,
        /// The last idx in the file.
        found: String,
    },
    /// The append guard (the run lease) refused: this process is no longer the writer.
    #[error("journal {path}: not appending: {reason}")]
    NotWriter {
        /// The journal file.
        path: PathBuf,
        /// Who holds the lease now, or that nobody does.
        reason: String,
    },
    /// [`Journal::fold`](super::Journal::fold) was asked to stop at an event the journal does not have.
    #[error("journal {path}: event idx {idx} is past the end (last idx is {last})")]
    PastEnd {
        /// The journal file.
        path: PathBuf,
        /// The idx asked for.
        idx: u64,
        /// The journal's last idx, or why there is none.
        last: String,
    },
}

/// A result whose error is a [`JournalError`].
pub(crate) type Result<T, E = JournalError> = std::result::Result<T, E>;
