//! Autodetect: a mailbox's server settings from its address alone, as the
//! hosted service's "Detect settings" button does.
//!
//! Four sources are asked in order; the first that answers wins and the
//! answer says which it was ([`Method`]):
//!
//! 1. the built-in [`providers`] table, by the address's domain
//!    (`gmail.com`);
//! 2. Mozilla [`autoconfig`] documents (the domain's own, then
//!    Thunderbird's ISPDB);
//! 3. DNS SRV records ([`dns`]): RFC 6186 `_imaps._tcp`, `_imap._tcp`,
//!    `_pop3s._tcp`, `_pop3._tcp`, `_submissions._tcp`, `_submission._tcp`,
//!    and RFC 6764 `_caldavs._tcp`, `_carddavs._tcp`, RFC 5804
//!    `_sieve._tcp` alongside;
//! 4. the domain's MX hosts matched against the provider table (a company
//!    domain hosted by a known provider).
//!
//! A [`Detector`] caches its answers per domain for its lifetime (one
//! batch): 2,000 addresses of one domain cost one lookup, and concurrent
//! requests for a domain wait for the same lookup. For tests and closed
//! networks, `MAILSHIFT_DNS=IP:port` names the one DNS server to ask and
//! `MAILSHIFT_AUTOCONFIG_URL=http://host:port` replaces the scheme, host
//! and port of every autoconfig URL ([`Config::from_env`]).

pub mod autoconfig;
pub mod dns;
pub mod providers;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::OnceCell;

use crate::protocols::dns::{self as resolver, Dns, LookupError};
use crate::protocols::http::{self, Url};
use crate::vocabulary::TlsMode;

pub use crate::protocols::dns::DNS_ENV;
/// The environment variable replacing the base of autoconfig URLs.
pub const AUTOCONFIG_ENV: &str = "MAILSHIFT_AUTOCONFIG_URL";

/// How long one HTTP request may take.
const TIMEOUT: Duration = Duration::from_secs(8);
/// How long one DNS query may take (it is tried twice).
const DNS_TIMEOUT: Duration = Duration::from_secs(4);
/// Redirects followed for one autoconfig document.
const MAX_REDIRECTS: usize = 3;

/// Where a service is and how to secure the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Host name.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How the connection is secured.
    pub tls: TlsMode,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tls = match self.tls {
            TlsMode::Implicit => "TLS",
            TlsMode::StartTls => "STARTTLS",
            TlsMode::None => "no TLS",
        };
        write!(f, "{}:{} ({tls})", self.host, self.port)
    }
}

/// Server settings found for a domain. Fields a source did not give are
/// `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// The provider's name, when the source gives one.
    pub provider: Option<String>,
    /// The IMAP server.
    pub imap: Option<Service>,
    /// The POP3 server.
    pub pop3: Option<Service>,
    /// The SMTP submission server.
    pub smtp: Option<Service>,
    /// CalDAV base URL.
    pub caldav: Option<String>,
    /// CardDAV base URL.
    pub carddav: Option<String>,
    /// ManageSieve server.
    pub sieve: Option<Service>,
    /// The login name: a template (`%EMAILLOCALPART%`) in the cache, the
    /// name itself once filled in for an address.
    pub login: Option<String>,
    /// What an admin must know (app passwords, OAuth2 only, ...).
    pub note: Option<String>,
}

/// Which source answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The built-in provider table, by the address's domain.
    ProviderTable,
    /// A Mozilla autoconfig document.
    Autoconfig,
    /// DNS SRV records (RFC 6186).
    Srv,
    /// The domain's MX hosts, matched against the provider table.
    Mx,
}

impl Method {
    /// The source in words.
    pub fn describe(self) -> &'static str {
        match self {
            Method::ProviderTable => "built-in provider table",
            Method::Autoconfig => "autoconfig",
            Method::Srv => "DNS SRV",
            Method::Mx => "DNS MX",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// One source asked, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The source asked.
    pub method: Method,
    /// What was asked: a domain, a URL, record names.
    pub query: String,
    /// What came back, in words: `HTTP 404`, `no records`, ...
    pub result: String,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.query, self.result)
    }
}

/// What autodetect found for an address, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// The address's domain, in ASCII (IDNA) form.
    pub domain: String,
    /// The source that answered.
    pub method: Method,
    /// What exactly answered: the provider, the URL, the records.
    pub answered_by: String,
    /// The settings.
    pub settings: Settings,
    /// The sources asked before the one that answered, with their answers.
    pub tried: Vec<Attempt>,
}

impl Detection {
    /// `autoconfig https://...`, `built-in provider table (Gmail)`.
    pub fn origin(&self) -> String {
        format!("{} {}", self.method, self.answered_by)
    }

    /// The detection with templates filled in for `email`.
    fn for_address(&self, email: &str) -> Detection {
        let mut d = self.clone();
        let s = &mut d.settings;
        s.caldav = s.caldav.as_deref().map(|u| autoconfig::fill(u, email));
        s.carddav = s.carddav.as_deref().map(|u| autoconfig::fill(u, email));
        s.login = Some(
            s.login
                .as_deref()
                .map_or_else(|| email.to_owned(), |t| autoconfig::fill(t, email)),
        );
        d
    }
}

/// Why autodetect gave no settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    /// The text is not an address with a domain.
    #[error("{0:?} is not an email address")]
    NotAnAddress(String),
    /// No source answered.
    #[error("no server settings found for {domain}; tried {}", list(.tried))]
    NotFound {
        /// The address's domain.
        domain: String,
        /// Every source asked, in order, with its answer.
        tried: Vec<Attempt>,
    },
}

fn list(tried: &[Attempt]) -> String {
    tried
        .iter()
        .map(Attempt::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where autodetect looks.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The one DNS server to ask; the system's configuration when `None`.
    pub dns: Option<SocketAddr>,
    /// Replaces scheme, host and port of every autoconfig URL.
    pub autoconfig_base: Option<Url>,
}

impl Config {
    /// From `MAILSHIFT_DNS` and `MAILSHIFT_AUTOCONFIG_URL`, when set.
    pub fn from_env() -> Result<Config, String> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Config::new(var(DNS_ENV).as_deref(), var(AUTOCONFIG_ENV).as_deref())
    }

    /// From a DNS server (`IP:port`, or an IP for port 53) and an
    /// autoconfig base URL.
    pub fn new(dns: Option<&str>, autoconfig_base: Option<&str>) -> Result<Config, String> {
        let dns = dns.map(resolver::parse_server).transpose()?;
        let autoconfig_base = autoconfig_base.map(Url::parse).transpose()?;
        Ok(Config {
            dns,
            autoconfig_base,
        })
    }
}

/// The shared result of one domain's lookup.
type Slot = Arc<OnceCell<Result<Arc<Detection>, DetectError>>>;

/// Finds settings, remembering each domain's answer.
pub struct Detector {
    config: Config,
    dns: OnceCell<Result<Dns, String>>,
    cache: Mutex<HashMap<String, Slot>>,
    lookups: AtomicUsize,
}

impl Detector {
    /// A detector with an empty cache.
    pub fn new(config: Config) -> Detector {
        Detector {
            config,
            dns: OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
            lookups: AtomicUsize::new(0),
        }
    }

    /// How many domains were actually looked up (not answered from the
    /// cache).
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::Relaxed)
    }

    /// The settings for an address: from the cache when its domain was
    /// looked up before, else from the first source that answers.
    pub async fn detect(&self, email: &str) -> Result<Detection, DetectError> {
        let email = email.trim();
        let domain = domain_of(email).ok_or_else(|| DetectError::NotAnAddress(email.to_owned()))?;
        let slot: Slot = {
            // Never held across an await.
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.entry(domain.clone()).or_default().clone()
        };
        let found = slot
            .get_or_init(|| async {
                self.lookups.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%domain, "autodetect lookup");
                self.lookup(&domain, email).await.map(Arc::new)
            })
            .await;
        match found {
            Ok(detection) => Ok(detection.for_address(email)),
            Err(e) => Err(e.clone()),
        }
    }

    async fn dns(&self) -> Result<&Dns, String> {
        self.dns
            .get_or_init(|| async { Dns::new(self.config.dns, DNS_TIMEOUT) })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Asks each source in turn.
    async fn lookup(&self, domain: &str, email: &str) -> Result<Detection, DetectError> {
        let mut tried = Vec::new();
        let found = |method, answered_by: String, settings, tried| {
            Ok(Detection {
                domain: domain.to_owned(),
                method,
                answered_by,
                settings,
                tried,
            })
        };

        if let Some(p) = providers::by_domain(domain) {
            return found(
                Method::ProviderTable,
                p.name.to_owned(),
                p.settings(None),
                tried,
            );
        }
        tried.push(Attempt {
            method: Method::ProviderTable,
            query: domain.to_owned(),
            result: "not a known provider's domain".to_owned(),
        });

        for url in autoconfig::urls(domain, email) {
            match self.autoconfig(&url, email).await {
                Ok((settings, answered)) => {
                    // Without the query: the answer stands for the whole domain.
                    let text = answered.to_string();
                    let url = text.split('?').next().unwrap_or(&text).to_owned();
                    return found(Method::Autoconfig, url, settings, tried);
                }
                Err(result) => tried.push(Attempt {
                    method: Method::Autoconfig,
                    query: url.to_string(),
                    result,
                }),
            }
        }

        let dns = match self.dns().await {
            Ok(dns) => dns,
            Err(e) => {
                for method in [Method::Srv, Method::Mx] {
                    tried.push(Attempt {
                        method,
                        query: domain.to_owned(),
                        result: e.clone(),
                    });
                }
                return Err(DetectError::NotFound {
                    domain: domain.to_owned(),
                    tried,
                });
            }
        };

        match dns::srv_settings(dns, domain).await {
            Ok((settings, records)) => return found(Method::Srv, records, settings, tried),
            Err(attempt) => tried.push(attempt),
        }

        match dns::mx_settings(dns, domain).await {
            Ok((settings, answered)) => found(Method::Mx, answered, settings, tried),
            Err(attempt) => {
                tried.push(attempt);
                Err(DetectError::NotFound {
                    domain: domain.to_owned(),
                    tried,
                })
            }
        }
    }

    /// Fetches and reads one autoconfig document, following redirects.
    /// `Err` says what went wrong, in words.
    async fn autoconfig(&self, url: &Url, email: &str) -> Result<(Settings, Url), String> {
        let mut url = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let target = match &self.config.autoconfig_base {
                Some(base) => url.rebased(base),
                None => url.clone(),
            };
            let dns = self.dns().await?;
            let addresses = dns.addresses(&target.host).await.map_err(|e| match e {
                LookupError::NoRecords => format!("{} does not resolve", target.host),
                LookupError::Failed(e) => format!("cannot resolve {}: {e}", target.host),
            })?;
            let response = http::get(&target, &url.authority(), &addresses, TIMEOUT).await?;
            match response.status {
                200 => {
                    let text = String::from_utf8_lossy(&response.body);
                    let doc = autoconfig::parse(&text).map_err(|e| e.to_string())?;
                    let settings = doc
                        .settings(email)
                        .ok_or("the document names no IMAP or POP3 server")?;
                    return Ok((settings, url));
                }
                301 | 302 | 303 | 307 | 308 => {
                    let location = response
                        .location
                        .ok_or(format!("HTTP {} without a Location", response.status))?;
                    url = url.join(&location)?;
                }
                status => return Err(format!("HTTP {status}")),
            }
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }
}

/// The domain of an address, lower case and in ASCII (IDNA) form.
pub fn domain_of(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.');
    if local.is_empty() || domain.is_empty() || !domain.contains('.') {
        return None;
    }
    let name = hickory_resolver::proto::rr::Name::from_utf8(domain).ok()?;
    let ascii = name.to_ascii().to_ascii_lowercase();
    Some(ascii.trim_end_matches('.').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(domain_of("A@Example.TEST").as_deref(), Some("example.test"));
        assert_eq!(
            domain_of("a@bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(domain_of("nobody"), None);
        assert_eq!(domain_of("a@localhost"), None);
    }

    #[test]
    fn config() {
        let c = Config::new(Some("127.0.0.1:5353"), Some("http://127.0.0.1:8080")).unwrap();
        assert_eq!(c.dns, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(c.autoconfig_base.unwrap().port, 8080);
        assert_eq!(
            Config::new(Some("::1"), None).unwrap().dns,
            Some("[::1]:53".parse().unwrap())
        );
        assert!(Config::new(Some("dns.example"), None).is_err());
    }

    #[tokio::test]
    async fn provider_domains_need_no_network() {
        let detector = Detector::new(Config::default());
        let d = detector.detect("someone@gmail.com").await.unwrap();
        assert_eq!(d.method, Method::ProviderTable);
        let imap = d.settings.imap.unwrap();
        assert_eq!((imap.host.as_str(), imap.port), ("imap.gmail.com", 993));
        assert_eq!(
            d.settings.caldav.as_deref(),
            Some("https://apidata.googleusercontent.com/caldav/v2/someone@gmail.com/events")
        );
        assert_eq!(d.settings.login.as_deref(), Some("someone@gmail.com"));
        detector.detect("other@GMAIL.com").await.unwrap();
        assert_eq!(detector.lookups(), 1);
    }
}
