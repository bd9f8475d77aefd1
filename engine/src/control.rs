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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlCommand {
    Pause {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trial_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    Resume {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trial_id: Option<String>,
        #[serde(default)]
        all: bool,
    },
    Kill,
    Cancel {
        trial_id: String,
    },
    Set {
        max_concurrency: u32,
    },
}

impl ControlCommand {
    pub fn name(&self) -> &'static str {
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
pub struct ControlRequest {
    pub request_id: String,
    pub command: ControlCommand,
    pub requested_by: String,
    pub created_ms: i64,
}

/// The coordinator's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlAnswer {
    pub ok: bool,
    /// Run status after the request was handled.
    pub status: String,
    pub message: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// Who is asking, for the journal: `user@host pid N`.
pub fn requester() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!(
        "{user}@{} pid {}",
        crate::lease::this_host(),
        std::process::id()
    )
}

/// CLI side: enqueue a request; returns its id.
pub fn submit(journal: &Journal, command: &ControlCommand) -> Result<String, JournalError> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let args = serde_json::to_string(command).expect("command serializes");
    journal.inbox_submit(&request_id, command.name(), &args, &requester(), now_ms())?;
    Ok(request_id)
}

/// CLI side: wait for the answer (polling every 20 ms) up to `timeout`.
pub fn wait_answer(
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
pub fn withdraw(journal: &Journal, request_id: &str) -> Result<bool, JournalError> {
    journal.inbox_withdraw(request_id)
}

/// Coordinator side: pending requests, oldest first. Rows that do not parse are
/// answered with an error at once.
pub fn pending(journal: &Journal) -> Result<Vec<ControlRequest>, JournalError> {
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
pub fn inbox_answer(request_id: &str, a: &ControlAnswer) -> InboxAnswer {
    InboxAnswer {
        request_id: request_id.to_string(),
        answer: serde_json::to_string(a).expect("answer serializes"),
        answered_ms: now_ms(),
    }
}

/// Why a control request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no live labj process is driving run {run_id} (journaled status: {status}, {committed} of {total} slots committed); {hint}")]
    NotLive {
        run_id: String,
        status: String,
        committed: u64,
        total: u64,
        hint: String,
    },
    #[error("no answer to {command} within {timeout_seconds}s{}", if *.withdrawn { " (request withdrawn; the coordinator may be stuck: see `labj inspect`)" } else { " (the coordinator picked it up; see `labj status`)" })]
    NoAnswer {
        command: &'static str,
        timeout_seconds: u64,
        withdrawn: bool,
    },
    #[error("cannot queue the {command} request: {source}")]
    Queue {
        command: &'static str,
        #[source]
        source: JournalError,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A request and the coordinator's answer.
#[derive(Debug, Clone)]
pub struct ControlReply {
    pub request_id: String,
    pub command: &'static str,
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
