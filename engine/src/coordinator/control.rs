//! Run control inside the coordinator: pause, resume, kill, cancel, set.
//!
//! Every request is journaled first (`pause_requested`, `resume_requested`,
//! `stop_requested`, `concurrency_set`), then acted on, then its outcome is journaled
//! and the answer written in the same transaction as the outcome.

use super::*;
use crate::control::{self, ControlAnswer, ControlCommand, ControlRequest};
use journal::projection::{RunStatus, TrialControlState};
use serde_json::json;
use std::time::{Duration, Instant};

/// How long a kill waits for stopped trials to report before it ends the session
/// anyway: the executor escalates to SIGKILL after its own grace, so only a worker stuck
/// outside its agent (a hung filesystem, a bug) is still running by then. Its trial
/// stays active in the journal and becomes `worker_lost` on `continue`.
pub(super) const KILL_DEADLINE: Duration = Duration::from_secs(10);

/// The longest the coordinator goes without reading its inbox although the bell did
/// not ring (a requester that could not ring it: its request waits at most this).
pub(super) const INBOX_READ_EVERY: Duration = Duration::from_secs(1);

/// The least time between two looks at the inbox bell.
const BELL_EVERY: Duration = Duration::from_millis(20);

/// A kill under way.
#[derive(Debug, Clone)]
pub(super) struct Kill {
    request_id: String,
    started: Instant,
    /// Later kill requests, answered together with the first.
    joined: Vec<String>,
}

/// What handling one request produced.
enum Reply {
    /// Answer written with this iteration's events (or alone when there are none).
    Answer(ControlAnswer),
    /// Answered already, in the transaction of its events.
    Answered,
    /// Answered when the kill completes.
    Later,
}

impl Coordinator<'_> {
    pub(super) fn handle_control(&mut self) -> Result<(), CoordinatorError> {
        let mut requests = if self.inbox_due() {
            control::pending(&self.journal)?
        } else {
            Vec::new()
        };
        let suspend = self.signal_requests(&mut requests);
        for r in requests {
            // Requests already part of the kill under way stay pending until
            // `finish_kill` answers them.
            if self
                .killing
                .as_ref()
                .is_some_and(|k| k.request_id == r.request_id || k.joined.contains(&r.request_id))
            {
                continue;
            }
            // Whatever this iteration already produced goes first, in its own order.
            self.flush()?;
            match self.handle_request(&r)? {
                Reply::Answer(answer) => {
                    let a = control::inbox_answer(&r.request_id, &answer);
                    self.flush_answering(|_| vec![a])?;
                }
                Reply::Answered | Reply::Later => {}
            }
        }
        if suspend {
            // What Ctrl-Z asked for is journaled and acted on (agents frozen): now stop
            // labj itself, as the terminal expects. `fg` continues it here.
            self.flush()?;
            crate::signals::stop_self();
        }
        Ok(())
    }

    /// Whether to read the inbox now: on the first iteration, when its bell rang since
    /// the last read, and at least every [`INBOX_READ_EVERY`] whatever the bell says.
    /// The bell is read before the inbox: a request whose ring this sees was committed
    /// before it, so the read that follows finds it.
    fn inbox_due(&mut self) -> bool {
        // Between two looks at the bell, at least BELL_EVERY: at a thousand
        // completions a second the loop turns far more often than a person asks. A
        // ring the alarm heard is looked at at once.
        let heard = self.alarm.as_ref().is_some_and(|a| a.take_rang());
        if !heard && self.inbox_read.is_some() && self.bell_looked.elapsed() < BELL_EVERY {
            return false;
        }
        self.bell_looked = Instant::now();
        let bell = self.journal.inbox_bell();
        let due = match self.inbox_read {
            None => true,
            Some((seen, at)) => seen != bell || at.elapsed() >= INBOX_READ_EVERY,
        };
        if due {
            self.inbox_read = Some((bell, Instant::now()));
        }
        due
    }

    /// Time left before a kill under way ends the session regardless, if one is.
    pub(super) fn kill_deadline_in(&self) -> Option<Duration> {
        self.killing
            .as_ref()
            .map(|k| KILL_DEADLINE.saturating_sub(k.started.elapsed()))
    }

    /// Turns a signal that arrived into the request it stands for, first in line:
    /// a stop signal into a kill, Ctrl-Z into a run-wide pause, and the SIGCONT of `fg`
    /// into the resume of what Ctrl-Z paused. True when labj should stop itself after
    /// this iteration's requests (Ctrl-Z).
    fn signal_requests(&mut self, requests: &mut Vec<ControlRequest>) -> bool {
        use crate::signals::SignalRequest;
        let request = |command, by: &str| ControlRequest {
            request_id: format!("signal-{}", uuid::Uuid::now_v7()),
            command,
            requested_by: format!("{by} to labj pid {}", std::process::id()),
            created_ms: lease::now_ms(),
        };
        match crate::signals::take_request() {
            None => false,
            // A kill is under way already: it ends the session; a second stop signal
            // ends labj at once (the handler's default action).
            Some(SignalRequest::Stop) if self.killing.is_some() => false,
            Some(SignalRequest::Stop) => {
                self.opts.observer.notice(&self.run_id,
                    "interrupted: stopping active trials (interrupt again to exit at once; `labj continue` resumes the run)",
                );
                requests.insert(0, request(ControlCommand::Kill, "a stop signal"));
                false
            }
            Some(SignalRequest::Suspend) => {
                let running = self.proj.control.status == RunStatus::Running
                    && self.proj.control.pause.is_none()
                    && self.killing.is_none();
                if running {
                    let r = request(
                        ControlCommand::Pause {
                            trial_id: None,
                            label: Some("ctrl-z".into()),
                        },
                        "Ctrl-Z (SIGTSTP)",
                    );
                    self.suspended_pause = Some(r.request_id.clone());
                    self.opts.observer.notice(&self.run_id,
                        &format!(
                            "Ctrl-Z: pausing the run ({} active trial(s) frozen, journaled) and stopping labj; `fg` resumes both",
                            self.proj.control.active_trials.len()
                        ),
                    );
                    requests.insert(0, r);
                } else {
                    self.opts.observer.notice(
                        &self.run_id,
                        &format!(
                            "Ctrl-Z: stopping labj; the run is {} and stays so",
                            self.status_str()
                        ),
                    );
                }
                true
            }
            Some(SignalRequest::Resume) => {
                let Some(id) = self.suspended_pause.take() else {
                    return false;
                };
                // Only the pause Ctrl-Z made, and only while it still holds: a pause or
                // resume someone made since is theirs to undo.
                if self
                    .proj
                    .control
                    .pause
                    .as_ref()
                    .is_some_and(|p| p.request_id == id)
                    && self.killing.is_none()
                {
                    self.opts
                        .observer
                        .notice(&self.run_id, "continued: resuming the trials Ctrl-Z paused");
                    requests.insert(
                        0,
                        request(
                            ControlCommand::Resume {
                                trial_id: None,
                                all: true,
                            },
                            "fg (SIGCONT)",
                        ),
                    );
                }
                false
            }
        }
    }

    fn status_str(&self) -> String {
        self.proj.control.status.as_str().to_string()
    }

    fn refuse(&self, message: String) -> Reply {
        Reply::Answer(ControlAnswer {
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

    /// Handle one request.
    fn handle_request(&mut self, r: &ControlRequest) -> Result<Reply, CoordinatorError> {
        if let Some(k) = &mut self.killing {
            if r.command == ControlCommand::Kill {
                // A second kill (or a SIGTERM during `labj kill`) waits for the same end.
                k.joined.push(r.request_id.clone());
                return Ok(Reply::Later);
            }
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
    ) -> Result<Reply, CoordinatorError> {
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
        let named = if paused.is_empty() {
            "none active".to_string()
        } else {
            paused.join(", ")
        };
        Ok(Reply::Answer(ControlAnswer {
            ok,
            status: status.into(),
            message: if !ok {
                format!(
                    "pause failed for {} trial(s); run is interrupted, survivors keep running",
                    refused.len()
                )
            } else if let Some(t) = trial_id {
                format!(
                    "paused trial {t}; no new trial starts until `labj resume <run> --trial {t}`"
                )
            } else {
                format!(
                    "paused the run: {} active trial(s) frozen ({named}), no new trial starts; `labj resume <run>` resumes the whole run",
                    paused.len()
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
    ) -> Result<Reply, CoordinatorError> {
        let status = self.proj.control.status;
        if !matches!(status, RunStatus::Paused | RunStatus::Interrupted) {
            return Ok(self.refuse(format!("the run is {}, not paused", status.as_str())));
        }
        // `labj pause <run>` (no --trial) paused the run as a whole. A run-wide pause that
        // failed for some trials left the run interrupted, not paused: its survivors run
        // on, and a resume names what it resumes (or says --all).
        let whole = status == RunStatus::Paused
            && self
                .proj
                .control
                .pause
                .as_ref()
                .is_some_and(|p| p.trial_id.is_none());
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
            // A run paused as a whole resumes as a whole.
            None if all || whole => paused.clone(),
            // A pause of one trial while several run: the resume names what it resumes.
            None if self.proj.control.active_trials.len() > 1 => {
                let names: Vec<&str> = paused.iter().map(|(id, _)| id.as_str()).collect();
                return Ok(self.refuse(format!(
                    "the run was not paused as a whole and several trials are active ({}); name the paused one with --trial ({}), or resume every paused trial with --all",
                    self.active_list(),
                    names.join(", ")
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
        // The answer states the status the resume produced (after the fold), and is
        // written in the transaction of its event: a crash never re-runs the request.
        let named = if resumed.is_empty() {
            "none was paused".to_string()
        } else {
            resumed.join(", ")
        };
        let message = match trial_id {
            Some(t) => format!("resumed trial {t}"),
            None if whole => format!(
                "resumed the run: {} paused trial(s) running again ({named}), new trials start again",
                resumed.len()
            ),
            None => format!("resumed {} paused trial(s) ({named})", resumed.len()),
        };
        let detail = json!({"resumed": resumed, "errors": errors});
        let id = r.request_id.clone();
        self.flush_answering(move |proj| {
            vec![control::inbox_answer(
                &id,
                &ControlAnswer {
                    ok: true,
                    status: proj.control.status.as_str().to_string(),
                    message,
                    detail,
                },
            )]
        })?;
        Ok(Reply::Answered)
    }

    fn kill(&mut self, r: &ControlRequest) -> Result<Reply, CoordinatorError> {
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
        self.killing = Some(Kill {
            request_id: r.request_id.clone(),
            started: Instant::now(),
            joined: Vec::new(),
        });
        Ok(Reply::Later)
    }

    /// Called each iteration while a kill is under way: finish once nothing is in flight.
    pub(super) fn finish_kill(&mut self) -> Result<Option<SessionEnd>, CoordinatorError> {
        let Some(kill) = self.killing.clone() else {
            return Ok(None);
        };
        let request_id = kill.request_id.clone();
        if !self.in_flight.is_empty() {
            if kill.started.elapsed() < KILL_DEADLINE {
                return Ok(None);
            }
            // Workers that did not stop in time are abandoned: their trials stay active
            // (re-run on `continue`); the process exits without waiting for them.
            let stuck: Vec<String> = self
                .in_flight
                .values()
                .map(|f| f.trial_id.clone())
                .collect();
            tracing::warn!(run = %self.run_id, "kill: {} trial(s) did not stop within {}s ({}); ending the session without them", stuck.len(), KILL_DEADLINE.as_secs(), stuck.join(", "));
            let msg = format!(
                "kill: {} trial(s) did not stop within {}s ({}); ending the session without them",
                stuck.len(),
                KILL_DEADLINE.as_secs(),
                stuck.join(", ")
            );
            self.opts.observer.notice(&self.run_id, &msg);
            self.in_flight.clear();
            self.backend.abandon();
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
        let ids: Vec<String> = std::iter::once(request_id).chain(kill.joined).collect();
        self.flush_answering(|_| {
            ids.iter()
                .filter(|id| !id.starts_with("interrupt-"))
                .map(|id| control::inbox_answer(id, &answer))
                .collect()
        })?;
        Ok(Some(SessionEnd::Killed))
    }

    fn cancel(&mut self, r: &ControlRequest, trial_id: &str) -> Result<Reply, CoordinatorError> {
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
        // The answer goes in the transaction of `stop_requested` (a crash never re-runs
        // the request), and the stop only after both are journaled (write-ahead).
        let answer = ControlAnswer {
            ok: true,
            status: self.status_str(),
            message: format!("stopping {trial_id}; it will commit as cancelled"),
            detail: json!({"trial_id": trial_id}),
        };
        let a = control::inbox_answer(&r.request_id, &answer);
        self.flush_answering(|_| vec![a])?;
        self.backend.request_stop(&ticket, "labj cancel");
        Ok(Reply::Answered)
    }

    fn set(&mut self, r: &ControlRequest, max_concurrency: u32) -> Result<Reply, CoordinatorError> {
        if let Err(why) = model::experiment::limits::check_concurrency(max_concurrency as u64) {
            return Ok(self.refuse(why));
        }
        self.pending.push(Event::ConcurrencySet(ConcurrencySet {
            request_id: r.request_id.clone(),
            max_concurrency,
            requested_by: r.requested_by.clone(),
        }));
        self.backend
            .set_requested_capacity(max_concurrency as usize);
        self.take_backend_events();
        let effective = self.backend.capacity().min(max_concurrency as usize);
        Ok(Reply::Answer(ControlAnswer {
            ok: true,
            status: self.status_str(),
            message: format!(
                "max concurrency set to {max_concurrency} (effective {effective}); running trials are not stopped"
            ),
            detail: json!({"max_concurrency": max_concurrency, "effective": effective}),
        }))
    }
}
