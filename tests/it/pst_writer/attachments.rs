//! Attachments written by the test writer, read back by the three readers:
//! `readpst -S` and libpff's `pffexport` extract each with its name and
//! exact bytes; `outlook-pst`, through mailshift's reader, gives names,
//! MIME types, content IDs and bytes, and a contact's picture. The
//! builders here also serve the end-to-end tests (`pst.rs`,
//! `pst_groupware/contacts.rs`).

use std::path::{Path, PathBuf};

use mailshift::protocols::pst::{Attachment, Content, PstReader};
use tempfile::TempDir;

use super::libpff::export;
use super::{contact, text};
use crate::pst::{libyal_jpegs, readpst, readpst_tree};
use crate::support::pst_writer::{Item, Key, PstBuilder, Value};

/// The attached statement's name: not ASCII, with a space.
pub const PDF_NAME: &str = "Relevé 2026.pdf";
/// The inline picture's name and content ID, as the HTML body cites it.
pub const IMAGE_NAME: &str = "logo.jpg";
pub const IMAGE_ID: &str = "logo@mailshift.test";
pub const HTML: &str = "<html><body><p>Relevé ci-joint.</p>\
                        <img src=\"cid:logo@mailshift.test\"></body></html>";

/// A PDF-like file of 40 KiB: a PDF header and trailer around bytes of
/// every value, so five data blocks under an XBLOCK in a sub-node of the
/// attachment's own node.
pub fn statement_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut state = 0x2026_u32;
    while pdf.len() < 40 * 1024 - 6 {
        // A linear congruential generator: varied bytes, the same each run.
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        pdf.push((state >> 16) as u8);
    }
    pdf.extend_from_slice(b"%%EOF\n");
    pdf
}

/// A message whose HTML body shows `image` inline (by content ID, hidden
/// from the attachment list as Outlook marks it) with the statement
/// attached.
pub fn statement(image: &[u8]) -> Item {
    Item {
        class: "IPM.Note".into(),
        props: vec![
            (Key::Tag(0x0037), text("Relevé de compte")),
            (Key::Tag(0x1000), text("Relevé ci-joint.")),
            (Key::Tag(0x1013), Value::Binary(HTML.as_bytes().to_vec())),
            (Key::Tag(0x3FDE), Value::I32(65001)), // PidTagInternetCodepage: UTF-8
        ],
        recipients: Vec::new(),
        attachments: vec![
            vec![
                (0x3707, text(PDF_NAME)),
                (0x370E, text("application/pdf")),
                (0x3701, Value::Binary(statement_pdf())),
            ],
            vec![
                (0x3707, text(IMAGE_NAME)),
                (0x370E, text("image/jpeg")),
                (0x3712, text(IMAGE_ID)),    // PidTagAttachContentId
                (0x3714, Value::I32(4)),     // PidTagAttachFlags: ATT_MHTML_REF
                (0x7FFE, Value::Bool(true)), // PidTagAttachmentHidden
                (0x3701, Value::Binary(image.to_vec())),
            ],
        ],
    }
}

/// A contact's picture as Outlook attaches it: named
/// `ContactPicture.jpg`, marked by PidTagAttachmentContactPhoto.
pub fn contact_photo(jpeg: &[u8]) -> Vec<(u16, Value)> {
    vec![
        (0x3707, text("ContactPicture.jpg")),
        (0x3701, Value::Binary(jpeg.to_vec())),
        (0x7FFF, Value::Bool(true)),
    ]
}

/// An attachment of a contact that is not its picture, put before it:
/// only the one marked as the picture may become the PHOTO.
pub fn contact_notes() -> Vec<(u16, Value)> {
    vec![
        (0x3707, text("notes.txt")),
        (0x3701, Value::Binary(b"Met at the fair.".to_vec())),
    ]
}

/// A store with the statement in Inbox and a contact with a picture,
/// both pictures taken from the libyal file.
struct Attached {
    _dir: TempDir,
    path: PathBuf,
    jpegs: Vec<(String, Vec<u8>)>,
    message: u32,
    contact: u32,
}

fn attachments_pst() -> Attached {
    let jpegs = libyal_jpegs();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("attached.pst");
    let mut pst = PstBuilder::new("Attachments");
    let inbox = pst.folder(None, "Inbox", "IPF.Note");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    let message = pst.item(inbox, statement(&jpegs[0].1));
    let mut ada = contact("Ada", "Lovelace", "ada@example.com", "+44 20 1234");
    ada.attachments = vec![contact_notes(), contact_photo(&jpegs[1].1)];
    let contact = pst.item(contacts, ada);
    pst.write(&path).unwrap();
    Attached {
        _dir: dir,
        path,
        jpegs,
        message,
        contact,
    }
}

#[test]
fn readpst_extracts_each_attachment_with_its_name_and_bytes() {
    let pst = attachments_pst();
    let out = TempDir::new().unwrap();
    readpst(&pst.path, out.path());
    let tree = readpst_tree(out.path());
    let (count, attached) = &tree["Inbox"];
    assert_eq!(*count, 1);
    let names: Vec<&String> = attached.iter().map(|(n, _)| n).collect();
    assert_eq!(names, [PDF_NAME, IMAGE_NAME]);
    assert!(attached[0].1 == statement_pdf(), "the PDF's bytes differ");
    assert!(
        attached[1].1 == pst.jpegs[0].1,
        "the picture's bytes differ"
    );
}

/// The files `pffexport` wrote for the attachments of the first item of
/// `folder` (its items named `{kind}00001`...): name and bytes.
fn pff_attachments(pst: &Path, folder: &str, kind: &str) -> Vec<(String, Vec<u8>)> {
    let (_out, top) = export(pst);
    let dir = top.join(format!("{folder}/{kind}00001/Attachments"));
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    found.sort();
    found
}

#[test]
fn libpff_exports_the_attachments_and_the_contact_picture() {
    let pst = attachments_pst();
    let mail = pff_attachments(&pst.path, "Inbox", "Message");
    // pffexport numbers the attachments in table order.
    let shape: Vec<(&str, usize)> = mail.iter().map(|(n, b)| (n.as_str(), b.len())).collect();
    assert_eq!(
        shape,
        [
            (format!("1_{PDF_NAME}").as_str(), 40 * 1024),
            (format!("2_{IMAGE_NAME}").as_str(), pst.jpegs[0].1.len()),
        ]
    );
    assert!(mail[0].1 == statement_pdf(), "the PDF's bytes differ");
    assert!(mail[1].1 == pst.jpegs[0].1, "the picture's bytes differ");
    let contact = pff_attachments(&pst.path, "Contacts", "Contact");
    let names: Vec<&str> = contact.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["1_notes.txt", "2_ContactPicture.jpg"]);
    assert_eq!(contact[0].1, b"Met at the fair.");
    assert!(
        contact[1].1 == pst.jpegs[1].1,
        "the contact picture's bytes differ"
    );
}

#[test]
fn mailshift_reader_gives_names_types_content_ids_bytes_and_the_picture() {
    let pst = attachments_pst();
    let reader = PstReader::open(&pst.path).unwrap();
    let mapi = reader.message(pst.message).unwrap();
    assert!(mapi.warnings.is_empty(), "{:?}", mapi.warnings);
    let html = mapi.body_html.as_ref().expect("the HTML body");
    assert_eq!(
        (html.bytes.as_slice(), html.charset),
        (HTML.as_bytes(), "UTF-8")
    );
    let [pdf, image] = mapi.attachments.as_slice() else {
        panic!("two attachments: {:?}", mapi.attachments.len());
    };
    let bytes = |a: &Attachment| match &a.content {
        Content::Bytes(bytes) => bytes.clone(),
        Content::Message(_) => panic!("{:?} is not a file", a.name),
    };
    let described = |a: &Attachment| {
        let name = a.name.clone();
        (name, a.mime_type.clone(), a.content_id.clone(), a.inline)
    };
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        described(pdf),
        (some(PDF_NAME), some("application/pdf"), None, false)
    );
    assert!(bytes(pdf) == statement_pdf(), "the PDF's bytes differ");
    assert_eq!(
        described(image),
        (some(IMAGE_NAME), some("image/jpeg"), some(IMAGE_ID), true)
    );
    assert!(bytes(image) == pst.jpegs[0].1, "the picture's bytes differ");
    let item = reader.item(pst.contact).unwrap();
    assert!(
        item.photo == Some(pst.jpegs[1].1.clone()),
        "the picture differs"
    );
}
