//! What stands between a request and the state database: the CSRF token
//! every POST carries, the per-address limit on lookups, and the admin
//! login.
//!
//! The client address is the connection's, or, from a trusted reverse
//! proxy, the last address its `X-Forwarded-For` names that is not itself
//! a trusted proxy.
//!
//! CSRF is the double-submit pattern: a random token in a `SameSite=Strict`
//! cookie, the same token in every form (or the `X-CSRF-Token` header of an
//! API call); a POST whose two copies differ is refused. A page on another
//! site can make a browser send the cookie but cannot read it, so it
//! cannot forge the second copy.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use super::Shared;
use crate::vocabulary::Secret;

/// The header a reverse proxy names the client in.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The cookie that holds the CSRF token.
const CSRF_COOKIE: &str = "mailshift_csrf";
/// The cookie that holds an admin session.
const ADMIN_COOKIE: &str = "mailshift_admin";
/// The header an API call repeats the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The address of the client a request is for (see the module's doc).
pub struct Client(pub IpAddr);

impl FromRequestParts<Shared> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Shared,
    ) -> Result<Client, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(Client(client_address(
            peer,
            &parts.headers,
            &app.trusted_proxies,
        )))
    }
}

/// `peer`, or from a trusted proxy the last address of `X-Forwarded-For`
/// (every such header, in order) that is not a trusted proxy.
fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

/// A random token of 32 URL-safe characters.
pub fn random_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // 64 letters: every byte maps to one with the same odds.
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Whether two strings are equal, in a time that does not depend on where
/// they first differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in a request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

/// The CSRF token of a request: the cookie's, or a new one with the
/// `Set-Cookie` header that gives it to the browser.
pub fn csrf_token(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(token) = cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 32) {
        return (token.to_owned(), None);
    }
    let token = random_token();
    let set = format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    // Letters, digits, `-`, `_`, `=` and `;`: always a valid header value.
    let set = HeaderValue::from_str(&set).expect("a cookie of URL-safe characters");
    (token, Some(set))
}

/// Whether a POST carries the CSRF token of its cookie, in its form field
/// (`submitted`) or its `X-CSRF-Token` header.
pub fn csrf_ok(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    let Some(expected) = cookie(headers, CSRF_COOKIE) else {
        return false;
    };
    let header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    submitted
        .or(header)
        .is_some_and(|given| !expected.is_empty() && same(given, expected))
}

/// A token bucket per client address: `burst` lookups at once, then one
/// more every `refill`.
pub struct RateLimit {
    burst: f64,
    refill: Duration,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Addresses remembered at most; past that, full buckets are forgotten.
const MAX_TRACKED: usize = 10_000;

impl RateLimit {
    /// A limit of `burst` lookups at once, one more every `refill`.
    pub fn new(burst: u32, refill: Duration) -> RateLimit {
        RateLimit {
            burst: f64::from(burst),
            refill,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one lookup from `client`'s bucket; `false` when it is empty.
    pub fn allow(&self, client: IpAddr) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let refill = self.refill.as_secs_f64().max(f64::EPSILON);
        let level = |(tokens, at): (f64, Instant)| -> f64 {
            (tokens + now.duration_since(at).as_secs_f64() / refill).min(self.burst)
        };
        if buckets.len() >= MAX_TRACKED {
            let burst = self.burst;
            buckets.retain(|_, bucket| level(*bucket) < burst);
        }
        let bucket = buckets.entry(client).or_insert((self.burst, now));
        let tokens = level(*bucket);
        if tokens >= 1.0 {
            *bucket = (tokens - 1.0, now);
            true
        } else {
            *bucket = (tokens, now);
            false
        }
    }
}

/// The admin login: a token, and the sessions it opened.
pub struct AdminLogin {
    token: Option<Secret>,
    sessions: Mutex<HashSet<String>>,
}

impl AdminLogin {
    /// A login with `token`; with none, `/admin` is closed to everyone.
    pub fn new(token: Option<Secret>) -> AdminLogin {
        AdminLogin {
            token,
            sessions: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `given` is the admin token.
    pub fn token_ok(&self, given: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| !t.expose().is_empty() && same(given, t.expose()))
    }

    /// Opens a session: the `Set-Cookie` header that carries it.
    pub fn open_session(&self) -> HeaderValue {
        let id = random_token();
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone());
        let set = format!("{ADMIN_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict");
        HeaderValue::from_str(&set).expect("a cookie of URL-safe characters")
    }

    /// Whether a request carries the token as `Authorization: Bearer`:
    /// a header another site cannot make a browser send, so such a POST
    /// needs no CSRF token.
    pub fn is_bearer(&self, headers: &HeaderMap) -> bool {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|bearer| self.token_ok(bearer.trim()))
    }

    /// Whether a request is an admin's: the bearer token, or an open
    /// session's cookie.
    pub fn is_admin(&self, headers: &HeaderMap) -> bool {
        if self.is_bearer(headers) {
            return true;
        }
        cookie(headers, ADMIN_COOKIE).is_some_and(|id| {
            self.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_last_untrusted_address() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            X_FORWARDED_FOR,
            HeaderValue::from_static("203.0.113.9, 198.51.100.7"),
        );
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.1"));
        let client = |peer: &str, trusted: &[IpAddr]| {
            client_address(peer.parse().unwrap(), &headers, trusted).to_string()
        };
        // A client's own claim is not believed.
        assert_eq!(client("192.0.2.1", &[proxy]), "192.0.2.1");
        assert_eq!(client("10.0.0.1", &[]), "10.0.0.1");
        // Through the proxy: the address it saw, not what the client wrote
        // before it (`203.0.113.9` may be forged).
        assert_eq!(client("10.0.0.1", &[proxy]), "198.51.100.7");
        assert_eq!(
            client_address(proxy, &HeaderMap::new(), &[proxy]).to_string(),
            "10.0.0.1"
        );
    }

    #[test]
    fn a_client_gets_its_burst_then_is_throttled() {
        let limit = RateLimit::new(5, Duration::from_secs(3600));
        let one: IpAddr = "127.0.0.1".parse().unwrap();
        let two: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..5).all(|_| limit.allow(one)));
        assert!(!limit.allow(one));
        assert!(limit.allow(two), "each address has its own bucket");
    }

    #[test]
    fn a_post_needs_the_token_of_its_cookie() {
        let (token, set) = csrf_token(&HeaderMap::new());
        assert!(set.is_some());
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, format!("{CSRF_COOKIE}={token}").parse().unwrap());
        assert!(csrf_ok(&headers, Some(&token)));
        assert!(!csrf_ok(&headers, Some("x")));
        assert!(!csrf_ok(&headers, None));
        assert!(!csrf_ok(&HeaderMap::new(), Some(&token)));
        assert_eq!(csrf_token(&headers), (token, None));
    }
}
