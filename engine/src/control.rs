//! The control inbox: how `labj pause|resume|kill|cancel|set` in another shell reach the
//! live coordinator.
//!
//! A request is a row in `control_inbox`. The coordinator polls for pending rows every
//! loop iteration (at most ~50 ms apart), journals what it does, and writes the answer
//! into the row in the same transaction as the events. The requesting CLI polls the row
//! until it is answered or its timeout passes.

use crate::lease::now_ms;
use rusqlite::{params, Connection, OptionalExtension};
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
pub fn submit(conn: &Connection, command: &ControlCommand) -> rusqlite::Result<String> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let seq: i64 = conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM control_inbox",
        [],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO control_inbox (request_id, seq, command, args, requested_by, created_ms, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
        params![
            request_id,
            seq,
            command.name(),
            serde_json::to_string(command).expect("command serializes"),
            requester(),
            now_ms()
        ],
    )?;
    Ok(request_id)
}

/// CLI side: wait for the answer (polling every 20 ms) up to `timeout`.
pub fn wait_answer(
    conn: &Connection,
    request_id: &str,
    timeout: Duration,
) -> rusqlite::Result<Option<ControlAnswer>> {
    let deadline = Instant::now() + timeout;
    loop {
        let answer: Option<Option<String>> = conn
            .query_row(
                "SELECT answer FROM control_inbox WHERE request_id = ?1 AND state = 'answered'",
                params![request_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(Some(text)) = answer {
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
pub fn withdraw(conn: &Connection, request_id: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE control_inbox SET state = 'withdrawn' WHERE request_id = ?1 AND state = 'pending'",
        params![request_id],
    )?;
    Ok(n == 1)
}

/// Coordinator side: pending requests, oldest first. Rows that do not parse are
/// answered with an error at once.
pub fn pending(conn: &Connection) -> rusqlite::Result<Vec<ControlRequest>> {
    let mut stmt = conn.prepare_cached(
        "SELECT request_id, args, requested_by, created_ms FROM control_inbox WHERE state = 'pending' ORDER BY seq",
    )?;
    let rows: Vec<(String, String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (request_id, args, requested_by, created_ms) in rows {
        match serde_json::from_str::<ControlCommand>(&args) {
            Ok(command) => out.push(ControlRequest {
                request_id,
                command,
                requested_by,
                created_ms,
            }),
            Err(e) => answer(
                conn,
                &request_id,
                &ControlAnswer {
                    ok: false,
                    status: "unknown".into(),
                    message: format!("malformed control request: {e}"),
                    detail: serde_json::Value::Null,
                },
            )?,
        }
    }
    Ok(out)
}

/// Coordinator side: record the answer (call inside the transaction of the events).
pub fn answer(conn: &Connection, request_id: &str, a: &ControlAnswer) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE control_inbox SET state = 'answered', answer = ?2, answered_ms = ?3 WHERE request_id = ?1",
        params![
            request_id,
            serde_json::to_string(a).expect("answer serializes"),
            now_ms()
        ],
    )?;
    Ok(())
}
