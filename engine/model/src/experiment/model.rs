//! The typed experiment and its read-only accessors.

use super::dataset::Task;
use super::policy::{ConcurrencyPolicy, Design, SchedulingPolicy, StatePolicy};
use super::ExperimentError;
use crate::isolation::{Enforcement, IsolationPolicy};
use crate::trial::{AgentIo, DependencyFile, GraderContract, GraderSpec, RetrySpec};
use journal::event::PruningSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The resolved-experiment shape a document declared in its top-level `version`. The
/// original runner read 0.3, 0.4 and 0.5 documents with the same rules (`runtime.agent`);
/// labj does too, each validated by its own schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SchemaVersion {
    #[serde(rename = "0.3")]
    V0_3,
    #[serde(rename = "0.4")]
    V0_4,
    #[serde(rename = "0.5")]
    V0_5,
}

impl SchemaVersion {
    pub(crate) fn parse(s: &str) -> Option<SchemaVersion> {
        match s {
            "0.3" => Some(SchemaVersion::V0_3),
            "0.4" => Some(SchemaVersion::V0_4),
            "0.5" => Some(SchemaVersion::V0_5),
            _ => None,
        }
    }
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            SchemaVersion::V0_3 => "0.3",
            SchemaVersion::V0_4 => "0.4",
            SchemaVersion::V0_5 => "0.5",
        }
    }
    /// Name of the schema in [`crate::schemas`] that validates this version.
    pub(crate) fn schema_name(&self) -> &'static str {
        match self {
            SchemaVersion::V0_3 => "resolved_experiment_v0_3",
            SchemaVersion::V0_4 => "resolved_experiment_v0_4",
            SchemaVersion::V0_5 => "resolved_experiment_v0_5",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExperimentMeta {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// Recorded labels (the original's SDK writes them): journaled with the document
    /// and shown by `describe`; no behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<String>,
}

/// `dataset` after loading: where it was read from and its tasks, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `dataset.path` as written in the experiment.
    pub(crate) declared_path: String,
    /// The file actually read (resolved against the experiment's directory).
    pub path: PathBuf,
    pub(crate) limit: Option<usize>,
    pub(crate) tasks: Vec<Task>,
}

/// A variant's `runtime.agent` overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AgentOverride {
    /// Replaces the experiment's agent command (a list, or one string = one token).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::command::opt_string_or_list"
    )]
    pub(crate) command: Option<Vec<String>>,
    /// Appended to the (possibly replaced) command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) args: Vec<String>,
    /// Merged over `runtime.agent.env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u64>,
}

/// The baseline or one entry of `variant_plan`.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `variant_id` (the baseline's or the plan entry's), unique ignoring case.
    pub id: String,
    /// Open user data handed to the agent as the bindings file.
    pub(crate) bindings: Value,
    pub(crate) agent: AgentOverride,
    pub(crate) is_baseline: bool,
    /// `runtime` with this variant's `runtime_overrides` deep-merged over it (the
    /// original's per-variant runtime); `None` when it has none (the experiment's
    /// `runtime` applies). [`Variant::agent`] still applies on top.
    pub(crate) runtime: Option<RuntimeSpec>,
}

/// `runtime.agent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AgentRuntime {
    /// A list of tokens, or one string (one token: never split), as in the original.
    #[serde(deserialize_with = "super::command::string_or_list")]
    pub(crate) command: Vec<String>,
    /// Only `local` is accepted (the original's v0.5 schema required the key); labj runs
    /// agents as local processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mode: Option<String>,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Filled with the original's defaults (`--input`, `--output`) by the loader.
    #[serde(default)]
    pub(crate) io: AgentIo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u64>,
    /// The original's fallback timeout, used when nothing else sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default_timeout_ms: Option<u64>,
}

/// `runtime`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuntimeSpec {
    pub(crate) agent: AgentRuntime,
    /// `runtime.dependencies` as written (open data; `{}` when absent).
    pub(crate) dependencies: Value,
    /// `runtime.dependencies.files`, typed.
    pub(crate) dependency_files: Vec<DependencyFile>,
    /// `runtime.policy` as written (open data; `{}` when absent).
    pub(crate) policy: Value,
    /// `runtime.policy.timeout_ms`, typed.
    pub(crate) policy_timeout_ms: Option<u64>,
    /// `runtime.policy.output_limit_bytes`: cap per stdout/stderr stream of every
    /// process of a trial (default `executor::DEFAULT_OUTPUT_LIMIT_BYTES`).
    pub(crate) policy_output_limit_bytes: Option<u64>,
}

/// `benchmark.policy`: the keys labj knows; the rest stays in the resolved JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BenchmarkPolicy {
    #[serde(default)]
    pub(crate) required_evidence_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) task_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scoring_lifecycle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) chain_failure_policy: Option<String>,
}

/// `benchmark.adapter`: the original runner's benchmark adapter (writes predictions and
/// scores; see docs/agentlab-compat.md) and its optional seed manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BenchmarkAdapter {
    pub(crate) command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) manifest: Option<Value>,
}

/// `benchmark.grader`: labj's per-trial grader (writes `grade.json`, grade_result_v1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BenchmarkGrader {
    #[serde(deserialize_with = "super::command::string_or_list")]
    pub(crate) command: Vec<String>,
    /// `host` (default) or `in_task_image`.
    #[serde(default, skip_serializing_if = "crate::trial::GraderStrategy::is_host")]
    pub(crate) strategy: crate::trial::GraderStrategy,
    /// A directory relative to the experiment, `${AGENTLAB_TASK_ID}` expanded per task:
    /// the hidden grading files (tests, expected answers) mounted only into the grader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) hidden_files: Option<String>,
    /// The in-image grader's network: `none` (default) or `full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) network: Option<crate::isolation::NetworkMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u64>,
    /// The original's current grader contract: `{mode: direct}` (grader_input_v1 in,
    /// trial_conclusion_v1 out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) conclusion: Option<GraderConclusion>,
}

/// `benchmark.grader.conclusion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GraderConclusion {
    pub(crate) mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mapper: Option<String>,
}

/// The directory of every task's hidden files: `template` up to its first `${…}`
/// (`hidden/${AGENTLAB_TASK_ID}` → `hidden`), or the whole template when it has none;
/// `None` when that is the experiment directory itself.
pub(crate) fn hidden_root(dir: &Path, template: &str) -> Option<PathBuf> {
    let fixed = match template.find("${") {
        Some(i) => template[..i].rsplit_once('/').map_or("", |(head, _)| head),
        None => template,
    };
    let fixed = fixed.trim_end_matches('/');
    (!fixed.is_empty()).then(|| dir.join(fixed))
}

/// The task's hidden grading directory: `template` with `${AGENTLAB_TASK_ID}` replaced,
/// relative to `dir`.
pub(crate) fn hidden_dir_for(dir: &Path, template: &str, task_id: &str) -> PathBuf {
    dir.join(template.replace("${AGENTLAB_TASK_ID}", task_id))
}

/// `benchmark`: at most one of `adapter` (the original's contract) and `grader`
/// (labj's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BenchmarkSpec {
    #[serde(default)]
    pub(crate) policy: BenchmarkPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) adapter: Option<BenchmarkAdapter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) grader: Option<BenchmarkGrader>,
}

impl BenchmarkSpec {
    /// What grades each trial, if anything: the adapter under the original's contract,
    /// or labj's grader.
    pub(crate) fn grader(&self) -> Option<GraderSpec> {
        self.grader_requiring(&self.policy.required_evidence_classes)
    }

    /// [`Self::grader`] with `classes` as the required evidence classes (a task's
    /// `policy_override` replaces the policy's).
    pub(crate) fn grader_requiring(&self, classes: &[String]) -> Option<GraderSpec> {
        // The original's evidence-record names are the agent side's (TrialSpec).
        let required: Vec<String> = classes
            .iter()
            .filter(|c| !crate::trial::ORIGINAL_EVIDENCE_REFS.contains(&c.as_str()))
            .cloned()
            .collect();
        if let Some(a) = &self.adapter {
            return Some(GraderSpec {
                command: a.command.clone(),
                required_evidence_classes: required,
                contract: GraderContract::Adapter {
                    manifest: a.manifest.clone(),
                },
                strategy: Default::default(),
                hidden_dir: None,
                hidden_root: None,
                network: None,
                timeout_ms: None,
            });
        }
        self.grader.as_ref().map(|g| GraderSpec {
            command: g.command.clone(),
            required_evidence_classes: required,
            contract: if g.conclusion.is_some() {
                GraderContract::Conclusion
            } else {
                GraderContract::Grade
            },
            strategy: g.strategy,
            hidden_dir: None,
            hidden_root: None,
            network: g.network,
            timeout_ms: g.timeout_ms,
        })
    }
}

/// A loaded, validated experiment. Build it with [`super::load`].
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub(crate) file: PathBuf,
    pub(crate) dir: PathBuf,
    /// Where relative command tokens resolve (see [`super::command::project_root`]).
    pub(crate) root: PathBuf,
    pub(crate) version: SchemaVersion,
    /// The format the file was written in (a 1.0 file is run as the v0.5 `resolved`).
    pub(crate) format: super::SourceFormat,
    pub(crate) resolved: Value,
    pub(crate) digest: String,
    pub(crate) meta: ExperimentMeta,
    pub(crate) dataset: Dataset,
    pub(crate) design: Design,
    /// Baseline first, then `variant_plan` in order; `variant_idx` indexes this.
    pub(crate) variants: Vec<Variant>,
    pub(crate) runtime: RuntimeSpec,
    pub(crate) benchmark: Option<BenchmarkSpec>,
    pub(crate) primary_metric: Option<String>,
    /// `runtime.agent_runtime.secret_files` (current format): where `--secret-file`s go.
    pub(crate) secret_files: Vec<crate::trial::SecretFileDecl>,
    /// The top-level `metrics` the executor computes per trial.
    pub(crate) declared_metrics: Vec<crate::trial::MetricDecl>,
    /// Sandbox, network, images, env allow-list, staging (crate::isolation).
    pub(crate) isolation: IsolationPolicy,
    /// What this machine enforces, once [`Experiment::set_enforcement`] ran the preflight.
    pub(crate) enforcement: Option<Enforcement>,
}

impl Experiment {
    /// `experiment.id`, as journaled in `run_created`.
    pub fn id(&self) -> &str {
        &self.meta.id
    }
    pub(crate) fn meta(&self) -> &ExperimentMeta {
        &self.meta
    }
    /// The experiment file as given to `load`.
    pub fn file(&self) -> &Path {
        &self.file
    }
    /// The absolute directory of the experiment file (relative paths resolve here).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The project root relative command tokens were resolved against.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }
    pub(crate) fn version(&self) -> SchemaVersion {
        self.version
    }
    /// The format the experiment file was written in.
    pub fn format(&self) -> super::SourceFormat {
        self.format
    }
    /// The loaded dataset: where it was read from and its tasks.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }
    /// Tasks in dataset order; a slot's `task_idx` indexes this.
    pub fn tasks(&self) -> &[Task] {
        &self.dataset.tasks
    }
    pub(crate) fn design(&self) -> &Design {
        &self.design
    }
    /// Baseline first; a slot's `variant_idx` indexes this.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }
    pub(crate) fn runtime(&self) -> &RuntimeSpec {
        &self.runtime
    }
    pub(crate) fn benchmark(&self) -> Option<&BenchmarkSpec> {
        self.benchmark.as_ref()
    }
    pub(crate) fn grader(&self) -> Option<GraderSpec> {
        self.benchmark.as_ref().and_then(BenchmarkSpec::grader)
    }

    /// The required evidence classes of task `task_idx`: its `policy_override`'s, else
    /// `benchmark.policy`'s.
    pub(crate) fn required_evidence_classes(&self, task_idx: usize) -> Vec<String> {
        match &self.dataset.tasks[task_idx].required_evidence_classes {
            Some(own) => own.clone(),
            None => self
                .benchmark
                .as_ref()
                .map(|b| b.policy.required_evidence_classes.clone())
                .unwrap_or_default(),
        }
    }

    /// The grader of task `task_idx` (its required evidence classes applied).
    pub(crate) fn grader_for(&self, task_idx: usize) -> Option<GraderSpec> {
        let b = self.benchmark.as_ref()?;
        let mut g = b.grader_requiring(&self.required_evidence_classes(task_idx))?;
        if let Some(t) = b.grader.as_ref().and_then(|g| g.hidden_files.as_deref()) {
            g.hidden_dir = Some(hidden_dir_for(
                &self.dir,
                t,
                &self.dataset.tasks[task_idx].id,
            ));
            g.hidden_root = hidden_root(&self.dir, t);
        }
        Some(g)
    }

    /// The required evidence classes of task `task_idx` checked right after the agent
    /// (see `TrialSpec::required_evidence`).
    pub(crate) fn agent_side_evidence(&self, task_idx: usize) -> Vec<String> {
        let graded = self
            .benchmark
            .as_ref()
            .is_some_and(|b| b.adapter.is_some() || b.grader.is_some());
        self.required_evidence_classes(task_idx)
            .iter()
            .filter(|c| {
                crate::trial::ORIGINAL_EVIDENCE_REFS.contains(&c.as_str())
                    || (!graded && crate::trial::AGENT_EVIDENCE_CLASSES.contains(&c.as_str()))
            })
            .cloned()
            .collect()
    }
    /// The variants' ids, baseline first (the order of [`Self::variants`]).
    pub fn variant_ids(&self) -> Vec<String> {
        self.variants.iter().map(|v| v.id.clone()).collect()
    }
    /// The tasks' ids in dataset order (the order of [`Self::tasks`]).
    pub fn task_ids(&self) -> Vec<String> {
        self.dataset.tasks.iter().map(|t| t.id.clone()).collect()
    }
    /// `design.max_concurrency`: trials in flight at once unless the command line sets
    /// another cap.
    pub fn max_concurrency(&self) -> u32 {
        self.design.max_concurrency
    }
    /// `design.policies.scheduling`: the order the slots are laid out and committed in.
    pub fn scheduling(&self) -> SchedulingPolicy {
        self.design.policies.scheduling
    }
    /// `design.policies.concurrency`: the per-variant and per-chain caps the
    /// coordinator applies when it dispatches.
    pub fn concurrency(&self) -> ConcurrencyPolicy {
        self.design.policies.concurrency
    }
    /// `design.policies.retry`: attempts within a dispatch and re-dispatches after
    /// infrastructure faults.
    pub fn retry(&self) -> &RetrySpec {
        &self.design.policies.retry
    }
    /// `design.policies.pruning` as the run journals it and the committer applies it.
    pub fn pruning(&self) -> PruningSpec {
        self.design.policies.pruning.spec()
    }
    pub(crate) fn state_policy(&self) -> StatePolicy {
        self.design.policies.state
    }
    /// `primary_metric` (else the declared metric marked primary), journaled in
    /// `run_created` for reports to compare variants on.
    pub fn primary_metric(&self) -> Option<&str> {
        self.primary_metric.as_deref()
    }
    /// The validated document (unwrapped from `resolved_experiment` if it was wrapped),
    /// as recorded in the journal's `run_created` event.
    pub fn resolved_json(&self) -> Value {
        self.resolved.clone()
    }
    /// Borrowing form of [`Self::resolved_json`].
    pub fn resolved(&self) -> &Value {
        &self.resolved
    }
    /// blake3 hex digest of the canonical JSON of [`Self::resolved_json`] (64 hex chars).
    pub fn digest(&self) -> String {
        self.digest.clone()
    }

    /// The experiment's isolation settings, checked when it loaded (what this host
    /// enforces is the preflight's [`Self::enforcement`]).
    pub fn isolation(&self) -> &IsolationPolicy {
        &self.isolation
    }

    /// The preflight's result, when it ran.
    pub fn enforcement(&self) -> Option<&Enforcement> {
        self.enforcement.as_ref()
    }

    /// Records what `exec::isolation::preflight` found; trial specs carry it.
    pub fn set_enforcement(&mut self, e: Enforcement) {
        self.enforcement = Some(e);
    }

    /// The container image of `variant_idx`'s trials in container mode (the variant's,
    /// else the experiment's); a task's own image still wins for that task.
    pub(crate) fn variant_image(&self, variant_idx: usize) -> Option<String> {
        if self.isolation.mode != crate::isolation::IsolationMode::Container {
            return None;
        }
        self.isolation
            .variant_images
            .get(variant_idx)
            .cloned()
            .flatten()
            .or_else(|| self.isolation.image.clone())
    }

    /// The container image of a trial: the task's (`task.image` or
    /// `task.environment.image`), else the variant's, else the experiment's.
    pub fn image_for(&self, variant_idx: usize, task_idx: usize) -> Option<String> {
        let task = &self.dataset.tasks[task_idx];
        let payload = task.payload();
        task.image()
            .or_else(|| {
                payload
                    .pointer("/environment/image")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .or_else(|| {
                self.isolation
                    .variant_images
                    .get(variant_idx)
                    .cloned()
                    .flatten()
            })
            .or_else(|| self.isolation.image.clone())
    }

    /// The release gate: `Err` for experiments labj validates but cannot run yet, or
    /// whose programs cannot start.
    pub(crate) fn release_gate(&self) -> Result<(), ExperimentError> {
        let problems: Vec<String> = super::describe::program_checks(self)
            .into_iter()
            .filter_map(|p| p.problem.map(|why| format!("{}: {why}", p.role)))
            .collect();
        if !problems.is_empty() {
            return Err(ExperimentError::NotRunnable {
                path: self.file.clone(),
                message: problems.join("; "),
            });
        }
        match self.state_policy() {
            StatePolicy::IsolatePerTrial => Ok(()),
            other => Err(ExperimentError::NotRunnable {
                path: self.file.clone(),
                message: format!(
                    "state policy `{}` is not supported yet: labj runs only isolate_per_trial \
                     (set design.policies.state: isolate_per_trial)",
                    other.as_str()
                ),
            }),
        }
    }
}

/// blake3 hex of the canonical bytes of a JSON value: object keys sorted at every level
/// (explicitly, so the digest never depends on serde_json's `preserve_order` feature),
/// no whitespace.
pub(crate) fn canonical_digest(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let bytes = serde_json::to_vec(&sorted(value)).expect("a JSON value always serializes");
    blake3::hash(&bytes).to_hex().to_string()
}
