//! The example blobs of [MS-OXOCAL] 4.1.1, expanded by vobject's RRULE
//! engine and compared with the instances the specification describes;
//! cut or garbled, they are errors, never panics.

use proptest::prelude::*;

use super::check::{parse, value};
use super::zones::{definition, pacific};
use super::{at, component, hex, lid, recurring, strings, text, unfolded};
use crate::protocols::pst::ical::{IcalError, event, exceptions, task};
use crate::protocols::pst::item::{MapiItem, PSETID_APPOINTMENT, PSETID_TASK, Value};

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
            "DTSTART;TZID=America/Los_Angeles:20070326T100000",
            "DTEND;TZID=America/Los_Angeles:20070326T103000",
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
            "RECURRENCE-ID;TZID=America/Los_Angeles:20070416T100000",
            "DTSTART;TZID=America/Los_Angeles:20070416T110000",
            "DTEND;TZID=America/Los_Angeles:20070416T113000",
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
        "EXDATE;TZID=America/Los_Angeles:20110419T080000",
        "EXDATE;TZID=America/Los_Angeles:20110422T080000",
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
        "the recurrence pattern cannot be converted: calendar type 8 is lunar: \
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Bytes of the spec's blobs overwritten at random, the zone cut
    /// anywhere: an error or a well-formed object, never a panic.
    #[test]
    fn garbled_blobs_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut blob = hex([SPEC_WEEKLY, SPEC_DAILY, SPEC_HEBREW][which]);
        for (index, byte) in edits {
            let i = index.index(blob.len());
            blob[i] = byte;
        }
        let mut zone = definition("Pacific Standard Time", &[pacific()]);
        zone.truncate(cut.index(zone.len() + 1));
        let item = recurring(at(2007, 3, 26, 17, 0), at(2007, 3, 26, 17, 30), blob, Some(zone));
        if let Ok(ics) = event(&item, "u") {
            text(&ics);
        }
    }

    /// Random bytes as the recurrence and as the zone.
    #[test]
    fn random_blobs_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let item = recurring(at(2024, 1, 1, 9, 0), at(2024, 1, 1, 10, 0), bytes.clone(), Some(bytes));
        if let Ok(ics) = event(&item, "u") {
            text(&ics);
        }
    }

    /// Random bytes as a task's recurrence and as a `TZREG`.
    #[test]
    fn random_task_patterns_and_tzregs_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut todo = MapiItem::default();
        lid(&mut todo, PSETID_TASK, 0x8104, Value::Time(at(2024, 5, 6, 0, 0)));
        lid(&mut todo, PSETID_TASK, 0x8116, Value::Binary(bytes.clone()));
        lid(&mut todo, PSETID_TASK, 0x8126, Value::Bool(true));
        if let Ok(ics) = task(&todo, "u") {
            text(&ics);
        }
        let mut appointment = MapiItem::default();
        lid(&mut appointment, PSETID_APPOINTMENT, 0x820D, Value::Time(at(2024, 5, 6, 9, 0)));
        lid(&mut appointment, PSETID_APPOINTMENT, 0x8233, Value::Binary(bytes));
        if let Ok(ics) = event(&appointment, "u") {
            text(&ics);
        }
    }
}
