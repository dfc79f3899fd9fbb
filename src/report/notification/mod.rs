//! The emails sent when an account's migration ends (or is undone), and
//! when a batch ends.
//!
//! An account's is a short RFC 5322 message in plain text: what the seed's
//! status page says (migration ID, state, dates), the per-stage counts, the
//! first errors and how long undo stays possible. A batch's
//! ([`compose_batch`]) is a `multipart/mixed` message: a plain-text summary
//! (totals by state, failures first) and the HTML report attached as
//! `report.html`. Headers are ASCII (the subject is RFC 2047-encoded where
//! needed), text is UTF-8 in quoted-printable and the attachment base64, so
//! it passes any SMTP server, 8BITMIME or not. Both are built from
//! [`AccountStatus`] values, which hold no secret.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};

use super::html::{bytes, duration, number};
use super::{BatchReport, state_label};
use crate::store::status::AccountStatus;

/// Item errors listed in a notification; the report has them all.
const MAX_ERRORS: usize = 20;
/// Accounts listed in a batch summary; the attached report has them all.
const MAX_BATCH_ACCOUNTS: usize = 50;
/// Item errors listed per account in a batch summary.
const MAX_BATCH_ERRORS: usize = 3;
/// States listed first in a batch summary, in this order; any other state
/// follows.
const STATE_ORDER: [&str; 9] = [
    "completed",
    "completed_with_errors",
    "failed",
    "cancelled",
    "interrupted",
    "undone",
    "running",
    "undoing",
    "queued",
];

/// Why the notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The migration ended: completed (with or without errors), failed or
    /// cancelled.
    Finished,
    /// An undo of the migration ended.
    Undone,
}

/// The message for `account` and `event`, from `from` to `to`, dated now,
/// with CRLF line ends, ready for [`crate::protocols::smtp::send`].
pub fn compose(from: &str, to: &[String], account: &AccountStatus, event: Event) -> Vec<u8> {
    let now = Utc::now();
    let message_id = format!(
        "<{}.{:016x}.{}@{}>",
        now.timestamp_millis(),
        rand::random::<u64>(),
        account.migration_id,
        domain_of(from)
    );
    compose_at(from, to, account, event, now, &message_id)
}

/// [`compose`] with the date and Message-ID given.
pub fn compose_at(
    from: &str,
    to: &[String],
    account: &AccountStatus,
    event: Event,
    date: DateTime<Utc>,
    message_id: &str,
) -> Vec<u8> {
    let mut head = String::new();
    header(&mut head, "Date", &date.to_rfc2822());
    header(&mut head, "Message-ID", message_id);
    header(&mut head, "From", &mailbox(from));
    let to: Vec<String> = to.iter().map(|t| mailbox(t)).collect();
    header(&mut head, "To", &to.join(", "));
    header(
        &mut head,
        "Subject",
        &encode_words(&subject(account, event)),
    );
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
    head.push_str("\r\n");
    let mut message = head.into_bytes();
    message.extend(quoted_printable(&body(account, event)).into_bytes());
    message
}

/// `[mailshift] alice@x → alice@y: completed (7K3F-9QXP-A2RT)`.
pub fn subject(account: &AccountStatus, event: Event) -> String {
    let outcome = match event {
        Event::Finished => state_label(&account.state),
        Event::Undone if account.state == "undone" => "undone".to_owned(),
        Event::Undone => format!("undo ended {}", state_label(&account.state)),
    };
    clean(&format!(
        "[mailshift] {} → {}: {outcome} ({})",
        account.source, account.destination, account.migration_id
    ))
}

/// The plain-text body, with `\n` line ends.
pub fn body(account: &AccountStatus, event: Event) -> String {
    let a = account;
    let mut out = String::new();
    let when = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let headline = match (event, a.state.as_str()) {
        (Event::Undone, "undone") => {
            "The migration was undone: the destination is back as it was before it.".to_owned()
        }
        (Event::Undone, state) => {
            format!("The undo of the migration ended: {}.", state_label(state))
        }
        (Event::Finished, "completed") => "The migration completed.".to_owned(),
        (Event::Finished, state) => format!("The migration ended: {}.", state_label(state)),
    };
    let _ = writeln!(out, "{headline}\n");
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(out, "{:<14}{}", format!("{name}:"), clean(value));
    };
    field("Migration ID", &a.migration_id);
    field("Batch", &format!("{} ({})", a.batch, a.batch_id));
    field(
        "Source",
        &with_server(&a.source, a.source_server.as_deref()),
    );
    field(
        "Destination",
        &with_server(&a.destination, a.destination_server.as_deref()),
    );
    field("State", &state_label(&a.state));
    field("Created", &when(a.created_at));
    if let Some(finished) = a.finished_at {
        field("Finished", &when(finished));
    }
    if let Some(error) = &a.error {
        field("Reason", error);
    }

    if !a.stages.is_empty() {
        let _ = writeln!(out, "\nStages");
        for s in &a.stages {
            let _ = writeln!(
                out,
                "  {:<15} {:<11} found {}, copied {}, already there {}, skipped {}, failed {}, {}",
                s.kind.replace('_', " "),
                s.state,
                number(s.found),
                number(s.copied),
                number(s.present),
                number(s.skipped),
                number(s.failed),
                bytes(s.bytes)
            );
        }
    }

    if !a.item_errors.is_empty() {
        let _ = writeln!(out, "\nErrors");
        for e in a.item_errors.iter().take(MAX_ERRORS) {
            let _ = writeln!(
                out,
                "  - {}: {}: {}",
                clean(&e.stage.replace('_', " ")),
                clean(&e.item),
                clean(&e.reason)
            );
        }
        if a.item_errors.len() > MAX_ERRORS {
            let _ = writeln!(
                out,
                "  ... and {} more (see the batch report)",
                number((a.item_errors.len() - MAX_ERRORS) as u64)
            );
        }
    }

    if let (Event::Finished, Some(until)) = (event, a.undo_until) {
        let _ = writeln!(
            out,
            "\nThe migration can be undone until {}:\n  mailshift undo {} --source {}",
            when(until),
            a.migration_id,
            clean(&a.source)
        );
    }
    let _ = writeln!(
        out,
        "\nStatus at any time:\n  mailshift status {} --source {}",
        a.migration_id,
        clean(&a.source)
    );
    out.push_str("\n-- \nmailshift\n");
    out
}

/// The batch summary for `report`, from `from` to `to`, dated now, with
/// the HTML report attached; ready for [`crate::protocols::smtp::send`].
pub fn compose_batch(
    from: &str,
    to: &[String],
    report: &BatchReport,
) -> Result<Vec<u8>, handlebars::RenderError> {
    let html = super::html::render(report)?;
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
    let encoded = BASE64.encode(html.as_bytes());
    for line in encoded.as_bytes().chunks(76) {
        // Base64 is ASCII.
        head.push_str(std::str::from_utf8(line).unwrap_or_default());
        head.push_str("\r\n");
    }
    head.push_str(&format!("\r\n--{boundary}--\r\n"));
    head.into_bytes()
}

/// `[mailshift] batch spring-move: 2 completed, 1 failed (B-7K3F-9QXP)`:
/// always the completed and failed counts, then any other state's.
pub fn batch_subject(report: &BatchReport) -> String {
    let by_state = &report.totals.by_state;
    let mut parts = vec![
        format!(
            "{} completed",
            by_state.get("completed").copied().unwrap_or(0)
        ),
        format!("{} failed", by_state.get("failed").copied().unwrap_or(0)),
    ];
    for (state, n) in states_in_order(report) {
        if state != "completed" && state != "failed" {
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
        .filter_map(|s| by_state.get(*s).map(|n| (*s, *n)));
    let other = by_state
        .iter()
        .filter(|(s, _)| !STATE_ORDER.contains(&s.as_str()))
        .map(|(s, n)| (s.as_str(), *n));
    known.chain(other).filter(|(_, n)| *n > 0).collect()
}

/// Whether an account belongs among the failures of a batch summary.
fn needs_attention(state: &str) -> bool {
    matches!(
        state,
        "failed" | "completed_with_errors" | "cancelled" | "interrupted"
    )
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
        state_label(&report.state)
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
        .filter(|a| needs_attention(&a.state))
        .collect();
    // Failed accounts first, then the others; otherwise manifest order.
    failures.sort_by_key(|a| a.state != "failed");
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
                state_label(&a.state)
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

fn with_server(address: &str, server: Option<&str>) -> String {
    match server {
        Some(server) => format!("{address} ({server})"),
        None => address.to_owned(),
    }
}

/// Control characters (CR and LF above all: header injection) become
/// spaces; values come from manifests and server replies.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The domain of an address (`Name <user@host>` or `user@host`), for the
/// Message-ID.
fn domain_of(address: &str) -> String {
    let address = address
        .rsplit_once('<')
        .map_or(address, |(_, rest)| rest.trim_end_matches('>'));
    match address.rsplit_once('@') {
        Some((_, domain))
            if !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') =>
        {
            domain.to_owned()
        }
        _ => "mailshift.invalid".to_owned(),
    }
}

/// A mailbox for a header: the address as given, with a non-ASCII display
/// name (`Zoë <z@x>`) encoded per RFC 2047.
fn mailbox(text: &str) -> String {
    let text = clean(text);
    match text.rsplit_once('<') {
        Some((name, address)) if !name.trim().is_empty() && !name.is_ascii() => {
            format!("{} <{address}", encode_words(name.trim()))
        }
        _ => text.trim().to_owned(),
    }
}

/// Appends `Name: value`, folded at spaces to keep lines near 78
/// characters.
pub(crate) fn header(out: &mut String, name: &str, value: &str) {
    let mut line_len = name.len() + 1;
    out.push_str(name);
    out.push(':');
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        if line_len + 1 + word.len() > 78 && line_len > name.len() + 1 {
            out.push_str("\r\n");
            line_len = 0;
        }
        out.push(' ');
        out.push_str(word);
        line_len += 1 + word.len();
    }
    out.push_str("\r\n");
}

/// Encodes the words of `text` that are not plain ASCII (or could be read
/// as an encoded word) as RFC 2047 `=?UTF-8?B?...?=` words. Runs of such
/// words are encoded together, spaces included, because white space
/// between two encoded words is dropped when decoding.
pub fn encode_words(text: &str) -> String {
    let needs = |w: &str| !w.is_ascii() || w.contains("=?") || w.contains("?=");
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !needs(words[i]) {
            out.push(words[i].to_owned());
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < words.len() && needs(words[j]) {
            j += 1;
        }
        out.push(encoded_words(&words[i..j].join(" ")));
        i = j;
    }
    out.join(" ")
}

/// `text` as encoded words of at most 75 characters each (RFC 2047
/// section 2), split between characters, separated by spaces.
fn encoded_words(text: &str) -> String {
    // 45 bytes make 60 base64 characters: 72 with `=?UTF-8?B?` and `?=`.
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > MAX_BYTES {
            words.push(&text[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    words.push(&text[start..end]);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", BASE64.encode(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quoted-printable (RFC 2045 section 6.7) with CRLF line ends and soft
/// breaks before 76 characters.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len() - 1;
    for (n, line) in lines.iter().enumerate() {
        if n == last && line.is_empty() {
            break;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let at_end = i + 1 == bytes.len();
            let literal = matches!(b, 33..=60 | 62..=126) || (matches!(b, b' ' | b'\t') && !at_end);
            let len = if literal { 1 } else { 3 };
            // Room for the token and, unless the line ends here, a soft
            // break's `=`.
            let room = if at_end { 76 } else { 75 };
            if width + len > room {
                out.push_str("=\r\n");
                width = 0;
            }
            if literal {
                out.push(char::from(b));
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('=');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0F)]));
            }
            width += len;
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    fn decode_qp(text: &str) -> String {
        let joined = text.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap().replace("\r\n", "\n")
    }

    fn bob() -> AccountStatus {
        sample().accounts[1].clone()
    }

    fn compose_bob(event: Event) -> String {
        let mut account = bob();
        account.destination = "bob@new.example".into();
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 3, 14, 10, 0, 0).unwrap();
        let bytes = compose_at(
            "mailshift <noreply@ops.example>",
            &["admin@ops.example".into(), "bob@old.example".into()],
            &account,
            event,
            at,
            "<1.2@ops.example>",
        );
        String::from_utf8(bytes).expect("the message is ASCII")
    }

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

    #[test]
    fn notification_headers() {
        let message = compose_bob(Event::Finished);
        assert!(message.is_ascii());
        let (head, _) = message.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("Date: Fri, 14 Mar 2025 10:00:00 +0000\r\n"),
            "{head}"
        );
        assert!(head.contains("Message-ID: <1.2@ops.example>\r\n"));
        assert!(head.contains("From: mailshift <noreply@ops.example>\r\n"));
        assert!(head.contains("To: admin@ops.example, bob@old.example\r\n"));
        assert!(
            head.contains(
                "Subject: [mailshift] bob@old.example =?UTF-8?B?4oaS?= bob@new.example:\r\n \
                 completed with errors (M4QW-8ZTX-3HJN)\r\n"
            ),
            "{head}"
        );
        assert!(head.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        for line in head.split("\r\n") {
            assert!(line.len() <= 78, "{line}");
        }
    }

    #[test]
    fn notification_body() {
        let message = compose_bob(Event::Finished);
        let (_, body) = message.split_once("\r\n\r\n").unwrap();
        for line in body.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
        }
        let body = decode_qp(body);
        assert!(
            body.starts_with("The migration ended: completed with errors.\n"),
            "{body}"
        );
        assert!(body.contains("Migration ID: M4QW-8ZTX-3HJN\n"), "{body}");
        assert!(
            body.contains(
                "  mail            done        found 310, copied 305, already there 0, skipped 3, \
             failed 2, 9.8 MB\n"
            ),
            "{body}"
        );
        assert!(body.contains("  - mail: Archiv/<Größe> & \"Co\" UID 77: message larger"));
        assert!(
            body.contains("can be undone until 2025-03-16 09:30 UTC"),
            "{body}"
        );
        assert!(body.contains("mailshift undo M4QW-8ZTX-3HJN --source bob@old.example"));
    }

    #[test]
    fn undone_notification_has_no_undo_deadline() {
        let mut account = bob();
        account.state = "undone".into();
        assert!(subject(&account, Event::Undone).ends_with(": undone (M4QW-8ZTX-3HJN)"));
        let body = body(&account, Event::Undone);
        assert!(body.starts_with("The migration was undone"));
        assert!(!body.contains("can be undone"));
    }

    #[test]
    fn notification_lists_at_most_twenty_errors() {
        let mut account = bob();
        let error = account.item_errors[0].clone();
        account.item_errors = vec![error; 27];
        let body = body(&account, Event::Finished);
        assert_eq!(body.matches("  - mail: ").count(), 20);
        assert!(body.contains("... and 7 more"));
    }

    #[test]
    fn header_injection_is_neutralised() {
        let mut account = bob();
        account.source = "x@y\r\nBcc: victim@example".into();
        let message = String::from_utf8(compose_at(
            "a@b\r\nBcc: other@example",
            &["c@d".into()],
            &account,
            Event::Finished,
            Utc::now(),
            "<x@y>",
        ))
        .unwrap();
        let (head, _) = message.split_once("\r\n\r\n").unwrap();
        assert!(!head.split("\r\n").any(|l| l.starts_with("Bcc")), "{head}");
    }

    #[test]
    fn encoded_words_are_short_and_split_between_characters() {
        let long = "é".repeat(100);
        let encoded = encode_words(&long);
        for word in encoded.split(' ') {
            assert!(word.len() <= 75, "{word}");
            let payload = word
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap();
            let bytes = BASE64.decode(payload).unwrap();
            String::from_utf8(bytes).expect("whole characters");
        }
        assert_eq!(encode_words("plain words"), "plain words");
        assert_eq!(encode_words("Zoë Dupont"), "=?UTF-8?B?Wm/Dqw==?= Dupont");
        assert_eq!(encode_words("Zoë Lë"), "=?UTF-8?B?Wm/DqyBMw6s=?=");
        assert_eq!(mailbox("Zoë <z@x>"), "=?UTF-8?B?Wm/Dqw==?= <z@x>");
    }

    #[test]
    fn quoted_printable_round_trips() {
        let text = format!(
            "a = b\ntrailing space \n{}\nUmlaut: äöü\n.dot\n",
            "x".repeat(200)
        );
        let encoded = quoted_printable(&text);
        for line in encoded.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
            assert!(!line.ends_with(' '));
        }
        assert!(encoded.contains("a =3D b\r\n"));
        assert!(encoded.contains("trailing space=20\r\n"));
        assert_eq!(decode_qp(&encoded), text);
    }

    #[test]
    fn message_id_uses_the_sender_domain() {
        assert_eq!(domain_of("mailshift <noreply@ops.example>"), "ops.example");
        assert_eq!(domain_of("noreply@ops.example"), "ops.example");
        assert_eq!(domain_of("noreply"), "mailshift.invalid");
        let message = String::from_utf8(compose(
            "noreply@ops.example",
            &["a@b".into()],
            &bob(),
            Event::Finished,
        ))
        .unwrap();
        assert!(message.contains(".M4QW-8ZTX-3HJN@ops.example>\r\n"));
    }
}
