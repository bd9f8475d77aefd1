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

/// Writes `bytes` into the file at `path` in place when it is a regular file with no
/// other name (labj's own file in a retired trial directory, `recycle.rs`): its inode is
/// used again instead of freed and allocated. A read-only one is made writable for its
/// owner first. Anything else there (absent, a symlink, a special file, a file with other
/// names such as a blob's) gets [`write_new`].
pub(super) fn rewrite(path: &Path, bytes: &[u8]) -> Result<(), Fault> {
    if rewrite_in_place(path, bytes).is_ok() {
        return Ok(());
    }
    write_new(path, bytes)
}

fn rewrite_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use rustix::fs::{fchmod, fstat, open, FileType, Mode, OFlags, Stat};
    use std::io::Write;
    let sole = |st: &Stat| {
        FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_nlink == 1
    };
    let not_sole = || std::io::Error::other("not a file of labj's alone");
    let nofollow = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match open(path, OFlags::WRONLY | nofollow, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::ACCESS) => {
            let ro = open(path, OFlags::RDONLY | nofollow, Mode::empty())?;
            let before = fstat(&ro)?;
            if !sole(&before) {
                return Err(not_sole());
            }
            fchmod(&ro, Mode::from_raw_mode(0o644))?;
            let fd = open(path, OFlags::WRONLY | nofollow, Mode::empty())?;
            let now = fstat(&fd)?;
            if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino) {
                return Err(not_sole());
            }
            fd
        }
        Err(e) => return Err(e.into()),
    };
    if !sole(&fstat(&fd)?) {
        return Err(not_sole());
    }
    let mut f = std::fs::File::from(fd);
    f.set_len(0)?;
    f.write_all(bytes)
}

pub(super) fn rewrite_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), Fault> {
    rewrite(path, &json_bytes(path, value)?)
}
