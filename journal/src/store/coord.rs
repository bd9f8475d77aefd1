//! Coordination tables (not history): the run lease and the control inbox.
//!
//! The journal crate owns every table of the database; other crates reach these two
//! through this typed API only. Policy (is a holder alive? what does a command mean?)
//! stays with the caller: [`Journal::lease_acquire`] asks the caller to judge the
//! current holder inside the write transaction, and inbox rows carry the command as
//! opaque JSON.

use super::*;
use rusqlite::TransactionBehavior;

/// Who drives a run: the lease row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The holder's session.
    pub session_id: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's host.
    pub host: String,
    /// When it took the lease (Unix milliseconds, the holder's clock).
    pub acquired_ms: i64,
    /// Its last heartbeat (Unix milliseconds, the holder's clock).
    pub heartbeat_ms: i64,
    /// Start time of the holder's pid (clock ticks since boot, `/proc/<pid>/stat`).
    pub pid_start: Option<u64>,
    /// `/proc/sys/kernel/random/boot_id` of the holder's machine.
    pub boot_id: Option<String>,
}

/// Why [`Journal::lease_acquire`] did not take the lease.
#[derive(Debug, thiserror::Error)]
pub enum LeaseTake<E> {
    /// The caller's judge refused: the holder is alive.
    #[error("lease held")]
    Refused(E),
    /// The database stayed locked past the busy timeout.
    #[error("the journal stayed locked past the busy timeout")]
    Busy,
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// One pending control request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    /// The request's id (the requester's, unique in the inbox).
    pub request_id: String,
    /// Its place in the inbox: requests are taken in this order.
    pub seq: u64,
    /// The command's name (`pause`, `kill`, …).
    pub command: String,
    /// The command as JSON (the engine's `ControlCommand`).
    pub args: String,
    /// Who submitted it.
    pub requested_by: String,
    /// When (Unix milliseconds, the requester's clock).
    pub created_ms: i64,
}

/// An answer to write into the inbox, atomically with events ([`Journal::append_answering`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxAnswer {
    /// The request answered.
    pub request_id: String,
    /// The answer as JSON (the engine's `ControlAnswer`).
    pub answer: String,
    /// When (Unix milliseconds).
    pub answered_ms: i64,
}

/// A request's state as the requester sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxState {
    /// Waiting for the coordinator to take it.
    Pending,
    /// Answered: the answer's JSON.
    Answered(String),
    /// The requester gave up on it before it was taken.
    Withdrawn,
    /// No such request in the inbox.
    Unknown,
}

fn busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn read_lease(conn: &Connection, version: u32) -> rusqlite::Result<Option<LeaseRow>> {
    // Schema 1 had no pid start time or boot id; a read-only handle does not migrate.
    let sql = if version >= 2 {
        "SELECT session_id, pid, host, acquired_ms, heartbeat_ms, pid_start, boot_id FROM lease WHERE id = 0"
    } else {
        "SELECT session_id, pid, host, acquired_ms, heartbeat_ms, NULL, NULL FROM lease WHERE id = 0"
    };
    conn.prepare_cached(sql)?
        .query_row([], |r| {
            Ok(LeaseRow {
                session_id: r.get(0)?,
                pid: r.get(1)?,
                host: r.get(2)?,
                acquired_ms: r.get(3)?,
                heartbeat_ms: r.get(4)?,
                pid_start: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
                boot_id: r.get(6)?,
            })
        })
        .optional()
}

fn write_lease(conn: &Connection, version: u32, row: &LeaseRow) -> rusqlite::Result<()> {
    if version >= 2 {
        conn.execute(
            "INSERT INTO lease (id, session_id, pid, host, acquired_ms, heartbeat_ms, pid_start, boot_id) VALUES (0, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET session_id = excluded.session_id, pid = excluded.pid, host = excluded.host,
               acquired_ms = excluded.acquired_ms, heartbeat_ms = excluded.heartbeat_ms,
               pid_start = excluded.pid_start, boot_id = excluded.boot_id",
            params![
                row.session_id,
                row.pid,
                row.host,
                row.acquired_ms,
                row.heartbeat_ms,
                row.pid_start.map(|v| v as i64),
                row.boot_id
            ],
        )?;
    } else {
        conn.execute(
            "INSERT INTO lease (id, session_id, pid, host, acquired_ms, heartbeat_ms) VALUES (0, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET session_id = excluded.session_id, pid = excluded.pid, host = excluded.host,
               acquired_ms = excluded.acquired_ms, heartbeat_ms = excluded.heartbeat_ms",
            params![row.session_id, row.pid, row.host, row.acquired_ms, row.heartbeat_ms],
        )?;
    }
    Ok(())
}

impl Journal {
    /// The lease row, if anyone holds the run.
    pub fn lease(&self) -> Result<Option<LeaseRow>> {
        read_lease(&self.conn, self.version).map_err(|e| sqlerr(&self.path, e))
    }

    /// Take the lease for `me` in one IMMEDIATE transaction: `judge` sees the current
    /// holder (when it is another session) and refuses with `Err` while it is alive.
    /// Returns the row replaced (a dead holder taken over), if any.
    pub fn lease_acquire<E>(
        &mut self,
        me: &LeaseRow,
        judge: impl FnOnce(&LeaseRow) -> std::result::Result<(), E>,
    ) -> std::result::Result<Option<LeaseRow>, LeaseTake<E>> {
        let path = self.path.clone();
        let version = self.version;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| {
                if busy(&e) {
                    LeaseTake::Busy
                } else {
                    LeaseTake::Journal(sqlerr(&path, e))
                }
            })?;
        let previous = read_lease(&tx, version).map_err(|e| sqlerr(&path, e))?;
        if let Some(row) = &previous {
            if row.session_id != me.session_id {
                judge(row).map_err(LeaseTake::Refused)?;
            }
        }
        write_lease(&tx, version, me).map_err(|e| sqlerr(&path, e))?;
        tx.commit().map_err(|e| sqlerr(&path, e))?;
        Ok(previous.filter(|r| r.session_id != me.session_id))
    }

    /// Refresh the heartbeat; false if the lease is no longer `session_id`'s.
    pub fn lease_heartbeat(&self, session_id: &str, now_ms: i64) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE lease SET heartbeat_ms = ?1 WHERE id = 0 AND session_id = ?2",
                params![now_ms, session_id],
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        Ok(n == 1)
    }

    /// Puts `previous` back when the lease is still `session_id`'s (a session that took
    /// the lease and gave up before writing), or releases it when there was none.
    pub fn lease_restore(&self, session_id: &str, previous: Option<&LeaseRow>) -> Result<()> {
        let Some(p) = previous else {
            return self.lease_release(session_id);
        };
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| sqlerr(&self.path, e))?;
        let ours = read_lease(&tx, self.version)
            .map_err(|e| sqlerr(&self.path, e))?
            .is_some_and(|r| r.session_id == session_id);
        if ours {
            write_lease(&tx, self.version, p).map_err(|e| sqlerr(&self.path, e))?;
        }
        tx.commit().map_err(|e| sqlerr(&self.path, e))
    }

    /// Drops the lease if `session_id` still holds it (a session that ends); another
    /// session's lease is left alone.
    pub fn lease_release(&self, session_id: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM lease WHERE id = 0 AND session_id = ?1",
                params![session_id],
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        Ok(())
    }

    /// From now on every append checks, inside its transaction and under the write lock,
    /// that the lease is still `session_id`'s; otherwise it fails with
    /// [`JournalError::NotWriter`] and writes nothing.
    pub fn guard_appends_by_lease(&mut self, session_id: String) {
        self.lease_guard = Some(session_id);
    }

    /// Queue a control request. The sequence number is computed in the same IMMEDIATE
    /// transaction as the insert, so two requesters never share one.
    pub fn inbox_submit(
        &self,
        request_id: &str,
        command: &str,
        args: &str,
        requested_by: &str,
        now_ms: i64,
    ) -> Result<u64> {
        let path = &self.path;
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| sqlerr(path, e))?;
        let seq: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM control_inbox",
                [],
                |r| r.get(0),
            )
            .map_err(|e| sqlerr(path, e))?;
        tx.execute(
            "INSERT INTO control_inbox (request_id, seq, command, args, requested_by, created_ms, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
            params![request_id, seq, command, args, requested_by, now_ms],
        )
        .map_err(|e| sqlerr(path, e))?;
        tx.commit().map_err(|e| sqlerr(path, e))?;
        ring_bell(path);
        Ok(seq as u64)
    }

    /// The inbox's doorbell as it stands: the size of `journal.bell`, which every
    /// [`inbox_submit`](Self::inbox_submit) grows by one byte after its commit (`None`
    /// while no request has rung). A coordinator reads the inbox when this changed
    /// since its last read (a `statx`, where reading the table is a SQLite read
    /// transaction), and now and then regardless: a bell that could not be rung (a
    /// read-only directory) delays a request, never loses it.
    pub fn inbox_bell(&self) -> Option<u64> {
        std::fs::symlink_metadata(bell_path(&self.path))
            .ok()
            .map(|m| m.len())
    }

    /// The bell's path, for a coordinator that watches it (inotify) rather than looking
    /// at its size on a timer. The bell is created empty when missing, as a regular
    /// file only (`O_NOFOLLOW`, never through a planted name); `None` when it is
    /// anything else or cannot be made: the watcher then keeps to the timer.
    pub fn inbox_bell_to_watch(&self) -> Option<PathBuf> {
        use std::os::unix::fs::OpenOptionsExt;
        let bell = bell_path(&self.path);
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&bell)
            .ok()?;
        f.metadata().ok()?.is_file().then_some(bell)
    }

    /// Pending requests, oldest first.
    pub fn inbox_pending(&self) -> Result<Vec<InboxRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT request_id, seq, command, args, requested_by, created_ms FROM control_inbox WHERE state = 'pending' ORDER BY seq",
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(InboxRow {
                    request_id: r.get(0)?,
                    seq: r.get::<_, i64>(1)? as u64,
                    command: r.get(2)?,
                    args: r.get(3)?,
                    requested_by: r.get(4)?,
                    created_ms: r.get(5)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| sqlerr(&self.path, e))?;
        Ok(rows)
    }

    /// Answer a request that caused no event (a refusal); answers that go with events
    /// are written by [`append_answering`](Self::append_answering).
    pub fn inbox_answer(&self, a: &InboxAnswer) -> Result<()> {
        write_answer(&self.conn, a).map_err(|e| sqlerr(&self.path, e))
    }

    /// The state of one request.
    pub fn inbox_state(&self, request_id: &str) -> Result<InboxState> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT state, answer FROM control_inbox WHERE request_id = ?1",
                params![request_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| sqlerr(&self.path, e))?;
        Ok(match row {
            Some((s, Some(answer))) if s == "answered" => InboxState::Answered(answer),
            Some((s, _)) if s == "pending" => InboxState::Pending,
            Some((s, _)) if s == "withdrawn" => InboxState::Withdrawn,
            _ => InboxState::Unknown,
        })
    }

    /// Give up on a request nobody picked up; false if it was already answered.
    pub fn inbox_withdraw(&self, request_id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE control_inbox SET state = 'withdrawn' WHERE request_id = ?1 AND state = 'pending'",
                params![request_id],
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        Ok(n == 1)
    }

    /// The materialized document `name` (`proj_docs`), as stored.
    pub fn stored_doc(&self, name: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT doc FROM proj_docs WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| sqlerr(&self.path, e))
    }
}

/// `journal.bell` next to `journal.sqlite` (see [`Journal::inbox_bell`]).
pub(crate) fn bell_path(journal: &Path) -> PathBuf {
    journal.with_extension("bell")
}

/// One byte more in the bell, after a request's commit. Best effort: the reader falls
/// back to reading the inbox now and then. Written only into a regular file of that
/// name, never through a symlink or into a FIFO someone planted there.
fn ring_bell(journal: &Path) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bell = bell_path(journal);
    let rung = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&bell)
        .and_then(|mut f| {
            if !f.metadata()?.is_file() {
                return Err(std::io::Error::other("not a regular file"));
            }
            f.write_all(b".")
        });
    if let Err(e) = rung {
        tracing::debug!("control inbox bell {}: {e}", bell.display());
    }
}

pub(super) fn write_answer(conn: &Connection, a: &InboxAnswer) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE control_inbox SET state = 'answered', answer = ?2, answered_ms = ?3 WHERE request_id = ?1",
        params![a.request_id, a.answer, a.answered_ms],
    )?;
    Ok(())
}

/// The lease check run inside an append transaction.
pub(super) fn check_lease(
    tx: &rusqlite::Transaction,
    version: u32,
    session_id: &str,
) -> std::result::Result<(), String> {
    let holder = read_lease(tx, version).map_err(|e| format!("cannot read the run lease: {e}"))?;
    match holder {
        Some(r) if r.session_id == session_id => Ok(()),
        Some(r) => Err(format!(
            "this session ({session_id}) no longer holds the run lease: session {} (pid {} on {}) took it over; stopping without writing",
            r.session_id, r.pid, r.host
        )),
        None => Err(format!(
            "this session ({session_id}) no longer holds the run lease (nobody does); stopping without writing"
        )),
    }
}
