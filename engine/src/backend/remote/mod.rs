//! `RemoteWorkerBackend`: the coordinator's side of the remote worker protocol
//! — HTTP+JSON to `v1/worker/{submit,poll,pause,stop}` on one or more
//! worker endpoints, every message carrying and checked against its `schema_version`.
//!
//! - [`protocol`]: the typed messages and [`HttpRemoteWorkerProtocol`], a blocking
//!   client for one endpoint with bounded timeouts, bounded retries of transient
//!   failures, and strict response checking (schema version first, then the schema).
//! - [`backend`]: [`RemoteWorkerBackend`], a [`WorkerBackend`](super::WorkerBackend)
//!   over those clients: capacity from health, placement, dedupe, acks after the
//!   journal, per-endpoint quarantine and loss, reattach on `continue`.
//!
//! - [`files`]: the experiment files a trial needs, sent by value with its submit.
//!
//! The server side is [`crate::worker`] (`labj worker serve`).
//!
//! The bearer token lives in a [`BearerToken`](crate::wire::BearerToken) whose `Debug`
//! prints `<redacted>`; no error, log line or `Debug` output of this module contains it.

pub mod backend;
mod evidence;
pub mod files;
mod poller;
pub mod protocol;
mod response;
mod tls;

pub use backend::{RemoteTuning, RemoteWorkerBackend};
pub use protocol::{HttpRemoteWorkerProtocol, RemoteEndpoint, RemoteTimeouts, RetryPolicy};

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
    #[error("remote worker bearer token: environment variable `{var}` {problem}; export it with the token, or configure the endpoint without a token variable")]
    TokenEnv { var: String, problem: &'static str },
    #[error("remote worker endpoint `{url}` is not usable: {reason}")]
    BadEndpoint { url: String, reason: String },
    #[error(
        "remote worker {endpoint} could not be reached after {attempts} attempt(s): {message}"
    )]
    Transport {
        endpoint: String,
        attempts: u32,
        message: String,
    },
    #[error("remote worker {endpoint} answered HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        endpoint: String,
        status: u16,
        attempts: u32,
        body: String,
    },
    #[error("remote worker {endpoint} failed the TLS check, so nothing was sent to it: {message} (compare --tls-ca / --tls-pin with the certificate `labj worker serve` printed at start)")]
    Tls { endpoint: String, message: String },
    #[error("remote worker {endpoint} answered a body that is not JSON: {message}")]
    NotJson { endpoint: String, message: String },
    #[error("remote worker {endpoint} answered schema_version `{found}`, expected `{expected}`")]
    SchemaMismatch {
        endpoint: String,
        expected: String,
        found: String,
    },
    #[error("remote worker {endpoint} answered a `{schema}` document that breaks its schema:\n{violations}")]
    InvalidResponse {
        endpoint: String,
        schema: String,
        violations: String,
    },
    #[error("remote worker {endpoint}: could not build the `{schema}` request: {message}")]
    InvalidRequest {
        endpoint: String,
        schema: String,
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
