//! The web face of Custode: the data subjects' portal and the staff
//! console, HTML rendered on the server from templates compiled into the
//! binary (askama), in it/en/fr/nl.
//!
//! Thin like the JSON API: a handler finds who is calling (the browser
//! session of `custode-accounts`), checks the form's anti-CSRF token, calls
//! the same capability function the API calls with that identity, and
//! renders. No rule lives here or in a template. Every page carries a
//! strict Content-Security-Policy (no inline script or style), works with
//! JavaScript off, and has one stylesheet served from the binary.

mod breaches;
mod console;
pub mod cookies;
mod error;
pub mod i18n;
mod portal;
mod subjects;
mod vault;
mod workbench;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use custode_policy::Lang;
use custode_server::AppState;

pub use error::{failure, status_page};
pub use i18n::Texts;

/// The Content-Security-Policy of every page: nothing inline, nothing from
/// elsewhere, no framing.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The one stylesheet.
const CSS: &str = include_str!("../assets/custode.css");

/// The whole application: the pages, then the JSON API (whose 404 answers
/// under `/api/`), under the API's limits and counters. The binary serves
/// this; the tests drive it.
pub fn app(state: AppState) -> Router {
    custode_server::router_with(state.clone(), pages(state))
}

/// The page routes, with their headers and their own 404.
pub fn pages(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/assets/custode.css", get(stylesheet))
        .merge(portal::routes())
        .merge(console::routes())
        .merge(subjects::routes())
        .merge(workbench::routes())
        .merge(vault::routes())
        .merge(breaches::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state, page_headers))
}

/// The security headers on every answer of the pages, and the language
/// cookie when the switcher's `?lang=` chose one.
async fn page_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let chosen = req.uri().query().and_then(i18n::query_lang);
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // The API's own answers (merged below the pages) keep theirs.
    let is_html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html || h.get(header::LOCATION).is_some() {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(lang) = chosen
        && let Ok(v) = HeaderValue::from_str(&cookies::set(
            &state,
            i18n::LANG_COOKIE,
            lang.code(),
            "Lax",
            365 * 24 * 3600,
        ))
    {
        h.append(header::SET_COOKIE, v);
    }
    res
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        CSS,
    )
        .into_response()
}

/// What every page's frame shows: language, names, the form token, who is
/// signed in.
pub struct Chrome {
    /// The page's messages.
    pub t: &'static Texts,
    /// The language code, for `<html lang>`.
    pub lang: &'static str,
    /// The provider's name, from the policy.
    pub provider: String,
    /// The form token for every form of the page.
    pub csrf: String,
    /// `subject`, `staff`, or empty when nobody is signed in.
    pub signed: &'static str,
    /// Whether the vault page is in the menu (those who review its log).
    pub vault: bool,
    /// The language switcher: (code, name, link, current).
    pub langs: Vec<(&'static str, String, String, bool)>,
    /// A form token cookie to set (a visitor's first form).
    set_csrf: Option<String>,
}

impl Chrome {
    /// The frame of a page for this request.
    pub fn new(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Chrome {
        let policy = state.store.policy();
        let lang = i18n::choose(headers, uri.query(), policy.meta.languages[0]);
        let t = Texts::of(lang);
        let provider = policy
            .controller
            .name
            .clone()
            .unwrap_or_else(|| t.get("product"));
        let langs = Lang::ALL
            .iter()
            .map(|l| {
                (
                    l.code(),
                    Texts::of(*l).get("lang-name"),
                    format!("{}?lang={}", uri.path(), l.code()),
                    *l == lang,
                )
            })
            .collect();
        let (csrf, fresh) = cookies::anonymous_token(headers);
        Chrome {
            t,
            lang: lang.code(),
            provider,
            csrf: csrf.clone(),
            signed: "",
            vault: false,
            langs,
            set_csrf: fresh.then_some(csrf),
        }
    }

    /// The same frame for someone signed in.
    pub fn signed(mut self, who: &cookies::Signed) -> Chrome {
        self.csrf = who.csrf.clone();
        self.set_csrf = None;
        self.vault =
            custode_domain::may(who.principal.role, custode_domain::Operation::ReviewVault);
        self.signed = if who.principal.role == custode_domain::Role::Subject {
            "subject"
        } else {
            "staff"
        };
        self
    }

    /// A message.
    pub fn t(&self, id: &str) -> String {
        self.t.get(id)
    }

    /// The language.
    pub fn language(&self) -> Lang {
        self.t.lang()
    }
}

/// A page: a template with its frame.
pub trait Page: askama::Template {
    /// The frame.
    fn chrome(&self) -> &Chrome;
}

/// Implements [`Page`] for a template struct whose frame is its `c`.
macro_rules! page {
    ($($t:ty),* $(,)?) => {
        $(impl crate::Page for $t {
            fn chrome(&self) -> &crate::Chrome {
                &self.c
            }
        })*
    };
}
pub(crate) use page;

/// A rendered page with its status, and the form token cookie when the
/// frame made one.
pub fn render(state: &AppState, status: StatusCode, page: &impl Page) -> Response {
    match page.render() {
        Ok(html) => {
            let mut res = (status, Html(html)).into_response();
            if let Some(token) = &page.chrome().set_csrf
                && let Ok(v) = HeaderValue::from_str(&cookies::set(
                    state,
                    cookies::CSRF_COOKIE,
                    token,
                    "Strict",
                    8 * 3600,
                ))
            {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

/// After a form: see the result's page (POST, then GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[derive(askama::Template)]
#[template(path = "landing.html")]
struct Landing {
    c: Chrome,
    title: String,
}

async fn landing(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let mut c = Chrome::new(&state, &headers, &uri);
    if let Some(who) = cookies::signed(&state, &headers).await {
        c = c.signed(&who);
    }
    let title = c.t("landing-title");
    render(&state, StatusCode::OK, &Landing { c, title })
}

page!(Landing);

/// Under `/api/` the API's JSON 404; elsewhere the page, in the visitor's
/// language.
async fn not_found(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return custode_server::api_not_found().await;
    }
    status_page(&state, &headers, &uri, StatusCode::NOT_FOUND)
}
