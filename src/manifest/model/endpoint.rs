//! How a manifest writes a source or destination: the server (or file),
//! the identity, the credential (a password, an OAuth2 token or service
//! account, an administrator acting for the user) and the groupware
//! services, and how an account's endpoint inherits from the defaults'.

use schemars::JsonSchema;
use serde::Deserialize;

use super::*;

/// A source or destination: a server (or file) and how to log in there.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// Default: with a `path`, `ics` or `vcf` from its extension, else
    /// `pst`; without one, `imap`.
    pub kind: Option<Kind>,
    /// The server's host name or IP address.
    pub host: Option<String>,
    /// Default: 993 (IMAP) or 995 (POP3) with implicit TLS, else 143 or 110.
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// `implicit` (TLS from the first byte), `starttls` or `none`.
    /// Default: `implicit`.
    pub tls: Option<TlsMode>,
    /// Accept a self-signed or otherwise invalid certificate. Default: false.
    pub accept_invalid_certs: Option<bool>,
    /// The mailbox's address. Default: `user`, when that is an address.
    pub email: Option<String>,
    /// The login name. Default: `email`.
    pub user: Option<String>,
    /// The password itself. Prefer `password_env` or `password_file`.
    pub password: Option<Secret>,
    /// The name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// A file whose first line is the password, relative to the manifest.
    pub password_file: Option<String>,
    /// An OAuth2 bearer token for XOAUTH2, instead of a password.
    pub oauth2: Option<OAuth2Spec>,
    /// An administrator who logs in for the mailbox, instead of the
    /// mailbox's own password (IMAP, POP3 and ManageSieve).
    pub admin: Option<AdminSpec>,
    /// The file to read, for a `pst`, `ics` or `vcf` source; relative to
    /// the manifest.
    pub path: Option<String>,
    /// The CalDAV/CardDAV base URL of a `groupware` endpoint.
    pub dav_url: Option<String>,
    /// The ManageSieve server of a `groupware` endpoint. Default: `host`,
    /// port 4190, STARTTLS.
    pub sieve: Option<SieveSpec>,
}

/// Where an OAuth2 bearer token comes from: a token given (exactly one of
/// `token_env`, `token_file` and `token_command`) or a service account
/// that asks for each mailbox's token (`service` and its fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Spec {
    /// The name of an environment variable holding the token.
    pub token_env: Option<String>,
    /// A file holding the token, relative to the manifest.
    pub token_file: Option<String>,
    /// A shell command that prints the token on its standard output.
    pub token_command: Option<String>,
    /// `google` (a service account with domain-wide delegation) or
    /// `microsoft` (an application with app-only access to Exchange
    /// Online): mailshift asks for the tokens itself.
    pub service: Option<OAuth2Service>,
    /// Google: the service account's JSON key file, relative to the
    /// manifest.
    pub key_file: Option<String>,
    /// Google: the mailbox the token acts for. Default: the account's user.
    pub subject: Option<String>,
    /// Microsoft: the directory (tenant) ID or one of its domains.
    pub tenant: Option<String>,
    /// Microsoft: the application (client) ID.
    pub client_id: Option<String>,
    /// Microsoft: the name of an environment variable holding the client
    /// secret.
    pub client_secret_env: Option<String>,
    /// Microsoft: a file whose first line is the client secret, relative
    /// to the manifest.
    pub client_secret_file: Option<String>,
    /// Microsoft: a PEM file with the application's certificate and its
    /// private key, relative to the manifest, instead of a client secret.
    pub certificate_file: Option<String>,
    /// The token endpoint, instead of the key file's `token_uri` (Google)
    /// or `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`
    /// (Microsoft): sovereign clouds, proxies, tests.
    pub token_url: Option<String>,
}

/// The OAuth2 services whose service accounts mailshift speaks for.
pub const OAUTH2_SERVICES: [(&str, OAuth2Service); 2] = [
    ("google", OAuth2Service::Google),
    ("microsoft", OAuth2Service::Microsoft),
];

/// An OAuth2 service with service accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuth2Service {
    /// Google Workspace: a service account with domain-wide delegation
    /// for the scope `https://mail.google.com/`.
    Google,
    /// Microsoft 365: an Entra application with IMAP.AccessAsApp (or
    /// POP.AccessAsApp) and a mailbox permission in Exchange Online.
    Microsoft,
}

/// An administrator's login: the user, one of the password forms, and how
/// the server learns which mailbox it acts for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminSpec {
    /// The administrator's login name.
    pub user: Option<String>,
    /// The administrator's password itself. Prefer `password_env` or
    /// `password_file`.
    pub password: Option<Secret>,
    /// The name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// A file whose first line is the password, relative to the manifest.
    pub password_file: Option<String>,
    /// `authzid` (SASL PLAIN naming the mailbox, RFC 4616) or `separator`
    /// (`mailbox*admin` as the login name). Default: `authzid`.
    pub style: Option<AdminStyleSpec>,
    /// Between the mailbox and the administrator in the login name, with
    /// `style: separator`. Default: `*`.
    pub separator: Option<String>,
}

/// The names of the administrator login styles, as written in a manifest.
pub const ADMIN_STYLES: [(&str, AdminStyleSpec); 2] = [
    ("authzid", AdminStyleSpec::Authzid),
    ("separator", AdminStyleSpec::Separator),
];

/// How an administrator names the mailbox it acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminStyleSpec {
    /// SASL PLAIN with the mailbox as authorization identity.
    Authzid,
    /// `mailbox<separator>admin` as the login name.
    Separator,
}

/// A ManageSieve server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SieveSpec {
    /// Default: the endpoint's host.
    pub host: Option<String>,
    /// Default: 4190.
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// Default: `starttls`.
    pub tls: Option<TlsMode>,
}

impl EndpointSpec {
    /// Whether this endpoint inherits from `base` at all: not when both
    /// name a kind and the kinds differ (a PST source does not want the
    /// IMAP host of the defaults).
    pub fn inherits_from(&self, base: &EndpointSpec) -> bool {
        !matches!((self.kind, base.kind), (Some(a), Some(b)) if a != b)
    }

    /// Whether any credential field is set.
    pub fn has_credential(&self) -> bool {
        self.password.is_some()
            || self.password_env.is_some()
            || self.password_file.is_some()
            || self.oauth2.is_some()
            || self.admin.is_some()
    }

    /// This endpoint with `base` filled in under it, field by field, except
    /// that credentials (`password`, `password_env`, `password_file`,
    /// `oauth2`, `admin`) come as a group from whichever side sets any of them, and
    /// nothing is inherited across different kinds.
    pub fn merged_over(&self, base: &EndpointSpec) -> EndpointSpec {
        if !self.inherits_from(base) {
            return self.clone();
        }
        let creds = if self.has_credential() { self } else { base };
        EndpointSpec {
            kind: self.kind.or(base.kind),
            host: self.host.clone().or_else(|| base.host.clone()),
            port: self.port.or(base.port),
            tls: self.tls.or(base.tls),
            accept_invalid_certs: self.accept_invalid_certs.or(base.accept_invalid_certs),
            email: self.email.clone().or_else(|| base.email.clone()),
            user: self.user.clone().or_else(|| base.user.clone()),
            password: creds.password.clone(),
            password_env: creds.password_env.clone(),
            password_file: creds.password_file.clone(),
            oauth2: creds.oauth2.clone(),
            admin: creds.admin.clone(),
            path: self.path.clone().or_else(|| base.path.clone()),
            dav_url: self.dav_url.clone().or_else(|| base.dav_url.clone()),
            sieve: match (&self.sieve, &base.sieve) {
                (Some(own), Some(base)) => Some(SieveSpec {
                    host: own.host.clone().or_else(|| base.host.clone()),
                    port: own.port.or(base.port),
                    tls: own.tls.or(base.tls),
                }),
                (own, base) => own.clone().or_else(|| base.clone()),
            },
        }
    }
}
