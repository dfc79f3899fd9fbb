//! `mailshift worker`: runs the accounts of batches queued in a shared
//! state database, beside any number of other workers.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::batch::Services;
use crate::engine::{self, EngineOptions};
use crate::store::{StateLocation, Store};
use crate::worker::{self, WorkerOptions};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The state database the workers share: a PostgreSQL URL
    /// (`postgres://user:password@host/db`) for several machines, or an
    /// SQLite file for several workers on one machine.
    #[arg(long, env = "MAILSHIFT_STATE")]
    pub state: StateLocation,
    /// Where reports go (`DIR/<batch>/`): the worker that ends a batch
    /// writes its report and undo manifests there.
    #[arg(long, env = "MAILSHIFT_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    /// The worker's name, unique among the workers of the database
    /// (default: the machine's name and the process ID).
    #[arg(long)]
    pub name: Option<String>,
    /// Accounts run at once by this worker, all batches together; never
    /// more than a batch's `concurrent_accounts` of one batch.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub accounts: usize,
    /// Seconds an account stays this worker's without a heartbeat (one a
    /// second): after a crash, its accounts go to other workers then.
    #[arg(long, value_name = "N", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    pub lease_seconds: u64,
    /// Stop once no queued account is left to run, by any worker.
    #[arg(long)]
    pub exit_when_idle: bool,
}

/// Runs accounts until stopped (SIGTERM, SIGINT) or, with
/// `--exit-when-idle`, until none are left; prints what it did.
pub fn worker(args: &WorkerArgs) -> anyhow::Result<Exit> {
    let services = Services {
        store: Store::open(&args.state)?,
        reports: args.reports.clone(),
        options: EngineOptions::default(),
    };
    let options = WorkerOptions {
        name: args.name.clone().unwrap_or_else(worker::default_name),
        accounts: args.accounts.max(1),
        lease: Duration::from_secs(args.lease_seconds),
        exit_when_idle: args.exit_when_idle,
    };
    let name = options.name.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    let summary = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        engine::stop_on_signals(shutdown.clone());
        worker::work(services, options, shutdown).await
    })?;
    println!(
        "worker {name}: {} accounts run, {} state round trips",
        summary.accounts, summary.round_trips
    );
    Ok(Exit::Success)
}
