//! How a pass over an IMAP folder feeds the [`pipeline`]: the folder as a
//! [`MessageSource`] (bodies by UID) and its checkpoints as a [`Ledger`]
//! (rows keyed by source UID, rows that lost their UID claimed back by
//! content, copies the destination may alter noted).

use std::collections::{HashMap, HashSet};

use tokio::sync::mpsc;

use super::Pair;
use super::admission::split;
use super::altered::Altered;
use super::fingerprint::{self, Present};
use super::folders::FolderMapping;
use crate::protocols::imap::{AppendRequest, FetchedBody, MessageMeta, Session};
use crate::stages::context::AccountContext;
use crate::stages::pipeline::{self, Delivery, Ledger, MessageSource, PassError, dest, source};
use crate::store::StoreError;
use crate::store::batches::StageCounts;
use crate::store::mail::{Checkpoint, CheckpointUpdate, Fingerprint, NewCheckpoint};

/// Streams messages from the source and appends those not already at the
/// destination, recording each confirmed copy (through the
/// [`pipeline`]); counts the copies the destination stored altered.
#[allow(clippy::too_many_arguments)]
pub(super) async fn copy(
    ctx: &AccountContext,
    pair: &mut Pair,
    mapping: &FolderMapping,
    folder_id: i64,
    to_copy: Vec<(MessageMeta, String)>,
    index: &mut Index,
    present: &mut Present,
    counts: &mut StageCounts,
) -> Result<(), PassError> {
    if to_copy.is_empty() {
        return Ok(());
    }
    let groups = pipeline::fetch_groups(to_copy.iter().map(|(m, _)| (m.uid, m.uid, m.size)));
    let mut ledger = FolderLedger {
        mapping,
        folder_id,
        wanted: to_copy.into_iter().map(|(m, f)| (m.uid, (m, f))).collect(),
        index,
        present,
        updates: Vec::new(),
        altered: Altered::default(),
    };
    let Pair {
        source: src,
        dest: dst,
        ..
    } = pair;
    let dest_raw = &mapping.dest_raw;
    pipeline::copy(
        ctx,
        src,
        dst,
        dest_raw,
        folder_id,
        groups,
        &mut ledger,
        counts,
    )
    .await?;
    counts.altered += ledger.altered.count(dst).await.map_err(dest)?;
    Ok(())
}

/// An IMAP session with a folder open is a message source: that folder's
/// messages, bodies by UID.
impl MessageSource for Session {
    type Id = u32;
    type Listing = MessageMeta;
    type Item = FetchedBody;

    async fn list(&mut self) -> Result<Vec<MessageMeta>, PassError> {
        self.fetch_meta("1:*").await.map_err(source)
    }

    fn id(item: &FetchedBody) -> u32 {
        item.uid
    }

    async fn fetch(
        &mut self,
        group: &[u32],
        tx: &mpsc::Sender<FetchedBody>,
    ) -> Result<(), PassError> {
        self.fetch_bodies_to(group, tx).await.map_err(source)?;
        Ok(())
    }
}

/// The checkpoints of one IMAP folder, keyed by source UID.
struct FolderLedger<'a> {
    mapping: &'a FolderMapping,
    folder_id: i64,
    /// The messages to copy, with the flags to give them, by UID.
    wanted: HashMap<u32, (MessageMeta, String)>,
    index: &'a mut Index,
    present: &'a mut Present,
    /// Changes to existing rows to write.
    updates: Vec<CheckpointUpdate>,
    /// Copies the destination may have stored altered.
    altered: Altered,
}

impl Ledger<FetchedBody> for FolderLedger<'_> {
    type Row = NewCheckpoint;

    async fn offer(
        &mut self,
        _ctx: &AccountContext,
        FetchedBody { uid, body }: FetchedBody,
        counts: &mut StageCounts,
    ) -> Result<Delivery<NewCheckpoint>, PassError> {
        let Some((meta, flags)) = self.wanted.get(&uid) else {
            return Ok(Delivery::Nothing);
        };
        let fingerprint = fingerprint::of_message(&body);
        if let Some(id) = self.index.claim_orphan(&fingerprint) {
            self.updates.push(CheckpointUpdate::SourceUid {
                id,
                source_uid: uid,
            });
            counts.present += 1;
            return Ok(Delivery::Nothing);
        }
        let row = NewCheckpoint {
            source: uid,
            dest_uid: None,
            fingerprint,
            flags: flags.clone(),
            size: body.len() as u64,
            // A message found at the destination is ours when an
            // earlier attempt had announced its copy.
            copied: self.index.intents.contains(&uid),
        };
        let received = fingerprint::received(&meta.internal_date);
        if let Some(dest_uid) = self.present.claim(&fingerprint, received) {
            return Ok(Delivery::Present(NewCheckpoint {
                dest_uid: Some(dest_uid),
                ..row
            }));
        }
        self.altered.note(uid, &body);
        let request = AppendRequest {
            flags: split(flags),
            internal_date: Some(meta.internal_date.clone()),
            body,
        };
        Ok(Delivery::Append(
            NewCheckpoint {
                copied: true,
                ..row
            },
            request,
        ))
    }

    fn name(&self, row: &NewCheckpoint) -> String {
        format!("{} UID {}", self.mapping.source, row.source)
    }

    async fn record(
        &mut self,
        ctx: &AccountContext,
        rows: Vec<NewCheckpoint>,
    ) -> Result<(), StoreError> {
        self.altered.confirm(&rows);
        ctx.store.record_checkpoints(self.folder_id, rows).await
    }

    async fn close(&mut self, ctx: &AccountContext) -> Result<(), StoreError> {
        let updates = std::mem::take(&mut self.updates);
        ctx.store.update_checkpoints(updates).await
    }
}

/// Lookups over a folder's checkpoints.
pub(super) struct Index {
    /// Completed rows by source UID.
    pub(super) by_source: HashMap<u32, usize>,
    /// Source UIDs whose copy an earlier attempt announced (pending rows).
    pub(super) intents: HashSet<u32>,
    pub(super) dest_uids: HashSet<u32>,
    orphans: HashMap<Fingerprint, Vec<i64>>,
}

impl Index {
    pub(super) fn new(checkpoints: &[Checkpoint]) -> Index {
        let mut index = Index {
            by_source: HashMap::with_capacity(checkpoints.len()),
            intents: HashSet::new(),
            dest_uids: HashSet::with_capacity(checkpoints.len()),
            orphans: HashMap::new(),
        };
        for (i, checkpoint) in checkpoints.iter().enumerate() {
            if checkpoint.pending {
                index.intents.extend(checkpoint.source);
                continue;
            }
            match checkpoint.source {
                Some(uid) => {
                    index.by_source.insert(uid, i);
                }
                None => index
                    .orphans
                    .entry(checkpoint.fingerprint)
                    .or_default()
                    .push(checkpoint.id),
            }
            if let Some(uid) = checkpoint.dest_uid {
                index.dest_uids.insert(uid);
            }
        }
        index
    }

    /// Claims a row that lost its source UID and has this fingerprint.
    fn claim_orphan(&mut self, fingerprint: &Fingerprint) -> Option<i64> {
        let ids = self.orphans.get_mut(fingerprint)?;
        let id = ids.pop();
        if ids.is_empty() {
            self.orphans.remove(fingerprint);
        }
        id
    }
}
