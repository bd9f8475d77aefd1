//! Waking the coordinator when something asks for it, so that between completions it
//! sleeps until its next timer instead of polling.
//!
//! Without an alarm the coordinator's loop turns at least every 50 ms (`POLL_WAIT`) to
//! look at the control inbox's bell and the signal flags: 20 wakes a second for a run
//! whose trials all wait on a model. With one, a thread blocks in `poll` on
//! - an inotify watch of `journal.bell`, which every control request grows by a byte
//!   after its commit (`Journal::inbox_submit`),
//! - the signal handlers' wake pipe (`signals::wake_fd`),
//!
//! and wakes the coordinator's wait through its backend's [`Waker`]. The coordinator
//! then waits until its next timer (heartbeat, progress, kill deadline, the inbox's
//! fallback read), a completion, or a wake. The thread costs nothing while nothing
//! happens.
//!
//! Anything the watch cannot follow (inotify unavailable, the bell not a regular file,
//! the bell removed or renamed during the run) turns the alarm off: the coordinator
//! goes back to polling, as without one. A wake is only ever a hint: the coordinator
//! reads the bell's size and the signal flags itself, so a spurious wake costs one turn
//! of its loop and a missed one at most its fallback read (a second).

use crate::backend::Waker;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::inotify;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A running watcher; dropping it stops and joins its thread.
pub(super) struct Alarm {
    /// Closed on drop: the watcher's `poll` sees the hang-up and the thread ends.
    stop: Option<UnixStream>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// False once the watch of the bell is gone: the coordinator polls again.
    watching: Arc<AtomicBool>,
    /// The bell changed since [`take_rang`](Self::take_rang) last said so.
    rang: Arc<AtomicBool>,
}

impl Alarm {
    /// Watches `bell` (a regular file) and the signal pipe, calling `waker` on each
    /// change. `None` when the watch cannot be set up.
    pub(super) fn start(bell: &Path, waker: Waker) -> Option<Alarm> {
        let ino = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .map_err(|e| tracing::debug!("inotify unavailable ({e}): the coordinator polls"))
            .ok()?;
        let flags = inotify::WatchFlags::MODIFY
            | inotify::WatchFlags::ATTRIB
            | inotify::WatchFlags::DELETE_SELF
            | inotify::WatchFlags::MOVE_SELF
            | inotify::WatchFlags::DONT_FOLLOW;
        inotify::add_watch(&ino, bell, flags)
            .map_err(|e| {
                tracing::debug!(
                    "cannot watch {} ({e}): the coordinator polls",
                    bell.display()
                )
            })
            .ok()?;
        // The file watched: an event after which the name holds another (or none) ends
        // the watch. Taken after the watch was added, so no replacement goes unseen.
        let watched = file_id(bell)?;
        let bell = bell.to_path_buf();
        let (stop, stopped) = UnixStream::pair().ok()?;
        let watching = Arc::new(AtomicBool::new(true));
        let rang = Arc::new(AtomicBool::new(false));
        let flags = (Arc::clone(&watching), Arc::clone(&rang));
        let thread = std::thread::Builder::new()
            .name("labj-alarm".into())
            .spawn(move || {
                let still = || drain_bell(&ino) && file_id(&bell) == Some(watched);
                watch(&ino, still, stopped, &flags.0, &flags.1, &waker)
            })
            .ok()?;
        Some(Alarm {
            stop: Some(stop),
            thread: Some(thread),
            watching,
            rang,
        })
    }

    /// Whether the bell is still watched (else the coordinator must poll).
    pub(super) fn watching(&self) -> bool {
        self.watching.load(Ordering::SeqCst)
    }

    /// Whether the bell changed since the last call (the inbox should be read now,
    /// whatever the time since the last look).
    pub(super) fn take_rang(&self) -> bool {
        self.rang.swap(false, Ordering::SeqCst)
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The watcher thread: blocks until the bell changes, a signal arrives or `stopped`
/// hangs up.
fn watch(
    ino: &OwnedFd,
    mut still_watched: impl FnMut() -> bool,
    stopped: UnixStream,
    watching: &AtomicBool,
    rang: &AtomicBool,
    waker: &Waker,
) {
    let signals = crate::signals::wake_fd();
    let mut bell_watched = true;
    while bell_watched || signals.is_some() {
        let mut fds = vec![PollFd::new(&stopped, PollFlags::IN)];
        let bell_at = bell_watched.then(|| {
            fds.push(PollFd::new(ino, PollFlags::IN));
            fds.len() - 1
        });
        let signal_at = signals.map(|fd| {
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
            fds.len() - 1
        });
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                tracing::debug!("coordinator alarm: poll failed ({e}): the coordinator polls");
                break;
            }
        }
        if !fds[0].revents().is_empty() {
            // The coordinator dropped its end: this session is over.
            return;
        }
        let ready = |at: Option<usize>| at.is_some_and(|i| !fds[i].revents().is_empty());
        let (bell, signal) = (ready(bell_at), ready(signal_at));
        if bell {
            rang.store(true, Ordering::SeqCst);
            if !still_watched() {
                bell_watched = false;
                watching.store(false, Ordering::SeqCst);
            }
        }
        if signal {
            crate::signals::drain_wake();
        }
        if bell || signal {
            waker.wake();
        }
    }
    watching.store(false, Ordering::SeqCst);
    // Whatever ended the watch, the coordinator must look for itself now.
    rang.store(true, Ordering::SeqCst);
    waker.wake();
}

/// The device and inode at `path` (not following a symlink).
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Reads the pending inotify events; false when the watch ended (the bell was removed,
/// renamed or its watch dropped).
fn drain_bell(ino: &OwnedFd) -> bool {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1024];
    let mut reader = inotify::Reader::new(ino, &mut buf);
    let gone = inotify::ReadFlags::DELETE_SELF
        | inotify::ReadFlags::MOVE_SELF
        | inotify::ReadFlags::IGNORED;
    loop {
        match reader.next() {
            Ok(ev) if ev.events().intersects(gone) => return false,
            Ok(_) => {}
            Err(rustix::io::Errno::AGAIN) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// An alarm on a fresh bell, its wakes counted on a channel.
    fn alarm_on(bell: &Path) -> (Alarm, mpsc::Receiver<()>) {
        std::fs::write(bell, b"").unwrap();
        let (tx, rx) = mpsc::channel();
        let waker = Waker::new(move || {
            let _ = tx.send(());
        });
        (Alarm::start(bell, waker).expect("alarm starts"), rx)
    }

    fn ring(bell: &Path) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(bell).unwrap();
        f.write_all(b".").unwrap();
    }

    #[test]
    fn a_ring_wakes_the_coordinator_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let bell = dir.path().join("journal.bell");
        let (alarm, woken) = alarm_on(&bell);
        assert!(alarm.watching());
        assert!(
            woken.recv_timeout(Duration::from_millis(300)).is_err(),
            "woken with nothing rung"
        );
        assert!(!alarm.take_rang());
        ring(&bell);
        woken
            .recv_timeout(Duration::from_secs(10))
            .expect("a ring wakes the wait");
        assert!(alarm.take_rang(), "the ring is reported once");
        assert!(!alarm.take_rang());
        assert!(alarm.watching(), "the same bell is still watched");
        // Another file in the directory (the journal's own writes) wakes nothing.
        std::fs::write(dir.path().join("journal.sqlite-wal"), b"x").unwrap();
        assert!(woken.recv_timeout(Duration::from_millis(300)).is_err());
        drop(alarm); // joins the watcher thread: it ends when asked
    }

    #[test]
    fn a_bell_removed_or_replaced_turns_the_alarm_off() {
        for how in [
            "removed",
            "replaced",
            "replaced, the old one linked elsewhere",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let bell = dir.path().join("journal.bell");
            let (alarm, woken) = alarm_on(&bell);
            if how == "removed" {
                std::fs::remove_file(&bell).unwrap();
            } else {
                if how != "replaced" {
                    // The watched file lives on under another name: inotify says only
                    // that its link count changed.
                    std::fs::hard_link(&bell, dir.path().join("kept")).unwrap();
                }
                let other = dir.path().join("other");
                std::fs::write(&other, b"").unwrap();
                std::fs::rename(&other, &bell).unwrap();
            }
            woken
                .recv_timeout(Duration::from_secs(10))
                .expect("the change wakes the wait");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while alarm.watching() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(!alarm.watching(), "{how}: the coordinator must poll again");
            assert!(alarm.take_rang(), "and look at the inbox at once");
        }
    }

    #[test]
    fn no_alarm_on_a_bell_that_is_not_there() {
        let dir = tempfile::tempdir().unwrap();
        let waker = Waker::new(|| {});
        assert!(Alarm::start(&dir.path().join("missing.bell"), waker).is_none());
    }

    #[test]
    fn a_signal_wakes_the_coordinator() {
        // The handlers stay installed for the life of the process: in a child process
        // (this test again), so this test binary keeps its default signal actions.
        const CHILD: &str = "LABJ_TEST_WAKE_SIGNAL_CHILD";
        let name = "coordinator::wake::tests::a_signal_wakes_the_coordinator";
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--test-threads", "1"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        crate::signals::install().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bell = dir.path().join("journal.bell");
        let (_alarm, woken) = alarm_on(&bell);
        // SIGCONT: its handler only sets the resume flag (and wakes); nothing stops.
        signal_hook::low_level::raise(libc::SIGCONT).unwrap();
        woken
            .recv_timeout(Duration::from_secs(10))
            .expect("a signal wakes the wait");
        assert_eq!(
            crate::signals::take_request(),
            Some(crate::signals::SignalRequest::Resume),
            "the flag was set before the wake"
        );
    }
}
