//! A local demo of a whole migration: two private Dovecot servers on
//! loopback (the source with Courier-style `INBOX.` folders and `.`
//! separators, the destination with `/`), two mailboxes of generated mail,
//! then the commands an administrator would type: validate, plan, run,
//! status, an incremental run, and undo.
//!
//! Run it with `scripts/demo.sh` (which installs Dovecot first). Output,
//! reports and the state database are left in `demo-output/`.

// The test suite's Dovecot harness; the demo uses only part of it.
#[allow(dead_code)]
#[path = "../tests/it/support/dovecot.rs"]
mod dovecot;
#[allow(dead_code)]
#[path = "../tests/it/support/server.rs"]
mod server;

use std::path::Path;

use clap::Parser;
use dovecot::{Dovecot, DovecotOptions};
use mailshift::cli::{Cli, run};
use mailshift::protocols::imap::AppendRequest;

const USERS: &[(&str, &str)] = &[("alice", "alice-pw"), ("bob", "bob-pw")];

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

fn write_manifest(dir: &Path, source: &Dovecot, dest: &Dovecot) -> String {
    let mut yaml = format!(
        "# Written by the demo: two accounts between two local servers.\n\
         batch: demo\n\
         limits:\n  concurrent_accounts: 2\n  connections_per_account: 2\n\
         defaults:\n\
         \x20 source: {{kind: imap, host: 127.0.0.1, port: {}, tls: none}}\n\
         \x20 destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none}}\n\
         \x20 options: [mail]\n\
         accounts:\n",
        source.imap_port(),
        dest.imap_port()
    );
    for (user, password) in USERS {
        yaml.push_str(&format!(
            "  - source: {{email: {user}@example.test, user: {user}, password: {password}}}\n    \
             destination: {{email: {user}@example.test, user: {user}, password: {password}}}\n"
        ));
    }
    let path = dir.join("demo.yaml");
    std::fs::write(&path, yaml).expect("write the demo manifest");
    path.display().to_string()
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
    println!(
        "source on 127.0.0.1:{}, destination on 127.0.0.1:{}; alice has 400 messages, bob 250",
        source.imap_port(),
        dest.imap_port()
    );

    let manifest = write_manifest(&out, &source, &dest);
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
    println!(
        "\nReports, undo manifests and the state database are in {}",
        out.display()
    );
}
