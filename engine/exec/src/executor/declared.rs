//! The experiment's declared `metrics` (the original's top-level metric list), computed
//! for one attempt from what the agent left: its result document (`source: output`,
//! `json_pointer`), its event stream (`source: events`: the trajectory JSONL, one event
//! per line, selected by `event_type`, the number at `event_field`, combined by
//! `aggregate`) and labj's own measurements (`source: runner`: `duration_ms`,
//! `exit_code`). A declared metric the attempt cannot supply is left out, never
//! invented: an absent pointer, an event stream without such events for `max`/`min`/
//! `mean`/`last` (`sum` and `count` of nothing are 0).

use model::trial::{MetricAggregate, MetricDecl, MetricSource};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Lines of an event stream read at most (a larger stream is cut, said in `notes`).
const MAX_EVENT_BYTES: u64 = 64 * 1024 * 1024;

/// What the declared metrics came to: numbers and the other scalars apart, and notes
/// on what could not be read (journaled in the attempt's detail when non-empty).
#[derive(Debug, Default)]
pub(super) struct Computed {
    pub numbers: BTreeMap<String, f64>,
    pub others: BTreeMap<String, Value>,
    pub notes: Vec<String>,
}

pub(super) fn compute(
    decls: &[MetricDecl],
    result: &Path,
    trajectory: &Path,
    duration_ms: u64,
    exit_code: Option<i32>,
) -> Computed {
    let mut out = Computed::default();
    let result_doc: Option<Value> =
        model::safe_fs::read_regular(result, super::classify::MAX_RESULT_BYTES)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
    let mut events: Option<Vec<Value>> = None;
    for d in decls {
        match d.source {
            MetricSource::Output => {
                let (Some(doc), Some(ptr)) = (&result_doc, &d.json_pointer) else {
                    continue;
                };
                match doc.pointer(ptr) {
                    Some(v) if v.is_number() => {
                        if let Some(x) = v.as_f64() {
                            out.numbers.insert(d.id.clone(), x);
                        }
                    }
                    Some(v @ (Value::String(_) | Value::Bool(_) | Value::Null)) => {
                        out.others.insert(d.id.clone(), v.clone());
                    }
                    Some(_) => out.notes.push(format!(
                        "metric `{}`: {ptr} in the result is not a number, string, boolean or null",
                        d.id
                    )),
                    None => {}
                }
            }
            MetricSource::Events => {
                let all = events.get_or_insert_with(|| read_events(trajectory, &mut out.notes));
                if let Some(x) = aggregate(d, all) {
                    out.numbers.insert(d.id.clone(), x);
                }
            }
            MetricSource::Runner => match d.id.as_str() {
                "duration_ms" => {
                    out.numbers.insert(d.id.clone(), duration_ms as f64);
                }
                "exit_code" => {
                    if let Some(c) = exit_code {
                        out.numbers.insert(d.id.clone(), f64::from(c));
                    }
                }
                _ => {}
            },
            MetricSource::Artifacts => {}
        }
    }
    out
}

/// The events of a JSONL stream: objects, in order; other lines are skipped (noted).
fn read_events(path: &Path, notes: &mut Vec<String>) -> Vec<Value> {
    let bytes = match model::safe_fs::read_regular(path, MAX_EVENT_BYTES) {
        Ok(b) => b,
        Err(e) if e.is_missing() => return Vec::new(),
        Err(e) => {
            notes.push(format!("event stream not read: {e}"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let mut bad = 0usize;
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v @ Value::Object(_)) => out.push(v),
            _ => bad += 1,
        }
    }
    if bad > 0 {
        notes.push(format!(
            "{bad} line(s) of the event stream are not JSON objects and were skipped"
        ));
    }
    out
}

/// The value at a dot path (`usage.tokens_in`) of an event.
fn field<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(event, |v, key| v.get(key))
}

fn aggregate(d: &MetricDecl, events: &[Value]) -> Option<f64> {
    let matching = events.iter().filter(|e| {
        d.event_type
            .as_deref()
            .is_none_or(|t| e.get("event_type").and_then(Value::as_str) == Some(t))
    });
    let how = d.aggregate.unwrap_or(if d.event_field.is_some() {
        MetricAggregate::Sum
    } else {
        MetricAggregate::Count
    });
    if how == MetricAggregate::Count {
        // Events of the type (with the field present, when one is named).
        return Some(
            matching
                .filter(|e| {
                    d.event_field
                        .as_deref()
                        .is_none_or(|f| field(e, f).is_some())
                })
                .count() as f64,
        );
    }
    let f = d.event_field.as_deref()?;
    let values: Vec<f64> = matching
        .filter_map(|e| field(e, f).and_then(Value::as_f64))
        .collect();
    match how {
        MetricAggregate::Sum => Some(values.iter().fold(0.0, |a, b| a + b)),
        MetricAggregate::Max => values.iter().copied().reduce(f64::max),
        MetricAggregate::Min => values.iter().copied().reduce(f64::min),
        MetricAggregate::Mean => (!values.is_empty())
            .then(|| values.iter().fold(0.0, |a, b| a + b) / values.len() as f64),
        MetricAggregate::Last => values.last().copied(),
        MetricAggregate::Count => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(id: &str, source: MetricSource) -> MetricDecl {
        MetricDecl {
            id: id.into(),
            source,
            json_pointer: None,
            event_type: None,
            event_field: None,
            aggregate: None,
        }
    }

    #[test]
    fn events_are_summed_counted_and_combined_as_declared() {
        let tmp = tempfile::tempdir().unwrap();
        let traj = tmp.path().join("trajectory.jsonl");
        std::fs::write(
            &traj,
            concat!(
                r#"{"event_type":"model_call_end","usage":{"tokens_in":10,"tokens_out":3}}"#,
                "\n",
                r#"{"event_type":"tool_call_end","usage":{"tokens_in":1000}}"#,
                "\n",
                "not json\n",
                r#"{"event_type":"model_call_end","usage":{"tokens_in":32}}"#,
                "\n",
                r#"{"event_type":"model_call_end"}"#,
                "\n",
            ),
        )
        .unwrap();
        let result = tmp.path().join("result.json");
        std::fs::write(
            &result,
            r#"{"outcome":"success","metrics":{"resolved":1,"label":"x"}}"#,
        )
        .unwrap();
        let ev = |id: &str, field: Option<&str>, agg: Option<MetricAggregate>| MetricDecl {
            event_type: Some("model_call_end".into()),
            event_field: field.map(String::from),
            aggregate: agg,
            ..decl(id, MetricSource::Events)
        };
        let decls = vec![
            ev(
                "tokens_in",
                Some("usage.tokens_in"),
                Some(MetricAggregate::Sum),
            ),
            ev(
                "tokens_out",
                Some("usage.tokens_out"),
                Some(MetricAggregate::Sum),
            ),
            ev("turns", None, Some(MetricAggregate::Count)),
            ev(
                "turns_with_usage_in",
                Some("usage.tokens_in"),
                Some(MetricAggregate::Count),
            ),
            ev(
                "max_in",
                Some("usage.tokens_in"),
                Some(MetricAggregate::Max),
            ),
            ev(
                "mean_in",
                Some("usage.tokens_in"),
                Some(MetricAggregate::Mean),
            ),
            ev(
                "last_in",
                Some("usage.tokens_in"),
                Some(MetricAggregate::Last),
            ),
            ev(
                "no_such_field_max",
                Some("usage.nope"),
                Some(MetricAggregate::Max),
            ),
            MetricDecl {
                json_pointer: Some("/metrics/resolved".into()),
                ..decl("resolved", MetricSource::Output)
            },
            MetricDecl {
                json_pointer: Some("/metrics/label".into()),
                ..decl("label", MetricSource::Output)
            },
            MetricDecl {
                json_pointer: Some("/metrics/absent".into()),
                ..decl("absent", MetricSource::Output)
            },
            decl("duration_ms", MetricSource::Runner),
            decl("exit_code", MetricSource::Runner),
        ];
        let c = compute(&decls, &result, &traj, 1234, Some(0));
        let n = &c.numbers;
        assert_eq!(
            n["tokens_in"], 42.0,
            "10 + 32: the tool call's tokens are another type"
        );
        assert_eq!(n["tokens_out"], 3.0);
        assert_eq!(n["turns"], 3.0, "three model_call_end events");
        assert_eq!(n["turns_with_usage_in"], 2.0);
        assert_eq!(n["max_in"], 32.0);
        assert_eq!(n["mean_in"], 21.0);
        assert_eq!(n["last_in"], 32.0);
        assert!(!n.contains_key("no_such_field_max"), "{n:?}");
        assert_eq!(n["resolved"], 1.0);
        assert_eq!(c.others["label"], "x");
        assert!(!n.contains_key("absent") && !c.others.contains_key("absent"));
        assert_eq!(n["duration_ms"], 1234.0);
        assert_eq!(n["exit_code"], 0.0);
        assert_eq!(c.notes.len(), 1, "the bad line is noted: {:?}", c.notes);
    }

    #[test]
    fn no_event_stream_sums_and_counts_zero() {
        let tmp = tempfile::tempdir().unwrap();
        let d = MetricDecl {
            event_type: Some("model_call_end".into()),
            event_field: Some("usage.tokens_in".into()),
            ..decl("tokens_in", MetricSource::Events)
        };
        let c = compute(
            &[
                d.clone(),
                MetricDecl {
                    aggregate: Some(MetricAggregate::Count),
                    ..d
                },
            ],
            &tmp.path().join("result.json"),
            &tmp.path().join("none.jsonl"),
            0,
            None,
        );
        assert_eq!(c.numbers["tokens_in"], 0.0, "{:?}", c.numbers);
        assert!(c.notes.is_empty());
    }
}
