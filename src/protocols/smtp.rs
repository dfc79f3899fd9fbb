//! A small SMTP client (RFC 5321) for notification emails.
//!
//! One message per connection: greeting, EHLO (HELO for very old servers),
//! STARTTLS or implicit TLS as configured, AUTH when a user is given, then
//! MAIL FROM, one RCPT TO per recipient, DATA with CRLF line ends and
//! dot-stuffing, and QUIT. Every step has a timeout. Errors name the server
//! and the command, never the password, and say whether trying again later
//! may help ([`SmtpError::is_retryable`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::protocols::tls::{self, ConnectError, MaybeTlsStream, TlsMode};
use crate::vocabulary::{Credential, CredentialError, Secret, Server};

/// TCP connect and TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Any reply to a command (RFC 5321 section 4.5.3.2 allows minutes; a
/// notification is not worth waiting that long for).
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// The reply to the final dot, when the server may scan or store the
/// message (RFC 5321 suggests 10 minutes).
const DATA_END_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest reply line accepted (RFC 5321 says 512; leave room).
const MAX_LINE: u64 = 8192;
/// Most lines accepted in one reply.
const MAX_REPLY_LINES: usize = 200;

/// Where and as whom notifications are sent.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The SMTP server: port 587 with `starttls` or 465 with `implicit`
    /// for submission; 25 without TLS only on a trusted network.
    pub server: Server,
    /// The envelope sender (`MAIL FROM`): `noreply@example.com` or
    /// `mailshift <noreply@example.com>`.
    pub from: String,
    /// The login name; no authentication when absent.
    pub user: Option<String>,
    /// The password (AUTH PLAIN, or LOGIN when PLAIN is not offered) or
    /// OAuth2 token (XOAUTH2) of `user`.
    pub credential: Credential,
}

/// Everything that can go wrong sending a message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SmtpError {
    /// TCP connect or TLS handshake failed.
    #[error(transparent)]
    Connect(Arc<ConnectError>),
    /// The connection broke while reading or writing.
    #[error("connection to SMTP server {server} lost: {source}")]
    Io {
        /// `host:port`.
        server: String,
        /// The underlying error.
        source: Arc<io::Error>,
    },
    /// The server did not answer in time.
    #[error("SMTP server {server} timed out during {command} after {}s", after.as_secs())]
    Timeout {
        /// `host:port`.
        server: String,
        /// What was waited for (`greeting`, `MAIL FROM`, ...).
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// The server answered with an error code.
    #[error("SMTP server {server} refused {command}: {code} {text}")]
    Rejected {
        /// `host:port`.
        server: String,
        /// The command (`MAIL FROM`, `RCPT TO <bob@example.com>`, `AUTH
        /// PLAIN`), never its secret arguments.
        command: String,
        /// The reply code (4xx temporary, 5xx permanent).
        code: u16,
        /// The server's text, lines joined with spaces.
        text: String,
    },
    /// The server's answer is not SMTP.
    #[error("SMTP server {server} sent an invalid reply: {detail}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// What was wrong.
        detail: String,
    },
    /// `tls: starttls` was asked for but the server does not offer it; the
    /// message is not sent in clear instead.
    #[error("SMTP server {server} does not offer STARTTLS")]
    NoStartTls {
        /// `host:port`.
        server: String,
    },
    /// None of the server's authentication mechanisms can be used.
    #[error("SMTP server {server} offers no usable authentication mechanism (offered: {offered})")]
    NoAuthMechanism {
        /// `host:port`.
        server: String,
        /// The mechanisms the server announced.
        offered: String,
    },
    /// A user is configured but no password or token.
    #[error("SMTP server {server}: user {user} is set but no password or token")]
    MissingCredential {
        /// `host:port`.
        server: String,
        /// The login name.
        user: String,
    },
    /// The password or token could not be read.
    #[error("cannot read the SMTP credentials for {server}: {source}")]
    Credential {
        /// `host:port`.
        server: String,
        /// Where the secret should have come from.
        source: Arc<CredentialError>,
    },
    /// A sender or recipient address cannot be put in an SMTP command.
    #[error("invalid email address for SMTP: {address:?}")]
    InvalidAddress {
        /// The address as given.
        address: String,
    },
}

impl SmtpError {
    /// Whether sending again later may succeed: a 4xx reply, a lost or
    /// refused connection, a timeout. A 5xx reply, a missing STARTTLS or
    /// bad credentials will not fix themselves.
    pub fn is_retryable(&self) -> bool {
        match self {
            SmtpError::Connect(e) => e.is_retryable(),
            SmtpError::Io { .. } | SmtpError::Timeout { .. } => true,
            SmtpError::Rejected { code, .. } => (400..500).contains(code),
            SmtpError::Protocol { .. }
            | SmtpError::NoStartTls { .. }
            | SmtpError::NoAuthMechanism { .. }
            | SmtpError::MissingCredential { .. }
            | SmtpError::Credential { .. }
            | SmtpError::InvalidAddress { .. } => false,
        }
    }
}

/// Sends `message` (a complete RFC 5322 message; any line ends) to every
/// address in `to` (nothing to do when `to` is empty). Every recipient
/// must be accepted: if the server refuses one, nothing is sent and the
/// error names it.
pub async fn send(config: &SmtpConfig, to: &[String], message: &[u8]) -> Result<(), SmtpError> {
    let from = envelope_address(&config.from)?;
    let recipients: Vec<&str> = to
        .iter()
        .map(|t| envelope_address(t))
        .collect::<Result<_, _>>()?;
    if recipients.is_empty() {
        return Ok(());
    }
    let secret = match &config.user {
        Some(user) => Some(
            resolve(config)
                .await?
                .ok_or_else(|| SmtpError::MissingCredential {
                    server: config.server.to_string(),
                    user: user.clone(),
                })?,
        ),
        None => None,
    };
    let mut client = Client::connect(&config.server).await?;
    client.greeting().await?;
    let mut ehlo = client.ehlo().await?;
    if config.server.tls == TlsMode::StartTls {
        if !ehlo.has("STARTTLS") {
            return Err(SmtpError::NoStartTls {
                server: client.server.clone(),
            });
        }
        client
            .command("STARTTLS", "STARTTLS", REPLY_TIMEOUT)
            .await?;
        client = client.upgrade(&config.server).await?;
        ehlo = client.ehlo().await?;
    }
    let result = client
        .transaction(config, &ehlo, secret.as_ref(), from, &recipients, message)
        .await;
    if let Err(SmtpError::Rejected { .. }) = result {
        // Part-way through: end the session politely, nothing was sent.
        let _ = client.command("QUIT", "QUIT", REPLY_TIMEOUT).await;
    }
    result
}

/// Reads the secret off the async reactor (it may read a file or run a
/// token command).
async fn resolve(config: &SmtpConfig) -> Result<Option<Secret>, SmtpError> {
    let credential = config.credential.clone();
    let server = config.server.to_string();
    let resolved = tokio::task::spawn_blocking(move || credential.resolve())
        .await
        .map_err(|e| SmtpError::Protocol {
            server: server.clone(),
            detail: format!("reading the credentials stopped: {e}"),
        })?;
    resolved.map_err(|source| SmtpError::Credential {
        server,
        source: Arc::new(source),
    })
}

/// The bare address of `user@host` or `Name <user@host>`, refused if it
/// could break the command line.
fn envelope_address(text: &str) -> Result<&str, SmtpError> {
    let address = match text.rsplit_once('<') {
        Some((_, rest)) => rest.strip_suffix('>').unwrap_or(rest),
        None => text,
    }
    .trim();
    let bad = text.chars().any(char::is_control)
        || address.is_empty()
        || !address.contains('@')
        || address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>'));
    if bad {
        return Err(SmtpError::InvalidAddress {
            address: text.to_owned(),
        });
    }
    Ok(address)
}

/// A message as the DATA command carries it: every line ending in CRLF
/// (bare CR or LF become CRLF), lines starting with a dot get a second
/// one, then the final `.` line.
pub fn data_block(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < message.len() {
        let b = message[i];
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                out.push(b);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// One reply: its code and its text lines.
#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// What the server announced in its EHLO reply.
#[derive(Debug, Default)]
struct Extensions {
    /// Keywords with their parameters, upper case: `AUTH PLAIN LOGIN`.
    lines: Vec<String>,
}

impl Extensions {
    fn has(&self, keyword: &str) -> bool {
        self.lines
            .iter()
            .any(|l| l.split(' ').next() == Some(keyword))
    }

    fn auth_mechanisms(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix("AUTH ").or(l.strip_prefix("AUTH=")))
            .flat_map(|m| m.split(' '))
            .filter(|m| !m.is_empty())
            .collect()
    }
}

/// An open SMTP connection.
struct Client {
    stream: BufReader<MaybeTlsStream>,
    /// `host:port`, for errors.
    server: String,
    /// The name given in EHLO: our address as a literal.
    helo_name: String,
}

impl Client {
    async fn connect(server: &Server) -> Result<Client, SmtpError> {
        let stream = tls::connect(server, CONNECT_TIMEOUT)
            .await
            .map_err(|e| SmtpError::Connect(Arc::new(e)))?;
        let local = match &stream {
            MaybeTlsStream::Plain(tcp) => tcp.local_addr().ok(),
            MaybeTlsStream::Tls(tls) => tls.get_ref().0.local_addr().ok(),
        };
        Ok(Client {
            stream: BufReader::new(stream),
            server: server.to_string(),
            helo_name: address_literal(local),
        })
    }

    async fn greeting(&mut self) -> Result<(), SmtpError> {
        self.reply_ok("greeting", REPLY_TIMEOUT).await.map(drop)
    }

    async fn ehlo(&mut self) -> Result<Extensions, SmtpError> {
        let line = format!("EHLO {}", self.helo_name);
        self.write(format!("{line}\r\n").as_bytes()).await?;
        let reply = self.reply("EHLO", REPLY_TIMEOUT).await?;
        if reply.code == 250 {
            return Ok(Extensions {
                lines: reply
                    .lines
                    .iter()
                    .skip(1)
                    .map(|l| l.trim().to_ascii_uppercase())
                    .collect(),
            });
        }
        if !(500..600).contains(&reply.code) {
            return Err(self.rejected("EHLO", &reply));
        }
        // A server from before ESMTP: no extensions at all.
        let line = format!("HELO {}", self.helo_name);
        self.command("HELO", &line, REPLY_TIMEOUT).await?;
        Ok(Extensions::default())
    }

    /// AUTH (when configured), MAIL FROM, RCPT TO, DATA, QUIT.
    async fn transaction(
        &mut self,
        config: &SmtpConfig,
        ehlo: &Extensions,
        secret: Option<&Secret>,
        from: &str,
        recipients: &[&str],
        message: &[u8],
    ) -> Result<(), SmtpError> {
        if let (Some(user), Some(secret)) = (&config.user, secret) {
            let oauth = matches!(config.credential, Credential::OAuth2(_));
            self.authenticate(ehlo, user, secret, oauth).await?;
        }
        let utf8_addresses = !from.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        let mut mail = format!("MAIL FROM:<{from}>");
        if !message.is_ascii() && ehlo.has("8BITMIME") {
            mail.push_str(" BODY=8BITMIME");
        }
        if utf8_addresses && ehlo.has("SMTPUTF8") {
            mail.push_str(" SMTPUTF8");
        }
        self.command("MAIL FROM", &mail, REPLY_TIMEOUT).await?;
        for rcpt in recipients {
            let label = format!("RCPT TO <{rcpt}>");
            self.command(&label, &format!("RCPT TO:<{rcpt}>"), REPLY_TIMEOUT)
                .await?;
        }
        self.expect("DATA", "DATA", 354, REPLY_TIMEOUT).await?;
        self.write(&data_block(message)).await?;
        self.reply_ok("end of DATA", DATA_END_TIMEOUT).await?;
        // The message is accepted; a failing QUIT changes nothing.
        let _ = self.command("QUIT", "QUIT", REPLY_TIMEOUT).await;
        Ok(())
    }

    /// Performs the TLS handshake after a `220` to STARTTLS.
    async fn upgrade(self, server: &Server) -> Result<Client, SmtpError> {
        let stream = tls::start_tls(self.stream, server, CONNECT_TIMEOUT)
            .await
            .map_err(|e| SmtpError::Connect(Arc::new(e)))?;
        Ok(Client {
            stream: BufReader::new(stream),
            server: self.server,
            helo_name: self.helo_name,
        })
    }

    /// Authenticates with the best mechanism the server offers for the
    /// credential: XOAUTH2 for a token, PLAIN or else LOGIN for a password.
    async fn authenticate(
        &mut self,
        ehlo: &Extensions,
        user: &str,
        secret: &Secret,
        oauth: bool,
    ) -> Result<(), SmtpError> {
        let offered = ehlo.auth_mechanisms();
        let no_mechanism = || SmtpError::NoAuthMechanism {
            server: self.server.clone(),
            offered: if offered.is_empty() {
                "none".into()
            } else {
                offered.join(" ")
            },
        };
        if oauth {
            if !offered.contains(&"XOAUTH2") {
                return Err(no_mechanism());
            }
            let token = format!("user={user}\x01auth=Bearer {}\x01\x01", secret.expose());
            let line = format!("AUTH XOAUTH2 {}", BASE64.encode(token));
            return self.auth_exchange("AUTH XOAUTH2", &line).await;
        }
        // A server that offers no AUTH at all may still accept PLAIN
        // (some relays announce nothing before STARTTLS); try it.
        if offered.contains(&"PLAIN") || offered.is_empty() {
            let token = format!("\0{user}\0{}", secret.expose());
            let line = format!("AUTH PLAIN {}", BASE64.encode(token));
            return self.auth_exchange("AUTH PLAIN", &line).await;
        }
        if offered.contains(&"LOGIN") {
            self.expect("AUTH LOGIN", "AUTH LOGIN", 334, REPLY_TIMEOUT)
                .await?;
            self.expect("AUTH LOGIN", &BASE64.encode(user), 334, REPLY_TIMEOUT)
                .await?;
            return self
                .auth_exchange("AUTH LOGIN", &BASE64.encode(secret.expose()))
                .await;
        }
        Err(no_mechanism())
    }

    /// Sends the last line of an authentication and checks for `235`. A
    /// `334` challenge at this point carries an error description (XOAUTH2);
    /// an empty line ends the exchange so the server sends its final reply.
    async fn auth_exchange(&mut self, label: &str, line: &str) -> Result<(), SmtpError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        let mut reply = self.reply(label, REPLY_TIMEOUT).await?;
        if reply.code == 334 {
            self.write(b"\r\n").await?;
            reply = self.reply(label, REPLY_TIMEOUT).await?;
        }
        if reply.code == 235 {
            return Ok(());
        }
        Err(self.rejected(label, &reply))
    }

    /// Sends `line` and expects a 2xx reply; `label` names the command in
    /// errors (so a secret argument never reaches them).
    async fn command(
        &mut self,
        label: &str,
        line: &str,
        timeout: Duration,
    ) -> Result<Reply, SmtpError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        self.reply_ok(label, timeout).await
    }

    /// Sends `line` and expects exactly `code`.
    async fn expect(
        &mut self,
        label: &str,
        line: &str,
        code: u16,
        timeout: Duration,
    ) -> Result<Reply, SmtpError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        let reply = self.reply(label, timeout).await?;
        if reply.code == code {
            Ok(reply)
        } else {
            Err(self.rejected(label, &reply))
        }
    }

    /// Reads a reply and checks that it is 2xx.
    async fn reply_ok(&mut self, label: &str, timeout: Duration) -> Result<Reply, SmtpError> {
        let reply = self.reply(label, timeout).await?;
        if (200..300).contains(&reply.code) {
            Ok(reply)
        } else {
            Err(self.rejected(label, &reply))
        }
    }

    /// Reads one (possibly multi-line) reply.
    async fn reply(&mut self, label: &str, timeout: Duration) -> Result<Reply, SmtpError> {
        match tokio::time::timeout(timeout, read_reply(&mut self.stream)).await {
            Err(_) => Err(SmtpError::Timeout {
                server: self.server.clone(),
                command: label.to_owned(),
                after: timeout,
            }),
            Ok(Err(ReadError::Io(e))) => Err(self.io(e)),
            Ok(Err(ReadError::Invalid(detail))) => Err(self.protocol(detail)),
            Ok(Ok(reply)) => Ok(reply),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        let stream = self.stream.get_mut();
        let written = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout(REPLY_TIMEOUT, written).await {
            Err(_) => Err(SmtpError::Timeout {
                server: self.server.clone(),
                command: "sending".into(),
                after: REPLY_TIMEOUT,
            }),
            Ok(Err(e)) => Err(self.io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    fn rejected(&self, label: &str, reply: &Reply) -> SmtpError {
        SmtpError::Rejected {
            server: self.server.clone(),
            command: label.to_owned(),
            code: reply.code,
            text: reply.text(),
        }
    }

    fn io(&self, e: io::Error) -> SmtpError {
        SmtpError::Io {
            server: self.server.clone(),
            source: Arc::new(e),
        }
    }

    fn protocol(&self, detail: String) -> SmtpError {
        SmtpError::Protocol {
            server: self.server.clone(),
            detail,
        }
    }
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]`: a name every server accepts
/// (RFC 5321 section 4.1.3), without a DNS lookup.
fn address_literal(local: Option<SocketAddr>) -> String {
    match local {
        Some(SocketAddr::V4(a)) => format!("[{}]", a.ip()),
        Some(SocketAddr::V6(a)) => format!("[IPv6:{}]", a.ip()),
        None => "[127.0.0.1]".into(),
    }
}

enum ReadError {
    Io(io::Error),
    Invalid(String),
}

/// Reads `250-first`, `250-second`, ..., `250 last`.
async fn read_reply<R: AsyncRead + Unpin>(stream: &mut BufReader<R>) -> Result<Reply, ReadError> {
    let mut lines = Vec::new();
    let mut code = None;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let n = (&mut *stream)
            .take(MAX_LINE)
            .read_until(b'\n', &mut raw)
            .await
            .map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )));
        }
        if raw.last() != Some(&b'\n') {
            return Err(ReadError::Invalid(format!(
                "a reply line longer than {MAX_LINE} bytes"
            )));
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        let parsed = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (200..600).contains(c));
        let (Some(this), separator) = (parsed, line.as_bytes().get(3).copied()) else {
            return Err(ReadError::Invalid(format!("{:?}", truncate(line))));
        };
        if code.is_some_and(|c| c != this) {
            return Err(ReadError::Invalid(format!(
                "reply code changed within a reply: {:?}",
                truncate(line)
            )));
        }
        code = Some(this);
        lines.push(line.get(4..).unwrap_or("").to_owned());
        match separator {
            None | Some(b' ') => return Ok(Reply { code: this, lines }),
            Some(b'-') if lines.len() < MAX_REPLY_LINES => {}
            Some(b'-') => return Err(ReadError::Invalid("a reply of too many lines".into())),
            Some(_) => return Err(ReadError::Invalid(format!("{:?}", truncate(line)))),
        }
    }
}

fn truncate(line: &str) -> &str {
    match line.char_indices().nth(120) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(input: &[u8]) -> Result<Reply, ReadError> {
        read_reply(&mut BufReader::new(input)).await
    }

    #[tokio::test]
    async fn multi_line_replies() {
        let reply = parse(b"250-mx.example hello\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n")
            .await
            .ok()
            .unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(
            reply.lines,
            ["mx.example hello", "STARTTLS", "AUTH PLAIN LOGIN"]
        );
        let ext = Extensions {
            lines: reply.lines[1..].to_vec(),
        };
        assert!(ext.has("STARTTLS"));
        assert_eq!(ext.auth_mechanisms(), ["PLAIN", "LOGIN"]);
        assert!(parse(b"220\r\n").await.is_ok());
    }

    #[tokio::test]
    async fn invalid_replies() {
        for input in [
            &b"hello\r\n"[..],
            b"250-a\r\n251 b\r\n",
            b"250_x\r\n",
            b"999 no\r\n",
        ] {
            assert!(
                matches!(parse(input).await, Err(ReadError::Invalid(_))),
                "{input:?}"
            );
        }
        assert!(matches!(parse(b"250-a\r\n").await, Err(ReadError::Io(_))));
    }

    #[test]
    fn data_is_dot_stuffed_and_crlf_terminated() {
        assert_eq!(data_block(b"a\nb"), b"a\r\nb\r\n.\r\n");
        assert_eq!(data_block(b"a\r\n.\r\n..x\n"), b"a\r\n..\r\n...x\r\n.\r\n");
        assert_eq!(
            data_block(b".start\rbare cr\r\n"),
            b"..start\r\nbare cr\r\n.\r\n"
        );
        assert_eq!(data_block(b""), b".\r\n");
    }

    #[test]
    fn envelope_addresses() {
        assert_eq!(envelope_address("a@b").ok(), Some("a@b"));
        assert_eq!(
            envelope_address("Ops <ops@b.example>").ok(),
            Some("ops@b.example")
        );
        for bad in ["", "nobody", "a@b\r\nRCPT TO:<x@y>", "a b@c", "<>"] {
            assert!(envelope_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn retryable_errors() {
        let rejected = |code| SmtpError::Rejected {
            server: "mx:25".into(),
            command: "MAIL FROM".into(),
            code,
            text: String::new(),
        };
        assert!(rejected(451).is_retryable());
        assert!(!rejected(550).is_retryable());
        assert!(
            !SmtpError::NoStartTls {
                server: "mx:25".into()
            }
            .is_retryable()
        );
    }

    #[test]
    fn helo_names() {
        assert_eq!(
            address_literal(Some("127.0.0.1:5".parse().unwrap())),
            "[127.0.0.1]"
        );
        assert_eq!(
            address_literal(Some("[::1]:5".parse().unwrap())),
            "[IPv6:::1]"
        );
    }
}
