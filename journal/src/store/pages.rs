//! Typed reads for pages of a run (`labj view`): committed trials filtered, sorted and
//! paged in SQL, their metrics, a slot by (variant, task, replication), and one slot's
//! events in a window of the journal. Each read touches the rows it returns (plus an
//! index or a sort of the fact table), never folds, so a page of a run of any length
//! answers in the same time. Like [`Journal::fact_trial`], rows are cut at
//! `committed_before` (a reader that folded up to event `n` passes the fold's
//! `next_commit_idx`, so a live writer's later rows are left out).

use super::facts::{fact_trial_columns, raw_fact_trial};
use super::read::{decoded_row, DECODED_COLUMNS};
use super::*;
use crate::event::StoredEvent;
use rusqlite::types::Value;

/// The column a trial page is sorted by (then by slot).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrialSort {
    /// Schedule order.
    #[default]
    Slot,
    /// Variant id.
    Variant,
    /// Task id.
    Task,
    /// Replication index.
    Replication,
    /// Classification name.
    Classification,
    /// The result's outcome label (trials without one last).
    Outcome,
    /// The primary metric's value (trials without one last).
    PrimaryMetric,
    /// Number of attempts.
    Attempts,
    /// A metric of `fact_metrics` by name (trials without it last).
    Metric(String),
}

/// Which committed trials a page shows, in which order, and which slice of them.
#[derive(Debug, Clone, Default)]
pub struct TrialQuery {
    /// Slots `< committed_before` only.
    pub committed_before: u64,
    /// Only this variant's trials.
    pub variant: Option<String>,
    /// Only this task's trials.
    pub task: Option<String>,
    /// Only these `fact_trials.classification` values (`none` = skipped).
    pub classifications: Option<Vec<String>>,
    /// The order.
    pub sort: TrialSort,
    /// Largest first.
    pub descending: bool,
    /// Matching trials to skip before the page.
    pub offset: u64,
    /// Most trials on the page.
    pub limit: u64,
}

/// One page of committed trials and how many match in all.
#[derive(Debug, Clone)]
pub struct TrialPage {
    /// Trials that match the filters, on every page.
    pub matching: u64,
    /// This page's trials, in the query's order.
    pub rows: Vec<FactTrial>,
}

fn int(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

impl Journal {
    /// A page of committed trials (`fact_trials`) filtered and sorted in SQL.
    pub fn fact_trials_page(&self, q: &TrialQuery) -> Result<TrialPage> {
        let mut conds = vec!["t.schedule_idx < ?".to_string()];
        let mut args: Vec<Value> = vec![Value::Integer(int(q.committed_before))];
        if let Some(v) = &q.variant {
            conds.push("t.variant_id = ?".into());
            args.push(Value::Text(v.clone()));
        }
        if let Some(t) = &q.task {
            conds.push("t.task_id = ?".into());
            args.push(Value::Text(t.clone()));
        }
        if let Some(cs) = &q.classifications {
            if cs.is_empty() {
                conds.push("0".into());
            } else {
                conds.push(format!(
                    "t.classification IN ({})",
                    vec!["?"; cs.len()].join(", ")
                ));
                args.extend(cs.iter().map(|c| Value::Text(c.clone())));
            }
        }
        let filter = conds.join(" AND ");
        let matching: i64 = self
            .conn
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM fact_trials t WHERE {filter}"
            ))
            .map_err(|e| sqlerr(&self.path, e))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
            .map_err(|e| sqlerr(&self.path, e))?;
        let dir = if q.descending { "DESC" } else { "ASC" };
        let (join, order) = match &q.sort {
            TrialSort::Slot => (String::new(), format!("t.schedule_idx {dir}")),
            TrialSort::Variant => (String::new(), format!("t.variant_id {dir}, t.schedule_idx")),
            TrialSort::Task => (String::new(), format!("t.task_id {dir}, t.schedule_idx")),
            TrialSort::Replication => (String::new(), format!("t.repl_idx {dir}, t.schedule_idx")),
            TrialSort::Classification => (
                String::new(),
                format!("t.classification {dir}, t.schedule_idx"),
            ),
            TrialSort::Outcome => (
                String::new(),
                format!("t.outcome IS NULL, t.outcome {dir}, t.schedule_idx"),
            ),
            TrialSort::PrimaryMetric => (
                String::new(),
                format!("t.primary_metric IS NULL, t.primary_metric {dir}, t.schedule_idx"),
            ),
            TrialSort::Attempts => (String::new(), format!("t.attempts {dir}, t.schedule_idx")),
            TrialSort::Metric(name) => {
                // The join's placeholder comes first in the text: bind its value first.
                args.insert(0, Value::Text(name.clone()));
                (
                    "LEFT JOIN fact_metrics m ON m.schedule_idx = t.schedule_idx AND m.name = ?"
                        .to_string(),
                    format!("m.value IS NULL, m.value {dir}, t.schedule_idx"),
                )
            }
        };
        args.push(Value::Integer(int(q.limit)));
        args.push(Value::Integer(int(q.offset)));
        let cols = fact_trial_columns("t.");
        let sql = format!(
            "SELECT {cols} FROM fact_trials t {join} WHERE {filter} ORDER BY {order} LIMIT ? OFFSET ?"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| sqlerr(&self.path, e))?;
        let raw = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), raw_fact_trial)
            .map_err(|e| sqlerr(&self.path, e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| sqlerr(&self.path, e))?;
        let rows = raw
            .into_iter()
            .map(|r| self.fact_trial_of(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(TrialPage {
            matching: matching.max(0) as u64,
            rows,
        })
    }

    /// The `fact_metrics` rows (slot, name, value) of the given slots, by slot and name.
    pub fn fact_metrics_of(&self, slots: &[u64]) -> Result<Vec<(u64, String, f64)>> {
        let mut out = Vec::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT schedule_idx, name, value FROM fact_metrics WHERE schedule_idx = ?1 ORDER BY name",
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        for &s in slots {
            let rows = stmt
                .query_map([int(s)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, f64>(2)?,
                    ))
                })
                .map_err(|e| sqlerr(&self.path, e))?;
            for row in rows {
                let (i, n, v) = row.map_err(|e| sqlerr(&self.path, e))?;
                out.push((i.max(0) as u64, n, v));
            }
        }
        Ok(out)
    }

    /// The metric names the committed trials of the first `scan` slots (below
    /// `committed_before`) report: a range of the key, so the cost does not grow with
    /// the run (a name only later trials report is not listed).
    pub fn fact_metric_names(&self, committed_before: u64, scan: u64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT name FROM fact_metrics WHERE schedule_idx < ?1 ORDER BY name",
            )
            .map_err(|e| sqlerr(&self.path, e))?;
        let names = stmt
            .query_map([int(committed_before.min(scan))], |r| r.get::<_, String>(0))
            .map_err(|e| sqlerr(&self.path, e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| sqlerr(&self.path, e))?;
        Ok(names)
    }

    /// The committed slot of (variant, task, replication), if any.
    pub fn slot_of(
        &self,
        variant_id: &str,
        task_id: &str,
        repl_idx: u32,
        committed_before: u64,
    ) -> Result<Option<u64>> {
        let idx: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT schedule_idx FROM fact_trials WHERE variant_id = ?1 AND task_id = ?2 AND repl_idx = ?3 AND schedule_idx < ?4",
            )
            .map_err(|e| sqlerr(&self.path, e))?
            .query_row(
                rusqlite::params![variant_id, task_id, repl_idx, int(committed_before)],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| sqlerr(&self.path, e))?;
        Ok(idx.map(|i| i.max(0) as u64))
    }

    /// The events of one slot with `from <= idx <= to`, in idx order, decoded, chain not
    /// checked: a range of the table's rowid, so the cost is the window's, not the
    /// journal's.
    pub fn slot_events_between(
        &self,
        schedule_idx: u64,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {DECODED_COLUMNS} FROM events WHERE idx BETWEEN ?1 AND ?2 AND schedule_idx = ?3 ORDER BY idx",
            ))
            .map_err(|e| sqlerr(&self.path, e))?;
        let mut rows = stmt
            .query([int(from), int(to), int(schedule_idx)])
            .map_err(|e| sqlerr(&self.path, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sqlerr(&self.path, e))? {
            out.push(decoded_row(&self.path, row)?);
        }
        Ok(out)
    }
}

/// What a page shows of `run_created` (event 0), read with SQLite's JSON functions so
/// the schedule it holds (one entry per slot) is never decoded.
#[derive(Debug, Clone)]
pub struct RunCreatedSummary {
    /// The resolved experiment as validated.
    pub experiment: serde_json::Value,
    /// blake3 hex digest of the canonical resolved experiment.
    pub experiment_digest: String,
    /// The variants, baseline first.
    pub variant_ids: Vec<String>,
    /// How the schedule was ordered.
    pub schedule_policy: String,
    /// Slots in the schedule (the length of its array, never decoded).
    pub slots: u64,
    /// Concurrency the run was created with (a later `concurrency_set` is not applied).
    pub max_concurrency: u64,
    /// `options.inputs`: the per-component input digests, when recorded.
    pub inputs: Option<serde_json::Value>,
}

impl Journal {
    /// [`RunCreatedSummary`] of event 0, `None` when the journal has no `run_created`.
    pub fn run_created_summary(&self) -> Result<Option<RunCreatedSummary>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT json_extract(payload, '$.experiment'), json_extract(payload, '$.experiment_digest'), \
                 json_extract(payload, '$.variant_ids'), json_extract(payload, '$.schedule_policy'), \
                 json_array_length(payload, '$.schedule'), json_extract(payload, '$.max_concurrency'), \
                 json_extract(payload, '$.options.inputs') \
                 FROM events WHERE idx = 0 AND kind = 'run_created'",
            )
            .map_err(|e| sqlerr(&self.path, e))?
            .query_row([], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .optional()
            .map_err(|e| sqlerr(&self.path, e))?;
        let Some((exp, digest, variants, policy, slots, conc, inputs)) = row else {
            return Ok(None);
        };
        let json = |s: Option<String>, what: &str| -> Result<Option<serde_json::Value>> {
            s.map(|s| {
                serde_json::from_str(&s)
                    .map_err(|e| self.damaged(format!("run_created: {what} is not JSON: {e}")))
            })
            .transpose()
        };
        let variant_ids = match json(variants, "variant_ids")? {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| self.damaged(format!("run_created: variant_ids: {e}")))?,
            None => Vec::new(),
        };
        Ok(Some(RunCreatedSummary {
            experiment: json(exp, "experiment")?.unwrap_or_default(),
            experiment_digest: digest.unwrap_or_default(),
            variant_ids,
            schedule_policy: policy.unwrap_or_default(),
            slots: slots.unwrap_or(0).max(0) as u64,
            max_concurrency: conc.unwrap_or(0).max(0) as u64,
            inputs: json(inputs, "options.inputs")?,
        }))
    }

    /// The timestamp of event `idx` (its `ts` column), without decoding its payload.
    pub fn event_ts(&self, idx: u64) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT ts FROM events WHERE idx = ?1")
            .map_err(|e| sqlerr(&self.path, e))?
            .query_row([int(idx)], |r| r.get::<_, String>(0))
            .optional()
            .map_err(|e| sqlerr(&self.path, e))
    }
}
