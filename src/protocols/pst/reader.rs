//! Reading a PST file with the `outlook-pst` crate: the store, the folder
//! tree under the top of the personal folders, and messages by node ID.
//!
//! The crate has one set of types per format (ANSI, Unicode); [`Flavour`]
//! names the three calls that differ so that the rest is written once.
//! Special folders are found from the store's entry IDs (Sent Items,
//! Deleted Items), the Inbox's own (Drafts, Junk E-mail), and Outlook's
//! default names in a few languages where the PST does not say. The same
//! walk finds the contact, calendar and task folders; their items are read
//! by [`groupware`](super::groupware).

use std::cell::OnceCell;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

use encoding_rs::WINDOWS_1252;
use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::messaging::attachment::{
    AnsiAttachment, Attachment as PstAttachment, UnicodeAttachment,
};
use outlook_pst::messaging::folder::Folder;
use outlook_pst::messaging::message::{AnsiMessage, Message, UnicodeMessage};
use outlook_pst::messaging::store::{AnsiStore, EntryId, Store, UnicodeStore};
use outlook_pst::ndb::node_id::NodeId;
use outlook_pst::{AnsiPstFile, UnicodePstFile};

use super::convert::{attach, convert};
use super::folder_names::is_named;
use super::header::{self, Format};
use super::item::MapiItem;
use super::names::NameMap;
use super::props::*;
use super::{
    GroupwareFolder, GroupwareKind, MapiMessage, PstError, PstFolder, Role, SkippedFolder,
};

/// Folders deeper than this are not followed (a damaged hierarchy may
/// loop).
const MAX_DEPTH: usize = 64;

/// An open PST file. Not `Send`: use it on one (blocking) thread.
pub struct PstReader {
    pub(super) inner: Inner,
}

pub(super) enum Inner {
    Unicode(Walker<Unicode>),
    Ansi(Walker<Ansi>),
}

/// What [`PstReader::folders`] found.
#[derive(Debug, Default)]
pub struct Tree {
    /// Mail folders, parents before children.
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
        let file = BufReader::new(file);
        let inner = match format {
            Format::Unicode => Inner::Unicode(Walker::open(name, file)?),
            Format::Ansi => Inner::Ansi(Walker::open(name, file)?),
        };
        Ok(PstReader { inner })
    }

    /// The mail folders under the top of the personal folders.
    pub fn folders(&self) -> Result<Tree, PstError> {
        match &self.inner {
            Inner::Unicode(w) => w.folders(),
            Inner::Ansi(w) => w.folders(),
        }
    }

    /// Reads one message by node ID.
    pub fn message(&self, node: u32) -> Result<MapiMessage, PstError> {
        match &self.inner {
            Inner::Unicode(w) => w.message(node),
            Inner::Ansi(w) => w.message(node),
        }
    }

    /// The contact, calendar and task folders under the top of the
    /// personal folders, with their items' node IDs.
    pub fn groupware(&self) -> Result<Vec<GroupwareFolder>, PstError> {
        Ok(self.folders()?.groupware)
    }

    /// Reads one contact, distribution list, appointment or task by node
    /// ID, with all its properties.
    pub fn item(&self, node: u32) -> Result<MapiItem, PstError> {
        match &self.inner {
            Inner::Unicode(w) => w.item(node),
            Inner::Ansi(w) => w.item(node),
        }
    }

    /// The store's `PidTagRecordKey`: what [`derived_uid`] tells files
    /// apart by (empty when the store has none).
    ///
    /// [`derived_uid`]: super::item::derived_uid
    pub fn record_key(&self) -> Vec<u8> {
        let properties = match &self.inner {
            Inner::Unicode(w) => w.store.properties(),
            Inner::Ansi(w) => w.store.properties(),
        };
        binary(properties.get(RECORD_KEY))
            .unwrap_or_default()
            .to_vec()
    }
}

/// The calls whose types differ between ANSI and Unicode files.
pub(super) trait Flavour {
    type Store: Store;
    type Message: Message;
    type Attachment: PstAttachment;
    fn store(file: BufReader<File>) -> std::io::Result<Rc<Self::Store>>;
    fn message(store: &Rc<Self::Store>, id: &EntryId) -> std::io::Result<Rc<Self::Message>>;
    fn attachment(
        message: &Rc<Self::Message>,
        node: NodeId,
    ) -> std::io::Result<Rc<Self::Attachment>>;
}

pub(super) struct Unicode;
pub(super) struct Ansi;

impl Flavour for Unicode {
    type Store = UnicodeStore;
    type Message = UnicodeMessage;
    type Attachment = UnicodeAttachment;
    fn store(file: BufReader<File>) -> std::io::Result<Rc<UnicodeStore>> {
        UnicodeStore::read(Rc::new(UnicodePstFile::read_from(Box::new(file))?))
    }
    fn message(store: &Rc<UnicodeStore>, id: &EntryId) -> std::io::Result<Rc<UnicodeMessage>> {
        UnicodeMessage::read(store.clone(), id, None)
    }
    fn attachment(
        message: &Rc<UnicodeMessage>,
        node: NodeId,
    ) -> std::io::Result<Rc<UnicodeAttachment>> {
        UnicodeAttachment::read(message.clone(), node, None)
    }
}

impl Flavour for Ansi {
    type Store = AnsiStore;
    type Message = AnsiMessage;
    type Attachment = AnsiAttachment;
    fn store(file: BufReader<File>) -> std::io::Result<Rc<AnsiStore>> {
        AnsiStore::read(Rc::new(AnsiPstFile::read_from(Box::new(file))?))
    }
    fn message(store: &Rc<AnsiStore>, id: &EntryId) -> std::io::Result<Rc<AnsiMessage>> {
        AnsiMessage::read(store.clone(), id, None)
    }
    fn attachment(message: &Rc<AnsiMessage>, node: NodeId) -> std::io::Result<Rc<AnsiAttachment>> {
        AnsiAttachment::read(message.clone(), node, None)
    }
}

/// One format's store and the file's name for errors.
pub(super) struct Walker<F: Flavour> {
    path: String,
    pub(super) store: Rc<F::Store>,
    /// The name-to-ID map, read on first use: mail does not need it.
    pub(super) names: OnceCell<Result<NameMap, String>>,
}

/// A folder as the walk first sees it, before roles are given.
struct Found {
    folder: PstFolder,
    /// Outlook's Inbox carries the Drafts and Junk E-mail entry IDs.
    special: Vec<(Role, u32)>,
    /// It carries the properties Outlook writes on the Inbox.
    inbox_like: bool,
}

impl<F: Flavour> Walker<F> {
    fn open(path: String, file: BufReader<File>) -> Result<Walker<F>, PstError> {
        let store = F::store(file).map_err(|e| PstError::Corrupt {
            path: path.clone(),
            reason: format!("the message store cannot be read ({e})"),
        })?;
        if integer(store.properties().get(PST_PASSWORD)).is_some_and(|crc| crc != 0) {
            return Err(PstError::Password { path });
        }
        Ok(Walker {
            path,
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

    /// The node ID of an entry ID that points into this store.
    fn node_of(&self, entry_id: Option<&[u8]>) -> Option<u32> {
        let entry_id = entry_id?;
        let record_key = binary(self.store.properties().get(RECORD_KEY))?;
        (entry_id.len() == 24 && entry_id[4..20] == *record_key)
            .then(|| u32::from_le_bytes([entry_id[20], entry_id[21], entry_id[22], entry_id[23]]))
    }

    fn folders(&self) -> Result<Tree, PstError> {
        let properties = self.store.properties();
        let top_id = properties
            .ipm_sub_tree_entry_id()
            .map_err(|e| self.corrupt("the top of the personal folders", e))?;
        let top = self
            .store
            .open_folder(&top_id)
            .map_err(|e| self.corrupt("the top of the personal folders", e))?;
        let mut found = Vec::new();
        let mut tree = Tree::default();
        let mut seen = HashSet::from([u32::from(top_id.node_id())]);
        self.walk(&*top, &[], &mut seen, &mut found, &mut tree);

        let mut special = vec![
            (
                Role::Sent,
                self.node_of(binary(properties.get(IPM_SENT_MAIL))),
            ),
            (
                Role::Deleted,
                self.node_of(binary(properties.get(IPM_WASTEBASKET))),
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

    /// Adds `folder`'s subfolders (and theirs) to `found`.
    fn walk(
        &self,
        folder: &dyn Folder,
        parent: &[String],
        seen: &mut HashSet<u32>,
        found: &mut Vec<Found>,
        tree: &mut Tree,
    ) {
        let Some(table) = folder.hierarchy_table() else {
            return;
        };
        for row in table.rows_matrix() {
            let node = u32::from(row.id());
            if !seen.insert(node) || parent.len() >= MAX_DEPTH {
                continue;
            }
            let opened = self
                .store
                .properties()
                .make_entry_id(NodeId::from(node))
                .and_then(|id| self.store.open_folder(&id));
            let child = match opened {
                Ok(child) => child,
                Err(e) => {
                    let mut name = parent.join("/");
                    name.push_str(&format!("/folder {node:#x}"));
                    tree.damaged.push(SkippedFolder {
                        name,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let properties = child.properties();
            let display = string(properties.get(DISPLAY_NAME), WINDOWS_1252)
                .unwrap_or_else(|| format!("Folder {node:#x}"));
            let mut path = parent.to_vec();
            path.push(display);
            let messages = child
                .contents_table()
                .map(|t| t.rows_matrix().map(|r| u32::from(r.id())).collect())
                .unwrap_or_default();
            let class = string(properties.get(CONTAINER_CLASS), WINDOWS_1252);
            if let Some(class) = class.filter(|c| !is_mail_class(c)) {
                tree.other.push(format!("{} ({class})", path.join("/")));
                if let Some(kind) = GroupwareKind::of_class(&class) {
                    tree.groupware.push(GroupwareFolder {
                        node,
                        path: path.clone(),
                        class,
                        kind,
                        hidden: boolean(properties.get(ATTRIBUTE_HIDDEN)),
                        items: messages,
                    });
                }
                // Sub-calendars and sub-address books.
                self.walk(&*child, &path, seen, found, tree);
                continue;
            }
            let mut special = Vec::new();
            if let Some(drafts) = self.node_of(binary(properties.get(IPM_DRAFTS))) {
                special.push((Role::Drafts, drafts));
            }
            if let Some(PropertyValue::MultipleBinary(ids)) =
                properties.get(ADDITIONAL_REN_ENTRY_IDS)
            {
                // The fifth entry is Junk E-mail ([MS-OXOSFLD] 2.2.4).
                if let Some(junk) = ids.get(4).and_then(|id| self.node_of(Some(id.buffer()))) {
                    special.push((Role::Junk, junk));
                }
            }
            // Marks the Inbox even when the IDs point into another store.
            let inbox_like = properties.get(IPM_DRAFTS).is_some()
                || properties.get(ADDITIONAL_REN_ENTRY_IDS).is_some();
            found.push(Found {
                folder: PstFolder {
                    node,
                    path: path.clone(),
                    role: None,
                    messages,
                },
                special,
                inbox_like,
            });
            self.walk(&*child, &path, seen, found, tree);
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

    /// Opens a message (or other item) by node ID; `what` names it in the
    /// error.
    pub(super) fn open_message(&self, node: u32, what: &str) -> Result<Rc<F::Message>, PstError> {
        let id = self
            .store
            .properties()
            .make_entry_id(NodeId::from(node))
            .map_err(|e| self.item_error(what, &e))?;
        F::message(&self.store, &id).map_err(|e| self.item_error(what, &e))
    }

    /// The attachments of a message, opened.
    pub(super) fn attachments(
        &self,
        message: &Rc<F::Message>,
        what: &str,
    ) -> Result<Vec<Rc<F::Attachment>>, PstError> {
        let Some(table) = message.attachment_table() else {
            return Ok(Vec::new());
        };
        table
            .rows_matrix()
            .map(|row| {
                let node = u32::from(row.id());
                F::attachment(message, NodeId::from(node))
                    .map_err(|e| self.item_error(what, &format_args!("attachment {node:#x}: {e}")))
            })
            .collect()
    }

    fn message(&self, node: u32) -> Result<MapiMessage, PstError> {
        let what = format!("message {node:#x}");
        let message = self.open_message(node, &what)?;
        let mut mapi = convert(&*message);
        for attachment in self.attachments(&message, &what)? {
            attach(&mut mapi, &*message, &*attachment);
        }
        Ok(mapi)
    }
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
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/pst/libyal-outlook.pst");
        assert!(
            path.exists(),
            "MISSING TEST DATA: {} is absent; the PST reader tests cannot run without it",
            path.display()
        );
        path
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
