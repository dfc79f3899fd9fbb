//! A contact folder with a distribution list and a contact's picture,
//! into a Radicale address book.

use std::path::Path;

use base64::Engine as _;
use tempfile::TempDir;

use super::{text, zoe};
use crate::files::{manifest, run, spawn_run, undo};
use crate::pst::libyal_jpegs;
use crate::pst_writer::attachments::{contact_notes, contact_photo};
use crate::support::pst_writer::{Item, Key, PSETID_ADDRESS, PstBuilder, Value};
use crate::support::radicale::{Radicale, home};

fn bob() -> Item {
    Item {
        class: "IPM.Contact".into(),
        props: vec![
            (Key::Tag(0x3001), text("Bob Ørsted")),
            (Key::Tag(0x3A06), text("Bob")),
            (Key::Tag(0x3A11), text("Ørsted")),
            (Key::Lid(PSETID_ADDRESS, 0x8082), text("SMTP")),
            (Key::Lid(PSETID_ADDRESS, 0x8083), text("bob@example.test")),
        ],
        recipients: Vec::new(),
        attachments: Vec::new(),
    }
}

/// A distribution list member pointing at a contact of the file
/// ([MS-OXOCNTC] 2.2.2.2.4.1.1 WrappedEntryId: flags, the provider UID
/// bytes as the spec lists them, type 0xC3 = a contact's first e-mail
/// address, the entry ID).
fn wrapped(entry_id: &[u8]) -> Vec<u8> {
    let mut id = vec![0; 4];
    id.extend_from_slice(&[
        0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, 0x00, 0x47, 0xFA,
        0xA4,
    ]);
    id.push(0xC3);
    id.extend_from_slice(entry_id);
    id
}

/// A one-off member ([MS-OXCDATA] 2.2.5.1: flags, the one-off provider
/// UID, version 0, flags with U = Unicode strings, then display name,
/// address type and address, each NUL-terminated UTF-16).
fn one_off(name: &str, email: &str) -> Vec<u8> {
    let mut id = vec![0; 4];
    id.extend_from_slice(&[
        0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54,
        0x02,
    ]);
    // Version 0; flags: M (no rich text) and U (Unicode).
    id.extend_from_slice(&[0x00, 0x00, 0x01, 0x80]);
    for part in [name, "SMTP", email] {
        for unit in part.encode_utf16().chain([0]) {
            id.extend_from_slice(&unit.to_le_bytes());
        }
    }
    id
}

/// The Contacts folder: two contacts, Zoë with `photo` as her picture,
/// and a list naming her and a one-off address. Returns the PST's path.
fn contacts_pst(dir: &Path, photo: &[u8]) -> std::path::PathBuf {
    let mut builder = PstBuilder::new("Alice");
    let folder = builder.folder(None, "Contacts", "IPF.Contact");
    let mut zoe = zoe();
    zoe.attachments = vec![contact_notes(), contact_photo(photo)];
    let zoe_node = builder.item(folder, zoe);
    builder.item(folder, bob());
    let members = vec![
        wrapped(&PstBuilder::entry_id(zoe_node)),
        one_off("Carol Dupré", "carol@example.org"),
    ];
    builder.item(
        folder,
        Item {
            class: "IPM.DistList".into(),
            props: vec![
                (Key::Tag(0x3001), text("Équipe projet")),
                (Key::Lid(PSETID_ADDRESS, 0x8053), text("Équipe projet")),
                (
                    Key::Lid(PSETID_ADDRESS, 0x8055),
                    Value::Binaries(members.clone()),
                ),
                (Key::Lid(PSETID_ADDRESS, 0x8054), Value::Binaries(members)),
            ],
            recipients: Vec::new(),
            attachments: Vec::new(),
        },
    );
    // Outlook's own cache of addresses once written to: hidden, never
    // the user's address book.
    let cache = builder.folder(Some(folder), "Recipient Cache", "IPF.Contact");
    builder.hide(cache);
    builder.item(
        cache,
        Item {
            class: "IPM.Contact".into(),
            props: vec![(Key::Tag(0x3001), text("Cached Person"))],
            ..Item::default()
        },
    );
    let path = dir.join("alice.pst");
    builder.write(&path).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_contacts_and_lists_become_an_address_book_once_and_are_undone() {
    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dest.client("alice");
    let before = home(&dav, false).await;
    let dir = TempDir::new().unwrap();
    // A real JPEG, as Outlook keeps a contact's picture.
    let (_, photo) = libyal_jpegs().remove(0);
    contacts_pst(dir.path(), &photo);
    let manifest = manifest(dir.path(), "alice.pst", "contacts, contact_groups", &dest);

    run(dir.path(), &manifest).success().stdout_has("copied 3,");
    let after = home(&dav, false).await;
    assert_eq!(after.len(), before.len() + 1, "{:?}", after.keys());
    assert!(
        !after
            .values()
            .any(|(_, cards)| cards.values().any(|c| c.contains("Cached Person"))),
        "the hidden Recipient Cache was imported: {after:?}"
    );
    let (_, cards) = &after["Contacts"];
    assert_eq!(cards.len(), 3, "{:?}", cards.keys());
    let find = |needle: &str| -> &String {
        let found: Vec<&String> = cards.values().filter(|c| c.contains(needle)).collect();
        assert_eq!(found.len(), 1, "{needle} in {cards:?}");
        found[0]
    };
    let zoe = find("FN:Zoë Ångström");
    for field in [
        "N:Ångström;Zoë;;;",
        "ORG:Équipe Lyon SARL",
        "TITLE:Directrice technique",
        "zoe@example.test",
        "+33 6 12 34 56 78",
        "+33 4 72 00 00 01",
        ";;12\\, rue de la Paix;Lyon;;69001;France",
        "BDAY",
        "1985-04-12",
        "NOTE:Met at the Lyon fair\\; call before 10:00\\,\\nnot after.",
        "CATEGORIES:Clients,Lyon",
    ] {
        assert!(zoe.contains(field), "{field} in {zoe}");
    }
    let encoded = zoe
        .lines()
        .find_map(|l| l.strip_prefix("PHOTO;ENCODING=b;TYPE=JPEG:"))
        .unwrap_or_else(|| panic!("no JPEG PHOTO in {zoe}"));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("the PHOTO is base64");
    assert!(decoded == photo, "the PHOTO is not the contact's picture");
    let zoe_uid = zoe
        .lines()
        .find_map(|l| l.strip_prefix("UID:"))
        .expect("a UID");
    let group = find("X-ADDRESSBOOKSERVER-KIND:group");
    assert!(group.contains("FN:Équipe projet"), "{group}");
    assert!(
        group.contains(&format!("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{zoe_uid}")),
        "{group}"
    );
    assert!(
        group.contains("X-ADDRESSBOOKSERVER-MEMBER:mailto:carol@example.org"),
        "{group}"
    );
    let bob = find("FN:Bob Ørsted");
    assert!(!bob.contains("PHOTO"), "{bob}");

    // The same file again: nothing new, the same UIDs.
    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    assert_eq!(home(&dav, false).await, after);

    undo(dir.path()).success();
    assert_eq!(home(&dav, false).await, before);
}

/// How many cards the address book `name` of a home holds (0 before it
/// exists).
async fn cards_in(dav: &mailshift::protocols::dav::DavClient, name: &str) -> usize {
    for book in dav.address_books().await.unwrap() {
        if book.display_name.as_deref() == Some(name) {
            return dav.items(&book.href).await.unwrap().len();
        }
    }
    0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pst_import_killed_twice_resumes_without_a_duplicate() {
    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dest.client("alice");
    let before = home(&dav, false).await;
    let dir = TempDir::new().unwrap();
    let mut builder = PstBuilder::new("Alice");
    let folder = builder.folder(None, "Contacts", "IPF.Contact");
    const CONTACTS: usize = 150;
    for i in 0..CONTACTS {
        let name = format!("Contact {i:03}");
        builder.item(
            folder,
            Item {
                class: "IPM.Contact".into(),
                props: vec![
                    (Key::Tag(0x3001), text(&name)),
                    (
                        Key::Lid(PSETID_ADDRESS, 0x8083),
                        text(&format!("c{i}@example.test")),
                    ),
                ],
                ..Item::default()
            },
        );
    }
    builder.write(&dir.path().join("alice.pst")).unwrap();
    let manifest = manifest(dir.path(), "alice.pst", "contacts", &dest);

    // kill -9 once the first card is there, then once a third are.
    for threshold in [1, CONTACTS / 3] {
        let mut child = spawn_run(dir.path(), &manifest);
        let started = std::time::Instant::now();
        while cards_in(&dav, "Contacts").await < threshold
            && started.elapsed() < std::time::Duration::from_secs(60)
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
    assert!(
        cards_in(&dav, "Contacts").await < CONTACTS,
        "the kills came before the end"
    );

    run(dir.path(), &manifest).success();
    let (_, cards) = &home(&dav, false).await["Contacts"];
    assert_eq!(cards.len(), CONTACTS);
    let mut names: Vec<&str> = cards
        .values()
        .filter_map(|c| c.lines().find_map(|l| l.strip_prefix("FN:")))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), CONTACTS, "every contact once");
    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    undo(dir.path()).success();
    assert_eq!(home(&dav, false).await, before);
}
