//! Fixtures for tests (feature `testkit`, turned on by dev-dependencies only).

use crate::trial::{AgentSpec, TrialSpec, DEFAULT_OUTPUT_LIMIT_BYTES};

/// A minimal trial spec: trial `trial_id` of run `run_id` at `schedule_idx`, variant
/// `base`, task `task-1`, running `true` with a 1 s timeout, no grader, default retry and
/// isolation, and paths under `/nonexistent`. Tests set what they need on top
/// (`TrialSpec { agent, trial_dir, ..trial_spec(…) }`).
pub fn trial_spec(run_id: &str, schedule_idx: u64, trial_id: &str) -> TrialSpec {
    TrialSpec {
        run_id: run_id.into(),
        trial_id: trial_id.into(),
        schedule_idx,
        variant_id: "base".into(),
        task_id: "task-1".into(),
        repl_idx: 0,
        task: serde_json::json!({"id": "task-1"}),
        bindings: serde_json::json!({}),
        dependencies: serde_json::json!({}),
        policy: serde_json::json!({}),
        workspace_files: Vec::new(),
        mount_references: Vec::new(),
        dependency_files: Vec::new(),
        agent: AgentSpec {
            command: vec!["true".into()],
            env: Default::default(),
            io: Default::default(),
            timeout_ms: 1000,
            dollar_templates: false,
            secret_files: Vec::new(),
            output_limit_bytes: DEFAULT_OUTPUT_LIMIT_BYTES,
        },
        grader: None,
        retry: Default::default(),
        experiment_dir: "/nonexistent/exp".into(),
        trial_dir: "/nonexistent/run/trials/t".into(),
        blob_dir: "/nonexistent/run/blobs".into(),
        declared_metrics: Vec::new(),
        required_evidence: Vec::new(),
        isolation: Default::default(),
    }
}
