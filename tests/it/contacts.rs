//! The `contacts` and `contact_groups` options end to end: the `mailshift`
//! binary between two Radicale servers over CardDAV, then `mailshift undo`.

use std::collections::BTreeMap;

use mailshift::protocols::carddav::{PutOutcome, VCARD};

use crate::support::groupware::{GroupwareRun, Side};
use crate::support::radicale::Radicale;
use crate::support::{Dovecot, DovecotOptions};

/// Every address book of a home: display name → (resource name → vCard,
/// normalised).
type Books = BTreeMap<String, BTreeMap<String, String>>;

/// A vCard with folded lines joined and line ends made `\n`: Radicale
/// serves what it stored after parsing, which may fold lines differently
/// from what was put.
fn normalise(card: &[u8]) -> String {
    String::from_utf8(card.to_vec())
        .unwrap()
        .replace("\r\n", "\n")
        .replace("\n ", "")
        .replace("\n\t", "")
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A vCard's unfolded property lines, sorted: Radicale re-serialises what
/// it stores (properties reordered, lines folded its way), so a vCard put
/// and the one served back agree on this, not on bytes.
fn properties(card: &str) -> Vec<String> {
    let mut lines: Vec<String> = normalise(card.as_bytes())
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

async fn books(server: &Radicale) -> Books {
    let dav = server.client("alice");
    let mut all = Books::new();
    for book in dav.address_books().await.unwrap() {
        let mut cards = BTreeMap::new();
        for card in dav.items(&book.href).await.unwrap() {
            let name = card.href.rsplit('/').next().unwrap().to_owned();
            cards.insert(name, normalise(&dav.get(&card.href).await.unwrap()));
        }
        all.insert(book.display_name.unwrap_or(book.href), cards);
    }
    all
}

/// A base64 "photo" long enough to be folded over many lines.
fn photo() -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..600u32).map(|i| (i * 7 % 251) as u8).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn fold(card: &str) -> String {
    let mut out = String::new();
    for line in card.split("\r\n").filter(|l| !l.is_empty()) {
        let chars: Vec<char> = line.chars().collect();
        for (i, chunk) in chars.chunks(74).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.extend(chunk);
            out.push_str("\r\n");
        }
    }
    out
}

fn cards() -> Vec<(&'static str, String)> {
    let ada = fold(&format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada-1815\r\nFN:Ada Lovelace-Müller\r\n\
         N:Lovelace-Müller;Ada;;;\r\n\
         EMAIL;TYPE=WORK:ada@example.test\r\nEMAIL;TYPE=HOME:ada.home@example.test\r\n\
         ADR;TYPE=HOME:;;12 St James's Square;London;;SW1Y 4JH;United Kingdom\r\n\
         ADR;TYPE=WORK:;;Analytical Engine Way 1;Zürich;;8001;Switzerland\r\n\
         TEL;TYPE=CELL:+44 20 7946 0001\r\n\
         PHOTO;ENCODING=b;TYPE=JPEG:{}\r\nEND:VCARD\r\n",
        photo()
    ));
    let bob = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:bob-1900\r\nFN:Bob Ørsted\r\n\
               N:Ørsted;Bob;;;\r\nTEL;TYPE=work:+45 33 00 00 01\r\n\
               TEL;TYPE=home:+45 33 00 00 02\r\nEMAIL:bob@example.test\r\nEND:VCARD\r\n"
        .to_owned();
    let chloe = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:chloe-1950\r\nFN:Chloé Núñez\r\n\
                 N:Núñez;Chloé;;;\r\nORG:Café Ltd\r\nEMAIL:chloe@example.test\r\nEND:VCARD\r\n"
        .to_owned();
    let group = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:group-friends\r\nKIND:group\r\n\
                 FN:Close friends\r\nMEMBER:urn:uuid:ada-1815\r\nMEMBER:urn:uuid:bob-1900\r\n\
                 END:VCARD\r\n"
        .to_owned();
    vec![
        ("ada.vcf", ada),
        ("bob.vcf", bob),
        ("chloe.vcf", chloe),
        ("close-friends.vcf", group),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn contacts_and_groups_are_copied_once_and_undone_exactly() {
    let imap = (
        Dovecot::start(DovecotOptions {
            users: &[("alice", "source-pw")],
            ..DovecotOptions::default()
        }),
        Dovecot::start(DovecotOptions {
            users: &[("alice", "dest-pw")],
            ..DovecotOptions::default()
        }),
    );
    let source = Radicale::start(&[("alice", "source-pw")]);
    let dest = Radicale::start(&[("alice", "dest-pw")]);

    let dav = source.client("alice");
    dav.create_address_book("/alice/friends/", "Friends & family")
        .await
        .unwrap();
    for (name, card) in cards() {
        let outcome = dav
            .put_new(&format!("/alice/friends/{name}"), VCARD, card.as_bytes())
            .await
            .unwrap();
        assert_eq!(outcome, PutOutcome::Created);
    }
    // The destination has an address book of its own, which stays.
    let theirs = dest.client("alice");
    theirs
        .create_address_book("/alice/work/", "Work")
        .await
        .unwrap();
    theirs
        .put_new(
            "/alice/work/zoe.vcf",
            VCARD,
            b"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:zoe\r\nFN:Zoe\r\nEND:VCARD\r\n",
        )
        .await
        .unwrap();
    let before = books(&dest).await;
    let source_books = books(&source).await;
    assert_eq!(source_books["Friends & family"].len(), 4);

    let run = GroupwareRun::new(
        Side {
            imap: &imap.0,
            dav: Some(&source),
            email: "alice@example.test",
            password: "source-pw",
        },
        Side {
            imap: &imap.1,
            dav: Some(&dest),
            email: "alice@example.test",
            password: "dest-pw",
        },
        "contacts, contact_groups",
    );
    run.run().success();
    let after = books(&dest).await;
    let mut expected = before.clone();
    expected.insert(
        "Friends & family".into(),
        source_books["Friends & family"].clone(),
    );
    assert_eq!(after, expected);
    let copied = &after["Friends & family"];
    for (name, card) in cards() {
        assert_eq!(properties(&copied[name]), properties(&card), "{name}");
    }
    assert!(
        copied["ada.vcf"].contains(&photo()),
        "{}",
        copied["ada.vcf"]
    );
    assert!(copied["close-friends.vcf"].contains("MEMBER:urn:uuid:ada-1815"));

    let stages = run.report().to_string();
    assert!(stages.contains("\"contacts\""), "{stages}");
    assert!(stages.contains("\"contact_groups\""), "{stages}");

    // A second run adds nothing.
    run.run().success();
    assert_eq!(books(&dest).await, expected);

    // The undo manifest lists what was created.
    let undo = run.undo_manifest();
    assert_eq!(
        undo["contacts"]["cards"].as_array().unwrap().len(),
        4,
        "{undo}"
    );
    assert_eq!(
        undo["contacts"]["address_books"],
        serde_json::json!(["/alice/friends/"]),
        "{undo}"
    );

    run.undo()
        .success()
        .stdout_has("Contacts: 4 vCards deleted, 1 address books deleted");
    assert_eq!(books(&dest).await, before);
    // The source is untouched.
    assert_eq!(books(&source).await, source_books);
}
