//! The poller thread of one remote endpoint and what it shares with the backend.

use super::protocol::{HttpRemoteWorkerProtocol, RemoteCompletion};
use super::RemoteError;
use crate::backend::MAX_DRAIN_PER_POLL;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How long each poller's long poll waits on the worker.
const POLLER_WAIT: Duration = Duration::from_millis(1000);

/// State shared between the backend and one endpoint's poller thread.
pub(super) struct PollerShared {
    /// Keys the coordinator has journaled: the poller sends them with its next poll.
    pub acks: Mutex<Vec<String>>,
    pub stop: AtomicBool,
}

pub(super) enum PollerMsg {
    /// A poll's answer: the endpoint, the answering worker instance, its completions.
    Completions(usize, Option<String>, Vec<RemoteCompletion>),
    /// Evidence of delivered completions that could not be copied home.
    EvidenceMissing(Vec<super::evidence::MissingBlob>),
    Fault(usize, RemoteError),
    Unreachable(usize, String),
    /// The coordinator's alarm (`WorkerBackend::waker`): ends its wait, nothing else.
    Wake,
}

/// One endpoint's poller thread: long-polls the worker, sends the acknowledgements the
/// coordinator released, copies each delivered completion's evidence home (once the run's
/// blob store is set) and hands the completions to the backend.
pub(super) fn poller(
    idx: usize,
    client: Arc<HttpRemoteWorkerProtocol>,
    shared: Arc<PollerShared>,
    tx: Sender<PollerMsg>,
    run_id: String,
    blobs_dir: Arc<OnceLock<PathBuf>>,
) {
    let mut backoff = Duration::from_millis(50);
    while !shared.stop.load(Ordering::SeqCst) {
        let acks = std::mem::take(&mut *shared.acks.lock().unwrap_or_else(|p| p.into_inner()));
        match client.poll(&run_id, &acks, MAX_DRAIN_PER_POLL, POLLER_WAIT) {
            Ok(r) => {
                backoff = Duration::from_millis(50);
                if let Some(dir) = blobs_dir.get() {
                    let problems =
                        super::evidence::fetch_missing(&client, &run_id, dir, &r.completions);
                    if !problems.is_empty()
                        && tx.send(PollerMsg::EvidenceMissing(problems)).is_err()
                    {
                        return;
                    }
                }
                if tx
                    .send(PollerMsg::Completions(idx, r.instance_id, r.completions))
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                // Not acknowledged: send them again next time.
                shared
                    .acks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(acks);
                let msg = if e.is_protocol_fault() {
                    PollerMsg::Fault(idx, e)
                } else {
                    PollerMsg::Unreachable(idx, e.to_string())
                };
                if tx.send(msg).is_err() {
                    return;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}
