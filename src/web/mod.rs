//! `mailshift serve`: the web front end over the state database.
//!
//! - `/`: the end user's page. A migration ID and the source address give
//!   that account's status, updated live by a little polling script, with
//!   Cancel and Undo (each with a confirm step). A wrong pair gets the same
//!   answer as an unknown ID, as `mailshift status` does.
//! - `/admin`: the dashboard, behind a login: batches with totals, the
//!   accounts of a batch (search, filter by state, sort, pages), an
//!   account's detail with cancel, resume, undo and retry.
//! - `/api/v1`: the JSON API the pages use (`docs/api.md`).
//!
//! Every action calls the same library functions as the CLI: the store's
//! status and cancel requests, [`crate::undo::run::account`]. Pages are
//! rendered by handlebars from `templates/web/`, as the HTML report is,
//! and every value goes through its HTML escaping.
//!
//! - `i18n`: English and Spanish, by `Accept-Language`.
//! - `guard`: CSRF tokens, the lookup rate limit, the admin login.
//! - `view`: what an account looks like to its owner.
//! - `actions`: cancel, resume, undo and retry, for pages and API alike.
//! - `rate`: how fast a running stage moves, sampled as it is read.
//! - `tasks`: undo in the background, followed until its outcome.
//! - `listing`: a batch's accounts filtered, sorted and paged.
//! - `tls`: HTTPS of its own, with rustls.
//! - `upload`: a manifest uploaded, checked and dropped into the watched
//!   folder.
//! - `pst`: a PST file uploaded with its destination, imported through
//!   the watched folder.
//! - `pages`, `admin`, `api`: the routes.

mod actions;
mod admin;
mod api;
mod guard;
mod i18n;
mod listing;
mod pages;
mod pst;
mod rate;
mod render;
mod tasks;
mod tls;
mod upload;
mod view;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Router, middleware};
use tokio_util::sync::CancellationToken;

use crate::daemon::retry::Retries;
use crate::store::Store;
pub use guard::AdminAccess;
pub use pst::upload_folders;
pub use tls::TlsFiles;

/// How `serve` is set up.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where report folders are: undo rewrites the batch's report.
    pub reports: PathBuf,
    /// The watched folder uploaded manifests are dropped into, if any.
    pub inbox: Option<PathBuf>,
    /// Who may open `/admin`; by default nobody.
    pub admin: AdminAccess,
    /// Lookups a client address may make at once...
    pub lookup_burst: u32,
    /// ...and how often it gets one more.
    pub lookup_refill: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client: lookups
    /// are limited per client behind them, not per proxy.
    pub trusted_proxies: Vec<IpAddr>,
    /// The certificate and key to serve HTTPS with; plain HTTP without.
    pub tls: Option<TlsFiles>,
    /// The largest PST file the PST page takes, in bytes.
    pub pst_max_bytes: u64,
    /// The daemon this server runs inside (`watch --serve`), which runs
    /// retried accounts; none for a plain `serve`.
    pub retries: Option<Retries>,
}

impl ServeOptions {
    /// The defaults on `listen`: 30 lookups at once, then one a second
    /// (a status page polls every three seconds).
    pub fn new(listen: SocketAddr) -> ServeOptions {
        ServeOptions {
            listen,
            reports: PathBuf::from("reports"),
            inbox: None,
            trusted_proxies: Vec::new(),
            tls: None,
            admin: AdminAccess::default(),
            lookup_burst: 30,
            lookup_refill: Duration::from_secs(1),
            pst_max_bytes: DEFAULT_PST_MAX_MIB * 1024 * 1024,
            retries: None,
        }
    }
}

/// The largest PST file taken by default, in MiB.
pub const DEFAULT_PST_MAX_MIB: u64 = 2048;

/// What every handler shares.
struct App {
    store: Store,
    reports: PathBuf,
    inbox: Option<PathBuf>,
    pst_max_bytes: u64,
    retries: Option<Retries>,
    lookups: guard::RateLimit,
    admin: guard::AdminLogin,
    rates: rate::Rates,
    tasks: tasks::Tasks,
    trusted_proxies: Vec<IpAddr>,
}

type Shared = Arc<App>;

/// Every route.
fn router(app: Shared) -> Router {
    // The file, and room for the destination's fields.
    let pst_limit = usize::try_from(app.pst_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    let admins = Router::new()
        .route("/admin", get(admin::batches))
        .route("/admin/batches/{id}", get(admin::accounts))
        .route("/admin/batches/{id}/{file}", get(admin::report))
        .route("/admin/accounts/{id}", get(admin::account))
        .route("/admin/accounts/{id}/undo.json", get(admin::undo_manifest))
        .route("/admin/accounts/{id}/{action}", post(admin::act))
        .route(
            "/api/v1/batches",
            get(api::batches)
                .post(api::upload)
                .layer(DefaultBodyLimit::max(upload::MAX_BYTES)),
        )
        .route("/admin/pst", get(admin::pst_form))
        .route(
            "/api/v1/pst",
            post(api::pst).layer(DefaultBodyLimit::max(pst_limit)),
        )
        .route("/api/v1/batches/{id}/accounts", get(api::accounts))
        .route(
            "/api/v1/batches/{id}/accounts/actions",
            post(api::selection),
        )
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            admin::admins_only,
        ));
    Router::new()
        .route("/", get(pages::home))
        .route("/status", get(pages::status))
        .route("/status/{action}", get(pages::confirm).post(pages::act))
        .route("/admin/login", get(admin::login_form).post(admin::login))
        .route("/api/v1/csrf", get(api::csrf))
        .route("/api/v1/migrations/{id}", get(api::migration))
        .route("/api/v1/migrations/{id}/{action}", post(api::act))
        .route("/api/v1/tasks/{task}", get(api::task))
        .merge(admins)
        .with_state(app)
}

/// A server bound to its address, ready to run.
pub struct Server {
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Shared,
}

impl Server {
    /// Listens on `options.listen`, over `store`.
    /// The TLS files, when given, are read now.
    pub async fn bind(store: Store, options: ServeOptions) -> anyhow::Result<Server> {
        let tls = options.tls.as_ref().map(TlsFiles::acceptor).transpose()?;
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("Cannot listen on {}", options.listen))?;
        let app = Arc::new(App {
            store,
            reports: options.reports,
            inbox: options.inbox,
            pst_max_bytes: options.pst_max_bytes,
            retries: options.retries,
            lookups: guard::RateLimit::new(options.lookup_burst, options.lookup_refill),
            admin: guard::AdminLogin::new(options.admin, options.trusted_proxies.clone()),
            rates: rate::Rates::default(),
            tasks: tasks::Tasks::default(),
            trusted_proxies: options.trusted_proxies,
        });
        Ok(Server { listener, tls, app })
    }

    /// The address it listens on (the port chosen, for port 0).
    pub fn address(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("Reading the listening address")
    }

    /// The URL of its home page: `http://ADDR/`, or `https://` with TLS.
    pub fn url(&self) -> anyhow::Result<String> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        Ok(format!("{scheme}://{}/", self.address()?))
    }

    /// Serves the pages and the API until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let service = router(self.app).into_make_service_with_connect_info::<tls::Peer>();
        let stop = async move { shutdown.cancelled().await };
        match self.tls {
            None => {
                axum::serve(self.listener, service)
                    .with_graceful_shutdown(stop)
                    .await
            }
            Some(acceptor) => {
                let listener = tls::TlsListener::new(self.listener, acceptor)?;
                axum::serve(listener, service)
                    .with_graceful_shutdown(stop)
                    .await
            }
        }
        .context("Serving the status pages")
    }
}
