//! OAuth2 service accounts: an application that obtains every mailbox's
//! access token itself (Google Workspace domain-wide delegation, Microsoft
//! 365 app-only access), so no user hands over a password or a token.
//!
//! These types say where the key or secret is, never what it is: they are
//! safe to print, serialize into a plan or an undo manifest, and compare.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A service account, as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "service", rename_all = "snake_case")]
pub enum ServiceAccount {
    /// A Google service account with domain-wide delegation: a signed JWT
    /// assertion (RFC 7523) per mailbox, exchanged for that mailbox's token.
    Google(GoogleServiceAccount),
    /// A Microsoft Entra application with app-only access: one token from
    /// the client credentials grant for every mailbox of the tenant.
    Microsoft(MicrosoftApp),
}

/// Where a Google service account's key is, and whom it acts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GoogleServiceAccount {
    /// The JSON key file downloaded from the Cloud console (`private_key`,
    /// `client_email`, `token_uri`).
    pub key_file: PathBuf,
    /// The mailbox the token acts for; `None`: the account's own user.
    pub subject: Option<String>,
    /// Where to exchange the assertion, instead of the key file's
    /// `token_uri` (the assertion's audience stays `token_uri`).
    pub token_url: Option<String>,
}

/// A Microsoft Entra application and its credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MicrosoftApp {
    /// The directory (tenant) ID or one of its domain names.
    pub tenant: String,
    /// The application (client) ID.
    pub client_id: String,
    /// How the application proves who it is.
    pub secret: ClientSecret,
    /// Where to ask for the token, instead of
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    pub token_url: Option<String>,
}

/// How a Microsoft application authenticates to its token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientSecret {
    /// A client secret read from an environment variable.
    Env(String),
    /// A client secret read from a file (its first line).
    File(PathBuf),
    /// A PEM file holding the application's certificate and its private
    /// key: a signed client assertion (RFC 7523) instead of a secret.
    Certificate(PathBuf),
}

/// Microsoft's token endpoint for a tenant.
pub const MICROSOFT_TOKEN_URL: &str =
    "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token";

impl ServiceAccount {
    /// The URL tokens are asked for at. For Google without `token_url`
    /// this is only known once the key file is read: `None`.
    pub fn token_url(&self) -> Option<String> {
        match self {
            ServiceAccount::Google(google) => google.token_url.clone(),
            ServiceAccount::Microsoft(app) => Some(app.token_url()),
        }
    }

    /// The mailbox whose token opens `user`'s mailbox: the Google
    /// subject, `user` by default; `None` for Microsoft, whose one
    /// application token opens every mailbox.
    pub fn subject<'a>(&'a self, user: &'a str) -> Option<&'a str> {
        match self {
            ServiceAccount::Google(google) => Some(google.subject.as_deref().unwrap_or(user)),
            ServiceAccount::Microsoft(_) => None,
        }
    }
}

impl MicrosoftApp {
    /// The URL the application's token is asked for at.
    pub fn token_url(&self) -> String {
        self.token_url
            .clone()
            .unwrap_or_else(|| MICROSOFT_TOKEN_URL.replace("{tenant}", &self.tenant))
    }
}

impl fmt::Display for ServiceAccount {
    /// The service account in words: `Google service account sa.json`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceAccount::Google(google) => {
                write!(f, "Google service account {}", google.key_file.display())?;
                if let Some(subject) = &google.subject {
                    write!(f, " acting as {subject}")?;
                }
                Ok(())
            }
            ServiceAccount::Microsoft(app) => {
                write!(
                    f,
                    "Microsoft application {} of tenant {} with ",
                    app.client_id, app.tenant
                )?;
                match &app.secret {
                    ClientSecret::Env(var) => write!(f, "a client secret from ${var}"),
                    ClientSecret::File(path) => {
                        write!(f, "a client secret from {}", path.display())
                    }
                    ClientSecret::Certificate(path) => {
                        write!(f, "the certificate {}", path.display())
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_token_url_names_the_tenant_unless_overridden() {
        let mut app = MicrosoftApp {
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "app".into(),
            secret: ClientSecret::Env("SECRET".into()),
            token_url: None,
        };
        assert_eq!(
            ServiceAccount::Microsoft(app.clone()).token_url().unwrap(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        app.token_url = Some("http://127.0.0.1:9/token".into());
        let account = ServiceAccount::Microsoft(app);
        assert_eq!(account.token_url().unwrap(), "http://127.0.0.1:9/token");
        assert_eq!(account.subject("alice"), None);
        let google = ServiceAccount::Google(GoogleServiceAccount {
            key_file: "sa.json".into(),
            subject: None,
            token_url: None,
        });
        assert_eq!(google.subject("alice"), Some("alice"));
    }
}
