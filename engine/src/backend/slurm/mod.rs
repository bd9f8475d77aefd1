//! `SlurmBackend`: one Slurm batch job per trial attempt, or with `--slurm-workers N`
//! at most N long-lived pilot worker jobs taking trials one after another (`pilot`;
//! the backend then delegates every call to its pool).
//!
//! The coordinator stays on the submitting host and stays the only journal writer. Each
//! accepted dispatch becomes `sbatch` of a script running `labj trial exec` (the same
//! [`execute_trial`](exec::executor::execute_trial) as a local run) on whatever node
//! Slurm picks; the job writes its [`TrialOutcome`] into the shared run directory and the
//! backend hands it to the coordinator as a [`TrialCompletion`]. The run directory must
//! therefore be on a filesystem the nodes share (the normal Slurm assumption), at the
//! same path, and the `labj` binary must be runnable there at the same path.
//!
//! Mapping of run control: pause → `scontrol suspend` (a job still pending is held
//! instead: `scontrol hold`), resume → `scontrol resume` / `release`, kill and cancel →
//! `scancel`. A job that ends without writing an outcome (node failure, preemption, boot
//! failure, `scancel` by someone other than labj, a Slurm time limit) is reported as
//! `worker_lost`: an infrastructure fault, never a verdict on the agent.

mod cmd;
mod job;
mod pilot;
mod pilot_files;
mod pilot_worker;
pub(crate) mod recover;

pub use cmd::{squeue, JobState};
pub use job::exec_job;
pub use pilot_worker::serve as serve_pilot;

use super::*;
use journal::event::{BackendJobSubmitted, Classification};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

/// How often `squeue` is asked about the jobs in flight (outcome files are looked at on
/// every poll; `squeue` only matters for jobs that end without one).
const SQUEUE_EVERY: Duration = Duration::from_millis(1000);
/// Consecutive failed `squeue` calls (one per [`SQUEUE_EVERY`]) tolerated before the run
/// fails: a controller that is briefly busy or restarting must not end a run.
const SQUEUE_FAILURES_TOLERATED: u32 = 60;
/// Slurm time limit = the trial's own budget (timeout × attempts) plus this margin, in
/// minutes, for staging, grading and the scheduler; labj's own timeout fires first.
pub(crate) const TIME_MARGIN_MINUTES: u64 = 5;

/// How to submit jobs.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlurmConfig {
    /// `--partition`; `None` = the cluster's default partition.
    pub partition: Option<String>,
    /// Extra `sbatch` arguments, passed after labj's own (so they win where both set one).
    pub extra_args: Vec<String>,
    /// The `labj` binary the jobs run (this process's own executable).
    pub labj_exe: PathBuf,
    /// The run directory, absolute (shared with the nodes).
    pub run_dir: PathBuf,
    /// Working directory of the jobs: the coordinator's, so relative paths resolve alike.
    pub workdir: PathBuf,
    /// The run's id (names the pilot worker jobs).
    pub run_id: String,
    /// `--slurm-workers N`: at most N long-lived worker jobs ([`pilot`]); `None`: one
    /// job per trial attempt.
    pub workers: Option<usize>,
}

struct Job {
    schedule_idx: u64,
    trial_id: String,
    job_id: String,
    dir: PathBuf,
    /// Set once labj itself asked Slurm to end the job (`labj cancel`/`kill`).
    stop_reason: Option<String>,
    /// Paused while still pending: held rather than suspended.
    held: bool,
}

pub(crate) struct SlurmBackend {
    cfg: SlurmConfig,
    requested: usize,
    jobs: HashMap<String, Job>,
    ready: VecDeque<TrialCompletion>,
    records: Vec<BackendJobSubmitted>,
    last_squeue: Option<Instant>,
    squeue_failures: u32,
    /// Pilot mode: every trial goes to a worker job of this pool.
    pilot: Option<Box<pilot::Pool>>,
}

impl SlurmBackend {
    /// A backend submitting to the cluster `sbatch` reaches; fails (naming the command)
    /// when Slurm's tools are missing or the controller does not answer.
    pub(crate) fn new(cfg: SlurmConfig, requested: usize) -> Result<Self, String> {
        let out = std::process::Command::new("sinfo")
            .args(["-h", "-o", "%P"])
            .output()
            .map_err(|e| format!("sinfo: cannot run ({e}); is Slurm installed? (scripts/slurm-dev-cluster.sh start sets up a one-node cluster)"))?;
        if !out.status.success() {
            return Err(format!(
                "the Slurm controller does not answer (sinfo: {}); start it (scripts/slurm-dev-cluster.sh start) or check slurm.conf",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let pilot = match cfg.workers {
            Some(n) => Some(Box::new(pilot::Pool::new(cfg.clone(), n, requested)?)),
            None => None,
        };
        Ok(SlurmBackend {
            pilot,
            cfg,
            requested: requested.max(1),
            jobs: HashMap::new(),
            ready: VecDeque::new(),
            records: Vec::new(),
            last_squeue: None,
            squeue_failures: 0,
        })
    }

    /// The job name labj gives the job of `ticket_id` (found again by name if a crash
    /// came between `sbatch` and journaling its id).
    pub(crate) fn job_name(ticket_id: &str) -> String {
        format!("labj-{ticket_id}")
    }

    fn sbatch_args(&self, dispatch: &TrialDispatch, dir: &std::path::Path) -> Vec<String> {
        let spec = &dispatch.spec;
        let budget_ms = spec
            .agent
            .timeout_ms
            .saturating_mul(u64::from(spec.retry.max_attempts.max(1)));
        let minutes = budget_ms.div_ceil(60_000) + TIME_MARGIN_MINUTES;
        let mut args = vec![
            format!("--job-name={}", Self::job_name(&dispatch.ticket_id)),
            format!("--output={}/slurm-%j.out", dir.display()),
            format!("--chdir={}", self.cfg.workdir.display()),
            format!("--time={minutes}"),
            // labj decides what to re-run; Slurm must never run an attempt twice.
            "--no-requeue".to_string(),
            "--ntasks=1".to_string(),
        ];
        if let Some(p) = &self.cfg.partition {
            args.push(format!("--partition={p}"));
        }
        args.extend(self.cfg.extra_args.iter().cloned());
        args
    }

    /// Take over a job a previous session submitted (`labj continue`).
    pub(crate) fn reattach(
        &mut self,
        ticket_id: &str,
        schedule_idx: u64,
        trial_id: &str,
        job_id: &str,
    ) {
        if let Some(p) = &mut self.pilot {
            return p.reattach(ticket_id, schedule_idx, trial_id, job_id);
        }
        self.records.push(BackendJobSubmitted {
            schedule_idx,
            trial_id: trial_id.to_string(),
            ticket_id: ticket_id.to_string(),
            backend: "slurm".into(),
            job_id: job_id.to_string(),
            action: "reattached".into(),
        });
        self.jobs.insert(
            ticket_id.to_string(),
            Job {
                schedule_idx,
                trial_id: trial_id.to_string(),
                job_id: job_id.to_string(),
                dir: job::job_dir(&self.cfg.run_dir, ticket_id),
                stop_reason: None,
                held: false,
            },
        );
    }

    fn complete(&mut self, ticket_id: &str, outcome: TrialOutcome) {
        if let Some(j) = self.jobs.remove(ticket_id) {
            self.ready.push_back(TrialCompletion {
                ticket_id: ticket_id.to_string(),
                worker_id: format!("slurm-job-{}", j.job_id),
                schedule_idx: j.schedule_idx,
                trial_id: j.trial_id,
                completion_seq: 1,
                outcome,
            });
        }
    }

    /// Deliver every job whose outcome file is there; with `ask_slurm`, also end the
    /// jobs Slurm says are over without one.
    fn collect(&mut self, ask_slurm: bool) -> Result<(), BackendError> {
        let mut done = Vec::new();
        for (ticket, j) in &self.jobs {
            match job::read_outcome(&j.dir) {
                Ok(Some(o)) => done.push((ticket.clone(), o)),
                Ok(None) => {}
                Err(e) => done.push((ticket.clone(), lost(&j.job_id, e))),
            }
        }
        for (t, o) in done {
            self.complete(&t, o);
        }
        if !ask_slurm || self.jobs.is_empty() {
            return Ok(());
        }
        self.last_squeue = Some(Instant::now());
        let ids: Vec<String> = self.jobs.values().map(|j| j.job_id.clone()).collect();
        let Some(states) = squeue_tolerant(&ids, &mut self.squeue_failures)? else {
            return Ok(());
        };
        let mut over = Vec::new();
        for (ticket, j) in &self.jobs {
            match states.get(&j.job_id) {
                Some(s) if !s.is_terminal() => continue,
                state => over.push((ticket.clone(), state.cloned())),
            }
        }
        for (ticket, state) in over {
            let j = &self.jobs[&ticket];
            // The job may have written its outcome between our look and squeue's answer.
            let outcome = match job::read_outcome(&j.dir) {
                Ok(Some(o)) => o,
                Ok(None) | Err(_) => {
                    let how = match &state {
                        Some(s) => format!("ended {} ({})", s.state, s.reason),
                        None => "is unknown to Slurm".to_string(),
                    };
                    match &j.stop_reason {
                        Some(reason) => TrialOutcome {
                            classification: Classification::Cancelled,
                            error: Some(format!("slurm job {} cancelled by {reason}", j.job_id)),
                            ..lost(&j.job_id, String::new())
                        },
                        None => lost(
                            &j.job_id,
                            format!(
                                "slurm job {} {how} without writing an outcome{}",
                                j.job_id,
                                job_output_tail(&j.dir, &j.job_id)
                            ),
                        ),
                    }
                }
            };
            self.complete(&ticket, outcome);
        }
        Ok(())
    }
}

/// An attempt the infrastructure lost: `worker_lost`, with why.
fn lost(_job_id: &str, error: String) -> TrialOutcome {
    TrialOutcome::infra(Classification::WorkerLost, error)
}

/// The last line the job printed, as context for a loss (e.g. "labj: not found").
fn job_output_tail(dir: &std::path::Path, job_id: &str) -> String {
    let path = dir.join(format!("slurm-{job_id}.out"));
    match std::fs::read_to_string(&path) {
        Ok(text) => match text.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(line) => format!("; its last output line: {}", line.trim()),
            None => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// `squeue` of `ids`, tolerating Slurm not answering up to
/// [`SQUEUE_FAILURES_TOLERATED`] times in a row (`failures` counts them): `Ok(None)`
/// after a tolerated failure (look again later), an error once the count is reached.
pub(super) fn squeue_tolerant(
    ids: &[String],
    failures: &mut u32,
) -> Result<Option<std::collections::HashMap<String, cmd::JobState>>, BackendError> {
    match cmd::squeue(ids) {
        Ok(s) => {
            *failures = 0;
            Ok(Some(s))
        }
        Err(e) if *failures < SQUEUE_FAILURES_TOLERATED => {
            *failures += 1;
            tracing::warn!("{e} (attempt {}; retrying)", *failures);
            Ok(None)
        }
        Err(e) => Err(BackendError(format!(
            "{e}; Slurm did not answer {SQUEUE_FAILURES_TOLERATED} times in a row"
        ))),
    }
}

/// What both Slurm backends (a job per trial, pilot workers) poll the same way:
/// completions ready to hand over, and a look at the shared run directory that asks
/// `squeue` too when [`SQUEUE_EVERY`] has passed.
pub(super) trait Collect {
    fn ready(&mut self) -> &mut VecDeque<TrialCompletion>;
    fn last_squeue(&self) -> Option<Instant>;
    fn collect(&mut self, ask_slurm: bool) -> Result<(), BackendError>;
}

/// Looks until something is ready or `timeout` passed (sleeping at most `step` between
/// looks), then hands over at most `max` completions; the rest wait for the next poll.
pub(super) fn poll_ready(
    b: &mut impl Collect,
    timeout: Duration,
    max: usize,
    step: Duration,
) -> Result<Vec<TrialCompletion>, BackendError> {
    let max = max.clamp(1, MAX_DRAIN_PER_POLL);
    let deadline = Instant::now() + timeout;
    loop {
        if !b.ready().is_empty() {
            break;
        }
        let ask = b.last_squeue().is_none_or(|t| t.elapsed() >= SQUEUE_EVERY);
        b.collect(ask)?;
        let now = Instant::now();
        if !b.ready().is_empty() || now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(step));
    }
    let ready = b.ready();
    let n = ready.len().min(max);
    Ok(ready.drain(..n).collect())
}

impl Collect for SlurmBackend {
    fn ready(&mut self) -> &mut VecDeque<TrialCompletion> {
        &mut self.ready
    }
    fn last_squeue(&self) -> Option<Instant> {
        self.last_squeue
    }
    fn collect(&mut self, ask_slurm: bool) -> Result<(), BackendError> {
        SlurmBackend::collect(self, ask_slurm)
    }
}

impl WorkerBackend for SlurmBackend {
    fn capacity(&self) -> usize {
        if let Some(p) = &self.pilot {
            return p.capacity();
        }
        self.requested
    }

    fn set_requested_capacity(&mut self, requested: usize) {
        if let Some(p) = &mut self.pilot {
            return p.set_requested_capacity(requested);
        }
        self.requested = requested.max(1);
    }

    fn in_flight(&self) -> usize {
        if let Some(p) = &self.pilot {
            return p.in_flight();
        }
        self.jobs.len() + self.ready.len()
    }

    fn expect_submissions(&mut self, upcoming: &[TrialDispatch]) {
        if let Some(p) = &mut self.pilot {
            p.expect_submissions(upcoming);
        }
    }

    fn submit(&mut self, dispatch: TrialDispatch) -> Result<WorkerTicket, SubmitError> {
        if let Some(p) = &mut self.pilot {
            return p.submit(dispatch);
        }
        let limit = self.capacity();
        if self.in_flight() >= limit {
            return Err(SubmitError::Capacity {
                in_flight: self.in_flight(),
                limit,
            });
        }
        let dir = job::job_dir(&self.cfg.run_dir, &dispatch.ticket_id);
        let script = job::prepare(&dir, &dispatch.spec, &self.cfg.labj_exe).map_err(|e| {
            SubmitError::Fatal(format!(
                "cannot write the job files in {}: {e}",
                dir.display()
            ))
        })?;
        let args = self.sbatch_args(&dispatch, &dir);
        let job_id = cmd::sbatch(&args, &script).map_err(SubmitError::Fatal)?;
        let spec = &dispatch.spec;
        self.records.push(BackendJobSubmitted {
            schedule_idx: spec.schedule_idx,
            trial_id: spec.trial_id.clone(),
            ticket_id: dispatch.ticket_id.clone(),
            backend: "slurm".into(),
            job_id: job_id.clone(),
            action: "submitted".into(),
        });
        self.jobs.insert(
            dispatch.ticket_id.clone(),
            Job {
                schedule_idx: spec.schedule_idx,
                trial_id: spec.trial_id.clone(),
                job_id: job_id.clone(),
                dir,
                stop_reason: None,
                held: false,
            },
        );
        Ok(WorkerTicket {
            ticket_id: dispatch.ticket_id,
            worker_id: format!("slurm-job-{job_id}"),
        })
    }

    fn poll_completions(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<TrialCompletion>, BackendError> {
        if let Some(p) = &mut self.pilot {
            return p.poll_completions(timeout, max);
        }
        poll_ready(self, timeout, max, Duration::from_millis(25))
    }

    fn request_pause(&mut self, ticket_id: &str, _label: Option<&str>) -> WorkerPauseAck {
        if let Some(p) = &mut self.pilot {
            return p.request_pause(ticket_id, _label);
        }
        let worker_id = |j: Option<&Job>| {
            j.map(|j| format!("slurm-job-{}", j.job_id))
                .unwrap_or_else(|| "slurm".into())
        };
        let Some(j) = self.jobs.get_mut(ticket_id) else {
            return WorkerPauseAck {
                ticket_id: ticket_id.to_string(),
                worker_id: worker_id(None),
                accepted: false,
                reason: Some(format!("no slurm job with ticket {ticket_id} is in flight")),
            };
        };
        let state = cmd::squeue(std::slice::from_ref(&j.job_id))
            .ok()
            .and_then(|s| s.get(&j.job_id).cloned());
        let result = match &state {
            Some(s) if s.is_pending() => cmd::scontrol("hold", &j.job_id).map(|_| j.held = true),
            // The job ended (its result not read yet): no agent of it runs any more,
            // which is all a pause asks for.
            Some(s) if s.is_terminal() => Ok(()),
            _ => cmd::scontrol("suspend", &j.job_id),
        };
        WorkerPauseAck {
            ticket_id: ticket_id.to_string(),
            worker_id: worker_id(Some(j)),
            accepted: result.is_ok(),
            reason: result.err(),
        }
    }

    fn request_resume(&mut self, ticket_id: &str) -> Result<(), String> {
        if let Some(p) = &mut self.pilot {
            return p.request_resume(ticket_id);
        }
        let j = self
            .jobs
            .get_mut(ticket_id)
            .ok_or_else(|| format!("no slurm job with ticket {ticket_id} is in flight"))?;
        if j.held {
            j.held = false;
            cmd::scontrol("release", &j.job_id)
        } else {
            cmd::scontrol("resume", &j.job_id)
        }
    }

    fn request_stop(&mut self, ticket_id: &str, reason: &str) {
        if let Some(p) = &mut self.pilot {
            return p.request_stop(ticket_id, reason);
        }
        if let Some(j) = self.jobs.get_mut(ticket_id) {
            j.stop_reason = Some(reason.to_string());
            if let Err(e) = cmd::scancel(&j.job_id) {
                tracing::warn!(ticket = ticket_id, "{e}");
            }
            // Look at Slurm again soon rather than a full interval later.
            self.last_squeue = None;
        }
    }

    fn take_events(&mut self) -> Vec<BackendEvent> {
        if let Some(p) = &mut self.pilot {
            return p.take_events();
        }
        self.records
            .drain(..)
            .map(BackendEvent::JobSubmitted)
            .collect()
    }

    fn dispatch_worker_id(&self) -> String {
        // The job id is known only after `sbatch`: see `backend_job_submitted`.
        format!("slurm-via-{}", std::process::id())
    }
}
