//! What the WebDAV stages share (`contacts`, `contact_groups` over
//! CardDAV; `calendars`, `tasks` over CalDAV): finding the home
//! collections, re-creating each source collection at the destination,
//! and copying its resources one by one with a checkpoint each.
//!
//! Every resource is checkpointed by source href and ETag, so a re-run
//! adds nothing twice. It is written with `If-None-Match: *`: a name
//! already taken at the destination by something mailshift did not write
//! is counted present and left alone, and so is a resource whose UID the
//! destination collection holds under another name. A source resource that changed since
//! mailshift copied it is written again over mailshift's own copy. An
//! intent row is written before each new resource: after a crash between
//! the write and its record, the name found taken by a resource with the
//! same UID is the interrupted run's, and undo still deletes it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::StageFailure;
use crate::engine::AccountContext;
use crate::plan::{Endpoint, StageKind};
use crate::protocols::caldav::ICALENDAR;
use crate::protocols::carddav::VCARD;
use crate::protocols::dav::discovery::{self, Account, Login, Service};
use crate::protocols::dav::{Collection, DavClient, DavError, ItemRef, PutOutcome};
use crate::protocols::tls::TlsMode;
use crate::stages::content_line::uid;
use crate::stages::files::{FileSource, Unreadable};
use crate::store::Store;
use crate::store::batches::StageCounts;
use crate::store::dav::{CollectionRecord, DavArea, ItemRecord};

/// How long a WebDAV server may take to answer one request.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// A client for an endpoint's CalDAV or CardDAV home collection, logged
/// in as its user: from its `dav_url`, or found from its address.
pub async fn client(endpoint: &Endpoint, service: Service) -> anyhow::Result<DavClient> {
    let auth = endpoint
        .credential
        .imap_auth()
        .await
        .with_context(|| format!("The credential of {}", endpoint.user))?;
    let login = Login {
        user: endpoint.user.clone(),
        auth,
        accept_invalid_certs: endpoint
            .server
            .as_ref()
            .is_some_and(|s| s.accept_invalid_certs),
        timeout: TIMEOUT,
    };
    let account = Account {
        email: &endpoint.email,
        dav_url: endpoint.dav_url.as_deref(),
        host: endpoint.server.as_ref().map(|s| s.host.as_str()),
        plain_http: endpoint
            .server
            .as_ref()
            .is_some_and(|s| s.tls == TlsMode::None),
    };
    discovery::home(service, &account, &login)
        .await
        .with_context(|| {
            format!(
                "Finding the {service} home collection of {}",
                endpoint.email
            )
        })
}

/// Runs a WebDAV stage for one account: finds both homes, lists the
/// source collections the stage visits and copies their resources.
pub async fn run(
    ctx: &AccountContext,
    kind: StageKind,
    rules: &Rules,
) -> Result<StageCounts, StageFailure> {
    let mut counts = StageCounts::default();
    let result = copy_all(ctx, kind, rules, &mut counts).await;
    match result {
        Ok(()) => super::within_budget(ctx, counts, "items"),
        Err(error) => Err(StageFailure { error, counts }),
    }
}

async fn copy_all(
    ctx: &AccountContext,
    kind: StageKind,
    rules: &Rules,
    counts: &mut StageCounts,
) -> anyhow::Result<()> {
    let source = Source::open(ctx, rules.service).await?;
    let dest = client(&ctx.plan.destination, rules.service).await?;
    let dest_host = dest.host().to_owned();
    let hosts: Vec<&str> = source
        .host()
        .into_iter()
        .chain([dest_host.as_str()])
        .collect();
    let _slots = ctx.limits.connections(&hosts).await;
    let collections: Vec<Collection> = source
        .collections(rules.service)
        .await
        .with_context(|| format!("The source's {} collections", rules.service))?
        .into_iter()
        .filter(|c| (rules.visits)(c, kind))
        .collect();
    let dest_collections = Source::Server(dest.clone())
        .collections(rules.service)
        .await
        .with_context(|| format!("The destination's {} collections", rules.service))?;
    copy(
        ctx,
        kind,
        (&source, &dest),
        (collections, dest_collections),
        rules,
        counts,
    )
    .await
}

/// Where a WebDAV stage reads: a server's home collection, or a file
/// (`.ics`, `.vcf`, PST) standing in for one.
pub enum Source {
    Server(DavClient),
    File(Arc<FileSource>),
}

impl Source {
    /// The source of an account for `service`: its file (read once for
    /// both stages of the service), or its server's home.
    pub async fn open(ctx: &AccountContext, service: Service) -> anyhow::Result<Source> {
        let endpoint = &ctx.plan.source;
        match &endpoint.path {
            Some(path) => Ok(Source::File(
                ctx.files.read(path, endpoint.kind, service).await?,
            )),
            None => Ok(Source::Server(client(endpoint, service).await?)),
        }
    }

    /// The server it connects to, if any.
    fn host(&self) -> Option<&str> {
        match self {
            Source::Server(client) => Some(client.host()),
            Source::File(_) => None,
        }
    }

    async fn collections(&self, service: Service) -> Result<Vec<Collection>, DavError> {
        match (self, service) {
            (Source::Server(client), Service::CalDav) => client.calendars().await,
            (Source::Server(client), Service::CardDav) => client.address_books().await,
            (Source::File(file), _) => Ok(file.collections()),
        }
    }

    async fn items(&self, collection: &str) -> Result<Vec<ItemRef>, DavError> {
        match self {
            Source::Server(client) => client.items(collection).await,
            Source::File(file) => Ok(file.items(Some(collection))),
        }
    }

    /// A resource's content; the inner error is an item that cannot be
    /// read (the others go on), the outer one a source that cannot be.
    /// What a resource is imported without, for the report (a file's
    /// conversion may leave parts out; a server's copy is whole).
    fn warnings(&self, href: &str) -> &[String] {
        match self {
            Source::Server(_) => &[],
            Source::File(file) => file.warnings(href),
        }
    }

    async fn get(&self, href: &str) -> Result<Result<Vec<u8>, Unreadable>, DavError> {
        match self {
            Source::Server(client) => match client.get(href).await {
                Ok(content) => Ok(Ok(content)),
                Err(error @ DavError::Status { .. }) => Ok(Err(Unreadable {
                    reason: error.to_string(),
                    stage: None,
                })),
                Err(other) => Err(other),
            },
            Source::File(file) => Ok(file.get(href).map(<[u8]>::to_vec)),
        }
    }
}

/// The last segment of an href (`/alice/book/x.vcf` → `x.vcf`,
/// `/alice/book/` → `book`).
pub fn last_segment(href: &str) -> &str {
    href.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// One resource to write to a destination collection.
#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    /// What identifies it at the source (an href, or any stable key): the
    /// checkpoint's key.
    source_href: &'a str,
    /// Its version at the source (an ETag, or a content hash): a re-run
    /// with the same version skips it.
    etag: &'a str,
    /// The resource name to use at the destination (`event.ics`).
    name: &'a str,
    /// The content to write, as it should be stored.
    content: &'a [u8],
}

/// What [`write_item`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Written {
    /// Written; undo will delete it.
    Copied,
    /// Its name, or its UID in that collection, was taken at the
    /// destination by something mailshift did not write: left alone.
    Present,
    /// Found written by an earlier run that stopped before recording it:
    /// now recorded as mailshift's (undo will delete it).
    Recovered,
    /// The destination refused it, with the server's answer.
    Refused(String),
}

/// Writes one item into the destination `collection` for stage `kind`
/// (of WebDAV `area`), never overwriting what mailshift did not write,
/// and checkpoints it (with what undo needs) before returning. `record`
/// is the item's checkpoint from an earlier run, if any.
async fn write_item(
    store: &Store,
    (account_id, kind, area): (i64, StageKind, DavArea),
    dest: &DavClient,
    collection: &str,
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
    let row = |created, pending| ItemRecord {
        stage: kind.name().to_owned(),
        source_href: item.source_href.to_owned(),
        etag: item.etag.to_owned(),
        dest_href: dest_href.clone(),
        created,
        pending,
    };
    let written = if ours {
        dest.put_replace(&dest_href, media_type, item.content)
            .await
            .map(|()| PutOutcome::Created)
    } else {
        // The intent first: if the process dies before the answer is
        // recorded, the next run knows this name may be mailshift's.
        store
            .record_dav_item(account_id, kind, row(false, true))
            .await?;
        dest.put_new(&dest_href, media_type, item.content).await
    };
    let outcome = match written {
        Ok(PutOutcome::Created) => Written::Copied,
        // Taken: by the write of an interrupted run if it holds this item
        // (same UID), else by something mailshift did not write.
        Ok(PutOutcome::Exists) if interrupted => {
            let there = dest.get(&dest_href).await?;
            if uid(&there).is_some() && uid(&there) == uid(item.content) {
                Written::Recovered
            } else {
                Written::Present
            }
        }
        Ok(PutOutcome::Exists | PutOutcome::UidTaken) => Written::Present,
        Err(error @ DavError::Status { .. }) => return Ok(Written::Refused(error.to_string())),
        Err(other) => return Err(other.into()),
    };
    let created = matches!(outcome, Written::Copied | Written::Recovered);
    store
        .record_dav_item(account_id, kind, row(created, false))
        .await?;
    Ok(outcome)
}

/// How a pair of stages picks and prepares resources.
pub struct Rules {
    /// CalDAV or CardDAV.
    pub service: Service,
    /// Whether a stage visits a source collection.
    pub visits: fn(&Collection, StageKind) -> bool,
    /// Whether a source resource belongs to this stage (the other stage
    /// of the area takes the rest).
    pub belongs: fn(&[u8], StageKind) -> bool,
    /// The content to write for a source resource into a destination
    /// collection.
    pub prepare: for<'a> fn(&'a [u8], &Collection) -> Cow<'a, [u8]>,
}

/// Whether a destination calendar can hold what a source one holds (any
/// address book can hold any vCard).
fn accepts(dest: &Collection, source: &Collection) -> bool {
    dest.components.is_empty()
        || (!source.components.is_empty()
            && source
                .components
                .iter()
                .all(|c| dest.components.contains(c)))
}

/// The destination collection for a source one: the recorded one if it
/// is still there, else one of the same display name that can hold its
/// items, else a new one.
async fn target_collection(
    ctx: &AccountContext,
    area: DavArea,
    dest: &DavClient,
    source: &Collection,
    dest_collections: &mut Vec<Collection>,
    records: &[CollectionRecord],
) -> anyhow::Result<Collection> {
    if let Some(record) = records.iter().find(|r| r.source_href == source.href)
        && let Some(recorded) = dest_collections.iter().find(|c| c.href == record.dest_href)
    {
        return Ok(recorded.clone());
    }
    let name = source
        .display_name
        .clone()
        .unwrap_or_else(|| last_segment(&source.href).to_owned());
    let existing = dest_collections
        .iter()
        .find(|c| c.display_name.as_deref() == Some(name.as_str()) && accepts(c, source))
        .cloned();
    let (target, created) = match existing {
        Some(collection) => (collection, false),
        None => {
            let segment = last_segment(&source.href);
            let taken = |href: &str| dest_collections.iter().any(|c| c.href == href);
            let mut href = format!("{}{segment}/", dest.home());
            let mut n = 2;
            while taken(&href) {
                href = format!("{}{segment}-{n}/", dest.home());
                n += 1;
            }
            let like = Collection {
                href: href.clone(),
                display_name: Some(name.clone()),
                ..source.clone()
            };
            match area {
                DavArea::Contacts => dest.create_address_book(&href, &name).await,
                DavArea::Calendars => dest.create_calendar(&href, &like).await,
            }
            .with_context(|| format!("Creating {name} at the destination"))?;
            dest_collections.push(like.clone());
            (like, true)
        }
    };
    ctx.store
        .record_dav_collection(
            ctx.account.id,
            area,
            CollectionRecord {
                source_href: source.href.clone(),
                dest_href: target.href.clone(),
                created,
            },
        )
        .await?;
    Ok(target)
}

/// Copies the resources of `kind` from the source collections to their
/// destination counterparts, counting into `counts`.
async fn copy(
    ctx: &AccountContext,
    kind: StageKind,
    (source, dest): (&Source, &DavClient),
    (collections, mut dest_collections): (Vec<Collection>, Vec<Collection>),
    rules: &Rules,
    counts: &mut StageCounts,
) -> anyhow::Result<()> {
    let id = ctx.account.id;
    let area = DavArea::of(kind).with_context(|| format!("{kind} is not a WebDAV stage"))?;
    ctx.store.record_dav_home(id, area, dest.url()).await?;
    let collection_records = ctx.store.dav_collections(id, area).await?;
    let records: HashMap<String, ItemRecord> = ctx
        .store
        .dav_items(id, area)
        .await?
        .into_iter()
        .map(|r| (r.source_href.clone(), r))
        .collect();
    for collection in &collections {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let target = target_collection(
            ctx,
            area,
            dest,
            collection,
            &mut dest_collections,
            &collection_records,
        )
        .await?;
        let items = source
            .items(&collection.href)
            .await
            .with_context(|| format!("Listing the source's collection {}", collection.href))?;
        for item in items {
            if ctx.shutdown.is_cancelled() {
                break;
            }
            if let Some(r) = records.get(&item.href)
                && !r.pending
                && r.etag == item.etag
                && !item.etag.is_empty()
            {
                if r.stage == kind.name() {
                    counts.found += 1;
                    counts.present += 1;
                }
                continue;
            }
            let noun = match area {
                DavArea::Contacts => "vCard",
                DavArea::Calendars => "calendar object",
            };
            let label = format!("{noun} {}", item.href);
            let content = match source.get(&item.href).await? {
                Ok(content) => content,
                // Counted once, by the stage it belongs to.
                Err(unreadable) if unreadable.stage.is_none_or(|s| s == kind) => {
                    counts.found += 1;
                    counts.failed += 1;
                    super::item_note(ctx, kind, &label, unreadable.reason).await;
                    continue;
                }
                Err(_) => continue,
            };
            if !(rules.belongs)(&content, kind) {
                continue;
            }
            counts.found += 1;
            let prepared = (rules.prepare)(&content, &target);
            let written = Item {
                source_href: &item.href,
                etag: &item.etag,
                name: last_segment(&item.href),
                content: &prepared,
            };
            let record = records.get(&item.href);
            match write_item(
                &ctx.store,
                (id, kind, area),
                dest,
                &target.href,
                written,
                record,
            )
            .await?
            {
                Written::Copied => {
                    counts.copied += 1;
                    counts.bytes += prepared.len() as u64;
                    for warning in source.warnings(&item.href) {
                        super::item_note(ctx, kind, &label, warning.clone()).await;
                    }
                }
                Written::Present | Written::Recovered => counts.present += 1,
                Written::Refused(reason) => {
                    counts.failed += 1;
                    super::item_note(ctx, kind, &label, reason).await;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segments() {
        assert_eq!(last_segment("/alice/book/x.vcf"), "x.vcf");
        assert_eq!(last_segment("/alice/book/"), "book");
    }

    #[test]
    fn a_calendar_is_reused_only_if_it_holds_the_same_components() {
        let with = |components: &[&str]| Collection {
            components: components.iter().map(|c| c.to_string()).collect(),
            ..Collection::default()
        };
        assert!(accepts(&with(&[]), &with(&["VTODO"])));
        assert!(accepts(&with(&["VEVENT", "VTODO"]), &with(&["VTODO"])));
        assert!(!accepts(&with(&["VEVENT"]), &with(&["VTODO"])));
        assert!(!accepts(&with(&["VEVENT"]), &with(&[])));
    }
}
