//! A POP3 source end to end: the `mailshift` binary reading a real
//! Dovecot's POP3 service into another Dovecot's INBOX over IMAP.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailshift::protocols::imap::Session;
use tempfile::TempDir;

use crate::cmd::{Output, mailshift};
use crate::mail::{assert_success, raw, servers, slashed, slashed_source, snapshot};
use crate::support::{Dovecot, DovecotOptions, message};

/// A manifest whose accounts read POP3 from `source` and write IMAP to
/// `dest`, and a state database, in a temporary folder.
struct Pop3Batch {
    dir: TempDir,
    manifest: PathBuf,
}

impl Pop3Batch {
    /// One account per `(user, source password)`, the source without TLS.
    fn new(source: &Dovecot, dest: &Dovecot, accounts: &[(&str, &str)], options: &str) -> Self {
        Self::with_tls(source, dest, accounts, options, "none")
    }

    /// As [`Pop3Batch::new`], the source with this TLS mode (and its
    /// self-signed certificate accepted).
    fn with_tls(
        source: &Dovecot,
        dest: &Dovecot,
        accounts: &[(&str, &str)],
        options: &str,
        tls: &str,
    ) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let mut yaml = format!("batch: pop3-test\n{options}accounts:\n");
        for (user, password) in accounts {
            yaml.push_str(&format!(
                "  - source: {{kind: pop3, host: 127.0.0.1, port: {}, tls: {tls}, \
                 accept_invalid_certs: true, \
                 email: {user}@example.test, user: {user}, password: {password}}}\n    \
                 destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
                 email: {user}@example.test, user: {user}, password: dest-pw}}\n",
                source.pop3_port(),
                dest.imap_port(),
            ));
        }
        let manifest = dir.path().join("batch.yaml");
        std::fs::write(&manifest, yaml).expect("write manifest");
        Pop3Batch { dir, manifest }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    fn run(&self) -> Output {
        mailshift()
            .arg("run")
            .arg(&self.manifest)
            .arg("--state")
            .arg(self.state())
            .arg("--reports")
            .arg(self.dir.path().join("reports"))
            .run()
    }

    fn spawn(&self) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_mailshift"))
            .arg("run")
            .arg(&self.manifest)
            .arg("--state")
            .arg(self.state())
            .arg("--reports")
            .arg(self.dir.path().join("reports"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn mailshift")
    }

    fn migration_id(&self) -> String {
        crate::support::first_migration_id(&self.state())
    }
}

/// The content hashes of a user's INBOX, sorted.
async fn inbox(server: &Dovecot, user: &str) -> Vec<String> {
    let mut hashes: Vec<String> = snapshot(server, user).await["INBOX"]
        .iter()
        .map(|(hash, _, _)| hash.clone())
        .collect();
    hashes.sort();
    hashes
}

fn hashes<B: AsRef<[u8]>>(bodies: &[B]) -> Vec<String> {
    let mut hashes: Vec<String> = bodies
        .iter()
        .map(|b| blake3::hash(b.as_ref()).to_hex().to_string())
        .collect();
    hashes.sort();
    hashes
}

async fn inbox_count(server: &Dovecot, user: &str) -> u32 {
    let Ok(mut session) = Session::connect(&server.imap_config(user)).await else {
        return 0;
    };
    let count = session.status("INBOX").await.map_or(0, |s| s.messages);
    session.logout().await.ok();
    count
}

#[tokio::test(flavor = "multi_thread")]
async fn pop3_messages_arrive_byte_for_byte_and_reruns_copy_only_new_ones() {
    let (source, dest) = servers(slashed_source(), slashed());
    let dated = message("dated", "hello");
    // Lines starting with dots are stuffed by the server and must come back.
    let dotted = raw(
        "Subject: dots\r\nMessage-ID: <dots@x>",
        ".leading dot\r\n..two dots\r\n.\r\nafter a lone dot",
    );
    let undated = raw("Subject: no date", "x");
    let twin = raw("Subject: twin", "same");
    let already = raw("Subject: already copied by hand", "a");
    let own = raw("Subject: the user's own", "mine");
    let sources: Vec<&[u8]> = vec![&dated, &dotted, &undated, &twin, &twin, &already];
    source.seed_bodies("alice", "INBOX", &sources).await;
    dest.seed_bodies("alice", "INBOX", &[&already, &own]).await;
    let batch = Pop3Batch::new(&source, &dest, &[("alice", "source-pw")], "");

    let first = batch.run();
    assert_success(&first);
    assert!(first.stdout.contains("copied 5,"), "{}", first.stdout);
    let mut expected: Vec<&[u8]> = sources.clone();
    expected.push(&own);
    assert_eq!(inbox(&dest, "alice").await, hashes(&expected));
    let got = snapshot(&dest, "alice").await;
    let dated_hash = blake3::hash(&dated).to_hex().to_string();
    let (_, flags, date) = got["INBOX"]
        .iter()
        .find(|(h, _, _)| *h == dated_hash)
        .expect("the dated message");
    // The destination shows the same instant in its own time zone.
    let instant = |d: &str| chrono::DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").unwrap();
    assert_eq!(
        instant(date),
        instant("17-Jul-1996 02:44:25 -0700"),
        "INTERNALDATE from Date: ({date})"
    );
    assert_eq!(flags, "", "POP3 has no flags");
    // Nothing was deleted at the source.
    assert_eq!(inbox(&source, "alice").await, hashes(&sources));

    let second = batch.run();
    assert_success(&second);
    assert!(second.stdout.contains("copied 0,"), "{}", second.stdout);
    assert_eq!(inbox(&dest, "alice").await, hashes(&expected));

    let late = raw("Subject: late", "new");
    source.seed_bodies("alice", "INBOX", &[&late]).await;
    let third = batch.run();
    assert_success(&third);
    assert!(third.stdout.contains("copied 1,"), "{}", third.stdout);
    expected.push(&late);
    assert_eq!(inbox(&dest, "alice").await, hashes(&expected));
}

#[tokio::test(flavor = "multi_thread")]
async fn pop3_kill_9_mid_run_then_resume_duplicates_nothing() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..3000)
        .map(|i| {
            raw(
                &format!("Subject: m{i}\r\nMessage-ID: <{}@x>", i % 1000),
                &"z".repeat(500),
            )
        })
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = Pop3Batch::new(&source, &dest, &[("alice", "source-pw")], "");

    for threshold in [1, 900, 2000] {
        let mut child = batch.spawn();
        let started = Instant::now();
        while inbox_count(&dest, "alice").await < threshold
            && started.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
    assert!(
        inbox_count(&dest, "alice").await < 3000,
        "the kills came before the end"
    );
    assert_success(&batch.run());
    assert_eq!(inbox(&dest, "alice").await, hashes(&bodies));
    let again = batch.run();
    assert_success(&again);
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn pop3_wrong_password_fails_that_account_naming_user_and_server() {
    let (source, dest) = servers(slashed_source(), slashed());
    let a = raw("Subject: a", "a");
    source.seed_bodies("alice", "INBOX", &[&a]).await;
    source
        .seed_bodies("bob", "INBOX", &[&raw("Subject: b", "b")])
        .await;
    let batch = Pop3Batch::new(
        &source,
        &dest,
        &[("alice", "source-pw"), ("bob", "not-the-password")],
        "",
    );

    let output = batch.run();
    assert_eq!(output.code, Some(1), "{output:?}");
    let all = format!("{}{}", output.stdout, output.stderr);
    assert!(all.contains("login failed for user bob"), "{all}");
    assert!(
        all.contains(&format!("127.0.0.1:{}", source.pop3_port())),
        "{all}"
    );
    assert!(
        !all.contains("not-the-password"),
        "a password leaked: {all}"
    );
    assert_eq!(inbox(&dest, "alice").await, hashes(&[&a]));
    assert_eq!(inbox_count(&dest, "bob").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn pop3_undo_removes_exactly_what_was_copied() {
    let (source, dest) = servers(slashed_source(), slashed());
    let own = raw("Subject: already there", "mine");
    dest.seed_bodies("alice", "INBOX", &[&own]).await;
    source
        .seed_bodies(
            "alice",
            "INBOX",
            &[&raw("Subject: a", "a"), &raw("Subject: b", "b")],
        )
        .await;
    let batch = Pop3Batch::new(&source, &dest, &[("alice", "source-pw")], "");
    assert_success(&batch.run());
    assert_eq!(inbox_count(&dest, "alice").await, 3);
    let late = raw("Subject: arrived later", "late");
    dest.seed_bodies("alice", "INBOX", &[&late]).await;

    let id = batch.migration_id();
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .run()
        .success()
        .stdout_has("2 messages removed");
    assert_eq!(inbox(&dest, "alice").await, hashes(&[&own, &late]));
    assert_eq!(
        inbox_count(&source, "alice").await,
        2,
        "the source is untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pop3_source_asking_for_more_than_mail_is_invalid() {
    let (source, dest) = servers(slashed_source(), slashed());
    let batch = Pop3Batch::new(
        &source,
        &dest,
        &[("alice", "source-pw")],
        "defaults:\n  options: [mail, contacts]\n",
    );
    mailshift()
        .arg("validate")
        .arg(&batch.manifest)
        .run()
        .code(2)
        .stdout_has("a POP3 server, which can only provide mail");
    let ok = Pop3Batch::new(&source, &dest, &[("alice", "source-pw")], "");
    mailshift()
        .arg("plan")
        .arg(&ok.manifest)
        .run()
        .success()
        .stdout_has("pop3");
}

#[tokio::test(flavor = "multi_thread")]
async fn pop3_copies_whose_checkpoint_was_lost_are_recognised_and_still_undone() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..50)
        .map(|i| raw(&format!("Subject: m{i}"), "x"))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = Pop3Batch::new(&source, &dest, &[("alice", "source-pw")], "");
    assert_success(&batch.run());

    // As after a crash between APPEND and checkpoint: only intents remain.
    let conn = rusqlite::Connection::open(batch.state()).unwrap();
    let rows = conn
        .execute(
            "UPDATE messages SET pending = 1, dest_uid = NULL, fingerprint = x'', size = 0",
            [],
        )
        .unwrap();
    assert_eq!(rows, 50);
    conn.execute("UPDATE folders SET dest_uidnext = NULL", [])
        .unwrap();
    drop(conn);

    let again = batch.run();
    assert_success(&again);
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);
    assert_eq!(inbox(&dest, "alice").await, hashes(&bodies));

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
        .success()
        .stdout_has("50 messages removed");
    assert_eq!(inbox_count(&dest, "alice").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn pop3_over_stls_arrives_byte_for_byte() {
    let tls = DovecotOptions {
        tls: true,
        ..slashed_source()
    };
    let (source, dest) = servers(tls, slashed());
    let bodies: Vec<Vec<u8>> = (0..20)
        .map(|i| raw(&format!("Subject: m{i}"), &"y".repeat(i * 1000)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = Pop3Batch::with_tls(&source, &dest, &[("alice", "source-pw")], "", "starttls");
    let output = batch.run();
    assert_success(&output);
    assert!(output.stdout.contains("copied 20,"), "{}", output.stdout);
    assert_eq!(inbox(&dest, "alice").await, hashes(&bodies));
}
