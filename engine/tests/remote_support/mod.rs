//! A tiny HTTP/1.1 server for the remote worker tests: answers a fixed list of canned
//! responses, one per connection, records what it received, and stops after the list or
//! a deadline. Always `finish()` it so the thread is joined.

#![allow(dead_code)]

use model::trial::TrialSpec;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct CannedServer {
    pub base_url: String,
    handle: JoinHandle<Vec<Received>>,
}

impl CannedServer {
    /// Serve `responses` (status, JSON body) in order, at most one per connection,
    /// for at most 20 s.
    pub fn start(responses: Vec<(u16, String)>) -> CannedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let base_url = format!("http://{}/", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut received = Vec::new();
            let mut responses = responses.into_iter();
            let mut next = responses.next();
            while let Some((status, body)) = next.take() {
                if Instant::now() > deadline {
                    break;
                }
                let stream = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                        next = Some((status, body));
                        continue;
                    }
                    Err(e) => panic!("accept: {e}"),
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                reader.read_line(&mut line).expect("request line");
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts.next().unwrap_or("").to_string();
                let mut headers = Vec::new();
                let mut content_length = 0usize;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).expect("header line");
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (name, value) = h.split_once(':').expect("header has a colon");
                    let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                    if name == "content-length" {
                        content_length = value.parse().expect("numeric content-length");
                    }
                    headers.push((name, value.to_string()));
                }
                let mut raw = vec![0u8; content_length];
                reader.read_exact(&mut raw).expect("request body");
                received.push(Received {
                    method,
                    path,
                    headers,
                    body: serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null),
                });
                let mut stream = reader.into_inner();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(reply.as_bytes()).expect("write response");
                stream.flush().unwrap();
                next = responses.next();
            }
            received
        });
        CannedServer { base_url, handle }
    }

    /// Join the server thread and return the requests it saw.
    pub fn finish(self) -> Vec<Received> {
        self.handle.join().expect("test server thread panicked")
    }
}

/// A base URL nothing listens on (bound, then released).
pub fn dead_base_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    drop(l);
    url
}

pub fn spec(run_id: &str, schedule_idx: u64, trial_id: &str) -> TrialSpec {
    TrialSpec {
        experiment_dir: "/tmp/exp".into(),
        trial_dir: "/tmp/run/trials/t".into(),
        blob_dir: "/tmp/run/blobs".into(),
        ..model::testkit::trial_spec(run_id, schedule_idx, trial_id)
    }
}

/// A schema-valid completion document.
/// The bearer token the canned completions are signed with (the clients' token).
pub const SIGNING_TOKEN: &str = "tok-9f3c-never-print-me";

/// A completion as a worker holding [`SIGNING_TOKEN`] delivers it (with its MAC).
pub fn completion(
    run_id: &str,
    schedule_idx: u64,
    trial_id: &str,
    ticket: &str,
    seq: u64,
) -> serde_json::Value {
    let outcome = serde_json::json!(
        {"classification": "success", "duration_ms": 7, "metrics": {"score": 1.0}}
    );
    let key = engine::wire::completion_key(run_id, schedule_idx, trial_id, ticket, seq);
    let mac =
        engine::wire::CompletionMac::from_token(&engine::wire::BearerToken::new(SIGNING_TOKEN))
            .tag(&key, &outcome);
    serde_json::json!({
        "run_id": run_id,
        "schedule_idx": schedule_idx,
        "trial_id": trial_id,
        "ticket_id": ticket,
        "completion_seq": seq,
        "outcome": outcome,
        "mac": mac,
    })
}
