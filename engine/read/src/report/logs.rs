//! An attempt's logs (`stdout.log`, `stderr.log`, and the grader's or adapter's under
//! `grader/`), for `labj logs` and the failure
//! examples: from the run's blob store by the digest journaled in `trial_completed`
//! (checked against it), else from the trial directory.

use super::facts::TrialRow;
use std::path::{Path, PathBuf};

/// Which log of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The agent's stdout.
    Stdout,
    /// The agent's stderr.
    Stderr,
    /// The grader's (or benchmark adapter's) stdout, from the attempt's `grader/`.
    GraderStdout,
    /// The grader's (or benchmark adapter's) stderr.
    GraderStderr,
}

impl Stream {
    /// The log's path inside its attempt directory.
    pub fn file_name(&self) -> &'static str {
        match self {
            Stream::Stdout => "stdout.log",
            Stream::Stderr => "stderr.log",
            Stream::GraderStdout => "grader/stdout.log",
            Stream::GraderStderr => "grader/stderr.log",
        }
    }
}

/// Why a log cannot be shown; every message names the trial or the file.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The trial has fewer attempts than the one asked for.
    #[error("{trial} has no attempt {attempt} (it ran {ran} attempt(s))")]
    NoAttempt {
        /// The trial.
        trial: String,
        /// The attempt asked for (1-based).
        attempt: u32,
        /// How many attempts it ran.
        ran: u32,
    },
    /// No attempt ran: pruned before it ran, or lost or refused before it could start.
    #[error("{trial} ran no attempt: {why}")]
    NotRun {
        /// The trial.
        trial: String,
        /// Its classification and error, or that its variant was pruned.
        why: String,
    },
    /// The log exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The log cannot be opened as a regular file: missing, a link, a FIFO, or unreadable.
    #[error(transparent)]
    File(model::safe_fs::FileError),
    /// The blob does not hash to the digest the journal holds for it.
    #[error("blob {path} does not match the digest journaled for {name} ({digest}); the run directory was modified")]
    Tampered {
        /// The blob's file.
        path: PathBuf,
        /// The artifact's name in the completion.
        name: String,
        /// The digest the journal holds.
        digest: String,
    },
}

/// Where a log came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// The blob store, content checked against the journaled digest.
    Blob(PathBuf),
    /// The trial directory (no artifact journaled, e.g. an empty log).
    TrialDir(PathBuf),
    /// Neither: the attempt wrote nothing to this stream.
    Absent,
}

/// The attempt a log request means: `attempt` (1-based), or the last one.
pub fn pick_attempt(row: &TrialRow, attempt: Option<u32>) -> Result<u32, LogError> {
    let ran = row.attempts.len() as u32;
    if ran == 0 {
        return Err(LogError::NotRun {
            trial: row.trial_id.clone(),
            why: match row.classification {
                None => "its variant was pruned before it ran".into(),
                Some(c) => format!(
                    "{}{}",
                    c.as_str(),
                    row.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ),
            },
        });
    }
    match attempt {
        None => Ok(ran),
        Some(a) if a >= 1 && a <= ran => Ok(a),
        Some(a) => Err(LogError::NoAttempt {
            trial: row.trial_id.clone(),
            attempt: a,
            ran,
        }),
    }
}

/// One log of one attempt, opened (and its blob checked against the journaled digest)
/// but not read: [`LogFile::copy_to`] streams it, so a log of any size costs a fixed
/// amount of memory.
#[derive(Debug)]
pub struct LogFile {
    /// The attempt (1-based).
    pub attempt: u32,
    /// Which log.
    pub stream: Stream,
    /// Where it is read from.
    pub source: LogSource,
    /// Size of what will be copied.
    pub size: u64,
    /// The log was cut at the output cap: how many bytes the process wrote in all.
    pub written_bytes: Option<u64>,
    file: Option<std::fs::File>,
    /// (artifact name, journaled digest) of a blob, checked again while copying.
    digest: Option<(String, String)>,
}

/// Why streaming a log stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The log could not be read, or its content changed while it was copied.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Writing to the destination failed (e.g. a closed pipe): not the log's fault.
    #[error("writing the log: {0}")]
    Write(#[source] std::io::Error),
}

const CHUNK: usize = 64 * 1024;

/// blake3 of what `file` holds from its start, read in chunks.
fn hash_file(file: &mut std::fs::File, path: &Path) -> Result<String, LogError> {
    use std::io::Read;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(|source| LogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            return Ok(h.finalize().to_hex().to_string());
        }
        h.update(&buf[..n]);
    }
}

/// Opens one log of one attempt of a committed trial: from the blob store, its content
/// checked against the journaled digest before anything is returned (a chunked pass,
/// not a read into memory), else from the trial directory. Only regular files are
/// opened, without blocking (a FIFO planted in a run directory cannot hang `logs`).
pub fn open(
    run_dir: &Path,
    row: &TrialRow,
    attempt: u32,
    stream: Stream,
) -> Result<LogFile, LogError> {
    use std::io::Seek;
    let name = format!("attempt_{attempt}/{}", stream.file_name());
    let regular = |path: &Path| match model::safe_fs::open_regular(path, u64::MAX) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(LogError::File(e)),
    };
    if let Some(a) = row.artifacts.iter().find(|a| a.name == name) {
        if a.digest.len() > 2 && a.digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            let path = journal::RunDir::new(run_dir)
                .blobs()
                .join(&a.digest[..2])
                .join(&a.digest);
            // A remote trial keeps its blobs on the worker; fall back below.
            if let Some((mut file, size)) = regular(&path)? {
                if hash_file(&mut file, &path)? != a.digest {
                    return Err(LogError::Tampered {
                        path,
                        name,
                        digest: a.digest.clone(),
                    });
                }
                file.rewind().map_err(|source| LogError::Io {
                    path: path.clone(),
                    source,
                })?;
                return Ok(LogFile {
                    attempt,
                    stream,
                    source: LogSource::Blob(path),
                    size,
                    written_bytes: a.written_bytes,
                    file: Some(file),
                    digest: Some((name, a.digest.clone())),
                });
            }
        }
    }
    let path = journal::RunDir::new(run_dir)
        .trial_dir(&row.trial_id)
        .join(&name);
    let (file, size, source) = match regular(&path)? {
        Some((file, size)) => (Some(file), size, LogSource::TrialDir(path)),
        None => (None, 0, LogSource::Absent),
    };
    Ok(LogFile {
        attempt,
        stream,
        source,
        size,
        written_bytes: None,
        file,
        digest: None,
    })
}

impl LogFile {
    /// Copies the log into `out` in chunks, hashing a blob again as it goes: a blob that
    /// changed after [`open`] checked it is reported as tampered at the end (after its
    /// bytes were written), never passed off as the journaled log. Returns the bytes
    /// copied.
    pub fn copy_to(self, out: &mut impl std::io::Write) -> Result<u64, CopyError> {
        use std::io::Read;
        let Some(mut file) = self.file else {
            return Ok(0);
        };
        let path = match &self.source {
            LogSource::Blob(p) | LogSource::TrialDir(p) => p.clone(),
            LogSource::Absent => PathBuf::new(),
        };
        let mut h = blake3::Hasher::new();
        let mut buf = vec![0u8; CHUNK];
        let mut copied = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(|source| LogError::Io {
                path: path.clone(),
                source,
            })?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(CopyError::Write)?;
            copied += n as u64;
        }
        out.flush().map_err(CopyError::Write)?;
        if let Some((name, digest)) = self.digest {
            if h.finalize().to_hex().as_str() != digest {
                return Err(LogError::Tampered { path, name, digest }.into());
            }
        }
        Ok(copied)
    }
}

/// Read one log of one attempt of a committed trial into memory (the failure examples;
/// `labj logs` streams with [`open`] and [`LogFile::copy_to`]).
pub(crate) fn read(
    run_dir: &Path,
    row: &TrialRow,
    attempt: u32,
    stream: Stream,
) -> Result<Vec<u8>, LogError> {
    let f = open(run_dir, row, attempt, stream)?;
    let mut bytes = Vec::with_capacity(f.size.min(1 << 24) as usize);
    f.copy_to(&mut bytes).map_err(|e| match e {
        CopyError::Log(e) => e,
        CopyError::Write(source) => LogError::Io {
            path: PathBuf::from("(memory)"),
            source,
        },
    })?;
    Ok(bytes)
}

/// The last `n` non-empty lines of a log, each cut to 200 characters.
pub(crate) fn tail_lines(bytes: &[u8], n: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| {
            let l = l.trim_end();
            match l.char_indices().nth(200) {
                Some((i, _)) => format!("{}…", &l[..i]),
                None => l.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_nonempty_lines() {
        let t = tail_lines(b"a\n\nb\nc\n\n", 2);
        assert_eq!(t, vec!["b".to_string(), "c".to_string()]);
        assert!(tail_lines(b"", 3).is_empty());
        let long = "x".repeat(300);
        assert_eq!(tail_lines(long.as_bytes(), 1)[0].chars().count(), 201);
    }
}
