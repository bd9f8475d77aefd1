//! Ctrl-C on `labj run`: the first SIGINT stops the run like `labj kill` (trials stopped,
//! `run_killed` journaled, exit code 4), and `labj continue` completes it. A hang-up
//! (SIGHUP: the terminal or the ssh session went away) stops it the same way.

mod support;
use std::time::Duration;
use support::*;

#[test]
fn sigint_stops_the_run_gracefully_and_continue_completes_it() {
    stops_gracefully_and_continue_completes_it(libc::SIGINT);
}

#[test]
fn sighup_stops_the_run_gracefully_like_sigint() {
    stops_gracefully_and_continue_completes_it(libc::SIGHUP);
}

fn stops_gracefully_and_continue_completes_it(signal: i32) {
    let s = Scratch::new();
    s.tasks(6);
    s.script(
        "agent.sh",
        &format!("echo $$ > \"$AGENTLAB_TRIAL_DIR/agent.pid\"\nsleep 2\n{SUCCESS}"),
    );
    let exp = s.experiment(&["a"], 1, 3, "");
    let child = s
        .labj_cmd(&["run", exp.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for(Duration::from_secs(20), "three agents running", || {
        let run = s.first_run()?;
        let pids: Vec<_> = (0..3)
            .map(|i| run.join(format!("trials/trial_{i:06}/agent.pid")))
            .filter(|p| p.exists())
            .collect();
        (pids.len() == 3).then_some(run)
    });
    let pids: Vec<i32> = (0..3)
        .map(|i| read_pid(&run.join(format!("trials/trial_{i:06}/agent.pid"))))
        .collect();
    // SAFETY: kill(2) on our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{}",
        text(&out)
    );
    for pid in pids {
        let alive = pid_running(pid);
        assert!(!alive, "agent {pid} survived the interrupt");
    }
    let proj = check_journal(&run);
    assert_eq!(proj.control.status.as_str(), "killed");
    assert_eq!(
        proj.control.active_trials.len(),
        3,
        "stopped trials stay active for continue"
    );
    assert_eq!(events_of(&s, &run, "run_killed").len(), 1);

    let out = s.labj(&[
        "continue",
        run.to_str().unwrap(),
        "--no-retry-lost",
        "--fail-on-infra-error",
        "100%",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let proj = check_journal(&run);
    assert_eq!(proj.progress.next_commit_idx, 6);
    assert_eq!(proj.aggregates.overall.worker_lost, 3);
    assert_eq!(proj.aggregates.overall.succeeded, 3);
}
