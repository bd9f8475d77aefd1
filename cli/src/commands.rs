//! One function per subcommand.

use crate::cmd_trials::trial_arg;
use crate::runs_dir::RunsDir;
use crate::{progress, render};
use crate::{Cli, Command, DriveArgs, Executor, SchemaCommand, TrialCommand};
use anyhow::{anyhow, bail, Context, Result};
use engine::control::{self, ControlCommand};
use engine::run::{self, RunOptions, RunOutcome};
use journal::{Durability, Journal};
use read::verdict;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The `labj …` command line that reaches a run again from here: `--runs-dir` kept
/// when it is not the one found from the current directory, so a pasted hint works.
pub fn again_fn(runs_dir: &Path) -> impl Fn(&str) -> String + Send + Sync + 'static {
    let found = RunsDir::for_reading(None).dir;
    let same = |a: &Path, b: &Path| {
        a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    };
    let extra = if same(runs_dir, &found) {
        String::new()
    } else {
        format!(
            " --runs-dir {}",
            render::shell_word(&runs_dir.to_string_lossy())
        )
    };
    move |rest: &str| format!("labj {rest}{extra}")
}

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    let rd = match &cli.command {
        Command::Run { experiment, .. } => RunsDir::for_experiment(cli.runs_dir, experiment),
        _ => RunsDir::for_reading(cli.runs_dir),
    };
    dispatch_in(cli.command, &rd).map_err(|e| rd.explain(e))
}

fn dispatch_in(command: Command, rd: &RunsDir) -> Result<ExitCode> {
    let runs_dir = rd.dir.clone();
    match command {
        Command::Describe {
            experiment,
            json,
            container_engine,
            effect,
            sd,
            launch,
        } => {
            install_launch(&launch, None)?;
            let power = match (effect, sd) {
                (Some(e), Some(s)) => Some((e, s)),
                _ => None,
            };
            describe(&experiment, json, container_engine, power)
        }
        Command::Run { experiment, drive } => {
            let (opts, threshold, json, display) = drive_options(&runs_dir, &drive)?;
            engine::coordinator::install_interrupt_handler()
                .context("installing the signal handlers")?;
            let outcome = run::start_run(&experiment, &opts);
            display.finish();
            finish(outcome?, json, threshold, &runs_dir)
        }
        Command::Continue {
            run,
            drive,
            allow_changed_inputs,
        } => {
            let dir = run::resolve_run(&runs_dir, &run)?;
            let (mut opts, threshold, json, display) = drive_options(&runs_dir, &drive)?;
            opts.allow_changed_inputs = allow_changed_inputs;
            engine::coordinator::install_interrupt_handler()
                .context("installing the signal handlers")?;
            let outcome = run::continue_run(&dir, &opts);
            display.finish();
            finish(outcome?, json, threshold, &runs_dir)
        }
        Command::Status { run, json } => {
            let dir = run::resolve_run(&runs_dir, &run)?;
            let j = journal::RunDir::new(&dir).open_read_only()?;
            // From the materialized projections, not a fold of every event.
            let view = read::report::status(&dir, &j)?;
            let proj = &view.projections;
            let live = read::report::runs::holder_alive(&j);
            render::projections(proj, None, Some(&view.failures), Some(live), json);
            if !json {
                render::budget(&j, proj)?;
            }
            if let Some(note) = read::inspect::liveness_note(&j, proj)? {
                if json {
                    eprintln!("labj: {note}");
                } else {
                    println!("{note}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { run, until, json } => {
            let until = read::inspect::event_idx("--until", until).map_err(|e| anyhow!(e))?;
            let j = open_ro(&runs_dir, &run)?;
            // From the nearest verified snapshot at or before `until`.
            let proj = j.fold_from_snapshot(until)?.projections;
            render::projections(&proj, Some(proj.last_idx().unwrap_or(0)), None, None, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Runs { json } => crate::cmd_runs::runs(rd, json),
        Command::Query {
            run,
            sql,
            json,
            csv,
        } => {
            let format = match (json, csv) {
                (true, _) => crate::cmd_query::QueryFormat::Json,
                (_, true) => crate::cmd_query::QueryFormat::Csv,
                _ => crate::cmd_query::QueryFormat::Table,
            };
            crate::cmd_query::query(&runs_dir, &run, &sql, format)
        }
        Command::Trials {
            run,
            variant,
            outcome,
            json,
        } => crate::cmd_trials::trials(&runs_dir, &run, variant, outcome, json),
        Command::Logs {
            run,
            trial,
            attempt,
            stderr: _,
            stdout,
            grader,
        } => crate::cmd_trials::logs(&runs_dir, &run, &trial, attempt, stdout, grader),
        Command::View {
            run,
            port,
            listen,
            token_env,
            open,
            export,
        } => crate::cmd_view::view(&runs_dir, run, port, listen, token_env, open, export),
        Command::Report {
            run,
            format,
            out,
            resamples,
            seed,
        } => crate::cmd_report::report(&runs_dir, &run, format, out, resamples, seed),
        Command::Export {
            run,
            table,
            format,
            out,
        } => crate::cmd_export::export(&runs_dir, &run, table, format, out),
        Command::Init { dir } => crate::cmd_init::init(&dir),
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
            let report = read::inspect::inspect(&dir, last)?;
            render::inspection(&report, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { run, json } => {
            let j = open_ro(&runs_dir, &run)?;
            let report = read::inspect::verify(&j)?;
            render::verify(&report, json);
            Ok(ExitCode::from(verdict::verify_exit(&report)))
        }
        Command::Rebuild { run } => {
            let dir = run::resolve_run(&runs_dir, &run)?;
            let (proj, events) = run::rebuild(&dir)?;
            println!(
                "rebuilt projections of run {} from {events} events",
                proj.run.as_ref().map(|r| r.run_id.as_str()).unwrap_or("?"),
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
                trial_id: trial.as_deref().map(trial_arg).transpose()?,
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
                trial_id: trial.as_deref().map(trial_arg).transpose()?,
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
            ControlCommand::Cancel {
                trial_id: trial_arg(&trial)?,
            },
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
            engine::backend::slurm::exec_job(&spec, &outcome).map_err(|e| anyhow!(e))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Trial {
            command:
                TrialCommand::Pilot {
                    workers_dir,
                    idle_secs,
                },
        } => {
            let job = std::env::var("SLURM_JOB_ID").unwrap_or_default();
            engine::backend::slurm::serve_pilot(
                &workers_dir,
                &job,
                std::time::Duration::from_secs(idle_secs),
            )
            .map_err(|e| anyhow!(e))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker { command } => crate::worker::run(command),
    }
}

/// Reads `--env`, `--env-file`, `--secret-file` into this process (never anywhere else).
fn install_launch(l: &crate::LaunchArgs, executor: Option<Executor>) -> Result<()> {
    let env = model::launch_env::from_args(&l.env, &l.env_file, &l.secret_file)
        .map_err(|e| anyhow!(e))?;
    if !env.is_empty() && matches!(executor, Some(Executor::Slurm | Executor::Remote)) {
        bail!(
            "--env, --env-file and --secret-file reach agents started by this process only; \
             trials of --executor slurm or remote run elsewhere: export the variables there \
             and list them in runtime.agent.env_from_host"
        );
    }
    model::launch_env::install(env);
    Ok(())
}

fn drive_options(
    runs_dir: &Path,
    d: &DriveArgs,
) -> Result<(RunOptions, f64, bool, Arc<progress::Display>)> {
    install_launch(&d.launch, d.executor)?;
    let threshold = verdict::parse_percent(&d.fail_on_infra_error).map_err(|e| anyhow!(e))?;
    let mode = progress::Mode::choose(d.quiet || d.json);
    let display = Arc::new(progress::Display::new(mode, again_fn(runs_dir)));
    let opts = RunOptions {
        runs_dir: runs_dir.to_path_buf(),
        max_concurrency: d.max_concurrency,
        progress: !d.json && !d.quiet,
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
        slurm_workers: d.slurm_workers,
        container_engine: d.container_engine.clone(),
        no_retry_lost: d.no_retry_lost,
        remote: run::RemoteOptions {
            endpoints: d.remote_endpoints.clone(),
            token_env: d.remote_token_env.clone(),
            insecure_plaintext: d.insecure_plaintext,
            tls_ca: d.tls_ca.clone(),
            tls_pin: d.tls_pin.clone(),
        },
        allow_changed_inputs: false,
        budget_overrides: d.budget.clone(),
        observer: engine::progress::Observer::new(display.clone()),
    };
    Ok((opts, threshold, d.json, display))
}

fn open_ro(runs_dir: &Path, run: &str) -> Result<Journal> {
    let dir = run::resolve_run(runs_dir, run)?;
    Ok(journal::RunDir::new(&dir).open_read_only()?)
}

fn describe(
    path: &Path,
    json: bool,
    container_engine: Option<String>,
    power: Option<(f64, f64)>,
) -> Result<ExitCode> {
    let exp = model::experiment::load(path)?;
    let d = model::experiment::describe(&exp);
    let plan = power
        .map(|(effect, sd)| {
            read::report::clustered::plan(effect, sd, exp.task_ids().len() as u64)
                .map_err(|e| anyhow!(e))
        })
        .transpose()?;
    // What this machine will enforce; a setting it cannot honour fails describe too.
    let choice = exec::isolation::HostChoice { container_engine };
    let enforced = exec::isolation::preflight(&exp, &choice);
    if json {
        let mut v = serde_json::to_value(&d)?;
        match &enforced {
            Ok(e) => v["isolation"] = json!(e.summary),
            Err(e) => v["isolation_error"] = json!(e.to_string()),
        }
        if let Some(p) = &plan {
            v["power"] = json!(p);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", d.render_text());
        if let Some(p) = &plan {
            println!("{}", p.render());
        }
        if let Ok(e) = &enforced {
            println!("isolation: {}", e.summary);
        }
    }
    // Exit non-zero when `labj run` would refuse it, so a script can rely on describe;
    // every reason is named (the host's isolation first, then the programs).
    let mut refusals = Vec::new();
    if let Err(e) = enforced {
        refusals.push(format!("cannot be run here: {e}"));
    }
    if let Err(e) = model::experiment::check_runnable(&exp) {
        refusals.push(e.to_string());
    }
    if refusals.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("{}; `labj run` would refuse it", refusals.join("; "))
    }
}

fn finish(
    outcome: RunOutcome,
    json: bool,
    infra_threshold_pct: f64,
    runs_dir: &Path,
) -> Result<ExitCode> {
    let v = verdict::run_verdict(&outcome, infra_threshold_pct);
    let proj = &outcome.projections;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "run_id": outcome.run_id,
                "run_dir": outcome.run_dir,
                "status": v.status,
                "infra_faults": v.infra,
                "infra_fault_pct": v.infra_pct,
                "infra_retried": proj.aggregates.overall.infra_retried,
                "run_control": proj.run_control_doc(),
                "progress": proj.progress_doc(),
                "aggregates": proj.aggregates_doc(),
                "summary": render::summary_json(proj),
                "failures": failure_classes_of(&outcome.run_dir, proj),
            }))?
        );
    } else {
        let classes = failure_classes_of(&outcome.run_dir, proj);
        render::summary(
            &outcome,
            v.infra,
            v.infra_pct,
            &classes,
            &again_fn(runs_dir),
        );
    }
    if let Some(w) = &v.warning {
        eprintln!("labj: {w}");
    }
    Ok(ExitCode::from(v.exit_code))
}

/// The failure classes of a run that just ended (read back from its journal's fact
/// tables up to what `proj`, the session's own fold, committed: no second fold); empty,
/// with a warning, if that fails: the summary must still print.
fn failure_classes_of(
    run_dir: &Path,
    proj: &journal::Projections,
) -> Vec<read::report::FailureClass> {
    let classes = journal::RunDir::new(run_dir)
        .open_read_only()
        .and_then(|j| {
            read::report::failure_classes_materialized(run_dir, &j, proj.progress.next_commit_idx)
        });
    match classes {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("cannot read the failures of {}: {e}", run_dir.display());
            Vec::new()
        }
    }
}

fn events(
    runs_dir: &Path,
    run: &str,
    from: Option<i64>,
    to: Option<i64>,
    kind: Option<String>,
    trial: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let (from, to) = read::inspect::event_range(from, to).map_err(|e| anyhow!(e))?;
    let j = open_ro(runs_dir, run)?;
    let trial = trial.as_deref().map(trial_arg).transpose()?;
    if let Some(t) = &trial {
        crate::cmd_trials::check_trial_in_run(&j, t)?;
    }
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
    j.for_each_event(from, to, false, |e| {
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
            read::inspect::event_json(&e).to_string()
        } else {
            read::inspect::event_line(&e)
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
    let dir = run::resolve_run(runs_dir, run)?;
    let reply = control::send(&dir, run, &command, Duration::from_secs(timeout_seconds))?;
    let mut answer = reply.answer.clone();
    // The coordinator writes `<run>` where the run's name goes: the name typed here.
    answer.message = answer.message.replace("<run>", run);
    let answer = &answer;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "request_id": reply.request_id,
                "command": reply.command,
                "ok": answer.ok,
                "status": answer.status,
                "message": answer.message,
                "detail": answer.detail,
            }))?
        );
    } else if answer.ok {
        println!(
            "{}: {} (run status: {})",
            reply.command, answer.message, answer.status
        );
    } else {
        eprintln!(
            "{} refused: {} (run status: {})",
            reply.command, answer.message, answer.status
        );
    }
    Ok(ExitCode::from(reply.exit_code()))
}

fn schema(cmd: SchemaCommand) -> Result<ExitCode> {
    match cmd {
        SchemaCommand::List => {
            for n in model::schemas::names() {
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
            match model::schemas::validate(&schema, &doc) {
                Ok(()) => {
                    if json {
                        println!("{}", json!({"valid": true, "schema": schema, "file": file}));
                    } else {
                        println!("{}: valid {schema}", file.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(model::schemas::SchemaError::Invalid { violations, .. }) => {
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
