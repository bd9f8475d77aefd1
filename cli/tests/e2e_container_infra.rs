//! Machinery failures of containers are infrastructure, never the agent's verdict: real
//! podman with the runc runtime, which on these machines refuses to create a container
//! whose resource limits exceed the process's own (`runc create failed: … error setting
//! rlimit`, podman exit 126) unless `--ulimit` flags at or below them are passed.
//!
//! * preflight: `describe` and `run` start one throwaway container with the run's
//!   engine, image and arguments and refuse the run, quoting the engine and naming
//!   `LABJ_CONTAINER_ARGS`, before any trial;
//! * mid-run: a wrapper engine (podman itself, which drops the `--ulimit` flags from the
//!   trials' `run`s while a counter lasts: the runtime really refuses them) makes trials'
//!   containers fail to start after a successful preflight; those attempts are
//!   `spawn_failure`, re-run within the infra budget, never scored; when the budget runs
//!   out the run exits 3 (never green).

mod support;
use std::path::{Path, PathBuf};
use support::iso::*;
use support::*;

const ULIMITS: &str = "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024";

fn experiment(s: &Scratch, tasks: usize, max_infra_attempts: u32) -> PathBuf {
    s.tasks(tasks);
    let yaml = format!(
        "version: \"0.5\"
experiment: {{id: infra, name: container infra}}
dataset: {{path: tasks.jsonl}}
design:
  replications: 1
  max_concurrency: 1
  policies:
    scheduling: variant_sequential
    state: isolate_per_trial
    retry: {{max_attempts: 1, max_infra_attempts: {max_infra_attempts}}}
baseline: {{variant_id: base, bindings: {{}}}}
variant_plan: []
runtime:
  agent:
    image: {IMAGE_A}
    command: [\"sh\", \"-c\", {ok:?}]
    timeout_ms: 60000
  policy:
    sandbox: {{mode: container}}
    network: {{mode: none}}
",
        ok = RESULT_OK
    );
    s.write("experiment.yaml", &yaml)
}

/// `podman`, with this machine's `--ulimit` flags added to every `run` except the runs
/// of trial containers while `fails` (a counter file) is above zero: those the runtime
/// refuses (exit 126), as it refused every trial of the incident in issue 21.
fn flaky_engine(s: &Scratch, fails: u32) -> (PathBuf, PathBuf) {
    let counter = s.write("fails", &format!("{fails}\n"));
    let engine = s.script(
        "engine/podman",
        &format!(
            r#"if [ "$1" = run ]; then
  shift
  case "$*" in
    *"--name labj-"*trial_*)
      n=$(cat {c})
      if [ "$n" -gt 0 ]; then
        echo $((n - 1)) > {c}
        exec podman run "$@"
      fi;;
  esac
  exec podman run {ULIMITS} "$@"
fi
exec podman "$@""#,
            c = counter.display()
        ),
    );
    (engine, counter)
}

fn labj_with(s: &Scratch, engine: &Path, args: &[&str]) -> std::process::Output {
    let mut c = s.labj_cmd(args);
    c.env("LABJ_CONTAINER_ENGINE", engine)
        .env("LABJ_CONTAINER_ARGS", "--runtime runc");
    output_within(&mut c, COMMAND_LIMIT, &format!("labj {}", args.join(" ")))
}

#[test]
fn preflight_refuses_a_run_the_runtime_cannot_start_naming_the_setting() {
    require_podman();
    let s = Scratch::new();
    let exp = experiment(&s, 2, 3);
    let exp = exp.to_str().unwrap();
    for cmd in ["describe", "run"] {
        // Without the ulimit flags: runc may not raise the limits, every container fails.
        let mut c = s.labj_cmd(&[cmd, exp]);
        c.env("LABJ_CONTAINER_ENGINE", "podman")
            .env("LABJ_CONTAINER_ARGS", "--runtime runc");
        let out = output_within(&mut c, COMMAND_LIMIT, cmd);
        let t = text(&out);
        eprintln!(
            "--- labj {cmd} without ulimit flags: exit {:?}\n{t}",
            out.status.code()
        );
        assert!(!out.status.success(), "{cmd} must refuse: {t}");
        for want in [
            "cannot start a container of image `localhost/labj-test-a:1`",
            "throwaway container",
            "error setting rlimit",
            "LABJ_CONTAINER_ARGS",
            "--ulimit nofile=1024:1024",
            "/runtime/policy/sandbox/mode",
        ] {
            assert!(t.contains(want), "{cmd}: `{want}` missing in:\n{t}");
        }
    }
    // Refused before any trial: no run was created (or, at most, none dispatched).
    if let Some(run) = s.first_run() {
        let dispatched = read_events(&run)
            .iter()
            .filter(|e| e.event.kind() == "trial_dispatched")
            .count();
        assert_eq!(dispatched, 0, "a refused run dispatched trials");
    }
    // With the flags the same experiment runs.
    let out = labj_podman(&s, &["run", exp]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let p = check_journal(&s.the_run());
    assert_eq!(p.aggregates.variants["base"].succeeded, 2);
    // The probe containers are gone.
    let left = std::process::Command::new("podman")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=labj.preflight=1",
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "preflight containers left behind: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// `worker_lost` payloads of the run.
fn lost(run: &Path) -> Vec<serde_json::Value> {
    read_events(run)
        .iter()
        .filter(|e| e.event.kind() == "worker_lost")
        .map(|e| serde_json::from_str(&e.event.payload_json()).unwrap())
        .collect()
}

#[test]
fn containers_the_runtime_refuses_mid_run_are_infra_and_re_run() {
    require_podman();
    let s = Scratch::new();
    let exp = experiment(&s, 2, 3);
    // The preflight passes (its run is not a trial's); the first two trial containers
    // are refused by runc, then the runtime accepts them again.
    let (engine, counter) = flaky_engine(&s, 2);
    let out = labj_with(&s, &engine, &["run", exp.to_str().unwrap()]);
    let t = text(&out);
    eprintln!(
        "--- labj run, 2 trial containers refused: exit {:?}\n{t}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "0");
    let run = s.the_run();
    let p = check_journal(&run);
    let a = &p.aggregates.variants["base"];
    assert_eq!((a.committed, a.succeeded, a.scored()), (2, 2, 2), "{a:?}");
    let lost = lost(&run);
    eprintln!("worker_lost events: {lost:#?}");
    assert_eq!(lost.len(), 2, "{lost:?}");
    for w in &lost {
        let w = serde_json::to_string(w).unwrap();
        assert!(w.contains("spawn_failure"), "{w}");
        assert!(w.contains("\"retry\":true"), "{w}");
        assert!(w.contains("exit 126") && w.contains("rlimit"), "{w}");
    }
    // No verdict was recorded for a refused container: the lost attempts are
    // journaled as `worker_lost`, the committed completions are the successful re-runs.
    let completed = events_of(&s, &run, "trial_completed");
    assert_eq!(completed.len(), 2, "{completed:?}");
    for c in &completed {
        assert_eq!(c["payload"]["classification"], "success", "{c}");
    }
}

#[test]
fn containers_refused_until_the_budget_runs_out_make_the_run_exit_3() {
    require_podman();
    let s = Scratch::new();
    let exp = experiment(&s, 1, 2);
    let (engine, _) = flaky_engine(&s, 100);
    let out = labj_with(&s, &engine, &["run", exp.to_str().unwrap()]);
    let t = text(&out);
    eprintln!(
        "--- labj run, every trial container refused: exit {:?}\n{t}",
        out.status.code()
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "never green with infra faults: {t}"
    );
    let run = s.the_run();
    let p = check_journal(&run);
    let a = &p.aggregates.variants["base"];
    assert_eq!(a.committed, 1);
    assert_eq!(
        a.scored(),
        0,
        "an infrastructure fault is never scored: {a:?}"
    );
    let rows = fact_table(&run, "fact_trials");
    assert!(
        rows.iter().any(|r| r.iter().any(|c| c == "spawn_failure")),
        "{rows:?}"
    );
    // Two dispatches (the budget): the first journaled lost and re-run, the second
    // committed with the fault.
    let dispatched = read_events(&run)
        .iter()
        .filter(|e| e.event.kind() == "trial_dispatched")
        .count();
    assert_eq!(dispatched, 2);
    let lost = lost(&run);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0]["retry"], true, "{lost:?}");
    let done = events_of(&s, &run, "trial_completed");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        done[0]["payload"]["classification"], "spawn_failure",
        "{done:?}"
    );
    let out = labj_podman(&s, &["status", run.to_str().unwrap()])
        .output()
        .unwrap();
    let st = text(&out);
    eprintln!("--- labj status\n{st}");
    assert!(
        st.contains("spawn_failure") && st.contains("rlimit"),
        "{st}"
    );
}

#[test]
fn an_image_removed_mid_run_is_infra_never_the_agents_failure() {
    require_podman();
    let s = Scratch::new();
    // An image of its own (a commit of the test image: another id), removed by the
    // engine wrapper just before the first trial's container starts.
    let gone = format!("localhost/labj-gone-{}:1", std::process::id());
    let tmp_name = format!("labj-gone-src-{}", std::process::id());
    let ok = |args: &[&str]| {
        let st = std::process::Command::new("podman")
            .args(args)
            .output()
            .unwrap();
        assert!(st.status.success(), "podman {args:?}: {}", text(&st));
    };
    ok(&["create", "--name", &tmp_name, IMAGE_A, "true"]);
    ok(&["commit", "-q", &tmp_name, &gone]);
    ok(&["rm", "-f", &tmp_name]);
    let exp = experiment(&s, 1, 2);
    std::fs::write(
        &exp,
        std::fs::read_to_string(&exp)
            .unwrap()
            .replace(IMAGE_A, &gone),
    )
    .unwrap();
    let engine = s.script(
        "engine/podman",
        &format!(
            r#"if [ "$1" = run ]; then
  case "$*" in *"--name labj-"*trial_*) podman rmi -f {gone} >/dev/null 2>&1;; esac
  shift
  exec podman run {ULIMITS} "$@"
fi
exec podman "$@""#
        ),
    );
    let out = labj_with(&s, &engine, &["run", exp.to_str().unwrap()]);
    let t = text(&out);
    eprintln!(
        "--- labj run, image removed mid-run: exit {:?}\n{t}",
        out.status.code()
    );
    let _ = std::process::Command::new("podman")
        .args(["rmi", "-f", &gone])
        .output();
    assert_eq!(out.status.code(), Some(3), "{t}");
    let run = s.the_run();
    let lost = lost(&run);
    assert_eq!(lost.len(), 1, "{lost:?}");
    let reason = lost[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("exit 125") && reason.contains("image not known"),
        "{reason}"
    );
    let done = events_of(&s, &run, "trial_completed");
    assert_eq!(done.len(), 1, "{done:?}");
    let p = &done[0]["payload"];
    assert_eq!(p["classification"], "spawn_failure", "{p}");
    assert!(p["error"].as_str().unwrap().contains(&gone), "{p}");
}
