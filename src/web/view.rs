//! What the pages and the API show of an account: the status the store
//! reads, in words, with what its owner may do now. Nothing here is a
//! secret: the store's status holds addresses, counts and reasons only.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::i18n::Lang;
use crate::store::Store;
use crate::store::StoreError;
use crate::store::status::{AccountStatus, MailProgress, StageStatus};
use crate::vocabulary::{AccountState, StageState};

/// One account, as the end user's page and `GET /api/v1/migrations/{id}`
/// show it.
#[derive(Debug, Serialize)]
pub struct MigrationView {
    pub migration_id: String,
    pub source: String,
    pub destination: String,
    pub state: AccountState,
    /// The state in the reader's language.
    pub state_label: &'static str,
    pub stage: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub undo_until: Option<String>,
    pub cancel_requested: bool,
    /// Whether Cancel is offered: the account has not finished and no
    /// cancel is pending.
    pub can_cancel: bool,
    /// Whether Undo is offered: finished, not undone, inside the window.
    pub can_undo: bool,
    /// Whether the account is still moving (the page keeps polling).
    pub active: bool,
    pub stages: Vec<StageView>,
    /// The account's error, then its items' errors, in plain words.
    pub errors: Vec<String>,
    /// What the last undo removed and left, a line each.
    pub undone: Vec<String>,
}

/// One stage: items done out of the items found.
#[derive(Debug, Serialize)]
pub struct StageView {
    pub kind: String,
    pub state: StageState,
    /// Items dealt with: copied, already there, left out or failed.
    pub done: u64,
    /// Items found at the source.
    /// Items found at the source; `None` while a running mail stage has
    /// not counted its source yet.
    pub total: Option<u64>,
    pub percent: Option<u64>,
    pub copied: u64,
    pub failed: u64,
}

/// Errors shown on the page; the report has them all.
const MAX_ERRORS: usize = 50;

fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl StageView {
    fn of(stage: &StageStatus, live: Option<MailProgress>) -> StageView {
        let (done, total) = match live {
            // A running mail stage: its checkpoints so far, out of what the
            // last pass found (a first pass has not counted the source).
            Some(live) if stage.kind == "mail" && stage.state == StageState::Running => (
                live.done,
                (stage.found > 0).then(|| stage.found.max(live.done)),
            ),
            _ => (
                (stage.copied + stage.present + stage.skipped + stage.failed).min(stage.found),
                Some(stage.found),
            ),
        };
        let finished = stage.state == StageState::Done;
        let percent = match total {
            Some(0) if finished => Some(100),
            Some(0) | None => None,
            Some(total) => Some(done * 100 / total),
        };
        StageView {
            kind: stage.kind.clone(),
            state: stage.state,
            done,
            total,
            percent,
            copied: stage.copied,
            failed: stage.failed,
        }
    }
}

impl MigrationView {
    /// The view of the account `id` with source address `source`, read
    /// from `store` now; `None` for a wrong pair or an unknown ID.
    pub async fn read(
        store: &Store,
        id: &str,
        source: &str,
        lang: Lang,
    ) -> Result<Option<(AccountStatus, MigrationView)>, StoreError> {
        let Some(account) = store.account_status(id, source).await? else {
            return Ok(None);
        };
        let running_mail = account
            .stages
            .iter()
            .any(|s| s.kind == "mail" && s.state == StageState::Running);
        let live = match running_mail {
            true => Some(store.mail_progress(account.key).await?),
            false => None,
        };
        let view = MigrationView::of(&account, live, lang, Utc::now());
        Ok(Some((account, view)))
    }

    /// The view of `account` in `lang`, as of `now`, with the mail
    /// checkpoints of a running mail stage.
    pub fn of(
        account: &AccountStatus,
        live: Option<MailProgress>,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> MigrationView {
        use AccountState::*;
        let state = account.state;
        let finished = matches!(
            state,
            Completed | CompletedWithErrors | Failed | Cancelled | Interrupted
        );
        let mut errors: Vec<String> = account.error.iter().cloned().collect();
        errors.extend(
            account
                .item_errors
                .iter()
                .take(MAX_ERRORS)
                .map(|e| format!("{} · {}: {}", e.stage, e.item, e.reason)),
        );
        MigrationView {
            migration_id: account.migration_id.clone(),
            source: account.source.clone(),
            destination: account.destination.clone(),
            state,
            state_label: lang.state(state),
            stage: account.stage.clone(),
            created_at: when(&account.created_at),
            updated_at: when(&account.updated_at),
            finished_at: account.finished_at.as_ref().map(when),
            undo_until: account.undo_until.as_ref().map(when),
            cancel_requested: account.cancel_requested,
            can_cancel: matches!(state, Scheduled | Queued | Running) && !account.cancel_requested,
            can_undo: finished && account.undo_until.is_some_and(|until| now < until),
            active: state.is_active() || state == Scheduled,
            stages: account
                .stages
                .iter()
                .map(|s| StageView::of(s, live))
                .collect(),
            errors,
            undone: account
                .history
                .last()
                .map(|u| u.removed.iter().chain(&u.left).cloned().collect())
                .unwrap_or_default(),
        }
    }
}
