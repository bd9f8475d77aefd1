//! The server's view of the remote worker messages (`schemas/remote_worker_*_v1`).
//!
//! Requests are validated against their schema before they are decoded here, so these
//! types only need to carry what the handlers read. Responses are built here and
//! validated against their own schema before they leave (see `http`).

use model::trial::TrialSpec;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
pub struct SubmitRequest {
    pub run_id: String,
    pub dispatch: DispatchDoc,
    #[serde(default)]
    pub files: Vec<FileDoc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DispatchDoc {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub ticket_id: String,
    pub spec: TrialSpec,
}

/// One experiment file the trial needs, by value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileDoc {
    /// Relative to the experiment directory.
    pub path: String,
    pub blake3: String,
    pub content_base64: String,
    pub executable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubmitResponse {
    pub schema_version: &'static str,
    pub accepted: bool,
    pub ticket_id: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PollRequest {
    pub run_id: String,
    pub ack_completion_keys: Vec<String>,
    pub max_completions: usize,
    pub wait_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PollResponse {
    pub schema_version: &'static str,
    /// This worker process's identity (see [`HealthResponse::instance_id`]).
    pub instance_id: String,
    pub completions: Vec<CompletionDoc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompletionDoc {
    pub run_id: String,
    pub schedule_idx: u64,
    pub trial_id: String,
    pub ticket_id: String,
    pub completion_seq: u64,
    /// The outcome as a document (what [`crate::wire::CompletionMac::tag`] covers).
    pub outcome: serde_json::Value,
    /// [`crate::wire::CompletionMac`] of this completion; absent only from a worker
    /// serving without a token (`--insecure-no-auth`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TicketRequest {
    pub run_id: String,
    pub ticket_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlResponse {
    pub schema_version: &'static str,
    pub ticket_id: String,
    pub accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AckRequest {
    pub run_id: String,
    pub completion_keys: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AckResponse {
    pub schema_version: &'static str,
    pub acked: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthResponse {
    #[serde(skip_deserializing, default = "health_name")]
    pub schema_version: &'static str,
    pub worker_id: String,
    /// A fresh id per worker process: a worker restarted on the same address (its
    /// tickets gone with the old process) answers with another one. Absent from
    /// workers older than this field.
    #[serde(default)]
    pub instance_id: Option<String>,
    pub labj_version: String,
    pub slots: usize,
    pub running: usize,
    pub undelivered: usize,
    pub draining: bool,
}

fn health_name() -> &'static str {
    "remote_worker_health_response_v1"
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunRequest {
    pub run_id: String,
}

/// `remote_worker_blob_v1`: one blob of a run, by digest (also built by the coordinator).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobRequest {
    #[serde(default = "blob_schema")]
    pub schema_version: String,
    pub run_id: String,
    pub digest: String,
    /// The attempt that produced it (absent from older coordinators: any attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
}

fn blob_schema() -> String {
    "remote_worker_blob_v1".into()
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketsResponse {
    pub schema_version: &'static str,
    pub tickets: Vec<TicketDoc>,
}

/// An outstanding ticket as `v1/worker/tickets` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketDoc {
    pub ticket_id: String,
    pub schedule_idx: u64,
    pub trial_id: String,
    /// `running` or `finished` (finished and not yet acknowledged).
    pub state: String,
    /// The classification of a finished trial.
    #[serde(default)]
    pub classification: Option<String>,
}
