//! The `contacts` and `contact_groups` options end to end: the `mailshift`
//! binary between Radicale and Xandikos over CardDAV, in both directions,
//! with address books and contacts already at the destination, then
//! `mailshift undo`.

use std::collections::BTreeMap;

use mailshift::protocols::carddav::{PutOutcome, VCARD};
use mailshift::stages::contacts::vcard::for_destination;

use crate::support::groupware::{DavKind, DavServer, GroupwareRun, Side};
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

async fn books(server: &dyn DavServer) -> Books {
    let dav = server.books("alice");
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
async fn contacts_and_groups_go_from_radicale_to_xandikos_once_into_the_same_named_book_and_are_undone_exactly()
 {
    contacts_and_groups(DavKind::Radicale, DavKind::Xandikos).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn contacts_and_groups_go_from_xandikos_to_radicale_once_into_the_same_named_book_and_are_undone_exactly()
 {
    contacts_and_groups(DavKind::Xandikos, DavKind::Radicale).await;
}

/// The source has "Friends & family" (four cards, a group among them) and
/// "Colleagues"; the destination has "Work" and a "Friends & family" of its
/// own, holding a contact of its own and one of the source's under another
/// name. The same-named book is reused whichever server lists calendar
/// components on address books (Radicale does, Xandikos does not), the
/// contact already there is not written twice, and a card goes in the
/// version the destination book accepts (Xandikos: 3.0 only).
async fn contacts_and_groups(from: DavKind, to: DavKind) {
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
    let source = from.start("source-pw");
    let dest = to.start("dest-pw");
    let (source, dest) = (source.as_ref(), dest.as_ref());

    let dav = source.books("alice");
    let friends = format!("{}friends/", source.book_home("alice"));
    dav.create_address_book(&friends, "Friends & family")
        .await
        .unwrap();
    for (name, card) in cards() {
        let outcome = dav
            .put_new(&format!("{friends}{name}"), VCARD, card.as_bytes())
            .await
            .unwrap();
        assert_eq!(outcome, PutOutcome::Created);
    }
    let colleagues = format!("{}colleagues/", source.book_home("alice"));
    dav.create_address_book(&colleagues, "Colleagues")
        .await
        .unwrap();
    dav.put_new(
        &format!("{colleagues}eve.vcf"),
        VCARD,
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:eve\r\nFN:Eve\r\nN:;Eve;;;\r\nEND:VCARD\r\n",
    )
    .await
    .unwrap();
    // The destination has address books of its own, which stay: "Work",
    // and "Friends & family" with Dan and Bob (under another name).
    let theirs = dest.books("alice");
    let home = dest.book_home("alice");
    theirs
        .create_address_book(&format!("{home}work/"), "Work")
        .await
        .unwrap();
    theirs
        .put_new(
            &format!("{home}work/zoe.vcf"),
            VCARD,
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:zoe\r\nFN:Zoe\r\nN:;Zoe;;;\r\nEND:VCARD\r\n",
        )
        .await
        .unwrap();
    theirs
        .create_address_book(&format!("{home}family/"), "Friends & family")
        .await
        .unwrap();
    theirs
        .put_new(
            &format!("{home}family/dan.vcf"),
            VCARD,
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dan\r\nFN:Dan\r\nN:;Dan;;;\r\nEND:VCARD\r\n",
        )
        .await
        .unwrap();
    let bob = cards()
        .into_iter()
        .find(|(n, _)| *n == "bob.vcf")
        .unwrap()
        .1;
    theirs
        .put_new(
            &format!("{home}family/synced-bob.vcf"),
            VCARD,
            bob.as_bytes(),
        )
        .await
        .unwrap();
    let before = books(dest).await;
    let source_books = books(source).await;
    assert_eq!(source_books["Friends & family"].len(), 4);

    let run = GroupwareRun::new(
        Side {
            imap: &imap.0,
            dav: Some(source),
            email: "alice@example.test",
            password: "source-pw",
        },
        Side {
            imap: &imap.1,
            dav: Some(dest),
            email: "alice@example.test",
            password: "dest-pw",
        },
        "contacts, contact_groups",
    );
    run.run()
        .success()
        .stdout_has("found 5, copied 4, present 1, skipped 0, failed 0");
    let after = books(dest).await;
    // One "Friends & family": the destination's own, reused.
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        ["Colleagues", "Friends & family", "Work"],
        "{after:?}"
    );
    assert_eq!(after["Work"], before["Work"]);
    let family = &after["Friends & family"];
    assert_eq!(
        family.keys().collect::<Vec<_>>(),
        [
            "ada.vcf",
            "chloe.vcf",
            "close-friends.vcf",
            "dan.vcf",
            "synced-bob.vcf"
        ],
        "{family:?}"
    );
    // Each card as the destination book accepts it: Xandikos says it takes
    // vCard 3.0 only (in an element of its own), so 4.0 cards arrive in
    // 3.0 there; Radicale says nothing and gets them as they are.
    let dest_book = dest
        .books("alice")
        .address_books()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.href.ends_with("/family/"))
        .unwrap();
    let expected_versions: &[&str] = match to {
        DavKind::Xandikos => &["3.0"],
        DavKind::Radicale => &[],
    };
    assert_eq!(dest_book.address_versions, expected_versions);
    for (name, card) in cards().into_iter().filter(|(n, _)| *n != "bob.vcf") {
        let expected = for_destination(card.as_bytes(), &dest_book.address_versions);
        assert_eq!(
            properties(&family[name]),
            properties(std::str::from_utf8(&expected).unwrap()),
            "{name}"
        );
    }
    assert!(
        family["ada.vcf"].contains(&photo()),
        "{}",
        family["ada.vcf"]
    );
    let member = match to {
        DavKind::Xandikos => "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:ada-1815",
        DavKind::Radicale => "MEMBER:urn:uuid:ada-1815",
    };
    assert!(
        family["close-friends.vcf"].contains(member),
        "{}",
        family["close-friends.vcf"]
    );

    let stages = run.report().to_string();
    assert!(stages.contains("\"contacts\""), "{stages}");
    assert!(stages.contains("\"contact_groups\""), "{stages}");

    // A second run adds nothing.
    run.run().success().stdout_has("copied 0,");
    assert_eq!(books(dest).await, after);

    // Both sources offer sync-collection: the next pass asks each book
    // only what changed since its token, and copies just the one card
    // added.
    let conn = rusqlite::Connection::open(run.state()).unwrap();
    let tokens: i64 = conn
        .query_row("SELECT count(*) FROM dav_sync_tokens", [], |row| row.get(0))
        .unwrap();
    assert_eq!(tokens, 4, "2 books, 2 stages");
    drop(conn);
    dav.put_new(
        &format!("{colleagues}frank.vcf"),
        VCARD,
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:frank\r\nFN:Frank\r\nN:;Frank;;;\r\nEND:VCARD\r\n",
    )
    .await
    .unwrap();
    run.run()
        .success()
        .stdout_has("found 6, copied 1, present 5, skipped 0, failed 0");

    // The undo manifest lists what was created.
    let undo = run.undo_manifest();
    assert_eq!(
        undo["contacts"]["cards"].as_array().unwrap().len(),
        5,
        "{undo}"
    );
    assert_eq!(
        undo["contacts"]["address_books"],
        serde_json::json!([format!("{home}colleagues/")]),
        "{undo}"
    );

    run.undo()
        .success()
        .stdout_has("Contacts: 5 vCards deleted, 1 address books deleted");
    assert_eq!(books(dest).await, before);
    // The source is untouched (but for the card added).
    let mut now = books(source).await;
    now.get_mut("Colleagues").unwrap().remove("frank.vcf");
    assert_eq!(now, source_books);
}
