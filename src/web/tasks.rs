//! Actions that take long (an undo talks to the destination server for as
//! long as it has messages to remove) run in the background: the request
//! that starts one is answered at once with the task's ID, and the pages
//! and API follow it at `/api/v1/tasks/{task}` until its outcome.
//!
//! A task's ID is random: only who started it knows it. Tasks live in
//! memory; the outcome itself is in the store (the account's state and
//! undo history), so a restart loses only the message.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Shared;
use super::actions::{self, Action};
use super::guard::random_token;
use crate::store::StoreError;

/// Finished tasks remembered at most; the oldest are forgotten first.
const MAX_FINISHED: usize = 1_000;

/// A background action, as `GET /api/v1/tasks/{task}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub id: String,
    /// `undo`.
    pub action: &'static str,
    pub migration_id: String,
    pub started_at: DateTime<Utc>,
    /// Whether it is still going.
    pub running: bool,
    /// Once finished: whether it did what was asked...
    pub ok: Option<bool>,
    /// ...and what it said.
    pub message: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Every task of this server.
#[derive(Default)]
pub struct Tasks {
    tasks: Mutex<HashMap<String, Task>>,
}

impl Tasks {
    /// Starts `action` on the account `id` with source address `source`
    /// in the background: the task's ID, or `None` for a wrong pair (as
    /// for an unknown ID).
    pub async fn start(
        app: &Shared,
        action: Action,
        id: &str,
        source: &str,
    ) -> Result<Option<String>, StoreError> {
        if app.store.account_status(id, source).await?.is_none() {
            return Ok(None);
        }
        let task = Task {
            id: random_token(),
            action: action.name(),
            migration_id: id.to_owned(),
            started_at: Utc::now(),
            running: true,
            ok: None,
            message: None,
            finished_at: None,
        };
        let task_id = task.id.clone();
        app.tasks.update(|tasks| {
            tasks.insert(task.id.clone(), task);
        });
        let (app, key, id, source) = (
            app.clone(),
            task_id.clone(),
            id.to_owned(),
            source.to_owned(),
        );
        tokio::spawn(async move {
            let (ok, message) = match actions::run(&app, action, &id, &source).await {
                Ok(outcome) => (outcome.status.is_success(), outcome.text),
                Err(error) => {
                    tracing::error!("{} of {id}: {error:#}", action.name());
                    (
                        false,
                        "Internal error; nothing is lost, try again later.".into(),
                    )
                }
            };
            app.tasks.update(|tasks| {
                if let Some(task) = tasks.get_mut(&key) {
                    task.running = false;
                    task.ok = Some(ok);
                    task.message = Some(message);
                    task.finished_at = Some(Utc::now());
                }
                forget_oldest(tasks);
            });
        });
        Ok(Some(task_id))
    }

    /// The task `id` if it is one on the account `migration_id`: what a
    /// page shows of the task it was given.
    pub fn of_account(&self, id: Option<&str>, migration_id: &str) -> Option<Task> {
        self.get(id?).filter(|t| t.migration_id == migration_id)
    }

    /// The task `id`, if there is one.
    pub fn get(&self, id: &str) -> Option<Task> {
        let mut found = None;
        self.update(|tasks| found = tasks.get(id).cloned());
        found
    }

    fn update(&self, change: impl FnOnce(&mut HashMap<String, Task>)) {
        change(&mut self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Past [`MAX_FINISHED`] finished tasks, forgets the oldest.
fn forget_oldest(tasks: &mut HashMap<String, Task>) {
    let mut finished: Vec<(DateTime<Utc>, String)> = tasks
        .values()
        .filter_map(|t| t.finished_at.map(|at| (at, t.id.clone())))
        .collect();
    if finished.len() <= MAX_FINISHED {
        return;
    }
    finished.sort();
    for (_, id) in &finished[..finished.len() - MAX_FINISHED] {
        tasks.remove(id);
    }
}
