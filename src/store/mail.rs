//! Mail checkpoints: folders and the source-UID → destination-UID mapping.
//!
//! Before a group of messages is fetched for copying, a *pending* row is
//! written for each (an intent). A row is completed when the copy is
//! confirmed (or when the message is found already at the destination). A
//! message whose APPEND reached the server but whose confirmation was lost
//! in a crash is found again by its fingerprint on the next pass, so it is
//! never copied twice; its pending row tells that mailshift made it, so
//! undo still removes it.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, execute_each};

/// A message's identity for matching: a hash of its size and header block.
pub type Fingerprint = [u8; 16];

/// A stored fingerprint (an intent's is empty: all zeros).
pub(crate) fn fingerprint_of(bytes: &[u8]) -> Fingerprint {
    let mut fingerprint = Fingerprint::default();
    let n = bytes.len().min(fingerprint.len());
    fingerprint[..n].copy_from_slice(&bytes[..n]);
    fingerprint
}

/// A folder's row.
#[derive(Debug, Clone)]
pub struct FolderRecord {
    /// The folder's key in the store.
    pub id: i64,
    /// Whether mailshift created the destination folder (undo removes it).
    pub created: bool,
    /// The UIDVALIDITY of each side when the recorded UIDs were taken.
    pub uidvalidity: Option<(u32, u32)>,
    /// Where the last complete pass left both sides, if there was one.
    pub watermark: Option<Watermark>,
    /// Every destination UID below this one is recorded or was already
    /// examined; only UIDs from here on can be unrecorded copies.
    pub dest_floor: u32,
    /// Messages the checkpoints say are at the destination: it may not
    /// hold fewer.
    pub recorded: u32,
}

/// Both sides' state at the end of a complete pass over a folder. When
/// both sides still show the same values, nothing has changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    /// The source folder's UIDVALIDITY.
    pub source_uidvalidity: u32,
    /// The source folder's UIDNEXT.
    pub source_uidnext: u32,
    /// The source's HIGHESTMODSEQ (CONDSTORE); without it flag changes
    /// cannot be seen cheaply and the folder is always rescanned.
    pub source_modseq: Option<u64>,
    /// The destination folder's UIDVALIDITY.
    pub dest_uidvalidity: u32,
    /// The destination folder's UIDNEXT.
    pub dest_uidnext: u32,
}

/// How a source names its messages, and the column that records it.
pub trait SourceId:
    rusqlite::ToSql + rusqlite::types::FromSql + Clone + Send + Sync + 'static
{
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

impl Store {
    /// The folder `source_name` of an account, created on first use.
    pub async fn open_folder(
        &self,
        account_id: i64,
        source_name: &str,
        dest_name: &str,
    ) -> Result<FolderRecord, StoreError> {
        let (source_name, dest_name) = (source_name.to_owned(), dest_name.to_owned());
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO folders (account_id, source_name, dest_name) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id, source_name) DO UPDATE SET dest_name = excluded.dest_name",
                params![account_id, source_name, dest_name],
            )?;
            let record = conn
                .query_row(
                    "SELECT id, created, source_uidvalidity, source_uidnext, source_modseq,
                            dest_uidvalidity, dest_uidnext,
                            (SELECT COUNT(*) FROM messages
                             WHERE folder_id = folders.id AND pending = 0)
                     FROM folders WHERE account_id = ?1 AND source_name = ?2",
                    params![account_id, source_name],
                    |row| {
                        let uidvalidity = match (row.get(2)?, row.get(5)?) {
                            (Some(source), Some(dest)) => Some((source, dest)),
                            _ => None,
                        };
                        let watermark = match (uidvalidity, row.get(3)?, row.get(6)?) {
                            (Some((svalid, dvalid)), Some(snext), Some(dnext)) => Some(Watermark {
                                source_uidvalidity: svalid,
                                source_uidnext: snext,
                                source_modseq: row.get::<_, Option<i64>>(4)?.map(|m| m as u64),
                                dest_uidvalidity: dvalid,
                                dest_uidnext: dnext,
                            }),
                            _ => None,
                        };
                        Ok(FolderRecord {
                            id: row.get(0)?,
                            created: row.get(1)?,
                            uidvalidity,
                            watermark,
                            dest_floor: row.get::<_, Option<u32>>(6)?.unwrap_or(1),
                            recorded: row.get(7)?,
                        })
                    },
                )
                .optional()?;
            record.ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
        })
        .await
    }

    /// Notes that mailshift subscribed the folder's destination, which was
    /// not subscribed before.
    pub async fn mark_folder_subscribed(&self, folder_id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE folders SET subscribed = 1 WHERE id = ?1",
                [folder_id],
            )?;
            Ok(())
        })
        .await
    }

    /// Notes that mailshift created the folder's destination.
    pub async fn mark_folder_created(&self, folder_id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute("UPDATE folders SET created = 1 WHERE id = ?1", [folder_id])?;
            Ok(())
        })
        .await
    }

    /// Notes the UIDVALIDITY of both sides at the start of a pass, and
    /// forgets the last watermark until the pass completes. The destination
    /// floor stays while the destination's UIDVALIDITY does.
    pub async fn begin_folder_pass(
        &self,
        folder_id: i64,
        source_uidvalidity: u32,
        dest_uidvalidity: u32,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE folders SET source_uidvalidity = ?2, dest_uidvalidity = ?3,
                    source_uidnext = NULL, source_modseq = NULL,
                    dest_uidnext = CASE WHEN dest_uidvalidity = ?3 THEN dest_uidnext END
                 WHERE id = ?1",
                params![folder_id, source_uidvalidity, dest_uidvalidity],
            )?;
            Ok(())
        })
        .await
    }

    /// Records how many messages each side of a folder holds, as the
    /// verification that reports show.
    pub async fn save_folder_counts(
        &self,
        folder_id: i64,
        source: u32,
        dest: u32,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE folders SET source_messages = ?2, dest_messages = ?3 WHERE id = ?1",
                params![folder_id, source, dest],
            )?;
            Ok(())
        })
        .await
    }

    /// Saves where a complete pass left both sides.
    pub async fn save_watermark(&self, folder_id: i64, mark: Watermark) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE folders SET source_uidvalidity = ?2, source_uidnext = ?3,
                    source_modseq = ?4, dest_uidvalidity = ?5, dest_uidnext = ?6
                 WHERE id = ?1",
                params![
                    folder_id,
                    mark.source_uidvalidity,
                    mark.source_uidnext,
                    mark.source_modseq.map(|m| m as i64),
                    mark.dest_uidvalidity,
                    mark.dest_uidnext
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Forgets one side's UIDs after its UIDVALIDITY changed; the rows stay
    /// (with their fingerprints) to be re-matched by content.
    pub async fn forget_uids(&self, folder_id: i64, side: Side) -> Result<(), StoreError> {
        self.call(move |conn| {
            let sql = match side {
                // A pending row is only an intent, meaningless under the new UIDs.
                Side::Source => {
                    conn.execute(
                        "DELETE FROM messages WHERE folder_id = ?1 AND pending = 1",
                        [folder_id],
                    )?;
                    "UPDATE messages SET source_uid = NULL WHERE folder_id = ?1"
                }
                Side::Destination => "UPDATE messages SET dest_uid = NULL WHERE folder_id = ?1",
            };
            conn.execute(sql, [folder_id])?;
            Ok(())
        })
        .await
    }

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
            [folder_id],
            |row| {
                Ok(Checkpoint {
                    id: row.get(0)?,
                    source: row.get(1)?,
                    dest_uid: row.get(2)?,
                    fingerprint: fingerprint_of(&row.get::<_, Vec<u8>>(3)?),
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
                [folder_id],
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
                [folder_id],
            )?;
            Ok(())
        })
        .await
    }

    /// What a pass needs to tell a late APPEND of an interrupted attempt
    /// from the rest of a folder; `None` when no row was interrupted.
    pub async fn late_copies(&self, folder_id: i64) -> Result<Option<LateCopies>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT fingerprint FROM messages
                 WHERE folder_id = ?1 AND interrupted = 1 AND pending = 0 AND copied = 1",
            )?;
            let mut fingerprints = std::collections::HashMap::new();
            for bytes in stmt.query_map([folder_id], |row| row.get::<_, Vec<u8>>(0))? {
                *fingerprints.entry(fingerprint_of(&bytes?)).or_default() += 1;
            }
            if fingerprints.is_empty() {
                return Ok(None);
            }
            let mut stmt = conn.prepare_cached(
                "SELECT dest_uid FROM messages WHERE folder_id = ?1 AND dest_uid IS NOT NULL",
            )?;
            let recorded = stmt
                .query_map([folder_id], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
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
        self.call(move |conn| {
            execute_each(
                conn,
                "DELETE FROM messages WHERE id = ?1",
                ids.iter().map(|id| (id,)),
            )
        })
        .await
    }

    /// Records messages (completing their intents), all in one transaction.
    pub async fn record_checkpoints<K: SourceId>(
        &self,
        folder_id: i64,
        rows: Vec<NewCheckpoint<K>>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            execute_each(
                conn,
                &format!(
                    "INSERT INTO messages
                       (folder_id, {0}, dest_uid, fingerprint, flags, size, copied)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (folder_id, {0}) DO UPDATE SET
                       dest_uid = excluded.dest_uid, fingerprint = excluded.fingerprint,
                       flags = excluded.flags, size = excluded.size, copied = excluded.copied,
                       pending = 0",
                    K::COLUMN
                ),
                rows.iter().map(|row| {
                    (
                        folder_id,
                        &row.source,
                        row.dest_uid,
                        &row.fingerprint[..],
                        &row.flags,
                        row.size as i64,
                        row.copied,
                    )
                }),
            )
        })
        .await
    }

    /// Writes pending rows (intents) for source messages about to be
    /// copied; rows that exist already are left as they are.
    pub async fn record_intents<K: SourceId>(
        &self,
        folder_id: i64,
        sources: Vec<K>,
    ) -> Result<(), StoreError> {
        self.each_source(
            folder_id,
            sources,
            "INSERT OR IGNORE INTO messages
               (folder_id, {source}, fingerprint, flags, size, copied, pending)
             VALUES (?1, ?2, x'', '', 0, 1, 1)",
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
        self.each_source(
            folder_id,
            sources,
            "DELETE FROM messages WHERE folder_id = ?1 AND {source} = ?2 AND pending = 1",
        )
        .await
    }

    /// Runs `sql` (`?1` the folder, `?2` the message, `{source}` its
    /// column) for each source message, in one transaction.
    async fn each_source<K: SourceId>(
        &self,
        folder_id: i64,
        sources: Vec<K>,
        sql: &'static str,
    ) -> Result<(), StoreError> {
        if sources.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            execute_each(
                conn,
                &sql.replace("{source}", K::COLUMN),
                sources.iter().map(|source| (folder_id, source)),
            )
        })
        .await
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
            let tx = conn.transaction()?;
            for update in &updates {
                match update {
                    CheckpointUpdate::Flags { id, flags } => tx
                        .prepare_cached("UPDATE messages SET flags = ?2 WHERE id = ?1")?
                        .execute(params![id, flags])?,
                    CheckpointUpdate::SourceUid { id, source_uid } => {
                        // The re-matched row replaces the intent written for this UID.
                        tx.prepare_cached(
                            "DELETE FROM messages WHERE pending = 1 AND source_uid = ?2
                               AND folder_id = (SELECT folder_id FROM messages WHERE id = ?1)",
                        )?
                        .execute(params![id, source_uid])?;
                        tx.prepare_cached("UPDATE messages SET source_uid = ?2 WHERE id = ?1")?
                            .execute(params![id, source_uid])?
                    }
                    CheckpointUpdate::DestUid { id, dest_uid } => tx
                        .prepare_cached("UPDATE messages SET dest_uid = ?2 WHERE id = ?1")?
                        .execute(params![id, dest_uid])?,
                };
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
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

/// One end of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The source mailbox.
    Source,
    /// The destination mailbox.
    Destination,
}

/// What mailshift created in one destination folder: what undo removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedInFolder {
    /// The destination folder's name, decoded.
    pub dest_name: String,
    /// The destination's UIDVALIDITY the UIDs belong to.
    pub dest_uidvalidity: Option<u32>,
    /// Whether mailshift created the folder itself.
    pub created: bool,
    /// Whether mailshift subscribed the folder (it was not before).
    pub subscribed: bool,
    /// Destination UIDs of the messages mailshift copied there.
    pub messages: Vec<u32>,
}

impl Store {
    /// Everything the mail stage created for an account, folder by folder.
    pub async fn created_mail(&self, account_id: i64) -> Result<Vec<CreatedInFolder>, StoreError> {
        self.call(move |conn| {
            let mut folders = conn.prepare_cached(
                "SELECT id, dest_name, dest_uidvalidity, created, subscribed FROM folders
                 WHERE account_id = ?1 ORDER BY dest_name",
            )?;
            let mut messages = conn.prepare_cached(
                "SELECT dest_uid FROM messages
                 WHERE folder_id = ?1 AND copied = 1 AND pending = 0 AND dest_uid IS NOT NULL
                 ORDER BY dest_uid",
            )?;
            let rows: Vec<(i64, String, Option<u32>, bool, bool)> = folders
                .query_map([account_id], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })?
                .collect::<Result<_, _>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, dest_name, dest_uidvalidity, created, subscribed) in rows {
                let uids = messages
                    .query_map([id], |row| row.get(0))?
                    .collect::<Result<_, _>>()?;
                out.push(CreatedInFolder {
                    dest_name,
                    dest_uidvalidity,
                    created,
                    subscribed,
                    messages: uids,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Forgets an account's mail checkpoints (after undo), so that running
    /// the migration again copies everything again.
    pub async fn forget_mail(&self, account_id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM messages WHERE folder_id IN
                   (SELECT id FROM folders WHERE account_id = ?1)",
                [account_id],
            )?;
            tx.execute("DELETE FROM folders WHERE account_id = ?1", [account_id])?;
            tx.execute(
                "DELETE FROM stages WHERE account_id = ?1 AND kind = 'mail'",
                [account_id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn intents_of_keyed_sources_are_completed_by_key() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        let account = store
            .call(|conn| {
                conn.execute_batch(
                    "INSERT INTO batches (public_id, name, state, created_at, updated_at)
                       VALUES ('B', 'b', 'running', 0, 0);
                     INSERT INTO accounts (batch_id, migration_id, source_email,
                       destination_email, state, created_at, updated_at)
                       VALUES (1, 'M', 'a@x', 'a@y', 'running', 0, 0);",
                )?;
                Ok(conn.last_insert_rowid())
            })
            .await
            .unwrap();
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
    }
}
