//! Messages the destination stored other than they were sent.
//!
//! A server may rewrite what it is given: Cyrus (Debian's default
//! `munge8bit`) stores every 8-bit header byte as `X`. The fingerprint
//! reads such bytes as `X` on both sides, so the copy is still recognised;
//! this module counts the copies that differ, so the account's report says
//! "stored altered by the server" instead of claiming byte for byte.
//!
//! Only messages with 8-bit header bytes are looked at again (one grouped
//! header FETCH after the folder's APPENDs): a copy of an ASCII message
//! costs nothing more.

use std::collections::HashMap;

use super::fingerprint::header_block;
use crate::protocols::imap::{ImapError, Session};
use crate::store::mail::NewCheckpoint;

/// Copies to look at again once their APPENDs are confirmed.
#[derive(Debug, Default)]
pub(crate) struct Altered {
    /// Size and header sent, of 8-bit messages in flight, by source UID.
    sent: HashMap<u32, (u64, Vec<u8>)>,
    /// Destination UID, size and header sent, of confirmed copies.
    confirmed: Vec<(u32, u64, Vec<u8>)>,
}

impl Altered {
    /// Notes a message about to be appended, if a server might alter it.
    pub(crate) fn note(&mut self, source_uid: u32, body: &[u8]) {
        let header = header_block(body);
        if !header.is_ascii() {
            self.sent
                .insert(source_uid, (body.len() as u64, header.to_vec()));
        }
    }

    /// Takes the confirmed copies among `rows` (those with a destination
    /// UID) for the check.
    pub(crate) fn confirm(&mut self, rows: &[NewCheckpoint]) {
        if self.sent.is_empty() {
            return;
        }
        for row in rows {
            if let (Some(dest_uid), Some((size, header))) =
                (row.dest_uid, self.sent.remove(&row.source))
            {
                self.confirmed.push((dest_uid, size, header));
            }
        }
    }

    /// How many confirmed copies the destination (its folder selected)
    /// holds with another size or header than was sent.
    pub(crate) async fn count(self, dest: &mut Session) -> Result<u64, ImapError> {
        if self.confirmed.is_empty() {
            return Ok(0);
        }
        // Courier shows the selected folder's new messages after a NOOP.
        dest.noop().await?;
        let uids: Vec<u32> = self.confirmed.iter().map(|(uid, _, _)| *uid).collect();
        let stored: HashMap<u32, (u64, Vec<u8>)> = dest
            .fetch_headers(&uids)
            .await?
            .into_iter()
            .map(|h| (h.uid, (h.size, h.header)))
            .collect();
        let altered = self
            .confirmed
            .into_iter()
            .filter(|(uid, size, header)| {
                stored
                    .get(uid)
                    .is_some_and(|(s, h)| s != size || h != header)
            })
            .count();
        Ok(altered as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(source_uid: u32, dest_uid: Option<u32>) -> NewCheckpoint {
        NewCheckpoint {
            source: source_uid,
            dest_uid,
            fingerprint: Default::default(),
            flags: String::new(),
            size: 0,
            copied: true,
        }
    }

    #[test]
    fn only_confirmed_8_bit_messages_are_checked_again() {
        let mut altered = Altered::default();
        altered.note(1, b"Subject: plain\r\n\r\nbody \xe9\r\n");
        altered.note(2, "Subject: caf\u{e9}\r\n\r\nx\r\n".as_bytes());
        altered.note(3, "Subject: na\u{ef}ve\r\n\r\nx\r\n".as_bytes());
        altered.confirm(&[row(1, Some(10)), row(2, Some(11)), row(3, None)]);
        let uids: Vec<u32> = altered.confirmed.iter().map(|c| c.0).collect();
        assert_eq!(uids, [11]);
    }
}
