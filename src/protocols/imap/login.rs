//! From the shared vocabulary to an IMAP login: the login name and
//! [`Auth`] a [`Credential`] gives.

use super::Auth;
use crate::vocabulary::{AdminStyle, Credential, CredentialError};

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
