//! Projection snapshots edited behind labj's back are never trusted blindly.
//!
//! Each case builds a real journal that takes a snapshot every 10 events (at idx 9, 21,
//! 30, 39 and 49), edits `proj_snapshots` through a separate SQLite connection, and
//! checks that `fold_from_snapshot` neither panics nor returns anything but the fold
//! from event 0 (skipping the bad snapshot, saying why), and that `verify`'s audit
//! (`diff_materialized`) names the snapshot. The one edit a fold cannot recognise, a
//! body rewritten with its checksum recomputed, is caught by that audit.

use journal::projection::SNAPSHOT_FORMAT;
use journal::{testkit, Durability, Journal, Projections};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

const TASKS: u32 = 8;
const SNAPSHOTS: [u64; 5] = [9, 21, 30, 39, 49];

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    j.set_snapshot_every(10);
    let mut live = Projections::new();
    j.append(
        &mut live,
        vec![testkit::run_created("tamper", 3, TASKS, 1)],
        "2025-01-01T00:00:00Z",
    )
    .unwrap();
    for i in 0..16u64 {
        j.append(
            &mut live,
            testkit::trial_life(i, TASKS, i % 3 != 0).to_vec(),
            "2025-01-01T00:00:01Z",
        )
        .unwrap();
    }
    // A dispatched trial left active, as a crash leaves it.
    j.append(
        &mut live,
        vec![testkit::dispatched(16, "v2", "task0")],
        "2025-01-01T00:00:02Z",
    )
    .unwrap();
    let idxs: Vec<u64> = j.snapshots().unwrap().iter().map(|s| s.idx).collect();
    assert_eq!(idxs, SNAPSHOTS);
    assert_eq!(j.fold_from_snapshot(None).unwrap().from_snapshot, Some(49));
    drop(j);
    Fixture { _dir: dir, path }
}

fn body(c: &Connection, idx: u64) -> Vec<u8> {
    c.query_row(
        "SELECT body FROM proj_snapshots WHERE idx = ?1",
        [idx as i64],
        |r| r.get(0),
    )
    .unwrap()
}

fn event_hash(c: &Connection, idx: u64) -> Vec<u8> {
    c.query_row(
        "SELECT hash FROM events WHERE idx = ?1",
        [idx as i64],
        |r| r.get(0),
    )
    .unwrap()
}

/// The checksum a forger who read the source would compute.
fn forged_checksum(idx: u64, chain: &[u8], body: &[u8]) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(b"labj projection snapshot\0");
    h.update(&SNAPSHOT_FORMAT.to_le_bytes());
    h.update(&idx.to_le_bytes());
    h.update(chain);
    h.update(body);
    h.finalize().as_bytes().to_vec()
}

/// Writes `body` as the snapshot at `idx` with a correct chain hash and checksum.
fn forge(c: &Connection, idx: u64, body: &[u8]) {
    let chain = event_hash(c, idx);
    c.execute(
        "INSERT OR REPLACE INTO proj_snapshots (idx, chain_hash, format, body, body_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![idx as i64, chain, SNAPSHOT_FORMAT, body, forged_checksum(idx, &chain, body)],
    )
    .unwrap();
}

/// The fold from snapshots equals the fold from event 0 at every idx, starts from
/// `expect_from` at the end, and the reasons it gave mention `rejected` (empty: none).
/// `verify`'s audit reports a difference mentioning `audit` (empty: passes).
fn assert_safe(path: &Path, expect_from: Option<u64>, rejected: &str, audit: &str) {
    assert_safe_except(path, None, expect_from, rejected, audit)
}

/// [`assert_safe`], except at `forged`: a fold until exactly the idx of a forged
/// snapshot with a valid checksum has no later event to expose it (verify does).
fn assert_safe_except(
    path: &Path,
    forged: Option<u64>,
    expect_from: Option<u64>,
    rejected: &str,
    audit: &str,
) {
    let j = Journal::open_read_only(path).unwrap();
    for until in (0..j.len()).filter(|u| Some(*u) != forged) {
        let got = j.fold_from_snapshot(Some(until)).unwrap();
        assert_eq!(
            got.projections,
            j.fold(Some(until)).unwrap(),
            "until {until}"
        );
    }
    let got = j.fold_from_snapshot(None).unwrap();
    assert_eq!(got.projections, j.fold(None).unwrap());
    assert_eq!(got.from_snapshot, expect_from);
    if rejected.is_empty() {
        assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    } else {
        assert!(
            got.rejected.iter().any(|r| r.contains(rejected)),
            "{:?} should mention {rejected:?}",
            got.rejected
        );
    }
    let diff = j.diff_materialized().unwrap();
    if audit.is_empty() {
        assert_eq!(diff, None);
    } else {
        let d = diff.unwrap_or_else(|| panic!("verify missed the snapshot edit ({audit})"));
        assert!(d.contains(audit), "{d:?} should mention {audit:?}");
    }
}

#[test]
fn untouched_snapshots_are_used_and_pass_verify() {
    let f = build();
    assert_safe(&f.path, Some(49), "", "");
}

#[test]
fn edited_body_is_ignored_for_an_earlier_snapshot() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    let edited = String::from_utf8(body(&c, 49))
        .unwrap()
        .replace("\"succeeded\":", "\"succeeded\":1");
    c.execute(
        "UPDATE proj_snapshots SET body = ?1 WHERE idx = 49",
        [edited.as_bytes()],
    )
    .unwrap();
    drop(c);
    assert_safe(
        &f.path,
        Some(39),
        "snapshot 49: its body does not match its checksum",
        "snapshot 49: its body does not match its checksum",
    );
}

#[test]
fn edited_chain_hash_is_ignored() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    c.execute(
        "UPDATE proj_snapshots SET chain_hash = zeroblob(32) WHERE idx IN (39, 49)",
        [],
    )
    .unwrap();
    drop(c);
    assert_safe(
        &f.path,
        Some(30),
        "snapshot 49: its chain hash differs from the event's",
        "snapshot 39: its body does not match its checksum",
    );
}

#[test]
fn columns_of_the_wrong_storage_class_do_not_panic() {
    for sql in [
        "UPDATE proj_snapshots SET body = 7 WHERE idx = 49",
        "UPDATE proj_snapshots SET chain_hash = hex(chain_hash) WHERE idx = 49",
        "UPDATE proj_snapshots SET body_hash = 'x' WHERE idx = 49",
        "UPDATE proj_snapshots SET format = 'one' WHERE idx = 49",
        "UPDATE proj_snapshots SET body = CAST(body AS TEXT) || 'garbage' WHERE idx = 49",
    ] {
        let f = build();
        let c = Connection::open(&f.path).unwrap();
        c.execute(sql, []).unwrap();
        drop(c);
        assert_safe(&f.path, Some(39), "snapshot 49", "snapshot 49");
    }
    // An idx that is not an integer is no candidate at all; verify names the row.
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    c.execute("UPDATE proj_snapshots SET idx = 'last' WHERE idx = 49", [])
        .unwrap_err();
    // (The INTEGER PRIMARY KEY refuses text: SQLite itself keeps idx an integer.)
    drop(c);
}

#[test]
fn body_with_recomputed_checksum_but_wrong_event_count_is_ignored() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    // Snapshot 39's state claimed for event 49.
    let old = body(&c, 39);
    forge(&c, 49, &old);
    drop(c);
    assert_safe(
        &f.path,
        Some(39),
        "snapshot 49: its body describes 40 events, not 50",
        "snapshot 49 differs from the fold of events 0..=49",
    );
}

#[test]
fn forged_state_the_next_events_do_not_fit_falls_back_to_event_zero() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    // Snapshot 30 (after slot 9's commit) claims trial 10 is already active: the
    // dispatch of trial 10 at idx 31 cannot apply to it.
    let mut v: serde_json::Value = serde_json::from_slice(&body(&c, 30)).unwrap();
    v["control"]["active_trials"][testkit::trial_id(10)] = serde_json::json!({
        "trial_id": testkit::trial_id(10), "worker_id": "w0", "ticket_id": "tk10",
        "schedule_idx": 10, "variant_id": "v1", "task_id": "task2",
        "started_at": "2025-01-01T00:00:01Z",
        "control": {"state": "running", "last_ack": null}
    });
    forge(&c, 30, v.to_string().as_bytes());
    c.execute("DELETE FROM proj_snapshots WHERE idx > 30", [])
        .unwrap();
    drop(c);
    assert_safe_except(
        &f.path,
        Some(30),
        None,
        "snapshot 30: event 31 does not apply to it",
        "snapshot 30 differs from the fold of events 0..=30",
    );
}

/// The limit of a checksum without a secret: a forged body with its checksum recomputed
/// and a state the later events still fit is used by a fold; `verify` catches it.
#[test]
fn forged_consistent_body_is_caught_by_verify() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&body(&c, 49)).unwrap();
    v["aggregates"]["overall"]["succeeded"] = serde_json::json!(16);
    forge(&c, 49, v.to_string().as_bytes());
    drop(c);
    let j = Journal::open_read_only(&f.path).unwrap();
    let d = j
        .diff_materialized()
        .unwrap()
        .expect("verify catches the forgery");
    assert!(
        d.contains("snapshot 49 differs from the fold of events 0..=49"),
        "{d}"
    );
}

#[test]
fn snapshot_of_another_format_is_skipped_quietly() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    c.execute(
        "UPDATE proj_snapshots SET format = format + 1 WHERE idx = 49",
        [],
    )
    .unwrap();
    drop(c);
    assert_safe(&f.path, Some(39), "", "");
}

#[test]
fn snapshot_past_the_end_is_never_used_and_verify_names_it() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    let (chain, b) = (event_hash(&c, 49), body(&c, 49));
    c.execute(
        "INSERT INTO proj_snapshots (idx, chain_hash, format, body, body_hash) VALUES (1000, ?1, ?2, ?3, ?4)",
        params![chain, SNAPSHOT_FORMAT, b, forged_checksum(1000, &chain, &b)],
    )
    .unwrap();
    drop(c);
    assert_safe(
        &f.path,
        Some(49),
        "",
        "snapshot 1000 describes event 1000, which the journal does not hold",
    );
}

#[test]
fn rebuild_replaces_bad_snapshots() {
    let f = build();
    let c = Connection::open(&f.path).unwrap();
    c.execute("UPDATE proj_snapshots SET body = x'00' WHERE idx = 21", [])
        .unwrap();
    drop(c);
    let mut j = Journal::open(&f.path, Durability::Normal).unwrap();
    j.set_snapshot_every(10);
    assert!(j.diff_materialized().unwrap().is_some());
    j.rebuild().unwrap();
    assert_eq!(j.diff_materialized().unwrap(), None);
    let idxs: Vec<u64> = j.snapshots().unwrap().iter().map(|s| s.idx).collect();
    assert_eq!(idxs, vec![9, 19, 29, 39, 49]);
}
