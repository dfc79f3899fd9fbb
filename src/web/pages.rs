//! The end user's pages: the lookup form, an account's status, and the
//! confirm steps of Cancel and Undo.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::actions::{self, Action};
use super::guard::{self, Client};
use super::render::Ctx;
use super::tasks::Tasks;
use super::view::MigrationView;
use super::{App, Shared};

/// A migration ID and a source address.
#[derive(Debug, Deserialize)]
pub struct Pair {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub source: String,
    /// Set after an action: `cancel` or `undo`.
    pub done: Option<String>,
    /// Set after an action started in the background: its task.
    pub task: Option<String>,
}

/// The form of a confirmed action.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub csrf: String,
}

/// The URL of an account's status page.
pub fn status_url(id: &str, source: &str) -> String {
    format!(
        "/status?id={}&source={}",
        crate::protocols::http::encode_query(id),
        crate::protocols::http::encode_query(source)
    )
}

/// `GET /`: the lookup form.
pub async fn home(headers: HeaderMap) -> Response {
    Ctx::of(&headers).page(StatusCode::OK, "home", json!({}))
}

/// The account an ID and address name, or the response that says why
/// there is none to show (throttled, not found, internal error).
pub async fn look_up(
    app: &App,
    ctx: &Ctx,
    client: std::net::IpAddr,
    id: &str,
    source: &str,
) -> Result<MigrationView, Response> {
    if !app.lookups.allow(client) {
        return Err(ctx.message(StatusCode::TOO_MANY_REQUESTS, ctx.lang.words().throttled));
    }
    match MigrationView::read(&app.store, &app.rates, id.trim(), source.trim(), ctx.lang).await {
        Ok(Some((_, view))) => Ok(view),
        Ok(None) => Err(ctx.message(StatusCode::NOT_FOUND, ctx.lang.words().not_found)),
        Err(error) => Err(internal(ctx, &error)),
    }
}

/// The answer to an error of ours: logged, and a page that says nothing
/// of it.
pub fn internal(ctx: &Ctx, error: &dyn std::fmt::Display) -> Response {
    tracing::error!("status page: {error}");
    ctx.message(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
}

/// `GET /status?id=&source=`: an account's page.
pub async fn status(
    State(app): State<Shared>,
    Client(client): Client,
    headers: HeaderMap,
    Query(pair): Query<Pair>,
) -> Response {
    let ctx = Ctx::of(&headers);
    let view = match look_up(&app, &ctx, client, &pair.id, &pair.source).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    let words = ctx.lang.words();
    let task = app
        .tasks
        .of_account(pair.task.as_deref(), &view.migration_id);
    let notice = match pair.done.as_deref() {
        Some("cancel") => words.cancel_requested,
        _ if task.as_ref().is_some_and(|t| t.ok == Some(true)) => words.undone_notice,
        _ => "",
    };
    let (id, source) = (&view.migration_id, &view.source);
    let query = status_url(id, source);
    let query = query.trim_start_matches("/status");
    let api = format!(
        "/api/v1/migrations/{}?source={}",
        crate::protocols::http::encode_query(id),
        crate::protocols::http::encode_query(source)
    );
    // What the polling script compares: a change reloads the page, for
    // its buttons.
    let key = format!(
        "{} {} {} {} {}",
        view.state.as_str(),
        view.can_cancel,
        view.can_undo,
        view.cancel_requested,
        view.stages.len()
    );
    ctx.page(
        StatusCode::OK,
        "status",
        json!({
            "notice": notice,
            "task": task,
            "cancel_href": format!("/status/cancel{query}"),
            "undo_href": format!("/status/undo{query}"),
            "api_json": script_string(&api),
            "key_json": script_string(&key),
            "m": view,
        }),
    )
}

/// A string as a JavaScript literal that is safe inside `<script>`.
fn script_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned())
        .to_string()
        .replace('<', "\\u003c")
}

/// `GET /status/{cancel|undo}?id=&source=`: the confirm step.
pub async fn confirm(
    State(app): State<Shared>,
    Client(client): Client,
    headers: HeaderMap,
    Path(action): Path<String>,
    Query(pair): Query<Pair>,
) -> Response {
    let ctx = Ctx::of(&headers);
    let words = ctx.lang.words();
    let (title, explain, button) = match Action::parse(&action) {
        Some(Action::Cancel) => (words.cancel, words.cancel_explain, words.cancel_confirm),
        Some(Action::Undo) => (words.undo, words.undo_explain, words.undo_confirm),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let view = match look_up(&app, &ctx, client, &pair.id, &pair.source).await {
        Ok(view) => view,
        Err(response) => return response,
    };
    ctx.page(
        StatusCode::OK,
        "confirm",
        json!({
            "m": view,
            "action": action,
            "title": title,
            "explain": explain,
            "button": button,
            "back": status_url(&pair.id, &pair.source),
        }),
    )
}

/// `POST /status/{cancel|undo}`: the confirmed action, then back to the
/// account's page. An undo runs in the background: the page follows its
/// task until it ends.
pub async fn act(
    State(app): State<Shared>,
    Client(client): Client,
    headers: HeaderMap,
    Path(action): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let ctx = Ctx::of(&headers);
    if !guard::csrf_ok(&headers, Some(&form.csrf)) {
        return ctx.message(StatusCode::FORBIDDEN, ctx.lang.words().refused);
    }
    let action = match Action::parse(&action) {
        Some(action @ (Action::Cancel | Action::Undo)) => action,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    if !app.lookups.allow(client) {
        return ctx.message(StatusCode::TOO_MANY_REQUESTS, ctx.lang.words().throttled);
    }
    let (id, source) = (form.id.trim(), form.source.trim());
    if action == Action::Undo {
        return match Tasks::start(&app, action, id, source).await {
            Ok(Some(task)) => {
                Redirect::to(&format!("{}&task={task}", status_url(id, source))).into_response()
            }
            Ok(None) => ctx.message(StatusCode::NOT_FOUND, ctx.lang.words().not_found),
            Err(error) => internal(&ctx, &error),
        };
    }
    match actions::run(&app, action, id, source).await {
        Ok(outcome) if outcome.not_found => {
            ctx.message(StatusCode::NOT_FOUND, ctx.lang.words().not_found)
        }
        Ok(outcome) if outcome.status.is_success() => {
            Redirect::to(&format!("{}&done=cancel", status_url(id, source))).into_response()
        }
        Ok(outcome) => ctx.page(
            outcome.status,
            "message",
            json!({ "text": outcome.text, "back": status_url(id, source) }),
        ),
        Err(error) => internal(&ctx, &format!("{error:#}")),
    }
}
