//! What agents spent (metrics `cost_usd` and `tokens_in` + `tokens_out` of the trials
//! they completed: shown live in the progress line and by `status`) and the budget caps
//! of `design.policies.budget` it reaches. The coordinator stops dispatching a scope
//! whose cap is reached (trials running finish) and journals `budget_reached`.
//!
//! Spend is a pure function of the projections: committed verdicts (the aggregates'
//! metric sums) plus completions journaled but not yet committed (held back by an
//! earlier slot). Infrastructure faults and cancelled trials carry no verdict and are
//! not counted (a crashed agent reports nothing).

use journal::event::{BudgetLimits, BudgetReached};
use journal::Projections;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The metric an agent reports its cost in, in US dollars.
pub const COST_METRIC: &str = "cost_usd";
/// The metric an agent reports its input tokens in.
pub const TOKENS_IN_METRIC: &str = "tokens_in";
/// The metric an agent reports its output tokens in.
pub const TOKENS_OUT_METRIC: &str = "tokens_out";

/// What agents reported spending, per variant and in total.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spend {
    /// The summed [`COST_METRIC`].
    pub cost_usd: f64,
    /// The summed [`TOKENS_IN_METRIC`] and [`TOKENS_OUT_METRIC`].
    pub tokens: f64,
    /// Whether any trial reported a cost.
    pub reports_cost: bool,
    /// Whether any trial reported a token count.
    pub reports_tokens: bool,
    /// Per variant id: (cost in US dollars, tokens).
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

/// The budget of an experiment: `design.policies.budget` of its resolved JSON, with
/// keys `max_cost_usd`, `max_tokens` and `per_variant: {max_cost_usd, max_tokens}`,
/// each a positive number. `Ok(None)` when there is none.
pub(crate) fn from_experiment(resolved: &Value) -> Result<Option<BudgetLimits>, String> {
    let Some(b) = resolved.pointer("/design/policies/budget") else {
        return Ok(None);
    };
    if b.is_null() {
        return Ok(None);
    }
    let at = "/design/policies/budget";
    let obj = b
        .as_object()
        .ok_or_else(|| format!("{at}: expected a mapping of caps, got {b}"))?;
    let num = |v: &Value, name: &str| -> Result<Option<f64>, String> {
        match v.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => match x.as_f64() {
                Some(n) if n > 0.0 && n.is_finite() => Ok(Some(n)),
                _ => Err(format!("{at}/{name}: expected a positive number, got {x}")),
            },
        }
    };
    let per = obj.get("per_variant").cloned().unwrap_or(Value::Null);
    if !per.is_null() && !per.is_object() {
        return Err(format!(
            "{at}/per_variant: expected a mapping of caps, got {per}"
        ));
    }
    let limits = BudgetLimits {
        max_cost_usd: num(b, "max_cost_usd")?,
        max_tokens: num(b, "max_tokens")?,
        per_variant_max_cost_usd: num(&per, "max_cost_usd")
            .map_err(|e| e.replace(at, &format!("{at}/per_variant")))?,
        per_variant_max_tokens: num(&per, "max_tokens")
            .map_err(|e| e.replace(at, &format!("{at}/per_variant")))?,
    };
    Ok((!limits.is_empty()).then_some(limits))
}

/// `continue --budget KEY=VALUE`: `max_cost_usd`, `max_tokens`,
/// `per_variant.max_cost_usd`, `per_variant.max_tokens`; `none` removes the cap.
pub(crate) fn apply_override(limits: &mut BudgetLimits, arg: &str) -> Result<(), String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("--budget {arg:?}: expected KEY=VALUE, e.g. max_cost_usd=5"))?;
    let value = match value.trim() {
        "none" => None,
        v => match v.parse::<f64>() {
            Ok(n) if n > 0.0 && n.is_finite() => Some(n),
            _ => {
                return Err(format!(
                    "--budget {arg:?}: {v:?} is not a positive number (or `none`)"
                ))
            }
        },
    };
    let slot = match key.trim() {
        "max_cost_usd" => &mut limits.max_cost_usd,
        "max_tokens" => &mut limits.max_tokens,
        "per_variant.max_cost_usd" => &mut limits.per_variant_max_cost_usd,
        "per_variant.max_tokens" => &mut limits.per_variant_max_tokens,
        other => {
            return Err(format!(
                "--budget {arg:?}: unknown cap `{other}`; caps are max_cost_usd, max_tokens, per_variant.max_cost_usd, per_variant.max_tokens"
            ))
        }
    };
    *slot = value;
    Ok(())
}

/// Every cap `spend` has reached: the run's, then each variant's (in `variants` order).
pub(crate) fn reached(
    limits: &BudgetLimits,
    spend: &Spend,
    variants: &[String],
) -> Vec<BudgetReached> {
    let mut out = Vec::new();
    let mut check =
        |scope: &str, variant: Option<&str>, measure: &str, limit: Option<f64>, spent: f64| {
            if let Some(limit) = limit {
                if spent >= limit {
                    out.push(BudgetReached {
                        scope: scope.into(),
                        variant_id: variant.map(String::from),
                        measure: measure.into(),
                        limit,
                        spent,
                    });
                }
            }
        };
    check(
        "run",
        None,
        COST_METRIC,
        limits.max_cost_usd,
        spend.cost_usd,
    );
    check("run", None, "tokens", limits.max_tokens, spend.tokens);
    for v in variants {
        let (c, t) = spend.per_variant.get(v).copied().unwrap_or((0.0, 0.0));
        check(
            "variant",
            Some(v),
            COST_METRIC,
            limits.per_variant_max_cost_usd,
            c,
        );
        check(
            "variant",
            Some(v),
            "tokens",
            limits.per_variant_max_tokens,
            t,
        );
    }
    out
}

/// One line naming a reached cap, for notices and `status`.
pub fn describe(r: &BudgetReached) -> String {
    let scope = match &r.variant_id {
        Some(v) => format!("variant {v}"),
        None => "the run".into(),
    };
    let (spent, limit) = if r.measure == COST_METRIC {
        (format!("${:.4}", r.spent), format!("${:.4}", r.limit))
    } else {
        (format!("{:.0} tokens", r.spent), format!("{:.0}", r.limit))
    };
    format!("budget reached for {scope}: {spent} of {limit}; no new trials dispatched (raise it with `labj continue --budget ...`)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn budgets_parse_and_bad_ones_are_named() {
        let e = json!({"design": {"policies": {"budget": {"max_cost_usd": 2.5, "per_variant": {"max_tokens": 1000}}}}});
        let b = from_experiment(&e).unwrap().unwrap();
        assert_eq!(b.max_cost_usd, Some(2.5));
        assert_eq!(b.per_variant_max_tokens, Some(1000.0));
        assert_eq!(from_experiment(&json!({})).unwrap(), None);
        let bad = json!({"design": {"policies": {"budget": {"max_tokens": -3}}}});
        let err = from_experiment(&bad).unwrap_err();
        assert!(
            err.contains("/design/policies/budget/max_tokens") && err.contains("positive"),
            "{err}"
        );
        let bad =
            json!({"design": {"policies": {"budget": {"per_variant": {"max_cost_usd": "x"}}}}});
        let err = from_experiment(&bad).unwrap_err();
        assert!(
            err.contains("/design/policies/budget/per_variant/max_cost_usd"),
            "{err}"
        );
    }

    #[test]
    fn overrides_set_and_remove_caps() {
        let mut b = BudgetLimits::default();
        apply_override(&mut b, "max_cost_usd=5").unwrap();
        apply_override(&mut b, "per_variant.max_tokens=300").unwrap();
        assert_eq!(
            (b.max_cost_usd, b.per_variant_max_tokens),
            (Some(5.0), Some(300.0))
        );
        apply_override(&mut b, "max_cost_usd=none").unwrap();
        assert_eq!(b.max_cost_usd, None);
        assert!(apply_override(&mut b, "max_dollars=3")
            .unwrap_err()
            .contains("unknown cap"));
        assert!(apply_override(&mut b, "max_tokens=0")
            .unwrap_err()
            .contains("positive"));
        assert!(apply_override(&mut b, "max_tokens")
            .unwrap_err()
            .contains("KEY=VALUE"));
    }

    #[test]
    fn caps_are_reached_at_the_limit_per_scope() {
        let mut s = Spend {
            cost_usd: 3.0,
            tokens: 10.0,
            ..Default::default()
        };
        s.per_variant.insert("a".into(), (2.0, 4.0));
        s.per_variant.insert("b".into(), (1.0, 6.0));
        let limits = BudgetLimits {
            max_cost_usd: Some(3.0),
            per_variant_max_tokens: Some(5.0),
            ..Default::default()
        };
        let r = reached(&limits, &s, &["a".into(), "b".into()]);
        let got: Vec<(String, Option<String>, String)> = r
            .into_iter()
            .map(|r| (r.scope, r.variant_id, r.measure))
            .collect();
        assert_eq!(
            got,
            vec![
                ("run".into(), None, "cost_usd".into()),
                ("variant".into(), Some("b".into()), "tokens".into())
            ]
        );
    }
}
