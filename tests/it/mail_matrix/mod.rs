//! The mail scenarios across server pairs: every scenario runs from
//! Dovecot to Cyrus, Cyrus to Dovecot, Dovecot to Courier, Courier to
//! Dovecot, Cyrus to Courier and Dovecot to Dovecot, with the `mailshift`
//! binary, and compares both mailboxes afterwards: folder tree, flags and
//! keywords, INTERNALDATE, subscriptions, special-use folders, mail already
//! at the destination, a re-run and an incremental pass (with report.json's
//! counts), `kill -9` at three points then a resume, SIGTERM and SIGINT at
//! many points then a resume, connections cut on both sides, and undo
//! (of new accounts, where the migration made the provider's folders).
//!
//! What a server itself does to a message is probed from that server
//! ([`Quirks`]) and applied to the expectation, never by loosening the
//! comparison: Cyrus stores 8-bit header bytes as `X` (Debian's
//! `munge8bit`), so a copy to Cyrus is expected to hold exactly that.
//! INTERNALDATE is compared as an instant: Cyrus and Courier keep the
//! time, not the zone it was written in.

pub mod scenarios;
mod servers;

/// One module per server pair, one test per scenario.
macro_rules! pair {
    ($name:ident, $source:ident, $dest:ident) => {
        mod $name {
            use crate::support::Kind;

            #[tokio::test(flavor = "multi_thread")]
            async fn folder_tree() {
                super::scenarios::folder_tree(Kind::$source, Kind::$dest).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn pre_existing_mail() {
                super::scenarios::pre_existing_mail(Kind::$source, Kind::$dest).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn rerun_and_incremental() {
                super::scenarios::rerun_and_incremental(Kind::$source, Kind::$dest).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn kill_9_then_resume() {
                super::scenarios::kill_9_then_resume(Kind::$source, Kind::$dest).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn connection_cuts() {
                super::scenarios::connection_cuts(Kind::$source, Kind::$dest).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn undo() {
                super::scenarios::undo(Kind::$source, Kind::$dest).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn sigterm_and_sigint_at_many_points_lose_nothing() {
                super::scenarios::sigterm_and_sigint_at_many_points_lose_nothing(
                    Kind::$source,
                    Kind::$dest,
                )
                .await;
            }
        }
    };
}

pair!(dovecot_to_dovecot, Dovecot, Dovecot);
pair!(dovecot_to_cyrus, Dovecot, Cyrus);
pair!(cyrus_to_dovecot, Cyrus, Dovecot);
pair!(dovecot_to_courier, Dovecot, Courier);
pair!(courier_to_dovecot, Courier, Dovecot);
pair!(cyrus_to_courier, Cyrus, Courier);

use std::collections::BTreeMap;

use mailshift::protocols::imap::{AppendRequest, Session};

use crate::support::server::Folder;
use crate::support::{Courier, Cyrus, Dovecot, DovecotOptions, Kind, MailServer};

/// Users of a source server of the matrix.
pub const SOURCE_USERS: &[(&str, &str)] = &[("alice", "source-pw"), ("bob", "source-pw")];
/// Users of a destination server of the matrix.
pub const DEST_USERS: &[(&str, &str)] = &[("alice", "dest-pw"), ("bob", "dest-pw")];

/// Starts a server of the given kind with these users. Dovecot plays a
/// provider too: Drafts, Sent, Trash and Junk made and subscribed at login.
pub fn start(kind: Kind, users: &'static [(&'static str, &'static str)]) -> Box<dyn MailServer> {
    match kind {
        Kind::Dovecot => Box::new(Dovecot::start(DovecotOptions {
            users,
            auto_folders: true,
            ..DovecotOptions::default()
        })),
        Kind::Cyrus => Box::new(Cyrus::start(users)),
        Kind::Courier => Box::new(Courier::start(users)),
    }
}

/// Starts a server of the given kind whose accounts are new: no folder
/// but INBOX, so that a migration makes Drafts, Sent, Trash and the rest.
pub fn start_bare(
    kind: Kind,
    users: &'static [(&'static str, &'static str)],
) -> Box<dyn MailServer> {
    match kind {
        Kind::Dovecot => Box::new(Dovecot::start(DovecotOptions {
            users,
            ..DovecotOptions::default()
        })),
        Kind::Cyrus => Box::new(Cyrus::start_bare(users)),
        Kind::Courier => Box::new(Courier::start_bare(users)),
    }
}

/// What a server does that a migration must cope with, seen by trying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// Stores 8-bit bytes of the header as `X`.
    pub munges_8bit_headers: bool,
    /// Sends `[UIDNEXT]` on SELECT.
    pub uidnext_on_select: bool,
}

impl Quirks {
    /// Appends a probe message to a scratch folder of `bob`, reads it back
    /// and selects the folder, then deletes it.
    pub async fn probe(server: &dyn MailServer) -> Quirks {
        let folder = server.raw_name("probe");
        let sent = "Subject: probe caf\u{e9}\r\n\r\n\u{e9}\r\n"
            .as_bytes()
            .to_vec();
        server
            .seed(
                "bob",
                &folder,
                vec![AppendRequest {
                    body: sent.clone(),
                    ..AppendRequest::default()
                }],
            )
            .await;
        let stored = bodies(server, "bob", &folder).await;
        let said_uidnext = select_says_uidnext(server, &folder);
        let mut session = Session::connect(&server.imap_config("bob"))
            .await
            .expect("probe: login");
        session.delete(&folder).await.expect("probe: delete");
        session.logout().await.ok();
        Quirks {
            munges_8bit_headers: stored == [munge_8bit_headers(&sent)] && stored != [sent],
            uidnext_on_select: said_uidnext,
        }
    }

    /// The message as this server stores it.
    pub fn stored(&self, message: &[u8]) -> Vec<u8> {
        if self.munges_8bit_headers {
            munge_8bit_headers(message)
        } else {
            message.to_vec()
        }
    }
}

/// Whether SELECT of `folder` (as `bob`) answers with `[UIDNEXT ...]`,
/// asked on a raw connection so that no client smooths it over.
fn select_says_uidnext(server: &dyn MailServer, folder: &str) -> bool {
    raw_exchange(server, "bob", &format!("SELECT \"{folder}\""))
        .iter()
        .any(|l| l.contains("[UIDNEXT "))
}

/// The names (on the wire) `user` is subscribed to, whether the folders
/// exist or not, as LSUB lists them; not the parents of subscribed folders
/// that LSUB adds as `\Noselect \HasChildren` (Courier's INBOX).
pub fn subscriptions(server: &dyn MailServer, user: &str) -> std::collections::BTreeSet<String> {
    raw_exchange(server, user, "LSUB \"\" \"*\"")
        .iter()
        .filter(|l| l.starts_with("* LSUB "))
        .filter(|l| !(l.contains("\\Noselect") && l.contains("\\HasChildren")))
        .filter_map(|l| {
            let line = l.trim_end();
            let name = if let Some(quoted) = line.strip_suffix('"') {
                &quoted[quoted.rfind('"')? + 1..]
            } else {
                &line[line.rfind(' ')? + 1..]
            };
            Some(name.to_owned())
        })
        .collect()
}

/// Logs `user` in on a raw connection, sends one command and returns the
/// lines of its answer, tagged line included.
fn raw_exchange(server: &dyn MailServer, user: &str, command: &str) -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.imap_port())).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut until = |tag: &str| -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("probe: connection closed: {lines:?}");
            }
            let done = line.starts_with(tag);
            lines.push(line);
            if done {
                return lines;
            }
        }
    };
    until("* OK");
    let password = server.password(user);
    write!(writer, "a LOGIN {user} \"{password}\"\r\n").expect("write");
    assert!(
        until("a ").last().is_some_and(|l| l.starts_with("a OK")),
        "probe: login"
    );
    write!(writer, "b {command}\r\nc LOGOUT\r\n").expect("write");
    until("b ")
}

/// A message with every byte of 128 or above in its header replaced by
/// `X`, as Cyrus's `munge8bit` stores it.
pub fn munge_8bit_headers(message: &[u8]) -> Vec<u8> {
    let header = mailshift::stages::mail::fingerprint::header_block(message).len();
    let mut out = message.to_vec();
    for b in &mut out[..header] {
        if *b >= 0x80 {
            *b = b'X';
        }
    }
    out
}

/// Every message of a folder, whole, in UID order.
pub async fn bodies(server: &dyn MailServer, user: &str, mailbox: &str) -> Vec<Vec<u8>> {
    let mut session = Session::connect(&server.imap_config(user))
        .await
        .expect("bodies: login");
    session.examine(mailbox).await.expect("bodies: examine");
    let uids = session.uid_search_all().await.expect("bodies: search");
    let mut out = BTreeMap::new();
    session
        .fetch_bodies(&uids, |uid, body| {
            out.insert(uid, body);
        })
        .await
        .expect("bodies: fetch");
    session.logout().await.ok();
    out.into_values().collect()
}

/// A snapshot keyed by folder path below the namespace (`Reçus/Été`).
pub fn by_path(
    server: &dyn MailServer,
    snapshot: BTreeMap<String, Folder>,
) -> BTreeMap<String, Folder> {
    let sep = server.separator().to_string();
    snapshot
        .into_iter()
        .map(|(name, folder)| {
            let path = match name.strip_prefix(server.prefix()) {
                Some(rest) if !server.prefix().is_empty() => rest.replace(&sep, "/"),
                _ => name.replace(&sep, "/"),
            };
            (path, folder)
        })
        .collect()
}
