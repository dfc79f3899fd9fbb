//! POP3 checkpoints: the mail tables, keyed by the source's unique ID
//! (UIDL) instead of an IMAP UID.
//!
//! A POP3 source has one folder (its INBOX), recorded as one `folders` row;
//! its messages are `messages` rows with `source_key` set to the UIDL and
//! no `source_uid`. Intents, fingerprints, the `copied` mark and the
//! destination UIDs mean what they mean for IMAP sources (see
//! [`super::mail`]), so status, reports, verification and undo read them
//! unchanged.

use super::mail::{Fingerprint, fingerprint_of};
use super::{Store, StoreError, execute_each};

/// A recorded POP3 message.
#[derive(Debug, Clone)]
pub struct Pop3Checkpoint {
    /// The row's key.
    pub id: i64,
    /// The source's unique ID for the message (UIDL).
    pub key: String,
    /// `None` when the destination did not say or its UIDVALIDITY changed.
    pub dest_uid: Option<u32>,
    /// The message's content fingerprint.
    pub fingerprint: Fingerprint,
    /// An intent: the copy may or may not have reached the destination.
    pub pending: bool,
}

/// A POP3 message to record.
#[derive(Debug, Clone)]
pub struct NewPop3Checkpoint {
    /// The source's unique ID for the message (UIDL).
    pub key: String,
    /// The destination UID, when the destination said (UIDPLUS).
    pub dest_uid: Option<u32>,
    /// The message's content fingerprint.
    pub fingerprint: Fingerprint,
    /// The message's size in bytes.
    pub size: u64,
    /// Whether mailshift copied it (as opposed to finding it there).
    pub copied: bool,
}

impl Store {
    /// Every recorded message of a POP3 folder.
    pub async fn pop3_checkpoints(
        &self,
        folder_id: i64,
    ) -> Result<Vec<Pop3Checkpoint>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, source_key, dest_uid, fingerprint, pending
                 FROM messages WHERE folder_id = ?1 AND source_key IS NOT NULL",
            )?;
            let rows = stmt.query_map([folder_id], |row| {
                let fingerprint = fingerprint_of(&row.get::<_, Vec<u8>>(3)?);
                Ok(Pop3Checkpoint {
                    id: row.get(0)?,
                    key: row.get(1)?,
                    dest_uid: row.get(2)?,
                    fingerprint,
                    pending: row.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Writes pending rows (intents) for source messages about to be
    /// fetched; rows that exist already are left as they are.
    pub async fn record_pop3_intents(
        &self,
        folder_id: i64,
        keys: Vec<String>,
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            execute_each(
                conn,
                "INSERT OR IGNORE INTO messages
                       (folder_id, source_key, fingerprint, flags, size, copied, pending)
                     VALUES (?1, ?2, x'', '', 0, 1, 1)",
                keys.iter().map(|key| (folder_id, key)),
            )
        })
        .await
    }

    /// Drops the intents of messages that turned out not to be copied
    /// (left out by a date filter once their headers were seen).
    pub async fn forget_pop3_intents(
        &self,
        folder_id: i64,
        keys: Vec<String>,
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            execute_each(
                conn,
                "DELETE FROM messages WHERE folder_id = ?1 AND source_key = ?2 AND pending = 1",
                keys.iter().map(|key| (folder_id, key)),
            )
        })
        .await
    }

    /// Records messages (completing their intents), all in one transaction.
    pub async fn record_pop3_checkpoints(
        &self,
        folder_id: i64,
        rows: Vec<NewPop3Checkpoint>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            execute_each(
                conn,
                "INSERT INTO messages
                       (folder_id, source_key, dest_uid, fingerprint, flags, size, copied)
                     VALUES (?1, ?2, ?3, ?4, '', ?5, ?6)
                     ON CONFLICT (folder_id, source_key) DO UPDATE SET
                       dest_uid = excluded.dest_uid, fingerprint = excluded.fingerprint,
                       size = excluded.size, copied = excluded.copied, pending = 0",
                rows.iter().map(|row| {
                    (
                        folder_id,
                        &row.key,
                        row.dest_uid,
                        &row.fingerprint[..],
                        row.size as i64,
                        row.copied,
                    )
                }),
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn intents_are_completed_by_key() {
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
            .record_pop3_intents(folder.id, vec!["a".into(), "b".into()])
            .await
            .unwrap();
        store
            .record_pop3_checkpoints(
                folder.id,
                vec![NewPop3Checkpoint {
                    key: "a".into(),
                    dest_uid: Some(7),
                    fingerprint: [1; 16],
                    size: 10,
                    copied: true,
                }],
            )
            .await
            .unwrap();
        let mut rows = store.pop3_checkpoints(folder.id).await.unwrap();
        rows.sort_by(|x, y| x.key.cmp(&y.key));
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].dest_uid, rows[0].pending), (Some(7), false));
        assert_eq!(rows[0].fingerprint, [1; 16]);
        assert!(rows[1].pending);
        let created = store.created_mail(account).await.unwrap();
        assert_eq!(created[0].messages, vec![7]);
    }
}
