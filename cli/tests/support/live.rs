//! Helpers for the run-control end-to-end tests (`e2e_control_*.rs`): a `labj run` in
//! the background driven by `labj pause|resume|kill|cancel|set|status` from the test, as
//! another shell would, and sh agents that leave their own records (pid, start, ticks,
//! end) so the tests can check what really happened to the processes.

use super::*;
use journal::event::StoredEvent;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// These tests measure time on real processes; running them one at a time keeps a
/// 2-core CI box from turning a 50 ms tick into a 500 ms one.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wall clock in ms (same clock the agents' `date +%s%N` reads).
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// How an agent of a control test behaves, per task id.
#[derive(Clone, Debug)]
pub struct AgentPlan {
    /// Ticks (~50 ms each) for tasks not listed in `per_task`.
    pub ticks: u32,
    /// `(task_id, ticks)` overrides.
    pub per_task: Vec<(String, u32)>,
}

impl AgentPlan {
    /// `ticks` ticks for every task.
    pub fn uniform(ticks: u32) -> AgentPlan {
        AgentPlan {
            ticks,
            per_task: vec![],
        }
    }
}

/// `<scratch>/out`, where the agents leave their records.
pub fn out_dir(s: &Scratch) -> PathBuf {
    let out = s.dir().join("out");
    std::fs::create_dir_all(&out).unwrap();
    out
}

/// A JSON array of strings (trial ids in control answers and events).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// The agent: takes 300 ms to exit on SIGTERM; records `<trial>.pid` (its pid = its process group, see
/// `executor::process`), `<trial>.start`, one `date +%s%N` line per ~50 ms tick in
/// `<trial>.ticks`, and `<trial>.end`; stops early when `out/release` exists. The tick
/// budget counts work done, not wall time, so a frozen agent resumes where it stopped.
pub fn write_agent(s: &Scratch, out: &Path, plan: &AgentPlan) {
    let mut cases = String::new();
    for (task, ticks) in &plan.per_task {
        cases.push_str(&format!("    {task}) ticks={ticks} ;;\n"));
    }
    s.script(
        "agent.sh",
        &format!(
            r#"out='{out}'
t=$AGENTLAB_TRIAL_ID
# Like a real agent saving its state, take a moment to die on SIGTERM (stop/kill).
trap 'sleep 0.3; exit 143' TERM
echo $$ > "$out/$t.pid"
date +%s%N > "$out/$t.start"
ticks={default}
case "$AGENTLAB_TASK_ID" in
{cases}    *) ;;
esac
i=0
while [ "$i" -lt "$ticks" ] && [ ! -e "$out/release" ]; do
    date +%s%N >> "$out/$t.ticks"
    sleep 0.05
    i=$((i + 1))
done
date +%s%N > "$out/$t.end"
printf '{{"schema_version":"agent_result_v1","outcome":"success","metrics":{{"score":1,"ticks":%s}}}}\n' "$i" > "$AGENTLAB_RESULT_PATH""#,
            out = out.display(),
            default = plan.ticks,
        ),
    );
}

/// The grader: instant and `success`, except for the listed tasks, whose grader writes
/// `out/<trial>.grading` and then waits until `out/release_grader` exists (at most 60 s).
pub fn write_grader(s: &Scratch, out: &Path, slow_tasks: &[&str]) {
    let slow = slow_tasks.join("|");
    s.script(
        "grader.sh",
        &format!(
            r#"out='{out}'
case "$AGENTLAB_TASK_ID" in
    {slow})
        date +%s%N > "$out/$AGENTLAB_TRIAL_ID.grading"
        n=0
        while [ ! -e "$out/release_grader" ] && [ "$n" -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done
        ;;
    *) ;;
esac
echo '{{"schema_version":"grade_result_v1","outcome":"success","metrics":{{"score":1}}}}' > "$AGENTLAB_GRADE_PATH""#,
            out = out.display(),
            slow = if slow.is_empty() { "__none__".into() } else { slow },
        ),
    );
}

/// Experiment YAML: one variant, `replications` of `tasks.jsonl`, the agent above, an
/// agent timeout, and the grader above when `grader` is set.
pub fn write_experiment(
    s: &Scratch,
    replications: u32,
    max_concurrency: u32,
    timeout_ms: u64,
    grader: bool,
) -> PathBuf {
    let bench = if grader {
        "benchmark:\n  grader:\n    command: [\"./grader.sh\"]\n"
    } else {
        ""
    };
    s.write(
        "experiment.yaml",
        &format!(
            "version: \"0.5\"\nexperiment: {{id: e2e-control, name: run control e2e}}\ndataset: {{path: tasks.jsonl}}\ndesign:\n  replications: {replications}\n  random_seed: 7\n  max_concurrency: {max_concurrency}\n  policies:\n    scheduling: variant_sequential\n    state: isolate_per_trial\nbaseline: {{variant_id: base, bindings: {{name: base}}}}\nvariant_plan: []\nruntime:\n  agent:\n    command: [\"./agent.sh\"]\n    timeout_ms: {timeout_ms}\n{bench}primary_metric: score\n"
        ),
    )
}

/// A background `labj run`/`continue` and the agents it started. Drop kills the labj
/// process and every agent process group recorded under `out`, so a failing test never
/// leaves frozen or running agents behind.
pub struct LiveRun {
    child: Option<Child>,
    pub out: PathBuf,
    pub log_dir: PathBuf,
    pub run_dir: PathBuf,
    pub runs_dir: PathBuf,
    pub dir: PathBuf,
}

impl LiveRun {
    /// `tasks` tasks, one replication, every agent [`AgentPlan::uniform`] with `ticks`,
    /// no grader: `labj run` started in the background.
    pub fn start_uniform(
        s: &Scratch,
        tasks: usize,
        ticks: u32,
        max_concurrency: u32,
        timeout_ms: u64,
    ) -> LiveRun {
        let out = out_dir(s);
        s.tasks(tasks);
        write_agent(s, &out, &AgentPlan::uniform(ticks));
        let exp = write_experiment(s, 1, max_concurrency, timeout_ms, false);
        LiveRun::start(s, &out, &exp)
    }

    /// Spawn `labj run <experiment>` in `s` and wait for its journal to exist.
    pub fn start(s: &Scratch, out: &Path, experiment: &Path) -> LiveRun {
        Self::start_with(s, out, &["run", experiment.to_str().unwrap()])
    }

    pub fn start_with(s: &Scratch, out: &Path, args: &[&str]) -> LiveRun {
        let log_dir = s.dir().join("logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        let child = s
            .labj_cmd(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log_dir.join("run.stdout")).unwrap())
            .stderr(std::fs::File::create(log_dir.join("run.stderr")).unwrap())
            .spawn()
            .expect("spawn labj run");
        let mut live = LiveRun {
            child: Some(child),
            out: out.to_path_buf(),
            log_dir,
            run_dir: PathBuf::new(),
            runs_dir: s.runs_dir(),
            dir: s.dir().to_path_buf(),
        };
        live.run_dir = wait_for(Duration::from_secs(20), "the run's journal", || {
            let runs: Vec<PathBuf> = std::fs::read_dir(s.runs_dir())
                .ok()?
                .flatten()
                .map(|e| e.path())
                .filter(|p| journal_path(p).is_file())
                .collect();
            // The file exists a moment before its schema does; wait until it folds.
            match runs.as_slice() {
                [one] => Journal::open_read_only(&journal_path(one))
                    .and_then(|j| j.fold(None))
                    .ok()
                    .filter(|p| p.run.is_some())
                    .map(|_| one.clone()),
                _ => None,
            }
        });
        live
    }

    /// The journaled run id (the run directory's name).
    pub fn run(&self) -> String {
        self.run_dir.to_str().unwrap().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("child").id()
    }

    /// `labj <args...>` against this run's runs dir.
    pub fn labj(&self, args: &[&str]) -> Output {
        output_within(
            &mut labj_at(&self.dir, &self.runs_dir, args),
            COMMAND_LIMIT,
            &format!("labj {}", args.join(" ")),
        )
    }

    /// `labj <cmd> <run> <extra...> --json`, asserting the JSON answer parses.
    pub fn control(&self, cmd: &str, extra: &[&str]) -> (Output, Value) {
        let run = self.run();
        let mut args = vec![cmd, run.as_str()];
        args.extend_from_slice(extra);
        args.push("--json");
        let o = self.labj(&args);
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("labj {args:?}: no JSON answer ({e}):\n{}", text(&o)));
        (o, v)
    }

    /// `labj <cmd> <run> ... --json` that must be answered `ok`.
    pub fn control_ok(&self, cmd: &str, extra: &[&str]) -> Value {
        let (o, v) = self.control(cmd, extra);
        assert!(
            o.status.success() && v["ok"] == true,
            "labj {cmd} {extra:?} was not ok:\n{}\nrun log:\n{}",
            text(&o),
            self.log()
        );
        v
    }

    /// `labj status <run> --json` → its `run_control` document.
    pub fn run_control(&self) -> Value {
        self.status()["run_control"].clone()
    }

    pub fn status(&self) -> Value {
        let o = self.labj(&["status", &self.run(), "--json"]);
        assert!(o.status.success(), "labj status failed:\n{}", text(&o));
        serde_json::from_slice(&o.stdout).expect("status JSON")
    }

    /// `labj events <run> --kind <kind> --json`, one JSON object per line.
    pub fn events(&self, kind: &str) -> Vec<Value> {
        json_lines(&self.labj(&["events", &self.run(), "--kind", kind, "--json"]))
    }

    /// The pid (= process group id) the agent of `trial` recorded.
    pub fn agent_pid(&self, trial: &str) -> i32 {
        read_pid(&self.out.join(format!("{trial}.pid")))
    }

    /// Active trial ids once at least `n` are active (and, for agents, each has recorded
    /// its pid, i.e. its process is live).
    pub fn wait_active(&self, n: usize, with_pids: bool) -> Vec<String> {
        wait_for(
            Duration::from_secs(30),
            &format!("{n} active trials"),
            || {
                let rc = self.run_control();
                let ids: Vec<String> = rc["active_trials"].as_object()?.keys().cloned().collect();
                let live = !with_pids
                    || ids
                        .iter()
                        .all(|t| self.out.join(format!("{t}.pid")).exists());
                (ids.len() >= n && live).then_some(ids)
            },
        )
    }

    /// Wait for the background process to exit (panics after `timeout`).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("child");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "labj did not exit within {timeout:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Wait for the background `labj run` to exit 0, then check its journal.
    pub fn finish_ok(&mut self, timeout: Duration) -> Projections {
        let st = self.wait_exit(timeout);
        assert!(st.success(), "labj run: {st:?}\n{}", self.log());
        check_journal(&self.run_dir)
    }

    /// SIGKILL the background labj (a crash) and reap it; its agents are left running.
    pub fn crash(&mut self) {
        let child = self.child.as_mut().expect("child");
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn log(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.log_dir.join(n)).unwrap_or_default();
        format!(
            "--- run stdout\n{}\n--- run stderr\n{}",
            read("run.stdout"),
            read("run.stderr")
        )
    }

    /// Let every agent finish its loop now.
    pub fn release(&self) {
        std::fs::write(self.out.join("release"), "").unwrap();
    }

    pub fn release_grader(&self) {
        std::fs::write(self.out.join("release_grader"), "").unwrap();
    }

    /// Every event of the journal (read-only, chain checked).
    pub fn journal_events(&self) -> Vec<StoredEvent> {
        read_events(&self.run_dir)
    }
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Agents live in their own process groups: a killed labj does not take them along.
        for pgid in recorded_pids(&self.out) {
            kill_group(pgid);
        }
    }
}

/// Pids (= process group ids) the agents recorded under `out`.
pub fn recorded_pids(out: &Path) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pid"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn kill_group(pgid: i32) {
    if pgid > 1 && !group_members(pgid).is_empty() {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    }
}

fn read_ns_lines(p: &Path) -> Vec<i64> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<i64>().ok())
        .map(|ns| ns / 1_000_000)
        .collect()
}

/// An agent's tick timestamps, in ms.
pub fn ticks(out: &Path, trial: &str) -> Vec<i64> {
    read_ns_lines(&out.join(format!("{trial}.ticks")))
}

/// Size in bytes of an agent's tick file.
pub fn tick_bytes(out: &Path, trial: &str) -> u64 {
    std::fs::metadata(out.join(format!("{trial}.ticks")))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// `(start_ms, end_ms)` of an agent, from its own records.
pub fn alive_interval(out: &Path, trial: &str) -> Option<(i64, i64)> {
    let start = *read_ns_lines(&out.join(format!("{trial}.start"))).first()?;
    let end = *read_ns_lines(&out.join(format!("{trial}.end"))).first()?;
    Some((start, end))
}

/// The largest gap between consecutive ticks, in ms.
pub fn max_gap(ticks: &[i64]) -> i64 {
    ticks.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
}

pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}
