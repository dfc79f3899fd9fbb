//! Undoing the `contacts` and `contact_groups` stages: the vCards the
//! migration created are deleted, then the address books it created, each
//! only if it is empty again (a contact added there since keeps its
//! address book, which is reported). vCards and address books the
//! destination had are left alone.

use std::time::Duration;

use serde::Serialize;

use super::UndoContacts;
use crate::protocols::carddav::{DavClient, DavError};
use crate::protocols::imap::Auth;

/// How long the server may take to answer one request during undo.
const TIMEOUT: Duration = Duration::from_secs(120);

/// What a contacts undo did and what it left.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ContactsUndoOutcome {
    /// vCards deleted.
    pub cards_deleted: u64,
    /// Address books deleted.
    pub address_books_deleted: Vec<String>,
    /// What could not be undone, and why.
    pub left: Vec<String>,
}

/// Removes what the migration created among the destination's contacts.
pub async fn undo(
    contacts: &UndoContacts,
    user: &str,
    auth: Auth,
) -> Result<ContactsUndoOutcome, DavError> {
    let client = DavClient::new(
        &contacts.dav_url,
        user,
        auth,
        contacts.accept_invalid_certs,
        TIMEOUT,
    )?;
    let mut outcome = ContactsUndoOutcome::default();
    for href in &contacts.cards {
        match client.delete(href).await {
            Ok(true) => outcome.cards_deleted += 1,
            Ok(false) => {}
            Err(error @ DavError::Status { .. }) => outcome
                .left
                .push(format!("vCard {href}: not deleted: {error}")),
            Err(other) => return Err(other),
        }
    }
    let existing = client.address_books().await?;
    for href in &contacts.address_books {
        if !existing.iter().any(|b| &b.href == href) {
            continue;
        }
        let remaining = client.cards(href).await?.len();
        if remaining > 0 {
            outcome.left.push(format!(
                "address book {href}: not deleted, it holds {remaining} vCards the migration \
                 did not create"
            ));
            continue;
        }
        match client.delete(href).await {
            Ok(_) => outcome.address_books_deleted.push(href.clone()),
            Err(error @ DavError::Status { .. }) => outcome
                .left
                .push(format!("address book {href}: not deleted: {error}")),
            Err(other) => return Err(other),
        }
    }
    Ok(outcome)
}
