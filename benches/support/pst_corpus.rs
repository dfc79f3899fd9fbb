//! The mail corpus (`corpus.rs`) as an Outlook PST, written with the
//! test writer (`tests/it/support/pst_writer/`), and what an import of it
//! must leave at the destination.
//!
//! Each message becomes an `IPM.Note` stored the way Outlook stores a
//! message that came from the Internet: its header block as
//! PidTagTransportMessageHeaders, PidTagSubject, PidTagSenderName and the
//! sender's SMTP address, PidTagMessageDeliveryTime (the corpus's
//! INTERNALDATE), PidTagClientSubmitTime (its `Date`), PidTagMessageFlags
//! (read; unsent for a draft), PidTagFlagStatus and
//! PidTagLastVerbExecuted for `\Flagged`, `\Answered` and `$Forwarded`,
//! PidTagInternetMessageId when it has one, a recipient table from `To`
//! and `Cc`, PidTagBody (its `text/plain` parts) and PidTagHtml (its
//! `text/html` part, UTF-8), and each other part as an attachment by
//! value (its decoded bytes, file name and MIME type).
//!
//! Folders follow the corpus's (its `Archive/<year>`, `Projects/...`,
//! `Lists/...` nested), with Outlook's names for the special ones: INBOX
//! is `Inbox`, Sent is `Sent Items`; Drafts keeps its name.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::corpus::{self, Shape};
use super::mime::Entity;
use super::pst_writer::{FolderId, Item, Key, PstBuilder, Value};

/// What the destination must show of one message: Subject, Message-ID
/// (header values, unfolded), IMAP flags (sorted), INTERNALDATE and the
/// [`digest`] of its text and HTML bodies.
pub type Expected = (Option<String>, Option<String>, Vec<String>, i64, String);

/// The PST written, by destination folder.
pub struct Written {
    /// Destination folder name to its messages, sorted; folders that stay
    /// empty are there too.
    pub folders: BTreeMap<String, Vec<Expected>>,
    /// Messages written, in every folder.
    pub messages: usize,
    /// Attachments stored (by value, with their names and types).
    pub attachments: usize,
}

/// MAPI property tags ([MS-OXPROPS]).
const TRANSPORT_MESSAGE_HEADERS: u16 = 0x007D;
const SUBJECT: u16 = 0x0037;
const CLIENT_SUBMIT_TIME: u16 = 0x0039;
const SENDER_NAME: u16 = 0x0C1A;
const SENDER_ADDRESS_TYPE: u16 = 0x0C1E;
const SENDER_EMAIL: u16 = 0x0C1F;
const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
const MESSAGE_DELIVERY_TIME: u16 = 0x0E06;
const MESSAGE_FLAGS: u16 = 0x0E07;
const BODY: u16 = 0x1000;
const HTML: u16 = 0x1013;
const ATTACH_DATA: u16 = 0x3701;
const ATTACH_LONG_FILENAME: u16 = 0x3707;
const ATTACH_MIME_TAG: u16 = 0x370E;
const INTERNET_MESSAGE_ID: u16 = 0x1035;
const LAST_VERB_EXECUTED: u16 = 0x1081;
const FLAG_STATUS: u16 = 0x1090;
const INTERNET_CODEPAGE: u16 = 0x3FDE;
const RECIPIENT_TYPE: u16 = 0x0C15;
const DISPLAY_NAME: u16 = 0x3001;
const ADDRESS_TYPE: u16 = 0x3002;
const EMAIL_ADDRESS: u16 = 0x3003;
const SMTP_ADDRESS: u16 = 0x39FE;

const MSGFLAG_READ: i32 = 0x01;
const MSGFLAG_UNSENT: i32 = 0x08;
const FOLLOWUP_FLAGGED: i32 = 2;
const VERB_REPLY_TO_SENDER: i32 = 102;
const VERB_FORWARD: i32 = 104;
const UTF8_CODEPAGE: i32 = 65001;

/// Writes account 0's mailbox of `shape` to `path` as a PST.
pub fn write(shape: &Shape, path: &Path) -> std::io::Result<Written> {
    let mailbox = corpus::mailbox(shape, 0);
    let mut pst = PstBuilder::new("Personal Folders");
    let mut ids: BTreeMap<Vec<String>, FolderId> = BTreeMap::new();
    let mut written = Written {
        folders: BTreeMap::new(),
        messages: 0,
        attachments: 0,
    };
    for (wire, messages) in mailbox.folders {
        let name = mailshift::protocols::imap::utf7::decode(&wire)
            .map_err(|e| std::io::Error::other(format!("corpus folder {wire:?}: {e:?}")))?;
        let path = pst_path(&name);
        // Parents first: each level is a folder of its own.
        for depth in 1..=path.len() {
            let here = path[..depth].to_vec();
            if ids.contains_key(&here) {
                continue;
            }
            let parent = (depth > 1).then(|| ids[&path[..depth - 1]]);
            ids.insert(
                here.clone(),
                pst.folder(parent, &here[depth - 1], "IPF.Note"),
            );
            written.folders.entry(destination(&here)).or_default();
        }
        let expected = written.folders.entry(destination(&path)).or_default();
        for message in messages {
            let (item, want) = note(&message.body, &message.flags, message.internal_date)?;
            written.attachments += item.attachments.len();
            pst.item(ids[&path], item);
            expected.push(want);
            written.messages += 1;
        }
        expected.sort();
    }
    pst.write(path)?;
    Ok(written)
}

/// The PST folder of a corpus folder, by display name from the top of the
/// personal folders.
fn pst_path(corpus_name: &str) -> Vec<String> {
    match corpus_name {
        "INBOX" => vec!["Inbox".to_owned()],
        "Sent" => vec!["Sent Items".to_owned()],
        other => other.split('/').map(str::to_owned).collect(),
    }
}

/// Where an import puts a PST folder at a destination whose special
/// folders are `Sent` and `Drafts` (docs/pst.md, "How folders map").
fn destination(pst_path: &[String]) -> String {
    match pst_path {
        [inbox, rest @ ..] if inbox == "Inbox" => std::iter::once("INBOX".to_owned())
            .chain(rest.iter().cloned())
            .collect::<Vec<_>>()
            .join("/"),
        [sent] if sent == "Sent Items" => "Sent".to_owned(),
        path => path.join("/"),
    }
}

/// One corpus message as an `IPM.Note`, and what the destination must
/// show of it.
fn note(
    raw: &[u8],
    flags: &[String],
    internal_date: Option<String>,
) -> std::io::Result<(Item, Expected)> {
    let bad = |what: &str| std::io::Error::other(format!("corpus message: {what}"));
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of header"))?;
    let header_block = String::from_utf8_lossy(&raw[..end + 4]).into_owned();
    let message = Entity::parse(raw);
    let header = |name: &str| message.header(name).map(str::to_owned);
    let delivered = internal_date
        .as_deref()
        .and_then(|d| DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").ok())
        .ok_or_else(|| bad("no INTERNALDATE"))?
        .with_timezone(&Utc);
    let submitted = header("date")
        .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
        .ok_or_else(|| bad("no Date"))?
        .with_timezone(&Utc);
    let subject = header("subject");
    let message_id = header("message-id");
    let (sender_name, sender_email) = mailbox(&header("from").ok_or_else(|| bad("no From"))?);

    let recipients = [("to", 1), ("cc", 2)]
        .into_iter()
        .filter_map(|(name, kind)| Some((message.header(name)?, kind)))
        .map(|(value, kind)| {
            let (name, email) = mailbox(value);
            vec![
                (RECIPIENT_TYPE, Value::I32(kind)),
                (DISPLAY_NAME, Value::Text(name)),
                (ADDRESS_TYPE, Value::Text("SMTP".to_owned())),
                (EMAIL_ADDRESS, Value::Text(email.clone())),
                (SMTP_ADDRESS, Value::Text(email)),
            ]
        })
        .collect();

    let has = |flag: &str| flags.iter().any(|f| f == flag);
    let (read, draft, flagged) = (has("\\Seen"), has("\\Draft"), has("\\Flagged"));
    // One last verb: a reply wins over a forward, as `$Forwarded` is then
    // lost.
    let verb = if has("\\Answered") {
        Some(VERB_REPLY_TO_SENDER)
    } else if has("$Forwarded") {
        Some(VERB_FORWARD)
    } else {
        None
    };
    let mut message_flags = 0;
    if read {
        message_flags |= MSGFLAG_READ;
    }
    if draft {
        message_flags |= MSGFLAG_UNSENT;
    }
    let mut props = vec![
        (TRANSPORT_MESSAGE_HEADERS, Value::Text(header_block)),
        (SENDER_NAME, Value::Text(sender_name)),
        (SENDER_ADDRESS_TYPE, Value::Text("SMTP".to_owned())),
        (SENDER_EMAIL, Value::Text(sender_email.clone())),
        (SENDER_SMTP_ADDRESS, Value::Text(sender_email)),
        (MESSAGE_DELIVERY_TIME, Value::Time(delivered)),
        (CLIENT_SUBMIT_TIME, Value::Time(submitted)),
        (MESSAGE_FLAGS, Value::I32(message_flags)),
    ];
    if let Some(subject) = &subject {
        props.push((SUBJECT, Value::Text(subject.clone())));
    }
    if let Some(id) = &message_id {
        props.push((INTERNET_MESSAGE_ID, Value::Text(id.clone())));
    }
    if flagged {
        props.push((FLAG_STATUS, Value::I32(FOLLOWUP_FLAGGED)));
    }
    if let Some(verb) = verb {
        props.push((LAST_VERB_EXECUTED, Value::I32(verb)));
    }

    let mut text = String::new();
    let mut html = Vec::new();
    let mut attachments = Vec::new();
    for leaf in message.leaves() {
        let kind = leaf
            .header("content-type")
            .unwrap_or("text/plain")
            .to_ascii_lowercase();
        // The corpus's text parts are 8-bit UTF-8: nothing to decode.
        if kind.starts_with("text/plain") {
            text.push_str(&String::from_utf8_lossy(&leaf.body));
        } else if kind.starts_with("text/html") {
            html.clone_from(&leaf.body);
            props.push((HTML, Value::Binary(leaf.body)));
            props.push((INTERNET_CODEPAGE, Value::I32(UTF8_CODEPAGE)));
        } else {
            let name = leaf
                .param("content-disposition", "filename")
                .or_else(|| leaf.param("content-type", "name"))
                .unwrap_or_default();
            let mime_type = kind.split(';').next().unwrap_or_default().trim().to_owned();
            attachments.push(vec![
                (ATTACH_DATA, Value::Binary(leaf.decoded())),
                (ATTACH_LONG_FILENAME, Value::Text(name)),
                (ATTACH_MIME_TAG, Value::Text(mime_type)),
            ]);
        }
    }
    let bodies = digest(text.as_bytes(), &html);
    props.push((BODY, Value::Text(text)));

    let mut want_flags: Vec<String> = [
        (read, "\\Seen"),
        (draft, "\\Draft"),
        (flagged, "\\Flagged"),
        (verb == Some(VERB_REPLY_TO_SENDER), "\\Answered"),
        (verb == Some(VERB_FORWARD), "$Forwarded"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, flag)| flag.to_owned())
    .collect();
    want_flags.sort();

    let item = Item {
        class: "IPM.Note".to_owned(),
        props: props.into_iter().map(|(id, v)| (Key::Tag(id), v)).collect(),
        recipients,
        attachments,
    };
    Ok((
        item,
        (
            subject,
            message_id,
            want_flags,
            delivered.timestamp(),
            bodies,
        ),
    ))
}

/// Display name and address of `Name <address>` or a bare address (the
/// corpus writes no other form).
fn mailbox(value: &str) -> (String, String) {
    match value.split_once('<') {
        Some((name, rest)) => (
            name.trim().to_owned(),
            rest.trim_end_matches('>').trim().to_owned(),
        ),
        None => (value.trim().to_owned(), value.trim().to_owned()),
    }
}

/// A message's text and HTML bodies, decoded, as one hash: the line
/// ends that close a body are left out, as a MIME boundary may take them.
pub fn digest(text: &[u8], html: &[u8]) -> String {
    let trim = |b: &[u8]| {
        let end = b
            .iter()
            .rposition(|c| !matches!(c, b'\r' | b'\n'))
            .map_or(0, |i| i + 1);
        b[..end].to_vec()
    };
    let mut hasher = blake3::Hasher::new();
    hasher.update(&trim(text));
    // Keeps a text ending where the HTML starts from hashing alike.
    hasher.update(&[0]);
    hasher.update(&trim(html));
    hasher.finalize().to_hex().to_string()
}
