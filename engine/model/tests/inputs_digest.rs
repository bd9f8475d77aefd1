//! The run's inputs digest names each component that changed: every input that decides
//! what a trial does, and nothing else, moves exactly its own component.

use model::inputs::{changed, components, Components};
use std::path::Path;

const ROW: &str = r#"{"schema_version":"task_boundary_v1","task":{"id":"t1","prompt":"2+2"},"workspace_files":[{"path":"a.txt","content":"x"}],"mount_references":[{"dataset_pack_ref":"sha256:0000000000000000000000000000000000000000000000000000000000000000","mount_path":"/mnt/d","read_only":true}],"limits":{"max_steps":3,"trial_seconds":20}}"#;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn setup(dir: &Path) {
    write(dir, "tasks.jsonl", &format!("{ROW}\n"));
    write(dir, "agent.sh", "echo agent v1\n");
    write(dir, "grader.sh", "#!/bin/sh\necho grader v1\n");
    write(dir, "deps/config.txt", "v1\n");
    write(dir, "notes.md", "not an input\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("grader.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    write(
        dir,
        "experiment.yaml",
        "version: \"0.5\"\nexperiment: {id: inputs, name: inputs}\ndataset: {path: tasks.jsonl}\ndesign:\n  replications: 1\n  random_seed: 1\n  max_concurrency: 1\n  policies: {scheduling: variant_sequential, state: isolate_per_trial}\nbaseline: {variant_id: base, bindings: {}}\nvariant_plan: []\nruntime:\n  agent:\n    command: [\"sh\", \"agent.sh\", \"--config=deps/config.txt\"]\n    timeout_ms: 1000\n  dependencies:\n    files: [{source: deps/config.txt, dest: config.txt}]\nbenchmark:\n  grader:\n    command: [\"./grader.sh\"]\n",
    );
}

fn now(dir: &Path) -> Components {
    components(&model::experiment::load(&dir.join("experiment.yaml")).expect("experiment loads"))
}

/// Applies `edit`, checks that exactly `expect` changed, and undoes it.
fn only(dir: &Path, base: &Components, rel: &str, edit: impl Fn(&str) -> String, expect: &[&str]) {
    let path = dir.join(rel);
    let before = std::fs::read_to_string(&path).unwrap();
    let after = edit(&before);
    assert_ne!(before, after, "the edit of {rel} changes it");
    std::fs::write(&path, after).unwrap();
    assert_eq!(changed(base, &now(dir)), expect, "after editing {rel}");
    std::fs::write(&path, before).unwrap();
    assert!(changed(base, &now(dir)).is_empty(), "restoring {rel}");
}

#[test]
fn each_input_moves_exactly_its_component() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let base = now(dir);
    assert_eq!(
        base.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "agent_programs",
            "dataset",
            "dependency_files",
            "experiment",
            "grader_program",
            "mounts",
            "task_limits"
        ]
    );
    let append = |s: &str| format!("{s}# changed\n");
    only(dir, &base, "agent.sh", append, &["agent_programs"]);
    only(dir, &base, "grader.sh", append, &["grader_program"]);
    // Named by the agent command (`--config=`) and staged: both components move.
    only(
        dir,
        &base,
        "deps/config.txt",
        |_| "v2\n".into(),
        &["agent_programs", "dependency_files"],
    );
    only(
        dir,
        &base,
        "tasks.jsonl",
        |s| s.replace("\"trial_seconds\":20", "\"trial_seconds\":21"),
        &["task_limits"],
    );
    only(
        dir,
        &base,
        "tasks.jsonl",
        |s| s.replace("/mnt/d", "/mnt/e"),
        &["mounts"],
    );
    only(
        dir,
        &base,
        "tasks.jsonl",
        |s| s.replace("\"2+2\"", "\"2+3\""),
        &["dataset"],
    );
    only(
        dir,
        &base,
        "experiment.yaml",
        |s| s.replace("timeout_ms: 1000", "timeout_ms: 2000"),
        &["experiment"],
    );
    // A file no command names is not an input.
    std::fs::write(dir.join("notes.md"), "edited\n").unwrap();
    assert!(changed(&base, &now(dir)).is_empty());
}

#[test]
fn a_variants_runtime_overrides_files_are_inputs_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    write(dir, "deps/other.txt", "o1\n");
    let exp = std::fs::read_to_string(dir.join("experiment.yaml")).unwrap();
    let with_override = exp.replace(
        "variant_plan: []\n",
        "variant_plan:\n  - variant_id: other\n    runtime_overrides:\n      dependencies:\n        files: [{source: deps/other.txt, dest: config.txt}]\n",
    );
    assert_ne!(with_override, exp);
    write(dir, "experiment.yaml", &with_override);
    let base = now(dir);
    only(
        dir,
        &base,
        "deps/other.txt",
        |t| t.replace("o1", "o2"),
        &["dependency_files"],
    );
}
