//! Tasks as VTODOs.

use super::check::{parse, value, values};
use super::m;
use super::recurring::{AFTER_COUNT, Pattern};
use super::{at, component, lid, set, text};
use crate::protocols::pst::ical::task;
use crate::protocols::pst::item::{
    Key, MapiItem, PS_PUBLIC_STRINGS, PSETID_COMMON, PSETID_TASK, Value,
};

fn a_task() -> MapiItem {
    let mut item = MapiItem {
        class: "IPM.Task".into(),
        ..MapiItem::default()
    };
    set(
        &mut item,
        Key::Tag(0x0037),
        Value::Text("File the report, v2".into()),
    );
    set(
        &mut item,
        Key::Tag(0x1000),
        Value::Text("Numbers\nfrom Q2".into()),
    );
    set(&mut item, Key::Tag(0x0017), Value::Int(0));
    set(&mut item, Key::Tag(0x0036), Value::Int(3));
    set(
        &mut item,
        Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()),
        Value::Texts(vec!["Work".into()]),
    );
    set(
        &mut item,
        Key::Tag(0x3008),
        Value::Time(at(2024, 5, 2, 10, 0)),
    );
    // Dates are midnight UTC of the local date.
    lid(
        &mut item,
        PSETID_TASK,
        0x8104,
        Value::Time(at(2024, 5, 6, 0, 0)),
    );
    lid(
        &mut item,
        PSETID_TASK,
        0x8105,
        Value::Time(at(2024, 5, 10, 0, 0)),
    );
    lid(&mut item, PSETID_TASK, 0x8101, Value::Int(1));
    lid(&mut item, PSETID_TASK, 0x8102, Value::Float(0.25));
    lid(&mut item, PSETID_COMMON, 0x8503, Value::Bool(true));
    lid(
        &mut item,
        PSETID_COMMON,
        0x8502,
        Value::Time(at(2024, 5, 10, 7, 0)),
    );
    item
}

#[test]
fn a_task_maps_every_property() {
    let ics = task(&a_task(), "task-uid").unwrap();
    let text = text(&ics);
    assert_eq!(
        component(&text, "VTODO", 0),
        [
            "BEGIN:VTODO",
            "UID:task-uid",
            "DTSTAMP:20240502T100000Z",
            "LAST-MODIFIED:20240502T100000Z",
            "DTSTART;VALUE=DATE:20240506",
            "DUE;VALUE=DATE:20240510",
            "SUMMARY:File the report\\, v2",
            "STATUS:IN-PROCESS",
            "PERCENT-COMPLETE:25",
            "DESCRIPTION:Numbers\\nfrom Q2",
            "CLASS:CONFIDENTIAL",
            "PRIORITY:9",
            "CATEGORIES:Work",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "TRIGGER;VALUE=DATE-TIME:20240510T070000Z",
            "DESCRIPTION:File the report\\, v2",
            "END:VALARM",
            "END:VTODO",
        ]
    );
    let parsed = parse(&ics);
    assert_eq!(parsed[0]["name"], "VTODO");
    assert_eq!(value(&parsed[0], "SUMMARY"), "File the report, v2");
    assert_eq!(value(&parsed[0], "DUE"), "20240510");
    assert_eq!(
        parsed[0]["props"]["VALARM"][0]["TRIGGER"],
        "20240510T070000Z"
    );
}

#[test]
fn statuses_map_as_documented() {
    for (status, complete, expected) in [
        (Some(0), false, "NEEDS-ACTION"),
        (Some(1), false, "IN-PROCESS"),
        (Some(2), true, "COMPLETED"),
        (Some(3), false, "NEEDS-ACTION"),
        (Some(4), false, "NEEDS-ACTION"),
        (None, true, "COMPLETED"),
        (None, false, "NEEDS-ACTION"),
    ] {
        let mut item = MapiItem::default();
        if let Some(status) = status {
            lid(&mut item, PSETID_TASK, 0x8101, Value::Int(status));
        }
        lid(&mut item, PSETID_TASK, 0x811C, Value::Bool(complete));
        let text = text(&task(&item, "u").unwrap());
        assert!(
            text.contains(&format!("\r\nSTATUS:{expected}\r\n")),
            "{status:?}: {text}"
        );
    }
}

#[test]
fn a_completed_task_says_when_and_empty_dates_are_left_out() {
    let mut item = MapiItem::default();
    lid(&mut item, PSETID_TASK, 0x8101, Value::Int(2));
    lid(&mut item, PSETID_TASK, 0x8102, Value::Float(1.0));
    lid(
        &mut item,
        PSETID_TASK,
        0x810F,
        Value::Time(at(2024, 5, 9, 0, 0)),
    );
    // Outlook's "none".
    lid(
        &mut item,
        PSETID_TASK,
        0x8104,
        Value::Time(at(4501, 1, 1, 0, 0)),
    );
    lid(
        &mut item,
        PSETID_TASK,
        0x8105,
        Value::Time(at(4501, 1, 1, 0, 0)),
    );
    let ics = task(&item, "u").unwrap();
    let text = text(&ics);
    assert!(
        text.contains("\r\nCOMPLETED:20240509T000000Z\r\nPERCENT-COMPLETE:100\r\n")
            || text.contains("\r\nPERCENT-COMPLETE:100\r\nCOMPLETED:20240509T000000Z\r\n"),
        "{text}"
    );
    assert!(!text.contains("DTSTART") && !text.contains("DUE"), "{text}");
    assert_eq!(value(&parse(&ics)[0], "COMPLETED"), "20240509T000000Z");
}

#[test]
fn a_start_after_the_due_date_is_dropped() {
    let mut item = MapiItem::default();
    lid(
        &mut item,
        PSETID_TASK,
        0x8104,
        Value::Time(at(2024, 5, 12, 0, 0)),
    );
    lid(
        &mut item,
        PSETID_TASK,
        0x8105,
        Value::Time(at(2024, 5, 10, 0, 0)),
    );
    let ics = task(&item, "u").unwrap();
    assert!(!text(&ics).contains("DTSTART"));
    assert_eq!(values(&parse(&ics)[0], "DTSTART").len(), 0);
}

#[test]
fn a_recurring_task_gets_its_rrule() {
    let mut item = a_task();
    // Every Monday, three times, from 2024-05-06.
    let weekly = Pattern {
        frequency: 0x200B,
        pattern_type: 1,
        specific: vec![0x02],
        period: 1,
        end_type: AFTER_COUNT,
        count: 3,
        first_dow: 1,
        start: m(2024, 5, 6, 0, 0),
        end: m(2024, 5, 20, 0, 0),
    };
    lid(
        &mut item,
        PSETID_TASK,
        0x8116,
        Value::Binary(weekly.bytes(&[], &[])),
    );
    lid(&mut item, PSETID_TASK, 0x8126, Value::Bool(true));
    let ics = task(&item, "u").unwrap();
    assert!(text(&ics).contains("\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;WKST=MO;COUNT=3\r\n"));
    let parsed = parse(&ics);
    assert_eq!(
        parsed[0]["instances"],
        serde_json::json!(["20240506", "20240513", "20240520"])
    );

    // A garbled pattern is an error, not a task without its recurrence.
    let mut blob = weekly.bytes(&[], &[]);
    blob.truncate(20);
    lid(&mut item, PSETID_TASK, 0x8116, Value::Binary(blob));
    assert_eq!(
        task(&item, "u").unwrap_err().to_string(),
        "the task recurrence pattern is truncated at byte 18 (SlidingFlag)"
    );
}

#[test]
fn a_lunar_recurrence_leaves_the_task_without_its_rrule() {
    let mut item = a_task();
    let yearly = Pattern {
        frequency: 0x200D,
        pattern_type: 2,
        specific: vec![3],
        period: 12,
        end_type: AFTER_COUNT,
        count: 3,
        first_dow: 0,
        start: m(2024, 5, 6, 0, 0),
        end: m(2026, 5, 6, 0, 0),
    };
    let mut blob = yearly.bytes(&[], &[]);
    blob[8..10].copy_from_slice(&8u16.to_le_bytes()); // CalendarType: Hebrew
    lid(&mut item, PSETID_TASK, 0x8116, Value::Binary(blob));
    lid(&mut item, PSETID_TASK, 0x8126, Value::Bool(true));
    let ics = task(&item, "u").unwrap();
    let text = text(&ics);
    assert!(!text.contains("RRULE"), "{text}");
    assert!(text.contains("\r\nSUMMARY:File the report\\, v2\r\n"));
    assert_eq!(parse(&ics)[0]["name"], "VTODO");
}
