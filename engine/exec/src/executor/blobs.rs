//! The run's content-addressed blob store: `<blob_dir>/<first 2 hex>/<blake3 hex>`.
//!
//! A blob is written once: the source is opened without blocking (regular files only),
//! streamed into a temporary file while being hashed, and renamed into place, so a
//! reader never sees a partial blob and concurrent writers of the same content are
//! harmless. A blob file already present under the digest is trusted only after its
//! content hashes to that digest (else it is replaced). Under `--durable` (a
//! [`DURABLE_MARKER`] in the blob directory) the blob and its directory are fsynced
//! before the trial reports, so a journaled reference never outlives its blob.
//!
//! Content is stored once: a trial file is made a second name (hard link) of its blob
//! rather than copied, and a trial file whose blob already exists becomes a name of that
//! blob, freeing its own blocks. Blobs (and so those trial files) are read-only.
//!
//! The inputs labj writes for each trial (task, bindings, dependencies, policy) are kept
//! the same way in a store of their own, `<run_dir>/inputs/<digest>` (flat: no directory
//! per prefix), linked into the trial directory: each distinct document is written once
//! per run. They are not part of the record (the experiment has them), nothing the
//! journal references is there, and the directory is removed when a session ends
//! ([`remove_inputs`]), so a run keeps no per-task input files.

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

/// A run's content-addressed store of evidence (see the module doc): each blob is
/// written once under its blake3 digest, and never seen half-written.
pub struct BlobStore {
    dir: PathBuf,
    durable: bool,
    /// `<dir>/<digest>` instead of `<dir>/<2 hex>/<digest>` (the input store).
    flat: bool,
}

/// The input store's directory, beside the blob directory `blob_dir`.
pub(crate) const INPUTS_DIR: &str = "inputs";

/// Removes the run's input store (see the module doc); called once no trial of the
/// session runs any more. A trial directory kept for forensics keeps its own names of
/// the inputs it was given.
pub fn remove_inputs(run_dir: &Path) {
    let dir = run_dir.join(INPUTS_DIR);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("removing {}: {e}", dir.display()),
    }
}

fn io_at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// blake3 hex digest and size of the regular file at `path`.
pub fn hash_path(path: &Path) -> io::Result<(String, u64)> {
    let (mut f, _) = model::safe_fs::open_regular(path, u64::MAX)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut hasher = blake3::Hasher::new();
    let bytes = io::copy(&mut f, &mut hasher).map_err(|e| io_at(path, e))?;
    Ok((hasher.finalize().to_hex().to_string(), bytes))
}

impl BlobStore {
    /// The blob store in `dir` (a run's blob directory); it fsyncs what it writes when
    /// `dir` holds the [`DURABLE_MARKER`].
    pub fn new(dir: &Path) -> BlobStore {
        BlobStore {
            dir: dir.to_path_buf(),
            durable: dir.join(DURABLE_MARKER).exists(),
            flat: false,
        }
    }

    /// The input store of the run whose blob directory is `blob_dir`. Never durable: its
    /// content can always be written again from the experiment.
    pub(crate) fn inputs(blob_dir: &Path) -> BlobStore {
        let run_dir = blob_dir.parent().unwrap_or(Path::new("."));
        BlobStore {
            dir: run_dir.join(INPUTS_DIR),
            durable: false,
            flat: true,
        }
    }

    pub(crate) fn path_of(&self, digest: &str) -> PathBuf {
        if self.flat {
            return self.dir.join(digest);
        }
        self.dir.join(&digest[..2]).join(digest)
    }

    /// Stores the file's content; returns (digest, bytes). See the module doc: `src`
    /// ends up a name of the blob (a filesystem without hard links gets a copy).
    pub fn put_file(&self, src: &Path) -> io::Result<(String, u64)> {
        let (mut input, _) = model::safe_fs::open_regular(src, u64::MAX)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let res = self.put_linked(src, &mut input);
        res.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("storing {} as a blob: {e}", src.display()),
            )
        })
    }

    fn put_linked(&self, src: &Path, input: &mut File) -> io::Result<(String, u64)> {
        let mut hasher = blake3::Hasher::new();
        let bytes = io::copy(input, &mut hasher).map_err(|e| io_at(src, e))?;
        let digest = hasher.finalize().to_hex().to_string();
        let dest = self.path_of(&digest);
        if self.verify(&digest).is_ok() {
            share(&dest, src);
            return Ok((digest, bytes));
        }
        // Link only the very file that was opened and hashed (never a symlink or a file
        // swapped in since): otherwise copy from the open descriptor.
        let same = match (input.metadata(), std::fs::symlink_metadata(src)) {
            (Ok(a), Ok(b)) => {
                use std::os::unix::fs::MetadataExt;
                b.is_file() && a.dev() == b.dev() && a.ino() == b.ino()
            }
            _ => false,
        };
        let tmp = self.tmp()?;
        let linked = same && std::fs::hard_link(src, &tmp).is_ok();
        let res = if linked {
            if self.durable {
                input.sync_all().map_err(|e| io_at(src, e))?;
            }
            Ok(())
        } else {
            use std::io::Seek;
            input.rewind().map_err(|e| io_at(src, e))?;
            self.copy_hashing(input, &tmp).and_then(|(d, _)| {
                if d == digest {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "{} changed while stored",
                        src.display()
                    )))
                }
            })
        }
        .and_then(|_| set_read_only(&tmp))
        .and_then(|_| self.place(&tmp, &dest));
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok((digest, bytes))
    }

    /// A fresh temporary name in the blob directory.
    fn tmp(&self) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_at(&self.dir, e))?;
        let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .dir
            .join(format!("{TMP_PREFIX}{}-{seq}", std::process::id())))
    }

    /// Renames `tmp` to the blob path `dest` (replacing a damaged or foreign file of
    /// that name), fsyncing the directory under `--durable`.
    fn place(&self, tmp: &Path, dest: &Path) -> io::Result<()> {
        let parent = dest.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent).map_err(|e| io_at(parent, e))?;
        std::fs::rename(tmp, dest).map_err(|e| io_at(dest, e))?;
        if self.durable {
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_at(parent, e))?;
        }
        Ok(())
    }

    /// Stores `bytes` (unless their blob is there, intact, already) and makes `dest` a
    /// name of it; returns the digest. For the inputs labj writes for every trial: most
    /// trials share them (one variant's bindings, one task's document), so each is
    /// written once per run instead of once per trial.
    pub(crate) fn put_bytes_at(&self, bytes: &[u8], dest: &Path) -> io::Result<String> {
        let digest = blake3::hash(bytes).to_hex().to_string();
        let blob = self.path_of(&digest);
        // Small documents: comparing the bytes is the cheapest verification.
        if !std::fs::read(&blob).is_ok_and(|have| have == bytes) {
            self.write_blob(bytes, &blob)?;
        }
        // A fresh trial directory has nothing at `dest`: link first, and only replace
        // what an earlier dispatch of the trial left there.
        let linked = std::fs::hard_link(&blob, dest).is_ok()
            || (std::fs::remove_file(dest).is_ok() && std::fs::hard_link(&blob, dest).is_ok());
        if !linked {
            std::fs::write(dest, bytes)
                .and_then(|_| set_read_only(dest))
                .map_err(|e| io_at(dest, e))?;
        }
        Ok(digest)
    }

    /// Puts `bytes` back as the blob of their digest, as a new file, when the stored blob
    /// no longer holds them (an agent wrote through a shared input it was handed).
    pub(crate) fn repair(&self, bytes: &[u8]) -> io::Result<()> {
        let blob = self.path_of(blake3::hash(bytes).to_hex().as_ref());
        if std::fs::read(&blob).is_ok_and(|have| have == bytes) {
            return Ok(());
        }
        self.write_blob(bytes, &blob)
    }

    fn write_blob(&self, bytes: &[u8], blob: &Path) -> io::Result<()> {
        let tmp = self.tmp()?;
        let res = File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(bytes)?;
                if self.durable {
                    f.sync_all()?;
                }
                Ok(())
            })
            .map_err(|e| io_at(&tmp, e))
            .and_then(|_| set_read_only(&tmp))
            .and_then(|_| self.place(&tmp, blob));
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
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

/// Is `d` a blob digest as labj writes them (blake3, 64 lowercase hex digits)?
pub fn is_blob_digest(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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
                // Signal 0 only checks that the pid exists.
                && rustix::process::Pid::from_raw(p).is_some_and(|p| {
                    rustix::process::test_kill_process(p) == Err(rustix::io::Errno::SRCH)
                })
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

/// Makes `src` another name of the blob `blob` (same content), freeing its own blocks;
/// on any failure `src` is left as it was (it still holds the same content).
fn share(blob: &Path, src: &Path) {
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &Path| {
        std::fs::symlink_metadata(p)
            .map(|m| (m.dev(), m.ino()))
            .ok()
    };
    let Some(dir) = src.parent() else { return };
    if ino(blob).is_some_and(|i| Some(i) == ino(src)) {
        return; // already a name of it
    }
    let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".link-{}-{seq}", std::process::id()));
    if std::fs::hard_link(blob, &tmp).is_ok() && std::fs::rename(&tmp, src).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn set_read_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))
        .map_err(|e| io_at(path, e))
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
    fn equal_contents_are_stored_once() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::new(&tmp.path().join("blobs"));
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::write(&a, b"same").unwrap();
        std::fs::write(&b, b"same").unwrap();
        let (d, _) = store.put_file(&a).unwrap();
        store.put_file(&b).unwrap();
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&a), ino(&store.path_of(&d)), "the blob is a name of a");
        assert_eq!(ino(&b), ino(&a), "b became a name of the same blob");
        assert_eq!(std::fs::read(&b).unwrap(), b"same");
        // A symlink is never linked into the store: its target's content is copied.
        let link = tmp.path().join("l");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        assert!(store.put_file(&link).is_err() || !store.path_of(&d).is_symlink());

        // Inputs: one blob, any number of names; a damaged blob is put back as a new file.
        let (x, y) = (tmp.path().join("x.json"), tmp.path().join("y.json"));
        let dx = store.put_bytes_at(b"{}", &x).unwrap();
        store.put_bytes_at(b"{}", &y).unwrap();
        assert_eq!(ino(&x), ino(&y));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&x, b"forged").unwrap();
        store.repair(b"{}").unwrap();
        assert_eq!(std::fs::read(store.path_of(&dx)).unwrap(), b"{}");
        assert_eq!(
            std::fs::read(&x).unwrap(),
            b"forged",
            "the forged name keeps its inode"
        );
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
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let err = store.put_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        // A temp file of a dead writer (pid 0x7ffffffe never exists) is cleaned.
        std::fs::write(dir.join(".tmp-2147483646-0"), b"x").unwrap();
        std::fs::write(dir.join(format!(".tmp-{}-9", std::process::id())), b"x").unwrap();
        assert_eq!(clean_stale_tmp(&dir), 1);
        assert!(!dir.join(".tmp-2147483646-0").exists());
    }
}
