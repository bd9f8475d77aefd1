//! Trials: committed trials in a table filtered, sorted and paged in SQL (the
//! journal's `fact_trials_page`), with every metric the agent reported and each
//! trial's duration (its completion read by slot). `?at=N` shows the trials committed
//! after event N only.

use super::{class_span, ms};
use crate::html::{a, enc, esc, num, table, Page};
use crate::site::{RunCtx, ViewError};
use journal::event::{Classification, Event};
use journal::{TrialQuery, TrialSort};
use read::outcome::{OutcomeFilter, OUTCOME_WORDS};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

pub(crate) const PAGE_ROWS: u64 = 50;
/// How many of the first slots are read for the metric column names.
const METRIC_NAME_SCAN: u64 = 5_000;

/// The `fact_trials.classification` values an outcome filter means (as `labj trials
/// --outcome`): `succeeded`, `failed` (scored, not succeeded), `infra`, `skipped`,
/// `cancelled`, or one classification.
pub(crate) fn outcome_classes(outcome: &str) -> Result<Vec<String>, ViewError> {
    let f = OutcomeFilter::parse(outcome).map_err(ViewError::BadRequest)?;
    let mut names: Vec<String> = Classification::ALL
        .iter()
        .filter(|c| f.admits(Some(**c)))
        .map(|c| c.as_str().to_string())
        .collect();
    if f.admits(None) {
        // A skipped slot's row in fact_trials.
        names.push("none".into());
    }
    Ok(names)
}

fn sort_of(s: &str) -> Result<TrialSort, ViewError> {
    Ok(match s {
        "" | "slot" => TrialSort::Slot,
        "variant" => TrialSort::Variant,
        "task" => TrialSort::Task,
        "repl" => TrialSort::Replication,
        "classification" => TrialSort::Classification,
        "outcome" => TrialSort::Outcome,
        "metric" => TrialSort::PrimaryMetric,
        "attempts" => TrialSort::Attempts,
        m if m.starts_with("m:") => TrialSort::Metric(m[2..].to_string()),
        other => {
            return Err(ViewError::BadRequest(format!(
                "sort `{other}` is not one of slot, variant, task, repl, classification, outcome, metric, attempts, m:<metric name>"
            )))
        }
    })
}

/// The query string of a trials page without its page number, plus `page=`.
fn query_of(q: &BTreeMap<String, String>, overrides: &[(&str, String)]) -> String {
    let mut m = q.clone();
    m.remove("fragment");
    for (k, v) in overrides {
        if v.is_empty() {
            m.remove(*k);
        } else {
            m.insert(k.to_string(), v.clone());
        }
    }
    m.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn page(run: &RunCtx, q: &BTreeMap<String, String>) -> Result<Page, ViewError> {
    let len = run.journal.len();
    let at = super::run::parse_at(q, len)?;
    let committed_before = match at {
        Some(n) => {
            run.journal
                .fold_from_snapshot(Some(n))?
                .projections
                .progress
                .next_commit_idx
        }
        None => u64::MAX,
    };
    let get = |k: &str| {
        q.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let page_no: u64 = match get("page") {
        None => 0,
        Some(p) => {
            p.parse::<u64>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                ViewError::BadRequest(format!("page=`{p}` is not a page number (1, 2, …)"))
            })? - 1
        }
    };
    let query = TrialQuery {
        committed_before,
        variant: get("variant"),
        task: get("task"),
        classifications: get("outcome").map(|o| outcome_classes(&o)).transpose()?,
        sort: sort_of(&get("sort").unwrap_or_default())?,
        descending: get("desc").is_some_and(|d| d == "1"),
        offset: page_no * PAGE_ROWS,
        limit: PAGE_ROWS,
    };
    let t = std::time::Instant::now();
    let result = run.journal.fact_trials_page(&query)?;
    let slots: Vec<u64> = result.rows.iter().map(|r| r.schedule_idx).collect();
    let mut metrics: HashMap<u64, BTreeMap<String, f64>> = HashMap::new();
    for (s, n, v) in run.journal.fact_metrics_of(&slots)? {
        metrics.entry(s).or_default().insert(n, v);
    }
    // The metric columns: the names the first trials report, and any the page's rows add.
    let mut metric_names = run
        .journal
        .fact_metric_names(committed_before, METRIC_NAME_SCAN)?;
    for m in metrics.values() {
        for k in m.keys() {
            if !metric_names.contains(k) {
                metric_names.push(k.clone());
            }
        }
    }
    let mut durations: HashMap<u64, u64> = HashMap::new();
    for &s in &slots {
        for e in run.journal.completion_events(s)? {
            if let Event::TrialCompleted(c) = e.event {
                durations.insert(s, c.duration_ms);
            }
        }
    }
    let links = &run.links;
    let variants: Vec<String> = super::run::run_created(run)?
        .map(|c| c.variant_ids)
        .unwrap_or_default();
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Trials</h1>{}",
        match at {
            Some(n) => format!(
                "<p class=\"warn\" id=\"as-of\">As the run was after event {n}: {} slot(s) committed then. {}</p>",
                committed_before,
                a(&links.trials(&query_of(q, &[("at", String::new()), ("page", String::new())]), 0), "now")
            ),
            None => String::new(),
        }
    );
    if !links.export {
        let sel = |name: &str, cur: Option<&String>, opts: &[String]| {
            let mut s = format!(
                "<select name=\"{}\"><option value=\"\">any {}</option>",
                esc(name),
                esc(name)
            );
            for o in opts {
                let _ = write!(
                    s,
                    "<option value=\"{}\"{}>{}</option>",
                    esc(o),
                    if cur == Some(o) { " selected" } else { "" },
                    esc(o)
                );
            }
            s.push_str("</select>");
            s
        };
        let mut outcomes: Vec<String> = OUTCOME_WORDS.iter().map(|s| s.to_string()).collect();
        outcomes.extend(Classification::ALL.iter().map(|c| c.as_str().to_string()));
        let mut sorts: Vec<String> = [
            "slot",
            "variant",
            "task",
            "repl",
            "classification",
            "outcome",
            "metric",
            "attempts",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        sorts.extend(metric_names.iter().map(|m| format!("m:{m}")));
        let _ = write!(
            b,
            "<form class=\"filter\" id=\"filter\" method=\"get\">{}{}<input name=\"task\" placeholder=\"task id\" value=\"{}\">{}\
             <label><input type=\"checkbox\" name=\"desc\" value=\"1\"{}> descending</label>{}<button type=\"submit\">show</button></form>",
            sel("variant", q.get("variant"), &variants),
            sel("outcome", q.get("outcome"), &outcomes),
            esc(q.get("task").map(String::as_str).unwrap_or("")),
            sel("sort", q.get("sort"), &sorts),
            if query.descending { " checked" } else { "" },
            at.map(|n| format!("<input type=\"hidden\" name=\"at\" value=\"{n}\">"))
                .unwrap_or_default(),
        );
    }
    let first = query.offset + 1;
    let last = query.offset + result.rows.len() as u64;
    let _ = write!(
        b,
        "<p id=\"count\"><b id=\"matching\">{}</b> trial(s) match{}</p>",
        result.matching,
        if result.rows.is_empty() {
            String::new()
        } else {
            format!("; rows {first}–{last}")
        }
    );
    let mut head: Vec<String> = [
        "trial",
        "variant",
        "task",
        "repl",
        "status",
        "classification",
        "outcome",
        "primary metric",
        "attempts",
        "duration",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    head.extend(metric_names.iter().cloned());
    let rows: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![
                a(&links.trial(r.schedule_idx), &r.trial_id),
                esc(&r.variant_id),
                esc(&r.task_id),
                r.repl_idx.to_string(),
                esc(r.status.as_str()),
                class_span(
                    r.classification
                        .map(|c| c.as_str())
                        .unwrap_or("skipped_pruned"),
                ),
                esc(r.outcome.as_deref().unwrap_or("–")),
                num(r.primary_metric),
                r.attempts.to_string(),
                durations
                    .get(&r.schedule_idx)
                    .map(|d| ms(*d))
                    .unwrap_or_else(|| "–".into()),
            ];
            let m = metrics.get(&r.schedule_idx);
            for name in &metric_names {
                row.push(num(m.and_then(|m| m.get(name)).copied()));
            }
            row
        })
        .collect();
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    b.push_str(&table("trials", &head_refs, &rows));
    let pages = result.matching.div_ceil(PAGE_ROWS).max(1);
    let mut nav = format!("page {} of {pages}", page_no + 1);
    if page_no > 0 {
        let _ = write!(
            nav,
            " · {}",
            a(
                &links.trials(&query_of(q, &[("page", page_no.to_string())]), page_no - 1),
                "← previous"
            )
        );
    }
    if page_no + 1 < pages {
        let _ = write!(
            nav,
            " · {}",
            a(
                &links.trials(
                    &query_of(q, &[("page", (page_no + 2).to_string())]),
                    page_no + 1
                ),
                "next →"
            )
        );
    }
    let _ = write!(
        b,
        "<p id=\"pager\">{nav} <span class=\"muted\">({} ms)</span></p>",
        t.elapsed().as_millis()
    );
    let mut crumbs = vec![];
    if !links.export {
        crumbs.push(("runs".to_string(), links.runs()));
    }
    crumbs.push((run.id.clone(), links.run(at)));
    crumbs.push(("trials".into(), links.trials("", 0)));
    Ok(Page {
        title: format!("trials of {}", run.id),
        crumbs,
        body: b,
        live: at.is_none() && !links.export && read::report::runs::holder_alive(&run.journal),
    })
}

/// The page of every trial for an export: unfiltered, `page` from 0.
pub(crate) fn export_page(run: &RunCtx, page: u64) -> Result<(Page, u64), ViewError> {
    let mut q = BTreeMap::new();
    q.insert("page".to_string(), (page + 1).to_string());
    let p = self::page(run, &q)?;
    let total = run
        .journal
        .fact_trials_page(&TrialQuery {
            committed_before: u64::MAX,
            limit: 0,
            ..Default::default()
        })?
        .matching;
    Ok((p, total.div_ceil(PAGE_ROWS).max(1)))
}
