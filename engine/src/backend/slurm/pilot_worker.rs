//! What a pilot worker job runs (`labj trial pilot`): it takes the trials the
//! coordinator writes into its inbox one after another (several at once when the
//! coordinator gives it several), runs each with the same
//! [`execute_and_compact`](exec::executor::execute_and_compact) as a local run (its
//! trial directories retired and used again as a local session's are), and writes each
//! outcome into its outbox. It never touches the journal. It exits when the coordinator
//! writes `stop` or when it had nothing to do for its idle time, after finishing what it
//! took; before taking nothing more it writes `gone`, so the coordinator hands it
//! nothing more. File layout: [`super::pilot_files`].

use super::pilot_files::{self as files, Ctl};
use exec::executor::recycle::TrialDirs;
use exec::executor::{execute_and_compact, TrialControl};
use model::trial::TrialSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest and longest pause between two looks at the inbox: short right after
/// work came or went, growing while nothing happens (to `TICK_ACTIVE` within
/// `ACTIVE_FOR` of the last change: the next trial usually follows a completion).
const TICK_MIN: Duration = Duration::from_millis(1);
const TICK_ACTIVE: Duration = Duration::from_millis(4);
const ACTIVE_FOR: Duration = Duration::from_secs(2);
const TICK_MAX: Duration = Duration::from_millis(20);
/// A gap this much longer than the tick means the whole job was stopped (`scontrol
/// suspend`): the time is credited as paused to the trials it runs.
const SUSPEND_GAP: Duration = Duration::from_millis(500);

/// Control requested for a trial not started yet, applied when it starts.
#[derive(Default)]
struct Early {
    paused: bool,
    stop: Option<String>,
}

struct Worker {
    dir: PathBuf,
    running: HashMap<String, Arc<TrialControl>>,
    early: HashMap<String, Early>,
    seen: HashMap<String, u64>,
    done_tx: mpsc::Sender<String>,
    done_rx: mpsc::Receiver<String>,
    /// Trial directories compaction retired, for this job's next trials.
    dirs: Arc<TrialDirs>,
}

/// Serve trials from `<workers_dir>/<job_id>` until stopped or idle for `idle`.
/// Returns how many trials it ran.
pub fn serve(workers_dir: &Path, job_id: &str, idle: Duration) -> Result<usize, String> {
    if job_id.is_empty()
        || !job_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!(
            "labj trial pilot: job id {job_id:?} is not a Slurm job id (SLURM_JOB_ID)"
        ));
    }
    let dir = workers_dir.join(job_id);
    files::create_worker_dirs(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (done_tx, done_rx) = mpsc::channel();
    let mut w = Worker {
        dir,
        running: HashMap::new(),
        early: HashMap::new(),
        seen: HashMap::new(),
        done_tx,
        done_rx,
        dirs: Arc::new(TrialDirs::tagged(&format!("job{job_id}"))),
    };
    let mut ran = 0;
    let mut gone = false;
    let mut last_work = Instant::now();
    let mut tick = TICK_MIN;
    loop {
        let mut busy = false;
        while let Ok(t) = w.done_rx.try_recv() {
            // `seen` keeps the ticket: its control file stays until the coordinator
            // collects the outcome, and must not be applied again.
            w.running.remove(&t);
            w.early.remove(&t);
            busy = true;
        }
        busy |= w.control();
        if !gone {
            let idle_over = w.running.is_empty() && last_work.elapsed() >= idle;
            if idle_over || w.dir.join(files::STOP).exists() {
                // Say so first: whatever the coordinator wrote before it saw `gone` is
                // in the inbox by now and taken below; nothing comes after.
                files::put(&w.dir, &w.dir.join(files::GONE), b"", false)
                    .map_err(|e| format!("{}: {e}", w.dir.display()))?;
                gone = true;
                w.control();
            }
            let n = w.claim()?;
            ran += n;
            busy |= n > 0;
        }
        if gone && w.running.is_empty() {
            return Ok(ran);
        }
        if busy {
            last_work = Instant::now();
            tick = TICK_MIN;
        } else {
            let cap = if last_work.elapsed() < ACTIVE_FOR {
                TICK_ACTIVE
            } else {
                TICK_MAX
            };
            tick = (tick * 2).min(cap);
        }
        let before = Instant::now();
        std::thread::sleep(tick);
        let slept = before.elapsed();
        if slept > tick + SUSPEND_GAP {
            for c in w.running.values() {
                c.credit_paused(slept - tick);
            }
        }
    }
}

impl Worker {
    /// Apply new control requests; true when there was one.
    fn control(&mut self) -> bool {
        let ctl_dir = self.dir.join(files::CTL);
        let Ok(rd) = std::fs::read_dir(&ctl_dir) else {
            return false;
        };
        let mut any = false;
        for entry in rd.filter_map(|e| e.ok()) {
            let ticket = entry.file_name().to_string_lossy().into_owned();
            if ticket.starts_with('.') {
                continue;
            }
            let Some(c) = std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|t| Ctl::parse(&t))
            else {
                continue;
            };
            if self.seen.get(&ticket).is_some_and(|s| *s >= c.seq) {
                continue;
            }
            self.seen.insert(ticket.clone(), c.seq);
            any = true;
            let result = self.apply(&ticket, &c);
            let ack = match result {
                Ok(()) => format!("{} ok", c.seq),
                Err(e) => format!("{} err {e}", c.seq),
            };
            let _ = files::put(
                &self.dir,
                &self.dir.join(files::ACK).join(&ticket),
                ack.as_bytes(),
                false,
            );
        }
        any
    }

    fn apply(&mut self, ticket: &str, c: &Ctl) -> Result<(), String> {
        if let Some(control) = self.running.get(ticket) {
            return match c.verb.as_str() {
                "pause" => control.pause(),
                "resume" => control.resume(),
                "stop" => {
                    control.stop(&c.reason);
                    Ok(())
                }
                v => Err(format!("unknown control request {v:?}")),
            };
        }
        let e = self.early.entry(ticket.to_string()).or_default();
        match c.verb.as_str() {
            "pause" if e.paused => Err("trial is already paused".into()),
            "pause" => {
                e.paused = true;
                Ok(())
            }
            "resume" if !e.paused => Err("trial is not paused".into()),
            "resume" => {
                e.paused = false;
                Ok(())
            }
            "stop" => {
                e.stop = Some(c.reason.clone());
                Ok(())
            }
            v => Err(format!("unknown control request {v:?}")),
        }
    }

    /// Take every trial in the inbox and start it; returns how many.
    fn claim(&mut self) -> Result<usize, String> {
        let inbox = self.dir.join(files::INBOX);
        let claimed_dir = self.dir.join(files::CLAIMED);
        let mut n = 0;
        for ticket in files::tickets_in(&inbox) {
            let name = format!("{ticket}.json");
            let claimed = claimed_dir.join(&name);
            if std::fs::rename(inbox.join(&name), &claimed).is_err() {
                continue;
            }
            n += 1;
            let spec = std::fs::read(&claimed)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<TrialSpec>(&b).map_err(|e| e.to_string()));
            let outbox = self.dir.join(files::OUTBOX).join(&name);
            let spec = match spec {
                Ok(s) => s,
                Err(e) => {
                    // Nothing to run: say why in place of an outcome.
                    let o = model::trial::TrialOutcome::infra(
                        journal::event::Classification::WorkerLost,
                        format!("{}: not a trial spec: {e}", claimed.display()),
                    );
                    let json = serde_json::to_vec(&o).map_err(|e| e.to_string())?;
                    files::put(&self.dir, &outbox, &json, true)
                        .map_err(|e| format!("{}: {e}", outbox.display()))?;
                    continue;
                }
            };
            let control = TrialControl::new();
            if let Some(e) = self.early.remove(&ticket) {
                if let Some(r) = e.stop {
                    control.stop(&r);
                } else if e.paused {
                    // Not started: holds it until a resume.
                    let _ = control.pause();
                }
            }
            self.running.insert(ticket.clone(), Arc::clone(&control));
            let (dir, tx) = (self.dir.clone(), self.done_tx.clone());
            let dirs = Arc::clone(&self.dirs);
            std::thread::spawn(move || {
                // Agent spawns copy only this thread's few descriptors (see the fn).
                exec::executor::private_fd_table();
                let outcome = execute_and_compact(&spec, &control, &dirs);
                match serde_json::to_vec(&outcome) {
                    Ok(json) => {
                        if let Err(e) = files::put(&dir, &outbox, &json, true) {
                            // The coordinator sees no outcome and, once the job ends,
                            // reports the trial lost: an infrastructure fault.
                            tracing::error!("cannot write {}: {e}", outbox.display());
                        }
                    }
                    Err(e) => tracing::error!("outcome of {ticket}: {e}"),
                }
                let _ = std::fs::remove_file(&claimed);
                let _ = tx.send(ticket);
            });
        }
        Ok(n)
    }
}
