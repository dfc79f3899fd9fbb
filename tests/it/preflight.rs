//! `mailshift plan --check` against real Dovecot and Radicale servers:
//! good and bad passwords, a closed port, a TLS mismatch, a destination
//! size limit, autodetected servers, and the WebDAV side (homes counted,
//! a refused login, a closed `dav_url`, a truncated `.ics` source);
//! through the binary, as JSON and as a table.

use std::net::TcpListener;
use std::path::PathBuf;

use mailshift::protocols::caldav::{Collection, ICALENDAR, PutOutcome};
use mailshift::protocols::carddav::VCARD;
use mailshift::protocols::dav::DavClient;
use mailshift::protocols::imap::Session;
use serde_json::Value;
use tempfile::TempDir;

use crate::autodetect::{DnsServer, HttpServer, Zone, autoconfig_xml, local};
use crate::cmd::{Output, mailshift};
use crate::support::calendars::{seed_source, source_objects};
use crate::support::radicale::Radicale;
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

fn dovecot(users: &[(&str, &str)]) -> Dovecot {
    Dovecot::start(DovecotOptions {
        users,
        ..DovecotOptions::default()
    })
}

/// A groupware endpoint: IMAP on a Dovecot's plain port, WebDAV at `dav_url`.
fn groupware(port: u16, email: &str, user: &str, password: &str, dav_url: &str) -> String {
    format!(
        "{{kind: groupware, host: 127.0.0.1, port: {port}, tls: none, email: {email}, \
         user: {user}, password: {password}, dav_url: \"{dav_url}\"}}"
    )
}

/// Every collection of a home (calendars, then address books) with its
/// resources, as the server lists them.
async fn listing(dav: &DavClient) -> Vec<(String, Vec<String>)> {
    let mut all = Vec::new();
    let calendars = dav.calendars().await.expect("calendars");
    for collection in calendars
        .into_iter()
        .chain(dav.address_books().await.expect("books"))
    {
        let mut items: Vec<String> = dav
            .items(&collection.href)
            .await
            .expect("items")
            .into_iter()
            .map(|i| format!("{} {}", i.href, i.etag))
            .collect();
        items.sort();
        all.push((collection.href, items));
    }
    all.sort();
    all
}

/// The WebDAV report of one service at one end of an account.
fn dav<'a>(account: &'a Value, side: &str, service: &str) -> &'a Value {
    account[side]["dav"]
        .as_array()
        .expect("dav")
        .iter()
        .find(|d| d["service"] == service)
        .unwrap_or_else(|| panic!("no {service} at the {side} of {account:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn webdav_homes_are_found_and_counted_at_both_ends_without_changes() {
    let (source, dest) = (dovecot(SOURCE_USERS), dovecot(DEST_USERS));
    let source_dav = Radicale::start(&[("alice", "source-pw")]);
    let dest_dav = Radicale::start(&[("alice", "dest-pw")]);
    let from = source_dav.client("alice");
    seed_source(&from).await;
    from.create_address_book("/alice/people/", "People")
        .await
        .unwrap();
    let cards = ["ada", "bob"]
        .map(|uid| format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{uid}\r\nEND:VCARD\r\n"));
    for (uid, card) in ["ada", "bob"].iter().zip(&cards) {
        let outcome = from
            .put_new(&format!("/alice/people/{uid}.vcf"), VCARD, card.as_bytes())
            .await
            .unwrap();
        assert_eq!(outcome, PutOutcome::Created);
    }
    // The destination already holds one calendar with one event.
    let to = dest_dav.client("alice");
    to.create_calendar("/alice/old/", &Collection::default())
        .await
        .unwrap();
    let (_, name, object) = &source_objects()[0];
    to.put_new(&format!("/alice/old/{name}"), ICALENDAR, object.as_bytes())
        .await
        .unwrap();
    let before = (listing(&from).await, listing(&to).await);

    let (_dir, path) = manifest(&format!(
        "batch: dav
accounts:
  - source: {}
    destination: {}
    options: [mail, calendars, tasks, contacts, contact_groups]
",
        groupware(
            source.imap_port(),
            "alice@example.test",
            "alice",
            "source-pw",
            &source_dav.home("alice")
        ),
        groupware(
            dest.imap_port(),
            "alice@example.test",
            "alice",
            "dest-pw",
            &dest_dav.home("alice")
        ),
    ));
    let report = check(&path, true).success().json();
    let alice = account(&report, "alice@example.test");
    assert_eq!(alice["ready"], true, "{alice:#}");

    let calendars = dav(alice, "source", "caldav");
    assert_eq!(calendars["status"], "ok", "{calendars:#}");
    assert_eq!(calendars["home"], source_dav.home("alice"));
    let seeded: std::collections::BTreeSet<&str> =
        source_objects().iter().map(|(c, _, _)| *c).collect();
    assert_eq!(calendars["collections"], seeded.len());
    assert_eq!(calendars["items"], source_objects().len());
    let books = dav(alice, "source", "carddav");
    assert_eq!(
        (&books["status"], &books["collections"]),
        (&"ok".into(), &1.into())
    );
    assert_eq!(books["items"], cards.len());
    let there = dav(alice, "destination", "caldav");
    assert_eq!(there["status"], "ok", "{there:#}");
    assert_eq!(
        (&there["collections"], &there["items"]),
        (&1.into(), &1.into())
    );
    assert_eq!(dav(alice, "destination", "carddav")["items"], 0);
    assert_eq!(report["totals"]["dav_collections"], seeded.len() + 1);
    assert_eq!(
        report["totals"]["dav_items"],
        source_objects().len() + cards.len()
    );

    let out = check(&path, false).success();
    for part in [
        "WEBDAV",
        &format!(
            "alice@example.test source {}: 3 calendars, 8 items",
            source_dav.home("alice")
        ),
        &format!(
            "alice@example.test destination {}: 1 calendar, 1 item",
            dest_dav.home("alice")
        ),
        "webdav at the sources: 4 collections, 10 items (not in the estimated duration",
    ] {
        assert!(out.stdout.contains(part), "{part:?} not in\n{}", out.stdout);
    }

    // Nothing was written at either end.
    assert_eq!((listing(&from).await, listing(&to).await), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn webdav_failures_name_the_account_the_server_and_what_failed() {
    let (source, dest) = (dovecot(SOURCE_USERS), dovecot(DEST_USERS));
    let source_dav = Radicale::start(&[("bob", "source-pw")]);
    // bob's WebDAV password at the destination is not his mail password.
    let dest_dav = Radicale::start(&[("alice", "dest-pw"), ("bob", "dav-only-pw")]);
    let closed = closed_port();
    let (dir, path) = manifest("");
    // Cut inside the weekly meeting's first event.
    let whole = &source_objects()[0].2;
    let cut = whole.find("END:VEVENT").unwrap();
    std::fs::write(dir.path().join("cut.ics"), &whole[..cut]).unwrap();
    let (s, d) = (source.imap_port(), dest.imap_port());
    std::fs::write(
        &path,
        format!(
            "batch: dav
accounts:
  - source: {}
    destination: {}
    options: [calendars]
  - source: {}
    destination: {}
    options: [calendars]
  - source: {{path: cut.ics}}
    destination: {}
    options: [calendars, tasks]
  - source: {}
    destination: {}
    options: [contacts]
  - source: {}
    destination: {}
    options: [contacts]
",
            groupware(
                s,
                "bob@example.test",
                "bob",
                "source-pw",
                &source_dav.home("bob")
            ),
            groupware(
                d,
                "bob@example.test",
                "bob",
                "dest-pw",
                &dest_dav.home("bob")
            ),
            groupware(
                s,
                "carol@example.test",
                "alice",
                "source-pw",
                &format!("http://127.0.0.1:{closed}/alice/")
            ),
            groupware(
                d,
                "carol@example.test",
                "alice",
                "dest-pw",
                &dest_dav.home("alice")
            ),
            groupware(
                d,
                "dave@example.test",
                "alice",
                "dest-pw",
                &dest_dav.home("alice")
            ),
            // https:// to a plain HTTP port.
            groupware(
                s,
                "erin@example.test",
                "bob",
                "source-pw",
                &format!("https://127.0.0.1:{}/bob/", source_dav.port())
            ),
            groupware(
                d,
                "erin@example.test",
                "alice",
                "dest-pw",
                &dest_dav.home("alice")
            ),
            // Another user's home: no home of bob's there.
            groupware(
                s,
                "frank@example.test",
                "bob",
                "source-pw",
                &source_dav.home("alice")
            ),
            groupware(
                d,
                "frank@example.test",
                "alice",
                "dest-pw",
                &dest_dav.home("alice")
            ),
        ),
    )
    .unwrap();

    let out = check(&path, true).code(1);
    let report = out.json();
    assert_eq!(report["totals"]["ready"], 0, "{report:#}");

    // A refused WebDAV login; with no mail option, the IMAP servers are
    // not used and not checked.
    let bob = account(&report, "bob@example.test");
    assert_eq!(bob["ready"], false);
    assert_eq!(bob["destination"]["status"], "not_checked");
    assert_eq!(dav(bob, "source", "caldav")["status"], "ok");
    assert_eq!(
        dav(bob, "destination", "caldav")["status"],
        "auth_failed",
        "{bob:#}"
    );
    let line = bob["problems"][0].as_str().unwrap();
    for part in [
        "bob@example.test (",
        &format!(
            "the destination CalDAV server http://127.0.0.1:{} refused the login of bob",
            dest_dav.port()
        ),
        "Check the password (password written in the manifest)",
    ] {
        assert!(line.contains(part), "{part:?} not in {line}");
    }

    // A dav_url on a closed port.
    let carol = account(&report, "carol@example.test");
    assert_eq!(carol["source"]["status"], "not_checked");
    let at = dav(carol, "source", "caldav");
    assert_eq!(at["status"], "unreachable", "{carol:#}");
    let line = carol["problems"][0].as_str().unwrap();
    assert!(
        line.starts_with("carol@example.test (")
            && line.contains(&format!(
                "cannot reach the source CalDAV server http://127.0.0.1:{closed}"
            )),
        "{line}"
    );
    assert_eq!(dav(carol, "destination", "caldav")["status"], "ok");

    // A truncated .ics source: not ready, the file named.
    let dave = report["accounts"][2].clone();
    assert_eq!(dave["destination"]["email"], "dave@example.test");
    assert_eq!(dave["ready"], false);
    let file = dav(&dave, "source", "caldav");
    assert_eq!(file["status"], "protocol_error", "{dave:#}");
    let line = dave["problems"][0].as_str().unwrap();
    assert!(
        line.contains("cut.ics: the file ends inside BEGIN:VEVENT"),
        "{line}"
    );
    assert!(line.contains("truncated"), "{line}");

    // TLS to a plain port.
    let erin = account(&report, "erin@example.test");
    assert_eq!(
        dav(erin, "source", "carddav")["status"],
        "tls_error",
        "{erin:#}"
    );
    let line = erin["problems"][0].as_str().unwrap();
    assert!(
        line.contains(&format!(
            "TLS with the source CardDAV server https://127.0.0.1:{} failed",
            source_dav.port()
        )),
        "{line}"
    );

    // No home at the dav_url: the answer says what was tried.
    let frank = account(&report, "frank@example.test");
    assert_eq!(
        dav(frank, "source", "carddav")["status"],
        "capability_missing",
        "{frank:#}"
    );
    let line = frank["problems"][0].as_str().unwrap();
    assert!(
        line.contains(&format!(
            "no CardDAV home collection found at the source dav_url {0}: tried {0} (",
            source_dav.home("alice")
        )),
        "{line}"
    );

    // The table says it too; no password is written anywhere.
    let table = check(&path, false).code(1);
    for part in [
        "0 ready, 5 not ready",
        "destination CalDAV: authentication failed",
        "source CalDAV: host unreachable",
        "source CalDAV: protocol error",
        "source CardDAV: TLS problem",
        "source CardDAV: capability missing",
    ] {
        assert!(
            table.stdout.contains(part),
            "{part:?} not in\n{}",
            table.stdout
        );
    }
    for secret in ["source-pw", "dest-pw", "dav-only-pw"] {
        assert!(!out.stdout.contains(secret) && !table.stdout.contains(secret));
        assert!(!out.stderr.contains(secret) && !table.stderr.contains(secret));
    }
}
