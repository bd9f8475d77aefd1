//! The container engine, driven through its CLI. `docker` and `podman` take the same
//! flags for everything labj needs, so there is one code path; site-specific runtime
//! flags (e.g. `--runtime runc`, `--ulimit …`) come from `LABJ_CONTAINER_ARGS`.

use model::isolation::{EngineSpec, NetworkMode, TrialIsolation};
use std::path::Path;
use std::process::{Command, Stdio};

/// Chooses the engine when `--container-engine` is not given.
pub(crate) const ENGINE_ENV: &str = "LABJ_CONTAINER_ENGINE";
/// Extra arguments appended to every `run` (split on whitespace).
pub(crate) const ENGINE_ARGS_ENV: &str = "LABJ_CONTAINER_ARGS";

#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    #[error("no container engine found: neither podman nor docker is on PATH (install one, or pass --container-engine / set {ENGINE_ENV})")]
    NotFound,
    #[error("container engine `{0}` not found on PATH")]
    Missing(String),
    #[error("`{command}` failed: {message}")]
    Failed { command: String, message: String },
}

/// A stopped container as the engine reports it (`inspect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExitState {
    pub oom_killed: bool,
    pub exit_code: i32,
    /// Whether its process ever started (a container the runtime could not create or
    /// start stays `created`, its start time zero).
    pub started: bool,
}

/// A resolved engine: [`EngineSpec`] plus the operations labj performs with it.
#[derive(Debug, Clone)]
pub(crate) struct ContainerEngine {
    pub spec: EngineSpec,
}

/// Runs `program args…` and returns its stdout, or the error with its stderr.
pub(crate) fn command_output(program: &Path, args: &[&str]) -> Result<String, EngineError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| EngineError::Failed {
            command: format!("{} {}", program.display(), args.join(" ")),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.trim();
        Err(EngineError::Failed {
            command: format!("{} {}", program.display(), args.join(" ")),
            message: if err.is_empty() {
                format!("exit status {}", out.status)
            } else {
                tail(err, 400)
            },
        })
    }
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

impl ContainerEngine {
    /// `explicit` (from `--container-engine`), else `LABJ_CONTAINER_ENGINE`, else podman
    /// or docker, whichever is on PATH (podman first: it needs no daemon). The engine
    /// must answer `version`.
    pub(crate) fn choose(explicit: Option<&str>) -> Result<ContainerEngine, EngineError> {
        let wanted = explicit.map(String::from).or_else(|| {
            std::env::var(ENGINE_ENV)
                .ok()
                .filter(|s| !s.trim().is_empty())
        });
        let program = match wanted {
            Some(w) => {
                super::find_program(w.trim()).ok_or_else(|| EngineError::Missing(w.clone()))?
            }
            None => super::find_program("podman")
                .or_else(|| super::find_program("docker"))
                .ok_or(EngineError::NotFound)?,
        };
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `version` talks to the daemon for docker, so a CLI without a daemon fails here.
        let version = command_output(&program, &["version", "--format", "{{.Client.Version}}"])?;
        let run_args = std::env::var(ENGINE_ARGS_ENV)
            .map(|s| s.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        Ok(ContainerEngine {
            spec: EngineSpec {
                program: program.to_string_lossy().into_owned(),
                version: format!("{name} {}", version.trim()),
                run_args,
            },
        })
    }

    pub(crate) fn from_spec(spec: &EngineSpec) -> ContainerEngine {
        ContainerEngine { spec: spec.clone() }
    }

    fn out(&self, args: &[&str]) -> Result<String, EngineError> {
        command_output(Path::new(&self.spec.program), args)
    }

    /// The local image id (`sha256:…`) of `image`; pulls it once when it is missing.
    pub(crate) fn image_id(&self, image: &str) -> Result<String, EngineError> {
        // `--` ends the options: an image named `--help` is an image name, never a flag.
        let inspect = |e: &Self| e.out(&["image", "inspect", "--format", "{{.Id}}", "--", image]);
        match inspect(self) {
            Ok(id) => Ok(normalize_id(&id)),
            Err(first) => {
                if self.out(&["pull", "--", image]).is_err() {
                    return Err(first);
                }
                inspect(self).map(|id| normalize_id(&id))
            }
        }
    }

    pub(crate) fn pause(&self, name: &str) -> Result<(), EngineError> {
        self.out(&["pause", name]).map(|_| ())
    }

    pub(crate) fn unpause(&self, name: &str) -> Result<(), EngineError> {
        self.out(&["unpause", name]).map(|_| ())
    }

    /// Kills and removes the container (idempotent: a missing container is fine).
    pub(crate) fn remove(&self, name: &str) -> Result<(), EngineError> {
        match self.out(&["rm", "-f", name]) {
            Ok(_) => Ok(()),
            Err(EngineError::Failed { message, .. })
                if message.contains("no such container")
                    || message.contains("No such container") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// What the engine knows about a stopped container; `None` when it has no such
    /// container (the engine failed before creating it, e.g. a missing image).
    pub(crate) fn exit_state(&self, name: &str) -> Option<ExitState> {
        let s = self
            .out(&[
                "inspect",
                "--format",
                "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}} {{.State.StartedAt}}",
                name,
            ])
            .ok()?;
        let mut it = s.split_whitespace();
        let oom_killed = it.next()? == "true";
        let exit_code = it.next()?.parse().ok()?;
        let status = it.next().unwrap_or("").to_string();
        // podman prints `0001-01-01 00:00:00 +0000 UTC`, docker `0001-01-01T00:00:00Z`
        // for a container whose process never started.
        let started = !it.next().unwrap_or("0001-01-01").starts_with("0001-01-01")
            && !matches!(status.as_str(), "created" | "configured" | "initialized");
        Some(ExitState {
            oom_killed,
            exit_code,
            started,
        })
    }

    /// Starts one throwaway container of `image` with `flags` (the run's own flags, then
    /// `LABJ_CONTAINER_ARGS`) running `true`, removed at once: proves, before any trial,
    /// that this engine and runtime accept the run's arguments. `Err` is the engine's
    /// own error text. An image without a `true` program still proves it: the runtime
    /// created the container and got as far as looking the command up.
    pub(crate) fn probe(&self, image: &str, flags: &[String]) -> Result<(), EngineError> {
        let name = format!("labj-preflight-{}", uuid::Uuid::now_v7());
        let mut args: Vec<&str> = vec!["run", "--rm", "--name", &name];
        args.extend(["--label", "labj.preflight=1", "--entrypoint", "true"]);
        args.extend(flags.iter().map(String::as_str));
        args.extend(self.spec.run_args.iter().map(String::as_str));
        args.push(image);
        let out = self.out(&args);
        // `--rm` does not remove a container the runtime failed to start.
        let _ = self.remove(&name);
        match out {
            Ok(_) => Ok(()),
            Err(EngineError::Failed { message, .. })
                if message.contains("executable file not found")
                    || message.contains("no such file or directory: OCI runtime attempted") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Names of all containers (running or not) carrying `label=value`.
    pub(crate) fn names_with_label(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<String>, EngineError> {
        let filter = format!("label={label}={value}");
        let s = self.out(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])?;
        Ok(s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }
}

/// The `run` flags a trial's isolation settings become (network, limits, read-only root,
/// user, hardening, `/tmp`), without mounts, names, environment or `LABJ_CONTAINER_ARGS`:
/// one list for the agent's container, the grader's and the preflight probe.
pub(crate) fn policy_flags(iso: &TrialIsolation) -> Vec<String> {
    let mut f: Vec<String> = Vec::new();
    let mut push = |args: &[&str]| f.extend(args.iter().map(|a| a.to_string()));
    if iso.network == NetworkMode::None {
        push(&["--network", "none"]);
    }
    if let Some(mb) = iso.resources.memory_mb {
        // Swap equal to memory: the limit is a real limit, not a slowdown.
        let m = format!("{mb}m");
        push(&["--memory", &m, "--memory-swap", &m]);
    }
    if let Some(cpus) = iso.resources.cpu_count {
        push(&["--cpus", &cpus.to_string()]);
    }
    if let Some(pids) = iso.resources.pids {
        push(&["--pids-limit", &pids.to_string()]);
    }
    if iso.root_read_only {
        push(&["--read-only"]);
    }
    if let Some(user) = &iso.run_as_user {
        push(&["--user", user]);
    }
    if iso.no_new_privileges {
        push(&["--security-opt", "no-new-privileges"]);
    }
    if iso.drop_all_caps {
        push(&["--cap-drop", "ALL"]);
    }
    push(&["--tmpfs", "/tmp:rw"]);
    f
}

fn normalize_id(id: &str) -> String {
    let id = id.trim();
    if id.starts_with("sha256:") {
        id.to_string()
    } else {
        format!("sha256:{id}")
    }
}

/// Labels every labj container carries, so `continue` can find a crashed session's:
/// its run and its trial.
pub(crate) const LABEL_RUN: &str = "labj.run_id";
/// See [`LABEL_RUN`].
pub(crate) const LABEL_TRIAL: &str = "labj.trial_id";

/// A container name unique per run, trial and attempt (engines cap names at 253+ chars;
/// run ids are uuids).
pub(crate) fn container_name(run_id: &str, trial_id: &str, attempt: u32) -> String {
    let safe: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("labj-{safe}-{trial_id}-a{attempt}")
}
