//! The JSON Schemas of `schemas/`, embedded in the binary, and a validator that reports
//! every violation with its JSON pointer and the rule (keyword) it broke.
//!
//! Add a schema by adding one line to [`SCHEMAS`].

use std::sync::OnceLock;

/// (name, schema text). The name is the file name under `schemas/` without `.jsonschema`.
pub const SCHEMAS: &[(&str, &str)] = &[
    // registry entries: keep one per line, sorted by name
    (
        "agent_result_v1",
        include_str!("../../../schemas/agent_result_v1.jsonschema"),
    ),
    (
        "aggregates_v1",
        include_str!("../../../schemas/aggregates_v1.jsonschema"),
    ),
    (
        "aggregates_v2",
        include_str!("../../../schemas/aggregates_v2.jsonschema"),
    ),
    (
        "event_backend_job_submitted",
        include_str!("../../../schemas/events/backend_job_submitted.jsonschema"),
    ),
    (
        "event_backend_warning",
        include_str!("../../../schemas/events/backend_warning.jsonschema"),
    ),
    (
        "event_budget_reached",
        include_str!("../../../schemas/events/budget_reached.jsonschema"),
    ),
    (
        "event_completion_dropped",
        include_str!("../../../schemas/events/completion_dropped.jsonschema"),
    ),
    (
        "event_concurrency_set",
        include_str!("../../../schemas/events/concurrency_set.jsonschema"),
    ),
    (
        "event_pause_acked",
        include_str!("../../../schemas/events/pause_acked.jsonschema"),
    ),
    (
        "event_pause_requested",
        include_str!("../../../schemas/events/pause_requested.jsonschema"),
    ),
    (
        "event_resume_requested",
        include_str!("../../../schemas/events/resume_requested.jsonschema"),
    ),
    (
        "event_run_completed",
        include_str!("../../../schemas/events/run_completed.jsonschema"),
    ),
    (
        "event_run_created",
        include_str!("../../../schemas/events/run_created.jsonschema"),
    ),
    (
        "event_run_failed",
        include_str!("../../../schemas/events/run_failed.jsonschema"),
    ),
    (
        "event_run_interrupted",
        include_str!("../../../schemas/events/run_interrupted.jsonschema"),
    ),
    (
        "event_run_killed",
        include_str!("../../../schemas/events/run_killed.jsonschema"),
    ),
    (
        "event_run_paused",
        include_str!("../../../schemas/events/run_paused.jsonschema"),
    ),
    (
        "event_session_started",
        include_str!("../../../schemas/events/session_started.jsonschema"),
    ),
    (
        "event_slot_committed",
        include_str!("../../../schemas/events/slot_committed.jsonschema"),
    ),
    (
        "event_slot_skipped_pruned",
        include_str!("../../../schemas/events/slot_skipped_pruned.jsonschema"),
    ),
    (
        "event_stop_requested",
        include_str!("../../../schemas/events/stop_requested.jsonschema"),
    ),
    (
        "event_trial_completed",
        include_str!("../../../schemas/events/trial_completed.jsonschema"),
    ),
    (
        "event_trial_dispatched",
        include_str!("../../../schemas/events/trial_dispatched.jsonschema"),
    ),
    (
        "event_variant_pruned",
        include_str!("../../../schemas/events/variant_pruned.jsonschema"),
    ),
    (
        "event_worker_lost",
        include_str!("../../../schemas/events/worker_lost.jsonschema"),
    ),
    (
        "experiment_v1_0",
        include_str!("../../../schemas/experiment_v1_0.jsonschema"),
    ),
    (
        "grade_result_v1",
        include_str!("../../../schemas/grade_result_v1.jsonschema"),
    ),
    (
        "remote_worker_ack_response_v1",
        include_str!("../../../schemas/remote_worker_ack_response_v1.jsonschema"),
    ),
    (
        "remote_worker_ack_v1",
        include_str!("../../../schemas/remote_worker_ack_v1.jsonschema"),
    ),
    (
        "remote_worker_blob_v1",
        include_str!("../../../schemas/remote_worker_blob_v1.jsonschema"),
    ),
    (
        "remote_worker_health_response_v1",
        include_str!("../../../schemas/remote_worker_health_response_v1.jsonschema"),
    ),
    (
        "remote_worker_health_v1",
        include_str!("../../../schemas/remote_worker_health_v1.jsonschema"),
    ),
    (
        "remote_worker_pause_response_v1",
        include_str!("../../../schemas/remote_worker_pause_response_v1.jsonschema"),
    ),
    (
        "remote_worker_pause_v1",
        include_str!("../../../schemas/remote_worker_pause_v1.jsonschema"),
    ),
    (
        "remote_worker_poll_response_v1",
        include_str!("../../../schemas/remote_worker_poll_response_v1.jsonschema"),
    ),
    (
        "remote_worker_poll_v1",
        include_str!("../../../schemas/remote_worker_poll_v1.jsonschema"),
    ),
    (
        "remote_worker_resume_response_v1",
        include_str!("../../../schemas/remote_worker_resume_response_v1.jsonschema"),
    ),
    (
        "remote_worker_resume_v1",
        include_str!("../../../schemas/remote_worker_resume_v1.jsonschema"),
    ),
    (
        "remote_worker_stop_response_v1",
        include_str!("../../../schemas/remote_worker_stop_response_v1.jsonschema"),
    ),
    (
        "remote_worker_stop_v1",
        include_str!("../../../schemas/remote_worker_stop_v1.jsonschema"),
    ),
    (
        "remote_worker_submit_response_v1",
        include_str!("../../../schemas/remote_worker_submit_response_v1.jsonschema"),
    ),
    (
        "remote_worker_submit_v1",
        include_str!("../../../schemas/remote_worker_submit_v1.jsonschema"),
    ),
    (
        "remote_worker_tickets_response_v1",
        include_str!("../../../schemas/remote_worker_tickets_response_v1.jsonschema"),
    ),
    (
        "remote_worker_tickets_v1",
        include_str!("../../../schemas/remote_worker_tickets_v1.jsonschema"),
    ),
    (
        "resolved_experiment_v0_3",
        include_str!("../../../schemas/resolved_experiment_v0_3.jsonschema"),
    ),
    (
        "resolved_experiment_v0_4",
        include_str!("../../../schemas/resolved_experiment_v0_4.jsonschema"),
    ),
    (
        "resolved_experiment_v0_5",
        include_str!("../../../schemas/resolved_experiment_v0_5.jsonschema"),
    ),
    (
        "run_control_v2",
        include_str!("../../../schemas/run_control_v2.jsonschema"),
    ),
    (
        "schedule_progress_v2",
        include_str!("../../../schemas/schedule_progress_v2.jsonschema"),
    ),
    (
        "task_boundary_v1",
        include_str!("../../../schemas/task_boundary_v1.jsonschema"),
    ),
    (
        "task_row_v1",
        include_str!("../../../schemas/task_row_v1.jsonschema"),
    ),
    (
        "trial_conclusion_v1",
        include_str!("../../../schemas/trial_conclusion_v1.jsonschema"),
    ),
    (
        "trial_input_v1",
        include_str!("../../../schemas/trial_input_v1.jsonschema"),
    ),
    (
        "trial_output_v1",
        include_str!("../../../schemas/trial_output_v1.jsonschema"),
    ),
];

/// One violated rule: where in the document, which keyword, and the validator's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the validated document ("" for the root).
    pub pointer: String,
    /// The schema keyword that failed (`required`, `type`, `enum`, …).
    pub rule: String,
    /// What was wrong (the validator's message; a short `enum` lists every allowed value).
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        // Values quoted from the document are user input: control and bidi characters
        // are printed escaped, never raw to a terminal.
        let escape = crate::ids::escape_id;
        write!(
            f,
            "at {}: {} (rule `{}`)",
            escape(at),
            escape(&self.message),
            self.rule
        )
    }
}

/// Why [`validate`] refused: no such schema, a broken embedded schema, or a document
/// that breaks the schema's rules.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// No schema of that name is embedded.
    #[error("unknown schema `{name}`; known schemas: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Every embedded schema's name, comma-separated.
        known: String,
    },
    /// The embedded schema text does not parse or compile (a bug in labj, not in the
    /// document).
    #[error("schema `{name}` is itself invalid: {message}")]
    BadSchema {
        /// The schema's name.
        name: String,
        /// The parser's or compiler's message.
        message: String,
    },
    /// The document breaks the schema.
    #[error("document does not match schema `{name}`:\n{}", .violations.iter().map(|v| format!("  - {v}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The schema's name.
        name: String,
        /// Every violated rule, never empty.
        violations: Vec<Violation>,
    },
}

/// The names of every embedded schema, sorted (`labj schema` lists them).
pub fn names() -> Vec<&'static str> {
    SCHEMAS.iter().map(|(n, _)| *n).collect()
}

/// The compiled validator of one schema, built on its first use: a run uses three or
/// four of the registry's schemas, and compiling all of them cost a few milliseconds of
/// every command's start.
fn compiled(name: &str) -> Result<&'static jsonschema::Validator, SchemaError> {
    type Slot = OnceLock<Result<jsonschema::Validator, String>>;
    static CACHE: OnceLock<Vec<Slot>> = OnceLock::new();
    let Some(i) = SCHEMAS.iter().position(|(n, _)| *n == name) else {
        return Err(SchemaError::Unknown {
            name: name.to_string(),
            known: names().join(", "),
        });
    };
    let slots = CACHE.get_or_init(|| SCHEMAS.iter().map(|_| OnceLock::new()).collect());
    let compiled = slots[i].get_or_init(|| {
        serde_json::from_str::<serde_json::Value>(SCHEMAS[i].1)
            .map_err(|e| e.to_string())
            .and_then(|s| jsonschema::validator_for(&s).map_err(|e| e.to_string()))
    });
    match compiled {
        Ok(v) => Ok(v),
        Err(e) => Err(SchemaError::BadSchema {
            name: name.to_string(),
            message: e.clone(),
        }),
    }
}

/// The validator's message, except that a short `enum` lists every allowed value (the
/// validator names two and says "or N other candidates", which leaves the user guessing).
fn message(e: &jsonschema::ValidationError<'_>) -> String {
    if let jsonschema::error::ValidationErrorKind::Enum { options } = e.kind() {
        if let Some(all) = options.as_array().filter(|a| (1..=12).contains(&a.len())) {
            let names: Vec<String> = all.iter().map(|v| v.to_string()).collect();
            let (last, rest) = names.split_last().expect("non-empty");
            let list = if rest.is_empty() {
                last.clone()
            } else {
                format!("{} or {last}", rest.join(", "))
            };
            return format!("{} is not one of {list}", e.instance());
        }
    }
    e.to_string()
}

/// Validate `doc` against the named schema, collecting every violation.
pub fn validate(name: &str, doc: &serde_json::Value) -> Result<(), SchemaError> {
    let validator = compiled(name)?;
    let violations: Vec<Violation> = validator
        .iter_errors(doc)
        .map(|e| Violation {
            pointer: e.instance_path().to_string(),
            rule: e
                .schema_path()
                .to_string()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string(),
            message: message(&e),
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Invalid {
            name: name.to_string(),
            violations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enum_violation_lists_every_allowed_value() {
        let doc = serde_json::json!({"schema_version": "agent_result_v1", "outcome": "maybe"});
        let err = validate("agent_result_v1", &doc).unwrap_err().to_string();
        assert!(
            err.contains(r#"at /outcome: "maybe" is not one of "success", "failure", "missing" or "error" (rule `enum`)"#),
            "{err}"
        );
    }
}
