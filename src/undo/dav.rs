//! Undoing the WebDAV stages (`contacts`, `contact_groups`, `calendars`,
//! `tasks`): the resources the migration created are deleted, then the
//! collections it created, each only if it is empty again (an item added
//! there since keeps its collection, which is reported). Resources and
//! collections the destination had are left alone.

use serde::Serialize;

use crate::protocols::dav::{DavClient, DavError};
use crate::protocols::imap::Auth;
use crate::stages::dav::TIMEOUT;

/// What one area's undo did and what it left.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DavUndoOutcome {
    /// Resources (vCards, calendar objects) deleted.
    pub items_deleted: u64,
    /// Collections (address books, calendars) deleted.
    pub collections_deleted: Vec<String>,
    /// What could not be undone, and why.
    pub left: Vec<String>,
}

/// What to remove, and the words for it in messages.
pub struct Created<'a> {
    /// The destination's home collection (its server is what matters).
    pub dav_url: &'a str,
    /// Whether a certificate that does not verify is taken anyway.
    pub accept_invalid_certs: bool,
    /// Resources to delete.
    pub items: &'a [String],
    /// Collections to delete once empty.
    pub collections: &'a [String],
    /// `vCard`, `calendar object`.
    pub item_noun: &'a str,
    /// `address book`, `calendar`.
    pub collection_noun: &'a str,
}

/// Removes what the migration created in one area of the destination.
pub async fn undo(
    created: &Created<'_>,
    user: &str,
    auth: Auth,
) -> Result<DavUndoOutcome, DavError> {
    let client = DavClient::new(
        created.dav_url,
        user,
        auth,
        created.accept_invalid_certs,
        TIMEOUT,
    )?;
    let mut outcome = DavUndoOutcome::default();
    for href in created.items {
        match client.delete(href).await {
            Ok(true) => outcome.items_deleted += 1,
            Ok(false) => {}
            Err(error @ DavError::Status { .. }) => outcome.left.push(format!(
                "{} {href}: not deleted: {error}",
                created.item_noun
            )),
            Err(other) => return Err(other),
        }
    }
    for href in created.collections {
        let remaining = match client.items(href).await {
            Ok(items) => items.len(),
            // Gone already.
            Err(DavError::Status { status: 404, .. }) => continue,
            Err(other) => return Err(other),
        };
        if remaining > 0 {
            outcome.left.push(format!(
                "{} {href}: not deleted, it holds {remaining} items the migration did not create",
                created.collection_noun
            ));
            continue;
        }
        match client.delete(href).await {
            Ok(_) => outcome.collections_deleted.push(href.clone()),
            Err(error @ DavError::Status { .. }) => outcome.left.push(format!(
                "{} {href}: not deleted: {error}",
                created.collection_noun
            )),
            Err(other) => return Err(other),
        }
    }
    Ok(outcome)
}
