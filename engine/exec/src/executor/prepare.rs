//! Preparing a trial: its workspace files and staged files checked, its directory (a
//! fresh one, a retired one of this session, or an earlier dispatch's), its inputs and
//! dependencies in place.

use super::blobs::BlobStore;
use super::recycle::TrialDirs;
use super::{
    disk, file_refs, files, json_bytes, sandbox, set_read_only, workspace, Fault, Paths, Trial,
};
use journal::event::Classification;
use model::trial::{TrialSpec, WorkspaceFile};
use std::cell::RefCell;
use std::collections::BTreeMap;

impl<'a> Trial<'a> {
    pub(super) fn prepare(
        spec: &'a TrialSpec,
        dirs: Option<&TrialDirs>,
    ) -> Result<Trial<'a>, Fault> {
        let config = |m: String| Fault(Classification::Error, m);
        let mut files = Vec::with_capacity(spec.workspace_files.len());
        for f in &spec.workspace_files {
            let rel = workspace::safe_relative(&f.path)
                .map_err(|e| config(format!("workspace file refused: {e}")))?;
            f.bytes()
                .map_err(|e| config(format!("workspace file refused: {e}")))?;
            files.push((rel, f.clone()));
        }
        let launch = sandbox::Launch::resolve(&spec.isolation)?;
        let mut read_only_files = Vec::new();
        let mut staged_deps = Vec::new();
        for st in &spec.isolation.file_staging {
            let rel = workspace::safe_relative(&st.dest)
                .map_err(|e| config(format!("file_staging destination refused: {e}")))?;
            if !st.source.is_file() {
                if st.required {
                    return Err(config(format!(
                        "file_staging source {} not found",
                        st.source.display()
                    )));
                }
                continue;
            }
            match st.area {
                model::isolation::StageArea::Deps => {
                    staged_deps.push((st.source.clone(), rel, st.read_only))
                }
                model::isolation::StageArea::Workspace => {
                    // Kept as a workspace file so it is part of the pre manifest and
                    // re-created before every attempt like the task's own files.
                    let content = std::fs::read_to_string(&st.source).map_err(|e| {
                        config(format!(
                            "file_staging into the workspace needs a UTF-8 text file; {}: {e}",
                            st.source.display()
                        ))
                    })?;
                    if st.read_only {
                        read_only_files.push(rel.clone());
                    }
                    files.push((rel, WorkspaceFile::text(st.dest.clone(), content)));
                }
            }
        }
        let mut deps = Vec::with_capacity(spec.dependency_files.len());
        for d in &spec.dependency_files {
            let dest = workspace::safe_relative(&d.dest)
                .map_err(|e| config(format!("dependency file destination refused: {e}")))?;
            let source = spec.experiment_dir.join(&d.source);
            if !source.is_file() {
                return Err(config(format!(
                    "dependency file `{}` not found at {}",
                    d.source,
                    source.display()
                )));
            }
            deps.push((source, dest, false));
        }
        deps.extend(staged_deps);
        let trial_dir = std::path::absolute(&spec.trial_dir)
            .map_err(|e| disk(&format!("trial dir {}", spec.trial_dir.display()), e))?;
        let paths = Paths::new(trial_dir);
        // A retired directory of this session: cleared like a re-dispatched trial's.
        // (By the spec's name of it: the one compaction retires it under.)
        let recycled = dirs.is_some_and(|d| d.take(&spec.trial_dir));
        // Fresh: no earlier dispatch of this trial left anything to clear away.
        let fresh = !recycled
            && match std::fs::create_dir(&paths.trial_dir) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(_) => {
                    std::fs::create_dir_all(&paths.trial_dir)
                        .map_err(|e| disk(&paths.trial_dir.display().to_string(), e))?;
                    true
                }
            };
        // Shared read-only inputs: each distinct document is stored once per run (in the
        // input store) and the trial gets a name of it, not a file of its own.
        let blobs = BlobStore::inputs(&spec.blob_dir);
        for (path, value) in [
            (&paths.task, &spec.task),
            (&paths.bindings, &spec.bindings),
            (&paths.dependencies, &spec.dependencies),
            (&paths.policy, &spec.policy),
        ] {
            let bytes = json_bytes(path, value)?;
            if recycled && path == &paths.task {
                // Each trial's own document (replications aside): rewritten in the
                // retired directory's file instead of stored as a new input per task.
                files::rewrite(path, &bytes)?;
                set_read_only(path)?;
                continue;
            }
            blobs
                .put_bytes_at(&bytes, path)
                .map_err(|e| disk(&path.display().to_string(), e))?;
        }
        let deps_dir = paths.trial_dir.join("deps");
        // Created only when there is something to stage: every inode counts when a run
        // has thousands of tiny trials.
        for (source, dest, read_only) in deps {
            let to = deps_dir.join(dest);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| disk(&parent.display().to_string(), e))?;
            }
            std::fs::copy(&source, &to).map_err(|e| {
                disk(
                    &format!("copying {} to {}", source.display(), to.display()),
                    e,
                )
            })?;
            if read_only {
                set_read_only(&to)?;
            }
        }
        // Kept in memory; written with the post manifest once the agent has run.
        let pre = workspace::manifest_of_files(&file_refs(&files));
        Ok(Trial {
            spec,
            paths,
            files,
            read_only_files,
            pre,
            launch,
            tag: uuid::Uuid::now_v7().to_string(),
            outputs: RefCell::new(BTreeMap::new()),
            groups_gone: std::cell::Cell::new(true),
            leaked: std::cell::Cell::new(0),
            fresh,
            recycled,
            compacting: dirs.is_some(),
            stored: RefCell::new(BTreeMap::new()),
            blobs: BlobStore::new(&spec.blob_dir),
        })
    }
}
