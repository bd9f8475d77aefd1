//! Shared helpers for end-to-end tests that drive the real `labj` binary on real
//! processes and real journals. Each test gets its own temp directory.
#![allow(dead_code)]

use journal::{Durability, Journal, Projections};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn labj_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_labj"))
}

/// A scratch experiment: files are written into `dir`; runs go to `dir/runs`.
pub struct Scratch {
    pub tmp: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.dir().join("runs")
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.dir().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Write an executable POSIX sh script.
    pub fn script(&self, rel: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(rel, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// `n` plain tasks `{"id": "task_<i>", "n": i}` in `tasks.jsonl`.
    pub fn tasks(&self, n: usize) -> PathBuf {
        let rows: Vec<String> = (0..n)
            .map(|i| format!("{{\"id\":\"task_{i:03}\",\"n\":{i}}}"))
            .collect();
        self.write("tasks.jsonl", &(rows.join("\n") + "\n"))
    }

    /// An experiment YAML with the given variants (ids; bindings `{name: id}`), the agent
    /// `./agent.sh`, and free-form extra YAML under `design.policies` (indented by the
    /// caller) — enough for most engine tests.
    pub fn experiment(
        &self,
        variants: &[&str],
        replications: u32,
        max_concurrency: u32,
        policies_yaml: &str,
    ) -> PathBuf {
        let mut plan = String::new();
        for v in &variants[1..] {
            plan.push_str(&format!(
                "  - variant_id: {v}\n    bindings: {{name: {v}}}\n"
            ));
        }
        let yaml = format!(
            "version: \"0.5\"\nexperiment: {{id: e2e, name: e2e test}}\ndataset: {{path: tasks.jsonl}}\ndesign:\n  replications: {replications}\n  random_seed: 7\n  max_concurrency: {max_concurrency}\n  policies:\n    scheduling: variant_sequential\n    state: isolate_per_trial\n{policies_yaml}baseline: {{variant_id: {b}, bindings: {{name: {b}}}}}\nvariant_plan:\n{plan}runtime:\n  agent:\n    command: [\"./agent.sh\"]\n    timeout_ms: 60000\nprimary_metric: score\n",
            b = variants[0],
            plan = if plan.is_empty() { "  []\n".to_string() } else { plan },
        );
        let yaml = yaml.replace("variant_plan:\n  []\n", "variant_plan: []\n");
        self.write("experiment.yaml", &yaml)
    }

    pub fn labj(&self, args: &[&str]) -> Output {
        Command::new(labj_bin())
            .current_dir(self.dir())
            .arg("--runs-dir")
            .arg(self.runs_dir())
            .args(args)
            .output()
            .expect("run labj")
    }

    /// The only run under runs/ (panics if there is not exactly one).
    pub fn the_run(&self) -> PathBuf {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(self.runs_dir())
            .expect("runs dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(runs.len(), 1, "expected exactly one run: {runs:?}");
        runs.remove(0)
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn journal_path(run_dir: &Path) -> PathBuf {
    run_dir.join("journal.sqlite")
}

/// Fold the run's journal, and assert the guarantees every end-to-end test must hold:
/// the chain verifies and materialized projections equal a rebuild from events.
pub fn check_journal(run_dir: &Path) -> Projections {
    let j = Journal::open(&journal_path(run_dir), Durability::Normal).expect("open journal");
    let chain = j.verify_chain().expect("verify");
    assert_eq!(chain.first_bad, None, "hash chain broken");
    assert_eq!(
        j.diff_materialized().expect("diff"),
        None,
        "materialized projections differ from rebuilt ones"
    );
    let report = engine::inspect::verify(&j).expect("verify report");
    assert!(report.ok(), "labj verify faults: {:?}", report.faults);
    j.fold(None).expect("fold")
}

/// Committed slot statuses from the `proj_slots` table: (schedule_idx, status, classification).
pub fn committed_slots(run_dir: &Path) -> Vec<(u64, String, String)> {
    let conn = rusqlite::Connection::open(journal_path(run_dir)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT schedule_idx, status, classification FROM proj_slots ORDER BY schedule_idx",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Dump a fact table as text rows (ordered by key) for equality comparisons.
pub fn fact_table(run_dir: &Path, table: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(journal_path(run_dir)).unwrap();
    journal::materialize::dump(&conn, table).unwrap()
}
