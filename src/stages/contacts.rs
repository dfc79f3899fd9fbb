//! The `contacts` and `contact_groups` stages: address books and vCards
//! over CardDAV (RFC 6352).
//!
//! Every address book of the source's home collection (the endpoint's
//! `dav_url`) is re-created at the destination with the same display name;
//! a destination address book with that name already is reused. Each
//! vCard is copied exactly as the source serves it, under the same
//! resource name, with `If-None-Match: *` so nothing at the destination is
//! ever overwritten: photos, several addresses, phones and emails, and the
//! vCard version travel untouched.
//!
//! `contacts` copies individual vCards; `contact_groups` copies group
//! vCards: vCard 4 `KIND:group` with `MEMBER:urn:uuid:...`, and Apple's
//! `X-ADDRESSBOOKSERVER-KIND:group` with `X-ADDRESSBOOKSERVER-MEMBER`.
//! UIDs are kept unchanged, so member references name the copied contacts
//! at the destination as they named the originals and need no rewriting.
//!
//! Each vCard is checkpointed by source href and ETag, so a re-run adds
//! nothing twice; a vCard whose name is already taken at the destination
//! (and that mailshift did not write) is counted present and left alone.
//! A source vCard that changed since mailshift copied it is written again
//! over mailshift's own copy.
//!
//! Undo data: the address books and vCards created (undo deletes the
//! vCards, then the address books that are empty again).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;

use super::StageFailure;
use crate::engine::AccountContext;
use crate::plan::{Endpoint, StageKind};
use crate::protocols::carddav::{AddressBook, DavClient, DavError, PutOutcome};
use crate::store::batches::StageCounts;
use crate::store::contacts::{BookRecord, CardRecord};

/// How long a CardDAV server may take to answer one request.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A CardDAV client for an endpoint's `dav_url`, logged in as its user.
pub async fn client(endpoint: &Endpoint) -> anyhow::Result<DavClient> {
    let url = endpoint
        .dav_url
        .as_deref()
        .with_context(|| format!("Account {} has no dav_url", endpoint.email))?;
    let auth = endpoint
        .credential
        .imap_auth()
        .await
        .with_context(|| format!("The credential of {}", endpoint.user))?;
    let accept_invalid_certs = endpoint
        .server
        .as_ref()
        .is_some_and(|s| s.accept_invalid_certs);
    Ok(DavClient::new(
        url,
        &endpoint.user,
        auth,
        accept_invalid_certs,
        TIMEOUT,
    )?)
}

/// Runs the `contacts` or `contact_groups` stage for one account.
pub async fn run(ctx: &AccountContext, kind: StageKind) -> Result<StageCounts, StageFailure> {
    let mut counts = StageCounts::default();
    match copy(ctx, kind, &mut counts).await {
        Ok(()) if counts.failed > u64::from(ctx.plan.error_budget) => Err(StageFailure {
            error: anyhow::anyhow!(
                "{} vCards failed, more than the error budget of {}",
                counts.failed,
                ctx.plan.error_budget
            ),
            counts,
        }),
        Ok(()) => Ok(counts),
        Err(error) => Err(StageFailure { error, counts }),
    }
}

/// Whether a vCard is a group (vCard 4 `KIND:group` or Apple's
/// `X-ADDRESSBOOKSERVER-KIND:group`).
pub fn is_group(card: &[u8]) -> bool {
    let text = String::from_utf8_lossy(card);
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    unfolded.lines().any(|line| {
        let Some((name, value)) = line.split_once(':') else {
            return false;
        };
        let name = name.split(';').next().unwrap_or("");
        // A property may carry a group prefix (`item1.KIND`).
        let name = name.rsplit('.').next().unwrap_or("");
        (name.eq_ignore_ascii_case("KIND") || name.eq_ignore_ascii_case("X-ADDRESSBOOKSERVER-KIND"))
            && value.trim().eq_ignore_ascii_case("group")
    })
}

/// The last segment of an href (`/alice/book/x.vcf` → `x.vcf`,
/// `/alice/book/` → `book`).
fn last_segment(href: &str) -> &str {
    href.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

async fn item_note(ctx: &AccountContext, kind: StageKind, item: &str, reason: String) {
    if let Err(error) = ctx
        .store
        .record_item_error(ctx.account.id, kind, item.to_owned(), reason.clone())
        .await
    {
        tracing::error!("cannot record {item}: {error}");
    }
    tracing::warn!(account = %ctx.plan.source.email, "{item}: {reason}");
}

/// The destination address book for a source one: the recorded one if it
/// is still there, else one of the same display name, else a new one.
async fn target_book(
    ctx: &AccountContext,
    dest: &DavClient,
    book: &AddressBook,
    dest_books: &mut Vec<AddressBook>,
    records: &[BookRecord],
) -> anyhow::Result<String> {
    if let Some(record) = records.iter().find(|r| r.source_href == book.href)
        && dest_books.iter().any(|b| b.href == record.dest_href)
    {
        return Ok(record.dest_href.clone());
    }
    let name = book
        .display_name
        .clone()
        .unwrap_or_else(|| last_segment(&book.href).to_owned());
    let existing = dest_books
        .iter()
        .find(|b| b.display_name.as_deref() == Some(name.as_str()))
        .map(|b| b.href.clone());
    let (href, created) = match existing {
        Some(href) => (href, false),
        None => {
            let segment = last_segment(&book.href);
            let taken = |href: &str| dest_books.iter().any(|b| b.href == href);
            let mut href = format!("{}{segment}/", dest.home());
            let mut n = 2;
            while taken(&href) {
                href = format!("{}{segment}-{n}/", dest.home());
                n += 1;
            }
            dest.create_address_book(&href, &name)
                .await
                .with_context(|| format!("Creating the address book {name} at the destination"))?;
            dest_books.push(AddressBook {
                href: href.clone(),
                display_name: Some(name),
            });
            (href, true)
        }
    };
    ctx.store
        .record_contact_book(
            ctx.account.id,
            BookRecord {
                source_href: book.href.clone(),
                dest_href: href.clone(),
                created,
            },
        )
        .await?;
    Ok(href)
}

async fn copy(
    ctx: &AccountContext,
    kind: StageKind,
    counts: &mut StageCounts,
) -> anyhow::Result<()> {
    let id = ctx.account.id;
    let groups = kind == StageKind::ContactGroups;
    let source = client(&ctx.plan.source).await?;
    let dest = client(&ctx.plan.destination).await?;
    let hosts = [source.host().to_owned(), dest.host().to_owned()];
    let _slots = ctx.limits.connections(&[&hosts[0], &hosts[1]]).await;
    let books = source
        .address_books()
        .await
        .context("The source's address books")?;
    let mut dest_books = dest
        .address_books()
        .await
        .context("The destination's address books")?;
    let book_records = ctx.store.contact_books(id).await?;
    let records: HashMap<String, CardRecord> = ctx
        .store
        .contact_cards(id)
        .await?
        .into_iter()
        .map(|r| (r.source_href.clone(), r))
        .collect();

    for book in &books {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let target = target_book(ctx, &dest, book, &mut dest_books, &book_records).await?;
        let cards = source
            .cards(&book.href)
            .await
            .with_context(|| format!("Listing the source's address book {}", book.href))?;
        for card in cards {
            if ctx.shutdown.is_cancelled() {
                break;
            }
            let record = records.get(&card.href);
            if let Some(r) = record
                && r.etag == card.etag
                && !card.etag.is_empty()
            {
                if r.stage == kind.name() {
                    counts.found += 1;
                    counts.present += 1;
                }
                continue;
            }
            let item = format!("vCard {}", card.href);
            let content = match source.get(&card.href).await {
                Ok(content) => content,
                Err(error @ DavError::Status { .. }) => {
                    counts.found += 1;
                    counts.failed += 1;
                    item_note(ctx, kind, &item, error.to_string()).await;
                    continue;
                }
                Err(other) => return Err(other.into()),
            };
            if is_group(&content) != groups {
                continue;
            }
            counts.found += 1;
            let (dest_href, ours) = match record {
                Some(r) => (r.dest_href.clone(), r.created),
                None => (format!("{target}{}", last_segment(&card.href)), false),
            };
            let written = if ours {
                dest.put_replace(&dest_href, &content)
                    .await
                    .map(|()| PutOutcome::Created)
            } else {
                dest.put_new(&dest_href, &content).await
            };
            let created = match written {
                Ok(PutOutcome::Created) => {
                    counts.copied += 1;
                    counts.bytes += content.len() as u64;
                    true
                }
                Ok(PutOutcome::Exists) => {
                    counts.present += 1;
                    false
                }
                Err(error @ DavError::Status { .. }) => {
                    counts.failed += 1;
                    item_note(ctx, kind, &item, error.to_string()).await;
                    continue;
                }
                Err(other) => return Err(other.into()),
            };
            ctx.store
                .record_contact_card(id, kind, card.href.clone(), card.etag, dest_href, created)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_recognised_in_both_forms() {
        assert!(is_group(
            b"BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nMEMBER:urn:uuid:1\r\nEND:VCARD\r\n"
        ));
        assert!(is_group(
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nEND:VCARD\r\n"
        ));
        assert!(is_group(b"BEGIN:VCARD\nKI\n ND:Group\nEND:VCARD\n"));
        assert!(!is_group(
            b"BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:individual\r\nNOTE:KIND:group\r\nEND:VCARD\r\n"
        ));
    }

    #[test]
    fn last_segments() {
        assert_eq!(last_segment("/alice/book/x.vcf"), "x.vcf");
        assert_eq!(last_segment("/alice/book/"), "book");
    }
}
