//! Foreign account lists, read unchanged so admins can bring what they
//! already have:
//!
//! - imapsync's batch file, one pair per line ([`imapsync`]).
//! - OVH Mail Migrator's project CSV ([`omm`]), with the header
//!   `Source Type;Source url;Source Login;Source Password;Dest Type;Dest Url;Dest Mail;Dest Password`.
//! - the IMAP migration CSV of Exchange Online (and OMM's IMAP import)
//!   ([`exchange`]), with the header `EmailAddress,UserName,Password`.
//!
//! All carry inline passwords, since that is what those files hold. A login
//! that is not an address (`jdoe`) is fine: the account is then named by
//! its destination address.

mod columns;
pub mod exchange;
pub mod imapsync;
pub mod omm;

pub use exchange::{is_exchange_header, load_exchange};
pub use imapsync::{is_imapsync_line, load_imapsync};
pub use omm::{OMM_HEADER, is_omm_header, load_omm};

use super::diagnostic::quote;
use super::model::{AccountSpec, EndpointSpec, MailSpec};
use super::validate::is_email;
use crate::vocabulary::TlsMode;

/// Lower case, letters and digits only: `Dest Url` → `desturl`.
pub(super) fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The first cell of a header line, squashed.
fn first_cell(line: &str) -> String {
    line.split([';', ',', '\t'])
        .next()
        .map(|c| squash(c.trim_matches('"')))
        .unwrap_or_default()
}

fn mail(spec: &mut AccountSpec) -> &mut MailSpec {
    spec.mail.get_or_insert_with(MailSpec::default)
}

/// A login cell: the user, and the address too when it is one.
fn set_login(e: &mut EndpointSpec, login: &str) {
    let login = login.trim();
    if login.is_empty() {
        return;
    }
    e.user = Some(login.to_owned());
    if login.contains('@') {
        e.email = Some(login.to_owned());
    }
}

/// A source login that is not an address (`jdoe`) names no mailbox: the
/// account is named by its destination address, the same person's.
fn name_by_destination(spec: &mut AccountSpec) {
    let destination = spec
        .destination
        .as_ref()
        .and_then(|d| d.email.clone().or_else(|| d.user.clone()))
        .filter(|a| is_email(a));
    if let (Some(source), Some(address)) = (spec.source.as_mut(), destination)
        && source.email.is_none()
        && source.user.as_deref().is_some_and(|u| !is_email(u))
    {
        source.email = Some(address);
    }
}

/// What a host cell or URL said about a server.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServerParts {
    /// The host name, when given.
    pub host: Option<String>,
    /// The port, when given.
    pub port: Option<u16>,
    /// The TLS mode the scheme or port implies.
    pub tls: Option<TlsMode>,
}

impl ServerParts {
    fn apply(self, e: &mut EndpointSpec) {
        e.host = self.host.or(e.host.take());
        e.port = self.port.or(e.port);
        e.tls = self.tls.or(e.tls);
    }
}

/// Parses `host`, `host:port`, `[::1]:993` or a URL such as
/// `imaps://host:993` or `https://host/EWS/Exchange.asmx` (scheme `imaps`
/// or `pop3s` means implicit TLS, `imap` or `pop3` STARTTLS; others only
/// give the host).
pub fn parse_server(text: &str) -> Result<ServerParts, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(ServerParts::default());
    }
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, text),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        match inner.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => return Err(format!("{} is not a server address", quote(text))),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (authority, None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("{} is not a server address", quote(text)));
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => {
                return Err(format!(
                    "{} does not end in a port number (1–65535)",
                    quote(text)
                ));
            }
        },
    };
    let tls = match scheme.as_deref() {
        Some("imaps" | "pop3s" | "pops") => Some(TlsMode::Implicit),
        Some("imap" | "pop3" | "pop") => Some(TlsMode::StartTls),
        _ => None,
    };
    Ok(ServerParts {
        host: Some(host.to_owned()),
        port,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers_and_urls() {
        let p = |s| parse_server(s).unwrap();
        assert_eq!(
            p("mail.example.test").host.as_deref(),
            Some("mail.example.test")
        );
        assert_eq!(p("mail.example.test:143").port, Some(143));
        assert_eq!(
            p("imaps://mail.example.test"),
            ServerParts {
                host: Some("mail.example.test".into()),
                port: None,
                tls: Some(TlsMode::Implicit)
            }
        );
        assert_eq!(
            p("https://ex.mail.ovh.net/EWS/Exchange.asmx")
                .host
                .as_deref(),
            Some("ex.mail.ovh.net")
        );
        assert_eq!(p("[::1]:10143").host.as_deref(), Some("::1"));
        assert_eq!(p("[::1]:10143").port, Some(10143));
        assert!(parse_server("mail.example.test:99999").is_err());
        assert!(parse_server("bad host").is_err());
    }

    #[test]
    fn recognizes_dialects() {
        assert!(is_omm_header(&OMM_HEADER.join(";")));
        assert!(is_omm_header("\"Source Type\",\"Source url\""));
        assert!(is_exchange_header("EmailAddress,UserName,Password"));
        assert!(is_exchange_header(
            "\"EmailAddress\";\"UserName\";\"Password\""
        ));
        assert!(!is_exchange_header("source_email,destination_email"));
        assert!(is_imapsync_line("a;b;c;d;e;f;"));
        assert!(!is_imapsync_line("source_email;destination_email"));
    }

    #[test]
    fn a_login_that_is_not_an_address_takes_the_destination_address() {
        let mut spec = AccountSpec::default();
        set_login(spec.source.get_or_insert_default(), "jdoe");
        set_login(spec.destination.get_or_insert_default(), "jdoe@new.example");
        name_by_destination(&mut spec);
        let source = spec.source.unwrap();
        assert_eq!(source.user.as_deref(), Some("jdoe"));
        assert_eq!(source.email.as_deref(), Some("jdoe@new.example"));
    }
}
