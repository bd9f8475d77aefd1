//! Helpers of the AgentLab compatibility suites (`agentlab_compat*.rs`): the cases under
//! `testdata/agentlab/`, run unchanged, and readers of what their runs journaled.

use super::{check_journal, read_events, Scratch};
use journal::event::{Event, TrialCompleted};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/agentlab")
        .join(name)
}

pub fn require_python() {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python3 is required by the AgentLab compatibility suite (scripts/setup.d/20-python3.sh installs it)"
    );
}

pub fn require_node() {
    let ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "node is required by the AgentLab compatibility suite's Node harness (scripts/setup.d/21-node.sh installs it)"
    );
}

/// The stored bytes of a journaled artifact or evidence file, by digest.
pub fn blob(run: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(run.join("blobs").join(&digest[..2]).join(digest)).expect("stored blob")
}

/// Runs `testdata/agentlab/<name>/experiment.yaml` as it is; returns the scratch, the
/// run directory and the `labj run` output.
pub fn run_case(name: &str) -> (Scratch, PathBuf, std::process::Output) {
    require_python();
    let s = Scratch::new();
    let exp = case_dir(name).join("experiment.yaml");
    let out = s.labj(&["run", exp.to_str().unwrap()]);
    let run = s.the_run();
    check_journal(&run);
    (s, run, out)
}

/// The trial_completed events of a run, by trial id.
pub fn completed(run: &Path) -> BTreeMap<String, TrialCompleted> {
    read_events(run)
        .into_iter()
        .filter_map(|e| match e.event {
            Event::TrialCompleted(c) => Some((c.trial_id.clone(), c)),
            _ => None,
        })
        .collect()
}

/// Every metric of a completion, numbers and the rest, as JSON.
pub fn metrics(c: &TrialCompleted) -> BTreeMap<String, Value> {
    let mut m: BTreeMap<String, Value> = c
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    m.extend(c.other_metrics.clone());
    m
}

/// The experiment document as `run_created` journaled it.
pub fn journaled_experiment(run: &Path) -> Value {
    read_events(run)
        .into_iter()
        .find_map(|e| match e.event {
            Event::RunCreated(c) => Some(c.experiment),
            _ => None,
        })
        .expect("run_created")
}

pub fn task_ids(run: &Path) -> Vec<String> {
    let proj = check_journal(run);
    proj.run.expect("run").task_ids
}
