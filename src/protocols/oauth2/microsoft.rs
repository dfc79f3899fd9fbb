//! Microsoft 365 app-only access: the client credentials grant for
//! Exchange Online, with a client secret or a certificate's client
//! assertion (RFC 7523 §2.2, the certificate's SHA-1 thumbprint as `x5t`).
//! The token it grants opens every mailbox the application was given.

use std::path::Path;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;

use super::{Granted, blocking, exchange, key_error, read_key_file, sign, unix_now};
use crate::vocabulary::{ClientSecret, Credential, CredentialError, MicrosoftApp, Secret};

/// Exchange Online's IMAP and POP3, with the permissions the application
/// was granted (IMAP.AccessAsApp, POP.AccessAsApp).
pub const SCOPE: &str = "https://outlook.office365.com/.default";

/// The client assertion type of RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a client assertion is valid.
const ASSERTION_LIFETIME: u64 = 600;

/// Certificate files larger than this are not certificate files.
const MAX_CERTIFICATE_FILE: u64 = 256 * 1024;

/// The client assertion's claims (Microsoft identity platform
/// "certificate credentials").
#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// Asks for the application's token.
pub async fn token(app: &MicrosoftApp) -> Result<Granted, CredentialError> {
    let url = app.token_url();
    let credential = match &app.secret {
        ClientSecret::Env(var) => ("client_secret", read(Credential::PasswordEnv(var.clone()))),
        ClientSecret::File(path) => (
            "client_secret",
            read(Credential::PasswordFile(path.clone())),
        ),
        ClientSecret::Certificate(path) => {
            let (path, client_id, audience) = (path.clone(), app.client_id.clone(), url.clone());
            let assertion =
                blocking(move || client_assertion(&path, &client_id, &audience, unix_now()));
            ("client_assertion", assertion.await)
        }
    };
    let (field, secret) = (credential.0, credential.1?);
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", app.client_id.as_str()),
        ("scope", SCOPE),
        (field, secret.expose()),
    ];
    if field == "client_assertion" {
        form.push(("client_assertion_type", ASSERTION_TYPE));
    }
    exchange::request(&url, &form).await
}

/// A client secret from where the manifest said it is.
fn read(source: Credential) -> Result<Secret, CredentialError> {
    source.resolve()?.ok_or(CredentialError::Missing)
}

/// The client assertion signed with the certificate file's private key,
/// for `audience` (the token endpoint), issued at `now`.
pub fn client_assertion(
    path: &Path,
    client_id: &str,
    audience: &str,
    now: u64,
) -> Result<Secret, CredentialError> {
    let bad = |reason: String| key_error(path, reason);
    let text = read_key_file(path, MAX_CERTIFICATE_FILE)?;
    let blocks = pem::parse_many(&text).map_err(|e| bad(format!("is not PEM ({e})")))?;
    let certificate = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .ok_or_else(|| bad("holds no CERTIFICATE".to_owned()))?;
    let key = blocks
        .iter()
        .find(|b| b.tag() == "PRIVATE KEY" || b.tag() == "RSA PRIVATE KEY")
        .ok_or_else(|| bad("holds no PRIVATE KEY".to_owned()))?;
    let thumbprint = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        certificate.contents(),
    );
    let mut header = Header::new(Algorithm::RS256);
    header.x5t = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(thumbprint));
    let claims = Claims {
        aud: audience,
        iss: client_id,
        sub: client_id,
        jti: format!("{:032x}", rand::random::<u128>()),
        nbf: now,
        iat: now,
        exp: now + ASSERTION_LIFETIME,
    };
    sign(path, &pem::encode(key), &header, &claims)
}
