//! One variant against the baseline, over the tasks both scored: the differences per
//! task and the tests, intervals and power computed over them.

use super::*;

pub(super) fn task_diffs(
    base: &ByTask<'_>,
    var: &ByTask<'_>,
    value: impl Fn(&TrialRow) -> Option<f64>,
) -> TaskDiffs {
    let mut t = TaskDiffs::default();
    for (task, brows) in base {
        let Some(vrows) = var.get(task) else { continue };
        let b: Vec<f64> = brows.iter().filter_map(|r| value(r)).collect();
        let v: Vec<f64> = vrows.iter().filter_map(|r| value(r)).collect();
        if b.is_empty() || v.is_empty() {
            continue;
        }
        t.tasks.push(task.to_string());
        t.diffs.push(mean_of(&v) - mean_of(&b));
        t.reps.push((b.len(), v.len()));
        t.base.push(b);
        t.var.push(v);
    }
    t
}

pub(super) fn power_of(t: &TaskDiffs) -> clustered::PowerAnalysis {
    clustered::power_analysis(
        &t.diffs,
        clustered::variance_components(&t.base).within,
        clustered::variance_components(&t.var).within,
        &t.reps,
    )
}

pub(super) fn compare(
    baseline_id: &str,
    base: &[&TrialRow],
    variant_id: &str,
    var: &[&TrialRow],
    pm: Option<&str>,
    defs: &[MetricDef],
    boot: BootstrapOptions,
) -> Comparison {
    let key = |r: &TrialRow| (r.task_id.clone(), r.repl_idx);
    let base_by: BTreeMap<(String, u32), &TrialRow> = base.iter().map(|r| (key(r), *r)).collect();
    let var_by: BTreeMap<(String, u32), &TrialRow> = var.iter().map(|r| (key(r), *r)).collect();
    let all_keys: std::collections::BTreeSet<&(String, u32)> =
        base_by.keys().chain(var_by.keys()).collect();
    let mut c = Comparison {
        variant_id: variant_id.to_string(),
        baseline_id: baseline_id.to_string(),
        pairs: 0,
        excluded_pairs: 0,
        both_succeeded: 0,
        both_failed: 0,
        baseline_only: 0,
        variant_only: 0,
        mcnemar_p: 1.0,
        success_rate_diff: None,
        tasks: 0,
        over_tasks: None,
        test: "mcnemar",
        p_value: 1.0,
        p_holm: 1.0,
        power: None,
        tasks_gained: Vec::new(),
        tasks_lost: Vec::new(),
        metric_pairs: 0,
        metric_diff: None,
        metric_diff_ci95: None,
        metrics: Vec::new(),
        metrics_out_of_range: Vec::new(),
        gained: Vec::new(),
        lost: Vec::new(),
    };
    for k in all_keys {
        let (Some(b), Some(v)) = (base_by.get(k), var_by.get(k)) else {
            c.excluded_pairs += 1;
            continue;
        };
        if !b.is_scored() || !v.is_scored() {
            c.excluded_pairs += 1;
            continue;
        }
        c.pairs += 1;
        let flip = Flip {
            task_id: k.0.clone(),
            repl_idx: k.1,
        };
        match (b.is_success(), v.is_success()) {
            (true, true) => c.both_succeeded += 1,
            (false, false) => c.both_failed += 1,
            (true, false) => {
                c.baseline_only += 1;
                c.lost.push(flip);
            }
            (false, true) => {
                c.variant_only += 1;
                c.gained.push(flip);
            }
        }
    }
    c.mcnemar_p = stats::mcnemar_exact(c.baseline_only, c.variant_only);
    if c.pairs > 0 {
        c.success_rate_diff =
            Some((c.variant_only as f64 - c.baseline_only as f64) / c.pairs as f64);
    }
    let (bt, vt) = (by_task(base), by_task(var));
    let td = task_diffs(&bt, &vt, success);
    c.tasks = td.diffs.len() as u64;
    for (task, d) in td.tasks.iter().zip(&td.diffs) {
        if *d > 0.0 {
            c.tasks_gained.push(task.clone());
        } else if *d < 0.0 {
            c.tasks_lost.push(task.clone());
        }
    }
    c.over_tasks = clustered::paired_over_tasks(&td.diffs, boot.seed);
    let one_replication = td.reps.iter().all(|(b, v)| *b == 1 && *v == 1);
    match (&c.over_tasks, one_replication) {
        (Some(t), false) if t.t_p.is_some() => {
            c.test = "paired_t";
            c.p_value = t.t_p.unwrap_or(1.0);
        }
        _ => {
            c.test = "mcnemar";
            c.p_value = c.mcnemar_p;
        }
    }
    if !td.diffs.is_empty() {
        c.power = Some(power_of(&td));
    }
    let names: std::collections::BTreeSet<&str> = bt
        .values()
        .chain(vt.values())
        .flatten()
        .flat_map(|r| r.metrics.keys().map(String::as_str))
        .collect();
    for name in names {
        let md = task_diffs(&bt, &vt, |r| r.metrics.get(name).copied());
        let Some(test) = clustered::paired_over_tasks(&md.diffs, boot.seed) else {
            if !md.diffs.is_empty() {
                c.metrics_out_of_range.push(name.to_string());
            }
            continue;
        };
        if Some(name) == pm {
            c.metric_pairs = md.diffs.len() as u64;
            c.metric_diff = Some(test.mean);
            c.metric_diff_ci95 = stats::bootstrap_mean_ci(&md.diffs, boot.resamples, boot.seed);
        }
        c.metrics.push(MetricComparison {
            unavailable: (test.tasks >= 2 && (test.ci95.is_none() || test.sd.is_none()))
                .then_some(OUT_OF_RANGE),
            name: name.to_string(),
            direction: direction_of(defs, name),
            power: power_of(&md),
            test,
        });
    }
    c
}
