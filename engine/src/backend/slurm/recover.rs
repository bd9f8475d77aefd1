//! `labj continue` on a Slurm run: attempts of the dead session that Slurm still runs
//! (or that finished and left an outcome nobody collected) are taken over, not lost.

use super::{cmd, job, pilot_files, SlurmBackend};
use journal::event::{Event, WorkerLost};
use journal::Journal;
use std::collections::HashMap;
use std::path::Path;

/// The Slurm job id journaled last for each ticket (a pure function of the journal).
pub(crate) fn journaled_jobs(journal: &Journal) -> Result<HashMap<String, String>, String> {
    let mut jobs = HashMap::new();
    journal
        .for_each_event_of_kind("backend_job_submitted", |e| {
            if let Event::BackendJobSubmitted(b) = e.event {
                jobs.insert(b.ticket_id, b.job_id);
            }
            Ok(())
        })
        .map_err(|e| format!("reading the journal's slurm job ids: {e}"))?;
    Ok(jobs)
}

/// A job named for `ticket_id` that Slurm knows (a crash between `sbatch` and the
/// journaling of its id leaves exactly this).
fn job_by_name(ticket_id: &str) -> Result<Option<String>, String> {
    let out = std::process::Command::new("squeue")
        .args(["-h", "--states=all", "-o", "%i", "--name"])
        .arg(SlurmBackend::job_name(ticket_id))
        .output()
        .map_err(|e| format!("squeue: cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "squeue --name failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(String::from))
}

/// The pilot worker job whose files hold `ticket_id` (a crash between handing a trial
/// to a worker and journaling that leaves exactly this).
fn pilot_holder(run_dir: &Path, ticket_id: &str) -> Option<String> {
    let name = format!("{ticket_id}.json");
    let rd = std::fs::read_dir(pilot_files::workers_dir(run_dir)).ok()?;
    rd.filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .find(|e| {
            [
                pilot_files::INBOX,
                pilot_files::CLAIMED,
                pilot_files::OUTBOX,
            ]
            .iter()
            .any(|sub| e.path().join(sub).join(&name).exists())
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
}

/// Move every stale trial whose job is alive or left an outcome out of `worker_lost`
/// (the recovery plan's list) into the backend; returns their trial ids (in flight from the start of the session).
pub(crate) fn reattach(
    journal: &Journal,
    run_dir: &Path,
    backend: &mut SlurmBackend,
    worker_lost: &mut Vec<WorkerLost>,
) -> Result<Vec<String>, String> {
    if worker_lost.is_empty() {
        return Ok(Vec::new());
    }
    let journaled = journaled_jobs(journal)?;
    let mut found: Vec<(usize, String)> = Vec::new();
    for (i, w) in worker_lost.iter().enumerate() {
        // A pilot worker's files say where its trial is even when the session died
        // between handing (or moving) it and journaling that; then the journal; then
        // a job named for the ticket (one job per trial, crashed before journaling).
        let job_id = match pilot_holder(run_dir, &w.ticket_id) {
            Some(id) => Some(id),
            None => match journaled.get(&w.ticket_id) {
                Some(id) => Some(id.clone()),
                None => job_by_name(&w.ticket_id)?,
            },
        };
        if let Some(id) = job_id {
            found.push((i, id));
        }
    }
    let ids: Vec<String> = found.iter().map(|(_, id)| id.clone()).collect();
    let states = cmd::squeue(&ids)?;
    let mut taken = Vec::new();
    for (i, job_id) in found {
        let w = &worker_lost[i];
        let has_outcome = job::job_dir(run_dir, &w.ticket_id)
            .join(job::OUTCOME_FILE)
            .is_file()
            || pilot_files::outcome_path(run_dir, &job_id, &w.ticket_id).is_file();
        let alive = states.get(&job_id).is_some_and(|s| !s.is_terminal());
        if has_outcome || alive {
            backend.reattach(&w.ticket_id, w.schedule_idx, &w.trial_id, &job_id);
            taken.push(i);
        }
    }
    let mut reattached = Vec::new();
    for i in taken.into_iter().rev() {
        reattached.push(worker_lost.remove(i).trial_id);
    }
    reattached.reverse();
    Ok(reattached)
}
