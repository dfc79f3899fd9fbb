//! Protocol clients, one module per protocol, plus the connection setup
//! they share.
//!
//! - [`tls`]: TCP connect with a timeout, implicit TLS or STARTTLS upgrade,
//!   certificate policy. Used by every client.
//! - [`SessionConfig`]: the server and login every session-based client
//!   (IMAP, POP3, ManageSieve) is given.
//! - [`http`]: URLs and one HTTP/1.1 request at a time, for autoconfig,
//!   OAuth2 token endpoints and WebDAV.
//! - [`oauth2`]: access tokens of OAuth2 service accounts (Google
//!   domain-wide delegation, Microsoft 365 app-only access), cached for
//!   the process, for XOAUTH2 logins.
//! - [`dns`]: SRV, TXT, MX and address lookups (autodetect, WebDAV home
//!   discovery).
//! - [`dav`]: a small WebDAV client with home discovery (RFC 6764), shared
//!   by [`carddav`] (contacts, contact groups) and [`caldav`] (calendars,
//!   tasks).
//! - [`imap`]: a pipelining IMAP4rev1 client (source and destination of the
//!   mail stage).
//! - [`pop3`]: a POP3 client (a mail-only source; never deletes).
//! - [`pst`]: an Outlook PST file reader, the MIME building that turns its
//!   messages into RFC 5322 ones, and the vCard and iCalendar writing of
//!   its contacts, lists, appointments and tasks.
//! - [`managesieve`]: a ManageSieve client for Sieve scripts (rules,
//!   auto-replies).
//! - [`smtp`]: a small SMTP submission client for notification emails.

pub mod caldav;
pub mod carddav;
pub mod dav;
pub mod dns;
pub mod http;
pub mod imap;
pub mod managesieve;
pub mod oauth2;
pub mod pop3;
pub mod pst;
pub mod smtp;
pub mod tls;

use std::time::Duration;

use crate::vocabulary::Server;
use imap::Auth;

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
