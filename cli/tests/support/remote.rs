//! Real `labj worker serve` processes on 127.0.0.1 for the remote tests: started on a
//! free port (the bound address is read from the worker's stdout), stopped by the test
//! (SIGTERM, then SIGKILL if it lingers) when the handle drops.

use super::labj_bin;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN_ENV: &str = "LABJ_TEST_WORKER_TOKEN";
pub const TOKEN: &str = "tok-remote-7d1e-never-print-me";

pub struct Worker {
    pub child: Child,
    pub url: String,
    pub addr: String,
    pub stderr_path: PathBuf,
    /// `sha256:…` of its TLS certificate, when it serves HTTPS.
    pub fingerprint: Option<String>,
}

impl Worker {
    /// `labj worker serve --listen 127.0.0.1:0 --slots N --token-env …` plus `extra`.
    pub fn start(work_dir: &Path, slots: usize, extra: &[&str]) -> Worker {
        Worker::start_on(work_dir, "127.0.0.1:0", slots, extra)
    }

    /// [`Worker::start`] listening on `listen` (e.g. the address of a worker just killed).
    pub fn start_on(work_dir: &Path, listen: &str, slots: usize, extra: &[&str]) -> Worker {
        Worker::start_wrapped(&[], work_dir, listen, slots, extra)
    }

    /// [`Worker::start_on`] run through `wrapper` (e.g. `bwrap … --` to give the worker a
    /// filesystem view of its own); an empty wrapper runs labj directly.
    pub fn start_wrapped(
        wrapper: &[&str],
        work_dir: &Path,
        listen: &str,
        slots: usize,
        extra: &[&str],
    ) -> Worker {
        Worker::start_full(wrapper, work_dir, listen, slots, true, extra)
    }

    /// [`Worker::start`] without a token (`--insecure-no-auth`: no completion MAC).
    pub fn start_no_auth(work_dir: &Path, slots: usize) -> Worker {
        Worker::start_full(
            &[],
            work_dir,
            "127.0.0.1:0",
            slots,
            false,
            &["--insecure-no-auth"],
        )
    }

    /// Everything: `token` adds `--token-env` with [`TOKEN`].
    pub fn start_full(
        wrapper: &[&str],
        work_dir: &Path,
        listen: &str,
        slots: usize,
        token: bool,
        extra: &[&str],
    ) -> Worker {
        std::fs::create_dir_all(work_dir).unwrap();
        let stderr_path = work_dir.join("worker.stderr");
        let slots = slots.to_string();
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(labj_bin());
                c
            }
            None => Command::new(labj_bin()),
        };
        cmd.args(["worker", "serve", "--listen", listen, "--slots", &slots]);
        if token {
            cmd.args(["--token-env", TOKEN_ENV]);
        }
        let mut child = cmd
            .arg("--work-dir")
            .arg(work_dir)
            .args(extra)
            .env(TOKEN_ENV, TOKEN)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawn labj worker serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("worker printed its address within 30 s");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no URL in worker output {line:?}"))
            .to_string();
        let addr = url
            .split("://")
            .nth(1)
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        let fingerprint = line
            .split_whitespace()
            .find(|w| w.starts_with("sha256:"))
            .map(String::from);
        Worker {
            child,
            url,
            addr,
            stderr_path,
            fingerprint,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The exit code once exited (`None`: still running, or killed by a signal).
    pub fn exit_code(&mut self) -> Option<i32> {
        self.child.try_wait().ok().flatten().and_then(|s| s.code())
    }

    /// SIGTERM and wait for the exit (at most `timeout`), returning whether it exited.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(self.pid(), libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !self.terminate(Duration::from_secs(5)) {
            self.kill9();
        }
    }
}

/// One raw HTTP/1.1 POST (Connection: close); returns (status, body). Bounded by 10 s.
pub fn post(addr: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to worker");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // The worker may answer 413 before reading everything; a reset then is fine.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// A man in the middle on loopback: forwards HTTP/1.1 between coordinator and worker and
/// rewrites `"failure"` into `"success"` (same length) in the worker's poll answers only.
pub struct RewritingProxy {
    pub url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RewritingProxy {
    pub fn start(worker_addr: &str) -> RewritingProxy {
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stop2, upstream) = (stop.clone(), worker_addr.to_string());
        std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    client.set_nonblocking(false).unwrap();
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        return;
                    };
                    let _ = proxy_connection(client, server);
                });
            }
        });
        RewritingProxy { url, stop }
    }
}

impl Drop for RewritingProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// One HTTP/1.1 message (head + Content-Length body) from `r`; None at end of stream.
fn read_message(r: &mut impl std::io::BufRead) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn proxy_connection(
    client: std::net::TcpStream,
    server: std::net::TcpStream,
) -> std::io::Result<()> {
    use std::io::{BufReader, Write};
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let mut from_server = BufReader::new(server.try_clone()?);
    let mut to_server = server;
    while let Some((head, body)) = read_message(&mut from_client) {
        let poll = head.starts_with("POST /v1/worker/poll ");
        to_server.write_all(head.as_bytes())?;
        to_server.write_all(&body)?;
        let Some((rhead, mut rbody)) = read_message(&mut from_server) else {
            return Ok(());
        };
        if poll {
            let text = String::from_utf8_lossy(&rbody).replace("\"failure\"", "\"success\"");
            rbody = text.into_bytes();
        }
        to_client.write_all(rhead.as_bytes())?;
        to_client.write_all(&rbody)?;
    }
    Ok(())
}
