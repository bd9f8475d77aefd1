//! Read-only views of a run for `labj verify`, `labj inspect`, `labj events`.

use engine::coordinator::InfraRetry;
use engine::lease::{self, Liveness};
use engine::run::{recovery_plan, RecoveryPlan};
use journal::event::{Classification, Event, StoredEvent};
use journal::projection::RunStatus;
use journal::{Journal, JournalError, Projections};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The outcome of `labj verify`.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    /// Events in the journal.
    pub events: u64,
    /// The chain's head: the hash of the last event the check reached.
    pub head_hash: String,
    /// Every fault found, first bad idx first; empty = the journal verifies.
    pub faults: Vec<String>,
    /// Index of the first event that fails a check, when one does.
    pub first_bad_idx: Option<u64>,
    /// How the events table compares with the chain head recorded outside it.
    pub head_record: String,
}

impl VerifyReport {
    /// Whether the journal verifies: no fault found.
    pub fn ok(&self) -> bool {
        self.faults.is_empty()
    }
}

/// Hash chain, every payload against its schema, materialized == rebuilt projections.
pub fn verify(journal: &Journal) -> Result<VerifyReport, JournalError> {
    let chain = journal.verify_chain()?;
    let (mut faults, mut first_bad) = chain_faults(&chain.first_bad);
    let mut schema_fault: Option<(u64, String)> = None;
    let upto = first_bad.map(|i| i.saturating_sub(1));
    // Blobs referenced by completions: (event idx, what, digest). A remote run's blobs
    // are copied home before each completion is journaled; those its coordinator
    // journaled as not fetched (`remote_evidence_not_fetched`) are known to be absent.
    let mut blobs: Vec<(u64, String, String)> = Vec::new();
    let mut not_fetched: std::collections::BTreeSet<String> = Default::default();
    let mut claims = Vec::new();
    if first_bad != Some(0) {
        journal.for_each_event(0, upto, false, |e| {
            if schema_fault.is_none() {
                let name = format!("event_{}", e.event.kind());
                if let Err(err) = model::schemas::validate(&name, &e.event.payload_value()) {
                    schema_fault = Some((e.idx, err.to_string()));
                }
            }
            match &e.event {
                Event::BackendWarning(w) if w.code == "remote_evidence_not_fetched" => {
                    // Older journals named the digests only in the message text: the
                    // upcaster (journal::upcast) lifts them into `digests`.
                    not_fetched.extend(w.digests.iter().cloned());
                }
                Event::TrialCompleted(tc) => {
                    claims.extend(crate::verdict_check::claim(e.idx, tc));
                    for a in &tc.artifacts {
                        blobs.push((e.idx, format!("artifact {}", a.name), a.digest.clone()));
                    }
                    for ev in &tc.evidence {
                        blobs.push((e.idx, format!("evidence {}", ev.path), ev.digest.clone()));
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
    }
    blobs.retain(|(_, _, d)| !not_fetched.contains(d));
    if let Some(run_dir) = journal.path().parent() {
        let dir = journal::RunDir::new(run_dir).blobs();
        // Each distinct blob is hashed once, however many events reference it.
        let mut checked: BTreeMap<&str, Result<(), String>> = BTreeMap::new();
        let bad: Vec<String> = blobs
            .iter()
            .filter_map(|(idx, what, digest)| {
                checked
                    .entry(digest.as_str())
                    .or_insert_with(|| exec::executor::blobs::verify_blob(&dir, digest))
                    .clone()
                    .err()
                    .map(|why| format!("event {idx}: {what}: {why}"))
            })
            .collect();
        let contradicted = crate::verdict_check::faults(&dir, &claims);
        if !contradicted.is_empty() {
            faults.push(format!(
                "{} journaled verdict(s) contradict their stored result or grade: {}{}",
                contradicted.len(),
                contradicted
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "),
                if contradicted.len() > 5 { "; …" } else { "" }
            ));
        }
        if !bad.is_empty() {
            faults.push(format!(
                "{} of {} stored blob(s) are missing or damaged: {}{}",
                bad.len(),
                blobs.len(),
                bad.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
                if bad.len() > 5 { "; …" } else { "" }
            ));
        }
    }
    if let Some((idx, msg)) = schema_fault {
        faults.push(format!(
            "event {idx}: payload does not match its schema: {msg}"
        ));
        first_bad = Some(first_bad.map_or(idx, |b| b.min(idx)));
    }
    let head = journal.check_head()?;
    let cut = head_faults(&head, &mut faults, &mut first_bad);
    if chain.first_bad.is_none() {
        match journal.diff_materialized() {
            Ok(None) => {}
            // After a cut the projections may still describe the lost events; rebuilding
            // would only hide the loss, so the hint says what helps.
            Ok(Some(d)) if cut => faults.push(format!(
                "materialized projections differ from a rebuild from the remaining events: {d} (a consequence of the damage above; `labj rebuild` would not restore the lost events)"
            )),
            Ok(Some(d)) => faults.push(format!(
                "materialized projections differ from a rebuild from events: {d} (the events are intact: `labj rebuild` recomputes the projections from them)"
            )),
            Err(JournalError::Fold { source, .. }) => {
                faults.push(format!("events do not fold: {source}"));
                first_bad = Some(first_bad.map_or(source.idx, |b| b.min(source.idx)));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(VerifyReport {
        events: chain.events,
        head_hash: chain.head_hash,
        faults,
        first_bad_idx: first_bad,
        head_record: head.describe(),
    })
}

/// The report lines of a chain check's first bad event, and that event.
fn chain_faults(first_bad: &Option<(u64, String)>) -> (Vec<String>, Option<u64>) {
    match first_bad {
        Some((idx, reason)) => (vec![format!("event {idx}: {reason}")], Some(*idx)),
        None => (Vec::new(), None),
    }
}

/// Adds a failed head-record check to the report (a cut tail moves the first bad event
/// back to where the journal now ends); true when it failed.
fn head_faults(
    head: &journal::store::integrity::HeadCheck,
    faults: &mut Vec<String>,
    first_bad: &mut Option<u64>,
) -> bool {
    if head.is_ok() {
        return false;
    }
    faults.push(head.describe());
    if let journal::store::integrity::HeadCheck::Truncated { present, .. } = head {
        *first_bad = Some(first_bad.map_or(*present, |b| b.min(*present)));
    }
    true
}

/// What `inspect` checks: the whole hash chain (one streamed pass) and the chain head
/// record. The payload schemas, the stored blobs and the materialized projections are
/// `labj verify`'s (each a further pass over every event), so `inspect` stays quick on
/// a long run; a fault found here names `labj verify` for the rest.
pub(crate) fn chain_check(journal: &Journal) -> Result<VerifyReport, JournalError> {
    let chain = journal.check_chain_hashes()?;
    let (mut faults, mut first_bad) = chain_faults(&chain.first_bad);
    let head = journal.check_head()?;
    head_faults(&head, &mut faults, &mut first_bad);
    Ok(VerifyReport {
        events: chain.events,
        head_hash: chain.head_hash,
        faults,
        first_bad_idx: first_bad,
        head_record: head.describe(),
    })
}

/// One stale active trial in an inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleTrial {
    /// The trial.
    pub trial_id: String,
    /// The worker it was dispatched to.
    pub worker_id: String,
    /// Its slot in the schedule.
    pub schedule_idx: u64,
    /// Its variant.
    pub variant_id: String,
    /// When it was dispatched (journal time, UTC).
    pub started_at: String,
    /// Time since then, for a person (`?` when the time cannot be read).
    pub running_for: String,
}

/// The forensic report of `labj inspect`.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The run.
    pub run_id: String,
    /// The status the journal records (`running` for a run whose process died).
    pub journaled_status: String,
    /// Whether a live process holds the run, from its lease: `live: …`, `crashed: …`,
    /// `finished: …`, `stopped: …` or `unknown: …`, with the holder and its last heartbeat.
    pub liveness: String,
    /// The last events of the journal (as many as asked for).
    pub last_events: Vec<StoredEvent>,
    /// Trials the journal says are running: after a crash, the ones `continue` reports
    /// lost.
    pub stale: Vec<StaleTrial>,
    /// Committed trials by unsuccessful classification.
    pub failures: BTreeMap<String, u64>,
    /// The hash chain check; the projections are folded only as far as it holds.
    pub verify: VerifyReport,
    /// What `continue` would do (the recovery plan); `None` for a completed run.
    pub plan: Option<RecoveryPlan>,
    /// Slots in the schedule.
    pub total_slots: u64,
    /// The projections folded up to the last event the chain check accepts.
    pub projections: Projections,
    /// Slurm jobs of the trials still active (every attempt journaled), with the state
    /// Slurm reports now; empty for runs on other executors.
    pub backend_jobs: Vec<BackendJobView>,
    /// How many backend jobs the journal records in all.
    pub backend_jobs_total: usize,
}

/// One journaled backend job and what Slurm says about it now.
#[derive(Debug, Clone)]
pub struct BackendJobView {
    /// The trial the job runs.
    pub trial_id: String,
    /// The dispatch (ticket) the job belongs to.
    pub ticket_id: String,
    /// The Slurm job id.
    pub job_id: String,
    /// `submitted` (a new job) or `reattached` (a `continue` took over a live job).
    pub action: String,
    /// e.g. `RUNNING`, `SUSPENDED`, `CANCELLED (None)`, or why it is unknown.
    pub state: String,
}

pub(crate) fn parse_ts_ms(ts: &str) -> Option<i64> {
    // YYYY-MM-DDTHH:MM:SS.mmmZ as written by journal::format_ts.
    let b = ts.as_bytes();
    if b.len() < 23 {
        return None;
    }
    let n = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, s, ms) = (n(11..13)?, n(14..16)?, n(17..19)?, n(20..23)?);
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1000) + ms)
}

fn human_ms(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}.{:01}s", s, (ms % 1000) / 100)
    }
}

/// The forensic report of the run in `run_dir` (`labj inspect`), with its last `last_n`
/// events: works on a crashed or tampered run, folding as far as the hash chain holds.
pub fn inspect(run_dir: &Path, last_n: usize) -> Result<Inspection, JournalError> {
    let journal = journal::RunDir::new(run_dir).open_read_only()?;
    let verify = chain_check(&journal)?;
    // Fold as far as the chain is good, so a tampered journal can still be inspected;
    // from the newest verified snapshot (the chain was just checked from event 0).
    let until = match verify.first_bad_idx {
        Some(0) => None,
        Some(i) => Some(i - 1),
        None => journal.len().checked_sub(1),
    };
    let projections = match until {
        Some(u) => journal
            .fold_from_snapshot(Some(u))
            .map(|f| f.projections)
            .unwrap_or_default(),
        None => Projections::default(),
    };
    let from = journal.len().saturating_sub(last_n as u64);
    let mut last_events = Vec::new();
    journal.for_each_event(from, None, false, |e| {
        last_events.push(e);
        Ok(())
    })?;
    let now = lease::now_ms();
    let status = projections.control.status;
    let liveness = match lease::read(&journal) {
        Ok(Some(row)) => match lease::liveness(&row, now) {
            Liveness::Alive => format!(
                "live: held by pid {} on {} (session {}), heartbeat {} ago",
                row.pid,
                row.host,
                row.session_id,
                human_ms(now - row.heartbeat_ms)
            ),
            Liveness::Dead(why) => format!(
                "crashed: {why}; last heartbeat at {}",
                journal::format_ts(row.heartbeat_ms)
            ),
        },
        Ok(None) => match status {
            RunStatus::Completed => "finished: no process holds the run".into(),
            _ => format!(
                "stopped: no process holds the run (journaled status {})",
                status.as_str()
            ),
        },
        Err(e) => format!("unknown: cannot read lease ({e})"),
    };
    let stale = projections
        .control
        .active_trials
        .values()
        .map(|t| StaleTrial {
            trial_id: t.trial_id.clone(),
            worker_id: t.worker_id.clone(),
            schedule_idx: t.schedule_idx,
            variant_id: t.variant_id.clone(),
            started_at: t.started_at.clone(),
            running_for: parse_ts_ms(&t.started_at)
                .map(|s| human_ms(now - s))
                .unwrap_or_else(|| "?".into()),
        })
        .collect();
    let failures = projections
        .aggregates
        .overall
        .by_classification
        .iter()
        .filter(|(k, _)| Classification::parse(k).is_some_and(|c| !c.is_success()))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let plan = (status != RunStatus::Completed && projections.run.is_some()).then(|| {
        // The budget the run was created with; `--no-retry-lost` may lower it.
        let mut created = serde_json::Value::Null;
        let _ = journal.for_each_event(0, Some(0), false, |e| {
            if let Event::RunCreated(rc) = e.event {
                created = rc.experiment;
            }
            Ok(())
        });
        recovery_plan(&projections, InfraRetry::from_resolved_experiment(&created))
    });
    let (backend_jobs, backend_jobs_total) = backend_jobs(&journal, &projections)?;
    Ok(Inspection {
        run_id: projections
            .run
            .as_ref()
            .map(|r| r.run_id.clone())
            .unwrap_or_default(),
        journaled_status: status.as_str().into(),
        liveness,
        last_events,
        stale,
        failures,
        verify,
        plan,
        total_slots: projections.progress.total_slots,
        projections,
        backend_jobs,
        backend_jobs_total,
    })
}

/// Journaled Slurm jobs of the active trials, with their current Slurm state.
fn backend_jobs(
    journal: &Journal,
    proj: &Projections,
) -> Result<(Vec<BackendJobView>, usize), JournalError> {
    let mut all = Vec::new();
    // A rare kind: read through the kinds index, not by scanning every event.
    journal.for_each_event_of_kind("backend_job_submitted", |e| {
        if let Event::BackendJobSubmitted(b) = e.event {
            all.push(b);
        }
        Ok(())
    })?;
    let total = all.len();
    let active: Vec<_> = all
        .into_iter()
        .filter(|b| proj.control.active_trials.contains_key(&b.trial_id))
        .collect();
    let ids: Vec<String> = active.iter().map(|b| b.job_id.clone()).collect();
    let states = engine::backend::slurm::squeue(&ids);
    let views = active
        .into_iter()
        .map(|b| {
            let state = match &states {
                Ok(m) => match m.get(&b.job_id) {
                    Some(s) => format!("{} ({})", s.state, s.reason),
                    None => "unknown to Slurm (finished long ago or never ran)".into(),
                },
                Err(e) => format!("unknown: {e}"),
            };
            BackendJobView {
                trial_id: b.trial_id,
                ticket_id: b.ticket_id,
                job_id: b.job_id,
                action: b.action,
                state,
            }
        })
        .collect();
    Ok((views, total))
}

/// One event as JSON (for `labj events --json` and reports).
pub fn event_json(e: &StoredEvent) -> Value {
    json!({
        "idx": e.idx,
        "ts": e.ts,
        "kind": e.event.kind(),
        "schedule_idx": e.event.schedule_idx(),
        "trial_id": e.event.trial_id(),
        "payload": e.event.payload_value(),
    })
}

/// One event as a greppable line.
pub fn event_line(e: &StoredEvent) -> String {
    let mut s = format!("{:>7} {} {:<20}", e.idx, e.ts, e.event.kind());
    if let Some(i) = e.event.schedule_idx() {
        s.push_str(&format!(" slot={i}"));
    }
    if let Some(t) = e.event.trial_id() {
        s.push_str(&format!(" trial={t}"));
    }
    let detail = match &e.event {
        Event::TrialCompleted(c) => {
            let mut d = format!(" {}", c.classification.as_str());
            for a in c.artifacts.iter().filter(|a| a.written_bytes.is_some()) {
                d.push_str(&format!(
                    " cut={}:{}/{}",
                    a.name,
                    a.bytes,
                    a.written_bytes.unwrap_or(a.bytes)
                ));
            }
            d
        }
        Event::SlotCommitted(c) => format!(" {} {}", c.status.as_str(), c.classification.as_str()),
        Event::RunFailed(f) => format!(" error={:?}", f.error),
        Event::WorkerLost(w) => format!(
            " {}{} {:?}",
            if w.retry { "re-run" } else { "committed lost" },
            if w.stopped_by_kill {
                " (stopped by kill)"
            } else {
                ""
            },
            w.reason
        ),
        Event::SessionStarted(s) => format!(" {} pid={} host={}", s.mode, s.pid, s.host),
        Event::PauseAcked(a) => format!(" accepted={}", a.accepted),
        Event::VariantPruned(v) => format!(
            " variant={} after {} failures",
            v.variant_id, v.consecutive_failures
        ),
        Event::BackendWarning(w) => format!(" {}", w.message),
        Event::BackendJobSubmitted(b) => format!(" {} {} job={}", b.backend, b.action, b.job_id),
        Event::BudgetReached(b) => format!(" {}", engine::budget::describe(b)),
        _ => String::new(),
    };
    s.push_str(&detail);
    s
}

/// `--until` / `--from` / `--to`: event indexes are 0 or more.
pub fn event_idx(flag: &str, v: Option<i64>) -> Result<Option<u64>, String> {
    match v {
        Some(n) if n < 0 => Err(format!(
            "{flag} {n}: event indexes start at 0 (the first event); give 0 or more"
        )),
        v => Ok(v.map(|n| n as u64)),
    }
}

/// `labj events --from A --to B`: both event indexes, `A <= B`.
pub fn event_range(from: Option<i64>, to: Option<i64>) -> Result<(u64, Option<u64>), String> {
    let from = event_idx("--from", from)?.unwrap_or(0);
    let to = event_idx("--to", to)?;
    if let Some(t) = to {
        if t < from {
            return Err(format!(
                "--from {from} --to {t}: the range is empty (--to must be at least --from)"
            ));
        }
    }
    Ok((from, to))
}

/// What `status` adds to the journaled status: a run the journal calls running, paused
/// or interrupted that no live labj process drives has stopped (crashed, killed with
/// SIGKILL, or its kill never finished).
pub fn liveness_note(
    journal: &Journal,
    proj: &Projections,
) -> Result<Option<String>, JournalError> {
    let stopped_here = matches!(
        proj.control.status,
        RunStatus::Running | RunStatus::Paused | RunStatus::Interrupted
    );
    if !stopped_here || lease::live_holder(journal)?.is_some() {
        return Ok(None);
    }
    let run_id = proj.run.as_ref().map(|r| r.run_id.as_str()).unwrap_or("?");
    let at_budget = proj.control.status == RunStatus::Interrupted
        && proj
            .control
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("budget reached"));
    if at_budget {
        return Ok(Some(format!(
            "stopped at its budget: `labj continue {run_id} --budget CAP=VALUE` raises it and resumes"
        )));
    }
    Ok(Some(format!(
        "not live: the journal says {}, but no labj process is driving run {run_id} (it crashed or was killed); `labj continue {run_id}` resumes it",
        proj.control.status.as_str()
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_round_trip() {
        for ms in [0i64, 951_782_400_000, 1_795_849_445_123] {
            let ts = journal::format_ts(ms);
            assert_eq!(super::parse_ts_ms(&ts), Some(ms), "{ts}");
        }
    }
}
