//! Finding people and reading what was done with their data: a subject
//! by an identifier (`GET /api/v1/subjects?identifier=KIND:VALUE`), the
//! tenancy tree with its counts (`GET /api/v1/tenants`), and a subject's
//! audit trail (`GET /api/v1/subjects/{id}/audit`, JSON or CSV). Every
//! rule (declared kinds, scope, what a subject's own view shows, the
//! audit of each read) is the store's.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use custode_domain::{Operation, TenantId};
use custode_store::{StoreError, SubjectSummary};
use custode_trail::{TrailFilter, TrailView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{SubjectOut, SubjectPage, parse_subject};
use crate::error::ApiError;
use crate::extract::{Caller, Params};

/// Bad input the store found (an undeclared identifier kind, a bad
/// filter) is the caller's request, so a 400; the rest as usual.
fn bad_request_if_invalid(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(m) => ApiError::bad_request(m),
        e => e.into(),
    }
}

fn subject_out(s: SubjectSummary) -> SubjectOut {
    SubjectOut {
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
    }
}

/// `GET /api/v1/subjects?identifier=KIND:VALUE&reason=…`: the subjects in
/// the caller's scope that the identifier belongs to, every one at once.
pub(crate) async fn find(
    state: &AppState,
    caller: &Caller,
    identifier: &str,
    reason: Option<&str>,
    paged: bool,
) -> Result<Json<SubjectPage>, ApiError> {
    caller
        .require(
            state,
            Operation::FindSubjects,
            "find subjects by identifier",
        )
        .await?;
    let Some((kind, value)) = identifier.split_once(':') else {
        return Err(ApiError::bad_request(format!(
            "`identifier` is KIND:VALUE, e.g. `email:mario.rossi@example.com`; the policy declares {}",
            custode_finding::declared_identifier_kinds(&state.store.policy()).join(", ")
        )));
    };
    if paged {
        return Err(ApiError::bad_request(
            "a find answers every match at once: leave out `after` and `limit`",
        ));
    }
    let Some(reason) = reason.filter(|r| !r.trim().is_empty()) else {
        return Err(ApiError::bad_request(
            "give the `reason` for looking someone up (it is recorded in the audit log)",
        ));
    };
    let found = state
        .finder
        .find_by_identifier(&caller.0, kind.trim(), value, reason)
        .await
        .map_err(bad_request_if_invalid)?;
    Ok(Json(SubjectPage {
        items: found.into_iter().map(subject_out).collect(),
        next: None,
    }))
}

/// Paging of the tenancy tree.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TenantsQuery {
    /// Return tenants after this one (in tree order).
    pub after: Option<String>,
    /// At most this many (1 to 10000, default 1000).
    pub limit: Option<u32>,
}

/// A node of the tenancy tree with its counts.
#[derive(Serialize, ToSchema)]
pub struct TenantListedOut {
    /// Its id.
    pub id: String,
    /// `provider`, `reseller`, `domain` or `subscriber`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its parent, absent for the provider.
    pub parent: Option<String>,
    /// Its ids from the root, `/p/r/d/`.
    pub path: String,
    /// When it was closed (RFC 3339), if it was.
    pub closed_at: Option<String>,
    /// Subjects hanging directly from it, not erased, by subject kind.
    pub subjects: BTreeMap<String, u64>,
    /// Its direct children, by tenant kind.
    pub children: BTreeMap<String, u64>,
}

/// A page of the tenancy tree.
#[derive(Serialize, ToSchema)]
pub struct TenantPage {
    /// The tenants, each after its parent.
    pub items: Vec<TenantListedOut>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Lists the tenancy tree within the caller's scope, with subjects by kind
/// and children by kind for each node: a reseller sees itself and its
/// domains, nothing else.
#[utoipa::path(get, path = "/api/v1/tenants", params(TenantsQuery), responses((status = 200, body = TenantPage), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<TenantsQuery>,
) -> Result<Json<TenantPage>, ApiError> {
    caller
        .require(&state, Operation::ListTenants, "list tenants")
        .await?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 10000"));
    }
    let after = q
        .after
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let listed = state
        .finder
        .list_tenants(&caller.0, after.as_ref(), limit)
        .await?;
    let next = (listed.len() == limit as usize)
        .then(|| listed.last().map(|t| t.tenant.id.to_string()))
        .flatten();
    Ok(Json(TenantPage {
        items: listed
            .into_iter()
            .map(|t| TenantListedOut {
                id: t.tenant.id.to_string(),
                kind: t.tenant.kind.name().to_owned(),
                name: t.tenant.name,
                parent: t.tenant.parent.map(|p| p.to_string()),
                path: t.tenant.path,
                closed_at: t.closed_at.map(|c| c.to_string()),
                subjects: t.subjects,
                children: t.children,
            })
            .collect(),
        next,
    }))
}

/// What part of a trail, and in which format.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TrailQuery {
    /// Only entries by this actor (`user:…`, `token:…`, `job:…`, `cli:…`);
    /// staff only.
    pub actor: Option<String>,
    /// Only entries of this action (`records.read`, `records.written`, ...).
    pub action: Option<String>,
    /// From this instant (RFC 3339) or day (`2026-01-31`, UTC).
    pub from: Option<String>,
    /// Up to this instant or day, inclusive.
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Entries after this position (the previous page's `next`).
    pub after: Option<String>,
    /// At most this many entries read (1 to 10000, default 1000).
    pub limit: Option<u32>,
    /// Why the trail is read (audited); `audit trail consulted` when left out.
    pub reason: Option<String>,
    /// `subject`: what the subject itself would see (staff only; a
    /// subject always gets its own view).
    pub view: Option<String>,
}

/// One entry of a subject's trail.
#[derive(Serialize, ToSchema)]
pub struct TrailEntryOut {
    /// Its position in the audit chain.
    pub seq: i64,
    /// When (RFC 3339).
    pub at: String,
    /// `read`, `change`, `request`, `refused` or `other`.
    pub kind: String,
    /// The action as the audit chain names it.
    pub action: String,
    /// The actor's role (its current one); `operator` for the local
    /// operator, `system` for a job.
    pub role: String,
    /// Why, as the actor gave it: the purpose of a consultation.
    pub reason: Option<String>,
    /// The categories of data concerned, where the entry names them.
    pub categories: Vec<String>,
    /// How many records, where the entry counts them.
    pub records: Option<u64>,
    /// Who (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The actor's name: a user's, a token's holder (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The entry's detail as recorded (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

/// A page of a subject's audit trail.
#[derive(Serialize, ToSchema)]
pub struct TrailOut {
    /// Whose.
    pub subject: String,
    /// `staff` or `subject`.
    pub view: String,
    /// The entries, oldest first.
    pub entries: Vec<TrailEntryOut>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
    /// What the subject's view leaves out, and why.
    pub note: Option<String>,
}

/// A subject's audit trail: who read or changed its data, when, in which
/// role and why. The DPO reads any in scope, with actors named; a subject
/// reads its own (another is not found), by role and purpose without
/// staff names. Audited as a read. `format=csv` answers `text/csv`.
#[utoipa::path(get, path = "/api/v1/subjects/{id}/audit", params(("id" = String, Path), TrailQuery), responses((status = 200, description = "the trail: JSON, or CSV with `format=csv`", content((TrailOut = "application/json"), (String = "text/csv"))), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn trail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<TrailQuery>,
) -> Result<Response, ApiError> {
    caller
        .require(&state, Operation::ReadTrail, "read audit trails")
        .await?;
    let subject = parse_subject(&id)?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown `format` `{other}`: use json or csv"
            )));
        }
    };
    let as_subject = match q.view.as_deref() {
        None | Some("staff") => false,
        Some("subject") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown `view` `{other}`: use staff or subject"
            )));
        }
    };
    let limit = q.limit.unwrap_or(1000);
    if !(1..=custode_trail::TRAIL_PAGE_MAX).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {}",
            custode_trail::TRAIL_PAGE_MAX
        )));
    }
    let after =
        q.after
            .as_deref()
            .map(|a| {
                a.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    ApiError::bad_request("`after` is the `next` of the previous page")
                })
            })
            .transpose()?;
    let filter = TrailFilter {
        actor: q.actor,
        action: q.action,
        from: q
            .from
            .as_deref()
            .map(custode_trail::parse_from)
            .transpose()
            .map_err(bad_request_if_invalid)?,
        until: q
            .to
            .as_deref()
            .map(custode_trail::parse_until)
            .transpose()
            .map_err(bad_request_if_invalid)?,
        after,
        limit,
        as_subject,
    };
    let reason = q
        .reason
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "audit trail consulted".to_owned());
    let trail = state
        .trail
        .subject_trail(&caller.0, &subject, &filter, &reason)
        .await
        .map_err(bad_request_if_invalid)?;
    if csv {
        let body = trail.to_csv()?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"audit-trail-{subject}.csv\""),
                ),
            ],
            body,
        )
            .into_response());
    }
    let staff = trail.view == TrailView::Staff;
    Ok(Json(TrailOut {
        subject: trail.subject.to_string(),
        view: trail.view.name().to_owned(),
        entries: trail
            .entries
            .into_iter()
            .map(|e| TrailEntryOut {
                seq: e.seq,
                at: e.at.to_string(),
                kind: e.kind.to_owned(),
                action: e.action,
                role: e.role,
                reason: e.reason,
                categories: e.categories,
                records: e.records,
                actor: e.actor.filter(|_| staff),
                actor_name: e.actor_name.filter(|_| staff),
                detail: e.detail.filter(|_| staff),
            })
            .collect(),
        next: trail.next.map(|n| n.to_string()),
        note: trail.note.map(str::to_owned),
    })
    .into_response())
}
