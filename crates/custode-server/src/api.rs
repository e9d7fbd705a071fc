//! The JSON API, version 1. Each handler: who calls ([`Caller`]), may that
//! role do this ([`Caller::require`]), then one store call, whose scope check
//! decides which subjects. Request and response types are the API's own, so
//! a field added to the domain never leaks out by accident.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use custode_domain::{NewRecord, Operation, Role, SubjectId, TenantId, TenantKind};
use custode_policy::{Format, Lang, RopaFormat};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, Params};

pub(crate) fn parse_subject(id: &str) -> Result<SubjectId, ApiError> {
    SubjectId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The policy in force.
#[derive(Serialize, ToSchema)]
pub struct PolicyInfo {
    /// The controller's label for the version.
    pub version: String,
    /// SHA-256 of the policy file.
    pub digest: String,
    /// The date it applies from.
    pub effective: String,
    /// Notice languages.
    pub languages: Vec<String>,
    /// Purposes: id, legal basis, retention in words.
    pub purposes: Vec<PurposeInfo>,
}

/// A purpose, as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct PurposeInfo {
    /// Its id.
    pub id: String,
    /// Its legal basis (Art. 6(1)).
    pub basis: String,
    /// Its retention, in English words.
    pub retention: String,
}

/// The policy in force: version, digest, purposes.
#[utoipa::path(get, path = "/api/v1/policy", responses((status = 200, body = PolicyInfo)))]
pub async fn policy(State(state): State<AppState>) -> Json<PolicyInfo> {
    let p = state.store.policy();
    let c = custode_policy::Catalog::get(Lang::En);
    Json(PolicyInfo {
        version: p.meta.version.clone(),
        digest: p.digest.clone(),
        effective: p.meta.effective.clone(),
        languages: p
            .meta
            .languages
            .iter()
            .map(|l| l.code().to_owned())
            .collect(),
        purposes: p
            .purposes
            .iter()
            .map(|x| PurposeInfo {
                id: x.id.value.clone(),
                basis: x.basis.key().to_owned(),
                retention: custode_policy::retention_words(c, &x.retention),
            })
            .collect(),
    })
}

/// Query of the notice.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    /// it, en, fr or nl (default: the policy's first language).
    pub lang: Option<String>,
    /// `html` (default) or `md`.
    pub format: Option<String>,
}

/// The privacy notice (Art. 13/14), public.
#[utoipa::path(get, path = "/notice", params(NoticeQuery), responses((status = 200, description = "the notice", content_type = "text/html")))]
pub async fn notice(
    State(state): State<AppState>,
    Params(q): Params<NoticeQuery>,
) -> Result<Response, ApiError> {
    let p = state.store.policy();
    let lang = match q.lang.as_deref() {
        None => p.meta.languages[0],
        Some(code) => Lang::from_str(code).map_err(ApiError::bad_request)?,
    };
    let doc = custode_policy::notice(&p, lang)
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "No such language", e.to_string()))?;
    let (format, mime) = match q.format.as_deref() {
        None | Some("html") => (Format::Html, "text/html; charset=utf-8"),
        Some("md") => (Format::Markdown, "text/markdown; charset=utf-8"),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown format `{other}`: use html or md"
            )));
        }
    };
    Ok(([(header::CONTENT_TYPE, mime)], doc.render(format)).into_response())
}

/// Query of the record of processing.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RopaQuery {
    /// `json` (default), `csv`, `md` or `jsonld`.
    pub format: Option<String>,
    /// Language of labels and texts.
    pub lang: Option<String>,
}

/// The record of processing activities (Art. 30(1)).
#[utoipa::path(get, path = "/api/v1/policy/ropa", params(RopaQuery), responses((status = 200, description = "the record")), security(("token" = [])))]
pub async fn ropa(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<RopaQuery>,
) -> Result<Response, ApiError> {
    caller
        .require(&state, Operation::AuditLog, "read the record of processing")
        .await?;
    let p = state.store.policy();
    let lang = match q.lang.as_deref() {
        None => p.meta.languages[0],
        Some(code) => Lang::from_str(code).map_err(ApiError::bad_request)?,
    };
    let (format, mime) = match q.format.as_deref() {
        None | Some("json") => (RopaFormat::Json, "application/json"),
        Some("csv") => (RopaFormat::Csv, "text/csv; charset=utf-8"),
        Some("md") => (RopaFormat::Markdown, "text/markdown; charset=utf-8"),
        Some("jsonld") => (RopaFormat::JsonLd, "application/ld+json"),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown format `{other}`: use json, csv, md or jsonld"
            )));
        }
    };
    let body =
        custode_policy::ropa(&p, lang, format).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, mime)], body).into_response())
}

/// A new node of the tenancy tree.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// `provider`, `reseller`, `domain` or `subscriber`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The parent's id; none for the provider.
    pub parent: Option<String>,
}

/// A node of the tenancy tree.
#[derive(Serialize, ToSchema)]
pub struct TenantOut {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its parent.
    pub parent: Option<String>,
}

/// Creates a node of the tenancy tree.
#[utoipa::path(post, path = "/api/v1/tenants", request_body = NewTenant, responses((status = 201, body = TenantOut), (status = 403, body = crate::error::Problem)), security(("token" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Body(t): Body<NewTenant>,
) -> Result<(StatusCode, Json<TenantOut>), ApiError> {
    caller
        .require(&state, Operation::CreateTenant, "create tenants")
        .await?;
    let kind = TenantKind::from_name(&t.kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid body",
            format!(
                "unknown tenant kind `{}`: use provider, reseller, domain or subscriber",
                t.kind
            ),
        )
    })?;
    let parent = t
        .parent
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let created = state
        .store
        .create_tenant(&caller.0, parent.as_ref(), kind, &t.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantOut {
            id: created.id.to_string(),
            kind: created.kind.name().to_owned(),
            name: created.name,
            parent: created.parent.map(|p| p.to_string()),
        }),
    ))
}

/// Why a tenant is closed (audited).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseTenant {
    /// Why: the deactivation request, the contract's end.
    pub reason: String,
}

/// What closing a tenant did, in counts.
#[derive(Serialize, ToSchema)]
pub struct TenantClosureOut {
    /// The tenant.
    pub tenant: String,
    /// When it was closed (RFC 3339).
    pub closed_at: String,
    /// Whether an earlier call had closed it (this one finished what was
    /// left, if anything).
    pub already_closed: bool,
    /// Nodes closed: the tenant and those below it.
    pub tenants: u64,
    /// Subjects erased whole (keys destroyed).
    pub erased: u64,
    /// Subjects erased but for records a legal obligation keeps,
    /// restricted to that ground until its end.
    pub kept: u64,
    /// API tokens revoked.
    pub tokens_revoked: u64,
    /// Sessions ended.
    pub sessions_ended: u64,
    /// Users disabled.
    pub users_disabled: u64,
}

/// Closes a tenant and everything below it: every subject erased as the
/// policy allows, every credential scoped to it revoked, its name replaced
/// by `closed tenant <id>`, nothing new created under it. Idempotent: again
/// it finishes an interrupted close, or changes nothing.
#[utoipa::path(post, path = "/api/v1/tenants/{id}/close", params(("id" = String, Path)), request_body = CloseTenant, responses((status = 200, body = TenantClosureOut), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn close_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(c): Body<CloseTenant>,
) -> Result<Json<TenantClosureOut>, ApiError> {
    caller
        .require(&state, Operation::CloseTenant, "close tenants")
        .await?;
    let id = TenantId::parse(&id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let done = state
        .erasure
        .close_tenant(&caller.0, &id, &c.reason)
        .await?;
    Ok(Json(TenantClosureOut {
        tenant: done.tenant.to_string(),
        closed_at: done.closed_at.to_string(),
        already_closed: done.already_closed,
        tenants: done.tenants,
        erased: done.erased,
        kept: done.kept,
        tokens_revoked: done.tokens_revoked,
        sessions_ended: done.sessions_ended,
        users_disabled: done.users_disabled,
    }))
}

/// A new data subject.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubject {
    /// The tenant it hangs from.
    pub tenant: String,
    /// A subject kind of the policy.
    pub kind: String,
    /// Why it is created (audited).
    pub reason: String,
}

/// A data subject, without personal data.
#[derive(Serialize, ToSchema)]
pub struct SubjectOut {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Its tenant.
    pub tenant: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was erased, if it was.
    pub erased_at: Option<String>,
    /// How far it is erased: `none`, `partial` (records kept under a legal
    /// ground, readable only for it) or `erased`.
    pub erasure: String,
    /// For `partial`: when the last kept record goes (RFC 3339), absent
    /// while its end waits on an event.
    pub kept_until: Option<String>,
}

/// Creates a data subject.
#[utoipa::path(post, path = "/api/v1/subjects", request_body = NewSubject, responses((status = 201, body = SubjectOut)), security(("token" = [])))]
pub async fn create_subject(
    State(state): State<AppState>,
    caller: Caller,
    Body(s): Body<NewSubject>,
) -> Result<(StatusCode, Json<SubjectOut>), ApiError> {
    caller
        .require(&state, Operation::CreateSubject, "create subjects")
        .await?;
    let tenant = TenantId::parse(&s.tenant).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let id = state
        .store
        .create_subject(&caller.0, &tenant, &s.kind, &s.reason)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SubjectOut {
            id: id.to_string(),
            kind: s.kind,
            tenant: tenant.to_string(),
            created_at: state.clock_now(),
            erased_at: None,
            erasure: custode_store::ErasureState::None.name().to_owned(),
            kept_until: None,
        }),
    ))
}

/// Paging of subjects.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Return subjects after this id.
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// Find instead of list: `KIND:VALUE` with an identifier kind the
    /// policy declares (`email:mario.rossi@example.com`, `phone:+39…`);
    /// every match in scope at once, audited.
    pub identifier: Option<String>,
    /// With `identifier`: why (audited).
    pub reason: Option<String>,
}

/// A page of subjects.
#[derive(Serialize, ToSchema)]
pub struct SubjectPage {
    /// The subjects.
    pub items: Vec<SubjectOut>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Lists the subjects in the caller's scope; with `identifier`, finds
/// those it belongs to (a read of personal data, audited with `reason`).
#[utoipa::path(get, path = "/api/v1/subjects", params(Page), responses((status = 200, body = SubjectPage), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)), security(("token" = [])))]
pub async fn list_subjects(
    State(state): State<AppState>,
    caller: Caller,
    Params(page): Params<Page>,
) -> Result<Json<SubjectPage>, ApiError> {
    if let Some(identifier) = page.identifier.as_deref() {
        let paged = page.after.is_some() || page.limit.is_some();
        return crate::finding::find(&state, &caller, identifier, page.reason.as_deref(), paged)
            .await;
    }
    if page.reason.is_some() {
        return Err(ApiError::bad_request(
            "`reason` goes with `identifier`: a list reads no personal data",
        ));
    }
    caller
        .require(&state, Operation::ListSubjects, "list subjects")
        .await?;
    let limit = page.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 1000"));
    }
    let after = page.after.as_deref().map(parse_subject).transpose()?;
    let items = state
        .store
        .subjects(&caller.0, after.as_ref(), limit)
        .await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|s| s.id.to_string()))
        .flatten();
    Ok(Json(SubjectPage {
        items: items
            .into_iter()
            .map(|s| SubjectOut {
                id: s.id.to_string(),
                kind: s.kind,
                tenant: s.tenant.to_string(),
                created_at: s.created_at.to_string(),
                erased_at: s.erased_at.map(|t| t.to_string()),
                erasure: s.erasure.name().to_owned(),
                kept_until: match s.erasure {
                    custode_store::ErasureState::Partial { kept_until, .. } => {
                        kept_until.map(|t| t.to_string())
                    }
                    _ => None,
                },
            })
            .collect(),
        next,
    }))
}

/// A count.
#[derive(Serialize, ToSchema)]
pub struct Count {
    /// How many.
    pub count: u64,
}

/// Counts the subjects in the caller's scope.
#[utoipa::path(get, path = "/api/v1/subjects/count", responses((status = 200, body = Count)), security(("token" = [])))]
pub async fn count_subjects(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Count>, ApiError> {
    caller
        .require(&state, Operation::ListSubjects, "count subjects")
        .await?;
    Ok(Json(Count {
        count: state.store.count_subjects(&caller.0).await?,
    }))
}

/// Why personal data are read.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// The reason, recorded in the audit log with the reader.
    pub reason: String,
}

/// Why personal data are read, and for which purpose when only one is
/// meant (after a partial erasure, the ground that keeps them).
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    /// The reason, recorded in the audit log with the reader.
    pub reason: String,
    /// Read only the records serving this purpose, for it. The one way to
    /// read what a partial erasure kept (the DPO, for the kept ground).
    pub purpose: Option<String>,
}

/// A record, decrypted.
#[derive(Serialize, ToSchema)]
pub struct RecordOut {
    /// Its id.
    pub id: i64,
    /// The policy category.
    pub category: String,
    /// The field values.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Where it came from.
    pub source: String,
    /// The purposes it serves.
    pub purposes: Vec<String>,
    /// When it was collected.
    pub collected_at: String,
    /// When it will be erased, if already known.
    pub retain_until: Option<String>,
}

/// Reads a subject's records; the read is audited with the reason. After a
/// partial erasure the answer is 409 (saying for what, under which basis
/// and until when data are kept) unless the DPO reads for that ground
/// with `purpose`.
#[utoipa::path(get, path = "/api/v1/subjects/{id}/records", params(("id" = String, Path), RecordsQuery), responses((status = 200, body = Vec<RecordOut>), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 410, body = crate::error::Problem)), security(("token" = [])))]
pub async fn read_records(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<RecordsQuery>,
) -> Result<Response, ApiError> {
    caller
        .require(&state, Operation::ReadRecords, "read personal data")
        .await?;
    if q.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "give the `reason` for reading personal data",
        ));
    }
    let subject = parse_subject(&id)?;
    let records = match q.purpose.as_deref() {
        Some(purpose) => {
            state
                .store
                .records_json_for(&caller.0, &subject, purpose, &q.reason)
                .await?
        }
        None => {
            state
                .store
                .records_json(&caller.0, &subject, &q.reason)
                .await?
        }
    };
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        records_body(&records),
    )
        .into_response())
}

/// The JSON of `Vec<RecordOut>`, written directly: the sealed fields are
/// already a JSON object and go out as they are, so the hot read neither
/// parses them into maps nor serializes them again. Same bytes as
/// serializing [`RecordOut`]s (field order, compact, `null` for no end).
fn records_body(records: &[custode_store::RecordJson]) -> Vec<u8> {
    use std::io::Write;
    let mut out =
        Vec::with_capacity(2 + records.iter().map(|r| r.fields.len() + 256).sum::<usize>());
    // Strings go through serde_json for their escaping; writing to a Vec
    // cannot fail, and neither can serializing a `&str`.
    let string = |out: &mut Vec<u8>, s: &str| {
        let _ = serde_json::to_writer(&mut *out, s);
    };
    out.push(b'[');
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(out, "{{\"id\":{},\"category\":", r.id);
        string(&mut out, &r.category);
        out.extend_from_slice(b",\"fields\":");
        out.extend_from_slice(&r.fields);
        out.extend_from_slice(b",\"source\":");
        string(&mut out, &r.source);
        out.extend_from_slice(b",\"purposes\":[");
        for (j, p) in r.purposes.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            string(&mut out, p);
        }
        out.extend_from_slice(b"],\"collected_at\":");
        let _ = write!(out, "\"{}\"", r.collected_at);
        out.extend_from_slice(b",\"retain_until\":");
        match &r.retain_until {
            Some(t) => {
                let _ = write!(out, "\"{t}\"");
            }
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// A record to store.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordIn {
    /// A policy category.
    pub category: String,
    /// Field values by field id.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Where it came from.
    pub source: String,
    /// Purposes it serves; empty for all that cover it.
    #[serde(default)]
    pub purposes: Vec<String>,
}

/// Records to store for one subject.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordsIn {
    /// Why (audited).
    pub reason: String,
    /// The records (at most 10,000).
    pub records: Vec<RecordIn>,
}

/// Writes records for a subject, all or nothing.
#[utoipa::path(post, path = "/api/v1/subjects/{id}/records", params(("id" = String, Path)), request_body = RecordsIn, responses((status = 201, body = Count), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn write_records(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<RecordsIn>,
) -> Result<(StatusCode, Json<Count>), ApiError> {
    caller
        .require(&state, Operation::WriteRecords, "write personal data")
        .await?;
    let subject = parse_subject(&id)?;
    if body.records.len() > 10_000 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too many records",
            "send at most 10,000 records per request",
        ));
    }
    let batch = body
        .records
        .into_iter()
        .map(|r| {
            (
                subject.clone(),
                NewRecord {
                    category: r.category,
                    fields: r.fields,
                    source: r.source,
                    purposes: r.purposes,
                    collected_at: None,
                },
            )
        })
        .collect();
    let count = state
        .store
        .write_records(&caller.0, &body.reason, batch)
        .await?;
    Ok((StatusCode::CREATED, Json(Count { count })))
}

/// An erasure.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Erasure {
    /// Why (audited): the request id, the ground.
    pub reason: String,
}

/// Erases a subject by destroying its key.
#[utoipa::path(post, path = "/api/v1/subjects/{id}/erase", params(("id" = String, Path)), request_body = Erasure, responses((status = 204)), security(("token" = [])))]
pub async fn erase_subject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(e): Body<Erasure>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(&state, Operation::EraseSubject, "erase subjects")
        .await?;
    state
        .store
        .erase_subject(&caller.0, &parse_subject(&id)?, &e.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit chain's state.
#[derive(Serialize, ToSchema)]
pub struct AuditReport {
    /// Whether the chain is intact.
    pub intact: bool,
    /// Entries read.
    pub checked: u64,
    /// The last entry's position.
    pub last_seq: i64,
    /// Each break, in words.
    pub breaks: Vec<String>,
}

/// Verifies the audit chain and its signed checkpoints.
#[utoipa::path(get, path = "/api/v1/audit/verify", responses((status = 200, body = AuditReport)), security(("token" = [])))]
pub async fn audit_verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AuditReport>, ApiError> {
    caller
        .require(&state, Operation::AuditLog, "verify the audit log")
        .await?;
    let r = state.vault.audit_verify().await?;
    Ok(Json(AuditReport {
        intact: r.is_intact(),
        checked: r.checked,
        last_seq: r.last_seq,
        breaks: r.breaks.iter().map(ToString::to_string).collect(),
    }))
}

/// A new API token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The tenant it is bound to; none for the whole tree.
    pub tenant: Option<String>,
    /// For the subject role: the subject.
    pub subject: Option<String>,
    /// Days until it expires (default 90, at most 365).
    pub days: Option<u16>,
}

/// A token, shown once.
#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    /// Its id, for revocation.
    pub id: String,
    /// The token to present; it is not stored and cannot be shown again.
    pub token: String,
}

/// Issues an API token. Only roles that read no personal data: a token
/// that does is issued at the console (`custode tokens issue --holder`),
/// bound to its holder; asking for one here is refused and audited.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewToken, responses((status = 201, body = TokenOut), (status = 403, body = crate::error::Problem)), security(("token" = [])))]
pub async fn issue_token(
    State(state): State<AppState>,
    caller: Caller,
    Body(t): Body<NewToken>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    caller
        .require(&state, Operation::ManageAccess, "issue tokens")
        .await?;
    let role = Role::from_name(&t.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid body",
            format!("unknown role `{}`", t.role),
        )
    })?;
    let scope_path = match t.tenant.as_deref() {
        None => "/".to_owned(),
        Some(id) => {
            let tenant = TenantId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
            state.store.tenant(&caller.0, &tenant).await?.path
        }
    };
    let subject = t.subject.as_deref().map(parse_subject).transpose()?;
    if (role == Role::Subject) != subject.is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid body",
            "a `subject` is given exactly for the subject role",
        ));
    }
    let days = i64::from(t.days.unwrap_or(90));
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request("`days` must be between 1 and 365"));
    }
    let expires = state
        .store_now()
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .ok();
    let issued = state
        .accounts
        .issue_token(
            &caller.0,
            &t.name,
            &custode_accounts::Grant {
                role,
                scope_path,
                subject,
            },
            expires,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenOut {
            id: issued.id,
            token: issued.token,
        }),
    ))
}

/// A credential as the DPO reviews it; never its secret.
#[derive(Serialize, ToSchema)]
pub struct TokenListed {
    /// Its id (for revocation).
    pub id: String,
    /// What it is for.
    pub name: String,
    /// The person or system holding it.
    pub holder: Option<String>,
    /// Its role.
    pub role: String,
    /// The tenant it is bound to; none for the whole tree.
    pub tenant: Option<String>,
    /// For the subject role: the subject.
    pub subject: Option<String>,
    /// Who issued it (`cli:USER` is the local operator at the console).
    pub issued_by: String,
    /// When.
    pub issued_at: String,
    /// When it expires.
    pub expires_at: Option<String>,
    /// When it was last accepted, to the hour.
    pub last_used_at: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<String>,
}

impl From<custode_accounts::TokenInfo> for TokenListed {
    fn from(t: custode_accounts::TokenInfo) -> Self {
        TokenListed {
            id: t.id,
            name: t.name,
            holder: t.holder,
            role: t.role,
            // The path lists tenant ids from the root: the last is the node.
            tenant: t
                .scope_path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            subject: t.subject,
            issued_by: t.issued_by,
            issued_at: t.issued_at.to_string(),
            expires_at: t.expires_at.map(|x| x.to_string()),
            last_used_at: t.last_used_at.map(|x| x.to_string()),
            revoked_at: t.revoked_at.map(|x| x.to_string()),
        }
    }
}

/// Lists the credentials issued in the caller's scope, with their holders
/// and last use (the DPO's and the administrator's review).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = [TokenListed]), (status = 403, body = crate::error::Problem)), security(("token" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenListed>>, ApiError> {
    caller
        .require(
            &state,
            Operation::ReviewAccess,
            "review the credentials issued",
        )
        .await?;
    let tokens = state.accounts.list_tokens(&caller.0).await?;
    Ok(Json(tokens.into_iter().map(TokenListed::from).collect()))
}

/// The first administrator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// The one-time token `custode serve` printed at first start.
    pub setup_token: String,
    /// The administrator's user name.
    pub username: String,
    /// The password (at least 12 characters).
    pub password: String,
}

/// Uses the one-time setup token to create the first administrator, and
/// returns an administrator API token.
#[utoipa::path(post, path = "/api/v1/setup", request_body = Setup, responses((status = 201, body = TokenOut), (status = 401, body = crate::error::Problem)))]
pub async fn setup(
    State(state): State<AppState>,
    Body(s): Body<Setup>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    let _user = state
        .accounts
        .complete_setup(&s.setup_token, &s.username, &s.password)
        .await?;
    let admin = state
        .accounts
        .authenticate_password(&s.username, &s.password)
        .await?;
    let grant = custode_accounts::Grant {
        role: Role::Administrator,
        scope_path: "/".to_owned(),
        subject: None,
    };
    let expires = state
        .store_now()
        .checked_add(jiff::SignedDuration::from_hours(24 * 30))
        .ok();
    let issued = state
        .accounts
        .issue_token(&admin, "first administrator", &grant, expires)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenOut {
            id: issued.id,
            token: issued.token,
        }),
    ))
}

/// The policy put in force by a reload.
#[derive(Serialize, ToSchema)]
pub struct Reloaded {
    /// SHA-256 of the policy now in force.
    pub digest: String,
    /// Consent purposes the new version changed: consents given to them
    /// before no longer count until given again (see
    /// `/api/v1/consent/reconsent`).
    pub reconsent: Vec<String>,
}

/// Re-reads the policy file; an invalid one is refused and the policy in
/// force stays.
#[utoipa::path(post, path = "/api/v1/policy/reload", responses((status = 200, body = Reloaded), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn reload_policy(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Reloaded>, ApiError> {
    caller
        .require(&state, Operation::ManagePolicy, "change the policy")
        .await?;
    let (digest, reconsent) = state.reload_policy(&caller.0).await?;
    Ok(Json(Reloaded { digest, reconsent }))
}

/// Credentials for a person.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// The current code of the authenticator app: required for the
    /// administrator, the DPO and the legal officer.
    pub totp: Option<String>,
}

/// An open session. The session itself is in an HttpOnly cookie.
#[derive(Serialize, ToSchema)]
pub struct LoggedIn {
    /// Send as `X-CSRF-Token` with every request that changes something.
    pub csrf_token: String,
    /// The role.
    pub role: String,
    /// When the session ends.
    pub expires_at: String,
}

/// Logs a person in: sets a Secure, HttpOnly, SameSite=Strict session
/// cookie. Failed attempts are audited and limited per user name.
#[utoipa::path(post, path = "/api/v1/login", request_body = Login, responses((status = 200, body = LoggedIn), (status = 401, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    Body(l): Body<Login>,
) -> Result<Response, ApiError> {
    state.attempts.check_user(&l.username)?;
    match state
        .accounts
        .login(&l.username, &l.password, l.totp.as_deref())
        .await
    {
        Ok(session) => {
            state.attempts.clear_user(&l.username);
            let cookie = format!(
                "{}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
                crate::extract::SESSION_COOKIE,
                session.id,
                custode_accounts::SESSION_HOURS * 3600
            );
            let body = LoggedIn {
                csrf_token: session.csrf,
                role: session.principal.role.name().to_owned(),
                expires_at: session.expires_at.to_string(),
            };
            Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
        }
        Err(e) => {
            state.attempts.fail_user(&l.username);
            Err(e.into())
        }
    }
}

/// Ends the session of the cookie.
#[utoipa::path(post, path = "/api/v1/logout", responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    parts: axum::http::request::Parts,
) -> Result<Response, ApiError> {
    let _ = caller;
    if let Some(id) = crate::extract::session_cookie(&parts) {
        state.accounts.logout(&id).await?;
    }
    let clear = format!(
        "{}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        crate::extract::SESSION_COOKIE
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// Password, to start a second-factor enrolment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

/// A second factor to add to an authenticator app.
#[derive(Serialize, ToSchema)]
pub struct Enrolled {
    /// The secret, in base32.
    pub secret: String,
    /// The `otpauth://` URI (for a QR code).
    pub uri: String,
}

/// Starts a TOTP enrolment: the secret is shown once, and becomes active
/// with the first code confirmed.
#[utoipa::path(post, path = "/api/v1/totp/enroll", request_body = Enroll, responses((status = 201, body = Enrolled), (status = 401, body = crate::error::Problem)))]
pub async fn totp_enroll(
    State(state): State<AppState>,
    Body(e): Body<Enroll>,
) -> Result<(StatusCode, Json<Enrolled>), ApiError> {
    state.attempts.check_user(&e.username)?;
    match state.accounts.enroll_totp(&e.username, &e.password).await {
        Ok((secret, uri)) => Ok((StatusCode::CREATED, Json(Enrolled { secret, uri }))),
        Err(err) => {
            state.attempts.fail_user(&e.username);
            Err(err.into())
        }
    }
}

/// A first code, to confirm an enrolment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// The code the authenticator shows now.
    pub code: String,
}

/// Confirms a TOTP enrolment with a first code.
#[utoipa::path(post, path = "/api/v1/totp/confirm", request_body = Confirm, responses((status = 204), (status = 401, body = crate::error::Problem)))]
pub async fn totp_confirm(
    State(state): State<AppState>,
    Body(c): Body<Confirm>,
) -> Result<StatusCode, ApiError> {
    state.attempts.check_user(&c.username)?;
    match state
        .accounts
        .confirm_totp(&c.username, &c.password, &c.code)
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(err) => {
            state.attempts.fail_user(&c.username);
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written body is byte for byte what serializing the
    /// documented `RecordOut`s gives, escapes and nesting included.
    #[test]
    fn records_body_is_the_serialized_record_out() {
        let fields: BTreeMap<String, serde_json::Value> = serde_json::from_str(
            r#"{"a":"quote \" back \\ tab \t é \u0001","n":[1,2.5,-3e-7,null,true],"o":{"z":1,"a":{}}}"#,
        )
        .expect("json");
        let at: jiff::Timestamp = "2026-11-23T01:02:03.456789Z".parse().expect("time");
        let records = vec![
            custode_store::RecordJson {
                id: 7,
                category: "usage \"x\"".into(),
                fields: serde_json::to_vec(&fields).expect("json"),
                source: "dove\ncot".into(),
                purposes: vec!["a".into(), "b\\".into()],
                collected_at: at,
                retain_until: Some(at),
            },
            custode_store::RecordJson {
                id: 8,
                category: "c".into(),
                fields: b"{}".to_vec(),
                source: String::new(),
                purposes: vec![],
                collected_at: at,
                retain_until: None,
            },
        ];
        let expected: Vec<RecordOut> = records
            .iter()
            .map(|r| RecordOut {
                id: r.id,
                category: r.category.clone(),
                fields: serde_json::from_slice(&r.fields).expect("json"),
                source: r.source.clone(),
                purposes: r.purposes.clone(),
                collected_at: r.collected_at.to_string(),
                retain_until: r.retain_until.map(|t| t.to_string()),
            })
            .collect();
        assert_eq!(
            String::from_utf8(records_body(&records)).expect("utf-8"),
            serde_json::to_string(&expected).expect("json")
        );
        assert_eq!(records_body(&[]), b"[]");
    }
}
