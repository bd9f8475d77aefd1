//! Naming a run: a run directory, a run id, or a unique prefix of one.

use super::RunError;
use journal::JOURNAL_FILE;
use std::path::{Path, PathBuf};

/// Find a run by directory path, run id, or unique run id prefix under `runs_dir`.
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
    let mut matches = Vec::new();
    if let Ok(entries) = std::fs::read_dir(runs_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(run) && journal::RunDir::new(e.path()).journal_path().is_file() {
                matches.push(e.path());
            }
        }
    }
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(RunError::Invalid(format!(
            "no run `{run}`: it is not a run directory (one holding {JOURNAL_FILE}) and no run id under {} starts with it",
            runs_dir.display()
        ))),
        n => {
            let mut ids: Vec<String> = matches
                .iter()
                .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
                .collect();
            ids.sort();
            Err(RunError::Invalid(format!(
                "run id prefix `{run}` is ambiguous: {n} runs under {} match: {}",
                runs_dir.display(),
                ids.join(", ")
            )))
        }
    }
}
