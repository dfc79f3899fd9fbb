//! Real Outlook files (written by Outlook and by other libraries, see
//! the shared test data's README) imported by the `mailshift` binary into
//! a real Dovecot, each folder checked against `pffexport` and `readpst`
//! run on the same file: message counts, subjects, delivery times,
//! senders, attachments byte for byte, attached messages with their own
//! attachments; a re-run copies nothing, `plan --check` counts what the
//! run finds, undo takes everything back. Contacts, distribution lists
//! and appointments into Radicale: [`groupware`].

mod groupware;
mod oracle;

use std::path::PathBuf;

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::cmd::mailshift;
use crate::mail::assert_success;
use crate::pst::{PstBatch, destination, messages, testdata};
use crate::support::mime::{Attached, Entity};
use oracle::Mail;

/// A real file of the shared test data.
pub fn real(name: &str) -> PathBuf {
    testdata(&format!("pst/real/{name}"))
}

/// Decodes RFC 2047 encoded words (UTF-8 and the 8-bit charsets).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, word) = rest.split_at(start);
        let parts: Vec<&str> = word[2..].splitn(4, '?').collect();
        let decoded = match parts.as_slice() {
            [charset, kind, text, tail] if tail.starts_with('=') => {
                let bytes = if kind.eq_ignore_ascii_case("b") {
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .unwrap_or_default()
                } else {
                    quoted(&text.replace('_', " "))
                };
                let encoding = encoding_rs::Encoding::for_label(charset.as_bytes())
                    .unwrap_or(encoding_rs::UTF_8);
                Some((encoding.decode(&bytes).0.into_owned(), &tail[1..]))
            }
            _ => None,
        };
        let Some((text, tail)) = decoded else {
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            after_word = false;
            continue;
        };
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        out.push_str(&text);
        rest = tail;
        after_word = true;
    }
    out.push_str(rest);
    out
}

/// Quoted-printable `=XX` escapes as bytes.
fn quoted(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[at], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                at += 3;
            }
            (b, _) => {
                out.push(b);
                at += 1;
            }
        }
    }
    out
}

/// A leaf's file name (`filename`, or RFC 2231 `filename*`).
fn file_name(entity: &Entity) -> Option<String> {
    if let Some(name) = entity.param("content-disposition", "filename") {
        return Some(name);
    }
    let encoded = entity.param("content-disposition", "filename*")?;
    let (_, text) = encoded.split_once("''")?;
    Some(String::from_utf8_lossy(&quoted(&text.replace('%', "="))).into_owned())
}

/// A message fetched from the destination, as the oracle describes one.
fn parsed(raw: &[u8], internal_date: Option<&str>) -> (Mail, Option<String>) {
    let entity = Entity::parse(raw);
    let subject = entity
        .header("subject")
        .map(decode_words)
        .unwrap_or_default();
    let from = entity.header("from").map(decode_words);
    assert!(entity.header("date").is_some(), "no Date: {subject}");
    let mut mail = Mail {
        subject,
        delivered: internal_date.map(|d| {
            DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z")
                .expect("an INTERNALDATE")
                .with_timezone(&Utc)
        }),
        sender: None,
        attachments: Vec::new(),
        embedded: Vec::new(),
    };
    for leaf in entity.leaves() {
        let kind = leaf
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if kind.starts_with("message/rfc822") {
            mail.embedded.push(parsed(&leaf.body, None).0);
        } else if let Some(name) = file_name(&leaf) {
            mail.attachments.push((name, leaf.decoded()));
        }
    }
    mail.attachments.sort();
    mail.embedded.sort();
    (mail, from)
}

/// A message's subject and attachments.
type Shape = (String, Attached);

/// The messages' subjects and attachments with their attached messages',
/// for comparison (the readers differ on the dates and senders of
/// attached messages).
fn embedded(mails: &[Mail]) -> Vec<(Shape, Vec<Shape>)> {
    let mut out: Vec<_> = mails
        .iter()
        .map(|m| {
            let inner = m
                .embedded
                .iter()
                .map(|e| (e.subject.clone(), e.attachments.clone()))
                .collect();
            ((m.subject.clone(), m.attachments.clone()), inner)
        })
        .collect();
    out.sort();
    out
}

/// Imports `file` and checks every mail folder against both readers;
/// `folders` maps each folder of the file holding messages (its path
/// below the top, empty for the top itself) to its destination folder.
/// Returns the report's account.
async fn imports_as_the_readers_read(file: &str, folders: &[(&str, &str)]) -> serde_json::Value {
    let pst = real(file);
    let pff = oracle::pffexport(&pst);
    let readpst = oracle::readpst(&pst);
    let dest = destination();
    let before = messages(&dest).await;
    let batch = PstBatch::new(&pst, &dest);
    let first = batch.run();
    assert_success(&first);
    let got = messages(&dest).await;

    let mut expected_total = 0;
    for (source, target) in folders {
        let want = &pff[*source];
        let ours = &got[*target];
        let label = format!("{file}: {source} → {target}");
        assert_eq!(
            ours.len(),
            want.messages.len(),
            "{label}: pffexport's count"
        );
        let (readpst_count, readpst_files) = &readpst[*source];
        assert_eq!(ours.len(), *readpst_count, "{label}: readpst's count");
        expected_total += ours.len();

        let mut mails = Vec::new();
        for (_, date, body) in ours {
            let (mail, from) = parsed(body, Some(date));
            // The same subject and delivery time (to the second).
            let seconds = |d: &Option<DateTime<Utc>>| d.map(|d| d.timestamp());
            let want = want
                .messages
                .iter()
                .find(|m| {
                    m.subject == mail.subject && seconds(&m.delivered) == seconds(&mail.delivered)
                })
                .unwrap_or_else(|| {
                    panic!(
                        "{label}: {:?} {:?} not in pffexport's",
                        mail.subject, mail.delivered
                    )
                });
            if let (Some(sender), Some(from)) = (&want.sender, &from) {
                assert!(
                    from.contains(sender.as_str()),
                    "{label}: From {from}, sender {sender}"
                );
            }
            mails.push(mail);
        }
        mails.sort();
        let subjects = |m: &[Mail]| m.iter().map(|m| m.subject.clone()).collect::<Vec<_>>();
        assert_eq!(subjects(&mails), subjects(&want.messages), "{label}");
        // Attachments byte for byte, attached messages with theirs.
        assert_eq!(embedded(&mails), embedded(&want.messages), "{label}");
        let mut files: Attached = mails.iter().flat_map(|m| m.attachments.clone()).collect();
        files.sort();
        assert!(
            files == *readpst_files,
            "{label}: attachments differ from readpst's"
        );
    }
    // Nothing else anywhere, and the readers have no other message.
    let imported: usize =
        got.values().map(Vec::len).sum::<usize>() - before.values().map(Vec::len).sum::<usize>();
    assert_eq!(imported, expected_total, "{file}: {:?}", got.keys());
    let pff_total: usize = pff.values().map(|f| f.messages.len()).sum();
    assert_eq!(pff_total, expected_total, "{file}: pffexport has more");

    // The report: completed, every item found; plan --check counts the same.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(batch.report()).expect("report")).expect("JSON");
    let account = report["accounts"][0].clone();
    assert_eq!(account["state"], "completed", "{file}: {account}");
    assert!(
        first
            .stdout
            .contains(&format!("found {expected_total}, copied {expected_total},")),
        "{file}: {}",
        first.stdout
    );
    let plan = mailshift()
        .args(["plan", "--check"])
        .arg(&batch.manifest)
        .run()
        .success();
    let row = plan
        .stdout
        .lines()
        .find(|l| l.contains("alice@example.test"))
        .expect("the account's row");
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[6], expected_total.to_string(), "{file}: {row}");

    // A re-run copies nothing; undo takes everything back.
    let again = batch.run();
    assert_success(&again);
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);
    assert_eq!(messages(&dest).await, got);
    mailshift()
        .args([
            "undo",
            &batch.migration_id(),
            "--source",
            "alice@example.test",
            "--state",
        ])
        .arg(batch.state())
        .run()
        .success();
    assert_eq!(messages(&dest).await, before, "{file}: undo");
    account
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_real_messages_at_the_top_of_the_file_reach_inbox() {
    imports_as_the_readers_read("tika-testPST.pst", &[("", "INBOX")]).await;
    imports_as_the_readers_read("ruby-msg-msgInMsg.pst", &[("", "INBOX")]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_real_attached_messages_arrive_as_message_parts() {
    imports_as_the_readers_read(
        "aspose-Outlook.pst",
        &[("Inbox", "INBOX"), ("Sent Items", "Sent")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_real_rtf_bodies_keep_their_bytes() {
    imports_as_the_readers_read(
        "tika-testPST_variousBodyTypes.pst",
        &[("Inbox/tmp", "INBOX/tmp")],
    )
    .await;
    // The RTF-only message: its 8-bit bytes as readpst saves them, not
    // re-encoded, and labelled with the code page the RTF names.
    let pst = real("tika-testPST_variousBodyTypes.pst");
    let (_, files) = &oracle::readpst_rtf(&pst)["Inbox/tmp"];
    let dest = destination();
    assert_success(&PstBatch::new(&pst, &dest).run());
    let got = messages(&dest).await;
    let rtf: Vec<Vec<u8>> = got["INBOX/tmp"]
        .iter()
        .flat_map(|(_, _, body)| Entity::parse(body).leaves())
        .filter(|e| {
            e.header("content-type")
                .is_some_and(|t| t.starts_with("text/rtf"))
        })
        .map(|e| {
            let label = e.header("content-type").unwrap().to_owned();
            let bytes = e.decoded();
            assert!(
                bytes.is_ascii() == label.contains("US-ASCII"),
                "{label} for 8-bit RTF"
            );
            bytes
        })
        .collect();
    // readpst keeps the NUL that ends the decompressed RTF.
    let saved: Vec<&[u8]> = files
        .iter()
        .map(|(_, b)| b.strip_suffix(&[0]).unwrap_or(b))
        .collect();
    assert!(!saved.is_empty());
    for bytes in saved {
        assert!(
            rtf.iter().any(|ours| ours.as_slice() == bytes),
            "readpst's RTF body is not among ours"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_real_appointments_in_deleted_items_are_reported_not_counted_as_mail() {
    let account = imports_as_the_readers_read("sedatools-ContactCalendar-test.pst", &[]).await;
    let notes = account["item_errors"].as_array().expect("item errors");
    let skipped = notes
        .iter()
        .filter(|n| {
            n["reason"].as_str().is_some_and(|r| {
                r.starts_with("skipped: a IPM.Appointment item kept in a mail folder")
            })
        })
        .count();
    assert_eq!(skipped, 15, "{notes:?}");
    // Folders no asked option imports are named too.
    assert!(
        notes
            .iter()
            .any(|n| n["item"].as_str().is_some_and(|i| i.contains("Calendrier"))),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_real_password_protected_and_ost_files_are_refused_by_name() {
    let dest = destination();
    for (file, says) in [
        ("java-libpst-passworded.pst", "protected by a password"),
        ("aspose-SampleOstFile.ost", "an OST file"),
    ] {
        let path = real(file);
        let batch = PstBatch::new(&path, &dest);
        let out = batch.run().code(1);
        let expected = format!("{}: {says}", path.display());
        assert!(out.stdout.contains(&expected), "{}", out.stdout);
        mailshift()
            .args(["plan", "--check"])
            .arg(&batch.manifest)
            .run()
            .code(1)
            .stdout_has(says);
    }
    let imported: usize = messages(&dest).await.values().map(Vec::len).sum();
    assert_eq!(imported, 0);
}
