//! `labj run|continue --executor remote`: building the remote backend from the command
//! line and the environment, and reattaching to a worker's tickets on `continue`.
//!
//! Environment (all optional; a bad value is an error naming the variable):
//! `LABJ_REMOTE_LOST_AFTER_MS` (default 30000) — an endpoint silent this long is lost;
//! `LABJ_REMOTE_RETRY_ATTEMPTS` (3), `LABJ_REMOTE_RETRY_BACKOFF_MS` (100),
//! `LABJ_REMOTE_RETRY_MAX_BACKOFF_MS` (2000) — retries of transient failures (refused,
//! reset, timeout, HTTP 5xx) per request, with exponential backoff.

use super::RunError;
use crate::backend::remote::{
    resolve_remote_bearer_token, HttpRemoteWorkerProtocol, RemoteTuning, RemoteWorkerBackend,
};
use crate::wire::tls::ClientTrust;
use crate::wire::RetryPolicy;
use std::time::Duration;

pub(crate) const LOST_AFTER_ENV: &str = "LABJ_REMOTE_LOST_AFTER_MS";
pub(crate) const RETRY_ATTEMPTS_ENV: &str = "LABJ_REMOTE_RETRY_ATTEMPTS";
pub(crate) const RETRY_BACKOFF_ENV: &str = "LABJ_REMOTE_RETRY_BACKOFF_MS";
pub(crate) const RETRY_MAX_BACKOFF_ENV: &str = "LABJ_REMOTE_RETRY_MAX_BACKOFF_MS";

/// `--remote-endpoint` (repeatable) and `--remote-token-env`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteOptions {
    /// The workers' base URLs (`https://host:port/`; `http://` on loopback, or anywhere
    /// with `insecure_plaintext`).
    pub endpoints: Vec<String>,
    /// Name of the environment variable holding the bearer token (never the token).
    pub token_env: Option<String>,
    /// `--insecure-plaintext`: allow `http://` endpoints that are not on loopback.
    pub insecure_plaintext: bool,
    /// `--tls-ca FILE`: trust `https://` workers whose certificate chains to these.
    pub tls_ca: Option<std::path::PathBuf>,
    /// `--tls-pin sha256:HEX`: trust `https://` workers presenting exactly this
    /// certificate (what `labj worker serve` prints).
    pub tls_pin: Option<String>,
}

/// How `https://` endpoints are trusted, from `--tls-ca` / `--tls-pin`.
fn trust(opts: &RemoteOptions) -> Result<Option<ClientTrust>, RunError> {
    match (&opts.tls_ca, &opts.tls_pin) {
        (Some(_), Some(_)) => Err(RunError::Invalid(
            "--tls-ca and --tls-pin exclude each other: trust a CA or pin one certificate".into(),
        )),
        (Some(ca), None) => {
            let t = ClientTrust::Ca(std::path::absolute(ca).unwrap_or_else(|_| ca.clone()));
            // Read it now: a bad file is an error before the run, naming the file.
            t.client_config()
                .map_err(|e| RunError::Invalid(e.to_string()))?;
            Ok(Some(t))
        }
        (None, Some(pin)) => ClientTrust::pin(pin)
            .map(Some)
            .map_err(|e| RunError::Invalid(e.to_string())),
        (None, None) => Ok(None),
    }
}

/// Whether `url` (`http://HOST[:PORT]/…`) names this machine's loopback interface.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn env_u64(name: &str, default: u64) -> Result<u64, RunError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v.trim().parse().map_err(|_| {
            RunError::Invalid(format!(
                "{name}={v:?} is not a whole number of milliseconds/attempts"
            ))
        }),
    }
}

pub(crate) fn tuning_from_env() -> Result<(RemoteTuning, RetryPolicy), RunError> {
    let lost = env_u64(LOST_AFTER_ENV, 30_000)?;
    if lost == 0 {
        return Err(RunError::Invalid(format!(
            "{LOST_AFTER_ENV} must be at least 1"
        )));
    }
    let retry = RetryPolicy {
        max_attempts: env_u64(RETRY_ATTEMPTS_ENV, 3)?.clamp(1, 100) as u32,
        initial_backoff: Duration::from_millis(env_u64(RETRY_BACKOFF_ENV, 100)?),
        max_backoff: Duration::from_millis(env_u64(RETRY_MAX_BACKOFF_ENV, 2000)?),
    };
    Ok((
        RemoteTuning {
            lost_after: Duration::from_millis(lost),
        },
        retry,
    ))
}

/// Check the options and build one client per endpoint (no I/O yet).
pub(crate) fn clients(opts: &RemoteOptions) -> Result<Vec<HttpRemoteWorkerProtocol>, RunError> {
    if opts.endpoints.is_empty() {
        return Err(RunError::Invalid(
            "--executor remote needs at least one --remote-endpoint https://HOST:PORT/".into(),
        ));
    }
    let trust = trust(opts)?;
    let token = resolve_remote_bearer_token(opts.token_env.as_deref())
        .map_err(|e| RunError::Invalid(e.to_string()))?;
    let (_, retry) = tuning_from_env()?;
    let mut out = Vec::new();
    for url in &opts.endpoints {
        if !opts.insecure_plaintext && url.starts_with("http://") && !is_loopback_url(url) {
            return Err(RunError::Invalid(format!(
                "--remote-endpoint {}: plain HTTP to another machine sends the bearer token \
                 and every trial's outcome in cleartext, where anyone on the path can read \
                 or rewrite them; use https:// (the worker with --tls-self-signed, this \
                 side with the --tls-pin it prints), or a tunnel that ends on 127.0.0.1 \
                 (ssh -L), or pass --insecure-plaintext on a network you trust",
                match url.split_once('@') {
                    Some((_, host)) => format!("http://…@{host}"),
                    None => url.clone(),
                }
            )));
        }
        let mut c = HttpRemoteWorkerProtocol::new(url, token.clone())
            .map_err(|e| RunError::Invalid(format!("--remote-endpoint: {e}")))?
            .with_retry(retry);
        if c.is_tls() {
            let Some(t) = &trust else {
                return Err(RunError::Invalid(format!(
                    "--remote-endpoint {}: an https:// worker needs --tls-pin sha256:HEX (the \
                     fingerprint `labj worker serve` prints) or --tls-ca FILE (the CA that \
                     signed its certificate, e.g. /etc/ssl/certs/ca-certificates.crt)",
                    c.base_url()
                )));
            };
            c = c
                .with_tls(t.clone())
                .map_err(|e| RunError::Invalid(format!("--remote-endpoint: {e}")))?;
        }
        if out
            .iter()
            .any(|o: &HttpRemoteWorkerProtocol| o.base_url() == c.base_url())
        {
            return Err(RunError::Invalid(format!(
                "--remote-endpoint {url} is given twice"
            )));
        }
        out.push(c);
    }
    Ok(out)
}

/// Before a run is created: every endpoint answers health with our protocol, or the
/// command fails without leaving a run behind.
pub(crate) fn preflight(opts: &RemoteOptions) -> Result<(), RunError> {
    let mut reachable = 0;
    let mut errors = Vec::new();
    for c in clients(opts)? {
        match c.health() {
            Ok(_) => reachable += 1,
            Err(e) if e.is_protocol_fault() => return Err(RunError::Invalid(e.to_string())),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if reachable == 0 {
        return Err(RunError::Invalid(format!(
            "no remote worker answered: {}",
            errors.join("; ")
        )));
    }
    Ok(())
}

pub(crate) fn connect(
    run_id: &str,
    opts: &RemoteOptions,
    requested: usize,
) -> Result<RemoteWorkerBackend, RunError> {
    let (tuning, _) = tuning_from_env()?;
    RemoteWorkerBackend::connect(run_id, clients(opts)?, requested, tuning)
        .map_err(|e| RunError::Invalid(e.to_string()))
}

/// The remote options `run_created.options` records, so `continue` can default to them.
pub(crate) fn recorded(options: &serde_json::Value) -> RemoteOptions {
    RemoteOptions {
        endpoints: options["remote_endpoints"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        token_env: options["remote_token_env"].as_str().map(String::from),
        insecure_plaintext: false,
        tls_ca: options["remote_tls_ca"]
            .as_str()
            .map(std::path::PathBuf::from),
        tls_pin: options["remote_tls_pin"].as_str().map(String::from),
    }
}
