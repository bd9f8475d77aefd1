//! `labj report`: the engine's statistical report of a run, as text, markdown, JSON or
//! one self-contained HTML file.

mod html;

use crate::render::shown;
use anyhow::{Context, Result};
use engine::run;
use read::report::stats::Interval;
use read::report::{BootstrapOptions, Comparison, Flip, Report, VariantSummary};
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
    let j = journal::RunDir::new(&dir).open_read_only()?;
    let facts = read::report::collect(&j)?;
    let r = read::report::build(&dir, &facts, BootstrapOptions { resamples, seed });
    let text = match format {
        Format::Text => text(&r),
        Format::Markdown => markdown(&r),
        Format::Json => serde_json::to_string_pretty(&r)? + "\n",
        Format::Html => html::html(&r),
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
    i.map(|i| format!("[{}, {}]", fixed3(i.low), fixed3(i.high)))
        .unwrap_or_else(|| "-".into())
}

/// Three decimals, in exponent form from a million up (`1e308` is `1.000e308`, not
/// 309 digits).
pub fn fixed3(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{v:.3e}")
    } else {
        format!("{v:.3}")
    }
}

/// An interval, or why it is missing (values beyond f64's range), never `[NaN, NaN]`.
pub fn ci_or_why(i: Option<Interval>, unavailable: Option<&str>) -> String {
    match (i, unavailable) {
        (None, Some(_)) => "n/a (out of range)".into(),
        (i, _) => ci_num(i),
    }
}

pub fn signed(v: Option<f64>, scale: f64, unit: &str, digits: usize) -> String {
    // Rounding leftovers (an average of differences that cancel) read as 0, not -0.
    v.map(|x| {
        let x = if (x * scale).abs() < 1e-9 {
            0.0
        } else {
            x * scale
        };
        if x.abs() >= 1e6 {
            format!("{x:+.*e}{unit}", digits)
        } else {
            format!("{:+.*}{unit}", digits, x)
        }
    })
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
pub const VARIANT_COLUMNS: usize = 13;
/// Columns counted outside every denominator (infra, cancelled, re-run), styled apart.
pub const APART_COLUMNS: [usize; 3] = [6, 7, 8];

/// The variant table's header (`metric` names the primary metric).
pub fn variant_header(metric: &str) -> [String; VARIANT_COLUMNS] {
    [
        "variant",
        "tasks",
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
        Some(m) => (
            fixed3(m.mean),
            ci_or_why(m.ci95, m.unavailable),
            m.n.to_string(),
        ),
        None => ("-".into(), "-".into(), "0".into()),
    };
    [
        variant_name(v),
        v.tasks.to_string(),
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
    const WIDTHS: [usize; VARIANT_COLUMNS] = [22, 5, 6, 9, 8, 17, 6, 9, 6, 7, 8, 17, 5];
    let mut line = format!("{:<w$}", cells[0], w = WIDTHS[0]);
    for (c, w) in cells.iter().zip(WIDTHS).skip(1) {
        line.push_str(&format!(" {c:>w$}"));
    }
    line
}

/// A one-sentence reading of a comparison, from its test over tasks (McNemar over
/// pairs with one replication per task).
pub fn verdict(c: &Comparison) -> String {
    if c.pairs == 0 && c.tasks == 0 {
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
    let diff = c.over_tasks.as_ref().map(|t| t.mean).unwrap_or(0.0);
    let (dir, than) = if diff > 1e-12 {
        ("a higher", "than")
    } else if diff < -1e-12 {
        ("a lower", "than")
    } else {
        ("the same", "as")
    };
    let sig = if c.p_holm < 0.05 {
        "significant at 5% after Holm"
    } else if c.p_value < 0.05 {
        "significant at 5% alone, not after Holm"
    } else {
        "not significant at 5%"
    };
    format!(
        "{} has {dir} success rate {than} {} over {} task(s) ({} p = {}, Holm {}, {sig})",
        c.variant_id,
        c.baseline_id,
        c.tasks,
        test_name(c.test),
        p_value(c.p_value),
        p_value(c.p_holm)
    )
}

pub fn test_name(t: &str) -> &'static str {
    match t {
        "paired_t" => "paired t over tasks",
        _ => "exact McNemar over pairs",
    }
}

/// A number for a table: 3 decimals, 1 from 100 up, exponent form beyond a million or
/// below 0.001 (a mean of `1e308` is `1.000e308`, not 309 digits).
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(0.001..1e6).contains(&a) {
        format!("{v:.3e}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn opt_num(v: Option<f64>) -> String {
    v.map(num).unwrap_or_else(|| "-".into())
}

/// What the intervals and tests of a report are made over: one paragraph.
pub fn method_note(r: &Report) -> String {
    format!(
        "Sampling unit: the task ({} task(s) scored, up to {} replication(s) each); every interval and test treats a task's replications as one cluster. \
         95% intervals: success rates Wilson on the effective sample size (trials / design effect; plain Wilson with one replication per task); means a cluster bootstrap over tasks ({} resamples, seed {}). \
         Comparisons average replications within a task, then compare tasks both variants scored: mean difference with a t interval, paired t and exact sign-flip permutation tests \
         (exact McNemar over pairs with one replication), Holm-adjusted over the {} comparison(s); power at 80%, alpha 0.05. \
         Infrastructure faults (infra), cancelled and pruned slots are never in a denominator.",
        r.tasks,
        r.max_replications,
        r.bootstrap.resamples,
        r.bootstrap.seed,
        r.comparisons.len()
    )
}

/// The cells of one comparison's row in the markdown and HTML tables.
pub struct ComparisonCells {
    pub delta: String,
    pub ci: String,
    pub test: &'static str,
    pub p: String,
    pub holm: String,
    pub sign_flip: String,
    pub mde: String,
    pub tasks_needed: String,
    pub mcnemar: String,
}

impl ComparisonCells {
    pub fn of(c: &Comparison) -> ComparisonCells {
        let t = c.over_tasks.as_ref();
        let power = c.power.as_ref();
        ComparisonCells {
            delta: signed(t.map(|t| t.mean), 100.0, " pts", 1),
            ci: t
                .and_then(|t| t.ci95)
                .map(|i| format!("[{:+.1}, {:+.1}] pts", 100.0 * i.low, 100.0 * i.high))
                .unwrap_or_else(|| "-".into()),
            test: test_name(c.test),
            p: p_value(c.p_value),
            holm: p_value(c.p_holm),
            sign_flip: t
                .map(|t| p_value(t.permutation_p))
                .unwrap_or_else(|| "-".into()),
            mde: power
                .and_then(|p| p.mde)
                .map(|m| format!("{:.1} pts", 100.0 * m))
                .unwrap_or_else(|| "-".into()),
            tasks_needed: power
                .and_then(|p| p.tasks_needed)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            mcnemar: p_value(c.mcnemar_p),
        }
    }
}

/// Lines describing one comparison (text, markdown and HTML share them).
pub fn comparison_lines(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "over {} task(s) both scored ({} task × replication pairs, {} excluded: infra, cancelled, pruned or not committed on one side)",
        c.tasks, c.pairs, c.excluded_pairs
    ));
    if let Some(t) = &c.over_tasks {
        out.push(format!(
            "success difference {} 95% CI {} (t over tasks) · paired t p = {} · sign-flip permutation p = {}{}",
            signed(Some(t.mean), 100.0, " pts", 1),
            t.ci95
                .map(|i| format!("[{:+.1}, {:+.1}] pts", 100.0 * i.low, 100.0 * i.high))
                .unwrap_or_else(|| "-".into()),
            t.t_p.map(p_value).unwrap_or_else(|| "-".into()),
            p_value(t.permutation_p),
            if t.permutation_exact { " (exact)" } else { " (random flips)" },
        ));
    }
    out.push(format!(
        "test of this comparison: {} p = {}, Holm-adjusted over the report's comparisons {}",
        test_name(c.test),
        p_value(c.p_value),
        p_value(c.p_holm)
    ));
    out.push(format!(
        "pairs: both succeeded {}, both failed {}, only {} {}, only {} {} · exact McNemar p = {}{}",
        c.both_succeeded,
        c.both_failed,
        c.baseline_id,
        c.baseline_only,
        c.variant_id,
        c.variant_only,
        p_value(c.mcnemar_p),
        if c.test == "mcnemar" {
            ""
        } else {
            " (takes a task's replications as independent pairs)"
        }
    ));
    if let Some(p) = &c.power {
        out.push(format!(
            "power: detectable at 80% with {} tasks: {} · tasks needed for the observed difference: {} · sd of per-task differences {} · variance of per-task differences: between tasks {}, replication noise {}{}",
            p.tasks,
            signed(p.mde, 100.0, " pts", 1).trim_start_matches('+'),
            p.tasks_needed
                .map(|n| n.to_string())
                .unwrap_or_else(|| "- (no difference observed, or beyond 1,000,000)".into()),
            opt_num(p.sd_diff),
            opt_num(p.between_var),
            opt_num(p.within_var),
            advice(p)
        ));
    }
    for m in &c.metrics {
        let t = &m.test;
        out.push(format!(
            "{} ({}) difference {} 95% CI {} over {} task(s) · paired t p = {} · sign-flip p = {} · detectable {}",
            m.name,
            if m.direction == "minimize" { "lower is better" } else { "higher is better" },
            signed(Some(t.mean), 1.0, "", 3),
            ci_or_why(t.ci95, m.unavailable),
            t.tasks,
            t.t_p.map(p_value).unwrap_or_else(|| "-".into()),
            p_value(t.permutation_p),
            opt_num(m.power.mde)
        ));
    }
    for name in &c.metrics_out_of_range {
        out.push(format!(
            "{name} difference n/a: {}",
            read::report::OUT_OF_RANGE.replace("interval unavailable", "not compared")
        ));
    }
    out.push(format!(
        "tasks better for {}: {} · tasks worse: {}",
        c.variant_id,
        names(&c.tasks_gained, 12),
        names(&c.tasks_lost, 12)
    ));
    out
}

/// Where more effort helps: replications (noise within tasks dominates) or tasks.
pub fn advice(p: &read::report::clustered::PowerAnalysis) -> &'static str {
    match (p.within_var, p.between_var) {
        (Some(w), Some(b)) if w > b => " (replication noise dominates: more replications help)",
        (Some(_), Some(_)) => " (tasks differ more than replications: more tasks help)",
        _ => "",
    }
}

fn names(v: &[String], max: usize) -> String {
    if v.is_empty() {
        return "none".into();
    }
    let mut out: Vec<String> = v.iter().take(max).cloned().collect();
    if v.len() > max {
        out.push(format!("… {} more", v.len() - max));
    }
    out.join(", ")
}

/// Every metric per variant: mean, cluster bootstrap interval, tasks and trials.
pub fn metric_lines(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for v in &r.variants {
        for m in &v.metrics {
            out.push(format!(
                "{:<22} {:<18} {:>12} {:>27} {:>6} {:>7}",
                variant_name(v),
                m.name,
                num(m.mean),
                ci_or_why(m.ci95, m.unavailable),
                m.tasks,
                m.n
            ));
        }
    }
    let why = r
        .variants
        .iter()
        .flat_map(|v| &v.metrics)
        .find_map(|m| m.unavailable);
    if let Some(why) = why {
        out.push(format!("n/a (out of range): {why}"));
    }
    out
}

/// Non-numeric metric values per variant, counted.
pub fn value_count_lines(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for v in &r.variants {
        for c in &v.value_counts {
            out.push(format!(
                "{:<22} {:<18} {:<24} {:>7} {:>6}",
                variant_name(v),
                c.name,
                c.value,
                c.trials,
                c.tasks
            ));
        }
    }
    out
}

/// Cost and tokens per variant and for the run, when agents reported them.
pub fn cost_lines(r: &Report) -> Vec<String> {
    let any = |c: &read::report::CostSummary| {
        c.cost_usd.is_some() || c.tokens_in.is_some() || c.tokens_out.is_some()
    };
    if !any(&r.cost) {
        return Vec::new();
    }
    let money = |v: Option<f64>| v.map(|x| format!("${x:.4}")).unwrap_or_else(|| "-".into());
    let count = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
    let row = |name: String, c: &read::report::CostSummary| {
        format!(
            "{:<22} {:>12} {:>12} {:>12} {:>14} {:>12}",
            name,
            money(c.cost_usd),
            money(c.cost_per_trial),
            money(c.cost_per_success),
            count(c.tokens_in),
            count(c.tokens_out)
        )
    };
    let mut out = vec![format!(
        "{:<22} {:>12} {:>12} {:>12} {:>14} {:>12}",
        "variant", "cost", "per trial", "per success", "tokens in", "tokens out"
    )];
    for v in &r.variants {
        out.push(row(variant_name(v), &v.cost));
    }
    out.push(row("run".into(), &r.cost));
    out
}

pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "report of run {} (experiment {}, {}): {}/{} slots committed{}",
        r.run_id,
        r.experiment_id,
        r.status,
        r.committed,
        r.total_slots,
        r.duration_s
            .map(|d| format!(", {d:.0} s from {}", r.started_at.as_deref().unwrap_or("?")))
            .unwrap_or_default()
    );
    let metric = r.primary_metric.as_deref().unwrap_or("(no primary metric)");
    let _ = writeln!(s, "{}\n", method_note(r));
    let _ = writeln!(s, "{}", text_row(&variant_header(metric)));
    for v in &r.variants {
        let _ = writeln!(s, "{}", text_row(&variant_cells(v)));
    }
    let metrics = metric_lines(r);
    if !metrics.is_empty() {
        let _ = writeln!(
            s,
            "\nmetrics (mean, 95% cluster bootstrap interval over tasks):\n{:<22} {:<18} {:>12} {:>27} {:>6} {:>7}",
            "variant", "metric", "mean", "95% CI", "tasks", "trials"
        );
        for l in metrics {
            let _ = writeln!(s, "{l}");
        }
    }
    let values = value_count_lines(r);
    if !values.is_empty() {
        let _ = writeln!(
            s,
            "\nnon-numeric metrics (scored trials by value):\n{:<22} {:<18} {:<24} {:>7} {:>6}",
            "variant", "metric", "value", "trials", "tasks"
        );
        for l in values {
            let _ = writeln!(s, "{l}");
        }
    }
    let cost = cost_lines(r);
    if !cost.is_empty() {
        let _ = writeln!(s, "\ncost and tokens (scored trials):");
        for l in cost {
            let _ = writeln!(s, "{l}");
        }
    }
    for c in &r.comparisons {
        let _ = writeln!(s, "\n{} vs {}:", c.variant_id, c.baseline_id);
        for l in comparison_lines(c) {
            let _ = writeln!(s, "  {l}");
        }
        let _ = writeln!(
            s,
            "  pairs gained (baseline failed, {} succeeded): {}",
            c.variant_id,
            flips(&c.gained, 12)
        );
        let _ = writeln!(
            s,
            "  pairs lost (baseline succeeded, {} failed): {}",
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
        "Experiment `{}`, status **{}**, {}/{} slots committed.\n\n{}\n",
        r.experiment_id,
        r.status,
        r.committed,
        r.total_slots,
        method_note(r)
    );
    let _ = writeln!(s, "## Variants\n");
    let md_row = |cells: [String; VARIANT_COLUMNS]| {
        let cells: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
        format!("| {} |", cells.join(" | "))
    };
    let _ = writeln!(s, "{}", md_row(variant_header(metric)));
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|"
    );
    for v in &r.variants {
        let _ = writeln!(s, "{}", md_row(variant_cells(v)));
    }
    let metrics = metric_lines(r);
    if !metrics.is_empty() {
        let _ = writeln!(s, "\n## Metrics (95% cluster bootstrap over tasks)\n\n```");
        for l in metrics {
            let _ = writeln!(s, "{l}");
        }
        let _ = writeln!(s, "```");
    }
    let values = value_count_lines(r);
    if !values.is_empty() {
        let _ = writeln!(
            s,
            "\n## Non-numeric metrics (scored trials by value)\n\n```"
        );
        for l in values {
            let _ = writeln!(s, "{l}");
        }
        let _ = writeln!(s, "```");
    }
    let cost = cost_lines(r);
    if !cost.is_empty() {
        let _ = writeln!(s, "\n## Cost and tokens\n\n```");
        for l in cost {
            let _ = writeln!(s, "{l}");
        }
        let _ = writeln!(s, "```");
    }
    if !r.comparisons.is_empty() {
        let _ = writeln!(
            s,
            "\n## Against the baseline `{}` (over tasks)\n",
            r.baseline_id
        );
        let _ = writeln!(
            s,
            "| variant | tasks | Δ success | 95% CI | test | p | Holm p | sign-flip p | MDE (80%) | tasks needed | McNemar p (pairs) | Δ {metric} | 95% CI |"
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        for c in &r.comparisons {
            let k = ComparisonCells::of(c);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md_cell(&c.variant_id),
                c.tasks,
                k.delta,
                k.ci,
                k.test,
                k.p,
                k.holm,
                k.sign_flip,
                k.mde,
                k.tasks_needed,
                k.mcnemar,
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
            for l in comparison_lines(c) {
                let _ = writeln!(s, "- {}", md_cell(&l));
            }
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
