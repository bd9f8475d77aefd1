//! Evidence of an agent reaching for what is not its own: after the agent exited, labj
//! looks at the places only labj or the grader may write (the grader's directory of this
//! attempt, the pre-isolation grade path `grade.json`) and at the inputs labj wrote for the
//! agent. Whatever it finds is moved to `attempt_<n>/tampered/` (inputs are restored), never
//! read as a grade, and reported as evidence of class [`TAMPER_CLASS`], which the trial's
//! `trial_completed` event journals with each file's digest.

use super::{disk, Fault, Trial};
use std::path::{Path, PathBuf};

/// Evidence class of a file the agent left where it does not belong.
pub const TAMPER_CLASS: &str = "tamper";

/// Checks the trial after attempt `n`'s agent exited; returns the (class, trial-relative
/// path) of every piece of tamper evidence, already moved under `attempt_<n>/tampered/`.
pub(super) fn check_after_agent(trial: &Trial<'_>, n: u32) -> Result<Vec<(String, String)>, Fault> {
    let paths = &trial.paths;
    let attempt = format!("attempt_{n}");
    let quarantine = paths.attempt_dir(n).join("tampered");
    let mut found = Vec::new();
    let moved = |rel: &str, found: &mut Vec<(String, String)>| -> Result<(), Fault> {
        let from = paths.trial_dir.join(rel);
        let to = quarantine.join(rel.replace('/', "__"));
        std::fs::create_dir_all(&quarantine)
            .map_err(|e| disk(&quarantine.display().to_string(), e))?;
        std::fs::rename(&from, &to)
            .map_err(|e| disk(&format!("moving {} to {}", from.display(), to.display()), e))?;
        for file in regular_files(&to)? {
            let rel_in = file
                .strip_prefix(&paths.trial_dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .into_owned();
            found.push((TAMPER_CLASS.to_string(), rel_in));
        }
        tracing::warn!(
            trial_id = %trial.spec.trial_id,
            attempt = n,
            path = rel,
            "the agent left a file where only labj or the grader may write; ignored and kept as tamper evidence"
        );
        Ok(())
    };
    // A grade forged at the old grade path or a grader directory pre-created by the agent.
    for rel in ["grade.json".to_string(), format!("{attempt}/grader")] {
        if std::fs::symlink_metadata(paths.trial_dir.join(&rel)).is_ok() {
            moved(&rel, &mut found)?;
        }
    }
    // Inputs the agent changed in place: the grader never reads these (it gets fresh
    // copies), but the change is evidence, and a retry must start from the original.
    for (path, expected) in trial.input_files()? {
        // Non-blocking and bounded: the agent may have left a FIFO or a huge file there.
        let same = crate::safe_fs::read_regular(&path, expected.len() as u64)
            .is_ok_and(|have| have == expected);
        if !same {
            let rel = path
                .strip_prefix(&paths.trial_dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if std::fs::symlink_metadata(&path).is_ok() {
                moved(&rel, &mut found)?;
            }
            std::fs::write(&path, &expected).map_err(|e| disk(&path.display().to_string(), e))?;
            // The input was a name of a stored input shared with other trials: put the
            // original content back there too (the moved evidence keeps the written inode).
            super::blobs::BlobStore::inputs(&trial.spec.blob_dir)
                .repair(&expected)
                .map_err(|e| disk("restoring a shared input", e))?;
        }
    }
    Ok(found)
}

/// The regular files at `path` (itself, or below it when it is a directory); symlinks are
/// neither followed nor reported, as they carry no content of their own.
fn regular_files(path: &Path) -> Result<Vec<PathBuf>, Fault> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| disk(&path.display().to_string(), e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| disk(&path.display().to_string(), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| disk(&path.display().to_string(), e))?;
            out.extend(regular_files(&entry.path())?);
        }
    }
    out.sort();
    Ok(out)
}
