//! The client side of the remote worker protocol against a real HTTP server started in
//! each test.

mod remote_support;

use engine::backend::remote::{
    HttpRemoteWorkerProtocol, RemoteCompletion, RemoteError, RemoteTimeouts, RemoteTuning,
    RemoteWorkerBackend,
};
use engine::backend::{TrialDispatch, WorkerBackend};
use engine::wire::RetryPolicy;
use remote_support::{completion, dead_base_url, spec, CannedServer};
use serde_json::json;
use std::time::Duration;

const TOKEN: &str = remote_support::SIGNING_TOKEN;
const RUN: &str = "run-1";

fn client(base_url: &str) -> HttpRemoteWorkerProtocol {
    HttpRemoteWorkerProtocol::new(base_url, Some(TOKEN.to_string()))
        .unwrap()
        .with_timeouts(RemoteTimeouts {
            connect: Duration::from_secs(2),
            submit: Duration::from_secs(5),
            poll_grace: Duration::from_secs(2),
            pause: Duration::from_secs(5),
            stop: Duration::from_secs(5),
        })
        .with_retry(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
        })
}

fn dispatch(ticket: &str, schedule_idx: u64, trial_id: &str) -> TrialDispatch {
    TrialDispatch {
        ticket_id: ticket.into(),
        spec: spec(RUN, schedule_idx, trial_id),
    }
}

fn assert_no_token(text: &str) {
    assert!(!text.contains(TOKEN), "token leaked into: {text}");
}

fn assert_mismatch(err: RemoteError, url: &str, expected: &str, found: &str) {
    assert_no_token(&err.to_string());
    assert_no_token(&format!("{err:?}"));
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!("remote worker {url} answered schema_version `{found}`, expected `{expected}`")
    );
    match err {
        RemoteError::SchemaMismatch {
            endpoint,
            expected: e,
            found: f,
        } => {
            assert_eq!(endpoint, url);
            assert_eq!(e, expected);
            assert_eq!(f, found);
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
}

#[test]
fn p2d_remote_backend_rejects_schema_version_mismatch() {
    let wrong = |body: serde_json::Value| (200, body.to_string());
    let server = CannedServer::start(vec![
        // Four wrong versions: an older one, a future one, another endpoint's, none.
        wrong(
            json!({"schema_version": "remote_worker_submit_response_v0", "accepted": true, "ticket_id": "tk-1"}),
        ),
        wrong(json!({"schema_version": "remote_worker_poll_response_v2", "completions": []})),
        wrong(
            json!({"schema_version": "remote_worker_stop_response_v1", "ticket_id": "tk-1", "accepted": true}),
        ),
        wrong(json!({"ticket_id": "tk-1", "accepted": true})),
        // Then the right ones.
        wrong(
            json!({"schema_version": "remote_worker_submit_response_v1", "accepted": true, "ticket_id": "tk-1", "reason": null}),
        ),
        wrong(
            json!({"schema_version": "remote_worker_poll_response_v1", "completions": [completion(RUN, 0, "trial-0", "tk-1", 1)]}),
        ),
        wrong(
            json!({"schema_version": "remote_worker_pause_response_v1", "ticket_id": "tk-1", "accepted": false, "reason": "already finished"}),
        ),
        wrong(
            json!({"schema_version": "remote_worker_stop_response_v1", "ticket_id": "tk-1", "accepted": true}),
        ),
    ]);
    let c = client(&server.base_url);
    let base = server.base_url.clone();
    let d = dispatch("tk-1", 0, "trial-0");

    assert_mismatch(
        c.submit(RUN, &d).unwrap_err(),
        &format!("{base}v1/worker/submit"),
        "remote_worker_submit_response_v1",
        "remote_worker_submit_response_v0",
    );
    assert_mismatch(
        c.poll(RUN, &["k".into()], 8, Duration::from_millis(50))
            .unwrap_err(),
        &format!("{base}v1/worker/poll"),
        "remote_worker_poll_response_v1",
        "remote_worker_poll_response_v2",
    );
    assert_mismatch(
        c.pause(RUN, "tk-1", Some("ckpt")).unwrap_err(),
        &format!("{base}v1/worker/pause"),
        "remote_worker_pause_response_v1",
        "remote_worker_stop_response_v1",
    );
    assert_mismatch(
        c.stop(RUN, "tk-1", "user asked").unwrap_err(),
        &format!("{base}v1/worker/stop"),
        "remote_worker_stop_response_v1",
        "(missing)",
    );

    let submitted = c.submit(RUN, &d).unwrap();
    assert!(submitted.accepted);
    assert_eq!(submitted.ticket_id, "tk-1");
    let polled = c.poll(RUN, &[], 8, Duration::from_millis(50)).unwrap();
    assert_eq!(polled.completions.len(), 1);
    let got: &RemoteCompletion = &polled.completions[0];
    assert_eq!((got.schedule_idx, got.completion_seq), (0, 1));
    assert_eq!(got.outcome.duration_ms, 7);
    assert_eq!(got.key(), "run-1/0/trial-0/tk-1/1");
    assert_eq!(got.auth_failure, None, "a signed completion authenticates");
    let paused = c.pause(RUN, "tk-1", None).unwrap();
    assert!(!paused.accepted);
    assert_eq!(paused.reason.as_deref(), Some("already finished"));
    assert!(c.stop(RUN, "tk-1", "done").unwrap().accepted);

    let received = server.finish();
    let expected = [
        ("/v1/worker/submit", "remote_worker_submit_v1"),
        ("/v1/worker/poll", "remote_worker_poll_v1"),
        ("/v1/worker/pause", "remote_worker_pause_v1"),
        ("/v1/worker/stop", "remote_worker_stop_v1"),
    ];
    assert_eq!(received.len(), 8, "one request per call, no retries");
    for (i, r) in received.iter().enumerate() {
        let (path, schema) = expected[i % 4];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", path));
        assert_eq!(r.body["schema_version"], schema);
        model::schemas::validate(schema, &r.body).expect("request matches its schema");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    assert_eq!(received[0].body["dispatch"]["ticket_id"], "tk-1");
    assert_eq!(received[0].body["dispatch"]["spec"]["trial_id"], "trial-0");
    assert_eq!(received[1].body["ack_completion_keys"], json!(["k"]));
    assert_eq!(received[1].body["wait_ms"], 50);
    assert_eq!(received[2].body["label"], "ckpt");
    assert_eq!(received[3].body["reason"], "user asked");

    // The backend: a mismatch on poll quarantines that endpoint; with no endpoint left
    // the backend is fatal, and nothing more is sent to the worker.
    let server = CannedServer::start(vec![
        wrong(
            json!({"schema_version": "remote_worker_health_response_v1", "worker_id": "w", "labj_version": "0.1.0", "slots": 2, "running": 0, "undelivered": 0, "draining": false}),
        ),
        wrong(json!({"schema_version": "remote_worker_poll_response_v0", "completions": []})),
    ]);
    let mut backend = RemoteWorkerBackend::connect(
        RUN,
        vec![client(&server.base_url)],
        2,
        RemoteTuning::default(),
    )
    .unwrap();
    assert_eq!(
        backend.capacity(),
        2,
        "capacity comes from the health answer"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while backend.fatal().is_none() && std::time::Instant::now() < deadline {
        backend
            .poll_completions(Duration::from_millis(50), 16)
            .unwrap();
    }
    let msg = backend.fatal().expect("the only endpoint is quarantined");
    assert!(msg.contains("quarantined"), "{msg}");
    assert!(msg.contains("remote_worker_poll_response_v0"), "{msg}");
    assert!(msg.contains("remote_worker_poll_response_v1"), "{msg}");
    assert!(
        msg.contains(&format!("{}v1/worker/poll", server.base_url)),
        "{msg}"
    );
    assert_no_token(&msg);
    assert_eq!(backend.capacity(), 0);
    let ack = backend.request_pause("tk-1", None);
    assert!(!ack.accepted);
    let notices: Vec<_> = backend
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            engine::backend::BackendEvent::Notice(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].code, "remote_endpoint_quarantined");
    assert_no_token(&notices[0].message);
    assert_eq!(server.finish().len(), 2, "no I/O after quarantine");
}

#[test]
fn remote_protocol_token_never_appears_in_debug_or_errors() {
    let c = client(&dead_base_url());
    let debug = format!("{c:?}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert_no_token(&debug);
    assert_eq!(
        format!("{:?}", engine::wire::BearerToken::new(TOKEN)),
        "BearerToken(<redacted>)"
    );
    let err = c.stop(RUN, "tk-1", "x").unwrap_err();
    assert!(
        matches!(err, RemoteError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert_no_token(&err.to_string());
    assert_no_token(&format!("{err:?}"));

    // A worker that echoes the header back in an error body is scrubbed.
    let server = CannedServer::start(vec![(
        401,
        format!("{{\"error\":\"bad token Bearer {TOKEN}\"}}"),
    )]);
    let err = client(&server.base_url).stop(RUN, "tk-1", "x").unwrap_err();
    assert!(
        matches!(
            err,
            RemoteError::Status {
                status: 401,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("<redacted>"), "{err}");
    assert_no_token(&err.to_string());
    assert_no_token(&format!("{err:?}"));
    assert_eq!(server.finish().len(), 1);
}

#[test]
fn remote_protocol_retries_5xx_and_not_4xx() {
    let ok = json!({"schema_version": "remote_worker_stop_response_v1", "ticket_id": "tk-1", "accepted": true}).to_string();
    let server = CannedServer::start(vec![(503, "{}".into()), (502, "{}".into()), (200, ok)]);
    let c = client(&server.base_url);
    assert!(c.stop(RUN, "tk-1", "x").unwrap().accepted);
    assert_eq!(server.finish().len(), 3);

    let server = CannedServer::start(vec![(500, "{}".into()); 3]);
    let err = client(&server.base_url).stop(RUN, "tk-1", "x").unwrap_err();
    assert!(
        matches!(
            err,
            RemoteError::Status {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.finish().len(), 3);

    let server = CannedServer::start(vec![(400, "{\"error\":\"bad request\"}".into())]);
    let err = client(&server.base_url).stop(RUN, "tk-1", "x").unwrap_err();
    assert!(
        matches!(
            err,
            RemoteError::Status {
                status: 400,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad request"), "{err}");
    assert_eq!(server.finish().len(), 1);
}

#[test]
fn remote_protocol_rejects_schema_violations_with_pointer() {
    let server = CannedServer::start(vec![
        (200, json!({"schema_version": "remote_worker_poll_response_v1", "completions": [{"run_id": RUN}]}).to_string()),
        (200, "not json".into()),
    ]);
    let c = client(&server.base_url);
    let err = c.poll(RUN, &[], 4, Duration::ZERO).unwrap_err();
    assert!(err.is_protocol_fault());
    let msg = err.to_string();
    assert!(
        matches!(err, RemoteError::InvalidResponse { .. }),
        "{err:?}"
    );
    assert!(msg.contains("/v1/worker/poll"), "{msg}");
    assert!(msg.contains("/completions/0"), "{msg}");
    let err = c.poll(RUN, &[], 4, Duration::ZERO).unwrap_err();
    assert!(matches!(err, RemoteError::NotJson { .. }), "{err:?}");
    server.finish();
}

/// A completion whose outcome was altered after the worker signed it, or that carries no
/// MAC, is marked unauthenticated by the client (the backend then journals the attempt
/// as an infrastructure fault); the reason names neither the key nor the expected tag.
#[test]
fn remote_protocol_altered_or_unsigned_completions_fail_authentication() {
    let mut altered = completion(RUN, 0, "trial-0", "tk-1", 1);
    altered["outcome"]["classification"] = json!("failure");
    let mut unsigned = completion(RUN, 1, "trial-1", "tk-2", 1);
    unsigned.as_object_mut().unwrap().remove("mac");
    let good = completion(RUN, 2, "trial-2", "tk-3", 1);
    let server = CannedServer::start(vec![(
        200,
        json!({"schema_version": "remote_worker_poll_response_v1",
               "completions": [altered, unsigned, good]})
        .to_string(),
    )]);
    let c = client(&server.base_url);
    let polled = c.poll(RUN, &[], 8, Duration::from_millis(50)).unwrap();
    server.finish();
    let why: Vec<Option<&str>> = polled
        .completions
        .iter()
        .map(|c| c.auth_failure.as_deref())
        .collect();
    assert_eq!(
        why,
        [
            Some("its MAC does not match its content"),
            Some("the completion carries no MAC"),
            None
        ]
    );
    // Signed with another token than the client's: refused the same way.
    let server = CannedServer::start(vec![(
        200,
        json!({"schema_version": "remote_worker_poll_response_v1",
               "completions": [completion(RUN, 0, "trial-0", "tk-1", 1)]})
        .to_string(),
    )]);
    let other =
        HttpRemoteWorkerProtocol::new(&server.base_url, Some("another-token".into())).unwrap();
    let polled = other.poll(RUN, &[], 8, Duration::from_millis(50)).unwrap();
    server.finish();
    assert_eq!(
        polled.completions[0].auth_failure.as_deref(),
        Some("its MAC does not match its content")
    );
}
