//! The traffic face: ingestion of a native file in the request's body
//! (`POST /api/v1/traffic/ingest?kind=cdr|radius|maillog`), the legal
//! officer's extraction under an order (`POST /api/v1/traffic/extract`),
//! and the subscriber's bill check (`GET /api/v1/subjects/{id}/bill`).
//! Every rule (roles, scope, the law's periods, the order's checks and
//! their log) is `custode-traffic`'s and the vault's.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use custode_traffic::{Extraction, IngestOptions, Kind, Target, TrafficError};
use custode_vault::VaultOrder;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::parse_subject;
use crate::error::ApiError;
use crate::extract::{Body, Caller, Params};
use crate::vault::OrderIn;

/// The largest body ingested at once (larger files: the command line, or
/// several requests).
pub const MAX_INGEST_BODY: usize = 64 * 1024 * 1024;

fn problem(e: TrafficError) -> ApiError {
    use axum::http::StatusCode;
    match e {
        TrafficError::Store(e) => e.into(),
        e @ (TrafficError::WrongFormat { .. } | TrafficError::Invalid(_) | TrafficError::Io(_)) => {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not acceptable data",
                e.to_string(),
            )
        }
        e @ TrafficError::Busy => ApiError::new(StatusCode::CONFLICT, "Conflict", e.to_string()),
        e => custode_store::StoreError::Invalid(e.to_string()).into(),
    }
}

/// Which format the body is in.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    /// `cdr` (CSV: caller,callee,start,duration,answered,cell), `radius`
    /// (a FreeRADIUS detail file) or `maillog` (Postfix/Dovecot syslog).
    pub kind: String,
}

/// A line refused.
#[derive(Serialize, ToSchema)]
pub struct RejectedOut {
    /// Its number, from 1.
    pub line: u64,
    /// Why.
    pub why: String,
}

/// What an ingestion did.
#[derive(Serialize, ToSchema)]
pub struct IngestOut {
    /// The file's identity (format and the SHA-256 of its first 64 KiB).
    pub source: String,
    /// Lines read (all runs of this file).
    pub lines: u64,
    /// Records stored.
    pub stored: u64,
    /// Of those, kept under a pending link (no subscriber holds the
    /// identifier yet).
    pub pending: u64,
    /// Lines that record no communication.
    pub skipped: u64,
    /// Lines refused by this request.
    pub rejected: Vec<RejectedOut>,
    /// Lines refused by an earlier, interrupted run.
    pub rejected_before: Vec<u64>,
    /// The line this request resumed after (0 for a new file).
    pub resumed_after: u64,
    /// The file was ingested whole before: nothing was read.
    pub already_done: bool,
}

/// Ingests a file of traffic sent as the body: each record linked to its
/// subscriber, sealed, kept by its own date. The same file sent again
/// resumes where an interrupted ingestion stopped; a finished one is not
/// read twice. A body of another format is refused whole (422) at its
/// first line.
#[utoipa::path(post, path = "/api/v1/traffic/ingest", params(IngestQuery), request_body(content = String, content_type = "text/plain"), responses((status = 200, body = IngestOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<IngestQuery>,
    body: Bytes,
) -> Result<Json<IngestOut>, ApiError> {
    let kind = Kind::from_key(&q.kind).ok_or_else(|| {
        ApiError::bad_request(format!("unknown kind `{}`: cdr, radius or maillog", q.kind))
    })?;
    let s = state
        .traffic
        .ingest(&caller.0, kind, "api", &body[..], &IngestOptions::default())
        .await
        .map_err(problem)?;
    Ok(Json(IngestOut {
        source: s.source,
        lines: s.lines,
        stored: s.stored,
        pending: s.pending,
        skipped: s.skipped,
        rejected: s
            .rejected
            .into_iter()
            .map(|r| RejectedOut {
                line: r.line,
                why: r.why,
            })
            .collect(),
        rejected_before: s.rejected_before,
        resumed_after: s.resumed_after,
        already_done: s.already_done,
    }))
}

/// An order to answer from the traffic store.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractIn {
    /// A code from the legal officer's authenticator, not used before.
    pub totp: Option<String>,
    /// The order's reference.
    pub order: Option<OrderIn>,
    /// The crime the order concerns: `terrorism`, `mafia_association`,
    /// `massacre`, `kidnapping_for_ransom`, `drug_trafficking_association`,
    /// `weapons_of_war` (L. 167/2017: 72 months), or `other`.
    pub crime: String,
    /// Whose traffic: a number ...
    pub number: Option<String>,
    /// ... an IP address ...
    pub ip: Option<String>,
    /// ... a mailbox or account name ...
    pub mailbox: Option<String>,
    /// ... or a subject id.
    pub subject: Option<String>,
    /// From (included), RFC 3339.
    pub from: String,
    /// To (excluded), RFC 3339.
    pub to: String,
}

/// A file of the answer.
#[derive(Serialize, ToSchema)]
pub struct FileOut {
    /// Its name.
    pub name: String,
    /// Its content (UTF-8 text: CSV, JSON, the manifest, the signature).
    pub content: String,
}

/// The answer to an order.
#[derive(Serialize, ToSchema)]
pub struct ExtractOut {
    /// Records given.
    pub records: u64,
    /// Records in range left out: past their ordinary period, for a crime
    /// the extended period does not cover.
    pub withheld: u64,
    /// `traffic.csv`, `traffic.json`, `manifest.json`, `manifest.sig`:
    /// written as they are into one directory, `custode traffic verify`
    /// checks them.
    pub files: Vec<FileOut>,
}

fn time(text: &str, what: &str) -> Result<jiff::Timestamp, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{what}` is not an RFC 3339 time")))
}

/// Answers an authority's order from the traffic store: the legal officer
/// only, as a person, with a fresh TOTP code and the order's reference;
/// refused past the ordinary period of Art. 132 unless the crime is one
/// the extended period covers. Every attempt is in the vault access log
/// and the audit chain.
#[utoipa::path(post, path = "/api/v1/traffic/extract", request_body = ExtractIn, responses((status = 200, body = ExtractOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn extract(
    State(state): State<AppState>,
    caller: Caller,
    Body(q): Body<ExtractIn>,
) -> Result<Json<ExtractOut>, ApiError> {
    let target = match (q.number, q.ip, q.mailbox, q.subject) {
        (Some(n), None, None, None) => Target::Number(n),
        (None, Some(ip), None, None) => Target::Ip(ip),
        (None, None, Some(m), None) => Target::Mailbox(m),
        (None, None, None, Some(s)) => Target::Subject(parse_subject(&s)?),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `number`, `ip`, `mailbox`, `subject`",
            ));
        }
    };
    let order = q.order.unwrap_or_default();
    let request = Extraction {
        order: VaultOrder {
            authority: order.authority,
            number: order.number,
            date: order.date,
            scope: order.scope,
        },
        crime: q.crime,
        target,
        from: time(&q.from, "from")?,
        to: time(&q.to, "to")?,
    };
    let factor = q.totp.as_deref().map(custode_accounts::FreshFactor::Totp);
    let answer = state
        .traffic
        .extract(&caller.0, factor.as_ref(), &request)
        .await
        .map_err(problem)?;
    Ok(Json(ExtractOut {
        records: answer.records,
        withheld: answer.withheld,
        files: answer
            .files
            .into_iter()
            .map(|(name, bytes)| FileOut {
                name,
                content: String::from_utf8_lossy(&bytes).into_owned(),
            })
            .collect(),
    }))
}

/// A billing period.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BillQuery {
    /// From (included), RFC 3339.
    pub from: String,
    /// To (excluded), RFC 3339.
    pub to: String,
}

/// A call of an itemised bill.
#[derive(Serialize, ToSchema)]
pub struct BillLineOut {
    /// When it started.
    pub start: String,
    /// The number called, its last three digits masked.
    pub called: String,
    /// Seconds.
    pub duration: u64,
    /// The cell or trunk.
    pub cell: Option<String>,
}

/// The subscriber's itemised calls of a billing period (Art. 124), the
/// last three digits of every number called masked; calls past their
/// billing use (six months) are not shown.
#[utoipa::path(get, path = "/api/v1/subjects/{id}/bill", params(("id" = String, Path, description = "The subject"), BillQuery), responses((status = 200, body = Vec<BillLineOut>), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn bill(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<BillQuery>,
) -> Result<Json<Vec<BillLineOut>>, ApiError> {
    let subject = parse_subject(&id)?;
    let lines = state
        .traffic
        .bill_check(
            &caller.0,
            &subject,
            time(&q.from, "from")?,
            time(&q.to, "to")?,
        )
        .await
        .map_err(problem)?;
    Ok(Json(
        lines
            .into_iter()
            .map(|l| BillLineOut {
                start: l.start.to_string(),
                called: l.called,
                duration: l.duration,
                cell: l.cell,
            })
            .collect(),
    ))
}
