//! A deterministic, realistic calendar and address-book corpus for the
//! WebDAV benchmark.
//!
//! Every account gets four calendars of events (one with a non-ASCII
//! name), a task list and an address book, drawn from its own seed:
//!
//! - events over 2024–2026 in Europe/Paris (each object carries its
//!   VTIMEZONE); about 20% weekly recurring with a cancelled occurrence
//!   (EXDATE) and a moved one (a RECURRENCE-ID override in the same
//!   object), about 10% all-day, about 30% with an organizer and
//!   attendees, about 25% with a VALARM, about 2% with an inline base64
//!   attachment of 10–100 KB;
//! - VTODOs, about 10% of the events' count, with due dates, priorities
//!   and states;
//! - contacts (vCard 3.0) with addresses, phones and organisations, about
//!   15% with a base64 PHOTO of 5–50 KB, and a few groups (vCard 4.0
//!   `KIND:group` and Apple's `X-ADDRESSBOOKSERVER-KIND`) naming some of
//!   them.
//!
//! Lines longer than 75 octets are folded, as servers and clients do.

use std::fmt::Write as _;

use super::rng::Rng;

/// How large the corpus is and where it starts from.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub accounts: usize,
    pub events_per_account: usize,
    pub contacts_per_account: usize,
    pub seed: u64,
}

/// What a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A calendar accepting these components.
    Calendar(&'static str),
    AddressBook,
}

/// One collection of an account: its last path segment, display name,
/// kind, and its objects (resource name, body).
pub struct Collection {
    pub segment: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    pub objects: Vec<(String, String)>,
}

/// Calendars of events with their share of the events (per cent).
const CALENDARS: &[(&str, &str, u64)] = &[
    ("work", "Work", 40),
    ("personal", "Personal", 30),
    ("family", "Famille – Zürich", 20),
    ("travel", "Travel", 10),
];

/// The VTIMEZONE every object's local times refer to.
const PARIS: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:DAYLIGHT\r\n\
    TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n\
    RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n\
    TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n\
    RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

const TOPICS: &[&str] = &[
    "Weekly sync",
    "Budget review",
    "Sprint planning",
    "1:1",
    "Customer call",
    "Dentist",
    "Réunion d'équipe",
    "Lunch with Chloé",
    "Flight to Zürich",
    "Release retrospective",
    "Board meeting",
    "Yoga",
    "Parents' evening",
    "Server migration window",
];

const PLACES: &[&str] = &[
    "Room 4.02",
    "Salle Ångström",
    "https://meet.example.test/abc-defg-hij",
    "Café de Flore, Paris",
    "Zürich HB",
];

const FIRST: &[&str] = &[
    "Alice",
    "Bob",
    "Chloé",
    "Dmitri",
    "Eve",
    "François",
    "Grace",
    "Hiro",
    "Inès",
    "Jürgen",
    "Kofi",
    "Lena",
    "Mateo",
    "Noor",
    "Olga",
    "Priya",
];

const LAST: &[&str] = &[
    "Martin", "Dupont", "Gómez", "Ivanov", "Chen", "Müller", "Okafor", "Tanaka", "Ørsted", "Núñez",
    "Smith", "Kowalski",
];

const ORGS: &[&str] = &[
    "Example Corp",
    "Café Ltd",
    "Ångström AB",
    "ACME",
    "Städtische Werke",
];

const CITIES: &[(&str, &str, &str)] = &[
    ("Lyon", "69001", "France"),
    ("Zürich", "8001", "Switzerland"),
    ("London", "SW1Y 4JH", "United Kingdom"),
    ("Berlin", "10115", "Germany"),
    ("Montréal", "H2X 1Y4", "Canada"),
];

/// Days from 2024-01-01 over which events start.
const DAYS: u64 = 3 * 365;

/// The collections of account `index`.
pub fn account(shape: &Shape, index: usize) -> Vec<Collection> {
    let mut rng = Rng::new(shape.seed ^ (index as u64 + 1).wrapping_mul(0x9FB2_1C65_1E98_DF25));
    let mut calendars: Vec<Collection> = CALENDARS
        .iter()
        .map(|&(segment, name, _)| Collection {
            segment,
            name,
            kind: Kind::Calendar("VEVENT"),
            objects: Vec::new(),
        })
        .collect();
    for n in 0..shape.events_per_account {
        let mut roll = rng.below(100);
        let target = CALENDARS
            .iter()
            .position(|&(_, _, share)| {
                let hit = roll < share;
                roll = roll.saturating_sub(share);
                hit
            })
            .unwrap_or(0);
        let uid = format!("ev-{index}-{n}@bench.example.test");
        let body = event(&mut rng, &uid, index);
        calendars[target].objects.push((format!("{uid}.ics"), body));
    }
    let tasks = Collection {
        segment: "tasks",
        name: "Tasks",
        kind: Kind::Calendar("VTODO"),
        objects: (0..shape.events_per_account / 10)
            .map(|n| {
                let uid = format!("task-{index}-{n}@bench.example.test");
                let body = todo(&mut rng, &uid);
                (format!("{uid}.ics"), body)
            })
            .collect(),
    };
    calendars.push(tasks);
    calendars.push(address_book(&mut rng, shape.contacts_per_account, index));
    calendars
}

/// A VCALENDAR around `body`, with the time zone when it uses one.
fn calendar(body: &str, zone: bool) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp//Groupware 9.1//EN\r\n\
         {}{body}END:VCALENDAR\r\n",
        if zone { PARIS } else { "" }
    )
}

/// Day `day` after 2024-01-01 as `YYYYMMDD`.
fn date(day: u64) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("a valid date");
    (start + chrono::Days::new(day))
        .format("%Y%m%d")
        .to_string()
}

fn event(rng: &mut Rng, uid: &str, account: usize) -> String {
    let day = rng.below(DAYS);
    let hour = 8 + rng.below(10);
    let minutes = *rng.pick(&[0, 15, 30, 45]);
    let length = *rng.pick(&[30u64, 45, 60, 60, 90, 120]);
    let all_day = rng.chance(0.1);
    let recurring = !all_day && rng.chance(0.2);
    let stamp = format!("DTSTAMP:{}T090000Z\r\n", date(day.saturating_sub(30)));
    let summary = format!("SUMMARY:{}\r\n", rng.pick(TOPICS));
    let start = |day: u64, hour: u64| format!("{}T{hour:02}{minutes:02}00", date(day));
    let times = |day: u64, hour: u64| {
        let end = hour * 60 + minutes + length;
        format!(
            "DTSTART;TZID=Europe/Paris:{}\r\nDTEND;TZID=Europe/Paris:{}T{:02}{:02}00\r\n",
            start(day, hour),
            date(day),
            end / 60,
            end % 60
        )
    };
    let mut main = format!("BEGIN:VEVENT\r\nUID:{uid}\r\n{stamp}");
    if all_day {
        let _ = write!(
            main,
            "DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nTRANSP:TRANSPARENT\r\n",
            date(day),
            date(day + 1 + rng.below(3))
        );
    } else {
        main.push_str(&times(day, hour));
    }
    main.push_str(&summary);
    if rng.chance(0.5) {
        let _ = writeln!(main, "LOCATION:{}\r", rng.pick(PLACES));
    }
    if rng.chance(0.4) {
        let _ = writeln!(
            main,
            "DESCRIPTION:Agenda:\\n1. {}\\n2. {}\\nNotes\\, questions and actions follow.\r",
            rng.pick(TOPICS),
            rng.pick(TOPICS)
        );
    }
    let people = rng.chance(0.3).then(|| attendees(rng, account));
    if let Some(people) = &people {
        main.push_str(people);
    }
    if recurring {
        let count = 4 + rng.below(20);
        let _ = writeln!(
            main,
            "RRULE:FREQ=WEEKLY;COUNT={count}\r\nEXDATE;TZID=Europe/Paris:{}\r\nSEQUENCE:1\r",
            start(day + 7, hour)
        );
    }
    if rng.chance(0.25) {
        let _ = writeln!(
            main,
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT{}M\r\nEND:VALARM\r",
            rng.pick(&[5, 10, 15, 30])
        );
    }
    if rng.chance(0.02) {
        let size = rng.log_uniform(10_000.0, 100_000.0) as usize;
        let _ = writeln!(
            main,
            "ATTACH;FMTTYPE=application/pdf;ENCODING=BASE64;VALUE=BINARY;X-FILENAME=agenda.pdf:{}\r",
            rng.base64(size)
        );
    }
    main.push_str("END:VEVENT\r\n");
    if recurring {
        // The third occurrence, moved a day later and an hour earlier.
        let _ = write!(
            main,
            "BEGIN:VEVENT\r\nUID:{uid}\r\n{stamp}RECURRENCE-ID;TZID=Europe/Paris:{}\r\n{}\
             {summary}SEQUENCE:2\r\n{}END:VEVENT\r\n",
            start(day + 14, hour),
            times(day + 15, hour.saturating_sub(1)),
            people.as_deref().unwrap_or("")
        );
    }
    fold(&calendar(&main, !all_day))
}

fn attendees(rng: &mut Rng, account: usize) -> String {
    let mut lines =
        format!("ORGANIZER;CN=User {account:02}:mailto:user{account:02}@example.test\r\n");
    for _ in 0..1 + rng.below(5) {
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let _ = writeln!(
            lines,
            "ATTENDEE;CN=\"{last}, {first}\";ROLE=REQ-PARTICIPANT;PARTSTAT={};RSVP=TRUE:\
             mailto:{}.{}@example.org\r",
            rng.pick(&["ACCEPTED", "TENTATIVE", "NEEDS-ACTION", "DECLINED"]),
            ascii(first),
            ascii(last)
        );
    }
    lines
}

fn todo(rng: &mut Rng, uid: &str) -> String {
    let day = rng.below(DAYS);
    let mut body = format!(
        "BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:{}T090000Z\r\nSUMMARY:{}\r\nPRIORITY:{}\r\n",
        date(day.saturating_sub(10)),
        rng.pick(TOPICS),
        rng.pick(&[1, 5, 9])
    );
    if rng.chance(0.7) {
        let _ = writeln!(body, "DUE;VALUE=DATE:{}\r", date(day));
    }
    match rng.below(3) {
        0 => body.push_str("STATUS:NEEDS-ACTION\r\n"),
        1 => body.push_str("STATUS:IN-PROCESS\r\nPERCENT-COMPLETE:40\r\n"),
        _ => {
            let _ = writeln!(
                body,
                "STATUS:COMPLETED\r\nPERCENT-COMPLETE:100\r\nCOMPLETED:{}T101500Z\r",
                date(day)
            );
        }
    }
    body.push_str("END:VTODO\r\n");
    fold(&calendar(&body, false))
}

fn address_book(rng: &mut Rng, contacts: usize, account: usize) -> Collection {
    let mut objects = Vec::with_capacity(contacts + 8);
    let mut uids = Vec::with_capacity(contacts);
    for n in 0..contacts {
        let uid = format!("contact-{account}-{n}");
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let mut card = format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\n\
             EMAIL;TYPE=WORK:{}.{}{n}@example.org\r\n",
            ascii(first),
            ascii(last)
        );
        if rng.chance(0.6) {
            let _ = writeln!(card, "TEL;TYPE=CELL:+33 6 {:08}\r", rng.below(100_000_000));
        }
        if rng.chance(0.4) {
            let _ = writeln!(card, "ORG:{}\r", rng.pick(ORGS));
        }
        if rng.chance(0.3) {
            let (city, code, country) = rng.pick(CITIES);
            let _ = writeln!(
                card,
                "ADR;TYPE=HOME:;;{} rue des Lilas;{city};;{code};{country}\r",
                1 + rng.below(120)
            );
        }
        if rng.chance(0.15) {
            let size = rng.log_uniform(5_000.0, 50_000.0) as usize;
            let _ = writeln!(card, "PHOTO;ENCODING=b;TYPE=JPEG:{}\r", rng.base64(size));
        }
        card.push_str("END:VCARD\r\n");
        objects.push((format!("{uid}.vcf"), fold(&card)));
        uids.push(uid);
    }
    for n in 0..(3 + contacts / 100).min(contacts) {
        let uid = format!("group-{account}-{n}");
        let members: Vec<&String> = (0..2 + rng.below(8)).map(|_| rng.pick(&uids)).collect();
        let mut card = if n % 2 == 0 {
            format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nKIND:group\r\nFN:Group {n}\r\n")
        } else {
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Group {n}\r\nN:Group {n};;;;\r\n\
                 X-ADDRESSBOOKSERVER-KIND:group\r\n"
            )
        };
        let property = if n % 2 == 0 {
            "MEMBER"
        } else {
            "X-ADDRESSBOOKSERVER-MEMBER"
        };
        for member in members {
            let _ = writeln!(card, "{property}:urn:uuid:{member}\r");
        }
        card.push_str("END:VCARD\r\n");
        objects.push((format!("{uid}.vcf"), fold(&card)));
    }
    Collection {
        segment: "contacts",
        name: "Contacts",
        kind: Kind::AddressBook,
        objects,
    }
}

/// `name` lower-cased with its accents dropped, for addresses.
fn ascii(name: &str) -> String {
    const PLAIN: &[(char, char)] = &[
        ('é', 'e'),
        ('è', 'e'),
        ('ç', 'c'),
        ('ü', 'u'),
        ('ú', 'u'),
        ('ó', 'o'),
        ('ø', 'o'),
        ('Ø', 'o'),
        ('ñ', 'n'),
        ('Å', 'a'),
        ('å', 'a'),
    ];
    name.chars()
        .filter_map(|c| match PLAIN.iter().find(|(from, _)| *from == c) {
            Some((_, to)) => Some(*to),
            None => c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase()),
        })
        .collect()
}

/// Folds every line longer than 75 octets (RFC 5545 §3.1, RFC 6350
/// §3.2), never inside a UTF-8 sequence.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 37);
    for line in text.split_terminator("\r\n") {
        let mut width = 0;
        for c in line.chars() {
            if width + c.len_utf8() > 75 {
                out.push_str("\r\n ");
                width = 1;
            }
            out.push(c);
            width += c.len_utf8();
        }
        out.push_str("\r\n");
    }
    out
}
