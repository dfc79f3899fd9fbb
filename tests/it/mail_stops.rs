//! The mail stage stopped and resumed: SIGTERM and SIGINT at many points of
//! a run, twins told apart by their date, and a destination that lost
//! recorded copies. Each run is the binary between two real Dovecots.

use std::time::{Duration, Instant};

use mailshift::protocols::imap::{AppendRequest, Session};

use crate::mail::{
    Account, Batch, account, assert_same, assert_success, raw, servers, slashed, slashed_source,
    snapshot,
};
use crate::support::{Dovecot, DovecotOptions};

const USERS: &[&str] = &["u1", "u2", "u3", "u4", "u5"];
const SOURCE_USERS: &[(&str, &str)] = &[
    ("u1", "source-pw"),
    ("u2", "source-pw"),
    ("u3", "source-pw"),
    ("u4", "source-pw"),
    ("u5", "source-pw"),
];
const DEST_USERS: &[(&str, &str)] = &[
    ("u1", "dest-pw"),
    ("u2", "dest-pw"),
    ("u3", "dest-pw"),
    ("u4", "dest-pw"),
    ("u5", "dest-pw"),
];

/// Counts the messages of the test users' INBOX and Archive at a server,
/// over sessions kept open, so that it can be polled often.
struct Counter {
    sessions: Vec<Session>,
}

impl Counter {
    async fn new(server: &Dovecot, users: &[&str]) -> Counter {
        let mut sessions = Vec::new();
        for user in users {
            sessions.push(Session::connect(&server.imap_config(user)).await.unwrap());
        }
        Counter { sessions }
    }

    async fn total(&mut self) -> u32 {
        let mut sum = 0;
        for session in &mut self.sessions {
            for folder in ["INBOX", "Archive"] {
                if let Ok(status) = session.status(folder).await {
                    sum += status.messages;
                }
            }
        }
        sum
    }
}

fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name}");
}

/// Ctrl-C and SIGTERM used to save a folder's watermark for a pass they cut
/// short: the messages after the cut were never copied by any later run.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_and_sigint_at_many_points_lose_nothing() {
    let source = Dovecot::start(DovecotOptions {
        users: SOURCE_USERS,
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: DEST_USERS,
        ..DovecotOptions::default()
    });
    for (n, user) in USERS.iter().enumerate() {
        let bodies: Vec<Vec<u8>> = (0..500)
            .map(|i| {
                raw(
                    &format!("Subject: {user} m{i}\r\nMessage-ID: <{n}.{i}@x>"),
                    &"y".repeat(1500),
                )
            })
            .collect();
        source.seed_bodies(user, "INBOX", &bodies).await;
        source.seed_bodies(user, "Archive", &bodies[..100]).await;
    }
    let accounts: Vec<Account<'_>> = USERS.iter().map(|u| account(u, &source, &dest)).collect();
    // A paced run, so that the stops fall all over it.
    let batch = Batch::new(&accounts, "  messages_per_second: 200");
    let all = 600 * USERS.len() as u32;

    // Ten stops spread over the run, SIGTERM and SIGINT in turn, each once
    // another share of the mail has arrived.
    let step = all / 20;
    let mut counter = Counter::new(&dest, USERS).await;
    let mut stops = 0;
    for i in 0..10 {
        let before = counter.total().await;
        if before + 2 * step >= all {
            break;
        }
        let mut child = batch.spawn();
        let started = Instant::now();
        while counter.total().await < before + step && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A run that already ended is no stop at all.
        if child.try_wait().expect("poll").is_some() {
            break;
        }
        signal(&child, if i % 2 == 0 { "TERM" } else { "INT" });
        let exited = Instant::now();
        let status = child.wait().expect("reap");
        assert!(
            exited.elapsed() < Duration::from_secs(30),
            "a stop is prompt"
        );
        assert!(status.code().is_some(), "exited by itself: {status:?}");
        stops += 1;
        if counter.total().await >= all {
            break;
        }
    }
    assert!(stops >= 6, "only {stops} stops came before the end");

    let resumed = batch.run();
    assert_success(&resumed);
    for user in USERS {
        assert_same(&snapshot(&dest, user).await, &snapshot(&source, user).await);
    }
    let again = batch.run();
    assert_success(&again);
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);
}

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
