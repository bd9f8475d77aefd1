//! Checks of `benchmark.grader`'s placement settings (`strategy`, `hidden_files`,
//! `network`, `timeout_ms`) when the experiment loads; the grader itself runs in
//! `executor/grade.rs` (host) and `executor/grade_image.rs` (in the task's image).

use super::dataset::Task;
use super::model::{hidden_dir_for, BenchmarkGrader};
use super::ExperimentError;
use crate::isolation::{IsolationMode, IsolationPolicy};
use crate::trial::GraderStrategy;
use std::path::Path;

/// Whether the grader's command runs inside a container (its paths are the image's).
pub(super) fn runs_in_container(g: &BenchmarkGrader, iso: &IsolationPolicy) -> bool {
    g.strategy == GraderStrategy::InTaskImage && iso.mode == IsolationMode::Container
}

pub(super) fn check(
    file: &Path,
    g: &BenchmarkGrader,
    iso: &IsolationPolicy,
) -> Result<(), ExperimentError> {
    if g.strategy == GraderStrategy::InTaskImage && iso.mode == IsolationMode::Local {
        return Err(ExperimentError::invalid(
            file,
            "/benchmark/grader/strategy",
            "strategy: in_task_image grades in a fresh container of the task's image (or a \
             fresh sandbox) apart from the agent, but this experiment's agent runs as a plain \
             host process, which could read the grading files: set \
             runtime.policy.sandbox.mode: container (with an image), or a sandbox \
             (runtime.policy.network.mode: none), or remove the strategy (default: host)",
        ));
    }
    if let Some(c) = &g.conclusion {
        if c.mode != "direct" {
            return Err(ExperimentError::invalid(
                file,
                "/benchmark/grader/conclusion/mode",
                format!(
                    "conclusion mode `{}`: labj runs one grader, which writes its \
                     trial_conclusion_v1 itself (mode: direct); a mapper program over a raw \
                     grader output is not run: fold the mapping into the grader and write \
                     mode: direct",
                    c.mode
                ),
            ));
        }
    }
    if g.timeout_ms == Some(0) {
        return Err(ExperimentError::invalid(
            file,
            "/benchmark/grader/timeout_ms",
            "timeout_ms must be at least 1 (leave it out to use the agent's timeout)",
        ));
    }
    if let Some(t) = &g.hidden_files {
        let p = Path::new(t);
        if t.trim().is_empty() || p.is_absolute() || t.split('/').any(|c| c == "..") {
            return Err(ExperimentError::invalid(
                file,
                "/benchmark/grader/hidden_files",
                format!(
                    "hidden_files `{t}` must be a directory relative to the experiment file, \
                     without `..` (e.g. `hidden/${{AGENTLAB_TASK_ID}}`)"
                ),
            ));
        }
    }
    Ok(())
}

/// Every task's hidden grading directory exists (before any trial, naming the task).
pub(super) fn check_hidden(
    file: &Path,
    dir: &Path,
    g: &BenchmarkGrader,
    tasks: &[Task],
) -> Result<(), ExperimentError> {
    let Some(t) = &g.hidden_files else {
        return Ok(());
    };
    for task in tasks {
        let d = hidden_dir_for(dir, t, &task.id);
        if !d.is_dir() {
            return Err(ExperimentError::invalid(
                file,
                "/benchmark/grader/hidden_files",
                format!(
                    "task `{}`: its hidden grading files directory {} does not exist \
                     (hidden_files `{t}`, `${{AGENTLAB_TASK_ID}}` = the task id, relative to \
                     the experiment file)",
                    task.id,
                    d.display()
                ),
            ));
        }
    }
    Ok(())
}
