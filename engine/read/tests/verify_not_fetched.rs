//! `labj verify` checks every blob a completion references, except those the coordinator
//! journaled as not copied home from a remote worker (`backend_warning`
//! `remote_evidence_not_fetched`). Which blobs those are is read from the warning's typed
//! `digests` list, never from the message text: journals written before that list
//! existed (payload version 1) are lifted by the upcaster (`journal::upcast`), so verify
//! sees the list there too. Real journals on disk, real `read::inspect::verify`.

use journal::event::{BackendWarning, Event};
use journal::{testkit, Durability, Journal, Projections};

/// The digest of the evidence `testkit::completed` references (no blob is stored).
fn referenced() -> String {
    "ab".repeat(32)
}

/// A journal of one completed trial whose evidence blob is absent, plus `warning`;
/// returns verify's faults.
fn verify_with(warning: Option<BackendWarning>) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("journal.sqlite");
    let mut proj = Projections::new();
    let mut events = vec![testkit::run_created("r", 1, 1, 1)];
    events.extend(testkit::trial_life(0, 1, true));
    events.extend(warning.map(Event::BackendWarning));
    let j = Journal::create_with(
        &path,
        Durability::Normal,
        &mut proj,
        events,
        "2026-01-01T00:00:00Z",
    )
    .unwrap();
    let report = read::inspect::verify(&j).unwrap();
    assert!(report.events >= 4);
    report.faults
}

fn not_fetched(message: &str, digests: Vec<String>) -> Option<BackendWarning> {
    Some(BackendWarning {
        code: "remote_evidence_not_fetched".into(),
        message: message.into(),
        requested: None,
        effective: None,
        digests,
    })
}

#[test]
fn verify_leaves_out_exactly_the_blobs_journaled_as_not_fetched() {
    let d = referenced();

    // Without a warning the absent blob is a fault (the check below can fail).
    let faults = verify_with(None);
    assert!(
        faults
            .iter()
            .any(|f| f.contains("missing or damaged") && f.contains(&d)),
        "{faults:?}"
    );

    // The typed list: the message need not name the digest at all.
    let faults = verify_with(not_fetched(
        "evidence of trial_000000 was not copied",
        vec![d.clone()],
    ));
    assert!(faults.is_empty(), "{faults:?}");

    // The typed list is what counts: a message naming the digest does not excuse a blob
    // the list does not name.
    let other = "cd".repeat(32);
    let faults = verify_with(not_fetched(
        &format!("workspace_diff ({d}) of trial trial_000000 was not copied"),
        vec![other],
    ));
    assert!(
        faults
            .iter()
            .any(|f| f.contains("missing or damaged") && f.contains(&d)),
        "{faults:?}"
    );

    // Today's payload with an empty list: the message is not read, even when it names
    // the digest (only the upcaster reads old messages, see the test below).
    let faults = verify_with(not_fetched(
        &format!("workspace_diff ({d}) of trial trial_000000 was not copied from worker http://127.0.0.1:1: 404"),
        vec![],
    ));
    assert!(faults.iter().any(|f| f.contains(&d)), "{faults:?}");

    // Another warning code excuses nothing.
    let mut w = not_fetched("unrelated", vec![d.clone()]).unwrap();
    w.code = "local_capacity_ceiling".into();
    let faults = verify_with(Some(w));
    assert!(faults.iter().any(|f| f.contains(&d)), "{faults:?}");
}

/// An old journal's payload (version 1: no `v`, no `digests` key, the digest only in the
/// message) reads as a warning about that blob; today's payload leads with its version
/// and always holds the list. Stored payloads are never rewritten (old hashes stay valid).
#[test]
fn a_version_1_warning_is_read_with_the_digests_its_message_named() {
    let d = referenced();
    let old = format!(
        r#"{{"code":"remote_evidence_not_fetched","message":"workspace_diff ({d}) of trial trial_000000 was not copied"}}"#
    );
    let Event::BackendWarning(w) = Event::decode("backend_warning", &old).unwrap() else {
        panic!("not a backend_warning");
    };
    assert_eq!(w.digests, vec![d.clone()]);
    let none = r#"{"code":"remote_evidence_not_fetched","message":"m"}"#;
    let Event::BackendWarning(w) = Event::decode("backend_warning", none).unwrap() else {
        panic!("not a backend_warning");
    };
    assert!(w.digests.is_empty());
    assert_eq!(
        Event::BackendWarning(w).payload_json(),
        r#"{"v":2,"code":"remote_evidence_not_fetched","message":"m","digests":[]}"#
    );
}
