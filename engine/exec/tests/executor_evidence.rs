//! Grading, required evidence, workspace manifests and diff, and the env contract.

mod executor_support;

use exec::executor::{execute_trial, TrialControl};
use executor_support::{agent, sh, spec, write_result};
use journal::event::Classification;
use model::trial::{AgentIo, DependencyFile, GraderSpec, WorkspaceFile};
use std::collections::BTreeMap;
use std::path::Path;

fn grader(mode: &str, required: &[&str]) -> (GraderSpec, (String, String)) {
    (
        GraderSpec {
            command: agent("grader.sh"),
            required_evidence_classes: required.iter().map(|s| s.to_string()).collect(),
            contract: Default::default(),
            ..Default::default()
        },
        ("GRADE_MODE".to_string(), mode.to_string()),
    )
}

fn graded_spec(tmp: &Path, mode: &str, required: &[&str]) -> model::trial::TrialSpec {
    let mut s = spec(tmp, agent("ok.sh"));
    let (g, (k, v)) = grader(mode, required);
    s.grader = Some(g);
    s.agent.env.insert(k, v);
    s
}

#[test]
fn executor_grader_success_overrides_and_merges_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let s = graded_spec(tmp.path(), "success", &["grader_report", "workspace_diff"]);
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Success, "{out:?}");
    assert_eq!(out.metrics["score"], 1.0, "grade metrics win");
    assert_eq!(out.metrics["steps"], 3.0, "agent metrics kept");
    assert_eq!(out.metrics["graded"], 1.0);
    let report = out
        .evidence
        .iter()
        .find(|e| e.class == "grader_report")
        .expect("grader evidence");
    // The grader works in its own directory, created after the agent exited.
    assert_eq!(report.path, "trials/t1/attempt_1/grader/grader_report.txt");
    assert!(out
        .artifacts
        .iter()
        .any(|a| a.name == "attempt_1/grader/grade.json"));
    assert!(
        out.evidence.iter().all(|e| e.class != "tamper"),
        "an honest agent leaves no tamper evidence: {:?}",
        out.evidence
    );
}

#[test]
fn executor_grader_failure_overrides_agent_success() {
    let tmp = tempfile::tempdir().unwrap();
    let out = execute_trial(
        &graded_spec(tmp.path(), "failure", &[]),
        &TrialControl::new(),
    );
    assert_eq!(out.classification, Classification::Failure, "{out:?}");
    assert_eq!(out.outcome.as_deref(), Some("failure"));
    assert_eq!(out.metrics["score"], 0.0);
}

#[test]
fn executor_malformed_grade_is_grade_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = execute_trial(
        &graded_spec(tmp.path(), "malformed", &[]),
        &TrialControl::new(),
    );
    assert_eq!(out.classification, Classification::GradeError, "{out:?}");
    assert!(out.error.unwrap().contains("grade.json"));

    let tmp = tempfile::tempdir().unwrap();
    let out = execute_trial(&graded_spec(tmp.path(), "exit", &[]), &TrialControl::new());
    assert_eq!(out.classification, Classification::GradeError);
    assert!(out.error.unwrap().contains("grader exited with code 3"));

    let tmp = tempfile::tempdir().unwrap();
    let mut s = graded_spec(tmp.path(), "success", &[]);
    s.grader.as_mut().unwrap().command = vec!["/nonexistent/grader".into()];
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::GradeError);
}

#[test]
fn executor_missing_required_evidence_is_grade_error_naming_the_class() {
    let tmp = tempfile::tempdir().unwrap();
    // ok.sh does not touch the workspace, so there is no agent_patch.
    let s = graded_spec(tmp.path(), "success", &["agent_patch", "grader_report"]);
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::GradeError, "{out:?}");
    let err = out.error.unwrap();
    assert!(
        err.contains("missing required evidence classes: agent_patch ("),
        "{err}"
    );
}

#[test]
fn executor_grader_not_run_after_agent_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = graded_spec(tmp.path(), "success", &[]);
    s.agent.command = sh("exit 2");
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::AgentExitNonzero);
    assert!(!s.trial_dir.join("attempt_1/grader").exists());
    assert!(!s.trial_dir.join("grade.json").exists());
}

#[test]
fn executor_workspace_files_and_diff_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "printf 'changed\\n' > a.txt; echo new > c.txt; rm sub/b.txt; {}",
        write_result(r#"{"outcome":"success"}"#)
    );
    let mut s = spec(tmp.path(), sh(&script));
    s.workspace_files = vec![
        WorkspaceFile::text("a.txt", "hello\n"),
        WorkspaceFile::text("sub/b.txt", "bee"),
        WorkspaceFile::text("keep.txt", "same"),
    ];
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Success, "{out:?}");

    let diff: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.trial_dir.join("workspace_diff.json")).unwrap())
            .unwrap();
    assert_eq!(diff["added"], serde_json::json!(["c.txt"]));
    assert_eq!(diff["removed"], serde_json::json!(["sub/b.txt"]));
    assert_eq!(diff["modified"], serde_json::json!(["a.txt"]));

    let manifests: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.trial_dir.join("workspace_manifest.json")).unwrap(),
    )
    .unwrap();
    let pre = &manifests["pre"];
    assert_eq!(
        pre["a.txt"]["digest"],
        blake3::hash(b"hello\n").to_hex().to_string()
    );
    let post = &manifests["post"];
    assert_eq!(post["c.txt"]["bytes"], 4);

    let classes: Vec<&str> = out.evidence.iter().map(|e| e.class.as_str()).collect();
    assert_eq!(classes, ["workspace_diff", "agent_patch"]);
    let diff_ev = &out.evidence[0];
    assert_eq!(diff_ev.path, "trials/t1/workspace_diff.json");
    assert!(s
        .blob_dir
        .join(&diff_ev.digest[..2])
        .join(&diff_ev.digest)
        .is_file());
    let patch = std::fs::read_to_string(s.trial_dir.join("agent_patch.diff")).unwrap();
    assert!(
        patch.contains("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-hello\n+changed\n"),
        "{patch}"
    );
    assert!(patch.contains("--- /dev/null\n+++ b/c.txt\n"), "{patch}");
    assert!(
        patch.contains("--- a/sub/b.txt\n+++ /dev/null\n"),
        "{patch}"
    );
}

#[test]
fn executor_refuses_unsafe_workspace_paths() {
    for bad in ["/etc/passwd", "../escape.txt", "a/../../b"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = spec(tmp.path(), agent("ok.sh"));
        s.workspace_files = vec![WorkspaceFile::text(bad, "x")];
        let out = execute_trial(&s, &TrialControl::new());
        assert_eq!(out.classification, Classification::Error, "{bad}");
        let err = out.error.unwrap();
        assert!(
            err.contains("workspace file refused") && err.contains(bad),
            "{err}"
        );
        assert!(out.attempts.is_empty());
    }
}

#[test]
fn executor_env_contract_is_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), agent("env_dump.sh"));
    s.agent.env = BTreeMap::from([
        ("MY_VAR".to_string(), "1".to_string()),
        // The contract wins over user env.
        ("AGENTLAB_TRIAL_ID".to_string(), "spoofed".to_string()),
    ]);
    s.agent.io = AgentIo {
        input_arg: Some("--input".into()),
        output_arg: Some("--output".into()),
    };
    s.dependency_files = vec![DependencyFile {
        source: "agents/ok.sh".into(),
        dest: "tools/ok.sh".into(),
    }];
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Success, "{out:?}");

    let env: BTreeMap<String, String> = std::fs::read_to_string(s.trial_dir.join("env.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for key in [
        "AGENTLAB_TASK_PATH",
        "AGENTLAB_BINDINGS_PATH",
        "AGENTLAB_DEPENDENCIES_PATH",
        "AGENTLAB_POLICY_PATH",
        "AGENTLAB_TRIAL_DIR",
    ] {
        let p = Path::new(&env[key]);
        assert!(p.is_absolute() && p.exists(), "{key}={}", env[key]);
    }
    // The agent left its workspace empty: scratch, removed once the trial ended.
    let ws = Path::new(&env["AGENTLAB_WORKSPACE_DIR"]);
    assert!(ws.is_absolute() && ws.parent().unwrap().is_dir());
    assert!(!ws.exists(), "an empty workspace is not kept");
    for key in ["AGENTLAB_RESULT_PATH", "AGENTLAB_TRAJECTORY_PATH"] {
        let p = Path::new(&env[key]);
        assert!(p.is_absolute() && p.parent().unwrap().is_dir(), "{key}");
    }
    assert!(Path::new(&env["AGENTLAB_RESULT_PATH"]).is_file());
    let task: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&env["AGENTLAB_TASK_PATH"]).unwrap()).unwrap();
    assert_eq!(task, s.task);
    assert_eq!(env["AGENTLAB_TIMEOUT_MS"], "10000");
    assert_eq!(env["AGENTLAB_RUN_ID"], "run_1");
    assert_eq!(env["AGENTLAB_TRIAL_ID"], "t1");
    assert_eq!(env["AGENTLAB_VARIANT_ID"], "variant_a");
    assert_eq!(env["AGENTLAB_TASK_ID"], "task_x");
    assert_eq!(env["AGENTLAB_REPL_IDX"], "2");
    assert_eq!(env["AGENTLAB_ATTEMPT"], "1");
    assert!(!env.contains_key("AGENTLAB_GRADE_PATH"));

    let args = std::fs::read_to_string(s.trial_dir.join("args.txt")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    // As the original runner: the task document follows the input flag.
    assert_eq!(args[0], "--input");
    assert_eq!(args[1], env["AGENTLAB_TASK_PATH"]);
    assert!(env["AGENTLAB_TRIAL_INPUT_PATH"].ends_with("trials/t1/trial_input.json"));
    assert_eq!(args[2], "--output");
    assert_eq!(args[3], env["AGENTLAB_RESULT_PATH"]);
    let cwd = std::fs::read_to_string(s.trial_dir.join("cwd.txt")).unwrap();
    assert_eq!(cwd.trim(), env["AGENTLAB_WORKSPACE_DIR"]);
    assert!(s.trial_dir.join("deps/tools/ok.sh").is_file());
}

#[test]
fn executor_missing_dependency_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), agent("ok.sh"));
    s.dependency_files = vec![DependencyFile {
        source: "nope/missing.bin".into(),
        dest: "missing.bin".into(),
    }];
    let out = execute_trial(&s, &TrialControl::new());
    assert_eq!(out.classification, Classification::Error);
    assert!(out.error.unwrap().contains("nope/missing.bin"));
}

#[test]
fn executor_unwritable_trial_dir_is_disk_error() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("run");
    std::fs::write(&blocker, "a file where the run dir should be").unwrap();
    let out = execute_trial(&spec(tmp.path(), agent("ok.sh")), &TrialControl::new());
    assert_eq!(out.classification, Classification::DiskError);
    assert!(out.classification.is_infra());
    assert!(out.error.unwrap().contains("trials/t1"));
}
