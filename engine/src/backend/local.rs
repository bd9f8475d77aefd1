//! `LocalThreadWorkerBackend`: a bounded pool of threads on this machine, each running
//! trials through the [`TrialExecutor`](exec::executor).
//!
//! `AGENTLAB_LOCAL_WORKER_MAX_IN_FLIGHT` may impose a ceiling stricter than the requested
//! concurrency; the backend then reports a notice the coordinator journals as
//! `backend_warning`. Completions travel over a channel and are drained at most `max`
//! per poll, so a burst is delivered across several polls without loss.

use super::*;
use exec::executor::recycle::TrialDirs;
use exec::executor::{execute_and_compact, TrialControl};
use journal::event::Classification;
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};

/// Runs one trial; the default is [`execute_and_compact`]. Tests inject in-process runners.
pub(crate) type TrialRunner = Arc<dyn Fn(&TrialSpec, &TrialControl) -> TrialOutcome + Send + Sync>;

pub(crate) const CEILING_ENV: &str = "AGENTLAB_LOCAL_WORKER_MAX_IN_FLIGHT";

/// Fault injection (feature `fault-injection`): every worker thread hangs forever after
/// its trial ran, as a worker stuck on a dead filesystem would.
#[cfg(feature = "fault-injection")]
pub(crate) const FAULT_WORKER_HANG_ENV: &str = "LABJ_FAULT_WORKER_HANG";

struct Job {
    dispatch: TrialDispatch,
    control: Arc<TrialControl>,
}

/// What the coordinator's wait receives: a trial's completion, or a wake-up (a control
/// request or a signal arrived: see [`WorkerBackend::waker`]).
enum Delivery {
    Done(Box<TrialCompletion>),
    Wake,
}

/// Run permits: at most `limit` trials execute at once, however many threads exist and
/// however many jobs are queued (the capacity can be lowered while trials run).
#[derive(Default)]
struct Permits {
    state: Mutex<(usize, usize)>, // (limit, running)
    freed: Condvar,
}

impl Permits {
    fn acquire(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while st.1 >= st.0 {
            st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.1 += 1;
    }

    fn release(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.1 -= 1;
        drop(st);
        self.freed.notify_one();
    }

    fn set_limit(&self, limit: usize) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = limit;
        self.freed.notify_all();
    }
}

pub(crate) struct LocalThreadWorkerBackend {
    worker_id: String,
    requested: usize,
    ceiling: Option<usize>,
    in_flight: usize,
    threads: usize,
    controls: HashMap<String, Arc<TrialControl>>,
    jobs: Option<Sender<Job>>,
    job_rx: Arc<Mutex<Receiver<Job>>>,
    done_tx: Sender<Delivery>,
    done_rx: Receiver<Delivery>,
    runner: TrialRunner,
    notices: Vec<BackendNotice>,
    handles: Vec<std::thread::JoinHandle<()>>,
    /// Worker threads still alive (a thread decrements it as it exits).
    alive: Arc<Alive>,
    /// Set by [`WorkerBackend::abandon`]: drop does not wait for stuck workers.
    abandoned: bool,
    permits: Arc<Permits>,
    /// Jobs accepted beyond the capacity (see `WorkerBackend::set_queue_depth`).
    queue_depth: usize,
}

/// How long dropping the backend waits for its workers to finish after asking their
/// trials to stop (the executor's own stop escalates to SIGKILL well within it).
const DROP_WAIT: Duration = Duration::from_secs(10);

/// A worker thread's panic as text, for the infrastructure outcome that replaces the
/// completion it would have sent.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into())
}

/// Parse the ceiling variable: unset → none; a positive integer → that; else an error
/// that names the variable and the bad value.
pub(crate) fn ceiling_from_env() -> Result<Option<usize>, String> {
    match std::env::var(CEILING_ENV) {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!(
                "{CEILING_ENV}={v:?} is not a positive integer (unset it or give e.g. 4)"
            )),
        },
    }
}

impl LocalThreadWorkerBackend {
    /// A pool running real trials; reads the ceiling from the environment.
    pub(crate) fn new(requested: usize) -> Result<Self, String> {
        let ceiling = ceiling_from_env()?;
        // Trial directories compaction retires, taken again by later trials.
        let dirs = TrialDirs::new();
        Ok(Self::with_runner(
            requested,
            ceiling,
            Arc::new(move |spec: &TrialSpec, control: &TrialControl| {
                // Plain host agents: escaped processes come back to labj, so the
                // after-attempt sweep reads labj's children instead of scanning /proc
                // (exec::isolation's subreaper.rs; agents are spawned by these worker
                // threads only). Not for sandboxes and containers: their PID namespace
                // ends everything, and an engine's daemons must not become our zombies.
                if spec.isolation.mode == model::isolation::IsolationMode::Local {
                    exec::isolation::enable_child_subreaper();
                }
                execute_and_compact(spec, control, &dirs)
            }),
        ))
    }

    pub(crate) fn with_runner(
        requested: usize,
        ceiling: Option<usize>,
        runner: TrialRunner,
    ) -> Self {
        let (jobs, job_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let mut b = LocalThreadWorkerBackend {
            worker_id: format!("local-{}", std::process::id()),
            requested: requested.max(1),
            ceiling,
            in_flight: 0,
            threads: 0,
            controls: HashMap::new(),
            jobs: Some(jobs),
            job_rx: Arc::new(Mutex::new(job_rx)),
            done_tx,
            done_rx,
            runner,
            notices: Vec::new(),
            handles: Vec::new(),
            alive: Arc::default(),
            abandoned: false,
            permits: Arc::default(),
            queue_depth: 0,
        };
        b.permits.set_limit(b.capacity());
        b.note_ceiling();
        b
    }

    fn note_ceiling(&mut self) {
        if let Some(c) = self.ceiling {
            if c < self.requested {
                self.notices.push(BackendNotice {
                    code: "local_capacity_ceiling".into(),
                    message: format!(
                        "{CEILING_ENV}={c} is below the requested concurrency {}; running at most {c} trials at once",
                        self.requested
                    ),
                    requested: Some(self.requested as u32),
                    effective: Some(c as u32),
                    digests: Vec::new(),
                });
            }
        }
    }

    fn spawn_worker(&mut self) -> Result<(), SubmitError> {
        let rx = Arc::clone(&self.job_rx);
        let done = self.done_tx.clone();
        let runner = Arc::clone(&self.runner);
        let worker_id = self.worker_id.clone();
        let permits = Arc::clone(&self.permits);
        let n = self.threads;
        let alive = Arc::clone(&self.alive);
        alive.enter();
        let exit_guard = AliveGuard(Arc::clone(&alive));
        let spawned = std::thread::Builder::new()
            .name(format!("labj-worker-{n}"))
            .spawn(move || {
                let _exit = exit_guard;
                // Agent spawns copy only this thread's few descriptors (see the fn).
                exec::executor::private_fd_table();
                loop {
                    // Hold the lock only while receiving, never while running a trial.
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let spec = &job.dispatch.spec;
                    // A panic in labj's own code must not swallow the completion (the
                    // coordinator would wait for it forever): it becomes an infrastructure
                    // outcome, re-run under the infra-retry rules, never a verdict.
                    permits.acquire();
                    let outcome =
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            runner(spec, &job.control)
                        })) {
                            Ok(o) => o,
                            Err(p) => TrialOutcome::infra(
                                Classification::WorkerLost,
                                format!("labj worker thread panicked: {}", panic_text(p.as_ref())),
                            ),
                        };
                    permits.release();
                    // Fault injection (test builds only): a worker stuck after its trial,
                    // outside the agent, where no stop reaches it.
                    #[cfg(feature = "fault-injection")]
                    if std::env::var_os(FAULT_WORKER_HANG_ENV).is_some() {
                        loop {
                            std::thread::sleep(Duration::from_secs(3600));
                        }
                    }
                    let completion = TrialCompletion {
                        ticket_id: job.dispatch.ticket_id.clone(),
                        worker_id: worker_id.clone(),
                        schedule_idx: spec.schedule_idx,
                        trial_id: spec.trial_id.clone(),
                        completion_seq: 1,
                        outcome,
                    };
                    if done.send(Delivery::Done(Box::new(completion))).is_err() {
                        return;
                    }
                }
            });
        match spawned {
            Ok(handle) => {
                self.handles.push(handle);
                self.threads += 1;
                Ok(())
            }
            // The closure (and its guard) was dropped: `alive` is already back.
            Err(e) => Err(SubmitError::Fatal(format!(
                "cannot start worker thread {} ({e}); lower --max-concurrency",
                n + 1
            ))),
        }
    }
}

impl WorkerBackend for LocalThreadWorkerBackend {
    fn capacity(&self) -> usize {
        match self.ceiling {
            Some(c) => c.min(self.requested),
            None => self.requested,
        }
    }

    fn set_requested_capacity(&mut self, requested: usize) {
        self.requested = requested.max(1);
        self.permits.set_limit(self.capacity());
        self.note_ceiling();
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn max_queue_depth(&self) -> usize {
        self.capacity()
    }

    fn set_queue_depth(&mut self, depth: usize) {
        self.queue_depth = depth.min(self.max_queue_depth());
    }

    fn submit(&mut self, dispatch: TrialDispatch) -> Result<WorkerTicket, SubmitError> {
        let limit = self.capacity() + self.queue_depth;
        if self.in_flight >= limit {
            return Err(SubmitError::Capacity {
                in_flight: self.in_flight,
                limit,
            });
        }
        // One thread per trial that may run at once; queued jobs wait in the channel.
        if self.threads <= self.in_flight && self.threads < self.capacity() {
            self.spawn_worker()?;
        }
        let control = TrialControl::new();
        let ticket = WorkerTicket {
            ticket_id: dispatch.ticket_id.clone(),
            worker_id: self.worker_id.clone(),
        };
        self.controls
            .insert(dispatch.ticket_id.clone(), Arc::clone(&control));
        let sender = self
            .jobs
            .as_ref()
            .ok_or_else(|| SubmitError::Fatal("backend is shut down".into()))?;
        sender
            .send(Job { dispatch, control })
            .map_err(|_| SubmitError::Fatal("every worker thread has exited".into()))?;
        self.in_flight += 1;
        Ok(ticket)
    }

    fn poll_completions(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<TrialCompletion>, BackendError> {
        let max = max.clamp(1, MAX_DRAIN_PER_POLL);
        let mut out = Vec::new();
        match self.done_rx.recv_timeout(timeout) {
            Ok(Delivery::Done(c)) => out.push(*c),
            // Woken: return what is ready, possibly nothing.
            Ok(Delivery::Wake) => {}
            Err(RecvTimeoutError::Timeout) => return Ok(out),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(BackendError("completion channel closed".into()))
            }
        }
        while out.len() < max {
            match self.done_rx.try_recv() {
                Ok(Delivery::Done(c)) => out.push(*c),
                Ok(Delivery::Wake) => {}
                Err(_) => break,
            }
        }
        for c in &out {
            self.controls.remove(&c.ticket_id);
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        Ok(out)
    }

    fn request_pause(&mut self, ticket_id: &str, _label: Option<&str>) -> WorkerPauseAck {
        let (accepted, reason) = match self.controls.get(ticket_id) {
            Some(c) => match c.pause() {
                Ok(()) => (true, None),
                Err(e) => (false, Some(e)),
            },
            None => (
                false,
                Some(format!("no trial with ticket {ticket_id} is running")),
            ),
        };
        WorkerPauseAck {
            ticket_id: ticket_id.to_string(),
            worker_id: self.worker_id.clone(),
            accepted,
            reason,
        }
    }

    fn request_resume(&mut self, ticket_id: &str) -> Result<(), String> {
        match self.controls.get(ticket_id) {
            Some(c) => c.resume(),
            None => Err(format!("no trial with ticket {ticket_id} is running")),
        }
    }

    fn request_stop(&mut self, ticket_id: &str, reason: &str) {
        if let Some(c) = self.controls.get(ticket_id) {
            c.stop(reason);
        }
    }

    fn take_events(&mut self) -> Vec<BackendEvent> {
        self.notices.drain(..).map(BackendEvent::Notice).collect()
    }

    fn waker(&self) -> Option<Waker> {
        let tx = self.done_tx.clone();
        Some(Waker::new(move || {
            let _ = tx.send(Delivery::Wake);
        }))
    }

    fn abandon(&mut self) {
        self.abandoned = true;
    }
}

/// How many worker threads are alive, and a condition variable signalled whenever one
/// ends, so dropping the backend waits exactly as long as its workers take (not in
/// polling steps: a run's end was 10 ms later than its last worker's).
#[derive(Default)]
struct Alive {
    count: Mutex<usize>,
    gone: std::sync::Condvar,
}

impl Alive {
    fn enter(&self) {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }

    fn leave(&self) {
        let mut n = self.count.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        self.gone.notify_all();
    }

    /// Waits until no worker is alive or `wait` has passed; whether none is.
    fn wait_none(&self, wait: Duration) -> bool {
        let n = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let (n, _) = self
            .gone
            .wait_timeout_while(n, wait, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *n == 0
    }
}

/// Decrements the live-thread count when a worker thread ends (or never starts).
struct AliveGuard(Arc<Alive>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl Drop for LocalThreadWorkerBackend {
    fn drop(&mut self) {
        // Never leave agents running behind a coordinator that is going away.
        for c in self.controls.values() {
            c.stop("coordinator shutting down");
        }
        self.jobs = None;
        // Bounded: a worker stuck outside its agent must not keep the process alive.
        let wait = if self.abandoned {
            Duration::ZERO
        } else {
            DROP_WAIT
        };
        if self.alive.wait_none(wait) {
            for h in self.handles.drain(..) {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests;
