//! Administrator (proxy) logins through the binary, against Dovecots with a
//! master passdb: a whole batch from a spreadsheet with one administrator
//! credential per side and no user's password, by SASL authorization
//! identity and by `user*admin` login names.

use std::path::{Path, PathBuf};

use crate::cmd::mailshift;
use crate::mail::raw;
use crate::support::cyrus::{self, Cyrus};
use crate::support::dovecot::{Dovecot, DovecotOptions};
use crate::support::server::MailServer;

const STAFF: usize = 30;
const SOURCE_ADMIN_PW: &str = "src-admin-Secret-1";
const DEST_ADMIN_PW: &str = "dst-admin-Secret-2";

fn names() -> Vec<String> {
    (0..STAFF).map(|i| format!("staff{i:02}")).collect()
}

/// Users with passwords nobody gives mailshift.
fn users(names: &[String], side: &str) -> Vec<(&'static str, &'static str)> {
    names
        .iter()
        .map(|n| {
            let user: &'static str = Box::leak(n.clone().into_boxed_str());
            let password: &'static str = Box::leak(format!("{n}-{side}-own").into_boxed_str());
            (user, password)
        })
        .collect()
}

fn server(
    users: &[(&'static str, &'static str)],
    masters: &[(&'static str, &'static str)],
) -> Dovecot {
    Dovecot::start(DovecotOptions {
        users: Box::leak(users.to_vec().into_boxed_slice()),
        masters: Box::leak(masters.to_vec().into_boxed_slice()),
        ..DovecotOptions::default()
    })
}

/// `staff.csv` (addresses only) and `staff.yaml` (the servers and their
/// administrators) in `dir`.
fn manifest(dir: &Path, names: &[String], source: &str, destination: &str) -> PathBuf {
    std::fs::write(
        dir.join("staff.yaml"),
        format!("batch: staff\ndefaults:\n  source: {source}\n  destination: {destination}\n"),
    )
    .unwrap();
    let mut csv = String::from("source_email,source_user,destination_email,destination_user\n");
    for n in names {
        csv.push_str(&format!("{n}@example.test,{n},{n}@example.test,{n}\n"));
    }
    let path = dir.join("staff.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn run(dir: &Path, manifest: &Path) -> crate::cmd::Cmd {
    mailshift()
        .arg("run")
        .arg(manifest)
        .arg("--state")
        .arg(dir.join("state.db"))
        .arg("--reports")
        .arg(dir.join("reports"))
        .env("SRC_ADMIN_PW", SOURCE_ADMIN_PW)
        .env("DST_ADMIN_PW", DEST_ADMIN_PW)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_company_batch_runs_on_one_administrator_per_side_and_no_user_password() {
    let names = names();
    let source = server(&users(&names, "src"), &[("srcadmin", SOURCE_ADMIN_PW)]);
    let dest = server(&users(&names, "dst"), &[("dstadmin", DEST_ADMIN_PW)]);
    for n in &names {
        let bodies = [
            raw(&format!("Subject: {n} one\r\nMessage-ID: <{n}.1@x>"), "1"),
            raw(&format!("Subject: {n} two\r\nMessage-ID: <{n}.2@x>"), "2"),
        ];
        source.seed_bodies(n, "INBOX", &bodies).await;
    }
    let dir = tempfile::tempdir().unwrap();
    // The source by authorization identity, the destination by the
    // `user*admin` login name.
    let csv = manifest(
        dir.path(),
        &names,
        &format!(
            "{{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             admin: {{user: srcadmin, password_env: SRC_ADMIN_PW}}}}",
            source.imap_port()
        ),
        &format!(
            "{{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             admin: {{user: dstadmin, password_env: DST_ADMIN_PW, style: separator}}}}",
            dest.imap_port()
        ),
    );

    let plan = mailshift()
        .args(["plan", "--format", "json"])
        .arg(&csv)
        .env("SRC_ADMIN_PW", SOURCE_ADMIN_PW)
        .env("DST_ADMIN_PW", DEST_ADMIN_PW)
        .run()
        .success()
        .never_shows(SOURCE_ADMIN_PW);
    assert!(plan.stdout.contains("SRC_ADMIN_PW"), "{}", plan.stdout);

    let first = run(dir.path(), &csv)
        .run()
        .success()
        .never_shows(SOURCE_ADMIN_PW)
        .never_shows(DEST_ADMIN_PW);
    assert!(first.stdout.contains("copied 2,"), "{}", first.stdout);
    for n in &names {
        assert_eq!(
            dest.snapshot(n).await,
            source.snapshot(n).await,
            "{n}'s mailbox at the destination"
        );
    }
    let again = run(dir.path(), &csv).run().success();
    assert!(again.stdout.contains("copied 0,"), "{}", again.stdout);

    // Nothing of the administrators' secrets is kept.
    for file in ["state.db", "state.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        for secret in [SOURCE_ADMIN_PW, DEST_ADMIN_PW] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is in {file}"
            );
        }
    }

    // Undo acts through the destination's administrator too.
    let listed = mailshift()
        .args(["list", "--format", "json", "--state"])
        .arg(dir.path().join("state.db"))
        .run()
        .success()
        .json();
    let first_account = &listed[0]["accounts"][0];
    let id = first_account["migration_id"].as_str().unwrap();
    let email = first_account["source"].as_str().unwrap();
    let user = email.split('@').next().unwrap();
    mailshift()
        .args(["undo", id, "--source", email, "--state"])
        .arg(dir.path().join("state.db"))
        .arg("--reports")
        .arg(dir.path().join("reports"))
        .env("SRC_ADMIN_PW", SOURCE_ADMIN_PW)
        .env("DST_ADMIN_PW", DEST_ADMIN_PW)
        .run()
        .success()
        .never_shows(DEST_ADMIN_PW);
    let left = dest.snapshot(user).await;
    assert_eq!(
        left.values().map(Vec::len).sum::<usize>(),
        0,
        "{user} after undo: {left:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_administrator_is_named_with_its_server() {
    let names: Vec<String> = names().into_iter().take(3).collect();
    let source_users = users(&names, "src");
    let source = server(&source_users, &[("srcadmin", SOURCE_ADMIN_PW)]);
    let dest = server(&users(&names, "dst"), &[("dstadmin", DEST_ADMIN_PW)]);
    let dir = tempfile::tempdir().unwrap();
    let destination = format!(
        "{{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
         admin: {{user: dstadmin, password_env: DST_ADMIN_PW}}}}",
        dest.imap_port()
    );

    // A wrong administrator's password.
    let csv = manifest(
        dir.path(),
        &names,
        &format!(
            "{{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             admin: {{user: srcadmin, password: not-the-password}}}}",
            source.imap_port()
        ),
        &destination,
    );
    let wrong = run(dir.path(), &csv)
        .run()
        .code(1)
        .never_shows("not-the-password");
    // One message for the batch, naming the administrator and the server;
    // no account started.
    let at = format!("127.0.0.1:{}", source.imap_port());
    assert!(
        wrong.stderr.contains(&format!(
            "the source server {at} refused the login of administrator srcadmin"
        )),
        "{}",
        wrong.stderr
    );
    assert_eq!(
        wrong.stderr.matches("srcadmin").count(),
        1,
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stdout.contains("staff01"), "{}", wrong.stdout);
    // `plan --check` says it once too, before the accounts.
    let check = mailshift()
        .args(["plan", "--check"])
        .arg(&csv)
        .env("DST_ADMIN_PW", DEST_ADMIN_PW)
        .run()
        .code(1)
        .never_shows("not-the-password");
    let first = check.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        first.contains("refused the login of administrator srcadmin"),
        "{}",
        check.stdout
    );

    // A user who is not an administrator may not act for another.
    let (ordinary, ordinary_pw) = source_users[1];
    let dir = tempfile::tempdir().unwrap();
    let csv = manifest(
        dir.path(),
        &names[..1],
        &format!(
            "{{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             admin: {{user: {ordinary}, password: {ordinary_pw}}}}}",
            source.imap_port()
        ),
        &destination,
    );
    let refused = run(dir.path(), &csv).run().code(1);
    assert!(
        refused.stderr.contains(&format!(
            "the source server {at} lets administrator {ordinary} log in but not act for {}",
            names[0]
        )),
        "{}",
        refused.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pop3_source_takes_an_administrator_too() {
    let names: Vec<String> = names().into_iter().take(2).collect();
    let source = server(&users(&names, "src"), &[("srcadmin", SOURCE_ADMIN_PW)]);
    let dest = server(&users(&names, "dst"), &[("dstadmin", DEST_ADMIN_PW)]);
    for n in &names {
        let bodies = [raw(
            &format!("Subject: {n} pop\r\nMessage-ID: <{n}.p@x>"),
            "p",
        )];
        source.seed_bodies(n, "INBOX", &bodies).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = manifest(
        dir.path(),
        &names,
        &format!(
            "{{kind: pop3, host: 127.0.0.1, port: {}, tls: none, \
             admin: {{user: srcadmin, password_env: SRC_ADMIN_PW}}}}",
            source.pop3_port()
        ),
        &format!(
            "{{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             admin: {{user: dstadmin, password_env: DST_ADMIN_PW}}}}",
            dest.imap_port()
        ),
    );
    run(dir.path(), &csv).run().success();
    for n in &names {
        let inbox = &dest.snapshot(n).await["INBOX"];
        assert_eq!(inbox.len(), 1, "{n}");
    }
}

/// Cyrus takes its `admins:` by authorization identity: a Dovecot master
/// user on one side, a Cyrus admin on the other, and no user's password.
#[tokio::test(flavor = "multi_thread")]
async fn dovecot_master_to_cyrus_admin() {
    let names: Vec<String> = names().into_iter().take(3).collect();
    let source = server(&users(&names, "src"), &[("srcadmin", SOURCE_ADMIN_PW)]);
    let dest = Cyrus::start(&users(&names, "dst"));
    for n in &names {
        let bodies = [
            raw(&format!("Subject: {n} one\r\nMessage-ID: <{n}.1@x>"), "1"),
            raw(&format!("Subject: {n} two\r\nMessage-ID: <{n}.2@x>"), "2"),
        ];
        source.seed_bodies(n, "INBOX", &bodies).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = manifest(
        dir.path(),
        &names,
        &format!(
            "{{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             admin: {{user: srcadmin, password_env: SRC_ADMIN_PW}}}}",
            source.imap_port()
        ),
        &format!(
            "{{kind: imap, host: 127.0.0.1, port: {}, tls: none, \
             admin: {{user: {}, password_env: DST_ADMIN_PW}}}}",
            dest.imap_port(),
            cyrus::ADMIN.0
        ),
    );
    // The destination's administrator is Cyrus's own.
    run(dir.path(), &csv)
        .env("DST_ADMIN_PW", cyrus::ADMIN.1)
        .run()
        .success()
        .never_shows(cyrus::ADMIN.1);
    // Contents and flags; the mail matrix compares dates across servers.
    let bodies = |folder: &Vec<(String, String, String)>| -> Vec<(String, String)> {
        folder
            .iter()
            .map(|(hash, flags, _)| (hash.clone(), flags.clone()))
            .collect()
    };
    let dest: &dyn MailServer = &dest;
    for n in &names {
        assert_eq!(
            bodies(&dest.snapshot(n).await["INBOX"]),
            bodies(&source.snapshot(n).await["INBOX"]),
            "{n}'s INBOX on Cyrus"
        );
    }
}
