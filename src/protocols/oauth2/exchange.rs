//! The token request (RFC 6749 §4.4, RFC 7523 §2.1): a form POSTed to the
//! token endpoint, answered by `{"access_token", "expires_in", ...}` or by
//! `{"error", "error_description"}`.

use std::time::Duration;

use serde::Deserialize;

use super::Granted;
use crate::protocols::http::{self, Url};
use crate::vocabulary::{CredentialError, Secret};

/// How long the token endpoint may take to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The longest error description repeated in a message.
const MAX_DESCRIPTION: usize = 300;

/// Lifetime assumed when an answer gives no `expires_in` (RFC 6749 makes
/// it optional; both services send it).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Secret,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    error_description: Option<String>,
}

/// POSTs `form` to `url` and reads the token it grants.
pub async fn request(url: &str, form: &[(&str, &str)]) -> Result<Granted, CredentialError> {
    let failed = |reason: String, retryable: bool| CredentialError::TokenEndpoint {
        url: url.to_owned(),
        reason,
        retryable,
    };
    let parsed = Url::parse(url).map_err(|e| failed(format!("is not usable: {e}"), false))?;
    let answer = http::post_form(&parsed, form, TIMEOUT)
        .await
        .map_err(|e| failed(format!("could not be asked for a token: {e}"), true))?;
    if answer.status == 200 {
        let granted: TokenAnswer = serde_json::from_slice(&answer.body)
            .map_err(|e| failed(format!("answered without an access token ({e})"), false))?;
        if granted.access_token.expose().is_empty() {
            return Err(failed("granted an empty access token".to_owned(), false));
        }
        return Ok(Granted {
            token: granted.access_token,
            lifetime: granted
                .expires_in
                .map_or(DEFAULT_LIFETIME, Duration::from_secs),
        });
    }
    // 429 and 5xx pass; a refusal (400 invalid_grant, 401 invalid_client)
    // stays until the key or the delegation is fixed.
    let retryable = answer.status == 429 || answer.status >= 500;
    let reason = match serde_json::from_slice::<ErrorAnswer>(&answer.body) {
        Ok(ErrorAnswer {
            error,
            error_description,
        }) => {
            let mut reason = format!("refused the request (HTTP {}): {error}", answer.status);
            if let Some(description) = error_description {
                let description: String = description.chars().take(MAX_DESCRIPTION).collect();
                let first_line = description.lines().next().unwrap_or_default();
                reason.push_str(&format!(": {first_line}"));
            }
            reason
        }
        Err(_) => format!("answered HTTP {}", answer.status),
    };
    Err(failed(reason, retryable))
}
