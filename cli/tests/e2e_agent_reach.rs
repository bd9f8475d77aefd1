//! What an agent leaves behind never reaches further than its trial: text it prints is
//! shown to the operator with control characters escaped (run summary, `status`,
//! `report`), and a symlink it plants in its workspace is never followed by the grader.
//! Real `labj` processes, real agents and graders (sh scripts).

mod support;

use std::process::Stdio;
use support::*;

/// Bytes a terminal would act on: ESC (clear screen, set title), BEL, NUL.
fn raw_controls(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .copied()
        .filter(|b| [0x1b, 0x07, 0x00].contains(b))
        .collect()
}

/// An agent that fails with `ESC[2J`, `ESC]0;title BEL` and a NUL in its stderr: the
/// run summary, `status`, `report` (text and markdown) show the tail escaped
/// (`\u{1b}[2J`), never the raw bytes.
#[test]
fn agent_stderr_with_terminal_controls_is_shown_escaped() {
    let s = Scratch::new();
    s.tasks(1);
    s.script(
        "agent.sh",
        r"printf 'boom\033[2J\033]0;owned\007 and\000nul\n' >&2; exit 3",
    );
    s.experiment(&["a"], 1, 1, "");
    let run_out = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(run_out.status.code(), Some(0), "{}", text(&run_out));
    let run = s.the_run();
    let run_arg = run.to_str().unwrap();
    let status = s.labj(&["status", run_arg]);
    let report = s.labj(&["report", run_arg]);
    let markdown = s.labj(&["report", run_arg, "--format", "markdown"]);
    for (what, out) in [
        ("run summary", &run_out),
        ("status", &status),
        ("report", &report),
        ("report --format markdown", &markdown),
    ] {
        assert_eq!(
            raw_controls(&out.stdout),
            Vec::<u8>::new(),
            "{what} printed raw control bytes:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            shown.contains(r"boom\u{1b}[2J\u{1b}]0;owned\u{7} and\u{0}nul"),
            "{what} does not show the escaped stderr tail:\n{shown}"
        );
    }
}

/// A symlink the agent leaves in its workspace pointing at a host file is removed before
/// the grader runs (its target kept as `tamper` evidence); the grader, reading the
/// workspace as left, never sees the host file's content. A link inside the workspace
/// stays.
#[test]
fn a_workspace_link_out_of_the_workspace_is_never_followed_by_the_grader() {
    let s = Scratch::new();
    let secret = s.write("host_secret.txt", "TOP-SECRET-HOST-CONTENT\n");
    s.tasks(1);
    s.script(
        "agent.sh",
        &format!(
            "ln -s {} answer\nmkdir -p d\necho inside > d/own.txt\nln -s d/own.txt inner\nln -s ../../../../../host_secret.txt climb\n{SUCCESS}",
            secret.display()
        ),
    );
    s.script(
        "grader.sh",
        r#"cd "$AGENTLAB_WORKSPACE_DIR"
for f in answer inner climb; do
  if [ -e "$f" ]; then echo "$f: $(cat "$f")" >&2; else echo "$f: absent" >&2; fi
done
printf '{"schema_version":"grade_result_v1","outcome":"success","metrics":{"score":1}}' > "$AGENTLAB_GRADE_PATH""#,
    );
    s.experiment(&["a"], 1, 1, "");
    let y = std::fs::read_to_string(s.dir().join("experiment.yaml")).unwrap();
    s.write(
        "experiment.yaml",
        &y.replace(
            "primary_metric: score\n",
            "benchmark:\n  grader:\n    command: [\"./grader.sh\"]\nprimary_metric: score\n",
        ),
    );
    let out = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    check_journal(&run);
    let grader_err =
        std::fs::read_to_string(run.join("trials/trial_000000/attempt_1/grader/stderr.log"))
            .unwrap();
    assert!(
        !grader_err.contains("TOP-SECRET"),
        "the grader read the host file: {grader_err}"
    );
    assert!(grader_err.contains("answer: absent"), "{grader_err}");
    assert!(grader_err.contains("climb: absent"), "{grader_err}");
    assert!(grader_err.contains("inner: inside"), "{grader_err}");
    // Nothing of the host file reached the run's blobs either.
    let mut stack = vec![run.join("blobs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let b = std::fs::read(e.path()).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&b).contains("TOP-SECRET"),
                    "blob {} holds the host file's content",
                    e.path().display()
                );
            }
        }
    }
    // The removed links are journaled as tamper evidence naming their targets.
    let ev = events_of(&s, &run, "trial_completed");
    let evidence = serde_json::to_string(&ev[0]["payload"]["evidence"]).unwrap();
    assert!(
        evidence.contains("workspace__answer.symlink")
            && evidence.contains("workspace__climb.symlink"),
        "{evidence}"
    );
    assert!(!evidence.contains("workspace__inner.symlink"), "{evidence}");
    let note = std::fs::read_to_string(
        run.join("trials/trial_000000/attempt_1/tampered/workspace__answer.symlink"),
    )
    .unwrap();
    assert_eq!(note, secret.display().to_string());
}

/// `labj status R | head -1` and `labj describe … | head -1`: the reader closing the pipe
/// ends labj quietly (no panic, no "failed printing to stdout").
#[test]
fn read_commands_end_quietly_when_the_reader_closes_the_pipe() {
    let s = Scratch::new();
    s.tasks(3);
    s.script("agent.sh", SUCCESS);
    s.experiment(&["a", "b"], 2, 2, "");
    let out = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    for args in [
        vec!["status", run.to_str().unwrap()],
        vec!["describe", "experiment.yaml"],
        vec!["inspect", run.to_str().unwrap()],
    ] {
        let mut child = s
            .labj_cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read nothing: close our end at once, as `head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("failed printing"),
            "labj {args:?}: {err}"
        );
        assert_ne!(
            out.status.code(),
            Some(101),
            "labj {args:?} panicked: {err}"
        );
    }
}

/// A sandboxed agent with `network: none` reaches no unix socket of the host (a socket
/// file under /tmp standing for docker.sock / podman.sock / the D-Bus bus: /tmp, /run and
/// /var/run are empty inside), and sees nothing of the other runs in its runs directory
/// (their journals, blobs, results and grades). The same probe without the sandbox
/// reaches both, so the sandbox makes the difference.
#[test]
fn a_network_none_sandbox_reaches_no_host_socket_and_no_other_run() {
    use std::io::Write as _;
    use support::iso::*;
    require_bwrap();
    let s = Scratch::new();
    s.tasks(1);
    // An earlier run in the same runs directory.
    s.script("agent.sh", SUCCESS);
    s.experiment(&["a"], 1, 1, "");
    let out = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let other = s.the_run();
    // A host service on a unix socket, outside the experiment and run directories.
    let sock_dir = tempfile::tempdir().unwrap();
    let sock = sock_dir.path().join("host.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server = {
        let (stop, served) = (stop.clone(), served.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.write_all(b"hello\n");
                        served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        })
    };
    s.script(
        "probe.sh",
        &format!(
            "SOCK={sock}\nOTHER={other}\n\
             if python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.recv(16).decode())' \"$SOCK\" 2>/dev/null | grep -q hello; then echo sock=reached; else echo sock=blocked; fi\n\
             if ls \"$OTHER/journal.sqlite\" \"$OTHER/blobs\" >/dev/null 2>&1; then echo other=visible; else echo other=hidden; fi\n{RESULT_OK}",
            sock = sock.display(),
            other = other.display()
        ),
    );
    let probe = |name: &str, policy: &str| {
        let exp = iso_experiment(
            &s,
            name,
            &[("base", "")],
            &format!("  agent:\n    command: [\"./probe.sh\"]\n{policy}"),
            1,
        );
        let runs = s.dir().join("runs");
        let before: Vec<_> = std::fs::read_dir(&runs)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        let out = s.labj(&["run", exp.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let run = std::fs::read_dir(&runs)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| !before.contains(p))
            .unwrap();
        stdout_of(&run, "trial_000000")
    };
    let sandboxed = probe(
        "sandboxed.yaml",
        "  policy:\n    network: {mode: none}\n    sandbox: {mode: local}\n",
    );
    let reached_sandboxed = served.load(std::sync::atomic::Ordering::SeqCst);
    let plain = probe("plain.yaml", "");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().unwrap();
    assert!(sandboxed.contains("sock=blocked"), "sandbox:\n{sandboxed}");
    assert!(sandboxed.contains("other=hidden"), "sandbox:\n{sandboxed}");
    assert_eq!(
        reached_sandboxed, 0,
        "the sandboxed agent reached the socket"
    );
    assert!(plain.contains("sock=reached"), "plain:\n{plain}");
    assert!(plain.contains("other=visible"), "plain:\n{plain}");
}

/// An agent reporting `1e308` as its metric: `trials` and `status` print it in
/// scientific notation (1.000e308), never as a 309-digit integer.
#[test]
fn huge_metrics_are_printed_in_scientific_notation() {
    let s = Scratch::new();
    s.tasks(1);
    s.script(
        "agent.sh",
        r#"printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":1e308}}' > "$AGENTLAB_RESULT_PATH""#,
    );
    s.experiment(&["a"], 1, 1, "");
    let out = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    for args in [
        vec!["trials", run.to_str().unwrap()],
        vec!["status", run.to_str().unwrap()],
    ] {
        let out = s.labj(&args);
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("1.000e308"), "labj {args:?}:\n{shown}");
        assert!(!shown.contains("0000000000"), "labj {args:?}:\n{shown}");
    }
}

/// Metrics at the end of f64 (`1e308` for one variant, `-1e308` for the other): every
/// mean and interval of `labj report` is a finite number in exponent form (they used to
/// be `inf` with `[NaN, NaN]`), and the comparison f64 cannot hold (a difference of
/// -2e308) says why it is missing; text, markdown, HTML and JSON alike.
#[test]
fn a_report_of_huge_metrics_has_no_inf_or_nan_and_says_why_a_statistic_is_missing() {
    let s = Scratch::new();
    s.tasks(3);
    s.script(
        "agent.sh",
        r#"if [ "$AGENTLAB_VARIANT_ID" = a ]; then v=1e308; else v=-1e308; fi
printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":%s}}' $v > "$AGENTLAB_RESULT_PATH""#,
    );
    s.experiment(&["a", "b"], 1, 1, "");
    let out = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    let run = run.to_str().unwrap();
    let shown = String::from_utf8_lossy(&s.labj(&["report", run]).stdout).into_owned();
    eprintln!("{shown}");
    let words: Vec<&str> = shown.split(|c: char| !c.is_alphanumeric()).collect();
    assert!(
        !words.contains(&"NaN") && !words.contains(&"inf"),
        "{shown}"
    );
    assert!(!shown.contains("0000000000"), "{shown}");
    assert!(
        shown.contains("1.000e308") && shown.contains("[1.000e308, 1.000e308]"),
        "the mean and interval of a, in exponent form:\n{shown}"
    );
    assert!(shown.contains("[-1.000e308, -1.000e308]"), "{shown}");
    assert!(
        shown.contains("score difference n/a: not compared: the values are too large for 64-bit floating point"),
        "the missing comparison says why:\n{shown}"
    );
    for format in ["markdown", "html"] {
        let out = s.labj(&["report", run, "--format", format]);
        let t = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{format}: {}", text(&out));
        assert!(
            !t.contains("NaN") && !t.contains("0000000000"),
            "{format}:\n{t}"
        );
    }
    let out = s.labj(&["report", run, "--format", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report JSON");
    let a = &j["variants"][0]["metrics"][0];
    assert_eq!(a["mean"], 1e308, "{a}");
    assert_eq!(a["ci95"]["low"], 1e308, "{a}");
    assert_eq!(
        j["comparisons"][0]["metrics_out_of_range"][0], "score",
        "{}",
        j["comparisons"][0]
    );
}
