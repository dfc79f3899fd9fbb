//! What Debian's `readpst` makes of written files: contacts as vCards,
//! events as iCalendar, tasks in its debug log.

use std::collections::BTreeMap;
use std::path::Path;

use tempfile::TempDir;

use super::pim;

/// What `readpst -cv` made of a file: the files it wrote (name to text)
/// and its debug log, which shows items it does not export (tasks).
pub(super) struct Readpst {
    pub(super) files: BTreeMap<String, String>,
    pub(super) log: String,
}

pub(super) fn readpst(pst: &Path) -> Readpst {
    let out = TempDir::new().unwrap();
    let log = out.path().join("debug.log");
    let dir = out.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let run = std::process::Command::new("readpst")
        // `-j 0`: no forked children that may outlive readpst itself.
        .args(["-j", "0", "-q", "-cv", "-d"])
        .arg(&log)
        .arg("-o")
        .arg(&dir)
        .arg(pst)
        .output()
        .unwrap_or_else(|e| {
            panic!("readpst cannot run ({e}): install pst-utils (scripts/install-deps.sh)")
        });
    assert!(run.status.success(), "readpst failed: {run:?}");
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    let log = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    Readpst { files, log }
}

/// The blocks between `BEGIN:{kind}` and `END:{kind}`, each as its lines
/// (unfolded, without the BEGIN/END and the lines in `skip`).
pub(super) fn blocks(text: &str, kind: &str, skip: &[&str]) -> Vec<Vec<String>> {
    let unfolded = text.replace("\r\n", "\n").replace("\n ", "");
    let mut found = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in unfolded.lines() {
        if line == format!("BEGIN:{kind}") {
            current = Some(Vec::new());
        } else if line == format!("END:{kind}") {
            found.push(current.take().expect("END without BEGIN"));
        } else if let Some(lines) = current.as_mut()
            && !skip.iter().any(|s| line.starts_with(s))
        {
            lines.push(line.to_owned());
        }
    }
    found
}

fn lines(expected: &[&str]) -> Vec<String> {
    expected.iter().map(|l| l.to_string()).collect()
}

#[test]
fn readpst_reads_contacts_events_and_tasks_field_by_field() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("pim.pst");
    pim(&path);

    let read = readpst(&path);
    let names: Vec<&String> = read.files.keys().collect();
    assert_eq!(names, ["Calendar.calendar", "Contacts.contacts"]);

    let cards = blocks(&read.files["Contacts.contacts"], "VCARD", &["VERSION:"]);
    assert_eq!(
        cards,
        [
            lines(&[
                r"FN:Lovelace\, Ada",
                "N:Lovelace;Ada;;;",
                "EMAIL:ada@example.com",
                "EMAIL:ada@engines.example",
                "TEL;TYPE=work,voice:+44 20 1234",
                "TEL;TYPE=home,voice:+44 20 9999",
                "TEL;TYPE=cell,voice:+44 7700 900123",
                "TITLE:Programmer",
                "ORG:Analytical Engines",
            ]),
            lines(&[
                r"FN:Turing\, Alan",
                "N:Turing;Alan;;;",
                "EMAIL:alan@example.com",
                "TEL;TYPE=work,voice:+44 1908 640404",
            ]),
        ]
    );

    // readpst stamps each event with the time it ran and numbers them.
    let events = blocks(
        &read.files["Calendar.calendar"],
        "VEVENT",
        &["DTSTAMP:", "UID:"],
    );
    let created = ["CREATED:20240102T030405Z", "LAST-MOD:20240102T030405Z"];
    let expected = |summary: &str, start: &str, end: &str, location: &str| {
        let mut event = lines(&created);
        event.extend(lines(&[
            &format!("SUMMARY:{summary}"),
            &format!("DTSTART;VALUE=DATE-TIME:{start}"),
            &format!("DTEND;VALUE=DATE-TIME:{end}"),
            &format!("LOCATION:{location}"),
            "STATUS:CONFIRMED",
            "CATEGORIES:NONE",
        ]));
        event
    };
    assert_eq!(
        events,
        [
            expected(
                "Board meeting",
                "20250304T093000Z",
                "20250304T104500Z",
                "Room 4"
            ),
            expected("Lunch", "20250305T120000Z", "20250305T130000Z", "Canteen"),
        ]
    );

    // Tasks are read but not exported: the debug log shows what libpst
    // made of the item, named properties resolved to their LIDs.
    assert!(
        read.log.contains("Message class IPM.Task"),
        "no task in the readpst log"
    );
    assert!(read.log.contains("item->subject = File the report"));
    assert!(read.log.contains("Unknown type 0x8101 32bit int = 1"));
    assert!(
        read.log
            .contains("Unknown type 0x8105 Date = \"Fri Mar  7 17:00:00 2025")
    );
}
