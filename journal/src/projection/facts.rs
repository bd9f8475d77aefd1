//! The rows the fold appends to the fact tables, and each table's columns, declared
//! once here: the materializer (`materialize.rs`) inserts [`FactRow::values`], the typed
//! reads (`store/facts.rs`) return [`FactTrial`], and `labj export` prints
//! [`FactTable::columns`] with the same values (a test checks the columns against the
//! migrations' tables).

use crate::event::{Classification, SlotStatus};

/// The tables the fold appends rows to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactTable {
    Slots,
    Trials,
    Metrics,
    TrialEvents,
    VariantSnapshots,
    Evidence,
    ChainStates,
}

impl FactTable {
    pub const ALL: [FactTable; 7] = [
        FactTable::Slots,
        FactTable::Trials,
        FactTable::Metrics,
        FactTable::TrialEvents,
        FactTable::VariantSnapshots,
        FactTable::Evidence,
        FactTable::ChainStates,
    ];

    /// The SQL table.
    pub fn name(self) -> &'static str {
        match self {
            FactTable::Slots => "proj_slots",
            FactTable::Trials => "fact_trials",
            FactTable::Metrics => "fact_metrics",
            FactTable::TrialEvents => "fact_trial_events",
            FactTable::VariantSnapshots => "fact_variant_snapshots",
            FactTable::Evidence => "fact_evidence",
            FactTable::ChainStates => "fact_chain_states",
        }
    }

    /// The SQL table's columns, in order: the order of [`FactRow::values`].
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            FactTable::Slots => &[
                "schedule_idx",
                "trial_id",
                "variant_id",
                "status",
                "classification",
            ],
            FactTable::Trials => &[
                "schedule_idx",
                "trial_id",
                "variant_id",
                "task_id",
                "repl_idx",
                "status",
                "classification",
                "outcome",
                "primary_metric",
                "attempts",
            ],
            FactTable::Metrics => &["schedule_idx", "trial_id", "variant_id", "name", "value"],
            FactTable::TrialEvents => &[
                "schedule_idx",
                "seq",
                "trial_id",
                "kind",
                "classification",
                "exit_code",
                "detail",
            ],
            FactTable::VariantSnapshots => &[
                "schedule_idx",
                "variant_id",
                "committed",
                "succeeded",
                "failed",
                "consecutive_failures",
                "pruned",
            ],
            FactTable::Evidence => &[
                "schedule_idx",
                "seq",
                "trial_id",
                "class",
                "path",
                "digest",
                "bytes",
            ],
            FactTable::ChainStates => &[
                "schedule_idx",
                "trial_id",
                "variant_id",
                "chain_id",
                "state_digest",
            ],
        }
    }
}

/// One column value as SQLite stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FactValue<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

impl<'a> FactValue<'a> {
    fn text(s: &'a Option<String>) -> FactValue<'a> {
        s.as_deref().map_or(FactValue::Null, FactValue::Text)
    }

    fn int(v: u64) -> FactValue<'a> {
        FactValue::Int(v.min(i64::MAX as u64) as i64)
    }
}

/// One row of `fact_trials`: a committed slot.
#[derive(Debug, Clone, PartialEq)]
pub struct FactTrial {
    pub schedule_idx: u64,
    pub trial_id: String,
    pub variant_id: String,
    pub task_id: String,
    pub repl_idx: u32,
    pub status: SlotStatus,
    /// `None` for a slot skipped because its variant was pruned (stored as `none`).
    pub classification: Option<Classification>,
    pub outcome: Option<String>,
    pub primary_metric: Option<f64>,
    pub attempts: u32,
}

impl FactTrial {
    /// The row's values in [`FactTable::Trials`] column order.
    pub fn values(&self) -> Vec<FactValue<'_>> {
        vec![
            FactValue::int(self.schedule_idx),
            FactValue::Text(&self.trial_id),
            FactValue::Text(&self.variant_id),
            FactValue::Text(&self.task_id),
            FactValue::Int(self.repl_idx.into()),
            FactValue::Text(self.status.as_str()),
            FactValue::Text(self.classification.map_or("none", |c| c.as_str())),
            FactValue::text(&self.outcome),
            self.primary_metric.map_or(FactValue::Null, FactValue::Real),
            FactValue::Int(self.attempts.into()),
        ]
    }
}

/// A row appended to a fact table at commit time.
#[derive(Debug, Clone, PartialEq)]
pub enum FactRow {
    Slot {
        schedule_idx: u64,
        trial_id: String,
        variant_id: String,
        status: SlotStatus,
        classification: Option<Classification>,
    },
    Trial(FactTrial),
    Metric {
        schedule_idx: u64,
        trial_id: String,
        variant_id: String,
        name: String,
        value: f64,
    },
    TrialEvent {
        schedule_idx: u64,
        seq: u32,
        trial_id: String,
        kind: String,
        classification: Option<Classification>,
        exit_code: Option<i32>,
        detail: Option<String>,
    },
    VariantSnapshot {
        schedule_idx: u64,
        variant_id: String,
        committed: u64,
        succeeded: u64,
        failed: u64,
        consecutive_failures: u32,
        pruned: bool,
    },
    Evidence {
        schedule_idx: u64,
        seq: u32,
        trial_id: String,
        class: String,
        path: String,
        digest: String,
        bytes: u64,
    },
    ChainState {
        schedule_idx: u64,
        trial_id: String,
        variant_id: String,
        chain_id: String,
        state_digest: String,
    },
}

impl FactRow {
    /// The table the row goes to.
    pub fn table(&self) -> FactTable {
        match self {
            FactRow::Slot { .. } => FactTable::Slots,
            FactRow::Trial(_) => FactTable::Trials,
            FactRow::Metric { .. } => FactTable::Metrics,
            FactRow::TrialEvent { .. } => FactTable::TrialEvents,
            FactRow::VariantSnapshot { .. } => FactTable::VariantSnapshots,
            FactRow::Evidence { .. } => FactTable::Evidence,
            FactRow::ChainState { .. } => FactTable::ChainStates,
        }
    }

    /// The row's values in its table's column order ([`FactTable::columns`]).
    pub fn values(&self) -> Vec<FactValue<'_>> {
        use FactValue as V;
        match self {
            FactRow::Slot {
                schedule_idx,
                trial_id,
                variant_id,
                status,
                classification,
            } => vec![
                V::int(*schedule_idx),
                V::Text(trial_id),
                V::Text(variant_id),
                V::Text(status.as_str()),
                V::Text(classification.map_or("none", |c| c.as_str())),
            ],
            FactRow::Trial(t) => t.values(),
            FactRow::Metric {
                schedule_idx,
                trial_id,
                variant_id,
                name,
                value,
            } => vec![
                V::int(*schedule_idx),
                V::Text(trial_id),
                V::Text(variant_id),
                V::Text(name),
                V::Real(*value),
            ],
            FactRow::TrialEvent {
                schedule_idx,
                seq,
                trial_id,
                kind,
                classification,
                exit_code,
                detail,
            } => vec![
                V::int(*schedule_idx),
                V::Int((*seq).into()),
                V::Text(trial_id),
                V::Text(kind),
                classification.map_or(V::Null, |c| V::Text(c.as_str())),
                exit_code.map_or(V::Null, |c| V::Int(c.into())),
                V::text(detail),
            ],
            FactRow::VariantSnapshot {
                schedule_idx,
                variant_id,
                committed,
                succeeded,
                failed,
                consecutive_failures,
                pruned,
            } => vec![
                V::int(*schedule_idx),
                V::Text(variant_id),
                V::int(*committed),
                V::int(*succeeded),
                V::int(*failed),
                V::Int((*consecutive_failures).into()),
                V::Int((*pruned).into()),
            ],
            FactRow::Evidence {
                schedule_idx,
                seq,
                trial_id,
                class,
                path,
                digest,
                bytes,
            } => vec![
                V::int(*schedule_idx),
                V::Int((*seq).into()),
                V::Text(trial_id),
                V::Text(class),
                V::Text(path),
                V::Text(digest),
                V::int(*bytes),
            ],
            FactRow::ChainState {
                schedule_idx,
                trial_id,
                variant_id,
                chain_id,
                state_digest,
            } => vec![
                V::int(*schedule_idx),
                V::Text(trial_id),
                V::Text(variant_id),
                V::Text(chain_id),
                V::Text(state_digest),
            ],
        }
    }
}
