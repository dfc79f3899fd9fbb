//! Stages: one module per option of the seed's list. Each turns an account
//! plan into protocol calls and store records, checkpointing every item.
//!
//! - [`mail`]: folders and messages over IMAP.
//! - [`pop3`]: the mail option for a POP3 source, into the destination's INBOX.
//! - [`pst`]: the mail option for an Outlook PST file source.
//! - [`keyed`]: what [`pop3`] and [`pst`] share: mail checkpointed by a
//!   text key (UIDL, node ID) instead of an IMAP UID.
//! - [`pipeline`]: the one copy pipeline of [`mail`], [`pop3`] and [`pst`]
//!   (intent, memory, fetch, APPEND, checkpoint, watermark), its errors,
//!   retries and named fail points.
//! - [`rules`]: Sieve scripts and out-of-office replies over ManageSieve
//!   (the `rules` and `auto_replies` options).
//! - [`contacts`]: address books and vCards over CardDAV (the `contacts`
//!   and `contact_groups` options).
//! - [`calendars`]: calendars, events and to-dos over CalDAV (the
//!   `calendars` and `tasks` options), re-created without invitations.
//! - [`context`]: what every stage is given: the account, the store, the
//!   limits, the retry policy, progress counters and stop tokens.
//! - [`dav`]: what the WebDAV stages share (home discovery, collections,
//!   per-item checkpoints).
//! - [`files`]: iCalendar, vCard and PST files read as the source of the
//!   WebDAV stages.

pub mod calendars;
pub mod contacts;
pub mod context;
pub mod dav;
pub mod files;
pub mod keyed;
pub mod mail;
pub mod pipeline;
pub mod pop3;
pub mod pst;
pub mod rules;

use crate::plan::{EndpointKind, StageKind};
use crate::stages::context::AccountContext;
use crate::store::StoreError;
use crate::store::batches::StageCounts;

/// A stage that could not finish, with what it did before it stopped.
#[derive(Debug)]
pub struct StageFailure {
    /// Why it stopped.
    pub error: anyhow::Error,
    /// What it did before.
    pub counts: StageCounts,
}

impl From<StoreError> for StageFailure {
    fn from(error: StoreError) -> Self {
        StageFailure {
            error: error.into(),
            counts: StageCounts::default(),
        }
    }
}

/// A stage's counts, or its failure when more items (`noun`: "messages",
/// "scripts"...) failed than the account's error budget allows.
pub fn within_budget(
    ctx: &AccountContext,
    counts: StageCounts,
    noun: &str,
) -> Result<StageCounts, StageFailure> {
    if counts.failed > u64::from(ctx.plan.error_budget) {
        return Err(StageFailure {
            error: anyhow::anyhow!(
                "{} {noun} failed, more than the error budget of {}",
                counts.failed,
                ctx.plan.error_budget
            ),
            counts,
        });
    }
    Ok(counts)
}

/// Records that one item of a stage failed, with the reason the report
/// and `status` show, and logs it. A failure to record is logged too: it
/// never stops the stage.
pub async fn item_note(ctx: &AccountContext, kind: StageKind, item: &str, reason: String) {
    if let Err(error) = ctx
        .store
        .record_item_error(ctx.account.id, kind, item.to_owned(), reason.clone())
        .await
    {
        tracing::error!("cannot record {item}: {error}");
    }
    tracing::warn!(account = %ctx.plan.source.email, "{item}: {reason}");
}

/// Runs one stage for one account.
pub async fn run(kind: StageKind, ctx: &AccountContext) -> Result<StageCounts, StageFailure> {
    match kind {
        StageKind::Mail if ctx.plan.source.kind == EndpointKind::Pop3 => pop3::run(ctx).await,
        StageKind::Mail if ctx.plan.source.kind == EndpointKind::Pst => pst::run(ctx).await,
        StageKind::Mail => mail::run(ctx).await,
        StageKind::Rules => rules::run(ctx).await,
        StageKind::AutoReplies => rules::run_auto_replies(ctx).await,
        StageKind::Contacts | StageKind::ContactGroups => contacts::run(ctx, kind).await,
        StageKind::Calendars | StageKind::Tasks => calendars::run(ctx, kind).await,
    }
}
