//! `labj query`: one SQL statement over a run's journal, read-only twice over. The
//! connection is opened `SQLITE_OPEN_READ_ONLY` with `PRAGMA query_only` and no room to
//! attach other databases, and a statement SQLite does not call read-only
//! (`sqlite3_stmt_readonly`) is refused before it runs.

use super::{sqlerr, JournalError};
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text (invalid UTF-8 replaced).
    Text(String),
    /// Shown as `x'<hex>'`.
    Blob(Vec<u8>),
}

/// The rows a query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The statement's column names, in order.
    pub columns: Vec<String>,
    /// Every row, its values in column order.
    pub rows: Vec<Vec<QueryValue>>,
}

/// Why a query did not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// SQLite does not call the statement read-only.
    #[error("labj query is read-only: `{sql}` would change the journal (only SELECT, WITH … SELECT, EXPLAIN and read-only PRAGMAs run; `labj export` writes tables to files)")]
    Writes {
        /// The statement.
        sql: String,
    },
    /// More than one statement was given.
    #[error("labj query runs one statement; `{rest}` follows the first (remove it, or run it separately)")]
    Several {
        /// What follows the first statement.
        rest: String,
    },
    /// Nothing but blanks and semicolons.
    #[error("empty query: give one SQL statement, e.g. \"SELECT kind, count(*) FROM events GROUP BY kind\"")]
    Empty,
    /// SQLite refused the statement or failed while running it.
    #[error("SQL error: {source} (in `{sql}`)")]
    Sql {
        /// The statement.
        sql: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Open the journal at `path` read-only (no writes possible through this connection).
fn open(path: &Path) -> Result<Connection, JournalError> {
    if !path.exists() {
        return Err(JournalError::Missing { path: path.into() });
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlerr(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| sqlerr(path, e))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| sqlerr(path, e))?;
    // No ATTACH: a statement reaches this journal only.
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)
        .map_err(|e| sqlerr(path, e))?;
    Ok(conn)
}

/// Run one read-only SQL statement `sql` over the journal at `path`.
pub fn query_read_only(path: &Path, sql: &str) -> Result<QueryResult, QueryError> {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    if trimmed.is_empty() {
        return Err(QueryError::Empty);
    }
    let conn = open(path)?;
    let sql_err = |source| QueryError::Sql {
        sql: trimmed.to_string(),
        source,
    };
    let mut stmt = match conn.prepare(trimmed) {
        Ok(s) => s,
        Err(rusqlite::Error::MultipleStatement) => {
            return Err(QueryError::Several {
                rest: rest_after_first(trimmed),
            })
        }
        Err(e) => return Err(sql_err(e)),
    };
    if !stmt.readonly() {
        return Err(QueryError::Writes {
            sql: trimmed.to_string(),
        });
    }
    let columns: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
    let n = columns.len();
    let mut rows = Vec::new();
    let mut it = stmt.query([]).map_err(sql_err)?;
    while let Some(row) = it.next().map_err(sql_err)? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(match row.get_ref(i).map_err(sql_err)? {
                ValueRef::Null => QueryValue::Null,
                ValueRef::Integer(v) => QueryValue::Integer(v),
                ValueRef::Real(v) => QueryValue::Real(v),
                ValueRef::Text(t) => QueryValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => QueryValue::Blob(b.to_vec()),
            });
        }
        rows.push(values);
    }
    Ok(QueryResult { columns, rows })
}

/// What follows the first statement of `sql` (for the error), as SQLite splits it.
fn rest_after_first(sql: &str) -> String {
    let mut end = sql.len();
    let mut acc = String::new();
    for (i, c) in sql.char_indices() {
        acc.push(c);
        if c == ';' && is_complete(&acc) {
            end = i + 1;
            break;
        }
    }
    sql[end..].trim().to_string()
}

/// Whether `sql` ends a complete statement (a `;` outside quotes and comments).
fn is_complete(sql: &str) -> bool {
    let (mut quote, mut line_comment, mut block_comment) = (None::<char>, false, false);
    let mut chars = sql.chars().peekable();
    let mut complete = false;
    while let Some(c) = chars.next() {
        complete = false;
        if line_comment {
            line_comment = c != '\n';
        } else if block_comment {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                block_comment = false;
            }
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else {
            match c {
                '\'' | '"' | '`' => quote = Some(c),
                '[' => quote = Some(']'),
                '-' if chars.peek() == Some(&'-') => line_comment = true,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    block_comment = true;
                }
                ';' => complete = true,
                _ => {}
            }
        }
    }
    complete
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_after_the_first_statement_is_named() {
        assert_eq!(
            rest_after_first("SELECT ';' ; DELETE FROM events"),
            "DELETE FROM events"
        );
        assert_eq!(rest_after_first("SELECT 1; SELECT 2"), "SELECT 2");
    }
}
