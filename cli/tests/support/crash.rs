//! Crash and recovery helpers (e2e_recovery, e2e_crash_matrix, e2e_lease): a `labj run`
//! killed on purpose, copies of dead runs, `labj continue` to the end, and the checks a
//! recovered journal must pass.

use super::*;
use journal::event::{Event, StoredEvent};
use std::process::{Child, ExitStatus, Stdio};

impl Scratch {
    /// `labj run` that SIGKILLs itself once the journal holds exactly `k` events.
    pub fn run_killed_after(&self, experiment: &Path, k: u64) -> Output {
        self.labj_cmd(&["run", "--json", experiment.to_str().unwrap()])
            .env(FAULT_KILL_ENV, k.to_string())
            .output()
            .expect("run labj")
    }
}

/// Spawn `cmd` with its output discarded (it is going to be killed).
pub fn spawn_quiet(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn labj")
}

/// The signal that ended a process, if any.
pub fn signal_of(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// 8 tasks, one variant, concurrency 4; task 0 returns at once, the others sleep `slow`
/// seconds.
pub fn slow_experiment(s: &Scratch, slow: &str) -> PathBuf {
    s.tasks(8);
    s.script(
        "agent.sh",
        &format!(
            r#"n=$(echo "$AGENTLAB_TASK_ID" | sed 's/^task_0*//'); n=${{n:-0}}
[ "$n" -eq 0 ] || sleep {slow}
echo "{{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\",\"metrics\":{{\"score\":$n}}}}" > "$AGENTLAB_RESULT_PATH""#
        ),
    );
    s.experiment(&["a"], 1, 4, "")
}

/// The [`slow_experiment`] SIGKILLed right after slot 0 commits, while slots 1..=3 are
/// still running. Returns the crashed run directory and the dead session's pid.
pub fn crash_with_active_trials(s: &Scratch, slow: &str) -> (PathBuf, u32) {
    let exp = slow_experiment(s, slow);
    // 0 run_created, 1 session_started, 2..=5 dispatch slots 0..=3; slot 0 returns at
    // once: 6 trial_completed, 7 slot_committed, (8 trial_dispatched slot 4) — die at 8.
    let out = s.run_killed_after(&exp, 8);
    assert_eq!(
        signal_of(&out.status),
        Some(9),
        "labj must die of SIGKILL: {}",
        text(&out)
    );
    let run = s.the_run();
    let pid = match &read_events(&run)[1].event {
        Event::SessionStarted(ss) => ss.pid,
        e => panic!("event 1 is {}", e.kind()),
    };
    (run, pid)
}

/// Fold a run's journal read-only (no verification).
pub fn fold_run(run_dir: &Path) -> Projections {
    Journal::open_read_only(&journal_path(run_dir))
        .expect("open journal read-only")
        .fold(None)
        .expect("fold")
}

/// Schedule indices of the trials a (crashed) run's journal shows active, sorted: the
/// ones a `continue` must commit as `worker_lost`.
pub fn stale_slots(run_dir: &Path) -> Vec<u64> {
    let mut stale: Vec<u64> = fold_run(run_dir)
        .control
        .active_trials
        .values()
        .map(|t| t.schedule_idx)
        .collect();
    stale.sort();
    stale
}

/// Copy a (dead) run directory recursively, journal + `-wal` + `-shm` included: a crashed
/// run's last transactions live in the WAL until a checkpoint, so the WAL must travel too.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_dir(&e.path(), &to);
        } else if ft.is_file() {
            // Orphaned agents of a SIGKILLed run may still be writing their trial files.
            let _ = std::fs::copy(e.path(), &to);
        }
    }
}

/// Run `labj continue <run_dir>` until the journal says completed (a continue killed by a
/// signal is retried). Returns the outputs of every continue that ran.
pub fn continue_until_completed(s: &Scratch, run_dir: &Path, extra: &[&str]) -> Vec<Output> {
    let mut outs = Vec::new();
    for _ in 0..5 {
        if fold_run(run_dir).control.status == journal::projection::RunStatus::Completed {
            return outs;
        }
        let mut args = vec!["continue", run_dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = s.labj_cmd(&args).output().expect("run labj continue");
        let killed = signal_of(&o.status).is_some();
        outs.push(o);
        if !killed {
            break;
        }
    }
    let last = outs.last().map(text).unwrap_or_default();
    assert_eq!(
        fold_run(run_dir).control.status,
        journal::projection::RunStatus::Completed,
        "run {} did not complete after continue:\n{last}",
        run_dir.display()
    );
    outs
}

/// `continue` only appends: the first `crashed.len()` events of the recovered journal
/// are the crashed journal's, hash for hash.
pub fn assert_crashed_prefix_kept(events: &[StoredEvent], crashed: &[StoredEvent], ctx: &str) {
    assert_eq!(
        events[..crashed.len()]
            .iter()
            .map(|e| e.hash)
            .collect::<Vec<_>>(),
        crashed.iter().map(|e| e.hash).collect::<Vec<_>>(),
        "{ctx}: continue appends; the crashed prefix is untouched"
    );
}

/// Schedule indices of the `worker_lost` events among `events`, in journal order.
pub fn worker_lost_slots(events: &[StoredEvent]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.event.kind() == "worker_lost")
        .map(|e| e.event.schedule_idx().unwrap())
        .collect()
}

/// An event as comparable JSON with the parts that legitimately differ between two
/// recoveries of the same journal removed: `ts` and the new session's id and pid.
pub fn normalized_event(e: &StoredEvent) -> serde_json::Value {
    let mut v = serde_json::json!({
        "kind": e.event.kind(),
        "schedule_idx": e.event.schedule_idx(),
        "trial_id": e.event.trial_id(),
        "payload": e.event.payload_value(),
    });
    if e.event.kind() == "session_started" {
        let p = v["payload"].as_object_mut().unwrap();
        p.remove("session_id");
        p.remove("pid");
    }
    v
}

/// The recovery events of a continued journal whose crash left `crash_len` events:
/// the first `session_started` after the crash, every `worker_lost`, and the commit of
/// each worker_lost slot — normalized with [`normalized_event`].
pub fn recovery_events(events: &[StoredEvent], crash_len: usize) -> Vec<serde_json::Value> {
    let after = &events[crash_len..];
    let lost: std::collections::BTreeSet<u64> = worker_lost_slots(after).into_iter().collect();
    let mut out = Vec::new();
    let mut seen_session = false;
    for e in after {
        let keep = match e.event.kind() {
            "session_started" if !seen_session => {
                seen_session = true;
                true
            }
            "worker_lost" => true,
            "slot_committed" => e.event.schedule_idx().is_some_and(|i| lost.contains(&i)),
            _ => false,
        };
        if keep {
            out.push(normalized_event(e));
        }
    }
    out
}

/// Every slot committed exactly once: `proj_slots` holds 0..total, and the journal has
/// exactly one `slot_committed` or `slot_skipped_pruned` per schedule_idx.
pub fn assert_each_slot_committed_once(run_dir: &Path, total: u64) {
    let slots = committed_slots(run_dir);
    let idxs: Vec<u64> = slots.iter().map(|s| s.0).collect();
    assert_eq!(
        idxs,
        (0..total).collect::<Vec<_>>(),
        "{}: proj_slots",
        run_dir.display()
    );
    let mut count = vec![0u32; total as usize];
    for e in read_events(run_dir) {
        if matches!(e.event.kind(), "slot_committed" | "slot_skipped_pruned") {
            count[e.event.schedule_idx().unwrap() as usize] += 1;
        }
    }
    let bad: Vec<(usize, u32)> = count
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != 1)
        .map(|(i, c)| (i, *c))
        .collect();
    assert!(
        bad.is_empty(),
        "{}: slots not committed exactly once (idx, count): {bad:?}",
        run_dir.display()
    );
}
