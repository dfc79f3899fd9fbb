//! Gmail's IMAP extensions (capability `X-GM-EXT-1`): every message's
//! permanent ID (`X-GM-MSGID`) and its labels (`X-GM-LABELS`), read with
//! FETCH and added with STORE.
//!
//! The forms follow Google's published description of the extensions;
//! no Gmail server runs in this project's tests, so the commands and the
//! reading of the answers are checked against the documented exchanges
//! only.

use std::collections::BTreeMap;

use super::command::{Command, sequence_sets};
use super::error::ImapError;
use super::fetch::{MAX_SET_LEN, fetch_items, first_error, uid_of};
use super::response::{Response, Value};
use super::session::Session;

/// A message's Gmail identity and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GmailMeta {
    /// UID in the selected mailbox.
    pub uid: u32,
    /// `X-GM-MSGID`: the same in every folder the message shows in.
    pub msgid: u64,
    /// `X-GM-LABELS`, as sent (`\Inbox`, `\Starred`, `Work`); system
    /// labels start with `\`.
    pub labels: Vec<String>,
}

impl GmailMeta {
    /// Whether the message carries the label (system labels compared
    /// without case).
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l.eq_ignore_ascii_case(label))
    }
}

impl Session {
    /// The Gmail ID and labels of the messages in the selected mailbox
    /// (`UID FETCH set (UID X-GM-MSGID X-GM-LABELS)`).
    pub async fn fetch_gmail(&mut self, uids: &[u32]) -> Result<Vec<GmailMeta>, ImapError> {
        if !self.caps.gmail {
            return Err(self.unsupported("X-GM-EXT-1 (Gmail message IDs)"));
        }
        let mut out = Vec::with_capacity(uids.len());
        for set in sequence_sets(uids, MAX_SET_LEN) {
            let cmd = Command::new("UID FETCH")
                .raw(&set)
                .raw("(UID X-GM-MSGID X-GM-LABELS)");
            for r in self.run(&cmd).await? {
                out.extend(gmail_meta(r));
            }
        }
        Ok(out)
    }

    /// Adds labels to messages of the selected mailbox
    /// (`UID STORE set +X-GM-LABELS (...)`): messages with the same
    /// labels share one command, and all commands are pipelined. Labels
    /// are folder names as on the wire, or system labels (`\Inbox`).
    pub async fn uid_add_labels(&mut self, items: &[(u32, Vec<String>)]) -> Result<(), ImapError> {
        if !self.caps.gmail {
            return Err(self.unsupported("X-GM-EXT-1 (Gmail labels)"));
        }
        let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (uid, labels) in items.iter().filter(|(_, labels)| !labels.is_empty()) {
            groups.entry(label_list(labels)).or_default().push(*uid);
        }
        let mut cmds = Vec::new();
        for (labels, uids) in &groups {
            for set in sequence_sets(uids, MAX_SET_LEN) {
                cmds.push(add_labels(&set, labels));
            }
        }
        first_error(self.run_pipelined(&cmds).await?)
    }
}

/// `UID STORE set +X-GM-LABELS labels`, the documented form (the server
/// answers with each message's labels, which nothing here reads).
fn add_labels(set: &str, labels: &str) -> Command<'static> {
    Command::new("UID STORE")
        .raw(set)
        .raw("+X-GM-LABELS")
        .raw(labels)
}

/// A parenthesised label list: system labels as atoms, the others quoted.
fn label_list(labels: &[String]) -> String {
    let words: Vec<String> = labels
        .iter()
        .map(|l| {
            let system = l.starts_with('\\') && l[1..].chars().all(|c| c.is_ascii_alphanumeric());
            if system {
                l.clone()
            } else {
                format!("\"{}\"", l.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect();
    format!("({})", words.join(" "))
}

/// The Gmail items of one FETCH response; `None` without a UID or an ID.
fn gmail_meta(r: Response) -> Option<GmailMeta> {
    let items = fetch_items(r)?;
    let uid = uid_of(&items)?;
    let mut msgid = None;
    let mut labels = Vec::new();
    for (name, value) in items {
        match name.as_str() {
            "X-GM-MSGID" => msgid = value.as_u64(),
            "X-GM-LABELS" => {
                labels = value
                    .as_list()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Value::as_bytes)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect();
            }
            _ => {}
        }
    }
    Some(GmailMeta {
        uid,
        msgid: msgid?,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::imap::parse::parse;
    use crate::protocols::imap::response::RawResponse;

    fn response(line: &str) -> Response {
        parse(RawResponse {
            text: format!("{line}\r\n").into_bytes(),
            literals: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn msgid_and_labels_as_google_documents_them() {
        // The answers of Google's description of X-GM-MSGID and
        // X-GM-LABELS, with the UID a UID FETCH adds.
        let meta = gmail_meta(response(
            "* 1 FETCH (X-GM-MSGID 1278455344230334865 UID 11 X-GM-LABELS (\\Inbox \\Sent Important \"Muy Importante\"))",
        ))
        .unwrap();
        assert_eq!(meta.uid, 11);
        assert_eq!(meta.msgid, 1278455344230334865);
        assert_eq!(
            meta.labels,
            ["\\Inbox", "\\Sent", "Important", "Muy Importante"]
        );
        assert!(meta.has_label("\\inbox"));
        let empty = gmail_meta(response(
            "* 3 FETCH (UID 13 X-GM-MSGID 1278455344230334867 X-GM-LABELS ())",
        ))
        .unwrap();
        assert!(empty.labels.is_empty());
        // A flag update without the ID is not a message's identity.
        assert_eq!(
            gmail_meta(response("* 4 FETCH (UID 14 FLAGS (\\Seen))")),
            None
        );
    }

    #[test]
    fn labels_are_added_with_store() {
        let labels = label_list(&[
            "\\Inbox".to_owned(),
            "Muy Importante".to_owned(),
            "a\"b".to_owned(),
        ]);
        assert_eq!(
            add_labels("42,44:45", &labels).for_log(),
            "UID STORE 42,44:45 +X-GM-LABELS (\\Inbox \"Muy Importante\" \"a\\\"b\")"
        );
    }
}
