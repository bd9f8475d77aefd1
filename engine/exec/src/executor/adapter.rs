//! The original runner's benchmark adapter contract (`benchmark.adapter`), run per trial.
//!
//! The original ran the adapter once after all trials, in the project root, with a run
//! directory of evidence records and four output paths. labj runs it after each graded
//! attempt, under the same isolation as its own grader (`grade.rs`): in the grader's
//! fresh directory `attempt_<n>/grader/`, created after the agent's process group is
//! gone, which serves as a run directory holding this one trial, so its scores are
//! journaled with the trial (crash-safe, continuable) and the agent never writes where
//! they are read:
//!
//! ```text
//! attempt_<n>/grader/                   AGENTLAB_RUN_DIR
//!   task.json … result.json             the grader stage's fresh copies (grade.rs)
//!   trials/<trial_id>/                  trial_input.json task.json result.json and the
//!                                       workspace_diff.json / agent_patch.diff labj wrote
//!   evidence/evidence_records.jsonl     AGENTLAB_EVIDENCE_RECORDS_PATH (one record)
//!   evidence/task_chain_states.jsonl    AGENTLAB_TASK_CHAIN_STATES_PATH (empty)
//!   benchmark/                          AGENTLAB_BENCHMARK_DIR
//!     adapter_manifest.json             AGENTLAB_ADAPTER_MANIFEST_PATH (seeded from
//!                                       benchmark.adapter.manifest when given)
//!     predictions.jsonl scores.jsonl    AGENTLAB_PREDICTIONS_PATH / _SCORES_PATH
//!     summary.json tasks.jsonl evaluator_logs/   _BENCHMARK_SUMMARY_PATH, …
//! ```
//!
//! The adapter's cwd is the project root, as in the original. The score row of this
//! trial decides: verdict `pass` → success, `fail`/`missing` → failure (outcome = the
//! verdict), `error` or any breach of the contract → `grade_error`.

use super::classify::{self, MAX_RESULT_BYTES};
use super::grade::{self, GraderStage, StageRole};
use super::{AttemptEnd, Fault, Trial, TrialControl};
use journal::event::Classification;
use model::trial::GraderSpec;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn adapter_error(msg: String) -> Fault {
    Fault(Classification::GradeError, msg)
}

/// Scores `end` (a `success`/`failure` attempt) in place.
pub(super) fn score(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    manifest: Option<&Value>,
    n: u32,
    control: &TrialControl,
    stage: &GraderStage,
    end: &mut AttemptEnd,
) -> Result<(), Fault> {
    match run(trial, grader, manifest, n, control, stage, end) {
        Ok(row) => {
            end.classification = match row.verdict.as_str() {
                "pass" => Classification::Success,
                _ => Classification::Failure,
            };
            end.outcome = Some(row.verdict);
            end.metrics
                .insert(row.primary_metric_name, row.primary_metric_value);
            let (numbers, others) = classify::split_metrics(row.metrics);
            end.metrics.extend(numbers);
            end.other_metrics.extend(others);
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

/// The fields of a `benchmark_score_record_v1` row labj acts on (its `schema_version`
/// and `ids.trial_id` are checked on the raw row).
#[derive(Deserialize)]
struct ScoreRow {
    verdict: String,
    primary_metric_name: String,
    primary_metric_value: f64,
    #[serde(default)]
    metrics: BTreeMap<String, Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ManifestBenchmark {
    name: String,
    split: String,
}

#[derive(Deserialize)]
struct Manifest {
    schema_version: String,
    adapter_id: String,
    benchmark: ManifestBenchmark,
}

struct View {
    run_dir: PathBuf,
    records: PathBuf,
    chains: PathBuf,
    bench: PathBuf,
}

impl View {
    fn bench(&self, name: &str) -> PathBuf {
        self.bench.join(name)
    }
}

fn io(context: &Path, e: std::io::Error) -> Fault {
    super::disk(&context.display().to_string(), e)
}

/// Builds the run view of this trial inside the grader's fresh stage.
fn build_view(
    trial: &Trial<'_>,
    manifest: Option<&Value>,
    stage: &GraderStage,
    exit_code: Option<i32>,
) -> Result<View, Fault> {
    let s = trial.spec;
    let run_dir = stage.dir.clone();
    let rel_trial = format!("trials/{}", s.trial_id);
    let trial_copy = run_dir.join(&rel_trial);
    let evidence = run_dir.join("evidence");
    let bench = run_dir.join("benchmark");
    for d in [&trial_copy, &evidence, &bench.join("evaluator_logs")] {
        std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
    }
    let mut paths = serde_json::Map::new();
    paths.insert("trial_dir".into(), json!(rel_trial));
    // The stage's copies (written by labj from the spec) and the workspace evidence labj
    // wrote after the agent exited; never a file the agent could have written.
    let copies = [
        ("trial_input", stage.trial_input.clone(), "trial_input.json"),
        ("task", stage.task.clone(), "task.json"),
        ("trial_output", stage.result.clone(), "result.json"),
        (
            "workspace_diff",
            trial.paths.trial_dir.join("workspace_diff.json"),
            "workspace_diff.json",
        ),
        (
            "agent_patch",
            trial.paths.trial_dir.join("agent_patch.diff"),
            "agent_patch.diff",
        ),
    ];
    for (key, from, name) in copies {
        if from.is_file() {
            let to = trial_copy.join(name);
            std::fs::copy(&from, &to).map_err(|e| io(&to, e))?;
            paths.insert(key.into(), json!(format!("{rel_trial}/{name}")));
        }
    }
    let record = json!({
        "schema_version": "evidence_record_v1",
        "ids": {
            "run_id": s.run_id,
            "trial_id": s.trial_id,
            "variant_id": s.variant_id,
            "task_id": s.task_id,
            "repl_idx": s.repl_idx,
        },
        "runtime": {
            "executor": "local_process",
            "exit_status": exit_code.map(|c| c.to_string()).unwrap_or_else(|| "signal".into()),
        },
        "paths": paths,
    });
    let records = evidence.join("evidence_records.jsonl");
    std::fs::write(&records, format!("{record}\n")).map_err(|e| io(&records, e))?;
    let chains = evidence.join("task_chain_states.jsonl");
    std::fs::write(&chains, "").map_err(|e| io(&chains, e))?;
    let view = View {
        run_dir,
        records,
        chains,
        bench,
    };
    if let Some(m) = manifest {
        let to = view.bench("adapter_manifest.json");
        let text = serde_json::to_vec_pretty(m).expect("a JSON value always serializes");
        std::fs::write(&to, text).map_err(|e| io(&to, e))?;
    }
    Ok(view)
}

fn run(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    manifest: Option<&Value>,
    n: u32,
    control: &TrialControl,
    stage: &GraderStage,
    end: &mut AttemptEnd,
) -> Result<ScoreRow, Fault> {
    let command = &grader.command;
    let view = build_view(trial, manifest, stage, end.exit_code)?;
    let role = StageRole::Adapter;
    let mut cmd = grade::stage_command(trial, role, command, n, stage)?;
    cmd
        // Not part of the original contract: lets a labj grader still configured under
        // the old spelling (`benchmark.adapter`) write its grade where `hint` finds it.
        .env("AGENTLAB_GRADE_PATH", &stage.grade)
        .env("AGENTLAB_RUN_DIR", &view.run_dir)
        .env("AGENTLAB_EVIDENCE_RECORDS_PATH", &view.records)
        .env("AGENTLAB_TASK_CHAIN_STATES_PATH", &view.chains)
        .env("AGENTLAB_BENCHMARK_DIR", &view.bench)
        .env("AGENTLAB_BENCHMARK_TASKS_PATH", view.bench("tasks.jsonl"))
        .env("AGENTLAB_EVALUATOR_LOGS_DIR", view.bench("evaluator_logs"))
        .env(
            "AGENTLAB_ADAPTER_MANIFEST_PATH",
            view.bench("adapter_manifest.json"),
        )
        .env("AGENTLAB_PREDICTIONS_PATH", view.bench("predictions.jsonl"))
        .env("AGENTLAB_SCORES_PATH", view.bench("scores.jsonl"))
        .env(
            "AGENTLAB_BENCHMARK_SUMMARY_PATH",
            view.bench("summary.json"),
        )
        .current_dir(model::experiment::project_root(&trial.spec.experiment_dir));
    let placement = grade::Placement {
        container: None,
        timeout_ms: grader.timeout_ms.unwrap_or(trial.spec.agent.timeout_ms),
    };
    grade::supervise_stage(trial, role, command, cmd, control, stage, end, placement)?;
    let manifest_path = view.bench("adapter_manifest.json");
    let m: Manifest = read_json(&manifest_path, stage)?;
    if m.schema_version != "benchmark_adapter_manifest_v1"
        || m.adapter_id.is_empty()
        || m.benchmark.name.is_empty()
        || m.benchmark.split.is_empty()
    {
        return Err(adapter_error(format!(
            "{}: not a benchmark_adapter_manifest_v1 (schema_version, adapter_id, \
             benchmark.name and benchmark.split are required)",
            manifest_path.display()
        )));
    }
    let predictions = view.bench("predictions.jsonl");
    let rows = read_jsonl(&predictions, stage)?;
    check_rows(&predictions, &rows, "benchmark_prediction_record_v1")?;
    let scores = view.bench("scores.jsonl");
    let rows = read_jsonl(&scores, stage)?;
    check_rows(&scores, &rows, "benchmark_score_record_v1")?;
    let mine = rows.into_iter().enumerate().find(|(_, r)| {
        r.pointer("/ids/trial_id").and_then(Value::as_str) == Some(&trial.spec.trial_id)
    });
    let Some((i, row)) = mine else {
        return Err(adapter_error(format!(
            "{} has no score row for trial `{}`",
            scores.display(),
            trial.spec.trial_id
        )));
    };
    let row: ScoreRow = serde_json::from_value(row).map_err(|e| {
        adapter_error(format!(
            "{} line {}: bad score row: {e}",
            scores.display(),
            i + 1
        ))
    })?;
    match row.verdict.as_str() {
        "pass" | "fail" | "missing" => {}
        "error" => {
            return Err(adapter_error(format!(
                "benchmark adapter scored the trial `error`{}",
                classify::error_text(&row.error)
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            )))
        }
        other => {
            return Err(adapter_error(format!(
                "{} line {}: verdict `{other}` is not one of pass, fail, missing, error",
                scores.display(),
                i + 1
            )))
        }
    }
    for (class, file) in [
        ("benchmark_scores", "scores.jsonl"),
        ("benchmark_predictions", "predictions.jsonl"),
    ] {
        end.evidence.push((
            class.into(),
            format!("{}/benchmark/{file}", stage.trial_rel),
        ));
    }
    let missing: Vec<&str> = grader
        .required_evidence_classes
        .iter()
        .filter(|c| end.evidence.iter().all(|(have, _)| have != *c))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(adapter_error(format!(
            "missing required evidence classes: {}",
            missing.join(", ")
        )));
    }
    Ok(row)
}

fn read_text(path: &Path) -> Result<String, Fault> {
    let meta = std::fs::metadata(path).map_err(|_| {
        adapter_error(format!(
            "benchmark adapter exited 0 but did not write {}",
            path.display()
        ))
    })?;
    if meta.len() > MAX_RESULT_BYTES {
        return Err(adapter_error(format!(
            "{} is {} bytes, over the {MAX_RESULT_BYTES}-byte limit",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read_to_string(path)
        .map_err(|e| adapter_error(format!("cannot read {}: {e}", path.display())))
}

fn hint(stage: &GraderStage) -> &'static str {
    if stage.grade.exists() {
        " (it wrote grade.json: labj's per-trial grader contract is benchmark.grader, \
         benchmark.adapter follows the original runner's adapter contract)"
    } else {
        ""
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, stage: &GraderStage) -> Result<T, Fault> {
    let text = read_text(path).map_err(|Fault(c, m)| Fault(c, format!("{m}{}", hint(stage))))?;
    serde_json::from_str(&text)
        .map_err(|e| adapter_error(format!("{}: not a valid document: {e}", path.display())))
}

fn read_jsonl(path: &Path, stage: &GraderStage) -> Result<Vec<Value>, Fault> {
    let text = read_text(path).map_err(|Fault(c, m)| Fault(c, format!("{m}{}", hint(stage))))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            adapter_error(format!(
                "{} line {}: invalid JSON: {e}",
                path.display(),
                i + 1
            ))
        })?;
        rows.push(v);
    }
    Ok(rows)
}

fn check_rows(path: &Path, rows: &[Value], schema_version: &str) -> Result<(), Fault> {
    for (i, r) in rows.iter().enumerate() {
        if r.get("schema_version").and_then(Value::as_str) != Some(schema_version) {
            return Err(adapter_error(format!(
                "{} row {}: schema_version must be `{schema_version}`",
                path.display(),
                i + 1
            )));
        }
    }
    Ok(())
}
