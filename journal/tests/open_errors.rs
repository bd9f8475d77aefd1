//! Opening something that is not a journal this labj can read gives a clear error that
//! names the file, never a panic.

use journal::store::{JournalError, SCHEMA_VERSION};
use journal::{testkit, Durability, Journal, Projections};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

fn small_journal(dir: &Path) -> PathBuf {
    let path = dir.join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    let mut live = Projections::new();
    j.append(&mut live, vec![testkit::run_created("r", 1, 3, 1)], "t0")
        .unwrap();
    j.append(&mut live, testkit::trial_life(0, 3, true).to_vec(), "t1")
        .unwrap();
    path
}

#[test]
fn newer_schema_version_is_refused_with_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_journal(dir.path());
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    for err in [
        Journal::open(&path, Durability::Normal).unwrap_err(),
        Journal::open_read_only(&path).unwrap_err(),
    ] {
        assert!(
            matches!(err, JournalError::TooNew { found: 99, supported, .. } if supported == SCHEMA_VERSION),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("newer than this labj"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("99"), "{msg}");
    }
    // Refusing must not have touched the file.
    let v: u32 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99);
}

#[test]
fn missing_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope").join("journal.sqlite");
    for err in [
        Journal::open(&path, Durability::Normal).unwrap_err(),
        Journal::open_read_only(&path).unwrap_err(),
    ] {
        assert!(matches!(err, JournalError::Missing { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
    assert!(!path.exists(), "opening must not create the file");
}

#[test]
fn create_refuses_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_journal(dir.path());
    let err = Journal::create(&path, Durability::Normal).unwrap_err();
    assert!(matches!(err, JournalError::Exists { .. }), "{err:?}");
    assert!(err.to_string().contains("already exists"));
    assert_eq!(Journal::open_read_only(&path).unwrap().len(), 4);
}

#[test]
fn random_bytes_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    // Deterministic junk, longer than a SQLite header.
    let mut x: u32 = 0x9e37_79b9;
    let junk: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(&path, &junk).unwrap();
    for err in [
        Journal::open(&path, Durability::Normal).unwrap_err(),
        Journal::open_read_only(&path).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("not a database"), "{msg}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), junk, "the file was modified");
}

#[test]
fn empty_file_is_refused_without_claiming_it_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    std::fs::write(&path, b"").unwrap();
    let msg = Journal::open(&path, Durability::Normal)
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(!msg.contains("does not exist"), "misleading: {msg}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "file modified");
}

#[test]
fn foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    let err = Journal::open(&path, Durability::Normal).unwrap_err();
    assert!(err.to_string().contains(&path.display().to_string()));
    // Not formatted into a journal behind the user's back.
    let tables: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
}

#[test]
fn fold_past_the_end_states_the_last_idx() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_journal(dir.path());
    let j = Journal::open_read_only(&path).unwrap();
    for until in [4u64, 5, 1_000_000, u64::MAX] {
        let err = j.fold(Some(until)).unwrap_err();
        assert!(
            matches!(err, JournalError::PastEnd { idx, .. } if idx == until),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("last idx is 3"), "{msg}");
        assert!(msg.contains(&until.to_string()), "{msg}");
    }
    assert_eq!(j.fold(Some(3)).unwrap(), j.fold(None).unwrap());
}

#[test]
fn fold_of_an_empty_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let j = Journal::create(&path, Durability::Normal).unwrap();
    assert!(j.is_empty());
    assert_eq!(j.fold(None).unwrap(), Projections::new());
    let msg = j.fold(Some(0)).unwrap_err().to_string();
    assert!(msg.contains("the journal is empty"), "{msg}");
}

/// A writer killed mid-run leaves its last transactions in the WAL; the `-shm` index may
/// be gone (or never written). Inspection must still open the journal, see every
/// committed event, and leave the WAL in place for forensics.
#[test]
fn crashed_wal_journal_without_shm_opens_for_inspection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    let mut live = journal::Projections::new();
    j.append(
        &mut live,
        vec![journal::testkit::run_created("r", 1, 3, 1)],
        "t",
    )
    .unwrap();
    for i in 0..3 {
        j.append(
            &mut live,
            journal::testkit::trial_life(i, 3, true).to_vec(),
            "t",
        )
        .unwrap();
    }
    // The crash: the files as they are on disk while the writer is mid-run (no close, no
    // checkpoint), without the -shm index.
    let crashed = tempfile::tempdir().unwrap();
    let path = crashed.path().join("journal.sqlite");
    std::fs::copy(dir.path().join("journal.sqlite"), &path).unwrap();
    std::fs::copy(
        dir.path().join("journal.sqlite-wal"),
        crashed.path().join("journal.sqlite-wal"),
    )
    .unwrap();
    drop(j);
    let wal = crashed.path().join("journal.sqlite-wal");
    assert!(wal.metadata().unwrap().len() > 0, "events live in the WAL");
    let ro = Journal::open_read_only(&path).unwrap();
    assert_eq!(ro.len(), 10);
    assert_eq!(ro.fold(None).unwrap(), live);
    drop(ro);
    assert!(
        wal.metadata().unwrap().len() > 0,
        "inspection left the WAL alone"
    );
}
