//! Run control across processes, part 2: kill → continue, cancel, set, and control of a
//! run that no live process drives.
//!
//! As in `e2e_control_pause.rs`, `labj run` is a background child process and the test
//! is the second shell; agents record their own pid and start/end times.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;
use support::live::*;
use support::*;

/// Slot classification by schedule_idx, from `proj_slots`.
fn classifications(live: &LiveRun) -> BTreeMap<String, String> {
    live.events("slot_committed")
        .iter()
        .map(|e| {
            (
                e["trial_id"].as_str().unwrap().to_string(),
                e["payload"]["classification"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn kill_then_continue_reruns_killed_trials_and_completes() {
    kill_then_continue(false);
}

/// The seed's behaviour, on request: killed trials are committed as `worker_lost`.
#[test]
fn kill_then_continue_no_retry_lost_commits_killed_trials_as_worker_lost() {
    kill_then_continue(true);
}

fn kill_then_continue(no_retry_lost: bool) {
    let _serial = serial();
    let s = Scratch::new();
    let mut live = LiveRun::start_uniform(&s, 6, 100_000, 3, 120_000);
    let active = live.wait_active(3, true);
    let pids: Vec<i32> = active.iter().map(|t| live.agent_pid(t)).collect();
    for p in &pids {
        assert!(
            !group_members(*p).is_empty(),
            "agent group {p} is alive before the kill"
        );
    }

    let ans = live.control_ok("kill", &[]);
    assert_eq!(ans["status"], "killed", "{ans}");
    let mut stopped = strings(&ans["detail"]["stopped_trials"]);
    stopped.sort();
    assert_eq!(stopped, active, "{ans}");
    let st = live.wait_exit(Duration::from_secs(20));
    assert_eq!(
        st.code(),
        Some(4),
        "labj run exits 4 when killed\n{}",
        live.log()
    );
    for p in &pids {
        let left = group_members(*p);
        assert!(
            left.is_empty(),
            "agent process group {p} survived the kill: {left:?}"
        );
    }
    let stops = live.events("stop_requested");
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(stops[0]["payload"]["scope"], "kill");
    let killed = live.events("run_killed");
    assert_eq!(killed.len(), 1);
    let mut journaled = strings(&killed[0]["payload"]["stopped_trials"]);
    journaled.sort();
    assert_eq!(journaled, active);
    assert_eq!(live.run_control()["status"], "killed");
    check_journal(&live.run_dir);

    // The rest runs quickly; the killed ones are re-run (or, with --no-retry-lost,
    // committed as worker_lost and not run again).
    live.release();
    let run = live.run();
    let mut args = vec!["continue", run.as_str()];
    if no_retry_lost {
        args.push("--no-retry-lost");
    }
    let o = live.labj(&args);
    // Without retries the lost slots are infra faults: exit 3 at the default 0%.
    let want = if no_retry_lost { Some(3) } else { Some(0) };
    assert_eq!(o.status.code(), want, "labj continue:\n{}", text(&o));
    let proj = check_journal(&live.run_dir);
    assert_eq!(proj.control.status.as_str(), "completed");
    let slots = committed_slots(&live.run_dir);
    assert_eq!(
        slots.iter().map(|s| s.0).collect::<Vec<_>>(),
        (0..6).collect::<Vec<u64>>()
    );
    let by_trial = classifications(&live);
    assert_eq!(
        by_trial.len(),
        6,
        "each slot committed exactly once: {by_trial:?}"
    );
    assert_eq!(live.events("slot_committed").len(), 6);
    let lost = live.events("worker_lost");
    assert_eq!(lost.len(), 3);
    for e in &lost {
        // A kill is the user's decision: re-run without spending the infra budget.
        assert_eq!(
            e["payload"]["retry"].as_bool().unwrap_or(false),
            !no_retry_lost,
            "{e}"
        );
        assert_eq!(
            e["payload"]["stopped_by_kill"].as_bool().unwrap_or(false),
            !no_retry_lost,
            "{e}"
        );
    }
    let overall = &proj.aggregates.overall;
    if no_retry_lost {
        for t in &active {
            assert_eq!(by_trial[t], "worker_lost", "{t}: {by_trial:?}");
        }
        assert_eq!(overall.succeeded, 3);
        assert_eq!((overall.infra, overall.infra_retried), (3, 0));
        assert_eq!(
            overall.success_rate(),
            Some(1.0),
            "lost slots are not scored"
        );
    } else {
        for t in &active {
            assert_eq!(by_trial[t], "success", "{t} re-run: {by_trial:?}");
        }
        assert_eq!(overall.succeeded, 6);
        assert_eq!((overall.infra, overall.infra_retried), (0, 3));
        assert!(
            proj.progress.lost_attempts.is_empty(),
            "kills spend no budget"
        );
    }
    let dispatched: Vec<String> = live
        .events("trial_dispatched")
        .iter()
        .map(|e| e["trial_id"].as_str().unwrap().to_string())
        .collect();
    for t in &active {
        assert_eq!(
            dispatched.iter().filter(|d| *d == t).count(),
            if no_retry_lost { 1 } else { 2 },
            "{t}: dispatches after the kill"
        );
    }
    let v = live.labj(&["verify", &run]);
    assert!(v.status.success(), "labj verify:\n{}", text(&v));
}

#[test]
fn cancel_one_trial_commits_it_as_cancelled_and_the_run_goes_on() {
    let _serial = serial();
    let s = Scratch::new();
    let mut live = LiveRun::start_uniform(&s, 4, 100_000, 2, 120_000);
    let active = live.wait_active(2, true);
    let victim = active[0].clone();
    let pid = live.agent_pid(&victim);

    let ans = live.control_ok("cancel", &["--trial", &victim]);
    assert_eq!(ans["status"], "running", "{ans}");
    wait_for(
        Duration::from_secs(20),
        "the cancelled slot to commit",
        || classifications(&live).contains_key(&victim).then_some(()),
    );
    assert_eq!(classifications(&live)[&victim], "cancelled");
    assert!(
        group_members(pid).is_empty(),
        "the cancelled agent's group is gone"
    );
    let stops = live.events("stop_requested");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0]["payload"]["scope"], "cancel");
    assert_eq!(stops[0]["trial_id"], victim.as_str());
    // The run went on: the freed slot was filled.
    wait_for(Duration::from_secs(20), "a third dispatch", || {
        (live.events("trial_dispatched").len() >= 3).then_some(())
    });
    assert_eq!(live.run_control()["status"], "running");

    // Cancelling a trial that is not active is refused and names the active ones.
    let (o, v) = live.control("cancel", &["--trial", &victim]);
    assert!(!o.status.success() && v["ok"] == false, "{v}");
    assert!(v["message"].as_str().unwrap().contains("not active"), "{v}");

    live.release();
    let proj = live.finish_ok(Duration::from_secs(60));
    assert_eq!(proj.aggregates.overall.succeeded, 3);
    assert_eq!(proj.aggregates.overall.by_classification["cancelled"], 1);
    // An operator's cancel is not a verdict on the agent: outside the success rate's
    // denominator, no metric, no failure streak.
    let o = &proj.aggregates.overall;
    assert_eq!(
        (o.cancelled, o.scored(), o.unsuccessful()),
        (1, 3, 0),
        "{o:?}"
    );
    assert_eq!(o.success_rate(), Some(1.0));
    assert_eq!(o.metric_counts.get("score").copied(), Some(3), "{o:?}");
    assert!(
        proj.progress.consecutive_failures.values().all(|n| *n == 0),
        "{:?}",
        proj.progress.consecutive_failures
    );
}

#[test]
fn set_max_concurrency_lowers_without_killing_and_raises_again() {
    let _serial = serial();
    let s = Scratch::new();
    // 12 agents of ~14 ticks (~0.8 s): 3 at once, then 1 at once, then 3 again.
    let mut live = LiveRun::start_uniform(&s, 12, 14, 3, 120_000);
    let first = live.wait_active(3, true);
    let ans = live.control_ok("set", &["--max-concurrency", "1"]);
    assert_eq!(ans["detail"]["max_concurrency"], 1, "{ans}");
    assert_eq!(live.run_control()["max_concurrency"], 1);
    // Let a few run one at a time, then raise.
    wait_for(Duration::from_secs(60), "three more trials", || {
        let n = live.status()["schedule_progress"]["next_commit_idx"].as_u64()?;
        (n >= 6).then_some(())
    });
    let ans = live.control_ok("set", &["--max-concurrency", "3"]);
    assert_eq!(ans["detail"]["max_concurrency"], 3, "{ans}");
    let proj = live.finish_ok(Duration::from_secs(60));
    assert_eq!(
        proj.aggregates.overall.succeeded, 12,
        "lowering killed nobody"
    );
    assert_eq!(proj.control.max_concurrency, 3);

    // Which trials were dispatched under which cap, from the journal.
    let events = live.journal_events();
    let sets: Vec<u64> = events
        .iter()
        .filter(|e| e.event.kind() == "concurrency_set")
        .map(|e| e.idx)
        .collect();
    assert_eq!(sets.len(), 2, "both sets journaled");
    let (mut before, mut capped, mut raised) = (Vec::new(), Vec::new(), Vec::new());
    for e in events
        .iter()
        .filter(|e| e.event.kind() == "trial_dispatched")
    {
        let t = e.event.trial_id().unwrap().to_string();
        if e.idx < sets[0] {
            before.push(t);
        } else if e.idx < sets[1] {
            capped.push(t);
        } else {
            raised.push(t);
        }
    }
    for t in &first {
        assert!(
            before.contains(t),
            "{t} was active before the set: {before:?}"
        );
    }
    assert!(
        capped.len() >= 2,
        "several trials ran under the cap: {capped:?}"
    );
    let interval = |t: &String| {
        alive_interval(&live.out, t).unwrap_or_else(|| panic!("{t} left no start/end record"))
    };
    // Under max_concurrency 1, each agent ran alone: no other agent (from before the set
    // or under the cap) was alive at any moment of its life.
    for t in &capped {
        let (s0, e0) = interval(t);
        for o in before.iter().chain(&capped).filter(|o| *o != t) {
            let (s1, e1) = interval(o);
            assert!(
                e1 <= s0 || e0 <= s1,
                "{t} ({s0}..{e0}) overlapped {o} ({s1}..{e1}) under max_concurrency 1"
            );
        }
    }
    // Raised back to 3: three agents alive at once again, never more.
    let after: Vec<(i64, i64)> = capped.iter().chain(&raised).map(interval).collect();
    assert_eq!(max_overlap(&after), 3, "raising to 3 let 3 run: {after:?}");
}

#[test]
fn control_without_a_live_coordinator_names_the_status_and_continue() {
    let _serial = serial();
    // A crashed run: `labj run` SIGKILLed while agents run.
    let s = Scratch::new();
    let mut live = LiveRun::start_uniform(&s, 4, 100_000, 2, 120_000);
    live.wait_active(2, true);
    live.crash();
    let run = live.run();
    for args in [
        vec!["pause", run.as_str()],
        vec!["resume", run.as_str(), "--all"],
        vec!["kill", run.as_str()],
        vec!["cancel", run.as_str(), "--trial", "trial_000000"],
        vec!["set", run.as_str(), "--max-concurrency", "2"],
    ] {
        let o = live.labj(&args);
        assert!(
            !o.status.success(),
            "{args:?} on a crashed run:\n{}",
            text(&o)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("no live labj process"), "{args:?}: {err}");
        assert!(
            err.contains("status: running"),
            "{args:?} names the status: {err}"
        );
        assert!(
            err.contains("labj continue"),
            "{args:?} points at continue: {err}"
        );
    }
    // Nothing was queued for a later coordinator to act on by surprise.
    let conn = rusqlite::Connection::open(live.run_dir.join("journal.sqlite")).unwrap();
    let queued: i64 = conn
        .query_row("SELECT COUNT(*) FROM control_inbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(queued, 0);
    drop(conn);

    // The orphaned agents of the crashed run are still going; let them end, then recover.
    live.release();
    let o = live.labj(&["continue", &run, "--fail-on-infra-error", "100%"]);
    assert!(o.status.success(), "labj continue:\n{}", text(&o));
    let proj = check_journal(&live.run_dir);
    assert_eq!(proj.control.status.as_str(), "completed");

    // A finished run: the error names its status.
    let o = live.labj(&["pause", &run]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no live labj process"), "{err}");
    assert!(err.contains("status: completed"), "{err}");
    assert!(err.contains("finished"), "{err}");
}
