//! The statistics of `labj report`: Wilson score intervals, percentile bootstrap
//! intervals (seeded, so a report is the same every time it is made) and the exact
//! McNemar test for paired successes.
//!
//! Conventions follow the reference implementations the tests compare with: quantiles
//! interpolate linearly between order statistics (numpy's default, which
//! `scipy.stats.bootstrap(method="percentile")` uses) and the McNemar p-value is the
//! two-sided exact binomial test of `b` successes in `b + c` trials at p = 1/2
//! (`scipy.stats.binomtest(b, b + c).pvalue`).

use model::experiment::bounded_draw;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::Serialize;

/// The 97.5% quantile of the standard normal distribution (two-sided 95%).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// Wilson score interval for `successes` out of `n` at normal quantile `z`; `None` when
/// `n == 0` (no trial, no interval).
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<Interval> {
    if n == 0 || successes > n {
        return None;
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denom;
    let half = z / denom * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    // Rounding can push an end a hair outside [0, 1] at p = 0 or 1.
    Some(Interval {
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    })
}

/// Values in units of a power of two near their largest magnitude when they are huge
/// (beyond 2^500 ≈ 3e150), so that no sum, square or sum of squares of them overflows
/// (metrics of `1e308` are valid JSON); other data keep their units (scale 1), so
/// every statistic of them is computed exactly as before. Scaling by a power of two is
/// exact: a statistic computed in these units and scaled back is the one computed
/// directly whenever the direct one is finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale(f64);

impl Scale {
    /// Magnitudes above which values are scaled.
    const HUGE: f64 = 3.273_390_607_896_142e150; // 2^500

    /// The scale of `xs` (1 unless one of them is huge and finite).
    pub(crate) fn of<'a>(xs: impl IntoIterator<Item = &'a f64>) -> Scale {
        let max = xs.into_iter().fold(0.0f64, |m, x| m.max(x.abs()));
        if max <= Self::HUGE || !max.is_finite() {
            return Scale(1.0);
        }
        Scale(2f64.powi(max.log2().floor() as i32))
    }

    pub(crate) fn down(&self, x: f64) -> f64 {
        x / self.0
    }

    pub(crate) fn all_down(&self, xs: &[f64]) -> Vec<f64> {
        xs.iter().map(|x| x / self.0).collect()
    }

    /// A value in these units back in the data's; `None` when the data's units cannot
    /// hold it (beyond ±1.8e308: say the statistic is unavailable, never print inf).
    pub(crate) fn up(&self, x: f64) -> Option<f64> {
        Some(x * self.0).filter(|v| v.is_finite())
    }

    /// A variance in these units back in the data's (`None` beyond the range).
    pub(crate) fn up2(&self, v: f64) -> Option<f64> {
        Some(v * self.0 * self.0).filter(|v| v.is_finite())
    }

    pub(crate) fn up_interval(&self, i: Interval) -> Option<Interval> {
        Some(Interval {
            low: self.up(i.low)?,
            high: self.up(i.high)?,
        })
    }
}

/// Mean of finite values, never overflowing (summed in [`Scale`] units); `None` for no
/// value.
pub(crate) fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let s = Scale::of(xs);
    s.up(xs.iter().map(|x| s.down(*x)).sum::<f64>() / xs.len() as f64)
}

/// The `q` quantile (0..=1) of sorted data, interpolating linearly between order
/// statistics at position `q·(n−1)` (numpy's default "linear" method).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Percentile bootstrap interval (95%) of the mean of `xs`: `resamples` resamples with
/// replacement drawn from ChaCha8 seeded with `seed`. `None` for empty data.
///
/// For paired data, pass the per-pair differences: resampling pairs and averaging their
/// differences is resampling the differences.
pub fn bootstrap_mean_ci(xs: &[f64], resamples: u32, seed: u64) -> Option<Interval> {
    if xs.is_empty() || resamples == 0 {
        return None;
    }
    let scale = Scale::of(xs);
    let xs = &scale.all_down(xs)[..];
    let n = xs.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means = Vec::with_capacity(resamples as usize);
    for _ in 0..resamples {
        let mut sum = 0.0;
        for _ in 0..n {
            sum += xs[bounded_draw(&mut rng, n as u64) as usize];
        }
        means.push(sum / n as f64);
    }
    means.sort_by(f64::total_cmp);
    scale.up_interval(Interval {
        low: quantile_sorted(&means, 0.025)?,
        high: quantile_sorted(&means, 0.975)?,
    })
}

/// Two-sided exact McNemar test: `b` pairs where only the first succeeded, `c` where only
/// the second did. The p-value of `b` under Binomial(b + c, 1/2); 1 when there are no
/// discordant pairs.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k) summed in log space: 0.5^n underflows past n ≈ 1074.
    let ln2 = std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut terms = Vec::with_capacity(k as usize + 1);
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        terms.push(ln_choose - n as f64 * ln2);
    }
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = max.exp() * terms.iter().map(|t| (t - max).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn wilson_matches_values_worked_by_hand() {
        // 8/10: p = 0.8, z² = 3.8415; center = (0.8 + 0.19207) / 1.38415 = 0.71674,
        // half = (1.95996 / 1.38415) · sqrt(0.016 + 0.0096037) = 1.41600 · 0.16001
        //      = 0.22658 → [0.49016, 0.94332].
        let i = wilson(8, 10, Z_95).unwrap();
        assert!(close(i.low, 0.49016, 5e-5), "{i:?}");
        assert!(close(i.high, 0.94332, 5e-5), "{i:?}");
        // 0/5: center = half = (3.8415/10) / 1.76829 = 0.21724 → [0, 0.43449].
        let i = wilson(0, 5, Z_95).unwrap();
        assert_eq!(i.low, 0.0);
        assert!(close(i.high, 0.43449, 5e-5), "{i:?}");
        // n/n mirrors 0/n.
        let i = wilson(5, 5, Z_95).unwrap();
        assert!(close(i.low, 1.0 - 0.43449, 5e-5) && i.high == 1.0, "{i:?}");
        assert_eq!(wilson(0, 0, Z_95), None);
        assert_eq!(wilson(3, 2, Z_95), None);
    }

    #[test]
    fn mcnemar_exact_matches_binomial_tails_by_hand() {
        // b=1, c=6: n=7, P(X<=1) = (1 + 7)/128 = 0.0625, two-sided 0.125.
        assert!(close(mcnemar_exact(1, 6), 0.125, 1e-12));
        assert!(close(mcnemar_exact(6, 1), 0.125, 1e-12));
        // b=0, c=5: 2 · 1/32.
        assert!(close(mcnemar_exact(0, 5), 0.0625, 1e-12));
        // b=2, c=10: 2 · (1 + 12 + 66)/4096 = 158/4096.
        assert!(close(mcnemar_exact(2, 10), 158.0 / 4096.0, 1e-12));
        // Balanced or no discordant pairs: no evidence at all.
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // Large n stays finite and tiny: 0 vs 2000 is 2 · 2^-2000 → 0, not NaN.
        let p = mcnemar_exact(0, 2000);
        assert!((0.0..1e-300).contains(&p), "{p}");
        // 500 vs 500 (n = 1000): exactly 1.
        assert_eq!(mcnemar_exact(500, 500), 1.0);
    }

    #[test]
    fn quantiles_interpolate_linearly() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&xs, 0.0), Some(1.0));
        assert_eq!(quantile_sorted(&xs, 1.0), Some(4.0));
        // position 0.25 · 3 = 0.75 → 1 + 0.75.
        assert_eq!(quantile_sorted(&xs, 0.25), Some(1.75));
        assert_eq!(quantile_sorted(&xs, 0.5), Some(2.5));
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }

    #[test]
    fn bootstrap_is_seeded_and_bounded_by_the_data() {
        let xs = [0.0, 1.0];
        // Resample means are 0, 0.5, 1 with chances 1/4, 1/2, 1/4: with 4000 resamples
        // both 2.5% and 97.5% quantiles fall on the extremes.
        let i = bootstrap_mean_ci(&xs, 4000, 1).unwrap();
        assert_eq!((i.low, i.high), (0.0, 1.0));
        // Constant data: a zero-width interval at the constant.
        let i = bootstrap_mean_ci(&[2.5; 7], 500, 9).unwrap();
        assert_eq!((i.low, i.high), (2.5, 2.5));
        // Same seed, same interval; another seed, (almost surely) another one.
        let data: Vec<f64> = (0..30).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
        let a = bootstrap_mean_ci(&data, 1000, 42).unwrap();
        assert_eq!(a, bootstrap_mean_ci(&data, 1000, 42).unwrap());
        assert_ne!(a, bootstrap_mean_ci(&data, 1000, 43).unwrap());
        let m = mean(&data).unwrap();
        assert!(a.low < m && m < a.high, "{a:?} around {m}");
        assert_eq!(bootstrap_mean_ci(&[], 100, 1), None);
    }
}
