//! `mailshift serve`: the status pages, the admin dashboard and the JSON
//! API over the state database; `mailshift hash-password`: the admin
//! password's hash for the configuration's `web:` section.

use std::io::{BufRead, IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::status::StateArg;
use crate::daemon::{DaemonConfig, WebConfig};
use crate::engine;
use crate::store::StateLocation;
use crate::vocabulary::{DEFAULT_ITERATIONS, PasswordHash, Secret};
use crate::web::{AdminAccess, DEFAULT_PST_MAX_MIB, ServeOptions, Server, TlsFiles};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The daemon's configuration file: its `state`, `reports` and `web`
    /// section (the admin password's hash, token file, proxy header).
    /// Flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An environment variable holding the admin token: the password of
    /// `/admin` and the bearer token of the admin API. It replaces the
    /// configuration's `admin_token_file`.
    #[arg(long, value_name = "VAR")]
    pub admin_token_env: Option<String>,
    /// Where report folders are: undo rewrites the batch's report
    /// (default `reports`, or the configuration's).
    #[arg(long, env = "MAILSHIFT_REPORTS")]
    pub reports: Option<PathBuf>,
    /// The watched folder of `mailshift watch`: a valid manifest uploaded
    /// on the dashboard is dropped there.
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// The largest PST file the PST page (`/admin/pst`) takes, in MiB.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PST_MAX_MIB)]
    pub pst_max_mib: u64,
    /// Lookups one client address may make at once; it gets one more per
    /// second after that.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub lookup_burst: u32,
    /// A reverse proxy in front (nginx, Caddy...) whose `X-Forwarded-For`
    /// names the client, so that lookups are limited per client rather
    /// than per proxy; repeat for several. Others' `X-Forwarded-For` is
    /// ignored. Added to the configuration's `trusted_proxies`.
    #[arg(long, value_name = "ADDR")]
    pub trusted_proxy: Vec<IpAddr>,
    /// Serve HTTPS with this certificate (PEM, then its chain); give
    /// `--tls-key` too.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The state database: a file or a PostgreSQL URL (default
    /// `mailshift.db`, or the configuration's).
    #[arg(long, env = "MAILSHIFT_STATE")]
    pub state: Option<StateLocation>,
}

/// `mailshift hash-password`.
#[derive(Debug, Args)]
pub struct HashPasswordArgs {
    /// PBKDF2 iterations: more is slower to check and slower to guess.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ITERATIONS)]
    pub iterations: u32,
}

/// Who may open `/admin`: the configuration's `web:` section, with the
/// token of the variable `token_env` (when named) instead of its token
/// file. `None` (said on standard error) when a token named is missing or
/// the proxy header is not a header name.
pub fn admin_access(web: Option<&WebConfig>, token_env: Option<&str>) -> Option<AdminAccess> {
    let web = web.cloned().unwrap_or_default();
    let token = match (token_env, &web.admin_token_file) {
        (Some(var), _) => match std::env::var(var) {
            Ok(token) if !token.trim().is_empty() => Some(Secret::new(token.trim())),
            _ => {
                eprintln!("mailshift: the environment variable {var} holds no admin token");
                return None;
            }
        },
        (None, Some(file)) => match std::fs::read_to_string(file) {
            Ok(token) if !token.trim().is_empty() => Some(Secret::new(token.trim())),
            Ok(_) => {
                eprintln!(
                    "mailshift: {}: the admin token file is empty",
                    file.display()
                );
                return None;
            }
            Err(e) => {
                eprintln!(
                    "mailshift: cannot read the admin token file {}: {e}",
                    file.display()
                );
                return None;
            }
        },
        (None, None) => None,
    };
    let user_header = match web.admin_user_header.as_deref().map(str::parse) {
        None => None,
        Some(Ok(name)) => Some(name),
        Some(Err(_)) => {
            eprintln!("mailshift: web.admin_user_header is not an HTTP header name");
            return None;
        }
    };
    Some(AdminAccess {
        token,
        password: web.admin_password_hash,
        user_header,
    })
}

/// The configuration's trusted proxies, then those of the flags.
pub fn trusted_proxies(web: Option<&WebConfig>, flags: &[IpAddr]) -> Vec<IpAddr> {
    let mut all = web.map(|w| w.trusted_proxies.clone()).unwrap_or_default();
    all.extend(
        flags
            .iter()
            .filter(|a| !all.contains(a))
            .collect::<Vec<_>>(),
    );
    all
}

pub fn serve(args: &ServeArgs) -> anyhow::Result<Exit> {
    let config = match &args.config {
        Some(path) => DaemonConfig::load(path)?,
        None => DaemonConfig::default(),
    };
    let state = StateArg {
        state: (args.state.clone())
            .or_else(|| config.state.clone())
            .unwrap_or_else(|| StateLocation::File("mailshift.db".into())),
    };
    let Some(store) = state.open_existing()? else {
        return Ok(Exit::NotFound);
    };
    let web = config.web.as_ref();
    let Some(admin) = admin_access(web, args.admin_token_env.as_deref()) else {
        return Ok(Exit::Invalid);
    };
    let options = ServeOptions {
        reports: (args.reports.clone())
            .or_else(|| config.reports.clone())
            .unwrap_or_else(|| PathBuf::from("reports")),
        inbox: args.inbox.clone(),
        admin,
        lookup_burst: args.lookup_burst,
        pst_max_bytes: args.pst_max_mib.saturating_mul(1024 * 1024),
        trusted_proxies: trusted_proxies(web, &args.trusted_proxy),
        tls: (args.tls_cert.clone())
            .zip(args.tls_key.clone())
            .map(|(cert, key)| TlsFiles { cert, key }),
        ..ServeOptions::new(args.listen)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(store, options).await?;
        println!("{}", server.url()?);
        let shutdown = CancellationToken::new();
        engine::stop_on_signals(shutdown.clone());
        server.run(shutdown).await
    })?;
    Ok(Exit::Success)
}

/// Reads the password (without echo on a terminal, twice to be sure) and
/// prints its hash.
pub fn hash_password(args: &HashPasswordArgs) -> anyhow::Result<Exit> {
    let password = if std::io::stdin().is_terminal() {
        let first = read_hidden("Password: ")?;
        let again = read_hidden("Again: ")?;
        if first != again {
            eprintln!("mailshift: the two passwords differ; nothing printed");
            return Ok(Exit::Invalid);
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("Reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        eprintln!("mailshift: an empty password cannot be an admin password");
        return Ok(Exit::Invalid);
    }
    match PasswordHash::new(&password, args.iterations) {
        Ok(hash) => {
            println!("{}", hash.to_phc());
            Ok(Exit::Success)
        }
        Err(e) => {
            eprintln!("mailshift: --iterations {}: {e}", args.iterations);
            Ok(Exit::Invalid)
        }
    }
}

/// One line from the terminal, its echo turned off meanwhile (by `stty`).
fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    let stty = |arg: &str| {
        Command::new("stty")
            .arg(arg)
            .stdin(Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let hidden = stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        stty("echo");
    }
    eprintln!();
    read.context("Reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
