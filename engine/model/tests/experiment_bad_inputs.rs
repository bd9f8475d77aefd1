//! Bad experiments and dataset rows, one mistake each: every error must name the file,
//! the place (JSON pointer or line) and the rule, before anything runs.

use model::experiment::{load, ExperimentError};
use serde_json::{json, Value};
use std::path::Path;

const BASE: &str = r#"
version: "0.5"
experiment: {id: bad_inputs, name: Bad inputs}
dataset: {path: tasks.jsonl}
design:
  replications: 1
  random_seed: 1
  max_concurrency: 2
  policies:
    scheduling: variant_sequential
    retry: {max_attempts: 1, retry_on: [error]}
baseline: {variant_id: base, bindings: {k: 1}}
variant_plan:
  - {variant_id: other, bindings: {k: 2}}
runtime:
  agent: {command: [sh, -c, "true"]}
"#;

const TASKS: &str = "{\"id\":\"t1\"}\n{\"id\":\"t2\"}\n";

enum Setup {
    /// The base experiment with one change, written as YAML.
    Doc(fn(&mut Value)),
    /// The file's text as is.
    Raw(&'static str),
    /// The base experiment with this dataset text.
    Dataset(&'static str),
}

struct Case {
    file: &'static str,
    setup: Setup,
    expect: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    use Setup::*;
    vec![
        Case {
            file: "yaml_syntax.yaml",
            setup: Raw("version: \"0.5\"\nexperiment: [unclosed\n"),
            expect: &["yaml_syntax.yaml", "not valid YAML", "line"],
        },
        Case {
            file: "json_syntax.json",
            setup: Raw("{\"version\": \"0.5\",\n"),
            expect: &["json_syntax.json", "not valid JSON", "line 2"],
        },
        Case {
            file: "unknown_extension.toml",
            setup: Raw("version = 0.5"),
            expect: &["unknown_extension.toml", "*.yaml, *.yml or *.json"],
        },
        Case {
            file: "not_a_mapping.yaml",
            setup: Raw("- 1\n- 2\n"),
            expect: &["not_a_mapping.yaml", "mapping/object at the top level"],
        },
        Case {
            file: "missing_version.yaml",
            setup: Doc(|d| {
                d.as_object_mut().unwrap().remove("version");
            }),
            expect: &["missing_version.yaml", "missing top-level `version`"],
        },
        Case {
            file: "unsupported_version.yaml",
            setup: Doc(|d| d["version"] = json!("0.2")),
            expect: &["unsupported_version.yaml", "unsupported version \"0.2\""],
        },
        Case {
            file: "clean_harness_v1.yaml",
            setup: Doc(|d| d["version"] = json!("1.0")),
            // Read as the original's version 1.0 (clean harness), whose schema names
            // what a 0.5 document has that 1.0 does not.
            expect: &[
                "clean_harness_v1.yaml",
                "experiment_v1_0",
                "at /runtime",
                "\"image\" is a required property",
            ],
        },
        Case {
            file: "missing_experiment.yaml",
            setup: Doc(|d| {
                d.as_object_mut().unwrap().remove("experiment");
            }),
            expect: &[
                "missing_experiment.yaml",
                "resolved_experiment_v0_5",
                "at /:",
                "\"experiment\" is a required property",
                "rule `required`",
            ],
        },
        Case {
            file: "replications_zero.yaml",
            setup: Doc(|d| d["design"]["replications"] = json!(0)),
            expect: &[
                "replications_zero.yaml",
                "at /design/replications:",
                "rule `minimum`",
            ],
        },
        Case {
            file: "max_concurrency_zero.yaml",
            setup: Doc(|d| d["design"]["max_concurrency"] = json!(0)),
            expect: &["at /design/max_concurrency:", "rule `minimum`"],
        },
        Case {
            file: "unknown_scheduling.yaml",
            setup: Doc(|d| d["design"]["policies"]["scheduling"] = json!("round_robin")),
            expect: &[
                "unknown_scheduling.yaml",
                "at /design/policies/scheduling:",
                "round_robin",
                "rule `enum`",
            ],
        },
        Case {
            file: "unknown_state.yaml",
            setup: Doc(|d| d["design"]["policies"]["state"] = json!("shared")),
            expect: &["at /design/policies/state:", "rule `enum`"],
        },
        Case {
            file: "retry_zero.yaml",
            setup: Doc(|d| d["design"]["policies"]["retry"]["max_attempts"] = json!(0)),
            expect: &[
                "retry_zero.yaml",
                "at /design/policies/retry/max_attempts:",
                "rule `minimum`",
            ],
        },
        Case {
            file: "retry_on_unknown.yaml",
            setup: Doc(|d| {
                d["design"]["policies"]["retry"]["retry_on"] = json!(["error", "flaky"])
            }),
            expect: &[
                "retry_on_unknown.yaml",
                "at /design/policies/retry/retry_on/1:",
                "unknown retry_on class `flaky`",
                "agent_exit_nonzero",
                "infra",
            ],
        },
        Case {
            file: "per_variant_zero.yaml",
            setup: Doc(|d| {
                d["design"]["policies"]["concurrency"] = json!({"max_in_flight_per_variant": 0})
            }),
            expect: &[
                "at /design/policies/concurrency/max_in_flight_per_variant:",
                "rule `minimum`",
            ],
        },
        Case {
            file: "concurrency_typo.yaml",
            setup: Doc(|d| {
                d["design"]["policies"]["concurrency"] = json!({"require_chain_leases": true})
            }),
            expect: &[
                "at /design/policies/concurrency/require_chain_leases:",
                "did you mean `require_chain_lease`?",
            ],
        },
        // A randomized schedule without random_seed is seeded with 1, as in the original
        // runner (engine experiment test `randomized_without_seed_uses_the_original_default`).
        Case {
            file: "duplicate_variant.yaml",
            setup: Doc(|d| {
                d["variant_plan"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"variant_id": "other", "bindings": {}}))
            }),
            expect: &[
                "duplicate_variant.yaml",
                "at /variant_plan/1/variant_id:",
                "duplicate variant id `other` (already used at /variant_plan/0/variant_id)",
            ],
        },
        Case {
            file: "variant_reuses_baseline_id.yaml",
            setup: Doc(|d| d["variant_plan"][0]["variant_id"] = json!("base")),
            expect: &["at /variant_plan/0/variant_id:", "already used at /baseline/variant_id"],
        },
        Case {
            file: "bindings_not_object.yaml",
            setup: Doc(|d| d["baseline"]["bindings"] = json!("k=1")),
            expect: &["at /baseline/bindings:", "rule `type`"],
        },
        Case {
            file: "variant_override_typo.yaml",
            setup: Doc(|d| d["variant_plan"][0]["runtime"] = json!({"agent": {"argv": ["x"]}})),
            expect: &[
                "at /variant_plan/0/runtime/agent/argv:",
                "did you mean `args`?",
            ],
        },
        Case {
            file: "empty_command.yaml",
            setup: Doc(|d| d["runtime"]["agent"]["command"] = json!([])),
            expect: &["at /runtime/agent/command:", "rule `oneOf`"],
        },
        // A missing program is no longer a load error: `describe` shows it and `run`
        // refuses it (engine/model/tests/experiment_bad_inputs.rs).
        Case {
            file: "typo_timeout.yaml",
            setup: Doc(|d| d["runtime"]["agent"]["timout_ms"] = json!(5000)),
            expect: &[
                "typo_timeout.yaml:",
                "at /runtime/agent/timout_ms:",
                "did you mean `timeout_ms`?",
            ],
        },
        Case {
            file: "typo_primary_metric.yaml",
            setup: Doc(|d| d["primary_metrc"] = json!("score")),
            expect: &["at /primary_metrc:", "did you mean `primary_metric`?"],
        },
        Case {
            file: "typo_dataset_limit.yaml",
            setup: Doc(|d| d["dataset"]["limt"] = json!(1)),
            expect: &["at /dataset/limt:", "did you mean `limit`?"],
        },
        Case {
            file: "typo_replications.yaml",
            setup: Doc(|d| d["design"]["replicatoins"] = json!(3)),
            expect: &["at /design/replicatoins:", "did you mean `replications`?"],
        },
        // Recorded labels still have their values checked (the original refused an
        // unknown launch mode too).
        Case {
            file: "launch_mode_unknown.yaml",
            setup: Doc(|d| d["runtime"]["agent"]["launch"] = json!({"mode": "socket"})),
            expect: &["/runtime/agent/launch/mode", "enum"],
        },
        Case {
            file: "override_isolation.yaml",
            setup: Doc(|d| {
                d["variant_plan"][0]["runtime_overrides"] =
                    json!({"policy": {"sandbox": {"mode": "container"}}})
            }),
            expect: &[
                "at /variant_plan/0/runtime_overrides/policy/sandbox:",
                "runtime_overrides may not change runtime.policy.sandbox",
            ],
        },
        Case {
            file: "dependency_escapes.yaml",
            setup: Doc(|d| {
                d["runtime"]["dependencies"] =
                    json!({"files": [{"source": "tasks.jsonl", "dest": "../outside"}]})
            }),
            expect: &[
                "at /runtime/dependencies/files/0/dest:",
                "`../outside` contains `..`",
            ],
        },
        Case {
            file: "dependency_missing.yaml",
            setup: Doc(|d| {
                d["runtime"]["dependencies"] =
                    json!({"files": [{"source": "nope.txt", "dest": "x.txt"}]})
            }),
            expect: &[
                "at /runtime/dependencies/files/0/source:",
                "dependency source `nope.txt` not found",
            ],
        },
        Case {
            file: "dataset_missing.yaml",
            setup: Doc(|d| d["dataset"]["path"] = json!("nope.jsonl")),
            expect: &[
                "dataset_missing.yaml",
                "at /dataset/path:",
                "dataset file `nope.jsonl` not found",
            ],
        },
        Case {
            file: "dataset_limit_zero.yaml",
            setup: Doc(|d| d["dataset"]["limit"] = json!(0)),
            expect: &["at /dataset/limit:", "rule `minimum`"],
        },
        Case {
            file: "row_invalid_json.yaml",
            setup: Dataset("{\"id\":\"t1\"}\n\n{\"id\": \"t2\",\n"),
            expect: &["tasks.jsonl:3:", "invalid JSON"],
        },
        Case {
            // Unnamed rows are task_<index>, as in the original runner; one that
            // collides with an explicit id is still a duplicate.
            file: "row_without_id_collides.yaml",
            setup: Dataset("{\"id\":\"task_1\"}\n{\"prompt\":\"no id\"}\n"),
            expect: &["tasks.jsonl:2:", "duplicate task id `task_1`"],
        },
        Case {
            file: "row_numeric_id.yaml",
            setup: Dataset("{\"id\":7}\n"),
            expect: &["tasks.jsonl:1:", "task `id` must be a string, found a number"],
        },
        Case {
            file: "row_not_object.yaml",
            setup: Dataset("[1, 2]\n"),
            expect: &["tasks.jsonl:1:", "must be a JSON object, found an array"],
        },
        Case {
            file: "row_duplicate_id.yaml",
            setup: Dataset("{\"id\":\"t1\"}\n{\"id\":\"t2\"}\n{\"id\":\"t1\"}\n"),
            expect: &["tasks.jsonl:3:", "duplicate task id `t1` (first seen on line 1)"],
        },
        Case {
            file: "row_absolute_workspace_path.yaml",
            setup: Dataset(
                "{\"schema_version\":\"task_boundary_v1\",\"task\":{\"id\":\"t1\"},\"workspace_files\":[{\"path\":\"/etc/passwd\",\"content\":\"x\"}]}\n",
            ),
            expect: &["tasks.jsonl:1:", "workspace_files[0].path `/etc/passwd` is absolute"],
        },
        Case {
            file: "row_parent_workspace_path.yaml",
            setup: Dataset(
                "{\"id\":\"t0\"}\n{\"schema_version\":\"task_boundary_v1\",\"task\":{\"id\":\"t1\"},\"workspace_files\":[{\"path\":\"a/../../escape.txt\",\"content\":\"x\"}]}\n",
            ),
            expect: &["tasks.jsonl:2:", "`a/../../escape.txt` contains `..`"],
        },
        Case {
            file: "row_boundary_task_not_object.yaml",
            setup: Dataset("{\"schema_version\":\"task_boundary_v1\",\"task\":\"p\"}\n"),
            expect: &["tasks.jsonl:1:", "task_boundary_v1", "at /task:"],
        },
        Case {
            file: "row_limits_typo.yaml",
            setup: Dataset(
                "{\"schema_version\":\"task_boundary_v1\",\"task\":{\"id\":\"t1\"},\"limits\":{\"trial_second\":5}}\n",
            ),
            expect: &["tasks.jsonl:1:", "at /limits:", "rule `additionalProperties`"],
        },
        Case {
            file: "row_unknown_schema_version.yaml",
            setup: Dataset("{\"schema_version\":\"task_boundary_v9\",\"task\":{\"id\":\"t1\"}}\n"),
            expect: &["tasks.jsonl:1:", "unknown row schema_version `task_boundary_v9`"],
        },
        Case {
            file: "dataset_blank.yaml",
            setup: Dataset("\n  \n"),
            expect: &["tasks.jsonl", "the dataset has no tasks"],
        },
    ]
}

fn run_case(dir: &Path, case: &Case) -> ExperimentError {
    let path = dir.join(case.file);
    let mut tasks = TASKS;
    let text = match &case.setup {
        Setup::Raw(text) => text.to_string(),
        Setup::Doc(mutate) => {
            let mut doc: Value = serde_yaml_ng::from_str(BASE).unwrap();
            mutate(&mut doc);
            serde_yaml_ng::to_string(&doc).unwrap()
        }
        Setup::Dataset(rows) => {
            tasks = rows;
            BASE.to_string()
        }
    };
    std::fs::write(dir.join("tasks.jsonl"), tasks).unwrap();
    std::fs::write(&path, text).unwrap();
    match load(&path) {
        Ok(_) => panic!("{}: expected an error, the experiment loaded", case.file),
        Err(e) => e,
    }
}

#[test]
fn experiment_bad_inputs_name_file_place_and_rule() {
    let cases = cases();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let message = run_case(dir.path(), case).to_string();
        eprintln!("--- {}\n{message}", case.file); // shown with --nocapture
        for needle in case.expect {
            if !message.contains(needle) {
                failures.push(format!(
                    "{}: missing {needle:?} in:\n{message}\n",
                    case.file
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn experiment_base_of_the_bad_inputs_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tasks.jsonl"), TASKS).unwrap();
    let path = dir.path().join("ok.yaml");
    std::fs::write(&path, BASE).unwrap();
    let e = load(&path).expect("base experiment loads");
    assert_eq!(e.task_ids(), vec!["t1", "t2"]);
    // The same document as `.yml` and as `.json` loads to the same experiment.
    let yml = dir.path().join("ok.yml");
    std::fs::write(&yml, BASE).unwrap();
    let json = dir.path().join("ok.json");
    let doc: Value = serde_yaml_ng::from_str(BASE).unwrap();
    std::fs::write(&json, serde_json::to_string(&doc).unwrap()).unwrap();
    for other in [load(&yml).unwrap(), load(&json).unwrap()] {
        assert_eq!(other.resolved_json(), e.resolved_json());
        assert_eq!(other.digest(), e.digest());
        assert_eq!(other.variants(), e.variants());
        assert_eq!(other.tasks(), e.tasks());
    }
}

#[test]
fn experiment_schema_errors_list_every_violation() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tasks.jsonl"), TASKS).unwrap();
    let mut doc: Value = serde_yaml_ng::from_str(BASE).unwrap();
    doc["design"]["replications"] = json!(0);
    doc["design"]["max_concurrency"] = json!("four");
    let path = dir.path().join("two_mistakes.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    match load(&path).unwrap_err() {
        ExperimentError::Schema {
            schema, violations, ..
        } => {
            assert_eq!(schema, "resolved_experiment_v0_5");
            let mut at: Vec<(&str, &str)> = violations
                .iter()
                .map(|v| (v.pointer.as_str(), v.rule.as_str()))
                .collect();
            at.sort();
            assert_eq!(
                at,
                vec![
                    ("/design/max_concurrency", "type"),
                    ("/design/replications", "minimum")
                ]
            );
        }
        other => panic!("expected a schema error, got {other}"),
    }
}
