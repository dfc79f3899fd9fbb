//! A POP3 client (RFC 1939, with CAPA and STLS from RFC 2449 and RFC 2595,
//! and SASL PLAIN / XOAUTH2 from RFC 5034): enough to read a mailbox as a
//! migration source.
//!
//! The client only reads. It never sends DELE, so a session that ends with
//! QUIT (or does not end cleanly at all) leaves the mailbox as it was.
//! Messages are returned byte for byte as the server stores them: the
//! multi-line response is dot-unstuffed and its terminating line removed,
//! nothing else. RETR commands are pipelined when the server offers
//! PIPELINING.
//!
//! Errors name the server (`host:port`) and, for a refused login, the
//! user; never a password or token.

use std::io;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::imap::Auth;
use super::tls::{self, ConnectError, MaybeTlsStream, TlsMode};
use super::{SessionConfig, SessionError};

/// Largest message accepted.
const MAX_MESSAGE: usize = 2 * 1024 * 1024 * 1024;
/// Protection against a server that never ends a line (a message may
/// legitimately be one long line).
const MAX_LINE: usize = MAX_MESSAGE;
/// RETR commands sent ahead of their answers, with PIPELINING.
const RETR_WINDOW: usize = 32;

/// Everything that can go wrong talking to a POP3 server.
#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    /// What can go wrong whatever the protocol: the connection, a
    /// timeout, a refused login, an unreadable answer, a missing feature
    /// (UIDL, STLS, ...).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The server answered a command with `-ERR`.
    #[error("{server} refused {command}: {text}")]
    Err {
        /// `host:port`.
        server: String,
        /// The command name, never its arguments.
        command: &'static str,
        /// The server's text after `-ERR`.
        text: String,
    },
}

/// Response codes (RFC 3206) after which a later attempt may succeed.
const RETRYABLE_CODES: &[&str] = &["[IN-USE]", "[SYS/TEMP]", "[LOGIN-DELAY]"];

impl Pop3Error {
    /// Whether the same operation may succeed later, on a new connection:
    /// network trouble, timeouts, a mailbox locked by another session, a
    /// temporary server failure. A refused login is permanent.
    pub fn is_retryable(&self) -> bool {
        match self {
            Pop3Error::Session(e) => e.is_retryable(),
            Pop3Error::Err { text, .. } => {
                let upper = text.to_ascii_uppercase();
                RETRYABLE_CODES.iter().any(|code| upper.starts_with(code))
            }
        }
    }
}

impl From<ConnectError> for Pop3Error {
    fn from(e: ConnectError) -> Self {
        Pop3Error::Session(e.into())
    }
}

/// One message of the mailbox: its number in this session, its unique ID
/// and its size in octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The message number in this session.
    pub number: u32,
    /// The message's unique ID, stable across sessions.
    pub uidl: String,
    /// The size the server gives, in bytes.
    pub size: u64,
}

/// A message retrieved by [`Session::retr_to`]: its number and its bytes,
/// or why the server refused it.
pub type Retrieved = (u32, Result<Vec<u8>, Pop3Error>);

/// A logged-in POP3 session.
pub struct Session {
    io: BufReader<MaybeTlsStream>,
    server: String,
    user: String,
    timeout: Duration,
    capabilities: Vec<String>,
    /// Set after an I/O error or timeout: the session cannot be used again.
    broken: bool,
}

impl Session {
    /// Connects, secures the connection as configured and logs in.
    pub async fn connect(config: &SessionConfig) -> Result<Session, Pop3Error> {
        let stream = tls::connect(&config.server, config.timeout).await?;
        let mut session = Session {
            io: BufReader::new(stream),
            server: config.server.to_string(),
            user: config.user.clone(),
            timeout: config.timeout,
            capabilities: Vec::new(),
            broken: false,
        };
        session.status("greeting").await?;
        session.capa().await;
        if config.server.tls == TlsMode::StartTls {
            if !session.has("STLS") {
                return Err(session.unsupported("STLS"));
            }
            session.command("STLS", "STLS").await?;
            let Session {
                io,
                server,
                user,
                timeout,
                ..
            } = session;
            let stream = tls::start_tls(io, &config.server, config.timeout).await?;
            session = Session {
                io: BufReader::new(stream),
                server,
                user,
                timeout,
                capabilities: Vec::new(),
                broken: false,
            };
            session.capa().await;
        }
        session.login(&config.auth).await?;
        // Some servers announce more once logged in.
        session.capa().await;
        Ok(session)
    }

    /// `host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether the server offers a capability (CAPA), by its first word.
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| {
            c.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(capability))
        })
    }

    /// STAT: the number of messages and their total size.
    pub async fn stat(&mut self) -> Result<(u32, u64), Pop3Error> {
        let text = self.command("STAT", "STAT").await?;
        let mut words = text.split_whitespace();
        let count = words.next().and_then(|w| w.parse().ok());
        let size = words.next().and_then(|w| w.parse().ok());
        match (count, size) {
            (Some(count), Some(size)) => Ok((count, size)),
            _ => Err(self.protocol(&format!("STAT answer {text:?}"))),
        }
    }

    /// UIDL and LIST of every message, joined by message number.
    pub async fn list_all(&mut self) -> Result<Vec<Listing>, Pop3Error> {
        let uidls = match self.command("UIDL", "UIDL").await {
            Ok(_) => self.read_multiline().await?,
            Err(Pop3Error::Err { .. }) => return Err(self.unsupported("UIDL")),
            Err(e) => return Err(e),
        };
        self.command("LIST", "LIST").await?;
        let sizes = self.read_multiline().await?;
        let mut by_number = std::collections::HashMap::new();
        for line in String::from_utf8_lossy(&sizes).lines() {
            let (number, size) = self.pair(line)?;
            let size = size
                .parse::<u64>()
                .map_err(|_| self.protocol(&format!("LIST line {line:?}")))?;
            by_number.insert(number, size);
        }
        let mut listings = Vec::new();
        for line in String::from_utf8_lossy(&uidls).lines() {
            let (number, uidl) = self.pair(line)?;
            let size = by_number.get(&number).copied().unwrap_or(0);
            listings.push(Listing {
                number,
                uidl: uidl.to_owned(),
                size,
            });
        }
        Ok(listings)
    }

    /// RETR one message: its exact bytes.
    pub async fn retr(&mut self, number: u32) -> Result<Vec<u8>, Pop3Error> {
        self.command(&format!("RETR {number}"), "RETR").await?;
        self.read_multiline().await
    }

    /// RETR several messages, pipelined when the server allows it, sending
    /// each to `tx` as it arrives. A message the server refuses is sent with
    /// its error; a connection failure ends the call. Stops early, without
    /// an error, when `tx` is closed.
    pub async fn retr_to(
        &mut self,
        numbers: &[u32],
        tx: &mpsc::Sender<Retrieved>,
    ) -> Result<(), Pop3Error> {
        let window = if self.has("PIPELINING") {
            RETR_WINDOW
        } else {
            1
        };
        let mut sent = 0;
        for (answered, &number) in numbers.iter().enumerate() {
            while sent < numbers.len() && sent < answered + window {
                self.write(format!("RETR {}\r\n", numbers[sent]).as_bytes())
                    .await?;
                sent += 1;
            }
            self.flush().await?;
            let result = match self.status("RETR").await {
                Ok(_) => Ok(self.read_multiline().await?),
                Err(e @ Pop3Error::Err { .. }) => Err(e),
                Err(e) => return Err(e),
            };
            if tx.send((number, result)).await.is_err() {
                // Answers to commands already sent are still on their way.
                self.broken = true;
                return Ok(());
            }
        }
        Ok(())
    }

    /// QUIT: ends the session without deleting anything (no DELE was sent).
    pub async fn quit(mut self) -> Result<(), Pop3Error> {
        if self.broken {
            return Ok(());
        }
        self.command("QUIT", "QUIT").await.map(drop)
    }

    async fn capa(&mut self) {
        if self.command("CAPA", "CAPA").await.is_ok()
            && let Ok(lines) = self.read_multiline().await
        {
            self.capabilities = String::from_utf8_lossy(&lines)
                .lines()
                .map(str::to_owned)
                .collect();
        }
    }

    async fn login(&mut self, auth: &Auth) -> Result<(), Pop3Error> {
        let refused = |this: &Session, error: Pop3Error| match error {
            Pop3Error::Err { text, .. } if !RETRYABLE_CODES.iter().any(|c| text.starts_with(c)) => {
                Pop3Error::Session(SessionError::Auth {
                    user: auth.login_name(&this.user),
                    server: this.server.clone(),
                    detail: text,
                })
            }
            other => other,
        };
        let b64 = &base64::engine::general_purpose::STANDARD;
        let (mechanism, message) = match auth {
            Auth::XOAuth2 { .. } => ("XOAUTH2", auth.xoauth2(&self.user).map(String::into_bytes)),
            _ => ("PLAIN", auth.plain(&self.user)),
        };
        if self.sasl(mechanism) {
            let message = b64.encode(message.unwrap_or_default());
            let result = self
                .command(&format!("AUTH {mechanism} {message}"), "AUTH")
                .await;
            return result.map(drop).map_err(|e| refused(self, e));
        }
        match auth {
            Auth::Password(password) => {
                let user = self.user.clone();
                let result = self.command(&format!("USER {user}"), "USER").await;
                result.map_err(|e| refused(self, e))?;
                let result = self.command(&format!("PASS {password}"), "PASS").await;
                result.map(drop).map_err(|e| refused(self, e))
            }
            Auth::Proxy { .. } => {
                Err(self.unsupported("SASL PLAIN (for an administrator's login)"))
            }
            Auth::XOAuth2 { .. } => Err(self.unsupported("XOAUTH2")),
        }
    }

    /// Whether CAPA lists a SASL mechanism.
    fn sasl(&self, mechanism: &str) -> bool {
        self.capabilities.iter().any(|c| {
            let mut words = c.split_whitespace();
            words.next().is_some_and(|w| w.eq_ignore_ascii_case("SASL"))
                && words.any(|w| w.eq_ignore_ascii_case(mechanism))
        })
    }

    /// Sends a one-line command and reads its status line. `name` is what
    /// errors show, never the arguments (which may hold a password).
    async fn command(&mut self, line: &str, name: &'static str) -> Result<String, Pop3Error> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write(&bytes).await?;
        self.flush().await?;
        self.status(name).await
    }

    /// Reads a status line: the text after `+OK`, or an error for `-ERR`.
    async fn status(&mut self, name: &'static str) -> Result<String, Pop3Error> {
        let line = self.read_line().await?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if let Some(rest) = text.strip_prefix("+OK") {
            Ok(rest.trim_start().to_owned())
        } else if let Some(rest) = text.strip_prefix("-ERR") {
            Err(Pop3Error::Err {
                server: self.server.clone(),
                command: name,
                text: rest.trim_start().to_owned(),
            })
        } else {
            self.broken = true;
            Err(self.protocol(&format!("{name} answered {text:?}")))
        }
    }

    /// Reads a multi-line response body after its `+OK`: lines up to the
    /// one holding only a dot, dot-unstuffed, otherwise byte for byte.
    async fn read_multiline(&mut self) -> Result<Vec<u8>, Pop3Error> {
        let mut data = Vec::new();
        loop {
            let line = self.read_line().await?;
            let content = match line.first() {
                Some(b'.') => {
                    if line == b".\r\n" || line == b".\n" || line == b"." {
                        return Ok(data);
                    }
                    &line[1..]
                }
                _ => &line[..],
            };
            if data.len() + content.len() > MAX_MESSAGE {
                self.broken = true;
                return Err(self.protocol("a response larger than 2 GiB"));
            }
            data.extend_from_slice(content);
        }
    }

    /// Reads one line, with its line end, under the timeout.
    async fn read_line(&mut self) -> Result<Vec<u8>, Pop3Error> {
        if self.broken {
            return Err(self.lost(io::ErrorKind::NotConnected.into()));
        }
        let mut line = Vec::new();
        let read = tokio::time::timeout(self.timeout, read_line(&mut self.io, &mut line)).await;
        match read {
            Err(_) => {
                self.broken = true;
                Err(Pop3Error::Session(SessionError::Timeout {
                    server: self.server.clone(),
                    after: self.timeout,
                }))
            }
            Ok(Err(e)) => {
                self.broken = true;
                Err(self.lost(e))
            }
            Ok(Ok(())) => Ok(line),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Pop3Error> {
        if self.broken {
            return Err(self.lost(io::ErrorKind::NotConnected.into()));
        }
        let written = tokio::time::timeout(self.timeout, self.io.get_mut().write_all(bytes)).await;
        self.io_result(written)
    }

    async fn flush(&mut self) -> Result<(), Pop3Error> {
        let flushed = tokio::time::timeout(self.timeout, self.io.get_mut().flush()).await;
        self.io_result(flushed)
    }

    fn io_result(
        &mut self,
        result: Result<io::Result<()>, tokio::time::error::Elapsed>,
    ) -> Result<(), Pop3Error> {
        match result {
            Err(_) => {
                self.broken = true;
                Err(Pop3Error::Session(SessionError::Timeout {
                    server: self.server.clone(),
                    after: self.timeout,
                }))
            }
            Ok(Err(e)) => {
                self.broken = true;
                Err(self.lost(e))
            }
            Ok(Ok(())) => Ok(()),
        }
    }

    /// A `number word` line of UIDL or LIST.
    fn pair<'l>(&self, line: &'l str) -> Result<(u32, &'l str), Pop3Error> {
        let mut words = line.split_whitespace();
        match (words.next().and_then(|n| n.parse().ok()), words.next()) {
            (Some(number), Some(word)) => Ok((number, word)),
            _ => Err(self.protocol(&format!("listing line {line:?}"))),
        }
    }

    fn lost(&self, source: io::Error) -> Pop3Error {
        SessionError::io(&self.server, source).into()
    }

    fn protocol(&self, detail: &str) -> Pop3Error {
        Pop3Error::Session(SessionError::Protocol {
            server: self.server.clone(),
            detail: detail.to_owned(),
        })
    }

    fn unsupported(&self, what: &str) -> Pop3Error {
        Pop3Error::Session(SessionError::Unsupported {
            server: self.server.clone(),
            what: what.to_owned(),
        })
    }
}

/// Reads up to and including the next LF (or to the end of the stream,
/// which is an error: every POP3 line ends with CRLF).
async fn read_line(io: &mut BufReader<MaybeTlsStream>, line: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let available = io.fill_buf().await?;
        if available.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..take]);
        io.consume(take);
        if done {
            return Ok(());
        }
        if line.len() > MAX_LINE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a line longer than the largest message",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A scripted server: answers each command from `answer`, one
    /// connection, and returns every line it received.
    async fn serve(answer: fn(&str) -> String) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = tokio::io::BufReader::new(read).lines();
            write.write_all(b"+OK ready\r\n").await.unwrap();
            let mut seen = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let reply = answer(&line);
                seen.push(line);
                write.write_all(reply.as_bytes()).await.unwrap();
                if seen.last().is_some_and(|l| l == "QUIT") {
                    break;
                }
            }
            seen
        });
        (port, task)
    }

    fn config(port: u16, password: &str) -> SessionConfig {
        let server = crate::vocabulary::Server {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            accept_invalid_certs: false,
        };
        server.session(
            "alice",
            Auth::Password(password.into()),
            Duration::from_secs(5),
        )
    }

    fn mailbox(line: &str) -> String {
        match line {
            "CAPA" => "+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n".into(),
            "USER alice" => "+OK\r\n".into(),
            "PASS secret" => "+OK logged in\r\n".into(),
            "PASS wrong" => "-ERR [AUTH] Authentication failed.\r\n".into(),
            "UIDL" => "+OK\r\n1 aaa\r\n2 bbb\r\n3 ccc\r\n.\r\n".into(),
            "LIST" => "+OK\r\n1 10\r\n2 20\r\n3 30\r\n.\r\n".into(),
            "RETR 1" => "+OK\r\nSubject: 1\r\n\r\n..dot\r\n...\r\n.\r\n".into(),
            "RETR 2" => "-ERR no such message\r\n".into(),
            "RETR 3" => "+OK\r\nA: b\r\n\r\nno final line end\r\n.\r\n".into(),
            "STAT" => "+OK 3 60\r\n".into(),
            "QUIT" => "+OK bye\r\n".into(),
            _ => "-ERR unknown\r\n".into(),
        }
    }

    #[tokio::test]
    async fn lists_and_retrieves_dot_unstuffed_with_pipelining() {
        let (port, server) = serve(mailbox).await;
        let mut session = Session::connect(&config(port, "secret")).await.unwrap();
        assert!(session.has("PIPELINING"));
        assert_eq!(session.stat().await.unwrap(), (3, 60));
        let listed = session.list_all().await.unwrap();
        assert_eq!(
            listed,
            [
                Listing {
                    number: 1,
                    uidl: "aaa".into(),
                    size: 10
                },
                Listing {
                    number: 2,
                    uidl: "bbb".into(),
                    size: 20
                },
                Listing {
                    number: 3,
                    uidl: "ccc".into(),
                    size: 30
                },
            ]
        );
        let (tx, mut rx) = mpsc::channel(8);
        session.retr_to(&[1, 2, 3], &tx).await.unwrap();
        drop(tx);
        let (n, first) = rx.recv().await.unwrap();
        assert_eq!(
            (n, first.unwrap()),
            (1, b"Subject: 1\r\n\r\n.dot\r\n..\r\n".to_vec())
        );
        let (n, second) = rx.recv().await.unwrap();
        assert_eq!(n, 2);
        assert!(!second.unwrap_err().is_retryable());
        assert_eq!(
            rx.recv().await.unwrap().1.unwrap(),
            b"A: b\r\n\r\nno final line end\r\n"
        );
        assert_eq!(
            session.retr(1).await.unwrap(),
            b"Subject: 1\r\n\r\n.dot\r\n..\r\n"
        );
        session.quit().await.unwrap();
        let seen = server.await.unwrap();
        assert!(!seen.iter().any(|l| l.starts_with("DELE")), "{seen:?}");
    }

    #[tokio::test]
    async fn a_wrong_password_is_permanent_and_never_shown() {
        let (port, _server) = serve(mailbox).await;
        let error = match Session::connect(&config(port, "wrong")).await {
            Err(e) => e,
            Ok(_) => panic!("logged in with a wrong password"),
        };
        assert!(
            matches!(error, Pop3Error::Session(SessionError::Auth { .. })),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        let text = error.to_string();
        assert!(text.contains("alice") && text.contains(&format!("127.0.0.1:{port}")));
        assert!(!text.contains("wrong"), "{text}");
        assert!(!format!("{error:?}{:?}", config(port, "wrong")).contains("wrong"));
    }

    #[test]
    fn temporary_refusals_are_retryable() {
        let err = |text: &str| Pop3Error::Err {
            server: "s:110".into(),
            command: "PASS",
            text: text.into(),
        };
        assert!(err("[IN-USE] mailbox locked").is_retryable());
        assert!(err("[SYS/TEMP] try later").is_retryable());
        assert!(!err("[AUTH] no").is_retryable());
    }
}
