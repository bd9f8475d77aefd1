//! The worker's tickets: what runs in which slot, and which completions wait for their
//! acknowledgement. Plain synchronous code behind one mutex; the HTTP layer calls it
//! from blocking threads.
//!
//! A ticket is keyed by (run_id, ticket_id). It is `running` while its trial thread
//! executes, then `finished` with its outcome until the coordinator acknowledges the
//! completion key, then forgotten. Submitting a ticket the worker already holds is
//! accepted again without running it twice (the coordinator may retry a submit whose
//! answer it lost).

use super::staging::{self, StageError};
use crate::wire::messages::*;
use crate::wire::{completion_key, CompletionMac};
use exec::executor::TrialControl;
use model::trial::{TrialOutcome, TrialSpec};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest a poll may hold its request open, whatever it asks for.
pub(crate) const MAX_POLL_WAIT: Duration = Duration::from_secs(30);

/// Runs one trial; `execute_trial` unless a test injects another.
pub(crate) type Runner = Arc<dyn Fn(&TrialSpec, &TrialControl) -> TrialOutcome + Send + Sync>;

enum TicketState {
    Running(Arc<TrialControl>),
    Finished(Box<TrialOutcome>),
}

struct Ticket {
    schedule_idx: u64,
    trial_id: String,
    state: TicketState,
    /// When a poll last handed this completion out; it is handed out again only after
    /// `redeliver_after` without an acknowledgement (or after a `tickets` call).
    delivered_at: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    /// (run_id, ticket_id) → ticket.
    tickets: HashMap<(String, String), Ticket>,
    running: usize,
    draining: bool,
}

pub(crate) struct WorkerState {
    pub worker_id: String,
    /// Fresh per process (health and poll answers carry it), so a coordinator notices a
    /// worker restarted on the same address: the old process's tickets are gone.
    pub instance_id: String,
    pub slots: usize,
    pub redeliver_after: Duration,
    work_dir: PathBuf,
    runner: Runner,
    /// Signs every completion handed out (`None` only without a token).
    mac: Option<CompletionMac>,
    inner: Mutex<Inner>,
    /// Signalled when a trial finishes (wakes long polls) or the worker drains.
    changed: Condvar,
}

impl WorkerState {
    /// Where the blob `digest` of run `run_id` lives on this worker, if it holds it:
    /// in the directory of attempt `ticket_id`, or (when the client names none) of any
    /// attempt of the run. The names are checked path components and the digest 64 hex
    /// digits, so the path never leaves `<work-dir>/runs/<run_id>/tickets/`.
    pub(crate) fn blob_path(
        &self,
        run_id: &str,
        ticket_id: Option<&str>,
        digest: &str,
    ) -> Option<PathBuf> {
        let ok_digest = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
        if !staging::is_component(run_id) || !ok_digest {
            return None;
        }
        let in_ticket = |ticket: &str| {
            let p = journal::RunDir::new(staging::ticket_dir(&self.work_dir, run_id, ticket))
                .blob(digest);
            std::fs::symlink_metadata(&p)
                .is_ok_and(|m| m.is_file())
                .then_some(p)
        };
        match ticket_id {
            Some(t) if staging::is_component(t) => in_ticket(t),
            Some(_) => None,
            None => std::fs::read_dir(staging::tickets_dir(&self.work_dir, run_id))
                .ok()?
                .flatten()
                .find_map(|e| in_ticket(e.file_name().to_str()?)),
        }
    }
}

/// A request the worker refuses as the client's fault (HTTP 400 / 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    BadRequest(String),
}

impl WorkerState {
    pub(crate) fn new(
        worker_id: String,
        slots: usize,
        redeliver_after: Duration,
        work_dir: PathBuf,
        runner: Runner,
        mac: Option<CompletionMac>,
    ) -> Self {
        WorkerState {
            worker_id,
            instance_id: uuid::Uuid::now_v7().to_string(),
            slots: slots.max(1),
            redeliver_after,
            work_dir,
            runner,
            mac,
            inner: Mutex::new(Inner::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn submit(
        self: &Arc<Self>,
        req: SubmitRequest<'static>,
    ) -> Result<SubmitResponse, Refusal> {
        let d = req.dispatch;
        let answer = |accepted: bool, reason: Option<String>| SubmitResponse {
            accepted,
            ticket_id: d.ticket_id.clone(),
            reason,
        };
        if d.spec.run_id != req.run_id
            || d.spec.schedule_idx != d.schedule_idx
            || d.spec.trial_id != d.trial_id
        {
            return Err(Refusal::BadRequest(format!(
                "dispatch of ticket {} disagrees with its spec (run_id/schedule_idx/trial_id)",
                d.ticket_id
            )));
        }
        let key = (req.run_id.clone(), d.ticket_id.clone());
        {
            let inner = self.lock();
            if inner.tickets.contains_key(&key) {
                return Ok(answer(true, None));
            }
            if inner.draining {
                return Ok(answer(false, Some("worker is shutting down".into())));
            }
            if inner.running >= self.slots {
                return Ok(answer(
                    false,
                    Some(format!("all {} slots are busy", self.slots)),
                ));
            }
        }
        // Stage outside the lock: it writes files.
        let spec = staging::stage(
            &self.work_dir,
            &req.run_id,
            &d.ticket_id,
            d.spec.into_owned(),
            &req.files,
        )
        .map_err(|e| match e {
            StageError::Refused(m) => Refusal::BadRequest(m),
            StageError::Io(m) => Refusal::BadRequest(format!("worker cannot stage: {m}")),
        })?;
        let control = TrialControl::new();
        {
            let mut inner = self.lock();
            if inner.tickets.contains_key(&key) {
                return Ok(answer(true, None));
            }
            if inner.running >= self.slots || inner.draining {
                return Ok(answer(false, Some("no free slot".into())));
            }
            inner.running += 1;
            inner.tickets.insert(
                key.clone(),
                Ticket {
                    schedule_idx: d.schedule_idx,
                    trial_id: d.trial_id.clone(),
                    state: TicketState::Running(Arc::clone(&control)),
                    delivered_at: None,
                },
            );
        }
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("labj-slot-{}", d.schedule_idx))
            .spawn(move || {
                // Agent spawns copy only this thread's few descriptors (see the fn).
                exec::executor::private_fd_table();
                let outcome = (me.runner)(&spec, &control);
                let mut inner = me.lock();
                inner.running = inner.running.saturating_sub(1);
                if let Some(t) = inner.tickets.get_mut(&key) {
                    t.state = TicketState::Finished(Box::new(outcome));
                }
                drop(inner);
                me.changed.notify_all();
            });
        if let Err(e) = spawned {
            let mut inner = self.lock();
            inner.running = inner.running.saturating_sub(1);
            inner
                .tickets
                .remove(&(req.run_id.clone(), d.ticket_id.clone()));
            drop(inner);
            staging::remove_ticket(&self.work_dir, &req.run_id, &d.ticket_id);
            return Ok(answer(
                false,
                Some(format!("cannot start a trial thread: {e}")),
            ));
        }
        Ok(answer(true, None))
    }

    /// Forget the acknowledged completions of `run_id`; returns the tickets forgotten
    /// (their directories are for [`WorkerState::remove_acked`], outside the lock).
    fn ack_locked(inner: &mut Inner, run_id: &str, keys: &[String]) -> Vec<String> {
        if keys.is_empty() {
            return Vec::new();
        }
        let wanted: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
        let mut gone = Vec::new();
        inner.tickets.retain(|(run, ticket), t| {
            let acked = run == run_id
                && matches!(t.state, TicketState::Finished(_))
                && wanted
                    .contains(completion_key(run, t.schedule_idx, &t.trial_id, ticket, 1).as_str());
            if acked {
                gone.push(ticket.clone());
            }
            !acked
        });
        gone
    }

    /// The coordinator has journaled these attempts and copied their blobs home: their
    /// trial directories and blobs go.
    fn remove_acked(&self, run_id: &str, tickets: &[String]) {
        for t in tickets {
            staging::remove_ticket(&self.work_dir, run_id, t);
        }
    }

    pub(crate) fn ack(&self, req: AckRequest) -> AckResponse {
        let gone = Self::ack_locked(&mut self.lock(), &req.run_id, &req.completion_keys);
        self.remove_acked(&req.run_id, &gone);
        AckResponse {
            acked: gone.len() as u64,
        }
    }

    /// Acknowledge, then wait up to `wait_ms` for at least one undelivered completion of
    /// the run and return up to `max_completions` (oldest schedule_idx first).
    pub(crate) fn poll(&self, req: PollRequest) -> PollResponse {
        let deadline = Instant::now() + Duration::from_millis(req.wait_ms).min(MAX_POLL_WAIT);
        let gone = Self::ack_locked(&mut self.lock(), &req.run_id, &req.ack_completion_keys);
        self.remove_acked(&req.run_id, &gone);
        let mut inner = self.lock();
        let redeliver_after = self.redeliver_after;
        loop {
            let now = Instant::now();
            let due = |t: &Ticket| match t.delivered_at {
                None => true,
                Some(at) => now.duration_since(at) >= redeliver_after,
            };
            let mut out: Vec<Completion> = inner
                .tickets
                .iter()
                .filter(|((run, _), t)| *run == req.run_id && due(t))
                .filter_map(|((run, ticket), t)| match &t.state {
                    TicketState::Finished(o) => Some(self.completion(run, ticket, t, o)),
                    TicketState::Running(_) => None,
                })
                .collect();
            if !out.is_empty() || now >= deadline {
                out.sort_by_key(|c| c.schedule_idx);
                out.truncate(req.max_completions.max(1));
                for c in &out {
                    if let Some(t) = inner
                        .tickets
                        .get_mut(&(c.run_id.clone(), c.ticket_id.clone()))
                    {
                        t.delivered_at = Some(now);
                    }
                }
                return PollResponse {
                    instance_id: Some(self.instance_id.clone()),
                    completions: out,
                };
            }
            // Wake for new completions, or when a held-back one becomes due again.
            let wait = (deadline - now).min(redeliver_after.max(Duration::from_millis(5)));
            inner = match self.changed.wait_timeout(inner, wait) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// One completion as delivered, signed with the completion MAC.
    fn completion(
        &self,
        run: &str,
        ticket: &str,
        t: &Ticket,
        outcome: &TrialOutcome,
    ) -> Completion {
        let outcome = serde_json::to_value(outcome).unwrap_or_default();
        let key = completion_key(run, t.schedule_idx, &t.trial_id, ticket, 1);
        Completion {
            run_id: run.to_string(),
            schedule_idx: t.schedule_idx,
            trial_id: t.trial_id.clone(),
            ticket_id: ticket.to_string(),
            completion_seq: 1,
            mac: self.mac.as_ref().map(|m| m.tag(&key, &outcome)),
            outcome,
            auth_failure: None,
        }
    }

    /// The control of a running ticket; `Ok(None)` when the ticket's trial has finished
    /// (its completion not delivered yet).
    fn control_of(
        &self,
        run_id: &str,
        ticket_id: &str,
    ) -> Result<Option<Arc<TrialControl>>, String> {
        let inner = self.lock();
        match inner
            .tickets
            .get(&(run_id.to_string(), ticket_id.to_string()))
        {
            Some(Ticket {
                state: TicketState::Running(c),
                ..
            }) => Ok(Some(Arc::clone(c))),
            Some(_) => Ok(None),
            None => Err(format!(
                "this worker holds no ticket {ticket_id} of run {run_id}"
            )),
        }
    }

    fn control_answer(ticket_id: String, r: Result<(), String>) -> ControlResponse {
        ControlResponse {
            ticket_id,
            accepted: r.is_ok(),
            reason: r.err(),
        }
    }

    pub(crate) fn pause(&self, req: PauseRequest) -> ControlResponse {
        // A finished trial runs no agent any more: nothing is left to pause.
        let r = self
            .control_of(&req.run_id, &req.ticket_id)
            .and_then(|c| c.map_or(Ok(()), |c| c.pause()));
        Self::control_answer(req.ticket_id, r)
    }

    pub(crate) fn resume(&self, req: ResumeRequest) -> ControlResponse {
        let r = self
            .control_of(&req.run_id, &req.ticket_id)
            .and_then(|c| c.ok_or_else(|| format!("ticket {} has already finished", req.ticket_id)))
            .and_then(|c| c.resume());
        Self::control_answer(req.ticket_id, r)
    }

    pub(crate) fn stop(&self, req: StopRequest) -> ControlResponse {
        let r = self.control_of(&req.run_id, &req.ticket_id).map(|c| {
            if let Some(c) = c {
                c.stop(&req.reason)
            }
        });
        let mut a = Self::control_answer(req.ticket_id, r);
        a.reason = None; // the stop response has no reason field
        a
    }

    pub(crate) fn health(&self) -> HealthResponse {
        let inner = self.lock();
        HealthResponse {
            worker_id: self.worker_id.clone(),
            instance_id: Some(self.instance_id.clone()),
            labj_version: env!("CARGO_PKG_VERSION").to_string(),
            slots: self.slots,
            running: inner.running,
            undelivered: inner.tickets.len() - inner.running,
            draining: inner.draining,
        }
    }

    /// The run's outstanding tickets. A coordinator asks this when it reattaches, so
    /// every kept completion of the run becomes deliverable again at once.
    pub(crate) fn tickets(&self, req: RunRequest) -> TicketsResponse {
        let mut inner = self.lock();
        for ((run, _), t) in inner.tickets.iter_mut() {
            if *run == req.run_id {
                t.delivered_at = None;
            }
        }
        let mut tickets: Vec<TicketDoc> = inner
            .tickets
            .iter()
            .filter(|((run, _), _)| *run == req.run_id)
            .map(|((_, ticket), t)| TicketDoc {
                ticket_id: ticket.clone(),
                schedule_idx: t.schedule_idx,
                trial_id: t.trial_id.clone(),
                state: match t.state {
                    TicketState::Running(_) => "running".into(),
                    TicketState::Finished(_) => "finished".into(),
                },
                classification: match &t.state {
                    TicketState::Finished(o) => Some(o.classification.as_str().to_string()),
                    TicketState::Running(_) => None,
                },
            })
            .collect();
        tickets.sort_by_key(|t| t.schedule_idx);
        TicketsResponse { tickets }
    }

    /// Refuse new work and wake every long poll (graceful shutdown, first step).
    pub(crate) fn drain(&self) {
        self.lock().draining = true;
        self.changed.notify_all();
    }

    /// Stop every running trial (graceful shutdown after the grace period).
    pub(crate) fn stop_all(&self, reason: &str) {
        let inner = self.lock();
        for t in inner.tickets.values() {
            if let TicketState::Running(c) = &t.state {
                c.stop(reason);
            }
        }
    }

    /// Wait until no trial runs, at most `timeout`; true when none runs.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            let now = Instant::now();
            if inner.running == 0 {
                return true;
            }
            if now >= deadline {
                return false;
            }
            inner = match self.changed.wait_timeout(inner, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}
