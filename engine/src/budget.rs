//! What agents spent: metrics `cost_usd` and `tokens_in` + `tokens_out` of the trials
//! they completed, shown live in the progress line and by `status`.
//!
//! Spend is a pure function of the projections: committed verdicts (the aggregates'
//! metric sums) plus completions journaled but not yet committed (held back by an
//! earlier slot). Infrastructure faults and cancelled trials carry no verdict and are
//! not counted (a crashed agent reports nothing).

use journal::Projections;
use serde::Serialize;
use std::collections::BTreeMap;

pub const COST_METRIC: &str = "cost_usd";
pub const TOKENS_IN_METRIC: &str = "tokens_in";
pub const TOKENS_OUT_METRIC: &str = "tokens_out";

/// What agents reported spending, per variant and in total.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spend {
    pub cost_usd: f64,
    pub tokens: f64,
    /// Whether any trial reported a cost / a token count.
    pub reports_cost: bool,
    pub reports_tokens: bool,
    pub per_variant: BTreeMap<String, (f64, f64)>,
}

fn add(
    spend: &mut Spend,
    variant: &str,
    metrics: &BTreeMap<String, f64>,
    counts: Option<&BTreeMap<String, u64>>,
) {
    let has = |k: &str| {
        counts.map_or(metrics.contains_key(k), |c| {
            c.get(k).copied().unwrap_or(0) > 0
        })
    };
    let cost = metrics.get(COST_METRIC).copied().unwrap_or(0.0);
    let tokens = metrics.get(TOKENS_IN_METRIC).copied().unwrap_or(0.0)
        + metrics.get(TOKENS_OUT_METRIC).copied().unwrap_or(0.0);
    spend.reports_cost |= has(COST_METRIC);
    spend.reports_tokens |= has(TOKENS_IN_METRIC) || has(TOKENS_OUT_METRIC);
    spend.cost_usd += cost;
    spend.tokens += tokens;
    let v = spend.per_variant.entry(variant.to_string()).or_default();
    v.0 += cost;
    v.1 += tokens;
}

impl Spend {
    /// ` · cost $0.1234 · 5678 tokens` for what was reported, empty otherwise.
    pub fn note(&self) -> String {
        let mut s = String::new();
        if self.reports_cost {
            s.push_str(&format!(" · cost ${:.4}", self.cost_usd));
        }
        if self.reports_tokens {
            s.push_str(&format!(" · {:.0} tokens", self.tokens));
        }
        s
    }
}

/// Spend of a run from its projections (see the module note).
pub fn spend(proj: &Projections) -> Spend {
    let mut s = Spend::default();
    for (variant, a) in &proj.aggregates.variants {
        add(&mut s, variant, &a.metric_sums, Some(&a.metric_counts));
    }
    if let Some(run) = &proj.run {
        for c in proj.pending.values() {
            if !c.classification.is_verdict() {
                continue;
            }
            let Some(slot) = run.schedule.get(c.schedule_idx as usize) else {
                continue;
            };
            if let Some(v) = run.variant_ids.get(slot.variant_idx()) {
                add(&mut s, v, &c.metrics, None);
            }
        }
    }
    s
}
