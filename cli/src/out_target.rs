//! Where `--out` may write: never over a run's own files. One check for every command
//! that takes `--out` (`report`, `export`), made before anything is created.
//!
//! The target is resolved as the kernel would resolve it (an existing file through its
//! symlinks, a new one through its directory's), and refused when it lies inside the run
//! being read or inside any other run directory (a directory holding `journal.sqlite`):
//! its journal, head record, blobs and trial files are evidence, not scratch space.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Refuse `out` if it would overwrite a file of `run_dir` or of any run directory.
pub fn check(out: &Path, run_dir: &Path) -> Result<()> {
    let Some(resolved) = resolve(out) else {
        // Its directory does not exist: creating the file fails with the OS's message.
        return Ok(());
    };
    let run = std::fs::canonicalize(run_dir).unwrap_or_else(|_| run_dir.to_path_buf());
    let inside = if resolved.starts_with(&run) {
        Some(run)
    } else {
        resolved
            .ancestors()
            .skip(1)
            .find(|d| journal::RunDir::new(d).journal_path().exists())
            .map(Path::to_path_buf)
    };
    if let Some(dir) = inside {
        bail!(
            "--out {}: refused, it is inside the run directory {} (a run's journal, blobs and \
             trial files are never overwritten); write to a path outside it",
            out.display(),
            dir.display()
        );
    }
    Ok(())
}

/// `out` with every symlink resolved: the file itself if it exists (a dangling link
/// resolves to where it points), else its directory joined with its name.
fn resolve(out: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(out) {
        return Some(p);
    }
    let mut target = out.to_path_buf();
    // A dangling symlink: writing through it creates its target.
    for _ in 0..40 {
        match std::fs::read_link(&target) {
            Ok(next) => {
                target = match target.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                }
            }
            Err(_) => break,
        }
    }
    let name = target.file_name()?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(name))
}
