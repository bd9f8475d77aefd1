//! The progress bar as a person at a terminal sees it: `labj run` with its stderr on a
//! real pseudo-terminal (openpty(3), 120 columns), the bytes it draws read from the
//! master side. The run id and directory come first, before any trial ends; then the
//! indicatif bar with done/total, the rate and the ETA; the summary stays on stdout (a
//! pipe) with no terminal escapes. With `--quiet` nothing but the id lines is drawn.
//!
//! The terminal comes from glibc's openpty (no `script` or other tool needed), so the
//! test runs wherever the other end-to-end tests do.

mod support;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use support::*;

/// What the terminal received so far, shared with the thread that reads the master.
struct Screen {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl Screen {
    /// Reads `master` until every slave descriptor is closed (read fails with EIO).
    fn start(master: OwnedFd) -> Screen {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = bytes.clone();
        let reader = std::thread::spawn(move || {
            let mut f = std::fs::File::from(master);
            let mut buf = [0u8; 4096];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Screen { bytes, reader }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Waits (bounded) until the terminal shows something `ok` accepts.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        wait_for(Duration::from_secs(60), what, || {
            let t = self.text();
            ok(&t).then_some(t)
        })
    }

    /// Everything drawn, once the child has exited and the terminal closed.
    fn finish(self) -> String {
        self.reader.join().unwrap();
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }
}

/// The `labj run` under test. If the test fails midway, dropping it releases the gated
/// agents and kills labj, so no process outlives the test.
struct Running {
    child: Child,
    release: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.release, "");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `labj run <args>` in `s` with stderr on a fresh terminal and stdout on a pipe.
fn run_on_tty(s: &Scratch, args: &[&str]) -> (Running, Screen) {
    let (master, slave) = pty::openpty(120);
    let mut cmd = s.labj_cmd(args);
    cmd.env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave));
    let child = cmd.spawn().expect("spawn labj run");
    // The parent's copy of the slave goes with `cmd`: only the child holds it now, so
    // the reader sees the end when the child exits.
    drop(cmd);
    let release = s.dir().join("go_all");
    (Running { child, release }, Screen::start(master))
}

/// 4 tasks at concurrency 2; the agent of task `task_00N` waits for the file `go_N`
/// (or `go_all`) in the scratch dir, so the test decides when each trial may end.
fn gated(s: &Scratch) -> std::path::PathBuf {
    s.tasks(4);
    let d = s.dir().display();
    s.script(
        "agent.sh",
        &format!(
            "n=${{AGENTLAB_TASK_ID#task_00}}\nwhile [ ! -e '{d}/go_'$n ] && [ ! -e '{d}/go_all' ]; do sleep 0.02; done\n{SUCCESS}"
        ),
    );
    s.experiment(&["a"], 1, 2, "")
}

/// The frames of the bar: whatever follows `pos/len ` up to the next escape or line end.
fn frames<'a>(screen: &'a str, pos_len: &str) -> Vec<&'a str> {
    screen
        .match_indices(&format!(" {pos_len} "))
        .map(|(i, m)| {
            let rest = &screen[i + m.len()..];
            let end = rest.find(['\u{1b}', '\r', '\n']).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn on_a_terminal_the_bar_shows_done_total_rate_and_eta_after_the_run_id() {
    let s = Scratch::new();
    let exp = gated(&s);
    let (mut run, screen) = run_on_tty(&s, &["run", exp.to_str().unwrap()]);

    // Two agents running, none finished: the bar at 0/4, no rate yet.
    let t = screen.wait("the bar at 0/4 with two trials running", |t| {
        frames(t, "0/4").iter().any(|f| f.contains("2 running"))
    });
    let header = t.find("labj: run ").expect("run id line");
    let first_frame = t.find(" 0/4 ").unwrap();
    assert!(
        header < first_frame,
        "the run id is printed before the bar: {t:?}"
    );
    let run_id = t[header..].split_whitespace().nth(2).unwrap().to_string();
    let run_dir = s.runs_dir().join(&run_id);
    assert!(
        t.contains(&format!("labj: run directory {}", run_dir.display())),
        "{t:?}"
    );
    assert!(
        t.contains(&format!(
            "labj status {} --runs-dir ",
            engine::run::run_handle(&run_id)
        )),
        "{t:?}"
    );
    assert!(
        read_events(&run_dir)
            .iter()
            .all(|e| e.event.kind() != "trial_completed"),
        "no trial can have ended: all agents are gated"
    );
    assert!(
        frames(&t, "0/4")
            .iter()
            .any(|f| f.starts_with("ETA ? · 0.0/s · 2 running · ✓ 0 ✗ 0")),
        "the 0/4 frame: {:?}",
        frames(&t, "0/4")
    );
    // A bar is drawn: the cursor is moved back over it (escape sequences), the
    // elapsed clock and the bar's fill characters are there.
    assert!(
        t.contains("\u{1b}["),
        "no terminal control sequences: {t:?}"
    );
    assert!(t.contains("[00:00:0"), "no elapsed clock: {t:?}");

    // One trial ends: 1/4, a positive rate and a computed ETA.
    std::fs::write(s.dir().join("go_0"), "").unwrap();
    let t = screen.wait("the bar at 1/4 with a rate and an ETA", |t| {
        frames(t, "1/4").iter().any(|f| {
            f.strip_prefix("ETA ")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
    });
    let f = frames(&t, "1/4")
        .into_iter()
        .find(|f| f.starts_with("ETA ") && !f.starts_with("ETA ?"))
        .unwrap()
        .to_string();
    let rate: f64 = f
        .split(" · ")
        .nth(1)
        .and_then(|r| r.strip_suffix("/s"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no rate in {f:?}"));
    assert!(rate > 0.0, "{f:?}");
    assert!(f.contains("✓ 1 ✗ 0"), "{f:?}");

    std::fs::write(s.dir().join("go_all"), "").unwrap();
    let status = wait_within(&mut run.child, COMMAND_LIMIT, "labj run on a terminal");
    let mut stdout = String::new();
    run.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let t = screen.finish();
    assert!(status.success(), "{t}\n{stdout}");
    // The summary goes to stdout, plain; the bar is cleared from the terminal.
    assert!(
        stdout.contains("completed: 4/4 slots committed"),
        "{stdout}"
    );
    assert!(!stdout.contains('\u{1b}'), "escapes on stdout: {stdout:?}");
    assert!(
        !t.contains("[labj] "),
        "plain progress lines on a terminal: {t:?}"
    );
    check_journal(&run_dir);
}

#[test]
fn on_a_terminal_quiet_draws_nothing_but_the_run_id() {
    let s = Scratch::new();
    let exp = gated(&s);
    std::fs::write(s.dir().join("go_all"), "").unwrap();
    let (mut run, screen) = run_on_tty(&s, &["run", "--quiet", exp.to_str().unwrap()]);
    let status = wait_within(
        &mut run.child,
        COMMAND_LIMIT,
        "labj run --quiet on a terminal",
    );
    let t = screen.finish();
    assert!(status.success(), "{t}");
    assert!(t.starts_with("labj: run "), "{t:?}");
    assert!(!t.contains('\u{1b}'), "--quiet drew on the terminal: {t:?}");
    assert!(
        !t.contains("/4") && !t.contains("ETA") && !t.contains("[labj]"),
        "--quiet showed progress: {t:?}"
    );
    let run = s.the_run();
    assert_eq!(committed_slots(&run).len(), 4);
    check_journal(&run);
}

/// How many frames of the bar at `pos_len` contain `text`.
fn frames_with(screen: &Screen, pos_len: &str, text: &str) -> usize {
    frames(&screen.text(), pos_len)
        .iter()
        .filter(|f| f.contains(text))
        .count()
}

#[test]
fn a_run_paused_as_a_whole_shows_paused_and_resumes_as_a_whole() {
    let s = Scratch::new();
    let exp = gated(&s);
    let (mut run, screen) = run_on_tty(&s, &["run", exp.to_str().unwrap()]);
    let t = screen.wait("two trials running", |t| {
        frames(t, "0/4").iter().any(|f| f.contains("2 running"))
    });
    let header = t.find("labj: run ").expect("run id line");
    let run_id = t[header..].split_whitespace().nth(2).unwrap().to_string();
    let handle = engine::run::run_handle(&run_id);
    assert!(
        t.contains(&format!("labj: run {run_id} (handle {handle})")),
        "{t:?}"
    );

    // `labj pause <run>`: the whole run, and the answer says so and how to undo it.
    let o = s.labj(&["pause", &handle]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        out.trim(),
        format!("pause: paused the run: 2 active trial(s) frozen (trial_000000, trial_000001), no new trial starts; `labj resume {handle}` resumes the whole run (run status: paused)")
    );
    // The bar says the run is paused (no rate, no ETA, no "running").
    let paused = format!("PAUSED (2 trial(s) frozen; `labj resume {handle}` resumes the run)");
    screen.wait("the bar showing PAUSED", |t| {
        frames(t, "0/4").iter().any(|f| f.starts_with(&paused))
    });
    let running_before = frames_with(&screen, "0/4", "2 running");

    // `labj resume <run>` resumes what `labj pause <run>` paused: no --all needed.
    let o = s.labj(&["resume", &handle]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        out.trim(),
        "resume: resumed the run: 2 paused trial(s) running again (trial_000000, trial_000001), new trials start again (run status: running)"
    );
    wait_for(Duration::from_secs(30), "the bar running again", || {
        (frames_with(&screen, "0/4", "2 running") > running_before).then_some(())
    });

    // A pause of one trial while two run: the resume must name what it resumes.
    let o = s.labj(&["pause", &handle, "--trial", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!(
            "paused trial trial_000000; no new trial starts until `labj resume {handle} --trial trial_000000`"
        )),
        "{}",
        text(&o)
    );
    let o = s.labj(&["resume", &handle]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("name the paused one with --trial (trial_000000), or resume every paused trial with --all"),
        "{}",
        text(&o)
    );
    let o = s.labj(&["resume", &handle, "--trial", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("resumed trial trial_000000"),
        "{}",
        text(&o)
    );

    std::fs::write(s.dir().join("go_all"), "").unwrap();
    let status = wait_within(&mut run.child, COMMAND_LIMIT, "labj run on a terminal");
    let t = screen.finish();
    assert!(status.success(), "{t}");
    check_journal(&s.runs_dir().join(&run_id));
}
