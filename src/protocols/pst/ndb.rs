//! The node database of a PST file ([MS-PST] 2.2.2, 2.4.1): nodes, the
//! blocks that hold their data, and the sub-node trees that hold a
//! message's tables, attachments and large values.
//!
//! The `outlook-pst` crate finds nodes and decodes data blocks (its
//! public `read_node` and `read_block`), but it reads a message only
//! through a path that refuses what Outlook does write: a message without
//! a sub-node tree, an attachment whose own properties lack the method
//! its table row gives, an attached message's attachments. The rest is
//! read here: the block B-tree, internal blocks (data trees and sub-node
//! trees, which are never encoded), each bounds-checked, so that damage
//! costs the item it touches, never a panic.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use super::header::Format;

/// Sub-node and data trees deeper than this are damaged (Outlook writes
/// two levels at most).
const MAX_LEVELS: usize = 4;
/// A block is at most 8 KiB.
const MAX_BLOCK: usize = 8192;
/// B-tree pages are 512 bytes.
const PAGE: usize = 512;

/// A node's data block and sub-node tree (block IDs; 0 for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub data: u64,
    pub sub: u64,
}

/// A node's sub-nodes by (32-bit) node ID.
pub type SubNodes = BTreeMap<u32, Node>;

/// What the crate's file object does for this module.
pub trait Blocks {
    /// The data and sub-node block of a top-level node.
    fn node(&self, nid: u32) -> io::Result<Node>;
    /// A data block, decoded (the crate knows the file's encoding), or a
    /// data tree's blocks joined.
    fn decoded(&self, bid: u64) -> io::Result<Vec<u8>>;
}

/// The file's sizes that differ between the two formats.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Bytes of a block ID, a byte index, a node ID in an entry.
    id: usize,
    /// Where `cEnt`, `cbEnt` and `cLevel` are in a B-tree page.
    count_at: usize,
}

/// A PST's node database: the crate for what it reads well, the block
/// B-tree and internal blocks read here from a handle of its own.
pub struct Ndb<B: Blocks> {
    blocks: B,
    file: RefCell<File>,
    layout: Layout,
    /// The root page of the block B-tree.
    bbt_root: u64,
    /// B-tree pages read so far, by offset: a few per thousand messages.
    pages: RefCell<HashMap<u64, Vec<u8>>>,
}

/// A damaged structure: the reason, for the item's error.
fn damaged(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A little-endian integer of `n` bytes (1 to 8) at `at`, bounds-checked.
pub fn le(bytes: &[u8], at: usize, n: usize) -> io::Result<u64> {
    let slice = at
        .checked_add(n)
        .and_then(|end| bytes.get(at..end))
        .ok_or_else(|| damaged(format!("a structure ends early (offset {at})")))?;
    Ok(slice
        .iter()
        .rev()
        .fold(0u64, |value, b| (value << 8) | u64::from(*b)))
}

impl<B: Blocks> Ndb<B> {
    /// The database of `file` (its header already checked), its nodes
    /// and data blocks read through `blocks`.
    pub fn new(blocks: B, mut file: File, format: Format) -> io::Result<Ndb<B>> {
        let (layout, bbt_at) = match format {
            Format::Unicode => (
                Layout {
                    id: 8,
                    count_at: 488,
                },
                240,
            ),
            Format::Ansi => (
                Layout {
                    id: 4,
                    count_at: 496,
                },
                196,
            ),
        };
        let mut header = vec![0u8; 564];
        file.seek(SeekFrom::Start(0))?;
        file.read_exact(&mut header[..bbt_at + layout.id])?;
        let bbt_root = le(&header, bbt_at, layout.id)?;
        Ok(Ndb {
            blocks,
            file: RefCell::new(file),
            layout,
            bbt_root,
            pages: RefCell::new(HashMap::new()),
        })
    }

    /// A top-level node.
    pub fn node(&self, nid: u32) -> io::Result<Node> {
        self.blocks.node(nid)
    }

    /// Reads `len` bytes at `offset` of the file.
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut file = self.file.borrow_mut();
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = vec![0u8; len];
        file.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    /// A B-tree page, cached.
    fn page(&self, offset: u64) -> io::Result<Vec<u8>> {
        if let Some(page) = self.pages.borrow().get(&offset) {
            return Ok(page.clone());
        }
        let page = self.read_at(offset, PAGE)?;
        self.pages.borrow_mut().insert(offset, page.clone());
        Ok(page)
    }

    /// Where a block is in the file and how long it is: the block
    /// B-tree's entry for `bid`.
    fn locate(&self, bid: u64) -> io::Result<(u64, usize)> {
        let key = bid & !1;
        let id = self.layout.id;
        let mut offset = self.bbt_root;
        for _ in 0..=MAX_LEVELS * 2 {
            let page = self.page(offset)?;
            let count = le(&page, self.layout.count_at, 1)? as usize;
            let size = le(&page, self.layout.count_at + 2, 1)? as usize;
            let level = le(&page, self.layout.count_at + 3, 1)?;
            if size == 0 || count * size > self.layout.count_at {
                return Err(damaged("a page of the block B-tree is damaged"));
            }
            let entry_key = |n: usize| le(&page, n * size, id).map(|k| k & !1);
            if level == 0 {
                for n in 0..count {
                    if entry_key(n)? == key {
                        let at = n * size;
                        let ib = le(&page, at + id, id)?;
                        let cb = le(&page, at + 2 * id, 2)? as usize;
                        return Ok((ib, cb));
                    }
                }
                break;
            }
            // The last entry whose key is not above the one looked for.
            let mut next = None;
            for n in 0..count {
                if entry_key(n)? > key {
                    break;
                }
                next = Some(le(&page, n * size + 2 * id, id)?);
            }
            match next {
                Some(child) => offset = child,
                None => break,
            }
        }
        Err(damaged(format!("block {bid:#x} is not in the file")))
    }

    /// An internal block (data tree or sub-node tree), as stored.
    fn internal(&self, bid: u64) -> io::Result<Vec<u8>> {
        let (offset, len) = self.locate(bid)?;
        if len > MAX_BLOCK {
            return Err(damaged(format!("block {bid:#x} is {len} bytes long")));
        }
        self.read_at(offset, len)
    }

    /// The decoded data blocks of a node's data: one, or the leaves of
    /// its data tree in order (a heap keeps one page per block).
    pub fn data_blocks(&self, bid: u64) -> io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.collect_blocks(bid, 0, &mut out)?;
        Ok(out)
    }

    fn collect_blocks(&self, bid: u64, depth: usize, out: &mut Vec<Vec<u8>>) -> io::Result<()> {
        if bid & 2 == 0 {
            out.push(self.blocks.decoded(bid)?);
            return Ok(());
        }
        if depth > MAX_LEVELS {
            return Err(damaged("a data tree is too deep"));
        }
        // XBLOCK / XXBLOCK: btype 1, cLevel, cEnt, lcbTotal, block IDs.
        let block = self.internal(bid)?;
        if le(&block, 0, 1)? != 1 {
            return Err(damaged(format!("block {bid:#x} is not a data tree")));
        }
        let count = le(&block, 2, 2)? as usize;
        for n in 0..count {
            let child = le(&block, 8 + n * self.layout.id, self.layout.id)?;
            self.collect_blocks(child, depth + 1, out)?;
        }
        Ok(())
    }

    /// A node's data as one byte string (a stream, a large value).
    pub fn data(&self, bid: u64) -> io::Result<Vec<u8>> {
        Ok(self.data_blocks(bid)?.concat())
    }

    /// The sub-nodes of a sub-node tree (none when `bid` is 0).
    pub fn sub_nodes(&self, bid: u64) -> io::Result<SubNodes> {
        let mut out = SubNodes::new();
        if bid != 0 {
            self.collect_sub_nodes(bid, 0, &mut out)?;
        }
        Ok(out)
    }

    fn collect_sub_nodes(&self, bid: u64, depth: usize, out: &mut SubNodes) -> io::Result<()> {
        if depth > MAX_LEVELS {
            return Err(damaged("a sub-node tree is too deep"));
        }
        // SLBLOCK (cLevel 0) / SIBLOCK (1): btype 2, cLevel, cEnt, then a
        // 4-byte padding in a Unicode file, then the entries.
        let block = self.internal(bid)?;
        if le(&block, 0, 1)? != 2 {
            return Err(damaged(format!("block {bid:#x} is not a sub-node tree")));
        }
        let level = le(&block, 1, 1)?;
        let count = le(&block, 2, 2)? as usize;
        let id = self.layout.id;
        let start = if id == 8 { 8 } else { 4 };
        let width = if level == 0 { 3 * id } else { 2 * id };
        for n in 0..count {
            let at = start + n * width;
            let nid = le(&block, at, 4)? as u32;
            if level == 0 {
                let data = le(&block, at + id, id)?;
                let sub = le(&block, at + 2 * id, id)?;
                out.insert(nid, Node { data, sub });
            } else {
                let child = le(&block, at + id, id)?;
                self.collect_sub_nodes(child, depth + 1, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_little_endian_and_bounded() {
        let bytes = [0x01, 0x02, 0x03, 0x04, 0x05];
        assert_eq!(le(&bytes, 0, 2).unwrap(), 0x0201);
        assert_eq!(le(&bytes, 1, 4).unwrap(), 0x0504_0302);
        assert!(le(&bytes, 3, 4).is_err());
        assert!(le(&bytes, usize::MAX, 2).is_err());
    }
}
