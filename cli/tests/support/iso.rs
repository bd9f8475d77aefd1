//! Helpers for the isolation tests (`e2e_isolation_*.rs`): real podman (runc runtime,
//! images built by scripts/setup.d/40-podman.sh from busybox-static) and real bubblewrap.
//! A missing component fails the test with a message naming it, never skips it.

use super::*;
use std::process::Stdio;

pub const IMAGE_A: &str = "localhost/labj-test-a:1";
pub const IMAGE_B: &str = "localhost/labj-test-b:1";
/// What this project's machines need (see scripts/setup.d/40-podman.sh).
pub const PODMAN_ARGS: &str = "--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024";

/// Panics (fails the test) unless podman and both test images are present.
pub fn require_podman() {
    for img in [IMAGE_A, IMAGE_B] {
        let ok = Command::new("podman")
            .args(["image", "exists", img])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "podman or its test image {img} is missing: run `sh scripts/setup.d/40-podman.sh` (installs podman + runc + busybox-static and builds the images)"
        );
    }
}

/// Panics unless bubblewrap is installed.
pub fn require_bwrap() {
    let ok = Command::new("bwrap")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "bubblewrap (`bwrap`) is missing: run `sh scripts/setup.d/41-bubblewrap.sh`"
    );
}

/// `labj` in the scratch dir with podman selected and this machine's runtime flags.
pub fn labj_podman(s: &Scratch, args: &[&str]) -> Command {
    let mut c = s.labj_cmd(args);
    c.env("LABJ_CONTAINER_ENGINE", "podman")
        .env("LABJ_CONTAINER_ARGS", PODMAN_ARGS);
    c
}

/// An experiment YAML: `variants` as (id, extra variant YAML), `runtime_yaml` appended
/// under `runtime:` (agent command etc.), tasks from `tasks.jsonl`.
pub fn iso_experiment(
    s: &Scratch,
    name: &str,
    variants: &[(&str, &str)],
    runtime_yaml: &str,
    max_concurrency: u32,
) -> PathBuf {
    let mut plan = String::new();
    for (v, extra) in &variants[1..] {
        plan.push_str(&format!(
            "  - variant_id: {v}\n    bindings: {{name: {v}}}\n{extra}"
        ));
    }
    let (b, bextra) = variants[0];
    let yaml = format!(
        "version: \"0.5\"\nexperiment: {{id: iso, name: isolation test}}\ndataset: {{path: tasks.jsonl}}\ndesign:\n  replications: 1\n  max_concurrency: {max_concurrency}\n  policies:\n    scheduling: variant_sequential\n    state: isolate_per_trial\nbaseline:\n  variant_id: {b}\n  bindings: {{name: {b}}}\n{bextra}variant_plan:\n{}runtime:\n{runtime_yaml}",
        if plan.is_empty() { "  []\n".to_string() } else { plan }
    );
    let yaml = yaml.replace("variant_plan:\n  []\n", "variant_plan: []\n");
    s.write(name, &yaml)
}

/// The sh line an agent ends with: a success result.
pub const RESULT_OK: &str = r#"printf '{"schema_version":"agent_result_v1","outcome":"success"}' > "$AGENTLAB_RESULT_PATH""#;

/// `trial_completed` payloads of a run, in journal order.
pub fn completions(s: &Scratch, run: &Path) -> Vec<Value> {
    events_of(s, run, "trial_completed")
        .into_iter()
        .map(|e| e["payload"].clone())
        .collect()
}

/// The stdout of `trial`'s first attempt: the blob its completion journals (the trial
/// directory is removed once nothing in it is needed), else `trials/<trial>/attempt_1/`.
pub fn stdout_of(run: &Path, trial: &str) -> String {
    let journaled = read_events(run).into_iter().find_map(|e| match e.event {
        journal::event::Event::TrialCompleted(c) if c.trial_id == trial => c
            .result
            .artifacts
            .into_iter()
            .find(|a| a.name == "attempt_1/stdout.log")
            .map(|a| run.join("blobs").join(&a.digest[..2]).join(&a.digest)),
        _ => None,
    });
    let path =
        journaled.unwrap_or_else(|| run.join("trials").join(trial).join("attempt_1/stdout.log"));
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Names of podman containers labelled with `run_id` (all states).
pub fn containers_of(run_id: &str) -> Vec<String> {
    let out = Command::new("podman")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=labj.run_id={run_id}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("podman ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// The run id (directory name) of a run directory.
pub fn run_id(run: &Path) -> String {
    run.file_name().unwrap().to_string_lossy().into_owned()
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match proc_stat(pid) {
        Some(stat) => stat.first().map(String::as_str) != Some("Z"),
        None => false,
    }
}

/// Every byte of the journal files of a run, for "the secret is not in there" checks.
pub fn journal_bytes(run: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["journal.sqlite", "journal.sqlite-wal"] {
        if let Ok(b) = std::fs::read(run.join(f)) {
            all.extend(b);
        }
    }
    all
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A one-shot HTTP server on `addr` (e.g. `127.0.0.1:0`), answering every connection
/// with `200 OK` until dropped. Returns the bound address.
pub struct TinyServer {
    pub addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<usize>>,
}

impl TinyServer {
    pub fn start(addr: &str) -> TinyServer {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let l = std::net::TcpListener::bind(addr).expect("bind test server");
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut served = 0;
            // Bounded: at most 60 s and 100 connections.
            let until = Instant::now() + Duration::from_secs(60);
            while !st.load(Ordering::SeqCst) && Instant::now() < until && served < 100 {
                match l.accept() {
                    Ok((mut c, _)) => {
                        c.set_read_timeout(Some(Duration::from_secs(2))).ok();
                        let mut buf = [0u8; 512];
                        let _ = c.read(&mut buf);
                        let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
                        served += 1;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            served
        });
        TinyServer {
            addr,
            stop,
            handle: Some(handle),
        }
    }

    /// Stops the server; returns how many connections it served.
    pub fn stop(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.handle.take().unwrap().join().unwrap()
    }
}
