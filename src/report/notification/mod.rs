//! The emails sent when an account's migration reaches an outcome (or is
//! undone), and when a batch ends.
//!
//! An account's email is for the mailbox's owner: what moved, from where
//! to where, what to do now and whom to ask, in their language, from the
//! handlebars templates of [`templates`] (no server address, no stage
//! table, no command). A batch's ([`batch`]) is for the administrator: a
//! summary with the HTML report attached. Headers are ASCII (the subject
//! is RFC 2047-encoded where needed), text is UTF-8 in quoted-printable
//! ([`mime`]), so they pass any SMTP server, 8BITMIME or not. Both are
//! built from [`AccountStatus`] values, which hold no secret. [`send`]
//! decides who gets which, and sends them.

pub mod batch;
mod mime;
pub mod send;
pub mod templates;

use chrono::{DateTime, Utc};

use super::html::number;
use crate::plan::Language;
use crate::store::status::AccountStatus;
pub use batch::{batch_body, batch_subject, compose_batch, compose_batch_at};
pub(crate) use mime::header;
use mime::{clean, domain_of, mailbox};
pub use mime::{encode_words, quoted_printable};
pub use templates::{AccountNotice, Templates};

/// The email for `account`'s outcome, from `from` to `to`, in `language`,
/// dated now, with CRLF line ends, ready for
/// [`crate::protocols::smtp::send`]. `contact` is whom the owner may ask.
pub fn compose(
    from: &str,
    to: &[String],
    account: &AccountStatus,
    language: Language,
    contact: Option<&str>,
    templates: &Templates,
) -> Result<Vec<u8>, handlebars::RenderError> {
    let now = Utc::now();
    let message_id = format!(
        "<{}.{:016x}.{}@{}>",
        now.timestamp_millis(),
        rand::random::<u64>(),
        clean(&account.migration_id),
        domain_of(from)
    );
    let (subject, body) = templates.account(language, &notice(account, contact))?;
    Ok(compose_at(
        from,
        to,
        account,
        (&subject, &body),
        now,
        &message_id,
    ))
}

/// What an account's template is given.
pub fn notice(account: &AccountStatus, contact: Option<&str>) -> AccountNotice {
    let state = account.state.as_str();
    let mut moved = std::collections::BTreeMap::new();
    let mut failed = 0;
    for stage in &account.stages {
        failed += stage.failed;
        // A stage done holds what the source had, less what filters left
        // out and what failed; `copied` counts only this run's copies.
        let n = if stage.state == "done" {
            stage.found.saturating_sub(stage.skipped + stage.failed)
        } else {
            stage.copied + stage.present
        };
        if n > 0 {
            moved.insert(clean(&stage.kind), number(n));
        }
    }
    AccountNotice {
        outcome: state.to_owned(),
        completed: matches!(state, "completed" | "completed_with_errors"),
        with_errors: state == "completed_with_errors",
        failed: state == "failed",
        undone: state == "undone",
        source: clean(&account.source),
        destination: clean(&account.destination),
        migration_id: clean(&account.migration_id),
        moved,
        not_copied: (failed > 0).then(|| number(failed)),
        contact: contact.map(clean),
    }
}

/// [`compose`] with the subject and body rendered, the date and the
/// Message-ID given.
pub fn compose_at(
    from: &str,
    to: &[String],
    account: &AccountStatus,
    (subject, body): (&str, &str),
    date: DateTime<Utc>,
    message_id: &str,
) -> Vec<u8> {
    let mut head = String::new();
    header(&mut head, "Date", &date.to_rfc2822());
    header(&mut head, "Message-ID", message_id);
    header(&mut head, "From", &mailbox(from));
    let to: Vec<String> = to.iter().map(|t| mailbox(t)).collect();
    header(&mut head, "To", &to.join(", "));
    header(&mut head, "Subject", &encode_words(&clean(subject)));
    header(&mut head, "MIME-Version", "1.0");
    header(&mut head, "Content-Type", "text/plain; charset=utf-8");
    header(&mut head, "Content-Transfer-Encoding", "quoted-printable");
    // RFC 3834: no vacation replies or bounces loops to an automated mail.
    header(&mut head, "Auto-Submitted", "auto-generated");
    header(
        &mut head,
        "X-Mailshift-Migration-ID",
        &clean(&account.migration_id),
    );
    // For the administrator's filters and scripts: the outcome, untranslated.
    header(&mut head, "X-Mailshift-Outcome", &clean(&account.state));
    head.push_str("\r\n");
    let mut message = head.into_bytes();
    message.extend(quoted_printable(body).into_bytes());
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::notification::mime::tests::decode_qp;
    use crate::report::tests::sample;

    fn bob() -> AccountStatus {
        let mut account = sample().accounts[1].clone();
        account.destination = "bob@new.example".into();
        account
    }

    fn compose_bob(account: &AccountStatus, language: Language) -> String {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 3, 14, 10, 0, 0).unwrap();
        let templates = Templates::load(None).unwrap();
        let (subject, body) = templates
            .account(language, &notice(account, Some("it@ops.example")))
            .unwrap();
        let bytes = compose_at(
            "mailshift <noreply@ops.example>",
            &["bob@old.example".into()],
            account,
            (&subject, &body),
            at,
            "<1.2@ops.example>",
        );
        String::from_utf8(bytes).expect("the message is ASCII")
    }

    #[test]
    fn notification_headers() {
        let message = compose_bob(&bob(), Language::En);
        assert!(message.is_ascii());
        let (head, _) = message.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("Date: Fri, 14 Mar 2025 10:00:00 +0000\r\n"),
            "{head}"
        );
        assert!(head.contains("Message-ID: <1.2@ops.example>\r\n"));
        assert!(head.contains("From: mailshift <noreply@ops.example>\r\n"));
        assert!(head.contains("To: bob@old.example\r\n"));
        assert!(
            head.contains("Subject: Your mailbox has moved: bob@new.example\r\n"),
            "{head}"
        );
        assert!(head.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(
            head.contains("X-Mailshift-Migration-ID: M4QW-8ZTX-3HJN\r\n"),
            "{head}"
        );
        assert!(
            head.ends_with("X-Mailshift-Outcome: completed_with_errors"),
            "{head}"
        );
        for line in head.split("\r\n") {
            assert!(line.len() <= 78, "{line}");
        }
    }

    /// Regression: the end user's email showed `host:port`, stage tables
    /// and commands they cannot run.
    #[test]
    fn the_end_users_email_has_no_server_table_or_command() {
        let mut account = bob();
        account.source_server = Some("127.0.0.1:15410".into());
        account.destination_server = Some("imap.new.example:993".into());
        for language in [Language::En, Language::Es] {
            let message = compose_bob(&account, language);
            let (_, body) = message.split_once("\r\n\r\n").unwrap();
            for line in body.split("\r\n") {
                assert!(line.len() <= 76, "{line}");
            }
            let body = decode_qp(body);
            for needle in ["127.0.0.1", "15410", ":993", "mailshift ", "found ", "UID"] {
                assert!(!body.contains(needle), "{needle:?} in {body}");
            }
            assert!(body.contains("bob@old.example"), "{body}");
            assert!(body.contains("bob@new.example"), "{body}");
            assert!(body.contains("M4QW-8ZTX-3HJN"), "{body}");
            assert!(body.contains("it@ops.example"), "{body}");
        }
        let body = decode_qp(
            compose_bob(&account, Language::Es)
                .split_once("\r\n\r\n")
                .unwrap()
                .1,
        );
        assert!(body.starts_with("Hola:\n"), "{body}");
        assert!(body.contains("305 mensajes"), "{body}");
    }

    #[test]
    fn header_injection_is_neutralised() {
        let mut account = bob();
        account.source = "x@y\r\nBcc: victim@example".into();
        account.destination = "z@w\r\nBcc: victim@example".into();
        let templates = Templates::load(None).unwrap();
        let message = String::from_utf8(
            compose(
                "a@b\r\nBcc: other@example",
                &["c@d".into()],
                &account,
                Language::En,
                None,
                &templates,
            )
            .unwrap(),
        )
        .unwrap();
        let (head, _) = message.split_once("\r\n\r\n").unwrap();
        assert!(!head.split("\r\n").any(|l| l.starts_with("Bcc")), "{head}");
    }

    #[test]
    fn message_id_uses_the_sender_domain() {
        let templates = Templates::load(None).unwrap();
        let message = String::from_utf8(
            compose(
                "noreply@ops.example",
                &["a@b".into()],
                &bob(),
                Language::En,
                None,
                &templates,
            )
            .unwrap(),
        )
        .unwrap();
        assert!(message.contains(".M4QW-8ZTX-3HJN@ops.example>\r\n"));
    }
}
