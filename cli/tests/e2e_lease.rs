//! The run lease end to end: one `labj` process drives a run at a time; a live holder
//! is named when another process is refused; a dead holder is taken over and the
//! takeover is journaled in `session_started.took_over_from`.

mod support;
use journal::event::Event;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// 8 tasks at concurrency 4; task 0 returns at once, the others sleep `slow` seconds.
fn slow_experiment(s: &Scratch, slow: &str) -> PathBuf {
    s.tasks(8);
    s.script(
        "agent.sh",
        &format!(
            r#"[ "$AGENTLAB_TASK_ID" = task_000 ] || sleep {slow}
echo '{{"schema_version":"agent_result_v1","outcome":"success","metrics":{{"score":1}}}}' > "$AGENTLAB_RESULT_PATH""#
        ),
    );
    s.experiment(&["a"], 1, 4, "")
}

/// A run SIGKILLed right after slot 0 committed, with slots 1..=3 still running.
/// Returns the run dir and the dead session's pid.
fn crashed_run(s: &Scratch, slow: &str) -> (PathBuf, u32) {
    let exp = slow_experiment(s, slow);
    let out = s.run_killed_after(&exp, 8);
    assert_eq!(signal_of(&out.status), Some(9), "{}", text(&out));
    let run = s.the_run();
    let pid = match &read_events(&run)[1].event {
        Event::SessionStarted(ss) => ss.pid,
        e => panic!("event 1 is {}", e.kind()),
    };
    (run, pid)
}

fn spawn(s: &Scratch, args: &[&str]) -> Child {
    s.labj_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn labj")
}

fn session_starts(s: &Scratch, run: &Path) -> Vec<serde_json::Value> {
    let out = s.labj(&[
        "events",
        run.to_str().unwrap(),
        "--kind",
        "session_started",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("events --json line"))
        .collect()
}

fn host() -> String {
    engine::lease::this_host()
}

#[test]
fn two_concurrent_continues_on_a_crashed_run_exactly_one_proceeds() {
    let s = Scratch::new();
    let (run, _) = crashed_run(&s, "1.5");
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
    let deadline = Instant::now() + Duration::from_secs(30);
    let run = loop {
        let found = std::fs::read_dir(s.runs_dir())
            .ok()
            .and_then(|d| d.flatten().map(|e| e.path()).next())
            .filter(|r| {
                journal::Journal::open_read_only(&journal_path(r)).is_ok_and(|j| j.len() >= 2)
            });
        if let Some(r) = found {
            break r;
        }
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(10));
    };
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
    let (run, dead_pid) = crashed_run(&s, "0.3");
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
    let (run, _) = crashed_run(&s, "0.3");
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
