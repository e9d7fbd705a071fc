//! The rights-requests face: intake, the list by urgency, extension.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use custode_domain::Operation;
use custode_domain::requests::Right;
use custode_store::{NewRequest, RequestSummary, Requester};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::parse_subject;
use crate::error::ApiError;
use crate::extract::{Body, Caller, Params};

/// A rights request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestIn {
    /// The subject it concerns.
    pub subject: String,
    /// `access`, `rectification`, `erasure`, `restriction`, `portability`,
    /// `objection`, `consent_withdrawal`, `human_review`.
    pub rights: Vec<String>,
    /// The delegate's name when someone asks for the subject.
    pub delegate: Option<String>,
    /// How to reach the requester.
    pub contact: String,
    /// The request in the requester's words.
    #[serde(default)]
    pub text: String,
}

/// A request as listed.
#[derive(Serialize, ToSchema)]
pub struct RequestOut {
    /// Its id.
    pub id: String,
    /// The subject.
    pub subject: String,
    /// The rights asked.
    pub rights: Vec<String>,
    /// `subject` or `delegate`.
    pub requester: String,
    /// When it was received.
    pub received_at: String,
    /// The deadline in force, YYYY-MM-DD (the last day to answer).
    pub due: String,
    /// Days left; negative when late.
    pub days_left: i64,
    /// The reasons of the extension, when extended.
    pub extension: Option<String>,
    /// `open` until answered.
    pub status: String,
    /// The open request this one repeats.
    pub duplicate_of: Option<String>,
}

fn out(r: RequestSummary) -> RequestOut {
    RequestOut {
        id: r.id,
        subject: r.subject.to_string(),
        rights: r.rights.iter().map(|x| x.name().to_owned()).collect(),
        requester: r.requester,
        received_at: r.received_at.to_string(),
        due: r.due.to_string(),
        days_left: r.days_left,
        extension: r.extension,
        status: r.status,
        duplicate_of: r.duplicate_of,
    }
}

/// Files a rights request; its deadline is fixed at receipt.
#[utoipa::path(post, path = "/api/v1/requests", request_body = RequestIn, responses((status = 201, body = RequestOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Body(input): Body<RequestIn>,
) -> Result<(StatusCode, Json<RequestOut>), ApiError> {
    caller
        .require(&state, Operation::FileRequest, "file rights requests")
        .await?;
    let rights = input
        .rights
        .iter()
        .map(|r| {
            Right::from_name(r).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown right `{r}`: use {}",
                    Right::ALL
                        .iter()
                        .map(|(_, n)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let filed = state
        .store
        .file_request(
            &caller.0,
            NewRequest {
                subject: parse_subject(&input.subject)?,
                rights,
                requester: match input.delegate {
                    Some(name) => Requester::Delegate { name },
                    None => Requester::Subject,
                },
                contact: input.contact,
                text: input.text,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(out(filed))))
}

/// Which requests.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Include answered ones (default: open only).
    pub all: Option<bool>,
}

/// The requests in scope, nearest deadline first.
#[utoipa::path(get, path = "/api/v1/requests", params(ListQuery), responses((status = 200, body = Vec<RequestOut>)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Vec<RequestOut>>, ApiError> {
    caller
        .require(&state, Operation::HandleRequests, "handle rights requests")
        .await?;
    let all = state
        .store
        .requests(&caller.0, !q.all.unwrap_or(false))
        .await?;
    Ok(Json(all.into_iter().map(out).collect()))
}

/// The reasons of an extension.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendIn {
    /// Why: sent to the requester.
    pub reason: String,
}

/// Extends a request by two months (Art. 12(3)), only during its first
/// month and with reasons.
#[utoipa::path(post, path = "/api/v1/requests/{id}/extend", params(("id" = String, Path)), request_body = ExtendIn, responses((status = 200, body = RequestOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn extend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<ExtendIn>,
) -> Result<Json<RequestOut>, ApiError> {
    caller
        .require(&state, Operation::HandleRequests, "extend rights requests")
        .await?;
    Ok(Json(out(state
        .store
        .extend_request(&caller.0, &id, &input.reason)
        .await?)))
}

/// The language of an export.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// One of the policy's languages (default: its first).
    pub lang: Option<String>,
}

/// The access package of a request (Art. 15 and 20): a ZIP with every
/// record as JSON and CSV, the consent ledger, and the summary of Art. 15
/// in the requester's language. Reading the data is audited under the
/// request's id. Vault-held data are never in it.
#[utoipa::path(get, path = "/api/v1/requests/{id}/export", params(("id" = String, Path), ExportQuery), responses((status = 200, description = "the package", content_type = "application/zip"), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    caller
        .require(
            &state,
            Operation::HandleRequests,
            "export for rights requests",
        )
        .await?;
    let policy = state.store.policy();
    let lang = match q.lang.as_deref() {
        None => policy.meta.languages[0],
        Some(code) => custode_policy::Lang::parse(code)
            .filter(|l| policy.meta.languages.contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`{code}` is not a language of the policy ({})",
                    policy.meta.language_codes()
                ))
            })?,
    };
    let request = state.store.request(&caller.0, &id).await?;
    let reason = format!("rights request {id}");
    let records = state
        .store
        .records(&caller.0, &request.subject, &reason)
        .await?;
    let consent = state
        .store
        .consent_history(&caller.0, &request.subject, &reason)
        .await?;
    let files = crate::export::package(
        &policy,
        lang,
        request.subject.as_str(),
        state.store_now(),
        &records,
        &consent,
    )
    .and_then(|f| crate::export::zip(&f))
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Export failed", e))?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/zip".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"access-{id}.zip\""),
            ),
        ],
        files,
    )
        .into_response())
}

/// Data an erasure left, and why.
#[derive(Serialize, ToSchema)]
pub struct KeptOut {
    /// The category.
    pub category: String,
    /// The legal obligations that keep them.
    pub grounds: Vec<String>,
    /// How many records.
    pub records: u64,
    /// When they go.
    pub until: Option<String>,
}

/// The answer to an erasure request: what was erased, and what was kept
/// and why (to be told to the requester).
#[derive(Serialize, ToSchema)]
pub struct ErasureOut {
    /// Records erased now.
    pub erased: u64,
    /// Moved to the vault, kept only because a law requires it.
    pub vaulted: Vec<KeptOut>,
    /// Kept in place under a legal obligation.
    pub kept: Vec<KeptOut>,
    /// Whether the subject was erased whole (its key destroyed).
    pub shredded: bool,
}

fn kept_out(lines: Vec<custode_store::KeptLine>) -> Vec<KeptOut> {
    lines
        .into_iter()
        .map(|l| KeptOut {
            category: l.category,
            grounds: l.grounds,
            records: l.records,
            until: l.until.map(|t| t.to_string()),
        })
        .collect()
}

/// Carries out an erasure request (Art. 17): closes the account, moves what
/// a vault purpose keeps to the vault, keeps what another legal obligation
/// requires with its ground and end, erases the rest now (the subject whole
/// when nothing is kept). Safe to repeat.
#[utoipa::path(post, path = "/api/v1/requests/{id}/erase", params(("id" = String, Path)), responses((status = 200, body = ErasureOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ErasureOut>, ApiError> {
    caller
        .require(
            &state,
            Operation::EraseSubject,
            "carry out erasure requests",
        )
        .await?;
    let a = state.store.fulfil_erasure(&caller.0, &id).await?;
    Ok(Json(ErasureOut {
        erased: a.erased,
        vaulted: kept_out(a.vaulted),
        kept: kept_out(a.kept),
        shredded: a.shredded,
    }))
}
