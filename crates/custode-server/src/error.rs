//! The one place errors become HTTP answers: RFC 9457 problem documents
//! (`application/problem+json`) with a message a person can act on. What is
//! logged is kept apart from what is shown: a server fault shows a request
//! id, never its cause.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use custode_store::{Credential, StoreError};
use serde::Serialize;

/// An error on its way to becoming a problem document.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    detail: String,
}

#[derive(Serialize, utoipa::ToSchema)]
/// An RFC 9457 problem document.
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong here, and what to do.
    pub detail: String,
}

impl ApiError {
    /// An error with a status, a title and a detail.
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            title,
            detail: detail.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad request", detail)
    }

    /// 401: no credentials at all.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Not authenticated",
            "send an API token as `Authorization: Bearer cus_...`, or the session cookie \
             that POST /api/v1/login sets",
        )
    }

    /// 401: the credential of this kind was refused; says how to get a
    /// valid one.
    pub fn refused(credential: Credential) -> Self {
        let (title, detail) = match credential {
            Credential::ApiToken => (
                "Not authenticated",
                "the API token is wrong, expired or revoked: send a valid one as \
                 `Authorization: Bearer cus_...`",
            ),
            Credential::Session => (
                "Not authenticated",
                "the session has ended, or its `X-CSRF-Token` does not match: log in again \
                 (POST /api/v1/login)",
            ),
            Credential::Login => (
                "Login refused",
                "the user name, password or second-factor code is wrong",
            ),
            Credential::SetupToken => (
                "Setup token not valid",
                "the setup token is wrong or already used. `custode serve` prints one when it \
                 starts with no user yet (a new one at most once an hour); once an \
                 administrator exists, log in instead",
            ),
            Credential::Invitation => (
                "Invitation not valid",
                "the invitation link is wrong, already used, expired or withdrawn: ask the \
                 administrator who invited you for a new one (`custode users reinvite`, or \
                 POST /api/v1/users/{id}/reinvite)",
            ),
            Credential::PortalCode => (
                "Code not valid",
                "the code is wrong, already used or expired, or too many wrong codes were \
                 tried: ask for a new one (POST /api/v1/portal/code)",
            ),
        };
        Self::new(StatusCode::UNAUTHORIZED, title, detail)
    }

    /// 403: the role may not do this.
    pub fn forbidden(what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("your role may not {what}"),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "Not found", e.to_string())
            }
            StoreError::Erased(_) => Self::new(StatusCode::GONE, "Erased", e.to_string()),
            StoreError::Restricted { .. } => Self::new(
                StatusCode::CONFLICT,
                "Restricted after erasure",
                e.to_string(),
            ),
            StoreError::Invalid(_) | StoreError::InvalidRecord { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not acceptable data",
                e.to_string(),
            ),
            StoreError::Conflict(_) => Self::new(StatusCode::CONFLICT, "Conflict", e.to_string()),
            StoreError::Unauthenticated(credential) => ApiError::refused(*credential),
            StoreError::Forbidden(_) => {
                Self::new(StatusCode::FORBIDDEN, "Forbidden", e.to_string())
            }
            StoreError::PasskeyRefused(_) => {
                Self::new(StatusCode::UNAUTHORIZED, "Passkey refused", e.to_string())
            }
            StoreError::SecondFactorRequired => Self::new(
                StatusCode::FORBIDDEN,
                "Second factor required",
                e.to_string(),
            ),
            _ => {
                let id = custode_domain::SubjectId::generate();
                tracing::error!(error = %e, incident = %id, "request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    format!("the request failed and nothing was changed; incident {id} is logged"),
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("https://custode.example/problems/{}", self.status.as_u16()),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(body),
        )
            .into_response()
    }
}
