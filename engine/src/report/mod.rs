//! Read-only views of a run's results: its committed trials ([`facts`]), why trials
//! failed ([`failures`]), their logs ([`logs`]), the runs under a directory ([`runs`]),
//! and the statistical report of `labj report` ([`build`], numbers from [`stats`]).
//!
//! Infrastructure faults (lost workers, spawn failures, disk errors) and pruned slots
//! are counted apart and never enter a denominator, a mean or a paired comparison.
//! Rendering (text, markdown, HTML) is the CLI's.

pub mod facts;
pub mod failures;
pub mod logs;
pub mod runs;
pub mod stats;
pub mod status;

pub use facts::{collect, committed_trial, RunFacts, TrialRow};
pub use failures::{failure_classes, failure_classes_materialized, FailureClass};
use serde::Serialize;
use stats::Interval;
pub use status::{status, StatusView};
use std::collections::BTreeMap;
use std::path::Path;

/// Bootstrap settings; the defaults make every report of a run identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BootstrapOptions {
    pub resamples: u32,
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            resamples: 2000,
            seed: 1,
        }
    }
}

/// The primary metric of one variant's scored trials that report it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSummary {
    pub name: String,
    pub n: u64,
    pub mean: f64,
    pub ci95: Option<Interval>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSummary {
    pub variant_id: String,
    pub is_baseline: bool,
    pub committed: u64,
    /// The denominator: committed minus infrastructure faults, cancelled and pruned slots.
    pub scored: u64,
    pub succeeded: u64,
    pub success_rate: Option<f64>,
    pub success_ci95: Option<Interval>,
    /// Slots committed with an infrastructure fault (outside `scored`).
    pub infra_lost: u64,
    /// Slots an operator cancelled (outside `scored`).
    pub cancelled: u64,
    /// Attempts lost to infrastructure and run again.
    pub infra_retried: u64,
    pub skipped_pruned: u64,
    pub metric: Option<MetricSummary>,
}

/// One (task, replication) pair whose success differs between baseline and variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flip {
    pub task_id: String,
    pub repl_idx: u32,
}

/// A variant against the baseline over the (task, replication) pairs both scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub variant_id: String,
    pub baseline_id: String,
    /// Pairs where both trials were scored.
    pub pairs: u64,
    /// Pairs left out: one side is an infrastructure fault, cancelled, pruned, or not
    /// committed.
    pub excluded_pairs: u64,
    pub both_succeeded: u64,
    pub both_failed: u64,
    /// Baseline succeeded, variant did not (`b` of McNemar's test).
    pub baseline_only: u64,
    /// Variant succeeded, baseline did not (`c`).
    pub variant_only: u64,
    /// Exact two-sided McNemar p-value on (b, c).
    pub mcnemar_p: f64,
    /// Variant success rate minus baseline success rate over the pairs.
    pub success_rate_diff: Option<f64>,
    /// Pairs where both trials report the primary metric.
    pub metric_pairs: u64,
    /// Mean of (variant − baseline) metric over those pairs, with a paired bootstrap CI.
    pub metric_diff: Option<f64>,
    pub metric_diff_ci95: Option<Interval>,
    /// Pairs the variant gained (baseline failed, variant succeeded).
    pub gained: Vec<Flip>,
    /// Pairs the variant lost (baseline succeeded, variant failed).
    pub lost: Vec<Flip>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema_version: &'static str,
    pub run_id: String,
    pub experiment_id: String,
    pub status: String,
    pub total_slots: u64,
    pub committed: u64,
    pub primary_metric: Option<String>,
    pub baseline_id: String,
    pub confidence: f64,
    pub bootstrap: BootstrapOptions,
    /// Baseline first, then the variants in the experiment's order.
    pub variants: Vec<VariantSummary>,
    pub comparisons: Vec<Comparison>,
    pub failures: Vec<FailureClass>,
}

/// Build the report of a run from its committed trials.
pub fn build(run_dir: &Path, facts: &RunFacts, boot: BootstrapOptions) -> Report {
    let proj = &facts.projections;
    let variant_ids = facts.variant_ids();
    let baseline_id = variant_ids.first().cloned().unwrap_or_default();
    let pm = facts.primary_metric().map(String::from);
    let by_variant: BTreeMap<&str, Vec<&TrialRow>> =
        facts.trials.iter().fold(BTreeMap::new(), |mut m, r| {
            m.entry(r.variant_id.as_str()).or_default().push(r);
            m
        });
    let empty = Vec::new();
    let variants = variant_ids
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let rows = by_variant.get(v.as_str()).unwrap_or(&empty);
            summarize(v, i == 0, rows, pm.as_deref(), proj, boot)
        })
        .collect();
    let comparisons = variant_ids
        .iter()
        .skip(1)
        .map(|v| {
            compare(
                &baseline_id,
                by_variant.get(baseline_id.as_str()).unwrap_or(&empty),
                v,
                by_variant.get(v.as_str()).unwrap_or(&empty),
                pm.as_deref(),
                boot,
            )
        })
        .collect();
    Report {
        schema_version: "labj_report_v1",
        run_id: facts.run_id().to_string(),
        experiment_id: proj
            .run
            .as_ref()
            .map(|r| r.experiment_id.clone())
            .unwrap_or_default(),
        status: proj.control.status.as_str().to_string(),
        total_slots: proj.progress.total_slots,
        committed: proj.progress.next_commit_idx,
        primary_metric: pm,
        baseline_id,
        confidence: 0.95,
        bootstrap: boot,
        variants,
        comparisons,
        failures: failure_classes(run_dir, facts),
    }
}

fn summarize(
    variant_id: &str,
    is_baseline: bool,
    rows: &[&TrialRow],
    pm: Option<&str>,
    proj: &journal::Projections,
    boot: BootstrapOptions,
) -> VariantSummary {
    let scored: Vec<&&TrialRow> = rows.iter().filter(|r| r.is_scored()).collect();
    let succeeded = scored.iter().filter(|r| r.is_success()).count() as u64;
    let n = scored.len() as u64;
    let metric = pm.and_then(|name| {
        let xs: Vec<f64> = scored
            .iter()
            .filter_map(|r| r.metrics.get(name).copied())
            .collect();
        Some(MetricSummary {
            name: name.to_string(),
            n: xs.len() as u64,
            mean: stats::mean(&xs)?,
            ci95: stats::bootstrap_mean_ci(&xs, boot.resamples, boot.seed),
        })
    });
    VariantSummary {
        variant_id: variant_id.to_string(),
        is_baseline,
        committed: rows.len() as u64,
        scored: n,
        succeeded,
        success_rate: (n > 0).then(|| succeeded as f64 / n as f64),
        success_ci95: stats::wilson(succeeded, n, stats::Z_95),
        infra_lost: rows.iter().filter(|r| r.is_infra()).count() as u64,
        cancelled: rows.iter().filter(|r| r.is_cancelled()).count() as u64,
        // Also counts re-runs of slots not committed yet.
        infra_retried: proj
            .aggregates
            .variants
            .get(variant_id)
            .map(|a| a.infra_retried)
            .unwrap_or(0),
        skipped_pruned: rows.iter().filter(|r| r.classification.is_none()).count() as u64,
        metric,
    }
}

fn compare(
    baseline_id: &str,
    base: &[&TrialRow],
    variant_id: &str,
    var: &[&TrialRow],
    pm: Option<&str>,
    boot: BootstrapOptions,
) -> Comparison {
    let key = |r: &TrialRow| (r.task_id.clone(), r.repl_idx);
    let base_by: BTreeMap<(String, u32), &TrialRow> = base.iter().map(|r| (key(r), *r)).collect();
    let var_by: BTreeMap<(String, u32), &TrialRow> = var.iter().map(|r| (key(r), *r)).collect();
    let all_keys: std::collections::BTreeSet<&(String, u32)> =
        base_by.keys().chain(var_by.keys()).collect();
    let mut c = Comparison {
        variant_id: variant_id.to_string(),
        baseline_id: baseline_id.to_string(),
        pairs: 0,
        excluded_pairs: 0,
        both_succeeded: 0,
        both_failed: 0,
        baseline_only: 0,
        variant_only: 0,
        mcnemar_p: 1.0,
        success_rate_diff: None,
        metric_pairs: 0,
        metric_diff: None,
        metric_diff_ci95: None,
        gained: Vec::new(),
        lost: Vec::new(),
    };
    let mut diffs = Vec::new();
    for k in all_keys {
        let (Some(b), Some(v)) = (base_by.get(k), var_by.get(k)) else {
            c.excluded_pairs += 1;
            continue;
        };
        if !b.is_scored() || !v.is_scored() {
            c.excluded_pairs += 1;
            continue;
        }
        c.pairs += 1;
        let flip = Flip {
            task_id: k.0.clone(),
            repl_idx: k.1,
        };
        match (b.is_success(), v.is_success()) {
            (true, true) => c.both_succeeded += 1,
            (false, false) => c.both_failed += 1,
            (true, false) => {
                c.baseline_only += 1;
                c.lost.push(flip);
            }
            (false, true) => {
                c.variant_only += 1;
                c.gained.push(flip);
            }
        }
        if let Some(m) = pm {
            if let (Some(x), Some(y)) = (b.metrics.get(m), v.metrics.get(m)) {
                diffs.push(y - x);
            }
        }
    }
    c.mcnemar_p = stats::mcnemar_exact(c.baseline_only, c.variant_only);
    if c.pairs > 0 {
        c.success_rate_diff =
            Some((c.variant_only as f64 - c.baseline_only as f64) / c.pairs as f64);
    }
    c.metric_pairs = diffs.len() as u64;
    c.metric_diff = stats::mean(&diffs);
    c.metric_diff_ci95 = stats::bootstrap_mean_ci(&diffs, boot.resamples, boot.seed);
    c
}

/// A trial named on the command line: `24`, `000024` or `trial_000024` (ids are
/// `trial_<schedule_idx>` with six digits or more).
pub fn parse_trial_id(s: &str) -> Result<String, String> {
    let t = s.trim();
    let digits = t.strip_prefix("trial_").unwrap_or(t);
    match digits.parse::<u64>() {
        Ok(n) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(crate::coordinator::trial_id_of(n))
        }
        _ => Err(format!(
            "`{s}` is not a trial id: give its number (`24`) or its id (`trial_000024`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_ids_accept_numbers_and_ids() {
        assert_eq!(parse_trial_id("24").unwrap(), "trial_000024");
        assert_eq!(parse_trial_id("trial_000024").unwrap(), "trial_000024");
        assert_eq!(parse_trial_id("trial_24").unwrap(), "trial_000024");
        assert_eq!(parse_trial_id("1234567").unwrap(), "trial_1234567");
        for bad in ["", "trial_", "x24", "-1", "24a", "trial_0x1"] {
            assert!(parse_trial_id(bad).is_err(), "{bad}");
        }
    }
}
