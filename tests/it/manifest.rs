//! Manifests through the library: every format, every class of error,
//! secrets, garbage, and the schema staying in step with the types.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailshift::manifest::{self, Diagnostics, Format, schema};
use mailshift::plan::{self, Checked, Credential, EndpointKind, StageKind};
use mailshift::protocols::tls::TlsMode;
use proptest::prelude::*;

/// A path below the package root.
fn root(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Compares `actual` with the checked-in `tests/golden/NAME`; with
/// `MAILSHIFT_BLESS=1`, rewrites the file instead.
#[track_caller]
fn golden(name: &str, actual: &str) {
    let path = root("tests/golden").join(name);
    if std::env::var_os("MAILSHIFT_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with MAILSHIFT_BLESS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs (run with MAILSHIFT_BLESS=1 to accept)",
        path.display()
    );
}

/// Writes `files` (name, content) into a fresh directory.
fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// Loads and checks a file; a file that cannot be read at all gives its
/// diagnostics as `Err`.
fn check(path: &Path) -> Result<Checked, Diagnostics> {
    manifest::load(path).map(|m| plan::check(&m))
}

#[track_caller]
fn valid(path: &Path) -> Checked {
    let checked = check(path).unwrap_or_else(|d| panic!("{} cannot be read:\n{d}", path.display()));
    assert!(
        checked.is_valid(),
        "{} is invalid:\n{}",
        path.display(),
        checked.diagnostics
    );
    checked
}

/// The text every problem of `path` prints.
fn problems(path: &Path) -> String {
    match check(path) {
        Ok(c) => c.diagnostics.to_string(),
        Err(d) => d.to_string(),
    }
}

fn yaml(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = dir_with(&[("m.yaml", text.as_bytes())]);
    let path = dir.path().join("m.yaml");
    (dir, path)
}

const SERVERS: &str = "defaults:
  source: {host: imap.old.example.test}
  destination: {host: imap.new.example.test}
";

#[test]
fn schema_file_matches_the_rust_types() {
    let path = root("schemas/manifest.schema.json");
    let generated = schema::generate_text();
    if std::env::var_os("MAILSHIFT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap();
    assert!(
        checked_in == generated,
        "schemas/manifest.schema.json is out of date; run `MAILSHIFT_BLESS=1 cargo test --test it manifest` and commit it"
    );
    assert_eq!(
        schema::SCHEMA,
        checked_in,
        "rebuild: the embedded schema is stale"
    );
}

#[test]
fn every_example_is_valid() {
    let batch = valid(&root("examples/batch.yaml"));
    assert_eq!(batch.plan.batch, "demo");
    assert_eq!(batch.plan.accounts.len(), 2);

    let users = valid(&root("examples/users.yaml"));
    assert_eq!(users.plan.accounts.len(), 3);
    // The same CSV given directly takes users.yaml as its defaults.
    let direct = valid(&root("examples/users.csv"));
    assert_eq!(direct.plan.batch, "users-demo");
    assert_eq!(direct.plan.accounts.len(), 3);

    let imapsync = valid(&root("examples/imapsync.txt"));
    assert_eq!(imapsync.plan.accounts.len(), 2);
    let omm = valid(&root("examples/omm.csv"));
    assert_eq!(omm.plan.accounts.len(), 2);

    for checked in [&batch, &users, &imapsync, &omm] {
        let alice = &checked.plan.accounts[0];
        assert_eq!(alice.source.email, "alice@example.test");
        let server = alice.source.server.as_ref().unwrap();
        assert_eq!(
            (server.host.as_str(), server.port, server.tls),
            ("127.0.0.1", 10143, TlsMode::None)
        );
        let server = alice.destination.server.as_ref().unwrap();
        assert_eq!((server.host.as_str(), server.port), ("127.0.0.1", 20143));
        assert_eq!(alice.stages, [StageKind::Mail]);
    }
}

#[test]
fn formats_are_told_apart_by_content() {
    let formats = [
        ("examples/batch.yaml", Format::Yaml),
        ("examples/imapsync.txt", Format::Imapsync),
        ("examples/omm.csv", Format::Omm),
        ("examples/users.csv", Format::Csv),
    ];
    for (path, format) in formats {
        let text = std::fs::read_to_string(root(path)).unwrap();
        assert_eq!(manifest::detect(Path::new("x"), &text), format, "{path}");
    }
}

#[test]
fn broken_manifest_reports_every_error_at_once() {
    golden(
        "broken.txt",
        &(problems(Path::new("tests/golden/broken.yaml")) + "\n"),
    );
}

#[test]
fn broken_csv_reports_rows_and_columns() {
    golden(
        "broken-rows.txt",
        &(problems(Path::new("tests/golden/broken-rows.csv")) + "\n"),
    );
}

#[test]
fn unknown_fields_and_options_suggest_the_right_name() {
    let (_dir, path) = yaml(&format!(
        "{SERVERS}acounts: []\naccounts:\n  - source: {{email: a@example.test, password: x, pasword_env: Y}}\n    destination: {{email: a@example.test, password: x}}\n    options: [mail, calender]\n"
    ));
    let text = problems(&path);
    assert!(
        text.contains(
            "m.yaml:4:1: error: acounts: unknown field `acounts`; did you mean `accounts`?"
        ),
        "{text}"
    );
    assert!(
        text.contains("unknown field `pasword_env`; did you mean `password_env`?"),
        "{text}"
    );
    assert!(
        text.contains("accounts[0].options[1]: `calender` is not one of: mail, calendars"),
        "{text}"
    );
    assert!(text.contains("did you mean `calendars`?"), "{text}");
}

#[test]
fn yaml_1_1_booleans_stay_strings() {
    let (_dir, path) = yaml(&format!(
        "{SERVERS}accounts:\n  - source: {{email: yes@example.test, user: yes, password: no}}\n    destination: {{email: no@example.test, user: NO, password: off}}\n    mail: {{include: [NO, on, Off]}}\n"
    ));
    let checked = valid(&path);
    let account = &checked.plan.accounts[0];
    assert_eq!(account.source.user, "yes");
    assert_eq!(account.destination.user, "NO");
    assert!(matches!(&account.source.credential, Credential::Password(p) if p == "no"));
    assert!(matches!(&account.destination.credential, Credential::Password(p) if p == "off"));
    assert_eq!(account.mail.include, ["NO", "on", "Off"]);
}

#[test]
fn a_number_where_text_belongs_asks_for_quotes() {
    let (_dir, path) = yaml(&format!(
        "{SERVERS}accounts:\n  - source: {{email: a@example.test, user: 12345, password: x}}\n    destination: {{email: a@example.test, password: x}}\n"
    ));
    let text = problems(&path);
    assert!(
        text.contains("user must be text, not a number; put it in quotes: \"12345\""),
        "{text}"
    );
}

#[test]
fn defaults_merge_field_by_field() {
    let (_dir, path) = yaml(
        "defaults:
  source: {host: imap.old.example.test, tls: starttls, password_env: HOME}
  destination: {host: imap.new.example.test, password_env: HOME}
  options: [mail]
  mail: {exclude: [Trash], since: 2020-01-01}
accounts:
  - source: {email: a@example.test, port: 1143}
    destination: {email: a@example.test}
    mail: {exclude: [Spam]}
  - source: {email: b@example.test, password: own}
    destination: {email: b@example.test, kind: pop3}
  - source: {kind: pst, path: m.yaml}
    destination: {email: c@example.test}
",
    );
    let checked = check(&path).unwrap();
    let text = checked.diagnostics.to_string();
    let a = &checked.plan.accounts[0];
    let server = a.source.server.as_ref().unwrap();
    assert_eq!(
        (server.host.as_str(), server.port, server.tls),
        ("imap.old.example.test", 1143, TlsMode::StartTls)
    );
    assert_eq!(a.destination.server.as_ref().unwrap().port, 993);
    assert!(matches!(&a.source.credential, Credential::PasswordEnv(v) if v == "HOME"));
    assert_eq!(a.mail.exclude, ["Spam"]);
    assert_eq!(a.mail.since.unwrap().to_string(), "2020-01-01");
    // Credentials come as a group: an own password replaces password_env.
    assert!(text.contains("POP3 can only be a source"), "{text}");
    // A PST source does not inherit the IMAP host of the defaults.
    let c = checked
        .plan
        .accounts
        .iter()
        .find(|a| a.destination.email == "c@example.test")
        .unwrap();
    assert_eq!(c.source.kind, EndpointKind::Pst);
    assert!(c.source.server.is_none());
    assert_eq!(c.source.email, "c@example.test");
    assert_eq!(checked.rejected.len(), 1);
}

#[test]
fn ports_default_from_kind_and_tls() {
    let (_dir, path) = yaml(
        "accounts:
  - source: {host: a.example.test, email: a@example.test, password: x}
    destination: {host: b.example.test, email: a@example.test, password: x, tls: starttls}
  - source: {kind: pop3, host: a.example.test, email: b@example.test, password: x}
    destination: {host: b.example.test, email: b@example.test, password: x}
  - source: {kind: pop3, tls: none, host: a.example.test, email: c@example.test, password: x}
    destination: {host: b.example.test, email: c@example.test, password: x}
",
    );
    let checked = valid(&path);
    let ports: Vec<(u16, u16)> = checked
        .plan
        .accounts
        .iter()
        .map(|a| {
            (
                a.source.server.as_ref().unwrap().port,
                a.destination.server.as_ref().unwrap().port,
            )
        })
        .collect();
    assert_eq!(ports, [(993, 143), (995, 993), (110, 993)]);
}

#[test]
fn autodetect_endpoints_wait_for_detection() {
    let (_dir, path) = yaml(
        "accounts:
  - source: {kind: autodetect, email: a@example.test, password: x}
    destination: {host: b.example.test, email: a@example.test, password: x}
  - source: {kind: autodetect, host: a.example.test, email: b@example.test, password: x}
    destination: {host: b.example.test, email: b@example.test, password: x}
  - source: {kind: imap, email: c@example.test, password: x}
    destination: {host: b.example.test, email: c@example.test, password: x}
",
    );
    let checked = check(&path).unwrap();
    assert!(!checked.diagnostics.has_errors(), "{}", checked.diagnostics);
    assert_eq!(checked.plan.accounts.len(), 3);
    // An IMAP endpoint without a host is autodetected too, and says so.
    assert!(checked.plan.accounts[2].source.server.is_none());
    let said = checked.diagnostics.to_string();
    assert!(
        said.contains("no source host: it will be found from the address"),
        "{said}"
    );
    // Without a host the server is found at run time; with one, it is used.
    assert!(checked.plan.accounts[0].source.server.is_none());
    let given = checked.plan.accounts[1].source.server.as_ref().unwrap();
    assert_eq!(given.host, "a.example.test");
    assert_eq!(checked.plan.accounts[1].source.kind, EndpointKind::Imap);
}

#[test]
fn options_must_fit_both_ends() {
    let (dir, path) = yaml(
        "accounts:
  - source: {kind: groupware, host: a.example.test, email: a@example.test, password: x, dav_url: 'https://dav.old.example.test/'}
    destination: {kind: groupware, host: b.example.test, email: a@example.test, password: x, dav_url: 'https://dav.example.test/'}
    options: [mail, contacts, calendars, tasks, contact_groups]
  - source: {kind: pst, path: alice.pst}
    destination: {kind: groupware, host: b.example.test, email: b@example.test, password: x}
    options: [rules, contacts, auto_replies]
  - source: {host: a.example.test, email: c@example.test, password: x}
    destination: {host: b.example.test, email: c@example.test, password: x}
    options: [mail, auto_replies]
",
    );
    std::fs::write(dir.path().join("alice.pst"), b"!BDN").unwrap();
    let checked = check(&path).unwrap();
    let text = checked.diagnostics.to_string();
    let first = &checked.plan.accounts[0];
    assert_eq!(
        first.stages,
        [
            StageKind::Mail,
            StageKind::Contacts,
            StageKind::ContactGroups,
            StageKind::Calendars,
            StageKind::Tasks
        ]
    );
    assert_eq!(first.destination.sieve.as_ref().unwrap().port, 4190);
    assert!(
        text.contains("accounts[1].options[0]: the source is a PST file, which holds mail, contacts, calendars and tasks; it cannot provide rules"),
        "{text}"
    );
    assert!(
        text.contains("accounts[1].options[2]: the source is a PST file"),
        "{text}"
    );
    // A PST's contacts are imported.
    assert!(!text.contains("accounts[1].options[1]"), "{text}");
    assert!(
        text.contains("can only provide mail (a POP/IMAP source migrates mail only)"),
        "{text}"
    );
    assert_eq!(checked.rejected.len(), 2);
}

#[test]
fn secrets_resolve_from_env_and_files() {
    let dir = dir_with(&[("pw.txt", b"from-file\nsecond line\n")]);
    let (_d, path) = yaml(&format!(
        "accounts:
  - source: {{host: a.example.test, email: a@example.test, password_file: '{}'}}
    destination: {{host: b.example.test, email: a@example.test, password_env: HOME}}
  - source: {{host: a.example.test, email: b@example.test, oauth2: {{token_command: 'echo tok'}}}}
    destination: {{host: b.example.test, email: b@example.test, oauth2: {{token_env: HOME}}}}
",
        dir.path().join("pw.txt").display()
    ));
    let checked = valid(&path);
    let a = &checked.plan.accounts[0];
    assert_eq!(
        a.source.credential.resolve().unwrap().unwrap().expose(),
        "from-file"
    );
    assert_eq!(
        a.destination
            .credential
            .resolve()
            .unwrap()
            .unwrap()
            .expose(),
        std::env::var("HOME").unwrap()
    );
    let b = &checked.plan.accounts[1];
    assert_eq!(
        b.source.credential.resolve().unwrap().unwrap().expose(),
        "tok"
    );
    assert_eq!(
        format!("{:?}", a.source.credential.resolve().unwrap()),
        "Some(<redacted>)"
    );
}

#[test]
fn secrets_never_appear_in_errors_or_output() {
    const SECRET: &str = "S3cr3t-Pa55w0rd-Value";
    let cases: Vec<(&str, String)> = vec![
        (
            "m.yaml",
            format!(
                "{SERVERS}accounts:
  - source: {{email: a@example.test, password: {SECRET}, pasword: {SECRET}}}
    destination: {{email: bad-address, password: {SECRET}, password_env: HOME}}
    options: [mail, contacts]
  - source: {{email: b@example.test, password: [{SECRET}]}}
    destination: {{email: b@example.test, password: {{x: {SECRET}}}}}
  - source: {{email: c@example.test, oauth2: {{token_command: 1, token_env: HOME}}}}
    destination: {{email: c@example.test, password: 9876543210}}
  - source: {{email: d@example.test, oauth2: {{service: microsoft, tenant: t, client_id: c, client_secret: {SECRET}}}}}
    destination: {{email: d@example.test, oauth2: {{service: google, key_file: sa.json, private_key: {SECRET}, access_token: {SECRET}}}}}
"
            ),
        ),
        (
            "syntax.yaml",
            format!("accounts:\n  - source: {{password: \"{SECRET}\n    bad: [\n"),
        ),
        ("tab.yaml", format!("accounts:\n\t- password: {SECRET}\n")),
        (
            "rows.csv",
            format!(
                "source_email,source_password,destination_email,destination_password,source_port\nnot-an-email,{SECRET},x@example.test,{SECRET},0\n"
            ),
        ),
        (
            "service.csv",
            format!(
                "source_email,source_oauth2_service,source_oauth2_tenant,source_oauth2_client_id,source_oauth2_client_secret,destination_email,destination_oauth2_service,destination_oauth2_key_file,destination_oauth2_token\na@example.test,microsoft,t,c,{SECRET},a@example.test,google,sa.json,{SECRET}\n"
            ),
        ),
        (
            "omm.csv",
            format!(
                "Source Type;Source url;Source Login;Source Password;Dest Type;Dest Url;Dest Mail;Dest Password\nIMAPS;bad host;a@example.test;{SECRET};POP;;a@example.test;{SECRET}\n"
            ),
        ),
        (
            "sync.txt",
            format!(
                "a.example.test;a@example.test;{SECRET};a.example.test;a@example.test;{SECRET};--bogus {SECRET}\n"
            ),
        ),
    ];
    for (name, text) in cases {
        let dir = dir_with(&[(name, text.as_bytes())]);
        let path = dir.path().join(name);
        let mut shown = String::new();
        match manifest::load(&path) {
            Err(d) => {
                shown += &d.to_string();
                shown += &serde_json::to_string(&d).unwrap();
            }
            Ok(m) => {
                shown += &format!("{m:?}");
                let checked = plan::check(&m);
                shown += &checked.diagnostics.to_string();
                shown += &serde_json::to_string(&checked).unwrap();
                shown += &format!("{checked:?}");
            }
        }
        assert!(!shown.contains(SECRET), "{name} shows the secret:\n{shown}");
        assert!(
            !shown.contains("9876543210"),
            "{name} shows the secret:\n{shown}"
        );
        assert!(!shown.is_empty());
    }
}

#[test]
fn missing_secrets_are_errors() {
    let (_dir, path) = yaml(&format!(
        "{SERVERS}accounts:
  - source: {{email: a@example.test, password_env: MAILSHIFT_TEST_SURELY_UNSET}}
    destination: {{email: a@example.test, password_file: nowhere/pw.txt}}
  - source: {{email: b@example.test}}
    destination: {{email: b@example.test, password: x, password_file: pw.txt}}
"
    ));
    let text = problems(&path);
    assert!(text.contains("accounts[0].source.password_env: environment variable MAILSHIFT_TEST_SURELY_UNSET is not set"), "{text}");
    assert!(text.contains("nowhere/pw.txt does not exist"), "{text}");
    assert!(text.contains("the source has no credentials"), "{text}");
    assert!(
        text.contains("give only one of password, password_env, password_file, oauth2 and admin"),
        "{text}"
    );
}

#[test]
fn same_destination_twice_and_source_equal_to_destination() {
    let (_dir, path) = yaml(
        "accounts:
  - source: {host: a.example.test, email: a@example.test, password: x}
    destination: {host: B.example.test, email: Shared@example.test, password: x}
  - source: {host: a.example.test, email: b@example.test, password: x}
    destination: {host: b.example.test, email: shared@example.test, password: x}
  - source: {host: a.example.test, email: c@example.test, password: x}
    destination: {host: A.example.test, email: c@example.test, password: y}
",
    );
    let text = problems(&path);
    assert!(
        text.contains("m.yaml:5:48: error: accounts[1].destination.email: shared@example.test on b.example.test is already the destination of the account at"),
        "{text}"
    );
    assert!(
        text.contains("accounts[2].destination: the destination is the same mailbox as the source"),
        "{text}"
    );
}

#[test]
fn batch_level_checks() {
    let (_dir, path) = yaml(&format!(
        "batch: ../escape\nnotify: [ok@example.test, nope]\nundo_window_hours: -1\nlimits: {{concurrent_accounts: 0, bytes_per_second: 10MB}}\n{SERVERS}accounts: []\n"
    ));
    let text = problems(&path);
    assert!(
        text.contains("m.yaml:1:8: error: batch: a batch name cannot start with a dot"),
        "{text}"
    );
    assert!(
        text.contains("notify[1]: `nope` is not an email address"),
        "{text}"
    );
    assert!(
        text.contains("undo_window_hours: -1 is too small"),
        "{text}"
    );
    assert!(
        text.contains("limits.concurrent_accounts: 0 is too small: the least allowed is 1"),
        "{text}"
    );
}

#[test]
fn accounts_csv_is_relative_to_the_yaml_and_merged_over_defaults() {
    let dir = dir_with(&[
        ("batch/m.yaml", format!("{SERVERS}accounts_csv: ../data/users.csv\n").as_bytes()),
        (
            "data/users.csv",
            b"\xEF\xBB\xBFSource Email;Source Password;destination-email;destination_password;options;mail_map\r\n\r\na@example.test;\"p;w\";a@example.test;y;mail;Sent=Sent Items|Old=Archive/Old\r\n",
        ),
    ]);
    let checked = valid(&dir.path().join("batch/m.yaml"));
    let a = &checked.plan.accounts[0];
    assert!(matches!(&a.source.credential, Credential::Password(p) if p == "p;w"));
    assert_eq!(
        a.source.server.as_ref().unwrap().host,
        "imap.old.example.test"
    );
    assert_eq!(
        a.mail.map,
        [
            ("Old".into(), "Archive/Old".into()),
            ("Sent".into(), "Sent Items".into())
        ]
    );
    assert!(a.origin.ends_with("users.csv: row 3"), "{}", a.origin);

    let dir = dir_with(&[("m.yaml", b"accounts_csv: gone.csv\n")]);
    let text = problems(&dir.path().join("m.yaml"));
    assert!(
        text.contains("m.yaml:1:15: error: accounts_csv: accounts CSV"),
        "{text}"
    );
    assert!(
        text.contains("gone.csv: cannot read this file: no such file"),
        "{text}"
    );
}

#[test]
fn csv_quirks_are_tolerated() {
    let dir = dir_with(&[(
        "u.csv",
        b"\xEF\xBB\xBF\"source_host\",source_email,source_password,destination_host,destination_email,destination_password\r\n\r\n# a comment\r\n\"a.example.test\",a@example.test,\"x,\"\"y\"\"\",b.example.test,a@example.test,z\r\n,,,,,\r\na.example.test,b@example.test,\"multi\nline\",b.example.test,b@example.test,z\r\n",
    )]);
    let checked = valid(&dir.path().join("u.csv"));
    assert_eq!(checked.plan.accounts.len(), 2);
    assert!(
        matches!(&checked.plan.accounts[0].source.credential, Credential::Password(p) if p == "x,\"y\"")
    );
    assert!(
        checked.plan.accounts[1].origin.ends_with("u.csv: row 6"),
        "{}",
        checked.plan.accounts[1].origin
    );

    // A spreadsheet's "Unicode text" export: UTF-16 with a BOM.
    let text = "source_host\tsource_email\tsource_password\tdestination_host\tdestination_email\tdestination_password\na.example.test\ta@example.test\tx\tb.example.test\ta@example.test\ty\n";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let dir = dir_with(&[("u.csv", &utf16)]);
    assert_eq!(valid(&dir.path().join("u.csv")).plan.accounts.len(), 1);
}

#[test]
fn dialects_are_read_unchanged() {
    let dir = dir_with(&[
        (
            "sync.txt",
            b"# comment\n\nold.example.test;a@example.test;pw1;new.example.test;a@example.test;pw2;\nold.example.test;b@example.test;pw1;new.example.test;b@example.test;pw2;--ssl1 --port2 143 --tls2 --automap\nold.example.test;only-three;fields\n",
        ),
        (
            "project.csv",
            b"Source Type;Source url;Source Login;Source Password;Dest Type;Dest Url;Dest Mail;Dest Password\nPOP;pop3s://pop.old.example.test;a@example.test;pw;Exchange;https://ex.mail.example.test/EWS/Exchange.asmx;a@example.test;pw\nGmial;imap.old.example.test;b@example.test;pw;MX Plan;imap.new.example.test;b@example.test;pw\n",
        ),
    ]);
    let checked = check(&dir.path().join("sync.txt")).unwrap();
    let text = checked.diagnostics.to_string();
    assert_eq!(checked.plan.accounts.len(), 2);
    let b = &checked.plan.accounts[1];
    assert_eq!(b.destination.server.as_ref().unwrap().port, 143);
    assert_eq!(
        b.destination.server.as_ref().unwrap().tls,
        TlsMode::StartTls
    );
    assert!(
        !text.contains("--automap"),
        "mailshift always does what --automap asks: {text}"
    );
    assert!(text.contains("sync.txt: row 5: error: an imapsync line needs host1;user1;password1;host2;user2;password2; but this one has 3 fields"), "{text}");

    let checked = check(&dir.path().join("project.csv")).unwrap();
    let text = checked.diagnostics.to_string();
    let a = &checked.plan.accounts[0];
    assert_eq!(a.source.kind, EndpointKind::Pop3);
    assert_eq!(a.source.server.as_ref().unwrap().port, 995);
    assert_eq!(
        a.destination.server.as_ref().unwrap().host,
        "ex.mail.example.test"
    );
    assert!(
        text.contains(
            "project.csv: row 3, column Source Type: error: `Gmial` is not a server type"
        ),
        "{text}"
    );
}

#[test]
fn garbage_gives_a_clear_error_fast() {
    let mut junk = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..(2 << 20) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let alphabet = b"abc:;,-[]{}&*!|>'\"\n #";
        junk.push(alphabet[(x >> 16) as usize % alphabet.len()]);
    }
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..15 {
        let p = i - 1;
        bomb += &format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        );
    }
    let deep_block: String = (0..500).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.yaml", Vec::new(), "this file is empty"),
        ("blank.csv", b" \n\r\n\t".to_vec(), "this file is empty"),
        (
            "binary.yaml",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            "binary file",
        ),
        (
            "latin1.csv",
            b"source_email\ncaf\xe9@example.test\n".to_vec(),
            "not UTF-8 text (line 2",
        ),
        ("junk.yaml", junk.clone(), "not valid YAML"),
        ("junk.csv", junk, ""),
        (
            "deep.yaml",
            "[".repeat(200_000).into_bytes(),
            "not valid YAML",
        ),
        ("deep-block.yaml", deep_block.into_bytes(), "not valid YAML"),
        ("bomb.yaml", bomb.into_bytes(), "not valid YAML"),
        (
            "scalar.yaml",
            b"just a string".to_vec(),
            "must be a mapping of fields",
        ),
        (
            "list.yaml",
            b"- a\n- b\n".to_vec(),
            "must be a mapping of fields",
        ),
        (
            "two-docs.yaml",
            b"batch: a\n---\nbatch: b\n".to_vec(),
            "not valid YAML",
        ),
    ];
    for (name, content, expected) in cases {
        let dir = dir_with(&[(name, &content)]);
        let started = Instant::now();
        let text = problems(&dir.path().join(name));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            started.elapsed()
        );
        assert!(text.contains("error"), "{name}: {text}");
        assert!(
            text.contains(expected),
            "{name}: expected {expected:?} in:\n{text}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(50 << 20)
        .unwrap();
    assert!(
        problems(&big)
            .contains("this file is too large (52.4 MB); a manifest may be at most 32 MB")
    );
    assert!(
        problems(&dir.path().join("missing.yaml")).contains("cannot read this file: no such file")
    );
    assert!(problems(dir.path()).contains("is a directory"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn loaders_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000), ext in "(yaml|csv|txt)") {
        let name = format!("f.{ext}");
        let dir = dir_with(&[(&name, &bytes)]);
        let _ = problems(&dir.path().join(&name));
    }

    #[test]
    fn loaders_never_panic_on_mutated_examples(
        which in 0usize..6,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..12),
    ) {
        let names = ["batch.yaml", "users.yaml", "users.csv", "imapsync.txt", "omm.csv", "../tests/golden/broken.yaml"];
        let mut bytes = std::fs::read(root("examples").join(names[which])).unwrap();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1)).min(bytes.len());
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => {}
            }
        }
        let name = Path::new(names[which]).file_name().unwrap().to_str().unwrap().to_owned();
        let dir = dir_with(&[(&name, &bytes)]);
        let _ = problems(&dir.path().join(&name));
    }
}

#[test]
fn the_reference_documents_every_field_and_column() {
    let doc = std::fs::read_to_string(root("docs/manifest.md")).unwrap();
    for column in manifest::csv::columns() {
        assert!(
            doc.contains(&format!("`{}`", column.name)),
            "docs/manifest.md lacks column `{}`",
            column.name
        );
    }
    let schema = schema::generate();
    let mut names: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for def in schema["$defs"].as_object().unwrap().values() {
        if let Some(properties) = def["properties"].as_object() {
            names.extend(properties.keys().map(String::as_str));
        }
    }
    for name in names {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/manifest.md lacks field `{name}`"
        );
    }
}

#[test]
fn ics_and_vcf_files_are_sources_of_their_own_kinds() {
    let (dir, path) = yaml(
        "defaults:
  destination: {kind: groupware, host: b.example.test, password: x, dav_url: 'https://dav.example.test/'}
accounts:
  - source: {path: team.ics}
    destination: {email: a@example.test}
    options: [calendars, tasks]
  - source: {path: people.VCF}
    destination: {email: b@example.test}
    options: [contacts, contact_groups]
  - source: {path: team.ics}
    destination: {email: c@example.test}
    options: [mail, contacts]
  - source: {kind: vcf, path: people.VCF}
    destination: {email: d@example.test}
    options: [calendars]
  - source: {kind: ics}
    destination: {email: e@example.test}
    options: [calendars]
  - source: {host: a.example.test, email: f@example.test, password: x}
    destination: {kind: ics, path: team.ics}
",
    );
    std::fs::write(dir.path().join("team.ics"), b"BEGIN:VCALENDAR\r\n").unwrap();
    std::fs::write(dir.path().join("people.VCF"), b"BEGIN:VCARD\r\n").unwrap();
    let checked = check(&path).unwrap();
    let text = checked.diagnostics.to_string();
    // The kind comes from the extension; the destination's address is used.
    let kinds: Vec<(EndpointKind, &str)> = checked
        .plan
        .accounts
        .iter()
        .map(|a| (a.source.kind, a.source.email.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (EndpointKind::Ics, "a@example.test"),
            (EndpointKind::Vcf, "b@example.test")
        ]
    );
    assert!(checked.plan.accounts[0].source.server.is_none());
    for expected in [
        "accounts[2].options[0]: the source is an iCalendar (.ics) file, which holds only calendars and tasks; it cannot provide mail",
        "accounts[2].options[1]: the source is an iCalendar (.ics) file, which holds only calendars and tasks; it cannot provide contacts",
        "accounts[3].options[0]: the source is a vCard (.vcf) file, which holds only contacts and contact groups; it cannot provide calendars",
        "accounts[4].source.path: the source is an iCalendar (.ics) file but its path is missing",
        "accounts[5].destination.kind: an iCalendar (.ics) file can only be a source",
    ] {
        assert!(text.contains(expected), "{expected}\nnot in:\n{text}");
    }
    assert_eq!(checked.rejected.len(), 4);
}

#[test]
fn several_files_may_go_to_one_mailbox_but_not_the_same_file_twice() {
    let (dir, path) = yaml(
        "defaults:
  destination: {kind: groupware, host: b.example.test, email: a@example.test, password: x, dav_url: 'https://dav.example.test/'}
accounts:
  - source: {path: team.ics}
    options: [calendars]
  - source: {path: people.vcf}
    options: [contacts]
  - source: {path: team.ics}
    options: [tasks]
",
    );
    std::fs::write(dir.path().join("team.ics"), b"BEGIN:VCALENDAR\r\n").unwrap();
    std::fs::write(dir.path().join("people.vcf"), b"BEGIN:VCARD\r\n").unwrap();
    let checked = check(&path).unwrap();
    let text = checked.diagnostics.to_string();
    assert_eq!(checked.plan.accounts.len(), 2, "{text}");
    assert!(
        text.contains("accounts[2]: ") && text.contains("team.ics is already imported into a@example.test on b.example.test by the account at"),
        "{text}"
    );
}

#[test]
fn two_webdav_homes_behind_one_mail_server_are_two_accounts() {
    let (_dir, path) = yaml(
        "defaults:
  source: {kind: groupware, host: mail.example.test, user: alice, email: alice@example.test, password: x}
  destination: {kind: groupware, host: mail.example.test, user: alice, email: alice@new.example.test, password: x}
accounts:
  - source: {dav_url: 'https://old-dav.example.test/'}
    destination: {dav_url: 'https://new-dav.example.test/'}
    options: [calendars, contacts]
  - source: {dav_url: 'https://old-dav.example.test/'}
    destination: {dav_url: 'https://new-dav.example.test/', email: bob@new.example.test}
    options: [mail, calendars]
",
    );
    let checked = check(&path).unwrap();
    let text = checked.diagnostics.to_string();
    assert_eq!(checked.plan.accounts.len(), 1, "{text}");
    assert!(
        text.contains("accounts[1].destination: the destination is the same mailbox as the source"),
        "{text}"
    );
}
