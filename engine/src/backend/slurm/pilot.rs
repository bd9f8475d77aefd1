//! `--slurm-workers N`: at most N long-lived pilot worker jobs instead of one job per
//! trial attempt. Each worker job runs `labj trial pilot` ([`super::pilot_worker`]) and
//! takes trials one after another from its inbox in the shared run directory
//! ([`super::pilot_files`]); the coordinator hands each trial to exactly one worker and
//! collects outcomes from the outboxes.
//!
//! - At most N worker jobs are queued or running at any time: a job counts until
//!   `squeue` says it ended, and a replacement is submitted only then, when work waits.
//! - A worker job Slurm has not started holds no trial while a started one has room:
//!   the trials waiting in its inbox move to the started worker (journaled `moved`), so a
//!   job stuck in the queue (a drained node, a held job, a busy partition) cannot hold
//!   its trials back. The move is a rename, like the worker's own claim: of a move and a
//!   claim racing for one trial exactly one succeeds. Started workers are told apart
//!   from queued ones by `squeue`, or by having answered a trial.
//! - A worker job that ends (killed, `scancel`, time limit, node failure) with trials
//!   it did not answer reports each as `worker_lost` (an infrastructure fault the
//!   coordinator re-runs under its budget, never scored), or `cancelled` when labj
//!   itself had stopped that trial.
//! - Pause, resume and stop act on one trial through a control file the worker applies
//!   to that trial alone (its other trials run on), and answers.
//! - Workers end when no work is left: the backend writes `stop` when the session ends,
//!   and a worker that had nothing to do for [`IDLE_SECS`] leaves by itself (so a
//!   coordinator killed with -9 leaves no job behind for long).
//! - `labj continue` adopts the run's live worker jobs (found by job name), so the bound
//!   holds across sessions, and reattaches the trials they still run or answered.

use super::pilot_files as files;
use super::{cmd, SlurmConfig, TIME_MARGIN_MINUTES};
use crate::backend::*;
use journal::event::{BackendJobSubmitted, Classification};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

/// A worker with nothing to do leaves after this many seconds.
pub(crate) const IDLE_SECS: u64 = 30;
/// Time limit of a worker job when no `--slurm-arg=--time=…` says otherwise: at least
/// this many minutes, and at least one trial's budget plus the margin.
pub(crate) const WORKER_MIN_MINUTES: u64 = 60;
/// A worker pending longer than this is reported (e.g. its node is drained).
const PENDING_NOTICE_AFTER: Duration = Duration::from_secs(5);
/// How long a pause or resume waits for the worker's answer.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// The longest a trial like `spec` may take, all its attempts included.
fn budget_ms(spec: &model::trial::TrialSpec) -> u64 {
    spec.agent
        .timeout_ms
        .saturating_mul(u64::from(spec.retry.max_attempts.max(1)))
}

struct Worker {
    dir: PathBuf,
    /// Trials handed to it and not answered.
    load: usize,
    /// The last state `squeue` reported (`None` before the first look).
    state: Option<cmd::JobState>,
    /// It wrote `gone` or was told `stop`: it gets nothing more.
    closed: bool,
    since: Instant,
    pending_noted: bool,
}

struct Assigned {
    job_id: String,
    schedule_idx: u64,
    trial_id: String,
    stop_reason: Option<String>,
    ctl_seq: u64,
}

pub(crate) struct Pool {
    cfg: SlurmConfig,
    max_workers: usize,
    requested: usize,
    workers: BTreeMap<String, Worker>,
    tickets: HashMap<String, Assigned>,
    ready: VecDeque<TrialCompletion>,
    records: Vec<BackendJobSubmitted>,
    notices: Vec<BackendNotice>,
    last_squeue: Option<Instant>,
    squeue_failures: u32,
}

/// The job name of every worker job of run `run_id` (how `continue` finds them).
pub(crate) fn job_name(run_id: &str) -> String {
    format!("labj-pilot-{run_id}")
}

fn worker_id(job_id: &str) -> String {
    format!("slurm-worker-{job_id}")
}

impl Pool {
    /// A pool of at most `max_workers` jobs; adopts the run's worker jobs Slurm still runs.
    pub(crate) fn new(
        cfg: SlurmConfig,
        max_workers: usize,
        requested: usize,
    ) -> Result<Pool, String> {
        let mut pool = Pool {
            cfg,
            max_workers: max_workers.max(1),
            requested: requested.max(1),
            workers: BTreeMap::new(),
            tickets: HashMap::new(),
            ready: VecDeque::new(),
            records: Vec::new(),
            notices: Vec::new(),
            last_squeue: None,
            squeue_failures: 0,
        };
        for (id, state) in cmd::squeue_by_name(&job_name(&pool.cfg.run_id))? {
            if !state.is_terminal() {
                pool.adopt(&id, Some(state));
            }
        }
        Ok(pool)
    }

    fn adopt(&mut self, job_id: &str, state: Option<cmd::JobState>) {
        let dir = files::worker_dir(&self.cfg.run_dir, job_id);
        let closed = dir.join(files::GONE).exists() || dir.join(files::STOP).exists();
        self.workers.entry(job_id.to_string()).or_insert(Worker {
            dir,
            load: 0,
            state,
            closed,
            since: Instant::now(),
            pending_noted: false,
        });
    }

    /// Worker job ids this pool counts (queued or running as far as it knows).
    pub(crate) fn job_ids(&self) -> Vec<String> {
        self.workers.keys().cloned().collect()
    }

    /// Take over a trial a previous session handed to worker job `job_id`.
    pub(crate) fn reattach(
        &mut self,
        ticket_id: &str,
        schedule_idx: u64,
        trial_id: &str,
        job_id: &str,
    ) {
        self.adopt(job_id, None);
        if let Some(w) = self.workers.get_mut(job_id) {
            w.load += 1;
        }
        self.records.push(record(
            schedule_idx,
            trial_id,
            ticket_id,
            job_id,
            "reattached",
        ));
        self.tickets.insert(
            ticket_id.to_string(),
            Assigned {
                job_id: job_id.to_string(),
                schedule_idx,
                trial_id: trial_id.to_string(),
                stop_reason: None,
                ctl_seq: 0,
            },
        );
    }

    fn slots_per_worker(&self) -> usize {
        self.requested.div_ceil(self.max_workers).max(1)
    }

    /// The open worker with the most room (running ones first), if any has room.
    fn pick(&mut self) -> Option<String> {
        let slots = self.slots_per_worker();
        let mut best: Option<(bool, usize, String)> = None;
        for (id, w) in self.workers.iter_mut() {
            if w.closed || w.load >= slots {
                continue;
            }
            if w.dir.join(files::GONE).exists() {
                w.closed = true;
                continue;
            }
            let running = w.state.as_ref().is_some_and(|s| s.state == "RUNNING");
            let better = match &best {
                None => true,
                Some((r, load, _)) => (running, usize::MAX - w.load) > (*r, usize::MAX - load),
            };
            if better {
                best = Some((running, w.load, id.clone()));
            }
        }
        best.map(|(_, _, id)| id)
    }

    fn start_worker(&mut self, spec: &model::trial::TrialSpec) -> Result<String, String> {
        let (args, script) = self.worker_job(spec)?;
        let job_id = cmd::sbatch(&args, &script)?;
        self.started(&job_id)?;
        Ok(job_id)
    }

    /// Start `n` worker jobs at once (their `sbatch` calls side by side); the first
    /// failure, if any, after adopting the jobs that did start.
    fn start_workers(&mut self, spec: &model::trial::TrialSpec, n: usize) -> Result<(), String> {
        let (args, script) = self.worker_job(spec)?;
        let mut first_err = None;
        for started in cmd::sbatch_many(n, &args, &script) {
            if let Err(e) = started.and_then(|job_id| self.started(&job_id)) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// A submitted worker job: its directories, and it counts from now on.
    fn started(&mut self, job_id: &str) -> Result<(), String> {
        let dir = files::worker_dir(&self.cfg.run_dir, job_id);
        // Adopted first: a job that is queued counts against the bound whatever else fails.
        self.adopt(job_id, None);
        files::create_worker_dirs(&dir).map_err(|e| format!("{}: {e}", dir.display()))
    }

    /// The `sbatch` arguments and script of a worker job for trials like `spec`.
    fn worker_job(
        &self,
        spec: &model::trial::TrialSpec,
    ) -> Result<(Vec<String>, std::path::PathBuf), String> {
        let base = files::workers_dir(&self.cfg.run_dir);
        std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let script = base.join("worker.sh");
        if !script.is_file() {
            let text = format!(
                "#!/bin/sh\n# labj: a pilot worker of run {run}; written by the coordinator.\nexec {labj} trial pilot --workers-dir {dir} --idle-secs {IDLE_SECS}\n",
                run = self.cfg.run_id,
                labj = super::job::sh_quote(&self.cfg.labj_exe.to_string_lossy()),
                dir = super::job::sh_quote(&base.to_string_lossy()),
            );
            super::job::write_atomic(&script, text.as_bytes())
                .map_err(|e| format!("{}: {e}", script.display()))?;
        }
        let minutes =
            (budget_ms(spec).div_ceil(60_000) + TIME_MARGIN_MINUTES).max(WORKER_MIN_MINUTES);
        let mut args = vec![
            format!("--job-name={}", job_name(&self.cfg.run_id)),
            format!("--output={}/worker-%j.out", base.display()),
            format!("--chdir={}", self.cfg.workdir.display()),
            format!("--time={minutes}"),
            "--no-requeue".to_string(),
            "--ntasks=1".to_string(),
        ];
        if let Some(p) = &self.cfg.partition {
            args.push(format!("--partition={p}"));
        }
        args.extend(self.cfg.extra_args.iter().cloned());
        Ok((args, script))
    }

    fn complete(&mut self, ticket_id: &str, outcome: TrialOutcome) {
        if let Some(a) = self.tickets.remove(ticket_id) {
            if let Some(w) = self.workers.get_mut(&a.job_id) {
                w.load = w.load.saturating_sub(1);
                for sub in [files::CTL, files::ACK] {
                    let _ = std::fs::remove_file(w.dir.join(sub).join(ticket_id));
                }
            }
            self.ready.push_back(TrialCompletion {
                ticket_id: ticket_id.to_string(),
                worker_id: worker_id(&a.job_id),
                schedule_idx: a.schedule_idx,
                trial_id: a.trial_id,
                completion_seq: 1,
                outcome,
            });
        }
    }

    /// Deliver the outcomes in the outboxes of `jobs` (all workers when `None`).
    fn read_outboxes(&mut self, jobs: Option<&[String]>) {
        let mut done = Vec::new();
        for (id, w) in &self.workers {
            if w.load == 0 || jobs.is_some_and(|j| !j.contains(id)) {
                continue;
            }
            let outbox = w.dir.join(files::OUTBOX);
            for t in files::tickets_in(&outbox) {
                if self.tickets.get(&t).is_none_or(|a| a.job_id != *id) {
                    continue; // a late answer for a trial already reported lost
                }
                let path = outbox.join(format!("{t}.json"));
                let outcome = match std::fs::read(&path) {
                    Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                        lost(format!("{}: not a trial outcome: {e}", path.display()))
                    }),
                    Err(e) => lost(format!("{}: {e}", path.display())),
                };
                let _ = std::fs::remove_file(&path);
                done.push((t, outcome));
            }
        }
        // A worker that answered has started (possibly between two looks of `squeue`).
        for (id, w) in self.workers.iter_mut() {
            if done.iter().any(|(t, _)| self.tickets[t].job_id == *id) {
                let running = cmd::JobState {
                    state: "RUNNING".into(),
                    reason: String::new(),
                };
                pending_notice(id, w, &running, &mut self.notices);
                w.state = Some(running);
            }
        }
        for (t, o) in done {
            self.complete(&t, o);
        }
    }

    fn collect(&mut self, ask_slurm: bool) -> Result<(), BackendError> {
        self.read_outboxes(None);
        if ask_slurm && !self.workers.is_empty() {
            self.ask_slurm()?;
        }
        self.rebalance();
        Ok(())
    }

    /// Move the trials waiting in the inboxes of queued worker jobs to started workers
    /// with room, oldest trial first (see the module doc).
    fn rebalance(&mut self) {
        // Called at every poll: the usual answer (no queued worker holds a trial) costs
        // one pass over at most N workers and no allocation.
        let queued_with_trials =
            |w: &Worker| w.load > 0 && w.state.as_ref().is_some_and(|s| s.is_pending());
        if !self.workers.values().any(queued_with_trials) {
            return;
        }
        let slots = self.slots_per_worker();
        let started = |w: &Worker| w.state.as_ref().is_some_and(|s| s.state == "RUNNING");
        let mut room: Vec<(String, usize)> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.closed && started(w) && w.load < slots)
            .map(|(id, w)| (id.clone(), slots - w.load))
            .collect();
        if room.is_empty() {
            return;
        }
        let queued: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| queued_with_trials(w))
            .map(|(id, _)| id.clone())
            .collect();
        for from in queued {
            let from_dir = self.workers[&from].dir.clone();
            let mut waiting: Vec<(u64, String)> = files::tickets_in(&from_dir.join(files::INBOX))
                .into_iter()
                .filter_map(|t| {
                    let a = self.tickets.get(&t).filter(|a| a.job_id == from)?;
                    Some((a.schedule_idx, t))
                })
                .collect();
            waiting.sort();
            for (_, t) in waiting {
                let Some((to, left)) = room.iter_mut().find(|(_, n)| *n > 0) else {
                    return;
                };
                let to_dir = self.workers[to.as_str()].dir.clone();
                let name = format!("{t}.json");
                // Fails when the queued worker started and claimed it meanwhile: then
                // it is that worker's, as before.
                if std::fs::rename(
                    from_dir.join(files::INBOX).join(&name),
                    to_dir.join(files::INBOX).join(&name),
                )
                .is_err()
                {
                    continue;
                }
                // A control request written for the trial follows it.
                let _ = std::fs::rename(
                    from_dir.join(files::CTL).join(&t),
                    to_dir.join(files::CTL).join(&t),
                );
                *left -= 1;
                let to = to.clone();
                if let Some(w) = self.workers.get_mut(&from) {
                    w.load = w.load.saturating_sub(1);
                }
                if let Some(w) = self.workers.get_mut(&to) {
                    w.load += 1;
                }
                if let Some(a) = self.tickets.get_mut(&t) {
                    a.job_id = to.clone();
                    self.records
                        .push(record(a.schedule_idx, &a.trial_id, &t, &to, "moved"));
                }
            }
        }
    }

    /// Look at the worker jobs in `squeue`: keep the state of the live ones, report the
    /// trials of the ended ones.
    fn ask_slurm(&mut self) -> Result<(), BackendError> {
        self.last_squeue = Some(Instant::now());
        let ids = self.job_ids();
        let Some(states) = super::squeue_tolerant(&ids, &mut self.squeue_failures)? else {
            return Ok(());
        };
        let mut ended = Vec::new();
        for (id, w) in self.workers.iter_mut() {
            let state = states.get(id).cloned();
            match &state {
                Some(s) if !s.is_terminal() => {
                    pending_notice(id, w, s, &mut self.notices);
                    w.state = state;
                }
                _ => ended.push((id.clone(), state)),
            }
        }
        if ended.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = ended.iter().map(|(id, _)| id.clone()).collect();
        // It may have answered between our look and squeue's.
        self.read_outboxes(Some(&ids));
        for (id, state) in ended {
            let how = match &state {
                Some(s) => format!("ended {} ({})", s.state, s.reason),
                None => "is unknown to Slurm".to_string(),
            };
            let mine: Vec<String> = self
                .tickets
                .iter()
                .filter(|(_, a)| a.job_id == id)
                .map(|(t, _)| t.clone())
                .collect();
            for t in mine {
                let outcome = match &self.tickets[&t].stop_reason {
                    Some(reason) => TrialOutcome {
                        classification: Classification::Cancelled,
                        error: Some(format!("slurm worker job {id} ended; cancelled by {reason}")),
                        ..lost(String::new())
                    },
                    None => lost(format!(
                        "slurm worker job {id} {how} while running this trial, without writing its outcome{}",
                        output_tail(&self.cfg.run_dir, &id)
                    )),
                };
                self.complete(&t, outcome);
            }
            self.workers.remove(&id);
        }
        Ok(())
    }

    /// Write control request `verb` for `ticket_id`; returns (job, seq, worker pending).
    fn send(
        &mut self,
        ticket_id: &str,
        verb: &str,
        reason: &str,
    ) -> Result<(String, u64, bool), String> {
        let a = self.tickets.get_mut(ticket_id).ok_or_else(|| {
            format!("no trial with ticket {ticket_id} is in flight on a slurm worker")
        })?;
        a.ctl_seq += 1;
        let c = files::Ctl {
            seq: a.ctl_seq,
            verb: verb.to_string(),
            reason: reason.to_string(),
        };
        let w = self
            .workers
            .get(&a.job_id)
            .ok_or_else(|| format!("slurm worker job {} is gone", a.job_id))?;
        files::put(
            &w.dir,
            &w.dir.join(files::CTL).join(ticket_id),
            c.encode().as_bytes(),
            false,
        )
        .map_err(|e| format!("{}: {e}", w.dir.display()))?;
        let pending = w.state.as_ref().is_some_and(|s| s.is_pending());
        Ok((a.job_id.clone(), c.seq, pending))
    }

    /// Send `verb` and wait for the worker's answer (a pending worker applies it when it
    /// starts, before it takes the trial: accepted).
    fn request(&mut self, ticket_id: &str, verb: &str) -> Result<String, String> {
        let (job, seq, pending) = self.send(ticket_id, verb, "")?;
        if pending {
            return Ok(job);
        }
        let ack = files::worker_dir(&self.cfg.run_dir, &job)
            .join(files::ACK)
            .join(ticket_id);
        let deadline = Instant::now() + ACK_WAIT;
        while Instant::now() < deadline {
            if let Some(r) = std::fs::read_to_string(&ack)
                .ok()
                .and_then(|t| files::parse_ack(&t, seq))
            {
                return r.map(|_| job);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Err(format!(
            "slurm worker job {job} did not answer the {verb} request within {} s",
            ACK_WAIT.as_secs()
        ))
    }
}

fn record(idx: u64, trial: &str, ticket: &str, job: &str, action: &str) -> BackendJobSubmitted {
    BackendJobSubmitted {
        schedule_idx: idx,
        trial_id: trial.to_string(),
        ticket_id: ticket.to_string(),
        backend: "slurm".into(),
        job_id: job.to_string(),
        action: action.into(),
    }
}

fn lost(error: String) -> TrialOutcome {
    TrialOutcome::infra(Classification::WorkerLost, error)
}

/// Journal (once) that a worker job waits in the queue, and (once) that it started.
fn pending_notice(id: &str, w: &mut Worker, s: &cmd::JobState, notices: &mut Vec<BackendNotice>) {
    let notice = |code: &str, message: String| BackendNotice {
        code: code.into(),
        message,
        requested: None,
        effective: None,
        digests: Vec::new(),
    };
    if s.is_pending() {
        if !w.pending_noted && w.since.elapsed() >= PENDING_NOTICE_AFTER && w.load > 0 {
            w.pending_noted = true;
            let m = format!(
                "slurm worker job {id} has been pending for {} s ({}); its {} trial(s) wait until Slurm starts it (a drained node resumes with `scontrol update nodename=NODE state=resume`)",
                w.since.elapsed().as_secs(),
                s.reason,
                w.load
            );
            tracing::warn!("{m}");
            notices.push(notice("slurm_worker_pending", m));
        }
    } else if w.pending_noted {
        w.pending_noted = false;
        let m = format!("slurm worker job {id} is {} now; its trials run", s.state);
        tracing::warn!("{m}");
        notices.push(notice("slurm_worker_started", m));
    }
}

fn output_tail(run_dir: &std::path::Path, job_id: &str) -> String {
    let path = files::workers_dir(run_dir).join(format!("worker-{job_id}.out"));
    match std::fs::read_to_string(&path) {
        Ok(text) => match text.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(line) => format!("; its last output line: {}", line.trim()),
            None => String::new(),
        },
        Err(_) => String::new(),
    }
}

impl Drop for Pool {
    /// The session ends: every worker finishes what it took and leaves; a worker job
    /// still queued with no trial is cancelled (a held or blocked job would otherwise
    /// wait in the queue long after the run).
    fn drop(&mut self) {
        for (id, w) in &self.workers {
            let _ = files::put(&w.dir, &w.dir.join(files::STOP), b"", false);
            let queued = w.state.as_ref().is_some_and(|s| s.is_pending());
            if queued && w.load == 0 {
                if let Err(e) = cmd::scancel(id) {
                    tracing::warn!("{e}");
                }
            }
        }
    }
}

impl super::Collect for Pool {
    fn ready(&mut self) -> &mut VecDeque<TrialCompletion> {
        &mut self.ready
    }
    fn last_squeue(&self) -> Option<Instant> {
        self.last_squeue
    }
    fn collect(&mut self, ask_slurm: bool) -> Result<(), BackendError> {
        Pool::collect(self, ask_slurm)
    }
}

impl WorkerBackend for Pool {
    fn capacity(&self) -> usize {
        self.requested
    }

    fn set_requested_capacity(&mut self, requested: usize) {
        self.requested = requested.max(1);
    }

    fn in_flight(&self) -> usize {
        self.tickets.len() + self.ready.len()
    }

    /// The worker jobs `n` more trials need beyond the room open workers have are
    /// started together (a run's first dispatches: one `sbatch` round trip instead of
    /// one per worker); a failure here is left for `submit`, which starts the worker it
    /// needs alone and reports why it cannot.
    fn expect_submissions(&mut self, upcoming: &[TrialDispatch]) {
        let slots = self.slots_per_worker();
        let room: usize = self
            .workers
            .values()
            .filter(|w| !w.closed)
            .map(|w| slots.saturating_sub(w.load))
            .sum();
        let n = upcoming
            .len()
            .min(self.capacity().saturating_sub(self.in_flight()));
        let wanted = n.saturating_sub(room).div_ceil(slots);
        let start = wanted.min(self.max_workers.saturating_sub(self.workers.len()));
        // Time limits fit the longest of the trials they are started for.
        let longest = upcoming
            .iter()
            .map(|d| &d.spec)
            .max_by_key(|s| budget_ms(s));
        let (Some(spec), true) = (longest, start > 1) else {
            return;
        };
        if let Err(e) = self.start_workers(spec, start) {
            tracing::debug!("starting {start} slurm worker jobs together: {e}");
        }
    }

    fn submit(&mut self, dispatch: TrialDispatch) -> Result<WorkerTicket, SubmitError> {
        let limit = self.capacity();
        if self.in_flight() >= limit {
            return Err(SubmitError::Capacity {
                in_flight: self.in_flight(),
                limit,
            });
        }
        let job_id = match self.pick() {
            Some(id) => id,
            None if self.workers.len() < self.max_workers => self
                .start_worker(&dispatch.spec)
                .map_err(SubmitError::Fatal)?,
            // Every job slot is taken by a worker that is leaving or full.
            None => {
                return Err(SubmitError::Capacity {
                    in_flight: self.in_flight(),
                    limit,
                })
            }
        };
        let Some(w) = self.workers.get_mut(&job_id) else {
            return Err(SubmitError::Fatal(format!(
                "slurm worker job {job_id} vanished"
            )));
        };
        let json = serde_json::to_vec(&dispatch.spec)
            .map_err(|e| SubmitError::Fatal(format!("trial spec: {e}")))?;
        let dest = w
            .dir
            .join(files::INBOX)
            .join(format!("{}.json", dispatch.ticket_id));
        files::put(&w.dir, &dest, &json, false).map_err(|e| {
            SubmitError::Fatal(format!(
                "cannot hand the trial to slurm worker job {job_id}: {}: {e}",
                dest.display()
            ))
        })?;
        w.load += 1;
        let spec = &dispatch.spec;
        self.records.push(record(
            spec.schedule_idx,
            &spec.trial_id,
            &dispatch.ticket_id,
            &job_id,
            "assigned",
        ));
        self.tickets.insert(
            dispatch.ticket_id.clone(),
            Assigned {
                job_id: job_id.clone(),
                schedule_idx: spec.schedule_idx,
                trial_id: spec.trial_id.clone(),
                stop_reason: None,
                ctl_seq: 0,
            },
        );
        Ok(WorkerTicket {
            ticket_id: dispatch.ticket_id,
            worker_id: worker_id(&job_id),
        })
    }

    fn poll_completions(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<TrialCompletion>, BackendError> {
        super::poll_ready(self, timeout, max, Duration::from_millis(2))
    }

    fn request_pause(&mut self, ticket_id: &str, _label: Option<&str>) -> WorkerPauseAck {
        let r = self.request(ticket_id, "pause");
        WorkerPauseAck {
            ticket_id: ticket_id.to_string(),
            worker_id: self
                .tickets
                .get(ticket_id)
                .map(|a| worker_id(&a.job_id))
                .unwrap_or_else(|| "slurm".into()),
            accepted: r.is_ok(),
            reason: r.err(),
        }
    }

    fn request_resume(&mut self, ticket_id: &str) -> Result<(), String> {
        self.request(ticket_id, "resume").map(|_| ())
    }

    fn request_stop(&mut self, ticket_id: &str, reason: &str) {
        if let Some(a) = self.tickets.get_mut(ticket_id) {
            a.stop_reason = Some(reason.to_string());
        }
        if let Err(e) = self.send(ticket_id, "stop", reason) {
            tracing::warn!(ticket = ticket_id, "{e}");
        }
        self.last_squeue = None;
    }

    fn take_events(&mut self) -> Vec<BackendEvent> {
        let notices = self.notices.drain(..).map(BackendEvent::Notice);
        let jobs = self.records.drain(..).map(BackendEvent::JobSubmitted);
        notices.chain(jobs).collect()
    }

    fn dispatch_worker_id(&self) -> String {
        format!("slurm-via-{}", std::process::id())
    }
}
