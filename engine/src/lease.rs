//! The run lease: one process drives a run at a time.
//!
//! A single row in the journal database names the holder (session id, pid, host, the
//! pid's start time and the kernel's boot id) and its heartbeat. Acquiring happens in an
//! IMMEDIATE transaction, so two processes racing for the same run serialize on SQLite's
//! write lock and exactly one wins; the loser gets [`LeaseError::Held`] and changes
//! nothing. Every append re-checks that the lease is still this session's, inside the
//! append's transaction (`Journal::guard_appends_by_lease`). The table itself belongs to
//! the journal crate (typed API in `journal::store`); this module holds the policy.
//!
//! Liveness: a holder on this machine (same host name and boot id) is alive exactly when
//! its pid is alive, not a zombie, and started when the holder's did (so a recycled pid is
//! not mistaken for it); no clock is consulted, so a stopped heartbeat or a clock jump can
//! never hand a living holder's run to someone else. Only a holder elsewhere (another host,
//! or a boot id that differs) is judged by its heartbeat, the one measure both sides share:
//! dead when older than [`STALE_AFTER`]. A dead holder's lease is taken over and the
//! takeover is journaled by the caller (`session_started.took_over_from`).

use journal::event::LeaseHolder;
use journal::store::{LeaseRow, LeaseTake};
use journal::{Journal, JournalError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Heartbeats older than this mean the holder is gone (it beats every second).
pub const STALE_AFTER: Duration = Duration::from_secs(15);
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// The holder named by a lease row, as journaled in `session_started.took_over_from`.
pub(crate) fn holder_of(row: &LeaseRow) -> LeaseHolder {
    LeaseHolder {
        session_id: row.session_id.clone(),
        pid: row.pid,
        host: row.host.clone(),
    }
}

/// Whether a lease's holder still drives its run (see the module note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// The holder lives: its process on this machine, or a fresh heartbeat from elsewhere.
    Alive,
    /// Why the holder is considered dead.
    Dead(String),
}

/// Why the lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// A living holder has it: its row and the age of its heartbeat in seconds.
    #[error("run is being driven by another labj process: session {} (pid {} on {}), last heartbeat {}s ago; wait for it to finish, or stop it with `labj kill`", .0.session_id, .0.pid, .0.host, .1)]
    Held(LeaseRow, i64),
    /// SQLite's write lock stayed taken past the busy timeout; nothing was changed.
    #[error("the run's journal stayed locked by another process past the busy timeout (a labj driving the run, perhaps stopped mid-write); the lease was left as it was: wait for that process to finish, or stop it with `labj kill`")]
    Busy,
    /// The journal failed while reading or writing the lease.
    #[error("run lease: {0}")]
    Journal(#[from] JournalError),
}

/// Test hook: shifts labj's wall clock by this many milliseconds (may be negative), to
/// show that no clock decides a same-machine holder's liveness. Compiled only with the
/// `fault-injection` feature (test builds); a release binary ignores it.
pub const CLOCK_SKEW_ENV: &str = "LABJ_TEST_CLOCK_SKEW_MS";

#[cfg(feature = "fault-injection")]
fn clock_skew_ms() -> i64 {
    static SKEW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *SKEW.get_or_init(|| {
        std::env::var(CLOCK_SKEW_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

#[cfg(not(feature = "fault-injection"))]
fn clock_skew_ms() -> i64 {
    0
}

/// The wall clock in milliseconds since the Unix epoch, as journaled (heartbeats,
/// timestamps); shifted by [`CLOCK_SKEW_ENV`] in test builds only.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
        + clock_skew_ms()
}

/// This kernel's boot id: two processes with the same one share a pid table's history.
pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
pub(crate) fn pid_start_time(pid: u32) -> Option<u64> {
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

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else
/// `localhost`), as lease rows and worker ids record it.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn pid_alive(pid: u32) -> bool {
    // kill(pid, 0): Ok = exists; EPERM = exists but not ours; ESRCH = gone.
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
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

/// Whether the holder of `row` is alive at `now` (milliseconds, see [`now_ms`]): by its
/// process on this machine, by its heartbeat elsewhere (see the module note).
pub fn liveness(row: &LeaseRow, now: i64) -> Liveness {
    let age = now - row.heartbeat_ms;
    // A row written before boot ids were recorded is judged as from this machine when the
    // host name matches, as it always was.
    let same_machine = row.host == this_host()
        && match (&row.boot_id, boot_id()) {
            (Some(theirs), Some(ours)) => *theirs == ours,
            _ => true,
        };
    if same_machine {
        let pid = row.pid;
        if !pid_alive(pid) || pid_zombie(pid) {
            return Liveness::Dead(format!("holder pid {} on {} is gone", pid, row.host));
        }
        if let (Some(theirs), Some(now_start)) = (row.pid_start, pid_start_time(pid)) {
            if theirs != now_start {
                return Liveness::Dead(format!(
                    "holder pid {pid} on {} is gone (the pid now belongs to another process)",
                    row.host
                ));
            }
        }
        return Liveness::Alive;
    }
    if age > STALE_AFTER.as_millis() as i64 {
        return Liveness::Dead(format!(
            "holder pid {} on {} stopped heart-beating {}s ago",
            row.pid,
            row.host,
            age / 1000
        ));
    }
    Liveness::Alive
}

/// The lease row of a run's journal, whatever its holder's liveness (`None` when the
/// journal holds none).
pub fn read(journal: &Journal) -> Result<Option<LeaseRow>, JournalError> {
    journal.lease()
}

/// Is anyone alive driving this run? (`None` when nobody holds the lease.)
pub fn live_holder(journal: &Journal) -> Result<Option<LeaseRow>, JournalError> {
    Ok(journal
        .lease()?
        .filter(|row| liveness(row, now_ms()) == Liveness::Alive))
}

/// Take the lease for `me`. Returns the dead holder taken over, if any.
pub(crate) fn acquire(
    journal: &mut Journal,
    me: &LeaseHolder,
) -> Result<Option<LeaseRow>, LeaseError> {
    let now = now_ms();
    let row = LeaseRow {
        session_id: me.session_id.clone(),
        pid: me.pid,
        host: me.host.clone(),
        acquired_ms: now,
        heartbeat_ms: now,
        pid_start: pid_start_time(me.pid),
        boot_id: boot_id(),
    };
    journal
        .lease_acquire(&row, |holder| match liveness(holder, now) {
            Liveness::Alive => Err(LeaseError::Held(
                holder.clone(),
                (now - holder.heartbeat_ms) / 1000,
            )),
            Liveness::Dead(_) => Ok(()),
        })
        .map_err(|e| match e {
            LeaseTake::Refused(e) => e,
            LeaseTake::Busy => LeaseError::Busy,
            LeaseTake::Journal(e) => LeaseError::Journal(e),
        })
}

/// Refresh the heartbeat; false if the lease is no longer ours (someone took it over).
pub(crate) fn heartbeat(journal: &Journal, session_id: &str) -> Result<bool, JournalError> {
    journal.lease_heartbeat(session_id, now_ms())
}

/// Puts `previous` (the row [`acquire`] replaced, if any) back when the lease is still
/// `session_id`'s: for a session that took the lease and then gave up before writing.
pub(crate) fn restore(
    journal: &Journal,
    session_id: &str,
    previous: Option<&LeaseRow>,
) -> Result<(), JournalError> {
    journal.lease_restore(session_id, previous)
}

pub(crate) fn release(journal: &Journal, session_id: &str) -> Result<(), JournalError> {
    journal.lease_release(session_id)
}
