//! Which source resources a pass over a collection looks at. Where the
//! source collection offers the `sync-collection` report (RFC 6578: it
//! has a `sync-token`), a first pass lists it with that report, and the
//! token it reached is recorded once nothing is left to try again there;
//! a later pass asks only what changed since (nothing at all when the
//! collection's token is still the one recorded) and takes the rest from
//! the checkpoints. A token the server no longer accepts, or a server
//! without the report, means a whole listing.

use std::collections::{HashMap, HashSet};

use super::Source;
use crate::formats::percent;
use crate::plan::StageKind;
use crate::protocols::dav::{Changes, Collection, DavClient, DavError, ItemRef};
use crate::stages::context::AccountContext;
use crate::store::dav::{DavArea, ItemRecord};

/// The resources of a source collection a pass looks at.
pub(super) struct Listing {
    /// What the source holds, each with its version, as a whole listing
    /// would give it.
    pub items: Vec<ItemRef>,
    /// Whether the source listed every one (rather than only what
    /// changed, the rest coming from the checkpoints).
    pub whole: bool,
    /// The token to record once nothing is left to try again.
    pub token: Option<String>,
}

/// Lists `collection` for stage `kind`; `records` are the checkpoints of
/// the stage's area.
pub(super) async fn list(
    ctx: &AccountContext,
    (kind, area): (StageKind, DavArea),
    source: &Source,
    collection: &Collection,
    records: &HashMap<String, ItemRecord>,
) -> anyhow::Result<Listing> {
    let href = &collection.href;
    let client = match source {
        Source::Server(client) if collection.sync_token.is_some() => client,
        _ => {
            return Ok(Listing {
                items: source.items(href).await?,
                whole: true,
                token: None,
            });
        }
    };
    let prefix = percent::decode(href);
    let mut recorded: Vec<&ItemRecord> = records
        .values()
        .filter(|r| percent::decode(&r.source_href).starts_with(&prefix))
        .collect();
    recorded.sort_by(|a, b| a.source_href.cmp(&b.source_href));
    // A write whose answer was never recorded is looked at again: only a
    // whole listing is sure to hold it.
    let interrupted = recorded.iter().any(|r| r.pending && r.stage == kind.name());
    let id = ctx.account.id;
    let stored = if interrupted {
        None
    } else {
        ctx.store.dav_sync_token(id, kind, href).await?
    };
    if let Some(stored) = stored
        && let Some(changes) = changes_since(client, collection, &stored).await?
    {
        let gone_before = ctx.store.dav_source_gone(id, area, href).await?;
        let (items, gone) = merged(&recorded, &gone_before, changes.changed, &changes.removed);
        if gone.iter().collect::<HashSet<_>>() != gone_before.iter().collect() {
            ctx.store
                .record_dav_source_gone(id, area, href, gone)
                .await?;
        }
        return Ok(Listing {
            items,
            whole: false,
            token: Some(changes.token),
        });
    }
    let (items, token) = match client.sync_collection(href, None).await {
        Ok(all) => (all.changed, Some(all.token)),
        Err(error @ DavError::Status { .. }) => {
            tracing::debug!("{error}; listing {href} with PROPFIND");
            (client.items(href).await?, None)
        }
        Err(other) => return Err(other.into()),
    };
    if token.is_some() {
        // What the checkpoints hold and the source no longer does.
        let listed: HashSet<String> = items.iter().map(|i| percent::decode(&i.href)).collect();
        let gone: Vec<String> = recorded
            .iter()
            .filter(|r| !listed.contains(&percent::decode(&r.source_href)))
            .map(|r| r.source_href.clone())
            .collect();
        ctx.store
            .record_dav_source_gone(id, area, href, gone)
            .await?;
    }
    Ok(Listing {
        items,
        whole: true,
        token,
    })
}

/// What changed in `collection` since the state `token` names: nothing,
/// without a request, when the collection is still in that state; `None`
/// when the server no longer accepts the token.
async fn changes_since(
    client: &DavClient,
    collection: &Collection,
    token: &str,
) -> Result<Option<Changes>, DavError> {
    if collection.sync_token.as_deref() == Some(token) {
        return Ok(Some(Changes {
            token: token.to_owned(),
            ..Changes::default()
        }));
    }
    match client.sync_collection(&collection.href, Some(token)).await {
        Ok(changes) => Ok(Some(changes)),
        Err(error @ DavError::Status { .. }) => {
            tracing::info!("{error}; listing {} whole", collection.href);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// The resources of a collection from its checkpoints (`recorded`) and
/// what changed since, and the recorded ones now gone from the source
/// (`removed` now, or `gone_before`).
fn merged(
    recorded: &[&ItemRecord],
    gone_before: &HashSet<String>,
    changed: Vec<ItemRef>,
    removed: &[String],
) -> (Vec<ItemRef>, Vec<String>) {
    let changed_now: HashSet<String> = changed.iter().map(|i| percent::decode(&i.href)).collect();
    let removed: HashSet<String> = removed.iter().map(|h| percent::decode(h)).collect();
    let mut items = Vec::new();
    let mut gone = Vec::new();
    for record in recorded {
        let key = percent::decode(&record.source_href);
        if changed_now.contains(&key) {
            continue;
        }
        if removed.contains(&key) || gone_before.contains(&record.source_href) {
            gone.push(record.source_href.clone());
        } else {
            items.push(ItemRef {
                href: record.source_href.clone(),
                etag: record.etag.clone(),
            });
        }
    }
    items.extend(changed);
    (items, gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(href: &str, etag: &str) -> ItemRecord {
        ItemRecord {
            stage: "calendars".into(),
            source_href: href.into(),
            etag: etag.into(),
            dest_href: format!("/dest{href}"),
            created: true,
            pending: false,
            refused: None,
        }
    }

    fn item(href: &str, etag: &str) -> ItemRef {
        ItemRef {
            href: href.into(),
            etag: etag.into(),
        }
    }

    #[test]
    fn checkpoints_and_changes_make_the_whole_collection() {
        let (a, b, c, d) = (
            record("/c/a.ics", "1"),
            record("/c/b%20x.ics", "1"),
            record("/c/c.ics", "1"),
            record("/c/d.ics", "1"),
        );
        let gone_before = HashSet::from(["/c/d.ics".to_owned()]);
        let (items, gone) = merged(
            &[&a, &b, &c, &d],
            &gone_before,
            vec![item("/c/b x.ics", "2"), item("/c/e.ics", "1")],
            &["/c/c.ics".to_owned()],
        );
        assert_eq!(
            items,
            [
                item("/c/a.ics", "1"),
                item("/c/b x.ics", "2"),
                item("/c/e.ics", "1")
            ]
        );
        assert_eq!(gone, ["/c/c.ics", "/c/d.ics"]);
    }

    #[test]
    fn a_resource_back_at_the_source_is_no_longer_gone() {
        let d = record("/c/d.ics", "1");
        let gone_before = HashSet::from(["/c/d.ics".to_owned()]);
        let (items, gone) = merged(&[&d], &gone_before, vec![item("/c/d.ics", "3")], &[]);
        assert_eq!(items, [item("/c/d.ics", "3")]);
        assert!(gone.is_empty());
    }
}
