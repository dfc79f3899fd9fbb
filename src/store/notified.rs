//! Which outcome of an account its notifications last announced, so that
//! an outcome is emailed once and not again on every incremental pass.

use super::db::params;
use super::{Store, StoreError};
use crate::vocabulary::AccountState;

impl Store {
    /// The outcome (an account state) last announced for an account.
    pub async fn notified(&self, account_id: i64) -> Result<Option<AccountState>, StoreError> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT notified FROM accounts WHERE id = ?1",
                params![account_id],
                |row| row.get(0),
            )
        })
        .await
    }

    /// Records that an account's `outcome` was announced.
    pub async fn set_notified(
        &self,
        account_id: i64,
        outcome: AccountState,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE accounts SET notified = ?2 WHERE id = ?1",
                params![account_id, outcome],
            )?;
            Ok(())
        })
        .await
    }
}
