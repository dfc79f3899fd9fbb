//! A password kept as its PBKDF2-HMAC-SHA256 hash, in a PHC-like string:
//!
//! ```text
//! $pbkdf2-sha256$i=600000$SALT$HASH
//! ```
//!
//! with the salt (16 random bytes) and the 32-byte hash in base64 without
//! padding. `mailshift hash-password` makes one; the daemon configuration
//! holds it. A hash is treated as a secret: it never prints itself.

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use ring::pbkdf2;

use super::secret::REDACTED;

/// The algorithm's name in the string.
const SCHEME: &str = "pbkdf2-sha256";
/// Iterations of a new hash (OWASP's advice for PBKDF2-HMAC-SHA256).
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// Fewer iterations than this are refused: such a hash is too cheap to
/// guess from.
pub const MIN_ITERATIONS: u32 = 1_000;
const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;

/// A password's hash with its salt and iterations.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

/// Why a string is not a password hash. Never quotes the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    /// Not `$pbkdf2-sha256$i=N$SALT$HASH`.
    #[error(
        "is not a password hash of the form $pbkdf2-sha256$i=N$SALT$HASH (make one with `mailshift hash-password`)"
    )]
    Form,
    /// The iterations are too few (or not a number).
    #[error("has fewer than {MIN_ITERATIONS} iterations")]
    Iterations,
}

impl PasswordHash {
    /// The hash of `password` with a new random salt.
    pub fn new(password: &str, iterations: u32) -> Result<PasswordHash, PasswordHashError> {
        let iterations = NonZeroU32::new(iterations)
            .filter(|i| i.get() >= MIN_ITERATIONS)
            .ok_or(PasswordHashError::Iterations)?;
        let salt = rand::random::<[u8; SALT_BYTES]>().to_vec();
        let mut hash = vec![0; HASH_BYTES];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Reads the string form.
    pub fn parse(text: &str) -> Result<PasswordHash, PasswordHashError> {
        let mut parts = text.trim().split('$');
        let (Some(""), Some(SCHEME), Some(iterations), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(PasswordHashError::Form);
        };
        let iterations = iterations
            .strip_prefix("i=")
            .ok_or(PasswordHashError::Form)?
            .parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .filter(|i| i.get() >= MIN_ITERATIONS)
            .ok_or(PasswordHashError::Iterations)?;
        let decode = |part: &str| BASE64.decode(part).map_err(|_| PasswordHashError::Form);
        let (salt, hash) = (decode(salt)?, decode(hash)?);
        if salt.len() < 8 || hash.len() < 16 {
            return Err(PasswordHashError::Form);
        }
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `password` is the one hashed. The comparison takes the same
    /// time wherever the hashes differ.
    pub fn verify(&self, password: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            self.iterations,
            &self.salt,
            password.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }

    /// The string form, for the configuration file only.
    pub fn to_phc(&self) -> String {
        format!(
            "${SCHEME}$i={}${}${}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(&self.hash)
        )
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_reads_back() {
        let hash = PasswordHash::new("correct horse", MIN_ITERATIONS).unwrap();
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsf"));
        assert!(!hash.verify(""));
        let text = hash.to_phc();
        assert!(text.starts_with("$pbkdf2-sha256$i=1000$"), "{text}");
        let back = PasswordHash::parse(&text).unwrap();
        assert_eq!(back, hash);
        assert!(back.verify("correct horse"));
        assert_eq!(format!("{back:?}"), REDACTED);
        // Two hashes of one password differ by their salts.
        assert_ne!(
            PasswordHash::new("correct horse", MIN_ITERATIONS)
                .unwrap()
                .to_phc(),
            text
        );
    }

    #[test]
    fn a_malformed_hash_is_refused_without_quoting_it() {
        for text in [
            "",
            "hunter2",
            "$pbkdf2-sha512$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$pbkdf2-sha256$1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$pbkdf2-sha256$i=1000$!!$aGFzaGhhc2hoYXNoaGFzaA",
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA$x",
        ] {
            let error = PasswordHash::parse(text).unwrap_err();
            assert_eq!(error, PasswordHashError::Form, "{text}");
        }
        assert_eq!(
            PasswordHash::parse("$pbkdf2-sha256$i=10$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
            Err(PasswordHashError::Iterations)
        );
        assert_eq!(
            PasswordHash::new("x", 999),
            Err(PasswordHashError::Iterations)
        );
    }
}
