//! The signals a session driving a run answers, and what each one means for it.
//!
//! Agents run in process groups of their own (so a stop reaches everything they
//! started), which also means the terminal's signals reach labj alone: labj must pass
//! each one on through the run's control paths, or an agent outlives or outruns it.
//!
//! | signal | from | what the session does |
//! |---|---|---|
//! | INT, TERM, HUP, QUIT | Ctrl-C, `kill`, a terminal or ssh session gone, Ctrl-\ | stops the run like `labj kill` (trials stopped, `run_killed` journaled, `labj continue` resumes); a second one of these ends labj at once |
//! | TSTP | Ctrl-Z | pauses the run like `labj pause` (agents frozen, journaled), then stops labj |
//! | CONT | `fg`, `bg` | resumes what Ctrl-Z paused (journaled); a pause made otherwise stays |
//!
//! Handlers only set flags (async-signal-safe); the coordinator's loop reads them
//! between iterations (every 50 ms at most) and acts through the same request path as
//! `labj kill`, `pause` and `resume`. The flags are process-wide: one session per
//! process reads them.

use signal_hook::consts::signal::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGSTOP, SIGTERM, SIGTSTP};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The flags the handlers set.
struct Flags {
    /// A stop signal arrived and the coordinator has not acted on it yet.
    stop: Arc<AtomicBool>,
    /// A stop signal arrived at some point: the next one takes the default action.
    stopped_once: Arc<AtomicBool>,
    /// Ctrl-Z arrived and the coordinator has not acted on it yet.
    suspend: Arc<AtomicBool>,
    /// SIGCONT arrived and the coordinator has not acted on it yet.
    resume: Arc<AtomicBool>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// Which signal-driven request the coordinator should make now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignalRequest {
    /// INT, TERM, HUP or QUIT: stop the run like `labj kill`.
    Stop,
    /// TSTP: pause the run, then stop this process.
    Suspend,
    /// CONT: resume what a suspend paused.
    Resume,
}

/// Installs the session's handlers (idempotent). Until this is called, the signals keep
/// their default actions: a library embedding the engine decides for itself.
pub(crate) fn install() -> std::io::Result<()> {
    if FLAGS.get().is_some() {
        return Ok(());
    }
    let flags = Flags {
        stop: Arc::new(AtomicBool::new(false)),
        stopped_once: Arc::new(AtomicBool::new(false)),
        suspend: Arc::new(AtomicBool::new(false)),
        resume: Arc::new(AtomicBool::new(false)),
    };
    for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
        // Registered first, so it runs first: on the second stop signal (the flag is
        // already set) the signal's default action ends labj at once; the run stays
        // continuable.
        signal_hook::flag::register_conditional_default(sig, Arc::clone(&flags.stopped_once))?;
        signal_hook::flag::register(sig, Arc::clone(&flags.stop))?;
        signal_hook::flag::register(sig, Arc::clone(&flags.stopped_once))?;
    }
    signal_hook::flag::register(SIGTSTP, Arc::clone(&flags.suspend))?;
    signal_hook::flag::register(SIGCONT, Arc::clone(&flags.resume))?;
    // A second install racing this one only registers flags nobody reads.
    let _ = FLAGS.set(flags);
    Ok(())
}

/// The most urgent request a signal asks for, consuming it: a stop before a suspend
/// before a resume. `None` when no handler is installed or nothing arrived.
pub(crate) fn take_request() -> Option<SignalRequest> {
    let f = FLAGS.get()?;
    if f.stop.swap(false, Ordering::SeqCst) {
        return Some(SignalRequest::Stop);
    }
    if f.suspend.swap(false, Ordering::SeqCst) {
        // A CONT that arrived before this suspend was acted on belongs to an earlier
        // stop of the process, not to the one this suspend is about to make.
        f.resume.store(false, Ordering::SeqCst);
        return Some(SignalRequest::Suspend);
    }
    if f.resume.swap(false, Ordering::SeqCst) {
        return Some(SignalRequest::Resume);
    }
    None
}

/// Stops this process as Ctrl-Z's default action would; returns once it is continued.
pub(crate) fn stop_self() {
    // SIGSTOP cannot be caught, so this is exactly the default job-control stop.
    let _ = signal_hook::low_level::raise(SIGSTOP);
}
