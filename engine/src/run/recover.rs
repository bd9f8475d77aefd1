//! What `continue` recovers from a journal: the plan for stale trials, the agents a dead
//! session left running, and whether the inputs still match the ones the run was created
//! with.

use super::{RunError, RunOptions};
use crate::coordinator::InfraRetry;
use crate::lease;
use journal::event::*;
use journal::{Durability, Journal, Projections};
use model::experiment::Experiment;
use std::path::Path;

/// What `continue` would do, computed from the journal alone (also `inspect`'s dry run).
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryPlan {
    /// Stale active trials, in schedule_idx order, that become `worker_lost`: re-run
    /// (`retry`) while the infra-retry budget lasts, committed as lost after.
    pub worker_lost: Vec<WorkerLost>,
    /// The first slot not yet committed.
    pub next_commit_idx: u64,
}

/// The recovery events for a journal's projections: a pure function of the journal and
/// the infra-retry budget.
pub fn recovery_plan(proj: &Projections, infra: InfraRetry) -> RecoveryPlan {
    let mut stale: Vec<_> = proj.control.active_trials.values().collect();
    stale.sort_by_key(|t| t.schedule_idx);
    let last_session = proj
        .session
        .as_ref()
        .map(|s| s.session_id.clone())
        .unwrap_or_default();
    RecoveryPlan {
        worker_lost: stale
            .into_iter()
            .map(|t| {
                infra.recover(
                    proj,
                    t,
                    format!(
                        "dispatched in session {last_session} with no completion journaled before that session ended"
                    ),
                )
            })
            .collect(),
        next_commit_idx: proj.progress.next_commit_idx,
    }
}

/// Stop agents a dead session left running: every process whose environment names this
/// run and one of `trial_ids` (agents, graders and their children inherit it) gets
/// SIGKILL. Returns how many were killed. Processes we may not inspect are skipped.
pub(crate) fn reap_orphans(run_id: &str, trial_ids: &[String]) -> usize {
    exec::isolation::reap_host_processes(run_id, Some(trial_ids))
}

/// The inputs the run was created (or last continued) with against the experiment as it
/// is now. Changed inputs are refused with the list of changed components, or accepted
/// when `opts.allow_changed_inputs` (the returned record is journaled).
pub(super) fn check_inputs(
    journal: &Journal,
    created: &RunCreated,
    exp: &Experiment,
    exp_path: &Path,
    opts: &RunOptions,
) -> Result<Option<InputsChanged>, RunError> {
    let now = model::inputs::components(exp);
    let recorded: Option<model::inputs::Components> =
        serde_json::from_value(created.options["inputs"].clone()).ok();
    let Some(mut was) = recorded else {
        // A journal from before per-component digests: only the combined legacy digest.
        let want = created.options["inputs_digest"].as_str().unwrap_or("");
        if model::inputs::legacy_digest(exp) == want && exp.digest() == created.experiment_digest {
            return Ok(None);
        }
        if opts.allow_changed_inputs {
            let mut change = model::inputs::accepted_change(&Default::default(), &now);
            change.changed =
                vec!["experiment or dataset (journal predates per-component digests)".into()];
            return Ok(Some(change));
        }
        return Err(RunError::Invalid(format!(
            "the experiment {} or its dataset changed since run {} was created; continuing would mix results of different inputs (pass --allow-changed-inputs to accept the change, which is journaled)",
            exp_path.display(),
            created.run_id
        )));
    };
    // The latest accepted change, if any, is the baseline now.
    journal.for_each_event_of_kind("session_started", |e| {
        if let Event::SessionStarted(SessionStarted {
            inputs_changed: Some(c),
            ..
        }) = e.event
        {
            was = c.inputs;
        }
        Ok(())
    })?;
    let changed = model::inputs::changed(&was, &now);
    if changed.is_empty() {
        return Ok(None);
    }
    if opts.allow_changed_inputs {
        return Ok(Some(model::inputs::accepted_change(&was, &now)));
    }
    Err(RunError::Invalid(format!(
        "the inputs of run {} changed since it was created: {} (experiment {}); continuing would mix results of different inputs. Restore them, or pass --allow-changed-inputs to continue anyway (the change is journaled)",
        created.run_id,
        changed.join(", "),
        exp_path.display()
    )))
}

pub(super) fn first_run_created(journal: &Journal) -> Result<RunCreated, RunError> {
    let mut found = None;
    journal.for_each_event(0, Some(0), false, |e| {
        if let Event::RunCreated(rc) = e.event {
            found = Some(rc);
        }
        Ok(())
    })?;
    found.ok_or_else(|| RunError::Invalid("journal does not start with run_created".into()))
}

/// `labj rebuild`: recompute the materialized projections of a run nobody drives.
/// Returns the projections and the number of events folded.
pub fn rebuild(run_dir: &Path) -> Result<(Projections, u64), RunError> {
    let mut j = journal::RunDir::new(run_dir).open_journal(Durability::Normal)?;
    if let Some(row) = lease::live_holder(&j)? {
        return Err(RunError::Invalid(format!(
            "run is live (pid {} on {}); rebuild it after it stops",
            row.pid, row.host
        )));
    }
    let proj = j.rebuild()?;
    let n = j.len();
    Ok((proj, n))
}
