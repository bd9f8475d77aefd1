//! The AgentLab compatibility suite: experiments, datasets, agents and a benchmark
//! adapter written in the original runner's conventions (`testdata/agentlab/`, one
//! directory per convention), each run unchanged through the real `labj` binary. Every
//! test asserts what the agent read (it reports it back in its metrics) and that the
//! journaled outcomes and metrics equal what the agent or adapter wrote.
//!
//! Needs python3 (installed by scripts/setup.d/20-python3.sh).

mod support;
use journal::event::{Classification, Event, TrialCompleted};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::*;

fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/agentlab")
        .join(name)
}

fn require_python() {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python3 is required by the AgentLab compatibility suite (scripts/setup.d/20-python3.sh installs it)"
    );
}

/// Runs `testdata/agentlab/<name>/experiment.yaml` as it is; returns the scratch, the
/// run directory and the `labj run` output.
fn run_case(name: &str) -> (Scratch, PathBuf, std::process::Output) {
    require_python();
    let s = Scratch::new();
    let exp = case_dir(name).join("experiment.yaml");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    let run = s.the_run();
    check_journal(&run);
    (s, run, out)
}

/// The trial_completed events of a run, by trial id.
fn completed(run: &Path) -> BTreeMap<String, TrialCompleted> {
    read_events(run)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::TrialCompleted(c) => Some((c.trial_id.clone(), c)),
            _ => None,
        })
        .collect()
}

/// Every metric of a completion, numbers and the rest, as JSON.
fn metrics(c: &TrialCompleted) -> BTreeMap<String, Value> {
    let mut m: BTreeMap<String, Value> = c
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    m.extend(c.other_metrics.clone());
    m
}

fn task_ids(run: &Path) -> Vec<String> {
    let proj = check_journal(run);
    proj.run.expect("run").task_ids
}

#[test]
fn compat_readme_style_experiment_runs_unchanged() {
    let (_s, run, out) = run_case("readme_style");
    assert!(out.status.success(), "{}", text(&out));
    // Rows keyed `task_id` (no `id`) are task_<index>; dataset.limit keeps 3 of 4.
    assert_eq!(task_ids(&run), ["task_0", "task_1", "task_2"]);
    let done = completed(&run);
    assert_eq!(done.len(), 6, "2 variants x 3 tasks");
    let expect = [("t1", 3.0), ("t2", 5.0), ("t3", 7.0)];
    for (i, c) in done.values().enumerate() {
        assert_eq!(c.classification, Classification::Success, "{c:?}");
        assert_eq!(c.outcome.as_deref(), Some("success"));
        let m = metrics(c);
        let (row, words) = expect[i % 3];
        assert_eq!(m["read_task_id"], row, "the agent read its own task row");
        assert_eq!(m["prompt_words"], words);
        assert_eq!(m["model"], if i < 3 { "small" } else { "large" });
        assert_eq!(m["services"], 1.0, "dependencies.json holds the services");
        assert_eq!(m["timeout_ms"], 60000.0, "policy.json holds runtime.policy");
    }
}

#[test]
fn compat_python_harness_reads_input_and_writes_output() {
    let (_s, run, out) = run_case("io_harness");
    assert!(out.status.success(), "{}", text(&out));
    // Version 0.3; the boundary row without an id is task_1.
    assert_eq!(task_ids(&run), ["echo_1", "task_1"]);
    let done = completed(&run);
    assert_eq!(done.len(), 4, "2 tasks x 2 replications");
    for c in done.values() {
        assert_eq!(c.classification, Classification::Success, "{c:?}");
        let m = metrics(c);
        assert_eq!(
            m["input_is_task_path"], true,
            "--input is the task document"
        );
        assert_eq!(
            m["output_is_result_path"], true,
            "--output is the result path"
        );
        assert_eq!(
            m["trial_arg"],
            c.trial_id.as_str(),
            "${{AGENTLAB_TRIAL_ID}} expanded"
        );
        let echo = m["trial_input_task_id"] == "echo_1";
        assert_eq!(
            m["read_prompt"],
            if echo {
                "Return the number 42"
            } else {
                "A boundary row without an id"
            }
        );
        assert_eq!(
            m["workspace_notes"], !echo,
            "boundary workspace_files staged"
        );
        let image = if echo {
            json!("python:3.12-slim")
        } else {
            Value::Null
        };
        assert_eq!(
            m["task_image"], image,
            "AGENTLAB_TASK_IMAGE only for a task image"
        );
    }
}

#[test]
fn compat_command_string_and_io_flag_forms() {
    let (_s, run, out) = run_case("command_string");
    assert!(out.status.success(), "{}", text(&out));
    let done = completed(&run);
    let c = done.values().next().expect("one trial");
    assert_eq!(c.classification, Classification::Success, "{c:?}");
    let m = metrics(c);
    assert_eq!(m["read_prompt"], "argv");
    assert_eq!(m["argc"], 2.0);
    assert_eq!(
        m["argv"],
        "--task=$TRIAL/task.json result:$TRIAL/attempt_1/result.json"
    );
}

#[test]
fn compat_result_shapes_are_journaled_as_written() {
    let (_s, run, out) = run_case("result_shapes");
    assert!(out.status.success(), "{}", text(&out));
    let done = completed(&run);
    let by_label: BTreeMap<String, &TrialCompleted> = done
        .values()
        .map(|c| (metrics(c)["label"].as_str().unwrap().to_string(), c))
        .collect();
    for (label, class, outcome) in [
        ("t-answered", Classification::Success, "success"),
        ("t-wrong", Classification::Failure, "failure"),
        ("t-unanswered", Classification::Failure, "missing"),
    ] {
        let c = by_label[label];
        assert_eq!(c.classification, class, "{c:?}");
        assert_eq!(c.outcome.as_deref(), Some(outcome));
        assert_eq!(
            c.metrics,
            BTreeMap::from([("latency_ms".to_string(), 12.5)])
        );
        assert_eq!(
            c.other_metrics,
            BTreeMap::from([
                ("label".to_string(), json!(label)),
                ("passed_lint".to_string(), json!(outcome == "success")),
                ("reward".to_string(), Value::Null),
            ])
        );
    }
}

#[test]
fn compat_benchmark_adapter_writes_predictions_and_scores() {
    let (_s, run, out) = run_case("adapter");
    assert!(out.status.success(), "{}", text(&out));
    let done = completed(&run);
    let mut seen = BTreeMap::new();
    for c in done.values() {
        let m = metrics(c);
        seen.insert(
            m["expected"].as_str().unwrap().to_string(),
            (
                c.classification,
                c.outcome.clone(),
                m["resolved"].clone(),
                m["answered"].clone(),
            ),
        );
        let scores = run
            .join("trials")
            .join(&c.trial_id)
            .join("attempt_1/grader/benchmark");
        for f in ["scores.jsonl", "predictions.jsonl"] {
            let rows = std::fs::read_to_string(scores.join(f)).unwrap();
            assert_eq!(rows.lines().count(), 1, "{f}: one row for this trial");
            let row: Value = serde_json::from_str(rows.trim()).unwrap();
            assert_eq!(row["ids"]["trial_id"], c.trial_id.as_str());
        }
        assert!(c.evidence.iter().any(|e| e.class == "benchmark_scores"));
    }
    assert_eq!(
        seen,
        BTreeMap::from([
            (
                "5".into(),
                (
                    Classification::Success,
                    Some("pass".into()),
                    json!(1.0),
                    json!(true)
                )
            ),
            (
                "41".into(),
                (
                    Classification::Failure,
                    Some("fail".into()),
                    json!(0.0),
                    json!(true)
                )
            ),
            (
                "?".into(),
                (
                    Classification::Failure,
                    Some("missing".into()),
                    json!(0.0),
                    json!(false)
                )
            ),
        ])
    );
}

#[test]
fn compat_unspawnable_variant_fails_fast() {
    let (_s, run, out) = run_case("fail_fast");
    // Spawn failures are infrastructure faults: the run is not green (exit 3).
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("variant `broken` stopped: its first 3 trial(s) all failed to spawn"),
        "{err}"
    );
    let done = completed(&run);
    let broken: Vec<&TrialCompleted> = done.values().filter(|c| c.schedule_idx < 6).collect();
    assert_eq!(
        broken.len(),
        3,
        "only the first 3 slots of `broken` were attempted"
    );
    assert!(broken
        .iter()
        .all(|c| c.classification == Classification::SpawnFailure));
    let skipped = committed_slots(&run)
        .into_iter()
        .filter(|(_, status, _)| status == "skipped_pruned")
        .count();
    assert_eq!(skipped, 3);
    let works = done.values().filter(|c| c.schedule_idx >= 6).count();
    assert_eq!(works, 6);
    let warnings: Vec<String> = read_events(&run)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::BackendWarning(w) => Some(w.code),
            _ => None,
        })
        .collect();
    assert_eq!(warnings, ["variant_unspawnable"]);
}

#[test]
fn compat_describe_checks_programs_and_run_refuses_what_cannot_start() {
    let s = Scratch::new();
    s.tasks(1);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 1, "");
    let yaml = std::fs::read_to_string(&exp).unwrap();
    let out = s.labj(&["describe", exp.to_str().unwrap()]);
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        t.contains("agent (variant a): ok (found, executable)"),
        "{t}"
    );
    assert!(t.contains("runnable    yes"), "{t}");

    for (command, why) in [
        ("[\"./missing.sh\"]", "missing.sh` does not exist"),
        (
            "[\"no-such-program-xyz\"]",
            "`no-such-program-xyz` is not on PATH",
        ),
        ("\"python3 agent.py\"", "a string command is one program"),
        ("[\"./tasks.jsonl\"]", "is not an executable file"),
        ("[\"sh\", \"./nope.sh\"]", "nope.sh` does not exist"),
    ] {
        let bad = s.write(
            "bad.yaml",
            &yaml.replace("command: [\"./agent.sh\"]", &format!("command: {command}")),
        );
        let out = s.labj(&["describe", bad.to_str().unwrap()]);
        let t = String::from_utf8_lossy(&out.stdout);
        assert!(
            t.contains("CANNOT START") && t.contains(why),
            "{command}: {t}"
        );
        assert!(t.contains("runnable    NO"), "{t}");
        let out = s.labj(&["run", bad.to_str().unwrap()]);
        assert!(!out.status.success(), "{command}: {}", text(&out));
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains("not runnable") && e.contains(why),
            "{command}: {e}"
        );
    }
    assert!(s.first_run().is_none(), "no run was created");
}

#[test]
fn compat_typos_and_unimplemented_fields_are_refused() {
    let s = Scratch::new();
    s.tasks(1);
    s.script("agent.sh", SUCCESS);
    let exp = s.experiment(&["a"], 1, 1, "");
    let yaml = std::fs::read_to_string(&exp).unwrap();
    let line_of =
        |needle: &str, text: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (from, to, pointer, want) in [
        (
            "    timeout_ms: 60000",
            "    timout_ms: 60000",
            "/runtime/agent/timout_ms",
            "did you mean `timeout_ms`?",
        ),
        (
            "primary_metric: score",
            "primary_metrc: score",
            "/primary_metrc",
            "did you mean `primary_metric`?",
        ),
        (
            "  replications: 1",
            "  replicatoins: 1",
            "/design/replicatoins",
            "did you mean `replications`?",
        ),
        (
            "dataset: {path: tasks.jsonl}",
            "dataset: {path: tasks.jsonl, limt: 1}",
            "/dataset/limt",
            "did you mean `limit`?",
        ),
        (
            // Isolation sections are checked like the rest (before anything is enforced).
            "    timeout_ms: 60000",
            "    timeout_ms: 60000\n  policy:\n    sandbox:\n      resources:\n        memroy_mb: 64",
            "/runtime/policy/sandbox/resources/memroy_mb",
            "did you mean `memory_mb`?",
        ),
        (
            "primary_metric: score",
            "primary_metric: score\nvalidity: {fail_on_state_leak: true}",
            "/validity",
            "not implemented in labj yet",
        ),
    ] {
        let text = yaml.replace(from, to);
        assert_ne!(text, yaml, "{from}");
        let bad = s.write("typo.yaml", &text);
        let out = s.labj(&["describe", bad.to_str().unwrap()]);
        assert!(!out.status.success());
        let e = String::from_utf8_lossy(&out.stderr);
        let key = pointer.rsplit('/').next().unwrap();
        let line = line_of(&format!("{key}:"), &text);
        assert!(
            e.contains(&format!("typo.yaml:{line}: at {pointer}:")),
            "{e}"
        );
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn compat_labj_grader_under_the_adapter_key_gets_a_clear_error() {
    let s = Scratch::new();
    s.tasks(1);
    s.script("agent.sh", SUCCESS);
    s.script(
        "grader.sh",
        r#"printf '{"schema_version":"grade_result_v1","outcome":"success"}' >"$AGENTLAB_GRADE_PATH""#,
    );
    let exp = s.experiment(&["a"], 1, 1, "");
    let yaml = std::fs::read_to_string(&exp).unwrap().replace(
        "primary_metric: score",
        "benchmark:\n  adapter:\n    command: [./grader.sh]\nprimary_metric: score",
    );
    let exp = s.write("experiment.yaml", &yaml);
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let done = completed(&s.the_run());
    let c = done.values().next().expect("one trial");
    assert_eq!(c.classification, Classification::GradeError, "{c:?}");
    let e = c.error.clone().unwrap_or_default();
    assert!(
        e.contains("adapter_manifest.json")
            && e.contains("labj's per-trial grader contract is benchmark.grader"),
        "{e}"
    );
}
