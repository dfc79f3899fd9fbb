//! Reading a PST file: the store, the folder tree under the top of the
//! personal folders, and messages by node ID.
//!
//! The `outlook-pst` crate opens the file and reads its nodes and data
//! blocks; the rest ([`ndb`](super::ndb), [`ltp`](super::ltp),
//! [`object`](super::object)) is read here, because the crate's message
//! path refuses items Outlook does write (see docs/pst.md). Special
//! folders are found from the store's entry IDs (Sent Items, Deleted
//! Items), the Inbox's own (Drafts, Junk E-mail), and Outlook's default
//! names in a few languages where the PST does not say. The same walk
//! finds the contact, calendar and task folders; their items are read by
//! [`groupware`](super::groupware).

use std::cell::OnceCell;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::Path;

use encoding_rs::WINDOWS_1252;
use outlook_pst::ndb::block_id::{AnsiBlockId, UnicodeBlockId};
use outlook_pst::ndb::node_id::NodeId;
use outlook_pst::ndb::page::NodeBTreeEntry as _;
use outlook_pst::{AnsiPstFile, PstFile as _, UnicodePstFile};

use super::convert::convert;
use super::folder_names::is_named;
use super::header::{self, Format};
use super::ltp::{self, PropMap};
use super::names::NameMap;
use super::ndb::{Blocks, Ndb, Node};
use super::object::{self, Depth, RawMessage};
use super::props::*;
use super::{
    GroupwareFolder, GroupwareKind, MapiMessage, PstError, PstFolder, Role, SkippedFolder,
};

/// Folders deeper than this are not followed (a damaged hierarchy may
/// loop).
const MAX_DEPTH: usize = 64;
/// The message store's node.
const NID_MESSAGE_STORE: u32 = 0x21;
/// The name-to-ID map's node.
const NID_NAME_TO_ID_MAP: u32 = 0x61;
/// `NID_TYPE_HIERARCHY_TABLE` and `NID_TYPE_CONTENTS_TABLE`: a folder's
/// tables share its node index.
const HIERARCHY_TABLE: u32 = 0x0D;
const CONTENTS_TABLE: u32 = 0x0E;
/// `PidTagLtpRowId`: the node ID a table row stands for.
const ROW_ID: u16 = 0x67F2;
/// `PidTagIpmSubTreeEntryId`: the top of the personal folders.
const IPM_SUBTREE: u16 = 0x35E0;

/// An open PST file. Not `Send`: use it on one (blocking) thread.
pub struct PstReader {
    pub(super) walker: Walker,
}

/// What [`PstReader::folders`] found.
#[derive(Debug, Default)]
pub struct Tree {
    /// Mail folders, parents before children. The top of the personal
    /// folders comes first, with an empty path, when it holds messages
    /// itself.
    pub folders: Vec<PstFolder>,
    /// Folders that could not be read.
    pub damaged: Vec<SkippedFolder>,
    /// Folders of other kinds (calendars, contacts, tasks...), with their
    /// class, left to other options.
    pub other: Vec<String>,
    /// The contact, calendar and task folders among them, parents before
    /// children.
    pub groupware: Vec<GroupwareFolder>,
}

impl PstReader {
    /// Opens `path` read-only and checks that it is a PST the reader can
    /// use: not an OST, not truncated, not protected by a password.
    pub fn open(path: &Path) -> Result<PstReader, PstError> {
        let name = path.display().to_string();
        let unreadable = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => PstError::NotFound { path: name.clone() },
            _ => PstError::Unreadable {
                path: name.clone(),
                reason: e.to_string(),
            },
        };
        let mut file = File::open(path).map_err(unreadable)?;
        let meta = file.metadata().map_err(unreadable)?;
        if meta.is_dir() {
            return Err(PstError::Unreadable {
                path: name,
                reason: "it is a folder".into(),
            });
        }
        if meta.len() == 0 {
            return Err(PstError::Empty { path: name });
        }
        let format = header::check(&name, &mut file, meta.len())?;
        file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
        let own = File::open(path).map_err(unreadable)?;
        let corrupt = |e: io::Error| PstError::Corrupt {
            path: name.clone(),
            reason: format!("the message store cannot be read ({e})"),
        };
        let file = Box::new(BufReader::new(file));
        let blocks: Box<dyn Blocks> = match format {
            Format::Unicode => Box::new(UnicodePstFile::read_from(file).map_err(corrupt)?),
            Format::Ansi => Box::new(AnsiPstFile::read_from(file).map_err(corrupt)?),
        };
        let ndb = Ndb::new(blocks, own, format).map_err(corrupt)?;
        let walker = Walker::open(name.clone(), ndb)?;
        Ok(PstReader { walker })
    }

    /// The mail folders under the top of the personal folders.
    pub fn folders(&self) -> Result<Tree, PstError> {
        self.walker.folders()
    }

    /// Reads one message by node ID, with its attachments and attached
    /// messages.
    pub fn message(&self, node: u32) -> Result<MapiMessage, PstError> {
        let what = format!("message {node:#x}");
        let raw = self.walker.read(node, Depth::Whole, &what)?;
        Ok(convert(&raw))
    }

    /// The contact, calendar and task folders under the top of the
    /// personal folders, with their items' node IDs.
    pub fn groupware(&self) -> Result<Vec<GroupwareFolder>, PstError> {
        Ok(self.folders()?.groupware)
    }

    /// Reads one contact, distribution list, appointment or task by node
    /// ID, with all its properties.
    pub fn item(&self, node: u32) -> Result<super::item::MapiItem, PstError> {
        self.walker.item(node)
    }

    /// The store's `PidTagRecordKey`: what [`derived_uid`] tells files
    /// apart by (empty when the store has none).
    ///
    /// [`derived_uid`]: super::item::derived_uid
    pub fn record_key(&self) -> Vec<u8> {
        binary(self.walker.store.get(&RECORD_KEY))
            .unwrap_or_default()
            .to_vec()
    }
}

impl Blocks for UnicodePstFile {
    fn node(&self, nid: u32) -> io::Result<Node> {
        let node = self.read_node(NodeId::from(nid))?;
        Ok(Node {
            data: u64::from(node.data()),
            sub: node.sub_node().map_or(0, u64::from),
        })
    }

    fn decoded(&self, bid: u64) -> io::Result<Vec<u8>> {
        self.read_block(UnicodeBlockId::from(bid))
    }
}

impl Blocks for AnsiPstFile {
    fn node(&self, nid: u32) -> io::Result<Node> {
        let node = self.read_node(NodeId::from(nid))?;
        Ok(Node {
            data: u64::from(u32::from(node.data())),
            sub: node.sub_node().map_or(0, |b| u64::from(u32::from(b))),
        })
    }

    fn decoded(&self, bid: u64) -> io::Result<Vec<u8>> {
        let bid = u32::try_from(bid).map_err(|_| io::Error::other("a block ID out of range"))?;
        self.read_block(AnsiBlockId::from(bid))
    }
}

/// The store, its node database and the file's name for errors.
pub(super) struct Walker {
    path: String,
    ndb: Ndb<Box<dyn Blocks>>,
    /// The message store's properties.
    store: PropMap,
    /// The name-to-ID map, read on first use: mail does not need it.
    names: OnceCell<Result<NameMap, String>>,
}

impl Blocks for Box<dyn Blocks> {
    fn node(&self, nid: u32) -> io::Result<Node> {
        (**self).node(nid)
    }

    fn decoded(&self, bid: u64) -> io::Result<Vec<u8>> {
        (**self).decoded(bid)
    }
}

/// A folder as the walk first sees it, before roles are given.
struct Found {
    folder: PstFolder,
    /// Outlook's Inbox carries the Drafts and Junk E-mail entry IDs.
    special: Vec<(Role, u32)>,
    /// It carries the properties Outlook writes on the Inbox.
    inbox_like: bool,
}

impl Walker {
    fn open(path: String, ndb: Ndb<Box<dyn Blocks>>) -> Result<Walker, PstError> {
        let store = ndb
            .node(NID_MESSAGE_STORE)
            .and_then(|node| ltp::properties(&ndb, node.data, &ndb.sub_nodes(node.sub)?))
            .map_err(|e| PstError::Corrupt {
                path: path.clone(),
                reason: format!("the message store cannot be read ({e})"),
            })?;
        if integer(store.get(&PST_PASSWORD)).is_some_and(|crc| crc != 0) {
            return Err(PstError::Password { path });
        }
        Ok(Walker {
            path,
            ndb,
            store,
            names: OnceCell::new(),
        })
    }

    fn corrupt(&self, what: &str, error: impl std::fmt::Display) -> PstError {
        PstError::Corrupt {
            path: self.path.clone(),
            reason: format!("{what} cannot be read ({error})"),
        }
    }

    /// The store's name-to-ID map, read once.
    pub(super) fn names(&self) -> Result<&NameMap, String> {
        self.names
            .get_or_init(|| {
                self.properties(NID_NAME_TO_ID_MAP)
                    .map(|map| NameMap::from_properties(&map))
                    .map_err(|e| format!("the name-to-ID map cannot be read ({e})"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The properties of a node (the store, a folder, the name map).
    fn properties(&self, nid: u32) -> io::Result<PropMap> {
        let node = self.ndb.node(nid)?;
        ltp::properties(&self.ndb, node.data, &self.ndb.sub_nodes(node.sub)?)
    }

    /// The rows of a top-level table node.
    fn table(&self, nid: u32) -> io::Result<Vec<PropMap>> {
        let node = self.ndb.node(nid)?;
        ltp::table(&self.ndb, node.data, &self.ndb.sub_nodes(node.sub)?)
    }

    /// The node ID of an entry ID that points into this store.
    fn node_of(&self, entry_id: Option<&[u8]>) -> Option<u32> {
        let entry_id = entry_id?;
        let record_key = binary(self.store.get(&RECORD_KEY))?;
        (entry_id.len() == 24 && entry_id[4..20] == *record_key)
            .then(|| u32::from_le_bytes([entry_id[20], entry_id[21], entry_id[22], entry_id[23]]))
    }

    /// The items of a folder: node IDs and message classes, in the order
    /// of its contents table.
    fn contents(&self, folder: u32) -> io::Result<Vec<(u32, String)>> {
        Ok(self
            .table((folder & !0x1F) | CONTENTS_TABLE)?
            .iter()
            .filter_map(|row| {
                let Some(Prop::Int32(nid)) = row.get(&ROW_ID) else {
                    return None;
                };
                let class = string(row.get(&MESSAGE_CLASS), WINDOWS_1252).unwrap_or_default();
                Some((*nid as u32, class))
            })
            .collect())
    }

    fn folders(&self) -> Result<Tree, PstError> {
        let top = self
            .node_of(binary(self.store.get(&IPM_SUBTREE)))
            .ok_or_else(|| self.corrupt("the top of the personal folders", "no entry ID"))?;
        let mut found = Vec::new();
        let mut tree = Tree::default();
        // Messages kept at the top itself (some programs write them
        // there): a folder with an empty path.
        let items = self
            .contents(top)
            .map_err(|e| self.corrupt("the top of the personal folders", e))?;
        if !items.is_empty() {
            found.push(Found {
                folder: folder(top, Vec::new(), items),
                special: Vec::new(),
                inbox_like: false,
            });
        }
        let mut seen = HashSet::from([top]);
        self.walk(top, &[], &mut seen, &mut found, &mut tree);

        let mut special = vec![
            (
                Role::Sent,
                self.node_of(binary(self.store.get(&IPM_SENT_MAIL))),
            ),
            (
                Role::Deleted,
                self.node_of(binary(self.store.get(&IPM_WASTEBASKET))),
            ),
        ];
        // The Inbox: a top-level folder carrying the Inbox's entry IDs.
        let inbox = found
            .iter()
            .filter(|f| f.folder.path.len() == 1 && f.inbox_like)
            .min_by_key(|f| !is_named(Role::Inbox, &f.folder.path[0]))
            .map(|f| (f.folder.node, f.special.clone()));
        if let Some((node, inbox_special)) = inbox {
            special.push((Role::Inbox, Some(node)));
            special.extend(inbox_special.into_iter().map(|(r, n)| (r, Some(n))));
        }
        let mut given = HashSet::new();
        for (role, node) in special {
            let Some(node) = node else { continue };
            if let Some(f) = found.iter_mut().find(|f| f.folder.node == node)
                && f.folder.role.is_none()
                && given.insert(role)
            {
                f.folder.role = Some(role);
            }
        }
        // Where the PST does not say, Outlook's default names.
        for role in [
            Role::Inbox,
            Role::Sent,
            Role::Deleted,
            Role::Drafts,
            Role::Junk,
        ] {
            if given.contains(&role) {
                continue;
            }
            if let Some(f) = found.iter_mut().find(|f| {
                f.folder.path.len() == 1
                    && f.folder.role.is_none()
                    && is_named(role, &f.folder.path[0])
            }) {
                f.folder.role = Some(role);
            }
        }
        tree.folders = found.into_iter().map(|f| f.folder).collect();
        Ok(tree)
    }

    /// Adds the subfolders of the folder `parent_node` (and theirs) to
    /// `found`.
    fn walk(
        &self,
        parent_node: u32,
        parent: &[String],
        seen: &mut HashSet<u32>,
        found: &mut Vec<Found>,
        tree: &mut Tree,
    ) {
        let name_of = |node: u32| {
            let mut name = parent.join("/");
            name.push_str(&format!("/folder {node:#x}"));
            name
        };
        let rows = match self.table((parent_node & !0x1F) | HIERARCHY_TABLE) {
            Ok(rows) => rows,
            Err(e) => {
                tree.damaged.push(SkippedFolder {
                    name: name_of(parent_node),
                    reason: format!("its subfolders cannot be read ({e})"),
                });
                return;
            }
        };
        for row in rows {
            let Some(Prop::Int32(node)) = row.get(&ROW_ID) else {
                continue;
            };
            let node = *node as u32;
            if !seen.insert(node) || parent.len() >= MAX_DEPTH {
                continue;
            }
            let read = self
                .properties(node)
                .and_then(|p| self.contents(node).map(|items| (p, items)));
            let (properties, items) = match read {
                Ok(read) => read,
                Err(e) => {
                    tree.damaged.push(SkippedFolder {
                        name: name_of(node),
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let display = string(properties.get(&DISPLAY_NAME), WINDOWS_1252)
                .unwrap_or_else(|| format!("Folder {node:#x}"));
            let mut path = parent.to_vec();
            path.push(display);
            let class = string(properties.get(&CONTAINER_CLASS), WINDOWS_1252);
            if let Some(class) = class.filter(|c| !is_mail_class(c)) {
                tree.other.push(format!("{} ({class})", path.join("/")));
                if let Some(kind) = GroupwareKind::of_class(&class) {
                    tree.groupware.push(GroupwareFolder {
                        node,
                        path: path.clone(),
                        class,
                        kind,
                        hidden: boolean(properties.get(&ATTRIBUTE_HIDDEN)),
                        items: items.into_iter().map(|(n, _)| n).collect(),
                    });
                }
                // Sub-calendars and sub-address books.
                self.walk(node, &path, seen, found, tree);
                continue;
            }
            let mut special = Vec::new();
            if let Some(drafts) = self.node_of(binary(properties.get(&IPM_DRAFTS))) {
                special.push((Role::Drafts, drafts));
            }
            if let Some(Prop::Binaries(ids)) = properties.get(&ADDITIONAL_REN_ENTRY_IDS) {
                // The fifth entry is Junk E-mail ([MS-OXOSFLD] 2.2.4).
                if let Some(junk) = ids.get(4).and_then(|id| self.node_of(Some(id))) {
                    special.push((Role::Junk, junk));
                }
            }
            // Marks the Inbox even when the IDs point into another store.
            let inbox_like = properties.contains_key(&IPM_DRAFTS)
                || properties.contains_key(&ADDITIONAL_REN_ENTRY_IDS);
            found.push(Found {
                folder: folder(node, path.clone(), items),
                special,
                inbox_like,
            });
            self.walk(node, &path, seen, found, tree);
        }
    }

    /// The error of one item that cannot be read.
    pub(super) fn item_error(&self, what: &str, error: &dyn std::fmt::Display) -> PstError {
        PstError::Item {
            path: self.path.clone(),
            item: what.to_owned(),
            reason: error.to_string(),
        }
    }

    /// Reads a message (or other item) by node ID; `what` names it in the
    /// error.
    pub(super) fn read(&self, node: u32, depth: Depth, what: &str) -> Result<RawMessage, PstError> {
        self.ndb
            .node(node)
            .and_then(|n| object::read(&self.ndb, n, depth))
            .map_err(|e| self.item_error(what, &e))
    }
}

/// A mail folder from its items: mail, and the items of other kinds
/// (appointments in Deleted Items...) that the mail stage reports.
fn folder(node: u32, path: Vec<String>, items: Vec<(u32, String)>) -> PstFolder {
    let (mail, other): (Vec<_>, Vec<_>) = items.into_iter().partition(|(_, c)| is_mail(c));
    PstFolder {
        node,
        path,
        role: None,
        messages: mail.into_iter().map(|(n, _)| n).collect(),
        other,
    }
}

/// Whether a message class is mail: contacts, appointments, tasks,
/// notes and journal entries are left to other options.
pub fn is_mail(class: &str) -> bool {
    let other = [
        "IPM.Contact",
        "IPM.DistList",
        "IPM.Appointment",
        "IPM.Task",
        "IPM.StickyNote",
        "IPM.Activity",
    ];
    !other.iter().any(|o| {
        class
            .get(..o.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(o))
    })
}

/// Whether a folder class holds mail (`IPF.Note`, `IPF.Note.*`, `IPF.Imap`).
fn is_mail_class(class: &str) -> bool {
    class == "IPF" || class.starts_with("IPF.Note") || class.starts_with("IPF.Imap")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared test file; its absence fails the test loudly.
    fn libyal() -> std::path::PathBuf {
        super::super::testdata("pst/libyal-outlook.pst")
    }

    #[test]
    fn the_libyal_file_reads_with_its_folders_and_attachments() {
        let reader = PstReader::open(&libyal()).unwrap();
        let tree = reader.folders().unwrap();
        let folders: Vec<(String, Option<Role>, usize)> = tree
            .folders
            .iter()
            .map(|f| (f.path.join("/"), f.role, f.messages.len()))
            .collect();
        let expected = [
            ("Deleted Items", Some(Role::Deleted), 0),
            ("收件箱", None, 0),
            ("Outbox", None, 0),
            ("Sent Items", Some(Role::Sent), 0),
            ("Content.Filter", None, 0),
            ("Inbox", Some(Role::Inbox), 1),
            ("Drafts", Some(Role::Drafts), 0),
            ("Junk E-mail", Some(Role::Junk), 0),
            ("Recovered_Group2", None, 1),
            ("Recovered_Group2/Inbox", None, 0),
        ];
        let expected: Vec<(String, Option<Role>, usize)> = expected
            .iter()
            .map(|(p, r, n)| (p.to_string(), *r, *n))
            .collect();
        assert_eq!(folders, expected);
        assert!(tree.damaged.is_empty());
        assert_eq!(tree.other.len(), 6, "{:?}", tree.other);
        assert!(
            tree.other
                .contains(&"Calendar (IPF.Appointment)".to_owned())
        );

        let message = reader.message(tree.folders[5].messages[0]).unwrap();
        assert_eq!(message.class, "IPM.Note");
        assert_eq!(
            message.subject.as_deref(),
            Some("Welcome to Microsoft Office Outlook 2003")
        );
        let from = message.from.clone().unwrap();
        assert_eq!(from.email.as_deref(), Some("olteam@microsoft.com"));
        assert_eq!(message.recipients.len(), 1);
        assert!(message.flags.read && !message.flags.flagged);
        let names: Vec<&str> = message
            .attachments
            .iter()
            .filter_map(|a| a.name.as_deref())
            .collect();
        assert_eq!(
            names,
            [
                "1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg", "6.jpg", "7.jpg", "8.jpg", "9.jpg",
                "10.jpg", "12.jpg"
            ]
        );
        assert!(message.body_html.is_some() && message.body_text.is_some());
        assert!(message.warnings.is_empty(), "{:?}", message.warnings);
    }

    #[test]
    fn a_message_node_that_is_not_there_is_an_item_error() {
        let reader = PstReader::open(&libyal()).unwrap();
        let error = reader.message(0x7FFF_FFE4).unwrap_err();
        assert!(matches!(error, PstError::Item { .. }), "{error}");
        assert!(error.to_string().contains("libyal-outlook.pst"), "{error}");
    }

    /// Every message of every folder, or the error that stopped the read;
    /// each is read as an item too.
    fn read_all(path: &Path) -> Result<usize, PstError> {
        let reader = PstReader::open(path)?;
        let mut read = 0;
        for folder in reader.folders()?.folders {
            for node in folder.messages {
                if let Ok(message) = reader.message(node) {
                    super::super::mime::build(&message);
                    read += 1;
                }
                reader.item(node).ok();
            }
        }
        reader.groupware()?;
        Ok(read)
    }

    #[test]
    fn damaged_copies_give_errors_naming_the_file_never_a_panic() {
        let original = std::fs::read(libyal()).unwrap();
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("damaged.pst");
        let named = path.display().to_string();
        let mut outcomes = [0usize; 3];
        // 64 bytes turned over every 2039 bytes, across the whole file.
        for at in (0..original.len() - 64).step_by(2039) {
            let mut copy = original.clone();
            for b in &mut copy[at..at + 64] {
                *b = b.wrapping_mul(31).wrapping_add(7);
            }
            std::fs::write(&path, &copy).unwrap();
            match read_all(&path) {
                Ok(2) => outcomes[0] += 1,
                Ok(_) => outcomes[1] += 1,
                Err(error) => {
                    assert!(error.to_string().starts_with(&named), "{error}");
                    outcomes[2] += 1;
                }
            }
        }
        // Some damage is harmless, some costs a message, some the file.
        assert!(outcomes.iter().all(|n| *n > 0), "{outcomes:?}");
    }
}
