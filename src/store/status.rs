//! Reading where batches and accounts stand: for `status`, `list`, the
//! reports, and cancel requests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::db::params;
use super::{Db, Row, Store, StoreError, now};
use crate::vocabulary::{AccountState, BatchState, StageState};

/// An account's full status: what the seed's status page shows, and more.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AccountStatus {
    /// The account's key in the store.
    #[serde(skip)]
    pub key: i64,
    /// The migration ID users quote.
    pub migration_id: String,
    /// The batch ID.
    pub batch_id: String,
    /// The batch name.
    pub batch: String,
    /// The manifest the batch was last run from.
    #[serde(skip)]
    pub manifest: Option<String>,
    /// The batch's key in the store.
    #[serde(skip)]
    pub batch_key: i64,
    /// The source mailbox's address.
    pub source: String,
    /// The destination mailbox's address.
    pub destination: String,
    /// `host:port` (or file path) of the source.
    pub source_server: Option<String>,
    /// `host:port` of the destination.
    pub destination_server: Option<String>,
    /// Where the account stands.
    pub state: AccountState,
    /// The stage running now, if any.
    pub stage: Option<String>,
    /// When the account was registered.
    pub created_at: DateTime<Utc>,
    /// When anything about it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its migration finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Until when `undo` is allowed (once the account has finished).
    pub undo_until: Option<DateTime<Utc>>,
    /// Why the account failed, when it did.
    pub error: Option<String>,
    /// Whether `mailshift cancel` was asked for it.
    pub cancel_requested: bool,
    /// Its stages, in the order they ran.
    pub stages: Vec<StageStatus>,
    /// Verification: what each folder holds on both sides after the last
    /// pass (the destination may hold more: mail that was already there).
    pub folders: Vec<FolderCount>,
    /// Items that failed, with their reasons (the latest first, at most 1000).
    pub item_errors: Vec<ItemError>,
    /// Each undo of the account, oldest first: what the migration had
    /// copied, and what the undo removed and left.
    pub history: Vec<UndoRecord>,
}

/// One undo of an account, as its history keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UndoRecord {
    /// When the undo ended.
    pub undone_at: DateTime<Utc>,
    /// Items each stage had copied (all runs together) before the undo.
    pub copied: std::collections::BTreeMap<String, u64>,
    /// What the undo removed, a line each.
    pub removed: Vec<String>,
    /// What it could not remove, and why.
    pub left: Vec<String>,
}

/// One stage of an account.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StageStatus {
    /// The option: `mail`, `contacts`, ...
    pub kind: String,
    /// Where the stage stands.
    pub state: StageState,
    /// Items at the source in the last pass.
    pub found: u64,
    /// Items copied, all runs together.
    pub copied: u64,
    /// Items found already at the destination, all runs together.
    pub present: u64,
    /// Items left out by filters in the last pass.
    pub skipped: u64,
    /// Items that failed in the last pass.
    pub failed: u64,
    /// Bytes copied, all runs together.
    pub bytes: u64,
    /// When the stage last started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it last finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Copies the destination stored other than they were sent, all runs
    /// together (a server that rewrites messages).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub altered: u64,
    /// Copies a label-aware source (Gmail) spared in the last run: a
    /// message under several labels copied fewer times, and its views
    /// (All Mail, Starred, Important) not copied as folders.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_copies_avoided: u64,
    /// How a label-aware source (Gmail) was read: `all` (a copy per
    /// label) or `first` (one copy); absent for any other source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_mode: Option<String>,
    /// What the running pass will have dealt with once done, when it knows
    /// (the mail stage, after its folders' STATUS); `found` is the last
    /// finished pass's.
    #[serde(skip)]
    pub pass_total: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A folder's message count on both sides.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FolderCount {
    /// The source folder's name.
    pub source: String,
    /// The destination folder's name.
    pub destination: String,
    /// Messages in the source folder.
    pub source_messages: Option<u32>,
    /// Messages in the destination folder.
    pub destination_messages: Option<u32>,
}

/// One failed item.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ItemError {
    /// The stage it belongs to.
    pub stage: String,
    /// Which item: a folder and UID, a URL, a script name.
    pub item: String,
    /// Why it failed.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A batch and its accounts, one line each.
#[derive(Debug, Clone, Serialize)]
pub struct BatchStatus {
    /// The batch ID users quote.
    pub batch_id: String,
    /// The batch name.
    pub name: String,
    /// Where the batch stands.
    pub state: BatchState,
    /// When the batch was first run.
    pub created_at: DateTime<Utc>,
    /// When anything about it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its accounts, in manifest order.
    pub accounts: Vec<AccountLine>,
}

/// An account in a batch listing.
#[derive(Debug, Clone, Serialize)]
pub struct AccountLine {
    /// The migration ID.
    pub migration_id: String,
    /// The source address.
    pub source: String,
    /// The destination address.
    pub destination: String,
    /// Where the account stands.
    pub state: AccountState,
    /// The stage running now, if any.
    pub stage: Option<String>,
}

/// What the mail checkpoints of an account say while its mail stage runs
/// (the stage's own counts are written when a pass ends).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailProgress {
    /// Messages checkpointed as copied or found at the destination.
    pub done: u64,
}

/// What a cancel request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// No such account (or batch).
    NotFound,
    /// Recorded; the run stops at its next checkpoint.
    Requested,
    /// The account had already finished; nothing to cancel.
    AlreadyFinished,
}

const ACCOUNT_COLUMNS: &str = "a.id, a.migration_id, b.public_id, b.name, a.source_email,
     a.destination_email, a.source_server, a.destination_server, a.state, a.stage,
     a.created_at, a.updated_at, a.finished_at, a.undo_window, a.error, a.cancel_requested,
     b.manifest, b.id";

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn account_row(row: &Row) -> Result<(i64, AccountStatus), StoreError> {
    let finished: Option<i64> = row.get(12)?;
    let window: i64 = row.get(13)?;
    Ok((
        row.get(0)?,
        AccountStatus {
            key: row.get(0)?,
            migration_id: row.get(1)?,
            batch_id: row.get(2)?,
            batch: row.get(3)?,
            manifest: row.get(16)?,
            batch_key: row.get(17)?,
            source: row.get(4)?,
            destination: row.get(5)?,
            source_server: row.get(6)?,
            destination_server: row.get(7)?,
            state: row.get(8)?,
            stage: row.get(9)?,
            created_at: time(row.get(10)?),
            updated_at: time(row.get(11)?),
            finished_at: finished.map(time),
            undo_until: finished.map(|f| time(f + window)),
            error: row.get(14)?,
            cancel_requested: row.get(15)?,
            stages: Vec::new(),
            folders: Vec::new(),
            item_errors: Vec::new(),
            history: Vec::new(),
        },
    ))
}

/// Fills in an account's stages and item errors.
fn complete(
    conn: &mut Db,
    id: i64,
    mut status: AccountStatus,
) -> Result<AccountStatus, StoreError> {
    status.stages = conn.query_map(
        "SELECT kind, state, found, copied, present, skipped, failed, bytes, started_at, finished_at,
                altered, pass_total, label_copies_avoided, label_mode
         FROM stages WHERE account_id = ?1 ORDER BY started_at, kind",
        params![id],
        |row| {
            Ok(StageStatus {
                kind: row.get(0)?,
                state: row.get(1)?,
                found: row.get::<i64>(2)? as u64,
                copied: row.get::<i64>(3)? as u64,
                present: row.get::<i64>(4)? as u64,
                skipped: row.get::<i64>(5)? as u64,
                failed: row.get::<i64>(6)? as u64,
                bytes: row.get::<i64>(7)? as u64,
                started_at: row.get::<Option<i64>>(8)?.map(time),
                finished_at: row.get::<Option<i64>>(9)?.map(time),
                altered: row.get::<i64>(10)? as u64,
                pass_total: row.get::<Option<u64>>(11)?,
                label_copies_avoided: row.get::<u64>(12)?,
                label_mode: row.get(13)?,
            })
        },
        )?;
    status.folders = conn.query_map(
        "SELECT source_name, dest_name, source_messages, dest_messages FROM folders
         WHERE account_id = ?1 ORDER BY source_name",
        params![id],
        |row| {
            Ok(FolderCount {
                source: row.get(0)?,
                destination: row.get(1)?,
                source_messages: row.get(2)?,
                destination_messages: row.get(3)?,
            })
        },
    )?;
    status.item_errors = conn.query_map(
        "SELECT stage, item, reason, at FROM item_errors WHERE account_id = ?1
         ORDER BY id DESC LIMIT 1000",
        params![id],
        |row| {
            Ok(ItemError {
                stage: row.get(0)?,
                item: row.get(1)?,
                reason: row.get(2)?,
                at: time(row.get(3)?),
            })
        },
    )?;
    status.history = conn
        .query_map(
            "SELECT record FROM undos WHERE account_id = ?1 ORDER BY id",
            params![id],
            |row| row.get::<String>(0),
        )?
        .iter()
        .filter_map(|record| serde_json::from_str(record).ok())
        .collect();
    Ok(status)
}

impl Store {
    /// Keeps an undo in the account's history.
    pub async fn record_undo(
        &self,
        account_id: i64,
        record: &UndoRecord,
    ) -> Result<(), StoreError> {
        let record = serde_json::to_string(record).expect("an undo record is JSON");
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO undos (account_id, record) VALUES (?1, ?2)",
                params![account_id, record],
            )?;
            Ok(())
        })
        .await
    }

    /// An account by its migration ID and source address (both must match;
    /// the address is compared without regard to case).
    pub async fn account_status(
        &self,
        migration_id: &str,
        source_email: &str,
    ) -> Result<Option<AccountStatus>, StoreError> {
        let (migration_id, source_email) = (migration_id.to_owned(), source_email.to_owned());
        self.call(move |conn| {
            let found = conn.query_opt(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN batches b ON b.id = a.batch_id
                         WHERE a.migration_id = ?1 AND a.source_email = ?2"
                ),
                params![migration_id.to_ascii_uppercase(), source_email],
                account_row,
            )?;
            Ok(match found {
                Some((id, status)) => Some(complete(conn, id, status)?),
                None => None,
            })
        })
        .await
    }

    /// The mail checkpoints of an account (by its key in the store) so far:
    /// how a page shows a running mail stage advance.
    pub async fn mail_progress(&self, account_id: i64) -> Result<MailProgress, StoreError> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id
                 WHERE f.account_id = ?1 AND m.pending = 0",
                params![account_id],
                |row| {
                    Ok(MailProgress {
                        done: row.get::<i64>(0)? as u64,
                    })
                },
            )
        })
        .await
    }

    /// Every account of a batch (by its internal key), in full.
    pub async fn batch_accounts(&self, batch_id: i64) -> Result<Vec<AccountStatus>, StoreError> {
        self.call(move |conn| {
            let rows: Vec<(i64, AccountStatus)> = conn.query_map(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN batches b ON b.id = a.batch_id
                 WHERE a.batch_id = ?1 ORDER BY a.id"
                ),
                params![batch_id],
                account_row,
            )?;
            rows.into_iter()
                .map(|(id, status)| complete(conn, id, status))
                .collect()
        })
        .await
    }

    /// Batches, newest first; only the one with `batch_id` when given.
    pub async fn batches(&self, batch_id: Option<String>) -> Result<Vec<BatchStatus>, StoreError> {
        self.call(move |conn| {
            let batches: Vec<(i64, BatchStatus)> = conn.query_map(
                "SELECT id, public_id, name, state, created_at, updated_at FROM batches
                 WHERE CAST(?1 AS TEXT) IS NULL OR public_id = ?1 ORDER BY created_at DESC, id DESC",
                params![batch_id.map(|b| b.to_ascii_uppercase())],
                |row| {
                    Ok((
                        row.get(0)?,
                        BatchStatus {
                            batch_id: row.get(1)?,
                            name: row.get(2)?,
                            state: row.get(3)?,
                            created_at: time(row.get(4)?),
                            updated_at: time(row.get(5)?),
                            accounts: Vec::new(),
                        },
                    ))
                },
                )?;
            let mut out = Vec::with_capacity(batches.len());
            for (id, mut batch) in batches {
                batch.accounts = conn.query_map(
                "SELECT migration_id, source_email, destination_email, state, stage
                 FROM accounts WHERE batch_id = ?1 ORDER BY id",
                params![id],
                |row| {
                        Ok(AccountLine {
                            migration_id: row.get(0)?,
                            source: row.get(1)?,
                            destination: row.get(2)?,
                            state: row.get(3)?,
                            stage: row.get(4)?,
                        })
                    },
                    )?;
                out.push(batch);
            }
            Ok(out)
        })
        .await
    }

    /// A batch's key in the store, from its public ID.
    pub async fn batch_key(&self, batch_id: String) -> Result<Option<i64>, StoreError> {
        self.call(move |conn| {
            conn.query_opt(
                "SELECT id FROM batches WHERE public_id = ?1",
                params![batch_id.to_ascii_uppercase()],
                |row| row.get(0),
            )
        })
        .await
    }

    /// Asks for an account to be cancelled: the stage in progress stops at
    /// its next checkpoint, the others are skipped; a queued account never
    /// starts.
    pub async fn request_cancel(
        &self,
        migration_id: &str,
        source_email: &str,
    ) -> Result<CancelOutcome, StoreError> {
        let (migration_id, source_email) =
            (migration_id.to_ascii_uppercase(), source_email.to_owned());
        self.call(move |conn| {
            let state: Option<AccountState> = conn.query_opt(
                "SELECT state FROM accounts WHERE migration_id = ?1 AND source_email = ?2",
                params![migration_id, source_email],
                |row| row.get(0),
            )?;
            Ok(match state {
                None => CancelOutcome::NotFound,
                Some(AccountState::Scheduled | AccountState::Queued | AccountState::Running) => {
                    conn.execute(
                        "UPDATE accounts SET cancel_requested = 1, updated_at = ?2
                         WHERE migration_id = ?1",
                        params![migration_id, now()],
                    )?;
                    CancelOutcome::Requested
                }
                Some(_) => CancelOutcome::AlreadyFinished,
            })
        })
        .await
    }

    /// Asks for every unfinished account of a batch to be cancelled.
    /// Returns how many were, or `None` if there is no such batch.
    pub async fn request_cancel_batch(&self, batch_id: &str) -> Result<Option<usize>, StoreError> {
        let batch_id = batch_id.to_ascii_uppercase();
        self.call(move |conn| {
            let id: Option<i64> = conn.query_opt(
                "SELECT id FROM batches WHERE public_id = ?1",
                params![batch_id],
                |row| row.get(0),
            )?;
            let Some(id) = id else { return Ok(None) };
            let n = conn.execute(
                "UPDATE accounts SET cancel_requested = 1, updated_at = ?2
                 WHERE batch_id = ?1 AND state IN ('scheduled', 'queued', 'running')",
                params![id, now()],
            )?;
            Ok(Some(n as usize))
        })
        .await
    }

    /// Whether an account's cancellation was asked for.
    pub async fn cancel_requested(&self, account_id: i64) -> Result<bool, StoreError> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT cancel_requested FROM accounts WHERE id = ?1",
                params![account_id],
                |row| row.get(0),
            )
        })
        .await
    }

    /// The accounts of a batch whose cancellation was asked for.
    pub async fn cancel_requests(&self, batch_id: i64) -> Result<Vec<i64>, StoreError> {
        self.call(move |conn| {
            conn.query_map(
                "SELECT id FROM accounts WHERE batch_id = ?1 AND cancel_requested = 1",
                params![batch_id],
                |row| row.get(0),
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batches::StageCounts;
    use crate::store::testing::{for_each_backend, one_account};
    use crate::vocabulary::{StageKind, StageState};

    #[tokio::test]
    async fn status_cancel_and_history_read_back_what_was_written() {
        for_each_backend(|store| async move {
            let account = one_account(&store).await;
            let listed = store.batches(None).await.unwrap();
            assert_eq!(listed.len(), 1);
            let line = &listed[0].accounts[0];
            let id = line.migration_id.clone();
            let only = store.batches(Some(listed[0].batch_id.to_lowercase())).await;
            assert_eq!(only.unwrap().len(), 1);
            assert!(
                store
                    .batches(Some("B-NONE".into()))
                    .await
                    .unwrap()
                    .is_empty()
            );

            store.begin_stage(account, StageKind::Mail).await.unwrap();
            let counts = StageCounts {
                found: 5,
                copied: 4,
                bytes: 400,
                ..StageCounts::default()
            };
            store
                .finish_stage(account, StageKind::Mail, StageState::Done, counts)
                .await
                .unwrap();
            store
                .record_item_error(account, StageKind::Mail, "INBOX 3".into(), "refused".into())
                .await
                .unwrap();
            // The source address is matched whatever its case.
            let status = store.account_status(&id, "A@X").await.unwrap().unwrap();
            assert_eq!((status.stages[0].copied, status.stages[0].bytes), (4, 400));
            assert_eq!(status.item_errors[0].reason, "refused");
            assert_eq!(store.mail_progress(account).await.unwrap().done, 0);

            assert_eq!(
                store.request_cancel(&id, "a@x").await.unwrap(),
                CancelOutcome::Requested
            );
            assert!(store.cancel_requested(account).await.unwrap());
            assert_eq!(
                store.cancel_requests(status.batch_key).await.unwrap(),
                vec![account]
            );
            assert_eq!(store.lift_cancel(&id, "a@x").await.unwrap(), Some(true));
            assert_eq!(
                store.request_cancel_batch(&status.batch_id).await.unwrap(),
                Some(1)
            );

            let undone = UndoRecord {
                undone_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                copied: [("mail".to_owned(), 4)].into(),
                removed: vec!["4 messages".into()],
                left: Vec::new(),
            };
            store.record_undo(account, &undone).await.unwrap();
            let status = store.account_status(&id, "a@x").await.unwrap().unwrap();
            assert_eq!(status.history[0].removed, undone.removed);
        })
        .await;
    }
}
