//! A small SMTP client (RFC 5321) for notification emails.
//!
//! One message per connection: greeting, EHLO (HELO for very old servers),
//! STARTTLS or implicit TLS as configured, AUTH when a user is given, then
//! MAIL FROM, one RCPT TO per recipient, DATA with CRLF line ends and
//! dot-stuffing, and QUIT. Every step has a timeout. Errors name the server
//! and the command, never the password, and say whether trying again later
//! may help ([`SmtpError::is_retryable`]).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::protocols::tls::{ConnectError, TlsMode};
use crate::vocabulary::{Credential, CredentialError, Secret, Server};

mod client;

use client::Client;

/// TCP connect and TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Any reply to a command (RFC 5321 section 4.5.3.2 allows minutes; a
/// notification is not worth waiting that long for).
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// The reply to the final dot, when the server may scan or store the
/// message (RFC 5321 suggests 10 minutes).
const DATA_END_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest reply line accepted (RFC 5321 says 512; leave room).
const MAX_LINE: u64 = 8192;
/// Most lines accepted in one reply.
const MAX_REPLY_LINES: usize = 200;

/// Where and as whom notifications are sent.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The SMTP server: port 587 with `starttls` or 465 with `implicit`
    /// for submission; 25 without TLS only on a trusted network.
    pub server: Server,
    /// The envelope sender (`MAIL FROM`): `noreply@example.com` or
    /// `mailshift <noreply@example.com>`.
    pub from: String,
    /// The login name; no authentication when absent.
    pub user: Option<String>,
    /// The password (AUTH PLAIN, or LOGIN when PLAIN is not offered) or
    /// OAuth2 token (XOAUTH2) of `user`.
    pub credential: Credential,
}

/// Everything that can go wrong sending a message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SmtpError {
    /// TCP connect or TLS handshake failed.
    #[error(transparent)]
    Connect(Arc<ConnectError>),
    /// The connection broke while reading or writing.
    #[error("connection to SMTP server {server} lost: {source}")]
    Io {
        /// `host:port`.
        server: String,
        /// The underlying error.
        source: Arc<io::Error>,
    },
    /// The server did not answer in time.
    #[error("SMTP server {server} timed out during {command} after {}s", after.as_secs())]
    Timeout {
        /// `host:port`.
        server: String,
        /// What was waited for (`greeting`, `MAIL FROM`, ...).
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// The server answered with an error code.
    #[error("SMTP server {server} refused {command}: {code} {text}")]
    Rejected {
        /// `host:port`.
        server: String,
        /// The command (`MAIL FROM`, `RCPT TO <bob@example.com>`, `AUTH
        /// PLAIN`), never its secret arguments.
        command: String,
        /// The reply code (4xx temporary, 5xx permanent).
        code: u16,
        /// The server's text, lines joined with spaces.
        text: String,
    },
    /// The server's answer is not SMTP.
    #[error("SMTP server {server} sent an invalid reply: {detail}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// What was wrong.
        detail: String,
    },
    /// `tls: starttls` was asked for but the server does not offer it; the
    /// message is not sent in clear instead.
    #[error("SMTP server {server} does not offer STARTTLS")]
    NoStartTls {
        /// `host:port`.
        server: String,
    },
    /// None of the server's authentication mechanisms can be used.
    #[error("SMTP server {server} offers no usable authentication mechanism (offered: {offered})")]
    NoAuthMechanism {
        /// `host:port`.
        server: String,
        /// The mechanisms the server announced.
        offered: String,
    },
    /// A user is configured but no password or token.
    #[error("SMTP server {server}: user {user} is set but no password or token")]
    MissingCredential {
        /// `host:port`.
        server: String,
        /// The login name.
        user: String,
    },
    /// The password or token could not be read.
    #[error("cannot read the SMTP credentials for {server}: {source}")]
    Credential {
        /// `host:port`.
        server: String,
        /// Where the secret should have come from.
        source: Arc<CredentialError>,
    },
    /// A sender or recipient address cannot be put in an SMTP command.
    #[error("invalid email address for SMTP: {address:?}")]
    InvalidAddress {
        /// The address as given.
        address: String,
    },
}

impl SmtpError {
    /// Whether sending again later may succeed: a 4xx reply, a lost or
    /// refused connection, a timeout. A 5xx reply, a missing STARTTLS or
    /// bad credentials will not fix themselves.
    pub fn is_retryable(&self) -> bool {
        match self {
            SmtpError::Connect(e) => e.is_retryable(),
            SmtpError::Io { .. } | SmtpError::Timeout { .. } => true,
            SmtpError::Rejected { code, .. } => (400..500).contains(code),
            SmtpError::Protocol { .. }
            | SmtpError::NoStartTls { .. }
            | SmtpError::NoAuthMechanism { .. }
            | SmtpError::MissingCredential { .. }
            | SmtpError::Credential { .. }
            | SmtpError::InvalidAddress { .. } => false,
        }
    }
}

/// Sends `message` (a complete RFC 5322 message; any line ends) to every
/// address in `to` (nothing to do when `to` is empty). Every recipient
/// must be accepted: if the server refuses one, nothing is sent and the
/// error names it.
pub async fn send(config: &SmtpConfig, to: &[String], message: &[u8]) -> Result<(), SmtpError> {
    let from = envelope_address(&config.from)?;
    let recipients: Vec<&str> = to
        .iter()
        .map(|t| envelope_address(t))
        .collect::<Result<_, _>>()?;
    if recipients.is_empty() {
        return Ok(());
    }
    let secret = match &config.user {
        Some(user) => Some(
            resolve(config)
                .await?
                .ok_or_else(|| SmtpError::MissingCredential {
                    server: config.server.to_string(),
                    user: user.clone(),
                })?,
        ),
        None => None,
    };
    let mut client = Client::connect(&config.server).await?;
    client.greeting().await?;
    let mut ehlo = client.ehlo().await?;
    if config.server.tls == TlsMode::StartTls {
        if !ehlo.has("STARTTLS") {
            return Err(SmtpError::NoStartTls {
                server: client.server.clone(),
            });
        }
        client
            .command("STARTTLS", "STARTTLS", REPLY_TIMEOUT)
            .await?;
        client = client.upgrade(&config.server).await?;
        ehlo = client.ehlo().await?;
    }
    let result = client
        .transaction(config, &ehlo, secret.as_ref(), from, &recipients, message)
        .await;
    if let Err(SmtpError::Rejected { .. }) = result {
        // Part-way through: end the session politely, nothing was sent.
        let _ = client.command("QUIT", "QUIT", REPLY_TIMEOUT).await;
    }
    result
}

/// Reads the secret off the async reactor (it may read a file or run a
/// token command).
async fn resolve(config: &SmtpConfig) -> Result<Option<Secret>, SmtpError> {
    let credential = config.credential.clone();
    let server = config.server.to_string();
    let resolved = tokio::task::spawn_blocking(move || credential.resolve())
        .await
        .map_err(|e| SmtpError::Protocol {
            server: server.clone(),
            detail: format!("reading the credentials stopped: {e}"),
        })?;
    resolved.map_err(|source| SmtpError::Credential {
        server,
        source: Arc::new(source),
    })
}

/// The bare address of `user@host` or `Name <user@host>`, refused if it
/// could break the command line.
fn envelope_address(text: &str) -> Result<&str, SmtpError> {
    let address = match text.rsplit_once('<') {
        Some((_, rest)) => rest.strip_suffix('>').unwrap_or(rest),
        None => text,
    }
    .trim();
    let bad = text.chars().any(char::is_control)
        || address.is_empty()
        || !address.contains('@')
        || address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>'));
    if bad {
        return Err(SmtpError::InvalidAddress {
            address: text.to_owned(),
        });
    }
    Ok(address)
}

/// A message as the DATA command carries it: every line ending in CRLF
/// (bare CR or LF become CRLF), lines starting with a dot get a second
/// one, then the final `.` line.
pub fn data_block(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < message.len() {
        let b = message[i];
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                out.push(b);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_dot_stuffed_and_crlf_terminated() {
        assert_eq!(data_block(b"a\nb"), b"a\r\nb\r\n.\r\n");
        assert_eq!(data_block(b"a\r\n.\r\n..x\n"), b"a\r\n..\r\n...x\r\n.\r\n");
        assert_eq!(
            data_block(b".start\rbare cr\r\n"),
            b"..start\r\nbare cr\r\n.\r\n"
        );
        assert_eq!(data_block(b""), b".\r\n");
    }

    #[test]
    fn envelope_addresses() {
        assert_eq!(envelope_address("a@b").ok(), Some("a@b"));
        assert_eq!(
            envelope_address("Ops <ops@b.example>").ok(),
            Some("ops@b.example")
        );
        for bad in ["", "nobody", "a@b\r\nRCPT TO:<x@y>", "a b@c", "<>"] {
            assert!(envelope_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn retryable_errors() {
        let rejected = |code| SmtpError::Rejected {
            server: "mx:25".into(),
            command: "MAIL FROM".into(),
            code,
            text: String::new(),
        };
        assert!(rejected(451).is_retryable());
        assert!(!rejected(550).is_retryable());
        assert!(
            !SmtpError::NoStartTls {
                server: "mx:25".into()
            }
            .is_retryable()
        );
    }
}
