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
use crate::wire::{to_document, BearerToken, Endpoint};
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
    /// Largest request body accepted (413 beyond).
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
    pub(crate) fn new(
        state: Arc<WorkerState>,
        token: Option<&BearerToken>,
        limits: HttpLimits,
    ) -> Self {
        Shared {
            state,
            token_digest: token.map(|t| *blake3::hash(t.expose().as_bytes()).as_bytes()),
            limits,
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
    let Some(call) = Endpoint::from_path(req.uri().path()) else {
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
    if call == Endpoint::Blob {
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
    let req: BlobRequest = match decode(Endpoint::Blob, doc) {
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
fn check_request(call: Endpoint, bytes: &[u8]) -> Result<serde_json::Value, String> {
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

fn decode<T: DeserializeOwned>(call: Endpoint, doc: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(doc).map_err(|e| format!("`{}`: {e}", call.request_schema()))
}

type CallError = (StatusCode, String);

fn run_call(
    call: Endpoint,
    state: &Arc<WorkerState>,
    doc: serde_json::Value,
) -> Result<String, CallError> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    match call {
        Endpoint::Submit => {
            let req: SubmitRequest<'static> = decode(call, doc).map_err(bad)?;
            match state.submit(req) {
                Ok(r) => respond(call, &r),
                Err(Refusal::BadRequest(m)) => Err(bad(m)),
            }
        }
        Endpoint::Poll => respond(call, &state.poll(decode(call, doc).map_err(bad)?)),
        Endpoint::Pause => respond(call, &state.pause(decode(call, doc).map_err(bad)?)),
        Endpoint::Resume => respond(call, &state.resume(decode(call, doc).map_err(bad)?)),
        Endpoint::Stop => respond(call, &state.stop(decode(call, doc).map_err(bad)?)),
        Endpoint::Ack => respond(call, &state.ack(decode(call, doc).map_err(bad)?)),
        Endpoint::Health => respond(call, &state.health()),
        Endpoint::Tickets => respond(call, &state.tickets(decode(call, doc).map_err(bad)?)),
        Endpoint::Blob => Err(bad("v1/worker/blob answers bytes, not a document".into())),
    }
}

/// Serialize and check an answer against its response schema.
fn respond<T: Serialize>(call: Endpoint, answer: &T) -> Result<String, CallError> {
    let internal = |m: String| (StatusCode::INTERNAL_SERVER_ERROR, m);
    let schema = call
        .response_schema()
        .ok_or_else(|| internal(format!("{} answers no document", call.path())))?;
    let doc = to_document(schema, answer).map_err(|e| internal(e.to_string()))?;
    model::schemas::validate(schema, &doc)
        .map_err(|e| internal(format!("worker built an invalid answer: {e}")))?;
    serde_json::to_string(&doc).map_err(|e| internal(e.to_string()))
}

/// Fuzzing entry (feature `fuzzing`): the whole request gate after the body is read —
/// route, JSON, `schema_version`, schema, typed decode — without running the call.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_request(path: &str, bytes: &[u8]) -> Result<(), String> {
    let call = Endpoint::from_path(path).ok_or_else(|| format!("no route {path}"))?;
    let doc = check_request(call, bytes)?;
    match call {
        Endpoint::Submit => decode::<SubmitRequest>(call, doc).map(drop),
        Endpoint::Poll => decode::<PollRequest>(call, doc).map(drop),
        Endpoint::Pause => decode::<PauseRequest>(call, doc).map(drop),
        Endpoint::Resume => decode::<ResumeRequest>(call, doc).map(drop),
        Endpoint::Stop => decode::<StopRequest>(call, doc).map(drop),
        Endpoint::Ack => decode::<AckRequest>(call, doc).map(drop),
        Endpoint::Health => decode::<HealthRequest>(call, doc).map(drop),
        Endpoint::Tickets => decode::<RunRequest>(call, doc).map(drop),
        Endpoint::Blob => decode::<BlobRequest>(call, doc).map(drop),
    }
}
