//! `labj`: the command line of the labj runner. Thin: parses arguments, calls the engine
//! and the journal, renders results. Exit codes: 0 ok; 1 error or failed run; 2 usage;
//! 3 run completed but infrastructure faults exceeded `--fail-on-infra-error`;
//! 4 run killed or left unfinished.

mod commands;
mod render;
mod worker;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "labj",
    version,
    about = "Event-sourced runner for agent-evaluation experiments",
    long_about = "labj runs every trial (variant × task × replication) of an experiment in parallel, journals every dispatch, completion and commit in a hash-chained SQLite journal per run, and rebuilds every view of the run from that journal."
)]
struct Cli {
    /// Directory holding runs (default `.lab/runs` under the current directory).
    #[arg(
        long,
        global = true,
        default_value = ".lab/runs",
        env = "LABJ_RUNS_DIR"
    )]
    runs_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate an experiment and show what a run would do.
    Describe {
        experiment: PathBuf,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Container engine for `sandbox.mode: container` (docker, podman or a path;
        /// default: LABJ_CONTAINER_ENGINE, else whichever is on PATH).
        #[arg(long, value_name = "ENGINE")]
        container_engine: Option<String>,
    },
    /// Create a run from an experiment and drive it to the end.
    Run {
        /// Experiment file (YAML or JSON, resolved v0.5 or v0.4).
        experiment: PathBuf,
        #[command(flatten)]
        drive: DriveArgs,
    },
    /// Continue a crashed, killed or interrupted run.
    Continue {
        run: String,
        #[command(flatten)]
        drive: DriveArgs,
        /// Continue even though the run's inputs (experiment, dataset, task limits,
        /// mounts, dependency files, agent or grader programs) changed since it was
        /// created; the change is journaled in `session_started.inputs_changed`.
        #[arg(long)]
        allow_changed_inputs: bool,
    },
    /// Show the run's current run_control_v2, progress and aggregates.
    Status {
        run: String,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the projections as of event idx.
    Replay {
        run: String,
        /// Fold events 0..=UNTIL (an event idx, 0 or more).
        #[arg(long, allow_negative_numbers = true)]
        until: Option<i64>,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print journal events.
    Events {
        run: String,
        /// First event idx to print (0 or more).
        #[arg(long, allow_negative_numbers = true)]
        from: Option<i64>,
        /// Last event idx to print (inclusive; not below --from).
        #[arg(long, allow_negative_numbers = true)]
        to: Option<i64>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        trial: Option<String>,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Forensic report of a (crashed or stuck) run.
    Inspect {
        run: String,
        /// How many trailing events to show.
        #[arg(long, default_value_t = 15)]
        last: usize,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain, payload schemas and materialized projections.
    Verify {
        run: String,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Recompute materialized projections from events.
    Rebuild { run: String },
    /// Pause a live run (all active trials, or one).
    Pause {
        run: String,
        #[arg(long)]
        trial: Option<String>,
        #[arg(long)]
        label: Option<String>,
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Resume a paused run or trial.
    Resume {
        run: String,
        #[arg(long)]
        trial: Option<String>,
        /// Resume every paused trial at once.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop every active trial and end the session; `labj continue` picks up later.
    Kill {
        run: String,
        #[arg(long, default_value_t = 60)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop one active trial; it commits as cancelled.
    Cancel {
        run: String,
        #[arg(long)]
        trial: String,
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change a live run's settings.
    Set {
        run: String,
        #[arg(long)]
        max_concurrency: u32,
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// JSON Schema tools.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Run one trial attempt from a spec file (what a Slurm job runs; internal).
    #[command(hide = true)]
    Trial {
        #[command(subcommand)]
        command: TrialCommand,
    },
    /// Remote worker: run trials for coordinators on other machines.
    Worker {
        #[command(subcommand)]
        command: worker::WorkerCommand,
    },
}

#[derive(Subcommand)]
enum TrialCommand {
    /// Execute the TrialSpec in `--spec`, write the TrialOutcome to `--outcome`.
    Exec {
        #[arg(long)]
        spec: PathBuf,
        #[arg(long)]
        outcome: PathBuf,
    },
}

/// Where trials execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Executor {
    /// Threads of this process, on this machine.
    Local,
    /// `labj worker serve` endpoints (`--remote-endpoint`).
    Remote,
    /// One Slurm batch job per trial attempt (needs a run directory the nodes share).
    Slurm,
}

/// Options of the commands that drive a run (`run`, `continue`).
#[derive(clap::Args)]
struct DriveArgs {
    /// Override the run's max concurrency.
    #[arg(long)]
    max_concurrency: Option<u32>,
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Exit 3 when more than this share of committed trials died of infrastructure
    /// faults (spawn failure, disk error, worker lost). `0%` (default) fails on any.
    #[arg(long, default_value = "0%")]
    fail_on_infra_error: String,
    /// fsync every commit (survives power loss; slower).
    #[arg(long)]
    durable: bool,
    /// Where trials execute (`continue`: the run's own unless given).
    #[arg(long, value_enum, env = "LABJ_EXECUTOR")]
    executor: Option<Executor>,
    /// Slurm partition of the jobs (`--executor slurm`; default: the cluster's default).
    #[arg(long, env = "LABJ_SLURM_PARTITION")]
    slurm_partition: Option<String>,
    /// Extra `sbatch` argument for every job, e.g. `--slurm-arg=--mem=4G` (repeatable).
    #[arg(long = "slurm-arg", allow_hyphen_values = true)]
    slurm_arg: Vec<String>,
    /// Container engine for `sandbox.mode: container` (docker, podman or a path;
    /// default: LABJ_CONTAINER_ENGINE, else whichever is on PATH). Extra `run`
    /// arguments come from LABJ_CONTAINER_ARGS.
    #[arg(long, value_name = "ENGINE")]
    container_engine: Option<String>,
    /// Commit attempts lost to infrastructure (crash, kill, vanished worker) as
    /// `worker_lost` instead of re-running them; by default a slot is re-run until
    /// `design.policies.retry.max_infra_attempts` (default 3) attempts were lost.
    #[arg(long)]
    no_retry_lost: bool,
    /// A `labj worker serve` endpoint, e.g. http://10.0.0.5:7070/ (repeat for several).
    #[arg(long = "remote-endpoint", value_name = "URL")]
    remote_endpoints: Vec<String>,
    /// Name of the environment variable holding the workers' bearer token.
    #[arg(long, value_name = "VAR")]
    remote_token_env: Option<String>,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Validate a JSON (or YAML) document against a named schema.
    Validate {
        #[arg(long)]
        schema: String,
        file: PathBuf,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List known schemas.
    List,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LABJ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            // The cause chain, minus causes a message already quotes (most library
            // errors include their source), so nothing is printed twice.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}
