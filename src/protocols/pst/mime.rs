//! A [`MapiMessage`] as an RFC 5322 message.
//!
//! Headers: the original transport headers when the PST kept them (a
//! message that came from the Internet), without the `Content-*` and
//! `MIME-Version` fields, which described a body that is rebuilt here;
//! otherwise built from the MAPI properties. The body: the plain, HTML
//! and RTF versions as `multipart/alternative` (RTF only when there is no
//! HTML: Outlook keeps both, and the HTML is the one clients show),
//! inline images with the HTML in `multipart/related`, attachments in
//! `multipart/mixed`, attached messages as `message/rfc822`.
//!
//! The output is a function of the message alone (boundaries included),
//! so the same PST item always gives the same bytes: a copy made by an
//! interrupted run is recognised by its fingerprint.

use super::{Address, Attachment, Content, MapiMessage, RecipientKind};
use crate::formats::mime::{
    base64_lines, encode_words, filename_parameter, header, legacy_parameter, quoted,
    quoted_printable,
};

/// One MIME entity: header fields (without the final CRLF) and an encoded
/// body, or children.
enum Part {
    Leaf {
        headers: String,
        body: Vec<u8>,
    },
    Multi {
        subtype: &'static str,
        parts: Vec<Part>,
    },
}

/// The whole message, CRLF line ends.
pub fn build(message: &MapiMessage) -> Vec<u8> {
    build_at(message, 0)
}

/// `depth` keeps the boundaries of an attached message apart from those
/// of the message holding it.
fn build_at(message: &MapiMessage, depth: usize) -> Vec<u8> {
    let mut out = match message.transport_headers.as_deref() {
        Some(original) => kept_headers(original),
        None => built_headers(message),
    };
    // Saved headers without a date (a draft, some gateways): the PST's.
    if !has_field(&out, "Date")
        && let Some(date) = message.sent.or(message.delivered)
    {
        header(&mut out, "Date", &date.to_rfc2822());
    }
    out.push_str("MIME-Version: 1.0\r\n");
    let mut bytes = out.into_bytes();
    if let Some(signed) = smime(message) {
        bytes.extend_from_slice(&signed);
        return bytes;
    }
    let mut counter = 0;
    write_part(&body(message, depth), depth, &mut counter, &mut bytes);
    bytes
}

/// The body of an S/MIME message as it was sent. Outlook keeps it as the
/// message's only attachment: the whole `multipart/signed` entity (its
/// own header fields included) for a clear-signed message, the
/// `application/pkcs7-mime` data for an opaque-signed or encrypted one.
/// Rebuilding those from the MAPI bodies would break the signature.
fn smime(message: &MapiMessage) -> Option<Vec<u8>> {
    let class = message.class.to_ascii_lowercase();
    if !class.starts_with("ipm.note.smime") {
        return None;
    }
    let [attachment] = message.attachments.as_slice() else {
        return None;
    };
    let Content::Bytes(data) = &attachment.content else {
        return None;
    };
    if class.ends_with(".multipartsigned") {
        return Some(data.clone());
    }
    let mut out = String::new();
    header(
        &mut out,
        "Content-Type",
        "application/pkcs7-mime; name=\"smime.p7m\"",
    );
    header(
        &mut out,
        "Content-Disposition",
        "attachment; filename=\"smime.p7m\"",
    );
    out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(base64_lines(data).as_bytes());
    Some(bytes)
}

/// The transport headers, unfolded fields kept whole, minus the fields
/// that described the original body.
fn kept_headers(original: &str) -> String {
    let mut out = String::with_capacity(original.len());
    let mut keep = false;
    for line in original.lines() {
        if line.trim().is_empty() {
            // The end of the header block (a copy may carry more).
            break;
        }
        if !line.starts_with([' ', '\t']) {
            let name = line.split(':').next().unwrap_or("").trim();
            let content = name
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("content-"));
            keep = !(content || name.eq_ignore_ascii_case("MIME-Version"));
        }
        if keep {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

/// Headers from the MAPI properties.
fn built_headers(message: &MapiMessage) -> String {
    let mut out = String::new();
    if let Some(from) = &message.from {
        header(&mut out, "From", &mailbox(from));
    }
    if let Some(sender) = &message.sender {
        header(&mut out, "Sender", &mailbox(sender));
    }
    for (kind, name) in [
        (RecipientKind::To, "To"),
        (RecipientKind::Cc, "Cc"),
        (RecipientKind::Bcc, "Bcc"),
    ] {
        let list: Vec<String> = message
            .recipients
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| mailbox(&r.address))
            .collect();
        if !list.is_empty() {
            header(&mut out, name, &list.join(", "));
        }
    }
    if let Some(subject) = &message.subject {
        header(&mut out, "Subject", &encode_words(&clean(subject)));
    }
    for (name, value) in [
        ("Message-ID", &message.message_id),
        ("In-Reply-To", &message.in_reply_to),
        ("References", &message.references),
    ] {
        if let Some(value) = value {
            header(&mut out, name, &clean(value));
        }
    }
    out
}

/// Whether a header block has a field of this name.
fn has_field(headers: &str, name: &str) -> bool {
    headers.lines().any(|line| {
        line.split_once(':')
            .is_some_and(|(field, _)| field.trim_end().eq_ignore_ascii_case(name))
    })
}

/// The charset an RTF body is labelled with: US-ASCII when it is 7-bit
/// (RTF escapes other characters), else the code page its `\ansicpg`
/// names (Windows-1252, RTF's default, when it names none).
fn rtf_charset(rtf: &[u8]) -> &'static str {
    if rtf.is_ascii() {
        return "US-ASCII";
    }
    let head = String::from_utf8_lossy(&rtf[..rtf.len().min(1024)]);
    head.split("\\ansicpg")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|n| n.parse().ok())
        .and_then(super::props::codepage)
        .unwrap_or(encoding_rs::WINDOWS_1252)
        .name()
}

/// A header value on one line, control characters replaced: a value must
/// not be able to start a header of its own.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// `"Name" <address>`, the name quoted or RFC 2047-encoded. Without an
/// SMTP address (an Exchange-only recipient) the name is written as an
/// empty group, which keeps it visible and the header valid.
fn mailbox(address: &Address) -> String {
    let name = address.name.as_deref().map(clean).filter(|n| !n.is_empty());
    let phrase = name.map(|n| {
        if n.is_ascii() {
            quoted(&n)
        } else {
            encode_words(&n)
        }
    });
    match (phrase, address.email.as_deref().map(clean)) {
        (Some(p), Some(e)) => format!("{p} <{e}>"),
        (None, Some(e)) => e,
        (Some(p), None) => format!("{p}:;"),
        (None, None) => "undisclosed-recipients:;".to_owned(),
    }
}

/// The MIME tree of a message's body and attachments.
fn body(message: &MapiMessage, depth: usize) -> Part {
    let mut alternatives = Vec::new();
    if let Some(text) = &message.body_text {
        alternatives.push(text_part("plain", "UTF-8", text.as_bytes()));
    }
    match (&message.body_html, &message.body_rtf) {
        (Some(html), _) => alternatives.push(text_part("html", html.charset, &html.bytes)),
        (None, Some(rtf)) => alternatives.push(text_part("rtf", rtf_charset(rtf), rtf)),
        (None, None) => {}
    }
    if alternatives.is_empty() {
        alternatives.push(text_part("plain", "UTF-8", b""));
    }
    let mut content = multi("alternative", alternatives);
    let (inline, attached): (Vec<&Attachment>, Vec<&Attachment>) = message
        .attachments
        .iter()
        .partition(|a| a.inline && message.body_html.is_some());
    if !inline.is_empty() {
        let mut parts = vec![content];
        parts.extend(inline.iter().map(|a| attachment(a, depth)));
        content = multi("related", parts);
    }
    if !attached.is_empty() {
        let mut parts = vec![content];
        parts.extend(attached.iter().map(|a| attachment(a, depth)));
        content = multi("mixed", parts);
    }
    content
}

/// A multipart entity, or its only child.
fn multi(subtype: &'static str, mut parts: Vec<Part>) -> Part {
    if parts.len() == 1 {
        return parts.remove(0);
    }
    Part::Multi { subtype, parts }
}

/// A text body: quoted-printable when it is UTF-8 (any charset's ASCII
/// is), base64 otherwise.
fn text_part(subtype: &str, charset: &str, bytes: &[u8]) -> Part {
    let mut headers = format!("Content-Type: text/{subtype}; charset=\"{charset}\"\r\n");
    let body = match std::str::from_utf8(bytes) {
        Ok(text) => {
            headers.push_str("Content-Transfer-Encoding: quoted-printable");
            quoted_printable(text).into_bytes()
        }
        Err(_) => {
            headers.push_str("Content-Transfer-Encoding: base64");
            base64_lines(bytes).into_bytes()
        }
    };
    Part::Leaf { headers, body }
}

/// An attachment's entity.
fn attachment(attachment: &Attachment, depth: usize) -> Part {
    let name = attachment
        .name
        .as_deref()
        .map(clean)
        .filter(|n| !n.is_empty());
    let disposition = if attachment.inline {
        "inline"
    } else {
        "attachment"
    };
    let mut headers = String::new();
    let (content_type, body) = match &attachment.content {
        Content::Bytes(bytes) => {
            let content_type = attachment
                .mime_type
                .as_deref()
                .filter(|t| is_mime_type(t))
                .map(str::to_ascii_lowercase)
                .unwrap_or_else(|| guess_type(name.as_deref()).to_owned());
            (content_type, base64_lines(bytes).into_bytes())
        }
        Content::Message(inner) => ("message/rfc822".to_owned(), build_at(inner, depth + 1)),
    };
    let mut type_value = content_type;
    let mut disposition_value = disposition.to_owned();
    if let Some(name) = &name {
        type_value.push_str(&format!("; name={}", legacy_parameter(name)));
        disposition_value.push_str(&format!("; {}", filename_parameter(name)));
    }
    header(&mut headers, "Content-Type", &type_value);
    header(&mut headers, "Content-Disposition", &disposition_value);
    if let Some(id) = attachment.content_id.as_deref().map(clean) {
        let id = id.trim_start_matches('<').trim_end_matches('>');
        header(&mut headers, "Content-ID", &format!("<{id}>"));
    }
    if matches!(attachment.content, Content::Bytes(_)) {
        headers.push_str("Content-Transfer-Encoding: base64\r\n");
    }
    let headers = headers.trim_end().to_owned();
    Part::Leaf { headers, body }
}

/// Whether `text` looks like `type/subtype`.
fn is_mime_type(text: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    text.split_once('/')
        .is_some_and(|(a, b)| token(a) && token(b))
}

/// A MIME type from a file name's extension.
fn guess_type(name: Option<&str>) -> &'static str {
    let extension = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "htm" | "html" => "text/html",
        "csv" => "text/csv",
        "ics" => "text/calendar",
        "vcf" => "text/vcard",
        "eml" => "message/rfc822",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "ppt" => "application/vnd.ms-powerpoint",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

/// Writes `part`'s header fields, a blank line and its body. Boundaries
/// start with `=_`, which base64 and quoted-printable never produce, and
/// carry the nesting depth of the message, so an attached message's
/// cannot meet its parent's.
fn write_part(part: &Part, depth: usize, counter: &mut usize, out: &mut Vec<u8>) {
    match part {
        Part::Leaf { headers, body } => {
            out.extend_from_slice(headers.as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(body);
        }
        Part::Multi { subtype, parts } => {
            *counter += 1;
            let boundary = format!("=_mailshift.{depth}.{counter}");
            out.extend_from_slice(
                format!(
                    "Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n\
                     This is a multi-part message in MIME format.\r\n"
                )
                .as_bytes(),
            );
            for child in parts {
                out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
                write_part(child, depth, counter, out);
            }
            out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;

    use super::*;
    use crate::protocols::pst::{Html, Recipient};

    fn text(message: &MapiMessage) -> String {
        String::from_utf8(build(message)).unwrap()
    }

    #[test]
    fn headers_come_from_the_properties() {
        let message = MapiMessage {
            subject: Some("Réunion \"Q3\"".into()),
            from: Some(Address {
                name: Some("Zoë Dupont".into()),
                email: Some("zoe@example.com".into()),
            }),
            recipients: vec![
                Recipient {
                    kind: RecipientKind::To,
                    address: Address {
                        name: Some("Bob \"B\" Smith".into()),
                        email: Some("bob@example.com".into()),
                    },
                },
                Recipient {
                    kind: RecipientKind::Cc,
                    address: Address {
                        name: Some("New Outlook User".into()),
                        email: None,
                    },
                },
            ],
            sent: chrono::DateTime::from_timestamp(1_177_885_653, 0),
            message_id: Some("<a@b>".into()),
            in_reply_to: Some("<z@b>".into()),
            body_text: Some("héllo\r\n".into()),
            ..MapiMessage::default()
        };
        let out = text(&message);
        assert!(out.contains("From: =?UTF-8?B?"), "{out}");
        assert!(out.contains("To: \"Bob \\\"B\\\" Smith\" <bob@example.com>\r\n"));
        assert!(out.contains("Cc: \"New Outlook User\":;\r\n"));
        assert!(out.contains("Date: Sun, 29 Apr 2007 22:27:33 +0000\r\n"));
        assert!(out.contains("Message-ID: <a@b>\r\nIn-Reply-To: <z@b>\r\n"));
        assert!(out.contains("Content-Type: text/plain; charset=\"UTF-8\"\r\n"));
        assert!(out.ends_with("h=C3=A9llo\r\n"), "{out}");
        assert_eq!(build(&message), build(&message));
    }

    #[test]
    fn transport_headers_lose_their_content_fields() {
        let message = MapiMessage {
            transport_headers: Some(
                "Received: from a\r\n\tby b\r\nContent-Type: multipart/mixed;\r\n\
                 \tboundary=\"old\"\r\nSubject: hi\r\nMIME-Version: 1.0\r\n\r\n"
                    .into(),
            ),
            body_text: Some("x".into()),
            body_html: Some(Html {
                bytes: b"<p>x</p>".to_vec(),
                charset: "windows-1252",
            }),
            ..MapiMessage::default()
        };
        let out = text(&message);
        assert!(out.starts_with(
            "Received: from a\r\n\tby b\r\nSubject: hi\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative; boundary=\"=_mailshift.0.1\"\r\n"
        ));
        assert!(!out.contains("old"));
        assert!(out.contains("text/html; charset=\"windows-1252\""));
    }

    #[test]
    fn saved_headers_without_a_date_get_the_delivery_or_submit_time() {
        let mut message = MapiMessage {
            transport_headers: Some("Subject: hi\r\nFrom: a@b.test\r\n\r\n".into()),
            delivered: chrono::DateTime::from_timestamp(1_177_885_653, 0),
            ..MapiMessage::default()
        };
        let out = text(&message);
        assert!(
            out.starts_with(
                "Subject: hi\r\nFrom: a@b.test\r\nDate: Sun, 29 Apr 2007 22:27:33 +0000\r\n"
            ),
            "{out}"
        );
        message.transport_headers = Some("date: Mon, 1 Jan 2001 00:00:00 +0000\r\n".into());
        assert_eq!(text(&message).matches("ate: ").count(), 1);
    }

    #[test]
    fn an_rtf_only_body_keeps_its_bytes_and_names_their_code_page() {
        let rtf = b"{\\rtf1\\ansi\\ansicpg1251 \xb5\xc8}".to_vec();
        let message = MapiMessage {
            body_rtf: Some(rtf.clone()),
            ..MapiMessage::default()
        };
        let out = build(&message);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("Content-Type: text/rtf; charset=\"windows-1251\""),
            "{text}"
        );
        let body = text.split("\r\n\r\n").nth(1).unwrap().replace("\r\n", "");
        assert_eq!(BASE64.decode(body).unwrap(), rtf);
        let plain = MapiMessage {
            body_rtf: Some(b"{\\rtf1 x}".to_vec()),
            ..MapiMessage::default()
        };
        assert!(
            String::from_utf8(build(&plain))
                .unwrap()
                .contains("charset=\"US-ASCII\"")
        );
    }

    #[test]
    fn attachments_keep_names_types_and_bytes() {
        let message = MapiMessage {
            body_text: Some("see attached".into()),
            attachments: vec![
                Attachment {
                    name: Some("photo é.jpg".into()),
                    mime_type: None,
                    content_id: None,
                    inline: false,
                    content: Content::Bytes(vec![0xFF, 0xD8, 0xFF]),
                },
                Attachment {
                    name: Some("fwd".into()),
                    mime_type: None,
                    content_id: None,
                    inline: false,
                    content: Content::Message(Box::new(MapiMessage {
                        subject: Some("inner".into()),
                        body_text: Some("i".into()),
                        attachments: vec![Attachment {
                            name: Some("a.txt".into()),
                            mime_type: Some("text/plain".into()),
                            content_id: None,
                            inline: false,
                            content: Content::Bytes(b"a".to_vec()),
                        }],
                        ..MapiMessage::default()
                    })),
                },
            ],
            ..MapiMessage::default()
        };
        let out = text(&message);
        assert!(out.contains("Content-Type: multipart/mixed; boundary=\"=_mailshift.0.1\""));
        assert!(out.contains("Content-Type: image/jpeg; name=\"photo =?UTF-8?B?"));
        assert!(out.contains("filename*=UTF-8''photo%20%C3%A9.jpg"), "{out}");
        assert!(out.contains("/9j/\r\n"));
        assert!(out.contains("Content-Type: message/rfc822; name=\"fwd\""));
        assert!(out.contains("boundary=\"=_mailshift.1.1\""));
        assert!(out.contains("Subject: inner\r\n"));
    }

    #[test]
    fn smime_bodies_are_kept_as_sent() {
        let entity = b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\nx\r\n--b--\r\n";
        let signed = MapiMessage {
            class: "IPM.Note.SMIME.MultipartSigned".into(),
            subject: Some("signed".into()),
            body_text: Some("x".into()),
            attachments: vec![Attachment {
                name: Some("smime.p7m".into()),
                mime_type: Some("multipart/signed".into()),
                content_id: None,
                inline: false,
                content: Content::Bytes(entity.to_vec()),
            }],
            ..MapiMessage::default()
        };
        let out = build(&signed);
        assert!(out.ends_with(b"MIME-Version: 1.0\r\nContent-Type: multipart/signed; boundary=b\r\n\r\n--b\r\nx\r\n--b--\r\n"));
        let opaque = MapiMessage {
            class: "IPM.Note.SMIME".into(),
            ..signed
        };
        let out = text(&opaque);
        assert!(out.contains("Content-Type: application/pkcs7-mime; name=\"smime.p7m\"\r\n"));
        assert!(!out.contains("multipart/alternative"));
    }
}
