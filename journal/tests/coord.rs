//! The coordination tables through the journal's typed API: control-inbox sequence
//! numbers stay unique under concurrent requesters, and an answer written with events
//! commits or rolls back with them.

use journal::store::{InboxAnswer, InboxState, LeaseRow};
use journal::{testkit, Durability, Journal, Projections};
use std::collections::BTreeSet;

fn journal() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut proj = Projections::new();
    Journal::create_with(
        &path,
        Durability::Normal,
        &mut proj,
        vec![testkit::run_created("r", 1, 3, 1)],
        "t0",
    )
    .unwrap();
    (dir, path)
}

#[test]
fn concurrent_submits_get_distinct_sequence_numbers() {
    let (_dir, path) = journal();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let j = Journal::open_read_only(&path).unwrap();
                (0..40)
                    .map(|i| {
                        j.inbox_submit(&format!("req-{t}-{i}"), "set", "{}", "test", 0)
                            .unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let all: Vec<u64> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(all.len(), 240);
    assert_eq!(distinct.len(), 240, "duplicate sequence numbers");
    let j = Journal::open_read_only(&path).unwrap();
    let seqs: Vec<u64> = j.inbox_pending().unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=240).collect::<Vec<_>>());
}

#[test]
fn an_answer_commits_or_rolls_back_with_its_events() {
    let (_dir, path) = journal();
    let mut j = Journal::open(&path, Durability::Normal).unwrap();
    let mut proj = j.fold(None).unwrap();
    j.inbox_submit("req-1", "kill", "{}", "test", 0).unwrap();
    j.inbox_submit("req-2", "kill", "{}", "test", 0).unwrap();
    let me = LeaseRow {
        session_id: "s1".into(),
        pid: std::process::id(),
        host: "h".into(),
        acquired_ms: 0,
        heartbeat_ms: 0,
        pid_start: None,
        boot_id: None,
    };
    j.lease_acquire(&me, |_| Err::<(), ()>(())).unwrap();
    let answer = |id: &str| InboxAnswer {
        request_id: id.into(),
        answer: "{\"ok\":true}".into(),
        answered_ms: 1,
    };
    // The lease guard refuses (another session holds the lease): no event, no answer.
    j.guard_appends_by_lease("s2".into());
    let err = j
        .append_answering(
            &mut proj,
            testkit::trial_life(0, 3, true).to_vec(),
            "t1",
            |_| vec![answer("req-1")],
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("no longer holds the run lease"),
        "{err}"
    );
    assert_eq!(j.inbox_state("req-1").unwrap(), InboxState::Pending);
    assert_eq!(j.len(), 1);
    // Holding the lease: the events and the answer land together.
    j.guard_appends_by_lease("s1".into());
    let mut proj = j.fold(None).unwrap();
    j.append_answering(
        &mut proj,
        testkit::trial_life(0, 3, true).to_vec(),
        "t1",
        |p| {
            assert_eq!(
                p.progress.next_commit_idx, 1,
                "answers see the folded state"
            );
            vec![answer("req-1")]
        },
    )
    .unwrap();
    assert_eq!(j.len(), 4);
    assert_eq!(
        j.inbox_state("req-1").unwrap(),
        InboxState::Answered("{\"ok\":true}".into())
    );
    assert_eq!(j.inbox_state("req-2").unwrap(), InboxState::Pending);
    assert!(j.inbox_withdraw("req-2").unwrap());
    assert_eq!(j.inbox_state("req-2").unwrap(), InboxState::Withdrawn);
}

#[test]
fn read_only_open_of_an_old_schema_does_not_migrate() {
    let (_dir, path) = journal();
    // Turn it back into a schema-1 journal (undo what migrations 2 and 3 added).
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "ALTER TABLE lease DROP COLUMN pid_start; ALTER TABLE lease DROP COLUMN boot_id;
         DROP TABLE journal_meta; DROP TABLE proj_snapshots; DROP INDEX events_rare_kinds;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(c);
    let version = |p: &std::path::Path| -> u32 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    let j = Journal::open_read_only(&path).unwrap();
    assert_eq!(j.schema_version(), 1);
    assert_eq!(j.fold(None).unwrap().progress.total_slots, 3);
    assert_eq!(j.lease().unwrap(), None);
    drop(j);
    assert_eq!(version(&path), 1, "a read-only open migrated the journal");
    // A writer upgrades it.
    let j = Journal::open(&path, Durability::Normal).unwrap();
    assert_eq!(j.schema_version(), journal::store::SCHEMA_VERSION);
    drop(j);
    assert_eq!(version(&path), journal::store::SCHEMA_VERSION);
}

#[test]
fn every_request_rings_the_inbox_bell_after_its_commit() {
    let (_dir, path) = journal();
    let j = Journal::open(&path, Durability::Normal).unwrap();
    assert_eq!(j.inbox_bell(), None, "no request yet, no bell");
    j.inbox_submit("req-1", "kill", "{}", "test", 0).unwrap();
    assert_eq!(j.inbox_bell(), Some(1));
    j.inbox_submit("req-2", "kill", "{}", "test", 0).unwrap();
    assert_eq!(j.inbox_bell(), Some(2));
    // The bell is the journal's sibling `journal.bell`; the requests are in the table.
    assert!(path.with_extension("bell").is_file());
    assert_eq!(j.inbox_pending().unwrap().len(), 2);
}

#[test]
fn the_bell_is_never_rung_through_a_planted_symlink() {
    let (dir, path) = journal();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::symlink(&victim, path.with_extension("bell")).unwrap();
    let j = Journal::open(&path, Durability::Normal).unwrap();
    let before = j.inbox_bell();
    j.inbox_submit("req-1", "kill", "{}", "test", 0).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    // The request is queued all the same (the coordinator's fallback read finds it).
    assert_eq!(j.inbox_pending().unwrap().len(), 1);
    assert_eq!(j.inbox_bell(), before, "a symlink is not a bell");
}
