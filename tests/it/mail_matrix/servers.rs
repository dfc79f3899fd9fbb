//! The servers of the matrix on their own: each starts, logs its users in
//! with their passwords only, has the provider's folders, and shows the
//! quirks the engine must cope with (probed here, so that a scenario that
//! depends on one says so).

use mailshift::protocols::imap::{AppendRequest, Session};

use super::{Quirks, start};
use crate::support::{Kind, MailServer};

#[tokio::test(flavor = "multi_thread")]
async fn each_server_starts_with_the_providers_folders_and_checks_passwords() {
    for kind in [Kind::Dovecot, Kind::Cyrus, Kind::Courier] {
        let server = start(kind, super::DEST_USERS);
        let server: &dyn MailServer = server.as_ref();
        let mut session = Session::connect(&server.imap_config("alice"))
            .await
            .unwrap_or_else(|e| panic!("{kind}: login: {e}\n{}", server.log()));
        let folders = session.list().await.expect("list");
        let names: Vec<&str> = folders.iter().map(|m| m.name.as_str()).collect();
        let trash = format!("{}Trash", server.prefix());
        assert!(names.contains(&trash.as_str()), "{kind}: {names:?}");
        session.logout().await.ok();

        let mut wrong = server.imap_config("alice");
        wrong.auth = mailshift::protocols::imap::Auth::Password("not-it".into());
        assert!(
            Session::connect(&wrong).await.is_err(),
            "{kind} accepted a wrong password"
        );

        let uids = server
            .seed_bodies(
                "alice",
                &server.raw_name("Reçus/Été"),
                &[b"Subject: x\r\n\r\ny\r\n"],
            )
            .await;
        assert_eq!(uids.len(), 1);
        let got = server.snapshot("alice").await;
        let name = format!("{}Reçus{}Été", server.prefix(), server.separator());
        assert_eq!(got[&name].len(), 1, "{kind}: {:?}", got.keys());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_probes_see_each_servers_quirks() {
    let expected = [
        (Kind::Dovecot, false, true),
        (Kind::Cyrus, true, true),
        (Kind::Courier, false, false),
    ];
    for (kind, munges, uidnext) in expected {
        let server = start(kind, super::DEST_USERS);
        let quirks = Quirks::probe(server.as_ref()).await;
        assert_eq!(quirks.munges_8bit_headers, munges, "{kind}");
        assert_eq!(quirks.uidnext_on_select, uidnext, "{kind}");
    }
    // What Cyrus does to an 8-bit header, byte for byte.
    let cyrus = start(Kind::Cyrus, super::DEST_USERS);
    let cyrus: &dyn MailServer = cyrus.as_ref();
    let sent = "Subject: caf\u{e9}\r\n\r\nbody \u{e9}\r\n"
        .as_bytes()
        .to_vec();
    cyrus
        .seed(
            "alice",
            "INBOX",
            vec![AppendRequest {
                body: sent.clone(),
                ..AppendRequest::default()
            }],
        )
        .await;
    let stored = super::bodies(cyrus, "alice", "INBOX").await;
    assert_eq!(stored, vec![super::munge_8bit_headers(&sent)]);
    assert_ne!(stored[0], sent);
}

/// Courier answers every APPEND of an 8-bit message with an `[ALERT]`:
/// the log says it once per account, not once per message.
#[tokio::test(flavor = "multi_thread")]
async fn courier_alert_on_8_bit_appends_is_logged_once_per_account() {
    let source = start(Kind::Dovecot, super::SOURCE_USERS);
    let dest = start(Kind::Courier, super::DEST_USERS);
    let bodies: Vec<Vec<u8>> = (0..30)
        .map(|i| format!("Subject: caf\u{e9} {i}\r\n\r\n\u{e9}t\u{e9} {i}\r\n").into_bytes())
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = crate::mail::Batch::new(
        &[crate::mail::Account {
            user: "alice",
            source_port: source.imap_port(),
            source_password: "source-pw",
            dest_port: dest.imap_port(),
            dest_password: "dest-pw",
        }],
        "",
    );
    let output = batch.run();
    crate::mail::assert_success(&output);
    let alerts = output.stderr.matches("server alert").count();
    assert_eq!(alerts, 1, "{}", output.stderr);
}
