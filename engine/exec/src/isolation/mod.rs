//! What this machine does to isolate a trial: the container engine CLI
//! (`engine.rs`: run arguments, inspect, pause, removal), the sweeps that make sure
//! nothing outlives its trial (`reap.rs`: host processes found by their
//! `AGENTLAB_RUN_ID`/`AGENTLAB_TRIAL_ID` environment, containers by their labels;
//! `subreaper.rs`: after an attempt, only the processes re-parented to labj) and
//! [`preflight`]: finds the container engine or bubblewrap, checks images and host
//! variables, and fails naming the field when a setting cannot be honoured here.
//! `describe` and `run` both call it before any trial. The isolation *settings* are the
//! experiment model's (`model::isolation`).

mod engine;
mod reap;
mod subreaper;
mod user;

pub use reap::{
    boot_ticks_now, reap_host_processes, reap_host_processes_since, remove_run_containers,
};
pub use subreaper::enable_child_subreaper;
pub(crate) use subreaper::{drain_group, subreaper_enabled};

pub(crate) use engine::{
    container_name, policy_flags, ContainerEngine, EngineError, ENGINE_ARGS_ENV, ENGINE_ENV,
    LABEL_RUN, LABEL_TRIAL,
};
pub(crate) use reap::{reap_trial_processes, SpawnMark, TRIAL_TAG_VAR};
pub(crate) use user::{give_to, Ownership};

use model::experiment::{Experiment, ExperimentError};
use model::isolation::{Enforcement, IsolationMode, IsolationPolicy, NetworkMode};
use std::collections::BTreeMap;
use std::path::PathBuf;

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
    let refuse = |pointer: &str, msg: String| {
        ExperimentError::invalid(file, pointer, msg).in_source(exp.format())
    };
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
                // The container user as this image defines it, and how it gets the
                // directories it writes (before the probe, which would only say the
                // engine could not start the container).
                engine
                    .ownership(img, iso.run_as_user.as_deref())
                    .map_err(|e| refuse("/runtime/policy/sandbox/run_as_user", e.to_string()))?;
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
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
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
