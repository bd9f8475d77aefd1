//! Tests of the event catalogue: round trips, classification strings, payload versions.

use super::*;

#[test]
fn every_versioned_kind_has_a_step_for_each_older_version() {
    for kind in EVENT_KINDS {
        for from in 1..crate::upcast::current_version(kind) {
            let old = serde_json::json!({"v": from, "code": "x"});
            let new = crate::upcast::upcast(kind, old).unwrap();
            assert_ne!(
                new,
                serde_json::json!({"code": "x"}),
                "{kind}: no step from version {from}"
            );
        }
    }
}

/// Payloads exactly as older labj versions wrote them decode to what they meant.
#[test]
fn version_1_payloads_are_upcast_to_what_they_meant() {
    // Before infra retries (and before `stopped_by_kill`): a commit of worker_lost.
    let old = r#"{"schedule_idx":4,"trial_id":"trial_000004","worker_id":"w","ticket_id":"k","reason":"session crashed"}"#;
    let Event::WorkerLost(w) = Event::decode("worker_lost", old).unwrap() else {
        panic!("not a worker_lost");
    };
    assert_eq!(w.classification, Classification::WorkerLost);
    assert!(!w.retry && !w.stopped_by_kill);
    // Written after retries existed but before versions: fields kept as written.
    let mid = r#"{"schedule_idx":4,"trial_id":"t","worker_id":"w","ticket_id":"k","reason":"r","classification":"spawn_failure","retry":true}"#;
    let Event::WorkerLost(w) = Event::decode("worker_lost", mid).unwrap() else {
        panic!("not a worker_lost");
    };
    assert_eq!(w.classification, Classification::SpawnFailure);
    assert!(w.retry && !w.stopped_by_kill);
    // Before `digests`: the blob's digest only in the message text.
    let d = "ab".repeat(32);
    let old = format!(
        r#"{{"code":"remote_evidence_not_fetched","message":"trial t: blob {d} (stdout) not fetched: timeout"}}"#
    );
    let Event::BackendWarning(b) = Event::decode("backend_warning", &old).unwrap() else {
        panic!("not a backend_warning");
    };
    assert_eq!(b.digests, vec![d.clone()]);
    let other = r#"{"code":"capacity_clamped","message":"blob 0000000000000000000000000000000000000000000000000000000000000000 x","requested":8,"effective":2}"#;
    let Event::BackendWarning(b) = Event::decode("backend_warning", other).unwrap() else {
        panic!("not a backend_warning");
    };
    assert!(b.digests.is_empty(), "only that code named blobs");
    // Before streak kinds: pruning counted every unsuccessful verdict.
    let created = RunCreated {
        run_id: "r".into(),
        experiment_id: "e".into(),
        experiment_digest: "d".into(),
        experiment: serde_json::json!({}),
        variant_ids: vec!["a".into()],
        task_ids: vec!["t".into()],
        schedule_policy: "variant_sequential".into(),
        schedule: vec![SlotSpec(0, 0, 0)],
        max_concurrency: 1,
        pruning: PruningSpec {
            max_consecutive_failures: Some(2),
            counts: StreakCounts::AgentFailures,
        },
        primary_metric: None,
        options: serde_json::Value::Null,
    };
    let mut v = serde_json::to_value(&created).unwrap();
    v["pruning"].as_object_mut().unwrap().remove("counts");
    let Event::RunCreated(c) = Event::decode("run_created", &v.to_string()).unwrap() else {
        panic!("not a run_created");
    };
    assert_eq!(c.pruning.counts, StreakCounts::Unsuccessful);
    assert_eq!(c.pruning.max_consecutive_failures, Some(2));
    v.as_object_mut().unwrap().remove("pruning");
    let Event::RunCreated(c) = Event::decode("run_created", &v.to_string()).unwrap() else {
        panic!("not a run_created");
    };
    assert_eq!(c.pruning, PruningSpec::default());
}

#[test]
fn current_payloads_lead_with_their_version_and_are_strict() {
    let lost = Event::WorkerLost(WorkerLost {
        schedule_idx: 1,
        trial_id: "t".into(),
        worker_id: "w".into(),
        ticket_id: "k".into(),
        reason: "r".into(),
        classification: Classification::WorkerLost,
        retry: false,
        stopped_by_kill: false,
    });
    let json = lost.payload_json();
    assert!(json.starts_with(r#"{"v":2,"schedule_idx":1"#), "{json}");
    assert!(json.contains(r#""retry":false"#), "{json}");
    assert_eq!(Event::decode("worker_lost", &json).unwrap(), lost);
    assert_eq!(lost.payload_value()["v"], 2);
    // Unversioned kinds carry no `v`.
    let done = Event::RunCompleted(RunCompleted { committed_slots: 2 });
    assert_eq!(done.payload_json(), r#"{"committed_slots":2}"#);
    // A v2 payload must hold what v2 requires: no default fills it in.
    let short = json.replace(r#","retry":false"#, "");
    let err = Event::decode("worker_lost", &short)
        .unwrap_err()
        .to_string();
    assert!(err.contains("retry"), "{err}");
    // A version this binary does not know is refused, naming it.
    let newer = json.replace(r#"{"v":2,"#, r#"{"v":3,"#);
    let err = Event::decode("worker_lost", &newer)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("version 3") && err.contains("newer labj"),
        "{err}"
    );
    let newer = r#"{"v":2,"committed_slots":2}"#;
    let err = Event::decode("run_completed", newer)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("version 2") && err.contains("newer labj"),
        "{err}"
    );
}

/// One kind here; every kind (a minimal and a full payload of each of the
/// `EVENT_KINDS`) round-trips in `engine/model/tests/schemas_events.rs`
/// (`every_event_kind_has_a_schema_and_typed_payloads_validate`), which has the
/// samples and asserts it covers every kind.
#[test]
fn slot_committed_round_trips_and_unknown_or_bad_payloads_are_refused() {
    let ev = Event::SlotCommitted(SlotCommitted {
        schedule_idx: 3,
        trial_id: "t3".into(),
        status: SlotStatus::Completed,
        classification: Classification::Success,
    });
    let back = Event::decode(ev.kind(), &ev.payload_json()).unwrap();
    assert_eq!(back, ev);
    assert_eq!(EVENT_KINDS.len(), 22);
    assert!(matches!(
        Event::decode("nope", "{}"),
        Err(DecodeError::UnknownKind(k)) if k == "nope"
    ));
    assert!(matches!(
        Event::decode("slot_committed", "{\"schedule_idx\":\"x\"}"),
        Err(DecodeError::Payload { .. })
    ));
}

#[test]
fn classification_strings_match_serde() {
    for c in Classification::ALL {
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(s.trim_matches('"'), c.as_str());
        assert_eq!(Classification::parse(c.as_str()), Some(c));
    }
    assert!(Classification::WorkerLost.is_infra());
    assert!(!Classification::Timeout.is_infra());
}
