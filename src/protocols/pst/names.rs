//! Named properties: the store's name-to-ID map ([MS-PST] 2.4.7) and the
//! decoding of a whole property context into [`Key`]s and [`Value`]s.
//!
//! A property ID of 0x8000 or more means nothing by itself: the map says
//! which (property set, number) or (property set, name) it stands for in
//! this file. The map is three binary streams of the node `0x61`:
//! PidTagNameidStreamGuid (0x0002, 16-byte GUIDs), PidTagNameidStreamEntry
//! (0x0003, 8-byte entries) and PidTagNameidStreamString (0x0004,
//! length-prefixed UTF-16 names). They are parsed here with bounds checked
//! at every step, so that a damaged map loses the entries it damages, not
//! the file.

use std::collections::HashMap;

use super::item::{Guid, Key, PS_PUBLIC_STRINGS, Value};
use super::ltp::PropMap;
use super::props::{Prop, string, time};
use encoding_rs::Encoding;

/// `PS_MAPI` {00020328-0000-0000-C000-000000000046}: numbered names in
/// this set are the tagged properties of the same number.
pub const PS_MAPI: Guid = [
    0x28, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
];

/// The map's streams, by property ID in the map's property context.
const STREAM_GUID: u16 = 0x0002;
const STREAM_ENTRY: u16 = 0x0003;
const STREAM_STRING: u16 = 0x0004;

/// What each named property ID of one file stands for.
#[derive(Debug, Default, Clone)]
pub struct NameMap {
    keys: HashMap<u16, Key>,
}

impl NameMap {
    /// The map held in the store's name-to-ID map node.
    pub fn from_properties(properties: &PropMap) -> NameMap {
        let stream = |id| match properties.get(&id) {
            Some(Prop::Binary(v)) => v.as_slice(),
            _ => &[],
        };
        NameMap::parse(
            stream(STREAM_GUID),
            stream(STREAM_ENTRY),
            stream(STREAM_STRING),
        )
    }

    /// The map from its three streams. Entries that point outside the
    /// GUID or string stream are left out.
    pub fn parse(guids: &[u8], entries: &[u8], strings: &[u8]) -> NameMap {
        let mut keys = HashMap::new();
        for entry in entries.chunks_exact(8) {
            let id = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            let guid_and_kind = u16::from_le_bytes([entry[4], entry[5]]);
            let index = u16::from_le_bytes([entry[6], entry[7]]);
            // An index of 0x8000 or more would not be a named ID.
            let Some(prop_id) = index.checked_add(0x8000) else {
                continue;
            };
            let set = match guid_and_kind >> 1 {
                1 => PS_MAPI,
                2 => PS_PUBLIC_STRINGS,
                n @ 3.. => {
                    let at = usize::from(n - 3) * 16;
                    match guids.get(at..at + 16).and_then(|g| Guid::try_from(g).ok()) {
                        Some(guid) => guid,
                        None => continue,
                    }
                }
                // Index 0 names no property set.
                0 => continue,
            };
            let key = if guid_and_kind & 1 == 0 {
                Key::Lid(set, id)
            } else {
                match name_at(strings, id) {
                    Some(name) => Key::Name(set, name),
                    None => continue,
                }
            };
            keys.insert(prop_id, key);
        }
        NameMap { keys }
    }

    /// What a named property ID stands for in this file.
    pub fn key(&self, prop_id: u16) -> Option<&Key> {
        self.keys.get(&prop_id)
    }

    /// How many names the map holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the map holds no name at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The UTF-16 name at `offset` of the string stream (a 4-byte length in
/// bytes, then the name).
fn name_at(strings: &[u8], offset: u32) -> Option<String> {
    let at = usize::try_from(offset).ok()?;
    let length = strings.get(at..at + 4)?;
    let length = u32::from_le_bytes([length[0], length[1], length[2], length[3]]);
    let start = at + 4;
    let bytes = strings.get(start..start.checked_add(usize::try_from(length).ok()?)?)?;
    let name = utf16(bytes);
    let name = name.trim_end_matches('\0');
    (!name.is_empty()).then(|| name.to_owned())
}

/// UTF-16LE bytes as text (an odd last byte is ignored).
pub(super) fn utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|u| u16::from_le_bytes([u[0], u[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// All properties of an object, keyed by tag or by name. Named IDs the
/// map does not know, and values of types nothing reads (errors, objects,
/// multi-valued times), are left out.
pub fn properties(
    all: &PropMap,
    names: &NameMap,
    codepage: &'static Encoding,
) -> HashMap<Key, Value> {
    all.iter()
        .filter_map(|(id, value)| {
            let key = if *id >= 0x8000 {
                names.key(*id)?.clone()
            } else {
                Key::Tag(*id)
            };
            Some((key, decode(value, codepage)?))
        })
        .collect()
}

/// A property value as an owned [`Value`]; 8-bit strings are in
/// `codepage`.
pub fn decode(value: &Prop, codepage: &'static Encoding) -> Option<Value> {
    let text = |v: &[u8]| codepage.decode(v).0.trim_end_matches('\0').to_owned();
    Some(match value {
        Prop::Int16(v) => Value::Int(i32::from(*v)),
        Prop::Int32(v) => Value::Int(*v),
        Prop::Int64(v) => Value::Long(*v),
        Prop::Float32(v) => Value::Float(f64::from(*v)),
        Prop::Float64(v) => Value::Float(*v),
        Prop::Bool(v) => Value::Bool(*v),
        Prop::Time(_) => Value::Time(time(Some(value))?),
        Prop::String8(_) | Prop::Unicode(_) => {
            Value::Text(string(Some(value), codepage).unwrap_or_default())
        }
        Prop::Binary(v) | Prop::Guid(v) => Value::Binary(v.clone()),
        Prop::String8s(values) => Value::Texts(values.iter().map(|v| text(v)).collect()),
        Prop::Unicodes(values) => Value::Texts(
            values
                .iter()
                .map(|v| v.trim_end_matches('\0').to_owned())
                .collect(),
        ),
        Prop::Binaries(values) => Value::Binaries(values.clone()),
        Prop::Ints(values) => Value::Ints(values.clone()),
        Prop::Error(_) | Prop::Object { .. } | Prop::Longs(_) | Prop::Other => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::pst::item::PSETID_ADDRESS;

    /// One 8-byte entry of the entry stream.
    fn entry(id: u32, guid_index: u16, string: bool, index: u16) -> Vec<u8> {
        let mut out = id.to_le_bytes().to_vec();
        out.extend_from_slice(&((guid_index << 1) | u16::from(string)).to_le_bytes());
        out.extend_from_slice(&index.to_le_bytes());
        out
    }

    fn utf16(name: &str) -> Vec<u8> {
        let bytes: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut out = u32::try_from(bytes.len()).unwrap().to_le_bytes().to_vec();
        out.extend_from_slice(&bytes);
        out
    }

    #[test]
    fn numbers_and_names_resolve_through_their_set() {
        let guids = PSETID_ADDRESS.to_vec();
        let mut strings = utf16("Keywords");
        strings.extend_from_slice(&[0, 0]); // padding to 4 bytes
        let second = u32::try_from(strings.len()).unwrap();
        strings.extend_from_slice(&utf16("x-custom"));
        let entries = [
            entry(0x8083, 3, false, 0),
            entry(0, 2, true, 1),
            entry(0x0001, 1, false, 2),
            entry(second, 3, true, 3),
        ]
        .concat();
        let map = NameMap::parse(&guids, &entries, &strings);
        assert_eq!(map.len(), 4);
        assert_eq!(map.key(0x8000), Some(&Key::Lid(PSETID_ADDRESS, 0x8083)));
        assert_eq!(
            map.key(0x8001),
            Some(&Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()))
        );
        assert_eq!(map.key(0x8002), Some(&Key::Lid(PS_MAPI, 1)));
        assert_eq!(
            map.key(0x8003),
            Some(&Key::Name(PSETID_ADDRESS, "x-custom".into()))
        );
        assert_eq!(map.key(0x8004), None);
    }

    #[test]
    fn entries_pointing_outside_the_streams_are_left_out() {
        let entries = [
            // GUID index 4 = second GUID, but only one is there.
            entry(0x8083, 4, false, 0),
            // A string offset past the end.
            entry(400, 2, true, 1),
            // A string whose length runs past the end.
            entry(0, 2, true, 2),
            // No property set.
            entry(7, 0, false, 3),
            // A property index that overflows past 0xFFFF.
            entry(7, 1, false, 0x8000),
            entry(0x8084, 3, false, 5),
        ]
        .concat();
        let strings = [0xFF, 0xFF, 0, 0, b'a', 0];
        let map = NameMap::parse(&PSETID_ADDRESS, &entries[..entries.len() - 3], &strings);
        assert!(map.is_empty(), "{map:?}");
        let map = NameMap::parse(&PSETID_ADDRESS, &entries, &strings);
        assert_eq!(map.len(), 1);
        assert_eq!(map.key(0x8005), Some(&Key::Lid(PSETID_ADDRESS, 0x8084)));
    }

    #[test]
    fn values_decode_by_type_and_code_page() {
        let cp = encoding_rs::WINDOWS_1252;
        assert_eq!(decode(&Prop::Int16(-2), cp), Some(Value::Int(-2)));
        assert_eq!(decode(&Prop::Bool(true), cp), Some(Value::Bool(true)));
        assert_eq!(
            decode(&Prop::Binary(vec![1, 2]), cp),
            Some(Value::Binary(vec![1, 2]))
        );
        assert_eq!(
            decode(&Prop::Ints(vec![1, 2]), cp),
            Some(Value::Ints(vec![1, 2]))
        );
        assert_eq!(
            decode(&Prop::Time(128_223_592_535_930_000), cp)
                .map(|v| matches!(v, Value::Time(t) if t.timestamp() == 1_177_885_653)),
            Some(true)
        );
        assert_eq!(decode(&Prop::Time(0), cp), None);
        assert_eq!(decode(&Prop::Error(5), cp), None);
    }
}
