//! Every message of the protocol through the real server and the real client on
//! loopback: `worker::serve_with_runner` (hyper, the request gate, both schemas of each
//! call, `WorkerState`, staging) answering `HttpRemoteWorkerProtocol`. Only the trial
//! runner is in-process (no agent is spawned, which is not what these messages are
//! about): it holds each trial until the test releases it, so pause, resume and stop
//! find it running, and stores the staged experiment file as a blob for
//! `v1/worker/blob` to serve.

use super::{serve_with_runner, ServeConfig, WorkerObserver};
use crate::backend::remote::HttpRemoteWorkerProtocol;
use crate::backend::TrialDispatch;
use crate::wire::messages::FileDoc;
use crate::wire::BearerToken;
use base64::Engine as _;
use exec::executor::blobs::BlobStore;
use exec::executor::TrialControl;
use model::trial::{TrialOutcome, TrialSpec};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "roundtrip-token-not-a-secret";
const RUN: &str = "run-rt";
const FILE: &str = "data/input.txt";
const CONTENT: &[u8] = b"carried by value, served back as a blob\n";

struct Announce(Mutex<mpsc::Sender<SocketAddr>>);

impl WorkerObserver for Announce {
    fn listening(&self, addr: SocketAddr) {
        let _ = self.0.lock().unwrap().send(addr);
    }
    fn notice(&self, _message: &str) {}
}

/// What the in-process runner shares with the test.
#[derive(Default)]
struct Trials {
    /// Trials allowed to finish.
    released: HashSet<String>,
    /// The blob each finished trial stored (trial id → digest).
    blobs: HashMap<String, String>,
}

fn spec(schedule_idx: u64, trial_id: &str) -> TrialSpec {
    let mut spec = model::testkit::trial_spec(RUN, schedule_idx, trial_id);
    spec.agent.timeout_ms = 60_000;
    TrialSpec {
        // The coordinator's paths: the worker stages the trial under its own.
        experiment_dir: "/coordinator/exp".into(),
        trial_dir: "/coordinator/run/trials/t".into(),
        blob_dir: "/coordinator/run/blobs".into(),
        ..spec
    }
}

fn dispatch(ticket: &str, schedule_idx: u64, trial_id: &str) -> TrialDispatch {
    TrialDispatch {
        ticket_id: ticket.into(),
        spec: spec(schedule_idx, trial_id),
    }
}

/// Start the worker on 127.0.0.1:0 (its thread lives as long as the test process).
fn start_worker(trials: Arc<Mutex<Trials>>, work_dir: &std::path::Path) -> String {
    let runner = Arc::new(move |spec: &TrialSpec, _control: &TrialControl| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !trials.lock().unwrap().released.contains(&spec.trial_id) {
            assert!(
                Instant::now() < deadline,
                "{} never released",
                spec.trial_id
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let (digest, _) = BlobStore::new(&spec.blob_dir)
            .put_file(&spec.experiment_dir.join(FILE))
            .expect("the staged experiment file becomes a blob");
        trials
            .lock()
            .unwrap()
            .blobs
            .insert(spec.trial_id.clone(), digest);
        serde_json::from_value::<TrialOutcome>(serde_json::json!({
            "classification": "success",
            "duration_ms": 7,
            "metrics": {"score": spec.schedule_idx as f64 + 0.5},
        }))
        .expect("an outcome")
    });
    let (tx, rx) = mpsc::channel();
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        slots: 2,
        token: Some(BearerToken::new(TOKEN)),
        work_dir: work_dir.to_path_buf(),
        limits: ServeConfig::default_limits(),
        shutdown_grace: Duration::from_secs(1),
        redeliver_after: Duration::from_secs(60),
        tls: None,
    };
    let observer = Arc::new(Announce(Mutex::new(tx)));
    std::thread::spawn(move || serve_with_runner(config, runner, observer));
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker announces its address");
    format!("http://{addr}/")
}

#[test]
fn every_message_round_trips_through_the_real_worker_on_loopback() {
    let work = tempfile::tempdir().unwrap();
    let trials = Arc::new(Mutex::new(Trials::default()));
    let base_url = start_worker(Arc::clone(&trials), work.path());
    let client = HttpRemoteWorkerProtocol::new(&base_url, Some(TOKEN.into())).unwrap();

    // health
    let health = client.health().expect("health");
    assert_eq!(
        (health.slots, health.running, health.undelivered),
        (2, 0, 0)
    );
    assert!(!health.draining && !health.worker_id.is_empty());
    let instance = health
        .instance_id
        .clone()
        .expect("this worker names its process");
    assert_eq!(health.labj_version, env!("CARGO_PKG_VERSION"));

    // submit (with one experiment file by value), twice: the repeat is accepted, not rerun
    let file = FileDoc {
        path: FILE.into(),
        blake3: blake3::hash(CONTENT).to_hex().to_string(),
        content_base64: base64::engine::general_purpose::STANDARD.encode(CONTENT),
        executable: false,
    };
    let a = dispatch("tk-a", 0, "trial-a");
    for _ in 0..2 {
        let r = client
            .submit_with_files(RUN, &a, std::slice::from_ref(&file))
            .expect("submit");
        assert_eq!(
            (r.accepted, r.ticket_id.as_str(), r.reason),
            (true, "tk-a", None)
        );
    }
    let b = dispatch("tk-b", 1, "trial-b");
    let r = client
        .submit_with_files(RUN, &b, std::slice::from_ref(&file))
        .unwrap();
    assert!(r.accepted);
    let full = client.submit(RUN, &dispatch("tk-c", 2, "trial-c")).unwrap();
    assert_eq!(
        (full.accepted, full.reason.as_deref()),
        (false, Some("all 2 slots are busy")),
        "a refusal carries its reason"
    );

    // tickets
    let listed = client.tickets(RUN).expect("tickets");
    let states: Vec<_> = listed
        .tickets
        .iter()
        .map(|t| {
            (
                t.ticket_id.as_str(),
                t.schedule_idx,
                t.trial_id.as_str(),
                t.state.as_str(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("tk-a", 0, "trial-a", "running"),
            ("tk-b", 1, "trial-b", "running")
        ]
    );

    // pause, resume, stop of running attempts; pause of an unknown one is refused
    let p = client.pause(RUN, "tk-a", Some("lunch")).expect("pause");
    assert_eq!(
        (p.ticket_id.as_str(), p.accepted, p.reason),
        ("tk-a", true, None)
    );
    let r = client.resume(RUN, "tk-a").expect("resume");
    assert_eq!((r.ticket_id.as_str(), r.accepted), ("tk-a", true));
    let s = client
        .stop(RUN, "tk-b", "cancelled by the test")
        .expect("stop");
    assert_eq!(
        (s.ticket_id.as_str(), s.accepted, s.reason),
        ("tk-b", true, None)
    );
    let refused = client.pause(RUN, "tk-none", None).expect("pause answer");
    assert!(!refused.accepted);
    assert!(refused.reason.unwrap().contains("no ticket tk-none"));

    // poll: both completions, signed, their outcomes decoded
    trials
        .lock()
        .unwrap()
        .released
        .extend(["trial-a".into(), "trial-b".into()]);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 2 && Instant::now() < deadline {
        let polled = client
            .poll(RUN, &[], 10, Duration::from_secs(2))
            .expect("poll");
        assert_eq!(polled.instance_id.as_deref(), Some(instance.as_str()));
        got.extend(polled.completions);
    }
    got.sort_by_key(|c| c.schedule_idx);
    let summary: Vec<_> = got
        .iter()
        .map(|c| {
            (
                c.ticket_id.as_str(),
                c.trial_id.as_str(),
                c.completion_seq,
                c.outcome.metrics["score"],
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("tk-a", "trial-a", 1, 0.5), ("tk-b", "trial-b", 1, 1.5)]
    );
    for c in &got {
        assert_eq!(c.run_id, RUN);
        assert_eq!(
            c.auth_failure, None,
            "the worker's MAC authenticates {}",
            c.ticket_id
        );
        assert_eq!(
            c.key(),
            format!("{RUN}/{}/{}/{}/1", c.schedule_idx, c.trial_id, c.ticket_id)
        );
    }

    // a finished ticket (completion delivered, not acked) runs no agent: a pause that
    // reaches it is accepted and freezes nothing; there is nothing to resume
    let p = client.pause(RUN, "tk-a", None).expect("pause answer");
    assert_eq!((p.accepted, p.reason), (true, None));
    let r = client.resume(RUN, "tk-a").expect("resume answer");
    assert!(!r.accepted);
    assert!(r.reason.unwrap().contains("already finished"));

    // blob: the file carried by value comes back by digest, from the attempt that stored it
    let digest = trials.lock().unwrap().blobs["trial-a"].clone();
    let dest = work.path().join("fetched");
    let n = client
        .fetch_blob(RUN, "tk-a", &digest, &dest, 1 << 20)
        .expect("blob");
    assert_eq!(
        (n, std::fs::read(&dest).unwrap()),
        (CONTENT.len() as u64, CONTENT.to_vec())
    );

    // ack: the worker forgets both; nothing is left to list or deliver
    let keys: Vec<String> = got.iter().map(|c| c.key()).collect();
    assert_eq!(client.ack(RUN, &keys).expect("ack").acked, 2);
    assert!(client.tickets(RUN).unwrap().tickets.is_empty());
    let after = client.poll(RUN, &[], 10, Duration::ZERO).unwrap();
    assert!(after.completions.is_empty());
    let gone = client.fetch_blob(RUN, "tk-a", &digest, &dest, 1 << 20);
    assert!(
        matches!(
            gone,
            Err(crate::backend::remote::RemoteError::Status { status: 404, .. })
        ),
        "an acknowledged attempt's blobs are removed: {gone:?}"
    );
}
