//! [`TrialControl`]: the handle through which the coordinator pauses, resumes and stops
//! the trial a worker thread is executing.
//!
//! Every signal is sent while holding the state lock, and the worker reaps its child
//! under the same lock (see `process::supervise_in`). A registered pgid therefore always
//! names a group whose leader is not yet reaped, so its id cannot have been recycled.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a stopped process group gets between SIGTERM and SIGKILL.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(2);

/// Which command of the trial is currently running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Agent,
    Grader,
}

#[derive(Debug)]
pub(crate) struct Live {
    pub pgid: libc::pid_t,
    pub phase: Phase,
    /// Set when the process is a container engine client: pause/resume act on the
    /// container (the client itself keeps waiting for it).
    pub container: Option<super::sandbox::ContainerRef>,
    /// The worker thread supervising the group, blocked in `ppoll` between deadlines:
    /// woken by stop and resume (`wake.rs`). `None`: it polls on a short cap instead.
    pub waker: Option<libc::pthread_t>,
}

#[derive(Debug, Default)]
pub(crate) struct ControlState {
    pub live: Option<Live>,
    pub paused_since: Option<Instant>,
    /// Completed pauses, summed over the whole trial.
    pub paused_total: Duration,
    pub stop_reason: Option<String>,
    pub stop_at: Option<Instant>,
    /// Set once the trial began executing (see [`TrialControl::begin`]); a trial handed
    /// to a worker ahead of time may be paused before then.
    pub started: bool,
    /// A pause accepted while no agent process was live (the agent had exited and the
    /// trial was collecting its results, or it was between attempts): nothing is frozen,
    /// the trial finishes what it was doing, and its next agent (a retry) starts only
    /// after the resume.
    pub held: bool,
}

impl ControlState {
    /// Paused time up to `now`, including a pause still in progress.
    pub(crate) fn paused_until(&self, now: Instant) -> Duration {
        self.paused_total
            + self
                .paused_since
                .map(|s| now.saturating_duration_since(s))
                .unwrap_or_default()
    }

    /// Interrupts the supervising worker's `ppoll`, so it looks at the state again now.
    /// Called with the lock held: the worker clears `live` under it before it leaves.
    pub(crate) fn wake_worker(&self) {
        if let Some(t) = self.live.as_ref().and_then(|l| l.waker) {
            super::wake::wake(t);
        }
    }

    /// Ends a pause in progress (on resume, or when the group died while frozen).
    pub(crate) fn close_pause(&mut self, now: Instant) {
        if let Some(since) = self.paused_since.take() {
            self.paused_total += now.saturating_duration_since(since);
        }
    }
}

/// Shared between the worker thread running [`super::execute_trial`] and the coordinator.
#[derive(Debug, Default)]
pub struct TrialControl {
    state: Mutex<ControlState>,
    /// Wakes the supervising worker early (stop, resume) instead of at its next poll.
    wake: Condvar,
}

/// Sends `sig` to the whole process group.
pub(crate) fn signal_group(pgid: libc::pid_t, sig: libc::c_int) -> std::io::Result<()> {
    if pgid <= 1 {
        // Never signal -1 (every process) or -0 (our own group).
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    let group = rustix::process::Pid::from_raw(pgid);
    let sig = rustix::process::Signal::from_named_raw(sig);
    match (group, sig) {
        (Some(group), Some(sig)) => Ok(rustix::process::kill_process_group(group, sig)?),
        _ => Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
    }
}

impl TrialControl {
    /// A control for one trial, not yet started, paused or stopped, shared between the
    /// thread that runs the trial and those that pause, resume or stop it.
    pub fn new() -> Arc<TrialControl> {
        Arc::new(TrialControl::default())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ControlState> {
        // A panic while holding this lock cannot leave the state inconsistent in a way
        // that matters more than losing control of the trial, so recover from poison.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps at most `timeout`, returning early on stop/resume.
    pub(crate) fn wait<'a>(
        &'a self,
        guard: MutexGuard<'a, ControlState>,
        timeout: Duration,
    ) -> MutexGuard<'a, ControlState> {
        match self.wake.wait_timeout(guard, timeout) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        }
    }

    /// Freezes the running agent's whole process group (SIGSTOP). A trial not started yet
    /// starts only after the resume; one whose agent already exited (collecting its
    /// results, or between attempts) has nothing to freeze: the pause holds its next
    /// agent. Refused while the trial is stopping or grading (the grader is not frozen).
    pub fn pause(&self) -> Result<(), String> {
        let mut st = self.lock();
        if let Some(reason) = &st.stop_reason {
            return Err(format!("trial is stopping ({reason})"));
        }
        if st.paused_since.is_some() || st.held {
            return Err("trial is already paused".to_string());
        }
        let (pgid, container) = match &st.live {
            Some(Live {
                pgid,
                phase: Phase::Agent,
                container,
                ..
            }) => (*pgid, container),
            Some(Live {
                phase: Phase::Grader,
                ..
            }) => return Err("trial is grading; only a running agent can be paused".into()),
            // Queued on its worker, not started: it starts only after a resume.
            None if !st.started => {
                st.paused_since = Some(Instant::now());
                return Ok(());
            }
            None => {
                st.held = true;
                return Ok(());
            }
        };
        match container {
            // The engine freezes the container's cgroup: every process in it stops.
            Some(c) => c
                .engine()
                .pause(&c.name)
                .map_err(|e| format!("pausing container {} failed: {e}", c.name))?,
            None => signal_group(pgid, libc::SIGSTOP)
                .map_err(|e| format!("SIGSTOP to process group {pgid} failed: {e}"))?,
        }
        st.paused_since = Some(Instant::now());
        Ok(())
    }

    /// Thaws a paused agent (SIGCONT). Refused when the trial is not paused.
    pub fn resume(&self) -> Result<(), String> {
        let mut st = self.lock();
        if st.paused_since.is_none() && !st.held {
            return Err("trial is not paused".to_string());
        }
        st.held = false;
        if let Some(live) = &st.live {
            match &live.container {
                Some(c) => c
                    .engine()
                    .unpause(&c.name)
                    .map_err(|e| format!("unpausing container {} failed: {e}", c.name))?,
                None => signal_group(live.pgid, libc::SIGCONT)
                    .map_err(|e| format!("SIGCONT to process group {} failed: {e}", live.pgid))?,
            }
        }
        st.close_pause(Instant::now());
        st.wake_worker();
        drop(st);
        self.wake.notify_all();
        Ok(())
    }

    /// Marks the trial started, first waiting out a pause that came while it was queued;
    /// returns the reason when it was stopped before it could start.
    pub(crate) fn begin(&self) -> Option<String> {
        let mut st = self.lock();
        while st.paused_since.is_some() && st.stop_reason.is_none() {
            st = self.wait(st, Duration::from_millis(50));
        }
        st.started = true;
        st.stop_reason.clone()
    }

    /// Whether the trial is paused now (also when the pause came while it was queued, or
    /// holds its next agent).
    pub fn is_paused(&self) -> bool {
        let st = self.lock();
        st.paused_since.is_some() || st.held
    }

    /// Waits out a pause that holds the next agent (see [`ControlState::held`]), counting
    /// the wait as paused time. Returns the guard to spawn under.
    pub(crate) fn wait_unheld<'a>(
        &'a self,
        mut st: MutexGuard<'a, ControlState>,
    ) -> MutexGuard<'a, ControlState> {
        if st.held {
            let since = Instant::now();
            while st.held && st.stop_reason.is_none() {
                st = self.wait(st, Duration::from_millis(50));
            }
            st.paused_total += since.elapsed();
        }
        st
    }

    /// Whether [`TrialControl::stop`] was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.lock().stop_reason.is_some()
    }

    /// Stops the trial: SIGTERM to the live group now (thawing it if paused), SIGKILL
    /// after [`STOP_GRACE`]. The trial ends `cancelled` and is not retried. Idempotent.
    pub fn stop(&self, reason: &str) {
        let mut st = self.lock();
        if st.stop_reason.is_none() {
            st.stop_reason = Some(reason.to_string());
            st.stop_at = Some(Instant::now());
        }
        st.held = false;
        if let Some(live) = &st.live {
            // A paused container must thaw to receive the SIGTERM its client forwards.
            if let (Some(c), Some(_)) = (&live.container, st.paused_since) {
                let _ = c.engine().unpause(&c.name);
            }
            // Errors mean the group is already gone, which is what we want.
            let _ = signal_group(live.pgid, libc::SIGTERM);
            if st.paused_since.is_some() {
                let _ = signal_group(live.pgid, libc::SIGCONT);
            }
        }
        st.close_pause(Instant::now());
        st.wake_worker();
        drop(st);
        self.wake.notify_all();
    }

    /// Count `d` as paused time: the whole process was stopped from outside (a Slurm job
    /// suspension), so the agent did not run for `d` either.
    pub fn credit_paused(&self, d: Duration) {
        self.lock().paused_total += d;
    }

    /// Total paused time so far (including a pause in progress).
    pub(crate) fn paused_total(&self) -> Duration {
        self.lock().paused_until(Instant::now())
    }
}
