//! One batch from start to end, as `mailshift run` and the daemon both run
//! it: the batch lock, the engine, then undo manifests, reports and
//! notifications.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, BatchOutcome, EngineOptions, limits::Shared};
use crate::plan::Plan;
use crate::store::Store;
use crate::undo;

/// What a batch runs with besides its plan.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    /// The state database's path: batch locks live beside it.
    pub state: PathBuf,
    /// Where report folders go (`<reports>/<batch>/`).
    pub reports: PathBuf,
    pub options: EngineOptions,
}

/// Why a batch could not start.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(
        "batch {batch} is already being run by another mailshift on the same state database \
         (lock {})", lock.display()
    )]
    Busy { batch: String, lock: PathBuf },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Runs a batch to its end: nothing else may run the same batch meanwhile.
pub async fn run(
    plan: &Plan,
    services: &Services,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> Result<BatchOutcome, BatchError> {
    let _lock = BatchLock::acquire(&services.state, &plan.batch)?;
    let outcome = engine::run(plan, &services.store, &services.options, shared, shutdown)
        .await
        .context("Running the batch")?;
    let dir = report_dir(&services.reports, &plan.batch);
    undo::write_manifests(&services.store, plan, outcome.batch_key, &dir.join("undo"))
        .await
        .context("Writing the undo manifests")?;
    Ok(outcome)
}

/// The folder of a batch's reports: its name, made safe as a file name.
pub fn report_dir(reports: &Path, batch: &str) -> PathBuf {
    reports.join(safe_name(batch))
}

/// A name usable as one file name component.
pub fn safe_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    safe.trim_start_matches('.').to_owned()
}

/// An exclusive lock on one batch of one state database, held while the
/// batch runs and released when dropped (or when the process dies).
pub struct BatchLock {
    _file: File,
}

impl BatchLock {
    /// Takes the lock, or says who has it.
    pub fn acquire(state: &Path, batch: &str) -> Result<BatchLock, BatchError> {
        let mut dir = state.as_os_str().to_owned();
        dir.push(".locks");
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("Cannot create {}", dir.display()))?;
        let lock = dir.join(format!("{}.lock", safe_name(batch)));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .with_context(|| format!("Cannot open {}", lock.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(BatchLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(BatchError::Busy {
                batch: batch.to_owned(),
                lock,
            }),
            Err(TryLockError::Error(e)) => {
                Err(anyhow::Error::new(e).context(format!("Cannot lock {}", lock.display())).into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_runs_once_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let first = BatchLock::acquire(&state, "spring").unwrap();
        let second = BatchLock::acquire(&state, "spring");
        assert!(matches!(second, Err(BatchError::Busy { .. })));
        let _other = BatchLock::acquire(&state, "autumn").unwrap();
        drop(first);
        BatchLock::acquire(&state, "spring").unwrap();
    }

    #[test]
    fn names_are_safe_as_file_names() {
        assert_eq!(safe_name("../etc/passwd"), "_etc_passwd");
        assert_eq!(safe_name("spring-2024 batch"), "spring-2024_batch");
    }
}
