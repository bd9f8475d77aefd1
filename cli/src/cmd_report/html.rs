//! The HTML report: one self-contained file (inline CSS, inline SVG charts, no script,
//! no font or image fetched), readable offline and attachable to an email.

use super::{
    comparison_lines, flips, method_note, signed, variant_cells, variant_header, variant_name,
    verdict, APART_COLUMNS,
};
use read::report::stats::Interval;
use read::report::Report;
use std::fmt::Write as _;

/// A number with the precision a format asks for, in exponent form from a million up
/// (a metric of `1e308` is never 309 digits).
struct Fixed(f64);

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(3);
        if self.0.abs() >= 1e6 {
            write!(f, "{:.*e}", p, self.0)
        } else {
            write!(f, "{:.*}", p, self.0)
        }
    }
}

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}
.meta{color:#5b6475}table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{padding:.35rem .55rem;border-bottom:1px solid #e6e9ef;text-align:right;vertical-align:top}
th{background:#f4f6fa;font-weight:600}td:first-child,th:first-child{text-align:left}
td.l,th.l{text-align:left}code{background:#f4f6fa;padding:0 .25rem;border-radius:3px}
.base{font-weight:600}.sig{color:#0a7d32;font-weight:600}.ns{color:#5b6475}
.infra{color:#9a5b00}pre{background:#f7f8fb;padding:.4rem .6rem;margin:.2rem 0;white-space:pre-wrap;font-size:12px}
.chart{margin:.6rem 0}.note{color:#5b6475;font-size:12px}
"#;

/// A horizontal interval chart: one row per label, a dot at the value and a whisker for
/// the interval, over the axis `[lo, hi]` (a dashed line at `zero` when inside it).
struct Chart<'a> {
    title: &'a str,
    lo: f64,
    hi: f64,
    zero: Option<f64>,
    rows: Vec<(String, Option<f64>, Option<Interval>, bool)>,
    fmt: fn(f64) -> String,
    /// What the horizontal axis measures, with its unit.
    axis: &'a str,
}

/// Round tick positions (1, 2 or 5 × 10^k apart) covering `[lo, hi]`, about five.
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if hi.is_nan() || lo.is_nan() || hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|st| *st >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn svg(c: &Chart) -> String {
    let (left, width, row_h) = (190.0, 560.0, 28.0);
    let height = 36.0 + row_h * c.rows.len() as f64 + 40.0;
    // An axis from -1e308 to 1e308 has no f64 span: it is laid out in halves.
    let k = if (c.hi - c.lo).is_finite() { 1.0 } else { 0.5 };
    let (lo, hi) = (c.lo * k, c.hi * k);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x = |v: f64| left + (v.clamp(c.lo, c.hi) * k - lo) / span * width;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" role="img" aria-label="{}">"#,
        left + width + 90.0,
        esc(c.title)
    );
    let _ = write!(
        s,
        r##"<text x="0" y="16" font-size="13" font-weight="600" fill="#1d2330">{}</text>"##,
        esc(c.title)
    );
    let axis_y = 28.0 + row_h * c.rows.len() as f64;
    for v in ticks(lo, hi).into_iter().map(|t| t / k) {
        let xv = x(v);
        let _ = write!(
            s,
            r##"<line x1="{xv:.1}" y1="26" x2="{xv:.1}" y2="{axis_y:.1}" stroke="#e6e9ef"/><text x="{xv:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#5b6475">{}</text>"##,
            axis_y + 14.0,
            esc(&(c.fmt)(v))
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left:.1}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="#5b6475"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#1d2330">{}</text>"##,
        left + width,
        left + width / 2.0,
        axis_y + 30.0,
        esc(c.axis)
    );
    if let Some(z) = c.zero.filter(|z| (c.lo..=c.hi).contains(z)) {
        let xz = x(z);
        let _ = write!(
            s,
            r##"<line x1="{xz:.1}" y1="26" x2="{xz:.1}" y2="{axis_y:.1}" stroke="#1d2330" stroke-width="1.5"/><text x="{xz:.1}" y="24" font-size="10" text-anchor="middle" fill="#1d2330">no difference</text>"##
        );
    }
    for (i, (label, v, ci, strong)) in c.rows.iter().enumerate() {
        let y = 28.0 + row_h * i as f64 + row_h / 2.0;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#1d2330"{}>{}</text>"##,
            left - 10.0,
            y + 4.0,
            if *strong { r#" font-weight="600""# } else { "" },
            esc(label)
        );
        if let Some(ci) = ci {
            let (a, b) = (x(ci.low), x(ci.high));
            let _ = write!(
                s,
                r##"<line x1="{a:.1}" y1="{y:.1}" x2="{b:.1}" y2="{y:.1}" stroke="#3b6fd8" stroke-width="2"/><line x1="{a:.1}" y1="{:.1}" x2="{a:.1}" y2="{:.1}" stroke="#3b6fd8" stroke-width="2"/><line x1="{b:.1}" y1="{:.1}" x2="{b:.1}" y2="{:.1}" stroke="#3b6fd8" stroke-width="2"/>"##,
                y - 6.0,
                y + 6.0,
                y - 6.0,
                y + 6.0
            );
        }
        match v {
            Some(v) => {
                let _ = write!(
                    s,
                    r##"<circle cx="{:.1}" cy="{y:.1}" r="5" fill="#1d4fb8"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#1d2330">{}</text>"##,
                    x(*v),
                    left + width + 8.0,
                    y + 4.0,
                    esc(&(c.fmt)(*v))
                );
            }
            None => {
                let _ = write!(
                    s,
                    r##"<text x="{left:.1}" y="{:.1}" font-size="11" fill="#5b6475">no data</text>"##,
                    y + 4.0
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

fn bounds(vals: impl Iterator<Item = f64>, pad_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if pad_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 0.5, hi + 0.5);
    }
    if !(hi - lo).is_finite() {
        // Values at both ends of f64 (±1e308): padding or rounding would overflow.
        return (lo, hi);
    }
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    // Widen to the round ticks around the data, so the axis ends on a labelled number.
    let t = ticks(lo, hi);
    let step = if t.len() >= 2 { t[1] - t[0] } else { hi - lo };
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

pub fn html(r: &Report) -> String {
    let metric = r.primary_metric.clone().unwrap_or_else(|| "metric".into());
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>labj report {}</title><style>{CSS}</style></head><body>",
        esc(&r.run_id)
    );
    let _ = write!(
        s,
        "<h1>Report of run <code>{}</code></h1><p class=\"meta\">Experiment <code>{}</code> · status <b>{}</b> · {}/{} slots committed · baseline <code>{}</code>{}{}{}</p>",
        esc(&r.run_id),
        esc(&r.experiment_id),
        esc(&r.status),
        r.committed,
        r.total_slots,
        esc(&r.baseline_id),
        r.started_at
            .as_deref()
            .map(|t| format!(" · started {}", esc(t)))
            .unwrap_or_default(),
        r.duration_s
            .map(|d| format!(" · {d:.0} s"))
            .unwrap_or_default(),
        r.cost
            .cost_usd
            .map(|c| format!(" · cost ${c:.4}"))
            .unwrap_or_default()
    );
    let _ = write!(s, "<p class=\"note\">{}</p>", esc(&method_note(r)));
    // Charts.
    let rate_rows = r
        .variants
        .iter()
        .map(|v| {
            (
                format!("{} ({} tasks)", variant_name(v), v.tasks),
                v.success_rate,
                v.success_ci95,
                v.is_baseline,
            )
        })
        .collect();
    s.push_str("<h2>Success rate</h2>");
    s.push_str(&svg(&Chart {
        title: "success rate per variant, 95% interval clustered by task",
        lo: 0.0,
        hi: 1.0,
        zero: None,
        rows: rate_rows,
        fmt: |v| format!("{:.0}%", v * 100.0),
        axis: "success rate (% of scored trials)",
    }));
    if r.primary_metric.is_some() {
        let vals = r
            .variants
            .iter()
            .filter_map(|v| v.metric.as_ref())
            .flat_map(|m| {
                [Some(m.mean), m.ci95.map(|c| c.low), m.ci95.map(|c| c.high)]
                    .into_iter()
                    .flatten()
            });
        let (lo, hi) = bounds(vals, false);
        let axis = format!("mean {metric} per trial");
        s.push_str(&svg(&Chart {
            title: &format!("mean {metric}, 95% cluster bootstrap interval over tasks"),
            lo,
            hi,
            zero: None,
            rows: r
                .variants
                .iter()
                .map(|v| {
                    (
                        variant_name(v),
                        v.metric.as_ref().map(|m| m.mean),
                        v.metric.as_ref().and_then(|m| m.ci95),
                        v.is_baseline,
                    )
                })
                .collect(),
            fmt: super::fixed3,
            axis: &axis,
        }));
    }
    // Variant table.
    s.push_str("<h2>Variants</h2><table><tr>");
    for h in variant_header(&metric) {
        let _ = write!(s, "<th>{}</th>", esc(&h));
    }
    s.push_str("</tr>");
    for v in &r.variants {
        s.push_str(if v.is_baseline {
            "<tr class=\"base\">"
        } else {
            "<tr>"
        });
        for (i, c) in variant_cells(v).iter().enumerate() {
            let class = if APART_COLUMNS.contains(&i) && c != "0" {
                " class=\"infra\""
            } else {
                ""
            };
            let _ = write!(s, "<td{class}>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    // Metrics, cost and bindings.
    let metrics = super::metric_lines(r);
    if !metrics.is_empty() {
        s.push_str("<h2>Metrics</h2><table><tr><th>variant</th><th class=\"l\">metric</th><th>mean</th><th>95% CI (clustered by task)</th><th>tasks</th><th>trials</th></tr>");
        for v in &r.variants {
            for m in &v.metrics {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td class=\"l\"><code>{}</code></td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&variant_name(v)),
                    esc(&m.name),
                    Fixed(m.mean),
                    match (m.ci95, m.unavailable) {
                        (Some(i), _) => format!("[{:.4}, {:.4}]", Fixed(i.low), Fixed(i.high)),
                        (None, Some(why)) => esc(why),
                        (None, None) => "-".into(),
                    },
                    m.tasks,
                    m.n
                );
            }
        }
        s.push_str("</table>");
    }
    let values = super::value_count_lines(r);
    if !values.is_empty() {
        let _ = write!(
            s,
            "<h2>Non-numeric metrics</h2><p class=\"note\">Scored trials (and tasks) by value: variant, metric, value, trials, tasks.</p><pre>{}</pre>",
            esc(&values.join("\n"))
        );
    }
    let cost = super::cost_lines(r);
    if !cost.is_empty() {
        let _ = write!(
            s,
            "<h2>Cost and tokens</h2><pre>{}</pre>",
            esc(&cost.join("\n"))
        );
    }
    s.push_str("<h2>Bindings</h2><table><tr><th>variant</th><th class=\"l\">bindings</th></tr>");
    for v in &r.variants {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"l\"><code>{}</code></td></tr>",
            esc(&variant_name(v)),
            esc(&serde_json::to_string(&v.bindings).unwrap_or_default())
        );
    }
    s.push_str("</table>");
    // Comparisons.
    if !r.comparisons.is_empty() {
        let _ = write!(
            s,
            "<h2>Against the baseline <code>{}</code> (over tasks)</h2>",
            esc(&r.baseline_id)
        );
        let vals = r.comparisons.iter().flat_map(|c| {
            let t = c.over_tasks.as_ref();
            [
                t.map(|t| t.mean),
                t.and_then(|t| t.ci95).map(|i| i.low),
                t.and_then(|t| t.ci95).map(|i| i.high),
            ]
            .into_iter()
            .flatten()
        });
        let (lo, hi) = bounds(vals, true);
        s.push_str(&svg(&Chart {
            title: "success rate difference (variant − baseline) over tasks, 95% t interval",
            lo,
            hi,
            zero: Some(0.0),
            rows: r
                .comparisons
                .iter()
                .map(|c| {
                    (
                        format!("{} ({} tasks)", c.variant_id, c.tasks),
                        c.over_tasks.as_ref().map(|t| t.mean),
                        c.over_tasks.as_ref().and_then(|t| t.ci95),
                        false,
                    )
                })
                .collect(),
            fmt: |v| signed(Some(v), 100.0, " pts", 0),
            axis: "difference in success rate (percentage points)",
        }));
        s.push_str("<table><tr><th>variant</th><th>tasks</th><th>Δ success</th><th>test</th><th>p</th><th>Holm p</th><th>sign-flip p</th><th>MDE (80%)</th><th>tasks needed</th><th>McNemar p (pairs)</th></tr>");
        for c in &r.comparisons {
            let k = super::ComparisonCells::of(c);
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.variant_id),
                c.tasks,
                k.delta,
                k.test,
                if c.p_holm < 0.05 { "sig" } else { "ns" },
                k.p,
                k.holm,
                k.sign_flip,
                k.mde,
                k.tasks_needed,
                k.mcnemar
            );
        }
        s.push_str("</table>");
        for c in &r.comparisons {
            let _ = write!(
                s,
                "<p><b>{}</b>: {}.</p><ul>",
                esc(&c.variant_id),
                esc(&verdict(c))
            );
            for l in comparison_lines(c) {
                let _ = write!(s, "<li>{}</li>", esc(&l));
            }
            let _ = write!(
                s,
                "<li>pairs gained: {}</li><li>pairs lost: {}</li></ul>",
                esc(&flips(&c.gained, 40)),
                esc(&flips(&c.lost, 40))
            );
        }
    }
    s.push_str(&grid_table(r));
    if !r.failures.is_empty() {
        s.push_str("<h2>Why trials did not succeed</h2><table><tr><th>class</th><th>count</th><th class=\"l\">example</th></tr>");
        for f in &r.failures {
            let e = &f.example;
            let what: Vec<String> = [
                e.exit_code
                    .filter(|c| *c != 0)
                    .map(|c| format!("exit code {c}")),
                e.detail.clone(),
            ]
            .into_iter()
            .flatten()
            .collect();
            let _ = write!(
                s,
                "<tr><td{}>{}{}</td><td>{}</td><td class=\"l\"><code>{}</code> ({}, {}#{}) {}{}</td></tr>",
                if f.infra { " class=\"infra\"" } else { "" },
                esc(&crate::render::class_label(f)),
                if f.infra { " (infra, not scored)" } else { "" },
                f.count,
                esc(&e.trial_id),
                esc(&e.variant_id),
                esc(&e.task_id),
                e.repl_idx,
                esc(&what.join("; ")),
                if e.stderr_tail.is_empty() {
                    String::new()
                } else {
                    format!("<pre>{}</pre>", esc(&e.stderr_tail.join("\n")))
                }
            );
        }
        s.push_str("</table>");
    }
    s.push_str("<p class=\"note\">Made by labj from the run's journal.</p></body></html>\n");
    s
}

/// Which tasks each variant solves: one row per task, one cell per variant, shaded by
/// the task's success rate (grey: no colour needed to read it).
fn grid_table(r: &Report) -> String {
    let g = &r.grid;
    if g.task_ids.is_empty() {
        return String::new();
    }
    let mut s = String::from("<h2>Tasks × variants</h2><p class=\"note\">Success rate of each task per variant (replications of the task); darker is more often solved, blank is not scored.</p><table class=\"grid\"><tr><th class=\"l\">task</th>");
    for v in &g.variant_ids {
        let _ = write!(s, "<th>{}</th>", esc(v));
    }
    s.push_str("</tr>");
    for (t, row) in g.task_ids.iter().zip(&g.rates) {
        let _ = write!(s, "<tr><td class=\"l\"><code>{}</code></td>", esc(t));
        for cell in row {
            match cell {
                Some(x) => {
                    let shade = (245.0 - 175.0 * x).round() as u8;
                    let ink = if *x > 0.55 { "#fff" } else { "#1d2330" };
                    let _ = write!(
                        s,
                        "<td style=\"background:rgb({shade},{shade},{shade});color:{ink}\">{:.0}%</td>",
                        100.0 * x
                    );
                }
                None => s.push_str("<td></td>"),
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn bounds_pad_and_include_zero() {
        assert_eq!(bounds([].into_iter(), false), (0.0, 1.0));
        let (lo, hi) = bounds([0.2, 0.4].into_iter(), true);
        assert!(lo < 0.0 && hi > 0.4, "{lo} {hi}");
        let (lo, hi) = bounds([3.0].into_iter(), false);
        assert_eq!((lo, hi), (2.5, 3.5));
    }

    #[test]
    fn a_chart_over_the_whole_f64_range_has_no_nan() {
        let (lo, hi) = bounds([-1e308, 1e308].into_iter(), false);
        assert_eq!((lo, hi), (-1e308, 1e308));
        let svg = svg(&Chart {
            title: "t",
            lo,
            hi,
            zero: Some(0.0),
            rows: vec![
                ("a".into(), Some(1e308), None, true),
                ("b".into(), Some(-1e308), None, false),
            ],
            fmt: super::super::fixed3,
            axis: "x",
        });
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn ticks_fall_on_round_numbers() {
        let t = ticks(0.0, 1.0);
        let want = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
        assert!(
            t.len() == 6 && t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{t:?}"
        );
        // A span of 0.55 steps by 0.2: the ticks inside [-0.13, 0.42] are 0, 0.2, 0.4.
        let t = ticks(-0.13, 0.42);
        assert_eq!(t.len(), 3, "{t:?}");
        assert_eq!(t.first().copied(), Some(0.0));
        assert!(
            t.iter()
                .all(|x| ((x * 10.0).round() - x * 10.0).abs() < 1e-9),
            "{t:?}"
        );
        let t = ticks(12.0, 480.0);
        assert_eq!(t, vec![100.0, 200.0, 300.0, 400.0]);
    }
}
