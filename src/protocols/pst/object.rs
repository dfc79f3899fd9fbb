//! A message object of a PST read whole ([MS-PST] 2.4.5, 2.4.6): its
//! properties, its recipient table, its attachments and, inside an
//! attachment, an attached message with its own attachments.
//!
//! A message without a sub-node tree is read as one without recipients
//! or attachments (Outlook writes distribution lists and contacts so).
//! An attachment's method is taken from its attachment table row when its
//! own properties lack it.

use std::io;

use super::ltp::{self, PropMap};
use super::ndb::{Blocks, Ndb, Node, SubNodes};
use super::props::{ATTACH_DATA, ATTACH_METHOD, Prop};

/// `NID_TYPE_ATTACHMENT_TABLE`.
const ATTACHMENT_TABLE: u32 = 0x11;
/// `NID_TYPE_RECIPIENT_TABLE`.
const RECIPIENT_TABLE: u32 = 0x12;
/// `PidTagLtpRowId`: a table row's node ID.
const ROW_ID: u16 = 0x67F2;
/// `afEmbeddedMessage`.
const METHOD_EMBEDDED: i32 = 5;
/// `afStorage`: an OLE object, kept in a sub-node.
const METHOD_STORAGE: i32 = 6;
/// Messages attached deeper than this are left out (a damaged file may
/// loop).
const MAX_DEPTH: usize = 8;

/// A message as stored.
#[derive(Debug, Default)]
pub struct RawMessage {
    pub props: PropMap,
    /// The rows of its recipient table.
    pub recipients: Vec<PropMap>,
    /// Its attachments, or why each cannot be read (with its node ID).
    pub attachments: Vec<Result<RawAttachment, (u32, io::Error)>>,
}

/// An attachment as stored.
#[derive(Debug)]
pub struct RawAttachment {
    /// Its own properties, completed by its table row.
    pub props: PropMap,
    /// The attached message, for `afEmbeddedMessage`.
    pub message: Option<Box<RawMessage>>,
}

/// What to read of a message beyond its properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Properties and recipients.
    Recipients,
    /// Everything, attached messages included.
    Whole,
}

/// Reads the message (or other item) whose node is `node`.
pub fn read<B: Blocks>(ndb: &Ndb<B>, node: Node, depth: Depth) -> io::Result<RawMessage> {
    read_at(ndb, node, depth, 0)
}

fn read_at<B: Blocks>(
    ndb: &Ndb<B>,
    node: Node,
    depth: Depth,
    level: usize,
) -> io::Result<RawMessage> {
    let sub = ndb.sub_nodes(node.sub)?;
    let props = ltp::properties(ndb, node.data, &sub)?;
    let recipients = table(ndb, &sub, RECIPIENT_TABLE)?;
    let mut message = RawMessage {
        props,
        recipients,
        attachments: Vec::new(),
    };
    if depth == Depth::Recipients {
        return Ok(message);
    }
    for row in table(ndb, &sub, ATTACHMENT_TABLE)? {
        let Some(Prop::Int32(nid)) = row.get(&ROW_ID) else {
            continue;
        };
        let nid = *nid as u32;
        let read = attachment(ndb, &sub, nid, row, level).map_err(|e| (nid, e));
        message.attachments.push(read);
    }
    Ok(message)
}

/// The table of `sub` whose node type is `kind` (none when absent).
fn table<B: Blocks>(ndb: &Ndb<B>, sub: &SubNodes, kind: u32) -> io::Result<Vec<PropMap>> {
    match sub.iter().find(|(nid, _)| *nid & 0x1F == kind) {
        Some((_, node)) => ltp::table(ndb, node.data, &ndb.sub_nodes(node.sub)?),
        None => Ok(Vec::new()),
    }
}

/// One attachment: its properties (the row's where its own lack them)
/// and, for an attached message, that message.
fn attachment<B: Blocks>(
    ndb: &Ndb<B>,
    parent: &SubNodes,
    nid: u32,
    row: PropMap,
    level: usize,
) -> io::Result<RawAttachment> {
    let node = parent
        .get(&nid)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "its node is not there"))?;
    let sub = ndb.sub_nodes(node.sub)?;
    let mut props = ltp::properties(ndb, node.data, &sub)?;
    for (id, value) in row {
        props.entry(id).or_insert(value);
    }
    let method = match props.get(&ATTACH_METHOD) {
        Some(Prop::Int32(method)) => *method,
        _ => 0,
    };
    let mut message = None;
    if let Some(Prop::Object { node: inner, .. }) = props.get(&ATTACH_DATA) {
        let inner = *sub
            .get(inner)
            .or_else(|| parent.get(inner))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("its data {inner:#x} is not there"),
                )
            })?;
        match method {
            METHOD_EMBEDDED if level < MAX_DEPTH => {
                message = Some(Box::new(read_at(ndb, inner, Depth::Whole, level + 1)?));
            }
            METHOD_STORAGE => {
                props.insert(ATTACH_DATA, Prop::Binary(ndb.data(inner.data)?));
            }
            _ => {}
        }
    }
    Ok(RawAttachment { props, message })
}
