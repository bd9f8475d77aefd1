//! `labj trials` (one line per committed trial) and `labj logs` (an attempt's output).

use anyhow::{anyhow, bail, Result};
use engine::run;
use journal::event::Event;
use journal::Journal;
use read::outcome::{outcome_label, OutcomeFilter};
use read::report::logs::{self, CopyError, LogSource, Stream};
use read::report::TrialRow;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Fail unless the run's schedule has this trial (an unknown id used to print nothing).
pub fn check_trial_in_run(j: &Journal, trial_id: &str) -> Result<()> {
    let mut slots = None;
    j.for_each_event(0, Some(0), false, |e| {
        if let Event::RunCreated(rc) = e.event {
            slots = Some(rc.schedule.len() as u64);
        }
        Ok(())
    })?;
    let slots = slots.ok_or_else(|| anyhow!("the journal does not start with run_created"))?;
    let idx: u64 = trial_id
        .trim_start_matches("trial_")
        .parse()
        .map_err(|_| anyhow!("`{trial_id}` is not a trial id"))?;
    if idx >= slots {
        bail!(
            "run has no {trial_id}: its schedule has {slots} trials (trial_{:06} … trial_{:06})",
            0,
            slots.saturating_sub(1)
        );
    }
    Ok(())
}

/// A metric value: integers without decimals, others to 4 significant decimals.
fn render_metric(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.is_finite() && (v.abs() >= 1e15 || v.abs() < 1e-4) {
        // Never a 309-digit integer for 1e308.
        format!("{v:.4e}")
    } else {
        format!("{v:.4}")
    }
}

pub fn trials(
    runs_dir: &Path,
    run: &str,
    variant: Option<String>,
    outcome: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let filter = outcome
        .as_deref()
        .map(OutcomeFilter::parse)
        .transpose()
        .map_err(|e| anyhow!("--{e}"))?;
    let dir = run::resolve_run(runs_dir, run)?;
    let j = journal::RunDir::new(&dir).open_read_only()?;
    let facts = read::report::collect(&j)?;
    let variants = facts.variant_ids();
    if let Some(v) = &variant {
        if !variants.contains(v) {
            bail!(
                "run {} has no variant {v:?}; its variants: {}",
                facts.run_id(),
                variants.join(", ")
            );
        }
    }
    let pm = facts.primary_metric().map(String::from);
    let rows: Vec<&TrialRow> = facts
        .trials
        .iter()
        .filter(|r| variant.as_ref().is_none_or(|v| &r.variant_id == v))
        .filter(|r| filter.is_none_or(|f| f.admits(r.classification)))
        .collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        for r in &rows {
            let line = json!({
                "trial_id": r.trial_id,
                "schedule_idx": r.schedule_idx,
                "variant_id": r.variant_id,
                "task_id": r.task_id,
                "repl_idx": r.repl_idx,
                "outcome": outcome_label(r.classification),
                "classification": r.classification.map(|c| c.as_str()),
                "status": r.status.as_str(),
                "graded_outcome": r.outcome,
                "primary_metric": pm,
                "metric": r.primary_metric,
                "metrics": r.metrics,
                "attempts": r.attempts.len(),
                "infra_retried": r.infra_retried,
                "dispatches": 1 + r.infra_retried as usize,
                "duration_ms": r.duration_ms,
                "exit_code": r.attempts.last().and_then(|a| a.exit_code),
                "leaked_processes": r.leaked_processes(),
                "detail": r.attempts.last().and_then(|a| a.detail.clone()).or_else(|| r.error.clone()),
                "truncated_outputs": r.artifacts.iter().filter(|a| a.written_bytes.is_some()).map(|a| json!({
                    "name": a.name, "kept_bytes": a.bytes, "written_bytes": a.written_bytes,
                })).collect::<Vec<_>>(),
            });
            // A closed pipe (`| head`) ends the listing quietly.
            if writeln!(out, "{line}").is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
        let _ = out.flush();
        return Ok(ExitCode::SUCCESS);
    }
    let metric_head = pm.as_deref().unwrap_or("metric");
    let _ = writeln!(
        out,
        "{:<13} {:<16} {:<16} {:>4} {:<9} {:<20} {:>9} {:>12} {:>9} metrics",
        "trial",
        "variant",
        "task",
        "repl",
        "outcome",
        "classification",
        metric_head,
        "attempts",
        "duration"
    );
    for r in &rows {
        // Attempts of every dispatch of the slot: a slot re-run after a lost or stopped
        // attempt shows those too (`2 (1 re-run)`).
        let attempts = r.attempts.len() + r.infra_retried as usize;
        let attempts = if r.infra_retried > 0 {
            format!("{attempts} ({} re-run)", r.infra_retried)
        } else {
            attempts.to_string()
        };
        // Every metric the agent reported, primary one included.
        let metrics: Vec<String> = r
            .metrics
            .iter()
            .map(|(k, v)| format!("{k}={}", render_metric(*v)))
            .collect();
        let line = format!(
            "{:<13} {:<16} {:<16} {:>4} {:<9} {:<20} {:>9} {:>12} {:>9} {}",
            r.trial_id,
            r.variant_id,
            r.task_id,
            r.repl_idx,
            outcome_label(r.classification),
            r.class_name(),
            r.primary_metric
                .map(crate::render::metric)
                .unwrap_or_else(|| "-".into()),
            attempts,
            r.duration_ms
                .filter(|_| !r.attempts.is_empty())
                .map(|ms| format!("{:.2}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
            if metrics.is_empty() {
                "-".to_string()
            } else {
                metrics.join(" ")
            },
        );
        if writeln!(out, "{}", line.trim_end()).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let _ = writeln!(
        out,
        "{} of {} committed trial(s) of run {}",
        rows.len(),
        facts.trials.len(),
        facts.run_id()
    );
    let cut: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.artifacts
                .iter()
                .filter_map(move |a| a.written_bytes.map(|w| (r, a, w)))
        })
        .map(|(r, a, w)| format!("{} {} ({} of {w} bytes kept)", r.trial_id, a.name, a.bytes))
        .collect();
    if !cut.is_empty() {
        let _ = writeln!(
            out,
            "output cut at its size limit (logs and trajectories: runtime.policy.output_limit_bytes; results: 1 MiB): {}",
            cut.join(", ")
        );
    }
    let leaky: Vec<String> = rows
        .iter()
        .filter_map(|r| r.leaked_processes().filter(|n| *n > 0).map(|n| (r, n)))
        .map(|(r, n)| format!("{} ({n})", r.trial_id))
        .collect();
    if !leaky.is_empty() {
        let _ = writeln!(
            out,
            "left processes running after the agent exited (killed by labj; counted for plain host agents): {}",
            leaky.join(", ")
        );
    }
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

pub fn logs(
    runs_dir: &Path,
    run: &str,
    trial: &str,
    attempt: Option<u32>,
    stdout_stream: bool,
    grader: bool,
) -> Result<ExitCode> {
    let trial_id = trial_arg(trial)?;
    let dir = run::resolve_run(runs_dir, run)?;
    let j = journal::RunDir::new(&dir).open_read_only()?;
    check_trial_in_run(&j, &trial_id)?;
    // One slot read by its index, not a fold of every event (check_trial_in_run
    // parsed the id).
    let idx: u64 = trial_id.trim_start_matches("trial_").parse()?;
    let row = read::report::committed_trial(&j, idx)?;
    let Some(row) = row.as_ref() else {
        let active = j
            .fold_from_snapshot(None)?
            .projections
            .control
            .active_trials
            .contains_key(&trial_id);
        bail!(
            "{trial_id} is not committed yet{}; its files are under {}",
            if active { " (it is running)" } else { "" },
            journal::RunDir::new(&dir).trial_dir(&trial_id).display()
        );
    };
    let attempt = logs::pick_attempt(row, attempt)?;
    let stream = match (grader, stdout_stream) {
        (false, true) => Stream::Stdout,
        (false, false) => Stream::Stderr,
        (true, true) => Stream::GraderStdout,
        (true, false) => Stream::GraderStderr,
    };
    // Opened and checked against the journaled digest first, then streamed: a log of
    // any size costs a fixed amount of memory.
    let log = logs::open(&dir, row, attempt, stream)?;
    let origin = match &log.source {
        LogSource::Blob(p) | LogSource::TrialDir(p) => p.display().to_string(),
        LogSource::Absent => "nothing written".into(),
    };
    let cut = match log.written_bytes {
        Some(w) => format!(
            "; cut at the output limit: {w} bytes written, the first {} kept",
            log.size
        ),
        None => String::new(),
    };
    eprintln!(
        "labj: {} of {trial_id} attempt {attempt}/{} ({}; {} bytes{cut}; {origin})",
        stream.file_name(),
        row.attempts.len(),
        row.class_name(),
        log.size
    );
    match log.copy_to(&mut std::io::stdout().lock()) {
        Ok(_) => {}
        // The reader went away (`labj logs … | head`): not an error of the log.
        Err(CopyError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// A trial named on the command line (`24` or `trial_000024`) as its id.
pub fn trial_arg(s: &str) -> Result<String> {
    read::report::parse_trial_id(s).map_err(|e| anyhow!(e))
}
