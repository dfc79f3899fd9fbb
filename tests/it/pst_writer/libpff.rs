//! What libpff (Debian's pff-tools) makes of written files: a third reader,
//! stricter than readpst about named properties (it matches their
//! property set GUIDs, not only their numbers) and reading the allocation
//! map.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::{at, contact, event, pim, text};
use mailshift::protocols::pst::PstReader;

use crate::support::pst_writer::{Item, Key, PSETID_COMMON, PstBuilder, Value};

/// Runs `pffexport -m all -f text` on `pst`: the directory it wrote to
/// (removed when dropped) and the top of the personal folders in it.
pub(super) fn export(pst: &Path) -> (TempDir, PathBuf) {
    let out = TempDir::new().unwrap();
    let target = out.path().join("export");
    let run = Command::new("pffexport")
        .args(["-q", "-m", "all", "-f", "text", "-t"])
        .arg(&target)
        .arg(pst)
        .output()
        .unwrap_or_else(|e| {
            panic!("pffexport cannot run ({e}): install pff-tools (scripts/install-deps.sh)")
        });
    assert!(run.status.success(), "pffexport failed: {run:?}");
    let top = out.path().join("export.export/Top of Personal Folders");
    (out, top)
}

/// What `pffexport` wrote for `pst`: each text file, by path under the
/// top of the personal folders, as its `Name: value` lines.
fn pffexport(pst: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let (_out, top) = export(pst);
    let mut files = BTreeMap::new();
    let mut stack = vec![top.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "txt") {
                let name = path.strip_prefix(&top).unwrap().display().to_string();
                let text = std::fs::read_to_string(&path).unwrap();
                let fields = text
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                files.insert(name, fields);
            }
        }
    }
    files
}

fn fields(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The message header lines every export starts with.
fn message(size: &str, subject: &str) -> Vec<(String, String)> {
    fields(&[
        ("Creation time", "Jan 02, 2024 03:04:05.000000000 UTC"),
        ("Modification time", "Jan 02, 2024 03:04:05.000000000 UTC"),
        ("Size", size),
        ("Flags", "0x00000001 (Read)"),
        ("Subject", subject),
        ("Status", "0x00000000 ()"),
    ])
}

#[test]
fn libpff_reads_contacts_events_and_tasks_with_their_named_properties() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("pff.pst");
    pim(&path);

    let files = pffexport(&path);
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(
        names,
        [
            "Calendar/Appointment00001/Appointment.txt",
            "Calendar/Appointment00002/Appointment.txt",
            "Contacts/Contact00001/Contact.txt",
            "Contacts/Contact00002/Contact.txt",
            "Tasks/Task00001/Task.txt",
        ]
    );
    // The size is PidTagMessageSize, which the writer estimates.
    let size = |name: &str| {
        files[name]
            .iter()
            .find(|(k, _)| k == "Size")
            .map(|(_, v)| v.clone())
            .unwrap()
    };

    let name = "Contacts/Contact00001/Contact.txt";
    let mut expected = message(&size(name), "Ada Lovelace");
    expected.insert(4, ("Display name".into(), "Ada Lovelace".into()));
    expected.extend(fields(&[
        ("File under", "Lovelace, Ada"),
        ("Given name", "Ada"),
        ("Surname", "Lovelace"),
        ("Home phone number", "+44 20 9999"),
        ("Mobile phone number", "+44 7700 900123"),
        ("Company name", "Analytical Engines"),
        ("Job title", "Programmer"),
        ("Business phone number 1", "+44 20 1234"),
        ("Email address 1", "ada@example.com"),
        ("Email address 2", "ada@engines.example"),
    ]));
    assert_eq!(files[name], expected);

    let name = "Calendar/Appointment00001/Appointment.txt";
    let mut expected = message(&size(name), "Board meeting");
    expected.extend(fields(&[
        ("Start time", "Mar 04, 2025 09:30:00.000000000 UTC"),
        ("End time", "Mar 04, 2025 10:45:00.000000000 UTC"),
        ("Location", "Room 4"),
        ("Busy status", "0x00000002"),
    ]));
    assert_eq!(files[name], expected);

    let name = "Tasks/Task00001/Task.txt";
    let mut expected = message(&size(name), "File the report");
    expected.extend(fields(&[
        ("Due date", "Mar 07, 2025 17:00:00.000000000 UTC"),
        ("Status", "0x00000001"),
    ]));
    assert_eq!(files[name], expected);
}

/// The unallocated ranges `pffinfo -a` lists (offset, size), and its
/// whole listing.
fn unallocated(pst: &Path) -> (Vec<(u64, u64)>, String) {
    let run = Command::new("pffinfo").arg("-a").arg(pst).output().unwrap();
    assert!(run.status.success(), "pffinfo failed: {run:?}");
    let listing = String::from_utf8_lossy(&run.stdout).into_owned();
    // "\t00028096 (0x00006dc0) - 00028160 (0x00006e00) size: 64"
    let ranges = listing
        .split("Unallocated data blocks:")
        .nth(1)
        .expect("pffinfo lists the free space")
        .lines()
        .filter_map(|l| {
            let (range, size) = l.split_once(" size: ")?;
            let start: u64 = range.split_whitespace().next()?.parse().ok()?;
            Some((start, size.trim().parse().ok()?))
        })
        .collect();
    (ranges, listing)
}

/// The header's end of file and free bytes (`ibFileEof`, `cbAMapFree`).
fn eof_and_free(file: &[u8]) -> (u64, u64) {
    let field = |at: usize| u64::from_le_bytes(file[at..at + 8].try_into().unwrap());
    (field(184), field(200))
}

#[test]
fn libpff_finds_the_free_space_the_header_counts() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("amap.pst");
    let mut pst = PstBuilder::new("AMap");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    // Enough for several spans of 253,952 bytes, each with its AMap.
    for n in 0..1000 {
        let email = format!("p{n}@example.com");
        pst.item(contacts, contact("Given", &format!("S{n}"), &email, "1"));
    }
    pst.write(&path).unwrap();
    let file = std::fs::read(&path).unwrap();
    let (eof, free) = eof_and_free(&file);
    assert_eq!(eof, file.len() as u64);
    assert!(
        eof > 0x4400 + 2 * 253_952,
        "{eof} bytes: fewer than three spans"
    );

    let (ranges, listing) = unallocated(&path);
    assert_eq!(ranges.iter().map(|r| r.1).sum::<u64>(), free, "{listing}");
    // Besides gaps before 512-byte pages and at the end of a span too
    // short for the next block, the free space is the end of the file.
    let (last, gaps) = ranges.split_last().expect("some free space");
    assert_eq!(last.0 + last.1, eof, "{listing}");
    assert!(
        gaps.iter().all(|g| g.1 < 8192 && g.0 % 64 == 0),
        "{listing}"
    );
}

/// A span of the file: the AMap at its start maps 253,952 bytes.
const SPAN: u64 = 253_952;

#[test]
fn a_file_past_32_mb_keeps_the_fmap_page_free_and_reads_back() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("large.pst");
    let mut pst = PstBuilder::new("Large");
    let inbox = pst.folder(None, "Inbox", "IPF.Note");
    // Five bodies of 7 MB (UTF-16) take the file past span 128, where
    // the first FMap page follows the AMap and the PMap.
    let bodies: Vec<String> = (0..5u8)
        .map(|n| format!("{}{n}", "lorem ipsum ".repeat(290_000)))
        .collect();
    let nids: Vec<u32> = bodies
        .iter()
        .map(|body| {
            pst.item(
                inbox,
                Item {
                    class: "IPM.Note".into(),
                    props: vec![
                        (Key::Tag(0x1000), text(body)),
                        // PidLidReminderSet: libpff refuses a store whose
                        // name-to-ID map is empty, which Outlook never
                        // writes.
                        (Key::Lid(PSETID_COMMON, 0x8503), Value::Bool(false)),
                    ],
                    recipients: Vec::new(),
                    attachments: Vec::new(),
                },
            )
        })
        .collect();
    pst.write(&path).unwrap();

    let file = std::fs::read(&path).unwrap();
    let (eof, free) = eof_and_free(&file);
    let span_128 = (0x4400 + 128 * SPAN) as usize;
    assert!(eof as usize > span_128 + SPAN as usize, "{eof} bytes");
    // AMap, PMap and FMap: the first 24 slots of 64 bytes taken.
    assert_eq!(file[span_128 + 496], 0x84, "an AMap page");
    assert_eq!(file[span_128..span_128 + 3], [0xFF; 3]);
    assert_eq!(file[span_128 + 512 + 496], 0x83, "a PMap page");
    assert_eq!(file[span_128 + 1024 + 496], 0x82, "an FMap page");
    let (ranges, listing) = unallocated(&path);
    assert_eq!(ranges.iter().map(|r| r.1).sum::<u64>(), free, "{listing}");

    let reader = PstReader::open(&path).unwrap();
    for (nid, body) in nids.iter().zip(&bodies) {
        let message = reader.message(*nid).unwrap();
        assert_eq!(message.body_text.as_ref(), Some(body), "message {nid:#x}");
    }
}

#[test]
fn libpff_reads_the_recipient_table_of_a_meeting() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("meeting.pst");
    let mut pst = PstBuilder::new("Meeting");
    let calendar = pst.folder(None, "Calendar", "IPF.Appointment");
    let mut meeting = event("Planning", "Room 2", at(4, 9, 0), at(4, 10, 0));
    let attendee = |kind: i32, name: &str, email: &str| {
        vec![
            (0x0C15, Value::I32(kind)), // PidTagRecipientType
            (0x3001, text(name)),
            (0x3002, text("SMTP")),
            (0x3003, text(email)),
        ]
    };
    meeting.recipients = vec![
        attendee(1, "Bob", "bob@example.com"),
        attendee(2, "Carol", "carol@example.com"),
    ];
    pst.item(calendar, meeting);
    pst.write(&path).unwrap();

    let files = pffexport(&path);
    let recipients = &files["Calendar/Appointment00001/Recipients.txt"];
    assert_eq!(
        recipients,
        &fields(&[
            ("Display name", "Bob"),
            ("Email address", "bob@example.com"),
            ("Address type", "SMTP"),
            ("Recipient type", "To"),
            ("Display name", "Carol"),
            ("Email address", "carol@example.com"),
            ("Address type", "SMTP"),
            ("Recipient type", "CC"),
        ])
    );
}
