//! End-to-end tests of `labj run` on things going wrong: timeouts, bad result files,
//! infrastructure faults and exit codes, invalid experiments; plus the bundled example
//! and the p0 fixture. Every run ends with `check_journal`.

mod support;
use std::process::Command;
use support::recorded::*;
use support::*;

fn pid_alive(pid: i32) -> bool {
    // A zombie (killed, not yet reaped by init in a container) is not alive.
    proc_stat(pid).is_some_and(|f| f.first().is_some_and(|state| state != "Z" && state != "X"))
}

#[test]
fn timeout_commits_timeout_and_kills_the_grandchild() {
    let s = Scratch::new();
    s.tasks(1);
    s.script(
        "agent.sh",
        r#"sleep 30 &
echo $! >"$AGENTLAB_TRIAL_DIR/grandchild.pid"
sleep 30"#,
    );
    let exp = s.experiment(&["a"], 1, 1, "");
    edit_experiment(&s, "timeout_ms: 60000", "timeout_ms: 500");
    let started = std::time::Instant::now();
    let run = run_ok(&s, &exp, &[]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the run waited for the sleeping agent instead of timing it out"
    );
    let slots = committed_slots(&run);
    assert_eq!(slots, vec![(0, "failed".into(), "timeout".into())]);
    let pid = read_pid(&run.join("trials/trial_000000/grandchild.pid"));
    // The group is killed before the completion is reported; allow a moment for init
    // to reap it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while pid_alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!pid_alive(pid), "grandchild {pid} outlived its trial");
    check_journal(&run);
}

#[test]
fn malformed_missing_and_oversized_results_commit_as_trial_failures() {
    let s = Scratch::new();
    s.tasks(3);
    s.script(
        "agent.sh",
        r#"case "$AGENTLAB_TASK_ID" in
  task_000) printf '{"outcome":' >"$AGENTLAB_RESULT_PATH" ;;
  task_001) echo "forgot the result" ;;
  task_002)
    # Valid JSON padded past the 1 MiB limit: refused for its size alone.
    { printf '{"outcome":"success"'; head -c 1100000 /dev/zero | tr '\0' ' '; printf '}'; } >"$AGENTLAB_RESULT_PATH" ;;
esac"#,
    );
    let exp = s.experiment(&["a"], 1, 3, "");
    let run = run_ok(&s, &exp, &[]);
    let slots = committed_slots(&run);
    let classes: Vec<&str> = slots.iter().map(|(_, _, c)| c.as_str()).collect();
    assert_eq!(
        classes,
        ["result_parse_error", "result_missing", "result_parse_error"]
    );
    assert!(slots.iter().all(|(_, st, _)| st == "failed"), "{slots:?}");
    let details = fact_table(&run, "fact_trial_events");
    assert!(
        details[2][6].contains("limit"),
        "oversized result names the limit: {details:?}"
    );
    let proj = check_journal(&run);
    assert_eq!(proj.aggregates.overall.succeeded, 0);
}

#[test]
fn spawn_failure_is_an_infra_fault_that_sets_exit_code_three() {
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    // A program that cannot be found is refused before the run (agentlab_compat.rs);
    // one whose path depends on the trial fails only when spawned.
    edit_experiment(&s, "[\"./agent.sh\"]", UNSPAWNABLE);
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("infrastructure"),
        "{}",
        text(&out)
    );
    let first = s.the_run();
    let slots = committed_slots(&first);
    assert_eq!(slots.len(), 2);
    assert!(
        slots.iter().all(|(_, _, c)| c == "spawn_failure"),
        "{slots:?}"
    );
    let detail = &fact_table(&first, "fact_trial_events")[0][6];
    assert!(detail.contains("labj-e2e-no-such-agent"), "{detail}");
    check_journal(&first);

    std::fs::remove_dir_all(s.runs_dir()).unwrap();
    let out = s.labj(&[
        "run",
        exp.to_str().unwrap(),
        "--fail-on-infra-error",
        "100%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_journal(&s.the_run());
}

#[test]
fn describe_p0_fixture_does_not_panic() {
    let out = Command::new(labj_bin())
        .current_dir(repo_root())
        .args([
            "describe",
            "testdata/p0_benchmark_adaptation_trial_shape.json",
        ])
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!all.contains("panicked"), "{all}");
    // The fixture is a fragment (no experiment, dataset, baseline or runtime): describe
    // refuses it with exit 1, naming the file and each missing section.
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("p0_benchmark_adaptation_trial_shape.json: does not match schema"),
        "{all}"
    );
    assert!(all.contains("\"dataset\" is a required property"), "{all}");
}

#[test]
fn quickstart_example_runs_48_slots_and_careful_succeeds_everywhere() {
    let s = Scratch::new();
    let exp = repo_root().join("examples/quickstart/experiment.yaml");
    let run = run_ok(&s, &exp, &[]);
    let proj = check_journal(&run);
    assert_eq!(committed_slots(&run).len(), 48);
    assert_eq!(proj.progress.next_commit_idx, 48);
    let careful = &proj.aggregates.variants["careful"];
    assert_eq!(careful.success_rate(), Some(1.0), "{careful:?}");
}

#[test]
fn invalid_experiment_exits_1_names_file_and_pointer_and_creates_no_run() {
    let s = Scratch::new();
    s.tasks(2);
    let exp = s.experiment(&["a"], 1, 2, "");
    edit_experiment(&s, "max_concurrency: 2", "max_concurrency: many");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("experiment.yaml"), "names the file: {err}");
    assert!(
        err.contains("/design/max_concurrency"),
        "names the pointer: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let runs = s.runs_dir();
    let empty = !runs.exists() || std::fs::read_dir(&runs).unwrap().next().is_none();
    assert!(
        empty,
        "a run directory was created for an invalid experiment"
    );
}

#[test]
fn fail_on_infra_error_threshold_is_exclusive_share_of_trials_that_ran() {
    let s = Scratch::new();
    s.tasks(2);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a", "b"], 1, 2, "");
    // Variant b's own runtime points at a program that cannot be spawned (a per-trial
    // path no task stages): half the trials die of an infrastructure fault.
    edit_experiment(
        &s,
        "    bindings: {name: b}\n",
        &format!("    bindings: {{name: b}}\n    runtime:\n      agent:\n        command: {UNSPAWNABLE}\n"),
    );
    let exp = exp.to_str().unwrap();
    for (threshold, code) in [("49%", 3), ("50%", 0), ("49.9", 3)] {
        let _ = std::fs::remove_dir_all(s.runs_dir());
        let out = s.labj(&["run", exp, "--fail-on-infra-error", threshold]);
        assert_eq!(out.status.code(), Some(code), "{threshold}: {}", text(&out));
        let run = s.the_run();
        let classes: Vec<String> = committed_slots(&run).into_iter().map(|r| r.2).collect();
        assert_eq!(
            classes,
            ["success", "success", "spawn_failure", "spawn_failure"]
        );
        check_journal(&run);
    }
    let out = s.labj(&["run", exp, "--fail-on-infra-error", "lots"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--fail-on-infra-error"),
        "{}",
        text(&out)
    );
}

/// An agent command that passes every check before the run and fails when spawned: its
/// program is a per-trial path (`${AGENTLAB_…}`, checked as each trial starts) that no
/// task stages.
const UNSPAWNABLE: &str = "[\"${AGENTLAB_WORKSPACE_DIR}/labj-e2e-no-such-agent.sh\"]";

/// A script whose `#!` interpreter is missing cannot start: `describe` says so and `run`
/// refuses before creating anything (it was a spawn failure on every trial).
#[test]
fn a_script_whose_interpreter_is_missing_is_refused_before_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    s.tasks(2);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 2, "");
    let p = s.write("bad.sh", "#!/nonexistent/labj-e2e-interpreter\nexit 0\n");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    edit_experiment(&s, "[\"./agent.sh\"]", "[\"./bad.sh\"]");
    let exp = exp.to_str().unwrap();
    let d = s.labj(&["describe", exp]);
    let t = text(&d);
    assert!(
        t.contains("CANNOT START")
            && t.contains("names the interpreter `/nonexistent/labj-e2e-interpreter` on its #! line, which does not exist"),
        "{t}"
    );
    let out = s.labj(&["run", exp]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not runnable"), "{}", text(&out));
    assert!(
        std::fs::read_dir(s.runs_dir()).map_or(true, |mut d| d.next().is_none()),
        "a refused run left a run directory"
    );
}

/// A program whose path is a `${AGENTLAB_…}` template (a script each task stages into
/// its workspace) is checked as each trial starts: the task that stages it succeeds, the
/// one that does not is a spawn failure naming the expanded path.
#[test]
fn a_program_templated_per_trial_runs_where_the_task_stages_it() {
    let s = Scratch::new();
    let solve = "#!/bin/sh\nprintf '%s' '{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\"}' > \"$AGENTLAB_RESULT_PATH\"\n";
    let staged = serde_json::json!({
        "schema_version": "task_boundary_v1", "task": {"id": "staged"},
        "workspace_files": [{"path": "solve.sh", "content": solve, "executable": true}]
    });
    let bare = serde_json::json!({
        "schema_version": "task_boundary_v1", "task": {"id": "bare"},
        "workspace_files": [{"path": "notes.txt", "content": "x"}]
    });
    s.write("tasks.jsonl", &format!("{staged}\n{bare}\n"));
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 1, "");
    edit_experiment(
        &s,
        "[\"./agent.sh\"]",
        "[\"${AGENTLAB_WORKSPACE_DIR}/solve.sh\"]",
    );
    let exp = exp.to_str().unwrap();
    let d = s.labj(&["describe", exp]);
    assert!(
        text(&d).contains("path depends on the trial") && text(&d).contains("runnable    yes"),
        "{}",
        text(&d)
    );
    let out = s.labj(&[
        "run",
        exp,
        "--no-retry-lost",
        "--fail-on-infra-error",
        "100%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = s.the_run();
    let mut classes: Vec<String> = committed_slots(&run).into_iter().map(|r| r.2).collect();
    classes.sort();
    assert_eq!(classes, ["spawn_failure", "success"], "{}", text(&out));
    let events = s.labj(&[
        "events",
        run.to_str().unwrap(),
        "--kind",
        "trial_completed",
        "--json",
    ]);
    let ev = text(&events);
    assert!(
        ev.contains("trials/trial_000001/workspace/solve.sh`")
            && ev.contains("No such file or directory"),
        "{ev}"
    );
}
