//! Shared helpers of the executor integration tests: a trial spec rooted in a temp dir,
//! whose experiment directory is `testdata/` (so `./agents/x.sh` resolves there).

#![allow(dead_code)]

use model::trial::{AgentIo, AgentSpec, RetrySpec, TrialSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .canonicalize()
        .expect("testdata dir")
}

/// argv running `script` with POSIX sh.
pub fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// argv running a script of `testdata/agents/`, resolved against the experiment dir.
pub fn agent(name: &str) -> Vec<String> {
    vec![format!("./agents/{name}")]
}

/// A spec for `<tmp>/run/trials/t1` running `command` with a 10 s timeout.
pub fn spec(tmp: &Path, command: Vec<String>) -> TrialSpec {
    let run_dir = tmp.join("run");
    TrialSpec {
        run_id: "run_1".into(),
        trial_id: "t1".into(),
        schedule_idx: 4,
        variant_id: "variant_a".into(),
        task_id: "task_x".into(),
        repl_idx: 2,
        task: serde_json::json!({"id": "task_x", "prompt": "do it"}),
        bindings: serde_json::json!({"model": "m"}),
        dependencies: serde_json::json!({}),
        policy: serde_json::json!({"state": "isolate_per_trial"}),
        workspace_files: Vec::new(),
        mount_references: Vec::new(),
        dependency_files: Vec::new(),
        agent: AgentSpec {
            command,
            env: BTreeMap::new(),
            io: AgentIo::default(),
            timeout_ms: 10_000,
            dollar_templates: false,
            secret_files: Vec::new(),
            output_limit_bytes: model::trial::DEFAULT_OUTPUT_LIMIT_BYTES,
        },
        grader: None,
        retry: RetrySpec::default(),
        experiment_dir: testdata(),
        trial_dir: run_dir.join("trials").join("t1"),
        blob_dir: run_dir.join("blobs"),
        declared_metrics: Vec::new(),
        required_evidence: Vec::new(),
        isolation: Default::default(),
    }
}

/// Result-writing shell snippet: `result('{"outcome":"success"}')`.
pub fn write_result(json: &str) -> String {
    format!("printf '%s' '{json}' > \"$AGENTLAB_RESULT_PATH\"")
}

/// Whether `pid` is gone or a zombie (dead, waiting for its new parent to reap it).
pub fn pid_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // Field 3, after the parenthesised command name, is the state.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            state.starts_with('Z') || state.starts_with('X')
        }
    }
}
