//! The node database of [MS-PST] 2.2 for Unicode files: data blocks,
//! sub-node blocks, the node and block B-trees, the allocation maps and
//! the header, laid out in one pass when the file is written.
//!
//! Blocks are stored unencoded (`bCryptMethod` = none). Data of more than
//! one block goes under an XBLOCK (one level, up to 1021 blocks). Files
//! may grow to about 2 GB: the map pages that start a span (AMap, and the
//! deprecated PMap and FMap where they belong) are kept free of data.

use std::path::Path;

/// The most data one block holds (8192 bytes less its 16-byte trailer).
pub const MAX_BLOCK_DATA: usize = 8176;

/// Where the first allocation map page sits, and how many bytes each one
/// covers (496 bytes of bits, one bit per 64 bytes).
const FIRST_AMAP: u64 = 0x4400;
const AMAP_SPAN: u64 = 496 * 8 * 64;
/// The legacy PMap follows the AMap of every eighth span.
const PMAP_EVERY: u64 = 8;
const PAGE: usize = 512;
/// The legacy FMap follows the PMap of span 128 (the header's own FMap
/// covers the spans before), then of every 496th span after it.
const FIRST_FMAP_SPAN: u64 = 128;
const FMAP_EVERY: u64 = 496;
/// FPMap pages start at span 8192 (about 2 GB); test files never come
/// near.
const MAX_SPANS: u64 = 8192;

const PTYPE_BBT: u8 = 0x80;
const PTYPE_NBT: u8 = 0x81;
const PTYPE_FMAP: u8 = 0x82;
const PTYPE_PMAP: u8 = 0x83;
const PTYPE_AMAP: u8 = 0x84;

/// What a node (or sub-node) holds: its data and its own sub-nodes.
#[derive(Debug, Default)]
pub struct Content {
    /// The node's data, block by block: a heap, a value or a row matrix.
    pub blocks: Vec<Vec<u8>>,
    /// Sub-nodes by NID, written to the node's SLBLOCK.
    pub subnodes: Vec<(u32, Content)>,
}

impl Content {
    /// A value cut into full blocks.
    pub fn value(data: &[u8]) -> Content {
        let mut blocks: Vec<Vec<u8>> = data.chunks(MAX_BLOCK_DATA).map(<[u8]>::to_vec).collect();
        if blocks.is_empty() {
            blocks.push(Vec::new());
        }
        Content {
            blocks,
            subnodes: Vec::new(),
        }
    }
}

/// A node of the node B-tree (NBTENTRY).
struct Node {
    nid: u32,
    data: u64,
    sub: u64,
    parent: u32,
}

/// Blocks and nodes gathered before the file is laid out.
#[derive(Default)]
pub struct Ndb {
    blocks: Vec<(u64, Vec<u8>)>,
    nodes: Vec<Node>,
    /// Index of the next block ID (the ID is the index shifted by two).
    next_block: u64,
}

impl Ndb {
    /// An empty database; block IDs start at 4 (index 1: 0 means none).
    pub fn new() -> Ndb {
        Ndb {
            next_block: 1,
            ..Ndb::default()
        }
    }

    /// Adds a top-level node with its content under `parent`.
    pub fn node(&mut self, nid: u32, parent: u32, content: &Content) {
        let (data, sub) = self.content(content);
        self.nodes.push(Node {
            nid,
            data,
            sub,
            parent,
        });
    }

    /// Stores `content`, returning the block IDs of its data and of its
    /// sub-node tree (0 when it has none).
    fn content(&mut self, content: &Content) -> (u64, u64) {
        let data = self.data(&content.blocks);
        if content.subnodes.is_empty() {
            return (data, 0);
        }
        let mut entries: Vec<(u32, u64, u64)> = content
            .subnodes
            .iter()
            .map(|(nid, sub)| {
                let (d, s) = self.content(sub);
                (*nid, d, s)
            })
            .collect();
        entries.sort_by_key(|e| e.0);
        assert!(
            entries.len() <= (MAX_BLOCK_DATA - 8) / 24,
            "pst_writer: {} sub-nodes do not fit one SLBLOCK",
            entries.len()
        );
        // SLBLOCK: btype 2, cLevel 0, cEnt, dwPadding, then SLENTRYs.
        let mut block = vec![0x02, 0x00];
        block.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        block.extend_from_slice(&[0; 4]);
        for (nid, d, s) in entries {
            block.extend_from_slice(&u64::from(nid).to_le_bytes());
            block.extend_from_slice(&d.to_le_bytes());
            block.extend_from_slice(&s.to_le_bytes());
        }
        (data, self.block(block, true))
    }

    /// Stores data blocks: one block, or an XBLOCK over several.
    fn data(&mut self, blocks: &[Vec<u8>]) -> u64 {
        for block in blocks {
            assert!(
                block.len() <= MAX_BLOCK_DATA,
                "pst_writer: a block of {} bytes",
                block.len()
            );
        }
        if let [block] = blocks {
            return self.block(block.clone(), false);
        }
        let total: usize = blocks.iter().map(Vec::len).sum();
        assert!(
            blocks.len() <= (MAX_BLOCK_DATA - 8) / 8,
            "pst_writer: data of {total} bytes needs more than one XBLOCK"
        );
        let bids: Vec<u64> = blocks
            .iter()
            .map(|data| self.block(data.clone(), false))
            .collect();
        // XBLOCK: btype 1, cLevel 1, cEnt, lcbTotal, then the block IDs.
        let mut block = vec![0x01, 0x01];
        block.extend_from_slice(&(bids.len() as u16).to_le_bytes());
        block.extend_from_slice(&(total as u32).to_le_bytes());
        for bid in bids {
            block.extend_from_slice(&bid.to_le_bytes());
        }
        self.block(block, true)
    }

    fn block(&mut self, data: Vec<u8>, internal: bool) -> u64 {
        let bid = (self.next_block << 2) | if internal { 2 } else { 0 };
        self.next_block += 1;
        self.blocks.push((bid, data));
        bid
    }

    /// Lays the file out and writes it. `next_nids` is the header's
    /// `rgnid`: the next free NID index of each NID type.
    pub fn write(&self, path: &Path, next_nids: &[u32; 32]) -> std::io::Result<()> {
        let mut file = Layout::default();
        let mut bbt = Vec::new();
        for (bid, data) in &self.blocks {
            let size = (data.len() + 16).next_multiple_of(64);
            let ib = file.alloc(size, 64);
            let mut bytes = data.clone();
            bytes.resize(size - 16, 0);
            bytes.extend_from_slice(&(data.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&signature(ib, *bid).to_le_bytes());
            bytes.extend_from_slice(&crc(data).to_le_bytes());
            bytes.extend_from_slice(&bid.to_le_bytes());
            file.put(ib, &bytes);
            // BBTENTRY: BREF, cb, cRef, dwPadding.
            let mut entry = Vec::with_capacity(24);
            entry.extend_from_slice(&bid.to_le_bytes());
            entry.extend_from_slice(&ib.to_le_bytes());
            entry.extend_from_slice(&(data.len() as u16).to_le_bytes());
            entry.extend_from_slice(&1u16.to_le_bytes());
            entry.extend_from_slice(&[0; 4]);
            bbt.push((*bid, entry));
        }
        let mut nbt: Vec<(u64, Vec<u8>)> = self
            .nodes
            .iter()
            .map(|n| {
                let mut entry = Vec::with_capacity(32);
                entry.extend_from_slice(&u64::from(n.nid).to_le_bytes());
                entry.extend_from_slice(&n.data.to_le_bytes());
                entry.extend_from_slice(&n.sub.to_le_bytes());
                entry.extend_from_slice(&n.parent.to_le_bytes());
                entry.extend_from_slice(&[0; 4]);
                (u64::from(n.nid), entry)
            })
            .collect();
        nbt.sort_by_key(|e| e.0);
        for pair in nbt.windows(2) {
            assert!(
                pair[0].0 != pair[1].0,
                "pst_writer: NID {:#x} twice",
                pair[0].0
            );
        }
        let mut next_page = 1;
        let nbt_root = file.btree(nbt, PTYPE_NBT, 15, 32, &mut next_page);
        let bbt_root = file.btree(bbt, PTYPE_BBT, 20, 24, &mut next_page);
        let (amap_last, amap_free) = file.maps();
        let header = Header {
            eof: file.bytes.len() as u64,
            amap_last,
            amap_free,
            nbt: nbt_root,
            bbt: bbt_root,
            next_block: self.next_block << 2,
            next_page,
            next_nids,
        };
        file.bytes[..HEADER_LEN].copy_from_slice(&header.bytes());
        std::fs::write(path, &file.bytes)
    }
}

/// The file being laid out: its bytes and where the next thing goes.
struct Layout {
    bytes: Vec<u8>,
    cursor: u64,
    /// Every (offset, size) handed out, for the allocation maps.
    used: Vec<(u64, u64)>,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            bytes: Vec::new(),
            cursor: FIRST_AMAP,
            used: Vec::new(),
        }
    }
}

impl Layout {
    /// Reserves `size` bytes aligned on `align`, stepping over the map
    /// pages at the start of each span.
    fn alloc(&mut self, size: usize, align: u64) -> u64 {
        let size = size as u64;
        loop {
            let at = self.cursor.next_multiple_of(align);
            let span = (at - FIRST_AMAP) / AMAP_SPAN;
            assert!(
                span < MAX_SPANS,
                "pst_writer: file too large for a test PST"
            );
            let start = FIRST_AMAP + span * AMAP_SPAN;
            let reserved = start + map_pages(span);
            if at < reserved {
                self.cursor = reserved;
            } else if at + size > start + AMAP_SPAN {
                self.cursor = start + AMAP_SPAN;
            } else {
                self.cursor = at + size;
                self.used.push((at, size));
                return at;
            }
        }
    }

    fn put(&mut self, at: u64, data: &[u8]) {
        let at = at as usize;
        if self.bytes.len() < at + data.len() {
            self.bytes.resize(at + data.len(), 0);
        }
        self.bytes[at..at + data.len()].copy_from_slice(data);
    }

    /// Writes a B-tree over `entries` (sorted by key) and returns the root
    /// page's BREF (bid, ib).
    fn btree(
        &mut self,
        entries: Vec<(u64, Vec<u8>)>,
        ptype: u8,
        leaf_max: usize,
        leaf_size: u8,
        next_page: &mut u64,
    ) -> (u64, u64) {
        let mut level = 0u8;
        let mut rows = entries;
        let (mut max, mut size) = (leaf_max, leaf_size);
        loop {
            // Each page: (first key, bid, ib).
            let mut pages = Vec::new();
            for chunk in rows.chunks(max) {
                let mut page = vec![0u8; PAGE];
                for (i, (_, entry)) in chunk.iter().enumerate() {
                    let at = i * usize::from(size);
                    page[at..at + entry.len()].copy_from_slice(entry);
                }
                page[488] = chunk.len() as u8;
                page[489] = max as u8;
                page[490] = size;
                page[491] = level;
                let bid = *next_page;
                *next_page += 1;
                let ib = self.alloc(PAGE, PAGE as u64);
                self.page(ib, &mut page, ptype, bid);
                pages.push((chunk[0].0, bid, ib));
            }
            if pages.len() == 1 {
                return (pages[0].1, pages[0].2);
            }
            // BTENTRY: btkey, BREF.
            rows = pages
                .into_iter()
                .map(|(key, bid, ib)| {
                    let mut entry = key.to_le_bytes().to_vec();
                    entry.extend_from_slice(&bid.to_le_bytes());
                    entry.extend_from_slice(&ib.to_le_bytes());
                    (key, entry)
                })
                .collect();
            level += 1;
            (max, size) = (20, 24);
        }
    }

    /// Fills in a page's trailer and puts it at `ib`.
    fn page(&mut self, ib: u64, page: &mut [u8], ptype: u8, bid: u64) {
        let sig = match ptype {
            PTYPE_BBT | PTYPE_NBT => signature(ib, bid),
            _ => 0,
        };
        page[496] = ptype;
        page[497] = ptype;
        page[498..500].copy_from_slice(&sig.to_le_bytes());
        let crc = crc(&page[..496]);
        page[500..504].copy_from_slice(&crc.to_le_bytes());
        page[504..512].copy_from_slice(&bid.to_le_bytes());
        self.put(ib, page);
    }

    /// Pads the file to whole spans, as Outlook's files are, and writes
    /// every span's AMap (and PMap) page. Returns the last AMap's offset
    /// and the free bytes the AMaps show.
    fn maps(&mut self) -> (u64, u64) {
        let used = (self.cursor.max(FIRST_AMAP + 1) - FIRST_AMAP).div_ceil(AMAP_SPAN);
        let end = FIRST_AMAP + used * AMAP_SPAN;
        self.bytes.resize(end as usize, 0);
        let mut free = 0;
        for span in 0..used {
            let start = FIRST_AMAP + span * AMAP_SPAN;
            let mut taken = vec![(start, map_pages(span))];
            taken.extend(
                self.used
                    .iter()
                    .filter(|(at, _)| (start..start + AMAP_SPAN).contains(at)),
            );
            // One bit per 64 bytes, most significant bit first.
            let mut page = vec![0u8; PAGE];
            for (at, size) in taken {
                for slot in (at - start) / 64..(at - start + size) / 64 {
                    page[(slot / 8) as usize] |= 0x80 >> (slot % 8);
                }
            }
            free += page[..496]
                .iter()
                .map(|b| u64::from(b.count_zeros()) * 64)
                .sum::<u64>();
            self.page(start, &mut page, PTYPE_AMAP, start);
            if span.is_multiple_of(PMAP_EVERY) {
                // The PMap is deprecated: all of it marked as used.
                let mut pmap = vec![0xFFu8; PAGE];
                let at = start + PAGE as u64;
                self.page(at, &mut pmap, PTYPE_PMAP, at);
            }
            if has_fmap(span) {
                // The FMap is deprecated too: no free space shown.
                let mut fmap = vec![0u8; PAGE];
                let at = start + 2 * PAGE as u64;
                self.page(at, &mut fmap, PTYPE_FMAP, at);
            }
        }
        (FIRST_AMAP + (used - 1) * AMAP_SPAN, free)
    }
}

/// The bytes of map pages at the start of span `span`: its AMap, a PMap
/// every eighth span and an FMap after that PMap where [`has_fmap`].
fn map_pages(span: u64) -> u64 {
    let pages = 1 + u64::from(span.is_multiple_of(PMAP_EVERY)) + u64::from(has_fmap(span));
    pages * PAGE as u64
}

/// Whether span `span` holds an FMap page (always one with a PMap:
/// 128 and 496 are multiples of 8).
fn has_fmap(span: u64) -> bool {
    span >= FIRST_FMAP_SPAN && (span - FIRST_FMAP_SPAN).is_multiple_of(FMAP_EVERY)
}

const HEADER_LEN: usize = 564;

/// The fields of the Unicode HEADER (and its ROOT) that vary.
struct Header<'a> {
    eof: u64,
    amap_last: u64,
    amap_free: u64,
    nbt: (u64, u64),
    bbt: (u64, u64),
    next_block: u64,
    next_page: u64,
    next_nids: &'a [u32; 32],
}

impl Header<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[0..4].copy_from_slice(b"!BDN");
        h[8..10].copy_from_slice(b"SM");
        h[10..12].copy_from_slice(&23u16.to_le_bytes()); // wVer: Unicode
        h[12..14].copy_from_slice(&19u16.to_le_bytes()); // wVerClient
        h[14] = 1; // bPlatformCreate
        h[15] = 1; // bPlatformAccess
        h[32..40].copy_from_slice(&self.next_page.to_le_bytes()); // bidNextP
        h[40..44].copy_from_slice(&1u32.to_le_bytes()); // dwUnique
        for (i, nid) in self.next_nids.iter().enumerate() {
            h[44 + i * 4..48 + i * 4].copy_from_slice(&nid.to_le_bytes());
        }
        // ROOT at 180.
        h[184..192].copy_from_slice(&self.eof.to_le_bytes());
        h[192..200].copy_from_slice(&self.amap_last.to_le_bytes());
        h[200..208].copy_from_slice(&self.amap_free.to_le_bytes());
        h[216..224].copy_from_slice(&self.nbt.0.to_le_bytes());
        h[224..232].copy_from_slice(&self.nbt.1.to_le_bytes());
        h[232..240].copy_from_slice(&self.bbt.0.to_le_bytes());
        h[240..248].copy_from_slice(&self.bbt.1.to_le_bytes());
        h[248] = 2; // fAMapValid: VALID_AMAP2
        // rgbFM and rgbFP (256..512) are unused since Outlook 2003: 0xFF.
        h[256..512].fill(0xFF);
        h[512] = 0x80; // bSentinel
        h[513] = 0; // bCryptMethod: none
        h[516..524].copy_from_slice(&self.next_block.to_le_bytes());
        let partial = crc(&h[8..8 + 471]);
        h[4..8].copy_from_slice(&partial.to_le_bytes());
        let full = crc(&h[8..8 + 516]);
        h[524..528].copy_from_slice(&full.to_le_bytes());
        h
    }
}

/// The block and page signature of [MS-PST] 5.5.
fn signature(ib: u64, bid: u64) -> u16 {
    let value = (ib as u32) ^ (bid as u32);
    ((value >> 16) as u16) ^ (value as u16)
}

/// The CRC of [MS-PST] 5.3: CRC-32 (reflected 0xEDB88320) started at 0,
/// without the final inversion.
pub fn crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc
}
