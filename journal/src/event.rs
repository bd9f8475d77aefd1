//! The event catalogue: one typed variant per journal event kind.
//!
//! The `kind` column of the `events` table holds [`Event::kind`]; the `payload` column
//! holds the JSON of the variant's struct. Every payload carries no kind tag of its own:
//! the column is the tag, so `decode(kind, payload)` is a single `match`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One slot of the schedule, stored compactly as `[variant_idx, task_idx, repl_idx]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSpec(pub u32, pub u32, pub u32);

impl SlotSpec {
    pub fn variant_idx(&self) -> usize {
        self.0 as usize
    }
    pub fn task_idx(&self) -> usize {
        self.1 as usize
    }
    pub fn repl_idx(&self) -> u32 {
        self.2
    }
}

/// Pruning policy as the projections need it (the engine resolves it from the experiment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruningSpec {
    /// Prune a variant once its streak (see [`StreakCounts`]) reaches this many consecutive
    /// commits; `None` disables pruning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_failures: Option<u32>,
    /// What the streak counts (required from `run_created` v2; a v1 payload without it
    /// meant [`StreakCounts::Unsuccessful`], see [`crate::upcast`]).
    pub counts: StreakCounts,
}

/// Which committed slots grow a variant's pruning streak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreakCounts {
    /// Every non-success verdict, graded failures included; a success resets it
    /// (labj's `pruning.max_consecutive_unsuccessful`).
    #[default]
    Unsuccessful,
    /// Only runs that produced no answer (the agent reported `error`, exited non-zero,
    /// timed out, was killed at its memory limit, or left no usable result); an answer,
    /// right or wrong, resets it (the original runner's `max_consecutive_failures`).
    AgentFailures,
}

impl PruningSpec {
    /// The streak of a variant after one of its slots committed as `c`. Infrastructure
    /// faults and cancellations leave it as it was: a crash is never a verdict, nor is an
    /// operator's cancel.
    pub fn next_streak(&self, streak: u32, c: Classification) -> u32 {
        use Classification as C;
        match self.counts {
            StreakCounts::Unsuccessful if c.is_success() => 0,
            StreakCounts::Unsuccessful if c.is_verdict() => streak + 1,
            StreakCounts::Unsuccessful => streak,
            StreakCounts::AgentFailures => match c {
                C::Success | C::Failure => 0,
                C::Error
                | C::Timeout
                | C::AgentExitNonzero
                | C::ResultMissing
                | C::ResultParseError
                | C::ResourceLimit => streak + 1,
                C::GradeError | C::Cancelled | C::SpawnFailure | C::DiskError | C::WorkerLost => {
                    streak
                }
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCreated {
    pub run_id: String,
    pub experiment_id: String,
    /// blake3 hex digest of the canonical resolved experiment JSON.
    pub experiment_digest: String,
    /// The resolved experiment exactly as validated (open user data).
    pub experiment: serde_json::Value,
    pub variant_ids: Vec<String>,
    pub task_ids: Vec<String>,
    pub schedule_policy: String,
    pub schedule: Vec<SlotSpec>,
    pub max_concurrency: u32,
    pub pruning: PruningSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_metric: Option<String>,
    /// Free-form run options (runs dir, CLI flags) recorded for forensics.
    #[serde(default)]
    pub options: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    pub session_id: String,
    pub pid: u32,
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStarted {
    pub session_id: String,
    pub pid: u32,
    pub host: String,
    /// `run` or `continue`.
    pub mode: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_variant_max_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_variant_max_tokens: Option<f64>,
}

// Caps are finite positive numbers (checked where they are read: the experiment and
// `--budget`), never NaN, so equality is an equivalence (`SessionStarted` is `Eq`).
impl Eq for BudgetLimits {}

impl BudgetLimits {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    /// `cost_usd` or `tokens`.
    pub measure: String,
    pub limit: f64,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialDispatched {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub variant_id: String,
    pub task_id: String,
    pub repl_idx: u32,
    pub worker_id: String,
    pub ticket_id: String,
}

/// How a trial ended, as the committer and the aggregates see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Success,
    Failure,
    Error,
    Timeout,
    AgentExitNonzero,
    ResultMissing,
    ResultParseError,
    GradeError,
    Cancelled,
    /// Infrastructure: the agent could not be started.
    SpawnFailure,
    /// Infrastructure: the trial directory or blob store could not be written.
    DiskError,
    /// Infrastructure: the worker vanished (recovery after a crash or kill).
    WorkerLost,
    /// The agent was killed for exceeding a declared resource limit (memory). The agent's
    /// own verdict, like `timeout`: not infrastructure, never a success.
    ResourceLimit,
}

impl Classification {
    pub const ALL: [Classification; 13] = [
        Classification::Success,
        Classification::Failure,
        Classification::Error,
        Classification::Timeout,
        Classification::AgentExitNonzero,
        Classification::ResultMissing,
        Classification::ResultParseError,
        Classification::GradeError,
        Classification::Cancelled,
        Classification::SpawnFailure,
        Classification::DiskError,
        Classification::WorkerLost,
        Classification::ResourceLimit,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Classification::Success => "success",
            Classification::Failure => "failure",
            Classification::Error => "error",
            Classification::Timeout => "timeout",
            Classification::AgentExitNonzero => "agent_exit_nonzero",
            Classification::ResultMissing => "result_missing",
            Classification::ResultParseError => "result_parse_error",
            Classification::GradeError => "grade_error",
            Classification::Cancelled => "cancelled",
            Classification::SpawnFailure => "spawn_failure",
            Classification::DiskError => "disk_error",
            Classification::WorkerLost => "worker_lost",
            Classification::ResourceLimit => "resource_limit",
        }
    }

    pub fn parse(s: &str) -> Option<Classification> {
        Classification::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Faults of the machinery rather than of the agent: reported apart, retryable as `infra`.
    pub fn is_infra(&self) -> bool {
        matches!(
            self,
            Classification::SpawnFailure | Classification::DiskError | Classification::WorkerLost
        )
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Classification::Success)
    }

    /// Whether the outcome is a verdict on the agent: everything but infrastructure
    /// faults and `cancelled` (an operator stopped the trial: a decision about the run,
    /// not the agent's result). Only verdicts count in success rates, metric means and
    /// failure streaks.
    pub fn is_verdict(&self) -> bool {
        !self.is_infra() && !matches!(self, Classification::Cancelled)
    }
}

/// One piece of evidence a trial produced (workspace diff, grader report, agent patch…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub class: String,
    /// Path relative to the run directory.
    pub path: String,
    /// blake3 hex digest of the content.
    pub digest: String,
    pub bytes: u64,
}

/// A content-addressed artifact in the run's blob store (`blobs/<digest>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub name: String,
    pub digest: String,
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
    pub attempt: u32,
    pub classification: Classification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStateRef {
    pub chain_id: String,
    pub state_digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialCompleted {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub ticket_id: String,
    pub worker_id: String,
    /// Per-ticket delivery sequence number; (run, schedule_idx, trial_id, seq) dedupes.
    pub completion_seq: u64,
    pub classification: Classification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Metric values that are not numbers (strings, booleans, null), as the agent or
    /// adapter wrote them; numbers are in `metrics`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other_metrics: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub attempts: Vec<AttemptRecord>,
    pub duration_ms: u64,
    #[serde(default)]
    pub evidence: Vec<EvidenceRef>,
    #[serde(default)]
    pub artifacts: Vec<ArtifactRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_state: Option<ChainStateRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What isolation was enforced for this trial (mode, engine, image digest, limits,
    /// names of passed host variables). Absent for plain local trials of older journals.
    /// Boxed: it is the largest part of the largest event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Box<IsolationRecord>>,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionDropped {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub ticket_id: String,
    pub completion_seq: u64,
    pub reason: String,
    pub dedupe_key: String,
}

/// An attempt of a slot ended by the machinery, not by the agent: the worker vanished
/// (crash, `labj kill`, a remote worker that stopped answering, a Slurm node failure) or
/// could not run the trial (spawn failure, disk error). The coordinator's infra-retry
/// hook decides, within the run's infra-retry budget, whether the slot is dispatched
/// again (`retry`) or committed with `classification` (the budget is spent, or retries
/// of lost work are off). Journals written before retries existed hold neither field:
/// their v1 payloads are upcast to a commit of `worker_lost`, exactly as they were
/// folded then (see [`crate::upcast`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLost {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub worker_id: String,
    pub ticket_id: String,
    pub reason: String,
    /// The infrastructure class of the loss (always an `is_infra()` class).
    pub classification: Classification,
    /// The slot is dispatched again as a new attempt; nothing is committed for this one.
    pub retry: bool,
    /// The attempt was stopped by `labj kill` / Ctrl-C: a user's decision, so it does
    /// not spend the slot's infra-retry budget.
    pub stopped_by_kill: bool,
}

/// What a committed slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    Completed,
    Failed,
    SkippedPruned,
    WorkerLost,
}

impl SlotStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            SlotStatus::Completed => "completed",
            SlotStatus::Failed => "failed",
            SlotStatus::SkippedPruned => "skipped_pruned",
            SlotStatus::WorkerLost => "worker_lost",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotCommitted {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub status: SlotStatus,
    pub classification: Classification,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSkippedPruned {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub variant_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantPruned {
    pub variant_id: String,
    pub consecutive_failures: u32,
    pub at_schedule_idx: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseRequested {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub requested_by: String,
    pub requested_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseAcked {
    pub request_id: String,
    pub trial_id: String,
    pub worker_id: String,
    pub accepted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRequested {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_id: Option<String>,
    pub requested_by: String,
    /// Trials actually thawed by this request.
    #[serde(default)]
    pub resumed_trials: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequested {
    pub request_id: String,
    /// `kill` (whole run) or `cancel` (one trial).
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_id: Option<String>,
    pub requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPaused {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub paused_trials: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInterrupted {
    pub reason: String,
    /// Trials that did not pause and are still running.
    #[serde(default)]
    pub survivors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCompleted {
    pub committed_slots: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailed {
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunKilled {
    pub request_id: String,
    pub stopped_trials: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendWarning {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<u32>,
    /// Blob digests the warning is about (`remote_evidence_not_fetched`: the blobs that
    /// were not copied home; empty for warnings about no blob), for `verify` to read
    /// without parsing `message` (v1 payloads are upcast, see [`crate::upcast`]).
    pub digests: Vec<String>,
}

/// A worker backend accepted a dispatch under an id of its own (a Slurm job id), so
/// `continue` can find the attempt again after a coordinator crash and `inspect` can
/// show it. Journaled after the backend accepted it (the dispatch itself was journaled
/// before): one per attempt, several per trial when lost attempts are re-run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendJobSubmitted {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub ticket_id: String,
    /// `slurm`.
    pub backend: String,
    pub job_id: String,
    /// `submitted` (a new job), `reattached` (a `continue` took over a live job) or
    /// `assigned` (handed to the live pilot worker job `job_id`, `--slurm-workers`).
    pub action: String,
}

/// `labj set --max-concurrency N` on a live run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcurrencySet {
    pub request_id: String,
    pub max_concurrency: u32,
    pub requested_by: String,
}

macro_rules! events {
    ($( $variant:ident($ty:ty) = $kind:literal ),+ $(,)?) => {
        /// Every journal event. The discriminant is the `kind` column.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $( $variant($ty), )+
        }

        /// All event kinds, in catalogue order.
        pub const EVENT_KINDS: &[&str] = &[$( $kind ),+];

        impl Event {
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Event::$variant(_) => $kind, )+
                }
            }

            /// The payload as stored: the struct's JSON, led by `"v":N` when the kind's
            /// current version is above 1 (see [`crate::upcast`]).
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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("unknown event kind `{0}`")]
    UnknownKind(String),
    #[error("payload of `{kind}` event does not decode: {message}")]
    Payload { kind: String, message: String },
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
    pub idx: u64,
    /// RFC 3339 UTC, informational only: projections never read the clock, only this.
    pub ts: String,
    pub event: Event,
    pub hash: [u8; 32],
}

#[cfg(test)]
mod tests;
