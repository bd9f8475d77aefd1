//! From a schedule slot to the [`TrialSpec`] a worker runs.

use super::model::Experiment;
use crate::trial::{AgentSpec, TrialSpec};
use journal::event::SlotSpec;
use serde_json::Value;
use std::path::Path;

/// Agent timeout when neither the variant, the runtime, the task nor the policy sets one.
pub(crate) const DEFAULT_AGENT_TIMEOUT_MS: u64 = 600_000;

impl Experiment {
    /// The agent of `variant_idx` for `task_idx`, overrides applied (the variant's
    /// `runtime_overrides`, then its `runtime.agent`). Timeout precedence:
    /// variant override > `runtime.agent.timeout_ms` > task `limits.trial_seconds` >
    /// `runtime.policy.timeout_ms` > `runtime.agent.default_timeout_ms` > 600 000 ms.
    ///
    /// Panics if an index is out of range (slots come from [`Experiment::schedule`]).
    pub(crate) fn effective_agent(&self, variant_idx: usize, task_idx: usize) -> AgentSpec {
        let variant = &self.variants[variant_idx];
        let task = &self.dataset.tasks[task_idx];
        let runtime = self.variant_runtime(variant_idx);
        let base = &runtime.agent;
        let mut command = variant
            .agent
            .command
            .clone()
            .unwrap_or_else(|| base.command.clone());
        command.extend(variant.agent.args.iter().cloned());
        let mut env = base.env.clone();
        env.extend(variant.agent.env.clone());
        let timeout_ms = variant
            .agent
            .timeout_ms
            .or(base.timeout_ms)
            .or(task.row.as_ref().and_then(|r| r.time_limit_ms))
            .or(task.limits.trial_seconds.map(|s| s.saturating_mul(1000)))
            .or(runtime.policy_timeout_ms)
            .or(base.default_timeout_ms)
            .unwrap_or(DEFAULT_AGENT_TIMEOUT_MS);
        AgentSpec {
            command,
            env,
            io: base.io.clone(),
            timeout_ms,
            dollar_templates: self.format == super::SourceFormat::Current,
            secret_files: self.secret_files.clone(),
            output_limit_bytes: runtime
                .policy_output_limit_bytes
                .unwrap_or(crate::trial::DEFAULT_OUTPUT_LIMIT_BYTES),
        }
    }

    /// The runtime of `variant_idx`: its `runtime_overrides` merged over `runtime`, or
    /// `runtime` itself.
    pub(crate) fn variant_runtime(&self, variant_idx: usize) -> &super::model::RuntimeSpec {
        self.variants[variant_idx]
            .runtime
            .as_ref()
            .unwrap_or(&self.runtime)
    }

    /// The dependencies document of a trial: the variant's `runtime.dependencies`, with
    /// `services` present (`[]` when not declared), as the original always wrote it.
    pub(crate) fn effective_dependencies(&self, variant_idx: usize) -> Value {
        let mut deps = self.variant_runtime(variant_idx).dependencies.clone();
        if let Value::Object(m) = &mut deps {
            m.entry("services")
                .or_insert_with(|| Value::Array(Vec::new()));
        }
        deps
    }

    /// The policy document of a trial: the variant's `runtime.policy`, `timeout_ms` set to
    /// the timeout labj enforces (the original always wrote the trial's timeout there,
    /// 600 000 ms when nothing set one), the task's limits merged under `limits` (task
    /// values win).
    pub(crate) fn effective_policy(&self, variant_idx: usize, task_idx: usize) -> Value {
        let mut policy = match &self.variant_runtime(variant_idx).policy {
            Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        let timeout_ms = self.effective_agent(variant_idx, task_idx).timeout_ms;
        policy.insert("timeout_ms".into(), timeout_ms.into());
        let limits = &self.dataset.tasks[task_idx].limits;
        if !limits.is_empty() {
            let mut merged = match policy.get("limits") {
                Some(Value::Object(m)) => m.clone(),
                _ => serde_json::Map::new(),
            };
            if let Value::Object(task_limits) =
                serde_json::to_value(limits).expect("limits always serialize")
            {
                merged.extend(task_limits);
            }
            policy.insert("limits".into(), Value::Object(merged));
        }
        Value::Object(policy)
    }

    /// The spec of the trial at `schedule_idx`. Panics if the slot's indices are out of
    /// range (slots come from [`Experiment::schedule`]).
    pub fn trial_spec(
        &self,
        schedule_idx: u64,
        slot: SlotSpec,
        run_id: &str,
        run_dir: &Path,
    ) -> TrialSpec {
        let trial_id = journal::trial_id_of(schedule_idx);
        let variant = &self.variants[slot.variant_idx()];
        let task = &self.dataset.tasks[slot.task_idx()];
        TrialSpec {
            run_id: run_id.to_string(),
            trial_dir: journal::RunDir::new(run_dir).trial_dir(&trial_id),
            trial_id,
            schedule_idx,
            variant_id: variant.id.clone(),
            task_id: task.id.clone(),
            repl_idx: slot.repl_idx(),
            task: task.payload(),
            bindings: variant.bindings.clone(),
            dependencies: self.effective_dependencies(slot.variant_idx()),
            policy: self.effective_policy(slot.variant_idx(), slot.task_idx()),
            workspace_files: task.workspace_files.clone(),
            mount_references: task.mount_references.clone(),
            dependency_files: self
                .variant_runtime(slot.variant_idx())
                .dependency_files
                .clone(),
            agent: self.effective_agent(slot.variant_idx(), slot.task_idx()),
            grader: self.grader_for(slot.task_idx()),
            required_evidence: self.agent_side_evidence(slot.task_idx()),
            retry: self.design.policies.retry.clone(),
            experiment_dir: self.dir.clone(),
            blob_dir: journal::RunDir::new(run_dir).blobs(),
            declared_metrics: self.declared_metrics.clone(),
            isolation: self.trial_isolation(slot.variant_idx(), slot.task_idx()),
        }
    }
}
