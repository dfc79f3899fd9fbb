//! A PST item that is not mail: a contact, a distribution list, an
//! appointment or a task, as the properties it holds.
//!
//! Outlook keeps most of what such an item says in named properties
//! ([MS-OXPROPS]: `PidLidEmail1EmailAddress`, `PidLidAppointmentStartWhole`...),
//! whose numbers differ from one PST to the next: the reader resolves them
//! through the file's name-to-ID map, so an item is keyed by
//! [`Key::Lid`]/[`Key::Name`] for those and [`Key::Tag`] for the others.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Recipient;

/// `PidTagRecipientTrackStatus`: an attendee's answer (0 none, 2
/// tentative, 3 accepted, 4 declined).
pub const RECIPIENT_TRACK_STATUS: u16 = 0x5FFF;

/// A property set GUID, in the byte order a PST stores it (the first
/// three fields little-endian).
pub type Guid = [u8; 16];

/// `PS_PUBLIC_STRINGS` {00020329-0000-0000-C000-000000000046}: string-named
/// properties such as `Keywords` (categories).
pub const PS_PUBLIC_STRINGS: Guid = guid(0x0002_0329);
/// `PSETID_Address` {00062004-0000-0000-C000-000000000046}: contacts.
pub const PSETID_ADDRESS: Guid = guid(0x0006_2004);
/// `PSETID_Appointment` {00062002-0000-0000-C000-000000000046}.
pub const PSETID_APPOINTMENT: Guid = guid(0x0006_2002);
/// `PSETID_Task` {00062003-0000-0000-C000-000000000046}.
pub const PSETID_TASK: Guid = guid(0x0006_2003);
/// `PSETID_Common` {00062008-0000-0000-C000-000000000046}: reminders.
pub const PSETID_COMMON: Guid = guid(0x0006_2008);
/// `PSETID_Meeting` {6ED8DA90-450B-101B-98DA-00AA003F1305}: meeting IDs.
pub const PSETID_MEETING: Guid = [
    0x90, 0xDA, 0xD8, 0x6E, 0x0B, 0x45, 0x1B, 0x10, 0x98, 0xDA, 0x00, 0xAA, 0x00, 0x3F, 0x13, 0x05,
];

/// The Microsoft GUIDs `{xxxxxxxx-0000-0000-C000-000000000046}`.
const fn guid(data1: u32) -> Guid {
    let d = data1.to_le_bytes();
    [
        d[0], d[1], d[2], d[3], 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
    ]
}

/// What names a property.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A tagged property (`PidTag*`), by its property ID.
    Tag(u16),
    /// A named property with a numeric name (`PidLid*`): set and number.
    Lid(Guid, u32),
    /// A named property with a string name (`PidName*`): set and name.
    Name(Guid, String),
}

/// A property value, owned and decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A 16- or 32-bit integer.
    Int(i32),
    /// A 64-bit integer.
    Long(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A time.
    Time(DateTime<Utc>),
    /// Text, decoded from its code page.
    Text(String),
    /// Bytes (a GUID included).
    Binary(Vec<u8>),
    /// Several texts.
    Texts(Vec<String>),
    /// Several byte strings.
    Binaries(Vec<Vec<u8>>),
    /// Several integers.
    Ints(Vec<i32>),
}

/// The kind of item, from its message class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `IPM.Contact`.
    Contact,
    /// `IPM.DistList`.
    DistList,
    /// `IPM.Appointment` (and meeting items stored in a calendar).
    Appointment,
    /// `IPM.Task`.
    Task,
}

impl ItemKind {
    /// The kind of a message class, if it is one of these (case is
    /// ignored, sub-classes such as `IPM.Contact.Custom` count).
    pub fn of_class(class: &str) -> Option<ItemKind> {
        of_class(
            class,
            [
                ("ipm.contact", ItemKind::Contact),
                ("ipm.distlist", ItemKind::DistList),
                ("ipm.appointment", ItemKind::Appointment),
                ("ipm.task", ItemKind::Task),
            ],
        )
    }
}

/// The kind whose base class (lower case) `class` is, or a sub-class of
/// (`IPM.Contact.Custom`); case is ignored.
pub fn of_class<K: Copy, const N: usize>(class: &str, kinds: [(&str, K); N]) -> Option<K> {
    let class = class.to_ascii_lowercase();
    kinds.into_iter().find_map(|(base, kind)| {
        let sub = class
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
        sub.then_some(kind)
    })
}

/// A recipient of an item (an appointment's attendee) and its answer.
#[derive(Debug, Clone)]
pub struct Attendee {
    /// To = required, Cc = optional, Bcc = a resource (room, equipment).
    pub recipient: Recipient,
    /// [`RECIPIENT_TRACK_STATUS`], when recorded.
    pub response: Option<i32>,
}

/// One item with its properties and recipients.
#[derive(Debug, Clone, Default)]
pub struct MapiItem {
    /// Its node ID in the PST: what identifies it across runs.
    pub node: u32,
    /// `PidTagMessageClass`.
    pub class: String,
    /// Its properties, by tag or name.
    pub props: HashMap<Key, Value>,
    /// The recipients of a meeting.
    pub attendees: Vec<Attendee>,
    /// A contact's picture (the attachment marked
    /// `PidTagAttachmentContactPhoto`), as stored (JPEG, PNG...).
    pub photo: Option<Vec<u8>>,
}

/// The UID of an item that has none of its own: the same for the same
/// item of the same file on every run (`record_key` is the store's
/// `PidTagRecordKey`), distinct across items and files. UUID-shaped.
pub fn derived_uid(record_key: &[u8], node: u32) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(record_key);
    hasher.update(&node.to_le_bytes());
    let hex = hasher.finalize().to_hex();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl MapiItem {
    /// A property's value.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.props.get(key)
    }

    /// A string property, if set and not empty.
    pub fn text(&self, key: &Key) -> Option<&str> {
        match self.get(key)? {
            Value::Text(t) if !t.is_empty() => Some(t),
            _ => None,
        }
    }

    /// An integer property.
    pub fn int(&self, key: &Key) -> Option<i32> {
        match self.get(key)? {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// A floating-point property (integers are accepted too).
    pub fn float(&self, key: &Key) -> Option<f64> {
        match self.get(key)? {
            Value::Float(v) => Some(*v),
            Value::Int(v) => Some(f64::from(*v)),
            _ => None,
        }
    }

    /// A boolean property; absent is false.
    pub fn flag(&self, key: &Key) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }

    /// A time property.
    pub fn time(&self, key: &Key) -> Option<DateTime<Utc>> {
        match self.get(key)? {
            Value::Time(t) => Some(*t),
            _ => None,
        }
    }

    /// A binary property's bytes.
    pub fn binary(&self, key: &Key) -> Option<&[u8]> {
        match self.get(key)? {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// A multi-valued string property (empty when absent).
    pub fn texts(&self, key: &Key) -> &[String] {
        match self.get(key) {
            Some(Value::Texts(t)) => t,
            _ => &[],
        }
    }

    /// Its categories (`PidNameKeywords`), the empty ones left out.
    pub fn categories(&self) -> impl Iterator<Item = &str> {
        self.texts(&Key::Name(PS_PUBLIC_STRINGS, "Keywords".to_owned()))
            .iter()
            .map(String::as_str)
            .filter(|c| !c.is_empty())
    }

    /// A multi-valued binary property (empty when absent).
    pub fn binaries(&self, key: &Key) -> &[Vec<u8>] {
        match self.get(key) {
            Some(Value::Binaries(b)) => b,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_name_their_kind() {
        assert_eq!(ItemKind::of_class("IPM.Contact"), Some(ItemKind::Contact));
        assert_eq!(ItemKind::of_class("ipm.distlist"), Some(ItemKind::DistList));
        assert_eq!(
            ItemKind::of_class("IPM.Appointment.Custom"),
            Some(ItemKind::Appointment)
        );
        assert_eq!(ItemKind::of_class("IPM.Task"), Some(ItemKind::Task));
        assert_eq!(ItemKind::of_class("IPM.Contacts"), None);
        assert_eq!(ItemKind::of_class("IPM.Note"), None);
    }

    #[test]
    fn derived_uids_are_stable_and_distinct() {
        let a = derived_uid(&[1; 16], 0x2024);
        assert_eq!(a, derived_uid(&[1; 16], 0x2024));
        assert_ne!(a, derived_uid(&[1; 16], 0x2044));
        assert_ne!(a, derived_uid(&[2; 16], 0x2024));
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }

    #[test]
    fn guids_are_stored_little_endian() {
        assert_eq!(&PSETID_ADDRESS[..4], &[0x04, 0x20, 0x06, 0x00]);
        assert_eq!(PSETID_ADDRESS[8], 0xC0);
        assert_eq!(PSETID_ADDRESS[15], 0x46);
    }
}
