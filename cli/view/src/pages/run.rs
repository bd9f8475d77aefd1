//! Run: progress, the per-variant table and chart, failure classes with examples, the
//! run's settings and inputs digest, the journal's integrity, and time travel: with
//! `?at=N` every projection is the fold of events `0..=N` (the fold of `labj replay
//! --until N`, from the nearest snapshot), with the events around N and what
//! `labj continue` would do from there.

use super::{class_span, ms};
use crate::html::{a, esc, num, pct, pre, table, Page};
use crate::site::{RunCtx, Site, ViewError};
use journal::projection::RunStatus;
use journal::Projections;
use read::report::{failure_classes_materialized, runs, stats};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How many events before and after the time-travel point are listed.
const AROUND: u64 = 6;

pub(crate) fn parse_at(q: &BTreeMap<String, String>, len: u64) -> Result<Option<u64>, ViewError> {
    match q.get("at").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let n: u64 = s.parse().map_err(|_| {
                ViewError::BadRequest(format!("at=`{s}` is not an event index (0, 1, 2, …)"))
            })?;
            if len == 0 {
                return Err(ViewError::BadRequest("the journal holds no event".into()));
            }
            Ok(Some(n.min(len - 1)))
        }
    }
}

/// What the pages show of `run_created` (event 0), its schedule left undecoded.
pub(crate) fn run_created(run: &RunCtx) -> Result<Option<journal::RunCreatedSummary>, ViewError> {
    Ok(run.journal.run_created_summary()?)
}

pub(crate) fn variants_table(p: &Projections) -> String {
    let ids = p
        .run
        .as_ref()
        .map(|r| r.variant_ids.clone())
        .unwrap_or_default();
    let mut metric_names: Vec<&String> = p
        .aggregates
        .variants
        .values()
        .flat_map(|a| a.metric_counts.keys())
        .collect();
    metric_names.sort();
    metric_names.dedup();
    let mut head = vec![
        "variant",
        "committed",
        "scored",
        "succeeded",
        "success rate",
        "95% interval",
        "infra",
        "re-run",
        "cancelled",
        "pruned",
    ];
    let metric_heads: Vec<String> = metric_names.iter().map(|m| format!("mean {m}")).collect();
    head.extend(metric_heads.iter().map(String::as_str));
    let mut rows = Vec::new();
    let mut svg = String::new();
    let bar_w = 240.0;
    for (i, v) in ids.iter().enumerate() {
        let Some(ag) = p.aggregates.variants.get(v) else {
            continue;
        };
        let scored = ag
            .committed
            .saturating_sub(ag.infra + ag.cancelled + ag.skipped_pruned);
        let rate = (scored > 0).then(|| ag.succeeded as f64 / scored as f64);
        let ci = stats::wilson(ag.succeeded, scored, stats::Z_95);
        let mut row = vec![
            format!(
                "{}{}",
                esc(v),
                if i == 0 {
                    " <span class=\"pill\">baseline</span>"
                } else {
                    ""
                }
            ),
            ag.committed.to_string(),
            scored.to_string(),
            ag.succeeded.to_string(),
            pct(rate),
            ci.map(|c| format!("{} – {}", pct(Some(c.low)), pct(Some(c.high))))
                .unwrap_or_else(|| "–".into()),
            ag.infra.to_string(),
            ag.infra_retried.to_string(),
            ag.cancelled.to_string(),
            ag.skipped_pruned.to_string(),
        ];
        for m in &metric_names {
            let n = ag.metric_counts.get(*m).copied().unwrap_or(0);
            let s = ag.metric_sums.get(*m).copied().unwrap_or(0.0);
            row.push(if n > 0 {
                format!(
                    "{} <span class=\"muted\">(n={n})</span>",
                    num(Some(s / n as f64))
                )
            } else {
                "–".into()
            });
        }
        rows.push(row);
        let y = 8 + i * 26;
        let r = rate.unwrap_or(0.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"140\" y=\"{}\" width=\"{:.1}\" height=\"14\" fill=\"#059669\"/>",
            y + 12,
            esc(v),
            y + 1,
            r * bar_w
        );
        if let Some(c) = ci {
            let _ = write!(
                svg,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#1d2330\" stroke-width=\"2\"/>",
                140.0 + c.low * bar_w,
                140.0 + c.high * bar_w,
                y + 8,
                y + 8
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            146.0 + bar_w,
            y + 12,
            pct(rate)
        );
    }
    format!(
        "{}<p class=\"muted\">scored = committed − infrastructure faults − cancelled − pruned; intervals are Wilson 95% score intervals; metric means over the trials that report them.</p>\
         <svg id=\"rate-chart\" width=\"460\" height=\"{}\" role=\"img\" aria-label=\"success rate per variant\">{svg}</svg>",
        table("variants", &head, &rows),
        10 + ids.len() * 26
    )
}

pub(crate) fn page(
    site: &Site,
    run: &RunCtx,
    q: &BTreeMap<String, String>,
) -> Result<Page, ViewError> {
    let _ = site;
    let len = run.journal.len();
    let at = parse_at(q, len)?;
    let fold = run.journal.fold_from_snapshot(at)?;
    let p = &fold.projections;
    let holder = at.is_none() && runs::holder_alive(&run.journal);
    let status = match at {
        None => runs::effective_status(p.control.status, holder).to_string(),
        Some(_) => p.control.status.as_str().to_string(),
    };
    // A run that may still move polls: driven now, or not ended (a session may be
    // starting, or a crashed run may be continued).
    let live = at.is_none()
        && !run.links.export
        && (holder
            || matches!(
                p.control.status,
                RunStatus::Running | RunStatus::Paused | RunStatus::Interrupted
            ));
    let info = p.run.as_ref();
    let links = &run.links;
    let settings = run_created(run)?;
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Run <span id=\"run-id\">{}</span></h1><p>experiment <b>{}</b> · status {} · <span id=\"events\">{}</span> events{}</p>",
        esc(info.map(|r| r.run_id.as_str()).unwrap_or(&run.id)),
        esc(info.map(|r| r.experiment_id.as_str()).unwrap_or("?")),
        class_span(&status),
        p.events_applied,
        if holder { " · <span class=\"warn\">live</span>" } else { "" }
    );
    let trials_q = at.map(|n| format!("at={n}")).unwrap_or_default();
    let _ = write!(
        b,
        "<p>{} · {}{}</p>",
        a(&links.trials(&trials_q, 0), "trials"),
        a(&links.report(), "report (statistics, flipped pairs)"),
        links
            .inspect()
            .map(|h| format!(
                " · {}",
                a(&h, "inspect (chain check, what continue would do)")
            ))
            .unwrap_or_default()
    );
    // Time travel.
    if !links.export && len > 0 {
        let shown = at.unwrap_or(len - 1);
        let _ = write!(
            b,
            "<h2>Time travel</h2><p>{} event <b id=\"ttv\">{shown}</b> of {} {}</p>\
             <input type=\"range\" id=\"tt\" min=\"0\" max=\"{}\" value=\"{shown}\" aria-label=\"journal event index\">\
             <p>{} {} {} {} {}</p>",
            if at.is_some() {
                "<span class=\"warn\" id=\"as-of\">As it was after</span>"
            } else {
                "Now, after"
            },
            len - 1,
            if at.is_some() {
                format!("({})", a(&links.run(None), "back to now"))
            } else {
                String::new()
            },
            len - 1,
            a(&links.run(Some(0)), "⇤ first"),
            a(&links.run(Some(shown.saturating_sub(10))), "−10"),
            a(&links.run(Some(shown.saturating_sub(1))), "−1"),
            a(&links.run(Some((shown + 1).min(len - 1))), "+1"),
            a(&links.run(Some((shown + 10).min(len - 1))), "+10"),
        );
        let mut lines = Vec::new();
        run.journal.for_each_event(
            shown.saturating_sub(AROUND),
            Some((shown + AROUND).min(len - 1)),
            false,
            |e| {
                let mark = if e.idx == shown { "▶" } else { " " };
                lines.push(format!("{mark}{}", read::inspect::event_line(&e)));
                Ok(())
            },
        )?;
        b.push_str(&pre("events-around", &lines.join("\n")));
        if at.is_some() {
            let created = settings.as_ref();
            let infra = created
                .as_ref()
                .map(|c| engine::coordinator::InfraRetry::from_resolved_experiment(&c.experiment))
                .unwrap_or_default();
            let plan = engine::run::recovery_plan(p, infra);
            let mut s = format!(
                "<p id=\"continue-plan\">If the run had stopped here, <code>labj continue</code> would resume at slot {}",
                plan.next_commit_idx
            );
            if plan.worker_lost.is_empty() {
                s.push_str(" with no trial in flight.</p>");
            } else {
                s.push_str(" and first settle the trials in flight:</p><ul>");
                for w in &plan.worker_lost {
                    let _ = write!(
                        s,
                        "<li>{} ({}) → {}</li>",
                        a(&links.trial(w.schedule_idx), &w.trial_id),
                        esc(&w.worker_id),
                        if w.retry {
                            "worker_lost, dispatched again"
                        } else {
                            "committed as worker_lost (infra-retry budget spent)"
                        }
                    );
                }
                s.push_str("</ul>");
            }
            b.push_str(&s);
        }
    }
    // Progress.
    let pr = &p.progress;
    let by: Vec<String> = pr
        .by_status
        .iter()
        .map(|(k, v)| format!("{} {v}", esc(k.as_str())))
        .collect();
    let _ = write!(
        b,
        "<h2>Progress</h2><p id=\"progress\"><b id=\"committed\">{}</b> of {} slots committed{}; {} in flight{}</p>",
        pr.next_commit_idx,
        pr.total_slots,
        if by.is_empty() {
            String::new()
        } else {
            format!(" ({})", by.join(", "))
        },
        p.control.active_trials.len(),
        p.control
            .pause
            .as_ref()
            .map(|pz| format!(
                " · <span class=\"warn\" id=\"paused\">paused</span> by {} at {}{}",
                esc(&pz.requested_by),
                esc(&pz.requested_at),
                pz.label
                    .as_deref()
                    .map(|l| format!(" ({})", esc(l)))
                    .unwrap_or_default()
            ))
            .unwrap_or_default()
    );
    if !p.control.active_trials.is_empty() {
        let rows: Vec<Vec<String>> = p
            .control
            .active_trials
            .values()
            .map(|t| {
                vec![
                    a(&links.trial(t.schedule_idx), &t.trial_id),
                    esc(&t.variant_id),
                    esc(&t.task_id),
                    esc(&t.worker_id),
                    esc(&t.started_at),
                    esc(&format!("{:?}", t.control.state).to_lowercase()),
                ]
            })
            .collect();
        b.push_str(&table(
            "active",
            &["trial", "variant", "task", "worker", "started", "state"],
            &rows,
        ));
    }
    b.push_str("<h2>Variants</h2>");
    b.push_str(&variants_table(p));
    // Failure classes, cut where the fold is.
    let failures = failure_classes_materialized(&run.dir, &run.journal, pr.next_commit_idx)?;
    b.push_str("<h2>Why trials did not succeed</h2>");
    if failures.is_empty() {
        b.push_str("<p>No committed trial failed.</p>");
    } else {
        let rows: Vec<Vec<String>> = failures
            .iter()
            .map(|f| {
                let slot = f
                    .example
                    .trial_id
                    .strip_prefix("trial_")
                    .and_then(|d| d.parse::<u64>().ok());
                vec![
                    format!(
                        "{}{}{}",
                        class_span(&f.classification),
                        f.reason
                            .as_deref()
                            .map(|r| format!(" ({})", esc(r)))
                            .unwrap_or_default(),
                        if f.infra {
                            " <span class=\"pill\">infra</span>"
                        } else {
                            ""
                        }
                    ),
                    f.count.to_string(),
                    match slot {
                        Some(s) => a(&links.trial(s), &f.example.trial_id),
                        None => esc(&f.example.trial_id),
                    },
                    format!(
                        "{}{}",
                        esc(f.example.detail.as_deref().unwrap_or("")),
                        if f.example.stderr_tail.is_empty() {
                            String::new()
                        } else {
                            format!("<pre>{}</pre>", esc(&f.example.stderr_tail.join("\n")))
                        }
                    ),
                ]
            })
            .collect();
        b.push_str(&table(
            "failures",
            &["class", "trials", "example", "what happened"],
            &rows,
        ));
    }
    // Settings and inputs.
    if let Some(c) = &settings {
        b.push_str("<h2>Settings</h2>");
        let exp = &c.experiment;
        let mut rows = Vec::new();
        let mut add = |v: &serde_json::Value, baseline: bool| {
            let id = v.get("variant_id").and_then(|x| x.as_str()).unwrap_or("?");
            let pretty = |x: Option<&serde_json::Value>| {
                x.map(|x| {
                    format!(
                        "<pre>{}</pre>",
                        esc(&serde_json::to_string_pretty(x).unwrap_or_default())
                    )
                })
                .unwrap_or_else(|| "–".into())
            };
            rows.push(vec![
                format!("{}{}", esc(id), if baseline { " (baseline)" } else { "" }),
                pretty(v.get("bindings")),
                pretty(v.get("runtime")),
            ]);
        };
        if let Some(bl) = exp.get("baseline") {
            add(bl, true);
        }
        for v in exp
            .get("variant_plan")
            .or_else(|| exp.get("variants"))
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            add(v, false);
        }
        b.push_str(&table(
            "settings",
            &["variant", "bindings", "runtime overrides"],
            &rows,
        ));
        let section = |name: &str, v: Option<&serde_json::Value>| {
            v.map(|v| {
                format!(
                    "<details><summary>{}</summary><pre>{}</pre></details>",
                    esc(name),
                    esc(&serde_json::to_string_pretty(v).unwrap_or_default())
                )
            })
            .unwrap_or_default()
        };
        b.push_str(&section(
            "runtime (agent, image, policy)",
            exp.get("runtime"),
        ));
        b.push_str(&section("design and policies", exp.get("design")));
        b.push_str(&section("benchmark (grader)", exp.get("benchmark")));
        let _ = write!(
            b,
            "<p>experiment digest <code>{}</code> · schedule {} ({} slots) · max concurrency {}</p>",
            esc(&c.experiment_digest),
            esc(&c.schedule_policy),
            c.slots,
            c.max_concurrency
        );
        b.push_str(&section(
            "inputs digests (continue refuses a change)",
            c.inputs.as_ref(),
        ));
    }
    // Integrity.
    let head = run.journal.check_head()?;
    let snaps = run.journal.snapshots()?;
    let _ = write!(
        b,
        "<h2>Integrity</h2><ul id=\"integrity\"><li>{}</li><li>{} projection snapshot(s){}; this page folded {}</li>\
         <li>hash chain and blobs: {}</li></ul>",
        esc(&head.describe()),
        snaps.len(),
        snaps
            .last()
            .map(|s| format!(", newest at event {}", s.idx))
            .unwrap_or_default(),
        match fold.from_snapshot {
            Some(s) => format!("from the snapshot at event {s}"),
            None => "from event 0".into(),
        },
        match links.inspect() {
            Some(h) => format!(
                "{} (reads every event), or <code>labj verify</code> (also re-hashes every blob)",
                a(&h, "check now")
            ),
            None => "checked by <code>labj verify</code> when this export was written".into(),
        }
    );
    if at.is_none() && status == "crashed" {
        b.push_str("<p class=\"bad\">No process drives this run: see inspect for what <code>labj continue</code> would do, or travel back in time above.</p>");
    }
    let mut crumbs = vec![];
    if !links.export {
        crumbs.push(("runs".to_string(), links.runs()));
    }
    crumbs.push((run.id.clone(), links.run(None)));
    Ok(Page {
        title: format!("run {}", run.id),
        crumbs,
        body: b,
        live,
    })
}

/// `labj inspect` as a page: liveness, the chain check, stale trials, failure counts and
/// what `continue` would do.
pub(crate) fn inspect_page(run: &RunCtx) -> Result<Page, ViewError> {
    let t = std::time::Instant::now();
    let i = read::inspect::inspect(&run.dir, 20)?;
    let links = &run.links;
    let mut b = format!(
        "<h1>Inspect {}</h1><p>journaled status {} · {}</p>",
        esc(&i.run_id),
        class_span(&i.journaled_status),
        esc(&i.liveness)
    );
    let _ = write!(
        b,
        "<h2>Chain</h2><p id=\"chain\">{} events, head hash <code>{}</code>; {}; {}</p>",
        i.verify.events,
        esc(&i.verify.head_hash),
        esc(&i.verify.head_record),
        if i.verify.faults.is_empty() {
            "<span class=\"ok\">hash chain intact</span>".to_string()
        } else {
            format!(
                "<span class=\"bad\">{}</span>",
                esc(&i.verify.faults.join("; "))
            )
        }
    );
    if !i.stale.is_empty() {
        let rows: Vec<Vec<String>> = i
            .stale
            .iter()
            .map(|s| {
                vec![
                    a(&links.trial(s.schedule_idx), &s.trial_id),
                    esc(&s.variant_id),
                    esc(&s.worker_id),
                    esc(&s.started_at),
                    esc(&s.running_for),
                ]
            })
            .collect();
        b.push_str("<h2>Trials left active</h2>");
        b.push_str(&table(
            "stale",
            &["trial", "variant", "worker", "started", "for"],
            &rows,
        ));
    }
    if let Some(plan) = &i.plan {
        let _ = write!(
            b,
            "<h2>What continue would do</h2><p id=\"plan\">resume at slot {}; {} trial(s) become worker_lost ({} re-run)</p>",
            plan.next_commit_idx,
            plan.worker_lost.len(),
            plan.worker_lost.iter().filter(|w| w.retry).count()
        );
    }
    let lines: Vec<String> = i
        .last_events
        .iter()
        .map(read::inspect::event_line)
        .collect();
    b.push_str("<h2>Last events</h2>");
    b.push_str(&pre("last-events", &lines.join("\n")));
    let _ = write!(
        b,
        "<p class=\"muted\">{} of {} slots committed · checked in {}</p>",
        i.projections.progress.next_commit_idx,
        i.total_slots,
        ms(t.elapsed().as_millis() as u64)
    );
    Ok(Page {
        title: format!("inspect {}", run.id),
        crumbs: vec![
            ("runs".into(), links.runs()),
            (run.id.clone(), links.run(None)),
            ("inspect".into(), links.inspect().unwrap_or_default()),
        ],
        body: b,
        live: false,
    })
}
