//! Writing one resource to its destination collection, never over what
//! mailshift did not write, with its checkpoint: the intent before a new
//! resource is written, the outcome after, and a permanent refusal with
//! the source version it was given for.

use std::collections::HashSet;

use crate::formats::content_line::uid;
use crate::plan::StageKind;
use crate::protocols::caldav::ICALENDAR;
use crate::protocols::carddav::VCARD;
use crate::protocols::dav::{DavClient, DavError, PutOutcome};
use crate::store::Store;
use crate::store::dav::{DavArea, ItemRecord};

/// One resource to write to a destination collection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Item<'a> {
    /// What identifies it at the source (an href, or any stable key): the
    /// checkpoint's key.
    pub source_href: &'a str,
    /// Its version at the source (an ETag, or a content hash): a re-run
    /// with the same version skips it.
    pub etag: &'a str,
    /// The resource name to use at the destination (`event.ics`).
    pub name: &'a str,
    /// The content to write, as it should be stored.
    pub content: &'a [u8],
}

/// What [`write_item`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Written {
    /// Written; undo will delete it.
    Copied,
    /// Its name, or its UID in that collection, was taken at the
    /// destination by something mailshift did not write: left alone.
    Present,
    /// Found written by an earlier try that stopped before recording it
    /// (a crash, a cut connection): now recorded as mailshift's (undo
    /// will delete it).
    Recovered,
    /// The destination refused it, with the server's answer. A permanent
    /// refusal is recorded with the source version: a re-run does not
    /// write that version again.
    Refused { reason: String, permanent: bool },
}

/// Writes one item into the destination `collection` for stage `kind`
/// (of WebDAV `area`), never overwriting what mailshift did not write,
/// and checkpoints it (with what undo needs) before returning. `uids` are
/// those the collection held before the pass (an item with one of them
/// is there already); `record` is the item's checkpoint from an earlier
/// run, if any.
pub(super) async fn write_item(
    store: &Store,
    (account_id, kind, area): (i64, StageKind, DavArea),
    (dest, collection, uids): (&DavClient, &str, &HashSet<Vec<u8>>),
    item: Item<'_>,
    record: Option<&ItemRecord>,
) -> anyhow::Result<Written> {
    let media_type = match area {
        DavArea::Contacts => VCARD,
        DavArea::Calendars => ICALENDAR,
    };
    let (dest_href, ours) = match record {
        Some(r) => (r.dest_href.clone(), r.created),
        None => (format!("{collection}{}", item.name), false),
    };
    let interrupted = record.is_some_and(|r| r.pending);
    let row = |created, pending, refused| ItemRecord {
        stage: kind.name().to_owned(),
        source_href: item.source_href.to_owned(),
        etag: item.etag.to_owned(),
        dest_href: dest_href.clone(),
        created,
        pending,
        refused,
    };
    // A new item whose UID the collection held before: there already.
    if record.is_none() && uid(item.content).is_some_and(|u| uids.contains(&u)) {
        store
            .record_dav_item(account_id, kind, row(false, false, None))
            .await?;
        return Ok(Written::Present);
    }
    let written = if ours {
        dest.put_replace(&dest_href, media_type, item.content)
            .await
            .map(|()| PutOutcome::Created)
    } else {
        // The intent first: if the process dies before the answer is
        // recorded, the next run knows this name may be mailshift's.
        store
            .record_dav_item(account_id, kind, row(false, true, None))
            .await?;
        dest.put_new(&dest_href, media_type, item.content).await
    };
    let outcome = match written {
        Ok(PutOutcome::Created) => Written::Copied,
        // Taken: by the write of an interrupted run or a cut try if it
        // holds this item (same UID), else by something mailshift did
        // not write.
        Ok(PutOutcome::Unconfirmed) => recognise(dest, &dest_href, item.content).await?,
        Ok(PutOutcome::Exists) if interrupted => recognise(dest, &dest_href, item.content).await?,
        Ok(PutOutcome::Exists | PutOutcome::UidTaken) => Written::Present,
        Err(error @ DavError::Status { .. }) => {
            let permanent = !error.is_retryable();
            let reason = error.to_string();
            // A permanent refusal is recorded with the source version it
            // was given for, so that a re-run leaves that version alone; a
            // transient one leaves the checkpoint as it was, to be tried
            // again.
            if permanent {
                store
                    .record_dav_item(account_id, kind, row(ours, false, Some(reason.clone())))
                    .await?;
            }
            return Ok(Written::Refused { reason, permanent });
        }
        Err(other) => return Err(other.into()),
    };
    let created = matches!(outcome, Written::Copied | Written::Recovered);
    store
        .record_dav_item(account_id, kind, row(created, false, None))
        .await?;
    Ok(outcome)
}

/// Whether the resource at `href` is this item (same UID), written by a
/// try whose answer was lost.
async fn recognise(dest: &DavClient, href: &str, content: &[u8]) -> anyhow::Result<Written> {
    let there = dest.get(href).await?;
    Ok(if uid(&there).is_some() && uid(&there) == uid(content) {
        Written::Recovered
    } else {
        Written::Present
    })
}
