//! Finding an account's CalDAV or CardDAV home collection (RFC 6764,
//! RFC 5397, RFC 4791 §6.2.1, RFC 6352 §7.1.1).
//!
//! The search starts from the endpoint's `dav_url` when it has one, else
//! from, in order: the `_caldavs._tcp` / `_caldav._tcp` (or `_carddav*`)
//! SRV records of the address's domain (with the TXT `path=`), then
//! `https://DOMAIN/.well-known/caldav` and the same on the endpoint's
//! host. From a starting URL, redirects are followed, then
//! `current-user-principal`, then the principal's `calendar-home-set` /
//! `addressbook-home-set`. A `dav_url` whose server names no principal is
//! taken as the home collection itself.
//!
//! The login travels over plain HTTP only where the manifest says so: a
//! `dav_url` starting with `http://`, or an endpoint configured without
//! TLS (then `_caldav._tcp` records and redirects from HTTPS to HTTP are
//! followed too).

use std::fmt;
use std::time::Duration;

use super::xml::DavResponse;
use super::{DavClient, DavError};
use crate::protocols::dns::{self, Dns};
use crate::protocols::http::Url;
use crate::protocols::imap::Auth;

/// Redirects followed from one starting URL.
const MAX_REDIRECTS: usize = 5;
/// How long a discovery request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one DNS query may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(4);

/// The properties discovery asks for.
const PROPS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:r="urn:ietf:params:xml:ns:carddav"><d:prop><d:current-user-principal/><c:calendar-home-set/><r:addressbook-home-set/><d:resourcetype/></d:prop></d:propfind>"#;

/// Which home collection is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Calendars and tasks (RFC 4791).
    CalDav,
    /// Contacts (RFC 6352).
    CardDav,
}

impl Service {
    /// `caldav` or `carddav`: the well-known name and SRV service.
    fn name(self) -> &'static str {
        match self {
            Service::CalDav => "caldav",
            Service::CardDav => "carddav",
        }
    }

    fn home(self, response: &DavResponse) -> Option<&str> {
        match self {
            Service::CalDav => response.calendar_home.as_deref(),
            Service::CardDav => response.addressbook_home.as_deref(),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::CalDav => "CalDAV",
            Service::CardDav => "CardDAV",
        })
    }
}

/// Who logs in, and how.
#[derive(Clone)]
pub struct Login {
    /// The login name.
    pub user: String,
    /// Its password or token.
    pub auth: Auth,
    /// Whether a certificate that does not verify is taken anyway (a
    /// test server's, a self-signed one the manifest allows).
    pub accept_invalid_certs: bool,
    /// How long one request may go without an answer.
    pub timeout: Duration,
}

/// Where to look for an account's home collection.
#[derive(Debug, Clone)]
pub struct Account<'a> {
    /// The mailbox address (its domain is asked first).
    pub email: &'a str,
    /// The endpoint's `dav_url`, when the manifest gives one.
    pub dav_url: Option<&'a str>,
    /// The endpoint's mail server host, tried last.
    pub host: Option<&'a str>,
    /// Whether the login may travel over plain HTTP when discovery leads
    /// there (a `_caldav._tcp` record, a redirect from HTTPS): only when
    /// the endpoint itself is configured without TLS.
    pub plain_http: bool,
}

/// Why no home collection was found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The server answered and refused the login, or answered with
    /// something unreadable: trying elsewhere would not help.
    #[error(transparent)]
    Dav(#[from] DavError),
    /// Nothing answered as a home collection anywhere discovery looked.
    #[error("no {service} server found for {email}; tried {tried}")]
    NotFound {
        /// What was looked for.
        service: Service,
        /// The account's address.
        email: String,
        /// The places tried, in order.
        tried: String,
    },
}

/// A client for the account's home collection.
pub async fn home(
    service: Service,
    account: &Account<'_>,
    login: &Login,
) -> Result<DavClient, DiscoveryError> {
    let explicit = account.dav_url.is_some();
    let starts = match account.dav_url {
        Some(url) => vec![url.to_owned()],
        None => candidates(service, account).await,
    };
    let mut tried = Vec::new();
    for start in starts {
        match from_start(service, &start, login, explicit, account.plain_http).await {
            Ok(client) => return Ok(client),
            Err(Failure::Fatal(error)) => return Err(error.into()),
            Err(Failure::Unreachable(error)) if explicit => return Err(error.into()),
            Err(Failure::Unreachable(error)) => tried.push(format!("{start} ({error})")),
            Err(Failure::Next(reason)) => tried.push(format!("{start} ({reason})")),
        }
    }
    Err(DiscoveryError::NotFound {
        service,
        email: account.email.to_owned(),
        tried: tried.join("; "),
    })
}

/// The starting URLs for an account without `dav_url`.
async fn candidates(service: Service, account: &Account<'_>) -> Vec<String> {
    let name = service.name();
    let domain = account.email.rsplit('@').next().unwrap_or("");
    let mut out = Vec::new();
    let dns = Dns::from_env(DNS_TIMEOUT).ok();
    if let Some(dns) = &dns {
        let secure = format!("_{name}s._tcp");
        out.extend(dns::dav_url(dns, &secure, domain, name, true).await);
        if account.plain_http {
            let plain = format!("_{name}._tcp");
            out.extend(dns::dav_url(dns, &plain, domain, name, false).await);
        }
    }
    for host in [Some(domain), account.host].into_iter().flatten() {
        let url = format!("https://{host}/.well-known/{name}");
        if !host.is_empty() && !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// Why one starting URL gave no home.
enum Failure {
    /// Try the next starting URL.
    Next(String),
    /// No connection to it: try the next one, unless it is the endpoint's
    /// own `dav_url` (then that is the answer, typed).
    Unreachable(DavError),
    /// Stop: the server refused the login or cannot be read.
    Fatal(DavError),
}

impl From<DavError> for Failure {
    fn from(error: DavError) -> Self {
        match error {
            DavError::Auth { .. } | DavError::Xml { .. } => Failure::Fatal(error),
            DavError::Connect { .. } | DavError::Tls { .. } | DavError::Timeout { .. } => {
                Failure::Unreachable(error)
            }
            other => Failure::Next(other.to_string()),
        }
    }
}

/// The home found from one starting URL.
async fn from_start(
    service: Service,
    start: &str,
    login: &Login,
    explicit: bool,
    plain_http: bool,
) -> Result<DavClient, Failure> {
    // A candidate that does not answer must not hold the account for the
    // whole request timeout: the probes get a shorter one.
    let probe = Login {
        timeout: login.timeout.min(PROBE_TIMEOUT),
        ..login.clone()
    };
    let mut url = Url::parse(start).map_err(Failure::Next)?;
    for _ in 0..=MAX_REDIRECTS {
        let client = client_at(&url, &probe)?;
        let answer = client.propfind_answer(&url.path, "0", PROPS).await?;
        if matches!(answer.status, 301 | 302 | 303 | 307 | 308) {
            let location = answer.location.as_deref().unwrap_or_default();
            let next = url.join(location).map_err(Failure::Next)?;
            if url.https && !next.https && !plain_http {
                return Err(Failure::Next(format!(
                    "redirected to {next}: plain HTTP would expose the login"
                )));
            }
            url = next;
            continue;
        }
        let answer = client.expect(answer, "PROPFIND", &url.path, &[207])?;
        let found = client.multistatus(&answer)?;
        let Some(response) = found.first() else {
            return Err(Failure::Next("an empty answer".into()));
        };
        if let Some(home) = service.home(response) {
            return Ok(client_at(&url.join(home).map_err(Failure::Next)?, login)?);
        }
        let Some(principal) = response.principal.clone() else {
            if explicit {
                // A server without principals: dav_url is the home.
                return Ok(client_at(&url, login)?);
            }
            return Err(Failure::Next("no current-user-principal".into()));
        };
        let principal = url.join(&principal).map_err(Failure::Next)?;
        let client = client_at(&principal, &probe)?;
        let found = client.propfind(&principal.path, "0", PROPS).await?;
        return match found.first().and_then(|r| service.home(r)) {
            Some(home) => Ok(client_at(
                &principal.join(home).map_err(Failure::Next)?,
                login,
            )?),
            None => Err(Failure::Next(format!(
                "the principal {} names no {service} home",
                principal.path
            ))),
        };
    }
    Err(Failure::Next(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

fn client_at(url: &Url, login: &Login) -> Result<DavClient, DavError> {
    DavClient::new(
        &url.to_string(),
        &login.user,
        login.auth.clone(),
        login.accept_invalid_certs,
        login.timeout,
    )
}
