//! `labj describe`: what an experiment will run, without running anything.

use super::command::{check_command, ProgramCheck};
use super::model::{AgentOverride, Experiment};
use super::policy::ConcurrencyPolicy;
use crate::trial::GraderContract;
use crate::trial::RetrySpec;
use journal::event::PruningSpec;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

/// How many leading slots a description lists.
pub(crate) const DESCRIBE_SLOTS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct VariantLine {
    pub(crate) variant_id: String,
    pub(crate) baseline: bool,
    /// `key=value, …` of the top-level bindings (values shortened).
    pub(crate) bindings_summary: String,
    pub(crate) agent_command: Vec<String>,
    /// The container image of the variant's trials (container mode; a task's own image
    /// wins for that task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) image: Option<String>,
    /// The command line the agent runs: command, variant args, then the input and
    /// output flags with `<task>` / `<result>` for the paths (in-container paths in
    /// container mode).
    pub(crate) command_line: String,
    /// What the variant's `runtime.agent` overrides change, e.g. `env PATIENCE; timeout 5000 ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) overrides: Option<String>,
}

/// One program an experiment starts, and whether it can start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ProgramLine {
    /// `agent (variant v)`, `grader` or `benchmark adapter`.
    pub(crate) role: String,
    /// The command after path resolution (before `${AGENTLAB_…}` expansion).
    pub(crate) command: Vec<String>,
    /// `None` when it can start; otherwise why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problem: Option<String>,
    /// Its path is a `${AGENTLAB_…}` template: checked when each trial starts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) checked_per_trial: bool,
}

/// Checks every program the experiment would start: each variant's agent and the
/// grader or adapter (bare names on PATH, the rest must exist and be executable).
pub(crate) fn program_checks(experiment: &Experiment) -> Vec<ProgramLine> {
    let mut lines: Vec<ProgramLine> = Vec::new();
    let mut push = |role: String, command: Vec<String>| {
        let check = check_command(&command);
        let checked_per_trial = check == ProgramCheck::PerTrial;
        let problem = match check {
            ProgramCheck::Ok(_) | ProgramCheck::PerTrial => None,
            ProgramCheck::Problem(p) => Some(p),
        };
        lines.push(ProgramLine {
            role,
            command,
            problem,
            checked_per_trial,
        });
    };
    // A container agent's program lives in its image, not on this host.
    let on_host = experiment.isolation().mode != crate::isolation::IsolationMode::Container;
    for (i, v) in experiment.variants().iter().enumerate().filter(|_| on_host) {
        push(
            format!("agent (variant {})", v.id),
            experiment.effective_agent(i, 0).command,
        );
    }
    if let Some(g) = experiment.grader() {
        let role = match g.contract {
            GraderContract::Grade => "grader",
            GraderContract::Conclusion => "grader (trial_conclusion_v1)",
            GraderContract::Adapter { .. } => "benchmark adapter",
        };
        // An in-image grader's program lives in the task's image.
        let in_image = g.strategy == crate::trial::GraderStrategy::InTaskImage && !on_host;
        if !in_image {
            push(role.to_string(), g.command);
        }
    }
    lines
}

/// `in the task's image (fresh container, copy of the workspace), network none, timeout
/// 60000 ms, hidden files hidden/${AGENTLAB_TASK_ID}`, for an in-image grader.
fn grader_placement(experiment: &Experiment) -> Option<String> {
    let b = experiment.benchmark()?.grader.as_ref()?;
    if b.strategy != crate::trial::GraderStrategy::InTaskImage {
        return b
            .hidden_files
            .as_ref()
            .map(|h| format!("on the host, hidden files {h} (AGENTLAB_HIDDEN_DIR)"));
    }
    let place = match experiment.isolation().mode {
        crate::isolation::IsolationMode::Container => {
            "in the task's image (a fresh container on a copy of the agent's workspace)"
        }
        _ => "in a fresh sandbox (on a copy of the agent's workspace)",
    };
    let network = b.network.unwrap_or(crate::isolation::NetworkMode::None);
    let timeout = match b.timeout_ms {
        Some(ms) => format!("timeout {ms} ms"),
        None => "the agent's timeout".into(),
    };
    let hidden = match &b.hidden_files {
        Some(h) => format!("hidden files {h} (mounted only there)"),
        None => "no hidden files".into(),
    };
    Some(format!(
        "{place}, network {}, {timeout}, {hidden}",
        network.as_str()
    ))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SlotLine {
    pub(crate) schedule_idx: u64,
    pub(crate) variant_id: String,
    pub(crate) task_id: String,
    pub(crate) repl_idx: u32,
}

/// Everything `labj describe` shows, serializable for `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Description {
    pub(crate) experiment_id: String,
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<String>,
    pub(crate) file: String,
    pub(crate) version: String,
    /// The original runner's format the file was written in, when it is not a resolved
    /// experiment (e.g. version 1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<String>,
    pub(crate) digest: String,
    pub(crate) dataset: String,
    pub(crate) variants: Vec<VariantLine>,
    pub(crate) task_count: usize,
    pub(crate) replications: u32,
    pub(crate) schedule_size: u64,
    pub(crate) scheduling: String,
    pub(crate) shuffle_tasks: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) random_seed: Option<u64>,
    /// Whether the schedule draws from the seed (randomized or shuffled tasks).
    pub(crate) seeded: bool,
    pub(crate) max_concurrency: u32,
    pub(crate) concurrency: ConcurrencyPolicy,
    pub(crate) retry: RetrySpec,
    pub(crate) pruning: PruningSpec,
    pub(crate) state: String,
    /// The cap per output stream (stdout, stderr; trajectories too) of every program the
    /// run starts: `runtime.policy.output_limit_bytes`, or the default.
    pub(crate) output_limit_bytes: u64,
    /// Whether `output_limit_bytes` is the default (not set in the experiment).
    pub(crate) output_limit_default: bool,
    /// `None` when `labj run` would accept the experiment; otherwise the gate's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) not_runnable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) grader_command: Option<Vec<String>>,
    /// Where the grader runs when not on the host (`benchmark.grader.strategy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) grader_placement: Option<String>,
    /// Every program the run starts, checked.
    pub(crate) programs: Vec<ProgramLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) primary_metric: Option<String>,
    pub(crate) first_slots: Vec<SlotLine>,
}

/// What `labj describe` shows for `experiment`: its variants, dataset, schedule,
/// policies, first slots, whether the release gate would refuse it, and whether each
/// program it names can start (looked up on disk and `PATH`; nothing is run).
pub fn describe(experiment: &Experiment) -> Description {
    let variants = experiment
        .variants()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let agent = experiment.effective_agent(i, 0);
            VariantLine {
                variant_id: v.id.clone(),
                baseline: v.is_baseline,
                bindings_summary: summarize(&v.bindings),
                image: experiment.variant_image(i),
                command_line: command_line(experiment, &agent),
                agent_command: agent.command,
                overrides: overrides(&v.agent),
            }
        })
        .collect();
    let ids = experiment.variant_ids();
    let tasks = experiment.task_ids();
    let first_slots = experiment
        .schedule()
        .into_iter()
        .take(DESCRIBE_SLOTS)
        .enumerate()
        .map(|(i, s)| SlotLine {
            schedule_idx: i as u64,
            variant_id: ids[s.variant_idx()].clone(),
            task_id: tasks[s.task_idx()].clone(),
            repl_idx: s.repl_idx(),
        })
        .collect();
    let design = experiment.design();
    Description {
        experiment_id: experiment.id().to_string(),
        name: experiment.meta().name.clone(),
        description: experiment.meta().description.clone(),
        owner: experiment.meta().owner.clone(),
        tags: experiment.meta().tags.clone(),
        file: experiment.file().display().to_string(),
        version: experiment.version().as_str().to_string(),
        format: experiment.format().label().map(str::to_string),
        digest: experiment.digest(),
        dataset: experiment.dataset().declared_path.clone(),
        variants,
        task_count: tasks.len(),
        replications: design.replications,
        schedule_size: experiment.schedule_len(),
        scheduling: experiment.scheduling().as_str().to_string(),
        shuffle_tasks: design.shuffle_tasks,
        random_seed: design.random_seed,
        seeded: design.is_seeded(),
        max_concurrency: design.max_concurrency,
        concurrency: experiment.concurrency(),
        retry: experiment.retry().clone(),
        pruning: experiment.pruning(),
        state: experiment.state_policy().as_str().to_string(),
        output_limit_bytes: experiment
            .runtime()
            .policy_output_limit_bytes
            .unwrap_or(crate::trial::DEFAULT_OUTPUT_LIMIT_BYTES),
        output_limit_default: experiment.runtime().policy_output_limit_bytes.is_none(),
        not_runnable: experiment.release_gate().err().map(|e| e.to_string()),
        grader_command: experiment.grader().map(|g| g.command),
        grader_placement: grader_placement(experiment),
        programs: program_checks(experiment),
        primary_metric: experiment.primary_metric().map(str::to_string),
        first_slots,
    }
}

/// The agent's command line as a trial runs it, the paths shown as `<task>` and
/// `<result>` (or the in-container paths the agent is given).
fn command_line(experiment: &Experiment, agent: &crate::trial::AgentSpec) -> String {
    let in_container = experiment.isolation().mode == crate::isolation::IsolationMode::Container;
    let (task, result) = match (in_container, experiment.format()) {
        (true, super::SourceFormat::CleanHarnessV1) => {
            (super::CLEAN_TASK_PATH, super::CLEAN_RESULT_PATH)
        }
        (true, _) => ("/agentlab/in/task.json", "/agentlab/out/result.json"),
        (false, _) => ("<task>", "<result>"),
    };
    let mut argv = agent.command.clone();
    if let Some(flag) = &agent.io.input_arg {
        crate::trial::AgentIo::append(&mut argv, flag, task);
    }
    if let Some(flag) = &agent.io.output_arg {
        crate::trial::AgentIo::append(&mut argv, flag, result);
    }
    argv.iter()
        .map(|t| shell_quote(t))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A token as a POSIX shell would need it (only when it needs quoting).
fn shell_quote(t: &str) -> String {
    let plain = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%{}$".contains(c));
    if plain {
        t.to_string()
    } else {
        format!("'{}'", t.replace('\'', "'\\''"))
    }
}

fn overrides(o: &AgentOverride) -> Option<String> {
    let mut parts = Vec::new();
    if o.command.is_some() {
        parts.push("command replaced".to_string());
    }
    if !o.args.is_empty() {
        parts.push(format!("args +{}", o.args.join(" ")));
    }
    if !o.env.is_empty() {
        let keys: Vec<&str> = o.env.keys().map(String::as_str).collect();
        parts.push(format!("env {}", keys.join(", ")));
    }
    if let Some(ms) = o.timeout_ms {
        parts.push(format!("timeout {ms} ms"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `16 MiB`, `1 GiB`, `100000 bytes`: binary units when they are exact, so the figure
/// shown is the limit enforced.
fn human_bytes(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

fn summarize(bindings: &Value) -> String {
    const MAX: usize = 40;
    let short = |v: &Value| {
        let s = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if s.chars().count() > MAX {
            format!("{}…", s.chars().take(MAX).collect::<String>())
        } else {
            s
        }
    };
    match bindings {
        Value::Object(m) if m.is_empty() => "(none)".into(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", short(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => short(other),
    }
}

impl Description {
    /// The human form of `labj describe`.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "experiment  {} — {}", self.experiment_id, self.name);
        if let Some(d) = &self.description {
            let _ = writeln!(w, "            {d}");
        }
        if let Some(o) = &self.owner {
            let _ = writeln!(w, "owner       {o}");
        }
        if !self.tags.is_empty() {
            let _ = writeln!(w, "tags        {}", self.tags.join(", "));
        }
        let _ = writeln!(w, "file        {} (v{})", self.file, self.version);
        if let Some(f) = &self.format {
            let _ = writeln!(w, "format      {f}");
        }
        let _ = writeln!(w, "digest      {}", self.digest);
        let _ = writeln!(
            w,
            "dataset     {} ({} tasks)",
            self.dataset, self.task_count
        );
        let _ = writeln!(w, "variants    {}", self.variants.len());
        for v in &self.variants {
            let tag = if v.baseline { " (baseline)" } else { "" };
            let _ = writeln!(w, "  - {}{tag}", v.variant_id);
            let _ = writeln!(w, "      bindings: {}", v.bindings_summary);
            if let Some(img) = &v.image {
                let _ = writeln!(w, "      image:    {img}");
            }
            let _ = writeln!(w, "      runs:     {}", v.command_line);
            if let Some(o) = &v.overrides {
                let _ = writeln!(w, "      override: {o}");
            }
        }
        let _ = writeln!(
            w,
            "repeats     {} replication(s) per (variant, task)",
            self.replications
        );
        let seed = match self.random_seed {
            Some(s) => format!(", seed {s}"),
            None if self.seeded => format!(
                ", seed {} (the default)",
                super::policy::DEFAULT_RANDOM_SEED
            ),
            None => String::new(),
        };
        let shuffle = if self.shuffle_tasks {
            ", tasks shuffled"
        } else {
            ""
        };
        let _ = writeln!(
            w,
            "schedule    {} slots, {}{shuffle}{seed}",
            self.schedule_size, self.scheduling
        );
        let per_variant = match self.concurrency.max_in_flight_per_variant {
            Some(n) => n.to_string(),
            None => "unlimited".into(),
        };
        let _ = writeln!(
            w,
            "concurrency max {} in flight, per variant {per_variant}, chain lease {}",
            self.max_concurrency,
            if self.concurrency.require_chain_lease {
                "required"
            } else {
                "not required"
            }
        );
        let retry_on = if self.retry.max_attempts <= 1 {
            "nothing".to_string()
        } else if self.retry.retry_on.is_empty() {
            "error, failure (the default: no usable result or a non-zero exit)".to_string()
        } else {
            self.retry.retry_on.join(", ")
        };
        let _ = writeln!(
            w,
            "retry       {} attempt(s), retry on {retry_on}",
            self.retry.max_attempts
        );
        let pruning = match (self.pruning.max_consecutive_failures, self.pruning.counts) {
            (Some(n), journal::event::StreakCounts::AgentFailures) => {
                format!("after {n} consecutive failures (trials that produced no answer)")
            }
            (Some(n), journal::event::StreakCounts::Unsuccessful) => {
                format!("after {n} consecutive unsuccessful trials (wrong answers included)")
            }
            (None, _) => "off".into(),
        };
        let _ = writeln!(w, "pruning     {pruning}");
        let _ = writeln!(w, "state       {}", self.state);
        let _ = writeln!(
            w,
            "output cap  {} per stream (stdout/stderr of every program, trajectory), {}",
            human_bytes(self.output_limit_bytes),
            if self.output_limit_default {
                "default (set with runtime.policy.output_limit_bytes)"
            } else {
                "set by runtime.policy.output_limit_bytes"
            }
        );
        if let Some(g) = &self.grader_command {
            let _ = writeln!(w, "grader      {}", g.join(" "));
        }
        if let Some(p) = &self.grader_placement {
            let _ = writeln!(w, "            {p}");
        }
        let _ = writeln!(w, "programs");
        for p in &self.programs {
            let status = match &p.problem {
                None if p.checked_per_trial => {
                    "path depends on the trial (${AGENTLAB_…}): checked as each trial starts"
                        .to_string()
                }
                None => "ok (found, executable)".to_string(),
                Some(why) => format!("CANNOT START: {why}"),
            };
            let _ = writeln!(w, "  - {}: {status}", p.role);
        }
        if let Some(m) = &self.primary_metric {
            let _ = writeln!(w, "metric      {m} (primary)");
        }
        match &self.not_runnable {
            None => {
                let _ = writeln!(w, "runnable    yes");
            }
            Some(why) => {
                let _ = writeln!(w, "runnable    NO: {why}");
            }
        }
        let _ = writeln!(
            w,
            "first {} of {} slots:",
            self.first_slots.len(),
            self.schedule_size
        );
        let _ = writeln!(w, "  {:>6}  {:<16} {:<24} repl", "idx", "variant", "task");
        for s in &self.first_slots {
            let _ = writeln!(
                w,
                "  {:>6}  {:<16} {:<24} {}",
                s.schedule_idx, s.variant_id, s.task_id, s.repl_idx
            );
        }
        out
    }
}
