//! Trial: the attempts on a timeline, the trajectory as turns, stdout/stderr of agent
//! and grader (capped, the cut shown), result and grade documents, the workspace diff,
//! evidence and tamper files with their digests checked against the journal. Blobs are
//! served only by a digest this trial's journaled completion names.

use super::{class_span, ms};
use crate::html::{a, esc, num, table, Page};
use crate::site::{Response, RunCtx, ViewError};
use journal::event::{Event, TrialCompleted};
use journal::StoredEvent;
use read::report::logs::{self, LogSource, Stream};
use read::report::{committed_trial, TrialRow};
use std::fmt::Write;

/// How much of a log or document a page shows (the rest is one click away as a blob).
pub(crate) const SHOWN_BYTES: usize = 64 * 1024;
/// How much of a trajectory is rendered as turns.
pub(crate) const TRAJECTORY_BYTES: usize = 2 * 1024 * 1024;
/// How far before its first completion a slot's dispatch is looked for.
const DISPATCH_WINDOW: u64 = 50_000;

/// Keeps the first `cap` bytes written and counts the rest.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
    total: u64,
}

impl std::io::Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let room = self.cap.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&b[..room.min(b.len())]);
        self.total += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A blob's first `cap` bytes after checking the whole file against its digest.
pub(crate) struct BlobRead {
    pub head: Vec<u8>,
    pub size: u64,
}

fn is_digest(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Reads the blob the journal names by `digest` (a digest string from the journal,
/// never from a request), checking its content hashes to it.
pub(crate) fn read_blob(run: &RunCtx, digest: &str, cap: usize) -> Result<BlobRead, String> {
    use std::io::Read;
    if !is_digest(digest) {
        return Err(format!("`{digest}` is not a blob digest"));
    }
    let path = journal::RunDir::new(&run.dir)
        .blobs()
        .join(&digest[..2])
        .join(digest);
    let (mut f, size) = model::safe_fs::open_regular(&path, u64::MAX).map_err(|e| e.to_string())?;
    let mut h = blake3::Hasher::new();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        let room = cap.saturating_sub(head.len());
        head.extend_from_slice(&buf[..room.min(n)]);
    }
    if h.finalize().to_hex().as_str() != digest {
        return Err(format!(
            "{} does not match its journaled digest: the run directory was modified",
            path.display()
        ));
    }
    Ok(BlobRead { head, size })
}

/// A committed trial with its completion and its events.
pub(crate) struct TrialData {
    pub slot: u64,
    pub row: Option<TrialRow>,
    pub completion: Option<TrialCompleted>,
    pub events: Vec<StoredEvent>,
}

pub(crate) fn load(run: &RunCtx, slot: u64) -> Result<TrialData, ViewError> {
    let row = committed_trial(&run.journal, slot)?;
    let completions = run.journal.completion_events(slot)?;
    let completion = completions.iter().rev().find_map(|e| match &e.event {
        Event::TrialCompleted(c) => Some(c.clone()),
        _ => None,
    });
    let len = run.journal.len();
    let (from, to) = match (completions.first(), completions.last()) {
        (Some(f), Some(l)) => (
            f.idx.saturating_sub(DISPATCH_WINDOW),
            (l.idx + 10_000).min(len.saturating_sub(1)),
        ),
        _ => (len.saturating_sub(DISPATCH_WINDOW), len.saturating_sub(1)),
    };
    let mut events = if len > 0 {
        run.journal.slot_events_between(slot, from, to)?
    } else {
        Vec::new()
    };
    let trial_id = journal::trial_id_of(slot);
    for kind in ["pause_acked", "resume_requested"] {
        run.journal.for_each_event_of_kind(kind, |e| {
            let mine = match &e.event {
                Event::PauseAcked(p) => p.trial_id == trial_id,
                Event::ResumeRequested(r) => {
                    r.trial_id.as_deref() == Some(&trial_id) || r.resumed_trials.contains(&trial_id)
                }
                _ => false,
            };
            if mine {
                events.push(e);
            }
            Ok(())
        })?;
    }
    events.sort_by_key(|e| e.idx);
    Ok(TrialData {
        slot,
        row,
        completion,
        events,
    })
}

/// One log of one attempt as a `<pre>`, the cut shown.
fn log_block(run: &RunCtx, row: &TrialRow, attempt: u32, stream: Stream, id: &str) -> String {
    let title = match stream {
        Stream::Stdout => "agent stdout",
        Stream::Stderr => "agent stderr",
        Stream::GraderStdout => "grader stdout",
        Stream::GraderStderr => "grader stderr",
    };
    let f = match logs::open(&run.dir, row, attempt, stream) {
        Ok(f) => f,
        Err(e) => {
            return format!(
                "<h4>{title}</h4><p class=\"bad\" id=\"{id}\">{}</p>",
                esc(&e.to_string())
            )
        }
    };
    if matches!(f.source, LogSource::Absent) {
        return format!("<h4>{title}</h4><p class=\"muted\" id=\"{id}\">(nothing written)</p>");
    }
    let written = f.written_bytes;
    let digest = row
        .artifacts
        .iter()
        .find(|a| a.name == format!("attempt_{attempt}/{}", stream.file_name()))
        .map(|a| a.digest.clone());
    let mut w = Capped {
        buf: Vec::new(),
        cap: SHOWN_BYTES,
        total: 0,
    };
    if let Err(e) = f.copy_to(&mut w) {
        return format!(
            "<h4>{title}</h4><p class=\"bad\" id=\"{id}\">{}</p>",
            esc(&e.to_string())
        );
    }
    let mut notes = Vec::new();
    if w.total > w.buf.len() as u64 {
        notes.push(format!(
            "showing the first {} of {} bytes{}",
            w.buf.len(),
            w.total,
            digest
                .as_deref()
                .map(|d| format!(": {}", a(&run.links.blob(row.schedule_idx, d), "whole log")))
                .unwrap_or_default()
        ));
    }
    if let Some(n) = written {
        notes.push(format!(
            "<span class=\"warn\">cut at the output cap: the process wrote {n} bytes, {} kept</span>",
            w.total
        ));
    }
    format!(
        "<h4>{title}</h4>{}<pre id=\"{id}\">{}</pre>",
        if notes.is_empty() {
            String::new()
        } else {
            format!("<p class=\"muted\">{}</p>", notes.join(" · "))
        },
        esc(&String::from_utf8_lossy(&w.buf))
    )
}

/// An artifact of an attempt (result, grade, trajectory) read from its blob.
fn artifact(
    run: &RunCtx,
    row: &TrialRow,
    name: &str,
    cap: usize,
) -> Option<Result<BlobRead, String>> {
    let a = row.artifacts.iter().find(|a| a.name == name)?;
    Some(read_blob(run, &a.digest, cap))
}

fn json_block(run: &RunCtx, row: &TrialRow, name: &str, title: &str, id: &str) -> String {
    match artifact(run, row, name, SHOWN_BYTES) {
        None => String::new(),
        Some(Err(e)) => format!(
            "<h4>{title}</h4><p class=\"bad\" id=\"{id}\">{}</p>",
            esc(&e)
        ),
        Some(Ok(b)) => {
            let text = String::from_utf8_lossy(&b.head);
            let shown = serde_json::from_str::<serde_json::Value>(&text)
                .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
                .unwrap_or_else(|_| text.into_owned());
            format!("<h4>{title}</h4><pre id=\"{id}\">{}</pre>", esc(&shown))
        }
    }
}

/// The body of a trial (shared by the trial and compare pages); `side` prefixes ids.
pub(crate) fn body(run: &RunCtx, d: &TrialData, side: &str, full: bool) -> String {
    let links = &run.links;
    let mut b = String::new();
    let Some(row) = &d.row else {
        let _ = write!(
            b,
            "<p id=\"{side}not-committed\" class=\"warn\">trial_{:06} is not committed (yet): its events so far are below.</p>",
            d.slot
        );
        b.push_str(&timeline(&d.events, side));
        return b;
    };
    let c = d.completion.as_ref();
    let metrics: Vec<String> = row
        .metrics
        .iter()
        .map(|(k, v)| format!("{}={}", esc(k), num(Some(*v))))
        .collect();
    b.push_str(&table(
        &format!("{side}summary"),
        &[
            "variant",
            "task",
            "repl",
            "classification",
            "outcome",
            "metrics",
            "attempts",
            "duration",
            "worker",
        ],
        &[vec![
            esc(&row.variant_id),
            esc(&row.task_id),
            row.repl_idx.to_string(),
            class_span(row.class_name()),
            esc(row.outcome.as_deref().unwrap_or("–")),
            if metrics.is_empty() {
                "–".into()
            } else {
                metrics.join(" ")
            },
            row.attempts.len().to_string(),
            row.duration_ms.map(ms).unwrap_or_else(|| "–".into()),
            esc(row.worker_id.as_deref().unwrap_or("–")),
        ]],
    ));
    if let Some(e) = &row.error {
        let _ = write!(b, "<p class=\"bad\" id=\"{side}error\">{}</p>", esc(e));
    }
    if row.infra_retried > 0 {
        let _ = write!(
            b,
            "<p class=\"warn\">{} attempt(s) lost to infrastructure and dispatched again before this one.</p>",
            row.infra_retried
        );
    }
    if full {
        b.push_str("<h2>Timeline</h2>");
        let rows: Vec<Vec<String>> = row
            .attempts
            .iter()
            .map(|at| {
                vec![
                    at.attempt.to_string(),
                    class_span(at.classification.as_str()),
                    at.exit_code
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "–".into()),
                    ms(at.duration_ms),
                    at.leaked_processes
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "–".into()),
                    esc(at.detail.as_deref().unwrap_or("")),
                ]
            })
            .collect();
        b.push_str(&table(
            &format!("{side}attempts"),
            &[
                "attempt",
                "classification",
                "exit",
                "duration",
                "leaked",
                "detail",
            ],
            &rows,
        ));
        b.push_str(&timeline(&d.events, side));
    }
    let last = row.attempts.len() as u32;
    let attempts: Vec<u32> = if full {
        (1..=last).rev().collect()
    } else {
        vec![last]
    };
    for n in attempts.into_iter().filter(|n| *n > 0) {
        let _ = write!(
            b,
            "<h2>Attempt {n}{}</h2>",
            if n == last { " (last)" } else { "" }
        );
        let pre = format!("{side}a{n}-");
        let tname = format!("attempt_{n}/trajectory.jsonl");
        match artifact(run, row, &tname, TRAJECTORY_BYTES) {
            None => b.push_str(
                "<h3>Trajectory</h3><p class=\"muted\">The agent wrote no trajectory.</p>",
            ),
            Some(Err(e)) => {
                let _ = write!(b, "<h3>Trajectory</h3><p class=\"bad\">{}</p>", esc(&e));
            }
            Some(Ok(t)) => {
                let (html, turns) = crate::trajectory::render(&t.head);
                let _ = write!(
                    b,
                    "<h3>Trajectory <span class=\"muted\">({turns} turns{})</span></h3><div id=\"{pre}trajectory\">{html}</div>",
                    if t.size > t.head.len() as u64 {
                        format!(", first {} of {} bytes", t.head.len(), t.size)
                    } else {
                        String::new()
                    }
                );
            }
        }
        b.push_str("<div class=\"cols\"><div>");
        b.push_str(&log_block(
            run,
            row,
            n,
            Stream::Stderr,
            &format!("{pre}stderr"),
        ));
        b.push_str(&log_block(
            run,
            row,
            n,
            Stream::Stdout,
            &format!("{pre}stdout"),
        ));
        b.push_str("</div><div>");
        b.push_str(&log_block(
            run,
            row,
            n,
            Stream::GraderStderr,
            &format!("{pre}grader-stderr"),
        ));
        b.push_str(&log_block(
            run,
            row,
            n,
            Stream::GraderStdout,
            &format!("{pre}grader-stdout"),
        ));
        b.push_str("</div></div>");
        b.push_str(&json_block(
            run,
            row,
            &format!("attempt_{n}/result.json"),
            "Result",
            &format!("{pre}result"),
        ));
        b.push_str(&json_block(
            run,
            row,
            &format!("attempt_{n}/grader/grade.json"),
            "Grade",
            &format!("{pre}grade"),
        ));
    }
    if let Some(c) = c.filter(|c| !c.evidence.is_empty()) {
        let _ = write!(b, "<h2>Evidence</h2>");
        let mut rows = Vec::new();
        let mut inline = String::new();
        for e in &c.evidence {
            let check = match read_blob(run, &e.digest, SHOWN_BYTES) {
                Ok(blob) => {
                    if full
                        && (e.class == "workspace_diff"
                            || e.class == "agent_patch"
                            || e.class == "tamper")
                    {
                        let _ = write!(
                            inline,
                            "<h4>{} <span class=\"muted\">{}</span></h4><pre>{}</pre>",
                            esc(&e.class),
                            esc(&e.path),
                            esc(&String::from_utf8_lossy(&blob.head))
                        );
                    }
                    "<span class=\"ok\">digest matches</span>".to_string()
                }
                Err(err) => format!("<span class=\"bad\">{}</span>", esc(&err)),
            };
            rows.push(vec![
                esc(&e.class),
                esc(&e.path),
                a(
                    &links.blob(row.schedule_idx, &e.digest),
                    &e.digest[..e.digest.len().min(16)],
                ),
                e.bytes.to_string(),
                check,
            ]);
        }
        b.push_str(&table(
            &format!("{side}evidence"),
            &["class", "path", "digest", "bytes", "check"],
            &rows,
        ));
        b.push_str(&inline);
    }
    if full {
        if let Some(iso) = c.and_then(|c| c.isolation.as_ref()) {
            let _ = write!(
                b,
                "<details><summary>isolation</summary><pre>{}</pre></details>",
                esc(&serde_json::to_string_pretty(iso).unwrap_or_default())
            );
        }
    }
    b
}

fn timeline(events: &[StoredEvent], side: &str) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let line = read::inspect::event_line(e);
            // event_line: idx, ts, kind, then the detail.
            let rest = line
                .find(e.event.kind())
                .map(|i| line[i + e.event.kind().len()..].trim().to_string())
                .unwrap_or_default();
            vec![
                e.idx.to_string(),
                esc(&e.ts),
                esc(e.event.kind()),
                esc(&rest),
            ]
        })
        .collect();
    table(
        &format!("{side}timeline"),
        &["event", "time", "kind", "detail"],
        &rows,
    )
}

pub(crate) fn page(run: &RunCtx, slot: &u64) -> Result<Page, ViewError> {
    let d = load(run, *slot)?;
    let links = &run.links;
    let live = d.row.is_none() && !links.export && read::report::runs::holder_alive(&run.journal);
    let title = journal::trial_id_of(*slot);
    let mut b = format!("<h1>{}</h1>", esc(&title));
    b.push_str(&body(run, &d, "", true));
    let mut crumbs = vec![];
    if !links.export {
        crumbs.push(("runs".to_string(), links.runs()));
    }
    crumbs.push((run.id.clone(), links.run(None)));
    crumbs.push(("trials".into(), links.trials("", 0)));
    crumbs.push((title.clone(), links.trial(*slot)));
    Ok(Page {
        title,
        crumbs,
        body: b,
        live,
    })
}

/// Every blob digest a committed trial's completion names (artifacts and evidence).
pub(crate) fn digests(d: &TrialData) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(r) = &d.row {
        out.extend(r.artifacts.iter().map(|a| a.digest.clone()));
    }
    if let Some(c) = &d.completion {
        out.extend(c.evidence.iter().map(|e| e.digest.clone()));
    }
    out.retain(|d| is_digest(d));
    out.sort();
    out.dedup();
    out
}

/// A blob of a trial, as plain text, only when the trial's completion names it.
pub(crate) fn blob(run: &RunCtx, slot: u64, requested: &str) -> Result<Response, ViewError> {
    let d = load(run, slot)?;
    let Some(digest) = digests(&d).into_iter().find(|x| x == requested) else {
        return Err(ViewError::NotFound(format!(
            "trial_{slot:06} has no blob `{requested}` in the journal"
        )));
    };
    let b = read_blob(run, &digest, usize::MAX).map_err(ViewError::Other)?;
    Ok(Response {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: b.head,
        headers: Vec::new(),
    })
}
