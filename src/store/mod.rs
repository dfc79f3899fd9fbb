//! The state database: SQLite with one writer.
//!
//! Every step of a batch is recorded here before it is called done, so a
//! crash, a reboot or a `kill -9` loses nothing and a re-run duplicates
//! nothing. A [`Store`] owns one connection on a dedicated thread; async
//! callers send it closures ([`Store::call`]), which keeps blocking SQLite
//! work off the async reactor and serialises every write.
//!
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

pub mod batches;
pub mod dav;
pub mod dav_sync;
pub mod ids;
pub mod jobs;
pub mod mail;
mod migrations;
mod notified;
pub mod purge;
mod resume;
pub mod sieve;
mod states;
pub mod status;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

/// A failure of the state database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused a statement.
    #[error("State database error: {0}")]
    Sqlite(rusqlite::Error),
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
    /// The database file cannot be opened.
    #[error("Cannot open the state database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why it cannot be opened.
        source: rusqlite::Error,
    },
    /// The writer thread is gone.
    #[error("The state database thread has stopped")]
    Closed,
    /// The writer thread could not be started.
    #[error("Cannot start the state database thread: {0}")]
    Thread(std::io::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error)
    }
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the state database. Cheap to clone; all clones share the
/// one writer thread, which stops when the last handle is dropped.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = connect(path)?;
        migrations::migrate(&mut conn)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("mailshift-store".into())
            .spawn(move || {
                for job in queue {
                    job(&mut conn);
                }
            })
            .map_err(StoreError::Thread)?;
        Ok(Store { jobs })
    }

    /// Runs `f` on the writer thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                // The caller may have gone away (cancelled); nothing to do then.
                let _ = reply.send(f(conn));
            }))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs one query on the writer thread and collects its rows, each
    /// made by `row`.
    pub(crate) async fn select<T, P>(
        &self,
        sql: impl AsRef<str> + Send + 'static,
        params: P,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        P: rusqlite::Params + Send + 'static,
    {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(sql.as_ref())?;
            let rows = stmt.query_map(params, row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

/// Opens a connection with the settings every connection uses.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_owned(),
        source,
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
    Ok(conn)
}

/// Runs one statement once for each set of parameters, all in one
/// transaction: how batches of checkpoints are written.
pub(crate) fn execute_each<P: rusqlite::Params>(
    conn: &mut Connection,
    sql: &str,
    each: impl IntoIterator<Item = P>,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut statement = tx.prepare_cached(sql)?;
        for params in each {
            statement.execute(params)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Seconds since the Unix epoch: how every timestamp is stored.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
