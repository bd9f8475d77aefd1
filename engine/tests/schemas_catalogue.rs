//! The schema catalogue: every journal event kind, projection document and remote worker
//! message has a registered JSON Schema, the typed Rust values validate against it, and
//! the schemas reject what they must (unknown fields, wrong enums, missing fields, legacy
//! run-control mirrors, wrong `schema_version`).

use engine::schemas::{self, SchemaError, Violation};
use journal::event::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DIGEST_A: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
const DIGEST_B: &str = "d74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24";

fn violations(name: &str, doc: &Value) -> Vec<Violation> {
    match schemas::validate(name, doc) {
        Ok(()) => panic!("`{name}` accepted a document it must reject:\n{doc:#}"),
        Err(SchemaError::Invalid { violations, .. }) => violations,
        Err(other) => panic!("`{name}`: expected Invalid, got {other}"),
    }
}

fn assert_valid(name: &str, doc: &Value) {
    if let Err(e) = schemas::validate(name, doc) {
        panic!("{e}\ndocument:\n{doc:#}");
    }
}

/// The document is rejected, and one of the violations is `rule` at `pointer`.
fn assert_rejected_with(name: &str, doc: &Value, pointer: &str, rule: &str) {
    let vs = violations(name, doc);
    assert!(
        vs.iter().any(|v| v.pointer == pointer && v.rule == rule),
        "`{name}`: expected a `{rule}` violation at `{pointer}`, got {vs:#?}"
    );
}

fn event_schema(ev: &Event) -> String {
    format!("event_{}", ev.kind())
}

/// One minimal (every Option None, every default empty) and one full value of every kind.
fn representative_events() -> Vec<(Event, Event)> {
    vec![
        (
            Event::RunCreated(RunCreated {
                run_id: "run_1".into(),
                experiment_id: "exp".into(),
                experiment_digest: DIGEST_A.into(),
                experiment: json!({"version": "0.5", "experiment": {"id": "exp"}}),
                variant_ids: vec!["base".into()],
                task_ids: vec![],
                schedule_policy: "variant_sequential".into(),
                schedule: vec![],
                max_concurrency: 1,
                pruning: PruningSpec::default(),
                primary_metric: None,
                options: Value::Null,
            }),
            Event::RunCreated(RunCreated {
                run_id: "run_1".into(),
                experiment_id: "exp".into(),
                experiment_digest: DIGEST_A.into(),
                experiment: json!({"version": "0.5", "design": {"replications": 2}}),
                variant_ids: vec!["base".into(), "treat".into()],
                task_ids: vec!["t1".into(), "t2".into()],
                schedule_policy: "paired_interleaved".into(),
                schedule: vec![SlotSpec(0, 0, 0), SlotSpec(1, 0, 0), SlotSpec(0, 1, 1)],
                max_concurrency: 4,
                pruning: PruningSpec {
                    max_consecutive_failures: Some(3),
                },
                primary_metric: Some("score".into()),
                options: json!({"runs_dir": ".lab/runs", "flags": ["--json"]}),
            }),
        ),
        (
            Event::SessionStarted(SessionStarted {
                session_id: "s-1".into(),
                pid: 42,
                host: "box".into(),
                mode: "run".into(),
                labj_version: "0.1.0".into(),
                took_over_from: None,
            }),
            Event::SessionStarted(SessionStarted {
                session_id: "s-2".into(),
                pid: 43,
                host: "box".into(),
                mode: "continue".into(),
                labj_version: "0.1.0".into(),
                took_over_from: Some(LeaseHolder {
                    session_id: "s-1".into(),
                    pid: 42,
                    host: "box".into(),
                }),
            }),
        ),
        (
            Event::TrialDispatched(TrialDispatched {
                schedule_idx: 0,
                trial_id: "trial_0".into(),
                variant_id: "base".into(),
                task_id: "t1".into(),
                repl_idx: 0,
                worker_id: "local-0".into(),
                ticket_id: "tk-0".into(),
            }),
            Event::TrialDispatched(TrialDispatched {
                schedule_idx: u64::MAX,
                trial_id: "trial_x".into(),
                variant_id: "treat".into(),
                task_id: "t2".into(),
                repl_idx: u32::MAX,
                worker_id: "remote-a/3".into(),
                ticket_id: "tk-x".into(),
            }),
        ),
        (
            Event::TrialCompleted(TrialCompleted {
                schedule_idx: 0,
                trial_id: "trial_0".into(),
                ticket_id: "tk-0".into(),
                worker_id: "local-0".into(),
                completion_seq: 0,
                classification: Classification::Success,
                outcome: None,
                metrics: BTreeMap::new(),
                attempts: vec![],
                duration_ms: 0,
                evidence: vec![],
                artifacts: vec![],
                chain_state: None,
                error: None,
            }),
            Event::TrialCompleted(TrialCompleted {
                schedule_idx: 7,
                trial_id: "trial_7".into(),
                ticket_id: "tk-7".into(),
                worker_id: "remote-a/1".into(),
                completion_seq: 2,
                classification: Classification::AgentExitNonzero,
                outcome: Some("failure".into()),
                metrics: BTreeMap::from([("score".into(), 0.25), ("tokens".into(), -1e9)]),
                attempts: vec![
                    AttemptRecord {
                        attempt: 1,
                        classification: Classification::Timeout,
                        exit_code: None,
                        duration_ms: 1000,
                        detail: None,
                    },
                    AttemptRecord {
                        attempt: 2,
                        classification: Classification::AgentExitNonzero,
                        exit_code: Some(-9),
                        duration_ms: 12,
                        detail: Some("killed".into()),
                    },
                ],
                duration_ms: 1012,
                evidence: vec![EvidenceRef {
                    class: "workspace_diff".into(),
                    path: "trials/trial_7/evidence/diff.patch".into(),
                    digest: DIGEST_A.into(),
                    bytes: 120,
                }],
                artifacts: vec![ArtifactRef {
                    name: "patch".into(),
                    digest: DIGEST_B.into(),
                    bytes: 0,
                }],
                chain_state: Some(ChainStateRef {
                    chain_id: "base/t2".into(),
                    state_digest: DIGEST_B.into(),
                }),
                error: Some("agent exited with 1".into()),
            }),
        ),
        (
            Event::CompletionDropped(CompletionDropped {
                schedule_idx: 1,
                trial_id: "trial_1".into(),
                ticket_id: "tk-1".into(),
                completion_seq: 0,
                reason: "duplicate".into(),
                dedupe_key: "run_1/1/trial_1/0".into(),
            }),
            Event::CompletionDropped(CompletionDropped {
                schedule_idx: 9,
                trial_id: "trial_9".into(),
                ticket_id: "tk-9".into(),
                completion_seq: 3,
                reason: "stale ticket".into(),
                dedupe_key: "run_1/9/trial_9/3".into(),
            }),
        ),
        (
            Event::WorkerLost(WorkerLost {
                schedule_idx: 2,
                trial_id: "trial_2".into(),
                worker_id: "local-1".into(),
                ticket_id: "tk-2".into(),
                reason: "recovered after crash".into(),
            }),
            Event::WorkerLost(WorkerLost {
                schedule_idx: 3,
                trial_id: "trial_3".into(),
                worker_id: "remote-b/0".into(),
                ticket_id: "tk-3".into(),
                reason: "remote ticket unknown".into(),
            }),
        ),
        (
            Event::SlotCommitted(SlotCommitted {
                schedule_idx: 0,
                trial_id: "trial_0".into(),
                status: SlotStatus::Completed,
                classification: Classification::Success,
            }),
            Event::SlotCommitted(SlotCommitted {
                schedule_idx: 2,
                trial_id: "trial_2".into(),
                status: SlotStatus::WorkerLost,
                classification: Classification::WorkerLost,
            }),
        ),
        (
            Event::SlotSkippedPruned(SlotSkippedPruned {
                schedule_idx: 4,
                trial_id: "trial_4".into(),
                variant_id: "treat".into(),
            }),
            Event::SlotSkippedPruned(SlotSkippedPruned {
                schedule_idx: 5,
                trial_id: "trial_5".into(),
                variant_id: "treat".into(),
            }),
        ),
        (
            Event::VariantPruned(VariantPruned {
                variant_id: "treat".into(),
                consecutive_failures: 3,
                at_schedule_idx: 3,
            }),
            Event::VariantPruned(VariantPruned {
                variant_id: "base".into(),
                consecutive_failures: 1,
                at_schedule_idx: 0,
            }),
        ),
        (
            Event::PauseRequested(PauseRequested {
                request_id: "req-1".into(),
                trial_id: None,
                label: None,
                requested_by: "cli".into(),
                requested_at: "2025-01-01T00:00:00Z".into(),
            }),
            Event::PauseRequested(PauseRequested {
                request_id: "req-2".into(),
                trial_id: Some("trial_1".into()),
                label: Some("checkpoint".into()),
                requested_by: "cli pid 77".into(),
                requested_at: "2025-01-01T00:00:01.5Z".into(),
            }),
        ),
        (
            Event::PauseAcked(PauseAcked {
                request_id: "req-1".into(),
                trial_id: "trial_0".into(),
                worker_id: "local-0".into(),
                accepted: true,
                reason: None,
            }),
            Event::PauseAcked(PauseAcked {
                request_id: "req-1".into(),
                trial_id: "trial_1".into(),
                worker_id: "local-1".into(),
                accepted: false,
                reason: Some("process already exited".into()),
            }),
        ),
        (
            Event::ResumeRequested(ResumeRequested {
                request_id: "req-3".into(),
                trial_id: None,
                requested_by: "cli".into(),
                resumed_trials: vec![],
            }),
            Event::ResumeRequested(ResumeRequested {
                request_id: "req-4".into(),
                trial_id: Some("trial_1".into()),
                requested_by: "cli".into(),
                resumed_trials: vec!["trial_1".into()],
            }),
        ),
        (
            Event::StopRequested(StopRequested {
                request_id: "req-5".into(),
                scope: "kill".into(),
                trial_id: None,
                requested_by: "cli".into(),
                reason: None,
            }),
            Event::StopRequested(StopRequested {
                request_id: "req-6".into(),
                scope: "cancel".into(),
                trial_id: Some("trial_2".into()),
                requested_by: "cli".into(),
                reason: Some("stuck".into()),
            }),
        ),
        (
            Event::RunPaused(RunPaused {
                request_id: "req-1".into(),
                label: None,
                paused_trials: vec![],
            }),
            Event::RunPaused(RunPaused {
                request_id: "req-2".into(),
                label: Some("checkpoint".into()),
                paused_trials: vec!["trial_0".into(), "trial_1".into()],
            }),
        ),
        (
            Event::RunInterrupted(RunInterrupted {
                reason: "pause failed".into(),
                survivors: vec![],
            }),
            Event::RunInterrupted(RunInterrupted {
                reason: "pause failed for 1 of 2 trials".into(),
                survivors: vec!["trial_1".into()],
            }),
        ),
        (
            Event::RunCompleted(RunCompleted { committed_slots: 0 }),
            Event::RunCompleted(RunCompleted {
                committed_slots: 12,
            }),
        ),
        (
            Event::RunFailed(RunFailed {
                error: "backend quarantined".into(),
            }),
            Event::RunFailed(RunFailed {
                error: "schema mismatch from remote-a: got remote_worker_poll_v0".into(),
            }),
        ),
        (
            Event::RunKilled(RunKilled {
                request_id: "req-5".into(),
                stopped_trials: vec![],
            }),
            Event::RunKilled(RunKilled {
                request_id: "req-5".into(),
                stopped_trials: vec!["trial_0".into(), "trial_3".into()],
            }),
        ),
        (
            Event::BackendWarning(BackendWarning {
                code: "note".into(),
                message: "something".into(),
                requested: None,
                effective: None,
            }),
            Event::BackendWarning(BackendWarning {
                code: "capacity_ceiling".into(),
                message: "AGENTLAB_LOCAL_WORKER_MAX_IN_FLIGHT=2 is below max_concurrency=4".into(),
                requested: Some(4),
                effective: Some(2),
            }),
        ),
        (
            Event::ConcurrencySet(ConcurrencySet {
                request_id: "req-7".into(),
                max_concurrency: 1,
                requested_by: "cli".into(),
            }),
            Event::ConcurrencySet(ConcurrencySet {
                request_id: "req-8".into(),
                max_concurrency: 64,
                requested_by: "cli".into(),
            }),
        ),
    ]
}

#[test]
fn every_event_kind_has_a_schema_and_typed_payloads_validate() {
    let events = representative_events();
    let mut covered = BTreeSet::new();
    for (minimal, full) in &events {
        assert_eq!(minimal.kind(), full.kind(), "pair must be of one kind");
        for ev in [minimal, full] {
            assert_valid(&event_schema(ev), &ev.payload_value());
            // And what validates decodes back to the same typed value.
            assert_eq!(&Event::decode(ev.kind(), &ev.payload_json()).unwrap(), ev);
        }
        covered.insert(minimal.kind());
    }
    let all: BTreeSet<&str> = EVENT_KINDS.iter().copied().collect();
    assert_eq!(
        covered, all,
        "the test must cover every kind of EVENT_KINDS, no more, no less"
    );
    let registered: BTreeSet<String> = schemas::names()
        .into_iter()
        .filter_map(|n| n.strip_prefix("event_").map(str::to_string))
        .collect();
    let all: BTreeSet<String> = EVENT_KINDS.iter().map(|k| k.to_string()).collect();
    assert_eq!(registered, all, "event_<kind> registry entries");
}

/// The `#[serde(default)]` fields of each kind: they may be absent on input.
const DEFAULT_FIELDS: &[(&str, &[&str])] = &[
    ("run_created", &["pruning", "options"]),
    (
        "trial_completed",
        &["metrics", "attempts", "evidence", "artifacts"],
    ),
    ("resume_requested", &["resumed_trials"]),
    ("run_interrupted", &["survivors"]),
];

#[test]
fn minimal_event_payloads_validate_with_default_fields_absent() {
    for (minimal, _) in representative_events() {
        let mut v = minimal.payload_value();
        let obj = v.as_object_mut().unwrap();
        // Options that are None are skipped by serde already.
        assert!(obj
            .values()
            .all(|x| !x.is_null() || minimal.kind() == "run_created"));
        let defaults = DEFAULT_FIELDS
            .iter()
            .find(|(k, _)| *k == minimal.kind())
            .map_or(&[][..], |(_, f)| *f);
        for field in defaults {
            assert!(obj.remove(*field).is_some(), "{}: {field}", minimal.kind());
        }
        assert_valid(&event_schema(&minimal), &v);
        let back = Event::decode(minimal.kind(), &v.to_string()).unwrap();
        assert_eq!(back, minimal);
        // Every other field is required.
        for field in v.as_object().unwrap().keys() {
            let mut short = v.clone();
            short.as_object_mut().unwrap().remove(field);
            assert_rejected_with(&event_schema(&minimal), &short, "", "required");
            assert!(
                Event::decode(minimal.kind(), &short.to_string()).is_err(),
                "{}: serde accepts a payload without `{field}`, the schema must too",
                minimal.kind()
            );
        }
    }
}

#[test]
fn event_schemas_reject_unknown_fields() {
    for (minimal, full) in representative_events() {
        for ev in [minimal, full] {
            let mut v = ev.payload_value();
            v.as_object_mut()
                .unwrap()
                .insert("kind".into(), json!(ev.kind()));
            assert_rejected_with(&event_schema(&ev), &v, "", "additionalProperties");
        }
    }
    // Nested objects are closed too.
    let (_, full) = &representative_events()[3];
    let mut v = full.payload_value();
    v["attempts"][1]["signal"] = json!(9);
    assert_rejected_with(
        "event_trial_completed",
        &v,
        "/attempts/1",
        "additionalProperties",
    );
    let mut v = full.payload_value();
    v["evidence"][0]["mtime"] = json!(0);
    assert_rejected_with(
        "event_trial_completed",
        &v,
        "/evidence/0",
        "additionalProperties",
    );
}

#[test]
fn event_schemas_reject_wrong_classification_status_and_missing_fields() {
    let committed = Event::SlotCommitted(SlotCommitted {
        schedule_idx: 0,
        trial_id: "trial_0".into(),
        status: SlotStatus::Failed,
        classification: Classification::GradeError,
    });
    let mut v = committed.payload_value();
    v["classification"] = json!("GradeError");
    assert_rejected_with("event_slot_committed", &v, "/classification", "enum");
    let mut v = committed.payload_value();
    v["status"] = json!("skipped");
    assert_rejected_with("event_slot_committed", &v, "/status", "enum");
    let mut v = committed.payload_value();
    v.as_object_mut().unwrap().remove("trial_id");
    assert_rejected_with("event_slot_committed", &v, "", "required");

    // Every Classification the code knows is accepted, nothing else.
    for c in Classification::ALL {
        let mut v = committed.payload_value();
        v["classification"] = json!(c.as_str());
        assert_valid("event_slot_committed", &v);
    }

    let (_, full) = &representative_events()[3];
    let mut v = full.payload_value();
    v["attempts"][0]["classification"] = json!("timed_out");
    assert_rejected_with(
        "event_trial_completed",
        &v,
        "/attempts/0/classification",
        "enum",
    );
    let mut v = full.payload_value();
    v.as_object_mut().unwrap().remove("completion_seq");
    assert_rejected_with("event_trial_completed", &v, "", "required");
    let mut v = full.payload_value();
    v["metrics"]["score"] = json!("high");
    assert_rejected_with("event_trial_completed", &v, "/metrics/score", "type");
    let mut v = full.payload_value();
    v["evidence"][0]["digest"] = json!("not-a-digest");
    assert_rejected_with("event_trial_completed", &v, "/evidence/0/digest", "pattern");

    // SlotSpec is a 3-element array.
    let (_, created) = &representative_events()[0];
    let mut v = created.payload_value();
    v["schedule"][1] = json!([1, 0]);
    assert_rejected_with("event_run_created", &v, "/schedule/1", "minItems");
    let mut v = created.payload_value();
    v["schedule"][1] = json!({"variant_idx": 1, "task_idx": 0, "repl_idx": 0});
    assert_rejected_with("event_run_created", &v, "/schedule/1", "type");

    // Other closed vocabularies.
    let mut v = representative_events()[1].0.payload_value();
    v["mode"] = json!("resume");
    assert_rejected_with("event_session_started", &v, "/mode", "enum");
    let mut v = representative_events()[12].0.payload_value();
    v["scope"] = json!("cancel"); // cancel without a trial
    assert_rejected_with("event_stop_requested", &v, "", "required");
    let mut v = representative_events()[19].0.payload_value();
    v["max_concurrency"] = json!(0);
    assert_rejected_with("event_concurrency_set", &v, "/max_concurrency", "minimum");

    // The reported violation names the pointer and the rule, in the Display too.
    let err = schemas::validate("event_slot_committed", &json!({"schedule_idx": -1})).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("at /schedule_idx") && text.contains("rule `minimum`"),
        "{text}"
    );
    assert!(text.contains("rule `required`"), "{text}");
}

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
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
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
        "schemas/ files missing from engine::schemas::SCHEMAS:\n  {}",
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
            || ["run_control_v2", "schedule_progress_v2", "aggregates_v1"].contains(&n)
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
