//! A blocking HTTP client for one worker endpoint: the coordinator's side of the
//! remote worker protocol. The messages, the table of paths and schemas and the retry
//! loop are [`crate::wire`]'s, shared with the worker.
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
use crate::wire::messages::*;
use crate::wire::retry::Attempt;
use crate::wire::tls::ClientTrust;
use crate::wire::{to_document, BearerToken, CompletionMac, Endpoint, RetryPolicy};
use model::trial::TrialOutcome;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::borrow::Cow;
use std::time::Duration;

/// Largest response body read (a poll answer carries whole trial outcomes).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// How much of an error body is quoted in a [`RemoteError::Status`].
const MAX_QUOTED_BODY: usize = 512;

/// One completion as the coordinator receives it: its outcome decoded, its MAC checked
/// (see [`Completion::auth_failure`]).
pub type RemoteCompletion = Completion<TrialOutcome>;

/// Bounded waits. A poll may take its long-poll wait plus `poll_grace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteTimeouts {
    /// To open a connection.
    pub connect: Duration,
    /// A submit, health or tickets call (a blob fetch gets at least 60 s).
    pub submit: Duration,
    /// What a poll may take beyond the wait it asks the worker for.
    pub poll_grace: Duration,
    /// A pause or resume call.
    pub pause: Duration,
    /// A stop or ack call.
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
    /// added). An `https://` endpoint also needs its trust (`--tls-ca` / `--tls-pin`,
    /// set by `run`) before its first call.
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

    /// The same client with other timeouts.
    pub fn with_timeouts(mut self, timeouts: RemoteTimeouts) -> Self {
        self.timeouts = timeouts;
        if let Ok(agent) = build_agent(&timeouts, self.trust.as_ref()) {
            self.agent = agent;
        }
        self
    }

    /// Trust `https://` workers as `trust` says (a CA file, or a pinned certificate).
    pub(crate) fn with_tls(mut self, trust: ClientTrust) -> Result<Self, RemoteError> {
        self.agent =
            build_agent(&self.timeouts, Some(&trust)).map_err(|e| RemoteError::BadEndpoint {
                url: self.base_url.clone(),
                reason: e,
            })?;
        self.trust = Some(trust);
        Ok(self)
    }

    /// Whether this client speaks TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// The same client with another retry policy (at least one attempt).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            max_attempts: retry.max_attempts.max(1),
            ..retry
        };
        self
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn endpoint_url(&self, endpoint: Endpoint) -> String {
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
    pub(crate) fn submit_with_files(
        &self,
        run_id: &str,
        dispatch: &TrialDispatch,
        files: &[FileDoc],
    ) -> Result<SubmitResponse, RemoteError> {
        let spec = &dispatch.spec;
        let req = SubmitRequest {
            run_id: run_id.to_string(),
            dispatch: DispatchDoc {
                schedule_idx: spec.schedule_idx,
                trial_id: spec.trial_id.clone(),
                ticket_id: dispatch.ticket_id.clone(),
                variant_id: spec.variant_id.clone(),
                task_id: spec.task_id.clone(),
                repl_idx: spec.repl_idx,
                spec: Cow::Borrowed(spec),
            },
            files: Cow::Borrowed(files),
        };
        self.call(Endpoint::Submit, &req, self.timeouts.submit)
    }

    /// Long-poll for completions, acknowledging the keys of earlier deliveries.
    pub fn poll(
        &self,
        run_id: &str,
        ack_completion_keys: &[String],
        max_completions: usize,
        wait: Duration,
    ) -> Result<PollResponse<TrialOutcome>, RemoteError> {
        let req = PollRequest {
            run_id: run_id.to_string(),
            ack_completion_keys: ack_completion_keys.to_vec(),
            max_completions: max_completions.max(1),
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        };
        let (mut answer, doc): (PollResponse<TrialOutcome>, _) =
            self.call_doc(Endpoint::Poll, &req, wait + self.timeouts.poll_grace)?;
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

    /// Pause the attempt `ticket_id` (`label` names the pause, for the record).
    pub fn pause(
        &self,
        run_id: &str,
        ticket_id: &str,
        label: Option<&str>,
    ) -> Result<ControlResponse, RemoteError> {
        let req = PauseRequest {
            run_id: run_id.to_string(),
            ticket_id: ticket_id.to_string(),
            label: label.map(str::to_string),
        };
        self.call(Endpoint::Pause, &req, self.timeouts.pause)
    }

    /// Stop the attempt `ticket_id`; `reason` goes into its outcome.
    pub fn stop(
        &self,
        run_id: &str,
        ticket_id: &str,
        reason: &str,
    ) -> Result<ControlResponse, RemoteError> {
        let req = StopRequest {
            run_id: run_id.to_string(),
            ticket_id: ticket_id.to_string(),
            reason: reason.to_string(),
        };
        self.call(Endpoint::Stop, &req, self.timeouts.stop)
    }

    /// Resume the paused attempt `ticket_id`.
    pub(crate) fn resume(
        &self,
        run_id: &str,
        ticket_id: &str,
    ) -> Result<ControlResponse, RemoteError> {
        let req = ResumeRequest {
            run_id: run_id.to_string(),
            ticket_id: ticket_id.to_string(),
        };
        self.call(Endpoint::Resume, &req, self.timeouts.pause)
    }

    /// Tell the worker it may forget these completions (they are journaled).
    pub(crate) fn ack(
        &self,
        run_id: &str,
        completion_keys: &[String],
    ) -> Result<AckResponse, RemoteError> {
        let req = AckRequest {
            run_id: run_id.to_string(),
            completion_keys: completion_keys.to_vec(),
        };
        self.call(Endpoint::Ack, &req, self.timeouts.stop)
    }

    /// Capacity and liveness.
    pub(crate) fn health(&self) -> Result<HealthResponse, RemoteError> {
        self.call(Endpoint::Health, &HealthRequest {}, self.timeouts.submit)
    }

    /// The worker's outstanding tickets of `run_id` (running, or finished and unacknowledged).
    pub(crate) fn tickets(&self, run_id: &str) -> Result<TicketsResponse, RemoteError> {
        let req = RunRequest {
            run_id: run_id.to_string(),
        };
        self.call(Endpoint::Tickets, &req, self.timeouts.submit)
    }

    /// Copy the blob `digest` of run `run_id` from the worker into the file `dest`
    /// (created or truncated), at most `limit` bytes; returns the bytes written. The
    /// caller checks the content against the digest. Transient failures are retried
    /// like every call; a worker that does not hold the blob answers 404
    /// ([`RemoteError::Status`]).
    pub(crate) fn fetch_blob(
        &self,
        run_id: &str,
        ticket_id: &str,
        digest: &str,
        dest: &std::path::Path,
        limit: u64,
    ) -> Result<u64, RemoteError> {
        let endpoint = Endpoint::Blob;
        let url = self.endpoint_url(endpoint);
        let req = BlobRequest {
            run_id: run_id.into(),
            digest: digest.into(),
            ticket_id: Some(ticket_id.into()),
        };
        let body = to_document(endpoint.request_schema(), &req)
            .and_then(|doc| serde_json::to_string(&doc))
            .map_err(|e| RemoteError::InvalidRequest {
                endpoint: url.clone(),
                schema: endpoint.request_schema().into(),
                message: e.to_string(),
            })?;
        self.retry.run(|attempt, _last| {
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
                    Attempt::Done(
                        std::fs::File::create(dest)
                            .map_err(|e| transport(format!("{}: {e}", dest.display())))
                            .and_then(|mut file| {
                                std::io::copy(&mut reader, &mut file)
                                    .map_err(|e| transport(format!("reading the blob: {e}")))
                            }),
                    )
                }
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let text = resp
                        .body_mut()
                        .with_config()
                        .limit(MAX_QUOTED_BODY as u64 * 4)
                        .read_to_string()
                        .unwrap_or_default();
                    let err = RemoteError::Status {
                        endpoint: url.clone(),
                        status,
                        attempts: attempt,
                        body: self.quote(&text),
                    };
                    if status < 500 {
                        Attempt::Done(Err(err))
                    } else {
                        Attempt::Transient(err)
                    }
                }
                Err(e) if !is_transient(&e) => {
                    Attempt::Done(Err(self.transport_error(&url, attempt, &e)))
                }
                Err(e) => Attempt::Transient(self.transport_error(&url, attempt, &e)),
            }
        })
    }

    fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RemoteError> {
        self.call_doc(endpoint, request, timeout).map(|(r, _)| r)
    }

    /// [`Self::call`], also returning the checked response document.
    fn call_doc<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        request: &Req,
        timeout: Duration,
    ) -> Result<(Resp, serde_json::Value), RemoteError> {
        let url = self.endpoint_url(endpoint);
        let schema = endpoint.request_schema();
        let invalid = |message: String| RemoteError::InvalidRequest {
            endpoint: url.clone(),
            schema: schema.into(),
            message,
        };
        let doc = to_document(schema, request).map_err(|e| invalid(e.to_string()))?;
        model::schemas::validate(schema, &doc).map_err(|e| invalid(e.to_string()))?;
        let body = serde_json::to_string(&doc).map_err(|e| invalid(e.to_string()))?;
        let text = self.post_with_retry(&url, &body, timeout)?;
        parse_response_doc(endpoint, &url, &text)
    }

    /// POST `body`, retrying transient failures (see [`RetryPolicy`]); returns the body
    /// of a 2xx answer.
    fn post_with_retry(
        &self,
        url: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<String, RemoteError> {
        self.retry
            .run(|attempt, last| match self.post_once(url, body, timeout) {
                Ok((status, text)) if (200..300).contains(&status) => Attempt::Done(Ok(text)),
                Ok((status, text)) => {
                    let err = RemoteError::Status {
                        endpoint: url.to_string(),
                        status,
                        attempts: attempt,
                        body: self.quote(&text),
                    };
                    if status < 500 {
                        return Attempt::Done(Err(err));
                    }
                    if !last {
                        tracing::warn!(
                            endpoint = url,
                            status,
                            attempt,
                            "remote worker answered a server error; retrying"
                        );
                    }
                    Attempt::Transient(err)
                }
                Err(e) if !is_transient(&e) => {
                    Attempt::Done(Err(self.transport_error(url, attempt, &e)))
                }
                Err(e) => {
                    if !last {
                        tracing::warn!(endpoint = url, attempt, error = %self.scrub(&e.to_string()), "remote worker unreachable; retrying");
                    }
                    Attempt::Transient(self.transport_error(url, attempt, &e))
                }
            })
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
