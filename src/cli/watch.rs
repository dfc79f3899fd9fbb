//! `mailshift watch`: the daemon over a watched folder.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::batch::Services;
use crate::daemon::{Daemon, DaemonConfig};
use crate::engine::{self, EngineOptions};
use crate::store::{StateLocation, Store};
use crate::web::{DEFAULT_PST_MAX_MIB, ServeOptions, Server};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The folder to watch for manifests.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The configuration file (YAML; see examples/mailshift-daemon.yaml).
    /// Each flag below overrides the configuration key of the same name
    /// (`--settle-seconds` → `settle_seconds`); the `smtp` and `web`
    /// sections have no flag.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The state database: an SQLite file, or a PostgreSQL URL.
    #[arg(long, env = "MAILSHIFT_STATE")]
    pub state: Option<StateLocation>,
    /// Where report folders go.
    #[arg(long, env = "MAILSHIFT_REPORTS")]
    pub reports: Option<PathBuf>,
    /// The daemon's own area for accepted manifests.
    #[arg(long)]
    pub area: Option<PathBuf>,
    /// Seconds a file must stay unchanged before it is read (default 2).
    #[arg(long)]
    pub settle_seconds: Option<u64>,
    /// Seconds between rescans of the folder (default 30).
    #[arg(long)]
    pub rescan_seconds: Option<u64>,
    /// Seconds running batches get to stop on SIGTERM (default 60).
    #[arg(long)]
    pub shutdown_timeout_seconds: Option<u64>,
    /// Connections to one host across every batch at once (default 16).
    #[arg(long)]
    pub connections_per_host: Option<usize>,
    /// The address told of every file rejected (through the
    /// configuration's `smtp` section).
    #[arg(long)]
    pub admin: Option<String>,
    /// Run the valid accounts of a manifest with invalid ones, listing the
    /// others in its `NAME.result.json`, instead of rejecting it.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Queue each accepted batch for `mailshift worker`s instead of
    /// running it here; its folder is filed in `done/` or `failed/` when
    /// the workers end it. They read the manifests from the area, which
    /// must be on a volume they share, at the same path.
    #[arg(long)]
    pub no_run: bool,
    /// Serve the status pages, the admin dashboard and the JSON API on
    /// this address beside the daemon (as `mailshift serve` does).
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<std::net::SocketAddr>,
    /// With `--serve`: the largest PST file the PST page takes, in MiB.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PST_MAX_MIB, requires = "serve")]
    pub pst_max_mib: u64,
    /// With `--serve`: an environment variable holding the admin token
    /// (instead of the configuration's `web.admin_token_file`).
    #[arg(long, value_name = "VAR", requires = "serve")]
    pub admin_token_env: Option<String>,
    /// With `--serve`: a reverse proxy whose `X-Forwarded-For` names the
    /// client (repeat for several).
    #[arg(long, value_name = "ADDR", requires = "serve")]
    pub trusted_proxy: Vec<std::net::IpAddr>,
}

/// Each flag given overrides its key of the configuration.
fn override_config(config: &mut DaemonConfig, args: &WatchArgs) {
    fn set<T: Clone>(key: &mut Option<T>, flag: &Option<T>) {
        if flag.is_some() {
            key.clone_from(flag);
        }
    }
    set(&mut config.state, &args.state);
    set(&mut config.reports, &args.reports);
    set(&mut config.area, &args.area);
    set(&mut config.settle_seconds, &args.settle_seconds);
    set(&mut config.rescan_seconds, &args.rescan_seconds);
    set(
        &mut config.shutdown_timeout_seconds,
        &args.shutdown_timeout_seconds,
    );
    set(&mut config.connections_per_host, &args.connections_per_host);
    set(&mut config.admin, &args.admin);
    if args.skip_invalid {
        config.skip_invalid = Some(true);
    }
    if args.no_run {
        config.no_run = Some(true);
    }
}

pub fn watch(args: &WatchArgs) -> anyhow::Result<Exit> {
    let mut config = match &args.config {
        Some(path) => DaemonConfig::load(path)?,
        None => DaemonConfig::default(),
    };
    override_config(&mut config, args);
    let state = config
        .state
        .clone()
        .unwrap_or_else(|| StateLocation::File("mailshift.db".into()));
    let reports = config
        .reports
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports"));
    let area = config
        .area
        .clone()
        .unwrap_or_else(|| PathBuf::from("mailshift-area"));
    let web = config.web.as_ref();
    let Some(admin) = super::serve::admin_access(web, args.admin_token_env.as_deref()) else {
        return Ok(Exit::Invalid);
    };
    let trusted_proxies = super::serve::trusted_proxies(web, &args.trusted_proxy);
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("Cannot watch {}", args.dir.display()))?;

    let store = Store::open(&state)?;
    let (retries, retried) = tokio::sync::mpsc::channel(16);
    let web = args.serve.map(|listen| ServeOptions {
        retries: Some(retries),
        reports: reports.clone(),
        inbox: Some(dir.clone()),
        admin,
        trusted_proxies,
        pst_max_bytes: args.pst_max_mib.saturating_mul(1024 * 1024),
        ..ServeOptions::new(listen)
    });
    let daemon = Daemon {
        dir,
        area,
        services: Services {
            store: store.clone(),
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
        let pages = match web {
            Some(options) => {
                let server = Server::bind(store, options).await?;
                println!("{}", server.url()?);
                Some(tokio::spawn(server.run(shutdown.clone())))
            }
            None => None,
        };
        let watched = daemon.watch(shutdown.clone(), retried).await;
        // The pages stop with the daemon.
        shutdown.cancel();
        if let Some(pages) = pages {
            pages.await.context("The status pages' task")??;
        }
        watched
    })?;
    Ok(Exit::Success)
}
