//! What a stage is given to run for one account: the account and its
//! plan, the store, its share of the batch's [`limits`], the [`retry`]
//! policy, the batch's live [`progress`] counters, and the tokens that stop
//! it. The engine builds one [`AccountContext`] per account and hands it to
//! the stages; the stages never reach back into the engine.

pub mod limits;
pub mod progress;
pub mod retry;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::plan::AccountPlan;
use crate::stages::files::FileCache;
use crate::store::Store;
use crate::store::batches::AccountRecord;
use limits::Permits;
use retry::RetryPolicy;

/// Everything a stage needs to run for one account.
pub struct AccountContext {
    /// The state database.
    pub store: Store,
    /// The account's row: its key and migration ID.
    pub account: AccountRecord,
    /// What to migrate, from where to where.
    pub plan: AccountPlan,
    /// The limits every account of the batch shares.
    pub limits: Arc<limits::Shared>,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
    /// The batch's live counters.
    pub progress: Arc<progress::Progress>,
    /// Connection pairs the account may use at once.
    pub connections_per_account: usize,
    /// Fired by `mailshift cancel`, together with `shutdown`: the stage in
    /// progress stops at its next checkpoint, the remaining ones are
    /// skipped, and the account ends `cancelled`.
    pub cancel: CancellationToken,
    /// Fired when the process is asked to stop, or the account cancelled:
    /// stages stop taking new items, record what is in flight, and return.
    pub shutdown: CancellationToken,
    /// The source file (`.ics`, `.vcf`, PST) as the WebDAV stages read
    /// it, read once for the account.
    pub files: FileCache,
}

impl AccountContext {
    /// Waits for a connection slot of each host named (see
    /// [`limits::Shared::connections`]), or until the account is stopped:
    /// then it fails, and the engine records the stage as cut short.
    pub async fn connections(&self, hosts: &[&str]) -> anyhow::Result<Permits> {
        tokio::select! {
            permits = self.limits.connections(hosts) => Ok(permits),
            _ = self.shutdown.cancelled() => {
                anyhow::bail!("stopped while waiting for a connection slot")
            }
        }
    }
}
