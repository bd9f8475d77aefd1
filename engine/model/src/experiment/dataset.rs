//! The JSONL dataset: one task per line, either a plain task object or a
//! `task_boundary_v1` row (task + workspace files + mounts + limits).

use super::ExperimentError;
use crate::isolation::MountReference;
pub(crate) use crate::safe_fs::check_relative_path as check_relative;
use crate::schemas;
use crate::trial::WorkspaceFile;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Per-task limits of a `task_boundary_v1` row (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_steps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_total_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_tool_calls: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trial_seconds: Option<u64>,
}

impl TaskLimits {
    pub(crate) fn is_empty(&self) -> bool {
        *self == TaskLimits::default()
    }
}

/// One dataset row, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The task's id (a row without one is `task_<index>`, as the original names it);
    /// checked when the dataset is read: not empty, no control characters, unique
    /// ignoring case.
    pub id: String,
    /// The task object the agent sees (for boundary rows: the inner `task`), open data,
    /// held as its compact JSON text (what `serde_json` writes for the parsed value, so
    /// digests and trial inputs are unchanged): a parsed one-key object costs ~600 bytes
    /// (a B-tree node), the text its length, and a dataset of 100,000s of tasks stays
    /// in bounded memory. [`Task::payload`] parses it when a trial needs it.
    payload_json: Box<str>,
    pub(crate) workspace_files: Vec<WorkspaceFile>,
    /// Dataset packs the task expects mounted (a `task_boundary_v1` row's
    /// `mount_references`); refused for plain local trials.
    pub mount_references: Vec<MountReference>,
    pub(crate) limits: TaskLimits,
    /// Whether the row was a `task_boundary_v1` row.
    pub(crate) boundary: bool,
    /// The task's `policy_override.required_evidence_classes` (the original runner's
    /// per-task override), replacing `benchmark.policy.required_evidence_classes` for it.
    pub(crate) required_evidence_classes: Option<Vec<String>>,
    /// 1-based line in the dataset file (0 when parsed outside a file).
    pub line: usize,
    /// A `task_row_v1` row's execution fields (the original's current format).
    pub(crate) row: Option<RowExecution>,
}

/// The execution fields of a `task_row_v1` row: the task's image (which wins over the
/// variant's and the experiment's), the working directory inside it and the time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowExecution {
    pub(crate) image: String,
    pub(crate) workdir: String,
    pub(crate) time_limit_ms: Option<u64>,
}

impl Task {
    /// The task object the agent sees.
    pub(crate) fn payload(&self) -> Value {
        // The text was written from a `Value` at load time: it always parses.
        serde_json::from_str(&self.payload_json).unwrap_or(Value::Null)
    }

    /// The task object as compact JSON (keys in `serde_json`'s order).
    pub(crate) fn payload_json(&self) -> &str {
        &self.payload_json
    }

    /// The container image the task asks for, if any (a `task_row_v1` row's `image`,
    /// else `task.image`).
    pub(crate) fn image(&self) -> Option<String> {
        if let Some(r) = &self.row {
            return Some(r.image.clone());
        }
        self.payload()
            .get("image")
            .and_then(Value::as_str)
            .map(String::from)
    }

    /// The task's workspace description (`task.workspace`: repo, base commit, …), if any.
    #[cfg(test)]
    pub(crate) fn workspace(&self) -> Option<Value> {
        self.payload().get("workspace").cloned()
    }
}

/// The compact text of a task object.
fn compact(task: &Value) -> Box<str> {
    task.to_string().into_boxed_str()
}

#[derive(Deserialize)]
struct BoundaryRow {
    task: Value,
    #[serde(default)]
    workspace_files: Vec<WorkspaceFile>,
    #[serde(default)]
    mount_references: Vec<MountReference>,
    #[serde(default)]
    limits: TaskLimits,
}

/// Parse one row (already JSON). `index` is the row's 0-based position among the
/// dataset's tasks: a task without an `id` is named `task_<index>`, as the original
/// runner names it (rows keyed `task_id` get that name too: the original never read
/// `task_id`). `file` and `line` only name the place in errors.
pub(crate) fn parse_task_row(
    row: &Value,
    index: usize,
    file: &Path,
    line: usize,
) -> Result<Task, ExperimentError> {
    let err = |message: String| ExperimentError::DatasetRow {
        path: file.to_path_buf(),
        line,
        message,
    };
    let Some(obj) = row.as_object() else {
        return Err(err(format!(
            "a dataset row must be a JSON object, found {}",
            json_kind(row)
        )));
    };
    let boundary = match obj.get("schema_version") {
        Some(Value::String(s)) if s == "task_boundary_v1" => true,
        Some(Value::String(s)) if s == "task_row_v1" => {
            return task_row_v1(row, file, line);
        }
        Some(Value::String(s)) if obj.contains_key("task") => {
            return Err(err(format!(
            "unknown row schema_version `{s}`; labj reads task_boundary_v1 and task_row_v1 rows"
        )))
        }
        _ => false,
    };
    if !boundary {
        let id = task_id(row, index).map_err(err)?;
        let required_evidence_classes = policy_override(row).map_err(err)?;
        return Ok(Task {
            id,
            payload_json: compact(row),
            workspace_files: Vec::new(),
            mount_references: Vec::new(),
            limits: TaskLimits::default(),
            boundary: false,
            required_evidence_classes,
            line,
            row: None,
        });
    }
    if let Err(e) = schemas::validate("task_boundary_v1", row) {
        return Err(match e {
            schemas::SchemaError::Invalid { violations, .. } => ExperimentError::DatasetRowSchema {
                path: file.to_path_buf(),
                line,
                violations,
            },
            other => err(other.to_string()),
        });
    }
    let parsed: BoundaryRow = serde_json::from_value(row.clone())
        .map_err(|e| err(format!("bad task_boundary_v1 row: {e}")))?;
    let id = task_id(&parsed.task, index).map_err(|m| err(format!("in `task`: {m}")))?;
    let required_evidence_classes =
        policy_override(&parsed.task).map_err(|m| err(format!("in `task`: {m}")))?;
    for (i, f) in parsed.workspace_files.iter().enumerate() {
        check_relative(&f.path).map_err(|why| {
            err(format!(
                "workspace_files[{i}].path `{}` {why}; workspace paths must be relative and stay inside the workspace",
                f.path
            ))
        })?;
        f.bytes()
            .map_err(|why| err(format!("workspace_files[{i}]: {why}")))?;
    }
    super::limits::check_workspace_paths(parsed.workspace_files.iter().map(|f| f.path.as_str()))
        .map_err(|(i, why)| {
            err(format!(
                "workspace_files[{i}].path `{}` {why}",
                super::limits::escape_id(&parsed.workspace_files[i].path)
            ))
        })?;
    Ok(Task {
        id,
        payload_json: compact(&parsed.task),
        workspace_files: parsed.workspace_files,
        mount_references: parsed.mount_references,
        limits: parsed.limits,
        boundary: true,
        required_evidence_classes,
        line,
        row: None,
    })
}

/// A `task_row_v1` row (the original's current format): `task` is what the agent and
/// grader see; `image`, `workdir`, `time_limit_ms` say how it runs.
fn task_row_v1(row: &Value, file: &Path, line: usize) -> Result<Task, ExperimentError> {
    let err = |message: String| ExperimentError::DatasetRow {
        path: file.to_path_buf(),
        line,
        message,
    };
    if let Err(e) = schemas::validate("task_row_v1", row) {
        return Err(match e {
            schemas::SchemaError::Invalid { violations, .. } => ExperimentError::DatasetRowSchema {
                path: file.to_path_buf(),
                line,
                violations,
            },
            other => err(other.to_string()),
        });
    }
    let id = row["id"].as_str().unwrap_or_default().to_string();
    let m = &row["materialization"];
    match m["kind"].as_str() {
        Some("task_image") if m.get("task_bundle_ref").is_none() => {}
        Some("task_image") => {
            return Err(err(
                "materialization.task_bundle_ref goes with kind base_image_bundle, not task_image"
                    .into(),
            ))
        }
        _ => {
            return Err(err(format!(
                "task `{}`: materialization kind base_image_bundle (a task bundle unpacked into \
                 a base image) is not something labj can unpack: bake the task's files into its \
                 image and write kind: task_image, or write the row as a task_boundary_v1 row \
                 with workspace_files",
                super::limits::escape_id(&id)
            )))
        }
    }
    let required_evidence_classes =
        policy_override(&row["task"]).map_err(|m| err(format!("in `task`: {m}")))?;
    Ok(Task {
        id,
        payload_json: compact(&row["task"]),
        workspace_files: Vec::new(),
        mount_references: Vec::new(),
        limits: TaskLimits::default(),
        boundary: false,
        required_evidence_classes,
        line,
        row: Some(RowExecution {
            image: row["image"].as_str().unwrap_or_default().to_string(),
            workdir: row["workdir"].as_str().unwrap_or_default().to_string(),
            time_limit_ms: row.get("time_limit_ms").and_then(Value::as_u64),
        }),
    })
}

/// The keys of the original runner's per-task `policy_override`.
const POLICY_OVERRIDE_KEYS: [&str; 5] = [
    "state_policy",
    "task_model",
    "scoring_lifecycle",
    "chain_failure_policy",
    "required_evidence_classes",
];

/// Checks a task's `policy_override` (the original runner read it from the task object)
/// and returns its `required_evidence_classes`. `state_policy` may only say
/// `isolate_per_trial` (the only state labj runs); `task_model`, `scoring_lifecycle` and
/// `chain_failure_policy` are recorded labels, as at the experiment level.
fn policy_override(task: &Value) -> Result<Option<Vec<String>>, String> {
    let Some(o) = task.get("policy_override") else {
        return Ok(None);
    };
    let Some(map) = o.as_object() else {
        return Err(format!(
            "`policy_override` must be an object, found {}",
            json_kind(o)
        ));
    };
    for (k, v) in map {
        if !POLICY_OVERRIDE_KEYS.contains(&k.as_str()) {
            let near = POLICY_OVERRIDE_KEYS
                .iter()
                .min_by_key(|n| strsim::damerau_levenshtein(k, n))
                .filter(|n| strsim::damerau_levenshtein(k, n) <= (k.len() / 3).max(2));
            let hint = near
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(format!(
                "unknown field `policy_override.{k}`{hint} (known here: {})",
                POLICY_OVERRIDE_KEYS.join(", ")
            ));
        }
        let ok = match k.as_str() {
            "required_evidence_classes" => v
                .as_array()
                .is_some_and(|a| a.iter().all(|c| c.as_str().is_some_and(|c| !c.is_empty()))),
            _ => v.is_string(),
        };
        if !ok {
            let want = if k == "required_evidence_classes" {
                "a list of non-empty strings"
            } else {
                "a string"
            };
            return Err(format!("`policy_override.{k}` must be {want}, found {v}"));
        }
    }
    if let Some(state) = map.get("state_policy").and_then(Value::as_str) {
        if state != "isolate_per_trial" {
            return Err(format!(
                "`policy_override.state_policy` `{state}` is not supported: labj runs only \
                 isolate_per_trial (it does not carry workspaces between trials yet)"
            ));
        }
    }
    Ok(map.get("required_evidence_classes").map(|a| {
        a.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    }))
}

fn task_id(task: &Value, index: usize) -> Result<String, String> {
    match task.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err("task `id` is empty".into()),
        Some(other) => Err(format!(
            "task `id` must be a string, found {} (quote it: \"id\": \"{}\")",
            json_kind(other),
            other
        )),
        None => Ok(format!("task_{index}")),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Read the dataset: skip blank lines, keep the first `limit` tasks, reject duplicates.
pub(crate) fn read_dataset(
    path: &Path,
    limit: Option<usize>,
) -> Result<Vec<Task>, ExperimentError> {
    let text = super::limits::read_text(path, super::limits::MAX_DATASET_BYTES, "dataset")?;
    let mut tasks = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen_normalized: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if limit.is_some_and(|n| tasks.len() >= n) {
            break;
        }
        if raw.trim().is_empty() {
            continue;
        }
        // Through `Strict`: a row with a duplicate key is refused (a JSON parser would
        // keep the last value silently).
        let row: Value = serde_json::from_str::<super::strict::Strict>(raw)
            .map(|s| s.0)
            .map_err(|e| ExperimentError::DatasetRow {
                path: path.to_path_buf(),
                line,
                message: format!("invalid JSON: {e}"),
            })?;
        let task = parse_task_row(&row, tasks.len(), path, line)?;
        use super::limits::{check_id, escape_id, normalized_id};
        if let Err(why) = check_id(&task.id) {
            return Err(ExperimentError::DatasetRow {
                path: path.to_path_buf(),
                line,
                message: format!("task id \"{}\" {why}", escape_id(&task.id)),
            });
        }
        if let Some((first, other)) = seen_normalized.get(&normalized_id(&task.id)) {
            if *other != task.id {
                return Err(ExperimentError::DatasetRow {
                    path: path.to_path_buf(),
                    line,
                    message: format!(
                        "task id \"{}\" differs from \"{}\" (line {first}) only in letter case; task ids must be unique ignoring case",
                        escape_id(&task.id),
                        escape_id(other)
                    ),
                });
            }
        }
        seen_normalized.insert(normalized_id(&task.id), (line, task.id.clone()));
        if let Some(first) = seen.insert(task.id.clone(), line) {
            return Err(ExperimentError::DatasetRow {
                path: path.to_path_buf(),
                line,
                message: format!(
                    "duplicate task id `{}` (first seen on line {first}); task ids must be unique",
                    escape_id(&task.id)
                ),
            });
        }
        tasks.push(task);
    }
    if tasks.is_empty() {
        return Err(ExperimentError::File {
            path: path.to_path_buf(),
            message: "the dataset has no tasks (every line is blank)".into(),
        });
    }
    Ok(tasks)
}
