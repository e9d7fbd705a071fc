//! The consent face: the ledger, decisions, receipts and unsubscribe links
//! for callers with credentials, and the public one-click unsubscribe pages
//! (RFC 8058) for anyone holding a link. Handlers stay thin: every rule is
//! in `custode_consent`, every write in the store.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use custode_consent::receipt::{Format, Publication};
use custode_consent::{Channel, EventId, EventKind, Evidence};
use custode_domain::{Operation, Role};
use custode_ledger::{ConsentEvent, NewConsentEvent, Unsubscribed};
use custode_policy::{Catalog, Lang, html_escape};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{Reason, parse_subject};
use crate::error::ApiError;
use crate::extract::{Body, Caller, Params};

/// An event to add to a subject's consent ledger.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    /// `given`, `withdrawn`, `expired`, `reasked`, `objected`,
    /// `objection_lifted`, `restricted` or `restriction_lifted`.
    pub kind: String,
    /// The purpose. Required for consent events; for an objection, leave
    /// it out to object to all direct marketing; never for a restriction.
    pub purpose: Option<String>,
    /// `web_form`, `app`, `phone`, `paper`, `email` or `api` (default).
    pub channel: Option<String>,
    /// The language of the notice shown (default: the policy's first).
    pub language: Option<String>,
    /// Proof of how it was expressed.
    pub evidence: Option<EvidenceIn>,
}

/// Proof of how an event was expressed; stored encrypted.
#[derive(Deserialize, Serialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EvidenceIn {
    /// The subject's address when it acted.
    pub ip: Option<String>,
    /// The subject's browser or app.
    pub user_agent: Option<String>,
    /// The form or screen, with its version.
    pub form_id: Option<String>,
    /// The operator who took it (phone, paper).
    pub operator: Option<String>,
}

/// A ledger event.
#[derive(Serialize, ToSchema)]
pub struct ConsentOut {
    /// Its id; also the id of its receipts.
    pub id: String,
    /// The subject.
    pub subject: String,
    /// What happened.
    pub kind: String,
    /// The purpose, when the event names one.
    pub purpose: Option<String>,
    /// How it reached the controller.
    pub channel: String,
    /// The notice language.
    pub language: String,
    /// When.
    pub at: String,
    /// Who recorded it.
    pub actor: String,
    /// SHA-256 of the policy file in force.
    pub policy_digest: String,
    /// SHA-256 of the notice text shown, in `language`.
    pub notice_digest: String,
    /// The evidence; absent once the subject is erased.
    pub evidence: Option<EvidenceIn>,
}

fn out(e: ConsentEvent) -> ConsentOut {
    ConsentOut {
        id: e.id.to_string(),
        subject: e.subject.to_string(),
        kind: e.kind.name().to_owned(),
        purpose: e.purpose,
        channel: e.channel.name().to_owned(),
        language: e.language.code().to_owned(),
        at: e.at.to_string(),
        actor: e.actor,
        policy_digest: e.policy_digest,
        notice_digest: e.notice_digest,
        evidence: e.evidence.map(|v| EvidenceIn {
            ip: v.ip,
            user_agent: v.user_agent,
            form_id: v.form_id,
            operator: v.operator,
        }),
    }
}

fn names<T: Copy + Into<&'static str>>(all: &[T]) -> String {
    all.iter()
        .map(|v| (*v).into())
        .collect::<Vec<&str>>()
        .join(", ")
}

/// Adds an event to a subject's consent ledger. A subject acting for
/// itself without evidence gets its request's user agent recorded.
#[utoipa::path(post, path = "/api/v1/subjects/{id}/consent", params(("id" = String, Path)), request_body = ConsentIn, responses((status = 201, body = ConsentOut), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn record(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(input): Body<ConsentIn>,
) -> Result<(StatusCode, Json<ConsentOut>), ApiError> {
    caller
        .require(&state, Operation::RecordConsent, "record consent")
        .await?;
    let subject = parse_subject(&id)?;
    let kind = EventKind::from_name(&input.kind).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown event kind `{}`: use one of {}",
            input.kind,
            names(EventKind::ALL)
        ))
    })?;
    let channel = match input.channel.as_deref() {
        None => Channel::Api,
        Some("one_click") => {
            return Err(ApiError::bad_request(
                "`one_click` is recorded by the unsubscribe link itself",
            ));
        }
        Some(c) => Channel::from_name(c).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown channel `{c}`: use one of web_form, app, phone, paper, email, api"
            ))
        })?,
    };
    let language = input
        .language
        .as_deref()
        .map(str::parse::<Lang>)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let mut evidence = input.evidence.unwrap_or_default();
    if caller.0.role == Role::Subject && evidence.user_agent.is_none() {
        evidence.user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
    }
    let recorded = state
        .ledger
        .record_consent(
            &caller.0,
            &subject,
            NewConsentEvent {
                kind,
                purpose: input.purpose,
                channel,
                language,
                evidence: Evidence {
                    ip: evidence.ip,
                    user_agent: evidence.user_agent,
                    form_id: evidence.form_id,
                    operator: evidence.operator,
                },
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(out(recorded))))
}

/// A subject's consent ledger, oldest first, evidence included; the read
/// is audited with the reason.
#[utoipa::path(get, path = "/api/v1/subjects/{id}/consent", params(("id" = String, Path), Reason), responses((status = 200, body = Vec<ConsentOut>), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<Reason>,
) -> Result<Json<Vec<ConsentOut>>, ApiError> {
    caller
        .require(&state, Operation::ReadConsent, "read consent records")
        .await?;
    if q.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "give the `reason` for reading the consent ledger",
        ));
    }
    let events = state
        .ledger
        .consent_history(&caller.0, &parse_subject(&id)?, &q.reason)
        .await?;
    Ok(Json(events.into_iter().map(out).collect()))
}

/// The answer to "may I process this purpose for this subject now?".
#[derive(Serialize, ToSchema)]
pub struct DecisionOut {
    /// Yes or no.
    pub allowed: bool,
    /// The purpose's legal basis under Art. 6(1).
    pub basis: String,
    /// Why: `consent`, `legal_basis`, `no_consent`, `consent_withdrawn`,
    /// `consent_expired`, `reconsent_needed`, `restricted`, `objected`,
    /// `objected_to_direct_marketing`, `under_age` (younger than the
    /// policy's minimum age) or `erased`.
    pub reason: String,
    /// The ledger event the answer rests on.
    pub event: Option<String>,
}

/// Decides whether a purpose may be pursued for a subject now: the call a
/// sending system makes before every message.
#[utoipa::path(get, path = "/api/v1/subjects/{id}/decisions/{purpose}", params(("id" = String, Path), ("purpose" = String, Path)), responses((status = 200, body = DecisionOut), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, purpose)): Path<(String, String)>,
) -> Result<Json<DecisionOut>, ApiError> {
    caller
        .require(&state, Operation::AskConsent, "ask for decisions")
        .await?;
    let d = state
        .ledger
        .decide(&caller.0, &parse_subject(&id)?, &purpose)
        .await?;
    Ok(Json(DecisionOut {
        allowed: d.allowed,
        basis: d.basis.key().to_owned(),
        reason: d.reason.code().to_owned(),
        event: d.reason.event().map(|e| e.to_string()),
    }))
}

/// Which receipt.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReceiptQuery {
    /// `kantara` (Kantara Consent Receipt v1.1, consents given only) or
    /// `iso27560` (ISO/IEC TS 27560 record, any event). Default `kantara`.
    pub format: Option<String>,
}

/// A receipt and the compact JWS (EdDSA) that signs it.
#[derive(Serialize, ToSchema)]
pub struct ReceiptOut {
    /// `kantara-1.1` or `iso-27560`.
    pub format: String,
    /// The receipt.
    #[schema(value_type = Object)]
    pub receipt: serde_json::Value,
    /// The signature; check it with `custode consent verify`.
    pub jws: String,
}

/// The signed receipt of a ledger event, built from the policy version the
/// event was recorded under.
#[utoipa::path(get, path = "/api/v1/consent/events/{id}/receipt", params(("id" = String, Path), ReceiptQuery), responses((status = 200, body = ReceiptOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn receipt(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ReceiptQuery>,
) -> Result<Json<ReceiptOut>, ApiError> {
    caller
        .require(&state, Operation::ReadConsent, "read consent receipts")
        .await?;
    let event = EventId::parse(&id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let format = match q.format.as_deref() {
        None | Some("kantara") => Format::Kantara,
        Some("iso27560") => Format::Iso27560,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown receipt format `{other}`: use kantara or iso27560"
            )));
        }
    };
    let notice_url = format!("{}/notice", state.public_url);
    let signed = state
        .ledger
        .consent_receipt(
            &caller.0,
            &event,
            format,
            &Publication {
                notice_url: &notice_url,
            },
        )
        .await?;
    Ok(Json(ReceiptOut {
        format: match signed.format {
            Format::Kantara => "kantara-1.1",
            Format::Iso27560 => "iso-27560",
        }
        .to_owned(),
        receipt: signed.receipt,
        jws: signed.jws,
    }))
}

/// The key that signs receipts and audit checkpoints.
#[derive(Serialize, ToSchema)]
pub struct PublicKeyOut {
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The public key, hexadecimal.
    pub public_key: String,
    /// The `kid` in receipts' JWS headers.
    pub key_id: String,
}

/// The public key to verify receipts with, offline. Public.
#[utoipa::path(get, path = "/api/v1/consent/public-key", responses((status = 200, body = PublicKeyOut)))]
pub async fn public_key(State(state): State<AppState>) -> Json<PublicKeyOut> {
    let key = state.store.verifying_key();
    Json(PublicKeyOut {
        algorithm: "Ed25519".to_owned(),
        public_key: hex::encode(key.as_bytes()),
        key_id: custode_consent::receipt::key_id(&key),
    })
}

/// Which purpose's re-consent list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReconsentQuery {
    /// The consent purpose.
    pub purpose: String,
    /// Return subjects after this id.
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<u32>,
}

/// Subjects to ask again.
#[derive(Serialize, ToSchema)]
pub struct ReconsentPage {
    /// Subjects whose consent was given to an earlier form of the purpose.
    pub items: Vec<String>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Subjects whose consent to a purpose was given against an earlier
/// version of it: it no longer counts until they give it again.
#[utoipa::path(get, path = "/api/v1/consent/reconsent", params(ReconsentQuery), responses((status = 200, body = ReconsentPage)), security(("token" = [])))]
pub async fn reconsent(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ReconsentQuery>,
) -> Result<Json<ReconsentPage>, ApiError> {
    caller
        .require(&state, Operation::ReadConsent, "read consent records")
        .await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 1000"));
    }
    let after = q.after.as_deref().map(parse_subject).transpose()?;
    let ids = state
        .ledger
        .reconsent_needed(&caller.0, &q.purpose, after.as_ref(), limit)
        .await?;
    let next = (ids.len() == limit as usize)
        .then(|| ids.last().map(ToString::to_string))
        .flatten();
    Ok(Json(ReconsentPage {
        items: ids.iter().map(ToString::to_string).collect(),
        next,
    }))
}

/// The purpose a link unsubscribes from.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    /// A consent or direct-marketing purpose.
    pub purpose: String,
}

/// A one-click unsubscribe link and the headers that carry it.
#[derive(Serialize, ToSchema)]
pub struct LinkOut {
    /// The URL.
    pub url: String,
    /// Put on the message as they are, and sign both with DKIM.
    pub headers: std::collections::BTreeMap<String, String>,
}

/// Mints a one-click unsubscribe link (RFC 8058) for a subject and purpose,
/// with the `List-Unsubscribe` and `List-Unsubscribe-Post` headers.
#[utoipa::path(post, path = "/api/v1/subjects/{id}/unsubscribe-link", params(("id" = String, Path)), request_body = LinkIn, responses((status = 200, body = LinkOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn unsubscribe_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<LinkIn>,
) -> Result<Json<LinkOut>, ApiError> {
    caller
        .require(&state, Operation::AskConsent, "mint unsubscribe links")
        .await?;
    let token = state
        .ledger
        .unsubscribe_token(&caller.0, &parse_subject(&id)?, &input.purpose)
        .await?;
    Ok(Json(LinkOut {
        url: custode_consent::unsubscribe::url(&state.public_url, &token),
        headers: custode_consent::unsubscribe::headers(&state.public_url, &token)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    }))
}

// ---- The public pages ---------------------------------------------------

fn page(status: StatusCode, lang: Lang, body: &str) -> Response {
    let c = Catalog::get(lang);
    let html = format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title></head>\
         <body><main><h1>{}</h1>{body}</main></body></html>",
        lang.code(),
        html_escape(&c.msg("unsubscribe-title")),
        html_escape(&c.msg("unsubscribe-title")),
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

fn purpose_name(state: &AppState, purpose: &str, lang: Lang) -> String {
    state
        .store
        .policy()
        .purpose(purpose)
        .map_or_else(|| purpose.to_owned(), |p| p.name.get(lang).to_owned())
}

fn page_lang(state: &AppState, q: &LangQuery) -> Lang {
    let policy = state.store.policy();
    q.lang
        .as_deref()
        .and_then(Lang::parse)
        .filter(|l| policy.meta.languages.contains(l))
        .unwrap_or(policy.meta.languages[0])
}

/// Language of a public page.
#[derive(Deserialize, IntoParams)]
pub struct LangQuery {
    /// One of the policy's languages.
    pub lang: Option<String>,
}

/// The confirmation page of an unsubscribe link. A GET never unsubscribes:
/// link scanners follow GETs. The page's button sends the one-click POST.
#[utoipa::path(get, path = "/u/{token}", params(("token" = String, Path), LangQuery), responses((status = 200, description = "confirmation page", content_type = "text/html"), (status = 404, description = "unknown link", content_type = "text/html")))]
pub async fn confirm_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    axum::extract::Query(q): axum::extract::Query<LangQuery>,
) -> Response {
    let lang = page_lang(&state, &q);
    let c = Catalog::get(lang);
    match state.ledger.unsubscribe_target(&token) {
        None => page(
            StatusCode::NOT_FOUND,
            lang,
            &format!("<p>{}</p>", html_escape(&c.msg("unsubscribe-unknown"))),
        ),
        Some((_, purpose)) => {
            let name = purpose_name(&state, &purpose, lang);
            let question = c.msg_args("unsubscribe-confirm", &[("purpose", name.as_str().into())]);
            page(
                StatusCode::OK,
                lang,
                &format!(
                    "<p>{}</p><form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                     <button type=\"submit\">{}</button></form>",
                    html_escape(&question),
                    html_escape(&c.msg("unsubscribe-button")),
                ),
            )
        }
    }
}

/// The body RFC 8058 prescribes (also accepted as multipart/form-data).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OneClickForm {
    /// `One-Click`.
    #[schema(rename = "List-Unsubscribe", example = "One-Click")]
    list_unsubscribe: String,
}

/// The one-click unsubscribe (RFC 8058): a POST whose body is
/// `List-Unsubscribe=One-Click`, form-urlencoded or multipart. No cookie,
/// no credentials, no redirect: the token alone says who and what.
#[utoipa::path(post, path = "/u/{token}", params(("token" = String, Path), LangQuery), request_body(content = OneClickForm, content_type = "application/x-www-form-urlencoded", description = "List-Unsubscribe=One-Click"), responses((status = 200, description = "unsubscribed", content_type = "text/html"), (status = 400, description = "not a one-click request", content_type = "text/html"), (status = 404, description = "unknown link", content_type = "text/html")))]
pub async fn one_click(
    State(state): State<AppState>,
    Path(token): Path<String>,
    axum::extract::Query(q): axum::extract::Query<LangQuery>,
    connect: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let lang = page_lang(&state, &q);
    let c = Catalog::get(lang);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !custode_consent::unsubscribe::is_one_click(content_type, &body) {
        return page(
            StatusCode::BAD_REQUEST,
            lang,
            "<p>List-Unsubscribe=One-Click</p>",
        );
    }
    let evidence = Evidence {
        ip: connect.map(|c| c.0.0.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        form_id: Some("one-click".to_owned()),
        operator: None,
    };
    match state.ledger.one_click_unsubscribe(&token, evidence).await {
        Ok(Unsubscribed::Done(_)) => {
            let purpose = state
                .ledger
                .unsubscribe_target(&token)
                .map(|(_, p)| p)
                .unwrap_or_default();
            let name = purpose_name(&state, &purpose, lang);
            page(
                StatusCode::OK,
                lang,
                &format!(
                    "<p>{}</p>",
                    html_escape(
                        &c.msg_args("unsubscribe-done", &[("purpose", name.as_str().into())])
                    )
                ),
            )
        }
        Ok(Unsubscribed::Unknown) => page(
            StatusCode::NOT_FOUND,
            lang,
            &format!("<p>{}</p>", html_escape(&c.msg("unsubscribe-unknown"))),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Lifting a restriction.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftIn {
    /// Where the notice goes: an e-mail address the subject is known by.
    pub notify: String,
    /// Why the restriction ends (told to the subject).
    pub reason: String,
    /// The notice's language (default: the policy's first).
    pub language: Option<String>,
}

/// Lifts a subject's restriction (Art. 18(3)): the subject is told first,
/// by mail at an address it is known by, and only then does processing
/// resume. Without a mail relay, or when the relay refuses, nothing is
/// lifted.
#[utoipa::path(post, path = "/api/v1/subjects/{id}/restriction/lift", params(("id" = String, Path)), request_body = LiftIn, responses((status = 201, body = ConsentOut), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem), (status = 502, body = crate::error::Problem)), security(("token" = [])))]
pub async fn lift_restriction(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<LiftIn>,
) -> Result<(StatusCode, Json<ConsentOut>), ApiError> {
    caller
        .require(&state, Operation::HandleRequests, "lift restrictions")
        .await?;
    let subject = parse_subject(&id)?;
    if input.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "say why the restriction ends: the subject is told",
        ));
    }
    let policy = state.store.policy();
    let lang = crate::requests::language(&state, input.language.as_deref())?
        .unwrap_or(policy.meta.languages[0]);
    // The subject, in scope, and the state it is in, before any mail.
    if !state
        .ledger
        .restriction_in_force(&caller.0, &subject)
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Not restricted",
            format!("subject {subject} has no restriction in force"),
        ));
    }
    let Some(mailer) = state.mailer.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "No mail relay",
            "a restriction is lifted only after the subject is told (Art. 18(3)), and this instance has no mail relay (serve --smtp)",
        ));
    };
    if !state
        .ledger
        .knows_email_of(&caller.0, &subject, &input.notify)
        .await?
    {
        return Err(ApiError::bad_request(format!(
            "`{}` is not an e-mail address subject {subject} is known by",
            input.notify
        )));
    }
    let (title, body) = custode_policy::restriction_lift_message(&policy, lang, &input.reason);
    mailer
        .send(&input.notify, &title, body)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "Notice not sent", e.to_string()))?;
    let lifted = state
        .ledger
        .lift_restriction(&caller.0, &subject, &input.notify)
        .await?;
    Ok((StatusCode::CREATED, Json(out(lifted))))
}
