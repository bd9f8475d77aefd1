//! Commit-time folding: slot commits update progress, failure streaks and aggregates,
//! and (unless the fold is pure) produce the fact rows appended in commit order.

use super::*;

impl Projections {
    pub(super) fn mark_committed(
        &mut self,
        schedule_idx: u64,
        status: SlotStatus,
    ) -> Result<(), String> {
        if schedule_idx != self.progress.next_commit_idx {
            return Err(format!(
                "commit of slot {schedule_idx} out of order (next_commit_idx is {})",
                self.progress.next_commit_idx
            ));
        }
        let slot = self
            .progress
            .committed
            .get_mut(schedule_idx as usize)
            .ok_or_else(|| format!("slot {schedule_idx} is beyond the schedule"))?;
        *slot = Some(status);
        self.progress.lost_attempts.remove(&schedule_idx);
        *self.progress.by_status.entry(status).or_default() += 1;
        self.progress.next_commit_idx += 1;
        Ok(())
    }

    pub(super) fn commit_slot(
        &mut self,
        e: &SlotCommitted,
        changes: &mut Changes,
    ) -> Result<(), String> {
        let c = self
            .pending
            .remove(&e.schedule_idx)
            .ok_or_else(|| format!("slot {} has no completion to commit", e.schedule_idx))?;
        if c.trial_id != e.trial_id || c.classification != e.classification {
            return Err(format!(
                "slot {} commit does not match its completion ({} {:?})",
                e.schedule_idx, c.trial_id, c.classification
            ));
        }
        self.mark_committed(e.schedule_idx, e.status)?;
        let run = self.run.as_ref().expect("run_created applied");
        let slot = run.slot(e.schedule_idx).expect("slot in range");
        let variant = run.variant_ids[slot.variant_idx()].as_str();

        // The variant's entries exist from `run_created` on: no key is copied here.
        let streak = match self.progress.consecutive_failures.get_mut(variant) {
            Some(s) => s,
            None => self
                .progress
                .consecutive_failures
                .entry(variant.to_string())
                .or_default(),
        };
        *streak = run.pruning.next_streak(*streak, c.classification);
        self.aggregates.overall.record(e.status, Some(&c));
        let agg = match self.aggregates.variants.get_mut(variant) {
            Some(a) => a,
            None => self
                .aggregates
                .variants
                .entry(variant.to_string())
                .or_default(),
        };
        agg.record(e.status, Some(&c));

        if changes.skip_rows {
            return Ok(());
        }
        let variant_id = variant.to_string();
        let task_id = run.task_ids[slot.task_idx()].clone();
        let primary = run.primary_metric.clone();
        let idx = e.schedule_idx;
        let rows = &mut changes.rows;
        rows.push(FactRow::Slot {
            schedule_idx: idx,
            trial_id: c.trial_id.clone(),
            variant_id: variant_id.clone(),
            status: e.status,
            classification: Some(c.classification),
        });
        rows.push(FactRow::Trial(FactTrial {
            schedule_idx: idx,
            trial_id: c.trial_id.clone(),
            variant_id: variant_id.clone(),
            task_id,
            repl_idx: slot.repl_idx(),
            status: e.status,
            classification: Some(c.classification),
            outcome: c.outcome.clone(),
            primary_metric: primary.as_ref().and_then(|m| c.metrics.get(m).copied()),
            attempts: c.attempts.len() as u32,
        }));
        for (name, value) in &c.metrics {
            rows.push(FactRow::Metric {
                schedule_idx: idx,
                trial_id: c.trial_id.clone(),
                variant_id: variant_id.clone(),
                name: name.clone(),
                value: *value,
            });
        }
        for (seq, a) in c.attempts.iter().enumerate() {
            rows.push(FactRow::TrialEvent {
                schedule_idx: idx,
                seq: seq as u32,
                trial_id: c.trial_id.clone(),
                kind: "attempt".into(),
                classification: Some(a.classification),
                exit_code: a.exit_code,
                detail: a.detail.clone(),
            });
        }
        if c.attempts.is_empty() {
            rows.push(FactRow::TrialEvent {
                schedule_idx: idx,
                seq: 0,
                trial_id: c.trial_id.clone(),
                kind: c.classification.as_str().into(),
                classification: Some(c.classification),
                exit_code: None,
                detail: c.error.clone(),
            });
        }
        for (seq, ev) in c.evidence.iter().enumerate() {
            rows.push(FactRow::Evidence {
                schedule_idx: idx,
                seq: seq as u32,
                trial_id: c.trial_id.clone(),
                class: ev.class.clone(),
                path: ev.path.clone(),
                digest: ev.digest.clone(),
                bytes: ev.bytes,
            });
        }
        if let Some(cs) = &c.chain_state {
            rows.push(FactRow::ChainState {
                schedule_idx: idx,
                trial_id: c.trial_id.clone(),
                variant_id: variant_id.clone(),
                chain_id: cs.chain_id.clone(),
                state_digest: cs.state_digest.clone(),
            });
        }
        self.push_snapshot(idx, &variant_id, changes);
        Ok(())
    }

    pub(super) fn skip_slot(
        &mut self,
        e: &SlotSkippedPruned,
        changes: &mut Changes,
    ) -> Result<(), String> {
        let run = self.run.as_ref().expect("run_created applied");
        let variant_id = run
            .variant_of(e.schedule_idx)
            .ok_or_else(|| format!("slot {} is beyond the schedule", e.schedule_idx))?
            .to_string();
        if variant_id != e.variant_id {
            return Err(format!("slot {} belongs to {variant_id}", e.schedule_idx));
        }
        if !self.progress.pruned_variants.contains(&variant_id) {
            return Err(format!("variant {variant_id} is not pruned"));
        }
        let slot = run.slot(e.schedule_idx).expect("in range");
        let task_id = if changes.skip_rows {
            String::new()
        } else {
            run.task_ids[slot.task_idx()].clone()
        };
        self.mark_committed(e.schedule_idx, SlotStatus::SkippedPruned)?;
        self.aggregates
            .overall
            .record(SlotStatus::SkippedPruned, None);
        self.aggregates
            .variants
            .entry(variant_id.clone())
            .or_default()
            .record(SlotStatus::SkippedPruned, None);
        if changes.skip_rows {
            return Ok(());
        }
        changes.rows.push(FactRow::Slot {
            schedule_idx: e.schedule_idx,
            trial_id: e.trial_id.clone(),
            variant_id: variant_id.clone(),
            status: SlotStatus::SkippedPruned,
            classification: None,
        });
        changes.rows.push(FactRow::Trial(FactTrial {
            schedule_idx: e.schedule_idx,
            trial_id: e.trial_id.clone(),
            variant_id: variant_id.clone(),
            task_id,
            repl_idx: slot.repl_idx(),
            status: SlotStatus::SkippedPruned,
            classification: None,
            outcome: None,
            primary_metric: None,
            attempts: 0,
        }));
        self.push_snapshot(e.schedule_idx, &variant_id, changes);
        Ok(())
    }

    pub(super) fn push_snapshot(&self, schedule_idx: u64, variant_id: &str, changes: &mut Changes) {
        let agg = &self.aggregates.variants[variant_id];
        changes.rows.push(FactRow::VariantSnapshot {
            schedule_idx,
            variant_id: variant_id.to_string(),
            committed: agg.committed,
            succeeded: agg.succeeded,
            failed: agg.unsuccessful(),
            consecutive_failures: self.progress.consecutive_failures[variant_id],
            pruned: self.progress.pruned_variants.contains(variant_id),
        });
    }
}
