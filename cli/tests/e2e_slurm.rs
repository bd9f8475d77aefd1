//! `labj run|continue --executor slurm` end to end, against the real one-node cluster
//! of `scripts/slurm-dev-cluster.sh` and the real `labj` binary (the jobs run it too).
//! A test that cannot reach the cluster fails, naming it.

mod support;

use journal::event::{Event, StoredEvent};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::recorded::*;
use support::slurm::{assert_per_variant_cap_holds, require_slurm, spawn_slurm_run};
use support::*;

/// The Slurm jobs journaled for a run: (trial id, job id, action), in journal order.
fn jobs_of(run_dir: &Path) -> Vec<(String, String, String)> {
    read_events(run_dir)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::BackendJobSubmitted(b) => Some((b.trial_id, b.job_id, b.action)),
            _ => None,
        })
        .collect()
}

/// `squeue`'s state of one job (`None` once Slurm forgot it).
fn slurm_state(job_id: &str) -> Option<String> {
    let out = output_within(
        Command::new("squeue").args(["-h", "--states=all", "-o", "%T", "-j", job_id]),
        Duration::from_secs(60),
        "squeue",
    );
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The run directory once the background run created its journal.
fn wait_run_dir(s: &Scratch) -> PathBuf {
    wait_for(Duration::from_secs(30), "the run's journal", || {
        s.first_run().filter(|d| journal_has_run(d))
    })
}

/// Wait until `n` jobs are journaled and every agent of them started (its record exists).
fn wait_jobs_running(s: &Scratch, run_dir: &Path, n: usize) -> Vec<(String, String, String)> {
    wait_for(
        Duration::from_secs(60),
        "slurm jobs with agents running",
        || {
            let jobs = jobs_of(run_dir);
            let started = jobs
                .iter()
                .filter(|(t, _, _)| s.dir().join("rec").join(t).is_file())
                .count();
            (jobs.len() >= n && started >= n).then_some(jobs)
        },
    )
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

/// An agent whose score depends on variant and task, so aggregates differ per variant.
fn scoring_agent(s: &Scratch) {
    recording_agent(
        s,
        "0.2",
        r#"n=$(expr "${AGENTLAB_TASK_ID#task_}" + 0)
if [ "$AGENTLAB_VARIANT_ID" = b ] && [ "$n" = 1 ]; then o=failure; sc=0; else o=success; sc=$((n + 1)); fi
printf '{"schema_version":"agent_result_v1","outcome":"%s","metrics":{"score":%s}}' "$o" "$sc" >"$AGENTLAB_RESULT_PATH""#,
    );
}

#[test]
fn slurm_two_variant_run_commits_every_slot_once_and_matches_local() {
    drop(require_slurm()); // these tests may share the cluster
    let s = Scratch::new();
    s.tasks(3);
    let exp = s.experiment(&["a", "b"], 2, 4, "");
    scoring_agent(&s);
    let out = s.labj(&[
        "run",
        "--json",
        "--executor",
        "slurm",
        exp.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let slurm_dir = run_dir_of(&out);
    let local_dir = run_ok(&s, &exp, &["--executor", "local"]);

    let events = read_events(&slurm_dir);
    let commits = slot_commits(&events);
    assert_eq!(commits.len(), 12, "every slot committed: {commits:?}");
    assert!(
        commits.values().all(|n| *n == 1),
        "each exactly once: {commits:?}"
    );
    // One Slurm job per attempt, each journaled with its own job id.
    let jobs = jobs_of(&slurm_dir);
    assert_eq!(jobs.len(), 12, "{jobs:?}");
    let ids: BTreeSet<&str> = jobs.iter().map(|(_, j, _)| j.as_str()).collect();
    assert_eq!(ids.len(), 12, "distinct job ids: {jobs:?}");
    assert!(jobs.iter().all(|(_, _, a)| a == "submitted"));
    // The completions came from the jobs.
    let from_jobs = events
        .iter()
        .filter(|e| matches!(&e.event, Event::TrialCompleted(c) if c.worker_id.starts_with("slurm-job-")))
        .count();
    assert_eq!(from_jobs, 12);

    let slurm = check_journal(&slurm_dir);
    let local = check_journal(&local_dir);
    assert_eq!(
        slurm.aggregates, local.aggregates,
        "aggregates of the Slurm run equal the local run's"
    );
    // The experiment really discriminates: b fails task 1 in both replications.
    assert_eq!(slurm.aggregates.overall.succeeded, 10);
}

#[test]
fn slurm_pause_suspends_jobs_and_resume_finishes_them() {
    drop(require_slurm()); // these tests may share the cluster
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    recording_agent(&s, "3", SUCCESS);
    let mut child = spawn_slurm_run(&s, &exp, &[]);
    let run_dir = wait_run_dir(&s);
    let jobs = wait_jobs_running(&s, &run_dir, 2);
    let run = run_dir.to_str().unwrap();

    let out = s.labj(&["pause", run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (_, job, _) in &jobs {
        assert_eq!(slurm_state(job).as_deref(), Some("SUSPENDED"), "job {job}");
    }
    // Suspended means stopped: the agents do not finish while paused.
    std::thread::sleep(Duration::from_secs(4));
    for (t, job, _) in &jobs {
        let rec = std::fs::read_to_string(s.dir().join("rec").join(t)).unwrap();
        assert!(
            !rec.contains("end"),
            "{t} (job {job}) ran on while suspended"
        );
        assert_eq!(slurm_state(job).as_deref(), Some("SUSPENDED"));
    }
    let out = s.labj(&["resume", run, "--all", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run --executor slurm");
    assert_eq!(
        status.code(),
        Some(0),
        "labj run: {:?}",
        std::fs::read_to_string(s.dir().join("run.err"))
    );
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 2);
    let kinds: Vec<&str> = read_events(&run_dir)
        .iter()
        .map(|e| e.event.kind())
        .collect();
    assert!(kinds.contains(&"run_paused") && kinds.contains(&"resume_requested"));
}

#[test]
fn slurm_coordinator_kill9_then_continue_reattaches_without_rerunning() {
    drop(require_slurm()); // these tests may share the cluster
    let s = Scratch::new();
    s.tasks(4);
    let exp = s.experiment(&["a", "b"], 1, 4, "");
    recording_agent(&s, "3", SUCCESS);
    let mut child = spawn_slurm_run(&s, &exp, &[]);
    let run_dir = wait_run_dir(&s);
    let before = wait_jobs_running(&s, &run_dir, 4);
    child.kill().unwrap(); // SIGKILL: no cleanup, jobs keep running in Slurm
    wait_within(&mut child, COMMAND_LIMIT, "labj run --executor slurm");
    for (_, job, _) in &before {
        let st = slurm_state(job);
        assert!(
            matches!(st.as_deref(), Some("RUNNING" | "COMPLETING" | "COMPLETED")),
            "job {job} after the coordinator died: {st:?}"
        );
    }
    let run = run_dir.to_str().unwrap();
    let insp = s.labj(&["inspect", run]);
    let insp_text = String::from_utf8_lossy(&insp.stdout);
    for (t, job, _) in &before {
        assert!(
            insp_text.contains(&format!("{t} job {job}")),
            "inspect lists {t} job {job}:\n{insp_text}"
        );
    }

    let out = s.labj(&["continue", run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let proj = check_journal(&run_dir);
    assert_eq!(proj.aggregates.overall.succeeded, 8);
    assert_eq!(proj.aggregates.overall.worker_lost, 0);
    // Every agent ran exactly once: nothing finished or running was re-run.
    let recs = records(&s);
    assert_eq!(recs.len(), 8);
    for t in recs.iter().map(|r| &r.trial) {
        let text = std::fs::read_to_string(s.dir().join("rec").join(t)).unwrap();
        assert_eq!(text.matches("start").count(), 1, "{t} ran more than once");
    }
    let jobs = jobs_of(&run_dir);
    let reattached: BTreeSet<&str> = jobs
        .iter()
        .filter(|(_, _, a)| a == "reattached")
        .map(|(_, j, _)| j.as_str())
        .collect();
    let first: BTreeSet<&str> = before.iter().map(|(_, j, _)| j.as_str()).collect();
    assert_eq!(
        reattached, first,
        "continue reattached to the first session's jobs"
    );
    assert_eq!(jobs.iter().filter(|(_, _, a)| a == "submitted").count(), 8);
}

#[test]
fn slurm_job_cancelled_from_outside_is_an_infrastructure_loss() {
    drop(require_slurm()); // these tests may share the cluster
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    recording_agent(&s, "3", SUCCESS);
    let mut child = spawn_slurm_run(&s, &exp, &[]);
    let run_dir = wait_run_dir(&s);
    let jobs = wait_jobs_running(&s, &run_dir, 2);
    let (victim_trial, victim_job, _) = jobs[0].clone();
    let out = output_within(
        Command::new("scancel").arg(&victim_job),
        Duration::from_secs(60),
        "scancel",
    );
    assert!(out.status.success(), "scancel: {}", text(&out));
    wait_within(&mut child, COMMAND_LIMIT, "labj run --executor slurm");
    let err = std::fs::read_to_string(s.dir().join("run.err")).unwrap();
    let events = read_events(&run_dir);
    // The loss is recorded as worker_lost: a `worker_lost` event (infra-retry hook) or a
    // completion classified worker_lost, naming the job and the Slurm state.
    let lost: Vec<Value> = events
        .iter()
        .filter(|e| e.event.trial_id() == Some(victim_trial.as_str()))
        .filter(|e| match &e.event {
            Event::WorkerLost(_) => true,
            Event::TrialCompleted(c) => c.classification.as_str() == "worker_lost",
            _ => false,
        })
        .map(|e| e.event.payload_value())
        .collect();
    assert!(!lost.is_empty(), "no worker_lost for {victim_trial}: {err}");
    let why = lost[0]["reason"]
        .as_str()
        .or(lost[0]["error"].as_str())
        .unwrap_or("");
    assert!(
        why.contains(&victim_job) && why.contains("CANCELLED"),
        "{why}"
    );
    let proj = check_journal(&run_dir);
    // Never a verdict on the agent.
    assert_eq!(proj.aggregates.overall.failed, 0, "{err}");
    let starts = std::fs::read_to_string(s.dir().join("rec").join(&victim_trial))
        .unwrap()
        .matches("start")
        .count();
    let victim_jobs = jobs_of(&run_dir)
        .into_iter()
        .filter(|(t, _, _)| *t == victim_trial)
        .count();
    if lost.iter().any(|l| l["retry"] == true) {
        // Re-run under the infra-retry budget: a second job ran the agent again and the
        // slot committed its real result.
        assert_eq!(starts, 2, "{victim_trial} re-run once");
        assert_eq!(victim_jobs, 2, "a new Slurm job for the re-run");
        assert_eq!(proj.aggregates.overall.succeeded, 2, "{err}");
    } else {
        assert_eq!(starts, 1);
        assert_eq!(proj.aggregates.overall.worker_lost, 1, "{err}");
    }
}

#[test]
fn slurm_per_variant_cap_holds() {
    drop(require_slurm()); // these tests may share the cluster
    assert_per_variant_cap_holds(&[]);
}
