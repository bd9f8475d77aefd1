//! The viewer's routes and what they read. A run is named in an address by its
//! directory name, matched against the names the runs directory lists (no path from a
//! request is ever joined onto the file system); a blob by a digest the run's journal
//! holds for that trial.

use crate::html::{dec, enc};
use journal::{Journal, JournalError};
use read::report::{self, BootstrapOptions};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// An answer: status, type, body and extra headers.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    pub(crate) fn text(status: u16, msg: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: msg.as_bytes().to_vec(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn html(status: u16, body: String) -> Response {
        Response {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
            headers: Vec::new(),
        }
    }
}

/// Why a page (or an export) cannot be made; the server answers with the status each
/// variant maps to and the message as the body.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// No such run, trial, slot or blob here (404).
    #[error("{0}")]
    NotFound(String),
    /// A malformed request: a bad parameter, or an export into a non-empty folder (400).
    #[error("{0}")]
    BadRequest(String),
    /// The run's journal cannot be opened or read (500).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Any other failure, such as a file that cannot be written or read (500).
    #[error("{0}")]
    Other(String),
}

impl ViewError {
    pub(crate) fn status(&self) -> u16 {
        match self {
            ViewError::NotFound(_) => 404,
            ViewError::BadRequest(_) => 400,
            _ => 500,
        }
    }
}

/// Where links point: the server's addresses, or the flat files of a static export.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    pub export: bool,
    pub run_id: String,
}

impl Links {
    fn base(&self) -> String {
        format!("/runs/{}", enc(&self.run_id))
    }
    pub(crate) fn runs(&self) -> String {
        if self.export {
            "index.html".into()
        } else {
            "/".into()
        }
    }
    pub(crate) fn run(&self, at: Option<u64>) -> String {
        match (self.export, at) {
            (true, _) => "index.html".into(),
            (false, None) => self.base(),
            (false, Some(n)) => format!("{}?at={n}", self.base()),
        }
    }
    /// `query` is the already-encoded query (filters, sort, page) of a trials page.
    pub(crate) fn trials(&self, query: &str, page: u64) -> String {
        if self.export {
            format!("trials-{}.html", page + 1)
        } else if query.is_empty() {
            format!("{}/trials", self.base())
        } else {
            format!("{}/trials?{query}", self.base())
        }
    }
    pub(crate) fn trial(&self, slot: u64) -> String {
        if self.export {
            format!("trial-{slot}.html")
        } else {
            format!("{}/trials/{slot}", self.base())
        }
    }
    pub(crate) fn blob(&self, slot: u64, digest: &str) -> String {
        if self.export {
            format!("blob-{digest}.txt")
        } else {
            format!("{}/trials/{slot}/blob/{digest}", self.base())
        }
    }
    pub(crate) fn compare(&self, a: u64, b: u64) -> String {
        if self.export {
            format!("compare-{a}-{b}.html")
        } else {
            format!("{}/compare?a={a}&b={b}", self.base())
        }
    }
    pub(crate) fn report(&self) -> String {
        if self.export {
            "report.html".into()
        } else {
            format!("{}/report", self.base())
        }
    }
    pub(crate) fn inspect(&self) -> Option<String> {
        (!self.export).then(|| format!("{}/inspect", self.base()))
    }
}

/// One run opened for a request.
pub(crate) struct RunCtx {
    pub id: String,
    pub dir: PathBuf,
    pub journal: Journal,
    pub links: Links,
}

/// A computed `labj report` (its JSON document, `labj report --format json`) and the
/// slots of the flipped pairs it lists, by (variant, task, replication).
pub(crate) struct ReportData {
    pub report: serde_json::Value,
    pub slots: HashMap<(String, String, u32), u64>,
    pub events: u64,
    pub took_ms: u128,
}

enum ReportState {
    Computing { events: u64, since: Instant },
    Ready(Arc<ReportData>),
    Failed { events: u64, error: String },
}

/// What the viewer serves: the runs of one runs directory (or a single run), and the
/// reports computed for them so far.
pub struct Site {
    runs_dir: PathBuf,
    /// `labj view RUN`: only this run directory.
    only: Option<PathBuf>,
    reports: Arc<Mutex<HashMap<PathBuf, ReportState>>>,
    /// A `labj` binary: the report is computed by `labj report --format json` in a
    /// child process, so the fold of every event it needs never grows the server.
    report_exe: Option<PathBuf>,
}

/// The state of a run's report for a page.
pub(crate) enum ReportView {
    Ready(Arc<ReportData>),
    Computing { secs: f64 },
    Failed(String),
}

impl Site {
    /// Serves the runs `runs_dir` lists, or only the run directory `only` when given.
    /// Reports are folded in this process until [`Site::with_report_command`] is set.
    pub fn new(runs_dir: PathBuf, only: Option<PathBuf>) -> Site {
        Site {
            runs_dir,
            only,
            reports: Arc::new(Mutex::new(HashMap::new())),
            report_exe: None,
        }
    }

    /// Computes reports with `exe report DIR --format json` in a child process.
    pub fn with_report_command(mut self, exe: PathBuf) -> Site {
        self.report_exe = Some(exe);
        self
    }

    pub(crate) fn runs_dir(&self) -> &Path {
        &self.runs_dir
    }

    pub(crate) fn only(&self) -> Option<&Path> {
        self.only.as_deref()
    }

    /// The run directory named `id`: one the runs directory lists (or the one run).
    pub(crate) fn run_dir(&self, id: &str) -> Option<PathBuf> {
        if let Some(only) = &self.only {
            return (only.file_name().and_then(|n| n.to_str()) == Some(id)).then(|| only.clone());
        }
        std::fs::read_dir(&self.runs_dir)
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_str() == Some(id))
            .map(|e| e.path())
            .filter(|p| journal::RunDir::new(p).journal_path().is_file())
    }

    pub(crate) fn open_run(&self, id: &str, export: bool) -> Result<RunCtx, ViewError> {
        let dir = self
            .run_dir(id)
            .ok_or_else(|| ViewError::NotFound(format!("no run `{id}` here")))?;
        let journal = journal::RunDir::new(&dir).open_read_only()?;
        Ok(RunCtx {
            id: id.to_string(),
            dir,
            journal,
            links: Links {
                export,
                run_id: id.to_string(),
            },
        })
    }

    /// The run's report for the journal as it is now: computed on a background thread
    /// (a fold of every event), so a page never waits for it; `wait` blocks (exports).
    pub(crate) fn report(&self, run: &RunCtx, wait: bool) -> ReportView {
        let events = run.journal.len();
        {
            let map = self.reports.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&run.dir) {
                Some(ReportState::Ready(r)) if r.events == events => {
                    return ReportView::Ready(Arc::clone(r))
                }
                Some(ReportState::Computing { events: e, since }) if *e == events && !wait => {
                    return ReportView::Computing {
                        secs: since.elapsed().as_secs_f64(),
                    }
                }
                Some(ReportState::Failed { events: e, error }) if *e == events => {
                    return ReportView::Failed(error.clone())
                }
                _ => {}
            }
        }
        let dir = run.dir.clone();
        let exe = self.report_exe.clone();
        let compute = move || -> Result<ReportData, String> {
            let t = Instant::now();
            let report = match &exe {
                Some(exe) => report_in_child(exe, &dir)?,
                None => {
                    let j = journal::RunDir::new(&dir)
                        .open_read_only()
                        .map_err(|e| e.to_string())?;
                    let facts = report::collect(&j).map_err(|e| e.to_string())?;
                    let r = report::build(&dir, &facts, BootstrapOptions::default());
                    serde_json::to_value(&r).map_err(|e| e.to_string())?
                }
            };
            let j = journal::RunDir::new(&dir)
                .open_read_only()
                .map_err(|e| e.to_string())?;
            let mut slots = HashMap::new();
            for c in report["comparisons"].as_array().into_iter().flatten() {
                let (Some(b), Some(v)) = (c["baseline_id"].as_str(), c["variant_id"].as_str())
                else {
                    continue;
                };
                for key in ["gained", "lost"] {
                    for f in c[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .take(FLIPS_LOOKED_UP)
                    {
                        let (Some(task), Some(repl)) =
                            (f["task_id"].as_str(), f["repl_idx"].as_u64())
                        else {
                            continue;
                        };
                        for variant in [b, v] {
                            let k = (variant.to_string(), task.to_string(), repl as u32);
                            if slots.contains_key(&k) {
                                continue;
                            }
                            if let Some(s) = j
                                .slot_of(variant, task, repl as u32, u64::MAX)
                                .map_err(|e| e.to_string())?
                            {
                                slots.insert(k, s);
                            }
                        }
                    }
                }
            }
            Ok(ReportData {
                report,
                slots,
                events,
                took_ms: t.elapsed().as_millis(),
            })
        };
        let store = move |reports: &Mutex<HashMap<PathBuf, ReportState>>,
                          dir: PathBuf,
                          r: Result<ReportData, String>| {
            let mut map = reports.lock().unwrap_or_else(|p| p.into_inner());
            let state = match r {
                Ok(d) => ReportState::Ready(Arc::new(d)),
                Err(error) => ReportState::Failed { events, error },
            };
            map.insert(dir, state);
        };
        if wait {
            store(&self.reports, run.dir.clone(), compute());
            return self.report(run, false);
        }
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                run.dir.clone(),
                ReportState::Computing {
                    events,
                    since: Instant::now(),
                },
            );
        let reports = Arc::clone(&self.reports);
        let dir = run.dir.clone();
        std::thread::spawn(move || store(&reports, dir, compute()));
        ReportView::Computing { secs: 0.0 }
    }
}

/// How many flipped pairs per comparison and direction get a compare link.
pub(crate) const FLIPS_LOOKED_UP: usize = 200;

/// `labj report DIR --format json` in a child process.
fn report_in_child(exe: &Path, dir: &Path) -> Result<serde_json::Value, String> {
    let out = std::process::Command::new(exe)
        .arg("report")
        .arg(dir)
        .args(["--format", "json"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} report: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "labj report failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("labj report printed no JSON: {e}"))
}

/// `a=1&b=x%20y` → map (last value wins).
pub(crate) fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(kv), String::new()),
        })
        .collect()
}
