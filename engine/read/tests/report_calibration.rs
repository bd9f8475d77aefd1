//! Calibration of the paired comparison over tasks: on experiments with no true
//! difference the tests over tasks reject at their nominal rate, while the unclustered
//! McNemar test over (task, replication) pairs that `labj report` used before rejects far
//! more often (it takes the three replications of a task for three independent tasks).
//!
//! Each simulated experiment has 20 tasks × 3 replications × 2 variants. Each task's
//! success rate for each variant is drawn independently from the same distribution
//! (Beta(1/2, 1/2): tasks are mostly easy or mostly hard for a variant), so over the
//! population of tasks neither variant is better; replications of a task share its rate.
//! 2,000 experiments, seeded: the figures are the same on every machine.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use read::report::clustered::paired_over_tasks;
use read::report::stats::mcnemar_exact;

const TASKS: usize = 20;
const REPLICATIONS: usize = 3;
const EXPERIMENTS: usize = 2000;

fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    // 53 random bits in [0, 1).
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Beta(1/2, 1/2) is the arcsine distribution: sin²(π U / 2).
fn arcsine(rng: &mut ChaCha8Rng) -> f64 {
    (std::f64::consts::FRAC_PI_2 * uniform(rng)).sin().powi(2)
}

struct Rates {
    paired_t: f64,
    permutation: f64,
    mcnemar: f64,
}

fn simulate(seed: u64) -> Rates {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut t_rej, mut perm_rej, mut mc_rej) = (0u32, 0u32, 0u32);
    for e in 0..EXPERIMENTS {
        let mut diffs = Vec::with_capacity(TASKS);
        let (mut b, mut c) = (0u64, 0u64);
        for _ in 0..TASKS {
            let (pa, pb) = (arcsine(&mut rng), arcsine(&mut rng));
            let (mut sa, mut sb) = (0u32, 0u32);
            for _ in 0..REPLICATIONS {
                let a = uniform(&mut rng) < pa;
                let v = uniform(&mut rng) < pb;
                sa += u32::from(a);
                sb += u32::from(v);
                // Today's McNemar pairs (task, replication) across variants.
                match (a, v) {
                    (true, false) => b += 1,
                    (false, true) => c += 1,
                    _ => {}
                }
            }
            diffs.push((f64::from(sb) - f64::from(sa)) / REPLICATIONS as f64);
        }
        let t = paired_over_tasks(&diffs, e as u64).expect("20 tasks");
        t_rej += u32::from(t.t_p.expect("20 tasks have a t test") < 0.05);
        assert!(
            t.permutation_exact,
            "grid data: the sign-flip test is exact"
        );
        perm_rej += u32::from(t.permutation_p < 0.05);
        mc_rej += u32::from(mcnemar_exact(b, c) < 0.05);
    }
    let n = EXPERIMENTS as f64;
    Rates {
        paired_t: f64::from(t_rej) / n,
        permutation: f64::from(perm_rej) / n,
        mcnemar: f64::from(mc_rej) / n,
    }
}

#[test]
fn tests_over_tasks_hold_their_level_where_unclustered_mcnemar_does_not() {
    let r = simulate(2023);
    eprintln!(
        "rejection rate at alpha 0.05 over {EXPERIMENTS} null experiments ({TASKS} tasks x {REPLICATIONS} replications): paired t over tasks {:.4}, sign-flip permutation over tasks {:.4}, unclustered McNemar over pairs {:.4}",
        r.paired_t, r.permutation, r.mcnemar
    );
    assert!(
        (0.03..=0.07).contains(&r.paired_t),
        "paired t over tasks rejects {} of null experiments",
        r.paired_t
    );
    assert!(
        (0.03..=0.07).contains(&r.permutation),
        "sign-flip test over tasks rejects {} of null experiments",
        r.permutation
    );
    // The old test's rejection rate is far above its level (about twice it and more).
    assert!(
        r.mcnemar > 0.09,
        "unclustered McNemar rejects only {} of null experiments",
        r.mcnemar
    );
}
