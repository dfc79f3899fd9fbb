//! What an incremental WebDAV pass starts from: per stage and source
//! collection, the sync token (RFC 6578) of the last pass that left
//! nothing to try again there; and the source resources a sync report
//! said were removed, which a pass no longer counts (their item rows
//! stay, for undo).

use std::collections::HashSet;

use super::dav::DavArea;
use super::db::params;
use super::{Store, StoreError};
use crate::plan::StageKind;

impl Store {
    /// The sync token recorded for a stage's source collection.
    pub async fn dav_sync_token(
        &self,
        account_id: i64,
        kind: StageKind,
        source_href: &str,
    ) -> Result<Option<String>, StoreError> {
        let source_href = source_href.to_owned();
        self.call(move |conn| {
            conn.query_opt(
                "SELECT token FROM dav_sync_tokens
                     WHERE account_id = ?1 AND stage = ?2 AND source_href = ?3",
                params![account_id, kind.name(), source_href],
                |row| row.get(0),
            )
        })
        .await
    }

    /// Records the sync token a stage's pass over a source collection
    /// reached, once nothing is left to try again there.
    pub async fn record_dav_sync_token(
        &self,
        account_id: i64,
        kind: StageKind,
        source_href: &str,
        token: &str,
    ) -> Result<(), StoreError> {
        let area = DavArea::of(kind).map_or("", DavArea::name);
        let (source_href, token) = (source_href.to_owned(), token.to_owned());
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO dav_sync_tokens (account_id, area, stage, source_href, token)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_id, stage, source_href) DO UPDATE SET
                     token = excluded.token",
                params![account_id, area, kind.name(), source_href, token],
            )?;
            Ok(())
        })
        .await
    }

    /// The source resources of a collection that are gone from it.
    pub async fn dav_source_gone(
        &self,
        account_id: i64,
        area: DavArea,
        collection: &str,
    ) -> Result<HashSet<String>, StoreError> {
        let collection = collection.to_owned();
        self.call(move |conn| {
            let rows = conn.query_map(
                "SELECT source_href FROM dav_source_gone
                 WHERE account_id = ?1 AND area = ?2 AND collection = ?3",
                params![account_id, area.name(), collection],
                |row| row.get(0),
            )?;
            Ok(rows.into_iter().collect())
        })
        .await
    }

    /// Replaces the source resources of a collection known to be gone.
    pub async fn record_dav_source_gone(
        &self,
        account_id: i64,
        area: DavArea,
        collection: &str,
        gone: Vec<String>,
    ) -> Result<(), StoreError> {
        let collection = collection.to_owned();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM dav_source_gone
                 WHERE account_id = ?1 AND area = ?2 AND collection = ?3",
                params![account_id, area.name(), collection],
            )?;
            for href in gone {
                tx.execute(
                    "INSERT INTO dav_source_gone
                         (account_id, area, collection, source_href)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                    params![account_id, area.name(), collection, href],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
