//! The mail stage resumed: twins told apart by their date, and a
//! destination that lost recorded copies. Each run is the binary between
//! two real Dovecots. (SIGTERM and SIGINT at many points of a run are a
//! scenario of the mail matrix, on every pair of servers.)

use mailshift::protocols::imap::{AppendRequest, Session};

use crate::mail::{
    Batch, account, assert_same, assert_success, raw, servers, slashed, slashed_source, snapshot,
};

/// Two identical messages that differ only in their received date, one of
/// them already at the destination: each keeps its own date.
#[tokio::test(flavor = "multi_thread")]
async fn twins_that_differ_only_by_date_keep_their_dates() {
    let (source, dest) = servers(slashed_source(), slashed());
    let body = raw("Subject: twin\r\nMessage-ID: <twin@x>", "same bytes");
    let at = |date: &str| AppendRequest {
        flags: vec![],
        internal_date: Some(date.to_owned()),
        body: body.clone(),
    };
    // The later twin has the lower UID, so it is met first.
    source
        .seed(
            "alice",
            "INBOX",
            vec![
                at("02-Feb-2021 09:00:00 +0000"),
                at("01-Jan-2020 08:00:00 +0000"),
            ],
        )
        .await;
    dest.seed("alice", "INBOX", vec![at("01-Jan-2020 08:00:00 +0000")])
        .await;

    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    let output = batch.run();
    assert_success(&output);
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
    assert!(output.stdout.contains("copied 1,"), "{}", output.stdout);
}

/// A copy removed at the destination after a complete pass is not trusted
/// to be there: the next run sees the shortfall and copies it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_lost_at_the_destination_is_copied_again() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..12)
        .map(|i| raw(&format!("Subject: m{i}"), "x"))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());

    let mut session = Session::connect(&dest.imap_config("alice")).await.unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session.uid_search_all().await.unwrap();
    session.uid_expunge(&uids[3..5]).await.unwrap();
    session.logout().await.ok();

    let output = batch.run();
    assert_success(&output);
    assert!(output.stdout.contains("copied 2,"), "{}", output.stdout);
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}
