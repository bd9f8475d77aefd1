//! The after-attempt sweep when labj is a child subreaper (what `labj run` with the
//! local backend makes it): escaped processes come back to this process when their
//! parent dies, and the trial kills and reaps them before it reports, without a scan of
//! `/proc`. Its own test binary: the subreaper setting is for the whole process.

mod executor_support;

use exec::executor::{execute_trial, TrialControl};
use executor_support::{sh, spec};
use journal::event::Classification;
use std::time::{Duration, Instant};

/// No process with this pid any more: dead *and* reaped (a zombie still has its entry).
fn gone(pid: i32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn read_pid(path: &std::path::Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every case in one test: they share the process-wide setting, and run one after the
/// other so one case's processes are never mistaken for another's.
#[test]
fn escaped_processes_are_killed_and_reaped_before_the_trial_reports() {
    assert!(
        exec::isolation::enable_child_subreaper(),
        "this kernel refuses PR_SET_CHILD_SUBREAPER or has no /proc/<pid>/task/<tid>/children"
    );

    // 1. A `setsid` daemon that forked a child of its own, and an orphan left in the
    //    agent's group: all three are gone (not even zombies) when execute_trial returns.
    let tmp = tempfile::tempdir().unwrap();
    let script = "d=\"$AGENTLAB_TRIAL_DIR\"; \
        sleep 300 & echo $! > \"$d/orphan.pid\"; \
        setsid sh -c 'sleep 300 & echo $! > \"$0/inner.pid\"; echo $$ > \"$0/daemon.tmp\"; mv \"$0/daemon.tmp\" \"$0/daemon.pid\"; exec sleep 300' \"$d\" </dev/null >/dev/null 2>&1 & \
        while [ ! -s \"$d/daemon.pid\" ]; do sleep 0.01; done; \
        printf '{\"outcome\":\"success\"}' > \"$AGENTLAB_RESULT_PATH\"";
    let s = spec(tmp.path(), sh(script));
    let started = Instant::now();
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Success, "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    for name in ["orphan.pid", "daemon.pid", "inner.pid"] {
        let pid = read_pid(&s.trial_dir.join(name));
        assert!(
            gone(pid),
            "{name} {pid} is still there after its trial reported"
        );
    }

    // 2. A process of another trial of the same run, re-parented to this process, is
    //    left alone: the sweep kills this execution's processes only.
    let other = tempfile::tempdir().unwrap();
    let pidfile = other.path().join("other.pid");
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > \"$0\"",
            pidfile.to_str().unwrap(),
        ])
        .env("AGENTLAB_RUN_ID", "run_1")
        .env("AGENTLAB_TRIAL_ID", "t_other")
        .status()
        .unwrap();
    assert!(status.success());
    let other_pid = read_pid(&pidfile);
    let tmp2 = tempfile::tempdir().unwrap();
    let s2 = spec(
        tmp2.path(),
        sh("setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > \"$AGENTLAB_TRIAL_DIR/mine.pid\"; \
            printf '{\"outcome\":\"success\"}' > \"$AGENTLAB_RESULT_PATH\""),
    );
    let out = execute_trial(&s2, &TrialControl::new());
    assert_eq!(out.classification, Classification::Success, "{out:?}");
    let mine = read_pid(&s2.trial_dir.join("mine.pid"));
    assert!(gone(mine), "the trial's own daemon {mine} survived it");
    assert!(
        !gone(other_pid),
        "another trial's process {other_pid} was killed by this trial's sweep"
    );
    // SAFETY: kill(2) of the process this test started; it is our child (re-parented).
    unsafe { libc::kill(other_pid, libc::SIGKILL) };
    // SAFETY: waitpid of our own child.
    unsafe { libc::waitpid(other_pid, std::ptr::null_mut(), 0) };

    // 3. A timed-out agent whose daemon escaped: the daemon is gone as well.
    let tmp3 = tempfile::tempdir().unwrap();
    let mut s3 = spec(
        tmp3.path(),
        sh("setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > \"$AGENTLAB_TRIAL_DIR/d.pid\"; sleep 300"),
    );
    s3.agent.timeout_ms = 300;
    let out = execute_trial(&s3, &TrialControl::new());
    assert_eq!(out.classification, Classification::Timeout, "{out:?}");
    let d = read_pid(&s3.trial_dir.join("d.pid"));
    assert!(gone(d), "the timed-out trial's daemon {d} survived it");
}
