//! Schema catalogue, documents: projection documents (run_control_v2 without legacy
//! mirrors, schedule_progress_v2, aggregates_v1) and remote worker messages validate and
//! reject what they must; every schema file is registered and compiles.

use model::schemas::{self, SchemaError};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod schemas_support;
use schemas_support::*;

fn run_control_doc() -> Value {
    json!({
        "schema_version": "run_control_v2",
        "run_id": "run_1",
        "status": "interrupted",
        "active_trials": {
            "trial_0": {
                "trial_id": "trial_0",
                "worker_id": "local-0",
                "schedule_idx": 0,
                "variant_id": "base",
                "task_id": "t1",
                "started_at": "2025-01-01T00:00:00Z",
                "control": {
                    "state": "paused",
                    "last_ack": {"request_id": "req-1", "accepted": true, "reason": null}
                }
            },
            "trial_1": {
                "trial_id": "trial_1",
                "worker_id": "local-1",
                "schedule_idx": 1,
                "variant_id": "treat",
                "task_id": "t1",
                "started_at": "2025-01-01T00:00:00Z",
                "control": {
                    "state": "running",
                    "last_ack": {"request_id": "req-1", "accepted": false, "reason": "exited"}
                }
            },
            "trial_2": {
                "trial_id": "trial_2",
                "worker_id": "local-2",
                "schedule_idx": 2,
                "variant_id": "base",
                "task_id": "t2",
                "started_at": "2025-01-01T00:00:00Z",
                "control": {"state": "running", "last_ack": null}
            }
        },
        "pause": {
            "request_id": "req-1",
            "label": null,
            "requested_at": "2025-01-01T00:00:01Z",
            "requested_by": "cli",
            "trial_id": null
        },
        "max_concurrency": 4,
        "warnings": ["capacity ceiling 2 < 4"],
        "last_error": null,
        "updated_at": "2025-01-01T00:00:02Z",
        "last_event_idx": 17
    })
}

#[test]
fn run_control_v2_schema_accepts_valid_and_rejects_legacy_mirrors() {
    let doc = run_control_doc();
    assert_valid("run_control_v2", &doc);

    let mut quiet = doc.clone();
    quiet["status"] = json!("completed");
    quiet["active_trials"] = json!({});
    quiet["pause"] = Value::Null;
    quiet["warnings"] = json!([]);
    quiet["last_error"] = json!("none really");
    assert_valid("run_control_v2", &quiet);

    for legacy in ["active_trial_id", "active_adapter"] {
        let mut bad = doc.clone();
        bad[legacy] = json!("trial_0");
        let vs = violations("run_control_v2", &bad);
        assert!(
            vs.iter().any(|v| v.pointer.is_empty() && v.rule == "not"),
            "{legacy}: {vs:#?}"
        );
        assert!(
            vs.iter()
                .any(|v| v.pointer.is_empty() && v.rule == "additionalProperties"),
            "{legacy}: {vs:#?}"
        );
        // Even a null legacy mirror is rejected.
        bad[legacy] = Value::Null;
        assert_rejected_with("run_control_v2", &bad, "", "not");
    }

    let mut bad = doc.clone();
    bad["status"] = json!("pausing");
    assert_rejected_with("run_control_v2", &bad, "/status", "enum");
    let mut bad = doc.clone();
    bad["active_trials"]["trial_0"]["adapter"] = json!("x");
    assert_rejected_with(
        "run_control_v2",
        &bad,
        "/active_trials/trial_0",
        "additionalProperties",
    );
    let mut bad = doc.clone();
    bad["active_trials"]["trial_2"]["control"]["state"] = json!("frozen");
    assert_rejected_with(
        "run_control_v2",
        &bad,
        "/active_trials/trial_2/control/state",
        "enum",
    );
    let mut bad = doc.clone();
    bad.as_object_mut().unwrap().remove("updated_at");
    assert_rejected_with("run_control_v2", &bad, "", "required");
    let mut bad = doc.clone();
    bad["max_concurrency"] = json!(0);
    assert_rejected_with("run_control_v2", &bad, "/max_concurrency", "minimum");
    let mut bad = doc.clone();
    bad["schema_version"] = json!("run_control_v1");
    assert_rejected_with("run_control_v2", &bad, "/schema_version", "const");
}

#[test]
fn schedule_progress_v2_schema_accepts_valid_and_rejects_invalid() {
    let doc = json!({
        "schema_version": "schedule_progress_v2",
        "total_slots": 8,
        "next_commit_idx": 5,
        "committed_slots": 5,
        "by_status": {"completed": 2, "failed": 1, "skipped_pruned": 1, "worker_lost": 1},
        "pruned_variants": ["treat"],
        "consecutive_failures": {"base": 0, "treat": 3},
        "in_flight": 2,
        "pending_commit": 1
    });
    assert_valid("schedule_progress_v2", &doc);

    let mut bad = doc.clone();
    bad["by_status"]["pruned"] = json!(1);
    assert_rejected_with(
        "schedule_progress_v2",
        &bad,
        "/by_status",
        "additionalProperties",
    );
    let mut bad = doc.clone();
    bad["by_status"]
        .as_object_mut()
        .unwrap()
        .remove("worker_lost");
    assert_rejected_with("schedule_progress_v2", &bad, "/by_status", "required");
    let mut bad = doc.clone();
    bad["consecutive_failures"]["base"] = json!(-1);
    assert_rejected_with(
        "schedule_progress_v2",
        &bad,
        "/consecutive_failures/base",
        "minimum",
    );
    let mut bad = doc.clone();
    bad["next_commit_idx"] = json!(1.5);
    assert_rejected_with("schedule_progress_v2", &bad, "/next_commit_idx", "type");
    let mut bad = doc;
    bad["committed"] = json!([0, 1]);
    assert_rejected_with("schedule_progress_v2", &bad, "", "additionalProperties");
}

#[test]
fn aggregates_v1_schema_accepts_valid_and_rejects_invalid() {
    let agg = json!({
        "committed": 4, "completed": 3, "failed": 1, "skipped_pruned": 0, "worker_lost": 0,
        "succeeded": 2, "success_rate": 0.5, "primary_metric": "score",
        "primary_metric_mean": 0.75,
        "metric_sums": {"score": 3.0, "tokens": 1200},
        "metric_counts": {"score": 4, "tokens": 4},
        "by_classification": {"success": 2, "failure": 1, "worker_lost": 1}
    });
    let empty = json!({
        "committed": 0, "completed": 0, "failed": 0, "skipped_pruned": 0, "worker_lost": 0,
        "succeeded": 0, "success_rate": null, "primary_metric": null,
        "primary_metric_mean": null, "metric_sums": {}, "metric_counts": {},
        "by_classification": {}
    });
    let doc = json!({
        "schema_version": "aggregates_v1",
        "overall": agg,
        "variants": {"base": agg, "treat": empty}
    });
    assert_valid("aggregates_v1", &doc);
    assert_valid(
        "aggregates_v1",
        &json!({"schema_version": "aggregates_v1", "overall": empty, "variants": {}}),
    );

    let mut bad = doc.clone();
    bad["variants"]["base"]["by_classification"]["timed_out"] = json!(1);
    let vs = violations("aggregates_v1", &bad);
    assert!(
        vs.iter()
            .any(|v| v.pointer == "/variants/base/by_classification" && v.rule == "enum"),
        "{vs:#?}"
    );
    let mut bad = doc.clone();
    bad["overall"]["success_rate"] = json!(1.5);
    assert_rejected_with("aggregates_v1", &bad, "/overall/success_rate", "maximum");
    let mut bad = doc.clone();
    bad["overall"]["metric_sums"]["score"] = json!(null);
    assert_rejected_with("aggregates_v1", &bad, "/overall/metric_sums/score", "type");
    let mut bad = doc.clone();
    bad["variants"]["treat"]
        .as_object_mut()
        .unwrap()
        .remove("succeeded");
    assert_rejected_with("aggregates_v1", &bad, "/variants/treat", "required");
    let mut bad = doc;
    bad["variants"]["base"]["mean"] = json!(0.1);
    assert_rejected_with(
        "aggregates_v1",
        &bad,
        "/variants/base",
        "additionalProperties",
    );
}

/// v2 adds the infrastructure (and cancellation) columns; a v1 document (no `infra`) is not a v2 one.
#[test]
fn aggregates_v2_schema_requires_the_infra_columns() {
    let agg = json!({
        "committed": 5, "completed": 3, "failed": 1, "skipped_pruned": 0, "worker_lost": 1,
        "infra": 1, "cancelled": 0, "infra_retried": 2, "scored": 4,
        "succeeded": 2, "success_rate": 0.5, "primary_metric": "score",
        "primary_metric_mean": 0.75,
        "metric_sums": {"score": 3.0}, "metric_counts": {"score": 4},
        "by_classification": {"success": 2, "failure": 2, "worker_lost": 1}
    });
    let doc = json!({"schema_version": "aggregates_v2", "overall": agg, "variants": {"base": agg}});
    assert_valid("aggregates_v2", &doc);
    for field in ["infra", "cancelled", "infra_retried", "scored"] {
        let mut bad = doc.clone();
        bad["overall"].as_object_mut().unwrap().remove(field);
        assert_rejected_with("aggregates_v2", &bad, "/overall", "required");
    }
    let mut bad = doc.clone();
    bad["variants"]["base"]["infra"] = json!(-1);
    assert_rejected_with("aggregates_v2", &bad, "/variants/base/infra", "minimum");
    let mut old = doc;
    old["schema_version"] = json!("aggregates_v1");
    assert_rejected_with("aggregates_v2", &old, "/schema_version", "const");
}

fn remote_samples() -> Vec<(&'static str, Value)> {
    vec![
        (
            "remote_worker_submit_v1",
            json!({
                "schema_version": "remote_worker_submit_v1",
                "run_id": "run_1",
                "dispatch": {
                    "schedule_idx": 3, "trial_id": "trial_3", "ticket_id": "tk-3",
                    "variant_id": "base", "task_id": "t2", "repl_idx": 1,
                    "spec": {"agent": {"command": ["python", "agent.py"]}, "timeout_ms": 1000}
                }
            }),
        ),
        (
            "remote_worker_submit_response_v1",
            json!({"schema_version": "remote_worker_submit_response_v1", "accepted": true, "ticket_id": "tk-3"}),
        ),
        (
            "remote_worker_submit_response_v1",
            json!({"schema_version": "remote_worker_submit_response_v1", "accepted": false,
                   "ticket_id": "tk-3", "reason": "capacity"}),
        ),
        (
            "remote_worker_poll_v1",
            json!({"schema_version": "remote_worker_poll_v1", "run_id": "run_1",
                   "ack_completion_keys": ["run_1/3/trial_3/0"], "max_completions": 16, "wait_ms": 500}),
        ),
        (
            "remote_worker_poll_response_v1",
            json!({"schema_version": "remote_worker_poll_response_v1", "completions": [
                {"run_id": "run_1", "schedule_idx": 3, "trial_id": "trial_3", "ticket_id": "tk-3",
                 "completion_seq": 0, "outcome": {"classification": "success", "metrics": {"score": 1.0}}}
            ]}),
        ),
        (
            "remote_worker_poll_response_v1",
            json!({"schema_version": "remote_worker_poll_response_v1", "completions": []}),
        ),
        (
            "remote_worker_pause_v1",
            json!({"schema_version": "remote_worker_pause_v1", "run_id": "run_1", "ticket_id": "tk-3"}),
        ),
        (
            "remote_worker_pause_v1",
            json!({"schema_version": "remote_worker_pause_v1", "run_id": "run_1",
                   "ticket_id": "tk-3", "label": "checkpoint"}),
        ),
        (
            "remote_worker_pause_response_v1",
            json!({"schema_version": "remote_worker_pause_response_v1", "ticket_id": "tk-3",
                   "accepted": false, "reason": "unknown ticket"}),
        ),
        (
            "remote_worker_stop_v1",
            json!({"schema_version": "remote_worker_stop_v1", "run_id": "run_1",
                   "ticket_id": "tk-3", "reason": "kill"}),
        ),
        (
            "remote_worker_stop_response_v1",
            json!({"schema_version": "remote_worker_stop_response_v1", "ticket_id": "tk-3", "accepted": true}),
        ),
        (
            "remote_worker_resume_v1",
            json!({"schema_version": "remote_worker_resume_v1", "run_id": "run_1", "ticket_id": "tk-3"}),
        ),
        (
            "remote_worker_resume_response_v1",
            json!({"schema_version": "remote_worker_resume_response_v1", "ticket_id": "tk-3",
                   "accepted": false, "reason": "trial is not paused"}),
        ),
        (
            "remote_worker_ack_v1",
            json!({"schema_version": "remote_worker_ack_v1", "run_id": "run_1",
                   "completion_keys": ["run_1/3/trial_3/1"]}),
        ),
        (
            "remote_worker_ack_response_v1",
            json!({"schema_version": "remote_worker_ack_response_v1", "acked": 1}),
        ),
        (
            "remote_worker_health_v1",
            json!({"schema_version": "remote_worker_health_v1"}),
        ),
        (
            "remote_worker_health_response_v1",
            json!({"schema_version": "remote_worker_health_response_v1", "worker_id": "w1",
                   "labj_version": "0.1.0", "slots": 4, "running": 1, "undelivered": 0,
                   "draining": false}),
        ),
        (
            "remote_worker_tickets_v1",
            json!({"schema_version": "remote_worker_tickets_v1", "run_id": "run_1"}),
        ),
        (
            "remote_worker_blob_v1",
            json!({"schema_version": "remote_worker_blob_v1", "run_id": "01a2-run_1",
                   "digest": "ab".repeat(32)}),
        ),
        (
            "remote_worker_tickets_response_v1",
            json!({"schema_version": "remote_worker_tickets_response_v1", "tickets": [
                {"ticket_id": "tk-3", "schedule_idx": 3, "trial_id": "trial_3", "state": "finished",
                 "classification": "success"}
            ]}),
        ),
    ]
}

#[test]
fn remote_worker_messages_validate_and_reject_wrong_schema_version() {
    let samples = remote_samples();
    let covered: BTreeSet<&str> = samples.iter().map(|(n, _)| *n).collect();
    let registered: BTreeSet<&str> = schemas::names()
        .into_iter()
        .filter(|n| n.starts_with("remote_worker_"))
        .collect();
    assert_eq!(
        covered, registered,
        "every remote message schema has samples"
    );

    for (name, doc) in &samples {
        assert_valid(name, doc);

        // The version of another message, or an older one, is rejected.
        for wrong in [json!("remote_worker_v0"), json!(name.replace("_v1", "_v2"))] {
            let mut bad = doc.clone();
            bad["schema_version"] = wrong;
            assert_rejected_with(name, &bad, "/schema_version", "const");
        }
        for (other, _) in &samples {
            if other != name {
                let mut bad = doc.clone();
                bad["schema_version"] = json!(other);
                assert_rejected_with(name, &bad, "/schema_version", "const");
            }
        }
        let mut bad = doc.clone();
        bad.as_object_mut().unwrap().remove("schema_version");
        assert_rejected_with(name, &bad, "", "required");
        let mut bad = doc.clone();
        bad["token"] = json!("secret");
        assert_rejected_with(name, &bad, "", "additionalProperties");
    }

    // A blob is named by its digest only: nothing that could leave the blob store.
    let blob = |run_id: &str, digest: &str| json!({"schema_version": "remote_worker_blob_v1", "run_id": run_id, "digest": digest});
    let hex = "ab".repeat(32);
    assert_rejected_with(
        "remote_worker_blob_v1",
        &blob("r", "../../etc/passwd"),
        "/digest",
        "pattern",
    );
    assert_rejected_with(
        "remote_worker_blob_v1",
        &blob("r", &hex.to_uppercase()),
        "/digest",
        "pattern",
    );
    assert_rejected_with(
        "remote_worker_blob_v1",
        &blob("../r", &hex),
        "/run_id",
        "pattern",
    );
    assert_rejected_with(
        "remote_worker_blob_v1",
        &blob(".hidden", &hex),
        "/run_id",
        "pattern",
    );

    let mut bad = samples[0].1.clone();
    bad["dispatch"]["spec"] = json!("python agent.py");
    assert_rejected_with("remote_worker_submit_v1", &bad, "/dispatch/spec", "type");
    let mut bad = samples[4].1.clone();
    bad["completions"][0]
        .as_object_mut()
        .unwrap()
        .remove("completion_seq");
    assert_rejected_with(
        "remote_worker_poll_response_v1",
        &bad,
        "/completions/0",
        "required",
    );
}

#[test]
fn every_registered_schema_compiles() {
    let names = schemas::names();
    assert!(!names.is_empty());
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "SCHEMAS must be sorted by name");
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "duplicate registry names");
    for name in names {
        match schemas::validate(name, &Value::Null) {
            Ok(()) | Err(SchemaError::Invalid { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(matches!(
        schemas::validate("no_such_schema", &Value::Null),
        Err(SchemaError::Unknown { .. })
    ));
}

fn jsonschema_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            jsonschema_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonschema") {
            out.push(path);
        }
    }
}

/// The registry name of a schema file: its path under `schemas/` without the extension,
/// `/` joined by `_`; files under `events/` are named `event_<kind>`.
fn expected_name(rel: &Path) -> String {
    let stem = rel.with_extension("");
    let parts: Vec<String> = stem
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [dir, kind] if dir == "events" => format!("event_{kind}"),
        _ => parts.join("_"),
    }
}

#[test]
fn every_schema_file_on_disk_is_registered() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let mut files = Vec::new();
    jsonschema_files(&root, &mut files);
    files.sort();
    assert!(!files.is_empty());
    let mut missing = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", rel.display()));
        let name = expected_name(rel);
        match schemas::SCHEMAS.iter().find(|(n, _)| *n == name) {
            Some((_, registered)) if *registered == text => {}
            Some(_) => missing.push(format!(
                "{} is registered as `{name}` but with different text",
                rel.display()
            )),
            None => missing.push(format!(
                "{} is not registered (expected name `{name}`)",
                rel.display()
            )),
        }
    }
    assert!(
        missing.is_empty(),
        "schemas/ files missing from model::schemas::SCHEMAS:\n  {}",
        missing.join("\n  ")
    );
    // And the reverse: no registry entry without a file.
    let on_disk: BTreeSet<String> = files
        .iter()
        .map(|f| expected_name(f.strip_prefix(&root).unwrap()))
        .collect();
    for name in schemas::names() {
        assert!(
            on_disk.contains(name),
            "`{name}` is registered but has no file"
        );
    }
}

#[test]
fn catalogue_schemas_declare_draft_2020_12() {
    let ours = |n: &str| {
        n.starts_with("event_")
            || n.starts_with("remote_worker_")
            || [
                "run_control_v2",
                "schedule_progress_v2",
                "aggregates_v1",
                "aggregates_v2",
            ]
            .contains(&n)
    };
    for (name, text) in schemas::SCHEMAS.iter().filter(|(n, _)| ours(n)) {
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            v["$schema"],
            json!("https://json-schema.org/draft/2020-12/schema"),
            "`{name}` must declare draft 2020-12"
        );
    }
}
