//! The statistics of `labj report` against scipy, the reference implementation: Wilson
//! intervals (`binomtest(k, n).proportion_ci(method="wilson")`), the exact McNemar test
//! (`binomtest(b, b + c, 0.5).pvalue`) and percentile bootstrap intervals of a mean
//! (`scipy.stats.bootstrap(method="percentile")`, another generator: within tolerance).
//!
//! Needs python3 with scipy (`scripts/setup.d/50-scipy.sh` installs python3-scipy); fails
//! naming scipy when it is missing.

mod scipy_support;

use read::report::stats::{bootstrap_mean_ci, mcnemar_exact, wilson, Z_95};
use scipy_support::python_with_scipy;
use std::process::Command;

/// Run a python program with scipy; its stdout as JSON.
fn scipy(program: &str) -> serde_json::Value {
    let py = python_with_scipy();
    let out = Command::new(&py)
        .args(["-c", program])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

#[test]
fn wilson_intervals_match_scipy() {
    let cases: Vec<(u64, u64)> = vec![
        (0, 1),
        (1, 1),
        (0, 5),
        (5, 5),
        (8, 10),
        (3, 7),
        (17, 40),
        (50, 100),
        (999, 1000),
        (123, 4567),
    ];
    let list: Vec<String> = cases.iter().map(|(k, n)| format!("({k},{n})")).collect();
    let got = scipy(&format!(
        "import json\nfrom scipy.stats import binomtest\nout=[]\nfor k,n in [{}]:\n    ci=binomtest(k,n).proportion_ci(confidence_level=0.95, method='wilson')\n    out.append([ci.low, ci.high])\nprint(json.dumps(out))",
        list.join(",")
    ));
    for (i, (k, n)) in cases.iter().enumerate() {
        let ours = wilson(*k, *n, Z_95).unwrap();
        let (lo, hi) = (got[i][0].as_f64().unwrap(), got[i][1].as_f64().unwrap());
        assert!(
            (ours.low - lo).abs() < 1e-9 && (ours.high - hi).abs() < 1e-9,
            "wilson({k}, {n}): ours [{}, {}], scipy [{lo}, {hi}]",
            ours.low,
            ours.high
        );
    }
}

#[test]
fn mcnemar_exact_matches_scipy_binomtest() {
    let cases: Vec<(u64, u64)> = vec![
        (0, 0),
        (0, 1),
        (1, 6),
        (6, 1),
        (2, 10),
        (3, 3),
        (7, 4),
        (12, 30),
        (40, 41),
        (150, 210),
        (600, 700),
    ];
    let list: Vec<String> = cases.iter().map(|(b, c)| format!("({b},{c})")).collect();
    let got = scipy(&format!(
        "import json\nfrom scipy.stats import binomtest\nout=[]\nfor b,c in [{}]:\n    out.append(1.0 if b+c==0 else binomtest(b,b+c,0.5).pvalue)\nprint(json.dumps(out))",
        list.join(",")
    ));
    for (i, (b, c)) in cases.iter().enumerate() {
        let ours = mcnemar_exact(*b, *c);
        let theirs = got[i].as_f64().unwrap();
        // Relative for tiny p-values, absolute otherwise.
        let tol = 1e-9f64.max(theirs * 1e-9);
        assert!(
            (ours - theirs).abs() <= tol,
            "mcnemar({b}, {c}): ours {ours}, scipy {theirs}"
        );
    }
}

#[test]
fn bootstrap_intervals_agree_with_scipy_within_resampling_noise() {
    // Deterministic, skewed data: 40 values.
    let data: Vec<f64> = (0..40)
        .map(|i| (((i * 7919) % 97) as f64 / 97.0).powi(2) * 3.0)
        .collect();
    let list: Vec<String> = data.iter().map(|x| format!("{x:.17}")).collect();
    let got = scipy(&format!(
        "import json, numpy as np\nfrom scipy.stats import bootstrap\nx=np.array([{}])\nr=bootstrap((x,), np.mean, n_resamples=20000, method='percentile', confidence_level=0.95, random_state=3)\nprint(json.dumps([r.confidence_interval.low, r.confidence_interval.high, float(np.std(x, ddof=1)/np.sqrt(len(x)))]))",
        list.join(",")
    ));
    let (lo, hi, se) = (
        got[0].as_f64().unwrap(),
        got[1].as_f64().unwrap(),
        got[2].as_f64().unwrap(),
    );
    let ours = bootstrap_mean_ci(&data, 20000, 1).unwrap();
    // Two independent 20,000-resample estimates of the same quantiles differ by a small
    // fraction of the standard error; 15% of it is generous and still catches a wrong
    // quantile rule (e.g. 90% or 99% intervals differ by ~0.3-0.6 se).
    let tol = 0.15 * se;
    assert!(
        (ours.low - lo).abs() < tol && (ours.high - hi).abs() < tol,
        "bootstrap: ours [{}, {}], scipy [{lo}, {hi}], tolerance {tol}",
        ours.low,
        ours.high
    );
}
