//! `labj query <run> "SQL"`: one read-only SQL statement over the run's journal (the
//! journal crate opens it read-only and refuses a statement that would write), printed
//! as an aligned table, JSON (an array of objects) or CSV (NULL = empty field).

use anyhow::Result;
use engine::run;
use journal::store::query::{query_read_only, QueryResult, QueryValue};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryFormat {
    Table,
    Json,
    Csv,
}

pub fn query(runs_dir: &Path, run: &str, sql: &str, format: QueryFormat) -> Result<ExitCode> {
    let dir = run::resolve_run(runs_dir, run)?;
    let result = query_read_only(&journal::RunDir::new(&dir).journal_path(), sql)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // A closed pipe (`| head`) ends the listing quietly.
    let _ = match format {
        QueryFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json_rows(&result))?
        ),
        QueryFormat::Csv => write_csv(&mut out, &result),
        QueryFormat::Table => write!(out, "{}", table(&result)),
    };
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

fn json_value(v: &QueryValue) -> Value {
    match v {
        QueryValue::Null => Value::Null,
        QueryValue::Integer(i) => json!(i),
        QueryValue::Real(f) => json!(f),
        QueryValue::Text(t) => json!(t),
        QueryValue::Blob(b) => json!(format!("x'{}'", journal::store::hex(b))),
    }
}

fn text_value(v: &QueryValue) -> String {
    match v {
        QueryValue::Null => String::new(),
        QueryValue::Integer(i) => i.to_string(),
        QueryValue::Real(f) => f.to_string(),
        QueryValue::Text(t) => t.clone(),
        QueryValue::Blob(b) => format!("x'{}'", journal::store::hex(b)),
    }
}

fn json_rows(r: &QueryResult) -> Value {
    Value::Array(
        r.rows
            .iter()
            .map(|row| {
                let obj: serde_json::Map<String, Value> = r
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().map(json_value))
                    .collect();
                Value::Object(obj)
            })
            .collect(),
    )
}

fn write_csv(out: &mut impl Write, r: &QueryResult) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(&r.columns)?;
    for row in &r.rows {
        w.write_record(row.iter().map(text_value))?;
    }
    w.flush()
}

/// Columns padded to their widest cell (one line per row; newlines in a cell shown as
/// `\n`), then the row count.
fn table(r: &QueryResult) -> String {
    let cells: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| text_value(v).replace('\n', "\\n"))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = r.columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |values: &[String]| {
        let mut s = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut s = line(&r.columns);
    for row in &cells {
        s.push_str(&line(row));
    }
    s.push_str(&format!(
        "({} row{})\n",
        r.rows.len(),
        if r.rows.len() == 1 { "" } else { "s" }
    ));
    s
}
