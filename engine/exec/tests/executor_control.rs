//! Timeouts, pause/resume and stop, observed on real process groups.

mod executor_support;

use exec::executor::{execute_trial, TrialControl};
use executor_support::{agent, pid_dead, sh, spec};
use journal::event::Classification;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the trial on its own thread; returns the handle and the control.
fn start(
    s: model::trial::TrialSpec,
) -> (
    std::thread::JoinHandle<model::trial::TrialOutcome>,
    Arc<TrialControl>,
) {
    let control = TrialControl::new();
    let c = control.clone();
    (std::thread::spawn(move || execute_trial(&s, &c)), control)
}

/// Waits until `path` exists (the agent got going).
fn wait_for(path: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the file at `path` holds at least `n` complete lines.
fn wait_lines(path: &std::path::Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(path)
        .unwrap_or_default()
        .matches('\n')
        .count()
        < n
    {
        assert!(
            Instant::now() < deadline,
            "{} never reached {n} lines",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Generous bounds: on a loaded 2-core machine a shell may take seconds to get a slice.
fn wait_dead(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pid_dead(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The pid in `path`, waiting (10 s at most) for the shell that creates the file before
/// it writes the number into it.
fn read_pid(path: &std::path::Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Ok(pid) = text.trim().parse() {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "{} holds no pid: {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn executor_timeout_kills_the_grandchild() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), agent("grandchild_sleeper.sh"));
    s.agent.timeout_ms = 500;
    let started = Instant::now();
    let out = execute_trial(&s, &TrialControl::new());
    let took = started.elapsed();
    assert_eq!(out.classification, Classification::Timeout, "{out:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(out.error.unwrap().contains("500 ms"));
    let pid = read_pid(&s.trial_dir.join("grandchild.pid"));
    assert!(wait_dead(pid), "grandchild {pid} survived the timeout");
}

#[test]
fn executor_orphans_are_killed_after_a_clean_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "sleep 30 & echo $! > \"$AGENTLAB_TRIAL_DIR/orphan.pid\"; \
                  printf '{\"outcome\":\"success\"}' > \"$AGENTLAB_RESULT_PATH\"";
    let s = spec(tmp.path(), sh(script));
    let started = Instant::now();
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Success);
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid = read_pid(&s.trial_dir.join("orphan.pid"));
    assert!(wait_dead(pid), "orphan {pid} outlived its trial");
}

#[test]
fn executor_pause_excludes_paused_time_from_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), agent("ticker.sh"));
    // ~16 ticks of 50 ms ≈ 0.85 s of running (more on a loaded machine: the budget
    // leaves 2 s of slack); plus 3.5 s paused > 3 s wall budget.
    s.agent.timeout_ms = 3000;
    let ticks = s.trial_dir.join("ticks.txt");
    let wall = Instant::now();
    let (handle, control) = start(s);
    // A few ticks before the pause, so the gap it leaves shows between two of them.
    wait_lines(&ticks, 3);
    control.pause().expect("pause a running agent");
    assert!(control.is_paused());
    assert!(control.pause().is_err(), "double pause must be refused");
    std::thread::sleep(Duration::from_millis(3500));
    control.resume().expect("resume");
    assert!(!control.is_paused());
    assert!(
        control.resume().is_err(),
        "resume when not paused must be refused"
    );
    let out = handle.join().unwrap();
    assert!(
        wall.elapsed() > Duration::from_millis(3000),
        "wall time beyond the budget"
    );
    assert_eq!(out.classification, Classification::Success, "{out:?}");

    let stamps: Vec<u128> = std::fs::read_to_string(&ticks)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let max_gap = stamps.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        max_gap >= 3_000_000_000,
        "the agent kept running while paused (max gap {max_gap} ns)"
    );
    // duration excludes the ~3.5 s pause.
    assert!(out.duration_ms < 3000, "duration {} ms", out.duration_ms);
    assert!(out.attempts[0].duration_ms < 3000);

    // A finished trial runs no agent any more: a pause that reaches it before its
    // completion is handled is accepted, and freezes nothing.
    control.pause().expect("pause of a finished trial");
    assert!(control.is_paused());
}

#[test]
fn executor_pause_holds_a_trial_before_start_and_is_refused_while_grading() {
    // Paused while queued (dispatched ahead, not started): accepted, and the trial starts
    // only once resumed; its paused time is not part of its duration.
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(tmp.path(), agent("ok.sh"));
    let control = TrialControl::new();
    control.pause().unwrap();
    let c = control.clone();
    let attempt = s.trial_dir.join("attempt_1");
    let handle = std::thread::spawn(move || execute_trial(&s, &c));
    std::thread::sleep(Duration::from_millis(400));
    assert!(!attempt.exists(), "a paused trial must not start");
    control.resume().unwrap();
    let out = handle.join().unwrap();
    assert_eq!(out.classification, Classification::Success, "{out:?}");
    assert!(out.duration_ms < 400, "duration {} ms", out.duration_ms);
    // Once its agent has exited there is nothing to freeze: the pause is accepted (it
    // would hold a next attempt's agent) and the resume releases it.
    control
        .pause()
        .expect("a trial whose agent exited accepts a pause");
    assert!(control.is_paused());
    control.resume().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), agent("ok.sh"));
    s.grader = Some(model::trial::GraderSpec {
        command: sh("touch grading; sleep 2; \
                     printf '{\"schema_version\":\"grade_result_v1\",\"outcome\":\"success\"}' \
                     > \"$AGENTLAB_GRADE_PATH\""),
        required_evidence_classes: Vec::new(),
        contract: Default::default(),
        ..Default::default()
    });
    // The grader's cwd is its own directory of the attempt.
    let marker = s.trial_dir.join("attempt_1/grader/grading");
    let (handle, control) = start(s);
    wait_for(&marker);
    let err = control.pause().unwrap_err();
    assert!(err.contains("grading"), "{err}");
    assert_eq!(
        handle.join().unwrap().classification,
        Classification::Success
    );
}

#[test]
fn executor_stop_cancels_the_trial() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), agent("grandchild_sleeper.sh"));
    s.retry = model::trial::RetrySpec {
        max_attempts: 3,
        retry_on: vec!["cancelled".into(), "timeout".into()],
        max_infra_attempts: None,
    };
    let pidfile = s.trial_dir.join("grandchild.pid");
    let (handle, control) = start(s);
    // The pid itself, not just the file: a stop between the shell's redirection and its
    // `echo` would leave the file empty.
    let grandchild = read_pid(&pidfile);
    let started = Instant::now();
    control.stop("operator cancel");
    let out = handle.join().unwrap();
    // Before the 2 s grace ends: SIGTERM sufficed, no SIGKILL was needed.
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "SIGTERM suffices, took {:?}",
        started.elapsed()
    );
    assert_eq!(out.classification, Classification::Cancelled, "{out:?}");
    assert_eq!(out.attempts.len(), 1, "a cancelled trial is not retried");
    assert!(out.error.unwrap().contains("operator cancel"));
    assert!(wait_dead(grandchild));
}

#[test]
fn executor_stop_escalates_to_sigkill_and_thaws_a_paused_group() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(
        tmp.path(),
        sh("trap '' TERM; touch \"$AGENTLAB_TRIAL_DIR/started\"; sleep 30"),
    );
    let started_marker = s.trial_dir.join("started");
    let (handle, control) = start(s);
    wait_for(&started_marker);
    control.pause().unwrap();
    let started = Instant::now();
    control.stop("kill");
    assert!(!control.is_paused());
    let out = handle.join().unwrap();
    let took = started.elapsed();
    assert_eq!(out.classification, Classification::Cancelled);
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(6000),
        "SIGKILL after the grace period, took {took:?}"
    );
}

#[test]
fn executor_stop_before_start_cancels_without_running() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(tmp.path(), sh("touch \"$AGENTLAB_TRIAL_DIR/ran\""));
    let control = TrialControl::new();
    control.stop("run killed");
    let out = execute_trial(&s, &control);
    assert_eq!(out.classification, Classification::Cancelled);
    assert!(!s.trial_dir.join("ran").exists());
}
