//! Entry points for the coverage-guided fuzz targets in `engine/fuzz/` (feature
//! `fuzzing`, never enabled by the runner). Each takes arbitrary bytes the way labj
//! receives them and must return (an error is fine) without panicking.

use std::path::Path;

/// An experiment document: YAML (`yaml`) or JSON text, parsed and validated as
/// `<dir>/experiment.{yaml,json}` (the directory holds a small dataset).
pub fn experiment(bytes: &[u8], yaml: bool, dir: &Path) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let path = dir.join(if yaml {
        "experiment.yaml"
    } else {
        "experiment.json"
    });
    if let Ok(doc) = model::experiment::parse_str(&path, text) {
        let _ = model::experiment::load_value(&path, doc);
    }
}

/// A dataset file's bytes, read like `dataset.path` (written to `dir/tasks.jsonl`).
pub fn dataset(bytes: &[u8], dir: &Path) {
    let path = dir.join("tasks.jsonl");
    if std::fs::write(&path, bytes).is_ok() {
        let _ = model::experiment::read_dataset_file(&path);
    }
}

/// A request body to worker `path` (e.g. `v1/worker/submit`).
pub fn remote_request(path: &str, bytes: &[u8]) {
    let _ = crate::worker::http::fuzz_request(path, bytes);
}

/// A worker's answer to the call numbered `which` (mod the number of calls).
pub fn remote_response(which: u8, bytes: &[u8]) {
    use crate::wire::Endpoint::*;
    let all = [Submit, Poll, Pause, Stop, Resume, Ack, Health, Tickets];
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let _ = crate::backend::remote::protocol::fuzz_response(all[which as usize % all.len()], text);
}
