//! The mail stage: every folder and message, byte for byte, with flags,
//! keywords and INTERNALDATE.
//!
//! The stage connects to both ends, maps the folder tree
//! ([`folders`]), creates what is missing at the destination, then passes
//! over the folders with up to `connections_per_account` connection pairs
//! at once ([`sync`], through the [`pipeline`] every mail source shares).
//! A pass that loses its connection is retried with backoff and resumes
//! from its checkpoints.

mod admission;
mod altered;
pub mod fingerprint;
pub mod folders;
mod labels;
pub(crate) mod late;
mod ledger;
pub mod sync;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use futures::future::join_all;

use crate::plan::{Endpoint, Server};
use crate::protocols::imap::{Mailbox, Session};
use crate::stages::context::AccountContext;
use crate::stages::context::limits::Permits;
use crate::store::batches::StageCounts;
use crate::store::mail::FolderRecord;
use crate::vocabulary::StageKind;

use super::{StageFailure, pipeline};
use folders::{FolderMapping, Naming};

/// How long an IMAP server may stay silent before the command fails.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Migrates one account's mail.
pub async fn run(ctx: &AccountContext) -> Result<StageCounts, StageFailure> {
    let mut counts = StageCounts::default();
    let fail = |error: anyhow::Error, counts: StageCounts| StageFailure { error, counts };

    // The first connections are retried like a pass: a server, or a token
    // endpoint, down for a moment does not fail the account.
    let mut opened = None;
    pipeline::retry(ctx, &ctx.plan.source.email, &mut opened, |ctx, opened| {
        Box::pin(async move {
            *opened = Some(Pair::connect(ctx).await?);
            Ok(())
        })
    })
    .await
    .map_err(|e| fail(e, counts))?;
    let Some(mut first) = opened else {
        return Ok(counts); // Stopped while waiting to try again.
    };
    let (mappings, avoided) = prepare_folders(ctx, &mut first)
        .await
        .map_err(|e| fail(e, counts))?;
    counts.label_copies_avoided = avoided;

    // Unchanged folders cost two STATUS commands on the first pair; more
    // connections are opened only for folders with work to do.
    let mut queue = VecDeque::new();
    // What the source holds now: the pass's total, as the status pages
    // show it before the pass ends.
    let mut total = 0;
    for (mapping, record) in mappings.into_iter().filter(|(m, _)| !m.noselect) {
        match sync::check(ctx, &mut first, &mapping, &record).await {
            Ok(sync::Check::Unchanged { messages }) => {
                counts.found += mapping.found(messages);
                total += mapping.found(messages);
            }
            Ok(sync::Check::Changed { source, .. }) => {
                total += mapping.found(source.messages);
                queue.push_back((mapping, record));
            }
            // A failure here is met again, and retried, by the pass.
            Err(_) => queue.push_back((mapping, record)),
        }
    }
    ctx.store
        .set_pass_total(ctx.account.id, StageKind::Mail, total)
        .await
        .map_err(|e| fail(e.into(), counts))?;
    let workers = ctx.connections_per_account.min(queue.len()).max(1);
    let queue = Arc::new(Mutex::new(queue));
    let mut pairs = vec![Some(first)];
    pairs.resize_with(workers, || None);

    let results = join_all(
        pairs
            .into_iter()
            .map(|pair| worker(ctx, pair, queue.clone())),
    )
    .await;
    let mut first_error = None;
    for result in results {
        counts.add(&result.counts);
        if let Some(error) = result.error {
            first_error.get_or_insert(error);
        }
    }
    if let Some(error) = first_error {
        return Err(fail(error, counts));
    }
    super::within_budget(ctx, counts, "messages")
}

/// What one worker did.
struct WorkerResult {
    counts: StageCounts,
    error: Option<anyhow::Error>,
}

/// What a worker's attempts at one folder share.
struct FolderWork {
    /// The worker's connections, `None` after one was lost.
    pair: Option<Pair>,
    mapping: FolderMapping,
    record: FolderRecord,
    counts: StageCounts,
}

/// Takes folders from the queue until it is empty, each pass retried on
/// transient failures with a fresh connection pair.
async fn worker(
    ctx: &AccountContext,
    pair: Option<Pair>,
    queue: Arc<Mutex<VecDeque<(FolderMapping, FolderRecord)>>>,
) -> WorkerResult {
    let mut counts = StageCounts::default();
    let mut pair = pair;
    loop {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let Some((mapping, record)) = next else { break };
        let label = format!("{} folder {}", ctx.plan.source.email, mapping.source);
        let mut work = FolderWork {
            pair: pair.take(),
            mapping,
            record,
            counts: StageCounts::default(),
        };
        let result = pipeline::retry(ctx, &label, &mut work, |ctx, work| {
            Box::pin(folder_attempt(ctx, work))
        })
        .await;
        counts.add(&work.counts);
        pair = work.pair;
        if let Err(error) = result {
            return WorkerResult {
                counts,
                error: Some(error.context(format!("Folder {}", work.mapping.source))),
            };
        }
    }
    WorkerResult {
        counts,
        error: None,
    }
}

/// One attempt at a folder: connects if the last attempt lost its pair,
/// then passes over the folder. A failed pass drops its connections.
async fn folder_attempt(ctx: &AccountContext, work: &mut FolderWork) -> anyhow::Result<()> {
    let pair = match work.pair.as_mut() {
        Some(pair) => pair,
        None => work.pair.insert(Pair::connect(ctx).await?),
    };
    let result = sync::pass(ctx, pair, &work.mapping, &work.record, &mut work.counts).await;
    if result.is_err() {
        work.pair = None;
    }
    Ok(result?)
}

/// Lists both sides, maps the folders, creates and subscribes what the
/// destination lacks, and opens each folder's checkpoint record. A
/// label-aware source's folders get their shares ([`labels`]); the count
/// is the labelled copies that spares.
async fn prepare_folders(
    ctx: &AccountContext,
    pair: &mut Pair,
) -> anyhow::Result<(Vec<(FolderMapping, FolderRecord)>, u64)> {
    let source_boxes = pair.source.list().await?;
    let source_naming = naming(&mut pair.source, &source_boxes).await?;
    let mut labels = labels::detect(ctx, &pair.source, &source_boxes);
    let reshape = |mappings, dest_naming: &Naming| match labels.as_mut() {
        Some(l) => l.reshape(
            mappings,
            &source_boxes,
            &source_naming,
            dest_naming,
            &ctx.plan.mail,
        ),
        None => mappings,
    };
    let prepared =
        prepare_destination(ctx, &mut pair.dest, &source_boxes, &source_naming, reshape).await?;
    let Some(labels) = labels else {
        return Ok((prepared, 0));
    };
    let mode = labels.mode().name();
    tracing::info!(account = %ctx.plan.source.email, "label-aware source: labels {mode}");
    ctx.store
        .set_label_mode(ctx.account.id, StageKind::Mail, mode)
        .await?;
    Ok(labels.spread(pair, prepared).await?)
}

/// Maps the source folders (`source_boxes`, named as `source_naming`
/// says) to the destination's, lets `reshape` change the mapping (given
/// the destination's naming), creates and subscribes what the
/// destination lacks, and opens each folder's checkpoint record. Any
/// source that can describe its folders as mailboxes uses it.
pub(crate) async fn prepare_destination(
    ctx: &AccountContext,
    dest: &mut Session,
    source_boxes: &[Mailbox],
    source_naming: &Naming,
    reshape: impl FnOnce(Vec<FolderMapping>, &Naming) -> Vec<FolderMapping>,
) -> anyhow::Result<Vec<(FolderMapping, FolderRecord)>> {
    let dest_boxes = dest.list().await?;
    let dest_naming = naming(dest, &dest_boxes).await?;
    let mappings = reshape(
        folders::map_folders(
            source_boxes,
            source_naming,
            &dest_boxes,
            &dest_naming,
            &ctx.plan.mail,
        ),
        &dest_naming,
    );
    let existing: HashMap<&str, &Mailbox> =
        dest_boxes.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut prepared = Vec::with_capacity(mappings.len());
    for mapping in mappings {
        let record = ctx
            .store
            .open_folder(ctx.account.id, &mapping.source, &mapping.dest)
            .await?;
        let there = existing.get(mapping.dest.as_str());
        if there.is_none() {
            dest.create(&mapping.dest_raw)
                .await
                .with_context(|| format!("Cannot create folder {}", mapping.dest))?;
            ctx.store.mark_folder_created(record.id).await?;
        }
        if mapping.subscribed && !there.is_some_and(|m| m.subscribed) {
            dest.subscribe(&mapping.dest_raw).await?;
            ctx.store.mark_folder_subscribed(record.id).await?;
        }
        prepared.push((mapping, record));
    }
    Ok(prepared)
}

/// A server's personal namespace, from NAMESPACE or from its folder list.
async fn naming(session: &mut Session, boxes: &[Mailbox]) -> anyhow::Result<Naming> {
    let (prefix, delimiter) = session.namespace().await?;
    let delimiter = delimiter
        .or_else(|| boxes.iter().find_map(|m| m.delimiter))
        .unwrap_or('/');
    Ok(Naming { prefix, delimiter })
}

/// A source and a destination connection, holding their hosts' slots.
pub struct Pair {
    /// The session with the source server.
    pub source: Session,
    /// The session with the destination server.
    pub dest: Session,
    _slots: Permits,
}

impl Pair {
    /// Connects and logs in to both ends, under the per-host limits.
    async fn connect(ctx: &AccountContext) -> anyhow::Result<Pair> {
        let source = server_of(&ctx.plan.source)?;
        let dest = server_of(&ctx.plan.destination)?;
        // Both slots at once: see `Shared::connections`.
        let slots = ctx.connections(&[&source.host, &dest.host]).await?;
        let source = open(&ctx.plan.source, source).await?;
        let dest = open(&ctx.plan.destination, dest).await?;
        Ok(Pair {
            source,
            // The destination's flags are never read back by mod-sequence.
            dest: dest.without_modseq(),
            _slots: slots,
        })
    }
}

/// The IMAP server of an endpoint, or an error naming the account.
pub(crate) fn server_of(endpoint: &Endpoint) -> anyhow::Result<&Server> {
    endpoint
        .server
        .as_ref()
        .with_context(|| format!("Account {} has no IMAP server", endpoint.email))
}

/// Opens one logged-in session to an endpoint.
pub(crate) async fn open(endpoint: &Endpoint, server: &Server) -> anyhow::Result<Session> {
    endpoint.imap_session(server, COMMAND_TIMEOUT).await
}
