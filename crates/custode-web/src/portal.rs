//! The data subjects' portal: sign in by a code mailed to an address the
//! provider knows; see one's data by category with purpose, legal basis and
//! when it goes; withdraw a consent or object; ask for one's package, a
//! correction or the account's closure (rights requests, filed for oneself,
//! the identity proven by the code); follow one's requests; see who looked
//! at one's data. Every call is the capability's, with the subject's own
//! session: the kernel bounds it to that subject alone.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::requests::Right;
use custode_domain::{Principal, Role, SubjectId};
use custode_ledger::NewConsentEvent;
use custode_policy::{Basis, Catalog, IdentifierKind, Policy};
use custode_requests::{NewRequest, Requester};
use custode_server::{AppState, PortalCodeError};
use custode_store::{Credential, Record, StoreError};
use serde::Deserialize;

use crate::cookies::{self, Signed};
use crate::{Chrome, failure, page, render, see_other, status_page};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(start).post(send_code))
        .route("/portal/code", post(enter_code))
        .route("/portal/me", get(me))
        .route("/portal/consent", post(consent))
        .route("/portal/package", post(package))
        .route("/portal/correct", get(correct_form).post(correct))
        .route("/portal/close", get(close_form).post(close))
        .route("/portal/requests", get(requests))
        .route("/portal/requests/{id}/{right}", get(download))
        .route("/portal/trail", get(trail))
        .route("/portal/logout", post(logout))
}

/// Why the portal reads: written in the audit trail the subject sees.
const READ_REASON: &str = "portal: the data subject consults its own data";

/// An error beside a field: (field, message).
type FieldErrors = BTreeMap<&'static str, String>;

// ---- Sign in ------------------------------------------------------------

#[derive(askama::Template)]
#[template(path = "portal_start.html")]
struct Start {
    c: Chrome,
    title: String,
    email: String,
    errors: FieldErrors,
    notice: String,
}

#[derive(askama::Template)]
#[template(path = "portal_code.html")]
struct CodePage {
    c: Chrome,
    title: String,
    email: String,
    errors: FieldErrors,
}

page!(Start, CodePage);

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
}

/// The subject of a portal session, or `None` (staff and strangers).
async fn subject_of(state: &AppState, headers: &HeaderMap) -> Option<(Signed, SubjectId)> {
    let who = cookies::signed(state, headers).await?;
    let id = subject_id(&who.principal)?;
    Some((who, id))
}

fn subject_id(p: &Principal) -> Option<SubjectId> {
    if p.role != Role::Subject {
        return None;
    }
    p.scope.only_subject().cloned()
}

async fn start(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if subject_of(&state, &headers).await.is_some() {
        return see_other("/portal/me");
    }
    let c = Chrome::new(&state, &headers, &uri);
    let title = c.t("portal-title");
    let notice = format!("/notice?lang={}", c.lang);
    render(
        &state,
        StatusCode::OK,
        &Start {
            c,
            title,
            email: String::new(),
            errors: FieldErrors::new(),
            notice,
        },
    )
}

/// A refused form: its token missing or wrong. Nothing was done.
fn forbidden(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Response {
    status_page(state, headers, uri, StatusCode::FORBIDDEN)
}

async fn send_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<EmailForm>,
) -> Response {
    if !cookies::anonymous_ok(&headers, &f.csrf) {
        return forbidden(&state, &headers, &uri);
    }
    let c = Chrome::new(&state, &headers, &uri);
    let email = f.email.trim().to_owned();
    let mut errors = FieldErrors::new();
    match custode_server::send_portal_code(&state, &email, custode_policy::Lang::parse(c.lang))
        .await
    {
        Ok(()) => {
            let title = c.t("code-title");
            return render(
                &state,
                StatusCode::OK,
                &CodePage {
                    c,
                    title,
                    email,
                    errors,
                },
            );
        }
        Err(PortalCodeError::Store(StoreError::Invalid(_))) => {
            errors.insert("email", c.t("error-email"));
        }
        Err(PortalCodeError::NoRelay) => {
            return status_page(&state, &headers, &uri, StatusCode::SERVICE_UNAVAILABLE);
        }
        Err(PortalCodeError::Store(e)) => return failure(&state, c, e),
    }
    let title = c.t("portal-title");
    let notice = format!("/notice?lang={}", c.lang);
    render(
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        &Start {
            c,
            title,
            email,
            errors,
            notice,
        },
    )
}

async fn enter_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CodeForm>,
) -> Response {
    if !cookies::anonymous_ok(&headers, &f.csrf) {
        return forbidden(&state, &headers, &uri);
    }
    let c = Chrome::new(&state, &headers, &uri);
    let email = f.email.trim().to_owned();
    let code = f.code.trim();
    let key = email.to_lowercase();
    let mut errors = FieldErrors::new();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        errors.insert("code", c.t("error-code-shape"));
    } else if state.attempts.check_user(&key).is_err() {
        errors.insert("code", c.t("error-code-too-many"));
    } else {
        match state.accounts.portal_login(&email, code, None).await {
            Ok(session) => {
                state.attempts.clear_user(&key);
                let seconds =
                    (session.expires_at.as_second() - state.clock.now().as_second()).max(0);
                return signed_in(&state, &session.id, &session.csrf, seconds, "/portal/me");
            }
            Err(StoreError::Unauthenticated(Credential::PortalCode)) => {
                state.attempts.fail_user(&key);
                errors.insert("code", c.t("error-code-wrong"));
            }
            Err(StoreError::Conflict(_)) => {
                errors.insert("code", c.t("error-code-several"));
            }
            Err(e) => return failure(&state, c, e),
        }
    }
    let title = c.t("code-title");
    render(
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        &CodePage {
            c,
            title,
            email,
            errors,
        },
    )
}

/// The answer to a sign-in: the session and its form token as cookies,
/// then the first page.
pub(crate) fn signed_in(
    state: &AppState,
    id: &str,
    csrf: &str,
    seconds: i64,
    to: &str,
) -> Response {
    let mut res = see_other(to);
    for cookie in [
        cookies::set(state, custode_server::SESSION_COOKIE, id, "Strict", seconds),
        cookies::set(state, cookies::CSRF_COOKIE, csrf, "Strict", seconds),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Ends the session (the form's token checked) and clears the cookies.
pub(crate) async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    csrf: &str,
) -> Response {
    let Some(who) = cookies::signed_post(state, headers, csrf).await else {
        return forbidden(state, headers, uri);
    };
    if let Err(e) = state.accounts.logout(&who.session).await {
        let c = Chrome::new(state, headers, uri);
        return failure(state, c, e);
    }
    let mut res = see_other("/");
    for name in [custode_server::SESSION_COOKIE, cookies::CSRF_COOKIE] {
        if let Ok(v) = HeaderValue::from_str(&cookies::clear(state, name)) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

#[derive(Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<TokenOnly>,
) -> Response {
    end_session(&state, &headers, &uri, &f.csrf).await
}

// ---- My data ------------------------------------------------------------

/// A record as the subject sees it.
pub(crate) struct RecordView {
    pub(crate) category: String,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) purposes: Vec<PurposeView>,
    pub(crate) ends: String,
}

/// A purpose of a record: its name, legal basis and how long it keeps.
pub(crate) struct PurposeView {
    pub(crate) name: String,
    pub(crate) basis: String,
    pub(crate) retention: String,
}

/// A purpose the subject can act on: withdraw its consent, or object.
struct Choice {
    id: String,
    name: String,
    state: String,
    action: &'static str,
    label: String,
}

#[derive(askama::Template)]
#[template(path = "portal_me.html")]
struct Me {
    c: Chrome,
    title: String,
    records: Vec<RecordView>,
    choices: Vec<Choice>,
    errors: FieldErrors,
    done: String,
}

page!(Me);

pub(crate) fn field_label(
    policy: &Policy,
    lang: custode_policy::Lang,
    category: &str,
    field: &str,
) -> String {
    let f = policy
        .category(category)
        .and_then(|c| c.fields.iter().find(|f| f.id.value == field));
    match f {
        Some(f) => match (&f.label, &f.dpv) {
            (Some(label), _) => label.get(lang).to_owned(),
            (None, Some(term)) => Catalog::get(lang).msg(&term.replacen(':', "-", 1)),
            _ => field.to_owned(),
        },
        None => field.to_owned(),
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn record_views(c: &Chrome, policy: &Policy, records: &[Record]) -> Vec<RecordView> {
    let lang = c.language();
    let catalog = Catalog::get(lang);
    records
        .iter()
        .map(|r| RecordView {
            category: policy
                .category(&r.category)
                .map_or_else(|| r.category.clone(), |k| k.name.get(lang).to_owned()),
            fields: r
                .fields
                .iter()
                .map(|(k, v)| (field_label(policy, lang, &r.category, k), value_text(v)))
                .collect(),
            purposes: r
                .purposes
                .iter()
                .filter_map(|p| policy.purpose(p))
                .map(|p| PurposeView {
                    name: p.name.get(lang).to_owned(),
                    basis: catalog.msg(&format!("basis-{}", p.basis.key())),
                    retention: custode_policy::retention_words(catalog, &p.retention),
                })
                .collect(),
            ends: r
                .retain_until
                .map_or_else(|| c.t("ends-open"), |at| c.t.date(at)),
        })
        .collect()
}

/// The purposes the subject may withdraw from (consent) or object to
/// (legitimate interests), with where each stands now, as the decision
/// API says.
async fn choices(
    state: &AppState,
    c: &Chrome,
    who: &Principal,
    subject: &SubjectId,
) -> Result<Vec<Choice>, StoreError> {
    let policy = state.store.policy();
    let lang = c.language();
    let mut out = Vec::new();
    for p in &policy.purposes {
        let action = match p.basis {
            Basis::Consent => "withdrawn",
            Basis::LegitimateInterests => "objected",
            _ => continue,
        };
        let d = state.ledger.decide(who, subject, &p.id.value).await?;
        let state_id = match (p.basis, d.allowed) {
            (Basis::Consent, true) => "consent-given",
            (Basis::Consent, false) => "consent-not-given",
            (_, true) => "interest-in-use",
            (_, false) => "interest-stopped",
        };
        out.push(Choice {
            id: p.id.value.clone(),
            name: p.name.get(lang).to_owned(),
            state: c.t(state_id),
            action: if d.allowed { action } else { "" },
            label: c.t(if action == "withdrawn" {
                "consent-withdraw"
            } else {
                "consent-object"
            }),
        });
    }
    Ok(out)
}

async fn me_page(
    state: &AppState,
    c: Chrome,
    who: &Signed,
    subject: &SubjectId,
    status: StatusCode,
    errors: FieldErrors,
    done: String,
) -> Response {
    let policy = state.store.policy();
    let records = match state
        .store
        .records(&who.principal, subject, READ_REASON)
        .await
    {
        Ok(r) => r,
        Err(e) => return failure(state, c, e),
    };
    let records = record_views(&c, &policy, &records);
    let choices = match choices(state, &c, &who.principal, subject).await {
        Ok(v) => v,
        Err(e) => return failure(state, c, e),
    };
    let title = c.t("me-title");
    render(
        state,
        status,
        &Me {
            c,
            title,
            records,
            choices,
            errors,
            done,
        },
    )
}

async fn me(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some((who, subject)) = subject_of(&state, &headers).await else {
        return see_other("/portal");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let done = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("done=")))
        .filter(|d| ["withdrawn", "objected"].contains(d))
        .map(|d| c.t(&format!("done-{d}")))
        .unwrap_or_default();
    me_page(
        &state,
        c,
        &who,
        &subject,
        StatusCode::OK,
        FieldErrors::new(),
        done,
    )
    .await
}

#[derive(Deserialize)]
struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    action: String,
}

async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<ConsentForm>,
) -> Response {
    let Some(who) = cookies::signed_post(&state, &headers, &f.csrf).await else {
        return forbidden(&state, &headers, &uri);
    };
    let Some(subject) = subject_id(&who.principal) else {
        return forbidden(&state, &headers, &uri);
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let kind = match f.action.as_str() {
        "withdrawn" => EventKind::Withdrawn,
        "objected" => EventKind::Objected,
        _ => {
            let mut errors = FieldErrors::new();
            errors.insert("purpose", c.t("error-choice"));
            return me_page(
                &state,
                c,
                &who,
                &subject,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                String::new(),
            )
            .await;
        }
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect());
    let event = NewConsentEvent {
        kind,
        purpose: Some(f.purpose.clone()),
        channel: Channel::WebForm,
        language: Some(c.language()),
        evidence: Evidence {
            user_agent,
            form_id: Some("portal/consent".to_owned()),
            ..Evidence::default()
        },
    };
    match state
        .ledger
        .record_consent(&who.principal, &subject, event)
        .await
    {
        Ok(_) => see_other(&format!("/portal/me?done={}", f.action)),
        Err(StoreError::Invalid(_)) => {
            let mut errors = FieldErrors::new();
            errors.insert("purpose", c.t("error-choice"));
            me_page(
                &state,
                c,
                &who,
                &subject,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                String::new(),
            )
            .await
        }
        Err(e) => failure(&state, c, e),
    }
}

// ---- Requests -------------------------------------------------------------

/// The address the answer to a request goes to: the subject's e-mail, as
/// its records hold it (the one its portal code went to, or another of
/// its addresses).
async fn contact_of(
    state: &AppState,
    who: &Principal,
    subject: &SubjectId,
) -> Result<String, StoreError> {
    let policy = state.store.policy();
    let records = state
        .store
        .records(
            who,
            subject,
            "portal: the address to answer the subject's request",
        )
        .await?;
    for r in &records {
        let Some(category) = policy.category(&r.category) else {
            continue;
        };
        for f in &category.fields {
            if f.identifier == Some(IdentifierKind::Email)
                && let Some(serde_json::Value::String(v)) = r.fields.get(&f.id.value)
            {
                return Ok(v.clone());
            }
        }
    }
    Err(StoreError::Invalid(
        "no e-mail address is held for this subject to answer to".to_owned(),
    ))
}

/// Files a request of the subject for itself, in the page's language.
async fn file(
    state: &AppState,
    c: &Chrome,
    who: &Principal,
    subject: &SubjectId,
    rights: Vec<Right>,
    text: String,
) -> Result<(), StoreError> {
    let contact = contact_of(state, who, subject).await?;
    let language = state
        .store
        .policy()
        .meta
        .languages
        .contains(&c.language())
        .then_some(c.language());
    state
        .requests
        .file_request(
            who,
            NewRequest {
                subject: subject.clone(),
                rights,
                requester: Requester::Subject,
                contact,
                text,
                language,
            },
        )
        .await?;
    Ok(())
}

#[derive(Deserialize)]
struct PackageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    right: String,
}

async fn package(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<PackageForm>,
) -> Response {
    let Some(who) = cookies::signed_post(&state, &headers, &f.csrf).await else {
        return forbidden(&state, &headers, &uri);
    };
    let Some(subject) = subject_id(&who.principal) else {
        return forbidden(&state, &headers, &uri);
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let right = match f.right.as_str() {
        "access" => Right::Access,
        "portability" => Right::Portability,
        _ => {
            let mut errors = FieldErrors::new();
            errors.insert("right", c.t("error-choice"));
            return me_page(
                &state,
                c,
                &who,
                &subject,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                String::new(),
            )
            .await;
        }
    };
    match file(
        &state,
        &c,
        &who.principal,
        &subject,
        vec![right],
        String::new(),
    )
    .await
    {
        Ok(()) => see_other("/portal/requests"),
        Err(e) => failure(&state, c, e),
    }
}

#[derive(askama::Template)]
#[template(path = "portal_correct.html")]
struct Correct {
    c: Chrome,
    title: String,
    /// (value, label) of each field the subject's records hold.
    fields: Vec<(String, String)>,
    field: String,
    value: String,
    errors: FieldErrors,
}

page!(Correct);

async fn held_fields(
    state: &AppState,
    c: &Chrome,
    who: &Principal,
    subject: &SubjectId,
) -> Result<Vec<(String, String)>, StoreError> {
    let policy = state.store.policy();
    let records = state.store.records(who, subject, READ_REASON).await?;
    let lang = c.language();
    let mut out: Vec<(String, String)> = Vec::new();
    for r in &records {
        let category = policy
            .category(&r.category)
            .map_or_else(|| r.category.clone(), |k| k.name.get(lang).to_owned());
        for k in r.fields.keys() {
            let value = format!("{}.{k}", r.category);
            if !out.iter().any(|(v, _)| *v == value) {
                out.push((
                    value,
                    format!("{category}: {}", field_label(&policy, lang, &r.category, k)),
                ));
            }
        }
    }
    Ok(out)
}

async fn correct_form(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some((who, subject)) = subject_of(&state, &headers).await else {
        return see_other("/portal");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let fields = match held_fields(&state, &c, &who.principal, &subject).await {
        Ok(f) => f,
        Err(e) => return failure(&state, c, e),
    };
    let title = c.t("correct-title");
    render(
        &state,
        StatusCode::OK,
        &Correct {
            c,
            title,
            fields,
            field: String::new(),
            value: String::new(),
            errors: FieldErrors::new(),
        },
    )
}

#[derive(Deserialize)]
struct CorrectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: String,
}

async fn correct(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CorrectForm>,
) -> Response {
    let Some(who) = cookies::signed_post(&state, &headers, &f.csrf).await else {
        return forbidden(&state, &headers, &uri);
    };
    let Some(subject) = subject_id(&who.principal) else {
        return forbidden(&state, &headers, &uri);
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let fields = match held_fields(&state, &c, &who.principal, &subject).await {
        Ok(f) => f,
        Err(e) => return failure(&state, c, e),
    };
    let value = f.value.trim().to_owned();
    let mut errors = FieldErrors::new();
    if !fields.iter().any(|(v, _)| *v == f.field) {
        errors.insert("field", c.t("error-field"));
    }
    if value.is_empty() || value.chars().count() > 500 {
        errors.insert("value", c.t("error-value"));
    }
    if errors.is_empty() {
        let text = format!("{}: {value}", f.field);
        return match file(
            &state,
            &c,
            &who.principal,
            &subject,
            vec![Right::Rectification],
            text,
        )
        .await
        {
            Ok(()) => see_other("/portal/requests"),
            Err(e) => failure(&state, c, e),
        };
    }
    let title = c.t("correct-title");
    render(
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        &Correct {
            c,
            title,
            fields,
            field: f.field,
            value,
            errors,
        },
    )
}

/// What a closure keeps, line by line.
struct KeptView {
    category: String,
    fields: String,
    grounds: Vec<(String, String)>,
}

#[derive(askama::Template)]
#[template(path = "portal_close.html")]
struct Close {
    c: Chrome,
    title: String,
    kept: Vec<KeptView>,
    errors: FieldErrors,
}

page!(Close);

async fn close_page(
    state: &AppState,
    c: Chrome,
    who: &Signed,
    subject: &SubjectId,
    status: StatusCode,
    errors: FieldErrors,
) -> Response {
    let policy = state.store.policy();
    let records = match state
        .store
        .records(&who.principal, subject, READ_REASON)
        .await
    {
        Ok(r) => r,
        Err(e) => return failure(state, c, e),
    };
    let lang = c.language();
    let held: Vec<(&str, &[String])> = records
        .iter()
        .map(|r| (r.category.as_str(), r.purposes.as_slice()))
        .collect();
    let kept = custode_erasure::would_keep(&policy, held)
        .into_iter()
        .map(|k| KeptView {
            category: policy
                .category(&k.category)
                .map_or_else(|| k.category.clone(), |x| x.name.get(lang).to_owned()),
            fields: k
                .fields
                .iter()
                .map(|f| field_label(&policy, lang, &k.category, f))
                .collect::<Vec<_>>()
                .join(", "),
            grounds: k
                .grounds
                .iter()
                .filter_map(|g| policy.purpose(g))
                .map(|p| {
                    (
                        p.name.get(lang).to_owned(),
                        p.law
                            .as_ref()
                            .map(|l| l.get(lang).to_owned())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        })
        .collect();
    let title = c.t("close-title");
    render(
        state,
        status,
        &Close {
            c,
            title,
            kept,
            errors,
        },
    )
}

async fn close_form(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some((who, subject)) = subject_of(&state, &headers).await else {
        return see_other("/portal");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    close_page(
        &state,
        c,
        &who,
        &subject,
        StatusCode::OK,
        FieldErrors::new(),
    )
    .await
}

#[derive(Deserialize)]
struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CloseForm>,
) -> Response {
    let Some(who) = cookies::signed_post(&state, &headers, &f.csrf).await else {
        return forbidden(&state, &headers, &uri);
    };
    let Some(subject) = subject_id(&who.principal) else {
        return forbidden(&state, &headers, &uri);
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    if f.confirm != "yes" {
        let mut errors = FieldErrors::new();
        errors.insert("confirm", c.t("error-confirm"));
        return close_page(
            &state,
            c,
            &who,
            &subject,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    }
    match file(
        &state,
        &c,
        &who.principal,
        &subject,
        vec![Right::Erasure],
        String::new(),
    )
    .await
    {
        Ok(()) => see_other("/portal/requests"),
        Err(e) => failure(&state, c, e),
    }
}

/// A request as the subject follows it.
struct RequestView {
    id: String,
    rights: String,
    received: String,
    due: String,
    days_left: String,
    status: String,
    /// (link, label) of each package ready.
    packages: Vec<(String, String)>,
}

#[derive(askama::Template)]
#[template(path = "portal_requests.html")]
struct Requests {
    c: Chrome,
    title: String,
    requests: Vec<RequestView>,
}

page!(Requests);

async fn requests(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some((who, _)) = subject_of(&state, &headers).await else {
        return see_other("/portal");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    // The kernel bounds the list to the subject's own requests.
    let all = match state.requests.requests(&who.principal, false).await {
        Ok(r) => r,
        Err(e) => return failure(&state, c, e),
    };
    let requests = all
        .into_iter()
        .map(|r| RequestView {
            rights: r
                .rights
                .iter()
                .map(|x| c.t(&format!("right-{}", x.name())))
                .collect::<Vec<_>>()
                .join(", "),
            received: c.t.date(r.received_at),
            due: c.t.day(r.due),
            days_left: c.t.with("days-left", &[("days", &r.days_left.to_string())]),
            status: c.t(&format!("status-{}", r.status)),
            packages: r
                .jobs
                .iter()
                .filter(|j| j.state == "done" && (j.right == "access" || j.right == "portability"))
                .map(|j| {
                    (
                        format!("/portal/requests/{}/{}", r.id, j.right),
                        c.t(&format!("download-{}", j.right)),
                    )
                })
                .collect(),
            id: r.id,
        })
        .collect();
    let title = c.t("requests-title");
    render(&state, StatusCode::OK, &Requests { c, title, requests })
}

async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path((id, right)): Path<(String, String)>,
) -> Response {
    let Some((who, _)) = subject_of(&state, &headers).await else {
        return see_other("/portal");
    };
    let right = match right.as_str() {
        "access" => Right::Access,
        "portability" => Right::Portability,
        _ => return status_page(&state, &headers, &uri, StatusCode::NOT_FOUND),
    };
    match state
        .requests
        .request_export(&who.principal, &id, right)
        .await
    {
        Ok(zip) => (
            [
                (header::CONTENT_TYPE, "application/zip".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}-{id}.zip\"", right.name()),
                ),
            ],
            zip,
        )
            .into_response(),
        Err(e) => failure(&state, Chrome::new(&state, &headers, &uri).signed(&who), e),
    }
}

// ---- Who looked ---------------------------------------------------------------

/// One line of the subject's trail.
struct TrailLine {
    at: String,
    role: String,
    what: String,
    reason: String,
    categories: String,
}

#[derive(askama::Template)]
#[template(path = "portal_trail.html")]
struct TrailPage {
    c: Chrome,
    title: String,
    lines: Vec<TrailLine>,
}

page!(TrailPage);

async fn trail(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some((who, subject)) = subject_of(&state, &headers).await else {
        return see_other("/portal");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let filter = custode_trail::TrailFilter {
        limit: 200,
        ..Default::default()
    };
    let trail = match state
        .trail
        .subject_trail(&who.principal, &subject, &filter, READ_REASON)
        .await
    {
        Ok(t) => t,
        Err(e) => return failure(&state, c, e),
    };
    let policy = state.store.policy();
    let lang = c.language();
    let lines = trail
        .entries
        .iter()
        .rev()
        .map(|e| TrailLine {
            at: c.t.date(e.at),
            role: c.t(&format!("role-{}", e.role)),
            what: c.t(&format!("trail-{}", e.kind)),
            reason: e.reason.clone().unwrap_or_default(),
            categories: e
                .categories
                .iter()
                .map(|k| {
                    policy
                        .category(k)
                        .map_or_else(|| k.clone(), |x| x.name.get(lang).to_owned())
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let title = c.t("trail-title");
    render(&state, StatusCode::OK, &TrailPage { c, title, lines })
}
