//! Report: the statistics of `labj report` (per-variant success rates with Wilson
//! intervals, metric means with bootstrap intervals, paired comparisons with the
//! baseline, flipped pairs linking to the compare page). It folds every event, so it is
//! computed off the request path and cached per journal length; the page says so while
//! it computes, and a live page picks it up.

use crate::html::{a, esc, num, pct, table, Page};
use crate::site::{ReportView, RunCtx, Site, ViewError};
use read::report::stats::Interval;
use std::fmt::Write;

/// At most this many flipped pairs are listed per direction.
const FLIPS_SHOWN: usize = 200;

fn ci(i: &Option<Interval>, as_pct: bool) -> String {
    match i {
        Some(i) if as_pct => format!("{} – {}", pct(Some(i.low)), pct(Some(i.high))),
        Some(i) => format!("{} – {}", num(Some(i.low)), num(Some(i.high))),
        None => "–".into(),
    }
}

pub fn page(site: &Site, run: &RunCtx) -> Result<Page, ViewError> {
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
                    "<h1>Report</h1><p id=\"computing\">Computing the report (a fold of all {} events), {secs:.1} s so far; this page updates by itself.</p>",
                    run.journal.len()
                ),
                live: true,
            })
        }
        ReportView::Failed(e) => return Err(ViewError::Other(e)),
    };
    let r = &data.report;
    let mut b = format!(
        "<h1>Report</h1><p>{} · status {} · {} of {} slots committed · primary metric {} · computed in {} ms over {} events</p>",
        esc(&r.experiment_id),
        esc(&r.status),
        r.committed,
        r.total_slots,
        esc(r.primary_metric.as_deref().unwrap_or("none")),
        data.took_ms,
        data.events
    );
    let rows: Vec<Vec<String>> = r
        .variants
        .iter()
        .map(|v| {
            vec![
                format!(
                    "{}{}",
                    esc(&v.variant_id),
                    if v.is_baseline { " (baseline)" } else { "" }
                ),
                v.scored.to_string(),
                v.succeeded.to_string(),
                pct(v.success_rate),
                ci(&v.success_ci95, true),
                v.metric
                    .as_ref()
                    .map(|m| format!("{} {} (n={})", esc(&m.name), num(Some(m.mean)), m.n))
                    .unwrap_or_else(|| "–".into()),
                v.metric
                    .as_ref()
                    .map(|m| ci(&m.ci95, false))
                    .unwrap_or_else(|| "–".into()),
                v.infra_lost.to_string(),
                v.cancelled.to_string(),
                v.skipped_pruned.to_string(),
            ]
        })
        .collect();
    b.push_str("<h2>Variants</h2>");
    b.push_str(&table(
        "report-variants",
        &[
            "variant",
            "scored",
            "succeeded",
            "rate",
            "95% (Wilson)",
            "metric mean",
            "95% (bootstrap)",
            "infra",
            "cancelled",
            "pruned",
        ],
        &rows,
    ));
    for c in &r.comparisons {
        let _ = write!(
            b,
            "<h2>{} vs {}</h2><p>{} pairs ({} excluded): both succeeded {}, both failed {}, only baseline {}, only variant {}; McNemar exact p = {:.4}; metric difference {} ({})</p>",
            esc(&c.variant_id),
            esc(&c.baseline_id),
            c.pairs,
            c.excluded_pairs,
            c.both_succeeded,
            c.both_failed,
            c.baseline_only,
            c.variant_only,
            c.mcnemar_p,
            num(c.metric_diff),
            ci(&c.metric_diff_ci95, false)
        );
        for (label, flips, id) in [
            (
                "gained (baseline failed, variant succeeded)",
                &c.gained,
                "gained",
            ),
            ("lost (baseline succeeded, variant failed)", &c.lost, "lost"),
        ] {
            if flips.is_empty() {
                continue;
            }
            let mut items = String::new();
            for f in flips.iter().take(FLIPS_SHOWN) {
                let sa = data
                    .slots
                    .get(&(c.baseline_id.clone(), f.task_id.clone(), f.repl_idx));
                let sb = data
                    .slots
                    .get(&(c.variant_id.clone(), f.task_id.clone(), f.repl_idx));
                let text = format!("{} · repl {}", f.task_id, f.repl_idx);
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
                "<h3>{} {label}</h3><ul class=\"flips\" id=\"{}-{id}\">{items}</ul>{}",
                flips.len(),
                esc(&c.variant_id),
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
pub fn flipped_slots(site: &Site, run: &RunCtx) -> Vec<(u64, u64)> {
    let ReportView::Ready(d) = site.report(run, true) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in &d.report.comparisons {
        for f in c.gained.iter().chain(&c.lost).take(2 * FLIPS_SHOWN) {
            let sa = d
                .slots
                .get(&(c.baseline_id.clone(), f.task_id.clone(), f.repl_idx));
            let sb = d
                .slots
                .get(&(c.variant_id.clone(), f.task_id.clone(), f.repl_idx));
            if let (Some(x), Some(y)) = (sa, sb) {
                out.push((*x, *y));
            }
        }
    }
    out
}
