//! Reading the items that are not mail (contacts, distribution lists,
//! appointments, tasks) into [`MapiItem`]s: every property, named ones
//! resolved through the store's name-to-ID map ([`names`](super::names)),
//! the recipient table as attendees, and a contact's picture.

use super::PstError;
use super::convert::{codepage_of, recipients};
use super::item::{Attendee, ItemKind, MapiItem};
use super::names;
use super::object::Depth;
use super::props::{ATTACH_DATA, MESSAGE_CLASS, Prop, boolean, string};
use super::reader::Walker;

/// `PidTagAttachmentContactPhoto`: this attachment is the contact's
/// picture.
const ATTACHMENT_CONTACT_PHOTO: u16 = 0x7FFF;

impl Walker {
    /// One item with all its properties.
    pub(super) fn item(&self, node: u32) -> Result<MapiItem, PstError> {
        let what = format!("item {node:#x}");
        let names = self.names().map_err(|e| self.item_error(&what, &e))?;
        let mut message = self.read(node, Depth::Recipients, &what)?;
        let cp = codepage_of(&message.props);
        let class = string(message.props.get(&MESSAGE_CLASS), cp).unwrap_or_default();
        if ItemKind::of_class(&class) == Some(ItemKind::Contact) {
            message = self.read(node, Depth::Whole, &what)?;
        }
        let p = &message.props;
        let attendees = recipients(&message.recipients, cp)
            .into_iter()
            .map(|(recipient, response)| Attendee {
                recipient,
                response,
            })
            .collect();
        // Only a contact has a picture; the attachments of others (an
        // appointment's agenda...) are not read for nothing.
        let photo = message
            .attachments
            .iter()
            .flatten()
            .filter(|a| boolean(a.props.get(&ATTACHMENT_CONTACT_PHOTO)))
            .find_map(|a| match a.props.get(&ATTACH_DATA) {
                Some(Prop::Binary(bytes)) => Some(bytes.clone()),
                _ => None,
            });
        Ok(MapiItem {
            node,
            class,
            props: names::properties(p, names, cp),
            attendees,
            photo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry_id::one_off;
    use super::super::item::{Key, PS_PUBLIC_STRINGS, PSETID_COMMON, derived_uid};
    use super::super::{GroupwareKind, PstError, PstReader, RecipientKind};

    fn libyal() -> PstReader {
        PstReader::open(&super::super::testdata("pst/libyal-outlook.pst")).unwrap()
    }

    #[test]
    fn the_libyal_contact_calendar_and_task_folders_are_listed_empty() {
        let folders = libyal().groupware().unwrap();
        let found: Vec<(String, &str, GroupwareKind, bool, usize)> = folders
            .iter()
            .map(|f| {
                let path = f.path.join("/");
                (path, f.class.as_str(), f.kind, f.hidden, f.items.len())
            })
            .collect();
        let calendar = GroupwareKind::Calendar;
        assert_eq!(
            found,
            [
                ("Calendar".into(), "IPF.Appointment", calendar, false, 0),
                (
                    "Contacts".into(),
                    "IPF.Contact",
                    GroupwareKind::Contacts,
                    false,
                    0
                ),
                ("Tasks".into(), "IPF.Task", GroupwareKind::Tasks, false, 0),
            ]
        );
    }

    #[test]
    fn an_item_has_its_tagged_and_named_properties_and_recipients() {
        let reader = libyal();
        let tree = reader.folders().unwrap();
        let inbox = tree.folders.iter().find(|f| f.path == ["Inbox"]).unwrap();
        let item = reader.item(inbox.messages[0]).unwrap();
        assert_eq!(item.node, inbox.messages[0]);
        assert_eq!(item.class, "IPM.Note");
        assert_eq!(
            item.text(&Key::Tag(0x0037)),
            Some("Welcome to Microsoft Office Outlook 2003")
        );
        assert_eq!(item.text(&Key::Tag(0x0C1F)), Some("olteam@microsoft.com"));
        assert_eq!(item.int(&Key::Tag(0x3FDE)), Some(1252));
        assert_eq!(
            item.time(&Key::Tag(0x0E06)).map(|t| t.to_rfc3339()),
            Some("2007-04-29T22:27:33.593+00:00".into())
        );
        // Named: PidLidCurrentVersion, PidLidCurrentVersionName and
        // PidLidSmartNoAttach, all in PSETID_Common.
        assert_eq!(item.int(&Key::Lid(PSETID_COMMON, 0x8552)), Some(115_608));
        assert_eq!(item.text(&Key::Lid(PSETID_COMMON, 0x8554)), Some("11.0"));
        assert!(item.flag(&Key::Lid(PSETID_COMMON, 0x8514)));
        // No raw named ID is left unresolved as a tag.
        assert!(
            item.props
                .keys()
                .all(|k| !matches!(k, Key::Tag(id) if *id >= 0x8000)),
            "{:?}",
            item.props.keys()
        );
        assert_eq!(item.attendees.len(), 1);
        let attendee = &item.attendees[0];
        assert_eq!(attendee.recipient.kind, RecipientKind::To);
        assert_eq!(
            attendee.recipient.address.name.as_deref(),
            Some("New Outlook User")
        );
        assert_eq!(attendee.response, Some(0));
        assert!(item.photo.is_none());
        // The sender's entry ID is a one-off one, as list members are.
        let sender = one_off(item.binary(&Key::Tag(0x0C19)).unwrap()).unwrap();
        assert_eq!(sender.name.as_deref(), Some("Outlook 2003 Team"));
        assert_eq!(sender.smtp(), Some("olteam@microsoft.com"));
        // The same item reads the same twice (the map is read once).
        let again = reader.item(inbox.messages[0]).unwrap();
        assert_eq!(again.props, item.props);
    }

    #[test]
    fn the_name_map_of_the_libyal_file_resolves_string_names() {
        let reader = libyal();
        let names = reader.walker.names().unwrap();
        assert_eq!(names.len(), 102);
        assert_eq!(
            names.key(0x8052),
            Some(&Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()))
        );
        let internet_headers = [
            0x86, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
        ];
        assert_eq!(
            names.key(0x8000),
            Some(&Key::Name(internet_headers, "content-class".into()))
        );
    }

    #[test]
    fn the_record_key_is_the_stores() {
        let reader = libyal();
        let key = reader.record_key();
        assert_eq!(
            key,
            [
                0x4e, 0x88, 0x78, 0x73, 0xe2, 0x9e, 0xc9, 0x44, 0x8e, 0xc2, 0x34, 0x6d, 0xfa, 0x6d,
                0xf8, 0x58
            ]
        );
        assert_ne!(derived_uid(&key, 0x2024), derived_uid(&[], 0x2024));
    }

    #[test]
    fn an_item_that_is_not_there_is_an_item_error() {
        let error = libyal().item(0x7FFF_FFE4).unwrap_err();
        assert!(matches!(error, PstError::Item { .. }), "{error}");
        let text = error.to_string();
        assert!(text.contains("libyal-outlook.pst"), "{text}");
        assert!(text.contains("item 0x7fffffe4"), "{text}");
    }
}
