//! The engine: runs a batch's accounts concurrently, each through its
//! stages, under the batch's limits.
//!
//! One [`CancellationToken`] is the root of the batch; every account gets a
//! child. Accounts run at most `concurrent_accounts` at a time; one
//! account's failure never stops the others. The outcome of each account is
//! in the store and in the returned [`BatchOutcome`].

pub mod limits;
pub mod progress;
pub mod retry;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::plan::{AccountPlan, Plan};
use crate::stages;
use crate::store::batches::{AccountRecord, AccountState, StageCounts, StageState};
use crate::store::{Store, StoreError};

pub use retry::RetryPolicy;

/// How the engine behaves, beyond what the plan says.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    pub retry: RetryPolicy,
}

/// What happened to every account of a batch.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// The batch's ID.
    pub batch_id: String,
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
    pub migration_id: String,
    pub source: String,
    pub destination: String,
    pub state: AccountState,
    /// This run's counts, all stages together.
    pub counts: StageCounts,
    /// Why the account failed, when it did.
    pub error: Option<String>,
}

/// Everything a stage needs to run for one account.
pub struct AccountContext {
    pub store: Store,
    pub account: AccountRecord,
    pub plan: AccountPlan,
    pub limits: Arc<limits::Shared>,
    pub retry: RetryPolicy,
    /// The batch's live counters.
    pub progress: Arc<progress::Progress>,
    /// Connection pairs the account may use at once.
    pub connections_per_account: usize,
    pub cancel: CancellationToken,
}

/// Runs a batch to its end (or until `cancel` fires).
pub async fn run(
    plan: &Plan,
    store: &Store,
    options: &EngineOptions,
    cancel: CancellationToken,
) -> Result<BatchOutcome, StoreError> {
    let batch = store.open_batch(&plan.batch).await?;
    let shared = Arc::new(limits::Shared::new(&plan.limits));
    let slots = Arc::new(Semaphore::new(plan.limits.concurrent_accounts.max(1)));
    let progress = progress::Progress::new(plan.accounts.len());
    let drawing = CancellationToken::new();
    let drawer = tokio::spawn(progress.clone().draw(drawing.clone()));

    // Every account is recorded (and gets its migration ID) before any starts.
    let mut contexts = Vec::with_capacity(plan.accounts.len());
    for account_plan in &plan.accounts {
        let account = store
            .open_account(
                batch.id,
                &account_plan.source.email,
                &account_plan.destination.email,
            )
            .await?;
        store
            .set_account_state(account.id, AccountState::Queued, None, None)
            .await?;
        contexts.push(AccountContext {
            store: store.clone(),
            account,
            plan: account_plan.clone(),
            limits: shared.clone(),
            retry: options.retry,
            progress: progress.clone(),
            connections_per_account: plan.limits.connections_per_account.max(1),
            cancel: cancel.child_token(),
        });
    }

    let mut tasks = JoinSet::new();
    for (index, ctx) in contexts.into_iter().enumerate() {
        let slots = slots.clone();
        tasks.spawn(async move {
            // The semaphore lives as long as the batch and is never closed.
            let _slot = slots
                .acquire_owned()
                .await
                .expect("account slots stay open");
            (index, run_account(ctx).await)
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
    let _ = drawer.await;
    let accounts: Vec<AccountOutcome> = outcomes.into_iter().flatten().collect();
    let state = if accounts.iter().all(|a| a.state == AccountState::Completed) {
        "completed"
    } else {
        "completed_with_errors"
    };
    store.finish_batch(batch.id, state).await?;
    Ok(BatchOutcome {
        batch_id: batch.public_id,
        accounts,
    })
}

/// Runs one account's stages in order. A stage's failure ends the account;
/// only a store failure (nothing can be recorded) is returned as an error.
async fn run_account(ctx: AccountContext) -> Result<AccountOutcome, StoreError> {
    let store = &ctx.store;
    let id = ctx.account.id;
    let mut counts = StageCounts::default();
    let mut state = AccountState::Completed;
    let mut error = None;
    for &kind in &ctx.plan.stages {
        if ctx.cancel.is_cancelled() {
            state = AccountState::Cancelled;
            break;
        }
        store
            .set_account_state(id, AccountState::Running, Some(kind), None)
            .await?;
        store.begin_stage(id, kind).await?;
        match stages::run(kind, &ctx).await {
            Ok(stage_counts) => {
                store
                    .finish_stage(id, kind, StageState::Done, stage_counts)
                    .await?;
                counts.add(&stage_counts);
                if stage_counts.failed > 0 {
                    state = AccountState::CompletedWithErrors;
                }
            }
            Err(failure) => {
                store
                    .finish_stage(id, kind, StageState::Failed, failure.counts)
                    .await?;
                counts.add(&failure.counts);
                tracing::error!(
                    migration_id = %ctx.account.migration_id,
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
