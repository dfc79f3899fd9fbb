//! The `rules` and `auto_replies` options end to end: the `mailshift`
//! binary between two Dovecot Pigeonhole servers over ManageSieve, then
//! `mailshift undo`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mailshift::protocols::imap::{Auth, TlsMode};
use mailshift::protocols::managesieve::SieveSession;
use mailshift::vocabulary::Server;
use tempfile::TempDir;

use crate::cmd::{Output, mailshift};
use crate::support::{Dovecot, DovecotOptions, undo_first};

const SOURCE_USERS: &[(&str, &str)] = &[("alice", "source-pw")];
const DEST_USERS: &[(&str, &str)] = &[("alice", "dest-pw")];

/// Every script of a mailbox: name → (content, active).
type Scripts = BTreeMap<String, (String, bool)>;

async fn sieve(server: &Dovecot, user: &str) -> SieveSession {
    let sieve = Server {
        host: "127.0.0.1".into(),
        port: server.sieve_port(),
        tls: TlsMode::None,
        accept_invalid_certs: false,
    };
    SieveSession::connect(&sieve.session(
        user,
        Auth::Password(server.password(user).into()),
        Duration::from_secs(20),
    ))
    .await
    .expect("ManageSieve login")
}

async fn scripts(server: &Dovecot) -> Scripts {
    let mut session = sieve(server, "alice").await;
    let mut all = Scripts::new();
    for info in session.list_scripts().await.unwrap() {
        let content = session.get_script(&info.name).await.unwrap();
        all.insert(
            info.name,
            (String::from_utf8(content).unwrap(), info.active),
        );
    }
    session.logout().await.ok();
    all
}

/// Stores scripts (and activates `active`) through ManageSieve.
async fn put(server: &Dovecot, scripts: &[(&str, &str)], active: Option<&str>) {
    let mut session = sieve(server, "alice").await;
    for (name, content) in scripts {
        session.put_script(name, content.as_bytes()).await.unwrap();
    }
    if let Some(name) = active {
        session.set_active(Some(name)).await.unwrap();
    }
    session.logout().await.ok();
}

/// A manifest between two groupware endpoints, and its state and reports.
struct Run {
    dir: TempDir,
}

impl Run {
    fn new(source: &Dovecot, dest: &Dovecot, options: &str) -> Run {
        let dir = TempDir::new().unwrap();
        let endpoint = |server: &Dovecot, password: &str| {
            format!(
                "{{kind: groupware, host: 127.0.0.1, port: {}, tls: none, \
                 email: alice@example.test, user: alice, password: {password}, \
                 sieve: {{host: 127.0.0.1, port: {}, tls: none}}}}",
                server.imap_port(),
                server.sieve_port()
            )
        };
        let yaml = format!(
            "batch: test\naccounts:\n  - source: {}\n    destination: {}\n    options: [{options}]\n",
            endpoint(source, "source-pw"),
            endpoint(dest, "dest-pw")
        );
        std::fs::write(dir.path().join("batch.yaml"), yaml).unwrap();
        Run { dir }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    fn run(&self) -> Output {
        mailshift()
            .arg("run")
            .arg(self.dir.path().join("batch.yaml"))
            .arg("--state")
            .arg(self.state())
            .arg("--reports")
            .arg(self.dir.path().join("reports"))
            .run()
    }

    fn report(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("reports/test/report.json")).unwrap()
    }

    fn undo(&self) -> Output {
        undo_first(
            &self.state(),
            &self.dir.path().join("reports"),
            "alice@example.test",
        )
    }
}

fn servers() -> (Dovecot, Dovecot) {
    (
        Dovecot::start(DovecotOptions {
            users: SOURCE_USERS,
            ..DovecotOptions::default()
        }),
        Dovecot::start(DovecotOptions {
            users: DEST_USERS,
            ..DovecotOptions::default()
        }),
    )
}

const FILTERS: &str = "require [\"fileinto\"];\r\n\
    # Several rules, as a webmail writes them.\r\n\
    if header :contains \"subject\" \"invoice\" {\r\n  fileinto \"Invoices\";\r\n  stop;\r\n}\r\n\
    if address :is \"from\" \"boss@example.test\" {\r\n  fileinto \"Boss\";\r\n}\r\n\
    if header :contains \"list-id\" \"rust\" {\r\n  fileinto \"Lists\";\r\n}\r\n";

const VACATION: &str = "require [\"vacation\"];\r\n\
    vacation :days 7 :subject \"Out of office\" :addresses [\"alice@example.test\", \"a@example.test\"]\r\n\
    \"I am away until Monday. Caf\u{e9} closed.\";\r\n";

/// A script the destination's CHECKSCRIPT refuses; it is put at the
/// source as a file, behind ManageSieve's back, since the source's
/// PUTSCRIPT would refuse it too.
const BROKEN: &str = "require [\"x-no-such-extension\"];\r\nkeep;\r\n";

fn put_file(server: &Dovecot, name: &str, content: &str) {
    let dir = server.mail_root().join("alice/sieve");
    let path = dir.join(format!("{name}.sieve"));
    std::fs::write(&path, content).unwrap();
    let owner = std::fs::metadata(&dir).unwrap();
    use std::os::unix::fs::MetadataExt;
    std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_copy_every_script_keep_the_destinations_and_undo_exactly() {
    let (source, dest) = servers();
    put(
        &source,
        &[("filters", FILTERS), ("vacation", VACATION)],
        Some("filters"),
    )
    .await;
    put_file(&source, "broken", BROKEN);
    let theirs = "require [\"fileinto\"];\r\nif true { fileinto \"Theirs\"; }\r\n";
    put(
        &dest,
        &[("filters", theirs), ("personal", "keep;\r\n")],
        Some("personal"),
    )
    .await;
    let before = scripts(&dest).await;
    let run = Run::new(&source, &dest, "mail, rules, auto_replies");

    let output = run.run();
    assert_eq!(output.code, Some(1), "one script fails: {output:?}");
    let after = scripts(&dest).await;
    let expected: Scripts = [
        ("filters", (theirs, false)),
        ("filters-migrated", (FILTERS, true)),
        ("personal", ("keep;\r\n", false)),
        ("vacation", (VACATION, false)),
    ]
    .into_iter()
    .map(|(n, (c, a))| (n.to_owned(), (c.to_owned(), a)))
    .collect();
    assert_eq!(after, expected);

    // The clash and the refusal are in the report, the refusal with the
    // destination's own reason.
    let report = run.report();
    assert!(
        report.contains("Sieve script filters") && report.contains("copied as filters-migrated"),
        "{report}"
    );
    assert!(report.contains("Sieve script broken"), "{report}");
    assert!(report.contains("x-no-such-extension"), "{report}");
    assert!(report.contains("CHECKSCRIPT"), "{report}");
    let json: serde_json::Value = serde_json::from_str(&report).unwrap();
    let stages = json.to_string();
    assert!(stages.contains("\"rules\""), "{stages}");

    // A second run adds nothing.
    let again = run.run();
    assert_eq!(again.code, Some(1), "{again:?}");
    assert_eq!(scripts(&dest).await, expected);

    // The undo manifest says what to put back.
    let undo_dir = run.dir.path().join("reports/test/undo");
    let file = std::fs::read_dir(&undo_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let undo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
    assert_eq!(undo["sieve"]["active_before"], "personal", "{undo}");
    let mut created: Vec<&str> = undo["sieve"]["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    created.sort();
    assert_eq!(created, ["filters-migrated", "vacation"]);

    // Undo: the destination's scripts exactly as before, active one too.
    run.undo()
        .success()
        .stdout_has("Sieve scripts: 2 deleted")
        .stdout_has("personal active again");
    assert_eq!(scripts(&dest).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_replies_alone_carry_the_vacation_and_undo_removes_it() {
    let (source, dest) = servers();
    let combined = "require [\"fileinto\", \"vacation\"];\r\n\
        if header :contains \"subject\" \"invoice\" { fileinto \"Invoices\"; }\r\n\
        vacation :days 3 :subject \"Away\" :addresses [\"alice@example.test\"] text:\r\n\
        Back on Monday; urgent: call.\r\n.\r\n;\r\n";
    put(&source, &[("main", combined)], Some("main")).await;
    put(&dest, &[("mine", "keep;\r\n")], Some("mine")).await;
    let before = scripts(&dest).await;
    let run = Run::new(&source, &dest, "auto_replies");

    run.run().success();
    let after = scripts(&dest).await;
    let (vacation, active) = &after["mailshift-vacation"];
    assert!(!active, "the destination's own active script stays active");
    assert!(after["mine"].1);
    assert!(vacation.contains("require [\"vacation\"];"), "{vacation}");
    assert!(
        vacation.contains(
            "vacation :days 3 :subject \"Away\" :addresses [\"alice@example.test\"] text:\r\n\
             Back on Monday; urgent: call.\r\n.\r\n;"
        ),
        "{vacation}"
    );
    assert!(!vacation.contains("fileinto"), "{vacation}");
    assert!(run.report().contains("not activated"));

    run.run().success();
    assert_eq!(scripts(&dest).await, after);

    run.undo().success().stdout_has("Sieve scripts: 1 deleted");
    assert_eq!(scripts(&dest).await, before);
}
