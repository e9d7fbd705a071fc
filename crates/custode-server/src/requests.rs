//! The rights-requests face: intake, the list by urgency, extension, the
//! identity check (a code by mail, or documents a staff member approves),
//! queuing the fulfilment, the packages, the Art. 19 notices to recipients
//! (mailed, or confirmed by staff), and the answer. Every rule lives in the
//! store; this face checks the role, sends mail, and shapes JSON.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use custode_domain::Operation;
use custode_domain::requests::Right;
use custode_requests::{
    Attestation, Correction, DocumentKind, FulfilmentInput, Identity, NewRequest, Outcome,
    RequestByIdentity, RequestSummary, Requester,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::parse_subject;
use crate::error::ApiError;
use crate::extract::{Body, Caller, Params};

/// A rights request: for a subject id, or for the person an identifier
/// belongs to (exactly one of `subject` and `identifier`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestIn {
    /// The subject it concerns.
    pub subject: Option<String>,
    /// Instead of `subject`: the e-mail address, phone number or other
    /// identifier the requester gave. The subject known by it in your
    /// scope is used; none known, one is made for the request, and the
    /// provider's systems are searched when it is fulfilled (a person
    /// known nowhere is answered "we hold nothing about you").
    pub identifier: Option<IdentifierIn>,
    /// With `identifier`: the tenant to look in, and where a person not
    /// found is put (default: the root of your scope).
    pub tenant: Option<String>,
    /// With `identifier`: the subject kind of a person not found (default:
    /// the policy's first kind that may hang from the tenant).
    pub subject_kind: Option<String>,
    /// `access`, `rectification`, `erasure`, `restriction`, `portability`,
    /// `objection`, `consent_withdrawal`, `human_review`.
    pub rights: Vec<String>,
    /// The delegate's name when someone asks for the subject.
    pub delegate: Option<String>,
    /// How to reach the requester; with an e-mail `identifier`, that
    /// address when not given.
    pub contact: Option<String>,
    /// The request in the requester's words.
    #[serde(default)]
    pub text: String,
    /// The requester's language (one of the policy's; its first when not
    /// given): codes, packages and the answer use it.
    pub language: Option<String>,
}

/// An identifier a request is filed with.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierIn {
    /// `email`, `phone`, or another identifier kind the policy declares
    /// (`customer_code`, `tax_code`...).
    pub kind: String,
    /// The value as the requester gave it.
    pub value: String,
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
    /// `unverified` or `verified`.
    pub identity: String,
    /// How the identity was checked: `email_code`, `id_document`,
    /// `proxy_and_delegate_id`.
    pub identity_method: Option<String>,
    /// The requester's language.
    pub language: String,
    /// `accepted`, `partially_accepted` or `refused`, once answered.
    pub outcome: Option<String>,
    /// The fulfilment of each right, in the order it runs.
    pub jobs: Vec<JobOut>,
    /// For a request just filed by identifier: `custode` when a subject
    /// was known by it, `created` when one was made for the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

/// The fulfilment of one right.
#[derive(Serialize, ToSchema)]
pub struct JobOut {
    /// The right.
    pub right: String,
    /// Steps done.
    pub step: u32,
    /// Steps in all.
    pub steps: u32,
    /// `pending`, `done` or `cancelled`.
    pub state: String,
    /// Failed tries of the current step.
    pub attempts: u32,
    /// Why the last try failed: a pending job with an error is retried
    /// with a growing pause, and shown here until it succeeds.
    pub last_error: Option<String>,
    /// When the next try is due.
    pub next_at: String,
    /// What was done (counts, what was kept and why, recipients to tell).
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
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
        identity: r.identity,
        identity_method: r.identity_method,
        language: r.language,
        outcome: r.outcome,
        jobs: r
            .jobs
            .into_iter()
            .map(|j| JobOut {
                right: j.right,
                step: j.step,
                steps: j.steps,
                state: j.state,
                attempts: j.attempts,
                last_error: j.last_error,
                next_at: j.next_at.to_string(),
                result: j.result,
            })
            .collect(),
        found: None,
    }
}

/// A language code given by a caller, checked against the policy's.
pub(crate) fn language(
    state: &AppState,
    code: Option<&str>,
) -> Result<Option<custode_policy::Lang>, ApiError> {
    let policy = state.store.policy();
    code.map(|code| {
        custode_policy::Lang::parse(code)
            .filter(|l| policy.meta.languages.contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`{code}` is not a language of the policy ({})",
                    policy.meta.language_codes()
                ))
            })
    })
    .transpose()
}

/// Files a rights request; its deadline is fixed at receipt.
#[utoipa::path(post, path = "/api/v1/requests", request_body = RequestIn, responses((status = 201, body = RequestOut), (status = 400, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
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
                        .map(|r| r.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let requester = match input.delegate {
        Some(name) => Requester::Delegate { name },
        None => Requester::Subject,
    };
    let lang = language(&state, input.language.as_deref())?;
    let (subject, identifier) = match (input.subject, input.identifier) {
        (Some(s), None) => (s, None),
        (None, Some(i)) => (String::new(), Some(i)),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `subject` (a subject id) and `identifier` (`kind` and `value`)",
            ));
        }
    };
    let Some(identifier) = identifier else {
        if input.tenant.is_some() || input.subject_kind.is_some() {
            return Err(ApiError::bad_request(
                "`tenant` and `subject_kind` go with `identifier` only",
            ));
        }
        let filed = state
            .requests
            .file_request(
                &caller.0,
                NewRequest {
                    subject: parse_subject(&subject)?,
                    rights,
                    requester,
                    contact: input.contact.unwrap_or_default(),
                    text: input.text,
                    language: lang,
                },
            )
            .await?;
        return Ok((StatusCode::CREATED, Json(out(filed))));
    };
    let identity = Identity::parse(&state.store.policy(), &identifier.kind, &identifier.value)
        .map_err(|e| ApiError::bad_request(format!("identifier: {e}")))?;
    let tenant = input
        .tenant
        .as_deref()
        .map(|t| {
            custode_domain::TenantId::parse(t)
                .map_err(|e| ApiError::bad_request(format!("tenant: {e}")))
        })
        .transpose()?;
    let filed = state
        .requests
        .file_request_by_identity(
            &caller.0,
            RequestByIdentity {
                identity,
                tenant,
                subject_kind: input.subject_kind,
                rights,
                requester,
                contact: input.contact,
                text: input.text,
                language: lang,
            },
        )
        .await?;
    let mut body = out(filed.request);
    body.found = Some(filed.found.to_owned());
    Ok((StatusCode::CREATED, Json(body)))
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
        .requests
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

/// An extension, and whether its reasons reached the requester.
#[derive(Serialize, ToSchema)]
pub struct ExtendOut {
    /// The request, with its new deadline.
    pub request: RequestOut,
    /// Whether the reasons were mailed to the requester's contact; when
    /// not, staff send them.
    pub mailed: bool,
    /// Why they were not mailed.
    pub mail_error: Option<String>,
}

/// Extends a request by two months (Art. 12(3)), only during its first
/// month and with reasons, which are mailed to the requester.
#[utoipa::path(post, path = "/api/v1/requests/{id}/extend", params(("id" = String, Path)), request_body = ExtendIn, responses((status = 200, body = ExtendOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn extend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<ExtendIn>,
) -> Result<Json<ExtendOut>, ApiError> {
    caller
        .require(&state, Operation::HandleRequests, "extend rights requests")
        .await?;
    let (extended, mail_error) = extend_and_tell(&state, &caller.0, &id, &input.reason).await?;
    Ok(Json(ExtendOut {
        request: out(extended),
        mailed: mail_error.is_none(),
        mail_error,
    }))
}

/// Extends a request (the capability's rule) and mails its reasons and new
/// deadline to the requester in the requester's language: the API and the
/// console's workbench both call this. The error is the mail's, when it
/// did not leave (the extension stands).
pub async fn extend_and_tell(
    state: &AppState,
    by: &custode_domain::Principal,
    id: &str,
    reason: &str,
) -> Result<(RequestSummary, Option<String>), custode_store::StoreError> {
    let extended = state.requests.extend_request(by, id, reason).await?;
    let mail_error = match &state.mailer {
        None => Some("this instance has no mail relay".to_owned()),
        Some(mailer) => {
            let (contact, language) = state.requests.requester_contact(by, id).await?;
            let policy = state.store.policy();
            let lang = language
                .as_deref()
                .and_then(custode_policy::Lang::parse)
                .unwrap_or(policy.meta.languages[0]);
            let (title, body) = custode_policy::extension_message(
                &policy,
                lang,
                id,
                reason,
                &extended.due.to_string(),
            );
            mailer
                .send(&contact, &title, body)
                .await
                .err()
                .map(|e| e.to_string())
        }
    };
    Ok((extended, mail_error))
}

/// One request.
#[utoipa::path(get, path = "/api/v1/requests/{id}", params(("id" = String, Path)), responses((status = 200, body = RequestOut), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RequestOut>, ApiError> {
    caller
        .require(&state, Operation::FileRequest, "see rights requests")
        .await?;
    Ok(Json(out(state.requests.request(&caller.0, &id).await?)))
}

/// Where a code went.
#[derive(Serialize, ToSchema)]
pub struct CodeSent {
    /// When the code stops working.
    pub expires_at: String,
}

/// Sends a one-time code to the request's contact, which must be an
/// e-mail address the subject is known by. For requests filed by the
/// subject; a delegate is checked on documents.
#[utoipa::path(post, path = "/api/v1/requests/{id}/code", params(("id" = String, Path)), responses((status = 202, body = CodeSent), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem), (status = 502, body = crate::error::Problem)), security(("token" = [])))]
pub async fn send_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CodeSent>), ApiError> {
    caller
        .require(
            &state,
            Operation::FileRequest,
            "check a requester's identity",
        )
        .await?;
    let Some(mailer) = state.mailer.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "No mail relay",
            "this instance has no mail relay (serve --smtp smtp://host:port): check the identity with an ID document instead",
        ));
    };
    let code = state.requests.issue_code(&caller.0, &id).await?;
    let policy = state.store.policy();
    let lang = language(&state, code.language.as_deref())
        .ok()
        .flatten()
        .unwrap_or(policy.meta.languages[0]);
    let expires = code
        .expires_at
        .to_zoned(
            jiff::tz::TimeZone::get(custode_domain::records::zone_for(&policy.meta.jurisdiction))
                .unwrap_or(jiff::tz::TimeZone::UTC),
        )
        .strftime("%H:%M")
        .to_string();
    let (subject, body) = custode_policy::code_message(&policy, lang, &id, &code.code, &expires);
    mailer
        .send(&code.email, &subject, body)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "Mail not sent", e.to_string()))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            expires_at: code.expires_at.to_string(),
        }),
    ))
}

/// A code to check.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeIn {
    /// The six digits received by mail.
    pub code: String,
}

/// Checks the code: a wrong one counts against five attempts; expired,
/// exhausted or used codes are refused. Every refusal is audited.
#[utoipa::path(post, path = "/api/v1/requests/{id}/verify", params(("id" = String, Path)), request_body = CodeIn, responses((status = 200, body = RequestOut), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn verify_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<CodeIn>,
) -> Result<Json<RequestOut>, ApiError> {
    caller
        .require(
            &state,
            Operation::FileRequest,
            "check a requester's identity",
        )
        .await?;
    state
        .requests
        .check_code(&caller.0, &id, &input.code)
        .await?;
    Ok(Json(out(state.requests.request(&caller.0, &id).await?)))
}

fn document_kind(kind: &str) -> Result<DocumentKind, ApiError> {
    DocumentKind::from_name(kind).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown document `{kind}`: use {}",
            DocumentKind::ALL
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Uploads an ID document (`id_document`), or for a delegate the proxy
/// (`proxy`) and the delegate's ID (`delegate_id`): the raw file as the
/// body, a PDF, JPEG or PNG (read from its first bytes; a declared
/// `Content-Type` must agree). Sealed at rest; deleted when the request is
/// answered.
#[utoipa::path(put, path = "/api/v1/requests/{id}/documents/{kind}", params(("id" = String, Path), ("kind" = String, Path)), request_body(content(("application/pdf"), ("image/jpeg"), ("image/png"), ("application/octet-stream")), description = "the file; its type is read from its first bytes, and a declared type must agree"), responses((status = 204), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn put_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, kind)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    caller
        .require(
            &state,
            Operation::FileRequest,
            "send documents for a request",
        )
        .await?;
    let kind = document_kind(&kind)?;
    let media_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    state
        .requests
        .put_document(&caller.0, &id, kind, &media_type, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opens a document for the staff member checking it (audited).
#[utoipa::path(get, path = "/api/v1/requests/{id}/documents/{kind}", params(("id" = String, Path), ("kind" = String, Path)), responses((status = 200, description = "the document", content_type = "application/pdf"), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn get_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, kind)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    caller
        .require(
            &state,
            Operation::HandleRequests,
            "check requesters' documents",
        )
        .await?;
    let d = state
        .requests
        .document(&caller.0, &id, document_kind(&kind)?)
        .await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, d.media_type),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        d.bytes,
    )
        .into_response())
}

/// A staff member approves the identity after checking the documents: the
/// subject's ID, or for a delegate the proxy and the delegate's ID.
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve-identity", params(("id" = String, Path)), responses((status = 200, body = RequestOut), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn approve_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RequestOut>, ApiError> {
    caller
        .require(
            &state,
            Operation::HandleRequests,
            "approve requesters' identity",
        )
        .await?;
    state.requests.approve_identity(&caller.0, &id).await?;
    Ok(Json(out(state.requests.request(&caller.0, &id).await?)))
}

/// How the requester's identity was verified elsewhere.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestIn {
    /// How (`logged in to the self-care portal`, `ID card at the shop`).
    pub method: String,
    /// Who verified: the system or the staff member.
    pub verified_by: String,
    /// The reference of the check there (a session, a ticket).
    pub reference: String,
}

/// A trusted system or staff member attests that the requester's identity
/// was verified elsewhere, instead of a code or documents: only the roles
/// the policy's `[rights] attest_roles` names (none by default); a refusal
/// is audited and changes nothing.
#[utoipa::path(post, path = "/api/v1/requests/{id}/attest-identity", params(("id" = String, Path)), request_body = AttestIn, responses((status = 200, body = RequestOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn attest_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<AttestIn>,
) -> Result<Json<RequestOut>, ApiError> {
    caller
        .require(
            &state,
            Operation::HandleRequests,
            "attest requesters' identity",
        )
        .await?;
    let attested = state
        .requests
        .attest_identity(
            &caller.0,
            &id,
            Attestation {
                method: input.method,
                verified_by: input.verified_by,
                reference: input.reference,
            },
        )
        .await?;
    Ok(Json(out(attested)))
}

/// A correction of one record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionIn {
    /// The record id.
    pub record: i64,
    /// The fields' new values.
    #[schema(value_type = Object)]
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
}

/// What the fulfilment needs besides the request itself.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FulfilIn {
    /// Rectification: the corrections.
    #[serde(default)]
    pub corrections: Vec<CorrectionIn>,
    /// Objection: purposes objected to; none means all direct marketing.
    #[serde(default)]
    pub object_to: Vec<String>,
    /// Withdrawal: purposes; none means every consent given.
    #[serde(default)]
    pub withdraw: Vec<String>,
}

/// Queues the fulfilment of a verified request: one durable job per right,
/// run in order (packages before any erasure), resumed after a crash,
/// retried on failure; follow them in the request's `jobs`. Queuing again
/// changes nothing.
#[utoipa::path(post, path = "/api/v1/requests/{id}/fulfil", params(("id" = String, Path)), request_body = FulfilIn, responses((status = 202, body = RequestOut), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn fulfil(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<FulfilIn>,
) -> Result<(StatusCode, Json<RequestOut>), ApiError> {
    caller
        .require(
            &state,
            Operation::HandleRequests,
            "carry out rights requests",
        )
        .await?;
    // The store refuses an erasure request to a role that may not erase.
    let queued = state
        .requests
        .queue_fulfilment(
            &caller.0,
            &id,
            FulfilmentInput {
                corrections: input
                    .corrections
                    .into_iter()
                    .map(|c| Correction {
                        record: c.record,
                        fields: c.fields,
                    })
                    .collect(),
                object_to: input.object_to,
                withdraw: input.withdraw,
            },
        )
        .await?;
    state.jobs_queued.notify_one();
    Ok((StatusCode::ACCEPTED, Json(out(queued))))
}

/// Which package.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `access` (default) or `portability`.
    pub right: Option<String>,
}

/// The package of a request, once its job is done: for access, a ZIP with
/// every record as JSON and CSV, the consent ledger and the Art. 15
/// summary in the requester's language; for portability, the data the
/// person provided, on consent or contract. Vault-held data are never in
/// it. Staff who handle requests, or the subject itself, download it. Deleted
/// when the request is answered.
#[utoipa::path(get, path = "/api/v1/requests/{id}/export", params(("id" = String, Path), ExportQuery), responses((status = 200, description = "the package", content_type = "application/zip"), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("token" = [])))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    // Staff who handle requests, or the data subject itself (its scope is
    // itself alone); not the admins of a domain or a reseller.
    let op = if caller.0.role == custode_domain::Role::Subject {
        Operation::FileRequest
    } else {
        Operation::HandleRequests
    };
    caller
        .require(&state, op, "export for rights requests")
        .await?;
    let right = match q.right.as_deref() {
        None | Some("access") => Right::Access,
        Some("portability") => Right::Portability,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`{other}` has no package: use access or portability"
            )));
        }
    };
    let files = state.requests.request_export(&caller.0, &id, right).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/zip".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}-{id}.zip\"", right.name()),
            ),
        ],
        files,
    )
        .into_response())
}

/// The decision on a request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerIn {
    /// `accepted`, `partially_accepted` or `refused`.
    pub outcome: String,
    /// Why (required unless accepted): sent to the requester. A manifestly
    /// unfounded or excessive request is refused with the reasons.
    #[serde(default)]
    pub reasons: String,
}

/// The answer as sent.
#[derive(Serialize, ToSchema)]
pub struct AnswerOut {
    /// The outcome.
    pub outcome: String,
    /// The language of the letter.
    pub language: String,
    /// The letter (Markdown).
    pub letter: String,
    /// Whether it was mailed to the requester's contact; when not (no
    /// relay, or the relay refused), staff send it themselves.
    pub mailed: bool,
    /// Why it was not mailed.
    pub mail_error: Option<String>,
}

/// Answers and closes a request (Art. 12(4)): the letter says what was
/// done, what was kept and why, whom we told (Art. 19), the reasons of a
/// refusal, and the right to complain to the supervisory authority and to
/// go to court. Documents and packages are deleted.
#[utoipa::path(post, path = "/api/v1/requests/{id}/answer", params(("id" = String, Path)), request_body = AnswerIn, responses((status = 200, body = AnswerOut), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<AnswerIn>,
) -> Result<Json<AnswerOut>, ApiError> {
    caller
        .require(&state, Operation::HandleRequests, "answer rights requests")
        .await?;
    let outcome = match input.outcome.as_str() {
        "accepted" => Outcome::Accepted,
        "partially_accepted" => Outcome::PartiallyAccepted,
        "refused" => Outcome::Refused,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown outcome `{other}`: use accepted, partially_accepted or refused"
            )));
        }
    };
    let (a, mail_error) = answer_and_send(&state, &caller.0, &id, outcome, &input.reasons).await?;
    let letter = a.letter.to_markdown();
    Ok(Json(AnswerOut {
        outcome: a.outcome.name().to_owned(),
        language: a.language.code().to_owned(),
        letter,
        mailed: mail_error.is_none(),
        mail_error,
    }))
}

/// Answers a request (the capability's rule) and mails the letter to the
/// requester, after the Art. 19 mails still due so that it says who was
/// told: the API and the console's workbench both call this. The error is
/// the mail's, when the letter did not leave (the answer stands; staff
/// send it).
pub async fn answer_and_send(
    state: &AppState,
    by: &custode_domain::Principal,
    id: &str,
    outcome: Outcome,
    reasons: &str,
) -> Result<(custode_requests::Answer, Option<String>), custode_store::StoreError> {
    if let Some(m) = &state.mailer
        && let Err(e) = tell_recipients(&state.requests, m).await
    {
        tracing::warn!(error = %e, "Art. 19 notices: not all sent before the answer");
    }
    let a = state
        .requests
        .answer_request(by, id, outcome, reasons)
        .await?;
    let mail_error = match &state.mailer {
        None => Some("this instance has no mail relay".to_owned()),
        Some(m) => m
            .send(&a.contact, &a.letter.title, a.letter.to_markdown())
            .await
            .err()
            .map(|e| e.to_string()),
    };
    Ok((a, mail_error))
}

/// The answer letter of an answered request.
#[utoipa::path(get, path = "/api/v1/requests/{id}/answer", params(("id" = String, Path)), responses((status = 200, description = "the letter", content_type = "text/markdown"), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("token" = [])))]
pub async fn answer_letter(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    caller
        .require(
            &state,
            Operation::FileRequest,
            "read answers to rights requests",
        )
        .await?;
    let letter = state.requests.answer_of(&caller.0, &id).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/markdown; charset=utf-8",
        )],
        letter,
    )
        .into_response())
}

/// Mails the Art. 19 notices due to recipients that have an address in the
/// policy, each recorded as told (and audited) once the relay took it; a
/// refused one is retried later. Returns how many were sent.
pub async fn tell_recipients(
    store: &custode_requests::Requests,
    mailer: &crate::mail::Mailer,
) -> Result<u32, custode_store::StoreError> {
    let mut sent = 0;
    for mail in store.recipient_mails_due(100).await? {
        match mailer
            .send(&mail.to, &mail.subject_line, mail.body.clone())
            .await
        {
            Ok(()) => {
                store.recipient_mailed(&mail).await?;
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(request = %mail.request, recipient = %mail.recipient, error = %e, "Art. 19 notice not sent; it will be retried");
                store.recipient_mail_failed(&mail, &e.to_string()).await?;
            }
        }
    }
    Ok(sent)
}

/// Which notices.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NoticesQuery {
    /// Include those already told (default: pending only).
    pub all: Option<bool>,
}

/// An Art. 19 notice to a recipient.
#[derive(Serialize, ToSchema)]
pub struct NoticeOut {
    /// The request.
    pub request: String,
    /// The right whose change the recipient is told of.
    pub right: String,
    /// The recipient's id in the policy.
    pub recipient: String,
    /// Its name.
    pub name: String,
    /// `mail` (sent by the server) or `task` (staff tell it and confirm).
    pub channel: String,
    /// Where the mail goes.
    pub address: Option<String>,
    /// The categories it received.
    pub categories: Vec<String>,
    /// When it was queued.
    pub created_at: String,
    /// When the recipient was told; absent while pending.
    pub told_at: Option<String>,
    /// `mail`, or who confirmed.
    pub told_by: Option<String>,
    /// Failed mail attempts.
    pub attempts: u32,
    /// Why the last mail failed.
    pub last_error: Option<String>,
}

fn notice_out(n: custode_requests::RecipientNotice) -> NoticeOut {
    NoticeOut {
        request: n.request,
        right: n.right,
        recipient: n.recipient,
        name: n.name,
        channel: n.channel,
        address: n.address,
        categories: n.categories,
        created_at: n.created_at.to_string(),
        told_at: n.told_at.map(|t| t.to_string()),
        told_by: n.told_by,
        attempts: n.attempts,
        last_error: n.last_error,
    }
}

/// The Art. 19 notices to recipients in scope: by default those pending
/// (tasks for staff, and mails not yet taken by the relay).
#[utoipa::path(get, path = "/api/v1/notices", params(NoticesQuery), responses((status = 200, body = Vec<NoticeOut>)), security(("token" = [])))]
pub async fn notices(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<NoticesQuery>,
) -> Result<Json<Vec<NoticeOut>>, ApiError> {
    caller
        .require(&state, Operation::HandleRequests, "handle rights requests")
        .await?;
    let all = state
        .requests
        .recipient_notices(&caller.0, !q.all.unwrap_or(false))
        .await?;
    Ok(Json(all.into_iter().map(notice_out).collect()))
}

/// Which notice was carried out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmNoticeIn {
    /// The right: `erasure`, `rectification` or `restriction`.
    pub right: String,
    /// The recipient's id in the policy.
    pub recipient: String,
}

/// Confirms that staff told a recipient of a request's change (Art. 19):
/// the day and who confirmed are kept and audited; the answer then names
/// the recipient as told.
#[utoipa::path(post, path = "/api/v1/requests/{id}/notices/confirm", params(("id" = String, Path)), request_body = ConfirmNoticeIn, responses((status = 200, body = NoticeOut), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("token" = [])))]
pub async fn confirm_notice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<ConfirmNoticeIn>,
) -> Result<Json<NoticeOut>, ApiError> {
    caller
        .require(&state, Operation::HandleRequests, "handle rights requests")
        .await?;
    let n = state
        .requests
        .confirm_recipient_notice(&caller.0, &id, &input.right, &input.recipient)
        .await?;
    Ok(Json(notice_out(n)))
}
