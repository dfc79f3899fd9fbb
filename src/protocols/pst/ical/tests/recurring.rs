//! Recurring appointments: the example blobs of [MS-OXOCAL] 4.1.1 and
//! blobs built field by field from its layouts (2.2.1.44), each expanded
//! by vobject's RRULE engine and compared with the instances Outlook
//! shows.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value as Json;

use super::check::{parse, value, values};
use super::zones::{definition, europe, pacific};
use super::{at, component, lid, text, unfolded};
use crate::protocols::pst::ical::{IcalError, event, exceptions};
use crate::protocols::pst::item::{MapiItem, PSETID_APPOINTMENT, PSETID_COMMON, Value};

/// [MS-OXOCAL] 4.1.1.2: every Monday, Thursday and Friday from 10:00 to
/// 10:30 from 2007-03-26, 12 times; the instance of 2007-04-16 moved to
/// 11:00 with a new subject and location.
const SPEC_WEEKLY: &str = "043004300B2001000000C0210000010000000000000032000000222000000C000000\
0000000001000000A096BC0C01000000A096BC0C8020BC0C20ADBC0C0630000009300000580200007602000001003499\
BC0C5299BC0CF898BC0C11002200210053696D706C6520526563757272656E6365207769746820657863657074696F6E\
730800070033342F34313431000000000400000000000000000000003499BC0C5299BC0CF898BC0C2100530069006D00\
70006C006500200052006500630075007200720065006E006300650020007700690074006800200065007800630065\
007000740069006F006E0073000700330034002F0034003100340031000000000000000000";

/// [MS-OXOCAL] 4.1.1.3: every three days from 2011-04-07 to 2011-05-04,
/// 08:00 to 08:30; the instances of 04-19 and 04-22 deleted.
const SPEC_DAILY: &str = "043004300A2000000000A0050000E010000000000000212000000A000000000000000200\
0000A0C1DC0C80D2DC0C00000000207EDC0C0016DD0C0630000009300000E0010000FE01000000000000000000000000";

/// [MS-OXOCAL] 4.1.1.6: yearly on the 3rd of Nisan (Hebrew calendar).
const SPEC_HEBREW: &str = "043004300D200200080080750A000C0000000000000003000000232000000A000000000000\
0001000000207EDC0C01000000207EDC0C6074C40CDF80E95A0630000009300000E0010000FE01000001000080DC0C1E\
80DC0C0080DC0C24023C000000010000000000000004000000000000000000000000000000";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Minutes since 1601-01-01 of a wall-clock time.
pub(super) fn m(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> u32 {
    let epoch = NaiveDate::from_ymd_opt(1601, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let time: NaiveDateTime = NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap();
    (time - epoch).num_minutes() as u32
}

/// A recurring appointment: its first instance from `start` to `end`
/// (UTC), the pattern and a zone definition.
fn recurring(
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    blob: Vec<u8>,
    zone: Option<Vec<u8>>,
) -> MapiItem {
    let mut item = MapiItem::default();
    lid(&mut item, PSETID_APPOINTMENT, 0x820D, Value::Time(start));
    lid(&mut item, PSETID_APPOINTMENT, 0x820E, Value::Time(end));
    lid(&mut item, PSETID_APPOINTMENT, 0x8223, Value::Bool(true));
    lid(&mut item, PSETID_APPOINTMENT, 0x8216, Value::Binary(blob));
    if let Some(zone) = zone {
        lid(&mut item, PSETID_APPOINTMENT, 0x8260, Value::Binary(zone));
    }
    item
}

fn strings(json: &Json) -> Vec<String> {
    json.as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn the_spec_weekly_example_with_a_modified_instance() {
    let zone = definition("Pacific Standard Time", &[pacific()]);
    // 10:00 PDT is 17:00 UTC.
    let item = recurring(
        at(2007, 3, 26, 17, 0),
        at(2007, 3, 26, 17, 30),
        hex(SPEC_WEEKLY),
        Some(zone),
    );
    let ics = event(&item, "u").unwrap();
    let text = text(&ics);
    let master = component(&text, "VEVENT", 0);
    assert_eq!(
        master[3..6],
        [
            "DTSTART;TZID=Pacific Standard Time:20070326T100000",
            "DTEND;TZID=Pacific Standard Time:20070326T103000",
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TH,FR;WKST=SU;COUNT=12",
        ]
    );
    assert!(
        !text.contains("EXDATE"),
        "the deleted instance is the modified one"
    );
    let moved = component(&text, "VEVENT", 1);
    assert_eq!(
        moved[2..],
        [
            "DTSTAMP:20070326T170000Z",
            "RECURRENCE-ID;TZID=Pacific Standard Time:20070416T100000",
            "DTSTART;TZID=Pacific Standard Time:20070416T110000",
            "DTEND;TZID=Pacific Standard Time:20070416T113000",
            "SUMMARY:Simple Recurrence with exceptions",
            "LOCATION:34/4141",
            "END:VEVENT",
        ]
    );
    assert_eq!(moved[1], "UID:u");

    let parsed = parse(&ics);
    let days = [
        "0326", "0329", "0330", "0402", "0405", "0406", "0409", "0412", "0413", "0416", "0419",
        "0420",
    ];
    let expected: Vec<String> = days.iter().map(|d| format!("2007{d}T170000Z")).collect();
    assert_eq!(strings(&parsed[0]["instances"]), expected);
    assert!(expected.contains(&value(&parsed[1], "RECURRENCE-ID")));
    assert_eq!(value(&parsed[1], "DTSTART"), "20070416T180000Z");
}

#[test]
fn the_spec_daily_example_with_deleted_instances() {
    let zone = definition("Pacific Standard Time", &[pacific()]);
    let blob = hex(SPEC_DAILY);
    let item = recurring(
        at(2011, 4, 7, 15, 0),
        at(2011, 4, 7, 15, 30),
        blob.clone(),
        Some(zone),
    );
    let ics = event(&item, "u").unwrap();
    let lines = unfolded(&text(&ics));
    for line in [
        "RRULE:FREQ=DAILY;INTERVAL=3;UNTIL=20110504T150000Z",
        "EXDATE;TZID=Pacific Standard Time:20110419T080000",
        "EXDATE;TZID=Pacific Standard Time:20110422T080000",
    ] {
        assert!(
            lines.contains(&line.to_owned()),
            "{line} missing from {lines:#?}"
        );
    }
    let days = [
        "0407", "0410", "0413", "0416", "0425", "0428", "0501", "0504",
    ];
    let expected: Vec<String> = days.iter().map(|d| format!("2011{d}T150000Z")).collect();
    assert_eq!(strings(&parse(&ics)[0]["instances"]), expected);

    // Without a zone, the offset is read from the blob itself (its local
    // 08:00 against 15:00 UTC) and the instances stay the same.
    let item = recurring(at(2011, 4, 7, 15, 0), at(2011, 4, 7, 15, 30), blob, None);
    let ics = event(&item, "u").unwrap();
    let text = text(&ics);
    assert!(
        text.contains("DTSTART;TZID=UTC-0700:20110407T080000"),
        "{text}"
    );
    assert_eq!(strings(&parse(&ics)[0]["instances"]), expected);
}

#[test]
fn the_spec_hebrew_example_is_refused_with_a_reason() {
    let item = recurring(
        at(2008, 4, 8, 6, 0),
        at(2008, 4, 8, 6, 30),
        hex(SPEC_HEBREW),
        None,
    );
    let err = event(&item, "u").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the recurrence pattern is invalid: calendar type 8 is lunar: \
         its months cannot be written as an RRULE"
    );
    // Its structure, exception included, was read to the end.
    let parsed = exceptions::parse(&hex(SPEC_HEBREW)).unwrap();
    assert_eq!(parsed.exceptions.len(), 1);
    assert_eq!(parsed.exceptions[0].reminder_delta, Some(60));
    assert_eq!(parsed.exceptions[0].busy_status, Some(1));
}

#[test]
fn every_truncation_of_a_blob_is_an_error_not_a_panic() {
    for blob in [hex(SPEC_WEEKLY), hex(SPEC_DAILY), hex(SPEC_HEBREW)] {
        assert!(exceptions::parse(&blob).is_ok());
        for len in 0..blob.len() {
            let err = exceptions::parse(&blob[..len]).unwrap_err();
            assert!(matches!(err, IcalError::Truncated { .. }), "{len}: {err}");
        }
    }
    let err = exceptions::parse(&hex(SPEC_WEEKLY)[..10]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the recurrence pattern is truncated at byte 10 (FirstDateTime)"
    );
    // A count of four billion deleted dates is not believed.
    let mut huge = hex(SPEC_DAILY);
    huge[34..38].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = exceptions::parse(&huge).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the recurrence pattern is truncated at byte 38 (DeletedInstanceDates)"
    );
}

/// Builds a `RecurrencePattern` field by field ([MS-OXOCAL] 2.2.1.44.1)
/// followed by the appointment part (2.2.1.44.5) without exceptions.
pub(super) struct Pattern {
    pub(super) frequency: u16,
    pub(super) pattern_type: u16,
    pub(super) specific: Vec<u32>,
    pub(super) period: u32,
    pub(super) end_type: u32,
    pub(super) count: u32,
    pub(super) first_dow: u32,
    pub(super) start: u32,
    pub(super) end: u32,
}

impl Pattern {
    pub(super) fn bytes(&self, deleted: &[u32], modified: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        let u16s = |out: &mut Vec<u8>, v: u16| out.extend(v.to_le_bytes());
        let u32s = |out: &mut Vec<u8>, v: u32| out.extend(v.to_le_bytes());
        u16s(&mut out, 0x3004); // ReaderVersion
        u16s(&mut out, 0x3004); // WriterVersion
        u16s(&mut out, self.frequency); // RecurFrequency
        u16s(&mut out, self.pattern_type); // PatternType
        u16s(&mut out, 0); // CalendarType: Gregorian
        u32s(&mut out, 0); // FirstDateTime (not used for the RRULE)
        u32s(&mut out, self.period); // Period
        u32s(&mut out, 0); // SlidingFlag
        for v in &self.specific {
            u32s(&mut out, *v); // PatternTypeSpecific
        }
        u32s(&mut out, self.end_type); // EndType
        u32s(&mut out, self.count); // OccurrenceCount
        u32s(&mut out, self.first_dow); // FirstDOW
        u32s(&mut out, deleted.len() as u32); // DeletedInstanceCount
        for d in deleted {
            u32s(&mut out, *d); // DeletedInstanceDates
        }
        u32s(&mut out, modified.len() as u32); // ModifiedInstanceCount
        for d in modified {
            u32s(&mut out, *d); // ModifiedInstanceDates
        }
        u32s(&mut out, self.start); // StartDate
        u32s(&mut out, self.end); // EndDate
        out
    }

    /// The pattern of an appointment from 10:00 to 11:00, no exceptions.
    fn appointment(&self) -> Vec<u8> {
        let mut out = self.bytes(&[], &[]);
        for v in [0x3006, 0x3009, 600, 660] {
            out.extend(u32::to_le_bytes(v)); // ReaderVersion2, WriterVersion2, Start/EndTimeOffset
        }
        out.extend(0u16.to_le_bytes()); // ExceptionCount
        out.extend(0u32.to_le_bytes()); // ReservedBlock1Size
        out.extend(0u32.to_le_bytes()); // ReservedBlock2Size
        out
    }
}

const NEVER: u32 = 0x2023;
pub(super) const AFTER_COUNT: u32 = 0x2022;
const AFTER_DATE: u32 = 0x2021;
/// "No end date" as Outlook writes it.
const NO_END_DATE: u32 = 0x5AE9_80DF;

/// The RRULE and first instances (UTC) of a 10:00 Central European
/// appointment that recurs as `pattern` from `first`.
fn expand(pattern: Pattern, first: chrono::DateTime<chrono::Utc>) -> (String, Vec<String>) {
    let zone = definition("W. Europe Standard Time", &[europe()]);
    let end = first + chrono::Duration::hours(1);
    let ics = event(
        &recurring(first, end, pattern.appointment(), Some(zone)),
        "u",
    )
    .unwrap();
    let lines = component(&text(&ics), "VEVENT", 0);
    let rrule = lines
        .iter()
        .find_map(|l| l.strip_prefix("RRULE:"))
        .expect("an RRULE")
        .to_owned();
    let instances = strings(&parse(&ics)[0]["instances"]);
    (rrule, instances)
}

#[test]
fn monthly_and_yearly_patterns_become_rrules_with_the_same_instances() {
    let monthly = |pattern_type, specific: Vec<u32>, period, end_type, count, start, end| Pattern {
        frequency: 0x200C,
        pattern_type,
        specific,
        period,
        end_type,
        count,
        first_dow: 0,
        start,
        end,
    };
    // The second Tuesday of every month, four times (Central European
    // 10:00 is 09:00 UTC in winter, 08:00 in summer).
    let (rrule, got) = expand(
        monthly(
            3,
            vec![0x04, 2],
            1,
            AFTER_COUNT,
            4,
            m(2024, 1, 9, 0, 0),
            m(2024, 4, 9, 0, 0),
        ),
        at(2024, 1, 9, 9, 0),
    );
    assert_eq!(rrule, "FREQ=MONTHLY;BYDAY=2TU;COUNT=4");
    assert_eq!(
        got,
        [
            "20240109T090000Z",
            "20240213T090000Z",
            "20240312T090000Z",
            "20240409T080000Z"
        ]
    );

    // The last Friday of every other month, until 2024-07-26.
    let (rrule, got) = expand(
        monthly(
            3,
            vec![0x20, 5],
            2,
            AFTER_DATE,
            4,
            m(2024, 1, 26, 0, 0),
            m(2024, 7, 26, 0, 0),
        ),
        at(2024, 1, 26, 9, 0),
    );
    assert_eq!(
        rrule,
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR;UNTIL=20240726T080000Z"
    );
    assert_eq!(
        got,
        [
            "20240126T090000Z",
            "20240329T090000Z",
            "20240531T080000Z",
            "20240726T080000Z"
        ]
    );

    // The last weekday of the month.
    let (rrule, got) = expand(
        monthly(
            3,
            vec![0x3E, 5],
            1,
            AFTER_COUNT,
            2,
            m(2024, 5, 31, 0, 0),
            m(2024, 6, 28, 0, 0),
        ),
        at(2024, 5, 31, 8, 0),
    );
    assert_eq!(
        rrule,
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=2"
    );
    assert_eq!(got, ["20240531T080000Z", "20240628T080000Z"]);

    // Day 31: the last day of every month.
    let (rrule, got) = expand(
        monthly(
            2,
            vec![31],
            1,
            AFTER_COUNT,
            4,
            m(2024, 1, 31, 0, 0),
            m(2024, 4, 30, 0, 0),
        ),
        at(2024, 1, 31, 9, 0),
    );
    assert_eq!(rrule, "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4");
    assert_eq!(
        got,
        [
            "20240131T090000Z",
            "20240229T090000Z",
            "20240331T080000Z",
            "20240430T080000Z"
        ]
    );

    // Day 30: February's last day stands in for it, as in Outlook.
    let (rrule, got) = expand(
        monthly(
            2,
            vec![30],
            1,
            AFTER_COUNT,
            3,
            m(2025, 1, 30, 0, 0),
            m(2025, 3, 30, 0, 0),
        ),
        at(2025, 1, 30, 9, 0),
    );
    assert_eq!(
        rrule,
        "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1;COUNT=3"
    );
    assert_eq!(
        got,
        ["20250130T090000Z", "20250228T090000Z", "20250330T080000Z"]
    );

    // Yearly, the fourth Thursday of November, for ever.
    let yearly = |pattern_type, specific, start| Pattern {
        frequency: 0x200D,
        period: 12,
        end_type: NEVER,
        end: NO_END_DATE,
        ..monthly(pattern_type, specific, 12, NEVER, 10, start, 0)
    };
    let (rrule, got) = expand(
        yearly(3, vec![0x10, 4], m(2024, 11, 28, 0, 0)),
        at(2024, 11, 28, 9, 0),
    );
    assert_eq!(rrule, "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH");
    assert_eq!(
        got[..3],
        ["20241128T090000Z", "20251127T090000Z", "20261126T090000Z"]
    );

    // Yearly on March 15.
    let (rrule, got) = expand(
        yearly(2, vec![15], m(2024, 3, 15, 0, 0)),
        at(2024, 3, 15, 9, 0),
    );
    assert_eq!(rrule, "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15");
    assert_eq!(got[..2], ["20240315T090000Z", "20250315T090000Z"]);
}

#[test]
fn daily_and_weekly_patterns_become_rrules_with_the_same_instances() {
    // Every weekday: a daily frequency with a Week pattern.
    let weekdays = Pattern {
        frequency: 0x200A,
        pattern_type: 1,
        specific: vec![0x3E],
        period: 1,
        end_type: AFTER_COUNT,
        count: 3,
        first_dow: 0,
        start: m(2024, 5, 3, 0, 0),
        end: m(2024, 5, 7, 0, 0),
    };
    let (rrule, got) = expand(weekdays, at(2024, 5, 3, 8, 0));
    assert_eq!(rrule, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;WKST=SU;COUNT=3");
    assert_eq!(
        got,
        ["20240503T080000Z", "20240506T080000Z", "20240507T080000Z"]
    );

    // Every other week on Sunday and Monday, weeks starting on Monday:
    // WKST decides which Sunday goes with which Monday.
    let fortnightly = Pattern {
        frequency: 0x200B,
        pattern_type: 1,
        specific: vec![0x03],
        period: 2,
        end_type: AFTER_COUNT,
        count: 4,
        first_dow: 1,
        start: m(2024, 5, 6, 0, 0),
        end: m(2024, 5, 26, 0, 0),
    };
    let (rrule, got) = expand(fortnightly, at(2024, 5, 6, 8, 0));
    assert_eq!(rrule, "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;WKST=MO;COUNT=4");
    assert_eq!(
        got,
        [
            "20240506T080000Z",
            "20240512T080000Z",
            "20240520T080000Z",
            "20240526T080000Z"
        ]
    );
}

#[test]
fn garbled_patterns_are_errors_with_a_reason() {
    let base = || Pattern {
        frequency: 0x200B,
        pattern_type: 1,
        specific: vec![0x02],
        period: 1,
        end_type: NEVER,
        count: 0,
        first_dow: 0,
        start: m(2024, 5, 6, 0, 0),
        end: NO_END_DATE,
    };
    let error = |pattern: Pattern| {
        let item = recurring(
            at(2024, 5, 6, 8, 0),
            at(2024, 5, 6, 9, 0),
            pattern.appointment(),
            None,
        );
        event(&item, "u").unwrap_err().to_string()
    };
    assert_eq!(
        error(Pattern {
            specific: vec![0],
            ..base()
        }),
        "the recurrence pattern is invalid: its day mask 0x00 names no weekday"
    );
    assert_eq!(
        error(Pattern {
            pattern_type: 7,
            specific: vec![],
            ..base()
        }),
        "the recurrence pattern is invalid: its pattern type 0x0007 is unknown"
    );
    assert_eq!(
        error(Pattern {
            end_type: 0x1234,
            ..base()
        }),
        "the recurrence pattern is invalid: its end type 0x00001234 is unknown"
    );
    assert_eq!(
        error(Pattern {
            frequency: 0x200C,
            pattern_type: 3,
            specific: vec![0x02, 6],
            ..base()
        }),
        "the recurrence pattern is invalid: week 6 of the month is not 1 to 5"
    );
    assert_eq!(
        error(Pattern {
            frequency: 0x200A,
            pattern_type: 0,
            specific: vec![],
            period: 90,
            ..base()
        }),
        "the recurrence pattern is invalid: a daily period of 90 minutes is not whole days"
    );
}

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
    crate::protocols::pst::ical::tests::set(
        &mut item,
        crate::protocols::pst::item::Key::Tag(0x0037),
        Value::Text("Stand-up".into()),
    );
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
    assert_eq!(
        exdates,
        ["EXDATE;TZID=W. Europe Standard Time:20240604T090000"]
    );
    assert!(master.contains(&"RRULE:FREQ=DAILY;COUNT=5".to_owned()));

    let moved = component(&text, "VEVENT", 1);
    let tz = "TZID=W. Europe Standard Time";
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
