//! The entry IDs a distribution list names its members by
//! (`PidLidDistributionListMembers`, `PidLidDistributionListOneOffMembers`):
//! a WrappedEntryId ([MS-OXOCNTC] 2.2.2.2.4.1.1) around the entry ID of a
//! contact or list of the same store, or a one-off entry ID ([MS-OXCDATA]
//! 2.2.5.1) that carries a name and an address itself.

use encoding_rs::WINDOWS_1252;

use super::names::utf16;

/// The provider UID of a WrappedEntryId.
const WRAPPED: [u8; 16] = [
    0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, 0x00, 0x47, 0xFA, 0xA4,
];
/// The provider UID of a one-off entry ID.
const ONE_OFF: [u8; 16] = [
    0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02,
];
/// A one-off entry ID's flag: its strings are UTF-16 (`MAPI_ONE_OFF_UNICODE`).
const ONE_OFF_UNICODE: u16 = 0x8000;

/// What a member entry ID points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A contact or distribution list of this store, by node ID.
    Item(u32),
    /// An address carried by the entry ID itself.
    OneOff(OneOff),
    /// Something this file cannot resolve, said in words.
    Elsewhere(&'static str),
}

/// The recipient a one-off entry ID describes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOff {
    pub name: Option<String>,
    /// `SMTP`, `EX`...
    pub address_type: Option<String>,
    pub address: Option<String>,
}

impl OneOff {
    /// The address when it is an Internet one.
    pub fn smtp(&self) -> Option<&str> {
        let smtp = self
            .address_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("SMTP"));
        self.address.as_deref().filter(|a| smtp && is_email(a))
    }
}

/// Whether `text` looks like an Internet mail address (and can stand in a
/// content line as it is).
pub fn is_email(text: &str) -> bool {
    text.contains('@') && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What a member entry ID of a list of the store whose
/// `PidTagRecordKey` is `record_key` points to.
pub fn member(entry: &[u8], record_key: &[u8]) -> Member {
    match provider(entry) {
        Some(p) if p == ONE_OFF => match one_off(entry) {
            Some(o) => Member::OneOff(o),
            None => Member::Elsewhere("a damaged one-off address"),
        },
        Some(p) if p == WRAPPED => wrapped(entry, record_key),
        _ => Member::Elsewhere("an entry ID of an unknown kind"),
    }
}

/// The provider UID of an entry ID (after its 4 flag bytes).
fn provider(entry: &[u8]) -> Option<&[u8]> {
    entry.get(4..20)
}

fn wrapped(entry: &[u8], record_key: &[u8]) -> Member {
    let (Some(kind), Some(embedded)) = (entry.get(20), entry.get(21..)) else {
        return Member::Elsewhere("a damaged entry ID");
    };
    match kind & 0x0F {
        0 => match one_off(embedded) {
            Some(o) => Member::OneOff(o),
            None => Member::Elsewhere("a damaged one-off address"),
        },
        // A contact or a list: a PST entry ID (flags, the store's record
        // key, the node ID).
        3 | 4 => match (embedded.get(4..20), embedded.get(20..24)) {
            (Some(store), Some(node)) if embedded.len() == 24 && store == record_key => {
                Member::Item(u32::from_le_bytes([node[0], node[1], node[2], node[3]]))
            }
            _ => Member::Elsewhere("an item of another Outlook store"),
        },
        5 | 6 => Member::Elsewhere("an entry of an Exchange address list"),
        _ => Member::Elsewhere("an entry ID of an unknown kind"),
    }
}

/// The members of a list's `PidLidDistributionListStream` ([MS-OXOCNTC]
/// 2.2.2.2.4), where Outlook keeps lists too long for the two
/// multi-valued properties: each member's entry ID and its one-off twin
/// (empty when it has none). `None` when the stream is not one.
pub fn stream_members(stream: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    /// Version, reserved, build, flags, count and the three total sizes.
    const HEADER: usize = 28;
    let word = |at: usize| {
        stream
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if stream.get(..2)? != [1, 0] {
        return None;
    }
    let count = word(12)?;
    let mut at = HEADER;
    let mut take = || {
        let size = usize::try_from(word(at)?).ok()?;
        let start = at + 4;
        let bytes = stream.get(start..start.checked_add(size)?)?;
        at = start + size;
        Some(bytes)
    };
    let mut members = Vec::new();
    for _ in 0..count {
        let entry = take()?;
        let one_off = take()?;
        // Extra member information: unused, skipped.
        take()?;
        members.push((entry, one_off));
    }
    Some(members)
}

/// A one-off entry ID: flags, provider, version, a 16-bit flag word,
/// then display name, address type and address, each ended by a zero,
/// in UTF-16 or 8-bit characters as the flag word says.
pub fn one_off(entry: &[u8]) -> Option<OneOff> {
    if provider(entry)? != ONE_OFF {
        return None;
    }
    let flags = entry.get(22..24)?;
    let unicode = u16::from_le_bytes([flags[0], flags[1]]) & ONE_OFF_UNICODE != 0;
    let mut rest = entry.get(24..)?;
    let mut fields = Vec::with_capacity(3);
    for _ in 0..3 {
        let (text, after) = if unicode {
            let end = rest.chunks_exact(2).position(|u| u == [0, 0])? * 2;
            (utf16(&rest[..end]), &rest[end + 2..])
        } else {
            let end = rest.iter().position(|b| *b == 0)?;
            let text = WINDOWS_1252.decode(&rest[..end]).0.into_owned();
            (text, &rest[end + 1..])
        };
        fields.push((!text.is_empty()).then_some(text));
        rest = after;
    }
    let mut fields = fields.into_iter();
    Some(OneOff {
        name: fields.next().flatten(),
        address_type: fields.next().flatten(),
        address: fields.next().flatten(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-off entry ID as Outlook writes one.
    pub(crate) fn one_off_entry(name: &str, kind: &str, address: &str, unicode: bool) -> Vec<u8> {
        let mut out = vec![0; 4];
        out.extend_from_slice(&ONE_OFF);
        out.extend_from_slice(&[0, 0]);
        let flags: u16 = if unicode { 0x8000 | 0x0190 } else { 0x0190 };
        out.extend_from_slice(&flags.to_le_bytes());
        for text in [name, kind, address] {
            if unicode {
                out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&WINDOWS_1252.encode(text).0);
                out.push(0);
            }
        }
        out
    }

    /// A WrappedEntryId around the PST entry ID of a contact (`kind` 3)
    /// or list (4).
    pub(crate) fn wrapped_entry(kind: u8, record_key: &[u8], node: u32) -> Vec<u8> {
        let mut out = vec![0; 4];
        out.extend_from_slice(&WRAPPED);
        out.push(0x80 | kind);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(record_key);
        out.extend_from_slice(&node.to_le_bytes());
        out
    }

    #[test]
    fn one_off_entries_give_name_type_and_address_in_both_forms() {
        let unicode = one_off_entry("Zoë Ωmega 日本", "SMTP", "zoe@example.org", true);
        let expected = OneOff {
            name: Some("Zoë Ωmega 日本".into()),
            address_type: Some("SMTP".into()),
            address: Some("zoe@example.org".into()),
        };
        assert_eq!(member(&unicode, &[7; 16]), Member::OneOff(expected.clone()));
        assert_eq!(expected.smtp(), Some("zoe@example.org"));
        let ansi = one_off_entry("Zoë", "SMTP", "zoe@example.org", false);
        assert_eq!(one_off(&ansi).unwrap().name.as_deref(), Some("Zoë"));
        let exchange = one_off(&one_off_entry("Ex", "EX", "/o=Org/cn=ex", true)).unwrap();
        assert_eq!(exchange.smtp(), None);
    }

    #[test]
    fn wrapped_entries_point_into_this_store_or_elsewhere() {
        let key = [7; 16];
        assert_eq!(
            member(&wrapped_entry(3, &key, 0x2024), &key),
            Member::Item(0x2024)
        );
        assert_eq!(
            member(&wrapped_entry(4, &key, 0x2044), &key),
            Member::Item(0x2044)
        );
        assert!(matches!(
            member(&wrapped_entry(3, &[8; 16], 0x2024), &key),
            Member::Elsewhere(_)
        ));
        assert!(matches!(
            member(&wrapped_entry(5, &key, 0x2024), &key),
            Member::Elsewhere("an entry of an Exchange address list")
        ));
        // A one-off inside a wrapper.
        let mut inner = vec![0; 4];
        inner.extend_from_slice(&WRAPPED);
        inner.push(0);
        inner.extend(one_off_entry("A", "SMTP", "a@example.org", false));
        assert!(
            matches!(member(&inner, &key), Member::OneOff(o) if o.smtp() == Some("a@example.org"))
        );
    }

    /// A list stream with `members`, each with its one-off twin.
    pub(crate) fn stream(members: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![1, 0, 0, 0, 0x0F, 0x10, 0, 0, 0, 0, 0, 0];
        out.extend_from_slice(&u32::try_from(members.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        for (entry, one_off) in members {
            for bytes in [entry, one_off, &Vec::new()] {
                out.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_le_bytes());
                out.extend_from_slice(bytes);
            }
        }
        out.extend_from_slice(&[0; 8]);
        out
    }

    #[test]
    fn a_list_stream_gives_each_member_with_its_twin() {
        let key = [7; 16];
        let members = [
            (
                wrapped_entry(3, &key, 0x2024),
                one_off_entry("Ann", "SMTP", "ann@example.org", true),
            ),
            (
                one_off_entry("Bo", "SMTP", "bo@example.org", true),
                Vec::new(),
            ),
        ];
        let bytes = stream(&members);
        let read = stream_members(&bytes).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(member(read[0].0, &key), Member::Item(0x2024));
        assert_eq!(one_off(read[0].1).unwrap().smtp(), Some("ann@example.org"));
        assert!(
            matches!(member(read[1].0, &key), Member::OneOff(o) if o.smtp() == Some("bo@example.org"))
        );
        assert!(read[1].1.is_empty());
        // Cut anywhere before the last member's end, or of another
        // version: not a stream.
        for cut in 0..bytes.len() - 8 {
            assert_eq!(stream_members(&bytes[..cut]), None, "{cut}");
        }
        let mut other = bytes.clone();
        other[0] = 2;
        assert_eq!(stream_members(&other), None);
    }

    #[test]
    fn damaged_entries_are_said_never_a_panic() {
        let good = one_off_entry("Name", "SMTP", "n@example.org", true);
        for cut in 0..good.len() {
            let result = member(&good[..cut], &[7; 16]);
            assert!(matches!(result, Member::Elsewhere(_)), "{cut}: {result:?}");
        }
        let wrapped = wrapped_entry(3, &[7; 16], 1);
        for cut in 0..wrapped.len() {
            assert!(matches!(
                member(&wrapped[..cut], &[7; 16]),
                Member::Elsewhere(_)
            ));
        }
    }
}
