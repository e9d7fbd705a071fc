//! The retention face: events of a subject's life that retention counts
//! from, what retention will do (the plan: a what-if over every store)
//! and what it did (the report). Counts only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use custode_domain::Operation;
use custode_retention::RetentionLine;
use custode_store::LifeEvent;
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
        .retention
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

/// A line of the retention report: never data, only counts.
#[derive(Serialize, ToSchema)]
pub struct RetentionLineOut {
    /// When it was done.
    pub at: String,
    /// `erased`, `vaulted` or `vault_erased`.
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

/// How far the plan looks: `days` ahead, or the state `at` a day.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// Days ahead, to the end of that day (0 to 36,500, default 30).
    pub days: Option<u32>,
    /// Instead of `days`: the state as of a day (YYYY-MM-DD, the
    /// controller's time zone), today or later.
    pub at: Option<String>,
}

/// An action the plan foresees on a day: counts, never data.
#[derive(Serialize, ToSchema)]
pub struct PlanLineOut {
    /// The day (YYYY-MM-DD, the controller's time zone).
    pub day: String,
    /// The first instant that day at which it falls due (now when overdue).
    pub at: String,
    /// `vaulted` (main store to vault), `vault_erased` or `erased` (main store).
    pub action: String,
    /// The category.
    pub category: String,
    /// For `erased`, the purpose whose period ends; for the vault's
    /// actions, the vault purposes that keep the records.
    pub rule: String,
    /// How many records.
    pub records: u64,
}

/// What a store holds of a category now and at the plan's end.
#[derive(Serialize, ToSchema)]
pub struct HeldOut {
    /// `main` or `vault`.
    pub store: String,
    /// The category.
    pub category: String,
    /// Records held now.
    pub now: u64,
    /// Records held at the plan's end, if nothing new comes in.
    pub then: u64,
}

/// Accounts an inactivity rule closes on a day.
#[derive(Serialize, ToSchema)]
pub struct ClosureOut {
    /// The day, YYYY-MM-DD, in the controller's time zone.
    pub day: String,
    /// The subject kind whose `close_after_inactivity` closes them.
    pub kind: String,
    /// How many accounts.
    pub accounts: u64,
}

/// The retention plan: a what-if that changes nothing.
#[derive(Serialize, ToSchema)]
pub struct PlanOut {
    /// When it was computed.
    pub now: String,
    /// The last instant it covers.
    pub until: String,
    /// Every action due by then, by day, in the order a sweep takes them.
    pub actions: Vec<PlanLineOut>,
    /// Per store and category: records held now and then.
    pub held: Vec<HeldOut>,
    /// Accounts their kind's inactivity rule closes by then, if unused;
    /// the actions above count their records with the closure's ends.
    pub closures: Vec<ClosureOut>,
}

/// What retention will do up to a day if no new event happens: moves to
/// the vault, erasures from the vault and from the main store, and what
/// each store will hold by then.
#[utoipa::path(get, path = "/api/v1/retention/plan", params(PlanQuery), responses((status = 200, body = PlanOut), (status = 400, body = crate::error::Problem)), security(("token" = [])))]
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<PlanQuery>,
) -> Result<Json<PlanOut>, ApiError> {
    caller
        .require(&state, Operation::AuditLog, "read the retention plan")
        .await?;
    let store = &state.retention;
    // A day the caller got wrong is a bad query, not bad data.
    let day = store
        .plan_day(q.days, q.at.as_deref())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let plan = store.retention_plan(store.end_of_day(day)?).await?;
    Ok(Json(PlanOut {
        now: plan.now.to_string(),
        until: plan.until.to_string(),
        actions: plan
            .lines
            .into_iter()
            .map(|l| PlanLineOut {
                day: l.day.to_string(),
                at: l.at.to_string(),
                action: l.action,
                category: l.category,
                rule: l.rule,
                records: l.records,
            })
            .collect(),
        held: plan
            .held
            .into_iter()
            .map(|h| HeldOut {
                store: h.store.to_owned(),
                category: h.category,
                now: h.now,
                then: h.then,
            })
            .collect(),
        closures: plan
            .closures
            .into_iter()
            .map(|c| ClosureOut {
                day: c.day.to_string(),
                kind: c.kind,
                accounts: c.accounts,
            })
            .collect(),
    }))
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
    Ok(lines(state.retention.retention_report(since).await?))
}
