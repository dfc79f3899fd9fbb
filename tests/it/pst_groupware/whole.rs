//! One PST account with every option, into Dovecot and Radicale.

use tempfile::TempDir;

use super::{appointment, local, one, text, utc, zoe};
use crate::files::{run, undo};
use crate::support::pst_writer::{Item, Key, PstBuilder, Value};
use crate::support::radicale::{Radicale, home};

/// A mail message as Outlook keeps one that came from the Internet.
fn mail(subject: &str, id: &str) -> Item {
    let headers = format!(
        "From: Bob Ørsted <bob@example.test>\r\nTo: alice@example.test\r\n\
         Subject: {subject}\r\nDate: Tue, 03 Nov 2026 09:00:00 +0100\r\n\
         Message-ID: <{id}>\r\n"
    );
    Item {
        class: "IPM.Note".into(),
        props: vec![
            (Key::Tag(0x0037), text(subject)),
            (Key::Tag(0x007D), text(&headers)),
            (Key::Tag(0x1000), text("See you at the review.")),
            (Key::Tag(0x0E06), Value::Time(utc(2026, 11, 3, 8, 0))),
        ],
        recipients: Vec::new(),
        attachments: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_pst_goes_to_one_groupware_account_and_one_undo_takes_it_back() {
    let imap = crate::pst::destination();
    let dav_server = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dav_server.client("alice");
    let (books, calendars) = (home(&dav, false).await, home(&dav, true).await);
    let mail_before = crate::pst::messages(&imap).await;
    let dir = TempDir::new().unwrap();

    let mut builder = PstBuilder::new("Alice");
    let inbox = builder.folder(None, "Inbox", "IPF.Note");
    builder.item(inbox, mail("Review agenda", "agenda@example.test"));
    builder.item(inbox, mail("Review minutes", "minutes@example.test"));
    let contacts = builder.folder(None, "Contacts", "IPF.Contact");
    builder.item(contacts, zoe());
    let calendar = builder.folder(None, "Calendar", "IPF.Appointment");
    builder.item(
        calendar,
        appointment(
            "Revue trimestrielle",
            local(2026, 12, 3, 9, 0),
            local(2026, 12, 3, 10, 30),
        ),
    );
    let pst = dir.path().join("alice.pst");
    builder.write(&pst).unwrap();
    let manifest = dir.path().join("batch.yaml");
    std::fs::write(
        &manifest,
        format!(
            "batch: files\naccounts:\n  - source: {{kind: pst, path: \"{}\"}}\n    \
             destination: {{kind: groupware, host: 127.0.0.1, port: {}, tls: none, \
             email: alice@example.test, user: alice, password: dest-pw, dav_url: \"{}\"}}\n    \
             options: [mail, contacts, contact_groups, calendars, tasks]\n",
            pst.display(),
            imap.imap_port(),
            dav_server.home("alice")
        ),
    )
    .unwrap();

    // Two messages, a contact, an event: one account, one migration ID.
    run(dir.path(), &manifest).success().stdout_has("copied 4,");
    let mail_after = crate::pst::messages(&imap).await;
    let inbox: Vec<String> = mail_after["INBOX"]
        .iter()
        .map(|(_, _, body)| String::from_utf8_lossy(body).into_owned())
        .collect();
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(
        inbox
            .iter()
            .any(|m| m.contains("Message-ID: <minutes@example.test>")),
        "{inbox:?}"
    );
    let (_, cards) = &home(&dav, false).await["Contacts"];
    assert_eq!(cards.len(), 1);
    one(cards, "FN:Zoë Ångström");
    let (_, events) = &home(&dav, true).await["Calendar"];
    assert_eq!(events.len(), 1);
    one(events, "SUMMARY:Revue trimestrielle");

    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    undo(dir.path()).success();
    assert_eq!(crate::pst::messages(&imap).await, mail_before);
    assert_eq!(home(&dav, false).await, books);
    assert_eq!(home(&dav, true).await, calendars);
}
