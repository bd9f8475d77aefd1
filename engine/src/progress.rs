//! What a session tells the person watching it: the run it drives (before any trial),
//! counts as trials commit, and notices (orphans stopped, containers removed).
//!
//! The engine only reports; how it is shown (a progress bar on a terminal, periodic
//! lines in a log, nothing with `--quiet`) is the CLI's business, behind
//! [`RunObserver`].

use journal::Projections;
use std::path::PathBuf;
use std::sync::Arc;

/// The session is about to dispatch: the journal exists and holds the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The run this session drives.
    pub run_id: String,
    /// Its run directory (journal, trials, blobs).
    pub run_dir: PathBuf,
    /// The `experiment.id` of the experiment it runs.
    pub experiment_id: String,
    /// `run` or `continue`.
    pub mode: &'static str,
    /// Slots in the run's schedule (every variant × task × replication).
    pub total_slots: u64,
    /// Slots already committed when the session starts (non-zero on `continue`).
    pub committed_at_start: u64,
}

/// Counts of a run in progress. Every number is the journal's (the fold), except
/// `in_flight`, which is this session's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgressSnapshot {
    /// Slots in the schedule.
    pub total: u64,
    /// Slots committed, in schedule order (the commit frontier).
    pub committed: u64,
    /// Trials this session has dispatched and not yet heard back from.
    pub in_flight: u64,
    /// Committed trials that succeeded.
    pub succeeded: u64,
    /// Scored trials that did not succeed (graded failure or an error of the agent).
    pub unsuccessful: u64,
    /// Slots committed with an infrastructure fault (never scored).
    pub infra_lost: u64,
    /// Attempts lost to infrastructure and dispatched again.
    pub infra_retried: u64,
    /// Slots skipped because their variant was pruned.
    pub pruned: u64,
    /// Cost agents reported (`cost_usd`), in millionths of a dollar, when any did.
    pub cost_micro_usd: Option<u64>,
    /// Tokens agents reported (`tokens_in` + `tokens_out`), when any did.
    pub tokens: Option<u64>,
    /// The run is paused (`labj pause`): nothing new starts until `labj resume`.
    pub run_paused: bool,
    /// Active trials frozen by a pause.
    pub paused: u64,
}

impl ProgressSnapshot {
    pub(crate) fn of(proj: &Projections, in_flight: u64) -> ProgressSnapshot {
        let a = &proj.aggregates.overall;
        let spend = crate::budget::spend(proj);
        ProgressSnapshot {
            cost_micro_usd: spend
                .reports_cost
                .then(|| (spend.cost_usd * 1e6).round().max(0.0) as u64),
            tokens: spend
                .reports_tokens
                .then(|| spend.tokens.round().max(0.0) as u64),
            total: proj.progress.total_slots,
            committed: proj.progress.next_commit_idx,
            in_flight,
            succeeded: a.succeeded,
            unsuccessful: a.unsuccessful(),
            infra_lost: a.infra,
            infra_retried: a.infra_retried,
            pruned: a.skipped_pruned,
            run_paused: proj.control.status == journal::projection::RunStatus::Paused,
            paused: proj
                .control
                .active_trials
                .values()
                .filter(|t| t.control.state == journal::projection::TrialControlState::Paused)
                .count() as u64,
        }
    }
}

/// Receives what a session reports. Called from the coordinator's thread; keep it cheap.
pub trait RunObserver: Send + Sync {
    /// Once per session, after the run exists in the journal and before any dispatch.
    fn started(&self, _info: &SessionInfo) {}
    /// Often (every ~100 ms while something changes), and once more at the end.
    fn progress(&self, _p: &ProgressSnapshot) {}
    /// Whether [`progress`](Self::progress) should also be called while nothing changes
    /// (every ~100 ms: a clock on screen). False: only after something happened, so a
    /// session whose trials all wait sleeps meanwhile. Default: true.
    fn ticks(&self) -> bool {
        true
    }
    /// A one-line message for the person running labj.
    fn notice(&self, _message: &str) {}
}

/// An optional observer, cloneable into the options of a run.
#[derive(Clone, Default)]
pub struct Observer(pub(crate) Option<Arc<dyn RunObserver>>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Observer(Some)"
        } else {
            "Observer(None)"
        })
    }
}

impl Observer {
    /// Report to `o`.
    pub fn new(o: Arc<dyn RunObserver>) -> Observer {
        Observer(Some(o))
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Whether the observer wants progress while nothing changes ([`RunObserver::ticks`]).
    pub(crate) fn ticks(&self) -> bool {
        self.0.as_ref().is_some_and(|o| o.ticks())
    }

    pub(crate) fn started(&self, info: &SessionInfo) {
        if let Some(o) = &self.0 {
            o.started(info);
        }
    }

    pub(crate) fn progress(&self, p: &ProgressSnapshot) {
        if let Some(o) = &self.0 {
            o.progress(p);
        }
    }

    /// To the observer when there is one (the CLI renders it), else to the log: the
    /// engine itself never writes to the terminal.
    pub(crate) fn notice(&self, run_id: &str, message: &str) {
        match &self.0 {
            Some(o) => o.notice(message),
            None => tracing::warn!(run = %run_id, "{message}"),
        }
    }
}
