//! Opening files labj reads but does not control (results, grades, evidence written by
//! agents and graders; experiment and dataset files named by users) so that no file can
//! hang or exhaust labj: opened with `O_NONBLOCK` (a FIFO or device never blocks the
//! open), accepted only when the open descriptor is a regular file, and read up to a
//! size limit.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Nothing exists at the path.
    #[error("{path} does not exist")]
    Missing {
        /// The path, as displayed.
        path: String,
    },
    /// The path is a directory, FIFO, device, socket or other non-regular file.
    #[error("{path} is {kind}, not a regular file")]
    NotRegular {
        /// The path, as displayed.
        path: String,
        /// What it is instead, for the message (`a FIFO (named pipe)`, …).
        kind: &'static str,
    },
    /// The file is (or grew while being read to) over the caller's limit.
    #[error("{path} is {size} bytes, over the {limit}-byte limit; it was not read")]
    TooLarge {
        /// The path, as displayed.
        path: String,
        /// Its size in bytes (when it grew while being read: the bytes read, `limit + 1`).
        size: u64,
        /// The caller's limit in bytes.
        limit: u64,
    },
    /// Opening or reading failed otherwise.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path, as displayed.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl FileError {
    /// Whether the file does not exist (callers often treat that as "not written").
    pub fn is_missing(&self) -> bool {
        matches!(self, FileError::Missing { .. })
    }
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading without blocking and checks, on the open descriptor (no
/// race with a rename), that it is a regular file of at most `limit` bytes.
pub fn open_regular(path: &Path, limit: u64) -> Result<(File, u64), FileError> {
    let shown = || path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => FileError::Missing { path: shown() },
            _ => FileError::Io {
                path: shown(),
                source,
            },
        })?;
    let meta = file.metadata().map_err(|source| FileError::Io {
        path: shown(),
        source,
    })?;
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: shown(),
            kind: kind_of(meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge {
            path: shown(),
            size: meta.len(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// Reads a regular file of at most `limit` bytes (see [`open_regular`]); a file that
/// grows past the limit while being read is refused too.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let (file, len) = open_regular(path, limit)?;
    let mut buf = Vec::with_capacity(len as usize);
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|source| FileError::Io {
            path: path.display().to_string(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.display().to_string(),
            size: buf.len() as u64,
            limit,
        });
    }
    Ok(buf)
}

/// `Ok` when `path` is relative and never leaves its base (no root, no `..`).
pub(crate) fn check_relative_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    let p = Path::new(path);
    if p.is_absolute() || path.starts_with('/') || path.starts_with('\\') {
        return Err("is absolute");
    }
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => return Err("contains `..`"),
            std::path::Component::RootDir | std::path::Component::Prefix(_) => {
                return Err("is absolute")
            }
            std::path::Component::CurDir | std::path::Component::Normal(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn fifo_and_devices_are_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("result.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo {}", fifo.display());
        let t = Instant::now();
        let err = read_regular(&fifo, 1024).unwrap_err().to_string();
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(
            err.contains("is a FIFO (named pipe), not a regular file"),
            "{err}"
        );
        let err = read_regular(Path::new("/dev/zero"), 1024)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/dev/zero is a character device"), "{err}");
        let err = read_regular(tmp.path(), 1024).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        let big = tmp.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        let err = read_regular(&big, 1024).unwrap_err().to_string();
        assert!(
            err.contains("is 2048 bytes, over the 1024-byte limit"),
            "{err}"
        );
        assert!(read_regular(&tmp.path().join("nope"), 1)
            .unwrap_err()
            .is_missing());
        std::fs::write(&big, b"ok").unwrap();
        assert_eq!(read_regular(&big, 1024).unwrap(), b"ok");
    }
}
