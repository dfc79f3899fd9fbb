//! One SMTP connection: replies read line by line with their limits, the
//! EHLO extensions, and the commands of a submission.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

use super::*;
use crate::protocols::tls::{self, MaybeTlsStream};

/// One reply: its code and its text lines.
#[derive(Debug)]
pub(super) struct Reply {
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
pub(super) struct Extensions {
    /// Keywords with their parameters, upper case: `AUTH PLAIN LOGIN`.
    lines: Vec<String>,
}

impl Extensions {
    pub(super) fn has(&self, keyword: &str) -> bool {
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
pub(super) struct Client {
    stream: BufReader<MaybeTlsStream>,
    /// `host:port`, for errors.
    pub(super) server: String,
    /// The name given in EHLO: our address as a literal.
    helo_name: String,
}

impl Client {
    pub(super) async fn connect(server: &Server) -> Result<Client, SmtpError> {
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

    pub(super) async fn greeting(&mut self) -> Result<(), SmtpError> {
        self.reply_ok("greeting", REPLY_TIMEOUT).await.map(drop)
    }

    pub(super) async fn ehlo(&mut self) -> Result<Extensions, SmtpError> {
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
    pub(super) async fn transaction(
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
    pub(super) async fn upgrade(self, server: &Server) -> Result<Client, SmtpError> {
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
    pub(super) async fn command(
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
