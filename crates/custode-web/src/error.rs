//! Error pages (403, 404, 500 and the others) as templates in the page's
//! language, and how a capability's error becomes one. A server fault shows
//! an incident id, never its cause, as the API does.

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use custode_server::AppState;
use custode_store::StoreError;

use crate::{Chrome, page, render};

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    title: String,
    detail: String,
    incident: String,
}

page!(ErrorPage);

fn message_ids(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::FORBIDDEN => ("error-403-title", "error-403-detail"),
        StatusCode::NOT_FOUND => ("error-404-title", "error-404-detail"),
        StatusCode::CONFLICT => ("error-409-title", "error-409-detail"),
        StatusCode::GONE => ("error-410-title", "error-410-detail"),
        StatusCode::SERVICE_UNAVAILABLE => ("error-503-title", "error-503-detail"),
        _ => ("error-500-title", "error-500-detail"),
    }
}

/// The error page of a status, in the visitor's language.
pub fn status_page(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    status: StatusCode,
) -> Response {
    let c = Chrome::new(state, headers, uri);
    page_for(state, c, status, String::new())
}

fn page_for(state: &AppState, c: Chrome, status: StatusCode, incident: String) -> Response {
    let (title, detail) = message_ids(status);
    let (title, detail) = (c.t(title), c.t(detail));
    render(
        state,
        status,
        &ErrorPage {
            c,
            title,
            detail,
            incident,
        },
    )
}

/// The page of a capability's error: not found (which is also what a
/// subject outside the caller's scope is), forbidden, gone (erased), or a
/// fault, logged with an incident id.
pub fn failure(state: &AppState, c: Chrome, e: StoreError) -> Response {
    let status = match &e {
        StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        StoreError::Forbidden(_) | StoreError::Unauthenticated(_) => StatusCode::FORBIDDEN,
        StoreError::Erased(_) => StatusCode::GONE,
        StoreError::Conflict(_) | StoreError::Restricted { .. } => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let incident = if status == StatusCode::INTERNAL_SERVER_ERROR {
        let id = custode_domain::SubjectId::generate().to_string();
        tracing::error!(error = %e, incident = %id, "a page failed");
        id
    } else {
        String::new()
    };
    page_for(state, c, status, incident)
}
