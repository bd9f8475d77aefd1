//! The run lease: one process drives a run at a time.
//!
//! A single row in the journal database names the holder (session id, pid, host) and
//! its heartbeat. Acquiring happens in an IMMEDIATE transaction, so two processes racing
//! for the same run serialize on SQLite's write lock and exactly one wins. A holder is
//! dead when its pid is gone on this host, or its heartbeat is older than
//! [`STALE_AFTER`]; a dead holder's lease is taken over and the takeover is journaled by
//! the caller (`session_started.took_over_from`).

use journal::event::LeaseHolder;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Heartbeats older than this mean the holder is gone (it beats every second).
pub const STALE_AFTER: Duration = Duration::from_secs(15);
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: LeaseHolder,
    pub acquired_ms: i64,
    pub heartbeat_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    /// Why the holder is considered dead.
    Dead(String),
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("run is being driven by another labj process: session {} (pid {} on {}), last heartbeat {}s ago; wait for it to finish, or stop it with `labj kill`", .0.holder.session_id, .0.holder.pid, .0.holder.host, .1)]
    Held(LeaseRow, i64),
    #[error("run lease: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn pid_alive(pid: u32) -> bool {
    // kill(pid, 0): 0 = exists; EPERM = exists but not ours; ESRCH = gone.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Is a zombie (exited, not yet reaped)? Treat as dead.
fn pid_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

pub fn liveness(row: &LeaseRow, now: i64) -> Liveness {
    let age = now - row.heartbeat_ms;
    if row.holder.host == this_host() && (!pid_alive(row.holder.pid) || pid_zombie(row.holder.pid))
    {
        return Liveness::Dead(format!(
            "holder pid {} on {} is gone",
            row.holder.pid, row.holder.host
        ));
    }
    if age > STALE_AFTER.as_millis() as i64 {
        return Liveness::Dead(format!(
            "holder pid {} on {} stopped heart-beating {}s ago",
            row.holder.pid,
            row.holder.host,
            age / 1000
        ));
    }
    Liveness::Alive
}

pub fn read(conn: &Connection) -> rusqlite::Result<Option<LeaseRow>> {
    conn.query_row(
        "SELECT session_id, pid, host, acquired_ms, heartbeat_ms FROM lease WHERE id = 0",
        [],
        |r| {
            Ok(LeaseRow {
                holder: LeaseHolder {
                    session_id: r.get(0)?,
                    pid: r.get(1)?,
                    host: r.get(2)?,
                },
                acquired_ms: r.get(3)?,
                heartbeat_ms: r.get(4)?,
            })
        },
    )
    .optional()
}

/// Take the lease for `me`. Returns the dead holder taken over, if any.
pub fn acquire(conn: &mut Connection, me: &LeaseHolder) -> Result<Option<LeaseRow>, LeaseError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    let previous = read(&tx)?;
    if let Some(row) = &previous {
        if row.holder.session_id != me.session_id {
            if let Liveness::Alive = liveness(row, now) {
                let age = (now - row.heartbeat_ms) / 1000;
                return Err(LeaseError::Held(row.clone(), age));
            }
        }
    }
    tx.execute(
        "INSERT INTO lease (id, session_id, pid, host, acquired_ms, heartbeat_ms) VALUES (0, ?1, ?2, ?3, ?4, ?4)
         ON CONFLICT(id) DO UPDATE SET session_id = excluded.session_id, pid = excluded.pid, host = excluded.host,
           acquired_ms = excluded.acquired_ms, heartbeat_ms = excluded.heartbeat_ms",
        params![me.session_id, me.pid, me.host, now],
    )?;
    tx.commit()?;
    Ok(previous.filter(|r| r.holder.session_id != me.session_id))
}

/// Refresh the heartbeat; false if the lease is no longer ours (someone took it over).
pub fn heartbeat(conn: &Connection, session_id: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE lease SET heartbeat_ms = ?1 WHERE id = 0 AND session_id = ?2",
        params![now_ms(), session_id],
    )?;
    Ok(n == 1)
}

pub fn release(conn: &Connection, session_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM lease WHERE id = 0 AND session_id = ?1",
        params![session_id],
    )?;
    Ok(())
}
