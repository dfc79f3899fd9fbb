//! Notification emails: composed from a real account status, sent with the
//! project's SMTP client through a real SMTP receiver (aiosmtpd), and read
//! back with an independent MIME parser.

use std::net::TcpListener;

use mailshift::plan::{Credential, Server, StageKind};
use mailshift::protocols::smtp::{self, SmtpConfig, SmtpError};
use mailshift::protocols::tls::TlsMode;
use mailshift::report::notification::{self, Event};
use mailshift::store::Store;
use mailshift::store::batches::{AccountKey, AccountState, StageCounts, StageState};
use mailshift::store::status::AccountStatus;

use crate::support::smtp::{SmtpOptions, SmtpReceiver};

const FROM: &str = "mailshift <noreply@ops.example>";

/// An account that finished with two failed messages, read back from a
/// real state database.
async fn finished_account(dir: &std::path::Path) -> AccountStatus {
    let store = Store::open(&dir.join("state.db")).unwrap();
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
    let message = notification::compose(FROM, &recipients(), &account, Event::Finished);
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
        format!(
            "[mailshift] alice@old.example → jürgen.ñandú@new.example: \
             completed with errors ({id})"
        )
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
    assert!(
        body.starts_with("The migration ended: completed with errors.\n"),
        "{body}"
    );
    for expected in [
        format!("Migration ID: {id}\n"),
        "Destination:  jürgen.ñandú@new.example (imap.new.example:993)\n".into(),
        "found 1,204, copied 1,180, already there 22, skipped 0, failed 2, 73.4 MB".into(),
        "  - mail: Archiv/Größe UID 77: message larger than the destination's limit\n".into(),
        "  - mail: INBOX UID 12: destination said: NO [OVERQUOTA] Quota exceeded\n".into(),
        format!("mailshift undo {id} --source alice@old.example"),
    ] {
        assert!(body.contains(&expected), "missing {expected:?} in\n{body}");
    }
    let until = account.undo_until.unwrap().format("%Y-%m-%d %H:%M UTC");
    assert!(
        body.contains(&format!("can be undone until {until}")),
        "{body}"
    );
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
        let message = notification::compose(FROM, &recipients(), &account, Event::Finished);
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
