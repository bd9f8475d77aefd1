//! Evidence of an agent reaching for what is not its own: after the agent exited, labj
//! looks at the places only labj or the grader may write (the grader's directory of this
//! attempt, the pre-isolation grade path `grade.json`) and at the inputs labj wrote for the
//! agent. Whatever it finds is moved to `attempt_<n>/tampered/` (inputs are restored), never
//! read as a grade, and reported as evidence of class [`TAMPER_CLASS`], which the trial's
//! `trial_completed` event journals with each file's digest.

use super::{disk, Fault, Trial};
use std::path::{Path, PathBuf};

/// Evidence class of a file the agent left where it does not belong.
pub(super) const TAMPER_CLASS: &str = "tamper";

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
    // Links out of the workspace: a grader reading the workspace as left would follow
    // them to files of the host (a container agent's `ln -s /etc/shadow answer`).
    for rel in links_out_of(&paths.workspace)? {
        let link = paths.workspace.join(&rel);
        let target = std::fs::read_link(&link).unwrap_or_default();
        std::fs::create_dir_all(&quarantine)
            .map_err(|e| disk(&quarantine.display().to_string(), e))?;
        let name = format!("workspace__{}.symlink", rel.replace('/', "__"));
        std::fs::remove_file(&link).map_err(|e| disk(&link.display().to_string(), e))?;
        // The link itself has no content: its target is the evidence.
        let note = quarantine.join(&name);
        std::fs::write(&note, target.as_os_str().as_encoded_bytes())
            .map_err(|e| disk(&note.display().to_string(), e))?;
        found.push((
            TAMPER_CLASS.to_string(),
            format!("{attempt}/tampered/{name}"),
        ));
        tracing::warn!(
            trial_id = %trial.spec.trial_id,
            attempt = n,
            path = %rel,
            "the agent left a symlink leading out of its workspace; removed before grading, its target kept as tamper evidence"
        );
    }
    // Inputs the agent changed in place: the grader never reads these (it gets fresh
    // copies), but the change is evidence, and a retry must start from the original.
    for (path, expected) in trial.input_files()? {
        // Non-blocking and bounded: the agent may have left a FIFO or a huge file there.
        let same = model::safe_fs::read_regular(&path, expected.len() as u64)
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

/// Most entries of a workspace looked at for links (a bound on an agent's flood of files;
/// the workspace scan that follows has its own deadline).
const MAX_LINK_SCAN_ENTRIES: usize = 1_000_000;

/// Workspace-relative paths of the symlinks under `workspace` whose target resolves
/// outside it (absolute targets elsewhere, `..` climbing out, links through other links
/// out). Directories are walked without following links.
fn links_out_of(workspace: &Path) -> Result<Vec<String>, Fault> {
    // Resolved at the first link only: most workspaces hold none, and resolving walks
    // every component of the path.
    let mut root: Option<PathBuf> = None;
    let mut out = Vec::new();
    let mut stack = vec![workspace.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_LINK_SCAN_ENTRIES {
                return Err(Fault(
                    journal::event::Classification::DiskError,
                    format!(
                        "the workspace {} holds more than {MAX_LINK_SCAN_ENTRIES} entries",
                        workspace.display()
                    ),
                ));
            }
            let Ok(ft) = entry.file_type() else { continue };
            let path = entry.path();
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_symlink() {
                // Dangling or looping links resolve to nothing a grader could read
                // inside; they are judged by where they point lexically.
                if root.is_none() {
                    let Ok(r) = std::fs::canonicalize(workspace) else {
                        return Ok(Vec::new());
                    };
                    root = Some(r);
                }
                let root = root.as_deref().unwrap_or(workspace);
                let inside = match std::fs::canonicalize(&path) {
                    Ok(t) => t.starts_with(root),
                    Err(_) => {
                        let target = std::fs::read_link(&path).unwrap_or_default();
                        target.is_relative()
                            && !target
                                .components()
                                .any(|c| matches!(c, std::path::Component::ParentDir))
                    }
                };
                if !inside {
                    let rel = path.strip_prefix(workspace).unwrap_or(&path);
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
    }
    out.sort();
    Ok(out)
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
