//! A small writer of Unicode PST files, so that tests can build stores
//! holding exactly the contacts, lists, appointments and tasks they need.
//!
//! - [`PstBuilder`] (here) gathers folders and items and turns them into
//!   nodes: the message store, the name-to-ID map, each folder's property
//!   context and hierarchy/contents tables, each item's property context,
//!   recipient table, attachment table and attachment objects.
//! - [`ltp`] encodes heaps, property contexts and table contexts.
//! - [`names`] builds the name-to-ID map of named properties.
//! - [`ndb`] lays out blocks, B-trees, allocation maps and the header.
//! - [`recurrence`] encodes recurrence patterns and time zones.
//!
//! It writes the store, folders, items, their recipients, their
//! attachments by value and the table templates; not attached messages,
//! nor the search nodes of [MS-PST] 2.7.1 (search management queue,
//! gatherer...), which readers do not use.
//! What it cannot write (more than 447 properties on one object, more
//! than 340 sub-nodes on one item) it refuses with a panic naming the
//! limit.
//!
//! ```ignore
//! let mut pst = PstBuilder::new("Store");
//! let contacts = pst.folder(None, "Contacts", "IPF.Contact");
//! let node = pst.item(contacts, Item {
//!     class: "IPM.Contact".into(),
//!     props: vec![
//!         (Key::Tag(0x3001), Value::Text("Ada Lovelace".into())),
//!         // PidLidEmail1EmailAddress: gets an ID from 0x8000 on.
//!         (Key::Lid(PSETID_ADDRESS, 0x8083), Value::Text("ada@example.com".into())),
//!     ],
//!     recipients: Vec::new(),
//!     // PidTagAttachLongFilename and PidTagAttachDataBinary; the method
//!     // (by value), size and rendering position are added.
//!     attachments: vec![vec![
//!         (0x3707, Value::Text("notes.txt".into())),
//!         (0x3701, Value::Binary(b"Hello".to_vec())),
//!     ]],
//! });
//! pst.write(&dir.path().join("store.pst"))?;
//! ```
//!
//! Recurring appointments take [`recurrence::Recurrence::blob`] as
//! PidLidAppointmentRecur and [`recurrence::EUROPE_PARIS`]'s blobs as
//! their time zone (see `tests/it/pst_writer/recurrence.rs`).

mod ltp;
mod names;
mod ndb;
pub mod recurrence;

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

use ltp::{Column, prop_type, property_context, table_context};
use names::{Name, NameMap};
use ndb::{Content, Ndb};

/// A GUID as a PST stores it (Data1..3 little-endian).
pub type Guid = [u8; 16];

/// Builds a [`Guid`] from its text form's parts.
const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

const OLE: [u8; 8] = [0xC0, 0, 0, 0, 0, 0, 0, 0x46];
/// {00020328-0000-0000-C000-000000000046}
pub const PS_MAPI: Guid = guid(0x0002_0328, 0, 0, OLE);
/// {00020329-0000-0000-C000-000000000046}
pub const PS_PUBLIC_STRINGS: Guid = guid(0x0002_0329, 0, 0, OLE);
/// {00062004-0000-0000-C000-000000000046}: contact properties.
pub const PSETID_ADDRESS: Guid = guid(0x0006_2004, 0, 0, OLE);
/// {00062002-0000-0000-C000-000000000046}: appointment properties.
pub const PSETID_APPOINTMENT: Guid = guid(0x0006_2002, 0, 0, OLE);
/// {00062003-0000-0000-C000-000000000046}: task properties.
pub const PSETID_TASK: Guid = guid(0x0006_2003, 0, 0, OLE);
/// {00062008-0000-0000-C000-000000000046}: properties common to items.
pub const PSETID_COMMON: Guid = guid(0x0006_2008, 0, 0, OLE);
/// {6ED8DA90-450B-101B-98DA-00AA003F1305}: meeting properties.
pub const PSETID_MEETING: Guid = guid(
    0x6ED8_DA90,
    0x450B,
    0x101B,
    [0x98, 0xDA, 0x00, 0xAA, 0x00, 0x3F, 0x13, 0x05],
);

/// A property: a tag's ID, or a named property (number or string in a
/// property set) that gets an ID from the name-to-ID map.
#[derive(Clone, Debug)]
pub enum Key {
    Tag(u16),
    Lid(Guid, u32),
    Name(Guid, String),
}

/// A property value; the variant gives the property type.
#[derive(Clone, Debug)]
pub enum Value {
    I16(i16),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    Time(DateTime<Utc>),
    /// PtypString (UTF-16).
    Text(String),
    Binary(Vec<u8>),
    Texts(Vec<String>),
    Binaries(Vec<Vec<u8>>),
}

/// A message of any class (`IPM.Contact`, `IPM.Appointment`...).
#[derive(Clone, Debug, Default)]
pub struct Item {
    /// PidTagMessageClass.
    pub class: String,
    pub props: Vec<(Key, Value)>,
    /// Rows of the recipient table: property ID and value.
    pub recipients: Vec<Vec<(u16, Value)>>,
    /// Attachment objects ([MS-PST] 2.4.6.2), each its properties by ID:
    /// PidTagAttachDataBinary (0x3701), PidTagAttachLongFilename (0x3707),
    /// PidTagAttachMimeTag (0x370E), PidTagAttachmentContactPhoto
    /// (0x7FFF)... PidTagAttachMethod (by value), PidTagAttachSize and
    /// PidTagRenderingPosition are added unless given.
    pub attachments: Vec<Vec<(u16, Value)>>,
}

/// A folder of the store being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderId(usize);

struct Folder {
    nid: u32,
    parent: usize,
    name: String,
    class: Option<String>,
    /// PidTagAttributeHidden: one of Outlook's own folders.
    hidden: bool,
}

struct Stored {
    nid: u32,
    folder: usize,
    props: Vec<(u16, Value)>,
    recipients: Vec<Vec<(u16, Value)>>,
    attachments: Vec<Vec<(u16, Value)>>,
}

/// Gathers folders and items, then writes the PST in one go.
pub struct PstBuilder {
    display_name: String,
    folders: Vec<Folder>,
    items: Vec<Stored>,
    names: NameMap,
}

const NID_MESSAGE_STORE: u32 = 0x21;
const NID_NAME_TO_ID_MAP: u32 = 0x61;
const NID_ROOT_FOLDER: u32 = 0x122;
/// The top of the personal folders and the search root, as Outlook
/// numbers them.
const NID_IPM_SUBTREE: u32 = 0x8022;
const NID_SEARCH_ROOT: u32 = 0x8042;

const NID_TYPE_NORMAL_FOLDER: u32 = 0x02;
const NID_TYPE_NORMAL_MESSAGE: u32 = 0x04;
const NID_TYPE_ATTACHMENT: u32 = 0x05;
const NID_TYPE_HIERARCHY_TABLE: u32 = 0x0D;
const NID_TYPE_CONTENTS_TABLE: u32 = 0x0E;
const NID_TYPE_ASSOC_CONTENTS_TABLE: u32 = 0x0F;
/// The recipient table of a message (a sub-node).
const NID_RECIPIENT_TABLE: u32 = 0x692;
/// The attachment table of a message (a sub-node).
const NID_ATTACHMENT_TABLE: u32 = 0x671;
/// `PidTagMessageFlags`: read, and read with attachments.
const MSGFLAG_READ: i32 = 0x01;
const MSGFLAG_HASATTACH: i32 = 0x10;
/// Where `new` puts the top of the personal folders and Deleted Items in
/// the builder's list of folders.
const TOP_FOLDER: usize = 1;
const DELETED_ITEMS: usize = 3;
/// The first message index Outlook gives.
const FIRST_MESSAGE_INDEX: u32 = 0x10000;

/// The store's record key; entry IDs carry it.
const RECORD_KEY: Guid = guid(
    0x6D61_696C,
    0x7368,
    0x6966,
    [0x74, 0x2D, 0x74, 0x65, 0x73, 0x74, 0x73, 0x21],
);

impl PstBuilder {
    /// A store named `display_name` with its root folder, top of the
    /// personal folders, search root and Deleted Items.
    pub fn new(display_name: &str) -> Self {
        let mut builder = PstBuilder {
            display_name: display_name.to_owned(),
            folders: Vec::new(),
            items: Vec::new(),
            names: NameMap::default(),
        };
        let folder = |nid, parent: usize, name: &str| Folder {
            nid,
            parent,
            name: name.to_owned(),
            class: None,
            hidden: false,
        };
        // The root folder is its own parent, as in Outlook's files.
        builder.folders.push(folder(NID_ROOT_FOLDER, 0, ""));
        builder
            .folders
            .push(folder(NID_IPM_SUBTREE, 0, "Top of Personal Folders"));
        builder
            .folders
            .push(folder(NID_SEARCH_ROOT, 0, "Search Root"));
        builder.folder(None, "Deleted Items", "IPF.Note");
        builder
    }

    /// Adds a folder under `parent` (the top of the personal folders when
    /// `None`) with its container class (`IPF.Contact`...).
    pub fn folder(
        &mut self,
        parent: Option<FolderId>,
        name: &str,
        container_class: &str,
    ) -> FolderId {
        let index = self.folders.len() as u32;
        // Folder NIDs count from index 0x400: the top of the personal
        // folders (the second folder) is 0x8022, as in Outlook's files.
        let nid = ((0x400 + index) << 5) | NID_TYPE_NORMAL_FOLDER;
        self.folders.push(Folder {
            nid,
            parent: parent.map_or(TOP_FOLDER, |p| p.0),
            name: name.to_owned(),
            class: Some(container_class.to_owned()),
            hidden: false,
        });
        FolderId(self.folders.len() - 1)
    }

    /// Adds `item` to `folder` and returns its node ID.
    pub fn item(&mut self, folder: FolderId, item: Item) -> u32 {
        let nid = ((FIRST_MESSAGE_INDEX + self.items.len() as u32) << 5) | NID_TYPE_NORMAL_MESSAGE;
        let mut props = vec![(0x001A, Value::Text(item.class))];
        for (key, value) in item.props {
            let id = match key {
                Key::Tag(id) => {
                    assert!(
                        id < 0x8000,
                        "pst_writer: tag {id:#06x} is a named property's ID"
                    );
                    id
                }
                Key::Lid(guid, lid) => self.names.id(guid, Name::Lid(lid)),
                Key::Name(guid, name) => self.names.id(guid, Name::String(name)),
            };
            props.retain(|(i, _)| *i != id);
            props.push((id, value));
        }
        // What [MS-PST] 2.4.5.1.1 requires of every message, unless given.
        let when = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let flags = if item.attachments.is_empty() {
            MSGFLAG_READ
        } else {
            MSGFLAG_READ | MSGFLAG_HASATTACH
        };
        let attachments: Vec<Vec<(u16, Value)>> =
            item.attachments.into_iter().map(attachment).collect();
        let defaults = [
            (0x0E07, Value::I32(flags)), // PidTagMessageFlags
            (0x0E17, Value::I32(0)),     // PidTagMessageStatus
            (0x3007, Value::Time(when)),
            (0x3008, Value::Time(when)),
            (0x300B, Value::Binary(nid.to_le_bytes().repeat(4))),
        ];
        for (id, value) in defaults {
            if !props.iter().any(|(i, _)| *i == id) {
                props.push((id, value));
            }
        }
        if !props.iter().any(|(i, _)| *i == 0x0E08) {
            let size: usize = props
                .iter()
                .chain(attachments.iter().flatten())
                .map(|(_, v)| approximate_size(v))
                .sum();
            props.push((0x0E08, Value::I32(size as i32)));
        }
        self.items.push(Stored {
            nid,
            folder: folder.0,
            props,
            recipients: item.recipients,
            attachments,
        });
        nid
    }

    /// Writes the store to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut ndb = Ndb::new();
        ndb.node(NID_MESSAGE_STORE, 0, &self.store());
        ndb.node(NID_NAME_TO_ID_MAP, 0, &pc_content(&self.names.properties()));
        for (nid, columns) in TEMPLATES {
            ndb.node(nid, 0, &table_context(columns, &[]));
        }
        for (index, folder) in self.folders.iter().enumerate() {
            self.write_folder(&mut ndb, index, folder);
        }
        for item in &self.items {
            let mut content = Content::default();
            content.blocks = property_context(&item.props, &mut content.subnodes);
            content
                .subnodes
                .push((NID_RECIPIENT_TABLE, recipient_table(&item.recipients)));
            if !item.attachments.is_empty() {
                attachment_nodes(&item.attachments, &mut content.subnodes);
            }
            ndb.node(item.nid, self.folders[item.folder].nid, &content);
        }
        let mut next = [0u32; 32];
        next[NID_TYPE_NORMAL_FOLDER as usize] = 0x400 + self.folders.len() as u32;
        next[NID_TYPE_NORMAL_MESSAGE as usize] = FIRST_MESSAGE_INDEX + self.items.len() as u32;
        for table in [
            NID_TYPE_HIERARCHY_TABLE,
            NID_TYPE_CONTENTS_TABLE,
            NID_TYPE_ASSOC_CONTENTS_TABLE,
        ] {
            next[table as usize] = next[NID_TYPE_NORMAL_FOLDER as usize];
        }
        ndb.write(path, &next)
    }

    /// The entry ID of a node of this store ([MS-PST] 2.4.3.2: flags,
    /// the store's record key, the node ID), as other items point to it.
    pub fn entry_id(nid: u32) -> Vec<u8> {
        let mut id = vec![0u8; 4];
        id.extend_from_slice(&RECORD_KEY);
        id.extend_from_slice(&nid.to_le_bytes());
        id
    }

    /// The message store's properties ([MS-PST] 2.4.3.1).
    fn store(&self) -> Content {
        let entry_id = |nid: u32| Value::Binary(Self::entry_id(nid));
        let deleted = self.folders[DELETED_ITEMS].nid;
        pc_content(&[
            (0x0FF9, Value::Binary(RECORD_KEY.to_vec())),
            (0x3001, Value::Text(self.display_name.clone())),
            (0x35DF, Value::I32(0x89)), // PidTagValidFolderMask
            (0x35E0, entry_id(NID_IPM_SUBTREE)),
            (0x35E3, entry_id(deleted)),
            (0x35E7, entry_id(NID_SEARCH_ROOT)),
            (0x67FF, Value::I32(0)), // PidTagPstPassword: none
        ])
    }

    /// A folder's properties, also its row in its parent's hierarchy
    /// table ([MS-PST] 2.4.4.1.1).
    fn folder_row(&self, index: usize) -> Vec<(u16, Value)> {
        let folder = &self.folders[index];
        let count = self.items.iter().filter(|i| i.folder == index).count();
        let subfolders =
            (0..self.folders.len()).any(|i| self.folders[i].parent == index && i != index);
        let mut props = vec![
            (0x3001, Value::Text(folder.name.clone())),
            (0x3602, Value::I32(count as i32)),
            (0x3603, Value::I32(0)),
            (0x360A, Value::Bool(subfolders)),
        ];
        if let Some(class) = &folder.class {
            props.push((0x3613, Value::Text(class.clone())));
        }
        if folder.hidden {
            props.push((0x10F4, Value::Bool(true)));
        }
        props
    }

    /// Marks a folder hidden, as Outlook marks the folders it keeps for
    /// itself (Recipient Cache, Quick Contacts).
    pub fn hide(&mut self, folder: FolderId) {
        self.folders[folder.0].hidden = true;
    }

    /// A folder's property context and its three tables.
    fn write_folder(&self, ndb: &mut Ndb, index: usize, folder: &Folder) {
        let children: Vec<usize> = (0..self.folders.len())
            .filter(|&i| self.folders[i].parent == index && i != index)
            .collect();
        let items: Vec<&Stored> = self.items.iter().filter(|i| i.folder == index).collect();
        let parent = self.folders[folder.parent].nid;
        ndb.node(folder.nid, parent, &pc_content(&self.folder_row(index)));

        let hierarchy: Vec<(u32, Vec<(u16, Value)>)> = children
            .iter()
            .map(|&child| (self.folders[child].nid, self.folder_row(child)))
            .collect();
        let contents: Vec<(u32, Vec<(u16, Value)>)> = items
            .iter()
            .map(|item| (item.nid, row(&item.props, &CONTENTS_COLUMNS)))
            .collect();
        let index = folder.nid >> 5;
        // Tables are not children in the folder tree: no parent.
        for (kind, content) in [
            (
                NID_TYPE_HIERARCHY_TABLE,
                table_context(&HIERARCHY_COLUMNS, &hierarchy),
            ),
            (
                NID_TYPE_CONTENTS_TABLE,
                table_context(&CONTENTS_COLUMNS, &contents),
            ),
            (
                NID_TYPE_ASSOC_CONTENTS_TABLE,
                table_context(&CONTENTS_COLUMNS, &[]),
            ),
        ] {
            ndb.node((index << 5) | kind, 0, &content);
        }
    }
}

/// An attachment's properties with what readers need of every one, unless
/// given: PidTagAttachMethod (1, by value: the bytes are in
/// PidTagAttachDataBinary), PidTagAttachSize and PidTagRenderingPosition
/// (-1: not rendered at a place in an RTF body).
fn attachment(mut props: Vec<(u16, Value)>) -> Vec<(u16, Value)> {
    for (id, value) in [(0x3705, Value::I32(1)), (0x370B, Value::I32(-1))] {
        if !props.iter().any(|(i, _)| *i == id) {
            props.push((id, value));
        }
    }
    if !props.iter().any(|(i, _)| *i == 0x0E20) {
        let size: usize = props.iter().map(|(_, v)| approximate_size(v)).sum();
        props.push((0x0E20, Value::I32(size as i32)));
    }
    props
}

/// A message's attachments ([MS-PST] 2.4.6): one sub-node per attachment
/// object (NID type ATTACHMENT) holding its property context, whose long
/// values go to that sub-node's own sub-nodes, and the attachment table
/// whose rows are named by those sub-nodes' NIDs.
fn attachment_nodes(attachments: &[Vec<(u16, Value)>], subnodes: &mut Vec<(u32, Content)>) {
    let mut rows = Vec::with_capacity(attachments.len());
    for (n, props) in attachments.iter().enumerate() {
        // Sub-node NIDs are local to their message: any unique index
        // will do.
        let nid = ((0x400 + n as u32) << 5) | NID_TYPE_ATTACHMENT;
        subnodes.push((nid, pc_content(props)));
        rows.push((nid, row(props, &ATTACHMENT_COLUMNS)));
    }
    subnodes.push((
        NID_ATTACHMENT_TABLE,
        table_context(&ATTACHMENT_COLUMNS, &rows),
    ));
}

/// An object's row in a table of `columns`: the properties it has of them.
fn row(props: &[(u16, Value)], columns: &[Column]) -> Vec<(u16, Value)> {
    props
        .iter()
        .filter(|(id, _)| columns.iter().any(|c| c.0 == *id))
        .cloned()
        .collect()
}

/// A node holding only a property context.
fn pc_content(props: &[(u16, Value)]) -> Content {
    let mut content = Content::default();
    content.blocks = property_context(props, &mut content.subnodes);
    content
}

/// Columns of the tables, after the templates of [MS-PST] 2.4.4.4.1,
/// 2.4.4.5.1 (in part), 2.4.5.3.1 and 2.4.6.1.1; the row ID and version
/// are added by [`table_context`].
const HIERARCHY_COLUMNS: [Column; 5] = [
    (0x3001, 0x001F), // PidTagDisplayName
    (0x3602, 0x0003), // PidTagContentCount
    (0x3603, 0x0003), // PidTagContentUnreadCount
    (0x360A, 0x000B), // PidTagSubfolders
    (0x3613, 0x001F), // PidTagContainerClass
];
const CONTENTS_COLUMNS: [Column; 6] = [
    (0x001A, 0x001F), // PidTagMessageClass
    (0x0037, 0x001F), // PidTagSubject
    (0x0E07, 0x0003), // PidTagMessageFlags
    (0x0E08, 0x0003), // PidTagMessageSize
    (0x0E17, 0x0003), // PidTagMessageStatus
    (0x3008, 0x0040), // PidTagLastModificationTime
];
const RECIPIENT_COLUMNS: [Column; 12] = [
    (0x0C15, 0x0003), // PidTagRecipientType
    (0x0E0F, 0x000B), // PidTagResponsibility
    (0x0FF9, 0x0102), // PidTagRecordKey
    (0x0FFE, 0x0003), // PidTagObjectType
    (0x0FFF, 0x0102), // PidTagEntryId
    (0x3001, 0x001F), // PidTagDisplayName
    (0x3002, 0x001F), // PidTagAddressType
    (0x3003, 0x001F), // PidTagEmailAddress
    (0x300B, 0x0102), // PidTagSearchKey
    (0x3900, 0x0003), // PidTagDisplayType
    (0x39FF, 0x001F), // PidTag7BitDisplayName
    (0x3A40, 0x000B), // PidTagSendRichInfo
];
const ATTACHMENT_COLUMNS: [Column; 4] = [
    (0x0E20, 0x0003), // PidTagAttachSize
    (0x3704, 0x001F), // PidTagAttachFilenameW
    (0x3705, 0x0003), // PidTagAttachMethod
    (0x370B, 0x0003), // PidTagRenderingPosition
];

/// The table templates Outlook copies for new folders and messages
/// ([MS-PST] 2.7.1): hierarchy, contents, associated contents,
/// attachments, recipients.
const TEMPLATES: [(u32, &[Column]); 5] = [
    (0x60D, &HIERARCHY_COLUMNS),
    (0x60E, &CONTENTS_COLUMNS),
    (0x60F, &CONTENTS_COLUMNS),
    (NID_ATTACHMENT_TABLE, &ATTACHMENT_COLUMNS),
    (NID_RECIPIENT_TABLE, &RECIPIENT_COLUMNS),
];

/// The recipient table: one column per property the rows use, row IDs
/// counted from 0.
fn recipient_table(rows: &[Vec<(u16, Value)>]) -> Content {
    let mut columns: Vec<Column> = Vec::new();
    for (id, value) in rows.iter().flatten() {
        let column = (*id, prop_type(value));
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    // The template's columns, unless the rows give one another type.
    for column in RECIPIENT_COLUMNS {
        if !columns.iter().any(|c| c.0 == column.0) {
            columns.push(column);
        }
    }
    let rows: Vec<(u32, Vec<(u16, Value)>)> = rows
        .iter()
        .enumerate()
        .map(|(n, row)| (n as u32, row.clone()))
        .collect();
    table_context(&columns, &rows)
}

/// Roughly how many bytes a value takes, for PidTagMessageSize.
fn approximate_size(value: &Value) -> usize {
    match value {
        Value::Text(s) => s.len() * 2,
        Value::Binary(b) => b.len(),
        Value::Texts(v) => v.iter().map(|s| s.len() * 2 + 4).sum(),
        Value::Binaries(v) => v.iter().map(|b| b.len() + 4).sum(),
        _ => 8,
    }
}
