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
//! Handlers only set flags and then write a byte to a wake pipe (both async-signal-safe);
//! the coordinator's loop reads the flags between iterations and acts through the same
//! request path as `labj kill`, `pause` and `resume`. The pipe wakes a coordinator that
//! sleeps until its next timer (`coordinator::wake`). The flags and the pipe are
//! process-wide: one session per process reads them.

use signal_hook::consts::signal::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGSTOP, SIGTERM, SIGTSTP};
use std::os::unix::net::UnixStream;
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
    /// Readable after any of the signals above arrived (after its flag was set): the
    /// handlers write a byte to its other end. Non-blocking.
    wake: Option<UnixStream>,
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
    let mut flags = Flags {
        stop: Arc::new(AtomicBool::new(false)),
        stopped_once: Arc::new(AtomicBool::new(false)),
        suspend: Arc::new(AtomicBool::new(false)),
        resume: Arc::new(AtomicBool::new(false)),
        wake: None,
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
    // Registered after the flags: a handler sets its flag before the byte wakes the
    // reader, which then finds it set.
    let (rx, tx) = UnixStream::pair()?;
    rx.set_nonblocking(true)?;
    tx.set_nonblocking(true)?;
    for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGCONT] {
        signal_hook::low_level::pipe::register(sig, tx.try_clone()?)?;
    }
    flags.wake = Some(rx);
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

/// The wake pipe's reading end, when the handlers are installed: readable after a
/// signal arrived. Whoever waits on it drains it with [`drain_wake`].
pub(crate) fn wake_fd() -> Option<std::os::fd::BorrowedFd<'static>> {
    use std::os::fd::AsFd;
    FLAGS.get()?.wake.as_ref().map(|s| s.as_fd())
}

/// Empties the wake pipe (non-blocking): the flags say what arrived.
pub(crate) fn drain_wake() {
    use std::io::Read;
    if let Some(mut s) = FLAGS.get().and_then(|f| f.wake.as_ref()) {
        let mut buf = [0u8; 64];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Stops this process as Ctrl-Z's default action would; returns once it is continued.
pub(crate) fn stop_self() {
    // SIGSTOP cannot be caught, so this is exactly the default job-control stop.
    let _ = signal_hook::low_level::raise(SIGSTOP);
}
