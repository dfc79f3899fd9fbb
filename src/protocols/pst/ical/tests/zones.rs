//! Time zones: `TZDEFINITION` and `TZREG` blobs built from the byte
//! layouts of [MS-OXOCAL] 2.2.1.41 and 2.2.1.39, in both hemispheres.

use super::check::{parse, value};
use super::recurring::{AFTER_COUNT, Pattern};
use super::{at, component, lid, m, recurring, strings, text, unfolded};
use crate::protocols::pst::ical::event;
use crate::protocols::pst::item::{MapiItem, PSETID_APPOINTMENT, Value};

/// A `SYSTEMTIME` of a yearly rule: year 0, month, day of week (0
/// Sunday), week of the month (5 the last), hour.
pub(super) fn onset(month: u16, weekday: u16, week: u16, hour: u16) -> [u16; 8] {
    [0, month, weekday, week, hour, 0, 0, 0]
}

/// One zone rule: bias (UTC = local + bias), standard and daylight
/// biases, and when standard and daylight time begin.
pub(super) struct Rule {
    pub(super) year: u16,
    pub(super) bias: i32,
    pub(super) daylight_bias: i32,
    pub(super) standard: [u16; 8],
    pub(super) daylight: [u16; 8],
}

fn systemtime(out: &mut Vec<u8>, st: [u16; 8]) {
    for word in st {
        out.extend(word.to_le_bytes());
    }
}

/// A `TZDEFINITION`.
pub(super) fn definition(name: &str, rules: &[Rule]) -> Vec<u8> {
    let name: Vec<u16> = name.encode_utf16().collect();
    let mut out = vec![
        0x02, // MajorVersion
        0x01, // MinorVersion
    ];
    let header = 6 + 2 * name.len() as u16; // Reserved, cchKeyName, KeyName, cRules
    out.extend(header.to_le_bytes()); // cbHeader
    out.extend(0x0002u16.to_le_bytes()); // Reserved
    out.extend((name.len() as u16).to_le_bytes()); // cchKeyName
    for unit in &name {
        out.extend(unit.to_le_bytes()); // KeyName
    }
    out.extend((rules.len() as u16).to_le_bytes()); // cRules
    for rule in rules {
        out.extend([0x02, 0x01]); // MajorVersion, MinorVersion
        out.extend(0x003Eu16.to_le_bytes()); // Reserved
        out.extend(0x0002u16.to_le_bytes()); // TZRule flags: effective
        out.extend(rule.year.to_le_bytes()); // wYear
        out.extend([0; 14]); // X
        out.extend(rule.bias.to_le_bytes()); // lBias
        out.extend(0i32.to_le_bytes()); // lStandardBias
        out.extend(rule.daylight_bias.to_le_bytes()); // lDaylightBias
        systemtime(&mut out, rule.standard); // stStandardDate
        systemtime(&mut out, rule.daylight); // stDaylightDate
    }
    out
}

/// A `TZREG`.
fn tzreg(rule: &Rule) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(rule.bias.to_le_bytes()); // lBias
    out.extend(0i32.to_le_bytes()); // lStandardBias
    out.extend(rule.daylight_bias.to_le_bytes()); // lDaylightBias
    out.extend(0u16.to_le_bytes()); // wStandardYear
    systemtime(&mut out, rule.standard); // stStandardDate
    out.extend(0u16.to_le_bytes()); // wDaylightYear
    systemtime(&mut out, rule.daylight); // stDaylightDate
    out
}

/// Central Europe: UTC+1, summer time from the last Sunday of March at
/// 02:00 to the last Sunday of October at 03:00.
pub(super) fn europe() -> Rule {
    Rule {
        year: 0,
        bias: -60,
        daylight_bias: -60,
        standard: onset(10, 0, 5, 3),
        daylight: onset(3, 0, 5, 2),
    }
}

/// US Pacific since 2007: UTC-8, daylight time from the second Sunday of
/// March to the first Sunday of November, both at 02:00.
pub(super) fn pacific() -> Rule {
    Rule {
        year: 2007,
        bias: 480,
        daylight_bias: -60,
        standard: onset(11, 0, 1, 2),
        daylight: onset(3, 0, 2, 2),
    }
}

/// US Pacific before 2007: daylight time from the first Sunday of April
/// to the last Sunday of October.
fn pacific_until_2006() -> Rule {
    Rule {
        year: 1990,
        standard: onset(10, 0, 5, 2),
        daylight: onset(4, 0, 1, 2),
        ..pacific()
    }
}

/// An appointment from `start` to `end` with a zone blob set.
fn timed(start: chrono::DateTime<chrono::Utc>, zone_lid: u32, zone: Vec<u8>) -> MapiItem {
    let mut item = MapiItem::default();
    lid(&mut item, PSETID_APPOINTMENT, 0x820D, Value::Time(start));
    lid(
        &mut item,
        PSETID_APPOINTMENT,
        0x820E,
        Value::Time(start + chrono::Duration::minutes(45)),
    );
    lid(&mut item, PSETID_APPOINTMENT, zone_lid, Value::Binary(zone));
    item
}

#[test]
fn a_timed_event_is_written_in_its_zone() {
    let zone = definition("W. Europe Standard Time", &[europe()]);
    for (instant, local) in [
        (at(2024, 7, 1, 8, 0), "20240701T100000"),
        (at(2024, 1, 15, 8, 0), "20240115T090000"),
        // Just after the change back to winter time (an hour earlier, the
        // wall-clock time would be ambiguous).
        (at(2024, 10, 27, 2, 30), "20241027T033000"),
    ] {
        let ics = event(&timed(instant, 0x825E, zone.clone()), "u").unwrap();
        let text = text(&ics);
        let vevent = component(&text, "VEVENT", 0);
        assert_eq!(
            vevent[3],
            format!("DTSTART;TZID=Europe/Berlin:{local}"),
            "{text}"
        );
        let vtimezone = component(&text, "VTIMEZONE", 0);
        assert_eq!(
            vtimezone,
            [
                "BEGIN:VTIMEZONE",
                "TZID:Europe/Berlin",
                "BEGIN:STANDARD",
                "DTSTART:16011028T030000",
                "TZOFFSETFROM:+0200",
                "TZOFFSETTO:+0100",
                "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
                "END:STANDARD",
                "BEGIN:DAYLIGHT",
                "DTSTART:16010325T020000",
                "TZOFFSETFROM:+0100",
                "TZOFFSETTO:+0200",
                "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
                "END:DAYLIGHT",
                "END:VTIMEZONE",
            ]
        );
        // vobject applies the VTIMEZONE and finds the same instant.
        let parsed = parse(&ics);
        let utc = instant.format("%Y%m%dT%H%M%SZ").to_string();
        assert_eq!(value(&parsed[0], "DTSTART"), utc);
    }
}

#[test]
fn a_southern_zone_has_summer_at_the_turn_of_the_year() {
    // AUS Eastern: UTC+10, summer time from the first Sunday of October
    // 02:00 to the first Sunday of April 03:00.
    let sydney = Rule {
        year: 0,
        bias: -600,
        daylight_bias: -60,
        standard: onset(4, 0, 1, 3),
        daylight: onset(10, 0, 1, 2),
    };
    let zone = definition("AUS Eastern Standard Time", &[sydney]);
    for (instant, local) in [
        (at(2024, 1, 10, 0, 0), "20240110T110000"),
        (at(2024, 7, 10, 0, 0), "20240710T100000"),
        (at(2024, 12, 31, 14, 0), "20250101T010000"),
    ] {
        let ics = event(&timed(instant, 0x825E, zone.clone()), "u").unwrap();
        let text = text(&ics);
        assert!(
            unfolded(&text).contains(&format!("DTSTART;TZID=Australia/Sydney:{local}")),
            "{text}"
        );
        let utc = instant.format("%Y%m%dT%H%M%SZ").to_string();
        assert_eq!(value(&parse(&ics)[0], "DTSTART"), utc);
    }
}

#[test]
fn a_tzreg_is_named_by_its_description() {
    let mut item = timed(at(2024, 3, 20, 13, 0), 0x8233, tzreg(&pacific()));
    lid(
        &mut item,
        PSETID_APPOINTMENT,
        0x8234,
        Value::Text("(UTC-08:00) Pacific Time (US; Canada)".into()),
    );
    let ics = event(&item, "u").unwrap();
    let lines = unfolded(&text(&ics));
    // `;` would need escaping in the TZID, which parsers do not undo.
    assert!(lines.contains(&"TZID:(UTC-08:00) Pacific Time (US/ Canada)".to_owned()));
    assert!(lines.contains(
        &"DTSTART;TZID=\"(UTC-08:00) Pacific Time (US/ Canada)\":20240320T060000".to_owned()
    ));
    assert_eq!(value(&parse(&ics)[0], "DTSTART"), "20240320T130000Z");
}

#[test]
fn a_definition_with_several_rules_uses_the_one_of_the_year() {
    // US Pacific before 2007: first Sunday of April to last Sunday of
    // October; since 2007: second Sunday of March to first of November.
    let zone = definition("Pacific Standard Time", &[pacific_until_2006(), pacific()]);
    // 2006-03-20: winter under the old rule; 2024-03-20: summer.
    let before = event(&timed(at(2006, 3, 20, 17, 0), 0x825E, zone.clone()), "u").unwrap();
    assert!(text(&before).contains("DTSTART;TZID=America/Los_Angeles:20060320T090000"));
    let after = event(&timed(at(2024, 3, 20, 17, 0), 0x825E, zone), "u").unwrap();
    assert!(text(&after).contains("DTSTART;TZID=America/Los_Angeles:20240320T100000"));
}

#[test]
fn an_all_day_event_takes_its_dates_in_its_zone() {
    let zone = definition("W. Europe Standard Time", &[europe()]);
    let mut item = timed(at(2024, 5, 5, 22, 0), 0x825E, zone);
    lid(
        &mut item,
        PSETID_APPOINTMENT,
        0x820E,
        Value::Time(at(2024, 5, 6, 22, 0)),
    );
    lid(&mut item, PSETID_APPOINTMENT, 0x8215, Value::Bool(true));
    let text = text(&event(&item, "u").unwrap());
    let vevent = component(&text, "VEVENT", 0);
    assert_eq!(
        vevent[3..5],
        ["DTSTART;VALUE=DATE:20240506", "DTEND;VALUE=DATE:20240507"]
    );
}

#[test]
fn a_garbled_zone_is_an_error_naming_the_field() {
    let mut zone = definition("W. Europe Standard Time", &[europe()]);
    zone.truncate(zone.len() - 10);
    let err = event(&timed(at(2024, 7, 1, 8, 0), 0x825E, zone), "u").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the time zone definition is truncated at byte 106 (stDaylightDate)"
    );
    let mut bad_month = tzreg(&europe());
    bad_month[16] = 13; // stStandardDate.wMonth
    let err = event(&timed(at(2024, 7, 1, 8, 0), 0x8233, bad_month), "u").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the time zone rule is invalid: the stStandardDate at byte 14 is not a valid date"
    );
}

#[test]
fn a_zone_without_daylight_time_has_one_observance() {
    let tokyo = Rule {
        year: 0,
        bias: -540,
        daylight_bias: 0,
        standard: [0; 8],
        daylight: [0; 8],
    };
    let ics = event(
        &timed(
            at(2024, 7, 1, 0, 0),
            0x825E,
            definition("Tokyo Standard Time", &[tokyo]),
        ),
        "u",
    )
    .unwrap();
    let text = text(&ics);
    let vtimezone = component(&text, "VTIMEZONE", 0);
    assert_eq!(
        vtimezone[2..8],
        [
            "BEGIN:STANDARD",
            "DTSTART:16010101T000000",
            "TZOFFSETFROM:+0900",
            "TZOFFSETTO:+0900",
            "END:STANDARD",
            "END:VTIMEZONE",
        ]
    );
    assert_eq!(value(&parse(&ics)[0], "DTSTART"), "20240701T000000Z");
}

#[test]
fn a_series_across_a_change_of_rules_keeps_its_wall_clock_time() {
    // Mondays at 10:00 Pacific from 2006-03-27, while the United States
    // moved daylight saving time in 2007.
    let zone = definition("Pacific Standard Time", &[pacific_until_2006(), pacific()]);
    let mondays = Pattern {
        frequency: 0x200B,
        pattern_type: 1,
        specific: vec![0x02],
        period: 1,
        end_type: AFTER_COUNT,
        count: 90,
        first_dow: 0,
        start: m(2006, 3, 27, 0, 0),
        end: m(2007, 12, 10, 0, 0),
    };
    let blob = mondays.appointment_at(&[], 600, 660);
    let item = recurring(
        at(2006, 3, 27, 18, 0),
        at(2006, 3, 27, 19, 0),
        blob,
        Some(zone),
    );
    let ics = event(&item, "u").unwrap();
    let text = text(&ics);
    let vtimezone = component(&text, "VTIMEZONE", 0);
    for line in [
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061029T090000Z",
        "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20060402T100000Z",
        "DTSTART:20071104T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
        "DTSTART:20070311T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
    ] {
        assert!(
            vtimezone.contains(&line.to_owned()),
            "{line} missing from {vtimezone:#?}"
        );
    }
    let instances = strings(&parse(&ics)[0]["instances"]);
    assert_eq!(instances.len(), 90);
    // 10:00 is 18:00 UTC in standard time, 17:00 in daylight time.
    for (week, utc) in [
        (0, "20060327T180000Z"),
        (1, "20060403T170000Z"),
        (30, "20061023T170000Z"),
        (31, "20061030T180000Z"),
        (49, "20070305T180000Z"),
        (50, "20070312T170000Z"),
        (83, "20071029T170000Z"),
        (84, "20071105T180000Z"),
    ] {
        assert_eq!(instances[week], utc, "week {week}");
    }
}

#[test]
fn a_rule_that_moves_the_standard_offset_starts_its_year_with_a_change() {
    // UTC+3 until 2010, UTC+4 from 2011, never daylight saving time.
    let fixed = |year, bias| Rule {
        year,
        bias,
        daylight_bias: 0,
        standard: [0; 8],
        daylight: [0; 8],
    };
    let zone = definition(
        "Volga Standard Time",
        &[fixed(1990, -180), fixed(2011, -240)],
    );
    let ics = event(&timed(at(2012, 6, 1, 9, 0), 0x825E, zone.clone()), "u").unwrap();
    let text = text(&ics);
    assert_eq!(
        component(&text, "VTIMEZONE", 0)[2..12],
        [
            "BEGIN:STANDARD",
            "DTSTART:16010101T000000",
            "TZOFFSETFROM:+0300",
            "TZOFFSETTO:+0300",
            "END:STANDARD",
            "BEGIN:STANDARD",
            "DTSTART:20110101T000000",
            "TZOFFSETFROM:+0300",
            "TZOFFSETTO:+0400",
            "END:STANDARD",
        ]
    );
    assert!(text.contains("DTSTART;TZID=Volga Standard Time:20120601T130000"));
    assert_eq!(value(&parse(&ics)[0], "DTSTART"), "20120601T090000Z");
    let before = event(&timed(at(2010, 6, 1, 9, 0), 0x825E, zone), "u").unwrap();
    assert!(
        String::from_utf8_lossy(&before)
            .contains("DTSTART;TZID=Volga Standard Time:20100601T120000")
    );
    assert_eq!(value(&parse(&before)[0], "DTSTART"), "20100601T090000Z");
}
