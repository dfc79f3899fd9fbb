//! The contacts, distribution lists, appointments and tasks of a PST file,
//! end to end: a PST built by the test writer (checked against `readpst`
//! and `outlook-pst` in `pst_writer.rs`) is imported by the `mailshift`
//! binary into a real Radicale; a re-run adds nothing; undo puts the
//! destination back; a damaged item is reported and the rest goes on.

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use tempfile::TempDir;

use crate::cmd::mailshift;
use crate::files::{manifest, run, undo};
use crate::support::pst_writer::recurrence::{Change, EUROPE_PARIS, End, Pattern, Recurrence};
use crate::support::pst_writer::{
    Item, Key, PS_PUBLIC_STRINGS, PSETID_ADDRESS, PSETID_APPOINTMENT, PSETID_COMMON, PSETID_TASK,
    PstBuilder, Value,
};
use crate::support::radicale::{Radicale, home};

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

/// A contact as Outlook stores one: names, company, e-mail (named
/// properties), phones, a home address, a birthday, notes, categories.
fn zoe() -> Item {
    Item {
        class: "IPM.Contact".into(),
        props: vec![
            (Key::Tag(0x0037), text("Zoë Ångström")),
            (Key::Tag(0x3001), text("Zoë Ångström")),
            (Key::Tag(0x3A06), text("Zoë")),
            (Key::Tag(0x3A11), text("Ångström")),
            (Key::Tag(0x3A16), text("Équipe Lyon SARL")),
            (Key::Tag(0x3A17), text("Directrice technique")),
            (Key::Tag(0x3A08), text("+33 4 72 00 00 01")),
            (Key::Tag(0x3A1C), text("+33 6 12 34 56 78")),
            (Key::Tag(0x3A5D), text("12, rue de la Paix")),
            (Key::Tag(0x3A59), text("Lyon")),
            (Key::Tag(0x3A5B), text("69001")),
            (Key::Tag(0x3A5A), text("France")),
            (Key::Tag(0x3A42), Value::Time(utc(1985, 4, 12, 0, 0))),
            (
                Key::Tag(0x1000),
                text("Met at the Lyon fair; call before 10:00,\nnot after."),
            ),
            (Key::Lid(PSETID_ADDRESS, 0x8005), text("Ångström, Zoë")),
            (Key::Lid(PSETID_ADDRESS, 0x8080), text("Zoë Ångström")),
            (Key::Lid(PSETID_ADDRESS, 0x8082), text("SMTP")),
            (Key::Lid(PSETID_ADDRESS, 0x8083), text("zoe@example.test")),
            (
                Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()),
                Value::Texts(vec!["Clients".into(), "Lyon".into()]),
            ),
        ],
        recipients: Vec::new(),
    }
}

fn bob() -> Item {
    Item {
        class: "IPM.Contact".into(),
        props: vec![
            (Key::Tag(0x3001), text("Bob Ørsted")),
            (Key::Tag(0x3A06), text("Bob")),
            (Key::Tag(0x3A11), text("Ørsted")),
            (Key::Lid(PSETID_ADDRESS, 0x8082), text("SMTP")),
            (Key::Lid(PSETID_ADDRESS, 0x8083), text("bob@example.test")),
        ],
        recipients: Vec::new(),
    }
}

/// A distribution list member pointing at a contact of the file
/// ([MS-OXOCNTC] 2.2.2.2.4.1.1 WrappedEntryId: flags, the provider UID
/// bytes as the spec lists them, type 0xC3 = a contact's first e-mail
/// address, the entry ID).
fn wrapped(entry_id: &[u8]) -> Vec<u8> {
    let mut id = vec![0; 4];
    id.extend_from_slice(&[
        0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, 0x00, 0x47, 0xFA,
        0xA4,
    ]);
    id.push(0xC3);
    id.extend_from_slice(entry_id);
    id
}

/// A one-off member ([MS-OXCDATA] 2.2.5.1: flags, the one-off provider
/// UID, version 0, flags with U = Unicode strings, then display name,
/// address type and address, each NUL-terminated UTF-16).
fn one_off(name: &str, email: &str) -> Vec<u8> {
    let mut id = vec![0; 4];
    id.extend_from_slice(&[
        0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54,
        0x02,
    ]);
    // Version 0; flags: M (no rich text) and U (Unicode).
    id.extend_from_slice(&[0x00, 0x00, 0x01, 0x80]);
    for part in [name, "SMTP", email] {
        for unit in part.encode_utf16().chain([0]) {
            id.extend_from_slice(&unit.to_le_bytes());
        }
    }
    id
}

/// The Contacts folder: two contacts and a list naming one of them and a
/// one-off address. Returns the PST's path.
fn contacts_pst(dir: &Path) -> std::path::PathBuf {
    let mut builder = PstBuilder::new("Alice");
    let folder = builder.folder(None, "Contacts", "IPF.Contact");
    let zoe_node = builder.item(folder, zoe());
    builder.item(folder, bob());
    let members = vec![
        wrapped(&PstBuilder::entry_id(zoe_node)),
        one_off("Carol Dupré", "carol@example.org"),
    ];
    builder.item(
        folder,
        Item {
            class: "IPM.DistList".into(),
            props: vec![
                (Key::Tag(0x3001), text("Équipe projet")),
                (Key::Lid(PSETID_ADDRESS, 0x8053), text("Équipe projet")),
                (
                    Key::Lid(PSETID_ADDRESS, 0x8055),
                    Value::Binaries(members.clone()),
                ),
                (Key::Lid(PSETID_ADDRESS, 0x8054), Value::Binaries(members)),
            ],
            recipients: Vec::new(),
        },
    );
    let path = dir.join("alice.pst");
    builder.write(&path).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_contacts_and_lists_become_an_address_book_once_and_are_undone() {
    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dest.client("alice");
    let before = home(&dav, false).await;
    let dir = TempDir::new().unwrap();
    contacts_pst(dir.path());
    let manifest = manifest(dir.path(), "alice.pst", "contacts, contact_groups", &dest);

    run(dir.path(), &manifest).success().stdout_has("copied 3,");
    let after = home(&dav, false).await;
    assert_eq!(after.len(), before.len() + 1, "{:?}", after.keys());
    let (_, cards) = &after["Contacts"];
    assert_eq!(cards.len(), 3, "{:?}", cards.keys());
    let find = |needle: &str| -> &String {
        let found: Vec<&String> = cards.values().filter(|c| c.contains(needle)).collect();
        assert_eq!(found.len(), 1, "{needle} in {cards:?}");
        found[0]
    };
    let zoe = find("FN:Zoë Ångström");
    for field in [
        "N:Ångström;Zoë;;;",
        "ORG:Équipe Lyon SARL",
        "TITLE:Directrice technique",
        "zoe@example.test",
        "+33 6 12 34 56 78",
        "+33 4 72 00 00 01",
        ";;12\\, rue de la Paix;Lyon;;69001;France",
        "BDAY",
        "1985-04-12",
        "NOTE:Met at the Lyon fair\\; call before 10:00\\,\\nnot after.",
        "CATEGORIES:Clients,Lyon",
    ] {
        assert!(zoe.contains(field), "{field} in {zoe}");
    }
    let zoe_uid = zoe
        .lines()
        .find_map(|l| l.strip_prefix("UID:"))
        .expect("a UID");
    let group = find("X-ADDRESSBOOKSERVER-KIND:group");
    assert!(group.contains("FN:Équipe projet"), "{group}");
    assert!(
        group.contains(&format!("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{zoe_uid}")),
        "{group}"
    );
    assert!(
        group.contains("X-ADDRESSBOOKSERVER-MEMBER:mailto:carol@example.org"),
        "{group}"
    );
    find("FN:Bob Ørsted");

    // The same file again: nothing new, the same UIDs.
    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    assert_eq!(home(&dav, false).await, after);

    undo(dir.path()).success();
    assert_eq!(home(&dav, false).await, before);
}

/// An appointment in Paris time with its time zone blobs.
fn appointment(subject: &str, start: NaiveDateTime, end: NaiveDateTime) -> Item {
    // Paris is at UTC+1 in November and December.
    let whole = |t: NaiveDateTime| Value::Time((t - Duration::hours(1)).and_utc());
    Item {
        class: "IPM.Appointment".into(),
        props: vec![
            (Key::Tag(0x0037), text(subject)),
            (Key::Lid(PSETID_APPOINTMENT, 0x820D), whole(start)),
            (Key::Lid(PSETID_APPOINTMENT, 0x820E), whole(end)),
            (Key::Lid(PSETID_APPOINTMENT, 0x8205), Value::I32(2)),
            (
                Key::Lid(PSETID_APPOINTMENT, 0x8233),
                Value::Binary(EUROPE_PARIS.time_zone_struct()),
            ),
            (
                Key::Lid(PSETID_APPOINTMENT, 0x8234),
                text("(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"),
            ),
            (
                Key::Lid(PSETID_APPOINTMENT, 0x825E),
                Value::Binary(EUROPE_PARIS.definition("Romance Standard Time", 2026)),
            ),
            (
                Key::Lid(PSETID_APPOINTMENT, 0x825F),
                Value::Binary(EUROPE_PARIS.definition("Romance Standard Time", 2026)),
            ),
        ],
        recipients: Vec::new(),
    }
}

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

/// The one object of `objects` whose text contains `needle`.
fn one<'a>(objects: &'a std::collections::BTreeMap<String, String>, needle: &str) -> &'a String {
    let found: Vec<&String> = objects.values().filter(|o| o.contains(needle)).collect();
    assert_eq!(found.len(), 1, "{needle} in {objects:?}");
    found[0]
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
        "TZID=Romance Standard Time:20261203T090000",
        "TZID=Romance Standard Time:20261203T103000",
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
        "DTSTART;TZID=Romance Standard Time:20261102T100000",
        "FREQ=WEEKLY",
        "BYDAY=MO",
        "COUNT=8",
        "20261116T100000",
        "RECURRENCE-ID;TZID=Romance Standard Time:20261123T100000",
        "DTSTART;TZID=Romance Standard Time:20261124T140000",
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

/// A mail message as Outlook keeps one that came from the Internet.
fn mail(subject: &str, id: &str) -> Item {
    let headers = format!(
        "From: Bob Ørsted <bob@example.test>\r\nTo: alice@example.test\r\n\
         Subject: {subject}\r\nDate: Tue, 03 Nov 2026 09:00:00 +0100\r\n\
         Message-ID: <{id}>\r\n"
    );
    Item {
        class: "IPM.Note".into(),
        props: vec![
            (Key::Tag(0x0037), text(subject)),
            (Key::Tag(0x007D), text(&headers)),
            (Key::Tag(0x1000), text("See you at the review.")),
            (Key::Tag(0x0E06), Value::Time(utc(2026, 11, 3, 8, 0))),
        ],
        recipients: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_pst_goes_to_one_groupware_account_and_one_undo_takes_it_back() {
    let imap = crate::pst::destination();
    let dav_server = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dav_server.client("alice");
    let (books, calendars) = (home(&dav, false).await, home(&dav, true).await);
    let mail_before = crate::pst::messages(&imap).await;
    let dir = TempDir::new().unwrap();

    let mut builder = PstBuilder::new("Alice");
    let inbox = builder.folder(None, "Inbox", "IPF.Note");
    builder.item(inbox, mail("Review agenda", "agenda@example.test"));
    builder.item(inbox, mail("Review minutes", "minutes@example.test"));
    let contacts = builder.folder(None, "Contacts", "IPF.Contact");
    builder.item(contacts, zoe());
    let calendar = builder.folder(None, "Calendar", "IPF.Appointment");
    builder.item(
        calendar,
        appointment(
            "Revue trimestrielle",
            local(2026, 12, 3, 9, 0),
            local(2026, 12, 3, 10, 30),
        ),
    );
    let pst = dir.path().join("alice.pst");
    builder.write(&pst).unwrap();
    let manifest = dir.path().join("batch.yaml");
    std::fs::write(
        &manifest,
        format!(
            "batch: files\naccounts:\n  - source: {{kind: pst, path: \"{}\"}}\n    \
             destination: {{kind: groupware, host: 127.0.0.1, port: {}, tls: none, \
             email: alice@example.test, user: alice, password: dest-pw, dav_url: \"{}\"}}\n    \
             options: [mail, contacts, contact_groups, calendars, tasks]\n",
            pst.display(),
            imap.imap_port(),
            dav_server.home("alice")
        ),
    )
    .unwrap();

    // Two messages, a contact, an event: one account, one migration ID.
    run(dir.path(), &manifest).success().stdout_has("copied 4,");
    let mail_after = crate::pst::messages(&imap).await;
    let inbox: Vec<String> = mail_after["INBOX"]
        .iter()
        .map(|(_, _, body)| String::from_utf8_lossy(body).into_owned())
        .collect();
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(
        inbox
            .iter()
            .any(|m| m.contains("Message-ID: <minutes@example.test>")),
        "{inbox:?}"
    );
    let (_, cards) = &home(&dav, false).await["Contacts"];
    assert_eq!(cards.len(), 1);
    one(cards, "FN:Zoë Ångström");
    let (_, events) = &home(&dav, true).await["Calendar"];
    assert_eq!(events.len(), 1);
    one(events, "SUMMARY:Revue trimestrielle");

    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    undo(dir.path()).success();
    assert_eq!(crate::pst::messages(&imap).await, mail_before);
    assert_eq!(home(&dav, false).await, books);
    assert_eq!(home(&dav, true).await, calendars);
}
