//! A small WebDAV client (RFC 4918) shared by CalDAV and CardDAV: list the
//! collections of a home collection with their properties, list and fetch
//! their resources, create a collection, store a new resource
//! (`If-None-Match: *`) and delete resources. HTTP/1.1 through hyper, on
//! connections opened by [`crate::protocols::tls`] and kept open between
//! requests; Basic authentication (or a bearer token). A transient
//! failure (a cut connection, a busy server) is retried with backoff when
//! the client is given a retry policy ([`DavClient::with_retry`]).
//!
//! - [`xml`]: reading multistatus answers.
//! - `connection`: the reused connections to one server.
//! - `error`: [`DavError`], with [`DavError::is_retryable`].
//! - `multiget`: many resources in one `REPORT`.
//! - `sync`: what changed in a collection since a sync token (RFC 6578).
//! - [`discovery`]: finding a home collection from an address (RFC 6764).
//! - [`crate::protocols::carddav`] and [`crate::protocols::caldav`] add
//!   the address book and calendar requests.

mod connection;
pub mod discovery;
mod error;
mod multiget;
mod sync;
pub mod xml;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hyper::body::Bytes;
use tokio_util::sync::CancellationToken;

use crate::protocols::http::{Answer, Url};
use crate::protocols::imap::Auth;
pub use connection::Usage;
use connection::{Pool, Request};
pub use error::{DavError, HttpFailure};
pub use multiget::{Fetched, Multiget};
pub use sync::Changes;
use xml::{DavResponse, Refusal};

/// A collection (address book, calendar) of a home collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// Its path on the server, ending with `/`.
    pub href: String,
    /// Its `displayname`, when it has one.
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
    /// Its `sync-token` (RFC 6578): the server offers the
    /// `sync-collection` report on it, and this names its present state.
    pub sync_token: Option<String>,
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
            sync_token: filled(response.sync_token),
        }
    }
}

/// A resource (vCard, calendar object) of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    /// Its path on the server.
    pub href: String,
    /// Its entity tag, as the server gave it.
    pub etag: String,
}

/// What a PUT of a new resource did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written.
    Created,
    /// A resource of that name exists already (412).
    Exists,
    /// A resource of that name exists, and an earlier try of this same
    /// PUT was cut before its answer: it may be the one just written.
    Unconfirmed,
    /// The collection holds a resource with the same UID under another
    /// name already (the `no-uid-conflict` precondition of RFC 4791
    /// §5.3.2.1 and RFC 6352 §6.3.2.1).
    UidTaken,
}

/// How a client retries a transient failure, and what stops it waiting.
#[derive(Clone)]
struct Retry {
    /// Tries in all, the first included.
    attempts: u32,
    /// The wait before retry number n (1 for the first).
    delay: Arc<dyn Fn(u32) -> Duration + Send + Sync>,
    cancel: CancellationToken,
}

/// One answer, and whether an earlier try of the same request was cut
/// (so a non-idempotent request may have been carried out already).
struct Sent {
    answer: Answer,
    retried: bool,
}

/// A WebDAV account: a server, a home collection and a login. Clones
/// share their connections.
#[derive(Clone)]
pub struct DavClient {
    base: Url,
    user: String,
    auth: Auth,
    accept_invalid_certs: bool,
    timeout: Duration,
    retry: Option<Retry>,
    pool: Arc<Pool>,
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
            retry: None,
            pool: Arc::default(),
        })
    }

    /// This client, trying a request that failed in a transient way
    /// ([`DavError::is_retryable`]) up to `attempts` times in all, waiting
    /// `delay(n)` before retry n; each wait ends early, with the last
    /// error, when `cancel` is cancelled.
    pub fn with_retry(
        mut self,
        attempts: u32,
        delay: impl Fn(u32) -> Duration + Send + Sync + 'static,
        cancel: CancellationToken,
    ) -> DavClient {
        self.retry = Some(Retry {
            attempts,
            delay: Arc::new(delay),
            cancel,
        });
        self
    }

    /// The connections opened and requests sent so far by this client and
    /// its clones.
    pub fn usage(&self) -> Usage {
        self.pool.usage()
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
        connection::server_of(&self.base)
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
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:r="urn:ietf:params:xml:ns:carddav" xmlns:a="http://apple.com/ns/ical/"><d:prop><d:displayname/><d:resourcetype/><a:calendar-color/><c:calendar-description/><c:calendar-timezone/><c:supported-calendar-component-set/><r:supported-address-data/><d:sync-token/></d:prop></d:propfind>"#;
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
    /// 4791) and an XML body setting its properties; returns the
    /// properties the server did not set (by local name).
    pub(crate) async fn make_collection(
        &self,
        method: &str,
        href: &str,
        body: String,
    ) -> Result<Vec<String>, DavError> {
        let headers = [("content-type", "application/xml; charset=utf-8")];
        let sent = self.send(method, href, &headers, body.into_bytes()).await?;
        // Created by the try that was cut: there now, with what it set.
        if sent.retried && sent.answer.status == 405 {
            return Ok(Vec::new());
        }
        let answer = self.expect(sent.answer, method, href, &[200, 201])?;
        Ok(xml::unset_properties(&answer.body))
    }

    /// Sets one property of a collection with `PROPPATCH`; `Ok(false)`
    /// when the server answers that it did not set it.
    pub(crate) async fn proppatch(&self, href: &str, property: &str) -> Result<bool, DavError> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop>{property}</d:prop></d:set></d:propertyupdate>"#
        );
        let headers = [("content-type", "application/xml; charset=utf-8")];
        let answer = self
            .request("PROPPATCH", href, &headers, body.into_bytes())
            .await?;
        match answer.status {
            207 => Ok(xml::unset_properties(&answer.body).is_empty()),
            200 | 204 => Ok(true),
            403 | 409 | 422 => Ok(false),
            _ => self
                .expect(answer, "PROPPATCH", href, &[207])
                .map(|_| false),
        }
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
        let Sent { answer, retried } = self.send("PUT", href, &headers, content.to_vec()).await?;
        if answer.status == 412 {
            return Ok(if retried {
                PutOutcome::Unconfirmed
            } else {
                PutOutcome::Exists
            });
        }
        let refusal = Refusal::read(&answer.body);
        let uid_taken = refusal
            .as_ref()
            .is_some_and(|r| r.conditions.iter().any(|c| c == "no-uid-conflict"));
        // RFC 4791 says 403 or 409; Xandikos answers 207 with a 412 inside.
        if uid_taken && matches!(answer.status, 207 | 403 | 409) {
            return Ok(PutOutcome::UidTaken);
        }
        if answer.status == 207 {
            // A multistatus for a PUT is a refusal, whatever it holds.
            return Err(self.refused(answer, "PUT", href, refusal));
        }
        self.expect(answer, "PUT", href, &[200, 201, 204])
            .map(|_| PutOutcome::Created)
    }

    /// Deletes a resource; `Ok(false)` when it was not there.
    pub async fn delete(&self, href: &str) -> Result<bool, DavError> {
        let Sent { answer, retried } = self.send("DELETE", href, &[], Vec::new()).await?;
        if answer.status == 404 {
            // Deleted by the try that was cut.
            return Ok(retried);
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

    /// `answer` if its status is one of `ok`, else the error it stands
    /// for, with what the server said.
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
        let refusal = Refusal::read(&answer.body);
        Err(self.refused(answer, method, path, refusal))
    }

    fn refused(
        &self,
        answer: Answer,
        method: &str,
        path: &str,
        refusal: Option<Refusal>,
    ) -> DavError {
        let status = refusal
            .as_ref()
            .and_then(|r| r.status)
            .filter(|_| answer.status == 207)
            .unwrap_or(answer.status);
        DavError::Status {
            server: self.server(),
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            reason: refusal.map_or_else(String::new, |r| error::shorten(&r.words())),
        }
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, DavError> {
        self.send(method, path, headers, body)
            .await
            .map(|s| s.answer)
    }

    /// Sends a request, trying again after a transient failure when the
    /// client has a retry policy: a cut connection, no answer in time, or
    /// a busy server (429, 502, 503, 504).
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Sent, DavError> {
        let body = Bytes::from(body);
        let mut tries = 1;
        loop {
            let error = match self.once(method, path, headers, body.clone()).await {
                Ok(answer) if matches!(answer.status, 429 | 502 | 503 | 504) => {
                    let refusal = Refusal::read(&answer.body);
                    self.refused(answer, method, path, refusal)
                }
                Ok(answer) => {
                    return Ok(Sent {
                        answer,
                        retried: tries > 1,
                    });
                }
                Err(error) => error,
            };
            let Some(retry) = &self.retry else {
                return Err(error);
            };
            if !error.is_retryable() || tries >= retry.attempts {
                return Err(error);
            }
            let delay = (retry.delay)(tries);
            tracing::warn!(
                "{error}; retrying {method} {path} in {:.1}s",
                delay.as_secs_f64()
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = retry.cancel.cancelled() => return Err(error),
            }
            tries += 1;
        }
    }

    /// One try of a request, within the timeout.
    async fn once(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, DavError> {
        let basic = |user: &str, password: &str| {
            let pair = format!("{user}:{password}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        };
        let authorization = match &self.auth {
            Auth::Password(password) => basic(&self.user, password),
            // HTTP has no authorization identity: the administrator logs
            // in as itself, and reaches the user's collections by their
            // URL where the server lets it.
            Auth::Proxy { admin, password } => basic(admin, password),
            Auth::XOAuth2 { token } => format!("Bearer {token}"),
        };
        let request = Request {
            method,
            path,
            headers,
            body,
            authorization: &authorization,
        };
        let exchange =
            self.pool
                .exchange(&self.base, self.accept_invalid_certs, self.timeout, request);
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(DavError::Timeout {
                server: self.server(),
                after: self.timeout,
            }),
        }
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
