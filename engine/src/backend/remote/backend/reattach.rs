//! `labj continue` over remote workers: taking back the tickets a worker still holds.

use super::{Health, RemoteWorkerBackend, Ticket};
use crate::wire::messages::TicketDoc;
use journal::projection::ActiveTrial;

impl RemoteWorkerBackend {
    /// `labj continue`: ask every live endpoint for its outstanding tickets of this run
    /// and take back those the journal still shows active there. Returns the tickets
    /// reattached; every other active trial is for the caller to record `worker_lost`
    /// (and is remembered here as lost, so a late completion is dropped). Tickets the
    /// worker holds that the journal no longer expects are stopped or acknowledged.
    pub(crate) fn reattach(&mut self, active: &[ActiveTrial]) -> Vec<String> {
        let mut adopted = Vec::new();
        for idx in 0..self.endpoints.len() {
            if self.endpoints[idx].health != Health::Live {
                continue;
            }
            let listed: Vec<TicketDoc> = match self.endpoints[idx].client.tickets(&self.run_id) {
                Ok(r) => r.tickets,
                Err(e) => {
                    self.on_error(idx, e);
                    continue;
                }
            };
            let url = self.endpoints[idx].url.clone();
            let mut stale_keys = Vec::new();
            for t in listed {
                let journaled = active
                    .iter()
                    .find(|a| a.ticket_id == t.ticket_id && a.worker_id == url);
                // A trial stopped by `labj kill` finished `cancelled`: that is no verdict,
                // so it is re-run like any trial the session lost.
                let cancelled = t.classification.as_deref() == Some("cancelled");
                match journaled {
                    Some(a)
                        if !cancelled
                            && a.schedule_idx == t.schedule_idx
                            && a.trial_id == t.trial_id =>
                    {
                        self.tickets.insert(
                            t.ticket_id.clone(),
                            Ticket {
                                endpoint: idx,
                                schedule_idx: t.schedule_idx,
                                trial_id: t.trial_id.clone(),
                                submitted: true,
                            },
                        );
                        adopted.push(t.ticket_id);
                    }
                    _ if t.state == "running" => {
                        let _ = self.endpoints[idx].client.stop(
                            &self.run_id,
                            &t.ticket_id,
                            "not expected by the continuing coordinator",
                        );
                    }
                    _ => stale_keys.push(crate::wire::completion_key(
                        &self.run_id,
                        t.schedule_idx,
                        &t.trial_id,
                        &t.ticket_id,
                        1,
                    )),
                }
            }
            if !stale_keys.is_empty() {
                let _ = self.endpoints[idx].client.ack(&self.run_id, &stale_keys);
            }
        }
        for a in active {
            if !adopted.contains(&a.ticket_id) {
                self.lost.insert(a.ticket_id.clone());
            }
        }
        adopted
    }
}
