//! The states' stored form: their names, read back into the enums. The
//! only place a state is a string.

use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};

use crate::vocabulary::{AccountState, BatchState, JobState, StageState};

/// Stores a state by its name and reads it back, refusing a name this
/// version does not know.
macro_rules! stored {
    ($($state:ident: $what:literal),+ $(,)?) => {$(
        impl ToSql for $state {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $state {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let name = value.as_str()?;
                $state::parse(name).ok_or_else(|| unknown($what, name))
            }
        }
    )+};
}

stored!(
    AccountState: "account",
    StageState: "stage",
    BatchState: "batch",
    JobState: "job",
);

/// A state name this version does not know: a database written by a
/// newer mailshift, or edited by hand.
fn unknown(what: &str, name: &str) -> FromSqlError {
    FromSqlError::Other(format!("unknown {what} state {name:?} in the state database").into())
}
