//! A bare program name (`sh`, `python3`) looked up on PATH once per run, not per spawn.
//!
//! Spawning by a bare name makes libc try `execve` in each PATH directory in turn until
//! one succeeds: every directory before the right one costs a failed `execve` per trial
//! (eight on a typical PATH for `sh`). The first trial finds the program; later ones
//! spawn its absolute path directly. A name that is not found is left as it is, so the
//! spawn fails with the usual error.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

type Cache = Mutex<HashMap<(OsString, OsString), OsString>>;

/// `program` as the path to spawn, given the PATH of the process it is spawned into.
pub(super) fn resolve(program: &OsStr, path: Option<&OsStr>) -> OsString {
    let Some(path) = path else {
        return program.to_owned();
    };
    if program.is_empty() || Path::new(program).components().count() != 1 || has_slash(program) {
        return program.to_owned();
    }
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (program.to_owned(), path.to_owned());
    if let Some(found) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return found.clone();
    }
    let found = std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|cand| {
            std::fs::metadata(cand)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    match found {
        Some(p) => {
            let p = p.into_os_string();
            cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, p.clone());
            p
        }
        None => program.to_owned(),
    }
}

fn has_slash(s: &OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().contains(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_resolve_on_the_given_path_only() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let prog = b.join("labj-test-prog");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        let name = OsStr::new("labj-test-prog");
        assert_eq!(resolve(name, Some(&path)), prog.as_os_str());
        // Not on this PATH, a path, or no PATH at all: left as written.
        let only_a = std::env::join_paths([&a]).unwrap();
        assert_eq!(resolve(name, Some(&only_a)), name);
        assert_eq!(resolve(OsStr::new("./x"), Some(&path)), "./x");
        assert_eq!(resolve(name, None), name);
        // Not executable: not a candidate.
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o644)).unwrap();
        let other = std::env::join_paths([&b, &a]).unwrap();
        assert_eq!(resolve(name, Some(&other)), name);
    }
}
