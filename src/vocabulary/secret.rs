//! A secret value (a password or a bearer token) that never prints itself.

use std::fmt;

use serde::Deserialize;

pub(super) const REDACTED: &str = "<redacted>";

/// A secret value: a password or a bearer token. `Debug` and `Display`
/// print `<redacted>`; only [`Secret::expose`] gives the value, at the
/// moment it is sent to a server.
#[derive(Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Never log or print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}
