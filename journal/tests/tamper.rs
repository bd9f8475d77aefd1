//! A journal edited behind labj's back is detected.
//!
//! Every case builds a real journal file through the API, closes it, tampers with it
//! through a separate SQLite connection (or the `sqlite3` CLI), reopens it and checks
//! that `verify_chain` names the first bad event and that `fold` refuses with an error
//! naming it instead of panicking.

use journal::event::{BackendWarning, Event, PauseRequested};
use journal::store::{chain_hash, ChainReport, JournalError};
use journal::{testkit, Durability, Journal, Projections};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

const TASKS: u32 = 8;
/// run_created + 16 trial lives (48) + pause_requested = 50 events.
const EVENTS: u64 = 50;

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    let mut live = Projections::new();
    j.append(
        &mut live,
        vec![testkit::run_created("tamper", 2, TASKS, 1)],
        "2025-01-01T00:00:00Z",
    )
    .unwrap();
    for i in 0..16u64 {
        j.append(
            &mut live,
            testkit::trial_life(i, TASKS, i % 3 != 0).to_vec(),
            &format!("2025-01-01T00:00:{:02}Z", i + 1),
        )
        .unwrap();
    }
    j.append(
        &mut live,
        vec![Event::PauseRequested(PauseRequested {
            request_id: "req-1".into(),
            trial_id: None,
            label: Some("lunch".into()),
            requested_by: "tester".into(),
            requested_at: "2025-01-01T00:01:00Z".into(),
        })],
        "2025-01-01T00:01:00Z",
    )
    .unwrap();
    assert_eq!(j.len(), EVENTS);
    assert_eq!(j.verify_chain().unwrap().first_bad, None);
    drop(j);
    Fixture { _dir: dir, path }
}

/// A raw connection with the append-only triggers removed, as a hand editor would do.
fn raw_unlocked(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.execute_batch("DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;")
        .unwrap();
    c
}

fn verify(path: &Path) -> ChainReport {
    Journal::open(path, Durability::Normal)
        .unwrap()
        .verify_chain()
        .unwrap()
}

/// `verify_chain` reports `idx` first, and `fold` fails with an error naming it.
fn assert_detected_at(path: &Path, idx: u64, reason_contains: &str) {
    let report = verify(path);
    let (bad, reason) = report
        .first_bad
        .clone()
        .unwrap_or_else(|| panic!("tampering at {idx} went unnoticed: {report:?}"));
    assert_eq!(bad, idx, "wrong first bad idx ({reason})");
    assert!(
        reason.contains(reason_contains),
        "reason {reason:?} should mention {reason_contains:?}"
    );
    assert_eq!(report.events, idx, "events before the break are counted");

    let j = Journal::open(path, Durability::Normal).unwrap();
    let err = j
        .fold(None)
        .expect_err("fold of a tampered journal must fail");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("event {idx}")),
        "fold error should name event {idx}: {msg}"
    );
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    // The prefix before the break is still foldable.
    if idx > 0 {
        j.fold(Some(idx - 1)).unwrap();
    }
}

fn payload(c: &Connection, idx: u64) -> String {
    c.query_row(
        "SELECT payload FROM events WHERE idx = ?1",
        [idx as i64],
        |r| r.get(0),
    )
    .unwrap()
}

fn hash(c: &Connection, idx: u64) -> [u8; 32] {
    let v: Vec<u8> = c
        .query_row(
            "SELECT hash FROM events WHERE idx = ?1",
            [idx as i64],
            |r| r.get(0),
        )
        .unwrap();
    v.try_into().unwrap()
}

/// Rewrites the completion at `idx` in place (payload edited, stored hash kept).
fn edit_completion_at(c: &Connection, idx: u64) {
    let p = edited_completion(&payload(c, idx));
    c.execute(
        "UPDATE events SET payload = ?1 WHERE idx = ?2",
        params![p, idx as i64],
    )
    .unwrap();
}

/// Change `duration_ms` of a `trial_completed` payload: still decodes, different bytes.
fn edited_completion(payload: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(payload).unwrap();
    v["duration_ms"] = serde_json::json!(987_654);
    v.to_string()
}

// idx 1 + 3*i is dispatch of slot i, +1 completion, +2 commit.
const COMPLETION_OF_SLOT_6: u64 = 1 + 3 * 6 + 1;

#[test]
fn edited_payload_is_reported_at_its_idx() {
    let f = build();
    let k = COMPLETION_OF_SLOT_6;
    let c = raw_unlocked(&f.path);
    let p = edited_completion(&payload(&c, k));
    c.execute(
        "UPDATE events SET payload = ?1 WHERE idx = ?2",
        params![p, k as i64],
    )
    .unwrap();
    drop(c);
    assert_detected_at(&f.path, k, "hash does not match");
}

#[test]
fn edited_payload_column_disagreeing_with_index_columns_is_reported() {
    let f = build();
    let k = COMPLETION_OF_SLOT_6;
    let c = raw_unlocked(&f.path);
    let mut v: serde_json::Value = serde_json::from_str(&payload(&c, k)).unwrap();
    v["trial_id"] = serde_json::json!("trial_999999");
    c.execute(
        "UPDATE events SET payload = ?1 WHERE idx = ?2",
        params![v.to_string(), k as i64],
    )
    .unwrap();
    drop(c);
    assert_detected_at(&f.path, k, "disagree");
}

#[test]
fn deleted_row_is_reported_missing() {
    for k in [0u64, 17, EVENTS - 2] {
        let f = build();
        let c = raw_unlocked(&f.path);
        assert_eq!(
            c.execute("DELETE FROM events WHERE idx = ?1", [k as i64])
                .unwrap(),
            1
        );
        drop(c);
        assert_detected_at(&f.path, k, "missing");
    }
}

#[test]
fn swapped_rows_are_reported_at_the_first() {
    let f = build();
    let k = 10u64;
    let c = raw_unlocked(&f.path);
    // Swap every column but idx between rows k and k+1, via a scratch idx.
    c.execute_batch(&format!(
        "UPDATE events SET idx = -1 WHERE idx = {k};
         UPDATE events SET idx = {k} WHERE idx = {k1};
         UPDATE events SET idx = {k1} WHERE idx = -1;",
        k1 = k + 1
    ))
    .unwrap();
    drop(c);
    assert_detected_at(&f.path, k, "hash does not match");
}

#[test]
fn forged_row_appended_with_made_up_hash_is_reported() {
    let f = build();
    let c = raw_unlocked(&f.path);
    let forged = Event::BackendWarning(BackendWarning {
        code: "forged".into(),
        message: "nothing to see".into(),
        requested: None,
        effective: None,
        digests: vec![],
    });
    c.execute(
        "INSERT INTO events (idx, kind, schedule_idx, trial_id, ts, payload, hash) VALUES (?1, ?2, NULL, NULL, ?3, ?4, ?5)",
        params![
            EVENTS as i64,
            forged.kind(),
            "2025-01-01T00:02:00Z",
            forged.payload_json(),
            &[7u8; 32][..]
        ],
    )
    .unwrap();
    drop(c);
    assert_eq!(
        Journal::open(&f.path, Durability::Normal).unwrap().len(),
        EVENTS + 1
    );
    assert_detected_at(&f.path, EVENTS, "hash does not match");
}

#[test]
fn edit_with_recomputed_hash_is_reported_at_the_next_event() {
    let f = build();
    let k = COMPLETION_OF_SLOT_6;
    let c = raw_unlocked(&f.path);
    let prev = hash(&c, k - 1);
    let (kind, sidx, tid, ts): (String, Option<i64>, Option<String>, String) = c
        .query_row(
            "SELECT kind, schedule_idx, trial_id, ts FROM events WHERE idx = ?1",
            [k as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let p = edited_completion(&payload(&c, k));
    let h = chain_hash(
        &prev,
        k,
        &kind,
        sidx.map(|v| v as u64),
        tid.as_deref(),
        &ts,
        &p,
    );
    c.execute(
        "UPDATE events SET payload = ?1, hash = ?2 WHERE idx = ?3",
        params![p, &h[..], k as i64],
    )
    .unwrap();
    drop(c);
    assert_detected_at(&f.path, k + 1, "hash does not match");
}

#[test]
fn edited_ts_is_detected() {
    let f = build();
    let k = 30u64;
    let c = raw_unlocked(&f.path);
    c.execute(
        "UPDATE events SET ts = '1999-12-31T23:59:59Z' WHERE idx = ?1",
        [k as i64],
    )
    .unwrap();
    drop(c);
    assert_detected_at(&f.path, k, "hash does not match");
}

#[test]
fn edited_kind_is_detected() {
    let f = build();
    let k = EVENTS - 1;
    let c = raw_unlocked(&f.path);
    c.execute(
        "UPDATE events SET kind = 'no_such_kind' WHERE idx = ?1",
        [k as i64],
    )
    .unwrap();
    drop(c);
    assert_detected_at(&f.path, k, "unknown event kind");
}

#[test]
fn sqlite3_cli_payload_edit_is_detected() {
    let have_cli = std::process::Command::new("sqlite3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    // A missing component fails the test (it must never pass without running).
    assert!(
        have_cli,
        "the sqlite3 CLI is required by this test and was not found on PATH; scripts/setup.d/10-sqlite3.sh installs it"
    );
    let f = build();
    let k = COMPLETION_OF_SLOT_6;
    let out = std::process::Command::new("sqlite3")
        .arg(&f.path)
        .arg(format!(
            "DROP TRIGGER events_no_update; UPDATE events SET payload = replace(payload, '\"duration_ms\":1,', '\"duration_ms\":2,') WHERE idx = {k}; SELECT changes();"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    assert_detected_at(&f.path, k, "hash does not match");
}

#[test]
fn triggers_reject_update_and_delete() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    let err = c
        .execute("UPDATE events SET ts = 'x' WHERE idx = 3", [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only (UPDATE rejected)"), "{err}");
    let err = c
        .execute("DELETE FROM events WHERE idx = 3", [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only (DELETE rejected)"), "{err}");
    let err = c.execute("DELETE FROM events", []).unwrap_err().to_string();
    assert!(err.contains("append-only (DELETE rejected)"), "{err}");
    // Also through the journal's own connection.
    let j = Journal::open(&f.path, Durability::Normal).unwrap();
    let err = j
        .raw_conn_for_tests()
        .execute("UPDATE events SET payload = '{}'", [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only"), "{err}");
    drop(j);
    drop(c);
    assert_eq!(verify(&f.path).first_bad, None);
    assert_eq!(verify(&f.path).events, EVENTS);
}

#[test]
fn invalid_json_payload_is_a_decode_error_naming_idx() {
    let f = build();
    let k = 22u64;
    let c = raw_unlocked(&f.path);
    c.execute(
        "UPDATE events SET payload = '{not json' WHERE idx = ?1",
        [k as i64],
    )
    .unwrap();
    drop(c);
    let j = Journal::open(&f.path, Durability::Normal).unwrap();
    match j.fold(None) {
        Err(JournalError::Decode { idx, ref path, .. }) => {
            assert_eq!(idx, k);
            assert_eq!(path, &f.path);
        }
        other => panic!("expected a Decode error at {k}, got {other:?}"),
    }
    let msg = j.fold(None).unwrap_err().to_string();
    assert!(msg.contains(&format!("event {k}")), "{msg}");
    assert!(msg.contains("does not decode"), "{msg}");
    let report = j.verify_chain().unwrap();
    let (bad, reason) = report.first_bad.unwrap();
    assert_eq!(bad, k);
    assert!(reason.contains("does not decode"), "{reason}");
}

/// Edits that change a column's storage class (a BLOB payload, a TEXT hash) are hand
/// edits too: `verify` must still name the event rather than fail with a bare SQLite
/// type-conversion error that names no event.
fn assert_storage_class_edit_reported(sql: &str, k: u64) {
    let f = build();
    let c = raw_unlocked(&f.path);
    c.execute(sql, [k as i64]).unwrap();
    drop(c);
    let j = Journal::open(&f.path, Durability::Normal).unwrap();
    let report = j.verify_chain();
    let msg = j.fold(None).unwrap_err().to_string();
    assert!(msg.contains(&format!("event {k}")), "fold error: {msg}");
    assert_eq!(report.unwrap().first_bad.map(|(i, _)| i), Some(k));
}

#[test]
fn payload_stored_as_blob_is_reported_at_its_idx() {
    assert_storage_class_edit_reported(
        "UPDATE events SET payload = CAST(payload AS BLOB) WHERE idx = ?1",
        12,
    );
}

#[test]
fn hash_stored_as_text_is_reported_at_its_idx() {
    assert_storage_class_edit_reported("UPDATE events SET hash = hex(hash) WHERE idx = ?1", 17);
}

/// A journal of many fold batches (the fold reads rows on one thread and folds them on
/// another, 512 rows at a time, and either thread may recompute a batch's hashes): an
/// edit is reported at its idx wherever it falls, and when an edited row and a later
/// deleted one fall in the same batch, the edit (the earlier fault) is the one named.
#[test]
fn faults_in_a_long_journal_are_reported_at_the_earliest_idx() {
    const SLOTS: u64 = 2_000; // 6,001 events: 12 batches
    let build_long = || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let mut j = Journal::create(&path, Durability::Normal).unwrap();
        let mut live = Projections::new();
        let tasks = SLOTS as u32;
        let events: Vec<Event> = std::iter::once(testkit::run_created("long", 1, tasks, 1))
            .chain((0..SLOTS).flat_map(|i| testkit::trial_life(i, tasks, i % 3 != 0)))
            .collect();
        for (n, batch) in events.chunks(100).enumerate() {
            j.append(
                &mut live,
                batch.to_vec(),
                &format!("2025-01-01T00:{:02}:00Z", n % 60),
            )
            .unwrap();
        }
        assert_eq!(j.fold(None).unwrap(), live);
        (dir, path)
    };
    // Completions: 2 + 3 * slot. In the first batch, mid-journal, in the last batch.
    let edits: Vec<_> = [2 + 3 * 10, 2 + 3 * 1_000, 2 + 3 * 1_990]
        .into_iter()
        .map(|k| {
            let (dir, path) = build_long();
            let c = raw_unlocked(&path);
            edit_completion_at(&c, k);
            (dir, path, k)
        })
        .collect();
    // 3,080 and 3,100 share the batch 3,072..3,583.
    let (_dir, both) = build_long();
    let (edited, deleted) = (2 + 3 * 1_026, 3_100u64);
    let c = raw_unlocked(&both);
    edit_completion_at(&c, edited);
    c.execute("DELETE FROM events WHERE idx = ?1", [deleted as i64])
        .unwrap();
    drop(c);
    // The batches' hashes checked on the thread that reads them, on the one that folds
    // them, and as the runner does (whichever is less busy).
    for mode in [
        testkit::FOLD_CHECKS_READER,
        testkit::FOLD_CHECKS_FOLDER,
        testkit::FOLD_CHECKS_AUTO,
    ] {
        testkit::FOLD_CHECKS.store(mode, std::sync::atomic::Ordering::Relaxed);
        for (_, path, k) in &edits {
            assert_detected_at(path, *k, "hash does not match");
        }
        assert_detected_at(&both, edited, "hash does not match");
    }
}
