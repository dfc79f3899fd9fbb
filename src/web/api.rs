//! `/api/v1`: JSON for the pages and for scripts (`docs/api.md`).
//!
//! Errors are `{"error": "..."}` with the HTTP status that says which:
//! 404 for an unknown ID or a wrong pair (the same answer), 429 when a
//! client looks up too much, 403 for a POST without its CSRF token, 401
//! for an admin call without login.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::actions::{self, Action};
use super::guard::{self, Admin, Client};
use super::i18n::Lang;
use super::listing::{BatchLine, Listing, Query as ListQuery};
use super::tasks::Tasks;
use super::view::MigrationView;
use super::{App, Shared};
use super::{pst, upload};
use crate::store::status::AccountLine;

/// The `source` of a lookup or an action.
#[derive(Debug, Deserialize)]
pub struct Source {
    #[serde(default)]
    pub source: String,
}

pub(super) fn error(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "error": text }))).into_response()
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no migration with this ID and source address",
    )
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!("API: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

/// `GET /api/v1/csrf`: a CSRF token (and its cookie) for a script's POSTs.
pub async fn csrf(headers: HeaderMap) -> Response {
    let (token, set) = guard::csrf_token(&headers);
    let mut response = Json(json!({ "csrf": token })).into_response();
    if let Some(set) = set {
        response.headers_mut().append(SET_COOKIE, set);
    }
    response
}

/// `GET /api/v1/migrations/{id}?source=EMAIL`: one account.
pub async fn migration(
    State(app): State<Shared>,
    Client(client): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(source): Query<Source>,
) -> Response {
    if !app.lookups.allow(client) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many lookups: wait a minute",
        );
    }
    let lang = Lang::of(&headers);
    match MigrationView::read(
        &app.store,
        &app.rates,
        id.trim(),
        source.source.trim(),
        lang,
    )
    .await
    {
        Ok(Some((_, view))) => Json(view).into_response(),
        Ok(None) => not_found(),
        Err(e) => internal(&e),
    }
}

/// `POST /api/v1/migrations/{id}/{cancel|undo|resume|retry}` with
/// `{"source": EMAIL}`; resume and retry are for admins. An undo starts in the
/// background: 202 with its task.
pub async fn act(
    State(app): State<Shared>,
    Client(client): Client,
    Admin(admin): Admin,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Json(body): Json<Source>,
) -> Response {
    // A bearer token cannot be forged across sites; a cookie can.
    if !guard::csrf_ok(&headers, None) && !app.admin.is_bearer(&headers) {
        return error(StatusCode::FORBIDDEN, "missing or wrong CSRF token");
    }
    let action = match Action::parse(&action) {
        Some(action @ (Action::Resume | Action::Retry)) if !admin => {
            return error(
                StatusCode::UNAUTHORIZED,
                &format!("{} is for administrators", action.name()),
            );
        }
        Some(action) => action,
        None => return error(StatusCode::NOT_FOUND, "no such action"),
    };
    if !admin && !app.lookups.allow(client) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many lookups: wait a minute",
        );
    }
    let (id, source) = (id.trim(), body.source.trim());
    if action != Action::Undo {
        return answer(&app, action, id, source).await;
    }
    match Tasks::start(&app, action, id, source).await {
        Ok(Some(task)) => started(&task),
        Ok(None) => not_found(),
        Err(e) => internal(&e),
    }
}

/// `202 Accepted` for a task started, with where to follow it.
fn started(task: &str) -> Response {
    let follow = format!("/api/v1/tasks/{task}");
    (
        StatusCode::ACCEPTED,
        [(LOCATION, follow.clone())],
        Json(json!({ "task": task, "follow": follow })),
    )
        .into_response()
}

/// `GET /api/v1/tasks/{task}`: a background action and, once it ended,
/// its outcome.
pub async fn task(State(app): State<Shared>, Path(task): Path<String>) -> Response {
    match app.tasks.get(&task) {
        Some(task) => Json(task).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such task"),
    }
}

/// The JSON answer to an action.
pub async fn answer(app: &App, action: Action, id: &str, source: &str) -> Response {
    match actions::run(app, action, id, source).await {
        Ok(outcome) if outcome.not_found => not_found(),
        Ok(outcome) if outcome.status.is_success() => (
            outcome.status,
            Json(json!({ "ok": true, "message": outcome.text })),
        )
            .into_response(),
        Ok(outcome) => error(outcome.status, &outcome.text),
        Err(e) => internal(&format!("{e:#}")),
    }
}

/// `GET /api/v1/batches` (admin): every batch with its totals.
pub async fn batches(State(app): State<Shared>) -> Response {
    match app.store.batches(None).await {
        Ok(batches) => Json(json!({
            "batches": batches.iter().map(BatchLine::of).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => internal(&e),
    }
}

/// The name of an uploaded manifest.
#[derive(Debug, Deserialize)]
pub struct UploadName {
    #[serde(default)]
    pub name: String,
}

/// `POST /api/v1/batches?name=FILE` (admin), the manifest as the body:
/// checked as `validate` checks it; a valid one is dropped into the
/// watched folder and runs as a dropped file does.
pub async fn upload(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(name): Query<UploadName>,
    body: axum::body::Bytes,
) -> Response {
    if !guard::csrf_ok(&headers, None) && !app.admin.is_bearer(&headers) {
        return error(StatusCode::FORBIDDEN, "missing or wrong CSRF token");
    }
    let inbox = app.inbox.clone();
    let received = tokio::task::spawn_blocking(move || {
        upload::receive(inbox.as_deref(), name.name.trim(), &body)
    })
    .await;
    match received {
        Ok(upload) => (upload.status(), Json(upload)).into_response(),
        Err(e) => internal(&e),
    }
}

/// `POST /api/v1/pst` (admin), a multipart form: the PST file (`file`)
/// and its destination (`host`, `port`, `tls`, `email`, `user`,
/// `password`). The file is kept in the watched folder's private `.pst/`
/// folder and imported as a dropped PST manifest would be; the answer
/// gives the migration ID once the daemon has registered the batch.
pub async fn pst(
    State(app): State<Shared>,
    headers: HeaderMap,
    form: axum::extract::Multipart,
) -> Response {
    if !guard::csrf_ok(&headers, None) && !app.admin.is_bearer(&headers) {
        return error(StatusCode::FORBIDDEN, "missing or wrong CSRF token");
    }
    let import = pst::receive(&app, form).await;
    (import.status(), Json(import)).into_response()
}

/// `GET /api/v1/batches/{id}/accounts?state=&q=&sort=&page=&per_page=`
/// (admin): one page of a batch's accounts.
pub async fn accounts(
    State(app): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    match app.store.batches(Some(id)).await {
        Ok(batches) => match batches.into_iter().next() {
            Some(batch) => Json(Listing::of(batch, &query)).into_response(),
            None => error(StatusCode::NOT_FOUND, "no such batch"),
        },
        Err(e) => internal(&e),
    }
}

/// The body of an action on a selection of a batch's accounts.
#[derive(Debug, Deserialize)]
pub struct Selection {
    /// `cancel`, `resume` or `undo`.
    pub action: String,
    /// Migration IDs of the batch's accounts.
    pub accounts: Vec<String>,
}

/// Accounts one selection may name at most.
const MAX_SELECTION: usize = 10_000;

/// `POST /api/v1/batches/{id}/accounts/actions` (admin) with
/// `{"action": "cancel|resume|undo|retry", "accounts": [ID, ...]}`: the
/// action on each account, one result each; an undo starts a task per
/// account; a retry hands the failed ones to the daemon at once.
pub async fn selection(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Selection>,
) -> Response {
    if !guard::csrf_ok(&headers, None) && !app.admin.is_bearer(&headers) {
        return error(StatusCode::FORBIDDEN, "missing or wrong CSRF token");
    }
    let Some(action) = Action::parse(&body.action) else {
        return error(StatusCode::NOT_FOUND, "no such action");
    };
    if body.accounts.len() > MAX_SELECTION {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("at most {MAX_SELECTION} accounts at once"),
        );
    }
    let batch = match app.store.batches(Some(id)).await {
        Ok(batches) => match batches.into_iter().next() {
            Some(batch) => batch,
            None => return error(StatusCode::NOT_FOUND, "no such batch"),
        },
        Err(e) => return internal(&e),
    };
    if action == Action::Retry {
        return retry_selection(&app, &batch.accounts, &body.accounts).await;
    }
    let mut results = Vec::new();
    for migration_id in &body.accounts {
        let line = batch
            .accounts
            .iter()
            .find(|a| a.migration_id == *migration_id);
        let result = match line {
            None => json!({ "status": 404, "message": "no such account in this batch" }),
            Some(line) if action == Action::Undo => {
                match Tasks::start(&app, action, migration_id, &line.source).await {
                    Ok(Some(task)) => json!({
                        "status": 202,
                        "task": task,
                        "follow": format!("/api/v1/tasks/{task}"),
                    }),
                    Ok(None) => json!({ "status": 404, "message": "no such account" }),
                    Err(e) => return internal(&e),
                }
            }
            Some(line) => match actions::run(&app, action, migration_id, &line.source).await {
                Ok(outcome) => {
                    json!({ "status": outcome.status.as_u16(), "message": outcome.text })
                }
                Err(e) => return internal(&format!("{e:#}")),
            },
        };
        let mut result = result;
        result["migration_id"] = json!(migration_id);
        results.push(result);
    }
    Json(json!({ "action": action.name(), "results": results })).into_response()
}

/// A retry of a selection: one result per ID asked for.
async fn retry_selection(app: &App, lines: &[AccountLine], asked: &[String]) -> Response {
    let found: Vec<(String, String)> = asked
        .iter()
        .filter_map(|id| lines.iter().find(|a| a.migration_id == *id))
        .map(|a| (a.migration_id.clone(), a.source.clone()))
        .collect();
    let mut outcomes = match actions::retry(app, &found).await {
        Ok(outcomes) => outcomes.into_iter(),
        Err(e) => return internal(&format!("{e:#}")),
    };
    let results: Vec<_> = asked
        .iter()
        .map(|id| {
            let mut result = if lines.iter().any(|a| a.migration_id == *id) {
                let outcome = outcomes.next().expect("one outcome per account found");
                json!({ "status": outcome.status.as_u16(), "message": outcome.text })
            } else {
                json!({ "status": 404, "message": "no such account in this batch" })
            };
            result["migration_id"] = json!(id);
            result
        })
        .collect();
    Json(json!({ "action": Action::Retry.name(), "results": results })).into_response()
}
