//! After a trial: its directory is removed when nothing in it is needed any more.
//!
//! While a trial runs, `trials/<trial_id>/` is the agent's view (its inputs at the paths
//! the contract names, its workspace, its logs and result). Once the executor stored the
//! record, every file labj put there is either a name of a blob whose digest the
//! completion journals (logs, result, trajectory, grade, workspace evidence) or a document
//! labj can write again from the experiment (task, bindings, dependencies, policy, trial
//! input, the grader's copies, the workspace manifest, itself a blob). A directory holding
//! only such files is removed, so a trial whose agent left nothing behind costs no inode
//! and no block: on ext4 a directory and every small file take a 4 KiB block each.
//!
//! All or nothing: a directory holding anything else (a file the agent or the grader left,
//! tamper evidence, a non-empty workspace, staged dependencies, a recorded file that is not
//! a name of its blob) is kept whole, exactly as the trial left it, for forensics.
//! `labj logs`, `inspect`, `export`, `report` and `verify` read the journal and the blob
//! store, never these views.

use super::recycle::TrialDirs;
use model::trial::{TrialOutcome, TrialSpec};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Files labj writes (or copies) for a trial that it can write again from the experiment.
const REGENERABLE: &[&str] = &[
    "task.json",
    "bindings.json",
    "dependencies.json",
    "policy.json",
    "trial_input.json",
    "workspace_manifest.json",
];
/// The grader's stage: its fresh copies of the inputs and of the agent's result.
const GRADER_COPIES: &[&str] = &[
    "task.json",
    "bindings.json",
    "dependencies.json",
    "policy.json",
    "trial_input.json",
    "result.json",
];

/// Kept in a retired directory: the shared inputs (names of the input store's files,
/// linked again for the next trial) and the task and trial input (rewritten in place).
const KEPT_FOR_REUSE: &[&str] = &[
    "task.json",
    "bindings.json",
    "dependencies.json",
    "policy.json",
    "trial_input.json",
];

/// Removes `spec.trial_dir` when everything in it is recorded or regenerable (see the
/// module doc), or retires it into `pool` when what is left of it is the tree a trial
/// starts from (`recycle.rs`); returns whether it did either.
pub(super) fn compact_trial_dir(
    spec: &TrialSpec,
    outcome: &TrialOutcome,
    pool: &TrialDirs,
) -> bool {
    let dir = &spec.trial_dir;
    let prefix = format!("trials/{}/", spec.trial_id);
    // Trial-relative name → digest of the blob it must be a name of.
    let mut recorded: BTreeMap<String, &str> = BTreeMap::new();
    for a in &outcome.artifacts {
        recorded.insert(a.name.clone(), &a.digest);
    }
    for e in &outcome.evidence {
        if let Some(rel) = e.path.strip_prefix(&prefix) {
            recorded.insert(rel.to_string(), &e.digest);
        }
    }
    let plan = Plan {
        dir,
        blob_dir: &spec.blob_dir,
        recorded,
    };
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    if !plan.scan(Path::new(""), 0, &mut files, &mut dirs) {
        return false;
    }
    let reusable = dirs
        .iter()
        .all(|d| d == Path::new("attempt_1") || d == Path::new("workspace"));
    if reusable {
        let gone = files
            .iter()
            .filter(|f| {
                !(f.parent() == Some(Path::new(""))
                    && KEPT_FOR_REUSE.iter().any(|k| f.as_os_str() == *k))
            })
            .all(|f| std::fs::remove_file(dir.join(f)).is_ok());
        if gone && pool.give(dir) {
            return true;
        }
        // Not retired: removed whole, as any other.
        files.retain(|f| std::fs::symlink_metadata(dir.join(f)).is_ok());
    }
    for f in &files {
        if let Err(e) = std::fs::remove_file(dir.join(f)) {
            tracing::debug!("compacting {}: {e}", dir.display());
            return false;
        }
    }
    // Deepest first, the trial directory itself last.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.push(PathBuf::new());
    dirs.iter()
        .all(|d| std::fs::remove_dir(dir.join(d)).is_ok())
}

struct Plan<'a> {
    dir: &'a Path,
    blob_dir: &'a Path,
    recorded: BTreeMap<String, &'a str>,
}

impl Plan<'_> {
    /// Collects the removable entries under `rel` (trial-relative); false as soon as one
    /// entry must stay.
    fn scan(
        &self,
        rel: &Path,
        depth: usize,
        files: &mut Vec<PathBuf>,
        dirs: &mut Vec<PathBuf>,
    ) -> bool {
        let Ok(entries) = std::fs::read_dir(self.dir.join(rel)) else {
            return false;
        };
        for e in entries {
            let Ok(e) = e else { return false };
            let Ok(ft) = e.file_type() else { return false };
            let Some(name) = e.file_name().to_str().map(String::from) else {
                return false;
            };
            let path = rel.join(&name);
            let key = path.to_string_lossy().into_owned();
            if ft.is_dir() && depth == 0 && name == "workspace" {
                // Empty: the agent left nothing (a workspace with content is kept).
                if !super::recycle::is_empty_dir(&self.dir.join(&path)) {
                    return false;
                }
                dirs.push(path);
            } else if ft.is_dir() {
                let allowed = match depth {
                    0 => attempt_number(&name),
                    1 => name == "grader",
                    _ => false,
                };
                if !allowed || !self.scan(&path, depth + 1, files, dirs) {
                    return false;
                }
                dirs.push(path);
            } else if ft.is_file() {
                let ok = match self.recorded.get(&key) {
                    Some(digest) => self.is_blob(&path, digest),
                    None => match depth {
                        0 => REGENERABLE.contains(&name.as_str()),
                        2 => GRADER_COPIES.contains(&name.as_str()),
                        _ => false,
                    },
                };
                if !ok {
                    return false;
                }
                files.push(path);
            } else {
                return false;
            }
        }
        true
    }

    /// Does the blob `digest` hold what the file at `rel` holds (so removing it loses
    /// nothing)? Usually the file is a name of the blob. When two trials stored the same
    /// content at once, the later rename replaced the blob's inode, and the file of the
    /// earlier one is a copy: its content is hashed then.
    fn is_blob(&self, rel: &Path, digest: &str) -> bool {
        if digest.len() < 3 {
            return false;
        }
        let blob = self.blob_dir.join(&digest[..2]).join(digest);
        let file = self.dir.join(rel);
        match (
            std::fs::symlink_metadata(&file),
            std::fs::symlink_metadata(blob),
        ) {
            (Ok(a), Ok(b)) if a.dev() == b.dev() && a.ino() == b.ino() => true,
            (Ok(a), Ok(b)) if a.len() == b.len() => {
                super::blobs::hash_path(&file).is_ok_and(|(d, _)| d == digest)
            }
            _ => false,
        }
    }
}

fn attempt_number(name: &str) -> bool {
    name.strip_prefix("attempt_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(plan: &Plan<'_>) -> bool {
        plan.scan(Path::new(""), 0, &mut Vec::new(), &mut Vec::new())
    }

    #[test]
    fn only_recorded_or_regenerable_files_let_a_trial_dir_go() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, blobs) = (tmp.path().join("t"), tmp.path().join("blobs"));
        std::fs::create_dir_all(dir.join("attempt_1")).unwrap();
        let digest = blake3::hash(b"{}").to_hex().to_string();
        let blob = blobs.join(&digest[..2]).join(&digest);
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, b"{}").unwrap();
        std::fs::write(dir.join("task.json"), b"{\"id\":1}").unwrap();
        let result = dir.join("attempt_1/result.json");
        let plan = Plan {
            dir: &dir,
            blob_dir: &blobs,
            recorded: [("attempt_1/result.json".to_string(), digest.as_str())].into(),
        };
        // A name of its blob; a copy with the same content (two trials raced to store
        // it): both removable. Other content under a recorded name: kept.
        std::fs::hard_link(&blob, &result).unwrap();
        assert!(scan(&plan));
        std::fs::remove_file(&result).unwrap();
        std::fs::write(&result, b"{}").unwrap();
        assert!(scan(&plan));
        std::fs::remove_file(&result).unwrap();
        std::fs::write(&result, b"[]").unwrap();
        assert!(!scan(&plan));
        std::fs::remove_file(&result).unwrap();
        // A file nobody recorded (the agent's), or a directory labj does not make: kept.
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        assert!(!scan(&plan));
        std::fs::remove_file(dir.join("notes.txt")).unwrap();
        std::fs::create_dir(dir.join("deps")).unwrap();
        assert!(!scan(&plan));
        std::fs::remove_dir(dir.join("deps")).unwrap();
        // An empty workspace goes with the directory; one holding anything is kept.
        std::fs::create_dir(dir.join("workspace")).unwrap();
        assert!(scan(&plan));
        std::fs::write(dir.join("workspace/out.txt"), b"x").unwrap();
        assert!(!scan(&plan));
        std::fs::remove_file(dir.join("workspace/out.txt")).unwrap();
        assert!(scan(&plan));
    }
}
