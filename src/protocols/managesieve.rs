//! A ManageSieve client (RFC 5804): the account's Sieve scripts on a
//! groupware server (Dovecot Pigeonhole, Cyrus, Stalwart, ...).
//!
//! The connection is set up by [`super::tls`]: TLS at once (`implicit`),
//! STARTTLS after the greeting (`starttls`) or none. Login is SASL PLAIN
//! with a password, or XOAUTH2 with a bearer token. Scripts are sent as
//! non-synchronizing literals (`{n+}`), which RFC 5804 requires every
//! server to accept; a server that announces itself as an old, pre-RFC
//! draft implementation without them is not supported.
//!
//! Errors name the server, never the secret; a `NO` carries the server's
//! reason (for a rejected script: what its compiler said).

use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use super::imap::Auth;
use super::tls::{self, ConnectError, MaybeTlsStream, TlsMode};
use super::{SessionConfig, SessionError};

/// Why a ManageSieve command failed.
#[derive(Debug, thiserror::Error)]
pub enum SieveError {
    /// What can go wrong whatever the protocol: the connection, a
    /// timeout, a refused login, an unreadable answer.
    #[error("ManageSieve: {0}")]
    Session(#[from] SessionError),
    /// The server answered `NO` (or `BYE`) to a command.
    #[error("ManageSieve server {server} refused {command}: {reason}")]
    No {
        /// `host:port`.
        server: String,
        /// The command, never its arguments.
        command: String,
        /// The server's reason, as it gave it.
        reason: String,
        /// The response code (`QUOTA`, `NONEXISTENT`, ...), if any.
        code: Option<String>,
    },
}

impl From<ConnectError> for SieveError {
    fn from(e: ConnectError) -> Self {
        SieveError::Session(e.into())
    }
}

impl SieveError {
    /// Whether trying again later may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            SieveError::Session(e) => e.is_retryable(),
            SieveError::No { .. } => false,
        }
    }

    /// The server's reason for a `NO`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            SieveError::No { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// One script of a LISTSCRIPTS answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptInfo {
    /// The script's name.
    pub name: String,
    /// Whether it is the active script.
    pub active: bool,
}

/// A token of a server line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Atom(String),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    /// A parenthesized response code, without the parentheses.
    Code(String),
}

/// A final response: `OK`, `NO` or `BYE`, with its code and text.
#[derive(Debug)]
struct Done {
    status: String,
    code: Option<String>,
    text: String,
}

/// A logged-in ManageSieve session.
pub struct SieveSession {
    stream: BufReader<MaybeTlsStream>,
    server: String,
    timeout: Duration,
    /// Capabilities from the last greeting: name (upper case) → value.
    capabilities: Vec<(String, String)>,
}

impl SieveSession {
    /// Connects, upgrades to TLS if asked, and logs in.
    pub async fn connect(config: &SessionConfig) -> Result<SieveSession, SieveError> {
        let server = config.server.to_string();
        let stream = tls::connect(&config.server, config.timeout).await?;
        let mut session = SieveSession {
            stream: BufReader::new(stream),
            server,
            timeout: config.timeout,
            capabilities: Vec::new(),
        };
        session.read_capabilities().await?;
        if config.server.tls == TlsMode::StartTls {
            if !session.has_capability("STARTTLS") {
                return Err(session.protocol("it does not offer STARTTLS"));
            }
            session.send(b"STARTTLS\r\n").await?;
            session.expect_ok("STARTTLS").await?;
            let upgraded = tls::start_tls(session.stream, &config.server, config.timeout).await?;
            session = SieveSession {
                stream: BufReader::new(upgraded),
                ..session
            };
            // RFC 5804 2.2: the server sends its capabilities again.
            session.read_capabilities().await?;
        }
        session.authenticate(&config.user, &config.auth).await?;
        Ok(session)
    }

    /// Whether the server announced a capability (`STARTTLS`, `SIEVE`, ...).
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The Sieve extensions the server supports.
    pub fn extensions(&self) -> Vec<String> {
        self.capabilities
            .iter()
            .find(|(n, _)| n == "SIEVE")
            .map(|(_, v)| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    async fn read_capabilities(&mut self) -> Result<(), SieveError> {
        self.capabilities.clear();
        loop {
            let tokens = self.read_line().await?;
            match tokens.first() {
                Some(Token::Atom(a)) if is_status(a) => {
                    let done = self.done(tokens)?;
                    if done.status != "OK" {
                        return Err(self.protocol(&format!("greeting {}", done.text)));
                    }
                    return Ok(());
                }
                Some(Token::Str(name)) => {
                    let value = match tokens.get(1) {
                        Some(Token::Str(v)) => String::from_utf8_lossy(v).into_owned(),
                        _ => String::new(),
                    };
                    self.capabilities
                        .push((String::from_utf8_lossy(name).to_uppercase(), value));
                }
                _ => return Err(self.protocol("a capability line that is not a string")),
            }
        }
    }

    async fn authenticate(&mut self, user: &str, auth: &Auth) -> Result<(), SieveError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let (mechanism, initial) = match auth.xoauth2(user) {
            Some(message) => ("XOAUTH2", b64.encode(message)),
            None => ("PLAIN", b64.encode(auth.plain(user).unwrap_or_default())),
        };
        let mut line = format!("AUTHENTICATE \"{mechanism}\" \"{initial}\"\r\n").into_bytes();
        self.send(&line).await?;
        line.fill(0);
        loop {
            let tokens = self.read_line().await?;
            match tokens.first() {
                Some(Token::Atom(a)) if is_status(a) => {
                    let done = self.done(tokens)?;
                    if done.status == "OK" {
                        return Ok(());
                    }
                    return Err(SieveError::Session(SessionError::Auth {
                        server: self.server.clone(),
                        user: auth.login_name(user),
                        detail: done.text,
                    }));
                }
                // A challenge (XOAUTH2 error details): answer with an empty
                // response so the server sends its final NO.
                Some(Token::Str(_)) => self.send(b"\"\"\r\n").await?,
                _ => return Err(self.protocol("an unexpected answer to AUTHENTICATE")),
            }
        }
    }

    /// Every script, with which one is active.
    pub async fn list_scripts(&mut self) -> Result<Vec<ScriptInfo>, SieveError> {
        self.send(b"LISTSCRIPTS\r\n").await?;
        let mut scripts = Vec::new();
        loop {
            let tokens = self.read_line().await?;
            match tokens.first() {
                Some(Token::Atom(a)) if is_status(a) => {
                    self.finish("LISTSCRIPTS", tokens)?;
                    return Ok(scripts);
                }
                Some(Token::Str(name)) => scripts.push(ScriptInfo {
                    name: String::from_utf8_lossy(name).into_owned(),
                    active: matches!(tokens.get(1), Some(Token::Atom(a)) if a.eq_ignore_ascii_case("ACTIVE")),
                }),
                _ => return Err(self.protocol("an unexpected LISTSCRIPTS line")),
            }
        }
    }

    /// A script's content.
    pub async fn get_script(&mut self, name: &str) -> Result<Vec<u8>, SieveError> {
        let mut line = b"GETSCRIPT ".to_vec();
        push_string(&mut line, name.as_bytes());
        line.extend_from_slice(b"\r\n");
        self.send(&line).await?;
        let mut content = None;
        loop {
            let tokens = self.read_line().await?;
            match tokens.first() {
                Some(Token::Atom(a)) if is_status(a) => {
                    self.finish(&format!("GETSCRIPT {name}"), tokens)?;
                    return content.ok_or_else(|| self.protocol("GETSCRIPT returned no script"));
                }
                Some(Token::Str(body)) => content = Some(body.clone()),
                _ => return Err(self.protocol("an unexpected GETSCRIPT line")),
            }
        }
    }

    /// Stores a script (replacing one of the same name), after the server
    /// has compiled it: a `NO` carries the compiler's message.
    pub async fn put_script(&mut self, name: &str, content: &[u8]) -> Result<(), SieveError> {
        let mut line = b"PUTSCRIPT ".to_vec();
        push_string(&mut line, name.as_bytes());
        line.push(b' ');
        push_literal(&mut line, content);
        line.extend_from_slice(b"\r\n");
        self.send(&line).await?;
        self.expect_ok(&format!("PUTSCRIPT {name}")).await
    }

    /// Asks the server whether it would accept a script.
    pub async fn check_script(&mut self, content: &[u8]) -> Result<(), SieveError> {
        let mut line = b"CHECKSCRIPT ".to_vec();
        push_literal(&mut line, content);
        line.extend_from_slice(b"\r\n");
        self.send(&line).await?;
        self.expect_ok("CHECKSCRIPT").await
    }

    /// Makes a script the active one; `None` deactivates every script.
    pub async fn set_active(&mut self, name: Option<&str>) -> Result<(), SieveError> {
        let mut line = b"SETACTIVE ".to_vec();
        push_string(&mut line, name.unwrap_or("").as_bytes());
        line.extend_from_slice(b"\r\n");
        self.send(&line).await?;
        self.expect_ok(&format!("SETACTIVE {}", name.unwrap_or("\"\"")))
            .await
    }

    /// Deletes a (non-active) script.
    pub async fn delete_script(&mut self, name: &str) -> Result<(), SieveError> {
        let mut line = b"DELETESCRIPT ".to_vec();
        push_string(&mut line, name.as_bytes());
        line.extend_from_slice(b"\r\n");
        self.send(&line).await?;
        self.expect_ok(&format!("DELETESCRIPT {name}")).await
    }

    /// Ends the session.
    pub async fn logout(mut self) -> Result<(), SieveError> {
        self.send(b"LOGOUT\r\n").await?;
        self.expect_ok("LOGOUT").await
    }

    async fn expect_ok(&mut self, command: &str) -> Result<(), SieveError> {
        loop {
            let tokens = self.read_line().await?;
            if matches!(tokens.first(), Some(Token::Atom(a)) if is_status(a)) {
                return self.finish(command, tokens);
            }
        }
    }

    /// Turns a final response into `Ok` or the server's refusal.
    fn finish(&self, command: &str, tokens: Vec<Token>) -> Result<(), SieveError> {
        let done = self.done(tokens)?;
        if done.status == "OK" {
            return Ok(());
        }
        Err(SieveError::No {
            server: self.server.clone(),
            command: command.to_owned(),
            reason: if done.text.is_empty() {
                done.status.clone()
            } else {
                done.text
            },
            code: done.code,
        })
    }

    fn done(&self, tokens: Vec<Token>) -> Result<Done, SieveError> {
        let mut tokens = tokens.into_iter();
        let Some(Token::Atom(status)) = tokens.next() else {
            return Err(self.protocol("a response without a status"));
        };
        let mut done = Done {
            status: status.to_ascii_uppercase(),
            code: None,
            text: String::new(),
        };
        for token in tokens {
            match token {
                Token::Code(code) => done.code = Some(code),
                Token::Str(text) => {
                    done.text = String::from_utf8_lossy(&text).trim_end().to_owned()
                }
                Token::Atom(_) => {}
            }
        }
        Ok(done)
    }

    fn protocol(&self, detail: &str) -> SieveError {
        SieveError::Session(SessionError::Protocol {
            server: self.server.clone(),
            detail: detail.to_owned(),
        })
    }

    fn io(&self, source: std::io::Error) -> SieveError {
        SessionError::io(&self.server, source).into()
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), SieveError> {
        let stream = self.stream.get_mut();
        let write = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Err(_) => Err(SieveError::Session(SessionError::Timeout {
                server: self.server.clone(),
                after: self.timeout,
            })),
            Ok(Err(e)) => Err(self.io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads one logical line (literals included) as tokens.
    async fn read_line(&mut self) -> Result<Vec<Token>, SieveError> {
        match tokio::time::timeout(self.timeout, read_tokens(&mut self.stream)).await {
            Err(_) => Err(SieveError::Session(SessionError::Timeout {
                server: self.server.clone(),
                after: self.timeout,
            })),
            Ok(Err(LineError::Io(e))) => Err(self.io(e)),
            Ok(Err(LineError::Syntax(detail))) => Err(self.protocol(&detail)),
            Ok(Ok(tokens)) => Ok(tokens),
        }
    }
}

fn is_status(atom: &str) -> bool {
    ["OK", "NO", "BYE"]
        .iter()
        .any(|s| atom.eq_ignore_ascii_case(s))
}

/// Appends a string argument: quoted when it can be, else a literal.
fn push_string(out: &mut Vec<u8>, value: &[u8]) {
    if value.len() <= 1024 && !value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        out.push(b'"');
        for &b in value {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        push_literal(out, value);
    }
}

/// Appends a non-synchronizing literal.
fn push_literal(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(format!("{{{}+}}\r\n", value.len()).as_bytes());
    out.extend_from_slice(value);
}

#[derive(Debug)]
enum LineError {
    Io(std::io::Error),
    Syntax(String),
}

impl From<std::io::Error> for LineError {
    fn from(e: std::io::Error) -> Self {
        LineError::Io(e)
    }
}

/// Literals larger than this are refused (scripts are small).
const MAX_LITERAL: usize = 16 * 1024 * 1024;

async fn read_tokens<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> Result<Vec<Token>, LineError> {
    let mut tokens = Vec::new();
    loop {
        let byte = reader.read_u8().await?;
        match byte {
            b' ' => {}
            b'\r' => {
                if reader.read_u8().await? != b'\n' {
                    return Err(LineError::Syntax("CR without LF".into()));
                }
                return Ok(tokens);
            }
            b'\n' => return Ok(tokens),
            b'"' => {
                let mut value = Vec::new();
                loop {
                    match reader.read_u8().await? {
                        b'"' => break,
                        b'\\' => value.push(reader.read_u8().await?),
                        b'\r' | b'\n' => {
                            return Err(LineError::Syntax("unterminated string".into()));
                        }
                        b => value.push(b),
                    }
                }
                tokens.push(Token::Str(value));
            }
            b'{' => {
                let mut digits = String::new();
                loop {
                    match reader.read_u8().await? {
                        b'}' => break,
                        b'+' => {}
                        b if b.is_ascii_digit() => digits.push(b as char),
                        _ => return Err(LineError::Syntax("a malformed literal".into())),
                    }
                }
                let size: usize = digits
                    .parse()
                    .map_err(|_| LineError::Syntax("a malformed literal size".into()))?;
                if size > MAX_LITERAL {
                    return Err(LineError::Syntax(format!("a literal of {size} bytes")));
                }
                let mut end = reader.read_u8().await?;
                if end == b'\r' {
                    end = reader.read_u8().await?;
                }
                if end != b'\n' {
                    return Err(LineError::Syntax("a literal without CRLF".into()));
                }
                let mut value = vec![0; size];
                reader.read_exact(&mut value).await?;
                tokens.push(Token::Str(value));
            }
            b'(' => {
                let mut code = Vec::new();
                let mut quoted = false;
                loop {
                    match reader.read_u8().await? {
                        b')' if !quoted => break,
                        b'"' => {
                            quoted = !quoted;
                            code.push(b'"');
                        }
                        b'\r' | b'\n' => {
                            return Err(LineError::Syntax("unterminated response code".into()));
                        }
                        b => code.push(b),
                    }
                }
                tokens.push(Token::Code(String::from_utf8_lossy(&code).into_owned()));
            }
            first => {
                let mut atom = vec![first];
                loop {
                    let next = reader.fill_buf_peek().await?;
                    match next {
                        Some(b' ' | b'\r' | b'\n' | b'(' | b'"') | None => break,
                        Some(b) => {
                            atom.push(b);
                            reader.consume_one();
                        }
                    }
                }
                tokens.push(Token::Atom(String::from_utf8_lossy(&atom).into_owned()));
            }
        }
    }
}

/// Peeking one byte of a buffered reader.
trait Peek {
    async fn fill_buf_peek(&mut self) -> std::io::Result<Option<u8>>;
    fn consume_one(&mut self);
}

impl<R: tokio::io::AsyncRead + Unpin> Peek for BufReader<R> {
    async fn fill_buf_peek(&mut self) -> std::io::Result<Option<u8>> {
        use tokio::io::AsyncBufReadExt;
        Ok(self.fill_buf().await?.first().copied())
    }

    fn consume_one(&mut self) {
        use tokio::io::AsyncBufRead;
        std::pin::Pin::new(self).consume(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(text: &[u8]) -> Vec<Token> {
        let mut reader = BufReader::new(text);
        read_tokens(&mut reader).await.unwrap()
    }

    #[tokio::test]
    async fn lines_with_strings_literals_and_codes() {
        assert_eq!(
            parse(b"\"main\" ACTIVE\r\n").await,
            vec![Token::Str(b"main".to_vec()), Token::Atom("ACTIVE".into())]
        );
        assert_eq!(
            parse(b"NO (QUOTA) {12}\r\nline 1: bad\n\r\n").await,
            vec![
                Token::Atom("NO".into()),
                Token::Code("QUOTA".into()),
                Token::Str(b"line 1: bad\n".to_vec())
            ]
        );
        assert_eq!(
            parse(b"OK \"a \\\"b\\\\\"\r\n").await,
            vec![Token::Atom("OK".into()), Token::Str(b"a \"b\\".to_vec())]
        );
    }

    #[test]
    fn arguments_are_quoted_or_sent_as_literals() {
        let mut out = Vec::new();
        push_string(&mut out, b"a\"b");
        assert_eq!(out, b"\"a\\\"b\"");
        out.clear();
        push_string(&mut out, b"x\r\ny");
        assert_eq!(out, b"{4+}\r\nx\r\ny");
    }
}
