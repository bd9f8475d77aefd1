//! Running one command of a trial (agent or grader) under supervision: its own process
//! group, a timeout that excludes paused time, stop with a grace period, and a final
//! SIGKILL of the group so orphaned grandchildren never outlive their trial.

use super::control::{signal_group, Live, Phase, TrialControl, STOP_GRACE};
use super::output::{poll_with, Capture};
use super::sandbox::ContainerRef;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Without a pidfd (kernels before 5.3): first poll interval after the first (immediate)
/// check, doubled up to [`MAX_POLL`]. Instant agents are seen within a few hundred
/// microseconds, long ones cost ~100 wake-ups a second. With a pidfd the exit wakes the
/// worker at once and [`MAX_POLL`] only bounds how late a stop's grace period is noticed.
const FIRST_POLL: Duration = Duration::from_micros(200);
const MAX_POLL: Duration = Duration::from_millis(10);
/// With a pidfd and the wake signal (`wake.rs`), the longest a worker sleeps between
/// two looks at its trial: exit, output, stop and resume wake it at once, deadlines
/// (timeout, stop grace) shorten the sleep, so this only bounds a wake-up that was lost.
/// Each of these looks costs a worker ~20 us of CPU: at 1 s, 200 agents waiting on a
/// model cost labj 4.3 ms of CPU a second (`bench/idle.sh 200`).
const WOKEN_POLL: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) enum ProcessEnd {
    Exited(ExitStatus),
    TimedOut,
    Stopped(String),
    /// waitpid itself failed; the group was killed.
    WaitFailed(String),
}

#[derive(Debug)]
pub(crate) struct Supervised {
    pub end: ProcessEnd,
    /// Wall time the process ran, excluding time paused.
    pub active: Duration,
    /// Every process of the group is dead and reaped (`isolation::drain_group`: only
    /// when labj is a child subreaper).
    pub group_gone: bool,
    /// Members of the group still running when its leader exited (killed then), counted
    /// when `group_gone`.
    pub leaked: u32,
}

/// Spawns `cmd` in a new process group and supervises it to the end. `timeout == None`
/// means no limit. Returns `Err` only when the process could not be spawned. The
/// `capture` pipes (the command's stdout/stderr) are drained while it runs. When the
/// command runs its work in `container` (the engine client), pause/resume go to the
/// container (`docker|podman pause`), not to the client.
pub(crate) fn supervise_in(
    cmd: &mut Command,
    control: &TrialControl,
    phase: Phase,
    timeout: Option<Duration>,
    container: Option<ContainerRef>,
    capture: Option<&mut Capture>,
) -> std::io::Result<Supervised> {
    supervise_with(cmd, control, phase, timeout, true, container, capture)
}

fn supervise_with(
    cmd: &mut Command,
    control: &TrialControl,
    phase: Phase,
    timeout: Option<Duration>,
    use_pidfd: bool,
    container: Option<ContainerRef>,
    mut capture: Option<&mut Capture>,
) -> std::io::Result<Supervised> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // No `pre_exec` here (e.g. for PR_SET_PDEATHSIG): it would force fork() instead of
    // posix_spawn, which costs more than the whole rest of a no-op trial. Agents left
    // running by a killed labj are stopped by `labj continue` (`run::reap_orphans`).

    // Spawning under the lock closes the window in which a stop could slip between the
    // check and the registration of the new group.
    let mut st = control.lock();
    if phase == Phase::Agent {
        st = control.wait_unheld(st);
    }
    if let Some(reason) = &st.stop_reason {
        return Ok(Supervised {
            end: ProcessEnd::Stopped(reason.clone()),
            active: Duration::ZERO,
            group_gone: true,
            leaked: 0,
        });
    }
    let mut child: Child = cmd.spawn()?;
    let pgid = child.id() as libc::pid_t;
    let pidfd = if use_pidfd { pidfd_open(pgid) } else { None };
    // Blocked in this thread from here on, before the state lock is first released.
    let mask = pidfd.as_ref().and_then(|_| thread_wake_mask());
    st.live = Some(Live {
        pgid,
        phase,
        container,
        waker: mask.map(|_| super::wake::this_thread()),
    });
    let start = Instant::now();
    let paused_before = st.paused_until(start);
    let active_at = |st: &super::control::ControlState, now: Instant| {
        now.saturating_duration_since(start)
            .saturating_sub(st.paused_until(now).saturating_sub(paused_before))
    };

    let mut poll = FIRST_POLL;
    let mut killed = false;
    let mut timed_out = false;
    loop {
        // Reaping under the lock: once `live` is cleared no signal can reach a recycled pgid.
        let waited = exited_unreaped(pgid);
        let now = Instant::now();
        match waited {
            Ok(true) => {
                // The leader is a zombie: its pid (= the pgid) cannot be reused until it
                // is reaped, so the group is killed first (orphaned grandchildren keep
                // it alive; nobody waits for them), then the leader reaped.
                let _ = signal_group(pgid, libc::SIGKILL);
                let status = match child.wait() {
                    Ok(s) => s,
                    Err(e) => {
                        st.live = None;
                        st.close_pause(now);
                        let active = active_at(&st, now);
                        return Ok(Supervised {
                            end: ProcessEnd::WaitFailed(format!("reaping pid {pgid} failed: {e}")),
                            active,
                            group_gone: false,
                            leaked: 0,
                        });
                    }
                };
                st.live = None;
                st.close_pause(now);
                let active = active_at(&st, now);
                let stop = st.stop_reason.clone();
                drop(st);
                let end = match stop {
                    Some(reason) => ProcessEnd::Stopped(reason),
                    None if timed_out => ProcessEnd::TimedOut,
                    None => ProcessEnd::Exited(status),
                };
                let drained = crate::isolation::drain_group(pgid);
                return Ok(Supervised {
                    end,
                    active,
                    group_gone: drained.is_some(),
                    leaked: drained.unwrap_or(0),
                });
            }
            Ok(false) => {}
            Err(e) => {
                let _ = signal_group(pgid, libc::SIGKILL);
                st.live = None;
                st.close_pause(now);
                let active = active_at(&st, now);
                drop(st);
                let _ = child.wait();
                return Ok(Supervised {
                    end: ProcessEnd::WaitFailed(format!("waiting for pid {pgid} failed: {e}")),
                    active,
                    group_gone: false,
                    leaked: 0,
                });
            }
        }

        // The longest we may block before a deadline (stop grace, timeout) needs us.
        let mut cap = if mask.is_some() { WOKEN_POLL } else { MAX_POLL };
        if !killed {
            if let Some(stop_at) = st.stop_at {
                let deadline = stop_at + STOP_GRACE;
                if now >= deadline {
                    let _ = signal_group(pgid, libc::SIGKILL);
                    killed = true;
                } else {
                    cap = cap.min(deadline - now);
                }
            } else if let Some(limit) = timeout {
                let active = active_at(&st, now);
                if active >= limit {
                    // SIGKILL reaches stopped processes too, so a frozen group dies as well.
                    let _ = signal_group(pgid, libc::SIGKILL);
                    killed = true;
                    timed_out = true;
                } else if st.paused_since.is_none() {
                    cap = cap.min(limit - active);
                }
            }
        }
        if let Some(fd) = &pidfd {
            // The lock is not held while blocking: pause/resume/stop signal directly.
            drop(st);
            match capture.as_deref_mut() {
                // Output is drained as it comes: a writer never blocks on a full pipe.
                Some(c) => {
                    if poll_with(Some(fd), &c.fds(), cap, mask.as_ref()) > 0 {
                        c.pump();
                    }
                }
                None => wait_readable(fd, cap, mask.as_ref()),
            }
            st = control.lock();
            continue;
        }
        let mut sleep = poll.min(cap);
        if killed {
            // The leader dies within microseconds of SIGKILL; reap it promptly.
            sleep = sleep.min(Duration::from_millis(1));
        }
        let before = Instant::now();
        st = match capture.as_deref_mut() {
            Some(c) => {
                drop(st);
                if poll_with(None, &c.fds(), sleep, None) > 0 {
                    c.pump();
                }
                control.lock()
            }
            None => control.wait(st, sleep),
        };
        if before.elapsed() < sleep {
            // Woken by stop/resume: the state changed, look again soon.
            poll = FIRST_POLL;
        } else {
            poll = (poll * 2).min(MAX_POLL);
        }
    }
}

/// Has child `pid` exited? Checked without reaping it (`WNOWAIT`), so the pid stays
/// ours until the caller reaps it.
fn exited_unreaped(pid: libc::pid_t) -> std::io::Result<bool> {
    use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};
    let pid = Pid::from_raw(pid).ok_or_else(|| std::io::Error::other("pid 0 is no child"))?;
    let how = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
    loop {
        match waitid(WaitId::Pid(pid), how) {
            Ok(status) => return Ok(status.is_some()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A pidfd for `pid` (readable once it exits), or `None` where the kernel has none.
fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// This thread's `ppoll` mask with the wake signal let through (`wake.rs`), prepared
/// once per thread.
fn thread_wake_mask() -> Option<libc::sigset_t> {
    thread_local! {
        static MASK: std::cell::OnceCell<Option<libc::sigset_t>> = const { std::cell::OnceCell::new() };
    }
    MASK.with(|m| *m.get_or_init(super::wake::prepare_thread))
}

/// Blocks until `fd` is readable (the process exited), `timeout` passed or (with
/// `mask`) the wake signal arrived.
fn wait_readable(fd: &OwnedFd, timeout: Duration, mask: Option<&libc::sigset_t>) {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    let mask = mask.map_or(std::ptr::null(), |m| m as *const libc::sigset_t);
    // SAFETY: one valid pollfd, a valid timespec, a valid signal mask or null.
    unsafe { libc::ppoll(&mut pfd, 1, &ts, mask) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn polling_fallback_sees_exit_and_enforces_timeout() {
        for use_pidfd in [false, true] {
            let control = TrialControl::default();
            let limit = Some(Duration::from_secs(5));
            let s = supervise_with(
                &mut sh("exit 3"),
                &control,
                Phase::Agent,
                limit,
                use_pidfd,
                None,
                None,
            )
            .unwrap();
            assert!(matches!(s.end, ProcessEnd::Exited(st) if st.code() == Some(3)));

            let started = Instant::now();
            let limit = Some(Duration::from_millis(200));
            let s = supervise_with(
                &mut sh("sleep 5"),
                &control,
                Phase::Agent,
                limit,
                use_pidfd,
                None,
                None,
            )
            .unwrap();
            assert!(matches!(s.end, ProcessEnd::TimedOut), "{:?}", s.end);
            assert!(started.elapsed() < Duration::from_secs(2));
            assert!(s.active >= Duration::from_millis(200));
        }
    }

    /// A pause that reaches a trial after its agent exited (collecting its results, or
    /// between attempts) is accepted: nothing is frozen, the grader still runs, and the
    /// next agent (a retry) starts only after the resume, its wait counted as paused.
    #[test]
    fn a_pause_between_agents_is_accepted_and_holds_the_next_agent() {
        let tmp = tempfile::tempdir().unwrap();
        let control = std::sync::Arc::new(TrialControl::default());
        control.lock().started = true;
        control
            .pause()
            .expect("a started trial with no live agent accepts a pause");
        assert!(control.is_paused());
        assert_eq!(
            control.pause().unwrap_err(),
            "trial is already paused",
            "a second pause is refused"
        );

        // A grader is not held.
        let graded = tmp.path().join("graded");
        let g = format!("touch {}", graded.display());
        let s = supervise_in(&mut sh(&g), &control, Phase::Grader, None, None, None).unwrap();
        assert!(matches!(s.end, ProcessEnd::Exited(st) if st.code() == Some(0)));
        assert!(graded.exists(), "the grader ran while the trial was paused");

        let ran = tmp.path().join("ran");
        let script = format!("touch {}", ran.display());
        let c = control.clone();
        let agent = std::thread::spawn(move || {
            supervise_in(&mut sh(&script), &c, Phase::Agent, None, None, None).unwrap()
        });
        std::thread::sleep(Duration::from_millis(400));
        assert!(
            !ran.exists(),
            "the next agent started while the trial was paused"
        );
        control.resume().expect("resume releases the held agent");
        let s = agent.join().unwrap();
        assert!(matches!(s.end, ProcessEnd::Exited(st) if st.code() == Some(0)));
        assert!(ran.exists());
        assert!(!control.is_paused());
        assert!(
            control.paused_total() >= Duration::from_millis(400),
            "the held wait counts as paused time: {:?}",
            control.paused_total()
        );

        // A stop releases a held agent without running it.
        control.pause().unwrap();
        control.stop("labj kill");
        let s = supervise_in(&mut sh("exit 0"), &control, Phase::Agent, None, None, None).unwrap();
        assert!(matches!(s.end, ProcessEnd::Stopped(ref r) if r == "labj kill"));
    }

    /// The group is killed while its leader is still an unreaped zombie: a grandchild
    /// left behind by a leader that exited at once is gone when `supervise` returns
    /// (signalling the group then cannot fail with ESRCH nor hit a recycled pgid).
    #[test]
    fn group_is_killed_before_the_leader_is_reaped() {
        let tmp = tempfile::tempdir().unwrap();
        let pidfile = tmp.path().join("gc.pid");
        let script = format!(
            "sleep 60 & echo $! > {p}.tmp && mv {p}.tmp {p}; exit 0",
            p = pidfile.display()
        );
        let control = TrialControl::default();
        let s = supervise_in(&mut sh(&script), &control, Phase::Agent, None, None, None).unwrap();
        assert!(matches!(s.end, ProcessEnd::Exited(st) if st.code() == Some(0)));
        let gc: libc::pid_t = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SIGKILL was sent before supervise returned (delivery is asynchronous: allow a
        // moment); the `sleep 60` grandchild ends dead or a zombie of its new parent.
        let state = |gc: libc::pid_t| {
            std::fs::read_to_string(format!("/proc/{gc}/stat"))
                .ok()
                .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().chars().next()))
                .flatten()
        };
        let t = Instant::now();
        while !matches!(state(gc), None | Some('Z') | Some('X'))
            && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let state = state(gc);
        assert!(
            matches!(state, None | Some('Z') | Some('X')),
            "grandchild {gc} still alive in state {state:?}"
        );
    }
}
