//! Single appointments: every property, attendees, errors.

use super::check::{parse, value, values};
use super::{at, component, lid, set, text};
use crate::protocols::pst::ical::{IcalError, event};
use crate::protocols::pst::item::{
    Attendee, Key, MapiItem, PS_PUBLIC_STRINGS, PSETID_APPOINTMENT, PSETID_COMMON, Value,
};
use crate::protocols::pst::{Address, Recipient, RecipientKind};

/// A one-hour appointment in UTC with every simple property set.
fn appointment() -> MapiItem {
    let mut item = MapiItem {
        class: "IPM.Appointment".into(),
        ..MapiItem::default()
    };
    let start = at(2024, 5, 6, 9, 30);
    lid(&mut item, PSETID_APPOINTMENT, 0x820D, Value::Time(start));
    lid(
        &mut item,
        PSETID_APPOINTMENT,
        0x820E,
        Value::Time(at(2024, 5, 6, 10, 30)),
    );
    set(
        &mut item,
        Key::Tag(0x0037),
        Value::Text("Budget; review, Q2".into()),
    );
    lid(
        &mut item,
        PSETID_APPOINTMENT,
        0x8208,
        Value::Text("Room \\ 4".into()),
    );
    set(
        &mut item,
        Key::Tag(0x1000),
        Value::Text(format!(
            "Agenda:\r\n1. Numbers\r\n2. {}",
            "Café ".repeat(30)
        )),
    );
    lid(&mut item, PSETID_APPOINTMENT, 0x8205, Value::Int(0));
    set(&mut item, Key::Tag(0x0036), Value::Int(2));
    set(&mut item, Key::Tag(0x0017), Value::Int(2));
    set(
        &mut item,
        Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()),
        Value::Texts(vec!["Finance".into(), "Team, core".into()]),
    );
    lid(&mut item, PSETID_COMMON, 0x8503, Value::Bool(true));
    lid(&mut item, PSETID_COMMON, 0x8501, Value::Int(30));
    set(
        &mut item,
        Key::Tag(0x3007),
        Value::Time(at(2024, 4, 1, 8, 0)),
    );
    set(
        &mut item,
        Key::Tag(0x3008),
        Value::Time(at(2024, 4, 2, 8, 0)),
    );
    item
}

#[test]
fn a_single_appointment_maps_every_property() {
    let item = appointment();
    let ics = event(&item, "fallback-uid").expect("an event");
    let text = text(&ics);
    let vevent = component(&text, "VEVENT", 0);
    let expected = [
        "BEGIN:VEVENT",
        "UID:fallback-uid",
        "DTSTAMP:20240402T080000Z",
        "CREATED:20240401T080000Z",
        "LAST-MODIFIED:20240402T080000Z",
        "DTSTART:20240506T093000Z",
        "DTEND:20240506T103000Z",
        "SUMMARY:Budget\\; review\\, Q2",
        "LOCATION:Room \\\\ 4",
    ];
    assert_eq!(vevent[..expected.len()], expected);
    let rest = &vevent[expected.len()..];
    assert_eq!(rest[0], "TRANSP:TRANSPARENT");
    assert_eq!(rest[1], "X-MICROSOFT-CDO-BUSYSTATUS:FREE");
    assert!(rest[2].starts_with("DESCRIPTION:Agenda:\\n1. Numbers\\n2. Café"));
    assert_eq!(
        rest[3..],
        [
            "CLASS:PRIVATE",
            "PRIORITY:1",
            "CATEGORIES:Finance,Team\\, core",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "TRIGGER:-PT30M",
            "DESCRIPTION:Budget\\; review\\, Q2",
            "END:VALARM",
            "END:VEVENT",
        ]
    );
    assert!(!text.contains("VTIMEZONE"), "a UTC event needs no zone");
    assert!(!text.contains("ORGANIZER"), "no attendees, no organizer");

    // The independent parser reads back the very values that went in.
    let parsed = parse(&ics);
    assert_eq!(parsed.len(), 1);
    let e = &parsed[0];
    assert_eq!(value(e, "SUMMARY"), "Budget; review, Q2");
    assert_eq!(value(e, "LOCATION"), "Room \\ 4");
    assert_eq!(
        value(e, "DESCRIPTION"),
        format!("Agenda:\n1. Numbers\n2. {}", "Café ".repeat(30))
    );
    assert_eq!(value(e, "DTSTART"), "20240506T093000Z");
    assert_eq!(e["props"]["VALARM"][0]["TRIGGER"], -30);
}

#[test]
fn the_same_item_gives_the_same_bytes() {
    let item = appointment();
    assert_eq!(event(&item, "u").unwrap(), event(&item, "u").unwrap());
    // DTSTAMP follows the item, not the clock: without times, the start.
    let mut bare = MapiItem::default();
    lid(
        &mut bare,
        PSETID_APPOINTMENT,
        0x820D,
        Value::Time(at(2024, 5, 6, 9, 30)),
    );
    let text = text(&event(&bare, "u").unwrap());
    assert!(text.contains("\r\nDTSTAMP:20240506T093000Z\r\n"), "{text}");
    assert!(text.contains("\r\nDTEND:20240506T093000Z\r\n"), "{text}");
}

fn attendee(kind: RecipientKind, name: &str, email: Option<&str>, response: i32) -> Attendee {
    Attendee {
        recipient: Recipient {
            kind,
            address: Address {
                name: Some(name.into()),
                email: email.map(str::to_owned),
            },
        },
        response: Some(response),
    }
}

#[test]
fn a_meeting_lists_its_people_and_never_schedules() {
    let mut item = appointment();
    set(&mut item, Key::Tag(0x0042), Value::Text("Boss, The".into()));
    set(
        &mut item,
        Key::Tag(0x0065),
        Value::Text("/O=EXCHANGE/CN=BOSS".into()),
    );
    set(
        &mut item,
        Key::Tag(0x5D02),
        Value::Text("boss@example.test".into()),
    );
    item.attendees = vec![
        attendee(RecipientKind::To, "Ann", Some("ann@example.test"), 3),
        attendee(RecipientKind::Cc, "Bob \"B\"", Some("bob@example.test"), 2),
        attendee(RecipientKind::Bcc, "Room 4", Some("room4@example.test"), 4),
        attendee(RecipientKind::To, "Exchange Only", None, 0),
    ];
    let ics = event(&item, "u").unwrap();
    let text = text(&ics);
    let people: Vec<String> = component(&text, "VEVENT", 0)
        .into_iter()
        .filter(|l| l.starts_with("ORGANIZER") || l.starts_with("ATTENDEE"))
        .collect();
    assert_eq!(
        people,
        [
            "ORGANIZER;SCHEDULE-AGENT=CLIENT;CN=\"Boss, The\":mailto:boss@example.test",
            "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=CLIENT;CN=Ann:mailto:ann@example.test",
            "ATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE;SCHEDULE-AGENT=CLIENT;CN=Bob ^'B^':mailto:bob@example.test",
            "ATTENDEE;CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT;PARTSTAT=DECLINED;SCHEDULE-AGENT=CLIENT;CN=Room 4:mailto:room4@example.test",
            "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;SCHEDULE-AGENT=CLIENT;CN=Exchange Only:invalid:nomail",
        ]
    );
    let parsed = parse(&ics);
    let e = &parsed[0];
    assert_eq!(values(e, "ATTENDEE").len(), 4);
    let organizer = &e["props"]["ORGANIZER"][0];
    assert_eq!(organizer["params"]["CN"][0], "Boss, The");
    assert_eq!(organizer["params"]["SCHEDULE-AGENT"][0], "CLIENT");
    for a in e["props"]["ATTENDEE"].as_array().unwrap() {
        assert_eq!(a["params"]["SCHEDULE-AGENT"][0], "CLIENT", "{a}");
    }
}

#[test]
fn an_organizer_known_by_an_exchange_address_takes_the_smtp_address_the_file_has() {
    let organizer = |item: &MapiItem| {
        let text = text(&event(item, "u").unwrap());
        component(&text, "VEVENT", 0)
            .into_iter()
            .find(|l| l.starts_with("ORGANIZER"))
            .unwrap()
    };
    let mut item = appointment();
    set(&mut item, Key::Tag(0x0042), Value::Text("Cyndy".into()));
    set(
        &mut item,
        Key::Tag(0x0065),
        Value::Text("/O=INRS/CN=CYNDY".into()),
    );
    item.attendees = vec![
        attendee(RecipientKind::To, "Ann", Some("ann@example.test"), 0),
        attendee(RecipientKind::To, "cyndy", Some("cyndy@example.test"), 0),
    ];
    // Among the attendees, by name.
    assert_eq!(
        organizer(&item),
        "ORGANIZER;SCHEDULE-AGENT=CLIENT;CN=Cyndy:mailto:cyndy@example.test"
    );
    // As the sender, when the sender is the organizer.
    set(&mut item, Key::Tag(0x0C1A), Value::Text("Cyndy".into()));
    set(
        &mut item,
        Key::Tag(0x5D01),
        Value::Text("c@example.test".into()),
    );
    assert!(organizer(&item).ends_with(":mailto:c@example.test"));
    // Not a delegate's address; without any, the name alone.
    set(&mut item, Key::Tag(0x0C1A), Value::Text("Delegate".into()));
    item.attendees.pop();
    assert!(organizer(&item).ends_with("CN=Cyndy:invalid:nomail"));
}

#[test]
fn an_appointment_without_a_start_is_an_error() {
    let err = event(&MapiItem::default(), "u").unwrap_err();
    assert!(matches!(err, IcalError::NoStart));
    assert_eq!(
        err.to_string(),
        "the appointment has no start time (PidLidAppointmentStartWhole)"
    );
}

#[test]
fn an_all_day_event_without_a_zone_keeps_its_day() {
    let mut item = MapiItem::default();
    // Local midnights of a UTC+2 user, as Outlook stores them.
    lid(
        &mut item,
        PSETID_APPOINTMENT,
        0x820D,
        Value::Time(at(2024, 5, 5, 22, 0)),
    );
    lid(
        &mut item,
        PSETID_APPOINTMENT,
        0x820E,
        Value::Time(at(2024, 5, 7, 22, 0)),
    );
    lid(&mut item, PSETID_APPOINTMENT, 0x8215, Value::Bool(true));
    let ics = event(&item, "u").unwrap();
    let vevent = component(&text(&ics), "VEVENT", 0);
    assert!(
        vevent.contains(&"DTSTART;VALUE=DATE:20240506".to_owned()),
        "{vevent:?}"
    );
    assert!(
        vevent.contains(&"DTEND;VALUE=DATE:20240508".to_owned()),
        "{vevent:?}"
    );
    assert_eq!(value(&parse(&ics)[0], "DTEND"), "20240508");
}
