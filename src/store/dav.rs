//! WebDAV checkpoints (the `contacts`, `contact_groups`, `calendars` and
//! `tasks` stages): which source collection became which destination
//! collection, which source resource (by href and ETag) became which
//! destination resource, with whether mailshift created it, and the
//! destination's home collection. Undo is built from these rows.

use super::db::params;
use super::{Row, Store, StoreError};
use crate::vocabulary::StageKind;

/// The two kinds of collection, each shared by two stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DavArea {
    /// Address books: `contacts` and `contact_groups`.
    Contacts,
    /// Calendars: `calendars` and `tasks`.
    Calendars,
}

impl DavArea {
    /// The area of a stage, if it has one.
    pub fn of(kind: StageKind) -> Option<DavArea> {
        match kind {
            StageKind::Contacts | StageKind::ContactGroups => Some(DavArea::Contacts),
            StageKind::Calendars | StageKind::Tasks => Some(DavArea::Calendars),
            _ => None,
        }
    }

    /// Its name in the store.
    pub fn name(self) -> &'static str {
        match self {
            DavArea::Contacts => "contacts",
            DavArea::Calendars => "calendars",
        }
    }

    /// The stages that share it.
    fn stages(self) -> [StageKind; 2] {
        match self {
            DavArea::Contacts => [StageKind::Contacts, StageKind::ContactGroups],
            DavArea::Calendars => [StageKind::Calendars, StageKind::Tasks],
        }
    }
}

/// A source collection and its destination counterpart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRecord {
    /// The source collection's URL path.
    pub source_href: String,
    /// The destination collection's URL path.
    pub dest_href: String,
    /// Whether mailshift created the destination collection.
    pub created: bool,
}

/// A source resource and its destination counterpart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRecord {
    /// The stage that handled it (`contacts`, `tasks`...).
    pub stage: String,
    /// The source resource's URL path.
    pub source_href: String,
    /// The source's ETag when it was copied.
    pub etag: String,
    /// The destination resource's URL path.
    pub dest_href: String,
    /// Whether mailshift created the destination resource.
    pub created: bool,
    /// A write was about to happen and its answer is not recorded (an
    /// intent): after a crash, it may or may not have happened.
    pub pending: bool,
    /// Why the destination refused this version (`etag`) for good; a
    /// re-run does not write it again until the source changes it.
    pub refused: Option<String>,
}

/// What undo needs for an account's address books or calendars.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DavUndoData {
    /// The destination's home collection, when recorded.
    pub home: Option<String>,
    /// Destination resources mailshift created.
    pub items: Vec<String>,
    /// Destination collections mailshift created.
    pub collections: Vec<String>,
}

impl Store {
    /// The collections recorded for an account.
    pub async fn dav_collections(
        &self,
        account_id: i64,
        area: DavArea,
    ) -> Result<Vec<CollectionRecord>, StoreError> {
        self.select(
            "SELECT source_href, dest_href, created FROM dav_collections
             WHERE account_id = ?1 AND area = ?2 ORDER BY id",
            params![account_id, area.name()],
            |row| {
                Ok(CollectionRecord {
                    source_href: row.get(0)?,
                    dest_href: row.get(1)?,
                    created: row.get(2)?,
                })
            },
        )
        .await
    }

    /// Records which destination collection a source one maps to. A later
    /// record for the same source keeps the first `created` when the
    /// destination is unchanged.
    pub async fn record_dav_collection(
        &self,
        account_id: i64,
        area: DavArea,
        record: CollectionRecord,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO dav_collections (account_id, area, source_href, dest_href, created)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_id, area, source_href) DO UPDATE SET
                     created = CASE WHEN dav_collections.dest_href = excluded.dest_href
                                    THEN (CASE WHEN dav_collections.created = 1 OR excluded.created = 1 THEN 1 ELSE 0 END)
                                    ELSE excluded.created END,
                     dest_href = excluded.dest_href",
                params![
                    account_id,
                    area.name(),
                    record.source_href,
                    record.dest_href,
                    record.created
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The resources recorded for an account (both stages of the area).
    pub async fn dav_items(
        &self,
        account_id: i64,
        area: DavArea,
    ) -> Result<Vec<ItemRecord>, StoreError> {
        self.select(
            "SELECT stage, source_href, etag, dest_href, created, pending, refused FROM dav_items
             WHERE account_id = ?1 AND area = ?2 ORDER BY id",
            params![account_id, area.name()],
            item_record,
        )
        .await
    }

    /// Records (or updates) one resource, or the intent to write it
    /// (`pending`); an update keeps the first `created` when the
    /// destination is unchanged.
    pub async fn record_dav_item(
        &self,
        account_id: i64,
        kind: StageKind,
        record: ItemRecord,
    ) -> Result<(), StoreError> {
        let area = DavArea::of(kind).map_or("", DavArea::name);
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO dav_items
                     (account_id, area, stage, source_href, etag, dest_href, created, pending,
                      refused)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (account_id, area, source_href) DO UPDATE SET
                     stage = excluded.stage,
                     etag = excluded.etag,
                     pending = excluded.pending,
                     refused = excluded.refused,
                     created = CASE WHEN dav_items.dest_href = excluded.dest_href
                                    THEN (CASE WHEN dav_items.created = 1 OR excluded.created = 1 THEN 1 ELSE 0 END)
                                    ELSE excluded.created END,
                     dest_href = excluded.dest_href",
                params![
                    account_id,
                    area,
                    kind.name(),
                    record.source_href,
                    record.etag,
                    record.dest_href,
                    record.created,
                    record.pending,
                    record.refused,
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Records the destination's home collection (a whole URL) for undo.
    pub async fn record_dav_home(
        &self,
        account_id: i64,
        area: DavArea,
        url: String,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO dav_homes (account_id, area, url) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id, area) DO UPDATE SET url = excluded.url",
                params![account_id, area.name(), url],
            )?;
            Ok(())
        })
        .await
    }

    /// What undo must do for an account's address books or calendars;
    /// `None` when no stage of the area recorded anything.
    pub async fn dav_undo(
        &self,
        account_id: i64,
        area: DavArea,
    ) -> Result<Option<DavUndoData>, StoreError> {
        let collections = self.dav_collections(account_id, area).await?;
        let items = self.dav_items(account_id, area).await?;
        if collections.is_empty() && items.is_empty() {
            return Ok(None);
        }
        let home = self
            .call(move |conn| {
                conn.query_opt(
                    "SELECT url FROM dav_homes WHERE account_id = ?1 AND area = ?2",
                    params![account_id, area.name()],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok(Some(DavUndoData {
            home,
            items: items
                .into_iter()
                .filter(|c| c.created)
                .map(|c| c.dest_href)
                .collect(),
            collections: collections
                .into_iter()
                .filter(|b| b.created)
                .map(|b| b.dest_href)
                .collect(),
        }))
    }

    /// Forgets an account's records of one area (after undo).
    pub async fn forget_dav(&self, account_id: i64, area: DavArea) -> Result<(), StoreError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            for table in [
                "dav_items",
                "dav_collections",
                "dav_homes",
                "dav_sync_tokens",
                "dav_source_gone",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE account_id = ?1 AND area = ?2"),
                    params![account_id, area.name()],
                )?;
            }
            let [first, second] = area.stages();
            tx.execute(
                "DELETE FROM stages WHERE account_id = ?1 AND kind IN (?2, ?3)",
                params![account_id, first.name(), second.name()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

fn item_record(row: &Row) -> Result<ItemRecord, StoreError> {
    Ok(ItemRecord {
        stage: row.get(0)?,
        source_href: row.get(1)?,
        etag: row.get(2)?,
        dest_href: row.get(3)?,
        created: row.get(4)?,
        pending: row.get(5)?,
        refused: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{for_each_backend, one_account};

    #[tokio::test]
    async fn records_keep_the_first_created_and_gone_resources_are_kept_once() {
        for_each_backend(|store| async move {
            let account = one_account(&store).await;
            let area = DavArea::Contacts;
            for created in [true, false] {
                let book = CollectionRecord {
                    source_href: "/s/book/".into(),
                    dest_href: "/d/book/".into(),
                    created,
                };
                store
                    .record_dav_collection(account, area, book)
                    .await
                    .unwrap();
                let card = ItemRecord {
                    stage: "contacts".into(),
                    source_href: "/s/book/a.vcf".into(),
                    etag: "\"1\"".into(),
                    dest_href: "/d/book/a.vcf".into(),
                    created,
                    pending: !created,
                    refused: None,
                };
                store
                    .record_dav_item(account, StageKind::Contacts, card)
                    .await
                    .unwrap();
            }
            store
                .record_dav_home(account, area, "http://d/home/".into())
                .await
                .unwrap();
            let undo = store.dav_undo(account, area).await.unwrap().unwrap();
            assert_eq!(undo.collections, vec!["/d/book/".to_owned()]);
            assert_eq!(undo.items, vec!["/d/book/a.vcf".to_owned()]);
            assert_eq!(undo.home.as_deref(), Some("http://d/home/"));
            assert!(store.dav_items(account, area).await.unwrap()[0].pending);

            let gone = vec!["/s/book/b.vcf".to_owned(), "/s/book/b.vcf".to_owned()];
            store
                .record_dav_source_gone(account, area, "/s/book/", gone)
                .await
                .unwrap();
            let kept = store
                .dav_source_gone(account, area, "/s/book/")
                .await
                .unwrap();
            assert_eq!(kept.len(), 1);
            store
                .record_dav_sync_token(account, StageKind::Contacts, "/s/book/", "t1")
                .await
                .unwrap();
            store
                .record_dav_sync_token(account, StageKind::Contacts, "/s/book/", "t2")
                .await
                .unwrap();
            let token = store
                .dav_sync_token(account, StageKind::Contacts, "/s/book/")
                .await
                .unwrap();
            assert_eq!(token.as_deref(), Some("t2"));
            store.forget_dav(account, area).await.unwrap();
            assert!(store.dav_undo(account, area).await.unwrap().is_none());
        })
        .await;
    }
}
