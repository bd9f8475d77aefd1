//! Shared helpers for end-to-end tests that drive the real `labj` binary on real
//! processes and real journals. Each test gets its own temp directory.
#![allow(dead_code)]

use journal::{Durability, Journal, Projections};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn labj_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_labj"))
}

/// A scratch experiment: files are written into `dir`; runs go to `dir/runs`.
pub struct Scratch {
    pub tmp: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.dir().join("runs")
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.dir().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Write an executable POSIX sh script.
    pub fn script(&self, rel: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(rel, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// `n` plain tasks `{"id": "task_<i>", "n": i}` in `tasks.jsonl`.
    pub fn tasks(&self, n: usize) -> PathBuf {
        let rows: Vec<String> = (0..n)
            .map(|i| format!("{{\"id\":\"task_{i:03}\",\"n\":{i}}}"))
            .collect();
        self.write("tasks.jsonl", &(rows.join("\n") + "\n"))
    }

    /// An experiment YAML with the given variants (ids; bindings `{name: id}`), the agent
    /// `./agent.sh`, and free-form extra YAML under `design.policies` (indented by the
    /// caller) — enough for most engine tests.
    pub fn experiment(
        &self,
        variants: &[&str],
        replications: u32,
        max_concurrency: u32,
        policies_yaml: &str,
    ) -> PathBuf {
        let mut plan = String::new();
        for v in &variants[1..] {
            plan.push_str(&format!(
                "  - variant_id: {v}\n    bindings: {{name: {v}}}\n"
            ));
        }
        let yaml = format!(
            "version: \"0.5\"\nexperiment: {{id: e2e, name: e2e test}}\ndataset: {{path: tasks.jsonl}}\ndesign:\n  replications: {replications}\n  random_seed: 7\n  max_concurrency: {max_concurrency}\n  policies:\n    scheduling: variant_sequential\n    state: isolate_per_trial\n{policies_yaml}baseline: {{variant_id: {b}, bindings: {{name: {b}}}}}\nvariant_plan:\n{plan}runtime:\n  agent:\n    command: [\"./agent.sh\"]\n    timeout_ms: 60000\nprimary_metric: score\n",
            b = variants[0],
            plan = if plan.is_empty() { "  []\n".to_string() } else { plan },
        );
        let yaml = yaml.replace("variant_plan:\n  []\n", "variant_plan: []\n");
        self.write("experiment.yaml", &yaml)
    }

    pub fn labj(&self, args: &[&str]) -> Output {
        Command::new(labj_bin())
            .current_dir(self.dir())
            .arg("--runs-dir")
            .arg(self.runs_dir())
            .args(args)
            .output()
            .expect("run labj")
    }

    /// The only run under runs/ (panics if there is not exactly one).
    pub fn the_run(&self) -> PathBuf {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(self.runs_dir())
            .expect("runs dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(runs.len(), 1, "expected exactly one run: {runs:?}");
        runs.remove(0)
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn journal_path(run_dir: &Path) -> PathBuf {
    run_dir.join("journal.sqlite")
}

/// Fold the run's journal, and assert the guarantees every end-to-end test must hold:
/// the chain verifies and materialized projections equal a rebuild from events.
pub fn check_journal(run_dir: &Path) -> Projections {
    let j = Journal::open(&journal_path(run_dir), Durability::Normal).expect("open journal");
    let chain = j.verify_chain().expect("verify");
    assert_eq!(chain.first_bad, None, "hash chain broken");
    assert_eq!(
        j.diff_materialized().expect("diff"),
        None,
        "materialized projections differ from rebuilt ones"
    );
    let report = engine::inspect::verify(&j).expect("verify report");
    assert!(report.ok(), "labj verify faults: {:?}", report.faults);
    j.fold(None).expect("fold")
}

/// Committed slot statuses from the `proj_slots` table: (schedule_idx, status, classification).
pub fn committed_slots(run_dir: &Path) -> Vec<(u64, String, String)> {
    let conn = rusqlite::Connection::open(journal_path(run_dir)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT schedule_idx, status, classification FROM proj_slots ORDER BY schedule_idx",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Dump a fact table as text rows (ordered by key) for equality comparisons.
pub fn fact_table(run_dir: &Path, table: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(journal_path(run_dir)).unwrap();
    journal::materialize::dump(&conn, table).unwrap()
}

// ---------------------------------------------------------------------------------------
// Crash and recovery helpers (e2e_recovery, e2e_crash_matrix, e2e_lease).

/// The fault-injection knob of `labj run`/`continue` (see `engine::run::FAULT_KILL_ENV`).
pub const FAULT_KILL_ENV: &str = "LABJ_FAULT_KILL_AFTER_EVENTS";

impl Scratch {
    /// A `labj` command in this scratch dir, with the fault knob cleared (callers set it).
    pub fn labj_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(labj_bin());
        c.current_dir(self.dir())
            .env_remove(FAULT_KILL_ENV)
            .arg("--runs-dir")
            .arg(self.runs_dir())
            .args(args);
        c
    }

    /// `labj run` that SIGKILLs itself once the journal holds exactly `k` events.
    pub fn run_killed_after(&self, experiment: &Path, k: u64) -> Output {
        self.labj_cmd(&["run", "--json", experiment.to_str().unwrap()])
            .env(FAULT_KILL_ENV, k.to_string())
            .output()
            .expect("run labj")
    }
}

/// The signal that ended a process, if any.
pub fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// Every event of a run's journal, in idx order, with the chain checked.
pub fn read_events(run_dir: &Path) -> Vec<journal::event::StoredEvent> {
    let j = Journal::open_read_only(&journal_path(run_dir)).expect("open journal read-only");
    let mut out = Vec::new();
    j.for_each_event(0, None, true, |e| {
        out.push(e);
        Ok(())
    })
    .expect("read events");
    out
}

/// Fold a run's journal read-only (no verification).
pub fn fold_run(run_dir: &Path) -> Projections {
    Journal::open_read_only(&journal_path(run_dir))
        .expect("open journal read-only")
        .fold(None)
        .expect("fold")
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

/// An event as comparable JSON with the parts that legitimately differ between two
/// recoveries of the same journal removed: `ts` and the new session's id and pid.
pub fn normalized_event(e: &journal::event::StoredEvent) -> serde_json::Value {
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
pub fn recovery_events(
    events: &[journal::event::StoredEvent],
    crash_len: usize,
) -> Vec<serde_json::Value> {
    let after = &events[crash_len..];
    let lost: std::collections::BTreeSet<u64> = after
        .iter()
        .filter(|e| e.event.kind() == "worker_lost")
        .filter_map(|e| e.event.schedule_idx())
        .collect();
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
