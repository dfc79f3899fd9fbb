//! The WebDAV side of preflight, for accounts with `calendars`, `tasks`,
//! `contacts` or `contact_groups`: each end's CalDAV or CardDAV home is
//! found exactly as the run finds it ([`crate::stages::dav::client`]:
//! `dav_url`, else RFC 6764 discovery), its collections are listed and
//! their resources counted. Only PROPFIND is sent: whether a destination
//! accepts MKCALENDAR or a PUT cannot be known without writing, so it is
//! not tried. A file source (`.ics`, `.vcf`, PST) is read and converted
//! as the run reads it ([`FileCache::read`]).

use std::path::Path;

use serde::{Serialize, Serializer};

use super::{AccountReport, Status, side_of};
use crate::plan::autodetect::Side;
use crate::plan::{AccountPlan, CredentialError, Endpoint, EndpointKind, StageKind};
use crate::protocols::dav::discovery::{DiscoveryError, Service};
use crate::protocols::dav::{Collection, DavClient, DavError};
use crate::protocols::http::Url;
use crate::stages::context::limits::Shared;
use crate::stages::files::FileCache;

/// What one CalDAV or CardDAV side of an endpoint said.
#[derive(Debug, Clone, Serialize)]
pub struct DavReport {
    /// `caldav` or `carddav`.
    #[serde(serialize_with = "service_name")]
    pub service: Service,
    /// How the service answered.
    pub status: Status,
    /// The home collection's URL, or the file read, once known.
    pub home: Option<String>,
    /// Calendars or address books under the home (a file is one).
    pub collections: usize,
    /// Resources (calendar objects, vCards) in those collections.
    pub items: u64,
    /// What went wrong and what to check.
    pub message: Option<String>,
}

fn service_name<S: Serializer>(service: &Service, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(match service {
        Service::CalDav => "caldav",
        Service::CardDav => "carddav",
    })
}

/// One service of one end: what a check asks and its messages name.
#[derive(Clone, Copy)]
struct Asked<'a> {
    endpoint: &'a Endpoint,
    side: Side,
    service: Service,
}

/// A failure: the status and the words for it.
type Failure = (Status, String);

/// The WebDAV services an account's options use, CalDAV first.
pub fn services(stages: &[StageKind]) -> Vec<Service> {
    let wants = |kinds: &[StageKind]| stages.iter().any(|s| kinds.contains(s));
    let mut services = Vec::new();
    if wants(&[StageKind::Calendars, StageKind::Tasks]) {
        services.push(Service::CalDav);
    }
    if wants(&[StageKind::Contacts, StageKind::ContactGroups]) {
        services.push(Service::CardDav);
    }
    services
}

/// Checks the WebDAV side of both ends of `account` (the destination
/// first, as for mail), one connection at a time, into `report`. An end
/// whose credential cannot be read is left out: its mail check said so.
pub async fn check_account(account: &AccountPlan, report: &mut AccountReport, limits: &Shared) {
    let services = services(&account.stages);
    for (side, endpoint) in [
        (Side::Destination, &account.destination),
        (Side::Source, &account.source),
    ] {
        for &service in &services {
            if side_of(report, side).status == Status::CredentialError {
                continue;
            }
            let asked = Asked {
                endpoint,
                side,
                service,
            };
            let checked = check(asked, limits).await;
            side_of(report, side).dav.push(checked);
        }
    }
}

/// Checks one service of one endpoint.
async fn check(asked: Asked<'_>, limits: &Shared) -> DavReport {
    let Asked {
        endpoint, service, ..
    } = asked;
    let mut report = DavReport {
        service,
        status: Status::Ok,
        home: None,
        collections: 0,
        items: 0,
        message: None,
    };
    let result = match &endpoint.path {
        Some(path) => read_file(path, endpoint.kind, service, &mut report).await,
        None => list_home(asked, limits, &mut report).await,
    };
    if let Err((status, message)) = result {
        report.status = status;
        report.message = Some(message);
    }
    report
}

/// Reads and splits a source file as the run will.
async fn read_file(
    path: &Path,
    kind: EndpointKind,
    service: Service,
    report: &mut DavReport,
) -> Result<(), Failure> {
    report.home = Some(path.display().to_string());
    let file = FileCache::default()
        .read(path, kind, service)
        .await
        .map_err(|e| {
            (
                Status::ProtocolError,
                format!("the source file cannot be imported: {e}"),
            )
        })?;
    report.collections = file.collections().len();
    report.items = file.items(None).len() as u64;
    Ok(())
}

/// Finds the home, lists its collections and counts their resources,
/// holding one connection slot on the host asked.
async fn list_home(
    asked: Asked<'_>,
    limits: &Shared,
    report: &mut DavReport,
) -> Result<(), Failure> {
    let Asked {
        endpoint, service, ..
    } = asked;
    let first_host = endpoint
        .dav_url
        .as_deref()
        .and_then(|url| Url::parse(url).ok())
        .map(|url| url.host)
        .or_else(|| endpoint.server.as_ref().map(|s| s.host.clone()))
        .unwrap_or_default();
    let client = {
        let _slot = limits.connections(&[&first_host]).await;
        match crate::stages::dav::client(endpoint, service).await {
            Ok(client) => client,
            Err(error) => {
                return Err(home_not_found(&error, asked).await);
            }
        }
    };
    report.home = Some(client.url());
    let _slot = limits.connections(&[client.host()]).await;
    match count(&client, service).await {
        Ok((collections, items)) => {
            report.collections = collections;
            report.items = items;
            Ok(())
        }
        Err(error) => Err(explain(&error, asked).await),
    }
}

/// The collections under the home and the resources in them.
async fn count(client: &DavClient, service: Service) -> Result<(usize, u64), DavError> {
    let collections: Vec<Collection> = match service {
        Service::CalDav => client.calendars().await?,
        Service::CardDav => client.address_books().await?,
    };
    let mut items = 0;
    for collection in &collections {
        items += client.items(&collection.href).await?.len() as u64;
    }
    Ok((collections.len(), items))
}

/// Why the home could not be found, in words naming the server and what
/// was tried.
async fn home_not_found(error: &anyhow::Error, asked: Asked<'_>) -> Failure {
    let Asked {
        endpoint, service, ..
    } = asked;
    let name = asked.side.name();
    if let Some(why) = error.downcast_ref::<CredentialError>() {
        return (
            Status::CredentialError,
            format!("the {name} {service} credential cannot be read: {why}"),
        );
    }
    match error.downcast_ref::<DiscoveryError>() {
        Some(DiscoveryError::Dav(dav)) => explain(dav, asked).await,
        Some(DiscoveryError::NotFound { tried, .. }) => match &endpoint.dav_url {
            Some(url) => (
                Status::CapabilityMissing,
                format!(
                    "no {service} home collection found at the {name} dav_url {url}: \
                     tried {tried}. Check dav_url"
                ),
            ),
            None => (
                Status::CapabilityMissing,
                format!(
                    "no {service} server found for the {name} {}: tried {tried}. Give its \
                     dav_url in the manifest",
                    endpoint.email
                ),
            ),
        },
        None => (
            Status::ProtocolError,
            format!("the {name} {service} home collection cannot be found: {error:#}"),
        ),
    }
}

/// A WebDAV error in words: what happened, on which server, and what to
/// check.
async fn explain(error: &DavError, asked: Asked<'_>) -> Failure {
    let Asked {
        endpoint, service, ..
    } = asked;
    let name = asked.side.name();
    match error {
        DavError::Auth {
            server,
            user,
            status,
        } => (
            Status::AuthFailed,
            format!(
                "the {name} {service} server {server} refused the login of {user} \
                 (HTTP {status}). Check the password ({}) and the login name (`user`)",
                endpoint.credential
            ),
        ),
        DavError::Connect { server, reason } => (
            Status::Unreachable,
            format!(
                "cannot reach the {name} {service} server {server}: {reason}. Check dav_url \
                 (host and port) and that this machine may connect to it"
            ),
        ),
        DavError::Tls { server, reason } => (
            Status::TlsError,
            format!(
                "TLS with the {name} {service} server {server} failed: {reason}. Check that \
                 dav_url says https only for a TLS port, and `accept_invalid_certs` for a \
                 self-signed certificate"
            ),
        ),
        DavError::Timeout { server, after } => (
            Status::Unreachable,
            format!(
                "the {name} {service} server {server} did not answer within {} s. Check \
                 dav_url and any firewall in between",
                after.as_secs()
            ),
        ),
        other => (
            Status::ProtocolError,
            format!("the {name} {service} server failed: {other}. Check dav_url"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_webdav_option_asks_for_its_service_once() {
        use StageKind::*;
        assert!(services(&[Mail, Rules]).is_empty());
        assert_eq!(services(&[Tasks]), [Service::CalDav]);
        assert_eq!(services(&[ContactGroups, Mail]), [Service::CardDav]);
        assert_eq!(
            services(&[Contacts, Calendars, Tasks, ContactGroups]),
            [Service::CalDav, Service::CardDav]
        );
    }
}
