//! The test PST writer (`support::pst_writer`) checked against two
//! independent readers: the `outlook-pst` crate, through mailshift's own
//! reader and directly, and Debian's `readpst`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use mailshift::protocols::pst::PstReader;
use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::messaging::named_prop::{
    NameIdEntry, NamedPropertyGuid, NamedPropertyId, NamedPropertyIndex,
};
use outlook_pst::messaging::store::Store;
use outlook_pst::ndb::node_id::NodeId;
use tempfile::TempDir;

use crate::support::pst_writer::recurrence::{Change, EUROPE_PARIS, End, Pattern, Recurrence};
use crate::support::pst_writer::{
    Item, Key, PS_PUBLIC_STRINGS, PSETID_ADDRESS, PSETID_APPOINTMENT, PSETID_TASK, PstBuilder,
    Value,
};

/// PidLidEmail1EmailAddress and PidLidFileUnder ([MS-OXPROPS]).
const LID_EMAIL1: u32 = 0x8083;
const LID_FILE_UNDER: u32 = 0x8005;
/// PidLidLocation, PidLidAppointmentStartWhole, PidLidAppointmentEndWhole.
const LID_LOCATION: u32 = 0x8208;
const LID_START: u32 = 0x820D;
const LID_END: u32 = 0x820E;
/// PidLidTaskStatus and PidLidTaskDueDate.
const LID_TASK_STATUS: u32 = 0x8101;
const LID_TASK_DUE: u32 = 0x8105;

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// A contact with a name, an e-mail address (named) and a phone.
fn contact(given: &str, surname: &str, email: &str, phone: &str) -> Item {
    Item {
        class: "IPM.Contact".into(),
        props: vec![
            (Key::Tag(0x0037), text(&format!("{given} {surname}"))),
            (Key::Tag(0x3001), text(&format!("{given} {surname}"))),
            (Key::Tag(0x3A06), text(given)),
            (Key::Tag(0x3A11), text(surname)),
            (Key::Tag(0x3A08), text(phone)),
            (Key::Lid(PSETID_ADDRESS, LID_EMAIL1), text(email)),
            (
                Key::Lid(PSETID_ADDRESS, LID_FILE_UNDER),
                text(&format!("{surname}, {given}")),
            ),
        ],
        recipients: Vec::new(),
    }
}

fn note(subject: &str) -> Item {
    Item {
        class: "IPM.Note".into(),
        props: vec![
            (Key::Tag(0x0037), text(subject)),
            (Key::Tag(0x1000), text("Hello from the test writer.")),
        ],
        recipients: vec![vec![
            (0x0C15, Value::I32(1)),
            (0x3001, text("Bob")),
            (0x3002, text("SMTP")),
            (0x3003, text("bob@example.com")),
            (0x39FE, text("bob@example.com")),
        ]],
    }
}

#[test]
fn mailshift_reader_lists_the_folders_and_reads_the_message() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("built.pst");
    let mut pst = PstBuilder::new("Test store");
    let inbox = pst.folder(None, "Inbox", "IPF.Note");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    let note_nid = pst.item(inbox, note("Written by the test writer"));
    pst.item(
        contacts,
        contact("Ada", "Lovelace", "ada@example.com", "+44 20 1234"),
    );
    pst.write(&path).unwrap();

    let reader = PstReader::open(&path).unwrap();
    let tree = reader.folders().unwrap();
    let folders: Vec<(String, Vec<u32>)> = tree
        .folders
        .iter()
        .map(|f| (f.path.join("/"), f.messages.clone()))
        .collect();
    assert_eq!(
        folders,
        [
            ("Deleted Items".to_owned(), vec![]),
            ("Inbox".to_owned(), vec![note_nid]),
        ]
    );
    assert_eq!(tree.other, ["Contacts (IPF.Contact)"]);
    assert!(tree.damaged.is_empty(), "{:?}", tree.damaged);
    let message = reader.message(note_nid).unwrap();
    assert_eq!(message.class, "IPM.Note");
    assert_eq!(
        message.subject.as_deref(),
        Some("Written by the test writer")
    );
    assert_eq!(
        message.body_text.as_deref(),
        Some("Hello from the test writer.")
    );
    let to: Vec<Option<&str>> = message
        .recipients
        .iter()
        .map(|r| r.address.email.as_deref())
        .collect();
    assert_eq!(to, [Some("bob@example.com")]);
}

/// The value of `prop_id` on the message `nid`, read with the crate.
fn crate_value(store: &std::rc::Rc<dyn Store>, nid: u32, prop_id: u16) -> Option<PropertyValue> {
    let id = store.properties().make_entry_id(NodeId::from(nid)).unwrap();
    let message = store.open_message(&id, None).unwrap();
    message.properties().get(prop_id).cloned()
}

fn crate_text(value: Option<PropertyValue>) -> Option<String> {
    match value? {
        PropertyValue::Unicode(s) => Some(s.to_string()),
        other => panic!("not a Unicode string: {other:?}"),
    }
}

#[test]
fn named_properties_read_back_through_the_crates_name_to_id_map() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("named.pst");
    let mut pst = PstBuilder::new("Named");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    let mut item = contact("Grace", "Hopper", "grace@example.com", "+1 555 0100");
    item.props.push((
        Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()),
        Value::Texts(vec!["navy".into(), "cobol".into()]),
    ));
    let nid = pst.item(contacts, item);
    pst.write(&path).unwrap();

    let store = outlook_pst::open_store(&path).unwrap();
    let map = store.named_property_map().unwrap();
    let properties = map.properties();
    let entries = properties.stream_entry().unwrap();
    let guids = properties.stream_guid().unwrap();
    let mut email_id = None;
    let mut keywords_id = None;
    for entry in entries {
        match entry.id() {
            NamedPropertyId::Number(LID_EMAIL1) => {
                // Not `lookup_guid`: outlook-pst 1.2 reads stream entry
                // wGuid rather than wGuid - 3 there ([MS-PST] 2.4.7.1).
                let NamedPropertyGuid::GuidIndex(index) = entry.guid() else {
                    panic!("PSETID_Address is in the GUID stream: {entry:?}");
                };
                let guid = guids[usize::from(index)];
                let parts = (guid.data1(), guid.data2(), guid.data3(), *guid.data4());
                assert_eq!(parts, (0x0006_2004, 0, 0, [0xC0, 0, 0, 0, 0, 0, 0, 0x46]));
                assert_eq!(guids.len(), 1, "only PSETID_Address is in the GUID stream");
                email_id = Some(entry.prop_id());
                let bucket = properties.hash_bucket(&entry).unwrap();
                assert!(bucket.contains(&entry), "{bucket:?}");
            }
            NamedPropertyId::StringOffset(offset) => {
                let name = properties.lookup_string(offset).unwrap().to_string();
                assert_eq!(name, "Keywords");
                assert_eq!(entry.guid(), NamedPropertyGuid::PublicStrings);
                keywords_id = Some(entry.prop_id());
                // In its bucket by the CRC of the name and the GUID index
                // ([MS-PST] 2.4.7.5; the crate's `hash_entry` gives the CRC
                // but drops the GUID).
                let crc = properties.hash_entry(entry).unwrap().id();
                let index = NamedPropertyIndex::try_from(entry.prop_id() - 0x8000).unwrap();
                let hashed = NameIdEntry::new(crc, entry.guid(), index);
                let bucket = properties.hash_bucket(&hashed).unwrap();
                assert!(bucket.contains(&hashed), "{bucket:?}");
            }
            NamedPropertyId::Number(LID_FILE_UNDER) => {}
            other => panic!("unexpected entry {other:?}"),
        }
    }
    let email_id = email_id.expect("the e-mail LID is in the map");
    let keywords_id = keywords_id.expect("the Keywords name is in the map");
    assert!(email_id >= 0x8000 && keywords_id >= 0x8000 && email_id != keywords_id);
    assert_eq!(
        crate_text(crate_value(&store, nid, email_id)).as_deref(),
        Some("grace@example.com")
    );
    match crate_value(&store, nid, keywords_id) {
        Some(PropertyValue::MultipleUnicode(values)) => {
            let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            assert_eq!(values, ["navy", "cobol"]);
        }
        other => panic!("Keywords: {other:?}"),
    }
    assert_eq!(
        crate_text(crate_value(&store, nid, 0x3A11)).as_deref(),
        Some("Hopper")
    );
}

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, hour, minute, 0).unwrap()
}

/// An appointment with a subject, a location and its start and end.
fn event(subject: &str, location: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Item {
    Item {
        class: "IPM.Appointment".into(),
        props: vec![
            (Key::Tag(0x0037), text(subject)),
            (Key::Lid(PSETID_APPOINTMENT, LID_LOCATION), text(location)),
            (Key::Lid(PSETID_APPOINTMENT, LID_START), Value::Time(start)),
            (Key::Lid(PSETID_APPOINTMENT, LID_END), Value::Time(end)),
            // PidLidBusyStatus: busy.
            (Key::Lid(PSETID_APPOINTMENT, 0x8205), Value::I32(2)),
        ],
        recipients: Vec::new(),
    }
}

fn task(subject: &str, due: DateTime<Utc>) -> Item {
    Item {
        class: "IPM.Task".into(),
        props: vec![
            (Key::Tag(0x0037), text(subject)),
            (Key::Lid(PSETID_TASK, LID_TASK_STATUS), Value::I32(1)),
            (Key::Lid(PSETID_TASK, LID_TASK_DUE), Value::Time(due)),
        ],
        recipients: Vec::new(),
    }
}

/// What `readpst -cv` made of a file: the files it wrote (name to text)
/// and its debug log, which shows items it does not export (tasks).
struct Readpst {
    files: BTreeMap<String, String>,
    log: String,
}

fn readpst(pst: &Path) -> Readpst {
    let out = TempDir::new().unwrap();
    let log = out.path().join("debug.log");
    let dir = out.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let run = std::process::Command::new("readpst")
        .args(["-q", "-cv", "-d"])
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
fn blocks(text: &str, kind: &str, skip: &[&str]) -> Vec<Vec<String>> {
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
    let mut pst = PstBuilder::new("PIM");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    let calendar = pst.folder(None, "Calendar", "IPF.Appointment");
    let tasks = pst.folder(None, "Tasks", "IPF.Task");
    let mut ada = contact("Ada", "Lovelace", "ada@example.com", "+44 20 1234");
    ada.props.extend([
        (Key::Tag(0x3A1C), text("+44 7700 900123")), // mobile
        (Key::Tag(0x3A09), text("+44 20 9999")),     // home
        (Key::Tag(0x3A16), text("Analytical Engines")),
        (Key::Tag(0x3A17), text("Programmer")),
        // PidLidEmail2EmailAddress.
        (
            Key::Lid(PSETID_ADDRESS, 0x8093),
            text("ada@engines.example"),
        ),
    ]);
    pst.item(contacts, ada);
    pst.item(
        contacts,
        contact("Alan", "Turing", "alan@example.com", "+44 1908 640404"),
    );
    pst.item(
        calendar,
        event("Board meeting", "Room 4", at(4, 9, 30), at(4, 10, 45)),
    );
    pst.item(
        calendar,
        event("Lunch", "Canteen", at(5, 12, 0), at(5, 13, 0)),
    );
    pst.item(tasks, task("File the report", at(7, 17, 0)));
    pst.write(&path).unwrap();

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

/// The tree level of the root page of the B-tree whose root BREF is at
/// `at` in the header ([MS-PST] 2.2.2.6: NBT at 216, BBT at 232).
fn root_level(file: &[u8], at: usize) -> u8 {
    let ib = u64::from_le_bytes(file[at + 8..at + 16].try_into().unwrap()) as usize;
    // BTPAGE: cLevel after rgentries (488), cEnt, cEntMax, cbEnt.
    file[ib + 491]
}

/// The node IDs of the messages in the folder named `name` under the top
/// of the personal folders, read with the crate.
fn crate_contents(store: &std::rc::Rc<dyn Store>, name: &str) -> Vec<u32> {
    let properties = store.properties();
    let top = store
        .open_folder(&properties.ipm_sub_tree_entry_id().unwrap())
        .unwrap();
    for row in top.hierarchy_table().unwrap().rows_matrix() {
        let id = properties
            .make_entry_id(NodeId::from(u32::from(row.id())))
            .unwrap();
        let folder = store.open_folder(&id).unwrap();
        if folder.properties().display_name().unwrap() == name {
            let contents = folder.contents_table().expect("a contents table");
            return contents.rows_matrix().map(|r| u32::from(r.id())).collect();
        }
    }
    panic!("no folder {name}");
}

#[test]
fn two_hundred_contacts_and_fifty_events_need_multi_page_trees() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("many.pst");
    let mut pst = PstBuilder::new("Many");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    let calendar = pst.folder(None, "Calendar", "IPF.Appointment");
    let mut contact_nids = Vec::new();
    for n in 0..200 {
        let mut item = contact(
            &format!("Given{n:03}"),
            &format!("Surname{n:03}"),
            &format!("person{n:03}@example.com"),
            &format!("+1 555 {n:04}"),
        );
        if n == 7 {
            // A body of more than one block (sub-node, XBLOCK) and one
            // that fills a few KiB of the item's heap.
            item.props
                .push((Key::Tag(0x1000), text(&"twelve bytes".repeat(1000))));
            item.props.push((Key::Tag(0x3A45), text(&"x".repeat(1700)))); // PidTagDisplayNamePrefix
        }
        contact_nids.push(pst.item(contacts, item));
    }
    let mut event_nids = Vec::new();
    for n in 0..50 {
        let day = 1 + n / 2;
        let hour = 8 + 2 * (n % 2);
        event_nids.push(pst.item(
            calendar,
            event(
                &format!("Event {n:02}"),
                &format!("Room {n}"),
                at(day, hour, 0),
                at(day, hour + 1, 30),
            ),
        ));
    }
    pst.write(&path).unwrap();

    let file = std::fs::read(&path).unwrap();
    assert!(root_level(&file, 216) >= 1, "the node B-tree has one page");
    assert!(root_level(&file, 232) >= 1, "the block B-tree has one page");

    let reader = PstReader::open(&path).unwrap();
    let tree = reader.folders().unwrap();
    assert_eq!(
        tree.other,
        ["Contacts (IPF.Contact)", "Calendar (IPF.Appointment)"]
    );

    let store = outlook_pst::open_store(&path).unwrap();
    assert_eq!(crate_contents(&store, "Contacts"), contact_nids);
    assert_eq!(crate_contents(&store, "Calendar"), event_nids);
    let email_id = 0x8000; // the first named property used
    for (n, nid) in contact_nids.iter().enumerate() {
        assert_eq!(
            crate_text(crate_value(&store, *nid, email_id)),
            Some(format!("person{n:03}@example.com"))
        );
    }
    assert_eq!(
        crate_text(crate_value(&store, contact_nids[7], 0x1000)),
        Some("twelve bytes".repeat(1000))
    );

    let read = readpst(&path);
    let cards = blocks(&read.files["Contacts.contacts"], "VCARD", &["VERSION:"]);
    assert_eq!(cards.len(), 200);
    for (n, card) in cards.iter().enumerate() {
        let email = format!("EMAIL:person{n:03}@example.com");
        assert!(card.contains(&email), "card {n}: {card:?}");
    }
    let note = format!("NOTE:{}", "twelve bytes".repeat(1000));
    assert!(cards[7].contains(&note), "{:?}", &cards[7]);
    let events = blocks(&read.files["Calendar.calendar"], "VEVENT", &[]);
    let summaries: Vec<String> = events
        .iter()
        .map(|e| {
            e.iter()
                .find(|l| l.starts_with("SUMMARY:"))
                .unwrap()
                .clone()
        })
        .collect();
    let expected: Vec<String> = (0..50).map(|n| format!("SUMMARY:Event {n:02}")).collect();
    assert_eq!(summaries, expected);
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

#[test]
fn recurrence_blobs_match_the_examples_of_ms_oxocal() {
    // [MS-OXOCAL] 4.1.1.3: every three days from 2011-04-07 to 2011-05-04,
    // 08:00 to 08:30, the occurrences of April 19 and 22 deleted.
    let daily = Recurrence {
        pattern: Pattern::Daily { every: 3 },
        start: local(2011, 4, 7, 8, 0),
        duration: Duration::minutes(30),
        end: End::Date(NaiveDate::from_ymd_opt(2011, 5, 4).unwrap()),
        deleted: vec![
            NaiveDate::from_ymd_opt(2011, 4, 19).unwrap(),
            NaiveDate::from_ymd_opt(2011, 4, 22).unwrap(),
        ],
        changed: vec![],
    };
    assert_eq!(
        daily.blob(),
        hex(
            "043004300A2000000000A0050000E010000000000000212000000A000000000000000200\
             0000A0C1DC0C80D2DC0C00000000207EDC0C0016DD0C0630000009300000E0010000FE01\
             000000000000000000000000"
        )
    );
    // [MS-OXOCAL] 4.1.1.2: Monday, Thursday and Friday, 10:00 to 10:30,
    // twelve times from 2007-03-26; the occurrence of April 16 moved to
    // 11:00 with another subject and location.
    let weekly = Recurrence {
        pattern: Pattern::Weekly {
            every: 1,
            days: vec![Weekday::Mon, Weekday::Thu, Weekday::Fri],
        },
        start: local(2007, 3, 26, 10, 0),
        duration: Duration::minutes(30),
        end: End::Count(12),
        deleted: vec![],
        changed: vec![Change {
            original: local(2007, 4, 16, 10, 0),
            start: local(2007, 4, 16, 11, 0),
            end: local(2007, 4, 16, 11, 30),
            subject: Some("Simple Recurrence with exceptions".into()),
            location: Some("34/4141".into()),
        }],
    };
    assert_eq!(
        weekly.blob(),
        hex(
            "043004300B2001000000C0210000010000000000000032000000222000000C00000000\
             00000001000000A096BC0C01000000A096BC0C8020BC0C20ADBC0C063000000930000058\
             0200007602000001003499BC0C5299BC0CF898BC0C11002200210053696D706C65205265\
             63757272656E6365207769746820657863657074696F6E730800070033342F3431343100\
             0000000400000000000000000000003499BC0C5299BC0CF898BC0C2100530069006D0070\
             006C006500200052006500630075007200720065006E0063006500200077006900740068\
             00200065007800630065007000740069006F006E0073000700330034002F003400310034\
             0031000000000000000000"
        )
    );
}

/// PidLidAppointmentRecur, PidLidRecurring, PidLidTimeZoneStruct,
/// PidLidTimeZoneDescription, PidLidAppointmentTimeZoneDefinitionRecur.
const LID_RECUR: u32 = 0x8216;
const LID_RECURRING: u32 = 0x8223;
const LID_TZ_STRUCT: u32 = 0x8233;
const LID_TZ_DESCRIPTION: u32 = 0x8234;
const LID_TZ_DEFINITION_RECUR: u32 = 0x8260;

/// A recurring appointment in Paris whose first occurrence is `first`
/// (UTC, one hour).
fn series(subject: &str, first: DateTime<Utc>, recurrence: &Recurrence) -> Item {
    let mut item = event(subject, "Room 1", first, first + Duration::hours(1));
    let apt = |lid| Key::Lid(PSETID_APPOINTMENT, lid);
    item.props.extend([
        (apt(LID_RECUR), Value::Binary(recurrence.blob())),
        (apt(LID_RECURRING), Value::Bool(true)),
        (
            apt(LID_TZ_STRUCT),
            Value::Binary(EUROPE_PARIS.time_zone_struct()),
        ),
        (apt(LID_TZ_DESCRIPTION), text("Romance Standard Time")),
        (
            apt(LID_TZ_DEFINITION_RECUR),
            Value::Binary(EUROPE_PARIS.definition("Romance Standard Time", 2025)),
        ),
    ]);
    item
}

#[test]
fn readpst_shows_the_rules_of_recurring_series() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("recurring.pst");
    let mut pst = PstBuilder::new("Recurring");
    let calendar = pst.folder(None, "Calendar", "IPF.Appointment");
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let recurrence = |pattern, start, end| Recurrence {
        pattern,
        start,
        duration: Duration::hours(1),
        end,
        deleted: vec![],
        changed: vec![],
    };
    // Mondays and Wednesdays at 09:00 Paris time (08:00 UTC in March),
    // ten times; the Wednesday of March 5 deleted, the Monday of March 10
    // moved to Tuesday afternoon with its own subject and place.
    let mut weekly = recurrence(
        Pattern::Weekly {
            every: 1,
            days: vec![Weekday::Mon, Weekday::Wed],
        },
        local(2025, 3, 3, 9, 0),
        End::Count(10),
    );
    weekly.deleted = vec![date(2025, 3, 5)];
    weekly.changed = vec![Change {
        original: local(2025, 3, 10, 9, 0),
        start: local(2025, 3, 11, 14, 0),
        end: local(2025, 3, 11, 15, 0),
        subject: Some("Standup, moved".into()),
        location: Some("Room 9".into()),
    }];
    let all = [
        ("Standup", at(3, 8, 0), weekly),
        (
            "Every other day",
            at(3, 8, 0),
            recurrence(
                Pattern::Daily { every: 2 },
                local(2025, 3, 3, 9, 0),
                End::Never,
            ),
        ),
        (
            "Rent",
            at(15, 8, 0),
            recurrence(
                Pattern::MonthlyDay { every: 1, day: 15 },
                local(2025, 3, 15, 9, 0),
                End::Date(date(2025, 12, 31)),
            ),
        ),
        (
            "Quarterly review",
            at(11, 8, 0),
            recurrence(
                Pattern::MonthlyNth {
                    every: 3,
                    nth: 2,
                    days: vec![Weekday::Tue],
                },
                local(2025, 3, 11, 9, 0),
                End::Count(4),
            ),
        ),
        (
            "Spring",
            at(20, 8, 0),
            recurrence(
                Pattern::Yearly { day: 20 },
                local(2025, 3, 20, 9, 0),
                End::Never,
            ),
        ),
        (
            "Clocks back",
            Utc.with_ymd_and_hms(2025, 10, 26, 8, 0, 0).unwrap(),
            recurrence(
                Pattern::YearlyNth {
                    nth: 5,
                    days: vec![Weekday::Sun],
                },
                local(2025, 10, 26, 9, 0),
                End::Count(3),
            ),
        ),
    ];
    for (subject, first, recurrence) in &all {
        pst.item(calendar, series(subject, *first, recurrence));
    }
    pst.write(&path).unwrap();

    let read = readpst(&path);
    let events = blocks(&read.files["Calendar.calendar"], "VEVENT", &[]);
    let rules: Vec<(String, Option<String>)> = events
        .iter()
        .map(|e| {
            let field = |name: &str| e.iter().find(|l| l.starts_with(name)).cloned();
            (field("SUMMARY:").unwrap(), field("RRULE:"))
        })
        .collect();
    let expected = [
        // libpst joins BYDAY values with ';' and writes "last" as
        // BYSETPOS=5; it writes no EXDATE for deleted occurrences.
        ("Standup", "FREQ=WEEKLY;COUNT=10;BYDAY=MO;WE"),
        ("Every other day", "FREQ=DAILY;INTERVAL=2"),
        ("Rent", "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=15"),
        (
            "Quarterly review",
            "FREQ=MONTHLY;COUNT=4;INTERVAL=3;BYSETPOS=2;BYDAY=TU",
        ),
        ("Spring", "FREQ=YEARLY;BYMONTHDAY=20;BYMONTH=3"),
        (
            "Clocks back",
            "FREQ=YEARLY;COUNT=3;BYMONTH=10;BYSETPOS=5;BYDAY=SU",
        ),
    ];
    let expected: Vec<(String, Option<String>)> = expected
        .iter()
        .map(|(s, r)| (format!("SUMMARY:{s}"), Some(format!("RRULE:{r}"))))
        .collect();
    assert_eq!(rules, expected);
    assert!(
        events[0].contains(&"DTSTART;VALUE=DATE-TIME:20250303T080000Z".to_owned()),
        "{:?}",
        events[0]
    );

    // The occurrences the weekly series stands for.
    let (_, _, weekly) = &all[0];
    let days: Vec<String> = weekly
        .occurrences()
        .iter()
        .map(|d| d.format("%m-%d").to_string())
        .collect();
    assert_eq!(
        days,
        [
            "03-03", "03-05", "03-10", "03-12", "03-17", "03-19", "03-24", "03-26", "03-31",
            "04-02"
        ]
    );
}

#[test]
fn the_paris_time_zone_blobs_hold_its_rules() {
    // TZREG: lBias -60, lStandardBias 0, lDaylightBias -60, then each
    // transition as year 0 and a SYSTEMTIME (year, month, day of week,
    // week, hour, minute, second, ms): October's last Sunday at 03:00,
    // March's last Sunday at 02:00.
    let biases = "C4FFFFFF00000000C4FFFFFF";
    let standard = "00000A00000005000300000000000000";
    let daylight = "00000300000005000200000000000000";
    let tzreg = format!("{biases}0000{standard}0000{daylight}");
    assert_eq!(EUROPE_PARIS.time_zone_struct(), hex(&tzreg));

    // TZDEFINITION: version 2.1, cbHeader 48 (reserved 2, name length
    // 21, the name, one rule), then the rule: version 2.1, reserved 0x3E,
    // flags EFFECTIVE | RECUR_CURRENT, year 2025, 14 zero bytes, the
    // biases and the transitions.
    let name: String = "Romance Standard Time"
        .bytes()
        .map(|b| format!("{b:02X}00"))
        .collect();
    let definition = format!(
        "0201 3000 0200 1500 {name} 0100 0201 3E00 0300 E907 {zeros} {biases}{standard}{daylight}",
        zeros = "00".repeat(14)
    )
    .replace(' ', "");
    assert_eq!(
        EUROPE_PARIS.definition("Romance Standard Time", 2025),
        hex(&definition)
    );
}

#[test]
fn distribution_list_members_and_empty_strings_read_back_with_the_crate() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("lists.pst");
    let mut pst = PstBuilder::new("Lists");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    // One-off entry IDs ([MS-OXCDATA] 2.2.5.1) are opaque here: what
    // matters is that each member comes back whole and in order.
    let members: Vec<Vec<u8>> = (0u8..3).map(|n| vec![n; 40 + usize::from(n)]).collect();
    let list = pst.item(
        contacts,
        Item {
            class: "IPM.DistList".into(),
            props: vec![
                (Key::Tag(0x0037), text("Team")),
                // PidLidDistributionListName, PidLidDistributionListMembers.
                (Key::Lid(PSETID_ADDRESS, 0x8053), text("Team")),
                (
                    Key::Lid(PSETID_ADDRESS, 0x8055),
                    Value::Binaries(members.clone()),
                ),
                // PidTagMiddleName, empty.
                (Key::Tag(0x3A44), text("")),
            ],
            recipients: Vec::new(),
        },
    );
    pst.write(&path).unwrap();

    let store = outlook_pst::open_store(&path).unwrap();
    match crate_value(&store, list, 0x8001) {
        Some(PropertyValue::MultipleBinary(values)) => {
            let values: Vec<&[u8]> = values.iter().map(|v| v.buffer()).collect();
            assert_eq!(values, members);
        }
        other => panic!("members: {other:?}"),
    }
    assert_eq!(
        crate_text(crate_value(&store, list, 0x8000)).as_deref(),
        Some("Team")
    );
    assert_eq!(
        crate_text(crate_value(&store, list, 0x3A44)).as_deref(),
        Some("")
    );
    let reader = PstReader::open(&path).unwrap();
    assert_eq!(reader.message(list).unwrap().class, "IPM.DistList");
}

#[test]
fn a_thousand_contacts_and_a_large_contact_span_several_heap_blocks() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("large.pst");
    let mut pst = PstBuilder::new("Large");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    // The contents table's row index alone (1000 rows of 8 bytes) is more
    // than one heap block and more than one BTree-on-heap leaf.
    let nids: Vec<u32> = (0..1000)
        .map(|n| {
            let email = format!("p{n:04}@example.com");
            pst.item(contacts, contact("Given", &format!("S{n:04}"), &email, "1"))
        })
        .collect();
    // Twenty values of 1000 characters: 40 KB of heap, no sub-node.
    let mut large = contact("Large", "Contact", "large@example.com", "2");
    let fields: Vec<(u16, String)> = (0..20u16)
        .map(|n| (0x6800 + n, format!("{n:02}").repeat(1000)))
        .collect();
    for (id, value) in &fields {
        large.props.push((Key::Tag(*id), text(value)));
    }
    large
        .props
        .push((Key::Tag(0x3A17), text(&"title ".repeat(500))));
    let large_nid = pst.item(contacts, large);
    pst.write(&path).unwrap();

    let store = outlook_pst::open_store(&path).unwrap();
    let mut expected = nids.clone();
    expected.push(large_nid);
    assert_eq!(crate_contents(&store, "Contacts"), expected);
    for (id, value) in &fields {
        assert_eq!(
            crate_text(crate_value(&store, large_nid, *id)).as_ref(),
            Some(value)
        );
    }

    let read = readpst(&path);
    let cards = blocks(&read.files["Contacts.contacts"], "VCARD", &["VERSION:"]);
    assert_eq!(cards.len(), 1001);
    for (n, card) in cards[..1000].iter().enumerate() {
        let email = format!("EMAIL:p{n:04}@example.com");
        assert!(card.contains(&email), "card {n}: {card:?}");
    }
    let title = format!("TITLE:{}", "title ".repeat(500).trim_end());
    assert!(
        cards[1000].iter().any(|l| l.trim_end() == title),
        "{:?}",
        cards[1000]
    );
}

#[test]
#[should_panic(expected = "properties on one object; at most 447 are supported")]
fn an_object_over_the_property_limit_is_refused_by_name() {
    let dir = TempDir::new().unwrap();
    let mut pst = PstBuilder::new("Too many");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    let mut item = contact("Given", "Surname", "a@example.com", "1");
    for n in 0..440 {
        item.props
            .push((Key::Tag(0x6800 + n), Value::I32(i32::from(n))));
    }
    pst.item(contacts, item);
    let _ = pst.write(&dir.path().join("refused.pst"));
}
