//! The run's inputs digest: everything that decides what a trial does, split into named
//! components so `continue` can say what changed.
//!
//! | component | covers |
//! |---|---|
//! | `experiment` | the resolved experiment document (canonical JSON) |
//! | `dataset` | every task row the run uses: id, task object, workspace files |
//! | `task_limits` | each task's limits (steps, tokens, tool calls, seconds) |
//! | `mounts` | each task's mount references |
//! | `dependency_files` | content of every `runtime.dependencies.files` source (variants' `runtime_overrides` included) |
//! | `agent_programs` | content of the files the agent commands (every variant) name inside the project root |
//! | `grader_program` | the same for the grader or benchmark adapter |
//!
//! A command names a file when one of its arguments (or the value after `=` in a
//! `--flag=value` argument) is a path to a regular file inside the project root
//! (relative to the experiment directory, or absolute as the loader resolves it):
//! `./agent.sh`, `python3 agent.py`, `node --config=cfg.json run.js`.
//! Programs found on `PATH` are not covered: they belong to the machine, not the
//! experiment. `run_created.options` journals the components (`inputs`) and their
//! combined digest (`inputs_digest`); an accepted change is journaled in
//! `session_started.inputs_changed`.

use crate::experiment::Experiment;
use journal::event::InputsChanged;
use std::collections::BTreeMap;
use std::path::Path;

/// Component name → blake3 hex digest.
pub type Components = BTreeMap<String, String>;

/// The components of `exp`'s inputs, reading the files they cover.
pub fn components(exp: &Experiment) -> Components {
    let mut out = Components::new();
    out.insert("experiment".into(), exp.digest().to_string());
    let mut dataset = blake3::Hasher::new();
    let mut limits = blake3::Hasher::new();
    let mut mounts = blake3::Hasher::new();
    for t in exp.tasks() {
        for h in [&mut dataset, &mut limits, &mut mounts] {
            field(h, t.id.as_bytes());
        }
        field(&mut dataset, t.payload_json().as_bytes());
        field(&mut dataset, &json(&t.workspace_files));
        field(&mut limits, &json(&t.limits));
        field(&mut mounts, &json(&t.mount_references));
    }
    out.insert("dataset".into(), hex(dataset));
    out.insert("task_limits".into(), hex(limits));
    out.insert("mounts".into(), hex(mounts));
    let dir = exp.dir();
    let mut deps = blake3::Hasher::new();
    // A variant's runtime_overrides may name files of its own; variants without
    // overrides add nothing (so the digest of an experiment without them is unchanged).
    let own = exp
        .variants()
        .iter()
        .filter_map(|v| v.runtime.as_ref())
        .flat_map(|r| r.dependency_files.iter());
    for d in exp.runtime().dependency_files.iter().chain(own) {
        field(&mut deps, d.source.as_bytes());
        field(&mut deps, d.dest.as_bytes());
        field(&mut deps, file_digest(&dir.join(&d.source)).as_bytes());
    }
    out.insert("dependency_files".into(), hex(deps));
    let mut agents = blake3::Hasher::new();
    if !exp.tasks().is_empty() {
        for v in 0..exp.variants().len() {
            programs(
                &mut agents,
                exp.root(),
                dir,
                &exp.effective_agent(v, 0).command,
            );
        }
    }
    out.insert("agent_programs".into(), hex(agents));
    let mut grader = blake3::Hasher::new();
    if let Some(g) = exp.grader() {
        programs(&mut grader, exp.root(), dir, &g.command);
    }
    out.insert("grader_program".into(), hex(grader));
    out
}

/// The combined digest of `components` (what `run_created.options.inputs_digest` holds).
pub fn combined(components: &Components) -> String {
    let mut h = blake3::Hasher::new();
    for (k, v) in components {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    hex(h)
}

/// The digest journals written before components were recorded hold: the resolved
/// experiment and every task row. Kept so their runs can still be continued.
pub fn legacy_digest(exp: &Experiment) -> String {
    let mut h = blake3::Hasher::new();
    h.update(exp.digest().as_bytes());
    for t in exp.tasks() {
        h.update(t.id.as_bytes());
        h.update(t.payload_json().as_bytes());
        h.update(&serde_json::to_vec(&t.workspace_files).unwrap_or_default());
    }
    h.finalize().to_hex().to_string()
}

/// Names of the components whose digest differs (or that only one side has).
pub fn changed(was: &Components, now: &Components) -> Vec<String> {
    let mut names: Vec<String> = was
        .keys()
        .chain(now.keys())
        .filter(|k| was.get(*k) != now.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The record of a change accepted with `--allow-changed-inputs`.
pub fn accepted_change(was: &Components, now: &Components) -> InputsChanged {
    InputsChanged {
        changed: changed(was, now),
        inputs: now.clone(),
        inputs_digest: combined(now),
    }
}

/// Hashes every file `argv` names inside the project root `root`: relative arguments
/// (resolved against the experiment directory `dir`) and absolute ones (commands are
/// resolved against the project root when the experiment loads). Files are keyed by
/// their path relative to the root, so moving the project changes nothing.
fn programs(h: &mut blake3::Hasher, root: &Path, dir: &Path, argv: &[String]) {
    let canon_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    for arg in argv {
        let candidate = arg.split_once('=').map_or(arg.as_str(), |(_, v)| v);
        if candidate.is_empty() {
            continue;
        }
        let Ok(canon) = std::fs::canonicalize(dir.join(candidate)) else {
            continue;
        };
        let Ok(name) = canon.strip_prefix(&canon_root) else {
            continue;
        };
        if !canon.is_file() {
            continue;
        }
        field(h, name.to_string_lossy().as_bytes());
        field(h, file_digest(&canon).as_bytes());
    }
}

fn file_digest(path: &Path) -> String {
    match std::fs::File::open(path) {
        Ok(mut f) => {
            let mut h = blake3::Hasher::new();
            match std::io::copy(&mut f, &mut h) {
                Ok(_) => hex(h),
                Err(e) => format!("unreadable: {}", e.kind()),
            }
        }
        Err(e) => format!("unreadable: {}", e.kind()),
    }
}

/// Length-prefixed, so no two different field sequences hash alike.
fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn hex(h: blake3::Hasher) -> String {
    h.finalize().to_hex().to_string()
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
