//! The control inbox: how `labj pause|resume|kill|cancel|set` in another shell reach the
//! live coordinator.
//!
//! A request is a row in `control_inbox`. The coordinator polls for pending rows every
//! loop iteration (at most ~50 ms apart), journals what it does, and writes the answer
//! into the row in the same transaction as the events. The requesting CLI polls the row
//! until it is answered or its timeout passes.

use crate::lease::now_ms;
use journal::store::{InboxAnswer, InboxState};
use journal::{Journal, JournalError};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// A request to the live coordinator, as queued in the inbox (`{"command": "pause", …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlCommand {
    /// `labj pause`: freeze one trial, or the whole run when no trial is named.
    Pause {
        /// The trial to pause; `None`: the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trial_id: Option<String>,
        /// A name for the pause, journaled with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// `labj resume`: thaw one trial, the run, or everything paused (`all`).
    Resume {
        /// The trial to resume; `None`: the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trial_id: Option<String>,
        /// Resume the run and every paused trial.
        #[serde(default)]
        all: bool,
    },
    /// `labj kill`: stop every running trial and end the session (`run_killed`).
    Kill,
    /// `labj cancel`: stop one running trial; it is committed `cancelled`, never a verdict.
    Cancel {
        /// The trial to cancel.
        trial_id: String,
    },
    /// `labj set --max-concurrency`: change how many trials may run at once.
    Set {
        /// The new limit (at least 1).
        max_concurrency: u32,
    },
}

impl ControlCommand {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ControlCommand::Pause { .. } => "pause",
            ControlCommand::Resume { .. } => "resume",
            ControlCommand::Kill => "kill",
            ControlCommand::Cancel { .. } => "cancel",
            ControlCommand::Set { .. } => "set",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ControlRequest {
    pub request_id: String,
    pub command: ControlCommand,
    pub requested_by: String,
    pub created_ms: i64,
}

/// The coordinator's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlAnswer {
    /// Whether the coordinator did what was asked.
    pub ok: bool,
    /// Run status after the request was handled.
    pub status: String,
    /// One line for the person who asked.
    pub message: String,
    /// What the request touched (e.g. `stopped_trials`), for `--json`.
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// Who is asking, for the journal: `user@host pid N`.
pub(crate) fn requester() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!(
        "{user}@{} pid {}",
        crate::lease::this_host(),
        std::process::id()
    )
}

/// CLI side: enqueue a request; returns its id.
pub(crate) fn submit(journal: &Journal, command: &ControlCommand) -> Result<String, JournalError> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let args = serde_json::to_string(command).expect("command serializes");
    journal.inbox_submit(&request_id, command.name(), &args, &requester(), now_ms())?;
    Ok(request_id)
}

/// CLI side: wait for the answer (polling every 20 ms) up to `timeout`.
pub(crate) fn wait_answer(
    journal: &Journal,
    request_id: &str,
    timeout: Duration,
) -> Result<Option<ControlAnswer>, JournalError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let InboxState::Answered(text) = journal.inbox_state(request_id)? {
            return Ok(serde_json::from_str(&text).ok().or(Some(ControlAnswer {
                ok: false,
                status: "unknown".into(),
                message: format!("unreadable answer: {text}"),
                detail: serde_json::Value::Null,
            })));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// CLI side: give up on a request that was not picked up (so a later coordinator does
/// not act on a stale command).
pub(crate) fn withdraw(journal: &Journal, request_id: &str) -> Result<bool, JournalError> {
    journal.inbox_withdraw(request_id)
}

/// Coordinator side: pending requests, oldest first. Rows that do not parse are
/// answered with an error at once.
pub(crate) fn pending(journal: &Journal) -> Result<Vec<ControlRequest>, JournalError> {
    let mut out = Vec::new();
    for row in journal.inbox_pending()? {
        match serde_json::from_str::<ControlCommand>(&row.args) {
            Ok(command) => out.push(ControlRequest {
                request_id: row.request_id,
                command,
                requested_by: row.requested_by,
                created_ms: row.created_ms,
            }),
            Err(e) => journal.inbox_answer(&inbox_answer(
                &row.request_id,
                &ControlAnswer {
                    ok: false,
                    status: "unknown".into(),
                    message: format!("malformed control request: {e}"),
                    detail: serde_json::Value::Null,
                },
            ))?,
        }
    }
    Ok(out)
}

/// The inbox row update that records answer `a` to `request_id`.
pub(crate) fn inbox_answer(request_id: &str, a: &ControlAnswer) -> InboxAnswer {
    InboxAnswer {
        request_id: request_id.to_string(),
        answer: serde_json::to_string(a).expect("answer serializes"),
        answered_ms: now_ms(),
    }
}

/// Why a control request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Nobody drives the run: nothing was queued. The fields say where the run stands.
    #[error("no live labj process is driving run {run_id} (journaled status: {status}, {committed} of {total} slots committed); {hint}")]
    NotLive {
        /// The run's id (the name given when the journal holds none).
        run_id: String,
        /// Its journaled status.
        status: String,
        /// Slots committed.
        committed: u64,
        /// Slots in its schedule.
        total: u64,
        /// What to do: `labj continue <run>`, or nothing for a finished run.
        hint: String,
    },
    /// The coordinator did not answer within the timeout.
    #[error("no answer to {command} within {timeout_seconds}s{}", if *.withdrawn { " (request withdrawn; the coordinator may be stuck: see `labj inspect`)" } else { " (the coordinator picked it up; see `labj status`)" })]
    NoAnswer {
        /// The command's name.
        command: &'static str,
        /// How long the answer was awaited.
        timeout_seconds: u64,
        /// Whether the request was withdrawn unread (else the coordinator picked it up).
        withdrawn: bool,
    },
    /// The request could not be written into the inbox.
    #[error("cannot queue the {command} request: {source}")]
    Queue {
        /// The command's name.
        command: &'static str,
        /// The journal's error.
        #[source]
        source: JournalError,
    },
    /// The run's journal could not be opened or read.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A request and the coordinator's answer.
#[derive(Debug, Clone)]
pub struct ControlReply {
    /// The inbox row of the request.
    pub request_id: String,
    /// The command's name (`pause`, `resume`, `kill`, `cancel`, `set`).
    pub command: &'static str,
    /// What the coordinator answered.
    pub answer: ControlAnswer,
}

impl ControlReply {
    /// 0 when the coordinator did what was asked, 1 when it refused.
    pub fn exit_code(&self) -> u8 {
        if self.answer.ok {
            0
        } else {
            1
        }
    }
}

/// Send `command` to the live coordinator of the run in `run_dir` (`label` is how the
/// user named the run) and wait up to `timeout` for its answer. Refuses at once when no
/// live process drives the run, saying how to resume it.
pub fn send(
    run_dir: &std::path::Path,
    label: &str,
    command: &ControlCommand,
    timeout: Duration,
) -> Result<ControlReply, SendError> {
    let j = journal::RunDir::new(run_dir).open_read_only()?;
    if crate::lease::live_holder(&j)?.is_none() {
        let proj = j.fold_from_snapshot(None)?.projections;
        let status = proj.control.status.as_str();
        let hint = if status == "completed" {
            "it has finished".to_string()
        } else {
            format!("resume it with `labj continue {label}`")
        };
        return Err(SendError::NotLive {
            run_id: proj
                .run
                .as_ref()
                .map(|r| r.run_id.clone())
                .unwrap_or_else(|| label.to_string()),
            status: status.to_string(),
            committed: proj.progress.next_commit_idx,
            total: proj.progress.total_slots,
            hint,
        });
    }
    let request_id = submit(&j, command).map_err(|source| SendError::Queue {
        command: command.name(),
        source,
    })?;
    match wait_answer(&j, &request_id, timeout)? {
        Some(answer) => Ok(ControlReply {
            request_id,
            command: command.name(),
            answer,
        }),
        None => Err(SendError::NoAnswer {
            command: command.name(),
            timeout_seconds: timeout.as_secs(),
            withdrawn: withdraw(&j, &request_id)?,
        }),
    }
}
