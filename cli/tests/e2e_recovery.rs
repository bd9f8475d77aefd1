//! Crash recovery end to end: SIGKILL the real `labj` binary mid-run, then `labj
//! continue`; copies of journals taken while a run writes; forensic commands on a crash.

mod support;
use journal::event::{Event, StoredEvent};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::crash::*;
use support::*;

fn kinds(events: &[StoredEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event.kind()).collect()
}

#[test]
fn p5a_recovered_active_trials_commit_as_worker_lost_deterministically() {
    let t0 = Instant::now();
    let s = Scratch::new();
    let (run, _) = crash_with_active_trials(&s, "1.5");
    let crashed = read_events(&run);
    let crash_len = crashed.len();
    assert_eq!(crash_len, 8, "crashed journal: {:?}", kinds(&crashed));
    let stale = stale_slots(&run);
    assert!(
        stale.len() >= 2,
        "several trials must be dispatched and not completed at the crash: {stale:?} / {:?}",
        kinds(&crashed)
    );
    let wal = run.join("journal.sqlite-wal");
    assert!(
        wal.metadata().map(|m| m.len() > 0).unwrap_or(false),
        "a SIGKILLed run leaves its last transactions in the WAL"
    );

    // Two copies of the same crashed journal (WAL and shm included), recovered apart.
    let copies: Vec<PathBuf> = ["copy_a", "copy_b"]
        .iter()
        .map(|n| {
            let c = s.dir().join(n);
            copy_dir(&run, &c);
            c
        })
        .collect();
    let mut recovered = Vec::new();
    for (i, c) in copies.iter().enumerate() {
        // The seed's recovery: lost work is committed, not re-run (`--no-retry-lost`).
        let extra: &[&str] = if i == 0 {
            &["--no-retry-lost"]
        } else {
            &["--no-retry-lost", "--fail-on-infra-error", "100%"]
        };
        let outs = continue_until_completed(&s, c, extra);
        assert_eq!(outs.len(), 1, "one continue suffices");
        let code = outs[0].status.code();
        if i == 0 {
            // worker_lost is an infrastructure fault: the default threshold 0% exits 3.
            assert_eq!(code, Some(3), "{}", text(&outs[0]));
            let err = String::from_utf8_lossy(&outs[0].stderr);
            assert!(err.contains("infrastructure faults"), "{err}");
        } else {
            assert_eq!(code, Some(0), "{}", text(&outs[0]));
        }
        check_journal(c);
        assert_each_slot_committed_once(c, 8);
        let events = read_events(c);
        assert_crashed_prefix_kept(&events, &crashed, &c.display().to_string());
        let lost = worker_lost_slots(&events[crash_len..]);
        assert_eq!(
            lost, stale,
            "worker_lost in schedule_idx order, one per stale trial"
        );
        // session_started first, then the worker_lost events, all in one batch.
        assert_eq!(events[crash_len].event.kind(), "session_started");
        let Event::SessionStarted(ss) = &events[crash_len].event else {
            unreachable!()
        };
        assert_eq!(ss.mode, "continue");
        assert!(ss.took_over_from.is_some(), "the dead holder is named");
        let slots = committed_slots(c);
        for idx in &lost {
            assert_eq!(
                slots[*idx as usize],
                (*idx, "worker_lost".to_string(), "worker_lost".to_string())
            );
        }
        for (idx, status, _) in &slots {
            if !lost.contains(idx) {
                assert_eq!(status, "completed", "slot {idx} ran to completion");
            }
        }
        recovered.push(events);
    }
    let a = recovery_events(&recovered[0], crash_len);
    let b = recovery_events(&recovered[1], crash_len);
    assert_eq!(a.len(), 1 + 2 * stale.len(), "{a:#?}");
    assert_eq!(
        a, b,
        "recovering the same journal twice yields the same events"
    );
    // Deterministic agents: the whole commit sequence of the two recoveries agrees too.
    let commits = |ev: &[StoredEvent]| -> Vec<serde_json::Value> {
        ev.iter()
            .filter(|e| e.event.kind() == "slot_committed")
            .map(normalized_event)
            .collect()
    };
    assert_eq!(commits(&recovered[0]), commits(&recovered[1]));
    eprintln!(
        "p5a: {} worker_lost {:?}, recovered twice identically in {:?}",
        stale.len(),
        stale,
        t0.elapsed()
    );
}

#[test]
fn forensics_after_sigkill_inspect_replay_events_and_continue() {
    let s = Scratch::new();
    let (run, dead_pid) = crash_with_active_trials(&s, "1.5");
    let proj = fold_run(&run);
    let mut stale: Vec<(u64, String)> = proj
        .control
        .active_trials
        .values()
        .map(|t| (t.schedule_idx, t.trial_id.clone()))
        .collect();
    stale.sort();
    assert!(stale.len() >= 2, "{stale:?}");
    let run_arg = run.to_str().unwrap();

    let out = s.labj(&["inspect", run_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    let process_line = report
        .lines()
        .find(|l| l.starts_with("process:"))
        .unwrap_or_else(|| panic!("no process line:\n{report}"));
    assert!(
        process_line.contains("crashed") && process_line.contains(&format!("pid {dead_pid}")),
        "{process_line}"
    );
    assert!(report.contains("journaled status: running"), "{report}");
    assert!(
        report.contains("active trials with no completion journaled:"),
        "{report}"
    );
    for (idx, trial) in &stale {
        assert!(
            report.contains(&format!("{trial} slot {idx} ")),
            "stale trial {trial} not listed:\n{report}"
        );
    }
    let plan_line = report
        .lines()
        .find(|l| l.starts_with("continue would:"))
        .unwrap_or_else(|| panic!("no continue plan:\n{report}"));
    let want: Vec<String> = stale
        .iter()
        .map(|(i, t)| format!("{t} (slot {i})"))
        .collect();
    assert!(
        plan_line.contains(&format!("worker_lost for {}", want.join(", "))),
        "{plan_line}"
    );
    assert!(report.contains("chain: ok (8 events"), "{report}");

    let out = s.labj(&["inspect", "--json", run_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect --json");
    assert!(doc["liveness"].as_str().unwrap().starts_with("crashed"));
    assert_eq!(doc["journaled_status"], "running");
    assert_eq!(doc["verify"]["ok"], true);
    let plan: Vec<u64> = doc["continue_plan"]["worker_lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["schedule_idx"].as_u64().unwrap())
        .collect();
    assert_eq!(plan, stale.iter().map(|s| s.0).collect::<Vec<_>>());
    assert_eq!(
        doc["stale_active_trials"].as_array().unwrap().len(),
        stale.len()
    );

    // Replay as of a few event idx: the in-flight count follows the journal.
    for (until, in_flight) in [(1u64, 0usize), (3, 2), (5, 4), (7, stale.len())] {
        let out = s.labj(&["replay", run_arg, "--until", &until.to_string(), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("replay json");
        assert_eq!(doc["as_of_event_idx"], until);
        let active = doc["run_control"]["active_trials"].as_object().unwrap();
        assert_eq!(active.len(), in_flight, "as of {until}: {doc:#}");
        let out = s.labj(&["replay", run_arg, "--until", &until.to_string()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("as of event {until}")));
    }
    let out = s.labj(&["replay", run_arg, "--until", "8"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("past the end") && err.contains("last idx is 7"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let lines = events_of(&s, &run, "trial_dispatched");
    assert_eq!(lines.len(), 4);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["kind"], "trial_dispatched");
        assert_eq!(l["schedule_idx"], i as u64);
        assert_eq!(l["payload"]["trial_id"], l["trial_id"]);
    }

    let outs = continue_until_completed(&s, &run, &["--fail-on-infra-error", "100%"]);
    assert_eq!(outs.last().unwrap().status.code(), Some(0));
    let out = s.labj(&["inspect", run_arg]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("finished: no process holds the run"),
        "{report}"
    );
    assert!(report.contains("continue: nothing to do"), "{report}");
    let len = read_events(&run).len();
    let out = s.labj(&["continue", run_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already completed") && err.contains("nothing to continue"),
        "{err}"
    );
    assert_eq!(
        read_events(&run).len(),
        len,
        "a refused continue writes nothing"
    );
    check_journal(&run);
}

/// Copy a run's journal files into `dst`: the chain head record first (a writer updates
/// it after each commit, so copied first it never names events the copy lacks), then the
/// main file, the WAL and the shm.
/// Copies a live run's journal files as `cp` would. `Some(true)` when no transaction
/// committed during the copy (the head record read before and after is the same), so
/// the copy is one moment of the journal; `Some(false)` for a torn copy (files from
/// different moments); `None` when a file was not there to copy.
fn snapshot_db(run: &Path, dst: &Path) -> Option<bool> {
    std::fs::create_dir_all(dst).unwrap();
    let before = std::fs::read(run.join("journal.head")).ok()?;
    std::fs::write(dst.join("journal.head"), &before).unwrap();
    for f in ["journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"] {
        match std::fs::copy(run.join(f), dst.join(f)) {
            Ok(_) => {}
            Err(_) if f != "journal.sqlite" => {}
            Err(_) => return None,
        }
    }
    // Then the blobs the copied events reference (`verify` checks them): each is stored
    // before the event naming it is journaled, so copying them after the journal finds
    // every one. Files renamed away meanwhile (`.tmp-*`) are skipped.
    copy_tree(&run.join("blobs"), &dst.join("blobs"));
    let after = std::fs::read(run.join("journal.head")).ok()?;
    Some(before == after)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for e in entries.flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        match e.file_type() {
            Ok(t) if t.is_dir() => copy_tree(&src, &dst),
            Ok(t) if t.is_file() => {
                let _ = std::fs::copy(&src, &dst);
            }
            _ => {}
        }
    }
}

/// Snapshots of a journal taken while a run writes it open cleanly (or fail with a
/// clear error, never a panic) and hold a prefix of the final journal.
#[test]
fn journal_copies_taken_mid_run_are_prefixes_of_the_final_journal() {
    let s = Scratch::new();
    s.tasks(40);
    // Trials of ~50 ms commit in bursts with quiet gaps between them, so some copies are
    // of one moment even on a loaded machine (with instant trials every copy could tear).
    s.script("agent.sh", &format!("sleep 0.05\n{SUCCESS}"));
    let exp = s.experiment(&["a", "b"], 1, 8, "");
    let mut child = s
        .labj_cmd(&["run", "--json", exp.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut snaps = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Only copies taken while the run is still writing count: a copy taken after
        // it exited would always verify and prove nothing.
        let done = child.try_wait().unwrap().is_some();
        if done {
            break;
        }
        if let Ok(mut runs) = std::fs::read_dir(s.runs_dir()) {
            if let Some(Ok(e)) = runs.next() {
                let dst = s.dir().join(format!("snap_{:03}", snaps.len()));
                if let Some(one_moment) = snapshot_db(&e.path(), &dst) {
                    snaps.push((dst, one_moment));
                }
            }
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(wait_within(&mut child, COMMAND_LIMIT, "labj run").success());
    assert!(
        !snaps.is_empty(),
        "no snapshot was taken while the run was writing"
    );
    let run = s.the_run();
    check_journal(&run);
    let full: Vec<[u8; 32]> = read_events(&run).iter().map(|e| e.hash).collect();
    let (mut ok, mut refused, mut lens) = (0, 0, Vec::new());
    let one_moment = snaps.iter().filter(|(_, m)| *m).count();
    for (snap, of_one_moment) in &snaps {
        let arg = snap.to_str().unwrap();
        let v = s.labj(&["verify", arg]);
        let err = String::from_utf8_lossy(&v.stderr);
        assert!(!err.contains("panicked"), "verify panicked on {arg}: {err}");
        match v.status.code() {
            Some(0) => {
                ok += 1;
                let r = s.labj(&["replay", arg, "--json"]);
                assert_eq!(r.status.code(), Some(0), "{}", text(&r));
                let events = read_events(snap);
                let hashes: Vec<[u8; 32]> = events.iter().map(|e| e.hash).collect();
                assert!(
                    full.starts_with(&hashes),
                    "{arg}: {} events are not a prefix of the final journal",
                    hashes.len()
                );
                lens.push(hashes.len());
            }
            Some(1) => {
                // A torn copy (files copied at different moments) may not open; that is
                // reported as an error with a message, never as a crash.
                refused += 1;
                let all = text(&v);
                // A copy of one moment is a journal a crash could have left: it verifies.
                assert!(
                    !of_one_moment,
                    "{arg}: a copy taken while nothing committed was refused: {all}"
                );
                eprintln!("snapshot {arg} refused: {}", err.trim());
                assert!(
                    err.starts_with("error:") || all.contains("FAILED"),
                    "unclear verify failure on {arg}: {all}"
                );
            }
            other => panic!("verify on {arg} ended with {other:?}: {}", text(&v)),
        }
    }
    eprintln!(
        "{} snapshots ({one_moment} of one moment): {ok} verified (event counts {lens:?}), {refused} refused cleanly; final journal has {} events",
        snaps.len(),
        full.len()
    );
    assert!(
        ok >= 1,
        "no snapshot verified: {} taken, {one_moment} of them with no commit during the copy",
        snaps.len()
    );
}

/// The run directory under runs/ that is not in `before`, if one exists.
fn first_new(s: &Scratch, before: &std::collections::BTreeSet<PathBuf>) -> Option<PathBuf> {
    std::fs::read_dir(s.runs_dir())
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| !before.contains(p))
}

/// A SIGKILL from outside while the coordinator appends large batches (96 trials at
/// concurrency 32 whose agents all sleep 0.3 s, so completions and dispatches arrive
/// in waves of 32) leaves a journal that verifies, and `continue` finishes it.
#[test]
fn sigkill_during_large_batches_leaves_a_verifiable_journal() {
    let s = Scratch::new();
    s.tasks(96);
    s.script("agent.sh", &format!("sleep 0.3\n{SUCCESS}"));
    let exp = s.experiment(&["a"], 1, 32, "");
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut kills = 0;
    for round in 0..3 {
        let before: std::collections::BTreeSet<PathBuf> = std::fs::read_dir(s.runs_dir())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        let mut child = spawn_quiet(s.labj_cmd(&["run", "--json", exp.to_str().unwrap()]));
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let wait = (seed >> 33) % 800;
        // Kill once the journal exists (observed, not guessed: under load creating it can
        // take longer than any fixed delay), then at a random point of the batches.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !first_new(&s, &before).is_some_and(|r| journal_has_run(&r))
            && child.try_wait().unwrap().is_none()
        {
            assert!(
                Instant::now() < deadline,
                "round {round}: no journal after 60 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(wait));
        let _ = child.kill();
        let status = child.wait().unwrap();
        // Under load the kill can land before the runs directory exists.
        let Ok(entries) = std::fs::read_dir(s.runs_dir()) else {
            continue;
        };
        let run = entries
            .flatten()
            .map(|e| e.path())
            .find(|p| !before.contains(p));
        let Some(run) = run else { continue };
        if !run.join("journal.sqlite").exists() {
            continue;
        }
        if signal_of(&status) == Some(9) {
            kills += 1;
        }
        let crashed = read_events(&run);
        assert!(
            crashed.len() >= 2,
            "round {round}: run_created and session_started are one transaction"
        );
        check_journal(&run);
        let committed_before = committed_slots(&run);
        continue_until_completed(&s, &run, &["--fail-on-infra-error", "100%"]);
        check_journal(&run);
        assert_each_slot_committed_once(&run, 96);
        let after = committed_slots(&run);
        assert_eq!(&after[..committed_before.len()], &committed_before[..]);
        eprintln!(
            "round {round}: killed {wait} ms after the journal appeared, with {} events, {} slots committed",
            crashed.len(),
            committed_before.len()
        );
    }
    assert!(kills >= 1, "no round killed a live run");
}

/// A `labj run` SIGKILLed while it creates its journal (before `run_created` commits)
/// must leave either a complete journal or none (creation is atomic: built as
/// `journal.sqlite.creating`, renamed into place), and every command on a run that never
/// started must say so plainly — no "does not exist", no raw SQLite error codes.
#[test]
fn run_killed_before_run_created_is_reported_as_never_started() {
    let s = Scratch::new();
    s.tasks(4);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 2, "");
    let mut found = Vec::new();
    for attempt in 0..80u64 {
        let runs = s.dir().join(format!("runs_{attempt}"));
        let mut child = spawn_quiet(labj_at(
            s.dir(),
            &runs,
            &["run", "--json", exp.to_str().unwrap()],
        ));
        // Wait for the run directory, then kill within a few hundred microseconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !runs.exists() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_micros(attempt % 8 * 150));
        let _ = child.kill();
        let _ = child.wait();
        let Some(run) = first_entry(&runs) else {
            continue;
        };
        // Creation is atomic: either a journal with run_created + session_started, or
        // no journal at all (only the `.creating` file it was being built in).
        if journal_path(&run).exists() {
            assert!(
                journal_has_run(&run),
                "half-created journal in {}",
                run.display()
            );
        } else {
            found.push(run);
        }
    }
    eprintln!("{} runs killed before run_created", found.len());
    if found.is_empty() {
        // No kill landed early enough this time: build exactly what such a kill leaves
        // (a run directory holding only the journal being created), so the assertions
        // below always run.
        let run = s
            .dir()
            .join("runs_synthetic")
            .join("0190c3f0-0000-7000-8000-000000000000");
        std::fs::create_dir_all(run.join("trials")).unwrap();
        std::fs::write(run.join("journal.sqlite.creating"), b"SQLite format 3\0").unwrap();
        found.push(run);
    }
    for run in &found {
        let arg = run.to_str().unwrap();
        for cmd in [
            &["inspect", arg][..],
            &["verify", arg],
            &["events", arg],
            &["continue", arg],
        ] {
            let out = s.labj(cmd);
            let all = text(&out);
            assert_eq!(out.status.code(), Some(1), "{cmd:?}: {all}");
            assert!(!all.contains("panicked"), "{cmd:?}: {all}");
            assert!(!all.contains("does not exist"), "{cmd:?} misleading: {all}");
            assert!(
                !all.contains("Error code"),
                "{cmd:?} raw SQLite error: {all}"
            );
            assert!(
                all.contains("run_created") || all.contains("never started"),
                "{cmd:?} should say the run never got created: {all}"
            );
        }
    }
}
