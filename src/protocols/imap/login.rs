//! From the shared vocabulary to an IMAP login: the [`Auth`] a
//! [`Credential`] gives, the [`ImapConfig`] for a [`Server`].

use std::time::Duration;

use super::{Auth, ImapConfig};
use crate::vocabulary::{Credential, CredentialError, Server};

impl Credential {
    /// The IMAP login this credential gives: a password, or an OAuth2
    /// token for XOAUTH2. Reads it off the async runtime's threads.
    pub async fn imap_auth(&self) -> Result<Auth, CredentialError> {
        let credential = self.clone();
        let secret = tokio::task::spawn_blocking(move || credential.resolve())
            .await
            .map_err(|_| CredentialError::Missing)??
            .ok_or(CredentialError::Missing)?;
        let value = secret.expose().to_owned();
        Ok(match self {
            Credential::OAuth2(_) => Auth::XOAuth2 { token: value },
            _ => Auth::Password(value),
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
