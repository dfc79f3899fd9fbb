//! Framed I/O on one connection: reading whole responses (lines plus
//! literals) and writing commands (with literals), under a "no progress"
//! timeout.
//!
//! The timeout applies to each read or write of the socket, not to a whole
//! response: a 20 MB literal that keeps flowing never times out, a server
//! that goes silent does. After any I/O error, timeout or unparseable
//! response the transport is *broken*: every later call fails with the same
//! error and the caller must reconnect.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::command::{Command, Part};
use super::error::ImapError;
use super::parse;
use super::response::{RawResponse, Response};
use crate::protocols::SessionError;
use crate::protocols::tls::{self, MaybeTlsStream, Server};

/// Read buffer size; literals larger than this bypass the buffer.
const READ_BUFFER: usize = 64 * 1024;
/// Buffered command bytes are written once they exceed this.
const WRITE_BUFFER: usize = 64 * 1024;
/// Largest chunk handed to one timed write.
const WRITE_CHUNK: usize = 256 * 1024;
/// Protection against a server that never ends a line.
const MAX_LINE: usize = 64 * 1024 * 1024;
/// Largest literal accepted (a message body).
const MAX_LITERAL: usize = 2 * 1024 * 1024 * 1024;
/// Literals up to this size may be sent non-synchronising under LITERAL-.
const LITERAL_MINUS_MAX: usize = 4096;

/// How literals may be sent, from the server's capabilities.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LiteralMode {
    pub plus: bool,
    pub minus: bool,
}

/// Result of writing a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Fully written (possibly still buffered: call `flush`).
    Written,
    /// The server answered the command (with a tagged response, now queued)
    /// instead of asking for its literal; the rest was not sent.
    Refused,
}

pub(crate) struct Transport {
    io: BufReader<MaybeTlsStream>,
    out: Vec<u8>,
    /// `host:port`, for errors and logs.
    pub server: String,
    timeout: Duration,
    /// Responses read while waiting for a continuation, handed out first.
    queued: VecDeque<Response>,
    broken: Option<ImapError>,
    next_tag: u32,
}

impl Transport {
    pub fn new(stream: MaybeTlsStream, server: String, timeout: Duration) -> Self {
        Transport {
            io: BufReader::with_capacity(READ_BUFFER, stream),
            out: Vec::with_capacity(WRITE_BUFFER),
            server,
            timeout,
            queued: VecDeque::new(),
            broken: None,
            next_tag: 1,
        }
    }

    pub fn is_tls(&self) -> bool {
        self.io.get_ref().is_tls()
    }

    /// The error that broke the connection, if any.
    pub fn broken(&self) -> Option<&ImapError> {
        self.broken.as_ref()
    }

    /// Marks the connection unusable and returns the error.
    pub fn fail(&mut self, e: ImapError) -> ImapError {
        if self.broken.is_none() {
            self.broken = Some(e.clone());
        }
        e
    }

    fn check(&self) -> Result<(), ImapError> {
        match &self.broken {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    pub fn tag(&mut self) -> String {
        let tag = format!("m{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Replaces the stream with its TLS upgrade (after `STARTTLS` OK).
    pub async fn upgrade(self, server: &Server) -> Result<Transport, ImapError> {
        let stream = tls::start_tls(self.io, server, self.timeout).await?;
        let mut t = Transport::new(stream, self.server, self.timeout);
        t.next_tag = self.next_tag;
        Ok(t)
    }

    fn io_error(&self, e: std::io::Error) -> ImapError {
        SessionError::io(&self.server, e).into()
    }

    fn timeout_error(&self) -> ImapError {
        ImapError::Session(SessionError::Timeout {
            server: self.server.clone(),
            after: self.timeout,
        })
    }

    fn eof_error(&self) -> ImapError {
        self.io_error(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "server closed the connection",
        ))
    }

    /// The next response: a queued one, else one from the wire.
    pub async fn read_response(&mut self) -> Result<Response, ImapError> {
        if let Some(r) = self.queued.pop_front() {
            return Ok(r);
        }
        self.read_from_wire().await
    }

    /// Whether a response is waiting in the queue (no I/O needed).
    pub fn has_queued(&self) -> bool {
        !self.queued.is_empty()
    }

    async fn read_from_wire(&mut self) -> Result<Response, ImapError> {
        self.check()?;
        let raw = match self.read_frame().await {
            Ok(raw) => raw,
            Err(e) => return Err(self.fail(e)),
        };
        if tracing::enabled!(tracing::Level::TRACE) {
            let end = raw.text.len().min(300);
            tracing::trace!(
                server = %self.server,
                "S: {}",
                String::from_utf8_lossy(&raw.text[..end]).trim_end()
            );
        }
        parse::parse(raw).map_err(|e| {
            let e = ImapError::Session(SessionError::Protocol {
                server: self.server.clone(),
                detail: e.0,
            });
            self.fail(e)
        })
    }

    async fn read_frame(&mut self) -> Result<RawResponse, ImapError> {
        let mut raw = RawResponse::default();
        let mut first = true;
        loop {
            let start = raw.text.len();
            self.read_line(&mut raw.text).await?;
            let line = &raw.text[start..];
            if first && !parse::may_have_literal(line) {
                break;
            }
            first = false;
            match parse::literal_at_end(line) {
                Some(n) => {
                    let literal = self.read_literal(n).await?;
                    raw.literals.push(literal);
                }
                None => break,
            }
        }
        Ok(raw)
    }

    async fn read_line(&mut self, out: &mut Vec<u8>) -> Result<(), ImapError> {
        let start = out.len();
        loop {
            let buf = match tokio::time::timeout(self.timeout, self.io.fill_buf()).await {
                Err(_) => return Err(self.timeout_error()),
                Ok(Err(e)) => return Err(self.io_error(e)),
                Ok(Ok(buf)) => buf,
            };
            if buf.is_empty() {
                return Err(self.eof_error());
            }
            if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                out.extend_from_slice(&buf[..=pos]);
                self.io.consume(pos + 1);
                return Ok(());
            }
            let n = buf.len();
            out.extend_from_slice(buf);
            self.io.consume(n);
            if out.len() - start > MAX_LINE {
                return Err(ImapError::Session(SessionError::Protocol {
                    server: self.server.clone(),
                    detail: format!("response line longer than {MAX_LINE} bytes"),
                }));
            }
        }
    }

    async fn read_literal(&mut self, n: usize) -> Result<Vec<u8>, ImapError> {
        if n > MAX_LITERAL {
            return Err(ImapError::Session(SessionError::Protocol {
                server: self.server.clone(),
                detail: format!("literal of {n} bytes is too large"),
            }));
        }
        // Grow in steps so a bogus size cannot reserve gigabytes up front.
        let mut buf = Vec::with_capacity(n.min(16 * 1024 * 1024));
        while buf.len() < n {
            let old = buf.len();
            let want = (n - old).min(1024 * 1024);
            buf.resize(old + want, 0);
            let read = tokio::time::timeout(self.timeout, self.io.read(&mut buf[old..])).await;
            let got = match read {
                Err(_) => return Err(self.timeout_error()),
                Ok(Err(e)) => return Err(self.io_error(e)),
                Ok(Ok(0)) => return Err(self.eof_error()),
                Ok(Ok(got)) => got,
            };
            buf.truncate(old + got);
        }
        Ok(buf)
    }

    /// Writes bytes to the socket in timed chunks.
    async fn write_timed(&mut self, mut data: &[u8]) -> Result<(), ImapError> {
        while !data.is_empty() {
            let n = data.len().min(WRITE_CHUNK);
            let write = self.io.get_mut().write_all(&data[..n]);
            match tokio::time::timeout(self.timeout, write).await {
                Err(_) => return Err(self.timeout_error()),
                Ok(Err(e)) => return Err(self.io_error(e)),
                Ok(Ok(())) => data = &data[n..],
            }
        }
        Ok(())
    }

    async fn write_buffered(&mut self) -> Result<(), ImapError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let result = self.write_timed(&out).await;
        self.out = out;
        self.out.clear();
        result
    }

    /// Writes everything buffered and flushes the stream.
    pub async fn flush(&mut self) -> Result<(), ImapError> {
        self.check()?;
        let result = self.flush_inner().await;
        result.map_err(|e| self.fail(e))
    }

    async fn flush_inner(&mut self) -> Result<(), ImapError> {
        self.write_buffered().await?;
        match tokio::time::timeout(self.timeout, self.io.get_mut().flush()).await {
            Err(_) => Err(self.timeout_error()),
            Ok(Err(e)) => Err(self.io_error(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Writes `tag command` into the buffer (sending it when the buffer is
    /// full). Literals are non-synchronising when `literals` allows; else
    /// the command is flushed and the continuation awaited, queueing any
    /// other response that arrives meanwhile.
    pub async fn write_command(
        &mut self,
        tag: &str,
        cmd: &Command<'_>,
        literals: LiteralMode,
    ) -> Result<Sent, ImapError> {
        self.check()?;
        tracing::trace!(server = %self.server, "C: {tag} {}", cmd.for_log());
        let result = self.write_parts(tag, cmd, literals).await;
        result.map_err(|e| self.fail(e))
    }

    async fn write_parts(
        &mut self,
        tag: &str,
        cmd: &Command<'_>,
        literals: LiteralMode,
    ) -> Result<Sent, ImapError> {
        self.out.extend_from_slice(tag.as_bytes());
        self.out.push(b' ');
        for part in &cmd.parts {
            match part {
                Part::Text(t) => self.out.extend_from_slice(t),
                Part::Literal(data) => {
                    let plus = literals.plus || (literals.minus && data.len() <= LITERAL_MINUS_MAX);
                    if plus {
                        self.out
                            .extend_from_slice(format!("{{{}+}}\r\n", data.len()).as_bytes());
                    } else {
                        self.out
                            .extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
                        self.flush_inner().await?;
                        if !self.await_continuation(tag).await? {
                            return Ok(Sent::Refused);
                        }
                    }
                    if data.len() >= WRITE_BUFFER {
                        self.write_buffered().await?;
                        self.write_timed(data).await?;
                    } else {
                        self.out.extend_from_slice(data);
                    }
                }
            }
        }
        self.out.extend_from_slice(b"\r\n");
        if self.out.len() >= WRITE_BUFFER {
            self.write_buffered().await?;
        }
        Ok(Sent::Written)
    }

    /// Reads until the server asks for literal data (`true`) or completes
    /// the command `tag` without asking (`false`). Other responses are
    /// queued for the caller.
    async fn await_continuation(&mut self, tag: &str) -> Result<bool, ImapError> {
        loop {
            let r = self.read_from_wire().await?;
            match r {
                Response::Continuation(_) => return Ok(true),
                Response::Tagged { tag: ref t, .. } if t == tag => {
                    self.queued.push_back(r);
                    return Ok(false);
                }
                other => self.queued.push_back(other),
            }
        }
    }

    /// Writes a raw line (a SASL response), never logged.
    pub async fn write_secret_line(&mut self, line: &[u8]) -> Result<(), ImapError> {
        self.check()?;
        self.out.extend_from_slice(line);
        self.out.extend_from_slice(b"\r\n");
        self.flush().await
    }

    /// Best-effort close of the write side.
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(self.timeout, self.io.get_mut().shutdown()).await;
    }
}
