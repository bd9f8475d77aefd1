//! The trial workspace: writing the task's files, manifests (relative path → blake3 +
//! size) before and after the agent, their diff, and the `agent_patch` evidence.

use super::{disk, json_bytes, AttemptEnd, Fault};
use model::trial::WorkspaceFile;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Files larger than this appear in the patch as "changed (too large to show)".
const PATCH_FILE_LIMIT: u64 = 1024 * 1024;

/// Checks that `path` is a non-empty relative path that stays inside its root.
pub(crate) fn safe_relative(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("empty path".to_string());
    }
    let p = Path::new(path);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("path `{path}` contains `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("path `{path}` is absolute; it must be relative"))
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!("path `{path}` names no file"));
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Entry {
    pub digest: String,
    pub bytes: u64,
}

/// Relative path (with `/`) → entry. Symlinks are recorded by their target, not followed.
pub(crate) type Manifest = BTreeMap<String, Entry>;

/// Writes the workspace files (already checked with [`safe_relative`]) into `dir`.
pub(crate) fn write_files(dir: &Path, files: &[(PathBuf, &WorkspaceFile)]) -> io::Result<()> {
    for (rel, file) in files {
        let dest = dir.join(rel);
        if let Some(parent) = dest.parent() {
            if parent != dir {
                std::fs::create_dir_all(parent)?;
            }
        }
        let bytes = file
            .bytes()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        std::fs::write(&dest, &bytes)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dest.display())))?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt as _;
            let mut perms = std::fs::metadata(&dest)?.permissions();
            perms.set_mode(perms.mode() | 0o111);
            std::fs::set_permissions(&dest, perms)?;
        }
    }
    Ok(())
}

/// The manifest the workspace has right after [`write_files`], computed from memory.
pub(crate) fn manifest_of_files(files: &[(PathBuf, &WorkspaceFile)]) -> Manifest {
    files
        .iter()
        .map(|(rel, f)| {
            // Checked by `Trial::prepare` before this runs.
            let bytes = f.bytes().unwrap_or_default();
            (
                rel_key(rel),
                Entry {
                    digest: blake3::hash(&bytes).to_hex().to_string(),
                    bytes: bytes.len() as u64,
                },
            )
        })
        .collect()
}

fn rel_key(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// How long scanning the workspace after an attempt may take (`LABJ_POST_PROCESS_DEADLINE_MS`,
/// default 5 minutes): an agent that leaves millions of files or a filesystem that stalls
/// ends the trial as an infrastructure fault instead of holding its worker forever.
pub(crate) fn post_process_deadline() -> std::time::Duration {
    std::env::var("LABJ_POST_PROCESS_DEADLINE_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(std::time::Duration::from_millis)
        .unwrap_or(std::time::Duration::from_secs(300))
}

/// Walks `dir` (without following symlinks) and hashes every file, giving up with an
/// error once `limit` has passed.
pub(crate) fn scan(dir: &Path, limit: std::time::Duration) -> io::Result<Manifest> {
    let deadline = std::time::Instant::now() + limit;
    let mut out = Manifest::new();
    let mut stack = vec![PathBuf::new()];
    let over = |files: usize| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "post-processing deadline: scanning {} took over {} ms ({files} files so far); set LABJ_POST_PROCESS_DEADLINE_MS to allow more",
                dir.display(),
                limit.as_millis(),
            ),
        )
    };
    while let Some(rel_dir) = stack.pop() {
        if std::time::Instant::now() > deadline {
            return Err(over(out.len()));
        }
        let abs = dir.join(&rel_dir);
        let entries = std::fs::read_dir(&abs)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", abs.display())))?;
        for entry in entries {
            let entry = entry?;
            // Every 256 entries: a directory of millions of files is bounded too.
            if out.len() % 256 == 255 && std::time::Instant::now() > deadline {
                return Err(over(out.len()));
            }
            let rel = rel_dir.join(entry.file_name());
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(rel);
            } else if ft.is_symlink() {
                let target = std::fs::read_link(entry.path())?;
                let text = format!("symlink:{}", target.to_string_lossy());
                out.insert(
                    rel_key(&rel),
                    Entry {
                        digest: blake3::hash(text.as_bytes()).to_hex().to_string(),
                        bytes: 0,
                    },
                );
            } else if ft.is_file() {
                let (digest, bytes) = hash_file(&entry.path())?;
                out.insert(rel_key(&rel), Entry { digest, bytes });
            }
            // Sockets, fifos and devices carry no content worth recording.
        }
    }
    Ok(out)
}

/// blake3 hex digest and size of a file, streamed.
pub(crate) fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    // Non-blocking, regular files only: a file swapped for a FIFO never hangs the walk.
    super::blobs::hash_path(path)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Diff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub modified: Vec<String>,
}

impl Diff {
    pub(super) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }
}

pub(crate) fn diff(pre: &Manifest, post: &Manifest) -> Diff {
    let mut d = Diff::default();
    for (path, entry) in post {
        match pre.get(path) {
            None => d.added.push(path.clone()),
            Some(old) if old != entry => d.modified.push(path.clone()),
            Some(_) => {}
        }
    }
    d.removed = pre
        .keys()
        .filter(|p| !post.contains_key(*p))
        .cloned()
        .collect();
    d
}

/// A unified diff of the workspace change that `patch -p1` applies. Each changed text file
/// is shown as one whole-file hunk: minimal hunks need a diff algorithm, and a whole-file
/// hunk is exact, which is what evidence needs. `before` holds the pre-agent contents.
pub(crate) fn patch(d: &Diff, before: &BTreeMap<String, &str>, workspace: &Path) -> String {
    let mut out = String::new();
    let read_after = |path: &str| -> Option<String> {
        let p = workspace.join(path);
        if !std::fs::symlink_metadata(&p).ok()?.is_file() {
            return None;
        }
        String::from_utf8(model::safe_fs::read_regular(&p, PATCH_FILE_LIMIT).ok()?).ok()
    };
    let mut changed: Vec<(&String, Option<String>, Option<String>)> = Vec::new();
    for p in &d.added {
        changed.push((p, None, read_after(p)));
    }
    for p in &d.modified {
        changed.push((p, before.get(p).map(|s| s.to_string()), read_after(p)));
    }
    for p in &d.removed {
        changed.push((p, before.get(p).map(|s| s.to_string()), None));
    }
    changed.sort_by(|a, b| a.0.cmp(b.0));
    for (path, old, new) in changed {
        let added = d.added.contains(path);
        let removed = d.removed.contains(path);
        let old_name = if added {
            "/dev/null".to_string()
        } else {
            format!("a/{path}")
        };
        let new_name = if removed {
            "/dev/null".to_string()
        } else {
            format!("b/{path}")
        };
        let text_ok = (added || old.is_some()) && (removed || new.is_some());
        if !text_ok {
            out.push_str(&format!(
                "Binary files {old_name} and {new_name} differ (or too large to show)\n"
            ));
            continue;
        }
        out.push_str(&format!("--- {old_name}\n+++ {new_name}\n"));
        let old_lines: Vec<&str> = old.as_deref().map(split_lines).unwrap_or_default();
        let new_lines: Vec<&str> = new.as_deref().map(split_lines).unwrap_or_default();
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(old_lines.len()),
            range(new_lines.len())
        ));
        push_lines(&mut out, '-', old.as_deref(), &old_lines);
        push_lines(&mut out, '+', new.as_deref(), &new_lines);
    }
    out
}

fn split_lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

fn range(n: usize) -> String {
    match n {
        0 => "0,0".to_string(),
        1 => "1".to_string(),
        n => format!("1,{n}"),
    }
}

fn push_lines(out: &mut String, sign: char, whole: Option<&str>, lines: &[&str]) {
    for line in lines {
        out.push(sign);
        out.push_str(line);
    }
    if whole.is_some_and(|w| !w.is_empty() && !w.ends_with('\n')) {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

impl super::Trial<'_> {
    /// The required evidence classes the agent's side left missing
    /// (`TrialSpec::required_evidence`), as a message; `None` when all are there.
    pub(super) fn missing_agent_evidence(&self, n: u32, end: &AttemptEnd) -> Option<String> {
        let dir = self.paths.attempt_dir(n);
        let missing: Vec<&str> = self
            .spec
            .required_evidence
            .iter()
            .map(String::as_str)
            .filter(|c| match *c {
                "hook_events_ref" => !dir.join("trajectory.jsonl").is_file(),
                "trial_output_ref" | "harness_response_ref" => !dir.join("result.json").is_file(),
                // Everything else of the original's record labj always stores.
                c if model::trial::ORIGINAL_EVIDENCE_REFS.contains(&c) => false,
                c => end.evidence.iter().all(|(have, _)| have != c),
            })
            .collect();
        if missing.is_empty() {
            return None;
        }
        let hint = if missing.contains(&"hook_events_ref") {
            " (hook_events_ref: the agent wrote no trajectory at AGENTLAB_TRAJECTORY_PATH)"
        } else {
            ""
        };
        Some(format!(
            "missing required evidence classes: {}{hint}",
            missing.join(", ")
        ))
    }

    /// Stores `bytes` as a blob and makes `rel` (trial-relative) a name of it, straight
    /// from memory: no file of the trial's own is written, read back and replaced.
    fn put_evidence(&self, rel: &str, bytes: &[u8]) -> Result<(), Fault> {
        let path = self.paths.trial_dir.join(rel);
        let digest = self
            .blobs
            .put_bytes_at(bytes, &path)
            .map_err(|e| disk("blob store", e))?;
        self.stored
            .borrow_mut()
            .insert(rel.to_string(), (digest, bytes.len() as u64));
        Ok(())
    }

    /// Post manifest, diff and patch of the workspace; returns the evidence produced.
    pub(super) fn workspace_evidence(&self) -> Result<Vec<(String, String)>, Fault> {
        let post = scan(&self.paths.workspace, post_process_deadline())
            .map_err(|e| disk("scanning the workspace", e))?;
        let d = diff(&self.pre, &post);
        let dir = &self.paths.trial_dir;
        self.put_evidence(
            "workspace_manifest.json",
            &json_bytes(dir, &serde_json::json!({"pre": &self.pre, "post": &post}))?,
        )?;
        self.put_evidence("workspace_diff.json", &json_bytes(dir, &d)?)?;
        let mut evidence = vec![("workspace_diff".to_string(), "workspace_diff.json".into())];
        let patch_path = dir.join("agent_patch.diff");
        if d.is_empty() {
            let _ = std::fs::remove_file(&patch_path);
        } else {
            let before: BTreeMap<String, &str> = self
                .files
                .iter()
                .filter_map(|(rel, f)| {
                    Some((rel.to_string_lossy().into_owned(), f.text_content()?))
                })
                .collect();
            let text = patch(&d, &before, &self.paths.workspace);
            self.put_evidence("agent_patch.diff", text.as_bytes())?;
            evidence.push(("agent_patch".to_string(), "agent_patch.diff".into()));
        }
        Ok(evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_relative_refuses_escapes() {
        assert!(safe_relative("a/b.txt").is_ok());
        assert_eq!(safe_relative("./a").unwrap(), PathBuf::from("a"));
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("a/../../x").is_err());
        assert!(safe_relative("").is_err());
        assert!(safe_relative(".").is_err());
    }

    #[test]
    fn diff_finds_added_removed_modified() {
        let e = |d: &str| Entry {
            digest: d.into(),
            bytes: 1,
        };
        let pre: Manifest = [("a".into(), e("1")), ("b".into(), e("2"))].into();
        let post: Manifest = [("a".into(), e("9")), ("c".into(), e("3"))].into();
        let d = diff(&pre, &post);
        assert_eq!(d.added, vec!["c"]);
        assert_eq!(d.removed, vec!["b"]);
        assert_eq!(d.modified, vec!["a"]);
    }
}
