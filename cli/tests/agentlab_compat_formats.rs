//! The original AgentLab runner's other experiment formats, each by a fixture written for
//! labj in the original's shapes (`testdata/agentlab/<case>/`), run unchanged through the
//! real `labj` binary in real podman containers (runc; the busybox test images of
//! scripts/setup.d/40-podman.sh): version 1.0 (the clean harness of its seed commit and
//! `lab init` profiles) and the current format (`runtime.agent_runtime`, `policy`,
//! `task_row_v1`, `trial_output_v1`, declared `metrics`, launch-time secrets).

mod support;
use journal::event::Classification;
use serde_json::Value;
use support::agentlab::*;
use support::iso::*;
use support::*;

/// sha256 hex of `s` (what the agents report instead of a secret).
fn sha256(s: &[u8]) -> String {
    use std::io::Write;
    let mut c = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    c.stdin.take().unwrap().write_all(s).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn compat_v1_clean_harness_runs_in_containers_with_variant_args_env_and_images() {
    require_podman();
    let s = Scratch::new();
    let exp = case_dir("clean_harness_v1").join("experiment.yaml");
    let out = labj_podman(&s, &["describe", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = String::from_utf8_lossy(&out.stdout);
    assert!(d.contains("version 1.0 (clean harness)"), "{d}");
    // Each variant's image and command line: command, its args, then the two paths.
    for (variant, image, args) in [
        ("control", IMAGE_A, ""),
        ("hot", IMAGE_A, " --temperature 0.9"),
        ("new_model", IMAGE_B, " --model m-2"),
        ("combined", IMAGE_B, " --temperature 0.9 --model m-2"),
    ] {
        let block = d
            .split("  - ")
            .find(|b| b.starts_with(variant))
            .unwrap_or_else(|| panic!("no variant {variant}:\n{d}"));
        assert!(block.contains(&format!("image:    {image}")), "{block}");
        assert!(
            block.contains(&format!("harness{args} /in/task.json /out/result.json")),
            "{block}"
        );
    }
    assert!(
        d.contains("network none") && d.contains("memory 256 MiB") && d.contains("read-only root"),
        "{d}"
    );

    let out = labj_podman(&s, &["run", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    let done = completed(&run);
    assert_eq!(done.len(), 8, "4 variants x 2 tasks (dataset.limit: 2)");
    let expect = [
        ("", "labj-test-a", ""),
        ("--temperature 0.9 ", "labj-test-a", ""),
        ("--model m-2 ", "labj-test-b", ""),
        ("--temperature 0.9 --model m-2 ", "labj-test-b", "1"),
    ];
    for (i, c) in done.values().enumerate() {
        assert_eq!(c.classification, Classification::Success, "{c:?}");
        let m = metrics(c);
        let (args, marker, debug) = expect[i / 2];
        assert_eq!(
            m["argv"],
            format!("{args}/in/task.json /out/result.json"),
            "variant args, then the task and result paths: {m:?}"
        );
        assert_eq!(m["image"], marker, "{m:?}");
        assert_eq!(m["debug"], debug, "variant env: {m:?}");
        assert_eq!(m["cwd"], "/", "the image's own working directory: {m:?}");
        assert_eq!(m["root"], "ro", "read-only root, as the original: {m:?}");
        assert_eq!(m["net"], "lo ", "network none: {m:?}");
        let prompt = if i % 2 == 0 {
            "Return the number 42"
        } else {
            "Reverse a string"
        };
        assert_eq!(m["prompt"], prompt, "the task row at /in/task.json: {m:?}");
        assert_eq!(m["accuracy"], 1.0, "the objective: {m:?}");
        let iso = c.isolation.as_ref().expect("isolation record");
        assert_eq!(iso.network, "none");
        assert_eq!(iso.limits.get("memory_mb"), Some(&256), "{iso:?}");
    }
    assert!(containers_of(&run_id(&run)).is_empty(), "containers left");
}

#[test]
fn compat_v1_init_profile_names_the_image_it_cannot_find() {
    // The original's `lab init --profile ab-test` file as it writes it: its image is a
    // placeholder no registry here has. labj validates it and refuses it by name.
    require_podman();
    let s = Scratch::new();
    s.write("tasks.jsonl", "{\"id\": \"t1\", \"prompt\": \"p\"}\n");
    let exp = s.write(
        "experiment.yaml",
        "version: \"1.0\"\nexperiment:\n  id: my_ab_test\n  name: Baseline vs Treatment\n  profile: ab-test\ndataset:\n  path: tasks.jsonl\n  limit: 100\ndesign:\n  comparison: paired\n  replications: 5\n  seed: 42\nbaseline:\n  variant_id: control\nvariant_plan:\n  - variant_id: treatment\n    args: [--model, claude-4]\nruntime:\n  image: my-harness:latest\n  command: [python, harness.py]\n  timeout_ms: 300000\n  network: none\n  resources:\n    cpus: 2\n    memory_mb: 2048\n",
    );
    let out = labj_podman(&s, &["describe", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("at /runtime/image: image `my-harness:latest` is not available"),
        "names the 1.0 field and the image: {all}"
    );
    assert!(
        all.contains("python harness.py --model claude-4 /in/task.json /out/result.json"),
        "the variant's command line is still shown: {all}"
    );
    assert!(!all.contains("does not implement"), "{all}");
    // A misspelt key of the 1.0 schema is named with its place.
    let bad = s.write(
        "bad.yaml",
        "version: \"1.0\"\nexperiment: {id: x, name: y}\ndataset: {path: tasks.jsonl}\ndesign: {replications: 1}\nbaseline: {variant_id: a}\nruntime: {image: i, command: [c], timout_ms: 5}\n",
    );
    let out = labj_podman(&s, &["describe", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = text(&out);
    assert!(
        all.contains("/runtime") && all.contains("timout_ms") && all.contains("experiment_v1_0"),
        "{all}"
    );
    // A field of the translated document is named as the 1.0 file writes it.
    let neg = s.write(
        "neg.yaml",
        "version: \"1.0\"\nexperiment: {id: x, name: y}\ndataset: {path: tasks.jsonl}\ndesign: {replications: 1}\nbaseline: {variant_id: a}\nruntime: {image: localhost/labj-test-a:1, command: [\"\"]}\n",
    );
    let out = labj_podman(&s, &["describe", neg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = text(&out);
    assert!(all.contains("/runtime/command"), "{all}");
}

#[test]
fn compat_current_format_runs_unchanged_and_keeps_secrets_out_of_every_record() {
    require_podman();
    let s = Scratch::new();
    let case = case_dir("current_format");
    let exp = case.join("experiment.yaml");
    const KEY: &str = "sk-test-9c1e7a0b-launch-secret";
    const FILE_KEY: &str = "sk-from-env-file-loses";
    const REGION: &str = "region-from-env-file";
    const TOKEN: &str = "tok-file-contents-4d2f";
    let env_file = s.write(
        ".env",
        &format!("# launch values\nexport API_KEY={FILE_KEY}\nREGION=\"{REGION}\"\nmodel=from-env-file\n"),
    );
    let token = s.write("token.txt", TOKEN);
    let launch = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend([
            "--env-file".into(),
            env_file.to_string_lossy().into_owned(),
            "--env".into(),
            format!("API_KEY={KEY}"),
            "--env".into(),
            "model=from-env-flag".into(),
            "--secret-file".into(),
            format!("token={}", token.display()),
        ]);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut c = labj_podman(&s, &refs);
        c.env("LABJ_COMPAT_HOST_ONLY", "from-host")
            .env("REGION", "region-from-host-loses");
        c
    };
    // Without the launch values, $API_KEY has nowhere to come from: refused by name.
    let out = labj_podman(&s, &["describe", exp.to_str().unwrap()])
        .env("LABJ_COMPAT_HOST_ONLY", "x")
        .env_remove("API_KEY")
        .env_remove("REGION")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = text(&out);
    assert!(
        all.contains("/runtime/agent_runtime/command/7") && all.contains("$REGION"),
        "names the first unresolved variable and where: {all}"
    );

    let out = launch(&["describe", "--json", exp.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["owner"], "labj-tests");
    assert_eq!(d["tags"], serde_json::json!(["compat", "current-format"]));
    assert_eq!(d["primary_metric"], "resolved");
    for secret in [KEY, FILE_KEY, REGION, TOKEN, "from-env-flag"] {
        assert!(
            !text(&out).contains(secret),
            "describe --json shows {secret}"
        );
    }

    let out = launch(&["run", exp.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    let done = completed(&run);
    assert_eq!(done.len(), 4, "2 variants x 2 task rows");
    for (i, c) in done.values().enumerate() {
        // The grader's trial_conclusion_v1 decides: T1 success, T2 failure.
        let (class, resolved) = if i % 2 == 0 {
            (Classification::Success, 1.0)
        } else {
            (Classification::Failure, 0.0)
        };
        assert_eq!(c.classification, class, "{c:?}");
        assert_eq!(
            c.outcome.as_deref(),
            Some(if i % 2 == 0 { "success" } else { "failure" })
        );
        let m = metrics(c);
        assert_eq!(
            m["resolved"], resolved,
            "the conclusion's primary_metric: {m:?}"
        );
        // What the grader was given: grader_input_v1, kept in its conclusion.
        let ev = c
            .evidence
            .iter()
            .find(|e| e.class == "trial_conclusion")
            .unwrap_or_else(|| panic!("no trial_conclusion evidence: {c:?}"));
        let conclusion: Value = serde_json::from_slice(&blob(&run, &ev.digest)).unwrap();
        let input = &conclusion["payload"]["input"];
        assert_eq!(input["schema_version"], "grader_input_v1");
        assert_eq!(input["ids"]["trial_id"], c.trial_id.as_str());
        assert_eq!(
            input["task"]["input"]["turns"],
            if i % 2 == 0 { 2 } else { 3 }
        );
        assert_eq!(
            input["paths"]["result_path"],
            "/agentlab/grader/result.json"
        );
        assert_eq!(input["agent_phase"]["exit_code"], 0);
        assert_eq!(
            input["candidate_artifact"]["state"], "missing",
            "no answer field"
        );
        for key in ["artifact_type", "workspace_delta", "workdir"] {
            assert!(
                input.get(key).is_some(),
                "grader_input_v1 requires {key}: {input}"
            );
        }
        let model = if i < 2 { "m-small" } else { "m-large" };
        // $NAME: the variant's binding first (over --env and --env-file), then --env
        // over --env-file, then the env file over labj's environment, then the host.
        assert_eq!(
            m["argv"],
            format!("run --provider local --model {model} --region {REGION} --from-host from-host"),
            "{m:?}"
        );
        assert_eq!(m["model_env"], model, "env values expand too: {m:?}");
        assert_eq!(
            m["key_sha"],
            sha256(KEY.as_bytes()),
            "--env wins over --env-file"
        );
        assert_eq!(
            m["token_sha"],
            sha256(TOKEN.as_bytes()),
            "the secret file at its target"
        );
        let (marker, cwd, turns) = if i % 2 == 0 {
            ("labj-test-a", "/tmp", 2.0)
        } else {
            ("labj-test-b", "/etc", 3.0)
        };
        assert_eq!(m["image"], marker, "the task row's image: {m:?}");
        assert_eq!(m["cwd"], cwd, "the task row's workdir: {m:?}");
        assert!(
            m["path"].as_str().unwrap().starts_with("/opt/agent/bin:"),
            "{m:?}"
        );
        // Declared metrics: the event stream summed and counted (model_call_end only:
        // tool_call_end's 1000 tokens are another type), runner.
        assert_eq!(m["turn_count"], turns, "{m:?}");
        let tokens: f64 = (1..=turns as u64).map(|t| (t * 10) as f64).sum();
        assert_eq!(m["tokens_in"], tokens, "{m:?}");
        assert!(m["duration_ms"].as_f64().unwrap() > 0.0, "{m:?}");
    }
    // `primary: true` makes `resolved` the trials' primary metric.
    let primary: Vec<String> = fact_table(&run, "fact_trials")
        .into_iter()
        .map(|row| row[8].clone())
        .collect();
    assert_eq!(
        primary,
        ["1.0", "0.0", "1.0", "0.0"],
        "primary_metric column"
    );
    // The labels are journaled with the document.
    let doc = journaled_experiment(&run);
    assert_eq!(doc["experiment"]["tags"][1], "current-format");
    assert_eq!(doc["experiment"]["owner"], "labj-tests");
    // No launch value in the journal, the run directory (logs, blobs) or labj's output.
    let mut files = vec![run.clone()];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&p).unwrap_or_default();
        for secret in [KEY, FILE_KEY, TOKEN] {
            assert!(!contains(&bytes, secret), "{secret} in {}", p.display());
        }
    }
    assert!(!contains(&journal_bytes(&run), KEY));
    assert!(!text(&out).contains(KEY), "labj's output");
    let out = s.labj(&["report", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("resolved"), "{}", text(&out));
    assert!(containers_of(&run_id(&run)).is_empty(), "containers left");
}

#[test]
fn compat_sdk_written_labels_are_accepted_journaled_and_shown_and_env_reaches_local_agents() {
    // The original SDK's `ExperimentBuilder` writes version 0.5 with experiment
    // description, owner and tags (labj refused /experiment/tags before), and its
    // schema allowed any other key there.
    let s = Scratch::new();
    s.tasks(1);
    s.script(
        "agent.sh",
        "printf '{\"outcome\":\"success\",\"metrics\":{\"launch_len\":%d}}' \"${#LAUNCH_ONLY}\" > \"$AGENTLAB_RESULT_PATH\"\n",
    );
    let exp = s.write(
        "experiment.yaml",
        "version: '0.5'\nexperiment:\n  id: rex_ab\n  name: Rex Prompt A/B\n  description: Compare prompt variants\n  owner: team-a\n  tags: [sdk, ab]\n  workload_type: agent_runtime\n  custom_note: any key the original's schema allowed\ndataset: {path: tasks.jsonl}\ndesign: {replications: 1}\nbaseline: {variant_id: control, bindings: {}}\nruntime:\n  agent:\n    command: [./agent.sh]\n",
    );
    let out = s.labj(&["describe", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let d = String::from_utf8_lossy(&out.stdout);
    assert!(
        d.contains("owner       team-a") && d.contains("tags        sdk, ab"),
        "{d}"
    );
    const SECRET: &str = "local-launch-secret-5e1d";
    let out = s.labj(&[
        "run",
        "--env",
        &format!("LAUNCH_ONLY={SECRET}"),
        exp.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let run = s.the_run();
    let doc = journaled_experiment(&run);
    assert_eq!(doc["experiment"]["tags"], serde_json::json!(["sdk", "ab"]));
    assert_eq!(
        doc["experiment"]["custom_note"],
        "any key the original's schema allowed"
    );
    let c = completed(&run);
    let m = metrics(c.values().next().unwrap());
    assert_eq!(
        m["launch_len"],
        SECRET.len() as f64,
        "--env reached the agent: {m:?}"
    );
    assert!(
        !contains(&journal_bytes(&run), SECRET),
        "the journal holds the secret"
    );
    // Bad launch values are named, not echoed.
    let out = s.labj(&["run", "--env", "NOEQUALS", exp.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("--env number 1 is not KEY=VALUE"),
        "{}",
        text(&out)
    );
    let out = s.labj(&[
        "run",
        "--env",
        "A=1",
        "--executor",
        "slurm",
        exp.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("run elsewhere"), "{}", text(&out));
}
