//! The event catalogue: one typed variant per journal event kind.
//!
//! The `kind` column of the `events` table holds [`Event::kind`]; the `payload` column
//! holds the JSON of the variant's struct. Every payload carries no kind tag of its own:
//! the column is the tag, so `decode(kind, payload)` is a single `match`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod classification;
mod completed;
mod control;
pub use classification::{Classification, PruningSpec, SlotStatus, StreakCounts};
pub use completed::{TrialCompleted, TrialOutcome};
pub use control::{
    ConcurrencySet, PauseAcked, PauseRequested, ResumeRequested, RunInterrupted, RunKilled,
    RunPaused, StopRequested,
};

/// One slot of the schedule, stored compactly as `[variant_idx, task_idx, repl_idx]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSpec(pub u32, pub u32, pub u32);

impl SlotSpec {
    /// Index of the slot's variant in [`RunCreated::variant_ids`].
    pub fn variant_idx(&self) -> usize {
        self.0 as usize
    }
    /// Index of the slot's task in [`RunCreated::task_ids`].
    pub fn task_idx(&self) -> usize {
        self.1 as usize
    }
    /// The slot's replication of its (variant, task) pair, from 0.
    pub fn repl_idx(&self) -> u32 {
        self.2
    }
}

/// `run_created`, always event 0: the experiment as resolved and the whole schedule, fixed
/// for the run's life (`continue` never changes them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCreated {
    /// The run's id (its directory's name under the runs directory).
    pub run_id: String,
    /// The experiment's `id`.
    pub experiment_id: String,
    /// blake3 hex digest of the canonical resolved experiment JSON.
    pub experiment_digest: String,
    /// The resolved experiment exactly as validated (open user data).
    pub experiment: serde_json::Value,
    /// The variants, baseline first; slots name them by index.
    pub variant_ids: Vec<String>,
    /// The tasks of the dataset, in dataset order; slots name them by index.
    pub task_ids: Vec<String>,
    /// How the schedule was ordered: `variant_sequential`, `paired_interleaved` or
    /// `randomized`.
    pub schedule_policy: String,
    /// Every slot of the run in dispatch and commit order; a slot's index here is its
    /// `schedule_idx`.
    pub schedule: Vec<SlotSpec>,
    /// Trials run at once, until a `concurrency_set` changes it.
    pub max_concurrency: u32,
    /// When a variant is pruned.
    pub pruning: PruningSpec,
    /// The metric reports and aggregates lead with, when the experiment names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_metric: Option<String>,
    /// Free-form run options (runs dir, CLI flags) recorded for forensics.
    #[serde(default)]
    pub options: serde_json::Value,
}

/// The session that held a run's lease, as named in [`SessionStarted::took_over_from`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    /// Its session id.
    pub session_id: String,
    /// Its coordinator's process id.
    pub pid: u32,
    /// The host it ran on.
    pub host: String,
}

/// `session_started`: a `labj run` or `labj continue` took the run's lease and drives it
/// from here on (until the next session ends it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStarted {
    /// The session's id, also the lease holder's.
    pub session_id: String,
    /// The coordinator's process id.
    pub pid: u32,
    /// The host it runs on.
    pub host: String,
    /// `run` or `continue`.
    pub mode: String,
    /// The version of the labj that drives the session.
    pub labj_version: String,
    /// Set when this session took the lease over from a dead holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<LeaseHolder>,
    /// Set when `continue --allow-changed-inputs` accepted inputs that differ from the
    /// ones the run was created (or last continued) with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_changed: Option<InputsChanged>,
    /// The budget in force from this session on: `design.policies.budget`, or what a
    /// `continue --budget` set (each later session carries it forward). Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetLimits>,
}

/// Spending caps of a run (`design.policies.budget`): cost in USD and tokens (in + out)
/// reported by agents, over the whole run and per variant. Absent caps do not apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetLimits {
    /// Cost of the whole run, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    /// Tokens (in + out) of the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<f64>,
    /// Cost of each variant, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_variant_max_cost_usd: Option<f64>,
    /// Tokens (in + out) of each variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_variant_max_tokens: Option<f64>,
}

// Caps are finite positive numbers (checked where they are read: the experiment and
// `--budget`), never NaN, so equality is an equivalence (`SessionStarted` is `Eq`).
impl Eq for BudgetLimits {}

impl BudgetLimits {
    /// Whether no cap is set (then no budget is in force).
    pub fn is_empty(&self) -> bool {
        self == &BudgetLimits::default()
    }
}

/// A budget cap was reached: dispatch stops for its scope (the run, or one variant);
/// trials already running finish and are scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetReached {
    /// `run` or `variant`.
    pub scope: String,
    /// The variant, for scope `variant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    /// `cost_usd` or `tokens`.
    pub measure: String,
    /// The cap that was reached.
    pub limit: f64,
    /// What the scope had spent of `measure` when it was reached.
    pub spent: f64,
}

/// Inputs accepted by a session although they changed (see `engine::inputs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputsChanged {
    /// Names of the components whose digest changed.
    pub changed: Vec<String>,
    /// The accepted components (component → blake3 hex).
    pub inputs: std::collections::BTreeMap<String, String>,
    /// Their combined digest.
    pub inputs_digest: String,
}

/// `trial_dispatched`: a slot's trial was handed to a worker. Journaled before the
/// backend starts it, so a crash never leaves a running trial the journal does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialDispatched {
    /// The slot's position in the schedule.
    pub schedule_idx: u64,
    /// The trial's id (`trial_<idx>` of its slot).
    pub trial_id: String,
    /// The slot's variant (must match the schedule).
    pub variant_id: String,
    /// The slot's task.
    pub task_id: String,
    /// The slot's replication.
    pub repl_idx: u32,
    /// The worker that runs it.
    pub worker_id: String,
    /// This dispatch's ticket: a completion counts only under the ticket of the slot's
    /// latest dispatch (a re-run after a lost attempt gets a new one).
    pub ticket_id: String,
}

/// One piece of evidence a trial produced (workspace diff, grader report, agent patch…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// What kind of evidence it is (`workspace_diff`, `agent_patch`, …).
    pub class: String,
    /// Path relative to the run directory.
    pub path: String,
    /// blake3 hex digest of the content.
    pub digest: String,
    /// Its size.
    pub bytes: u64,
}

/// A content-addressed artifact in the run's blob store (`blobs/<digest>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// The file's path in the trial directory (`attempt_1/stdout.log`,
    /// `attempt_1/result.json`, `attempt_1/grader/grade.json`, …).
    pub name: String,
    /// blake3 hex digest of the content: its blob's name.
    pub digest: String,
    /// Size of the stored blob.
    pub bytes: u64,
    /// Set when the stored file was cut at its cap (`runtime.policy.output_limit_bytes`
    /// for logs, the result size limit for a refused result): how many bytes the process
    /// actually wrote; `bytes` is what was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_bytes: Option<u64>,
}

/// One attempt inside the trial envelope (retries happen inside one dispatch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The attempt's number, from 1.
    pub attempt: u32,
    /// How this attempt ended.
    pub classification: Classification,
    /// The agent's exit status, when it exited (absent when killed by a signal or never
    /// started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Wall time of the attempt, milliseconds.
    pub duration_ms: u64,
    /// What went wrong, in words (the signal, the spawn error, …), when anything did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Processes the agent left behind, killed when its attempt ended: members of its
    /// process group still running after it exited, and processes that left the group
    /// (`setsid`). Counted for plain host agents (labj is their child subreaper);
    /// absent where it is not counted (sandboxes and containers end their whole PID
    /// namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaked_processes: Option<u32>,
}

/// The state a trial left for the next trial of its chain, for state policies that carry
/// state between trials (`persist_per_task`, `accumulate`). The schema and the fact table
/// hold it; no executor writes it yet (only `isolate_per_trial` runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStateRef {
    /// The chain the trial belongs to.
    pub chain_id: String,
    /// Digest of the state it left.
    pub state_digest: String,
}

/// The isolation a trial actually ran under, as journaled in `trial_completed`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IsolationRecord {
    /// `local` (plain host process), `sandbox` (bubblewrap) or `container`.
    pub mode: String,
    /// Container engine and its version, e.g. `podman 4.3.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The image reference the experiment asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The image id (`sha256:…`) the container actually ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// `none` or `full`.
    pub network: String,
    /// Effective limits, e.g. `memory_mb` → `64`, `address_space_mb` → `64`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, u64>,
    /// Names (never values) of the host variables passed to the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_env_passed: Vec<String>,
}

/// `completion_dropped`: a delivered completion the coordinator did not accept (a
/// duplicate delivery, a stale ticket, an attempt already declared lost), journaled so
/// the delivery is accounted for; it changes no projection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionDropped {
    /// The slot the completion named.
    pub schedule_idx: u64,
    /// The trial it named.
    pub trial_id: String,
    /// The ticket it answered.
    pub ticket_id: String,
    /// Its delivery sequence number.
    pub completion_seq: u64,
    /// Why it was dropped, in words.
    pub reason: String,
    /// `run/schedule_idx/trial_id/completion_seq`: the delivery's identity.
    pub dedupe_key: String,
}

/// An attempt of a slot ended by the machinery, not by the agent: the worker vanished
/// (crash, `labj kill`, a remote worker that stopped answering, a Slurm node failure) or
/// could not run the trial (spawn failure, disk error). The coordinator's infra-retry
/// hook decides, within the run's infra-retry budget, whether the slot is dispatched
/// again (`retry`) or committed with `classification` (the budget is spent, or retries
/// of lost work are off). Journals written before retries existed hold neither field:
/// their v1 payloads are upcast to a commit of `worker_lost`, exactly as they were
/// folded then (see `upcast.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLost {
    /// The slot of the lost attempt.
    pub schedule_idx: u64,
    /// Its trial.
    pub trial_id: String,
    /// The worker that ran it.
    pub worker_id: String,
    /// The ticket of the lost dispatch.
    pub ticket_id: String,
    /// What happened, in words (the error of a committed loss).
    pub reason: String,
    /// The infrastructure class of the loss (always an `is_infra()` class).
    pub classification: Classification,
    /// The slot is dispatched again as a new attempt; nothing is committed for this one.
    pub retry: bool,
    /// The attempt was stopped by `labj kill` / Ctrl-C: a user's decision, so it does
    /// not spend the slot's infra-retry budget.
    pub stopped_by_kill: bool,
}

/// `slot_committed`: the committer made a slot's pending completion final. Slots commit
/// in schedule order; the fold then counts the completion in the aggregates and appends
/// its fact rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotCommitted {
    /// The slot.
    pub schedule_idx: u64,
    /// Its trial (the one whose completion is pending for the slot).
    pub trial_id: String,
    /// What the slot now holds.
    pub status: SlotStatus,
    /// The committed completion's classification.
    pub classification: Classification,
}

/// `slot_skipped_pruned`: a slot of a pruned variant that was never dispatched, committed
/// as skipped in its turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSkippedPruned {
    /// The slot.
    pub schedule_idx: u64,
    /// The trial id it would have had.
    pub trial_id: String,
    /// Its (pruned) variant.
    pub variant_id: String,
}

/// `variant_pruned`: no more slots of the variant are dispatched; those not yet dispatched
/// are skipped as their turn comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantPruned {
    /// The variant.
    pub variant_id: String,
    /// Its streak when it was pruned (see [`PruningSpec`]), or the number of its first
    /// trials that all failed to spawn (a variant whose command cannot start).
    pub consecutive_failures: u32,
    /// The slot whose commit pruned it.
    pub at_schedule_idx: u64,
}

/// `run_completed`: every slot of the schedule is committed; the run is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCompleted {
    /// The slots committed (the schedule's length).
    pub committed_slots: u64,
}

/// `run_failed`: the session ended on an error of labj's own (not a trial's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailed {
    /// The error, in words.
    pub error: String,
}

/// `backend_warning`: something an operator should know that is not a trial's outcome (a
/// concurrency ceiling, a variant whose command cannot start, evidence a remote worker
/// did not send home…); the message is kept in the run's warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendWarning {
    /// Stable identifier of the kind of warning (`variant_unspawnable`, …).
    pub code: String,
    /// The warning for people.
    pub message: String,
    /// For warnings about a count: what was asked for (e.g. the concurrency requested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<u32>,
    /// For warnings about a count: what is in effect instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<u32>,
    /// Blob digests the warning is about (`remote_evidence_not_fetched`: the blobs that
    /// were not copied home; empty for warnings about no blob), for `verify` to read
    /// without parsing `message` (v1 payloads are upcast, see `upcast.rs`).
    pub digests: Vec<String>,
}

/// A worker backend accepted a dispatch under an id of its own (a Slurm job id), so
/// `continue` can find the attempt again after a coordinator crash and `inspect` can
/// show it. Journaled after the backend accepted it (the dispatch itself was journaled
/// before): one per attempt, several per trial when lost attempts are re-run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendJobSubmitted {
    /// The slot of the attempt.
    pub schedule_idx: u64,
    /// Its trial.
    pub trial_id: String,
    /// The dispatch's ticket.
    pub ticket_id: String,
    /// `slurm`.
    pub backend: String,
    /// The backend's id of the job that runs the attempt.
    pub job_id: String,
    /// `submitted` (a new job), `reattached` (a `continue` took over a live job),
    /// `assigned` (handed to the live pilot worker job `job_id`, `--slurm-workers`) or
    /// `moved` (taken from a pilot worker job still queued and handed to the started
    /// one `job_id`).
    pub action: String,
}

macro_rules! events {
    ($( $variant:ident($ty:ty) = $kind:literal ),+ $(,)?) => {
        /// Every journal event. The discriminant is the `kind` column.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $(
                #[doc = concat!("`", $kind, "`, whose payload is [`", stringify!($ty), "`].")]
                $variant($ty),
            )+
        }

        /// All event kinds, in catalogue order.
        pub const EVENT_KINDS: &[&str] = &[$( $kind ),+];

        impl Event {
            /// The event's kind: its `kind` column and its payload schema's name.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Event::$variant(_) => $kind, )+
                }
            }

            /// The payload as stored: the struct's JSON, led by `"v":N` when the kind's
            /// current version is above 1 (see `upcast.rs`).
            pub fn payload_json(&self) -> String {
                // Serializing plain structs of strings, numbers and maps cannot fail.
                let json = match self {
                    $( Event::$variant(p) => serde_json::to_string(p).expect("event payload serializes"), )+
                };
                with_version(self.kind(), json)
            }

            /// [`Event::payload_json`] as a JSON value.
            pub fn payload_value(&self) -> serde_json::Value {
                let mut value = match self {
                    $( Event::$variant(p) => serde_json::to_value(p).expect("event payload serializes"), )+
                };
                let v = crate::upcast::current_version(self.kind());
                if let (true, Some(map)) = (v > 1, value.as_object_mut()) {
                    map.insert("v".into(), v.into());
                }
                value
            }

            /// Decode a stored event of any version this binary knows (older ones are
            /// upcast); an unknown kind, a newer version or a payload that does not fit
            /// is an error.
            pub fn decode(kind: &str, payload: &str) -> Result<Event, DecodeError> {
                let fail = |message: String| DecodeError::Payload { kind: kind.to_string(), message };
                match kind {
                    $( $kind => {
                        let current = crate::upcast::current_version($kind);
                        let decoded: $ty = if is_current(current, payload) {
                            serde_json::from_str(payload).map_err(|e| fail(e.to_string()))?
                        } else {
                            let value: serde_json::Value =
                                serde_json::from_str(payload).map_err(|e| fail(e.to_string()))?;
                            let value = crate::upcast::upcast($kind, value)
                                .map_err(|e| fail(e.to_string()))?;
                            serde_json::from_value(value).map_err(|e| fail(e.to_string()))?
                        };
                        Ok(Event::$variant(decoded))
                    } )+
                    other => Err(DecodeError::UnknownKind(other.to_string())),
                }
            }
        }
    };
}

events! {
    RunCreated(RunCreated) = "run_created",
    SessionStarted(SessionStarted) = "session_started",
    TrialDispatched(TrialDispatched) = "trial_dispatched",
    TrialCompleted(TrialCompleted) = "trial_completed",
    CompletionDropped(CompletionDropped) = "completion_dropped",
    WorkerLost(WorkerLost) = "worker_lost",
    SlotCommitted(SlotCommitted) = "slot_committed",
    SlotSkippedPruned(SlotSkippedPruned) = "slot_skipped_pruned",
    VariantPruned(VariantPruned) = "variant_pruned",
    PauseRequested(PauseRequested) = "pause_requested",
    PauseAcked(PauseAcked) = "pause_acked",
    ResumeRequested(ResumeRequested) = "resume_requested",
    StopRequested(StopRequested) = "stop_requested",
    RunPaused(RunPaused) = "run_paused",
    RunInterrupted(RunInterrupted) = "run_interrupted",
    RunCompleted(RunCompleted) = "run_completed",
    RunFailed(RunFailed) = "run_failed",
    RunKilled(RunKilled) = "run_killed",
    BackendWarning(BackendWarning) = "backend_warning",
    ConcurrencySet(ConcurrencySet) = "concurrency_set",
    BackendJobSubmitted(BackendJobSubmitted) = "backend_job_submitted",
    BudgetReached(BudgetReached) = "budget_reached",
}

/// `json` (a serialized payload struct) led by `"v":N` when `kind` is past version 1.
fn with_version(kind: &str, json: String) -> String {
    let v = crate::upcast::current_version(kind);
    if v == 1 {
        return json;
    }
    match json.strip_prefix('{') {
        Some("}") => format!("{{\"v\":{v}}}"),
        Some(rest) => format!("{{\"v\":{v},{rest}"),
        None => json,
    }
}

/// Whether a stored payload is at the kind's current version, checked without parsing:
/// this binary writes `v` first, so a current payload of a versioned kind starts with
/// it, and one of an unversioned kind has none there. Anything else takes the upcaster.
fn is_current(current: u32, payload: &str) -> bool {
    match payload.strip_prefix("{\"v\":") {
        None => current == 1,
        Some(rest) => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            current > 1
                && rest[digits..].starts_with([',', '}'])
                && rest[..digits].parse() == Ok(current)
        }
    }
}

/// Why a stored event could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The `kind` column names no event this labj knows.
    #[error("unknown event kind `{0}`")]
    UnknownKind(String),
    /// The payload is not JSON of the kind's struct (after upcasting), or its version is
    /// newer than this labj reads.
    #[error("payload of `{kind}` event does not decode: {message}")]
    Payload {
        /// The event's kind.
        kind: String,
        /// What did not fit, as serde or the upcaster said it.
        message: String,
    },
}

impl Event {
    /// The schedule slot an event concerns, stored in its own column for queries.
    pub fn schedule_idx(&self) -> Option<u64> {
        match self {
            Event::TrialDispatched(e) => Some(e.schedule_idx),
            Event::TrialCompleted(e) => Some(e.schedule_idx),
            Event::CompletionDropped(e) => Some(e.schedule_idx),
            Event::WorkerLost(e) => Some(e.schedule_idx),
            Event::SlotCommitted(e) => Some(e.schedule_idx),
            Event::SlotSkippedPruned(e) => Some(e.schedule_idx),
            Event::VariantPruned(e) => Some(e.at_schedule_idx),
            Event::BackendJobSubmitted(e) => Some(e.schedule_idx),
            _ => None,
        }
    }

    /// The trial an event concerns, stored in its own column for queries.
    pub fn trial_id(&self) -> Option<&str> {
        match self {
            Event::TrialDispatched(e) => Some(&e.trial_id),
            Event::TrialCompleted(e) => Some(&e.trial_id),
            Event::CompletionDropped(e) => Some(&e.trial_id),
            Event::WorkerLost(e) => Some(&e.trial_id),
            Event::SlotCommitted(e) => Some(&e.trial_id),
            Event::SlotSkippedPruned(e) => Some(&e.trial_id),
            Event::PauseRequested(e) => e.trial_id.as_deref(),
            Event::PauseAcked(e) => Some(&e.trial_id),
            Event::ResumeRequested(e) => e.trial_id.as_deref(),
            Event::StopRequested(e) => e.trial_id.as_deref(),
            Event::BackendJobSubmitted(e) => Some(&e.trial_id),
            _ => None,
        }
    }
}

/// An event as stored: its position, timestamp and chain hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Position in the journal, from 0 without gaps.
    pub idx: u64,
    /// RFC 3339 UTC, informational only: projections never read the clock, only this.
    pub ts: String,
    /// The event.
    pub event: Event,
    /// Chain hash of this event over the previous one's (see `store::chain_hash`).
    pub hash: [u8; 32],
}

#[cfg(test)]
mod tests;
