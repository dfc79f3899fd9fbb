//! One connection to the state database, whichever backend holds it.
//!
//! The store's queries are written once, in the SQL that SQLite and
//! PostgreSQL share (`?N` placeholders, `ON CONFLICT`, `RETURNING`,
//! `CAST`); a [`Db`] runs them on either backend and hands back rows of
//! plain [`Value`]s, so no query knows which one it runs on.
//!
//! - [`sqlite`]: the embedded file, the default.
//! - [`postgres`]: a PostgreSQL server shared by several machines.

mod postgres;
mod sqlite;
mod tls;
mod value;

pub use value::{FromValue, Row, ToValue, Value};

pub(crate) use self::postgres::{
    advisory_key, client as postgres_client, reason as postgres_reason,
};
use std::sync::atomic::{AtomicU64, Ordering};

use super::StoreError;
use super::location::StateLocation;

/// Statements this process has sent to its state database, prepares and
/// `BEGIN`/`COMMIT` included: on PostgreSQL, each is a round trip to the
/// server.
static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);

/// Counts one statement sent (a prepare too: a round trip of its own on
/// PostgreSQL).
fn sent() {
    ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
}

/// How many statements this process has sent to its state database (see
/// [`ROUND_TRIPS`]): the benchmarks' round trips.
pub fn round_trips() -> u64 {
    ROUND_TRIPS.load(Ordering::Relaxed)
}

/// `sql` with each placeholder `?N` outside quoted text made `?(N + by)`:
/// one row's template placed after `by` parameters.
pub fn renumber(sql: &str, by: usize) -> String {
    rewrite_placeholders(sql, |n| format!("?{}", n + by))
}

/// `sql` with each placeholder `?N` outside quoted text written as
/// `write(N)` says.
fn rewrite_placeholders(sql: &str, write: impl Fn(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '?' && !quoted {
            let mut number = String::new();
            while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                number.push(digit);
            }
            match number.parse::<usize>() {
                Ok(n) => out.push_str(&write(n)),
                Err(_) => out.push('?'),
            }
            continue;
        }
        if c == '\'' {
            quoted = !quoted;
        }
        out.push(c);
    }
    out
}

/// The parameters of one statement, in `?1`, `?2`, ... order.
macro_rules! params {
    ($($param:expr),* $(,)?) => {
        vec![$($crate::store::ToValue::to_value(&$param)),*]
    };
}
pub(crate) use params;

/// Which backend a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A connection to the state database.
pub enum Db {
    /// An SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server, with the statements it has prepared.
    Postgres(Box<postgres::PgConnection>),
}

impl Db {
    /// Connects to the state database at `location`.
    pub(crate) fn connect(location: &StateLocation) -> Result<Db, StoreError> {
        match location {
            StateLocation::File(path) => sqlite::connect(path).map(Db::Sqlite),
            StateLocation::Postgres(url) => {
                postgres::connect(url).map(|pg| Db::Postgres(Box::new(pg)))
            }
        }
    }

    /// Connects again when the PostgreSQL server ended the connection (a
    /// restart, a failover): the statement that found it closed failed,
    /// the next ones run on a new connection. A new connection that cannot
    /// be made leaves this one, and the next statement fails too.
    pub(crate) fn reconnect_if_lost(&mut self, location: &StateLocation) {
        if let Db::Postgres(pg) = self
            && pg.is_lost()
            && let Ok(fresh) = Db::connect(location)
        {
            tracing::warn!(state = %location, "reconnected to the state database");
            *self = fresh;
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs one statement; returns how many rows it changed.
    pub fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        sent();
        match self {
            Db::Sqlite(conn) => sqlite::execute(conn, sql, &params),
            Db::Postgres(conn) => conn.execute(sql, &params),
        }
    }

    /// Runs one query and returns its rows.
    pub fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        sent();
        match self {
            Db::Sqlite(conn) => sqlite::query(conn, sql, &params),
            Db::Postgres(conn) => conn.query(sql, &params),
        }
    }

    /// Runs one query and makes a value of each row with `each`.
    pub fn query_map<T>(
        &mut self,
        sql: &str,
        params: Vec<Value>,
        each: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, params)?.iter().map(each).collect()
    }

    /// Runs one query and makes a value of its first row, if it has one.
    pub fn query_opt<T>(
        &mut self,
        sql: &str,
        params: Vec<Value>,
        make: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.query(sql, params)?.first().map(make).transpose()
    }

    /// Runs one query that returns a row, and makes a value of it.
    pub fn query_row<T>(
        &mut self,
        sql: &str,
        params: Vec<Value>,
        make: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, make)?
            .ok_or_else(|| StoreError::NoRow(first_line(sql)))
    }

    /// Runs several statements without parameters (schema changes).
    pub fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        sent();
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Postgres(conn) => conn.execute_batch(sql),
        }
    }

    /// Begins a transaction, rolled back unless committed.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, StoreError> {
        self.execute_batch("BEGIN")?;
        Ok(Transaction {
            db: self,
            open: true,
        })
    }

    /// Begins a transaction that no other process runs alongside, among
    /// those that take the same `name` (on SQLite: among all writers).
    pub(crate) fn exclusive_transaction(
        &mut self,
        name: &str,
    ) -> Result<Transaction<'_>, StoreError> {
        let tx = match self {
            Db::Sqlite(_) => {
                self.execute_batch("BEGIN IMMEDIATE")?;
                Transaction {
                    db: self,
                    open: true,
                }
            }
            Db::Postgres(_) => {
                let mut tx = self.transaction()?;
                tx.query(
                    "SELECT pg_advisory_xact_lock(?1)",
                    params![advisory_key(name)],
                )?;
                tx
            }
        };
        Ok(tx)
    }
}

/// The start of a statement, to say which one found nothing.
fn first_line(sql: &str) -> String {
    sql.split_whitespace().take(8).collect::<Vec<_>>().join(" ")
}

/// An open transaction: [`Transaction::commit`] ends it, dropping it rolls
/// it back.
pub struct Transaction<'a> {
    db: &'a mut Db,
    open: bool,
}

impl Transaction<'_> {
    /// Makes the transaction's changes durable.
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.open = false;
        self.db.execute_batch("COMMIT")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Db;

    fn deref(&self) -> &Db {
        self.db
    }
}

impl std::ops::DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Db {
        self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing more can be done if even the rollback fails: the
            // connection is broken, and its server rolls back for it.
            let _ = self.db.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_template_is_renumbered_outside_quotes() {
        assert_eq!(
            renumber("(?1, ?2, '?3', 0, ?10)", 7),
            "(?8, ?9, '?3', 0, ?17)"
        );
        assert_eq!(renumber("(?1)", 0), "(?1)");
    }
}
