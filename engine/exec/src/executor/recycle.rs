//! Trial directories used again within a session instead of created and removed per
//! trial.
//!
//! A trial whose directory compaction finds removable (`compact.rs`) leaves at most a
//! few entries labj made: `attempt_1/`, an empty `workspace/`, its inputs and
//! `trial_input.json`, besides the result and evidence compaction removes. Removing all
//! of it and creating the same tree for the next trial freed and allocated seven inodes
//! per no-op trial. On ext4 without a
//! journal (the root filesystem of these machines) a freed inode is not handed out again
//! for the next 30 s, and every allocation scans past each one freed since
//! (`recently_deleted` in the kernel's inode allocator): the cost of a trial grew with
//! the number of trials before it, and a 1,000-trial no-op run spent most of its time
//! there.
//!
//! So a local worker retires such a directory into `trials/.free/` (a rename), emptied
//! down to that tree, and the next trial of the session renames one back to its own name
//! (`trials/<trial_id>`, never replacing anything there). The agent sees exactly what a
//! fresh directory gives it: the trial's own inputs and `trial_input.json` are written
//! before it starts (`task.json` and `trial_input.json` in place, when each is a regular
//! file with no other name; the shared inputs linked to the input store again), its
//! `workspace/` is checked empty, and the attempt directory is cleared as for a
//! re-dispatched trial. `trials/.free/` is removed when the session
//! ends ([`remove_free_dirs`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The directory of retired trial directories, inside a run's `trials/`.
pub const FREE_DIR: &str = ".free";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// The free trial directories of one session's local workers (or of one Slurm pilot
/// worker job).
#[derive(Debug, Default)]
pub struct TrialDirs {
    free: Mutex<Vec<PathBuf>>,
    /// Names this pool's entries in `trials/.free/` apart from other pools' there.
    tag: Option<String>,
}

impl TrialDirs {
    /// An empty pool; its entries are named by this process's id.
    pub fn new() -> TrialDirs {
        TrialDirs::default()
    }

    /// An empty pool whose entries are named by `tag`: for processes on several hosts
    /// that share a run directory (Slurm pilot workers), where process ids can repeat.
    pub fn tagged(tag: &str) -> TrialDirs {
        TrialDirs {
            free: Mutex::default(),
            tag: Some(tag.to_string()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves a free directory of the same run to `dest`, which must not exist (an earlier
    /// dispatch's directory is never replaced); returns whether it did.
    pub(super) fn take(&self, dest: &Path) -> bool {
        let Some(trials) = dest.parent() else {
            return false;
        };
        let Some(dir) = self.lock().pop() else {
            return false;
        };
        if dir.parent().and_then(Path::parent) != Some(trials) {
            // Another run's (a pool serves one session of one run): not used.
            let _ = std::fs::remove_dir_all(&dir);
            return false;
        }
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, &dir, CWD, dest, RenameFlags::NOREPLACE) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => {
                self.lock().push(dir);
                false
            }
            Err(e) => {
                tracing::debug!("reusing {} as {}: {e}", dir.display(), dest.display());
                let _ = std::fs::remove_dir_all(&dir);
                false
            }
        }
    }

    /// Retires the trial directory `dir` (already emptied down to what the module doc
    /// names) into the pool; returns whether it did.
    pub(super) fn give(&self, dir: &Path) -> bool {
        let Some(pool) = dir.parent().map(|t| t.join(FREE_DIR)) else {
            return false;
        };
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let to = pool.join(match &self.tag {
            Some(tag) => format!("{tag}-{seq}"),
            None => format!("{}-{seq}", std::process::id()),
        });
        let moved = std::fs::rename(dir, &to).is_ok()
            || (std::fs::create_dir(&pool).is_ok() && std::fs::rename(dir, &to).is_ok());
        if moved {
            self.lock().push(to);
        }
        moved
    }
}

/// Removes the run's retired trial directories; called once no trial of the session
/// runs any more (also those a crashed session left).
pub fn remove_free_dirs(run_dir: &Path) {
    let dir = run_dir.join("trials").join(FREE_DIR);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("removing {}: {e}", dir.display()),
    }
}

/// Whether the directory at `path` exists and holds nothing.
pub(super) fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_directory_comes_back_under_a_new_name_and_never_replaces_one() {
        let tmp = tempfile::tempdir().unwrap();
        let trials = tmp.path().join("trials");
        std::fs::create_dir_all(trials.join("a/attempt_1")).unwrap();
        let pool = TrialDirs::new();
        assert!(!pool.take(&trials.join("b")), "an empty pool gives nothing");
        assert!(pool.give(&trials.join("a")));
        assert!(!trials.join("a").exists());
        // An existing directory (an earlier dispatch of the trial) is never replaced.
        std::fs::create_dir(trials.join("c")).unwrap();
        assert!(!pool.take(&trials.join("c")));
        assert!(pool.take(&trials.join("b")));
        assert!(trials.join("b/attempt_1").is_dir());
        assert!(is_empty_dir(&trials.join("b/attempt_1")));
        // Another run's trials never get it.
        assert!(pool.give(&trials.join("b")));
        let other = tmp.path().join("other/trials");
        std::fs::create_dir_all(&other).unwrap();
        assert!(!pool.take(&other.join("x")));
        assert!(!other.join("x").exists());
        remove_free_dirs(tmp.path());
        assert!(!trials.join(FREE_DIR).exists());
    }
}
