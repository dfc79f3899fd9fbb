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
//!    and streams the others from source to destination: each one is
//!    matched against the fingerprints first and appended only if it is
//!    not already there;
//! 5. saves the new watermark.

use std::collections::{HashMap, HashSet};

use tokio::sync::mpsc;

use super::Pair;
use super::altered::Altered;
use super::fingerprint::{self, Present};
use super::folders::FolderMapping;
use crate::engine::AccountContext;
use crate::plan::{MailRules, StageKind};
use crate::protocols::imap::{
    AppendRequest, FetchedBody, ImapError, MailboxState, MessageMeta, Session, Status,
};
use crate::stages::pipeline::{
    self, Confirmable, Delivery, Ledger, MessageSource, PassError, SETTLE_INTERVAL, SETTLE_POLLS,
    dest, source,
};
use crate::store::StoreError;
use crate::store::batches::StageCounts;
use crate::store::mail::{
    Checkpoint, CheckpointUpdate, Fingerprint, FolderRecord, NewCheckpoint, Side, Watermark,
};

/// Where a folder stands against its last complete pass.
pub enum Check {
    /// Nothing changed on either side since: nothing to do.
    Unchanged { messages: u32 },
    /// Something changed (or the folder was never passed over completely).
    Changed { source: Status, dest: Status },
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
            counts.found += u64::from(messages);
            return Ok(());
        }
        Check::Changed { source, dest } => (source, dest),
    };
    let now = watermark(&src_status, &dst_status);

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
    if lost_copies(pair, mapping, &dst_status, &checkpoints, store).await? {
        checkpoints = store.checkpoints(record.id).await?;
    }
    let mut index = Index::new(&checkpoints);
    if !index.intents.is_empty() {
        // APPENDs of an interrupted attempt may still be landing.
        pair.dest
            .wait_until_quiet(&mapping.dest_raw, SETTLE_INTERVAL, SETTLE_POLLS)
            .await
            .map_err(dest)?;
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
    let (mut present, mut updates) = find_unrecorded(
        &mut pair.dest,
        &dst_state,
        dest_floor,
        &index.dest_uids,
        orphans,
    )
    .await
    .map_err(dest)?;

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
    counts.found += found;
    counts.skipped += skipped;

    let dst_after = pair.dest.status(&mapping.dest_raw).await.map_err(dest)?;
    store
        .save_folder_counts(record.id, src_status.messages, dst_after.messages)
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
    let metas = pair.source.fetch_meta("1:*").await.map_err(source)?;
    let (mut found, mut skipped) = (0, 0);
    let mut flag_changes = Vec::new();
    let mut to_copy = Vec::new();
    for meta in metas {
        found += 1;
        let flags = keep.flags(&meta.flags);
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
        .uid_search_all()
        .await?
        .into_iter()
        .filter(|uid| *uid >= floor && !known.contains(uid))
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

/// Streams messages from the source and appends those not already at the
/// destination, recording each confirmed copy (through the
/// [`pipeline`]); counts the copies the destination stored altered.
#[allow(clippy::too_many_arguments)]
async fn copy(
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

/// An IMAP folder is a message source: bodies by UID.
impl MessageSource for Session {
    type Id = u32;
    type Item = FetchedBody;

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
            source_uid: uid,
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
        format!("{} UID {}", self.mapping.source, row.source_uid)
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
                source_uid: meta.uid,
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

impl Confirmable for NewCheckpoint {
    fn size(&self) -> u64 {
        self.size
    }

    fn confirm(&mut self, dest_uid: Option<u32>) {
        self.dest_uid = dest_uid;
    }
}

/// Lookups over a folder's checkpoints.
struct Index {
    /// Completed rows by source UID.
    by_source: HashMap<u32, usize>,
    /// Source UIDs whose copy an earlier attempt announced (pending rows).
    intents: HashSet<u32>,
    dest_uids: HashSet<u32>,
    orphans: HashMap<crate::store::mail::Fingerprint, Vec<i64>>,
}

impl Index {
    fn new(checkpoints: &[Checkpoint]) -> Index {
        let mut index = Index {
            by_source: HashMap::with_capacity(checkpoints.len()),
            intents: HashSet::new(),
            dest_uids: HashSet::with_capacity(checkpoints.len()),
            orphans: HashMap::new(),
        };
        for (i, checkpoint) in checkpoints.iter().enumerate() {
            if checkpoint.pending {
                index.intents.extend(checkpoint.source_uid);
                continue;
            }
            match checkpoint.source_uid {
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
    fn claim_orphan(&mut self, fingerprint: &crate::store::mail::Fingerprint) -> Option<i64> {
        let ids = self.orphans.get_mut(fingerprint)?;
        let id = ids.pop();
        if ids.is_empty() {
            self.orphans.remove(fingerprint);
        }
        id
    }
}

/// Which flags the destination keeps.
struct FlagFilter {
    keywords: bool,
    allowed: HashSet<String>,
}

impl FlagFilter {
    fn new(permanent: &[String]) -> FlagFilter {
        FlagFilter {
            keywords: permanent.iter().any(|f| f == "\\*"),
            allowed: permanent.iter().map(|f| f.to_ascii_lowercase()).collect(),
        }
    }

    /// The flags to set at the destination, sorted and space-separated.
    fn flags(&self, source: &[String]) -> String {
        let mut kept: Vec<&str> = source
            .iter()
            .map(String::as_str)
            .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
            .filter(|f| {
                if f.starts_with('\\') {
                    self.allowed.contains(&f.to_ascii_lowercase())
                } else {
                    self.keywords || self.allowed.contains(&f.to_ascii_lowercase())
                }
            })
            .collect();
        kept.sort_unstable();
        kept.dedup();
        kept.join(" ")
    }
}

fn split(flags: &str) -> Vec<String> {
    flags.split_whitespace().map(str::to_owned).collect()
}

/// Whether a message is to be copied.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    Copy,
    /// Left out by the manifest's filters.
    Filtered,
    /// Larger than the destination's APPENDLIMIT.
    TooBig(u64),
}

fn admit(meta: &MessageMeta, rules: &MailRules, appendlimit: Option<u64>) -> Admission {
    if !rules.include_deleted
        && meta
            .flags
            .iter()
            .any(|f| f.eq_ignore_ascii_case("\\Deleted"))
    {
        return Admission::Filtered;
    }
    if rules.max_message_size.is_some_and(|max| meta.size > max) {
        return Admission::Filtered;
    }
    if rules.since.is_some() || rules.before.is_some() {
        let Some(date) =
            crate::protocols::imap::internal_date(&meta.internal_date).map(|d| d.date_naive())
        else {
            return Admission::Copy;
        };
        if rules.since.is_some_and(|since| date < since)
            || rules.before.is_some_and(|before| date >= before)
        {
            return Admission::Filtered;
        }
    }
    match appendlimit {
        Some(limit) if meta.size > limit => Admission::TooBig(limit),
        _ => Admission::Copy,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn meta(flags: &[&str], size: u64, date: &str) -> MessageMeta {
        MessageMeta {
            uid: 1,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            internal_date: date.to_owned(),
            size,
            modseq: None,
        }
    }

    #[test]
    fn flags_follow_what_the_destination_keeps() {
        let permanent: Vec<String> = ["\\Seen", "\\Flagged", "\\Deleted", "\\*"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let keep = FlagFilter::new(&permanent);
        let source: Vec<String> = ["\\Seen", "$Label1", "\\Recent", "\\Flagged"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(keep.flags(&source), "$Label1 \\Flagged \\Seen");
        let no_keywords = FlagFilter::new(&permanent[..3]);
        assert_eq!(no_keywords.flags(&source), "\\Flagged \\Seen");
    }

    #[test]
    fn filters_apply_dates_sizes_and_deleted() {
        let rules = MailRules {
            since: NaiveDate::from_ymd_opt(2020, 1, 1),
            before: NaiveDate::from_ymd_opt(2021, 1, 1),
            max_message_size: Some(1000),
            ..MailRules::default()
        };
        let date = "15-Jun-2020 10:00:00 +0200";
        assert_eq!(admit(&meta(&[], 10, date), &rules, None), Admission::Copy);
        assert_eq!(
            admit(&meta(&["\\Deleted"], 10, date), &rules, None),
            Admission::Filtered
        );
        assert_eq!(
            admit(&meta(&[], 2000, date), &rules, None),
            Admission::Filtered
        );
        assert_eq!(
            admit(&meta(&[], 10, " 1-Jan-2021 00:00:00 +0000"), &rules, None),
            Admission::Filtered
        );
        assert_eq!(
            admit(&meta(&[], 10, "31-Dec-2019 23:59:59 +0000"), &rules, None),
            Admission::Filtered
        );
        assert_eq!(
            admit(&meta(&[], 900, date), &rules, Some(500)),
            Admission::TooBig(500)
        );
    }
}
