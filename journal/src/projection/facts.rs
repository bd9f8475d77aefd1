//! The rows the fold appends to the fact tables, and each table's columns, declared
//! once here: the materializer (`materialize.rs`) inserts [`FactRow::values`], the typed
//! reads (`store/facts.rs`) return [`FactTrial`], and `labj export` prints
//! [`FactTable::columns`] with the same values (a test checks the columns against the
//! migrations' tables).

use crate::event::{Classification, SlotStatus};

/// The tables the fold appends rows to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactTable {
    /// `proj_slots`: each committed slot's status.
    Slots,
    /// `fact_trials`: one row per committed slot ([`FactTrial`]).
    Trials,
    /// `fact_metrics`: one row per numeric metric of a committed trial.
    Metrics,
    /// `fact_trial_events`: one row per attempt of a committed trial.
    TrialEvents,
    /// `fact_variant_snapshots`: the variant's counts after each of its commits.
    VariantSnapshots,
    /// `fact_evidence`: one row per evidence file of a committed trial.
    Evidence,
    /// `fact_chain_states`: the chain state a committed trial left.
    ChainStates,
}

impl FactTable {
    /// Every fact table, in the order above.
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
    /// `NULL`.
    Null,
    /// An integer (counts and indices above `i64::MAX` are stored as `i64::MAX`).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text, borrowed from the row.
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
    /// The slot.
    pub schedule_idx: u64,
    /// Its trial.
    pub trial_id: String,
    /// Its variant.
    pub variant_id: String,
    /// Its task.
    pub task_id: String,
    /// Its replication.
    pub repl_idx: u32,
    /// What the slot holds.
    pub status: SlotStatus,
    /// `None` for a slot skipped because its variant was pruned (stored as `none`).
    pub classification: Option<Classification>,
    /// The result's outcome label, when it gave one.
    pub outcome: Option<String>,
    /// The run's primary metric as this trial reported it.
    pub primary_metric: Option<f64>,
    /// Attempts inside the trial's dispatch (0 for a skipped slot, and for a trial
    /// committed as lost without a worker's report).
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
    /// A `proj_slots` row.
    Slot {
        /// The slot.
        schedule_idx: u64,
        /// Its trial.
        trial_id: String,
        /// Its variant.
        variant_id: String,
        /// What it holds.
        status: SlotStatus,
        /// Its classification; `None` for a skipped slot.
        classification: Option<Classification>,
    },
    /// A `fact_trials` row.
    Trial(FactTrial),
    /// A `fact_metrics` row: one numeric metric of a trial.
    Metric {
        /// The slot.
        schedule_idx: u64,
        /// Its trial.
        trial_id: String,
        /// Its variant.
        variant_id: String,
        /// The metric's name.
        name: String,
        /// Its value.
        value: f64,
    },
    /// A `fact_trial_events` row: one attempt of a trial (or, for a trial without
    /// attempts, the infrastructure outcome that ended it).
    TrialEvent {
        /// The slot.
        schedule_idx: u64,
        /// The attempt's position, from 0.
        seq: u32,
        /// Its trial.
        trial_id: String,
        /// `attempt`, or the classification of a trial without attempts.
        kind: String,
        /// How the attempt ended.
        classification: Option<Classification>,
        /// The agent's exit status, when it exited.
        exit_code: Option<i32>,
        /// What went wrong, in words.
        detail: Option<String>,
    },
    /// A `fact_variant_snapshots` row: a variant's counts after one of its commits.
    VariantSnapshot {
        /// The slot whose commit this follows.
        schedule_idx: u64,
        /// The variant.
        variant_id: String,
        /// Its committed slots.
        committed: u64,
        /// Those that succeeded.
        succeeded: u64,
        /// Its scored slots that did not succeed.
        failed: u64,
        /// Its pruning streak.
        consecutive_failures: u32,
        /// Whether it is pruned.
        pruned: bool,
    },
    /// A `fact_evidence` row: one evidence file of a trial.
    Evidence {
        /// The slot.
        schedule_idx: u64,
        /// The file's position in the trial's evidence, from 0.
        seq: u32,
        /// Its trial.
        trial_id: String,
        /// What kind of evidence it is.
        class: String,
        /// Its path relative to the run directory.
        path: String,
        /// blake3 hex digest of its content.
        digest: String,
        /// Its size.
        bytes: u64,
    },
    /// A `fact_chain_states` row: the chain state a trial left.
    ChainState {
        /// The slot.
        schedule_idx: u64,
        /// Its trial.
        trial_id: String,
        /// Its variant.
        variant_id: String,
        /// The chain.
        chain_id: String,
        /// Digest of the state.
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
