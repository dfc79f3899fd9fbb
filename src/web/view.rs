//! What the pages and the API show of an account: the status the store
//! reads, in words, with what its owner may do now. Nothing here is a
//! secret: the store's status holds addresses, counts and reasons only.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::i18n::Lang;
use super::rate::Rates;
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Until when Undo is allowed (once the account has finished).
    pub undo_until: Option<DateTime<Utc>>,
    /// The same times, as the pages show them.
    pub shown: ShownTimes,
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

/// An account's times for people: `2026-12-06 05:47 UTC`.
#[derive(Debug, Serialize)]
pub struct ShownTimes {
    pub created_at: String,
    pub updated_at: String,
    pub undo_until: Option<String>,
}

/// One stage: items done out of the items found.
#[derive(Debug, Serialize)]
pub struct StageView {
    pub kind: String,
    pub state: StageState,
    /// Items dealt with: copied, already there, left out or failed.
    pub done: u64,
    /// Items found at the source; `None` while a running mail stage has
    /// not counted its source yet.
    pub total: Option<u64>,
    pub percent: Option<u64>,
    pub copied: u64,
    pub failed: u64,
    /// Items per second lately, while the stage runs and once known.
    pub rate: Option<f64>,
    /// Seconds left at that rate.
    pub eta_seconds: Option<u64>,
    /// The rate and the time left as the pages show them (`12.5/s`,
    /// `3 min 20 s`), or `…`.
    pub shown_rate: String,
    pub shown_eta: String,
}

/// What a running mail stage's checkpoints say now, and how fast they
/// came lately.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live {
    pub progress: MailProgress,
    pub rate: Option<f64>,
}

/// Errors shown on the page; the report has them all.
const MAX_ERRORS: usize = 50;

fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `200 s` as `3 min 20 s`.
fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

impl StageView {
    fn of(stage: &StageStatus, live: Option<Live>) -> StageView {
        let running = stage.state == StageState::Running;
        let (done, total, rate) = match live {
            // A running mail stage: its checkpoints so far, out of what
            // this pass counted at the source (or, until it has, what the
            // last pass found).
            Some(live) if stage.kind == "mail" && running => {
                let done = live.progress.done;
                let known = stage
                    .pass_total
                    .or((stage.found > 0).then_some(stage.found));
                (done, known.map(|t| t.max(done)), live.rate)
            }
            _ => (
                (stage.copied + stage.present + stage.skipped + stage.failed).min(stage.found),
                Some(stage.found),
                None,
            ),
        };
        let eta_seconds = match (total, rate) {
            (Some(total), Some(rate)) if rate > 0.0 => {
                Some(((total - done) as f64 / rate).ceil() as u64)
            }
            (Some(total), _) if total == done && running => Some(0),
            _ => None,
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
            rate,
            eta_seconds,
            shown_rate: rate.map_or("…".to_owned(), |r| format!("{r:.1}/s")),
            shown_eta: eta_seconds.map_or("…".to_owned(), duration),
        }
    }
}

impl MigrationView {
    /// The view of the account `id` with source address `source`, read
    /// from `store` now; `None` for a wrong pair or an unknown ID.
    /// The rate of a running mail stage is sampled into `rates`.
    pub async fn read(
        store: &Store,
        rates: &Rates,
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
            .find(|s| s.kind == "mail" && s.state == StageState::Running);
        let live = match running_mail {
            Some(stage) => {
                let progress = store.mail_progress(account.key).await?;
                let rate = rates
                    .observe(account.key, &stage.kind, progress.done)
                    .or_else(|| first_pass_rate(stage, progress.done, Utc::now()));
                Some(Live { progress, rate })
            }
            None => None,
        };
        let view = MigrationView::of(&account, live, lang, Utc::now());
        Ok(Some((account, view)))
    }

    /// The view of `account` in `lang`, as of `now`, with the mail
    /// checkpoints of a running mail stage.
    pub fn of(
        account: &AccountStatus,
        live: Option<Live>,
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
            created_at: account.created_at,
            updated_at: account.updated_at,
            finished_at: account.finished_at,
            undo_until: account.undo_until,
            shown: ShownTimes {
                created_at: when(&account.created_at),
                updated_at: when(&account.updated_at),
                undo_until: account.undo_until.as_ref().map(when),
            },
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

/// Until the samples span enough time: for a first pass (nothing counted
/// before it), what it did since it started.
fn first_pass_rate(stage: &StageStatus, done: u64, now: DateTime<Utc>) -> Option<f64> {
    let first = stage.found + stage.copied + stage.present == 0;
    let secs = (now - stage.started_at?).num_milliseconds() as f64 / 1000.0;
    (first && secs >= 2.0).then(|| done as f64 / secs)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::store::status::UndoRecord;

    fn account(state: AccountState, undo_until: Option<DateTime<Utc>>) -> AccountStatus {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        AccountStatus {
            key: 1,
            migration_id: "ABCD-EFGH-JKMN".into(),
            batch_id: "B".into(),
            batch: "batch".into(),
            manifest: None,
            batch_key: 1,
            source: "ana@old.example".into(),
            destination: "ana@new.example".into(),
            source_server: None,
            destination_server: None,
            state,
            stage: None,
            created_at: at,
            updated_at: at,
            finished_at: undo_until.map(|u| u - Duration::hours(48)),
            undo_until,
            error: None,
            cancel_requested: false,
            stages: vec![StageStatus {
                kind: "mail".into(),
                state: StageState::Running,
                found: 10,
                copied: 4,
                present: 1,
                skipped: 0,
                failed: 0,
                bytes: 0,
                started_at: Some(at),
                finished_at: None,
                altered: 0,
                label_copies_avoided: 0,
                label_mode: None,
                pass_total: None,
            }],
            folders: Vec::new(),
            item_errors: Vec::new(),
            history: Vec::<UndoRecord>::new(),
        }
    }

    #[test]
    fn undo_is_offered_only_inside_the_window_of_a_finished_account() {
        let now = Utc::now();
        let inside = account(AccountState::Completed, Some(now + Duration::hours(1)));
        let view = MigrationView::of(&inside, None, Lang::En, now);
        assert!(view.can_undo && !view.can_cancel && !view.active);
        let late = account(AccountState::Completed, Some(now - Duration::hours(1)));
        assert!(!MigrationView::of(&late, None, Lang::En, now).can_undo);
        let running = account(AccountState::Running, None);
        let view = MigrationView::of(&running, None, Lang::Es, now);
        assert!(!view.can_undo && view.can_cancel && view.active);
        assert_eq!(view.state_label, "en curso");
        let undone = account(AccountState::Undone, Some(now + Duration::hours(1)));
        assert!(!MigrationView::of(&undone, None, Lang::En, now).can_undo);
    }

    #[test]
    fn a_running_mail_stage_counts_its_checkpoints() {
        let now = Utc::now();
        let running = account(AccountState::Running, None);
        let stage = &MigrationView::of(&running, None, Lang::En, now).stages[0];
        assert_eq!(
            (stage.done, stage.total, stage.percent),
            (5, Some(10), Some(50))
        );
        let live = Some(Live {
            progress: MailProgress { done: 7 },
            rate: Some(1.5),
        });
        let stage = &MigrationView::of(&running, live, Lang::En, now).stages[0];
        assert_eq!(
            (stage.done, stage.total, stage.percent),
            (7, Some(10), Some(70))
        );
        assert_eq!(
            (stage.eta_seconds, stage.shown_eta.as_str()),
            (Some(2), "2 s")
        );
        assert_eq!(stage.shown_rate, "1.5/s");
        let mut first_pass = running.clone();
        first_pass.stages[0].found = 0;
        let stage = &MigrationView::of(&first_pass, live, Lang::En, now).stages[0];
        assert_eq!((stage.done, stage.total, stage.percent), (7, None, None));
        assert_eq!((stage.eta_seconds, stage.shown_eta.as_str()), (None, "…"));
        // Once the pass has counted its source, that is the total.
        first_pass.stages[0].pass_total = Some(1000);
        let stage = &MigrationView::of(&first_pass, live, Lang::En, now).stages[0];
        assert_eq!((stage.total, stage.percent), (Some(1000), Some(0)));
        assert_eq!(stage.shown_eta, "11 min 2 s");
    }
}
