//! Grading an attempt: running `benchmark.adapter.command` in the trial directory, reading
//! its grade_result_v1, and checking the required evidence classes.

use super::classify::{self, GradeResult, ReadError};
use super::control::Phase;
use super::process::{self, ProcessEnd};
use super::{exit_text, workspace, AttemptEnd, Fault, Trial, TrialControl};
use crate::trial::GraderSpec;
use journal::event::Classification;
use std::path::Path;

/// Grades `end` (a `success`/`failure` attempt) in place: on a valid grade its outcome and
/// metrics override the agent's; any grader fault turns `end` into `grade_error`.
pub(super) fn grade(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    n: u32,
    control: &TrialControl,
    result: &Path,
    end: &mut AttemptEnd,
) -> Result<(), Fault> {
    match run(trial, grader, n, control, result, end) {
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

fn grade_error(msg: String) -> Fault {
    Fault(Classification::GradeError, msg)
}

fn run(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    n: u32,
    control: &TrialControl,
    result: &Path,
    end: &mut AttemptEnd,
) -> Result<GradeResult, Fault> {
    let paths = &trial.paths;
    let dir = paths.attempt_dir(n);
    let (out, err) = (dir.join("grader_stdout.log"), dir.join("grader_stderr.log"));
    let trajectory = dir.join("trajectory.jsonl");
    let mut cmd = match trial.command(&grader.command, n, result, &trajectory, (&out, &err)) {
        Ok(cmd) => cmd,
        Err(Fault(Classification::SpawnFailure, msg)) => {
            return Err(grade_error(format!("grader {msg}")))
        }
        Err(fault) => return Err(fault),
    };
    cmd.env("AGENTLAB_GRADE_PATH", &paths.grade)
        .current_dir(&paths.trial_dir);
    let sup =
        process::supervise(&mut cmd, control, Phase::Grader, trial.timeout()).map_err(|e| {
            grade_error(format!(
                "failed to spawn grader command {:?}: {e}",
                grader.command
            ))
        })?;
    end.active += sup.active;
    match sup.end {
        ProcessEnd::Stopped(reason) => {
            return Err(Fault(
                Classification::Cancelled,
                format!("stopped while grading: {reason}"),
            ))
        }
        ProcessEnd::TimedOut => {
            return Err(grade_error(format!(
                "grader exceeded the {} ms timeout",
                trial.spec.agent.timeout_ms
            )))
        }
        ProcessEnd::WaitFailed(msg) => return Err(grade_error(msg)),
        ProcessEnd::Exited(status) if !status.success() => {
            return Err(grade_error(exit_text("grader", &status)))
        }
        ProcessEnd::Exited(_) => {}
    }
    let grade: GradeResult = match classify::read_validated(&paths.grade, "grade_result_v1") {
        Ok(g) => g,
        Err(ReadError::Missing) => {
            return Err(grade_error(format!(
                "grader exited 0 but wrote no grade at {}",
                paths.grade.display()
            )))
        }
        Err(ReadError::Invalid(msg)) => return Err(grade_error(msg)),
    };
    for ev in &grade.evidence {
        let rel = workspace::safe_relative(&ev.path).map_err(|e| {
            grade_error(format!(
                "grade evidence of class `{}` refused: {e}",
                ev.class
            ))
        })?;
        if !paths.trial_dir.join(&rel).is_file() {
            return Err(grade_error(format!(
                "grade evidence `{}` (class `{}`) is not a file in the trial directory",
                ev.path, ev.class
            )));
        }
        end.evidence
            .push((ev.class.clone(), rel.to_string_lossy().into_owned()));
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
