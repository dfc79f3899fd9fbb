//! A logged-in connection: setup, login, and the loop that runs a command
//! to its tagged completion.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Mutex;

use base64::Engine as _;

use super::capability::Capabilities;
use super::command::Command;
use super::error::ImapError;
use super::response::{RespText, Response, Status as RespStatus, Value};
use super::transport::{LiteralMode, Transport};
use super::{Auth, SessionConfig, SessionError};
use crate::protocols::tls::{self, TlsMode};

/// Alerts this process has logged, by server, user and text: Courier
/// sends the same `[ALERT]` on every APPEND of an 8-bit message, which is
/// worth one warning per account, not one per message.
static ALERTS_LOGGED: Mutex<BTreeSet<(String, String, String)>> = Mutex::new(BTreeSet::new());

/// Alerts remembered at most; the set starts over past this.
const ALERTS_REMEMBERED: usize = 4096;

/// Whether this alert is new for this server and user (and remembers it).
fn first_alert(server: &str, user: &str, text: &str) -> bool {
    // A poisoned lock only means another thread panicked while logging.
    let mut logged = ALERTS_LOGGED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if logged.len() >= ALERTS_REMEMBERED {
        logged.clear();
    }
    logged.insert((server.to_owned(), user.to_owned(), text.to_owned()))
}

/// A logged-in IMAP connection.
///
/// Methods take `&mut self`: one command (or one pipeline) at a time. After
/// an error for which [`ImapError::is_connection_lost`] holds, every method
/// fails; connect again.
pub struct Session {
    pub(crate) t: Transport,
    pub(crate) caps: Capabilities,
    user: String,
    /// Code and text of the latest tagged OK (`[READ-WRITE]`,
    /// `[APPENDUID ...]`).
    pub(crate) last_ok: RespText,
    /// Raw name of the selected mailbox.
    pub(crate) selected: Option<String>,
    /// Ask for mod-sequences (CONDSTORE) when the server has them.
    pub(crate) modseq: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.t.server)
            .field("user", &self.user)
            .field("tls", &self.t.is_tls())
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects, secures the connection as configured, logs in and reads
    /// the capabilities of the authenticated state.
    pub async fn connect(config: &SessionConfig) -> Result<Session, ImapError> {
        let server = config.server.to_string();
        let stream = tls::connect(&config.server, config.timeout).await?;
        let mut session = Session::new(Transport::new(stream, server, config.timeout), config);
        let preauth = match session.t.read_response().await? {
            Response::Status {
                status: RespStatus::Ok,
                text,
            } => {
                session.take_capability_code(&text);
                false
            }
            Response::Status {
                status: RespStatus::Preauth,
                text,
            } => {
                session.take_capability_code(&text);
                true
            }
            Response::Status {
                status: RespStatus::Bye,
                text,
            } => return Err(session.bye(text)),
            other => return Err(session.unexpected(&other)),
        };
        if config.server.tls == TlsMode::StartTls {
            if preauth {
                return Err(session.unsupported("STARTTLS (the connection is pre-authenticated)"));
            }
            if session.caps.is_empty() {
                session.capability().await?;
            }
            if !session.caps.has("STARTTLS") {
                return Err(session.unsupported("STARTTLS"));
            }
            session.run(&Command::new("STARTTLS")).await?;
            let t = session.t.upgrade(&config.server).await?;
            session = Session::new(t, config);
        }
        if session.caps.is_empty() {
            session.capability().await?;
        }
        if !preauth {
            session.login(config).await?;
            // Only a CAPABILITY code on the login completion is known to
            // describe the authenticated state; anything seen during the
            // exchange may be stale.
            if session.last_ok.code_name() != Some("CAPABILITY") {
                session.capability().await?;
            }
        }
        tracing::debug!(server = %session.t.server, user = %session.user, "IMAP session ready");
        Ok(session)
    }

    fn new(t: Transport, config: &SessionConfig) -> Session {
        Session {
            t,
            caps: Capabilities::default(),
            user: config.auth.login_name(&config.user),
            last_ok: RespText::default(),
            selected: None,
            modseq: true,
        }
    }

    /// Stops asking for mod-sequences (CONDSTORE) on SELECT and STATUS. A
    /// server like Dovecot then need not keep them up to date for the
    /// mailboxes this session writes to, which makes APPENDs cheaper.
    pub fn without_modseq(mut self) -> Session {
        self.modseq = false;
        self
    }

    /// Whether to ask for mod-sequences.
    pub(crate) fn wants_modseq(&self) -> bool {
        self.modseq && self.caps.condstore
    }

    /// The server's capabilities (as of the authenticated state).
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// `host:port` of the server.
    pub fn server(&self) -> &str {
        &self.t.server
    }

    /// Who is logged in, in words: the login name, and the administrator
    /// acting for it if any.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the connection is unusable (after an I/O error, timeout,
    /// BYE or protocol error).
    pub fn is_broken(&self) -> bool {
        self.t.broken().is_some()
    }

    /// Sends NOOP (keep-alive, or a cheap liveness check).
    pub async fn noop(&mut self) -> Result<(), ImapError> {
        self.run(&Command::new("NOOP")).await.map(drop)
    }

    /// Logs out and closes the connection. Errors are of little interest
    /// here but reported.
    pub async fn logout(mut self) -> Result<(), ImapError> {
        let tag = self.send(&Command::new("LOGOUT")).await?;
        loop {
            match self.t.read_response().await? {
                Response::Tagged { tag: t, .. } if t == tag => break,
                _ => {}
            }
        }
        self.t.shutdown().await;
        Ok(())
    }

    /// The personal namespace: its prefix (often `""` or `"INBOX."`) and
    /// hierarchy delimiter. Without NAMESPACE support: `""` and the
    /// delimiter LIST reports.
    pub async fn namespace(&mut self) -> Result<(String, Option<char>), ImapError> {
        if self.caps.namespace {
            for r in self.run(&Command::new("NAMESPACE")).await? {
                if let Response::Data { kind, data } = r
                    && kind == "NAMESPACE"
                    && let Some(first) =
                        data.first().and_then(Value::as_list).and_then(<[_]>::first)
                    && let Some([prefix, delimiter, ..]) = first.as_list()
                {
                    let prefix = String::from_utf8_lossy(prefix.as_bytes().unwrap_or_default());
                    return Ok((prefix.into_owned(), delimiter_of(delimiter)));
                }
            }
        }
        let cmd = Command::new("LIST").raw("\"\" \"\"");
        for r in self.run(&cmd).await? {
            if let Response::Data { kind, data } = r
                && kind == "LIST"
                && let Some(delimiter) = data.get(1)
            {
                return Ok((String::new(), delimiter_of(delimiter)));
            }
        }
        Ok((String::new(), None))
    }

    async fn capability(&mut self) -> Result<(), ImapError> {
        self.run(&Command::new("CAPABILITY")).await.map(drop)
    }

    async fn login(&mut self, config: &SessionConfig) -> Result<(), ImapError> {
        // Capabilities change after login; forget the pre-login set.
        let before = std::mem::take(&mut self.caps);
        let result = match &config.auth {
            Auth::XOAuth2 { .. } if !before.has("AUTH=XOAUTH2") => {
                Err(self.auth_error("the server does not offer AUTH=XOAUTH2"))
            }
            Auth::XOAuth2 { .. } => {
                let initial = config.auth.xoauth2(&config.user).unwrap_or_default();
                self.authenticate("XOAUTH2", initial.as_bytes(), &before)
                    .await
            }
            auth if before.has("AUTH=PLAIN") => {
                let initial = auth.plain(&config.user).unwrap_or_default();
                self.authenticate("PLAIN", &initial, &before).await
            }
            Auth::Proxy { .. } => Err(self.auth_error(
                "an administrator's login needs AUTH=PLAIN, which the server does not offer here",
            )),
            Auth::Password(_) if before.has("LOGINDISABLED") => Err(self.auth_error(
                "the server disables LOGIN on this connection and offers no AUTH=PLAIN (use TLS)",
            )),
            Auth::Password(password) => {
                let cmd = Command::new("LOGIN")
                    .string(config.user.as_bytes())
                    .string(password.as_bytes())
                    .secret();
                self.run(&cmd).await.map(drop)
            }
        };
        result.map_err(|e| match e {
            // Temporary refusals ([UNAVAILABLE], ...) stay retryable.
            ImapError::No { .. } if e.is_retryable() => e,
            ImapError::No { code, text, .. } => self.auth_error(&match code {
                Some(code) => format!("[{code}] {text}"),
                None => text,
            }),
            ImapError::Bad { text, .. } => self.auth_error(&text),
            other => other,
        })
    }

    /// SASL exchange with one initial response (PLAIN, XOAUTH2). A further
    /// challenge is an error report (XOAUTH2): answered with an empty line,
    /// after which the server sends NO.
    async fn authenticate(
        &mut self,
        mechanism: &str,
        initial: &[u8],
        caps: &Capabilities,
    ) -> Result<(), ImapError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(initial);
        let sasl_ir = caps.has("SASL-IR");
        let mut cmd = Command::new("AUTHENTICATE").raw(mechanism);
        if sasl_ir {
            cmd = cmd.raw(&encoded);
        }
        let tag = self.send(&cmd.secret()).await?;
        let mut initial_sent = sasl_ir;
        loop {
            match self.t.read_response().await? {
                Response::Continuation(_) if !initial_sent => {
                    initial_sent = true;
                    self.t.write_secret_line(encoded.as_bytes()).await?;
                }
                Response::Continuation(_) => self.t.write_secret_line(b"").await?,
                r @ Response::Tagged { .. } => {
                    if let Some(done) = self.complete(r, &tag, "AUTHENTICATE")? {
                        return done;
                    }
                }
                other => {
                    self.common(other)?;
                }
            }
        }
    }

    fn auth_error(&self, detail: &str) -> ImapError {
        ImapError::Session(SessionError::Auth {
            user: self.user.clone(),
            server: self.t.server.clone(),
            detail: detail.to_owned(),
        })
    }

    pub(crate) fn unsupported(&self, what: &str) -> ImapError {
        ImapError::Session(SessionError::Unsupported {
            server: self.t.server.clone(),
            what: what.to_owned(),
        })
    }

    pub(crate) fn protocol(&self, detail: String) -> ImapError {
        ImapError::Session(SessionError::Protocol {
            server: self.t.server.clone(),
            detail,
        })
    }

    fn bye(&mut self, text: RespText) -> ImapError {
        let e = ImapError::Bye {
            server: self.t.server.clone(),
            text: text.display(),
        };
        self.t.fail(e)
    }

    fn unexpected(&mut self, r: &Response) -> ImapError {
        let e = self.protocol(format!("unexpected response {r:?}"));
        self.t.fail(e)
    }

    fn take_capability_code(&mut self, text: &RespText) {
        if let Some(code) = &text.code
            && code.name == "CAPABILITY"
        {
            self.caps = Capabilities::from_words(code.words());
        }
    }

    pub(crate) fn literal_mode(&self) -> LiteralMode {
        LiteralMode {
            plus: self.caps.literal_plus,
            minus: self.caps.literal_minus,
        }
    }

    /// Writes a command, flushes it and returns its tag. If the server
    /// refused a synchronising literal, the tagged answer is queued and
    /// read by the next `next_for`.
    pub(crate) async fn send(&mut self, cmd: &Command<'_>) -> Result<String, ImapError> {
        let tag = self.t.tag();
        self.t.write_command(&tag, cmd, self.literal_mode()).await?;
        self.t.flush().await?;
        Ok(tag)
    }

    /// The next response to the command `tag`: `Some(untagged)`, or `None`
    /// once it completed with OK (its text is in `last_ok`). NO and BAD
    /// become errors.
    pub(crate) async fn next_for(
        &mut self,
        tag: &str,
        command: &'static str,
    ) -> Result<Option<Response>, ImapError> {
        loop {
            let r = self.t.read_response().await?;
            if let r @ Response::Tagged { .. } = r {
                match self.complete(r, tag, command)? {
                    Some(done) => return done.map(|()| None),
                    None => continue,
                }
            }
            if let Some(r) = self.common(r)? {
                return Ok(Some(r));
            }
        }
    }

    /// Handles a tagged response: `Some(result)` if it completes `tag`,
    /// `None` if it belongs to another command (ignored).
    pub(crate) fn complete(
        &mut self,
        r: Response,
        tag: &str,
        command: &'static str,
    ) -> Result<Option<Result<(), ImapError>>, ImapError> {
        let Response::Tagged {
            tag: t,
            status,
            text,
        } = r
        else {
            return Err(self.unexpected(&r));
        };
        if t != tag {
            tracing::debug!(server = %self.t.server, tag = %t, "ignoring completion of unknown command");
            return Ok(None);
        }
        Ok(Some(match status {
            RespStatus::Ok => {
                self.take_capability_code(&text);
                self.last_ok = text;
                Ok(())
            }
            RespStatus::No => Err(self.no_error(command, text)),
            _ => Err(ImapError::Bad {
                server: self.t.server.clone(),
                command,
                text: text.display(),
            }),
        }))
    }

    pub(crate) fn no_error(&self, command: &'static str, text: RespText) -> ImapError {
        ImapError::No {
            server: self.t.server.clone(),
            command,
            code: text.code.map(|c| c.name),
            text: text.text,
        }
    }

    /// Bookkeeping every untagged response gets: BYE breaks the session,
    /// CAPABILITY updates, ALERT is logged. Returns the response unless it
    /// was only bookkeeping.
    pub(crate) fn common(&mut self, r: Response) -> Result<Option<Response>, ImapError> {
        match r {
            Response::Status {
                status: RespStatus::Bye,
                text,
            } => Err(self.bye(text)),
            Response::Continuation(_) => Err(self.unexpected(&r)),
            Response::Data { ref kind, ref data } if kind == "CAPABILITY" => {
                self.caps = Capabilities::from_words(data.iter().filter_map(Value::as_atom));
                Ok(None)
            }
            Response::Status { ref text, .. } => {
                if text.code_name() == Some("ALERT") {
                    if first_alert(&self.t.server, &self.user, &text.text) {
                        tracing::warn!(server = %self.t.server, "server alert: {}", text.text);
                    } else {
                        tracing::debug!(server = %self.t.server, "server alert again: {}", text.text);
                    }
                }
                self.take_capability_code(text);
                Ok(Some(r))
            }
            other => Ok(Some(other)),
        }
    }

    /// Runs a command to completion and returns its untagged responses.
    pub(crate) async fn run(&mut self, cmd: &Command<'_>) -> Result<Vec<Response>, ImapError> {
        let tag = self.send(cmd).await?;
        let mut responses = Vec::new();
        while let Some(r) = self.next_for(&tag, cmd.name).await? {
            responses.push(r);
        }
        Ok(responses)
    }

    /// Sends several commands at once and waits for all of them. The outer
    /// error is a lost connection; the inner results are per command, in
    /// order. Untagged responses are dropped.
    pub(crate) async fn run_pipelined(
        &mut self,
        cmds: &[Command<'_>],
    ) -> Result<Vec<Result<(), ImapError>>, ImapError> {
        let mut tags = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            let tag = self.t.tag();
            self.t.write_command(&tag, cmd, self.literal_mode()).await?;
            tags.push(tag);
        }
        self.t.flush().await?;
        let mut results: Vec<Option<Result<(), ImapError>>> = vec![None; cmds.len()];
        let mut pending = cmds.len();
        while pending > 0 {
            let r = self.t.read_response().await?;
            let index = match &r {
                Response::Tagged { tag, .. } => tags.iter().position(|t| t == tag),
                _ => None,
            };
            match index {
                Some(i) => {
                    if let Some(done) = self.complete(r, &tags[i], cmds[i].name)?
                        && results[i].is_none()
                    {
                        results[i] = Some(done);
                        pending -= 1;
                    }
                }
                // Completion of an unknown command: ignored as in next_for.
                None if matches!(r, Response::Tagged { .. }) => {}
                None => {
                    self.common(r)?;
                }
            }
        }
        Ok(results.into_iter().flatten().collect())
    }
}

fn delimiter_of(v: &Value) -> Option<char> {
    v.as_bytes()
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.chars().next())
}
