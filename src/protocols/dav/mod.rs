//! A small WebDAV client (RFC 4918) shared by CalDAV and CardDAV: list the
//! collections of a home collection with their properties, list and fetch
//! their resources, create a collection, store a new resource
//! (`If-None-Match: *`) and delete resources. HTTP/1.1 through hyper, on a
//! connection opened by [`crate::protocols::tls`]; one connection per
//! request; Basic authentication (or a bearer token).
//!
//! - [`xml`]: reading multistatus answers.
//! - [`discovery`]: finding a home collection from an address (RFC 6764).
//! - [`crate::protocols::carddav`] and [`crate::protocols::caldav`] add
//!   the address book and calendar requests.

pub mod discovery;
pub mod xml;

use std::time::Duration;

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header;
use hyper_util::rt::TokioIo;

use crate::autodetect::http::{self, Answer, Url};
use crate::protocols::imap::Auth;
use crate::protocols::tls::{self, ConnectError, TlsMode};
use xml::DavResponse;

/// The largest answer read (a PROPFIND of a large address book, a vCard
/// with a photo).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Why a WebDAV request failed. Names the server, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum DavError {
    #[error("{0}")]
    Url(String),
    #[error("cannot reach {server}: {reason}")]
    Connect { server: String, reason: String },
    /// The TLS handshake failed: a certificate, or TLS asked of a plain
    /// port (or the reverse).
    #[error("TLS with {server} failed: {reason}")]
    Tls { server: String, reason: String },
    #[error("HTTP error with {server}: {reason}")]
    Http { server: String, reason: String },
    #[error("{server} refused the login of {user} (HTTP {status})")]
    Auth {
        server: String,
        user: String,
        status: u16,
    },
    #[error("{server} answered {method} {path} with HTTP {status}")]
    Status {
        server: String,
        method: String,
        path: String,
        status: u16,
    },
    #[error("{server} sent an unreadable WebDAV answer: {reason}")]
    Xml { server: String, reason: String },
    #[error("no answer from {server} within {} s", after.as_secs())]
    Timeout { server: String, after: Duration },
}

/// A collection (address book, calendar) of a home collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// Its path on the server, ending with `/`.
    pub href: String,
    pub display_name: Option<String>,
    /// `calendar-color` (calendars).
    pub color: Option<String>,
    /// `calendar-description` (calendars).
    pub description: Option<String>,
    /// `calendar-timezone`: a VCALENDAR with one VTIMEZONE (calendars).
    pub timezone: Option<String>,
    /// The components a calendar accepts (`VEVENT`, `VTODO`); empty when
    /// the server does not say, meaning any.
    pub components: Vec<String>,
    /// The vCard versions an address book accepts (`3.0`, `4.0`); empty
    /// when the server does not say.
    pub address_versions: Vec<String>,
}

impl Collection {
    fn of(response: DavResponse) -> Collection {
        let filled = |v: Option<String>| v.filter(|s| !s.is_empty());
        Collection {
            href: response.href,
            display_name: filled(response.display_name),
            color: filled(response.color),
            description: filled(response.description),
            timezone: filled(response.timezone),
            components: response.components,
            address_versions: response.address_versions,
        }
    }
}

/// A resource (vCard, calendar object) of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    pub href: String,
    pub etag: String,
}

/// What a PUT of a new resource did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// A resource of that name exists already (412).
    Exists,
    /// The collection holds a resource with the same UID under another
    /// name already (the `no-uid-conflict` precondition of RFC 4791
    /// §5.3.2.1 and RFC 6352 §6.3.2.1).
    UidTaken,
}

/// A WebDAV account: a server, a home collection and a login.
#[derive(Clone)]
pub struct DavClient {
    base: Url,
    user: String,
    auth: Auth,
    accept_invalid_certs: bool,
    timeout: Duration,
}

impl std::fmt::Debug for DavClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DavClient({} as {})", self.base, self.user)
    }
}

impl DavClient {
    /// A client for the home collection at `url`.
    pub fn new(
        url: &str,
        user: &str,
        auth: Auth,
        accept_invalid_certs: bool,
        timeout: Duration,
    ) -> Result<DavClient, DavError> {
        let mut base = Url::parse(url).map_err(DavError::Url)?;
        if !base.path.ends_with('/') {
            base.path.push('/');
        }
        Ok(DavClient {
            base,
            user: user.to_owned(),
            auth,
            accept_invalid_certs,
            timeout,
        })
    }

    /// The home collection's path.
    pub fn home(&self) -> &str {
        &self.base.path
    }

    /// The server's host name.
    pub fn host(&self) -> &str {
        &self.base.host
    }

    /// `scheme://host:port`, for messages.
    pub fn server(&self) -> String {
        let scheme = if self.base.https { "https" } else { "http" };
        format!("{scheme}://{}", self.base.authority())
    }

    /// The whole URL of the home collection.
    pub fn url(&self) -> String {
        self.base.to_string()
    }

    /// The login name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The collections directly under the home collection that `wanted`
    /// accepts, with the properties calendars and address books have.
    pub(crate) async fn collections(
        &self,
        wanted: impl Fn(&DavResponse) -> bool,
    ) -> Result<Vec<Collection>, DavError> {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:r="urn:ietf:params:xml:ns:carddav" xmlns:a="http://apple.com/ns/ical/"><d:prop><d:displayname/><d:resourcetype/><a:calendar-color/><c:calendar-description/><c:calendar-timezone/><c:supported-calendar-component-set/><r:supported-address-data/></d:prop></d:propfind>"#;
        let home = self.base.path.clone();
        let responses = self.propfind(&home, "1", body).await?;
        Ok(responses
            .into_iter()
            .filter(|r| r.collection && !same_path(&r.href, &home) && wanted(r))
            .map(Collection::of)
            .collect())
    }

    /// The resources of a collection, with their ETags.
    pub async fn items(&self, collection: &str) -> Result<Vec<ItemRef>, DavError> {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"#;
        let responses = self.propfind(collection, "1", body).await?;
        Ok(responses
            .into_iter()
            .filter(|r| !r.collection && !same_path(&r.href, collection))
            .map(|r| ItemRef {
                href: r.href,
                etag: r.etag.unwrap_or_default(),
            })
            .collect())
    }

    /// The content of a resource.
    pub async fn get(&self, href: &str) -> Result<Vec<u8>, DavError> {
        let answer = self.request("GET", href, &[], Vec::new()).await?;
        self.expect(answer, "GET", href, &[200]).map(|a| a.body)
    }

    /// Creates a collection with `MKCOL` (RFC 5689) or `MKCALENDAR` (RFC
    /// 4791) and an XML body setting its properties.
    pub(crate) async fn make_collection(
        &self,
        method: &str,
        href: &str,
        body: String,
    ) -> Result<(), DavError> {
        let headers = [("content-type", "application/xml; charset=utf-8")];
        let answer = self
            .request(method, href, &headers, body.into_bytes())
            .await?;
        self.expect(answer, method, href, &[200, 201]).map(|_| ())
    }

    /// Stores a new resource of type `media_type` at `href`; never
    /// overwrites.
    pub async fn put_new(
        &self,
        href: &str,
        media_type: &str,
        content: &[u8],
    ) -> Result<PutOutcome, DavError> {
        self.put(href, media_type, content, Some(("if-none-match", "*")))
            .await
    }

    /// Stores a resource at `href`, replacing what is there.
    pub async fn put_replace(
        &self,
        href: &str,
        media_type: &str,
        content: &[u8],
    ) -> Result<(), DavError> {
        self.put(href, media_type, content, None).await.map(|_| ())
    }

    async fn put(
        &self,
        href: &str,
        media_type: &str,
        content: &[u8],
        condition: Option<(&str, &str)>,
    ) -> Result<PutOutcome, DavError> {
        let media_type = format!("{media_type}; charset=utf-8");
        let mut headers = vec![("content-type", media_type.as_str())];
        headers.extend(condition);
        let answer = self
            .request("PUT", href, &headers, content.to_vec())
            .await?;
        if answer.status == 412 {
            return Ok(PutOutcome::Exists);
        }
        if matches!(answer.status, 403 | 409)
            && String::from_utf8_lossy(&answer.body).contains("no-uid-conflict")
        {
            return Ok(PutOutcome::UidTaken);
        }
        self.expect(answer, "PUT", href, &[200, 201, 204])
            .map(|_| PutOutcome::Created)
    }

    /// Deletes a resource; `Ok(false)` when it was not there.
    pub async fn delete(&self, href: &str) -> Result<bool, DavError> {
        let answer = self.request("DELETE", href, &[], Vec::new()).await?;
        if answer.status == 404 {
            return Ok(false);
        }
        self.expect(answer, "DELETE", href, &[200, 204])
            .map(|_| true)
    }

    /// A PROPFIND of `href` at `depth` (`0` or `1`).
    pub(crate) async fn propfind(
        &self,
        href: &str,
        depth: &str,
        body: &str,
    ) -> Result<Vec<DavResponse>, DavError> {
        let answer = self.propfind_answer(href, depth, body).await?;
        let answer = self.expect(answer, "PROPFIND", href, &[207])?;
        self.multistatus(&answer)
    }

    /// A PROPFIND's raw answer (discovery follows its redirects).
    pub(crate) async fn propfind_answer(
        &self,
        href: &str,
        depth: &str,
        body: &str,
    ) -> Result<Answer, DavError> {
        let headers = [
            ("depth", depth),
            ("content-type", "application/xml; charset=utf-8"),
        ];
        self.request("PROPFIND", href, &headers, body.as_bytes().to_vec())
            .await
    }

    /// The responses of a multistatus answer.
    pub(crate) fn multistatus(&self, answer: &Answer) -> Result<Vec<DavResponse>, DavError> {
        xml::parse_multistatus(&answer.body).map_err(|reason| DavError::Xml {
            server: self.server(),
            reason,
        })
    }

    pub(crate) fn expect(
        &self,
        answer: Answer,
        method: &str,
        path: &str,
        ok: &[u16],
    ) -> Result<Answer, DavError> {
        if ok.contains(&answer.status) {
            return Ok(answer);
        }
        if answer.status == 401 {
            return Err(DavError::Auth {
                server: self.server(),
                user: self.user.clone(),
                status: answer.status,
            });
        }
        Err(DavError::Status {
            server: self.server(),
            method: method.to_owned(),
            path: path.to_owned(),
            status: answer.status,
        })
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, DavError> {
        let server = self.server();
        match tokio::time::timeout(self.timeout, self.exchange(method, path, headers, body)).await {
            Ok(result) => result,
            Err(_) => Err(DavError::Timeout {
                server,
                after: self.timeout,
            }),
        }
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, DavError> {
        let server = self.server();
        let mode = if self.base.https {
            TlsMode::Implicit
        } else {
            TlsMode::None
        };
        let stream = tls::connect(
            &self.base.host,
            self.base.port,
            mode,
            self.accept_invalid_certs,
            self.timeout,
        )
        .await
        .map_err(|e| match e {
            ConnectError::Tls { source, .. } => DavError::Tls {
                server: server.clone(),
                reason: source.to_string(),
            },
            ConnectError::Timeout { after, .. } => DavError::Timeout {
                server: server.clone(),
                after,
            },
            ConnectError::Tcp { source, .. } => DavError::Connect {
                server: server.clone(),
                reason: source.to_string(),
            },
        })?;
        let http = |e: hyper::Error| DavError::Http {
            server: server.clone(),
            reason: e.to_string(),
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let authorization = match &self.auth {
            Auth::Password(password) => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{password}", self.user))
            ),
            Auth::XOAuth2 { token } => format!("Bearer {token}"),
        };
        let method = hyper::Method::from_bytes(method.as_bytes()).map_err(|e| DavError::Http {
            server: server.clone(),
            reason: e.to_string(),
        })?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.base.authority())
            .header(header::USER_AGENT, http::USER_AGENT)
            .header(header::AUTHORIZATION, authorization);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DavError::Http {
                server: server.clone(),
                reason: e.to_string(),
            })?;
        let result = async {
            let response = sender.send_request(request).await.map_err(http)?;
            http::read_answer(response, MAX_BODY)
                .await
                .map_err(|reason| DavError::Http {
                    server: server.clone(),
                    reason,
                })
        }
        .await;
        driver.abort();
        result
    }
}

/// Whether two hrefs name the same collection (trailing `/` aside).
pub fn same_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_server_not_the_secret() {
        let client = DavClient::new(
            "http://127.0.0.1:1/alice",
            "alice",
            Auth::Password("hunter2".into()),
            false,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(client.home(), "/alice/");
        let error = client
            .expect(
                Answer {
                    status: 401,
                    body: Vec::new(),
                    location: None,
                },
                "GET",
                "/",
                &[200],
            )
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("http://127.0.0.1:1"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
