//! HTTP/1.1 connections to one WebDAV server, kept open and reused
//! (keep-alive): a request takes an idle connection when there is one and
//! opens a new one otherwise, and gives it back once its answer is read
//! whole. At most as many connections are open as requests are in flight
//! at once, so the engine's per-host limit on concurrent work bounds
//! them too.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header;
use hyper_util::rt::TokioIo;

use super::error::{DavError, HttpFailure};
use crate::protocols::http::{self, Answer, Url};
use crate::protocols::tls::{self, ConnectError, Server, TlsMode};

/// The largest answer read (a PROPFIND of a large address book, a
/// multiget of vCards with photos).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Idle connections kept per server beyond those in use.
const MAX_IDLE: usize = 8;

/// The open connections to one server, and how much they were used.
#[derive(Default)]
pub(super) struct Pool {
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    opened: AtomicU64,
    requests: AtomicU64,
}

/// How many connections a client opened and requests it sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Connections opened (a TCP and, with TLS, a handshake each).
    pub connections: u64,
    /// Requests sent.
    pub requests: u64,
}

/// One request, as the pool sends it.
pub(super) struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Bytes,
    /// The `Authorization` header's value.
    pub authorization: &'a str,
}

impl Pool {
    /// What this pool was used for so far.
    pub(super) fn usage(&self) -> Usage {
        Usage {
            connections: self.opened.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    /// An idle connection that is still open, if any.
    async fn idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        loop {
            let sender = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.pop()?
            };
            let mut sender = sender;
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn give_back(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    /// Sends one request to the server of `base` and reads its answer
    /// whole, on a reused connection when one is idle.
    pub(super) async fn exchange(
        &self,
        base: &Url,
        accept_invalid_certs: bool,
        timeout: Duration,
        request: Request<'_>,
    ) -> Result<Answer, DavError> {
        let server = server_of(base);
        let http = |source: HttpFailure| DavError::Http {
            server: server.clone(),
            source,
        };
        let mut sender = match self.idle().await {
            Some(sender) => sender,
            None => self.open(base, accept_invalid_certs, timeout).await?,
        };
        let method = hyper::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| http(HttpFailure::Request(e.to_string())))?;
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(request.path)
            .header(header::HOST, base.authority())
            .header(header::USER_AGENT, http::USER_AGENT)
            .header(header::AUTHORIZATION, request.authorization);
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        let built = builder
            .body(Full::new(request.body))
            .map_err(|e| http(HttpFailure::Request(e.to_string())))?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = sender
            .send_request(built)
            .await
            .map_err(|e| http(HttpFailure::Hyper(e)))?;
        let closing = response
            .headers()
            .get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let answer = http::read_answer(response, MAX_BODY)
            .await
            .map_err(|reason| http(HttpFailure::Body(reason)))?;
        if !closing {
            self.give_back(sender);
        }
        Ok(answer)
    }

    /// Opens a new connection (TCP, then TLS for `https`) and starts
    /// HTTP/1.1 on it.
    async fn open(
        &self,
        base: &Url,
        accept_invalid_certs: bool,
        timeout: Duration,
    ) -> Result<SendRequest<Full<Bytes>>, DavError> {
        let server = server_of(base);
        let target = Server {
            host: base.host.clone(),
            port: base.port,
            tls: if base.https {
                TlsMode::Implicit
            } else {
                TlsMode::None
            },
            accept_invalid_certs,
        };
        let stream = tls::connect(&target, timeout).await.map_err(|e| match e {
            ConnectError::Tls { source, .. } => DavError::Tls {
                server: server.clone(),
                reason: source.to_string(),
            },
            ConnectError::StartTls { detail, .. } => DavError::Tls {
                server: server.clone(),
                reason: detail.to_owned(),
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
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| DavError::Http {
                server: server.clone(),
                source: HttpFailure::Hyper(e),
            })?;
        // The connection lives as long as its sender: once the sender is
        // dropped (closed, or not given back), this task ends.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(sender)
    }
}

/// `scheme://host:port`, for messages.
pub(super) fn server_of(base: &Url) -> String {
    let scheme = if base.https { "https" } else { "http" };
    format!("{scheme}://{}", base.authority())
}
