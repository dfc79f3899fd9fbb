//! Commands on the selected mailbox: SEARCH, FETCH (metadata, headers,
//! whole bodies streamed), STORE and EXPUNGE.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use super::command::{Command, expand_sequence_set, flag_list, is_sequence_set, sequence_sets};
use super::error::ImapError;
use super::response::{Response, Value};
use super::session::Session;

/// Longest sequence set put in one command; Dovecot accepts 64 KiB lines,
/// other servers less.
pub(super) const MAX_SET_LEN: usize = 8 * 1024;
/// Upper bound on UIDs expanded from one ESEARCH result.
const MAX_SEARCH_RESULTS: usize = 50_000_000;

/// A message's metadata, as FETCH reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// UID in the selected mailbox.
    pub uid: u32,
    /// Flags and keywords as on the wire (`\Seen`, `$Label1`), without
    /// `\Recent` (session-only, cannot be copied).
    pub flags: Vec<String>,
    /// INTERNALDATE exactly as the server sent it
    /// (`17-Jul-1996 02:44:25 -0700`), ready for APPEND.
    pub internal_date: String,
    /// RFC822.SIZE in bytes.
    pub size: u64,
    /// CONDSTORE mod-sequence, when the server has it.
    pub modseq: Option<u64>,
}

/// A whole message as stored on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedBody {
    /// UID in the selected mailbox.
    pub uid: u32,
    /// The exact bytes of `BODY.PEEK[]`.
    pub body: Vec<u8>,
}

/// A stored message's header block, with what identifies the message
/// without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeader {
    /// UID in the selected mailbox.
    pub uid: u32,
    /// RFC822.SIZE in bytes.
    pub size: u64,
    /// INTERNALDATE exactly as the server sent it.
    pub internal_date: String,
    /// The header block exactly as stored, with the blank line that ends it.
    pub header: Vec<u8>,
}

/// The items of one FETCH response, names in upper case.
pub(super) fn fetch_items(r: Response) -> Option<Vec<(String, Value)>> {
    let Response::Numbered { kind, data, .. } = r else {
        return None;
    };
    if kind != "FETCH" {
        return None;
    }
    let Some(Value::List(items)) = data.into_iter().next() else {
        return None;
    };
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(name), Some(value)) = (it.next(), it.next()) {
        if let Value::Atom(name) = name {
            out.push((name.to_ascii_uppercase(), value));
        }
    }
    Some(out)
}

pub(super) fn uid_of(items: &[(String, Value)]) -> Option<u32> {
    items.iter().find(|(n, _)| n == "UID")?.1.as_u32()
}

impl Session {
    /// Every UID in the selected mailbox, ascending. Uses ESEARCH when
    /// offered (a compact answer for huge folders).
    pub async fn uid_search_all(&mut self) -> Result<Vec<u32>, ImapError> {
        self.uid_search("ALL").await
    }

    /// The UIDs from `floor` on in the selected mailbox, ascending: what
    /// arrived since a folder's UIDNEXT was `floor`, without listing the
    /// rest of a large folder.
    pub async fn uid_search_from(&mut self, floor: u32) -> Result<Vec<u32>, ImapError> {
        let mut uids = self.uid_search(&format!("UID {}:*", floor.max(1))).await?;
        // `n:*` always holds the highest UID, even one below `n`.
        uids.retain(|uid| *uid >= floor);
        Ok(uids)
    }

    /// The UIDs matching `criteria`, ascending.
    async fn uid_search(&mut self, criteria: &str) -> Result<Vec<u32>, ImapError> {
        let mut uids = Vec::new();
        if self.caps.esearch {
            let cmd = Command::new("UID SEARCH").raw("RETURN (ALL)").raw(criteria);
            for r in self.run(&cmd).await? {
                let Response::Data { kind, data } = r else {
                    continue;
                };
                if kind != "ESEARCH" {
                    continue;
                }
                let all = data
                    .iter()
                    .position(|v| v.as_atom().is_some_and(|a| a.eq_ignore_ascii_case("ALL")));
                if let Some(set) = all.and_then(|i| data.get(i + 1)).and_then(Value::as_atom) {
                    let expanded = expand_sequence_set(set, MAX_SEARCH_RESULTS)
                        .ok_or_else(|| self.protocol(format!("bad ESEARCH result {set:?}")))?;
                    uids.extend(expanded);
                }
            }
        } else {
            for r in self.run(&Command::new("UID SEARCH").raw(criteria)).await? {
                if let Response::Data { kind, data } = r
                    && kind == "SEARCH"
                {
                    uids.extend(data.iter().filter_map(Value::as_u32));
                }
            }
        }
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The highest UID in the selected mailbox (`UID FETCH * (UID)`), or
    /// `None` when it is empty.
    pub(crate) async fn highest_uid(&mut self) -> Result<Option<u32>, ImapError> {
        let cmd = Command::new("UID FETCH").raw("*").raw("(UID)");
        let mut highest = None;
        for r in self.run(&cmd).await? {
            if let Some(uid) = fetch_items(r).as_deref().and_then(uid_of) {
                highest = highest.max(Some(uid));
            }
        }
        Ok(highest)
    }

    /// Flags, INTERNALDATE, size (and MODSEQ with CONDSTORE) of the messages
    /// in `uid_range` (sequence-set syntax, e.g. `1:*`).
    pub async fn fetch_meta(&mut self, uid_range: &str) -> Result<Vec<MessageMeta>, ImapError> {
        self.fetch_meta_since(uid_range, None).await
    }

    /// Like [`Session::fetch_meta`]; with `changed_since`, only messages
    /// whose mod-sequence is higher (CONDSTORE `CHANGEDSINCE`), which makes
    /// a re-run over a large unchanged folder cheap.
    pub async fn fetch_meta_since(
        &mut self,
        uid_range: &str,
        changed_since: Option<u64>,
    ) -> Result<Vec<MessageMeta>, ImapError> {
        if !is_sequence_set(uid_range) {
            return Err(ImapError::InvalidArgument(format!(
                "not a UID set: {uid_range:?}"
            )));
        }
        let mut items = String::from("(UID FLAGS INTERNALDATE RFC822.SIZE");
        if self.caps.condstore {
            items.push_str(" MODSEQ");
        }
        items.push(')');
        if let Some(modseq) = changed_since {
            if !self.caps.condstore {
                return Err(self.unsupported("CONDSTORE (CHANGEDSINCE)"));
            }
            items.push_str(&format!(" (CHANGEDSINCE {modseq})"));
        }
        let cmd = Command::new("UID FETCH").raw(uid_range).raw(&items);
        let tag = self.send(&cmd).await?;
        let mut metas = Vec::new();
        while let Some(r) = self.next_for(&tag, cmd.name).await? {
            let Some(items) = fetch_items(r) else {
                continue;
            };
            let mut meta = MessageMeta {
                uid: 0,
                flags: Vec::new(),
                internal_date: String::new(),
                size: 0,
                modseq: None,
            };
            let (mut has_date, mut has_size) = (false, false);
            for (name, value) in items {
                match name.as_str() {
                    "UID" => meta.uid = value.as_u32().unwrap_or(0),
                    "FLAGS" => {
                        meta.flags = value
                            .as_list()
                            .unwrap_or_default()
                            .iter()
                            .filter_map(Value::as_atom)
                            .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                            .map(str::to_owned)
                            .collect();
                    }
                    "INTERNALDATE" => {
                        if let Some(d) = value.as_bytes() {
                            meta.internal_date = String::from_utf8_lossy(d).into_owned();
                            has_date = true;
                        }
                    }
                    "RFC822.SIZE" => {
                        if let Some(n) = value.as_u64() {
                            meta.size = n;
                            has_size = true;
                        }
                    }
                    "MODSEQ" => {
                        meta.modseq = value.as_list().and_then(|l| l.first()?.as_u64());
                    }
                    _ => {}
                }
            }
            // Unsolicited flag updates carry no date or size: skip them.
            if meta.uid != 0 && has_date && has_size {
                metas.push(meta);
            }
        }
        Ok(metas)
    }

    /// Streams whole messages: `on_message(uid, bytes)` runs as soon as each
    /// message has arrived, so only one message is in memory at a time.
    /// UIDs that no longer exist are skipped silently.
    pub async fn fetch_bodies(
        &mut self,
        uids: &[u32],
        mut on_message: impl FnMut(u32, Vec<u8>),
    ) -> Result<(), ImapError> {
        for set in sequence_sets(uids, MAX_SET_LEN) {
            let tag = self.start_body_fetch(&set).await?;
            while let Some((uid, body)) = self.next_body(&tag).await? {
                on_message(uid, body);
            }
        }
        Ok(())
    }

    /// Like [`Session::fetch_bodies`], sending each message to `tx` (waiting
    /// when the channel is full, which bounds memory). If the receiver is
    /// dropped, the rest of the answer is read and discarded so the session
    /// stays usable. Returns how many messages were delivered.
    pub async fn fetch_bodies_to(
        &mut self,
        uids: &[u32],
        tx: &mpsc::Sender<FetchedBody>,
    ) -> Result<usize, ImapError> {
        let mut delivered = 0;
        for set in sequence_sets(uids, MAX_SET_LEN) {
            let tag = self.start_body_fetch(&set).await?;
            while let Some((uid, body)) = self.next_body(&tag).await? {
                if !tx.is_closed() && tx.send(FetchedBody { uid, body }).await.is_ok() {
                    delivered += 1;
                }
            }
        }
        Ok(delivered)
    }

    async fn start_body_fetch(&mut self, set: &str) -> Result<String, ImapError> {
        let cmd = Command::new("UID FETCH").raw(set).raw("(UID BODY.PEEK[])");
        self.send(&cmd).await
    }

    async fn next_body(&mut self, tag: &str) -> Result<Option<(u32, Vec<u8>)>, ImapError> {
        while let Some(r) = self.next_for(tag, "UID FETCH").await? {
            let Some(items) = fetch_items(r) else {
                continue;
            };
            let Some(uid) = uid_of(&items) else { continue };
            let body = items
                .into_iter()
                .find(|(n, _)| n == "BODY[]" || n == "RFC822")
                .and_then(|(_, v)| v.into_bytes());
            if let Some(body) = body {
                return Ok(Some((uid, body)));
            }
        }
        Ok(None)
    }

    /// Header blocks, exactly as stored (including the blank line that ends
    /// them), with each message's size and INTERNALDATE.
    pub async fn fetch_headers(&mut self, uids: &[u32]) -> Result<Vec<StoredHeader>, ImapError> {
        let mut out = Vec::with_capacity(uids.len());
        for set in sequence_sets(uids, MAX_SET_LEN) {
            let cmd = Command::new("UID FETCH")
                .raw(&set)
                .raw("(UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])");
            let tag = self.send(&cmd).await?;
            while let Some(r) = self.next_for(&tag, cmd.name).await? {
                let Some(items) = fetch_items(r) else {
                    continue;
                };
                let Some(uid) = uid_of(&items) else { continue };
                let (mut size, mut date, mut header) = (None, None, None);
                for (name, value) in items {
                    match name.as_str() {
                        "RFC822.SIZE" => size = value.as_u64(),
                        "INTERNALDATE" => {
                            date = value
                                .as_bytes()
                                .map(|d| String::from_utf8_lossy(d).into_owned())
                        }
                        "BODY[HEADER]" => header = value.into_bytes(),
                        _ => {}
                    }
                }
                if let (Some(size), Some(header)) = (size, header) {
                    out.push(StoredHeader {
                        uid,
                        size,
                        internal_date: date.unwrap_or_default(),
                        header,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Replaces the flags of one message (`UID STORE n FLAGS.SILENT`).
    /// `\Recent` and flags that are not valid atoms are dropped.
    pub async fn uid_store_flags(&mut self, uid: u32, flags: &[String]) -> Result<(), ImapError> {
        self.uid_store_flags_batch(&[(uid, flags.to_vec())]).await
    }

    /// Replaces the flags of many messages: messages with the same flag set
    /// share one command, and all commands are pipelined. Returns the first
    /// refusal after all commands completed.
    pub async fn uid_store_flags_batch(
        &mut self,
        items: &[(u32, Vec<String>)],
    ) -> Result<(), ImapError> {
        let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (uid, flags) in items {
            groups.entry(flag_list(flags)).or_default().push(*uid);
        }
        let mut cmds = Vec::new();
        for (flags, uids) in &groups {
            for set in sequence_sets(uids, MAX_SET_LEN) {
                cmds.push(
                    Command::new("UID STORE")
                        .raw(&set)
                        .raw("FLAGS.SILENT")
                        .raw(flags),
                );
            }
        }
        first_error(self.run_pipelined(&cmds).await?)
    }

    /// Removes exactly these messages: marks them `\Deleted` and runs
    /// `UID EXPUNGE` on them (UIDPLUS), so other messages already marked
    /// `\Deleted` are left alone.
    pub async fn uid_expunge(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        if !self.caps.uidplus {
            return Err(self.unsupported("UIDPLUS (UID EXPUNGE)"));
        }
        let mut cmds = Vec::new();
        for set in sequence_sets(uids, MAX_SET_LEN) {
            cmds.push(
                Command::new("UID STORE")
                    .raw(&set)
                    .raw("+FLAGS.SILENT (\\Deleted)"),
            );
            cmds.push(Command::new("UID EXPUNGE").raw(&set));
        }
        first_error(self.run_pipelined(&cmds).await?)
    }
}

pub(super) fn first_error(results: Vec<Result<(), ImapError>>) -> Result<(), ImapError> {
    results.into_iter().collect()
}
