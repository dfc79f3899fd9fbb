//! OAuth2 service accounts: access tokens for mailboxes whose users give
//! no secret, obtained by the application itself and kept for the process.
//!
//! - [`google`]: domain-wide delegation. A JWT assertion (RFC 7523, RS256,
//!   signed with the key file's `private_key`) names the mailbox as `sub`
//!   and is exchanged at the token URI for that mailbox's token.
//! - [`microsoft`]: the client credentials grant (RFC 6749 §4.4) for
//!   `https://outlook.office365.com/.default`, with a client secret or a
//!   certificate's client assertion: one application token for every
//!   mailbox of the tenant.
//! - [`exchange`]: the POST to the token endpoint and its answer.
//!
//! Tokens are cached per service account and subject until shortly before
//! they expire; one ask is in flight per cache entry, so a batch of a
//! thousand mailboxes asks Microsoft once, not a thousand times. A server
//! that refuses a token still in the cache (revoked, or expired earlier
//! than announced) gets [`forget`] called, and the next login asks anew.
//!
//! Keys, client secrets, assertions and tokens are held as [`Secret`]s or
//! in locals only: errors name the key file and the token endpoint.

pub mod exchange;
pub mod google;
pub mod microsoft;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

use crate::vocabulary::{CredentialError, Secret, ServiceAccount};

/// The longest a token is used before it expires: it is asked for anew
/// this long before (or a tenth of its lifetime before, for short ones).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A token and when to stop using it.
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// One cache entry: the lock is held while its token is asked for, so
/// concurrent logins wait for one answer.
type Entry = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Which token: the service account and, for Google, the subject.
type Key = (ServiceAccount, Option<String>);

fn entry(key: Key) -> Entry {
    static CACHE: OnceLock<Mutex<HashMap<Key, Entry>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    // A poisoned lock only means another login panicked; the map is fine.
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key).or_default().clone()
}

/// The access token that opens `user`'s mailbox, from the cache while it
/// is fresh, else from the service account's token endpoint.
pub async fn access_token(account: &ServiceAccount, user: &str) -> Result<Secret, CredentialError> {
    let key = (account.clone(), account.subject(user).map(str::to_owned));
    let entry = entry(key);
    let mut slot = entry.lock().await;
    if let Some(cached) = slot.as_ref()
        && Instant::now() < cached.refresh_at
    {
        return Ok(cached.token.clone());
    }
    let asked = Instant::now();
    let granted = match account {
        ServiceAccount::Google(google) => google::token(google, user).await?,
        ServiceAccount::Microsoft(app) => microsoft::token(app).await?,
    };
    let margin = REFRESH_MARGIN.min(granted.lifetime / 10);
    *slot = Some(Cached {
        token: granted.token.clone(),
        refresh_at: asked + granted.lifetime.saturating_sub(margin),
    });
    Ok(granted.token)
}

/// Drops `token` from the cache after a server refused it, so the next
/// login for `user` asks for a new one (unless another login already
/// replaced it).
pub async fn forget(account: &ServiceAccount, user: &str, token: &str) {
    let key = (account.clone(), account.subject(user).map(str::to_owned));
    let entry = entry(key);
    let mut slot = entry.lock().await;
    if slot.as_ref().is_some_and(|c| c.token.expose() == token) {
        *slot = None;
    }
}

/// A token as granted: the value and how long it is valid.
pub struct Granted {
    /// The access token.
    pub token: Secret,
    /// `expires_in`, from when it was asked for.
    pub lifetime: Duration,
}

/// Seconds since the Unix epoch, for JWT claims.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs blocking work (key files, signing) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CredentialError> + Send + 'static,
) -> Result<T, CredentialError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| CredentialError::Missing)?
}

/// What is wrong with a key (or certificate) file, naming the file only.
fn key_error(path: &Path, reason: String) -> CredentialError {
    CredentialError::ServiceKey {
        path: path.to_owned(),
        reason,
    }
}

/// A key file of at most `max` bytes, as text.
fn read_key_file(path: &Path, max: u64) -> Result<String, CredentialError> {
    let unreadable = |e: std::io::Error| key_error(path, format!("cannot be read: {e}"));
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(max + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > max {
        return Err(key_error(path, format!("is larger than {max} bytes")));
    }
    Ok(text)
}

/// `claims` signed as a JWT (`header`, RS256) with the PEM private key
/// `key` read from `path`.
fn sign(
    path: &Path,
    key: &str,
    header: &Header,
    claims: &impl Serialize,
) -> Result<Secret, CredentialError> {
    let signing = EncodingKey::from_rsa_pem(key.as_bytes())
        .map_err(|e| key_error(path, format!("holds no usable RSA private key ({e})")))?;
    jsonwebtoken::encode(header, claims, &signing)
        .map(Secret::new)
        .map_err(|e| key_error(path, format!("cannot sign with its private key ({e})")))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::vocabulary::{ClientSecret, MicrosoftApp};

    /// A token endpoint answering every request with a new token that
    /// lives `expires_in` seconds; the count of requests.
    fn endpoint(expires_in: u64) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/tenant/token", listener.local_addr().unwrap());
        let asked = Arc::new(AtomicUsize::new(0));
        let count = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut reader = BufReader::new(stream.unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = n.trim().parse().unwrap();
                    }
                    if line.trim().is_empty() {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let n = count.fetch_add(1, Ordering::SeqCst);
                let answer = format!(r#"{{"access_token":"token-{n}","expires_in":{expires_in}}}"#);
                let _ = write!(
                    reader.into_inner(),
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        (url, asked)
    }

    fn app(url: String, secret: &Path) -> ServiceAccount {
        ServiceAccount::Microsoft(MicrosoftApp {
            tenant: "tenant".into(),
            client_id: url.clone(),
            secret: ClientSecret::File(secret.to_owned()),
            token_url: Some(url),
        })
    }

    #[tokio::test]
    async fn tokens_are_kept_until_shortly_before_they_expire_or_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret\n").unwrap();

        let (url, asked) = endpoint(3600);
        let account = app(url, &secret);
        let first = access_token(&account, "alice").await.unwrap();
        // One application token for every mailbox.
        let second = access_token(&account, "bob").await.unwrap();
        assert_eq!((first.expose(), second.expose()), ("token-0", "token-0"));
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        // Refused: asked for anew; forgetting a token already replaced
        // keeps the new one.
        forget(&account, "alice", "token-0").await;
        let third = access_token(&account, "alice").await.unwrap();
        forget(&account, "bob", "token-0").await;
        let fourth = access_token(&account, "bob").await.unwrap();
        assert_eq!((third.expose(), fourth.expose()), ("token-1", "token-1"));
        assert_eq!(asked.load(Ordering::SeqCst), 2);

        // A token that expires at once is never reused.
        let (url, asked) = endpoint(0);
        let account = app(url, &secret);
        access_token(&account, "alice").await.unwrap();
        access_token(&account, "alice").await.unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }
}
