//! Cancel, resume, undo and retry of one account, for the pages and the
//! API alike: the library calls the CLI's `cancel`, `resume` and `undo`
//! make, and a retry handed to the daemon ([`crate::daemon::retry`]),
//! with their outcomes in words.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use tokio::sync::oneshot;

use super::App;
use crate::daemon::retry::Retry;
use crate::store::status::CancelOutcome;
use crate::undo::run::{self, AccountUndo};
use crate::vocabulary::AccountState;

/// What a user may ask of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop at the next checkpoint, skip the remaining stages.
    Cancel,
    /// Lift a cancel (admins only).
    Resume,
    /// Put the destination back as it was.
    Undo,
    /// Run a failed account again (admins only, through the daemon).
    Retry,
}

impl Action {
    /// The name of its path segment.
    pub fn name(self) -> &'static str {
        match self {
            Action::Cancel => "cancel",
            Action::Resume => "resume",
            Action::Undo => "undo",
            Action::Retry => "retry",
        }
    }

    /// The action a path segment names.
    pub fn parse(name: &str) -> Option<Action> {
        match name {
            "cancel" => Some(Action::Cancel),
            "resume" => Some(Action::Resume),
            "undo" => Some(Action::Undo),
            "retry" => Some(Action::Retry),
            _ => None,
        }
    }
}

/// How an action ended: an HTTP status and a sentence.
pub struct Outcome {
    pub status: StatusCode,
    pub text: String,
    /// Whether the ID and address matched no account.
    pub not_found: bool,
}

impl Outcome {
    fn ok(text: impl Into<String>) -> Outcome {
        Outcome {
            status: StatusCode::OK,
            text: text.into(),
            not_found: false,
        }
    }

    fn refused(text: impl Into<String>) -> Outcome {
        Outcome {
            status: StatusCode::CONFLICT,
            text: text.into(),
            not_found: false,
        }
    }

    fn not_found() -> Outcome {
        Outcome {
            status: StatusCode::NOT_FOUND,
            text: String::new(),
            not_found: true,
        }
    }
}

/// Runs `action` on the account `id` with source address `source`.
pub async fn run(app: &App, action: Action, id: &str, source: &str) -> anyhow::Result<Outcome> {
    Ok(match action {
        Action::Cancel => match app.store.request_cancel(id, source).await? {
            CancelOutcome::NotFound => Outcome::not_found(),
            CancelOutcome::Requested => Outcome::ok(format!(
                "Cancel requested for {id}: copying stops at the next checkpoint, the remaining \
                 stages are skipped, and what was migrated is kept."
            )),
            CancelOutcome::AlreadyFinished => {
                Outcome::refused(format!("{id} has already finished; nothing to cancel."))
            }
        },
        Action::Resume => match app.store.lift_cancel(id, source).await? {
            None => Outcome::not_found(),
            Some(true) => Outcome::ok(format!(
                "Cancel lifted for {id}: the next run of its batch (or the daemon) carries on \
                 from where it stopped."
            )),
            Some(false) => Outcome::refused(format!("{id} was not cancelled; nothing to lift.")),
        },
        Action::Undo => undo(app, id, source).await?,
        Action::Retry => {
            let mut outcomes = retry(app, &[(id.to_owned(), source.to_owned())]).await?;
            outcomes.pop().unwrap_or_else(Outcome::not_found)
        }
    })
}

/// Retries the accounts named by migration ID and source address: the
/// failed ones of each batch are handed to the daemon at once, so that
/// it runs the batch once for them; without the daemon, those of batches
/// that workers run are queued for them again. One outcome per account,
/// in order.
pub async fn retry(app: &App, accounts: &[(String, String)]) -> anyhow::Result<Vec<Outcome>> {
    let mut outcomes = Vec::with_capacity(accounts.len());
    // Per batch: the accounts to run again, and their places in `outcomes`.
    let mut batches: BTreeMap<String, Vec<Chosen>> = BTreeMap::new();
    for (id, source) in accounts {
        let Some(account) = app.store.account_status(id, source).await? else {
            outcomes.push(Outcome::not_found());
            continue;
        };
        // Without the daemon, a batch that workers run can still retry:
        // queued again, the account goes to the next worker free.
        let for_workers = app.retries.is_none()
            && app
                .store
                .queued_batch_named(&account.batch)
                .await?
                .is_some();
        if app.retries.is_none() && !for_workers {
            outcomes.push(Outcome::refused(
                "Retry needs the daemon: this server runs without it. Serve the pages from \
                 `mailshift watch --serve`, run the batch's manifest again with `mailshift run`, \
                 or queue it for workers with `mailshift run --queue`.",
            ));
            continue;
        }
        if !matches!(
            account.state,
            AccountState::Failed | AccountState::CompletedWithErrors
        ) {
            outcomes.push(Outcome::refused(format!(
                "{id} is {}; only an account that failed, or lost items, can be retried.",
                account.state
            )));
            continue;
        }
        if app.retries.is_none() {
            outcomes.push(if app.store.requeue_account(id).await? {
                Outcome {
                    status: StatusCode::ACCEPTED,
                    text: format!(
                        "{id} is queued again: a worker runs it from its batch's manifest, \
                         carrying on from where it stopped."
                    ),
                    not_found: false,
                }
            } else {
                Outcome::refused(format!("{id} is held by a worker; retry once it ends."))
            });
            continue;
        }
        batches.entry(account.batch).or_default().push(Chosen {
            at: outcomes.len(),
            id: account.migration_id,
            pair: (account.source, account.destination),
        });
        outcomes.push(Outcome::not_found());
    }
    let Some(retries) = &app.retries else {
        return Ok(outcomes);
    };
    for (batch, chosen) in batches {
        let (answer, answered) = oneshot::channel();
        let retry = Retry {
            batch,
            accounts: chosen.iter().map(|c| c.pair.clone()).collect(),
            answer,
        };
        let said = match retries.send(retry).await {
            Ok(()) => answered.await.unwrap_or_else(|_| Err(STOPPED.to_owned())),
            Err(_) => Err(STOPPED.to_owned()),
        };
        for Chosen { at, id, .. } in chosen {
            outcomes[at] = match &said {
                Ok(()) => Outcome {
                    status: StatusCode::ACCEPTED,
                    text: format!(
                        "{id} is queued again: the daemon runs it from its batch's manifest, \
                         carrying on from where it stopped."
                    ),
                    not_found: false,
                },
                Err(why) => Outcome::refused(why.clone()),
            };
        }
    }
    Ok(outcomes)
}

/// An account to retry: its place among the outcomes, its migration ID,
/// its source and destination addresses.
struct Chosen {
    at: usize,
    id: String,
    pair: (String, String),
}

/// Why a retry was not taken when the daemon is gone.
const STOPPED: &str = "The daemon is stopping; retry once it runs again.";

async fn undo(app: &App, id: &str, source: &str) -> anyhow::Result<Outcome> {
    Ok(
        match run::account(&app.store, id, source, None, &app.reports).await? {
            AccountUndo::NotFound => Outcome::not_found(),
            AccountUndo::AlreadyUndone => Outcome::refused(format!("{id} was already undone.")),
            AccountUndo::NotFinished(state) => Outcome::refused(format!(
                "{id} is {state}; undo is possible once it has finished (cancel it first)."
            )),
            AccountUndo::NoManifest | AccountUndo::InvalidManifest(..) => {
                Outcome::refused(format!(
                    "The manifest {id} ran from cannot be read, and it holds the destination's \
                     credential: an administrator can undo it with `mailshift undo`."
                ))
            }
            AccountUndo::Unresolved(why) | AccountUndo::TooLate(why) => Outcome::refused(why),
            AccountUndo::Undone(manifest, outcome) => {
                let (removed, left) = outcome.summary(&manifest.destination.email);
                let mut text = format!("{id} undone: {}", removed.join("; "));
                if !left.is_empty() {
                    text.push_str(&format!(". Not undone: {}", left.join("; ")));
                }
                Outcome::ok(text)
            }
            AccountUndo::Failed(error) => {
                tracing::warn!("undo of {id} failed: {error:#}");
                Outcome {
                    status: StatusCode::BAD_GATEWAY,
                    text: format!(
                        "The undo of {id} failed: {error:#}. Nothing is lost; try again later."
                    ),
                    not_found: false,
                }
            }
        },
    )
}
