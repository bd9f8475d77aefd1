//! Typed reads of the materialized fact tables and of one slot's completion events, for
//! the reading commands that must not fold every event (`labj status` on a live run).
//! The tables hold what the fold wrote in the same transactions as the events, so a
//! caller that holds the fold up to event `n` reads the rows of the slots committed by
//! then with `schedule_idx < next_commit_idx` (commits happen in schedule order).

use super::read::{decoded_row, DECODED_COLUMNS};
use super::*;
use crate::event::{Classification, SlotStatus};

/// Committed trials that did not succeed, grouped by what tells their failures apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsuccessfulGroup {
    /// The group's classification (never `success`).
    pub classification: Classification,
    /// `agent_exit_nonzero` only: the exit code of the trial's last attempt.
    pub exit_code: Option<i32>,
    /// `agent_exit_nonzero` without an exit code only: the last attempt's detail (where a
    /// signal is named).
    pub detail: Option<String>,
    /// Trials in the group.
    pub count: u64,
    /// The first trial of the group in schedule order.
    pub first_schedule_idx: u64,
}

/// The columns of `fact_trials` (each led by `prefix`, e.g. a table alias) read into a
/// [`RawFactTrial`] by [`raw_fact_trial`].
pub(super) fn fact_trial_columns(prefix: &str) -> String {
    crate::projection::FactTable::Trials
        .columns()
        .iter()
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One `fact_trials` row as SQLite holds it.
pub(super) struct RawFactTrial {
    idx: i64,
    trial_id: String,
    variant_id: String,
    task_id: String,
    repl: i64,
    status: String,
    class: String,
    outcome: Option<String>,
    pm: Option<f64>,
    attempts: i64,
}

pub(super) fn raw_fact_trial(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawFactTrial> {
    Ok(RawFactTrial {
        idx: r.get(0)?,
        trial_id: r.get(1)?,
        variant_id: r.get(2)?,
        task_id: r.get(3)?,
        repl: r.get(4)?,
        status: r.get(5)?,
        class: r.get(6)?,
        outcome: r.get(7)?,
        pm: r.get(8)?,
        attempts: r.get(9)?,
    })
}

const STATUSES: [SlotStatus; 4] = [
    SlotStatus::Completed,
    SlotStatus::Failed,
    SlotStatus::SkippedPruned,
    SlotStatus::WorkerLost,
];

impl Journal {
    pub(super) fn damaged(&self, reason: String) -> JournalError {
        JournalError::Damaged {
            path: self.path.clone(),
            reason,
        }
    }

    pub(super) fn classification_of(&self, idx: i64, s: &str) -> Result<Classification> {
        Classification::parse(s).ok_or_else(|| {
            self.damaged(format!(
                "fact_trials row of slot {idx} names an unknown classification `{s}`"
            ))
        })
    }

    /// The committed trials of slots `< committed_before` that neither succeeded nor were
    /// skipped, grouped by classification (and, for `agent_exit_nonzero`, by the last
    /// attempt's exit code or detail), in no particular order. Reads only those rows
    /// (index `fact_trials_unsuccessful`, schema 4; older journals scan the table).
    pub fn unsuccessful_groups(&self, committed_before: u64) -> Result<Vec<UnsuccessfulGroup>> {
        // The last attempt is row `attempts - 1` of fact_trial_events (kind `attempt`);
        // a trial with no attempt has none. The WHERE term repeats the index's verbatim.
        let sql = "SELECT t.classification, \
                CASE WHEN t.classification = 'agent_exit_nonzero' THEN e.exit_code END AS code, \
                CASE WHEN t.classification = 'agent_exit_nonzero' AND e.exit_code IS NULL THEN e.detail END AS why, \
                COUNT(*), MIN(t.schedule_idx) \
            FROM fact_trials t LEFT JOIN fact_trial_events e \
                ON e.schedule_idx = t.schedule_idx AND e.seq = t.attempts - 1 AND e.kind = 'attempt' \
            WHERE t.classification NOT IN ('success', 'none') AND t.schedule_idx < ?1 \
            GROUP BY t.classification, code, why";
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| sqlerr(&self.path, e))?;
        let rows = stmt
            .query_map([committed_before.min(i64::MAX as u64) as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(|e| sqlerr(&self.path, e))?;
        let mut out = Vec::new();
        for row in rows {
            let (class, code, detail, count, first) = row.map_err(|e| sqlerr(&self.path, e))?;
            out.push(UnsuccessfulGroup {
                classification: self.classification_of(first, &class)?,
                exit_code: code
                    .map(|c| {
                        i32::try_from(c).map_err(|_| {
                            self.damaged(format!(
                                "fact_trial_events of slot {first}: exit code {c} is out of range"
                            ))
                        })
                    })
                    .transpose()?,
                detail,
                count: count as u64,
                first_schedule_idx: first as u64,
            });
        }
        Ok(out)
    }

    /// The `fact_trials` row of one committed slot.
    pub fn fact_trial(&self, schedule_idx: u64) -> Result<Option<FactTrial>> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM fact_trials WHERE schedule_idx = ?1",
                fact_trial_columns("")
            ))
            .map_err(|e| sqlerr(&self.path, e))?
            .query_row([schedule_idx.min(i64::MAX as u64) as i64], raw_fact_trial)
            .optional()
            .map_err(|e| sqlerr(&self.path, e))?;
        row.map(|r| self.fact_trial_of(r)).transpose()
    }

    /// Checks and types one row read with [`fact_trial_columns`].
    pub(super) fn fact_trial_of(&self, r: RawFactTrial) -> Result<FactTrial> {
        let RawFactTrial {
            idx,
            trial_id,
            variant_id,
            task_id,
            repl,
            status,
            class,
            outcome,
            pm,
            attempts,
        } = r;
        let status = STATUSES
            .into_iter()
            .find(|s| s.as_str() == status)
            .ok_or_else(|| {
                self.damaged(format!(
                    "fact_trials row of slot {idx} names an unknown status `{status}`"
                ))
            })?;
        let classification = match class.as_str() {
            "none" => None,
            c => Some(self.classification_of(idx, c)?),
        };
        let int = |v: i64, what: &str| {
            u32::try_from(v).map_err(|_| {
                self.damaged(format!(
                    "fact_trials row of slot {idx}: {what} {v} is out of range"
                ))
            })
        };
        let schedule_idx = u64::try_from(idx)
            .map_err(|_| self.damaged(format!("fact_trials row with slot {idx}")))?;
        Ok(FactTrial {
            schedule_idx,
            trial_id,
            variant_id,
            task_id,
            repl_idx: int(repl, "repl_idx")?,
            status,
            classification,
            outcome,
            primary_metric: pm,
            attempts: int(attempts, "attempts")?,
        })
    }

    /// The events of one slot that carry a completion (`trial_completed`, `worker_lost`),
    /// in idx order, decoded, chain not checked. Read through the index
    /// `events_completions` (schema 4); older journals scan the table.
    pub fn completion_events(&self, schedule_idx: u64) -> Result<Vec<StoredEvent>> {
        // The index's condition repeated verbatim: SQLite then uses the index.
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {DECODED_COLUMNS} FROM events WHERE schedule_idx = ?1 AND kind IN ('trial_completed', 'worker_lost') ORDER BY idx",
            ))
            .map_err(|e| sqlerr(&self.path, e))?;
        let mut rows = stmt
            .query([schedule_idx.min(i64::MAX as u64) as i64])
            .map_err(|e| sqlerr(&self.path, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sqlerr(&self.path, e))? {
            out.push(decoded_row(&self.path, row)?);
        }
        Ok(out)
    }
}
