//! Statistics whose sampling unit is the task: the replications of a task share its
//! difficulty, so they are one cluster, not independent observations.
//!
//! - Means with cluster-robust standard errors (CR1: `G/(G−1) · Σ_c (Σ_i (x_ci − x̄))² / N²`)
//!   and a cluster bootstrap over tasks (percentile); success rates with a Wilson interval
//!   on the effective sample size (`N / design effect`, the design effect being the
//!   clustered variance over the i.i.d. one). With one replication per task each of
//!   these is exactly the unclustered interval (Wilson, trial bootstrap).
//! - Paired comparisons over tasks: replications averaged within a task first, then the
//!   per-task differences' mean, a t interval, the paired t test and the exact sign-flip
//!   permutation test.
//! - Holm's step-down adjustment, and power: the minimum detectable difference at 80%
//!   power and α = 0.05 and the tasks needed for a given difference (the usual
//!   `(t_{1−α/2, n−1} + t_{0.8, n−1}) · sd / √n` approximation of the paired t test),
//!   with the within-task and between-task variance from the replications.
//!
//! Every function is pure (seeded where it draws); each is checked against a reference
//! written with numpy/scipy in `engine/read/tests/report_stats_scipy.rs`. Huge values
//! (beyond ±3e150) are computed in [`Scale`] units, so no sum or square overflows; a
//! statistic the data's units cannot hold (a variance of values near 1e308) is `None`,
//! never inf or NaN.

fn scaled(clusters: &[Vec<f64>], scale: Scale) -> Vec<Vec<f64>> {
    clusters.iter().map(|c| scale.all_down(c)).collect()
}

use super::dist::{t_quantile, t_two_sided_p};
use super::stats::{quantile_sorted, wilson, Interval, Scale, Z_95};
use model::experiment::bounded_draw;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::Serialize;

/// Power the minimum detectable difference is computed for.
pub(crate) const POWER: f64 = 0.8;
/// Two-sided significance level of the tests and of the power analysis.
pub(crate) const ALPHA: f64 = 0.05;
/// Largest task count [`tasks_needed`] searches (beyond it: "more than").
pub(crate) const MAX_TASKS_NEEDED: u64 = 1_000_000;
/// Random sign flips drawn when the permutation test cannot be exact.
pub(crate) const SIGN_FLIP_DRAWS: u32 = 20_000;

/// How an interval of a [`ClusteredMean`] was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// One trial per task: the Wilson score interval over trials.
    Wilson,
    /// Several trials per task: Wilson on `trials / design_effect` trials.
    WilsonClustered,
    /// Percentile bootstrap resampling tasks (with one trial per task, resampling trials).
    ClusterBootstrap,
}

/// A mean over tasks × replications with an interval treating each task as one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusteredMean {
    /// Tasks with at least one value (the clusters, the sampling unit).
    pub tasks: u64,
    /// Values behind the mean.
    pub trials: u64,
    /// Mean over all trials.
    pub mean: f64,
    /// Cluster-robust (CR1) standard error; `None` with fewer than two tasks.
    pub se: Option<f64>,
    /// 95% interval of the mean.
    pub ci95: Option<Interval>,
    /// How `ci95` was made.
    pub method: IntervalMethod,
    /// Clustered variance over the i.i.d. variance of the mean (1 with one replication).
    pub design_effect: Option<f64>,
}

/// Mean and CR1 cluster-robust standard error of values grouped by task (empty groups
/// ignored). `None` for no values; the SE is `None` with fewer than two tasks.
pub fn cluster_robust(clusters: &[Vec<f64>]) -> Option<(f64, Option<f64>)> {
    let scale = Scale::of(clusters.iter().flatten());
    let (mean, se) = cluster_robust_units(&scaled(clusters, scale))?;
    Some((scale.up(mean)?, se.and_then(|s| scale.up(s))))
}

fn cluster_robust_units(clusters: &[Vec<f64>]) -> Option<(f64, Option<f64>)> {
    let groups: Vec<&Vec<f64>> = clusters.iter().filter(|c| !c.is_empty()).collect();
    let n: usize = groups.iter().map(|c| c.len()).sum();
    if n == 0 {
        return None;
    }
    let mean = groups.iter().flat_map(|c| c.iter()).sum::<f64>() / n as f64;
    let g = groups.len();
    if g < 2 {
        return Some((mean, None));
    }
    let meat: f64 = groups
        .iter()
        .map(|c| {
            let s: f64 = c.iter().map(|x| x - mean).sum();
            s * s
        })
        .sum();
    let var = g as f64 / (g as f64 - 1.0) * meat / (n as f64 * n as f64);
    Some((mean, Some(var.max(0.0).sqrt())))
}

/// Clustered over i.i.d. variance of the mean: `se_CR1² / (s² / N)`, `s²` the sample
/// variance of all values. 1 when every task has one value (the two coincide), `None`
/// when the values do not vary or there are fewer than two tasks.
pub fn design_effect(clusters: &[Vec<f64>]) -> Option<f64> {
    // A ratio of variances: the same in any units.
    let clusters = &scaled(clusters, Scale::of(clusters.iter().flatten()))[..];
    let (mean, se) = cluster_robust_units(clusters)?;
    let se = se?;
    let n: usize = clusters.iter().map(|c| c.len()).sum();
    if n < 2 {
        return None;
    }
    let ss: f64 = clusters
        .iter()
        .flatten()
        .map(|x| (x - mean) * (x - mean))
        .sum();
    let iid = ss / (n as f64 - 1.0) / n as f64;
    (iid > 0.0).then(|| se * se / iid)
}

/// Wilson score interval for an observed proportion `p` over an effective sample size
/// `n` (not necessarily whole): [`wilson`] with `successes = p · n`.
pub(crate) fn wilson_effective(p: f64, n: f64, z: f64) -> Option<Interval> {
    if n.is_nan() || n <= 0.0 || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    })
}

/// Success rate of 0/1 values grouped by task. One trial per task: Wilson over trials
/// (today's interval). Several: Wilson on the effective sample size `N / design effect`
/// (values that do not vary: design effect 1). One task with several trials: no interval
/// (nothing is known about other tasks).
pub fn clustered_rate(clusters: &[Vec<f64>]) -> Option<ClusteredMean> {
    let (mean, se) = cluster_robust(clusters)?;
    let tasks = clusters.iter().filter(|c| !c.is_empty()).count() as u64;
    let trials: u64 = clusters.iter().map(|c| c.len() as u64).sum();
    let successes = clusters.iter().flatten().filter(|x| **x > 0.5).count() as u64;
    let one_each = clusters.iter().all(|c| c.len() <= 1);
    let (ci95, method, deff) = if one_each {
        (
            wilson(successes, trials, Z_95),
            IntervalMethod::Wilson,
            Some(1.0),
        )
    } else if tasks < 2 {
        (None, IntervalMethod::WilsonClustered, None)
    } else {
        let deff = design_effect(clusters).unwrap_or(1.0);
        (
            wilson_effective(mean, trials as f64 / deff, Z_95),
            IntervalMethod::WilsonClustered,
            Some(deff),
        )
    };
    Some(ClusteredMean {
        tasks,
        trials,
        mean,
        se,
        ci95,
        method,
        design_effect: deff,
    })
}

/// Percentile bootstrap (95%) of the mean over all trials, resampling tasks with
/// replacement (`resamples` draws from ChaCha8 seeded with `seed`). With one value per
/// task this is [`super::stats::bootstrap_mean_ci`] draw for draw.
pub fn cluster_bootstrap_ci(clusters: &[Vec<f64>], resamples: u32, seed: u64) -> Option<Interval> {
    let scale = Scale::of(clusters.iter().flatten());
    let clusters = &scaled(clusters, scale)[..];
    let groups: Vec<(f64, f64)> = clusters
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| (c.iter().sum::<f64>(), c.len() as f64))
        .collect();
    if groups.is_empty() || resamples == 0 {
        return None;
    }
    let g = groups.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means = Vec::with_capacity(resamples as usize);
    for _ in 0..resamples {
        let (mut sum, mut count) = (0.0, 0.0);
        for _ in 0..g {
            let (s, n) = groups[bounded_draw(&mut rng, g as u64) as usize];
            sum += s;
            count += n;
        }
        means.push(sum / count);
    }
    means.sort_by(f64::total_cmp);
    scale.up_interval(Interval {
        low: quantile_sorted(&means, 0.025)?,
        high: quantile_sorted(&means, 0.975)?,
    })
}

/// Mean of a numeric metric grouped by task: cluster bootstrap interval, CR1 SE.
pub fn clustered_metric(clusters: &[Vec<f64>], resamples: u32, seed: u64) -> Option<ClusteredMean> {
    let (mean, se) = cluster_robust(clusters)?;
    Some(ClusteredMean {
        tasks: clusters.iter().filter(|c| !c.is_empty()).count() as u64,
        trials: clusters.iter().map(|c| c.len() as u64).sum(),
        mean,
        se,
        ci95: cluster_bootstrap_ci(clusters, resamples, seed),
        method: IntervalMethod::ClusterBootstrap,
        design_effect: design_effect(clusters),
    })
}

/// Within-task and between-task variance of values grouped by task (one-way random
/// effects, method of moments): `within` pools the replications' sample variances
/// (`Σ_t Σ_r (x − x̄_t)² / Σ_t (R_t − 1)`, `None` without a task of two replications);
/// `between` is the variance of the task means less the part replications explain
/// (`s²(x̄_t) − mean_t(within / R_t)`, floored at 0; `None` with fewer than two tasks).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VarianceComponents {
    /// Pooled variance of the replications within a task.
    pub within: Option<f64>,
    /// Variance of the task means beyond what replication noise explains.
    pub between: Option<f64>,
}

/// Splits the variance of values grouped by task (`clusters`, one list per task) into
/// [`VarianceComponents`].
pub fn variance_components(clusters: &[Vec<f64>]) -> VarianceComponents {
    let scale = Scale::of(clusters.iter().flatten());
    let units = variance_components_units(&scaled(clusters, scale));
    VarianceComponents {
        within: units.within.and_then(|v| scale.up2(v)),
        between: units.between.and_then(|v| scale.up2(v)),
    }
}

fn variance_components_units(clusters: &[Vec<f64>]) -> VarianceComponents {
    let groups: Vec<&Vec<f64>> = clusters.iter().filter(|c| !c.is_empty()).collect();
    let (mut ss, mut df) = (0.0, 0usize);
    for c in &groups {
        let m = c.iter().sum::<f64>() / c.len() as f64;
        ss += c.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
        df += c.len() - 1;
    }
    let within = (df > 0).then(|| ss / df as f64);
    let between = (groups.len() >= 2).then(|| {
        let means: Vec<f64> = groups
            .iter()
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect();
        let noise = within.unwrap_or(0.0)
            * groups.iter().map(|c| 1.0 / c.len() as f64).sum::<f64>()
            / groups.len() as f64;
        (variance_units(&means).unwrap_or(0.0) - noise).max(0.0)
    });
    VarianceComponents { within, between }
}

/// Sample variance (n − 1 denominator); `None` below two values, or beyond the range
/// of f64 (values near ±1e308: their standard deviation may still be known, see
/// [`sample_sd`]).
#[cfg(test)]
fn sample_variance(xs: &[f64]) -> Option<f64> {
    let scale = Scale::of(xs);
    scale.up2(variance_units(&scale.all_down(xs))?)
}

/// Sample standard deviation (n − 1 denominator); `None` below two values or beyond
/// the range of f64.
pub fn sample_sd(xs: &[f64]) -> Option<f64> {
    let scale = Scale::of(xs);
    scale.up(variance_units(&scale.all_down(xs))?.sqrt())
}

fn variance_units(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    Some(xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() as f64 - 1.0))
}

/// A paired comparison over tasks: `diffs` holds one (variant − baseline) difference per
/// task both scored, replications averaged within the task first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedTest {
    /// Tasks behind the test (one difference each).
    pub tasks: u64,
    /// Mean per-task difference (variant − baseline).
    pub mean: f64,
    /// Sample standard deviation of the per-task differences (`None` for one task).
    pub sd: Option<f64>,
    /// Standard error of `mean` (`sd / √tasks`).
    pub se: Option<f64>,
    /// `mean ± t_{0.975, n−1} · se`.
    pub ci95: Option<Interval>,
    /// The paired t statistic (`mean / se`).
    pub t: Option<f64>,
    /// Degrees of freedom (`tasks − 1`).
    pub df: Option<u64>,
    /// Two-sided paired t p-value (`None` for one task; 1 when every difference is 0,
    /// 0 when every difference is the same non-zero number).
    pub t_p: Option<f64>,
    /// Two-sided sign-flip permutation p-value of the mean difference.
    pub permutation_p: f64,
    /// True when `permutation_p` is exact (all 2^n flips counted), false when drawn.
    pub permutation_exact: bool,
}

/// `None` without tasks, or when a difference is not finite (two values near ±1e308 of
/// opposite signs: their difference has no f64).
pub fn paired_over_tasks(diffs: &[f64], seed: u64) -> Option<PairedTest> {
    let n = diffs.len();
    if n == 0 || diffs.iter().any(|d| !d.is_finite()) {
        return None;
    }
    // Computed in the scale's units (t and p are the same in any), then scaled back.
    let scale = Scale::of(diffs);
    let diffs = &scale.all_down(diffs)[..];
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let sd = variance_units(diffs).map(f64::sqrt);
    let se = sd.map(|s| s / (n as f64).sqrt());
    let df = (n >= 2).then_some(n as u64 - 1);
    let (t, t_p, ci95) = match (se, df) {
        (Some(se), Some(df)) if se > 0.0 => {
            let t = mean / se;
            let q = t_quantile(1.0 - ALPHA / 2.0, df as f64);
            (
                Some(t),
                Some(t_two_sided_p(t, df as f64)),
                Some(Interval {
                    low: mean - q * se,
                    high: mean + q * se,
                }),
            )
        }
        // Every task differs by the same amount: no spread at all.
        (Some(_), Some(_)) => {
            let t = if mean == 0.0 {
                0.0
            } else {
                f64::INFINITY.copysign(mean)
            };
            let p = if mean == 0.0 { 1.0 } else { 0.0 };
            (
                Some(t),
                Some(p),
                Some(Interval {
                    low: mean,
                    high: mean,
                }),
            )
        }
        _ => (None, None, None),
    };
    let (permutation_p, permutation_exact) = sign_flip_p(diffs, seed);
    Some(PairedTest {
        tasks: n as u64,
        mean: scale.up(mean)?,
        sd: sd.and_then(|v| scale.up(v)),
        se: se.and_then(|v| scale.up(v)),
        ci95: ci95.and_then(|i| scale.up_interval(i)),
        t,
        df,
        t_p,
        permutation_p,
        permutation_exact,
    })
}

/// Two-sided sign-flip permutation p-value of the mean of `diffs`: the share of the 2^n
/// sign assignments whose |sum| is at least the observed |sum| (with a relative tolerance
/// of 1e-9 for rounding, as scipy's `permutation_test` has). Exact when the differences
/// lie on a grid `k / L` (L ≤ 1000: averages of replications of 0/1 outcomes, integer
/// metrics; counted by dynamic programming over the sums) or n ≤ 20 (enumerated);
/// otherwise [`SIGN_FLIP_DRAWS`] seeded random flips, `(hits + 1) / (draws + 1)`.
/// Returns (p, exact).
pub(crate) fn sign_flip_p(diffs: &[f64], seed: u64) -> (f64, bool) {
    let n = diffs.len();
    if n == 0 {
        return (1.0, true);
    }
    let obs: f64 = diffs.iter().sum::<f64>().abs();
    let thresh = obs - 1e-9 * obs.max(1e-300);
    if let Some(p) = sign_flip_grid(diffs) {
        return (p, true);
    }
    if n <= 20 {
        // Gray code: each step flips one sign, so each of the 2^n sums costs O(1).
        let mut signs = vec![1.0f64; n];
        let mut sum: f64 = diffs.iter().sum();
        let mut hits = u64::from(sum.abs() >= thresh);
        let total = 1u64 << n;
        for i in 1..total {
            let bit = i.trailing_zeros() as usize;
            signs[bit] = -signs[bit];
            sum += 2.0 * signs[bit] * diffs[bit];
            hits += u64::from(sum.abs() >= thresh);
        }
        return (hits as f64 / total as f64, true);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut hits = 0u64;
    for _ in 0..SIGN_FLIP_DRAWS {
        let mut sum = 0.0;
        let mut bits = 0u64;
        for (i, d) in diffs.iter().enumerate() {
            if i % 64 == 0 {
                bits = rng.next_u64();
            }
            sum += if bits & 1 == 1 { *d } else { -*d };
            bits >>= 1;
        }
        hits += u64::from(sum.abs() >= thresh);
    }
    ((hits + 1) as f64 / (SIGN_FLIP_DRAWS as f64 + 1.0), false)
}

/// The exact sign-flip p-value when every |d| is `k / L` for whole k and some L ≤ 1000
/// with Σk ≤ 2,000,000: the distribution of Σ ±k counted by dynamic programming.
fn sign_flip_grid(diffs: &[f64]) -> Option<f64> {
    let abs: Vec<f64> = diffs.iter().map(|d| d.abs()).collect();
    let scale = (1..=1000u32).find(|l| {
        abs.iter().all(|a| {
            let x = a * *l as f64;
            (x - x.round()).abs() <= 1e-9 * x.max(1.0)
        })
    })? as f64;
    let ks: Vec<usize> = abs.iter().map(|a| (a * scale).round() as usize).collect();
    let total: usize = ks.iter().sum();
    if total > 2_000_000 {
        return None;
    }
    // probs[s] = P(Σ ε_i k_i + total = s); each sign with chance 1/2.
    let mut probs = vec![0.0f64; 2 * total + 1];
    probs[total] = 1.0;
    let mut reach = 0usize; // sums stay within total ± reach
    for &k in &ks {
        if k == 0 {
            continue;
        }
        let mut next = vec![0.0f64; probs.len()];
        for s in total - reach..=total + reach {
            let p = probs[s];
            if p != 0.0 {
                next[s + k] += 0.5 * p;
                next[s - k] += 0.5 * p;
            }
        }
        probs = next;
        reach += k;
    }
    let obs: i64 = diffs
        .iter()
        .map(|d| (d * scale).round() as i64)
        .sum::<i64>()
        .abs();
    let p: f64 = probs
        .iter()
        .enumerate()
        .filter(|(s, _)| (*s as i64 - total as i64).abs() >= obs)
        .map(|(_, p)| p)
        .sum();
    Some(p.min(1.0))
}

/// Holm's step-down adjustment of p-values, in the input order.
pub fn holm(ps: &[f64]) -> Vec<f64> {
    let m = ps.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| ps[*a].total_cmp(&ps[*b]));
    let mut out = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * ps[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

/// Minimum detectable difference of a paired t test over `tasks` tasks whose per-task
/// differences have standard deviation `sd`, at [`POWER`] and two-sided [`ALPHA`]:
/// `(t_{1−α/2, n−1} + t_{power, n−1}) · sd / √n`. `None` below two tasks.
pub(crate) fn min_detectable_difference(sd: f64, tasks: u64) -> Option<f64> {
    if tasks < 2 || !sd.is_finite() || sd < 0.0 {
        return None;
    }
    let df = (tasks - 1) as f64;
    Some((t_quantile(1.0 - ALPHA / 2.0, df) + t_quantile(POWER, df)) * sd / (tasks as f64).sqrt())
}

/// The fewest tasks (at least 2) whose [`min_detectable_difference`] is at most
/// |`effect`|; `None` when the effect is 0 or needs more than [`MAX_TASKS_NEEDED`].
pub fn tasks_needed(effect: f64, sd: f64) -> Option<u64> {
    let effect = effect.abs();
    if effect.is_nan() || effect == 0.0 || !sd.is_finite() || sd < 0.0 {
        return None;
    }
    let fits = |n: u64| min_detectable_difference(sd, n).is_some_and(|m| m <= effect);
    if fits(2) {
        return Some(2);
    }
    // The MDE falls with n: double to bracket, then bisect.
    let mut hi = 4u64;
    while !fits(hi) {
        if hi >= MAX_TASKS_NEEDED {
            return None;
        }
        hi = (hi * 2).min(MAX_TASKS_NEEDED);
    }
    let mut lo = hi / 2; // does not fit
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// `labj describe --effect D --sd S`: tasks needed before running.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerPlan {
    /// The difference to detect (`--effect`).
    pub effect: f64,
    /// The per-task SD of differences assumed (`--sd`).
    pub sd: f64,
    /// Fewest tasks whose paired t test over tasks detects `effect` at 80% power.
    pub tasks_needed: Option<u64>,
    /// Tasks the experiment's dataset has, and the difference they can detect.
    pub tasks_available: u64,
    /// The smallest difference `tasks_available` tasks detect at 80% power; `None` below
    /// two tasks.
    pub mde_with_available: Option<f64>,
}

impl PowerPlan {
    /// The plan as the one line `labj describe` prints.
    pub fn render(&self) -> String {
        format!(
            "power (paired t over tasks, 80% power, alpha 0.05): a difference of {} with per-task SD {} needs {} tasks; this dataset's {} tasks detect {}",
            self.effect,
            self.sd,
            self.tasks_needed
                .map(|n| n.to_string())
                .unwrap_or_else(|| format!("more than {MAX_TASKS_NEEDED}")),
            self.tasks_available,
            self.mde_with_available
                .map(|m| format!("{m:.4}"))
                .unwrap_or_else(|| "nothing (fewer than 2 tasks)".into())
        )
    }
}

/// The power plan of `labj describe --effect --sd`; refuses a zero or non-finite effect
/// and a negative or non-finite SD, naming the flag.
pub fn plan(effect: f64, sd: f64, tasks_available: u64) -> Result<PowerPlan, String> {
    if !effect.is_finite() || effect == 0.0 {
        return Err(format!(
            "--effect {effect}: expected a non-zero difference, e.g. 0.1"
        ));
    }
    if !sd.is_finite() || sd < 0.0 {
        return Err(format!(
            "--sd {sd}: expected a standard deviation of 0 or more"
        ));
    }
    Ok(PowerPlan {
        effect,
        sd,
        tasks_needed: tasks_needed(effect, sd),
        tasks_available,
        mde_with_available: min_detectable_difference(sd, tasks_available),
    })
}

/// Power of one comparison: what the experiment can detect and where its noise comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerAnalysis {
    /// Tasks behind the comparison.
    pub tasks: u64,
    /// SD of the per-task differences the analysis uses.
    pub sd_diff: Option<f64>,
    /// Minimum detectable difference at 80% power, α = 0.05, this many tasks.
    pub mde: Option<f64>,
    /// Tasks needed to detect the observed difference (`None`: difference 0, or beyond
    /// [`MAX_TASKS_NEEDED`]).
    pub tasks_needed: Option<u64>,
    /// Variance of the per-task differences due to replication noise
    /// (`mean_t(σ²_w,baseline / R_t + σ²_w,variant / R_t)`), `None` without replications.
    pub within_var: Option<f64>,
    /// Variance of the true per-task differences (`s²_d − within_var`, floored at 0).
    pub between_var: Option<f64>,
    /// MDE if each task had infinitely many replications (only `between_var` left):
    /// the floor more replications cannot go below.
    pub mde_replications_unlimited: Option<f64>,
}

/// Power of a paired comparison from its per-task differences and the pooled
/// within-task variances of each side (with each task's replication counts).
pub fn power_analysis(
    diffs: &[f64],
    within_base: Option<f64>,
    within_var: Option<f64>,
    reps: &[(usize, usize)],
) -> PowerAnalysis {
    let tasks = diffs.len() as u64;
    if diffs.iter().any(|d| !d.is_finite()) {
        return PowerAnalysis {
            tasks,
            sd_diff: None,
            mde: None,
            tasks_needed: None,
            within_var: None,
            between_var: None,
            mde_replications_unlimited: None,
        };
    }
    // In the scale's units (variances in its square), scaled back at the end.
    let scale = Scale::of(diffs);
    let diffs = &scale.all_down(diffs)[..];
    let (within_base, within_var) = (
        within_base.map(|v| scale.down(scale.down(v))),
        within_var.map(|v| scale.down(scale.down(v))),
    );
    let sd = variance_units(diffs).map(f64::sqrt);
    let mean = if diffs.is_empty() {
        0.0
    } else {
        diffs.iter().sum::<f64>() / diffs.len() as f64
    };
    let within = match (within_base, within_var) {
        (None, None) => None,
        (b, v) if !reps.is_empty() => Some(
            reps.iter()
                .map(|(rb, rv)| b.unwrap_or(0.0) / *rb as f64 + v.unwrap_or(0.0) / *rv as f64)
                .sum::<f64>()
                / reps.len() as f64,
        ),
        _ => None,
    };
    let between = match (sd, within) {
        (Some(s), Some(w)) => Some((s * s - w).max(0.0)),
        (Some(s), None) => Some(s * s),
        _ => None,
    };
    PowerAnalysis {
        tasks,
        sd_diff: sd.and_then(|s| scale.up(s)),
        mde: sd
            .and_then(|s| min_detectable_difference(s, tasks))
            .and_then(|m| scale.up(m)),
        tasks_needed: sd.and_then(|s| tasks_needed(mean, s)),
        within_var: within.and_then(|w| scale.up2(w)),
        between_var: between.and_then(|b| scale.up2(b)),
        mde_replications_unlimited: between
            .and_then(|b| min_detectable_difference(b.sqrt(), tasks))
            .and_then(|m| scale.up(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::stats::bootstrap_mean_ci;

    #[test]
    fn one_replication_reduces_to_the_unclustered_intervals() {
        let xs = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let clusters: Vec<Vec<f64>> = xs.iter().map(|x| vec![*x]).collect();
        let r = clustered_rate(&clusters).unwrap();
        assert_eq!(r.ci95, wilson(5, 8, Z_95));
        assert_eq!(r.method, IntervalMethod::Wilson);
        assert!((design_effect(&clusters).unwrap() - 1.0).abs() < 1e-12);
        let m = clustered_metric(&clusters, 500, 7).unwrap();
        assert_eq!(m.ci95, bootstrap_mean_ci(&xs, 500, 7));
    }

    #[test]
    fn replications_of_a_task_widen_the_interval() {
        // 10 tasks, 3 replications each, tasks either always or never solved: 30 trials
        // but only 10 independent units (design effect 3).
        let clusters: Vec<Vec<f64>> = (0..10)
            .map(|t| vec![if t % 2 == 0 { 1.0 } else { 0.0 }; 3])
            .collect();
        let r = clustered_rate(&clusters).unwrap();
        let naive = wilson(15, 30, Z_95).unwrap();
        let ci = r.ci95.unwrap();
        assert!(
            ci.high - ci.low > naive.high - naive.low,
            "{ci:?} vs {naive:?}"
        );
        // deff = CR1 var / (s²/N): CR1 = 10/9 · 10 · 2.25 / 900 = 0.02778,
        // s² = 7.5/29, iid = 0.25862/30 = 0.008621 → 3.2222.
        assert!((r.design_effect.unwrap() - 3.222_222).abs() < 1e-5);
    }

    #[test]
    fn values_at_the_end_of_f64_give_finite_statistics_or_none() {
        let cl = vec![vec![1e308], vec![1e308], vec![-1e308]];
        let m = clustered_metric(&cl, 200, 1).unwrap();
        assert!((m.mean - 1e308 / 3.0).abs() < 1e295, "{m:?}");
        assert!(m.se.is_some_and(f64::is_finite), "{m:?}");
        let ci = m.ci95.unwrap();
        assert!(
            ci.low.is_finite() && ci.high.is_finite() && ci.low <= ci.high,
            "{m:?}"
        );
        // A variance of ±1e308 has no f64; its standard deviation has one.
        assert_eq!(sample_variance(&[1e308, -1e308]), None);
        let sd = sample_sd(&[1e308, -1e308]).unwrap();
        assert!((sd - 2f64.sqrt() * 1e308).abs() < 1e295, "{sd}");
        let vc = variance_components(&cl);
        assert_eq!(vc.between, None, "{vc:?}");
        // A difference f64 cannot hold is no test (the report says why).
        assert!(paired_over_tasks(&[f64::INFINITY, 1.0], 1).is_none());
        // Ordinary data keep their units: the same numbers as before, bit for bit.
        let xs = [0.25, 3.5, -7.0, 1e6];
        assert_eq!(Scale::of(&xs), Scale::of(&[1.0]));
        assert_eq!(sample_variance(&xs), Some(variance_units(&xs).unwrap()));
    }

    #[test]
    fn holm_steps_down_and_stays_monotone() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.5]);
        let want = [0.04, 0.09, 0.09, 0.5];
        assert!(
            adj.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15),
            "{adj:?}"
        );
        assert_eq!(holm(&[]), Vec::<f64>::new());
        assert_eq!(holm(&[0.7]), vec![0.7]);
    }

    #[test]
    fn sign_flips_are_exact_for_small_and_grid_data() {
        // Diffs 1, 1, 1: only all-plus and all-minus reach |3|: 2/8.
        assert_eq!(sign_flip_p(&[1.0, 1.0, 1.0], 1), (0.25, true));
        // Irrational data goes through enumeration: same answer.
        let s = std::f64::consts::SQRT_2;
        assert_eq!(sign_flip_p(&[s, s, s], 1), (0.25, true));
        assert_eq!(sign_flip_p(&[0.0, 0.0], 1), (1.0, true));
        // Enumeration and the grid agree on grid data.
        let d = [1.0 / 3.0, -2.0 / 3.0, 1.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0];
        let grid = sign_flip_grid(&d).unwrap();
        let (p, exact) = sign_flip_p(&d.map(|x| x * s), 1);
        assert!(exact && (grid - p).abs() < 1e-12, "{grid} vs {p}");
    }

    #[test]
    fn tasks_needed_is_the_first_n_whose_mde_fits() {
        let n = tasks_needed(0.1, 0.3).unwrap();
        assert!(min_detectable_difference(0.3, n).unwrap() <= 0.1);
        assert!(min_detectable_difference(0.3, n - 1).unwrap() > 0.1);
        assert_eq!(tasks_needed(0.0, 0.3), None);
        assert_eq!(tasks_needed(0.5, 0.0), Some(2));
        let p = plan(-0.1, 0.3, 20).unwrap();
        assert_eq!(p.tasks_needed, Some(n));
        assert!(
            p.render().contains(&format!("needs {n} tasks")),
            "{}",
            p.render()
        );
        assert!(plan(0.0, 0.3, 20).unwrap_err().contains("--effect"));
        assert!(plan(0.1, -1.0, 20).unwrap_err().contains("--sd"));
    }
}
