//! The run's content-addressed blob store: `<blob_dir>/<first 2 hex>/<blake3 hex>`.
//!
//! A blob is written once: the source is opened without blocking (regular files only),
//! streamed into a temporary file while being hashed, and renamed into place, so a
//! reader never sees a partial blob and concurrent writers of the same content are
//! harmless. A blob file already present under the digest is trusted only after its
//! content hashes to that digest (else it is replaced). Under `--durable` (a
//! [`DURABLE_MARKER`] in the blob directory) the blob and its directory are fsynced
//! before the trial reports, so a journaled reference never outlives its blob.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Present in a run's blob directory when the run was started or continued with
/// `--durable`.
pub const DURABLE_MARKER: &str = ".durable";
/// Temporary files start with this; ones left by a crashed writer are removed by
/// [`clean_stale_tmp`].
pub const TMP_PREFIX: &str = ".tmp-";

pub(crate) struct BlobStore {
    dir: PathBuf,
    durable: bool,
}

fn io_at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// blake3 hex digest and size of the regular file at `path`.
pub fn hash_path(path: &Path) -> io::Result<(String, u64)> {
    let (mut f, _) = crate::safe_fs::open_regular(path, u64::MAX)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut hasher = blake3::Hasher::new();
    let bytes = io::copy(&mut f, &mut hasher).map_err(|e| io_at(path, e))?;
    Ok((hasher.finalize().to_hex().to_string(), bytes))
}

impl BlobStore {
    pub fn new(dir: &Path) -> BlobStore {
        BlobStore {
            dir: dir.to_path_buf(),
            durable: dir.join(DURABLE_MARKER).exists(),
        }
    }

    pub fn path_of(&self, digest: &str) -> PathBuf {
        self.dir.join(&digest[..2]).join(digest)
    }

    /// Stores the file's content; returns (digest, bytes).
    pub fn put_file(&self, src: &Path) -> io::Result<(String, u64)> {
        let (mut input, _) = crate::safe_fs::open_regular(src, u64::MAX)
            .map_err(|e| io::Error::other(e.to_string()))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| io_at(&self.dir, e))?;
        let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!("{TMP_PREFIX}{}-{seq}", std::process::id()));
        let res = self
            .copy_hashing(&mut input, &tmp)
            .and_then(|(digest, bytes)| {
                let dest = self.path_of(&digest);
                if self.verify(&digest).is_ok() {
                    let _ = std::fs::remove_file(&tmp);
                    return Ok((digest, bytes));
                }
                let parent = dest.parent().unwrap_or(&self.dir);
                std::fs::create_dir_all(parent).map_err(|e| io_at(parent, e))?;
                // Replaces a damaged or foreign file of the same name.
                std::fs::rename(&tmp, &dest).map_err(|e| io_at(&dest, e))?;
                if self.durable {
                    File::open(parent)
                        .and_then(|d| d.sync_all())
                        .map_err(|e| io_at(parent, e))?;
                }
                Ok((digest, bytes))
            });
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(io::Error::new(
                e.kind(),
                format!("storing {} as a blob: {e}", src.display()),
            ));
        }
        res
    }

    fn copy_hashing(&self, input: &mut File, tmp: &Path) -> io::Result<(String, u64)> {
        let mut out = File::create(tmp).map_err(|e| io_at(tmp, e))?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut bytes = 0u64;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| io_at(tmp, e))?;
            bytes += n as u64;
        }
        if self.durable {
            out.sync_all().map_err(|e| io_at(tmp, e))?;
        }
        Ok((hasher.finalize().to_hex().to_string(), bytes))
    }

    /// Checks that the blob stored under `digest` exists and hashes to it.
    pub fn verify(&self, digest: &str) -> Result<(), String> {
        verify_blob(&self.dir, digest)
    }
}

/// Checks that `<dir>/<digest>` exists and hashes to `digest` (used by `labj verify`).
pub fn verify_blob(dir: &Path, digest: &str) -> Result<(), String> {
    if digest.len() < 3 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{digest:?} is not a blob digest"));
    }
    let path = dir.join(&digest[..2]).join(digest);
    match hash_path(&path) {
        Ok((d, _)) if d == digest => Ok(()),
        Ok((d, _)) => Err(format!(
            "blob {} holds content with digest {d}, not {digest}",
            path.display()
        )),
        Err(e) => Err(format!("blob {}: {e}", path.display())),
    }
}

/// Removes temporary files a crashed writer left in `dir`: those named after a process
/// that is gone, or older than an hour.
pub fn clean_stale_tmp(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TMP_PREFIX)) else {
            continue;
        };
        let pid: Option<i32> = rest.split('-').next().and_then(|p| p.parse().ok());
        let gone = pid.is_some_and(|p| {
            p != std::process::id() as i32
                && unsafe { libc::kill(p, 0) } != 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        });
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|a| a.as_secs() > 3600));
        if (gone || old) && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_file_is_idempotent_and_content_addressed() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("f");
        std::fs::write(&src, b"hello").unwrap();
        let store = BlobStore::new(&tmp.path().join("blobs"));
        let (d1, n) = store.put_file(&src).unwrap();
        let (d2, _) = store.put_file(&src).unwrap();
        assert_eq!(d1, d2);
        assert_eq!(n, 5);
        assert_eq!(d1, blake3::hash(b"hello").to_hex().to_string());
        assert_eq!(std::fs::read(store.path_of(&d1)).unwrap(), b"hello");
    }

    #[test]
    fn a_foreign_file_under_the_digest_is_replaced_and_stale_tmp_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("blobs");
        let src = tmp.path().join("f");
        std::fs::write(&src, b"hello").unwrap();
        let digest = blake3::hash(b"hello").to_hex().to_string();
        let store = BlobStore::new(&dir);
        std::fs::create_dir_all(store.path_of(&digest).parent().unwrap()).unwrap();
        std::fs::write(store.path_of(&digest), b"forged").unwrap();
        let err = verify_blob(&dir, &digest).unwrap_err();
        assert!(err.contains("holds content with digest"), "{err}");
        store.put_file(&src).unwrap();
        assert_eq!(std::fs::read(store.path_of(&digest)).unwrap(), b"hello");
        verify_blob(&dir, &digest).unwrap();
        // A FIFO source is refused without blocking.
        let fifo = tmp.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = store.put_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        // A temp file of a dead writer (pid 0x7ffffffe never exists) is cleaned.
        std::fs::write(dir.join(".tmp-2147483646-0"), b"x").unwrap();
        std::fs::write(dir.join(format!(".tmp-{}-9", std::process::id())), b"x").unwrap();
        assert_eq!(clean_stale_tmp(&dir), 1);
        assert!(!dir.join(".tmp-2147483646-0").exists());
    }
}
