//! DNS lookups for autodetect and WebDAV home discovery: SRV (RFC 6186 for
//! mail, RFC 6764 for CalDAV/CardDAV), TXT (RFC 6764 context paths), MX,
//! and addresses for the autoconfig hosts. hickory-resolver, with the
//! system's resolver configuration or one name server given as `IP:port`
//! (`MAILSHIFT_DNS`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

/// The environment variable naming the DNS server to ask (`IP:port`).
pub const DNS_ENV: &str = "MAILSHIFT_DNS";

/// A resolver for one batch.
pub struct Dns {
    resolver: TokioResolver,
}

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Lower is tried first.
    pub priority: u16,
    /// Among equal priorities, higher is preferred.
    pub weight: u16,
    /// The service's port.
    pub port: u16,
    /// The target host, without the trailing dot; `.` means "no service".
    pub target: String,
}

/// Why a lookup gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name has no records of the type asked for (or does not exist).
    #[error("no records")]
    NoRecords,
    /// The lookup itself failed: timeout, refused, unreachable server.
    #[error("{0}")]
    Failed(String),
}

impl Dns {
    /// A resolver using the server `MAILSHIFT_DNS` names, when set, or the
    /// system's configuration.
    pub fn from_env(timeout: Duration) -> Result<Dns, String> {
        let server = std::env::var(DNS_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|text| parse_server(&text))
            .transpose()?;
        Dns::new(server, timeout)
    }

    /// A resolver using `server` only, or the system's configuration.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Dns, String> {
        let mut builder = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?,
        };
        let options = builder.options_mut();
        options.timeout = timeout;
        options.attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot set up DNS: {e}"))?;
        Ok(Dns { resolver })
    }

    /// SRV records of `name`, best first (lowest priority, then highest
    /// weight). A lone `.` target (RFC 2782: "not offered") gives an
    /// empty list.
    pub async fn srv(&self, name: &str) -> Result<Vec<Srv>, LookupError> {
        let lookup = self
            .resolver
            .srv_lookup(fqdn(name))
            .await
            .map_err(classify)?;
        let mut records: Vec<Srv> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(Srv {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: host_of(&srv.target.to_ascii()),
                }),
                _ => None,
            })
            .collect();
        records.sort_by_key(|r| (r.priority, std::cmp::Reverse(r.weight)));
        if records.len() == 1 && (records[0].target.is_empty() || records[0].target == ".") {
            return Ok(Vec::new());
        }
        records.retain(|r| !r.target.is_empty() && r.port != 0);
        if records.is_empty() {
            return Err(LookupError::NoRecords);
        }
        Ok(records)
    }

    /// MX hosts of `domain`, most preferred first.
    pub async fn mx(&self, domain: &str) -> Result<Vec<String>, LookupError> {
        let lookup = self
            .resolver
            .mx_lookup(fqdn(domain))
            .await
            .map_err(classify)?;
        let mut records: Vec<(u16, String)> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, host_of(&mx.exchange.to_ascii()))),
                _ => None,
            })
            .filter(|(_, host)| !host.is_empty())
            .collect();
        records.sort();
        if records.is_empty() {
            return Err(LookupError::NoRecords);
        }
        Ok(records.into_iter().map(|(_, host)| host).collect())
    }

    /// The TXT strings of `name`, each record's strings joined.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let lookup = self
            .resolver
            .txt_lookup(fqdn(name))
            .await
            .map_err(classify)?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    /// The addresses of `host` (an IP address is its own answer).
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let lookup = self
            .resolver
            .lookup_ip(fqdn(host))
            .await
            .map_err(classify)?;
        let ips: Vec<IpAddr> = lookup.iter().collect();
        if ips.is_empty() {
            return Err(LookupError::NoRecords);
        }
        Ok(ips)
    }
}

/// RFC 6764: the SRV target, and the context path from the TXT record of
/// the same name (`path=/dav/`), else `/.well-known/<service>`; `https`
/// for the `_caldavs`/`_carddavs` services, plain HTTP for the others.
pub async fn dav_url(
    dns: &Dns,
    service: &str,
    domain: &str,
    well_known: &str,
    https: bool,
) -> Option<String> {
    let name = format!("{service}.{domain}");
    let record = dns.srv(&name).await.ok()?.into_iter().next()?;
    let path = dns
        .txt(&name)
        .await
        .unwrap_or_default()
        .iter()
        .find_map(|t| t.strip_prefix("path=").map(str::to_owned))
        .filter(|p| p.starts_with('/'))
        .unwrap_or_else(|| format!("/.well-known/{well_known}"));
    let (scheme, default_port) = if https { ("https", 443) } else { ("http", 80) };
    let port = if record.port == default_port {
        String::new()
    } else {
        format!(":{}", record.port)
    };
    Some(format!("{scheme}://{}{port}{path}", record.target))
}

/// A DNS server: `IP:port`, or an IP for port 53.
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("{text:?} is not a DNS server address such as 127.0.0.1:5353"))
}

/// A name made absolute, so no search domain is tried.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// A host name from DNS, lower case, without the trailing dot.
fn host_of(name: &str) -> String {
    let host = name.to_ascii_lowercase();
    match host.strip_suffix('.') {
        Some("") => ".".to_owned(),
        Some(h) => h.to_owned(),
        None => host,
    }
}

fn classify(e: NetError) -> LookupError {
    if e.is_no_records_found() || e.is_nx_domain() {
        LookupError::NoRecords
    } else {
        LookupError::Failed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(fqdn("example.test"), "example.test.");
        assert_eq!(fqdn("example.test."), "example.test.");
        assert_eq!(host_of("IMAP.Example.TEST."), "imap.example.test");
        assert_eq!(host_of("."), ".");
    }
}
