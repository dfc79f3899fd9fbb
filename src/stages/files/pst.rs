//! The contacts, distribution lists, appointments and tasks of a PST file
//! as a source home: each contact folder an address book, each calendar
//! or task folder a calendar, each item converted to the vCard or
//! iCalendar object a server would hold ([`crate::protocols::pst::vcard`],
//! [`crate::protocols::pst::ical`]).
//!
//! An item without a UID of its own (contacts, lists, tasks, most
//! appointments not sent as meetings) gets one derived from the store's
//! record key and its node ID, so every run names it the same. An item
//! that cannot be read or converted is kept as [`Unreadable`]: the stage
//! it belongs to reports it and goes on.

use std::path::Path;

use super::{FileError, FileSource, Unreadable};
use crate::formats::content_line;
use crate::plan::StageKind;
use crate::protocols::dav::Collection;
use crate::protocols::dav::discovery::Service;
use crate::protocols::pst::ical::{self, IcalError};
use crate::protocols::pst::item::{ItemKind, MapiItem, derived_uid};
use crate::protocols::pst::{GroupwareFolder, GroupwareKind, PstReader, vcard};

/// The service that carries a folder's items.
fn service_of(kind: GroupwareKind) -> Service {
    match kind {
        GroupwareKind::Contacts => Service::CardDav,
        GroupwareKind::Calendar | GroupwareKind::Tasks => Service::CalDav,
    }
}

/// The stage that reports an item of a folder that cannot be read.
fn stage(kind: GroupwareKind) -> StageKind {
    match kind {
        GroupwareKind::Contacts => StageKind::Contacts,
        GroupwareKind::Calendar => StageKind::Calendars,
        GroupwareKind::Tasks => StageKind::Tasks,
    }
}

/// Reads the folders of `path` that `service` carries.
pub fn read(path: &Path, service: Service) -> Result<FileSource, FileError> {
    let reader = PstReader::open(path)?;
    let record_key = reader.record_key();
    let mut source = FileSource::default();
    for folder in reader.groupware()? {
        if service_of(folder.kind) != service {
            continue;
        }
        if folder.hidden {
            // Outlook's own (Recipient Cache, Quick Contacts): never the
            // user's address book.
            tracing::info!(
                "{}: hidden folder {} left out",
                path.display(),
                folder.path.join("/")
            );
            continue;
        }
        source.add(collection(&folder), service);
        for &node in &folder.items {
            let uid = derived_uid(&record_key, node);
            let converted = reader
                .item(node)
                .map_err(|e| Unreadable {
                    reason: e.to_string(),
                    stage: Some(stage(folder.kind)),
                })
                .and_then(|item| convert(&item, &uid, &record_key, folder.kind));
            match converted {
                Ok(Some(object)) => source.push(&object.uid, Ok(object.content), object.warnings),
                Ok(None) => {}
                Err(unreadable) => source.push(&uid, Err(unreadable), Vec::new()),
            }
        }
    }
    Ok(source)
}

/// The collection standing for a folder: named after it, its resources
/// under a segment made from its whole path (two folders of the same name
/// stay apart).
fn collection(folder: &GroupwareFolder) -> Collection {
    let name = folder.path.last().cloned().unwrap_or_default();
    let segment = super::resource_name(&folder.path.join("/"), "");
    Collection {
        href: format!("{segment}/"),
        display_name: Some(name),
        components: match folder.kind {
            GroupwareKind::Contacts => Vec::new(),
            GroupwareKind::Calendar => vec!["VEVENT".to_owned()],
            GroupwareKind::Tasks => vec!["VTODO".to_owned()],
        },
        ..Collection::default()
    }
}

/// One item as the object a server would hold.
struct Object {
    /// Its own UID (a meeting's), else the derived one.
    uid: String,
    content: Vec<u8>,
    /// What it was imported without (a list member that is neither an
    /// item of the file nor an address).
    warnings: Vec<String>,
}

/// The vCard or iCalendar object of one item; `None` for an item of a
/// kind the folder does not carry (a note in a contact folder).
fn convert(
    item: &MapiItem,
    uid: &str,
    record_key: &[u8],
    folder: GroupwareKind,
) -> Result<Option<Object>, Unreadable> {
    let failed = |stage: StageKind, error: IcalError| Unreadable {
        reason: error.to_string(),
        stage: Some(stage),
    };
    let mut warnings = Vec::new();
    let calendar = matches!(folder, GroupwareKind::Calendar | GroupwareKind::Tasks);
    let content = match ItemKind::of_class(&item.class) {
        Some(ItemKind::Contact) if !calendar => vcard::contact(item, uid),
        Some(ItemKind::DistList) if !calendar => {
            let member = |node: u32| Some(derived_uid(record_key, node));
            let group = vcard::group(item, uid, &member, record_key);
            warnings = group.warnings;
            group.card
        }
        Some(ItemKind::Appointment) if calendar => {
            ical::event(item, uid).map_err(|e| failed(StageKind::Calendars, e))?
        }
        Some(ItemKind::Task) if calendar => {
            ical::task(item, uid).map_err(|e| failed(StageKind::Tasks, e))?
        }
        _ => {
            tracing::debug!(
                "item {:#x} of class {} is not a {folder:?} item: left out",
                item.node,
                item.class
            );
            return Ok(None);
        }
    };
    let uid = content_line::uid(&content)
        .map(|u| String::from_utf8_lossy(&u).into_owned())
        .unwrap_or_else(|| uid.to_owned());
    Ok(Some(Object {
        uid,
        content,
        warnings,
    }))
}
