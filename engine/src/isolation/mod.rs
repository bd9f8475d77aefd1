//! Isolation of trials: plain local processes, the bubblewrap sandbox and container
//! trials (docker or podman through the same CLI code path).
//!
//! * [`IsolationPolicy`] — the experiment's isolation fields, parsed and checked when the
//!   experiment loads (`policy.rs`).
//! * [`preflight`] — what this machine will enforce: finds the container engine or
//!   bubblewrap, checks images and host variables, and fails naming the field when a
//!   setting cannot be honoured here. `describe` and `run` both call it before any trial.
//! * [`TrialIsolation`] — the per-trial result carried in the `TrialSpec` (image after
//!   task > variant > experiment precedence, engine, limits, allow-listed env names).
//! * `engine.rs` — the container engine CLI (run arguments, inspect, pause, removal).
//! * `reap.rs` — nothing outlives its trial: host processes found by their
//!   `AGENTLAB_RUN_ID`/`AGENTLAB_TRIAL_ID` environment, containers by their labels.
//!
//! The in-container contract is documented in docs/isolation.md.

mod engine;
mod policy;
mod reap;

pub use engine::{
    container_name, policy_flags, ContainerEngine, EngineError, ExitState, ENGINE_ARGS_ENV,
    ENGINE_ENV, LABEL_RUN, LABEL_TRIAL,
};
pub(crate) use policy::sandbox_target;
pub use policy::{IsolationPolicy, Mount, StageArea, StagedFile, CONTRACT_ROOT};
pub use reap::{
    boot_ticks_now, reap_host_processes, reap_host_processes_since, reap_trial_processes_since,
    remove_run_containers, SpawnMark, TRIAL_TAG_VAR,
};

use crate::experiment::{Experiment, ExperimentError, SourceFormat};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    pub fn as_str(&self) -> &'static str {
        match self {
            IsolationMode::Local => "local",
            IsolationMode::Sandbox => "sandbox",
            IsolationMode::Container => "container",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    #[default]
    Full,
    None,
}

impl NetworkMode {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

/// The container engine a trial uses, as resolved by [`preflight`].
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
    pub mode: IsolationMode,
    #[serde(default)]
    pub network: NetworkMode,
    #[serde(default)]
    pub root_read_only: bool,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<String>,
    #[serde(default)]
    pub no_new_privileges: bool,
    #[serde(default)]
    pub drop_all_caps: bool,
    /// `Some`: the agent's environment is cleared down to the declared variables plus
    /// these host names (always `Some` in sandbox and container modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from_host: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineSpec>,
    /// The bubblewrap binary (sandbox mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bwrap: Option<PathBuf>,
    #[serde(default)]
    pub file_staging: Vec<StagedFile>,
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

/// What [`preflight`] found this machine will enforce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enforcement {
    pub engine: Option<EngineSpec>,
    pub bwrap: Option<PathBuf>,
    /// Each task's resolved `mount_references` (task order).
    pub task_mounts: Vec<Vec<Mount>>,
    /// `describe`'s line.
    pub summary: String,
}

/// Where the engine choice comes from (`--container-engine`, else the environment).
#[derive(Debug, Clone, Default)]
pub struct HostChoice {
    /// `docker`, `podman` or a path; `None` → `LABJ_CONTAINER_ENGINE`, else PATH.
    pub container_engine: Option<String>,
}

/// Checks that this machine can enforce every isolation setting of `exp`, before any
/// trial runs. `Err` names the field that cannot be honoured.
pub fn preflight(exp: &Experiment, choice: &HostChoice) -> Result<Enforcement, ExperimentError> {
    let iso = exp.isolation();
    let file = exp.file();
    let refuse = |pointer: &str, msg: String| ExperimentError::invalid(file, pointer, msg);
    for (i, name) in iso.env_from_host.iter().flatten().enumerate() {
        if std::env::var_os(name).is_none() {
            return Err(refuse(
                &format!("/runtime/agent/env_from_host/{i}"),
                format!("host variable `{name}` is listed in env_from_host but not set in labj's environment"),
            ));
        }
    }
    let mut out = Enforcement::default();
    let dataset = &exp.dataset().path;
    for t in exp.tasks() {
        let row = format!("{}:{} (task `{}`)", dataset.display(), t.line, t.id);
        out.task_mounts
            .push(iso.task_mounts(file, exp.dir(), &t.mount_references, &row)?);
    }
    let mut parts: Vec<String> = Vec::new();
    match iso.mode {
        IsolationMode::Local => {
            parts.push("local host processes (no sandbox: full network, host filesystem)".into());
            parts.push(match &iso.env_from_host {
                Some(names) => format!("env allow-list: declared + host {names:?}"),
                None => "env: labj's own environment + declared".into(),
            });
        }
        IsolationMode::Sandbox => {
            let bwrap = find_program("bwrap").ok_or_else(|| {
                refuse(
                    sandbox_field(iso),
                    "the local sandbox needs bubblewrap (`bwrap`), which is not on PATH; \
                     install it (apt-get install bubblewrap) or remove the setting"
                        .to_string(),
                )
            })?;
            let version = engine::command_output(&bwrap, &["--version"])
                .unwrap_or_else(|_| "bubblewrap (unknown version)".into());
            parts.push(format!("sandbox via {}", version.trim()));
            out.bwrap = Some(bwrap);
        }
        IsolationMode::Container => {
            let engine =
                ContainerEngine::choose(choice.container_engine.as_deref()).map_err(|e| {
                    refuse(
                        "/runtime/policy/sandbox/mode",
                        format!("sandbox.mode: container: {e}"),
                    )
                })?;
            let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (vi, v) in exp.variants().iter().enumerate() {
                for (ti, t) in exp.tasks().iter().enumerate() {
                    match exp.image_for(vi, ti) {
                        Some(img) => images.entry(img).or_default().push(format!("{}/{}", v.id, t.id)),
                        None => {
                            return Err(refuse(
                                "/runtime/agent/image",
                                format!(
                                    "sandbox.mode: container but no image for variant `{}` task `{}`: set runtime.agent.image, the variant's image or the task's image",
                                    v.id, t.id
                                ),
                            ))
                        }
                    }
                }
            }
            for img in images.keys() {
                // The trials' own flags: the policy is the experiment's, so trial (0, 0)
                // stands for all (an image is listed only when a task and a variant exist).
                let flags = policy_flags(&exp.trial_isolation(0, 0));
                let id = engine.image_id(img).map_err(|e| {
                    refuse(
                        "/runtime/agent/image",
                        format!(
                            "image `{img}` is not available to {}: {e}",
                            engine.spec.version
                        ),
                    )
                })?;
                // One throwaway container with the run's exact engine, image and
                // arguments: a runtime that refuses them fails here, not on every trial.
                if let Err(e) = engine.probe(&id, &flags) {
                    return Err(refuse(
                        "/runtime/policy/sandbox/mode",
                        probe_refusal(&engine, img, &flags, &e),
                    ));
                }
            }
            parts.push(format!(
                "container via {}{}",
                engine.spec.version,
                if engine.spec.run_args.is_empty() {
                    String::new()
                } else {
                    format!(" (run args: {})", engine.spec.run_args.join(" "))
                }
            ));
            parts.push(format!(
                "image(s): {}",
                images.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            out.engine = Some(engine.spec);
        }
    }
    if iso.mode != IsolationMode::Local {
        parts.push(format!("network {}", iso.network.as_str()));
        let mut limits = Vec::new();
        if let Some(m) = iso.resources.memory_mb {
            limits.push(format!("memory {m} MiB"));
        }
        if let Some(c) = iso.resources.cpu_count {
            limits.push(format!("cpus {c}"));
        }
        if let Some(p) = iso.resources.pids {
            limits.push(format!("pids {p}"));
        }
        if iso.root_read_only {
            limits.push("read-only root".into());
        }
        parts.push(if limits.is_empty() {
            "no resource limits".into()
        } else {
            format!("limits: {}", limits.join(", "))
        });
        parts.push(format!(
            "env allow-list: declared + host {:?}",
            iso.env_from_host.clone().unwrap_or_default()
        ));
    }
    out.summary = parts.join("; ");
    Ok(out)
}

/// Why the preflight container could not start, quoting the engine, and what to change.
fn probe_refusal(
    engine: &ContainerEngine,
    image: &str,
    flags: &[String],
    e: &EngineError,
) -> String {
    let said = match e {
        EngineError::Failed { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let now = if engine.spec.run_args.is_empty() {
        format!("{ENGINE_ARGS_ENV} is not set")
    } else {
        format!("{ENGINE_ARGS_ENV} is `{}`", engine.spec.run_args.join(" "))
    };
    let fix = if said.contains("rlimit") {
        format!(
            "the runtime may not raise resource limits on this host: add limits at or below the current ones to {ENGINE_ARGS_ENV} (e.g. `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024`)"
        )
    } else if said.contains("cgroup") {
        format!("the default OCI runtime cannot run here: choose another in {ENGINE_ARGS_ENV} (e.g. `--runtime runc`)")
    } else {
        format!(
            "fix the engine's arguments in {ENGINE_ARGS_ENV}, the engine (--container-engine / {ENGINE_ENV}) or the isolation settings under runtime.policy"
        )
    };
    format!(
        "{} cannot start a container of image `{image}` with this run's arguments (checked before any trial with one throwaway container: run --entrypoint true {}{}{}): {said}; {fix} ({now})",
        engine.spec.version,
        flags.join(" "),
        if engine.spec.run_args.is_empty() { "" } else { " " },
        engine.spec.run_args.join(" "),
    )
}

fn sandbox_field(iso: &IsolationPolicy) -> &'static str {
    if iso.network == NetworkMode::None {
        "/runtime/policy/network/mode"
    } else if iso.root_read_only {
        "/runtime/policy/sandbox/root_read_only"
    } else {
        "/runtime/policy/sandbox/resources"
    }
}

/// `name` on PATH (or as given, when it contains a `/`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

impl Experiment {
    /// The isolation of the trial of `variant_idx` × `task_idx`. Before
    /// [`Experiment::set_enforcement`] a container or sandbox trial has no engine/bwrap
    /// and the executor refuses to run it (it never downgrades to a host process).
    pub fn trial_isolation(&self, variant_idx: usize, task_idx: usize) -> TrialIsolation {
        let p = &self.isolation;
        let enf = self.enforcement.as_ref();
        let clean = p.mode != IsolationMode::Local || p.env_from_host.is_some();
        TrialIsolation {
            mode: p.mode,
            network: p.network,
            root_read_only: p.root_read_only,
            resources: p.resources,
            run_as_user: p.run_as_user.clone(),
            no_new_privileges: p.no_new_privileges,
            drop_all_caps: p.drop_all_caps,
            env_from_host: clean.then(|| p.env_from_host.clone().unwrap_or_default()),
            image: match p.mode {
                IsolationMode::Container => self.image_for(variant_idx, task_idx),
                _ => None,
            },
            engine: enf.and_then(|e| e.engine.clone()),
            bwrap: enf.and_then(|e| e.bwrap.clone()),
            file_staging: p.file_staging.clone(),
            mounts: p
                .assets
                .iter()
                .chain(
                    enf.and_then(|e| e.task_mounts.get(task_idx))
                        .into_iter()
                        .flatten(),
                )
                .cloned()
                .collect(),
            contract: self.format,
            workdir: self.tasks()[task_idx]
                .row
                .as_ref()
                .map(|r| r.workdir.clone()),
        }
    }
}

/// What replaces every `runtime.agent.env` value in the journaled experiment.
pub const REDACTED: &str = "<redacted>";

/// The experiment document as the journal stores it: every value of `runtime.agent.env`
/// (experiment, baseline and variants, `runtime_overrides` included) replaced by [`REDACTED`]. Env values are where
/// secrets end up; names stay so a reader sees what was set. Settings that matter to the
/// analysis belong in `bindings`, which are journaled verbatim. The experiment digest is
/// still computed over the real document, so a changed value is still detected.
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
