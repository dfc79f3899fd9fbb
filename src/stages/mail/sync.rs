//! One pass over one folder: bring the destination folder up to date with
//! the source folder, recording every message as it is confirmed.
//!
//! A pass:
//! 1. compares both sides' STATUS with the last complete pass's watermark
//!    and stops there when nothing changed;
//! 2. forgets UIDs whose side changed UIDVALIDITY (rows keep their
//!    fingerprints and are re-matched by content);
//! 3. fingerprints destination messages it has no record of (copies whose
//!    checkpoint was lost in a crash, messages that were there before);
//! 4. lists the source, carries flag changes over for recorded messages,
//!    and streams the others from source to destination through the
//!    [`pipeline`] ([`super::ledger`]): each one is matched against the
//!    fingerprints first and appended only if it is not already there;
//! 5. saves the new watermark, once every listed message is recorded.
//!
//! A label-aware source's folder copies only its share of the messages
//! (see [`super::labels`]).

use std::collections::{HashMap, HashSet};

use super::Pair;
use super::admission::{Admission, FlagFilter, admit, split};
use super::fingerprint::{self, Present};
use super::folders::FolderMapping;
use super::late;
use super::ledger::{Index, copy};
use crate::plan::StageKind;
use crate::protocols::imap::{ImapError, MailboxState, MessageMeta, Session, Status};
use crate::stages::context::AccountContext;
use crate::stages::pipeline::{self, MessageSource, PassError, dest, source};
use crate::store::batches::StageCounts;
use crate::store::mail::{
    Checkpoint, CheckpointUpdate, Fingerprint, FolderRecord, NewCheckpoint, Side, Watermark,
};

/// Where a folder stands against its last complete pass.
pub enum Check {
    /// Nothing changed on either side since: nothing to do.
    Unchanged {
        /// How many messages the destination folder holds.
        messages: u32,
    },
    /// Something changed (or the folder was never passed over completely).
    Changed {
        /// The source folder now.
        source: Status,
        /// The destination folder now.
        dest: Status,
    },
}

/// Compares both sides' STATUS with the folder's watermark: two cheap
/// commands, no folder opened.
pub async fn check(
    ctx: &AccountContext,
    pair: &mut Pair,
    mapping: &FolderMapping,
    record: &FolderRecord,
) -> Result<Check, PassError> {
    let src_status = pair
        .source
        .status(&mapping.source_raw)
        .await
        .map_err(source)?;
    let dst_status = pair.dest.status(&mapping.dest_raw).await.map_err(dest)?;
    let now = watermark(&src_status, &dst_status);
    // Without a HIGHESTMODSEQ, flag changes cannot be seen from STATUS; and
    // a destination holding fewer messages than the checkpoints claim is
    // not trusted.
    if record.watermark == Some(now)
        && now.source_modseq.is_some()
        && dst_status.messages >= record.recorded
    {
        ctx.store
            .save_folder_counts(record.id, src_status.messages, dst_status.messages)
            .await?;
        return Ok(Check::Unchanged {
            messages: src_status.messages,
        });
    }
    ctx.progress.expect_messages(
        ctx.account.id,
        &mapping.source_raw,
        u64::from(src_status.messages.saturating_sub(dst_status.messages)),
    );
    Ok(Check::Changed {
        source: src_status,
        dest: dst_status,
    })
}

fn watermark(source: &Status, dest: &Status) -> Watermark {
    Watermark {
        source_uidvalidity: source.uidvalidity,
        source_uidnext: source.uidnext,
        source_modseq: source.highestmodseq,
        dest_uidvalidity: dest.uidvalidity,
        dest_uidnext: dest.uidnext,
    }
}

/// Runs one pass over a folder. Copies, matches and failures are added to
/// `counts` as they happen, so work done by a pass that is then cut off
/// still counts; what the source holds (found, skipped) is added only when
/// the pass completes.
pub async fn pass(
    ctx: &AccountContext,
    pair: &mut Pair,
    mapping: &FolderMapping,
    record: &FolderRecord,
    counts: &mut StageCounts,
) -> Result<(), PassError> {
    let store = &ctx.store;
    let (src_status, dst_status) = match check(ctx, pair, mapping, record).await? {
        Check::Unchanged { messages } => {
            counts.found += mapping.found(messages);
            return Ok(());
        }
        Check::Changed { source, dest } => (source, dest),
    };
    let now = watermark(&src_status, &dst_status);

    let Opened {
        checkpoints,
        mut index,
        dst_state,
        floor,
        mut present,
        mut updates,
    } = open_pass(ctx, pair, mapping, record, &now, &dst_status).await?;
    let Listed {
        found,
        skipped,
        to_copy,
    } = list_source(
        ctx,
        pair,
        mapping,
        &dst_state,
        &checkpoints,
        &index,
        &mut updates,
        counts,
    )
    .await?;
    store.update_checkpoints(updates).await?;
    let expected: Vec<u32> = index
        .by_source
        .keys()
        .copied()
        .chain(to_copy.iter().map(|(meta, _)| meta.uid))
        .collect();
    let to_copy = match_present(
        pair,
        record.id,
        to_copy,
        &index,
        &mut present,
        store,
        counts,
    )
    .await?;

    let failed_before = counts.failed;
    copy(
        ctx,
        pair,
        mapping,
        record.id,
        to_copy,
        &mut index,
        &mut present,
        counts,
    )
    .await?;
    super::labels::add_labels(ctx, pair, mapping, record.id, floor).await?;
    counts.found += found;
    counts.skipped += skipped;

    let dst_after = pair.dest.status(&mapping.dest_raw).await.map_err(dest)?;
    let twins = late::remove(ctx, &mut pair.dest, record.id, &mapping.dest_raw, floor).await?;
    store
        .save_folder_counts(
            record.id,
            src_status.messages,
            dst_after.messages.saturating_sub(twins),
        )
        .await?;
    // A pass with failures leaves no watermark, so the next run retries
    // them; so does one that left a listed message unrecorded.
    if counts.failed == failed_before && all_recorded(ctx, mapping, record.id, &expected).await? {
        let mark = Watermark {
            dest_uidnext: dst_after.uidnext,
            dest_uidvalidity: dst_after.uidvalidity,
            ..now
        };
        pipeline::save_watermark(ctx, record.id, mark).await?;
    }
    Ok(())
}

/// What a pass knows once both folders are open.
struct Opened {
    checkpoints: Vec<Checkpoint>,
    index: Index,
    dst_state: MailboxState,
    /// The first destination UID the pass looked at.
    floor: u32,
    /// Destination messages no checkpoint accounts for.
    present: Present,
    /// Rows that claimed their destination message back.
    updates: Vec<CheckpointUpdate>,
}

/// Starts a pass: forgets UIDs whose side changed UIDVALIDITY, reads the
/// checkpoints (dropping those whose copy is gone), waits for APPENDs of
/// an interrupted attempt to land, opens both folders and fingerprints the
/// destination messages without a record.
async fn open_pass(
    ctx: &AccountContext,
    pair: &mut Pair,
    mapping: &FolderMapping,
    record: &FolderRecord,
    now: &Watermark,
    dst_status: &Status,
) -> Result<Opened, PassError> {
    let store = &ctx.store;
    let mut dest_floor = record.dest_floor;
    if let Some((source_validity, dest_validity)) = record.uidvalidity {
        if source_validity != now.source_uidvalidity {
            store.forget_uids(record.id, Side::Source).await?;
        }
        if dest_validity != now.dest_uidvalidity {
            store.forget_uids(record.id, Side::Destination).await?;
            dest_floor = 1;
        }
    }
    store
        .begin_folder_pass(record.id, now.source_uidvalidity, now.dest_uidvalidity)
        .await?;

    let mut checkpoints = store.checkpoints(record.id).await?;
    if lost_copies(pair, mapping, dst_status, &checkpoints, store).await? {
        checkpoints = store.checkpoints(record.id).await?;
    }
    let index = Index::new(&checkpoints);
    if !index.intents.is_empty() {
        // APPENDs of an interrupted attempt may still be landing.
        late::settle(ctx, &mut pair.dest, record.id, &mapping.dest_raw).await?;
    }
    let dst_state = pair.dest.select(&mapping.dest_raw).await.map_err(dest)?;
    pair.source
        .examine(&mapping.source_raw)
        .await
        .map_err(source)?;
    // Destination messages without a record: fingerprint them.
    let orphans = checkpoints
        .iter()
        .filter(|c| c.dest_uid.is_none() && !c.pending)
        .map(|c| (c.id, c.fingerprint));
    let (present, updates) = find_unrecorded(
        &mut pair.dest,
        &dst_state,
        dest_floor,
        &index.dest_uids,
        orphans,
    )
    .await
    .map_err(dest)?;

    Ok(Opened {
        checkpoints,
        index,
        dst_state,
        floor: dest_floor,
        present,
        updates,
    })
}

/// What the source's listing asks of a pass.
struct Listed {
    found: u64,
    skipped: u64,
    /// Messages without a record, with the flags the destination keeps.
    to_copy: Vec<(MessageMeta, String)>,
}

/// Lists the source folder: carries flag changes over to the recorded
/// messages (and into `updates`), counts what the filters leave out and
/// what is too big for the destination, and returns the rest to copy.
#[allow(clippy::too_many_arguments)]
async fn list_source(
    ctx: &AccountContext,
    pair: &mut Pair,
    mapping: &FolderMapping,
    dst_state: &MailboxState,
    checkpoints: &[Checkpoint],
    index: &Index,
    updates: &mut Vec<CheckpointUpdate>,
    counts: &mut StageCounts,
) -> Result<Listed, PassError> {
    let store = &ctx.store;
    // The source's messages: flag changes for recorded ones, the rest to copy.
    let keep = FlagFilter::new(&dst_state.permanent_flags);
    let metas = MessageSource::list(&mut pair.source).await?;
    let (mut found, mut skipped) = (0, 0);
    let mut flag_changes = Vec::new();
    let mut to_copy = Vec::new();
    let share = mapping.share.as_deref();
    for meta in metas {
        if share.is_some_and(|s| !s.copies(meta.uid)) {
            continue; // Its copy is another folder's (a label-aware source).
        }
        found += 1;
        let flags = match share {
            Some(share) => keep.flags(&share.flags(meta.uid, &meta.flags)),
            None => keep.flags(&meta.flags),
        };
        if let Some(checkpoint) = index.by_source.get(&meta.uid).map(|&i| &checkpoints[i]) {
            if checkpoint.flags != flags {
                if let Some(dest_uid) = checkpoint.dest_uid {
                    flag_changes.push((dest_uid, split(&flags)));
                }
                updates.push(CheckpointUpdate::Flags {
                    id: checkpoint.id,
                    flags,
                });
            }
            continue;
        }
        match admit(&meta, &ctx.plan.mail, pair.dest.capabilities().appendlimit) {
            Admission::Copy => to_copy.push((meta, flags)),
            Admission::Filtered => skipped += 1,
            Admission::TooBig(limit) => {
                counts.failed += 1;
                ctx.progress.failure();
                store
                    .record_item_error(
                        ctx.account.id,
                        StageKind::Mail,
                        format!("{} UID {}", mapping.source, meta.uid),
                        format!(
                            "{} bytes, larger than the destination accepts ({limit} bytes)",
                            meta.size
                        ),
                    )
                    .await?;
            }
        }
    }
    if !flag_changes.is_empty() {
        pair.dest
            .uid_store_flags_batch(&flag_changes)
            .await
            .map_err(dest)?;
    }
    Ok(Listed {
        found,
        skipped,
        to_copy,
    })
}

/// Fingerprints the destination messages no checkpoint records (UIDs from
/// `floor` on that `known` lacks): copies whose confirmation was lost, and
/// mail that was there before. Rows that lost their destination UID
/// (`orphans`: id and fingerprint) then claim their message back.
pub(crate) async fn find_unrecorded(
    dest: &mut Session,
    state: &MailboxState,
    floor: u32,
    known: &HashSet<u32>,
    orphans: impl Iterator<Item = (i64, Fingerprint)>,
) -> Result<(Present, Vec<CheckpointUpdate>), ImapError> {
    let mut present = Present::default();
    let mut updates = Vec::new();
    if state.exists == 0 || state.uidnext <= floor {
        return Ok((present, updates));
    }
    let unknown: Vec<u32> = dest
        .uid_search_from(floor)
        .await?
        .into_iter()
        .filter(|uid| !known.contains(uid))
        .collect();
    if !unknown.is_empty() {
        for stored in dest.fetch_headers(&unknown).await? {
            present.insert(
                fingerprint::of_header(stored.size, &stored.header),
                stored.size,
                stored.uid,
                fingerprint::received(&stored.internal_date),
            );
        }
    }
    for (id, fingerprint) in orphans {
        if let Some(dest_uid) = present.claim(&fingerprint, None) {
            updates.push(CheckpointUpdate::DestUid { id, dest_uid });
        }
    }
    Ok((present, updates))
}

/// Checks that the destination still holds the copies the checkpoints
/// claim when it shows fewer messages than they do; a copy that is gone
/// loses its row, so that the pass copies it again. Returns whether rows
/// were dropped.
async fn lost_copies(
    pair: &mut Pair,
    mapping: &FolderMapping,
    dest_status: &Status,
    checkpoints: &[Checkpoint],
    store: &crate::store::Store,
) -> Result<bool, PassError> {
    let claimed: Vec<&Checkpoint> = checkpoints
        .iter()
        .filter(|c| !c.pending && c.dest_uid.is_some())
        .collect();
    if dest_status.messages as usize >= claimed.len() {
        return Ok(false);
    }
    pair.dest.examine(&mapping.dest_raw).await.map_err(dest)?;
    let there: HashSet<u32> = pair
        .dest
        .uid_search_all()
        .await
        .map_err(dest)?
        .into_iter()
        .collect();
    let gone: Vec<i64> = claimed
        .iter()
        .filter(|c| c.dest_uid.is_some_and(|uid| !there.contains(&uid)))
        .map(|c| c.id)
        .collect();
    if gone.is_empty() {
        return Ok(false);
    }
    tracing::warn!(
        folder = %mapping.source,
        "{} recorded copies are no longer at the destination; copying them again",
        gone.len()
    );
    store.forget_checkpoints(gone).await?;
    Ok(true)
}

/// Pairs source messages with unrecorded destination messages before any
/// body is fetched: by content and received date first, then by content
/// alone, so that two copies differing only in their date each keep their
/// own. Only messages of a size the destination holds are looked at.
/// Returns the messages still to copy.
async fn match_present(
    pair: &mut Pair,
    folder_id: i64,
    to_copy: Vec<(MessageMeta, String)>,
    index: &Index,
    present: &mut Present,
    store: &crate::store::Store,
    counts: &mut StageCounts,
) -> Result<Vec<(MessageMeta, String)>, PassError> {
    if present.is_empty() {
        return Ok(to_copy);
    }
    let candidates: Vec<u32> = to_copy
        .iter()
        .filter(|(meta, _)| present.holds_size(meta.size))
        .map(|(meta, _)| meta.uid)
        .collect();
    if candidates.is_empty() {
        return Ok(to_copy);
    }
    let fingerprints: HashMap<u32, Fingerprint> = pair
        .source
        .fetch_headers(&candidates)
        .await
        .map_err(source)?
        .into_iter()
        .map(|h| (h.uid, fingerprint::of_header(h.size, &h.header)))
        .collect();
    let mut matched: HashMap<u32, u32> = HashMap::new();
    let exact = |meta: &MessageMeta, present: &mut Present, fp: &Fingerprint| {
        present.claim_exact(fp, fingerprint::received(&meta.internal_date))
    };
    let any = |meta: &MessageMeta, present: &mut Present, fp: &Fingerprint| {
        present.claim(fp, fingerprint::received(&meta.internal_date))
    };
    for claim in [exact, any] {
        for (meta, _) in &to_copy {
            if matched.contains_key(&meta.uid) {
                continue;
            }
            let Some(fp) = fingerprints.get(&meta.uid) else {
                continue;
            };
            if let Some(dest_uid) = claim(meta, present, fp) {
                matched.insert(meta.uid, dest_uid);
            }
        }
    }
    let mut rows = Vec::with_capacity(matched.len());
    let mut rest = Vec::with_capacity(to_copy.len() - matched.len());
    for (meta, flags) in to_copy {
        match matched.get(&meta.uid) {
            Some(&dest_uid) => rows.push(NewCheckpoint {
                source: meta.uid,
                dest_uid: Some(dest_uid),
                fingerprint: fingerprints[&meta.uid],
                flags,
                size: meta.size,
                // Ours when an earlier attempt had announced its copy.
                copied: index.intents.contains(&meta.uid),
            }),
            None => rest.push((meta, flags)),
        }
    }
    counts.present += rows.len() as u64;
    store.record_checkpoints(folder_id, rows).await?;
    Ok(rest)
}

/// Whether every source message the pass listed (`expected`) now has a
/// completed checkpoint; says which folder fell short when not.
async fn all_recorded(
    ctx: &AccountContext,
    mapping: &FolderMapping,
    folder_id: i64,
    expected: &[u32],
) -> Result<bool, PassError> {
    let recorded = ctx.store.recorded_source_uids(folder_id).await?;
    let missing = expected
        .iter()
        .filter(|uid| !recorded.contains(uid))
        .count();
    if missing > 0 {
        tracing::warn!(
            account = %ctx.plan.source.email,
            folder = %mapping.source,
            "{missing} messages are not recorded after the pass; the folder stays open"
        );
    }
    Ok(missing == 0)
}
