//! `labj worker serve`: the server side of the remote worker protocol.
//!
//! A worker holds N slots and runs each submitted trial with the same
//! [`execute_trial`](exec::executor::execute_trial) as a local run. It never sees a
//! journal: it keeps each finished trial's completion in memory until the coordinator
//! acknowledges its key (at-least-once delivery), and lists its outstanding tickets so
//! a continuing coordinator can reattach to them. An acknowledged attempt's trial
//! directory and blobs are removed (the coordinator copied the blobs home before it
//! journaled the completion); what an earlier process on the same work dir left is
//! removed at start (see `staging`).
//!
//! - `state`: tickets, slots, long polls, acknowledgements.
//! - `staging`: how paths work when the worker's filesystem is not the coordinator's.
//! - `http`: hyper server, auth, limits, request/response schema checks.
//!
//! Shutdown: the first SIGTERM or SIGINT drains the worker — submits are refused, health
//! says `draining`, running trials go on and their completions stay available to polls —
//! and the worker exits once nothing runs and every completion was acknowledged, or
//! when the grace period ends (then running trials are stopped; undelivered completions
//! are lost with the process and the coordinator records those trials `worker_lost`).
//! A second signal exits at once.

pub(crate) mod http;
#[cfg(test)]
mod roundtrip;
mod staging;
mod state;

pub use http::HttpLimits;

use crate::wire::{BearerToken, CompletionMac};
use http::Shared;
use state::{Runner, WorkerState};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything `labj worker serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The address to listen on (port 0: any free port, announced to the observer).
    pub listen: SocketAddr,
    /// How many trials run at once; submits beyond are refused.
    pub slots: usize,
    /// `None` only with `--insecure-no-auth`.
    pub token: Option<BearerToken>,
    /// Where the worker stages trials and keeps their blobs until acknowledged.
    pub work_dir: PathBuf,
    /// Request size and read time limits.
    pub limits: HttpLimits,
    /// How long a drain waits for running trials and unacknowledged completions.
    pub shutdown_grace: Duration,
    /// A delivered completion not acknowledged within this is delivered again.
    pub redeliver_after: Duration,
    /// Serve HTTPS with this (see [`crate::wire::tls::ServerIdentity`]); `None`: plain
    /// HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl ServeConfig {
    /// The limits `labj worker serve` starts from: 16 MiB bodies, 10 s for the headers,
    /// 30 s for the body.
    pub fn default_limits() -> HttpLimits {
        HttpLimits {
            max_body_bytes: 16 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a worker could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The work dir could not be created or resolved.
    #[error("worker work dir {path}: {source}")]
    WorkDir {
        /// The work dir as given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime or its signal handlers could not start, or accepting ended.
    #[error("worker runtime: {0}")]
    Runtime(String),
}

/// What a serving worker tells the program hosting it (the CLI renders it; the engine
/// never writes to the terminal itself).
pub trait WorkerObserver: Send + Sync {
    /// Bound and about to accept its first request (the port may have been 0).
    fn listening(&self, addr: SocketAddr);
    /// A line for the operator: the drain began, ended, or ran out of time; a second
    /// signal ends the worker at once.
    fn notice(&self, message: &str);
}

/// Serve until a signal ends the worker, reporting to `observer`.
pub fn serve(config: ServeConfig, observer: Arc<dyn WorkerObserver>) -> Result<(), WorkerError> {
    serve_with_runner(config, Arc::new(exec::executor::execute_trial), observer)
}

/// [`serve`] with another trial runner (tests run trials without spawning agents).
pub(crate) fn serve_with_runner(
    config: ServeConfig,
    runner: Runner,
    observer: Arc<dyn WorkerObserver>,
) -> Result<(), WorkerError> {
    std::fs::create_dir_all(&config.work_dir).map_err(|source| WorkerError::WorkDir {
        path: config.work_dir.clone(),
        source,
    })?;
    let work_dir =
        std::path::absolute(&config.work_dir).map_err(|source| WorkerError::WorkDir {
            path: config.work_dir.clone(),
            source,
        })?;
    // The tickets of an earlier process on this work dir died with it.
    staging::remove_stale_tickets(&work_dir);
    forbid_inspection();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| WorkerError::Runtime(e.to_string()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| WorkerError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| WorkerError::Bind {
            addr: config.listen,
            source,
        })?;
        let worker_id = format!(
            "{}@{}:{addr}",
            std::process::id(),
            crate::lease::this_host()
        );
        let state = Arc::new(WorkerState::new(
            worker_id,
            config.slots,
            config.redeliver_after,
            work_dir,
            runner,
            config.token.as_ref().map(CompletionMac::from_token),
        ));
        let shared = Arc::new(Shared::new(
            Arc::clone(&state),
            config.token.as_ref(),
            config.limits,
        ));
        // Handlers first, then the announcement: a supervisor may signal the worker as
        // soon as it says it listens, and that signal must start a drain, not kill it.
        let signals = StopSignals::install()?;
        observer.listening(addr);
        let tls = config.tls.map(tokio_rustls::TlsAcceptor::from);
        let observer2 = Arc::clone(&observer);
        accept_until_signal(listener, shared, config.limits, tls, signals, observer2).await?;
        drain(&state, config.shutdown_grace, observer.as_ref()).await
    })
}

/// Trials run as this process's user: without this, an agent could read the worker's
/// memory or its original environment block (`/proc/<pid>/environ` keeps the token's
/// variable after `remove_var`) and so the token and the completion MAC key. A
/// non-dumpable process's `/proc` files belong to root and `ptrace` is refused.
fn forbid_inspection() {
    let not_dumpable = rustix::process::DumpableBehavior::NotDumpable;
    if let Err(e) = rustix::process::set_dumpable_behavior(not_dumpable) {
        tracing::warn!(
            error = %std::io::Error::from(e),
            "cannot make the worker non-dumpable; agents of its user may read its memory"
        );
    }
}

/// SIGTERM and SIGINT, caught from the moment this exists.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> Result<StopSignals, WorkerError> {
        use tokio::signal::unix::{signal, SignalKind};
        let runtime = |e: std::io::Error| WorkerError::Runtime(e.to_string());
        Ok(StopSignals {
            term: signal(SignalKind::terminate()).map_err(runtime)?,
            int: signal(SignalKind::interrupt()).map_err(runtime)?,
        })
    }
}

async fn accept_until_signal(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    limits: HttpLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    signals: StopSignals,
    observer: Arc<dyn WorkerObserver>,
) -> Result<(), WorkerError> {
    let StopSignals { mut term, mut int } = signals;
    // Accepting goes on during the drain so the coordinator can still poll and ack;
    // this task ends with the process.
    let serving = tokio::spawn(accept_loop(listener, shared, limits, tls));
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        r = serving => {
            return Err(WorkerError::Runtime(format!("accept loop ended: {r:?}")));
        }
    }
    // A second signal: exit now.
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        observer.notice("second signal: exiting now");
        std::process::exit(130);
    });
    Ok(())
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    limits: HttpLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        tokio::spawn(async move {
            let Some(acceptor) = tls else {
                return serve_connection(stream, shared, limits, peer).await;
            };
            // The handshake gets the header read time; a client that does not finish
            // it (or speaks plain HTTP here) is dropped before any request is read.
            match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => serve_connection(tls_stream, shared, limits, peer).await,
                Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
            }
        });
    }
}

async fn serve_connection<S>(stream: S, shared: Arc<Shared>, limits: HttpLimits, peer: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| http::handle(Arc::clone(&shared), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    if let Err(e) = conn.await {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
    }
}

async fn drain(
    state: &Arc<WorkerState>,
    grace: Duration,
    observer: &dyn WorkerObserver,
) -> Result<(), WorkerError> {
    let h = state.health();
    observer.notice(&format!(
        "draining: refusing new trials; {} running, {} completion(s) not yet acknowledged; exiting when both are 0 or after {} s",
        h.running,
        h.undelivered,
        grace.as_secs()
    ));
    state.drain();
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let h = state.health();
        if h.running == 0 && h.undelivered == 0 {
            observer.notice("drained; exiting");
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            observer.notice(&format!(
                "grace period over: stopping {} running trial(s); {} completion(s) were never acknowledged",
                h.running, h.undelivered
            ));
            let s = Arc::clone(state);
            let _ = tokio::task::spawn_blocking(move || {
                s.stop_all("worker shutting down");
                s.wait_idle(Duration::from_secs(5))
            })
            .await;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
