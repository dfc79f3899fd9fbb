//! One batch from start to end, as `mailshift run` and the daemon both run
//! it: the batch lock, the engine, then undo manifests, reports and
//! notifications.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, BatchOutcome, EngineOptions};
use crate::plan::ResolvedPlan;
use crate::plan::autodetect::Failed;
use crate::preflight::admins::{self, AdminRefused};
use crate::report;
use crate::stages::context::limits::Shared;
use crate::store::Store;
use crate::store::batches::{AccountRecord, BatchRecord};
use crate::store::locks::{HeldLock, LockError};
use crate::undo;
use crate::vocabulary::AccountState;

/// What a batch runs with besides its plan.
#[derive(Clone)]
pub struct Services {
    /// The state database (batch locks are taken on it too).
    pub store: Store,
    /// Where report folders go (`<reports>/<batch>/`).
    pub reports: PathBuf,
    /// How the engine behaves (retries).
    pub options: EngineOptions,
}

/// Why a batch could not start.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Another mailshift runs the batch on the same state database.
    #[error(
        "batch {batch} is already being run by another mailshift on the same state database \
         (lock {lock})"
    )]
    Busy {
        /// The batch's name.
        batch: String,
        /// Where the lock is held: a file, or an advisory lock.
        lock: String,
    },
    /// An administrator the accounts log in through was refused: no
    /// account started.
    #[error(transparent)]
    AdminRefused(#[from] AdminRefused),
    /// Autodetect could not find the server of some endpoints.
    #[error(transparent)]
    Unresolved(#[from] Failed),
    /// Anything else that stopped the batch before it started.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// How long the check of an administrator's login may wait for its server.
const ADMIN_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How often the report is rewritten while a batch runs.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a batch to its end: nothing else may run the same batch meanwhile.
///
/// An account that was undone stays undone unless `redo` names its
/// migration ID; each account left out, and each cancelled one, is said.
pub async fn run(
    plan: &ResolvedPlan,
    services: &Services,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    redo: &[String],
) -> Result<BatchOutcome, BatchError> {
    let _lock = BatchLock::acquire(&services.store, &plan.batch)?;
    // A batch queued for workers comes back to this process only when no
    // worker holds one of its accounts.
    if let Some(queued) = services
        .store
        .batch_named(&plan.batch)
        .await
        .context("Reading the batch")?
        && !services
            .store
            .unqueue_batch(queued.id)
            .await
            .context("Reading the batch")?
    {
        return Err(BatchError::Busy {
            batch: plan.batch.clone(),
            lock: "workers hold some of its accounts".to_owned(),
        });
    }
    let plan = &left_as_they_are(plan, &services.store, redo)
        .await
        .context("Reading the batch")?;
    admins::check(plan, ADMIN_CHECK_TIMEOUT).await?;
    let dir = report::dir(&services.reports, &plan.batch);
    // The report is rewritten now and then while the batch runs, for whoever
    // watches it; this loop never ends by itself.
    let reporting = async {
        loop {
            tokio::time::sleep(REPORT_EVERY).await;
            if let Ok(Some(record)) = services.store.batch_named(&plan.batch).await
                && let Err(error) = report::publish(&services.store, &record, &dir).await
            {
                tracing::warn!(batch = %plan.batch, "{error:#}");
            }
        }
    };
    let running = engine::run(
        plan,
        &services.store,
        &services.options,
        shared,
        shutdown.clone(),
    );
    let outcome = tokio::select! {
        outcome = running => outcome.context("Running the batch")?,
        never = reporting => never,
    };
    let record = BatchRecord {
        id: outcome.batch_key,
        public_id: outcome.batch_id.clone(),
    };
    publish(plan, services, &record, !shutdown.is_cancelled()).await?;
    Ok(outcome)
}

/// What a batch leaves when it ends: the undo manifests and the report
/// under the reports folder, and (when `notify`) the emails its manifest
/// asks for.
pub async fn publish(
    plan: &ResolvedPlan,
    services: &Services,
    record: &BatchRecord,
    notify: bool,
) -> anyhow::Result<()> {
    let dir = report::dir(&services.reports, &plan.batch);
    undo::write_manifests(&services.store, plan, record.id, &dir.join("undo"))
        .await
        .context("Writing the undo manifests")?;
    report::publish(&services.store, record, &dir).await?;
    if notify {
        report::notification::send::outcomes(plan, &services.store, record).await;
    }
    Ok(())
}

/// Queues a batch for `mailshift worker`s: the batch and its accounts
/// (each with its migration ID) are recorded as queued, and the workers
/// sharing the state database run them. Undone accounts stay as they are
/// unless `redo` names them, as with [`run`]: the plan returned is the
/// one queued, its accounts in the order of the records.
pub async fn enqueue(
    plan: &ResolvedPlan,
    services: &Services,
    redo: &[String],
) -> anyhow::Result<(BatchRecord, ResolvedPlan, Vec<AccountRecord>)> {
    let store = &services.store;
    let plan = left_as_they_are(plan, store, redo).await?;
    let (batch, accounts) = engine::register(&plan, store, AccountState::Queued).await?;
    store.queue_batch(batch.id).await?;
    Ok((batch, plan, accounts))
}

/// The plan without the accounts that were undone (unless `redo` names
/// them), saying which are left out, and which were cancelled (the engine
/// skips those).
async fn left_as_they_are(
    plan: &ResolvedPlan,
    store: &Store,
    redo: &[String],
) -> anyhow::Result<ResolvedPlan> {
    let Some(batch) = store.batch_named(&plan.batch).await? else {
        return Ok(plan.clone());
    };
    let before = store.batch_accounts(batch.id).await?;
    Ok(plan.retain(|a| {
        let Some(known) = before.iter().find(|b| {
            b.source.eq_ignore_ascii_case(&a.source.email)
                && b.destination.eq_ignore_ascii_case(&a.destination.email)
        }) else {
            return true;
        };
        let id = &known.migration_id;
        if known.cancel_requested {
            tracing::warn!(
                migration_id = %id,
                "{} → {} was cancelled: skipped",
                known.source,
                known.destination
            );
        }
        if known.state != AccountState::Undone {
            return true;
        }
        if redo.iter().any(|r| r.eq_ignore_ascii_case(id)) {
            tracing::warn!(migration_id = %id, "{} was undone: copied again (--redo)", known.source);
            return true;
        }
        tracing::warn!(
            migration_id = %id,
            "{} → {} was undone: skipped (`mailshift run --redo {id}` copies it again)",
            known.source,
            known.destination
        );
        false
    }))
}

/// An exclusive lock on one batch of one state database, held while the
/// batch runs and released when dropped (or when the process dies).
pub struct BatchLock {
    _held: HeldLock,
}

impl BatchLock {
    /// Takes the lock of a batch, or says who has it.
    pub fn acquire(store: &Store, batch: &str) -> Result<BatchLock, BatchError> {
        match store.try_lock(&format!("batch-{}", report::safe_name(batch))) {
            Ok(held) => Ok(BatchLock { _held: held }),
            Err(LockError::Busy(lock)) => Err(BatchError::Busy {
                batch: batch.to_owned(),
                lock,
            }),
            Err(e) => Err(BatchError::Other(e.into())),
        }
    }

    /// Takes the lock that one daemon per state database holds.
    pub fn daemon(store: &Store) -> anyhow::Result<BatchLock> {
        match store.try_lock("daemon") {
            Ok(held) => Ok(BatchLock { _held: held }),
            Err(LockError::Busy(_)) => Err(anyhow::anyhow!(
                "another mailshift daemon already uses the state database {}",
                store.location()
            )),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::for_each_backend;

    #[tokio::test]
    async fn a_batch_runs_once_at_a_time() {
        for_each_backend(|store| async move {
            let first = BatchLock::acquire(&store, "spring").unwrap();
            let second = BatchLock::acquire(&store, "spring");
            assert!(matches!(second, Err(BatchError::Busy { .. })));
            let _other = BatchLock::acquire(&store, "autumn").unwrap();
            drop(first);
            BatchLock::acquire(&store, "spring").unwrap();
        })
        .await;
    }

    #[test]
    fn names_are_safe_as_file_names() {
        assert_eq!(report::safe_name("../etc/passwd"), "_etc_passwd");
        assert_eq!(report::safe_name("spring-2024 batch"), "spring-2024_batch");
    }
}
