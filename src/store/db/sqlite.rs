//! The SQLite backend: one file, WAL, foreign keys on, statements cached
//! by the connection.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::{Row, Value};
use crate::store::StoreError;
use crate::store::location::StateLocation;

/// Prepared statements a connection keeps, at most.
const STATEMENTS_KEPT: usize = 256;

/// Opens a connection with the settings every connection uses.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source: rusqlite::Error| StoreError::Open {
        state: StateLocation::File(path.to_owned()),
        reason: source.to_string(),
    };
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(open_error)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open_error)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_error)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_error)?;
    // Every statement the store runs stays prepared (the default keeps 16).
    conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
    Ok(conn)
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Integer(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Blob(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
        })
    }
}

pub(super) fn execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let changed = statement.execute(rusqlite::params_from_iter(params))?;
    Ok(changed as u64)
}

pub(super) fn query(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let columns = statement.column_count();
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns)
            .map(|index| Ok(value(row.get_ref(index)?)))
            .collect::<rusqlite::Result<_>>()?;
        out.push(Row::new(values));
    }
    Ok(out)
}

fn value(stored: ValueRef<'_>) -> Value {
    match stored {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        // The schema has no REAL column; an expression that makes one is
        // read as whole units.
        ValueRef::Real(x) => Value::Integer(x as i64),
        ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}
