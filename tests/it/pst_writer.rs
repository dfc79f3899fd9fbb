//! The test PST writer (`support::pst_writer`) checked against three
//! independent readers: the `outlook-pst` crate, through mailshift's own
//! reader and directly (here), Debian's `readpst` ([`readpst`]) and libpff
//! ([`libpff`]); attachments against all three ([`attachments`]);
//! recurrence and time zone blobs against [MS-OXOCAL]'s examples
//! ([`recurrence`]).

pub mod attachments;
mod libpff;
mod readpst;
mod recurrence;

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use mailshift::protocols::pst::PstReader;
use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::messaging::named_prop::{
    NameIdEntry, NamedPropertyGuid, NamedPropertyId, NamedPropertyIndex,
};
use outlook_pst::messaging::store::Store;
use outlook_pst::ndb::node_id::NodeId;
use tempfile::TempDir;

use readpst::{blocks, readpst};

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
        attachments: Vec::new(),
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
        attachments: Vec::new(),
    }
}

/// A store with two contacts (Ada with most fields), two events and a
/// task, for the exports of readpst and libpff.
fn pim(path: &Path) {
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
    pst.write(path).unwrap();
}

#[test]
fn mailshift_reader_lists_the_folders_and_reads_the_message() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("built.pst");
    let mut pst = PstBuilder::new("Test store");
    let inbox = pst.folder(None, "Inbox", "IPF.Note");
    let contacts = pst.folder(None, "Contacts", "IPF.Contact");
    // Nested, and not ASCII.
    let projects = pst.folder(Some(inbox), "Projets d'été", "IPF.Note");
    let note_nid = pst.item(inbox, note("Written by the test writer"));
    let nested_nid = pst.item(projects, note("Réunion 📅 à 10 h"));
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
            ("Inbox/Projets d'été".to_owned(), vec![nested_nid]),
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
    let nested = reader.message(nested_nid).unwrap();
    assert_eq!(nested.subject.as_deref(), Some("Réunion 📅 à 10 h"));
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
        attachments: Vec::new(),
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
        attachments: Vec::new(),
    }
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
    // Some 280 nodes (15 to a leaf page) and 770 blocks (three an item;
    // 20 to a leaf, 20 leaves to an index page): two and three levels.
    assert!(root_level(&file, 216) >= 1, "the node B-tree has one page");
    assert!(
        root_level(&file, 232) >= 2,
        "the block B-tree has two levels"
    );

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
            attachments: Vec::new(),
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
    // Forty values of 1000 characters: 80 KB of heap (ten blocks, the
    // ninth with a bitmap header), no sub-node.
    let mut large = contact("Large", "Contact", "large@example.com", "2");
    let fields: Vec<(u16, String)> = (0..40u16)
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
