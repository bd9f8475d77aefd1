//! Job control as a person at a terminal uses it: `labj run` in a session of its own on
//! a real pseudo-terminal (its controlling terminal), keys typed on the master side, so
//! the terminal driver itself sends the signals to labj's foreground process group.
//!
//! Agents run in process groups of their own, so the terminal's signals reach labj
//! alone; these tests show labj passes them on: Ctrl-Z freezes the agents (journaled as a
//! run-wide pause) and stops labj, `fg` (SIGCONT) resumes both; Ctrl-\ stops the run
//! gracefully like Ctrl-C instead of dumping core with the agents left running.

mod support;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;
use support::*;

const CTRL_Z: u8 = 0x1a;
const CTRL_BACKSLASH: u8 = 0x1c;

/// A `labj run` whose controlling terminal is a fresh pseudo-terminal. Dropping it (a
/// failed test) kills labj and every agent group it recorded, stopped or not.
struct OnTerminal {
    child: Child,
    keys: std::fs::File,
    agents: Vec<i32>,
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        for &pid in &self.agents {
            // SAFETY: kill(2) has no memory-safety preconditions; the agents lead
            // their own process groups.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OnTerminal {
    fn start(s: &Scratch, args: &[&str]) -> OnTerminal {
        let (master, slave) = pty::openpty(120);
        let mut cmd = s.labj_cmd(args);
        cmd.env("TERM", "xterm-256color")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(slave));
        // SAFETY: between fork and exec only async-signal-safe calls: setsid(2) makes
        // the child a session leader, TIOCSCTTY makes its stdin (the slave) the
        // session's controlling terminal with the child's group in the foreground.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn labj run on a terminal");
        drop(cmd);
        let keys = std::fs::File::from(master.try_clone().unwrap());
        drain(master);
        OnTerminal {
            child,
            keys,
            agents: Vec::new(),
        }
    }

    fn type_key(&mut self, key: u8) {
        self.keys.write_all(&[key]).unwrap();
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// labj's exit status (bounded).
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        wait_for(Duration::from_secs(60), "labj to exit", || {
            self.child.try_wait().unwrap()
        })
    }
}

/// Reads whatever labj draws on the terminal, so it never blocks on a full buffer.
fn drain(master: OwnedFd) {
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
}

/// 4 tasks at concurrency 2; each agent records its pid, then works for ~3 s in
/// 0.1 s steps, so a frozen agent is one whose process group is stopped.
fn experiment(s: &Scratch) -> PathBuf {
    s.tasks(4);
    s.script(
        "agent.sh",
        &format!(
            "echo $$ > \"$AGENTLAB_TRIAL_DIR/agent.pid\"\ni=0\nwhile [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done\n{SUCCESS}"
        ),
    );
    s.experiment(&["a"], 1, 2, "")
}

/// The run directory and the pids of the first two agents, once both run.
fn two_agents_running(s: &Scratch) -> (PathBuf, Vec<i32>) {
    let run = wait_for(Duration::from_secs(30), "two agents running", || {
        let run = s.first_run()?;
        (0..2)
            .all(|i| run.join(format!("trials/trial_{i:06}/agent.pid")).exists())
            .then_some(run)
    });
    let pids = (0..2)
        .map(|i| read_pid(&run.join(format!("trials/trial_{i:06}/agent.pid"))))
        .collect();
    (run, pids)
}

fn kinds(run: &Path) -> Vec<String> {
    read_events(run)
        .iter()
        .map(|e| e.event.kind().to_string())
        .collect()
}

#[test]
fn ctrl_z_freezes_the_agents_and_stops_labj_and_fg_resumes_both() {
    let s = Scratch::new();
    let exp = experiment(&s);
    let mut t = OnTerminal::start(&s, &["run", exp.to_str().unwrap()]);
    let (run, agents) = two_agents_running(&s);
    t.agents = agents.clone();

    t.type_key(CTRL_Z);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(proc_state(t.pid()) == "T" && agents.iter().all(|&p| group_frozen(p))) {
        assert!(
            std::time::Instant::now() < deadline,
            "labj and both agents not stopped 20 s after Ctrl-Z: labj {:?}, agents' groups {:?}, journal {:?}",
            proc_state(t.pid()),
            agents.iter().map(|&p| group_states(p)).collect::<Vec<_>>(),
            kinds(&run)
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    // Frozen, not merely slow: still stopped a moment later, and journaled as a
    // run-wide pause that names who asked.
    std::thread::sleep(Duration::from_millis(500));
    for &p in &agents {
        assert!(
            group_frozen(p),
            "agent {p} runs on while labj is stopped: {:?}",
            group_states(p)
        );
    }
    let events = read_events(&run);
    let pause = events
        .iter()
        .find_map(|e| match &e.event {
            journal::event::Event::PauseRequested(p) => Some(p.clone()),
            _ => None,
        })
        .expect("pause_requested journaled");
    assert_eq!(pause.label.as_deref(), Some("ctrl-z"));
    assert!(pause.trial_id.is_none(), "a run-wide pause");
    assert!(pause.requested_by.contains("SIGTSTP"), "{pause:?}");
    assert!(kinds(&run).contains(&"run_paused".to_string()));
    assert!(!kinds(&run).contains(&"trial_completed".to_string()));

    // `fg`: the shell continues labj's group; labj resumes the agents it froze.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(t.pid(), libc::SIGCONT) };
    wait_for(Duration::from_secs(20), "the agents running again", || {
        agents.iter().all(|&p| !group_frozen(p)).then_some(())
    });
    let status = t.wait_exit();
    assert_eq!(status.code(), Some(0), "the run completes after fg");
    let proj = check_journal(&run);
    assert_eq!(proj.progress.next_commit_idx, 4);
    assert_eq!(
        proj.aggregates.overall.succeeded, 4,
        "no trial timed out or was lost"
    );
    let k = kinds(&run);
    assert_eq!(k.iter().filter(|k| *k == "resume_requested").count(), 1);
    assert_eq!(k.iter().filter(|k| *k == "run_completed").count(), 1);
}

#[test]
fn ctrl_backslash_stops_the_run_gracefully_like_ctrl_c() {
    let s = Scratch::new();
    let exp = experiment(&s);
    let mut t = OnTerminal::start(&s, &["run", exp.to_str().unwrap()]);
    let (run, agents) = two_agents_running(&s);
    t.agents = agents.clone();

    t.type_key(CTRL_BACKSLASH);
    let status = t.wait_exit();
    assert_eq!(
        status.code(),
        Some(4),
        "stopped like `labj kill` (exit 4), not killed by SIGQUIT: {status:?}"
    );
    for p in agents {
        assert!(!pid_running(p), "agent {p} outlived labj");
    }
    let proj = check_journal(&run);
    assert_eq!(proj.control.status.as_str(), "killed");
    assert!(kinds(&run).contains(&"run_killed".to_string()));
    let out = s.labj(&["continue", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(check_journal(&run).progress.next_commit_idx, 4);
}
