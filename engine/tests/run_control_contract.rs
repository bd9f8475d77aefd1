//! The run-control contract (seed tests P1, P6): the documents the journal's
//! projections write validate against their schemas, and `run_control_v2` carries
//! `active_trials` for every in-flight trial and none of the retired single-active fields.

use journal::event::{Event, PauseAcked, PauseRequested, RunInterrupted};
use journal::projection::{RunStatus, TrialControlState};
use journal::{testkit, Durability, Journal, Projections};
use model::schemas::{self, SchemaError};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const TASKS: u32 = 4;

fn assert_valid(name: &str, doc: &Value) {
    if let Err(e) = schemas::validate(name, doc) {
        panic!("{e}\ndocument:\n{doc:#}");
    }
}

fn assert_rejected(name: &str, doc: &Value) {
    match schemas::validate(name, doc) {
        Err(SchemaError::Invalid { violations, .. }) => assert!(!violations.is_empty()),
        other => panic!("`{name}` must reject this document, got {other:?}:\n{doc:#}"),
    }
}

/// A run of 2 variants × 4 tasks: two slots committed (one success, one failure), four
/// trials in flight (slots 2..=5, one of them completed out of order but not yet
/// committed, so it is no longer active), then a run-wide pause that three trials accept
/// and one refuses.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    live: Projections,
    active: BTreeSet<String>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    let mut live = Projections::new();
    let mut put = |events: Vec<Event>, ts: &str| {
        j.append(&mut live, events, ts).unwrap();
    };
    put(
        vec![testkit::run_created("run-contract", 2, TASKS, 1)],
        "2025-03-01T10:00:00Z",
    );
    put(
        testkit::trial_life(0, TASKS, true).to_vec(),
        "2025-03-01T10:00:01Z",
    );
    put(
        testkit::trial_life(1, TASKS, false).to_vec(),
        "2025-03-01T10:00:02Z",
    );
    let dispatch = |s: u64| {
        let v = s / TASKS as u64;
        let t = s % TASKS as u64;
        testkit::dispatched(s, &format!("v{v}"), &format!("task{t}"))
    };
    put((2..=6).map(dispatch).collect(), "2025-03-01T10:00:03Z");
    // Slot 4 finishes first: out of order, pending its commit, no longer active.
    put(
        vec![testkit::completed(
            4,
            journal::event::Classification::Success,
            0.5,
        )],
        "2025-03-01T10:00:04Z",
    );
    let active: BTreeSet<String> = [2u64, 3, 5, 6].map(testkit::trial_id).into();
    let mut acks = vec![Event::PauseRequested(PauseRequested {
        request_id: "pause-1".into(),
        trial_id: None,
        label: Some("before lunch".into()),
        requested_by: "alice@cli".into(),
        requested_at: "2025-03-01T10:00:05Z".into(),
    })];
    for (i, t) in active.iter().enumerate() {
        let accepted = i != 2;
        acks.push(Event::PauseAcked(PauseAcked {
            request_id: "pause-1".into(),
            trial_id: t.clone(),
            worker_id: "w0".into(),
            accepted,
            reason: (!accepted).then(|| "agent is not pausable".into()),
        }));
    }
    acks.push(Event::RunInterrupted(RunInterrupted {
        reason: "pause failed for trial_000005".into(),
        survivors: vec![testkit::trial_id(5)],
    }));
    put(acks, "2025-03-01T10:00:06Z");
    drop(j);
    Fixture {
        _dir: dir,
        path,
        live,
        active,
    }
}

fn stored_doc(path: &Path, name: &str) -> Value {
    let j = Journal::open_read_only(path).unwrap();
    let text: String = j.stored_doc(name).unwrap().expect("document stored");
    serde_json::from_str(&text).unwrap()
}

/// Every key of every object in `doc`, at any depth.
fn all_keys(doc: &Value, out: &mut BTreeSet<String>) {
    match doc {
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                all_keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| all_keys(v, out)),
        _ => {}
    }
}

#[test]
fn p1_run_control_v2_schema_accepts_writer_payload() {
    let f = fixture();
    let folded = Journal::open_read_only(&f.path)
        .unwrap()
        .fold(None)
        .unwrap();
    assert_eq!(folded, f.live);
    assert_eq!(folded.control.status, RunStatus::Interrupted);

    let doc = folded.run_control_doc();
    assert_valid("run_control_v2", &doc);
    assert_eq!(doc["schema_version"], "run_control_v2");
    assert_eq!(doc["run_id"], "run-contract");
    assert_eq!(doc["status"], "interrupted");
    assert_eq!(doc["pause"]["request_id"], "pause-1");
    assert_eq!(doc["pause"]["label"], "before lunch");
    assert_eq!(doc["pause"]["trial_id"], Value::Null);
    let states: Vec<&str> = doc["active_trials"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["control"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["paused", "paused", "running", "paused"]);
    let refused = &doc["active_trials"][testkit::trial_id(5)]["control"]["last_ack"];
    assert_eq!(refused["accepted"], false);
    assert_eq!(refused["reason"], "agent is not pausable");

    // Every status the projection can reach validates too.
    let mut other = folded.clone();
    for s in [
        RunStatus::Running,
        RunStatus::Paused,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Killed,
    ] {
        other.control.status = s;
        assert_valid("run_control_v2", &other.run_control_doc());
    }
    // And a doc with no active trial and no pause (before any dispatch).
    let start = Journal::open_read_only(&f.path)
        .unwrap()
        .fold(Some(0))
        .unwrap();
    assert_valid("run_control_v2", &start.run_control_doc());
    assert_valid("schedule_progress_v2", &start.progress_doc());
    assert_valid("aggregates_v2", &start.aggregates_doc());

    let progress = folded.progress_doc();
    assert_valid("schedule_progress_v2", &progress);
    assert_eq!(progress["next_commit_idx"], 2);
    assert_eq!(progress["in_flight"], 4);
    assert_eq!(progress["pending_commit"], 1);
    let aggregates = folded.aggregates_doc();
    assert_valid("aggregates_v2", &aggregates);
    assert_eq!(aggregates["overall"]["committed"], 2);
    assert_eq!(aggregates["overall"]["succeeded"], 1);

    // The materialized copies written in the append transactions are the same documents.
    assert_eq!(stored_doc(&f.path, "run_control_v2"), doc);
    assert_eq!(stored_doc(&f.path, "schedule_progress_v2"), progress);
    assert_eq!(stored_doc(&f.path, "aggregates_v2"), aggregates);
}

#[test]
fn p6_run_control_v2_writer_emits_active_trials_without_legacy_mirrors() {
    let f = fixture();
    let doc = f.live.run_control_doc();
    assert_eq!(stored_doc(&f.path, "run_control_v2"), doc);

    let active = doc["active_trials"]
        .as_object()
        .expect("active_trials is an object");
    let ids: BTreeSet<String> = active.keys().cloned().collect();
    assert_eq!(ids, f.active, "every active trial, and only those");
    assert_eq!(active.len(), 4, "several trials in flight at once");
    for (id, t) in active {
        assert_eq!(t["trial_id"], id.as_str());
        let at = &f.live.control.active_trials[id];
        assert_eq!(t["schedule_idx"], at.schedule_idx);
        assert_eq!(t["variant_id"], at.variant_id.as_str());
        assert_eq!(t["worker_id"], "w0");
        assert_eq!(t["started_at"], "2025-03-01T10:00:03Z");
        let state = t["control"]["state"].as_str().unwrap();
        assert!(
            (state == "running") == (at.control.state == TrialControlState::Running),
            "{id}: {state}"
        );
    }

    let mut keys = BTreeSet::new();
    all_keys(&doc, &mut keys);
    for legacy in ["active_trial_id", "active_adapter"] {
        assert!(!keys.contains(legacy), "{legacy} found in {doc:#}");
    }
    assert_valid("run_control_v2", &doc);

    // The schema rejects the legacy mirrors, alone or together, whatever their value.
    let first = f.active.first().unwrap().clone();
    for extra in [
        json!({"active_trial_id": first}),
        json!({"active_adapter": "builtin.command"}),
        json!({"active_trial_id": null}),
        json!({"active_trial_id": first, "active_adapter": "builtin.command"}),
    ] {
        let mut bad = doc.clone();
        for (k, v) in extra.as_object().unwrap() {
            bad[k] = v.clone();
        }
        assert_rejected("run_control_v2", &bad);
    }
    // Nor may they hide inside an active trial entry.
    let mut bad = doc.clone();
    bad["active_trials"][&first]["active_adapter"] = json!("builtin.command");
    assert_rejected("run_control_v2", &bad);
    // A v1-style doc (single active trial, no map) is not a v2 doc.
    let mut bad = doc.clone();
    bad.as_object_mut().unwrap().remove("active_trials");
    bad["active_trial_id"] = json!(first);
    assert_rejected("run_control_v2", &bad);
}
