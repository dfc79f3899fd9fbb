//! Pipelined APPEND: the hot path of a migration.
//!
//! An [`Appender`] keeps up to `window` messages in flight on one
//! connection. With LITERAL+ (or LITERAL- for bodies up to 4 KiB) nothing
//! waits for the server before the window is full; otherwise each body
//! waits for the server's `+`, but commands are still not waited for one by
//! one. Small commands are buffered and written in batches.
//!
//! When the server offers MULTIAPPEND (RFC 3502) and LITERAL+, messages go
//! in groups (up to 32 messages or 1 MiB) of one APPEND command each: a
//! server stores a group for a fraction of the work of as many commands.
//! A group is atomic; one the server refuses is sent again message by
//! message, so that only the message at fault fails.
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

/// Messages in one MULTIAPPEND command, at most.
const GROUP_MESSAGES: usize = 32;
/// Bytes in one MULTIAPPEND command, at most (a larger message goes alone).
const GROUP_BYTES: usize = 1024 * 1024;

/// One APPEND command: one message, or a MULTIAPPEND group.
struct Slot {
    /// Positions of the requests it carries.
    indices: Vec<u64>,
    /// Tag of the command in flight; `None` once answered.
    tag: Option<String>,
    /// One result per request, once known.
    results: Option<Vec<Result<Option<AppendUid>, ImapError>>>,
    /// A group's requests, kept until its answer: a group refused as a
    /// whole is sent again message by message.
    requests: Vec<AppendRequest>,
}

/// Pipelined APPENDs to one mailbox; see the module documentation.
pub struct Appender<'s> {
    session: &'s mut Session,
    mailbox: String,
    window: usize,
    permanent_flags: Option<Vec<String>>,
    slots: VecDeque<Slot>,
    /// Messages sent and not yet answered.
    in_flight: usize,
    next_index: u64,
    /// Whether messages go in MULTIAPPEND groups.
    multi: bool,
    /// The group being filled, not sent yet.
    group: Vec<(u64, AppendRequest)>,
    group_bytes: usize,
    /// Set when the connection failed or its state became uncertain; new
    /// requests are refused with it.
    broken: Option<ImapError>,
    /// Set after an APPEND was rejected as `BAD`: commands in flight are
    /// still drained, then the session is marked unusable.
    poison: Option<ImapError>,
}

impl Session {
    /// Starts pipelined APPENDs to `mailbox_raw` with at most `window`
    /// messages in flight (16–64 is a good range; at least 1).
    pub fn appender(&mut self, mailbox_raw: &str, window: usize) -> Appender<'_> {
        let broken = self.t.broken().cloned();
        let multi = self.caps.has("MULTIAPPEND") && self.caps.literal_plus;
        Appender {
            session: self,
            mailbox: mailbox_raw.to_owned(),
            window: window.max(1),
            permanent_flags: None,
            slots: VecDeque::new(),
            in_flight: 0,
            next_index: 0,
            multi,
            group: Vec::new(),
            group_bytes: 0,
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

    /// Sends messages one command each, even where MULTIAPPEND is offered.
    pub fn single(mut self) -> Self {
        self.multi = false;
        self
    }

    /// Number of requests accepted but not yet reported.
    pub fn pending(&self) -> usize {
        self.slots.iter().map(|s| s.indices.len()).sum::<usize>() + self.group.len()
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
            // Completions keep their order: what waits in the group goes first.
            if let Err(e) = self.send_group().await {
                self.fail_all(e);
            }
            let e = ImapError::TooBig {
                server: self.session.t.server.clone(),
                size,
                limit,
            };
            self.slots.push_back(Slot {
                indices: vec![index],
                tag: None,
                results: Some(vec![Err(e)]),
                requests: Vec::new(),
            });
            return Ok(self.ready());
        }
        let sent = if self.multi {
            self.group_bytes += request.body.len();
            self.group.push((index, request));
            if self.group.len() >= GROUP_MESSAGES || self.group_bytes >= GROUP_BYTES {
                self.send_group().await
            } else {
                Ok(())
            }
        } else {
            self.send(vec![(index, request)], None).await
        };
        if let Err(e) = sent {
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

    /// Sends what is buffered (a MULTIAPPEND group being filled included)
    /// without waiting for any answer.
    pub async fn flush(&mut self) -> Result<(), ImapError> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        self.send_group().await?;
        self.session.t.flush().await
    }

    /// Sends what is buffered, waits for every command in flight and
    /// returns the remaining completions.
    pub async fn finish(mut self) -> Vec<Completion> {
        if self.broken.is_none()
            && let Err(e) = self.send_group().await
        {
            self.fail_all(e);
        }
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

    /// Sends the group being filled, if any.
    async fn send_group(&mut self) -> Result<(), ImapError> {
        self.group_bytes = 0;
        let group = std::mem::take(&mut self.group);
        if group.is_empty() {
            return Ok(());
        }
        self.send(group, None).await
    }

    /// Sends one APPEND command carrying `requests`, its slot placed at
    /// `at` (in submission order) or at the end.
    async fn send(
        &mut self,
        requests: Vec<(u64, AppendRequest)>,
        at: Option<usize>,
    ) -> Result<(), ImapError> {
        let (indices, requests): (Vec<u64>, Vec<AppendRequest>) = requests.into_iter().unzip();
        let tag = self.session.t.tag();
        let n = requests.len();
        let position = at.unwrap_or(self.slots.len());
        self.slots.insert(
            position,
            Slot {
                indices,
                tag: Some(tag.clone()),
                results: None,
                requests,
            },
        );
        self.in_flight += n;
        let slot = &self.slots[position];
        let mut cmd = Command::new("APPEND").string(self.mailbox.as_bytes());
        for request in &slot.requests {
            let flags = filter_flags(self.permanent_flags.as_deref(), &request.flags);
            if !flags.is_empty() {
                cmd = cmd.raw(&flag_list(&flags));
            }
            match request.internal_date.as_deref() {
                Some(d) if is_valid_internal_date(d) => cmd = cmd.raw(&format!("\"{d}\"")),
                Some(d) => tracing::warn!(date = %d, "dropping invalid INTERNALDATE"),
                None => {}
            }
            cmd = cmd.literal(&request.body);
        }
        let mode = self.session.literal_mode();
        // A refused synchronising literal leaves the tagged NO queued; it is
        // read like any other completion, so the outcome needs no handling.
        let written = self.session.t.write_command(&tag, &cmd, mode).await;
        if n == 1 {
            // A single message is never sent again: free its bytes now.
            self.slots[position].requests = Vec::new();
        }
        written.map(drop)
    }

    /// Reads one response and records it if it completes an APPEND.
    async fn read_one(&mut self) -> Result<(), ImapError> {
        let r = self.session.t.read_response().await?;
        let Response::Tagged { tag, status, text } = r else {
            // EXISTS/RECENT for the selected mailbox, alerts, BYE.
            self.session.common(r)?;
            return Ok(());
        };
        let Some(position) = self
            .slots
            .iter()
            .position(|s| s.tag.as_deref() == Some(tag.as_str()))
        else {
            tracing::debug!(tag = %tag, "ignoring completion of unknown command");
            return Ok(());
        };
        let n = self.slots[position].indices.len();
        self.slots[position].tag = None;
        self.in_flight -= n;
        let results = match status {
            RespStatus::Ok => match parse_appenduid(&text.code) {
                Some((uidvalidity, uids)) if uids.len() == n => uids
                    .into_iter()
                    .map(|uid| Ok(Some(AppendUid { uidvalidity, uid })))
                    .collect(),
                _ => (0..n).map(|_| Ok(None)).collect(),
            },
            RespStatus::No if n > 1 => {
                // A group is atomic: send its messages again one by one.
                let Some(slot) = self.slots.remove(position) else {
                    return Ok(());
                };
                tracing::debug!(messages = n, "MULTIAPPEND refused; sending one by one");
                let requests = slot.indices.into_iter().zip(slot.requests);
                for (k, request) in requests.enumerate() {
                    self.send(vec![request], Some(position + k)).await?;
                }
                return self.session.t.flush().await;
            }
            RespStatus::No => vec![Err(self.session.no_error("APPEND", text))],
            _ => {
                // The server may not have read the literal and could take
                // message bytes for commands: stop using this connection.
                let session = &mut *self.session;
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
                (0..n).map(|_| Err(e.clone())).collect()
            }
        };
        let slot = &mut self.slots[position];
        slot.results = Some(results);
        slot.requests = Vec::new();
        Ok(())
    }

    /// Fails every request not answered yet, sent or not, with `e` (a lost
    /// connection).
    fn fail_all(&mut self, e: ImapError) {
        let unsent = std::mem::take(&mut self.group);
        self.group_bytes = 0;
        if !unsent.is_empty() {
            self.slots.push_back(Slot {
                indices: unsent.into_iter().map(|(index, _)| index).collect(),
                tag: None,
                results: None,
                requests: Vec::new(),
            });
        }
        for slot in self.slots.iter_mut().filter(|s| s.results.is_none()) {
            slot.tag = None;
            slot.results = Some(slot.indices.iter().map(|_| Err(e.clone())).collect());
            slot.requests = Vec::new();
        }
        self.in_flight = 0;
        self.broken = Some(e);
    }

    /// Pops the completions at the front that have a result.
    fn ready(&mut self) -> Vec<Completion> {
        let mut done = Vec::new();
        while let Some(slot) = self.slots.front_mut() {
            let Some(results) = slot.results.take() else {
                break;
            };
            let indices = std::mem::take(&mut slot.indices);
            done.extend(
                indices
                    .into_iter()
                    .zip(results)
                    .map(|(index, result)| Completion { index, result }),
            );
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
                "pipelined APPEND abandoned with {} messages in flight",
                self.in_flight
            ));
            self.session.t.fail(e);
        }
    }
}

/// `[APPENDUID uidvalidity uid-set]`: the UIDs in the order the messages
/// were appended (RFC 4315), ranges expanded.
fn parse_appenduid(code: &Option<super::response::Code>) -> Option<(u32, Vec<u32>)> {
    let code = code.as_ref().filter(|c| c.name == "APPENDUID")?;
    let mut words = code.args.split(' ');
    let uidvalidity = words.next()?.parse().ok()?;
    let mut uids = Vec::new();
    for part in words.next()?.split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                uids.extend(a.min(b)..=a.max(b));
            }
            None => uids.push(part.parse().ok()?),
        }
    }
    Some((uidvalidity, uids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::imap::response::Code;

    fn code(args: &str) -> Option<Code> {
        Some(Code {
            name: "APPENDUID".into(),
            args: args.into(),
        })
    }

    #[test]
    fn appenduid_sets_expand_in_order() {
        assert_eq!(parse_appenduid(&code("7 12")), Some((7, vec![12])));
        assert_eq!(
            parse_appenduid(&code("7 12:14,20")),
            Some((7, vec![12, 13, 14, 20]))
        );
        assert_eq!(parse_appenduid(&code("7 x")), None);
    }
}
