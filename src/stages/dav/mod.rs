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

mod collections;
mod write;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;

use super::StageFailure;
use crate::engine::AccountContext;
use crate::plan::{Endpoint, StageKind};
use crate::protocols::dav::discovery::{self, Account, Login, Service};
use crate::protocols::dav::{Collection, DavClient, DavError, ItemRef, Multiget};
use crate::protocols::tls::TlsMode;
use crate::stages::content_line::uid;
use crate::stages::files::{FileSource, Unreadable};
use crate::store::batches::StageCounts;
use crate::store::dav::{DavArea, ItemRecord};
use write::{Item, Written};

/// How long a WebDAV server may take to answer one request.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// A client for an endpoint's CalDAV or CardDAV home collection, logged
/// in as its user: from its `dav_url`, or found from its address.
pub async fn client(endpoint: &Endpoint, service: Service) -> anyhow::Result<DavClient> {
    let (user, auth) = endpoint.login().await?;
    let login = Login {
        user,
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

/// `client`, retrying a transient failure as the engine's retry policy
/// says; its waits end when the process is asked to stop.
fn retrying(ctx: &AccountContext, client: DavClient) -> DavClient {
    let policy = ctx.retry;
    client.with_retry(
        policy.attempts,
        move |retry| policy.delay(retry),
        ctx.shutdown.clone(),
    )
}

/// Writes in flight at once for an account.
fn in_flight(ctx: &AccountContext) -> usize {
    ctx.connections_per_account.clamp(1, MAX_IN_FLIGHT)
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
    let dest = retrying(ctx, client(&ctx.plan.destination, rules.service).await?);
    let dest_host = dest.host().to_owned();
    // One slot of the source's host, one of the destination's per write
    // in flight.
    let hosts: Vec<&str> = source
        .host()
        .into_iter()
        .chain(std::iter::repeat_n(dest_host.as_str(), in_flight(ctx)))
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
            None => Ok(Source::Server(retrying(
                ctx,
                client(endpoint, service).await?,
            ))),
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

    /// The contents of `items` of `collection`, each paired with its
    /// content or why it cannot be read (the others go on); the error is
    /// a source that cannot be read at all. A server is asked for
    /// [`BATCH`] resources a request (`calendar-multiget`,
    /// `addressbook-multiget`); one it does not return is fetched alone.
    async fn fetch(
        &self,
        collection: &str,
        items: &[ItemRef],
    ) -> Result<Vec<(ItemRef, Result<Vec<u8>, Unreadable>)>, DavError> {
        let client = match self {
            Source::File(file) => {
                return Ok(items
                    .iter()
                    .map(|i| (i.clone(), file.get(&i.href).map(<[u8]>::to_vec)))
                    .collect());
            }
            Source::Server(client) => client,
        };
        let report = if items.iter().any(|i| i.href.ends_with(".vcf")) {
            Multiget::AddressBook
        } else {
            Multiget::Calendar
        };
        let hrefs: Vec<&str> = items.iter().map(|i| i.href.as_str()).collect();
        let mut got: HashMap<String, Vec<u8>> =
            match client.multiget(collection, report, &hrefs).await {
                Ok(fetched) => fetched
                    .into_iter()
                    .filter_map(|f| Some((decoded(&f.href), f.content.ok()?)))
                    .collect(),
                // A server without the report: one GET each.
                Err(error @ DavError::Status { .. }) => {
                    tracing::debug!("{error}; fetching one by one");
                    HashMap::new()
                }
                Err(other) => return Err(other),
            };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let content = match got.remove(&decoded(&item.href)) {
                Some(content) => Ok(content),
                None => match client.get(&item.href).await {
                    Ok(content) => Ok(content),
                    Err(error @ DavError::Status { .. }) => Err(Unreadable {
                        reason: error.to_string(),
                        stage: None,
                    }),
                    Err(other) => return Err(other),
                },
            };
            out.push((item.clone(), content));
        }
        Ok(out)
    }
}

/// An href with its percent-escapes decoded, to match the hrefs of a
/// listing with those of a multiget (servers escape them differently).
fn decoded(href: &str) -> String {
    let bytes = href.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The last segment of an href (`/alice/book/x.vcf` → `x.vcf`,
/// `/alice/book/` → `book`).
pub fn last_segment(href: &str) -> &str {
    href.trim_end_matches('/').rsplit('/').next().unwrap_or("")
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
    let pass = Pass {
        ctx,
        kind,
        area,
        dest,
        rules,
        records: &records,
    };
    for collection in &collections {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let items = source
            .items(&collection.href)
            .await
            .with_context(|| format!("Listing the source's collection {}", collection.href))?;
        let listed = items.len();
        let mut to_copy = Vec::new();
        for item in items {
            match records.get(&item.href) {
                Some(r) if !r.pending && r.etag == item.etag && !item.etag.is_empty() => {
                    // Counted once, by the stage that handled it.
                    if r.stage != kind.name() {
                        continue;
                    }
                    counts.found += 1;
                    match &r.refused {
                        Some(reason) => {
                            counts.skipped += 1;
                            let label = pass.label(&item.href);
                            let note = format!("refused earlier, unchanged: {reason}");
                            super::item_note(ctx, kind, &label, note).await;
                        }
                        None => counts.present += 1,
                    }
                }
                _ => to_copy.push(item),
            }
        }
        // The destination collection is made when something goes in, or
        // for an empty source collection: not for a stage that has
        // nothing there (the other stage of the area may have).
        let mut target = None;
        let mut ensure = async |target: &mut Option<Target>| -> anyhow::Result<Target> {
            if let Some(found) = target {
                return Ok(found.clone());
            }
            let (found, created) = collections::target(
                ctx,
                (kind, area),
                dest,
                collection,
                &mut dest_collections,
                &collection_records,
            )
            .await?;
            // A collection the destination had may hold some of these
            // items under other names: not every server refuses a second
            // resource with the same UID (Xandikos does not in address
            // books).
            let uids = if created {
                HashSet::new()
            } else {
                uids_in(dest, &found.href, area).await?
            };
            let found = Target {
                collection: found,
                uids: Arc::new(uids),
            };
            *target = Some(found.clone());
            Ok(found)
        };
        if listed == 0 {
            ensure(&mut target).await?;
        }
        for batch in to_copy.chunks(BATCH) {
            if ctx.shutdown.is_cancelled() {
                break;
            }
            let fetched = source.fetch(&collection.href, batch).await?;
            let selected = pass.select(fetched, counts).await;
            if selected.is_empty() {
                continue;
            }
            let into = ensure(&mut target).await?;
            pass.write_all(source, &into, selected, counts).await?;
        }
    }
    Ok(())
}

/// A destination collection and the UIDs it held before this pass.
#[derive(Clone)]
struct Target {
    collection: Collection,
    uids: Arc<HashSet<Vec<u8>>>,
}

/// The UIDs of the resources in a destination collection.
async fn uids_in(dest: &DavClient, href: &str, area: DavArea) -> anyhow::Result<HashSet<Vec<u8>>> {
    let items = dest
        .items(href)
        .await
        .with_context(|| format!("Listing the destination's collection {href}"))?;
    let report = match area {
        DavArea::Contacts => Multiget::AddressBook,
        DavArea::Calendars => Multiget::Calendar,
    };
    let mut uids = HashSet::new();
    for batch in items.chunks(BATCH) {
        let hrefs: Vec<&str> = batch.iter().map(|i| i.href.as_str()).collect();
        let fetched = dest
            .multiget(href, report, &hrefs)
            .await
            .with_context(|| format!("Reading the destination's collection {href}"))?;
        uids.extend(
            fetched
                .iter()
                .filter_map(|f| f.content.as_ref().ok().and_then(|c| uid(c))),
        );
    }
    Ok(uids)
}

/// Resources read from the source in one request.
const BATCH: usize = 100;

/// What the copy of one stage's resources shares.
struct Pass<'a> {
    ctx: &'a AccountContext,
    kind: StageKind,
    area: DavArea,
    dest: &'a DavClient,
    rules: &'a Rules,
    records: &'a HashMap<String, ItemRecord>,
}

impl Pass<'_> {
    /// How an item is named in the report.
    fn label(&self, href: &str) -> String {
        let noun = match self.area {
            DavArea::Contacts => "vCard",
            DavArea::Calendars => "calendar object",
        };
        format!("{noun} {href}")
    }

    /// Writes one resource into `target`, unless the process is asked to
    /// stop first.
    async fn write_one<'a>(
        &self,
        target: &Target,
        item: &'a ItemRef,
        content: &[u8],
    ) -> Option<(&'a ItemRef, usize, anyhow::Result<Written>)> {
        if self.ctx.shutdown.is_cancelled() {
            return None;
        }
        let written = Item {
            source_href: &item.href,
            etag: &item.etag,
            name: last_segment(&item.href),
            content,
        };
        let outcome = write::write_item(
            &self.ctx.store,
            (self.ctx.account.id, self.kind, self.area),
            (self.dest, &target.collection.href, &target.uids),
            written,
            self.records.get(&item.href),
        )
        .await;
        Some((item, content.len(), outcome))
    }

    /// The fetched resources that belong to this stage; one that cannot
    /// be read is counted failed and reported.
    async fn select(
        &self,
        fetched: Vec<(ItemRef, Result<Vec<u8>, Unreadable>)>,
        counts: &mut StageCounts,
    ) -> Vec<(ItemRef, Vec<u8>)> {
        let (ctx, kind) = (self.ctx, self.kind);
        let mut selected = Vec::new();
        for (item, content) in fetched {
            let content = match content {
                Ok(content) => content,
                // Counted once, by the stage it belongs to.
                Err(unreadable) if unreadable.stage.is_none_or(|s| s == kind) => {
                    counts.found += 1;
                    counts.failed += 1;
                    let label = self.label(&item.href);
                    super::item_note(ctx, kind, &label, unreadable.reason).await;
                    continue;
                }
                Err(_) => continue,
            };
            if !(self.rules.belongs)(&content, kind) {
                continue;
            }
            counts.found += 1;
            selected.push((item, content));
        }
        selected
    }

    /// Writes `selected` into `target`, as the destination collection
    /// wants them, several at once, counting each.
    async fn write_all(
        &self,
        source: &Source,
        target: &Target,
        selected: Vec<(ItemRef, Vec<u8>)>,
        counts: &mut StageCounts,
    ) -> anyhow::Result<()> {
        let (ctx, kind) = (self.ctx, self.kind);
        let prepared: Vec<(ItemRef, Vec<u8>)> = selected
            .into_iter()
            .map(|(item, content)| {
                let ready = (self.rules.prepare)(&content, &target.collection).into_owned();
                (item, ready)
            })
            .collect();
        let writes: Vec<_> = prepared
            .iter()
            .map(|(item, content)| self.write_one(target, item, content))
            .collect();
        let mut results = futures::stream::iter(writes).buffer_unordered(in_flight(ctx));
        let mut first_error = None;
        while let Some(result) = results.next().await {
            let Some((item, bytes, outcome)) = result else {
                continue;
            };
            let label = self.label(&item.href);
            match outcome {
                Ok(Written::Copied) => {
                    counts.copied += 1;
                    counts.bytes += bytes as u64;
                    for warning in source.warnings(&item.href) {
                        super::item_note(ctx, kind, &label, warning.clone()).await;
                    }
                }
                Ok(Written::Present | Written::Recovered) => counts.present += 1,
                Ok(Written::Refused { reason, .. }) => {
                    counts.failed += 1;
                    super::item_note(ctx, kind, &label, reason).await;
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Writes to one destination collection in flight at once, at most (and
/// never more than the account's connections).
const MAX_IN_FLIGHT: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segments() {
        assert_eq!(last_segment("/alice/book/x.vcf"), "x.vcf");
        assert_eq!(last_segment("/alice/book/"), "book");
    }
}
