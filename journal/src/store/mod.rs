//! The SQLite event store of one run.
//!
//! Durability: WAL mode. By default `synchronous=NORMAL`: a committed transaction survives
//! a crash of the labj process (SIGKILL, panic) but the last transactions may be lost on
//! power failure; the database is never corrupted either way. [`Durability::Full`]
//! fsyncs every commit for power-loss durability at a large throughput cost.

use crate::event::{Event, StoredEvent};
mod coord;
mod error;
mod facts;
mod hash_many;
pub mod integrity;
mod pages;
pub mod query;
mod read;
mod schema;
mod snapshot;

use schema::MIGRATIONS;
pub use schema::SCHEMA_VERSION;
pub use snapshot::{SnapshotFold, SnapshotInfo, SNAPSHOT_EVERY};

pub use coord::{InboxAnswer, InboxRow, InboxState, LeaseRow, LeaseTake};
pub use facts::UnsuccessfulGroup;
pub use pages::{RunCreatedSummary, TrialPage, TrialQuery, TrialSort};

pub use error::JournalError;
pub(crate) use error::Result;
use integrity::{FileWatch, Head, HeadCheck, HeadRecord};

pub use crate::hex::hex;
use crate::materialize;
use crate::projection::{Changes, FactTrial, Projections};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// How hard a writer's commits are pushed to disk (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync at checkpoints only: survives process crashes.
    #[default]
    Normal,
    /// fsync every commit: survives power loss.
    Full,
}

/// The chain hash of an event: blake3 over the previous event's hash (`prev`, zeros for
/// event 0) and the event's canonical bytes, length-prefixed fields in a fixed order, so no
/// two distinct events share an encoding. This is the `hash` column every event stores.
pub fn chain_hash(
    prev: &[u8; 32],
    idx: u64,
    kind: &str,
    schedule_idx: Option<u64>,
    trial_id: Option<&str>,
    ts: &str,
    payload: &str,
) -> [u8; 32] {
    thread_local! {
        // One buffer per thread, hashed in one call: far cheaper than many small updates.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|buf| {
        let mut b = buf.borrow_mut();
        b.clear();
        chain_message(
            &mut b,
            prev,
            idx,
            kind.as_bytes(),
            schedule_idx,
            trial_id.map(str::as_bytes),
            ts.as_bytes(),
            payload.as_bytes(),
        );
        *blake3::hash(&b).as_bytes()
    })
}

/// Append the bytes [`chain_hash`] hashes for one event to `b`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn chain_message(
    b: &mut Vec<u8>,
    prev: &[u8; 32],
    idx: u64,
    kind: &[u8],
    schedule_idx: Option<u64>,
    trial_id: Option<&[u8]>,
    ts: &[u8],
    payload: &[u8],
) {
    b.extend_from_slice(prev);
    b.extend_from_slice(&idx.to_le_bytes());
    for field in [kind, trial_id.unwrap_or(b""), ts] {
        b.extend_from_slice(&(field.len() as u64).to_le_bytes());
        b.extend_from_slice(field);
    }
    b.push(trial_id.is_some() as u8);
    b.extend_from_slice(&schedule_idx.map(|v| v as i64).unwrap_or(-1).to_le_bytes());
    b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    b.extend_from_slice(payload);
}

/// Result of a full chain check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Events read up to the end or the first bad one.
    pub events: u64,
    /// Hex hash of the last event read.
    pub head_hash: String,
    /// First bad idx and why, or `None` when the chain is intact.
    pub first_bad: Option<(u64, String)>,
}

/// An open journal: one run's event store. A handle from [`Journal::create`],
/// [`Journal::create_with`] or [`Journal::open`] is the run's writer (it appends, checks
/// the file on every append and keeps the chain head record); one from
/// [`Journal::open_read_only`] only reads.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    next_idx: u64,
    last_hash: [u8; 32],
    /// Writers only: the file identity checked on every append.
    watch: Option<FileWatch>,
    /// Writers only: the chain head record updated after every commit.
    head: Option<HeadRecord>,
    /// Writers only: the session whose lease every append checks.
    lease_guard: Option<String>,
    /// `PRAGMA user_version` as opened (a read-only handle never migrates).
    version: u32,
    /// Appends take a projection snapshot when the event count crosses a multiple of
    /// this (0: only at session ends).
    snapshot_every: u64,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("next_idx", &self.next_idx)
            .finish()
    }
}

impl Journal {
    /// Create a new journal file (refuses to overwrite one).
    pub fn create(path: &Path, durability: Durability) -> Result<Journal> {
        if path.exists() {
            return Err(JournalError::Exists { path: path.into() });
        }
        Self::open_writer(path, durability, true)
    }

    /// Create a journal atomically with its first events: everything is written to
    /// `<path>.creating`, checkpointed and closed, and renamed into place. A process killed
    /// while creating leaves no `path` at all (only the `.creating` file), never a
    /// half-initialized journal.
    pub fn create_with(
        path: &Path,
        durability: Durability,
        proj: &mut Projections,
        events: Vec<Event>,
        ts: &str,
    ) -> Result<Journal> {
        if path.exists() {
            return Err(JournalError::Exists { path: path.into() });
        }
        let tmp = creating_path(path);
        for stale in [tmp.clone(), sidecar(&tmp, "-wal"), sidecar(&tmp, "-shm")] {
            let _ = std::fs::remove_file(stale);
        }
        {
            let mut j = Self::open_inner(&tmp, durability, true)?;
            j.conn
                .execute(
                    "INSERT INTO journal_meta (key, value) VALUES (?1, 'journal.head')",
                    [integrity::META_HEAD_RECORD],
                )
                .map_err(|e| sqlerr(&tmp, e))?;
            j.append(proj, events, ts)?;
            // The record names the final path; written before the rename so the journal
            // never exists without it.
            let mut head = HeadRecord::open(path).map_err(|source| JournalError::Io {
                path: integrity::head_path(path),
                source,
            })?;
            head.write(j.head_now())
                .map_err(|source| JournalError::Io {
                    path: integrity::head_path(path),
                    source,
                })?;
            // Stay in WAL mode (switching modes later would need a rollback journal a
            // crash could leave hot); closing the only connection checkpoints the WAL
            // into the file and removes it, so the rename moves a self-contained file.
            j.conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(|e| sqlerr(&tmp, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|source| JournalError::Io {
            path: path.into(),
            source,
        })?;
        Self::open_writer(path, durability, false)
    }

    /// Open an existing journal, upgrading its schema if it is older than this binary.
    pub fn open(path: &Path, durability: Durability) -> Result<Journal> {
        if !path.exists() {
            return Err(JournalError::Missing { path: path.into() });
        }
        Self::open_writer(path, durability, false)
    }

    /// Open for inspection (of a live or crashed run): this handle never writes events,
    /// projections or the schema. The SQLite connection itself is read-write, because a
    /// WAL journal whose writer was killed may lack its `-shm` index or hold a hot
    /// rollback journal, and only a read-write connection can run SQLite's recovery;
    /// a read-only one would fail to open exactly the crashed runs we must inspect.
    /// Closing it does not checkpoint, so the files stay as the crash left them.
    pub fn open_read_only(path: &Path) -> Result<Journal> {
        if !path.exists() {
            return Err(JournalError::Missing { path: path.into() });
        }
        match Self::open_inspect(path) {
            Ok(j) => Ok(j),
            // An archive on read-only storage (or without write permission): SQLite
            // cannot create the WAL index there. A journal closed cleanly has no WAL,
            // so it is read as an immutable file.
            Err(e) if unwritable(&e) => Self::open_immutable(path).map_err(|_| e),
            Err(e) => Err(e),
        }
    }

    fn open_inspect(path: &Path) -> Result<Journal> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlerr(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| sqlerr(path, e))?;
        // Leave the WAL as the crash left it: inspecting must not fold it into the
        // database file on close.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(|e| sqlerr(path, e))?;
        Self::from_conn(conn, path, false, false)
    }

    /// Read-only storage: `immutable=1` tells SQLite no one writes the file, so it needs
    /// no lock and no WAL index. Only used when the journal has no WAL to replay.
    fn open_immutable(path: &Path) -> Result<Journal> {
        let wal = sidecar(path, "-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            return Err(JournalError::Io {
                path: wal,
                source: std::io::Error::other("a write-ahead log is present"),
            });
        }
        let abs = std::path::absolute(path).map_err(|source| JournalError::Io {
            path: path.into(),
            source,
        })?;
        let text = abs.to_str().ok_or_else(|| JournalError::Io {
            path: path.into(),
            source: std::io::Error::other("path is not UTF-8"),
        })?;
        let mut uri = String::from("file:");
        for c in text.chars() {
            match c {
                '?' | '#' | '%' => uri.push_str(&format!("%{:02X}", c as u32)),
                c => uri.push(c),
            }
        }
        uri.push_str("?immutable=1");
        let conn = Connection::open_with_flags(
            &uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlerr(path, e))?;
        Self::from_conn(conn, path, false, false)
    }

    /// Wrap an open connection: check the schema version (a `writer` upgrades an older
    /// one; `create` formats an empty file) and read the chain's tail.
    fn from_conn(conn: Connection, path: &Path, create: bool, writer: bool) -> Result<Journal> {
        let mut j = Journal {
            conn,
            path: path.into(),
            next_idx: 0,
            last_hash: [0; 32],
            watch: None,
            head: None,
            lease_guard: None,
            version: 0,
            snapshot_every: SNAPSHOT_EVERY,
        };
        j.check_version(create, writer)?;
        j.load_tail()?;
        Ok(j)
    }

    fn open_inner(path: &Path, durability: Durability, create: bool) -> Result<Journal> {
        // Only a create may create: opening a journal that vanished must fail, not start
        // an empty database in its place.
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlerr(path, e))?;
        if !create {
            // Look before touching: a file that is not a journal must not be switched
            // to WAL or migrated behind the user's back.
            let version: u32 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| sqlerr(path, e))?;
            if version == 0 {
                return Err(JournalError::NotInitialized { path: path.into() });
            }
        }
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.execute_batch(&format!(
            // A larger auto-checkpoint threshold (64 MiB of WAL) takes most checkpoint
            // fsyncs off the append path; the WAL is checkpointed and removed on close.
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=16384;"
        ))
        .map_err(|e| sqlerr(path, e))?;
        // Room for every statement of the append path (events, facts, docs, lease,
        // inbox, snapshots) so none is evicted and re-parsed (rusqlite's default is 16).
        conn.set_prepared_statement_cache_capacity(64);
        Self::from_conn(conn, path, create, true)
    }

    /// [`open_inner`](Self::open_inner) for a handle that appends.
    fn open_writer(path: &Path, durability: Durability, create: bool) -> Result<Journal> {
        let vanished = |e: JournalError| {
            if path.exists() {
                e
            } else {
                JournalError::Damaged {
                    path: path.into(),
                    reason: "the journal file was deleted while this run was opening it".into(),
                }
            }
        };
        let before = FileWatch::new(path).ok();
        let mut j = Self::open_inner(path, durability, create).map_err(vanished)?;
        j.start_writing().map_err(vanished)?;
        // The file watched from now on must be the one the connection opened.
        if let (Some(b), Some(w)) = (&before, &j.watch) {
            if !b.same_file(w) {
                return Err(JournalError::Damaged {
                    path: path.into(),
                    reason: "the journal file was replaced by another file while this run was opening it".into(),
                });
            }
        }
        Ok(j)
    }

    /// A writer refuses a journal its head record says is damaged, then records the head
    /// and watches the file from here on.
    fn start_writing(&mut self) -> Result<()> {
        let check = self.check_head()?;
        if !check.is_ok() {
            return Err(JournalError::Damaged {
                path: self.path.clone(),
                reason: check.describe(),
            });
        }
        if check == HeadCheck::NotKept {
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO journal_meta (key, value) VALUES (?1, 'journal.head')",
                    [integrity::META_HEAD_RECORD],
                )
                .map_err(|e| sqlerr(&self.path, e))?;
        }
        let io = |source| JournalError::Io {
            path: integrity::head_path(&self.path),
            source,
        };
        let mut head = HeadRecord::open(&self.path).map_err(io)?;
        head.write(self.head_now()).map_err(io)?;
        self.head = Some(head);
        self.watch = Some(
            FileWatch::new(&self.path).map_err(|source| JournalError::Io {
                path: self.path.clone(),
                source,
            })?,
        );
        Ok(())
    }

    fn head_now(&self) -> Head {
        Head {
            events: self.next_idx,
            hash: self.last_hash,
        }
    }

    /// Compares the events table with the chain head record kept outside it.
    pub fn check_head(&self) -> Result<HeadCheck> {
        if self.version < 2 {
            // Schema 1 predates the record (a read-only handle does not upgrade).
            return Ok(HeadCheck::NotKept);
        }
        let kept: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM journal_meta WHERE key = ?1)",
                [integrity::META_HEAD_RECORD],
                |r| r.get(0),
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        if !kept {
            return Ok(HeadCheck::NotKept);
        }
        // The record first, the table second: a writer commits before it updates the
        // record, so a live run is never mistaken for a truncated one.
        let head = match integrity::read_head(&self.path) {
            Ok(Some(h)) => h,
            Ok(None) | Err(_) => return Ok(HeadCheck::Missing),
        };
        let present: u64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM events", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| sqlerr(&self.path, e))? as u64;
        if head.events > present {
            return Ok(HeadCheck::Truncated {
                recorded: head.events,
                present,
            });
        }
        if head.events == 0 {
            return Ok(HeadCheck::Consistent { recorded: 0 });
        }
        let idx = head.events - 1;
        let hash: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT hash FROM events WHERE idx = ?1",
                [idx as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| sqlerr(&self.path, e))?;
        Ok(match hash {
            Some(h) if h.as_slice() == head.hash => HeadCheck::Consistent {
                recorded: head.events,
            },
            Some(_) => HeadCheck::Diverged { idx },
            // A gap below the tail: the chain check reports it in detail.
            None => HeadCheck::Diverged { idx },
        })
    }

    /// Checks that the journal file on disk is still the one this writer appends to
    /// (not deleted, replaced or truncated). Appends check this too; the coordinator also
    /// calls it at heartbeats and before it reports a session's end.
    pub fn check_file(&mut self) -> Result<()> {
        match &mut self.watch {
            Some(w) => w.check().map_err(|reason| JournalError::Damaged {
                path: self.path.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }

    fn load_tail(&mut self) -> Result<()> {
        let tail: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT idx, hash FROM events ORDER BY idx DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| sqlerr(&self.path, e))?;
        if let Some((idx, hash)) = tail {
            let idx = idx as u64;
            self.next_idx = idx + 1;
            self.last_hash = hash
                .as_slice()
                .try_into()
                .map_err(|_| JournalError::Chain {
                    path: self.path.clone(),
                    idx,
                    reason: "stored hash is not 32 bytes".into(),
                })?;
        }
        Ok(())
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of events; the next event gets this idx.
    pub fn len(&self) -> u64 {
        self.next_idx
    }

    /// Whether the journal holds no event.
    pub fn is_empty(&self) -> bool {
        self.next_idx == 0
    }

    /// The raw connection, for the journal crate's own tests and benchmarks only
    /// (feature `testkit`): every table has a typed API.
    #[cfg(feature = "testkit")]
    #[doc(hidden)]
    pub fn raw_conn_for_tests(&self) -> &Connection {
        &self.conn
    }

    /// Take a projection snapshot whenever the number of events crosses a multiple of
    /// `every` (0: only in transactions that end a session). Tests use small values.
    pub fn set_snapshot_every(&mut self, every: u64) {
        self.snapshot_every = every;
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> u32 {
        self.version
    }

    /// Append `events` in one transaction, fold them into `proj` and update the
    /// materialized projections in the same transaction. `proj` must be the fold of
    /// every event already in the journal. On error nothing is written, but `proj` may
    /// have absorbed part of the batch: the caller must treat the error as fatal and
    /// re-fold from the journal.
    pub fn append(
        &mut self,
        proj: &mut Projections,
        events: Vec<Event>,
        ts: &str,
    ) -> Result<Vec<StoredEvent>> {
        self.append_answering(proj, events, ts, |_| Vec::new())
    }

    /// Like [`append`](Self::append), writing the control-inbox answers `answers`
    /// computes from the projections after the fold, in the same transaction: a crash
    /// leaves both the events and the answers, or neither (so a request is never
    /// acted on twice).
    pub fn append_answering(
        &mut self,
        proj: &mut Projections,
        events: Vec<Event>,
        ts: &str,
        answers: impl FnOnce(&Projections) -> Vec<InboxAnswer>,
    ) -> Result<Vec<StoredEvent>> {
        let path = self.path.clone();
        self.check_file()?;
        // IMMEDIATE: the checks below and the inserts happen under the write lock, so no
        // other process can slip an event in between.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sqlerr(&path, e))?;
        // Cached statements: an append runs a dozen of them, parsed once per connection
        // rather than once per append (preparing was a third of an append's CPU).
        let tail: Option<(i64, Vec<u8>)> = tx
            .prepare_cached("SELECT idx, hash FROM events ORDER BY idx DESC LIMIT 1")
            .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .optional()
            .map_err(|e| sqlerr(&path, e))?;
        let expected = self.next_idx.checked_sub(1);
        let found = tail.as_ref().map(|(i, _)| *i as u64);
        if found != expected
            || tail
                .as_ref()
                .is_some_and(|(_, h)| h.as_slice() != self.last_hash)
        {
            let show = |v: Option<u64>| v.map_or("none".to_string(), |i| i.to_string());
            return Err(JournalError::Concurrent {
                path,
                expected: show(expected),
                found: show(found),
            });
        }
        if let Some(session) = &self.lease_guard {
            coord::check_lease(&tx, self.version, session).map_err(|reason| {
                JournalError::NotWriter {
                    path: path.clone(),
                    reason,
                }
            })?;
        }
        let mut stored = Vec::with_capacity(events.len());
        let mut changes = Changes::default();
        let mut ends_session = false;
        let mut idx = self.next_idx;
        let mut prev = self.last_hash;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO events (idx, kind, schedule_idx, trial_id, ts, payload, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(|e| sqlerr(&path, e))?;
            for event in events {
                let payload = event.payload_json();
                let kind = event.kind();
                ends_session |= Projections::ends_session(kind);
                let sidx = event.schedule_idx();
                let hash = chain_hash(&prev, idx, kind, sidx, event.trial_id(), ts, &payload);
                ins.execute(params![
                    idx as i64,
                    kind,
                    sidx.map(|v| v as i64),
                    event.trial_id(),
                    ts,
                    payload,
                    &hash[..]
                ])
                .map_err(|e| sqlerr(&path, e))?;
                let se = StoredEvent {
                    idx,
                    ts: ts.to_string(),
                    event,
                    hash,
                };
                proj.apply(&se, &mut changes)
                    .map_err(|source| JournalError::Fold {
                        path: path.clone(),
                        source,
                    })?;
                stored.push(se);
                prev = hash;
                idx += 1;
            }
        }
        materialize::write(&tx, proj, &changes).map_err(|e| sqlerr(&path, e))?;
        if self.version >= 3
            && idx > self.next_idx
            && (ends_session || snapshot::crosses(self.snapshot_every, self.next_idx, idx))
        {
            // Amortized: one snapshot per `snapshot_every` events (see SNAPSHOT_EVERY).
            snapshot::write(&tx, proj, &prev).map_err(|e| sqlerr(&path, e))?;
        }
        for a in answers(proj) {
            coord::write_answer(&tx, &a).map_err(|e| sqlerr(&path, e))?;
        }
        tx.commit().map_err(|e| sqlerr(&path, e))?;
        self.next_idx = idx;
        self.last_hash = prev;
        let head = self.head_now();
        if let Some(h) = &mut self.head {
            h.write(head).map_err(|source| JournalError::Io {
                path: integrity::head_path(&path),
                source,
            })?;
        }
        Ok(stored)
    }
}

/// Where [`Journal::create_with`] builds a journal before renaming it into place.
pub fn creating_path(path: &Path) -> PathBuf {
    sidecar(path, ".creating")
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// SQLite could not open or write the files (read-only storage, no permission).
fn unwritable(e: &JournalError) -> bool {
    matches!(
        e,
        JournalError::Sqlite { source, .. } if matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied)
        )
    )
}

fn sqlerr(path: &Path, source: rusqlite::Error) -> JournalError {
    if source.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
        // Not SQLite at all (or garbled beyond its header): say so, without SQLite's code.
        return JournalError::NotADatabase { path: path.into() };
    }
    JournalError::Sqlite {
        path: path.into(),
        source,
    }
}
