//! Run control inside the coordinator: pause, resume, kill, cancel, set.
//!
//! Every request is journaled first (`pause_requested`, `resume_requested`,
//! `stop_requested`, `concurrency_set`), then acted on, then its outcome is journaled
//! and the answer written in the same transaction as the outcome.

use super::*;
use crate::control::{self, ControlAnswer, ControlCommand, ControlRequest};
use journal::projection::{RunStatus, TrialControlState};
use serde_json::json;

impl Coordinator<'_> {
    pub(super) fn handle_control(&mut self) -> Result<(), CoordinatorError> {
        let mut requests = control::pending(self.journal.conn())?;
        if self.killing.is_none() && INTERRUPTED.swap(false, std::sync::atomic::Ordering::SeqCst) {
            eprintln!("[labj] interrupted: stopping active trials (interrupt again to exit at once; `labj continue` resumes the run)");
            requests.insert(
                0,
                ControlRequest {
                    request_id: format!("interrupt-{}", uuid::Uuid::now_v7()),
                    command: ControlCommand::Kill,
                    requested_by: format!("signal to labj pid {}", std::process::id()),
                    created_ms: lease::now_ms(),
                },
            );
        }
        for r in requests {
            // A kill under way stays pending until `finish_kill` answers it; handling it
            // again would answer the kill's own request with "the run is being killed".
            if self.killing.as_deref() == Some(r.request_id.as_str()) {
                continue;
            }
            // Whatever this iteration already produced goes first, in its own order.
            self.flush()?;
            let answer = self.handle_request(&r)?;
            if let Some(answer) = answer {
                let id = r.request_id.clone();
                if self.pending.is_empty() {
                    control::answer(self.journal.conn(), &id, &answer)?;
                } else {
                    self.flush_with(|tx| control::answer(tx, &id, &answer))?;
                }
            }
        }
        Ok(())
    }

    fn status_str(&self) -> String {
        self.proj.control.status.as_str().to_string()
    }

    fn refuse(&self, message: String) -> Option<ControlAnswer> {
        Some(ControlAnswer {
            ok: false,
            status: self.status_str(),
            message,
            detail: serde_json::Value::Null,
        })
    }

    fn active_list(&self) -> String {
        let ids: Vec<&str> = self
            .proj
            .control
            .active_trials
            .keys()
            .map(String::as_str)
            .collect();
        if ids.is_empty() {
            "none".into()
        } else {
            ids.join(", ")
        }
    }

    /// Handle one request; `None` means the answer comes later (kill).
    fn handle_request(
        &mut self,
        r: &ControlRequest,
    ) -> Result<Option<ControlAnswer>, CoordinatorError> {
        if self.killing.is_some() {
            return Ok(self.refuse("the run is being killed".into()));
        }
        match &r.command {
            ControlCommand::Pause { trial_id, label } => self.pause(r, trial_id, label),
            ControlCommand::Resume { trial_id, all } => self.resume(r, trial_id.as_deref(), *all),
            ControlCommand::Kill => self.kill(r),
            ControlCommand::Cancel { trial_id } => self.cancel(r, trial_id),
            ControlCommand::Set { max_concurrency } => self.set(r, *max_concurrency),
        }
    }

    fn pause(
        &mut self,
        r: &ControlRequest,
        trial_id: &Option<String>,
        label: &Option<String>,
    ) -> Result<Option<ControlAnswer>, CoordinatorError> {
        if self.proj.control.status != RunStatus::Running || self.proj.control.pause.is_some() {
            return Ok(self.refuse(format!(
                "the run is {}, not running; resume it first",
                self.status_str()
            )));
        }
        if let Some(t) = trial_id {
            if !self.proj.control.active_trials.contains_key(t) {
                return Ok(self.refuse(format!(
                    "trial {t} is not active; active trials: {}",
                    self.active_list()
                )));
            }
        }
        // Journal the request first: from here on nothing is dispatched.
        self.pending.push(Event::PauseRequested(PauseRequested {
            request_id: r.request_id.clone(),
            trial_id: trial_id.clone(),
            label: label.clone(),
            requested_by: r.requested_by.clone(),
            requested_at: format_ts(r.created_ms),
        }));
        self.flush()?;
        let targets: Vec<(String, String)> = self
            .proj
            .control
            .active_trials
            .values()
            .filter(|t| trial_id.as_deref().is_none_or(|id| id == t.trial_id))
            .map(|t| (t.trial_id.clone(), t.ticket_id.clone()))
            .collect();
        let mut paused = Vec::new();
        let mut refused = Vec::new();
        for (tid, ticket) in targets {
            let ack = self.backend.request_pause(&ticket, label.as_deref());
            if ack.accepted {
                paused.push(tid.clone());
            } else {
                refused.push(json!({"trial_id": tid, "reason": ack.reason}));
            }
            self.pending.push(Event::PauseAcked(PauseAcked {
                request_id: r.request_id.clone(),
                trial_id: tid,
                worker_id: ack.worker_id,
                accepted: ack.accepted,
                reason: ack.reason,
            }));
        }
        let ok = refused.is_empty();
        if ok {
            self.pending.push(Event::RunPaused(RunPaused {
                request_id: r.request_id.clone(),
                label: label.clone(),
                paused_trials: paused.clone(),
            }));
        } else {
            let survivors: Vec<String> = refused
                .iter()
                .filter_map(|v| v["trial_id"].as_str().map(String::from))
                .collect();
            self.pending.push(Event::RunInterrupted(RunInterrupted {
                reason: format!(
                    "pause {} failed for {} of {} trials",
                    r.request_id,
                    survivors.len(),
                    survivors.len() + paused.len()
                ),
                survivors,
            }));
        }
        let status = if ok { "paused" } else { "interrupted" };
        Ok(Some(ControlAnswer {
            ok,
            status: status.into(),
            message: if ok {
                format!("paused {} trial(s)", paused.len())
            } else {
                format!(
                    "pause failed for {} trial(s); run is interrupted, survivors keep running",
                    refused.len()
                )
            },
            detail: json!({"paused": paused, "refused": refused}),
        }))
    }

    fn resume(
        &mut self,
        r: &ControlRequest,
        trial_id: Option<&str>,
        all: bool,
    ) -> Result<Option<ControlAnswer>, CoordinatorError> {
        let status = self.proj.control.status;
        if !matches!(status, RunStatus::Paused | RunStatus::Interrupted) {
            return Ok(self.refuse(format!("the run is {}, not paused", status.as_str())));
        }
        let paused: Vec<(String, String)> = self
            .proj
            .control
            .active_trials
            .values()
            .filter(|t| t.control.state == TrialControlState::Paused)
            .map(|t| (t.trial_id.clone(), t.ticket_id.clone()))
            .collect();
        let targets: Vec<(String, String)> = match trial_id {
            Some(t) => match paused.iter().find(|(id, _)| id == t) {
                Some(p) => vec![p.clone()],
                None => {
                    let names: Vec<&str> = paused.iter().map(|(id, _)| id.as_str()).collect();
                    return Ok(self.refuse(format!(
                        "trial {t} is not paused; paused trials: {}",
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        }
                    )));
                }
            },
            None if all => paused.clone(),
            None if self.proj.control.active_trials.len() > 1 => {
                return Ok(self.refuse(format!(
                    "several trials are active ({}); name one with --trial, or resume them all with --all",
                    self.active_list()
                )));
            }
            None => paused.clone(),
        };
        let mut resumed = Vec::new();
        let mut errors = Vec::new();
        for (tid, ticket) in targets {
            match self.backend.request_resume(&ticket) {
                Ok(()) => resumed.push(tid),
                Err(e) => {
                    // The trial is no longer frozen (it ended); count it as resumed so
                    // the run does not stay paused on a trial that is gone.
                    errors.push(json!({"trial_id": tid, "reason": e}));
                    resumed.push(tid);
                }
            }
        }
        self.pending.push(Event::ResumeRequested(ResumeRequested {
            request_id: r.request_id.clone(),
            trial_id: trial_id.map(String::from),
            requested_by: r.requested_by.clone(),
            resumed_trials: resumed.clone(),
        }));
        // Fold now so the answer states the status the resume produced.
        self.flush()?;
        Ok(Some(ControlAnswer {
            ok: true,
            status: self.status_str(),
            message: format!("resumed {} trial(s)", resumed.len()),
            detail: json!({"resumed": resumed, "errors": errors}),
        }))
    }

    fn kill(&mut self, r: &ControlRequest) -> Result<Option<ControlAnswer>, CoordinatorError> {
        self.pending.push(Event::StopRequested(StopRequested {
            request_id: r.request_id.clone(),
            scope: "kill".into(),
            trial_id: None,
            requested_by: r.requested_by.clone(),
            reason: Some("labj kill".into()),
        }));
        self.flush()?;
        let tickets: Vec<String> = self.in_flight.keys().cloned().collect();
        // Journaled dispatches the backend never accepted just stay active.
        let unsubmitted: Vec<String> = self.backlog.drain(..).map(|d| d.ticket_id).collect();
        for t in &unsubmitted {
            if let Some(f) = self.in_flight.remove(t) {
                self.per_variant[f.variant_idx] -= 1;
                self.chains_busy.remove(&f.chain);
            }
        }
        for t in tickets.iter().filter(|t| !unsubmitted.contains(t)) {
            self.backend.request_stop(t, "labj kill");
        }
        self.killing = Some(r.request_id.clone());
        Ok(None)
    }

    /// Called each iteration while a kill is under way: finish once nothing is in flight.
    pub(super) fn finish_kill(&mut self) -> Result<Option<SessionEnd>, CoordinatorError> {
        let Some(request_id) = self.killing.clone() else {
            return Ok(None);
        };
        if !self.in_flight.is_empty() {
            return Ok(None);
        }
        self.drain_commits();
        let stopped: Vec<String> = self.proj.control.active_trials.keys().cloned().collect();
        self.pending.push(Event::RunKilled(RunKilled {
            request_id: request_id.clone(),
            stopped_trials: stopped.clone(),
        }));
        let answer = ControlAnswer {
            ok: true,
            status: "killed".into(),
            message: format!(
                "killed; {} stopped trial(s) will be recorded as worker_lost by `labj continue`",
                stopped.len()
            ),
            detail: json!({"stopped_trials": stopped}),
        };
        self.flush_with(|tx| control::answer(tx, &request_id, &answer))?;
        Ok(Some(SessionEnd::Killed))
    }

    fn cancel(
        &mut self,
        r: &ControlRequest,
        trial_id: &str,
    ) -> Result<Option<ControlAnswer>, CoordinatorError> {
        let Some(t) = self.proj.control.active_trials.get(trial_id) else {
            return Ok(self.refuse(format!(
                "trial {trial_id} is not active; active trials: {}",
                self.active_list()
            )));
        };
        let ticket = t.ticket_id.clone();
        self.pending.push(Event::StopRequested(StopRequested {
            request_id: r.request_id.clone(),
            scope: "cancel".into(),
            trial_id: Some(trial_id.to_string()),
            requested_by: r.requested_by.clone(),
            reason: Some("labj cancel".into()),
        }));
        self.flush()?;
        self.backend.request_stop(&ticket, "labj cancel");
        Ok(Some(ControlAnswer {
            ok: true,
            status: self.status_str(),
            message: format!("stopping {trial_id}; it will commit as cancelled"),
            detail: json!({"trial_id": trial_id}),
        }))
    }

    fn set(
        &mut self,
        r: &ControlRequest,
        max_concurrency: u32,
    ) -> Result<Option<ControlAnswer>, CoordinatorError> {
        if max_concurrency == 0 {
            return Ok(self.refuse("--max-concurrency must be at least 1".into()));
        }
        self.pending.push(Event::ConcurrencySet(ConcurrencySet {
            request_id: r.request_id.clone(),
            max_concurrency,
            requested_by: r.requested_by.clone(),
        }));
        self.backend
            .set_requested_capacity(max_concurrency as usize);
        for n in self.backend.take_notices() {
            self.pending.push(notice_event(n));
        }
        let effective = self.backend.capacity().min(max_concurrency as usize);
        Ok(Some(ControlAnswer {
            ok: true,
            status: self.status_str(),
            message: format!(
                "max concurrency set to {max_concurrency} (effective {effective}); running trials are not stopped"
            ),
            detail: json!({"max_concurrency": max_concurrency, "effective": effective}),
        }))
    }
}
