//! Strict field names: every key inside a section labj interprets must be one labj knows.
//!
//! The table below lists, per section, the keys labj implements or records as labels
//! (the original runner, AgentLab `lab-runner`, gave them no behaviour in local
//! execution either), the keys the original itself removed (refused with its
//! replacement), and open user data (bindings, env, task payloads: anything goes). An
//! unknown key is an error naming the file, the JSON pointer, the line and, when one is
//! close, the key meant.
//!
//! This runs before the JSON Schema, so a typo is reported as a typo rather than as the
//! schema's generic `additionalProperties`; the schema then checks types and ranges.

use super::ExperimentError;
use serde_json::Value;
use std::path::Path;

/// What a key may hold.
#[derive(Clone, Copy)]
pub(crate) enum Node {
    /// A mapping with exactly these keys.
    Closed(&'static [(&'static str, Field)]),
    /// A list whose items are checked against the node.
    List(&'static Node),
    /// Open user data, or a scalar: not walked.
    Open,
}

#[derive(Clone, Copy)]
pub(crate) enum Field {
    /// Implemented (or a recorded label with no behaviour, see docs/agentlab-compat.md).
    Known(Node),
    /// Removed by the original runner itself: refused with what replaced it.
    Removed(&'static str),
}

use Field::{Known, Removed};
use Node::{Closed, List, Open};

/// `runtime.policy.sandbox` (enforced by `crate::isolation`; docs/isolation.md).
const SANDBOX: Node = Closed(&[
    ("mode", Known(Open)),
    ("image", Known(Open)),
    ("root_read_only", Known(Open)),
    ("run_as_user", Known(Open)),
    (
        "hardening",
        Known(Closed(&[
            ("no_new_privileges", Known(Open)),
            ("drop_all_caps", Known(Open)),
        ])),
    ),
    (
        "resources",
        Known(Closed(&[
            ("cpu_count", Known(Open)),
            ("memory_mb", Known(Open)),
            ("pids", Known(Open)),
        ])),
    ),
]);

const NETWORK: Node = Closed(&[("mode", Known(Open)), ("allowed_hosts", Known(Open))]);

const FILE_STAGING: Node = Closed(&[
    ("source_from_host", Known(Open)),
    ("destination_path", Known(Open)),
    ("required", Known(Open)),
    ("read_only", Known(Open)),
]);

const ASSET: Node = Closed(&[
    ("id", Known(Open)),
    ("source_from_host", Known(Open)),
    ("mount_path", Known(Open)),
    ("read_only", Known(Open)),
    ("required", Known(Open)),
]);

const DATASET: Node = Closed(&[
    ("path", Known(Open)),
    ("limit", Known(Open)),
    ("provider", Known(Open)),
    ("suite_id", Known(Open)),
    ("schema_version", Known(Open)),
    ("split_id", Known(Open)),
]);

const POLICIES: Node = Closed(&[
    ("scheduling", Known(Open)),
    ("comparison", Known(Open)),
    (
        "retry",
        Known(Closed(&[
            ("max_attempts", Known(Open)),
            ("retry_on", Known(Open)),
            ("max_infra_attempts", Known(Open)),
        ])),
    ),
    (
        "pruning",
        Known(Closed(&[
            ("max_consecutive_failures", Known(Open)),
            ("max_consecutive_unsuccessful", Known(Open)),
        ])),
    ),
    (
        "concurrency",
        Known(Closed(&[
            ("max_in_flight_per_variant", Known(Open)),
            ("require_chain_lease", Known(Open)),
        ])),
    ),
    ("state", Known(Open)),
    (
        "budget",
        Known(Closed(&[
            ("max_cost_usd", Known(Open)),
            ("max_tokens", Known(Open)),
            (
                "per_variant",
                Known(Closed(&[
                    ("max_cost_usd", Known(Open)),
                    ("max_tokens", Known(Open)),
                ])),
            ),
        ])),
    ),
    (
        "task_boundary",
        Known(Closed(&[(
            "require_workspace_materialization",
            Known(Open),
        )])),
    ),
]);

const DESIGN: Node = Closed(&[
    ("replications", Known(Open)),
    ("random_seed", Known(Open)),
    ("shuffle_tasks", Known(Open)),
    ("max_concurrency", Known(Open)),
    ("sanitization_profile", Known(Open)),
    ("comparison", Known(Open)),
    ("policies", Known(POLICIES)),
]);

const VARIANT_AGENT: Node = Closed(&[
    ("command", Known(Open)),
    ("args", Known(Open)),
    ("env", Known(Open)),
    ("timeout_ms", Known(Open)),
    ("image", Known(Open)),
]);

const VARIANT: Node = Closed(&[
    ("variant_id", Known(Open)),
    ("bindings", Known(Open)),
    ("runtime", Known(Closed(&[("agent", Known(VARIANT_AGENT))]))),
    ("image", Known(Open)),
    // Deep-merged over `runtime` (load.rs), so it holds what `runtime` may hold.
    ("runtime_overrides", Known(RUNTIME)),
]);

const AGENT: Node = Closed(&[
    ("command", Known(Open)),
    ("env", Known(Open)),
    (
        "io",
        Known(Closed(&[
            ("input_arg", Known(Open)),
            ("output_arg", Known(Open)),
        ])),
    ),
    ("timeout_ms", Known(Open)),
    ("default_timeout_ms", Known(Open)),
    ("mode", Known(Open)),
    ("image", Known(Open)),
    ("env_from_host", Known(Open)),
    // Recorded labels: the original only recorded them in local execution.
    ("integration_level", Known(Open)),
    ("launch", Known(Closed(&[("mode", Known(Open))]))),
    (
        "known_agent_ref",
        Removed("the original runner removed it: ship the agent as runtime.agent.command"),
    ),
    (
        "custom_image",
        Removed("the original runner removed it: use runtime.agent.image"),
    ),
    (
        "adapter",
        Removed("the original runner removed it from the user-facing spec"),
    ),
    (
        "aliases",
        Removed("the original runner removed it from the user-facing spec"),
    ),
    (
        "overrides",
        Removed("the original runner removed it: package runtime concerns with the agent"),
    ),
]);

const RUNTIME: Node = Closed(&[
    ("agent", Known(AGENT)),
    (
        "dependencies",
        Known(Closed(&[
            (
                "files",
                Known(List(&Closed(&[
                    ("source", Known(Open)),
                    ("dest", Known(Open)),
                ]))),
            ),
            ("services", Known(Open)),
            ("file_staging", Known(List(&FILE_STAGING))),
            ("assets", Known(List(&ASSET))),
        ])),
    ),
    (
        "policy",
        Known(Closed(&[
            ("timeout_ms", Known(Open)),
            ("output_limit_bytes", Known(Open)),
            ("network", Known(NETWORK)),
            ("sandbox", Known(SANDBOX)),
        ])),
    ),
    // Recorded labels: locally the trajectory is always AGENTLAB_TRAJECTORY_PATH.
    (
        "telemetry",
        Known(Closed(&[
            ("trajectory_path", Known(Open)),
            ("causal_extraction", Known(Open)),
        ])),
    ),
    (
        "harness",
        Removed("runtime.harness is not supported (the original runner rejects it too); use runtime.agent"),
    ),
]);

const BENCHMARK: Node = Closed(&[
    (
        "policy",
        Known(Closed(&[
            ("required_evidence_classes", Known(Open)),
            ("task_model", Known(Open)),
            ("scoring_lifecycle", Known(Open)),
            ("chain_failure_policy", Known(Open)),
            ("evaluator_mode", Known(Open)),
            ("reset_strategy", Known(Open)),
        ])),
    ),
    (
        "adapter",
        Known(Closed(&[
            ("command", Known(Open)),
            ("manifest", Known(Open)),
        ])),
    ),
    (
        "grader",
        Known(Closed(&[
            ("command", Known(Open)),
            ("strategy", Known(Open)),
            ("hidden_files", Known(Open)),
            ("network", Known(Open)),
            ("timeout_ms", Known(Open)),
            (
                "conclusion",
                Known(Closed(&[("mode", Known(Open)), ("mapper", Known(Open))])),
            ),
        ])),
    ),
]);

/// The whole resolved experiment (versions 0.3, 0.4, 0.5).
pub(crate) const ROOT: Node = Closed(&[
    ("version", Known(Open)),
    // Open, as the original's schema had it (`additionalProperties: true`): its SDK
    // writes `tags`, `owner`, `description`; other keys are recorded labels. The
    // schema checks the types of the keys labj reads (id, name, description, owner,
    // tags).
    ("experiment", Known(Open)),
    ("dataset", Known(DATASET)),
    ("design", Known(DESIGN)),
    ("baseline", Known(VARIANT)),
    ("variant_plan", Known(List(&VARIANT))),
    ("runtime", Known(RUNTIME)),
    ("benchmark", Known(BENCHMARK)),
    ("primary_metric", Known(Open)),
    // Recorded labels, open: the original runner read none of them.
    ("metrics", Known(Open)),
    ("artifacts", Known(Open)),
    ("validity", Known(Open)),
    (
        "variants",
        Removed("/variants is not supported (nor by the original runner); use variant_plan"),
    ),
]);

/// Checks every key of `doc` against `node`; the first problem wins. `text` is the file's
/// text, used only to find the line of the offending key.
pub(crate) fn check(
    path: &Path,
    text: Option<&str>,
    node: Node,
    doc: &Value,
) -> Result<(), ExperimentError> {
    walk(node, doc, &mut Vec::new()).map_or(Ok(()), |(segments, message)| {
        let pointer = pointer_of(&segments);
        let line = text.and_then(|t| line_of(t, &segments));
        Err(ExperimentError::Field {
            path: path.to_path_buf(),
            pointer,
            line,
            message,
        })
    })
}

fn walk(node: Node, v: &Value, at: &mut Vec<String>) -> Option<(Vec<String>, String)> {
    match (node, v) {
        (Closed(fields), Value::Object(map)) => {
            for (key, child) in map {
                at.push(key.clone());
                let found = fields.iter().find(|(name, _)| name == key);
                let problem = match found {
                    None => Some((at.clone(), unknown(key, fields))),
                    Some((_, Removed(why))) => {
                        Some((at.clone(), format!("`{key}` is refused: {why}")))
                    }
                    Some((_, Known(inner))) => walk(*inner, child, at),
                };
                at.pop();
                if problem.is_some() {
                    return problem;
                }
            }
            None
        }
        (List(item), Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                at.push(i.to_string());
                let problem = walk(*item, child, at);
                at.pop();
                if problem.is_some() {
                    return problem;
                }
            }
            None
        }
        // Wrong types are the schema's to report.
        _ => None,
    }
}

/// The name of `names` within edit distance of `key`, if any (for "did you mean").
pub(crate) fn suggestion<'a>(key: &str, names: &[&'a str]) -> Option<&'a str> {
    let (d, name) = names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(key, n), *n))
        .min()?;
    (d <= (key.chars().count() / 3).max(2)).then_some(name)
}

fn unknown(key: &str, fields: &[(&str, Field)]) -> String {
    if key == "<<" {
        return "YAML merge keys (`<<: *anchor`) are not supported; repeat the fields, or use \
                an anchor as a whole value (`key: *anchor`)"
            .into();
    }
    let known: Vec<&str> = fields
        .iter()
        .filter(|(_, f)| matches!(f, Known(_)))
        .map(|(n, _)| *n)
        .collect();
    let best = fields
        .iter()
        .map(|(n, _)| (strsim::damerau_levenshtein(key, n), *n))
        .min();
    let threshold = (key.chars().count() / 3).max(2);
    match best {
        Some((d, name)) if d <= threshold => format!(
            "unknown field `{key}`; did you mean `{name}`? (known here: {})",
            known.join(", ")
        ),
        _ => format!("unknown field `{key}` (known here: {})", known.join(", ")),
    }
}

fn pointer_of(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The 1-based line of the key at `segments`, found by scanning forward from each
/// parent key in turn (list indices are skipped). Works for block and flow YAML and for
/// JSON, where keys of one mapping appear after their parent's key.
pub(crate) fn line_of(text: &str, segments: &[String]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut found = None;
    for seg in segments {
        if seg.parse::<usize>().is_ok() {
            continue;
        }
        let at = (from..lines.len()).find(|&i| has_key(lines[i], seg))?;
        found = Some(at + 1);
        from = at;
    }
    found
}

fn has_key(line: &str, key: &str) -> bool {
    let quoted = format!("\"{key}\"");
    let mut rest = line;
    while let Some(pos) = rest.find(key) {
        let before = rest[..pos].chars().last();
        let after = &rest[pos + key.len()..];
        let boundary_before = matches!(before, None | Some(' ' | '{' | ',' | '-' | '\t'));
        if boundary_before && after.trim_start().starts_with(':') {
            return true;
        }
        rest = &rest[pos + key.len()..];
    }
    let mut rest = line;
    while let Some(pos) = rest.find(&quoted) {
        if rest[pos + quoted.len()..].trim_start().starts_with(':') {
            return true;
        }
        rest = &rest[pos + quoted.len()..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(doc: Value, text: &str) -> String {
        check(Path::new("e.yaml"), Some(text), ROOT, &doc)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn typo_names_pointer_line_and_suggestion() {
        let text = "version: \"0.5\"\nruntime:\n  agent:\n    command: [a]\n    timout_ms: 5\n";
        let doc: Value = serde_yaml_ng::from_str(text).unwrap();
        let e = err(doc, text);
        assert!(e.contains("e.yaml:5"), "{e}");
        assert!(e.contains("/runtime/agent/timout_ms"), "{e}");
        assert!(e.contains("did you mean `timeout_ms`?"), "{e}");
    }

    #[test]
    fn removed_fields_are_refused_with_reason_and_labels_are_accepted() {
        let e = err(
            json!({"runtime": {"harness": {}}}),
            "runtime:\n  harness: {}\n",
        );
        assert!(e.contains("use runtime.agent"), "{e}");
        let labels = json!({
            "validity": {"fail_on_state_leak": true},
            "metrics": [{"id": "x", "source": "output"}],
            "artifacts": {"collect": ["a/**"]},
            "runtime": {
                "agent": {"integration_level": "cli_basic", "launch": {"mode": "stdio"}},
                "telemetry": {"trajectory_path": "/t.jsonl", "causal_extraction": "e"}
            },
            "design": {"policies": {"task_boundary": {"require_workspace_materialization": true}}}
        });
        assert!(check(Path::new("e"), None, ROOT, &labels).is_ok());
        // runtime_overrides hold what runtime holds: a typo inside is caught.
        let e = err(
            json!({"variant_plan": [{"runtime_overrides": {"agent": {"comand": []}}}]}),
            "variant_plan:\n  - runtime_overrides:\n      agent:\n        comand: []\n",
        );
        assert!(
            e.contains("/variant_plan/0/runtime_overrides/agent/comand"),
            "{e}"
        );
        assert!(e.contains("did you mean `command`?"), "{e}");
        let e = err(
            json!({"runtime": {"telemetry": {"trajectory_pth": "x"}}}),
            "runtime:\n  telemetry:\n    trajectory_pth: x\n",
        );
        assert!(e.contains("did you mean `trajectory_path`?"), "{e}");
    }

    #[test]
    fn open_data_is_not_walked_and_far_names_get_no_suggestion() {
        let ok = json!({"baseline": {"variant_id": "b", "bindings": {"anything": {"x": 1}}}});
        assert!(check(Path::new("e"), None, ROOT, &ok).is_ok());
        let e = err(json!({"zzzzzzzz": 1}), "zzzzzzzz: 1\n");
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn line_of_finds_json_keys_inside_lists() {
        let text =
            "{\n \"variant_plan\": [\n  {\"variant_id\": \"a\",\n   \"bindngs\": {}}\n ]\n}\n";
        let segs = vec!["variant_plan".into(), "0".into(), "bindngs".into()];
        assert_eq!(line_of(text, &segs), Some(4));
    }
}
