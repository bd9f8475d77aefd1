//! One Slurm job = one attempt of one trial. Its files live in the shared run directory:
//!
//! ```text
//! <run_dir>/slurm/<ticket>/spec.json      the TrialSpec (written by the coordinator)
//! <run_dir>/slurm/<ticket>/job.sh         the batch script: `labj trial exec …`
//! <run_dir>/slurm/<ticket>/outcome.json   the TrialOutcome (written by the job, atomically)
//! <run_dir>/slurm/<ticket>/slurm-<id>.out the job's stdout/stderr
//! ```
//!
//! The job never touches the journal: the coordinator reads `outcome.json` and journals it.

use exec::executor::{execute_trial, TrialControl};
use model::trial::{TrialOutcome, TrialSpec};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const SPEC_FILE: &str = "spec.json";
pub(crate) const OUTCOME_FILE: &str = "outcome.json";
pub(crate) const SCRIPT_FILE: &str = "job.sh";

/// Where the files of the job running `ticket_id` live.
pub(crate) fn job_dir(run_dir: &Path, ticket_id: &str) -> PathBuf {
    run_dir.join("slurm").join(ticket_id)
}

/// Quote for POSIX sh: single quotes, with embedded ones closed and escaped.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Write `bytes` to `path` atomically (temp file, fsync, rename): a reader sees the whole
/// file or none.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Write the spec and the batch script of one job; returns the script's path.
pub(crate) fn prepare(dir: &Path, spec: &TrialSpec, labj: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let spec_path = dir.join(SPEC_FILE);
    let json = serde_json::to_vec(spec).map_err(std::io::Error::other)?;
    write_atomic(&spec_path, &json)?;
    let script = format!(
        "#!/bin/sh\n# labj: one attempt of {trial} (run {run}); written by the coordinator.\nexec {labj} trial exec --spec {spec} --outcome {outcome}\n",
        trial = spec.trial_id,
        run = spec.run_id,
        labj = sh_quote(&labj.to_string_lossy()),
        spec = sh_quote(&spec_path.to_string_lossy()),
        outcome = sh_quote(&dir.join(OUTCOME_FILE).to_string_lossy()),
    );
    let script_path = dir.join(SCRIPT_FILE);
    write_atomic(&script_path, script.as_bytes())?;
    Ok(script_path)
}

/// The outcome a finished job wrote: `None` while there is none; an error when the file
/// exists but does not decode.
pub(crate) fn read_outcome(dir: &Path) -> Result<Option<TrialOutcome>, String> {
    let path = dir.join(OUTCOME_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: not a trial outcome: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// How long the suspension watchdog sleeps between looks at the clock.
const WATCH_TICK: Duration = Duration::from_millis(50);
/// A gap this much longer than a tick means the whole process was stopped.
const SUSPEND_GAP: Duration = Duration::from_millis(500);

/// What `labj trial exec` runs inside the job: the same [`execute_trial`] as a local
/// run, with the outcome written atomically to `outcome_path`.
///
/// `scontrol suspend` stops every process of the job, this one included, so the
/// executor cannot mark the pause itself; a watchdog thread notices the gap in its own
/// ticks after `scontrol resume` and credits it as paused time, so a suspension does not
/// count against the agent's timeout.
pub fn exec_job(spec_path: &Path, outcome_path: &Path) -> Result<TrialOutcome, String> {
    let bytes = std::fs::read(spec_path).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let spec: TrialSpec = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a trial spec: {e}", spec_path.display()))?;
    let control = TrialControl::new();
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let control = Arc::clone(&control);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(WATCH_TICK);
                let now = Instant::now();
                let gap = now.duration_since(last);
                if gap > WATCH_TICK + SUSPEND_GAP {
                    control.credit_paused(gap.saturating_sub(WATCH_TICK));
                }
                last = now;
            }
        })
    };
    let outcome = execute_trial(&spec, &control);
    done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    let json = serde_json::to_vec(&outcome).map_err(|e| format!("outcome: {e}"))?;
    write_atomic(outcome_path, &json)
        .map_err(|e| format!("cannot write {}: {e}", outcome_path.display()))?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(sh_quote("/a b/labj"), "'/a b/labj'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
    }
}
