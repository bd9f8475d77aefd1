//! The JSON documents the projections export: `run_control_v2`,
//! `schedule_progress_v2`, `aggregates_v2` (each has a schema in `schemas/`).

use super::*;

impl Projections {
    /// The `run_control_v2` document (validates against `schemas/run_control_v2.jsonschema`).
    pub fn run_control_doc(&self) -> Value {
        let active: serde_json::Map<String, Value> = self
            .control
            .active_trials
            .values()
            .map(|t| {
                (
                    t.trial_id.clone(),
                    json!({
                        "trial_id": t.trial_id,
                        "worker_id": t.worker_id,
                        "schedule_idx": t.schedule_idx,
                        "variant_id": t.variant_id,
                        "task_id": t.task_id,
                        "started_at": t.started_at,
                        "control": t.control,
                    }),
                )
            })
            .collect();
        json!({
            "schema_version": "run_control_v2",
            "run_id": self.run.as_ref().map(|r| r.run_id.as_str()).unwrap_or(""),
            "status": self.control.status,
            "active_trials": active,
            "pause": self.control.pause,
            "max_concurrency": self.control.max_concurrency,
            "warnings": self.control.warnings,
            "last_error": self.control.last_error,
            "updated_at": self.control.updated_at,
            "last_event_idx": self.control.last_event_idx,
        })
    }

    /// The `schedule_progress_v2` document.
    pub fn progress_doc(&self) -> Value {
        let p = &self.progress;
        let count = |s: SlotStatus| p.by_status.get(&s).copied().unwrap_or(0);
        json!({
            "schema_version": "schedule_progress_v2",
            "total_slots": p.total_slots,
            "next_commit_idx": p.next_commit_idx,
            "committed_slots": p.next_commit_idx,
            "by_status": {
                "completed": count(SlotStatus::Completed),
                "failed": count(SlotStatus::Failed),
                "skipped_pruned": count(SlotStatus::SkippedPruned),
                "worker_lost": count(SlotStatus::WorkerLost),
            },
            "pruned_variants": p.pruned_variants,
            "consecutive_failures": p.consecutive_failures,
            "in_flight": self.control.active_trials.len(),
            "pending_commit": self.pending.len(),
        })
    }

    /// The `aggregates_v2` document.
    pub fn aggregates_doc(&self) -> Value {
        let pm = self.run.as_ref().and_then(|r| r.primary_metric.as_deref());
        let variants: serde_json::Map<String, Value> = self
            .aggregates
            .variants
            .iter()
            .map(|(k, a)| (k.clone(), a.to_json(pm)))
            .collect();
        json!({
            "schema_version": "aggregates_v2",
            "overall": self.aggregates.overall.to_json(pm),
            "variants": variants,
        })
    }
}
