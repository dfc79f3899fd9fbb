//! Crashes at the copy pipeline's named fail points
//! (`MAILSHIFT_FAIL_AT`): the `mailshift` binary exits at the edge
//! named, the next run finishes, the destination then holds exactly the
//! source (nothing twice, nothing lost), and a further run copies
//! nothing. Deterministic where the `kill -9` tests of `mail_matrix`,
//! `pop3` and `pst_real` are not; IMAP between every pair of real servers
//! of the matrix, a POP3 source and a PST file. A late APPEND of a
//! crashed run, landing after the resume had sent the message again, is
//! played by hand and removed by the next run.

use std::collections::BTreeMap;

use mailshift::protocols::imap::AppendRequest;
use mailshift::stages::pipeline::fail::{EXIT_CODE, VARIABLE};
use tempfile::TempDir;

use crate::cmd::{Output, mailshift};
use crate::mail::{assert_same, assert_success, raw, servers, slashed, slashed_source, snapshot};
use crate::mail_matrix::bodies;
use crate::mail_matrix::scenarios::Setup;
use crate::pst::{PstBatch, destination, libyal, messages};
use crate::support::server::Folder;
use crate::support::{Dovecot, Kind};

/// The fail points, each armed at a time that falls in the middle of the
/// runs below.
const POINTS: [&str; 3] = [
    "after-intent:2",
    "after-append-sent:150",
    "after-watermark:2",
];

/// Asserts that a run stopped at the armed fail point.
#[track_caller]
fn assert_crashed(output: &Output, point: &str) {
    assert_eq!(output.code, Some(EXIT_CODE), "{output:?}");
    let name = point.split(':').next().unwrap_or(point);
    assert!(
        output
            .stderr
            .contains(&format!("fail point {name} reached")),
        "{output:?}"
    );
}

/// Asserts that a run copied nothing.
#[track_caller]
fn assert_copied_nothing(output: &Output) {
    assert_success(output);
    assert!(output.stdout.contains("copied 0,"), "{output:?}");
}

/// Seeds alice's INBOX (450 messages, some with 8-bit headers) and
/// Archive (120 of them) at the source of a pair.
async fn seed_crash_mail(setup: &Setup) {
    let bodies: Vec<Vec<u8>> = (0..450)
        .map(|i| {
            let headers = if i % 10 == 0 {
                format!("Subject: caf\u{e9} {i}\r\nMessage-ID: <{}@x>", i % 150)
            } else {
                format!("Subject: m{i}\r\nMessage-ID: <{}@x>", i % 150)
            };
            raw(&headers, &"z".repeat(1200))
        })
        .collect();
    setup.source.seed_bodies("alice", "INBOX", &bodies).await;
    let archive = setup.source.raw_name("Archive");
    setup
        .source
        .seed_bodies("alice", &archive, &bodies[..120])
        .await;
}

/// An IMAP pair: crash at `point`, resume, compare, run again.
async fn imap_crash_then_resume(source: Kind, dest: Kind, point: &str) {
    let setup = Setup::new(source, dest).await;
    seed_crash_mail(&setup).await;
    let crashed = setup.batch.command().env(VARIABLE, point).run();
    assert_crashed(&crashed, point);
    assert_success(&setup.batch.run());
    setup.assert_exact().await;
    assert_copied_nothing(&setup.batch.run());
}

/// A server goes on storing what a dead client had sent, at its own
/// pace: Courier, loaded, stored the APPEND in flight at a `kill -9`
/// after the resumed run had looked and sent the message again. Such a
/// late APPEND is played here by hand, twice, after a crash at the
/// second intent and a resume: the next run removes one twin of a copy
/// the crashed attempt had announced (INBOX's first messages were
/// announced whichever folder came first), and keeps the other, as a
/// message that is not mailshift's to remove.
async fn late_append_of_a_crashed_run_is_removed(source: Kind, dest: Kind) {
    let setup = Setup::new(source, dest).await;
    seed_crash_mail(&setup).await;
    let point = POINTS[0];
    assert_crashed(&setup.batch.command().env(VARIABLE, point).run(), point);
    assert_success(&setup.batch.run());
    setup.assert_exact().await;

    let twin = bodies(setup.source.as_ref(), "alice", "INBOX").await[5].clone();
    let hash = blake3::hash(&setup.dest_quirks.stored(&twin))
        .to_hex()
        .to_string();
    let late = AppendRequest {
        flags: Vec::new(),
        internal_date: Some("01-Jan-2001 00:00:00 +0000".to_owned()),
        body: twin,
    };
    setup
        .dest
        .seed("alice", "INBOX", vec![late.clone(), late])
        .await;
    let held =
        |got: &BTreeMap<String, Folder>| got["INBOX"].iter().filter(|(h, _, _)| *h == hash).count();
    assert_eq!(held(&setup.got().await), 3);

    assert_copied_nothing(&setup.batch.run());
    let mut got = setup.got().await;
    assert_eq!(held(&got), 2, "one late twin removed, one kept");
    let inbox = got.get_mut("INBOX").expect("INBOX");
    let kept = inbox
        .iter()
        .position(|(h, _, date)| *h == hash && date.starts_with("2001-01-01"))
        .expect("the twin kept is one of those put there");
    inbox.remove(kept);
    // The destination's own folders (not at the source) stay empty.
    let mut expected = setup.expected_of("alice").await;
    for path in got.keys() {
        expected.entry(path.clone()).or_default();
    }
    assert_same(&got, &expected);
}

/// One module per server pair, one test per fail point.
macro_rules! imap_pair {
    ($name:ident, $source:ident, $dest:ident) => {
        mod $name {
            use crate::support::Kind;

            #[tokio::test(flavor = "multi_thread")]
            async fn crash_after_intent_then_resume() {
                let point = super::POINTS[0];
                super::imap_crash_then_resume(Kind::$source, Kind::$dest, point).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn crash_after_append_sent_then_resume() {
                let point = super::POINTS[1];
                super::imap_crash_then_resume(Kind::$source, Kind::$dest, point).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn crash_after_watermark_then_resume() {
                let point = super::POINTS[2];
                super::imap_crash_then_resume(Kind::$source, Kind::$dest, point).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn late_append_of_a_crashed_run_is_removed() {
                super::late_append_of_a_crashed_run_is_removed(Kind::$source, Kind::$dest).await;
            }
        }
    };
}

imap_pair!(dovecot_to_dovecot, Dovecot, Dovecot);
imap_pair!(dovecot_to_cyrus, Dovecot, Cyrus);
imap_pair!(dovecot_to_courier, Dovecot, Courier);
imap_pair!(cyrus_to_dovecot, Cyrus, Dovecot);
imap_pair!(courier_to_dovecot, Courier, Dovecot);
imap_pair!(cyrus_to_courier, Cyrus, Courier);

/// A POP3 source into a Dovecot, in a temporary folder.
struct Pop3Batch {
    dir: TempDir,
}

impl Pop3Batch {
    fn new(source: &Dovecot, dest: &Dovecot) -> Pop3Batch {
        let dir = TempDir::new().expect("temp dir");
        let yaml = format!(
            "batch: pop3-crash\naccounts:\n  - source: {{kind: pop3, host: 127.0.0.1, \
             port: {}, tls: none, email: alice@example.test, user: alice, \
             password: source-pw}}\n    destination: {{kind: imap, host: 127.0.0.1, \
             port: {}, tls: none, email: alice@example.test, user: alice, \
             password: dest-pw}}\n",
            source.pop3_port(),
            dest.imap_port(),
        );
        std::fs::write(dir.path().join("batch.yaml"), yaml).expect("write manifest");
        Pop3Batch { dir }
    }

    fn command(&self) -> crate::cmd::Cmd {
        let dir = self.dir.path();
        mailshift()
            .arg("run")
            .arg(dir.join("batch.yaml"))
            .arg("--state")
            .arg(dir.join("state.db"))
            .arg("--reports")
            .arg(dir.join("reports"))
    }
}

/// The content hashes of alice's INBOX, sorted.
async fn inbox(server: &Dovecot) -> Vec<String> {
    let mut hashes: Vec<String> = snapshot(server, "alice")
        .await
        .remove("INBOX")
        .unwrap_or_default()
        .into_iter()
        .map(|(hash, _, _)| hash)
        .collect();
    hashes.sort();
    hashes
}

#[tokio::test(flavor = "multi_thread")]
async fn pop3_crash_at_each_fail_point_then_resume_is_exact() {
    let bodies: Vec<Vec<u8>> = (0..450)
        .map(|i| {
            raw(
                &format!("Subject: p{i}\r\nMessage-ID: <{}@x>", i % 150),
                &"y".repeat(700),
            )
        })
        .collect();
    let mut expected: Vec<String> = bodies
        .iter()
        .map(|b| blake3::hash(b).to_hex().to_string())
        .collect();
    expected.sort();
    for point in POINTS {
        // One watermark per run: the first is the one to crash at.
        let point = point.replace("after-watermark:2", "after-watermark");
        let (source, dest) = servers(slashed_source(), slashed());
        source.seed_bodies("alice", "INBOX", &bodies).await;
        let batch = Pop3Batch::new(&source, &dest);
        assert_crashed(&batch.command().env(VARIABLE, &point).run(), &point);
        assert_success(&batch.command().run());
        assert_eq!(inbox(&dest).await, expected, "{point}");
        assert_copied_nothing(&batch.command().run());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_crash_at_each_fail_point_then_resume_is_exact() {
    // What a run without a crash leaves, as the oracle.
    let clean = destination();
    assert_success(&PstBatch::new(&libyal(), &clean).run());
    let expected = messages(&clean).await;
    assert!(expected.values().map(Vec::len).sum::<usize>() > 1);
    for point in ["after-intent", "after-append-sent", "after-watermark"] {
        let dest = destination();
        let batch = PstBatch::new(&libyal(), &dest);
        assert_crashed(&batch.command().env(VARIABLE, point).run(), point);
        assert_success(&batch.run());
        assert_eq!(messages(&dest).await, expected, "{point}");
        assert_copied_nothing(&batch.run());
    }
}
