//! Pipelined APPEND: the hot path of a migration.
//!
//! An [`Appender`] keeps up to `window` APPEND commands in flight on one
//! connection. With LITERAL+ (or LITERAL- for bodies up to 4 KiB) nothing
//! waits for the server before the window is full; otherwise each body
//! waits for the server's `+`, but commands are still not waited for one by
//! one. Small commands are buffered and written in batches.
//!
//! Every accepted request gets exactly one [`Completion`], in submission
//! order. A per-message `NO` (too big, over quota) fails that message only;
//! a connection failure fails every message still in flight with a
//! retryable error, after which [`Appender::push`] refuses new work. Call
//! [`Appender::finish`]: an appender dropped with commands in flight leaves
//! the session unusable (their answers would confuse the next command).
//!
//! A message may have been stored even when its completion reports a lost
//! connection (the answer never arrived); callers that retry should check
//! the destination first (e.g. by header fingerprint via
//! [`Session::fetch_headers`]).
//!
//! ```no_run
//! # use mailshift::protocols::imap::*;
//! # async fn f(session: &mut Session, bodies: Vec<Vec<u8>>) -> Result<(), ImapError> {
//! let mut appender = session.appender("Archive", 32);
//! for body in bodies {
//!     let request = AppendRequest {
//!         flags: vec!["\\Seen".into()],
//!         internal_date: Some("17-Jul-1996 02:44:25 -0700".into()),
//!         body,
//!     };
//!     for done in appender.push(request).await? {
//!         println!("#{} -> {:?}", done.index, done.result);
//!     }
//! }
//! for done in appender.finish().await {
//!     println!("#{} -> {:?}", done.index, done.result);
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;

use super::command::{Command, flag_list, is_valid_internal_date};
use super::error::ImapError;
use super::mailbox::filter_flags;
use super::response::{Response, Status as RespStatus};
use super::session::Session;

/// One message to append.
#[derive(Debug, Clone, Default)]
pub struct AppendRequest {
    /// Flags and keywords to set. `\Recent`, invalid atoms and (with
    /// [`Appender::permanent_flags`]) flags the mailbox would not keep are
    /// dropped.
    pub flags: Vec<String>,
    /// INTERNALDATE in IMAP form (`17-Jul-1996 02:44:25 -0700`). An
    /// invalid date is dropped (the server then uses the current time)
    /// rather than risking a rejected command.
    pub internal_date: Option<String>,
    /// The exact message bytes.
    pub body: Vec<u8>,
}

/// Where the server put an appended message (UIDPLUS `APPENDUID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendUid {
    /// UIDVALIDITY of the destination mailbox.
    pub uidvalidity: u32,
    /// UID of the new message.
    pub uid: u32,
}

/// The outcome of one [`AppendRequest`].
#[derive(Debug, Clone)]
pub struct Completion {
    /// 0-based position of the request among those this appender accepted.
    pub index: u64,
    /// `Ok(None)` when the server does not report APPENDUID.
    pub result: Result<Option<AppendUid>, ImapError>,
}

struct Slot {
    index: u64,
    /// Tag of the command in flight; `None` once `result` is known.
    tag: Option<String>,
    result: Option<Result<Option<AppendUid>, ImapError>>,
}

/// Pipelined APPENDs to one mailbox; see the module documentation.
pub struct Appender<'s> {
    session: &'s mut Session,
    mailbox: String,
    window: usize,
    permanent_flags: Option<Vec<String>>,
    slots: VecDeque<Slot>,
    in_flight: usize,
    next_index: u64,
    /// Set when the connection failed or its state became uncertain; new
    /// requests are refused with it.
    broken: Option<ImapError>,
    /// Set after an APPEND was rejected as `BAD`: commands in flight are
    /// still drained, then the session is marked unusable.
    poison: Option<ImapError>,
}

impl Session {
    /// Starts pipelined APPENDs to `mailbox_raw` with at most `window`
    /// commands in flight (16–64 is a good range; at least 1).
    pub fn appender(&mut self, mailbox_raw: &str, window: usize) -> Appender<'_> {
        let broken = self.t.broken().cloned();
        Appender {
            session: self,
            mailbox: mailbox_raw.to_owned(),
            window: window.max(1),
            permanent_flags: None,
            slots: VecDeque::new(),
            in_flight: 0,
            next_index: 0,
            broken,
            poison: None,
        }
    }
}

impl Appender<'_> {
    /// Only sends flags the destination keeps permanently (from
    /// [`super::MailboxState::permanent_flags`]). Without this call every
    /// valid flag is sent.
    pub fn permanent_flags(mut self, permanent: Vec<String>) -> Self {
        self.permanent_flags = Some(permanent);
        self
    }

    /// Number of requests accepted but not yet reported.
    pub fn pending(&self) -> usize {
        self.slots.len()
    }

    /// Queues one message and returns the completions that became ready
    /// (in submission order, possibly none). `Err` means the connection is
    /// already gone and the request was *not* accepted: reconnect.
    pub async fn push(&mut self, request: AppendRequest) -> Result<Vec<Completion>, ImapError> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let index = self.next_index;
        self.next_index += 1;
        let size = request.body.len() as u64;
        if let Some(limit) = self.session.caps.appendlimit
            && size > limit
        {
            let e = ImapError::TooBig {
                server: self.session.t.server.clone(),
                size,
                limit,
            };
            self.slots.push_back(Slot {
                index,
                tag: None,
                result: Some(Err(e)),
            });
            return Ok(self.ready());
        }
        if let Err(e) = self.send(index, &request).await {
            self.fail_all(e);
            return Ok(self.ready());
        }
        while self.in_flight >= self.window || self.session.t.has_queued() {
            if self.in_flight >= self.window
                && !self.session.t.has_queued()
                && let Err(e) = self.session.t.flush().await
            {
                self.fail_all(e);
                break;
            }
            if let Err(e) = self.read_one().await {
                self.fail_all(e);
                break;
            }
        }
        Ok(self.ready())
    }

    /// Sends what is buffered, waits for every command in flight and
    /// returns the remaining completions.
    pub async fn finish(mut self) -> Vec<Completion> {
        if self.broken.is_none()
            && self.in_flight > 0
            && let Err(e) = self.session.t.flush().await
        {
            self.fail_all(e);
        }
        while self.in_flight > 0 {
            if let Err(e) = self.read_one().await {
                self.fail_all(e);
            }
        }
        if let Some(poison) = self.poison.take() {
            self.session.t.fail(poison);
        }
        self.ready()
    }

    async fn send(&mut self, index: u64, request: &AppendRequest) -> Result<(), ImapError> {
        let flags = filter_flags(self.permanent_flags.as_deref(), &request.flags);
        let mut cmd = Command::new("APPEND").string(self.mailbox.as_bytes());
        if !flags.is_empty() {
            cmd = cmd.raw(&flag_list(&flags));
        }
        let date = request.internal_date.as_deref();
        match date {
            Some(d) if is_valid_internal_date(d) => cmd = cmd.raw(&format!("\"{d}\"")),
            Some(d) => tracing::warn!(date = %d, "dropping invalid INTERNALDATE"),
            None => {}
        }
        let cmd = cmd.literal(&request.body);
        let tag = self.session.t.tag();
        self.slots.push_back(Slot {
            index,
            tag: Some(tag.clone()),
            result: None,
        });
        self.in_flight += 1;
        let mode = self.session.literal_mode();
        // A refused synchronising literal leaves the tagged NO queued; it is
        // read like any other completion, so the outcome needs no handling.
        self.session.t.write_command(&tag, &cmd, mode).await?;
        Ok(())
    }

    /// Reads one response and records it if it completes an APPEND.
    async fn read_one(&mut self) -> Result<(), ImapError> {
        let r = self.session.t.read_response().await?;
        let Response::Tagged { tag, status, text } = r else {
            // EXISTS/RECENT for the selected mailbox, alerts, BYE.
            self.session.common(r)?;
            return Ok(());
        };
        let Some(slot) = self
            .slots
            .iter_mut()
            .find(|s| s.tag.as_deref() == Some(tag.as_str()))
        else {
            tracing::debug!(tag = %tag, "ignoring completion of unknown command");
            return Ok(());
        };
        slot.tag = None;
        self.in_flight -= 1;
        let session = &mut *self.session;
        slot.result = Some(match status {
            RespStatus::Ok => Ok(parse_appenduid(&text.code)),
            RespStatus::No => Err(session.no_error("APPEND", text)),
            _ => {
                // The server may not have read the literal and could take
                // message bytes for commands: stop using this connection.
                let e = ImapError::Bad {
                    server: session.t.server.clone(),
                    command: "APPEND",
                    text: text.display(),
                };
                let poisoned = session.protocol(format!(
                    "APPEND rejected as invalid ({}); connection state unknown",
                    text.display()
                ));
                self.broken = Some(poisoned.clone());
                self.poison = Some(poisoned);
                Err(e)
            }
        });
        Ok(())
    }

    /// Fails every command still in flight with `e` (a lost connection).
    fn fail_all(&mut self, e: ImapError) {
        for slot in self.slots.iter_mut().filter(|s| s.result.is_none()) {
            slot.tag = None;
            slot.result = Some(Err(e.clone()));
        }
        self.in_flight = 0;
        self.broken = Some(e);
    }

    /// Pops the completions at the front that have a result.
    fn ready(&mut self) -> Vec<Completion> {
        let mut done = Vec::new();
        while let Some(slot) = self.slots.front_mut() {
            let Some(result) = slot.result.take() else {
                break;
            };
            done.push(Completion {
                index: slot.index,
                result,
            });
            self.slots.pop_front();
        }
        done
    }
}

impl Drop for Appender<'_> {
    fn drop(&mut self) {
        // Dropped without `finish` while commands are in flight: their
        // answers would be read by whatever command comes next. Make the
        // session refuse further use instead.
        if self.in_flight > 0 {
            let e = self.session.protocol(format!(
                "pipelined APPEND abandoned with {} commands in flight",
                self.in_flight
            ));
            self.session.t.fail(e);
        }
    }
}

fn parse_appenduid(code: &Option<super::response::Code>) -> Option<AppendUid> {
    let code = code.as_ref().filter(|c| c.name == "APPENDUID")?;
    let mut words = code.args.split(' ');
    let uidvalidity = words.next()?.parse().ok()?;
    let uid = words.next()?.parse().ok()?;
    Some(AppendUid { uidvalidity, uid })
}
