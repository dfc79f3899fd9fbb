//! IMAP4rev1 client built for bulk migration: pipelined APPEND, streaming
//! FETCH of exact message bytes, and errors that say whether to retry.
//!
//! # Shape
//!
//! - [`Session::connect`] opens the connection (implicit TLS, STARTTLS or
//!   plain), reads the greeting, logs in (AUTHENTICATE PLAIN when offered,
//!   else LOGIN; PLAIN with an authorization identity for an administrator
//!   acting for the user; XOAUTH2 for OAuth tokens) and re-reads the
//!   capabilities.
//! - Mailbox commands ([`Session::list`], [`Session::select`], ...) take the
//!   mailbox name *as on the wire* (`raw`, modified UTF-7); [`utf7`]
//!   converts for display.
//! - [`Session::fetch_bodies`] / [`Session::fetch_bodies_to`] hand over each
//!   message as soon as its literal is complete, so memory stays bounded by
//!   the largest message, not the folder.
//! - [`Session::appender`] keeps up to `window` APPEND commands in flight on
//!   one connection; see [`Appender`].
//!
//! # Layers
//!
//! `command` builds command lines (quoting, literals, sequence sets);
//! `transport` reads whole responses (lines + literals) and writes
//! commands under a "no progress" timeout; `parse` turns them into
//! `response` values; `session` runs commands and logs in; `mailbox`,
//! `fetch`, `append` and `gmail` (Gmail's extensions) hold the operations.
//!
//! # Secrets
//!
//! Passwords and tokens live only in [`Auth`], whose `Debug` redacts them;
//! login commands are logged as `LOGIN <redacted>`; errors name the user and
//! server only.

mod append;
mod capability;
mod command;
mod error;
mod fetch;
mod gmail;
mod login;
mod mailbox;
mod parse;
mod response;
mod session;
mod transport;
pub mod utf7;

use std::fmt;

pub use append::{AppendRequest, AppendUid, Appender, Completion};
pub use capability::Capabilities;
pub use command::{internal_date, is_valid_internal_date, normalize_flag, sequence_set};
pub use error::ImapError;
pub use fetch::{FetchedBody, MessageMeta, StoredHeader};
pub use gmail::GmailMeta;
pub use mailbox::{Mailbox, MailboxState, SpecialUse, Status};
pub use session::Session;

pub use super::{SessionConfig, SessionError};

pub use crate::vocabulary::TlsMode;

/// A credential. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Password for AUTHENTICATE PLAIN or LOGIN.
    Password(String),
    /// An administrator's password, acting for the session's user: SASL
    /// PLAIN with the user as authorization identity (RFC 4616), as
    /// Dovecot's master users and Cyrus's admins take it.
    Proxy {
        /// The administrator's login name.
        admin: String,
        /// The administrator's password.
        password: String,
    },
    /// OAuth 2 access token for AUTHENTICATE XOAUTH2.
    XOAuth2 {
        /// The bearer token.
        token: String,
    },
}

impl Auth {
    /// The SASL PLAIN message (RFC 4616) that logs in as `user`:
    /// `authzid NUL authcid NUL password`, the authorization identity
    /// empty unless an administrator acts for `user`. `None` for a token.
    pub fn plain(&self, user: &str) -> Option<Vec<u8>> {
        let (authzid, authcid, password) = match self {
            Auth::Password(password) => ("", user, password),
            Auth::Proxy { admin, password } => (user, admin.as_str(), password),
            Auth::XOAuth2 { .. } => return None,
        };
        let mut message = Vec::with_capacity(authzid.len() + authcid.len() + password.len() + 2);
        message.extend_from_slice(authzid.as_bytes());
        message.push(0);
        message.extend_from_slice(authcid.as_bytes());
        message.push(0);
        message.extend_from_slice(password.as_bytes());
        Some(message)
    }

    /// Who logs in, in words for errors: `user`, or `user (through
    /// administrator admin)`.
    pub fn login_name(&self, user: &str) -> String {
        match self {
            Auth::Proxy { admin, .. } => format!("{user} (through administrator {admin})"),
            _ => user.to_owned(),
        }
    }

    /// The SASL XOAUTH2 message that logs in as `user`, for a token.
    pub fn xoauth2(&self, user: &str) -> Option<String> {
        match self {
            Auth::XOAuth2 { token } => Some(format!("user={user}\x01auth=Bearer {token}\x01\x01")),
            _ => None,
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Password(_) => f.write_str("Password(<redacted>)"),
            Auth::Proxy { admin, .. } => {
                write!(f, "Proxy {{ admin: {admin:?}, password: <redacted> }}")
            }
            Auth::XOAuth2 { .. } => f.write_str("XOAuth2 { token: <redacted> }"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let server = crate::vocabulary::Server {
            host: "imap.example.com".into(),
            port: 993,
            tls: TlsMode::Implicit,
            accept_invalid_certs: false,
        };
        let config = server.session(
            "alice",
            Auth::Password("hunter2".into()),
            std::time::Duration::from_secs(30),
        );
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("alice"));
        let token = Auth::XOAuth2 {
            token: "ya29.secret".into(),
        };
        assert!(!format!("{token:?}").contains("ya29"));
        let proxy = Auth::Proxy {
            admin: "master".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{proxy:?}").contains("hunter2"));
    }

    #[test]
    fn plain_names_the_user_as_authorization_identity_only_for_an_admin() {
        let own = Auth::Password("pw".into());
        assert_eq!(own.plain("alice").unwrap(), b"\0alice\0pw");
        let proxy = Auth::Proxy {
            admin: "master".into(),
            password: "pw".into(),
        };
        assert_eq!(proxy.plain("alice").unwrap(), b"alice\0master\0pw");
        let token = Auth::XOAuth2 { token: "t".into() };
        assert_eq!(token.plain("alice"), None);
        assert_eq!(
            token.xoauth2("alice").unwrap(),
            "user=alice\x01auth=Bearer t\x01\x01"
        );
    }
}
