//! The experiment files a remote trial needs, sent by value with its submit (the worker
//! may not share the coordinator's filesystem; see `worker::staging`).
//!
//! Sent: every `dependency_files` source, and every argument of the agent and grader
//! commands that names an existing file in the experiment directory, relative or made
//! absolute under it at load (the agent script itself, `python3 agent.py`'s `agent.py`,
//! …). Other absolute paths and bare program names must exist on the worker. Each file is read once per run (the inputs
//! digest already pins them for the run's lifetime).

use crate::wire::messages::FileDoc;
use base64::Engine as _;
use model::trial::TrialSpec;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// Upper bound of the files one submit carries (they travel in one request body).
const MAX_FILES_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Default)]
pub(crate) struct FileCache {
    by_path: HashMap<PathBuf, Option<FileDoc>>,
}

fn is_plain_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && !p.starts_with('-')
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

impl FileCache {
    /// The files `spec` needs, or an error naming the file that cannot be sent.
    pub(crate) fn files_for(&mut self, spec: &TrialSpec) -> Result<Vec<FileDoc>, String> {
        let mut wanted: Vec<(String, bool)> = spec
            .dependency_files
            .iter()
            .map(|d| (d.source.clone(), true))
            .collect();
        let commands =
            std::iter::once(&spec.agent.command).chain(spec.grader.as_ref().map(|g| &g.command));
        for argv in commands {
            for arg in argv {
                if is_plain_relative(arg) {
                    wanted.push((arg.clone(), false));
                } else if let Some(rel) = under(&spec.experiment_dir, arg) {
                    // `./agent.sh` was made absolute under the experiment directory when
                    // the experiment was loaded: it is shipped all the same, and the
                    // worker points the token at its copy (`worker::staging`).
                    wanted.push((rel, false));
                }
            }
        }
        let mut out = Vec::new();
        let mut total = 0u64;
        for (rel, required) in wanted {
            if !is_plain_relative(&rel) {
                return Err(format!(
                    "dependency file `{rel}` must be a relative path inside the experiment directory to be sent to a remote worker"
                ));
            }
            let full = spec.experiment_dir.join(&rel);
            let doc = match self.by_path.get(&full) {
                Some(d) => d.clone(),
                None => {
                    let d = read_doc(&rel, &full)?;
                    self.by_path.insert(full.clone(), d.clone());
                    d
                }
            };
            match doc {
                Some(d) => {
                    total += d.content_base64.len() as u64;
                    if out.iter().all(|o: &FileDoc| o.path != d.path) {
                        out.push(d);
                    }
                }
                None if required => {
                    return Err(format!(
                        "dependency file `{rel}` not found at {}",
                        full.display()
                    ))
                }
                None => {}
            }
        }
        if total > MAX_FILES_BYTES {
            return Err(format!(
                "the experiment files of trial {} take {total} bytes encoded, more than the {MAX_FILES_BYTES} a remote submit carries; stage large inputs on the workers (absolute paths) instead",
                spec.trial_id
            ));
        }
        Ok(out)
    }
}

/// `arg` as a plain relative path inside `dir`, when it names a file there.
fn under(dir: &Path, arg: &str) -> Option<String> {
    let rel = Path::new(arg).strip_prefix(dir).ok()?.to_str()?;
    is_plain_relative(rel).then(|| rel.to_string())
}

fn read_doc(rel: &str, full: &Path) -> Result<Option<FileDoc>, String> {
    let meta = match std::fs::metadata(full) {
        Ok(m) if m.is_file() => m,
        _ => return Ok(None),
    };
    let bytes = std::fs::read(full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    use std::os::unix::fs::PermissionsExt;
    Ok(Some(FileDoc {
        path: rel.to_string(),
        blake3: blake3::hash(&bytes).to_hex().to_string(),
        content_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        executable: meta.permissions().mode() & 0o111 != 0,
    }))
}
