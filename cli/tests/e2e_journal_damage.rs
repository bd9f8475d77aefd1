//! A damaged or vanished journal never ends green: a journal deleted or truncated under a
//! live run stops it with a non-zero exit that says so, and a journal whose last events
//! were cut is caught by `verify` (through the chain head record kept outside the events
//! table), refused by `rebuild` and `continue`. Real `labj` processes and journals.

mod support;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use support::*;

/// 8 tasks of 0.4 s each at concurrency 2: a run of about 2 s.
fn paced_experiment(s: &Scratch) -> PathBuf {
    s.tasks(8);
    s.script("agent.sh", &format!("sleep 0.4\n{SUCCESS}"));
    s.experiment(&["a"], 1, 2, "")
}

/// Starts `labj run`, waits until its journal exists, applies `damage` to the run dir,
/// and returns the run's output.
fn damage_live_run(s: &Scratch, damage: impl FnOnce(&Path)) -> (Output, PathBuf) {
    let exp = paced_experiment(s);
    let child = s
        .labj_cmd(&["run", exp.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn labj run");
    // Mid-run: a few trials dispatched and at least one committed.
    let run = wait_for(Duration::from_secs(30), "the run's first commit", || {
        s.first_run().filter(|r| {
            journal::Journal::open_read_only(&journal_path(r))
                .and_then(|j| j.fold(None))
                .is_ok_and(|p| p.progress.next_commit_idx >= 1)
        })
    });
    damage(&run);
    let out = child.wait_with_output().unwrap();
    (out, run)
}

fn assert_never_green(out: &Output, needle: &str) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(1), "labj must fail: {all}");
    assert!(all.contains(needle), "the error says `{needle}`: {all}");
    assert!(
        !all.contains("completed"),
        "nothing claims completion: {all}"
    );
}

#[test]
fn journal_deleted_mid_run_fails_loudly_and_never_claims_completed() {
    let s = Scratch::new();
    let (out, run) = damage_live_run(&s, |run| {
        for name in ["journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"] {
            let _ = std::fs::remove_file(run.join(name));
        }
    });
    assert_never_green(
        &out,
        "the journal file was deleted while this run was writing it",
    );
    // Afterwards the run is reported as deleted, not as "never started".
    let status = s.labj(&["status", run.to_str().unwrap()]);
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert!(
        text(&status).contains("was deleted") && text(&status).contains("journal.head"),
        "{}",
        text(&status)
    );
}

#[test]
fn journal_truncated_mid_run_fails_loudly_and_never_claims_completed() {
    let s = Scratch::new();
    let (out, _run) = damage_live_run(&s, |run| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(run.join("journal.sqlite"))
            .unwrap();
        f.set_len(0).unwrap();
    });
    assert_never_green(&out, "the journal file was truncated from");
}

#[test]
fn journal_replaced_mid_run_fails_loudly_and_never_claims_completed() {
    let s = Scratch::new();
    let (out, _run) = damage_live_run(&s, |run| {
        let j = run.join("journal.sqlite");
        let copy = run.join("copy.sqlite");
        std::fs::copy(&j, &copy).unwrap();
        std::fs::rename(&copy, &j).unwrap();
    });
    assert_never_green(&out, "the journal file was replaced by another file");
}

/// Deletes the journal's last `n` events the way someone with sqlite3 would.
fn cut_tail(run: &Path, n: i64) -> i64 {
    let conn = rusqlite::Connection::open(journal_path(run)).unwrap();
    let len: i64 = conn
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch("DROP TRIGGER events_no_delete;")
        .unwrap();
    conn.execute("DELETE FROM events WHERE idx >= ?1", [len - n])
        .unwrap();
    len
}

#[test]
fn tail_deletion_is_detected_by_verify_and_not_hidden_by_rebuild() {
    let s = Scratch::new();
    s.tasks(4);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 2, "");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    let arg = run.to_str().unwrap();
    let ok = s.labj(&["verify", arg]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("chain head record"), "{}", text(&ok));

    let len = cut_tail(&run, 3);
    let verify = s.labj(&["verify", arg]);
    let v = text(&verify);
    assert_eq!(verify.status.code(), Some(1), "{v}");
    assert!(
        v.contains(&format!(
            "its head record says {len} events were written, the events table holds {}",
            len - 3
        )),
        "{v}"
    );
    assert!(
        !v.contains("run `labj rebuild`"),
        "verify must not suggest rebuild: {v}"
    );

    let rebuild = s.labj(&["rebuild", arg]);
    let r = text(&rebuild);
    assert_eq!(rebuild.status.code(), Some(1), "rebuild refuses: {r}");
    assert!(r.contains("the journal was truncated"), "{r}");
    // Still detected after the refused rebuild, and continue refuses too.
    let again = s.labj(&["verify", arg]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let cont = s.labj(&["continue", arg]);
    assert_eq!(cont.status.code(), Some(1), "{}", text(&cont));
    assert!(
        text(&cont).contains("the journal was truncated"),
        "{}",
        text(&cont)
    );

    // Removing the head record as well is detected too.
    std::fs::remove_file(run.join("journal.head")).unwrap();
    let verify = s.labj(&["verify", arg]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify).contains("chain head record (journal.head) is missing"),
        "{}",
        text(&verify)
    );
}
