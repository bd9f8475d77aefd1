//! `labj run|continue --executor slurm --slurm-workers N` (pilot worker jobs) end to
//! end, against the real one-node cluster of `scripts/slurm-dev-cluster.sh` and the real
//! `labj` binary (the worker jobs run it too). A test that cannot reach the cluster
//! fails, naming it. The tests of this file take one lock: one of them drains the node.

mod support;

use journal::event::{Event, StoredEvent};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::recorded::*;
use support::slurm::{
    assert_per_variant_cap_holds, require_slurm, spawn_slurm_run, spawn_slurm_run_env,
};
use support::*;

fn sh(cmd: &mut Command, what: &str) -> String {
    let out = output_within(cmd, Duration::from_secs(60), what);
    assert!(out.status.success(), "{what}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Live (queued or running) worker jobs of run `run_id`.
fn live_workers(run_id: &str) -> Vec<String> {
    sh(
        Command::new("squeue")
            .args(["-h", "-o", "%i", "--name"])
            .arg(format!("labj-pilot-{run_id}")),
        "squeue --name",
    )
    .lines()
    .map(String::from)
    .collect()
}

/// Samples `squeue` for the run's worker jobs every 100 ms until dropped; keeps the most
/// seen at once.
struct Sampler {
    stop: Arc<AtomicBool>,
    most: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(run_id: &str) -> Sampler {
        let (stop, most) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (st, mo, id) = (Arc::clone(&stop), Arc::clone(&most), run_id.to_string());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                mo.fetch_max(live_workers(&id).len(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler {
            stop,
            most,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        self.most.load(Ordering::SeqCst)
    }
}

/// The trial → worker job assignments journaled: (trial id, job id, action).
fn jobs_of(run_dir: &Path) -> Vec<(String, String, String)> {
    read_events(run_dir)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::BackendJobSubmitted(b) => Some((b.trial_id, b.job_id, b.action)),
            _ => None,
        })
        .collect()
}

fn slot_commits(events: &[StoredEvent]) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for e in events {
        if let Event::SlotCommitted(c) = &e.event {
            *m.entry(c.schedule_idx).or_insert(0) += 1;
        }
    }
    m
}

fn spawn_run(s: &Scratch, exp: &Path, workers: &str) -> std::process::Child {
    spawn_slurm_run(s, exp, &["--slurm-workers", workers])
}

fn wait_run_dir(s: &Scratch) -> PathBuf {
    wait_for(Duration::from_secs(30), "the run's journal", || {
        s.first_run().filter(|d| journal_has_run(d))
    })
}

fn run_id(run_dir: &Path) -> String {
    run_dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// Trials whose agent started (its record exists), at least `n` of them.
fn wait_started(s: &Scratch, n: usize) -> Vec<String> {
    wait_for(Duration::from_secs(60), "agents running", || {
        let started: Vec<String> = std::fs::read_dir(s.dir().join("rec"))
            .ok()?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        (started.len() >= n).then_some(started)
    })
}

fn starts(s: &Scratch, trial: &str) -> usize {
    std::fs::read_to_string(s.dir().join("rec").join(trial))
        .unwrap_or_default()
        .matches("start")
        .count()
}

fn run_err(s: &Scratch) -> String {
    std::fs::read_to_string(s.dir().join("run.err")).unwrap_or_default()
}

/// Every worker job of the run ended (none queued or running) within `limit`.
fn wait_no_workers(run_id: &str, limit: Duration) {
    wait_for(limit, "the worker jobs to end", || {
        live_workers(run_id).is_empty().then_some(())
    });
}

#[test]
fn pilot_run_commits_every_slot_once_on_at_most_n_worker_jobs() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(10);
    let exp = s.experiment(&["a", "b"], 2, 4, "");
    recording_agent(&s, "0", SUCCESS);
    let mut child = spawn_run(&s, &exp, "2");
    let run_dir = wait_run_dir(&s);
    let id = run_id(&run_dir);
    let sampler = Sampler::start(&id);
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run --slurm-workers 2");
    let most = sampler.finish();
    assert_eq!(status.code(), Some(0), "{}", run_err(&s));
    assert!(
        (1..=2).contains(&most),
        "at most 2 worker jobs at once, saw {most}"
    );

    let events = read_events(&run_dir);
    let commits = slot_commits(&events);
    assert_eq!(commits.len(), 40, "every slot committed");
    assert!(commits.values().all(|n| *n == 1), "each exactly once");
    // 40 trials, all handed to (at most two) worker jobs: not one job per trial.
    let jobs = jobs_of(&run_dir);
    assert_eq!(jobs.len(), 40, "{jobs:?}");
    assert!(jobs.iter().all(|(_, _, a)| a == "assigned"), "{jobs:?}");
    let ids: BTreeSet<&str> = jobs.iter().map(|(_, j, _)| j.as_str()).collect();
    assert!(ids.len() <= 2, "worker jobs used: {ids:?}");
    let from_workers = events
        .iter()
        .filter(|e| matches!(&e.event, Event::TrialCompleted(c) if c.worker_id.starts_with("slurm-worker-")))
        .count();
    assert_eq!(from_workers, 40);
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 40);
    // Every event the pilot session journaled is valid against its schema.
    for e in &events {
        let schema = format!("event_{}", e.event.kind());
        if let Err(err) = model::schemas::validate(&schema, &e.event.payload_value()) {
            panic!("{schema} at {}: {err:?}", e.idx);
        }
    }
    // No work is left: the worker jobs leave (told `stop` when the session ended).
    wait_no_workers(&id, Duration::from_secs(20));
}

#[test]
fn pilot_worker_cancelled_by_scancel_reruns_its_trials_as_infra() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(4);
    let exp = s.experiment(&["a"], 1, 2, "");
    recording_agent(&s, "3", SUCCESS);
    let mut child = spawn_run(&s, &exp, "2");
    let run_dir = wait_run_dir(&s);
    let id = run_id(&run_dir);
    let sampler = Sampler::start(&id);
    let started = wait_started(&s, 2);
    let jobs = jobs_of(&run_dir);
    let (victim_trial, victim_job, _) = jobs
        .iter()
        .find(|(t, _, _)| *t == started[0])
        .cloned()
        .expect("the started trial's worker job is journaled");
    sh(Command::new("scancel").arg(&victim_job), "scancel");
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run --slurm-workers 2");
    let most = sampler.finish();
    assert_eq!(status.code(), Some(0), "{}", run_err(&s));
    assert!(most <= 2, "at most 2 worker jobs at once, saw {most}");

    let events = read_events(&run_dir);
    let lost: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::WorkerLost(w) if w.trial_id == victim_trial => Some(w.reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        lost.len(),
        1,
        "one worker_lost for {victim_trial}: {lost:?}"
    );
    assert!(
        lost[0].contains(&victim_job) && lost[0].contains("CANCELLED"),
        "{}",
        lost[0]
    );
    // Re-run on another (replacement) worker job; never scored as the agent's failure.
    assert_eq!(starts(&s, &victim_trial), 2, "{victim_trial} re-run once");
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 4, "{}", run_err(&s));
    assert_eq!(proj.aggregates.overall.failed, 0);
    let rerun_job = jobs_of(&run_dir)
        .into_iter()
        .filter(|(t, _, _)| *t == victim_trial)
        .map(|(_, j, _)| j)
        .next_back()
        .unwrap();
    assert_ne!(rerun_job, victim_job, "the re-run went to a live worker");
    wait_no_workers(&id, Duration::from_secs(20));
}

/// Returns the node to service even when the test fails.
struct Undrain(String);

/// Drains the cluster's (one) node: no job starts until the returned guard is dropped.
fn drain_the_node() -> Undrain {
    let nodes = sh(
        Command::new("sinfo").args(["-h", "-N", "-o", "%N"]),
        "sinfo",
    );
    let node = nodes.lines().next().expect("a node").to_string();
    sh(
        Command::new("scontrol").args([
            "update",
            &format!("nodename={node}"),
            "state=drain",
            "reason=labj-test",
        ]),
        "scontrol drain",
    );
    Undrain(node)
}

impl Drop for Undrain {
    fn drop(&mut self) {
        let _ = Command::new("scontrol")
            .args(["update", &format!("nodename={}", self.0), "state=resume"])
            .status();
    }
}

#[test]
fn pilot_run_waits_on_a_drained_node_and_finishes_after_undrain() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    recording_agent(&s, "0", SUCCESS);
    let undrain = drain_the_node();
    let mut child = spawn_run(&s, &exp, "1");
    let run_dir = wait_run_dir(&s);
    // The run says why it waits (journaled, and on stderr)...
    let warning = wait_for(
        Duration::from_secs(60),
        "a slurm_worker_pending warning",
        || {
            read_events(&run_dir)
                .into_iter()
                .find_map(|e| match e.event {
                    Event::BackendWarning(w) if w.code == "slurm_worker_pending" => Some(w.message),
                    _ => None,
                })
        },
    );
    assert!(
        warning.contains("pending") && warning.contains("state=resume"),
        "{warning}"
    );
    // ... and runs nothing meanwhile.
    assert!(wait_started_none(&s), "no agent runs on a drained node");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run waits, it does not end"
    );
    drop(undrain);
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run on an undrained node");
    assert_eq!(status.code(), Some(0), "{}", run_err(&s));
    assert!(run_err(&s).contains("has been pending"), "{}", run_err(&s));
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 2);
    assert_eq!(proj.aggregates.overall.worker_lost, 0);
    let kinds: Vec<String> = read_events(&run_dir)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::BackendWarning(w) => Some(w.code),
            _ => None,
        })
        .collect();
    assert!(
        kinds.contains(&"slurm_worker_started".to_string()),
        "{kinds:?}"
    );
}

/// Cancels the given jobs even when the test fails (a held job never ends by itself).
struct Cancel(Vec<String>);

impl Drop for Cancel {
    fn drop(&mut self) {
        for job in &self.0 {
            let _ = Command::new("scancel").arg(job).status();
        }
    }
}

/// A worker job that stays queued (here: held by `scontrol hold`) must not keep the
/// trials handed to it while another worker has started: they move to the started one.
/// Before this, the run waited for the held job forever.
#[test]
fn pilot_trials_of_a_worker_job_stuck_in_the_queue_move_to_a_started_worker() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(4);
    let exp = s.experiment(&["a"], 1, 2, "");
    recording_agent(&s, "0", SUCCESS);
    // Both worker jobs queue on the drained node and each gets a trial in its inbox;
    // one is then held, and only the other starts.
    let undrain = drain_the_node();
    let mut child = spawn_run(&s, &exp, "2");
    let run_dir = wait_run_dir(&s);
    let id = run_id(&run_dir);
    let jobs = wait_for(Duration::from_secs(60), "two queued worker jobs", || {
        let j = live_workers(&id);
        (j.len() == 2 && jobs_of(&run_dir).len() == 2).then_some(j)
    });
    let _cancel = Cancel(jobs.clone());
    let held = jobs.iter().max().unwrap().clone();
    let started = jobs.iter().min().unwrap().clone();
    sh(
        Command::new("scontrol").args(["hold", &held]),
        "scontrol hold",
    );
    drop(undrain);
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run with a held worker job");
    assert_eq!(status.code(), Some(0), "{}", run_err(&s));
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 4, "{}", run_err(&s));
    assert_eq!(proj.aggregates.overall.worker_lost, 0);
    let records = jobs_of(&run_dir);
    let moved: Vec<&(String, String, String)> =
        records.iter().filter(|(_, _, a)| a == "moved").collect();
    assert!(
        !moved.is_empty(),
        "the held job's trials moved: {records:?}"
    );
    assert!(
        moved.iter().all(|(_, job, _)| *job == started),
        "moved to the started job {started}: {records:?}"
    );
    // Every trial ran once, on the started job: the held one never ran anything.
    let ran = wait_started(&s, 4);
    assert_eq!(ran.len(), 4, "{ran:?}");
    for trial in &ran {
        assert_eq!(starts(&s, trial), 1, "{trial} ran once: {records:?}");
    }
    let held_dir = run_dir.join("slurm").join("workers").join(&held);
    assert!(
        !held_dir
            .join("claimed")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "the held job claimed nothing"
    );
    // The held job, queued with nothing to do, is cancelled when the run ends.
    wait_no_workers(&id, Duration::from_secs(20));
}

/// A worker job that hits its Slurm time limit (`--time=1`: Slurm ends it a minute or so
/// after it starts) loses the trials it was running as infrastructure faults: they run
/// again on a replacement job and are never scored.
#[test]
fn pilot_worker_hitting_its_time_limit_reruns_its_trials_as_infra() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    let yaml = std::fs::read_to_string(&exp).unwrap();
    std::fs::write(
        &exp,
        yaml.replace("timeout_ms: 60000", "timeout_ms: 900000"),
    )
    .unwrap();
    // The first attempt of each trial outlives the job's limit; the re-run ends at once.
    let marks = s.dir().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let sleep = format!(
        r#"$(if [ -e "{m}/$AGENTLAB_TRIAL_ID" ]; then echo 0; else touch "{m}/$AGENTLAB_TRIAL_ID"; echo 600; fi)"#,
        m = marks.display()
    );
    recording_agent(&s, &sleep, SUCCESS);
    let args = ["--slurm-workers", "1", "--slurm-arg=--time=1"];
    let mut child = spawn_slurm_run(&s, &exp, &args);
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run --slurm-arg=--time=1");
    assert_eq!(status.code(), Some(0), "{}", run_err(&s));
    let run_dir = s.the_run();
    let events = read_events(&run_dir);
    let lost: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::WorkerLost(w) => Some(w.reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 2, "both first attempts lost: {lost:?}");
    assert!(
        lost.iter().all(|r| r.contains("TIMEOUT")),
        "lost to the job's time limit: {lost:?}"
    );
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 2, "{}", run_err(&s));
    assert_eq!(
        proj.aggregates.overall.failed, 0,
        "never scored as the agent's failure"
    );
    for trial in wait_started(&s, 2) {
        assert_eq!(
            starts(&s, &trial),
            2,
            "{trial}: the first attempt and one re-run"
        );
    }
    wait_no_workers(&run_id(&run_dir), Duration::from_secs(20));
}

fn wait_started_none(s: &Scratch) -> bool {
    std::fs::read_dir(s.dir().join("rec"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[test]
fn pilot_kill9_then_continue_reattaches_to_live_workers_without_rerunning() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(4);
    let exp = s.experiment(&["a"], 1, 4, "");
    recording_agent(&s, "3", SUCCESS);
    let mut child = spawn_run(&s, &exp, "2");
    let run_dir = wait_run_dir(&s);
    let id = run_id(&run_dir);
    wait_started(&s, 4);
    child.kill().unwrap(); // SIGKILL: no cleanup, the worker jobs run on
    wait_within(&mut child, COMMAND_LIMIT, "labj run --slurm-workers 2");
    let first: BTreeSet<String> = jobs_of(&run_dir).into_iter().map(|(_, j, _)| j).collect();
    let alive: BTreeSet<String> = live_workers(&id).into_iter().collect();
    assert_eq!(first, alive, "the worker jobs outlive the coordinator");

    let sampler = Sampler::start(&id);
    let out = s.labj(&["continue", run_dir.to_str().unwrap(), "--json"]);
    let most = sampler.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        most <= 2,
        "at most 2 worker jobs at once across sessions, saw {most}"
    );
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 4);
    assert_eq!(proj.aggregates.overall.worker_lost, 0);
    let events = read_events(&run_dir);
    assert!(!events
        .iter()
        .any(|e| matches!(e.event, Event::WorkerLost(_))));
    let commits = slot_commits(&events);
    assert!(
        commits.values().all(|n| *n == 1),
        "never double-committed: {commits:?}"
    );
    for r in records(&s) {
        assert_eq!(starts(&s, &r.trial), 1, "{} ran more than once", r.trial);
    }
    let reattached: BTreeSet<String> = jobs_of(&run_dir)
        .into_iter()
        .filter(|(_, _, a)| a == "reattached")
        .map(|(_, j, _)| j)
        .collect();
    assert_eq!(
        reattached, first,
        "continue reattached to the first session's workers"
    );
    wait_no_workers(&id, Duration::from_secs(20));
}

#[test]
fn pilot_pause_stops_the_agent_and_resume_finishes_it() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    recording_agent(&s, "2", SUCCESS);
    let mut child = spawn_run(&s, &exp, "1");
    let run_dir = wait_run_dir(&s);
    let started = wait_started(&s, 2);
    let run = run_dir.to_str().unwrap();
    let out = s.labj(&["pause", run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Paused means stopped: the agents (2 s) do not finish while paused.
    std::thread::sleep(Duration::from_secs(4));
    for t in &started {
        let rec = std::fs::read_to_string(s.dir().join("rec").join(t)).unwrap();
        assert!(!rec.contains("end"), "{t} ran on while paused");
    }
    let out = s.labj(&["resume", run, "--all", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run --slurm-workers 1");
    assert_eq!(status.code(), Some(0), "{}", run_err(&s));
    assert_eq!(check_journal(&run_dir).aggregates.overall.succeeded, 2);
}

#[test]
fn pilot_per_variant_cap_holds() {
    let _cluster = require_slurm();
    assert_per_variant_cap_holds(&["--slurm-workers", "2"]);
}

#[test]
fn slurm_workers_is_refused_for_other_executors_and_zero() {
    let s = Scratch::new();
    s.tasks(1);
    let exp = s.experiment(&["a"], 1, 1, "");
    recording_agent(&s, "0", SUCCESS);
    let out = s.labj(&["run", "--slurm-workers", "2", exp.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("--slurm-workers") && text(&out).contains("--executor local"),
        "{}",
        text(&out)
    );
    let out = s.labj(&[
        "run",
        "--executor",
        "slurm",
        "--slurm-workers",
        "0",
        exp.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("must be at least 1"), "{}", text(&out));
}

#[test]
fn pilot_cancel_stops_one_trial_and_kill_stops_the_run_and_its_workers() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(3);
    let exp = s.experiment(&["a"], 1, 2, "");
    recording_agent(&s, "30", SUCCESS);
    let mut child = spawn_run(&s, &exp, "1");
    let run_dir = wait_run_dir(&s);
    let id = run_id(&run_dir);
    let started = wait_started(&s, 2);
    let run = run_dir.to_str().unwrap();
    let victim = &started[0];
    let out = s.labj(&["cancel", run, "--trial", victim, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let classification = wait_for(
        Duration::from_secs(30),
        "the cancelled trial to commit",
        || {
            read_events(&run_dir)
                .into_iter()
                .find_map(|e| match e.event {
                    Event::TrialCompleted(c) if c.trial_id == *victim => {
                        Some(c.classification.as_str().to_string())
                    }
                    _ => None,
                })
        },
    );
    assert_eq!(classification, "cancelled");
    // The worker takes the third trial into the freed slot.
    wait_started(&s, 3);
    let out = s.labj(&["kill", run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status = wait_within(&mut child, Duration::from_secs(60), "labj run after kill");
    assert_eq!(status.code(), Some(4), "killed: {}", run_err(&s));
    // No agent ran to its end, and the worker job left with the session.
    for e in std::fs::read_dir(s.dir().join("rec")).unwrap().flatten() {
        let rec = std::fs::read_to_string(e.path()).unwrap();
        assert!(!rec.contains("end"), "{:?} ran to its end", e.path());
    }
    wait_no_workers(&id, Duration::from_secs(30));
    assert_eq!(
        jobs_of(&run_dir)
            .iter()
            .map(|(_, j, _)| j)
            .collect::<BTreeSet<_>>()
            .len(),
        1
    );
}

/// A run's first worker jobs are submitted side by side, not one `sbatch` after another:
/// with an `sbatch` that takes a second to answer (a busy controller), the four workers
/// of a concurrency-8 run are all submitted within a second, where one after another
/// they would take four. Their trials' directories are retired and used again as a
/// local run's are: nothing is left under `trials/` when the run is done.
#[test]
fn pilot_workers_are_submitted_together_and_leave_no_trial_directories() {
    let _cluster = require_slurm();
    let s = Scratch::new();
    s.tasks(24);
    let exp = s.experiment(&["a"], 1, 8, "");
    recording_agent(&s, "0", SUCCESS);
    // `sbatch` on PATH: notes when it was called, waits a second, then submits.
    let bin = s.dir().join("slow-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = s.dir().join("sbatch-calls");
    let real = sh(
        Command::new("sh").args(["-c", "command -v sbatch"]),
        "which sbatch",
    );
    let shim = bin.join("sbatch");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\necho \"$(date +%s%N)\" >> '{}'\nsleep 1\nexec '{}' \"$@\"\n",
            calls.display(),
            real.trim()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = spawn_slurm_run_env(&s, &exp, &["--slurm-workers", "4"], &[("PATH", &path)]);
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run --slurm-workers 4");
    assert_eq!(status.code(), Some(0), "{}", run_err(&s));
    let run_dir = s.the_run();
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 24);

    let mut at: Vec<u128> = std::fs::read_to_string(&calls)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    at.sort();
    let ids: BTreeSet<String> = jobs_of(&run_dir).into_iter().map(|(_, j, _)| j).collect();
    assert_eq!(at.len(), ids.len(), "one sbatch per worker job: {ids:?}");
    assert_eq!(
        at.len(),
        4,
        "8 trials at once, 4 workers of 2 slots: {ids:?}"
    );
    let spread_ms = (at[3] - at[0]) / 1_000_000;
    assert!(
        spread_ms < 900,
        "the four sbatch calls began {spread_ms} ms apart (one after another: >= 3,000)"
    );
    let left: Vec<_> = std::fs::read_dir(run_dir.join("trials"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "trial directories left behind: {left:?}");
    wait_no_workers(&run_id(&run_dir), Duration::from_secs(20));
}
