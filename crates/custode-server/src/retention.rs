//! The retention face: events of a subject's life that retention counts
//! from, and what the sweeper will erase and has erased (counts only).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use custode_domain::Operation;
use custode_store::{LifeEvent, RetentionLine};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::parse_subject;
use crate::error::ApiError;
use crate::extract::{Body, Caller, Params};

/// An event of a subject's life.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifeEventIn {
    /// `account_closed`, `contract_ended` or `activity`.
    pub event: String,
    /// When it happened (RFC 3339); now when left out. Never in the future.
    pub at: Option<String>,
    /// Why (audited).
    pub reason: String,
}

/// Records an event of a subject's life; the end of its records is
/// recomputed at once (closing an account starts every "after closure"
/// period and ends every consent).
#[utoipa::path(post, path = "/api/v1/subjects/{id}/events", params(("id" = String, Path)), request_body = LifeEventIn, responses((status = 204, description = "recorded"), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn life_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<LifeEventIn>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(&state, Operation::WriteRecords, "record subject events")
        .await?;
    let event = LifeEvent::from_name(&input.event).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown event `{}`: use account_closed, contract_ended or activity",
            input.event
        ))
    })?;
    let at = input
        .at
        .as_deref()
        .map(|t| {
            t.parse::<jiff::Timestamp>()
                .map_err(|_| ApiError::bad_request(format!("`{t}` is not an RFC 3339 instant")))
        })
        .transpose()?;
    if input.reason.trim().is_empty() {
        return Err(ApiError::bad_request("give the `reason` for the event"));
    }
    state
        .store
        .record_life_event(&caller.0, &parse_subject(&id)?, event, at, &input.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How far ahead or back.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Days {
    /// Days (1 to 3650, default 30).
    pub days: Option<u32>,
}

/// A line of the retention plan or report: never data, only counts.
#[derive(Serialize, ToSchema)]
pub struct RetentionLineOut {
    /// When it was done, or the instant from which it is due.
    pub at: String,
    /// `erased` (report) or `due` (plan).
    pub action: String,
    /// The category.
    pub category: String,
    /// The purpose whose period ended last.
    pub rule: String,
    /// How many records.
    pub records: u64,
}

fn lines(lines: Vec<RetentionLine>) -> Json<Vec<RetentionLineOut>> {
    Json(
        lines
            .into_iter()
            .map(|l| RetentionLineOut {
                at: l.at.to_string(),
                action: l.action,
                category: l.category,
                rule: l.rule,
                records: l.records,
            })
            .collect(),
    )
}

fn span(days: Option<u32>) -> Result<jiff::SignedDuration, ApiError> {
    let days = days.unwrap_or(30);
    if !(1..=3650).contains(&days) {
        return Err(ApiError::bad_request("`days` must be between 1 and 3650"));
    }
    Ok(jiff::SignedDuration::from_hours(24 * i64::from(days)))
}

/// What the sweeper will erase in the coming days.
#[utoipa::path(get, path = "/api/v1/retention/plan", params(Days), responses((status = 200, body = Vec<RetentionLineOut>)), security(("token" = [])))]
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<Days>,
) -> Result<Json<Vec<RetentionLineOut>>, ApiError> {
    caller
        .require(&state, Operation::AuditLog, "read the retention plan")
        .await?;
    let until = state.store_now() + span(q.days)?;
    Ok(lines(state.store.retention_plan(until).await?))
}

/// What the sweeper erased in the last days.
#[utoipa::path(get, path = "/api/v1/retention/report", params(Days), responses((status = 200, body = Vec<RetentionLineOut>)), security(("token" = [])))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<Days>,
) -> Result<Json<Vec<RetentionLineOut>>, ApiError> {
    caller
        .require(&state, Operation::AuditLog, "read the retention report")
        .await?;
    let since = state.store_now() - span(q.days)?;
    Ok(lines(state.store.retention_report(since).await?))
}
