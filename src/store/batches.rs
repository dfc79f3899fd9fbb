//! Batches, accounts, stages and item errors.

use super::db::params;
use super::{Db, Store, StoreError, ids, now};
use crate::vocabulary::StageKind;
pub use crate::vocabulary::{AccountState, BatchState, StageState};

/// A batch's row: its internal key and the ID users quote.
#[derive(Debug, Clone)]
pub struct BatchRecord {
    /// The batch's key in the store.
    pub id: i64,
    /// The batch ID users quote (`B-7K3F-9QXP`).
    pub public_id: String,
}

/// An account's row: its internal key and its migration ID.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    /// The account's key in the store.
    pub id: i64,
    /// The migration ID users quote.
    pub migration_id: String,
}

/// What identifies an account in a batch, and what is kept about it.
#[derive(Debug, Clone)]
pub struct AccountKey {
    /// The source mailbox's address.
    pub source_email: String,
    /// The destination mailbox's address.
    pub destination_email: String,
    /// `host:port` (or a file path) of each end: for status and reports.
    pub source_server: Option<String>,
    /// `host:port` (or a file path) of the destination.
    pub destination_server: Option<String>,
    /// How long after the account finishes undo is allowed.
    pub undo_window_secs: i64,
}

/// Creates an account row with a fresh migration ID.
fn insert_account(
    conn: &mut Db,
    batch_id: i64,
    account: &AccountKey,
) -> Result<AccountRecord, StoreError> {
    let at = now();
    // A collision of two random IDs is astronomically rare; retry anyway.
    loop {
        let migration_id = ids::migration_id();
        let inserted = conn.query_opt(
            "INSERT INTO accounts
               (batch_id, migration_id, source_email, destination_email,
                state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5)
             ON CONFLICT DO NOTHING RETURNING id",
            params![
                batch_id,
                migration_id,
                account.source_email,
                account.destination_email,
                at
            ],
            |row| row.get(0),
        )?;
        if let Some(id) = inserted {
            return Ok(AccountRecord { id, migration_id });
        }
    }
}

/// Item counts: of one pass of a stage, or (in reports) of several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct StageCounts {
    /// Items seen at the source.
    pub found: u64,
    /// Items copied by this pass.
    pub copied: u64,
    /// Items found already at the destination and not copied again.
    pub present: u64,
    /// Items left out by a filter or a limit.
    pub skipped: u64,
    /// Items that failed.
    pub failed: u64,
    /// Bytes copied by this pass.
    pub bytes: u64,
    /// Copies the destination stored other than they were sent (Cyrus
    /// rewrites 8-bit header bytes): still recognised, not byte for byte.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub altered: u64,
    /// Copies a label-aware source (Gmail) would have had made by a plain
    /// folder-by-folder copy and that were not made: its views (All Mail,
    /// Starred, Important) and, with one copy per message, its other
    /// labels. A count of the source as it stood, not added up over runs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_copies_avoided: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl StageCounts {
    /// Adds another pass's counts into this one.
    pub fn add(&mut self, other: &StageCounts) {
        self.found += other.found;
        self.copied += other.copied;
        self.present += other.present;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.bytes += other.bytes;
        self.altered += other.altered;
        self.label_copies_avoided += other.label_copies_avoided;
    }
}

impl Store {
    /// The batch called `name`, created on first use. Running the same
    /// manifest again finds the same batch, so it resumes or does an
    /// incremental pass rather than starting a duplicate.
    pub async fn open_batch(
        &self,
        name: &str,
        manifest: Option<String>,
    ) -> Result<BatchRecord, StoreError> {
        let name = name.to_owned();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let existing = tx.query_opt(
                "SELECT id, public_id FROM batches WHERE name = ?1",
                params![name],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let (id, public_id) = match existing {
                Some(found) => found,
                None => {
                    let public_id = ids::batch_id();
                    let at = now();
                    let id = tx.query_row(
                        "INSERT INTO batches (public_id, name, state, created_at, updated_at)
                         VALUES (?1, ?2, 'running', ?3, ?3) RETURNING id",
                        params![public_id, name, at],
                        |row| row.get(0),
                    )?;
                    (id, public_id)
                }
            };
            tx.execute(
                "UPDATE batches SET state = 'running', updated_at = ?2,
                    manifest = coalesce(?3, manifest)
                 WHERE id = ?1",
                params![id, now(), manifest],
            )?;
            tx.commit()?;
            Ok(BatchRecord { id, public_id })
        })
        .await
    }

    /// The batch called `name`, if it exists.
    pub async fn batch_named(&self, name: &str) -> Result<Option<BatchRecord>, StoreError> {
        let name = name.to_owned();
        self.call(move |conn| {
            conn.query_opt(
                "SELECT id, public_id FROM batches WHERE name = ?1",
                params![name],
                |row| {
                    Ok(BatchRecord {
                        id: row.get(0)?,
                        public_id: row.get(1)?,
                    })
                },
            )
        })
        .await
    }

    /// Records how a batch ended.
    pub async fn finish_batch(&self, batch_id: i64, state: BatchState) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE batches SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![batch_id, state, now()],
            )?;
            Ok(())
        })
        .await
    }

    /// The account `source → destination` of a batch, created (queued, with
    /// a new migration ID) on first use; its servers and undo window are
    /// refreshed from the plan either way.
    pub async fn open_account(
        &self,
        batch_id: i64,
        account: AccountKey,
    ) -> Result<AccountRecord, StoreError> {
        self.call(move |conn| {
            let existing = conn.query_opt(
                "SELECT id, migration_id FROM accounts
                     WHERE batch_id = ?1 AND source_email = ?2 AND destination_email = ?3",
                params![batch_id, account.source_email, account.destination_email],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let record = match existing {
                Some((id, migration_id)) => AccountRecord { id, migration_id },
                None => insert_account(conn, batch_id, &account)?,
            };
            conn.execute(
                "UPDATE accounts SET source_server = ?2, destination_server = ?3, undo_window = ?4
                 WHERE id = ?1",
                params![
                    record.id,
                    account.source_server,
                    account.destination_server,
                    account.undo_window_secs
                ],
            )?;
            Ok(record)
        })
        .await
    }

    /// Moves an account to `state`, noting its current stage and last error.
    pub async fn set_account_state(
        &self,
        account_id: i64,
        state: AccountState,
        stage: Option<StageKind>,
        error: Option<String>,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let at = now();
            let finished = matches!(
                state,
                AccountState::Completed
                    | AccountState::CompletedWithErrors
                    | AccountState::Failed
                    | AccountState::Cancelled
            )
            .then_some(at);
            // Undo states keep the time the migration itself finished.
            conn.execute(
                "UPDATE accounts
                 SET state = ?2, stage = ?3, error = ?4, updated_at = ?5,
                     finished_at = CASE WHEN ?2 IN ('undoing', 'undone') THEN finished_at
                                        ELSE ?6 END
                 WHERE id = ?1",
                params![
                    account_id,
                    state.as_str(),
                    stage.map(StageKind::name),
                    error,
                    at,
                    finished
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Records that a stage's source is label-aware, read in `mode`
    /// (`all`, `first`).
    pub async fn set_label_mode(
        &self,
        account_id: i64,
        kind: StageKind,
        mode: &'static str,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE stages SET label_mode = ?3 WHERE account_id = ?1 AND kind = ?2",
                params![account_id, kind.name(), mode],
            )?;
            Ok(())
        })
        .await
    }

    /// Records that a stage has started (again).
    pub async fn begin_stage(&self, account_id: i64, kind: StageKind) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO stages (account_id, kind, state, started_at)
                 VALUES (?1, ?2, 'running', ?3)
                 ON CONFLICT (account_id, kind)
                 DO UPDATE SET state = 'running', started_at = excluded.started_at,
                               finished_at = NULL, pass_total = NULL",
                params![account_id, kind.name(), now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Records what the running pass of a stage will have dealt with once
    /// done, as soon as it knows.
    pub async fn set_pass_total(
        &self,
        account_id: i64,
        kind: StageKind,
        total: u64,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE stages SET pass_total = ?3 WHERE account_id = ?1 AND kind = ?2",
                params![account_id, kind.name(), total as i64],
            )?;
            Ok(())
        })
        .await
    }

    /// Records how a stage's pass ended and what it counted.
    pub async fn finish_stage(
        &self,
        account_id: i64,
        kind: StageKind,
        state: StageState,
        counts: StageCounts,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE stages
                 SET state = ?3, found = ?4, copied = copied + ?5, present = present + ?6,
                     skipped = ?7, failed = ?8, bytes = bytes + ?9, finished_at = ?10,
                     altered = altered + ?11, label_copies_avoided = ?12
                 WHERE account_id = ?1 AND kind = ?2",
                params![
                    account_id,
                    kind.name(),
                    state.as_str(),
                    counts.found as i64,
                    counts.copied as i64,
                    counts.present as i64,
                    counts.skipped as i64,
                    counts.failed as i64,
                    counts.bytes as i64,
                    now(),
                    counts.altered as i64,
                    counts.label_copies_avoided as i64
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Records one item's failure with its reason.
    pub async fn record_item_error(
        &self,
        account_id: i64,
        kind: StageKind,
        item: String,
        reason: String,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO item_errors (account_id, stage, item, reason, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![account_id, kind.name(), item, reason, now()],
            )?;
            Ok(())
        })
        .await
    }
}

impl Store {
    /// Notes where a batch's manifest now is (the daemon moves it).
    pub async fn set_batch_manifest(&self, name: &str, manifest: String) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.call(move |conn| {
            conn.execute(
                "UPDATE batches SET manifest = ?2 WHERE name = ?1",
                params![name, manifest],
            )?;
            Ok(())
        })
        .await
    }
}
