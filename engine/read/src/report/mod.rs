//! Read-only views of a run's results: its committed trials ([`facts`]), why trials
//! failed ([`failures`]), their logs ([`logs`]), the runs under a directory ([`runs`]),
//! and the statistical report of `labj report` ([`build`], numbers from [`stats`]).
//!
//! Infrastructure faults (lost workers, spawn failures, disk errors) and pruned slots
//! are counted apart and never enter a denominator, a mean or a paired comparison.
//! Rendering (text, markdown, HTML) is the CLI's.

pub mod clustered;
mod compare;
use compare::compare;
pub mod dist;
mod facts;
mod failures;
pub mod logs;
pub mod runs;
pub mod stats;
mod status;

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
    /// Bootstrap resamples per interval (default 2000).
    pub resamples: u32,
    /// Seed of the resampling, so the same journal gives the same intervals (default 1).
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

/// A metric's name, its direction and whether it is the primary one: from the
/// experiment's top-level `metrics` list (the original runner's format: `id`,
/// `primary`, `direction` `maximize`/`minimize`, `aggregate`) or `primary_metric`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricDef {
    /// The metric's name in the agents' results (the definition's `id`).
    pub name: String,
    /// `maximize` (default) or `minimize`: which way is better.
    pub direction: String,
    /// The definition's `aggregate`, as written: carried into the JSON report, never applied
    /// (every summary is a mean).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<String>,
}

/// One numeric metric of one variant's scored trials that report it, with a 95%
/// interval treating the replications of a task as one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSummary {
    /// The metric's name.
    pub name: String,
    /// Trials behind the mean.
    pub n: u64,
    /// Tasks behind the mean (the sampling unit).
    pub tasks: u64,
    /// Mean over the trials that report it.
    pub mean: f64,
    /// Cluster-robust (CR1) standard error, clustered by task.
    pub se: Option<f64>,
    /// Percentile cluster bootstrap over tasks (over trials with one replication).
    pub ci95: Option<Interval>,
    /// Why a statistic above is missing although there are values ([`OUT_OF_RANGE`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<&'static str>,
}

/// Why a statistic of values near ±1.8e308 (the end of f64) is not given: its means
/// are computed without overflow, but a spread or interval may lie beyond the range.
pub const OUT_OF_RANGE: &str =
    "interval unavailable: the values are too large for 64-bit floating point (near ±1.8e308)";

/// How many scored trials (and tasks) reported one value of a non-numeric metric
/// (strings and booleans counted by value; null as `null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueCount {
    /// The metric's name.
    pub name: String,
    /// The value as text (a string as is, anything else as JSON).
    pub value: String,
    /// Scored trials that reported this value.
    pub trials: u64,
    /// Tasks among them.
    pub tasks: u64,
}

/// Tokens and cost the agents reported (metrics `tokens_in`, `tokens_out`, `cost_usd`),
/// summed over the scored trials that report them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostSummary {
    /// Sum of `cost_usd`; `None` when no trial reports it.
    pub cost_usd: Option<f64>,
    /// Sum of `tokens_in`.
    pub tokens_in: Option<f64>,
    /// Sum of `tokens_out`.
    pub tokens_out: Option<f64>,
    /// Cost over the scored trials.
    pub cost_per_trial: Option<f64>,
    /// Cost of all scored trials over the successes among them.
    pub cost_per_success: Option<f64>,
}

/// One variant's committed trials: counts by kind, its success rate with a task-clustered
/// interval, its metrics and its cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSummary {
    /// The variant's id.
    pub variant_id: String,
    /// Whether this is the experiment's baseline (the first variant).
    pub is_baseline: bool,
    /// Slots committed, whatever their outcome.
    pub committed: u64,
    /// The denominator: committed minus infrastructure faults, cancelled and pruned slots.
    pub scored: u64,
    /// Tasks with at least one scored trial: the clusters of every interval.
    pub tasks: u64,
    /// Scored trials that succeeded.
    pub succeeded: u64,
    /// `succeeded / scored`; `None` with nothing scored.
    pub success_rate: Option<f64>,
    /// Wilson over trials with one replication per task; with several, Wilson on the
    /// effective sample size (trials / design effect), clustered by task.
    pub success_ci95: Option<Interval>,
    /// Cluster-robust standard error of the success rate, clustered by task.
    pub success_se: Option<f64>,
    /// How `success_ci95` was made.
    pub success_interval: Option<clustered::IntervalMethod>,
    /// Clustered variance over the i.i.d. variance of the success rate (1 with one
    /// replication).
    pub success_design_effect: Option<f64>,
    /// Within-task (replication) and between-task variance of success.
    pub success_variance: clustered::VarianceComponents,
    /// Slots committed with an infrastructure fault (outside `scored`).
    pub infra_lost: u64,
    /// Slots an operator cancelled (outside `scored`).
    pub cancelled: u64,
    /// Attempts lost to infrastructure and run again.
    pub infra_retried: u64,
    /// Slots skipped because the variant was pruned (outside `scored`).
    pub skipped_pruned: u64,
    /// The primary metric.
    pub metric: Option<MetricSummary>,
    /// Every numeric metric the agents reported, by name.
    pub metrics: Vec<MetricSummary>,
    /// Every non-numeric metric value, counted (by name, then value).
    pub value_counts: Vec<ValueCount>,
    /// Cost and tokens of the scored trials.
    pub cost: CostSummary,
    /// Bindings of the variant, as the experiment gives them.
    pub bindings: serde_json::Value,
}

/// One (task, replication) pair whose success differs between baseline and variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flip {
    /// The task.
    pub task_id: String,
    /// The replication.
    pub repl_idx: u32,
}

/// A metric compared over tasks (replications averaged within a task first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    /// The metric's name.
    pub name: String,
    /// `maximize` or `minimize`, from the metric definitions (cost and tokens: `minimize`).
    pub direction: String,
    /// Mean per-task difference (variant − baseline) with its paired tests.
    pub test: clustered::PairedTest,
    /// What this many tasks can detect for the metric.
    pub power: clustered::PowerAnalysis,
    /// Why a statistic of the test is missing although there are tasks ([`OUT_OF_RANGE`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<&'static str>,
}

/// A variant against the baseline: over the (task, replication) pairs both scored
/// (McNemar, flips) and over the tasks both scored (the sampling unit: paired t,
/// sign-flip permutation, power).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The variant compared.
    pub variant_id: String,
    /// The baseline it is compared with.
    pub baseline_id: String,
    /// Pairs where both trials were scored.
    pub pairs: u64,
    /// Pairs left out: one side is an infrastructure fault, cancelled, pruned, or not
    /// committed.
    pub excluded_pairs: u64,
    /// Pairs where both succeeded.
    pub both_succeeded: u64,
    /// Pairs where neither succeeded.
    pub both_failed: u64,
    /// Baseline succeeded, variant did not (`b` of McNemar's test).
    pub baseline_only: u64,
    /// Variant succeeded, baseline did not (`c`).
    pub variant_only: u64,
    /// Exact two-sided McNemar p-value on (b, c): valid with one replication per task.
    pub mcnemar_p: f64,
    /// Variant success rate minus baseline success rate over the pairs.
    pub success_rate_diff: Option<f64>,
    /// Tasks both variants scored (each side's replications averaged).
    pub tasks: u64,
    /// Success compared over tasks: mean per-task difference, t interval, paired t and
    /// sign-flip permutation p-values.
    pub over_tasks: Option<clustered::PairedTest>,
    /// The comparison's test: `mcnemar` with one replication per task, else `paired_t`
    /// over tasks.
    pub test: &'static str,
    /// Its p-value, and Holm's adjustment over the run's comparisons.
    pub p_value: f64,
    /// `p_value` adjusted by Holm over every comparison of the run.
    pub p_holm: f64,
    /// Power of the success comparison over tasks; `None` without a shared task.
    pub power: Option<clustered::PowerAnalysis>,
    /// Tasks where the variant's success rate is higher / lower than the baseline's.
    pub tasks_gained: Vec<String>,
    /// Tasks where the variant's success rate is lower than the baseline's.
    pub tasks_lost: Vec<String>,
    /// Tasks where both report the primary metric.
    pub metric_pairs: u64,
    /// Mean per-task (variant − baseline) primary metric, with a bootstrap CI over tasks.
    pub metric_diff: Option<f64>,
    /// Percentile bootstrap interval of `metric_diff`, resampling tasks.
    pub metric_diff_ci95: Option<Interval>,
    /// Every numeric metric both report, compared over tasks.
    pub metrics: Vec<MetricComparison>,
    /// Metrics both report whose per-task differences f64 cannot hold (values near
    /// ±1.8e308 of opposite signs): not compared, for the reason [`OUT_OF_RANGE`] gives.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics_out_of_range: Vec<String>,
    /// Pairs the variant gained (baseline failed, variant succeeded).
    pub gained: Vec<Flip>,
    /// Pairs the variant lost (baseline succeeded, variant failed).
    pub lost: Vec<Flip>,
}

/// Which tasks each variant solved: success rate per (task, variant), tasks in the
/// dataset's order, variants in the experiment's; `None` where nothing was scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskGrid {
    /// The dataset's tasks, in its order (the rows).
    pub task_ids: Vec<String>,
    /// The variants, baseline first (the columns).
    pub variant_ids: Vec<String>,
    /// `rates[task][variant]`: success rate of that variant's trials of that task.
    pub rates: Vec<Vec<Option<f64>>>,
}

/// The report of a run (`labj report`, schema `labj_report_v1`): every number it shows,
/// computed from the committed trials only; the CLI renders it as text, markdown, HTML or
/// JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `labj_report_v1`.
    pub schema_version: &'static str,
    /// The run.
    pub run_id: String,
    /// The experiment's id, as `run_created` recorded it.
    pub experiment_id: String,
    /// The run's status when the report was made (`running`, `completed`, `interrupted`,
    /// …).
    pub status: String,
    /// Slots in the schedule.
    pub total_slots: u64,
    /// Slots committed so far.
    pub committed: u64,
    /// The primary metric: the run's, else the first metric definition.
    pub primary_metric: Option<String>,
    /// The experiment's metric definitions, primary first.
    pub metric_defs: Vec<MetricDef>,
    /// The baseline variant every comparison is against.
    pub baseline_id: String,
    /// The sampling unit of every interval and test: `task`.
    pub unit: &'static str,
    /// Tasks with a scored trial, and the most replications any task has.
    pub tasks: u64,
    /// The most scored trials any task has in one variant.
    pub max_replications: u64,
    /// Confidence level of every interval: 0.95.
    pub confidence: f64,
    /// The bootstrap settings the intervals used.
    pub bootstrap: BootstrapOptions,
    /// First and last event time of the run, and the time between them in seconds.
    pub started_at: Option<String>,
    /// See `started_at`.
    pub ended_at: Option<String>,
    /// See `started_at`.
    pub duration_s: Option<f64>,
    /// The run's cost and tokens over every variant.
    pub cost: CostSummary,
    /// Baseline first, then the variants in the experiment's order.
    pub variants: Vec<VariantSummary>,
    /// Each variant against the baseline, in the experiment's order.
    pub comparisons: Vec<Comparison>,
    /// Success rate per task and variant.
    pub grid: TaskGrid,
    /// Why trials failed, by class, with examples.
    pub failures: Vec<FailureClass>,
}

/// Scored trials of one variant by task (task id → trials), tasks in id order.
type ByTask<'a> = BTreeMap<&'a str, Vec<&'a TrialRow>>;

fn by_task<'a>(rows: &[&'a TrialRow]) -> ByTask<'a> {
    let mut m: ByTask<'a> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.is_scored()) {
        m.entry(r.task_id.as_str()).or_default().push(r);
    }
    m
}

/// Values of one measure per task (tasks without any value left out).
fn clusters_of(t: &ByTask<'_>, value: impl Fn(&TrialRow) -> Option<f64>) -> Vec<Vec<f64>> {
    t.values()
        .map(|rows| rows.iter().filter_map(|r| value(r)).collect::<Vec<f64>>())
        .filter(|c| !c.is_empty())
        .collect()
}

fn success(r: &TrialRow) -> Option<f64> {
    Some(if r.is_success() { 1.0 } else { 0.0 })
}

/// Build the report of a run from its committed trials.
pub fn build(run_dir: &Path, facts: &RunFacts, boot: BootstrapOptions) -> Report {
    let proj = &facts.projections;
    let variant_ids = facts.variant_ids();
    let baseline_id = variant_ids.first().cloned().unwrap_or_default();
    let defs = facts.metric_defs();
    let pm = facts
        .primary_metric()
        .map(String::from)
        .or_else(|| defs.first().map(|d| d.name.clone()));
    let by_variant: BTreeMap<&str, Vec<&TrialRow>> =
        facts.trials.iter().fold(BTreeMap::new(), |mut m, r| {
            m.entry(r.variant_id.as_str()).or_default().push(r);
            m
        });
    let empty = Vec::new();
    let variants: Vec<VariantSummary> = variant_ids
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let rows = by_variant.get(v.as_str()).unwrap_or(&empty);
            summarize(v, i == 0, rows, pm.as_deref(), facts, boot)
        })
        .collect();
    let mut comparisons: Vec<Comparison> = variant_ids
        .iter()
        .skip(1)
        .map(|v| {
            compare(
                &baseline_id,
                by_variant.get(baseline_id.as_str()).unwrap_or(&empty),
                v,
                by_variant.get(v.as_str()).unwrap_or(&empty),
                pm.as_deref(),
                &defs,
                boot,
            )
        })
        .collect();
    let holm = clustered::holm(&comparisons.iter().map(|c| c.p_value).collect::<Vec<_>>());
    for (c, p) in comparisons.iter_mut().zip(holm) {
        c.p_holm = p;
    }
    let scored_tasks: std::collections::BTreeSet<&str> = facts
        .trials
        .iter()
        .filter(|r| r.is_scored())
        .map(|r| r.task_id.as_str())
        .collect();
    let max_replications = by_variant
        .values()
        .flat_map(|rows| by_task(rows).into_values().map(|t| t.len() as u64))
        .max()
        .unwrap_or(0);
    let cost = total_cost(&variants);
    let (started_at, ended_at, duration_s) = facts.time_span();
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
        metric_defs: defs,
        baseline_id,
        unit: "task",
        tasks: scored_tasks.len() as u64,
        max_replications,
        confidence: 0.95,
        bootstrap: boot,
        started_at,
        ended_at,
        duration_s,
        cost,
        grid: grid(facts, &variant_ids, &by_variant),
        variants,
        comparisons,
        failures: failure_classes(run_dir, facts),
    }
}

fn grid(
    facts: &RunFacts,
    variant_ids: &[String],
    by_variant: &BTreeMap<&str, Vec<&TrialRow>>,
) -> TaskGrid {
    let task_ids: Vec<String> = facts
        .projections
        .run
        .as_ref()
        .map(|r| r.task_ids.clone())
        .unwrap_or_default();
    let empty = Vec::new();
    let per_variant: Vec<ByTask<'_>> = variant_ids
        .iter()
        .map(|v| by_task(by_variant.get(v.as_str()).unwrap_or(&empty)))
        .collect();
    let rates = task_ids
        .iter()
        .map(|t| {
            per_variant
                .iter()
                .map(|bt| {
                    bt.get(t.as_str()).map(|rows| {
                        rows.iter().filter(|r| r.is_success()).count() as f64 / rows.len() as f64
                    })
                })
                .collect()
        })
        .collect();
    TaskGrid {
        task_ids,
        variant_ids: variant_ids.to_vec(),
        rates,
    }
}

fn total_cost(variants: &[VariantSummary]) -> CostSummary {
    let sum = |f: fn(&CostSummary) -> Option<f64>| -> Option<f64> {
        variants
            .iter()
            .filter_map(|v| f(&v.cost))
            .reduce(|a, b| a + b)
    };
    let cost = sum(|c| c.cost_usd);
    let scored: u64 = variants.iter().map(|v| v.scored).sum();
    let succeeded: u64 = variants.iter().map(|v| v.succeeded).sum();
    CostSummary {
        cost_usd: cost,
        tokens_in: sum(|c| c.tokens_in),
        tokens_out: sum(|c| c.tokens_out),
        cost_per_trial: cost.filter(|_| scored > 0).map(|c| c / scored as f64),
        cost_per_success: cost.filter(|_| succeeded > 0).map(|c| c / succeeded as f64),
    }
}

// The metric name conventions of cost and tokens.
use engine::budget::{COST_METRIC, TOKENS_IN_METRIC, TOKENS_OUT_METRIC};

fn summarize(
    variant_id: &str,
    is_baseline: bool,
    rows: &[&TrialRow],
    pm: Option<&str>,
    facts: &RunFacts,
    boot: BootstrapOptions,
) -> VariantSummary {
    let proj = &facts.projections;
    let scored: Vec<&&TrialRow> = rows.iter().filter(|r| r.is_scored()).collect();
    let succeeded = scored.iter().filter(|r| r.is_success()).count() as u64;
    let n = scored.len() as u64;
    let tasks = by_task(rows);
    let rate_clusters = clusters_of(&tasks, success);
    let rate = clustered::clustered_rate(&rate_clusters);
    let names: std::collections::BTreeSet<&str> = scored
        .iter()
        .flat_map(|r| r.metrics.keys().map(String::as_str))
        .collect();
    let metric_of = |name: &str| -> Option<MetricSummary> {
        let cl = clusters_of(&tasks, |r| r.metrics.get(name).copied());
        let m = clustered::clustered_metric(&cl, boot.resamples, boot.seed)?;
        Some(MetricSummary {
            name: name.to_string(),
            n: m.trials,
            tasks: m.tasks,
            mean: m.mean,
            se: m.se,
            ci95: m.ci95,
            unavailable: ((m.ci95.is_none() && boot.resamples > 0)
                || (m.se.is_none() && m.tasks >= 2))
                .then_some(OUT_OF_RANGE),
        })
    };
    let metrics: Vec<MetricSummary> = names.iter().filter_map(|n| metric_of(n)).collect();
    let metric = pm.and_then(|name| metrics.iter().find(|m| m.name == name).cloned());
    let sum_of = |name: &str| -> Option<f64> {
        let xs: Vec<f64> = scored
            .iter()
            .filter_map(|r| r.metrics.get(name).copied())
            .collect();
        // A total beyond f64 is unknown, not infinite.
        Some(xs.iter().sum::<f64>()).filter(|t| !xs.is_empty() && t.is_finite())
    };
    let cost_usd = sum_of(COST_METRIC);
    let mut counts: BTreeMap<(String, String), (u64, std::collections::BTreeSet<&str>)> =
        BTreeMap::new();
    for r in &scored {
        for (k, v) in &r.other_metrics {
            let value = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let e = counts.entry((k.clone(), value)).or_default();
            e.0 += 1;
            e.1.insert(r.task_id.as_str());
        }
    }
    let value_counts = counts
        .into_iter()
        .map(|((name, value), (trials, tasks))| ValueCount {
            name,
            value,
            trials,
            tasks: tasks.len() as u64,
        })
        .collect();
    VariantSummary {
        variant_id: variant_id.to_string(),
        is_baseline,
        committed: rows.len() as u64,
        scored: n,
        tasks: tasks.len() as u64,
        succeeded,
        success_rate: (n > 0).then(|| succeeded as f64 / n as f64),
        success_ci95: rate.as_ref().and_then(|r| r.ci95),
        success_se: rate.as_ref().and_then(|r| r.se),
        success_interval: rate.as_ref().map(|r| r.method),
        success_design_effect: rate.as_ref().and_then(|r| r.design_effect),
        success_variance: clustered::variance_components(&rate_clusters),
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
        metrics,
        value_counts,
        cost: CostSummary {
            cost_usd,
            tokens_in: sum_of(TOKENS_IN_METRIC),
            tokens_out: sum_of(TOKENS_OUT_METRIC),
            cost_per_trial: cost_usd.filter(|_| n > 0).map(|c| c / n as f64),
            cost_per_success: cost_usd
                .filter(|_| succeeded > 0)
                .map(|c| c / succeeded as f64),
        },
        bindings: facts.bindings_of(variant_id),
    }
}

fn mean_of(xs: &[f64]) -> f64 {
    stats::mean(xs).unwrap_or(f64::NAN)
}

/// Per-task differences (variant − baseline) of a measure, replications averaged within
/// each side first, over the tasks where both have a value.
#[derive(Default)]
struct TaskDiffs {
    tasks: Vec<String>,
    diffs: Vec<f64>,
    /// Replications behind each difference (baseline, variant).
    reps: Vec<(usize, usize)>,
    base: Vec<Vec<f64>>,
    var: Vec<Vec<f64>>,
}

/// The direction the experiment's metric definitions give; without one, `minimize` for
/// the cost and token conventions (`cost_usd`, `tokens_in`, `tokens_out`), else
/// `maximize`.
pub(crate) fn direction_of(defs: &[MetricDef], name: &str) -> String {
    defs.iter()
        .find(|d| d.name == name)
        .map(|d| d.direction.clone())
        .unwrap_or_else(|| {
            if [COST_METRIC, TOKENS_IN_METRIC, TOKENS_OUT_METRIC].contains(&name) {
                "minimize".into()
            } else {
                "maximize".into()
            }
        })
}

/// A trial named on the command line: `24`, `000024` or `trial_000024` (ids are
/// `trial_<schedule_idx>` with six digits or more).
pub fn parse_trial_id(s: &str) -> Result<String, String> {
    let t = s.trim();
    let digits = t.strip_prefix("trial_").unwrap_or(t);
    match digits.parse::<u64>() {
        Ok(n) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(journal::trial_id_of(n))
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
