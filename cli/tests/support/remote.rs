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
        let mut child = cmd
            .args(["worker", "serve", "--listen", listen, "--slots", &slots])
            .args(["--token-env", TOKEN_ENV, "--work-dir"])
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
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in worker output {line:?}"))
            .to_string();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Worker {
            child,
            url,
            addr,
            stderr_path,
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
