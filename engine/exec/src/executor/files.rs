//! Small file writes of the executor: JSON documents and new files that never write
//! through a name a stored blob may hold, read-only marks.

use super::{disk, Fault, WorkspaceFile};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub(super) fn json_bytes<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<Vec<u8>, Fault> {
    serde_json::to_vec_pretty(value)
        .map_err(|e| disk(&format!("serializing {}", path.display()), e))
}

pub(super) fn file_refs(files: &[(PathBuf, WorkspaceFile)]) -> Vec<(PathBuf, &WorkspaceFile)> {
    files.iter().map(|(p, f)| (p.clone(), f)).collect()
}

pub(super) fn set_read_only(path: &Path) -> Result<(), Fault> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))
        .map_err(|e| disk(&path.display().to_string(), e))
}

pub(super) fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), Fault> {
    let text = json_bytes(path, value)?;
    write_new(path, &text)
}

/// Writes `path` as a new file: what was there may be a name of a stored blob (a file of
/// an earlier dispatch of the trial), which writing in place would change.
pub(super) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Fault> {
    let _ = std::fs::remove_file(path);
    std::fs::write(path, bytes).map_err(|e| disk(&path.display().to_string(), e))
}
