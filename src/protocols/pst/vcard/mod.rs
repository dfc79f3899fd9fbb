//! PST contacts and distribution lists as vCard 3.0 (RFC 2426): what a
//! CardDAV address book stores.
//!
//! A contact ([MS-OXOCNTC] 2.2.1) gives its names, company, e-mail
//! addresses, telephone numbers, postal addresses, dates, notes,
//! categories and picture (here). A distribution list (2.2.2) becomes a
//! group ([`group`]). [`card`] writes the content lines. Output is
//! deterministic: the same item gives the same bytes.

mod card;
mod group;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Duration;

use super::entry_id::is_email;
use super::item::{Key, MapiItem, PSETID_ADDRESS};
use card::Card;

pub use group::{Group, group};

// Tagged properties of a contact ([MS-OXOCNTC] 2.2.1).
/// `PidTagDisplayName`, which lists have too.
pub(super) const DISPLAY_NAME: u16 = 0x3001;
const GENERATION: u16 = 0x3A05;
const GIVEN_NAME: u16 = 0x3A06;
const SURNAME: u16 = 0x3A11;
const COMPANY_NAME: u16 = 0x3A16;
const TITLE: u16 = 0x3A17;
const DEPARTMENT_NAME: u16 = 0x3A18;
const WEDDING_ANNIVERSARY: u16 = 0x3A41;
const BIRTHDAY: u16 = 0x3A42;
const MIDDLE_NAME: u16 = 0x3A44;
const DISPLAY_NAME_PREFIX: u16 = 0x3A45;
const PROFESSION: u16 = 0x3A46;
const NICKNAME: u16 = 0x3A4F;
const PERSONAL_HOME_PAGE: u16 = 0x3A50;
const BUSINESS_HOME_PAGE: u16 = 0x3A51;

// Named properties of a contact, in PSETID_Address.
const FILE_UNDER: u32 = 0x8005;
const HTML: u32 = 0x802B;
const INSTANT_MESSAGING_ADDRESS: u32 = 0x8062;
/// `PidLidEmail1DisplayName`; Email2 and Email3 follow 0x10 and 0x20
/// further, each with its address type (+2), address (+3) and original
/// display name (+4).
const EMAIL1: u32 = 0x8080;
const BIRTHDAY_LOCAL: u32 = 0x80DE;
const WEDDING_ANNIVERSARY_LOCAL: u32 = 0x80DF;

/// Telephone numbers and their vCard types, in the order written.
const PHONES: [(u16, &str); 13] = [
    (0x3A1A, "PREF,VOICE"), // primary
    (0x3A08, "WORK,VOICE"), // business
    (0x3A1B, "WORK,VOICE"), // business 2
    (0x3A09, "HOME,VOICE"), // home
    (0x3A2F, "HOME,VOICE"), // home 2
    (0x3A1C, "CELL,VOICE"), // mobile
    (0x3A1E, "CAR,VOICE"),  // car
    (0x3A1F, "VOICE"),      // other
    (0x3A21, "PAGER"),
    (0x3A2D, "ISDN"),
    (0x3A24, "WORK,FAX"),
    (0x3A25, "HOME,FAX"),
    (0x3A23, "FAX"), // primary fax
];

/// Where a postal address's parts are: PO box, street, city, region,
/// postal code, country.
enum Parts {
    Tags([u16; 6]),
    Lids([u32; 6]),
}

/// Postal addresses and their vCard types.
const ADDRESSES: [(Parts, &str); 3] = [
    (
        Parts::Tags([0x3A5E, 0x3A5D, 0x3A59, 0x3A5C, 0x3A5B, 0x3A5A]),
        "ADR;TYPE=HOME",
    ),
    (
        Parts::Lids([0x804A, 0x8045, 0x8046, 0x8047, 0x8048, 0x8049]),
        "ADR;TYPE=WORK",
    ),
    (
        Parts::Tags([0x3A64, 0x3A63, 0x3A5F, 0x3A62, 0x3A61, 0x3A60]),
        "ADR;TYPE=POSTAL",
    ),
];

/// A contact as a vCard 3.0 whose UID is `uid`.
pub fn contact(item: &MapiItem, uid: &str) -> Vec<u8> {
    let tag = |id| item.text(&Key::Tag(id));
    let lid = |id| item.text(&Key::Lid(PSETID_ADDRESS, id));
    let emails = emails(item);
    let mut card = Card::new(uid);
    let given_and_surname = [tag(GIVEN_NAME), tag(MIDDLE_NAME), tag(SURNAME)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let full_name = tag(DISPLAY_NAME)
        .or_else(|| lid(FILE_UNDER))
        .or((!given_and_surname.is_empty()).then_some(given_and_surname.as_str()))
        .or_else(|| tag(COMPANY_NAME))
        .or(emails.first().map(String::as_str))
        .unwrap_or_default();
    card.text("FN", full_name);
    // N is required in 3.0, empty or not.
    card.structured(
        "N",
        &[
            tag(SURNAME),
            tag(GIVEN_NAME),
            tag(MIDDLE_NAME),
            tag(DISPLAY_NAME_PREFIX),
            tag(GENERATION),
        ],
    );
    card.optional("NICKNAME", tag(NICKNAME));
    // The organisation, then its unit when there is one.
    match (tag(COMPANY_NAME), tag(DEPARTMENT_NAME)) {
        (company, Some(unit)) => card.structured("ORG", &[company, Some(unit)]),
        (Some(company), None) => card.text("ORG", company),
        (None, None) => {}
    }
    card.optional("TITLE", tag(TITLE));
    card.optional("ROLE", tag(PROFESSION));
    for (n, email) in emails.iter().enumerate() {
        let head = if n == 0 {
            "EMAIL;TYPE=INTERNET,PREF"
        } else {
            "EMAIL;TYPE=INTERNET"
        };
        card.text(head, email);
    }
    for (id, types) in PHONES {
        if let Some(number) = tag(id) {
            card.text(&format!("TEL;TYPE={types}"), number);
        }
    }
    for (parts, head) in &ADDRESSES {
        let [po_box, street, city, region, code, country] = match parts {
            Parts::Tags(ids) => ids.map(tag),
            Parts::Lids(ids) => ids.map(lid),
        };
        if [po_box, street, city, region, code, country]
            .iter()
            .any(Option::is_some)
        {
            card.structured(head, &[po_box, None, street, city, region, code, country]);
        }
    }
    if let Some(day) = date(item, BIRTHDAY_LOCAL, BIRTHDAY) {
        card.line("BDAY;VALUE=DATE", &day);
    }
    if let Some(day) = date(item, WEDDING_ANNIVERSARY_LOCAL, WEDDING_ANNIVERSARY) {
        card.line("X-ANNIVERSARY;VALUE=DATE", &day);
    }
    card.optional("URL;TYPE=HOME", tag(PERSONAL_HOME_PAGE));
    card.optional(
        "URL;TYPE=WORK",
        tag(BUSINESS_HOME_PAGE).or_else(|| lid(HTML)),
    );
    if let Some(im) = lid(INSTANT_MESSAGING_ADDRESS) {
        // A URI (`xmpp:`, `sip:`) is an IMPP (RFC 4770); anything else is
        // kept where Outlook's own vCards keep it.
        let head = if has_scheme(im) {
            "IMPP"
        } else {
            "X-MS-IMADDRESS"
        };
        card.text(head, im);
    }
    if let Some(photo) = &item.photo {
        let head = match image_type(photo) {
            Some(kind) => format!("PHOTO;ENCODING=b;TYPE={kind}"),
            None => "PHOTO;ENCODING=b".to_owned(),
        };
        card.line(&head, &BASE64.encode(photo));
    }
    card.common(item);
    card.finish()
}

/// The contact's Internet addresses, Email1 to Email3, each once. An
/// Exchange address (`EX`) stands for its SMTP address when Outlook kept
/// one as the original display name.
fn emails(item: &MapiItem) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for base in [EMAIL1, EMAIL1 + 0x10, EMAIL1 + 0x20] {
        let text = |offset| item.text(&Key::Lid(PSETID_ADDRESS, base + offset));
        let address = match text(2) {
            Some(kind) if kind.eq_ignore_ascii_case("EX") => text(4),
            Some(kind) if !kind.eq_ignore_ascii_case("SMTP") => None,
            _ => text(3),
        };
        if let Some(address) = address.map(str::trim).filter(|a| is_email(a))
            && !out.iter().any(|o| o.eq_ignore_ascii_case(address))
        {
            out.push(address.to_owned());
        }
    }
    out
}

/// A date as `YYYY-MM-DD`: the local-midnight property when there
/// (stored without time zone conversion), else the UTC one, taken to the
/// nearest day since it is midnight in the zone of whoever wrote it.
fn date(item: &MapiItem, local: u32, utc: u16) -> Option<String> {
    let day = match item.time(&Key::Lid(PSETID_ADDRESS, local)) {
        Some(t) => t.date_naive(),
        None => (item.time(&Key::Tag(utc))? + Duration::hours(12)).date_naive(),
    };
    Some(day.format("%Y-%m-%d").to_string())
}

/// Whether `text` starts with a URI scheme (`xmpp:`, `sip:`...).
fn has_scheme(text: &str) -> bool {
    text.split_once(':').is_some_and(|(scheme, _)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// The vCard 3.0 `TYPE` of a picture, from its first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("JPEG")
    } else if bytes.starts_with(b"\x89PNG") {
        Some("PNG")
    } else if bytes.starts_with(b"GIF8") {
        Some("GIF")
    } else if bytes.starts_with(b"BM") {
        Some("BMP")
    } else {
        None
    }
}

#[cfg(test)]
pub(super) mod tests {
    use chrono::{TimeZone, Utc};

    use super::super::item::{Guid, PS_PUBLIC_STRINGS, Value};
    use super::*;

    pub(super) fn item(class: &str, props: Vec<(Key, Value)>) -> MapiItem {
        MapiItem {
            node: 0x2024,
            class: class.into(),
            props: props.into_iter().collect(),
            ..MapiItem::default()
        }
    }

    pub(super) fn tag(id: u16, text: &str) -> (Key, Value) {
        (Key::Tag(id), Value::Text(text.into()))
    }

    pub(super) fn lid(set: Guid, id: u32, value: Value) -> (Key, Value) {
        (Key::Lid(set, id), value)
    }

    pub(super) fn address(id: u32, text: &str) -> (Key, Value) {
        lid(PSETID_ADDRESS, id, Value::Text(text.into()))
    }

    pub(super) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Value {
        Value::Time(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
    }

    /// The card as text with its folds undone.
    pub(super) fn unfolded(card: &[u8]) -> String {
        String::from_utf8(card.to_vec())
            .unwrap()
            .replace("\r\n ", "")
    }

    #[test]
    fn a_contact_gives_every_field() {
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let mut contact = item(
            "IPM.Contact",
            vec![
                tag(0x3001, "Dr. Jane Q. Doe, Jr."),
                tag(0x3A11, "Doe"),
                tag(0x3A06, "Jane"),
                tag(0x3A44, "Quincy"),
                tag(0x3A45, "Dr."),
                tag(0x3A05, "Jr."),
                tag(0x3A4F, "JD"),
                tag(0x3A16, "Acme; Inc."),
                tag(0x3A18, "R&D"),
                tag(0x3A17, "Chief, Widgets"),
                tag(0x3A46, "Engineer"),
                address(0x8082, "SMTP"),
                address(0x8083, "jane@example.org"),
                // An Exchange address with its SMTP form kept.
                address(0x8092, "EX"),
                address(0x8093, "/o=Acme/ou=First/cn=Recipients/cn=jane"),
                address(0x8094, "jane.doe@acme.example"),
                // The same address again, in other case: once only.
                address(0x80A2, "SMTP"),
                address(0x80A3, "JANE@example.org"),
                tag(0x3A08, "+1 555 0100"),
                tag(0x3A09, "+1 555 0101"),
                tag(0x3A1C, "+1 555 0102"),
                tag(0x3A24, "+1 555 0103"),
                tag(0x3A5D, "1 Main St\r\nApt 2"),
                tag(0x3A59, "Springfield"),
                tag(0x3A5C, "IL"),
                tag(0x3A5B, "62701"),
                tag(0x3A5A, "USA"),
                address(0x8045, "2 Work Rd"),
                address(0x8046, "Shelbyville"),
                address(0x8048, "62565"),
                address(0x8049, "USA"),
                // Midnight in UTC+2, stored in UTC: the 1st of June.
                (Key::Tag(0x3A42), at(1980, 5, 31, 22, 0)),
                // Local midnight, without conversion: the 12th of May.
                lid(PSETID_ADDRESS, 0x80DF, at(2010, 5, 12, 0, 0)),
                (Key::Tag(0x3A41), at(2010, 5, 11, 22, 0)),
                tag(0x3A50, "https://jane.example.org/"),
                address(0x802B, "https://acme.example/"),
                address(0x8062, "xmpp:jane@example.org"),
                tag(0x1000, "Met at a conference.\r\nLikes tea, not coffee."),
                (
                    Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()),
                    Value::Texts(vec!["Friends".into(), "Work, misc".into()]),
                ),
                (Key::Tag(0x3008), at(2024, 1, 31, 12, 30)),
            ],
        );
        contact.photo = Some(jpeg.clone());
        let card = contact_card(&contact);
        let expected = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "UID:uid-1",
            "FN:Dr. Jane Q. Doe\\, Jr.",
            "N:Doe;Jane;Quincy;Dr.;Jr.",
            "NICKNAME:JD",
            "ORG:Acme\\; Inc.;R&D",
            "TITLE:Chief\\, Widgets",
            "ROLE:Engineer",
            "EMAIL;TYPE=INTERNET,PREF:jane@example.org",
            "EMAIL;TYPE=INTERNET:jane.doe@acme.example",
            "TEL;TYPE=WORK,VOICE:+1 555 0100",
            "TEL;TYPE=HOME,VOICE:+1 555 0101",
            "TEL;TYPE=CELL,VOICE:+1 555 0102",
            "TEL;TYPE=WORK,FAX:+1 555 0103",
            "ADR;TYPE=HOME:;;1 Main St\\nApt 2;Springfield;IL;62701;USA",
            "ADR;TYPE=WORK:;;2 Work Rd;Shelbyville;;62565;USA",
            "BDAY;VALUE=DATE:1980-06-01",
            "X-ANNIVERSARY;VALUE=DATE:2010-05-12",
            "URL;TYPE=HOME:https://jane.example.org/",
            "URL;TYPE=WORK:https://acme.example/",
            "IMPP:xmpp:jane@example.org",
            &format!("PHOTO;ENCODING=b;TYPE=JPEG:{}", BASE64.encode(&jpeg)),
            "NOTE:Met at a conference.\\nLikes tea\\, not coffee.",
            "CATEGORIES:Friends,Work\\, misc",
            "REV:20240131T123000Z",
            "END:VCARD",
            "",
        ]
        .join("\r\n");
        assert_eq!(unfolded(&card), expected);
        // The same item gives the same bytes.
        assert_eq!(contact_card(&contact), card);
    }

    fn contact_card(item: &MapiItem) -> Vec<u8> {
        contact(item, "uid-1")
    }

    #[test]
    fn a_contact_with_only_an_address_is_named_after_it() {
        let contact = item(
            "IPM.Contact",
            vec![
                address(0x8083, "solo@example.org"),
                address(0x8062, "solo_im"),
                // PidLidBirthdayLocal wins over PidTagBirthday.
                lid(PSETID_ADDRESS, 0x80DE, at(1975, 3, 4, 0, 0)),
                (Key::Tag(0x3A42), at(1975, 3, 3, 23, 0)),
            ],
        );
        let card = unfolded(&contact_card(&contact));
        assert!(
            card.contains("\r\nFN:solo@example.org\r\nN:;;;;\r\n"),
            "{card}"
        );
        assert!(card.contains("\r\nX-MS-IMADDRESS:solo_im\r\n"), "{card}");
        assert!(
            card.contains("\r\nBDAY;VALUE=DATE:1975-03-04\r\n"),
            "{card}"
        );
        assert!(!card.contains("ORG") && !card.contains("ADR"), "{card}");
        // An Exchange address without an SMTP form is no e-mail.
        let exchange = item(
            "IPM.Contact",
            vec![
                tag(0x3001, "Ex"),
                address(0x8082, "EX"),
                address(0x8083, "/o=Acme/cn=ex"),
            ],
        );
        assert!(!unfolded(&contact_card(&exchange)).contains("EMAIL"));
    }

    #[test]
    fn long_non_ascii_lines_fold_at_75_octets_between_characters() {
        let name = "Ζωή Παπαδοπούλου-Αλεξανδροπούλου 日本語の名前もとても長い名前です 😀😀😀";
        let contact = item("IPM.Contact", vec![tag(0x3001, name), tag(0x3A11, name)]);
        let card = contact_card(&contact);
        let text = String::from_utf8(card.clone()).expect("every fold between characters");
        assert!(text.ends_with("END:VCARD\r\n"));
        let mut folded = 0;
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
            folded += usize::from(line.starts_with(' '));
        }
        assert!(folded >= 2, "{text}");
        assert!(unfolded(&card).contains(&format!("\r\nFN:{name}\r\n")));
        // Only CRLF line ends.
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
    }

    #[test]
    fn a_photo_of_another_kind_keeps_its_type_or_says_none() {
        let mut contact = item("IPM.Contact", vec![tag(0x3001, "P")]);
        contact.photo = Some(b"\x89PNG\r\n\x1a\n".to_vec());
        assert!(
            unfolded(&contact_card(&contact)).contains("PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=")
        );
        contact.photo = Some(b"????".to_vec());
        assert!(unfolded(&contact_card(&contact)).contains("\r\nPHOTO;ENCODING=b:Pz8/Pw==\r\n"));
    }
}
