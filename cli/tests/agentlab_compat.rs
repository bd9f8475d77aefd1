//! The AgentLab compatibility suite: experiments, datasets, agents, a Node harness and a
//! benchmark adapter written in the original runner's conventions (`testdata/agentlab/`,
//! one directory per convention), each run unchanged through the real `labj` binary.
//! Every test asserts what the agent read (it reports it back in its metrics) and that
//! the journaled outcomes and metrics equal what the agent or adapter wrote. The design
//! policies (retry, pruning, required evidence) are in `agentlab_compat_policies.rs`.
//!
//! Needs python3 and node (installed by scripts/setup.d/20-python3.sh, 21-node.sh).

mod support;
use journal::event::{Classification, Event, TrialCompleted};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use support::agentlab::*;
use support::*;

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
    // The README's telemetry and validity blocks are recorded as written.
    let doc = journaled_experiment(&run);
    assert_eq!(
        doc["runtime"]["telemetry"]["causal_extraction"],
        "event_envelope_v1"
    );
    assert_eq!(doc["validity"]["fail_on_state_leak"], true);
}

#[test]
fn compat_node_harness_reads_input_and_writes_output() {
    require_node();
    let (_s, run, out) = run_case("node_harness");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(task_ids(&run), ["sum", "haiku", "skip"]);
    let done = completed(&run);
    assert_eq!(done.len(), 6, "2 variants x 3 tasks");
    let prompts = [("sum", 4.0), ("haiku", 5.0), ("skip", 3.0)];
    for (i, c) in done.values().enumerate() {
        let (task, words) = prompts[i % 3];
        let style = if i < 3 { "terse" } else { "verbose" };
        let (class, outcome, score) = match task {
            "sum" => (Classification::Success, "success", 1.0),
            "haiku" => (Classification::Failure, "failure", 0.25),
            _ => (Classification::Failure, "missing", 0.25),
        };
        assert_eq!(c.classification, class, "{c:?}");
        assert_eq!(c.outcome.as_deref(), Some(outcome), "{c:?}");
        // Exactly what the harness wrote: numbers (the objective among them) and the rest.
        assert_eq!(
            c.metrics,
            BTreeMap::from([
                ("prompt_words".to_string(), words),
                ("policy_timeout_ms".to_string(), 30000.0),
                ("env_timeout_ms".to_string(), 30000.0),
                ("services".to_string(), 0.0),
                ("score".to_string(), score),
            ]),
            "{c:?}"
        );
        assert_eq!(
            c.other_metrics,
            BTreeMap::from([
                ("read_task_id".to_string(), json!(task)),
                ("style".to_string(), json!(style)),
                ("input_is_task_path".to_string(), json!(true)),
                ("output_is_result_path".to_string(), json!(true)),
                ("judge".to_string(), Value::Null),
            ]),
            "the harness read its own task from --input and wrote --output: {c:?}"
        );
        // Its trajectory and the file it left in the workspace are kept.
        let traj = c
            .artifacts
            .iter()
            .find(|a| a.name == "attempt_1/trajectory.jsonl")
            .expect("trajectory stored");
        let line: Value = serde_json::from_slice(&blob(&run, &traj.digest)).unwrap();
        assert_eq!(line["usage"]["tokens_in"], words);
        let diff = c
            .evidence
            .iter()
            .find(|e| e.class == "workspace_diff")
            .expect("workspace diff");
        let diff: Value = serde_json::from_slice(&blob(&run, &diff.digest)).unwrap();
        assert_eq!(
            diff["added"],
            json!([format!("notes/{task}.txt")]),
            "{diff}"
        );
    }
}

#[test]
fn compat_runtime_overrides_give_each_variant_its_runtime() {
    let (_s, run, out) = run_case("runtime_overrides");
    assert!(out.status.success(), "{}", text(&out));
    let done = completed(&run);
    assert_eq!(done.len(), 3);
    let by_variant: BTreeMap<u64, BTreeMap<String, Value>> = done
        .values()
        .map(|c| (c.schedule_idx, metrics(c)))
        .collect();
    let io = "--input $TRIAL/task.json --output $TRIAL/attempt_1/result.json";
    for (idx, agent, argv, greeting, extra, timeout, services) in [
        // baseline: only its env override, merged into runtime.agent.env
        (
            0,
            "main",
            io,
            "hello",
            json!("from-baseline"),
            30000.0,
            "cache",
        ),
        // alt_io: io flags, one env key and the policy timeout replaced
        (
            1,
            "main",
            "--task $TRIAL/task.json --result=$TRIAL/attempt_1/result.json",
            "bonjour",
            Value::Null,
            45000.0,
            "cache",
        ),
        // other_agent: its own command (path resolved) and a replaced services list
        (2, "other", io, "hello", Value::Null, 30000.0, "cache,index"),
    ] {
        let m = &by_variant[&idx];
        assert_eq!(m["agent"], agent, "slot {idx}: {m:?}");
        assert_eq!(m["argv"], argv, "slot {idx}");
        assert_eq!(m["greeting"], greeting, "slot {idx}");
        assert_eq!(m["extra"], extra, "slot {idx}");
        assert_eq!(m["policy_timeout_ms"], timeout, "slot {idx}");
        assert_eq!(m["env_timeout_ms"], timeout, "slot {idx}: enforced");
        assert_eq!(m["services"], services, "slot {idx}");
    }
    // Env values of overrides are secrets like runtime.agent.env: redacted in the journal.
    let doc = journaled_experiment(&run);
    assert_eq!(
        doc["variant_plan"][0]["runtime_overrides"]["agent"]["env"]["GREETING"],
        "<redacted>"
    );

    // What the overrides may not change, and typos inside them, are refused by name.
    let s = Scratch::new();
    let yaml =
        std::fs::read_to_string(case_dir("runtime_overrides").join("experiment.yaml")).unwrap();
    for (from, to, want) in [
        (
            "      policy:\n        timeout_ms: 45000",
            "      policy:\n        network: {mode: none}",
            "at /variant_plan/0/runtime_overrides/policy/network: runtime_overrides may not change runtime.policy.network",
        ),
        (
            "        command: [python3, ./other/agent.py]",
            "        comand: [python3, ./other/agent.py]",
            "at /variant_plan/1/runtime_overrides/agent/comand: unknown field `comand`; did you mean `command`?",
        ),
        (
            "      policy:\n        timeout_ms: 45000",
            "      policy:\n        timeout_ms: soon",
            "/variant_plan/0/runtime_overrides/policy/timeout_ms",
        ),
    ] {
        let text = yaml.replace(from, to);
        assert_ne!(text, yaml, "{from}");
        let dir = s.dir().join("bad");
        std::fs::create_dir_all(dir.join("other")).unwrap();
        for f in ["tasks.jsonl", "agent.py", "other/agent.py"] {
            std::fs::copy(case_dir("runtime_overrides").join(f), dir.join(f)).unwrap();
        }
        let bad = dir.join("experiment.yaml");
        std::fs::write(&bad, &text).unwrap();
        let out = s.labj(&["describe", bad.to_str().unwrap()]);
        assert!(!out.status.success(), "{to}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(want), "{to}: {e}");
    }
}

#[test]
fn compat_task_boundary_rows_and_required_workspace() {
    let (_s, run, out) = run_case("task_boundary");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(task_ids(&run), ["text_files", "task_1"]);
    let done = completed(&run);
    let by_idx: BTreeMap<u64, BTreeMap<String, Value>> = done
        .values()
        .map(|c| (c.schedule_idx, metrics(c)))
        .collect();
    let text_files = &by_idx[&0];
    assert_eq!(text_files["notes"], "hello from the row\n");
    assert_eq!(text_files["run_sh_executable"], true, "executable: true");
    assert_eq!(text_files["run_sh_says"], "ran-now");
    // limits.trial_seconds: 20 is the timeout, in the policy document and enforced.
    assert_eq!(text_files["policy_timeout_ms"], 20000.0);
    assert_eq!(text_files["env_timeout_ms"], 20000.0);
    assert_eq!(text_files["max_steps"], 5.0);
    let bytes = &by_idx[&1];
    assert_eq!(bytes["data_hex"], "009f9296ff", "encoding: base64 decoded");
    assert_eq!(bytes["policy_timeout_ms"], 60000.0);

    // require_workspace_materialization: a task without workspace files is refused
    // before anything runs, naming its line.
    let s = Scratch::new();
    let dir = s.dir().join("bare");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["experiment.yaml", "agent.py", "tasks.jsonl"] {
        std::fs::copy(case_dir("task_boundary").join(f), dir.join(f)).unwrap();
    }
    let mut rows = std::fs::read_to_string(dir.join("tasks.jsonl")).unwrap();
    rows.push_str("{\"id\": \"bare\", \"goal\": \"no files\"}\n");
    std::fs::write(dir.join("tasks.jsonl"), rows).unwrap();
    let exp = dir.join("experiment.yaml");
    for cmd in ["describe", "run"] {
        let out = s.labj(&[cmd, exp.to_str().unwrap()]);
        assert!(!out.status.success(), "{cmd}: {}", text(&out));
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains("tasks.jsonl:3: task `bare` brings no workspace")
                && e.contains("require_workspace_materialization"),
            "{cmd}: {e}"
        );
    }
    assert!(s.first_run().is_none(), "no run was created");
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
fn compat_typos_and_removed_fields_are_refused() {
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
            // The original removed runtime.harness: refused with its replacement.
            "    timeout_ms: 60000",
            "    timeout_ms: 60000\n  harness: {mode: cli}",
            "/runtime/harness",
            "use runtime.agent",
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
