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

    // base: 8 of 16: tasks 0-3 succeed in both replications, tasks 4-7 fail in both, so
    // the 16 trials are 8 clusters. CR1 variance = 8/7 · Σ_t (Σ_r (x − 0.5))² / 16²
    // = 8/7 · 8 · 1 / 256 = 0.035714; i.i.d. variance s²/N = (4/15)/16 = 0.016667;
    // design effect 15/7 = 2.142857, effective n = 16 / (15/7) = 7.46667. Wilson on
    // 7.46667: z²/n = 0.514479, half = (1.95996/1.514479)·sqrt(0.25/7.46667 + 0.017226)
    // = 0.291422 → [0.208578, 0.791422] (plain Wilson over 16 trials was [0.28, 0.72]).
    let base = &vs[0];
    assert_eq!(
        (base["scored"].as_u64(), base["succeeded"].as_u64()),
        (Some(16), Some(8))
    );
    assert_eq!(base["tasks"], 8, "{base}");
    assert_eq!(base["success_interval"], "wilson_clustered", "{base}");
    assert!(
        (f(&base["success_design_effect"]) - 15.0 / 7.0).abs() < 1e-12,
        "{base}"
    );
    assert!(close(f(&base["success_rate"]), 0.5));
    assert!(
        (f(&base["success_ci95"]["low"]) - 0.208_577_7).abs() < 1e-6,
        "{base}"
    );
    assert!(
        (f(&base["success_ci95"]["high"]) - 0.791_422_3).abs() < 1e-6,
        "{base}"
    );
    // Mean score of base: (0+…+0.7)/8 = 0.35.
    assert!(close(f(&base["metric"]["mean"]), 0.35), "{base}");
    assert_eq!(base["metric"]["n"], 16);

    // better: 10 of 16 (tasks 1-5 in both replications): design effect 15/7 again,
    // Wilson on 7.46667 → [0.297191, 0.867882]; mean 0.35 + 0.05·(0+1+2+0+1+2+0+1)/8.
    let better = &vs[1];
    assert_eq!(better["succeeded"], 10);
    assert!((f(&better["success_ci95"]["low"]) - 0.297_190_8).abs() < 1e-6);
    assert!((f(&better["success_ci95"]["high"]) - 0.867_882_2).abs() < 1e-6);
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
    // Over tasks: per-task differences (better − base) are −1 (task 0), +1 (tasks 4, 5)
    // and 0 elsewhere: mean 0.125, sd 0.640870, t = 0.551677 on 7 df, p = 0.598331
    // (scipy.stats.ttest_1samp). Two replications: the paired t test is the test.
    assert_eq!(cmp["tasks"], 8, "{cmp}");
    assert_eq!(cmp["test"], "paired_t", "{cmp}");
    assert!((f(&cmp["p_value"]) - 0.598_331_156).abs() < 1e-8, "{cmp}");
    assert!(
        (f(&cmp["over_tasks"]["mean"]) - 0.125).abs() < 1e-12,
        "{cmp}"
    );
    // Sign flips: |Σ| = 1 is reached unless the three non-zero differences sum to ±3
    // (only when task 0's sign matches the others'... all 8 patterns of 3 signs give
    // |Σ| ≥ 1), so p = 1.
    assert!(
        (f(&cmp["over_tasks"]["permutation_p"]) - 1.0).abs() < 1e-12,
        "{cmp}"
    );
    assert_eq!(
        cmp["tasks_gained"],
        serde_json::json!(["task_004", "task_005"])
    );
    assert_eq!(cmp["tasks_lost"], serde_json::json!(["task_000"]));
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
    // The clustered interval (8 tasks), not Wilson over 16 trials ([28.0%, 72.0%]).
    assert!(t.contains("[20.9%, 79.1%]"), "{t}");
    assert!(
        t.contains("test of this comparison: paired t over tasks p = 0.5983"),
        "{t}"
    );
    assert!(
        t.contains("tasks better for better: task_004, task_005 · tasks worse: task_000"),
        "{t}"
    );
    // Markdown: tables with the same numbers.
    let md = report(&s, &run, &["--format", "markdown"]);
    assert!(
        md.contains("| base (baseline) | 8 | 16 | 8 | 50.0% | [20.9%, 79.1%] |"),
        "{md}"
    );
    assert!(md.contains("| better | 8 | +12.5 pts |"), "{md}");
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
from scipy.stats import binomtest, bootstrap, ttest_1samp
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
Z = 1.959963984540054
def by_task(rs, key):
    out = {}
    for r in rs:
        out.setdefault(r["task_id"], []).append(key(r))
    return out
def wilson_clustered(groups):
    # CR1 cluster-robust variance over the i.i.d. one = design effect; Wilson on n/deff
    # as the roots of (p - q)^2 = z^2 q (1 - q) / n.
    x = np.concatenate([np.array(g, float) for g in groups]); n, g = len(x), len(groups); m = x.mean()
    meat = sum(((np.array(c, float) - m).sum()) ** 2 for c in groups)
    iid = x.var(ddof=1) / n
    deff = (g / (g - 1) * meat / n**2) / iid if iid > 0 else 1.0
    ne = n / deff
    r = np.sort(np.roots([1 + Z**2 / ne, -(2 * m + Z**2 / ne), m**2]).real)
    return max(0.0, r[0]), min(1.0, r[-1])
checked = 0
for v in rep["variants"]:
    mine = [r for r in scored if r["variant_id"] == v["variant_id"]]
    k = sum(r["classification"] == "success" for r in mine)
    assert v["scored"] == len(mine) and v["succeeded"] == k, (v, len(mine), k)
    if mine:
        groups = list(by_task(mine, lambda r: float(r["classification"] == "success")).values())
        assert v["tasks"] == len(groups), (v, len(groups))
        if max(len(g) for g in groups) == 1:
            ci = binomtest(k, len(mine)).proportion_ci(confidence_level=0.95, method="wilson")
            lo, hi = ci.low, ci.high
        else:
            lo, hi = wilson_clustered(groups)
        assert abs(lo - v["success_ci95"]["low"]) < 1e-9, (lo, hi, v)
        assert abs(hi - v["success_ci95"]["high"]) < 1e-9, (lo, hi, v)
        xs = np.array([float(r["primary_metric"]) for r in mine])
        assert abs(xs.mean() - v["metric"]["mean"]) < 1e-9
        # Cluster bootstrap over tasks with numpy's generator.
        mg = list(by_task(mine, lambda r: float(r["primary_metric"])).values())
        sums = np.array([sum(g) for g in mg]); cnt = np.array([len(g) for g in mg], float)
        idx = np.random.default_rng(5).integers(0, len(mg), size=(20000, len(mg)))
        means = sums[idx].sum(1) / cnt[idx].sum(1)
        tm = np.array([np.mean(g) for g in mg])
        for a, c in ((np.quantile(means, 0.025), v["metric"]["ci95"]["low"]), (np.quantile(means, 0.975), v["metric"]["ci95"]["high"])):
            assert abs(a - c) < tol(tm), ("cluster bootstrap", a, c, tol(tm))
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
    # Over tasks: replications averaged within a task first.
    bs = by_task([r for r in scored if r["variant_id"] == base], lambda r: r)
    vs_ = by_task([r for r in scored if r["variant_id"] == c["variant_id"]], lambda r: r)
    tasks = sorted(set(bs) & set(vs_))
    assert c["tasks"] == len(tasks), (c["tasks"], len(tasks))
    if len(tasks) >= 2:
        ok = lambda rs: np.mean([r["classification"] == "success" for r in rs])
        d = np.array([ok(vs_[t]) - ok(bs[t]) for t in tasks])
        if c["test"] == "paired_t":
            assert abs(ttest_1samp(d, 0.0).pvalue - c["p_value"]) < 1e-9, (c, d)
        md = np.array([np.mean([float(r["primary_metric"]) for r in vs_[t]]) - np.mean([float(r["primary_metric"]) for r in bs[t]]) for t in tasks])
        assert abs(md.mean() - c["metric_diff"]) < 1e-9
        b = bootstrap((md,), np.mean, n_resamples=20000, method="percentile", random_state=5)
        assert abs(b.confidence_interval.low - c["metric_diff_ci95"]["low"]) < tol(md), (b, c)
        assert abs(b.confidence_interval.high - c["metric_diff_ci95"]["high"]) < tol(md), (b, c)
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

#[test]
fn every_metric_cost_tokens_and_metric_directions_reach_the_report() {
    let s = Scratch::new();
    s.tasks(4);
    // Even tasks succeed. base costs $0.50 a trial, alt $0.25; tokens 100 in, 10·n out;
    // latency 100 + 10·n ms (alt 20 ms faster); a string metric is left out of means.
    s.script(
        "agent.sh",
        r#"n=$(echo "$AGENTLAB_TASK_ID" | sed 's/^task_0*//'); n=${n:-0}
ok=$([ $((n % 2)) -eq 0 ] && echo success || echo failure)
case "$AGENTLAB_VARIANT_ID" in base) cost=0.5; lat=$((100 + 10 * n));; *) cost=0.25; lat=$((80 + 10 * n));; esac
printf '{"schema_version":"agent_result_v1","outcome":"%s","metrics":{"cost_usd":%s,"tokens_in":100,"tokens_out":%s,"latency_ms":%s,"model":"m1"}}' "$ok" "$cost" $((10 * n)) "$lat" >"$AGENTLAB_RESULT_PATH""#,
    );
    s.write(
        "experiment.yaml",
        r#"version: "0.5"
experiment: {id: metrics, name: metrics report test}
dataset: {path: tasks.jsonl}
design:
  replications: 2
  random_seed: 7
  max_concurrency: 4
  policies: {scheduling: paired_interleaved, state: isolate_per_trial}
baseline: {variant_id: base, bindings: {v: base}}
variant_plan:
  - variant_id: alt
    bindings: {v: alt}
runtime:
  agent:
    command: ["./agent.sh"]
    timeout_ms: 60000
metrics:
  - {id: latency_ms, source: output, json_pointer: /metrics/latency_ms, primary: true, direction: minimize}
"#,
    );
    let o = s.labj(&["run", "experiment.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run = s.the_run();
    let r: Value = serde_json::from_str(&report(&s, &run, &["--format", "json"])).unwrap();
    // The original runner's metric definitions choose the primary metric and direction.
    assert_eq!(r["primary_metric"], "latency_ms", "{}", r["metric_defs"]);
    assert_eq!(r["metric_defs"][0]["direction"], "minimize");
    let base = &r["variants"][0];
    let names: Vec<&str> = base["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cost_usd", "latency_ms", "tokens_in", "tokens_out"]);
    // Mean latency of base: 100 + 10·(0+1+2+3)/4 = 115, over 4 tasks and 8 trials.
    assert!(close(f(&base["metric"]["mean"]), 115.0), "{base}");
    assert_eq!(
        (
            base["metric"]["tasks"].as_u64(),
            base["metric"]["n"].as_u64()
        ),
        (Some(4), Some(8))
    );
    // Cost: 8 trials × $0.50 = $4, 4 successes: $1 per success; tokens 800 in,
    // 2·10·(0+1+2+3) = 120 out.
    let cost = &base["cost"];
    assert!(
        close(f(&cost["cost_usd"]), 4.0) && close(f(&cost["cost_per_trial"]), 0.5),
        "{cost}"
    );
    assert!(close(f(&cost["cost_per_success"]), 1.0), "{cost}");
    assert!(
        close(f(&cost["tokens_in"]), 800.0) && close(f(&cost["tokens_out"]), 120.0),
        "{cost}"
    );
    assert!(close(f(&r["cost"]["cost_usd"]), 6.0), "{}", r["cost"]);
    // The string metric is counted by value: 8 scored trials of base over 4 tasks.
    assert_eq!(
        base["value_counts"],
        serde_json::json!([{"name": "model", "value": "m1", "trials": 8, "tasks": 4}])
    );
    // Every numeric metric compared over tasks, with its direction: latency is 20 ms
    // lower on every task (no spread: p = 0), cost by convention lower-is-better.
    let cmp = &r["comparisons"][0];
    let m = |name: &str| {
        cmp["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} compared: {cmp}"))
            .clone()
    };
    let lat = m("latency_ms");
    assert_eq!(lat["direction"], "minimize");
    assert!(close(f(&lat["test"]["mean"]), -20.0), "{lat}");
    assert_eq!(lat["test"]["t_p"], 0.0, "{lat}");
    assert_eq!(m("cost_usd")["direction"], "minimize");
    assert_eq!(m("tokens_out")["test"]["tasks"], 4);
    // Both variants solve the same tasks: no task flips, no difference.
    assert_eq!(cmp["tasks_gained"], serde_json::json!([]));
    assert!(close(f(&cmp["over_tasks"]["mean"]), 0.0), "{cmp}");
    // The renderings carry them.
    let t = report(&s, &run, &[]);
    assert!(
        t.contains("cost and tokens (scored trials):") && t.contains("$4.0000"),
        "{t}"
    );
    assert!(
        t.contains("latency_ms (lower is better) difference -20.000"),
        "{t}"
    );
    let md = report(&s, &run, &["--format", "markdown"]);
    assert!(
        md.contains("## Metrics") && md.contains("## Cost and tokens"),
        "{md}"
    );
    let html = report(&s, &run, &["--format", "html"]);
    for needle in [
        "Tasks × variants",
        "difference in success rate (percentage points)",
        "no difference",
        "cost $6.0000",
        "{&quot;v&quot;:&quot;alt&quot;}",
    ] {
        assert!(html.contains(needle), "html lacks {needle}");
    }
    // status: what agents spent so far.
    let st = s.labj(&["status", run.to_str().unwrap()]);
    assert!(
        text(&st).contains("spent (reported by agents) · cost $6.0000 · 1840 tokens"),
        "{}",
        text(&st)
    );
}

#[test]
fn describe_plans_the_tasks_needed_for_an_expected_difference() {
    let s = Scratch::new();
    let exp = paired_experiment(&s);
    let want = read::report::clustered::tasks_needed(0.1, 0.3).unwrap();
    let o = s.labj(&[
        "describe",
        exp.to_str().unwrap(),
        "--effect",
        "0.1",
        "--sd",
        "0.3",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains(&format!("a difference of 0.1 with per-task SD 0.3 needs {want} tasks; this dataset's 8 tasks detect")),
        "{out}"
    );
    let o = s.labj(&[
        "describe",
        exp.to_str().unwrap(),
        "--json",
        "--effect",
        "-0.1",
        "--sd",
        "0.3",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["power"]["tasks_needed"], want, "{}", v["power"]);
    assert_eq!(v["power"]["tasks_available"], 8);
    // Bad input is named, never a panic; one flag without the other is a usage error.
    let o = s.labj(&[
        "describe",
        exp.to_str().unwrap(),
        "--effect",
        "0",
        "--sd",
        "0.3",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("--effect 0: expected a non-zero difference"),
        "{}",
        text(&o)
    );
    let o = s.labj(&["describe", exp.to_str().unwrap(), "--effect", "0.1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
