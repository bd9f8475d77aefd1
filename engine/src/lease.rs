//! The run lease: one process drives a run at a time.
//!
//! A single row in the journal database names the holder (session id, pid, host, the
//! pid's start time and the kernel's boot id) and its heartbeat. Acquiring happens in an
//! IMMEDIATE transaction, so two processes racing for the same run serialize on SQLite's
//! write lock and exactly one wins; the loser gets [`LeaseError::Held`] and changes
//! nothing. Every append re-checks that the lease is still this session's, inside the
//! append's transaction ([`append_guard`]).
//!
//! Liveness: a holder on this machine (same host name and boot id) is alive exactly when
//! its pid is alive, not a zombie, and started when the holder's did (so a recycled pid is
//! not mistaken for it); no clock is consulted, so a stopped heartbeat or a clock jump can
//! never hand a living holder's run to someone else. Only a holder elsewhere (another host,
//! or a boot id that differs) is judged by its heartbeat, the one measure both sides share:
//! dead when older than [`STALE_AFTER`]. A dead holder's lease is taken over and the
//! takeover is journaled by the caller (`session_started.took_over_from`).

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
    /// Start time of the holder's pid (clock ticks since boot, `/proc/<pid>/stat`).
    pub pid_start: Option<u64>,
    /// `/proc/sys/kernel/random/boot_id` of the holder's machine.
    pub boot_id: Option<String>,
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
    #[error("the run's journal stayed locked by another process past the busy timeout (a labj driving the run, perhaps stopped mid-write); the lease was left as it was: wait for that process to finish, or stop it with `labj kill`")]
    Busy,
    #[error("run lease: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Test hook: shifts labj's wall clock by this many milliseconds (may be negative), to
/// show that no clock decides a same-machine holder's liveness.
pub const CLOCK_SKEW_ENV: &str = "LABJ_TEST_CLOCK_SKEW_MS";

fn clock_skew_ms() -> i64 {
    static SKEW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *SKEW.get_or_init(|| {
        std::env::var(CLOCK_SKEW_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
        + clock_skew_ms()
}

/// This kernel's boot id: two processes with the same one share a pid table's history.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
pub fn pid_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name (which may hold spaces); starttime is
    // field 22 overall, the 20th after the name.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
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
    // A row written before boot ids were recorded is judged as from this machine when the
    // host name matches, as it always was.
    let same_machine = row.holder.host == this_host()
        && match (&row.boot_id, boot_id()) {
            (Some(theirs), Some(ours)) => *theirs == ours,
            _ => true,
        };
    if same_machine {
        let pid = row.holder.pid;
        if !pid_alive(pid) || pid_zombie(pid) {
            return Liveness::Dead(format!("holder pid {} on {} is gone", pid, row.holder.host));
        }
        if let (Some(theirs), Some(now_start)) = (row.pid_start, pid_start_time(pid)) {
            if theirs != now_start {
                return Liveness::Dead(format!(
                    "holder pid {pid} on {} is gone (the pid now belongs to another process)",
                    row.holder.host
                ));
            }
        }
        return Liveness::Alive;
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
        "SELECT session_id, pid, host, acquired_ms, heartbeat_ms, pid_start, boot_id FROM lease WHERE id = 0",
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
                pid_start: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
                boot_id: r.get(6)?,
            })
        },
    )
    .optional()
}

/// Take the lease for `me`. Returns the dead holder taken over, if any.
pub fn acquire(conn: &mut Connection, me: &LeaseHolder) -> Result<Option<LeaseRow>, LeaseError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                LeaseError::Busy
            }
            _ => LeaseError::Sqlite(e),
        })?;
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
    let pid_start = pid_start_time(me.pid).map(|v| v as i64);
    tx.execute(
        "INSERT INTO lease (id, session_id, pid, host, acquired_ms, heartbeat_ms, pid_start, boot_id) VALUES (0, ?1, ?2, ?3, ?4, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET session_id = excluded.session_id, pid = excluded.pid, host = excluded.host,
           acquired_ms = excluded.acquired_ms, heartbeat_ms = excluded.heartbeat_ms,
           pid_start = excluded.pid_start, boot_id = excluded.boot_id",
        params![me.session_id, me.pid, me.host, now, pid_start, boot_id()],
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

/// The journal's append guard for `session_id`: refuses to append once the lease row
/// names someone else (or nobody). Runs inside the append transaction, under the write lock.
pub fn append_guard(session_id: String) -> journal::store::AppendGuard {
    Box::new(move |tx| {
        let holder: Option<(String, u32, String)> = tx
            .query_row(
                "SELECT session_id, pid, host FROM lease WHERE id = 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| format!("cannot read the run lease: {e}"))?;
        match holder {
            Some((s, _, _)) if s == session_id => Ok(()),
            Some((s, pid, host)) => Err(format!(
                "this session ({session_id}) no longer holds the run lease: session {s} (pid {pid} on {host}) took it over; stopping without writing"
            )),
            None => Err(format!(
                "this session ({session_id}) no longer holds the run lease (nobody does); stopping without writing"
            )),
        }
    })
}

/// Puts `previous` (the row [`acquire`] replaced, if any) back when the lease is still
/// `session_id`'s: for a session that took the lease and then gave up before writing.
pub fn restore(
    conn: &Connection,
    session_id: &str,
    previous: Option<&LeaseRow>,
) -> rusqlite::Result<()> {
    match previous {
        None => release(conn, session_id),
        Some(p) => conn
            .execute(
                "UPDATE lease SET session_id = ?2, pid = ?3, host = ?4, acquired_ms = ?5, heartbeat_ms = ?6,
                   pid_start = ?7, boot_id = ?8 WHERE id = 0 AND session_id = ?1",
                params![
                    session_id,
                    p.holder.session_id,
                    p.holder.pid,
                    p.holder.host,
                    p.acquired_ms,
                    p.heartbeat_ms,
                    p.pid_start.map(|v| v as i64),
                    p.boot_id
                ],
            )
            .map(|_| ()),
    }
}

pub fn release(conn: &Connection, session_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM lease WHERE id = 0 AND session_id = ?1",
        params![session_id],
    )?;
    Ok(())
}
