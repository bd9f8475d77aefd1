//! Helpers of the bad-input matrix (`e2e_bad_input_matrix.rs`): files it damages and
//! special files it hands labj.

use super::*;

pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a NUL-terminated path that outlives the call; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

pub fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// A blob file a completion of the run references.
pub fn a_blob(run: &Path) -> PathBuf {
    for e in read_events(run) {
        if let journal::event::Event::TrialCompleted(tc) = &e.event {
            let digest = tc
                .artifacts
                .iter()
                .map(|a| a.digest.clone())
                .chain(tc.evidence.iter().map(|ev| ev.digest.clone()))
                .next();
            if let Some(d) = digest {
                return run.join("blobs").join(&d[..2]).join(&d);
            }
        }
    }
    panic!("run {} references no blob", run.display());
}

pub fn sql(path: &Path, stmt: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(stmt).unwrap();
}
