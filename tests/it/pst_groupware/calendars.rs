//! Calendar and task folders into Radicale calendars, without
//! invitations; a damaged appointment.

use std::path::Path;

use chrono::{Duration, NaiveDate, Weekday};
use tempfile::TempDir;

use super::{appointment, local, one, text, utc};
use crate::cmd::mailshift;
use crate::files::{manifest, run, undo};
use crate::support::pst_writer::recurrence::{Change, EUROPE_PARIS, End, Pattern, Recurrence};
use crate::support::pst_writer::{
    Item, Key, PSETID_APPOINTMENT, PSETID_COMMON, PSETID_TASK, PstBuilder, Value,
};
use crate::support::radicale::{Radicale, home};

/// A recipient row: display name, SMTP address, type (1 required, 2
/// optional, 3 resource) and answer (PidTagRecipientTrackStatus).
fn attendee(name: &str, email: &str, kind: i32, answer: i32) -> Vec<(u16, Value)> {
    vec![
        (0x3001, text(name)),
        (0x3002, text("SMTP")),
        (0x3003, text(email)),
        (0x39FE, text(email)),
        (0x0C15, Value::I32(kind)),
        (0x5FFF, Value::I32(answer)),
    ]
}

/// The Calendar folder (a meeting with attendees and a reminder, an
/// all-day event, a weekly series with a deleted and a moved occurrence)
/// and the Tasks folder (one in progress, one done).
fn calendar_pst(dir: &Path) -> std::path::PathBuf {
    let mut builder = PstBuilder::new("Alice");
    let calendar = builder.folder(None, "Calendar", "IPF.Appointment");
    let tasks = builder.folder(None, "Tasks", "IPF.Task");

    let mut review = appointment(
        "Revue trimestrielle",
        local(2026, 12, 3, 9, 0),
        local(2026, 12, 3, 10, 30),
    );
    review.props.extend([
        (Key::Lid(PSETID_APPOINTMENT, 0x8208), text("Salle Rhône")),
        (Key::Tag(0x0042), text("Alice Martin")),
        (Key::Tag(0x0064), text("SMTP")),
        (Key::Tag(0x0065), text("alice@example.test")),
        (Key::Tag(0x5D02), text("alice@example.test")),
        (Key::Lid(PSETID_COMMON, 0x8503), Value::Bool(true)),
        (Key::Lid(PSETID_COMMON, 0x8501), Value::I32(15)),
        (Key::Tag(0x1000), text("Agenda: figures, hiring.")),
    ]);
    review.recipients = vec![
        attendee("Bob Ørsted", "bob@example.test", 1, 3),
        attendee("Carol Dupré", "carol@example.org", 2, 2),
        attendee("Salle Rhône", "rhone@rooms.example.test", 3, 3),
    ];
    builder.item(calendar, review);

    let mut offsite = appointment(
        "Offsite",
        local(2026, 12, 7, 0, 0),
        local(2026, 12, 10, 0, 0),
    );
    offsite
        .props
        .push((Key::Lid(PSETID_APPOINTMENT, 0x8215), Value::Bool(true)));
    builder.item(calendar, offsite);

    let series = Recurrence {
        pattern: Pattern::Weekly {
            every: 1,
            days: vec![Weekday::Mon],
        },
        start: local(2026, 11, 2, 10, 0),
        duration: Duration::hours(1),
        end: End::Count(8),
        deleted: vec![NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()],
        changed: vec![Change {
            original: local(2026, 11, 23, 10, 0),
            start: local(2026, 11, 24, 14, 0),
            end: local(2026, 11, 24, 15, 0),
            subject: Some("Weekly sync (moved)".into()),
            location: None,
        }],
    };
    let mut weekly = appointment(
        "Weekly sync",
        local(2026, 11, 2, 10, 0),
        local(2026, 11, 2, 11, 0),
    );
    weekly.props.extend([
        (Key::Lid(PSETID_APPOINTMENT, 0x8223), Value::Bool(true)),
        (
            Key::Lid(PSETID_APPOINTMENT, 0x8216),
            Value::Binary(series.blob()),
        ),
        (
            Key::Lid(PSETID_APPOINTMENT, 0x8260),
            Value::Binary(EUROPE_PARIS.definition("Romance Standard Time", 2026)),
        ),
    ]);
    builder.item(calendar, weekly);

    let task = |subject: &str, status: i32, done: f64, extra: Vec<(Key, Value)>| {
        let mut props = vec![
            (Key::Tag(0x0037), text(subject)),
            (Key::Lid(PSETID_TASK, 0x8101), Value::I32(status)),
            (Key::Lid(PSETID_TASK, 0x8102), Value::F64(done)),
        ];
        props.extend(extra);
        Item {
            class: "IPM.Task".into(),
            props,
            recipients: Vec::new(),
            attachments: Vec::new(),
        }
    };
    builder.item(
        tasks,
        task(
            "Yearly report",
            1,
            0.4,
            vec![
                (
                    Key::Lid(PSETID_TASK, 0x8104),
                    Value::Time(utc(2026, 12, 1, 0, 0)),
                ),
                (
                    Key::Lid(PSETID_TASK, 0x8105),
                    Value::Time(utc(2026, 12, 15, 0, 0)),
                ),
                (Key::Tag(0x0017), Value::I32(2)),
            ],
        ),
    );
    builder.item(
        tasks,
        task(
            "Order badges",
            2,
            1.0,
            vec![
                (Key::Lid(PSETID_TASK, 0x811C), Value::Bool(true)),
                (
                    Key::Lid(PSETID_TASK, 0x810F),
                    Value::Time(utc(2026, 11, 18, 10, 15)),
                ),
            ],
        ),
    );
    let path = dir.join("alice.pst");
    builder.write(&path).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_calendars_and_tasks_are_imported_without_invitations_once_and_undone() {
    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dest.client("alice");
    let before = home(&dav, true).await;
    let dir = TempDir::new().unwrap();
    calendar_pst(dir.path());
    let manifest = manifest(dir.path(), "alice.pst", "calendars, tasks", &dest);

    run(dir.path(), &manifest).success().stdout_has("copied 5,");
    let after = home(&dav, true).await;
    assert_eq!(after.len(), before.len() + 2, "{:?}", after.keys());
    let (components, events) = &after["Calendar"];
    assert_eq!(components, &["VEVENT"]);
    assert_eq!(events.len(), 3, "{:?}", events.keys());

    let review = one(events, "SUMMARY:Revue trimestrielle");
    for needle in [
        "TZID=Europe/Paris:20261203T090000",
        "TZID=Europe/Paris:20261203T103000",
        "LOCATION:Salle Rhône",
        "TRIGGER:-PT15M",
        "DESCRIPTION:Agenda: figures\\, hiring.",
        "mailto:alice@example.test",
    ] {
        assert!(review.contains(needle), "{needle} in {review}");
    }
    let people: Vec<&str> = review
        .lines()
        .filter(|l| l.starts_with("ORGANIZER") || l.starts_with("ATTENDEE"))
        .collect();
    assert_eq!(people.len(), 4, "{review}");
    // Nobody is invited: every organizer and attendee is the client's.
    assert!(
        people.iter().all(|l| l.contains("SCHEDULE-AGENT=CLIENT")),
        "{people:?}"
    );
    let line = |email: &str| *people.iter().find(|l| l.contains(email)).unwrap();
    assert!(line("bob@example.test").contains("PARTSTAT=ACCEPTED"));
    assert!(line("bob@example.test").contains("ROLE=REQ-PARTICIPANT"));
    assert!(line("carol@example.org").contains("PARTSTAT=TENTATIVE"));
    assert!(line("carol@example.org").contains("ROLE=OPT-PARTICIPANT"));
    assert!(line("rhone@rooms.example.test").contains("CUTYPE=RESOURCE"));

    let offsite = one(events, "SUMMARY:Offsite");
    assert!(offsite.contains("DTSTART;VALUE=DATE:20261207"), "{offsite}");
    assert!(offsite.contains("DTEND;VALUE=DATE:20261210"), "{offsite}");

    let weekly = one(events, "SUMMARY:Weekly sync\n");
    assert_eq!(weekly.matches("BEGIN:VEVENT").count(), 2, "{weekly}");
    for needle in [
        "DTSTART;TZID=Europe/Paris:20261102T100000",
        "FREQ=WEEKLY",
        "BYDAY=MO",
        "COUNT=8",
        "20261116T100000",
        "RECURRENCE-ID;TZID=Europe/Paris:20261123T100000",
        "DTSTART;TZID=Europe/Paris:20261124T140000",
        "SUMMARY:Weekly sync (moved)",
        "BEGIN:VTIMEZONE",
    ] {
        assert!(weekly.contains(needle), "{needle} in {weekly}");
    }
    let exdate = weekly
        .lines()
        .find(|l| l.starts_with("EXDATE"))
        .expect("an EXDATE");
    // The moved occurrence is an override, not a deletion.
    assert!(!exdate.contains("20261123"), "{exdate}");

    let (components, todos) = &after["Tasks"];
    assert_eq!(components, &["VTODO"]);
    assert_eq!(todos.len(), 2, "{:?}", todos.keys());
    let report = one(todos, "SUMMARY:Yearly report");
    for needle in [
        "STATUS:IN-PROCESS",
        "PERCENT-COMPLETE:40",
        "DUE;VALUE=DATE:20261215",
        "DTSTART;VALUE=DATE:20261201",
    ] {
        assert!(report.contains(needle), "{needle} in {report}");
    }
    let badges = one(todos, "SUMMARY:Order badges");
    for needle in [
        "STATUS:COMPLETED",
        "PERCENT-COMPLETE:100",
        "COMPLETED:20261118T101500Z",
    ] {
        assert!(badges.contains(needle), "{needle} in {badges}");
    }

    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    assert_eq!(home(&dav, true).await, after);

    undo(dir.path()).success();
    assert_eq!(home(&dav, true).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_pst_appointment_is_reported_and_the_rest_imported() {
    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dest.client("alice");
    let dir = TempDir::new().unwrap();
    let mut builder = PstBuilder::new("Alice");
    let calendar = builder.folder(None, "Calendar", "IPF.Appointment");
    builder.item(
        calendar,
        appointment("Kept", local(2026, 12, 3, 9, 0), local(2026, 12, 3, 10, 0)),
    );
    let mut broken = appointment(
        "Broken series",
        local(2026, 12, 4, 9, 0),
        local(2026, 12, 4, 10, 0),
    );
    // A recurrence pattern cut after its first bytes.
    broken.props.extend([
        (Key::Lid(PSETID_APPOINTMENT, 0x8223), Value::Bool(true)),
        (
            Key::Lid(PSETID_APPOINTMENT, 0x8216),
            Value::Binary(vec![0x04, 0x30, 0x04, 0x30, 0x0B, 0x20]),
        ),
    ]);
    builder.item(calendar, broken);
    builder.write(&dir.path().join("alice.pst")).unwrap();
    let manifest = manifest(dir.path(), "alice.pst", "calendars", &dest);

    run(dir.path(), &manifest)
        .code(1)
        .stdout_has("completed_with_errors")
        .stdout_has("copied 1,")
        .stdout_has("failed 1,");
    let after = home(&dav, true).await;
    let (_, events) = &after["Calendar"];
    assert_eq!(events.len(), 1, "{:?}", events.keys());
    one(events, "SUMMARY:Kept");
    let report = std::fs::read_to_string(dir.path().join("reports/files/report.json")).unwrap();
    assert!(
        report.contains("the recurrence pattern is truncated at byte 6"),
        "{report}"
    );
    // The plan's check reads the file as the run does, and leaves the
    // mail servers alone when no mail is asked.
    mailshift()
        .args(["plan", "--check"])
        .arg(&manifest)
        .run()
        .success()
        .stdout_has("alice.pst: 1 calendar, 2 items");
}
