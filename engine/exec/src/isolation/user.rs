//! The container user (`runtime.policy.sandbox.run_as_user`) as the image defines it,
//! and how the contract directories the agent writes (`/agentlab/out`, `state`,
//! `workspace`; the in-image grader's stage and workspace copy) become that user's.
//!
//! labj creates those directories on the host as itself, so a container running as
//! another user could write none of them. One mechanism for every engine:
//!
//! * the user is resolved as the engine will resolve it: `uid[:gid]` numbers are taken
//!   as they are (engines accept a uid the image's `/etc/passwd` lacks); a name (user or
//!   group) is looked up in the image's own `/etc/passwd` / `/etc/group`, copied out of
//!   a created, never started container (`create` + `cp`: works for docker and podman
//!   and needs no program inside the image). A name the image lacks is refused before
//!   any trial (preflight, so `describe` and `run`), naming user, image and field; at
//!   trial time (an image changed since) it is an infrastructure fault, never a verdict;
//! * labj running as root (rootful engines: container ids are host ids) gives the
//!   directories to the resolved uid/gid (`lchown`, recursively, links never followed);
//! * podman not as root (rootless: container ids are mapped through its user namespace)
//!   mounts them with podman's `U` option, which chowns through that mapping;
//! * any other engine not as root is refused before any trial: nothing could give the
//!   container user those directories.

use super::engine::{command_output, ContainerEngine, EngineError};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// The ids the container's process gets (`gid` when the setting or the image fixes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserIds {
    pub(crate) uid: u32,
    pub(crate) gid: Option<u32>,
}

/// How the writable contract directories are made the container user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Ownership {
    /// No `run_as_user`, or root: the directories stay as labj made them.
    #[default]
    AsIs,
    /// labj (root) changes their owner before the container starts.
    Chown(UserIds),
    /// Rootless podman chowns them through its user namespace (mount option `U`).
    PodmanU,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UserError {
    #[error("run_as_user `{user}` is not a user of image `{image}`: {why}; name a user the image defines or give a numeric uid (e.g. \"1000\")")]
    NoSuchUser {
        user: String,
        image: String,
        why: String,
    },
    #[error("run_as_user `{user}`: group `{group}` is not a group of image `{image}`: {why}; name a group the image defines or give a numeric gid")]
    NoSuchGroup {
        user: String,
        group: String,
        image: String,
        why: String,
    },
    #[error("run_as_user `{user}` is not a user: write `name`, `uid` or `uid:gid`")]
    Malformed { user: String },
    #[error("run_as_user `{user}` with {engine} needs labj to run as root (to give the container's user the trial directories it writes) or podman (rootless: its `U` mount option)")]
    NotRoot { user: String, engine: String },
    #[error("run_as_user `{user}` in image `{image}`: {source}")]
    Engine {
        user: String,
        image: String,
        source: EngineError,
    },
}

/// (engine program, image, setting).
type UserKey = (String, String, String);

/// Resolved users by [`UserKey`]: one lookup per process.
fn cache() -> &'static Mutex<HashMap<UserKey, UserIds>> {
    static CACHE: OnceLock<Mutex<HashMap<UserKey, UserIds>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

impl ContainerEngine {
    /// How a trial of `image` running as `user` gets its writable directories; `Err`
    /// names what cannot work (an unknown user or group, an engine that cannot do it).
    pub(crate) fn ownership(
        &self,
        image: &str,
        user: Option<&str>,
    ) -> Result<Ownership, UserError> {
        let Some(user) = user else {
            return Ok(Ownership::AsIs);
        };
        let ids = self.user_ids(image, user)?;
        if ids.uid == 0 {
            return Ok(Ownership::AsIs);
        }
        let me = euid();
        if me == 0 {
            return Ok(Ownership::Chown(ids));
        }
        if self.is_podman() {
            return Ok(Ownership::PodmanU);
        }
        if ids.uid == me {
            // Already ours: the directories are writable as they are.
            return Ok(Ownership::AsIs);
        }
        Err(UserError::NotRoot {
            user: user.to_string(),
            engine: self.spec.version.clone(),
        })
    }

    fn is_podman(&self) -> bool {
        self.spec.version.starts_with("podman")
            || Path::new(&self.spec.program)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("podman"))
    }

    /// `user` (`name`, `uid`, `name:group`, `uid:gid`) as `image` defines it.
    pub(crate) fn user_ids(&self, image: &str, user: &str) -> Result<UserIds, UserError> {
        let key = (
            self.spec.program.clone(),
            image.to_string(),
            user.to_string(),
        );
        if let Some(ids) = cache().lock().ok().and_then(|c| c.get(&key).copied()) {
            return Ok(ids);
        }
        let (name, group) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user, None),
        };
        let bad = |s: &str| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == ':');
        if bad(name) || group.is_some_and(bad) {
            return Err(UserError::Malformed { user: user.into() });
        }
        let numeric = |s: &str| s.parse::<u32>().ok();
        let ids = match (numeric(name), group.map(|g| (g, numeric(g)))) {
            // Numbers only: what the engine does with them needs no lookup.
            (Some(uid), None) => UserIds { uid, gid: None },
            (Some(uid), Some((_, Some(gid)))) => UserIds {
                uid,
                gid: Some(gid),
            },
            _ => self.look_up(image, user, name, group)?,
        };
        if let Ok(mut c) = cache().lock() {
            c.insert(key, ids);
        }
        Ok(ids)
    }

    fn look_up(
        &self,
        image: &str,
        user: &str,
        name: &str,
        group: Option<&str>,
    ) -> Result<UserIds, UserError> {
        let [passwd, groups] = self
            .image_files(image, ["/etc/passwd", "/etc/group"])
            .map_err(|source| UserError::Engine {
                user: user.into(),
                image: image.into(),
                source,
            })?;
        let (uid, own_gid) = match name.parse::<u32>() {
            Ok(uid) => (uid, None),
            Err(_) => {
                let why = match &passwd {
                    Ok(_) => format!("its /etc/passwd has no user `{name}`"),
                    Err(e) => format!("the image has no readable /etc/passwd ({e})"),
                };
                let found = passwd.as_deref().ok().and_then(|t| find_entry(t, name));
                let Some((uid, gid)) = found else {
                    return Err(UserError::NoSuchUser {
                        user: user.into(),
                        image: image.into(),
                        why,
                    });
                };
                (uid, gid)
            }
        };
        let gid = match group {
            None => own_gid,
            Some(g) => match g.parse::<u32>() {
                Ok(gid) => Some(gid),
                Err(_) => {
                    let found = groups.as_deref().ok().and_then(|t| find_entry(t, g));
                    let Some((gid, _)) = found else {
                        return Err(UserError::NoSuchGroup {
                            user: user.into(),
                            group: g.into(),
                            image: image.into(),
                            why: match &groups {
                                Ok(_) => format!("its /etc/group has no group `{g}`"),
                                Err(e) => format!("the image has no readable /etc/group ({e})"),
                            },
                        });
                    };
                    Some(gid)
                }
            },
        };
        Ok(UserIds { uid, gid })
    }

    /// The text of `paths` inside `image` (each `Err` with the engine's reason when the
    /// image lacks it), from a container that is created and removed, never started.
    fn image_files<const N: usize>(
        &self,
        image: &str,
        paths: [&str; N],
    ) -> Result<[Result<String, String>; N], EngineError> {
        let name = format!("labj-user-{}", uuid::Uuid::now_v7());
        let program = Path::new(&self.spec.program);
        command_output(
            program,
            &[
                "create",
                "--name",
                &name,
                "--label",
                "labj.preflight=1",
                "--entrypoint",
                "true",
                "--",
                image,
            ],
        )?;
        let dir = std::env::temp_dir().join(&name);
        let read = |p: &str| -> Result<String, String> {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let to = dir.join(p.trim_start_matches('/').replace('/', "_"));
            let from = format!("{name}:{p}");
            command_output(program, &["cp", &from, &to.to_string_lossy()]).map_err(
                |e| match e {
                    EngineError::Failed { message, .. } => message,
                    other => other.to_string(),
                },
            )?;
            let bytes = model::safe_fs::read_regular(&to, 4 << 20).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let out = paths.map(read);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = self.remove(&name);
        Ok(out)
    }
}

/// `(id, primary group)` of `name` in a passwd or group file (`name:x:id:gid:…`; the
/// group file's fourth field is its members, so its "gid" is ignored by callers).
fn find_entry(text: &str, name: &str) -> Option<(u32, Option<u32>)> {
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        let _password = f.next()?;
        let id = f.next()?.trim().parse().ok()?;
        Some((id, f.next().and_then(|g| g.trim().parse().ok())))
    })
}

/// Makes `path` and everything under it the container user's (links themselves, never
/// what they point to).
pub(crate) fn give_to(ids: UserIds, path: &Path) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(ids.uid), ids.gid)?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            give_to(ids, &entry?.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_by_exact_name() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1001::/home/agent:/bin/sh\nagent2:x:7:7::/:/bin/sh\n";
        assert_eq!(find_entry(passwd, "agent"), Some((1000, Some(1001))));
        assert_eq!(find_entry(passwd, "agen"), None);
        assert_eq!(find_entry("", "root"), None);
    }

    #[test]
    fn a_tree_is_given_without_following_links() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::write(&outside, "x").unwrap();
        let ws = d.path().join("ws");
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        std::fs::write(ws.join("sub/f"), "y").unwrap();
        std::os::unix::fs::symlink(&outside, ws.join("link")).unwrap();
        let me = euid();
        // As root the tree goes to another uid; otherwise to our own (still walks it).
        let uid = if me == 0 { 4242 } else { me };
        give_to(UserIds { uid, gid: None }, &ws).unwrap();
        use std::os::unix::fs::MetadataExt;
        for p in [ws.clone(), ws.join("sub"), ws.join("sub/f")] {
            assert_eq!(std::fs::metadata(&p).unwrap().uid(), uid, "{}", p.display());
        }
        assert_eq!(
            std::fs::symlink_metadata(ws.join("link")).unwrap().uid(),
            uid
        );
        assert_eq!(
            std::fs::metadata(&outside).unwrap().uid(),
            me,
            "the link's target is not changed"
        );
    }
}
