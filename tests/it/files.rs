//! iCalendar and vCard files as sources, end to end: the `mailshift`
//! binary imports an exported `.ics` into a Radicale calendar and a
//! `.vcf` into a Radicale address book, a re-run adds nothing, undo puts
//! the destination back; broken files fail naming the file.

use std::path::Path;

use tempfile::TempDir;

use crate::cmd::{Output, mailshift};
use crate::support::radicale::{Radicale, home};
use crate::support::undo_first;

/// What a calendar program exports: one VCALENDAR with its time zones, a
/// weekly meeting with a moved and a cancelled occurrence, an all-day
/// event over three days, and two tasks, one of them without a UID.
const TEAM_ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp//Calendar 4.2//EN\r\n\
METHOD:PUBLISH\r\nX-WR-CALNAME:Équipe Lyon\r\nX-WR-CALDESC:Team calendar\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\n\
TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
DTSTART;TZID=Europe/Paris:20261102T100000\r\nDTEND;TZID=Europe/Paris:20261102T110000\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8\r\nEXDATE;TZID=Europe/Paris:20261116T100000\r\n\
SUMMARY:Weekly sync\r\nORGANIZER;CN=Alice Martin:mailto:alice@example.test\r\n\
ATTENDEE;CN=Bob Ørsted;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.test\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Weekly sync\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:offsite@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
DTSTART;VALUE=DATE:20261207\r\nDTEND;VALUE=DATE:20261210\r\nSUMMARY:Offsite\r\nEND:VEVENT\r\n\
BEGIN:VTODO\r\nUID:report@example.test\r\nDTSTAMP:20261101T090000Z\r\nSUMMARY:Yearly report\r\n\
DUE;VALUE=DATE:20261215\r\nPRIORITY:1\r\nSTATUS:IN-PROCESS\r\nPERCENT-COMPLETE:40\r\nEND:VTODO\r\n\
BEGIN:VEVENT\r\nUID:weekly@example.test\r\nDTSTAMP:20261101T090000Z\r\n\
RECURRENCE-ID;TZID=Europe/Paris:20261123T100000\r\n\
DTSTART;TZID=Europe/Paris:20261124T140000\r\nDTEND;TZID=Europe/Paris:20261124T150000\r\n\
SUMMARY:Weekly sync (moved)\r\nORGANIZER;CN=Alice Martin:mailto:alice@example.test\r\n\
ATTENDEE;CN=Bob Ørsted;PARTSTAT=ACCEPTED:mailto:bob@example.test\r\nEND:VEVENT\r\n\
BEGIN:VTODO\r\nDTSTAMP:20261101T090000Z\r\nSUMMARY:Order badges\r\nSTATUS:COMPLETED\r\n\
PERCENT-COMPLETE:100\r\nCOMPLETED:20261118T101500Z\r\nEND:VTODO\r\n\
END:VCALENDAR\r\n";

/// An exported address book: a contact with a photo and a non-ASCII
/// name, one without a UID, and a group naming the first.
const PEOPLE_VCF: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:zoe@example.test\r\nFN:Zoë Ångström\r\n\
N:Ångström;Zoë;;;\r\nEMAIL;TYPE=work:zoe@example.test\r\nEMAIL;TYPE=home:zoe@home.example\r\n\
TEL;TYPE=cell:+33 6 12 34 56 78\r\nADR;TYPE=work:;;1 rue de la Paix;Lyon;;69001;France\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRof\r\n \
Hh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAA\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Ørsted\r\nN:Ørsted;Bob;;;\r\nEMAIL:bob@example.test\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nUID:team-group@example.test\r\nFN:Team\r\n\
X-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:zoe@example.test\r\nEND:VCARD\r\n";

/// A manifest importing `file` into alice's home on `dest`.
pub fn manifest(dir: &Path, file: &str, options: &str, dest: &Radicale) -> std::path::PathBuf {
    let yaml = format!(
        "batch: files\naccounts:\n  - source: {{path: {file}}}\n    \
         destination: {{kind: groupware, host: 127.0.0.1, port: 1, tls: none, \
         email: alice@example.test, user: alice, password: dest-pw, dav_url: \"{}\"}}\n    \
         options: [{options}]\n",
        dest.home("alice")
    );
    let path = dir.join(format!("{file}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The arguments of `mailshift run` with the state and reports in `dir`.
pub fn run_args(dir: &Path, manifest: &Path) -> [std::ffi::OsString; 6] {
    [
        "run".into(),
        manifest.into(),
        "--state".into(),
        dir.join("state.db").into(),
        "--reports".into(),
        dir.join("reports").into(),
    ]
}

/// `mailshift run` with the state and reports in `dir`.
pub fn run(dir: &Path, manifest: &Path) -> Output {
    mailshift().args(run_args(dir, manifest)).run()
}

/// The same run in the background, its output dropped: one to kill.
pub fn spawn_run(dir: &Path, manifest: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailshift"))
        .args(run_args(dir, manifest))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn mailshift")
}

/// `mailshift undo` of alice's import, state and reports in `dir`.
pub fn undo(dir: &Path) -> Output {
    undo_first(
        &dir.join("state.db"),
        &dir.join("reports"),
        "alice@example.test",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ics_file_becomes_a_calendar_once_without_invitations_and_is_undone() {
    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dest.client("alice");
    let before = home(&dav, true).await;
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("team.ics"), TEAM_ICS).unwrap();
    let manifest = manifest(dir.path(), "team.ics", "calendars, tasks", &dest);

    // Two events (the weekly one with its override) and two tasks.
    run(dir.path(), &manifest).success().stdout_has("copied 4,");
    let after = home(&dav, true).await;
    assert_eq!(after.len(), before.len() + 1, "{:?}", after.keys());
    let (components, objects) = &after["Équipe Lyon"];
    assert_eq!(components, &["VEVENT", "VTODO"]);
    let names: Vec<&String> = objects.keys().collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(objects.contains_key("weekly@example.test.ics"), "{names:?}");
    assert!(objects.contains_key("report@example.test.ics"), "{names:?}");

    let weekly = &objects["weekly@example.test.ics"];
    assert_eq!(weekly.matches("BEGIN:VEVENT").count(), 2, "{weekly}");
    for needle in [
        "RECURRENCE-ID;TZID=Europe/Paris:20261123T100000",
        "EXDATE;TZID=Europe/Paris:20261116T100000",
        "TZID:Europe/Paris",
        "BEGIN:VALARM",
        "SUMMARY:Weekly sync (moved)",
    ] {
        assert!(weekly.contains(needle), "{needle} in {weekly}");
    }
    assert!(!weekly.contains("America/New_York"), "{weekly}");
    assert!(!weekly.contains("METHOD"), "{weekly}");
    // Nobody is invited: every organizer and attendee is the client's.
    let scheduling: Vec<&str> = weekly
        .lines()
        .filter(|l| l.starts_with("ORGANIZER") || l.starts_with("ATTENDEE"))
        .collect();
    assert_eq!(scheduling.len(), 4, "{weekly}");
    assert!(
        scheduling
            .iter()
            .all(|l| l.contains("SCHEDULE-AGENT=CLIENT")),
        "{scheduling:?}"
    );
    let offsite = &objects["offsite@example.test.ics"];
    assert!(offsite.contains("DTSTART;VALUE=DATE:20261207"), "{offsite}");
    assert!(offsite.contains("DTEND;VALUE=DATE:20261210"), "{offsite}");
    let report = &objects["report@example.test.ics"];
    for field in [
        "PERCENT-COMPLETE:40",
        "STATUS:IN-PROCESS",
        "PRIORITY:1",
        "DUE;VALUE=DATE:20261215",
    ] {
        assert!(report.contains(field), "{field} in {report}");
    }
    // The task without a UID got one, the same at every run.
    let badges: Vec<&String> = objects
        .iter()
        .filter(|(name, _)| name.starts_with("mailshift-"))
        .map(|(_, text)| text)
        .collect();
    assert_eq!(badges.len(), 1, "{names:?}");
    assert!(
        badges[0].contains("COMPLETED:20261118T101500Z"),
        "{}",
        badges[0]
    );

    // A second run adds nothing.
    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    assert_eq!(home(&dav, true).await, after);

    undo(dir.path())
        .success()
        .stdout_has("4 calendar objects deleted, 1 calendars deleted");
    assert_eq!(home(&dav, true).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vcf_file_becomes_an_address_book_with_its_group_and_is_undone() {
    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dest.client("alice");
    let before = home(&dav, false).await;
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("people.vcf"), PEOPLE_VCF).unwrap();
    let manifest = manifest(dir.path(), "people.vcf", "contacts, contact_groups", &dest);

    run(dir.path(), &manifest).success().stdout_has("copied 3,");
    let after = home(&dav, false).await;
    let (_, cards) = &after["people"];
    assert_eq!(cards.len(), 3, "{:?}", cards.keys());
    let zoe = &cards["zoe@example.test.vcf"];
    for field in [
        "FN:Zoë Ångström",
        "EMAIL;TYPE=work:zoe@example.test",
        "EMAIL;TYPE=home:zoe@home.example",
        "ADR;TYPE=work:;;1 rue de la Paix;Lyon;;69001;France",
        "Hh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL",
    ] {
        assert!(zoe.contains(field), "{field} in {zoe}");
    }
    let group = &cards["team-group@example.test.vcf"];
    assert!(
        group.contains("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:zoe@example.test"),
        "{group}"
    );
    let bob: Vec<&String> = cards
        .values()
        .filter(|c| c.contains("FN:Bob Ørsted"))
        .collect();
    assert_eq!(bob.len(), 1);
    assert!(bob[0].contains("UID:mailshift-"), "{}", bob[0]);

    run(dir.path(), &manifest).success().stdout_has("copied 0,");
    assert_eq!(home(&dav, false).await, after);
    undo(dir.path()).success();
    assert_eq!(home(&dav, false).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_ics_and_vcf_files_fail_naming_the_file_and_the_line() {
    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dav = dest.client("alice");
    let before = home(&dav, true).await;
    let dir = TempDir::new().unwrap();
    // Cut in the middle of the third event.
    let cut = TEAM_ICS.find("SUMMARY:Offsite").unwrap();
    std::fs::write(dir.path().join("cut.ics"), &TEAM_ICS[..cut]).unwrap();
    std::fs::write(dir.path().join("notes.vcf"), "Zoë: +33 6 12 34 56 78\n").unwrap();

    // The offsite event begins five lines above its SUMMARY.
    let begin = TEAM_ICS[..cut].matches("\r\n").count() + 1 - 5;
    let cut_manifest = manifest(dir.path(), "cut.ics", "calendars", &dest);
    run(dir.path(), &cut_manifest)
        .code(1)
        .stdout_has("failed")
        .stdout_has(&format!(
            "cut.ics: the file ends inside BEGIN:VEVENT (line {begin}): is it truncated?"
        ));
    let notes = manifest(dir.path(), "notes.vcf", "contacts", &dest);
    run(dir.path(), &notes)
        .code(1)
        .stdout_has("notes.vcf: not a vCard file (no BEGIN:VCARD)");
    assert_eq!(home(&dav, true).await, before);

    // A file that is not there is refused before anything runs.
    let gone = manifest(dir.path(), "gone.ics", "calendars", &dest);
    mailshift()
        .arg("validate")
        .arg(&gone)
        .run()
        .code(2)
        .stdout_has("gone.ics");
}
