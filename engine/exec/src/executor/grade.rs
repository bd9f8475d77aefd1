//! Grading an attempt: running `benchmark.grader.command` in a directory of its own,
//! reading its grade_result_v1, and checking the required evidence classes.
//!
//! # The grade is the grader's
//!
//! The agent can write anywhere in its trial directory, so nothing the grader reads as
//! ground truth, and nothing labj reads as the grade, may come from there. After the
//! agent's process group is gone, [`stage`] creates `attempt_<n>/grader/` afresh (anything
//! the agent put there was already moved aside as tamper evidence by `tamper.rs`) and
//! writes into it, from the trial spec (experiment data, never the agent-writable files):
//!
//! ```text
//! attempt_<n>/grader/   the grader's cwd; only the grader writes here
//!     task.json bindings.json dependencies.json policy.json   fresh copies
//!     trial_input.json   trial_input_v1 whose paths name the copies above
//!     result.json        the agent's result as it was when the agent exited
//!     grade.json         AGENTLAB_GRADE_PATH: the only place a grade is read from
//!     stdout.log stderr.log   the grader's output
//! ```
//!
//! The grader's `AGENTLAB_TASK_PATH`, `…_BINDINGS_PATH`, `…_DEPENDENCIES_PATH`,
//! `…_POLICY_PATH` and `AGENTLAB_RESULT_PATH` name these copies; `AGENTLAB_WORKSPACE_DIR`
//! and `AGENTLAB_TRAJECTORY_PATH` still name the agent's output, which is what is graded.
//! Evidence paths in the grade are relative to the grader's directory. Every runner of a
//! grader (local processes, containers, the benchmark adapter of the original runner) goes
//! through [`stage`] and [`grade`] so there is one owner and one place for each file.

use super::classify::{self, GradeResult, ReadError};
use super::control::Phase;
use super::process::ProcessEnd;
use super::{disk, exit_text, workspace, write_json, AttemptEnd, Fault, Trial, TrialControl};
use journal::event::Classification;
use model::trial::{GraderContract, GraderSpec, GraderStrategy};
use std::path::{Path, PathBuf};

/// The grader's own directory for one attempt, with the fresh inputs labj wrote into it.
pub(super) struct GraderStage {
    pub dir: PathBuf,
    pub task: PathBuf,
    pub bindings: PathBuf,
    pub dependencies: PathBuf,
    pub policy: PathBuf,
    pub trial_input: PathBuf,
    /// Snapshot of the agent's result (absent when the agent wrote none).
    pub result: PathBuf,
    pub grade: PathBuf,
    /// `attempt_<n>/grader`: prefix that makes grader-relative paths trial-relative.
    pub trial_rel: String,
}

/// Creates `attempt_<n>/grader/` (it must not exist: the tamper check moved any agent-made
/// one aside) and writes the grader's inputs into it from the spec.
pub(super) fn stage(trial: &Trial<'_>, n: u32, agent_result: &Path) -> Result<GraderStage, Fault> {
    let dir = trial.paths.attempt_dir(n).join("grader");
    std::fs::create_dir(&dir).map_err(|e| disk(&format!("creating {}", dir.display()), e))?;
    let j = |name: &str| dir.join(name);
    let g = GraderStage {
        task: j("task.json"),
        bindings: j("bindings.json"),
        dependencies: j("dependencies.json"),
        policy: j("policy.json"),
        trial_input: j("trial_input.json"),
        result: j("result.json"),
        grade: j("grade.json"),
        trial_rel: format!("attempt_{n}/grader"),
        dir,
    };
    let s = trial.spec;
    for (path, value) in [
        (&g.task, &s.task),
        (&g.bindings, &s.bindings),
        (&g.dependencies, &s.dependencies),
        (&g.policy, &s.policy),
    ] {
        write_json(path, value)?;
    }
    match std::fs::copy(agent_result, &g.result) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(disk("copying the agent's result for the grader", e)),
    }
    let trajectory = trial.paths.attempt_dir(n).join("trajectory.jsonl");
    let inputs = super::input::InputPaths {
        trial_dir: &trial.paths.trial_dir,
        workspace_dir: &trial.paths.workspace,
        deps_dir: &trial.paths.trial_dir.join("deps"),
        task: &g.task,
        bindings: &g.bindings,
        dependencies: &g.dependencies,
        policy: &g.policy,
        result: &g.result,
        trajectory: &trajectory,
    };
    write_json(&g.trial_input, &trial.trial_input(n, inputs))?;
    Ok(g)
}

/// Grades `end` (a `success`/`failure` attempt) in place: on a valid grade its outcome and
/// metrics override the agent's; any grader fault turns `end` into `grade_error`.
pub(super) fn grade(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    n: u32,
    control: &TrialControl,
    stage: &GraderStage,
    end: &mut AttemptEnd,
) -> Result<(), Fault> {
    match run(trial, grader, n, control, stage, end) {
        Ok(grade) => {
            end.classification = match grade.outcome.as_str() {
                "success" => Classification::Success,
                _ => Classification::Failure,
            };
            end.outcome = Some(grade.outcome);
            end.metrics.extend(grade.metrics);
            end.detail = None;
            Ok(())
        }
        Err(Fault(Classification::DiskError, msg)) => Err(Fault(Classification::DiskError, msg)),
        Err(Fault(c, msg)) => {
            end.classification = c;
            end.detail = Some(msg);
            Ok(())
        }
    }
}

/// Where a stage's command runs: its container (paused, checked and removed with it) and
/// its time limit in ms (0 = none).
pub(super) struct Placement {
    pub container: Option<super::sandbox::ContainerRef>,
    pub timeout_ms: u64,
}

pub(super) fn grade_error(msg: String) -> Fault {
    Fault(Classification::GradeError, msg)
}

/// Who runs on a grader stage: labj's grader or the original's benchmark adapter. Used
/// in messages, so their faults read the same way.
#[derive(Clone, Copy)]
pub(super) enum StageRole {
    Grader,
    Adapter,
}

impl StageRole {
    fn name(self) -> &'static str {
        match self {
            StageRole::Grader => "grader",
            StageRole::Adapter => "benchmark adapter",
        }
    }
}

/// The command of `role` on `stage`: the trial's contract environment, the stage's fresh
/// copies of the inputs, output to the stage's logs. The caller adds its own variables
/// and working directory, then calls [`supervise_stage`].
pub(super) fn stage_command(
    trial: &Trial<'_>,
    role: StageRole,
    command: &[String],
    n: u32,
    stage: &GraderStage,
) -> Result<std::process::Command, Fault> {
    let trajectory = trial.paths.attempt_dir(n).join("trajectory.jsonl");
    let mut cmd = match trial.command(command, n, &stage.result, &trajectory) {
        Ok(cmd) => cmd,
        Err(Fault(Classification::SpawnFailure, msg)) => {
            return Err(grade_error(format!("{} {msg}", role.name())))
        }
        Err(fault) => return Err(fault),
    };
    cmd.env("AGENTLAB_TASK_PATH", &stage.task)
        .env("AGENTLAB_BINDINGS_PATH", &stage.bindings)
        .env("AGENTLAB_DEPENDENCIES_PATH", &stage.dependencies)
        .env("AGENTLAB_POLICY_PATH", &stage.policy)
        .env("AGENTLAB_TRIAL_INPUT_PATH", &stage.trial_input);
    Ok(cmd)
}

/// Runs `cmd` (from [`stage_command`]) to its end, its output captured into the stage's
/// logs; anything but a zero exit is a `grade_error` (or `cancelled` when the trial was
/// stopped meanwhile).
#[allow(clippy::too_many_arguments)]
pub(super) fn supervise_stage(
    trial: &Trial<'_>,
    role: StageRole,
    command: &[String],
    mut cmd: std::process::Command,
    control: &TrialControl,
    stage: &GraderStage,
    end: &mut AttemptEnd,
    placement: Placement,
) -> Result<(), Fault> {
    let name = role.name();
    let limit_ms = placement.timeout_ms;
    let timeout = (limit_ms > 0).then(|| std::time::Duration::from_millis(limit_ms));
    let container = placement.container;
    let sup = trial
        .supervise(
            &mut cmd,
            &stage.dir,
            control,
            Phase::Grader,
            container.clone(),
            timeout,
        )?
        .map_err(|e| grade_error(format!("failed to spawn {name} {command:?}: {e}")))?;
    end.active += sup.active;
    if let Some(c) = &container {
        // The engine refusing to start the grader's container is machinery, not a grade.
        let refused = match &sup.end {
            ProcessEnd::Exited(status) if !status.success() => super::sandbox::container_exit(
                c,
                status.code(),
                false,
                &stage.dir.join("stderr.log"),
            )
            .filter(|(k, _)| *k == Classification::SpawnFailure),
            _ => None,
        };
        if let Err(e) = c.engine().remove(&c.name) {
            tracing::warn!(container = %c.name, "removing the grader's container failed: {e}");
        }
        if let Some((k, msg)) = refused {
            return Err(Fault(k, format!("{name}: {msg}")));
        }
    }
    match sup.end {
        ProcessEnd::Stopped(reason) => Err(Fault(
            Classification::Cancelled,
            format!("stopped while running the {name}: {reason}"),
        )),
        ProcessEnd::TimedOut => Err(grade_error(format!(
            "{name} exceeded its {limit_ms} ms timeout"
        ))),
        ProcessEnd::WaitFailed(msg) => Err(grade_error(msg)),
        ProcessEnd::Exited(status) if !status.success() => {
            Err(grade_error(exit_text(name, &status)))
        }
        ProcessEnd::Exited(_) => Ok(()),
    }
}

fn run(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    n: u32,
    control: &TrialControl,
    stage: &GraderStage,
    end: &mut AttemptEnd,
) -> Result<GradeResult, Fault> {
    let role = StageRole::Grader;
    let timeout_ms = grader.timeout_ms.unwrap_or(trial.spec.agent.timeout_ms);
    let conclusion = grader.contract == GraderContract::Conclusion;
    if conclusion {
        let in_container = grader.strategy == GraderStrategy::InTaskImage
            && trial.launch.iso.mode == model::isolation::IsolationMode::Container;
        let (result, workdir) = if in_container {
            (
                Path::new(super::grade_image::STAGE_MOUNT).join("result.json"),
                "/agentlab/workspace".to_string(),
            )
        } else {
            (
                stage.result.clone(),
                trial.paths.workspace.to_string_lossy().into_owned(),
            )
        };
        super::conclusion::write_input(trial, stage, end, &result, &workdir)?;
    }
    if grader.strategy == GraderStrategy::InTaskImage {
        let placed = super::grade_image::command(trial, grader, n, stage)?;
        let copy = placed.workspace_copy.clone();
        let placement = Placement {
            container: placed.container,
            timeout_ms,
        };
        let ran = supervise_stage(
            trial,
            role,
            &grader.command,
            placed.cmd,
            control,
            stage,
            end,
            placement,
        );
        super::grade_image::remove_copy(&copy);
        ran?;
    } else {
        let mut cmd = stage_command(trial, role, &grader.command, n, stage)?;
        cmd.env("AGENTLAB_GRADE_PATH", &stage.grade)
            .current_dir(&stage.dir);
        if conclusion {
            cmd.envs(super::conclusion::env(&stage.dir));
        }
        if let Some(h) = &grader.hidden_dir {
            cmd.env("AGENTLAB_HIDDEN_DIR", h);
        }
        let placement = Placement {
            container: None,
            timeout_ms,
        };
        supervise_stage(
            trial,
            role,
            &grader.command,
            cmd,
            control,
            stage,
            end,
            placement,
        )?;
    }
    let read = if conclusion {
        super::conclusion::read(stage, end).map_err(Some)
    } else {
        classify::read_validated(&stage.grade, "grade_result_v1").map_err(|e| match e {
            ReadError::Missing => None,
            ReadError::Invalid(msg) => Some(grade_error(msg)),
        })
    };
    let grade: GradeResult = match read {
        Ok(g) => g,
        Err(Some(fault)) => return Err(fault),
        Err(None) => {
            return Err(grade_error(format!(
                "grader exited 0 but wrote no grade at {}",
                stage.grade.display()
            )))
        }
    };
    for ev in &grade.evidence {
        let rel = workspace::safe_relative(&ev.path).map_err(|e| {
            grade_error(format!(
                "grade evidence of class `{}` refused: {e}",
                ev.class
            ))
        })?;
        if !stage.dir.join(&rel).is_file() {
            return Err(grade_error(format!(
                "grade evidence `{}` (class `{}`) is not a file in the grader's directory {}",
                ev.path,
                ev.class,
                stage.dir.display()
            )));
        }
        end.evidence.push((
            ev.class.clone(),
            format!("{}/{}", stage.trial_rel, rel.to_string_lossy()),
        ));
    }
    let missing: Vec<&str> = grader
        .required_evidence_classes
        .iter()
        .filter(|c| end.evidence.iter().all(|(have, _)| have != *c))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let produced: Vec<&str> = end.evidence.iter().map(|(c, _)| c.as_str()).collect();
        return Err(grade_error(format!(
            "missing required evidence classes: {} (produced: {})",
            missing.join(", "),
            produced.join(", ")
        )));
    }
    Ok(grade)
}
