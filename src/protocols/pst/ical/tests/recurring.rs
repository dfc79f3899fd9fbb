//! Recurrence patterns built field by field from the layout of
//! [MS-OXOCAL] 2.2.1.44.1, each expanded by vobject's RRULE engine and
//! compared with the instances Outlook shows.

use super::check::parse;
use super::zones::{definition, europe};
use super::{at, component, m, recurring, strings, text};
use crate::protocols::pst::ical::event;

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
        self.appointment_at(&[], 600, 660)
    }

    /// The pattern of an appointment at these minutes of the day, with
    /// these deleted instances and no modified one.
    pub(super) fn appointment_at(&self, deleted: &[u32], start: u32, end: u32) -> Vec<u8> {
        let mut out = self.bytes(deleted, &[]);
        out.extend(0x3006u32.to_le_bytes()); // ReaderVersion2
        out.extend(0x3009u32.to_le_bytes()); // WriterVersion2
        out.extend(start.to_le_bytes()); // StartTimeOffset
        out.extend(end.to_le_bytes()); // EndTimeOffset
        out.extend(0u16.to_le_bytes()); // ExceptionCount
        out.extend(0u32.to_le_bytes()); // ReservedBlock1Size
        out.extend(0u32.to_le_bytes()); // ReservedBlock2Size
        out
    }
}

pub(super) const NEVER: u32 = 0x2023;
pub(super) const AFTER_COUNT: u32 = 0x2022;
const AFTER_DATE: u32 = 0x2021;
/// "No end date" as Outlook writes it.
pub(super) const NO_END_DATE: u32 = 0x5AE9_80DF;

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
