//! The name-to-ID map of [MS-PST] 2.4.7 (node 0x61): named properties get
//! IDs from 0x8000 in the order they are first used.

use super::ltp::utf16;
use super::ndb::crc;
use super::{Guid, PS_MAPI, PS_PUBLIC_STRINGS, Value};

/// How many hash buckets the map has (Outlook's choice).
const BUCKETS: u32 = 251;

/// A property name: a number or a string within a property set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Name {
    Lid(u32),
    String(String),
}

/// The named properties of a file being built.
#[derive(Default)]
pub struct NameMap {
    names: Vec<(Guid, Name)>,
}

impl NameMap {
    /// The property ID of `name` in `guid`, given on first use.
    pub fn id(&mut self, guid: Guid, name: Name) -> u16 {
        let at = match self.names.iter().position(|n| n.0 == guid && n.1 == name) {
            Some(at) => at,
            None => {
                self.names.push((guid, name));
                self.names.len() - 1
            }
        };
        assert!(at < 0x7FFF, "pst_writer: too many named properties");
        0x8000 + at as u16
    }

    /// The properties of node 0x61: bucket count, GUID, entry and string
    /// streams, and the hash buckets.
    pub fn properties(&self) -> Vec<(u16, Value)> {
        let mut guids: Vec<Guid> = Vec::new();
        let mut entries = Vec::new();
        let mut strings = Vec::new();
        let mut buckets: Vec<Vec<u8>> = vec![Vec::new(); BUCKETS as usize];
        for (index, (guid, name)) in self.names.iter().enumerate() {
            // wGuid: 1 and 2 name PS_MAPI and PS_PUBLIC_STRINGS, 3 and up
            // the GUID stream.
            let guid_index: u16 = if *guid == PS_MAPI {
                1
            } else if *guid == PS_PUBLIC_STRINGS {
                2
            } else {
                let at = guids.iter().position(|g| g == guid).unwrap_or_else(|| {
                    guids.push(*guid);
                    guids.len() - 1
                });
                3 + at as u16
            };
            let (id, hashed, kind) = match name {
                Name::Lid(lid) => (*lid, *lid, 0),
                Name::String(s) => {
                    let bytes = utf16(s);
                    let offset = strings.len() as u32;
                    strings.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                    strings.extend_from_slice(&bytes);
                    strings.resize(strings.len().next_multiple_of(4), 0);
                    (offset, crc(&bytes), 1)
                }
            };
            let guid_field = (guid_index << 1) | kind;
            let record = |id: u32| {
                let mut r = id.to_le_bytes().to_vec();
                r.extend_from_slice(&guid_field.to_le_bytes());
                r.extend_from_slice(&(index as u16).to_le_bytes());
                r
            };
            entries.extend_from_slice(&record(id));
            let bucket = (hashed ^ u32::from(guid_field)) % BUCKETS;
            buckets[bucket as usize].extend_from_slice(&record(hashed));
        }
        let mut props = vec![
            (0x0001, Value::I32(BUCKETS as i32)),
            (0x0002, Value::Binary(guids.concat())),
            (0x0003, Value::Binary(entries)),
            (0x0004, Value::Binary(strings)),
        ];
        props.extend(
            buckets
                .into_iter()
                .enumerate()
                .map(|(n, bucket)| (0x1000 + n as u16, Value::Binary(bucket))),
        );
        props
    }
}
