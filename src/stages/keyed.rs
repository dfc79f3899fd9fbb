//! Mail from sources whose messages have a text key instead of an IMAP
//! UID: POP3 (the UIDL) and PST files (the node ID). Both stages record
//! their messages in the mail stage's tables through
//! [`crate::store::pop3`] (one `folders` row per destination folder,
//! `messages` rows keyed by `source_key`), so status, reports and undo
//! read them unchanged.
//!
//! A [`pass`] over one destination folder: [`Recorded::load`] reads the
//! folder's checkpoints and fingerprints the destination messages they do
//! not account for (a copy whose confirmation was lost, a message that was
//! there before); the source's messages without a record then go through
//! the [`pipeline`], offered to a [`KeyedLedger`] that appends each unless
//! it is there already; [`finish_pass`] saves the counts and, after a pass
//! without failures, the watermark.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::mail::fingerprint::{self, Present};
use super::mail::late;
use super::mail::sync::find_unrecorded;
use super::pipeline::{self, Delivery, Ledger, MessageSource, PassError, dest};
use crate::plan::{MailRules, StageKind};
use crate::protocols::imap::{AppendRequest, Session};
use crate::stages::context::AccountContext;
use crate::store::StoreError;
use crate::store::batches::StageCounts;
use crate::store::mail::NewCheckpoint;
use crate::store::mail::{FolderRecord, Side, Watermark};

/// What the checkpoints and the destination folder say before a pass.
pub(crate) struct Recorded {
    /// Keys of the messages already copied or found.
    pub done: HashSet<String>,
    /// Keys whose copy an earlier attempt announced.
    pub intents: HashSet<String>,
    /// Destination messages no checkpoint accounts for.
    pub present: Present,
    /// The first destination UID the pass looked at.
    pub floor: u32,
}

impl Recorded {
    /// Starts a pass over `dest_raw` (selected when this returns).
    pub async fn load(
        ctx: &AccountContext,
        session: &mut Session,
        record: &FolderRecord,
        dest_raw: &str,
    ) -> Result<Recorded, PassError> {
        let store = &ctx.store;
        let status = session.status(dest_raw).await.map_err(dest)?;
        let mut dest_floor = record.dest_floor;
        if let Some((_, validity)) = record.uidvalidity
            && validity != status.uidvalidity
        {
            store.forget_uids(record.id, Side::Destination).await?;
            dest_floor = 1;
        }
        store
            .begin_folder_pass(record.id, 0, status.uidvalidity)
            .await?;
        let checkpoints = store.checkpoints::<String>(record.id).await?;
        let mut done = HashSet::new();
        let mut intents = HashSet::new();
        let mut dest_uids = HashSet::new();
        for checkpoint in &checkpoints {
            let key = checkpoint.source.clone();
            if checkpoint.pending {
                intents.extend(key);
            } else {
                done.extend(key);
            }
            dest_uids.extend(checkpoint.dest_uid);
        }
        if !intents.is_empty() {
            late::settle(ctx, session, record.id, dest_raw).await?;
        }
        let state = session.select(dest_raw).await.map_err(dest)?;
        let orphans = checkpoints
            .iter()
            .filter(|c| c.dest_uid.is_none() && !c.pending)
            .map(|c| (c.id, c.fingerprint));
        let (present, updates) = find_unrecorded(session, &state, dest_floor, &dest_uids, orphans)
            .await
            .map_err(dest)?;
        store.update_checkpoints(updates).await?;
        Ok(Recorded {
            done,
            intents,
            present,
            floor: dest_floor,
        })
    }
}

/// Removes late APPENDs of an interrupted attempt (looking from UID
/// `floor` on), saves the message counts of a pass over `dest_raw` and,
/// when it had no failures, the watermark (so that the next run looks at
/// the whole destination folder again after one that had).
pub(crate) async fn finish_pass(
    ctx: &AccountContext,
    session: &mut Session,
    folder_id: i64,
    dest_raw: &str,
    floor: u32,
    found: u64,
    clean: bool,
) -> Result<(), PassError> {
    let after = session.status(dest_raw).await.map_err(dest)?;
    let twins = late::remove(ctx, session, folder_id, dest_raw, floor).await?;
    let source_messages = u32::try_from(found).unwrap_or(u32::MAX);
    ctx.store
        .save_folder_counts(
            folder_id,
            source_messages,
            after.messages.saturating_sub(twins),
        )
        .await?;
    // A pass cut short by a stop is not complete, whatever it copied.
    if clean && !ctx.shutdown.is_cancelled() {
        let mark = Watermark {
            source_uidvalidity: 0,
            source_uidnext: 0,
            source_modseq: None,
            dest_uidvalidity: after.uidvalidity,
            dest_uidnext: after.uidnext,
        };
        pipeline::save_watermark(ctx, folder_id, mark).await?;
    }
    Ok(())
}

/// A message of a keyed source as the source hands it over.
pub(crate) struct Offered {
    pub body: Vec<u8>,
    pub flags: Vec<String>,
    /// The day the message was received, for the date filters.
    pub date: Option<NaiveDate>,
    /// Its INTERNALDATE at the destination (the server's choice if none).
    pub internal_date: Option<String>,
    /// Whether it is mail at all (a PST folder holds other items too).
    pub mail: bool,
    /// What of it could not be read, imported without.
    pub warnings: Vec<String>,
}

/// A keyed source's item: the message's number or node ID, and the
/// message or why the source could not give it.
pub(crate) trait Offer {
    fn offer(self) -> (u32, Result<Offered, String>);
}

/// A message a keyed source lists.
pub(crate) struct Listed {
    /// What the source fetches it by (message number, node ID).
    pub id: u32,
    /// Its key in the checkpoints (UIDL, node ID).
    pub key: String,
    /// Its size, when the listing says.
    pub size: Option<u64>,
}

/// What the attempts of one stage did, together.
#[derive(Default)]
pub(crate) struct Tally {
    pub counts: StageCounts,
    /// Items already counted failed and reported: an attempt after a lost
    /// connection meets them again.
    reported: HashSet<String>,
}

impl Tally {
    /// Counts and reports a failed item, once whatever the attempts.
    pub async fn fail(
        &mut self,
        ctx: &AccountContext,
        item: String,
        reason: String,
    ) -> Result<(), StoreError> {
        fail_once(ctx, &mut self.reported, &mut self.counts, item, reason).await
    }
}

async fn fail_once(
    ctx: &AccountContext,
    reported: &mut HashSet<String>,
    counts: &mut StageCounts,
    item: String,
    reason: String,
) -> Result<(), StoreError> {
    if reported.insert(item.clone()) {
        counts.failed += 1;
        ctx.store
            .record_item_error(ctx.account.id, StageKind::Mail, item, reason)
            .await?;
    }
    Ok(())
}

/// One pass over the destination folder `dest_raw` (checkpointed as
/// `record`) for the messages `source` lists: recognises what
/// the destination holds, copies the rest through the [`pipeline`].
/// `label` names the folder's items in errors, before their key.
/// Copies, matches and failures are added to `tally` as they happen; what
/// the source holds (found, skipped) only when the pass completes.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pass<S>(
    ctx: &AccountContext,
    session: &mut Session,
    source: &mut S,
    record: &FolderRecord,
    dest_raw: &str,
    label: String,
    tally: &mut Tally,
) -> Result<(), PassError>
where
    S: MessageSource<Id = u32, Listing = Listed>,
    S::Item: Offer,
{
    let listed = source.list().await?;
    let recorded = Recorded::load(ctx, session, record, dest_raw).await?;
    let floor = recorded.floor;
    let appendlimit = session.capabilities().appendlimit;
    let found = listed.len() as u64;
    let mut skipped = 0;
    let mut seen = HashSet::new();
    let mut to_copy = Vec::new();
    for message in listed {
        if recorded.done.contains(&message.key) || !seen.insert(message.key.clone()) {
            continue;
        }
        if let Some(size) = message.size {
            if ctx.plan.mail.max_message_size.is_some_and(|max| size > max) {
                skipped += 1;
                continue;
            }
            if let Some(limit) = appendlimit.filter(|limit| size > *limit) {
                let reason =
                    format!("{size} bytes, larger than the destination accepts ({limit} bytes)");
                let item = format!("{label} {}", message.key);
                tally.fail(ctx, item, reason).await?;
                continue;
            }
        }
        to_copy.push(message);
    }

    let failed_before = tally.counts.failed;
    let groups = pipeline::fetch_groups(
        to_copy
            .iter()
            .map(|m| (m.id, m.key.clone(), m.size.unwrap_or(0))),
    );
    let mut ledger = KeyedLedger {
        folder_id: record.id,
        label,
        keys: to_copy.into_iter().map(|m| (m.id, m.key)).collect(),
        intents: recorded.intents,
        present: recorded.present,
        reported: &mut tally.reported,
        appendlimit,
        left_out: Vec::new(),
        skipped: 0,
    };
    let counts = &mut tally.counts;
    pipeline::copy(
        ctx,
        source,
        session,
        dest_raw,
        record.id,
        groups,
        &mut ledger,
        counts,
    )
    .await?;
    skipped += ledger.skipped;
    tally.counts.found += found;
    tally.counts.skipped += skipped;
    let clean = tally.counts.failed == failed_before;
    finish_pass(ctx, session, record.id, dest_raw, floor, found, clean).await
}

/// The checkpoints of one folder of a keyed source.
pub(crate) struct KeyedLedger<'a> {
    folder_id: i64,
    /// How items of this folder are named in errors, before their key.
    label: String,
    /// The keys of the messages to copy, by what the source fetches them by.
    keys: HashMap<u32, String>,
    /// Keys whose copy an earlier attempt announced.
    intents: HashSet<String>,
    /// Destination messages no checkpoint accounts for.
    present: Present,
    /// Items already counted failed (see [`Tally`]).
    reported: &'a mut HashSet<String>,
    appendlimit: Option<u64>,
    /// Keys left out once read (failed, filtered, not mail), whose
    /// intents are dropped.
    left_out: Vec<String>,
    /// Messages left out once read by the filters, or not mail.
    skipped: u64,
}

impl<I: Offer> Ledger<I> for KeyedLedger<'_> {
    type Row = NewCheckpoint<String>;

    async fn offer(
        &mut self,
        ctx: &AccountContext,
        item: I,
        counts: &mut StageCounts,
    ) -> Result<Delivery<NewCheckpoint<String>>, PassError> {
        let (id, result) = item.offer();
        let Some(key) = self.keys.get(&id).cloned() else {
            return Ok(Delivery::Nothing);
        };
        let item = format!("{} {key}", self.label);
        let problem = match &result {
            Err(reason) => Some(reason.clone()),
            Ok(message) => self
                .appendlimit
                .filter(|limit| message.body.len() as u64 > *limit)
                .map(|limit| {
                    format!(
                        "{} bytes, larger than the destination accepts ({limit} bytes)",
                        message.body.len()
                    )
                }),
        };
        let message = match (problem, result) {
            (None, Ok(message)) => message,
            (problem, _) => {
                let reason = problem.unwrap_or_default();
                fail_once(ctx, self.reported, counts, item, reason).await?;
                self.left_out.push(key);
                return Ok(Delivery::Nothing);
            }
        };
        let rules = &ctx.plan.mail;
        let too_big = rules
            .max_message_size
            .is_some_and(|max| message.body.len() as u64 > max);
        if !message.mail || too_big || !within_dates(message.date, rules) {
            self.skipped += 1;
            self.left_out.push(key);
            return Ok(Delivery::Nothing);
        }
        for warning in &message.warnings {
            ctx.store
                .record_item_error(
                    ctx.account.id,
                    StageKind::Mail,
                    item.clone(),
                    format!("imported without a part: {warning}"),
                )
                .await?;
        }
        let fingerprint = fingerprint::of_message(&message.body);
        let row = NewCheckpoint {
            // A message found at the destination is ours when an earlier
            // attempt had announced its copy.
            copied: self.intents.contains(&key),
            source: key,
            dest_uid: None,
            fingerprint,
            flags: String::new(),
            size: message.body.len() as u64,
        };
        if let Some(dest_uid) = self.present.claim(&fingerprint, None) {
            return Ok(Delivery::Present(NewCheckpoint {
                dest_uid: Some(dest_uid),
                ..row
            }));
        }
        let request = AppendRequest {
            flags: message.flags,
            internal_date: message.internal_date,
            body: message.body,
        };
        Ok(Delivery::Append(
            NewCheckpoint {
                copied: true,
                ..row
            },
            request,
        ))
    }

    fn name(&self, row: &NewCheckpoint<String>) -> String {
        format!("{} {}", self.label, row.source)
    }

    async fn record(
        &mut self,
        ctx: &AccountContext,
        rows: Vec<NewCheckpoint<String>>,
    ) -> Result<(), StoreError> {
        ctx.store.record_checkpoints(self.folder_id, rows).await
    }

    async fn close(&mut self, ctx: &AccountContext) -> Result<(), StoreError> {
        let left_out = std::mem::take(&mut self.left_out);
        ctx.store.forget_intents(self.folder_id, left_out).await
    }
}
/// Whether a message dated `date` passes the manifest's date filters (an
/// undated message always does).
fn within_dates(date: Option<NaiveDate>, rules: &MailRules) -> bool {
    let Some(date) = date else { return true };
    !(rules.since.is_some_and(|since| date < since)
        || rules.before.is_some_and(|before| date >= before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_filters_use_the_message_date() {
        let rules = MailRules {
            since: NaiveDate::from_ymd_opt(2020, 1, 1),
            before: NaiveDate::from_ymd_opt(2021, 1, 1),
            ..MailRules::default()
        };
        assert!(within_dates(NaiveDate::from_ymd_opt(2020, 6, 1), &rules));
        assert!(!within_dates(NaiveDate::from_ymd_opt(2019, 6, 1), &rules));
        assert!(!within_dates(NaiveDate::from_ymd_opt(2021, 1, 1), &rules));
        assert!(within_dates(None, &rules));
    }
}
