//! The state database: an SQLite file (the default) or a PostgreSQL
//! server, with one writer per process.
//!
//! Every step of a batch is recorded here before it is called done, so a
//! crash, a reboot or a `kill -9` loses nothing and a re-run duplicates
//! nothing. A [`Store`] owns one connection on a dedicated thread; async
//! callers send it closures ([`Store::call`]), which keeps blocking
//! database work off the async reactor and serialises every write.
//!
//! - [`db`]: one connection, SQLite or PostgreSQL, behind one API.
//! - [`location`]: where the state lives, as `--state` names it.
//! - [`locks`]: named locks held while a batch (or a daemon) runs.
//! - [`migrations`]: the numbered schema.
//! - [`batches`]: batches, accounts, stages and item errors.
//! - [`mail`]: folders and per-message checkpoints.
//! - [`ids`]: migration IDs and batch IDs.
//! - [`jobs`]: manifests the daemon accepted.
//! - [`purge`]: forgetting finished migrations.
//! - [`sieve`]: Sieve script checkpoints and undo data.
//! - [`dav`]: address book, calendar, vCard and calendar object
//!   checkpoints and undo data (the WebDAV stages).
//! - [`dav_sync`]: the WebDAV sources' sync tokens, for incremental
//!   passes.
//! - [`status`]: where batches and accounts stand; cancel requests.
//! - [`workers`]: batches queued for workers, accounts under lease, and
//!   the connection slots per host they share.

pub mod batches;
pub mod dav;
pub mod dav_sync;
pub mod db;
pub mod ids;
pub mod jobs;
pub mod location;
pub mod locks;
pub mod mail;
mod migrations;
mod notified;
pub mod purge;
mod resume;
pub mod sieve;
pub mod status;
#[cfg(test)]
pub(crate) mod testing;
pub mod workers;

use std::sync::mpsc;

use tokio::sync::oneshot;

pub use db::{Backend, Db, FromValue, Row, ToValue, Value};
pub use location::StateLocation;

/// A failure of the state database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused a statement.
    #[error("State database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused a statement, or the connection to it broke.
    #[error("State database error: {}", db::postgres_reason(.0))]
    Postgres(#[from] postgres::Error),
    /// A column does not hold what the store expects.
    #[error("State database error: column {index}: {reason}")]
    Column {
        /// The column's place in its row (0-based).
        index: usize,
        /// What it holds instead.
        reason: String,
    },
    /// A query that always returns a row returned none.
    #[error("State database error: no row for {0}")]
    NoRow(String),
    /// The database was written by a newer mailshift.
    #[error(
        "The state database has schema version {found}, newer than this mailshift knows ({known}): upgrade mailshift"
    )]
    TooNew {
        /// The database's schema version.
        found: usize,
        /// The newest this mailshift knows.
        known: usize,
    },
    /// The database cannot be opened.
    #[error("Cannot open the state database {state}: {reason}")]
    Open {
        /// Where it is (a URL prints without its password).
        state: StateLocation,
        /// Why it cannot be opened.
        reason: String,
    },
    /// The writer thread is gone.
    #[error("The state database thread has stopped")]
    Closed,
    /// The writer thread could not be started.
    #[error("Cannot start the state database thread: {0}")]
    Thread(std::io::Error),
}

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// A handle to the state database. Cheap to clone; all clones share the
/// one writer thread, which stops when the last handle is dropped.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
    location: StateLocation,
}

impl Store {
    /// Opens (creating if needed) the database at `location` (a file path
    /// or a PostgreSQL URL) and brings its schema up to date.
    pub fn open(location: impl Into<StateLocation>) -> Result<Store, StoreError> {
        let location = location.into();
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, outcome) = mpsc::channel();
        let target = location.clone();
        // The connection lives and dies on this thread: the PostgreSQL
        // client runs a small runtime of its own, which may not be started
        // or dropped on an async one.
        std::thread::Builder::new()
            .name("mailshift-store".into())
            .spawn(move || {
                let mut db = match Db::connect(&target).and_then(|mut db| {
                    migrations::migrate(&mut db)?;
                    Ok(db)
                }) {
                    Ok(db) => db,
                    Err(error) => {
                        let _ = opened.send(Err(error));
                        return;
                    }
                };
                let _ = opened.send(Ok(()));
                for job in queue {
                    db.reconnect_if_lost(&target);
                    job(&mut db);
                }
            })
            .map_err(StoreError::Thread)?;
        outcome.recv().map_err(|_| StoreError::Closed)??;
        Ok(Store { jobs, location })
    }

    /// Where the database is.
    pub fn location(&self) -> &StateLocation {
        &self.location
    }

    /// How many statements this process has sent to the database,
    /// prepares and transaction ends included (each a round trip to a
    /// PostgreSQL server): the benchmarks' round trips.
    pub fn round_trips(&self) -> u64 {
        db::round_trips()
    }

    /// Runs `f` on the writer thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.submit(Box::new(move |db| {
            // The caller may have gone away (cancelled); nothing to do then.
            let _ = reply.send(f(db));
        }))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on the writer thread without waiting for it (from a
    /// `Drop`, say): a failure is only logged.
    pub(crate) fn send<F>(&self, f: F)
    where
        F: FnOnce(&mut Db) -> Result<(), StoreError> + Send + 'static,
    {
        let _ = self.submit(Box::new(move |db| {
            if let Err(error) = f(db) {
                tracing::warn!("{error}");
            }
        }));
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| StoreError::Closed)
    }

    /// Runs one query on the writer thread and collects its rows, each
    /// made by `row`.
    pub(crate) async fn select<T: Send + 'static>(
        &self,
        sql: impl AsRef<str> + Send + 'static,
        params: Vec<Value>,
        row: fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.call(move |db| db.query_map(sql.as_ref(), params, row))
            .await
    }

    /// Inserts `rows` in one transaction, many rows per statement:
    /// `head VALUES values, values, ... tail`, where `values` is one row's
    /// template, numbering its parameters from `?1`. How checkpoints and
    /// intents are written: a group of 256 is four statements, not 256
    /// round trips to a PostgreSQL server.
    pub(crate) async fn insert_rows(
        &self,
        head: &str,
        values: &str,
        tail: &str,
        rows: Vec<Vec<Value>>,
    ) -> Result<(), StoreError> {
        let Some(arity) = rows.first().map(Vec::len) else {
            return Ok(());
        };
        // Each statement: how many rows it takes, and its SQL, made of the
        // first rows' templates numbered once.
        let templates: Vec<String> = (0..statement_rows(rows.len()))
            .map(|row| db::renumber(values, row * arity))
            .collect();
        let mut statements = Vec::new();
        let mut left = rows.len();
        while left > 0 {
            let n = statement_rows(left);
            let sql = format!("{head} VALUES {} {tail}", templates[..n].join(", "));
            statements.push((n, sql));
            left -= n;
        }
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let mut rows = rows.into_iter();
            for (n, sql) in statements {
                let params: Vec<Value> = rows.by_ref().take(n).flatten().collect();
                tx.execute(&sql, params)?;
            }
            tx.commit()
        })
        .await
    }

    /// Runs one statement once for each set of parameters, all in one
    /// transaction.
    pub(crate) async fn execute_rows(
        &self,
        sql: String,
        rows: Vec<Vec<Value>>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.call(move |db| {
            let mut tx = db.transaction()?;
            for params in rows {
                tx.execute(&sql, params)?;
            }
            tx.commit()
        })
        .await
    }
}

/// Rows one multi-row statement inserts, at most.
const ROWS_PER_STATEMENT: usize = 64;

/// How many of `left` rows the next statement inserts: as many as it may,
/// else the largest power of two, so that few distinct statements are
/// ever prepared (64, 32, ..., 1 rows).
fn statement_rows(left: usize) -> usize {
    if left >= ROWS_PER_STATEMENT {
        ROWS_PER_STATEMENT
    } else {
        1 << left.ilog2()
    }
}

/// Seconds since the Unix epoch: how every timestamp is stored.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_in_statements_of_few_sizes() {
        let mut sizes = Vec::new();
        let mut left = 300;
        while left > 0 {
            sizes.push(statement_rows(left));
            left -= sizes.last().unwrap();
        }
        assert_eq!(sizes, [64, 64, 64, 64, 32, 8, 4]);
        assert_eq!(statement_rows(1), 1);
    }
}
