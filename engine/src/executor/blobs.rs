//! The run's content-addressed blob store: `<blob_dir>/<first 2 hex>/<blake3 hex>`.
//!
//! A blob is written once, through a temporary file renamed into place, so a reader
//! never sees a partial blob and concurrent writers of the same content are harmless.
//! No fsync: blobs are re-derivable forensics, and the journal is the durable record.

use super::workspace::hash_file;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

pub(crate) struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn new(dir: &Path) -> BlobStore {
        BlobStore {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path_of(&self, digest: &str) -> PathBuf {
        self.dir.join(&digest[..2]).join(digest)
    }

    /// Stores the file's content; returns (digest, bytes).
    pub fn put_file(&self, src: &Path) -> io::Result<(String, u64)> {
        let (digest, bytes) = hash_file(src)?;
        let dest = self.path_of(&digest);
        if dest.exists() {
            return Ok((digest, bytes));
        }
        let tmp = self.tmp_path(&dest)?;
        let res = std::fs::copy(src, &tmp).and_then(|_| std::fs::rename(&tmp, &dest));
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(io::Error::new(
                e.kind(),
                format!("storing {} as blob {}: {e}", src.display(), dest.display()),
            ));
        }
        Ok((digest, bytes))
    }

    fn tmp_path(&self, dest: &Path) -> io::Result<PathBuf> {
        let parent = dest.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))?;
        let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
        Ok(parent.join(format!(".tmp-{}-{seq}", std::process::id())))
    }
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
}
