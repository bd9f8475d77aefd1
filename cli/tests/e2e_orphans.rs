//! Agents outlive a SIGKILLed labj (nothing can stop them at that instant without
//! slowing every spawn); `labj continue` finds them by their AGENTLAB_RUN_ID /
//! AGENTLAB_TRIAL_ID environment and stops them before recording worker_lost.

mod support;
use std::time::Duration;
use support::crash::*;
use support::*;

fn alive(pid: i32) -> bool {
    pid_running(pid)
}

#[test]
fn continue_stops_agents_left_running_by_a_killed_session() {
    let s = Scratch::new();
    s.tasks(4);
    // The agent and its background grandchild both record their pids, then linger.
    s.script(
        "agent.sh",
        &format!(
            "sleep 60 & echo $! > \"$AGENTLAB_TRIAL_DIR/child.pid\"\necho $$ > \"$AGENTLAB_TRIAL_DIR/agent.pid\"\n[ -e \"$AGENTLAB_TRIAL_DIR/../../done\" ] || sleep 60\n{SUCCESS}"
        ),
    );
    let exp = s.experiment(&["a"], 1, 2, "");
    let child = spawn_quiet(s.labj_cmd(&["run", exp.to_str().unwrap()]));
    let run = wait_for(Duration::from_secs(20), "two agents running", || {
        let run = s.first_run()?;
        let ok = (0..2).all(|i| {
            let d = run.join(format!("trials/trial_{i:06}"));
            d.join("agent.pid").exists() && d.join("child.pid").exists()
        });
        ok.then_some(run)
    });
    let mut pids = Vec::new();
    for i in 0..2 {
        let d = run.join(format!("trials/trial_{i:06}"));
        pids.push(read_pid(&d.join("agent.pid")));
        pids.push(read_pid(&d.join("child.pid")));
    }
    let mut child = child;
    child.kill().unwrap(); // SIGKILL: no cleanup at all
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        pids.iter().all(|p| alive(*p)),
        "agents outlive the killed labj"
    );

    // Later trials finish at once.
    std::fs::write(run.join("done"), "").unwrap();
    let out = s.labj(&[
        "continue",
        run.to_str().unwrap(),
        "--no-retry-lost",
        "--fail-on-infra-error",
        "100%",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // Each stale trial had three processes: agent.sh, its background `sleep`, and
    // the `sleep` it waits on.
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("stopped 6 agent process(es) the previous session left running"),
        "{}",
        text(&out)
    );
    wait_for(Duration::from_secs(5), "orphans gone", || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
    let proj = check_journal(&run);
    assert_eq!(proj.progress.next_commit_idx, 4);
    assert_eq!(proj.aggregates.overall.worker_lost, 2);
}
