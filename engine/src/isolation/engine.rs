//! The container engine, driven through its CLI. `docker` and `podman` take the same
//! flags for everything labj needs, so there is one code path; site-specific runtime
//! flags (e.g. `--runtime runc`, `--ulimit …`) come from `LABJ_CONTAINER_ARGS`.

use super::EngineSpec;
use std::path::Path;
use std::process::{Command, Stdio};

/// Chooses the engine when `--container-engine` is not given.
pub const ENGINE_ENV: &str = "LABJ_CONTAINER_ENGINE";
/// Extra arguments appended to every `run` (split on whitespace).
pub const ENGINE_ARGS_ENV: &str = "LABJ_CONTAINER_ARGS";

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no container engine found: neither podman nor docker is on PATH (install one, or pass --container-engine / set {ENGINE_ENV})")]
    NotFound,
    #[error("container engine `{0}` not found on PATH")]
    Missing(String),
    #[error("`{command}` failed: {message}")]
    Failed { command: String, message: String },
}

/// A resolved engine: [`EngineSpec`] plus the operations labj performs with it.
#[derive(Debug, Clone)]
pub struct ContainerEngine {
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
    pub fn choose(explicit: Option<&str>) -> Result<ContainerEngine, EngineError> {
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

    pub fn from_spec(spec: &EngineSpec) -> ContainerEngine {
        ContainerEngine { spec: spec.clone() }
    }

    fn out(&self, args: &[&str]) -> Result<String, EngineError> {
        command_output(Path::new(&self.spec.program), args)
    }

    /// The local image id (`sha256:…`) of `image`; pulls it once when it is missing.
    pub fn image_id(&self, image: &str) -> Result<String, EngineError> {
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

    pub fn pause(&self, name: &str) -> Result<(), EngineError> {
        self.out(&["pause", name]).map(|_| ())
    }

    pub fn unpause(&self, name: &str) -> Result<(), EngineError> {
        self.out(&["unpause", name]).map(|_| ())
    }

    /// Kills and removes the container (idempotent: a missing container is fine).
    pub fn remove(&self, name: &str) -> Result<(), EngineError> {
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

    /// `(OOMKilled, exit code)` of a stopped container, when the engine knows it.
    pub fn exit_state(&self, name: &str) -> Option<(bool, i32)> {
        let s = self
            .out(&[
                "inspect",
                "--format",
                "{{.State.OOMKilled}} {{.State.ExitCode}}",
                name,
            ])
            .ok()?;
        let mut it = s.split_whitespace();
        let oom = it.next()? == "true";
        let code = it.next()?.parse().ok()?;
        Some((oom, code))
    }

    /// Names of all containers (running or not) carrying `label=value`.
    pub fn names_with_label(&self, label: &str, value: &str) -> Result<Vec<String>, EngineError> {
        let filter = format!("label={label}={value}");
        let s = self.out(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])?;
        Ok(s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }
}

fn normalize_id(id: &str) -> String {
    let id = id.trim();
    if id.starts_with("sha256:") {
        id.to_string()
    } else {
        format!("sha256:{id}")
    }
}

/// Labels every labj container carries, so `continue` can find a crashed session's.
pub const LABEL_RUN: &str = "labj.run_id";
pub const LABEL_TRIAL: &str = "labj.trial_id";

/// A container name unique per run, trial and attempt (engines cap names at 253+ chars;
/// run ids are uuids).
pub fn container_name(run_id: &str, trial_id: &str, attempt: u32) -> String {
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
