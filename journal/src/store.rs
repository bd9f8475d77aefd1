//! The SQLite event store of one run.
//!
//! Durability: WAL mode. By default `synchronous=NORMAL`: a committed transaction survives
//! a crash of the labj process (SIGKILL, panic) but the last transactions may be lost on
//! power failure; the database is never corrupted either way. [`Durability::Full`]
//! fsyncs every commit for power-loss durability at a large throughput cost.

use crate::event::{DecodeError, Event, StoredEvent};
use crate::materialize;
use crate::projection::{Changes, FoldError, Projections};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// Ordered migrations; index + 1 is the schema version they bring the database to.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init.sql",
    include_str!("../../migrations/0001_init.sql"),
)];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("journal {path} has schema version {found}, newer than this labj understands ({supported}); upgrade labj to open it")]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("journal {path} does not exist")]
    Missing { path: PathBuf },
    #[error("{path} is not an initialized labj journal (still being created by `labj run`, or not a journal at all)")]
    NotInitialized { path: PathBuf },
    #[error("journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {path} already exists")]
    Exists { path: PathBuf },
    #[error("journal {path}: event {idx}: {source}")]
    Decode {
        path: PathBuf,
        idx: u64,
        #[source]
        source: DecodeError,
    },
    #[error("journal {path}: {source}")]
    Fold {
        path: PathBuf,
        #[source]
        source: FoldError,
    },
    #[error("journal {path}: hash chain broken at event {idx}: {reason}")]
    Chain {
        path: PathBuf,
        idx: u64,
        reason: String,
    },
    #[error("journal {path}: event idx {idx} is past the end (last idx is {last})")]
    PastEnd {
        path: PathBuf,
        idx: u64,
        last: String,
    },
}

pub type Result<T, E = JournalError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync at checkpoints only: survives process crashes.
    #[default]
    Normal,
    /// fsync every commit: survives power loss.
    Full,
}

/// Canonical bytes of an event for the hash chain: length-prefixed fields in a fixed
/// order, so no two distinct events share an encoding.
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
        b.extend_from_slice(prev);
        b.extend_from_slice(&idx.to_le_bytes());
        for field in [
            kind.as_bytes(),
            trial_id.unwrap_or("").as_bytes(),
            ts.as_bytes(),
        ] {
            b.extend_from_slice(&(field.len() as u64).to_le_bytes());
            b.extend_from_slice(field);
        }
        b.push(trial_id.is_some() as u8);
        b.extend_from_slice(&schedule_idx.map(|v| v as i64).unwrap_or(-1).to_le_bytes());
        b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        b.extend_from_slice(payload.as_bytes());
        *blake3::hash(&b).as_bytes()
    })
}

/// Result of a full chain check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub events: u64,
    pub head_hash: String,
    /// First bad idx and why, or `None` when the chain is intact.
    pub first_bad: Option<(u64, String)>,
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
    next_idx: u64,
    last_hash: [u8; 32],
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
        Self::open_inner(path, durability, true)
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
            j.append(proj, events, ts)?;
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
        Self::open_inner(path, durability, false)
    }

    /// Open an existing journal, upgrading its schema if it is older than this binary.
    pub fn open(path: &Path, durability: Durability) -> Result<Journal> {
        if !path.exists() {
            return Err(JournalError::Missing { path: path.into() });
        }
        Self::open_inner(path, durability, false)
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
        Self::from_conn(conn, path, false)
    }

    /// Wrap an open connection: check (and with `migrate`, upgrade) the schema version
    /// and read the chain's tail.
    fn from_conn(conn: Connection, path: &Path, migrate: bool) -> Result<Journal> {
        let mut j = Journal {
            conn,
            path: path.into(),
            next_idx: 0,
            last_hash: [0; 32],
        };
        j.check_version(migrate)?;
        j.load_tail()?;
        Ok(j)
    }

    fn open_inner(path: &Path, durability: Durability, create: bool) -> Result<Journal> {
        let conn = Connection::open(path).map_err(|e| sqlerr(path, e))?;
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
        Self::from_conn(conn, path, create)
    }

    fn check_version(&mut self, migrate: bool) -> Result<()> {
        let found: u32 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| sqlerr(&self.path, e))?;
        if found > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            if !migrate && found == 0 {
                // Not (yet) a journal: refuse rather than silently format it.
                return Err(JournalError::NotInitialized {
                    path: self.path.clone(),
                });
            }
            self.migrate(found)?;
        }
        Ok(())
    }

    fn migrate(&mut self, from: u32) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| sqlerr(&path, e))?;
        for (i, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            tx.execute_batch(sql).map_err(|e| sqlerr(&path, e))?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(|e| sqlerr(&path, e))?;
        }
        tx.commit().map_err(|e| sqlerr(&path, e))
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of events; the next event gets this idx.
    pub fn len(&self) -> u64 {
        self.next_idx
    }

    pub fn is_empty(&self) -> bool {
        self.next_idx == 0
    }

    /// Raw connection for coordination tables (lease, control inbox). Never use it to
    /// write `events` or projection tables.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Mutable raw connection (coordination tables that need their own transactions).
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
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
        self.append_with(proj, events, ts, |_| Ok(()))
    }

    /// Like [`append`](Self::append), running `extra` inside the same transaction (used
    /// to answer control requests atomically with the events they caused).
    pub fn append_with(
        &mut self,
        proj: &mut Projections,
        events: Vec<Event>,
        ts: &str,
        extra: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) -> Result<Vec<StoredEvent>> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| sqlerr(&path, e))?;
        let mut stored = Vec::with_capacity(events.len());
        let mut changes = Changes::default();
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
        extra(&tx).map_err(|e| sqlerr(&path, e))?;
        tx.commit().map_err(|e| sqlerr(&path, e))?;
        self.next_idx = idx;
        self.last_hash = prev;
        Ok(stored)
    }

    /// Stream events `from..=to` (inclusive; `None` = to the end) in idx order.
    /// With `check_chain`, each event's hash is recomputed and a break stops the stream
    /// with [`JournalError::Chain`]; `from` must then be 0 (the chain starts there).
    pub fn for_each_event(
        &self,
        from: u64,
        to: Option<u64>,
        check_chain: bool,
        mut f: impl FnMut(StoredEvent) -> Result<()>,
    ) -> Result<()> {
        self.for_each_raw(from, to, check_chain, |raw| {
            f(decode_raw(&self.path, raw, check_chain)?)
        })
    }

    /// The rows of `events`, chain-checked (when asked) but not decoded.
    fn for_each_raw(
        &self,
        from: u64,
        to: Option<u64>,
        check_chain: bool,
        mut f: impl FnMut(RawRow<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, kind, schedule_idx, trial_id, ts, payload, hash FROM events WHERE idx >= ?1 AND idx <= ?2 ORDER BY idx",
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        let to = to.unwrap_or(i64::MAX as u64).min(i64::MAX as u64);
        let mut rows = stmt
            .query(params![from as i64, to as i64])
            .map_err(|e| sqlerr(&self.path, e))?;
        let mut prev = [0u8; 32];
        let mut expect = from;
        while let Some(row) = rows.next().map_err(|e| sqlerr(&self.path, e))? {
            let idx: i64 = row.get(0).map_err(|e| sqlerr(&self.path, e))?;
            let idx = idx as u64;
            let chain_err = |reason: String| JournalError::Chain {
                path: self.path.clone(),
                idx,
                reason,
            };
            // A column of the wrong storage class is a hand edit: report it at its idx.
            let column = |i: usize, blob: bool| -> Result<rusqlite::types::ValueRef<'_>> {
                use rusqlite::types::ValueRef;
                let v = row.get_ref(i).map_err(|e| sqlerr(&self.path, e))?;
                match (blob, v) {
                    (true, ValueRef::Blob(_)) | (false, ValueRef::Text(_)) => Ok(v),
                    _ => Err(chain_err(format!(
                        "column {} holds {:?}, not {} (edited by hand?)",
                        COLUMNS[i],
                        v.data_type(),
                        if blob { "blob" } else { "text" }
                    ))),
                }
            };
            let utf8 = || chain_err("text column is not valid UTF-8".into());
            let kind = column(1, false)?.as_str().map_err(|_| utf8())?;
            let payload = column(5, false)?.as_str().map_err(|_| utf8())?;
            let ts = column(4, false)?.as_str().map_err(|_| utf8())?;
            let hash_ref = column(6, true)?.as_blob().map_err(|_| utf8())?;
            if check_chain && idx != expect {
                return Err(JournalError::Chain {
                    path: self.path.clone(),
                    idx: expect,
                    reason: format!("event {expect} is missing (next stored idx is {idx})"),
                });
            }
            let hash: [u8; 32] = hash_ref
                .try_into()
                .map_err(|_| chain_err("stored hash is not 32 bytes".into()))?;
            let sidx: Option<i64> = row.get(2).map_err(|e| sqlerr(&self.path, e))?;
            let tid = match row.get_ref(3).map_err(|e| sqlerr(&self.path, e))? {
                rusqlite::types::ValueRef::Null => None,
                v => Some(v.as_str().map_err(|_| utf8())?),
            };
            let sidx = sidx.map(|v| v as u64);
            if check_chain {
                let want = chain_hash(&prev, idx, kind, sidx, tid, ts, payload);
                if want != hash {
                    // Name the most precise fault: a payload that no longer decodes, or
                    // one that disagrees with its own index columns, before a bare hash
                    // mismatch.
                    return Err(match Event::decode(kind, payload) {
                        Err(source) => JournalError::Decode {
                            path: self.path.clone(),
                            idx,
                            source,
                        },
                        Ok(ev) if ev.schedule_idx() != sidx || ev.trial_id() != tid => chain_err(
                            "schedule_idx/trial_id columns disagree with the payload".into(),
                        ),
                        Ok(_) => chain_err(
                            "hash does not match content (edited, reordered or forged event)"
                                .into(),
                        ),
                    });
                }
            }
            prev = hash;
            expect = idx + 1;
            f(RawRow {
                idx,
                kind,
                payload,
                ts,
                hash,
                schedule_idx: sidx,
                trial_id: tid,
            })?;
        }
        Ok(())
    }

    /// Fold `0..=until` into fresh projections on two cores: this thread reads rows and
    /// checks the chain while a second decodes and applies, batch by batch, in order.
    fn fold_parallel(
        &self,
        until: Option<u64>,
        changes: Changes,
    ) -> Result<(Projections, Changes)> {
        const BATCH: usize = 512;
        let (tx, rx) = std::sync::mpsc::sync_channel::<RawBatch>(16);
        let path = self.path.clone();
        std::thread::scope(|scope| {
            let worker = scope.spawn(move || -> Result<(Projections, Changes)> {
                let mut changes = changes;
                let mut proj = Projections::new();
                for batch in rx {
                    for i in 0..batch.rows.len() {
                        let ev = decode_raw(&path, batch.row(i), true)?;
                        proj.apply_owned(ev, &mut changes).map_err(|source| {
                            JournalError::Fold {
                                path: path.clone(),
                                source,
                            }
                        })?;
                    }
                }
                Ok((proj, changes))
            });
            let mut batch = RawBatch::default();
            let mut worker_gone = false;
            let read = self.for_each_raw(0, until, true, |raw| {
                batch.push(&raw);
                if batch.rows.len() == BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
                    // The worker stopped on an error; it reports it below.
                    worker_gone = true;
                    return Err(JournalError::Missing {
                        path: PathBuf::new(),
                    });
                }
                Ok(())
            });
            if read.is_ok() && !batch.rows.is_empty() {
                let _ = tx.send(batch);
            }
            drop(tx);
            let folded = worker
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            match (read, folded) {
                (Ok(()), folded) => folded,
                (Err(_), Err(e)) if worker_gone => Err(e),
                // Both failed: the worker saw every event before the reader's failure,
                // so its error (if any) is the earlier one.
                (Err(r), Err(w)) => Err(if error_idx(&w) <= error_idx(&r) { w } else { r }),
                (Err(r), Ok(_)) => Err(r),
            }
        })
    }

    /// Recompute the whole hash chain.
    pub fn verify_chain(&self) -> Result<ChainReport> {
        let mut n = 0u64;
        let mut head = [0u8; 32];
        match self.for_each_event(0, None, true, |e| {
            n += 1;
            head = e.hash;
            Ok(())
        }) {
            Ok(()) => Ok(ChainReport {
                events: n,
                head_hash: hex(&head),
                first_bad: None,
            }),
            Err(JournalError::Chain { idx, reason, .. }) => Ok(ChainReport {
                events: n,
                head_hash: hex(&head),
                first_bad: Some((idx, reason)),
            }),
            Err(JournalError::Decode { idx, source, .. }) => Ok(ChainReport {
                events: n,
                head_hash: hex(&head),
                first_bad: Some((idx, source.to_string())),
            }),
            Err(e) => Err(e),
        }
    }

    /// Fold events `0..=until` (all when `None`) into fresh projections, checking the
    /// chain as it goes. An `until` past the end is an error naming the last idx.
    pub fn fold(&self, until: Option<u64>) -> Result<Projections> {
        if let Some(u) = until {
            if u >= self.next_idx {
                return Err(JournalError::PastEnd {
                    path: self.path.clone(),
                    idx: u,
                    last: self
                        .next_idx
                        .checked_sub(1)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "none: the journal is empty".into()),
                });
            }
        }
        let (proj, _) = self.fold_parallel(until, Changes::fold_only())?;
        Ok(proj)
    }

    /// Recompute every materialized projection from events, in one transaction.
    pub fn rebuild(&mut self) -> Result<Projections> {
        let path = self.path.clone();
        let (proj, mut changes) = self.fold_parallel(None, Changes::default())?;
        let tx = self.conn.transaction().map_err(|e| sqlerr(&path, e))?;
        materialize::clear(&tx).map_err(|e| sqlerr(&path, e))?;
        changes.docs_dirty = true;
        materialize::write(&tx, &proj, &changes).map_err(|e| sqlerr(&path, e))?;
        tx.commit().map_err(|e| sqlerr(&path, e))?;
        Ok(proj)
    }

    /// Compare materialized tables with a rebuild from events into a scratch in-memory
    /// database. Returns the first difference, or `None` when equal.
    pub fn diff_materialized(&self) -> Result<Option<String>> {
        let proj_rows = {
            let (proj, mut changes) = self.fold_parallel(None, Changes::default())?;
            changes.docs_dirty = true;
            (proj, changes)
        };
        let mem = Connection::open_in_memory().map_err(|e| sqlerr(&self.path, e))?;
        for (_, sql) in MIGRATIONS {
            mem.execute_batch(sql).map_err(|e| sqlerr(&self.path, e))?;
        }
        materialize::write(&mem, &proj_rows.0, &proj_rows.1).map_err(|e| sqlerr(&self.path, e))?;
        materialize::diff(&self.conn, &mem).map_err(|e| sqlerr(&self.path, e))
    }
}

const COLUMNS: [&str; 7] = [
    "idx",
    "kind",
    "schedule_idx",
    "trial_id",
    "ts",
    "payload",
    "hash",
];

/// A stored row before decoding, borrowed from SQLite's row buffer.
struct RawRow<'a> {
    idx: u64,
    kind: &'a str,
    payload: &'a str,
    ts: &'a str,
    hash: [u8; 32],
    schedule_idx: Option<u64>,
    trial_id: Option<&'a str>,
}

/// Rows copied into one buffer per batch, so the reader thread makes one allocation per
/// batch and the decoding thread allocates (and frees) everything else itself.
#[derive(Default)]
struct RawBatch {
    text: String,
    rows: Vec<RawSpan>,
}

struct RawSpan {
    idx: u64,
    hash: [u8; 32],
    schedule_idx: Option<u64>,
    /// Byte ranges in `text`: kind, payload, ts, trial_id (empty range + flag for None).
    ranges: [(u32, u32); 4],
    has_trial_id: bool,
}

impl RawBatch {
    fn push(&mut self, r: &RawRow<'_>) {
        let mut put = |t: &str| {
            let start = self.text.len() as u32;
            self.text.push_str(t);
            (start, self.text.len() as u32)
        };
        let ranges = [
            put(r.kind),
            put(r.payload),
            put(r.ts),
            put(r.trial_id.unwrap_or("")),
        ];
        self.rows.push(RawSpan {
            idx: r.idx,
            hash: r.hash,
            schedule_idx: r.schedule_idx,
            ranges,
            has_trial_id: r.trial_id.is_some(),
        });
    }

    fn row(&self, i: usize) -> RawRow<'_> {
        let sp = &self.rows[i];
        let at = |k: usize| &self.text[sp.ranges[k].0 as usize..sp.ranges[k].1 as usize];
        RawRow {
            idx: sp.idx,
            kind: at(0),
            payload: at(1),
            ts: at(2),
            hash: sp.hash,
            schedule_idx: sp.schedule_idx,
            trial_id: sp.has_trial_id.then(|| at(3)),
        }
    }
}

/// Decode a row; with `check_columns`, its `schedule_idx`/`trial_id` columns must agree
/// with the payload (they are hashed, so a disagreement is an edit).
fn decode_raw(path: &Path, raw: RawRow<'_>, check_columns: bool) -> Result<StoredEvent> {
    let event = Event::decode(raw.kind, raw.payload).map_err(|source| JournalError::Decode {
        path: path.into(),
        idx: raw.idx,
        source,
    })?;
    if check_columns
        && (raw.schedule_idx != event.schedule_idx() || raw.trial_id != event.trial_id())
    {
        return Err(JournalError::Chain {
            path: path.into(),
            idx: raw.idx,
            reason: "schedule_idx/trial_id columns disagree with the payload".into(),
        });
    }
    Ok(StoredEvent {
        idx: raw.idx,
        ts: raw.ts.to_owned(),
        event,
        hash: raw.hash,
    })
}

fn error_idx(e: &JournalError) -> u64 {
    match e {
        JournalError::Chain { idx, .. } | JournalError::Decode { idx, .. } => *idx,
        JournalError::Fold { source, .. } => source.idx,
        _ => u64::MAX,
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

fn sqlerr(path: &Path, source: rusqlite::Error) -> JournalError {
    JournalError::Sqlite {
        path: path.into(),
        source,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
