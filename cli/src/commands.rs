//! One function per subcommand.

use crate::render;
use crate::{Cli, Command, DriveArgs, Executor, SchemaCommand, TrialCommand};
use anyhow::{anyhow, bail, Context, Result};
use engine::control::{self, ControlCommand};
use engine::coordinator::SessionEnd;
use engine::lease::{self, Liveness};
use engine::run::{self, RunOptions, RunOutcome, JOURNAL_FILE};
use journal::{Durability, Journal};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    let runs_dir = cli.runs_dir;
    match cli.command {
        Command::Describe {
            experiment,
            json,
            container_engine,
        } => describe(&experiment, json, container_engine),
        Command::Run { experiment, drive } => {
            let (opts, threshold, json) = drive_options(&runs_dir, &drive)?;
            engine::coordinator::install_interrupt_handler();
            let outcome = run::start_run(&experiment, &opts)?;
            finish(outcome, json, threshold)
        }
        Command::Continue {
            run,
            drive,
            allow_changed_inputs,
        } => {
            let dir = run::resolve_run(&runs_dir, &run)?;
            let (mut opts, threshold, json) = drive_options(&runs_dir, &drive)?;
            opts.allow_changed_inputs = allow_changed_inputs;
            engine::coordinator::install_interrupt_handler();
            let outcome = run::continue_run(&dir, &opts)?;
            finish(outcome, json, threshold)
        }
        Command::Status { run, json } => {
            let j = open_ro(&runs_dir, &run)?;
            let proj = j.fold(None)?;
            render::projections(&proj, None, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { run, until, json } => {
            let j = open_ro(&runs_dir, &run)?;
            let proj = j.fold(until)?;
            render::projections(&proj, Some(proj.last_idx().unwrap_or(0)), json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Events {
            run,
            from,
            to,
            kind,
            trial,
            json,
        } => events(&runs_dir, &run, from, to, kind, trial, json),
        Command::Inspect { run, last, json } => {
            let dir = run::resolve_run(&runs_dir, &run)?;
            let report = engine::inspect::inspect(&dir, last)?;
            render::inspection(&report, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { run, json } => {
            let j = open_ro(&runs_dir, &run)?;
            let report = engine::inspect::verify(&j)?;
            render::verify(&report, json);
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Rebuild { run } => {
            let dir = run::resolve_run(&runs_dir, &run)?;
            let mut j = Journal::open(&dir.join(JOURNAL_FILE), Durability::Normal)?;
            let holder = lease::read(j.conn())?;
            if let Some(row) = holder {
                if lease::liveness(&row, lease::now_ms()) == Liveness::Alive {
                    bail!(
                        "run is live (pid {} on {}); rebuild it after it stops",
                        row.holder.pid,
                        row.holder.host
                    );
                }
            }
            let proj = j.rebuild()?;
            println!(
                "rebuilt projections of run {} from {} events",
                proj.run.as_ref().map(|r| r.run_id.as_str()).unwrap_or("?"),
                j.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Pause {
            run,
            trial,
            label,
            timeout_seconds,
            json,
        } => send_control(
            &runs_dir,
            &run,
            ControlCommand::Pause {
                trial_id: trial,
                label,
            },
            timeout_seconds,
            json,
        ),
        Command::Resume {
            run,
            trial,
            all,
            timeout_seconds,
            json,
        } => send_control(
            &runs_dir,
            &run,
            ControlCommand::Resume {
                trial_id: trial,
                all,
            },
            timeout_seconds,
            json,
        ),
        Command::Kill {
            run,
            timeout_seconds,
            json,
        } => send_control(&runs_dir, &run, ControlCommand::Kill, timeout_seconds, json),
        Command::Cancel {
            run,
            trial,
            timeout_seconds,
            json,
        } => send_control(
            &runs_dir,
            &run,
            ControlCommand::Cancel { trial_id: trial },
            timeout_seconds,
            json,
        ),
        Command::Set {
            run,
            max_concurrency,
            timeout_seconds,
            json,
        } => send_control(
            &runs_dir,
            &run,
            ControlCommand::Set { max_concurrency },
            timeout_seconds,
            json,
        ),
        Command::Schema { command } => schema(command),
        Command::Trial {
            command: TrialCommand::Exec { spec, outcome },
        } => {
            engine::backend::slurm::job::exec_job(&spec, &outcome).map_err(|e| anyhow!(e))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker { command } => crate::worker::run(command),
    }
}

fn drive_options(runs_dir: &Path, d: &DriveArgs) -> Result<(RunOptions, f64, bool)> {
    let threshold = parse_percent(&d.fail_on_infra_error)?;
    let opts = RunOptions {
        runs_dir: runs_dir.to_path_buf(),
        max_concurrency: d.max_concurrency,
        progress: !d.json,
        durability: if d.durable {
            Durability::Full
        } else {
            Durability::Normal
        },
        executor: d.executor.map(|e| match e {
            Executor::Local => run::ExecutorKind::Local,
            Executor::Remote => run::ExecutorKind::Remote,
            Executor::Slurm => run::ExecutorKind::Slurm,
        }),
        slurm_partition: d.slurm_partition.clone(),
        slurm_args: d.slurm_arg.clone(),
        container_engine: d.container_engine.clone(),
        no_retry_lost: d.no_retry_lost,
        remote: run::RemoteOptions {
            endpoints: d.remote_endpoints.clone(),
            token_env: d.remote_token_env.clone(),
        },
        allow_changed_inputs: false,
    };
    Ok((opts, threshold, d.json))
}

fn parse_percent(s: &str) -> Result<f64> {
    let t = s.trim().trim_end_matches('%');
    let v: f64 = t
        .parse()
        .map_err(|_| anyhow!("--fail-on-infra-error {s:?}: expected a percentage such as 5%"))?;
    if !(0.0..=100.0).contains(&v) {
        bail!("--fail-on-infra-error {s:?}: must be between 0% and 100%");
    }
    Ok(v)
}

fn open_ro(runs_dir: &Path, run: &str) -> Result<Journal> {
    let dir = run::resolve_run(runs_dir, run)?;
    Ok(Journal::open_read_only(&dir.join(JOURNAL_FILE))?)
}

fn describe(path: &Path, json: bool, container_engine: Option<String>) -> Result<ExitCode> {
    let exp = engine::experiment::load(path)?;
    let d = engine::experiment::describe(&exp);
    // What this machine will enforce; a setting it cannot honour fails describe too.
    let choice = engine::isolation::HostChoice { container_engine };
    let enforced = engine::isolation::preflight(&exp, &choice);
    if json {
        let mut v = serde_json::to_value(&d)?;
        match &enforced {
            Ok(e) => v["isolation"] = json!(e.summary),
            Err(e) => v["isolation_error"] = json!(e.to_string()),
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", d.render_text());
        if let Ok(e) = &enforced {
            println!("isolation: {}", e.summary);
        }
        if let Err(e) = engine::experiment::check_runnable(&exp) {
            println!("\nnot runnable yet: {e}");
        }
    }
    match enforced {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow!("cannot be run here: {e}")),
    }
}

fn finish(outcome: RunOutcome, json: bool, infra_threshold_pct: f64) -> Result<ExitCode> {
    let proj = &outcome.projections;
    let overall = &proj.aggregates.overall;
    let infra = overall.infra;
    let ran = overall.committed - overall.skipped_pruned;
    let infra_pct = if ran == 0 {
        0.0
    } else {
        100.0 * infra as f64 / ran as f64
    };
    let end = match outcome.end {
        SessionEnd::Completed => "completed",
        SessionEnd::Failed => "failed",
        SessionEnd::Killed => "killed",
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "run_id": outcome.run_id,
                "run_dir": outcome.run_dir,
                "status": end,
                "infra_faults": infra,
                "infra_fault_pct": infra_pct,
                "infra_retried": overall.infra_retried,
                "run_control": proj.run_control_doc(),
                "progress": proj.progress_doc(),
                "aggregates": proj.aggregates_doc(),
            }))?
        );
    } else {
        render::summary(&outcome, infra, infra_pct);
    }
    Ok(match outcome.end {
        SessionEnd::Failed => ExitCode::from(1),
        SessionEnd::Killed => ExitCode::from(4),
        SessionEnd::Completed if infra > 0 && infra_pct > infra_threshold_pct => {
            eprintln!(
                "labj: {infra} trial(s) ({infra_pct:.1}%) died of infrastructure faults, above --fail-on-infra-error {infra_threshold_pct}%"
            );
            ExitCode::from(3)
        }
        SessionEnd::Completed => ExitCode::SUCCESS,
    })
}

fn events(
    runs_dir: &Path,
    run: &str,
    from: Option<u64>,
    to: Option<u64>,
    kind: Option<String>,
    trial: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let j = open_ro(runs_dir, run)?;
    if let Some(k) = &kind {
        if !journal::event::EVENT_KINDS.contains(&k.as_str()) {
            bail!(
                "unknown event kind {k:?}; kinds: {}",
                journal::event::EVENT_KINDS.join(", ")
            );
        }
    }
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    j.for_each_event(from.unwrap_or(0), to, false, |e| {
        if kind.as_deref().is_some_and(|k| k != e.event.kind()) {
            return Ok(());
        }
        if trial
            .as_deref()
            .is_some_and(|t| Some(t) != e.event.trial_id())
        {
            return Ok(());
        }
        let line = if json {
            engine::inspect::event_json(&e).to_string()
        } else {
            engine::inspect::event_line(&e)
        };
        // A closed pipe (`| head`) ends the listing quietly.
        let _ = writeln!(out, "{line}");
        Ok(())
    })?;
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

fn send_control(
    runs_dir: &Path,
    run: &str,
    command: ControlCommand,
    timeout_seconds: u64,
    json: bool,
) -> Result<ExitCode> {
    let dir: PathBuf = run::resolve_run(runs_dir, run)?;
    let j = Journal::open(&dir.join(JOURNAL_FILE), Durability::Normal)?;
    let live = match lease::read(j.conn())? {
        Some(row) => lease::liveness(&row, lease::now_ms()) == Liveness::Alive,
        None => false,
    };
    if !live {
        let proj = j.fold(None)?;
        let status = proj.control.status.as_str();
        let hint = if status == "completed" {
            "it has finished".to_string()
        } else {
            format!("resume it with `labj continue {run}`")
        };
        bail!(
            "no live labj process is driving run {} (journaled status: {status}, {} of {} slots committed); {hint}",
            proj.run.as_ref().map(|r| r.run_id.as_str()).unwrap_or(run),
            proj.progress.next_commit_idx,
            proj.progress.total_slots
        );
    }
    let request_id = control::submit(j.conn(), &command)
        .with_context(|| format!("cannot queue the {} request", command.name()))?;
    let answer = control::wait_answer(j.conn(), &request_id, Duration::from_secs(timeout_seconds))?;
    let Some(answer) = answer else {
        let withdrawn = control::withdraw(j.conn(), &request_id)?;
        bail!(
            "no answer to {} within {timeout_seconds}s{}",
            command.name(),
            if withdrawn {
                " (request withdrawn; the coordinator may be stuck: see `labj inspect`)"
            } else {
                " (the coordinator picked it up; see `labj status`)"
            }
        );
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "request_id": request_id,
                "command": command.name(),
                "ok": answer.ok,
                "status": answer.status,
                "message": answer.message,
                "detail": answer.detail,
            }))?
        );
    } else if answer.ok {
        println!(
            "{}: {} (run status: {})",
            command.name(),
            answer.message,
            answer.status
        );
    } else {
        eprintln!(
            "{} refused: {} (run status: {})",
            command.name(),
            answer.message,
            answer.status
        );
    }
    Ok(if answer.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn schema(cmd: SchemaCommand) -> Result<ExitCode> {
    match cmd {
        SchemaCommand::List => {
            for n in engine::schemas::names() {
                println!("{n}");
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Validate { schema, file, json } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let is_yaml = matches!(
                file.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            let doc: serde_json::Value = if is_yaml {
                serde_yaml_ng::from_str(&text)
                    .with_context(|| format!("{} is not valid YAML", file.display()))?
            } else {
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not valid JSON", file.display()))?
            };
            match engine::schemas::validate(&schema, &doc) {
                Ok(()) => {
                    if json {
                        println!("{}", json!({"valid": true, "schema": schema, "file": file}));
                    } else {
                        println!("{}: valid {schema}", file.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(engine::schemas::SchemaError::Invalid { violations, .. }) => {
                    if json {
                        let v: Vec<_> = violations
                            .iter()
                            .map(|v| json!({"pointer": v.pointer, "rule": v.rule, "message": v.message}))
                            .collect();
                        println!(
                            "{}",
                            json!({"valid": false, "schema": schema, "file": file, "violations": v})
                        );
                    } else {
                        eprintln!("{}: not a valid {schema}:", file.display());
                        for v in &violations {
                            eprintln!("  - {v}");
                        }
                    }
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
