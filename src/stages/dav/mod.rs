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
mod listing;
mod source;
mod write;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;

use super::StageFailure;
use crate::formats::content_line::uid;
use crate::plan::{Endpoint, StageKind};
use crate::protocols::dav::discovery::{self, Account, Login, Service};
use crate::protocols::dav::{Collection, DavClient, ItemRef, Multiget};
use crate::protocols::tls::TlsMode;
use crate::stages::context::AccountContext;
use crate::stages::files::Unreadable;
use crate::store::batches::StageCounts;
use crate::store::dav::{DavArea, ItemRecord};
pub use source::Source;
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

/// Writes in flight at once for an account: [`MAX_IN_FLIGHT`], or more
/// when the account may use more connections, within the manifest's
/// connections per host (one of which reads the source when it is on the
/// same host).
fn in_flight(ctx: &AccountContext, source_host: Option<&str>, dest_host: &str) -> usize {
    let shared = source_host.is_some_and(|s| s.eq_ignore_ascii_case(dest_host));
    let room = ctx.limits.per_host().saturating_sub(usize::from(shared));
    ctx.connections_per_account
        .max(MAX_IN_FLIGHT)
        .min(room)
        .max(1)
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
    let writes = in_flight(ctx, source.host(), &dest_host);
    // One slot of the source's host, one of the destination's per write
    // in flight.
    let hosts: Vec<&str> = source
        .host()
        .into_iter()
        .chain(std::iter::repeat_n(dest_host.as_str(), writes))
        .collect();
    let _slots = ctx.connections(&hosts).await?;
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
        (&source, &dest, writes),
        (collections, dest_collections),
        rules,
        counts,
    )
    .await
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
    (source, dest, in_flight): (&Source, &DavClient, usize),
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
        in_flight,
        unsettled: AtomicBool::new(false),
    };
    for collection in &collections {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let listing = listing::list(ctx, (kind, area), source, collection, &records)
            .await
            .with_context(|| format!("Listing the source's collection {}", collection.href))?;
        let listed = listing.items.len();
        let mut to_copy = Vec::new();
        for item in listing.items {
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
        if listed == 0 && listing.whole {
            ensure(&mut target).await?;
        }
        pass.unsettled.store(false, Ordering::Relaxed);
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
        // The next pass asks only what changed since, unless something
        // here is to be tried again.
        let settled = !pass.unsettled.load(Ordering::Relaxed) && !ctx.shutdown.is_cancelled();
        if let Some(token) = listing.token.filter(|_| settled) {
            ctx.store
                .record_dav_sync_token(id, kind, &collection.href, &token)
                .await?;
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
    /// Writes in flight at once.
    in_flight: usize,
    /// Something of the collection being copied is left to try again (an
    /// item unreadable, refused for a while, not written before a stop).
    unsettled: AtomicBool,
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
                    self.unsettled.store(true, Ordering::Relaxed);
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
        let mut results = futures::stream::iter(writes).buffer_unordered(self.in_flight);
        let mut first_error = None;
        while let Some(result) = results.next().await {
            let Some((item, bytes, outcome)) = result else {
                self.unsettled.store(true, Ordering::Relaxed);
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
                Ok(Written::Refused { reason, permanent }) => {
                    self.unsettled.fetch_or(!permanent, Ordering::Relaxed);
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

/// Writes to one destination collection in flight at once, unless the
/// account may use more connections.
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
