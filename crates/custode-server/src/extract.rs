//! Request extractors: who is calling (from the bearer token), and bodies
//! and queries whose every rejection becomes a problem document.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use custode_domain::{Operation, Principal, may};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // A valid credential always passes. Failures are counted per client
        // address (the proxy's forwarded one when it is trusted); past the
        // limit they answer 429 instead of 401. Absent credentials do not
        // count.
        let result = Self::authenticate(parts, state).await;
        if result.is_err() {
            let presented = parts
                .headers
                .contains_key(axum::http::header::AUTHORIZATION)
                || session_cookie(parts).is_some();
            if let (true, Some(ip)) = (
                presented,
                crate::limits::client_ip(parts, &state.trusted_proxies),
            ) {
                state.attempts.fail_address(ip)?;
            }
        }
        result
    }
}

impl Caller {
    async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(token) = bearer {
            return Ok(Caller(
                state.accounts.authenticate_token(token.trim()).await?,
            ));
        }
        // A browser session: the cookie says who, and any request that can
        // change something must also carry the anti-CSRF token, which a
        // third-party page cannot read.
        let session = session_cookie(parts).ok_or_else(ApiError::unauthenticated)?;
        let changes = !matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD
        );
        let csrf = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok());
        if changes && csrf.is_none() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "Missing CSRF token",
                "send the `csrf_token` from the login answer as `X-CSRF-Token`",
            ));
        }
        let principal = state
            .accounts
            .authenticate_session(&session, if changes { csrf } else { None })
            .await?;
        Ok(Caller(principal))
    }
}

/// The session id from the `custode_session` cookie.
pub fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "custode_session";

impl Caller {
    /// Refuses (and audits) an operation the caller's role may not attempt.
    pub async fn require(
        &self,
        state: &AppState,
        op: Operation,
        what: &str,
    ) -> Result<(), ApiError> {
        if may(self.0.role, op) {
            return Ok(());
        }
        state.store.record_denied(&self.0, what).await?;
        Err(ApiError::forbidden(what))
    }
}

/// A JSON body; malformed JSON, wrong types, unknown fields, a wrong content
/// type and oversized bodies all become 4xx problems.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid body",
                e.body_text(),
            )),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::bad_request(e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Body too large",
                    format!(
                        "the body is larger than this endpoint takes: at most {} KiB for setup, login and second-factor enrolment, {} MiB elsewhere",
                        crate::MAX_CREDENTIALS_BODY / 1024,
                        crate::MAX_BODY / (1024 * 1024)
                    ),
                ))
            }
            Err(JsonRejection::BytesRejection(e)) => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Body too large or unreadable",
                e.body_text(),
            )),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// Query parameters, rejected as a 400 problem.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Params(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(ApiError::bad_request(e.body_text()))
            }
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}
