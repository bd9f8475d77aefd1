//! The top-level `metrics` list (the original's declared metrics, as its SDK and README
//! write them), read into [`MetricDecl`]s the executor computes per trial
//! (`executor/declared.rs`). `weight` and `direction` are recorded labels; the entry
//! with `primary: true` is the experiment's primary metric unless `primary_metric`
//! names one.

use super::ExperimentError;
use crate::trial::{MetricDecl, MetricSource};
use serde_json::Value;
use std::path::Path;

/// The metrics labj measures itself for `source: runner`.
pub(crate) const RUNNER_METRICS: [&str; 2] = ["duration_ms", "exit_code"];

/// Keys of a metric entry: read, or recorded labels.
const KEYS: [&str; 11] = [
    "id",
    "source",
    "json_pointer",
    "event_type",
    "event_field",
    "aggregate",
    "artifact_measure",
    "artifact_glob",
    "weight",
    "direction",
    "primary",
];

/// `(declarations, the primary one's id)`; `None` when `metrics` is absent.
pub(super) fn parse(
    path: &Path,
    doc: &Value,
) -> Result<(Vec<MetricDecl>, Option<String>), ExperimentError> {
    let Some(list) = doc.get("metrics") else {
        return Ok((Vec::new(), None));
    };
    let bad = |at: String, why: String| ExperimentError::invalid(path, at, why);
    let Some(items) = list.as_array() else {
        return Err(bad(
            "/metrics".into(),
            "metrics must be a list of {id, source, …} entries".into(),
        ));
    };
    let mut out: Vec<MetricDecl> = Vec::new();
    let mut primary: Option<(usize, String)> = None;
    for (i, item) in items.iter().enumerate() {
        let here = format!("/metrics/{i}");
        let Some(obj) = item.as_object() else {
            return Err(bad(here, "a metric is a mapping {id, source, …}".into()));
        };
        if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let hint = super::fields::suggestion(k, &KEYS)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(bad(
                format!("{here}/{k}"),
                format!(
                    "unknown field `{k}`{hint} (a metric has {})",
                    KEYS.join(", ")
                ),
            ));
        }
        let decl: MetricDecl = serde_json::from_value(item.clone())
            .map_err(|e| bad(here.clone(), format!("{e} (source is output, events, runner or artifacts; aggregate is sum, count, max, min, mean or last)")))?;
        if decl.id.trim().is_empty() {
            return Err(bad(format!("{here}/id"), "must not be empty".into()));
        }
        if let Some(j) = out.iter().position(|d| d.id == decl.id) {
            return Err(bad(
                format!("{here}/id"),
                format!("metric `{}` is declared twice (also /metrics/{j})", decl.id),
            ));
        }
        match decl.source {
            MetricSource::Output => match decl.json_pointer.as_deref() {
                Some(p) if p.starts_with('/') => {}
                Some(p) => {
                    return Err(bad(
                        format!("{here}/json_pointer"),
                        format!("`{p}` is not a JSON pointer: write it as /metrics/{p}"),
                    ))
                }
                None => {
                    return Err(bad(
                        here,
                        "source: output needs json_pointer (e.g. /metrics/resolved: where in the agent's result the value is)".into(),
                    ))
                }
            },
            MetricSource::Events => {
                if decl.event_type.is_none() {
                    return Err(bad(
                        here,
                        "source: events needs event_type (the `event_type` of the event-stream lines to aggregate, e.g. model_call_end)".into(),
                    ));
                }
                let needs_field = !matches!(
                    decl.aggregate,
                    None | Some(crate::trial::MetricAggregate::Count)
                );
                if needs_field && decl.event_field.is_none() {
                    return Err(bad(
                        format!("{here}/aggregate"),
                        "this aggregate needs event_field (the dot path of the number in each event, e.g. usage.tokens_in)".into(),
                    ));
                }
            }
            MetricSource::Runner => {
                if !RUNNER_METRICS.contains(&decl.id.as_str()) {
                    return Err(bad(
                        format!("{here}/id"),
                        format!(
                            "source: runner measures {}; `{}` is not one of them (use source: output or events for the agent's own numbers)",
                            RUNNER_METRICS.join(" and "),
                            decl.id
                        ),
                    ));
                }
            }
            MetricSource::Artifacts => {}
        }
        if obj.get("primary") == Some(&Value::Bool(true)) {
            if let Some((j, other)) = &primary {
                return Err(bad(
                    format!("{here}/primary"),
                    format!(
                        "two primary metrics: `{other}` (/metrics/{j}) and `{}`",
                        decl.id
                    ),
                ));
            }
            primary = Some((i, decl.id.clone()));
        }
        out.push(decl);
    }
    Ok((out, primary.map(|(_, id)| id)))
}
