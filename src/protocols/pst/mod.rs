//! Outlook PST files as a source: mail, contacts, distribution lists,
//! appointments and tasks.
//!
//! - [`header`] checks the file before anything else reads it: a PST (ANSI
//!   or Unicode), an OST, something else, a truncated copy.
//! - [`reader`] opens the file (the `outlook-pst` crate finds nodes and
//!   decodes blocks; [`ndb`], [`ltp`] and [`object`] read the rest) and
//!   walks the folder tree under the top of the personal folders; each
//!   message is read, by node ID, into a [`MapiMessage`] ([`convert`]).
//! - [`mime`] turns a [`MapiMessage`] into an RFC 5322 message.
//! - The same walk lists the contact, calendar and task folders
//!   ([`GroupwareFolder`]); their items are read whole into an
//!   [`item::MapiItem`], named properties resolved through the store's
//!   name-to-ID map ([`names`]).
//! - [`vcard`] turns contacts and distribution lists into vCards, [`ical`]
//!   appointments (with their recurrences and time zones) and tasks into
//!   iCalendar objects.
//!
//! The crate's objects are reference-counted and tied to one thread, so a
//! [`PstReader`] lives on a blocking thread and hands out owned values.
//! A message that cannot be read (a corrupt block) is an
//! [`PstError::Item`]: the caller skips it and goes on.

mod convert;
mod entry_id;
mod folder_names;
mod groupware;
pub mod header;
pub mod ical;
pub mod item;
mod ltp;
pub mod mime;
pub mod names;
mod ndb;
mod object;
pub(crate) mod props;
pub mod reader;
#[cfg(test)]
mod real_files;
pub mod vcard;

use chrono::{DateTime, Utc};

pub use reader::PstReader;

/// A file of the shared test data (`relative` to its folder:
/// `$MAILSHIFT_TESTDATA` when set, else `../shared/testdata` beside the
/// project). Its absence fails the test, naming the variable.
#[cfg(test)]
pub(crate) fn testdata(relative: &str) -> std::path::PathBuf {
    let root = std::env::var_os("MAILSHIFT_TESTDATA").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"),
        std::path::PathBuf::from,
    );
    let path = root.join(relative);
    assert!(
        path.is_file(),
        "MISSING TEST DATA: {} is absent; the tests read the shared test data from \
         $MAILSHIFT_TESTDATA when it is set, else from ../shared/testdata beside the project",
        path.display()
    );
    path
}

/// Why a PST file, or one item of it, cannot be read. Every message names
/// the file.
#[derive(Debug, thiserror::Error)]
pub enum PstError {
    /// The file does not exist.
    #[error("{path}: no such file")]
    NotFound {
        /// The file.
        path: String,
    },
    /// The file cannot be opened or read.
    #[error("{path}: cannot be read: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is empty.
    #[error("{path}: the file is empty, not a PST file")]
    Empty {
        /// The file.
        path: String,
    },
    /// The file does not start as a PST file does.
    #[error("{path}: not an Outlook PST file")]
    NotPst {
        /// The file.
        path: String,
    },
    /// An OST file: Outlook's offline copy of a server mailbox.
    #[error(
        "{path}: an OST file (Outlook's offline copy of a server mailbox), not a PST; \
         export the mailbox to a PST from Outlook, or migrate it from its server"
    )]
    Ost {
        /// The file.
        path: String,
    },
    /// A PST format version this reader does not know.
    #[error("{path}: a PST file of an unknown version ({version})")]
    UnknownVersion {
        /// The file.
        path: String,
        /// The version its header gives.
        version: u16,
    },
    /// The file is shorter than its header says.
    #[error(
        "{path}: truncated: the PST header says the file is {expected} bytes long, \
         but only {actual} bytes are there"
    )]
    Truncated {
        /// The file.
        path: String,
        /// The length the header gives.
        expected: u64,
        /// The file's length.
        actual: u64,
    },
    /// The file is protected by a password.
    #[error(
        "{path}: protected by a password; remove the password in Outlook \
         (Data File Settings, Change Password) and export it again"
    )]
    Password {
        /// The file.
        path: String,
    },
    /// The file's structures are damaged.
    #[error("{path}: damaged: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// One item cannot be read; the others can.
    #[error("{path}: {item} cannot be read: {reason}")]
    Item {
        /// The file.
        path: String,
        /// Which item.
        item: String,
        /// Why.
        reason: String,
    },
}

/// The special folders of a mailbox that meet their counterpart at the
/// destination whatever each side calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Where mail arrives.
    Inbox,
    /// Sent items.
    Sent,
    /// Deleted items (the trash).
    Deleted,
    /// Drafts.
    Drafts,
    /// Junk mail.
    Junk,
}

/// A mail folder of the PST.
#[derive(Debug, Clone)]
pub struct PstFolder {
    /// The folder's node ID.
    pub node: u32,
    /// Display names from the top of the personal folders down (empty
    /// for messages kept at the top itself).
    pub path: Vec<String>,
    /// The special folder it is, if any.
    pub role: Option<Role>,
    /// Node IDs of its messages, in the order of its contents table.
    pub messages: Vec<u32>,
    /// Items of other kinds kept in it (appointments in Deleted Items,
    /// contacts filed with mail): node ID and message class. The mail
    /// stage does not import them and names each in the report.
    pub other: Vec<(u32, String)>,
}

/// What a folder of items other than mail holds, from its container
/// class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupwareKind {
    /// `IPF.Contact`: contacts and distribution lists.
    Contacts,
    /// `IPF.Appointment`.
    Calendar,
    /// `IPF.Task`.
    Tasks,
}

impl GroupwareKind {
    /// The kind of a container class, sub-classes (`IPF.Contact.MOC.QuickContacts`)
    /// included; case is ignored.
    pub fn of_class(class: &str) -> Option<GroupwareKind> {
        item::of_class(
            class,
            [
                ("ipf.contact", GroupwareKind::Contacts),
                ("ipf.appointment", GroupwareKind::Calendar),
                ("ipf.task", GroupwareKind::Tasks),
            ],
        )
    }
}

/// A contact, calendar or task folder of the PST.
#[derive(Debug, Clone)]
pub struct GroupwareFolder {
    /// The folder's node ID.
    pub node: u32,
    /// Display names from the top of the personal folders down.
    pub path: Vec<String>,
    /// Its `PidTagContainerClass`, as stored.
    pub class: String,
    /// What it holds.
    pub kind: GroupwareKind,
    /// Marked hidden (`PidTagAttributeHidden`): one of Outlook's own
    /// folders the user never sees, such as the Recipient Cache of
    /// addresses written to or the Quick Contacts of Skype, best left
    /// out of an import.
    pub hidden: bool,
    /// Node IDs of its items, in the order of its contents table.
    pub items: Vec<u32>,
}

/// A folder that was left out, and why.
#[derive(Debug, Clone)]
pub struct SkippedFolder {
    /// Its path, or its node ID when even the name cannot be read.
    pub name: String,
    /// Why it was left out.
    pub reason: String,
}

/// A message read from the PST: what MIME building needs, owned.
#[derive(Debug, Clone, Default)]
pub struct MapiMessage {
    /// `PidTagMessageClass`, such as `IPM.Note`.
    pub class: String,
    /// The subject.
    pub subject: Option<String>,
    /// The original header block, when the message came from the Internet.
    pub transport_headers: Option<String>,
    /// The author (`PidTagSentRepresenting*`, else `PidTagSender*`).
    pub from: Option<Address>,
    /// The sender when it differs from the author (sent on behalf).
    pub sender: Option<Address>,
    /// To, Cc and Bcc recipients, in table order.
    pub recipients: Vec<Recipient>,
    /// When it was sent (`PidTagClientSubmitTime`).
    pub sent: Option<DateTime<Utc>>,
    /// When it arrived (`PidTagMessageDeliveryTime`): the INTERNALDATE.
    pub delivered: Option<DateTime<Utc>>,
    /// `PidTagInternetMessageId`.
    pub message_id: Option<String>,
    /// `PidTagInReplyToId`.
    pub in_reply_to: Option<String>,
    /// `PidTagInternetReferences`.
    pub references: Option<String>,
    /// The plain-text body.
    pub body_text: Option<String>,
    /// The HTML body.
    pub body_html: Option<Html>,
    /// The decompressed RTF body, as its bytes.
    pub body_rtf: Option<Vec<u8>>,
    /// Attachments, attached messages included.
    pub attachments: Vec<Attachment>,
    /// Read, flagged, answered...
    pub flags: Flags,
    /// Parts left out because they could not be read or are not
    /// supported: said in the report, never silently dropped.
    pub warnings: Vec<String>,
}

/// An HTML body: its bytes as stored and their character set.
#[derive(Debug, Clone)]
pub struct Html {
    /// The body as stored.
    pub bytes: Vec<u8>,
    /// The charset name for the Content-Type (`windows-1252`, `UTF-8`).
    pub charset: &'static str,
}

/// A mailbox: display name and address. A recipient known only inside an
/// Exchange organisation has no SMTP address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// The display name.
    pub name: Option<String>,
    /// The SMTP address.
    pub email: Option<String>,
}

/// Which header a recipient belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    /// `To`.
    To,
    /// `Cc`.
    Cc,
    /// `Bcc`.
    Bcc,
}

/// One row of the recipient table.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// Which header.
    pub kind: RecipientKind,
    /// Who.
    pub address: Address,
}

/// An attachment.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The file name.
    pub name: Option<String>,
    /// `PidTagAttachMimeTag`, when Outlook recorded one.
    pub mime_type: Option<String>,
    /// `PidTagAttachContentId`: how an HTML body refers to it.
    pub content_id: Option<String>,
    /// Shown in the body rather than listed as an attachment.
    pub inline: bool,
    /// What it holds.
    pub content: Content,
}

/// What an attachment holds.
#[derive(Debug, Clone)]
pub enum Content {
    /// A file's bytes.
    Bytes(Vec<u8>),
    /// An attached message (`message/rfc822`).
    Message(Box<MapiMessage>),
}

/// The state an IMAP client shows as flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// Read (`\\Seen`).
    pub read: bool,
    /// Flagged for follow-up (`\\Flagged`).
    pub flagged: bool,
    /// Replied to (`\\Answered`).
    pub answered: bool,
    /// Forwarded (`$Forwarded`).
    pub forwarded: bool,
    /// Not sent yet (`\\Draft`).
    pub draft: bool,
}

impl Flags {
    /// The IMAP flags and keywords.
    pub fn imap(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for (on, flag) in [
            (self.read, "\\Seen"),
            (self.flagged, "\\Flagged"),
            (self.answered, "\\Answered"),
            (self.draft, "\\Draft"),
            (self.forwarded, "$Forwarded"),
        ] {
            if on {
                flags.push(flag.to_owned());
            }
        }
        flags
    }
}
