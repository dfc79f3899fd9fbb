//! Calendar fixtures with real-world shapes: a weekly meeting with a moved
//! and a cancelled occurrence, an all-day multi-day event, an event with an
//! alarm and an inline attachment, a task list, a mixed calendar.

use mailshift::protocols::caldav::{Collection, ICALENDAR, PutOutcome};
use mailshift::protocols::dav::DavClient;

/// The VTIMEZONE of Europe/Paris.
pub const PARIS: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:DAYLIGHT\r\n\
    TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n\
    RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n\
    TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n\
    RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

/// A VCALENDAR around `body`.
pub fn calendar(body: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp//Groupware 9.1//EN\r\n\
         {body}END:VCALENDAR\r\n"
    )
}

/// A weekly meeting with a moved occurrence (RECURRENCE-ID override) and
/// a cancelled one (EXDATE), an organizer and attendees, one of them with
/// a name long enough to be folded.
fn weekly_meeting() -> String {
    calendar(&format!(
        "{PARIS}BEGIN:VEVENT\r\nUID:weekly-sync-2026@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
         DTSTART;TZID=Europe/Paris:20261102T100000\r\nDTEND;TZID=Europe/Paris:20261102T110000\r\n\
         RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\r\nEXDATE;TZID=Europe/Paris:20261116T100000\r\n\
         SUMMARY:Weekly sync\r\nSEQUENCE:2\r\n\
         ORGANIZER;CN=Alice Martin:mailto:alice@example.test\r\n\
         ATTENDEE;CN=Bob Ørsted;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:\r\n \
         bob@example.test\r\n\
         ATTENDEE;CN=\"Núñez, Chloé (Café Ltd; Paris office)\";ROLE=OPT-PARTICIPANT;PARTSTAT=NEE\r\n \
         DS-ACTION;RSVP=TRUE:mailto:chloe@example.test\r\n\
         END:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:weekly-sync-2026@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
         RECURRENCE-ID;TZID=Europe/Paris:20261123T100000\r\n\
         DTSTART;TZID=Europe/Paris:20261124T140000\r\nDTEND;TZID=Europe/Paris:20261124T150000\r\n\
         SUMMARY:Weekly sync (moved to Tuesday)\r\nSEQUENCE:3\r\n\
         ORGANIZER;CN=Alice Martin:mailto:alice@example.test\r\n\
         ATTENDEE;CN=Bob Ørsted;PARTSTAT=ACCEPTED:mailto:bob@example.test\r\n\
         END:VEVENT\r\n"
    ))
}

/// An all-day event over three days.
fn offsite() -> String {
    calendar(
        "BEGIN:VEVENT\r\nUID:offsite-2026@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
         DTSTART;VALUE=DATE:20261207\r\nDTEND;VALUE=DATE:20261210\r\n\
         SUMMARY:Team offsite – Lyon\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n",
    )
}

/// An event with an alarm and an inline attachment, sent by someone else
/// to Alice (she is an attendee).
fn review() -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..900u32).map(|i| (i * 13 % 251) as u8).collect();
    let attachment = base64::engine::general_purpose::STANDARD.encode(bytes);
    let line = format!(
        "ATTACH;FMTTYPE=application/pdf;ENCODING=BASE64;VALUE=BINARY;X-FILENAME=agenda.pdf:{attachment}"
    );
    let mut folded = String::new();
    for (i, chunk) in line.as_bytes().chunks(74).enumerate() {
        if i > 0 {
            folded.push(' ');
        }
        folded.push_str(std::str::from_utf8(chunk).unwrap());
        folded.push_str("\r\n");
    }
    calendar(&format!(
        "BEGIN:VEVENT\r\nUID:budget-review@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
         DTSTART:20261203T130000Z\r\nDTEND:20261203T143000Z\r\nSUMMARY:Budget review\r\n\
         LOCATION:Room 4.02\r\nDESCRIPTION:Bring the Q4 figures.\\nAgenda attached.\r\n\
         ORGANIZER;CN=Dave Boss;SCHEDULE-AGENT=SERVER:mailto:dave@example.test\r\n\
         ATTENDEE;CN=Alice Martin;PARTSTAT=TENTATIVE:mailto:alice@example.test\r\n\
         {folded}BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Budget review\r\n\
         TRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
    ))
}

fn todo(uid: &str, fields: &str) -> String {
    calendar(&format!(
        "BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20261101T090000Z\r\n{fields}END:VTODO\r\n"
    ))
}

/// The source: a calendar of events, a task list, and a mixed calendar.
pub fn source_objects() -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("work", "weekly-sync.ics", weekly_meeting()),
        ("work", "offsite.ics", offsite()),
        ("work", "budget-review.ics", review()),
        (
            "todo",
            "report.ics",
            todo(
                "task-report@example.test",
                "SUMMARY:Write the yearly report\r\nDUE;VALUE=DATE:20261215\r\nPRIORITY:1\r\n\
                 STATUS:IN-PROCESS\r\nPERCENT-COMPLETE:40\r\n",
            ),
        ),
        (
            "todo",
            "badges.ics",
            todo(
                "task-badges@example.test",
                "SUMMARY:Order badges\r\nDUE:20261120T170000Z\r\nPRIORITY:5\r\n\
                 STATUS:COMPLETED\r\nPERCENT-COMPLETE:100\r\nCOMPLETED:20261118T101500Z\r\n",
            ),
        ),
        (
            "todo",
            "plants.ics",
            todo(
                "task-plants@example.test",
                "SUMMARY:Water the plants\r\nSTATUS:NEEDS-ACTION\r\nPRIORITY:9\r\n",
            ),
        ),
        (
            "personal",
            "dentist.ics",
            calendar(
                "BEGIN:VEVENT\r\nUID:dentist@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
                 DTSTART:20261210T080000Z\r\nDURATION:PT45M\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\n",
            ),
        ),
        (
            "personal",
            "passport.ics",
            todo(
                "task-passport@example.test",
                "SUMMARY:Renew passport\r\nDUE;VALUE=DATE:20270101\r\n",
            ),
        ),
    ]
}

/// Creates the source calendars (Work, To do, Personal) and their objects.
pub async fn seed_source(dav: &DavClient) {
    let calendars = [
        ("work", "Work – Équipe", Some("#3A87ADFF"), &["VEVENT"][..]),
        ("todo", "To do", Some("#FF9500FF"), &["VTODO"][..]),
        ("personal", "Personal", None, &["VEVENT", "VTODO"][..]),
    ];
    for (segment, name, color, components) in calendars {
        let like = Collection {
            display_name: Some(name.into()),
            color: color.map(str::to_owned),
            description: Some(format!("{name} <shared> & synced")),
            timezone: Some(calendar(PARIS)),
            components: components.iter().map(|c| c.to_string()).collect(),
            ..Collection::default()
        };
        let href = format!("{}{segment}/", dav.home());
        // What a server does not take at creation (Xandikos: the colour)
        // is set after, as a client would.
        for property in dav.create_calendar(&href, &like).await.unwrap() {
            dav.set_calendar_property(&href, &like, &property)
                .await
                .unwrap();
        }
    }
    for (segment, name, object) in source_objects() {
        let outcome = dav
            .put_new(
                &format!("{}{segment}/{name}", dav.home()),
                ICALENDAR,
                object.as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(outcome, PutOutcome::Created, "{name}");
    }
}
