//! The test PST writer (`support::pst_writer`) checked against two
//! independent readers: the `outlook-pst` crate, through mailshift's own
//! reader and directly, and Debian's `readpst`.

use mailshift::protocols::pst::PstReader;
use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::messaging::named_prop::{
    NameIdEntry, NamedPropertyGuid, NamedPropertyId, NamedPropertyIndex,
};
use outlook_pst::messaging::store::Store;
use tempfile::TempDir;

use crate::support::pst_writer::{Item, Key, PS_PUBLIC_STRINGS, PSETID_ADDRESS, PstBuilder, Value};

/// PidLidEmail1EmailAddress ([MS-OXPROPS]).
const LID_EMAIL1: u32 = 0x8083;

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
    let id = store
        .properties()
        .make_entry_id(outlook_pst::ndb::node_id::NodeId::from(nid))
        .unwrap();
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
