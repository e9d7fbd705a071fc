//! The request workbench: a rights request filed from the console (by the
//! identifier the requester wrote from), then worked on one page — its
//! deadline and days left, its identity with the documents to open and
//! approve, its fulfilment, the extension with its reasons, and the answer
//! letter previewed in the requester's language and sent.
//!
//! Every action calls what the JSON API calls (`custode-requests`, and
//! `custode_server::{extend_and_tell, answer_and_send}` for the mails),
//! with the signed-in person's principal: the scope, the checks and the
//! audit are the capability's. The page only asks for the role the API
//! asks for, and turns a refusal into a message beside its field.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use custode_domain::Operation;
use custode_domain::requests::Right;
use custode_policy::Lang;
use custode_requests::{
    DocumentKind, FulfilmentInput, Identity, Outcome, RequestByIdentity, Requester,
};
use custode_server::AppState;
use custode_store::StoreError;
use serde::Deserialize;

use crate::console::{allowed, staff};
use crate::cookies::{self, Signed};
use crate::{Chrome, Texts, failure, page, render, see_other, status_page};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/requests/new", get(new_form).post(new_request))
        .route("/console/requests/{id}", get(show))
        .route("/console/requests/{id}/documents/{kind}", get(document))
        .route("/console/requests/{id}/approve", post(approve))
        .route("/console/requests/{id}/fulfil", post(fulfil))
        .route("/console/requests/{id}/extend", post(extend))
        .route("/console/requests/{id}/answer", post(answer))
        .route(
            "/console/requests/{id}/notices/confirm",
            post(confirm_notice),
        )
}

type FieldErrors = std::collections::BTreeMap<&'static str, String>;

/// The outcomes an answer may have, as the capability names them.
const OUTCOMES: [Outcome; 3] = [
    Outcome::Accepted,
    Outcome::PartiallyAccepted,
    Outcome::Refused,
];

fn outcome_of(name: &str) -> Option<Outcome> {
    OUTCOMES.into_iter().find(|o| o.name() == name)
}

// ---- Intake ---------------------------------------------------------------

#[derive(askama::Template)]
#[template(path = "console_request_new.html")]
struct NewPage {
    c: Chrome,
    title: String,
    /// (kind, label) of each identifier the policy declares.
    kinds: Vec<(String, String)>,
    /// (name, label, checked) of each right.
    rights: Vec<(String, String, bool)>,
    /// (code, name) of each language of the policy.
    languages: Vec<(String, String)>,
    form: NewForm,
    errors: FieldErrors,
}

page!(NewPage);

/// The intake form as sent (read from the raw body: a form repeats
/// `right` once per box ticked).
#[derive(Default)]
struct NewForm {
    csrf: String,
    kind: String,
    value: String,
    rights: Vec<String>,
    language: String,
    text: String,
}

fn new_page(
    state: &AppState,
    c: Chrome,
    status: StatusCode,
    form: NewForm,
    errors: FieldErrors,
) -> Response {
    let policy = state.store.policy();
    let kinds = custode_finding::declared_identifier_kinds(&policy)
        .into_iter()
        .map(|k| (k.to_owned(), c.t(&format!("identifier-{k}"))))
        .collect();
    let rights = Right::ALL
        .iter()
        .map(|r| {
            (
                r.name().to_owned(),
                c.t(&format!("right-{}", r.name())),
                form.rights.iter().any(|x| x == r.name()),
            )
        })
        .collect();
    let languages = policy
        .meta
        .languages
        .iter()
        .map(|l| (l.code().to_owned(), Texts::of(*l).get("lang-name")))
        .collect();
    let title = c.t("intake-title");
    render(
        state,
        status,
        &NewPage {
            c,
            title,
            kinds,
            rights,
            languages,
            form: NewForm {
                kind: if form.kind.is_empty() {
                    "email".to_owned()
                } else {
                    form.kind
                },
                ..form
            },
            errors,
        },
    )
}

async fn new_form(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some(who) = staff(&state, &headers).await else {
        return see_other("/console/login");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    if let Err(r) = allowed(
        &state,
        &headers,
        &uri,
        &who,
        Operation::FileRequest,
        "file rights requests",
    )
    .await
    {
        return r;
    }
    let form = NewForm {
        language: c.lang.to_owned(),
        ..NewForm::default()
    };
    new_page(&state, c, StatusCode::OK, form, FieldErrors::new())
}

async fn new_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let form = NewForm {
        csrf: get("csrf"),
        kind: get("kind"),
        value: get("value").trim().to_owned(),
        rights: pairs
            .iter()
            .filter(|(k, _)| k == "right")
            .map(|(_, v)| v.clone())
            .collect(),
        language: get("language"),
        text: get("text").trim().to_owned(),
    };
    let Some(who) = cookies::signed_post(&state, &headers, &form.csrf).await else {
        return status_page(&state, &headers, &uri, StatusCode::FORBIDDEN);
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    if let Err(r) = allowed(
        &state,
        &headers,
        &uri,
        &who,
        Operation::FileRequest,
        "file rights requests",
    )
    .await
    {
        return r;
    }
    let policy = state.store.policy();
    let mut errors = FieldErrors::new();
    let rights: Vec<Right> = form
        .rights
        .iter()
        .filter_map(|r| Right::from_name(r))
        .collect();
    if rights.is_empty() || rights.len() != form.rights.len() {
        errors.insert("rights", c.t("error-rights"));
    }
    let language = Lang::parse(&form.language).filter(|l| policy.meta.languages.contains(l));
    if language.is_none() {
        errors.insert("language", c.t("error-choice"));
    }
    let identity =
        if !custode_finding::declared_identifier_kinds(&policy).contains(&form.kind.as_str()) {
            errors.insert("kind", c.t("error-choice"));
            None
        } else if form.value.is_empty() {
            errors.insert("value", c.t("error-required"));
            None
        } else {
            match Identity::parse(&policy, &form.kind, &form.value) {
                Ok(i) => Some(i),
                Err(_) => {
                    errors.insert("value", c.t("error-identifier"));
                    None
                }
            }
        };
    if let (Some(identity), true) = (identity, errors.is_empty()) {
        match state
            .requests
            .file_request_by_identity(
                &who.principal,
                RequestByIdentity {
                    identity,
                    tenant: None,
                    subject_kind: None,
                    rights,
                    requester: Requester::Subject,
                    contact: None,
                    text: form.text.clone(),
                    language,
                },
            )
            .await
        {
            Ok(filed) => return see_other(&format!("/console/requests/{}", filed.request.id)),
            // Not an e-mail to answer to, or several people known by it.
            Err(StoreError::Invalid(_)) => {
                errors.insert("value", c.t("error-intake-contact"));
            }
            Err(StoreError::Conflict(_)) => {
                errors.insert("value", c.t("error-code-several"));
            }
            Err(e) => return failure(&state, c, e),
        }
    }
    new_page(&state, c, StatusCode::UNPROCESSABLE_ENTITY, form, errors)
}

/// The pairs of a form body, a name repeated as often as it comes.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut kv = p.splitn(2, |b| *b == b'=');
            let k = decode(kv.next().unwrap_or_default());
            let v = decode(kv.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

fn decode(raw: &[u8]) -> String {
    let plus: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

// ---- The workbench ----------------------------------------------------------

/// A document of the request.
struct DocView {
    label: String,
    href: String,
    media_type: String,
    uploaded: String,
}

/// The fulfilment of one right.
struct JobView {
    right: String,
    progress: String,
    state: String,
    error: String,
}

/// An Art. 19 notice to a recipient of the data.
struct NoticeView {
    name: String,
    right: String,
    right_name: String,
    recipient: String,
    /// `None` while pending.
    told: Option<String>,
    /// A task staff carry out and confirm (the others are mailed).
    task: bool,
}

/// What the person typed, kept when the page comes back with a message or
/// a preview.
#[derive(Default)]
struct Draft {
    outcome: String,
    reasons: String,
    extend_reason: String,
    letter: Option<(Lang, String)>,
    errors: FieldErrors,
    done: String,
}

impl Draft {
    /// The draft with the messages to show beside the fields, and what was
    /// done.
    fn with(self, errors: FieldErrors, done: String) -> Draft {
        Draft {
            errors,
            done,
            ..self
        }
    }
}

#[derive(askama::Template)]
#[template(path = "console_request.html")]
struct Workbench {
    c: Chrome,
    title: String,
    id: String,
    subject: String,
    rights: String,
    requester: String,
    received: String,
    due: String,
    days: String,
    late: bool,
    extension: Option<String>,
    status: String,
    open: bool,
    verified: bool,
    identity: String,
    language: String,
    documents: Vec<DocView>,
    approvable: bool,
    jobs: Vec<JobView>,
    notices: Vec<NoticeView>,
    can_fulfil: bool,
    extendable: bool,
    /// (name, label) of each outcome.
    outcomes: Vec<(String, String)>,
    outcome: String,
    reasons: String,
    extend_reason: String,
    /// The letter previewed: its language code and name, and its text.
    preview: Option<(String, String, String)>,
    /// The letter sent, once answered.
    sent: Option<String>,
    done: String,
    errors: FieldErrors,
}

page!(Workbench);

/// The person's way into a request: signed-in staff who handle requests.
async fn handler(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    who: &Signed,
    what: &str,
) -> Result<(), Response> {
    allowed(state, headers, uri, who, Operation::HandleRequests, what).await
}

async fn workbench(
    state: &AppState,
    c: Chrome,
    who: &Signed,
    id: &str,
    status: StatusCode,
    draft: Draft,
) -> Response {
    let Draft {
        outcome,
        reasons,
        extend_reason,
        letter,
        errors,
        done,
    } = draft;
    let r = match state.requests.request(&who.principal, id).await {
        Ok(r) => r,
        Err(e) => return failure(state, c, e),
    };
    let open = r.status == "open";
    let verified = r.identity == "verified";
    // The documents are destroyed with the answer: none to list then.
    let documents = if open {
        match state.requests.documents_of(&who.principal, id).await {
            Ok(d) => d,
            Err(e) => return failure(state, c, e),
        }
    } else {
        Vec::new()
    };
    let sent = if open {
        None
    } else {
        match state.requests.answer_of(&who.principal, id).await {
            Ok(l) => Some(l),
            Err(e) => return failure(state, c, e),
        }
    };
    let notices = match state
        .requests
        .recipient_notices(&who.principal, false)
        .await
    {
        Ok(all) => all
            .into_iter()
            .filter(|n| n.request == id)
            .map(|n| NoticeView {
                right_name: c.t(&format!("right-{}", n.right)),
                told: n
                    .told_at
                    .map(|at| format!("{} ({})", c.t.date(at), n.told_by.unwrap_or_default())),
                task: n.channel == "task",
                name: n.name,
                right: n.right,
                recipient: n.recipient,
            })
            .collect(),
        Err(e) => return failure(state, c, e),
    };
    let request_lang = Lang::parse(&r.language).unwrap_or(c.language());
    let identity = match &r.identity_method {
        Some(m) if verified => format!(
            "{} ({})",
            c.t("identity-verified"),
            c.t(&format!("method-{m}"))
        ),
        _ => c.t(&format!("identity-{}", r.identity)),
    };
    let days = if r.days_left < 0 {
        c.t.with("days-late", &[("days", &(-r.days_left).to_string())])
    } else {
        c.t.with("days-left", &[("days", &r.days_left.to_string())])
    };
    let page = Workbench {
        title: c.t.with("workbench-title", &[("id", id)]),
        id: r.id.clone(),
        subject: r.subject.to_string(),
        rights: r
            .rights
            .iter()
            .map(|x| c.t(&format!("right-{}", x.name())))
            .collect::<Vec<_>>()
            .join(", "),
        requester: c.t(&format!("requester-{}", r.requester)),
        received: c.t.date(r.received_at),
        due: c.t.day(r.due),
        days,
        late: r.days_left < 0 && open,
        extension: r.extension.clone(),
        status: match &r.outcome {
            Some(o) => format!(
                "{} — {}",
                c.t(&format!("status-{}", r.status)),
                c.t(&format!("outcome-{o}"))
            ),
            None => c.t(&format!("status-{}", r.status)),
        },
        open,
        verified,
        identity,
        language: Texts::of(request_lang).get("lang-name"),
        documents: documents
            .iter()
            .map(|d| DocView {
                label: c.t(&format!("document-{}", d.kind.name())),
                href: format!("/console/requests/{id}/documents/{}", d.kind.name()),
                media_type: d.media_type.clone(),
                uploaded: c.t.date(d.uploaded_at),
            })
            .collect(),
        approvable: open && !verified,
        jobs: r
            .jobs
            .iter()
            .map(|j| JobView {
                right: c.t(&format!("right-{}", j.right)),
                progress: c.t.with(
                    "job-progress",
                    &[
                        ("step", &j.step.to_string()),
                        ("steps", &j.steps.to_string()),
                    ],
                ),
                state: c.t(&format!("job-{}", j.state)),
                error: j.last_error.clone().unwrap_or_default(),
            })
            .collect(),
        notices,
        can_fulfil: open && verified && r.jobs.is_empty(),
        extendable: open && r.extension.is_none(),
        outcomes: OUTCOMES
            .iter()
            .map(|o| (o.name().to_owned(), c.t(&format!("outcome-{}", o.name()))))
            .collect(),
        outcome: if outcome.is_empty() {
            Outcome::Accepted.name().to_owned()
        } else {
            outcome
        },
        reasons,
        extend_reason,
        preview: letter.map(|(l, text)| (l.code().to_owned(), Texts::of(l).get("lang-name"), text)),
        sent,
        done,
        errors,
        c,
    };
    render(state, status, &page)
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let Some(who) = staff(&state, &headers).await else {
        return see_other("/console/login");
    };
    if let Err(r) = handler(&state, &headers, &uri, &who, "handle rights requests").await {
        return r;
    }
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let done = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("done=")))
        .filter(|d| DONE.contains(d))
        .map(|d| c.t(&format!("done-{d}")))
        .unwrap_or_default();
    workbench(
        &state,
        c,
        &who,
        &id,
        StatusCode::OK,
        Draft::default().with(FieldErrors::new(), done),
    )
    .await
}

/// What an action reports once done (after POST, then GET).
const DONE: [&str; 6] = [
    "approved", "queued", "extended", "answered", "unmailed", "told",
];

/// Opens a document for the person checking it: the capability audits
/// the look.
async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path((id, kind)): Path<(String, String)>,
) -> Response {
    let Some(who) = staff(&state, &headers).await else {
        return see_other("/console/login");
    };
    if let Err(r) = handler(&state, &headers, &uri, &who, "check requesters' documents").await {
        return r;
    }
    let Some(kind) = DocumentKind::from_name(&kind) else {
        return status_page(&state, &headers, &uri, StatusCode::NOT_FOUND);
    };
    match state.requests.document(&who.principal, &id, kind).await {
        Ok(d) => (
            [
                (header::CONTENT_TYPE, d.media_type),
                (header::CACHE_CONTROL, "no-store".to_owned()),
                // Shown, never run: a hostile PDF gets no script.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "sandbox; default-src 'none'; img-src 'self'; object-src 'self'".to_owned(),
                ),
            ],
            d.bytes,
        )
            .into_response(),
        Err(e) => failure(&state, Chrome::new(&state, &headers, &uri).signed(&who), e),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reasons: String,
    #[serde(default)]
    r#do: String,
    #[serde(default)]
    right: String,
    #[serde(default)]
    recipient: String,
}

/// The person of a form's POST with the role the action needs, or the
/// answer that refuses it.
async fn poster(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    csrf: &str,
    what: &str,
) -> Result<(Signed, Chrome), Response> {
    let Some(who) = cookies::signed_post(state, headers, csrf).await else {
        return Err(status_page(state, headers, uri, StatusCode::FORBIDDEN));
    };
    handler(state, headers, uri, &who, what).await?;
    let c = Chrome::new(state, headers, uri).signed(&who);
    Ok((who, c))
}

fn done_at(id: &str, what: &str, anchor: &str) -> Response {
    see_other(&format!("/console/requests/{id}?done={what}#{anchor}"))
}

async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let (who, c) = match poster(
        &state,
        &headers,
        &uri,
        &f.csrf,
        "approve requesters' identity",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.requests.approve_identity(&who.principal, &id).await {
        Ok(()) => done_at(&id, "approved", "identity"),
        // A document missing: said beside the approval.
        Err(StoreError::Invalid(_)) => {
            let mut errors = FieldErrors::new();
            errors.insert("approve", c.t("error-documents-missing"));
            workbench(
                &state,
                c,
                &who,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Draft::default().with(errors, String::new()),
            )
            .await
        }
        Err(e) => failure(&state, c, e),
    }
}

async fn fulfil(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let (who, c) = match poster(&state, &headers, &uri, &f.csrf, "carry out rights requests").await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The capability refuses an erasure to a role that may not erase, and
    // anything before the identity is verified.
    match state
        .requests
        .queue_fulfilment(&who.principal, &id, FulfilmentInput::default())
        .await
    {
        Ok(_) => {
            state.jobs_queued.notify_one();
            done_at(&id, "queued", "fulfilment")
        }
        Err(StoreError::Invalid(_) | StoreError::Conflict(_)) => {
            let mut errors = FieldErrors::new();
            errors.insert("fulfil", c.t("error-fulfil"));
            workbench(
                &state,
                c,
                &who,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Draft::default().with(errors, String::new()),
            )
            .await
        }
        Err(e) => failure(&state, c, e),
    }
}

async fn extend(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let (who, c) = match poster(&state, &headers, &uri, &f.csrf, "extend rights requests").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let reason = f.reason.trim();
    let mut errors = FieldErrors::new();
    if reason.is_empty() {
        errors.insert("reason", c.t("error-extend-reason"));
    } else {
        match custode_server::extend_and_tell(&state, &who.principal, &id, reason).await {
            Ok((_, None)) => return done_at(&id, "extended", "extension"),
            Ok((_, Some(mail_error))) => {
                tracing::warn!(request = %id, error = %mail_error, "extension: reasons not mailed");
                return done_at(&id, "unmailed", "extension");
            }
            // Past the first month, or extended already: the law's rule.
            Err(StoreError::Invalid(_)) => {
                errors.insert("reason", c.t("error-extend-refused"));
            }
            Err(e) => return failure(&state, c, e),
        }
    }
    let draft = Draft {
        extend_reason: f.reason,
        ..Draft::default()
    };
    workbench(
        &state,
        c,
        &who,
        &id,
        StatusCode::UNPROCESSABLE_ENTITY,
        draft.with(errors, String::new()),
    )
    .await
}

async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let (who, c) = match poster(&state, &headers, &uri, &f.csrf, "answer rights requests").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut errors = FieldErrors::new();
    let mut draft = Draft {
        outcome: f.outcome.clone(),
        reasons: f.reasons.clone(),
        ..Draft::default()
    };
    let Some(outcome) = outcome_of(&f.outcome) else {
        errors.insert("outcome", c.t("error-choice"));
        return workbench(
            &state,
            c,
            &who,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            draft.with(errors, String::new()),
        )
        .await;
    };
    let result = if f.r#do == "send" {
        custode_server::answer_and_send(&state, &who.principal, &id, outcome, &f.reasons)
            .await
            .map(|(_, mail_error)| Some(mail_error))
    } else {
        state
            .requests
            .preview_answer(&who.principal, &id, outcome, &f.reasons)
            .await
            .map(|(lang, letter)| {
                draft.letter = Some((lang, letter.to_markdown()));
                None
            })
    };
    match result {
        Ok(Some(None)) => done_at(&id, "answered", "answer"),
        Ok(Some(Some(mail_error))) => {
            tracing::warn!(request = %id, error = %mail_error, "answer: letter not mailed");
            done_at(&id, "unmailed", "answer")
        }
        Ok(None) => {
            workbench(
                &state,
                c,
                &who,
                &id,
                StatusCode::OK,
                draft.with(errors, String::new()),
            )
            .await
        }
        // Reasons missing for an answer that is not a plain acceptance.
        Err(StoreError::Invalid(_)) => {
            errors.insert("reasons", c.t("error-answer-reasons"));
            workbench(
                &state,
                c,
                &who,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                draft.with(errors, String::new()),
            )
            .await
        }
        // Not verified, not carried out, still running, or answered.
        Err(StoreError::Conflict(_)) => {
            errors.insert("outcome", c.t("error-answer-not-ready"));
            workbench(
                &state,
                c,
                &who,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                draft.with(errors, String::new()),
            )
            .await
        }
        Err(e) => failure(&state, c, e),
    }
}

/// Staff confirm they told a recipient (Art. 19): the capability keeps the
/// day and who, audited, and the answer names it.
async fn confirm_notice(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let (who, c) = match poster(&state, &headers, &uri, &f.csrf, "handle rights requests").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state
        .requests
        .confirm_recipient_notice(&who.principal, &id, &f.right, &f.recipient)
        .await
    {
        Ok(_) => done_at(&id, "told", "notices"),
        Err(e) => failure(&state, c, e),
    }
}
