//! Writes projection state into the `proj_*` and `fact_*` tables, and compares two
//! databases' materialized tables (live vs rebuilt).

use crate::projection::{Changes, FactRow, FactTable, FactValue, Projections};
use rusqlite::{params, Connection};

/// Every materialized table with the column list that orders its rows.
const TABLES: &[(&str, &str)] = &[
    ("proj_docs", "name"),
    ("proj_slots", "schedule_idx"),
    ("fact_trials", "schedule_idx"),
    ("fact_metrics", "schedule_idx, name"),
    ("fact_trial_events", "schedule_idx, seq"),
    ("fact_variant_snapshots", "schedule_idx"),
    ("fact_evidence", "schedule_idx, seq"),
    ("fact_chain_states", "schedule_idx"),
];

/// Empties every materialized table (before a rebuild refills them).
pub(crate) fn clear(conn: &Connection) -> rusqlite::Result<()> {
    for (t, _) in TABLES {
        conn.execute(&format!("DELETE FROM {t}"), [])?;
    }
    Ok(())
}

/// Writes what `changes` says changed: the documents when a milestone was folded (see
/// [`Projections::renders_docs`]) and the fact rows.
pub(crate) fn write(
    conn: &Connection,
    proj: &Projections,
    changes: &Changes,
) -> rusqlite::Result<()> {
    if changes.docs_dirty {
        write_docs(conn, proj)?;
    }
    write_rows(conn, &changes.rows)
}

/// The three `proj_docs` documents as of `proj` (their `last_event_idx` says which
/// prefix of the journal they describe).
pub(crate) fn render_docs(proj: &Projections) -> [(&'static str, String); 3] {
    [
        ("run_control_v2", proj.run_control_doc().to_string()),
        ("schedule_progress_v2", proj.progress_doc().to_string()),
        ("aggregates_v2", proj.aggregates_doc().to_string()),
    ]
}

/// Replaces the `proj_docs` documents with those of `proj`.
pub(crate) fn write_docs(conn: &Connection, proj: &Projections) -> rusqlite::Result<()> {
    let mut put = conn.prepare_cached(
        "INSERT INTO proj_docs (name, doc) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET doc = excluded.doc",
    )?;
    for (name, doc) in render_docs(proj) {
        put.execute(params![name, doc])?;
    }
    // Journals written before aggregates_v2 hold a v1 document; a rebuild would not,
    // so the live tables drop it too (live == rebuilt).
    conn.prepare_cached("DELETE FROM proj_docs WHERE name = 'aggregates_v1'")?
        .execute([])?;
    Ok(())
}

/// Appends fact rows (in the order the fold produced them).
pub(crate) fn write_rows(conn: &Connection, rows: &[FactRow]) -> rusqlite::Result<()> {
    for row in rows {
        write_row(conn, row)?;
    }
    Ok(())
}

/// The stored `proj_docs` documents, by name.
pub(crate) fn stored_docs(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT name, doc FROM proj_docs ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

impl rusqlite::ToSql for FactValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            FactValue::Null => ValueRef::Null,
            FactValue::Int(i) => ValueRef::Integer(i),
            FactValue::Real(f) => ValueRef::Real(f),
            FactValue::Text(t) => ValueRef::Text(t.as_bytes()),
        }))
    }
}

/// `INSERT INTO <table> VALUES (?1, …)` for each fact table, from its declared columns.
fn insert_sql(table: FactTable) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<(FactTable, String)>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        FactTable::ALL
            .iter()
            .map(|t| {
                let marks: Vec<String> = (1..=t.columns().len()).map(|i| format!("?{i}")).collect();
                (
                    *t,
                    format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        t.name(),
                        t.columns().join(", "),
                        marks.join(", ")
                    ),
                )
            })
            .collect()
    });
    all.iter()
        .find(|(t, _)| *t == table)
        .map(|(_, sql)| sql.as_str())
        .unwrap_or_default()
}

fn write_row(conn: &Connection, row: &FactRow) -> rusqlite::Result<()> {
    conn.prepare_cached(insert_sql(row.table()))?
        .execute(rusqlite::params_from_iter(row.values()))?;
    Ok(())
}

/// The rows of table `table` (`fact_trials`, `proj_slots`, …) of the journal open as
/// `conn`, each value rendered to text (`NULL`, integers, reals in their `{:?}` form, text
/// as is, blobs as `blob:<hex>`), ordered by the key of a materialized table (by rowid for
/// any other): two journals hold the same rows exactly when the dumps are equal, which is
/// how tests compare a live run's tables with a rebuilt one's.
pub fn dump_table(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Vec<String>>> {
    let order = TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, o)| *o)
        .unwrap_or("rowid");
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
    let n = stmt.column_count();
    let rows = stmt.query_map([], |r| {
        (0..n)
            .map(|i| r.get_ref(i).map(render_value))
            .collect::<rusqlite::Result<Vec<String>>>()
    })?;
    rows.collect()
}

fn render_value(v: rusqlite::types::ValueRef<'_>) -> String {
    match v {
        rusqlite::types::ValueRef::Null => "NULL".to_string(),
        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
        rusqlite::types::ValueRef::Real(v) => format!("{v:?}"),
        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        rusqlite::types::ValueRef::Blob(b) => format!("blob:{}", crate::hex::hex(b)),
    }
}

/// First difference between two databases' fact tables (every materialized table but
/// `proj_docs`, which describes a prefix of the journal and is compared by the caller),
/// or `None`. Streams both tables in key order: memory does not grow with their size.
pub(crate) fn diff(a: &Connection, b: &Connection) -> rusqlite::Result<Option<String>> {
    for (table, order) in TABLES.iter().filter(|(t, _)| *t != "proj_docs") {
        let count = |c: &Connection| -> rusqlite::Result<i64> {
            c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        };
        let (na, nb) = (count(a)?, count(b)?);
        if na != nb {
            return Ok(Some(format!(
                "{table}: {na} rows materialized, {nb} rebuilt from events"
            )));
        }
        let sql = format!("SELECT * FROM {table} ORDER BY {order}");
        let (mut sa, mut sb) = (a.prepare(&sql)?, b.prepare(&sql)?);
        let n = sa.column_count();
        let (mut ra, mut rb) = (sa.query([])?, sb.query([])?);
        let mut i = 0u64;
        while let (Some(x), Some(y)) = (ra.next()?, rb.next()?) {
            let x = (0..n)
                .map(|c| x.get_ref(c).map(render_value))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let y = (0..n)
                .map(|c| y.get_ref(c).map(render_value))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if x != y {
                return Ok(Some(format!(
                    "{table} row {i}: materialized {x:?}, rebuilt {y:?}"
                )));
            }
            i += 1;
        }
    }
    Ok(None)
}
