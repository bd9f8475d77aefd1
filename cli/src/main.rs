//! `labj`: the command line of the labj runner. Thin: parses arguments, calls the engine
//! and the journal, renders results. Exit codes: 0 ok; 1 error or failed run; 2 usage;
//! 3 run completed but infrastructure faults exceeded `--fail-on-infra-error`;
//! 4 run killed or left unfinished.

mod cmd_export;
mod cmd_init;
mod cmd_query;
mod cmd_report;
mod cmd_runs;
mod cmd_trials;
mod cmd_view;
mod commands;
mod logging;
mod out_target;
mod progress;
mod render;
mod runs_dir;
mod worker;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "labj",
    version,
    about = "Event-sourced runner for agent-evaluation experiments",
    long_about = "labj runs every trial (variant × task × replication) of an experiment in parallel, journals every dispatch, completion and commit in a hash-chained SQLite journal per run, and rebuilds every view of the run from that journal.",
    after_help = "Examples:\n  labj init my-eval && labj run my-eval/experiment.yaml\n  labj runs\n  labj report <run> --format html --out report.html\n\nLogs: RUST_LOG (or LABJ_LOG) sets the level, e.g. RUST_LOG=labj=debug,engine=debug."
)]
struct Cli {
    /// Directory holding runs: where `run` creates them and where a <RUN> is looked up
    /// (commands without a run ignore it). Default: `runs/` of the project's `.lab`
    /// folder, found as git finds `.git`: for `run`, the nearest `.lab` at or above the
    /// experiment file (created beside it when there is none); for the other commands,
    /// the nearest `.lab` at or above the current directory.
    #[arg(long, global = true, env = "LABJ_RUNS_DIR", value_name = "DIR")]
    runs_dir: Option<PathBuf>,
    /// Format of log lines on stderr (levels from RUST_LOG, else LABJ_LOG; default warn).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate an experiment and show what a run would do (exit 1 when it cannot run).
    #[command(after_help = "Example:\n  labj describe examples/quickstart/experiment.yaml")]
    Describe {
        /// Experiment file (YAML or JSON, resolved v0.5, v0.4 or v0.3).
        experiment: PathBuf,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Container engine for `sandbox.mode: container` (docker, podman or a path;
        /// default: LABJ_CONTAINER_ENGINE, else whichever is on PATH).
        #[arg(long, value_name = "ENGINE")]
        container_engine: Option<String>,
        /// Power planning: the difference (variant − baseline, e.g. 0.1 for 10 points of
        /// success rate) you expect; with --sd prints the tasks needed to detect it.
        #[arg(long, value_name = "D", requires = "sd", allow_negative_numbers = true)]
        effect: Option<f64>,
        /// Power planning: the standard deviation of per-task differences (a previous
        /// run's `labj report` prints it as `sd of per-task differences`).
        #[arg(long, value_name = "S", requires = "effect")]
        sd: Option<f64>,
        #[command(flatten)]
        launch: LaunchArgs,
    },
    /// Create a run from an experiment and drive it to the end.
    #[command(
        after_help = "Examples:\n  labj run examples/quickstart/experiment.yaml\n  labj run exp.yaml --max-concurrency 8 --quiet\n  labj --runs-dir /data/runs run exp.yaml --json > summary.json"
    )]
    Run {
        /// Experiment file (YAML or JSON, resolved v0.5, v0.4 or v0.3). The run is
        /// created under the `.lab` of the experiment's project (see --runs-dir).
        experiment: PathBuf,
        #[command(flatten)]
        drive: DriveArgs,
    },
    /// Continue a crashed, killed or interrupted run.
    #[command(
        after_help = "Example:\n  labj continue d4e5f6   # the handle `labj runs` shows (or the id, or a unique id prefix)"
    )]
    Continue {
        #[arg(help = RUN_HELP)]
        run: String,
        #[command(flatten)]
        drive: DriveArgs,
        /// Continue even though the run's inputs (experiment, dataset, task limits,
        /// mounts, dependency files, agent or grader programs) changed since it was
        /// created; the change is journaled in `session_started.inputs_changed`.
        #[arg(long)]
        allow_changed_inputs: bool,
    },
    /// List the runs under the runs directory (handle, id, status, progress, age, duration).
    #[command(after_help = "Examples:\n  labj runs\n  labj --runs-dir /data/runs runs --json")]
    Runs {
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the run's status, progress, aggregates and why trials failed.
    #[command(after_help = "Example:\n  labj status d4e5f6")]
    Status {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One line per committed trial: variant, task, replication, outcome, metric, attempts, duration.
    #[command(
        after_help = "Examples:\n  labj trials d4e5f6\n  labj trials d4e5f6 --variant careful --outcome failed\n  labj trials d4e5f6 --json | jq ."
    )]
    Trials {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Only trials of this variant.
        #[arg(long, value_name = "VARIANT")]
        variant: Option<String>,
        /// Only trials with this outcome: `succeeded`, `failed` (scored, not succeeded),
        /// `infra` (infrastructure faults), `skipped`, or a classification such as
        /// `agent_exit_nonzero`, `timeout`, `result_parse_error`.
        #[arg(long, value_name = "OUTCOME")]
        outcome: Option<String>,
        /// Print one JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print an attempt's stderr or stdout, the agent's or (--grader) the grader's or
    /// benchmark adapter's (the last attempt unless --attempt).
    #[command(
        after_help = "Examples:\n  labj logs d4e5f6 24              # stderr of trial_000024's last attempt\n  labj logs d4e5f6 trial_000024 --attempt 1 --stdout\n  labj logs d4e5f6 24 --grader     # the grader's stderr"
    )]
    Logs {
        #[arg(help = RUN_HELP)]
        run: String,
        /// The trial: its number (`24`) or id (`trial_000024`).
        trial: String,
        /// Attempt number, from 1 (default: the last attempt).
        #[arg(long, value_name = "N")]
        attempt: Option<u32>,
        /// Print stderr (the default).
        #[arg(long, conflicts_with = "stdout")]
        stderr: bool,
        /// Print stdout instead of stderr.
        #[arg(long)]
        stdout: bool,
        /// The grader's (or benchmark adapter's) output instead of the agent's.
        #[arg(long)]
        grader: bool,
    },
    /// Serve a read-only web viewer of the runs (or of one run) on 127.0.0.1, or
    /// write it as static files with --export.
    #[command(
        after_help = "Examples:\n  labj view                         # every run under --runs-dir, at http://127.0.0.1:<port>/\n  labj view d4e5f6 --port 8080 --open\n  labj view d4e5f6 --export site/ && zip -r site.zip site\n  VIEW_TOKEN=… labj view --listen 0.0.0.0:8080 --token-env VIEW_TOKEN"
    )]
    View {
        /// One run (id, unique prefix or directory); default: every run under --runs-dir.
        run: Option<String>,
        /// Port on 127.0.0.1 (0: any free port; the address is printed).
        #[arg(long, default_value_t = 0, conflicts_with = "listen")]
        port: u16,
        /// Listen on this address instead of 127.0.0.1 (a non-loopback address needs
        /// --token-env).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Name of the environment variable holding the access token (never the token
        /// itself on the command line); browsers open the printed address once with
        /// ?token=… and keep a cookie.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// Open the viewer in a browser (xdg-open, when one exists).
        #[arg(long)]
        open: bool,
        /// Write the viewer of RUN as self-contained static files into DIR (new or empty)
        /// instead of serving.
        #[arg(long, value_name = "DIR", requires = "run")]
        export: Option<PathBuf>,
    },
    /// Statistical report: success rates with Wilson 95% intervals, metric means with
    /// bootstrap intervals, each variant against the baseline on matched pairs.
    #[command(
        after_help = "Examples:\n  labj report d4e5f6\n  labj report d4e5f6 --format html --out report.html\n  labj report d4e5f6 --format json | jq .comparisons"
    )]
    Report {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: cmd_report::Format,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Bootstrap resamples of the metric intervals (more: steadier, slower).
        #[arg(long, default_value_t = 2000, value_name = "N")]
        resamples: u32,
        /// Seed of the bootstrap resampling (the same seed gives the same report).
        #[arg(long, default_value_t = 1, value_name = "SEED")]
        seed: u64,
    },
    /// Export a fact table (the journal's `fact_*` SQL tables) as CSV or JSON lines.
    #[command(
        after_help = "Examples:\n  labj export d4e5f6 --table trials --format csv --out trials.csv\n  labj export d4e5f6 --table metrics --format jsonl | head"
    )]
    Export {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Which table: trials (fact_trials), metrics (fact_metrics), events
        /// (fact_trial_events: one row per attempt), evidence (fact_evidence).
        #[arg(long, value_enum)]
        table: cmd_export::Table,
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: cmd_export::ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Create a small experiment (agent, grader, tasks) that runs as it is.
    #[command(after_help = "Example:\n  labj init my-eval && labj run my-eval/experiment.yaml")]
    Init {
        /// Directory to create the experiment in (default: the current directory); must
        /// not hold an experiment.yaml already.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Show the projections as they were after event idx.
    #[command(after_help = "Example:\n  labj replay d4e5f6 --until 20")]
    Replay {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Fold events 0..=IDX (an event idx, 0 or more; default: the whole journal).
        #[arg(long, value_name = "IDX", allow_negative_numbers = true)]
        until: Option<i64>,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print journal events, one per line.
    #[command(
        after_help = "Examples:\n  labj events d4e5f6 --kind trial_completed\n  labj events d4e5f6 --trial 24 --json"
    )]
    Events {
        #[arg(help = RUN_HELP)]
        run: String,
        /// First event idx to print (0 or more).
        #[arg(long, value_name = "IDX", allow_negative_numbers = true)]
        from: Option<i64>,
        /// Last event idx to print (inclusive; not below --from).
        #[arg(long, value_name = "IDX", allow_negative_numbers = true)]
        to: Option<i64>,
        /// Only events of this kind.
        #[arg(long, value_name = "KIND", value_parser = clap::builder::PossibleValuesParser::new(journal::event::EVENT_KINDS.iter().copied()))]
        kind: Option<String>,
        /// Only events of this trial: its number (`24`) or id (`trial_000024`).
        #[arg(long, value_name = "TRIAL")]
        trial: Option<String>,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Forensic report of a (crashed or stuck) run.
    #[command(after_help = "Example:\n  labj inspect d4e5f6 --last 30")]
    Inspect {
        #[arg(help = RUN_HELP)]
        run: String,
        /// How many trailing events to show.
        #[arg(long, default_value_t = 15)]
        last: usize,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain, payload schemas and materialized projections.
    #[command(after_help = "Example:\n  labj verify d4e5f6")]
    Verify {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Recompute materialized projections from events.
    #[command(after_help = "Example:\n  labj rebuild d4e5f6")]
    Rebuild {
        #[arg(help = RUN_HELP)]
        run: String,
    },
    /// Pause a live run as a whole (freeze every active trial and start no new one), or
    /// with --trial freeze one trial. `labj resume <run>` undoes a pause of the run.
    #[command(
        after_help = "Examples:\n  labj pause d4e5f6 --label lunch     # the whole run; `labj resume d4e5f6` resumes it\n  labj pause d4e5f6 --trial 24         # one trial; `labj resume d4e5f6 --trial 24`"
    )]
    Pause {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Pause only this trial: its number (`24`) or id (`trial_000024`).
        #[arg(long, value_name = "TRIAL")]
        trial: Option<String>,
        /// A note stored with the pause request (shown by `status`).
        #[arg(long)]
        label: Option<String>,
        /// Give up waiting for the run's answer after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Resume what `labj pause` paused: after `labj pause <run>`, the whole run (every
    /// paused trial thaws and new trials start again); after `labj pause <run> --trial T`,
    /// name the trial (--trial T) or resume every paused trial (--all).
    #[command(
        after_help = "Examples:\n  labj resume d4e5f6                   # after `labj pause d4e5f6`\n  labj resume d4e5f6 --trial 24        # after `labj pause d4e5f6 --trial 24`"
    )]
    Resume {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Resume only this trial: its number (`24`) or id (`trial_000024`).
        #[arg(long, value_name = "TRIAL")]
        trial: Option<String>,
        /// Resume every paused trial at once (what `labj resume <run>` does after a
        /// pause of the whole run).
        #[arg(long)]
        all: bool,
        /// Give up waiting for the run's answer after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop every active trial and end the session; `labj continue` picks up later.
    #[command(after_help = "Example:\n  labj kill d4e5f6 && labj continue d4e5f6")]
    Kill {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Give up waiting for the run's answer after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop one active trial; it commits as cancelled.
    #[command(after_help = "Example:\n  labj cancel d4e5f6 --trial 24")]
    Cancel {
        #[arg(help = RUN_HELP)]
        run: String,
        /// The trial to stop: its number (`24`) or id (`trial_000024`).
        #[arg(long, value_name = "TRIAL")]
        trial: String,
        /// Give up waiting for the run's answer after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change a live run's settings.
    #[command(after_help = "Example:\n  labj set d4e5f6 --max-concurrency 16")]
    Set {
        #[arg(help = RUN_HELP)]
        run: String,
        /// Trials run at once from now on.
        #[arg(long, value_name = "N")]
        max_concurrency: u32,
        /// Give up waiting for the run's answer after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_seconds: u64,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Read-only SQL over the run's journal (tables `events`, `fact_*`, `proj_*`); a
    /// statement that would write is refused.
    #[command(
        after_help = "Examples:\n  labj query d4e5f6 \"SELECT kind, count(*) AS n FROM events GROUP BY kind\"\n  labj query d4e5f6 \"SELECT * FROM fact_trials WHERE status != 'completed'\" --csv > failed.csv\n  labj query d4e5f6 \"SELECT variant_id, avg(primary_metric) FROM fact_trials GROUP BY 1\" --json"
    )]
    Query {
        #[arg(help = RUN_HELP)]
        run: String,
        /// One SQL statement (SELECT, WITH … SELECT, EXPLAIN, read-only PRAGMA).
        sql: String,
        /// Print a JSON array of objects (one per row) instead of a table.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV with a header row (NULL = empty field) instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// JSON Schema tools.
    #[command(
        after_help = "Examples:\n  labj schema list\n  labj schema validate --schema agent_result_v1 result.json"
    )]
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
    #[command(
        after_help = "Example:\n  WORKER_TOKEN=… labj worker serve --listen 0.0.0.0:7070 --tls-self-signed --slots 8 --token-env WORKER_TOKEN"
    )]
    Worker {
        #[command(subcommand)]
        command: worker::WorkerCommand,
    },
}

/// What `<RUN>` accepts, on every command that takes one.
const RUN_HELP: &str =
    "The run: its handle (the first column of `labj runs`), its id, a unique id prefix, or its directory";

#[derive(Subcommand)]
enum TrialCommand {
    /// Execute the TrialSpec in `--spec`, write the TrialOutcome to `--outcome`.
    Exec {
        /// The TrialSpec JSON to execute.
        #[arg(long)]
        spec: PathBuf,
        /// Where to write the TrialOutcome JSON (atomically).
        #[arg(long)]
        outcome: PathBuf,
    },
    /// Serve trials as a pilot worker job (`--slurm-workers`): the Slurm job id comes
    /// from SLURM_JOB_ID.
    Pilot {
        /// The run's `slurm/workers` directory.
        #[arg(long)]
        workers_dir: PathBuf,
        /// Leave after this many seconds with nothing to do.
        #[arg(long, default_value_t = 30)]
        idle_secs: u64,
    },
}

/// Where trials execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Executor {
    /// Threads of this process, on this machine.
    Local,
    /// `labj worker serve` endpoints (`--remote-endpoint`).
    Remote,
    /// Slurm batch jobs: one per trial attempt, or `--slurm-workers N` long-lived
    /// worker jobs (needs a run directory the nodes share).
    Slurm,
}

/// Options of the commands that drive a run (`run`, `continue`).
#[derive(clap::Args)]
struct DriveArgs {
    /// Override the run's max concurrency.
    #[arg(long, value_name = "N")]
    max_concurrency: Option<u32>,
    /// Set, raise or remove (`none`) a budget cap from this session on: `max_cost_usd`,
    /// `max_tokens`, `per_variant.max_cost_usd`, `per_variant.max_tokens` (repeatable;
    /// `design.policies.budget` gives the first ones; later sessions keep the change).
    #[arg(long, value_name = "CAP=VALUE")]
    budget: Vec<String>,
    /// Print machine-readable JSON instead of text (no progress display).
    #[arg(long)]
    json: bool,
    /// No progress display and no notices on stderr (the run id line and the final
    /// summary still print).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Exit 3 when more than this share of committed trials died of infrastructure
    /// faults (spawn failure, disk error, worker lost). `0%` (default) fails on any.
    #[arg(long, default_value = "0%", value_name = "PERCENT")]
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
    /// Keep at most N long-lived Slurm worker jobs that take trials one after another
    /// (`--executor slurm`; default: one batch job per trial attempt; `continue`: the
    /// run's own unless given).
    #[arg(long, value_name = "N", env = "LABJ_SLURM_WORKERS")]
    slurm_workers: Option<u32>,
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
    /// A `labj worker serve` endpoint, e.g. http://127.0.0.1:7071/ (a tunnel to the worker;
    /// repeat for several).
    #[arg(long = "remote-endpoint", value_name = "URL")]
    remote_endpoints: Vec<String>,
    /// Name of the environment variable holding the workers' bearer token.
    #[arg(long, value_name = "VAR")]
    remote_token_env: Option<String>,
    /// Allow `http://` endpoints that are not on loopback (token and outcomes then cross
    /// the network in cleartext; only on a network you trust).
    #[arg(long)]
    insecure_plaintext: bool,
    /// Trust `https://` workers whose certificate chains to a CA of this PEM file.
    #[arg(long, value_name = "FILE", conflicts_with = "tls_pin")]
    tls_ca: Option<PathBuf>,
    /// Trust `https://` workers presenting exactly this certificate: the
    /// `sha256:HEX` fingerprint `labj worker serve` prints.
    #[arg(long, value_name = "sha256:HEX")]
    tls_pin: Option<String>,
    #[command(flatten)]
    launch: LaunchArgs,
}

/// Launch-time values for the agents (the original runner's secrets): held in this
/// process only, never journaled, logged or shown by `describe`.
#[derive(clap::Args, Clone, Default)]
struct LaunchArgs {
    /// A variable for the agents (repeatable): joins their environment and resolves
    /// `$NAME` in current-format experiments after the variant's bindings.
    #[arg(long = "env", value_name = "KEY=VAL")]
    env: Vec<String>,
    /// A file of KEY=VALUE lines (repeatable; `--env` wins over it).
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// A secret file for the agents (repeatable): mounted read-only in containers
    /// (at its `secret_files` target, else /run/secrets/ID); host agents get its path
    /// in AGENTLAB_SECRET_FILE_<ID>.
    #[arg(long = "secret-file", value_name = "ID=PATH")]
    secret_file: Vec<String>,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Validate a JSON (or YAML) document against a named schema.
    Validate {
        /// Schema name (see `labj schema list`), e.g. agent_result_v1.
        #[arg(long)]
        schema: String,
        /// The JSON or YAML document to check.
        file: PathBuf,
        /// Print machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List known schemas.
    List,
}

/// Commands that only read and print with `println!`: a reader closing the pipe (`labj
/// status R | head -1`) ends them quietly, as it ends `cat`, instead of `println!`
/// panicking on EPIPE. (`trials`, `events`, `logs`, `report` and `export` stop at a
/// closed pipe themselves and exit 0.) Commands that drive or change a run keep SIGPIPE
/// ignored (Rust's default): a closed stdout must never kill a coordinator between two
/// journal writes.
fn quiet_on_closed_pipe(command: &Command) -> bool {
    matches!(
        command,
        Command::Describe { .. }
            | Command::Runs { .. }
            | Command::Status { .. }
            | Command::Replay { .. }
            | Command::Inspect { .. }
            | Command::Verify { .. }
            | Command::Schema { .. }
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if quiet_on_closed_pipe(&cli.command) {
        // SAFETY: called before any thread is started; SIG_DFL is a valid disposition
        // for SIGPIPE and no handler of ours is replaced.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    logging::init(cli.log_format);
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
