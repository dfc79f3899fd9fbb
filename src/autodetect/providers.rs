//! The built-in provider table: the settings of well-known mail
//! providers, found by the address's domain (`gmail.com`) or, for a
//! company domain hosted by one of them, by the domain's MX hosts
//! (`*.mail.protection.outlook.com`).
//!
//! Every entry is taken from the provider's own published client settings.
//! A provider that also publishes CalDAV/CardDAV or ManageSieve endpoints
//! has them here; `%EMAILADDRESS%` in a URL is replaced by the address.

use super::{Service, Settings};
use crate::vocabulary::TlsMode;

/// One service of a provider: where to connect and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name.
    pub host: &'static str,
    /// TCP port.
    pub port: u16,
    /// How the connection is secured.
    pub tls: TlsMode,
}

/// A mail provider's published settings.
#[derive(Debug, Clone, Copy)]
pub struct Provider {
    /// A short stable name, used in JSON output.
    pub id: &'static str,
    /// The name people know it by.
    pub name: &'static str,
    /// Address domains that belong to the provider itself.
    pub domains: &'static [&'static str],
    /// MX host patterns of domains it hosts: `*.example.net` matches any
    /// host under `example.net`; anything else matches exactly.
    pub mx: &'static [&'static str],
    /// Host patterns of the domain's `_autodiscover._tcp` SRV target that
    /// single this provider out among those sharing its MX hosts.
    pub autodiscover: &'static [&'static str],
    /// Whether the IMAP, POP3 and SMTP host is the autodiscover target
    /// itself (hosted Exchange clusters: `ex2.mail.ovh.net`).
    pub host_from_autodiscover: bool,
    /// The IMAP server.
    pub imap: Option<Endpoint>,
    /// The POP3 server.
    pub pop3: Option<Endpoint>,
    /// The SMTP submission server.
    pub smtp: Option<Endpoint>,
    /// The CalDAV base URL.
    pub caldav: Option<&'static str>,
    /// The CardDAV base URL.
    pub carddav: Option<&'static str>,
    /// The ManageSieve server.
    pub sieve: Option<Endpoint>,
    /// What an admin must know to log in (app passwords, OAuth2).
    pub note: Option<&'static str>,
}

const fn tls(host: &'static str, port: u16) -> Option<Endpoint> {
    Some(Endpoint {
        host,
        port,
        tls: TlsMode::Implicit,
    })
}

const fn starttls(host: &'static str, port: u16) -> Option<Endpoint> {
    Some(Endpoint {
        host,
        port,
        tls: TlsMode::StartTls,
    })
}

/// A provider with only the fields every entry has; the table fills in the rest.
const BASE: Provider = Provider {
    id: "",
    name: "",
    domains: &[],
    mx: &[],
    autodiscover: &[],
    host_from_autodiscover: false,
    imap: None,
    pop3: None,
    smtp: None,
    caldav: None,
    carddav: None,
    sieve: None,
    note: None,
};

const OAUTH_OR_APP_PASSWORD: &str =
    "log in with an OAuth2 token (oauth2 in the manifest) or an app password";

/// The table. Order matters only among entries sharing MX hosts: the
/// first is the default when the autodiscover record does not tell them
/// apart (OVHcloud's three offers share `mx*.mail.ovh.net`).
pub static PROVIDERS: &[Provider] = &[
    Provider {
        id: "ovh-mx-plan",
        name: "OVHcloud MX Plan",
        mx: &["*.mail.ovh.net"],
        imap: tls("ssl0.ovh.net", 993),
        pop3: tls("ssl0.ovh.net", 995),
        smtp: tls("ssl0.ovh.net", 465),
        ..BASE
    },
    Provider {
        id: "ovh-email-pro",
        name: "OVHcloud Email Pro",
        autodiscover: &["pro*.mail.ovh.net"],
        host_from_autodiscover: true,
        imap: tls("pro1.mail.ovh.net", 993),
        pop3: tls("pro1.mail.ovh.net", 995),
        smtp: starttls("pro1.mail.ovh.net", 587),
        ..BASE
    },
    Provider {
        id: "ovh-exchange",
        name: "OVHcloud Hosted Exchange",
        autodiscover: &["ex*.mail.ovh.net", "ex*.mail.ovh.ca"],
        host_from_autodiscover: true,
        imap: tls("ex.mail.ovh.net", 993),
        pop3: tls("ex.mail.ovh.net", 995),
        smtp: starttls("ex.mail.ovh.net", 587),
        note: Some(
            "calendars, contacts and rules of an Exchange mailbox are not reachable over IMAP",
        ),
        ..BASE
    },
    Provider {
        id: "ovh-mx-plan-ca",
        name: "OVHcloud MX Plan (Canada)",
        mx: &["*.mail.ovh.ca"],
        imap: tls("ssl0.ovh.ca", 993),
        pop3: tls("ssl0.ovh.ca", 995),
        smtp: tls("ssl0.ovh.ca", 465),
        ..BASE
    },
    Provider {
        id: "gmail",
        name: "Gmail / Google Workspace",
        domains: &["gmail.com", "googlemail.com"],
        mx: &["*.google.com", "*.googlemail.com"],
        imap: tls("imap.gmail.com", 993),
        pop3: tls("pop.gmail.com", 995),
        smtp: tls("smtp.gmail.com", 465),
        caldav: Some("https://apidata.googleusercontent.com/caldav/v2/%EMAILADDRESS%/events"),
        carddav: Some(
            "https://www.googleapis.com/carddav/v1/principals/%EMAILADDRESS%/lists/default/",
        ),
        note: Some(OAUTH_OR_APP_PASSWORD),
        ..BASE
    },
    Provider {
        id: "microsoft365",
        name: "Microsoft 365 / Outlook.com",
        domains: &[
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "outlook.fr",
            "hotmail.fr",
            "live.fr",
            "outlook.de",
            "hotmail.de",
            "outlook.es",
            "hotmail.es",
            "outlook.it",
            "hotmail.it",
            "hotmail.co.uk",
            "live.co.uk",
        ],
        mx: &[
            "*.mail.protection.outlook.com",
            "*.olc.protection.outlook.com",
        ],
        imap: tls("outlook.office365.com", 993),
        pop3: tls("outlook.office365.com", 995),
        smtp: starttls("smtp.office365.com", 587),
        note: Some(
            "Microsoft accepts only OAuth2 (oauth2 in the manifest) for IMAP; calendars and contacts are not offered over CalDAV/CardDAV",
        ),
        ..BASE
    },
    Provider {
        id: "yahoo",
        name: "Yahoo Mail",
        domains: &[
            "yahoo.com",
            "ymail.com",
            "rocketmail.com",
            "yahoo.fr",
            "yahoo.co.uk",
            "yahoo.de",
            "yahoo.es",
            "yahoo.it",
            "yahoo.ca",
        ],
        mx: &["*.yahoodns.net"],
        imap: tls("imap.mail.yahoo.com", 993),
        pop3: tls("pop.mail.yahoo.com", 995),
        smtp: tls("smtp.mail.yahoo.com", 465),
        caldav: Some("https://caldav.calendar.yahoo.com/"),
        carddav: Some("https://carddav.address.yahoo.com/"),
        note: Some("log in with an app password"),
        ..BASE
    },
    Provider {
        id: "aol",
        name: "AOL Mail",
        domains: &["aol.com", "aim.com"],
        imap: tls("imap.aol.com", 993),
        pop3: tls("pop.aol.com", 995),
        smtp: tls("smtp.aol.com", 465),
        note: Some("log in with an app password"),
        ..BASE
    },
    Provider {
        id: "icloud",
        name: "iCloud Mail",
        domains: &["icloud.com", "me.com", "mac.com"],
        mx: &["*.mail.icloud.com"],
        imap: tls("imap.mail.me.com", 993),
        smtp: starttls("smtp.mail.me.com", 587),
        caldav: Some("https://caldav.icloud.com/"),
        carddav: Some("https://contacts.icloud.com/"),
        note: Some("log in with an app-specific password"),
        ..BASE
    },
    Provider {
        id: "fastmail",
        name: "Fastmail",
        domains: &["fastmail.com", "fastmail.fm"],
        mx: &["*.messagingengine.com"],
        imap: tls("imap.fastmail.com", 993),
        pop3: tls("pop.fastmail.com", 995),
        smtp: tls("smtp.fastmail.com", 465),
        caldav: Some("https://caldav.fastmail.com/"),
        carddav: Some("https://carddav.fastmail.com/"),
        note: Some("log in with an app password"),
        ..BASE
    },
    Provider {
        id: "gmx-de",
        name: "GMX (gmx.net)",
        domains: &["gmx.de", "gmx.net", "gmx.at", "gmx.ch"],
        mx: &["*.gmx.net"],
        imap: tls("imap.gmx.net", 993),
        pop3: tls("pop.gmx.net", 995),
        smtp: starttls("mail.gmx.net", 587),
        note: Some("IMAP access must be enabled in the GMX settings"),
        ..BASE
    },
    Provider {
        id: "gmx-com",
        name: "GMX (gmx.com)",
        domains: &["gmx.com", "gmx.fr", "gmx.es", "gmx.co.uk"],
        mx: &["*.gmx.com"],
        imap: tls("imap.gmx.com", 993),
        pop3: tls("pop.gmx.com", 995),
        smtp: starttls("mail.gmx.com", 587),
        note: Some("IMAP access must be enabled in the GMX settings"),
        ..BASE
    },
    Provider {
        id: "webde",
        name: "WEB.DE",
        domains: &["web.de"],
        mx: &["*.web.de"],
        imap: tls("imap.web.de", 993),
        pop3: tls("pop3.web.de", 995),
        smtp: starttls("smtp.web.de", 587),
        note: Some("IMAP access must be enabled in the WEB.DE settings"),
        ..BASE
    },
    Provider {
        id: "zoho",
        name: "Zoho Mail",
        domains: &["zoho.com", "zohomail.com"],
        imap: tls("imap.zoho.com", 993),
        pop3: tls("pop.zoho.com", 995),
        smtp: tls("smtp.zoho.com", 465),
        ..BASE
    },
    Provider {
        id: "zoho-eu",
        name: "Zoho Mail (EU)",
        domains: &["zoho.eu", "zohomail.eu"],
        imap: tls("imap.zoho.eu", 993),
        pop3: tls("pop.zoho.eu", 995),
        smtp: tls("smtp.zoho.eu", 465),
        ..BASE
    },
    Provider {
        id: "zoho-organization",
        name: "Zoho Mail (organisation)",
        mx: &["*.zoho.com"],
        imap: tls("imappro.zoho.com", 993),
        pop3: tls("poppro.zoho.com", 995),
        smtp: tls("smtppro.zoho.com", 465),
        ..BASE
    },
    Provider {
        id: "zoho-organization-eu",
        name: "Zoho Mail (organisation, EU)",
        mx: &["*.zoho.eu"],
        imap: tls("imappro.zoho.eu", 993),
        pop3: tls("poppro.zoho.eu", 995),
        smtp: tls("smtppro.zoho.eu", 465),
        ..BASE
    },
    Provider {
        id: "mailbox-org",
        name: "mailbox.org",
        domains: &["mailbox.org"],
        mx: &["*.mailbox.org"],
        imap: tls("imap.mailbox.org", 993),
        pop3: tls("pop3.mailbox.org", 995),
        smtp: tls("smtp.mailbox.org", 465),
        caldav: Some("https://dav.mailbox.org/caldav/"),
        carddav: Some("https://dav.mailbox.org/carddav/"),
        sieve: starttls("imap.mailbox.org", 4190),
        ..BASE
    },
    Provider {
        id: "posteo",
        name: "Posteo",
        domains: &["posteo.de", "posteo.net"],
        imap: tls("posteo.de", 993),
        pop3: tls("posteo.de", 995),
        smtp: tls("posteo.de", 465),
        caldav: Some("https://posteo.de:8443/"),
        carddav: Some("https://posteo.de:8843/"),
        sieve: starttls("posteo.de", 4190),
        ..BASE
    },
    Provider {
        id: "yandex",
        name: "Yandex Mail",
        domains: &["yandex.com", "yandex.ru", "ya.ru"],
        mx: &["mx.yandex.net", "mx.yandex.ru"],
        imap: tls("imap.yandex.com", 993),
        pop3: tls("pop.yandex.com", 995),
        smtp: tls("smtp.yandex.com", 465),
        note: Some("log in with an app password"),
        ..BASE
    },
    Provider {
        id: "orange",
        name: "Orange",
        domains: &["orange.fr", "wanadoo.fr"],
        imap: tls("imap.orange.fr", 993),
        pop3: tls("pop.orange.fr", 995),
        smtp: tls("smtp.orange.fr", 465),
        ..BASE
    },
    Provider {
        id: "free",
        name: "Free",
        domains: &["free.fr"],
        imap: tls("imap.free.fr", 993),
        pop3: tls("pop.free.fr", 995),
        smtp: tls("smtp.free.fr", 465),
        ..BASE
    },
    Provider {
        id: "laposte",
        name: "La Poste",
        domains: &["laposte.net"],
        imap: tls("imap.laposte.net", 993),
        pop3: tls("pop.laposte.net", 995),
        smtp: tls("smtp.laposte.net", 465),
        ..BASE
    },
];

impl Provider {
    /// The settings of a provider entry; with an autodiscover target, that
    /// host replaces the provider's mail hosts when the entry says so.
    pub fn settings(&self, autodiscover: Option<&str>) -> Settings {
        let p = self;
        let service = |e: Option<Endpoint>| {
            e.map(|e| Service {
                host: match autodiscover {
                    Some(target) if p.host_from_autodiscover => target.to_owned(),
                    _ => e.host.to_owned(),
                },
                port: e.port,
                tls: e.tls,
            })
        };
        Settings {
            provider: Some(p.name.to_owned()),
            imap: service(p.imap),
            pop3: service(p.pop3),
            smtp: service(p.smtp),
            caldav: p.caldav.map(str::to_owned),
            carddav: p.carddav.map(str::to_owned),
            sieve: p.sieve.map(|e| Service {
                host: e.host.to_owned(),
                port: e.port,
                tls: e.tls,
            }),
            login: None,
            note: p.note.map(str::to_owned),
        }
    }
}

/// The provider whose own domain this is (`gmail.com` → Gmail).
pub fn by_domain(domain: &str) -> Option<&'static Provider> {
    PROVIDERS
        .iter()
        .find(|p| p.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
}

/// The first provider whose MX patterns match one of `hosts` (in the
/// order given: most preferred MX first), with the host that matched.
pub fn by_mx(hosts: &[String]) -> Option<(&'static Provider, &str)> {
    hosts.iter().find_map(|host| {
        PROVIDERS
            .iter()
            .find(|p| p.mx.iter().any(|pattern| host_matches(pattern, host)))
            .map(|p| (p, host.as_str()))
    })
}

/// The provider an autodiscover target singles out, if any.
pub fn by_autodiscover(target: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| {
        p.autodiscover
            .iter()
            .any(|pattern| host_matches(pattern, target))
    })
}

/// Whether any provider in the table can be refined by an autodiscover
/// record once `provider` matched by MX (providers sharing MX hosts).
pub fn refinable(provider: &Provider) -> bool {
    provider.id.starts_with("ovh-")
}

/// Matches a host against a pattern: `*.example.net` matches any host
/// under `example.net`; `ex*.mail.ovh.net` matches `ex`, then anything
/// without a dot, then `.mail.ovh.net`; anything else matches exactly.
/// Case and a trailing dot are ignored.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return host.len() > suffix.len() + 1
            && host.ends_with(suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.';
    }
    match pattern.split_once('*') {
        Some((prefix, suffix)) => {
            host.len() >= prefix.len() + suffix.len()
                && host.starts_with(prefix)
                && host.ends_with(suffix)
                && !host[prefix.len()..host.len() - suffix.len()].contains('.')
        }
        None => host == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(host_matches("*.google.com", "aspmx.l.google.com."));
        assert!(host_matches("*.google.com", "SMTP.google.com"));
        assert!(!host_matches("*.google.com", "google.com"));
        assert!(!host_matches("*.google.com", "notgoogle.com"));
        assert!(host_matches("ex*.mail.ovh.net", "ex2.mail.ovh.net"));
        assert!(host_matches("ex*.mail.ovh.net", "ex.mail.ovh.net"));
        assert!(!host_matches("ex*.mail.ovh.net", "ex.evil.mail.ovh.net"));
        assert!(host_matches("mx.yandex.net", "MX.YANDEX.NET."));
        assert!(!host_matches("mx.yandex.net", "mx2.yandex.net"));
    }

    #[test]
    fn lookups() {
        assert_eq!(by_domain("GMail.com").map(|p| p.id), Some("gmail"));
        assert!(by_domain("example.com").is_none());
        let hosts = vec!["mx0.example.net".to_owned(), "mx1.mail.ovh.net.".to_owned()];
        let (provider, host) = by_mx(&hosts).unwrap();
        assert_eq!((provider.id, host), ("ovh-mx-plan", "mx1.mail.ovh.net."));
        assert_eq!(
            by_autodiscover("ex3.mail.ovh.net.").map(|p| p.id),
            Some("ovh-exchange")
        );
        assert_eq!(
            by_autodiscover("pro1.mail.ovh.net").map(|p| p.id),
            Some("ovh-email-pro")
        );
    }

    #[test]
    fn every_entry_has_imap_and_a_way_to_be_found() {
        for p in PROVIDERS {
            assert!(p.imap.is_some(), "{}", p.id);
            assert!(
                !p.domains.is_empty() || !p.mx.is_empty() || !p.autodiscover.is_empty(),
                "{}",
                p.id
            );
            for d in p.domains {
                assert_eq!(by_domain(d).map(|f| f.id), Some(p.id), "{d}");
            }
        }
    }
}
