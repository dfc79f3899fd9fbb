//! PST contacts and distribution lists as vCard 3.0 (RFC 2426): what a
//! CardDAV address book stores.
//!
//! A contact ([MS-OXOCNTC] 2.2.1) gives its names, company, e-mail
//! addresses, telephone numbers, postal addresses, dates, notes,
//! categories and picture. A distribution list (2.2.2) becomes a group in
//! Apple's form (`X-ADDRESSBOOKSERVER-KIND:group`), which the contact
//! group code of the destination side understands: a member that is a
//! contact or list of the same file is named by that item's UID, a
//! one-off address by `mailto:`. Output is deterministic: the same item
//! gives the same bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, Utc};

use super::entry_id::{self, Member, OneOff, is_email};
use super::item::{Key, MapiItem, PS_PUBLIC_STRINGS, PSETID_ADDRESS};
use crate::stages::content_line::fold;

// Tagged properties of a contact ([MS-OXOCNTC] 2.2.1).
const SUBJECT: u16 = 0x0037;
const BODY: u16 = 0x1000;
const DISPLAY_NAME: u16 = 0x3001;
const LAST_MODIFICATION_TIME: u16 = 0x3008;
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

// Named properties of a contact or list, in PSETID_Address.
const FILE_UNDER: u32 = 0x8005;
const HTML: u32 = 0x802B;
const DISTRIBUTION_LIST_NAME: u32 = 0x8053;
const DISTRIBUTION_LIST_ONE_OFF_MEMBERS: u32 = 0x8054;
const DISTRIBUTION_LIST_MEMBERS: u32 = 0x8055;
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

/// A distribution list as a vCard, and what had to be left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub card: Vec<u8>,
    /// Members that are neither an item of this file nor an Internet
    /// address, in words, for the report.
    pub warnings: Vec<String>,
}

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
    if tag(COMPANY_NAME).is_some() || tag(DEPARTMENT_NAME).is_some() {
        card.structured("ORG", &[tag(COMPANY_NAME), tag(DEPARTMENT_NAME)]);
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

/// A distribution list as a vCard 3.0 group whose UID is `uid`.
/// `member_uid` gives the UID of a contact or list of the file by node
/// ID (`None` when the file has no such item); `record_key` is the
/// store's, which entry IDs into the same file carry.
pub fn group(
    item: &MapiItem,
    uid: &str,
    member_uid: &dyn Fn(u32) -> Option<String>,
    record_key: &[u8],
) -> Group {
    let address = |id| Key::Lid(PSETID_ADDRESS, id);
    let name = item
        .text(&address(DISTRIBUTION_LIST_NAME))
        .or_else(|| item.text(&Key::Tag(DISPLAY_NAME)))
        .or_else(|| item.text(&Key::Tag(SUBJECT)))
        .unwrap_or("Distribution list");
    let mut card = Card::new(uid);
    card.text("FN", name);
    card.structured("N", &[Some(name), None, None, None, None]);
    card.line("X-ADDRESSBOOKSERVER-KIND", "group");
    let one_offs = item.binaries(&address(DISTRIBUTION_LIST_ONE_OFF_MEMBERS));
    let mut members = item.binaries(&address(DISTRIBUTION_LIST_MEMBERS));
    if members.is_empty() {
        members = one_offs;
    }
    let mut written = Vec::new();
    let mut warnings = Vec::new();
    for (n, entry) in members.iter().enumerate() {
        // The one-off twin at the same place says the member's address
        // when its own entry cannot.
        let twin = one_offs.get(n).and_then(|e| entry_id::one_off(e));
        let member = entry_id::member(entry, record_key);
        let uri = match &member {
            Member::Item(node) => member_uid(*node)
                .map(|uid| format!("urn:uuid:{uid}"))
                .ok_or("the contact it names is not in this file"),
            Member::OneOff(one_off) => mailto(one_off).ok_or("it has no Internet address"),
            Member::Elsewhere(what) => Err(*what),
        }
        .or_else(|reason| twin.as_ref().and_then(mailto).ok_or(reason));
        match uri {
            Ok(uri) if !written.contains(&uri) => {
                card.line("X-ADDRESSBOOKSERVER-MEMBER", &uri);
                written.push(uri);
            }
            Ok(_) => {}
            Err(reason) => {
                let described = match &member {
                    Member::OneOff(own) => Some(own),
                    _ => twin.as_ref(),
                };
                let who = described
                    .and_then(|o| o.name.as_ref().or(o.address.as_ref()))
                    .map_or_else(|| format!("member {}", n + 1), |w| format!("member {w}"));
                warnings.push(format!("{who} of the list {name} is left out ({reason})"));
            }
        }
    }
    card.common(item);
    Group {
        card: card.finish(),
        warnings,
    }
}

/// A one-off member's `mailto:` URI, when it has an Internet address.
fn mailto(one_off: &OneOff) -> Option<String> {
    one_off.smtp().map(|a| format!("mailto:{a}"))
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

/// `text` as a vCard text value: backslash, comma, semicolon and line
/// breaks escaped (RFC 2426 §4).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | ',' | ';' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A vCard being written: content lines ending in CRLF, folded at 75
/// octets.
struct Card {
    out: Vec<u8>,
}

impl Card {
    fn new(uid: &str) -> Card {
        let mut card = Card { out: Vec::new() };
        card.line("BEGIN", "VCARD");
        card.line("VERSION", "3.0");
        card.text("UID", uid);
        card
    }

    /// A line whose value is written as it is.
    fn line(&mut self, head: &str, value: &str) {
        let mut line = Vec::with_capacity(head.len() + 1 + value.len());
        line.extend_from_slice(head.as_bytes());
        line.push(b':');
        line.extend_from_slice(value.as_bytes());
        fold(&line, b"\r\n", &mut self.out);
    }

    /// A text value, escaped.
    fn text(&mut self, head: &str, value: &str) {
        self.line(head, &escape(value));
    }

    fn optional(&mut self, head: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(head, value);
        }
    }

    /// A structured value (`N`, `ADR`, `ORG`): each part escaped, parts
    /// joined by `;`.
    fn structured(&mut self, head: &str, parts: &[Option<&str>]) {
        let value: Vec<String> = parts.iter().map(|p| escape(p.unwrap_or(""))).collect();
        self.line(head, &value.join(";"));
    }

    /// What contacts and lists both have: notes, categories, revision.
    fn common(&mut self, item: &MapiItem) {
        self.optional("NOTE", item.text(&Key::Tag(BODY)));
        let categories: Vec<String> = item
            .texts(&Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()))
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| escape(c))
            .collect();
        if !categories.is_empty() {
            self.line("CATEGORIES", &categories.join(","));
        }
        if let Some(modified) = item.time(&Key::Tag(LAST_MODIFICATION_TIME)) {
            self.line("REV", &timestamp(modified));
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.line("END", "VCARD");
        self.out
    }
}

/// A UTC time as vCard writes it (`20240131T120000Z`).
fn timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::entry_id::tests::{one_off_entry, wrapped_entry};
    use super::super::item::{Guid, Value};
    use super::*;

    fn item(class: &str, props: Vec<(Key, Value)>) -> MapiItem {
        MapiItem {
            node: 0x2024,
            class: class.into(),
            props: props.into_iter().collect(),
            ..MapiItem::default()
        }
    }

    fn tag(id: u16, text: &str) -> (Key, Value) {
        (Key::Tag(id), Value::Text(text.into()))
    }

    fn lid(set: Guid, id: u32, value: Value) -> (Key, Value) {
        (Key::Lid(set, id), value)
    }

    fn address(id: u32, text: &str) -> (Key, Value) {
        lid(PSETID_ADDRESS, id, Value::Text(text.into()))
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Value {
        Value::Time(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
    }

    /// The card as text with its folds undone.
    fn unfolded(card: &[u8]) -> String {
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

    #[test]
    fn a_list_names_its_members_by_uid_or_address_and_says_what_it_leaves_out() {
        let key = [7u8; 16];
        let members = vec![
            // A contact of this file.
            wrapped_entry(3, &key, 0x2044),
            // A nested list of this file.
            wrapped_entry(4, &key, 0x2064),
            // A one-off with a Unicode name.
            one_off_entry("Zoë 日本", "SMTP", "zoe@example.org", true),
            // A contact that is not in the file: its one-off twin answers.
            wrapped_entry(3, &key, 0x9999),
            // A contact of another store, with an Exchange twin: left out.
            wrapped_entry(3, &[8; 16], 0x2084),
            // The first contact again: once only.
            wrapped_entry(3, &key, 0x2044),
        ];
        let twins = vec![
            one_off_entry("Ann", "SMTP", "ann@example.org", true),
            one_off_entry("Team", "SMTP", "team@example.org", true),
            one_off_entry("Zoë 日本", "SMTP", "zoe@example.org", true),
            one_off_entry("Gone", "SMTP", "gone@example.org", false),
            one_off_entry("Boss", "EX", "/o=Acme/cn=boss", true),
            one_off_entry("Ann", "SMTP", "ann@example.org", true),
        ];
        let list = item(
            "IPM.DistList",
            vec![
                address(0x8053, "Friends; family"),
                tag(0x3001, "ignored"),
                lid(PSETID_ADDRESS, 0x8055, Value::Binaries(members)),
                lid(PSETID_ADDRESS, 0x8054, Value::Binaries(twins)),
                (Key::Tag(0x3008), at(2024, 2, 1, 8, 0)),
            ],
        );
        let member_uid = |node: u32| match node {
            0x2044 => Some("ann-uid".to_owned()),
            0x2064 => Some("team-uid".to_owned()),
            _ => None,
        };
        let out = group(&list, "list-uid", &member_uid, &key);
        let expected = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "UID:list-uid",
            "FN:Friends\\; family",
            "N:Friends\\; family;;;;",
            "X-ADDRESSBOOKSERVER-KIND:group",
            "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:ann-uid",
            "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:team-uid",
            "X-ADDRESSBOOKSERVER-MEMBER:mailto:zoe@example.org",
            "X-ADDRESSBOOKSERVER-MEMBER:mailto:gone@example.org",
            "REV:20240201T080000Z",
            "END:VCARD",
            "",
        ]
        .join("\r\n");
        assert_eq!(unfolded(&out.card), expected);
        assert_eq!(
            out.warnings,
            [
                "member Boss of the list Friends; family is left out (an item of another Outlook store)"
            ]
        );
        assert_eq!(group(&list, "list-uid", &member_uid, &key), out);
    }

    #[test]
    fn a_list_with_only_one_off_members_and_no_name_still_reads() {
        let list = item(
            "IPM.DistList",
            vec![lid(
                PSETID_ADDRESS,
                0x8054,
                Value::Binaries(vec![
                    one_off_entry("A", "SMTP", "a@example.org", false),
                    vec![1, 2, 3],
                ]),
            )],
        );
        let out = group(&list, "u", &|_| None, &[]);
        let card = unfolded(&out.card);
        assert!(card.contains("\r\nFN:Distribution list\r\n"), "{card}");
        assert!(card.contains("\r\nX-ADDRESSBOOKSERVER-MEMBER:mailto:a@example.org\r\n"));
        assert_eq!(
            out.warnings,
            ["member 2 of the list Distribution list is left out (an entry ID of an unknown kind)"]
        );
    }

    #[test]
    fn text_values_are_escaped() {
        // A bell character is dropped, a tab kept.
        assert_eq!(
            escape("a\\b,c;d\re\nf\r\ng\u{7}h\ti"),
            "a\\\\b\\,c\\;d\\ne\\nf\\ngh\ti"
        );
    }
}
