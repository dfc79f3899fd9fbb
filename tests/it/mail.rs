//! The mail stage end to end: the `mailshift run` binary between two real
//! Dovecot servers, compared message by message afterwards.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailshift::protocols::imap::{AppendRequest, Session};
use tempfile::TempDir;

use crate::cmd::{Cmd, Output, mailshift};
use crate::proxy::{Faults, Proxy};
use crate::support::dovecot::Folder;
use crate::support::{Dovecot, DovecotOptions};

/// Every folder of a mailbox (see [`Dovecot::snapshot`]).
pub async fn snapshot(server: &Dovecot, user: &str) -> BTreeMap<String, Folder> {
    server.snapshot(user).await
}

/// A message with flags and an INTERNALDATE.
fn msg(body: Vec<u8>, flags: &[&str], date: &str) -> AppendRequest {
    AppendRequest {
        flags: flags.iter().map(|f| f.to_string()).collect(),
        internal_date: Some(date.to_owned()),
        body,
    }
}

/// A message with the given header lines and body.
pub fn raw(headers: &str, body: &str) -> Vec<u8> {
    format!("{headers}\r\n\r\n{body}\r\n").into_bytes()
}

/// One account of a test manifest.
pub struct Account<'a> {
    pub user: &'a str,
    pub source_port: u16,
    pub source_password: &'a str,
    pub dest_port: u16,
    pub dest_password: &'a str,
}

/// A test batch: a manifest and a state database in a temporary folder.
pub struct Batch {
    pub dir: TempDir,
    manifest: PathBuf,
    /// A PostgreSQL URL to keep the state in, instead of `state.db`.
    postgres: Option<String>,
}

impl Batch {
    pub fn new(accounts: &[Account<'_>], extra: &str) -> Batch {
        let dir = TempDir::new().expect("temp dir");
        let mut yaml =
            format!("batch: test\nlimits:\n  connections_per_account: 2\n{extra}\naccounts:\n");
        for a in accounts {
            yaml.push_str(&format!(
                "  - source: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
                 email: {}@example.test, user: {}, password: {}}}\n    \
                 destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
                 email: {}@example.test, user: {}, password: {}}}\n",
                a.source_port,
                a.user,
                a.user,
                a.source_password,
                a.dest_port,
                a.user,
                a.user,
                a.dest_password
            ));
        }
        let manifest = dir.path().join("batch.yaml");
        std::fs::write(&manifest, yaml).expect("write manifest");
        Batch {
            dir,
            manifest,
            postgres: None,
        }
    }

    /// The same batch with its state in the PostgreSQL database `url`.
    pub fn on_postgres(self, url: String) -> Batch {
        Batch {
            postgres: Some(url),
            ..self
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    /// What `--state` is given: the PostgreSQL URL, or `state.db`.
    pub fn state_arg(&self) -> std::ffi::OsString {
        match &self.postgres {
            Some(url) => url.into(),
            None => self.state().into(),
        }
    }

    /// `mailshift list --format json` on the batch's state database.
    pub fn list(&self) -> serde_json::Value {
        mailshift()
            .args(["list", "--format", "json", "--state"])
            .arg(self.state_arg())
            .run()
            .success()
            .json()
    }

    pub fn reports(&self) -> PathBuf {
        self.dir.path().join("reports")
    }

    pub fn run(&self) -> Output {
        self.command().run()
    }

    /// The `mailshift run` command of the batch, to add to before running.
    pub fn command(&self) -> Cmd {
        mailshift()
            .arg("run")
            .arg(&self.manifest)
            .arg("--state")
            .arg(self.state_arg())
            .arg("--reports")
            .arg(self.reports())
    }

    /// Starts `mailshift run` without waiting for it.
    pub fn spawn(&self) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_mailshift"))
            .arg("run")
            .arg(&self.manifest)
            .arg("--state")
            .arg(self.state_arg())
            .arg("--reports")
            .arg(self.reports())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn mailshift")
    }
}

pub fn account<'a>(user: &'a str, source: &Dovecot, dest: &Dovecot) -> Account<'a> {
    Account {
        user,
        source_port: source.imap_port(),
        source_password: "source-pw",
        dest_port: dest.imap_port(),
        dest_password: "dest-pw",
    }
}

pub fn servers(
    source: DovecotOptions<'static>,
    dest: DovecotOptions<'static>,
) -> (Dovecot, Dovecot) {
    (Dovecot::start(source), Dovecot::start(dest))
}

const SOURCE_USERS: &[(&str, &str)] = &[("alice", "source-pw"), ("bob", "source-pw")];
const DEST_USERS: &[(&str, &str)] = &[("alice", "dest-pw"), ("bob", "dest-pw")];

fn dotted_with_prefix() -> DovecotOptions<'static> {
    DovecotOptions {
        separator: '.',
        inbox_prefix: true,
        users: SOURCE_USERS,
        ..DovecotOptions::default()
    }
}

pub fn slashed() -> DovecotOptions<'static> {
    DovecotOptions {
        separator: '/',
        users: DEST_USERS,
        ..DovecotOptions::default()
    }
}

/// A folder tree with odd names and every kind of message worth testing.
async fn seed_tree(source: &Dovecot, user: &str) {
    let date = "17-Jul-1996 02:44:25 -0700";
    let twin = raw(
        "From: a@example.test\r\nSubject: twin\r\nMessage-ID: <twin@x>",
        "same",
    );
    source
        .seed(
            user,
            "INBOX",
            vec![
                msg(twin.clone(), &["\\Seen"], date),
                msg(twin, &["\\Seen"], date),
                msg(raw("Subject: shared id one\r\nMessage-ID: <shared@x>", "first"), &[], date),
                msg(raw("Subject: shared id two\r\nMessage-ID: <shared@x>", "second!"), &[], date),
                msg(raw("Subject: no message id", "none"), &["\\Flagged", "$Label1"], "01-Jan-2010 10:00:00 +0000"),
                msg(
                    "Subject: =?utf-8?q?caf=C3=A9?=\r\nX-Raw: caf\u{e9} na\u{ef}ve\r\n\r\n8-bit \u{e9}\r\n".as_bytes().to_vec(),
                    &["\\Answered", "\\Seen", "Junk_Keyword"],
                    "29-Feb-2016 23:59:59 +0530",
                ),
            ],
        )
        .await;
    let prefix = source.prefix().to_owned();
    for (folder, subject) in [
        ("Reçus", "recus"),
        ("Reçus.Été", "ete"),
        ("Deep.A.B.C", "deep"),
        ("a b", "space"),
    ] {
        let name = mailshift::protocols::imap::utf7::encode(&format!("{prefix}{folder}"));
        source
            .seed(
                user,
                &name,
                vec![msg(
                    raw(&format!("Subject: {subject}"), subject),
                    &["\\Draft"],
                    date,
                )],
            )
            .await;
    }
    let mut session = Session::connect(&source.imap_config(user))
        .await
        .expect("login");
    session
        .create(&format!("{prefix}Empty"))
        .await
        .expect("create empty");
    session
        .subscribe(&format!("{prefix}Empty"))
        .await
        .expect("subscribe");
    session.logout().await.ok();
}

/// The source snapshot with its folder names as the slashed destination
/// without prefix names them.
fn renamed_for_dest(snapshot: BTreeMap<String, Folder>) -> BTreeMap<String, Folder> {
    snapshot
        .into_iter()
        .map(|(name, folder)| {
            let name = match name.strip_prefix("INBOX.") {
                Some(rest) => rest.replace('.', "/"),
                None => name,
            };
            (name, folder)
        })
        .collect()
}

/// Asserts two mailboxes are equal, describing the difference briefly.
pub fn assert_same(got: &BTreeMap<String, Folder>, expected: &BTreeMap<String, Folder>) {
    if got == expected {
        return;
    }
    let mut report = String::new();
    let names: std::collections::BTreeSet<&String> = got.keys().chain(expected.keys()).collect();
    for name in names {
        let (g, e) = (got.get(name), expected.get(name));
        if g == e {
            continue;
        }
        let (g, e) = (
            g.cloned().unwrap_or_default(),
            e.cloned().unwrap_or_default(),
        );
        let extra: Vec<_> = g.iter().filter(|m| !e.contains(m)).take(3).collect();
        let missing: Vec<_> = e.iter().filter(|m| !g.contains(m)).take(3).collect();
        report.push_str(&format!(
            "{name}: {} messages, expected {}; extra {extra:?}; missing {missing:?}\n",
            g.len(),
            e.len()
        ));
    }
    panic!("mailboxes differ:\n{report}");
}

pub fn assert_success(output: &Output) {
    assert_eq!(output.code, Some(0), "{output:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrates_a_folder_tree_exactly() {
    let (source, dest) = servers(dotted_with_prefix(), slashed());
    seed_tree(&source, "alice").await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");

    let output = batch.run();
    assert_success(&output);

    let expected = renamed_for_dest(snapshot(&source, "alice").await);
    let got = snapshot(&dest, "alice").await;
    assert_same(&got, &expected);
    assert!(got.contains_key("Reçus/Été"), "{:?}", got.keys());
    assert!(got.contains_key("Empty"));
    assert_eq!(
        got["INBOX"].len(),
        6,
        "twins, shared IDs and no-ID messages all arrive"
    );

    let mut session = Session::connect(&dest.imap_config("alice")).await.unwrap();
    let subscribed: Vec<String> = session
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.subscribed)
        .map(|m| m.name)
        .collect();
    assert!(subscribed.contains(&"Empty".to_owned()), "{subscribed:?}");
    assert!(output.stdout.contains("completed"), "{}", output.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn second_run_copies_only_what_changed() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..20)
        .map(|i| raw(&format!("Subject: m{i}"), "x"))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());

    // A new message and a flag change at the source.
    source
        .seed_bodies("alice", "INBOX", &[b"Subject: late\r\n\r\nnew\r\n"])
        .await;
    let mut session = Session::connect(&source.imap_config("alice"))
        .await
        .unwrap();
    session.select("INBOX").await.unwrap();
    session
        .uid_store_flags(3, &["\\Seen".to_owned(), "$Important".to_owned()])
        .await
        .unwrap();
    session.logout().await.ok();

    let second = batch.run();
    assert_success(&second);
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
    assert!(second.stdout.contains("copied 1,"), "{}", second.stdout);

    let third = batch.run();
    assert_success(&third);
    assert!(third.stdout.contains("copied 0,"), "{}", third.stdout);
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}

/// A source where alice has two messages in INBOX, and an empty
/// destination.
pub async fn two_messages() -> (Dovecot, Dovecot) {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies(
            "alice",
            "INBOX",
            &[&raw("Subject: one", "1"), &raw("Subject: two", "2")],
        )
        .await;
    (source, dest)
}

pub fn slashed_source() -> DovecotOptions<'static> {
    DovecotOptions {
        users: SOURCE_USERS,
        ..DovecotOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_already_at_the_destination_are_not_copied_again() {
    let (source, dest) = servers(slashed_source(), slashed());
    let a = raw("Subject: a\r\nMessage-ID: <a@x>", "a");
    let b = raw("Subject: b\r\nMessage-ID: <b@x>", "b");
    let own = raw("Subject: the user's own", "mine");
    source.seed_bodies("alice", "INBOX", &[&a, &b, &a]).await;
    // An earlier tool copied one `a`; the user has a message of their own.
    dest.seed_bodies("alice", "INBOX", &[&a, &own]).await;

    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    let output = batch.run();
    assert_success(&output);

    let got = &snapshot(&dest, "alice").await["INBOX"];
    let hash = |m: &[u8]| blake3::hash(m).to_hex().to_string();
    let count = |m: &[u8]| got.iter().filter(|(h, _, _)| *h == hash(m)).count();
    assert_eq!((count(&a), count(&b), count(&own)), (2, 1, 1), "{got:?}");
    assert!(output.stdout.contains("copied 2,"), "{}", output.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_fails_only_that_account() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[b"Subject: a\r\n\r\na\r\n"])
        .await;
    source
        .seed_bodies("bob", "INBOX", &[b"Subject: b\r\n\r\nb\r\n"])
        .await;
    let mut bad = account("bob", &source, &dest);
    bad.dest_password = "not-the-password";
    let batch = Batch::new(&[account("alice", &source, &dest), bad], "");

    let output = batch.run();
    assert_eq!(output.code, Some(1), "{output:?}");
    let all = format!("{}{}", output.stdout, output.stderr);
    assert!(all.contains("bob"), "{all}");
    assert!(
        all.contains(&format!("127.0.0.1:{}", dest.imap_port())),
        "{all}"
    );
    assert!(
        !all.contains("not-the-password"),
        "a password leaked: {all}"
    );
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_cut_mid_fetch_and_mid_append_still_end_exact() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..300)
        .map(|i| raw(&format!("Subject: m{i}"), &"lorem ipsum ".repeat(200)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;

    let source_proxy = Proxy::start(
        source.imap_port(),
        Faults {
            server_bytes: Some(250_000),
            connections: 3,
            ..Faults::default()
        },
    );
    let dest_proxy = Proxy::start(
        dest.imap_port(),
        Faults {
            client_bytes: Some(100_000),
            connections: 1,
            ..Faults::default()
        },
    );
    let mut a = account("alice", &source, &dest);
    a.source_port = source_proxy.port();
    a.dest_port = dest_proxy.port();
    let batch = Batch::new(&[a], "");
    let output = batch.run();
    assert_success(&output);
    assert!(
        source_proxy.cuts() >= 1 && dest_proxy.cuts() >= 1,
        "faults were injected: {} at the source, {} at the destination\n{output:?}",
        source_proxy.cuts(),
        dest_proxy.cuts()
    );
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_any_point_then_resume_duplicates_nothing() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..3000)
        .map(|i| {
            raw(
                &format!("Subject: m{i}\r\nMessage-ID: <{}@x>", i % 1000),
                &"z".repeat(2000),
            )
        })
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    source.seed_bodies("alice", "Archive", &bodies[..500]).await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");

    // Kill at several points: as soon as a given number of messages arrived.
    for threshold in [1, 700, 1900] {
        let mut child = batch.spawn();
        let started = Instant::now();
        loop {
            if dest_count(&dest, "alice").await >= threshold
                || started.elapsed() > Duration::from_secs(60)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
    assert!(
        dest_count(&dest, "alice").await < 3500,
        "the kills came before the end"
    );
    assert_success(&batch.run());
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}

/// Messages in the destination's INBOX and Archive.
pub async fn dest_count(dest: &Dovecot, user: &str) -> u32 {
    let Ok(mut session) = Session::connect(&dest.imap_config(user)).await else {
        return 0;
    };
    let mut total = 0;
    for folder in ["INBOX", "Archive"] {
        if let Ok(status) = session.status(folder).await {
            total += status.messages;
        }
    }
    session.logout().await.ok();
    total
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_whose_uidvalidity_changed_is_matched_by_content() {
    let (source, dest) = servers(slashed_source(), slashed());
    // Fixed dates: the rebuilt folder must look the same in every respect.
    let messages = || {
        (0..10)
            .map(|i| {
                msg(
                    raw(&format!("Subject: m{i}"), "x"),
                    &[],
                    "01-Mar-2021 08:00:00 +0000",
                )
            })
            .collect::<Vec<_>>()
    };
    source.seed("alice", "Projects", messages()).await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");
    assert_success(&batch.run());

    // The source folder is rebuilt: same messages, new UIDVALIDITY.
    let mut session = Session::connect(&source.imap_config("alice"))
        .await
        .unwrap();
    session.delete("Projects").await.unwrap();
    session.logout().await.ok();
    source.seed("alice", "Projects", messages()).await;

    let second = batch.run();
    assert_success(&second);
    assert!(second.stdout.contains("copied 0,"), "{}", second.stdout);
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_20_mb_message_over_tls_arrives_byte_for_byte() {
    let tls = |users| DovecotOptions {
        tls: true,
        users,
        ..DovecotOptions::default()
    };
    let (source, dest) = servers(tls(SOURCE_USERS), tls(DEST_USERS));
    let mut big = b"Subject: big\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    big.extend(
        (0..20 * 1024 * 1024).map(|i: u32| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"[(i % 28) as usize]),
    );
    source.seed_bodies("alice", "INBOX", &[&big]).await;

    let dir = TempDir::new().unwrap();
    let manifest = dir.path().join("tls.yaml");
    std::fs::write(
        &manifest,
        format!(
            "batch: tls\naccounts:\n  - source: {{kind: imap, host: 127.0.0.1, port: {}, tls: implicit, \
             accept_invalid_certs: true, email: alice@example.test, user: alice, password: source-pw}}\n    \
             destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: starttls, \
             accept_invalid_certs: true, email: alice@example.test, user: alice, password: dest-pw}}\n",
            source.imaps_port(),
            dest.imap_port()
        ),
    )
    .unwrap();
    let output = crate::files::run(dir.path(), &manifest);
    assert_success(&output);
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_the_destination_refuses_is_reported_not_retried_forever() {
    let dest_options = DovecotOptions {
        max_message_size: Some(4000),
        ..slashed()
    };
    let (source, dest) = servers(slashed_source(), dest_options);
    let small = raw("Subject: small", "fits");
    let big = raw("Subject: big", &"B".repeat(20_000));
    source.seed_bodies("alice", "INBOX", &[&small, &big]).await;
    let batch = Batch::new(&[account("alice", &source, &dest)], "");

    let output = batch.run();
    assert_eq!(output.code, Some(1), "{output:?}");
    assert!(
        output.stdout.contains("completed_with_errors") && output.stdout.contains("failed 1,"),
        "{}",
        output.stdout
    );
    let got = snapshot(&dest, "alice").await;
    assert_eq!(got["INBOX"].len(), 1, "the small one arrived");

    let listed = batch.list();
    let id = listed[0]["accounts"][0]["migration_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = mailshift()
        .args([
            "status",
            &id,
            "--source",
            "alice@example.test",
            "--format",
            "json",
            "--state",
        ])
        .arg(batch.state())
        .run()
        .success()
        .json();
    let reason = status["item_errors"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        status["item_errors"][0]["item"]
            .as_str()
            .unwrap()
            .contains("INBOX")
    );
    assert!(!reason.is_empty(), "{status}");

    // The next run tries it again (the folder keeps no watermark) and
    // neither duplicates the small one nor loops.
    let again = batch.run();
    assert_eq!(again.code, Some(1));
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);
    assert_eq!(snapshot(&dest, "alice").await["INBOX"].len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_messages_per_second_cap_holds_the_pace_down() {
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..60)
        .map(|i| raw(&format!("Subject: m{i}"), "x"))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    let batch = Batch::new(
        &[account("alice", &source, &dest)],
        "  messages_per_second: 20",
    );
    let started = Instant::now();
    assert_success(&batch.run());
    // 20 at once, then 40 more at 20 a second: never under 2 seconds,
    // however fast the machine (a lower bound only; no upper one).
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_same(
        &snapshot(&dest, "alice").await,
        &snapshot(&source, "alice").await,
    );
}
