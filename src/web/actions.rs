//! Cancel, resume and undo of one account, for the pages and the API
//! alike: the library calls the CLI's `cancel`, `resume` and `undo` make,
//! with their outcomes in words.

use axum::http::StatusCode;

use super::App;
use crate::store::status::CancelOutcome;
use crate::undo::run::{self, AccountUndo};

/// What a user may ask of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop at the next checkpoint, skip the remaining stages.
    Cancel,
    /// Lift a cancel (admins only).
    Resume,
    /// Put the destination back as it was.
    Undo,
}

impl Action {
    /// The name of its path segment.
    pub fn name(self) -> &'static str {
        match self {
            Action::Cancel => "cancel",
            Action::Resume => "resume",
            Action::Undo => "undo",
        }
    }

    /// The action a path segment names.
    pub fn parse(name: &str) -> Option<Action> {
        match name {
            "cancel" => Some(Action::Cancel),
            "resume" => Some(Action::Resume),
            "undo" => Some(Action::Undo),
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
    })
}

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
