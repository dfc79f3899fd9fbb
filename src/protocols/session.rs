//! What every session-based client (IMAP, POP3, ManageSieve) shares: the
//! server and login it is given, and the failures that are the same
//! whatever the protocol (the connection, its timeouts, a refused login, an
//! answer the client cannot read, a missing feature).
//!
//! Errors name the server (`host:port`) and, for a refused login, the user;
//! never a password or token.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::imap::Auth;
use super::tls::ConnectError;
use crate::vocabulary::Server;

/// Where and as whom a mail protocol session logs in: the one setup the
/// IMAP, POP3 and ManageSieve clients take. `Debug` never shows the
/// secret: [`Auth`] redacts it.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The server, its port and TLS policy.
    pub server: Server,
    /// The login name.
    pub user: String,
    /// Password or token.
    pub auth: Auth,
    /// How long the server may stay silent (connecting, handshaking, or
    /// answering a command) before the session fails.
    pub timeout: Duration,
}

impl Server {
    /// How to log in to this server as `user`, whatever the protocol.
    pub fn session(&self, user: impl Into<String>, auth: Auth, timeout: Duration) -> SessionConfig {
        SessionConfig {
            server: self.clone(),
            user: user.into(),
            auth,
            timeout,
        }
    }
}

/// What can go wrong in a session whatever the protocol. Each client's
/// error wraps it beside the protocol's own refusals.
///
/// `Clone` so that one connection failure can be reported for every
/// pipelined command it took down.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// TCP connect or TLS handshake failed.
    #[error(transparent)]
    Connect(Arc<ConnectError>),

    /// The connection broke while reading or writing (reset, EOF).
    #[error("connection to {server} lost: {source}")]
    Io {
        /// `host:port`.
        server: String,
        /// The underlying error.
        source: Arc<io::Error>,
    },

    /// The server made no progress for the configured timeout.
    #[error("{server} did not respond for {}s", after.as_secs())]
    Timeout {
        /// `host:port`.
        server: String,
        /// The configured timeout.
        after: Duration,
    },

    /// Login was refused. Permanent: retrying with the same credentials
    /// only risks locking the account.
    #[error("login failed for user {user} on {server}: {detail}")]
    Auth {
        /// The login name.
        user: String,
        /// `host:port`.
        server: String,
        /// The server's text, or why the client could not log in.
        detail: String,
    },

    /// The server sent something this client cannot parse.
    #[error("unexpected response from {server}: {detail}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// What was wrong.
        detail: String,
    },

    /// The server lacks something the operation needs (STARTTLS, UIDPLUS,
    /// UIDL, a usable login mechanism).
    #[error("{server} does not support {what}")]
    Unsupported {
        /// `host:port`.
        server: String,
        /// The missing feature.
        what: String,
    },
}

impl SessionError {
    /// The connection broke while reading or writing to `server`.
    pub fn io(server: &str, source: io::Error) -> Self {
        SessionError::Io {
            server: server.to_owned(),
            source: Arc::new(source),
        }
    }

    /// Whether the same operation may succeed later, on a new connection:
    /// network trouble and timeouts. A refused login, an unreadable answer
    /// and a missing feature are permanent.
    pub fn is_retryable(&self) -> bool {
        match self {
            SessionError::Connect(e) => e.is_retryable(),
            SessionError::Io { .. } | SessionError::Timeout { .. } => true,
            SessionError::Auth { .. }
            | SessionError::Protocol { .. }
            | SessionError::Unsupported { .. } => false,
        }
    }

    /// Whether the connection is unusable after this error: the caller
    /// must reconnect before sending more commands.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            SessionError::Connect(_)
                | SessionError::Io { .. }
                | SessionError::Timeout { .. }
                | SessionError::Protocol { .. }
        )
    }
}

impl From<ConnectError> for SessionError {
    fn from(e: ConnectError) -> Self {
        SessionError::Connect(Arc::new(e))
    }
}
