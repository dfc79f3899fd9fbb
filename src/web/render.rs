//! Pages rendered by handlebars from `templates/web/`, embedded in the
//! binary, as the HTML report is. Every value goes through handlebars'
//! HTML escaping.

use std::sync::OnceLock;

use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use handlebars::Handlebars;
use serde_json::{Value, json};

use super::guard;
use super::i18n::Lang;

/// The templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../templates/web/layout.hbs")),
    ("account", include_str!("../../templates/web/account.hbs")),
    ("task", include_str!("../../templates/web/task.hbs")),
    ("home", include_str!("../../templates/web/home.hbs")),
    ("status", include_str!("../../templates/web/status.hbs")),
    ("confirm", include_str!("../../templates/web/confirm.hbs")),
    ("message", include_str!("../../templates/web/message.hbs")),
    (
        "admin_login",
        include_str!("../../templates/web/admin_login.hbs"),
    ),
    (
        "admin_batches",
        include_str!("../../templates/web/admin_batches.hbs"),
    ),
    (
        "admin_pst",
        include_str!("../../templates/web/admin_pst.hbs"),
    ),
    (
        "admin_accounts",
        include_str!("../../templates/web/admin_accounts.hbs"),
    ),
    (
        "admin_account",
        include_str!("../../templates/web/admin_account.hbs"),
    ),
];

fn registry() -> &'static Handlebars<'static> {
    static REGISTRY: OnceLock<Handlebars<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Handlebars::new();
        for (name, text) in TEMPLATES {
            // The templates are part of the binary and the tests render
            // each: a syntax error is a build defect.
            registry
                .register_template_string(name, *text)
                .expect("templates/web/ are valid handlebars templates");
        }
        registry
    })
}

/// What every page of one request shares: its language and CSRF token.
pub struct Ctx {
    pub lang: Lang,
    pub csrf: String,
    set_cookie: Option<HeaderValue>,
}

impl Ctx {
    /// The context of a request.
    pub fn of(headers: &HeaderMap) -> Ctx {
        let (csrf, set_cookie) = guard::csrf_token(headers);
        Ctx {
            lang: Lang::of(headers),
            csrf,
            set_cookie,
        }
    }

    /// Renders `template` with `data` (an object) and the shared values:
    /// `t` (the words), `lang`, `csrf`.
    pub fn page(&self, status: StatusCode, template: &str, mut data: Value) -> Response {
        if let Value::Object(map) = &mut data {
            map.insert("t".into(), json!(self.lang.words()));
            map.insert("lang".into(), json!(self.lang.code()));
            map.insert("csrf".into(), json!(self.csrf));
        }
        let (status, html) = match registry().render(template, &data) {
            Ok(html) => (status, html),
            Err(error) => {
                tracing::error!("cannot render the page {template}: {error}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error".to_owned(),
                )
            }
        };
        let mut response = (status, html).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        if let Some(cookie) = &self.set_cookie {
            response.headers_mut().append(SET_COOKIE, cookie.clone());
        }
        response
    }

    /// A page with one message (not found, throttled, refused, done).
    pub fn message(&self, status: StatusCode, text: &str) -> Response {
        self.page(status, "message", json!({ "text": text }))
    }
}
