//! The original runner's other experiment formats, read into the resolved-experiment
//! shape labj runs (docs/agentlab-compat.md, "Version 1.0").
//!
//! * **Version `1.0`** (the clean-harness contract of the original's seed commit, its
//!   `lab init` profiles and `examples/clean_harness`): one image runs a harness as
//!   `runtime.command`, then the variant's `args`, then the task file and the result
//!   file as two positional paths (`/in/task.json /out/result.json`). labj validates it
//!   against `schemas/experiment_v1_0.jsonschema`, then writes the same meaning as a
//!   v0.5 document: a container experiment with the original's hardening (read-only
//!   root, no new privileges, all capabilities dropped), `network` (default `none`),
//!   `resources`, `timeout_ms`; per variant its `args`, `env` and `image`. The trials
//!   see the original's paths: [`SourceFormat::CleanHarnessV1`] mounts the task at
//!   `/in/task.json` and the attempt's output directory at `/out`, and the container
//!   keeps its image's working directory.

use super::ExperimentError;
pub use crate::contract::SourceFormat;
use crate::schemas::{self, SchemaError};
use serde_json::{json, Map, Value};
use std::path::Path;

impl SourceFormat {
    /// Where in the file as written a pointer of the document labj runs is: errors
    /// about the translated document name the field the user wrote.
    pub(crate) fn source_pointer(&self, pointer: &str) -> String {
        const V1: &[(&str, &str, bool)] = &[
            ("/runtime/agent/image", "/runtime/image", false),
            ("/runtime/policy/sandbox/image", "/runtime/image", false),
            ("/runtime/policy/sandbox/mode", "/runtime/image", false),
            (
                "/runtime/policy/sandbox/resources",
                "/runtime/resources",
                false,
            ),
            ("/runtime/policy/network", "/runtime/network", false),
            ("/runtime/agent/command", "/runtime/command", true),
            ("/runtime/agent/timeout_ms", "/runtime/timeout_ms", false),
            ("/baseline/runtime/agent", "/baseline", true),
            ("/design/random_seed", "/design/seed", false),
        ];
        const CURRENT: &[(&str, &str, bool)] = &[
            (
                "/runtime/agent/image",
                "/runtime/agent_runtime/image",
                false,
            ),
            (
                "/runtime/policy/sandbox/image",
                "/runtime/agent_runtime/image",
                false,
            ),
            (
                "/runtime/policy/sandbox/mode",
                "/runtime/agent_runtime/image",
                false,
            ),
            (
                "/runtime/policy/network",
                "/runtime/agent_runtime/network",
                false,
            ),
            ("/runtime/policy/timeout_ms", "/policy/timeout_ms", false),
            (
                "/runtime/dependencies/assets",
                "/runtime/agent_runtime/artifact",
                false,
            ),
            ("/runtime/agent", "/runtime/agent_runtime", true),
        ];
        let table = match self {
            SourceFormat::Resolved => return pointer.to_string(),
            SourceFormat::CleanHarnessV1 => V1,
            SourceFormat::Current => CURRENT,
        };
        for (from, to, keep_rest) in table {
            if let Some(rest) = pointer.strip_prefix(from) {
                if rest.is_empty() || rest.starts_with('/') {
                    return if *keep_rest {
                        format!("{to}{rest}")
                    } else {
                        to.to_string()
                    };
                }
            }
        }
        // A 1.0 variant's args/env: /variant_plan/N/runtime/agent/args → /variant_plan/N/args.
        if *self == SourceFormat::CleanHarnessV1 {
            if let Some((head, rest)) = pointer.split_once("/runtime/agent") {
                if head.starts_with("/variant_plan/") {
                    return format!("{head}{rest}");
                }
            }
        }
        pointer.to_string()
    }
}

/// In-container path of the task document in the clean-harness contract (the original's
/// `HARNESS_*` paths).
pub const CLEAN_TASK_PATH: &str = "/in/task.json";
/// In-container path the clean-harness agent writes its result to.
pub const CLEAN_RESULT_PATH: &str = "/out/result.json";

/// Whether `doc` (already unwrapped) declares version 1.0 (`"1.0"` or YAML `1.0`).
pub(crate) fn is_clean_harness_v1(doc: &Value) -> bool {
    match doc.get("version") {
        Some(Value::String(s)) => s.trim() == "1.0",
        Some(Value::Number(n)) => n.as_f64() == Some(1.0),
        _ => false,
    }
}

/// Validates a version 1.0 document and writes it as the v0.5 document labj runs.
pub(crate) fn clean_harness_v1(path: &Path, mut doc: Value) -> Result<Value, ExperimentError> {
    doc["version"] = Value::String("1.0".into());
    if let Err(e) = schemas::validate("experiment_v1_0", &doc) {
        return Err(match e {
            SchemaError::Invalid { violations, .. } => ExperimentError::Schema {
                path: path.to_path_buf(),
                schema: "experiment_v1_0".into(),
                violations,
            },
            other => ExperimentError::File {
                path: path.to_path_buf(),
                message: other.to_string(),
            },
        });
    }
    let rt = &doc["runtime"];
    let variant = |v: &Value| -> Value {
        let mut out = Map::new();
        out.insert("variant_id".into(), v["variant_id"].clone());
        out.insert("bindings".into(), json!({}));
        if let Some(image) = v.get("image") {
            out.insert("image".into(), image.clone());
        }
        let mut agent = Map::new();
        for key in ["args", "env"] {
            if let Some(x) = v.get(key) {
                agent.insert(key.into(), x.clone());
            }
        }
        if !agent.is_empty() {
            out.insert("runtime".into(), json!({ "agent": agent }));
        }
        Value::Object(out)
    };
    let mut agent = Map::new();
    agent.insert("command".into(), rt["command"].clone());
    // `{path}` appends the bare path: the harness reads two positional arguments.
    agent.insert(
        "io".into(),
        json!({"input_arg": "{path}", "output_arg": "{path}"}),
    );
    if let Some(ms) = rt.get("timeout_ms") {
        // The original's only timeout for these experiments (no task policy applies).
        agent.insert("timeout_ms".into(), ms.clone());
    }
    let mut sandbox = Map::new();
    sandbox.insert("mode".into(), json!("container"));
    sandbox.insert("image".into(), rt["image"].clone());
    // The original always ran these containers read-only, without new privileges and
    // with every capability dropped.
    sandbox.insert("root_read_only".into(), json!(true));
    sandbox.insert(
        "hardening".into(),
        json!({"no_new_privileges": true, "drop_all_caps": true}),
    );
    if let Some(r) = rt.get("resources") {
        let mut res = Map::new();
        if let Some(c) = r.get("cpus") {
            res.insert("cpu_count".into(), c.clone());
        }
        if let Some(m) = r.get("memory_mb") {
            res.insert("memory_mb".into(), m.clone());
        }
        if !res.is_empty() {
            sandbox.insert("resources".into(), Value::Object(res));
        }
    }
    let network = rt.get("network").cloned().unwrap_or(json!("none"));
    let mut design = Map::new();
    design.insert("replications".into(), doc["design"]["replications"].clone());
    if let Some(seed) = doc["design"].get("seed") {
        design.insert("random_seed".into(), seed.clone());
    }
    if let Some(c) = doc["design"].get("comparison") {
        design.insert("comparison".into(), c.clone());
    }
    let plan: Vec<Value> = doc
        .get("variant_plan")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(variant).collect())
        .unwrap_or_default();
    Ok(json!({
        "version": "0.5",
        "experiment": doc["experiment"],
        "dataset": doc["dataset"],
        "design": design,
        "baseline": variant(&doc["baseline"]),
        "variant_plan": plan,
        "runtime": {
            "agent": agent,
            "policy": {"network": {"mode": network}, "sandbox": sandbox},
        },
    }))
}

/// Where the original mounts the agent artifact, and the PATH it gives the agent.
pub(crate) const ARTIFACT_MOUNT: &str = "/opt/agent";
pub(crate) const ARTIFACT_PATH_ENV: &str =
    "/opt/agent/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether `doc` is written in the original's current format (`runtime.agent_runtime`).
pub(crate) fn is_current(doc: &Value) -> bool {
    doc.pointer("/runtime/agent_runtime").is_some()
}

/// The parts of a current-format document labj keeps outside the resolved document.
#[derive(Debug, Default)]
pub(crate) struct CurrentExtras {
    pub(crate) secret_files: Vec<crate::trial::SecretFileDecl>,
}

/// Writes a current-format document as the v0.5 document labj runs: the agent runtime
/// becomes `runtime.agent` in a container (`image`, `command`, `env`; `$NAME` kept, it
/// resolves per trial), its `network` the run's network, its `artifact` (a directory,
/// or a `.tar`/`.tar.gz`/`.tgz` bundle unpacked once under
/// `<experiment dir>/.lab/agent_artifacts/<digest>/`) mounted read-only at `/opt/agent`
/// with `/opt/agent/bin` first on PATH; `policy.timeout_ms` the trial timeout.
pub(crate) fn current(
    path: &Path,
    dir: &Path,
    mut doc: Value,
) -> Result<(Value, CurrentExtras), ExperimentError> {
    let bad = |at: &str, why: String| ExperimentError::invalid(path, at, why);
    let Some(obj) = doc.as_object_mut() else {
        return Err(bad("/", "an experiment must be a mapping".into()));
    };
    let policy = obj.remove("policy").unwrap_or(json!({}));
    let mut runtime = obj.remove("runtime").unwrap_or(json!({}));
    let Some(ar) = runtime
        .as_object_mut()
        .and_then(|r| r.remove("agent_runtime"))
    else {
        return Err(bad("/runtime/agent_runtime", "must be a mapping".into()));
    };
    let Some(ar) = ar.as_object().cloned() else {
        return Err(bad(
            "/runtime/agent_runtime",
            "must be a mapping {artifact, image, command, env, network}".into(),
        ));
    };
    const AR_KEYS: [&str; 8] = [
        "artifact",
        "image",
        "command",
        "env",
        "network",
        "integration_level",
        "secret_files",
        "artifact_digest",
    ];
    if let Some(k) = ar.keys().find(|k| !AR_KEYS.contains(&k.as_str())) {
        let hint = super::fields::suggestion(k, &AR_KEYS)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(bad(
            &format!("/runtime/agent_runtime/{k}"),
            format!(
                "unknown field `{k}`{hint} (labj reads {})",
                AR_KEYS.join(", ")
            ),
        ));
    }
    let mut extras = CurrentExtras::default();
    let mut agent = Map::new();
    let Some(command) = ar.get("command").cloned() else {
        return Err(bad(
            "/runtime/agent_runtime/command",
            "is required: the agent's command line inside its container".into(),
        ));
    };
    agent.insert("command".into(), command);
    let mut env = ar.get("env").cloned().unwrap_or(json!({}));
    if let Some(i) = ar.get("integration_level") {
        agent.insert("integration_level".into(), i.clone());
    }
    let mut sandbox = Map::new();
    sandbox.insert("mode".into(), json!("container"));
    match ar.get("image").and_then(Value::as_str) {
        // `task_image`: the agent runs in each task row's image.
        Some("task_image") | None => {}
        Some(img) => {
            sandbox.insert("image".into(), json!(img));
        }
    }
    let network = ar.get("network").and_then(Value::as_str).unwrap_or("none");
    if !matches!(network, "none" | "full") {
        return Err(bad(
            "/runtime/agent_runtime/network",
            format!(
                "network `{network}` needs an egress proxy labj does not run; labj enforces \
                 none (no network) or full: write one of them"
            ),
        ));
    }
    if let Some(tsn) = policy
        .pointer("/task_sandbox/network")
        .and_then(Value::as_str)
        .filter(|n| *n != network)
    {
        return Err(bad(
            "/policy/task_sandbox/network",
            format!(
                "labj runs the agent in the task's container, so the task sandbox and the \
                 agent share one network: policy.task_sandbox.network `{tsn}` differs from \
                 runtime.agent_runtime.network `{network}`; make them equal"
            ),
        ));
    }
    if policy
        .pointer("/task_sandbox/allowed_hosts")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Err(bad(
            "/policy/task_sandbox/allowed_hosts",
            "an allow-list of hosts needs an egress proxy labj does not run; use network none or full with allowed_hosts: []".into(),
        ));
    }
    if let Some(p) = policy.as_object() {
        for k in p.keys() {
            if !matches!(k.as_str(), "timeout_ms" | "task_sandbox") {
                return Err(bad(
                    &format!("/policy/{k}"),
                    format!("unknown field `{k}` (labj reads policy.timeout_ms and policy.task_sandbox)"),
                ));
            }
        }
    }
    if let Some(ts) = policy.get("task_sandbox").and_then(Value::as_object) {
        for k in ts.keys() {
            if !matches!(k.as_str(), "network" | "allowed_hosts" | "profile") {
                return Err(bad(
                    &format!("/policy/task_sandbox/{k}"),
                    format!("unknown field `{k}` (labj reads network, allowed_hosts and the label profile)"),
                ));
            }
        }
    }
    let mut assets = Vec::new();
    if let Some(a) = ar.get("artifact") {
        let Some(a) = a.as_str().filter(|a| !a.trim().is_empty()) else {
            return Err(bad(
                "/runtime/agent_runtime/artifact",
                "must be a path: the agent bundle (a directory or a .tar.gz) mounted at /opt/agent"
                    .into(),
            ));
        };
        let source =
            artifact_dir(dir, a).map_err(|why| bad("/runtime/agent_runtime/artifact", why))?;
        assets.push(json!({
            "id": "agent_artifact",
            "source_from_host": source.to_string_lossy(),
            "mount_path": ARTIFACT_MOUNT,
            "read_only": true,
        }));
        if let Value::Object(e) = &mut env {
            e.entry("PATH").or_insert(json!(ARTIFACT_PATH_ENV));
        }
    }
    agent.insert("env".into(), env);
    if let Some(list) = ar.get("secret_files") {
        let items: Vec<Value> = list.as_array().cloned().unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            let at = format!("/runtime/agent_runtime/secret_files/{i}");
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
            let target = item
                .get("target")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if id.is_empty() || !target.starts_with('/') || target.contains("..") {
                return Err(bad(
                    &at,
                    "a secret file is {id, target}: target an absolute path in the container without `..`".into(),
                ));
            }
            extras.secret_files.push(crate::trial::SecretFileDecl {
                id: id.into(),
                target: target.into(),
            });
        }
    }
    let mut rpolicy = Map::new();
    if let Some(t) = policy.get("timeout_ms") {
        rpolicy.insert("timeout_ms".into(), t.clone());
    }
    rpolicy.insert("network".into(), json!({ "mode": network }));
    rpolicy.insert("sandbox".into(), Value::Object(sandbox));
    let mut rt = match runtime {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    rt.insert("agent".into(), Value::Object(agent));
    rt.insert("policy".into(), Value::Object(rpolicy));
    if !assets.is_empty() {
        rt.insert("dependencies".into(), json!({ "assets": assets }));
    }
    obj.insert("runtime".into(), Value::Object(rt));
    obj.insert("version".into(), json!("0.5"));
    // The dataset's row schema is read from each row (task_row_v1); labj's
    // `dataset.schema_version` label only knows the old name.
    if let Some(d) = obj.get_mut("dataset").and_then(Value::as_object_mut) {
        d.remove("schema_version");
    }
    Ok((doc, extras))
}

/// The directory mounted at /opt/agent for `artifact`: itself when a directory; a
/// tarball unpacked (once, by content digest) under `.lab/agent_artifacts/`.
fn artifact_dir(dir: &Path, artifact: &str) -> Result<std::path::PathBuf, String> {
    let p = dir.join(artifact);
    let meta = std::fs::metadata(&p).map_err(|e| {
        format!(
            "agent artifact `{artifact}` not found ({}: {e}){}",
            p.display(),
            if Path::new(artifact).is_relative() {
                "; a relative path is read from the experiment file's directory"
            } else {
                "; this machine has no such file: copy the bundle here and point artifact at it"
            }
        )
    })?;
    if meta.is_dir() {
        return Ok(p.canonicalize().unwrap_or(p));
    }
    let name = artifact.to_ascii_lowercase();
    if !(name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".tar")) {
        return Err(format!(
            "agent artifact `{artifact}` is neither a directory nor a .tar, .tar.gz or .tgz bundle"
        ));
    }
    let bytes = std::fs::read(&p).map_err(|e| format!("reading {}: {e}", p.display()))?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    let dest = dir.join(".lab/agent_artifacts").join(&digest[..32]);
    if dest.is_dir() {
        return Ok(dest);
    }
    let parent = dest.parent().expect("has a parent");
    std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    let tmp = parent.join(format!(".tmp-{}-{}", &digest[..16], std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let out = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&p)
        .arg("-C")
        .arg(&tmp)
        .arg("--no-same-owner")
        .output()
        .map_err(|e| format!("running tar to unpack {}: {e}", p.display()))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(format!(
            "unpacking {} failed: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    match std::fs::rename(&tmp, &dest) {
        Ok(()) => Ok(dest),
        // Another labj unpacked it meanwhile.
        Err(_) if dest.is_dir() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dest)
        }
        Err(e) => Err(format!(
            "moving the unpacked bundle to {}: {e}",
            dest.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artifact_bundle_is_unpacked_once_by_content_and_a_directory_is_used_as_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join("agent/bin")).unwrap();
        std::fs::write(dir.join("agent/bin/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        let ok = std::process::Command::new("tar")
            .args(["-czf", "agent.tar.gz", "-C", "agent", "."])
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(ok.success());
        let first = artifact_dir(dir, "agent.tar.gz").unwrap();
        assert!(
            first.starts_with(dir.join(".lab/agent_artifacts")),
            "{first:?}"
        );
        assert_eq!(
            std::fs::read_to_string(first.join("bin/run.sh")).unwrap(),
            "#!/bin/sh\necho hi\n"
        );
        // Unpacked once: a marker left in the cache survives the second load.
        std::fs::write(first.join("marker"), "x").unwrap();
        assert_eq!(artifact_dir(dir, "agent.tar.gz").unwrap(), first);
        assert!(first.join("marker").exists());
        // A directory is mounted as it is.
        assert_eq!(
            artifact_dir(dir, "agent").unwrap(),
            dir.join("agent").canonicalize().unwrap()
        );
        let e = artifact_dir(dir, "missing.tar.gz").unwrap_err();
        assert!(
            e.contains("`missing.tar.gz` not found") && e.contains("experiment file's directory"),
            "{e}"
        );
        std::fs::write(dir.join("agent.zip"), "PK").unwrap();
        let e = artifact_dir(dir, "agent.zip").unwrap_err();
        assert!(e.contains("neither a directory nor a .tar"), "{e}");
        std::fs::write(dir.join("broken.tar.gz"), "not a tarball").unwrap();
        let e = artifact_dir(dir, "broken.tar.gz").unwrap_err();
        assert!(e.contains("unpacking") && e.contains("failed"), "{e}");
    }

    #[test]
    fn errors_name_the_field_the_file_wrote() {
        let v1 = SourceFormat::CleanHarnessV1;
        assert_eq!(v1.source_pointer("/runtime/agent/image"), "/runtime/image");
        assert_eq!(
            v1.source_pointer("/runtime/agent/command/2"),
            "/runtime/command/2"
        );
        assert_eq!(
            v1.source_pointer("/variant_plan/1/runtime/agent/args"),
            "/variant_plan/1/args"
        );
        let cur = SourceFormat::Current;
        assert_eq!(
            cur.source_pointer("/runtime/agent/env/API_KEY"),
            "/runtime/agent_runtime/env/API_KEY"
        );
        assert_eq!(
            cur.source_pointer("/runtime/policy/timeout_ms"),
            "/policy/timeout_ms"
        );
        assert_eq!(
            cur.source_pointer("/runtime/dependencies/assets/0/source_from_host"),
            "/runtime/agent_runtime/artifact"
        );
        assert_eq!(
            SourceFormat::Resolved.source_pointer("/runtime/agent/image"),
            "/runtime/agent/image"
        );
    }
}
