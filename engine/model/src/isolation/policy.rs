//! The isolation fields of an experiment, read from the validated document and checked:
//! `runtime.policy.sandbox`, `runtime.policy.network`, images (experiment, variant,
//! task), `runtime.agent.env_from_host`, `runtime.dependencies.file_staging` / `assets`
//! and the tasks' `mount_references`. Whatever cannot be honoured in the chosen mode is
//! refused here with the field named (rule: a field labj accepts is enforced or refused).

use super::{IsolationMode, NetworkMode, Resources};
use crate::error::ExperimentError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// In-container root of the agent contract (same paths as the original runner).
pub const CONTRACT_ROOT: &str = "/agentlab";

/// A file copied from the host into the trial before the agent starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Absolute host path.
    pub source: PathBuf,
    /// `deps` or `workspace`: which trial directory it lands in.
    pub area: StageArea,
    /// Path relative to that area.
    pub dest: String,
    /// The staged copy is made read-only before the agent starts.
    pub read_only: bool,
    /// Missing optional sources are skipped; missing required ones were refused earlier.
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
/// Which trial directory a staged file lands in.
pub enum StageArea {
    /// The trial's `deps/` directory (`/agentlab/deps` in a container).
    Deps,
    /// The agent's workspace, re-created like the task's own files before each attempt.
    Workspace,
}

/// A host directory or file made visible at `target` inside the sandbox/container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The host path.
    pub source: PathBuf,
    /// The path inside the sandbox or container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// The experiment-level isolation settings (images per variant, task images are read
/// from the tasks when a trial is built).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsolationPolicy {
    /// `runtime.policy.sandbox.mode`; `local` with network none, `root_read_only` or
    /// resources becomes [`IsolationMode::Sandbox`].
    pub mode: IsolationMode,
    /// `runtime.policy.network.mode`.
    pub network: NetworkMode,
    /// `runtime.policy.sandbox.root_read_only`.
    pub root_read_only: bool,
    /// `runtime.policy.sandbox.run_as_user` (refused outside container mode).
    pub run_as_user: Option<String>,
    pub(crate) no_new_privileges: bool,
    pub(crate) drop_all_caps: bool,
    /// `runtime.policy.sandbox.resources`.
    pub resources: Resources,
    /// `runtime.agent.image` / `runtime.policy.sandbox.image`.
    pub(crate) image: Option<String>,
    /// Per variant (baseline first): `image`, `runtime.agent.image` or
    /// `runtime_overrides.agent.image` of the variant.
    pub(crate) variant_images: Vec<Option<String>>,
    /// `runtime.agent.env_from_host`: the host variables an agent with a cleared
    /// environment still gets; `None` when the experiment does not set it.
    pub env_from_host: Option<Vec<String>>,
    pub(crate) file_staging: Vec<StagedFile>,
    /// `runtime.dependencies.assets`.
    pub(crate) assets: Vec<Mount>,
    /// Whether `runtime.policy.sandbox` was written at all.
    pub(crate) sandbox_declared: bool,
}

fn invalid(path: &Path, pointer: impl Into<String>, msg: impl Into<String>) -> ExperimentError {
    ExperimentError::invalid(path, pointer, msg)
}

fn str_at<'a>(doc: &'a Value, pointer: &str) -> Option<&'a str> {
    doc.pointer(pointer).and_then(Value::as_str)
}

impl IsolationPolicy {
    /// Reads and checks the isolation fields of a schema-valid document. `dir` is the
    /// experiment's directory (relative host paths resolve there); `variants` is the
    /// number of variants (baseline included).
    pub(crate) fn parse(
        path: &Path,
        dir: &Path,
        doc: &Value,
        variants: usize,
    ) -> Result<IsolationPolicy, ExperimentError> {
        let sandbox = doc.pointer("/runtime/policy/sandbox");
        let mode = match str_at(doc, "/runtime/policy/sandbox/mode") {
            Some("container") => IsolationMode::Container,
            // `local` with nothing to enforce is a plain host process; with any of
            // network none, root_read_only or resources it becomes the bubblewrap sandbox
            // (decided below, once those are read).
            _ => IsolationMode::Local,
        };
        let network = match str_at(doc, "/runtime/policy/network/mode") {
            None | Some("full") => NetworkMode::Full,
            Some("none") => NetworkMode::None,
            Some(other) => {
                return Err(invalid(
                    path,
                    "/runtime/policy/network/mode",
                    format!(
                        "network mode `{other}` cannot be enforced by labj (no egress allow-list); use `none` or `full`"
                    ),
                ))
            }
        };
        if let Some(hosts) = doc
            .pointer("/runtime/policy/network/allowed_hosts")
            .and_then(Value::as_array)
        {
            if !hosts.is_empty() {
                return Err(invalid(
                    path,
                    "/runtime/policy/network/allowed_hosts",
                    "allowed_hosts cannot be enforced by labj (no egress allow-list); remove it (network `none` or `full`)",
                ));
            }
        }
        let u64_at = |p: &str| doc.pointer(p).and_then(Value::as_u64);
        let resources = Resources {
            cpu_count: u64_at("/runtime/policy/sandbox/resources/cpu_count"),
            memory_mb: u64_at("/runtime/policy/sandbox/resources/memory_mb"),
            pids: u64_at("/runtime/policy/sandbox/resources/pids"),
        };
        let flag =
            |p: &str, default: bool| doc.pointer(p).and_then(Value::as_bool).unwrap_or(default);
        let root_read_only = flag("/runtime/policy/sandbox/root_read_only", false);
        let mut policy = IsolationPolicy {
            mode,
            network,
            root_read_only,
            run_as_user: str_at(doc, "/runtime/policy/sandbox/run_as_user").map(String::from),
            no_new_privileges: flag("/runtime/policy/sandbox/hardening/no_new_privileges", true),
            drop_all_caps: flag("/runtime/policy/sandbox/hardening/drop_all_caps", true),
            resources,
            image: experiment_image(path, doc)?,
            variant_images: variant_images(doc, variants),
            env_from_host: doc
                .pointer("/runtime/agent/env_from_host")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                }),
            file_staging: file_staging(path, dir, doc)?,
            assets: assets(path, dir, doc)?,
            sandbox_declared: sandbox.is_some(),
        };
        if policy.mode == IsolationMode::Local
            && (policy.network == NetworkMode::None
                || policy.root_read_only
                || !policy.resources.is_empty())
        {
            policy.mode = IsolationMode::Sandbox;
        }
        policy.check_mode(path)?;
        Ok(policy)
    }

    /// Settings that only the container (or only a sandbox) can honour.
    fn check_mode(&self, path: &Path) -> Result<(), ExperimentError> {
        let any_image = self.image.is_some() || self.variant_images.iter().any(|i| i.is_some());
        if self.mode != IsolationMode::Container && any_image {
            let at = if self.image.is_some() {
                "/runtime/agent/image"
            } else {
                "/variant_plan"
            };
            return Err(invalid(
                path,
                at,
                "an image is set but runtime.policy.sandbox.mode is not `container`; \
                 set sandbox.mode: container (or remove the image) — labj never runs an \
                 image's agent on the host",
            ));
        }
        if self.mode != IsolationMode::Container {
            if self.run_as_user.is_some() {
                return Err(invalid(
                    path,
                    "/runtime/policy/sandbox/run_as_user",
                    "run_as_user is enforced only in containers (sandbox.mode: container)",
                ));
            }
            if self.resources.pids.is_some() {
                return Err(invalid(
                    path,
                    "/runtime/policy/sandbox/resources/pids",
                    "a pids limit is enforced only in containers (sandbox.mode: container); \
                     the local sandbox has no per-trial process limit",
                ));
            }
        }
        for (i, a) in self.assets.iter().enumerate() {
            check_mount_target(&a.target, self.mode).map_err(|why| {
                invalid(
                    path,
                    format!("/runtime/dependencies/assets/{i}/mount_path"),
                    format!("mount_path `{}` {why}", a.target),
                )
            })?;
        }
        if self.mode == IsolationMode::Local && !self.assets.is_empty() {
            return Err(invalid(
                path,
                "/runtime/dependencies/assets",
                "assets are mounted only in a sandbox or container; a plain local trial \
                 cannot mount them (set runtime.policy.sandbox.mode: container, or \
                 network none / root_read_only for the local sandbox)",
            ));
        }
        Ok(())
    }

    /// Mount references of one task, resolved (`sha256:<hex>` → the experiment's
    /// `.lab/dataset_packs/sha256/<hex>`, anything else → a path relative to the
    /// experiment). `where_` names the dataset row in errors.
    pub fn task_mounts(
        &self,
        path: &Path,
        dir: &Path,
        refs: &[MountReference],
        where_: &str,
    ) -> Result<Vec<Mount>, ExperimentError> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        if self.mode == IsolationMode::Local {
            return Err(invalid(
                path,
                format!("{where_}/mount_references"),
                "mount_references are mounted only in a sandbox or container; set \
                 runtime.policy.sandbox.mode: container (or network none / root_read_only \
                 for the local sandbox)",
            ));
        }
        let mut out = Vec::new();
        for (i, m) in refs.iter().enumerate() {
            let source = match m.dataset_pack_ref.strip_prefix("sha256:") {
                Some(hex) => dir.join(".lab/dataset_packs/sha256").join(hex),
                None => dir.join(&m.dataset_pack_ref),
            };
            if !source.exists() {
                return Err(invalid(
                    path,
                    format!("{where_}/mount_references/{i}/dataset_pack_ref"),
                    format!(
                        "dataset pack `{}` not found (looked for {})",
                        m.dataset_pack_ref,
                        source.display()
                    ),
                ));
            }
            check_mount_target(&m.mount_path, self.mode).map_err(|why| {
                invalid(
                    path,
                    format!("{where_}/mount_references/{i}/mount_path"),
                    format!("mount_path `{}` {why}", m.mount_path),
                )
            })?;
            out.push(Mount {
                source,
                target: m.mount_path.clone(),
                read_only: m.read_only,
            });
        }
        Ok(out)
    }
}

fn experiment_image(path: &Path, doc: &Value) -> Result<Option<String>, ExperimentError> {
    let a = str_at(doc, "/runtime/agent/image");
    let b = str_at(doc, "/runtime/policy/sandbox/image");
    match (a, b) {
        (Some(a), Some(b)) if a != b => Err(invalid(
            path,
            "/runtime/policy/sandbox/image",
            format!(
                "runtime.agent.image `{a}` and runtime.policy.sandbox.image `{b}` disagree; set one"
            ),
        )),
        (a, b) => Ok(a.or(b).map(String::from)),
    }
}

fn variant_images(doc: &Value, variants: usize) -> Vec<Option<String>> {
    let one = |v: Option<&Value>| {
        let v = v?;
        v.get("image")
            .or_else(|| v.pointer("/runtime/agent/image"))
            .or_else(|| v.pointer("/runtime_overrides/agent/image"))
            .and_then(Value::as_str)
            .map(String::from)
    };
    let mut out = vec![one(doc.get("baseline"))];
    for i in 0..variants.saturating_sub(1) {
        out.push(one(doc.pointer(&format!("/variant_plan/{i}"))));
    }
    out
}

fn file_staging(path: &Path, dir: &Path, doc: &Value) -> Result<Vec<StagedFile>, ExperimentError> {
    let Some(items) = doc
        .pointer("/runtime/dependencies/file_staging")
        .and_then(Value::as_array)
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("/runtime/dependencies/file_staging/{i}/{f}");
        let src = item["source_from_host"].as_str().unwrap_or_default();
        let dest = item["destination_path"].as_str().unwrap_or_default();
        let required = item
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let read_only = item
            .get("read_only")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let source = dir.join(src);
        if required && !source.is_file() {
            return Err(invalid(
                path,
                at("source_from_host"),
                format!(
                    "file `{src}` not found (looked for {}); sources are relative to the experiment file (set required: false to skip a missing one)",
                    source.display()
                ),
            ));
        }
        let (area, rel) = if let Some(r) = dest.strip_prefix("/agentlab/deps/") {
            (StageArea::Deps, r)
        } else if let Some(r) = dest.strip_prefix("/agentlab/workspace/") {
            (StageArea::Workspace, r)
        } else if dest.starts_with('/') {
            return Err(invalid(
                path,
                at("destination_path"),
                format!(
                    "destination `{dest}` must be under /agentlab/deps/ or /agentlab/workspace/ (or relative to /agentlab/deps)"
                ),
            ));
        } else {
            (StageArea::Deps, dest)
        };
        crate::safe_fs::check_relative_path(rel).map_err(|why| {
            invalid(
                path,
                at("destination_path"),
                format!("destination `{dest}` {why}"),
            )
        })?;
        out.push(StagedFile {
            source,
            area,
            dest: rel.to_string(),
            read_only,
            required,
        });
    }
    Ok(out)
}

fn assets(path: &Path, dir: &Path, doc: &Value) -> Result<Vec<Mount>, ExperimentError> {
    let Some(items) = doc
        .pointer("/runtime/dependencies/assets")
        .and_then(Value::as_array)
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("/runtime/dependencies/assets/{i}/{f}");
        let src = item["source_from_host"].as_str().unwrap_or_default();
        let target = item["mount_path"].as_str().unwrap_or_default();
        let required = item
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let source = dir.join(src);
        if !source.exists() {
            if required {
                return Err(invalid(
                    path,
                    at("source_from_host"),
                    format!("asset `{src}` not found (looked for {})", source.display()),
                ));
            }
            continue;
        }
        if !target.starts_with('/') {
            return Err(invalid(
                path,
                at("mount_path"),
                format!("mount_path `{target}` must be an absolute path"),
            ));
        }
        out.push(Mount {
            source,
            target: target.to_string(),
            read_only: item
                .get("read_only")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        });
    }
    Ok(out)
}

/// A mount target must be absolute, without `..`, and not shadow the contract's own
/// directories. In the sandbox (host paths) only targets inside the trial's workspace
/// or deps (`/agentlab/workspace/…`, `/agentlab/deps/…`) can be honoured: anything else
/// would have to be created on the host's own filesystem.
fn check_mount_target(target: &str, mode: IsolationMode) -> Result<(), &'static str> {
    let p = Path::new(target);
    if !p.is_absolute() {
        return Err("must be an absolute path");
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("must not contain `..`");
    }
    let inside = |d: &str| {
        p.starts_with(Path::new(CONTRACT_ROOT).join(d)) && p != Path::new(CONTRACT_ROOT).join(d)
    };
    let in_area = inside("workspace") || inside("deps");
    if p == Path::new("/") || (p.starts_with(CONTRACT_ROOT) && !in_area) {
        return Err("must not be / nor one of the contract's own directories (/agentlab, /agentlab/in, out, state, workspace, deps); a path inside /agentlab/workspace/ or /agentlab/deps/ is fine");
    }
    if mode == IsolationMode::Sandbox && !in_area {
        return Err("cannot be honoured by the local sandbox, which mounts only inside the trial (/agentlab/workspace/… or /agentlab/deps/…); use sandbox.mode: container");
    }
    Ok(())
}

/// Where a mount target lands on the host in the sandbox: `/agentlab/workspace/x` →
/// `<workspace>/x`, `/agentlab/deps/x` → `<trial>/deps/x` (checked by `check_mount_target`).
pub fn sandbox_target(target: &str, workspace: &Path, deps: &Path) -> Option<PathBuf> {
    let p = Path::new(target);
    if let Ok(rest) = p.strip_prefix(Path::new(CONTRACT_ROOT).join("workspace")) {
        return Some(workspace.join(rest));
    }
    if let Ok(rest) = p.strip_prefix(Path::new(CONTRACT_ROOT).join("deps")) {
        return Some(deps.join(rest));
    }
    None
}

/// A dataset pack the task expects mounted at `mount_path` (sandbox and container trials
/// mount it; plain local trials refuse it, see `exec::isolation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountReference {
    pub(crate) dataset_pack_ref: String,
    pub(crate) mount_path: String,
    #[serde(default)]
    pub(crate) read_only: bool,
}
