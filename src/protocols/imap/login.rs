//! From the shared vocabulary to an IMAP login: the login name and
//! [`Auth`] a [`Credential`] gives, the [`ImapConfig`] for a [`Server`].

use std::time::Duration;

use super::{Auth, ImapConfig};
use crate::vocabulary::{AdminStyle, Credential, CredentialError, Server};

impl Credential {
    /// The login name and credential that open `user`'s mailbox: the
    /// user's own password or OAuth2 token, or an administrator's login
    /// acting for the user. Reads the secret off the async runtime's
    /// threads.
    pub async fn login(&self, user: &str) -> Result<(String, Auth), CredentialError> {
        let credential = self.clone();
        let secret = tokio::task::spawn_blocking(move || credential.resolve())
            .await
            .map_err(|_| CredentialError::Missing)??
            .ok_or(CredentialError::Missing)?;
        let value = secret.expose().to_owned();
        Ok(match self {
            Credential::OAuth2(_) => (user.to_owned(), Auth::XOAuth2 { token: value }),
            Credential::Admin(admin) => match &admin.style {
                AdminStyle::Authzid => (
                    user.to_owned(),
                    Auth::Proxy {
                        admin: admin.user.clone(),
                        password: value,
                    },
                ),
                AdminStyle::Separator(separator) => (
                    format!("{user}{separator}{}", admin.user),
                    Auth::Password(value),
                ),
            },
            _ => (user.to_owned(), Auth::Password(value)),
        })
    }
}

impl Server {
    /// How to log in to this server over IMAP.
    pub fn imap(&self, user: &str, auth: Auth, timeout: Duration) -> ImapConfig {
        ImapConfig {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            accept_invalid_certs: self.accept_invalid_certs,
            user: user.to_owned(),
            auth,
            timeout,
        }
    }
}
