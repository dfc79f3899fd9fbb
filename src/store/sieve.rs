//! Sieve checkpoints (the `rules` and `auto_replies` stages): which source
//! script became which destination script, with what content, whether
//! mailshift created it or replaced one (with the old content), and which
//! script was active at the destination before the first change. Undo is
//! built from these rows.

use super::db::params;
use super::{Store, StoreError};
use crate::vocabulary::StageKind;

/// One script the stage wrote or found at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SieveRecord {
    /// The script's name at the source (for `auto_replies` alone: the
    /// source script the vacation came from).
    pub source_name: String,
    /// Its name at the destination.
    pub dest_name: String,
    /// BLAKE3 of the content written (or found), hex.
    pub hash: String,
    /// Whether mailshift created the destination script (undo deletes it).
    pub created: bool,
    /// What a script mailshift overwrote held before (undo puts it back).
    pub old_content: Option<Vec<u8>>,
}

/// What undo needs for an account's Sieve scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SieveUndoData {
    /// Destination scripts mailshift created.
    pub created: Vec<String>,
    /// Destination scripts mailshift overwrote, with their old content.
    pub replaced: Vec<(String, Vec<u8>)>,
    /// The destination's active script before the migration changed it.
    pub active_before: Option<String>,
}

impl Store {
    /// The scripts recorded for one stage of an account.
    pub async fn sieve_scripts(
        &self,
        account_id: i64,
        kind: StageKind,
    ) -> Result<Vec<SieveRecord>, StoreError> {
        self.select(
            "SELECT source_name, dest_name, hash, created, old_content
             FROM sieve_scripts WHERE account_id = ?1 AND stage = ?2 ORDER BY id",
            params![account_id, kind.name()],
            |row| {
                Ok(SieveRecord {
                    source_name: row.get(0)?,
                    dest_name: row.get(1)?,
                    hash: row.get(2)?,
                    created: row.get(3)?,
                    old_content: row.get(4)?,
                })
            },
        )
        .await
    }

    /// Records (or updates) one script. An update keeps the first
    /// `created` and `old_content`: a script mailshift created stays its
    /// own, and the content to restore is the one from before the first
    /// change.
    pub async fn record_sieve_script(
        &self,
        account_id: i64,
        kind: StageKind,
        record: SieveRecord,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO sieve_scripts
                     (account_id, stage, source_name, dest_name, hash, created, old_content)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (account_id, stage, source_name) DO UPDATE SET
                     hash = excluded.hash,
                     created = CASE WHEN sieve_scripts.dest_name = excluded.dest_name
                                    THEN (CASE WHEN sieve_scripts.created = 1
                                               OR excluded.created = 1 THEN 1 ELSE 0 END)
                                    ELSE excluded.created END,
                     old_content = CASE WHEN sieve_scripts.dest_name = excluded.dest_name
                                        THEN coalesce(sieve_scripts.old_content,
                                                      excluded.old_content)
                                        ELSE excluded.old_content END,
                     dest_name = excluded.dest_name",
                params![
                    account_id,
                    kind.name(),
                    record.source_name,
                    record.dest_name,
                    record.hash,
                    record.created,
                    record.old_content
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Remembers the destination's active script before the first change;
    /// later calls keep the first value.
    pub async fn remember_sieve_active(
        &self,
        account_id: i64,
        active: Option<String>,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO sieve_accounts (account_id, active_before) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![account_id, active],
            )?;
            Ok(())
        })
        .await
    }

    /// What undo must do for an account's scripts; `None` when no Sieve
    /// stage ran.
    pub async fn sieve_undo(&self, account_id: i64) -> Result<Option<SieveUndoData>, StoreError> {
        self.call(move |conn| {
            let active: Option<Option<String>> = conn.query_opt(
                "SELECT active_before FROM sieve_accounts WHERE account_id = ?1",
                params![account_id],
                |row| row.get(0),
            )?;
            let Some(active_before) = active else {
                return Ok(None);
            };
            let mut data = SieveUndoData {
                active_before,
                ..SieveUndoData::default()
            };
            let rows = conn.query_map(
                "SELECT dest_name, created, old_content FROM sieve_scripts
                 WHERE account_id = ?1 ORDER BY id",
                params![account_id],
                |row| {
                    Ok((
                        row.get::<String>(0)?,
                        row.get::<bool>(1)?,
                        row.get::<Option<Vec<u8>>>(2)?,
                    ))
                },
            )?;
            for (name, created, old) in rows {
                if created {
                    if !data.created.contains(&name) {
                        data.created.push(name);
                    }
                } else if let Some(old) = old
                    && !data.replaced.iter().any(|(n, _)| *n == name)
                {
                    data.replaced.push((name, old));
                }
            }
            Ok(Some(data))
        })
        .await
    }

    /// Forgets an account's Sieve records (after undo).
    pub async fn forget_sieve(&self, account_id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM sieve_scripts WHERE account_id = ?1",
                params![account_id],
            )?;
            tx.execute(
                "DELETE FROM sieve_accounts WHERE account_id = ?1",
                params![account_id],
            )?;
            tx.execute(
                "DELETE FROM stages WHERE account_id = ?1 AND kind IN ('rules', 'auto_replies')",
                params![account_id],
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
    use crate::store::testing::{for_each_backend, one_account};

    fn script(dest: &str, created: bool, old: Option<&[u8]>) -> SieveRecord {
        SieveRecord {
            source_name: "main".into(),
            dest_name: dest.into(),
            hash: format!("{dest}-{created}"),
            created,
            old_content: old.map(<[u8]>::to_vec),
        }
    }

    #[tokio::test]
    async fn a_script_recorded_again_keeps_what_undo_needs_from_the_first_change() {
        for_each_backend(|store| async move {
            let account = one_account(&store).await;
            let rules = StageKind::Rules;
            store
                .remember_sieve_active(account, Some("old".into()))
                .await
                .unwrap();
            store.remember_sieve_active(account, None).await.unwrap();
            let (first, second) = (
                script("main", true, None),
                script("main", false, Some(b"x")),
            );
            store
                .record_sieve_script(account, rules, first)
                .await
                .unwrap();
            store
                .record_sieve_script(account, rules, second)
                .await
                .unwrap();
            let recorded = store.sieve_scripts(account, rules).await.unwrap();
            assert_eq!(recorded.len(), 1);
            assert!(recorded[0].created, "the first `created` stays");
            assert_eq!(recorded[0].old_content.as_deref(), Some(&b"x"[..]));
            let undo = store.sieve_undo(account).await.unwrap().unwrap();
            assert_eq!(undo.active_before.as_deref(), Some("old"));
            assert_eq!(undo.created, vec!["main".to_owned()]);

            // Another destination name: that one's values, not the old ones.
            let moved = script("renamed", false, Some(b"y"));
            store
                .record_sieve_script(account, rules, moved)
                .await
                .unwrap();
            let undo = store.sieve_undo(account).await.unwrap().unwrap();
            assert!(undo.created.is_empty());
            assert_eq!(undo.replaced, vec![("renamed".to_owned(), b"y".to_vec())]);
            store.forget_sieve(account).await.unwrap();
            assert_eq!(store.sieve_undo(account).await.unwrap(), None);
        })
        .await;
    }
}
