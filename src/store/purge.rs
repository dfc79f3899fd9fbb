//! Forgetting migrations: everything stored about them goes, and an
//! anonymous line says that it happened.

use super::db::params;
use super::{Db, Store, StoreError, now};

/// What a purge removed from the store, for removing the files too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Migration IDs of the accounts removed.
    pub migration_ids: Vec<String>,
    /// The batch's name, when the batch itself went (no account was left).
    pub batch_removed: Option<String>,
    /// Daemon jobs of that batch: each one's folder and the accepted
    /// manifest in it.
    pub jobs: Vec<(String, String)>,
}

fn purge_accounts(tx: &mut Db, ids: &[i64]) -> Result<(), StoreError> {
    for id in ids {
        tx.execute(
            "DELETE FROM messages WHERE folder_id IN (SELECT id FROM folders WHERE account_id = ?1)",
            params![id]
        )?;
        for table in ["folders", "stages", "item_errors"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE account_id = ?1"),
                params![id],
            )?;
        }
        tx.execute("DELETE FROM accounts WHERE id = ?1", params![id])?;
    }
    Ok(())
}

/// Removes a batch that has no account left, with its daemon jobs.
fn purge_empty_batch(tx: &mut Db, batch_id: i64, purged: &mut Purged) -> Result<(), StoreError> {
    let left: i64 = tx.query_row(
        "SELECT count(*) FROM accounts WHERE batch_id = ?1",
        params![batch_id],
        |row| row.get(0),
    )?;
    if left > 0 {
        return Ok(());
    }
    let name: String = tx.query_row(
        "SELECT name FROM batches WHERE id = ?1",
        params![batch_id],
        |row| row.get(0),
    )?;
    purged.jobs = tx.query_map(
        "SELECT dir, manifest FROM jobs WHERE batch = ?1",
        params![name],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    tx.execute("DELETE FROM jobs WHERE batch = ?1", params![name])?;
    tx.execute("DELETE FROM batches WHERE id = ?1", params![batch_id])?;
    purged.batch_removed = Some(name);
    Ok(())
}

impl Store {
    /// Forgets one finished migration. `None` if there is no such one.
    pub async fn purge_account(
        &self,
        migration_id: &str,
        source_email: &str,
    ) -> Result<Option<Purged>, StoreError> {
        let (migration_id, source_email) =
            (migration_id.to_ascii_uppercase(), source_email.to_owned());
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let found: Option<(i64, i64)> = tx.query_opt(
                "SELECT id, batch_id FROM accounts WHERE migration_id = ?1 AND source_email = ?2",
                params![migration_id, source_email],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let Some((id, batch_id)) = found else {
                return Ok(None);
            };
            purge_accounts(&mut tx, &[id])?;
            let mut purged = Purged {
                migration_ids: vec![migration_id],
                ..Purged::default()
            };
            purge_empty_batch(&mut tx, batch_id, &mut purged)?;
            tx.execute(
                "INSERT INTO events (at, what) VALUES (?1, 'purged the data of 1 migration')",
                params![now()],
            )?;
            tx.commit()?;
            Ok(Some(purged))
        })
        .await
    }

    /// Forgets every migration of a batch, and the batch. `None` if there
    /// is no such batch.
    pub async fn purge_batch(&self, batch_id: &str) -> Result<Option<Purged>, StoreError> {
        let batch_id = batch_id.to_ascii_uppercase();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let found: Option<i64> = tx.query_opt(
                "SELECT id FROM batches WHERE public_id = ?1",
                params![batch_id],
                |row| row.get(0),
            )?;
            let Some(key) = found else { return Ok(None) };
            let accounts: Vec<(i64, String)> = tx.query_map(
                "SELECT id, migration_id FROM accounts WHERE batch_id = ?1",
                params![key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let ids: Vec<i64> = accounts.iter().map(|(id, _)| *id).collect();
            purge_accounts(&mut tx, &ids)?;
            let mut purged = Purged {
                migration_ids: accounts.into_iter().map(|(_, m)| m).collect(),
                ..Purged::default()
            };
            purge_empty_batch(&mut tx, key, &mut purged)?;
            tx.execute(
                "INSERT INTO events (at, what) VALUES (?1, ?2)",
                params![
                    now(),
                    format!("purged the data of {} migrations", ids.len())
                ],
            )?;
            tx.commit()?;
            Ok(Some(purged))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::jobs::Job;
    use crate::store::testing::{for_each_backend, one_account};
    use crate::vocabulary::JobState;

    #[tokio::test]
    async fn purging_a_batch_forgets_its_accounts_checkpoints_and_jobs() {
        for_each_backend(|store| async move {
            let account = one_account(&store).await;
            let folder = store.open_folder(account, "INBOX", "INBOX").await.unwrap();
            store
                .record_intents(folder.id, vec![1u32, 2])
                .await
                .unwrap();
            let job = Job {
                id: 0,
                name: "b.yaml".into(),
                dir: "/area/accepted/1".into(),
                manifest: "b.yaml".into(),
                batch: "b".into(),
                state: JobState::Running,
                start_after: None,
            };
            let first = store.add_job(job.clone()).await.unwrap();
            assert!(store.add_job(job).await.unwrap() > first);
            assert_eq!(store.unfinished_jobs().await.unwrap().len(), 2);
            let batch = store.batches(None).await.unwrap().remove(0);
            let purged = store.purge_batch(&batch.batch_id).await.unwrap().unwrap();
            assert_eq!(purged.migration_ids.len(), 1);
            assert_eq!(purged.batch_removed.as_deref(), Some("b"));
            assert_eq!(purged.jobs.len(), 2);
            assert!(store.batches(None).await.unwrap().is_empty());
            assert!(store.unfinished_jobs().await.unwrap().is_empty());
            assert!(store.purge_batch(&batch.batch_id).await.unwrap().is_none());
        })
        .await;
    }
}
