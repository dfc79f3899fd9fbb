//! `mailshift serve`: the status pages, the admin dashboard and the JSON
//! API over the state database.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::status::StateArg;
use crate::engine;
use crate::vocabulary::Secret;
use crate::web::{ServeOptions, Server};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// An environment variable holding the admin token: the password of
    /// `/admin` and the bearer token of the admin API. Without it, `/admin`
    /// lets nobody in.
    #[arg(long, value_name = "VAR")]
    pub admin_token_env: Option<String>,
    /// Where report folders are: undo rewrites the batch's report.
    #[arg(long, env = "MAILSHIFT_REPORTS", default_value = "reports")]
    pub reports: PathBuf,
    /// The watched folder of `mailshift watch`: a valid manifest uploaded
    /// on the dashboard is dropped there.
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// Lookups one client address may make at once; it gets one more per
    /// second after that.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub lookup_burst: u32,
    /// A reverse proxy in front (nginx, Caddy...) whose `X-Forwarded-For`
    /// names the client, so that lookups are limited per client rather
    /// than per proxy; repeat for several. Others' `X-Forwarded-For` is
    /// ignored.
    #[arg(long, value_name = "ADDR")]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    #[command(flatten)]
    pub state: StateArg,
}

/// The admin token from the variable `var`, if one is named; `None` (said
/// on standard error) when the variable holds none.
pub fn admin_token(var: Option<&str>) -> Option<Option<Secret>> {
    let Some(var) = var else { return Some(None) };
    match std::env::var(var) {
        Ok(token) if !token.trim().is_empty() => Some(Some(Secret::new(token.trim()))),
        _ => {
            eprintln!("mailshift: the environment variable {var} holds no admin token");
            None
        }
    }
}

pub fn serve(args: &ServeArgs) -> anyhow::Result<Exit> {
    let Some(store) = args.state.open_existing()? else {
        return Ok(Exit::NotFound);
    };
    let Some(admin_token) = admin_token(args.admin_token_env.as_deref()) else {
        return Ok(Exit::Invalid);
    };
    let options = ServeOptions {
        reports: args.reports.clone(),
        inbox: args.inbox.clone(),
        admin_token,
        lookup_burst: args.lookup_burst,
        trusted_proxies: args.trusted_proxy.clone(),
        ..ServeOptions::new(args.listen)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(store, options).await?;
        println!("http://{}/", server.address()?);
        let shutdown = CancellationToken::new();
        engine::stop_on_signals(shutdown.clone());
        server.run(shutdown).await
    })?;
    Ok(Exit::Success)
}
