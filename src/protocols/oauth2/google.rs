//! Google Workspace domain-wide delegation: the service account signs a
//! JWT assertion naming the mailbox (`sub`) and the scope, and exchanges
//! it at the token URI for the mailbox's access token.

use std::path::Path;

use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use super::{Granted, blocking, exchange, key_error, read_key_file, sign, unix_now};
use crate::vocabulary::{CredentialError, GoogleServiceAccount, Secret};

/// Full IMAP (and POP3) access to the mailbox.
pub const SCOPE: &str = "https://mail.google.com/";

/// The grant of RFC 7523 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Where Google's key files send assertions when they name no
/// `token_uri`.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// How long an assertion is valid: Google takes at most an hour.
const ASSERTION_LIFETIME: u64 = 3600;

/// Key files larger than this are not key files.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The fields of a service account's JSON key file that signing needs.
#[derive(Deserialize)]
pub struct KeyFile {
    /// The RSA private key, PEM (PKCS#8).
    pub private_key: Secret,
    /// The key's ID, sent as the JWT's `kid`.
    pub private_key_id: Option<String>,
    /// The service account's address: the assertion's issuer.
    pub client_email: String,
    /// The token endpoint and the assertion's audience.
    pub token_uri: Option<String>,
}

/// The assertion's claims (Google's "Preparing to make an authorized API
/// call", RFC 7523 §3).
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

/// Asks for the token that opens `user`'s mailbox (or the subject's).
pub async fn token(account: &GoogleServiceAccount, user: &str) -> Result<Granted, CredentialError> {
    let subject = account.subject.clone().unwrap_or_else(|| user.to_owned());
    let path = account.key_file.clone();
    let (assertion, token_uri) = blocking(move || {
        let key = read_key(&path)?;
        let token_uri = key
            .token_uri
            .clone()
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
        let assertion = assertion(&key, &path, &subject, &token_uri, unix_now())?;
        Ok((assertion, token_uri))
    })
    .await?;
    let url = account.token_url.as_deref().unwrap_or(&token_uri);
    exchange::request(
        url,
        &[
            ("grant_type", GRANT_TYPE),
            ("assertion", assertion.expose()),
        ],
    )
    .await
}

/// Reads a JSON key file.
pub fn read_key(path: &Path) -> Result<KeyFile, CredentialError> {
    let text = read_key_file(path, MAX_KEY_FILE)?;
    // serde_json's messages name a place, never the value found there.
    serde_json::from_str(&text).map_err(|e| {
        key_error(
            path,
            format!("is not a service account key file (private_key and client_email): {e}"),
        )
    })
}

/// The signed assertion for `subject`, issued at `now`.
pub fn assertion(
    key: &KeyFile,
    path: &Path,
    subject: &str,
    audience: &str,
    now: u64,
) -> Result<Secret, CredentialError> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = key.private_key_id.clone();
    let claims = Claims {
        iss: &key.client_email,
        sub: subject,
        scope: SCOPE,
        aud: audience,
        iat: now,
        exp: now + ASSERTION_LIFETIME,
    };
    sign(path, key.private_key.expose(), &header, &claims)
}
