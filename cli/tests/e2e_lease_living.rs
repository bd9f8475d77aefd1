//! Leases cannot be stolen from the living: a holder on this machine whose process is
//! alive is never taken over, whatever its heartbeat or the clocks say; a recycled pid is
//! not mistaken for the holder; racing continues get a clear refusal, never a constraint
//! violation; and a session that lost its lease cannot append. Real `labj` processes.

mod support;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;
use support::crash::*;
use support::*;

const SKEW_ENV: &str = engine::lease::CLOCK_SKEW_ENV;

fn spawn(s: &Scratch, args: &[&str]) -> Child {
    s.labj_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn labj")
}

fn set_lease(run: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(journal_path(run)).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let n = conn.execute(sql, []).unwrap();
    assert_eq!(n, 1, "the lease row exists");
}

/// Waits until the run's lease row exists (it is written right after the journal).
fn wait_for_lease(run: &Path) {
    wait_for(Duration::from_secs(30), "the run's lease", || {
        let conn = rusqlite::Connection::open(journal_path(run)).ok()?;
        conn.query_row("SELECT 1 FROM lease WHERE id = 0", [], |_| Ok(()))
            .ok()
    });
}

/// SIGSTOPs `pid` at a moment it holds no write transaction (a process stopped inside one
/// would keep the journal locked), and forges the lease's heartbeat to 0 meanwhile.
fn stop_holder_with_ancient_heartbeat(run: &Path, pid: u32) {
    for _ in 0..100 {
        // SAFETY: kill(2) on the child this test spawned.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGSTOP) }, 0);
        let conn = rusqlite::Connection::open(journal_path(run)).unwrap();
        conn.busy_timeout(Duration::from_millis(200)).unwrap();
        match conn.execute("UPDATE lease SET heartbeat_ms = 0 WHERE id = 0", []) {
            Ok(n) => {
                assert_eq!(n, 1, "the lease row exists");
                return;
            }
            Err(_) => {
                // Stopped inside a transaction: let it finish and try again.
                // SAFETY: as above.
                unsafe { libc::kill(pid as i32, libc::SIGCONT) };
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    panic!("could not stop the holder outside a transaction");
}

#[test]
fn live_holder_is_never_taken_over_under_a_shifted_clock_or_a_stale_heartbeat() {
    let s = Scratch::new();
    let exp = slow_experiment(&s, "1.5");
    let child = spawn(&s, &["run", exp.to_str().unwrap()]);
    let holder = child.id();
    let run = wait_for(Duration::from_secs(30), "the run to start", || {
        s.first_run().filter(|r| journal_has_run(r))
    });
    let arg = run.to_str().unwrap();
    wait_for_lease(&run);
    // The holder is stopped (alive, but not heart-beating) and its heartbeat looks ancient
    // by any clock.
    stop_holder_with_ancient_heartbeat(&run, holder);
    for skew in ["0", "3600000", "-3600000", "86400000"] {
        let out = s
            .labj_cmd(&["continue", arg])
            .env(SKEW_ENV, skew)
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "clock {skew} ms: {t}");
        assert!(
            t.contains("run is being driven by another labj process")
                && t.contains(&format!("pid {holder} on")),
            "clock {skew} ms: {t}"
        );
    }
    // SAFETY: kill(2) on the child this test spawned.
    assert_eq!(unsafe { libc::kill(holder as i32, libc::SIGCONT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the holder finishes undisturbed: {}",
        text(&out)
    );
    let starts = events_of(&s, &run, "session_started");
    assert_eq!(starts.len(), 1, "no takeover was journaled: {starts:#?}");
    let slots = committed_slots(&run);
    assert_eq!(slots.len(), 8);
    assert!(
        slots.iter().all(|(_, _, c)| c == "success"),
        "no agent was killed by a takeover: {slots:?}"
    );
    check_journal(&run);
}

#[test]
fn a_recycled_pid_is_not_mistaken_for_the_holder() {
    let s = Scratch::new();
    let (run, _) = crash_with_active_trials(&s, "0.3");
    // The dead holder's pid now belongs to a live process (this test) that started at
    // another time.
    let me = std::process::id();
    set_lease(
        &run,
        &format!("UPDATE lease SET pid = {me}, pid_start = 1 WHERE id = 0"),
    );
    let inspect = s.labj(&["inspect", run.to_str().unwrap()]);
    assert!(
        text(&inspect).contains("the pid now belongs to another process"),
        "{}",
        text(&inspect)
    );
    let outs = continue_until_completed(&s, &run, &["--fail-on-infra-error", "100%"]);
    assert_eq!(outs[0].status.code(), Some(0), "{}", text(&outs[0]));
    let starts = events_of(&s, &run, "session_started");
    assert_eq!(starts[1]["payload"]["took_over_from"]["pid"], me);
    check_journal(&run);
}

#[test]
fn racing_continues_get_a_clear_refusal_and_leave_the_lease_to_the_winner() {
    for round in 0..3 {
        let s = Scratch::new();
        let (run, _) = crash_with_active_trials(&s, "1");
        let arg = run.to_str().unwrap();
        let args = ["continue", arg, "--fail-on-infra-error", "100%"];
        let children: Vec<Child> = (0..4).map(|_| spawn(&s, &args)).collect();
        let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
        let outs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let all: String = outs.iter().map(text).collect::<Vec<_>>().join("\n---\n");
        assert!(!all.contains("UNIQUE constraint"), "round {round}: {all}");
        let winners: Vec<usize> = (0..4).filter(|i| outs[*i].status.success()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {all}");
        let w = pids[winners[0]];
        for (i, o) in outs.iter().enumerate() {
            if i != winners[0] {
                let t = text(o);
                assert_eq!(o.status.code(), Some(1), "round {round}: {t}");
                assert!(
                    t.contains("run is being driven by another labj process")
                        && t.contains(&format!("pid {w} on")),
                    "round {round}: the loser names the winner: {t}"
                );
            }
        }
        let starts = events_of(&s, &run, "session_started");
        assert_eq!(starts.len(), 2, "round {round}: losers journal nothing");
        assert_eq!(starts[1]["payload"]["pid"], w);
        check_journal(&run);
        assert_each_slot_committed_once(&run, 8);
    }
}

#[test]
fn a_session_whose_lease_was_taken_cannot_append() {
    let s = Scratch::new();
    let exp = slow_experiment(&s, "1");
    let child = spawn(&s, &["run", exp.to_str().unwrap()]);
    let run = wait_for(Duration::from_secs(30), "the run to start", || {
        s.first_run().filter(|r| journal_has_run(r))
    });
    wait_for_lease(&run);
    // Someone rewrites the lease behind the holder's back; the count is taken under the
    // same write lock, so no append can fall between the two.
    let before: i64 = {
        let mut conn = rusqlite::Connection::open(journal_path(&run)).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let n = tx
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        let stolen = tx
            .execute(
                "UPDATE lease SET session_id = 'thief', pid = 1, host = 'elsewhere' WHERE id = 0",
                [],
            )
            .unwrap();
        assert_eq!(stolen, 1, "the lease row exists");
        tx.commit().unwrap();
        n
    };
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("no longer holds the run lease") || t.contains("took over this run's lease"),
        "{t}"
    );
    assert!(!t.contains("completed"), "{t}");
    let after = read_events(&run);
    assert_eq!(
        after.len() as i64,
        before,
        "not one event was appended once the lease was gone"
    );
    assert!(after.iter().all(|e| e.event.kind() != "run_completed"));
}
