//! Modified and deleted instances of a recurring appointment
//! ([MS-OXOCAL] 2.2.1.44.2 `ExceptionInfo`, 2.2.1.44.3
//! `ExtendedException`), built field by field.

use super::check::{parse, value, values};
use super::recurring::{AFTER_COUNT, NEVER, NO_END_DATE, Pattern};
use super::zones::{definition, europe};
use super::{at, component, lid, m, recurring, set, strings, text};
use crate::protocols::pst::ical::event;
use crate::protocols::pst::item::{Key, PSETID_APPOINTMENT, PSETID_COMMON, Value};

/// An `ExceptionInfo` and its `ExtendedException` (writer version
/// 0x3008: no ChangeHighlight).
fn exception_blob(pattern: &Pattern, deleted: &[u32], modified: &[u32]) -> Vec<u8> {
    let mut out = pattern.bytes(deleted, modified);
    let u16s = |out: &mut Vec<u8>, v: u16| out.extend(v.to_le_bytes());
    let u32s = |out: &mut Vec<u8>, v: u32| out.extend(v.to_le_bytes());
    u32s(&mut out, 0x3006); // ReaderVersion2
    u32s(&mut out, 0x3008); // WriterVersion2
    u32s(&mut out, 9 * 60); // StartTimeOffset: 09:00
    u32s(&mut out, 10 * 60); // EndTimeOffset: 10:00
    u16s(&mut out, 2); // ExceptionCount

    // 1: June 5 moved to 14:00-15:00, subject, reminder 5 minutes, out of office.
    u32s(&mut out, m(2024, 6, 5, 14, 0)); // StartDateTime
    u32s(&mut out, m(2024, 6, 5, 15, 0)); // EndDateTime
    u32s(&mut out, m(2024, 6, 5, 9, 0)); // OriginalStartDate
    u16s(&mut out, 0x0001 | 0x0004 | 0x0008 | 0x0020); // OverrideFlags
    u16s(&mut out, 6); // SubjectLength
    u16s(&mut out, 5); // SubjectLength2
    out.extend(b"Caf\xE9?"); // Subject (Windows-1252)
    u32s(&mut out, 5); // ReminderDelta
    u32s(&mut out, 1); // ReminderSet
    u32s(&mut out, 3); // BusyStatus: out of office

    // 2: June 6 all day at home, no reminder.
    u32s(&mut out, m(2024, 6, 6, 0, 0)); // StartDateTime
    u32s(&mut out, m(2024, 6, 7, 0, 0)); // EndDateTime
    u32s(&mut out, m(2024, 6, 6, 9, 0)); // OriginalStartDate
    u16s(&mut out, 0x0008 | 0x0010 | 0x0080); // OverrideFlags
    u32s(&mut out, 0); // ReminderSet
    u16s(&mut out, 5); // LocationLength
    u16s(&mut out, 4); // LocationLength2
    out.extend(b"Home"); // Location
    u32s(&mut out, 1); // SubType: all day

    u32s(&mut out, 0); // ReservedBlock1Size

    // ExtendedException 1: the subject in UTF-16.
    u32s(&mut out, 0); // ReservedBlockEE1Size
    u32s(&mut out, m(2024, 6, 5, 14, 0)); // StartDateTime
    u32s(&mut out, m(2024, 6, 5, 15, 0)); // EndDateTime
    u32s(&mut out, m(2024, 6, 5, 9, 0)); // OriginalStartDate
    let subject: Vec<u16> = "Café ☕".encode_utf16().collect();
    u16s(&mut out, subject.len() as u16); // WideCharSubjectLength
    subject.iter().for_each(|u| u16s(&mut out, *u)); // WideCharSubject
    u32s(&mut out, 0); // ReservedBlockEE2Size

    // ExtendedException 2: the location in UTF-16.
    u32s(&mut out, 0); // ReservedBlockEE1Size
    u32s(&mut out, m(2024, 6, 6, 0, 0)); // StartDateTime
    u32s(&mut out, m(2024, 6, 7, 0, 0)); // EndDateTime
    u32s(&mut out, m(2024, 6, 6, 9, 0)); // OriginalStartDate
    let location: Vec<u16> = "Home".encode_utf16().collect();
    u16s(&mut out, location.len() as u16); // WideCharLocationLength
    location.iter().for_each(|u| u16s(&mut out, *u)); // WideCharLocation
    u32s(&mut out, 0); // ReservedBlockEE2Size

    u32s(&mut out, 0); // ReservedBlock2Size
    out
}

#[test]
fn modified_instances_override_what_they_change_and_inherit_the_rest() {
    let daily = Pattern {
        frequency: 0x200A,
        pattern_type: 0,
        specific: vec![],
        period: 1440,
        end_type: AFTER_COUNT,
        count: 5,
        first_dow: 0,
        start: m(2024, 6, 3, 0, 0),
        end: m(2024, 6, 7, 0, 0),
    };
    let deleted = [
        m(2024, 6, 4, 0, 0),
        m(2024, 6, 5, 0, 0),
        m(2024, 6, 6, 0, 0),
    ];
    let modified = [m(2024, 6, 5, 0, 0), m(2024, 6, 6, 0, 0)];
    let blob = exception_blob(&daily, &deleted, &modified);
    let zone = definition("W. Europe Standard Time", &[europe()]);
    let mut item = recurring(at(2024, 6, 3, 7, 0), at(2024, 6, 3, 8, 0), blob, Some(zone));
    set(&mut item, Key::Tag(0x0037), Value::Text("Stand-up".into()));
    lid(
        &mut item,
        PSETID_APPOINTMENT,
        0x8208,
        Value::Text("Room 1".into()),
    );
    lid(&mut item, PSETID_APPOINTMENT, 0x8205, Value::Int(2));
    lid(&mut item, PSETID_COMMON, 0x8503, Value::Bool(true));
    lid(&mut item, PSETID_COMMON, 0x8501, Value::Int(15));
    let ics = event(&item, "u").unwrap();
    let text = text(&ics);

    let master = component(&text, "VEVENT", 0);
    let exdates: Vec<&String> = master.iter().filter(|l| l.starts_with("EXDATE")).collect();
    assert_eq!(exdates, ["EXDATE;TZID=Europe/Berlin:20240604T090000"]);
    assert!(master.contains(&"RRULE:FREQ=DAILY;COUNT=5".to_owned()));

    let moved = component(&text, "VEVENT", 1);
    let tz = "TZID=Europe/Berlin";
    assert_eq!(
        moved[3..],
        [
            format!("RECURRENCE-ID;{tz}:20240605T090000"),
            format!("DTSTART;{tz}:20240605T140000"),
            format!("DTEND;{tz}:20240605T150000"),
            "SUMMARY:Café ☕".into(),
            "LOCATION:Room 1".into(),
            "TRANSP:OPAQUE".into(),
            "X-MICROSOFT-CDO-BUSYSTATUS:OOF".into(),
            "BEGIN:VALARM".into(),
            "ACTION:DISPLAY".into(),
            "TRIGGER:-PT5M".into(),
            "DESCRIPTION:Café ☕".into(),
            "END:VALARM".into(),
            "END:VEVENT".into(),
        ]
    );
    let home = component(&text, "VEVENT", 2);
    assert_eq!(
        home[3..],
        [
            format!("RECURRENCE-ID;{tz}:20240606T090000"),
            "DTSTART;VALUE=DATE:20240606".into(),
            "DTEND;VALUE=DATE:20240607".into(),
            "SUMMARY:Stand-up".into(),
            "LOCATION:Home".into(),
            "TRANSP:OPAQUE".into(),
            "X-MICROSOFT-CDO-BUSYSTATUS:BUSY".into(),
            "END:VEVENT".into(),
        ]
    );

    let parsed = parse(&ics);
    let instances = strings(&parsed[0]["instances"]);
    assert_eq!(
        instances,
        [
            "20240603T070000Z",
            "20240605T070000Z",
            "20240606T070000Z",
            "20240607T070000Z"
        ]
    );
    for overridden in &parsed[1..] {
        assert!(
            instances.contains(&value(overridden, "RECURRENCE-ID")),
            "{overridden}"
        );
    }
    assert_eq!(values(&parsed[2], "VALARM").len(), 0);
}

#[test]
fn an_all_day_series_deletes_whole_days() {
    // A birthday on March 15, every year; 2026's deleted. Outlook stores
    // the local midnights (23:00 UTC the day before, in winter).
    let yearly = Pattern {
        frequency: 0x200D,
        pattern_type: 2,
        specific: vec![15],
        period: 12,
        end_type: NEVER,
        count: 10,
        first_dow: 0,
        start: m(2024, 3, 15, 0, 0),
        end: NO_END_DATE,
    };
    let blob = yearly.appointment_at(&[m(2026, 3, 15, 0, 0)], 0, 1440);
    let zone = definition("W. Europe Standard Time", &[europe()]);
    let mut item = recurring(
        at(2024, 3, 14, 23, 0),
        at(2024, 3, 15, 23, 0),
        blob,
        Some(zone),
    );
    lid(&mut item, PSETID_APPOINTMENT, 0x8215, Value::Bool(true));
    let ics = event(&item, "u").unwrap();
    let text = text(&ics);
    assert_eq!(
        component(&text, "VEVENT", 0)[3..],
        [
            "DTSTART;VALUE=DATE:20240315",
            "DTEND;VALUE=DATE:20240316",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15",
            "EXDATE;VALUE=DATE:20260315",
            "END:VEVENT",
        ]
    );
    let instances = strings(&parse(&ics)[0]["instances"]);
    assert_eq!(instances[..3], ["20240315", "20250315", "20270315"]);
}
