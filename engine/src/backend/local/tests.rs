use super::*;
use journal::event::Classification;
use std::collections::BTreeSet;
use std::time::Instant;

fn spec(idx: u64) -> TrialSpec {
    TrialSpec {
        variant_id: "v".into(),
        task_id: format!("t{idx}"),
        task: serde_json::json!({"id": idx}),
        ..model::testkit::trial_spec("run", idx, &journal::trial_id_of(idx))
    }
}

fn instant_runner() -> TrialRunner {
    Arc::new(|_spec, _control| TrialOutcome {
        classification: Classification::Success,
        outcome: Some("success".into()),
        metrics: Default::default(),
        other_metrics: Default::default(),
        attempts: vec![],
        duration_ms: 0,
        evidence: vec![],
        artifacts: vec![],
        chain_state: None,
        error: None,
        isolation: None,
    })
}

fn dispatch(idx: u64) -> TrialDispatch {
    TrialDispatch {
        ticket_id: format!("tk{idx}"),
        spec: spec(idx),
    }
}

#[test]
fn p5b_local_worker_capacity_ceiling_resolves_with_warning() {
    let mut b = LocalThreadWorkerBackend::with_runner(8, Some(3), instant_runner());
    assert_eq!(b.capacity(), 3);
    let notices: Vec<BackendNotice> = b
        .take_events()
        .into_iter()
        .map(|e| match e {
            BackendEvent::Notice(n) => n,
            other => panic!("not a notice: {other:?}"),
        })
        .collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].code, "local_capacity_ceiling");
    assert_eq!(notices[0].requested, Some(8));
    assert_eq!(notices[0].effective, Some(3));
    assert!(notices[0].message.contains(CEILING_ENV));
    assert!(b.take_events().is_empty(), "a notice is returned once");
    // A ceiling above the request changes nothing and warns about nothing.
    let mut b = LocalThreadWorkerBackend::with_runner(2, Some(16), instant_runner());
    assert_eq!(b.capacity(), 2);
    assert!(b.take_events().is_empty());
}

#[test]
fn p5b_submit_backpressure_classifies_capacity_as_retryable() {
    let gate = Arc::new(std::sync::Barrier::new(3));
    let g = Arc::clone(&gate);
    let runner: TrialRunner = Arc::new(move |s, c| {
        g.wait();
        instant_runner()(s, c)
    });
    let mut b = LocalThreadWorkerBackend::with_runner(2, None, runner);
    b.submit(dispatch(0)).unwrap();
    b.submit(dispatch(1)).unwrap();
    let err = b.submit(dispatch(2)).unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(
        err,
        SubmitError::Capacity {
            in_flight: 2,
            limit: 2
        }
    );
    gate.wait();
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got < 2 && Instant::now() < deadline {
        got += b
            .poll_completions(Duration::from_millis(100), 256)
            .unwrap()
            .len();
    }
    assert_eq!(got, 2);
    // Capacity freed: the refused dispatch now goes through.
    let gate2 = gate.clone();
    std::thread::spawn(move || {
        gate2.wait();
    });
    b.submit(dispatch(2)).unwrap();
    gate.wait();
    let c = b.poll_completions(Duration::from_secs(10), 256).unwrap();
    assert_eq!(c[0].schedule_idx, 2);
    assert!(!SubmitError::Fatal("x".into()).is_retryable());
}

#[test]
fn p5b_local_worker_backend_drains_burst_completions_without_loss() {
    let n = 1000u64;
    let mut b = LocalThreadWorkerBackend::with_runner(n as usize, None, instant_runner());
    for i in 0..n {
        b.submit(dispatch(i)).unwrap();
    }
    // Let the burst pile up so single polls hit the bound.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = BTreeSet::new();
    let mut polls = 0;
    let mut max_batch = 0;
    std::thread::sleep(Duration::from_millis(200));
    while (seen.len() as u64) < n && Instant::now() < deadline {
        let batch = b
            .poll_completions(Duration::from_millis(200), MAX_DRAIN_PER_POLL)
            .unwrap();
        assert!(batch.len() <= MAX_DRAIN_PER_POLL);
        max_batch = max_batch.max(batch.len());
        polls += 1;
        for c in batch {
            assert!(
                seen.insert(c.schedule_idx),
                "duplicate completion {}",
                c.schedule_idx
            );
        }
    }
    assert_eq!(seen.len() as u64, n, "every completion delivered");
    assert_eq!(
        max_batch, MAX_DRAIN_PER_POLL,
        "the per-poll bound was reached"
    );
    assert!(polls >= (n as usize).div_ceil(MAX_DRAIN_PER_POLL));
    assert_eq!(b.in_flight(), 0);
    assert!(b
        .poll_completions(Duration::from_millis(10), 256)
        .unwrap()
        .is_empty());
}

/// A worker thread that panics does not swallow its completion: the trial comes back as
/// an infrastructure outcome (re-run under the infra-retry rules, never scored), and the
/// pool keeps serving.
#[test]
fn a_panicking_runner_becomes_an_infra_outcome() {
    let runner: TrialRunner = Arc::new(|spec, _control| {
        if spec.schedule_idx == 0 {
            panic!("boom in trial 0");
        }
        instant_runner()(spec, _control)
    });
    let mut b = LocalThreadWorkerBackend::with_runner(2, None, runner);
    b.submit(dispatch(0)).unwrap();
    b.submit(dispatch(1)).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 2 && Instant::now() < deadline {
        got.extend(b.poll_completions(Duration::from_millis(50), 8).unwrap());
    }
    got.sort_by_key(|c| c.schedule_idx);
    assert_eq!(got.len(), 2, "both trials report");
    assert_eq!(got[0].outcome.classification, Classification::WorkerLost);
    let err = got[0].outcome.error.clone().unwrap();
    assert!(
        err.contains("labj worker thread panicked: boom in trial 0"),
        "{err}"
    );
    assert_eq!(got[1].outcome.classification, Classification::Success);
    assert_eq!(b.in_flight(), 0);
}

/// Dropping the backend waits a bounded time for workers that never return, and not at
/// all once the session abandoned them.
#[test]
fn drop_does_not_wait_for_abandoned_stuck_workers() {
    let runner: TrialRunner = Arc::new(|_spec, _control| loop {
        std::thread::sleep(Duration::from_secs(3600));
    });
    let mut b = LocalThreadWorkerBackend::with_runner(1, None, runner);
    b.submit(dispatch(0)).unwrap();
    b.abandon();
    let t = Instant::now();
    drop(b);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "drop waited {:?}",
        t.elapsed()
    );
}

#[test]
fn the_drop_wait_ends_when_the_last_worker_leaves_and_gives_up_at_its_bound() {
    // The wait ends when the last worker leaves, not at the next poll; a worker that
    // never leaves is given up on at the bound.
    let alive = Arc::new(Alive::default());
    alive.enter();
    alive.enter();
    let leaving = Arc::clone(&alive);
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        leaving.leave();
        std::thread::sleep(Duration::from_millis(30));
        leaving.leave();
    });
    assert!(
        alive.wait_none(Duration::from_secs(30)),
        "both workers left: the wait must see it"
    );
    worker.join().unwrap();
    assert_eq!(*alive.count.lock().unwrap(), 0);

    let stuck = Alive::default();
    stuck.enter();
    let t = Instant::now();
    assert!(
        !stuck.wait_none(Duration::from_millis(50)),
        "a worker that never leaves is not waited for past the bound"
    );
    assert!(t.elapsed() >= Duration::from_millis(50));
    // Nothing waits at all when no worker ever started.
    assert!(Alive::default().wait_none(Duration::ZERO));
}
