//! Protocol clients, one module per protocol, plus the connection setup
//! they share.
//!
//! - [`tls`]: TCP connect with a timeout, implicit TLS or STARTTLS upgrade,
//!   certificate policy. Used by every client.
//! - [`SessionConfig`]: the server and login every session-based client
//!   (IMAP, POP3, ManageSieve) is given, and [`SessionError`]: what can go
//!   wrong in any of their sessions, whatever the protocol says.
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

mod session;
pub use session::{SessionConfig, SessionError};
