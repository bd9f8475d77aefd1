//! Human and JSON rendering of projections and reports.

use engine::run::RunOutcome;
use journal::Projections;
use read::inspect::{event_json, event_line, Inspection, VerifyReport};
use read::report::FailureClass;
use serde_json::json;

/// Text that came from an agent or its machinery (error messages, stderr tails, refusal
/// reasons, warnings) as it is shown on a terminal: control characters (ESC, BEL, NUL,
/// CR, …) and bidi or zero-width marks are escaped as `\u{..}`, so nothing an agent
/// printed can clear the screen, move the cursor, retitle the window or reorder a line.
/// Every human-readable rendering of such a string goes through this one function.
pub fn shown(s: &str) -> String {
    model::experiment::limits::escape_id(s)
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", 100.0 * x))
        .unwrap_or_else(|| "-".into())
}

/// A metric value as a table cell: three decimals, or scientific notation when that
/// would print a huge or all-zero number (`1e308` is 1.000e308, not 309 digits).
pub fn metric(x: f64) -> String {
    if x.is_finite() && (x.abs() >= 1e9 || (x != 0.0 && x.abs() < 1e-3)) {
        format!("{x:.3e}")
    } else {
        format!("{x:.3}")
    }
}

fn num(v: Option<f64>) -> String {
    v.map(metric).unwrap_or_else(|| "-".into())
}

/// One row of the aggregates table, the same in text and JSON (`summary` in `--json`):
/// `unsuccessful` is scored minus succeeded (graded failures and the agent's errors).
fn table_rows(proj: &Projections) -> Vec<(String, &journal::projection::Aggregate)> {
    let order: Vec<String> = proj
        .run
        .as_ref()
        .map(|r| r.variant_ids.clone())
        .unwrap_or_default();
    // Baseline first, then the experiment's order; variants not in run_created last.
    let mut rows: Vec<(String, &journal::projection::Aggregate)> = order
        .iter()
        .filter_map(|v| proj.aggregates.variants.get(v).map(|a| (v.clone(), a)))
        .collect();
    for (k, a) in &proj.aggregates.variants {
        if !order.contains(k) {
            rows.push((k.clone(), a));
        }
    }
    rows.push(("(overall)".into(), &proj.aggregates.overall));
    rows
}

/// The aggregates table as JSON rows, baseline first (what the text table shows).
pub fn summary_json(proj: &Projections) -> serde_json::Value {
    let pm = proj.run.as_ref().and_then(|r| r.primary_metric.clone());
    let baseline = proj
        .run
        .as_ref()
        .and_then(|r| r.variant_ids.first().cloned());
    serde_json::Value::Array(
        table_rows(proj)
            .into_iter()
            .map(|(name, a)| {
                json!({
                    "variant": name,
                    "baseline": Some(&name) == baseline.as_ref(),
                    "committed": a.committed,
                    "scored": a.scored(),
                    "succeeded": a.succeeded,
                    "unsuccessful": a.unsuccessful(),
                    "skipped_pruned": a.skipped_pruned,
                    "infra": a.infra,
                    "cancelled": a.cancelled,
                    "infra_retried": a.infra_retried,
                    "success_rate": a.success_rate(),
                    "primary_metric": pm,
                    "primary_metric_mean": pm.as_deref().and_then(|m| a.mean(m)),
                })
            })
            .collect(),
    )
}

fn aggregates_table(proj: &Projections) {
    let pm = proj.run.as_ref().and_then(|r| r.primary_metric.clone());
    let baseline = proj
        .run
        .as_ref()
        .and_then(|r| r.variant_ids.first().cloned());
    // `scored` = committed − skipped − infra − cancelled (the success denominator);
    // `unsuccessful` = scored − succeeded; `infra`: slots committed with an infrastructure
    // fault and `cancelled`: slots an operator cancelled, both outside every rate and
    // mean; `re-run`: lost attempts dispatched again.
    println!(
        "  {:<20} {:>9} {:>6} {:>9} {:>12} {:>7} {:>6} {:>9} {:>6} {:>8}  {}",
        "variant",
        "committed",
        "scored",
        "succeeded",
        "unsuccessful",
        "skipped",
        "infra",
        "cancelled",
        "re-run",
        "success",
        pm.as_deref()
            .map(|m| format!("mean {m}"))
            .unwrap_or_default()
    );
    for (name, a) in table_rows(proj) {
        let label = if Some(&name) == baseline.as_ref() {
            format!("{name} (baseline)")
        } else {
            name
        };
        println!(
            "  {:<20} {:>9} {:>6} {:>9} {:>12} {:>7} {:>6} {:>9} {:>6} {:>8}  {}",
            label,
            a.committed,
            a.scored(),
            a.succeeded,
            a.unsuccessful(),
            a.skipped_pruned,
            a.infra,
            a.cancelled,
            a.infra_retried,
            pct(a.success_rate()),
            pm.as_deref().map(|m| num(a.mean(m))).unwrap_or_default()
        );
    }
}

/// `agent_exit_nonzero (exit code 3)`, `timeout`.
pub fn class_label(f: &FailureClass) -> String {
    match &f.reason {
        Some(r) => format!("{} ({})", f.classification, shown(r)),
        None => f.classification.clone(),
    }
}

/// Why trials did not succeed: the largest classes first, one example each.
pub fn failures(classes: &[FailureClass], top: usize) {
    if classes.is_empty() {
        return;
    }
    println!("why trials did not succeed (largest classes first, one example each):");
    for f in classes.iter().take(top) {
        let e = &f.example;
        println!(
            "  {:<36} {:>5}{}  e.g. {} (variant {}, task {}, repl {}{})",
            class_label(f),
            f.count,
            if f.infra { " infra, not scored" } else { "" },
            e.trial_id,
            e.variant_id,
            e.task_id,
            e.repl_idx,
            if e.attempt > 0 {
                format!(", attempt {}", e.attempt)
            } else {
                String::new()
            }
        );
        let mut what = Vec::new();
        if let Some(code) = e.exit_code.filter(|c| *c != 0) {
            what.push(format!("exit code {code}"));
        }
        if let Some(d) = &e.detail {
            what.push(shown(d));
        }
        if !what.is_empty() {
            println!("      {}", what.join("; "));
        }
        for l in &e.stderr_tail {
            println!("      stderr | {}", shown(l));
        }
    }
    if classes.len() > top {
        let rest: u64 = classes[top..].iter().map(|f| f.count).sum();
        println!(
            "  … {} more class(es), {rest} trial(s): `labj trials <run> --outcome failed`",
            classes.len() - top
        );
    }
}

/// `status` (with the failure classes and whether a live process drives the run) and
/// `replay` (without either: the run as it was, when its trials were in flight).
pub fn projections(
    proj: &Projections,
    as_of: Option<u64>,
    classes: Option<&[FailureClass]>,
    live: Option<bool>,
    json: bool,
) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "as_of_event_idx": as_of,
                "run_control": proj.run_control_doc(),
                "schedule_progress": proj.progress_doc(),
                "aggregates": proj.aggregates_doc(),
                "summary": summary_json(proj),
                "spend": engine::budget::spend(proj),
                "failures": classes,
            }))
            .expect("json")
        );
        return;
    }
    let c = &proj.control;
    let p = &proj.progress;
    if let Some(idx) = as_of {
        println!("as of event {idx} ({})", c.updated_at);
    }
    println!(
        "run {}  status {}  max_concurrency {}",
        proj.run.as_ref().map(|r| r.run_id.as_str()).unwrap_or("?"),
        c.status.as_str(),
        c.max_concurrency
    );
    // Trials the journal still holds active after their session ended (killed, Ctrl-C,
    // crashed) run nowhere: they are left unfinished, not in flight.
    let stopped = live == Some(false) && !c.active_trials.is_empty();
    if stopped {
        println!(
            "progress: {}/{} slots committed, 0 in flight, {} left unfinished by the session that stopped (`labj continue` re-runs them), {} completed awaiting commit",
            p.next_commit_idx,
            p.total_slots,
            c.active_trials.len(),
            proj.pending.len()
        );
    } else {
        println!(
            "progress: {}/{} slots committed, {} in flight, {} completed awaiting commit",
            p.next_commit_idx,
            p.total_slots,
            c.active_trials.len(),
            proj.pending.len()
        );
    }
    let spend = engine::budget::spend(proj);
    if spend.reports_cost || spend.reports_tokens {
        let per: Vec<String> = spend
            .per_variant
            .iter()
            .map(|(v, (cost, tokens))| {
                let mut s = v.clone();
                if spend.reports_cost {
                    s.push_str(&format!(" ${cost:.4}"));
                }
                if spend.reports_tokens {
                    s.push_str(&format!(" {tokens:.0} tokens"));
                }
                s
            })
            .collect();
        println!(
            "spent (reported by agents){} ({})",
            spend.note(),
            per.join(", ")
        );
    }
    if let Some(pause) = &c.pause {
        println!(
            "pause: request {} label {} requested at {} by {}{}",
            pause.request_id,
            pause.label.as_deref().unwrap_or("-"),
            pause.requested_at,
            pause.requested_by,
            pause
                .trial_id
                .as_deref()
                .map(|t| format!(" (trial {t})"))
                .unwrap_or_default()
        );
    }
    if !p.pruned_variants.is_empty() {
        let v: Vec<&str> = p.pruned_variants.iter().map(String::as_str).collect();
        println!("pruned variants: {}", v.join(", "));
    }
    if !c.active_trials.is_empty() {
        println!(
            "{}",
            if stopped {
                "unfinished trials (no process runs them):"
            } else {
                "active trials:"
            }
        );
        for t in c.active_trials.values() {
            let ack = t
                .control
                .last_ack
                .as_ref()
                .map(|a| {
                    format!(
                        " last ack: {}{}",
                        if a.accepted { "accepted" } else { "refused" },
                        a.reason
                            .as_deref()
                            .map(|r| format!(" ({})", shown(r)))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let state = if stopped {
                "stopped".to_string()
            } else {
                format!("{:?}", t.control.state)
            };
            println!(
                "  {} slot {} variant {} task {} on {} since {} [{state}]{ack}",
                t.trial_id, t.schedule_idx, t.variant_id, t.task_id, t.worker_id, t.started_at,
            );
        }
    }
    for w in &c.warnings {
        println!("warning: {}", shown(w));
    }
    if let Some(e) = &c.last_error {
        println!("last error: {}", shown(e));
    }
    aggregates_table(proj);
    if let Some(c) = classes {
        failures(c, 5);
    }
}

/// The budget caps in force and the stops of the latest session (`status`).
pub fn budget(j: &journal::Journal, proj: &Projections) -> anyhow::Result<()> {
    let Some(session) = proj.session.as_ref() else {
        return Ok(());
    };
    if let Some(b) = &session.budget {
        let caps: Vec<String> = [
            ("max_cost_usd", b.max_cost_usd),
            ("max_tokens", b.max_tokens),
            ("per_variant.max_cost_usd", b.per_variant_max_cost_usd),
            ("per_variant.max_tokens", b.per_variant_max_tokens),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect();
        println!("budget: {}", caps.join(", "));
    }
    // The stops journaled since the latest session started (rare events: by kind).
    let mut since = 0;
    j.for_each_event_of_kind("session_started", |e| {
        since = e.idx;
        Ok(())
    })?;
    j.for_each_event_of_kind("budget_reached", |e| {
        if e.idx >= since {
            if let journal::event::Event::BudgetReached(r) = &e.event {
                println!("{}", engine::budget::describe(r));
            }
        }
        Ok(())
    })?;
    Ok(())
}

pub fn summary(
    outcome: &RunOutcome,
    infra: u64,
    infra_pct: f64,
    classes: &[FailureClass],
    again: &dyn Fn(&str) -> String,
) {
    let proj = &outcome.projections;
    println!();
    println!(
        "run {} {}: {}/{} slots committed",
        outcome.run_id,
        proj.control.status.as_str(),
        proj.progress.next_commit_idx,
        proj.progress.total_slots
    );
    aggregates_table(proj);
    failures(classes, 5);
    if infra > 0 {
        println!(
            "infrastructure faults: {infra} slot(s) committed lost ({infra_pct:.1}% of trials that ran), not scored"
        );
    }
    let rerun = proj.aggregates.overall.infra_retried;
    if rerun > 0 {
        // Attempts an operator stopped (`labj kill`, Ctrl-C) are re-run too, but they
        // were no infrastructure fault.
        let stopped = journal::Journal::open_read_only(
            &journal::RunDir::new(&outcome.run_dir).journal_path(),
        )
        .and_then(|j| read::report::runs::stopped_reruns(&j))
        .unwrap_or(0)
        .min(rerun);
        if rerun > stopped {
            println!(
                "re-run after infrastructure faults: {} attempt(s)",
                rerun - stopped
            );
        }
        if stopped > 0 {
            println!("re-run after being stopped (labj kill or Ctrl-C): {stopped} attempt(s)");
        }
    }
    if let Some(e) = &proj.control.last_error {
        println!("error: {}", shown(e));
    }
    println!("run directory: {}", outcome.run_dir.display());
    let handle = engine::run::run_handle(&outcome.run_id);
    if proj.control.status.as_str() != "completed" {
        println!("continue with: {}", again(&format!("continue {handle}")));
    } else {
        println!(
            "next: {}   {}",
            again(&format!("report {handle}")),
            again(&format!("trials {handle}"))
        );
    }
}

pub fn verify(r: &VerifyReport, json: bool) {
    if json {
        println!(
            "{}",
            json!({
                "ok": r.ok(),
                "events": r.events,
                "head_hash": r.head_hash,
                "first_bad_idx": r.first_bad_idx,
                "faults": r.faults,
                "head_record": r.head_record,
            })
        );
        return;
    }
    if r.ok() {
        println!(
            "ok: {} events, hash chain intact (head {}), {}, every payload matches its schema, materialized projections equal a rebuild",
            r.events, r.head_hash, r.head_record
        );
    } else {
        println!(
            "FAILED: first bad event idx {}",
            r.first_bad_idx
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into())
        );
        for f in &r.faults {
            println!("  - {f}");
        }
    }
}

pub fn inspection(r: &Inspection, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "run_id": r.run_id,
                "journaled_status": r.journaled_status,
                "liveness": r.liveness,
                "last_events": r.last_events.iter().map(event_json).collect::<Vec<_>>(),
                "stale_active_trials": r.stale.iter().map(|s| json!({
                    "trial_id": s.trial_id, "worker_id": s.worker_id, "schedule_idx": s.schedule_idx,
                    "variant_id": s.variant_id, "started_at": s.started_at, "running_for": s.running_for,
                })).collect::<Vec<_>>(),
                "failures_by_classification": r.failures,
                "verify": {"ok": r.verify.ok(), "faults": r.verify.faults, "events": r.verify.events, "first_bad_idx": r.verify.first_bad_idx},
                "continue_plan": r.plan.as_ref().map(|p| json!({
                    "worker_lost": p.worker_lost.iter().map(|w| json!({"schedule_idx": w.schedule_idx, "trial_id": w.trial_id, "retry": w.retry})).collect::<Vec<_>>(),
                    "next_commit_idx": p.next_commit_idx,
                })),
                "progress": r.projections.progress_doc(),
                "backend_jobs_total": r.backend_jobs_total,
                "backend_jobs_of_active_trials": r.backend_jobs.iter().map(|b| json!({
                    "trial_id": b.trial_id, "ticket_id": b.ticket_id, "job_id": b.job_id,
                    "action": b.action, "state": b.state,
                })).collect::<Vec<_>>(),
            }))
            .expect("json")
        );
        return;
    }
    println!("run {}", r.run_id);
    println!("journaled status: {}", r.journaled_status);
    println!("process: {}", r.liveness);
    println!(
        "progress: {}/{} slots committed",
        r.projections.progress.next_commit_idx, r.total_slots
    );
    println!("last {} events:", r.last_events.len());
    for e in &r.last_events {
        println!("  {}", event_line(e));
    }
    if r.stale.is_empty() {
        println!("active trials: none");
    } else {
        println!("active trials with no completion journaled:");
        for s in &r.stale {
            println!(
                "  {} slot {} variant {} worker {} started {} (running for {})",
                s.trial_id, s.schedule_idx, s.variant_id, s.worker_id, s.started_at, s.running_for
            );
        }
    }
    if r.backend_jobs_total > 0 {
        println!(
            "slurm jobs: {} journaled; of the active trials:",
            r.backend_jobs_total
        );
        if r.backend_jobs.is_empty() {
            println!("  none");
        }
        for b in &r.backend_jobs {
            println!(
                "  {} job {} ({}, ticket {}): {}",
                b.trial_id, b.job_id, b.action, b.ticket_id, b.state
            );
        }
    }
    if r.failures.is_empty() {
        println!("failures: none");
    } else {
        let f: Vec<String> = r.failures.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("failures by classification: {}", f.join(", "));
    }
    if r.verify.ok() {
        println!(
            "chain: ok ({} events, head {})",
            r.verify.events, r.verify.head_hash
        );
    } else {
        println!("chain: FAILED");
        for f in &r.verify.faults {
            println!("  - {f}");
        }
        println!("  (`labj verify` also checks payload schemas, stored blobs and the materialized projections)");
    }
    match &r.plan {
        None => println!("continue: nothing to do (run completed)"),
        Some(p) => {
            if p.worker_lost.is_empty() {
                println!("continue would: record no worker_lost; ");
            } else {
                let ids: Vec<String> = p
                    .worker_lost
                    .iter()
                    .map(|w| format!("{} (slot {})", w.trial_id, w.schedule_idx))
                    .collect();
                let rerun = p.worker_lost.iter().filter(|w| w.retry).count();
                println!(
                    "continue would: record worker_lost for {}; re-run {rerun}, commit {} as lost (infra-retry budget; --no-retry-lost commits all)",
                    ids.join(", "),
                    p.worker_lost.len() - rerun
                );
                if !r.backend_jobs.is_empty() {
                    println!("  (on Slurm: except the trials whose job is still pending, running or suspended, or left an outcome: those are reattached)");
                }
            }
            println!(
                "  then commit from slot {} and dispatch the {} uncommitted slot(s) never dispatched",
                p.next_commit_idx,
                r.total_slots
                    .saturating_sub(p.next_commit_idx)
                    .saturating_sub(r.projections.pending.len() as u64)
                    .saturating_sub(r.stale.len() as u64)
            );
        }
    }
}

/// A word a POSIX shell reads back as itself.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
