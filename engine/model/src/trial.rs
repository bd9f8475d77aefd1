//! The boundary between the coordinator and whatever runs a trial: what a worker is
//! asked to do ([`TrialSpec`]) and what it reports back ([`TrialOutcome`]).
//!
//! Both are plain data so they can cross a thread or an HTTP hop unchanged.

use crate::isolation::MountReference;
use journal::event::Classification;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Default cap per output stream of a trial's process when the experiment sets none.
pub const DEFAULT_OUTPUT_LIMIT_BYTES: u64 = 16 * 1024 * 1024;

/// A file to create in the trial workspace before the agent starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceFile {
    /// Relative path inside the workspace; validated to contain no `..` and no root.
    pub path: String,
    /// The text, or with `encoding: base64` the bytes in standard base64.
    pub(crate) content: String,
    /// `utf8` (the default) or `base64`, as in the original's task_boundary_v1 rows;
    /// checked when the dataset is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) encoding: Option<String>,
    /// Created with the executable bits set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

impl WorkspaceFile {
    /// A plain text file.
    pub fn text(path: impl Into<String>, content: impl Into<String>) -> WorkspaceFile {
        WorkspaceFile {
            path: path.into(),
            content: content.into(),
            encoding: None,
            executable: false,
        }
    }

    /// The file's bytes: `content` itself, or decoded from base64.
    pub fn bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>, String> {
        use base64::Engine as _;
        match self.encoding.as_deref() {
            None | Some("utf8") => Ok(std::borrow::Cow::Borrowed(self.content.as_bytes())),
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(self.content.trim())
                .map(std::borrow::Cow::Owned)
                .map_err(|e| format!("`{}` is not valid base64: {e}", self.path)),
            Some(other) => Err(format!(
                "`{}` has encoding `{other}`; expected utf8 or base64",
                self.path
            )),
        }
    }

    /// The text of a plain (utf8) file; `None` for base64 content.
    pub fn text_content(&self) -> Option<&str> {
        match self.encoding.as_deref() {
            None | Some("utf8") => Some(&self.content),
            _ => None,
        }
    }
}

/// How the task and result paths are appended to the agent's command line, as the
/// original runner does: `--input` → `--input <path>`; `--input=` → `--input=<path>`;
/// `in:{path}` → `in:<path>`. The experiment loader fills in the original's defaults
/// (`--input`, `--output`); `None` appends nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentIo {
    /// Followed by the task document's path (`AGENTLAB_TASK_PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_arg: Option<String>,
    /// Followed by the result path (`AGENTLAB_RESULT_PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_arg: Option<String>,
}

impl AgentIo {
    /// The original's defaults.
    pub(crate) fn agentlab_default() -> AgentIo {
        AgentIo {
            input_arg: Some("--input".into()),
            output_arg: Some("--output".into()),
        }
    }

    /// Appends `path` after the flag `spec`: `x{path}y` → one token with the path
    /// inside; `--k=` → `--k=<path>`; otherwise `--k <path>`.
    pub fn append(argv: &mut Vec<String>, spec: &str, path: &str) {
        let spec = spec.trim();
        if spec.contains("{path}") {
            argv.push(spec.replace("{path}", path));
        } else if spec.ends_with('=') {
            argv.push(format!("{spec}{path}"));
        } else {
            argv.push(spec.to_string());
            argv.push(path.to_string());
        }
    }
}

/// The agent command after per-variant overrides were applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSpec {
    /// argv; `command[0]` is resolved against the experiment directory when relative
    /// and containing a `/`, otherwise looked up on PATH.
    pub command: Vec<String>,
    /// Extra environment for the agent (experiment + variant overrides).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How the task and result paths are appended to `command`.
    #[serde(default)]
    pub io: AgentIo,
    /// Wall-clock budget per attempt, excluding time spent paused.
    pub timeout_ms: u64,
    /// `$NAME` in `command` and `env` values resolves from the variant's bindings, then
    /// `--env`/`--env-file`, then labj's environment, when the agent is spawned (the
    /// original's current format; `crate::launch_env`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dollar_templates: bool,
    /// Secret files the agent gets by id (`--secret-file ID=PATH`), and where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_files: Vec<SecretFileDecl>,
    /// Cap per output stream of the agent, grader and adapter
    /// (`runtime.policy.output_limit_bytes`); beyond it output is read and dropped.
    #[serde(default = "default_output_limit_bytes")]
    pub output_limit_bytes: u64,
}

fn default_output_limit_bytes() -> u64 {
    crate::trial::DEFAULT_OUTPUT_LIMIT_BYTES
}

/// `runtime.agent_runtime.secret_files[]` of the original's current format: the file
/// given as `--secret-file ID=PATH` is mounted read-only at `target` in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFileDecl {
    /// The id given on the command line (`--secret-file ID=PATH`).
    pub id: String,
    /// Where the file is mounted in the container.
    pub target: String,
}

/// What grades a trial after its agent exited: labj's grader (`benchmark.grader`) or the
/// original runner's benchmark adapter (`benchmark.adapter`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraderSpec {
    /// argv, path-like tokens already resolved against the project root.
    pub command: Vec<String>,
    /// Evidence classes the grading must produce; checked after it ran, and a missing
    /// one makes the trial a `grade_error`.
    #[serde(default)]
    pub required_evidence_classes: Vec<String>,
    /// The files the command reads and writes.
    #[serde(default)]
    pub contract: GraderContract,
    /// Where labj's grader runs (`benchmark.grader.strategy`).
    #[serde(default, skip_serializing_if = "GraderStrategy::is_host")]
    pub strategy: GraderStrategy,
    /// This trial's hidden grading files (`benchmark.grader.hidden_files` expanded for
    /// its task, absolute): shown to the grader only, never to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_dir: Option<std::path::PathBuf>,
    /// The directory holding every task's hidden files (the part of `hidden_files`
    /// before its first `${…}`), hidden from sandboxed agents as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_root: Option<std::path::PathBuf>,
    /// The in-image grader's network (`benchmark.grader.network`; default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::isolation::NetworkMode>,
    /// The grader's own time limit (`benchmark.grader.timeout_ms`; default: the agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// `benchmark.grader.strategy`: where labj's grader runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraderStrategy {
    /// A host process in `attempt_<n>/grader/` (reads the agent's workspace in place).
    #[default]
    Host,
    /// After the agent's container (or sandbox) is gone: a fresh container of the task's
    /// image (a fresh sandbox in sandbox mode) holding a copy of the agent's final
    /// workspace and, only there, the hidden grading files (executor/grade_image.rs).
    InTaskImage,
}

impl GraderStrategy {
    pub(crate) fn is_host(&self) -> bool {
        *self == GraderStrategy::Host
    }
}

/// The file contract the grading command follows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum GraderContract {
    /// labj's: write `grade_result_v1` to `AGENTLAB_GRADE_PATH`.
    #[default]
    Grade,
    /// The original's: read `AGENTLAB_EVIDENCE_RECORDS_PATH`, write
    /// `AGENTLAB_PREDICTIONS_PATH` and `AGENTLAB_SCORES_PATH` (and the manifest).
    Adapter {
        /// `benchmark.adapter.manifest`: seeds the manifest at
        /// `AGENTLAB_ADAPTER_MANIFEST_PATH` when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manifest: Option<serde_json::Value>,
    },
    /// The original's current contract (`benchmark.grader.conclusion.mode: direct`): read
    /// the `grader_input_v1` at `AGENTLAB_GRADER_INPUT_PATH`, write a
    /// `trial_conclusion_v1` to `AGENTLAB_MAPPED_GRADER_OUTPUT_PATH`.
    Conclusion,
}

/// The evidence classes of the original runner's evidence record
/// (`benchmark.policy.required_evidence_classes` named these): what each trial stored.
/// labj stores the same things; only `hook_events_ref` (a trajectory) and
/// `trial_output_ref` / `harness_response_ref` (a result) can be missing.
pub const ORIGINAL_EVIDENCE_REFS: [&str; 13] = [
    "trial_input_ref",
    "trial_output_ref",
    "stdout_ref",
    "stderr_ref",
    "hook_events_ref",
    "harness_request_ref",
    "harness_response_ref",
    "workspace_pre_ref",
    "workspace_post_ref",
    "diff_incremental_ref",
    "diff_cumulative_ref",
    "patch_incremental_ref",
    "patch_cumulative_ref",
];

/// Evidence classes labj's executor itself produces after the agent (before any grader).
pub(crate) const AGENT_EVIDENCE_CLASSES: [&str; 2] = ["workspace_diff", "agent_patch"];

/// `design.policies.retry`: when an attempt that went wrong is tried again inside one
/// dispatch, and how often a slot is dispatched again after infrastructure faults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrySpec {
    /// Total attempts including the first (1 = no retry).
    pub max_attempts: u32,
    /// What triggers another attempt, with the original runner's meanings for its three
    /// names: `error` = the agent reported outcome `error` or left no usable result,
    /// `failure` = the agent exited non-zero (never a graded failure), `timeout` = it ran
    /// out of time; any other classification by its name, or `infra` for every
    /// infrastructure fault. Empty = the original's default: `error` or `failure`
    /// (timeouts and memory kills included, being non-zero exits).
    #[serde(default)]
    pub retry_on: Vec<String>,
    /// Dispatches of one slot that may end in an infrastructure fault (worker lost,
    /// spawn failure, disk error) before the slot is committed with that fault; until
    /// then the coordinator dispatches the slot again. Separate from `max_attempts`
    /// (which retries inside one dispatch). `None` = [`DEFAULT_MAX_INFRA_ATTEMPTS`];
    /// 1 = never re-run lost work (what `labj continue --no-retry-lost` does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_infra_attempts: Option<u32>,
}

/// Default infra-retry budget: a slot is dispatched at most this many times for
/// attempts lost to infrastructure faults.
pub const DEFAULT_MAX_INFRA_ATTEMPTS: u32 = 3;

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: 1,
            retry_on: Vec::new(),
            max_infra_attempts: None,
        }
    }
}

impl RetrySpec {
    /// How many times a slot may be dispatched for attempts lost to infrastructure
    /// faults: `max_infra_attempts`, else [`DEFAULT_MAX_INFRA_ATTEMPTS`], at least 1.
    pub fn infra_attempts(&self) -> u32 {
        self.max_infra_attempts
            .unwrap_or(DEFAULT_MAX_INFRA_ATTEMPTS)
            .max(1)
    }

    /// Whether an attempt that ended classified `c` is tried again (attempts left
    /// permitting), by `retry_on` or, when it is empty, the original's default.
    pub fn should_retry(&self, c: Classification) -> bool {
        use Classification as C;
        let error = matches!(c, C::Error | C::ResultMissing | C::ResultParseError);
        if self.retry_on.is_empty() {
            return error || matches!(c, C::AgentExitNonzero | C::Timeout | C::ResourceLimit);
        }
        self.retry_on.iter().any(|r| match r.as_str() {
            "infra" => c.is_infra(),
            "error" => error,
            "failure" => c == C::AgentExitNonzero,
            other => other == c.as_str(),
        })
    }
}

/// Everything a worker needs to run one trial. Built by the coordinator from the
/// experiment and the schedule slot; never touches the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    /// The run the trial belongs to.
    pub run_id: String,
    /// The trial's id, unique in the run; names its directory under `trials/`.
    pub trial_id: String,
    /// The slot's position in the schedule (commit order).
    pub schedule_idx: u64,
    /// The variant the trial runs.
    pub variant_id: String,
    /// The task the trial runs.
    pub task_id: String,
    /// Which replication of (variant, task) this is, from 0.
    pub repl_idx: u32,
    /// The task object (open user data).
    pub task: serde_json::Value,
    /// The variant's bindings (open user data).
    pub bindings: serde_json::Value,
    /// `runtime.dependencies` (open user data).
    pub dependencies: serde_json::Value,
    /// `runtime.policy` plus the task limits (open user data).
    pub policy: serde_json::Value,
    /// The task's files, written into the workspace before each attempt.
    #[serde(default)]
    pub workspace_files: Vec<WorkspaceFile>,
    /// The task's dataset packs, as the dataset row gave them (the resolved mounts are in
    /// `isolation.mounts`).
    #[serde(default)]
    pub mount_references: Vec<MountReference>,
    /// Files copied from the experiment directory into `deps/` (runtime.dependencies.files).
    #[serde(default)]
    pub dependency_files: Vec<DependencyFile>,
    /// The agent to run: the variant's overrides applied, its timeout resolved from the
    /// variant, the runtime and the task's limits.
    pub agent: AgentSpec,
    /// What grades the trial after the agent; `None`: the agent's own result decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grader: Option<GraderSpec>,
    /// The required evidence classes the agent's side answers for (checked after the
    /// agent, grader or not): the original runner's evidence-record names
    /// ([`ORIGINAL_EVIDENCE_REFS`]) and, without a grader, `workspace_diff` /
    /// `agent_patch`. The grader's own classes are in [`GraderSpec`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_evidence: Vec<String>,
    /// When an attempt is tried again within this dispatch.
    #[serde(default)]
    pub retry: RetrySpec,
    /// Directory the experiment file lives in (relative agent paths resolve here).
    pub experiment_dir: PathBuf,
    /// `<run_dir>/trials/<trial_id>`; created by the executor.
    pub trial_dir: PathBuf,
    /// `<run_dir>/blobs`; content-addressed by blake3 hex digest.
    pub blob_dir: PathBuf,
    /// The experiment's top-level `metrics` the executor computes for each attempt
    /// (sources `output`, `events`, `runner`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declared_metrics: Vec<MetricDecl>,
    /// Sandbox/container, network, limits, env allow-list, staging and mounts.
    #[serde(default)]
    pub isolation: crate::isolation::TrialIsolation,
}

/// One entry of the experiment's top-level `metrics` (the original's metric
/// declaration, as its SDK writes it), computed by the executor for every attempt that
/// left a usable result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricDecl {
    /// The metric's name in the trial's metrics.
    pub id: String,
    /// Where its value comes from.
    pub source: MetricSource,
    /// `output`: JSON pointer into the agent's result document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_pointer: Option<String>,
    /// `events`: the `event_type` of the agent's event-stream lines counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// `events`: dot path of the number inside each event (`usage.tokens_in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_field: Option<String>,
    /// `events`: how the events' values become one number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<MetricAggregate>,
}

/// Where a declared metric's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricSource {
    /// A value of the agent's result document.
    Output,
    /// An aggregate over the agent's event stream (its trajectory JSONL).
    Events,
    /// Measured by labj: `duration_ms`, `exit_code`.
    Runner,
    /// Measured on the agent's files: recorded, not computed (see docs/agentlab-compat.md).
    Artifacts,
}

/// How the values of an `events` metric's matching events become one number (the
/// default: `sum` when an `event_field` is named, else `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricAggregate {
    /// The sum of the values (0 for no events).
    Sum,
    /// The number of matching events (with the field present, when one is named).
    Count,
    /// The largest value; no metric without values.
    Max,
    /// The smallest value; no metric without values.
    Min,
    /// The arithmetic mean; no metric without values.
    Mean,
    /// The value of the last matching event in the stream.
    Last,
}

/// A file staged from the experiment directory into the trial's `deps/` directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyFile {
    /// Source, relative to the experiment directory.
    pub source: String,
    /// Destination, relative to the trial's `deps/` directory.
    pub dest: String,
}

pub use journal::event::TrialOutcome;
