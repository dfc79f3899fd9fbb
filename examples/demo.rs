//! A local demo of a whole migration: two private Dovecot servers on
//! loopback (the source with Courier-style `INBOX.` folders and `.`
//! separators, the destination with `/`), two mailboxes of generated mail,
//! then the commands an administrator would type: validate, plan, run,
//! status, an incremental run, and undo. Then the watched folder: a
//! manifest dropped into it is run by `mailshift watch`, and its
//! `NAME.result.json` says it is done. Every notification email goes to a
//! private SMTP receiver (aiosmtpd), and the demo shows what alice got.
//!
//! Run it with `scripts/demo.sh` (which installs Dovecot and aiosmtpd
//! first, and builds the `mailshift` binary the watched folder runs).
//! Output, reports and the state database are left in `demo-output/`.

// The test suite's Dovecot harness; the demo uses only part of it.
#[allow(dead_code)]
#[path = "../tests/it/support/dovecot.rs"]
mod dovecot;
#[allow(dead_code)]
#[path = "../tests/it/support/gmail_view.rs"]
mod gmail_view;
#[allow(dead_code)]
#[path = "../tests/it/support/server.rs"]
mod server;
// The test suite's SMTP receiver (aiosmtpd).
#[allow(dead_code)]
#[path = "../tests/it/support/smtp.rs"]
mod smtp;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use dovecot::{Dovecot, DovecotOptions};
use mailshift::cli::{Cli, run};
use mailshift::protocols::imap::AppendRequest;

const USERS: &[(&str, &str)] = &[
    ("alice", "alice-pw"),
    ("bob", "bob-pw"),
    ("carol", "carol-pw"),
];

/// Runs one mailshift command line as the binary would, showing it first.
fn mailshift(args: &[&str]) {
    println!("\n$ mailshift {}", args.join(" "));
    let cli = Cli::parse_from(std::iter::once("mailshift").chain(args.iter().copied()));
    let exit = run(cli);
    println!("(exit code {})", exit.code());
}

/// A few hundred messages over the years, in a few folders.
fn mail(user: &str, n: usize) -> Vec<(String, AppendRequest)> {
    let folders = ["INBOX", "INBOX.Sent", "INBOX.Archive.2019", "INBOX.Reçus"];
    (0..n)
        .map(|i| {
            let folder = folders[i % folders.len()];
            let year = 2015 + i % 10;
            let body = format!(
                "From: Someone <someone{i}@example.test>\r\nTo: {user}@example.test\r\n\
                 Subject: Message {i} for {user}\r\nMessage-ID: <{user}.{i}@example.test>\r\n\
                 Date: Mon, 1 Jun {year} 10:00:00 +0000\r\n\r\n{}\r\n",
                "The quick brown fox jumps over the lazy dog. ".repeat(20 + i % 200)
            );
            let flags = if i % 3 == 0 {
                vec!["\\Seen".to_owned()]
            } else {
                vec![]
            };
            let request = AppendRequest {
                flags,
                internal_date: Some(format!("01-Jun-{year} 10:00:00 +0000")),
                body: body.into_bytes(),
            };
            (folder.to_owned(), request)
        })
        .collect()
}

async fn seed(server: &Dovecot, user: &str, n: usize) {
    let mut by_folder: std::collections::BTreeMap<String, Vec<AppendRequest>> = Default::default();
    for (folder, request) in mail(user, n) {
        by_folder.entry(folder).or_default().push(request);
    }
    for (folder, requests) in by_folder {
        let raw = mailshift::protocols::imap::utf7::encode(&folder);
        server.seed(user, &raw, requests).await;
    }
}

/// The batch manifest of `users`, its notifications sent through `smtp`:
/// alice's to her own address, the batch summary to the IT team.
fn manifest_text(batch: &str, users: &[&str], ports: (u16, u16), smtp: u16) -> String {
    let mut yaml = format!(
        "# Written by the demo: accounts between two local servers.\n\
         batch: {batch}\n\
         notify: [it-team@example.test]\n\
         smtp: {{host: 127.0.0.1, port: {smtp}, tls: none, from: mailshift@example.test}}\n\
         limits:\n  concurrent_accounts: 2\n  connections_per_account: 2\n\
         defaults:\n\
         \x20 source: {{kind: imap, host: 127.0.0.1, port: {}, tls: none}}\n\
         \x20 destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none}}\n\
         \x20 options: [mail]\n\
         accounts:\n",
        ports.0, ports.1
    );
    for user in users {
        let password = format!("{user}-pw");
        yaml.push_str(&format!(
            "  - source: {{email: {user}@example.test, user: {user}, password: {password}}}\n    \
             destination: {{email: {user}@example.test, user: {user}, password: {password}}}\n"
        ));
        if *user == "alice" {
            yaml.push_str("    notify: [alice@example.test]\n");
        }
    }
    yaml
}

/// The `mailshift` binary built beside this example.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the demo's path");
    exe.parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("mailshift"))
        .filter(|p| p.is_file())
        .expect("the mailshift binary: run the demo with scripts/demo.sh")
}

/// Drops a manifest into a watched folder, runs `mailshift watch` until
/// its result file says how it ended, and shows that file.
fn watched_folder(out: &Path, manifest: &str) {
    let inbox = out.join("inbox");
    std::fs::create_dir_all(&inbox).expect("create the watched folder");
    println!(
        "\n$ mailshift watch {} --settle-seconds 1 &",
        inbox.display()
    );
    let mut daemon = std::process::Command::new(binary())
        .arg("watch")
        .arg(&inbox)
        .arg("--state")
        .arg(out.join("state.db"))
        .arg("--reports")
        .arg(out.join("reports"))
        .arg("--area")
        .arg(out.join("area"))
        .args(["--settle-seconds", "1"])
        .spawn()
        .expect("start mailshift watch");
    println!("$ cp carol.yaml {}/", inbox.display());
    std::fs::write(inbox.join("carol.yaml"), manifest).expect("drop the manifest");
    let result = inbox.join("carol.yaml.result.json");
    let started = Instant::now();
    let shown = loop {
        let text = std::fs::read_to_string(&result).unwrap_or_default();
        let ended = ["done", "failed", "rejected"]
            .iter()
            .any(|o| text.contains(&format!("\"outcome\": \"{o}\"")));
        if ended || started.elapsed() > Duration::from_secs(120) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("\n$ cat {}\n{shown}", result.display());
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
}

/// What the SMTP receiver got: one line per email, then alice's in full.
fn show_notifications(receiver: &smtp::SmtpReceiver) {
    let messages = receiver.messages();
    println!(
        "\nThe SMTP receiver (aiosmtpd) got {} emails:",
        messages.len()
    );
    for message in &messages {
        let text = String::from_utf8_lossy(&message.data);
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default();
        println!("  to {}: {subject}", message.rcpt_to.join(", "));
    }
    // The owner's email is plain text; the summary carries the report.
    let alice = messages
        .iter()
        .find(|m| m.rcpt_to == ["alice@example.test"])
        .map(|m| smtp::SmtpReceiver::parse(&m.data));
    if let Some(parsed) = alice {
        println!(
            "\nThe email alice got:\nSubject: {}\n\n{}",
            parsed["subject"].as_str().unwrap_or_default(),
            parsed["body"].as_str().unwrap_or_default()
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let out = Path::new("demo-output");
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).expect("create demo-output");
    let out = out.canonicalize().expect("demo-output path");

    println!("Starting two Dovecot servers on loopback...");
    let source = Dovecot::start(DovecotOptions {
        separator: '.',
        inbox_prefix: true,
        users: USERS,
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: USERS,
        auto_folders: true,
        ..DovecotOptions::default()
    });
    seed(&source, "alice", 400).await;
    seed(&source, "bob", 250).await;
    seed(&source, "carol", 120).await;
    println!(
        "source on 127.0.0.1:{}, destination on 127.0.0.1:{}; alice has 400 messages, bob 250, carol 120",
        source.imap_port(),
        dest.imap_port()
    );
    let receiver = smtp::SmtpReceiver::start(smtp::SmtpOptions::default());
    println!(
        "notifications go to an SMTP receiver (aiosmtpd) on 127.0.0.1:{}",
        receiver.port()
    );

    let ports = (source.imap_port(), dest.imap_port());
    let manifest = out.join("demo.yaml").display().to_string();
    std::fs::write(
        &manifest,
        manifest_text("demo", &["alice", "bob"], ports, receiver.port()),
    )
    .expect("write the demo manifest");
    let state = out.join("state.db").display().to_string();
    let reports = out.join("reports").display().to_string();
    // The blocking commands run off the async runtime's thread.
    let (m, s, r) = (manifest.clone(), state.clone(), reports.clone());
    tokio::task::spawn_blocking(move || {
        mailshift(&["validate", &m]);
        mailshift(&["plan", &m]);
        mailshift(&["run", &m, "--state", &s, "--reports", &r]);
        mailshift(&["list", "--state", &s]);
    })
    .await
    .expect("demo commands");

    let listed = mailshift::store::Store::open(Path::new(&state))
        .expect("state database")
        .batches(None)
        .await
        .expect("batches");
    let alice = listed[0].accounts[0].migration_id.clone();
    let (m, s, r) = (manifest.clone(), state.clone(), reports.clone());
    tokio::task::spawn_blocking(move || {
        let status = [
            "status",
            &alice,
            "--source",
            "alice@example.test",
            "--state",
            &s,
        ];
        mailshift(&status);
        println!("\nRunning the same manifest again: an incremental pass with nothing to copy.");
        mailshift(&["run", &m, "--state", &s, "--reports", &r]);
        mailshift(&[
            "undo",
            &alice,
            "--source",
            "alice@example.test",
            "--state",
            &s,
            "--reports",
            &r,
        ]);
        mailshift(&status);
    })
    .await
    .expect("demo commands");

    println!("\nThe watched folder: a manifest dropped there is checked and run.");
    let carol = manifest_text("carol", &["carol"], ports, receiver.port());
    let out_dir = out.clone();
    tokio::task::spawn_blocking(move || watched_folder(&out_dir, &carol))
        .await
        .expect("the watched folder");
    show_notifications(&receiver);
    println!(
        "\nReports, undo manifests and the state database are in {}",
        out.display()
    );
    status_pages(&state, &reports).await;
}

/// Says how to follow the demo accounts in a browser: `mailshift serve`
/// over the demo's state database, and each account's status page.
async fn status_pages(state: &str, reports: &str) {
    let batches = mailshift::store::Store::open(Path::new(state))
        .expect("state database")
        .batches(None)
        .await
        .expect("batches");
    println!("\nThe status pages: start the server, then open an account's page.");
    println!(
        "$ {} serve --state {state} --reports {reports}",
        binary().display()
    );
    for account in batches.iter().flat_map(|b| &b.accounts) {
        println!(
            "  http://127.0.0.1:8080/status?id={}&source={}",
            account.migration_id,
            mailshift::protocols::http::encode_query(&account.source)
        );
    }
}
