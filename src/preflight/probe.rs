//! What preflight does on one endpoint: log in, read what it needs, log
//! out; and how a failure is put into words an admin can act on.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{EndpointReport, Status};
use crate::plan::autodetect::Side;
use crate::plan::{Endpoint, MailRules, Server};
use crate::protocols::SessionError;
use crate::protocols::imap::{ImapError, Session};
use crate::protocols::pst::{PstError, PstReader};
use crate::protocols::tls::{self, ConnectError, TlsMode};
use crate::stages::context::limits::{Permits, Shared};
use crate::stages::mail::folders::{self, Naming};

use super::estimate::ASSUMED_MESSAGE_BYTES;

/// The volume to migrate from a source, from STATUS (and message sizes
/// when the destination has a size limit).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Volume {
    /// Folders the mail rules let through (selectable ones).
    pub folders: usize,
    /// Folders holding at least one message.
    pub non_empty_folders: usize,
    /// Messages in those folders.
    pub messages: u64,
    /// Their size in bytes.
    pub bytes: u64,
    /// `bytes` is `messages` × an assumed size: the server does not offer
    /// `STATUS=SIZE` and sizes were not fetched.
    pub bytes_estimated: bool,
    /// The largest message, when sizes were read.
    pub largest_message: Option<u64>,
    /// Messages larger than the destination's APPENDLIMIT (and not skipped
    /// by `max_message_size`), when it has one.
    pub over_destination_limit: Option<u64>,
}

/// Logs in to `endpoint` under its host's connection limit. On failure,
/// the report says why.
pub async fn login(
    endpoint: &Endpoint,
    side: Side,
    limits: &Shared,
    timeout: Duration,
) -> Result<(Session, Permits), EndpointReport> {
    let mut report = EndpointReport::of(endpoint);
    let Some(server) = endpoint.server.clone() else {
        report.status = Status::AutodetectFailed;
        return Err(report);
    };
    let (user, auth) = match endpoint.credential.login(&endpoint.user).await {
        Ok(login) => login,
        Err(why) => {
            report.status = Status::CredentialError;
            report.message = Some(format!(
                "the {} credential cannot be read: {why}",
                side.name()
            ));
            return Err(report);
        }
    };
    let slot = limits.connections(&[&server.host]).await;
    match Session::connect(&server.session(&user, auth, timeout)).await {
        Ok(session) => Ok((session, slot)),
        Err(e) => {
            let (status, message) = explain(&e, endpoint, &server, side, timeout);
            report.status = status;
            report.message = Some(message);
            Err(report)
        }
    }
}

/// A failed login in words: what happened, on which server, and what to
/// check.
fn explain(
    e: &ImapError,
    endpoint: &Endpoint,
    server: &Server,
    side: Side,
    timeout: Duration,
) -> (Status, String) {
    let name = side.name();
    let at = server.to_string();
    let tls_hint = match (server.tls, server.port) {
        (TlsMode::Implicit, 143) => " (port 143 usually wants tls: starttls)",
        (TlsMode::StartTls | TlsMode::None, 993) => " (port 993 usually wants tls: implicit)",
        _ => "",
    };
    match e {
        ImapError::Session(SessionError::Auth { user, detail, .. }) => (
            Status::AuthFailed,
            format!(
                "the {name} server {at} refused the login of {user}: {}. \
                 Check the password ({}) and the login name (`user`); some providers \
                 want an app password or OAuth2, or IMAP access enabled in the \
                 mailbox's settings",
                detail.trim_end_matches('.'),
                endpoint.credential
            ),
        ),
        ImapError::Session(SessionError::Connect(c)) => match &**c {
            ConnectError::Tcp { source, .. } => (
                Status::Unreachable,
                format!(
                    "cannot reach the {name} server {at}: {source}. Check the host name \
                     and port, and that this machine may connect to it"
                ),
            ),
            ConnectError::Timeout { .. } => (
                Status::Unreachable,
                format!(
                    "the {name} server {at} did not answer within {} s. Check the host \
                     name, the port and any firewall in between",
                    timeout.as_secs()
                ),
            ),
            ConnectError::Tls { source, .. } => (
                Status::TlsError,
                format!(
                    "TLS with the {name} server {at} failed: {source}. Check `tls`{tls_hint}, \
                     and `accept_invalid_certs` for a self-signed certificate"
                ),
            ),
            ConnectError::StartTls { detail, .. } => (
                Status::TlsError,
                format!(
                    "STARTTLS with the {name} server {at} was refused: {detail}. Try `tls: \
                     implicit` on the server's TLS port"
                ),
            ),
        },
        ImapError::Session(SessionError::Timeout { .. }) => (
            Status::Unreachable,
            format!(
                "the {name} server {at} accepted the connection but said nothing for {} s. \
                 Check the port and `tls`{tls_hint}",
                timeout.as_secs()
            ),
        ),
        ImapError::Session(SessionError::Unsupported { what, .. }) if what.contains("STARTTLS") => {
            (
                Status::TlsError,
                format!(
                    "the {name} server {at} does not offer {what}. Check `tls` \
                 (implicit on its TLS port, or none on a trusted network)"
                ),
            )
        }
        ImapError::Session(SessionError::Unsupported { what, .. }) => (
            Status::CapabilityMissing,
            format!("the {name} server {at} does not support {what}"),
        ),
        other => (
            Status::ProtocolError,
            format!(
                "the {name} server {at} failed: {other}. Check that it is an IMAP server and \
                 `tls`{tls_hint}"
            ),
        ),
    }
}

/// Opens a PST source the way the import will (header checks, password,
/// folder tree) and counts the messages of the folders the mail rules let
/// through. Sizes are not read: the file's length stands for them.
pub async fn pst_volume(path: PathBuf, rules: &MailRules) -> Result<Volume, PstError> {
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    let name = path.display().to_string();
    let tree = tokio::task::spawn_blocking(move || PstReader::open(&path)?.folders())
        .await
        .map_err(|e| PstError::Corrupt {
            path: name,
            reason: format!("the reader stopped: {e}"),
        })??;
    let (boxes, nodes) = crate::stages::pst::mailboxes(&tree);
    let naming = Naming {
        prefix: String::new(),
        delimiter: '/',
    };
    let counts: Vec<usize> = folders::map_folders(&boxes, &naming, &[], &naming, rules)
        .iter()
        .map(|m| nodes.get(&m.source).map_or(0, Vec::len))
        .collect();
    Ok(Volume {
        folders: counts.len(),
        non_empty_folders: counts.iter().filter(|n| **n > 0).count(),
        messages: counts.iter().sum::<usize>() as u64,
        bytes,
        bytes_estimated: true,
        largest_message: None,
        over_destination_limit: None,
    })
}

/// Counts what the mail rules let through on a source. Message sizes are
/// fetched (no bodies) only when `limit` is set, to compare them with it.
pub async fn volume(
    session: &mut Session,
    rules: &MailRules,
    limit: Option<u64>,
) -> Result<Volume, ImapError> {
    let boxes = session.list().await?;
    let (prefix, delimiter) = session.namespace().await?;
    let naming = Naming {
        prefix,
        delimiter: delimiter
            .or_else(|| boxes.iter().find_map(|m| m.delimiter))
            .unwrap_or('/'),
    };
    let flat = Naming {
        prefix: String::new(),
        delimiter: '/',
    };
    let mappings = folders::map_folders(&boxes, &naming, &[], &flat, rules);
    let mut volume = Volume::default();
    let status_size = session.capabilities().status_size;
    for mapping in mappings.iter().filter(|m| !m.noselect) {
        volume.folders += 1;
        let status = session.status(&mapping.source_raw).await?;
        let messages = u64::from(status.messages);
        if messages == 0 {
            continue;
        }
        volume.non_empty_folders += 1;
        volume.messages += messages;
        let Some(limit) = limit else {
            match status.size.filter(|_| status_size) {
                Some(size) => volume.bytes += size,
                None => {
                    volume.bytes += messages * ASSUMED_MESSAGE_BYTES;
                    volume.bytes_estimated = true;
                }
            }
            continue;
        };
        session.examine(&mapping.source_raw).await?;
        let metas = session.fetch_meta("1:*").await?;
        let sizes = metas.iter().map(|m| m.size);
        volume.bytes += status.size.unwrap_or_else(|| sizes.clone().sum());
        let largest = sizes.clone().max().unwrap_or(0);
        volume.largest_message = Some(volume.largest_message.unwrap_or(0).max(largest));
        let over = sizes
            .filter(|s| *s > limit && rules.max_message_size.is_none_or(|max| *s <= max))
            .count() as u64;
        *volume.over_destination_limit.get_or_insert(0) += over;
    }
    Ok(volume)
}

/// Reads a ManageSieve server's greeting: the Sieve extensions it offers
/// (lower case). Nothing is sent but LOGOUT.
pub async fn sieve_extensions(server: &Server, timeout: Duration) -> Result<Vec<String>, String> {
    let stream = tls::connect(server, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut extensions = None;
    let read = async {
        let mut line = String::new();
        for _ in 0..64 {
            line.clear();
            if reader
                .read_line(&mut line)
                .await
                .map_err(|e| e.to_string())?
                == 0
            {
                return Err("the connection closed during the greeting".to_owned());
            }
            let upper = line.trim().to_ascii_uppercase();
            if upper.starts_with("\"SIEVE\"") {
                let list = line.trim()[7..]
                    .trim()
                    .trim_matches('"')
                    .to_ascii_lowercase();
                extensions = Some(list.split_whitespace().map(str::to_owned).collect());
            } else if upper.starts_with("OK") {
                return Ok(());
            } else if upper.starts_with("NO") || upper.starts_with("BYE") {
                return Err(format!("the server refused: {}", line.trim()));
            }
        }
        Err("the greeting did not end".to_owned())
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| format!("no greeting within {} s", timeout.as_secs()))??;
    extensions.ok_or_else(|| "not a ManageSieve server (no SIEVE capability)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Credential;
    use std::sync::Arc;

    fn endpoint() -> Endpoint {
        Endpoint {
            kind: crate::plan::EndpointKind::Imap,
            email: "ann@example.test".into(),
            user: "ann".into(),
            server: Some(Server {
                host: "imap.example.test".into(),
                port: 993,
                tls: TlsMode::StartTls,
                accept_invalid_certs: false,
            }),
            path: None,
            credential: Credential::PasswordEnv("ANN_PW".into()),
            dav_url: None,
            sieve: None,
        }
    }

    #[test]
    fn wrong_credentials_name_server_user_and_what_to_check() {
        let e = endpoint();
        let error = ImapError::Session(SessionError::Auth {
            user: "ann".into(),
            server: "imap.example.test:993".into(),
            detail: "[AUTHENTICATIONFAILED] Authentication failed.".into(),
        });
        let server = e.server.clone().unwrap();
        let (status, text) = explain(&error, &e, &server, Side::Source, Duration::from_secs(5));
        assert_eq!(status, Status::AuthFailed);
        for part in ["source server imap.example.test:993", "of ann", "$ANN_PW"] {
            assert!(text.contains(part), "{text}");
        }
        let tls = ImapError::Session(SessionError::Connect(Arc::new(ConnectError::Tls {
            server: "imap.example.test:993".into(),
            source: std::io::Error::other("bad"),
        })));
        let (status, text) = explain(&tls, &e, &server, Side::Destination, Duration::from_secs(5));
        assert_eq!(status, Status::TlsError);
        assert!(
            text.contains("port 993 usually wants tls: implicit"),
            "{text}"
        );
    }
}
