//! [`RemoteWorkerBackend`]: the [`WorkerBackend`] over one or more worker endpoints.
//!
//! Dispatches go round-robin to the endpoints; a refusal from every endpoint is
//! capacity backpressure. Completions are deduped by (run_id, schedule_idx, trial_id,
//! completion_seq) and acknowledged on the next poll of the endpoint that delivered
//! them. A completion for a ticket this backend never handed out, or any protocol fault
//! (wrong `schema_version`, a document that breaks its schema), quarantines the
//! backend: every later call fails with a [`BackendError`] naming the first reason, so
//! the coordinator fails the run instead of committing facts it cannot trust.

use super::protocol::{HttpRemoteWorkerProtocol, RemoteCompletion};
use super::RemoteError;
use crate::backend::*;
use std::collections::{HashMap, HashSet, VecDeque};

struct Endpoint {
    client: HttpRemoteWorkerProtocol,
    /// Keys delivered by this endpoint, acknowledged on its next poll.
    pending_acks: Vec<String>,
}

struct Ticket {
    endpoint: usize,
    schedule_idx: u64,
    trial_id: String,
    delivered: bool,
}

pub struct RemoteWorkerBackend {
    run_id: String,
    endpoints: Vec<Endpoint>,
    next_endpoint: usize,
    requested: usize,
    tickets: HashMap<String, Ticket>,
    in_flight: usize,
    seen: HashSet<(String, u64, String, u64)>,
    /// Completions received beyond the `max` of the poll that fetched them.
    ready: VecDeque<TrialCompletion>,
    quarantined: Option<String>,
    notices: Vec<BackendNotice>,
}

impl RemoteWorkerBackend {
    /// A backend for `run_id` over `endpoints` (at least one).
    pub fn new(
        run_id: impl Into<String>,
        endpoints: Vec<HttpRemoteWorkerProtocol>,
        requested: usize,
    ) -> Result<Self, RemoteError> {
        if endpoints.is_empty() {
            return Err(RemoteError::BadEndpoint {
                url: String::new(),
                reason: "a remote backend needs at least one worker endpoint".into(),
            });
        }
        Ok(RemoteWorkerBackend {
            run_id: run_id.into(),
            endpoints: endpoints
                .into_iter()
                .map(|client| Endpoint {
                    client,
                    pending_acks: Vec::new(),
                })
                .collect(),
            next_endpoint: 0,
            requested: requested.max(1),
            tickets: HashMap::new(),
            in_flight: 0,
            seen: HashSet::new(),
            ready: VecDeque::new(),
            quarantined: None,
            notices: Vec::new(),
        })
    }

    /// Why the backend refuses all work, if it does.
    pub fn quarantine_reason(&self) -> Option<&str> {
        self.quarantined.as_deref()
    }

    fn quarantine(&mut self, reason: String) -> String {
        if self.quarantined.is_none() {
            tracing::error!(reason = %reason, "remote worker backend quarantined");
            self.notices.push(BackendNotice {
                code: "remote_backend_quarantined".into(),
                message: reason.clone(),
                requested: None,
                effective: None,
            });
            self.quarantined = Some(reason);
        }
        self.quarantined_message()
    }

    /// The endpoint running `ticket_id`, if it was handed out and not yet delivered back.
    fn running_on(&self, ticket_id: &str) -> Option<usize> {
        self.tickets
            .get(ticket_id)
            .filter(|t| !t.delivered)
            .map(|t| t.endpoint)
    }

    fn quarantined_message(&self) -> String {
        format!(
            "remote worker backend is quarantined: {}; the run cannot continue on these workers (check that coordinator and workers run the same labj version)",
            self.quarantined.as_deref().unwrap_or("")
        )
    }

    /// Quarantine on protocol faults; pass other errors through as text.
    fn fault(&mut self, e: RemoteError) -> String {
        if e.is_protocol_fault() {
            self.quarantine(e.to_string())
        } else {
            e.to_string()
        }
    }

    /// Poll one endpoint and turn its answer into new completions (in `ready`).
    fn poll_endpoint(&mut self, idx: usize, wait: Duration, max: usize) -> Result<(), String> {
        let acks = std::mem::take(&mut self.endpoints[idx].pending_acks);
        let result = self.endpoints[idx]
            .client
            .poll(&self.run_id, &acks, max, wait);
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                // Not acknowledged: the worker keeps them and so must we.
                self.endpoints[idx].pending_acks = acks;
                return Err(self.fault(e));
            }
        };
        for c in response.completions {
            self.accept(idx, c)?;
        }
        Ok(())
    }

    fn accept(&mut self, idx: usize, c: RemoteCompletion) -> Result<(), String> {
        let url = self.endpoints[idx].client.base_url().to_string();
        if c.run_id != self.run_id {
            return Err(self.quarantine(format!(
                "worker {url} delivered a completion of run `{}` (ticket {}), this coordinator drives run `{}`",
                c.run_id, c.ticket_id, self.run_id
            )));
        }
        let Some(ticket) = self.tickets.get_mut(&c.ticket_id) else {
            return Err(self.quarantine(format!(
                "worker {url} delivered a completion for unknown ticket `{}` (schedule_idx {}, trial {})",
                c.ticket_id, c.schedule_idx, c.trial_id
            )));
        };
        if ticket.endpoint != idx
            || ticket.schedule_idx != c.schedule_idx
            || ticket.trial_id != c.trial_id
        {
            let (s, t) = (ticket.schedule_idx, ticket.trial_id.clone());
            return Err(self.quarantine(format!(
                "worker {url} delivered ticket `{}` as schedule_idx {} / trial {}, but it was dispatched as schedule_idx {s} / trial {t}",
                c.ticket_id, c.schedule_idx, c.trial_id
            )));
        }
        let first_delivery = !ticket.delivered;
        ticket.delivered = true;
        let ack = c.key();
        if !self.endpoints[idx].pending_acks.contains(&ack) {
            self.endpoints[idx].pending_acks.push(ack);
        }
        let key = (c.run_id, c.schedule_idx, c.trial_id, c.completion_seq);
        if !self.seen.insert(key.clone()) {
            return Ok(()); // the same delivery again: already handed to the coordinator
        }
        if first_delivery {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        // Later deliveries of a finished ticket still go up: the committer drops
        // duplicates of committed slots idempotently and flags conflicting ones.
        self.ready.push_back(TrialCompletion {
            ticket_id: c.ticket_id,
            worker_id: url,
            schedule_idx: key.1,
            trial_id: key.2,
            completion_seq: key.3,
            outcome: c.outcome,
        });
        Ok(())
    }

    fn busy_endpoints(&self) -> Vec<usize> {
        let mut busy: Vec<usize> = (0..self.endpoints.len())
            .filter(|&i| !self.endpoints[i].pending_acks.is_empty())
            .collect();
        for t in self.tickets.values().filter(|t| !t.delivered) {
            if !busy.contains(&t.endpoint) {
                busy.push(t.endpoint);
            }
        }
        busy.sort_unstable();
        busy
    }
}

impl WorkerBackend for RemoteWorkerBackend {
    fn capacity(&self) -> usize {
        self.requested
    }

    fn set_requested_capacity(&mut self, requested: usize) {
        self.requested = requested.max(1);
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn submit(&mut self, dispatch: TrialDispatch) -> Result<WorkerTicket, SubmitError> {
        if self.quarantined.is_some() {
            return Err(SubmitError::Fatal(self.quarantined_message()));
        }
        let limit = self.capacity();
        if self.in_flight >= limit {
            return Err(SubmitError::Capacity {
                in_flight: self.in_flight,
                limit,
            });
        }
        let n = self.endpoints.len();
        for step in 0..n {
            let idx = (self.next_endpoint + step) % n;
            let client = &self.endpoints[idx].client;
            let url = client.base_url().to_string();
            let response = match client.submit(&self.run_id, &dispatch) {
                Ok(r) => r,
                Err(e) => return Err(SubmitError::Fatal(self.fault(e))),
            };
            if !response.accepted {
                tracing::debug!(endpoint = %url, reason = ?response.reason, "remote worker refused a dispatch");
                continue;
            }
            if response.ticket_id != dispatch.ticket_id {
                return Err(SubmitError::Fatal(self.quarantine(format!(
                    "worker {url} accepted ticket `{}` as `{}`",
                    dispatch.ticket_id, response.ticket_id
                ))));
            }
            self.next_endpoint = (idx + 1) % n;
            self.tickets.insert(
                dispatch.ticket_id.clone(),
                Ticket {
                    endpoint: idx,
                    schedule_idx: dispatch.spec.schedule_idx,
                    trial_id: dispatch.spec.trial_id.clone(),
                    delivered: false,
                },
            );
            self.in_flight += 1;
            return Ok(WorkerTicket {
                ticket_id: dispatch.ticket_id,
                worker_id: url,
            });
        }
        // Every worker is full: backpressure, retried by the coordinator.
        Err(SubmitError::Capacity {
            in_flight: self.in_flight,
            limit,
        })
    }

    fn poll_completions(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<TrialCompletion>, BackendError> {
        if self.quarantined.is_some() {
            return Err(BackendError(self.quarantined_message()));
        }
        let max = max.clamp(1, MAX_DRAIN_PER_POLL);
        if self.ready.is_empty() {
            let busy = self.busy_endpoints();
            if busy.is_empty() {
                std::thread::sleep(timeout);
            }
            // Several busy endpoints share the wait so one poll stays within `timeout`.
            let wait = timeout / u32::try_from(busy.len().max(1)).unwrap_or(u32::MAX);
            for idx in busy {
                let wait = if self.ready.is_empty() {
                    wait
                } else {
                    Duration::ZERO
                };
                self.poll_endpoint(idx, wait, max).map_err(BackendError)?;
            }
        }
        let n = self.ready.len().min(max);
        Ok(self.ready.drain(..n).collect())
    }

    fn request_pause(&mut self, ticket_id: &str, label: Option<&str>) -> WorkerPauseAck {
        let refuse = |worker_id: String, reason: String| WorkerPauseAck {
            ticket_id: ticket_id.to_string(),
            worker_id,
            accepted: false,
            reason: Some(reason),
        };
        if self.quarantined.is_some() {
            return refuse(String::new(), self.quarantined_message());
        }
        let Some(idx) = self.running_on(ticket_id) else {
            return refuse(
                String::new(),
                format!("no trial with ticket {ticket_id} is running"),
            );
        };
        let client = &self.endpoints[idx].client;
        let url = client.base_url().to_string();
        match client.pause(&self.run_id, ticket_id, label) {
            Ok(r) if r.ticket_id == ticket_id => WorkerPauseAck {
                ticket_id: r.ticket_id,
                worker_id: url,
                accepted: r.accepted,
                reason: r.reason,
            },
            Ok(r) => {
                let reason = self.quarantine(format!(
                    "worker {url} answered a pause of ticket `{ticket_id}` for ticket `{}`",
                    r.ticket_id
                ));
                refuse(url, reason)
            }
            Err(e) => {
                let reason = self.fault(e);
                refuse(url, reason)
            }
        }
    }

    fn request_resume(&mut self, ticket_id: &str) -> Result<(), String> {
        Err(format!(
            "cannot resume ticket {ticket_id}: the remote worker protocol v1 has no resume call"
        ))
    }

    fn request_stop(&mut self, ticket_id: &str, reason: &str) {
        if self.quarantined.is_some() {
            return;
        }
        let Some(idx) = self.running_on(ticket_id) else {
            return;
        };
        if let Err(e) = self.endpoints[idx]
            .client
            .stop(&self.run_id, ticket_id, reason)
        {
            let message = self.fault(e);
            tracing::warn!(ticket_id, error = %message, "stop request to remote worker failed");
        }
    }

    fn take_notices(&mut self) -> Vec<BackendNotice> {
        std::mem::take(&mut self.notices)
    }
}
