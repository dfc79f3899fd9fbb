//! Mail from sources whose messages have a text key instead of an IMAP
//! UID: POP3 (the UIDL) and PST files (the node ID). Both stages record
//! their messages in the mail stage's tables through
//! [`crate::store::pop3`] (one `folders` row per destination folder,
//! `messages` rows keyed by `source_key`), so status, reports and undo
//! read them unchanged.
//!
//! A pass over one destination folder: [`Recorded::load`] reads the
//! folder's checkpoints and fingerprints the destination messages they do
//! not account for (a copy whose confirmation was lost, a message that was
//! there before); the stage then offers each source message to a
//! [`Journal`], which appends it unless it is there already and records
//! every confirmed copy; [`finish_pass`] saves the counts and, after a
//! pass without failures, the watermark.

use std::collections::{HashSet, VecDeque};

use chrono::NaiveDate;

use super::mail::fingerprint::{self, Present};
use super::mail::sync::{
    CHECKPOINT_GROUP, Confirmable, SETTLE_INTERVAL, SETTLE_POLLS, find_unrecorded, settle,
};
use crate::plan::MailRules;
use crate::protocols::imap::{AppendRequest, Appender, Completion, ImapError, Session};
use crate::stages::context::AccountContext;
use crate::store::StoreError;
use crate::store::batches::StageCounts;
use crate::store::mail::{FolderRecord, Side, Watermark};
use crate::store::pop3::NewPop3Checkpoint;

/// Why a step at the destination failed.
#[derive(Debug, thiserror::Error)]
pub enum DestError {
    #[error("Destination: {0}")]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the checkpoints and the destination folder say before a pass.
pub(crate) struct Recorded {
    /// Keys of the messages already copied or found.
    pub done: HashSet<String>,
    /// Keys whose copy an earlier attempt announced.
    pub intents: HashSet<String>,
    /// Destination messages no checkpoint accounts for.
    pub present: Present,
}

impl Recorded {
    /// Starts a pass over `dest_raw` (selected when this returns).
    pub async fn load(
        ctx: &AccountContext,
        dest: &mut Session,
        record: &FolderRecord,
        dest_raw: &str,
    ) -> Result<Recorded, DestError> {
        let store = &ctx.store;
        let status = dest.status(dest_raw).await?;
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
        let checkpoints = store.pop3_checkpoints(record.id).await?;
        let mut done = HashSet::new();
        let mut intents = HashSet::new();
        let mut dest_uids = HashSet::new();
        for checkpoint in &checkpoints {
            if checkpoint.pending {
                intents.insert(checkpoint.key.clone());
            } else {
                done.insert(checkpoint.key.clone());
            }
            dest_uids.extend(checkpoint.dest_uid);
        }
        if !intents.is_empty() {
            dest.wait_until_quiet(dest_raw, SETTLE_INTERVAL, SETTLE_POLLS)
                .await?;
        }
        let state = dest.select(dest_raw).await?;
        let orphans = checkpoints
            .iter()
            .filter(|c| c.dest_uid.is_none() && !c.pending)
            .map(|c| (c.id, c.fingerprint));
        let (present, updates) =
            find_unrecorded(dest, &state, dest_floor, &dest_uids, orphans).await?;
        store.update_checkpoints(updates).await?;
        Ok(Recorded {
            done,
            intents,
            present,
        })
    }
}

/// Saves the message counts of a pass over `dest_raw` and, when it had no
/// failures, the watermark (so that the next run looks at the whole
/// destination folder again after one that had).
pub(crate) async fn finish_pass(
    ctx: &AccountContext,
    dest: &mut Session,
    folder_id: i64,
    dest_raw: &str,
    found: u64,
    clean: bool,
) -> Result<(), DestError> {
    let after = dest.status(dest_raw).await?;
    let source_messages = u32::try_from(found).unwrap_or(u32::MAX);
    ctx.store
        .save_folder_counts(folder_id, source_messages, after.messages)
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
        ctx.store.save_watermark(folder_id, mark).await?;
    }
    Ok(())
}

/// Copies in flight and checkpoints not yet written, for one folder.
pub(crate) struct Journal {
    folder_id: i64,
    /// How items of this folder are named in errors, before their key.
    label: String,
    /// Rows of the APPENDs in flight, in the order they were sent.
    inflight: VecDeque<NewPop3Checkpoint>,
    /// Confirmed rows to write.
    rows: Vec<NewPop3Checkpoint>,
    /// Keys left out once read (date filters, not mail), whose intents
    /// are dropped.
    pub left_out: Vec<String>,
}

impl Journal {
    pub fn new(folder_id: i64, label: String) -> Journal {
        Journal {
            folder_id,
            label,
            inflight: VecDeque::new(),
            rows: Vec::new(),
            left_out: Vec::new(),
        }
    }

    /// How an item of this folder is named in errors.
    pub fn item(&self, key: &str) -> String {
        format!("{} {key}", self.label)
    }

    /// The row of a message read from the source.
    /// `intents` are [`Recorded::intents`].
    pub fn row(intents: &HashSet<String>, key: String, body: &[u8]) -> NewPop3Checkpoint {
        NewPop3Checkpoint {
            // A message found at the destination is ours when an earlier
            // attempt had announced its copy.
            copied: intents.contains(&key),
            key,
            dest_uid: None,
            fingerprint: fingerprint::of_message(body),
            size: body.len() as u64,
        }
    }

    /// Appends a message unless the destination holds it already, and
    /// records what the server has confirmed so far.
    pub async fn deliver(
        &mut self,
        ctx: &AccountContext,
        appender: &mut Appender<'_>,
        present: &mut Present,
        row: NewPop3Checkpoint,
        request: AppendRequest,
        counts: &mut StageCounts,
    ) -> Result<(), DestError> {
        if let Some(dest_uid) = present.claim(&row.fingerprint, None) {
            self.rows.push(NewPop3Checkpoint {
                dest_uid: Some(dest_uid),
                ..row
            });
            counts.present += 1;
            return Ok(());
        }
        ctx.limits.pace(row.size).await;
        self.inflight.push_back(NewPop3Checkpoint {
            copied: true,
            ..row
        });
        let done = appender.push(request).await?;
        self.settle(ctx, done, counts).await?;
        if self.rows.len() >= CHECKPOINT_GROUP {
            ctx.store
                .record_pop3_checkpoints(self.folder_id, std::mem::take(&mut self.rows))
                .await?;
        }
        Ok(())
    }

    /// Waits for the APPENDs in flight and writes every confirmed copy;
    /// drops the intents of the messages left out. Returns how many were
    /// left out. Call it whatever happened before, so that no confirmed
    /// copy goes unrecorded.
    pub async fn close(
        mut self,
        ctx: &AccountContext,
        appender: Appender<'_>,
        counts: &mut StageCounts,
    ) -> Result<u64, DestError> {
        let done = appender.finish().await;
        let settled = self.settle(ctx, done, counts).await;
        ctx.store
            .record_pop3_checkpoints(self.folder_id, self.rows)
            .await?;
        let left_out = self.left_out.len() as u64;
        ctx.store
            .forget_pop3_intents(self.folder_id, self.left_out)
            .await?;
        settled.map(|()| left_out)
    }

    /// Turns APPEND completions into rows or item errors; a lost
    /// connection is returned after the rest are settled.
    async fn settle(
        &mut self,
        ctx: &AccountContext,
        done: Vec<Completion>,
        counts: &mut StageCounts,
    ) -> Result<(), DestError> {
        let label = &self.label;
        let item = |row: &NewPop3Checkpoint| format!("{label} {}", row.key);
        let lost = settle(ctx, done, &mut self.inflight, &mut self.rows, counts, item).await?;
        lost.map_or(Ok(()), |e| Err(DestError::Imap(e)))
    }
}

impl Confirmable for NewPop3Checkpoint {
    fn size(&self) -> u64 {
        self.size
    }

    fn confirm(&mut self, dest_uid: Option<u32>) {
        self.dest_uid = dest_uid;
    }
}

/// Whether a message dated `date` passes the manifest's date filters (an
/// undated message always does).
pub(crate) fn within_dates(date: Option<NaiveDate>, rules: &MailRules) -> bool {
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
