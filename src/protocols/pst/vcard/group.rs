//! A distribution list ([MS-OXOCNTC] 2.2.2) as a vCard 3.0 group in
//! Apple's form (`X-ADDRESSBOOKSERVER-KIND:group`), which the contact
//! group code of the destination side understands: a member that is a
//! contact or list of the same file is named by that item's UID
//! (`urn:uuid:`), a one-off address by `mailto:`.

use super::super::entry_id::{self, Member, OneOff};
use super::super::item::{Key, MapiItem, PSETID_ADDRESS};
use super::DISPLAY_NAME;
use super::card::Card;

/// `PidTagSubject`, a list's name when nothing else gives one.
const SUBJECT: u16 = 0x0037;
// Named properties of a list, in PSETID_Address.
const DISTRIBUTION_LIST_NAME: u32 = 0x8053;
/// One-off entry IDs, one for each member, in the same order.
const DISTRIBUTION_LIST_ONE_OFF_MEMBERS: u32 = 0x8054;
const DISTRIBUTION_LIST_MEMBERS: u32 = 0x8055;
/// Members and twins of a list too long for the two properties above.
const DISTRIBUTION_LIST_STREAM: u32 = 0x8064;

/// A distribution list as a vCard, and what had to be left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The vCard (version 4, `KIND:group`).
    pub card: Vec<u8>,
    /// Members that are neither an item of this file nor an Internet
    /// address, in words, for the report.
    pub warnings: Vec<String>,
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
    let mut written = Vec::new();
    let mut warnings = Vec::new();
    for (n, (entry, twin)) in members(item).into_iter().enumerate() {
        // The one-off twin says the member's address when its own entry
        // cannot.
        let twin = twin.and_then(entry_id::one_off);
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

/// A list's members, each with its one-off twin when there is one: from
/// the stream Outlook writes for long lists when there, else from the two
/// multi-valued properties (the twins at the same places).
fn members(item: &MapiItem) -> Vec<(&[u8], Option<&[u8]>)> {
    let address = |id| Key::Lid(PSETID_ADDRESS, id);
    if let Some(stream) = item
        .binary(&address(DISTRIBUTION_LIST_STREAM))
        .and_then(entry_id::stream_members)
    {
        return stream
            .into_iter()
            .map(|(entry, twin)| (entry, (!twin.is_empty()).then_some(twin)))
            .collect();
    }
    let one_offs = item.binaries(&address(DISTRIBUTION_LIST_ONE_OFF_MEMBERS));
    let mut members = item.binaries(&address(DISTRIBUTION_LIST_MEMBERS));
    if members.is_empty() {
        members = one_offs;
    }
    members
        .iter()
        .enumerate()
        .map(|(n, entry)| (entry.as_slice(), one_offs.get(n).map(Vec::as_slice)))
        .collect()
}

/// A one-off member's `mailto:` URI, when it has an Internet address.
fn mailto(one_off: &OneOff) -> Option<String> {
    one_off.smtp().map(|a| format!("mailto:{a}"))
}

#[cfg(test)]
mod tests {
    use super::super::super::entry_id::tests::{one_off_entry, stream, wrapped_entry};
    use super::super::super::item::Value;
    use super::super::tests::{address, at, item, lid, tag, unfolded};
    use super::*;

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
    fn a_long_list_reads_from_its_stream_rather_than_the_short_properties() {
        let key = [7u8; 16];
        let list = item(
            "IPM.DistList",
            vec![
                address(0x8053, "Everyone"),
                // What the short properties still say: out of date.
                lid(
                    PSETID_ADDRESS,
                    0x8055,
                    Value::Binaries(vec![wrapped_entry(3, &key, 0x2044)]),
                ),
                lid(
                    PSETID_ADDRESS,
                    0x8064,
                    Value::Binary(stream(&[
                        (
                            wrapped_entry(3, &key, 0x9999),
                            one_off_entry("Gone", "SMTP", "gone@example.org", true),
                        ),
                        (wrapped_entry(4, &key, 0x2064), Vec::new()),
                        (wrapped_entry(3, &key, 0x2084), Vec::new()),
                    ])),
                ),
            ],
        );
        let member_uid = |node: u32| (node == 0x2064).then(|| "team-uid".to_owned());
        let out = group(&list, "u", &member_uid, &key);
        let card = unfolded(&out.card);
        let members: Vec<&str> = card
            .lines()
            .filter_map(|l| l.strip_prefix("X-ADDRESSBOOKSERVER-MEMBER:"))
            .collect();
        assert_eq!(members, ["mailto:gone@example.org", "urn:uuid:team-uid"]);
        assert_eq!(
            out.warnings,
            [
                "member 3 of the list Everyone is left out (the contact it names is not in this file)"
            ]
        );
    }
}
