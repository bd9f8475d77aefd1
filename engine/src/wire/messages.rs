//! The remote worker messages, each declared once for both sides
//! (`schemas/remote_worker_*_v1.jsonschema`): the coordinator's client serializes the
//! requests and decodes the answers, the worker decodes the requests and serializes the
//! answers.
//!
//! A message's `schema_version` is not a field: it is the name of the message's schema
//! in the endpoint table (`wire::Endpoint`), written by `wire::to_document` and
//! checked before a document is decoded. Every document is validated against its schema
//! on both sides, so these types carry only what the two sides read.

use model::trial::TrialSpec;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// `remote_worker_submit_v1`: one trial to run, with the experiment files it needs.
/// Borrowed when the coordinator sends it (the spec and files are not copied), owned
/// when the worker decodes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SubmitRequest<'a> {
    pub(crate) run_id: String,
    pub(crate) dispatch: DispatchDoc<'a>,
    #[serde(default, skip_serializing_if = "<[FileDoc]>::is_empty")]
    pub(crate) files: Cow<'a, [FileDoc]>,
}

/// The slot a submit hands over: its place in the schedule, the attempt's ticket and
/// the trial spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DispatchDoc<'a> {
    pub(crate) schedule_idx: u64,
    pub(crate) trial_id: String,
    pub(crate) ticket_id: String,
    pub(crate) variant_id: String,
    pub(crate) task_id: String,
    pub(crate) repl_idx: u32,
    pub(crate) spec: Cow<'a, TrialSpec>,
}

/// One experiment file the trial needs, by value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FileDoc {
    /// Relative to the experiment directory.
    pub(crate) path: String,
    /// blake3 of the content (64 hex), checked by the worker.
    pub(crate) blake3: String,
    pub(crate) content_base64: String,
    pub(crate) executable: bool,
}

/// `remote_worker_submit_response_v1`: `accepted: false` is a refusal (no free slot,
/// draining), with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// Whether the worker took the trial.
    pub accepted: bool,
    /// The ticket of the submit, echoed.
    pub ticket_id: String,
    /// Why the worker refused, when it did.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `remote_worker_poll_v1`: acknowledge earlier deliveries, then wait up to `wait_ms`
/// for completions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PollRequest {
    pub(crate) run_id: String,
    pub(crate) ack_completion_keys: Vec<String>,
    pub(crate) max_completions: usize,
    pub(crate) wait_ms: u64,
}

/// `remote_worker_poll_response_v1`: the completions ready for the run. The worker
/// sends outcomes as documents (`O` = `serde_json::Value`, what the MAC covers); the
/// coordinator decodes them as `TrialOutcome`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollResponse<O = serde_json::Value> {
    /// The answering worker process (see [`HealthResponse`]'s `instance_id`); absent
    /// from older workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) instance_id: Option<String>,
    /// At most the `max_completions` asked for, oldest slot first.
    pub completions: Vec<Completion<O>>,
}

/// One finished attempt as the worker delivers it (at least once, until acknowledged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion<O = serde_json::Value> {
    /// The run the attempt belongs to.
    pub run_id: String,
    /// The slot of the schedule it ran.
    pub schedule_idx: u64,
    /// The trial it ran.
    pub trial_id: String,
    /// The attempt (the coordinator's ticket of the dispatch).
    pub ticket_id: String,
    /// Delivery sequence number of this ticket's completion (1 for the first).
    pub completion_seq: u64,
    /// What happened to the trial.
    pub outcome: O,
    /// The [`CompletionMac`](super::CompletionMac) tag of this completion; absent only
    /// from a worker serving without a token (`--insecure-no-auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Set by the coordinator's client, never sent: why `mac` does not authenticate this
    /// completion (never the key). The backend then journals the attempt as an
    /// infrastructure fault instead of its outcome.
    #[serde(skip)]
    pub auth_failure: Option<String>,
}

impl<O> Completion<O> {
    /// The key the coordinator acknowledges once the completion is journaled (see
    /// [`completion_key`](super::completion_key)).
    pub fn key(&self) -> String {
        super::completion_key(
            &self.run_id,
            self.schedule_idx,
            &self.trial_id,
            &self.ticket_id,
            self.completion_seq,
        )
    }
}

/// `remote_worker_pause_v1`: pause the attempt `ticket_id` (its agent's processes are
/// stopped until resumed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PauseRequest {
    pub(crate) run_id: String,
    pub(crate) ticket_id: String,
    /// The name of the pause (`labj pause --label`), for the record.
    pub(crate) label: Option<String>,
}

/// `remote_worker_resume_v1`: resume the paused attempt `ticket_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ResumeRequest {
    pub(crate) run_id: String,
    pub(crate) ticket_id: String,
}

/// `remote_worker_stop_v1`: stop the attempt `ticket_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StopRequest {
    pub(crate) run_id: String,
    pub(crate) ticket_id: String,
    pub(crate) reason: String,
}

/// The answer to a pause, resume or stop (`remote_worker_{pause,resume,stop}_response_v1`;
/// a stop's answer carries no reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlResponse {
    /// The attempt asked about, echoed.
    pub ticket_id: String,
    /// Whether the worker did what was asked.
    pub accepted: bool,
    /// Why it did not (e.g. the attempt already finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `remote_worker_ack_v1`: the worker may forget these completions (they are journaled).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AckRequest {
    pub(crate) run_id: String,
    pub(crate) completion_keys: Vec<String>,
}

/// `remote_worker_ack_response_v1`: how many completions the worker forgot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AckResponse {
    pub(crate) acked: u64,
}

/// `remote_worker_health_v1`: no field besides its `schema_version`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HealthRequest {}

/// `remote_worker_health_response_v1`: the worker's capacity and liveness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HealthResponse {
    pub(crate) worker_id: String,
    /// A fresh id per worker process: a worker restarted on the same address (its
    /// tickets gone with the old process) answers with another one. Absent from
    /// workers older than this field.
    #[serde(default)]
    pub(crate) instance_id: Option<String>,
    pub(crate) labj_version: String,
    pub(crate) slots: usize,
    pub(crate) running: usize,
    pub(crate) undelivered: usize,
    pub(crate) draining: bool,
}

/// `remote_worker_tickets_v1`: the worker's outstanding tickets of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunRequest {
    pub(crate) run_id: String,
}

/// `remote_worker_blob_v1`: one blob of a run, by digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BlobRequest {
    pub(crate) run_id: String,
    pub(crate) digest: String,
    /// The attempt that produced it (absent from older coordinators: any attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ticket_id: Option<String>,
}

/// `remote_worker_tickets_response_v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TicketsResponse {
    pub(crate) tickets: Vec<TicketDoc>,
}

/// An outstanding ticket as `v1/worker/tickets` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TicketDoc {
    pub(crate) ticket_id: String,
    pub(crate) schedule_idx: u64,
    pub(crate) trial_id: String,
    /// `running` or `finished` (finished and not yet acknowledged).
    pub(crate) state: String,
    /// The classification of a finished trial.
    #[serde(default)]
    pub(crate) classification: Option<String>,
}
