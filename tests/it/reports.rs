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
         notify: [it-team@example.test]\n\
         defaults: {{notify: [owner@example.test]}}",
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

    // The account's own addresses were told, through the authenticated
    // server; then the batch's got the summary with the report attached.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0].rcpt_to, ["owner@example.test"]);
    assert_eq!(messages[0].login.as_deref(), Some("notifier"));
    let text = String::from_utf8_lossy(&messages[0].data);
    assert!(text.contains(&id) && text.contains("completed"), "{text}");
    assert!(!text.contains("multipart"), "{text}");

    assert_eq!(messages[1].rcpt_to, ["it-team@example.test"]);
    assert_eq!(messages[1].login.as_deref(), Some("notifier"));
    let batch_id = json["batch_id"].as_str().unwrap();
    let summary = parse_mime(&messages[1].data);
    assert_eq!(summary["defects"], serde_json::json!([]), "{summary}");
    assert_eq!(
        summary["subject"],
        format!("[mailshift] batch test: 1 completed, 0 failed ({batch_id})")
    );
    assert_eq!(summary["to"], "it-team@example.test");
    assert_eq!(summary["content_type"], "multipart/mixed");
    let parts = summary["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{summary}");
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(parts[0]["charset"], "utf-8");
    assert_eq!(parts[0]["filename"], serde_json::Value::Null);
    let body = parts[0]["content"].as_str().unwrap();
    assert!(
        body.starts_with(&format!("Batch test ({batch_id}) ended: completed.\n")),
        "{body}"
    );
    assert!(body.contains("No account failed."), "{body}");
    assert_eq!(parts[1]["content_type"], "text/html");
    assert_eq!(parts[1]["disposition"], "attachment");
    assert_eq!(parts[1]["filename"], "report.html");
    assert_eq!(parts[1]["transfer_encoding"], "base64");
    let attached = parts[1]["content"].as_str().unwrap();
    assert!(attached.contains(&id) && attached.contains("alice@example.test"));
    assert!(attached.starts_with("<!DOCTYPE html>"), "{attached:.200}");

    // Undo tells them again, and rewrites the report.
    mailshift()
        .args(["undo", &id, "--source", "alice@example.test", "--state"])
        .arg(batch.state())
        .arg("--reports")
        .arg(batch.reports())
        .run()
        .success();
    let messages = smtp.messages();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[2].rcpt_to, ["owner@example.test"]);
    assert!(String::from_utf8_lossy(&messages[2].data).contains("undone"));
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

/// Parses a MIME message with Python's `email` package (an independent
/// implementation): its decoded `subject` and `to`, `content_type`,
/// `defects`, and every leaf part with its `content_type`, `charset`,
/// `disposition`, `filename`, `transfer_encoding` and decoded text
/// `content` (`\n` line ends).
fn parse_mime(message: &[u8]) -> serde_json::Value {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let script = r#"
import email, json, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
defects = [str(d) for d in m.defects]
parts = []
for part in m.walk():
    if part.is_multipart():
        defects += [str(d) for d in part.defects]
        continue
    defects += [str(d) for d in part.defects]
    parts.append({
        "content_type": part.get_content_type(), "charset": part.get_content_charset(),
        "disposition": part.get_content_disposition(), "filename": part.get_filename(),
        "transfer_encoding": part.get("content-transfer-encoding"),
        "content": part.get_content().replace("\r\n", "\n"),
    })
print(json.dumps({
    "subject": str(m["subject"]), "to": str(m["to"]),
    "content_type": m.get_content_type(), "defects": defects, "parts": parts,
}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 not found: run scripts/install-deps.sh");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(message)
        .expect("write to python3");
    let out = child.wait_with_output().expect("python3 output");
    assert!(out.status.success(), "python3 could not parse the message");
    serde_json::from_slice(&out.stdout).expect("parser JSON")
}
