//! What stands between a request and the state database: the CSRF token
//! every POST carries, the per-address limit on lookups, and the admin
//! login.
//!
//! An admin is let in by the admin token (as a bearer token, or on the
//! login form), the admin password (on the login form, checked against
//! its PBKDF2 hash), or a trusted reverse proxy that authenticated them
//! and names them in the configured header. The form opens a session: a
//! random cookie, remembered in memory until the server stops.
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

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::Shared;
use super::tls::Peer;
use crate::vocabulary::{PasswordHash, Secret};

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
        Ok(Client(client_address(
            peer(&parts.extensions),
            &parts.headers,
            &app.trusted_proxies,
        )))
    }
}

/// Whether a request is an administrator's (see [`AdminLogin::is_admin`]).
pub struct Admin(pub bool);

impl FromRequestParts<Shared> for Admin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Admin, Self::Rejection> {
        Ok(Admin(
            app.admin.is_admin(&parts.headers, peer(&parts.extensions)),
        ))
    }
}

/// The address at the other end of the connection.
pub fn peer(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<Peer>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip())
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

/// Who may open `/admin`. With none of the three, nobody may.
#[derive(Debug, Clone, Default)]
pub struct AdminAccess {
    /// The admin token: the bearer token of the API, also accepted on the
    /// login form.
    pub token: Option<Secret>,
    /// The admin password's hash, for the login form.
    pub password: Option<PasswordHash>,
    /// The header a trusted reverse proxy names the admin it authenticated
    /// in; believed from the trusted proxies only.
    pub user_header: Option<HeaderName>,
}

/// The admin login: who may come in, and the sessions the form opened.
pub struct AdminLogin {
    access: AdminAccess,
    trusted_proxies: Vec<IpAddr>,
    sessions: Mutex<HashSet<String>>,
}

impl AdminLogin {
    /// A login by `access`, with the proxy header believed from
    /// `trusted_proxies`.
    pub fn new(access: AdminAccess, trusted_proxies: Vec<IpAddr>) -> AdminLogin {
        AdminLogin {
            access,
            trusted_proxies,
            sessions: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `given` is the admin token.
    fn token_ok(&self, given: &str) -> bool {
        self.access
            .token
            .as_ref()
            .is_some_and(|t| !t.expose().is_empty() && same(given, t.expose()))
    }

    /// Whether what the login form was given is the admin token or the
    /// admin password. Checking the password costs its hash's iterations
    /// (a fraction of a second): call it off the async threads.
    pub fn secret_ok(&self, given: &str) -> bool {
        let password = self
            .access
            .password
            .as_ref()
            .is_some_and(|hash| !given.is_empty() && hash.verify(given));
        // Both are checked, so the time taken does not say which exists.
        self.token_ok(given) | password
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

    /// The admin a trusted proxy (the connection's `peer`) says it
    /// authenticated, if it says so.
    pub fn proxy_user<'a>(&self, headers: &'a HeaderMap, peer: IpAddr) -> Option<&'a str> {
        let header = self.access.user_header.as_ref()?;
        if !self.trusted_proxies.contains(&peer) {
            return None;
        }
        headers
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|user| !user.is_empty())
    }

    /// Whether a request from `peer` is an admin's: the bearer token, an
    /// open session's cookie, or a trusted proxy's header.
    pub fn is_admin(&self, headers: &HeaderMap, peer: IpAddr) -> bool {
        if self.is_bearer(headers) || self.proxy_user(headers, peer).is_some() {
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

    #[test]
    fn the_proxy_header_is_believed_from_a_trusted_proxy_only() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let login = AdminLogin::new(
            AdminAccess {
                user_header: Some(HeaderName::from_static("x-remote-user")),
                ..AdminAccess::default()
            },
            vec![proxy],
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-remote-user", HeaderValue::from_static("ops"));
        assert_eq!(login.proxy_user(&headers, proxy), Some("ops"));
        assert!(login.is_admin(&headers, proxy));
        assert!(!login.is_admin(&headers, "192.0.2.1".parse().unwrap()));
        assert!(!login.is_admin(&HeaderMap::new(), proxy));
        assert!(!login.secret_ok(""), "no token, no password: nobody");
    }
}
