//! Recurrence and time zone blobs: byte for byte against [MS-OXOCAL]'s
//! examples, and as readpst reads them back from a written file.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use tempfile::TempDir;

use super::readpst::{blocks, readpst};
use super::{at, event, text};
use crate::support::pst_writer::recurrence::{Change, EUROPE_PARIS, End, Pattern, Recurrence};
use crate::support::pst_writer::{Item, Key, PSETID_APPOINTMENT, PstBuilder, Value};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

#[test]
fn recurrence_blobs_match_the_examples_of_ms_oxocal() {
    // [MS-OXOCAL] 4.1.1.3: every three days from 2011-04-07 to 2011-05-04,
    // 08:00 to 08:30, the occurrences of April 19 and 22 deleted.
    let daily = Recurrence {
        pattern: Pattern::Daily { every: 3 },
        start: local(2011, 4, 7, 8, 0),
        duration: Duration::minutes(30),
        end: End::Date(NaiveDate::from_ymd_opt(2011, 5, 4).unwrap()),
        deleted: vec![
            NaiveDate::from_ymd_opt(2011, 4, 19).unwrap(),
            NaiveDate::from_ymd_opt(2011, 4, 22).unwrap(),
        ],
        changed: vec![],
    };
    assert_eq!(
        daily.blob(),
        hex(
            "043004300A2000000000A0050000E010000000000000212000000A000000000000000200\
             0000A0C1DC0C80D2DC0C00000000207EDC0C0016DD0C0630000009300000E0010000FE01\
             000000000000000000000000"
        )
    );
    // [MS-OXOCAL] 4.1.1.2: Monday, Thursday and Friday, 10:00 to 10:30,
    // twelve times from 2007-03-26; the occurrence of April 16 moved to
    // 11:00 with another subject and location.
    let weekly = Recurrence {
        pattern: Pattern::Weekly {
            every: 1,
            days: vec![Weekday::Mon, Weekday::Thu, Weekday::Fri],
        },
        start: local(2007, 3, 26, 10, 0),
        duration: Duration::minutes(30),
        end: End::Count(12),
        deleted: vec![],
        changed: vec![Change {
            original: local(2007, 4, 16, 10, 0),
            start: local(2007, 4, 16, 11, 0),
            end: local(2007, 4, 16, 11, 30),
            subject: Some("Simple Recurrence with exceptions".into()),
            location: Some("34/4141".into()),
        }],
    };
    assert_eq!(
        weekly.blob(),
        hex(
            "043004300B2001000000C0210000010000000000000032000000222000000C00000000\
             00000001000000A096BC0C01000000A096BC0C8020BC0C20ADBC0C063000000930000058\
             0200007602000001003499BC0C5299BC0CF898BC0C11002200210053696D706C65205265\
             63757272656E6365207769746820657863657074696F6E730800070033342F3431343100\
             0000000400000000000000000000003499BC0C5299BC0CF898BC0C2100530069006D0070\
             006C006500200052006500630075007200720065006E0063006500200077006900740068\
             00200065007800630065007000740069006F006E0073000700330034002F003400310034\
             0031000000000000000000"
        )
    );
}

/// PidLidAppointmentRecur, PidLidRecurring, PidLidTimeZoneStruct,
/// PidLidTimeZoneDescription, PidLidAppointmentTimeZoneDefinitionRecur.
const LID_RECUR: u32 = 0x8216;
const LID_RECURRING: u32 = 0x8223;
const LID_TZ_STRUCT: u32 = 0x8233;
const LID_TZ_DESCRIPTION: u32 = 0x8234;
const LID_TZ_DEFINITION_RECUR: u32 = 0x8260;

/// A recurring appointment in Paris whose first occurrence is `first`
/// (UTC, one hour).
fn series(subject: &str, first: DateTime<Utc>, recurrence: &Recurrence) -> Item {
    let mut item = event(subject, "Room 1", first, first + Duration::hours(1));
    let apt = |lid| Key::Lid(PSETID_APPOINTMENT, lid);
    item.props.extend([
        (apt(LID_RECUR), Value::Binary(recurrence.blob())),
        (apt(LID_RECURRING), Value::Bool(true)),
        (
            apt(LID_TZ_STRUCT),
            Value::Binary(EUROPE_PARIS.time_zone_struct()),
        ),
        (apt(LID_TZ_DESCRIPTION), text("Romance Standard Time")),
        (
            apt(LID_TZ_DEFINITION_RECUR),
            Value::Binary(EUROPE_PARIS.definition("Romance Standard Time", 2025)),
        ),
    ]);
    item
}

#[test]
fn readpst_shows_the_rules_of_recurring_series() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("recurring.pst");
    let mut pst = PstBuilder::new("Recurring");
    let calendar = pst.folder(None, "Calendar", "IPF.Appointment");
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let recurrence = |pattern, start, end| Recurrence {
        pattern,
        start,
        duration: Duration::hours(1),
        end,
        deleted: vec![],
        changed: vec![],
    };
    // Mondays and Wednesdays at 09:00 Paris time (08:00 UTC in March),
    // ten times; the Wednesday of March 5 deleted, the Monday of March 10
    // moved to Tuesday afternoon with its own subject and place.
    let mut weekly = recurrence(
        Pattern::Weekly {
            every: 1,
            days: vec![Weekday::Mon, Weekday::Wed],
        },
        local(2025, 3, 3, 9, 0),
        End::Count(10),
    );
    weekly.deleted = vec![date(2025, 3, 5)];
    weekly.changed = vec![Change {
        original: local(2025, 3, 10, 9, 0),
        start: local(2025, 3, 11, 14, 0),
        end: local(2025, 3, 11, 15, 0),
        subject: Some("Standup, moved".into()),
        location: Some("Room 9".into()),
    }];
    let all = [
        ("Standup", at(3, 8, 0), weekly),
        (
            "Every other day",
            at(3, 8, 0),
            recurrence(
                Pattern::Daily { every: 2 },
                local(2025, 3, 3, 9, 0),
                End::Never,
            ),
        ),
        (
            "Rent",
            at(15, 8, 0),
            recurrence(
                Pattern::MonthlyDay { every: 1, day: 15 },
                local(2025, 3, 15, 9, 0),
                End::Date(date(2025, 12, 31)),
            ),
        ),
        (
            "Quarterly review",
            at(11, 8, 0),
            recurrence(
                Pattern::MonthlyNth {
                    every: 3,
                    nth: 2,
                    days: vec![Weekday::Tue],
                },
                local(2025, 3, 11, 9, 0),
                End::Count(4),
            ),
        ),
        (
            "Spring",
            at(20, 8, 0),
            recurrence(
                Pattern::Yearly { day: 20 },
                local(2025, 3, 20, 9, 0),
                End::Never,
            ),
        ),
        (
            "Clocks back",
            Utc.with_ymd_and_hms(2025, 10, 26, 8, 0, 0).unwrap(),
            recurrence(
                Pattern::YearlyNth {
                    nth: 5,
                    days: vec![Weekday::Sun],
                },
                local(2025, 10, 26, 9, 0),
                End::Count(3),
            ),
        ),
    ];
    for (subject, first, recurrence) in &all {
        pst.item(calendar, series(subject, *first, recurrence));
    }
    pst.write(&path).unwrap();

    let read = readpst(&path);
    let events = blocks(&read.files["Calendar.calendar"], "VEVENT", &[]);
    let rules: Vec<(String, Option<String>)> = events
        .iter()
        .map(|e| {
            let field = |name: &str| e.iter().find(|l| l.starts_with(name)).cloned();
            (field("SUMMARY:").unwrap(), field("RRULE:"))
        })
        .collect();
    let expected = [
        // libpst joins BYDAY values with ';' and writes "last" as
        // BYSETPOS=5; it writes no EXDATE for deleted occurrences.
        ("Standup", "FREQ=WEEKLY;COUNT=10;BYDAY=MO;WE"),
        ("Every other day", "FREQ=DAILY;INTERVAL=2"),
        ("Rent", "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=15"),
        (
            "Quarterly review",
            "FREQ=MONTHLY;COUNT=4;INTERVAL=3;BYSETPOS=2;BYDAY=TU",
        ),
        ("Spring", "FREQ=YEARLY;BYMONTHDAY=20;BYMONTH=3"),
        (
            "Clocks back",
            "FREQ=YEARLY;COUNT=3;BYMONTH=10;BYSETPOS=5;BYDAY=SU",
        ),
    ];
    let expected: Vec<(String, Option<String>)> = expected
        .iter()
        .map(|(s, r)| (format!("SUMMARY:{s}"), Some(format!("RRULE:{r}"))))
        .collect();
    assert_eq!(rules, expected);
    assert!(
        events[0].contains(&"DTSTART;VALUE=DATE-TIME:20250303T080000Z".to_owned()),
        "{:?}",
        events[0]
    );

    // The occurrences the weekly series stands for.
    let (_, _, weekly) = &all[0];
    let days: Vec<String> = weekly
        .occurrences()
        .iter()
        .map(|d| d.format("%m-%d").to_string())
        .collect();
    assert_eq!(
        days,
        [
            "03-03", "03-05", "03-10", "03-12", "03-17", "03-19", "03-24", "03-26", "03-31",
            "04-02"
        ]
    );
}

#[test]
fn the_paris_time_zone_blobs_hold_its_rules() {
    // TZREG: lBias -60, lStandardBias 0, lDaylightBias -60, then each
    // transition as year 0 and a SYSTEMTIME (year, month, day of week,
    // week, hour, minute, second, ms): October's last Sunday at 03:00,
    // March's last Sunday at 02:00.
    let biases = "C4FFFFFF00000000C4FFFFFF";
    let standard = "00000A00000005000300000000000000";
    let daylight = "00000300000005000200000000000000";
    let tzreg = format!("{biases}0000{standard}0000{daylight}");
    assert_eq!(EUROPE_PARIS.time_zone_struct(), hex(&tzreg));

    // TZDEFINITION: version 2.1, cbHeader 48 (reserved 2, name length
    // 21, the name, one rule), then the rule: version 2.1, reserved 0x3E,
    // flags EFFECTIVE | RECUR_CURRENT, year 2025, 14 zero bytes, the
    // biases and the transitions.
    let name: String = "Romance Standard Time"
        .bytes()
        .map(|b| format!("{b:02X}00"))
        .collect();
    let definition = format!(
        "0201 3000 0200 1500 {name} 0100 0201 3E00 0300 E907 {zeros} {biases}{standard}{daylight}",
        zeros = "00".repeat(14)
    )
    .replace(' ', "");
    assert_eq!(
        EUROPE_PARIS.definition("Romance Standard Time", 2025),
        hex(&definition)
    );
}
