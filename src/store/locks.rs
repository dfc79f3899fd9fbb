//! Named locks on one state database, held while a batch (or a daemon)
//! runs and released when dropped or when the process dies, so that two
//! processes never run the same batch.
//!
//! With an SQLite file the lock is a locked file beside it
//! (`<state>.locks/<name>.lock`); with PostgreSQL it is a session
//! advisory lock, held by a connection of its own: every machine that
//! shares the server sees it, and the server drops it when that
//! connection ends.

use std::fs::{File, TryLockError};
use std::path::PathBuf;
use std::sync::mpsc;

use super::db::{advisory_key, postgres_client};
use super::location::{PostgresUrl, StateLocation};
use super::{Store, StoreError};

/// A lock held; dropping it releases it.
pub struct HeldLock {
    _holder: Holder,
}

/// What keeps a lock held while it lives.
enum Holder {
    File { _file: File },
    Postgres { _session: Session },
}

/// A PostgreSQL session that holds an advisory lock, on a thread of its
/// own (its client runs a small runtime, which may not be started or
/// dropped on an async one). Dropping it ends the session, which
/// releases the lock.
struct Session {
    release: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Session {
    /// Opens a session and takes the advisory lock `key` in it.
    fn lock(url: &PostgresUrl, key: i64) -> Result<Option<Session>, StoreError> {
        let (release, released) = mpsc::channel::<()>();
        let (taken, outcome) = mpsc::channel();
        let url = url.clone();
        let thread = std::thread::Builder::new()
            .name("mailshift-lock".into())
            .spawn(move || {
                let locked = postgres_client(&url).and_then(|mut client| {
                    let row = client.query_one("SELECT pg_try_advisory_lock($1)", &[&key])?;
                    Ok((row.try_get::<_, bool>(0)?, client))
                });
                match locked {
                    Ok((true, _client)) => {
                        let _ = taken.send(Ok(true));
                        // Held until the lock's owner drops its sender.
                        let _ = released.recv();
                    }
                    Ok((false, _)) => {
                        let _ = taken.send(Ok(false));
                    }
                    Err(error) => {
                        let _ = taken.send(Err(error));
                    }
                }
            })
            .map_err(StoreError::Thread)?;
        let mut session = Session {
            release: Some(release),
            thread: Some(thread),
        };
        match outcome.recv().map_err(|_| StoreError::Closed)? {
            Ok(true) => Ok(Some(session)),
            Ok(false) => {
                session.release = None;
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.release = None;
        if let Some(thread) = self.thread.take() {
            // The session ends (and the lock with it) before this returns.
            let _ = thread.join();
        }
    }
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("held by another mailshift ({0})")]
    Busy(String),
    /// The lock file cannot be made or locked.
    #[error("Cannot lock {path}: {source}")]
    File {
        /// The lock file.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The server could not be asked.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Takes the lock called `name` (letters, digits, `-` and `_`), or says
    /// where it is held.
    pub fn try_lock(&self, name: &str) -> Result<HeldLock, LockError> {
        let holder = match self.location() {
            StateLocation::File(path) => {
                let mut dir = path.as_os_str().to_owned();
                dir.push(".locks");
                lock_file(PathBuf::from(dir).join(format!("{name}.lock")))?
            }
            StateLocation::Postgres(url) => {
                let key = advisory_key(name);
                let Some(session) = Session::lock(url, key)? else {
                    return Err(LockError::Busy(format!(
                        "advisory lock {key} on {}",
                        self.location()
                    )));
                };
                Holder::Postgres { _session: session }
            }
        };
        Ok(HeldLock { _holder: holder })
    }
}

fn lock_file(path: PathBuf) -> Result<Holder, LockError> {
    let fail = |source| LockError::File {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(fail)?;
    match file.try_lock() {
        Ok(()) => Ok(Holder::File { _file: file }),
        Err(TryLockError::WouldBlock) => Err(LockError::Busy(path.display().to_string())),
        Err(TryLockError::Error(e)) => Err(fail(e)),
    }
}
