//! The task-clustered statistics of `labj report` (`read::report::clustered`) against
//! references written independently with numpy and scipy
//! (`scipy_support/clustered_reference.py`): CR1 cluster-robust standard errors, design
//! effects and the Wilson interval on the effective sample size (as the roots of Wilson's
//! quadratic), the cluster bootstrap (numpy's generator: within resampling noise), the
//! within/between-task variance components, the paired t test and its interval
//! (`scipy.stats.ttest_1samp`, `t.ppf`), the exact sign-flip permutation test
//! (`scipy.stats.permutation_test`, `n_resamples=inf`), Holm's adjustment, the minimum
//! detectable difference and tasks needed (with the exact noncentral-t power at the MDE,
//! `scipy.stats.nct`, to show what the approximation gives), on fixed data sets with
//! ties, all-equal values, one task and one replication.
//!
//! Needs python3 with scipy (`scripts/setup.d/50-scipy.sh`).

mod scipy_support;

use read::report::clustered::{
    cluster_bootstrap_ci, cluster_robust, clustered_metric, clustered_rate, design_effect, holm,
    paired_over_tasks, power_analysis, variance_components, IntervalMethod,
};
use read::report::dist::{t_cdf, t_quantile};
use read::report::stats::{wilson, Z_95};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

type Clusters = Vec<Vec<f64>>;

fn c(rows: &[&[f64]]) -> Clusters {
    rows.iter().map(|r| r.to_vec()).collect()
}

fn datasets() -> BTreeMap<&'static str, Clusters> {
    let mut m = BTreeMap::new();
    // Binary with ties between tasks (several tasks with the same rate).
    m.insert(
        "binary_ties",
        c(&[
            &[1., 1., 0.],
            &[1., 1., 1.],
            &[0., 0., 0.],
            &[1., 0., 0.],
            &[1., 1., 0.],
            &[0., 1., 1.],
            &[0., 0., 0.],
            &[1., 1., 1.],
        ]),
    );
    // A numeric metric, uneven replications, repeated values.
    m.insert(
        "metric_uneven",
        c(&[
            &[2.5, 3.0],
            &[10.0, 12.0, 11.0],
            &[4.0],
            &[4.0, 4.0, 6.5, 5.0],
            &[0.0, 1.5],
            &[7.25, 7.25, 7.25],
            &[3.0, 9.0],
        ]),
    );
    m.insert("all_equal", c(&[&[1., 1.], &[1., 1.], &[1., 1.]]));
    m.insert("one_task", c(&[&[1., 0., 1.]]));
    m.insert(
        "one_replication",
        (0..12)
            .map(|i| vec![f64::from(u8::from(i % 3 != 0))])
            .collect(),
    );
    m
}

struct Pair {
    base: Clusters,
    var: Clusters,
}

fn pairs() -> BTreeMap<&'static str, Pair> {
    let mut m = BTreeMap::new();
    m.insert(
        "binary_ties",
        Pair {
            base: datasets()["binary_ties"].clone(),
            var: c(&[
                &[1., 1., 1.],
                &[1., 1., 1.],
                &[0., 1., 0.],
                &[1., 0., 0.],
                &[1., 1., 1.],
                &[1., 1., 1.],
                &[0., 0., 1.],
                &[1., 1., 0.],
            ]),
        },
    );
    m.insert(
        "metric_uneven",
        Pair {
            base: datasets()["metric_uneven"].clone(),
            var: c(&[
                &[3.5, 3.0],
                &[9.0, 12.5],
                &[4.0, 6.0],
                &[4.0, 7.0, 6.0],
                &[1.0, 1.5],
                &[7.25, 8.25, 7.0],
                &[2.0, 9.5],
            ]),
        },
    );
    // Every task moves by the same amount (0.5): no spread in the differences.
    m.insert(
        "all_equal_shift",
        Pair {
            base: c(&[&[0., 1.], &[0., 1.], &[1., 0.]]),
            var: c(&[&[1., 1.], &[1., 1.], &[1., 1.]]),
        },
    );
    m.insert(
        "one_replication",
        Pair {
            base: datasets()["one_replication"].clone(),
            var: (0..12)
                .map(|i| vec![f64::from(u8::from(i % 4 != 1))])
                .collect(),
        },
    );
    m.insert(
        "one_task",
        Pair {
            base: c(&[&[1., 0., 1.]]),
            var: c(&[&[1., 1., 1.]]),
        },
    );
    m
}

const HOLM: &[&[f64]] = &[
    &[0.01, 0.04, 0.03, 0.5],
    &[0.02, 0.02, 0.02],
    &[0.9],
    &[0.001, 0.2, 0.04, 0.04, 0.7],
];

fn reference() -> Value {
    let spec = json!({
        "clusters": datasets(),
        "pairs": pairs().iter().map(|(k, p)| (k.to_string(), json!({"base": p.base, "var": p.var}))).collect::<BTreeMap<_, _>>(),
        "holm": HOLM,
    });
    let py = scipy_support::python_with_scipy();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scipy_support/clustered_reference.py"
    );
    let mut child = Command::new(&py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference printed JSON")
}

fn close(ours: f64, theirs: &Value, tol: f64, what: &str) {
    let t = theirs
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no reference value ({theirs})"));
    assert!(
        (ours - t).abs() <= tol * t.abs().max(1.0),
        "{what}: ours {ours}, reference {t}"
    );
}

fn opt_close(ours: Option<f64>, theirs: &Value, tol: f64, what: &str) {
    match ours {
        Some(o) => close(o, theirs, tol, what),
        None => assert!(theirs.is_null(), "{what}: ours none, reference {theirs}"),
    }
}

#[test]
fn clustered_means_intervals_and_components_match_the_reference() {
    let r = reference();
    for (name, cl) in datasets() {
        let want = &r["clusters"][name];
        let (mean, se) = cluster_robust(&cl).unwrap();
        close(mean, &want["mean"], 1e-12, &format!("{name} mean"));
        opt_close(se, &want["se"], 1e-12, &format!("{name} CR1 se"));
        opt_close(
            design_effect(&cl),
            &want["deff"],
            1e-9,
            &format!("{name} deff"),
        );
        let vc = variance_components(&cl);
        opt_close(vc.within, &want["within"], 1e-12, &format!("{name} within"));
        opt_close(
            vc.between,
            &want["between"],
            1e-12,
            &format!("{name} between"),
        );
        let binary = cl.iter().flatten().all(|x| *x == 0.0 || *x == 1.0);
        if binary {
            let rate = clustered_rate(&cl).unwrap();
            let one_each = cl.iter().all(|t| t.len() == 1);
            if one_each {
                // One replication: today's Wilson interval, exactly.
                let k = cl.iter().flatten().filter(|x| **x == 1.0).count() as u64;
                assert_eq!(rate.ci95, wilson(k, cl.len() as u64, Z_95), "{name}");
                assert_eq!(rate.method, IntervalMethod::Wilson);
            }
            if cl.len() >= 2 {
                let ci = rate.ci95.unwrap();
                let w = &want["wilson_clustered"];
                close(ci.low, &w[0], 1e-9, &format!("{name} wilson low"));
                close(ci.high, &w[1], 1e-9, &format!("{name} wilson high"));
            } else {
                // One task with several replications: nothing to say about other tasks.
                assert_eq!(rate.ci95, None, "{name}");
            }
        }
        if cl.len() >= 2 {
            // Cluster bootstrap against numpy's own (another generator): the quantiles of
            // two 20,000-resample bootstraps agree within a fraction of the SE.
            let ours = cluster_bootstrap_ci(&cl, 20_000, 1).unwrap();
            let tol = 0.2 * se.unwrap().max(1e-12);
            let b = &want["boot"];
            assert!(
                (ours.low - b[0].as_f64().unwrap()).abs() <= tol
                    && (ours.high - b[1].as_f64().unwrap()).abs() <= tol,
                "{name} cluster bootstrap: ours {ours:?}, numpy {b}"
            );
        }
    }
}

#[test]
fn cluster_bootstrap_and_cluster_robust_se_agree() {
    // 40 tasks × 3 replications of a skew-free metric: the percentile interval of the
    // cluster bootstrap is close to mean ± 1.96 · CR1 SE.
    let cl: Clusters = (0..40)
        .map(|t| {
            let level = ((t * 7919) % 41) as f64 / 4.0;
            (0..3)
                .map(|r| level + ((t + r * 13) % 5) as f64 * 0.5)
                .collect()
        })
        .collect();
    let m = clustered_metric(&cl, 20_000, 3).unwrap();
    let se = m.se.unwrap();
    let ci = m.ci95.unwrap();
    let normal = (m.mean - Z_95 * se, m.mean + Z_95 * se);
    assert!(
        (ci.low - normal.0).abs() < 0.15 * se && (ci.high - normal.1).abs() < 0.15 * se,
        "bootstrap {ci:?} vs CR1 normal {normal:?} (se {se})"
    );
    assert_eq!(m.tasks, 40);
    assert_eq!(m.trials, 120);
}

#[test]
fn paired_tests_over_tasks_match_scipy() {
    let r = reference();
    for (name, p) in pairs() {
        let want = &r["pairs"][name];
        let diffs: Vec<f64> = p
            .base
            .iter()
            .zip(&p.var)
            .map(|(b, v)| {
                v.iter().sum::<f64>() / v.len() as f64 - b.iter().sum::<f64>() / b.len() as f64
            })
            .collect();
        let t = paired_over_tasks(&diffs, 1).unwrap();
        close(t.mean, &want["mean"], 1e-12, &format!("{name} mean"));
        // Exact: the permutation p-value is a count over all 2^n sign flips.
        assert!(t.permutation_exact, "{name}");
        close(
            t.permutation_p,
            &want["perm_p"],
            1e-9,
            &format!("{name} permutation p"),
        );
        if want.get("t_p").is_some() {
            close(t.t.unwrap(), &want["t"], 1e-9, &format!("{name} t"));
            close(t.t_p.unwrap(), &want["t_p"], 1e-9, &format!("{name} t p"));
            let ci = t.ci95.unwrap();
            close(ci.low, &want["ci"][0], 1e-9, &format!("{name} ci low"));
            close(ci.high, &want["ci"][1], 1e-9, &format!("{name} ci high"));
        } else if diffs.len() >= 2 {
            // No spread: scipy's t is undefined (nan); ours says every task moved alike.
            assert_eq!(t.sd, Some(0.0), "{name}");
            assert_eq!(t.t_p, Some(if t.mean == 0.0 { 1.0 } else { 0.0 }), "{name}");
        } else {
            assert_eq!(
                (t.t_p, t.ci95, t.sd),
                (None, None, None),
                "{name}: one task"
            );
        }
        if diffs.len() >= 2 {
            let within = |cl: &Clusters| variance_components(cl).within;
            let reps: Vec<(usize, usize)> = p
                .base
                .iter()
                .zip(&p.var)
                .map(|(b, v)| (b.len(), v.len()))
                .collect();
            let pw = power_analysis(&diffs, within(&p.base), within(&p.var), &reps);
            close(
                pw.sd_diff.unwrap(),
                &want["sd"],
                1e-12,
                &format!("{name} sd"),
            );
            opt_close(pw.mde, &want["mde"], 1e-9, &format!("{name} mde"));
            opt_close(
                pw.tasks_needed.map(|n| n as f64),
                &want["tasks_needed"],
                0.0,
                &format!("{name} tasks needed"),
            );
            if want.get("within").is_some() {
                opt_close(
                    pw.within_var,
                    &want["within"],
                    1e-12,
                    &format!("{name} within"),
                );
                opt_close(
                    pw.between_var,
                    &want["between"],
                    1e-12,
                    &format!("{name} between"),
                );
            }
            if let Some(power) = want.get("power_at_mde").and_then(Value::as_f64) {
                // The MDE formula is the usual approximation of the paired t test's power:
                // at the MDE, the exact (noncentral t) power is close to 80%.
                assert!(
                    (0.75..0.85).contains(&power),
                    "{name}: exact power at MDE {power}"
                );
            }
        }
    }
}

#[test]
fn holm_matches_the_reference() {
    let r = reference();
    for (i, ps) in HOLM.iter().enumerate() {
        let ours = holm(ps);
        for (j, o) in ours.iter().enumerate() {
            close(
                *o,
                &r["holm"][i][j],
                1e-15,
                &format!("holm case {i} item {j}"),
            );
        }
    }
}

#[test]
fn t_distribution_matches_scipy() {
    let py = scipy_support::python_with_scipy();
    let cases = [
        (0.3, 1.0),
        (-2.0, 2.0),
        (1.7, 5.0),
        (2.9, 19.0),
        (-0.01, 59.0),
        (4.5, 3.0),
    ];
    let qs = [
        (0.975, 1.0),
        (0.975, 4.0),
        (0.8, 19.0),
        (0.975, 59.0),
        (0.999, 2.0),
        (0.6, 7.0),
    ];
    let prog = format!(
        "import json\nfrom scipy import stats\nprint(json.dumps([[stats.t.cdf(x, d) for x, d in {cases:?}], [stats.t.ppf(p, d) for p, d in {qs:?}]]))"
    );
    let out = Command::new(py).args(["-c", &prog]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, (x, d)) in cases.iter().enumerate() {
        close(t_cdf(*x, *d), &v[0][i], 1e-12, &format!("t_cdf({x}, {d})"));
    }
    for (i, (p, d)) in qs.iter().enumerate() {
        // The quantile inherits the CDF's last digits, divided by the density.
        close(
            t_quantile(*p, *d),
            &v[1][i],
            1e-8,
            &format!("t_ppf({p}, {d})"),
        );
    }
}
