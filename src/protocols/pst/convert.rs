//! A message as stored ([`RawMessage`]: properties, recipient table,
//! attachments) as a [`MapiMessage`], whichever file format it came from.

use encoding_rs::{Encoding, WINDOWS_1252};

use super::item::RECIPIENT_TRACK_STATUS;
use super::ltp::PropMap;
use super::object::{RawAttachment, RawMessage};
use super::props::{self, *};
use super::{Address, Attachment, Content, Flags, Html, MapiMessage, Recipient, RecipientKind};

/// A compressed RTF body larger than this is not decompressed.
const MAX_RTF: u32 = 64 << 20;

/// The code page of a message's 8-bit strings.
pub fn codepage_of(properties: &PropMap) -> &'static Encoding {
    integer(properties.get(&MESSAGE_CODEPAGE))
        .or_else(|| integer(properties.get(&INTERNET_CODEPAGE)))
        .and_then(props::codepage)
        .unwrap_or(WINDOWS_1252)
}

/// A message, its attachments and attached messages included, as a
/// [`MapiMessage`].
pub fn convert(message: &RawMessage) -> MapiMessage {
    let p = &message.props;
    let cp = codepage_of(p);
    let text = |id| string(p.get(&id), cp);
    let from = address(
        text(SENT_REPRESENTING_NAME),
        text(SENT_REPRESENTING_ADDRESS_TYPE),
        text(SENT_REPRESENTING_EMAIL),
        text(SENT_REPRESENTING_SMTP_ADDRESS),
    );
    let sender = address(
        text(SENDER_NAME),
        text(SENDER_ADDRESS_TYPE),
        text(SENDER_EMAIL),
        text(SENDER_SMTP_ADDRESS),
    );
    let (from, sender) = match (from, sender) {
        (None, sender) => (sender, None),
        (Some(f), Some(s)) if f.email != s.email && s.email.is_some() => (Some(f), Some(s)),
        (from, _) => (from, None),
    };
    let flags_value = integer(p.get(&MESSAGE_FLAGS)).unwrap_or(0);
    let verb = integer(p.get(&LAST_VERB_EXECUTED));
    let mut warnings = Vec::new();
    let mut mapi = MapiMessage {
        class: text(MESSAGE_CLASS).unwrap_or_else(|| "IPM.Note".into()),
        subject: text(SUBJECT).map(|s| without_prefix_marker(&s).to_owned()),
        transport_headers: text(TRANSPORT_MESSAGE_HEADERS),
        from,
        sender,
        recipients: recipients(&message.recipients, cp)
            .into_iter()
            .map(|(recipient, _)| recipient)
            .collect(),
        sent: time(p.get(&CLIENT_SUBMIT_TIME)),
        delivered: time(p.get(&MESSAGE_DELIVERY_TIME)).or_else(|| time(p.get(&CREATION_TIME))),
        message_id: text(INTERNET_MESSAGE_ID),
        in_reply_to: text(IN_REPLY_TO_ID),
        references: text(INTERNET_REFERENCES),
        body_text: text(BODY),
        body_html: html(p),
        body_rtf: rtf(binary(p.get(&RTF_COMPRESSED)), &mut warnings),
        attachments: Vec::new(),
        flags: Flags {
            read: flags_value & MSGFLAG_READ != 0,
            draft: flags_value & MSGFLAG_UNSENT != 0,
            flagged: integer(p.get(&FLAG_STATUS)) == Some(FLAG_FOLLOWUP),
            answered: verb.is_some_and(|v| VERB_REPLY.contains(&v)),
            forwarded: verb == Some(VERB_FORWARD),
        },
        warnings,
    };
    for attachment in &message.attachments {
        match attachment {
            Ok(attachment) => attach(&mut mapi, cp, attachment),
            Err((node, error)) => mapi
                .warnings
                .push(format!("attachment {node:#x} cannot be read ({error})")),
        }
    }
    mapi
}

/// An address from a name, an address type and the addresses a message
/// may hold: the SMTP one is preferred to an Exchange DN.
fn address(
    name: Option<String>,
    kind: Option<String>,
    email: Option<String>,
    smtp: Option<String>,
) -> Option<Address> {
    let smtp_kind = kind.is_none_or(|k| k.eq_ignore_ascii_case("SMTP"));
    let email = smtp.or_else(|| email.filter(|e| smtp_kind && e.contains('@')));
    (name.is_some() || email.is_some()).then_some(Address { name, email })
}

/// The rows of a recipient table, each with its answer to a meeting
/// request (`PidTagRecipientTrackStatus`) when recorded.
pub fn recipients(rows: &[PropMap], cp: &'static Encoding) -> Vec<(Recipient, Option<i32>)> {
    let mut out = Vec::new();
    for row in rows {
        let kind = match integer(row.get(&RECIPIENT_TYPE)).map(|t| t & 0x3) {
            Some(1) => RecipientKind::To,
            Some(2) => RecipientKind::Cc,
            Some(3) => RecipientKind::Bcc,
            _ => continue,
        };
        let text = |id| string(row.get(&id), cp);
        if let Some(address) = address(
            text(DISPLAY_NAME),
            text(ADDRESS_TYPE),
            text(EMAIL_ADDRESS),
            text(SMTP_ADDRESS),
        ) {
            let response = integer(row.get(&RECIPIENT_TRACK_STATUS));
            out.push((Recipient { kind, address }, response));
        }
    }
    out
}

/// The HTML body: stored as bytes in the Internet code page, or as text.
fn html(p: &PropMap) -> Option<Html> {
    match p.get(&HTML)? {
        Prop::Binary(v) => {
            let charset = integer(p.get(&INTERNET_CODEPAGE))
                .and_then(props::codepage)
                .unwrap_or(WINDOWS_1252);
            Some(Html {
                bytes: v.clone(),
                charset: charset.name(),
            })
        }
        other => string(Some(other), codepage_of(p)).map(|text| Html {
            bytes: text.into_bytes(),
            charset: "UTF-8",
        }),
    }
}

/// Decompresses an RTF body ([MS-OXRTFCP]); the sizes are checked first,
/// as the decompressor trusts them. The result is bytes: RTF is 8-bit
/// text in the code page its `\ansicpg` names.
fn rtf(compressed: Option<&[u8]>, warnings: &mut Vec<String>) -> Option<Vec<u8>> {
    let data = compressed?;
    let word = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let sane = match (word(0), word(4)) {
        (Some(size), Some(raw)) => size as usize + 4 == data.len() && raw <= MAX_RTF,
        _ => false,
    };
    match sane.then(|| compressed_rtf::decompress_rtf(data)) {
        // The decompressor gives each byte as the character of the same
        // number (U+0000 to U+00FF): turned back into that byte.
        Some(Ok(text)) => Some(
            text.chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
        ),
        Some(Err(e)) => {
            warnings.push(format!("the RTF body cannot be decompressed ({e})"));
            None
        }
        None => {
            warnings.push("the RTF body is damaged".into());
            None
        }
    }
}

/// Adds an attachment to `mapi` (8-bit names in the message's code page
/// `cp`), or says why it cannot be carried over.
fn attach(mapi: &mut MapiMessage, cp: &'static Encoding, attachment: &RawAttachment) {
    let p = &attachment.props;
    let text = |id| string(p.get(&id), cp);
    let name = text(ATTACH_LONG_FILENAME)
        .or_else(|| text(ATTACH_FILENAME))
        .or_else(|| text(DISPLAY_NAME));
    let content_id = text(ATTACH_CONTENT_ID);
    let inline = content_id.is_some()
        && (boolean(p.get(&ATTACHMENT_HIDDEN))
            || integer(p.get(&ATTACH_FLAGS)).is_some_and(|f| f & ATT_MHTML_REF != 0));
    let content = match (&attachment.message, p.get(&ATTACH_DATA)) {
        (Some(message), _) => {
            let mut embedded = convert(message);
            let subject = embedded.subject.clone();
            mapi.warnings.extend(embedded.warnings.drain(..).map(|w| {
                format!(
                    "in the attached message {}: {w}",
                    subject.as_deref().unwrap_or("(no subject)")
                )
            }));
            Content::Message(Box::new(embedded))
        }
        (None, Some(Prop::Binary(bytes))) => Content::Bytes(bytes.clone()),
        _ => {
            mapi.warnings.push(format!(
                "attachment {} is a link to a file, not a copy; not imported",
                name.as_deref().unwrap_or("(no name)")
            ));
            return;
        }
    };
    mapi.attachments.push(Attachment {
        name,
        mime_type: text(ATTACH_MIME_TAG),
        content_id,
        inline,
        content,
    });
}
