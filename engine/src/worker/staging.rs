//! Where a remote trial lives on the worker, whose filesystem need not be the
//! coordinator's.
//!
//! The coordinator's paths in a [`TrialSpec`] (experiment dir, trial dir, blob dir) mean
//! nothing here. The worker rewrites them under its `--work-dir`:
//!
//! ```text
//! <work-dir>/runs/<run_id>/experiment/   the files the submit carried, by value
//! <work-dir>/runs/<run_id>/tickets/<ticket_id>/trials/<trial_id>/   the trial directory
//! <work-dir>/runs/<run_id>/tickets/<ticket_id>/blobs/   its content-addressed artifacts
//! ```
//!
//! Everything an attempt leaves lives under its ticket's directory, so the worker
//! removes it whole once the coordinator acknowledged the completion (it has copied the
//! blobs home by then): the work dir does not grow with completed trials. The blobs of
//! two attempts are never shared, so removing one never takes another's evidence.
//!
//! Each carried file names its blake3; the worker checks it, and writes a file only
//! when it is missing or differs, so the same agent script sent with every submit is
//! written once per run.

use crate::wire::messages::FileDoc;
use base64::Engine as _;
use model::trial::TrialSpec;
use std::path::{Component, Path, PathBuf};

#[derive(Debug)]
pub(crate) enum StageError {
    /// The request itself is unacceptable (bad id or path, digest mismatch).
    Refused(String),
    /// The worker's disk failed.
    Io(String),
}

/// An id used as one path component: letters, digits, `-`, `_`, `.` (not `.`/`..`).
fn check_component(what: &str, s: &str) -> Result<(), StageError> {
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StageError::Refused(format!(
            "{what} `{s}` cannot name a directory on the worker (letters, digits, - _ . only)"
        )))
    }
}

/// A relative path without `..`, root or prefix.
fn check_relative(p: &str) -> Result<PathBuf, StageError> {
    let path = Path::new(p);
    let fine = !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if fine {
        Ok(path.to_path_buf())
    } else {
        Err(StageError::Refused(format!(
            "experiment file path `{p}` must be relative and stay inside the experiment directory"
        )))
    }
}

fn io(context: &Path, e: std::io::Error) -> StageError {
    StageError::Io(format!("{}: {e}", context.display()))
}

/// Write the carried files and return the spec with the worker's paths.
pub(crate) fn stage(
    work_dir: &Path,
    run_id: &str,
    ticket_id: &str,
    mut spec: TrialSpec,
    files: &[FileDoc],
) -> Result<TrialSpec, StageError> {
    check_component("run_id", run_id)?;
    check_component("ticket_id", ticket_id)?;
    check_component("trial_id", &spec.trial_id)?;
    let run_dir = work_dir.join("runs").join(run_id);
    let exp_dir = run_dir.join("experiment");
    std::fs::create_dir_all(&exp_dir).map_err(|e| io(&exp_dir, e))?;
    for f in files {
        let rel = check_relative(&f.path)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&f.content_base64)
            .map_err(|e| {
                StageError::Refused(format!("file `{}`: content is not base64: {e}", f.path))
            })?;
        let digest = blake3::hash(&bytes).to_hex().to_string();
        if digest != f.blake3 {
            return Err(StageError::Refused(format!(
                "file `{}`: content digest {digest} differs from the declared {}",
                f.path, f.blake3
            )));
        }
        write_if_changed(&exp_dir.join(rel), &bytes, f.executable)?;
    }
    // Command tokens naming files of the coordinator's experiment directory (made
    // absolute at load) name the copies here: the worker need not share its paths.
    let theirs = std::mem::replace(&mut spec.experiment_dir, exp_dir.clone());
    let rebase = |argv: &mut Vec<String>| {
        for t in argv.iter_mut() {
            if let Ok(rel) = Path::new(t.as_str()).strip_prefix(&theirs) {
                if !rel.as_os_str().is_empty() && check_relative(&rel.to_string_lossy()).is_ok() {
                    *t = exp_dir.join(rel).to_string_lossy().into_owned();
                }
            }
        }
    };
    rebase(&mut spec.agent.command);
    if let Some(g) = spec.grader.as_mut() {
        rebase(&mut g.command);
    }
    let attempt = journal::RunDir::new(ticket_dir(work_dir, run_id, ticket_id));
    spec.trial_dir = attempt.trial_dir(&spec.trial_id);
    spec.blob_dir = attempt.blobs();
    Ok(spec)
}

/// `<work-dir>/runs/<run_id>/tickets/`: one directory per attempt.
pub(crate) fn tickets_dir(work_dir: &Path, run_id: &str) -> PathBuf {
    work_dir.join("runs").join(run_id).join("tickets")
}

/// Everything the attempt `ticket_id` of run `run_id` leaves on the worker (trial
/// directory and blobs). Both ids are checked path components (see [`stage`]).
pub(crate) fn ticket_dir(work_dir: &Path, run_id: &str, ticket_id: &str) -> PathBuf {
    tickets_dir(work_dir, run_id).join(ticket_id)
}

/// Whether `s` may name a directory on the worker (the check [`stage`] applies).
pub(crate) fn is_component(s: &str) -> bool {
    check_component("", s).is_ok()
}

/// Remove what an attempt left (after its completion was acknowledged). A failure is
/// logged and left: it costs disk, never a result.
pub(crate) fn remove_ticket(work_dir: &Path, run_id: &str, ticket_id: &str) {
    if !is_component(run_id) || !is_component(ticket_id) {
        return;
    }
    let dir = ticket_dir(work_dir, run_id, ticket_id);
    if let Err(e) = remove_tree(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a finished trial's directory");
    }
}

/// Remove what attempts of an earlier worker process left: its tickets died with it
/// (a coordinator re-runs them), so nobody will fetch or acknowledge them. Called at
/// start, before the first request.
pub(crate) fn remove_stale_tickets(work_dir: &Path) {
    let Ok(runs) = std::fs::read_dir(work_dir.join("runs")) else {
        return;
    };
    for run in runs.flatten() {
        let dir = run.path().join("tickets");
        if let Err(e) = remove_tree(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove an earlier worker's trial directories");
        }
    }
}

/// `remove_dir_all` that first makes read-only directories writable (blobs are 0444,
/// an agent may leave 0555 directories). Symlinks are removed, never followed.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_dir_all(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    std::fs::remove_dir_all(dir)
}

fn write_if_changed(to: &Path, bytes: &[u8], executable: bool) -> Result<(), StageError> {
    if let Ok(existing) = std::fs::read(to) {
        if existing == bytes {
            return Ok(());
        }
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    // Write aside and rename: a trial of another slot may be executing the old file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = to.with_extension(format!("labj-staging-{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io(&tmp, e))?;
    }
    std::fs::rename(&tmp, to).map_err(|e| io(to, e))
}
