//! The wire between coordinator and remote worker, end to end on loopback with real
//! `labj worker serve` processes, real coordinators and journals: TLS (a pinned
//! self-signed certificate, a CA-signed one made here with rcgen), the completion MAC
//! against an on-path rewriting proxy, the token out of the agents' reach, and the
//! worker's disk after completed trials.

mod support;

use journal::event::Event;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::remote::{RewritingProxy, Worker, TOKEN, TOKEN_ENV};
use support::*;

const FAILURE: &str = r#"printf '{"schema_version":"agent_result_v1","outcome":"failure","metrics":{"score":0}}' > "$AGENTLAB_RESULT_PATH""#;

fn remote_run(s: &Scratch, endpoint: &str, extra: &[&str]) -> std::process::Command {
    let mut args = vec![
        "run",
        "experiment.yaml",
        "--executor",
        "remote",
        "--remote-token-env",
        TOKEN_ENV,
        "--remote-endpoint",
        endpoint,
    ];
    args.extend_from_slice(extra);
    let mut c = s.labj_cmd(&args);
    c.env(TOKEN_ENV, TOKEN);
    c
}

/// An on-path proxy rewrites `"failure"` into `"success"` in the worker's poll answers.
/// Every completion carries a MAC keyed from the bearer token over its delivery key
/// and outcome: the coordinator refuses the rewritten ones before journaling them. Each
/// attempt is journaled `worker_lost` naming "completion failed authentication" (an
/// infrastructure fault, re-run under the retry budget), nothing is scored. On the code
/// before the MAC every trial committed `success`.
#[test]
fn rewritten_completions_fail_authentication_and_score_nothing() {
    let s = Scratch::new();
    s.script("agent.sh", FAILURE);
    s.tasks(2);
    s.experiment(&["base"], 1, 2, "");
    let w = Worker::start(&s.dir().join("w"), 2, &[]);
    let proxy = RewritingProxy::start(&w.addr);
    let out = output_within(
        &mut remote_run(&s, &proxy.url, &[]),
        Duration::from_secs(180),
        "remote run through a rewriting proxy",
    );
    let all = text(&out);
    // Exit 3: every trial died of an infrastructure fault.
    assert_eq!(out.status.code(), Some(3), "{all}");
    let run = s.the_run();
    check_journal(&run);
    let slots = committed_slots(&run);
    assert_eq!(slots.len(), 2, "{slots:?}");
    assert!(
        slots.iter().all(|(_, _, class)| class != "success"),
        "a rewritten completion was scored: {slots:?}"
    );
    let mut lost = Vec::new();
    for e in read_events(&run) {
        match e.event {
            Event::WorkerLost(l) => lost.push(l.reason),
            Event::TrialCompleted(c) => {
                panic!("a trial was completed from a rewritten answer: {c:?}")
            }
            _ => {}
        }
    }
    // Default budget: 3 attempts per slot, each refused.
    assert_eq!(lost.len(), 6, "{lost:?}");
    assert!(
        lost.iter()
            .all(|r| r.contains("completion failed authentication")),
        "{lost:?}"
    );
    // The key (and the token it comes from) reach neither the journal nor the output.
    let journal = std::fs::read(journal_path(&run)).unwrap();
    assert!(!String::from_utf8_lossy(&journal).contains(TOKEN));
    assert!(!all.contains(TOKEN), "{all}");
}

/// `--tls-self-signed`: the worker makes a certificate at start and prints its
/// fingerprint; a coordinator pinning it runs over `https://`. A wrong pin is refused
/// at once, before any run exists, saying which certificate was presented.
#[test]
fn a_pinned_self_signed_worker_runs_and_a_wrong_pin_is_refused_before_any_trial() {
    let s = Scratch::new();
    s.script("agent.sh", SUCCESS);
    s.tasks(2);
    s.experiment(&["base"], 1, 2, "");
    let w = Worker::start(&s.dir().join("w"), 2, &["--tls-self-signed"]);
    assert!(w.url.starts_with("https://"), "{}", w.url);
    let pin = w
        .fingerprint
        .clone()
        .expect("the worker prints its fingerprint");
    assert!(s.dir().join("w/worker-cert.pem").is_file());

    // A wrong pin (another certificate's): refused fast, no run created.
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let t0 = std::time::Instant::now();
    let out = output_within(
        &mut remote_run(&s, &w.url, &["--tls-pin", &wrong]),
        Duration::from_secs(60),
        "remote run with a wrong pin",
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("failed the TLS check, so nothing was sent to it")
            && all.contains(&format!(
                "the worker presented certificate {pin}, not the pinned {wrong}"
            )),
        "{all}"
    );
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert!(s.first_run().is_none(), "a run was created");
    assert!(!all.contains(TOKEN));

    // An https:// endpoint without a trust anchor is refused naming the flags.
    let out = output_within(
        &mut remote_run(&s, &w.url, &[]),
        Duration::from_secs(60),
        "remote run without --tls-pin",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("needs --tls-pin"), "{}", text(&out));

    // The right pin.
    let out = output_within(
        &mut remote_run(&s, &w.url, &["--tls-pin", &pin]),
        Duration::from_secs(120),
        "remote run over TLS",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_all_success(&s.the_run(), 2);
}

/// A CA and a worker certificate made here (rcgen): `--tls-cert/--tls-key` on the
/// worker, `--tls-ca` on the coordinator. The listen address is not loopback-only
/// (`0.0.0.0`), which plain HTTP refuses without `--insecure-plaintext`; HTTPS needs
/// no such flag.
#[test]
fn a_ca_signed_worker_certificate_is_trusted_with_tls_ca() {
    let s = Scratch::new();
    s.script("agent.sh", SUCCESS);
    s.tasks(2);
    s.experiment(&["base"], 1, 2, "");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let tls = s.dir().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::write(tls.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(tls.join("worker.pem"), leaf.pem()).unwrap();
    std::fs::write(tls.join("worker.key"), leaf_key.serialize_pem()).unwrap();
    let (cert, key) = (tls.join("worker.pem"), tls.join("worker.key"));
    let w = Worker::start_on(
        &s.dir().join("w"),
        "0.0.0.0:0",
        2,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let port = w.addr.rsplit(':').next().unwrap();
    let url = format!("https://127.0.0.1:{port}/");
    let ca_file = tls.join("ca.pem");
    let out = output_within(
        &mut remote_run(&s, &url, &["--tls-ca", ca_file.to_str().unwrap()]),
        Duration::from_secs(120),
        "remote run trusting a CA",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_all_success(&s.the_run(), 2);
    // The same worker is not trusted with another CA (its own certificate as a CA file
    // does not make a self-issued leaf valid).
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(tls.join("other.pem"), other.cert.pem()).unwrap();
    let other_file = tls.join("other.pem");
    let out = output_within(
        &mut remote_run(&s, &url, &["--tls-ca", other_file.to_str().unwrap()]),
        Duration::from_secs(60),
        "remote run trusting another CA",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("failed the TLS check")
            && text(&out).contains("invalid peer certificate"),
        "{}",
        text(&out)
    );
}

/// A proxy that terminates TLS with a certificate of its own (made here) in front of a
/// worker: a coordinator pinning the real worker's certificate, or trusting its
/// certificate file as CA, refuses the handshake. The proxy never receives a decrypted
/// byte, so it never sees the token or a request, and can rewrite nothing.
#[test]
fn a_tls_terminating_proxy_with_another_certificate_gets_nothing() {
    let s = Scratch::new();
    s.script("agent.sh", FAILURE);
    s.tasks(1);
    s.experiment(&["base"], 1, 1, "");
    let w = Worker::start(&s.dir().join("w"), 1, &["--tls-self-signed"]);
    let pin = w.fingerprint.clone().unwrap();
    let proxy = TlsProxy::start(&w.addr);
    let cert = s.dir().join("w/worker-cert.pem");
    for trust in [
        ["--tls-pin", pin.as_str()],
        ["--tls-ca", cert.to_str().unwrap()],
    ] {
        let out = output_within(
            &mut remote_run(&s, &proxy.url, &trust),
            Duration::from_secs(60),
            "remote run through a TLS-terminating proxy",
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{trust:?}: {all}");
        assert!(all.contains("failed the TLS check"), "{trust:?}: {all}");
        assert!(s.first_run().is_none(), "a run was created");
    }
    assert!(
        proxy.handshakes.load(Ordering::SeqCst) >= 2,
        "the proxy was reached"
    );
    assert_eq!(
        proxy.plaintext.load(Ordering::SeqCst),
        0,
        "the proxy received decrypted bytes"
    );
}

/// Agents on the worker cannot read the token the completion MAC key comes from: not
/// in their environment, not in the worker's `/proc/<pid>/environ` (the original
/// environment block keeps a removed variable's bytes; the worker overwrites them).
/// The agent fails its trial if it finds the token anywhere it looks. (As root, as
/// here, it can read that file; as the worker's user it cannot either: the worker is
/// non-dumpable, so its `/proc` files belong to root.)
#[test]
fn agents_on_the_worker_cannot_read_the_token() {
    let s = Scratch::new();
    let w = Worker::start(&s.dir().join("w"), 1, &[]);
    s.script(
        "agent.sh",
        &format!(
            "if env | grep -q '{TOKEN}' || tr '\\0' '\\n' < /proc/{pid}/environ | grep -q '{TOKEN}'; then\n  printf '{{\"schema_version\":\"agent_result_v1\",\"outcome\":\"failure\"}}' > \"$AGENTLAB_RESULT_PATH\"\nelse\n  {SUCCESS}\nfi",
            pid = w.pid()
        ),
    );
    s.tasks(1);
    s.experiment(&["base"], 1, 1, "");
    let out = output_within(
        &mut remote_run(&s, &w.url, &[]),
        Duration::from_secs(120),
        "remote run of a token-hunting agent",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_all_success(&s.the_run(), 1);
}

/// A worker removes each attempt's trial directory and blobs once the coordinator has
/// acknowledged its completion (the blobs are in the run's store by then): after two
/// runs of four trials the work dir holds only the staged experiment files. Before,
/// every trial directory and blob stayed forever.
#[test]
fn the_worker_work_dir_does_not_grow_with_completed_trials() {
    let s = Scratch::new();
    s.script("agent.sh", SUCCESS);
    s.tasks(4);
    s.experiment(&["base"], 1, 2, "");
    let work = s.dir().join("w");
    let w = Worker::start(&work, 2, &[]);
    for round in 0..2 {
        let out = output_within(
            &mut remote_run(&s, &w.url, &[]),
            Duration::from_secs(120),
            "remote run",
        );
        assert_eq!(out.status.code(), Some(0), "round {round}: {}", text(&out));
    }
    // Acknowledgements are sent as the coordinator ends; removal follows at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut left = files_outside_experiment(&work.join("runs"));
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = files_outside_experiment(&work.join("runs"));
    }
    assert!(left.is_empty(), "left on the worker: {left:#?}");
    // Both runs did reach this worker (their staged agent script stays).
    let staged = std::fs::read_dir(work.join("runs"))
        .unwrap()
        .flatten()
        .filter(|r| r.path().join("experiment/agent.sh").is_file())
        .count();
    assert_eq!(staged, 2);
    // The runs themselves hold every blob (fetched before the acknowledgement).
    for e in std::fs::read_dir(s.dir().join("runs")).unwrap().flatten() {
        let v = s.labj(&["verify", e.path().to_str().unwrap()]);
        assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    }
}

/// Regular files under `runs/` of a worker's work dir, outside `runs/*/experiment/`.
fn files_outside_experiment(runs: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![runs.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                if p.file_name().is_some_and(|n| n == "experiment") {
                    continue;
                }
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A TLS-terminating proxy: presents its own certificate (made here), and would relay
/// decrypted requests to `upstream` over plain TCP; counts handshakes and decrypted
/// bytes received.
struct TlsProxy {
    url: String,
    handshakes: Arc<AtomicUsize>,
    plaintext: Arc<AtomicUsize>,
}

impl TlsProxy {
    fn start(upstream: &str) -> TlsProxy {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(engine::wire::tls::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![made.cert.der().clone()], key)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/", listener.local_addr().unwrap());
        let handshakes = Arc::new(AtomicUsize::new(0));
        let plaintext = Arc::new(AtomicUsize::new(0));
        let (h, p, upstream) = (handshakes.clone(), plaintext.clone(), upstream.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                h.fetch_add(1, Ordering::SeqCst);
                let (config, p, upstream) = (config.clone(), p.clone(), upstream.clone());
                std::thread::spawn(move || {
                    client
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    let conn = rustls::ServerConnection::new(config).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, client);
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = tls.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        p.fetch_add(n, Ordering::SeqCst);
                        // Relay (never reached when the client refuses the certificate).
                        if let Ok(mut up) = TcpStream::connect(&upstream) {
                            let _ = up.write_all(&buf[..n]);
                        }
                    }
                });
            }
        });
        TlsProxy {
            url,
            handshakes,
            plaintext,
        }
    }
}

/// `labj continue` of a run over TLS, with no remote flags: the endpoint and its pin
/// were recorded when the run was created, so the continuing coordinator pins the same
/// certificate, reattaches to the trials the worker still runs and finishes the run.
#[test]
fn continue_reuses_the_recorded_pin() {
    let s = Scratch::new();
    s.script("agent.sh", &format!("sleep 2\n{SUCCESS}"));
    s.tasks(3);
    s.experiment(&["base"], 1, 2, "");
    let w = Worker::start(&s.dir().join("w"), 2, &["--tls-self-signed"]);
    let pin = w.fingerprint.clone().unwrap();
    let mut coord = remote_run(&s, &w.url, &["--tls-pin", &pin])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = wait_for(Duration::from_secs(60), "run created", || s.first_run());
    wait_for(Duration::from_secs(60), "two trials in flight", || {
        let proj = journal::Journal::open_read_only(&journal_path(&run))
            .ok()?
            .fold(None)
            .ok()?;
        (proj.control.active_trials.len() == 2).then_some(())
    });
    coord.kill().unwrap();
    coord.wait().unwrap();
    let run_s = run.to_str().unwrap().to_string();
    let out = output_within(
        s.labj_cmd(&["continue", &run_s]).env(TOKEN_ENV, TOKEN),
        Duration::from_secs(120),
        "continue over TLS",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_all_success(&run, 3);
    let reattached = read_events(&run)
        .into_iter()
        .any(|e| matches!(e.event, Event::BackendWarning(b) if b.code == "remote_reattach"));
    assert!(reattached, "continue reattached over TLS");
}
