//! A deterministic, realistic mail corpus for the benchmarks.
//!
//! Every account gets the same shape of mailbox, drawn from its own seed:
//! a handful of folders (INBOX, Sent, Drafts, Archive/<year>, project and
//! mailing-list folders, one with a non-ASCII name, one left empty),
//! messages whose sizes follow a log-normal law with a median near 7 KB,
//! about 5% of them `multipart/mixed` with a base64 attachment of
//! 100 KB–2 MB, dates spread over eight years in several time zones, every
//! system flag and a few keywords, and the oddities real mailboxes have:
//! identical duplicates, copies filed in two folders, different messages
//! sharing a Message-ID, messages with no Message-ID, 8-bit headers.
//!
//! The same seed gives the same bytes on every machine: the generator uses
//! its own small PRNG (`support/rng.rs`), not a library whose streams may
//! change.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, TimeZone as _};
use mailshift::protocols::imap::AppendRequest;

use super::rng::Rng;

/// How large the corpus is and where it starts from.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub accounts: usize,
    pub messages_per_account: usize,
    pub seed: u64,
}

/// One account's mailbox: each folder (modified UTF-7 wire name) with
/// the messages to append, in order.
pub struct Mailbox {
    pub folders: Vec<(String, Vec<AppendRequest>)>,
}

/// Folders with their share of the messages (per mille). The weights of
/// the `Archive/<year>` folders follow the message's date instead.
const FOLDERS: &[(&str, u32)] = &[
    ("INBOX", 360),
    ("Sent", 150),
    ("Drafts", 10),
    ("Archive", 250),
    ("Projects/Alpha", 60),
    ("Projects/Beta", 40),
    ("Lists/rust-users", 80),
    ("Reçus", 50),
];

/// A folder that exists but holds nothing.
const EMPTY_FOLDER: &str = "Old/Empty";

/// Dates run from 2017-01-01 to 2024-12-31 (UTC seconds).
const FIRST_DATE: i64 = 1_483_228_800;
const LAST_DATE: i64 = 1_735_689_599;

/// Time zones messages were received in (seconds east of UTC).
const ZONES: &[i32] = &[0, 3600, 7200, -5 * 3600, -8 * 3600, 19800, 32400];

const WORDS: &[&str] = &[
    "the",
    "meeting",
    "report",
    "budget",
    "quarter",
    "please",
    "review",
    "attached",
    "thanks",
    "regards",
    "schedule",
    "project",
    "deadline",
    "update",
    "invoice",
    "customer",
    "server",
    "migration",
    "account",
    "folder",
    "message",
    "tomorrow",
    "monday",
    "friday",
    "agenda",
    "notes",
    "draft",
    "final",
    "version",
    "team",
    "office",
    "travel",
    "hotel",
    "flight",
    "contract",
    "signature",
    "approval",
    "question",
    "answer",
    "issue",
    "release",
    "build",
    "test",
    "deploy",
    "backup",
    "restore",
    "password",
    "network",
    "printer",
    "coffee",
    "lunch",
    "café",
    "naïve",
    "résumé",
    "Zürich",
    "señor",
    "Ångström",
    "déjà",
    "vu",
    "and",
    "of",
    "to",
    "in",
    "for",
    "on",
    "with",
    "as",
    "we",
    "you",
    "it",
    "is",
    "was",
    "be",
    "this",
    "that",
];

const PEOPLE: &[&str] = &[
    "Alice Martin <alice.martin@example.com>",
    "Bob Dupont <bob@example.org>",
    "Carla Gómez <carla.gomez@example.net>",
    "Dmitri Ivanov <dmitri@example.com>",
    "Eve Chen <eve.chen@example.org>",
    "François Müller <francois@example.de>",
    "Grace Okafor <grace@example.com>",
    "Hiro Tanaka <hiro@example.jp>",
    "billing@vendor.example",
    "noreply@notifications.example",
    "rust-users@lists.example.org",
];

const ATTACHMENTS: &[(&str, &str)] = &[
    ("application/pdf", "report.pdf"),
    ("image/jpeg", "photo.jpg"),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "budget.xlsx",
    ),
    ("application/zip", "archive.zip"),
    ("image/png", "screenshot.png"),
];

/// The mailbox of account `index`.
pub fn mailbox(shape: &Shape, index: usize) -> Mailbox {
    let mut rng = Rng::new(shape.seed ^ (index as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut folders: Vec<(String, Vec<AppendRequest>)> = Vec::new();
    let folder_of = |name: &str, folders: &mut Vec<(String, Vec<AppendRequest>)>| -> usize {
        let wire = mailshift::protocols::imap::utf7::encode(name);
        match folders.iter().position(|(n, _)| *n == wire) {
            Some(i) => i,
            None => {
                folders.push((wire, Vec::new()));
                folders.len() - 1
            }
        }
    };
    folder_of("INBOX", &mut folders);
    folder_of(EMPTY_FOLDER, &mut folders);

    let total_weight: u32 = FOLDERS.iter().map(|(_, w)| w).sum();
    let mut made = 0;
    let mut serial = 0u64;
    // Messages already made, for duplicates: (folder, position, date).
    let mut placed: Vec<(usize, usize, i64)> = Vec::new();
    while made < shape.messages_per_account {
        // About 1% identical duplicates in the same folder, 1% copies filed
        // in another folder too.
        if !placed.is_empty() && rng.chance(0.02) {
            let &(folder, position, timestamp) = rng.pick(&placed);
            let copy = folders[folder].1[position].clone();
            let target = if rng.chance(0.5) {
                folder
            } else {
                let (name, _) = pick_folder(&mut rng, total_weight, timestamp);
                folder_of(&name, &mut folders)
            };
            folders[target].1.push(copy);
            made += 1;
            continue;
        }
        let date = date(&mut rng);
        let (name, role) = pick_folder(&mut rng, total_weight, date.timestamp());
        let folder = folder_of(&name, &mut folders);
        serial += 1;
        let message = message(&mut rng, index, serial, role, &date);
        folders[folder].1.push(message);
        placed.push((folder, folders[folder].1.len() - 1, date.timestamp()));
        made += 1;
    }
    Mailbox { folders }
}

/// What kind of folder a message goes to; drives its flags and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Inbox,
    Sent,
    Drafts,
    List,
    Other,
}

fn pick_folder(rng: &mut Rng, total_weight: u32, timestamp: i64) -> (String, Role) {
    let mut roll = rng.below(u64::from(total_weight)) as u32;
    for &(name, weight) in FOLDERS {
        if roll < weight {
            return match name {
                "INBOX" => (name.to_owned(), Role::Inbox),
                "Sent" => (name.to_owned(), Role::Sent),
                "Drafts" => (name.to_owned(), Role::Drafts),
                "Lists/rust-users" => (name.to_owned(), Role::List),
                "Archive" => {
                    let year = chrono::DateTime::from_timestamp(timestamp, 0)
                        .map(|d| d.format("%Y").to_string())
                        .unwrap_or_else(|| "2019".to_owned());
                    (format!("Archive/{year}"), Role::Other)
                }
                _ => (name.to_owned(), Role::Other),
            };
        }
        roll -= weight;
    }
    ("INBOX".to_owned(), Role::Inbox)
}

fn date(rng: &mut Rng) -> DateTime<FixedOffset> {
    let seconds = FIRST_DATE + rng.below((LAST_DATE - FIRST_DATE) as u64) as i64;
    let zone = FixedOffset::east_opt(*rng.pick(ZONES)).expect("a valid offset");
    zone.timestamp_opt(seconds, 0)
        .single()
        .expect("a valid timestamp")
}

/// Flags and keywords for a message in a folder of this role.
fn flags(rng: &mut Rng, role: Role) -> Vec<String> {
    let mut flags = Vec::new();
    let seen = match role {
        Role::Sent | Role::Drafts => true,
        Role::Inbox => rng.chance(0.75),
        Role::List => rng.chance(0.5),
        Role::Other => rng.chance(0.95),
    };
    if seen {
        flags.push("\\Seen");
    }
    if role == Role::Drafts {
        flags.push("\\Draft");
    }
    if role != Role::Drafts && rng.chance(0.15) {
        flags.push("\\Answered");
    }
    if rng.chance(0.05) {
        flags.push("\\Flagged");
    }
    if rng.chance(0.005) {
        flags.push("\\Deleted");
    }
    if rng.chance(0.03) {
        flags.push("$Forwarded");
    }
    for label in ["$Label1", "$Label2", "$Label3"] {
        if rng.chance(0.04) {
            flags.push(label);
        }
    }
    if rng.chance(0.1) {
        flags.push(if rng.chance(0.9) { "NonJunk" } else { "$Junk" });
    }
    flags.into_iter().map(str::to_owned).collect()
}

/// One message: headers, a text body (plain, or plain and HTML) and, for
/// about 5%, a base64 attachment.
fn message(
    rng: &mut Rng,
    account: usize,
    serial: u64,
    role: Role,
    received: &DateTime<FixedOffset>,
) -> AppendRequest {
    // Log-normal around a 7 KB median for the whole message.
    let target = (7000.0 * (0.85 * rng.normal()).exp()).clamp(700.0, 400_000.0) as usize;
    let attachment = rng
        .chance(0.05)
        .then(|| rng.log_uniform(100_000.0, 2_000_000.0) as usize);

    let me = format!("User {account:02} <user{account:02}@example.test>");
    let other = rng.pick(PEOPLE).to_string();
    let (from, to) = match role {
        Role::Sent | Role::Drafts => (me.clone(), other),
        Role::List => (other, "rust-users@lists.example.org".to_owned()),
        _ => (other, me.clone()),
    };
    let sent = *received - chrono::Duration::seconds(rng.below(3600) as i64 + 5);
    let subject = subject(rng, serial);

    let mut h = String::with_capacity(1024);
    if role != Role::Sent && role != Role::Drafts {
        let _ = write!(
            h,
            "Return-Path: <bounce-{serial}@mx.example.net>\r\n\
             Received: from mx{}.example.net (mx{}.example.net [192.0.2.{}])\r\n\
             \tby imap.example.test with ESMTPS id {:016x}\r\n\
             \tfor <user{account:02}@example.test>; {}\r\n",
            serial % 7,
            serial % 7,
            serial % 250 + 1,
            rng.next_u64(),
            received.to_rfc2822(),
        );
    }
    let _ = write!(h, "From: {from}\r\nTo: {to}\r\n");
    if rng.chance(0.2) {
        let _ = write!(h, "Cc: {}\r\n", rng.pick(PEOPLE));
    }
    let _ = write!(h, "Subject: {subject}\r\nDate: {}\r\n", sent.to_rfc2822());
    // About 1% have no Message-ID; about 0.5% share one with another message.
    if !rng.chance(0.01) {
        let id = if rng.chance(0.005) {
            format!("<shared-{}@example.test>", rng.below(5))
        } else {
            format!("<{:016x}.{serial}@{account}.example.test>", rng.next_u64())
        };
        let _ = write!(h, "Message-ID: {id}\r\n");
    }
    if role == Role::List {
        h.push_str(
            "List-Id: Rust users <rust-users.lists.example.org>\r\n\
             List-Unsubscribe: <mailto:rust-users-leave@lists.example.org>\r\n",
        );
    }
    h.push_str("MIME-Version: 1.0\r\n");

    let text_len = target.saturating_sub(h.len() + 200).max(80);
    let mut out = h.into_bytes();
    match attachment {
        Some(size) => {
            let boundary = format!("=_mixed_{:012x}", rng.next_u64() & 0xFFFF_FFFF_FFFF);
            let (mime, name) = *rng.pick(ATTACHMENTS);
            let _ = write!(
                Bytes(&mut out),
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n\r\n\
                 --{boundary}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n"
            );
            text(rng, &mut out, text_len.min(3000));
            let _ = write!(
                Bytes(&mut out),
                "\r\n--{boundary}\r\n\
                 Content-Type: {mime}; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n"
            );
            base64_lines(rng, &mut out, size);
            let _ = write!(Bytes(&mut out), "\r\n--{boundary}--\r\n");
        }
        None if rng.chance(0.3) => {
            let boundary = format!("=_alt_{:012x}", rng.next_u64() & 0xFFFF_FFFF_FFFF);
            let _ = write!(
                Bytes(&mut out),
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
                 --{boundary}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n"
            );
            let half = text_len / 3;
            text(rng, &mut out, half);
            let _ = write!(
                Bytes(&mut out),
                "\r\n--{boundary}\r\n\
                 Content-Type: text/html; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n\
                 <html><body>\r\n"
            );
            html(rng, &mut out, text_len - half);
            let _ = write!(Bytes(&mut out), "</body></html>\r\n\r\n--{boundary}--\r\n");
        }
        None => {
            out.extend_from_slice(
                b"Content-Type: text/plain; charset=utf-8\r\n\
                  Content-Transfer-Encoding: 8bit\r\n\r\n",
            );
            text(rng, &mut out, text_len);
        }
    }
    AppendRequest {
        flags: flags(rng, role),
        internal_date: Some(received.format("%d-%b-%Y %H:%M:%S %z").to_string()),
        body: out,
    }
}

/// `fmt::Write` into a byte buffer.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn subject(rng: &mut Rng, serial: u64) -> String {
    let prefix = *rng.pick(&["", "", "", "Re: ", "Fwd: ", "[rust-users] "]);
    let a = rng.pick(WORDS);
    let b = rng.pick(WORDS);
    let c = rng.pick(WORDS);
    if rng.chance(0.05) {
        // An encoded word, as non-ASCII subjects usually travel.
        format!("{prefix}=?utf-8?q?R=C3=A9union_{a}?= {b} #{serial}")
    } else {
        format!("{prefix}{a} {b} {c} #{serial}")
    }
}

/// Text lines of at most 72 columns up to about `len` bytes.
fn text(rng: &mut Rng, out: &mut Vec<u8>, len: usize) {
    let start = out.len();
    let mut line = 0;
    while out.len() - start < len {
        let word = rng.pick(WORDS).as_bytes();
        if line + word.len() + 1 > 72 {
            out.extend_from_slice(b"\r\n");
            line = 0;
            if rng.chance(0.08) {
                out.extend_from_slice(b"\r\n");
            }
        } else if line > 0 {
            out.push(b' ');
            line += 1;
        }
        out.extend_from_slice(word);
        line += word.len();
    }
    out.extend_from_slice(b"\r\n");
}

fn html(rng: &mut Rng, out: &mut Vec<u8>, len: usize) {
    let start = out.len();
    while out.len() - start < len {
        out.extend_from_slice(b"<p>");
        let paragraph = 100 + rng.below(400) as usize;
        text(rng, out, paragraph);
        out.extend_from_slice(b"</p>\r\n");
    }
}

/// `size` bytes of base64 (random content) in 76-column lines.
fn base64_lines(rng: &mut Rng, out: &mut Vec<u8>, size: usize) {
    let encoded = rng.base64(size);
    for chunk in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
}
