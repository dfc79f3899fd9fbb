//! `/admin`: the dashboard, behind the admin login. Batches with their
//! totals, a batch's accounts (search, filter by state, sort, pages), an
//! account's detail with cancel, resume, undo and retry.

use axum::Form;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::actions::{self, Action};
use super::api;
use super::guard::{self, Client};
use super::listing::{BatchLine, Listing, Query as ListQuery};
use super::pages::{ActionForm, Pair, internal};
use super::render::Ctx;
use super::tasks::Tasks;
use super::view::MigrationView;
use super::{App, Shared};
use crate::protocols::http::encode_query;
use crate::vocabulary::AccountState;

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The admin password or the admin token.
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub csrf: String,
}

/// Where a visitor without login goes.
/// Lets administrators through to the admin pages and API. Anyone else is
/// sent to the login page (a page asked for) or answered 401 (an API call
/// or a form sent).
pub async fn admins_only(State(app): State<Shared>, request: Request, next: Next) -> Response {
    if app
        .admin
        .is_admin(request.headers(), guard::peer(request.extensions()))
    {
        return next.run(request).await;
    }
    if request.uri().path().starts_with("/api/") {
        return api::error(StatusCode::UNAUTHORIZED, "log in as an administrator");
    }
    if request.method() == Method::GET {
        return Redirect::to("/admin/login").into_response();
    }
    StatusCode::UNAUTHORIZED.into_response()
}

/// `GET /admin/login`.
pub async fn login_form(headers: HeaderMap) -> Response {
    Ctx::of(&headers).page(StatusCode::OK, "admin_login", json!({ "failed": false }))
}

/// `POST /admin/login`: the admin password or token opens a session.
/// Attempts count against the client's lookups, as guesses would.
pub async fn login(
    State(app): State<Shared>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let ctx = Ctx::of(&headers);
    if !guard::csrf_ok(&headers, Some(&form.csrf)) {
        return ctx.message(StatusCode::FORBIDDEN, ctx.lang.words().refused);
    }
    if !app.lookups.allow(client) {
        return ctx.message(StatusCode::TOO_MANY_REQUESTS, ctx.lang.words().throttled);
    }
    let checker = app.clone();
    let given = form.password.trim().to_owned();
    let ok = tokio::task::spawn_blocking(move || checker.admin.secret_ok(&given))
        .await
        .unwrap_or(false);
    if !ok {
        tracing::warn!("a wrong admin password or token was given from {client}");
        return ctx.page(
            StatusCode::UNAUTHORIZED,
            "admin_login",
            json!({ "failed": true }),
        );
    }
    let mut response = Redirect::to("/admin").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, app.admin.open_session());
    response
}

/// `GET /admin`: every batch with its totals.
pub async fn batches(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let ctx = Ctx::of(&headers);
    match app.store.batches(None).await {
        Ok(batches) => ctx.page(
            StatusCode::OK,
            "admin_batches",
            json!({ "batches": batches.iter().map(BatchLine::of).collect::<Vec<_>>() }),
        ),
        Err(e) => internal(&ctx, &e),
    }
}

/// `GET /admin/pst`: a PST file and its destination, imported through
/// the watched folder (the page posts to `/api/v1/pst`).
pub async fn pst_form(State(app): State<Shared>, headers: HeaderMap) -> Response {
    Ctx::of(&headers).page(
        StatusCode::OK,
        "admin_pst",
        json!({
            "watched": app.inbox.is_some(),
            "max_mib": app.pst_max_bytes / (1024 * 1024),
        }),
    )
}

/// `GET /admin/batches/{id}`: one page of a batch's accounts.
pub async fn accounts(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let ctx = Ctx::of(&headers);
    let batch = match app.store.batches(Some(id)).await {
        Ok(batches) => match batches.into_iter().next() {
            Some(batch) => batch,
            None => return ctx.message(StatusCode::NOT_FOUND, "No such batch"),
        },
        Err(e) => return internal(&ctx, &e),
    };
    let totals = BatchLine::of(&batch);
    let listing = Listing::of(batch, &query);
    let keep = |page: usize| {
        format!(
            "?state={}&q={}&sort={}&page={page}",
            encode_query(query.state.as_deref().unwrap_or("")),
            encode_query(query.q.as_deref().unwrap_or("")),
            encode_query(query.sort.as_deref().unwrap_or("")),
        )
    };
    let states: Vec<_> = AccountState::ALL
        .iter()
        .map(|s| {
            json!({
                "name": s.as_str(),
                "label": ctx.lang.state(*s),
                "selected": query.state.as_deref() == Some(s.as_str()),
            })
        })
        .collect();
    let rows: Vec<_> = listing
        .accounts
        .iter()
        .map(|a| {
            json!({
                "line": a,
                "state_label": ctx.lang.state(a.state),
                "href": format!("/admin/accounts/{}?source={}", a.migration_id, encode_query(&a.source)),
            })
        })
        .collect();
    ctx.page(
        StatusCode::OK,
        "admin_accounts",
        json!({
            "batch": totals,
            "listing": listing,
            "rows": rows,
            "states": states,
            "q": query.q.as_deref().unwrap_or(""),
            "sort": query.sort.as_deref().unwrap_or("source"),
            "previous": (listing.page > 1).then(|| keep(listing.page - 1)),
            "next": (listing.page < listing.pages).then(|| keep(listing.page + 1)),
        }),
    )
}

/// `GET /admin/batches/{id}/{report.json|report.html}`: the batch's
/// report as last written.
pub async fn report(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let ctx = Ctx::of(&headers);
    let content_type = match file.as_str() {
        "report.json" => "application/json",
        "report.html" => "text/html; charset=utf-8",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let batch = match app.store.batches(Some(id)).await {
        Ok(batches) => match batches.into_iter().next() {
            Some(batch) => batch,
            None => return ctx.message(StatusCode::NOT_FOUND, "No such batch"),
        },
        Err(e) => return internal(&ctx, &e),
    };
    let path = crate::report::dir(&app.reports, &batch.name).join(&file);
    stored_file(&ctx, &path, content_type).await
}

/// `GET /admin/accounts/{id}/undo.json?source=`: the account's undo
/// manifest (`undo --from` works from it alone).
pub async fn undo_manifest(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(pair): Query<Pair>,
) -> Response {
    let ctx = Ctx::of(&headers);
    match app.store.account_status(&id, &pair.source).await {
        Ok(Some(account)) => {
            let path = crate::report::dir(&app.reports, &account.batch)
                .join("undo")
                .join(format!("{}.json", account.migration_id));
            stored_file(&ctx, &path, "application/json").await
        }
        Ok(None) => ctx.message(StatusCode::NOT_FOUND, ctx.lang.words().not_found),
        Err(e) => internal(&ctx, &e),
    }
}

/// A file `run` wrote under the reports folder, or a page saying there is
/// none yet.
async fn stored_file(ctx: &Ctx, path: &std::path::Path, content_type: &'static str) -> Response {
    let owned = path.to_owned();
    let read = tokio::task::spawn_blocking(move || std::fs::read(owned))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    match read {
        Ok(bytes) => ([(CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ctx.message(StatusCode::NOT_FOUND, "Not written yet")
        }
        Err(e) => internal(ctx, &format!("{}: {e}", path.display())),
    }
}

/// `GET /admin/accounts/{id}?source=`: an account in full.
pub async fn account(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(pair): Query<Pair>,
) -> Response {
    let ctx = Ctx::of(&headers);
    match MigrationView::read(&app.store, &app.rates, &id, &pair.source, ctx.lang).await {
        Ok(Some((account, view))) => {
            let task = app
                .tasks
                .of_account(pair.task.as_deref(), &view.migration_id);
            let notice = match &task {
                Some(task) if task.ok == Some(true) => task.message.clone().unwrap_or_default(),
                _ => pair.done.unwrap_or_default(),
            };
            ctx.page(
                StatusCode::OK,
                "admin_account",
                json!({
                    "m": view,
                    "batch_id": account.batch_id,
                    "folders": account.folders,
                    "can_resume": account.cancel_requested,
                    "can_retry": matches!(
                        account.state,
                        AccountState::Failed | AccountState::CompletedWithErrors
                    ),
                    "undo_href": format!(
                        "/admin/accounts/{}/undo.json?source={}",
                        account.migration_id,
                        encode_query(&account.source)
                    ),
                    "notice": notice,
                    "task": task,
                }),
            )
        }
        Ok(None) => ctx.message(StatusCode::NOT_FOUND, ctx.lang.words().not_found),
        Err(e) => internal(&ctx, &e),
    }
}

/// `POST /admin/accounts/{id}/{cancel|resume|undo|retry}`; an undo runs in the
/// background, and the account's page follows it.
pub async fn act(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let ctx = Ctx::of(&headers);
    if !guard::csrf_ok(&headers, Some(&form.csrf)) {
        return ctx.message(StatusCode::FORBIDDEN, ctx.lang.words().refused);
    }
    let Some(action) = Action::parse(&action) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let source = form.source.trim();
    if action == Action::Undo {
        return match Tasks::start(&app, action, &id, source).await {
            Ok(Some(task)) => Redirect::to(&format!(
                "/admin/accounts/{id}?source={}&task={task}",
                encode_query(source)
            ))
            .into_response(),
            Ok(None) => ctx.message(StatusCode::NOT_FOUND, ctx.lang.words().not_found),
            Err(e) => internal(&ctx, &e),
        };
    }
    detail_after(&app, &ctx, action, &id, source).await
}

/// Runs `action`, then back to the account's detail with what it said.
async fn detail_after(app: &App, ctx: &Ctx, action: Action, id: &str, source: &str) -> Response {
    match actions::run(app, action, id, source).await {
        Ok(outcome) if outcome.not_found => {
            ctx.message(StatusCode::NOT_FOUND, ctx.lang.words().not_found)
        }
        Ok(outcome) => Redirect::to(&format!(
            "/admin/accounts/{id}?source={}&done={}",
            encode_query(source),
            encode_query(&outcome.text)
        ))
        .into_response(),
        Err(e) => internal(ctx, &format!("{e:#}")),
    }
}
