//! What a person running labj sees: the run id and directory before any trial, plain
//! progress lines when stderr is not a terminal, `--quiet`, a `continue with:` hint that
//! works when pasted (it keeps `--runs-dir`), logs through RUST_LOG as JSON, help with an
//! example on every command, ambiguous run prefixes listing the candidates, and errors
//! said once.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::report::*;
use support::*;

/// 4 tasks, one variant; every agent waits for the file `go` in the scratch dir.
fn gated_experiment(s: &Scratch) -> std::path::PathBuf {
    s.tasks(4);
    let go = s.dir().join("go");
    s.script(
        "agent.sh",
        &format!(
            "while [ ! -e '{}' ]; do sleep 0.05; done\n{SUCCESS}",
            go.display()
        ),
    );
    s.experiment(&["a"], 1, 2, "")
}

fn completed_trials(run: &std::path::Path) -> usize {
    read_events(run)
        .iter()
        .filter(|e| e.event.kind() == "trial_completed")
        .count()
}

#[test]
fn run_id_and_directory_come_first_then_plain_progress_lines() {
    let s = Scratch::new();
    let exp = gated_experiment(&s);
    let mut child = s
        .labj_cmd(&["run", exp.to_str().unwrap()])
        .env("LABJ_PROGRESS_EVERY_MS", "100")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    // No agent can have finished: they all wait for `go`.
    assert!(first.starts_with("labj: run "), "{first:?}");
    let run_id = first.split_whitespace().nth(2).unwrap().to_string();
    let mut second = String::new();
    err.read_line(&mut second).unwrap();
    let run_dir = s.runs_dir().join(&run_id);
    assert_eq!(
        second.trim(),
        format!("labj: run directory {}", run_dir.display())
    );
    assert!(journal_has_run(&run_dir));
    assert_eq!(
        completed_trials(&run_dir),
        0,
        "printed before any trial ended"
    );
    let mut third = String::new();
    err.read_line(&mut third).unwrap();
    assert!(
        third.contains(&format!(
            "labj status {} --runs-dir ",
            engine::run::run_handle(&run_id)
        )),
        "the follow-up command keeps --runs-dir: {third:?}"
    );
    std::fs::write(s.dir().join("go"), "").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = wait_within(&mut child, COMMAND_LIMIT, "labj run");
    assert!(status.success(), "{rest}");
    // Not a terminal: plain lines, the last one complete, with every count.
    let progress: Vec<&str> = rest.lines().filter(|l| l.starts_with("[labj] ")).collect();
    let last = progress
        .last()
        .unwrap_or_else(|| panic!("no progress line: {rest}"));
    for part in [
        "4/4 committed",
        "0 in flight",
        "4 succeeded",
        "0 unsuccessful",
        "0 infra-lost",
        "0 pruned",
        "trials/s",
        "ETA done",
    ] {
        assert!(last.contains(part), "{part:?} missing from {last:?}");
    }
    assert!(
        !rest.contains('\u{1b}'),
        "no terminal escapes in a log: {rest:?}"
    );

    // --quiet: the id line only, no progress.
    let s2 = Scratch::new();
    let exp2 = gated_experiment(&s2);
    std::fs::write(s2.dir().join("go"), "").unwrap();
    let out = s2.labj(&["run", "--quiet", exp2.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.starts_with("labj: run ") && !e.contains("[labj]"), "{e}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(overall)"),
        "summary still printed"
    );
}

#[test]
fn the_continue_hint_works_when_pasted_elsewhere() {
    let s = Scratch::new();
    let exp = gated_experiment(&s);
    let mut child = s
        .labj_cmd(&["run", exp.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let run_id = first.split_whitespace().nth(2).unwrap().to_string();
    let run_dir = s.runs_dir().join(&run_id);
    wait_for(Duration::from_secs(30), "two trials dispatched", || {
        (read_events(&run_dir)
            .iter()
            .filter(|e| e.event.kind() == "trial_dispatched")
            .count()
            >= 2)
            .then_some(())
    });
    // Ctrl-C: a graceful kill, continuable.
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let hint = stdout
        .lines()
        .find_map(|l| l.strip_prefix("continue with: "))
        .unwrap_or_else(|| panic!("no hint: {stdout}"))
        .to_string();
    assert!(hint.contains("--runs-dir"), "{hint}");
    std::fs::write(s.dir().join("go"), "").unwrap();
    // Pasted into a shell somewhere else, with labj on PATH.
    let bin_dir = labj_bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pasted = Command::new("sh")
        .arg("-c")
        .arg(&hint)
        .current_dir("/")
        .env("PATH", path)
        .env_remove("LABJ_RUNS_DIR")
        .env_remove(FAULT_KILL_ENV)
        .output()
        .unwrap();
    assert!(pasted.status.success(), "{hint}: {}", text(&pasted));
    let proj = check_journal(&run_dir);
    assert_eq!(proj.control.status.as_str(), "completed");
    assert_eq!(proj.aggregates.overall.succeeded, 4);
}

#[test]
fn rust_log_json_lines_and_labj_log_fallback() {
    let s = Scratch::new();
    let exp = gated_experiment(&s);
    std::fs::write(s.dir().join("go"), "").unwrap();
    let out = s
        .labj_cmd(&[
            "--log-format",
            "json",
            "run",
            "--quiet",
            exp.to_str().unwrap(),
        ])
        .env("RUST_LOG", "engine=debug")
        .env_remove("LABJ_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let logs: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let completed = logs
        .iter()
        .filter(|l| l["fields"]["message"] == "trial completed" && l["level"] == "DEBUG")
        .count();
    assert_eq!(completed, 4, "{err}");
    assert!(logs
        .iter()
        .any(|l| l["fields"]["message"] == "session started"));
    // LABJ_LOG still works when RUST_LOG is unset.
    let out = s
        .labj_cmd(&["run", "--quiet", exp.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .env("LABJ_LOG", "engine=info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("session started") && !err.contains("trial completed"),
        "{err}"
    );
}

#[test]
fn every_command_has_an_example_and_every_argument_a_description() {
    let s = Scratch::new();
    let top = stdout_ok(&s.labj(&["--help"]));
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 20, "{top}");
    for c in ["runs", "trials", "logs", "report", "export", "init"] {
        assert!(commands.iter().any(|x| x == c), "{c} missing: {top}");
    }
    let mut nested = vec![];
    for c in &commands {
        let help = stdout_ok(&s.labj(&[c, "-h"]));
        assert!(
            help.contains("Example"),
            "`labj {c} --help` has no example:\n{help}"
        );
        nested.push((c.clone(), help));
    }
    nested.push((
        "schema validate".into(),
        stdout_ok(&s.labj(&["schema", "validate", "-h"])),
    ));
    nested.push((
        "worker serve".into(),
        stdout_ok(&s.labj(&["worker", "serve", "-h"])),
    ));
    for (c, help) in nested {
        // Argument and option lines: `  <RUN>  The run…`, `  --until <IDX>  Last…`; an
        // undescribed one stands alone on its line.
        // Long help puts descriptions on the next, deeper-indented line.
        let lines: Vec<&str> = help.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            let is_arg = l.starts_with("  ") && (t.starts_with('<') || t.starts_with('-'));
            if is_arg && !l.starts_with("          ") {
                let same_line = t.split("  ").filter(|p| !p.trim().is_empty()).count() >= 2;
                let next_line = lines
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with("          ") && !n.trim().is_empty());
                assert!(
                    same_line || next_line,
                    "`labj {c}`: no description for {t:?}\n{help}"
                );
            }
        }
    }
    // The kinds `events --kind` accepts are listed.
    let ev = stdout_ok(&s.labj(&["events", "--help"]));
    assert!(
        ev.contains("trial_completed") && ev.contains("slot_committed"),
        "{ev}"
    );
}

#[test]
fn run_prefixes_and_errors_read_well() {
    let s = Scratch::new();
    for id in ["0193aaaa-1", "0193aaab-2"] {
        let d = s.runs_dir().join(id);
        std::fs::create_dir_all(&d).unwrap();
        journal::Journal::create(&d.join("journal.sqlite"), journal::Durability::Normal).unwrap();
    }
    let o = s.labj(&["status", "0193"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("ambiguous") && e.contains("0193aaaa-1, 0193aaab-2"),
        "{e}"
    );

    // A missing experiment: the OS error once, with the path.
    let o = s.labj(&["run", "nope.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("nope.yaml"), "{e}");
    // Whatever the OS calls it, it is said once: no part of the message repeats.
    let parts: Vec<&str> = e.trim().split(": ").collect();
    let unique: std::collections::BTreeSet<&str> = parts.iter().copied().collect();
    assert_eq!(parts.len(), unique.len(), "said once: {e}");
    assert_eq!(
        e.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{e}"
    );
    // A trial that is not an id.
    let o = s.labj(&["events", "0193aaaa-1", "--trial", "x24"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not a trial id"),
        "{}",
        text(&o)
    );
}
