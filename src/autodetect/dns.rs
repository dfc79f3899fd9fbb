//! Autodetect from DNS: settings from the RFC 6186 mail SRV records (with
//! the RFC 6764 and RFC 5804 ones alongside), or from the MX hosts matched
//! against the provider table.

use super::{Attempt, Method, Service, Settings, providers};
use crate::protocols::dns::{Dns, LookupError, Srv, dav_url};
use crate::vocabulary::TlsMode;

/// The SRV names asked for mail, with the TLS mode each implies.
const MAIL_SRV: [(&str, TlsMode); 4] = [
    ("_imaps._tcp", TlsMode::Implicit),
    ("_imap._tcp", TlsMode::StartTls),
    ("_pop3s._tcp", TlsMode::Implicit),
    ("_pop3._tcp", TlsMode::StartTls),
];

/// Settings from SRV records, with the names that answered; `Err` when
/// no IMAP or POP3 record exists.
pub async fn srv_settings(dns: &Dns, domain: &str) -> Result<(Settings, String), Attempt> {
    let names: Vec<String> = MAIL_SRV
        .iter()
        .map(|(service, _)| format!("{service}.{domain}"))
        .collect();
    let answers = futures::future::join_all(names.iter().map(|n| dns.srv(n))).await;
    let mut failures = Vec::new();
    let mut best: [Option<Service>; 2] = [None, None];
    let mut answered = Vec::new();
    for ((name, (_, tls)), answer) in names.iter().zip(MAIL_SRV).zip(answers) {
        let slot = usize::from(name.starts_with("_pop3"));
        match answer {
            Ok(records) => {
                if let (Some(r), None) = (records.first(), &best[slot]) {
                    best[slot] = Some(service_of(r, tls));
                    answered.push(name.clone());
                }
            }
            Err(LookupError::NoRecords) => {}
            Err(LookupError::Failed(e)) => failures.push(format!("{name}: {e}")),
        }
    }
    let [imap, pop3] = best;
    if imap.is_none() && pop3.is_none() {
        return Err(Attempt {
            method: Method::Srv,
            query: names.join(", "),
            result: if failures.is_empty() {
                "no records".to_owned()
            } else {
                failures.join("; ")
            },
        });
    }
    let first = |name: &str, tls| {
        let name = format!("{name}.{domain}");
        async move {
            dns.srv(&name)
                .await
                .ok()
                .and_then(|r| r.first().map(|r| service_of(r, tls)))
        }
    };
    let (submissions, submission, sieve) = tokio::join!(
        first("_submissions._tcp", TlsMode::Implicit),
        first("_submission._tcp", TlsMode::StartTls),
        first("_sieve._tcp", TlsMode::StartTls),
    );
    let (caldav, carddav) = tokio::join!(
        dav_url(dns, "_caldavs._tcp", domain, "caldav", true),
        dav_url(dns, "_carddavs._tcp", domain, "carddav", true),
    );
    Ok((
        Settings {
            provider: None,
            imap,
            pop3,
            smtp: submissions.or(submission),
            caldav,
            carddav,
            sieve,
            login: None,
            note: None,
        },
        answered.join(", "),
    ))
}

fn service_of(r: &Srv, tls: TlsMode) -> Service {
    Service {
        host: r.target.clone(),
        port: r.port,
        tls,
    }
}

/// Settings from the MX hosts matched against the provider table; for
/// providers that share MX hosts (OVHcloud's offers), the domain's
/// `_autodiscover._tcp` SRV target picks the offer and its server.
pub async fn mx_settings(dns: &Dns, domain: &str) -> Result<(Settings, String), Attempt> {
    let attempt = |result: String| Attempt {
        method: Method::Mx,
        query: domain.to_owned(),
        result,
    };
    let hosts = dns.mx(domain).await.map_err(|e| attempt(e.to_string()))?;
    let Some((provider, host)) = providers::by_mx(&hosts) else {
        return Err(attempt(format!(
            "{} {} not a known provider's",
            hosts.join(", "),
            if hosts.len() == 1 { "is" } else { "are" }
        )));
    };
    if providers::refinable(provider) {
        let name = format!("_autodiscover._tcp.{domain}");
        if let Ok(records) = dns.srv(&name).await
            && let Some(target) = records.first().map(|r| r.target.as_str())
            && let Some(offer) = providers::by_autodiscover(target)
        {
            return Ok((
                offer.settings(Some(target)),
                format!("{host} ({}, autodiscover {target})", offer.name),
            ));
        }
    }
    Ok((
        provider.settings(None),
        format!("{host} ({})", provider.name),
    ))
}
