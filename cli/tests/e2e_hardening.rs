//! Hardening: a session always ends within bounded time (`labj kill`, SIGTERM), whatever
//! a worker does; finished runs stay readable from read-only storage; a run nobody
//! drives never reads as `running`.

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// Test-only fault injection: every worker hangs after its trial (see
/// `FAULT_WORKER_HANG_ENV` in `engine/src/backend/local.rs`).
const HANG_ENV: &str = "LABJ_FAULT_WORKER_HANG";

/// The kill deadline of the coordinator (10 s) plus room for a loaded machine.
const BOUND: Duration = Duration::from_secs(40);

fn start_stuck_run(s: &Scratch, tasks: usize) -> (Child, std::path::PathBuf) {
    s.tasks(tasks);
    // The agent leaves a marker once it ran; the worker then hangs (fault injection).
    s.script(
        "agent.sh",
        &format!("touch \"$AGENTLAB_TRIAL_DIR/ran\"\n{SUCCESS}"),
    );
    let exp = s.experiment(&["a"], 1, 2, "");
    let child = s
        .labj_cmd(&["run", exp.to_str().unwrap()])
        .env(HANG_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for(Duration::from_secs(30), "both agents ran", || {
        let run = s.first_run()?;
        (0..2)
            .all(|i| run.join(format!("trials/trial_{i:06}/ran")).exists())
            .then_some(run)
    });
    (child, run)
}

fn wait_bounded(child: &mut Child, bound: Duration) -> Option<i32> {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        assert!(
            t.elapsed() < bound,
            "labj run did not end within {bound:?} of the kill"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `labj kill` of a run whose workers are stuck outside their agents ends the session
/// (exit 4) within the kill deadline; a second kill sent meanwhile is answered with the
/// same end instead of "the run is being killed"; `continue` then finishes the run.
#[test]
fn kill_ends_a_session_whose_workers_are_stuck() {
    let s = Scratch::new();
    let (mut child, run) = start_stuck_run(&s, 3);
    let arg = run.to_str().unwrap().to_string();
    let t = Instant::now();
    let second = {
        let dir = s.dir().to_path_buf();
        let runs = s.runs_dir();
        let arg = arg.clone();
        let journal = run.clone();
        std::thread::spawn(move || {
            // Sent once the first kill is under way (its stop_requested is journaled).
            wait_for(Duration::from_secs(30), "the first kill journaled", || {
                read_events(&journal)
                    .iter()
                    .any(|e| e.event.kind() == "stop_requested")
                    .then_some(())
            });
            labj_at(&dir, &runs, &["kill", &arg]).output().unwrap()
        })
    };
    let first = s.labj(&["kill", &arg]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(text(&first).contains("kill: killed"), "{}", text(&first));
    let second = second.join().unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(text(&second).contains("killed"), "{}", text(&second));
    assert_eq!(wait_bounded(&mut child, BOUND), Some(4));
    let took = t.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("did not stop within 10s"), "{stderr}");
    eprintln!("kill with stuck workers ended the session in {took:?}");
    let proj = check_journal(&run);
    assert_eq!(proj.control.status.as_str(), "killed");
    let out = s.labj(&["continue", &arg, "--fail-on-infra-error", "100%"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let proj = check_journal(&run);
    assert_eq!(proj.control.status.as_str(), "completed");
    assert_eq!(proj.progress.next_commit_idx, 3);
}

/// SIGTERM (a graceful kill) ends a session whose workers are stuck within the same
/// bound, and the journal records the kill.
#[test]
fn sigterm_ends_a_session_whose_workers_are_stuck() {
    let s = Scratch::new();
    let (mut child, run) = start_stuck_run(&s, 2);
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait_bounded(&mut child, BOUND), Some(4));
    let proj = check_journal(&run);
    assert_eq!(proj.control.status.as_str(), "killed");
    assert_eq!(events_of(&s, &run, "run_killed").len(), 1);
}

/// A run whose labj was SIGKILLed reads "not live", not just `running`.
#[test]
fn status_of_a_crashed_run_says_it_is_not_live() {
    let s = Scratch::new();
    s.tasks(2);
    let release = s.dir().join("release");
    s.script(
        "agent.sh",
        &format!("[ -e '{}' ] || sleep 30\n{SUCCESS}", release.display()),
    );
    let exp = s.experiment(&["a"], 1, 2, "");
    let mut child = s
        .labj_cmd(&["run", exp.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run = wait_for(Duration::from_secs(30), "two trials dispatched", || {
        let run = s.first_run()?;
        (0..2)
            .all(|i| run.join(format!("trials/trial_{i:06}")).exists())
            .then_some(run)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let arg = run.to_str().unwrap();
    let out = s.labj(&["status", arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not live: the journal says running"),
        "{}",
        text(&out)
    );
    // `continue` stops the orphaned agents and finishes the run (released at once).
    std::fs::write(&release, b"").unwrap();
    let out = s.labj(&["continue", arg, "--fail-on-infra-error", "100%"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = s.labj(&["status", arg]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("not live"),
        "{}",
        text(&out)
    );
}

/// A finished run on read-only storage (a read-only bind mount, so even root cannot
/// write) is readable by every read command.
#[test]
fn finished_run_on_read_only_storage_is_readable() {
    let bwrap = std::process::Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        bwrap,
        "bubblewrap (bwrap) is required by this test; scripts/setup.d/41-bubblewrap.sh installs it"
    );
    let s = Scratch::new();
    s.tasks(3);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a", "b"], 1, 2, "");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    let arg = run.to_str().unwrap();
    let ro = |args: &[&str]| {
        std::process::Command::new("bwrap")
            .args([
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--",
            ])
            .arg(labj_bin())
            .arg("--runs-dir")
            .arg(s.runs_dir())
            .args(args)
            .current_dir(s.dir())
            .env_remove(FAULT_KILL_ENV)
            .output()
            .unwrap()
    };
    // The storage really is read-only inside.
    let touch = std::process::Command::new("bwrap")
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--",
            "touch",
        ])
        .arg(run.join("probe"))
        .output()
        .unwrap();
    assert!(!touch.status.success(), "the bind mount is writable");
    for (args, expect) in [
        (vec!["status", arg], "completed"),
        (vec!["verify", arg], "ok:"),
        (
            vec!["events", arg, "--kind", "run_completed"],
            "run_completed",
        ),
        (vec!["inspect", arg], "completed"),
        (vec!["replay", arg, "--until", "3"], "run"),
    ] {
        let out = ro(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} on read-only storage: {}",
            text(&out)
        );
        assert!(text(&out).contains(expect), "{args:?}: {}", text(&out));
    }
    assert!(!Path::new(&run.join("probe")).exists());
    check_journal(&run);
}

/// `--durable` reaches the blob store: the run's blob directory is marked, every blob
/// is stored (and fsynced) and `verify` re-hashes them all.
#[test]
fn durable_run_marks_and_verifies_its_blobs() {
    let s = Scratch::new();
    s.tasks(2);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 2, "");
    let out = s.labj(&["run", "--durable", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    assert!(run.join("blobs/.durable").exists());
    let out = s.labj(&["verify", run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_journal(&run);
}

/// The workspace scan after an attempt has a deadline: past it the trial is an
/// infrastructure fault naming the deadline (never a verdict), not a worker held forever.
#[test]
fn post_processing_deadline_makes_an_infra_fault() {
    let s = Scratch::new();
    s.tasks(1);
    s.script(
        "agent.sh",
        &format!("mkdir -p a/b && touch a/b/c\n{SUCCESS}"),
    );
    let exp = s.experiment(&["a"], 1, 1, "");
    let out = s
        .labj_cmd(&["run", exp.to_str().unwrap(), "--no-retry-lost"])
        .env("LABJ_POST_PROCESS_DEADLINE_MS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let run = s.the_run();
    let done = events_of(&s, &run, "trial_completed");
    assert_eq!(done.len(), 1);
    let e = &done[0]["payload"];
    assert_eq!(e["classification"], "disk_error", "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("post-processing deadline"),
        "{e}"
    );
    let proj = check_journal(&run);
    assert_eq!(proj.aggregates.overall.infra, 1);
    assert_eq!(proj.aggregates.overall.scored(), 0);
}
