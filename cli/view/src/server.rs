//! The HTTP side of `labj view`: hyper (HTTP/1.1) on a small tokio runtime. Read-only:
//! only `GET` and `HEAD` are answered (405 otherwise), every page is rendered on a
//! blocking thread from the journal opened read-only per request, so a run being
//! written is never blocked. A token (when the viewer listens beyond loopback) is
//! compared as a blake3 digest in constant time and never echoed.

use crate::site::{Response, Site};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// What `labj view` serves and where.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to bind (port 0: any free port, reported to `serve`'s `on_listening`).
    pub listen: SocketAddr,
    /// Required when `listen` is not a loopback address.
    pub token: Option<String>,
}

/// Why the viewer cannot serve; shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without a token (the bind rule, [`check_listen`]).
    #[error("refusing to listen on {0}: it is not a loopback address; give a token with --token-env VAR (the variable holding it) to serve beyond this machine")]
    NeedsToken(SocketAddr),
    /// The address cannot be bound (in use, not this machine's, not permitted).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The tokio runtime could not be built.
    #[error("viewer runtime: {0}")]
    Runtime(String),
}

/// Checks the bind rule: loopback, or a token.
pub fn check_listen(cfg: &ServeConfig) -> Result<(), ServeError> {
    if !cfg.listen.ip().is_loopback() && cfg.token.as_deref().unwrap_or("").is_empty() {
        return Err(ServeError::NeedsToken(cfg.listen));
    }
    Ok(())
}

struct Shared {
    site: Arc<Site>,
    token_digest: Option<[u8; 32]>,
}

const COOKIE: &str = "labj_view_token";

/// Serves until the process ends. `on_listening` gets the bound address (the port may
/// have been 0) before the first request is accepted.
pub fn serve(
    site: Site,
    cfg: ServeConfig,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    check_listen(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: cfg.listen,
            source,
        })?;
        on_listening(addr);
        let shared = Arc::new(Shared {
            site: Arc::new(site),
            token_digest: cfg
                .token
                .as_ref()
                .filter(|t| !t.is_empty())
                .map(|t| *blake3::hash(t.as_bytes()).as_bytes()),
        });
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| handle(Arc::clone(&shared), req));
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                if let Err(e) = conn.await {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
            });
        }
    })
}

fn presented_token(req: &Request<Incoming>) -> Option<String> {
    let h = req.headers();
    if let Some(v) = h
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some(t.trim().to_string());
        }
    }
    for v in h.get_all(hyper::header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(';') {
            if let Some(t) = part.trim().strip_prefix(&format!("{COOKIE}=")) {
                return Some(crate::html::dec(t));
            }
        }
    }
    None
}

fn token_ok(expected: &[u8; 32], presented: &str) -> bool {
    blake3::hash(presented.as_bytes())
        .as_bytes()
        .ct_eq(expected)
        .into()
}

fn answer(r: Response, head_only: bool) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder()
        .status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", r.content_type)
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header(
            "content-security-policy",
            if r.content_type.starts_with("text/html") {
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
            } else {
                "default-src 'none'; sandbox"
            },
        );
    for (k, v) in r.headers {
        b = b.header(k, v);
    }
    let body = if head_only { Vec::new() } else { r.body };
    b.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.method().clone();
    let head_only = method == hyper::Method::HEAD;
    if method != hyper::Method::GET && !head_only {
        let mut r = Response::text(
            405,
            "labj view is read-only: only GET and HEAD are answered",
        );
        r.headers.push(("allow", "GET, HEAD".into()));
        return Ok(answer(r, false));
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if let Some(expected) = &shared.token_digest {
        // A token in the address (first visit from a shared link) becomes a cookie.
        let in_query = query.split('&').find_map(|kv| {
            kv.strip_prefix("token=")
                .map(crate::html::dec)
                .filter(|t| !t.is_empty())
        });
        if let Some(t) = in_query {
            if token_ok(expected, &t) {
                let mut r = Response::text(303, "authenticated");
                r.headers.push(("location", path.clone()));
                r.headers.push((
                    "set-cookie",
                    format!(
                        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                        crate::html::enc(&t)
                    ),
                ));
                return Ok(answer(r, head_only));
            }
            return Ok(answer(Response::text(401, "unauthorized"), head_only));
        }
        let ok = presented_token(&req).is_some_and(|t| token_ok(expected, &t));
        if !ok {
            return Ok(answer(
                Response::text(
                    401,
                    "unauthorized: open the address with ?token=… once, or send Authorization: Bearer …",
                ),
                head_only,
            ));
        }
    }
    let site = Arc::clone(&shared.site);
    let r = tokio::task::spawn_blocking(move || crate::router::route(&site, &path, &query))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "page handler panicked");
            Response::text(500, "internal error while rendering the page")
        });
    Ok(answer(r, head_only))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_token() {
        let mut cfg = ServeConfig {
            listen: "0.0.0.0:0".parse().unwrap(),
            token: None,
        };
        let e = check_listen(&cfg).unwrap_err().to_string();
        assert!(e.contains("0.0.0.0:0") && e.contains("--token-env"), "{e}");
        cfg.token = Some(String::new());
        assert!(check_listen(&cfg).is_err());
        cfg.token = Some("s3cret".into());
        assert!(check_listen(&cfg).is_ok());
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        cfg.token = None;
        assert!(check_listen(&cfg).is_ok());
        cfg.listen = "[::1]:0".parse().unwrap();
        assert!(check_listen(&cfg).is_ok());
    }

    #[test]
    fn tokens_compare_by_digest() {
        let d = *blake3::hash(b"abc").as_bytes();
        assert!(token_ok(&d, "abc"));
        assert!(!token_ok(&d, "abd"));
        assert!(!token_ok(&d, ""));
    }
}
