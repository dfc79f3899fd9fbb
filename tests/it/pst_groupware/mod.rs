//! The contacts, distribution lists, appointments and tasks of a PST file,
//! end to end: a PST built by the test writer (checked against `readpst`
//! and `outlook-pst` in `pst_writer.rs`) is imported by the `mailshift`
//! binary into a real Radicale; a re-run adds nothing; undo puts the
//! destination back; a damaged item is reported and the rest goes on.
mod calendars;
mod contacts;
mod whole;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::support::pst_writer::recurrence::EUROPE_PARIS;
use crate::support::pst_writer::{
    Item, Key, PS_PUBLIC_STRINGS, PSETID_ADDRESS, PSETID_APPOINTMENT, Value,
};

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

pub fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

pub fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

/// A contact as Outlook stores one: names, company, e-mail (named
/// properties), phones, a home address, a birthday, notes, categories.
pub fn zoe() -> Item {
    Item {
        class: "IPM.Contact".into(),
        props: vec![
            (Key::Tag(0x0037), text("Zoë Ångström")),
            (Key::Tag(0x3001), text("Zoë Ångström")),
            (Key::Tag(0x3A06), text("Zoë")),
            (Key::Tag(0x3A11), text("Ångström")),
            (Key::Tag(0x3A16), text("Équipe Lyon SARL")),
            (Key::Tag(0x3A17), text("Directrice technique")),
            (Key::Tag(0x3A08), text("+33 4 72 00 00 01")),
            (Key::Tag(0x3A1C), text("+33 6 12 34 56 78")),
            (Key::Tag(0x3A5D), text("12, rue de la Paix")),
            (Key::Tag(0x3A59), text("Lyon")),
            (Key::Tag(0x3A5B), text("69001")),
            (Key::Tag(0x3A5A), text("France")),
            (Key::Tag(0x3A42), Value::Time(utc(1985, 4, 12, 0, 0))),
            (
                Key::Tag(0x1000),
                text("Met at the Lyon fair; call before 10:00,\nnot after."),
            ),
            (Key::Lid(PSETID_ADDRESS, 0x8005), text("Ångström, Zoë")),
            (Key::Lid(PSETID_ADDRESS, 0x8080), text("Zoë Ångström")),
            (Key::Lid(PSETID_ADDRESS, 0x8082), text("SMTP")),
            (Key::Lid(PSETID_ADDRESS, 0x8083), text("zoe@example.test")),
            (
                Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()),
                Value::Texts(vec!["Clients".into(), "Lyon".into()]),
            ),
        ],
        recipients: Vec::new(),
        attachments: Vec::new(),
    }
}

/// An appointment in Paris time with its time zone blobs.
pub fn appointment(subject: &str, start: NaiveDateTime, end: NaiveDateTime) -> Item {
    // Paris is at UTC+1 in November and December.
    let whole = |t: NaiveDateTime| Value::Time((t - Duration::hours(1)).and_utc());
    Item {
        class: "IPM.Appointment".into(),
        props: vec![
            (Key::Tag(0x0037), text(subject)),
            (Key::Lid(PSETID_APPOINTMENT, 0x820D), whole(start)),
            (Key::Lid(PSETID_APPOINTMENT, 0x820E), whole(end)),
            (Key::Lid(PSETID_APPOINTMENT, 0x8205), Value::I32(2)),
            (
                Key::Lid(PSETID_APPOINTMENT, 0x8233),
                Value::Binary(EUROPE_PARIS.time_zone_struct()),
            ),
            (
                Key::Lid(PSETID_APPOINTMENT, 0x8234),
                text("(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"),
            ),
            (
                Key::Lid(PSETID_APPOINTMENT, 0x825E),
                Value::Binary(EUROPE_PARIS.definition("Romance Standard Time", 2026)),
            ),
            (
                Key::Lid(PSETID_APPOINTMENT, 0x825F),
                Value::Binary(EUROPE_PARIS.definition("Romance Standard Time", 2026)),
            ),
        ],
        recipients: Vec::new(),
        attachments: Vec::new(),
    }
}

/// The one object of `objects` whose text contains `needle`.
pub fn one<'a>(objects: &'a BTreeMap<String, String>, needle: &str) -> &'a String {
    let found: Vec<&String> = objects.values().filter(|o| o.contains(needle)).collect();
    assert_eq!(found.len(), 1, "{needle} in {objects:?}");
    found[0]
}
