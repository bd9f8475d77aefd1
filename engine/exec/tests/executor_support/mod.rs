//! Shared helpers of the executor integration tests: a trial spec rooted in a temp dir,
//! whose experiment directory is `testdata/` (so `./agents/x.sh` resolves there).

#![allow(dead_code)]

use model::trial::TrialSpec;
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
    let mut spec = model::testkit::trial_spec("run_1", 4, "t1");
    spec.agent.command = command;
    spec.agent.timeout_ms = 10_000;
    TrialSpec {
        variant_id: "variant_a".into(),
        task_id: "task_x".into(),
        repl_idx: 2,
        task: serde_json::json!({"id": "task_x", "prompt": "do it"}),
        bindings: serde_json::json!({"model": "m"}),
        policy: serde_json::json!({"state": "isolate_per_trial"}),
        experiment_dir: testdata(),
        trial_dir: run_dir.join("trials").join("t1"),
        blob_dir: run_dir.join("blobs"),
        ..spec
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
