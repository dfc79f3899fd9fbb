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

/// A pattern, the first instance (UTC) of a 10:00 Central European
/// appointment that follows it, and what Outlook shows: the RRULE it
/// means and its first instances (10:00 is 09:00 UTC in winter, 08:00 in
/// summer).
struct Case {
    what: &'static str,
    pattern: Pattern,
    first: chrono::DateTime<chrono::Utc>,
    rrule: &'static str,
    instances: &'static [&'static str],
}

/// A pattern of `frequency` and `pattern_type` from the date of `first`.
fn pattern(
    frequency: u16,
    pattern_type: u16,
    specific: Vec<u32>,
    first: (i32, u32, u32),
) -> Pattern {
    Pattern {
        frequency,
        pattern_type,
        specific,
        period: 1,
        end_type: NEVER,
        count: 10,
        first_dow: 0,
        start: m(first.0, first.1, first.2, 0, 0),
        end: NO_END_DATE,
    }
}

/// `count` times.
fn times(count: u32, pattern: Pattern) -> Pattern {
    Pattern {
        end_type: AFTER_COUNT,
        count,
        ..pattern
    }
}

const MONTHLY: u16 = 0x200C;
const YEARLY: u16 = 0x200D;

#[test]
fn patterns_become_rrules_with_the_same_instances() {
    let cases = [
        Case {
            what: "every weekday: a daily frequency with a Week pattern",
            pattern: times(3, pattern(0x200A, 1, vec![0x3E], (2024, 5, 3))),
            first: at(2024, 5, 3, 8, 0),
            rrule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;WKST=SU;COUNT=3",
            instances: &["20240503T080000Z", "20240506T080000Z", "20240507T080000Z"],
        },
        Case {
            what: "every other week on Sunday and Monday, weeks from Monday \
                   (WKST decides which Sunday goes with which Monday)",
            pattern: Pattern {
                period: 2,
                first_dow: 1,
                ..times(4, pattern(0x200B, 1, vec![0x03], (2024, 5, 6)))
            },
            first: at(2024, 5, 6, 8, 0),
            rrule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;WKST=MO;COUNT=4",
            instances: &[
                "20240506T080000Z",
                "20240512T080000Z",
                "20240520T080000Z",
                "20240526T080000Z",
            ],
        },
        Case {
            what: "the second Tuesday of every month",
            pattern: times(4, pattern(MONTHLY, 3, vec![0x04, 2], (2024, 1, 9))),
            first: at(2024, 1, 9, 9, 0),
            rrule: "FREQ=MONTHLY;BYDAY=2TU;COUNT=4",
            instances: &[
                "20240109T090000Z",
                "20240213T090000Z",
                "20240312T090000Z",
                "20240409T080000Z",
            ],
        },
        Case {
            what: "the last Friday of every other month, until 2024-07-26",
            pattern: Pattern {
                period: 2,
                end_type: AFTER_DATE,
                end: m(2024, 7, 26, 0, 0),
                ..pattern(MONTHLY, 3, vec![0x20, 5], (2024, 1, 26))
            },
            first: at(2024, 1, 26, 9, 0),
            rrule: "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR;UNTIL=20240726T080000Z",
            instances: &[
                "20240126T090000Z",
                "20240329T090000Z",
                "20240531T080000Z",
                "20240726T080000Z",
            ],
        },
        Case {
            what: "the last weekday of the month",
            pattern: times(2, pattern(MONTHLY, 3, vec![0x3E, 5], (2024, 5, 31))),
            first: at(2024, 5, 31, 8, 0),
            rrule: "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=2",
            instances: &["20240531T080000Z", "20240628T080000Z"],
        },
        Case {
            what: "day 31: the last day of every month",
            pattern: times(4, pattern(MONTHLY, 2, vec![31], (2024, 1, 31))),
            first: at(2024, 1, 31, 9, 0),
            rrule: "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4",
            instances: &[
                "20240131T090000Z",
                "20240229T090000Z",
                "20240331T080000Z",
                "20240430T080000Z",
            ],
        },
        Case {
            what: "day 30: February's last day stands in for it, as in Outlook",
            pattern: times(3, pattern(MONTHLY, 2, vec![30], (2025, 1, 30))),
            first: at(2025, 1, 30, 9, 0),
            rrule: "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1;COUNT=3",
            instances: &["20250130T090000Z", "20250228T090000Z", "20250330T080000Z"],
        },
        Case {
            what: "yearly, the fourth Thursday of November, for ever",
            pattern: Pattern {
                period: 12,
                ..pattern(YEARLY, 3, vec![0x10, 4], (2024, 11, 28))
            },
            first: at(2024, 11, 28, 9, 0),
            rrule: "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            instances: &["20241128T090000Z", "20251127T090000Z", "20261126T090000Z"],
        },
        Case {
            what: "yearly on March 15",
            pattern: Pattern {
                period: 12,
                ..pattern(YEARLY, 2, vec![15], (2024, 3, 15))
            },
            first: at(2024, 3, 15, 9, 0),
            rrule: "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15",
            instances: &["20240315T090000Z", "20250315T090000Z"],
        },
    ];
    for case in cases {
        let zone = definition("W. Europe Standard Time", &[europe()]);
        let end = case.first + chrono::Duration::hours(1);
        let item = recurring(case.first, end, case.pattern.appointment(), Some(zone));
        let ics = event(&item, "u").unwrap();
        let lines = component(&text(&ics), "VEVENT", 0);
        let rrule = lines.iter().find_map(|l| l.strip_prefix("RRULE:"));
        assert_eq!(rrule, Some(case.rrule), "{}", case.what);
        let instances = strings(&parse(&ics)[0]["instances"]);
        assert_eq!(
            instances[..case.instances.len()],
            *case.instances,
            "{}",
            case.what
        );
        if case.pattern.end_type == AFTER_COUNT {
            assert_eq!(instances.len(), case.instances.len(), "{}", case.what);
        }
    }
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
