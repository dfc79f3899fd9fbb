//! The lists, tables and properties layer of [MS-PST] 2.3: the heap-on-node,
//! the BTree-on-heap, property contexts and table contexts, and how each
//! [`Value`] is stored in them.

use super::Value;
use super::ndb::{Content, MAX_BLOCK_DATA};

/// The largest heap allocation ([MS-PST] 2.3.1.1); longer values of a
/// property context go to a sub-node.
const MAX_ALLOC: usize = 3580;
/// NID type of sub-nodes holding values and row matrices (NID_TYPE_LTP).
const NID_TYPE_LTP: u32 = 0x1F;
/// Seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const FILETIME_EPOCH: i64 = 11_644_473_600;

const CLIENT_TC: u8 = 0x7C;
const CLIENT_BTH: u8 = 0xB5;
const CLIENT_PC: u8 = 0xBC;

/// The property type ([MS-OXCDATA] 2.11.1) of a value.
pub fn prop_type(value: &Value) -> u16 {
    match value {
        Value::I16(_) => 0x0002,
        Value::I32(_) => 0x0003,
        Value::F64(_) => 0x0005,
        Value::Bool(_) => 0x000B,
        Value::I64(_) => 0x0014,
        Value::Text(_) => 0x001F,
        Value::Time(_) => 0x0040,
        Value::Binary(_) => 0x0102,
        Value::Texts(_) => 0x101F,
        Value::Binaries(_) => 0x1102,
    }
}

/// The bytes of a fixed-size value, or `None` for a variable-size one.
fn fixed(value: &Value) -> Option<Vec<u8>> {
    Some(match value {
        Value::I16(v) => v.to_le_bytes().to_vec(),
        Value::I32(v) => v.to_le_bytes().to_vec(),
        Value::I64(v) => v.to_le_bytes().to_vec(),
        Value::F64(v) => v.to_le_bytes().to_vec(),
        Value::Bool(v) => vec![u8::from(*v)],
        Value::Time(t) => {
            let ticks = (t.timestamp() + FILETIME_EPOCH) * 10_000_000
                + i64::from(t.timestamp_subsec_nanos() / 100);
            ticks.to_le_bytes().to_vec()
        }
        _ => return None,
    })
}

/// The bytes of a variable-size value: UTF-16LE without terminator, raw
/// binary, or the multi-valued layout (count, offsets, data).
fn variable(value: &Value) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = match value {
        Value::Text(s) => return utf16(s),
        Value::Binary(b) => return b.clone(),
        Value::Texts(v) => v.iter().map(|s| utf16(s)).collect(),
        Value::Binaries(v) => v.clone(),
        _ => unreachable!("fixed-size values are handled by `fixed`"),
    };
    let mut out = (parts.len() as u32).to_le_bytes().to_vec();
    let mut offset = 4 + 4 * parts.len();
    for part in &parts {
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        offset += part.len();
    }
    for part in parts {
        out.extend_from_slice(&part);
    }
    out
}

/// UTF-16LE bytes of `s`.
pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A heap-on-node being filled: allocations block by block, each block
/// closed when the next allocation and the page map would not fit.
struct Heap {
    client: u8,
    /// Each block's allocations.
    blocks: Vec<Vec<Vec<u8>>>,
}

/// HNHDR (block 0), HNBITMAPHDR (blocks 8, 136, 264...), HNPAGEHDR.
fn heap_header_size(block: usize) -> usize {
    match block {
        0 => 12,
        b if b % 128 == 8 => 66,
        _ => 2,
    }
}

impl Heap {
    fn new(client: u8) -> Heap {
        Heap {
            client,
            blocks: vec![Vec::new()],
        }
    }

    /// Allocates `data` and returns its HID (block index and index in the
    /// block's page map, from 1).
    fn alloc(&mut self, data: Vec<u8>) -> u32 {
        assert!(
            data.len() <= MAX_ALLOC,
            "pst_writer: a heap allocation of {} bytes (at most {MAX_ALLOC})",
            data.len()
        );
        let fits = |block: usize, allocs: &[Vec<u8>]| {
            let used: usize = allocs.iter().map(Vec::len).sum::<usize>() + data.len();
            // Header, allocations, padding, cAlloc, cFree, rgibAlloc.
            heap_header_size(block) + used + 1 + 4 + 2 * (allocs.len() + 2) <= MAX_BLOCK_DATA
        };
        let last = self.blocks.len() - 1;
        if !fits(last, &self.blocks[last]) {
            self.blocks.push(Vec::new());
        }
        let block = self.blocks.len() - 1;
        self.blocks[block].push(data);
        assert!(
            block <= 0xFFFF,
            "pst_writer: a heap of more than 65536 blocks"
        );
        ((block as u32) << 16) | ((self.blocks[block].len() as u32) << 5)
    }

    /// The heap's blocks, each with its header, allocations and
    /// HNPAGEMAP. Fill levels are left at 0: they only guide Outlook's
    /// next allocation.
    fn finish(self, user_root: u32) -> Vec<Vec<u8>> {
        let client = self.client;
        self.blocks
            .into_iter()
            .enumerate()
            .map(|(index, allocs)| {
                let mut out = vec![0u8; heap_header_size(index)];
                let mut offsets = Vec::with_capacity(allocs.len() + 1);
                // Zero-length allocations read as freed ones ([MS-PST]
                // 2.3.1.5).
                let mut free = 0u16;
                for alloc in &allocs {
                    offsets.push(out.len() as u16);
                    free += u16::from(alloc.is_empty());
                    out.extend_from_slice(alloc);
                }
                offsets.push(out.len() as u16);
                if out.len() % 2 == 1 {
                    out.push(0);
                }
                let map = out.len() as u16;
                out[0..2].copy_from_slice(&map.to_le_bytes());
                if index == 0 {
                    out[2] = 0xEC;
                    out[3] = client;
                    out[4..8].copy_from_slice(&user_root.to_le_bytes());
                }
                out.extend_from_slice(&(allocs.len() as u16).to_le_bytes());
                out.extend_from_slice(&free.to_le_bytes());
                for offset in offsets {
                    out.extend_from_slice(&offset.to_le_bytes());
                }
                out
            })
            .collect()
    }
}

/// Adds a BTree-on-heap of `(key, data)` records, sorted by key, and
/// returns the HID of its BTHHEADER. Leaves hold what one allocation can;
/// more leaves get index levels above them.
fn bth(heap: &mut Heap, key_size: u8, data_size: u8, mut records: Vec<(u32, Vec<u8>)>) -> u32 {
    records.sort_by_key(|r| r.0);
    let key_size_bytes = usize::from(key_size);
    let mut levels = 0u8;
    let mut root = 0;
    let mut size = key_size_bytes + usize::from(data_size);
    while !records.is_empty() {
        // Each node: its first key and HID.
        let nodes: Vec<(u32, u32)> = records
            .chunks(MAX_ALLOC / size)
            .map(|chunk| {
                let mut node = Vec::with_capacity(chunk.len() * size);
                for (key, data) in chunk {
                    node.extend_from_slice(&key.to_le_bytes()[..key_size_bytes]);
                    node.extend_from_slice(data);
                }
                (chunk[0].0, heap.alloc(node))
            })
            .collect();
        if let [(_, hid)] = nodes[..] {
            root = hid;
            break;
        }
        records = nodes
            .into_iter()
            .map(|(key, hid)| (key, hid.to_le_bytes().to_vec()))
            .collect();
        size = key_size_bytes + 4;
        levels += 1;
    }
    let mut header = vec![CLIENT_BTH, key_size, data_size, levels];
    header.extend_from_slice(&root.to_le_bytes());
    heap.alloc(header)
}

/// Hands out the NIDs of a node's sub-nodes.
fn subnode_nid(subnodes: &[(u32, Content)]) -> u32 {
    ((0x100 + subnodes.len() as u32) << 5) | NID_TYPE_LTP
}

/// A property context ([MS-PST] 2.3.3) of `props`, as heap blocks; values
/// too long for the heap go to sub-nodes of `subnodes`.
pub fn property_context(
    props: &[(u16, Value)],
    subnodes: &mut Vec<(u32, Content)>,
) -> Vec<Vec<u8>> {
    // readpst reads a property context's BTree-on-heap as one leaf.
    assert!(
        props.len() <= MAX_ALLOC / 8,
        "pst_writer: {} properties on one object; at most {} are supported",
        props.len(),
        MAX_ALLOC / 8
    );
    let mut heap = Heap::new(CLIENT_PC);
    let mut records = Vec::new();
    for (id, value) in props {
        let stored: u32 = match fixed(value) {
            Some(bytes) if bytes.len() <= 4 => {
                let mut inline = [0u8; 4];
                inline[..bytes.len()].copy_from_slice(&bytes);
                u32::from_le_bytes(inline)
            }
            Some(bytes) => heap.alloc(bytes),
            None => {
                let bytes = variable(value);
                if bytes.len() <= MAX_ALLOC {
                    heap.alloc(bytes)
                } else {
                    let nid = subnode_nid(subnodes);
                    subnodes.push((nid, Content::value(&bytes)));
                    nid
                }
            }
        };
        let mut data = prop_type(value).to_le_bytes().to_vec();
        data.extend_from_slice(&stored.to_le_bytes());
        records.push((u32::from(*id), data));
    }
    let root = bth(&mut heap, 2, 6, records);
    heap.finish(root)
}

/// A column of a table context: property ID and type.
pub type Column = (u16, u16);

const ROW_ID: u16 = 0x67F2;
const ROW_VERSION: u16 = 0x67F3;

/// A table context ([MS-PST] 2.3.4) with `columns` (besides the row ID and
/// version, added here) and `rows`: each a row ID and its values. The row
/// matrix goes to a sub-node when it is too long for the heap.
pub fn table_context(columns: &[Column], rows: &[(u32, Vec<(u16, Value)>)]) -> Content {
    // Row layout: 8- and 4-byte cells, then 2-byte, then 1-byte, then the
    // existence bitmap; the row ID and version come first.
    let size = |ptype: u16| match ptype {
        0x0002 => 2,
        0x000B => 1,
        0x0005 | 0x0014 | 0x0040 => 8,
        _ => 4,
    };
    let mut all: Vec<Column> = vec![(ROW_ID, 0x0003), (ROW_VERSION, 0x0003)];
    all.extend(
        columns
            .iter()
            .filter(|c| c.0 != ROW_ID && c.0 != ROW_VERSION),
    );
    let mut layout: Vec<(Column, u16, u8, u8)> = Vec::new(); // column, offset, size, bit
    let mut offset = 0u16;
    let mut ends = [0u16; 3];
    for (group, sizes) in [&[8u8, 4][..], &[2], &[1]].iter().enumerate() {
        for (bit, column) in all.iter().enumerate() {
            let cell = size(column.1);
            if sizes.contains(&cell) {
                layout.push((*column, offset, cell, bit as u8));
                offset += u16::from(cell);
            }
        }
        ends[group] = offset;
    }
    let row_size = usize::from(offset) + all.len().div_ceil(8);
    assert!(all.len() <= 255, "pst_writer: too many table columns");

    let mut heap = Heap::new(CLIENT_TC);
    let mut matrix = Vec::new();
    let mut index = Vec::new();
    for (n, (row_id, values)) in rows.iter().enumerate() {
        let mut row = vec![0u8; row_size];
        for &((id, ptype), at, cell, bit) in &layout {
            let value = match id {
                ROW_ID => Some(Value::I32(*row_id as i32)),
                ROW_VERSION => Some(Value::I32(0)),
                _ => values
                    .iter()
                    .find(|(i, v)| *i == id && prop_type(v) == ptype)
                    .map(|(_, v)| v.clone()),
            };
            let Some(value) = value else { continue };
            let bytes = match fixed(&value) {
                Some(bytes) => bytes,
                None => heap.alloc(variable(&value)).to_le_bytes().to_vec(),
            };
            let at = usize::from(at);
            row[at..at + usize::from(cell)].copy_from_slice(&bytes);
            let bitmap = usize::from(offset) + usize::from(bit / 8);
            row[bitmap] |= 0x80 >> (bit % 8);
        }
        matrix.push(row);
        index.push((*row_id, (n as u32).to_le_bytes().to_vec()));
    }
    let row_index = bth(&mut heap, 4, 4, index);
    let mut subnodes = Vec::new();
    let rows_hnid = if matrix.is_empty() {
        0
    } else if matrix.len() * row_size <= MAX_ALLOC {
        heap.alloc(matrix.concat())
    } else {
        // Rows never straddle blocks, and every block but the last is
        // full: readpst counts on it.
        let mut blocks: Vec<Vec<u8>> = matrix
            .chunks(MAX_BLOCK_DATA / row_size)
            .map(|rows| rows.concat())
            .collect();
        let last = blocks.len() - 1;
        for block in &mut blocks[..last] {
            block.resize(MAX_BLOCK_DATA, 0);
        }
        let nid = subnode_nid(&subnodes);
        subnodes.push((
            nid,
            Content {
                blocks,
                subnodes: Vec::new(),
            },
        ));
        nid
    };

    // TCINFO: bType, cCols, rgib, hidRowIndex, hnidRows, hidIndex, TCOLDESCs
    // sorted by tag.
    let mut info = vec![CLIENT_TC, all.len() as u8];
    for end in ends {
        info.extend_from_slice(&end.to_le_bytes());
    }
    info.extend_from_slice(&(row_size as u16).to_le_bytes());
    info.extend_from_slice(&row_index.to_le_bytes());
    info.extend_from_slice(&rows_hnid.to_le_bytes());
    info.extend_from_slice(&[0; 4]);
    layout.sort_by_key(|((id, ptype), ..)| (u32::from(*id) << 16) | u32::from(*ptype));
    for ((id, ptype), at, cell, bit) in layout {
        let tag = (u32::from(id) << 16) | u32::from(ptype);
        info.extend_from_slice(&tag.to_le_bytes());
        info.extend_from_slice(&at.to_le_bytes());
        info.push(cell);
        info.push(bit);
    }
    let root = heap.alloc(info);
    Content {
        blocks: heap.finish(root),
        subnodes,
    }
}
