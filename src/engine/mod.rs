//! The engine: runs a batch's accounts concurrently, each through its
//! stages, under the batch's limits.
//!
//! One [`CancellationToken`] is the root of the batch; every account gets a
//! child. Accounts run at most `concurrent_accounts` at a time; one
//! account's failure never stops the others. The outcome of each account is
//! in the store and in the returned [`BatchOutcome`].

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::plan::{Plan, ResolvedPlan};
use crate::stages;
use crate::stages::context::{AccountContext, limits, progress};
use crate::stages::files::FileCache;
use crate::store::batches::{
    AccountKey, AccountRecord, AccountState, BatchRecord, BatchState, StageCounts, StageState,
};
use crate::store::{Store, StoreError};

pub use crate::stages::context::retry::RetryPolicy;

/// How the engine behaves, beyond what the plan says.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// How transient failures are retried.
    pub retry: RetryPolicy,
}

/// What happened to every account of a batch.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// The batch's ID.
    pub batch_id: String,
    /// The batch's key in the store.
    pub batch_key: i64,
    /// Every account, in plan order.
    pub accounts: Vec<AccountOutcome>,
}

impl BatchOutcome {
    /// Whether every account succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.accounts
            .iter()
            .all(|a| a.state == AccountState::Completed)
    }
}

/// What happened to one account.
#[derive(Debug, Clone)]
pub struct AccountOutcome {
    /// The account's migration ID.
    pub migration_id: String,
    /// The source address.
    pub source: String,
    /// The destination address.
    pub destination: String,
    /// Where the account ended.
    pub state: AccountState,
    /// This run's counts, all stages together.
    pub counts: StageCounts,
    /// Why the account failed, when it did.
    pub error: Option<String>,
}

/// Fires `shutdown` on the first SIGINT or SIGTERM; a second one ends the
/// process at once (exit code 130), checkpoints being safe at any instant.
pub fn stop_on_signals(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        for round in 0.. {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if round > 0 {
                std::process::exit(130);
            }
            // Stop first: the log line may fail (a closed stderr).
            shutdown.cancel();
            tracing::warn!("stopping: finishing what is in flight (signal again to stop at once)");
        }
    });
}

/// How often the store is asked for cancel requests made by other processes.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs a batch to its end, or until `shutdown` fires: then accounts stop
/// soon, with everything done so far recorded, and end `interrupted`.
///
/// `shared` holds the limits every account of the batch shares; the
/// daemon passes the same one to every batch, so that connections per host
/// are capped across them all.
pub async fn run(
    plan: &ResolvedPlan,
    store: &Store,
    options: &EngineOptions,
    shared: Arc<limits::Shared>,
    shutdown: CancellationToken,
) -> Result<BatchOutcome, StoreError> {
    let slots = Arc::new(Semaphore::new(plan.limits.concurrent_accounts.max(1)));
    let progress = progress::Progress::new(plan.accounts.len());
    let drawing = CancellationToken::new();
    let drawer = tokio::spawn(progress.clone().draw(drawing.clone()));

    // Every account is recorded (and gets its migration ID) before any starts.
    let (batch, accounts) = register(plan, store, AccountState::Queued).await?;
    let mut contexts = Vec::with_capacity(plan.accounts.len());
    for (account, account_plan) in accounts.into_iter().zip(&plan.accounts) {
        contexts.push(AccountContext {
            store: store.clone(),
            account,
            plan: account_plan.clone(),
            limits: shared.clone(),
            retry: options.retry,
            progress: progress.clone(),
            connections_per_account: plan.limits.connections_per_account.max(1),
            cancel: CancellationToken::new(),
            shutdown: shutdown.child_token(),
            files: FileCache::default(),
        });
    }
    let cancels: HashMap<i64, Cancel> = contexts
        .iter()
        .map(|c| (c.account.id, Cancel::of(c)))
        .collect();
    // Cancels asked for before this run (a queued account never starts).
    for id in store.cancel_requests(batch.id).await? {
        if let Some(cancel) = cancels.get(&id) {
            cancel.fire();
        }
    }
    let watching = CancellationToken::new();
    let watcher = tokio::spawn(watch_cancels(
        store.clone(),
        batch.id,
        cancels,
        watching.clone(),
    ));

    let mut tasks = JoinSet::new();
    for (index, ctx) in contexts.into_iter().enumerate() {
        // Slots are taken here, in manifest order, so accounts start in order.
        // The semaphore lives as long as the batch and is never closed.
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("account slots stay open");
        // Every log line about the account carries its migration ID.
        let span = tracing::info_span!("account", migration_id = %ctx.account.migration_id);
        tasks.spawn(async move {
            let outcome = run_account(ctx).instrument(span).await;
            drop(slot);
            (index, outcome)
        });
    }
    let mut outcomes: Vec<Option<AccountOutcome>> = vec![None; plan.accounts.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, outcome)) => outcomes[index] = Some(outcome?),
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        }
    }
    drawing.cancel();
    watching.cancel();
    let _ = drawer.await;
    watcher.await.unwrap_or(Ok(()))?;
    let accounts: Vec<AccountOutcome> = outcomes.into_iter().flatten().collect();
    let state = if shutdown.is_cancelled() {
        BatchState::Interrupted
    } else if accounts.iter().all(|a| a.state == AccountState::Completed) {
        BatchState::Completed
    } else {
        BatchState::CompletedWithErrors
    };
    store.finish_batch(batch.id, state).await?;
    Ok(BatchOutcome {
        batch_id: batch.public_id,
        batch_key: batch.id,
        accounts,
    })
}

/// Records a batch and its accounts (each with its migration ID) in
/// `state`: `queued` when a run starts, `scheduled` when the daemon accepts
/// a manifest that starts later.
pub async fn register(
    plan: &Plan,
    store: &Store,
    state: AccountState,
) -> Result<(BatchRecord, Vec<AccountRecord>), StoreError> {
    let manifest = plan.sources.first().map(|path| {
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string()
    });
    let batch = store.open_batch(&plan.batch, manifest).await?;
    let mut accounts = Vec::with_capacity(plan.accounts.len());
    for account_plan in &plan.accounts {
        let key = AccountKey {
            source_email: account_plan.source.email.clone(),
            destination_email: account_plan.destination.email.clone(),
            source_server: account_plan.source.location(),
            destination_server: account_plan.destination.location(),
            undo_window_secs: plan.undo_window.as_secs() as i64,
        };
        let account = store.open_account(batch.id, key).await?;
        store
            .set_account_state(account.id, state, None, None)
            .await?;
        accounts.push(account);
    }
    Ok((batch, accounts))
}

/// An account's two tokens a cancel fires.
struct Cancel {
    cancel: CancellationToken,
    shutdown: CancellationToken,
}

impl Cancel {
    fn of(ctx: &AccountContext) -> Self {
        Cancel {
            cancel: ctx.cancel.clone(),
            shutdown: ctx.shutdown.clone(),
        }
    }

    /// Marks the account cancelled and stops its stage in progress at the
    /// next checkpoint, as a shutdown would.
    fn fire(&self) {
        self.cancel.cancel();
        self.shutdown.cancel();
    }
}

/// Passes cancel requests made through the store (by `mailshift cancel`,
/// from any process) to the accounts' tokens, until `stop` fires.
async fn watch_cancels(
    store: Store,
    batch_id: i64,
    cancels: HashMap<i64, Cancel>,
    stop: CancellationToken,
) -> Result<(), StoreError> {
    loop {
        for id in store.cancel_requests(batch_id).await? {
            if let Some(cancel) = cancels.get(&id) {
                cancel.fire();
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(CANCEL_POLL) => {}
        }
    }
}

/// Runs one account's stages in order. A stage's failure ends the account;
/// only a store failure (nothing can be recorded) is returned as an error.
pub async fn run_account(ctx: AccountContext) -> Result<AccountOutcome, StoreError> {
    let store = &ctx.store;
    let id = ctx.account.id;
    let mut counts = StageCounts::default();
    let mut state = AccountState::Completed;
    let mut error = None;
    // A cancel asked for while the account was queued, since the last poll.
    if store.cancel_requested(id).await? {
        Cancel::of(&ctx).fire();
    }
    for &kind in &ctx.plan.stages {
        if ctx.cancel.is_cancelled() {
            state = AccountState::Cancelled;
            break;
        }
        if ctx.shutdown.is_cancelled() {
            state = AccountState::Interrupted;
            break;
        }
        store
            .set_account_state(id, AccountState::Running, Some(kind), None)
            .await?;
        store.begin_stage(id, kind).await?;
        match stages::run(kind, &ctx).await {
            // A stage cut short by a shutdown or a cancel is not done: the
            // next run (after `resume`, for a cancel) redoes it.
            Ok(stage_counts) if ctx.shutdown.is_cancelled() => {
                store
                    .finish_stage(id, kind, StageState::Interrupted, stage_counts)
                    .await?;
                counts.add(&stage_counts);
                state = if ctx.cancel.is_cancelled() {
                    AccountState::Cancelled
                } else {
                    AccountState::Interrupted
                };
                break;
            }
            Ok(stage_counts) => {
                store
                    .finish_stage(id, kind, StageState::Done, stage_counts)
                    .await?;
                counts.add(&stage_counts);
                if stage_counts.failed > 0 {
                    state = AccountState::CompletedWithErrors;
                }
            }
            // Stopped while it waited (for a connection slot, say), or the
            // state database went away (a PostgreSQL restart): the stage is
            // not done, but nothing is wrong with the account, which
            // resumes from its checkpoints.
            Err(failure)
                if ctx.shutdown.is_cancelled()
                    || failure.error.chain().any(|e| e.is::<StoreError>()) =>
            {
                tracing::warn!(account = %ctx.plan.source.email, "{:#}", failure.error);
                store
                    .finish_stage(id, kind, StageState::Interrupted, failure.counts)
                    .await?;
                counts.add(&failure.counts);
                state = if ctx.cancel.is_cancelled() {
                    AccountState::Cancelled
                } else {
                    AccountState::Interrupted
                };
                break;
            }
            Err(failure) => {
                store
                    .finish_stage(id, kind, StageState::Failed, failure.counts)
                    .await?;
                counts.add(&failure.counts);
                tracing::error!(
                    account = %ctx.plan.source.email,
                    "{:#}",
                    failure.error
                );
                state = AccountState::Failed;
                error = Some(format!("{:#}", failure.error));
                break;
            }
        }
    }
    store
        .set_account_state(id, state, None, error.clone())
        .await?;
    ctx.progress.account_done();
    Ok(AccountOutcome {
        migration_id: ctx.account.migration_id.clone(),
        source: ctx.plan.source.email.clone(),
        destination: ctx.plan.destination.email.clone(),
        state,
        counts,
        error,
    })
}
