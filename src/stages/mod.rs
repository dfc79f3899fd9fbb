//! Stages: one module per option of the seed's list. Each turns an account
//! plan into protocol calls and store records, checkpointing every item.
//!
//! - [`mail`]: folders and messages over IMAP.

pub mod mail;

use crate::engine::AccountContext;
use crate::plan::StageKind;
use crate::store::StoreError;
use crate::store::batches::StageCounts;

/// A stage that could not finish, with what it did before it stopped.
#[derive(Debug)]
pub struct StageFailure {
    pub error: anyhow::Error,
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

/// Runs one stage for one account.
pub async fn run(kind: StageKind, ctx: &AccountContext) -> Result<StageCounts, StageFailure> {
    match kind {
        StageKind::Mail => mail::run(ctx).await,
        other => Err(StageFailure {
            error: anyhow::anyhow!("The {other} option is not available yet for this source"),
            counts: StageCounts::default(),
        }),
    }
}
