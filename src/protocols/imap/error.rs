//! The IMAP client's error type and its retry classification.
//!
//! Errors name the server (`host:port`) and, for login failures, the user;
//! never a password or token: those are not stored anywhere an error could
//! reach.

use crate::protocols::SessionError;
use crate::protocols::tls::ConnectError;

/// Everything that can go wrong talking to an IMAP server.
///
/// `Clone` so that one connection failure can be reported for every
/// pipelined command it took down.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ImapError {
    /// What can go wrong whatever the protocol: the connection, a
    /// timeout, a refused login, an unreadable answer, a missing feature.
    #[error(transparent)]
    Session(#[from] SessionError),

    /// The server closed the session (`* BYE`), e.g. shutting down or
    /// throttling.
    #[error("{server} closed the connection: {text}")]
    Bye {
        /// `host:port`.
        server: String,
        /// The server's human-readable text.
        text: String,
    },

    /// The server answered a command with `NO`.
    #[error("{server} refused {command}: {}{text}", code.as_deref().map(|c| format!("[{c}] ")).unwrap_or_default())]
    No {
        /// `host:port`.
        server: String,
        /// The command name (`APPEND`, `SELECT`, ...), never its arguments.
        command: &'static str,
        /// The response code atom in upper case (`OVERQUOTA`, `TRYCREATE`).
        code: Option<String>,
        /// The server's human-readable text.
        text: String,
    },

    /// The server answered a command with `BAD`: a client bug or a server
    /// that does not accept the syntax.
    #[error("{server} rejected {command} as invalid: {text}")]
    Bad {
        /// `host:port`.
        server: String,
        /// The command name.
        command: &'static str,
        /// The server's human-readable text.
        text: String,
    },

    /// A message is larger than the server's APPENDLIMIT; not sent.
    #[error("message of {size} bytes exceeds the {limit}-byte limit of {server}")]
    TooBig {
        /// `host:port`.
        server: String,
        /// The message size.
        size: u64,
        /// The advertised limit.
        limit: u64,
    },

    /// A caller error, e.g. a malformed UID set.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Response codes after which a later retry is likely to succeed.
const RETRYABLE_CODES: &[&str] = &["UNAVAILABLE", "LIMIT", "INUSE", "SERVERBUG", "THROTTLED"];

impl ImapError {
    /// Whether the same operation may succeed if retried later (possibly on
    /// a new connection): network trouble, timeouts, server shutdown,
    /// temporary unavailability, throttling. Authentication failures and
    /// per-message refusals (`OVERQUOTA`, `TOOBIG`, ...) are permanent.
    pub fn is_retryable(&self) -> bool {
        match self {
            ImapError::Session(e) => e.is_retryable(),
            ImapError::Bye { .. } => true,
            // Dovecot answers an oversized APPEND with `NO [LIMIT]`: a
            // property of the message, not of the moment.
            ImapError::No {
                command: "APPEND",
                code: Some(code),
                ..
            } if code == "LIMIT" => false,
            ImapError::No { code, text, .. } => {
                code.as_deref()
                    .is_some_and(|c| RETRYABLE_CODES.contains(&c))
                    || text.to_ascii_lowercase().contains("throttl")
                    || text.to_ascii_lowercase().contains("try again later")
            }
            ImapError::Bad { .. } | ImapError::TooBig { .. } | ImapError::InvalidArgument(_) => {
                false
            }
        }
    }

    /// Whether the connection is unusable after this error, so the caller
    /// must reconnect before issuing more commands.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            ImapError::Session(e) => e.is_connection_lost(),
            ImapError::Bye { .. } => true,
            _ => false,
        }
    }

    /// The upper-case response code of a `NO`, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            ImapError::No { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

impl From<ConnectError> for ImapError {
    fn from(e: ConnectError) -> Self {
        ImapError::Session(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(code: Option<&str>, text: &str) -> ImapError {
        ImapError::No {
            server: "imap.example.com:993".into(),
            command: "APPEND",
            code: code.map(str::to_owned),
            text: text.into(),
        }
    }

    #[test]
    fn classification() {
        assert!(no(Some("UNAVAILABLE"), "try later").is_retryable());
        let limit = ImapError::No {
            server: "s:1".into(),
            command: "SELECT",
            code: Some("LIMIT".into()),
            text: "Too many connections".into(),
        };
        assert!(limit.is_retryable());
        assert!(!no(Some("LIMIT"), "Mail size is larger than the maximum").is_retryable());
        assert!(no(Some("INUSE"), "locked").is_retryable());
        assert!(no(None, "Request is throttled").is_retryable());
        assert!(!no(Some("OVERQUOTA"), "quota").is_retryable());
        assert!(!no(Some("TOOBIG"), "big").is_retryable());
        assert!(!no(None, "Mailbox does not exist").is_retryable());
        let auth = ImapError::Session(SessionError::Auth {
            user: "alice@example.com".into(),
            server: "imap.example.com:993".into(),
            detail: "[AUTHENTICATIONFAILED] Authentication failed.".into(),
        });
        assert!(!auth.is_retryable());
        let text = auth.to_string();
        assert!(text.contains("alice@example.com") && text.contains("imap.example.com:993"));
        let io = ImapError::Session(SessionError::io(
            "s:1",
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        ));
        assert!(io.is_retryable() && io.is_connection_lost());
    }

    #[test]
    fn no_message_shows_code() {
        assert_eq!(
            no(Some("OVERQUOTA"), "Quota exceeded").to_string(),
            "imap.example.com:993 refused APPEND: [OVERQUOTA] Quota exceeded"
        );
        assert_eq!(
            no(None, "Nope").to_string(),
            "imap.example.com:993 refused APPEND: Nope"
        );
    }
}
