//! `labj report`: the engine's statistical report of a run, as text, markdown, JSON or
//! one self-contained HTML file.

use crate::render::shown;
use anyhow::{Context, Result};
use engine::report::stats::Interval;
use engine::report::{BootstrapOptions, Comparison, Flip, Report, VariantSummary};
use engine::run::{self, JOURNAL_FILE};
use journal::Journal;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text tables.
    Text,
    /// GitHub-flavoured markdown tables.
    Markdown,
    /// One self-contained HTML page (inline CSS and SVG, no network).
    Html,
    /// The report as JSON (`labj_report_v1`).
    Json,
}

pub fn report(
    runs_dir: &Path,
    run: &str,
    format: Format,
    out: Option<PathBuf>,
    resamples: u32,
    seed: u64,
) -> Result<ExitCode> {
    if resamples == 0 {
        anyhow::bail!("--resamples must be at least 1");
    }
    let dir = run::resolve_run(runs_dir, run)?;
    if let Some(p) = &out {
        crate::out_target::check(p, &dir)?;
    }
    let j = Journal::open_read_only(&dir.join(JOURNAL_FILE))?;
    let facts = engine::report::collect(&j)?;
    let r = engine::report::build(&dir, &facts, BootstrapOptions { resamples, seed });
    let text = match format {
        Format::Text => text(&r),
        Format::Markdown => markdown(&r),
        Format::Json => serde_json::to_string_pretty(&r)? + "\n",
        Format::Html => crate::report_html::html(&r),
    };
    match out {
        Some(p) => {
            std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
            let name = match format {
                Format::Text => "text",
                Format::Markdown => "markdown",
                Format::Html => "HTML",
                Format::Json => "JSON",
            };
            eprintln!(
                "labj: wrote the {name} report of run {} to {}",
                r.run_id,
                p.display()
            );
        }
        None => {
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", 100.0 * x))
        .unwrap_or_else(|| "-".into())
}

pub fn ci_pct(i: Option<Interval>) -> String {
    i.map(|i| format!("[{:.1}%, {:.1}%]", 100.0 * i.low, 100.0 * i.high))
        .unwrap_or_else(|| "-".into())
}

pub fn ci_num(i: Option<Interval>) -> String {
    i.map(|i| format!("[{:.3}, {:.3}]", i.low, i.high))
        .unwrap_or_else(|| "-".into())
}

pub fn signed(v: Option<f64>, scale: f64, unit: &str, digits: usize) -> String {
    v.map(|x| format!("{:+.*}{unit}", digits, x * scale))
        .unwrap_or_else(|| "-".into())
}

pub fn p_value(p: f64) -> String {
    if p < 0.0001 {
        "<0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

pub fn flips(f: &[Flip], max: usize) -> String {
    if f.is_empty() {
        return "none".into();
    }
    let mut names: Vec<String> = f
        .iter()
        .take(max)
        .map(|x| format!("{}#{}", x.task_id, x.repl_idx))
        .collect();
    if f.len() > max {
        names.push(format!("… {} more", f.len() - max));
    }
    names.join(", ")
}

pub fn variant_name(v: &VariantSummary) -> String {
    if v.is_baseline {
        format!("{} (baseline)", v.variant_id)
    } else {
        v.variant_id.clone()
    }
}

/// Columns of the variant table, the same in text, markdown and HTML.
pub const VARIANT_COLUMNS: usize = 12;
/// Columns counted outside every denominator (infra, cancelled, re-run), styled apart.
pub const APART_COLUMNS: [usize; 3] = [5, 6, 7];

/// The variant table's header (`metric` names the primary metric).
pub fn variant_header(metric: &str) -> [String; VARIANT_COLUMNS] {
    [
        "variant",
        "scored",
        "succeeded",
        "success",
        "95% CI",
        "infra",
        "cancelled",
        "re-run",
        "pruned",
        "",
        "95% CI",
        "n",
    ]
    .map(String::from)
    .map(|h| {
        if h.is_empty() {
            format!("mean {metric}")
        } else {
            h
        }
    })
}

/// One variant's row of the variant table.
pub fn variant_cells(v: &VariantSummary) -> [String; VARIANT_COLUMNS] {
    let (mean, ci, n) = match &v.metric {
        Some(m) => (format!("{:.3}", m.mean), ci_num(m.ci95), m.n.to_string()),
        None => ("-".into(), "-".into(), "0".into()),
    };
    [
        variant_name(v),
        v.scored.to_string(),
        v.succeeded.to_string(),
        pct(v.success_rate),
        ci_pct(v.success_ci95),
        v.infra_lost.to_string(),
        v.cancelled.to_string(),
        v.infra_retried.to_string(),
        v.skipped_pruned.to_string(),
        mean,
        ci,
        n,
    ]
}

/// A text-table line: the first column left-aligned, the others right-aligned.
fn text_row(cells: &[String; VARIANT_COLUMNS]) -> String {
    const WIDTHS: [usize; VARIANT_COLUMNS] = [22, 6, 9, 8, 17, 6, 9, 6, 7, 8, 17, 5];
    let mut line = format!("{:<w$}", cells[0], w = WIDTHS[0]);
    for (c, w) in cells.iter().zip(WIDTHS).skip(1) {
        line.push_str(&format!(" {c:>w$}"));
    }
    line
}

/// A one-sentence reading of a comparison.
pub fn verdict(c: &Comparison) -> String {
    if c.pairs == 0 {
        // Say why: on a finished run "yet" would be wrong, and an empty comparison most
        // often means one side has nothing scored (all infra, cancelled or pruned).
        return match c.excluded_pairs {
            0 => "no matched pairs: neither side has a committed trial yet".into(),
            n => format!(
                "no matched pairs: all {n} pair(s) are excluded (infra, cancelled, pruned or \
                 not committed on one side); nothing is compared"
            ),
        };
    }
    let dir = match c.variant_only.cmp(&c.baseline_only) {
        std::cmp::Ordering::Greater => "more",
        std::cmp::Ordering::Less => "fewer",
        std::cmp::Ordering::Equal => "as many",
    };
    let sig = if c.mcnemar_p < 0.05 {
        "significant at 5%"
    } else {
        "not significant at 5%"
    };
    format!(
        "{} solves {dir} pairs than {} ({} gained, {} lost; McNemar p = {}, {sig})",
        c.variant_id,
        c.baseline_id,
        c.variant_only,
        c.baseline_only,
        p_value(c.mcnemar_p)
    )
}

pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "report of run {} (experiment {}, {}): {}/{} slots committed",
        r.run_id, r.experiment_id, r.status, r.committed, r.total_slots
    );
    let metric = r.primary_metric.as_deref().unwrap_or("(no primary metric)");
    let _ = writeln!(
        s,
        "95% intervals: Wilson for success rates; percentile bootstrap ({} resamples, seed {}) for means of {metric}.",
        r.bootstrap.resamples, r.bootstrap.seed
    );
    let _ = writeln!(
        s,
        "Infrastructure faults (infra), cancelled and pruned slots are never in a denominator.\n"
    );
    let _ = writeln!(s, "{}", text_row(&variant_header(metric)));
    for v in &r.variants {
        let _ = writeln!(s, "{}", text_row(&variant_cells(v)));
    }
    for c in &r.comparisons {
        let _ = writeln!(
            s,
            "\n{} vs {} (matched task × replication pairs):",
            c.variant_id, c.baseline_id
        );
        let _ = writeln!(
            s,
            "  pairs {} (excluded {}: infra, cancelled, pruned or not committed on one side)",
            c.pairs, c.excluded_pairs
        );
        let _ = writeln!(
            s,
            "  both succeeded {}, both failed {}, only {} {}, only {} {}",
            c.both_succeeded,
            c.both_failed,
            c.baseline_id,
            c.baseline_only,
            c.variant_id,
            c.variant_only
        );
        let _ = writeln!(
            s,
            "  success rate difference {} · exact McNemar p = {}",
            signed(c.success_rate_diff, 100.0, " pts", 1),
            p_value(c.mcnemar_p)
        );
        if r.primary_metric.is_some() {
            let _ = writeln!(
                s,
                "  {metric} difference (variant − baseline) {} 95% CI {} over {} pairs (paired bootstrap)",
                signed(c.metric_diff, 1.0, "", 3),
                ci_num(c.metric_diff_ci95),
                c.metric_pairs
            );
        }
        let _ = writeln!(
            s,
            "  gained (baseline failed, {} succeeded): {}",
            c.variant_id,
            flips(&c.gained, 12)
        );
        let _ = writeln!(
            s,
            "  lost (baseline succeeded, {} failed): {}",
            c.variant_id,
            flips(&c.lost, 12)
        );
        let _ = writeln!(s, "  reading: {}", verdict(c));
    }
    if !r.failures.is_empty() {
        let _ = writeln!(s, "\nwhy trials did not succeed:");
        for f in &r.failures {
            let e = &f.example;
            let _ = writeln!(
                s,
                "  {:<36} {:>5}{}  e.g. {} ({}, {}#{}){}{}",
                crate::render::class_label(f),
                f.count,
                if f.infra { " (infra, not scored)" } else { "" },
                e.trial_id,
                e.variant_id,
                e.task_id,
                e.repl_idx,
                e.exit_code
                    .filter(|c| *c != 0)
                    .map(|c| format!(" exit code {c}"))
                    .unwrap_or_default(),
                e.detail
                    .as_deref()
                    .map(|d| format!(": {}", shown(d)))
                    .unwrap_or_default()
            );
            for l in &e.stderr_tail {
                let _ = writeln!(s, "      stderr | {}", shown(l));
            }
        }
    }
    s
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let metric = r.primary_metric.as_deref().unwrap_or("metric");
    let _ = writeln!(s, "# Report of run `{}`\n", r.run_id);
    let _ = writeln!(
        s,
        "Experiment `{}`, status **{}**, {}/{} slots committed. 95% intervals: Wilson (success rates), percentile bootstrap with {} resamples, seed {} (means of `{metric}`). Infrastructure faults, cancelled and pruned slots are never in a denominator.\n",
        r.experiment_id, r.status, r.committed, r.total_slots, r.bootstrap.resamples, r.bootstrap.seed
    );
    let _ = writeln!(s, "## Variants\n");
    let md_row = |cells: [String; VARIANT_COLUMNS]| {
        let cells: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
        format!("| {} |", cells.join(" | "))
    };
    let _ = writeln!(s, "{}", md_row(variant_header(metric)));
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|"
    );
    for v in &r.variants {
        let _ = writeln!(s, "{}", md_row(variant_cells(v)));
    }
    if !r.comparisons.is_empty() {
        let _ = writeln!(
            s,
            "\n## Against the baseline `{}` (matched pairs)\n",
            r.baseline_id
        );
        let _ = writeln!(
            s,
            "| variant | pairs | excluded | both ✓ | both ✗ | only baseline | only variant | Δ success | McNemar p | Δ {metric} | 95% CI |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for c in &r.comparisons {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md_cell(&c.variant_id),
                c.pairs,
                c.excluded_pairs,
                c.both_succeeded,
                c.both_failed,
                c.baseline_only,
                c.variant_only,
                signed(c.success_rate_diff, 100.0, " pts", 1),
                p_value(c.mcnemar_p),
                signed(c.metric_diff, 1.0, "", 3),
                ci_num(c.metric_diff_ci95)
            );
        }
        for c in &r.comparisons {
            let _ = writeln!(
                s,
                "\n**{}**: {}.\n",
                md_cell(&c.variant_id),
                md_cell(&verdict(c))
            );
            let _ = writeln!(s, "- gained: {}", md_cell(&flips(&c.gained, 30)));
            let _ = writeln!(s, "- lost: {}", md_cell(&flips(&c.lost, 30)));
        }
    }
    if !r.failures.is_empty() {
        let _ = writeln!(s, "\n## Why trials did not succeed\n");
        let _ = writeln!(s, "| class | count | example | detail | last stderr |");
        let _ = writeln!(s, "|---|---:|---|---|---|");
        for f in &r.failures {
            let e = &f.example;
            let _ = writeln!(
                s,
                "| {}{} | {} | `{}` ({}, {}#{}) | {} | {} |",
                crate::render::class_label(f),
                if f.infra { " (infra)" } else { "" },
                f.count,
                e.trial_id,
                md_cell(&e.variant_id),
                md_cell(&e.task_id),
                e.repl_idx,
                md_cell(
                    &[
                        e.exit_code
                            .filter(|c| *c != 0)
                            .map(|c| format!("exit code {c}")),
                        e.detail.as_deref().map(shown)
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ")
                ),
                md_cell(&shown(&e.stderr_tail.join(" ⏎ ")))
            );
        }
    }
    s
}
