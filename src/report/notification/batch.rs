//! The batch summary sent to the batch's `notify` addresses: totals by
//! state, the accounts that need attention, and the HTML report attached.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::formats::mime::{
    base64_lines, clean, domain_of, encode_words, header, mailbox, quoted_printable,
};
use crate::report::html::{bytes, duration, number};
use crate::report::{BatchReport, state_label};
use crate::store::status::AccountStatus;
use crate::vocabulary::AccountState;

/// Accounts listed in a batch summary; the attached report has them all.
const MAX_BATCH_ACCOUNTS: usize = 50;
/// Item errors listed per account in a batch summary.
const MAX_BATCH_ERRORS: usize = 3;
/// States listed first in a batch summary, in this order; any other state
/// follows.
const STATE_ORDER: [AccountState; 9] = [
    AccountState::Completed,
    AccountState::CompletedWithErrors,
    AccountState::Failed,
    AccountState::Cancelled,
    AccountState::Interrupted,
    AccountState::Undone,
    AccountState::Running,
    AccountState::Undoing,
    AccountState::Queued,
];

/// The batch summary for `report`, from `from` to `to`, dated now, with
/// the HTML report attached; ready for [`crate::protocols::smtp::send`].
pub fn compose_batch(
    from: &str,
    to: &[String],
    report: &BatchReport,
) -> Result<Vec<u8>, handlebars::RenderError> {
    let html = crate::report::html::render(report)?;
    let now = Utc::now();
    let unique = format!("{}.{:016x}", now.timestamp_millis(), rand::random::<u64>());
    let message_id = format!("<{unique}.{}@{}>", report.batch_id, domain_of(from));
    Ok(compose_batch_at(
        from,
        to,
        report,
        &html,
        now,
        &message_id,
        &format!("=_mailshift_{unique}"),
    ))
}

/// [`compose_batch`] with the rendered report, the date, the Message-ID and
/// the MIME boundary given. The boundary starts with `=_`, which neither
/// quoted-printable nor base64 text can contain.
pub fn compose_batch_at(
    from: &str,
    to: &[String],
    report: &BatchReport,
    html: &str,
    date: DateTime<Utc>,
    message_id: &str,
    boundary: &str,
) -> Vec<u8> {
    let mut head = String::new();
    header(&mut head, "Date", &date.to_rfc2822());
    header(&mut head, "Message-ID", message_id);
    header(&mut head, "From", &mailbox(from));
    let to: Vec<String> = to.iter().map(|t| mailbox(t)).collect();
    header(&mut head, "To", &to.join(", "));
    header(&mut head, "Subject", &encode_words(&batch_subject(report)));
    header(&mut head, "MIME-Version", "1.0");
    header(
        &mut head,
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    header(&mut head, "Auto-Submitted", "auto-generated");
    header(&mut head, "X-Mailshift-Batch-ID", &clean(&report.batch_id));
    head.push_str("\r\n");
    head.push_str("This is a MIME message: a summary and the batch report.\r\n");

    head.push_str(&format!("\r\n--{boundary}\r\n"));
    head.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    head.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    head.push_str(&quoted_printable(&batch_body(report)));

    head.push_str(&format!("\r\n--{boundary}\r\n"));
    head.push_str("Content-Type: text/html; charset=utf-8; name=\"report.html\"\r\n");
    head.push_str("Content-Disposition: attachment; filename=\"report.html\"\r\n");
    head.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    head.push_str(&base64_lines(html.as_bytes()));
    head.push_str(&format!("\r\n--{boundary}--\r\n"));
    head.into_bytes()
}

/// `[mailshift] batch spring-move: 2 completed, 1 failed (B-7K3F-9QXP)`:
/// always the completed and failed counts, then any other state's.
pub fn batch_subject(report: &BatchReport) -> String {
    let count = |state: AccountState| {
        let n = report.totals.by_state.get(state.as_str());
        n.copied().unwrap_or(0)
    };
    let (completed, failed) = (AccountState::Completed, AccountState::Failed);
    let mut parts = vec![
        format!("{} completed", count(completed)),
        format!("{} failed", count(failed)),
    ];
    for (state, n) in states_in_order(report) {
        if state != completed.as_str() && state != failed.as_str() {
            parts.push(format!("{n} {}", state_label(state)));
        }
    }
    clean(&format!(
        "[mailshift] batch {}: {} ({})",
        report.name,
        parts.join(", "),
        report.batch_id
    ))
}

/// The batch's states with their account counts: the usual ones in
/// [`STATE_ORDER`], then any other.
fn states_in_order(report: &BatchReport) -> Vec<(&str, u64)> {
    let by_state = &report.totals.by_state;
    let known = STATE_ORDER
        .iter()
        .filter_map(|s| by_state.get(s.as_str()).map(|n| (s.as_str(), *n)));
    let other = by_state
        .iter()
        .filter(|(s, _)| !STATE_ORDER.iter().any(|k| k.as_str() == s.as_str()))
        .map(|(s, n)| (s.as_str(), *n));
    known.chain(other).filter(|(_, n)| *n > 0).collect()
}

/// The plain-text summary of a batch, with `\n` line ends: totals by state,
/// then the accounts that need attention with their migration IDs and
/// reasons.
pub fn batch_body(report: &BatchReport) -> String {
    let t = &report.totals;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Batch {} ({}) ended: {}.\n",
        clean(&report.name),
        report.batch_id,
        state_label(report.state.as_str())
    );
    let _ = writeln!(out, "Accounts      {}", number(t.accounts));
    for (state, n) in states_in_order(report) {
        let _ = writeln!(out, "  {:<24}{:>8}", state_label(state), number(n));
    }
    let all = &t.all_stages;
    let _ = writeln!(
        out,
        "Items         found {}, copied {}, already there {}, skipped {}, failed {}",
        number(all.found),
        number(all.copied),
        number(all.present),
        number(all.skipped),
        number(all.failed)
    );
    let mut moved = bytes(all.bytes);
    if let Some(secs) = t.duration_secs {
        let _ = write!(moved, " in {}", duration(secs));
    }
    let _ = writeln!(out, "Copied        {moved}");

    let mut failures: Vec<&AccountStatus> = report
        .accounts
        .iter()
        .filter(|a| a.state.needs_attention())
        .collect();
    // Failed accounts first, then the others; otherwise manifest order.
    failures.sort_by_key(|a| a.state != AccountState::Failed);
    if failures.is_empty() {
        let _ = writeln!(out, "\nNo account failed.");
    } else {
        let _ = writeln!(out, "\nNeeds attention");
        for a in failures.iter().take(MAX_BATCH_ACCOUNTS) {
            let _ = writeln!(
                out,
                "  {}  {} → {}: {}",
                a.migration_id,
                clean(&a.source),
                clean(&a.destination),
                state_label(a.state.as_str())
            );
            if let Some(error) = &a.error {
                let _ = writeln!(out, "      {}", clean(error));
            }
            for e in a.item_errors.iter().take(MAX_BATCH_ERRORS) {
                let _ = writeln!(
                    out,
                    "      {}: {}: {}",
                    clean(&e.stage.replace('_', " ")),
                    clean(&e.item),
                    clean(&e.reason)
                );
            }
            if a.item_errors.len() > MAX_BATCH_ERRORS {
                let _ = writeln!(
                    out,
                    "      ... and {} more",
                    number((a.item_errors.len() - MAX_BATCH_ERRORS) as u64)
                );
            }
        }
        if failures.len() > MAX_BATCH_ACCOUNTS {
            let _ = writeln!(
                out,
                "  ... and {} more accounts",
                number((failures.len() - MAX_BATCH_ACCOUNTS) as u64)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nEvery account, with per-folder detail, is in the attached report.html.\n\
         Status at any time:\n  mailshift status --batch {}",
        report.batch_id
    );
    out.push_str("\n-- \nmailshift\n");
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;

    use super::*;
    use crate::formats::mime::tests::decode_qp;
    use crate::report::tests::sample;

    fn compose_sample_batch() -> String {
        let report = sample();
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 3, 14, 10, 0, 0).unwrap();
        let html = crate::report::html::render(&report).unwrap();
        let bytes = compose_batch_at(
            "mailshift <noreply@ops.example>",
            &["it-team@ops.example".into()],
            &report,
            &html,
            at,
            "<1.2@ops.example>",
            "=_mailshift_test",
        );
        String::from_utf8(bytes).expect("the message is ASCII")
    }

    #[test]
    fn batch_summary_subject_counts_states() {
        assert_eq!(
            batch_subject(&sample()),
            "[mailshift] batch spring-move: 1 completed, 1 failed, 1 completed with errors \
             (B-7K3F-9QXP)"
        );
    }

    #[test]
    fn batch_summary_is_multipart_with_the_report_attached() {
        let message = compose_sample_batch();
        assert!(message.is_ascii());
        let (head, rest) = message.split_once("\r\n\r\n").unwrap();
        for line in message.split("\r\n") {
            assert!(line.len() <= 78, "{line}");
        }
        assert!(head.contains("To: it-team@ops.example\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: multipart/mixed; boundary=\"=_mailshift_test\"\r\n"),
            "{head}"
        );
        assert!(head.contains("Subject: [mailshift] batch spring-move: 1 completed,"));
        let parts: Vec<&str> = rest.split("\r\n--=_mailshift_test").collect();
        assert_eq!(parts.len(), 4, "preamble, two parts, end: {rest}");
        assert!(parts[3].starts_with("--\r\n"));

        let (text_head, text) = parts[1].split_once("\r\n\r\n").unwrap();
        assert!(text_head.contains("Content-Type: text/plain; charset=utf-8"));
        let text = decode_qp(text.trim_end_matches("\r\n"));
        assert!(
            text.starts_with("Batch spring-move (B-7K3F-9QXP) ended: completed with errors.\n"),
            "{text}"
        );
        assert!(
            text.contains("  failed                         1\n"),
            "{text}"
        );
        // Failures first: carol (failed), then bob (some items failed);
        // alice (completed) is only in the report.
        let carol = text.find("Q9RS-T2UV-WXYZ").expect(&text);
        let bob = text.find("M4QW-8ZTX-3HJN").expect(&text);
        assert!(carol < bob);
        assert!(text.contains("AUTHENTICATIONFAILED"));
        assert!(text.contains("INBOX UID 12: destination said: NO [OVERQUOTA]"));
        assert!(!text.contains("7K3F-9QXP-A2RT"), "{text}");

        let (html_head, html) = parts[2].split_once("\r\n\r\n").unwrap();
        assert!(html_head.contains("Content-Type: text/html; charset=utf-8; name=\"report.html\""));
        assert!(html_head.contains("Content-Disposition: attachment; filename=\"report.html\""));
        let html = BASE64.decode(html.replace("\r\n", "")).unwrap();
        assert_eq!(
            String::from_utf8(html).unwrap(),
            crate::report::html::render(&sample()).unwrap()
        );
    }

    #[test]
    fn batch_summary_without_failures_says_so() {
        let mut report = sample();
        report.accounts.truncate(1);
        report.totals = crate::report::Totals::of(&report.accounts, report.generated_at);
        let body = batch_body(&report);
        assert!(body.contains("No account failed."), "{body}");
        assert!(batch_subject(&report).contains(": 1 completed, 0 failed ("));
    }

    #[test]
    fn batch_summary_message_id_and_boundary_are_unique() {
        let report = sample();
        let a =
            String::from_utf8(compose_batch("n@ops.example", &["a@b".into()], &report).unwrap())
                .unwrap();
        let b =
            String::from_utf8(compose_batch("n@ops.example", &["a@b".into()], &report).unwrap())
                .unwrap();
        assert!(a.contains(".B-7K3F-9QXP@ops.example>\r\n"));
        let boundary = |m: &str| {
            m.split("boundary=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_ne!(boundary(&a), boundary(&b));
    }
}
