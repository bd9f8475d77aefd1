//! The TrialExecutor: runs one trial (all its attempts, and its grader) inside a worker,
//! and reports a [`TrialOutcome`]. It never touches the journal; every fault it meets
//! becomes a [`Classification`], never a panic.
//!
//! # Trial directory (`spec.trial_dir`, i.e. `<run_dir>/trials/<trial_id>`)
//!
//! ```text
//! trial_input.json      trial_input_v1 for the latest attempt (ids, task, bindings,
//!                       dependencies, policy, absolute paths); AGENTLAB_TRIAL_INPUT_PATH
//! task.json bindings.json dependencies.json policy.json   AGENTLAB_*_PATH targets;
//!                       task.json follows `agent.io.input_arg` on the command line
//! workspace/            the agent's cwd; `workspace_files` written here, and re-created
//!                       from them before every retry so each attempt starts clean
//! deps/                 `dependency_files` copied from the experiment directory (only
//!                       created when there are any)
//! attempt_<n>/          one per attempt, kept for forensics:
//!     stdout.log stderr.log          the agent's output
//!     result.json                    AGENTLAB_RESULT_PATH (agent_result_v1)
//!     trajectory.jsonl               AGENTLAB_TRAJECTORY_PATH (optional)
//!     grader/                        created after the agent exited; the grader's cwd,
//!                                    its fresh inputs and grade.json (see `grade.rs`)
//!     tampered/                      files the agent left where it may not write
//!                                    (evidence class `tamper`, see `tamper.rs`)
//! workspace_manifest.json  {pre, post}: the workspace before the agent and after the
//!                       latest attempt, relative path → {digest, bytes}
//! workspace_diff.json   {added, removed, modified}: evidence class `workspace_diff`
//! agent_patch.diff      unified diff of the change, when there is one: `agent_patch`
//! ```
//!
//! Logs are created at their first byte and capped (`output.rs`); everything is stored in
//! the blob store (`store.rs`), and local workers then remove the directory when nothing
//! in it is needed any more (`compact.rs`).
//!
//! # Environment of the agent (and of the grader)
//!
//! The worker's own environment, then `spec.agent.env`, then the contract, which wins:
//! `AGENTLAB_TASK_PATH`, `AGENTLAB_BINDINGS_PATH`, `AGENTLAB_DEPENDENCIES_PATH`,
//! `AGENTLAB_POLICY_PATH`, `AGENTLAB_RESULT_PATH`, `AGENTLAB_TRAJECTORY_PATH` (absolute),
//! `AGENTLAB_TIMEOUT_MS`, `AGENTLAB_RUN_ID`, `AGENTLAB_TRIAL_ID`, `AGENTLAB_VARIANT_ID`,
//! `AGENTLAB_TASK_ID`, `AGENTLAB_REPL_IDX`, `AGENTLAB_TASK_IMAGE` (when the task has
//! one), plus `AGENTLAB_TRIAL_INPUT_PATH`, `AGENTLAB_TRIAL_DIR`,
//! `AGENTLAB_WORKSPACE_DIR`, `AGENTLAB_ATTEMPT`. `${AGENTLAB_…}` in command tokens expands
//! to these values (`invocation.rs`); the agent's command line ends with the
//! `agent.io` flags and the task and result paths. The grader also gets
//! `AGENTLAB_GRADE_PATH`, and its task, bindings, dependencies, policy and result paths
//! name fresh copies in its own directory. The agent runs in `workspace/`, the grader in
//! `attempt_<n>/grader/`; the original runner's benchmark adapter runs on the same
//! stage with its own variables (`adapter.rs`).
//!
//! # Classification of an attempt
//!
//! spawn failure → `spawn_failure`; the trial dir cannot be written → `disk_error`;
//! an unsafe workspace/dependency path → `error` (before any attempt); stop → `cancelled`;
//! timeout (excluding paused time; the whole process group is killed) → `timeout`;
//! non-zero exit → `agent_exit_nonzero`; no result → `result_missing`; result too large,
//! not JSON or not agent_result_v1 → `result_parse_error`; otherwise the result's outcome
//! (`success`, `failure`, `error`). A `success`/`failure` attempt is then graded when a
//! grader is configured: the grade's outcome and metrics override the agent's, and a
//! failing grader, a bad grade or missing required evidence is `grade_error`. Attempts
//! repeat while `spec.retry` says so; the trial reports the last one.
//!
//! `timeout_ms == 0` means no time limit.

mod adapter;
pub mod blobs;
mod classify;
mod compact;
mod conclusion;
mod control;
mod declared;
mod fdtable;
mod files;
use files::{file_refs, json_bytes, set_read_only, write_json, write_new};
mod grade;
mod grade_image;
mod input;
mod invocation;
mod output;
mod prepare;
mod process;
mod program;
pub mod recycle;
mod sandbox;
mod store;
mod tamper;
mod wake;
mod workspace;

pub use control::TrialControl;
pub use fdtable::private_fd_table;

use blobs::BlobStore;
use control::Phase;
use journal::event::{ArtifactRef, AttemptRecord, Classification, EvidenceRef};
use model::trial::{GraderContract, TrialOutcome, TrialSpec, WorkspaceFile};
use process::ProcessEnd;
use recycle::TrialDirs;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the trial described by `spec` to completion; `control` lets another thread
/// pause, resume or stop it meanwhile.
pub fn execute_trial(spec: &TrialSpec, control: &TrialControl) -> TrialOutcome {
    execute(spec, control, None)
}

fn execute(spec: &TrialSpec, control: &TrialControl, dirs: Option<&TrialDirs>) -> TrialOutcome {
    let started = Instant::now();
    if let Some(reason) = control.begin() {
        return Report::fault(
            Classification::Cancelled,
            format!("stopped before it started: {reason}"),
        )
        .into_outcome();
    }
    let mut report = match Trial::prepare(spec, dirs) {
        Ok(trial) => trial.run(control),
        Err(fault) => Report::fault(fault.0, fault.1),
    };
    let elapsed = started.elapsed().saturating_sub(control.paused_total());
    report.duration_ms = elapsed.as_millis() as u64;
    report.into_outcome()
}

/// [`execute_trial`], then the trial directory is removed when everything in it is
/// recorded in the journal and the blob store or can be written again (`compact.rs`):
/// what local workers run, so a trial that leaves nothing behind costs no inode. Such a
/// directory goes to `dirs`, and the trial takes one from there if it can
/// (`recycle.rs`): a session creates about as many trial directories as trials run at
/// once, not one per trial.
pub fn execute_and_compact(
    spec: &TrialSpec,
    control: &TrialControl,
    dirs: &TrialDirs,
) -> TrialOutcome {
    let outcome = execute(spec, control, Some(dirs));
    compact::compact_trial_dir(spec, &outcome, dirs);
    outcome
}

/// A fault that ends the trial before (or outside) any attempt.
struct Fault(Classification, String);

fn disk(context: &str, e: impl std::fmt::Display) -> Fault {
    Fault(Classification::DiskError, format!("{context}: {e}"))
}

/// Absolute paths of everything in the trial directory.
struct Paths {
    trial_dir: PathBuf,
    workspace: PathBuf,
    task: PathBuf,
    bindings: PathBuf,
    dependencies: PathBuf,
    policy: PathBuf,
    trial_input: PathBuf,
    /// `trials/<trial_id>`: prefix that makes trial-relative paths run-relative.
    run_rel: String,
}

impl Paths {
    fn new(trial_dir: PathBuf) -> Paths {
        let j = |name: &str| trial_dir.join(name);
        let run_rel = {
            let comps: Vec<_> = trial_dir.components().collect();
            let tail = &comps[comps.len().saturating_sub(2)..];
            tail.iter()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        };
        Paths {
            workspace: j("workspace"),
            task: j("task.json"),
            bindings: j("bindings.json"),
            dependencies: j("dependencies.json"),
            policy: j("policy.json"),
            trial_input: j("trial_input.json"),
            run_rel,
            trial_dir,
        }
    }

    fn attempt_dir(&self, n: u32) -> PathBuf {
        self.trial_dir.join(format!("attempt_{n}"))
    }
}

/// What one attempt ended with.
struct AttemptEnd {
    classification: Classification,
    exit_code: Option<i32>,
    active: Duration,
    detail: Option<String>,
    outcome: Option<String>,
    metrics: BTreeMap<String, f64>,
    /// String, boolean and null metric values, as written.
    other_metrics: BTreeMap<String, serde_json::Value>,
    /// (class, path relative to the trial dir) of every evidence file produced.
    evidence: Vec<(String, String)>,
    /// Tamper evidence found after this attempt's agent exited (same shape).
    tamper: Vec<(String, String)>,
    /// Processes the agent left behind (see `AttemptRecord::leaked_processes`).
    leaked: Option<u32>,
}

impl AttemptEnd {
    fn new(classification: Classification, detail: impl Into<String>) -> AttemptEnd {
        AttemptEnd {
            classification,
            exit_code: None,
            active: Duration::ZERO,
            detail: Some(detail.into()),
            outcome: None,
            metrics: BTreeMap::new(),
            other_metrics: BTreeMap::new(),
            evidence: Vec::new(),
            tamper: Vec::new(),
            leaked: None,
        }
    }
}

/// The trial's report under construction.
struct Report {
    classification: Classification,
    outcome: Option<String>,
    metrics: BTreeMap<String, f64>,
    other_metrics: BTreeMap<String, serde_json::Value>,
    attempts: Vec<AttemptRecord>,
    evidence: Vec<EvidenceRef>,
    artifacts: Vec<ArtifactRef>,
    error: Option<String>,
    duration_ms: u64,
    isolation: Option<journal::event::IsolationRecord>,
}

impl Report {
    fn fault(classification: Classification, error: String) -> Report {
        Report {
            classification,
            outcome: None,
            metrics: BTreeMap::new(),
            other_metrics: BTreeMap::new(),
            attempts: Vec::new(),
            evidence: Vec::new(),
            artifacts: Vec::new(),
            error: Some(error),
            duration_ms: 0,
            isolation: None,
        }
    }

    fn into_outcome(self) -> TrialOutcome {
        TrialOutcome {
            classification: self.classification,
            outcome: self.outcome,
            metrics: self.metrics,
            other_metrics: self.other_metrics,
            attempts: self.attempts,
            duration_ms: self.duration_ms,
            evidence: self.evidence,
            artifacts: self.artifacts,
            chain_state: None,
            error: self.error,
            isolation: self.isolation.map(Box::new),
        }
    }
}

struct Trial<'a> {
    spec: &'a TrialSpec,
    paths: Paths,
    /// Workspace files (the task's, then `file_staging` into the workspace) with their
    /// checked relative paths.
    files: Vec<(PathBuf, WorkspaceFile)>,
    /// Workspace files staged read-only (`file_staging` with `read_only`).
    read_only_files: Vec<PathBuf>,
    pre: workspace::Manifest,
    launch: sandbox::Launch,
    /// Unique to this execution (`LABJ_TRIAL_TAG` in every process it starts): the
    /// after-attempt sweep kills only this execution's strays, never those of another
    /// trial that happens to carry the same run and trial ids (tests, a twin worker).
    tag: String,
    /// What each captured stream wrote, by trial-relative log name (`attempt_1/stdout.log`).
    outputs: RefCell<BTreeMap<String, output::Tally>>,
    /// Every process group this attempt ran is dead and reaped (see
    /// `isolation::drain_group`): the after-attempt sweep then only looks at what was
    /// re-parented to labj.
    groups_gone: std::cell::Cell<bool>,
    /// Members of the current attempt's agent group still running when it exited.
    leaked: std::cell::Cell<u32>,
    /// The trial directory was created by this execution (nothing of an earlier
    /// dispatch is in it): the first attempt skips clearing leftovers.
    fresh: bool,
    /// The trial directory is a retired one of this session (`recycle.rs`).
    recycled: bool,
    /// The directory is compacted after the trial (`compact.rs` removes or retires an
    /// empty workspace with the rest).
    compacting: bool,
    /// Evidence labj stored straight from memory: trial-relative name → (digest, bytes).
    stored: RefCell<BTreeMap<String, (String, u64)>>,
    /// The run's blob store (looked up once: whether it is durable is a file's presence).
    blobs: BlobStore,
}

impl<'a> Trial<'a> {
    fn run(self, control: &TrialControl) -> Report {
        let max = self.spec.retry.max_attempts.max(1);
        let mut attempts = Vec::new();
        let mut tamper = Vec::new();
        let mut n = 1;
        let last = loop {
            let mut end = self.attempt(n, control);
            tamper.append(&mut end.tamper);
            attempts.push(AttemptRecord {
                attempt: n,
                classification: end.classification,
                exit_code: end.exit_code,
                duration_ms: end.active.as_millis() as u64,
                detail: end.detail.clone(),
                leaked_processes: end.leaked,
            });
            let again = n < max
                && end.classification != Classification::Cancelled
                && !control.is_stopped()
                && self.spec.retry.should_retry(end.classification);
            if !again {
                break end;
            }
            tracing::debug!(
                trial_id = %self.spec.trial_id,
                attempt = n,
                classification = end.classification.as_str(),
                "retrying trial"
            );
            n += 1;
        };
        let mut report = Report {
            classification: last.classification,
            outcome: last.outcome.clone(),
            metrics: last.metrics.clone(),
            other_metrics: last.other_metrics.clone(),
            attempts,
            evidence: Vec::new(),
            artifacts: Vec::new(),
            error: match last.classification {
                Classification::Success | Classification::Failure => None,
                _ => last.detail.clone(),
            },
            duration_ms: 0,
            isolation: Some(self.launch.record()),
        };
        if let Err(Fault(c, msg)) = self.store(n, &last, &tamper, &mut report) {
            report.classification = c;
            report.error = Some(msg);
        }
        report
    }

    /// One attempt: fresh workspace (for retries), agent, workspace evidence, grader.
    fn attempt(&self, n: u32, control: &TrialControl) -> AttemptEnd {
        match self.attempt_inner(n, control) {
            Ok(end) => end,
            Err(Fault(c, msg)) => AttemptEnd::new(c, msg),
        }
    }

    fn attempt_inner(&self, n: u32, control: &TrialControl) -> Result<AttemptEnd, Fault> {
        let ws = &self.paths.workspace;
        // The first attempt in a directory this execution created has nothing to clear.
        let clean = n == 1 && self.fresh;
        // A retired directory's empty workspace is used as it is.
        let reuse = n == 1 && self.recycled && recycle::is_empty_dir(ws);
        if n == 1 {
            if !clean && !reuse && ws.exists() {
                // Left over from an earlier dispatch of the same trial.
                std::fs::remove_dir_all(ws).map_err(|e| disk(&ws.display().to_string(), e))?;
            }
        } else {
            std::fs::remove_dir_all(ws).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(disk(&ws.display().to_string(), e)),
            })?;
        }
        if !reuse {
            std::fs::create_dir(ws).map_err(|e| disk(&ws.display().to_string(), e))?;
        }
        workspace::write_files(ws, &file_refs(&self.files))
            .map_err(|e| disk("writing workspace file", e))?;
        for rel in &self.read_only_files {
            set_read_only(&ws.join(rel))?;
        }

        let dir = self.paths.attempt_dir(n);
        std::fs::create_dir_all(&dir).map_err(|e| disk(&dir.display().to_string(), e))?;
        let result = dir.join("result.json");
        // Left by an earlier dispatch of this trial: names of stored blobs, which an agent
        // writing to them must never reach (it would rewrite the stored content).
        if !clean {
            for name in [
                "result.json",
                "trajectory.jsonl",
                "stdout.log",
                "stderr.log",
            ] {
                let _ = std::fs::remove_file(dir.join(name));
            }
            // Left by an earlier dispatch of this trial (labj's own, so not evidence):
            // what is found in these places after the agent ran must be this agent's.
            for rel in ["grader", "tampered"] {
                let p = dir.join(rel);
                if std::fs::symlink_metadata(&p).is_ok() {
                    std::fs::remove_dir_all(&p).map_err(|e| disk(&p.display().to_string(), e))?;
                }
            }
            let _ = std::fs::remove_file(self.paths.trial_dir.join("grade.json"));
        }
        self.write_trial_input(n, &dir)?;

        let since = crate::isolation::SpawnMark::now();
        self.groups_gone.set(true);
        self.leaked.set(0);
        let mut end = self.run_agent(n, control, &dir, &result)?;
        // Nothing of the agent outlives its attempt: its process group is dead, but a
        // `setsid` daemon left it. Sandboxes and containers end their whole PID
        // namespace; plain local processes are found by the contract variables they
        // inherited (before the tamper check, so no daemon can write after it).
        let me = &self.spec.trial_id;
        if self.launch.iso.mode == model::isolation::IsolationMode::Local {
            let gone = self.groups_gone.get();
            let escaped = crate::isolation::reap_trial_processes(
                &self.spec.run_id,
                me,
                &self.tag,
                &since,
                gone,
            );
            // Counted where labj inherits what the agent leaves (it is their subreaper).
            if gone && crate::isolation::subreaper_enabled() {
                end.leaked = Some(self.leaked.get() + escaped as u32);
            }
        }
        // The agent's process group is gone: from here on its files are evidence only.
        end.tamper = tamper::check_after_agent(self, n)?;
        end.evidence = self.workspace_evidence()?;
        if !self.spec.declared_metrics.is_empty()
            && matches!(
                end.classification,
                Classification::Success | Classification::Failure
            )
        {
            // The experiment's declared metrics, from the result, the event stream and
            // labj's measurements; they take their declared names.
            let c = declared::compute(
                &self.spec.declared_metrics,
                &result,
                &dir.join("trajectory.jsonl"),
                end.active.as_millis() as u64,
                end.exit_code,
            );
            for (k, v) in c.numbers {
                end.other_metrics.remove(&k);
                end.metrics.insert(k, v);
            }
            for (k, v) in c.others {
                end.metrics.remove(&k);
                end.other_metrics.insert(k, v);
            }
            if !c.notes.is_empty() {
                tracing::warn!(trial_id = %self.spec.trial_id, notes = ?c.notes, "declared metrics");
            }
        }
        if matches!(
            end.classification,
            Classification::Success | Classification::Failure
        ) {
            if let Some(missing) = self.missing_agent_evidence(n, &end) {
                // The agent did not deliver what the experiment requires: its run
                // failed (the original runner stopped the whole run here).
                end.classification = Classification::Error;
                end.outcome = None;
                end.detail = Some(missing);
            }
        }
        if let (Some(grader), Classification::Success | Classification::Failure) =
            (&self.spec.grader, end.classification)
        {
            let stage = grade::stage(self, n, &result)?;
            match &grader.contract {
                GraderContract::Grade | GraderContract::Conclusion => {
                    grade::grade(self, grader, n, control, &stage, &mut end)?
                }
                GraderContract::Adapter { manifest } => adapter::score(
                    self,
                    grader,
                    manifest.as_ref(),
                    n,
                    control,
                    &stage,
                    &mut end,
                )?,
            }
        }
        if self.spec.grader.is_some() {
            // The grader is a host process too, and so are its strays.
            let gone = self.groups_gone.get();
            crate::isolation::reap_trial_processes(&self.spec.run_id, me, &self.tag, &since, gone);
        }
        Ok(end)
    }

    fn timeout(&self) -> Option<Duration> {
        match self.spec.agent.timeout_ms {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// A command for `argv` with the trial's environment (its output is attached by
    /// [`Trial::supervise`]); `${AGENTLAB_…}` references in `argv` are expanded first.
    fn command(
        &self,
        argv: &[String],
        n: u32,
        result: &Path,
        trajectory: &Path,
    ) -> Result<Command, Fault> {
        // Graders and adapters run on the host, with the host view of the contract and
        // the result and trajectory of the stage they grade.
        let mut view = sandbox::AgentView::host(&self.paths, &self.paths.trial_dir);
        view.result = result.to_path_buf();
        view.trajectory = trajectory.to_path_buf();
        let env = self.contract_env(n, &view);
        let argv: Vec<String> = argv.iter().map(|t| invocation::template(t, &env)).collect();
        let Some(program) = argv.first() else {
            return Err(Fault(
                Classification::SpawnFailure,
                "command is empty".to_string(),
            ));
        };
        let program = if program.contains('/') && Path::new(program).is_relative() {
            self.spec.experiment_dir.join(program).into_os_string()
        } else {
            OsString::from(program)
        };
        let path = self
            .spec
            .agent
            .env
            .get("PATH")
            .map(OsString::from)
            .or_else(|| std::env::var_os("PATH"));
        let mut cmd = Command::new(program::resolve(&program, path.as_deref()));
        std::os::unix::process::CommandExt::arg0(&mut cmd, &program);
        cmd.args(&argv[1..]);
        cmd.envs(&self.spec.agent.env);
        cmd.env_remove("AGENTLAB_GRADE_PATH");
        cmd.envs(env)
            .env(crate::isolation::TRIAL_TAG_VAR, &self.tag);
        cmd.stdin(Stdio::null());
        Ok(cmd)
    }

    /// Runs `cmd` under [`process::supervise_in`] with its stdout and stderr captured
    /// into `log_dir/{stdout,stderr}.log`, capped (see `output.rs`); the outer `Err` is a
    /// log that could not be written, the inner one a spawn failure.
    fn supervise(
        &self,
        cmd: &mut Command,
        log_dir: &Path,
        control: &TrialControl,
        phase: Phase,
        container: Option<sandbox::ContainerRef>,
        timeout: Option<Duration>,
    ) -> Result<std::io::Result<process::Supervised>, Fault> {
        let limit = self.spec.agent.output_limit_bytes;
        let (mut capture, out, err) = output::Capture::new(log_dir, limit)
            .map_err(|e| disk("opening the log directory", e))?;
        cmd.stdout(out).stderr(err);
        let sup =
            process::supervise_in(cmd, control, phase, timeout, container, Some(&mut capture));
        if sup.as_ref().is_ok_and(|s| !s.group_gone) {
            self.groups_gone.set(false);
        }
        if let Ok(s) = &sup {
            self.leaked.set(self.leaked.get() + s.leaked);
        }
        // The command keeps the pipes' write ends until told otherwise: closed here so
        // the pipes report end-of-file once the process group is gone.
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut outputs = self.outputs.borrow_mut();
        let mut failed = None;
        for tally in capture.finish() {
            if let Some(e) = &tally.error {
                failed.get_or_insert_with(|| disk("writing a log", e));
            }
            let rel = tally
                .path
                .strip_prefix(&self.paths.trial_dir)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| tally.path.to_string_lossy().into_owned());
            outputs.insert(rel, tally);
        }
        match failed {
            Some(fault) => Err(fault),
            None => Ok(sup),
        }
    }

    fn run_agent(
        &self,
        n: u32,
        control: &TrialControl,
        dir: &Path,
        result: &Path,
    ) -> Result<AttemptEnd, Fault> {
        let agent = &self.spec.agent;
        let (mut cmd, container) = self.agent_command(n, dir)?;
        cmd.stdin(Stdio::null());
        let spawned = self.supervise(
            &mut cmd,
            dir,
            control,
            Phase::Agent,
            container.clone(),
            self.timeout(),
        )?;
        let sup = match spawned {
            Ok(s) => s,
            Err(e) => {
                // In a sandbox or container the spawned program is bwrap or the engine.
                let local = self.launch.iso.mode == model::isolation::IsolationMode::Local;
                let spawned = local.then(|| cmd.get_program());
                return Ok(AttemptEnd::new(
                    Classification::SpawnFailure,
                    invocation::spawn_failure(&agent.command, spawned, &e),
                ));
            }
        };
        // What the engine knows about a non-zero exit, read before the container goes.
        let engine_verdict = match (&container, &sup.end) {
            (Some(c), ProcessEnd::Exited(status)) if !status.success() => sandbox::container_exit(
                c,
                status.code(),
                self.launch.iso.resources.memory_mb.is_some(),
                &dir.join("stderr.log"),
            ),
            _ => None,
        };
        if let Some(c) = &container {
            // Every attempt's container is removed whatever happened (timeout, stop, exit).
            if let Err(e) = c.engine().remove(&c.name) {
                tracing::warn!(container = %c.name, "removing container failed: {e}");
            }
        }
        let mut end = match sup.end {
            ProcessEnd::Stopped(reason) => {
                AttemptEnd::new(Classification::Cancelled, format!("stopped: {reason}"))
            }
            ProcessEnd::TimedOut => AttemptEnd::new(
                Classification::Timeout,
                format!("agent exceeded its {} ms timeout", agent.timeout_ms),
            ),
            ProcessEnd::WaitFailed(msg) => AttemptEnd::new(Classification::SpawnFailure, msg),
            ProcessEnd::Exited(status) if !status.success() => {
                let mut end = match engine_verdict {
                    Some((c, detail)) => AttemptEnd::new(c, detail),
                    None => AttemptEnd::new(
                        Classification::AgentExitNonzero,
                        exit_text("agent", &status),
                    ),
                };
                end.exit_code = status.code();
                end
            }
            ProcessEnd::Exited(status) => {
                let mut end = classify::agent_result(result, &dir.join("stdout.log"));
                end.exit_code = status.code();
                end
            }
        };
        end.active = sup.active;
        Ok(end)
    }
}

fn exit_text(who: &str, status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("{who} exited with code {code}"),
        (None, Some(sig)) => format!("{who} was killed by signal {sig}"),
        _ => format!("{who} ended abnormally ({status})"),
    }
}
