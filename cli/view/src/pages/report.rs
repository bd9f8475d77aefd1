//! Report: the statistics of `labj report` (per-variant success rates with Wilson
//! intervals, metric means with bootstrap intervals, paired comparisons with the
//! baseline, flipped pairs linking to the compare page): the document of `labj report
//! --format json`, computed off the request path (in a child `labj report` when the
//! server has a binary, so its fold never grows the server) and cached per journal length; the page says so while
//! it computes, and a live page picks it up.

use crate::html::{a, esc, num, pct, table, Page};
use crate::site::{ReportView, RunCtx, Site, ViewError};
use serde_json::Value;
use std::fmt::Write;

/// At most this many flipped pairs are listed per direction.
const FLIPS_SHOWN: usize = crate::site::FLIPS_LOOKED_UP;

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn ci(i: &Value, as_pct: bool) -> String {
    match (f(&i["low"]), f(&i["high"])) {
        (Some(l), Some(h)) if as_pct => format!("{} – {}", pct(Some(l)), pct(Some(h))),
        (Some(l), Some(h)) => format!("{} – {}", num(Some(l)), num(Some(h))),
        _ => "–".into(),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => esc(x),
        Value::Null => "–".into(),
        other => esc(&other.to_string()),
    }
}

pub(crate) fn page(site: &Site, run: &RunCtx) -> Result<Page, ViewError> {
    let links = &run.links;
    let mut crumbs = vec![];
    if !links.export {
        crumbs.push(("runs".to_string(), links.runs()));
    }
    crumbs.push((run.id.clone(), links.run(None)));
    crumbs.push(("report".into(), links.report()));
    let data = match site.report(run, links.export) {
        ReportView::Ready(d) => d,
        ReportView::Computing { secs } => {
            return Ok(Page {
                title: format!("report of {}", run.id),
                crumbs,
                body: format!(
                    "<h1>Report</h1><p id=\"computing\">Computing the report (<code>labj report</code>: a fold of all {} events), {secs:.1} s so far; this page updates by itself.</p>",
                    run.journal.len()
                ),
                live: true,
            })
        }
        ReportView::Failed(e) => return Err(ViewError::Other(e)),
    };
    let r = &data.report;
    let mut b = format!(
        "<h1>Report</h1><p>{} · status {} · {} of {} slots committed · primary metric {} · computed in {} ms over {} events; the same as <code>labj report</code></p>",
        s(&r["experiment_id"]),
        s(&r["status"]),
        s(&r["committed"]),
        s(&r["total_slots"]),
        s(&r["primary_metric"]),
        data.took_ms,
        data.events
    );
    let variants = r["variants"].as_array().cloned().unwrap_or_default();
    let mut metric_names: Vec<String> = variants
        .iter()
        .flat_map(|v| v["metrics"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["name"].as_str().map(String::from))
        .collect();
    metric_names.sort();
    metric_names.dedup();
    let rows: Vec<Vec<String>> = variants
        .iter()
        .map(|v| {
            let mut row = vec![
                format!(
                    "{}{}",
                    s(&v["variant_id"]),
                    if v["is_baseline"] == Value::Bool(true) {
                        " (baseline)"
                    } else {
                        ""
                    }
                ),
                s(&v["scored"]),
                s(&v["succeeded"]),
                pct(f(&v["success_rate"])),
                ci(&v["success_ci95"], true),
            ];
            // Every metric the agent reported: mean (n) and its 95% interval.
            let ms = v["metrics"].as_array().cloned().unwrap_or_default();
            for name in &metric_names {
                row.push(
                    ms.iter()
                        .find(|m| m["name"].as_str() == Some(name))
                        .map(|m| {
                            format!(
                                "{} <span class=\"muted\">(n={}; {})</span>",
                                num(f(&m["mean"])),
                                s(&m["n"]),
                                ci(&m["ci95"], false)
                            )
                        })
                        .unwrap_or_else(|| "–".into()),
                );
            }
            row.extend([
                s(&v["infra_lost"]),
                s(&v["cancelled"]),
                s(&v["skipped_pruned"]),
            ]);
            row
        })
        .collect();
    let mut head: Vec<String> = ["variant", "scored", "succeeded", "rate", "95% interval"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    head.extend(metric_names.iter().map(|m| format!("mean {m} (95%)")));
    head.extend(
        ["infra", "cancelled", "pruned"]
            .iter()
            .map(|x| x.to_string()),
    );
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    b.push_str("<h2>Variants</h2>");
    b.push_str(&table("report-variants", &head, &rows));
    for c in r["comparisons"].as_array().into_iter().flatten() {
        let variant = c["variant_id"].as_str().unwrap_or("?").to_string();
        let baseline = c["baseline_id"].as_str().unwrap_or("?").to_string();
        let _ = write!(
            b,
            "<h2>{} vs {}</h2><p>{} pairs ({} excluded): both succeeded {}, both failed {}, only baseline {}, only variant {}; McNemar exact p = {}; metric difference {} ({})</p>",
            esc(&variant),
            esc(&baseline),
            s(&c["pairs"]),
            s(&c["excluded_pairs"]),
            s(&c["both_succeeded"]),
            s(&c["both_failed"]),
            s(&c["baseline_only"]),
            s(&c["variant_only"]),
            f(&c["mcnemar_p"]).map(|p| format!("{p:.4}")).unwrap_or_else(|| "–".into()),
            num(f(&c["metric_diff"])),
            ci(&c["metric_diff_ci95"], false)
        );
        for (label, key) in [
            ("gained (baseline failed, variant succeeded)", "gained"),
            ("lost (baseline succeeded, variant failed)", "lost"),
        ] {
            let flips = c[key].as_array().cloned().unwrap_or_default();
            if flips.is_empty() {
                continue;
            }
            let mut items = String::new();
            for fl in flips.iter().take(FLIPS_SHOWN) {
                let task = fl["task_id"].as_str().unwrap_or("?").to_string();
                let repl = fl["repl_idx"].as_u64().unwrap_or(0) as u32;
                let sa = data.slots.get(&(baseline.clone(), task.clone(), repl));
                let sb = data.slots.get(&(variant.clone(), task.clone(), repl));
                let text = format!("{task} · repl {repl}");
                match (sa, sb) {
                    (Some(x), Some(y)) => {
                        let _ = write!(items, "<li>{}</li>", a(&links.compare(*x, *y), &text));
                    }
                    _ => {
                        let _ = write!(items, "<li>{}</li>", esc(&text));
                    }
                }
            }
            let _ = write!(
                b,
                "<h3>{} {label}</h3><ul class=\"flips\" id=\"{}-{key}\">{items}</ul>{}",
                flips.len(),
                esc(&variant),
                if flips.len() > FLIPS_SHOWN {
                    format!("<p class=\"muted\">first {FLIPS_SHOWN} shown</p>")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(Page {
        title: format!("report of {}", run.id),
        crumbs,
        body: b,
        live: false,
    })
}

/// The flipped pairs of a ready report as (baseline slot, variant slot), for exports.
pub(crate) fn flipped_slots(site: &Site, run: &RunCtx) -> Vec<(u64, u64)> {
    let ReportView::Ready(d) = site.report(run, true) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in d.report["comparisons"].as_array().into_iter().flatten() {
        let (Some(b), Some(v)) = (c["baseline_id"].as_str(), c["variant_id"].as_str()) else {
            continue;
        };
        for key in ["gained", "lost"] {
            for fl in c[key].as_array().into_iter().flatten().take(FLIPS_SHOWN) {
                let (Some(task), Some(repl)) = (fl["task_id"].as_str(), fl["repl_idx"].as_u64())
                else {
                    continue;
                };
                let sa = d.slots.get(&(b.to_string(), task.to_string(), repl as u32));
                let sb = d.slots.get(&(v.to_string(), task.to_string(), repl as u32));
                if let (Some(x), Some(y)) = (sa, sb) {
                    out.push((*x, *y));
                }
            }
        }
    }
    out
}
