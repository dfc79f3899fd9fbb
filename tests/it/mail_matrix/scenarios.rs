//! The scenarios of the matrix, each written once against any pair of
//! servers; `mod.rs` instantiates them for every pair.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mailshift::protocols::imap::{AppendRequest, Session};

use super::{DEST_USERS, Quirks, SOURCE_USERS, by_path, start};
use crate::mail::{Account, Batch, assert_same, assert_success, raw};
use crate::support::server::{Folder, snapshot_as};
use crate::support::{Kind, MailServer};

/// Two running servers, what the destination does to messages, and a batch
/// of accounts between them (`alice` unless said otherwise).
pub struct Setup {
    pub source: Box<dyn MailServer>,
    pub dest: Box<dyn MailServer>,
    pub dest_quirks: Quirks,
    pub batch: Batch,
}

impl Setup {
    pub async fn new(source: Kind, dest: Kind) -> Setup {
        let (source, dest) = (start(source, SOURCE_USERS), start(dest, DEST_USERS));
        Setup::of(source, dest, &["alice"], "").await
    }

    /// These servers, with a batch of these users' accounts (`extra` added
    /// to the manifest's limits).
    pub async fn of(
        source: Box<dyn MailServer>,
        dest: Box<dyn MailServer>,
        users: &[&str],
        extra: &str,
    ) -> Setup {
        let dest_quirks = Quirks::probe(dest.as_ref()).await;
        let accounts: Vec<Account<'_>> = users
            .iter()
            .map(|user| Account {
                user,
                source_port: source.imap_port(),
                source_password: "source-pw",
                dest_port: dest.imap_port(),
                dest_password: "dest-pw",
            })
            .collect();
        let batch = Batch::new(&accounts, extra);
        Setup {
            source,
            dest,
            dest_quirks,
            batch,
        }
    }

    fn source(&self) -> &dyn MailServer {
        self.source.as_ref()
    }

    fn dest(&self) -> &dyn MailServer {
        self.dest.as_ref()
    }

    /// A user's source mailbox as the destination would hold it, by path.
    pub async fn expected_of(&self, user: &str) -> BTreeMap<String, Folder> {
        let quirks = self.dest_quirks;
        let snapshot = snapshot_as(self.source().imap_config(user), |b| quirks.stored(b)).await;
        instants(by_path(self.source(), snapshot))
    }

    /// Alice's destination mailbox, by path.
    pub async fn got(&self) -> BTreeMap<String, Folder> {
        self.got_of("alice").await
    }

    /// A user's destination mailbox, by path.
    pub async fn got_of(&self, user: &str) -> BTreeMap<String, Folder> {
        instants(by_path(self.dest(), self.dest().snapshot(user).await))
    }

    /// Every source folder of alice is at the destination exactly (as the
    /// destination stores messages), no message twice; the destination's
    /// other folders hold only `others` (by path) and are otherwise empty.
    pub async fn assert_exact_with(&self, others: &BTreeMap<String, Folder>) {
        self.assert_exact_of("alice", others).await;
    }

    /// [`Setup::assert_exact_with`] for any user.
    pub async fn assert_exact_of(&self, user: &str, others: &BTreeMap<String, Folder>) {
        let expected = self.expected_of(user).await;
        let got = self.got_of(user).await;
        let mut wanted = expected.clone();
        for path in got.keys() {
            if !expected.contains_key(path) {
                wanted.insert(path.clone(), others.get(path).cloned().unwrap_or_default());
            }
        }
        assert_same(&got, &wanted);
    }

    pub async fn assert_exact(&self) {
        self.assert_exact_with(&BTreeMap::new()).await;
    }

    /// Messages in the destination's INBOX and `Archive`.
    async fn dest_count(&self) -> u32 {
        let Ok(mut session) = Session::connect(&self.dest().imap_config("alice")).await else {
            return 0;
        };
        let mut total = 0;
        for folder in ["INBOX", &self.dest().raw_name("Archive")] {
            if let Ok(status) = session.status(folder).await {
                total += status.messages;
            }
        }
        session.logout().await.ok();
        total
    }

    /// report.json's per-folder destination counts are what the
    /// destination holds.
    async fn assert_report_counts(&self) {
        let path = self.batch.reports().join("test").join("report.json");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("report.json")).expect("JSON");
        let got = self.got().await;
        let folders = report["accounts"][0]["folders"]
            .as_array()
            .expect("folders");
        assert!(folders.len() >= 6, "{report}");
        for folder in folders {
            let name = folder["destination"].as_str().unwrap_or_default();
            let path = by_path(
                self.dest(),
                BTreeMap::from([(name.to_owned(), Folder::new())]),
            )
            .into_keys()
            .next()
            .unwrap_or_default();
            let held = got.get(&path).map_or(0, Vec::len) as u64;
            assert_eq!(
                folder["destination_messages"].as_u64(),
                Some(held),
                "{path}: {folder}"
            );
        }
    }
}

/// INTERNALDATEs as instants (UTC): Cyrus and Courier keep the time, not
/// the zone it was given in.
fn instants(snapshot: BTreeMap<String, Folder>) -> BTreeMap<String, Folder> {
    snapshot
        .into_iter()
        .map(|(path, folder)| {
            let mut folder: Folder = folder
                .into_iter()
                .map(|(hash, flags, date)| {
                    let instant =
                        chrono::DateTime::parse_from_str(date.trim(), "%d-%b-%Y %H:%M:%S %z")
                            .map(|d| d.to_utc().to_rfc3339())
                            .unwrap_or(date);
                    (hash, flags, instant)
                })
                .collect();
            folder.sort();
            (path, folder)
        })
        .collect()
}

fn msg(body: Vec<u8>, flags: &[&str], date: &str) -> AppendRequest {
    AppendRequest {
        flags: flags.iter().map(|f| f.to_string()).collect(),
        internal_date: Some(date.to_owned()),
        body,
    }
}

/// A message with 8-bit bytes in its header and body.
fn eight_bit(n: usize) -> Vec<u8> {
    format!(
        "Subject: caf\u{e9} {n}\r\nX-Raw: na\u{ef}ve \u{e9}t\u{e9}\r\nMessage-ID: <8bit-{n}@x>\r\n\r\n8-bit \u{e9} {n}\r\n"
    )
    .into_bytes()
}

/// Folder tree, flags and keywords, INTERNALDATE, subscriptions and the
/// special-use folders.
pub async fn folder_tree(source: Kind, dest: Kind) {
    let setup = Setup::new(source, dest).await;
    let src = setup.source();
    let date = "17-Jul-1996 02:44:25 -0700";
    let twin = raw(
        "From: a@example.test\r\nSubject: twin\r\nMessage-ID: <twin@x>",
        "same",
    );
    src.seed(
        "alice",
        "INBOX",
        vec![
            msg(twin.clone(), &["\\Seen"], date),
            msg(twin, &["\\Seen"], date),
            msg(
                raw("Subject: shared id one\r\nMessage-ID: <shared@x>", "first"),
                &[],
                date,
            ),
            msg(
                raw("Subject: no message id", "none"),
                &["\\Flagged", "$Label1"],
                "01-Jan-2010 10:00:00 +0000",
            ),
            msg(
                eight_bit(0),
                &["\\Answered", "\\Seen", "Junk_Keyword"],
                "29-Feb-2016 23:59:59 +0530",
            ),
        ],
    )
    .await;
    for (path, subject) in [
        ("Reçus", "recus"),
        ("Reçus/Été", "ete"),
        ("Deep/A/B/C", "deep"),
        ("a b", "space"),
    ] {
        src.seed(
            "alice",
            &src.raw_name(path),
            vec![msg(
                raw(&format!("Subject: {subject}"), subject),
                &["\\Draft"],
                date,
            )],
        )
        .await;
    }
    src.seed(
        "alice",
        &src.raw_name("Sent"),
        vec![msg(
            raw("Subject: sent by alice", "sent"),
            &["\\Seen"],
            date,
        )],
    )
    .await;
    let mut session = Session::connect(&src.imap_config("alice"))
        .await
        .expect("login");
    let empty = src.raw_name("Empty");
    session.create(&empty).await.expect("create");
    session.subscribe(&empty).await.expect("subscribe");
    session.logout().await.ok();

    let output = setup.batch.run();
    assert_success(&output);
    setup.assert_exact().await;
    // What the destination rewrites (probed) is reported as such.
    let quirks = setup.dest_quirks;
    let altered = super::bodies(src, "alice", "INBOX")
        .await
        .iter()
        .filter(|b| quirks.stored(b) != **b)
        .count();
    let said = format!("stored altered by the server: {altered}");
    assert_eq!(
        output.stdout.contains(&said),
        altered > 0,
        "{}",
        output.stdout
    );
    let got = setup.got().await;
    assert_eq!(got["INBOX"].len(), 5, "twins and 8-bit messages all arrive");
    assert_eq!(
        got["Sent"].len(),
        1,
        "the \\Sent folder's mail is in the \\Sent folder"
    );

    let mut session = Session::connect(&setup.dest().imap_config("alice"))
        .await
        .expect("login");
    let subscribed: Vec<String> = session
        .list()
        .await
        .expect("list")
        .into_iter()
        .filter(|m| m.subscribed)
        .map(|m| m.name)
        .collect();
    session.logout().await.ok();
    let empty = format!("{}Empty", setup.dest().prefix());
    assert!(subscribed.contains(&empty), "{subscribed:?}");
}

/// Mail already at the destination (copied there by an earlier tool) is
/// recognised, however the destination stored it: nothing twice.
pub async fn pre_existing_mail(source: Kind, dest: Kind) {
    let setup = Setup::new(source, dest).await;
    let bodies: Vec<Vec<u8>> = (0..21)
        .map(|i| {
            if i % 3 == 0 {
                eight_bit(i)
            } else {
                raw(&format!("Subject: m{i}\r\nMessage-ID: <m{i}@x>"), "x")
            }
        })
        .collect();
    let date = "01-Mar-2021 08:00:00 +0000";
    let messages = || {
        bodies
            .iter()
            .map(|b| msg(b.clone(), &["\\Seen"], date))
            .collect::<Vec<_>>()
    };
    setup.source().seed("alice", "INBOX", messages()).await;
    // Copies of what the source holds (as the source stored it).
    let copies = super::bodies(setup.source(), "alice", "INBOX").await;
    let copies = copies
        .into_iter()
        .map(|b| msg(b, &["\\Seen"], date))
        .collect();
    setup.dest().seed("alice", "INBOX", copies).await;
    let own = raw("Subject: the user's own", "mine");
    setup.dest().seed_bodies("alice", "INBOX", &[&own]).await;

    let output = setup.batch.run();
    assert_success(&output);
    assert!(output.stdout.contains("copied 0,"), "{}", output.stdout);
    let got = setup.got().await;
    assert_eq!(got["INBOX"].len(), 22, "{:?}", got["INBOX"]);
}

/// A re-run copies nothing; an incremental pass carries a new message and
/// a flag change; report.json's per-folder counts are what the
/// destination holds.
pub async fn rerun_and_incremental(source: Kind, dest: Kind) {
    let setup = Setup::new(source, dest).await;
    let src = setup.source();
    for f in 0..6 {
        let bodies: Vec<Vec<u8>> = (0..(3 + f))
            .map(|i| raw(&format!("Subject: f{f} m{i}"), "x"))
            .collect();
        let folder = if f == 0 {
            "INBOX".to_owned()
        } else {
            src.raw_name(&format!("F{f}"))
        };
        src.seed_bodies("alice", &folder, &bodies).await;
    }
    let first = setup.batch.run();
    assert_success(&first);
    setup.assert_report_counts().await;
    let again = setup.batch.run();
    assert_success(&again);
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);

    src.seed_bodies("alice", "INBOX", &[raw("Subject: late", "new")])
        .await;
    let mut session = Session::connect(&src.imap_config("alice"))
        .await
        .expect("login");
    session.select("INBOX").await.expect("select");
    let uid = session.uid_search_all().await.expect("search")[1];
    session
        .uid_store_flags(uid, &["\\Seen".to_owned(), "$Important".to_owned()])
        .await
        .expect("store");
    session.logout().await.ok();

    let second = setup.batch.run();
    assert_success(&second);
    assert!(second.stdout.contains("copied 1,"), "{}", second.stdout);
    setup.assert_exact().await;
    let third = setup.batch.run();
    assert!(third.stdout.contains("copied 0,"), "{}", third.stdout);

    setup.assert_report_counts().await;
}

/// `kill -9` at three points, then a resume: exact, nothing twice.
pub async fn kill_9_then_resume(source: Kind, dest: Kind) {
    // Paced, so that the last kill comes before the end however fast the
    // machine or however slow its load makes the polling.
    let setup = Setup::of(
        start(source, SOURCE_USERS),
        start(dest, DEST_USERS),
        &["alice"],
        "  messages_per_second: 250",
    )
    .await;
    let bodies: Vec<Vec<u8>> = (0..600)
        .map(|i| {
            if i % 10 == 0 {
                eight_bit(i)
            } else {
                raw(
                    &format!("Subject: m{i}\r\nMessage-ID: <{}@x>", i % 200),
                    &"z".repeat(1500),
                )
            }
        })
        .collect();
    setup.source().seed_bodies("alice", "INBOX", &bodies).await;
    let archive = setup.source().raw_name("Archive");
    setup
        .source()
        .seed_bodies("alice", &archive, &bodies[..150])
        .await;

    for threshold in [1, 200, 450] {
        let mut child = setup.batch.spawn();
        let started = Instant::now();
        while setup.dest_count().await < threshold && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
    assert!(
        setup.dest_count().await < 750,
        "the kills came before the end"
    );
    assert_success(&setup.batch.run());
    setup.assert_exact().await;
}

/// Connections cut mid-FETCH at the source and mid-APPEND at the
/// destination: the retries end exact, nothing twice.
pub async fn connection_cuts(source: Kind, dest: Kind) {
    use crate::proxy::{Faults, Proxy};
    let setup = Setup::new(source, dest).await;
    let bodies: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            if i % 10 == 0 {
                eight_bit(i)
            } else {
                raw(&format!("Subject: m{i}"), &"lorem ipsum ".repeat(150))
            }
        })
        .collect();
    setup.source().seed_bodies("alice", "INBOX", &bodies).await;
    let source_proxy = Proxy::start(
        setup.source().imap_port(),
        Faults {
            server_bytes: Some(150_000),
            connections: 2,
            ..Faults::default()
        },
    );
    let dest_proxy = Proxy::start(
        setup.dest().imap_port(),
        Faults {
            client_bytes: Some(60_000),
            connections: 3,
            ..Faults::default()
        },
    );
    let batch = Batch::new(
        &[Account {
            user: "alice",
            source_port: source_proxy.port(),
            source_password: "source-pw",
            dest_port: dest_proxy.port(),
            dest_password: "dest-pw",
        }],
        "",
    );
    let output = batch.run();
    assert_success(&output);
    assert!(
        source_proxy.cuts() >= 1 && dest_proxy.cuts() >= 1,
        "faults were injected: {} at the source, {} at the destination\n{output:?}",
        source_proxy.cuts(),
        dest_proxy.cuts()
    );
    setup.assert_exact().await;
}

/// Undo puts new accounts back as they were before the migration, which
/// made the provider's folders there: every migrated message goes, every
/// folder it made goes with its subscription, unless the server refuses to
/// delete it (Courier keeps its Trash): that is listed with the server's
/// words, and the test sees the same refusal by trying it. A second undo
/// changes nothing.
pub async fn undo(source: Kind, dest: Kind) {
    let setup = Setup::of(
        start(source, SOURCE_USERS),
        super::start_bare(dest, DEST_USERS),
        &["alice"],
        "",
    )
    .await;
    let own = raw("Subject: the user's own", "mine");
    setup.dest().seed_bodies("alice", "INBOX", &[&own]).await;
    let before = setup.got().await;
    let subscribed_before = super::subscriptions(setup.dest(), "alice");
    let src = setup.source();
    src.seed_bodies("alice", "INBOX", &[raw("Subject: a", "a"), eight_bit(1)])
        .await;
    // INBOX subscribed at the source: the migration subscribes it at the
    // destination if it was not, and undo takes that back.
    let mut session = Session::connect(&src.imap_config("alice"))
        .await
        .expect("login");
    session.subscribe("INBOX").await.expect("subscribe");
    session.logout().await.ok();
    for (path, subject) in [
        ("Projects/2024", "p"),
        ("Sent", "s"),
        ("Trash", "t"),
        ("Drafts", "d"),
    ] {
        src.seed_bodies(
            "alice",
            &src.raw_name(path),
            &[raw(&format!("Subject: {subject}"), subject)],
        )
        .await;
    }
    assert_success(&setup.batch.run());
    assert!(
        super::subscriptions(setup.dest(), "alice").contains("INBOX"),
        "the migration subscribed INBOX"
    );
    let migrated = setup.got().await;
    assert!(
        migrated.len() > before.len() + 3,
        "the migration made folders: {:?}",
        migrated.keys()
    );

    let undone = crate::support::undo_first(
        &setup.batch.state(),
        &setup.batch.reports(),
        "alice@example.test",
    );
    assert_success(&undone);
    let got = setup.got().await;
    for (path, folder) in &before {
        assert_eq!(got.get(path), Some(folder), "{path}: put back as it was");
    }
    let left = setup
        .assert_only_refused_left(&before, &undone.stdout)
        .await;
    // Only the subscriptions of before stay, and those of folders the
    // server would not let undo delete.
    let subscribed = super::subscriptions(setup.dest(), "alice");
    for name in &subscribed {
        assert!(
            subscribed_before.contains(name) || left.contains(name),
            "{name} is still subscribed though undo took back the migration: \
             {subscribed:?}, before {subscribed_before:?}\n{}",
            undone.stdout
        );
    }
    assert_eq!(
        subscribed.contains("INBOX"),
        subscribed_before.contains("INBOX"),
        "INBOX is subscribed as it was before: {subscribed:?}"
    );

    // Again, from the state database: nothing to do.
    let again = crate::support::undo_first(
        &setup.batch.state(),
        &setup.batch.reports(),
        "alice@example.test",
    );
    assert_success(&again);
    assert!(again.stdout.contains("already undone"), "{}", again.stdout);
    assert_eq!(setup.got().await, got);
    // And from the undo manifest alone: nothing more goes, the same is left.
    let manifest = std::fs::read_dir(setup.batch.reports().join("test").join("undo"))
        .expect("undo manifests")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.extension().is_some_and(|e| e == "json"))
        .expect("an undo manifest");
    let from_file = crate::cmd::mailshift()
        .args(["undo", "--password-env", "DEST_PW", "--from"])
        .arg(&manifest)
        .env("DEST_PW", "dest-pw")
        .run();
    assert_success(&from_file);
    assert!(
        from_file.stdout.contains("0 messages removed"),
        "{}",
        from_file.stdout
    );
    assert_eq!(setup.got().await, got);
    assert_eq!(
        setup
            .assert_only_refused_left(&before, &from_file.stdout)
            .await,
        left
    );
    assert_eq!(super::subscriptions(setup.dest(), "alice"), subscribed);
}

impl Setup {
    /// Alice's destination folders that were not there `before` the
    /// migration (their names on the wire): each is empty, listed by the
    /// undo's `output` as not deleted with the server's refusal, and
    /// refused again when the test itself tries to delete it.
    async fn assert_only_refused_left(
        &self,
        before: &BTreeMap<String, Folder>,
        output: &str,
    ) -> std::collections::BTreeSet<String> {
        let dest = self.dest();
        let mut left = std::collections::BTreeSet::new();
        for (path, folder) in self.got().await {
            if before.contains_key(&path) {
                continue;
            }
            assert!(folder.is_empty(), "{path} keeps migrated mail: {folder:?}");
            let raw = dest.raw_name(&path);
            let mut session = Session::connect(&dest.imap_config("alice"))
                .await
                .expect("login");
            let tried = session.delete(&raw).await;
            session.logout().await.ok();
            let Err(mailshift::protocols::imap::ImapError::No { text, .. }) = tried else {
                panic!("{path} could be deleted, undo left it: {tried:?}\n{output}");
            };
            let name = format!(
                "{}{}",
                dest.prefix(),
                path.replace('/', &dest.separator().to_string())
            );
            let said = format!("not undone: {name}: not deleted: ");
            assert!(
                output
                    .lines()
                    .any(|line| line.contains(&said) && line.contains(text.trim())),
                "{path}: the server refused with {text:?}; undo said:\n{output}"
            );
            left.insert(raw);
        }
        left
    }
}

/// Counts the messages of some users' INBOX and Archive at a server, over
/// sessions kept open, so that it can be polled often.
struct Counter {
    sessions: Vec<Session>,
    archive: String,
}

impl Counter {
    async fn new(server: &dyn MailServer, users: &[&str]) -> Counter {
        let mut sessions = Vec::new();
        for user in users {
            sessions.push(
                Session::connect(&server.imap_config(user))
                    .await
                    .expect("login"),
            );
        }
        Counter {
            sessions,
            archive: server.raw_name("Archive"),
        }
    }

    async fn total(&mut self) -> u32 {
        let mut sum = 0;
        for session in &mut self.sessions {
            for folder in ["INBOX", &self.archive] {
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
/// Stops come in turn (ten at least), each once another share of the mail has arrived, on
/// a paced run of two accounts; only a stop that cut a run short counts.
/// Then one run is exact, and the next copies nothing.
pub async fn sigterm_and_sigint_at_many_points_lose_nothing(source: Kind, dest: Kind) {
    const USERS: &[&str] = &["alice", "bob"];
    let setup = Setup::of(
        start(source, SOURCE_USERS),
        start(dest, DEST_USERS),
        USERS,
        // A paced run, so that the stops fall all over it. What is in
        // flight at a stop still lands, so the mail is many times that.
        "  messages_per_second: 40",
    )
    .await;
    let archive = setup.source().raw_name("Archive");
    for (n, user) in USERS.iter().enumerate() {
        let bodies: Vec<Vec<u8>> = (0..500)
            .map(|i| {
                if i % 10 == 0 {
                    eight_bit(1000 * n + i)
                } else {
                    raw(
                        &format!("Subject: {user} m{i}\r\nMessage-ID: <{n}.{i}@x>"),
                        &"y".repeat(1500),
                    )
                }
            })
            .collect();
        setup.source().seed_bodies(user, "INBOX", &bodies).await;
        setup
            .source()
            .seed_bodies(user, &archive, &bodies[..100])
            .await;
    }
    let all = 600 * USERS.len() as u32;

    // Up to sixteen stops, each once another thirty-second of the mail
    // has arrived: a share of the order of what a start has at hand.
    let step = all / 32;
    let mut counter = Counter::new(setup.dest(), USERS).await;
    let mut stops = 0;
    for i in 0..16 {
        let before = counter.total().await;
        if before + 2 * step >= all {
            break;
        }
        let mut child = setup.batch.spawn();
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
    assert!(stops >= 10, "only {stops} stops came before the end");

    assert_success(&setup.batch.run());
    for user in USERS {
        setup.assert_exact_of(user, &BTreeMap::new()).await;
    }
    let again = setup.batch.run();
    assert_success(&again);
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);
}
