//! A small CardDAV client (RFC 6352 over WebDAV, RFC 4918): list the
//! address books of a home collection, list and fetch their vCards, create
//! an address book (extended MKCOL, RFC 5689), store a new vCard
//! (`If-None-Match: *`) and delete resources. HTTP/1.1 through hyper, on a
//! connection opened by [`crate::protocols::tls`]; one connection per
//! request; Basic authentication (or a bearer token).

use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header;
use hyper_util::rt::TokioIo;
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::autodetect::http::Url;
use crate::protocols::imap::Auth;
use crate::protocols::tls::{self, TlsMode};

/// The largest answer read (a PROPFIND of a large address book, a vCard
/// with a photo).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Why a CardDAV request failed. Names the server, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum DavError {
    #[error("{0}")]
    Url(String),
    #[error("cannot reach {server}: {reason}")]
    Connect { server: String, reason: String },
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

/// An address book of a home collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBook {
    /// Its path on the server, ending with `/`.
    pub href: String,
    pub display_name: Option<String>,
}

/// A vCard resource of an address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRef {
    pub href: String,
    pub etag: String,
}

/// What a PUT of a new resource did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// A resource of that name exists already (412).
    Exists,
}

/// A CardDAV account: a server, a home collection and a login.
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

/// One HTTP answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
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

    /// The address books directly under the home collection.
    pub async fn address_books(&self) -> Result<Vec<AddressBook>, DavError> {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:resourcetype/></d:prop></d:propfind>"#;
        let home = self.base.path.clone();
        let responses = self.propfind(&home, body).await?;
        Ok(responses
            .into_iter()
            .filter(|r| r.address_book && !same_path(&r.href, &home))
            .map(|r| AddressBook {
                href: r.href,
                display_name: r.display_name.filter(|n| !n.is_empty()),
            })
            .collect())
    }

    /// The vCards of an address book, with their ETags.
    pub async fn cards(&self, book: &str) -> Result<Vec<CardRef>, DavError> {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"#;
        let responses = self.propfind(book, body).await?;
        Ok(responses
            .into_iter()
            .filter(|r| !r.collection && !same_path(&r.href, book))
            .map(|r| CardRef {
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

    /// Creates an address book at `href` with a display name.
    pub async fn create_address_book(&self, href: &str, name: &str) -> Result<(), DavError> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype><d:displayname>{}</d:displayname></d:prop></d:set></d:mkcol>"#,
            escape(name)
        );
        let headers = [("content-type", "application/xml; charset=utf-8")];
        let answer = self
            .request("MKCOL", href, &headers, body.into_bytes())
            .await?;
        self.expect(answer, "MKCOL", href, &[200, 201]).map(|_| ())
    }

    /// Stores a new vCard at `href`; never overwrites.
    pub async fn put_new(&self, href: &str, card: &[u8]) -> Result<PutOutcome, DavError> {
        self.put(href, card, Some(("if-none-match", "*"))).await
    }

    /// Stores a vCard at `href`, replacing what is there.
    pub async fn put_replace(&self, href: &str, card: &[u8]) -> Result<(), DavError> {
        self.put(href, card, None).await.map(|_| ())
    }

    async fn put(
        &self,
        href: &str,
        card: &[u8],
        condition: Option<(&str, &str)>,
    ) -> Result<PutOutcome, DavError> {
        let mut headers = vec![("content-type", "text/vcard; charset=utf-8")];
        headers.extend(condition);
        let answer = self.request("PUT", href, &headers, card.to_vec()).await?;
        if answer.status == 412 {
            return Ok(PutOutcome::Exists);
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

    async fn propfind(&self, href: &str, body: &str) -> Result<Vec<DavResponse>, DavError> {
        let headers = [
            ("depth", "1"),
            ("content-type", "application/xml; charset=utf-8"),
        ];
        let answer = self
            .request("PROPFIND", href, &headers, body.as_bytes().to_vec())
            .await?;
        let answer = self.expect(answer, "PROPFIND", href, &[207])?;
        parse_multistatus(&answer.body).map_err(|reason| DavError::Xml {
            server: self.server(),
            reason,
        })
    }

    fn expect(
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
        .map_err(|e| DavError::Connect {
            server: server.clone(),
            reason: e.to_string(),
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
            .header(
                header::USER_AGENT,
                concat!("mailshift/", env!("CARGO_PKG_VERSION")),
            )
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
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| DavError::Http {
                    server: server.clone(),
                    reason: format!("reading the answer: {e}"),
                })?
                .to_bytes()
                .to_vec();
            Ok(Answer { status, body })
        }
        .await;
        driver.abort();
        result
    }
}

/// Whether two hrefs name the same collection (trailing `/` aside).
fn same_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Escapes text for an XML element.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One `<response>` of a multistatus, with the properties found (200).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct DavResponse {
    href: String,
    display_name: Option<String>,
    etag: Option<String>,
    collection: bool,
    address_book: bool,
}

/// Reads a `207 Multi-Status` body. Hrefs are kept as paths (a full URL
/// is cut to its path) and percent-decoding is left to the server.
fn parse_multistatus(body: &[u8]) -> Result<Vec<DavResponse>, String> {
    let text = String::from_utf8_lossy(body);
    let mut reader = Reader::from_str(&text);
    let mut out = Vec::new();
    let mut current: Option<DavResponse> = None;
    // The properties of the propstat being read, and its status.
    let mut props = DavResponse::default();
    let mut status = String::new();
    let mut path: Vec<String> = Vec::new();
    let mut buf = String::new();
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                match name.as_str() {
                    "response" => current = Some(DavResponse::default()),
                    "propstat" => {
                        props = DavResponse::default();
                        status.clear();
                    }
                    _ => {}
                }
                path.push(name);
                buf.clear();
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_owned();
                if path.last().map(String::as_str) == Some("resourcetype") {
                    match name.as_str() {
                        "collection" => props.collection = true,
                        "addressbook" => props.address_book = true,
                        _ => {}
                    }
                }
            }
            Event::Text(t) => buf.push_str(&t.xml10_content()),
            Event::CData(t) => buf.push_str(t.as_ref()),
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let resolved = match name.as_ref() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                buf.extend(resolved);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str).unwrap_or("");
                let value = buf.trim().to_owned();
                buf.clear();
                match (parent, name.as_str()) {
                    ("response", "href") => {
                        if let Some(r) = current.as_mut() {
                            r.href = href_path(&value);
                        }
                    }
                    ("propstat", "status") => status = value,
                    ("prop", "displayname") => props.display_name = Some(value),
                    ("prop", "getetag") => props.etag = Some(value),
                    ("resourcetype", "collection") => props.collection = true,
                    ("resourcetype", "addressbook") => props.address_book = true,
                    (_, "propstat") => {
                        if status.split_whitespace().nth(1) == Some("200")
                            && let Some(r) = current.as_mut()
                        {
                            r.display_name = r.display_name.take().or(props.display_name.take());
                            r.etag = r.etag.take().or(props.etag.take());
                            r.collection |= props.collection;
                            r.address_book |= props.address_book;
                        }
                    }
                    (_, "response") => out.extend(current.take()),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The path of an href (which may be a full URL).
fn href_path(href: &str) -> String {
    match Url::parse(href) {
        Ok(url) if href.contains("://") => url.path,
        _ => href.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_multistatus() {
        let body = br#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
 <response><href>/alice/</href><propstat><prop><resourcetype><collection/></resourcetype><displayname/></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>http://h:1/alice/book/</href><propstat><prop><resourcetype><collection/><CR:addressbook/></resourcetype><displayname>Friends &amp; family</displayname></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/alice/book/a.vcf</href><propstat><prop><getetag>"e1"</getetag><resourcetype/></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><displayname/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
</multistatus>"#;
        let all = parse_multistatus(body).unwrap();
        assert_eq!(all.len(), 3);
        assert!(all[0].collection && !all[0].address_book);
        assert_eq!(all[1].href, "/alice/book/");
        assert!(all[1].address_book);
        assert_eq!(all[1].display_name.as_deref(), Some("Friends & family"));
        assert_eq!(all[2].etag.as_deref(), Some("\"e1\""));
        assert!(!all[2].collection);
        assert_eq!(all[2].display_name, None);
    }

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
