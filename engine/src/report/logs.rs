//! An attempt's logs (`stdout.log`, `stderr.log`), for `labj logs` and the failure
//! examples: from the run's blob store by the digest journaled in `trial_completed`
//! (checked against it), else from the trial directory.

use super::facts::TrialRow;
use std::path::{Path, PathBuf};

/// Which log of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn file_name(&self) -> &'static str {
        match self {
            Stream::Stdout => "stdout.log",
            Stream::Stderr => "stderr.log",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{trial} has no attempt {attempt} (it ran {ran} attempt(s))")]
    NoAttempt {
        trial: String,
        attempt: u32,
        ran: u32,
    },
    #[error("{trial} ran no attempt: {why}")]
    NotRun { trial: String, why: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("blob {path} does not match the digest journaled for {name} ({digest}); the run directory was modified")]
    Tampered {
        path: PathBuf,
        name: String,
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

#[derive(Debug, Clone)]
pub struct Log {
    pub attempt: u32,
    pub stream: Stream,
    pub bytes: Vec<u8>,
    pub source: LogSource,
    /// The log was cut at the output cap: how many bytes the process wrote in all.
    pub written_bytes: Option<u64>,
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

/// Read one log of one attempt of a committed trial.
pub fn read(run_dir: &Path, row: &TrialRow, attempt: u32, stream: Stream) -> Result<Log, LogError> {
    let name = format!("attempt_{attempt}/{}", stream.file_name());
    if let Some(a) = row.artifacts.iter().find(|a| a.name == name) {
        if a.digest.len() > 2 && a.digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            let path = run_dir.join("blobs").join(&a.digest[..2]).join(&a.digest);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    if blake3::hash(&bytes).to_hex().as_str() != a.digest {
                        return Err(LogError::Tampered {
                            path,
                            name,
                            digest: a.digest.clone(),
                        });
                    }
                    return Ok(Log {
                        attempt,
                        stream,
                        bytes,
                        source: LogSource::Blob(path),
                        written_bytes: a.written_bytes,
                    });
                }
                // A remote trial keeps its blobs on the worker; fall back below.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(LogError::Io { path, source }),
            }
        }
    }
    let path = run_dir.join("trials").join(&row.trial_id).join(&name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Log {
            attempt,
            stream,
            bytes,
            source: LogSource::TrialDir(path),
            written_bytes: None,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Log {
            attempt,
            stream,
            bytes: Vec::new(),
            source: LogSource::Absent,
            written_bytes: None,
        }),
        Err(source) => Err(LogError::Io { path, source }),
    }
}

/// The last `n` non-empty lines of a log, each cut to 200 characters.
pub fn tail_lines(bytes: &[u8], n: usize) -> Vec<String> {
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
