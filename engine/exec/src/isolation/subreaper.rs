//! The after-attempt sweep without a scan of `/proc` (Linux child subreaper).
//!
//! An agent runs in its own process group, killed whole when the attempt ends; what can
//! outlive it is a process that left the group (`setsid`, `setpgid`). Once labj is a
//! *child subreaper* (`PR_SET_CHILD_SUBREAPER`, set by [`enable_child_subreaper`] when
//! a local run of plain host agents starts), a process whose parent dies is re-parented
//! to labj instead of init. So once the agent's group is dead and gone ([`drain_group`]:
//! its members labj inherited reaped, `kill(-pgid, 0)` answering ESRCH), every process
//! that escaped it and still runs is, or descends from, a child of labj's main thread
//! (the kernel hands orphans to the subreaper's first live thread), listed in
//! `/proc/<pid>/task/<pid>/children`. [`reap_escapees`] reads that list (empty in the
//! common case: one small read), kills the listed processes carrying this trial
//! execution's variables (its tag, run and trial ids, as the `/proc` scan matched
//! them), reaps them, and reads the list again for their own children, re-parented in
//! turn. Sandboxes and containers do not use it (their PID namespace ends everything).
//!
//! Its cost is the number of escaped processes, not the number of processes on the
//! machine or of trials in flight (the `/proc` scan looked at every pid handed out
//! since the attempt started: with 500 trials in flight, a thousand reads per trial).
//! When the group does not empty in time or the list cannot be read, the caller falls
//! back to the scan (`reap.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Every reap of a process re-parented to labj, and every read of the list, happens
/// under this lock: the list then only grows while it is read (the kernel's `children`
/// file may skip an entry when one before it is removed between two reads).
static REAP: Mutex<()> = Mutex::new(());

/// How long [`drain_group`] waits for a killed group's members to die.
const DRAIN_WAIT: Duration = Duration::from_millis(200);

/// Makes this process the child subreaper of everything it spawns (see the module doc);
/// returns whether the kernel agreed. Idempotent; there is no way back for the process.
pub fn enable_child_subreaper() -> bool {
    if ENABLED.load(Ordering::Relaxed) {
        return true;
    }
    // prctl(PR_SET_CHILD_SUBREAPER) takes a flag: any pid is "on".
    let ok = rustix::process::set_child_subreaper(Some(rustix::process::getpid())).is_ok()
        && std::fs::metadata(children_path()).is_ok_and(|m| m.is_file())
        && std::fs::read(children_path()).is_ok();
    ENABLED.store(ok, Ordering::Relaxed);
    ok
}

/// Reaps child `pid` if it has ended, without blocking; whether it was reaped now.
fn reap_now(pid: libc::pid_t) -> bool {
    rustix::process::Pid::from_raw(pid).is_some_and(|p| {
        matches!(
            rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG),
            Ok(Some((got, _))) if got == p
        )
    })
}

/// Whether [`enable_child_subreaper`] succeeded in this process.
pub(crate) fn subreaper_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn children_path() -> String {
    let pid = std::process::id();
    format!("/proc/{pid}/task/{pid}/children")
}

/// After the group `pgid` was SIGKILLed and its leader reaped: reaps the members labj
/// inherited and waits until no process of the group is left. `Some(n)` when the group
/// is gone (every escaped process that outlived its parent is then a child of labj),
/// `n` the members labj reaped (what the leader left behind); `None` when the subreaper
/// is off or the group outlived [`DRAIN_WAIT`].
pub(crate) fn drain_group(pgid: libc::pid_t) -> Option<u32> {
    if !subreaper_enabled() || pgid <= 1 {
        return None;
    }
    let mut reaped = 0u32;
    let deadline = Instant::now() + DRAIN_WAIT;
    let mut pause = Duration::from_micros(50);
    loop {
        {
            let _g = REAP.lock().unwrap_or_else(|p| p.into_inner());
            // Members re-parented to labj that died: reap them (nobody else waits for
            // them). WNOHANG: members still dying are looked at again below.
            loop {
                // SAFETY: a zeroed siginfo_t is valid; waitid fills it.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: waitid with a valid siginfo_t pointer; WNOWAIT reaps nothing.
                let rc = unsafe {
                    libc::waitid(
                        libc::P_PGID,
                        pgid as libc::id_t,
                        &mut info,
                        libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                    )
                };
                // SAFETY: waitid returned 0, so si_pid is initialised (0: none exited).
                let pid = if rc == 0 { unsafe { info.si_pid() } } else { 0 };
                if pid == 0 {
                    break;
                }
                if pid == pgid {
                    // The leader was reaped before: a process holding its pid now leads
                    // a new group of that number (a recycled pid), someone else's.
                    return None;
                }
                // A dead child of this process that nobody waits for.
                if reap_now(pid) {
                    reaped += 1;
                }
            }
        }
        // Signal 0 only checks that the group exists.
        let group = rustix::process::Pid::from_raw(pgid)?;
        if let Err(e) = rustix::process::test_kill_process_group(group) {
            return (e == rustix::io::Errno::SRCH).then_some(reaped);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Kills the processes of this trial execution that escaped its process group (see the
/// module doc): those re-parented to labj whose environment names `run_var` and every
/// one of `wanted`, then their children as they are re-parented in turn. Also reaps
/// dead escapees of any trial. `None` when the list cannot be read (fall back to the
/// scan); else how many were killed.
pub(crate) fn reap_escapees(run_var: &str, wanted: &[String]) -> Option<usize> {
    reap_children(|vars| {
        vars.contains(&run_var.as_bytes()) && wanted.iter().all(|w| vars.contains(&w.as_bytes()))
    })
}

/// Reaps the dead among labj's re-parented children (what a scan killed), killing none.
pub(crate) fn reap_dead_escapees() {
    let _ = reap_children(|_| false);
}

/// The loop of [`reap_escapees`]: kills the children whose environment (its variables)
/// `matches`, reaps them and the dead ones.
fn reap_children(matches: impl Fn(&[&[u8]]) -> bool) -> Option<usize> {
    let path = children_path();
    let own_group = rustix::process::getpgrp().as_raw_nonzero().get();
    let mut killed = 0;
    // Each round reaches one level deeper into an escaped tree; a bound keeps a fork
    // bomb from holding the worker forever (the run's final sweep still sees the rest).
    for _ in 0..64 {
        let mut ours = Vec::new();
        {
            let _g = REAP.lock().unwrap_or_else(|p| p.into_inner());
            let list = std::fs::read_to_string(&path).ok()?;
            for pid in list
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                let Some((state, pgrp)) = stat_of(pid) else {
                    continue;
                };
                if state == 'Z' {
                    // A dead escapee (of any trial): reap it. Processes in labj's own
                    // group are its own commands, waited for by whoever spawned them.
                    if pgrp != own_group {
                        reap_now(pid);
                    }
                    continue;
                }
                let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
                    continue;
                };
                let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                if matches(&vars) {
                    // A child of this process: nobody else reaps it while REAP is
                    // held, so the pid is not recycled.
                    let killed = rustix::process::Pid::from_raw(pid).is_some_and(|p| {
                        rustix::process::kill_process(p, rustix::process::Signal::KILL).is_ok()
                    });
                    if killed {
                        ours.push(pid);
                    }
                }
            }
        }
        if ours.is_empty() {
            return Some(killed);
        }
        killed += ours.len();
        // Reap what was killed: its children are re-parented to labj on its exit, so the
        // next round sees them.
        for pid in ours {
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                let _g = REAP.lock().unwrap_or_else(|p| p.into_inner());
                // Done once reaped, or when it is not (or no longer) our child.
                let done = match rustix::process::Pid::from_raw(pid) {
                    Some(p) => !matches!(
                        rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG),
                        Ok(None)
                    ),
                    None => true,
                };
                drop(_g);
                if done || Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
    Some(killed)
}

/// State letter and process group of `pid` (`/proc/<pid>/stat` fields 3 and 5).
fn stat_of(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let _ppid = rest.next()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some((state, pgrp))
}
