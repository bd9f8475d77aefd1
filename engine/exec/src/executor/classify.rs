//! Reading the files an agent and a grader leave behind, and turning every way they can
//! be wrong into a message for the trial's classification.

use super::AttemptEnd;
use journal::event::Classification;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Result and grade files larger than this are refused before being read.
pub(crate) const MAX_RESULT_BYTES: u64 = 1024 * 1024;

/// The fields of `agent_result_v1` the executor acts on (after schema validation).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AgentResult {
    pub outcome: String,
    /// Numbers, strings, booleans or null (the original's schema allows all four).
    #[serde(default)]
    pub metrics: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    /// The original's primary metric: `{name, value}`, journaled as metric `name`.
    #[serde(default)]
    pub objective: Option<Objective>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Objective {
    pub name: String,
    pub value: serde_json::Value,
}

impl AgentResult {
    /// `metrics` with the objective added under its name (the original recorded it as
    /// one more metric row); `Err` when `metrics` already holds that name with another
    /// value, since one of the two would be silently dropped.
    pub(super) fn all_metrics(self) -> Result<BTreeMap<String, serde_json::Value>, String> {
        let mut all = self.metrics;
        if let Some(o) = self.objective {
            let same = |a: &serde_json::Value| match (a.as_f64(), o.value.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => *a == o.value,
            };
            match all.get(&o.name) {
                Some(v) if !same(v) => {
                    return Err(format!(
                        "objective `{}` = {} contradicts metrics.{} = {v}",
                        o.name, o.value, o.name
                    ))
                }
                Some(_) => {}
                None => {
                    all.insert(o.name, o.value);
                }
            }
        }
        Ok(all)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GradeEvidence {
    pub class: String,
    pub path: String,
}

/// The fields of `grade_result_v1`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GradeResult {
    pub outcome: String,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub evidence: Vec<GradeEvidence>,
}

/// Numeric metrics (finite numbers) and the rest (strings, booleans, null), apart.
pub(crate) fn split_metrics(
    all: BTreeMap<String, serde_json::Value>,
) -> (BTreeMap<String, f64>, BTreeMap<String, serde_json::Value>) {
    let mut numbers = BTreeMap::new();
    let mut others = BTreeMap::new();
    for (k, v) in all {
        match v.as_f64() {
            Some(x) if v.is_number() => {
                numbers.insert(k, x);
            }
            _ => {
                others.insert(k, v);
            }
        }
    }
    (numbers, others)
}

#[derive(Debug)]
pub(crate) enum ReadError {
    Missing,
    /// Present but unusable (too large, not JSON, schema violation); the message says why.
    Invalid(String),
}

/// Reads `path` as a JSON document of schema `schema` and deserializes the typed view.
pub(crate) fn read_validated<T: for<'de> Deserialize<'de>>(
    path: &Path,
    schema: &str,
) -> Result<T, ReadError> {
    read_validated_by(path, |_| schema)
}

/// An agent's result: `agent_result_v1`, or the original's current `trial_output_v1`
/// (same fields, plus the trial's `ids`), chosen by its `schema_version`.
pub(crate) fn read_agent_result(path: &Path) -> Result<AgentResult, ReadError> {
    read_validated_by(path, |v| {
        match v.get("schema_version").and_then(serde_json::Value::as_str) {
            Some("trial_output_v1") => "trial_output_v1",
            _ => "agent_result_v1",
        }
    })
}

/// Like [`read_validated`], the schema chosen from the document.
fn read_validated_by<'a, T: for<'de> Deserialize<'de>>(
    path: &Path,
    schema_of: impl Fn(&serde_json::Value) -> &'a str,
) -> Result<T, ReadError> {
    // Non-blocking and regular files only: an agent that leaves a FIFO or a device at
    // its result path must not hang or exhaust the worker.
    let text = model::safe_fs::read_regular(path, MAX_RESULT_BYTES).map_err(|e| {
        if e.is_missing() {
            ReadError::Missing
        } else {
            ReadError::Invalid(e.to_string())
        }
    })?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| ReadError::Invalid(format!("{} is not valid JSON: {e}", path.display())))?;
    let schema = schema_of(&value);
    model::schemas::validate(schema, &value)
        .map_err(|e| ReadError::Invalid(format!("{}: {e}", path.display())))?;
    serde_json::from_value(value).map_err(|e| {
        ReadError::Invalid(format!(
            "{} matches `{schema}` but cannot be used: {e}",
            path.display()
        ))
    })
}

/// A short, single-line rendering of an agent's `error` field for the trial's message.
pub(crate) fn error_text(v: &Option<serde_json::Value>) -> Option<String> {
    match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// Why an agent that exited 0 has no result, and where the result belongs; when its
/// stdout held a JSON object (the agent printed its result), says so.
fn result_missing(stdout_log: &Path) -> String {
    let base = "agent exited 0 but wrote no result file: agent_result_v1 belongs in the file \
                named by $AGENTLAB_RESULT_PATH";
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(stdout_log) {
        use std::io::Read;
        let _ = f.take(1 << 20).read_to_end(&mut head);
    }
    let text = String::from_utf8_lossy(&head);
    let printed = text.lines().map(str::trim).find(|l| {
        l.starts_with('{')
            && serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v.is_object())
    });
    let printed = printed.or_else(|| {
        let t = text.trim();
        (t.starts_with('{') && serde_json::from_str::<serde_json::Value>(t).is_ok()).then_some(t)
    });
    match printed {
        Some(json) => {
            let mut shown: String = json.chars().take(80).collect();
            if shown.len() < json.len() {
                shown.push('…');
            }
            format!(
                "{base}, but the agent printed JSON to stdout ({shown}): write it to that \
                 file instead (e.g. open(os.environ[\"AGENTLAB_RESULT_PATH\"], \"w\") in \
                 Python, or `> \"$AGENTLAB_RESULT_PATH\"` in sh)"
            )
        }
        None => format!("{base} (nothing there after the agent exited)"),
    }
}

/// Classifies a cleanly exited attempt by its result file.
pub(super) fn agent_result(path: &Path, stdout_log: &Path) -> AttemptEnd {
    match read_agent_result(path) {
        Err(ReadError::Missing) => {
            AttemptEnd::new(Classification::ResultMissing, result_missing(stdout_log))
        }
        Err(ReadError::Invalid(msg)) => AttemptEnd::new(Classification::ResultParseError, msg),
        Ok(r) => {
            let outcome = r.outcome.clone();
            let (classification, detail) = match r.outcome.as_str() {
                "success" => (Classification::Success, None),
                // `missing`: the agent ran but had no answer; a graded non-success, as
                // the original counted it (journaled with outcome `missing`).
                "failure" | "missing" => (Classification::Failure, None),
                _ => (
                    Classification::Error,
                    Some(match error_text(&r.error) {
                        Some(e) => format!("agent reported outcome error: {e}"),
                        None => "agent reported outcome error".to_string(),
                    }),
                ),
            };
            let all = match r.all_metrics() {
                Ok(all) => all,
                Err(e) => {
                    return AttemptEnd::new(
                        Classification::ResultParseError,
                        format!("{}: {e}", path.display()),
                    )
                }
            };
            let (metrics, other_metrics) = split_metrics(all);
            AttemptEnd {
                classification,
                exit_code: None,
                active: Duration::ZERO,
                detail,
                outcome: Some(outcome),
                metrics,
                other_metrics,
                evidence: Vec::new(),
                tamper: Vec::new(),
                leaked: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        let p = dir.join("result.json");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn agent_result_accepts_scalar_metrics_and_rejects_nested_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let p = write(
            tmp.path(),
            r#"{"outcome":"missing","metrics":{"a":1.5,"s":"x","b":true,"n":null}}"#,
        );
        let r: AgentResult = read_validated(&p, "agent_result_v1").unwrap();
        let (nums, others) = split_metrics(r.metrics);
        assert_eq!(nums["a"], 1.5);
        assert_eq!(others["s"], "x");
        assert_eq!(others["b"], true);
        assert!(others["n"].is_null());
        let p = write(
            tmp.path(),
            r#"{"outcome":"success","metrics":{"a":{"x":1}}}"#,
        );
        match read_validated::<AgentResult>(&p, "agent_result_v1") {
            Err(ReadError::Invalid(m)) => assert!(m.contains("/metrics/a"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn objective_joins_the_metrics_unless_it_contradicts_them() {
        let tmp = tempfile::tempdir().unwrap();
        let p = write(
            tmp.path(),
            r#"{"outcome":"success","metrics":{"a":1},"objective":{"name":"score","value":0.75,"direction":"maximize"}}"#,
        );
        let r: AgentResult = read_validated(&p, "agent_result_v1").unwrap();
        let all = r.all_metrics().unwrap();
        assert_eq!(all["score"], 0.75);
        assert_eq!(all["a"], 1);
        let p = write(
            tmp.path(),
            r#"{"outcome":"success","metrics":{"score":1},"objective":{"name":"score","value":1.0}}"#,
        );
        let r: AgentResult = read_validated(&p, "agent_result_v1").unwrap();
        assert_eq!(r.all_metrics().unwrap()["score"], 1);
        let p = write(
            tmp.path(),
            r#"{"outcome":"success","metrics":{"score":1},"objective":{"name":"score","value":0}}"#,
        );
        let r: AgentResult = read_validated(&p, "agent_result_v1").unwrap();
        let e = r.all_metrics().unwrap_err();
        assert!(e.contains("contradicts metrics.score"), "{e}");
        let p = write(
            tmp.path(),
            r#"{"outcome":"success","objective":{"value":1}}"#,
        );
        match read_validated::<AgentResult>(&p, "agent_result_v1") {
            Err(ReadError::Invalid(m)) => assert!(m.contains("/objective"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_file_is_missing() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_validated::<AgentResult>(&tmp.path().join("nope"), "agent_result_v1"),
            Err(ReadError::Missing)
        ));
    }
}
