//! Contact checkpoints (the `contacts` and `contact_groups` stages): which
//! source address book became which destination address book, and which
//! source vCard (by href and ETag) became which destination vCard, with
//! whether mailshift created it. Undo is built from these rows.

use rusqlite::params;

use super::{Store, StoreError};
use crate::plan::StageKind;

/// A source address book and its destination counterpart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookRecord {
    pub source_href: String,
    pub dest_href: String,
    /// Whether mailshift created the destination address book.
    pub created: bool,
}

/// A source vCard and its destination counterpart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    /// The stage that handled it (`contacts` or `contact_groups`).
    pub stage: String,
    pub source_href: String,
    /// The source's ETag when it was copied.
    pub etag: String,
    pub dest_href: String,
    /// Whether mailshift created the destination vCard.
    pub created: bool,
}

/// What undo needs for an account's contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactsUndoData {
    /// Destination vCards mailshift created.
    pub cards: Vec<String>,
    /// Destination address books mailshift created.
    pub address_books: Vec<String>,
}

impl Store {
    /// The address books recorded for an account.
    pub async fn contact_books(&self, account_id: i64) -> Result<Vec<BookRecord>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT source_href, dest_href, created FROM contact_books
                 WHERE account_id = ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([account_id], |row| {
                    Ok(BookRecord {
                        source_href: row.get(0)?,
                        dest_href: row.get(1)?,
                        created: row.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Records which destination address book a source one maps to. A
    /// later record for the same source keeps the first `created` when the
    /// destination is unchanged.
    pub async fn record_contact_book(
        &self,
        account_id: i64,
        record: BookRecord,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO contact_books (account_id, source_href, dest_href, created)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, source_href) DO UPDATE SET
                     created = CASE WHEN dest_href = excluded.dest_href
                                    THEN created OR excluded.created
                                    ELSE excluded.created END,
                     dest_href = excluded.dest_href",
                params![
                    account_id,
                    record.source_href,
                    record.dest_href,
                    record.created
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The vCards recorded for an account (both stages).
    pub async fn contact_cards(&self, account_id: i64) -> Result<Vec<CardRecord>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT stage, source_href, etag, dest_href, created FROM contact_cards
                 WHERE account_id = ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([account_id], |row| {
                    Ok(CardRecord {
                        stage: row.get(0)?,
                        source_href: row.get(1)?,
                        etag: row.get(2)?,
                        dest_href: row.get(3)?,
                        created: row.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Records (or updates) one vCard; an update keeps the first `created`
    /// when the destination is unchanged.
    pub async fn record_contact_card(
        &self,
        account_id: i64,
        kind: StageKind,
        source_href: String,
        etag: String,
        dest_href: String,
        created: bool,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO contact_cards
                     (account_id, stage, source_href, etag, dest_href, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (account_id, source_href) DO UPDATE SET
                     stage = excluded.stage,
                     etag = excluded.etag,
                     created = CASE WHEN dest_href = excluded.dest_href
                                    THEN created OR excluded.created
                                    ELSE excluded.created END,
                     dest_href = excluded.dest_href",
                params![
                    account_id,
                    kind.name(),
                    source_href,
                    etag,
                    dest_href,
                    created
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// What undo must do for an account's contacts; `None` when no
    /// contacts stage recorded anything.
    pub async fn contacts_undo(
        &self,
        account_id: i64,
    ) -> Result<Option<ContactsUndoData>, StoreError> {
        let books = self.contact_books(account_id).await?;
        let cards = self.contact_cards(account_id).await?;
        if books.is_empty() && cards.is_empty() {
            return Ok(None);
        }
        Ok(Some(ContactsUndoData {
            cards: cards
                .into_iter()
                .filter(|c| c.created)
                .map(|c| c.dest_href)
                .collect(),
            address_books: books
                .into_iter()
                .filter(|b| b.created)
                .map(|b| b.dest_href)
                .collect(),
        }))
    }

    /// Forgets an account's contact records (after undo).
    pub async fn forget_contacts(&self, account_id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM contact_cards WHERE account_id = ?1",
                [account_id],
            )?;
            tx.execute(
                "DELETE FROM contact_books WHERE account_id = ?1",
                [account_id],
            )?;
            tx.execute(
                "DELETE FROM stages WHERE account_id = ?1
                 AND kind IN ('contacts', 'contact_groups')",
                [account_id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
