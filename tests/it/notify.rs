//! Notification emails: composed from a real account status, sent with the
//! project's SMTP client through a real SMTP receiver (aiosmtpd), and read
//! back with an independent MIME parser.

use std::net::TcpListener;

use mailshift::plan::Language;
use mailshift::plan::{Credential, Server, StageKind};
use mailshift::protocols::smtp::{self, SmtpConfig, SmtpError};
use mailshift::protocols::tls::TlsMode;
use mailshift::report::notification::{self, Templates};
use mailshift::store::Store;
use mailshift::store::batches::{AccountKey, AccountState, StageCounts, StageState};
use mailshift::store::status::AccountStatus;

use crate::support::smtp::{SmtpOptions, SmtpReceiver};

const FROM: &str = "mailshift <noreply@ops.example>";

/// An account that finished with two failed messages, read back from a
/// real state database.
async fn finished_account(dir: &std::path::Path) -> AccountStatus {
    let store = Store::open(dir.join("state.db")).unwrap();
    let batch = store.open_batch("notify-test", None).await.unwrap();
    let account = store
        .open_account(
            batch.id,
            AccountKey {
                source_email: "alice@old.example".into(),
                destination_email: "jürgen.ñandú@new.example".into(),
                source_server: Some("imap.old.example:993".into()),
                destination_server: Some("imap.new.example:993".into()),
                undo_window_secs: 48 * 3600,
            },
        )
        .await
        .unwrap();
    store
        .begin_stage(account.id, StageKind::Mail)
        .await
        .unwrap();
    let counts = StageCounts {
        found: 1204,
        copied: 1180,
        present: 22,
        failed: 2,
        bytes: 73_400_320,
        ..StageCounts::default()
    };
    store
        .finish_stage(account.id, StageKind::Mail, StageState::Done, counts)
        .await
        .unwrap();
    for (item, reason) in [
        (
            "INBOX UID 12",
            "destination said: NO [OVERQUOTA] Quota exceeded",
        ),
        (
            "Archiv/Größe UID 77",
            "message larger than the destination's limit",
        ),
    ] {
        store
            .record_item_error(account.id, StageKind::Mail, item.into(), reason.into())
            .await
            .unwrap();
    }
    store
        .set_account_state(account.id, AccountState::CompletedWithErrors, None, None)
        .await
        .unwrap();
    store
        .account_status(&account.migration_id, "alice@old.example")
        .await
        .unwrap()
        .unwrap()
}

fn recipients() -> Vec<String> {
    vec!["admin@ops.example".into(), "alice@old.example".into()]
}

#[tokio::test]
async fn notification_arrives_with_its_headers_body_and_utf8_subject() {
    let dir = tempfile::tempdir().unwrap();
    let account = finished_account(dir.path()).await;
    let receiver = SmtpReceiver::start(SmtpOptions::default());
    let templates = Templates::load(None).unwrap();
    let message = notification::compose(
        FROM,
        &recipients(),
        &account,
        Language::En,
        Some("it@ops.example"),
        &templates,
    )
    .unwrap();
    smtp::send(&receiver.config(FROM), &recipients(), &message)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", receiver.log()));

    let received = receiver.messages();
    assert_eq!(received.len(), 1, "{}", receiver.log());
    let mail = &received[0];
    assert_eq!(mail.mail_from, "noreply@ops.example");
    assert_eq!(mail.rcpt_to, recipients());
    assert_eq!(mail.data, message, "the message arrives byte for byte");

    let parsed = SmtpReceiver::parse(&mail.data);
    let id = &account.migration_id;
    assert_eq!(
        parsed["subject"],
        "Your mailbox has moved: jürgen.ñandú@new.example"
    );
    assert_eq!(parsed["from"], FROM);
    assert_eq!(parsed["to"], "admin@ops.example, alice@old.example");
    assert_eq!(parsed["content_type"], "text/plain");
    assert_eq!(parsed["charset"], "utf-8");
    assert_eq!(parsed["defects"], serde_json::json!([]));
    assert!(parsed["date"].as_str().unwrap().ends_with("+0000"));
    assert!(
        parsed["message_id"]
            .as_str()
            .unwrap()
            .ends_with(&format!(".{id}@ops.example>"))
    );

    let body = parsed["body"].as_str().unwrap();
    assert!(body.starts_with("Hello,\n"), "{body}");
    for expected in [
        "moved from alice@old.example to jürgen.ñandú@new.example.\n".to_owned(),
        "  - 1,202 messages, with their folders\n".into(),
        "2 items could not be copied".into(),
        format!("write to it@ops.example\nand quote this reference: {id}."),
    ] {
        assert!(body.contains(&expected), "missing {expected:?} in\n{body}");
    }
    for unwanted in ["imap.old.example", ":993", "mailshift ", "OVERQUOTA"] {
        assert!(!body.contains(unwanted), "{unwanted:?} in\n{body}");
    }
}

#[tokio::test]
async fn authenticated_submission_over_starttls_and_implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let account = finished_account(dir.path()).await;
    let password = "Zq8-distinctive-SMTP-pass";
    for tls in [TlsMode::StartTls, TlsMode::Implicit] {
        let receiver = SmtpReceiver::start(SmtpOptions {
            tls,
            auth: Some(("mailer", password)),
        });
        let config = receiver.config(FROM);
        assert_eq!(config.server.tls, tls);
        let templates = Templates::load(None).unwrap();
        let message = notification::compose(
            FROM,
            &recipients(),
            &account,
            Language::En,
            None,
            &templates,
        )
        .unwrap();
        smtp::send(&config, &recipients(), &message)
            .await
            .unwrap_or_else(|e| panic!("{tls:?}: {e}\n{}", receiver.log()));
        let received = receiver.messages();
        assert_eq!(received.len(), 1, "{tls:?}: {}", receiver.log());
        assert_eq!(received[0].login.as_deref(), Some("mailer"));
        assert!(
            !String::from_utf8_lossy(&received[0].data).contains(password),
            "the password must never be in a message"
        );
    }
}

#[tokio::test]
async fn wrong_password_is_refused_permanently_without_showing_it() {
    let receiver = SmtpReceiver::start(SmtpOptions {
        tls: TlsMode::StartTls,
        auth: Some(("mailer", "right-password")),
    });
    let config = SmtpConfig {
        credential: Credential::Password("Wrong-Pa55-4711".into()),
        ..receiver.config(FROM)
    };
    let err = smtp::send(&config, &recipients(), b"Subject: x\r\n\r\nx\r\n")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, SmtpError::Rejected { code: 535, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(
        text.contains(&format!("127.0.0.1:{}", receiver.port())),
        "{text}"
    );
    assert!(text.contains("AUTH PLAIN"), "{text}");
    assert!(!text.contains("Wrong-Pa55-4711") && !format!("{err:?}").contains("Wrong-Pa55"));
    assert!(receiver.messages().is_empty());
}

#[tokio::test]
async fn starttls_asked_for_but_not_offered_is_not_sent_in_clear() {
    let receiver = SmtpReceiver::start(SmtpOptions::default());
    let mut config = receiver.config(FROM);
    config.server.tls = TlsMode::StartTls;
    let err = smtp::send(&config, &recipients(), b"Subject: x\r\n\r\nx\r\n")
        .await
        .unwrap_err();
    assert!(matches!(err, SmtpError::NoStartTls { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(receiver.messages().is_empty());
}

#[tokio::test]
async fn refused_recipients_are_named_and_classified() {
    let receiver = SmtpReceiver::start(SmtpOptions::default());
    let config = receiver.config(FROM);
    let message = b"Subject: x\r\n\r\nx\r\n";

    let to = vec!["admin@ops.example".into(), "reject-me@ops.example".into()];
    let err = smtp::send(&config, &to, message).await.unwrap_err();
    assert!(
        matches!(err, SmtpError::Rejected { code: 550, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("RCPT TO <reject-me@ops.example>"),
        "{err}"
    );

    let to = vec!["later@ops.example".into()];
    let err = smtp::send(&config, &to, message).await.unwrap_err();
    assert!(
        matches!(err, SmtpError::Rejected { code: 451, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(receiver.messages().is_empty(), "nothing is sent");
}

#[tokio::test]
async fn data_is_dot_stuffed_and_line_ends_normalised() {
    let receiver = SmtpReceiver::start(SmtpOptions::default());
    let message = b"Subject: dots\n\n.\n..two\n.leading dot\nbare CR\rend";
    smtp::send(&receiver.config(FROM), &recipients(), message)
        .await
        .unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&received[0].1),
        "Subject: dots\r\n\r\n.\r\n..two\r\n.leading dot\r\nbare CR\r\nend\r\n"
    );
}

#[tokio::test]
async fn unreachable_server_is_a_retryable_error_naming_it() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = SmtpConfig {
        server: Server {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::StartTls,
            accept_invalid_certs: false,
        },
        from: FROM.into(),
        user: Some("mailer".into()),
        credential: Credential::Password("Unseen-Pa55".into()),
    };
    let err = smtp::send(&config, &recipients(), b"Subject: x\r\n\r\nx\r\n")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("Unseen-Pa55") && !format!("{err:?}").contains("Unseen-Pa55"));
}

/// Regression: every run emailed every account, Ctrl-C included
/// ("interrupted", even to accounts never started), every incremental pass
/// emailed everyone again, and accounts without their own `notify` emailed
/// the batch's addresses one by one. Counted over a first run that is
/// interrupted, the run that resumes it and two incremental passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_emails_each_outcome_once() {
    use crate::mail::{raw, servers, slashed, slashed_source};
    let (source, dest) = servers(slashed_source(), slashed());
    let bodies: Vec<Vec<u8>> = (0..3000)
        .map(|i| raw(&format!("Subject: m{i}"), &"w".repeat(2500)))
        .collect();
    source.seed_bodies("alice", "INBOX", &bodies).await;
    source
        .seed_bodies("bob", "INBOX", &[&raw("Subject: b", "b")])
        .await;
    let receiver = SmtpReceiver::start(SmtpOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let endpoint = |user: &str, port: u16, password: &str| {
        format!(
            "{{kind: imap, host: 127.0.0.1, port: {port}, tls: none, \
             email: {user}@example.test, user: {user}, password: {password}}}"
        )
    };
    let manifest = |notify_on: &str| {
        format!(
            "batch: counted\n{notify_on}notify: [it-team@example.test]\n\
             smtp: {{host: 127.0.0.1, port: {}, tls: none, from: mailshift@example.test}}\n\
             accounts:\n\
             \x20 - source: {}\n    destination: {}\n    notify: [alice.owner@example.test]\n    language: es\n\
             \x20 - source: {}\n    destination: {}\n",
            receiver.port(),
            endpoint("alice", source.imap_port(), "source-pw"),
            endpoint("alice", dest.imap_port(), "dest-pw"),
            endpoint("bob", source.imap_port(), "source-pw"),
            endpoint("bob", dest.imap_port(), "dest-pw"),
        )
    };
    let path = dir.path().join("counted.yaml");
    std::fs::write(&path, manifest("")).unwrap();
    let state = dir.path().join("state.db");
    let reports = dir.path().join("reports");
    let run = || {
        crate::cmd::mailshift()
            .arg("run")
            .arg(&path)
            .arg("--state")
            .arg(&state)
            .arg("--reports")
            .arg(&reports)
            .run()
    };

    // The first run, interrupted as soon as some mail has arrived.
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_mailshift"))
        .arg("run")
        .arg(&path)
        .arg("--state")
        .arg(&state)
        .arg("--reports")
        .arg(&reports)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("alice"))
            .await
            .unwrap();
        if session.status("INBOX").await.unwrap().messages >= 200 {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "the run never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    first.wait().unwrap();
    assert_eq!(
        receiver.messages().len(),
        0,
        "an interruption is not emailed"
    );

    // The run that resumes it: alice's owner (in Spanish) and the batch
    // summary; bob has no addresses of his own.
    run().success();
    let messages = receiver.messages();
    let recipients: Vec<&[String]> = messages.iter().map(|m| &m.rcpt_to[..]).collect();
    assert_eq!(
        recipients,
        [
            &["alice.owner@example.test".to_owned()][..],
            &["it-team@example.test".to_owned()][..]
        ]
    );
    let alice = SmtpReceiver::parse(&messages[0].data);
    assert_eq!(
        alice["subject"],
        "Su buzón se ha trasladado: alice@example.test"
    );
    let body = alice["body"].as_str().unwrap();
    assert!(body.contains("3,000 mensajes"), "{body}");
    assert!(body.contains("escriba a it-team@example.test"), "{body}");
    assert!(!body.contains("127.0.0.1"), "{body}");

    // Two incremental passes: nothing new, nothing sent.
    run().success();
    run().success();
    assert_eq!(
        receiver.messages().len(),
        2,
        "incremental passes are not emailed"
    );

    // Unless the manifest asks for them.
    std::fs::write(
        &path,
        manifest("notify_on: [completed, incremental_passes]\n"),
    )
    .unwrap();
    run().success();
    assert_eq!(
        receiver.messages().len(),
        4,
        "asked for: one account, one summary"
    );
}

/// The figure an admin asks for: a 30-account batch, each account telling
/// its owner, over a first run cut short by Ctrl-C, the run that resumes
/// it and two incremental passes sends 31 emails: one per owner and the
/// batch summary, all after the run that finishes.
#[tokio::test(flavor = "multi_thread")]
async fn a_30_account_batch_sends_31_emails_over_four_runs() {
    use crate::mail::raw;
    use crate::support::{Dovecot, DovecotOptions};
    let users: Vec<String> = (0..30).map(|i| format!("user{i:02}")).collect();
    let with = |password: &str| -> &'static [(&'static str, &'static str)] {
        let list: Vec<(&'static str, &'static str)> = users
            .iter()
            .map(|u| -> (&'static str, &'static str) {
                (
                    Box::leak(u.clone().into_boxed_str()),
                    Box::leak(password.to_owned().into_boxed_str()),
                )
            })
            .collect();
        Box::leak(list.into_boxed_slice())
    };
    let source = Dovecot::start(DovecotOptions {
        users: with("source-pw"),
        ..DovecotOptions::default()
    });
    let dest = Dovecot::start(DovecotOptions {
        users: with("dest-pw"),
        ..DovecotOptions::default()
    });
    let big: Vec<Vec<u8>> = (0..3000)
        .map(|i| raw(&format!("Subject: m{i}"), &"w".repeat(2500)))
        .collect();
    source.seed_bodies("user00", "INBOX", &big).await;
    for user in &users[1..] {
        source
            .seed_bodies(user, "INBOX", &[&raw("Subject: one", user)])
            .await;
    }
    let receiver = SmtpReceiver::start(SmtpOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = format!(
        "batch: thirty\nnotify: [it-team@example.test]\n\
         smtp: {{host: 127.0.0.1, port: {}, tls: none, from: mailshift@example.test}}\n\
         limits: {{concurrent_accounts: 1}}\n\
         defaults:\n  source: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, password: source-pw}}\n  \
         destination: {{kind: imap, host: 127.0.0.1, port: {}, tls: none, password: dest-pw}}\naccounts:\n",
        receiver.port(),
        source.imap_port(),
        dest.imap_port()
    );
    for user in &users {
        manifest.push_str(&format!(
            "  - source: {{email: {user}@example.test, user: {user}}}\n    \
             destination: {{email: {user}@example.test, user: {user}}}\n    \
             notify: [{user}.owner@example.test]\n"
        ));
    }
    let path = dir.path().join("thirty.yaml");
    std::fs::write(&path, manifest).unwrap();
    let command = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mailshift"));
        c.arg("run")
            .arg(&path)
            .arg("--state")
            .arg(dir.path().join("state.db"))
            .arg("--reports")
            .arg(dir.path().join("reports"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };

    // The first run, interrupted while user00's mail is being copied: the
    // 29 other accounts have not started.
    let mut first = command().spawn().unwrap();
    let started = std::time::Instant::now();
    loop {
        let mut session = mailshift::protocols::imap::Session::connect(&dest.imap_config("user00"))
            .await
            .unwrap();
        if session.status("INBOX").await.unwrap().messages >= 200 {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "the run never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    std::process::Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    first.wait().unwrap();
    let after_interruption = receiver.messages().len();

    let mut counts = vec![after_interruption];
    for _ in 0..3 {
        assert!(command().status().unwrap().success());
        counts.push(receiver.messages().len());
    }
    eprintln!(
        "emails after the interrupted run, the resuming run and two incremental passes: {counts:?}"
    );
    assert_eq!(counts, [0, 31, 31, 31], "{}", receiver.log());
    let mut recipients: Vec<String> = receiver
        .messages()
        .iter()
        .flat_map(|m| m.rcpt_to.clone())
        .collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 31, "one each: {recipients:?}");
}
