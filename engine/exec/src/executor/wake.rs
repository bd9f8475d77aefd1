//! Waking a worker blocked in `ppoll` on its agent (pidfd and output pipes) when the
//! trial's control changes (stop, resume), without a descriptor of its own: a signal
//! directed at the worker thread, blocked in that thread except inside `ppoll`, which
//! unblocks it atomically. A wake sent between the worker's look at the state and its
//! `ppoll` stays pending and ends the `ppoll` at once, so none is lost, and the worker
//! sleeps until its next deadline (timeout, stop grace) instead of polling every few
//! milliseconds: with hundreds of trials in flight those wake-ups were a fifth of labj's
//! CPU.
//!
//! The signal is `SIGRTMIN + 6` (glibc keeps the first real-time signals for itself;
//! nothing else in labj uses real-time signals). Its handler does nothing; children get
//! an empty signal mask (the standard library resets it when it spawns).

use std::sync::Once;

static INSTALL: Once = Once::new();

extern "C" fn on_wake(_: libc::c_int) {}

fn wake_signal() -> libc::c_int {
    libc::SIGRTMIN() + 6
}

/// The signal mask to give `ppoll` in this thread: installs the (no-op) handler once
/// per process and blocks the wake signal in the calling thread, so it only arrives
/// inside `ppoll`. `None` when that failed (the caller then polls with a short cap).
pub(crate) fn prepare_thread() -> Option<libc::sigset_t> {
    let mut ok = true;
    INSTALL.call_once(|| {
        // SAFETY: the handler only returns (async-signal-safe); the struct is zeroed
        // then filled as sigaction expects.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_wake as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            ok = libc::sigaction(wake_signal(), &sa, std::ptr::null_mut()) == 0;
        }
    });
    if !ok {
        return None;
    }
    // SAFETY: sigset_t values are initialised by sigemptyset / pthread_sigmask before use.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, wake_signal());
        let mut old: libc::sigset_t = std::mem::zeroed();
        if libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old) != 0 {
            return None;
        }
        // Inside ppoll: the thread's mask as it was, without the wake signal.
        libc::sigdelset(&mut old, wake_signal());
        Some(old)
    }
}

/// The calling thread, to be woken later with [`wake`].
pub(crate) fn this_thread() -> libc::pthread_t {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() }
}

/// Interrupts `thread`'s `ppoll`. The caller guarantees the thread is alive (it holds
/// the trial's state lock while the thread is registered as supervising).
pub(crate) fn wake(thread: libc::pthread_t) {
    // SAFETY: `thread` is a live thread of this process (see above).
    unsafe { libc::pthread_kill(thread, wake_signal()) };
}
