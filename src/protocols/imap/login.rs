//! From the shared vocabulary to an IMAP login: the login name and
//! [`Auth`] a [`Credential`] gives.

use super::Auth;
use crate::protocols::oauth2;
use crate::vocabulary::{AdminStyle, Credential, CredentialError, TokenSource};

impl Credential {
    /// The login name and credential that open `user`'s mailbox: the
    /// user's own password or OAuth2 token, or an administrator's login
    /// acting for the user. Reads the secret off the async runtime's
    /// threads.
    pub async fn login(&self, user: &str) -> Result<(String, Auth), CredentialError> {
        if let Credential::OAuth2(TokenSource::Service(account)) = self {
            let token = oauth2::access_token(account, user).await?;
            let token = token.expose().to_owned();
            return Ok((user.to_owned(), Auth::XOAuth2 { token }));
        }
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

    /// After a server refused `auth` for `user`: whether logging in again
    /// may succeed, because the refused token was a service account's
    /// (cached, so possibly revoked or expired early) and is now
    /// forgotten. Anything else would be refused again.
    pub async fn refused(&self, user: &str, auth: &Auth) -> bool {
        let (Credential::OAuth2(TokenSource::Service(account)), Auth::XOAuth2 { token }) =
            (self, auth)
        else {
            return false;
        };
        oauth2::forget(account, user, token).await;
        true
    }
}
