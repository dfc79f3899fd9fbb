//! `mailshift worker`: one of any number of processes, on any number of
//! machines, that share a state database and run the accounts of the
//! batches queued there ([`crate::batch::enqueue`]).
//!
//! A worker claims one account at a time under a lease, runs it as the
//! engine runs any account, and lets it go when it ends. A heartbeat
//! renews its leases every second, passes on cancel requests, and shares
//! each batch's rate caps out among the workers running its accounts. A
//! worker that dies loses its leases when they run out, and another one
//! resumes its accounts from their checkpoints; one that cannot reach the
//! database for a whole lease stops its accounts, so that two workers
//! never copy one account at once. The worker that ends the last account of a batch ends
//! the batch: undo manifests, report, notifications.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::batch::{self, Services};
use crate::engine::{self, AccountOutcome};
use crate::plan::{self, ResolvedPlan};
use crate::stages::context::limits::{Shared, Workers};
use crate::stages::context::{AccountContext, progress};
use crate::stages::files::FileCache;
use crate::store::StoreError;
use crate::store::batches::{AccountRecord, AccountState, BatchRecord};
use crate::store::workers::{Claim, Heartbeat, Lessee};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Its name, unique among the workers of the database.
    pub name: String,
    /// Accounts it runs at once, all batches together.
    pub accounts: usize,
    /// How long its leases last without a heartbeat.
    pub lease: Duration,
    /// Stop once no queued account is left anywhere.
    pub exit_when_idle: bool,
}

/// What a worker did, told when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Accounts it ran (to their end or not).
    pub accounts: usize,
    /// Calls it made to the state database.
    pub round_trips: u64,
}

/// How often a worker with room for more accounts looks for some.
const POLL: Duration = Duration::from_secs(2);

/// How long a batch's manifest, once read, serves the accounts claimed
/// after it.
const BATCH_KEPT: Duration = Duration::from_secs(60);

/// How often the heartbeat runs.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Runs accounts until `shutdown` fires (or, with `exit_when_idle`, until
/// there are none left); accounts in flight then stop at their next
/// checkpoint and are given back.
pub async fn work(
    services: Services,
    options: WorkerOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<Summary> {
    let lessee = Lessee {
        name: options.name.clone(),
        lease_secs: options.lease.as_secs().max(2) as i64,
    };
    let worker = Arc::new(Worker {
        slots: Workers::new(services.store.clone(), lessee.clone()),
        services,
        lessee,
        held: Mutex::default(),
        batches: tokio::sync::Mutex::default(),
        progress: progress::Progress::new(0),
    });
    let store = &worker.services.store;
    store
        .register_worker(&worker.lessee, host_name())
        .await
        .context("Registering the worker")?;
    tracing::info!(worker = %worker.lessee.name, state = %store.location(), "working");

    let beating = CancellationToken::new();
    let beat = tokio::spawn(worker.clone().heartbeat(beating.clone()));
    let mut tasks = JoinSet::new();
    let mut ran = 0;
    while !shutdown.is_cancelled() {
        if tasks.len() < options.accounts.max(1) {
            match worker.claim(&shutdown).await {
                Ok(Some(account)) => {
                    ran += 1;
                    tasks.spawn(worker.clone().run(account));
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!("{error:#}"),
            }
        }
        if options.exit_when_idle
            && tasks.is_empty()
            && store.open_queued_accounts().await.ok() == Some(0)
        {
            break;
        }
        tokio::select! {
            Some(_) = tasks.join_next() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.cancelled() => {}
        }
    }
    if !tasks.is_empty() {
        tracing::warn!(
            "stopping: {} accounts stop at their next checkpoint and are given back",
            tasks.len()
        );
    }
    while tasks.join_next().await.is_some() {}
    beating.cancel();
    let _ = beat.await;
    store
        .leave(&worker.lessee)
        .await
        .context("Leaving the state database")?;
    Ok(Summary {
        accounts: ran,
        round_trips: store.round_trips(),
    })
}

/// A worker's shared state.
struct Worker {
    services: Services,
    lessee: Lessee,
    /// The connection slots per host it holds, shared by its batches.
    slots: Workers,
    /// The accounts it runs, by key: their tokens and batch.
    held: Mutex<HashMap<i64, Held>>,
    /// The batches it ran accounts of lately, by key (see [`Worker::batch`]).
    batches: tokio::sync::Mutex<HashMap<i64, Arc<Batch>>>,
    progress: Arc<progress::Progress>,
}

/// An account being run.
struct Held {
    batch: i64,
    /// Fired by a cancel request.
    cancel: CancellationToken,
    /// Fired by a cancel, a stop, or a lost lease.
    stop: CancellationToken,
}

/// A batch as its manifest says, with the limits its accounts share here.
struct Batch {
    record: BatchRecord,
    plan: ResolvedPlan,
    limits: Arc<Shared>,
    /// When its manifest was read.
    loaded: Instant,
}

/// An account claimed, ready to run.
struct Account {
    claim: Claim,
    batch: Arc<Batch>,
    ctx: AccountContext,
}

impl Worker {
    /// Claims an account of a batch that has room for one more here, and
    /// makes it ready to run.
    async fn claim(&self, shutdown: &CancellationToken) -> anyhow::Result<Option<Account>> {
        let store = &self.services.store;
        let busy = self.full_batches().await;
        let Some(claim) = store.claim_account(&self.lessee, busy).await? else {
            return Ok(None);
        };
        let batch = match self.batch(claim.batch).await {
            Ok(batch) => batch,
            Err(error) => {
                // Another worker may read it: give the account back.
                store.release_account(&self.lessee, claim.account).await?;
                return Err(error);
            }
        };
        let Some(plan) = batch.plan.accounts.iter().find(|a| {
            a.source.email.eq_ignore_ascii_case(&claim.source)
                && a.destination.email.eq_ignore_ascii_case(&claim.destination)
        }) else {
            let why = "the account is no longer in its batch's manifest".to_owned();
            store
                .set_account_state(claim.account, AccountState::Failed, None, Some(why))
                .await?;
            store.release_account(&self.lessee, claim.account).await?;
            self.end_batch(&batch).await;
            return Ok(None);
        };
        let stop = shutdown.child_token();
        let cancel = CancellationToken::new();
        self.held_map().insert(
            claim.account,
            Held {
                batch: claim.batch,
                cancel: cancel.clone(),
                stop: stop.clone(),
            },
        );
        let ctx = AccountContext {
            store: store.clone(),
            account: AccountRecord {
                id: claim.account,
                migration_id: claim.migration_id.clone(),
            },
            plan: plan.clone(),
            limits: batch.limits.clone(),
            retry: self.services.options.retry,
            progress: self.progress.clone(),
            connections_per_account: batch.plan.limits.connections_per_account.max(1),
            cancel,
            shutdown: stop,
            files: FileCache::default(),
        };
        Ok(Some(Account { claim, batch, ctx }))
    }

    /// The batches that already run as many accounts here as their
    /// `concurrent_accounts`.
    async fn full_batches(&self) -> Vec<i64> {
        let batches = self.batches.lock().await;
        let held = self.held_map();
        batches
            .iter()
            .filter(|(id, batch)| {
                held.values().filter(|h| h.batch == **id).count()
                    >= batch.plan.limits.concurrent_accounts.max(1)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// A batch, loaded from its manifest the first time one of its
    /// accounts runs here. It is kept while some of its accounts run here
    /// (they share its limits) or for [`BATCH_KEPT`] after it was read;
    /// then it is let go, so that a manifest put right is read again and a
    /// batch ended elsewhere is forgotten.
    async fn batch(&self, id: i64) -> anyhow::Result<Arc<Batch>> {
        let mut batches = self.batches.lock().await;
        {
            let held = self.held_map();
            batches.retain(|key, batch| {
                batch.loaded.elapsed() < BATCH_KEPT || held.values().any(|h| h.batch == *key)
            });
        }
        if let Some(batch) = batches.get(&id) {
            return Ok(batch.clone());
        }
        let queued = self.services.store.queued_batch(id).await?;
        let manifest = queued
            .manifest
            .with_context(|| format!("batch {} names no manifest", queued.public_id))?;
        // The manifest was checked when it was queued: its valid accounts run.
        let (plan, _) = plan::runnable_from_file(Path::new(&manifest), true)
            .map_err(|d| anyhow::anyhow!("{d}"))
            .with_context(|| {
                format!(
                    "Reading {manifest}, the manifest of batch {}",
                    queued.public_id
                )
            })?;
        let plan = plan::autodetect::resolve_from_env(plan).await?;
        let limits = Arc::new(Shared::for_worker(&plan.limits, self.slots.clone()));
        // Its rate caps are shared with the workers running it already.
        limits.share_rates(self.services.store.batch_workers(id).await?);
        let batch = Arc::new(Batch {
            record: BatchRecord {
                id,
                public_id: queued.public_id,
            },
            plan,
            limits,
            loaded: Instant::now(),
        });
        batches.insert(id, batch.clone());
        Ok(batch)
    }

    /// Runs a claimed account to its end (or until stopped), then lets it
    /// go, and ends its batch if it was the last.
    async fn run(self: Arc<Self>, account: Account) {
        let Account { claim, batch, ctx } = account;
        let span = tracing::info_span!("account", migration_id = %claim.migration_id);
        let outcome = engine::run_account(ctx).instrument(span).await;
        self.held_map().remove(&claim.account);
        match &outcome {
            Ok(AccountOutcome { state, .. }) => {
                tracing::info!(migration_id = %claim.migration_id, "{} → {}: {state}", claim.source, claim.destination);
            }
            Err(error) => tracing::warn!(migration_id = %claim.migration_id, "{error}"),
        }
        // Let go at once, or the lease runs out (the heartbeat no longer
        // renews it) and the account goes to whoever claims it next.
        if let Err(error) = self.release(claim.account).await {
            tracing::warn!(migration_id = %claim.migration_id, "{error}");
        }
        self.end_batch(&batch).await;
    }

    /// Lets go of an account, retrying while the database is away (a
    /// restart) for up to a lease.
    async fn release(&self, account: i64) -> Result<(), StoreError> {
        let give_up = Instant::now() + Duration::from_secs(self.lessee.lease_secs as u64);
        loop {
            match self
                .services
                .store
                .release_account(&self.lessee, account)
                .await
            {
                Err(error) if Instant::now() < give_up => {
                    tracing::debug!("{error}");
                    tokio::time::sleep(HEARTBEAT).await;
                }
                done => return done,
            }
        }
    }

    /// Ends the batch if none of its accounts is left to run anywhere.
    async fn end_batch(&self, batch: &Batch) {
        let store = &self.services.store;
        match store.finish_queued_batch(batch.record.id).await {
            Ok(Some(state)) => {
                tracing::info!(batch = %batch.record.public_id, "{state}");
                // A manifest without `smtp:` is notified by the daemon that
                // queued it, with its configuration's server (if any).
                let notify = batch.plan.smtp.is_some();
                let published = batch::publish(&batch.plan, &self.services, &batch.record, notify);
                if let Err(error) = published.await {
                    tracing::error!(batch = %batch.record.public_id, "{error:#}");
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(batch = %batch.record.public_id, "{error}"),
        }
    }

    /// Renews the leases every second until `stop` fires, passes on
    /// cancel requests, shares the rate caps out, and stops the accounts
    /// whose lease is lost or may have run out.
    async fn heartbeat(self: Arc<Self>, stop: CancellationToken) {
        let lease = Duration::from_secs(self.lessee.lease_secs as u64);
        let mut last_renewed = Instant::now();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(HEARTBEAT) => {}
            }
            let held: Vec<i64> = self.held_map().keys().copied().collect();
            let beat = self
                .services
                .store
                .heartbeat(&self.lessee, held.clone(), self.slots.held());
            match beat.await {
                Ok(beat) => {
                    last_renewed = Instant::now();
                    self.pass_on(&held, &beat);
                    for (id, batch) in self.batches.lock().await.iter() {
                        let workers = beat.batch_workers.get(id).copied().unwrap_or(1);
                        batch.limits.share_rates(workers);
                    }
                }
                Err(error) => {
                    tracing::warn!("heartbeat: {error}");
                    // Stop before the lease can run out, with a margin of
                    // two heartbeats.
                    if last_renewed.elapsed() + HEARTBEAT * 2 >= lease {
                        for account in self.held_map().values() {
                            account.stop.cancel();
                        }
                    }
                }
            }
        }
    }

    /// Stops the accounts cancelled, and those whose lease went to
    /// another worker.
    fn pass_on(&self, held: &[i64], beat: &Heartbeat) {
        let map = self.held_map();
        for id in held {
            let Some(account) = map.get(id) else { continue };
            if beat.cancelled.contains(id) {
                account.cancel.cancel();
                account.stop.cancel();
            } else if !beat.held.contains(id) {
                tracing::warn!(account = id, "lease lost: stopping");
                account.stop.cancel();
            }
        }
    }

    fn held_map(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// This machine's name, for the workers table.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The default name of a worker: its machine and process.
pub fn default_name() -> String {
    format!("{}-{}", host_name(), std::process::id())
}
