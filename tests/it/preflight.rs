//! `mailshift plan --check` against real Dovecot servers: good and bad
//! passwords, a closed port, a TLS mismatch, a destination size limit,
//! and autodetected servers; through the binary, as JSON and as a table.

use std::net::TcpListener;
use std::path::PathBuf;

use mailshift::protocols::imap::Session;
use serde_json::Value;
use tempfile::TempDir;

use crate::autodetect::{DnsServer, HttpServer, Zone, autoconfig_xml, local};
use crate::cmd::{Output, mailshift};
use crate::support::{Dovecot, DovecotOptions, message};

const SOURCE_USERS: &[(&str, &str)] = &[("alice", "source-pw"), ("bob", "source-pw")];
const DEST_USERS: &[(&str, &str)] = &[("alice", "dest-pw"), ("bob", "dest-pw")];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Writes `yaml` as a manifest in a fresh folder.
fn manifest(yaml: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("batch.yaml");
    std::fs::write(&path, yaml).expect("write manifest");
    (dir, path)
}

fn check(path: &PathBuf, json: bool) -> Output {
    let mut cmd = mailshift().arg("plan").arg("--check").arg(path);
    if json {
        cmd = cmd.args(["--format", "json"]);
    }
    cmd.run()
}

/// An endpoint on a Dovecot's plain port.
fn imap(port: u16, user: &str, password: &str) -> String {
    format!(
        "{{host: 127.0.0.1, port: {port}, tls: none, email: {user}@example.test, user: {user}, password: {password}}}"
    )
}

/// Folder names of a mailbox, sorted.
async fn folders(server: &Dovecot, user: &str) -> Vec<String> {
    let mut session = Session::connect(&server.imap_config(user))
        .await
        .expect("login");
    let mut names: Vec<String> = session
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    session.logout().await.ok();
    names.sort();
    names
}

fn account<'a>(report: &'a Value, email: &str) -> &'a Value {
    report["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["source"]["email"] == email)
        .unwrap_or_else(|| panic!("no account {email} in {report:#}"))
}

#[test]
fn reports_each_account_and_changes_nothing() {
    let source = Dovecot::start(DovecotOptions {
        users: SOURCE_USERS,
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: DEST_USERS,
        ..DovecotOptions::default()
    });
    let rt = runtime();
    rt.block_on(async {
        let inbox: Vec<Vec<u8>> = (0..3)
            .map(|i| message(&format!("inbox {i}"), &"x".repeat(100 * (i + 1))))
            .collect();
        source.seed_bodies("alice", "INBOX", &inbox).await;
        source
            .seed_bodies("alice", "Archive", &[&message("old", "kept")])
            .await;
        source
            .seed_bodies("alice", "Junk", &[&message("spam", "skipped")])
            .await;
    });
    let before = rt.block_on(folders(&dest, "alice"));

    let (s, d) = (source.imap_port(), dest.imap_port());
    let closed = closed_port();
    let (_dir, path) = manifest(&format!(
        "batch: preflight
accounts:
  - source: {}
    destination: {}
    mail: {{exclude: [Junk]}}
  - source: {}
    destination: {}
  - source: {{host: 127.0.0.1, port: {s}, tls: none, email: carol@example.test, user: alice, password: source-pw}}
    destination: {{host: 127.0.0.1, port: {closed}, tls: none, email: carol@example.test, user: alice, password: dest-pw}}
  - source: {{host: 127.0.0.1, port: {s}, tls: implicit, email: dave@example.test, user: alice, password: source-pw}}
    destination: {}
",
        imap(s, "alice", "source-pw"),
        imap(d, "alice", "dest-pw"),
        imap(s, "bob", "wrong-password"),
        imap(d, "bob", "dest-pw"),
        imap(d, "bob", "dest-pw").replace("bob@", "dave@"),
    ));

    let out = check(&path, true).code(1);
    let report = out.json();
    assert_eq!(report["ready"], false);
    assert_eq!(report["totals"]["accounts"], 4);
    assert_eq!(report["totals"]["ready"], 1);

    // Good passwords: ready, with what there is to move (Junk excluded).
    let alice = account(&report, "alice@example.test");
    assert_eq!(alice["ready"], true, "{alice:#}");
    assert_eq!(alice["source"]["status"], "ok");
    assert_eq!(alice["destination"]["status"], "ok");
    let volume = &alice["volume"];
    assert_eq!(volume["folders"], 2, "{volume:#}");
    assert_eq!(volume["messages"], 4);
    assert!(volume["bytes"].as_u64().unwrap() > 600, "{volume:#}");
    assert!(alice["estimated_seconds"].as_f64().unwrap() >= 0.0);
    assert!(alice["problems"].as_array().unwrap().is_empty());

    // A wrong password: the line names the account, the server and what to check.
    let bob = account(&report, "bob@example.test");
    assert_eq!(bob["ready"], false);
    assert_eq!(bob["source"]["status"], "auth_failed");
    assert_eq!(bob["destination"]["status"], "ok");
    let line = bob["problems"][0].as_str().unwrap();
    for part in [
        "bob@example.test (",
        &format!("the source server 127.0.0.1:{s} refused the login of bob"),
        "Check the password (password written in the manifest)",
    ] {
        assert!(line.contains(part), "{part:?} not in {line}");
    }
    assert!(!out.stdout.contains("wrong-password"));

    // A closed port: unreachable.
    let carol = account(&report, "carol@example.test");
    assert_eq!(carol["destination"]["status"], "unreachable", "{carol:#}");
    assert!(
        carol["problems"][0].as_str().unwrap().contains(&format!(
            "cannot reach the destination server 127.0.0.1:{closed}"
        )),
        "{carol:#}"
    );
    assert_eq!(carol["source"]["status"], "ok");

    // Implicit TLS to a plain port: a TLS problem.
    let dave = account(&report, "dave@example.test");
    assert_eq!(dave["source"]["status"], "tls_error", "{dave:#}");
    assert!(
        dave["problems"][0]
            .as_str()
            .unwrap()
            .contains("Check `tls`"),
        "{dave:#}"
    );

    // The table says the same to a person.
    let out = check(&path, false).code(1);
    for part in [
        "batch preflight: 4 accounts checked, 1 ready, 3 not ready",
        "ACCOUNT",
        "authentication failed",
        "host unreachable",
        "TLS problem",
        "not ready:",
        "estimated duration",
    ] {
        assert!(out.stdout.contains(part), "{part:?} not in\n{}", out.stdout);
    }

    // Nothing changed at the destination.
    assert_eq!(rt.block_on(folders(&dest, "alice")), before);
}

#[test]
fn every_account_ready_exits_zero() {
    let source = Dovecot::start(DovecotOptions {
        users: SOURCE_USERS,
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: DEST_USERS,
        ..DovecotOptions::default()
    });
    let (s, d) = (source.imap_port(), dest.imap_port());
    let (_dir, path) = manifest(&format!(
        "accounts:
  - source: {}
    destination: {}
  - source: {}
    destination: {}
",
        imap(s, "alice", "source-pw"),
        imap(d, "alice", "dest-pw"),
        imap(s, "bob", "source-pw"),
        imap(d, "bob", "dest-pw"),
    ));
    let report = check(&path, true).success().json();
    assert_eq!(report["ready"], true, "{report:#}");
    assert_eq!(report["totals"]["messages"], 0);
    check(&path, false)
        .success()
        .stdout_has("2 accounts checked, 2 ready, 0 not ready");
}

#[test]
fn messages_over_the_destination_limit() {
    let source = Dovecot::start(DovecotOptions {
        users: SOURCE_USERS,
        ..DovecotOptions::default()
    });
    // A destination that advertises a 2,000-byte APPENDLIMIT.
    let dest = Dovecot::start(DovecotOptions {
        users: DEST_USERS,
        imap_capability: Some("IMAP4rev1 UIDPLUS LITERAL+ NAMESPACE APPENDLIMIT=2000"),
        ..DovecotOptions::default()
    });
    let big = message("big", &"y".repeat(5000));
    runtime().block_on(source.seed_bodies(
        "alice",
        "INBOX",
        &[&message("small", "ok"), &big, &big],
    ));
    let (s, d) = (source.imap_port(), dest.imap_port());
    let yaml = |budget: u32| {
        format!(
            "accounts:
  - source: {}
    destination: {}
    error_budget: {budget}
",
            imap(s, "alice", "source-pw"),
            imap(d, "alice", "dest-pw"),
        )
    };

    // Within the error budget: ready, with a warning.
    let (_dir, path) = manifest(&yaml(5));
    let report = check(&path, true).success().json();
    let alice = account(&report, "alice@example.test");
    assert_eq!(alice["destination"]["appendlimit"], 2000, "{alice:#}");
    assert_eq!(alice["volume"]["over_destination_limit"], 2);
    assert_eq!(
        alice["volume"]["largest_message"].as_u64(),
        Some(big.len() as u64)
    );
    assert!(
        alice["warnings"][0]
            .as_str()
            .unwrap()
            .contains("larger than the destination's limit of 2000 bytes"),
        "{alice:#}"
    );

    // Over it: not ready.
    let (_dir, path) = manifest(&yaml(1));
    let report = check(&path, true).code(1).json();
    let alice = account(&report, "alice@example.test");
    assert_eq!(alice["ready"], false);
    assert!(
        alice["problems"][0]
            .as_str()
            .unwrap()
            .contains("more than the error budget of 1"),
        "{alice:#}"
    );
}

#[test]
fn autodetected_accounts_are_checked_with_one_lookup_per_domain() {
    let source = Dovecot::start(DovecotOptions {
        users: SOURCE_USERS,
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: DEST_USERS,
        ..DovecotOptions::default()
    });
    let http = HttpServer::start(&[
        (
            "autoconfig.old.test",
            "/mail/config-v1.1.xml",
            autoconfig_xml(
                "old.test",
                "127.0.0.1",
                source.imap_port(),
                "plain",
                "%EMAILLOCALPART%",
            ),
        ),
        (
            "autoconfig.new.test",
            "/mail/config-v1.1.xml",
            autoconfig_xml(
                "new.test",
                "127.0.0.1",
                dest.imap_port(),
                "plain",
                "%EMAILLOCALPART%",
            ),
        ),
    ]);
    let dns = DnsServer::start(Zone::default());
    let (_dir, path) = manifest(
        "defaults:
  source: {kind: autodetect}
  destination: {kind: autodetect}
accounts:
  - source: {email: alice@old.test, password: source-pw}
    destination: {email: alice@new.test, password: dest-pw}
  - source: {email: bob@old.test, password: source-pw}
    destination: {email: bob@new.test, password: dest-pw}
  - source: {email: nobody@void.test, password: source-pw}
    destination: {email: nobody@new.test, password: dest-pw}
",
    );
    let out = local(
        mailshift()
            .arg("plan")
            .arg("--check")
            .arg(&path)
            .args(["--format", "json"]),
        &dns,
        &http,
    )
    .run()
    .code(1);
    let report = out.json();
    let alice = account(&report, "alice@old.test");
    assert_eq!(alice["ready"], true, "{alice:#}");
    assert_eq!(alice["source"]["user"], "alice");
    assert_eq!(
        alice["source"]["server"],
        format!("127.0.0.1:{}", source.imap_port())
    );
    assert_eq!(
        alice["source"]["autodetected"],
        "autoconfig https://autoconfig.old.test/mail/config-v1.1.xml"
    );
    assert_eq!(account(&report, "bob@old.test")["ready"], true);
    let nobody = account(&report, "nobody@void.test");
    assert_eq!(
        nobody["source"]["status"], "autodetect_failed",
        "{nobody:#}"
    );
    let detect_problem = nobody["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|p| p.contains("could not be detected"))
        .unwrap_or_else(|| panic!("{nobody:#}"));
    assert!(
        detect_problem.contains("DNS MX void.test: no records"),
        "{detect_problem}"
    );
    // Three addresses at new.test, two at old.test: one request each.
    assert_eq!(http.requests_for("autoconfig.old.test"), 1);
    assert_eq!(http.requests_for("autoconfig.new.test"), 1);

    // `plan` without --check stays offline and shows the endpoints pending.
    local(mailshift().arg("plan").arg(&path), &dns, &http)
        .run()
        .success();
    assert_eq!(http.requests_for("autoconfig.old.test"), 1);
}

#[test]
fn run_resolves_autodetect_before_migrating() {
    let source = Dovecot::start(DovecotOptions {
        users: SOURCE_USERS,
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: DEST_USERS,
        ..DovecotOptions::default()
    });
    runtime().block_on(source.seed_bodies("alice", "INBOX", &[&message("hello", "moved")]));
    let http = HttpServer::start(&[(
        "old.test",
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        autoconfig_xml(
            "old.test",
            "127.0.0.1",
            source.imap_port(),
            "plain",
            "%EMAILLOCALPART%",
        ),
    )]);
    let dns = DnsServer::start(Zone::default());
    let d = dest.imap_port();
    let (dir, path) = manifest(&format!(
        "accounts:
  - source: {{kind: autodetect, email: alice@old.test, password: source-pw}}
    destination: {}
  - source: {{kind: autodetect, email: alice@void.test, password: source-pw}}
    destination: {}
",
        imap(d, "alice", "dest-pw"),
        imap(d, "bob", "dest-pw"),
    ));
    let run = |path: &PathBuf| {
        local(
            mailshift()
                .arg("run")
                .arg(path)
                .arg("--state")
                .arg(dir.path().join("state.db"))
                .arg("--reports")
                .arg(dir.path().join("reports")),
            &dns,
            &http,
        )
        .run()
    };
    // One address cannot be detected: nothing runs, and it says why.
    run(&path)
        .code(2)
        .stderr_has("source alice@void.test: autodetect failed")
        .stderr_has("nothing was run");

    let (_dir2, path) = manifest(&format!(
        "accounts:
  - source: {{kind: autodetect, email: alice@old.test, password: source-pw}}
    destination: {}
",
        imap(d, "alice", "dest-pw"),
    ));
    run(&path).success();
    let messages = runtime().block_on(async {
        let mut session = Session::connect(&dest.imap_config("alice"))
            .await
            .expect("login");
        session.status("INBOX").await.expect("status").messages
    });
    assert_eq!(messages, 1);
}
