//! What a newcomer tripped on (issue 26), each through the real binary: runs found as git
//! finds `.git`, run handles a person can type, mistakes whose message says how to fix
//! them, `labj query`, and the small wording fixes.
//!
//! The `.lab` tests run `labj` without `--runs-dir` in a fresh temporary directory; they
//! assume no `.lab` folder exists above the system's temporary directory (as on a fresh
//! machine), since labj walks up to find one.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::*;

/// `labj <args>` in `dir` with no `--runs-dir` and no `LABJ_RUNS_DIR`: the runs folder is
/// found as a person's shell would find it.
fn bare(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(labj_bin());
    c.current_dir(dir)
        .env_remove("LABJ_RUNS_DIR")
        .env_remove(FAULT_KILL_ENV)
        .args(args);
    output_within(&mut c, COMMAND_LIMIT, &format!("labj {}", args.join(" ")))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn runs_json(dir: &Path) -> Vec<serde_json::Value> {
    let o = bare(dir, &["runs", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).unwrap()
}

#[test]
fn runs_live_in_the_projects_lab_and_every_folder_of_the_project_finds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().canonicalize().unwrap();
    let o = bare(&top, &["init", "my-eval"]);
    assert!(o.status.success(), "{}", text(&o));
    // The next step it prints agrees with the experiment's own comment.
    assert!(
        stdout(&o).contains("next: cd my-eval && labj run experiment.yaml"),
        "{}",
        text(&o)
    );
    let project = top.join("my-eval");
    let runs = project.join(".lab/runs");

    // Following either instruction puts the run in the same place.
    let o = bare(&top, &["run", "--quiet", "my-eval/experiment.yaml"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = bare(&project, &["run", "--quiet", "experiment.yaml"]);
    assert!(o.status.success(), "{}", text(&o));
    let ids: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ids.len(), 2, "both runs under {}: {ids:?}", runs.display());
    assert!(!top.join(".lab").exists(), "no second .lab at the top");

    // From the project and from any folder below it, `labj runs` lists both.
    std::fs::create_dir_all(project.join("agents/deeper")).unwrap();
    for dir in [project.clone(), project.join("agents/deeper")] {
        let listed = runs_json(&dir);
        assert_eq!(listed.len(), 2, "from {}: {listed:?}", dir.display());
        let o = bare(&dir, &["status", &ids[0]]);
        assert!(o.status.success(), "from {}: {}", dir.display(), text(&o));
    }

    // Above the project nothing is found, and the answers say where labj looked, where
    // the runs are, and what to type.
    let o = bare(&top, &["runs"]);
    let out = stdout(&o);
    assert!(
        out.contains(&format!("no .lab folder in {}", top.display()))
            && out.contains(&format!("{} holds 2 run(s)", runs.display())),
        "{out}"
    );
    let o = bare(&top, &["status", &ids[0]]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("looked in {}", top.join(".lab/runs").display()))
            && err.contains(&format!("it is in {}", runs.display()))
            && err.contains("`labj runs`")
            && err.contains("--runs-dir"),
        "{err}"
    );
}

#[test]
fn runs_have_short_handles_that_every_command_accepts_and_typos_get_suggestions() {
    let s = Scratch::new();
    s.tasks(2);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 2, "");
    for _ in 0..2 {
        let o = s.labj(&["run", "--quiet", exp.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = s.labj(&["runs", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed.len(), 2);
    let ids: Vec<String> = listed
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    let handles: Vec<String> = listed
        .iter()
        .map(|r| r["handle"].as_str().unwrap().to_string())
        .collect();
    // Runs created moments apart share the start of their ids (the time), not their
    // handles (the random end).
    assert_ne!(handles[0], handles[1]);
    for (id, h) in ids.iter().zip(&handles) {
        assert_eq!(h.len(), 6, "{h}");
        assert!(id.ends_with(h.as_str()), "{id} {h}");
    }
    // `labj runs` shows them first.
    let table = stdout(&s.labj(&["runs"]));
    let first = table.lines().nth(1).unwrap();
    assert!(
        first.starts_with(&format!("{}  {}", handles[0], ids[0])),
        "{table}"
    );

    // Every command that takes a run accepts the handle.
    let h = handles[1].as_str();
    for args in [
        vec!["status", h],
        vec!["trials", h],
        vec!["report", h],
        vec!["verify", h],
        vec!["inspect", h],
        vec!["events", h, "--kind", "run_created"],
        vec!["export", h, "--table", "trials"],
        vec!["replay", h, "--until", "1"],
        vec!["logs", h, "0"],
        vec!["query", h, "SELECT count(*) FROM events"],
    ] {
        let o = s.labj(&args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    let o = s.labj(&["events", h, "--kind", "run_created", "--json"]);
    assert!(stdout(&o).contains(&ids[1]), "{}", text(&o));

    // A typo (one character wrong) gets the closest run suggested.
    let mut typo: Vec<char> = h.chars().collect();
    typo[2] = if typo[2] == 'z' { 'y' } else { 'z' };
    let typo: String = typo.into_iter().collect();
    let o = s.labj(&["status", &typo]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("did you mean {h} ({})", ids[1])),
        "{err}"
    );
    // Nothing close: no suggestion, but where it looked.
    let o = s.labj(&["status", "qqqqqqqqqq"]);
    let err = stderr(&o);
    assert!(
        !err.contains("did you mean") && err.contains("looked in"),
        "{err}"
    );
}

/// A one-task experiment whose agent is `program` (written by the caller).
fn one_task_experiment(s: &Scratch, program: &str) -> std::path::PathBuf {
    s.tasks(1);
    let exp = s.experiment(&["a"], 1, 1, "");
    let yaml = std::fs::read_to_string(&exp)
        .unwrap()
        .replace("[\"./agent.sh\"]", &format!("[\"{program}\"]"));
    s.write("experiment.yaml", &yaml)
}

#[test]
fn an_agent_that_prints_its_result_is_told_where_the_result_belongs() {
    let s = Scratch::new();
    s.script(
        "agent.sh",
        r#"echo '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":1}}'"#,
    );
    let exp = one_task_experiment(&s, "./agent.sh");
    let o = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("result_missing")
            && out.contains("the agent printed JSON to stdout")
            && out.contains("$AGENTLAB_RESULT_PATH"),
        "{out}"
    );
    // The message does not send the reader to a trial directory that was removed.
    assert!(!out.contains("/result.json"), "{out}");
}

#[test]
fn describe_exits_non_zero_when_run_would_refuse_the_experiment() {
    let s = Scratch::new();
    s.script("agent.sh", SUCCESS);
    let exp = one_task_experiment(&s, "./agent.sh");
    let o = s.labj(&["describe", exp.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let yaml = std::fs::read_to_string(&exp).unwrap();
    let bad = s.write(
        "bad.yaml",
        &yaml.replace("state: isolate_per_trial", "state: persist_per_task"),
    );
    let o = s.labj(&["describe", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stdout(&o).contains("runnable    NO"), "{}", text(&o));
    assert!(
        stderr(&o).contains("persist_per_task")
            && stderr(&o).contains("`labj run` would refuse it"),
        "{}",
        text(&o)
    );
    let o = s.labj(&["describe", "--json", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn programs_that_cannot_start_say_how_to_fix_them() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let exp = one_task_experiment(&s, "./agent.py");
    // Not executable, with a #! line: chmod +x.
    let agent = s.write("agent.py", "#!/usr/bin/env python3\nprint('hi')\n");
    let o = s.labj(&["describe", exp.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("chmod +x {}", agent.display())),
        "{}",
        text(&o)
    );
    // Not executable, no #! line: both fixes named.
    s.write("agent.py", "print('hi')\n");
    let o = s.labj(&["describe", exp.to_str().unwrap()]);
    let t = text(&o);
    assert!(
        t.contains("chmod +x") && t.contains("#!/usr/bin/env python3") && t.contains("[python3, "),
        "{t}"
    );
    // A #! line naming a missing interpreter whose name is on PATH as another path.
    s.write("agent.py", "#!/nonexistent/bin/sh\necho hi\n");
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = s.labj(&["describe", exp.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("which does not exist: `sh` is on PATH as")
            && t.contains("write #!/usr/bin/env sh"),
        "{t}"
    );
}

#[test]
fn a_trailing_comma_is_reported_on_the_line_that_holds_it() {
    let s = Scratch::new();
    s.tasks(1);
    let exp = s.write(
        "experiment.json",
        "{\n  \"version\": \"0.5\",\n  \"experiment\": {\"id\": \"x\",\n    \"name\": \"x\",\n  },\n  \"dataset\": {\"path\": \"tasks.jsonl\"}\n}\n",
    );
    let o = s.labj(&["describe", exp.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("trailing comma at line 4 column 16"),
        "{}",
        text(&o)
    );
    // In an array, on the same line.
    let exp = s.write("e2.json", "{\"version\": \"0.5\", \"a\": [1, 2,]}\n");
    let o = s.labj(&["describe", exp.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("trailing comma at line 1 column 30"),
        "{}",
        text(&o)
    );
}

#[test]
fn query_reads_the_journal_and_refuses_every_write() {
    let s = Scratch::new();
    s.tasks(3);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 2, "");
    let o = s.labj(&["run", "--quiet", exp.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let run = s.the_run();
    let run = run.to_str().unwrap();
    let events_before = read_events(Path::new(run)).len();

    let o = s.labj(&[
        "query",
        run,
        "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = stdout(&o);
    assert!(t.starts_with("kind"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["slot_committed", "3"]),
        "{t}"
    );
    let o = s.labj(&[
        "query",
        run,
        "SELECT trial_id, status, primary_metric, NULL AS empty FROM fact_trials ORDER BY schedule_idx",
        "--json",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 3, "{}", text(&o));
    assert_eq!(rows[0]["trial_id"], "trial_000000");
    assert_eq!(rows[0]["status"], "completed");
    assert_eq!(rows[0]["primary_metric"], 1.0);
    assert!(rows[0]["empty"].is_null());
    let o = s.labj(&[
        "query",
        run,
        "SELECT trial_id, status, NULL AS empty FROM fact_trials ORDER BY schedule_idx LIMIT 2",
        "--csv",
    ]);
    assert_eq!(
        stdout(&o),
        "trial_id,status,empty\ntrial_000000,completed,\ntrial_000001,completed,\n",
        "{}",
        text(&o)
    );

    // Every kind of write is refused, and nothing changed.
    for sql in [
        "DELETE FROM events",
        "UPDATE events SET payload = '{}' WHERE idx = 1",
        "INSERT INTO proj_docs(name, doc) VALUES ('x', '{}')",
        "DROP TABLE fact_trials",
        "CREATE TABLE t(x)",
        "PRAGMA user_version = 99",
        "VACUUM",
    ] {
        let o = s.labj(&["query", run, sql]);
        assert_eq!(o.status.code(), Some(1), "{sql}: {}", text(&o));
        assert!(stderr(&o).contains("read-only"), "{sql}: {}", text(&o));
    }
    let o = s.labj(&["query", run, "SELECT 1; DELETE FROM events"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("one statement") && stderr(&o).contains("DELETE FROM events"),
        "{}",
        text(&o)
    );
    let attach = format!(
        "ATTACH DATABASE '{}' AS x",
        s.dir().join("new.db").display()
    );
    let o = s.labj(&["query", run, &attach]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!s.dir().join("new.db").exists());
    let o = s.labj(&["query", run, "SELECT nope FROM events"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("no such column: nope"), "{}", text(&o));

    assert_eq!(read_events(Path::new(run)).len(), events_before);
    let o = s.labj(&["verify", run]);
    assert!(o.status.success(), "{}", text(&o));
    check_journal(Path::new(run));
}

#[test]
fn the_report_says_the_same_rate_as_and_help_names_every_version() {
    let s = Scratch::new();
    s.tasks(2);
    // `b` gains task_000 and loses task_001 against `a`.
    s.script(
        "agent.sh",
        r#"v=$(sed -n 's/.*"name" *: *"\([a-z]*\)".*/\1/p' "$AGENTLAB_BINDINGS_PATH")
t=$(sed -n 's/.*"id" *: *"\([a-z_0-9]*\)".*/\1/p' "$AGENTLAB_TASK_PATH")
o=success
if [ "$v:$t" = "a:task_000" ] || [ "$v:$t" = "b:task_001" ]; then o=failure; fi
printf '{"schema_version":"agent_result_v1","outcome":"%s","metrics":{"score":1}}' "$o" >"$AGENTLAB_RESULT_PATH""#,
    );
    let exp = s.experiment(&["a", "b"], 1, 2, "");
    let o = s.labj(&["run", "--quiet", exp.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let run = s.the_run();
    let o = s.labj(&["report", run.to_str().unwrap()]);
    let t = stdout(&o);
    assert!(
        t.contains("b has the same success rate as a over 2 task(s)"),
        "{t}"
    );
    assert!(!t.contains("rate than") && !t.contains("a the same"), "{t}");

    for cmd in ["describe", "run"] {
        let help = stdout(&s.labj(&[cmd, "--help"]));
        assert!(help.contains("v0.5, v0.4 or v0.3"), "{cmd}: {help}");
    }
}

#[test]
fn the_readme_lists_what_the_test_command_installs_and_puts_labj_on_path_first() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let test_step = readme
        .split("scripts/test\n")
        .next()
        .and_then(|s| s.rsplit("# 2.").next())
        .unwrap();
    // The system components scripts/setup.d installs for the tests (node's package is
    // nodejs, which the list once left out).
    for component in [
        "sqlite3",
        "python3",
        "scipy",
        "nodejs",
        "Slurm",
        "podman",
        "bubblewrap",
    ] {
        assert!(
            test_step.contains(component),
            "README's scripts/test step omits {component}: {test_step}"
        );
        let script = component.to_lowercase().replace("nodejs", "node");
        assert!(
            std::fs::read_dir(root.join("scripts/setup.d"))
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains(&script)),
            "no scripts/setup.d script for {component}"
        );
    }
    // Every setup script's component is named too (a new one must be listed).
    let step = test_step.to_lowercase();
    for e in std::fs::read_dir(root.join("scripts/setup.d"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let component = name
            .trim_end_matches(".sh")
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
            .trim_end_matches("-image")
            .to_lowercase();
        assert!(
            step.contains(&component),
            "README's scripts/test step omits {component} (scripts/setup.d/{name}): {test_step}"
        );
    }
    // The first run already has `labj` on PATH: the hints it prints say `labj …`.
    let first_block = readme.split("```sh\n").nth(1).unwrap();
    let first_block = first_block.split("```").next().unwrap();
    let install = first_block.find("cargo install --path cli");
    let run = first_block.find("labj run ").unwrap();
    assert!(
        install.is_some_and(|i| i < run),
        "the first steps run labj before it is on PATH: {first_block}"
    );
}

/// Two tasks at concurrency 2 whose agents wait for the file `go` in the scratch dir
/// (and record their pid in `<trial>.pid`, for cleaning up after a crash).
fn gated_two(s: &Scratch) -> std::path::PathBuf {
    s.tasks(2);
    let d = s.dir().display();
    s.script(
        "agent.sh",
        &format!(
            "echo $$ > '{d}'/$AGENTLAB_TRIAL_ID.pid\nwhile [ ! -e '{d}/go' ]; do sleep 0.02; done\n{SUCCESS}"
        ),
    );
    s.experiment(&["a"], 1, 2, "")
}

fn wait_dispatched(run: &Path, n: usize) {
    wait_for(
        std::time::Duration::from_secs(60),
        "trials dispatched",
        || {
            (read_events(run)
                .iter()
                .filter(|e| e.event.kind() == "trial_dispatched")
                .count()
                >= n)
                .then_some(())
        },
    );
}

#[test]
fn after_a_kill_status_summary_and_trials_tell_stopped_trials_from_faults() {
    let s = Scratch::new();
    let exp = gated_two(&s);
    let mut child = s
        .labj_cmd(&["run", "--quiet", exp.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = wait_for(std::time::Duration::from_secs(60), "the run", || {
        s.first_run().filter(|r| journal_has_run(r))
    });
    wait_dispatched(&run, 2);
    let run_s = run.to_str().unwrap();
    let o = s.labj(&["kill", run_s]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        wait_within(&mut child, COMMAND_LIMIT, "labj run").code(),
        Some(4)
    );

    // Nothing runs the two trials any more: not "in flight", not "Stopping".
    let o = s.labj(&["status", run_s]);
    let out = stdout(&o);
    assert!(
        out.contains("0/2 slots committed, 0 in flight, 2 left unfinished by the session that stopped (`labj continue` re-runs them)"),
        "{out}"
    );
    assert!(
        out.contains("unfinished trials (no process runs them):"),
        "{out}"
    );
    assert!(
        !out.contains("Stopping") && !out.contains("2 in flight"),
        "{out}"
    );
    assert!(out.matches("[stopped]").count() == 2, "{out}");

    // Continued: the summary says the trials were re-run after being stopped, not after
    // infrastructure faults, and `labj trials` counts the lost attempts.
    std::fs::write(s.dir().join("go"), "").unwrap();
    let o = s.labj(&["continue", run_s]);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("re-run after being stopped (labj kill or Ctrl-C): 2 attempt(s)"),
        "{out}"
    );
    assert!(!out.contains("re-run after infrastructure faults"), "{out}");
    let o = s.labj(&["trials", run_s]);
    let out = stdout(&o);
    assert_eq!(out.matches(" 2 (1 re-run) ").count(), 2, "{out}");
    let o = s.labj(&["trials", run_s, "--json"]);
    for l in json_lines(&o) {
        assert_eq!(l["dispatches"], 2, "{l}");
    }
    check_journal(&run);
}

#[test]
fn a_crashed_runs_duration_does_not_shrink_after_the_crash() {
    let s = Scratch::new();
    let exp = gated_two(&s);
    let mut child = s
        .labj_cmd(&["run", "--quiet", exp.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = wait_for(std::time::Duration::from_secs(60), "the run", || {
        s.first_run().filter(|r| journal_has_run(r))
    });
    wait_dispatched(&run, 2);
    // The session lives on for 3 s with no event (the agents wait).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let live = |s: &Scratch| -> serde_json::Value {
        let o = s.labj(&["runs", "--json"]);
        serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).unwrap()[0].clone()
    };
    let before = live(&s);
    assert_eq!(before["status"], "running", "{before}");
    let alive_for = before["duration_secs"].as_f64().unwrap();
    assert!(alive_for >= 3.0, "{before}");
    // SIGKILL: no event, no lease release.
    child.kill().unwrap();
    child.wait().unwrap();
    let after = live(&s);
    assert_eq!(after["status"], "crashed", "{after}");
    let d = after["duration_secs"].as_f64().unwrap();
    // Within a heartbeat (1 s) of what it showed while alive, never less.
    assert!(
        d >= alive_for - 1.1,
        "duration shrank after the crash: {alive_for} s while alive, {d} s after"
    );
    // The orphaned agents are stopped.
    std::fs::write(s.dir().join("go"), "").unwrap();
    for e in std::fs::read_dir(s.dir()).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "pid") {
            let pid = read_pid(&e.path());
            // SAFETY: kill(2) on a pid this test's agent wrote; at worst it is gone.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}
