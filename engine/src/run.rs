//! Starting and continuing runs: the imperative shell around the coordinator.
//!
//! Run directory layout (`<runs dir>/<run id>/`):
//!
//! ```text
//! journal.sqlite   the event journal (+ -wal/-shm while open)
//! journal.head     the chain head recorded outside the journal (journal::store::integrity)
//! journal.bell     a byte per control request: tells the coordinator to read its inbox
//! trials/<trial>/  one directory per trial while it runs; kept afterwards only when it
//!                  holds something not recorded elsewhere (see `executor::compact`)
//! blobs/           content-addressed artifacts (blake3)
//! inputs/          the trials' input documents, shared; removed when a session ends
//! ```

use crate::backend::{LocalThreadWorkerBackend, WorkerBackend};
use crate::coordinator::{
    now_ts, Coordinator, CoordinatorError, CoordinatorOptions, InfraRetry, SessionEnd, SessionParts,
};
use crate::lease::{self, LeaseError};
use model::experiment::{self, Experiment, ExperimentError};
pub use options::{ExecutorKind, RunOptions};
pub use remote::RemoteOptions;

mod options;
mod recover;
mod remote;
mod resolve;
mod slurm;
use journal::event::*;
use journal::projection::RunStatus;
use journal::{Durability, Journal, JournalError, Projections};
pub(crate) use recover::reap_orphans;
use recover::{check_inputs, first_run_created};
pub use recover::{rebuild, recovery_plan, RecoveryPlan};
pub use resolve::{find_lab, project_runs_dir, resolve_run, run_handle, LAB_DIR};
use std::path::{Path, PathBuf};

/// Fault injection (feature `fault-injection`, test builds only): the session SIGKILLs
/// itself once the journal holds this many events, as a crash at that point would.
pub const FAULT_KILL_ENV: &str = "LABJ_FAULT_KILL_AFTER_EVENTS";

/// Why `run` or `continue` could not start or drive a run. Each message names what was
/// wrong and where (the experiment file, the run, the option).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The experiment file does not load or validate.
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    /// The journal cannot be created, opened, read or appended to.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The run's lease could not be taken (another live process drives the run).
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// The coordinator stopped on a journal error or a lost lease.
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    /// An option, a setting or the run's state refuses the request; the text says which.
    #[error("{0}")]
    Invalid(String),
    /// A run named on the command line matches no run under `runs_dir`.
    #[error("no run `{run}` under {}: it is not a run directory (one holding {}), nor the id, an id prefix or the handle of a run there{}", runs_dir.display(), journal::JOURNAL_FILE, closest_text(closest))]
    NoSuchRun {
        /// The name as given.
        run: String,
        /// The directory searched.
        runs_dir: PathBuf,
        /// The closest run ids there (see `resolve::closest_runs`).
        closest: Vec<String>,
    },
    /// A file or directory of the run could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done (e.g. `cannot create`).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// `; closest: <handle> (<id>), …` or nothing.
fn closest_text(closest: &[String]) -> String {
    if closest.is_empty() {
        return String::new();
    }
    let named: Vec<String> = closest
        .iter()
        .map(|id| format!("{} ({id})", run_handle(id)))
        .collect();
    format!("; did you mean {}", named.join(", "))
}

/// How a session of `run` or `continue` ended, for the CLI's summary and exit code.
#[derive(Debug)]
pub struct RunOutcome {
    /// The run driven.
    pub run_id: String,
    /// Its run directory.
    pub run_dir: PathBuf,
    /// Completed, failed, killed or stopped by a budget.
    pub end: SessionEnd,
    /// The fold of the whole journal as the session left it.
    pub projections: Projections,
}

/// Fault injection for crash tests, compiled in only with the `fault-injection` feature
/// (test builds): a release binary ignores the variable.
#[cfg(feature = "fault-injection")]
fn fault_kill_after() -> Result<Option<u64>, RunError> {
    match std::env::var(FAULT_KILL_ENV) {
        Err(_) => Ok(None),
        Ok(v) => v.parse().map(Some).map_err(|_| {
            RunError::Invalid(format!("{FAULT_KILL_ENV}={v:?} is not a number of events"))
        }),
    }
}

#[cfg(not(feature = "fault-injection"))]
fn fault_kill_after() -> Result<Option<u64>, RunError> {
    Ok(None)
}

fn new_session(mode: &str, took_over_from: Option<LeaseHolder>) -> SessionStarted {
    SessionStarted {
        session_id: uuid::Uuid::now_v7().to_string(),
        pid: std::process::id(),
        host: lease::this_host(),
        mode: mode.into(),
        labj_version: env!("CARGO_PKG_VERSION").into(),
        took_over_from,
        inputs_changed: None,
        budget: None,
    }
}

fn holder(s: &SessionStarted) -> LeaseHolder {
    LeaseHolder {
        session_id: s.session_id.clone(),
        pid: s.pid,
        host: s.host.clone(),
    }
}

fn restrict(path: &Path, mode: u32) -> Result<(), RunError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        RunError::Io {
            what: "cannot restrict permissions of",
            path: path.into(),
            source,
        }
    })
}

/// The isolation preflight (`exec::isolation::preflight`): refuses, naming the field,
/// what this machine cannot enforce; records the engine/bwrap for the trial specs.
/// `--durable` reaches the workers through a marker in the blob directory (local,
/// Slurm and sandboxed trials all see it), so blobs are fsynced like the journal.
fn mark_blob_durability(run_dir: &Path, durability: Durability) -> Result<(), RunError> {
    let marker = run_dir
        .join("blobs")
        .join(exec::executor::blobs::DURABLE_MARKER);
    if durability == Durability::Full && !marker.exists() {
        std::fs::write(&marker, b"")
            .map_err(|e| RunError::Invalid(format!("cannot write {}: {e}", marker.display())))?;
    }
    Ok(())
}

fn check_utf8_path(what: &str, path: &Path) -> Result<(), RunError> {
    if path.to_str().is_none() {
        return Err(RunError::Invalid(format!(
            "{what} {} is not valid UTF-8; labj records paths in its journal as text, so rename it (or use another directory)",
            path.display()
        )));
    }
    Ok(())
}

pub(crate) fn enforce(exp: &mut Experiment, opts: &RunOptions) -> Result<(), RunError> {
    if let Some(n) = opts.max_concurrency {
        experiment::limits::check_concurrency(n as u64).map_err(RunError::Invalid)?;
    }
    let choice = exec::isolation::HostChoice {
        container_engine: opts.container_engine.clone(),
    };
    let e = exec::isolation::preflight(exp, &choice)?;
    exp.set_enforcement(e);
    Ok(())
}

/// Ends whatever a run's trials may have left: host processes carrying the run's id in
/// their environment, and containers labelled with it.
fn sweep_run(run_id: &str, exp: &Experiment, opts: &RunOptions, since: Option<u64>) {
    let killed = exec::isolation::reap_host_processes_since(run_id, None, since);
    let mut removed = Vec::new();
    if let Some(engine) = exp.enforcement().and_then(|e| e.engine.as_ref()) {
        match exec::isolation::remove_run_containers(engine, run_id, None) {
            Ok(names) => removed = names,
            Err(e) => tracing::warn!(run = %run_id, "removing the run's containers failed: {e}"),
        }
    }
    if killed + removed.len() > 0 {
        let msg = format!(
            "stopped {killed} process(es) and removed {} container(s) left by this run's trials",
            removed.len()
        );
        opts.observer.notice(run_id, &msg);
    }
}

fn mkdir(path: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(path).map_err(|source| RunError::Io {
        what: "cannot create directory",
        path: path.into(),
        source,
    })
}

/// A run that exists in the journal (run_created + session_started appended, lease
/// held by this process) but is not being driven yet.
pub struct CreatedRun {
    /// The experiment as loaded, with the options applied.
    pub experiment: Experiment,
    /// The run's journal, open for writing.
    pub journal: Journal,
    /// The fold of the journal so far.
    pub projections: Projections,
    /// The new run directory.
    pub run_dir: PathBuf,
    pub(crate) session_id: String,
}

/// Validate the experiment, create the run directory and journal, take the lease and
/// journal `run_created` + `session_started`.
pub fn create_run(experiment_path: &Path, opts: &RunOptions) -> Result<CreatedRun, RunError> {
    opts.validate()?;
    // The journal records paths as text: refuse a path it cannot hold before anything
    // is created (no empty run directory is left behind).
    let abs_exp = std::fs::canonicalize(experiment_path).unwrap_or(experiment_path.into());
    check_utf8_path("the experiment path", &abs_exp)?;
    check_utf8_path("--runs-dir", &opts.runs_dir)?;
    // A runs directory that is something else (a file, a FIFO) would fail below as an
    // opaque "Not a directory (os error 20)" on a path the user never typed.
    if let Ok(meta) = std::fs::metadata(&opts.runs_dir) {
        if !meta.is_dir() {
            return Err(RunError::Invalid(format!(
                "--runs-dir {} exists but is not a directory; give a directory (it is \
                 created when missing)",
                opts.runs_dir.display()
            )));
        }
    }
    let mut exp = experiment::load(experiment_path)?;
    experiment::check_runnable(&exp)?;
    enforce(&mut exp, opts)?;
    let max_concurrency = opts.max_concurrency.unwrap_or(exp.max_concurrency());
    experiment::limits::check_concurrency(max_concurrency as u64).map_err(RunError::Invalid)?;
    // Checked before anything is created, so a bad ceiling leaves no run behind.
    crate::backend::local::ceiling_from_env().map_err(RunError::Invalid)?;
    check_executor_options(opts.executor.unwrap_or_default(), opts)?;
    if opts.executor == Some(ExecutorKind::Remote) {
        remote::preflight(&opts.remote)?;
    }
    // A bad budget is refused before anything is created.
    let mut budget = crate::budget::from_experiment(exp.resolved())
        .map_err(|e| RunError::Invalid(format!("{}: {e}", experiment_path.display())))?
        .unwrap_or_default();
    for o in &opts.budget_overrides {
        crate::budget::apply_override(&mut budget, o).map_err(RunError::Invalid)?;
    }
    let run_id = uuid::Uuid::now_v7().to_string();
    let run_dir = opts.runs_dir.join(&run_id);
    let inputs = model::inputs::components(&exp);
    mkdir(&journal::RunDir::new(&run_dir).trials())?;
    mkdir(&journal::RunDir::new(&run_dir).blobs())?;
    // Other users never read a run (agent env, outputs); see docs/isolation.md.
    restrict(&run_dir, 0o700)?;
    let mut session = new_session("run", None);
    session.budget = (!budget.is_empty()).then_some(budget);
    let created = RunCreated {
        run_id: run_id.clone(),
        experiment_id: exp.id().to_string(),
        experiment_digest: exp.digest().to_string(),
        experiment: model::isolation::redact_env_values(exp.resolved()),
        variant_ids: exp.variant_ids(),
        task_ids: exp.task_ids(),
        schedule_policy: exp.scheduling().as_str().to_string(),
        schedule: exp.schedule(),
        max_concurrency,
        pruning: exp.pruning(),
        primary_metric: exp.primary_metric().map(String::from),
        options: serde_json::json!({
            "experiment_path": abs_exp,
            "inputs_digest": model::inputs::combined(&inputs),
            "inputs": inputs,
            "runs_dir": opts.runs_dir,
            "max_concurrency_override": opts.max_concurrency,
            "executor": opts.executor.unwrap_or_default().as_str(),
            "slurm_partition": opts.slurm_partition,
            "slurm_args": opts.slurm_args,
            "slurm_workers": opts.slurm_workers,
            "remote_endpoints": opts.remote.endpoints,
            "remote_token_env": opts.remote.token_env,
            "remote_tls_ca": opts.remote.tls_ca.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            "remote_tls_pin": opts.remote.tls_pin,
        }),
    };
    let mut projections = Projections::new();
    let session_id = session.session_id.clone();
    let lease_holder = holder(&session);
    // Atomic: the journal appears with run_created + session_started, or not at all.
    let mut journal = Journal::create_with(
        &journal::RunDir::new(&run_dir).journal_path(),
        opts.durability,
        &mut projections,
        vec![Event::RunCreated(created), Event::SessionStarted(session)],
        &now_ts(),
    )?;
    for path in journal::RunDir::new(&run_dir).journal_files() {
        if path.exists() {
            restrict(&path, 0o600)?;
        }
    }
    mark_blob_durability(&run_dir, opts.durability)?;
    lease::acquire(&mut journal, &lease_holder)?;
    journal.guard_appends_by_lease(session_id.clone());
    Ok(CreatedRun {
        experiment: exp,
        journal,
        projections,
        run_dir,
        session_id,
    })
}

/// Create a run from an experiment file and drive it to the end.
pub fn start_run(experiment_path: &Path, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let kill_after = fault_kill_after()?;
    let c = create_run(experiment_path, opts)?;
    announce(opts, "run", &c.run_dir, &c.projections);
    let max_concurrency = c.projections.control.max_concurrency;
    let kind = opts.executor.unwrap_or_default();
    let run_id = c
        .projections
        .run
        .as_ref()
        .map(|r| r.run_id.clone())
        .unwrap_or_default();
    let backend = match make_backend(kind, opts, &c.run_dir, &run_id, max_concurrency as usize) {
        Ok(b) => b,
        Err(e) => {
            // The run exists (journal created): end it visibly rather than leave it
            // looking live; `continue` can drive it once the executor is reachable.
            let mut journal = c.journal;
            let mut proj = c.projections;
            journal.append(
                &mut proj,
                vec![Event::RunFailed(RunFailed {
                    error: e.to_string(),
                })],
                &now_ts(),
            )?;
            let _ = lease::release(&journal, &c.session_id);
            return Err(e);
        }
    };
    let parts = SessionParts {
        journal: c.journal,
        projections: c.projections,
        experiment: &c.experiment,
        run_dir: c.run_dir,
        session_id: c.session_id,
        reattached: Vec::new(),
    };
    drive(parts, backend.boxed(), opts, kill_after)
}

/// The backend a session drives, concrete so `continue` can reattach Slurm jobs.
enum Backend {
    Local(LocalThreadWorkerBackend),
    Slurm(crate::backend::slurm::SlurmBackend),
    Remote(crate::backend::remote::RemoteWorkerBackend),
}

impl Backend {
    fn boxed(self) -> Box<dyn WorkerBackend> {
        match self {
            Backend::Local(b) => Box::new(b),
            Backend::Slurm(b) => Box::new(b),
            Backend::Remote(b) => Box::new(b),
        }
    }
}

/// Options of another executor mean nothing to this one: refuse rather than ignore them.
fn check_executor_options(kind: ExecutorKind, opts: &RunOptions) -> Result<(), RunError> {
    slurm::check_options(kind, opts)?;
    if kind != ExecutorKind::Remote
        && (!opts.remote.endpoints.is_empty() || opts.remote.token_env.is_some())
    {
        return Err(RunError::Invalid(format!(
            "--remote-endpoint/--remote-token-env apply to --executor remote only, and this run uses --executor {}",
            kind.as_str()
        )));
    }
    Ok(())
}

fn make_backend(
    kind: ExecutorKind,
    opts: &RunOptions,
    run_dir: &Path,
    run_id: &str,
    capacity: usize,
) -> Result<Backend, RunError> {
    match kind {
        ExecutorKind::Remote => {
            let backend = remote::connect(run_id, &opts.remote, capacity)?;
            // Evidence comes home before a completion is journaled (`evidence.rs`).
            backend.fetch_evidence_into(journal::RunDir::new(run_dir).blobs());
            Ok(Backend::Remote(backend))
        }
        ExecutorKind::Local => Ok(Backend::Local(
            LocalThreadWorkerBackend::new(capacity).map_err(RunError::Invalid)?,
        )),
        ExecutorKind::Slurm => slurm::backend(opts, run_dir, run_id, capacity).map(Backend::Slurm),
    }
}

/// `continue` drives the run on the executor it was created with unless told otherwise,
/// with the Slurm options recorded then (an explicit option wins).
fn continue_options(opts: &RunOptions, created: &RunCreated) -> Result<RunOptions, RunError> {
    let mut o = opts.clone();
    let recorded = created.options["executor"].as_str();
    if o.executor.is_none() {
        o.executor = match recorded {
            None => Some(ExecutorKind::Local),
            Some(s) => Some(ExecutorKind::parse(s).ok_or_else(|| {
                RunError::Invalid(format!("run_created records an unknown executor {s:?}"))
            })?),
        };
    }
    if o.executor == Some(ExecutorKind::Slurm) && recorded == Some("slurm") {
        slurm::recorded(&mut o, created);
    }
    if o.executor == Some(ExecutorKind::Remote)
        && recorded == Some("remote")
        && o.remote.endpoints.is_empty()
        && o.remote.token_env.is_none()
        && o.remote.tls_ca.is_none()
        && o.remote.tls_pin.is_none()
    {
        let insecure_plaintext = o.remote.insecure_plaintext;
        o.remote = remote::recorded(&created.options);
        o.remote.insecure_plaintext = insecure_plaintext;
    }
    check_executor_options(o.executor.unwrap_or_default(), &o)?;
    Ok(o)
}

/// Tell the observer which run this session drives, before any trial is dispatched.
fn announce(opts: &RunOptions, mode: &'static str, run_dir: &Path, proj: &Projections) {
    let Some(run) = proj.run.as_ref() else {
        return;
    };
    tracing::info!(
        run = %run.run_id,
        mode,
        total_slots = proj.progress.total_slots,
        committed = proj.progress.next_commit_idx,
        "session started"
    );
    opts.observer.started(&crate::progress::SessionInfo {
        run_id: run.run_id.clone(),
        run_dir: run_dir.to_path_buf(),
        experiment_id: run.experiment_id.clone(),
        mode,
        total_slots: proj.progress.total_slots,
        committed_at_start: proj.progress.next_commit_idx,
    });
}

fn drive(
    parts: SessionParts<'_>,
    backend: Box<dyn WorkerBackend>,
    opts: &RunOptions,
    kill_after_events: Option<u64>,
) -> Result<RunOutcome, RunError> {
    let run_id = parts.projections.run.as_ref().expect("run").run_id.clone();
    let (run_dir, session_id) = (parts.run_dir.clone(), parts.session_id.clone());
    let experiment = parts.experiment;
    // Whatever this session's trials started, started after this.
    let since = exec::isolation::boot_ticks_now();
    let infra_retry = InfraRetry::for_experiment(parts.experiment, opts.no_retry_lost);
    // The caps this session's `session_started` recorded.
    let budget = parts
        .projections
        .session
        .as_ref()
        .and_then(|s| s.budget.clone());
    let mut coordinator = Coordinator::new(
        parts,
        backend,
        CoordinatorOptions {
            progress: opts.progress,
            kill_after_events,
            infra_retry,
            observer: opts.observer.clone(),
            budget,
        },
    );
    let end = coordinator.run();
    let (mut journal, projections) = coordinator.into_parts();
    // Also at the end of a completed run, not only on `continue`: nothing outlives it.
    sweep_run(&run_id, experiment, opts, since);
    // No trial of this session runs any more: the per-run input store can go.
    exec::executor::blobs::remove_inputs(&run_dir);
    exec::executor::recycle::remove_free_dirs(&run_dir);
    // Whatever the session's end, the journal it wrote must still be the file on disk:
    // a deleted, replaced or truncated journal never ends green.
    let damaged = journal.check_file();
    // Release even after an error, so the next `continue` need not wait for staleness.
    let _ = lease::release(&journal, &session_id);
    // The damage, when there is some, is the root cause of whatever the session met
    // (a truncated file makes SQLite report "malformed", say): report it first.
    damaged?;
    let end = end?;
    Ok(RunOutcome {
        run_id,
        run_dir,
        end,
        projections,
    })
}

/// Continue a crashed, killed or interrupted run.
///
/// Order matters: the journal is folded and the inputs checked through a read-only
/// handle, then the lease is taken (a live holder refuses it, changing nothing), and only
/// then is the journal opened for writing and re-folded if another session appended in
/// between.
pub fn continue_run(run_dir: &Path, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    opts.validate()?;
    let kill_after = fault_kill_after()?;
    let path = journal::RunDir::new(run_dir).journal_path();
    let mut ro = Journal::open_read_only(&path)?;
    let folded_len = ro.len();
    // From the latest verified snapshot: a crashed run of millions of events is not
    // refolded from event 0 (`verify` still checks everything).
    let proj = ro.fold_from_snapshot(None)?.projections;
    let run = proj
        .run
        .as_ref()
        .ok_or_else(|| {
            RunError::Invalid(format!("{}: journal has no run_created", run_dir.display()))
        })?
        .clone();
    if proj.control.status == RunStatus::Completed {
        return Err(RunError::Invalid(format!(
            "run {} is already completed ({} slots committed); nothing to continue",
            run.run_id, proj.progress.next_commit_idx
        )));
    }
    let created = first_run_created(&ro)?;
    let exp_path = created.options["experiment_path"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| RunError::Invalid("run_created records no experiment_path".into()))?;
    let mut exp = experiment::load(&exp_path)?;
    enforce(&mut exp, opts)?;
    let inputs_changed = check_inputs(&ro, &created, &exp, &exp_path, opts)?;
    let max_concurrency = proj.control.max_concurrency.max(1);
    let opts = &continue_options(opts, &created)?;
    let kind = opts.executor.unwrap_or_default();
    let capacity = opts.max_concurrency.unwrap_or(max_concurrency) as usize;
    let mut backend = make_backend(kind, opts, run_dir, &run.run_id, capacity)?;
    let mut session = new_session("continue", None);
    session.inputs_changed = inputs_changed;
    // The budget in force: the last session's (it carries every earlier change), else
    // the experiment's, then this session's `--budget` changes.
    let mut budget = match proj.session.as_ref() {
        Some(s) if s.budget.is_some() => s.budget.clone().unwrap_or_default(),
        _ => crate::budget::from_experiment(&created.experiment)
            .map_err(RunError::Invalid)?
            .unwrap_or_default(),
    };
    for o in &opts.budget_overrides {
        crate::budget::apply_override(&mut budget, o).map_err(RunError::Invalid)?;
    }
    session.budget = (!budget.is_empty()).then_some(budget);
    let took = lease::acquire(&mut ro, &holder(&session))?;
    drop(ro);
    session.took_over_from = took.as_ref().map(lease::holder_of);
    let session_id = session.session_id.clone();
    let mut journal = match Journal::open(&path, opts.durability) {
        Ok(j) => j,
        Err(e) => {
            // Hand the lease back as it was: this session never wrote.
            if let Ok(ro) = Journal::open_read_only(&path) {
                let _ = lease::restore(&ro, &session_id, took.as_ref());
            }
            return Err(e.into());
        }
    };
    journal.guard_appends_by_lease(session_id.clone());
    mark_blob_durability(run_dir, opts.durability)?;
    // Temporary blob files of writers that died with the previous session.
    exec::executor::blobs::clean_stale_tmp(&journal::RunDir::new(run_dir).blobs());
    let proj = if journal.len() != folded_len {
        // Another session appended between the fold and the lease (and has since died).
        let proj = journal.fold_from_snapshot(None)?.projections;
        if proj.control.status == RunStatus::Completed {
            let _ = lease::restore(&journal, &session_id, took.as_ref());
            return Err(RunError::Invalid(format!(
                "run {} was completed by another session while this one was starting; nothing to continue",
                run.run_id
            )));
        }
        proj
    } else {
        proj
    };
    let mut plan = recovery_plan(&proj, InfraRetry::for_experiment(&exp, opts.no_retry_lost));
    let mut notes = Vec::new();
    // Attempts still alive in Slurm (or finished with an outcome nobody collected yet)
    // are taken over rather than lost.
    let reattached = match &mut backend {
        Backend::Slurm(b) => {
            crate::backend::slurm::recover::reattach(&journal, run_dir, b, &mut plan.worker_lost)
                .map_err(RunError::Invalid)?
        }
        Backend::Remote(b) => {
            // Trials a worker still runs (or finished and kept) are taken back.
            let mut active: Vec<_> = proj.control.active_trials.values().cloned().collect();
            active.sort_by_key(|t| t.schedule_idx);
            let adopted = b.reattach(&active);
            plan.worker_lost.retain(|w| !adopted.contains(&w.ticket_id));
            if !active.is_empty() {
                notes.push(Event::BackendWarning(BackendWarning {
                    code: "remote_reattach".into(),
                    message: format!(
                        "{} trial(s) were in flight when the last session ended: {} reattached on their workers ({}), {} recorded worker_lost and run again",
                        active.len(),
                        adopted.len(),
                        adopted.join(", "),
                        plan.worker_lost.len()
                    ),
                    requested: Some(active.len() as u32),
                    effective: Some(adopted.len() as u32),
                    digests: vec![],
                }));
            }
            active
                .iter()
                .filter(|t| adopted.contains(&t.ticket_id))
                .map(|t| t.trial_id.clone())
                .collect()
        }
        Backend::Local(_) => Vec::new(),
    };
    let stale: Vec<String> = plan
        .worker_lost
        .iter()
        .map(|w| w.trial_id.clone())
        .collect();
    // A remote run's agents live on its workers, which stop what nobody reattached.
    let reaped = if kind == ExecutorKind::Local {
        reap_orphans(&run.run_id, &stale)
    } else {
        0
    };
    if let Some(engine) = exp.enforcement().and_then(|e| e.engine.as_ref()) {
        // Containers of the dead session's lost trials (labelled with this run).
        match exec::isolation::remove_run_containers(engine, &run.run_id, Some(&stale)) {
            Ok(names) if !names.is_empty() => {
                let msg = format!(
                    "removed {} container(s) the previous session left: {}",
                    names.len(),
                    names.join(", ")
                );
                opts.observer.notice(&run.run_id, &msg);
            }
            Ok(_) => {}
            Err(e) => {
                return Err(RunError::Invalid(format!(
                    "cannot remove the containers the previous session left: {e}"
                )))
            }
        }
    }
    if reaped > 0 {
        opts.observer.notice(
            &run.run_id,
            &format!("stopped {reaped} agent process(es) the previous session left running"),
        );
    }
    // Orphans are stopped: what a lost attempt left behind is kept apart as evidence
    // and never read as the re-run's (even a valid result it wrote: it is re-run).
    for w in plan.worker_lost.iter().filter(|w| w.retry) {
        crate::coordinator::infra::set_aside_trial_dir(run_dir, &w.trial_id, &session_id);
    }
    let mut events = vec![Event::SessionStarted(session)];
    if let Some(n) = opts.max_concurrency {
        if n != max_concurrency {
            events.push(Event::ConcurrencySet(ConcurrencySet {
                request_id: format!("continue-{session_id}"),
                max_concurrency: n,
                requested_by: crate::control::requester(),
            }));
        }
    }
    events.extend(notes);
    events.extend(plan.worker_lost.into_iter().map(Event::WorkerLost));
    let mut proj = proj;
    journal.append(&mut proj, events, &now_ts())?;
    announce(opts, "continue", run_dir, &proj);
    let parts = SessionParts {
        journal,
        projections: proj,
        experiment: &exp,
        run_dir: run_dir.to_path_buf(),
        session_id,
        reattached,
    };
    drive(parts, backend.boxed(), opts, kill_after)
}
