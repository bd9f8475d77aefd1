//! The projections against an independent, simple model of a run.
//!
//! `fold_equivalence` shows that every way of folding agrees with every other; this
//! shows the fold computes the right thing. The model below reads the same generated
//! event sequences (see `sim`) with nothing but the rules stated in ARCHITECTURE.md:
//! a slot counts once, when committed; success resets its variant's failure streak, an
//! agent failure grows it, an infrastructure fault or an operator's cancel leaves it
//! alone and stays out of metric sums and success rates; a variant is pruned once its streak reaches the limit, after which its
//! slots are skipped; `worker_lost` with `retry` is counted as re-run, never committed.

mod sim;

use journal::event::*;
use journal::projection::Changes;
use journal::projection::{Aggregate, RunStatus};
use journal::{Projections, StoredEvent};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default, Clone, PartialEq)]
struct ModelAgg {
    committed: u64,
    succeeded: u64,
    skipped: u64,
    infra: u64,
    cancelled: u64,
    infra_retried: u64,
    by_class: BTreeMap<String, u64>,
    sums: BTreeMap<String, f64>,
    counts: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
struct Model {
    variant_of_slot: Vec<String>,
    limit: Option<u32>,
    /// Outcome waiting for its commit: classification and metrics.
    pending: BTreeMap<u64, (Classification, BTreeMap<String, f64>)>,
    per_variant: BTreeMap<String, ModelAgg>,
    streak: BTreeMap<String, u32>,
    pruned: BTreeSet<String>,
    commits: u64,
    status: &'static str,
}

impl Model {
    fn apply(&mut self, e: &Event) {
        match e {
            Event::RunCreated(rc) => {
                self.variant_of_slot = rc
                    .schedule
                    .iter()
                    .map(|s| rc.variant_ids[s.variant_idx()].clone())
                    .collect();
                self.limit = rc.pruning.max_consecutive_failures;
                for v in &rc.variant_ids {
                    self.per_variant.insert(v.clone(), ModelAgg::default());
                    self.streak.insert(v.clone(), 0);
                }
                self.status = "running";
            }
            Event::TrialCompleted(c) => {
                self.pending
                    .insert(c.schedule_idx, (c.classification, c.metrics.clone()));
            }
            Event::WorkerLost(w) if w.retry => {
                let v = self.variant_of_slot[w.schedule_idx as usize].clone();
                self.per_variant.get_mut(&v).unwrap().infra_retried += 1;
            }
            Event::WorkerLost(w) => {
                self.pending
                    .insert(w.schedule_idx, (w.classification, BTreeMap::new()));
            }
            Event::SlotCommitted(c) => {
                assert_eq!(c.schedule_idx, self.commits, "commits in schedule order");
                let v = self.variant_of_slot[c.schedule_idx as usize].clone();
                let (class, metrics) = self
                    .pending
                    .remove(&c.schedule_idx)
                    .expect("outcome before commit");
                let a = self.per_variant.get_mut(&v).unwrap();
                a.committed += 1;
                *a.by_class.entry(class.as_str().into()).or_default() += 1;
                let streak = self.streak.get_mut(&v).unwrap();
                if class.is_infra() {
                    a.infra += 1;
                } else if class == Classification::Cancelled {
                    a.cancelled += 1;
                } else {
                    if class.is_success() {
                        a.succeeded += 1;
                        *streak = 0;
                    } else {
                        *streak += 1;
                    }
                    for (k, x) in metrics {
                        *a.sums.entry(k.clone()).or_default() += x;
                        *a.counts.entry(k).or_default() += 1;
                    }
                }
                if self.limit.is_some_and(|l| *streak >= l) {
                    self.pruned.insert(v);
                }
                self.commits += 1;
            }
            Event::SlotSkippedPruned(s) => {
                assert_eq!(s.schedule_idx, self.commits, "skips in schedule order");
                let v = self.variant_of_slot[s.schedule_idx as usize].clone();
                assert!(
                    self.pruned.contains(&v),
                    "slot {} of unpruned {v} skipped",
                    s.schedule_idx
                );
                let a = self.per_variant.get_mut(&v).unwrap();
                a.committed += 1;
                a.skipped += 1;
                self.commits += 1;
            }
            Event::RunCompleted(_) => self.status = "completed",
            Event::RunFailed(_) => self.status = "failed",
            Event::RunKilled(_) => self.status = "killed",
            Event::RunPaused(_) => self.status = "paused",
            Event::RunInterrupted(_) => self.status = "interrupted",
            Event::ResumeRequested(_) => self.status = "running",
            _ => {}
        }
    }
}

fn same(model: &ModelAgg, agg: &Aggregate, what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(model.committed, agg.committed, "{} committed", what);
    prop_assert_eq!(model.succeeded, agg.succeeded, "{} succeeded", what);
    prop_assert_eq!(model.skipped, agg.skipped_pruned, "{} skipped", what);
    prop_assert_eq!(model.infra, agg.infra, "{} infra", what);
    prop_assert_eq!(model.cancelled, agg.cancelled, "{} cancelled", what);
    prop_assert_eq!(
        model.infra_retried,
        agg.infra_retried,
        "{} infra_retried",
        what
    );
    prop_assert_eq!(&model.by_class, &agg.by_classification, "{} by class", what);
    prop_assert_eq!(&model.counts, &agg.metric_counts, "{} metric counts", what);
    for (k, s) in &model.sums {
        let got = agg.metric_sums.get(k).copied().unwrap_or(f64::NAN);
        prop_assert!(
            (s - got).abs() <= 1e-9 * s.abs().max(1.0),
            "{} sum {}: {} vs {}",
            what,
            k,
            s,
            got
        );
    }
    let scored = model.committed - model.skipped - model.infra - model.cancelled;
    let rate = (scored > 0).then(|| model.succeeded as f64 / scored as f64);
    prop_assert_eq!(rate, agg.success_rate(), "{} success rate", what);
    Ok(())
}

fn check(case: sim::Case) -> Result<(), TestCaseError> {
    let events = sim::generate(&case);
    let mut proj = Projections::new();
    let mut model = Model::default();
    for (idx, event) in events.into_iter().enumerate() {
        model.apply(&event);
        let se = StoredEvent {
            idx: idx as u64,
            ts: "2025-01-01T00:00:00Z".into(),
            event,
            hash: [0; 32],
        };
        proj.apply(&se, &mut Changes::fold_only())
            .map_err(|e| TestCaseError::fail(format!("fold refused event {idx}: {e}")))?;
    }
    prop_assert_eq!(model.commits, proj.progress.next_commit_idx);
    prop_assert_eq!(
        &model.pruned,
        &proj.progress.pruned_variants,
        "pruned variants"
    );
    prop_assert_eq!(
        &model.streak,
        &proj.progress.consecutive_failures,
        "streaks"
    );
    prop_assert_eq!(model.status, proj.control.status.as_str(), "status");
    let mut overall = ModelAgg::default();
    for (v, m) in &model.per_variant {
        same(m, &proj.aggregates.variants[v], v)?;
        overall.committed += m.committed;
        overall.succeeded += m.succeeded;
        overall.skipped += m.skipped;
        overall.infra += m.infra;
        overall.cancelled += m.cancelled;
        overall.infra_retried += m.infra_retried;
        for (k, n) in &m.by_class {
            *overall.by_class.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &m.counts {
            *overall.counts.entry(k.clone()).or_default() += n;
        }
        for (k, x) in &m.sums {
            *overall.sums.entry(k.clone()).or_default() += x;
        }
    }
    same(&overall, &proj.aggregates.overall, "overall")?;
    if proj.control.status == RunStatus::Completed {
        prop_assert_eq!(proj.progress.next_commit_idx, proj.progress.total_slots);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn projections_match_an_independent_model(case in sim::case()) {
        check(case)?;
    }
}

/// The model is not vacuous: over fixed seeds it sees pruning, skips, infra faults,
/// re-runs and all three ends.
#[test]
fn model_cases_reach_pruning_infra_and_every_end() {
    let (mut pruned, mut skipped, mut infra, mut retried) = (false, false, false, false);
    let mut cancelled = false;
    let mut ends = BTreeSet::new();
    for seed in 0..96u32 {
        let tape: Vec<u32> = (0..500u32)
            .map(|i| {
                (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)).rotate_left(seed % 29)
            })
            .collect();
        let case = sim::Case {
            variants: 2 + seed % 2,
            tasks: 3 + seed % 4,
            repls: 1 + seed % 2,
            max_concurrency: 1 + seed % 4,
            prune_after: (seed % 4 != 0).then_some(1 + seed % 3),
            tape,
            drain: seed % 3 == 0,
            end: (seed % 3) as u8,
            metric_denominator: 8.0,
            batch_sizes: vec![1],
            prefixes: Vec::new(),
        };
        check(case.clone()).unwrap();
        for e in sim::generate(&case) {
            match e {
                Event::VariantPruned(_) => pruned = true,
                Event::SlotSkippedPruned(_) => skipped = true,
                Event::SlotCommitted(c) if c.classification.is_infra() => infra = true,
                Event::SlotCommitted(c) if c.classification == Classification::Cancelled => {
                    cancelled = true
                }
                Event::WorkerLost(w) if w.retry => retried = true,
                Event::RunCompleted(_) => {
                    ends.insert("completed");
                }
                Event::RunFailed(_) => {
                    ends.insert("failed");
                }
                Event::RunKilled(_) => {
                    ends.insert("killed");
                }
                _ => {}
            }
        }
    }
    assert!(
        pruned && skipped && infra && retried && cancelled,
        "pruned {pruned} skipped {skipped} infra {infra} retried {retried} cancelled {cancelled}"
    );
    assert_eq!(ends.len(), 3, "{ends:?}");
}
