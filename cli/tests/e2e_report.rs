//! `labj report` on a real run with known results: the numbers (computed by hand in the
//! comments), infrastructure faults kept apart, the formats (text, markdown, JSON, one
//! self-contained HTML file), determinism, and the statistics against scipy.

mod support;

use serde_json::Value;
use support::report::*;
use support::*;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn report(s: &Scratch, run: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec!["report", run.to_str().unwrap()];
    args.extend_from_slice(extra);
    stdout_ok(&s.labj(&args))
}

#[test]
fn report_numbers_are_the_hand_computed_ones_and_infra_stays_out_of_denominators() {
    let s = Scratch::new();
    let run = paired_run(&s);
    let json_text = report(&s, &run, &["--format", "json"]);
    let r: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(r["schema_version"], "labj_report_v1");
    assert_eq!(r["baseline_id"], "base");
    let vs = r["variants"].as_array().unwrap();
    let names: Vec<&str> = vs
        .iter()
        .map(|v| v["variant_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["base", "better", "broken"], "baseline first");

    // base: 8 of 16 (tasks 0-3 × 2). Wilson: p = 0.5, z²/n = 0.24010, center 0.5,
    // half = (1.95996/1.24010)·sqrt(0.015625 + 0.0037515) = 0.22000 → [0.28000, 0.72000].
    let base = &vs[0];
    assert_eq!(
        (base["scored"].as_u64(), base["succeeded"].as_u64()),
        (Some(16), Some(8))
    );
    assert!(close(f(&base["success_rate"]), 0.5));
    assert!(
        (f(&base["success_ci95"]["low"]) - 0.279_995_636).abs() < 1e-8,
        "{base}"
    );
    assert!(
        (f(&base["success_ci95"]["high"]) - 0.720_004_364).abs() < 1e-8,
        "{base}"
    );
    // Mean score of base: (0+…+0.7)/8 = 0.35.
    assert!(close(f(&base["metric"]["mean"]), 0.35), "{base}");
    assert_eq!(base["metric"]["n"], 16);

    // better: 10 of 16 → Wilson [0.38641, 0.81519]; mean 0.35 + 0.05·(0+1+2+0+1+2+0+1)/8.
    let better = &vs[1];
    assert_eq!(better["succeeded"], 10);
    assert!((f(&better["success_ci95"]["low"]) - 0.386_410_405).abs() < 1e-8);
    assert!((f(&better["success_ci95"]["high"]) - 0.815_187_674).abs() < 1e-8);
    assert!(close(f(&better["metric"]["mean"]), 0.39375), "{better}");

    // broken: every attempt is a spawn failure, so fail-fast stops the variant after
    // its first 3 committed slots (more may have been in flight): those are infra, the
    // rest skipped; nothing scored, no rate.
    let broken = &vs[2];
    let (lost, skipped) = (
        broken["infra_lost"].as_u64().unwrap(),
        broken["skipped_pruned"].as_u64().unwrap(),
    );
    assert_eq!(broken["scored"].as_u64(), Some(0), "{broken}");
    assert!((3..16).contains(&lost) && lost + skipped == 16, "{broken}");
    assert!(broken["success_rate"].is_null() && broken["success_ci95"].is_null());
    assert!(broken["metric"].is_null(), "{broken}");

    // better vs base over 16 pairs: both ✓ tasks 1-3 (6), both ✗ tasks 6-7 (4), only base
    // task 0 (b = 2), only better tasks 4-5 (c = 4). McNemar exact: 2·P(X ≤ 2 | n = 6)
    // = 2·(1 + 6 + 15)/64 = 0.6875.
    let cmp = &r["comparisons"][0];
    assert_eq!(cmp["variant_id"], "better");
    assert_eq!(
        [
            &cmp["pairs"],
            &cmp["excluded_pairs"],
            &cmp["both_succeeded"],
            &cmp["both_failed"],
            &cmp["baseline_only"],
            &cmp["variant_only"],
        ]
        .map(|v| v.as_u64().unwrap()),
        [16, 0, 6, 4, 2, 4]
    );
    assert!(close(f(&cmp["mcnemar_p"]), 0.6875), "{cmp}");
    assert!(close(f(&cmp["success_rate_diff"]), 2.0 / 16.0));
    // Paired differences (n mod 3)/20: mean 0.04375, all in [0, 0.1].
    assert!(close(f(&cmp["metric_diff"]), 0.04375), "{cmp}");
    let (lo, hi) = (
        f(&cmp["metric_diff_ci95"]["low"]),
        f(&cmp["metric_diff_ci95"]["high"]),
    );
    assert!(
        (0.0..0.04375).contains(&lo) && hi > 0.04375 && hi <= 0.1,
        "{cmp}"
    );
    let flips = |k: &str| -> Vec<String> {
        cmp[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| format!("{}#{}", x["task_id"].as_str().unwrap(), x["repl_idx"]))
            .collect()
    };
    assert_eq!(
        flips("gained"),
        ["task_004#0", "task_004#1", "task_005#0", "task_005#1"]
    );
    assert_eq!(flips("lost"), ["task_000#0", "task_000#1"]);

    // broken vs base: no pair is scored on both sides; nothing is compared.
    let cmp = &r["comparisons"][1];
    assert_eq!(
        (cmp["pairs"].as_u64(), cmp["excluded_pairs"].as_u64()),
        (Some(0), Some(16))
    );
    assert!(close(f(&cmp["mcnemar_p"]), 1.0));
    assert!(cmp["metric_diff"].is_null() && cmp["metric_diff_ci95"].is_null());

    // Failure classes: 14 graded failures (base 8, better 6) and broken's spawn failures
    // (infra; as many as it committed before fail-fast stopped it), most frequent first.
    let classes: Vec<(String, u64, bool)> = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["classification"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
                c["infra"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        [
            ("failure".to_string(), 14, false),
            ("spawn_failure".to_string(), lost, true)
        ]
    );

    // Seeded: the same report every time.
    assert_eq!(report(&s, &run, &["--format", "json"]), json_text);
    let other_seed = report(&s, &run, &["--format", "json", "--seed", "2"]);
    assert_ne!(other_seed, json_text, "the seed drives the bootstrap");

    // Text: baseline first and marked, the comparison with its test.
    let t = report(&s, &run, &[]);
    let rows: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("base") || l.starts_with("better") || l.starts_with("broken"))
        .collect();
    assert!(rows[0].starts_with("base (baseline)"), "{t}");
    assert!(t.contains("exact McNemar p = 0.6875"), "{t}");
    assert!(t.contains("gained (baseline failed, better succeeded): task_004#0, task_004#1, task_005#0, task_005#1"), "{t}");
    assert!(t.contains("[28.0%, 72.0%]"), "{t}");
    // Markdown: tables with the same numbers.
    let md = report(&s, &run, &["--format", "markdown"]);
    assert!(
        md.contains("| base (baseline) | 16 | 8 | 50.0% | [28.0%, 72.0%] |"),
        "{md}"
    );
    assert!(
        md.contains("| better | 16 | 0 | 6 | 4 | 2 | 4 | +12.5 pts | 0.6875 |"),
        "{md}"
    );
}

#[test]
fn html_report_is_one_self_contained_file() {
    let s = Scratch::new();
    let run = paired_run(&s);
    let out = s.dir().join("report.html");
    let o = s.labj(&[
        "report",
        run.to_str().unwrap(),
        "--format",
        "html",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stdout.is_empty(), "--out writes the file, not stdout");
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(
        html.contains("<style>") && html.matches("<svg").count() >= 3,
        "charts inline"
    );
    for banned in ["<script", "<link", " src=", "@import", "url("] {
        assert!(
            !html.contains(banned),
            "{banned} would fetch or run something"
        );
    }
    // The only URL is the SVG namespace (an identifier, never fetched).
    let urls = html.matches("http://").count() + html.matches("https://").count();
    let ns = html.matches("http://www.w3.org/2000/svg").count();
    assert_eq!(urls, ns, "no URL other than the SVG namespace");
    assert!(html.contains("0.6875") && html.contains("spawn_failure"));
    assert!(html.contains("task_004#0"), "flips listed");
}

#[test]
fn report_statistics_match_scipy() {
    let py = python_with_scipy();
    let s = Scratch::new();
    let run = paired_run(&s);
    let report_path = s.dir().join("r.json");
    let csv_path = s.dir().join("trials.csv");
    let o = s.labj(&[
        "report",
        run.to_str().unwrap(),
        "--format",
        "json",
        "--resamples",
        "20000",
        "--out",
        report_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = s.labj(&[
        "export",
        run.to_str().unwrap(),
        "--table",
        "trials",
        "--format",
        "csv",
        "--out",
        csv_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // scipy recomputes everything from the exported trials and compares.
    let program = r#"
import csv, json, sys
import numpy as np
from scipy.stats import binomtest, bootstrap
rep = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
infra = {"worker_lost", "spawn_failure", "disk_error"}
def tol(xs):
    # Two 20,000-resample estimates of a quantile differ by a small fraction of the
    # standard error; on data with few distinct values the mean moves in steps of
    # (smallest gap)/n, so a quantile may land a step or two away.
    u = np.unique(xs)
    step = float(np.min(np.diff(u))) if len(u) > 1 else 0.0
    return 0.15 * xs.std(ddof=1) / np.sqrt(len(xs)) + 2 * step / len(xs) + 1e-12
scored = [r for r in rows if r["status"] != "skipped_pruned" and r["classification"] and r["classification"] not in infra and r["classification"] != "cancelled"]
checked = 0
for v in rep["variants"]:
    mine = [r for r in scored if r["variant_id"] == v["variant_id"]]
    k = sum(r["classification"] == "success" for r in mine)
    assert v["scored"] == len(mine) and v["succeeded"] == k, (v, len(mine), k)
    if mine:
        ci = binomtest(k, len(mine)).proportion_ci(confidence_level=0.95, method="wilson")
        assert abs(ci.low - v["success_ci95"]["low"]) < 1e-9, (ci, v)
        assert abs(ci.high - v["success_ci95"]["high"]) < 1e-9, (ci, v)
        xs = np.array([float(r["primary_metric"]) for r in mine])
        assert abs(xs.mean() - v["metric"]["mean"]) < 1e-9
        b = bootstrap((xs,), np.mean, n_resamples=20000, method="percentile", random_state=5)
        for a, c in ((b.confidence_interval.low, v["metric"]["ci95"]["low"]), (b.confidence_interval.high, v["metric"]["ci95"]["high"])):
            assert abs(a - c) < tol(xs), ("bootstrap", a, c, tol(xs))
        checked += 1
base = rep["baseline_id"]
for c in rep["comparisons"]:
    pairs = {}
    for r in scored:
        if r["variant_id"] in (base, c["variant_id"]):
            pairs.setdefault((r["task_id"], r["repl_idx"]), {})[r["variant_id"]] = r
    both = [p for p in pairs.values() if base in p and c["variant_id"] in p]
    bb = sum(p[base]["classification"] == "success" and p[c["variant_id"]]["classification"] != "success" for p in both)
    cc = sum(p[base]["classification"] != "success" and p[c["variant_id"]]["classification"] == "success" for p in both)
    assert (c["pairs"], c["baseline_only"], c["variant_only"]) == (len(both), bb, cc), (c, len(both), bb, cc)
    pv = 1.0 if bb + cc == 0 else binomtest(bb, bb + cc, 0.5).pvalue
    assert abs(pv - c["mcnemar_p"]) < 1e-12, (pv, c["mcnemar_p"])
    if both:
        d = np.array([float(p[c["variant_id"]]["primary_metric"]) - float(p[base]["primary_metric"]) for p in both])
        assert abs(d.mean() - c["metric_diff"]) < 1e-9
        b = bootstrap((d,), np.mean, n_resamples=20000, method="percentile", random_state=5)
        assert abs(b.confidence_interval.low - c["metric_diff_ci95"]["low"]) < tol(d), (b, c)
        assert abs(b.confidence_interval.high - c["metric_diff_ci95"]["high"]) < tol(d), (b, c)
    checked += 1
print("checked", checked)
"#;
    let o = std::process::Command::new(&py)
        .arg("-c")
        .arg(program)
        .arg(&report_path)
        .arg(&csv_path)
        .output()
        .expect("run python");
    assert!(o.status.success(), "scipy disagrees: {}", text(&o));
    // 2 variants with scored trials + 2 comparisons.
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "checked 4");
}
