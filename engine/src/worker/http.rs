//! The HTTP side of `labj worker serve`: hyper (HTTP/1.1) on a small tokio runtime.
//!
//! Every request goes through the same gate, in this order: route (`POST` to a known
//! `v1/worker/*` path, else 404/405) → bearer token (401, compared in constant time) →
//! declared length (413) → body read under the size limit and the read timeout
//! (413/408) → JSON (400) → `schema_version` (400) → schema (400, with JSON pointers) →
//! typed decode (400). Handlers run on blocking threads (`WorkerState` is synchronous).
//! Every answer is checked against its response schema before it leaves. Errors are
//! `{"error": "..."}` and never contain the token or request headers.

use super::state::{Refusal, WorkerState};
use crate::wire::messages::*;
use crate::wire::BearerToken;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Limits of the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    /// Time to receive a request's headers (hyper's header read timeout).
    pub header_timeout: Duration,
    /// Time to receive a request's body once the headers arrived.
    pub body_timeout: Duration,
}

pub(super) struct Shared {
    pub state: Arc<WorkerState>,
    /// blake3 of the token: compared in constant time against the presented one's.
    pub token_digest: Option<[u8; 32]>,
    pub limits: HttpLimits,
}

impl Shared {
    pub fn new(state: Arc<WorkerState>, token: Option<&BearerToken>, limits: HttpLimits) -> Self {
        Shared {
            state,
            token_digest: token.map(|t| *blake3::hash(t.expose().as_bytes()).as_bytes()),
            limits,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Submit,
    Poll,
    Pause,
    Resume,
    Stop,
    Ack,
    Health,
    Tickets,
    /// The raw bytes of one blob (answered `application/octet-stream`, not JSON).
    Blob,
}

impl Call {
    fn from_path(path: &str) -> Option<Call> {
        Some(match path.trim_start_matches('/') {
            "v1/worker/submit" => Call::Submit,
            "v1/worker/poll" => Call::Poll,
            "v1/worker/pause" => Call::Pause,
            "v1/worker/resume" => Call::Resume,
            "v1/worker/stop" => Call::Stop,
            "v1/worker/ack" => Call::Ack,
            "v1/worker/health" => Call::Health,
            "v1/worker/tickets" => Call::Tickets,
            "v1/worker/blob" => Call::Blob,
            _ => return None,
        })
    }

    fn request_schema(self) -> &'static str {
        match self {
            Call::Submit => "remote_worker_submit_v1",
            Call::Poll => "remote_worker_poll_v1",
            Call::Pause => "remote_worker_pause_v1",
            Call::Resume => "remote_worker_resume_v1",
            Call::Stop => "remote_worker_stop_v1",
            Call::Ack => "remote_worker_ack_v1",
            Call::Health => "remote_worker_health_v1",
            Call::Tickets => "remote_worker_tickets_v1",
            Call::Blob => "remote_worker_blob_v1",
        }
    }

    fn response_schema(self) -> &'static str {
        match self {
            Call::Submit => "remote_worker_submit_response_v1",
            Call::Poll => "remote_worker_poll_response_v1",
            Call::Pause => "remote_worker_pause_response_v1",
            Call::Resume => "remote_worker_resume_response_v1",
            Call::Stop => "remote_worker_stop_response_v1",
            Call::Ack => "remote_worker_ack_response_v1",
            Call::Health => "remote_worker_health_response_v1",
            Call::Tickets => "remote_worker_tickets_response_v1",
            // Raw bytes: no response document.
            Call::Blob => "",
        }
    }
}

/// A whole document, or a blob streamed from disk.
pub(super) type Answer = Response<BoxBody<Bytes, std::io::Error>>;

fn full(bytes: impl Into<Bytes>) -> BoxBody<Bytes, std::io::Error> {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn error(status: StatusCode, message: impl Into<String>) -> Answer {
    let body = serde_json::json!({ "error": message.into() }).to_string();
    json_response(status, body)
}

fn json_response(status: StatusCode, body: String) -> Answer {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// The presented bearer token matches (constant time over fixed-length digests).
fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(want) = &shared.token_digest else {
        return true; // --insecure-no-auth
    };
    let presented = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let got = blake3::hash(presented.as_bytes());
    bool::from(got.as_bytes().ct_eq(want)) && !presented.is_empty()
}

pub(super) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Answer, std::convert::Infallible> {
    Ok(handle_inner(shared, req).await)
}

async fn handle_inner(shared: Arc<Shared>, req: Request<Incoming>) -> Answer {
    let Some(call) = Call::from_path(req.uri().path()) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no such endpoint `{}`", req.uri().path()),
        );
    };
    if req.method() != hyper::Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} takes POST", req.uri().path()),
        );
    }
    if !authorized(&shared, &req) {
        tracing::warn!(path = %req.uri().path(), "refused a request without a valid bearer token");
        return error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (Authorization: Bearer <token>)",
        );
    }
    let limit = shared.limits.max_body_bytes;
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body of {} bytes exceeds the limit of {limit} bytes",
                declared.unwrap_or(0)
            ),
        );
    }
    let body = Limited::new(req.into_body(), limit);
    let bytes = match tokio::time::timeout(shared.limits.body_timeout, body.collect()).await {
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "request body not received within {} ms",
                    shared.limits.body_timeout.as_millis()
                ),
            )
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds the limit of {limit} bytes"),
            )
        }
        Ok(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            )
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let doc = match check_request(call, &bytes) {
        Ok(doc) => doc,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let state = Arc::clone(&shared.state);
    if call == Call::Blob {
        return blob_answer(state, doc).await;
    }
    let outcome = tokio::task::spawn_blocking(move || run_call(call, &state, doc)).await;
    match outcome {
        Ok(Ok(body)) => json_response(StatusCode::OK, body),
        Ok(Err((status, message))) => error(status, message),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("worker handler failed: {e}"),
        ),
    }
}

/// `v1/worker/blob`: the blob's bytes, streamed from disk in [`BLOB_CHUNK`] pieces by a
/// blocking thread through a small channel (the worker holds a few chunks, never the
/// blob); 404 when the worker does not hold it (never a path or file name of the worker
/// in the message).
async fn blob_answer(state: Arc<WorkerState>, doc: serde_json::Value) -> Answer {
    let req: BlobRequest = match decode(Call::Blob, doc) {
        Ok(r) => r,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let (run_id, digest) = (req.run_id.clone(), req.digest.clone());
    let opened = tokio::task::spawn_blocking(move || {
        let path = state.blob_path(&req.run_id, req.ticket_id.as_deref(), &req.digest)?;
        Some(std::fs::File::open(path).and_then(|f| Ok((f.metadata()?.len(), f))))
    })
    .await;
    let (len, file) = match opened {
        Ok(Some(Ok(open))) => open,
        Ok(Some(Err(e))) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read blob {digest} of run `{run_id}`: {e}"),
            )
        }
        Ok(None) => return error(StatusCode::NOT_FOUND, "this worker holds no such blob"),
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("worker handler failed: {e}"),
            )
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || stream_file(file, tx));
    let mut r = Response::new(BoxBody::new(ChunkBody(rx)));
    let headers = r.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(hyper::header::CONTENT_LENGTH, len.into());
    r
}

/// Size of one piece of a streamed blob.
const BLOB_CHUNK: usize = 256 * 1024;

/// Read `file` and send it in pieces until its end, a read error (sent on, so the
/// client sees a broken body, not a short one) or the client going away.
fn stream_file(mut file: std::fs::File, tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) {
    use std::io::Read;
    loop {
        let mut buf = vec![0u8; BLOB_CHUNK];
        let piece = match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                Ok(Bytes::from(buf))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let failed = piece.is_err();
        if tx.blocking_send(piece).is_err() || failed {
            return;
        }
    }
}

/// A response body fed by [`stream_file`].
struct ChunkBody(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl hyper::body::Body for ChunkBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// JSON, then `schema_version`, then the schema: the message says which failed, where.
fn check_request(call: Call, bytes: &[u8]) -> Result<serde_json::Value, String> {
    let expected = call.request_schema();
    let doc: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("malformed JSON in the `{expected}` request: {e}"))?;
    match doc.get("schema_version").and_then(|v| v.as_str()) {
        Some(v) if v == expected => {}
        Some(v) => {
            return Err(format!(
                "schema_version `{v}` is not supported here; this worker expects `{expected}` (coordinator and worker must run compatible labj versions)"
            ))
        }
        None => return Err(format!("missing schema_version; expected `{expected}`")),
    }
    model::schemas::validate(expected, &doc).map_err(|e| e.to_string())?;
    Ok(doc)
}

fn decode<T: DeserializeOwned>(call: Call, doc: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(doc).map_err(|e| format!("`{}`: {e}", call.request_schema()))
}

type CallError = (StatusCode, String);

fn run_call(
    call: Call,
    state: &Arc<WorkerState>,
    doc: serde_json::Value,
) -> Result<String, CallError> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    match call {
        Call::Submit => {
            let req: SubmitRequest = decode(call, doc).map_err(bad)?;
            match state.submit(req) {
                Ok(r) => respond(call, &r),
                Err(Refusal::BadRequest(m)) => Err(bad(m)),
            }
        }
        Call::Poll => respond(call, &state.poll(decode(call, doc).map_err(bad)?)),
        Call::Pause => respond(call, &state.pause(decode(call, doc).map_err(bad)?)),
        Call::Resume => respond(call, &state.resume(decode(call, doc).map_err(bad)?)),
        Call::Stop => respond(call, &state.stop(decode(call, doc).map_err(bad)?)),
        Call::Ack => respond(call, &state.ack(decode(call, doc).map_err(bad)?)),
        Call::Health => respond(call, &state.health()),
        Call::Tickets => respond(call, &state.tickets(decode(call, doc).map_err(bad)?)),
        Call::Blob => Err(bad("v1/worker/blob answers bytes, not a document".into())),
    }
}

/// Serialize and check an answer against its response schema.
fn respond<T: Serialize>(call: Call, answer: &T) -> Result<String, CallError> {
    let internal = |m: String| (StatusCode::INTERNAL_SERVER_ERROR, m);
    let doc = serde_json::to_value(answer).map_err(|e| internal(e.to_string()))?;
    model::schemas::validate(call.response_schema(), &doc)
        .map_err(|e| internal(format!("worker built an invalid answer: {e}")))?;
    serde_json::to_string(&doc).map_err(|e| internal(e.to_string()))
}

/// Fuzzing entry (feature `fuzzing`): the whole request gate after the body is read —
/// route, JSON, `schema_version`, schema, typed decode — without running the call.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_request(path: &str, bytes: &[u8]) -> Result<(), String> {
    let call = Call::from_path(path).ok_or_else(|| format!("no route {path}"))?;
    let doc = check_request(call, bytes)?;
    match call {
        Call::Submit => decode::<SubmitRequest>(call, doc).map(drop),
        Call::Poll => decode::<PollRequest>(call, doc).map(drop),
        Call::Pause | Call::Resume | Call::Stop => decode::<TicketRequest>(call, doc).map(drop),
        Call::Ack => decode::<AckRequest>(call, doc).map(drop),
        Call::Health => Ok(()),
        Call::Tickets => decode::<RunRequest>(call, doc).map(drop),
        Call::Blob => decode::<BlobRequest>(call, doc).map(drop),
    }
}
