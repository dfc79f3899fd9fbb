//! The lists, tables and properties layer of a PST file ([MS-PST] 2.3):
//! a node's heap, the B-tree on the heap, the property context (one
//! object's properties) and the table context (a recipient or attachment
//! table), read over [`ndb`](super::ndb) with every offset checked.

use std::collections::BTreeMap;
use std::io;

use super::names;
use super::ndb::{Blocks, Ndb, SubNodes, le};
use super::props::Prop;

/// `bSig` of a heap's first page.
const HEAP_SIGNATURE: u64 = 0xEC;
/// `bClientSig`/`bType` of a B-tree on the heap.
const BTH: u64 = 0xB5;
/// `bClientSig` of a property context.
const PROPERTY_CONTEXT: u64 = 0xBC;
/// `bType` of a table context.
const TABLE_CONTEXT: u64 = 0x7C;
/// B-trees on the heap deeper than this are damaged.
const MAX_BTH_LEVELS: u64 = 8;
/// Multi-valued properties with more values than this are damaged.
const MAX_VALUES: usize = 1 << 16;

/// An object's properties by property ID.
pub type PropMap = BTreeMap<u16, Prop>;

fn damaged(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A node's heap: one page per data block.
pub struct Heap {
    pages: Vec<Vec<u8>>,
}

impl Heap {
    /// The heap of a node's data (`bid`), checking its client signature.
    pub fn read<B: Blocks>(ndb: &Ndb<B>, bid: u64, client: u64) -> io::Result<Heap> {
        let pages = ndb.data_blocks(bid)?;
        let first = pages.first().ok_or_else(|| damaged("an empty heap"))?;
        if le(first, 2, 1)? != HEAP_SIGNATURE || le(first, 3, 1)? != client {
            return Err(damaged(format!(
                "not a heap of the expected kind ({client:#x})"
            )));
        }
        Ok(Heap { pages })
    }

    /// `hidUserRoot`: where the heap's client keeps its header.
    pub fn user_root(&self) -> io::Result<u32> {
        Ok(le(&self.pages[0], 4, 4)? as u32)
    }

    /// The allocation a heap ID names (empty for 0).
    pub fn get(&self, hid: u32) -> io::Result<&[u8]> {
        if hid == 0 {
            return Ok(&[]);
        }
        let page_index = (hid >> 16) as usize;
        let index = ((hid >> 5) & 0x7FF) as usize;
        let page = self
            .pages
            .get(page_index)
            .ok_or_else(|| damaged(format!("heap item {hid:#x} is not there")))?;
        let map = le(page, 0, 2)? as usize;
        let count = le(page, map, 2)? as usize;
        if index == 0 || index > count {
            return Err(damaged(format!("heap item {hid:#x} is not there")));
        }
        let start = le(page, map + 4 + 2 * (index - 1), 2)? as usize;
        let end = le(page, map + 4 + 2 * index, 2)? as usize;
        page.get(start..end)
            .ok_or_else(|| damaged(format!("heap item {hid:#x} is out of its page")))
    }

    /// The records of the B-tree on the heap whose header is `hid`: key
    /// and data bytes, in key order.
    pub fn bth(&self, hid: u32) -> io::Result<Vec<(&[u8], &[u8])>> {
        let header = self.get(hid)?;
        if le(header, 0, 1)? != BTH {
            return Err(damaged("not a B-tree on the heap"));
        }
        let key = le(header, 1, 1)? as usize;
        let data = le(header, 2, 1)? as usize;
        let levels = le(header, 3, 1)?;
        let root = le(header, 4, 4)? as u32;
        if key == 0 || levels > MAX_BTH_LEVELS {
            return Err(damaged("a B-tree on the heap is damaged"));
        }
        let mut out = Vec::new();
        self.bth_level(root, key, data, levels, &mut out)?;
        Ok(out)
    }

    fn bth_level<'a>(
        &'a self,
        hid: u32,
        key: usize,
        data: usize,
        level: u64,
        out: &mut Vec<(&'a [u8], &'a [u8])>,
    ) -> io::Result<()> {
        let records = self.get(hid)?;
        let width = if level == 0 { key + data } else { key + 4 };
        for record in records.chunks_exact(width) {
            if level == 0 {
                out.push((&record[..key], &record[key..]));
            } else {
                let child = le(record, key, 4)? as u32;
                self.bth_level(child, key, data, level - 1, out)?;
            }
        }
        Ok(())
    }

    /// A variable-size value: a heap item, or the data of a sub-node.
    fn variable<B: Blocks>(&self, ndb: &Ndb<B>, sub: &SubNodes, hnid: u32) -> io::Result<Vec<u8>> {
        if hnid & 0x1F == 0 {
            return Ok(self.get(hnid)?.to_vec());
        }
        let node = sub
            .get(&hnid)
            .ok_or_else(|| damaged(format!("sub-node {hnid:#x} is not there")))?;
        ndb.data(node.data)
    }
}

/// The properties of the object whose data is `bid` and sub-nodes `sub`.
pub fn properties<B: Blocks>(ndb: &Ndb<B>, bid: u64, sub: &SubNodes) -> io::Result<PropMap> {
    let heap = Heap::read(ndb, bid, PROPERTY_CONTEXT)?;
    let mut out = PropMap::new();
    for (key, data) in heap.bth(heap.user_root()?)? {
        let id = le(key, 0, 2)? as u16;
        let kind = le(data, 0, 2)? as u16;
        let hnid = le(data, 2, 4)? as u32;
        let value = match inline(kind, u64::from(hnid)) {
            Some(value) => value,
            None => {
                let bytes = heap.variable(ndb, sub, hnid)?;
                decode(kind, &bytes)?
            }
        };
        out.insert(id, value);
    }
    Ok(out)
}

/// The rows of the table whose data is `bid` and sub-nodes `sub`, each
/// with the cells it has, in the table's order.
pub fn table<B: Blocks>(ndb: &Ndb<B>, bid: u64, sub: &SubNodes) -> io::Result<Vec<PropMap>> {
    let heap = Heap::read(ndb, bid, TABLE_CONTEXT)?;
    let info = heap.get(heap.user_root()?)?;
    if le(info, 0, 1)? != TABLE_CONTEXT {
        return Err(damaged("not a table"));
    }
    let columns = le(info, 1, 1)? as usize;
    let existence = le(info, 6, 2)? as usize;
    let row_size = le(info, 8, 2)? as usize;
    let row_index = le(info, 10, 4)? as u32;
    let rows_hnid = le(info, 14, 4)? as u32;
    let mut descs = Vec::with_capacity(columns);
    for n in 0..columns {
        let at = 22 + 8 * n;
        let tag = le(info, at, 4)? as u32;
        let offset = le(info, at + 4, 2)? as usize;
        let size = le(info, at + 6, 1)? as usize;
        let bit = le(info, at + 7, 1)? as usize;
        descs.push((tag, offset, size, bit));
    }
    // The row index gives each row's position in the row matrix.
    let mut positions: Vec<u64> = Vec::new();
    for (_, data) in heap.bth(row_index)? {
        positions.push(le(data, 0, data.len().min(4))?);
    }
    positions.sort_unstable();
    if row_size == 0 || positions.is_empty() {
        return Ok(Vec::new());
    }
    // The matrix: one heap item, or a sub-node whose blocks each hold
    // whole rows.
    let blocks: Vec<Vec<u8>> = if rows_hnid & 0x1F == 0 {
        vec![heap.get(rows_hnid)?.to_vec()]
    } else {
        let node = sub
            .get(&rows_hnid)
            .ok_or_else(|| damaged(format!("the rows' sub-node {rows_hnid:#x} is not there")))?;
        ndb.data_blocks(node.data)?
    };
    let per_block = blocks
        .iter()
        .map(|b| b.len() / row_size)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut out = Vec::with_capacity(positions.len());
    for position in positions {
        let position = position as usize;
        let block = blocks.get(position / per_block);
        let at = (position % per_block) * row_size;
        let Some(row) = block.and_then(|b| b.get(at..at + row_size)) else {
            return Err(damaged(format!("row {position} is not in the table")));
        };
        let mut cells = PropMap::new();
        for &(tag, offset, size, bit) in &descs {
            let present = le(row, existence + bit / 8, 1)? & (0x80 >> (bit % 8)) != 0;
            if !present {
                continue;
            }
            let kind = (tag & 0xFFFF) as u16;
            let raw = le(row, offset, size.min(8))?;
            let value = match inline(kind, raw) {
                Some(value) => value,
                None if fixed_size(kind).is_some_and(|n| n == size) => {
                    decode(kind, row.get(offset..offset + size).unwrap_or_default())?
                }
                None => decode(kind, &heap.variable(ndb, sub, raw as u32)?)?,
            };
            cells.insert((tag >> 16) as u16, value);
        }
        out.push(cells);
    }
    Ok(out)
}

/// The size of a fixed-size type stored in its row (a table keeps 8-byte
/// values in the row, a property context in the heap).
fn fixed_size(kind: u16) -> Option<usize> {
    match kind {
        0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
        _ => None,
    }
}

/// A value small enough to be kept in the entry itself (4 bytes at most).
fn inline(kind: u16, raw: u64) -> Option<Prop> {
    Some(match kind {
        0x0002 => Prop::Int16(raw as u16 as i16),
        0x0003 => Prop::Int32(raw as u32 as i32),
        0x0004 => Prop::Float32(f32::from_bits(raw as u32)),
        0x000A => Prop::Error(raw as u32 as i32),
        0x000B => Prop::Bool(raw & 0xFF != 0),
        _ => return None,
    })
}

/// A value from its bytes.
fn decode(kind: u16, bytes: &[u8]) -> io::Result<Prop> {
    let eight = |b: &[u8]| -> io::Result<i64> { Ok(le(b, 0, 8)? as i64) };
    Ok(match kind {
        0x0005 | 0x0007 => Prop::Float64(f64::from_bits(eight(bytes)? as u64)),
        0x0006 | 0x0014 => Prop::Int64(eight(bytes)?),
        0x0040 => Prop::Time(eight(bytes)?),
        0x001E => {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            Prop::String8(bytes[..end].to_vec())
        }
        0x001F => Prop::Unicode(utf16(bytes)),
        0x0048 => Prop::Guid(bytes.get(..16).unwrap_or_default().to_vec()),
        0x0102 => Prop::Binary(bytes.to_vec()),
        0x000D => Prop::Object {
            node: le(bytes, 0, 4)? as u32,
            size: le(bytes, 4, 4)? as u32,
        },
        0x1002 => Prop::Ints(fixed(bytes, 2).map(|v| v as u16 as i16 as i32).collect()),
        0x1003 => Prop::Ints(fixed(bytes, 4).map(|v| v as u32 as i32).collect()),
        0x1014 | 0x1040 => Prop::Longs(fixed(bytes, 8).map(|v| v as i64).collect()),
        0x101E => Prop::String8s(
            multiple(bytes)?
                .into_iter()
                .map(|v| {
                    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
                    v[..end].to_vec()
                })
                .collect(),
        ),
        0x101F => Prop::Unicodes(multiple(bytes)?.into_iter().map(utf16).collect()),
        0x1102 => Prop::Binaries(multiple(bytes)?.into_iter().map(<[u8]>::to_vec).collect()),
        _ => Prop::Other,
    })
}

/// UTF-16LE text, without the terminating NULs some writers keep.
fn utf16(bytes: &[u8]) -> String {
    names::utf16(bytes).trim_end_matches('\0').to_owned()
}

/// The values of a multi-valued fixed-size property.
fn fixed(bytes: &[u8], size: usize) -> impl Iterator<Item = u64> + '_ {
    bytes
        .chunks_exact(size)
        .map(|c| c.iter().rev().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
}

/// The values of a multi-valued variable-size property: a count, the
/// offsets, then the values.
fn multiple(bytes: &[u8]) -> io::Result<Vec<&[u8]>> {
    let count = le(bytes, 0, 4)? as usize;
    if count > MAX_VALUES {
        return Err(damaged("a multi-valued property is damaged"));
    }
    let mut offsets = Vec::with_capacity(count + 1);
    for n in 0..count {
        offsets.push(le(bytes, 4 + 4 * n, 4)? as usize);
    }
    offsets.push(bytes.len());
    offsets
        .windows(2)
        .map(|w| {
            bytes
                .get(w[0]..w[1])
                .ok_or_else(|| damaged("a multi-valued property is damaged"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_from_their_bytes() {
        assert_eq!(inline(0x0003, 0xFFFF_FFFF), Some(Prop::Int32(-1)));
        assert_eq!(inline(0x000B, 0x100), Some(Prop::Bool(false)));
        assert_eq!(
            decode(0x001F, &[0x41, 0, 0xE9, 0, 0, 0]).unwrap(),
            Prop::Unicode("Aé".into())
        );
        assert_eq!(
            decode(0x001E, b"ab\0cd").unwrap(),
            Prop::String8(b"ab".to_vec())
        );
        let mut texts = vec![2, 0, 0, 0, 12, 0, 0, 0, 14, 0, 0, 0];
        texts.extend_from_slice(&[0x61, 0, 0x62, 0, 0x63, 0]);
        assert_eq!(
            decode(0x101F, &texts).unwrap(),
            Prop::Unicodes(vec!["a".into(), "bc".into()])
        );
        // Offsets past the end are damage, not a panic.
        assert!(decode(0x101F, &[2, 0, 0, 0, 99, 0, 0, 0, 1, 0, 0, 0]).is_err());
        assert!(decode(0x0040, &[1, 2, 3]).is_err());
    }
}
