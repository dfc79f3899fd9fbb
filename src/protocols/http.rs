//! Just enough HTTP for autoconfig and WebDAV: URLs, one GET over HTTP/1.1
//! (hyper), and reading an answer, on a connection opened by
//! [`crate::protocols::tls`] so certificates are checked exactly as for the
//! mail servers.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::protocols::tls::{self, MaybeTlsStream, Server, TlsMode};

/// The largest document read; autoconfig files are a few KiB.
const MAX_BODY: usize = 1024 * 1024;

/// An `http://` or `https://` URL, split into what a GET needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Whether it is `https://`.
    pub https: bool,
    /// Host name or IP address.
    pub host: String,
    /// Port (the scheme's default when the URL gives none).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// `https://host/path`.
    pub fn https(host: &str, path: &str) -> Url {
        Url {
            https: true,
            host: host.to_owned(),
            port: 443,
            path: path.to_owned(),
        }
    }

    /// Reads `http[s]://host[:port][/path]`; IPv6 hosts in brackets.
    pub fn parse(text: &str) -> Result<Url, String> {
        let text = text.trim();
        let (https, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("{text:?} is not an http:// or https:// URL"));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner
                .split_once(']')
                .ok_or_else(|| format!("{text:?}: unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{text:?} has no host"));
        }
        let port = match port {
            Some(p) => p
                .parse()
                .map_err(|_| format!("{text:?}: {p:?} is not a port"))?,
            None if https => 443,
            None => 80,
        };
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(Url {
            https,
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// This URL with the scheme, host and port of `base`, and `base`'s path
    /// (if any) put in front of this path.
    pub fn rebased(&self, base: &Url) -> Url {
        let prefix = base.path.trim_end_matches('/');
        Url {
            https: base.https,
            host: base.host.clone(),
            port: base.port,
            path: format!("{prefix}{}", self.path),
        }
    }

    /// A `Location` header resolved against this URL.
    pub fn join(&self, location: &str) -> Result<Url, String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Url::parse(location);
        }
        if location.starts_with('/') {
            return Ok(Url {
                path: location.to_owned(),
                ..self.clone()
            });
        }
        Err(format!("unsupported redirect to {location:?}"))
    }

    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
    }

    /// `host` or `host:port`, as the `Host` header wants it.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)
    }
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved
/// characters).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    /// The body, at most a MiB.
    pub body: Vec<u8>,
}

/// What mailshift says it is (`User-Agent`).
pub const USER_AGENT: &str = concat!("mailshift/", env!("CARGO_PKG_VERSION"));

/// Reads an answer whole: its status, its `Location` and a body of at
/// most `max` bytes (the WebDAV client and the fetcher here share it).
pub async fn read_answer(
    response: hyper::Response<hyper::body::Incoming>,
    max: usize,
) -> Result<Answer, String> {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = Limited::new(response.into_body(), max)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(Answer {
        status,
        location,
        body,
    })
}

/// GETs `url` from one of `addresses` (tried in order), sending `host` as
/// the `Host` header (and as the TLS server name). `timeout` bounds the
/// connection and the whole exchange.
pub async fn get(
    url: &Url,
    host: &str,
    addresses: &[IpAddr],
    timeout: Duration,
) -> Result<Answer, String> {
    match tokio::time::timeout(timeout, get_inner(url, host, addresses, timeout)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

async fn get_inner(
    url: &Url,
    host: &str,
    addresses: &[IpAddr],
    timeout: Duration,
) -> Result<Answer, String> {
    let stream = connect(url, host, addresses, timeout).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP error: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(url.path.as_str())
        .header(header::HOST, host)
        .header(header::USER_AGENT, USER_AGENT)
        .header(header::ACCEPT, "application/xml, text/xml;q=0.9, */*;q=0.1")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("bad request: {e}"))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP error: {e}"))?;
        read_answer(response, MAX_BODY).await
    }
    .await;
    driver.abort();
    result
}

/// Opens TCP to the first address that answers, then TLS for `https`.
async fn connect(
    url: &Url,
    host: &str,
    addresses: &[IpAddr],
    timeout: Duration,
) -> Result<MaybeTlsStream, String> {
    let mut last = String::from("no address");
    for ip in addresses {
        let addr = SocketAddr::new(*ip, url.port);
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => {
                if !url.https {
                    return Ok(MaybeTlsStream::Plain(tcp));
                }
                // The certificate must name the host asked for, not the
                // address it resolved to.
                let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
                let name = name.trim_start_matches('[').trim_end_matches(']');
                let server = Server {
                    host: name.to_owned(),
                    port: url.port,
                    tls: TlsMode::Implicit,
                    accept_invalid_certs: false,
                };
                return tls::upgrade(tcp, &server, timeout)
                    .await
                    .map_err(|e| e.to_string());
            }
            Ok(Err(e)) => last = format!("cannot connect to {addr}: {e}"),
            Err(_) => last = format!("connecting to {addr} timed out"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.https, u.port, u.path.as_str()), (false, 8080, "/"));
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/");
        let u = Url::parse("https://[::1]/a?b=c").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 443));
        assert_eq!(u.to_string(), "https://[::1]/a?b=c");
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://x:y").is_err());
    }

    #[test]
    fn rebases_and_joins() {
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        let u = Url::https("autoconfig.example.test", "/mail/config-v1.1.xml?x=1");
        assert_eq!(
            u.rebased(&base).to_string(),
            "http://127.0.0.1:9/prefix/mail/config-v1.1.xml?x=1"
        );
        assert_eq!(
            u.join("/elsewhere").unwrap().to_string(),
            "https://autoconfig.example.test/elsewhere"
        );
        assert_eq!(encode_query("a+b@c.d"), "a%2Bb%40c.d");
    }
}
