//! Bringing a remote trial's evidence home. A worker keeps each trial's artifacts
//! (result, logs, grade, workspace evidence) in its own blob store; before a completion
//! reaches the coordinator — and so before it is journaled and acknowledged — the
//! endpoint's poller copies every blob the completion references into the run's blob
//! store here (`v1/worker/blob`), checking each against its journaled digest. So
//! `labj logs`, `verify` and `export --table evidence` read a remote run like a local
//! one, and the worker may forget a trial once it is acknowledged.
//!
//! A blob that cannot be fetched (the worker lost it, the content does not match, the
//! disk is full) does not hold the completion back: the outcome is the record; the
//! missing blob is reported as a `backend_warning` naming the trial and the digest.

use super::protocol::{HttpRemoteWorkerProtocol, RemoteCompletion};
use exec::executor::blobs::{hash_path, BlobStore, TMP_PREFIX};
use std::path::Path;

/// Largest blob fetched (agent logs are capped well below this).
const MAX_BLOB_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// A blob of a delivered completion that could not be brought home.
pub(super) struct MissingBlob {
    /// The digest the completion references (journaled typed, for `verify`).
    pub digest: String,
    /// What and why, naming the trial and the worker.
    pub message: String,
}

/// Fetch every blob `completions` reference that `blobs_dir` lacks; returns one entry
/// per blob that could not be brought home.
pub(super) fn fetch_missing(
    client: &HttpRemoteWorkerProtocol,
    run_id: &str,
    blobs_dir: &Path,
    completions: &[RemoteCompletion],
) -> Vec<MissingBlob> {
    let store = BlobStore::new(blobs_dir);
    let mut problems = Vec::new();
    // An unauthenticated completion is no verdict: nothing of it is brought home.
    for c in completions.iter().filter(|c| c.auth_failure.is_none()) {
        let digests = c
            .outcome
            .artifacts
            .iter()
            .map(|a| (a.name.as_str(), a.digest.as_str()))
            .chain(
                c.outcome
                    .evidence
                    .iter()
                    .map(|e| (e.class.as_str(), e.digest.as_str())),
            );
        for (name, digest) in digests {
            if store.verify(digest).is_ok() {
                continue;
            }
            if let Err(why) = fetch_one(client, run_id, &c.ticket_id, &store, blobs_dir, digest) {
                problems.push(MissingBlob {
                    digest: digest.to_string(),
                    message: format!(
                        "{name} ({digest}) of trial {} was not copied from worker {}: {why}",
                        c.trial_id,
                        client.base_url()
                    ),
                });
            }
        }
    }
    problems
}

fn fetch_one(
    client: &HttpRemoteWorkerProtocol,
    run_id: &str,
    ticket_id: &str,
    store: &BlobStore,
    blobs_dir: &Path,
    digest: &str,
) -> Result<(), String> {
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the digest is not 64 hex digits".into());
    }
    std::fs::create_dir_all(blobs_dir).map_err(|e| format!("{}: {e}", blobs_dir.display()))?;
    // A temporary name `continue` removes when this process died mid-copy.
    let tmp = blobs_dir.join(format!("{TMP_PREFIX}{}-fetch-{digest}", std::process::id()));
    let res = client
        .fetch_blob(run_id, ticket_id, digest, &tmp, MAX_BLOB_BYTES)
        .map_err(|e| e.to_string())
        .and_then(|_| hash_path(&tmp).map_err(|e| e.to_string()))
        .and_then(|(got, _)| {
            if got == digest {
                store.put_file(&tmp).map(drop).map_err(|e| e.to_string())
            } else {
                Err(format!("the worker sent content whose digest is {got}"))
            }
        });
    let _ = std::fs::remove_file(&tmp);
    res
}
