//! A token endpoint for one test, on a free loopback port: it checks
//! requests as Google's and Microsoft's do, and grants short-lived RS256
//! JWTs that a Dovecot with an `oauth2` passdb validates.
//!
//! - Google (`POST /token`): `grant_type` is RFC 7523's jwt-bearer; the
//!   assertion is signed with the service account's key (RS256), its
//!   `iss` is the account's `client_email`, `aud` this endpoint, `scope`
//!   `https://mail.google.com/`, `sub` a mailbox, `exp` in the future and
//!   at most an hour after `iat`. A bad signature is Google's
//!   `invalid_grant` ("Invalid JWT Signature.").
//! - Microsoft (`POST /<tenant>/oauth2/v2.0/token`): the client
//!   credentials grant for `https://outlook.office365.com/.default` with
//!   the application's `client_id` and either its `client_secret` or a
//!   client assertion signed with its certificate's key (`x5t` the
//!   certificate's SHA-1 thumbprint, `aud` this endpoint, `iss` = `sub` =
//!   the client ID). A wrong secret is `invalid_client` (AADSTS7000215).
//!
//! Keys are made at test time with `openssl`; none is checked in.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use super::server::find_binary;

/// An RSA key pair, PEM.
pub struct KeyPair {
    /// PKCS#8 `-----BEGIN PRIVATE KEY-----`.
    pub private: String,
    /// SPKI `-----BEGIN PUBLIC KEY-----`.
    pub public: String,
}

fn openssl(args: &[&str], dir: &Path) -> String {
    let binary = find_binary("openssl").expect("openssl not found: run scripts/install-deps.sh");
    let out = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh 2048-bit RSA key pair.
pub fn rsa_key(dir: &Path, name: &str) -> KeyPair {
    let file = format!("{name}.key");
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &file,
        ],
        dir,
    );
    KeyPair {
        private: std::fs::read_to_string(dir.join(&file)).unwrap(),
        public: openssl(&["pkey", "-in", &file, "-pubout"], dir),
    }
}

/// A self-signed certificate and its key, as an application registers it.
pub struct Certificate {
    /// The certificate and the private key in one PEM file, as the
    /// manifest's `certificate_file` takes them.
    pub pem: String,
    /// The public key, PEM.
    pub public: String,
    /// The certificate's SHA-1 thumbprint, base64url: the `x5t` expected.
    pub x5t: String,
}

/// A fresh self-signed certificate for an application.
pub fn certificate(dir: &Path, name: &str) -> Certificate {
    let (key, cert) = (format!("{name}.key"), format!("{name}.crt"));
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=mailshift test app",
            "-keyout",
            &key,
            "-out",
            &cert,
        ],
        dir,
    );
    let cert_pem = std::fs::read_to_string(dir.join(&cert)).unwrap();
    let der = pem::parse(&cert_pem).unwrap().into_contents();
    let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    Certificate {
        pem: format!(
            "{cert_pem}{}",
            std::fs::read_to_string(dir.join(&key)).unwrap()
        ),
        public: openssl(&["x509", "-in", &cert, "-pubkey", "-noout"], dir),
        x5t: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(thumbprint),
    }
}

/// A Google service account the endpoint knows.
#[derive(Clone)]
pub struct GoogleClient {
    /// The service account's address (`client_email`).
    pub client_email: String,
    /// Its public key, PEM.
    pub public_key: String,
}

/// How a Microsoft application proves who it is.
#[derive(Clone)]
pub enum AppCredential {
    /// A client secret.
    Secret(String),
    /// A certificate: its public key and thumbprint.
    Certificate {
        /// The public key, PEM.
        public_key: String,
        /// The SHA-1 thumbprint, base64url.
        x5t: String,
    },
}

/// A Microsoft application the endpoint knows.
#[derive(Clone)]
pub struct MicrosoftClient {
    /// The tenant: a domain, so its app tokens name it (`client@tenant`).
    pub tenant: String,
    /// The application (client) ID.
    pub client_id: String,
    /// Its credential.
    pub credential: AppCredential,
}

/// What the endpoint knows and how long its tokens live.
#[derive(Clone)]
pub struct Setup {
    /// The Google service account, if any.
    pub google: Option<GoogleClient>,
    /// The Microsoft application, if any.
    pub microsoft: Option<MicrosoftClient>,
    /// Seconds until a granted token's `exp`.
    pub lifetime: u64,
    /// The `expires_in` announced; more than `lifetime` plays a token
    /// revoked (or a clock skewed) before its announced end.
    pub announced: u64,
    /// The first this many requests are answered 503, as an endpoint that
    /// is down for a moment.
    pub unavailable: usize,
}

struct State {
    setup: Setup,
    url: String,
    signing: EncodingKey,
    /// `sub` of every token granted, in order.
    granted: Mutex<Vec<String>>,
    /// Every refusal, as `error: description`.
    refused: Mutex<Vec<String>>,
    /// Requests still to answer 503.
    unavailable: Mutex<usize>,
}

/// A running token endpoint; stops when dropped.
pub struct TokenEndpoint {
    port: u16,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    issuer: KeyPair,
}

impl TokenEndpoint {
    /// Starts an endpoint with its own issuer key, made in `dir`.
    pub fn start(dir: &Path, setup: Setup) -> TokenEndpoint {
        let issuer = rsa_key(dir, "issuer");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            unavailable: Mutex::new(setup.unavailable),
            setup,
            url: format!("http://127.0.0.1:{port}"),
            signing: EncodingKey::from_rsa_pem(issuer.private.as_bytes()).unwrap(),
            granted: Mutex::default(),
            refused: Mutex::default(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopping) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        TokenEndpoint {
            port,
            state,
            stop,
            issuer,
        }
    }

    /// Google's token URI here.
    pub fn google_url(&self) -> String {
        format!("{}/token", self.state.url)
    }

    /// Microsoft's token URL for the tenant here.
    pub fn microsoft_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.state.url)
    }

    /// The public key the granted tokens verify with, PEM.
    pub fn issuer_public_key(&self) -> &str {
        &self.issuer.public
    }

    /// `sub` of every token granted so far.
    pub fn granted(&self) -> Vec<String> {
        self.state.granted.lock().unwrap().clone()
    }

    /// Every refusal so far.
    pub fn refused(&self) -> Vec<String> {
        self.state.refused.lock().unwrap().clone()
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One request, one answer, then the connection closes.
fn serve(stream: TcpStream, state: &State) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let form = parse_form(&String::from_utf8_lossy(&body));
    let (status, answer) = match answer(state, &request_line, &path, &form) {
        Ok(granted) => (200, granted),
        Err((status, error, description)) => {
            state
                .refused
                .lock()
                .unwrap()
                .push(format!("{error}: {description}"));
            (
                status,
                json!({"error": error, "error_description": description}),
            )
        }
    };
    let text = answer.to_string();
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    );
}

type Refusal = (u16, &'static str, String);

fn answer(
    state: &State,
    request_line: &str,
    path: &str,
    form: &HashMap<String, String>,
) -> Result<Value, Refusal> {
    if !request_line.starts_with("POST ") {
        return Err((405, "invalid_request", "POST only".into()));
    }
    {
        let mut unavailable = state.unavailable.lock().unwrap();
        if *unavailable > 0 {
            *unavailable -= 1;
            return Err((503, "temporarily_unavailable", "try again later".into()));
        }
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let subject = if path == "/token" {
        google(state, &field("grant_type"), &field("assertion"))?
    } else {
        microsoft(state, path, form)?
    };
    let now = unix_now();
    let claims = json!({
        "iss": state.url,
        "sub": subject,
        "iat": now,
        "exp": now + state.setup.lifetime,
    });
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &state.signing).unwrap();
    state.granted.lock().unwrap().push(subject);
    Ok(json!({
        "access_token": token,
        "expires_in": state.setup.announced,
        "token_type": "Bearer",
    }))
}

/// Google's checks of a jwt-bearer grant; the mailbox it acts for.
fn google(state: &State, grant_type: &str, assertion: &str) -> Result<String, Refusal> {
    let bad = |d: &str| (400, "invalid_grant", d.to_owned());
    let client = state
        .setup
        .google
        .as_ref()
        .ok_or_else(|| bad("no such client"))?;
    if grant_type != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return Err((400, "unsupported_grant_type", "Invalid grant_type".into()));
    }
    let key = DecodingKey::from_rsa_pem(client.public_key.as_bytes()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.set_audience(&[format!("{}/token", state.url)]);
    validation.set_issuer(&[&client.client_email]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => bad("Invalid JWT Signature."),
            _ => bad(&format!("Invalid JWT: {e}")),
        })?
        .claims;
    if claims["scope"] != "https://mail.google.com/" {
        return Err((400, "invalid_scope", "Invalid OAuth scope".into()));
    }
    let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
    if !matches!((iat, exp), (Some(iat), Some(exp)) if exp > iat && exp - iat <= 3600) {
        return Err(bad("Invalid JWT: exp must be at most an hour after iat"));
    }
    match claims["sub"].as_str() {
        Some(sub) if sub.contains('@') => Ok(sub.to_owned()),
        _ => Err(bad("Invalid email or User ID")),
    }
}

/// Microsoft's checks of a client credentials grant; the application.
fn microsoft(state: &State, path: &str, form: &HashMap<String, String>) -> Result<String, Refusal> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let client = state
        .setup
        .microsoft
        .as_ref()
        .filter(|c| path == format!("/{}/oauth2/v2.0/token", c.tenant))
        .ok_or_else(|| {
            (
                400,
                "invalid_request",
                format!("AADSTS90002: Tenant not found ({path})"),
            )
        })?;
    let invalid_client = |d: &str| (401, "invalid_client", d.to_owned());
    if field("grant_type") != "client_credentials" {
        return Err((400, "unsupported_grant_type", "AADSTS70003".into()));
    }
    if field("scope") != "https://outlook.office365.com/.default" {
        return Err((
            400,
            "invalid_scope",
            "AADSTS70011: The provided value for scope is not valid".into(),
        ));
    }
    if field("client_id") != client.client_id {
        return Err((
            400,
            "unauthorized_client",
            "AADSTS700016: Application not found".into(),
        ));
    }
    match &client.credential {
        AppCredential::Secret(secret) => {
            if field("client_secret") != secret {
                return Err(invalid_client(
                    "AADSTS7000215: Invalid client secret provided.",
                ));
            }
        }
        AppCredential::Certificate { public_key, x5t } => {
            if field("client_assertion_type")
                != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            {
                return Err(invalid_client(
                    "AADSTS7000216: client_assertion_type is missing",
                ));
            }
            let assertion = field("client_assertion");
            let header = jsonwebtoken::decode_header(assertion)
                .map_err(|_| invalid_client("AADSTS50027: JWT token is invalid or malformed."))?;
            if header.x5t.as_deref() != Some(x5t.as_str()) {
                return Err(invalid_client(
                    "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.",
                ));
            }
            let key = DecodingKey::from_rsa_pem(public_key.as_bytes()).unwrap();
            let mut validation = Validation::new(Algorithm::RS256);
            validation.leeway = 0;
            validation.set_audience(&[format!("{}{path}", state.url)]);
            validation.set_issuer(&[&client.client_id]);
            validation.sub = Some(client.client_id.clone());
            validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
            jsonwebtoken::decode::<Value>(assertion, &key, &validation).map_err(|e| {
                invalid_client(&format!(
                    "AADSTS700027: Client assertion failed signature validation. ({e})"
                ))
            })?;
        }
    }
    Ok(format!("{}@{}", client.client_id, client.tenant))
}

fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (decode(name), decode(value)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
