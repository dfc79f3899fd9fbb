//! Lifting a cancel: the account runs again on the next run, from its
//! checkpoints.

use super::db::params;
use super::{Store, StoreError, now};

impl Store {
    /// Lifts the cancel of an account: it is no longer asked to stop, and
    /// a cancelled account becomes interrupted, which the next run resumes.
    /// `None` when no account has this ID and source address; else whether
    /// there was a cancel to lift.
    pub async fn lift_cancel(
        &self,
        migration_id: &str,
        source_email: &str,
    ) -> Result<Option<bool>, StoreError> {
        let (migration_id, source_email) =
            (migration_id.to_ascii_uppercase(), source_email.to_owned());
        self.call(move |conn| {
            let found: Option<(String, bool)> = conn.query_opt(
                "SELECT state, cancel_requested FROM accounts
                     WHERE migration_id = ?1 AND source_email = ?2",
                params![migration_id, source_email],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let Some((state, requested)) = found else {
                return Ok(None);
            };
            if !requested && state != "cancelled" {
                return Ok(Some(false));
            }
            conn.execute(
                "UPDATE accounts SET cancel_requested = 0, updated_at = ?2,
                     state = CASE WHEN state = 'cancelled' THEN 'interrupted' ELSE state END
                 WHERE migration_id = ?1",
                params![migration_id, now()],
            )?;
            Ok(Some(true))
        })
        .await
    }
}
