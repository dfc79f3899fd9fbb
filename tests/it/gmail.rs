//! Label-aware sources: a Dovecot dressed as Gmail's IMAP view (a
//! `[Gmail]` hierarchy of virtual folders, All Mail with `\All` over
//! every folder, Starred over flagged messages, Important, archived mail
//! in All Mail only) migrated to a plain Dovecot with the `mailshift`
//! binary: each message in each of its label folders (`labels: all`) or
//! once (`labels: first`), archived mail in Archive, no view copied as a
//! folder, a re-run copying nothing, an exact undo, and crashes at the
//! pipeline's fail points resumed without a duplicate.

use std::collections::{BTreeMap, BTreeSet};

use mailshift::protocols::imap::AppendRequest;
use mailshift::stages::pipeline::fail::{EXIT_CODE, VARIABLE};

use crate::cmd::{Output, mailshift};
use crate::mail::{Account, Batch, account, assert_same, assert_success, raw, snapshot};
use crate::support::dovecot::Folder;
use crate::support::gmail_view::GMAIL_ARCHIVED;
use crate::support::{Dovecot, DovecotOptions};

const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const SOURCE_USERS: &[(&str, &str)] = &[
    ("alice", "source-pw"),
    ("bob", "source-pw"),
    ("carol", "source-pw"),
    ("dave", "source-pw"),
    ("erin", "source-pw"),
];
const DEST_USERS: &[(&str, &str)] = &[
    ("alice", "dest-pw"),
    ("bob", "dest-pw"),
    ("carol", "dest-pw"),
    ("dave", "dest-pw"),
    ("erin", "dest-pw"),
];

/// The folders of the Gmail view that are views, not labels.
const VIEWS: [&str; 3] = ["[Gmail]/All Mail", "[Gmail]/Starred", "[Gmail]/Important"];

fn gmail_source() -> Dovecot {
    Dovecot::start(DovecotOptions {
        users: SOURCE_USERS,
        gmail_view: true,
        ..DovecotOptions::default()
    })
}

fn plain_dest() -> Dovecot {
    Dovecot::start(DovecotOptions {
        users: DEST_USERS,
        ..DovecotOptions::default()
    })
}

fn message(user: &str, name: &str, flags: &[&str]) -> AppendRequest {
    AppendRequest {
        flags: flags.iter().map(|f| f.to_string()).collect(),
        internal_date: Some("17-Jul-2024 09:30:00 +0200".to_owned()),
        body: raw(
            &format!(
                "From: {name}@example.test\r\nSubject: {user} {name}\r\nMessage-ID: <{name}.{user}@x>"
            ),
            &format!("{name} for {user}"),
        ),
    }
}

/// A Gmail-like mailbox: one message in INBOX and two labels (starred),
/// one in INBOX only, one under a label only (important), one sent, one
/// in Spam, one in Trash, and two archived (in All Mail only).
async fn seed(source: &Dovecot, user: &str) {
    let shared = message(user, "shared", &["\\Seen", "\\Flagged"]);
    for folder in ["INBOX", "Work", "Projects/Alpha"] {
        source.seed(user, folder, vec![shared.clone()]).await;
    }
    source
        .seed(user, "INBOX", vec![message(user, "inbox", &["\\Seen"])])
        .await;
    source
        .seed(user, "Work", vec![message(user, "work", &["$Important"])])
        .await;
    source
        .seed(user, "Sent", vec![message(user, "sent", &["\\Seen"])])
        .await;
    source
        .seed(user, "Spam", vec![message(user, "spam", &[])])
        .await;
    source
        .seed(user, "Trash", vec![message(user, "trash", &["\\Seen"])])
        .await;
    let archived = vec![
        message(user, "archived-1", &["\\Seen"]),
        message(user, "archived-2", &[]),
    ];
    source.seed(user, GMAIL_ARCHIVED, archived).await;
}

/// What a copy with `labels: all` leaves: every label folder as the
/// source shows it, and the messages of All Mail under no label in
/// Archive.
async fn expected_all(source: &Dovecot, user: &str) -> BTreeMap<String, Folder> {
    let view = snapshot(source, user).await;
    for name in VIEWS {
        assert!(
            view.contains_key(name),
            "the Gmail view lists {name}: {view:?}"
        );
    }
    let mut expected: BTreeMap<String, Folder> = view
        .iter()
        .filter(|(name, _)| !name.starts_with("[Gmail]"))
        .map(|(name, folder)| (name.clone(), folder.clone()))
        .collect();
    let labelled: BTreeSet<&String> = expected.values().flatten().map(|(h, _, _)| h).collect();
    let archived: Folder = view["[Gmail]/All Mail"]
        .iter()
        .filter(|(hash, _, _)| !labelled.contains(hash))
        .cloned()
        .collect();
    assert_eq!(archived.len(), 2, "two archived messages: {view:?}");
    expected.insert("Archive".to_owned(), archived);
    expected
}

/// Every account's line says it copied nothing.
#[track_caller]
fn assert_copied_nothing(output: &Output, accounts: usize) {
    assert_success(output);
    assert_eq!(
        output.stdout.matches("copied 0,").count(),
        accounts,
        "{output:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gmail_labels_all_copies_each_label_archives_and_undoes_exactly() {
    let (source, dest) = (gmail_source(), plain_dest());
    for user in USERS {
        seed(&source, user).await;
    }
    let accounts: Vec<Account> = USERS.iter().map(|u| account(u, &source, &dest)).collect();
    let batch = Batch::new(&accounts, "");

    let output = batch.run();
    assert_success(&output);
    // All Mail's six labelled entries, Starred's three, Important's one.
    assert_eq!(
        output.stdout.matches("labelled copies avoided: 10").count(),
        5,
        "{output:?}"
    );
    for user in USERS {
        let got = snapshot(&dest, user).await;
        assert!(
            got.keys().all(|name| !name.starts_with("[Gmail]")),
            "{got:?}"
        );
        assert_same(&got, &expected_all(&source, user).await);
        let inbox = &got["INBOX"];
        assert!(
            inbox
                .iter()
                .any(|(_, flags, _)| flags.contains("\\Flagged")),
            "the starred message keeps its star: {inbox:?}"
        );
    }
    // Every message once per label folder, archived mail once.
    assert_eq!(output.stdout.matches("found 10,").count(), 5, "{output:?}");
    let again = batch.run();
    assert_copied_nothing(&again, 5);
    assert_eq!(again.stdout.matches("found 10,").count(), 5, "{again:?}");
    let report = std::fs::read_to_string(batch.reports().join("test").join("report.json"))
        .expect("report.json");
    assert!(report.contains("\"label_copies_avoided\": 10"), "{report}");
    assert!(report.contains("\"label_mode\": \"all\""), "{report}");
    let html = std::fs::read_to_string(batch.reports().join("test").join("report.html"))
        .expect("report.html");
    assert!(
        html.contains("labels all · 10 labelled copies avoided"),
        "{html}"
    );

    for (id, email, _) in crate::status::migration_ids(&batch) {
        mailshift()
            .args(["status", &id, "--source", &email, "--state"])
            .arg(batch.state())
            .run()
            .success()
            .stdout_has("label-aware source, labels all; labelled copies avoided: 10");
        mailshift()
            .args(["undo", &id, "--source", &email, "--state"])
            .arg(batch.state())
            .run()
            .success()
            .stdout_has("10 messages removed");
    }
    for user in USERS {
        let left = snapshot(&dest, user).await;
        assert!(left.values().all(Vec::is_empty), "{user}: {left:?}");
        assert!(
            !left.contains_key("Archive") && !left.contains_key("Work"),
            "the folders the migration created are gone: {left:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gmail_labels_first_copies_each_message_once_by_priority() {
    let (source, dest) = (gmail_source(), plain_dest());
    for user in &USERS[..2] {
        seed(&source, user).await;
    }
    let accounts: Vec<Account> = USERS[..2]
        .iter()
        .map(|u| account(u, &source, &dest))
        .collect();
    let batch = Batch::new(
        &accounts,
        "defaults:\n  mail:\n    labels: first\n    archive_folder: Old/Archived\n    \
         label_priority: [\"Projects/*\"]\n    exclude: [Spam]",
    );
    let output = batch.run();
    assert_success(&output);
    // Also the shared message's two other labels.
    assert_eq!(
        output.stdout.matches("labelled copies avoided: 12").count(),
        2,
        "{output:?}"
    );
    for user in &USERS[..2] {
        let got = snapshot(&dest, user).await;
        let mut all = expected_all(&source, user).await;
        // Spam follows include/exclude like any folder.
        assert!(all.remove("Spam").is_some_and(|spam| spam.len() == 1));
        assert!(!got.contains_key("Spam"), "{got:?}");
        let distinct: BTreeSet<&String> = all.values().flatten().map(|(h, _, _)| h).collect();
        let copies: Vec<&String> = got.values().flatten().map(|(h, _, _)| h).collect();
        assert_eq!(copies.len(), distinct.len(), "each message once: {got:?}");
        assert_eq!(copies.iter().copied().collect::<BTreeSet<_>>(), distinct);
        // The shared message went to the folder label_priority prefers.
        assert_eq!(got["Projects/Alpha"].len(), 1, "{got:?}");
        assert_eq!(got["INBOX"].len(), 1, "{got:?}");
        assert_eq!(got["Work"].len(), 1, "{got:?}");
        assert_eq!(got["Old/Archived"], all["Archive"]);
    }
    assert_copied_nothing(&batch.run(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn gmail_crash_at_each_fail_point_then_resume_is_exact() {
    for point in ["after-intent:2", "after-append-sent:3", "after-watermark:2"] {
        let (source, dest) = (gmail_source(), plain_dest());
        seed(&source, "alice").await;
        let batch = Batch::new(&[account("alice", &source, &dest)], "");
        let crashed = batch.command().env(VARIABLE, point).run();
        assert_eq!(crashed.code, Some(EXIT_CODE), "{point}: {crashed:?}");
        assert_success(&batch.run());
        assert_same(
            &snapshot(&dest, "alice").await,
            &expected_all(&source, "alice").await,
        );
        assert_copied_nothing(&batch.run(), 1);
    }
}

#[test]
fn plan_shows_the_label_mode_of_gmail_and_label_aware_sources() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let manifest = dir.path().join("gmail.yaml");
    std::fs::write(
        &manifest,
        "batch: g\naccounts:\n  \
         - source: {kind: autodetect, email: someone@gmail.com, password: x}\n    \
           destination: {kind: imap, host: mail.example.test, email: someone@example.test, password: y}\n  \
         - source: {kind: imap, host: imap.example.test, email: a@example.test, password: x}\n    \
           destination: {kind: imap, host: mail.example.test, email: a@example.test, password: y}\n    \
           mail: {labels: first, archive_folder: Old, label_priority: [Work]}\n  \
         - source: {kind: imap, host: imap.example.test, email: b@example.test, password: x}\n    \
           destination: {kind: imap, host: mail.example.test, email: b@example.test, password: y}\n",
    )
    .expect("write manifest");
    let output = mailshift().arg("plan").arg(&manifest).run().success();
    let labels: Vec<&str> = output
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("labels"))
        .collect();
    assert_eq!(
        labels,
        [
            "  labels       all (a copy in the folder of each label), archived mail to Archive; Gmail source",
            "  labels       first (one copy; prefer Work), archived mail to Old; if the source is label-aware (X-GM-EXT-1 or an \\All folder)",
        ],
        "{output:?}"
    );
}

#[test]
fn label_settings_are_read_from_a_spreadsheet_and_checked() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let csv = dir.path().join("accounts.csv");
    let header = "source_host,source_email,source_password,destination_host,destination_email,destination_password,mail_labels,mail_archive_folder,mail_label_priority\n";
    std::fs::write(
        &csv,
        format!(
            "{header}imap.gmail.com,a@example.test,x,mail.example.test,a@example.test,y,First,Old/Archive,INBOX | Clients/*\n\
             imap.gmail.com,b@example.test,x,mail.example.test,b@example.test,y,,,\n"
        ),
    )
    .expect("write csv");
    let manifest = mailshift::manifest::load(&csv).expect("readable");
    let checked = mailshift::plan::check(&manifest);
    let accounts = &checked.plan.accounts;
    assert_eq!(accounts.len(), 2, "{}", checked.diagnostics);
    let first = &accounts[0].mail.labels;
    assert_eq!(first.mode, mailshift::plan::LabelMode::First);
    assert_eq!(first.archive_folder, "Old/Archive");
    assert_eq!(first.priority, ["INBOX", "Clients/*"]);
    let default = &accounts[1].mail.labels;
    assert_eq!(default.mode, mailshift::plan::LabelMode::All);
    assert_eq!(default.archive_folder, "Archive");

    std::fs::write(
        &csv,
        format!(
            "{header}imap.gmail.com,c@example.test,x,mail.example.test,c@example.test,y,every,,\n"
        ),
    )
    .expect("write csv");
    let text = match mailshift::manifest::load(&csv) {
        Ok(m) => mailshift::plan::check(&m).diagnostics.to_string(),
        Err(d) => d.to_string(),
    };
    assert!(
        text.contains("row 2") && text.contains("mail_labels") && text.contains("first"),
        "{text}"
    );
}
