//! Schema catalogue, journal events: every event kind has a registered JSON Schema, the
//! typed Rust payloads validate against it, and the schemas reject unknown fields, wrong
//! enums and missing fields.

use journal::event::*;
use model::schemas;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

mod schemas_support;
use schemas_support::*;

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
                    counts: journal::event::StreakCounts::AgentFailures,
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
                inputs_changed: None,
                budget: None,
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
                inputs_changed: Some(InputsChanged {
                    changed: vec!["agent_programs".into()],
                    inputs: [("agent_programs".to_string(), "ab12".to_string())].into(),
                    inputs_digest: "cd34".into(),
                }),
                budget: Some(BudgetLimits {
                    max_cost_usd: Some(2.5),
                    max_tokens: Some(100_000.0),
                    per_variant_max_cost_usd: Some(1.0),
                    per_variant_max_tokens: Some(40_000.0),
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
                result: TrialOutcome {
                    classification: Classification::Success,
                    outcome: None,
                    metrics: BTreeMap::new(),
                    other_metrics: Default::default(),
                    attempts: vec![],
                    duration_ms: 0,
                    evidence: vec![],
                    artifacts: vec![],
                    chain_state: None,
                    error: None,
                    isolation: None,
                },
            }),
            Event::TrialCompleted(TrialCompleted {
                schedule_idx: 7,
                trial_id: "trial_7".into(),
                ticket_id: "tk-7".into(),
                worker_id: "remote-a/1".into(),
                completion_seq: 2,
                result: TrialOutcome {
                    classification: Classification::AgentExitNonzero,
                    outcome: Some("failure".into()),
                    metrics: BTreeMap::from([("score".into(), 0.25), ("tokens".into(), -1e9)]),
                    other_metrics: Default::default(),
                    attempts: vec![
                        AttemptRecord {
                            attempt: 1,
                            classification: Classification::Timeout,
                            exit_code: None,
                            duration_ms: 1000,
                            detail: None,
                            leaked_processes: None,
                        },
                        AttemptRecord {
                            attempt: 2,
                            classification: Classification::AgentExitNonzero,
                            exit_code: Some(-9),
                            duration_ms: 12,
                            detail: Some("killed".into()),
                            leaked_processes: None,
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
                        written_bytes: Some(7),
                    }],
                    chain_state: Some(ChainStateRef {
                        chain_id: "base/t2".into(),
                        state_digest: DIGEST_B.into(),
                    }),
                    error: Some("agent exited with 1".into()),
                    isolation: Some(Box::new(IsolationRecord {
                        mode: "container".into(),
                        engine: Some("podman 4.3.1".into()),
                        image: Some("localhost/agent:1".into()),
                        image_digest: Some(format!("sha256:{DIGEST_A}")),
                        network: "none".into(),
                        limits: BTreeMap::from([("memory_mb".into(), 64)]),
                        host_env_passed: vec!["OPENAI_API_KEY".into()],
                    })),
                },
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
                classification: Classification::WorkerLost,
                retry: false,
                stopped_by_kill: false,
            }),
            Event::WorkerLost(WorkerLost {
                schedule_idx: 3,
                trial_id: "trial_3".into(),
                worker_id: "remote-b/0".into(),
                ticket_id: "tk-3".into(),
                reason: "remote ticket unknown".into(),
                classification: Classification::SpawnFailure,
                retry: true,
                stopped_by_kill: true,
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
                digests: vec![],
            }),
            Event::BackendWarning(BackendWarning {
                code: "capacity_ceiling".into(),
                message: "AGENTLAB_LOCAL_WORKER_MAX_IN_FLIGHT=2 is below max_concurrency=4".into(),
                requested: Some(4),
                effective: Some(2),
                digests: vec![DIGEST_A.into()],
            }),
        ),
        (
            Event::BackendJobSubmitted(BackendJobSubmitted {
                schedule_idx: 0,
                trial_id: "trial_000000".into(),
                ticket_id: "tk_a_0".into(),
                backend: "slurm".into(),
                job_id: "17".into(),
                action: "submitted".into(),
            }),
            Event::BackendJobSubmitted(BackendJobSubmitted {
                schedule_idx: 9,
                trial_id: "trial_000009".into(),
                ticket_id: "tk_b_9".into(),
                backend: "slurm".into(),
                job_id: "4242".into(),
                action: "reattached".into(),
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
        (
            Event::BudgetReached(BudgetReached {
                scope: "run".into(),
                variant_id: None,
                measure: "cost_usd".into(),
                limit: 2.5,
                spent: 2.61,
            }),
            Event::BudgetReached(BudgetReached {
                scope: "variant".into(),
                variant_id: Some("treat".into()),
                measure: "tokens".into(),
                limit: 40_000.0,
                spent: 40_310.0,
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
    ("run_created", &["options"]),
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
            if field == "v" {
                // Without its version a payload is version 1, which the upcaster reads
                // (journal::upcast): schema-invalid as written today, readable as old.
                assert!(Event::decode(minimal.kind(), &short.to_string()).is_ok());
                continue;
            }
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

    // A backend warning's digests are blob digests (64 lowercase hex), nothing else.
    let warning = representative_events()
        .into_iter()
        .map(|(_, full)| full)
        .find(|e| e.kind() == "backend_warning")
        .unwrap();
    let mut v = warning.payload_value();
    assert_valid("event_backend_warning", &v);
    v["digests"][0] = json!("../../etc/passwd");
    assert_rejected_with("event_backend_warning", &v, "/digests/0", "pattern");

    // The reported violation names the pointer and the rule, in the Display too.
    let err = schemas::validate("event_slot_committed", &json!({"schedule_idx": -1})).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("at /schedule_idx") && text.contains("rule `minimum`"),
        "{text}"
    );
    assert!(text.contains("rule `required`"), "{text}");
}
