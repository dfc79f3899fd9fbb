//! Mailbox commands: LIST, CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE, SELECT,
//! EXAMINE, STATUS.

use std::collections::HashMap;

use super::command::{Command, normalize_flag};
use super::error::ImapError;
use super::response::{Response, Status as RespStatus, Value};
use super::session::Session;
use super::utf7;

/// One mailbox (folder) as listed by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The name as on the wire (modified UTF-7): pass this to commands.
    pub raw: String,
    /// The name decoded to UTF-8, for people and for mapping between
    /// servers. Equal to `raw` if that is not valid modified UTF-7.
    pub name: String,
    /// Hierarchy delimiter; `None` for a flat namespace.
    pub delimiter: Option<char>,
    /// Role announced by SPECIAL-USE.
    pub special_use: Option<SpecialUse>,
    /// Cannot be selected (a pure hierarchy node): `\Noselect`.
    pub noselect: bool,
    /// The user is subscribed to it.
    pub subscribed: bool,
}

/// The SPECIAL-USE roles (RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecialUse {
    /// `\All`: every message (Gmail's "All Mail").
    All,
    /// `\Archive`.
    Archive,
    /// `\Drafts`.
    Drafts,
    /// `\Flagged`: a virtual view of flagged messages (Gmail's Starred).
    Flagged,
    /// `\Important`: Gmail's view of the messages it rates important
    /// (not RFC 6154; Gmail lists it the same way).
    Important,
    /// `\Junk`.
    Junk,
    /// `\Sent`.
    Sent,
    /// `\Trash`.
    Trash,
}

impl SpecialUse {
    /// Parses a LIST attribute (`\Sent`), case-insensitively.
    pub fn from_attribute(attr: &str) -> Option<SpecialUse> {
        let name = attr.strip_prefix('\\')?.to_ascii_lowercase();
        Some(match name.as_str() {
            "all" => SpecialUse::All,
            "archive" => SpecialUse::Archive,
            "drafts" => SpecialUse::Drafts,
            "flagged" => SpecialUse::Flagged,
            "important" => SpecialUse::Important,
            "junk" => SpecialUse::Junk,
            "sent" => SpecialUse::Sent,
            "trash" => SpecialUse::Trash,
            _ => return None,
        })
    }

    /// The attribute as sent on the wire (`\Sent`).
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Important => "\\Important",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }
}

/// What SELECT or EXAMINE reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxState {
    /// UIDs are only comparable while this stays the same.
    pub uidvalidity: u32,
    /// The UID the next message will (at least) get.
    pub uidnext: u32,
    /// Number of messages.
    pub exists: u32,
    /// CONDSTORE mod-sequence; `None` without CONDSTORE or with NOMODSEQ.
    pub highestmodseq: Option<u64>,
    /// PERMANENTFLAGS: the flags stored permanently; `\*` in the list
    /// allows any keyword. When the server does not say, every flag is
    /// permanent (RFC 3501), shown as the five system flags and `\*`.
    pub permanent_flags: Vec<String>,
    /// Opened read-only (EXAMINE, or `[READ-ONLY]`).
    pub read_only: bool,
}

impl MailboxState {
    /// Whether `flag` would be stored permanently in this mailbox.
    pub fn keeps_flag(&self, flag: &str) -> bool {
        keeps_flag(Some(&self.permanent_flags), flag)
    }
}

/// Whether `flag` is permanent given a PERMANENTFLAGS list (`None`: all).
pub(crate) fn keeps_flag(permanent: Option<&[String]>, flag: &str) -> bool {
    let Some(permanent) = permanent else {
        return true;
    };
    if permanent.iter().any(|p| p.eq_ignore_ascii_case(flag)) {
        return true;
    }
    !flag.starts_with('\\') && permanent.iter().any(|p| p == "\\*")
}

/// What STATUS reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// Number of messages.
    pub messages: u32,
    /// Next UID.
    pub uidnext: u32,
    /// UID validity.
    pub uidvalidity: u32,
    /// With CONDSTORE.
    pub highestmodseq: Option<u64>,
    /// Total size in bytes, with STATUS=SIZE.
    pub size: Option<u64>,
}

impl Session {
    /// Lists every mailbox with its special use and subscription state.
    /// Subscribed names that do not exist (`\NonExistent`) are left out.
    pub async fn list(&mut self) -> Result<Vec<Mailbox>, ImapError> {
        let extended = self.caps.list_extended;
        let cmd = if extended {
            let ret = if self.caps.special_use {
                "RETURN (SUBSCRIBED SPECIAL-USE)"
            } else {
                "RETURN (SUBSCRIBED)"
            };
            Command::new("LIST").raw("\"\" \"*\"").raw(ret)
        } else {
            Command::new("LIST").raw("\"\" \"*\"")
        };
        let mut mailboxes = Vec::new();
        for r in self.run(&cmd).await? {
            if let Some((attrs, mailbox)) = parse_list(&r, "LIST") {
                let has = |a: &str| attrs.iter().any(|x| x.eq_ignore_ascii_case(a));
                if has("\\NonExistent") {
                    continue;
                }
                mailboxes.push(Mailbox {
                    noselect: has("\\Noselect"),
                    subscribed: has("\\Subscribed"),
                    special_use: attrs.iter().find_map(|a| SpecialUse::from_attribute(a)),
                    ..mailbox
                });
            }
        }
        if !extended {
            // A selectable mailbox that LSUB marks `\Noselect` is not
            // subscribed, only a parent of subscribed ones (RFC 3501
            // 6.3.9; Courier lists INBOX so once `INBOX.Trash` is).
            let cmd = Command::new("LSUB").raw("\"\" \"*\"");
            let subscribed: HashMap<String, bool> = self
                .run(&cmd)
                .await?
                .iter()
                .filter_map(|r| parse_list(r, "LSUB"))
                .map(|(attrs, m)| {
                    let parent_only = attrs.iter().any(|a| a.eq_ignore_ascii_case("\\Noselect"));
                    (m.raw, parent_only)
                })
                .collect();
            for m in &mut mailboxes {
                m.subscribed = subscribed
                    .get(&m.raw)
                    .is_some_and(|&parent_only| !parent_only || m.noselect);
            }
        }
        Ok(mailboxes)
    }

    /// Creates a mailbox (and, on most servers, its missing parents). An
    /// existing mailbox is not an error.
    pub async fn create(&mut self, raw: &str) -> Result<(), ImapError> {
        match self
            .run(&Command::new("CREATE").string(raw.as_bytes()))
            .await
        {
            Err(e @ ImapError::No { .. })
                if e.code() == Some("ALREADYEXISTS")
                    || e.to_string()
                        .to_ascii_lowercase()
                        .contains("already exists") =>
            {
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// Deletes a mailbox.
    pub async fn delete(&mut self, raw: &str) -> Result<(), ImapError> {
        if self.selected.as_deref() == Some(raw) {
            self.selected = None;
        }
        let cmd = Command::new("DELETE").string(raw.as_bytes());
        self.run(&cmd).await.map(drop)
    }

    /// Subscribes to a mailbox.
    pub async fn subscribe(&mut self, raw: &str) -> Result<(), ImapError> {
        let cmd = Command::new("SUBSCRIBE").string(raw.as_bytes());
        self.run(&cmd).await.map(drop)
    }

    /// Unsubscribes from a mailbox (which need not exist any more).
    pub async fn unsubscribe(&mut self, raw: &str) -> Result<(), ImapError> {
        let cmd = Command::new("UNSUBSCRIBE").string(raw.as_bytes());
        self.run(&cmd).await.map(drop)
    }

    /// Opens a mailbox read-write.
    pub async fn select(&mut self, raw: &str) -> Result<MailboxState, ImapError> {
        self.open(raw, "SELECT").await
    }

    /// Opens a mailbox read-only (does not clear `\Recent` or touch
    /// anything).
    pub async fn examine(&mut self, raw: &str) -> Result<MailboxState, ImapError> {
        self.open(raw, "EXAMINE").await
    }

    async fn open(&mut self, raw: &str, verb: &'static str) -> Result<MailboxState, ImapError> {
        self.selected = None;
        let mut cmd = Command::new(verb).string(raw.as_bytes());
        if self.wants_modseq() {
            cmd = cmd.raw("(CONDSTORE)");
        }
        let mut state = MailboxState {
            uidvalidity: 0,
            uidnext: 0,
            exists: 0,
            highestmodseq: None,
            permanent_flags: Vec::new(),
            read_only: verb == "EXAMINE",
        };
        let mut permanent_flags = None;
        let mut uidvalidity = None;
        let mut uidnext = None;
        for r in self.run(&cmd).await? {
            match r {
                Response::Numbered { number, kind, .. } if kind == "EXISTS" => {
                    state.exists = number
                }
                Response::Status {
                    status: RespStatus::Ok,
                    text,
                } => {
                    let Some(code) = text.code else { continue };
                    let number = code
                        .args
                        .split(' ')
                        .next()
                        .and_then(|n| n.parse::<u64>().ok());
                    match code.name.as_str() {
                        "UIDVALIDITY" => uidvalidity = number.and_then(|n| u32::try_from(n).ok()),
                        "UIDNEXT" => uidnext = number.and_then(|n| u32::try_from(n).ok()),
                        "HIGHESTMODSEQ" => state.highestmodseq = number,
                        "NOMODSEQ" => state.highestmodseq = None,
                        "PERMANENTFLAGS" => permanent_flags = Some(code.words()),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        if self.last_ok.code_name() == Some("READ-ONLY") {
            state.read_only = true;
        }
        state.permanent_flags = permanent_flags.unwrap_or_else(|| {
            [
                "\\Answered",
                "\\Flagged",
                "\\Deleted",
                "\\Seen",
                "\\Draft",
                "\\*",
            ]
            .map(String::from)
            .to_vec()
        });
        state.uidvalidity =
            uidvalidity.ok_or_else(|| self.protocol(format!("{verb} returned no UIDVALIDITY")))?;
        self.selected = Some(raw.to_owned());
        state.uidnext = match uidnext {
            Some(uidnext) => uidnext,
            // RFC 3501 lets a server leave UIDNEXT out (Courier does): one
            // above the highest UID present is what it at least is.
            None if state.exists > 0 => self.highest_uid().await?.map_or(1, |uid| uid + 1),
            None => 1,
        };
        Ok(state)
    }

    /// Leaves the selected mailbox without expunging anything: UNSELECT
    /// (RFC 3691), or else EXAMINE then CLOSE, which expunges nothing in a
    /// read-only mailbox.
    async fn deselect(&mut self, raw: &str) -> Result<(), ImapError> {
        if self.caps.all.contains("UNSELECT") {
            self.run(&Command::new("UNSELECT")).await?;
        } else {
            self.examine(raw).await?;
            self.run(&Command::new("CLOSE")).await?;
        }
        self.selected = None;
        Ok(())
    }

    /// Waits until a mailbox stops growing (its message count and UIDNEXT
    /// unchanged over two looks in a row, `interval` apart; `polls` looks
    /// at most). After a client died mid-pipeline, a server may still be
    /// storing the APPENDs that connection had sent. The count matters:
    /// Courier gives a new message its UID only when a session looks, and
    /// may leave UIDNEXT out of STATUS altogether.
    pub async fn wait_until_quiet(
        &mut self,
        raw: &str,
        interval: std::time::Duration,
        polls: usize,
    ) -> Result<(), ImapError> {
        let look = |status: Status| (status.messages, status.uidnext);
        let mut last = look(self.status(raw).await?);
        let mut quiet = 0;
        for _ in 0..polls {
            tokio::time::sleep(interval).await;
            let now = look(self.status(raw).await?);
            quiet = if now == last { quiet + 1 } else { 0 };
            if quiet == 2 {
                return Ok(());
            }
            last = now;
        }
        Ok(())
    }

    /// Counts without selecting. Includes HIGHESTMODSEQ with CONDSTORE and
    /// SIZE with STATUS=SIZE. The selected mailbox is left first: RFC 3501
    /// says STATUS SHOULD NOT be asked of it, and Courier then answers
    /// with the counts it had when it was selected.
    pub async fn status(&mut self, raw: &str) -> Result<Status, ImapError> {
        if self.selected.as_deref() == Some(raw) {
            self.deselect(raw).await?;
        }
        let mut items = String::from("(MESSAGES UIDNEXT UIDVALIDITY");
        if self.wants_modseq() {
            items.push_str(" HIGHESTMODSEQ");
        }
        if self.caps.status_size {
            items.push_str(" SIZE");
        }
        items.push(')');
        let cmd = Command::new("STATUS").string(raw.as_bytes()).raw(&items);
        let mut found = None;
        for r in self.run(&cmd).await? {
            if let Response::Data { kind, data } = r
                && kind == "STATUS"
                && let [name, Value::List(pairs), ..] = data.as_slice()
                && (found.is_none() || name.as_bytes() == Some(raw.as_bytes()))
            {
                let mut status = Status::default();
                for pair in pairs.chunks(2) {
                    let [key, value] = pair else { continue };
                    let (Some(key), Some(n)) = (key.as_atom(), value.as_u64()) else {
                        continue;
                    };
                    let small = u32::try_from(n).unwrap_or(u32::MAX);
                    match key.to_ascii_uppercase().as_str() {
                        "MESSAGES" => status.messages = small,
                        "UIDNEXT" => status.uidnext = small,
                        "UIDVALIDITY" => status.uidvalidity = small,
                        "HIGHESTMODSEQ" => status.highestmodseq = Some(n),
                        "SIZE" => status.size = Some(n),
                        _ => {}
                    }
                }
                found = Some(status);
            }
        }
        found.ok_or_else(|| self.protocol("STATUS returned no data".into()))
    }
}

/// Reads a LIST or LSUB response into its attributes and a [`Mailbox`]
/// (special use and flags left for the caller).
fn parse_list(r: &Response, expected: &str) -> Option<(Vec<String>, Mailbox)> {
    let Response::Data { kind, data } = r else {
        return None;
    };
    if kind != expected {
        return None;
    }
    let [attrs, delimiter, name, ..] = data.as_slice() else {
        return None;
    };
    let attrs: Vec<String> = attrs
        .as_list()?
        .iter()
        .filter_map(Value::as_atom)
        .map(str::to_owned)
        .collect();
    let delimiter = delimiter
        .as_bytes()
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.chars().next());
    let raw = String::from_utf8_lossy(name.as_bytes()?).into_owned();
    let mut decoded = utf7::decode(&raw).unwrap_or_else(|_| raw.clone());
    if decoded.eq_ignore_ascii_case("INBOX") {
        decoded = "INBOX".to_owned();
    }
    Some((
        attrs,
        Mailbox {
            raw,
            name: decoded,
            delimiter,
            special_use: None,
            noselect: false,
            subscribed: false,
        },
    ))
}

/// Keeps the flags that `permanent` accepts and the server can take.
pub(crate) fn filter_flags(permanent: Option<&[String]>, flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .filter_map(|f| normalize_flag(f))
        .filter(|f| keeps_flag(permanent, f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_flags() {
        let with_star: Vec<String> = ["\\Seen", "\\Deleted", "\\*"].map(String::from).to_vec();
        let without: Vec<String> = ["\\Seen"].map(String::from).to_vec();
        let flags: Vec<String> = ["\\Seen", "\\Flagged", "$Label1", "\\Recent"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            filter_flags(Some(&with_star), &flags),
            ["\\Seen", "$Label1"]
        );
        assert_eq!(filter_flags(Some(&without), &flags), ["\\Seen"]);
        assert_eq!(
            filter_flags(None, &flags),
            ["\\Seen", "\\Flagged", "$Label1"]
        );
    }

    #[test]
    fn special_use_round_trip() {
        for s in [
            SpecialUse::All,
            SpecialUse::Archive,
            SpecialUse::Drafts,
            SpecialUse::Flagged,
            SpecialUse::Important,
            SpecialUse::Junk,
            SpecialUse::Sent,
            SpecialUse::Trash,
        ] {
            assert_eq!(SpecialUse::from_attribute(s.attribute()), Some(s));
        }
        assert_eq!(SpecialUse::from_attribute("\\HasChildren"), None);
    }
}
