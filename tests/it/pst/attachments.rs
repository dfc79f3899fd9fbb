//! The attachments of a PST written by the test writer, end to end: a
//! statement of 40 KiB with a name that is not ASCII and a picture shown
//! inline by an HTML body reach Dovecot with their names, types and exact
//! bytes, the picture beside the HTML in `multipart/related`.

use tempfile::TempDir;

use super::{PstBatch, destination, libyal_jpegs, messages};
use crate::mail::assert_success;
use crate::pst_writer::attachments::{IMAGE_ID, IMAGE_NAME, PDF_NAME, statement, statement_pdf};
use crate::support::mime::Entity;
use crate::support::pst_writer::PstBuilder;

/// A header value with RFC 2047 encoded words (UTF-8, `B`) decoded; the
/// space between two encoded words is not part of the text.
fn decode_words(value: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    let mut after_word = false;
    for (n, word) in value.split(' ').enumerate() {
        let encoded = word
            .strip_prefix("=?UTF-8?B?")
            .and_then(|w| w.strip_suffix("?="));
        if n > 0 && !(after_word && encoded.is_some()) {
            out.push(' ');
        }
        match encoded {
            Some(text) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .expect("base64");
                out.push_str(&String::from_utf8(bytes).expect("UTF-8"));
            }
            None => out.push_str(word),
        }
        after_word = encoded.is_some();
    }
    out
}

/// The part of `parts` whose Content-Type starts with `kind`.
fn part<'a>(parts: &'a [Entity], kind: &str) -> &'a Entity {
    parts
        .iter()
        .find(|p| {
            p.header("content-type")
                .is_some_and(|t| t.starts_with(kind))
        })
        .unwrap_or_else(|| panic!("no {kind} part"))
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_attachments_arrive_with_their_names_types_and_bytes() {
    let (_, jpeg) = libyal_jpegs().remove(0);
    let dir = TempDir::new().expect("temp dir");
    let pst = dir.path().join("statement.pst");
    let mut builder = PstBuilder::new("Statements");
    let inbox = builder.folder(None, "Inbox", "IPF.Note");
    builder.item(inbox, statement(&jpeg));
    builder.write(&pst).expect("write the PST");

    let dest = destination();
    let batch = PstBatch::new(&pst, &dest);
    let out = batch.run();
    assert_success(&out);
    assert!(out.stdout.contains("found 1, copied 1,"), "{}", out.stdout);
    let got = messages(&dest).await;
    let [(_, _, body)] = got["INBOX"].as_slice() else {
        panic!("one message in INBOX: {:?}", got["INBOX"].len());
    };

    // The statement attached to the whole; the picture next to the HTML
    // that cites it.
    let message = Entity::parse(body);
    assert!(
        message
            .header("content-type")
            .is_some_and(|t| t.starts_with("multipart/mixed;")),
        "{:?}",
        message.headers
    );
    let mixed = message.parts().expect("multipart/mixed");
    assert_eq!(mixed.len(), 2);
    let related = part(&mixed, "multipart/related;").parts().expect("parts");
    let alternative = part(&related, "multipart/alternative;")
        .parts()
        .expect("parts");
    let html = part(&alternative, "text/html;");
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=\"UTF-8\"")
    );
    assert!(
        String::from_utf8_lossy(&html.body).contains(&format!("cid:{IMAGE_ID}")),
        "{}",
        String::from_utf8_lossy(&html.body)
    );

    let image = part(&related, "image/jpeg");
    assert_eq!(
        image.header("content-type"),
        Some(format!("image/jpeg; name=\"{IMAGE_NAME}\"").as_str())
    );
    assert_eq!(
        image.header("content-disposition"),
        Some(format!("inline; filename=\"{IMAGE_NAME}\"").as_str())
    );
    assert_eq!(
        image.header("content-id"),
        Some(format!("<{IMAGE_ID}>").as_str())
    );
    assert!(image.decoded() == jpeg, "the picture's bytes differ");

    // The name is not ASCII: RFC 2231 for the file name, RFC 2047 for
    // the older `name`.
    let pdf = part(&mixed, "application/pdf");
    assert_eq!(
        pdf.header("content-disposition"),
        Some("attachment; filename*=UTF-8''Relev%C3%A9%202026.pdf")
    );
    let name = pdf.param("content-type", "name").expect("a name");
    assert!(name.starts_with("=?UTF-8?B?"), "{name}");
    assert_eq!(decode_words(&name), PDF_NAME);
    assert!(
        pdf.decoded() == statement_pdf(),
        "the statement's bytes differ"
    );
}
