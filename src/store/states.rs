//! The states' stored form: their names, read back into the enums. The
//! only place a state is a string.

use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};

use crate::vocabulary::{AccountState, BatchState, StageState};

impl ToSql for AccountState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for AccountState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        AccountState::parse(name).ok_or_else(|| unknown("account", name))
    }
}

impl ToSql for StageState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for StageState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        StageState::parse(name).ok_or_else(|| unknown("stage", name))
    }
}

impl ToSql for BatchState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for BatchState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        BatchState::parse(name).ok_or_else(|| unknown("batch", name))
    }
}

/// A state name this version does not know: a database written by a
/// newer mailshift, or edited by hand.
fn unknown(what: &str, name: &str) -> FromSqlError {
    FromSqlError::Other(format!("unknown {what} state {name:?} in the state database").into())
}
