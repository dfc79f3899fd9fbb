//! Workers sharing one state database: batches queued for them, the
//! accounts each holds under a lease, and the connection slots per host
//! they share.
//!
//! A worker *claims* a queued account by writing its name and a lease
//! time on the account's row (on PostgreSQL with `FOR UPDATE SKIP
//! LOCKED`, so that workers never wait on one another), renews the
//! lease while it runs the account, and clears it when the account ends
//! or is given back. An account whose lease has run out belongs to nobody:
//! its worker died, and any worker may claim it and resume it from its
//! checkpoints. Connection slots per host are leased the same way.

use std::collections::{BTreeMap, HashMap};

use super::batches::BatchRecord;
use super::db::params;
use super::{Backend, Db, Store, StoreError, now};
use crate::vocabulary::BatchState;

/// An account a worker claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The account's key.
    pub account: i64,
    /// Its batch's key.
    pub batch: i64,
    /// Its migration ID.
    pub migration_id: String,
    /// The source address.
    pub source: String,
    /// The destination address.
    pub destination: String,
}

/// A queued batch as a worker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedBatch {
    /// The batch's name (the manifest's `batch`).
    pub name: String,
    /// The batch ID users quote.
    pub public_id: String,
    /// The manifest it was queued from: a path every worker can read.
    pub manifest: Option<String>,
}

/// A worker's name, and how long its leases last.
#[derive(Debug, Clone)]
pub struct Lessee {
    /// The worker's name, unique among the workers of a database.
    pub name: String,
    /// Seconds a lease lasts unless renewed.
    pub lease_secs: i64,
}

impl Lessee {
    fn until(&self) -> i64 {
        now() + self.lease_secs
    }
}

/// What a heartbeat learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The accounts the worker still holds.
    pub held: Vec<i64>,
    /// Of those, the ones whose cancel was asked for.
    pub cancelled: Vec<i64>,
    /// For each batch some worker runs, how many workers run its
    /// accounts (this one included): they share its rate caps.
    pub batch_workers: HashMap<i64, usize>,
}

/// The states an account may be claimed in (when nobody holds it); the
/// index `accounts_claimable` has the same condition.
const CLAIMABLE: &str = "a.state IN ('queued', 'running', 'interrupted')";

/// How many workers hold accounts of each batch (of `batch` alone when
/// given), under a lease that has not run out.
fn batch_workers(db: &mut Db, batch: Option<i64>) -> Result<HashMap<i64, usize>, StoreError> {
    // The batch is a parameter: two statements, each prepared once.
    let (only, params) = match batch {
        Some(id) => (" AND batch_id = ?2", params![now(), id]),
        None => ("", params![now()]),
    };
    let counts: Vec<(i64, i64)> = db.query_map(
        &format!(
            "SELECT batch_id, count(DISTINCT worker) FROM accounts
             WHERE worker IS NOT NULL AND lease_until >= ?1{only} GROUP BY batch_id"
        ),
        params,
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(counts
        .into_iter()
        .map(|(batch, n)| (batch, usize::try_from(n).unwrap_or(1)))
        .collect())
}

impl Store {
    /// How many workers run accounts of `batch` now (at least 1): they
    /// share its rate caps.
    pub async fn batch_workers(&self, batch: i64) -> Result<usize, StoreError> {
        self.call(move |db| {
            Ok(batch_workers(db, Some(batch))?
                .get(&batch)
                .copied()
                .unwrap_or(1))
        })
        .await
    }

    /// Records (or refreshes) a worker.
    pub async fn register_worker(&self, lessee: &Lessee, host: String) -> Result<(), StoreError> {
        let name = lessee.name.clone();
        self.call(move |db| {
            db.execute(
                "INSERT INTO workers (name, host, pid, started_at, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (name) DO UPDATE
                     SET host = excluded.host, pid = excluded.pid,
                         started_at = excluded.started_at, seen_at = excluded.seen_at",
                params![name, host, i64::from(std::process::id()), now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Marks a batch (already registered with its accounts) as run by
    /// workers.
    pub async fn queue_batch(&self, batch_id: i64) -> Result<(), StoreError> {
        self.call(move |db| {
            db.execute(
                "UPDATE batches SET queued = 1, state = 'running', updated_at = ?2 WHERE id = ?1",
                params![batch_id, now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Takes a batch back from the workers, to run it in this process:
    /// `false` (and nothing changes) while a worker holds one of its
    /// accounts.
    pub async fn unqueue_batch(&self, batch_id: i64) -> Result<bool, StoreError> {
        self.call(move |db| {
            let mut tx = db.exclusive_transaction("claims")?;
            let held: i64 = tx.query_row(
                "SELECT count(*) FROM accounts
                 WHERE batch_id = ?1 AND worker IS NOT NULL AND lease_until >= ?2",
                params![batch_id, now()],
                |row| row.get(0),
            )?;
            if held > 0 {
                return Ok(false);
            }
            tx.execute(
                "UPDATE batches SET queued = 0 WHERE id = ?1",
                params![batch_id],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// Claims one account of a queued batch that nobody holds, oldest
    /// first, leaving out the batches in `busy`.
    pub async fn claim_account(
        &self,
        lessee: &Lessee,
        busy: Vec<i64>,
    ) -> Result<Option<Claim>, StoreError> {
        let (name, until) = (lessee.name.clone(), lessee.until());
        self.call(move |db| {
            let busy = busy
                .iter()
                .map(|id| format!(" AND a.batch_id <> {id}"))
                .collect::<String>();
            // PostgreSQL: another worker's claim in flight locks its row;
            // skip it rather than wait. SQLite runs one writer at a time.
            let skip_locked = match db.backend() {
                Backend::Postgres => " FOR UPDATE OF a SKIP LOCKED",
                Backend::Sqlite => "",
            };
            db.query_opt(
                &format!(
                    "UPDATE accounts SET worker = ?1, lease_until = ?2
                     WHERE id = (
                         SELECT a.id FROM accounts a JOIN batches b ON b.id = a.batch_id
                         WHERE b.queued = 1 AND {CLAIMABLE}
                           AND (a.worker IS NULL OR a.lease_until < ?3){busy}
                         ORDER BY a.id LIMIT 1{skip_locked})
                     RETURNING id, batch_id, migration_id, source_email, destination_email"
                ),
                params![name, until, now()],
                |row| {
                    Ok(Claim {
                        account: row.get(0)?,
                        batch: row.get(1)?,
                        migration_id: row.get(2)?,
                        source: row.get(3)?,
                        destination: row.get(4)?,
                    })
                },
            )
        })
        .await
    }

    /// Renews the leases of the accounts in `held` and of the connection
    /// slots in `slots` (host and number), and says which of `held` the
    /// worker still holds (a lease that ran out may have gone to another
    /// worker), which of those were cancelled, and how many workers run
    /// each batch.
    pub async fn heartbeat(
        &self,
        lessee: &Lessee,
        held: Vec<i64>,
        slots: Vec<(String, i64)>,
    ) -> Result<Heartbeat, StoreError> {
        let (name, until) = (lessee.name.clone(), lessee.until());
        self.call(move |db| {
            let mut tx = db.transaction()?;
            let at = now();
            tx.execute(
                "UPDATE workers SET seen_at = ?2 WHERE name = ?1",
                params![name, at],
            )?;
            // One statement per host: only the slots held are renewed.
            let mut by_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (host, slot) in slots {
                by_host.entry(host).or_default().push(slot.to_string());
            }
            for (host, numbers) in by_host {
                tx.execute(
                    &format!(
                        "UPDATE host_slots SET lease_until = ?2
                         WHERE worker = ?1 AND host = ?3 AND slot IN ({})",
                        numbers.join(", ")
                    ),
                    params![name, until, host],
                )?;
            }
            let ids = held
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let still: Vec<(i64, bool)> = if held.is_empty() {
                Vec::new()
            } else {
                tx.query_map(
                    &format!(
                        "UPDATE accounts SET lease_until = ?2 WHERE worker = ?1 AND id IN ({ids})
                         RETURNING id, cancel_requested"
                    ),
                    params![name, until],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?
            };
            let batch_workers = batch_workers(&mut tx, None)?;
            tx.commit()?;
            Ok(Heartbeat {
                cancelled: still
                    .iter()
                    .filter(|(_, c)| *c)
                    .map(|(id, _)| *id)
                    .collect(),
                held: still.into_iter().map(|(id, _)| id).collect(),
                batch_workers,
            })
        })
        .await
    }

    /// A queued batch's name, ID and manifest.
    pub async fn queued_batch(&self, batch_id: i64) -> Result<QueuedBatch, StoreError> {
        self.call(move |db| {
            db.query_row(
                "SELECT name, public_id, manifest FROM batches WHERE id = ?1",
                params![batch_id],
                |row| {
                    Ok(QueuedBatch {
                        name: row.get(0)?,
                        public_id: row.get(1)?,
                        manifest: row.get(2)?,
                    })
                },
            )
        })
        .await
    }

    /// Queues again, for the workers, an account of a queued batch that
    /// failed or lost items (`mailshift`'s retry): `false` when it is
    /// not one, or a worker holds it.
    pub async fn requeue_account(&self, migration_id: &str) -> Result<bool, StoreError> {
        let migration_id = migration_id.to_ascii_uppercase();
        self.call(move |db| {
            let mut tx = db.exclusive_transaction("claims")?;
            let batch: Option<i64> = tx.query_opt(
                "UPDATE accounts SET state = 'queued', error = NULL, updated_at = ?2
                 WHERE migration_id = ?1 AND worker IS NULL
                   AND state IN ('failed', 'completed_with_errors')
                   AND batch_id IN (SELECT id FROM batches WHERE queued = 1)
                 RETURNING batch_id",
                params![migration_id, now()],
                |row| row.get(0),
            )?;
            let Some(batch) = batch else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE batches SET state = 'running', updated_at = ?2 WHERE id = ?1",
                params![batch, now()],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// The batch called `name` and its state, if it is queued for
    /// workers.
    pub async fn queued_batch_named(
        &self,
        name: &str,
    ) -> Result<Option<(BatchRecord, BatchState)>, StoreError> {
        let name = name.to_owned();
        self.call(move |db| {
            db.query_opt(
                "SELECT id, public_id, state FROM batches WHERE name = ?1 AND queued = 1",
                params![name],
                |row| {
                    let record = BatchRecord {
                        id: row.get(0)?,
                        public_id: row.get(1)?,
                    };
                    Ok((record, row.get(2)?))
                },
            )
        })
        .await
    }

    /// How many accounts of queued batches are not finished: waiting,
    /// held by a worker, or left by one that died.
    pub async fn open_queued_accounts(&self) -> Result<i64, StoreError> {
        self.call(move |db| {
            db.query_row(
                &format!(
                    "SELECT count(*) FROM accounts a JOIN batches b ON b.id = a.batch_id
                     WHERE b.queued = 1 AND ({CLAIMABLE} OR a.worker IS NOT NULL)"
                ),
                params![],
                |row| row.get(0),
            )
        })
        .await
    }

    /// Lets go of an account: ended, or given back (as interrupted) for
    /// another worker, or this one, to resume from its checkpoints.
    pub async fn release_account(&self, lessee: &Lessee, account: i64) -> Result<(), StoreError> {
        let name = lessee.name.clone();
        self.call(move |db| {
            db.execute(
                "UPDATE accounts SET worker = NULL, lease_until = NULL,
                     state = CASE WHEN state = 'running' THEN 'interrupted' ELSE state END
                 WHERE id = ?1 AND worker = ?2",
                params![account, name],
            )?;
            Ok(())
        })
        .await
    }

    /// Ends a queued batch when none of its accounts is left to run:
    /// `Some(state)` to the one caller that ended it, `None` otherwise.
    pub async fn finish_queued_batch(
        &self,
        batch_id: i64,
    ) -> Result<Option<BatchState>, StoreError> {
        self.call(move |db| {
            let mut tx = db.exclusive_transaction("claims")?;
            let (open, incomplete): (Option<i64>, Option<i64>) = tx.query_row(
                &format!(
                    "SELECT sum(CASE WHEN {CLAIMABLE} OR a.state = 'scheduled'
                                       OR a.worker IS NOT NULL THEN 1 ELSE 0 END),
                            sum(CASE WHEN a.state <> 'completed' THEN 1 ELSE 0 END)
                     FROM accounts a WHERE a.batch_id = ?1"
                ),
                params![batch_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            if open.unwrap_or(0) > 0 {
                return Ok(None);
            }
            let state = if incomplete.unwrap_or(0) == 0 {
                BatchState::Completed
            } else {
                BatchState::CompletedWithErrors
            };
            let ended = tx.execute(
                "UPDATE batches SET state = ?2, updated_at = ?3
                 WHERE id = ?1 AND queued = 1 AND state = 'running'",
                params![batch_id, state, now()],
            )?;
            tx.commit()?;
            Ok((ended == 1).then_some(state))
        })
        .await
    }

    /// Takes `count` connection slots of `host` at once (all or none),
    /// among the first `cap`: the slots taken, or `None` when too few are
    /// free.
    pub async fn take_host_slots(
        &self,
        lessee: &Lessee,
        host: String,
        cap: usize,
        count: usize,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let (name, until) = (lessee.name.clone(), lessee.until());
        self.call(move |db| {
            let mut tx = db.exclusive_transaction("host-slots")?;
            let taken: Vec<i64> = tx.query_map(
                "SELECT slot FROM host_slots WHERE host = ?1 AND lease_until >= ?2",
                params![host, now()],
                |row| row.get(0),
            )?;
            let free: Vec<i64> = (0..cap as i64)
                .filter(|slot| !taken.contains(slot))
                .take(count)
                .collect();
            if free.len() < count {
                return Ok(None);
            }
            for &slot in &free {
                take_slot(&mut tx, &host, slot, &name, until)?;
            }
            tx.commit()?;
            Ok(Some(free))
        })
        .await
    }

    /// Gives back connection slots of `host`, without waiting for the
    /// database: they are held until the statement runs, and expire with
    /// the worker's leases if it never does.
    pub fn release_host_slots(&self, lessee: &Lessee, host: String, slots: Vec<i64>) {
        let name = lessee.name.clone();
        self.send(move |db| {
            for slot in slots {
                db.execute(
                    "DELETE FROM host_slots WHERE host = ?1 AND slot = ?2 AND worker = ?3",
                    params![host, slot, name],
                )?;
            }
            Ok(())
        });
    }

    /// A worker's clean stop: its slots and its row go, and any account it
    /// still holds is given back.
    pub async fn leave(&self, lessee: &Lessee) -> Result<(), StoreError> {
        let name = lessee.name.clone();
        self.call(move |db| {
            let mut tx = db.transaction()?;
            tx.execute(
                "UPDATE accounts SET worker = NULL, lease_until = NULL,
                     state = CASE WHEN state = 'running' THEN 'interrupted' ELSE state END
                 WHERE worker = ?1",
                params![name],
            )?;
            tx.execute("DELETE FROM host_slots WHERE worker = ?1", params![name])?;
            tx.execute("DELETE FROM workers WHERE name = ?1", params![name])?;
            tx.commit()
        })
        .await
    }
}

fn take_slot(db: &mut Db, host: &str, slot: i64, name: &str, until: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO host_slots (host, slot, worker, lease_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (host, slot) DO UPDATE
             SET worker = excluded.worker, lease_until = excluded.lease_until",
        params![host, slot, name, until],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batches::AccountKey;
    use crate::store::testing::for_each_backend;
    use crate::vocabulary::AccountState;

    fn lessee(name: &str, lease_secs: i64) -> Lessee {
        Lessee {
            name: name.into(),
            lease_secs,
        }
    }

    /// A batch of `n` accounts, queued; returns its key and theirs.
    async fn queued(store: &Store, n: usize) -> (i64, Vec<i64>) {
        let batch = store.open_batch("b", None).await.unwrap();
        let mut accounts = Vec::new();
        for i in 0..n {
            let key = AccountKey {
                source_email: format!("a{i}@x"),
                destination_email: format!("a{i}@y"),
                source_server: None,
                destination_server: None,
                undo_window_secs: 60,
            };
            accounts.push(store.open_account(batch.id, key).await.unwrap().id);
        }
        store.queue_batch(batch.id).await.unwrap();
        (batch.id, accounts)
    }

    #[tokio::test]
    async fn an_account_has_one_worker_until_its_lease_runs_out() {
        for_each_backend(|store| async move {
            let (batch, accounts) = queued(&store, 2).await;
            // A lease already run out, as a dead worker's is.
            let (dead, alive) = (lessee("dead", -10), lessee("alive", 60));
            let first = store.claim_account(&dead, vec![]).await.unwrap().unwrap();
            assert_eq!((first.account, first.batch), (accounts[0], batch));
            assert_eq!(first.source, "a0@x");
            let again = store.claim_account(&alive, vec![]).await.unwrap().unwrap();
            assert_eq!(again.account, accounts[0], "the dead worker's account");
            let second = store.claim_account(&alive, vec![]).await.unwrap().unwrap();
            assert_eq!(second.account, accounts[1]);
            assert_eq!(store.claim_account(&dead, vec![]).await.unwrap(), None);
            assert_eq!(store.open_queued_accounts().await.unwrap(), 2);

            // `run` cannot take the batch back while a worker holds some.
            assert!(!store.unqueue_batch(batch).await.unwrap());

            // A busy batch is left out.
            store.release_account(&alive, accounts[1]).await.unwrap();
            assert_eq!(
                store.claim_account(&alive, vec![batch]).await.unwrap(),
                None
            );

            // The heartbeat keeps what the worker holds, and says so.
            store.register_worker(&alive, "h".into()).await.unwrap();
            let beat = store
                .heartbeat(&alive, vec![accounts[0], accounts[1]], vec![])
                .await
                .unwrap();
            assert_eq!(beat.held, vec![accounts[0]]);
            assert!(beat.cancelled.is_empty());
            assert_eq!(beat.batch_workers, HashMap::from([(batch, 1)]));
            assert_eq!(store.batch_workers(batch).await.unwrap(), 1);

            // A second worker on the batch: the two share its caps.
            let other = lessee("other", 60);
            let taken = store.claim_account(&other, vec![]).await.unwrap().unwrap();
            assert_eq!(taken.account, accounts[1]);
            let beat = store
                .heartbeat(&alive, vec![accounts[0]], vec![])
                .await
                .unwrap();
            assert_eq!(beat.batch_workers, HashMap::from([(batch, 2)]));
            assert_eq!(store.batch_workers(batch).await.unwrap(), 2);
        })
        .await;
    }

    #[tokio::test]
    async fn a_queued_batch_ends_once_when_its_last_account_ends() {
        for_each_backend(|store| async move {
            let (batch, accounts) = queued(&store, 2).await;
            let worker = lessee("w", 60);
            assert_eq!(store.finish_queued_batch(batch).await.unwrap(), None);
            for (account, state) in accounts
                .iter()
                .zip([AccountState::Completed, AccountState::Failed])
            {
                let claim = store.claim_account(&worker, vec![]).await.unwrap().unwrap();
                assert_eq!(claim.account, *account);
                store
                    .set_account_state(*account, state, None, None)
                    .await
                    .unwrap();
                assert_eq!(
                    store.finish_queued_batch(batch).await.unwrap(),
                    None,
                    "held still"
                );
                store.release_account(&worker, *account).await.unwrap();
            }
            assert_eq!(
                store.finish_queued_batch(batch).await.unwrap(),
                Some(BatchState::CompletedWithErrors)
            );
            assert_eq!(store.finish_queued_batch(batch).await.unwrap(), None);
            assert_eq!(store.open_queued_accounts().await.unwrap(), 0);
            // Taken back from the workers: none holds an account.
            assert!(store.unqueue_batch(batch).await.unwrap());
        })
        .await;
    }

    #[tokio::test]
    async fn host_slots_are_taken_all_at_once_within_the_cap() {
        for_each_backend(|store| async move {
            let (a, b) = (lessee("a", 60), lessee("b", 60));
            let host = || "mail.example.test".to_owned();
            let pair = store.take_host_slots(&a, host(), 3, 2).await.unwrap();
            assert_eq!(pair, Some(vec![0, 1]));
            assert_eq!(store.take_host_slots(&b, host(), 3, 2).await.unwrap(), None);
            assert_eq!(
                store.take_host_slots(&b, host(), 3, 1).await.unwrap(),
                Some(vec![2])
            );
            assert_eq!(
                store
                    .take_host_slots(&b, "other.test".into(), 3, 2)
                    .await
                    .unwrap(),
                Some(vec![0, 1])
            );
            store.release_host_slots(&a, host(), vec![0, 1]);
            assert_eq!(
                store.take_host_slots(&b, host(), 3, 2).await.unwrap(),
                Some(vec![0, 1])
            );
            // A worker that leaves gives back all it holds.
            store.leave(&b).await.unwrap();
            assert_eq!(
                store.take_host_slots(&a, host(), 3, 3).await.unwrap(),
                Some(vec![0, 1, 2])
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_heartbeat_renews_only_the_slots_held() {
        for_each_backend(|store| async move {
            // Slots taken under leases already run out, as after a lost
            // release; the heartbeat renews those the worker says it holds.
            let (lapsed, b) = (lessee("a", -10), lessee("b", 60));
            let host = || "mail.example.test".to_owned();
            let other = || "other.example.test".to_owned();
            store.take_host_slots(&lapsed, host(), 3, 3).await.unwrap();
            store.take_host_slots(&lapsed, other(), 2, 2).await.unwrap();
            store
                .register_worker(&lessee("a", 60), "h".into())
                .await
                .unwrap();
            let held = vec![(host(), 0), (host(), 2), (other(), 1)];
            store
                .heartbeat(&lessee("a", 60), vec![], held)
                .await
                .unwrap();
            assert_eq!(store.take_host_slots(&b, host(), 3, 2).await.unwrap(), None);
            assert_eq!(
                store.take_host_slots(&b, host(), 3, 1).await.unwrap(),
                Some(vec![1])
            );
            assert_eq!(
                store.take_host_slots(&b, other(), 2, 1).await.unwrap(),
                Some(vec![0])
            );
            assert_eq!(
                store.take_host_slots(&b, other(), 2, 1).await.unwrap(),
                None
            );
        })
        .await;
    }
}
