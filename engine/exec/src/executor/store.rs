//! Storing what a trial produced: logs, results, trajectory, grade and evidence become
//! blobs (the trial file a name of its blob), each cut to its limit first; the journaled
//! [`ArtifactRef`]s and [`EvidenceRef`]s name them by digest.

use super::{classify, disk, write_new, AttemptEnd, Fault, Report, Trial};
use journal::event::{ArtifactRef, EvidenceRef};
use std::path::Path;

impl Trial<'_> {
    /// The size beyond which an output file of an attempt is kept only as its prefix: a
    /// result or grade over the size labj reads (refused as `result_parse_error` /
    /// `grade_error` already), a trajectory over the output cap.
    fn file_limit(&self, name: &str) -> Option<u64> {
        let file = name.rsplit('/').next().unwrap_or(name);
        match file {
            "result.json" | "grade.json" => Some(classify::MAX_RESULT_BYTES),
            "trajectory.jsonl" => Some(self.spec.agent.output_limit_bytes),
            _ => None,
        }
    }

    /// Stores logs, results, grade and evidence in the blob store.
    pub(super) fn store(
        &self,
        attempts: u32,
        last: &AttemptEnd,
        tamper: &[(String, String)],
        report: &mut Report,
    ) -> Result<(), Fault> {
        let blobs = &self.blobs;
        let stored = self.stored.borrow();
        let put = |rel: &str| -> Result<Option<(String, u64)>, Fault> {
            if let Some(have) = stored.get(rel) {
                return Ok(Some(have.clone()));
            }
            let path = self.paths.trial_dir.join(rel);
            match std::fs::symlink_metadata(&path) {
                // An empty log: no file kept, no blob, no artifact.
                Ok(m) if m.is_file() && m.len() == 0 && rel.ends_with(".log") => {
                    let _ = std::fs::remove_file(&path);
                    Ok(None)
                }
                Ok(m) if m.is_file() => blobs
                    .put_file(&path)
                    .map(Some)
                    .map_err(|e| disk("blob store", e)),
                _ => Ok(None),
            }
        };
        let mut names: Vec<String> = Vec::new();
        for n in 1..=attempts {
            for f in [
                "stdout.log",
                "stderr.log",
                "result.json",
                "trajectory.jsonl",
                "grader/grade.json",
                "grader/stdout.log",
                "grader/stderr.log",
            ] {
                names.push(format!("attempt_{n}/{f}"));
            }
        }
        let outputs = self.outputs.borrow();
        for name in names {
            let mut written_bytes = None;
            if name.ends_with(".log") {
                match outputs.get(&name) {
                    Some(t) if t.kept > 0 => {
                        written_bytes = t.truncated().then_some(t.written);
                    }
                    // Not labj's capture: a file the process planted at a log's name
                    // (or a stream that wrote nothing) is not its output.
                    _ => {
                        let _ = std::fs::remove_file(self.paths.trial_dir.join(&name));
                        continue;
                    }
                }
            } else if let Some(limit) = self.file_limit(&name) {
                written_bytes = cut_to(&self.paths.trial_dir.join(&name), limit)?;
            }
            if let Some((digest, bytes)) = put(&name)? {
                report.artifacts.push(ArtifactRef {
                    name,
                    digest,
                    bytes,
                    written_bytes,
                });
            }
        }
        for (class, rel) in last.evidence.iter().chain(tamper) {
            if let Some((digest, bytes)) = put(rel)? {
                report.evidence.push(EvidenceRef {
                    class: class.clone(),
                    path: format!("{}/{rel}", self.paths.run_rel),
                    digest,
                    bytes,
                });
            }
        }
        // Trials that changed nothing share one manifest; an empty workspace is scratch
        // (compaction removes or retires it with the directory).
        let _ = put("workspace_manifest.json")?;
        if !self.compacting {
            let _ = std::fs::remove_dir(&self.paths.workspace);
        }
        Ok(())
    }
}

/// Cuts the regular file at `path` to its first `limit` bytes when it is longer, as a new
/// file (the old name may be another name of a file the agent does not own: it is
/// unlinked, never truncated); returns the original size when it cut.
fn cut_to(path: &Path, limit: u64) -> Result<Option<u64>, Fault> {
    use std::io::Read;
    let Ok((file, size)) = model::safe_fs::open_regular(path, u64::MAX) else {
        return Ok(None); // absent or not a regular file: nothing to store anyway
    };
    if size <= limit {
        return Ok(None);
    }
    let mut prefix = Vec::with_capacity(limit.min(1 << 20) as usize);
    file.take(limit)
        .read_to_end(&mut prefix)
        .map_err(|e| disk(&path.display().to_string(), e))?;
    write_new(path, &prefix)?;
    Ok(Some(size))
}
