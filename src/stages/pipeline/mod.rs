//! The one copy pipeline every mail source goes through: IMAP folders
//! ([`super::mail`]), a POP3 mailbox ([`super::pop3`]) and the folders of
//! a PST file ([`super::pst`]).
//!
//! For each group of messages to copy, the pipeline records an intent in
//! the state database, reserves memory for the group, and asks the
//! [`MessageSource`] for the bodies; a writer beside it offers each body
//! to the folder's [`Ledger`] (which knows the source's checkpoints and
//! what the destination already holds), appends what is new with
//! pipelined APPENDs, and writes the checkpoints of the confirmed copies
//! in groups. A stop ends both halves at the next message; what the
//! server confirmed is recorded whatever happened. A pass's watermark is
//! saved through [`save_watermark`], once every listed message is recorded.
//!
//! The crash edges are named ([`fail`]): a crash test makes the process
//! exit right after an intent, after an APPEND is sent, or after a
//! watermark.
//!
//! Every pass fails with one [`PassError`], retried through
//! [`retry`](crate::stages::context::retry) when [`retryable`] says so.

mod copy;
pub mod fail;

use crate::protocols::imap::ImapError;
use crate::protocols::pop3::Pop3Error;
use crate::protocols::pst::PstError;
use crate::stages::context::AccountContext;
use crate::stages::context::retry::{Attempt, retrying};
use crate::store::StoreError;
use crate::store::mail::Watermark;
use crate::vocabulary::CredentialError;

pub(crate) use copy::{Delivery, Ledger, MessageSource, copy, fetch_groups};

/// Checkpoints are written in groups of this many.
pub(crate) const CHECKPOINT_GROUP: usize = 256;
/// Messages fetched from the source per request, at most.
pub(crate) const FETCH_GROUP: usize = 200;
/// Bytes fetched from the source per request, at most (a larger message
/// is fetched alone).
pub(crate) const FETCH_GROUP_BYTES: u64 = 4 * 1024 * 1024;
/// APPEND commands in flight at once on the destination connection.
pub(crate) const APPEND_WINDOW: usize = 32;
/// Messages between the source reader and the destination writer.
pub(crate) const QUEUE_DEPTH: usize = 16;
/// How often, and how many times at most, a folder is checked for APPENDs
/// still landing from an interrupted attempt.
pub(crate) const SETTLE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(300);
pub(crate) const SETTLE_POLLS: usize = 30;

/// What failed at the source of a pass.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An IMAP source.
    #[error(transparent)]
    Imap(#[from] ImapError),
    /// A POP3 source.
    #[error(transparent)]
    Pop3(#[from] Pop3Error),
    /// An Outlook file.
    #[error(transparent)]
    Pst(#[from] PstError),
}

impl SourceError {
    /// Whether another attempt may succeed: a PST file stays as damaged
    /// as it was.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Imap(e) => e.is_retryable(),
            SourceError::Pop3(e) => e.is_retryable(),
            SourceError::Pst(_) => false,
        }
    }
}

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// The source failed.
    #[error("Source: {0}")]
    Source(SourceError),
    /// The destination failed.
    #[error("Destination: {0}")]
    Destination(ImapError),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The process is stopping: what was copied is recorded, the folder is
    /// not complete and keeps no watermark.
    #[error("Stopped before the folder was complete")]
    Interrupted,
}

impl PassError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            PassError::Source(e) => e.is_retryable(),
            PassError::Destination(e) => e.is_retryable(),
            PassError::Store(_) | PassError::Interrupted => false,
        }
    }
}

/// A failure at the source.
pub(crate) fn source(error: impl Into<SourceError>) -> PassError {
    PassError::Source(error.into())
}

/// A failure at the destination.
pub(crate) fn dest(error: ImapError) -> PassError {
    PassError::Destination(error)
}

/// Whether an error is worth another attempt: a pass's transient failure,
/// a connection that could not be opened for a transient reason, or a
/// credential that could not be had for one (a token endpoint that did not
/// answer, a token command that failed).
fn retryable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<PassError>()
            .is_some_and(PassError::is_retryable)
            || cause
                .downcast_ref::<ImapError>()
                .is_some_and(ImapError::is_retryable)
            || cause
                .downcast_ref::<Pop3Error>()
                .is_some_and(Pop3Error::is_retryable)
            || cause
                .downcast_ref::<CredentialError>()
                .is_some_and(CredentialError::is_retryable)
    })
}

/// Whether a pass stopped because the process is stopping.
fn interrupted(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| matches!(cause.downcast_ref(), Some(PassError::Interrupted)))
}

/// Runs `attempt` through [`retrying`] with [`retryable`], `label` naming
/// what is retried in the log. A pass that stopped because the process is
/// stopping ends with `Ok`: what it copied is in its checkpoints and in
/// `state`.
pub(crate) async fn retry<S: Send>(
    ctx: &AccountContext,
    label: &str,
    state: &mut S,
    attempt: Attempt<S>,
) -> anyhow::Result<()> {
    match retrying(ctx, label, retryable, state, attempt).await {
        Err(error) if interrupted(&error) => Ok(()),
        other => other,
    }
}

/// Saves a folder's watermark: every message the pass listed is recorded.
pub(crate) async fn save_watermark(
    ctx: &AccountContext,
    folder_id: i64,
    mark: Watermark,
) -> Result<(), StoreError> {
    ctx.store.save_watermark(folder_id, mark).await?;
    fail::at(fail::Point::AfterWatermark);
    Ok(())
}
