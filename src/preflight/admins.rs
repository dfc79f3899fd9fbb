//! Administrators checked once per server before a batch starts. A batch
//! whose accounts log in through one administrator would otherwise fail
//! every account the same way when that administrator is refused: it stops
//! instead, before any account starts, with one message.

use std::collections::HashSet;
use std::time::Duration;

use crate::plan::autodetect::Side;
use crate::plan::{Credential, EndpointKind, Plan, Server};
use crate::protocols::SessionError;
use crate::protocols::imap::{self, Auth, ImapError};
use crate::protocols::pop3::{self, Pop3Error};

/// An administrator a server refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminRefused {
    /// The administrator's own login is refused: a wrong name or password.
    #[error(
        "the {side} server {server} refused the login of administrator {admin}: {detail}. \
         Check the administrator's name and password ({password})"
    )]
    Login {
        /// `source` or `destination`.
        side: &'static str,
        /// `host:port`.
        server: String,
        /// The administrator's login name.
        admin: String,
        /// The server's own words.
        detail: String,
        /// Where the password comes from, never its value.
        password: String,
    },
    /// The administrator logs in, but may not act for the mailbox.
    #[error(
        "the {side} server {server} lets administrator {admin} log in but not act for {user}: \
         {detail}. Make it an administrator there (a Dovecot master user, a Cyrus admin, \
         `admins:` in imapd.conf)"
    )]
    ActingFor {
        /// `source` or `destination`.
        side: &'static str,
        /// `host:port`.
        server: String,
        /// The administrator's login name.
        admin: String,
        /// The mailbox it was to act for.
        user: String,
        /// The server's own words.
        detail: String,
    },
}

/// Logs in once through each administrator of the plan, on each server it
/// is used for, acting for the first account that uses it; when that is
/// refused, once more as the administrator itself, to tell a wrong
/// password from missing rights. Only a refused login is an error here: a
/// server that cannot be reached, or a secret that cannot be read, is left
/// to the accounts to report.
pub async fn check(plan: &Plan, timeout: Duration) -> Result<(), AdminRefused> {
    let mut seen = HashSet::new();
    for account in &plan.accounts {
        for (side, endpoint) in [
            (Side::Source, &account.source),
            (Side::Destination, &account.destination),
        ] {
            let (Credential::Admin(admin), Some(server)) = (&endpoint.credential, &endpoint.server)
            else {
                continue;
            };
            if !seen.insert((server.to_string(), endpoint.kind.name(), admin.user.clone())) {
                continue;
            }
            let Ok((user, auth)) = endpoint.credential.login(&endpoint.user).await else {
                continue;
            };
            let password = match &auth {
                Auth::Proxy { password, .. } | Auth::Password(password) => password.clone(),
                Auth::XOAuth2 { .. } => continue,
            };
            let Err(Some(detail)) = login(endpoint.kind, server, user, auth, timeout).await else {
                continue;
            };
            let own = Auth::Password(password);
            let detail = detail.trim_end_matches('.').to_owned();
            let (side, at) = (side.name(), server.to_string());
            let admin_only = login(endpoint.kind, server, admin.user.clone(), own, timeout).await;
            return Err(match admin_only {
                Ok(()) => AdminRefused::ActingFor {
                    side,
                    server: at,
                    admin: admin.user.clone(),
                    user: endpoint.user.clone(),
                    detail,
                },
                Err(_) => AdminRefused::Login {
                    side,
                    server: at,
                    admin: admin.user.clone(),
                    detail,
                    password: admin.password.to_string(),
                },
            });
        }
    }
    Ok(())
}

/// One login and logout: `Err(Some(words))` when the server refuses the
/// login, `Err(None)` when it fails otherwise.
async fn login(
    kind: EndpointKind,
    server: &Server,
    user: String,
    auth: Auth,
    timeout: Duration,
) -> Result<(), Option<String>> {
    match kind {
        EndpointKind::Pop3 => {
            match pop3::Session::connect(&server.session(user, auth, timeout)).await {
                Ok(session) => session.quit().await.map_err(|_| None),
                Err(Pop3Error::Session(SessionError::Auth { detail, .. })) => Err(Some(detail)),
                Err(_) => Err(None),
            }
        }
        _ => match imap::Session::connect(&server.session(&user, auth, timeout)).await {
            Ok(session) => session.logout().await.map_err(|_| None),
            Err(ImapError::Session(SessionError::Auth { detail, .. })) => Err(Some(detail)),
            Err(_) => Err(None),
        },
    }
}
