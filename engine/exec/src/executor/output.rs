//! Capturing what a trial's processes (agent, grader, benchmark adapter) write to stdout
//! and stderr, with a cap per stream (`runtime.policy.output_limit_bytes`).
//!
//! Each stream is a pipe that the supervising worker drains while the process runs (in
//! the same wait loop that watches for its exit, see `process.rs`): the first `limit`
//! bytes go to `stdout.log` / `stderr.log`, the rest is read and dropped, so a process
//! that writes without end neither blocks on a full pipe nor dies of the cap, and its
//! log never grows past the cap. The counts of bytes written and kept are reported per
//! stream ([`Tally`]); a cut log is journaled with both (`ArtifactRef::written_bytes`).
//!
//! A log file is created at the first byte only (no file for a silent stream) and
//! through a descriptor of its directory opened before the process started, with
//! `O_EXCL | O_NOFOLLOW`: whatever the process plants at the log's name (a symlink to
//! the journal, a sibling's file) is removed, never written through.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Most reads of one stream per wake-up, so a writer that never pauses cannot keep the
/// supervisor from its timeout and stop checks.
const READS_PER_PUMP: usize = 16;
const CHUNK: usize = 64 * 1024;
/// After the process group is dead: how long labj waits for the pipes to close (a
/// `setsid` daemon of the agent may hold them) before it stops reading.
const FINAL_DRAIN: Duration = Duration::from_millis(500);
const QUIET: Duration = Duration::from_millis(50);

/// What one stream wrote and what of it the log kept.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    /// The log file's path (it exists only when `kept > 0`).
    pub path: PathBuf,
    pub written: u64,
    pub kept: u64,
    /// Writing the log failed (disk full, ...): an infrastructure fault.
    pub error: Option<String>,
}

impl Tally {
    pub(super) fn truncated(&self) -> bool {
        self.written > self.kept
    }
}

struct Stream {
    /// Read end (non-blocking); `None` once the writers closed it.
    pipe: Option<File>,
    name: &'static str,
    file: Option<File>,
    tally: Tally,
}

/// The two captured streams of one process.
pub(crate) struct Capture {
    dir: OwnedFd,
    limit: u64,
    streams: [Stream; 2],
    buf: Vec<u8>,
}

impl Capture {
    /// Pipes for a process whose logs go to `dir/stdout.log` and `dir/stderr.log`;
    /// returns the capture and the write ends to hand to the command.
    pub(super) fn new(dir: &Path, limit: u64) -> io::Result<(Capture, Stdio, Stdio)> {
        let dir_fd = open_dir(dir)?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stream = |pipe: File, name: &'static str| Stream {
            pipe: Some(pipe),
            name,
            file: None,
            tally: Tally {
                path: dir.join(name),
                written: 0,
                kept: 0,
                error: None,
            },
        };
        Ok((
            Capture {
                dir: dir_fd,
                limit,
                streams: [stream(out_r, "stdout.log"), stream(err_r, "stderr.log")],
                buf: Vec::new(),
            },
            Stdio::from(out_w),
            Stdio::from(err_w),
        ))
    }

    /// Read ends still open, for `poll`.
    pub(super) fn fds(&self) -> Vec<libc::c_int> {
        self.streams
            .iter()
            .filter_map(|s| s.pipe.as_ref().map(|p| p.as_raw_fd()))
            .collect()
    }

    /// Reads what is available now (a bounded number of chunks per stream) without
    /// blocking; returns whether anything was read or closed.
    pub(super) fn pump(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.streams.len() {
            moved |= self.pump_one(i, READS_PER_PUMP);
        }
        moved
    }

    fn pump_one(&mut self, i: usize, max_reads: usize) -> bool {
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK];
        }
        let mut moved = false;
        for _ in 0..max_reads {
            let s = &mut self.streams[i];
            let Some(pipe) = s.pipe.as_mut() else {
                break;
            };
            match pipe.read(&mut self.buf) {
                Ok(0) => {
                    s.pipe = None;
                    moved = true;
                    break;
                }
                Ok(n) => {
                    moved = true;
                    let keep = (self.limit.saturating_sub(s.tally.kept)).min(n as u64) as usize;
                    s.tally.written += n as u64;
                    if keep > 0 && s.tally.error.is_none() {
                        if let Err(e) = keep_bytes(&self.dir, s, &self.buf[..keep]) {
                            s.tally.error = Some(format!("{}: {e}", s.tally.path.display()));
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    s.tally.error = Some(format!("reading the output pipe: {e}"));
                    s.pipe = None;
                    break;
                }
            }
        }
        moved
    }

    /// After the process group is gone: reads what is left in the pipes (until the
    /// writers close them, or they stay quiet, within a bound) and returns the tallies
    /// (stdout, stderr).
    pub(super) fn finish(mut self) -> [Tally; 2] {
        let deadline = Instant::now() + FINAL_DRAIN;
        loop {
            for i in 0..self.streams.len() {
                while self.pump_one(i, READS_PER_PUMP) && self.streams[i].pipe.is_some() {
                    if Instant::now() >= deadline {
                        break;
                    }
                }
            }
            let fds = self.fds();
            let now = Instant::now();
            if fds.is_empty() || now >= deadline {
                break;
            }
            if poll_fds(&fds, QUIET.min(deadline - now)) == 0 {
                break; // nothing more is coming from whoever still holds the pipe
            }
        }
        let [a, b] = self.streams;
        [a.tally, b.tally]
    }
}

fn keep_bytes(dir: &OwnedFd, s: &mut Stream, bytes: &[u8]) -> io::Result<()> {
    if s.file.is_none() {
        s.file = Some(create_at(dir, s.name)?);
    }
    let f = s.file.as_mut().expect("created above");
    f.write_all(bytes)?;
    s.tally.kept += bytes.len() as u64;
    Ok(())
}

/// `dir/name` as a new file, never following what is there (removed first when present).
fn create_at(dir: &OwnedFd, name: &str) -> io::Result<File> {
    use rustix::fs::{openat, unlinkat, AtFlags, Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for _ in 0..3 {
        match openat(dir, name, flags, Mode::from_raw_mode(0o644)) {
            Ok(fd) => return Ok(File::from(fd)),
            Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        // Left by an earlier dispatch, or planted: removed (unlinkat never follows a
        // symlink in its last component), then created afresh.
        let _ = unlinkat(dir, name, AtFlags::empty());
    }
    Err(io::Error::other(format!(
        "{name} keeps reappearing in the log directory"
    )))
}

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    Ok(f.into())
}

/// A pipe (both ends close-on-exec; the child gets its end through dup2), the read end
/// non-blocking.
fn pipe() -> io::Result<(File, OwnedFd)> {
    let (r, w) = io::pipe()?;
    let r: OwnedFd = r.into();
    let flags = rustix::fs::fcntl_getfl(&r)?;
    rustix::fs::fcntl_setfl(&r, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok((File::from(r), w.into()))
}

/// Blocks until one of `fds` (and `extra`, e.g. a pidfd) is readable or closed, or
/// `timeout` passed (or, with `mask`, the wake signal arrived); returns how many are
/// ready.
pub(crate) fn poll_with(
    extra: Option<&OwnedFd>,
    fds: &[libc::c_int],
    timeout: Duration,
    mask: Option<&libc::sigset_t>,
) -> usize {
    let mut pfds: Vec<libc::pollfd> = extra
        .map(|e| e.as_fd().as_raw_fd())
        .into_iter()
        .chain(fds.iter().copied())
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    let mask = mask.map_or(std::ptr::null(), |m| m as *const libc::sigset_t);
    // SAFETY: valid pollfds and timespec, a valid signal mask or null.
    let rc = unsafe { libc::ppoll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, &ts, mask) };
    rc.max(0) as usize
}

fn poll_fds(fds: &[libc::c_int], timeout: Duration) -> usize {
    poll_with(None, fds, timeout, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_beyond_the_limit_is_drained_and_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cap, out, err) = Capture::new(tmp.path(), 1000).unwrap();
        // A planted symlink at the log's name is replaced, never followed.
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("stdout.log")).unwrap();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "head -c 300000 /dev/zero; echo hi >&2"])
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        while child.try_wait().unwrap().is_none() {
            poll_with(None, &cap.fds(), Duration::from_millis(10), None);
            cap.pump();
        }
        let [o, e] = cap.finish();
        assert_eq!((o.written, o.kept), (300_000, 1000));
        assert!(o.truncated() && !e.truncated());
        assert_eq!((e.written, e.kept), (3, 3));
        assert_eq!(std::fs::read(&o.path).unwrap(), vec![0u8; 1000]);
        assert!(!std::fs::symlink_metadata(&o.path).unwrap().is_symlink());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&e.path).unwrap(), b"hi\n");
    }

    #[test]
    fn a_silent_stream_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (cap, out, err) = Capture::new(tmp.path(), 10).unwrap();
        let status = std::process::Command::new("true")
            .stdout(out)
            .stderr(err)
            .status()
            .unwrap();
        assert!(status.success());
        let [o, e] = cap.finish();
        assert_eq!((o.written, e.written), (0, 0));
        assert!(!o.path.exists() && !e.path.exists());
    }
}
