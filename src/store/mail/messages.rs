//! Message checkpoints: per folder, which source message became which
//! destination message, with its fingerprint and flags; intents (pending
//! rows) written before a copy and completed after it.

use std::collections::HashSet;
use std::hash::Hash;

use super::super::db::params;
use super::super::{FromValue, Store, StoreError, ToValue};

/// A message's identity for matching: a hash of its size and header block.
pub type Fingerprint = [u8; 16];

/// A stored fingerprint (an intent's is empty: all zeros).
pub(crate) fn fingerprint_of(bytes: &[u8]) -> Fingerprint {
    let mut fingerprint = Fingerprint::default();
    let n = bytes.len().min(fingerprint.len());
    fingerprint[..n].copy_from_slice(&bytes[..n]);
    fingerprint
}

/// How a source names its messages, and the column that records it.
pub trait SourceId: ToValue + FromValue + Clone + Eq + Hash + Send + Sync + 'static {
    /// The `messages` column holding it.
    const COLUMN: &'static str;
}

/// An IMAP UID.
impl SourceId for u32 {
    const COLUMN: &'static str = "source_uid";
}

/// A text key: a POP3 UIDL, an Outlook file's node ID.
impl SourceId for String {
    const COLUMN: &'static str = "source_key";
}

/// A recorded message.
#[derive(Debug, Clone)]
pub struct Checkpoint<K = u32> {
    /// The row's key.
    pub id: i64,
    /// The source message; `None` once the source's UIDVALIDITY changed
    /// and the row awaits re-matching by content.
    pub source: Option<K>,
    /// `None` when the destination did not say (no UIDPLUS) or its
    /// UIDVALIDITY changed.
    pub dest_uid: Option<u32>,
    /// The message's content fingerprint.
    pub fingerprint: Fingerprint,
    /// The flags last written to the destination, space-separated.
    pub flags: String,
    /// Whether mailshift copied it (as opposed to finding it there).
    pub copied: bool,
    /// An intent: the copy may or may not have reached the destination.
    pub pending: bool,
}

/// A message to record.
#[derive(Debug, Clone)]
pub struct NewCheckpoint<K = u32> {
    /// The source message.
    pub source: K,
    /// The destination UID, when the destination said (UIDPLUS).
    pub dest_uid: Option<u32>,
    /// The message's content fingerprint.
    pub fingerprint: Fingerprint,
    /// The flags written to the destination, space-separated (none for
    /// sources whose flags are not kept in step).
    pub flags: String,
    /// The message's size in bytes.
    pub size: u64,
    /// Whether mailshift copied it (as opposed to finding it there).
    pub copied: bool,
}

/// A change to a recorded message.
#[derive(Debug, Clone)]
pub enum CheckpointUpdate {
    /// The source message now has these flags, and so has the destination.
    Flags {
        /// The row's key.
        id: i64,
        /// The flags, space-separated.
        flags: String,
    },
    /// An orphaned row (see [`Checkpoint::source`]) matched this source UID.
    SourceUid {
        /// The row's key.
        id: i64,
        /// The source UID it now belongs to.
        source_uid: u32,
    },
    /// A row without a destination UID matched this destination message.
    DestUid {
        /// The row's key.
        id: i64,
        /// The destination UID it now belongs to.
        dest_uid: u32,
    },
}

/// The copies of a folder that an interrupted attempt had announced, and
/// the destination UIDs the rows record. A server goes on storing what a
/// dead client had sent (Courier stores the APPEND whose literal it had
/// received, at its own pace), possibly after the next pass looked and
/// sent the message again: a destination message no row records that has
/// the fingerprint of such a copy is that late APPEND, a twin mailshift
/// made.
#[derive(Debug, Clone, Default)]
pub struct LateCopies {
    /// Fingerprints of the copies announced by an interrupted attempt,
    /// with how many copies have each.
    pub fingerprints: std::collections::HashMap<Fingerprint, usize>,
    /// Every destination UID the folder's rows record.
    pub recorded: std::collections::HashSet<u32>,
}

impl Store {
    /// Every recorded message of a folder.
    pub async fn checkpoints<K: SourceId>(
        &self,
        folder_id: i64,
    ) -> Result<Vec<Checkpoint<K>>, StoreError> {
        self.select(
            format!(
                "SELECT id, {}, dest_uid, fingerprint, flags, copied, pending
                 FROM messages WHERE folder_id = ?1",
                K::COLUMN
            ),
            params![folder_id],
            |row| {
                Ok(Checkpoint {
                    id: row.get(0)?,
                    source: row.get(1)?,
                    dest_uid: row.get(2)?,
                    fingerprint: fingerprint_of(&row.get::<Vec<u8>>(3)?),
                    flags: row.get(4)?,
                    copied: row.get(5)?,
                    pending: row.get(6)?,
                })
            },
        )
        .await
    }

    /// The source UIDs of a folder's completed rows.
    pub async fn recorded_source_uids(
        &self,
        folder_id: i64,
    ) -> Result<std::collections::HashSet<u32>, StoreError> {
        let uids = self
            .select(
                "SELECT source_uid FROM messages
                 WHERE folder_id = ?1 AND pending = 0 AND source_uid IS NOT NULL",
                params![folder_id],
                |row| row.get(0),
            )
            .await?;
        Ok(uids.into_iter().collect())
    }

    /// Notes that the pending rows of a folder are an interrupted attempt's
    /// (see [`LateCopies`]); called as a pass begins, before it writes
    /// intents of its own.
    pub async fn mark_interrupted(&self, folder_id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE messages SET interrupted = 1 WHERE folder_id = ?1 AND pending = 1",
                params![folder_id],
            )?;
            Ok(())
        })
        .await
    }

    /// What a pass needs to tell a late APPEND of an interrupted attempt
    /// from the rest of a folder; `None` when no row was interrupted.
    pub async fn late_copies(&self, folder_id: i64) -> Result<Option<LateCopies>, StoreError> {
        self.call(move |conn| {
            let interrupted = conn.query_map(
                "SELECT fingerprint FROM messages
                 WHERE folder_id = ?1 AND interrupted = 1 AND pending = 0 AND copied = 1",
                params![folder_id],
                |row| row.get::<Vec<u8>>(0),
            )?;
            let mut fingerprints = std::collections::HashMap::new();
            for bytes in interrupted {
                *fingerprints.entry(fingerprint_of(&bytes)).or_default() += 1;
            }
            if fingerprints.is_empty() {
                return Ok(None);
            }
            let recorded = conn
                .query_map(
                    "SELECT dest_uid FROM messages WHERE folder_id = ?1 AND dest_uid IS NOT NULL",
                    params![folder_id],
                    |row| row.get(0),
                )?
                .into_iter()
                .collect();
            Ok(Some(LateCopies {
                fingerprints,
                recorded,
            }))
        })
        .await
    }

    /// Forgets rows whose message is no longer at the destination, so that
    /// it is copied again.
    pub async fn forget_checkpoints(&self, ids: Vec<i64>) -> Result<(), StoreError> {
        let rows = ids.iter().map(|id| params![id]).collect();
        self.execute_rows("DELETE FROM messages WHERE id = ?1".into(), rows)
            .await
    }

    /// Records messages (completing their intents), all in one transaction.
    /// Of two rows for one source message, the later is kept.
    pub async fn record_checkpoints<K: SourceId>(
        &self,
        folder_id: i64,
        rows: Vec<NewCheckpoint<K>>,
    ) -> Result<(), StoreError> {
        let head = format!(
            "INSERT INTO messages (folder_id, {}, dest_uid, fingerprint, flags, size, copied)",
            K::COLUMN
        );
        let tail = format!(
            "ON CONFLICT (folder_id, {}) DO UPDATE SET
               dest_uid = excluded.dest_uid, fingerprint = excluded.fingerprint,
               flags = excluded.flags, size = excluded.size, copied = excluded.copied,
               pending = 0",
            K::COLUMN
        );
        // One statement may not update a row twice: the last row wins, as
        // it would one statement after another.
        let mut seen = HashSet::new();
        let mut rows: Vec<_> = rows
            .iter()
            .rev()
            .filter(|row| seen.insert(row.source.clone()))
            .map(|row| {
                params![
                    folder_id,
                    row.source,
                    row.dest_uid,
                    row.fingerprint,
                    row.flags,
                    row.size,
                    row.copied,
                ]
            })
            .collect();
        rows.reverse();
        self.insert_rows(&head, "(?1, ?2, ?3, ?4, ?5, ?6, ?7)", &tail, rows)
            .await
    }

    /// Writes pending rows (intents) for source messages about to be
    /// copied; rows that exist already are left as they are.
    pub async fn record_intents<K: SourceId>(
        &self,
        folder_id: i64,
        sources: Vec<K>,
    ) -> Result<(), StoreError> {
        let head = format!(
            "INSERT INTO messages (folder_id, {}, fingerprint, flags, size, copied, pending)",
            K::COLUMN
        );
        // An intent's fingerprint is empty until the copy is made.
        let mut seen = HashSet::new();
        let rows = sources
            .into_iter()
            .filter(|source| seen.insert(source.clone()))
            .map(|source| params![folder_id, source, Vec::<u8>::new()])
            .collect();
        self.insert_rows(
            &head,
            "(?1, ?2, ?3, '', 0, 1, 1)",
            "ON CONFLICT DO NOTHING",
            rows,
        )
        .await
    }

    /// Drops the intents of messages that turned out not to be copied
    /// (left out once read: filtered, failed, not mail).
    pub async fn forget_intents<K: SourceId>(
        &self,
        folder_id: i64,
        sources: Vec<K>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "DELETE FROM messages WHERE folder_id = ?1 AND {} = ?2 AND pending = 1",
            K::COLUMN
        );
        let rows = sources
            .iter()
            .map(|source| params![folder_id, source])
            .collect();
        self.execute_rows(sql, rows).await
    }

    /// Applies changes to recorded messages, all in one transaction.
    pub async fn update_checkpoints(
        &self,
        updates: Vec<CheckpointUpdate>,
    ) -> Result<(), StoreError> {
        if updates.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            for update in &updates {
                match update {
                    CheckpointUpdate::Flags { id, flags } => tx.execute(
                        "UPDATE messages SET flags = ?2 WHERE id = ?1",
                        params![id, flags],
                    )?,
                    CheckpointUpdate::SourceUid { id, source_uid } => {
                        // The re-matched row replaces the intent written for this UID.
                        tx.execute(
                            "DELETE FROM messages WHERE pending = 1 AND source_uid = ?2
                               AND folder_id = (SELECT folder_id FROM messages WHERE id = ?1)",
                            params![id, source_uid],
                        )?;
                        tx.execute(
                            "UPDATE messages SET source_uid = ?2 WHERE id = ?1",
                            params![id, source_uid],
                        )?
                    }
                    CheckpointUpdate::DestUid { id, dest_uid } => tx.execute(
                        "UPDATE messages SET dest_uid = ?2 WHERE id = ?1",
                        params![id, dest_uid],
                    )?,
                };
            }
            tx.commit()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{for_each_backend, one_account};

    #[tokio::test]
    async fn a_large_group_is_written_whole_and_a_repeated_source_keeps_its_last_row() {
        for_each_backend(|store| async move {
            let account = one_account(&store).await;
            let folder = store.open_folder(account, "INBOX", "INBOX").await.unwrap();
            // 300 rows: statements of 64, 64, 64, 64, 32, 8 and 4 rows.
            let uids: Vec<u32> = (1..=300).collect();
            store
                .record_intents(folder.id, [&uids[..], &[5, 5]].concat())
                .await
                .unwrap();
            let row = |uid: u32, mark: u8| NewCheckpoint {
                source: uid,
                dest_uid: Some(uid + 1000),
                fingerprint: [mark; 16],
                flags: format!("\\Seen {mark}"),
                size: u64::from(uid),
                copied: true,
            };
            let mut rows: Vec<_> = uids.iter().map(|&uid| row(uid, 1)).collect();
            rows.insert(10, row(300, 9));
            rows.push(row(7, 2));
            store.record_checkpoints(folder.id, rows).await.unwrap();
            let mut got = store.checkpoints::<u32>(folder.id).await.unwrap();
            got.sort_by_key(|c| c.source);
            assert_eq!(got.len(), 300);
            for (c, uid) in got.iter().zip(1..) {
                assert_eq!(
                    (c.source, c.dest_uid, c.pending),
                    (Some(uid), Some(uid + 1000), false)
                );
                let mark = if uid == 7 { 2 } else { 1 };
                assert_eq!(
                    (c.fingerprint, c.flags.clone()),
                    ([mark; 16], format!("\\Seen {mark}"))
                );
            }
        })
        .await;
    }

    #[tokio::test]
    async fn intents_of_keyed_sources_are_completed_by_key() {
        for_each_backend(|store| async move {
            let account = one_account(&store).await;
            let folder = store
                .open_folder(account, "POP3 INBOX", "INBOX")
                .await
                .unwrap();
            store
                .record_intents(folder.id, vec!["a".to_owned(), "b".to_owned()])
                .await
                .unwrap();
            store
                .record_checkpoints(
                    folder.id,
                    vec![NewCheckpoint {
                        source: "a".to_owned(),
                        dest_uid: Some(7),
                        fingerprint: [1; 16],
                        flags: String::new(),
                        size: 10,
                        copied: true,
                    }],
                )
                .await
                .unwrap();
            let mut rows = store.checkpoints::<String>(folder.id).await.unwrap();
            rows.sort_by(|x, y| x.source.cmp(&y.source));
            assert_eq!(rows.len(), 2);
            assert_eq!((rows[0].dest_uid, rows[0].pending), (Some(7), false));
            assert_eq!(rows[0].fingerprint, [1; 16]);
            assert!(rows[1].pending);
            let created = store.created_mail(account).await.unwrap();
            assert_eq!(created[0].messages, vec![7]);
        })
        .await;
    }
}
