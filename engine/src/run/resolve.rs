//! Naming a run: a run directory, a run id, a unique prefix of one, or its handle (the
//! id's last [`HANDLE_LEN`] characters: random in a uuid v7, where the first 13 are the
//! creation time and shared by every run of the same minute). And where runs live: the
//! `.lab` folder of a project, found as git finds `.git`.

use super::RunError;
use journal::JOURNAL_FILE;
use std::path::{Path, PathBuf};

/// The folder that marks a project and holds its runs (`.lab/runs`).
pub const LAB_DIR: &str = ".lab";

/// How many characters a run handle has.
pub(crate) const HANDLE_LEN: usize = 6;

/// The short handle of a run id: its last `HANDLE_LEN` characters, lowercase (for a
/// uuid v7 id these are random, so runs of the same minute differ in them).
pub fn run_handle(run_id: &str) -> String {
    let chars: Vec<char> = run_id.chars().filter(|c| *c != '-').collect();
    let from = chars.len().saturating_sub(HANDLE_LEN);
    chars[from..]
        .iter()
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The nearest `.lab` folder at or above `start` (made absolute against the current
/// directory), as git finds `.git`.
pub fn find_lab(start: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(start).ok()?;
    abs.ancestors()
        .map(|a| a.join(LAB_DIR))
        .find(|lab| lab.is_dir())
}

/// Where a run of the experiment at `experiment` is created: `runs/` in the `.lab` of
/// the experiment's project, the nearest `.lab` at or above the experiment's folder
/// (so an experiment under `<project>/.lab/experiments/` runs into `<project>/.lab`, the
/// original's rule), or a new `.lab` beside the experiment when there is none.
pub fn project_runs_dir(experiment: &Path) -> PathBuf {
    let dir = match experiment.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let dir = lexically_normal(&dir);
    find_lab(&dir)
        .unwrap_or_else(|| dir.join(LAB_DIR))
        .join("runs")
}

/// `a/./b/../c` as `a/c` (without touching the filesystem: symlinks stay as written).
fn lexically_normal(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Levenshtein distance (characters).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The runs under `runs_dir` closest to `wanted` (a mistyped id, prefix or handle), best
/// first, at most three: by edit distance to the handle, to the id's start of the same
/// length, or to the whole id.
pub(crate) fn closest_runs(runs_dir: &Path, wanted: &str) -> Vec<String> {
    let wanted = wanted.trim().to_ascii_lowercase();
    let n = wanted.chars().count();
    if n == 0 {
        return Vec::new();
    }
    let limit = (n / 3).max(1);
    let mut scored: Vec<(usize, String)> = run_ids(runs_dir)
        .into_iter()
        .filter_map(|id| {
            let lower = id.to_ascii_lowercase();
            let start: String = lower.chars().take(n).collect();
            let d = distance(&wanted, &run_handle(&id))
                .min(distance(&wanted, &start))
                .min(distance(&wanted, &lower));
            (d <= limit).then_some((d, id))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, id)| id).collect()
}

/// The ids (directory names) of the runs under `runs_dir`.
fn run_ids(runs_dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(runs_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| journal::RunDir::new(e.path()).journal_path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Find a run by directory path, run id, unique run id prefix or handle under `runs_dir`.
pub fn resolve_run(runs_dir: &Path, run: &str) -> Result<PathBuf, RunError> {
    // An empty prefix would match every run.
    if run.trim().is_empty() {
        return Err(RunError::Invalid(
            "empty run id: name a run by its id, a unique id prefix, or its directory".into(),
        ));
    }
    let as_path = Path::new(run);
    for dir in [as_path.to_path_buf(), runs_dir.join(run)] {
        let journal = journal::RunDir::new(&dir).journal_path();
        if !journal.exists() && journal::store::creating_path(&journal).exists() {
            return Err(RunError::Invalid(format!(
                "run {} never started: labj was stopped while creating its journal, before run_created was written; nothing ran (remove the directory)",
                dir.display()
            )));
        }
        if !journal.exists() {
            if let Ok(Some(head)) = journal::store::integrity::read_head(&journal) {
                return Err(RunError::Invalid(format!(
                    "the journal of run {} was deleted: {JOURNAL_FILE} is gone, but its chain head record ({}) says {} events had been written; restore the journal from a copy",
                    dir.display(),
                    journal::store::integrity::head_path(&journal).display(),
                    head.events
                )));
            }
        }
        if dir.is_dir() && !journal.exists() && !run.is_empty() {
            return Err(RunError::Invalid(format!(
                "{} holds no {JOURNAL_FILE}: a run that never started (labj stopped while creating it), or not a labj run directory",
                dir.display()
            )));
        }
    }
    if journal::RunDir::new(as_path).journal_path().is_file() {
        return Ok(as_path.to_path_buf());
    }
    let direct = runs_dir.join(run);
    if journal::RunDir::new(&direct).journal_path().is_file() {
        return Ok(direct);
    }
    let handle = run.to_ascii_lowercase();
    let mut matches: Vec<PathBuf> = run_ids(runs_dir)
        .into_iter()
        .filter(|id| id.starts_with(run) || run_handle(id) == handle)
        .map(|id| runs_dir.join(id))
        .collect();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(RunError::NoSuchRun {
            run: run.to_string(),
            runs_dir: runs_dir.to_path_buf(),
            closest: closest_runs(runs_dir, run),
        }),
        n => {
            let mut ids: Vec<String> = matches
                .iter()
                .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
                .collect();
            ids.sort();
            Err(RunError::Invalid(format!(
                "run `{run}` is ambiguous: {n} runs under {} match (by id prefix or handle): {}",
                runs_dir.display(),
                ids.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_the_random_end_of_the_id() {
        assert_eq!(run_handle("0193f2c4-5b6a-7c8d-9e0f-a1b2c3D4e5f6"), "d4e5f6");
        assert_eq!(run_handle("ab"), "ab");
    }

    #[test]
    fn distances_count_edits() {
        assert_eq!(distance("d4e5f6", "d4e5f6"), 0);
        assert_eq!(distance("d4e5f7", "d4e5f6"), 1);
        assert_eq!(distance("d4ef6", "d4e5f6"), 1);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn experiments_run_into_the_nearest_lab_above_them() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("proj/.lab/experiments")).unwrap();
        std::fs::create_dir_all(root.join("proj/sub/deeper")).unwrap();
        std::fs::create_dir_all(root.join("alone")).unwrap();
        let lab = root.join("proj/.lab");
        assert_eq!(
            project_runs_dir(&root.join("proj/.lab/experiments/x.yaml")),
            lab.join("runs")
        );
        assert_eq!(
            project_runs_dir(&root.join("proj/sub/deeper/x.yaml")),
            lab.join("runs")
        );
        assert_eq!(
            project_runs_dir(&root.join("alone/../alone/x.yaml")),
            root.join("alone/.lab/runs")
        );
        assert_eq!(find_lab(&root.join("proj/sub")), Some(lab));
    }
}
