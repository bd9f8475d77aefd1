//! `labj runs`: every run under a runs directory, with the status a person needs (a run
//! whose journal says `running` but whose process is gone is `crashed`).

use engine::lease;

use journal::projection::RunStatus;
use journal::Journal;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One run of `labj runs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunListing {
    /// The run's id.
    pub run_id: String,
    /// The short name commands accept for the run (see `engine::run::run_handle`).
    pub handle: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The experiment's id, from `run_created`.
    pub experiment_id: String,
    /// `running`, `paused`, `interrupted`, `completed`, `failed`, `killed`; `crashed` when
    /// the journal says running, paused or interrupted but no live process drives the run;
    /// `unreadable` when the journal cannot be read (see `error`).
    pub status: String,
    /// A live labj process holds the run's lease.
    pub live: bool,
    /// Slots committed so far.
    pub committed: u64,
    /// Slots in the schedule.
    pub total_slots: u64,
    /// Timestamp of `run_created` (UTC).
    pub created: String,
    /// Last journaled event (UTC).
    pub last_event: String,
    /// From `run_created` to the last event, or to now while the run is live; for a run
    /// whose process died, to its last sign of life (last event or last heartbeat of its
    /// lease, whichever is later), so the duration does not shrink after a crash.
    pub duration_secs: Option<f64>,
    /// Why the journal cannot be read (status `unreadable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The displayed status of a run from its journaled status and whether its holder lives.
pub fn effective_status(journaled: RunStatus, live: bool) -> &'static str {
    match journaled {
        // Same rule as `inspect::liveness_note`: the journal says it goes on, no one drives it.
        RunStatus::Running | RunStatus::Paused | RunStatus::Interrupted if !live => "crashed",
        s => s.as_str(),
    }
}

/// Whether a live process holds the run's lease.
pub fn holder_alive(journal: &Journal) -> bool {
    matches!(lease::live_holder(journal), Ok(Some(_)))
}

/// Attempts re-run because an operator stopped them (`labj kill`, Ctrl-C: `worker_lost`
/// with `stopped_by_kill` and `retry`), as opposed to infrastructure faults.
pub fn stopped_reruns(journal: &Journal) -> Result<u64, journal::JournalError> {
    let mut n = 0;
    journal.for_each_event_of_kind("worker_lost", |e| {
        if let journal::Event::WorkerLost(w) = &e.event {
            if w.retry && w.stopped_by_kill {
                n += 1;
            }
        }
        Ok(())
    })?;
    Ok(n)
}

/// Every run directory under `runs_dir`, oldest first (run ids are time-ordered).
pub fn list(runs_dir: &Path) -> std::io::Result<Vec<RunListing>> {
    let entries = match std::fs::read_dir(runs_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| journal::RunDir::new(p).journal_path().is_file())
        .collect();
    dirs.sort();
    Ok(dirs.into_iter().map(|d| listing(&d)).collect())
}

fn listing(dir: &Path) -> RunListing {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unreadable = |error: String| RunListing {
        run_id: name.clone(),
        handle: engine::run::run_handle(&name),
        dir: dir.to_path_buf(),
        experiment_id: String::new(),
        status: "unreadable".into(),
        live: false,
        committed: 0,
        total_slots: 0,
        created: String::new(),
        last_event: String::new(),
        duration_secs: None,
        error: Some(error),
    };
    let j = match journal::RunDir::new(dir).open_read_only() {
        Ok(j) => j,
        Err(e) => return unreadable(e.to_string()),
    };
    let proj = match j.fold_from_snapshot(None) {
        Ok(p) => p.projections,
        Err(e) => return unreadable(e.to_string()),
    };
    // The first and last timestamps, read without decoding the events (event 0 holds
    // the whole schedule).
    let first_last = j
        .event_ts(0)
        .and_then(|c| Ok((c, j.event_ts(j.len().saturating_sub(1))?)));
    let (created, last_event) = match first_last {
        Ok((c, l)) => (c.unwrap_or_default(), l.unwrap_or_default()),
        Err(e) => return unreadable(e.to_string()),
    };
    let live = holder_alive(&j);
    let end_ms = if live {
        Some(lease::now_ms())
    } else {
        // A lease left behind is a session that died: it was alive until its last
        // heartbeat, which may be later than its last event.
        let heartbeat = lease::read(&j).ok().flatten().map(|row| row.heartbeat_ms);
        match (crate::inspect::parse_ts_ms(&last_event), heartbeat) {
            (Some(e), Some(h)) => Some(e.max(h)),
            (e, h) => e.or(h),
        }
    };
    let duration_secs = match (crate::inspect::parse_ts_ms(&created), end_ms) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 1000.0),
        _ => None,
    };
    let run = proj.run.as_ref();
    let run_id = run.map(|r| r.run_id.clone()).unwrap_or(name);
    RunListing {
        handle: engine::run::run_handle(&run_id),
        run_id,
        dir: dir.to_path_buf(),
        experiment_id: run.map(|r| r.experiment_id.clone()).unwrap_or_default(),
        status: effective_status(proj.control.status, live).to_string(),
        live,
        committed: proj.progress.next_commit_idx,
        total_slots: proj.progress.total_slots,
        created,
        last_event,
        duration_secs,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_running_runs_are_crashed() {
        assert_eq!(effective_status(RunStatus::Running, false), "crashed");
        assert_eq!(effective_status(RunStatus::Paused, false), "crashed");
        assert_eq!(effective_status(RunStatus::Interrupted, false), "crashed");
        assert_eq!(effective_status(RunStatus::Running, true), "running");
        assert_eq!(effective_status(RunStatus::Killed, false), "killed");
        assert_eq!(effective_status(RunStatus::Completed, false), "completed");
    }
}
