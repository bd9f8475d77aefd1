//! Isolation of trials: plain local processes, the bubblewrap sandbox and container
//! trials (docker or podman through the same CLI code path).
//!
//! * [`IsolationPolicy`] — the experiment's isolation fields, parsed and checked when the
//!   experiment loads (`policy.rs`).
//! * `exec::isolation::preflight` — what this machine will enforce (it probes the host,
//!   so it lives in the execution crate); its answer is an [`Enforcement`].
//! * [`TrialIsolation`] — the per-trial result carried in the `TrialSpec` (image after
//!   task > variant > experiment precedence, engine, limits, allow-listed env names).
//!
//! The in-container contract is documented in docs/isolation.md.

mod policy;

pub use policy::{
    sandbox_target, IsolationPolicy, Mount, MountReference, StageArea, StagedFile, CONTRACT_ROOT,
};

use crate::contract::SourceFormat;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How a trial's agent runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsolationMode {
    /// A host process (process group; stray processes found by environment afterwards).
    #[default]
    Local,
    /// A host process under bubblewrap: own PID (and, with network none, network)
    /// namespace, run directory hidden, trial directories the only writable places
    /// inside it (plus the host root unless `root_read_only`).
    Sandbox,
    /// A docker/podman container.
    Container,
}

impl IsolationMode {
    /// The mode's name as journaled in a trial's isolation record.
    pub fn as_str(&self) -> &'static str {
        match self {
            IsolationMode::Local => "local",
            IsolationMode::Sandbox => "sandbox",
            IsolationMode::Container => "container",
        }
    }
}

/// `runtime.policy.network.mode`: whether a trial's agent reaches the network. labj has
/// no egress allow-list, so these are the only two modes it accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// The host's network, unrestricted.
    #[default]
    Full,
    /// No network: the sandbox's own empty network namespace, or `--network none` for a
    /// container.
    None,
}

impl NetworkMode {
    /// The mode's name as written in the experiment and journaled.
    pub fn as_str(&self) -> &'static str {
        match self {
            NetworkMode::Full => "full",
            NetworkMode::None => "none",
        }
    }
}

/// `runtime.policy.sandbox.resources`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// CPUs the agent may use (a container's `--cpus`; the sandbox's CPU affinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<u64>,
    /// Memory in MiB (a container's `--memory`, with no swap beyond it; the sandbox's
    /// address-space limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Most processes at once (a container's `--pids-limit`; refused outside containers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}

impl Resources {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

/// The container engine a trial uses, as resolved by `exec::isolation::preflight`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSpec {
    /// Program to run (`docker`, `podman` or a path).
    pub program: String,
    /// e.g. `podman 4.3.1`.
    pub version: String,
    /// `LABJ_CONTAINER_ARGS`, appended to every `run` (e.g. `--runtime runc`).
    #[serde(default)]
    pub run_args: Vec<String>,
}

/// Everything the executor needs to isolate one trial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialIsolation {
    /// How the agent runs: host process, sandbox or container.
    pub mode: IsolationMode,
    /// Whether the agent reaches the network.
    #[serde(default)]
    pub network: NetworkMode,
    /// The root filesystem is mounted read-only (a container's `--read-only`; the
    /// sandbox binds the host root read-only); the trial directories stay writable.
    #[serde(default)]
    pub root_read_only: bool,
    /// CPU, memory and process limits.
    #[serde(default)]
    pub resources: Resources,
    /// The container's user (`name`, `uid` or `uid:gid`); containers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<String>,
    /// A container runs with `--security-opt no-new-privileges`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// Every capability is dropped (`--cap-drop ALL`, in the sandbox too).
    #[serde(default)]
    pub drop_all_caps: bool,
    /// `Some`: the agent's environment is cleared down to the declared variables plus
    /// these host names (always `Some` in sandbox and container modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from_host: Option<Vec<String>>,
    /// The container image (task > variant > experiment); `None` outside container mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The container engine the preflight resolved; a container trial without one is
    /// refused, never run as a host process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineSpec>,
    /// The bubblewrap binary (sandbox mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bwrap: Option<PathBuf>,
    /// Host files copied into the trial's `deps/` or workspace before the agent starts.
    #[serde(default)]
    pub file_staging: Vec<StagedFile>,
    /// What is mounted into the sandbox or container: the experiment's
    /// `runtime.dependencies.assets`, then the task's resolved `mount_references`.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// The in-container paths: the original's `/agentlab/…` contract (`Resolved`), or
    /// its version 1.0 clean harness (`/in/task.json`, `/out/`, the image's working
    /// directory).
    #[serde(default, skip_serializing_if = "is_resolved")]
    pub contract: SourceFormat,
    /// The container's working directory when the task names one (a `task_row_v1`
    /// row's `workdir`, inside the task's image); else `/agentlab/workspace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
}

fn is_resolved(f: &SourceFormat) -> bool {
    *f == SourceFormat::Resolved
}

impl TrialIsolation {
    /// Whether the agent's environment is an allow-list rather than the worker's own.
    pub fn clean_env(&self) -> bool {
        self.env_from_host.is_some()
    }
}

/// What `exec::isolation::preflight` found this machine will enforce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enforcement {
    /// The container engine container trials run with (container mode only).
    pub engine: Option<EngineSpec>,
    /// The bubblewrap binary sandbox trials run under (sandbox mode only).
    pub bwrap: Option<PathBuf>,
    /// Each task's resolved `mount_references` (task order).
    pub task_mounts: Vec<Vec<Mount>>,
    /// `describe`'s line.
    pub summary: String,
}

/// What replaces every `runtime.agent.env` value in the journaled experiment.
pub(crate) const REDACTED: &str = "<redacted>";

/// The experiment document as the journal stores it: every value of `runtime.agent.env`
/// (experiment, baseline and variants, `runtime_overrides` included) replaced by
/// `<redacted>`. Env values are where secrets end up; names stay so a reader sees what
/// was set. Settings that matter to the analysis belong in `bindings`, which are
/// journaled verbatim. The experiment digest is still computed over the real document,
/// so a changed value is still detected.
pub fn redact_env_values(doc: &serde_json::Value) -> serde_json::Value {
    let mut doc = doc.clone();
    let n = doc
        .get("variant_plan")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    let mut pointers = vec![
        "/runtime/agent/env".to_string(),
        "/baseline/runtime/agent/env".to_string(),
        "/baseline/runtime_overrides/agent/env".to_string(),
    ];
    pointers.extend((0..n).map(|i| format!("/variant_plan/{i}/runtime/agent/env")));
    pointers.extend((0..n).map(|i| format!("/variant_plan/{i}/runtime_overrides/agent/env")));
    for p in pointers {
        if let Some(serde_json::Value::Object(env)) = doc.pointer_mut(&p) {
            for v in env.values_mut() {
                *v = serde_json::Value::String(REDACTED.into());
            }
        }
    }
    doc
}
