//! `RemoteWorkerBackend`: the coordinator's side of the remote worker protocol
//! — HTTP+JSON to `v1/worker/{submit,poll,pause,stop}` on one or more
//! worker endpoints, every message carrying and checked against its `schema_version`.
//!
//! - `protocol`: [`HttpRemoteWorkerProtocol`], a blocking client for one endpoint with
//!   bounded timeouts, bounded retries of transient failures, and strict response
//!   checking (schema version first, then the schema). The messages, the table of paths
//!   and schemas and the retry loop are [`crate::wire`]'s, shared with the server.
//! - `backend`: [`RemoteWorkerBackend`], a [`WorkerBackend`](super::WorkerBackend)
//!   over those clients: capacity from health, placement, dedupe, acks after the
//!   journal, per-endpoint quarantine and loss, reattach on `continue`.
//!
//! - `files`: the experiment files a trial needs, sent by value with its submit.
//!
//! The server side is [`crate::worker`] (`labj worker serve`).
//!
//! The bearer token lives in a [`BearerToken`](crate::wire::BearerToken) whose `Debug`
//! prints `<redacted>`; no error, log line or `Debug` output of this module contains it.

mod backend;
mod evidence;
mod files;
mod poller;
pub(crate) mod protocol;
mod response;
mod tls;

pub use backend::{RemoteTuning, RemoteWorkerBackend};
pub use protocol::{HttpRemoteWorkerProtocol, RemoteCompletion, RemoteTimeouts};

/// Read the bearer token from the environment variable the user named.
///
/// `None` → `Ok(None)` (the endpoint takes no auth). A named variable that is unset,
/// empty or not UTF-8 is an error that names the variable, never its value.
pub fn resolve_remote_bearer_token(env_var: Option<&str>) -> Result<Option<String>, RemoteError> {
    let Some(name) = env_var else {
        return Ok(None);
    };
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(Some(v)),
        Ok(_) => Err(RemoteError::TokenEnv {
            var: name.to_string(),
            problem: "is set but empty",
        }),
        Err(std::env::VarError::NotPresent) => Err(RemoteError::TokenEnv {
            var: name.to_string(),
            problem: "is not set",
        }),
        Err(std::env::VarError::NotUnicode(_)) => Err(RemoteError::TokenEnv {
            var: name.to_string(),
            problem: "is not valid UTF-8",
        }),
    }
}

/// Everything that can go wrong talking to a remote worker. Messages name the endpoint
/// URL (never the token) and say what to do where there is something to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The token's environment variable is unset, empty or not UTF-8.
    #[error("remote worker bearer token: environment variable `{var}` {problem}; export it with the token, or configure the endpoint without a token variable")]
    TokenEnv {
        /// The variable's name.
        var: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An endpoint URL labj refuses (scheme, host, credentials, query) or cannot set up.
    #[error("remote worker endpoint `{url}` is not usable: {reason}")]
    BadEndpoint {
        /// The URL (credentials elided).
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// The worker could not be reached or its answer not read (after the retries a
    /// transient failure gets).
    #[error(
        "remote worker {endpoint} could not be reached after {attempts} attempt(s): {message}"
    )]
    Transport {
        /// The URL called.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The transport's error (token scrubbed).
        message: String,
    },
    /// An HTTP error status (a 5xx after every retry; a 4xx at once).
    #[error("remote worker {endpoint} answered HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The URL called.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The start of the answer's body (token scrubbed).
        body: String,
    },
    /// The worker's certificate failed `--tls-ca` / `--tls-pin`; nothing was sent.
    #[error("remote worker {endpoint} failed the TLS check, so nothing was sent to it: {message} (compare --tls-ca / --tls-pin with the certificate `labj worker serve` printed at start)")]
    Tls {
        /// The URL called.
        endpoint: String,
        /// What the check found.
        message: String,
    },
    /// A 2xx answer whose body is not JSON.
    #[error("remote worker {endpoint} answered a body that is not JSON: {message}")]
    NotJson {
        /// The URL called.
        endpoint: String,
        /// The parser's error.
        message: String,
    },
    /// An answer of another message or protocol version.
    #[error("remote worker {endpoint} answered schema_version `{found}`, expected `{expected}`")]
    SchemaMismatch {
        /// The URL called.
        endpoint: String,
        /// The response schema of the call.
        expected: String,
        /// What the answer said (or that it said nothing).
        found: String,
    },
    /// An answer that breaks its schema or does not decode.
    #[error("remote worker {endpoint} answered a `{schema}` document that breaks its schema:\n{violations}")]
    InvalidResponse {
        /// The URL called.
        endpoint: String,
        /// The response schema of the call.
        schema: String,
        /// One line per violation, with its JSON pointer.
        violations: String,
    },
    /// A request labj built that breaks its own schema (a bug here); nothing was sent.
    #[error("remote worker {endpoint}: could not build the `{schema}` request: {message}")]
    InvalidRequest {
        /// The URL it was for.
        endpoint: String,
        /// The request schema of the call.
        schema: String,
        /// What failed.
        message: String,
    },
}

impl RemoteError {
    /// A fault of the protocol itself (the worker speaks another version, sends
    /// malformed documents, or is not the worker it must be by its certificate), as
    /// opposed to an unreachable or failing worker.
    pub fn is_protocol_fault(&self) -> bool {
        matches!(
            self,
            RemoteError::NotJson { .. }
                | RemoteError::Tls { .. }
                | RemoteError::SchemaMismatch { .. }
                | RemoteError::InvalidResponse { .. }
        )
    }
}
