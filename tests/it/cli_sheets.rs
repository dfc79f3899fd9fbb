//! The spreadsheets an admin brings, through the binary against real
//! Dovecot servers: common column names, Exchange Online's and imapsync's
//! files, `run --skip-invalid`, and warnings said once.

use std::path::Path;

use crate::cmd::mailshift;
use crate::mail::{raw, servers, slashed, slashed_source, snapshot};
use crate::support::{Dovecot, DovecotOptions};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// `run FILE` with its state and reports beside it.
fn run(file: &Path, extra: &[&str]) -> crate::cmd::Output {
    let dir = file.parent().unwrap();
    mailshift()
        .current_dir(dir)
        .arg("run")
        .arg(file.file_name().unwrap())
        .args(extra)
        .run()
}

fn folders<T>(snapshot: &std::collections::BTreeMap<String, T>) -> Vec<&str> {
    snapshot.keys().map(String::as_str).collect()
}

/// Regression: `Source Login` was "did you mean `source_kind`?", and the
/// CSV of Exchange Online's IMAP migration (`EmailAddress,UserName,
/// Password`) was three unknown columns. A login that is not an address
/// (`alice`) names the account by its destination address.
#[tokio::test(flavor = "multi_thread")]
async fn common_column_names_and_the_exchange_csv_load() {
    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("names.csv");
    write(
        &names,
        "Source Login,Source Password,Source Server,Dest Mail,Dest Password,New Server\n\
         ann@old.example,pw-a,imap.old.example,ann@new.example,pw-b,imap.new.example\n",
    );
    let out = mailshift().arg("plan").arg(&names).run().success();
    assert!(
        out.stdout
            .contains("source       imap imap.old.example:993 (TLS), user ann@old.example"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("warning"), "{}", out.stdout);

    // Without the source's server, a bare login leaves nothing to find it from.
    let alone = dir.path().join("alone.csv");
    write(
        &alone,
        "EmailAddress,UserName,Password\nann@new.example,ann,pw-a\n",
    );
    let out = mailshift().arg("validate").arg(&alone).run().code(2);
    assert!(
        out.stdout.contains(
            "row 2: error: the source has no host, and its login `ann` is not an address to find it from"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("pw-a"), "{}", out.stdout);

    const MAILBOXES: &[(&str, &str)] = &[("alice@example.test", "dest-pw")];
    let source = Dovecot::start(slashed_source());
    let dest = Dovecot::start(DovecotOptions {
        users: MAILBOXES,
        ..slashed()
    });
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: hello", "a")])
        .await;
    write(
        &dir.path().join("mailboxes.yaml"),
        &format!(
            "defaults:\n  source: {{host: 127.0.0.1, port: {}, tls: none}}\n  \
             destination: {{host: 127.0.0.1, port: {}, tls: none, password: dest-pw}}\n",
            source.imap_port(),
            dest.imap_port()
        ),
    );
    let csv = dir.path().join("mailboxes.csv");
    write(
        &csv,
        "EmailAddress,UserName,Password\nalice@example.test,alice,source-pw\n",
    );
    let out = run(&csv, &[]).success();
    assert!(
        out.stdout
            .contains("alice@example.test -> alice@example.test  completed  found 1, copied 1"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        folders(&snapshot(&dest, "alice@example.test").await),
        ["INBOX"]
    );
}

/// Regression: `--port1 abc` and `--maxsize -5` were warnings and the file
/// ran against port 143; `--automap` and `--syncinternaldates` warned
/// although mailshift always does that; `--exclude` was ignored.
#[tokio::test(flavor = "multi_thread")]
async fn imapsync_options_are_honoured_or_refused() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies("alice", "INBOX", &[&raw("Subject: keep", "a")])
        .await;
    source
        .seed_bodies("alice", "Junk", &[&raw("Subject: spam", "s")])
        .await;
    source
        .seed_bodies("alice", "Old Junk Mail", &[&raw("Subject: old", "o")])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("sync.txt");
    write(
        &good,
        &format!(
            "127.0.0.1;alice;source-pw;127.0.0.1;alice;dest-pw;--port1 {} --port2={} --notls1 --notls2 \
             --automap --syncinternaldates --exclude ^Junk$\n",
            source.imap_port(),
            dest.imap_port()
        ),
    );
    let out = mailshift().arg("validate").arg(&good).run();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("sync.txt: valid, 1 account"), "{all}");
    assert!(!all.contains("warning"), "{all}");
    let out = run(&good, &[]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        folders(&snapshot(&dest, "alice").await),
        ["INBOX", "Old Junk Mail"],
        "^Junk$ skips Junk alone"
    );

    let bad = dir.path().join("bad.txt");
    write(
        &bad,
        "127.0.0.1;bob;pw-secret-1;127.0.0.1;bob;pw-secret-2;--port1 abc --maxsize -5\n",
    );
    for command in ["validate", "run"] {
        let out = mailshift()
            .current_dir(dir.path())
            .arg(command)
            .arg(&bad)
            .run()
            .code(2);
        let all = format!("{}{}", out.stdout, out.stderr);
        for expected in [
            "bad.txt: row 1, column extra: error: --port1 needs a port number (1–65535), not `abc`",
            "bad.txt: row 1, column extra: error: --maxsize needs a number of bytes above 0, not `-5`",
        ] {
            assert!(all.contains(expected), "{command}: {all}");
        }
        assert!(!all.contains("pw-secret"), "{all}");
    }
}

/// Regression: one bad row blocked the whole batch. `run --skip-invalid`
/// runs the valid rows and lists the others with their row, column and
/// reason, never a password.
#[tokio::test(flavor = "multi_thread")]
async fn run_skip_invalid_runs_the_valid_rows_and_lists_the_others() {
    let (source, dest) = servers(slashed_source(), slashed());
    for user in ["alice", "bob"] {
        source
            .seed_bodies(user, "INBOX", &[&raw("Subject: m", user)])
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("staff.csv");
    let row = |user: &str, port: &str, password: &str| {
        format!(
            "{user}@example.test,{user},{port},{password},{user}@example.test,{user},{},dest-pw\n",
            dest.imap_port()
        )
    };
    let port = source.imap_port().to_string();
    write(
        &csv,
        &format!(
            "source_email,source_user,source_port,source_password,destination_email,destination_user,destination_port,destination_password\n{}{}{}{}",
            row("alice", &port, "source-pw"),
            row("carol", "abc", "carols-secret-pw"),
            row("dave", &port, ""),
            row("bob", &port, "source-pw"),
        ),
    );
    write(
        &dir.path().join("staff.yaml"),
        "defaults:\n  source: {host: 127.0.0.1, tls: none}\n  destination: {host: 127.0.0.1, tls: none}\n",
    );

    let out = run(&csv, &[]).code(2);
    assert!(
        out.stderr
            .contains("--skip-invalid runs the 2 valid accounts"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("mailshift.db").exists(), "nothing ran");

    let out = run(&csv, &["--skip-invalid"]).success();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!all.contains("carols-secret-pw"), "{all}");
    for expected in [
        "staff.csv: 2 of 4 accounts are invalid and skipped:",
        "skipped staff.csv: row 3 (carol@example.test)\n  staff.csv: row 3, column source_port: error: `abc` is not a port number (1–65535)",
        "skipped staff.csv: row 4 (dave@example.test)\n  staff.csv: row 4, column source_password: error: the source has no credentials",
    ] {
        assert!(out.stderr.contains(expected), "{expected}\n{}", out.stderr);
    }
    assert!(
        out.stdout.contains(": 2 accounts, 2 completed"),
        "{}",
        out.stdout
    );
    for user in ["alice", "bob"] {
        assert_eq!(folders(&snapshot(&dest, user).await), ["INBOX"], "{user}");
    }

    // An error of the batch itself still stops it.
    write(
        &dir.path().join("staff.yaml"),
        "batch: \"no good\"\ndefaults:\n  source: {host: 127.0.0.1, tls: none}\n  destination: {host: 127.0.0.1, tls: none}\n",
    );
    let out = run(&csv, &["--skip-invalid"]).code(2);
    assert!(out.stderr.contains("nothing was run"), "{}", out.stderr);
}

/// Regression: 30 rows without hosts gave 60 identical autodetect
/// warnings, and an empty password cell was reported against the defaults
/// file without its row.
#[test]
fn one_autodetect_warning_per_domain_and_an_empty_password_at_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("staff.csv");
    let mut text = "source_email,source_password,destination_email\n".to_owned();
    for i in 0..30 {
        let password = if i == 4 {
            String::new()
        } else {
            format!("pw-{i}")
        };
        text.push_str(&format!("u{i}@old.example,{password},u{i}@new.example\n"));
    }
    write(&csv, &text);
    write(
        &dir.path().join("staff.yaml"),
        "defaults:\n  source: {tls: implicit}\n  destination: {password: x}\n",
    );
    let out = mailshift().arg("validate").arg(&csv).run().code(2);
    assert_eq!(
        out.stdout.matches("warning:").count(),
        2,
        "one per side and domain:\n{}",
        out.stdout
    );
    for expected in [
        "staff.csv: row 2: warning: no source host for 30 accounts at old.example (the first is here)",
        "staff.csv: row 2: warning: no destination host for 30 accounts at new.example (the first is here)",
        "staff.csv: row 6, column source_password: error: the source has no credentials",
    ] {
        assert!(out.stdout.contains(expected), "{expected}\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("staff.yaml"), "{}", out.stdout);
}
