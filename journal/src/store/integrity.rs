//! What keeps a damaged or vanished journal from ever ending green.
//!
//! * `FileWatch`: the identity (device, inode) and size of the journal file and its WAL
//!   as the writer opened them. SQLite keeps writing to an open file descriptor even when
//!   the path was deleted, replaced or truncated underneath it, so every append (and the
//!   coordinator at each heartbeat and session end) stats the paths: a missing file, another
//!   inode, or a main file smaller than it was is [`JournalError::Damaged`](super::JournalError).
//!   The main file never shrinks on its own (no `VACUUM`, no `auto_vacuum`). Cost: two
//!   `stat` calls per transaction.
//! * `HeadRecord`: the chain head (last idx and its hash) kept in a sidecar file
//!   (`journal.head`, next to the journal) so a journal whose last events were deleted can
//!   be told from one that never had them. The writer overwrites one of two fixed 64-byte
//!   slots after every commit (a `pwrite`, no fsync, no rename: a few microseconds); each
//!   slot carries a sequence number and a checksum, so a torn write leaves the other slot
//!   valid and a reader takes the valid slot with the highest sequence. After a crash the
//!   record may lag the journal by one transaction, never lead it; under
//!   `synchronous=NORMAL` a power failure may lose the journal's last transactions but
//!   keep the record, which is then reported as the loss it is.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// `journal.head` next to `journal.sqlite`.
pub fn head_path(journal: &Path) -> PathBuf {
    journal.with_extension("head")
}

/// The `journal_meta` key whose presence says this journal keeps a head record.
pub(super) const META_HEAD_RECORD: &str = "head_record";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

fn identity(path: &Path) -> io::Result<(Identity, u64)> {
    let m = std::fs::metadata(path)?;
    Ok((
        Identity {
            dev: m.dev(),
            ino: m.ino(),
        },
        m.len(),
    ))
}

/// The journal file (and its WAL) as this writer knows them.
#[derive(Debug)]
pub(super) struct FileWatch {
    path: PathBuf,
    main: Identity,
    /// Largest size seen: the main file only grows (checkpoints append pages).
    size: u64,
    wal: Option<Identity>,
}

impl FileWatch {
    pub(super) fn new(path: &Path) -> io::Result<FileWatch> {
        let (main, size) = identity(path)?;
        Ok(FileWatch {
            path: path.to_path_buf(),
            main,
            size,
            wal: None,
        })
    }

    /// Whether both watches name the same file (device and inode).
    pub(super) fn same_file(&self, other: &FileWatch) -> bool {
        self.main == other.main
    }

    /// `Err(reason)` when the journal on disk is no longer the file being written.
    pub(super) fn check(&mut self) -> Result<(), String> {
        match identity(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err("the journal file was deleted while this run was writing it".into())
            }
            Err(e) => return Err(format!("cannot stat the journal file: {e}")),
            Ok((id, _)) if id != self.main => {
                return Err(format!(
                    "the journal file was replaced by another file (inode {} → {}) while this run was writing it",
                    self.main.ino, id.ino
                ))
            }
            Ok((_, size)) if size < self.size => {
                return Err(format!(
                    "the journal file was truncated from {} to {size} bytes while this run was writing it",
                    self.size
                ))
            }
            Ok((_, size)) => self.size = size,
        }
        let wal_path = super::sidecar(&self.path, "-wal");
        match (identity(&wal_path), self.wal) {
            (Ok((id, _)), None) => self.wal = Some(id),
            (Ok((id, _)), Some(known)) if id != known => return Err(
                "the journal's write-ahead log (-wal) was replaced while this run was writing it"
                    .into(),
            ),
            (Err(e), Some(_)) if e.kind() == io::ErrorKind::NotFound => return Err(
                "the journal's write-ahead log (-wal) was deleted while this run was writing it"
                    .into(),
            ),
            _ => {}
        }
        Ok(())
    }
}

const SLOT: usize = 64;
const MAGIC: &[u8; 8] = b"LJHEAD01";

/// The chain head recorded outside the events table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Number of events (`last idx + 1`); 0 for an empty journal.
    pub events: u64,
    /// Hash of the last event (zeros when empty).
    pub(crate) hash: [u8; 32],
}

/// Writer side of the head record.
#[derive(Debug)]
pub(super) struct HeadRecord {
    file: File,
    seq: u64,
}

impl HeadRecord {
    /// Opens (creating) the record; continues the sequence of what is already there.
    pub(super) fn open(journal: &Path) -> io::Result<HeadRecord> {
        let path = head_path(journal);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let seq = read_slots(&file)?.map(|(seq, _)| seq).unwrap_or(0);
        Ok(HeadRecord { file, seq })
    }

    pub(super) fn write(&mut self, head: Head) -> io::Result<()> {
        self.seq += 1;
        let mut slot = [0u8; SLOT];
        slot[..8].copy_from_slice(MAGIC);
        slot[8..16].copy_from_slice(&self.seq.to_le_bytes());
        slot[16..24].copy_from_slice(&head.events.to_le_bytes());
        slot[24..56].copy_from_slice(&head.hash);
        let check = blake3::hash(&slot[..56]);
        slot[56..].copy_from_slice(&check.as_bytes()[..8]);
        self.file.write_all_at(&slot, (self.seq % 2) * SLOT as u64)
    }
}

/// Reads the newest valid slot: `Ok(None)` when the file holds none.
fn read_slots(file: &File) -> io::Result<Option<(u64, Head)>> {
    let mut buf = [0u8; 2 * SLOT];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    let mut best: Option<(u64, Head)> = None;
    for slot in buf[..got].chunks_exact(SLOT) {
        if &slot[..8] != MAGIC || blake3::hash(&slot[..56]).as_bytes()[..8] != slot[56..] {
            continue;
        }
        let seq = u64::from_le_bytes(slot[8..16].try_into().expect("8 bytes"));
        let head = Head {
            events: u64::from_le_bytes(slot[16..24].try_into().expect("8 bytes")),
            hash: slot[24..56].try_into().expect("32 bytes"),
        };
        if best.is_none_or(|(s, _)| seq > s) {
            best = Some((seq, head));
        }
    }
    Ok(best)
}

/// Reads the head record of `journal`: `Ok(None)` when there is no file.
pub fn read_head(journal: &Path) -> io::Result<Option<Head>> {
    let path = head_path(journal);
    match File::open(&path) {
        Ok(f) => read_slots(&f)
            .map(|s| s.map(|(_, h)| h))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

/// How the events table compares with the head record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadCheck {
    /// The record names an event the journal has, with the same hash (the journal may be
    /// ahead of it by the transaction a crash interrupted).
    Consistent {
        /// Events the record names.
        recorded: u64,
    },
    /// The journal predates head records (or was never opened for writing by a labj that
    /// keeps one): a truncated tail cannot be ruled out.
    NotKept,
    /// The journal says it keeps a record, but the file is gone or holds no valid slot.
    Missing,
    /// The journal has fewer events than the record: its tail was cut.
    Truncated {
        /// Events the record says were written.
        recorded: u64,
        /// Events the table holds.
        present: u64,
    },
    /// The event at the recorded head has another hash: the history was rewritten.
    Diverged {
        /// The event that differs.
        idx: u64,
    },
}

impl HeadCheck {
    /// Whether a writer may append: the record matches, or there is none to compare.
    pub fn is_ok(&self) -> bool {
        matches!(self, HeadCheck::Consistent { .. } | HeadCheck::NotKept)
    }

    /// A one-line explanation, with what to do about it.
    pub fn describe(&self) -> String {
        match self {
            HeadCheck::Consistent { recorded } => {
                format!("chain head record ({} events) matches", recorded)
            }
            HeadCheck::NotKept => "no chain head record (journal created by an older labj): a truncated tail cannot be detected".into(),
            HeadCheck::Missing => "the chain head record (journal.head) is missing or unreadable although this journal keeps one: a truncated tail cannot be ruled out; restore journal.head from where the run was copied".into(),
            HeadCheck::Truncated { recorded, present } => format!(
                "the journal was truncated: its head record says {recorded} events were written, the events table holds {present} (events {present}..{} are missing); `labj rebuild` cannot restore them, restore the journal from a copy",
                recorded - 1
            ),
            HeadCheck::Diverged { idx } => format!(
                "event {idx} differs from the one the chain head record names: the journal's history was rewritten; restore it from a copy"
            ),
        }
    }
}
