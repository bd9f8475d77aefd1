//! Which runs directory a command uses, and how it was chosen: given (`--runs-dir`,
//! `LABJ_RUNS_DIR`), or `runs/` of the project's `.lab` found as git finds `.git` (for
//! `run`, from the experiment's folder; otherwise from the current directory). A "no
//! run" error says where it looked and how to look elsewhere.

use anyhow::anyhow;
use engine::run::{self, RunError, LAB_DIR};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub enum Origin {
    /// `--runs-dir` or `LABJ_RUNS_DIR`.
    Given,
    /// The `.lab` at or above the experiment file (`run`).
    Experiment,
    /// The `.lab` found at or above `from` (the current directory).
    Found { from: PathBuf },
    /// No `.lab` at or above `from`.
    NotFound { from: PathBuf },
}

#[derive(Debug, Clone)]
pub struct RunsDir {
    pub dir: PathBuf,
    pub origin: Origin,
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

impl RunsDir {
    /// For commands that name a run or list runs.
    pub fn for_reading(given: Option<PathBuf>) -> RunsDir {
        if let Some(dir) = given {
            return RunsDir {
                dir,
                origin: Origin::Given,
            };
        }
        let from = cwd();
        match run::find_lab(&from) {
            Some(lab) => RunsDir {
                dir: lab.join("runs"),
                origin: Origin::Found { from },
            },
            None => RunsDir {
                dir: from.join(LAB_DIR).join("runs"),
                origin: Origin::NotFound { from },
            },
        }
    }

    /// For `run`: the project of the experiment unless given.
    pub fn for_experiment(given: Option<PathBuf>, experiment: &Path) -> RunsDir {
        match given {
            Some(dir) => RunsDir {
                dir,
                origin: Origin::Given,
            },
            None => RunsDir {
                dir: run::project_runs_dir(experiment),
                origin: Origin::Experiment,
            },
        }
    }

    /// How the directory was chosen, for messages.
    pub fn how(&self) -> String {
        match &self.origin {
            Origin::Given => "given by --runs-dir or LABJ_RUNS_DIR".into(),
            Origin::Experiment => "the .lab of the experiment's project".into(),
            Origin::Found { from } => format!("the nearest .lab at or above {}", from.display()),
            Origin::NotFound { from } => format!(
                "no .lab folder in {} or above it, so no project here",
                from.display()
            ),
        }
    }

    /// An error of a command, with where it looked when it names no run there.
    pub fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        let Some(RunError::NoSuchRun { run, .. }) = e.downcast_ref::<RunError>() else {
            return e;
        };
        let mut msg = format!("{e}\n  looked in {} ({})", self.dir.display(), self.how());
        for (runs, n) in projects_below(&cwd()) {
            if runs != self.dir && run::resolve_run(&runs, run).is_ok() {
                msg.push_str(&format!(
                    "\n  it is in {}: labj --runs-dir {} …",
                    runs.display(),
                    crate::render::shell_word(&runs.to_string_lossy())
                ));
            } else if matches!(self.origin, Origin::NotFound { .. }) {
                msg.push_str(&format!(
                    "\n  {} holds {n} run(s) (run labj from there, or pass --runs-dir)",
                    runs.display()
                ));
            }
        }
        msg.push_str(
            "\n  `labj runs` lists the runs there; `--runs-dir DIR` (or LABJ_RUNS_DIR) looks in another folder",
        );
        anyhow!(msg)
    }

    /// Said when there are no runs to list.
    pub fn nothing_here(&self) -> String {
        let mut msg = format!(
            "no runs under {} ({}); start one with `labj run <experiment>`",
            self.dir.display(),
            self.how()
        );
        for (runs, n) in projects_below(&cwd()) {
            if runs != self.dir {
                msg.push_str(&format!(
                    "\n{} holds {n} run(s): labj --runs-dir {} runs",
                    runs.display(),
                    crate::render::shell_word(&runs.to_string_lossy())
                ));
            }
        }
        msg
    }
}

/// `<child>/.lab/runs` folders of the direct subfolders of `dir` that hold runs, with how
/// many (an experiment made by `labj init my-eval` keeps its runs in my-eval/.lab).
fn projects_below(dir: &Path) -> Vec<(PathBuf, usize)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    children.sort();
    for child in children.into_iter().take(1000) {
        let runs = child.join(LAB_DIR).join("runs");
        let n = std::fs::read_dir(&runs)
            .map(|e| {
                e.flatten()
                    .filter(|r| journal::RunDir::new(r.path()).journal_path().is_file())
                    .count()
            })
            .unwrap_or(0);
        if n > 0 {
            out.push((runs, n));
        }
    }
    out
}
