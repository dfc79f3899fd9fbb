//! An appointment's UID from its global object ID ([MS-OXOCAL] 2.2.1.27
//! `PidLidGlobalObjectId`, 2.2.1.28 `PidLidCleanGlobalObjectId`), as
//! [MS-OXCICAL] 2.1.3.1.1.20.26 says: an ID that came from an iCalendar
//! or vCalendar object carries that object's UID after `vCal-Uid`;
//! otherwise the UID is the ID in hexadecimal, its instance date zeroed
//! (the "clean" ID), so that every instance of a meeting shares it.

use std::fmt::Write;

use crate::protocols::pst::item::{Key, MapiItem, PSETID_MEETING};

/// `PidLidGlobalObjectId`.
const GLOBAL_OBJECT_ID: u32 = 0x0003;
/// `PidLidCleanGlobalObjectId`.
const CLEAN_GLOBAL_OBJECT_ID: u32 = 0x0023;
/// The class ID every global object ID starts with.
const CLASS_ID: [u8; 16] = [
    0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08,
];
/// Class ID, instance date (4), creation time (8), reserved (8), size (4).
const HEADER: usize = 40;
/// Where the instance date (YH, YL, M, D) sits.
const INSTANCE_DATE: std::ops::Range<usize> = 16..20;
/// What opens the data of an ID made from an iCalendar UID.
const VCAL_UID: &[u8] = b"vCal-Uid\x01\x00\x00\x00";

/// The UID of an appointment, else `fallback`.
pub(super) fn of_event(item: &MapiItem, fallback: &str) -> String {
    let id = |lid| item.binary(&Key::Lid(PSETID_MEETING, lid));
    [CLEAN_GLOBAL_OBJECT_ID, GLOBAL_OBJECT_ID]
        .into_iter()
        .find_map(|lid| id(lid).and_then(from_global_id))
        .unwrap_or_else(|| fallback.to_owned())
}

/// The UID a global object ID stands for, if it is one.
fn from_global_id(id: &[u8]) -> Option<String> {
    if id.len() < HEADER || id[..16] != CLASS_ID {
        return None;
    }
    let size = u32::from_le_bytes([id[36], id[37], id[38], id[39]]) as usize;
    let data = id.get(HEADER..HEADER.checked_add(size)?)?;
    if let Some(rest) = data.strip_prefix(VCAL_UID) {
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        if let Ok(uid) = std::str::from_utf8(&rest[..end])
            && !uid.trim().is_empty()
        {
            return Some(uid.to_owned());
        }
    }
    let mut clean = id.to_vec();
    clean[INSTANCE_DATE].fill(0);
    Some(clean.iter().fold(String::new(), |mut hex, b| {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02X}");
        hex
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::pst::item::Value;

    /// A global object ID: class ID, instance date 2024-05-06, creation
    /// time, reserved, then `data` with its size.
    fn global_id(data: &[u8]) -> Vec<u8> {
        let mut id = CLASS_ID.to_vec();
        id.extend([0x07, 0xE8, 0x05, 0x06]);
        id.extend([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0xD0, 0x01]);
        id.extend([0; 8]);
        id.extend((data.len() as u32).to_le_bytes());
        id.extend(data);
        id
    }

    fn with(lid: u32, id: Vec<u8>) -> MapiItem {
        let mut item = MapiItem::default();
        item.props
            .insert(Key::Lid(PSETID_MEETING, lid), Value::Binary(id));
        item
    }

    #[test]
    fn an_id_from_icalendar_gives_back_its_uid() {
        let item = with(
            GLOBAL_OBJECT_ID,
            global_id(b"vCal-Uid\x01\x00\x00\x00abc-123@example.test\x00"),
        );
        assert_eq!(of_event(&item, "fallback"), "abc-123@example.test");
    }

    #[test]
    fn other_ids_are_their_clean_hex() {
        let item = with(GLOBAL_OBJECT_ID, global_id(&[0xAB, 0xCD]));
        let uid = of_event(&item, "fallback");
        assert_eq!(
            uid,
            "040000008200E00074C5B7101A82E00800000000102030405060D0010000000000000000\
             02000000ABCD"
        );
        // The clean ID, when present, is the one used.
        let mut item = item;
        let mut clean = global_id(&[0xEF]);
        clean[INSTANCE_DATE].fill(0);
        item.props.insert(
            Key::Lid(PSETID_MEETING, CLEAN_GLOBAL_OBJECT_ID),
            Value::Binary(clean),
        );
        assert!(of_event(&item, "fallback").ends_with("01000000EF"));
    }

    #[test]
    fn garbled_or_missing_ids_fall_back() {
        assert_eq!(of_event(&MapiItem::default(), "fb"), "fb");
        let short = with(GLOBAL_OBJECT_ID, CLASS_ID.to_vec());
        assert_eq!(of_event(&short, "fb"), "fb");
        let mut lying = global_id(b"xy");
        lying[36] = 0xFF;
        assert_eq!(of_event(&with(GLOBAL_OBJECT_ID, lying), "fb"), "fb");
    }
}
