//! The committed trials of a run, read from its journal by the projections' own fold.
//!
//! The fact rows ([`FactRow`]) are exactly what the materialized `fact_*` tables hold
//! (the same fold writes them), so `labj export` equals the SQL tables by construction
//! and never reads them with hand-written SQL. Each committed trial also keeps what its
//! `trial_completed` said beyond the fact table (duration, attempts, artifacts).

use journal::event::{
    ArtifactRef, AttemptRecord, Classification, Event, TrialCompleted, TrialOutcome,
};
use journal::projection::{Changes, FactRow, FactTrial};
use journal::{Journal, JournalError, Projections};
use std::collections::{BTreeMap, HashMap};

/// One committed slot of the schedule: its `fact_trials` row (read through `Deref`:
/// `row.trial_id`, `row.classification`, …) and what its completion said beyond it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    /// The slot's row of `fact_trials`, as the fold wrote it.
    pub fact: FactTrial,
    /// Numeric metrics of the completion the slot committed (the grader's, when it graded).
    pub metrics: BTreeMap<String, f64>,
    /// Metric values that are not numbers (strings, booleans, null), as written.
    pub other_metrics: BTreeMap<String, serde_json::Value>,
    /// Every attempt of the committed dispatch, in order.
    pub attempts: Vec<AttemptRecord>,
    /// What the completion stored in the blob store (results, logs, evidence), by digest.
    pub artifacts: Vec<ArtifactRef>,
    /// Time the trial ran (paused time excluded).
    pub duration_ms: Option<u64>,
    /// The worker that ran it.
    pub worker_id: Option<String>,
    /// The completion's error, or the reason a lost attempt gave.
    pub error: Option<String>,
    /// Attempts of this slot lost to infrastructure and dispatched again.
    pub infra_retried: u32,
}

impl std::ops::Deref for TrialRow {
    type Target = FactTrial;

    fn deref(&self) -> &FactTrial {
        &self.fact
    }
}

impl TrialRow {
    /// Ran, and its outcome is the agent's: neither skipped, nor an infrastructure
    /// fault, nor cancelled by an operator.
    pub fn is_scored(&self) -> bool {
        self.classification.is_some_and(|c| c.is_verdict())
    }

    /// The agent (or its grader) said `success`.
    pub fn is_success(&self) -> bool {
        self.classification.is_some_and(|c| c.is_success())
    }

    /// Committed with an infrastructure fault (lost worker, spawn failure, disk error):
    /// never scored.
    pub fn is_infra(&self) -> bool {
        self.classification.is_some_and(|c| c.is_infra())
    }

    /// Cancelled by an operator (`labj cancel`): outside `scored`, shown apart.
    pub fn is_cancelled(&self) -> bool {
        self.classification == Some(journal::event::Classification::Cancelled)
    }

    /// Processes the agent left behind (killed when their attempt ended), summed over
    /// its attempts; `None` when no attempt counted them (sandboxes, containers and
    /// older journals: see `AttemptRecord::leaked_processes`).
    pub fn leaked_processes(&self) -> Option<u32> {
        self.attempts
            .iter()
            .filter_map(|a| a.leaked_processes)
            .reduce(|a, b| a.saturating_add(b))
    }

    /// The name users filter by: the classification, or `skipped_pruned`.
    pub fn class_name(&self) -> &'static str {
        match self.classification {
            Some(c) => c.as_str(),
            None => "skipped_pruned",
        }
    }
}

/// Everything committed in a run, in schedule (= commit) order.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// The projections after the last event.
    pub projections: Projections,
    /// Every committed slot, in schedule order.
    pub trials: Vec<TrialRow>,
    /// Rows of `fact_metrics`, `fact_trial_events` and `fact_evidence`, in commit order.
    pub rows: Vec<FactRow>,
    /// The resolved experiment `run_created` recorded (metric definitions, bindings).
    pub experiment: serde_json::Value,
    /// Times of the first and last events.
    pub first_ts: Option<String>,
    /// See `first_ts`.
    pub last_ts: Option<String>,
}

impl RunFacts {
    /// The run's id (`?` for a journal without `run_created`).
    pub fn run_id(&self) -> &str {
        self.projections
            .run
            .as_ref()
            .map(|r| r.run_id.as_str())
            .unwrap_or("?")
    }

    /// Variants in the experiment's order: the baseline first.
    pub fn variant_ids(&self) -> Vec<String> {
        self.projections
            .run
            .as_ref()
            .map(|r| r.variant_ids.clone())
            .unwrap_or_default()
    }

    /// The experiment's metric definitions (top-level `metrics`, the original runner's
    /// list of `{id, primary, direction, aggregate}`), the primary one first.
    pub fn metric_defs(&self) -> Vec<super::MetricDef> {
        let Some(list) = self.experiment.get("metrics").and_then(|m| m.as_array()) else {
            return Vec::new();
        };
        let mut defs: Vec<(bool, super::MetricDef)> = list
            .iter()
            .filter_map(|m| {
                let name = m.get("id").or_else(|| m.get("name"))?.as_str()?.to_string();
                let direction = match m.get("direction").and_then(|d| d.as_str()) {
                    Some("minimize" | "min" | "lower") => "minimize",
                    _ => "maximize",
                };
                Some((
                    m.get("primary").and_then(|p| p.as_bool()).unwrap_or(false),
                    super::MetricDef {
                        name,
                        direction: direction.to_string(),
                        aggregate: m
                            .get("aggregate")
                            .and_then(|a| a.as_str())
                            .map(String::from),
                    },
                ))
            })
            .collect();
        defs.sort_by_key(|(primary, _)| !primary);
        defs.into_iter().map(|(_, d)| d).collect()
    }

    /// A variant's `bindings` as the experiment gives them (`null` when it has none).
    pub(crate) fn bindings_of(&self, variant_id: &str) -> serde_json::Value {
        let e = &self.experiment;
        std::iter::once(e.get("baseline"))
            .chain(
                e.get("variant_plan")
                    .and_then(|p| p.as_array())
                    .into_iter()
                    .flatten()
                    .map(Some),
            )
            .flatten()
            .find(|v| v.get("variant_id").and_then(|i| i.as_str()) == Some(variant_id))
            .and_then(|v| v.get("bindings").cloned())
            .unwrap_or(serde_json::Value::Null)
    }

    /// First and last event times and the seconds between them.
    pub(crate) fn time_span(&self) -> (Option<String>, Option<String>, Option<f64>) {
        let secs = |ts: &Option<String>| ts.as_deref().and_then(chrono_free_seconds);
        let d = match (secs(&self.first_ts), secs(&self.last_ts)) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        (self.first_ts.clone(), self.last_ts.clone(), d)
    }

    /// The primary metric the run recorded, if any.
    pub fn primary_metric(&self) -> Option<&str> {
        self.projections
            .run
            .as_ref()
            .and_then(|r| r.primary_metric.as_deref())
    }
}

/// Fold the journal (hash chain checked) and collect every committed trial.
pub fn collect(journal: &Journal) -> Result<RunFacts, JournalError> {
    let mut proj = Projections::new();
    let mut changes = Changes::default();
    let mut completions: HashMap<u64, TrialCompleted> = HashMap::new();
    let mut retried: HashMap<u64, u32> = HashMap::new();
    let mut trials = Vec::new();
    let mut rows = Vec::new();
    let mut experiment = serde_json::Value::Null;
    let (mut first_ts, mut last_ts) = (None, None);
    journal.for_each_event(0, None, true, |e| {
        if first_ts.is_none() {
            first_ts = Some(e.ts.clone());
        }
        last_ts = Some(e.ts.clone());
        match &e.event {
            Event::RunCreated(r) => experiment = r.experiment.clone(),
            Event::TrialCompleted(c) => {
                completions.insert(c.schedule_idx, c.clone());
            }
            Event::WorkerLost(w) if w.retry => *retried.entry(w.schedule_idx).or_default() += 1,
            _ => {}
        }
        proj.apply(&e, &mut changes)
            .map_err(|source| JournalError::Fold {
                path: journal.path().to_path_buf(),
                source,
            })?;
        if let Event::WorkerLost(w) = &e.event {
            if !w.retry {
                // The fold synthesized the completion it commits; mirror what it kept.
                completions.insert(
                    w.schedule_idx,
                    proj.pending
                        .get(&w.schedule_idx)
                        .cloned()
                        .unwrap_or_else(|| lost_completion(w.schedule_idx, &w.trial_id, &w.reason)),
                );
            }
        }
        for row in changes.rows.drain(..) {
            match row {
                FactRow::Trial(fact) => {
                    let schedule_idx = fact.schedule_idx;
                    let c = completions.remove(&schedule_idx);
                    trials.push(TrialRow {
                        fact,
                        metrics: c.as_ref().map(|c| c.metrics.clone()).unwrap_or_default(),
                        other_metrics: c
                            .as_ref()
                            .map(|c| c.other_metrics.clone())
                            .unwrap_or_default(),
                        attempts: c.as_ref().map(|c| c.attempts.clone()).unwrap_or_default(),
                        artifacts: c.as_ref().map(|c| c.artifacts.clone()).unwrap_or_default(),
                        duration_ms: c.as_ref().map(|c| c.duration_ms),
                        worker_id: c.as_ref().map(|c| c.worker_id.clone()),
                        error: c.as_ref().and_then(|c| c.error.clone()),
                        infra_retried: retried.remove(&schedule_idx).unwrap_or(0),
                    });
                }
                r @ (FactRow::Metric { .. }
                | FactRow::TrialEvent { .. }
                | FactRow::Evidence { .. }) => rows.push(r),
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(RunFacts {
        projections: proj,
        trials,
        rows,
        experiment,
        first_ts,
        last_ts,
    })
}

/// Seconds since the epoch of an RFC 3339 UTC time as labj writes them
/// (`2026-01-02T03:04:05.678Z`); `None` for anything else.
fn chrono_free_seconds(ts: &str) -> Option<f64> {
    let ts = ts.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + min * 60) as f64 + sec)
}

/// One committed slot read by its index instead of a fold: its `fact_trials` row and
/// the completion its commit took (the slot's last `trial_completed`, or the
/// `worker_lost` the fold turned into one), with the lost attempts re-run before it.
/// Equal to the slot's row in [`collect`]; `None` when the slot is not committed.
pub fn committed_trial(
    journal: &Journal,
    schedule_idx: u64,
) -> Result<Option<TrialRow>, JournalError> {
    let Some(f) = journal.fact_trial(schedule_idx)? else {
        return Ok(None);
    };
    let mut completion = None;
    let mut infra_retried = 0;
    for e in journal.completion_events(schedule_idx)? {
        match e.event {
            Event::TrialCompleted(c) => completion = Some(c),
            Event::WorkerLost(w) if w.retry => infra_retried += 1,
            Event::WorkerLost(w) => {
                let mut c = lost_completion(w.schedule_idx, &w.trial_id, &w.reason);
                // What the fold's synthesized completion holds (`Projections::apply`).
                c.ticket_id = w.ticket_id;
                c.worker_id = w.worker_id;
                c.classification = w.classification;
                completion = Some(c);
            }
            _ => {}
        }
    }
    let c = completion.as_ref();
    Ok(Some(TrialRow {
        fact: f,
        metrics: c.map(|c| c.metrics.clone()).unwrap_or_default(),
        other_metrics: c.map(|c| c.other_metrics.clone()).unwrap_or_default(),
        attempts: c.map(|c| c.attempts.clone()).unwrap_or_default(),
        artifacts: c.map(|c| c.artifacts.clone()).unwrap_or_default(),
        duration_ms: c.map(|c| c.duration_ms),
        worker_id: c.map(|c| c.worker_id.clone()),
        error: c.and_then(|c| c.error.clone()),
        infra_retried,
    }))
}

fn lost_completion(schedule_idx: u64, trial_id: &str, reason: &str) -> TrialCompleted {
    TrialCompleted {
        schedule_idx,
        trial_id: trial_id.to_string(),
        ticket_id: String::new(),
        worker_id: String::new(),
        completion_seq: 0,
        result: TrialOutcome::infra(Classification::WorkerLost, reason),
    }
}
