//! Mail checkpoints: folders (this file) and the source → destination
//! mapping of their messages ([`messages`]).
//!
//! Before a group of messages is fetched for copying, a *pending* row is
//! written for each (an intent). A row is completed when the copy is
//! confirmed (or when the message is found already at the destination). A
//! message whose APPEND reached the server but whose confirmation was lost
//! in a crash is found again by its fingerprint on the next pass, so it is
//! never copied twice; its pending row tells that mailshift made it, so
//! undo still removes it.

mod messages;

pub use messages::{
    Checkpoint, CheckpointUpdate, Fingerprint, LateCopies, NewCheckpoint, SourceId,
};

use super::db::params;
use super::{Store, StoreError};

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
            conn.query_row(
                    "SELECT id, created, source_uidvalidity, source_uidnext, source_modseq,
                            dest_uidvalidity, dest_uidnext,
                            (SELECT count(*) FROM messages
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
                                source_modseq: row.get::<Option<i64>>(4)?.map(|m| m as u64),
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
                            dest_floor: row.get::<Option<u32>>(6)?.unwrap_or(1),
                            recorded: row.get(7)?,
                        })
                    },
                )
        })
        .await
    }

    /// Notes that mailshift subscribed the folder's destination, which was
    /// not subscribed before.
    pub async fn mark_folder_subscribed(&self, folder_id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE folders SET subscribed = 1 WHERE id = ?1",
                params![folder_id],
            )?;
            Ok(())
        })
        .await
    }

    /// Notes that mailshift created the folder's destination.
    pub async fn mark_folder_created(&self, folder_id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE folders SET created = 1 WHERE id = ?1",
                params![folder_id],
            )?;
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
                    dest_uidnext = CASE WHEN folders.dest_uidvalidity = ?3 THEN dest_uidnext END
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
                        params![folder_id],
                    )?;
                    "UPDATE messages SET source_uid = NULL WHERE folder_id = ?1"
                }
                Side::Destination => "UPDATE messages SET dest_uid = NULL WHERE folder_id = ?1",
            };
            conn.execute(sql, params![folder_id])?;
            Ok(())
        })
        .await
    }
}

impl Store {
    /// Everything the mail stage created for an account, folder by folder.
    pub async fn created_mail(&self, account_id: i64) -> Result<Vec<CreatedInFolder>, StoreError> {
        self.call(move |conn| {
            let rows: Vec<(i64, String, Option<u32>, bool, bool)> = conn.query_map(
                "SELECT id, dest_name, dest_uidvalidity, created, subscribed FROM folders
                 WHERE account_id = ?1 ORDER BY dest_name",
                params![account_id],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, dest_name, dest_uidvalidity, created, subscribed) in rows {
                let uids = conn.query_map(
                    "SELECT dest_uid FROM messages
                     WHERE folder_id = ?1 AND copied = 1 AND pending = 0 AND dest_uid IS NOT NULL
                     ORDER BY dest_uid",
                    params![id],
                    |row| row.get(0),
                )?;
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
            let mut tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM messages WHERE folder_id IN
                   (SELECT id FROM folders WHERE account_id = ?1)",
                params![account_id],
            )?;
            tx.execute(
                "DELETE FROM folders WHERE account_id = ?1",
                params![account_id],
            )?;
            tx.execute(
                "DELETE FROM stages WHERE account_id = ?1 AND kind = 'mail'",
                params![account_id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
