//! Remote faults that used to hang a run forever, end to end on loopback: real
//! `labj worker serve` processes, real coordinators, real journals. Every coordinator
//! here is bounded in time, so a hang fails the test instead of stalling the suite.

mod support;

use journal::event::Event;
use std::time::Duration;
use support::remote::{RewritingProxy, Worker, TOKEN, TOKEN_ENV};
use support::*;

fn remote_run(s: &Scratch, w: &Worker) -> std::process::Command {
    let mut c = s.labj_cmd(&[
        "run",
        "experiment.yaml",
        "--executor",
        "remote",
        "--remote-token-env",
        TOKEN_ENV,
        "--remote-endpoint",
        &w.url,
    ]);
    c.env(TOKEN_ENV, TOKEN);
    c
}

/// An agent program that cannot be spawned on the worker (a path under the trial's
/// workspace that no task stages) is an infrastructure fault: each attempt is journaled
/// `worker_lost … retry: true` and dispatched again under a new ticket. The re-run's
/// completion used to carry the lost attempt's delivery key and be dropped as a
/// duplicate, leaving both slots "running" forever; the key now names the attempt, so
/// after the retry budget both slots commit as `spawn_failure`, as a local run does.
#[test]
fn a_retried_remote_spawn_failure_commits_instead_of_hanging() {
    let s = Scratch::new();
    s.tasks(2);
    s.experiment(&["base"], 1, 2, "");
    let y = std::fs::read_to_string(s.dir().join("experiment.yaml")).unwrap();
    s.write(
        "experiment.yaml",
        &y.replace(
            "command: [\"./agent.sh\"]",
            "command: [\"${AGENTLAB_WORKSPACE_DIR}/solve.sh\"]",
        ),
    );
    let w = Worker::start(&s.dir().join("w"), 2, &[]);
    let out = output_within(
        &mut remote_run(&s, &w),
        Duration::from_secs(120),
        "remote run of an unspawnable agent",
    );
    // Exit 3: every trial died of an infrastructure fault (over --fail-on-infra-error 0%).
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let run = s.the_run();
    check_journal(&run);
    let slots = committed_slots(&run);
    assert_eq!(slots.len(), 2, "{slots:?}");
    for (_, status, class) in &slots {
        assert_eq!(
            (status.as_str(), class.as_str()),
            ("failed", "spawn_failure"),
            "{slots:?}"
        );
    }
    let (mut retried, mut dropped) = (0, Vec::new());
    for e in read_events(&run) {
        match e.event {
            Event::WorkerLost(l) if l.retry => retried += 1,
            Event::CompletionDropped(d) => dropped.push(d.reason),
            _ => {}
        }
    }
    // Default budget: 3 dispatches per slot, the first two retried.
    assert_eq!(retried, 4, "two retries per slot");
    assert!(dropped.is_empty(), "no completion dropped: {dropped:?}");
}

/// A worker killed and started again on the same address and work dir (a supervisor's
/// `Restart=always`) answers health and polls at once, but holds none of the tickets of
/// the process that died. The coordinator used to wait for them forever; it now sees the
/// new `instance_id` in the first poll answer, reports the in-flight trials lost and
/// re-runs them on the restarted worker. Silence detection is set far away
/// (`LABJ_REMOTE_LOST_AFTER_MS`) so only the identity check can find it.
#[test]
fn a_worker_restarted_on_the_same_port_is_noticed_and_its_trials_rerun() {
    let s = Scratch::new();
    let marks = s.dir().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    s.script(
        "agent.sh",
        &format!(
            "MARKS={}\nif [ ! -e \"$MARKS/first_$AGENTLAB_TRIAL_ID\" ]; then echo $$ > \"$MARKS/pgid_$AGENTLAB_TRIAL_ID\"; touch \"$MARKS/first_$AGENTLAB_TRIAL_ID\"; sleep 30; fi\n{SUCCESS}",
            marks.display()
        ),
    );
    s.tasks(2);
    s.experiment(&["base"], 1, 2, "");
    let work = s.dir().join("w");
    let mut w = Worker::start(&work, 2, &[]);
    let mut coord = remote_run(&s, &w)
        .env("LABJ_REMOTE_LOST_AFTER_MS", "600000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for(Duration::from_secs(60), "run created", || s.first_run());
    wait_for(Duration::from_secs(60), "both trials started", || {
        let firsts = std::fs::read_dir(&marks)
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("first_"))
            .count();
        (firsts == 2).then_some(())
    });
    let addr = w.addr.clone();
    w.kill9();
    // The agents of the killed worker's trials live on as orphans (each leads its own
    // process group): end them, as the machine's reboot or cgroup would.
    for e in std::fs::read_dir(&marks).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("pgid_") {
            let pgid = read_pid(&e.path());
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
    let w2 = Worker::start_on(&work, &addr, 2, &[]);
    let status = wait_within(&mut coord, Duration::from_secs(120), "coordinator");
    let out = coord.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(0), "{}", text(&out));
    check_journal(&run);
    let slots = committed_slots(&run);
    assert_eq!(slots.len(), 2, "{slots:?}");
    assert!(
        slots.iter().all(|(_, st, _)| st == "completed"),
        "{slots:?}"
    );
    let mut lost = Vec::new();
    let mut notices = Vec::new();
    for e in read_events(&run) {
        match e.event {
            Event::WorkerLost(l) => lost.push(l.reason),
            Event::BackendWarning(b) if b.code == "remote_worker_restarted" => {
                notices.push(b.message)
            }
            _ => {}
        }
    }
    assert_eq!(lost.len(), 2, "{lost:?}");
    assert!(lost.iter().all(|r| r.contains("restarted")), "{lost:?}");
    assert_eq!(notices.len(), 1, "{notices:?}");
    drop(w2);
}

/// A worker that does not share the coordinator's filesystem (here: `labj worker serve`
/// in a mount namespace where the experiment directory is an empty tmpfs) still runs
/// `./agent.sh` and `["sh", "agent.sh"]`: the files are shipped by content although the
/// loader made the tokens absolute, and the worker points the tokens at its copies. They
/// used to be left out of the submit: the first form could not be spawned, the second
/// was scored `agent_exit_nonzero` for a file that was never sent.
#[test]
fn agent_files_travel_to_a_worker_that_does_not_share_the_coordinators_paths() {
    support::iso::require_bwrap();
    let s = Scratch::new();
    s.script("agent.sh", SUCCESS);
    s.tasks(2);
    s.experiment(&["base", "sh_form"], 1, 2, "");
    let y = std::fs::read_to_string(s.dir().join("experiment.yaml")).unwrap();
    s.write(
        "experiment.yaml",
        &y.replace(
            "    bindings: {name: sh_form}\n",
            "    bindings: {name: sh_form}\n    runtime_overrides:\n      agent:\n        command: [\"sh\", \"agent.sh\"]\n",
        ),
    );
    let elsewhere = tempfile::tempdir_in("/var/tmp").unwrap();
    let exp_dir = s.dir().to_str().unwrap().to_string();
    let wrapper = [
        "bwrap",
        "--dev-bind",
        "/",
        "/",
        "--tmpfs",
        exp_dir.as_str(),
        "--die-with-parent",
        "--",
    ];
    let w = Worker::start_wrapped(&wrapper, &elsewhere.path().join("w"), "127.0.0.1:0", 2, &[]);
    let out = output_within(
        &mut remote_run(&s, &w),
        Duration::from_secs(120),
        "remote run on a worker without the experiment directory",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_all_success(&s.the_run(), 4);
}

/// An on-path proxy rewrites the worker's poll answers (`"failure"` → `"success"`) of a
/// worker serving without a token (`--insecure-no-auth`: no completion MAC, so nothing
/// authenticates the answer; with a token the coordinator refuses the rewritten
/// completions, see `e2e_remote_tls.rs`): the coordinator journals success, but the
/// agent's own `result.json` (a digest-checked blob fetched from the worker) says
/// failure. `labj verify` used to say ok; it checks every journaled verdict against its
/// stored result and grade and names the contradiction.
#[test]
fn verify_names_verdicts_rewritten_on_the_wire() {
    let s = Scratch::new();
    s.script(
        "agent.sh",
        r#"printf '{"schema_version":"agent_result_v1","outcome":"failure","metrics":{"score":0}}' > "$AGENTLAB_RESULT_PATH""#,
    );
    s.tasks(2);
    s.experiment(&["base"], 1, 2, "");
    let w = Worker::start_no_auth(&s.dir().join("w"), 2);
    let proxy = RewritingProxy::start(&w.addr);
    let out = output_within(
        &mut s.labj_cmd(&[
            "run",
            "experiment.yaml",
            "--executor",
            "remote",
            "--remote-endpoint",
            &proxy.url,
        ]),
        Duration::from_secs(120),
        "remote run through a rewriting proxy",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    // The rewrite reached the journal (what the proxy can do without end-to-end checks).
    let slots = committed_slots(&run);
    assert!(
        slots.iter().all(|(_, _, class)| class == "success"),
        "{slots:?}"
    );
    let v = s.labj(&["verify", run.to_str().unwrap()]);
    let all = text(&v);
    assert_eq!(v.status.code(), Some(1), "{all}");
    assert!(
        all.contains("2 journaled verdict(s) contradict their stored result or grade")
            && all.contains("journaled verdict success (outcome \"success\") but its stored result.json says outcome \"failure\""),
        "{all}"
    );
}
