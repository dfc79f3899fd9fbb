//! The mail-adjacent formats mailshift writes and reads, shared by the
//! protocol clients (the PST reader) and the reports (notification emails).
//!
//! - [`mime`]: header fields, RFC 2047 encoded words, RFC 2231 parameters,
//!   quoted-printable and base64 bodies.
//! - [`content_line`]: the line syntax iCalendar and vCard share.
//! - [`percent`]: percent-escapes, in URLs and WebDAV hrefs.

pub mod content_line;
pub mod mime;
pub mod percent;
