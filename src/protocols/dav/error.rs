//! Why a WebDAV request failed, typed so that a caller can decide:
//! [`DavError::is_retryable`] tells a transient failure (a cut connection,
//! a timeout, a busy server) from one that would fail again (a refused
//! login, a resource the server will not store).

use std::time::Duration;

/// The longest refusal text kept from a server's answer.
const MAX_REASON: usize = 300;

/// Why a WebDAV request failed. Names the server, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum DavError {
    /// A URL that cannot be used.
    #[error("{0}")]
    Url(String),
    /// No TCP connection could be made.
    #[error("cannot reach {server}: {reason}")]
    Connect {
        /// `host:port`.
        server: String,
        /// What the network said.
        reason: String,
    },
    /// The TLS handshake failed: a certificate, or TLS asked of a plain
    /// port (or the reverse).
    #[error("TLS with {server} failed: {reason}")]
    Tls {
        /// `host:port`.
        server: String,
        /// What the handshake said.
        reason: String,
    },
    /// The connection broke or the answer could not be read as HTTP.
    #[error("HTTP error with {server}: {source}")]
    Http {
        /// `host:port`.
        server: String,
        /// How the exchange broke.
        #[source]
        source: HttpFailure,
    },
    /// The server refused the login.
    #[error("{server} refused the login of {user} (HTTP {status})")]
    Auth {
        /// `host:port`.
        server: String,
        /// The login name.
        user: String,
        /// 401 or 403.
        status: u16,
    },
    /// An answer with a status the request does not accept, with the
    /// server's own words for it when it gave any.
    #[error("{server} answered {method} {path} with HTTP {status}{}", said(reason))]
    Status {
        /// `host:port`.
        server: String,
        /// The request's method (`PUT`, `REPORT`, ...).
        method: String,
        /// The request's path.
        path: String,
        /// The HTTP status answered.
        status: u16,
        /// What the server said (a precondition, its description, a
        /// plain-text body), shortened; empty when it said nothing.
        reason: String,
    },
    /// A multistatus answer that cannot be read.
    #[error("{server} sent an unreadable WebDAV answer: {reason}")]
    Xml {
        /// `host:port`.
        server: String,
        /// What could not be read.
        reason: String,
    },
    /// No answer in time.
    #[error("no answer from {server} within {} s", after.as_secs())]
    Timeout {
        /// `host:port`.
        server: String,
        /// How long it was given.
        after: Duration,
    },
}

/// How an HTTP exchange broke.
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    /// hyper's own error: a connection closed mid-answer, a malformed
    /// answer.
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
    /// The answer's body could not be read whole.
    #[error("{0}")]
    Body(String),
    /// The request could not be built.
    #[error("{0}")]
    Request(String),
}

fn said(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

impl DavError {
    /// Whether trying the same request again later may succeed: a
    /// connection that could not be made or broke, no answer in time, or
    /// a server that says it is busy or unavailable (408, 425, 429, 500,
    /// 502, 503, 504). A refused login, a refusal of the content, an
    /// unreadable answer or a bad URL would fail again.
    pub fn is_retryable(&self) -> bool {
        match self {
            DavError::Connect { .. } | DavError::Timeout { .. } => true,
            DavError::Http { source, .. } => !matches!(source, HttpFailure::Request(_)),
            DavError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429 | 500 | 502 | 503 | 504)
            }
            DavError::Url(_)
            | DavError::Tls { .. }
            | DavError::Auth { .. }
            | DavError::Xml { .. } => false,
        }
    }

    /// The HTTP status, for an answer the request did not accept.
    pub fn status(&self) -> Option<u16> {
        match self {
            DavError::Status { status, .. } | DavError::Auth { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A server's words, made fit for a report: control characters made
/// spaces, runs of white space joined, at most [`MAX_REASON`] characters.
pub fn shorten(text: &str) -> String {
    let joined = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match joined.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> DavError {
        DavError::Status {
            server: "http://h".into(),
            method: "PUT".into(),
            path: "/a".into(),
            status: code,
            reason: String::new(),
        }
    }

    #[test]
    fn transient_failures_are_retryable_and_refusals_are_not() {
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(412).is_retryable());
        assert!(!status(403).is_retryable());
        let cut = DavError::Connect {
            server: "http://h".into(),
            reason: "refused".into(),
        };
        assert!(cut.is_retryable());
        let login = DavError::Auth {
            server: "http://h".into(),
            user: "u".into(),
            status: 401,
        };
        assert!(!login.is_retryable());
    }

    #[test]
    fn a_refusal_says_what_the_server_said() {
        let mut error = status(412);
        assert_eq!(error.to_string(), "http://h answered PUT /a with HTTP 412");
        if let DavError::Status { reason, .. } = &mut error {
            *reason = shorten("RRULE UNTIL values\n must be in UTC");
        }
        assert_eq!(
            error.to_string(),
            "http://h answered PUT /a with HTTP 412: RRULE UNTIL values must be in UTC"
        );
        assert_eq!(shorten(&"x".repeat(400)).chars().count(), MAX_REASON + 1);
    }
}
