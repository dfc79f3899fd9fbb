//! Message fingerprints: how a message is recognised at the destination
//! without downloading it again.
//!
//! A fingerprint hashes the message's size and its header block, byte for
//! byte except that every byte of 128 or above counts as `X`: Cyrus
//! (Debian's default `munge8bit`) stores 8-bit header bytes as `X`, so the
//! copy it holds has the same size and, read that way, the same header.
//! Two copies of the same message share one; two different messages that
//! merely share a Message-ID do not (their other headers or sizes differ).
//! Matching works on a multiset, so two identical copies at the source
//! need two at the destination.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::store::mail::Fingerprint;

/// The fingerprint of a whole message.
pub fn of_message(message: &[u8]) -> Fingerprint {
    of_header(message.len() as u64, header_block(message))
}

/// The fingerprint of a message known by its size and header block.
pub fn of_header(size: u64, header: &[u8]) -> Fingerprint {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&size.to_le_bytes());
    if header.is_ascii() {
        hasher.update(header);
    } else {
        let seven_bit: Vec<u8> = header
            .iter()
            .map(|&b| if b.is_ascii() { b } else { b'X' })
            .collect();
        hasher.update(&seven_bit);
    }
    let mut fingerprint = Fingerprint::default();
    fingerprint.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    fingerprint
}

/// The header block of a message, up to and including the blank line that
/// ends it (the whole message when there is none), as IMAP's
/// `BODY[HEADER]` returns it.
pub fn header_block(message: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < message.len() {
        let end = message[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(message.len(), |i| start + i + 1);
        let line = &message[start..end];
        if line == b"\r\n" || line == b"\n" {
            return &message[..end];
        }
        start = end;
    }
    message
}

/// When a message was received (INTERNALDATE), in seconds since the epoch;
/// `None` when unknown.
pub type Received = Option<i64>;

/// The [`Received`] of an IMAP INTERNALDATE, whatever zone or padding the
/// server wrote it in.
pub fn received(internal_date: &str) -> Received {
    crate::protocols::imap::internal_date(internal_date).map(|d| d.timestamp())
}

/// Messages known to be at the destination, by fingerprint: each entry is
/// claimed at most once. Two copies of one message that differ only in
/// their received date are told apart by it: a claim takes a copy with the
/// same date first.
#[derive(Debug, Default)]
pub struct Present {
    by_fingerprint: HashMap<Fingerprint, VecDeque<(u32, Received)>>,
    sizes: HashSet<u64>,
}

impl Present {
    /// Adds a destination message of `size` bytes.
    pub fn insert(&mut self, fingerprint: Fingerprint, size: u64, dest_uid: u32, date: Received) {
        self.sizes.insert(size);
        self.by_fingerprint
            .entry(fingerprint)
            .or_default()
            .push_back((dest_uid, date));
    }

    /// Claims a destination message with this fingerprint: one received
    /// at `date` if there is one, else any.
    pub fn claim(&mut self, fingerprint: &Fingerprint, date: Received) -> Option<u32> {
        self.claim_exact(fingerprint, date)
            .or_else(|| self.take(fingerprint, |_| true))
    }

    /// Claims a destination message with this fingerprint received at
    /// `date`, and no other.
    pub fn claim_exact(&mut self, fingerprint: &Fingerprint, date: Received) -> Option<u32> {
        date?;
        self.take(fingerprint, |d| d == date)
    }

    fn take(&mut self, fingerprint: &Fingerprint, fits: impl Fn(Received) -> bool) -> Option<u32> {
        let uids = self.by_fingerprint.get_mut(fingerprint)?;
        let at = uids.iter().position(|&(_, d)| fits(d))?;
        let (uid, _) = uids.remove(at)?;
        if uids.is_empty() {
            self.by_fingerprint.remove(fingerprint);
        }
        Some(uid)
    }

    /// Whether some destination message has this size (claimed or not):
    /// only then can a message of that size be there already.
    pub fn holds_size(&self, size: u64) -> bool {
        self.sizes.contains(&size)
    }

    /// Whether nothing is left to claim.
    pub fn is_empty(&self) -> bool {
        self.by_fingerprint.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_ends_at_the_blank_line() {
        let message = b"Subject: a\r\nFrom: b\r\n\r\nbody\r\n\r\nmore";
        assert_eq!(header_block(message), b"Subject: a\r\nFrom: b\r\n\r\n");
        assert_eq!(header_block(b"Subject: x\n\nbody"), b"Subject: x\n\n");
        assert_eq!(header_block(b"no blank line"), b"no blank line");
    }

    #[test]
    fn same_message_id_different_bodies_differ() {
        let a = b"Message-ID: <x@y>\r\n\r\nhello\r\n";
        let b = b"Message-ID: <x@y>\r\n\r\nworld!!\r\n";
        assert_ne!(of_message(a), of_message(b));
        assert_eq!(of_message(a), of_header(a.len() as u64, header_block(a)));
    }

    #[test]
    fn a_header_stored_with_its_8_bit_bytes_as_x_is_the_same_message() {
        let sent = "Subject: caf\u{e9}\r\n\r\nbody \u{e9}\r\n".as_bytes();
        let stored = b"Subject: cafXX\r\n\r\nbody \xc3\xa9\r\n";
        assert_eq!(of_message(sent), of_message(stored));
        let other = b"Subject: cafYY\r\n\r\nbody \xc3\xa9\r\n";
        assert_ne!(of_message(sent), of_message(other));
    }

    #[test]
    fn present_is_a_multiset() {
        let mut present = Present::default();
        let f = of_message(b"A: 1\r\n\r\n");
        present.insert(f, 9, 7, None);
        present.insert(f, 9, 9, None);
        assert!(present.holds_size(9) && !present.holds_size(10));
        assert_eq!(present.claim(&f, None), Some(7));
        assert_eq!(present.claim(&f, None), Some(9));
        assert_eq!(present.claim(&f, None), None);
        assert!(present.is_empty());
    }

    #[test]
    fn twins_are_told_apart_by_their_date() {
        let f = of_message(b"A: 1\r\n\r\n");
        let (monday, tuesday) = (
            received("03-Jan-2022 10:00:00 +0000"),
            received(" 4-Jan-2022 12:00:00 +0200"),
        );
        assert_eq!(tuesday, received("04-Jan-2022 10:00:00 +0000"));
        let mut present = Present::default();
        present.insert(f, 9, 7, monday);
        present.insert(f, 9, 8, tuesday);
        assert_eq!(
            present.claim_exact(&f, received("05-Jan-2022 10:00:00 +0000")),
            None
        );
        assert_eq!(present.claim(&f, tuesday), Some(8));
        assert_eq!(present.claim_exact(&f, tuesday), None);
        assert_eq!(present.claim(&f, tuesday), Some(7), "then by content alone");
    }
}
