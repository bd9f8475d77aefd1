//! Experiment files: YAML or JSON text through parsing, duplicate-key refusal, schema
//! validation, typed sections and semantic checks (dataset `tasks.jsonl` exists).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("tasks.jsonl"), b"{\"id\":\"t1\"}\n{\"id\":\"t2\"}\n").unwrap();
        d
    });
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    engine::fuzzing::experiment(rest, first & 1 == 0, dir.path());
});
