//! [`RemoteWorkerBackend`]: the [`WorkerBackend`] over one or more worker endpoints.
//!
//! - **Capacity** is the sum of the slots each live endpoint reported in its health
//!   answer (capped by the requested concurrency). Each dispatch is placed on the live
//!   endpoint with the most free slots *before* it is journaled, so `trial_dispatched`
//!   names the endpoint (`worker_id` = its URL) and the ticket.
//! - **Completions** are fetched by one poller thread per endpoint (long polls), so a
//!   slow endpoint never delays another's results. They are deduped by their delivery
//!   key (run_id, schedule_idx, trial_id, ticket_id, completion_seq: the ticket names
//!   the attempt, so a re-run's completion is not a repeat of its lost attempt's); a
//!   repeat is reported as a dropped completion the coordinator journals. A completion
//!   is acknowledged to its worker only after the coordinator's next poll, i.e. after it
//!   was journaled.
//! - **Faults** are per endpoint. A protocol fault (wrong `schema_version`, a document
//!   that breaks its schema, a completion for a ticket this run never placed there)
//!   quarantines the endpoint. An endpoint that has not answered for `lost_after` is
//!   lost. Either way its in-flight trials are reported lost ([`BackendEvent::Lost`],
//!   journaled `worker_lost`) and the run goes on with the other endpoints; with none
//!   left, [`WorkerBackend::fatal`] says why and the coordinator fails the run. A late
//!   completion of a trial already reported lost is dropped, with that reason.

use super::files::FileCache;
use super::poller::{poller, PollerMsg, PollerShared};
use super::protocol::{HttpRemoteWorkerProtocol, RemoteCompletion};
use super::RemoteError;
use crate::backend::*;

mod reattach;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Health {
    Live,
    Lost(String),
    Quarantined(String),
}

struct Endpoint {
    client: Arc<HttpRemoteWorkerProtocol>,
    url: String,
    slots: usize,
    health: Health,
    /// The worker process that answered the health check (`instance_id`); a poll
    /// answered by another one means the worker restarted and lost its tickets.
    instance: Option<String>,
    last_contact: Instant,
    /// Set while the endpoint fails to answer (cleared by any answer).
    failing: Option<String>,
    shared: Arc<PollerShared>,
}

struct Ticket {
    endpoint: usize,
    schedule_idx: u64,
    trial_id: String,
    submitted: bool,
}

/// Tunables of the remote backend (`LABJ_REMOTE_*` environment variables).
#[derive(Debug, Clone, Copy)]
pub struct RemoteTuning {
    /// An endpoint that has not answered for this long is lost.
    pub(crate) lost_after: Duration,
}

impl Default for RemoteTuning {
    fn default() -> Self {
        RemoteTuning {
            lost_after: Duration::from_secs(30),
        }
    }
}

/// The remote executor: trials placed on `labj worker serve` endpoints by free
/// capacity, their completions polled, deduplicated, checked and acknowledged only after
/// the coordinator journaled them; an endpoint that stops answering loses its trials
/// (`worker_lost`).
pub struct RemoteWorkerBackend {
    run_id: String,
    endpoints: Vec<Endpoint>,
    tuning: RemoteTuning,
    requested: usize,
    /// Placed and not yet delivered back (or reported lost).
    tickets: HashMap<String, Ticket>,
    /// Tickets reported lost: a later completion is dropped.
    lost: HashSet<String>,
    /// Delivery keys already received ([`RemoteCompletion::key`]: they name the attempt).
    seen: HashSet<String>,
    ready: VecDeque<TrialCompletion>,
    /// (endpoint, key) of completions handed to the coordinator by the last poll.
    delivered: Vec<(usize, String)>,
    reports: Vec<BackendEvent>,
    notices: Vec<BackendNotice>,
    files: FileCache,
    rx: Receiver<PollerMsg>,
    tx: Sender<PollerMsg>,
    pollers: Vec<std::thread::JoinHandle<()>>,
    /// The run's blob store, once set by [`RemoteWorkerBackend::fetch_evidence_into`]:
    /// pollers copy each completion's blobs there before handing it over.
    blobs_dir: Arc<OnceLock<PathBuf>>,
}

impl RemoteWorkerBackend {
    /// Copy every blob a completion references from its worker into `blobs_dir` (the
    /// run's blob store) before the completion is journaled (see `evidence.rs`).
    pub(crate) fn fetch_evidence_into(&self, blobs_dir: PathBuf) {
        let _ = self.blobs_dir.set(blobs_dir);
    }

    /// Connect to every endpoint (health: capacity and version check) and start polling.
    /// Endpoints that cannot be reached are reported and left out; a protocol fault or
    /// no reachable endpoint at all is an error.
    pub fn connect(
        run_id: impl Into<String>,
        clients: Vec<HttpRemoteWorkerProtocol>,
        requested: usize,
        tuning: RemoteTuning,
    ) -> Result<Self, RemoteError> {
        if clients.is_empty() {
            return Err(RemoteError::BadEndpoint {
                url: String::new(),
                reason: "a remote run needs at least one --remote-endpoint".into(),
            });
        }
        let (tx, rx) = mpsc::channel();
        let mut b = RemoteWorkerBackend {
            run_id: run_id.into(),
            endpoints: Vec::new(),
            tuning,
            requested: requested.max(1),
            tickets: HashMap::new(),
            lost: HashSet::new(),
            seen: HashSet::new(),
            ready: VecDeque::new(),
            delivered: Vec::new(),
            reports: Vec::new(),
            notices: Vec::new(),
            files: FileCache::default(),
            rx,
            tx,
            pollers: Vec::new(),
            blobs_dir: Arc::new(OnceLock::new()),
        };
        let mut unreachable = Vec::new();
        for client in clients {
            let url = client.base_url().to_string();
            let (slots, health, instance) = match client.health() {
                Ok(h) if h.draining => (
                    0,
                    Health::Lost(format!("worker {url} is shutting down")),
                    h.instance_id,
                ),
                Ok(h) => (h.slots, Health::Live, h.instance_id),
                Err(e) if e.is_protocol_fault() => return Err(e),
                Err(e) => {
                    unreachable.push(e.to_string());
                    (0, Health::Lost(e.to_string()), None)
                }
            };
            if let Health::Lost(reason) = &health {
                b.notice("remote_endpoint_unavailable", format!("{url}: {reason}"));
            }
            b.endpoints.push(Endpoint {
                client: Arc::new(client),
                url,
                slots,
                health,
                instance,
                last_contact: Instant::now(),
                failing: None,
                shared: Arc::new(PollerShared {
                    acks: Mutex::new(Vec::new()),
                    stop: AtomicBool::new(false),
                }),
            });
        }
        if b.live_slots() == 0 {
            return Err(RemoteError::BadEndpoint {
                url: b
                    .endpoints
                    .iter()
                    .map(|e| e.url.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                reason: format!(
                    "no remote worker endpoint is available: {}",
                    if unreachable.is_empty() {
                        "every worker is shutting down".to_string()
                    } else {
                        unreachable.join("; ")
                    }
                ),
            });
        }
        for idx in 0..b.endpoints.len() {
            if b.endpoints[idx].health == Health::Live {
                b.start_poller(idx);
            }
        }
        Ok(b)
    }

    fn notice(&mut self, code: &str, message: String) {
        self.notice_about(code, message, Vec::new());
    }

    /// A notice about the blobs `digests` (e.g. not copied home).
    fn notice_about(&mut self, code: &str, message: String, digests: Vec<String>) {
        tracing::warn!(code, "{message}");
        self.notices.push(BackendNotice {
            code: code.into(),
            message,
            requested: None,
            effective: None,
            digests,
        });
    }

    fn start_poller(&mut self, idx: usize) {
        let ep = &self.endpoints[idx];
        let (client, shared, tx) = (
            Arc::clone(&ep.client),
            Arc::clone(&ep.shared),
            self.tx.clone(),
        );
        let run_id = self.run_id.clone();
        let blobs_dir = Arc::clone(&self.blobs_dir);
        let handle = std::thread::Builder::new()
            .name(format!("labj-remote-poll-{idx}"))
            .spawn(move || poller(idx, client, shared, tx, run_id, blobs_dir));
        match handle {
            Ok(h) => self.pollers.push(h),
            Err(e) => {
                let reason = format!("cannot start its poller thread: {e}");
                self.mark_down(idx, Health::Lost(reason));
            }
        }
    }

    fn live_slots(&self) -> usize {
        self.endpoints
            .iter()
            .filter(|e| e.health == Health::Live)
            .map(|e| e.slots)
            .sum()
    }

    fn load(&self, idx: usize) -> usize {
        self.tickets.values().filter(|t| t.endpoint == idx).count()
    }

    /// Take an endpoint out of service and report its trials lost.
    fn mark_down(&mut self, idx: usize, health: Health) {
        if self.endpoints[idx].health != Health::Live {
            return;
        }
        let url = self.endpoints[idx].url.clone();
        let (code, reason) = match &health {
            Health::Lost(r) => ("remote_worker_lost", r.clone()),
            Health::Quarantined(r) => ("remote_endpoint_quarantined", r.clone()),
            Health::Live => return,
        };
        self.endpoints[idx].health = health;
        self.endpoints[idx]
            .shared
            .stop
            .store(true, Ordering::SeqCst);
        let n = self.lose_tickets(idx, &reason);
        self.notice(
            code,
            format!(
                "worker {url} taken out of this run ({n} trial(s) in flight reported lost): {reason}"
            ),
        );
    }

    /// A poll answered by another worker process than before: the worker restarted on
    /// the same address (a supervisor's `Restart=always`) and its tickets died with the
    /// old process. They are reported lost (re-run under the retry budget) and the new
    /// process serves the run from now on.
    fn restarted(&mut self, idx: usize, instance: String) {
        let ep = &mut self.endpoints[idx];
        let old = ep.instance.replace(instance.clone());
        let url = ep.url.clone();
        let Some(old) = old.filter(|o| *o != instance) else {
            return;
        };
        // Keys of the old process mean nothing to the new one.
        ep.shared
            .acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.delivered.retain(|(i, _)| *i != idx);
        let reason = format!(
            "worker {url} restarted (instance {old} is now {instance}): the trials it held are gone"
        );
        let n = self.lose_tickets(idx, &reason);
        self.notice(
            "remote_worker_restarted",
            format!("{reason}; {n} trial(s) in flight reported lost"),
        );
    }

    /// Report every ticket placed on endpoint `idx` lost; returns how many.
    fn lose_tickets(&mut self, idx: usize, reason: &str) -> usize {
        let url = self.endpoints[idx].url.clone();
        let mut gone: Vec<(String, Ticket)> = Vec::new();
        self.tickets.retain(|id, t| {
            if t.endpoint == idx {
                gone.push((
                    id.clone(),
                    Ticket {
                        endpoint: t.endpoint,
                        schedule_idx: t.schedule_idx,
                        trial_id: t.trial_id.clone(),
                        submitted: t.submitted,
                    },
                ));
                false
            } else {
                true
            }
        });
        gone.sort_by_key(|(_, t)| t.schedule_idx);
        let n = gone.len();
        for (ticket_id, t) in gone {
            self.lost.insert(ticket_id.clone());
            self.reports.push(BackendEvent::Lost(LostTrial {
                ticket_id,
                schedule_idx: t.schedule_idx,
                trial_id: t.trial_id,
                worker_id: url.clone(),
                reason: format!("worker {url} lost: {reason}"),
            }));
        }
        n
    }

    /// Quarantine on protocol faults, remember transport trouble otherwise.
    fn on_error(&mut self, idx: usize, e: RemoteError) {
        if e.is_protocol_fault() {
            self.mark_down(idx, Health::Quarantined(e.to_string()));
        } else if self.endpoints[idx].failing.is_none() {
            self.endpoints[idx].failing = Some(e.to_string());
        }
    }

    fn check_lost(&mut self) {
        let now = Instant::now();
        for idx in 0..self.endpoints.len() {
            let ep = &self.endpoints[idx];
            if ep.health != Health::Live || ep.failing.is_none() {
                continue;
            }
            let silent = now.duration_since(ep.last_contact);
            if silent >= self.tuning.lost_after {
                let reason = format!(
                    "no answer for {} ms (limit {} ms, LABJ_REMOTE_LOST_AFTER_MS): {}",
                    silent.as_millis(),
                    self.tuning.lost_after.as_millis(),
                    ep.failing.clone().unwrap_or_default()
                );
                self.mark_down(idx, Health::Lost(reason));
            }
        }
    }

    fn handle(&mut self, msg: PollerMsg) {
        match msg {
            PollerMsg::Completions(idx, instance, cs) => {
                let ep = &mut self.endpoints[idx];
                ep.last_contact = Instant::now();
                ep.failing = None;
                if let Some(instance) = instance {
                    if ep.health == Health::Live {
                        self.restarted(idx, instance);
                    }
                }
                for c in cs {
                    if self.endpoints[idx].health != Health::Live {
                        break;
                    }
                    self.accept(idx, c);
                }
            }
            PollerMsg::EvidenceMissing(problems) => {
                for p in problems {
                    // Only a well-formed digest names a blob `verify` can leave out.
                    use exec::executor::blobs::is_blob_digest;
                    let digests = Vec::from_iter(Some(p.digest).filter(|d| is_blob_digest(d)));
                    self.notice_about("remote_evidence_not_fetched", p.message, digests);
                }
            }
            PollerMsg::Fault(idx, e) => self.on_error(idx, e),
            PollerMsg::Unreachable(idx, message) => {
                if self.endpoints[idx].failing.is_none() {
                    self.endpoints[idx].failing = Some(message);
                }
            }
            PollerMsg::Wake => {}
        }
    }

    fn drop_report(&mut self, c: &RemoteCompletion, reason: String) {
        self.reports.push(BackendEvent::Dropped(DroppedCompletion {
            schedule_idx: c.schedule_idx,
            trial_id: c.trial_id.clone(),
            ticket_id: c.ticket_id.clone(),
            completion_seq: c.completion_seq,
            reason,
        }));
    }

    fn accept(&mut self, idx: usize, c: RemoteCompletion) {
        let url = self.endpoints[idx].url.clone();
        let key = c.key();
        if c.run_id != self.run_id {
            return self.mark_down(idx, Health::Quarantined(format!(
                "worker {url} delivered a completion of run `{}` (ticket {}), this coordinator drives run `{}`",
                c.run_id, c.ticket_id, self.run_id
            )));
        }
        if let Some(why) = c.auth_failure.clone() {
            return self.reject_unauthenticated(idx, c, &why);
        }
        if self.seen.contains(&key) {
            // Delivered again (its ack was not yet sent, or got lost): once is enough.
            self.delivered.push((idx, c.key()));
            return self.drop_report(
                &c,
                format!(
                    "duplicate delivery by {url}: completion {} was already received",
                    c.key()
                ),
            );
        }
        if self.lost.contains(&c.ticket_id) {
            self.seen.insert(key);
            self.delivered.push((idx, c.key()));
            return self.drop_report(
                &c,
                format!(
                    "late completion from {url}: ticket {} was already journaled worker_lost",
                    c.ticket_id
                ),
            );
        }
        let Some(ticket) = self.tickets.get(&c.ticket_id) else {
            return self.mark_down(idx, Health::Quarantined(format!(
                "worker {url} delivered a completion for unknown ticket `{}` (schedule_idx {}, trial {})",
                c.ticket_id, c.schedule_idx, c.trial_id
            )));
        };
        if ticket.endpoint != idx
            || ticket.schedule_idx != c.schedule_idx
            || ticket.trial_id != c.trial_id
        {
            let (s, t) = (ticket.schedule_idx, ticket.trial_id.clone());
            return self.mark_down(idx, Health::Quarantined(format!(
                "worker {url} delivered ticket `{}` as schedule_idx {} / trial {}, but it was dispatched as schedule_idx {s} / trial {t}",
                c.ticket_id, c.schedule_idx, c.trial_id
            )));
        }
        self.tickets.remove(&c.ticket_id);
        self.seen.insert(key);
        self.delivered.push((idx, c.key()));
        self.ready.push_back(TrialCompletion {
            ticket_id: c.ticket_id,
            worker_id: url,
            schedule_idx: c.schedule_idx,
            trial_id: c.trial_id,
            completion_seq: c.completion_seq,
            outcome: c.outcome,
        });
    }

    /// A completion whose MAC does not authenticate it (rewritten on the way, or a
    /// worker holding another token) is no verdict: its attempt is reported lost — an
    /// infrastructure fault, re-run under the retry budget like a vanished worker — and
    /// nothing of its content is used. Acknowledged, so the worker does not send it again.
    fn reject_unauthenticated(&mut self, idx: usize, c: RemoteCompletion, why: &str) {
        let url = self.endpoints[idx].url.clone();
        let key = c.key();
        self.seen.insert(key.clone());
        self.delivered.push((idx, key));
        let reason = format!(
            "completion failed authentication: {why} (the answer of worker {url} was altered \
             on the way, or the worker was started with another token); not scored"
        );
        match self.tickets.get(&c.ticket_id) {
            Some(t) if t.endpoint == idx => {
                let t = self.tickets.remove(&c.ticket_id).expect("checked above");
                self.lost.insert(c.ticket_id.clone());
                self.reports.push(BackendEvent::Lost(LostTrial {
                    ticket_id: c.ticket_id,
                    schedule_idx: t.schedule_idx,
                    trial_id: t.trial_id,
                    worker_id: url,
                    reason,
                }));
            }
            _ => self.drop_report(&c, reason),
        }
    }

    /// What the last poll handed over is journaled now: let the pollers acknowledge it.
    fn release_acks(&mut self) {
        for (idx, key) in self.delivered.drain(..) {
            if let Ok(mut acks) = self.endpoints[idx].shared.acks.lock() {
                acks.push(key);
            }
        }
    }

    /// The endpoint running `ticket_id`, if it is live.
    fn running_on(&self, ticket_id: &str) -> Option<usize> {
        self.tickets
            .get(ticket_id)
            .map(|t| t.endpoint)
            .filter(|&i| self.endpoints[i].health == Health::Live)
    }
}

impl Drop for RemoteWorkerBackend {
    fn drop(&mut self) {
        // Everything handed over is journaled by now (the coordinator flushed before it
        // returned): acknowledge it so the workers can forget it.
        self.release_acks();
        for ep in &self.endpoints {
            ep.shared.stop.store(true, Ordering::SeqCst);
            let keys =
                std::mem::take(&mut *ep.shared.acks.lock().unwrap_or_else(|p| p.into_inner()));
            if ep.health == Health::Live && !keys.is_empty() {
                let _ = ep.client.ack(&self.run_id, &keys);
            }
        }
        // Pollers end after their current long poll; no need to wait for them.
        self.pollers.clear();
    }
}

impl WorkerBackend for RemoteWorkerBackend {
    fn capacity(&self) -> usize {
        self.requested.min(self.live_slots())
    }

    fn set_requested_capacity(&mut self, requested: usize) {
        self.requested = requested.max(1);
    }

    fn in_flight(&self) -> usize {
        self.tickets.len()
    }

    fn assign_worker(&mut self, dispatch: &TrialDispatch) -> String {
        let best = (0..self.endpoints.len())
            .filter(|&i| self.endpoints[i].health == Health::Live)
            .max_by_key(|&i| {
                (
                    self.endpoints[i].slots as i64 - self.load(i) as i64,
                    std::cmp::Reverse(i),
                )
            });
        let Some(idx) = best else {
            return "unassigned".into();
        };
        self.tickets.insert(
            dispatch.ticket_id.clone(),
            Ticket {
                endpoint: idx,
                schedule_idx: dispatch.spec.schedule_idx,
                trial_id: dispatch.spec.trial_id.clone(),
                submitted: false,
            },
        );
        self.endpoints[idx].url.clone()
    }

    fn submit(&mut self, dispatch: TrialDispatch) -> Result<WorkerTicket, SubmitError> {
        let Some(idx) = self.tickets.get(&dispatch.ticket_id).map(|t| t.endpoint) else {
            if self.lost.contains(&dispatch.ticket_id) {
                // Its endpoint went down before the submit: already reported lost.
                return Ok(WorkerTicket {
                    ticket_id: dispatch.ticket_id,
                    worker_id: String::new(),
                });
            }
            let worker_id = self.assign_worker(&dispatch);
            if worker_id == "unassigned" {
                return Err(SubmitError::Fatal(self.fatal().unwrap_or_default()));
            }
            return self.submit(dispatch);
        };
        let ep = &self.endpoints[idx];
        let url = ep.url.clone();
        if ep.failing.is_some() {
            // Wait for the poller to hear from it again, or for it to be declared lost.
            return Err(SubmitError::Capacity {
                in_flight: self.load(idx),
                limit: ep.slots,
            });
        }
        let files = match self.files.files_for(&dispatch.spec) {
            Ok(f) => f,
            Err(message) => return Err(SubmitError::Fatal(message)),
        };
        match ep.client.submit_with_files(&self.run_id, &dispatch, &files) {
            Ok(r) if r.accepted && r.ticket_id == dispatch.ticket_id => {
                if let Some(t) = self.tickets.get_mut(&dispatch.ticket_id) {
                    t.submitted = true;
                }
                Ok(WorkerTicket {
                    ticket_id: dispatch.ticket_id,
                    worker_id: url,
                })
            }
            Ok(r) if r.accepted => {
                self.mark_down(
                    idx,
                    Health::Quarantined(format!(
                        "worker {url} accepted ticket `{}` as `{}`",
                        dispatch.ticket_id, r.ticket_id
                    )),
                );
                Ok(WorkerTicket {
                    ticket_id: dispatch.ticket_id,
                    worker_id: url,
                })
            }
            Ok(r) => {
                tracing::debug!(endpoint = %url, reason = ?r.reason, "remote worker refused a dispatch; retrying later");
                Err(SubmitError::Capacity {
                    in_flight: self.load(idx),
                    limit: self.endpoints[idx].slots,
                })
            }
            Err(e) if e.is_protocol_fault() => {
                self.on_error(idx, e);
                Ok(WorkerTicket {
                    ticket_id: dispatch.ticket_id,
                    worker_id: url,
                })
            }
            Err(
                e @ RemoteError::Status {
                    status: 400..=499, ..
                },
            ) => {
                // The worker refuses this trial as malformed: no retry can fix that.
                Err(SubmitError::Fatal(e.to_string()))
            }
            Err(e) => {
                self.on_error(idx, e);
                Err(SubmitError::Capacity {
                    in_flight: self.load(idx),
                    limit: self.endpoints[idx].slots,
                })
            }
        }
    }

    fn poll_completions(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<TrialCompletion>, BackendError> {
        self.release_acks();
        let max = max.clamp(1, MAX_DRAIN_PER_POLL);
        if self.ready.is_empty() && self.reports.is_empty() {
            match self.rx.recv_timeout(timeout) {
                Ok(m) => self.handle(m),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(BackendError("remote poller channel closed".into()))
                }
            }
        }
        while let Ok(m) = self.rx.try_recv() {
            self.handle(m);
        }
        self.check_lost();
        let n = self.ready.len().min(max);
        let out: Vec<TrialCompletion> = self.ready.drain(..n).collect();
        Ok(out)
    }

    fn request_pause(&mut self, ticket_id: &str, label: Option<&str>) -> WorkerPauseAck {
        let refuse = |worker_id: String, reason: String| WorkerPauseAck {
            ticket_id: ticket_id.to_string(),
            worker_id,
            accepted: false,
            reason: Some(reason),
        };
        let Some(idx) = self.running_on(ticket_id) else {
            return refuse(
                String::new(),
                format!("no trial with ticket {ticket_id} is running on a live worker"),
            );
        };
        let url = self.endpoints[idx].url.clone();
        match self.endpoints[idx]
            .client
            .pause(&self.run_id, ticket_id, label)
        {
            Ok(r) => WorkerPauseAck {
                ticket_id: ticket_id.to_string(),
                worker_id: url,
                accepted: r.accepted && r.ticket_id == ticket_id,
                reason: r.reason,
            },
            Err(e) => {
                let reason = e.to_string();
                self.on_error(idx, e);
                refuse(url, reason)
            }
        }
    }

    fn request_resume(&mut self, ticket_id: &str) -> Result<(), String> {
        let Some(idx) = self.running_on(ticket_id) else {
            return Err(format!(
                "no trial with ticket {ticket_id} is running on a live worker"
            ));
        };
        match self.endpoints[idx].client.resume(&self.run_id, ticket_id) {
            Ok(r) if r.accepted => Ok(()),
            Ok(r) => Err(r
                .reason
                .unwrap_or_else(|| "the worker refused to resume".into())),
            Err(e) => {
                let reason = e.to_string();
                self.on_error(idx, e);
                Err(reason)
            }
        }
    }

    fn request_stop(&mut self, ticket_id: &str, reason: &str) {
        let Some(idx) = self.running_on(ticket_id) else {
            return;
        };
        if let Err(e) = self.endpoints[idx]
            .client
            .stop(&self.run_id, ticket_id, reason)
        {
            tracing::warn!(ticket_id, error = %e, "stop request to remote worker failed");
            self.on_error(idx, e);
        }
    }

    fn take_events(&mut self) -> Vec<BackendEvent> {
        let notices = self.notices.drain(..).map(BackendEvent::Notice);
        notices.chain(self.reports.drain(..)).collect()
    }

    /// The pollers' channel also carries the coordinator's wake-ups: its wait ends on a
    /// completion, a poll's answer or fault (each endpoint's long poll returns at least
    /// every few seconds), a control request or a signal. Losses are checked on every
    /// turn, at least once a second.
    fn waker(&self) -> Option<Waker> {
        let tx = self.tx.clone();
        Some(Waker::new(move || {
            let _ = tx.send(PollerMsg::Wake);
        }))
    }

    fn fatal(&self) -> Option<String> {
        if self.live_slots() > 0 {
            return None;
        }
        let why: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| match &e.health {
                Health::Lost(r) => format!("{} lost ({r})", e.url),
                Health::Quarantined(r) => format!("{} quarantined ({r})", e.url),
                Health::Live => format!("{} has no slots", e.url),
            })
            .collect();
        Some(format!(
            "no remote worker endpoint is left for this run: {}",
            why.join("; ")
        ))
    }
}
