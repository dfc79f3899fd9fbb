//! Reports and notifications end to end: `mailshift run` and `undo`
//! against real Dovecot servers and a real SMTP receiver.

use mailshift::protocols::tls::TlsMode;

use crate::cmd::mailshift;
use crate::mail::{Batch, account, assert_success, raw, servers, slashed, slashed_source};
use crate::support::smtp::{SmtpOptions, SmtpReceiver};

#[tokio::test(flavor = "multi_thread")]
async fn a_run_writes_its_reports_and_tells_each_account() {
    let (source, dest) = servers(slashed_source(), slashed());
    source
        .seed_bodies(
            "alice",
            "INBOX",
            &[&raw("Subject: a", "a"), &raw("Subject: b", "b")],
        )
        .await;
    let smtp = SmtpReceiver::start(SmtpOptions {
        tls: TlsMode::StartTls,
        auth: Some(("notifier", "smtp-secret")),
    });
    let extra = format!(
        "smtp: {{host: 127.0.0.1, port: {}, tls: starttls, accept_invalid_certs: true, \
         from: mailshift@example.test, user: notifier, password: smtp-secret}}\n\
         notify: [it-team@example.test]",
        smtp.port()
    );
    let batch = Batch::new(&[account("alice", &source, &dest)], &extra);
    let run = batch.run();
    assert_success(&run);
    for secret in ["smtp-secret", "source-pw", "dest-pw"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} logged"
        );
    }

    // The report, valid against its published schema.
    let dir = batch.reports().join("test");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schemas/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(json["accounts"][0]["state"], "completed");
    assert_eq!(json["accounts"][0]["stages"][0]["copied"], 2);
    let inbox = &json["accounts"][0]["folders"][0];
    assert_eq!(
        (inbox["source"].as_str(), inbox["source_messages"].as_u64()),
        (Some("INBOX"), Some(2))
    );
    assert_eq!(
        inbox["destination_messages"], 2,
        "verified at the destination"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let id = json["accounts"][0]["migration_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(html.contains(&id) && html.contains("alice@example.test"));

    // The account's addresses were told, through the authenticated server.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].rcpt_to, ["it-team@example.test"]);
    assert_eq!(messages[0].login.as_deref(), Some("notifier"));
    let text = String::from_utf8_lossy(&messages[0].data);
    assert!(text.contains(&id) && text.contains("completed"), "{text}");

    // Undo tells them again, and rewrites the report.
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .arg("--reports")
        .arg(batch.reports())
        .run()
        .success();
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2);
    assert!(String::from_utf8_lossy(&messages[1].data).contains("undone"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["accounts"][0]["state"], "undone");

    // No secret anywhere the run left anything.
    for entry in walk(batch.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for secret in ["smtp-secret", "source-pw", "dest-pw"] {
            if entry.extension().is_some_and(|e| e == "yaml") {
                continue; // the manifest itself
            }
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} found in {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
