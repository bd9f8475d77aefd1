//! `labj export`: one of the journal's fact tables, with the SQL table's columns, as CSV
//! (NULL = empty field) or JSON lines (NULL = null). Rows come from the same fold that
//! writes the tables, so an export equals `SELECT * FROM fact_… ORDER BY key`.

use anyhow::{Context, Result};
use engine::run;
use journal::projection::{FactTable, FactValue};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Table {
    /// fact_trials: one row per committed slot.
    Trials,
    /// fact_metrics: one row per (trial, metric).
    Metrics,
    /// fact_trial_events: one row per attempt (classification, exit code, detail).
    Events,
    /// fact_evidence: one row per evidence file (class, path, blake3 digest, bytes).
    Evidence,
}

impl Table {
    /// The journal's fact table (its columns are declared there, once).
    pub fn fact_table(self) -> FactTable {
        match self {
            Table::Trials => FactTable::Trials,
            Table::Metrics => FactTable::Metrics,
            Table::Events => FactTable::TrialEvents,
            Table::Evidence => FactTable::Evidence,
        }
    }

    pub fn columns(&self) -> &'static [&'static str] {
        self.fact_table().columns()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

fn json_of(v: FactValue<'_>) -> Value {
    match v {
        FactValue::Null => Value::Null,
        FactValue::Int(i) => json!(i),
        FactValue::Real(f) => json!(f),
        FactValue::Text(t) => json!(t),
    }
}

/// The table's rows as the fold wrote them, in its declared column order.
fn rows(facts: &read::report::RunFacts, table: Table) -> Vec<Vec<Value>> {
    let values = |vs: Vec<FactValue<'_>>| vs.into_iter().map(json_of).collect();
    match table {
        Table::Trials => facts
            .trials
            .iter()
            .map(|r| values(r.fact.values()))
            .collect(),
        _ => facts
            .rows
            .iter()
            .filter(|row| row.table() == table.fact_table())
            .map(|row| values(row.values()))
            .collect(),
    }
}

fn csv_field(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn export(
    runs_dir: &Path,
    run: &str,
    table: Table,
    format: ExportFormat,
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    let dir = run::resolve_run(runs_dir, run)?;
    if let Some(p) = &out {
        crate::out_target::check(p, &dir)?;
    }
    let j = journal::RunDir::new(&dir).open_read_only()?;
    let facts = read::report::collect(&j)?;
    let data = rows(&facts, table);
    let mut sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let cols = table.columns();
    let res: Result<()> = (|| {
        match format {
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(&mut sink);
                w.write_record(cols)?;
                for r in &data {
                    w.write_record(r.iter().map(csv_field))?;
                }
                w.flush()?;
            }
            ExportFormat::Jsonl => {
                for r in &data {
                    let obj: serde_json::Map<String, Value> = cols
                        .iter()
                        .map(|c| c.to_string())
                        .zip(r.iter().cloned())
                        .collect();
                    writeln!(sink, "{}", Value::Object(obj))?;
                }
            }
        }
        sink.flush()?;
        Ok(())
    })();
    match (res, &out) {
        (Ok(()), Some(p)) => {
            eprintln!("labj: wrote {} row(s) to {}", data.len(), p.display());
            Ok(ExitCode::SUCCESS)
        }
        (Ok(()), None) => Ok(ExitCode::SUCCESS),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        (Err(e), None) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        (Err(e), _) => Err(e.context(match &out {
            Some(p) => format!("writing {}", p.display()),
            None => "writing to stdout".into(),
        })),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(|ce| {
                matches!(ce.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}
