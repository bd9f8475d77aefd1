//! The SQLite event store of one run.
//!
//! Durability: WAL mode. By default `synchronous=NORMAL`: a committed transaction survives
//! a crash of the labj process (SIGKILL, panic) but the last transactions may be lost on
//! power failure; the database is never corrupted either way. [`Durability::Full`]
//! fsyncs every commit for power-loss durability at a large throughput cost.

use crate::event::{DecodeError, Event, StoredEvent};
mod read;

use crate::materialize;
use crate::projection::{Changes, FoldError, Projections};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// Ordered migrations; index + 1 is the schema version they bring the database to.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init.sql",
    include_str!("../../../migrations/0001_init.sql"),
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
