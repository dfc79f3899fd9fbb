//! Mozilla autoconfig: the `config-v1.1.xml` document Thunderbird reads,
//! served by the domain itself or by Thunderbird's central database
//! (ISPDB), in one format.
//!
//! Places asked, in order (the first that serves a usable document wins):
//!
//! 1. `https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<address>`
//! 2. `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=<address>`
//! 3. `https://autoconfig.thunderbird.net/v1.1/<domain>` (the ISPDB)
//!
//! A base URL override (`MAILSHIFT_AUTOCONFIG_URL`) replaces the scheme,
//! host and port of each of them while the `Host` header still names the
//! original host, so a local test server can play all three.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::{Service, Settings};
use crate::protocols::http::{self, Url};
use crate::vocabulary::TlsMode;

/// The ISPDB's host.
const ISPDB_HOST: &str = "autoconfig.thunderbird.net";

/// The documents to ask for, for an address at `domain`.
pub fn urls(domain: &str, email: &str) -> Vec<Url> {
    let query = format!("?emailaddress={}", http::encode_query(email));
    vec![
        Url::https(
            &format!("autoconfig.{domain}"),
            &format!("/mail/config-v1.1.xml{query}"),
        ),
        Url::https(
            domain,
            &format!("/.well-known/autoconfig/mail/config-v1.1.xml{query}"),
        ),
        Url::https(ISPDB_HOST, &format!("/v1.1/{domain}")),
    ]
}

/// What one autoconfig document offers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Document {
    /// `displayName` of the email provider.
    pub display_name: Option<String>,
    /// Domains the document says it is for (`<domain>`).
    pub domains: Vec<String>,
    /// Incoming and outgoing servers, in document order (the order of
    /// preference).
    pub servers: Vec<ServerEntry>,
    /// CalDAV base URL (`<calendar type="caldav"><serverURL>`).
    pub caldav: Option<String>,
    /// CardDAV base URL (`<addressBook type="carddav"><serverURL>`).
    pub carddav: Option<String>,
}

/// One `incomingServer` or `outgoingServer`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// `imap`, `pop3` or `smtp`.
    pub kind: String,
    /// The server's host name.
    pub hostname: String,
    /// The port, when the document gives a valid one.
    pub port: Option<u16>,
    /// `SSL`, `STARTTLS` or `plain`.
    pub socket_type: String,
    /// The login name template: `%EMAILADDRESS%`, `%EMAILLOCALPART%`...
    pub username: Option<String>,
    /// `password-cleartext`, `OAuth2`, ...
    pub authentication: Vec<String>,
}

/// Why a document could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// The document is not well-formed XML.
    #[error("not a valid XML document: {0}")]
    Xml(String),
    /// Well-formed XML, but not an autoconfig document.
    #[error("not an autoconfig document (no clientConfig/emailProvider)")]
    NotAutoconfig,
}

/// Reads a `config-v1.1.xml` document.
pub fn parse(text: &str) -> Result<Document, ParseError> {
    let mut reader = Reader::from_str(text);
    let mut doc = Document::default();
    let mut path: Vec<String> = Vec::new();
    let mut text_buf = String::new();
    let mut current: Option<ServerEntry> = None;
    // The `type` attribute of the calendar/addressBook being read.
    let mut dav_type = String::new();
    let mut seen_provider = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ParseError::Xml(e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                let kind = type_attribute(&e);
                match name.as_str() {
                    "emailProvider" => seen_provider = true,
                    "incomingServer" | "outgoingServer" => {
                        current = Some(ServerEntry {
                            kind: kind.to_ascii_lowercase(),
                            ..ServerEntry::default()
                        });
                    }
                    "calendar" | "addressBook" => dav_type = kind.to_ascii_lowercase(),
                    _ => {}
                }
                path.push(name);
                text_buf.clear();
            }
            Event::Empty(_) => {}
            Event::Text(t) => text_buf.push_str(&t.xml10_content()),
            Event::CData(t) => text_buf.push_str(t.as_ref()),
            Event::GeneralRef(r) => text_buf.extend(crate::protocols::dav::xml::reference(&r)),
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str).unwrap_or("");
                let value = text_buf.trim().to_owned();
                text_buf.clear();
                match (parent, name.as_str()) {
                    ("incomingServer" | "outgoingServer", field) => {
                        if let Some(server) = current.as_mut() {
                            match field {
                                "hostname" => server.hostname = value,
                                "port" => server.port = value.parse().ok(),
                                "socketType" => server.socket_type = value,
                                "username" => server.username = Some(value),
                                "authentication" => server.authentication.push(value),
                                _ => {}
                            }
                        }
                    }
                    ("emailProvider", "displayName") => doc.display_name = Some(value),
                    ("emailProvider", "domain") => doc.domains.push(value.to_ascii_lowercase()),
                    ("emailProvider", "incomingServer" | "outgoingServer") => {
                        doc.servers.extend(current.take());
                    }
                    ("calendar", "serverURL") if dav_type == "caldav" => {
                        doc.caldav.get_or_insert(value);
                    }
                    ("addressBook", "serverURL") if dav_type == "carddav" => {
                        doc.carddav.get_or_insert(value);
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_provider {
        return Err(ParseError::NotAutoconfig);
    }
    Ok(doc)
}

fn type_attribute(e: &quick_xml::events::BytesStart<'_>) -> String {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == "type")
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
        .unwrap_or_default()
}

impl Document {
    /// The settings this document gives for an address, or `None` when it
    /// names no usable IMAP or POP3 server.
    pub fn settings(&self, email: &str) -> Option<Settings> {
        let imap = self.best("imap", email);
        let pop3 = self.best("pop3", email);
        if imap.is_none() && pop3.is_none() {
            return None;
        }
        let username = self
            .servers
            .iter()
            .find(|s| s.kind == "imap" && !s.hostname.is_empty())
            .or_else(|| self.servers.iter().find(|s| s.kind == "pop3"))
            .and_then(|s| s.username.clone());
        let oauth_only = self.servers.iter().filter(|s| s.kind == "imap").all(|s| {
            !s.authentication.is_empty() && s.authentication.iter().all(|a| a == "OAuth2")
        });
        Some(Settings {
            provider: self.display_name.clone(),
            imap: imap.map(|(s, _)| s),
            pop3: pop3.map(|(s, _)| s),
            smtp: self.best("smtp", email).map(|(s, _)| s),
            caldav: self.caldav.clone(),
            carddav: self.carddav.clone(),
            sieve: None,
            login: username,
            note: oauth_only
                .then(|| "the provider accepts only OAuth2 (oauth2 in the manifest)".to_owned()),
        })
    }

    /// The preferred server of a kind: the first with TLS (implicit or
    /// STARTTLS) in document order, else the first at all.
    fn best(&self, kind: &str, email: &str) -> Option<(Service, usize)> {
        let candidates: Vec<(usize, &ServerEntry)> = self
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == kind && !s.hostname.is_empty())
            .collect();
        let chosen = candidates
            .iter()
            .find(|(_, s)| socket_tls(&s.socket_type) != TlsMode::None)
            .or_else(|| candidates.first())?;
        let (index, entry) = *chosen;
        let tls = socket_tls(&entry.socket_type);
        let port = entry.port.unwrap_or(match (kind, tls) {
            ("imap", TlsMode::Implicit) => 993,
            ("imap", _) => 143,
            ("pop3", TlsMode::Implicit) => 995,
            ("pop3", _) => 110,
            (_, TlsMode::Implicit) => 465,
            _ => 587,
        });
        Some((
            Service {
                host: fill(&entry.hostname, email).to_ascii_lowercase(),
                port,
                tls,
            },
            index,
        ))
    }
}

fn socket_tls(socket_type: &str) -> TlsMode {
    match socket_type.to_ascii_uppercase().as_str() {
        "SSL" | "TLS" => TlsMode::Implicit,
        "STARTTLS" => TlsMode::StartTls,
        _ => TlsMode::None,
    }
}

/// Replaces the placeholders of a template with parts of `email`.
pub fn fill(template: &str, email: &str) -> String {
    let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
    template
        .replace("%EMAILADDRESS%", email)
        .replace("%EMAILLOCALPART%", local)
        .replace("%EMAILDOMAIN%", domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <displayName>Example &amp; Co Mail</displayName>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>143</port>
      <socketType>plain</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.test</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.test</hostname>
      <port>995</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.test</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
    </outgoingServer>
  </emailProvider>
  <calendar type="caldav">
    <serverURL><![CDATA[https://dav.example.test/cal/%EMAILADDRESS%/]]></serverURL>
  </calendar>
  <addressBook type="carddav">
    <serverURL>https://dav.example.test/card/</serverURL>
  </addressBook>
</clientConfig>"#;

    #[test]
    fn reads_a_full_document() {
        let doc = parse(SAMPLE).unwrap();
        assert_eq!(doc.display_name.as_deref(), Some("Example & Co Mail"));
        assert_eq!(doc.domains, ["example.test"]);
        assert_eq!(doc.servers.len(), 4);
        let s = doc.settings("ann@example.test").unwrap();
        let imap = s.imap.unwrap();
        assert_eq!(
            (imap.host.as_str(), imap.port, imap.tls),
            ("imap.example.test", 993, TlsMode::Implicit)
        );
        assert_eq!(s.pop3.unwrap().port, 995);
        assert_eq!(s.smtp.unwrap().tls, TlsMode::StartTls);
        assert_eq!(s.login.as_deref(), Some("%EMAILLOCALPART%"));
        assert_eq!(
            s.caldav.as_deref(),
            Some("https://dav.example.test/cal/%EMAILADDRESS%/")
        );
        assert_eq!(s.carddav.as_deref(), Some("https://dav.example.test/card/"));
    }

    #[test]
    fn rejects_what_is_not_autoconfig() {
        assert_eq!(
            parse("<html><body>hi</body></html>"),
            Err(ParseError::NotAutoconfig)
        );
        assert!(matches!(parse("<a><b></a>"), Err(ParseError::Xml(_))));
        let empty = parse("<clientConfig><emailProvider id='x'></emailProvider></clientConfig>");
        assert!(empty.unwrap().settings("a@x.test").is_none());
    }

    #[test]
    fn urls_in_order() {
        let urls: Vec<String> = urls("example.test", "a+b@example.test")
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=a%2Bb%40example.test",
                "https://example.test/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=a%2Bb%40example.test",
                "https://autoconfig.thunderbird.net/v1.1/example.test",
            ]
        );
    }
}
