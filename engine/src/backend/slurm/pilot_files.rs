//! The files through which the coordinator and one pilot worker job talk, all inside the
//! shared run directory (the coordinator stays the only journal writer):
//!
//! ```text
//! <run_dir>/slurm/workers/worker.sh              the batch script of every worker job
//! <run_dir>/slurm/workers/worker-<job>.out       a worker job's stdout/stderr
//! <run_dir>/slurm/workers/<job>/inbox/<t>.json   a trial handed to the worker (coordinator)
//! <run_dir>/slurm/workers/<job>/claimed/<t>.json moved there by the worker when it starts it
//! <run_dir>/slurm/workers/<job>/outbox/<t>.json  the TrialOutcome (worker, atomically)
//! <run_dir>/slurm/workers/<job>/ctl/<t>          `SEQ pause|resume|stop REASON` (coordinator)
//! <run_dir>/slurm/workers/<job>/ack/<t>          `SEQ ok` or `SEQ err MESSAGE` (worker)
//! <run_dir>/slurm/workers/<job>/stop             the coordinator hands out nothing more
//! <run_dir>/slurm/workers/<job>/gone             the worker takes nothing more and exits
//! ```
//!
//! Every file appears whole: it is written under a temporary name in the worker's
//! directory and renamed into place. A trial is written into exactly one worker's inbox
//! and only that worker moves it out (rename: taken once), so it never runs twice at
//! once; the coordinator declares it lost only after Slurm says the job ended.

use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) const INBOX: &str = "inbox";
pub(crate) const CLAIMED: &str = "claimed";
pub(crate) const OUTBOX: &str = "outbox";
pub(crate) const CTL: &str = "ctl";
pub(crate) const ACK: &str = "ack";
pub(crate) const STOP: &str = "stop";
pub(crate) const GONE: &str = "gone";

/// Where every worker job of a run keeps its files.
pub(crate) fn workers_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("slurm").join("workers")
}

/// The directory of worker job `job_id`.
pub(crate) fn worker_dir(run_dir: &Path, job_id: &str) -> PathBuf {
    workers_dir(run_dir).join(job_id)
}

/// Where worker job `job_id` writes the outcome of `ticket_id`.
pub(crate) fn outcome_path(run_dir: &Path, job_id: &str, ticket_id: &str) -> PathBuf {
    worker_dir(run_dir, job_id)
        .join(OUTBOX)
        .join(format!("{ticket_id}.json"))
}

/// Create the directories of a worker (either side may come first).
pub(crate) fn create_worker_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for sub in [INBOX, CLAIMED, OUTBOX, CTL, ACK] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join(sub))?;
    }
    Ok(())
}

/// Write `bytes` to `dest` so a reader sees all of it or nothing: a temporary file in
/// `dir` (same filesystem), renamed into place. `sync` fsyncs it first.
pub(crate) fn put(dir: &Path, dest: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".tmp-{}-{name}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    if sync {
        f.sync_all()?;
    }
    drop(f);
    std::fs::rename(&tmp, dest)
}

/// The ticket ids of the `*.json` files in `dir` (none when it does not exist).
pub(crate) fn tickets_in(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(String::from)
        })
        .collect();
    out.sort();
    out
}

/// A control request for one trial: `SEQ VERB [REASON]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ctl {
    pub seq: u64,
    pub verb: String,
    pub reason: String,
}

impl Ctl {
    pub(crate) fn encode(&self) -> String {
        format!("{} {} {}", self.seq, self.verb, self.reason)
    }

    pub(crate) fn parse(text: &str) -> Option<Ctl> {
        let mut parts = text.splitn(3, ' ');
        let seq = parts.next()?.trim().parse().ok()?;
        let verb = parts.next()?.trim().to_string();
        let reason = parts.next().unwrap_or("").trim().to_string();
        Some(Ctl { seq, verb, reason })
    }
}

/// The worker's answer to control request `seq`: `Ok` or the refusal.
pub(crate) fn parse_ack(text: &str, seq: u64) -> Option<Result<(), String>> {
    let (n, rest) = text.split_once(' ')?;
    if n.trim().parse::<u64>().ok()? != seq {
        return None;
    }
    match rest.trim() {
        "ok" => Some(Ok(())),
        r => Some(Err(r.strip_prefix("err ").unwrap_or(r).to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctl_and_ack_round_trip() {
        let c = Ctl {
            seq: 3,
            verb: "stop".into(),
            reason: "labj kill (user)".into(),
        };
        assert_eq!(Ctl::parse(&c.encode()), Some(c));
        assert_eq!(parse_ack("3 ok", 3), Some(Ok(())));
        assert_eq!(parse_ack("2 ok", 3), None, "an answer to an older request");
        assert_eq!(
            parse_ack("4 err trial is not paused", 4),
            Some(Err("trial is not paused".into()))
        );
        assert_eq!(Ctl::parse("x pause"), None);
    }

    #[test]
    fn put_is_whole_or_nothing_and_tickets_lists_json_only() {
        let d = tempfile::tempdir().unwrap();
        create_worker_dirs(d.path()).unwrap();
        let inbox = d.path().join(INBOX);
        put(d.path(), &inbox.join("t2.json"), b"{}", false).unwrap();
        put(d.path(), &inbox.join("t1.json"), b"{}", true).unwrap();
        std::fs::write(inbox.join("note.txt"), b"x").unwrap();
        assert_eq!(tickets_in(&inbox), vec!["t1", "t2"]);
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(left.is_empty());
    }
}
