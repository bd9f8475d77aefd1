//! The run lease end to end: one `labj` process drives a run at a time; a live holder
//! is named when another process is refused; a dead holder is taken over and the
//! takeover is journaled in `session_started.took_over_from`.

mod support;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;
use support::crash::*;
use support::*;

fn spawn(s: &Scratch, args: &[&str]) -> Child {
    s.labj_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn labj")
}

fn session_starts(s: &Scratch, run: &Path) -> Vec<serde_json::Value> {
    events_of(s, run, "session_started")
}

fn host() -> String {
    engine::lease::this_host()
}

#[test]
fn two_concurrent_continues_on_a_crashed_run_exactly_one_proceeds() {
    let s = Scratch::new();
    let (run, _) = crash_with_active_trials(&s, "1.5");
    let arg = run.to_str().unwrap();
    let args = ["continue", arg, "--fail-on-infra-error", "100%"];
    let children = [spawn(&s, &args), spawn(&s, &args)];
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let winners: Vec<usize> = (0..2).filter(|i| outs[*i].status.success()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one continue proceeds:\n{}\n{}",
        text(&outs[0]),
        text(&outs[1])
    );
    let (w, l) = (winners[0], 1 - winners[0]);
    assert_eq!(outs[l].status.code(), Some(1), "{}", text(&outs[l]));
    let err = String::from_utf8_lossy(&outs[l].stderr);
    assert!(
        err.contains("run is being driven by another labj process")
            && err.contains(&format!("pid {} on {}", pids[w], host())),
        "the refusal names the holder (pid {} on {}): {err}",
        pids[w],
        host()
    );
    check_journal(&run);
    assert_each_slot_committed_once(&run, 8);
    let starts = session_starts(&s, &run);
    assert_eq!(starts.len(), 2, "the loser journals nothing: {starts:#?}");
    assert_eq!(starts[1]["payload"]["pid"], pids[w]);
}

#[test]
fn continue_while_a_run_is_live_is_refused_naming_the_holder() {
    let s = Scratch::new();
    let exp = slow_experiment(&s, "1");
    let child = spawn(&s, &["run", "--json", exp.to_str().unwrap()]);
    let run_pid = child.id();
    // Wait for the run to hold the lease (its session_started is journaled).
    let run = wait_for(Duration::from_secs(30), "the run to start", || {
        s.first_run().filter(|r| journal_has_run(r))
    });
    let out = s.labj(&["continue", run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("run is being driven by another labj process")
            && err.contains(&format!("pid {run_pid} on {}", host()))
            && err.contains("labj kill"),
        "{err}"
    );
    let run_out = child.wait_with_output().unwrap();
    assert_eq!(run_out.status.code(), Some(0), "{}", text(&run_out));
    check_journal(&run);
    assert_each_slot_committed_once(&run, 8);
    let starts = session_starts(&s, &run);
    assert_eq!(starts.len(), 1, "the refused continue journals nothing");
    assert_eq!(starts[0]["payload"]["pid"], run_pid);
}

#[test]
fn dead_holder_lease_is_taken_over_and_journaled() {
    let s = Scratch::new();
    let (run, dead_pid) = crash_with_active_trials(&s, "0.3");
    let inspect = s.labj(&["inspect", "--json", run.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("inspect json");
    let liveness = doc["liveness"].as_str().unwrap();
    assert!(
        liveness.starts_with(&format!(
            "crashed: holder pid {dead_pid} on {} is gone",
            host()
        )),
        "{liveness}"
    );
    let first = session_starts(&s, &run);
    let outs = continue_until_completed(&s, &run, &["--fail-on-infra-error", "100%"]);
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].status.code(), Some(0), "{}", text(&outs[0]));
    let starts = session_starts(&s, &run);
    assert_eq!(starts.len(), 2, "{starts:#?}");
    assert_eq!(starts[0], first[0]);
    assert!(starts[0]["payload"]["took_over_from"].is_null());
    let took = &starts[1]["payload"]["took_over_from"];
    assert_eq!(starts[1]["payload"]["mode"], "continue");
    assert_eq!(took["pid"], dead_pid, "{took}");
    assert_eq!(took["host"], host().as_str());
    assert_eq!(took["session_id"], starts[0]["payload"]["session_id"]);
    // A clean end releases the lease: nobody holds the completed run.
    let inspect = s.labj(&["inspect", run.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&inspect.stdout).contains("finished: no process holds the run"),
        "{}",
        text(&inspect)
    );
    check_journal(&run);
}

/// Rewrite the lease row of a crashed run as if held by a process on another host
/// (whose pid this host cannot probe) with a heartbeat `age_ms` old.
fn forge_remote_holder(run: &Path, age_ms: i64) {
    let conn = rusqlite::Connection::open(journal_path(run)).unwrap();
    let now = engine::lease::now_ms();
    let n = conn
        .execute(
            "UPDATE lease SET session_id = 'remote-session', pid = 4242, host = 'elsewhere.example', heartbeat_ms = ?1 WHERE id = 0",
            [now - age_ms],
        )
        .unwrap();
    assert_eq!(n, 1, "the crashed run still has its lease row");
}

#[test]
fn holder_on_another_host_is_live_until_its_heartbeat_goes_stale() {
    let s = Scratch::new();
    let (run, _) = crash_with_active_trials(&s, "0.3");
    let arg = run.to_str().unwrap();
    // Fresh heartbeat from another host: alive, whatever the local pid table says.
    forge_remote_holder(&run, 0);
    let out = s.labj(&["continue", arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("session remote-session (pid 4242 on elsewhere.example)"),
        "{err}"
    );
    // Stale heartbeat: dead, taken over, and the takeover names the remote holder.
    let stale = engine::lease::STALE_AFTER.as_millis() as i64 + 5_000;
    forge_remote_holder(&run, stale);
    let outs = continue_until_completed(&s, &run, &["--fail-on-infra-error", "100%"]);
    assert_eq!(outs[0].status.code(), Some(0), "{}", text(&outs[0]));
    let starts = session_starts(&s, &run);
    assert_eq!(starts.len(), 2);
    let took = &starts[1]["payload"]["took_over_from"];
    assert_eq!(took["session_id"], "remote-session");
    assert_eq!(took["pid"], 4242);
    assert_eq!(took["host"], "elsewhere.example");
    check_journal(&run);
    assert_each_slot_committed_once(&run, 8);
}
