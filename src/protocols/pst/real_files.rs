//! Regression tests of the reader on real Outlook files (written by
//! Outlook and by other libraries; see the shared test data's README):
//! what the `outlook-pst` crate's message reader refused, read here.

use super::item::ItemKind;
use super::{Content, PstError, PstReader, Role, testdata};

fn open(name: &str) -> PstReader {
    PstReader::open(&testdata(&format!("pst/real/{name}"))).unwrap()
}

#[test]
fn messages_kept_at_the_top_of_the_file_are_found() {
    for (name, count) in [("tika-testPST.pst", 7), ("ruby-msg-msgInMsg.pst", 1)] {
        let tree = open(name).folders().unwrap();
        let top = &tree.folders[0];
        assert!(top.path.is_empty(), "{name}: {:?}", top.path);
        assert_eq!(top.messages.len(), count, "{name}");
    }
}

#[test]
fn an_attached_message_is_read_with_its_own_attachments() {
    let reader = open("tika-testPST.pst");
    let tree = reader.folders().unwrap();
    let forward = reader
        .message(*tree.folders[0].messages.last().unwrap())
        .unwrap();
    assert_eq!(forward.subject.as_deref(), Some("FW: First email"));
    let [attachment] = forward.attachments.as_slice() else {
        panic!("{:?}", forward.attachments);
    };
    let Content::Message(inner) = &attachment.content else {
        panic!("not an attached message");
    };
    assert_eq!(inner.subject.as_deref(), Some("First email"));
    let names: Vec<_> = inner
        .attachments
        .iter()
        .map(|a| a.name.as_deref())
        .collect();
    assert_eq!(names, [Some("attachment.docx")]);
    assert!(forward.warnings.is_empty(), "{:?}", forward.warnings);
}

#[test]
fn attachments_whose_method_is_only_in_their_table_row_are_read() {
    // "Missing PidTagAttachMethod" in outlook-pst 1.2: two attached
    // messages of the Inbox's "this message contains embedded MSG".
    let reader = open("aspose-Outlook.pst");
    let tree = reader.folders().unwrap();
    let mut embedded = 0;
    for folder in &tree.folders {
        for &node in &folder.messages {
            let message = reader.message(node).unwrap();
            assert!(message.warnings.is_empty(), "{:?}", message.warnings);
            embedded += message
                .attachments
                .iter()
                .filter(|a| matches!(a.content, Content::Message(_)))
                .count();
        }
    }
    assert_eq!(embedded, 4);
}

#[test]
fn appointments_in_deleted_items_are_not_counted_as_mail() {
    let tree = open("sedatools-ContactCalendar-test.pst")
        .folders()
        .unwrap();
    let deleted = tree
        .folders
        .iter()
        .find(|f| f.role == Some(Role::Deleted))
        .unwrap();
    assert!(deleted.messages.is_empty());
    assert_eq!(deleted.other.len(), 15);
    assert!(deleted.other.iter().all(|(_, c)| c == "IPM.Appointment"));
}

#[test]
fn password_protected_and_ost_files_are_refused() {
    let locked = PstReader::open(&testdata("pst/real/java-libpst-passworded.pst"));
    assert!(matches!(locked, Err(PstError::Password { .. })));
    let ost = PstReader::open(&testdata("pst/real/aspose-SampleOstFile.ost"));
    assert!(matches!(ost, Err(PstError::Ost { .. })));
}

#[test]
fn items_without_a_sub_node_tree_are_read() {
    // "Missing Sub-Node Tree on message" in outlook-pst 1.2.
    for (name, lists, contacts) in [
        ("java-libpst-dist-list.pst", 1, 1),
        ("aspose-SampleContacts.pst", 0, 6),
    ] {
        let reader = PstReader::open(&testdata(&format!("pst/real/{name}"))).unwrap();
        let mut kinds = Vec::new();
        for folder in reader.groupware().unwrap() {
            for node in folder.items {
                kinds.push(ItemKind::of_class(&reader.item(node).unwrap().class));
            }
        }
        let count = |kind| kinds.iter().filter(|k| **k == Some(kind)).count();
        assert_eq!(count(ItemKind::DistList), lists, "{name}");
        assert_eq!(count(ItemKind::Contact), contacts, "{name}");
    }
}
