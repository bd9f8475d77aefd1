//! Dataset files: UTF-8 and BOM checks, JSON rows, task ids, boundary rows, workspace
//! paths, duplicate detection.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    engine::fuzzing::dataset(data, dir.path());
});
