//! `labj worker serve`: argument checks, the token read from its variable (and removed
//! from this process's environment, so no trial can inherit it), then the engine's
//! server.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use engine::backend::remote::resolve_remote_bearer_token;
use engine::wire::BearerToken;
use engine::worker::ServeConfig;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Subcommand)]
pub enum WorkerCommand {
    /// Serve the remote worker protocol: run submitted trials in N slots.
    Serve {
        /// Address to listen on (port 0 picks a free one; the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
        /// Trials run at once.
        #[arg(long, default_value_t = 4)]
        slots: usize,
        /// Name of the environment variable holding the bearer token coordinators send.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// Serve without authentication: anyone who reaches the port can run commands.
        #[arg(long)]
        insecure_no_auth: bool,
        /// Listen on a non-loopback address over plain HTTP (the token and every answer
        /// cross the network in cleartext; only on a network you trust).
        #[arg(long)]
        insecure_plaintext: bool,
        /// Serve HTTPS with this certificate chain (PEM, leaf first; with --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key (PEM) of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve HTTPS with a certificate made now (its key stays in memory): written to
        /// WORK_DIR/worker-cert.pem, its fingerprint printed for coordinators'
        /// --tls-pin. A restarted worker has a new one.
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        tls_self_signed: bool,
        /// Where trial directories, staged experiment files and blobs go.
        #[arg(long, default_value = ".lab/worker")]
        work_dir: PathBuf,
        /// Largest request body accepted (HTTP 413 beyond).
        #[arg(long, default_value_t = 16 * 1024 * 1024)]
        max_body_bytes: usize,
        /// Time allowed to send a request's headers, and then its body.
        #[arg(long, default_value_t = 10_000)]
        read_timeout_ms: u64,
        /// On SIGTERM: how long to wait for running trials and unacknowledged
        /// completions before stopping trials and exiting.
        #[arg(long, default_value_t = 30)]
        shutdown_grace_secs: u64,
        /// A delivered completion that is not acknowledged within this is delivered
        /// again (a coordinator acknowledges within about a second).
        #[arg(long, default_value_t = 10_000)]
        redeliver_after_ms: u64,
    },
}

pub fn run(command: WorkerCommand) -> Result<ExitCode> {
    match command {
        WorkerCommand::Serve {
            listen,
            slots,
            token_env,
            insecure_no_auth,
            insecure_plaintext,
            tls_cert,
            tls_key,
            tls_self_signed,
            work_dir,
            max_body_bytes,
            read_timeout_ms,
            shutdown_grace_secs,
            redeliver_after_ms,
        } => {
            if slots == 0 {
                bail!("--slots must be at least 1");
            }
            let identity = match (&tls_cert, &tls_key, tls_self_signed) {
                (Some(cert), Some(key), _) => Some(
                    engine::wire::tls::ServerIdentity::from_pem_files(cert, key)?,
                ),
                (_, _, true) => {
                    let mut names: Vec<String> = vec![
                        "localhost".into(),
                        "127.0.0.1".into(),
                        "::1".into(),
                        engine::lease::this_host(),
                    ];
                    if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
                        names.push(listen.ip().to_string());
                    }
                    names.dedup();
                    Some(engine::wire::tls::ServerIdentity::self_signed(
                        names,
                        &work_dir.join("worker-cert.pem"),
                    )?)
                }
                _ => None,
            };
            if identity.is_none() && !listen.ip().is_loopback() && !insecure_plaintext {
                bail!(
                    "--listen {listen}: plain HTTP on an address other machines reach sends the \
                     bearer token and every trial's outcome in cleartext, where anyone on the \
                     path can read or rewrite them; serve HTTPS (--tls-self-signed, or \
                     --tls-cert FILE --tls-key FILE), or pass --insecure-plaintext on a \
                     network you trust"
                );
            }
            let token = match (&token_env, insecure_no_auth) {
                (Some(_), true) => bail!("--token-env and --insecure-no-auth exclude each other"),
                (None, false) => bail!(
                    "labj worker serve needs --token-env VAR (the variable holding the bearer token), or --insecure-no-auth to serve without authentication"
                ),
                (None, true) => {
                    eprintln!("[labj worker] WARNING: --insecure-no-auth: every client that can reach {listen} may run commands on this machine");
                    None
                }
                (Some(var), false) => {
                    let t = resolve_remote_bearer_token(Some(var))?
                        .context("token variable resolved to nothing")?;
                    // Trials inherit the worker's environment: the token must not be in it.
                    // Done before any thread starts.
                    scrub_env_value(var);
                    std::env::remove_var(var);
                    Some(BearerToken::new(t))
                }
            };
            let read = Duration::from_millis(read_timeout_ms.max(1));
            let mut limits = ServeConfig::default_limits();
            limits.max_body_bytes = max_body_bytes;
            limits.header_timeout = read;
            limits.body_timeout = read;
            let config = ServeConfig {
                listen,
                slots,
                token,
                work_dir,
                limits,
                shutdown_grace: Duration::from_secs(shutdown_grace_secs),
                redeliver_after: Duration::from_millis(redeliver_after_ms),
                tls: identity.as_ref().map(|i| i.server_config()).transpose()?,
            };
            let observer = Arc::new(Terminal { identity, slots });
            let result = engine::worker::serve(config, observer);
            result.map(|()| ExitCode::SUCCESS).map_err(Into::into)
        }
    }
}

/// Renders what the serving worker reports: the listening line on stdout (scripts and
/// tests wait for it), notices on stderr.
struct Terminal {
    identity: Option<engine::wire::tls::ServerIdentity>,
    slots: usize,
}

impl engine::worker::WorkerObserver for Terminal {
    fn listening(&self, addr: SocketAddr) {
        let slots = self.slots;
        match &self.identity {
            Some(id) => println!(
                "labj worker listening on https://{addr}/ ({slots} slots; TLS certificate {} in {}: give coordinators --tls-pin {})",
                id.fingerprint,
                id.cert_path.display(),
                id.fingerprint
            ),
            None => println!("labj worker listening on http://{addr}/ ({slots} slots)"),
        }
        let _ = std::io::stdout().flush();
    }

    fn notice(&self, message: &str) {
        eprintln!("[labj worker] {message}");
    }
}

/// Overwrite the value of the environment variable `var` where it lives in this
/// process's memory. `remove_var` only drops the pointer: the original environment
/// block, which `/proc/<pid>/environ` shows to every process of the same user (and to
/// root), would still hold the token for an agent to read.
fn scrub_env_value(var: &str) {
    let Ok(name) = std::ffi::CString::new(var) else {
        return;
    };
    // SAFETY: called from `main`'s thread before the worker starts any thread, so no
    // other code reads or changes the environment meanwhile. `getenv` returns NULL or
    // a pointer to the NUL-terminated value inside the live environment block; we
    // overwrite exactly its `strlen` bytes (not the terminator) and keep no reference.
    unsafe {
        let value = libc::getenv(name.as_ptr());
        if !value.is_null() {
            let len = libc::strlen(value);
            std::ptr::write_bytes(value, 0, len);
        }
    }
}
