//! `mailshift watch`: the daemon over a watched folder.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::batch::Services;
use crate::daemon::{Daemon, DaemonConfig};
use crate::engine::{self, EngineOptions};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The folder to watch for manifests.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The configuration file (YAML; see examples/mailshift-daemon.yaml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The state database (overrides the configuration).
    #[arg(long, env = "MAILSHIFT_STATE")]
    pub state: Option<PathBuf>,
    /// Where report folders go (overrides the configuration).
    #[arg(long, env = "MAILSHIFT_REPORTS")]
    pub reports: Option<PathBuf>,
    /// The daemon's own area for accepted manifests (overrides the configuration).
    #[arg(long)]
    pub area: Option<PathBuf>,
    /// Seconds a file must stay unchanged before it is read.
    #[arg(long)]
    pub settle_seconds: Option<u64>,
}

pub fn watch(args: &WatchArgs) -> anyhow::Result<Exit> {
    let mut config = match &args.config {
        Some(path) => DaemonConfig::load(path)?,
        None => DaemonConfig::default(),
    };
    if args.settle_seconds.is_some() {
        config.settle_seconds = args.settle_seconds;
    }
    let state = args
        .state
        .clone()
        .or(config.state.clone())
        .unwrap_or_else(|| PathBuf::from("mailshift.db"));
    let reports = args
        .reports
        .clone()
        .or(config.reports.clone())
        .unwrap_or_else(|| PathBuf::from("reports"));
    let area = args
        .area
        .clone()
        .or(config.area.clone())
        .unwrap_or_else(|| PathBuf::from("mailshift-area"));
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("Cannot watch {}", args.dir.display()))?;
    let daemon = Daemon {
        dir,
        area,
        services: Services {
            store: Store::open(&state)?,
            state,
            reports,
            options: EngineOptions::default(),
        },
        config,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        engine::stop_on_signals(shutdown.clone());
        daemon.watch(shutdown).await
    })?;
    Ok(Exit::Success)
}
