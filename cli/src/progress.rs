//! What `run` and `continue` show while they work: the run id and directory first,
//! then a progress bar (indicatif) on a terminal, or a plain line every few seconds
//! when stderr is a file or a pipe, or nothing with `--quiet`.

use engine::progress::{ProgressSnapshot, RunObserver, SessionInfo};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The bar being drawn, if any: log lines and notices are printed above it.
static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// Run `f` (which writes to stderr) with the progress bar, if any, out of the way.
pub fn above_bar(f: impl FnOnce()) {
    match BAR.get() {
        Some(bar) if !bar.is_finished() => bar.suspend(f),
        _ => f(),
    }
}

/// How often a plain progress line is printed when stderr is not a terminal.
fn plain_every() -> Duration {
    std::env::var("LABJ_PROGRESS_EVERY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(5))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bar,
    Plain,
    /// Only the run id line.
    Quiet,
}

impl Mode {
    pub fn choose(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Plain
        }
    }
}

struct State {
    /// The handle of the run (for the resume hint while paused).
    handle: String,
    since: Instant,
    committed_at_start: u64,
    last_plain: Option<Instant>,
    last: Option<ProgressSnapshot>,
}

pub struct Display {
    mode: Mode,
    /// The command that reaches this run again (`labj status …`), for the header.
    run_ref: Box<dyn Fn(&str) -> String + Send + Sync>,
    state: Mutex<State>,
}

impl Display {
    pub fn new(mode: Mode, run_ref: impl Fn(&str) -> String + Send + Sync + 'static) -> Display {
        Display {
            mode,
            run_ref: Box::new(run_ref),
            state: Mutex::new(State {
                handle: String::new(),
                since: Instant::now(),
                committed_at_start: 0,
                last_plain: None,
                last: None,
            }),
        }
    }

    /// Stop drawing (before the summary is printed).
    pub fn finish(&self) {
        if let Some(bar) = BAR.get() {
            bar.finish_and_clear();
        }
    }
}

/// `1m05s`, `42s`, `2h03m`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Rate (trials/s over this session's commits) and ETA of one snapshot.
fn rate_eta(p: &ProgressSnapshot, committed_at_start: u64, elapsed: Duration) -> (f64, String) {
    let done_here = p.committed.saturating_sub(committed_at_start);
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        done_here as f64 / secs
    } else {
        0.0
    };
    let eta = if p.committed >= p.total {
        "done".to_string()
    } else if rate > 0.0 {
        human_duration((p.total - p.committed) as f64 / rate)
    } else {
        "?".to_string()
    };
    (rate, eta)
}

/// Cost and tokens agents reported so far (` · $0.1234 · 5678 tokens`), when any did.
pub fn spend_note(p: &ProgressSnapshot) -> String {
    let mut s = String::new();
    if let Some(c) = p.cost_micro_usd {
        s.push_str(&format!(" · ${:.4}", c as f64 / 1e6));
    }
    if let Some(t) = p.tokens {
        s.push_str(&format!(" · {t} tokens"));
    }
    s
}

/// What a paused run shows instead of its rate and ETA (which mean nothing while
/// nothing moves).
fn paused_note(p: &ProgressSnapshot, handle: &str) -> String {
    format!(
        "PAUSED ({} trial(s) frozen; `labj resume {handle}` resumes the run)",
        p.paused
    )
}

/// A plain progress line (logs): every count spelled out.
fn counts(
    p: &ProgressSnapshot,
    committed_at_start: u64,
    elapsed: Duration,
    handle: &str,
) -> String {
    if p.run_paused {
        return format!(
            "{} · {} succeeded · {} unsuccessful · {} infra-lost · {} re-run · {} pruned{}",
            paused_note(p, handle),
            p.succeeded,
            p.unsuccessful,
            p.infra_lost,
            p.infra_retried,
            p.pruned,
            spend_note(p)
        );
    }
    let (rate, eta) = rate_eta(p, committed_at_start, elapsed);
    format!(
        "{} in flight · {} succeeded · {} unsuccessful · {} infra-lost · {} re-run · {} pruned · {:.2} trials/s · ETA {}{}",
        p.in_flight,
        p.succeeded,
        p.unsuccessful,
        p.infra_lost,
        p.infra_retried,
        p.pruned,
        rate,
        eta,
        spend_note(p)
    )
}

/// The bar's message: the rate and ETA first, so a narrow terminal cuts the counts; while
/// the run is paused, that it is paused and how to resume it.
fn bar_message(
    p: &ProgressSnapshot,
    committed_at_start: u64,
    elapsed: Duration,
    handle: &str,
) -> String {
    if p.run_paused {
        return format!(
            "{} · ✓ {} ✗ {} · infra-lost {} (re-run {}) · pruned {}{}",
            paused_note(p, handle),
            p.succeeded,
            p.unsuccessful,
            p.infra_lost,
            p.infra_retried,
            p.pruned,
            spend_note(p)
        );
    }
    let (rate, eta) = rate_eta(p, committed_at_start, elapsed);
    format!(
        "ETA {eta} · {rate:.1}/s · {} running · ✓ {} ✗ {} · infra-lost {} (re-run {}) · pruned {}{}",
        p.in_flight,
        p.succeeded,
        p.unsuccessful,
        p.infra_lost,
        p.infra_retried,
        p.pruned,
        spend_note(p)
    )
}

impl RunObserver for Display {
    fn started(&self, info: &SessionInfo) {
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.since = Instant::now();
            st.committed_at_start = info.committed_at_start;
            st.handle = engine::run::run_handle(&info.run_id);
        }
        let verb = if info.mode == "continue" {
            "continuing"
        } else {
            "started"
        };
        let handle = engine::run::run_handle(&info.run_id);
        eprintln!(
            "labj: run {} (handle {handle}) {verb}: {} trials of experiment {} ({} committed)\nlabj: run directory {}\nlabj: follow with `{}`",
            info.run_id,
            info.total_slots,
            info.experiment_id,
            info.committed_at_start,
            info.run_dir.display(),
            (self.run_ref)(&format!("status {handle}")),
        );
        if self.mode == Mode::Bar {
            let bar = ProgressBar::with_draw_target(
                Some(info.total_slots),
                ProgressDrawTarget::stderr_with_hz(10),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:24.cyan/blue} {pos}/{len} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_position(info.committed_at_start);
            bar.enable_steady_tick(Duration::from_millis(200));
            let _ = BAR.set(bar);
        }
    }

    fn progress(&self, p: &ProgressSnapshot) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.last.as_ref() == Some(p) && self.mode != Mode::Bar {
            return;
        }
        st.last = Some(*p);
        match self.mode {
            Mode::Quiet => {}
            Mode::Bar => {
                if let Some(bar) = BAR.get() {
                    bar.set_length(p.total);
                    bar.set_position(p.committed);
                    bar.set_message(bar_message(
                        p,
                        st.committed_at_start,
                        st.since.elapsed(),
                        &st.handle,
                    ));
                }
            }
            Mode::Plain => {
                let line = counts(p, st.committed_at_start, st.since.elapsed(), &st.handle);
                let finished = p.committed >= p.total && p.in_flight == 0;
                let due = st.last_plain.is_none_or(|t| t.elapsed() >= plain_every());
                if due || finished {
                    st.last_plain = Some(Instant::now());
                    eprintln!("[labj] {}/{} committed · {line}", p.committed, p.total);
                }
            }
        }
    }

    /// Only the bar shows a clock; a plain line or nothing needs no call while nothing
    /// changes (the coordinator then sleeps until something happens).
    fn ticks(&self) -> bool {
        self.mode == Mode::Bar
    }

    fn notice(&self, message: &str) {
        if self.mode != Mode::Quiet {
            above_bar(|| eprintln!("[labj] {message}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0.2), "0s");
        assert_eq!(human_duration(42.0), "42s");
        assert_eq!(human_duration(65.0), "1m05s");
        assert_eq!(human_duration(7380.0), "2h03m");
    }

    #[test]
    fn counts_show_rate_and_eta() {
        let p = ProgressSnapshot {
            total: 100,
            committed: 30,
            in_flight: 4,
            succeeded: 20,
            unsuccessful: 8,
            infra_lost: 1,
            infra_retried: 2,
            pruned: 1,
            cost_micro_usd: Some(1_234_500),
            tokens: Some(5678),
            run_paused: false,
            paused: 0,
        };
        // 20 committed in this session in 10 s: 2/s, 70 left: 35 s.
        let s = counts(&p, 10, Duration::from_secs(10), "d4e5f6");
        assert!(s.ends_with(" · $1.2345 · 5678 tokens"), "{s}");
        assert!(s.contains("2.00 trials/s") && s.contains("ETA 35s"), "{s}");
        assert!(
            s.contains("4 in flight") && s.contains("1 infra-lost"),
            "{s}"
        );
        let b = bar_message(&p, 10, Duration::from_secs(10), "d4e5f6");
        assert!(
            b.starts_with("ETA 35s · 2.0/s · 4 running · ✓ 20 ✗ 8"),
            "{b}"
        );
    }
}
