//! The original runner's current grader contract (`benchmark.grader.conclusion.mode:
//! direct`): labj writes a `grader_input_v1` into the grader's stage directory
//! (`AGENTLAB_GRADER_INPUT_PATH`); the grader writes a `trial_conclusion_v1` to
//! `AGENTLAB_MAPPED_GRADER_OUTPUT_PATH` (also in the stage directory, read only after the
//! grader is gone). Its `reported_outcome` becomes the trial's verdict and its
//! `primary_metric` a metric, as in the original. Where the grader runs (host, sandbox,
//! the task's image) is `grade.rs` / `grade_image.rs`'s business.

use super::classify::{self, GradeResult, ReadError};
use super::grade::{grade_error, GraderStage};
use super::{write_json, AttemptEnd, Fault, Trial};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub(super) const INPUT_FILE: &str = "grader_input.json";
pub(super) const OUTPUT_FILE: &str = "mapped_grader_output.json";

/// The two variables, with the stage directory as the grader sees it (`stage_dir`).
pub(super) fn env(stage_dir: &Path) -> [(String, std::ffi::OsString); 2] {
    [
        (
            "AGENTLAB_GRADER_INPUT_PATH".into(),
            stage_dir.join(INPUT_FILE).into(),
        ),
        (
            "AGENTLAB_MAPPED_GRADER_OUTPUT_PATH".into(),
            stage_dir.join(OUTPUT_FILE).into(),
        ),
    ]
}

/// Writes `grader_input_v1` for attempt `n` whose agent ended as `end`. `result_path`
/// and `workdir` are the paths the grader sees.
pub(super) fn write_input(
    trial: &Trial<'_>,
    stage: &GraderStage,
    end: &AttemptEnd,
    result_path: &Path,
    workdir: &str,
) -> Result<(), Fault> {
    let s = trial.spec;
    let result: Option<Value> =
        model::safe_fs::read_regular(&stage.result, classify::MAX_RESULT_BYTES)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
    let ended = std::time::SystemTime::now();
    let started = ended.checked_sub(end.active).unwrap_or(ended);
    let answer = result.as_ref().and_then(|r| r.get("answer")).cloned();
    let doc = json!({
        "schema_version": "grader_input_v1",
        "ids": {
            "run_id": s.run_id,
            "trial_id": s.trial_id,
            "variant_id": s.variant_id,
            "task_id": s.task_id,
            "repl_idx": s.repl_idx,
            "schedule_idx": s.schedule_idx,
        },
        "task": s.task,
        "artifact_type": "structured_json",
        "agent_phase": {
            "exit_code": end.exit_code,
            // Graders run only for attempts that ended with a usable result.
            "timed_out": false,
            "result_present": result.is_some(),
            "result_schema_valid": result.is_some(),
            "started_at": rfc3339(started),
            "ended_at": rfc3339(ended),
        },
        "candidate_artifact": match answer {
            Some(a) => json!({"state": "valid", "artifact_type": "structured_json", "source": "result.inline", "payload": a}),
            None => json!({"state": "missing", "artifact_type": "structured_json", "source": "none"}),
        },
        // The grader reads the agent's final workspace itself (its working directory).
        "workspace_delta": {"state": "missing"},
        "paths": {"result_path": result_path.to_string_lossy()},
        "workdir": workdir,
    });
    write_json(&stage.dir.join(INPUT_FILE), &doc)
}

/// Reads the grader's `trial_conclusion_v1` as a grade: `reported_outcome` `success`
/// (or `pass`) succeeds; `failure`/`fail`, `missing`, `timeout` are graded failures
/// with that outcome; absent is `missing` (the original's reading); `error` or anything
/// else is `grade_error`. `primary_metric` joins the metrics (a non-number as written).
pub(super) fn read(stage: &GraderStage, end: &mut AttemptEnd) -> Result<GradeResult, Fault> {
    let path = stage.dir.join(OUTPUT_FILE);
    let doc: Value = match classify::read_validated(&path, "trial_conclusion_v1") {
        Ok(v) => v,
        Err(ReadError::Missing) => {
            return Err(grade_error(format!(
                "grader exited 0 but wrote no trial_conclusion_v1 at {} (AGENTLAB_MAPPED_GRADER_OUTPUT_PATH)",
                path.display()
            )))
        }
        Err(ReadError::Invalid(msg)) => return Err(grade_error(msg)),
    };
    let reported = doc
        .get("reported_outcome")
        .and_then(Value::as_str)
        .unwrap_or("missing");
    let outcome = match reported {
        "success" | "pass" => "success",
        "failure" | "fail" => "failure",
        "missing" => "missing",
        "timeout" => "timeout",
        "error" => {
            return Err(grade_error(
                "the grader's trial_conclusion_v1 reports outcome error".into(),
            ))
        }
        other => {
            return Err(grade_error(format!(
                "the grader's reported_outcome `{other}` is none of success, failure, missing, timeout, error (or pass, fail)"
            )))
        }
    };
    let mut metrics = BTreeMap::new();
    if let Some(pm) = doc.get("primary_metric") {
        let name = pm["name"].as_str().unwrap_or_default().to_string();
        match pm.get("value") {
            Some(v) if v.is_number() => {
                metrics.insert(name, v.as_f64().unwrap_or_default());
            }
            Some(v) => {
                end.other_metrics.insert(name, v.clone());
            }
            None => {}
        }
    }
    end.evidence.push((
        "trial_conclusion".into(),
        format!("{}/{OUTPUT_FILE}", stage.trial_rel),
    ));
    Ok(GradeResult {
        outcome: outcome.into(),
        metrics,
        evidence: Vec::new(),
    })
}

/// `2026-12-06T19:30:00.123Z` (UTC, milliseconds).
fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::super::AttemptEnd;
    use super::*;
    use journal::event::Classification;

    fn stage(dir: &Path) -> GraderStage {
        let j = |n: &str| dir.join(n);
        GraderStage {
            dir: dir.to_path_buf(),
            task: j("task.json"),
            bindings: j("bindings.json"),
            dependencies: j("dependencies.json"),
            policy: j("policy.json"),
            trial_input: j("trial_input.json"),
            result: j("result.json"),
            grade: j("grade.json"),
            trial_rel: "attempt_1/grader".into(),
        }
    }

    fn read_text(text: Option<&str>) -> (Result<GradeResult, Fault>, AttemptEnd) {
        let tmp = tempfile::tempdir().unwrap();
        if let Some(t) = text {
            std::fs::write(tmp.path().join(OUTPUT_FILE), t).unwrap();
        }
        let mut end = AttemptEnd::new(Classification::Success, "agent done");
        let r = read(&stage(tmp.path()), &mut end);
        (r, end)
    }

    const G: &str = r#""grader":{"name":"g","strategy":"in_task_image"}"#;

    #[test]
    fn the_conclusion_is_the_verdict_and_a_broken_one_is_a_grade_error() {
        let ok = format!(
            r#"{{"schema_version":"trial_conclusion_v1","reported_outcome":"fail","primary_metric":{{"name":"resolved","value":0}},"payload":{{}},{G}}}"#
        );
        let (r, end) = read_text(Some(&ok));
        let Ok(g) = r else {
            panic!("a valid conclusion")
        };
        assert_eq!(g.outcome, "failure");
        assert_eq!(g.metrics["resolved"], 0.0);
        assert_eq!(end.evidence[0].0, "trial_conclusion");
        let absent = format!(r#"{{"schema_version":"trial_conclusion_v1","payload":{{}},{G}}}"#);
        let Ok(g) = read_text(Some(&absent)).0 else {
            panic!("valid")
        };
        assert_eq!(g.outcome, "missing");
        let label = format!(
            r#"{{"schema_version":"trial_conclusion_v1","primary_metric":{{"name":"tier","value":"gold"}},"payload":{{}},{G}}}"#
        );
        let (_, end) = read_text(Some(&label));
        assert_eq!(end.other_metrics["tier"], "gold");
        for (text, why) in [
            (None, "wrote no trial_conclusion_v1"),
            (Some("{".to_string()), "not valid JSON"),
            (
                Some(format!(
                    r#"{{"schema_version":"trial_conclusion_v1","reported_outcome":"error","payload":{{}},{G}}}"#
                )),
                "reports outcome error",
            ),
            (
                Some(format!(
                    r#"{{"schema_version":"trial_conclusion_v1","reported_outcome":"great","payload":{{}},{G}}}"#
                )),
                "reported_outcome `great`",
            ),
            (
                Some(r#"{"schema_version":"trial_conclusion_v1","payload":{}}"#.to_string()),
                "grader",
            ),
        ] {
            let Err(Fault(c, msg)) = read_text(text.as_deref()).0 else {
                panic!("{text:?} must be a grade error")
            };
            assert_eq!(c, Classification::GradeError, "{msg}");
            assert!(msg.contains(why), "{msg}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_587_200_123);
        assert_eq!(super::rfc3339(t), "2026-12-06T20:00:00.123Z");
        assert_eq!(
            super::rfc3339(std::time::UNIX_EPOCH),
            "1970-01-01T00:00:00.000Z"
        );
    }
}
