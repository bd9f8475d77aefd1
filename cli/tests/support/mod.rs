//! Shared helpers for end-to-end tests that drive the real `labj` binary on real
//! processes and real journals. Each test gets its own temp directory.
//!
//! The base (this file) holds the scratch experiment, the `labj` command, journal
//! readers and `/proc` probes every test file may need. The submodules serve one family
//! of tests each: [`crash`] (SIGKILL and `continue`), [`recorded`] (agents that record
//! their own lifetime, for `e2e_run*`), [`live`] (a background run driven by
//! `labj pause|resume|kill|…`, for `e2e_control_*`), [`agentlab`] (the AgentLab
//! compatibility cases, for `agentlab_compat*`).
#![allow(dead_code)]

pub mod agentlab;
pub mod browser;
pub mod crash;
pub mod iso;
pub mod live;
pub mod matrix;
pub mod pty;
pub mod recorded;
pub mod remote;
pub mod report;
pub mod slurm;

use journal::{Durability, Journal, Projections};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

/// How long one `labj` command of a test may take before the test fails naming it: no
/// test waits forever on a hung process (CI has a hard time limit for the whole suite).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(300);

/// Run `cmd` to completion, capturing its output, or SIGKILL it and panic naming `what`
/// after `limit`.
pub fn output_within(cmd: &mut Command, limit: Duration, what: &str) -> Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap_or_else(|e| panic!("waiting for {what}: {e}")),
        Err(_) => {
            // SAFETY: plain kill(2) on the pid of a child we have not reaped yet.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            let out = rx.recv_timeout(Duration::from_secs(10));
            panic!(
                "{what} did not finish within {limit:?} and was killed; output: {}",
                out.ok()
                    .and_then(|o| o.ok())
                    .map(|o| text(&o))
                    .unwrap_or_default()
            );
        }
    }
}

/// Wait for `child` to exit, or SIGKILL it and panic naming `what` after `limit`.
pub fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn labj_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_labj"))
}

/// The fault-injection knob of `labj run`/`continue` (see `engine::run::FAULT_KILL_ENV`).
pub const FAULT_KILL_ENV: &str = "LABJ_FAULT_KILL_AFTER_EVENTS";

/// A `labj` command run in `dir` against `runs_dir`, with the fault knob cleared
/// (callers that want it set it).
pub fn labj_at(dir: &Path, runs_dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(labj_bin());
    c.current_dir(dir)
        .env_remove(FAULT_KILL_ENV)
        .arg("--runs-dir")
        .arg(runs_dir)
        .args(args);
    c
}

/// An agent result with outcome `success` and score 1, as a line of sh.
pub const SUCCESS: &str = r#"printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":1}}' >"$AGENTLAB_RESULT_PATH""#;

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

    /// A `labj` command in this scratch dir, with the fault knob cleared (callers set it).
    pub fn labj_cmd(&self, args: &[&str]) -> Command {
        labj_at(self.dir(), &self.runs_dir(), args)
    }

    /// `labj <args>` to completion (bounded by [`COMMAND_LIMIT`]).
    pub fn labj(&self, args: &[&str]) -> Output {
        output_within(
            &mut self.labj_cmd(args),
            COMMAND_LIMIT,
            &format!("labj {}", args.join(" ")),
        )
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

    /// The run directory under runs/, if a `labj run` got as far as creating one.
    pub fn first_run(&self) -> Option<PathBuf> {
        first_entry(&self.runs_dir())
    }
}

/// Some entry of `dir`, if it exists and is not empty.
pub fn first_entry(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .next()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Poll `f` every 25 ms until it yields `Some`, or panic after `timeout` naming `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

// ---------------------------------------------------------------------------------------
// The journal, read directly and through `labj events`.

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
    let report = read::inspect::verify(&j).expect("verify report");
    assert!(report.ok(), "labj verify faults: {:?}", report.faults);
    j.fold(None).expect("fold")
}

/// Does the run's journal hold its first transaction (`run_created` + `session_started`)?
pub fn journal_has_run(run_dir: &Path) -> bool {
    Journal::open_read_only(&journal_path(run_dir)).is_ok_and(|j| j.len() >= 2)
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

/// The run's journal checks out and its `n` slots all committed `success`.
pub fn assert_all_success(run_dir: &Path, n: usize) {
    check_journal(run_dir);
    let slots = committed_slots(run_dir);
    assert_eq!(slots.len(), n, "{slots:?}");
    assert!(
        slots
            .iter()
            .all(|(_, st, class)| st == "completed" && class == "success"),
        "{slots:?}"
    );
}

/// Dump a fact table as text rows (ordered by key) for equality comparisons.
pub fn fact_table(run_dir: &Path, table: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(journal_path(run_dir)).unwrap();
    journal::dump_table(&conn, table).unwrap()
}

/// The JSON lines a successful `labj … --json` printed (one object per line).
pub fn json_lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("event line is JSON"))
        .collect()
}

/// Journal events of one kind, as JSON, through `labj events <run> --kind <k> --json`.
pub fn events_of(s: &Scratch, run_dir: &Path, kind: &str) -> Vec<Value> {
    json_lines(&s.labj(&[
        "events",
        run_dir.to_str().unwrap(),
        "--kind",
        kind,
        "--json",
    ]))
}

// ---------------------------------------------------------------------------------------
// Processes, as the kernel sees them.

/// A pid an agent wrote to `path`. The shell creates the file before it writes the
/// number, so an empty file is waited on (bounded) rather than read as garbage.
pub fn read_pid(path: &Path) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match text.trim().parse() {
            Ok(pid) => return pid,
            Err(_) if text.trim().is_empty() && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("{}: not a pid ({text:?}): {e}", path.display()),
        }
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (state, ppid, pgrp, …), or
/// `None` when there is no such process.
pub fn proc_stat(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Is `pid` a running (not zombie, not dead) process? `proc_stat` fields start at the
/// state (field 3 of /proc/<pid>/stat), so the state is index 0.
pub fn pid_running(pid: i32) -> bool {
    proc_stat(pid)
        .is_some_and(|st| !matches!(st.first().map(String::as_str), Some("Z" | "X") | None))
}

/// Members of process group `pgid`, zombies excluded.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Some(f) = proc_stat(pid) else {
            continue;
        };
        if f.len() > 2 && f[0] != "Z" && f[2].parse::<i32>().ok() == Some(pgid) {
            members.push(pid);
        }
    }
    members
}

/// Whether every process of the group `pgid` is frozen: stopped (`T`), or a parent
/// blocked in `vfork` on a stopped child (`D`: a shell caught between its `vfork` and
/// the child's `exec` cannot stop until the child runs on, and the child never does).
pub fn group_frozen(pgid: i32) -> bool {
    let members = group_members(pgid);
    let stopped = |p: i32| matches!(proc_state(p).as_str(), "T" | "t");
    let parent_of_stopped = |p: i32| {
        members.iter().any(|&c| {
            stopped(c) && proc_stat(c).and_then(|f| f.get(1).cloned()) == Some(p.to_string())
        })
    };
    !members.is_empty()
        && members
            .iter()
            .all(|&p| stopped(p) || (proc_state(p) == "D" && parent_of_stopped(p)))
}

/// Each process of the group `pgid` with its state, for a failure's message.
pub fn group_states(pgid: i32) -> Vec<(i32, String)> {
    group_members(pgid)
        .into_iter()
        .map(|p| (p, proc_state(p)))
        .collect()
}

/// The process state letter of `/proc/<pid>/stat` (`T`: stopped), empty when gone.
pub fn proc_state(pid: i32) -> String {
    proc_stat(pid)
        .and_then(|f| f.first().cloned())
        .unwrap_or_default()
}

/// Most intervals `(start, end)` open at one instant. On equal timestamps an end is
/// counted before a start, so touching intervals do not count as overlapping.
pub fn max_overlap<T: Ord + Copy>(intervals: &[(T, T)]) -> usize {
    let mut points: Vec<(T, i32)> = Vec::new();
    for (s, e) in intervals {
        points.push((*s, 1));
        points.push((*e, -1));
    }
    points.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in points {
        now += d;
        max = max.max(now);
    }
    max as usize
}
