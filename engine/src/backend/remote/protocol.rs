//! The remote worker messages (`schemas/remote_worker_*_v1.jsonschema`) and a blocking
//! HTTP client for one worker endpoint.
//!
//! Every response is checked in this order: HTTP status, JSON, `schema_version` equal to
//! the expected response name ([`RemoteError::SchemaMismatch`] otherwise), the whole
//! document against its schema, then decoding into the typed message. Requests are
//! validated against their own schema before they leave, so a bug here never reaches a
//! worker as a malformed document.

#[cfg(feature = "fuzzing")]
pub(crate) use super::response::fuzz_response;
use super::response::{is_transient, parse_response_doc};
use super::RemoteError;
use crate::backend::TrialDispatch;
pub use crate::wire::messages::{FileDoc, HealthResponse, TicketDoc};
use crate::wire::tls::ClientTrust;
use crate::wire::{completion_key, BearerToken, CompletionMac};
use model::trial::{TrialOutcome, TrialSpec};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Largest response body read (a poll answer carries whole trial outcomes).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// `v1/worker/blob`: raw bytes of one blob (no response document).
pub const BLOB_PATH: &str = "v1/worker/blob";
pub const BLOB_SCHEMA: &str = "remote_worker_blob_v1";
/// How much of an error body is quoted in a [`RemoteError::Status`].
const MAX_QUOTED_BODY: usize = 512;

/// The calls of the protocol: the four of v1 and the extensions (resume, ack, health,
/// tickets), each with its own request and response schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteEndpoint {
    Submit,
    Poll,
    Pause,
    Stop,
    Resume,
    Ack,
    Health,
    Tickets,
}

impl RemoteEndpoint {
    pub fn path(self) -> &'static str {
        match self {
            RemoteEndpoint::Submit => "v1/worker/submit",
            RemoteEndpoint::Poll => "v1/worker/poll",
            RemoteEndpoint::Pause => "v1/worker/pause",
            RemoteEndpoint::Stop => "v1/worker/stop",
            RemoteEndpoint::Resume => "v1/worker/resume",
            RemoteEndpoint::Ack => "v1/worker/ack",
            RemoteEndpoint::Health => "v1/worker/health",
            RemoteEndpoint::Tickets => "v1/worker/tickets",
        }
    }

    pub fn request_schema(self) -> &'static str {
        match self {
            RemoteEndpoint::Submit => "remote_worker_submit_v1",
            RemoteEndpoint::Poll => "remote_worker_poll_v1",
            RemoteEndpoint::Pause => "remote_worker_pause_v1",
            RemoteEndpoint::Stop => "remote_worker_stop_v1",
            RemoteEndpoint::Resume => "remote_worker_resume_v1",
            RemoteEndpoint::Ack => "remote_worker_ack_v1",
            RemoteEndpoint::Health => "remote_worker_health_v1",
            RemoteEndpoint::Tickets => "remote_worker_tickets_v1",
        }
    }

    pub fn response_schema(self) -> &'static str {
        match self {
            RemoteEndpoint::Submit => "remote_worker_submit_response_v1",
            RemoteEndpoint::Poll => "remote_worker_poll_response_v1",
            RemoteEndpoint::Pause => "remote_worker_pause_response_v1",
            RemoteEndpoint::Stop => "remote_worker_stop_response_v1",
            RemoteEndpoint::Resume => "remote_worker_resume_response_v1",
            RemoteEndpoint::Ack => "remote_worker_ack_response_v1",
            RemoteEndpoint::Health => "remote_worker_health_response_v1",
            RemoteEndpoint::Tickets => "remote_worker_tickets_response_v1",
        }
    }
}

// ---- messages --------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
struct SubmitRequest<'a> {
    schema_version: &'static str,
    run_id: &'a str,
    dispatch: DispatchDoc<'a>,
    #[serde(skip_serializing_if = "<[FileDoc]>::is_empty")]
    files: &'a [FileDoc],
}

#[derive(Debug, Clone, Serialize)]
struct RunRequest<'a> {
    schema_version: &'static str,
    run_id: &'a str,
}

#[derive(Debug, Clone, Serialize)]
struct ResumeRequest<'a> {
    schema_version: &'static str,
    run_id: &'a str,
    ticket_id: &'a str,
}

#[derive(Debug, Clone, Serialize)]
struct AckRequest<'a> {
    schema_version: &'static str,
    run_id: &'a str,
    completion_keys: &'a [String],
}

#[derive(Debug, Clone, Serialize)]
struct HealthRequest {
    schema_version: &'static str,
}

/// `remote_worker_ack_response_v1`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AckResponse {
    pub acked: u64,
}

/// `remote_worker_tickets_response_v1`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TicketsResponse {
    pub tickets: Vec<TicketDoc>,
}

#[derive(Debug, Clone, Serialize)]
struct DispatchDoc<'a> {
    schedule_idx: u64,
    trial_id: &'a str,
    ticket_id: &'a str,
    variant_id: &'a str,
    task_id: &'a str,
    repl_idx: u32,
    spec: &'a TrialSpec,
}

#[derive(Debug, Clone, Serialize)]
struct PollRequest<'a> {
    schema_version: &'static str,
    run_id: &'a str,
    ack_completion_keys: &'a [String],
    max_completions: usize,
    wait_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
struct PauseRequest<'a> {
    schema_version: &'static str,
    run_id: &'a str,
    ticket_id: &'a str,
    label: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
struct StopRequest<'a> {
    schema_version: &'static str,
    run_id: &'a str,
    ticket_id: &'a str,
    reason: &'a str,
}

/// `remote_worker_submit_response_v1`: `accepted: false` is a refusal (no free slot).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubmitResponse {
    pub accepted: bool,
    pub ticket_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `remote_worker_poll_response_v1`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PollResponse {
    /// The answering worker process (absent from older workers).
    #[serde(default)]
    pub instance_id: Option<String>,
    pub completions: Vec<RemoteCompletion>,
}

/// One completion as the worker delivers it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RemoteCompletion {
    pub run_id: String,
    pub schedule_idx: u64,
    pub trial_id: String,
    pub ticket_id: String,
    pub completion_seq: u64,
    pub outcome: TrialOutcome,
    /// [`CompletionMac`] tag the worker computed.
    #[serde(default)]
    pub mac: Option<String>,
    /// Set by the client when the tag does not authenticate this completion (why, never
    /// the key): the backend then journals the attempt as an infrastructure fault.
    #[serde(skip)]
    pub auth_failure: Option<String>,
}

impl RemoteCompletion {
    /// The key the coordinator acknowledges on its next poll.
    pub fn key(&self) -> String {
        completion_key(
            &self.run_id,
            self.schedule_idx,
            &self.trial_id,
            &self.ticket_id,
            self.completion_seq,
        )
    }
}

/// `remote_worker_pause_response_v1`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PauseResponse {
    pub ticket_id: String,
    pub accepted: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `remote_worker_stop_response_v1`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StopResponse {
    pub ticket_id: String,
    pub accepted: bool,
}

// ---- client ----------------------------------------------------------------------

/// Bounded waits. A poll may take its long-poll wait plus `poll_grace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteTimeouts {
    pub connect: Duration,
    pub submit: Duration,
    pub poll_grace: Duration,
    pub pause: Duration,
    pub stop: Duration,
}

impl Default for RemoteTimeouts {
    fn default() -> Self {
        RemoteTimeouts {
            connect: Duration::from_secs(5),
            submit: Duration::from_secs(30),
            poll_grace: Duration::from_secs(10),
            pause: Duration::from_secs(10),
            stop: Duration::from_secs(10),
        }
    }
}

/// Retries of transient failures (connect/reset/timeout, HTTP 5xx); never of 4xx or of
/// protocol faults. Safe because every request is idempotent on the worker: tickets are
/// chosen by the coordinator and acks are keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (at least 1).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// HTTP+JSON client for one worker endpoint (`http://host:port/` or `https://…`).
pub struct HttpRemoteWorkerProtocol {
    base_url: String,
    token: Option<BearerToken>,
    /// Derived from the token: every completion must carry its tag.
    mac: Option<CompletionMac>,
    /// How an `https://` worker is trusted (required for one).
    trust: Option<ClientTrust>,
    timeouts: RemoteTimeouts,
    retry: RetryPolicy,
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpRemoteWorkerProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRemoteWorkerProtocol")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl HttpRemoteWorkerProtocol {
    /// A client for `base_url` (`http://` or `https://`; a missing trailing `/` is
    /// added). An `https://` endpoint needs [`HttpRemoteWorkerProtocol::with_tls`]
    /// before its first call.
    pub fn new(base_url: &str, token: Option<String>) -> Result<Self, RemoteError> {
        let bad = |reason: &str| RemoteError::BadEndpoint {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) =
            match base_url.split_once("://") {
                Some((s @ ("http" | "https"), rest)) => (s, rest),
                _ => return Err(bad(
                    "only http:// and https:// endpoints are supported (e.g. https://worker:7070/)",
                )),
            };
        if rest.trim_end_matches('/').is_empty() {
            return Err(bad("the URL has no host"));
        }
        // `user:token@host`: a credential in the URL would be journaled with the run's
        // options and shown by every command that prints them. Refused, and not echoed.
        let authority = rest.split('/').next().unwrap_or_default();
        if let Some((_, host)) = authority.rsplit_once('@') {
            return Err(RemoteError::BadEndpoint {
                url: format!("{scheme}://…@{host}/"),
                reason: "the URL carries credentials (user:password@), which would be stored \
                         in the run's journal; give the token with --remote-token-env instead"
                    .into(),
            });
        }
        if base_url.contains(['?', '#']) {
            return Err(bad("the URL must not carry a query or fragment"));
        }
        let mut base = base_url.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        let timeouts = RemoteTimeouts::default();
        let token = token.map(BearerToken::new);
        Ok(HttpRemoteWorkerProtocol {
            base_url: base,
            mac: token.as_ref().map(CompletionMac::from_token),
            token,
            trust: None,
            timeouts,
            retry: RetryPolicy::default(),
            agent: build_agent(&timeouts, None).map_err(|e| bad(&e))?,
        })
    }

    pub fn with_timeouts(mut self, timeouts: RemoteTimeouts) -> Self {
        self.timeouts = timeouts;
        if let Ok(agent) = build_agent(&timeouts, self.trust.as_ref()) {
            self.agent = agent;
        }
        self
    }

    /// Trust `https://` workers as `trust` says (a CA file, or a pinned certificate).
    pub fn with_tls(mut self, trust: ClientTrust) -> Result<Self, RemoteError> {
        self.agent =
            build_agent(&self.timeouts, Some(&trust)).map_err(|e| RemoteError::BadEndpoint {
                url: self.base_url.clone(),
                reason: e,
            })?;
        self.trust = Some(trust);
        Ok(self)
    }

    /// Whether this client speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            max_attempts: retry.max_attempts.max(1),
            ..retry
        };
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn endpoint_url(&self, endpoint: RemoteEndpoint) -> String {
        format!("{}{}", self.base_url, endpoint.path())
    }

    /// Hand one dispatch to the worker.
    pub fn submit(
        &self,
        run_id: &str,
        dispatch: &TrialDispatch,
    ) -> Result<SubmitResponse, RemoteError> {
        self.submit_with_files(run_id, dispatch, &[])
    }

    /// Hand one dispatch to the worker with the experiment files it needs, by value.
    pub fn submit_with_files(
        &self,
        run_id: &str,
        dispatch: &TrialDispatch,
        files: &[FileDoc],
    ) -> Result<SubmitResponse, RemoteError> {
        let spec = &dispatch.spec;
        let req = SubmitRequest {
            schema_version: RemoteEndpoint::Submit.request_schema(),
            run_id,
            dispatch: DispatchDoc {
                schedule_idx: spec.schedule_idx,
                trial_id: &spec.trial_id,
                ticket_id: &dispatch.ticket_id,
                variant_id: &spec.variant_id,
                task_id: &spec.task_id,
                repl_idx: spec.repl_idx,
                spec,
            },
            files,
        };
        self.call(RemoteEndpoint::Submit, &req, self.timeouts.submit)
    }

    /// Long-poll for completions, acknowledging the keys of earlier deliveries.
    pub fn poll(
        &self,
        run_id: &str,
        ack_completion_keys: &[String],
        max_completions: usize,
        wait: Duration,
    ) -> Result<PollResponse, RemoteError> {
        let req = PollRequest {
            schema_version: RemoteEndpoint::Poll.request_schema(),
            run_id,
            ack_completion_keys,
            max_completions: max_completions.max(1),
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        };
        let (mut answer, doc): (PollResponse, _) =
            self.call_doc(RemoteEndpoint::Poll, &req, wait + self.timeouts.poll_grace)?;
        if let Some(mac) = &self.mac {
            // Each completion against the document as received (what the tag covers).
            for (i, c) in answer.completions.iter_mut().enumerate() {
                let outcome = &doc["completions"][i]["outcome"];
                if let Err(why) = mac.check(&c.key(), outcome, c.mac.as_deref()) {
                    c.auth_failure = Some(why.to_string());
                }
            }
        }
        Ok(answer)
    }

    pub fn pause(
        &self,
        run_id: &str,
        ticket_id: &str,
        label: Option<&str>,
    ) -> Result<PauseResponse, RemoteError> {
        let req = PauseRequest {
            schema_version: RemoteEndpoint::Pause.request_schema(),
            run_id,
            ticket_id,
            label,
        };
        self.call(RemoteEndpoint::Pause, &req, self.timeouts.pause)
    }

    pub fn stop(
        &self,
        run_id: &str,
        ticket_id: &str,
        reason: &str,
    ) -> Result<StopResponse, RemoteError> {
        let req = StopRequest {
            schema_version: RemoteEndpoint::Stop.request_schema(),
            run_id,
            ticket_id,
            reason,
        };
        self.call(RemoteEndpoint::Stop, &req, self.timeouts.stop)
    }

    pub fn resume(&self, run_id: &str, ticket_id: &str) -> Result<PauseResponse, RemoteError> {
        let req = ResumeRequest {
            schema_version: RemoteEndpoint::Resume.request_schema(),
            run_id,
            ticket_id,
        };
        self.call(RemoteEndpoint::Resume, &req, self.timeouts.pause)
    }

    /// Tell the worker it may forget these completions (they are journaled).
    pub fn ack(
        &self,
        run_id: &str,
        completion_keys: &[String],
    ) -> Result<AckResponse, RemoteError> {
        let req = AckRequest {
            schema_version: RemoteEndpoint::Ack.request_schema(),
            run_id,
            completion_keys,
        };
        self.call(RemoteEndpoint::Ack, &req, self.timeouts.stop)
    }

    /// Capacity and liveness.
    pub fn health(&self) -> Result<HealthResponse, RemoteError> {
        let req = HealthRequest {
            schema_version: RemoteEndpoint::Health.request_schema(),
        };
        self.call(RemoteEndpoint::Health, &req, self.timeouts.submit)
    }

    /// The worker's outstanding tickets of `run_id` (running, or finished and unacknowledged).
    pub fn tickets(&self, run_id: &str) -> Result<TicketsResponse, RemoteError> {
        let req = RunRequest {
            schema_version: RemoteEndpoint::Tickets.request_schema(),
            run_id,
        };
        self.call(RemoteEndpoint::Tickets, &req, self.timeouts.submit)
    }

    /// Copy the blob `digest` of run `run_id` from the worker into the file `dest`
    /// (created or truncated), at most `limit` bytes; returns the bytes written. The
    /// caller checks the content against the digest. Transient failures are retried
    /// like every call; a worker that does not hold the blob answers 404
    /// ([`RemoteError::Status`]).
    pub fn fetch_blob(
        &self,
        run_id: &str,
        ticket_id: &str,
        digest: &str,
        dest: &std::path::Path,
        limit: u64,
    ) -> Result<u64, RemoteError> {
        let url = format!("{}{BLOB_PATH}", self.base_url);
        let req = crate::wire::messages::BlobRequest {
            schema_version: BLOB_SCHEMA.into(),
            run_id: run_id.into(),
            digest: digest.into(),
            ticket_id: Some(ticket_id.into()),
        };
        let body = serde_json::to_string(&req).map_err(|e| RemoteError::InvalidRequest {
            endpoint: url.clone(),
            schema: BLOB_SCHEMA.into(),
            message: e.to_string(),
        })?;
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let transport = |e: String| RemoteError::Transport {
                endpoint: url.clone(),
                attempts: attempt,
                message: self.scrub(&e),
            };
            let mut post = self
                .agent
                .post(&url)
                .header("Content-Type", "application/json");
            if let Some(token) = &self.token {
                post = post.header("Authorization", format!("Bearer {}", token.expose()));
            }
            let sent = post
                .config()
                .timeout_global(Some(self.timeouts.submit.max(Duration::from_secs(60))))
                .build()
                .send(body.as_str());
            match sent {
                Ok(mut resp) if resp.status().is_success() => {
                    let mut reader = resp.body_mut().with_config().limit(limit).reader();
                    let mut file = std::fs::File::create(dest)
                        .map_err(|e| transport(format!("{}: {e}", dest.display())))?;
                    return std::io::copy(&mut reader, &mut file)
                        .map_err(|e| transport(format!("reading the blob: {e}")));
                }
                Ok(mut resp) if resp.status().as_u16() < 500 || last => {
                    let text = resp
                        .body_mut()
                        .with_config()
                        .limit(MAX_QUOTED_BODY as u64 * 4)
                        .read_to_string()
                        .unwrap_or_default();
                    return Err(RemoteError::Status {
                        endpoint: url,
                        status: resp.status().as_u16(),
                        attempts: attempt,
                        body: self.quote(&text),
                    });
                }
                Ok(_) => {}
                Err(e) if !is_transient(&e) || last => {
                    return Err(self.transport_error(&url, attempt, &e))
                }
                Err(_) => {}
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(self.retry.max_backoff);
        }
    }

    fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        endpoint: RemoteEndpoint,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RemoteError> {
        self.call_doc(endpoint, request, timeout).map(|(r, _)| r)
    }

    /// [`Self::call`], also returning the checked response document.
    fn call_doc<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        endpoint: RemoteEndpoint,
        request: &Req,
        timeout: Duration,
    ) -> Result<(Resp, serde_json::Value), RemoteError> {
        let url = self.endpoint_url(endpoint);
        let request_doc = serde_json::to_value(request)
            .and_then(|v| serde_json::to_string(&v).map(|s| (v, s)))
            .map_err(|e| RemoteError::InvalidRequest {
                endpoint: url.clone(),
                schema: endpoint.request_schema().into(),
                message: e.to_string(),
            });
        let (doc, body) = request_doc?;
        model::schemas::validate(endpoint.request_schema(), &doc).map_err(|e| {
            RemoteError::InvalidRequest {
                endpoint: url.clone(),
                schema: endpoint.request_schema().into(),
                message: e.to_string(),
            }
        })?;
        let text = self.post_with_retry(&url, &body, timeout)?;
        parse_response_doc(endpoint, &url, &text)
    }

    /// POST `body`, retrying transient failures with exponential backoff; returns the
    /// body of a 2xx answer.
    fn post_with_retry(
        &self,
        url: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<String, RemoteError> {
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            match self.post_once(url, body, timeout) {
                Ok((status, text)) if (200..300).contains(&status) => return Ok(text),
                Ok((status, text)) if status < 500 || last => {
                    return Err(RemoteError::Status {
                        endpoint: url.to_string(),
                        status,
                        attempts: attempt,
                        body: self.quote(&text),
                    })
                }
                Ok((status, _)) => {
                    tracing::warn!(
                        endpoint = url,
                        status,
                        attempt,
                        "remote worker answered a server error; retrying"
                    );
                }
                Err(e) if !is_transient(&e) || last => {
                    return Err(self.transport_error(url, attempt, &e))
                }
                Err(e) => {
                    tracing::warn!(endpoint = url, attempt, error = %self.scrub(&e.to_string()), "remote worker unreachable; retrying");
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(self.retry.max_backoff);
        }
    }

    fn post_once(
        &self,
        url: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<(u16, String), ureq::Error> {
        let mut req = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(token) = &self.token {
            req = req.header("Authorization", format!("Bearer {}", token.expose()));
        }
        let mut resp = req
            .config()
            .timeout_global(Some(timeout))
            .build()
            .send(body)?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()?;
        Ok((status, text))
    }

    /// A request that failed below HTTP: a refused certificate is its own error (not
    /// retried, and it takes the endpoint out: nothing was sent to it).
    fn transport_error(&self, url: &str, attempts: u32, e: &ureq::Error) -> RemoteError {
        match super::tls::tls_failure(e) {
            Some(message) => RemoteError::Tls {
                endpoint: url.to_string(),
                message: self.scrub(&message),
            },
            None => RemoteError::Transport {
                endpoint: url.to_string(),
                attempts,
                message: self.scrub(&e.to_string()),
            },
        }
    }

    /// Remove the token from text a worker or the transport produced (a misbehaving
    /// worker could echo the header back).
    fn scrub(&self, text: &str) -> String {
        match &self.token {
            Some(t) if !t.expose().is_empty() => text.replace(t.expose(), "<redacted>"),
            _ => text.to_string(),
        }
    }

    fn quote(&self, text: &str) -> String {
        let scrubbed = self.scrub(text.trim());
        if scrubbed.is_empty() {
            return "(empty body)".into();
        }
        match scrubbed.char_indices().nth(MAX_QUOTED_BODY) {
            Some((cut, _)) => format!("{}…", &scrubbed[..cut]),
            None => scrubbed,
        }
    }
}

fn build_agent(
    timeouts: &RemoteTimeouts,
    trust: Option<&ClientTrust>,
) -> Result<ureq::Agent, String> {
    let config = ureq::Agent::config_builder()
        // Status codes are ours to classify (retry 5xx, not 4xx) and to quote.
        .http_status_as_error(false)
        // Workers are addressed directly: never route through a proxy from the environment.
        .proxy(None)
        .max_redirects(0)
        .timeout_connect(Some(timeouts.connect))
        .build();
    match trust {
        Some(t) => super::tls::agent(config, t),
        None => Ok(config.new_agent()),
    }
}
