//! The console's subject pages: finding a person by an identifier the
//! policy declares (an e-mail address, a phone number...), with the reason
//! that goes into the audit log; and the person's page, read with a reason
//! too — records by category with purposes and retention ends, the
//! consent ledger and the decisions it gives, the audit trail — with the
//! erasure and restriction the role allows. Every read and change is the
//! capabilities' (scope, audit), as for the API; the page checks the role
//! the same way the API does and says why it refuses.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::{Operation, SubjectId, may};
use custode_ledger::NewConsentEvent;
use custode_server::AppState;
use custode_store::StoreError;
use serde::Deserialize;

use crate::console::{allowed, staff};
use crate::cookies::{self, Signed};
use crate::portal::{RecordView, record_views};
use crate::{Chrome, failure, page, render, see_other, status_page};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/subjects", get(find))
        .route("/console/subjects/{id}", get(subject))
        .route("/console/subjects/{id}/erase", post(erase))
        .route("/console/subjects/{id}/restrict", post(restrict))
}

type FieldErrors = std::collections::BTreeMap<&'static str, String>;

#[derive(Deserialize, Default)]
struct FindQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

/// A subject found: where it hangs and what it is, no personal data.
struct Found {
    id: String,
    kind: String,
    tenant: String,
    created: String,
    erased: bool,
}

#[derive(askama::Template)]
#[template(path = "console_find.html")]
struct Find {
    c: Chrome,
    title: String,
    /// (kind, label) of each identifier the policy declares.
    kinds: Vec<(String, String)>,
    kind: String,
    value: String,
    reason: String,
    errors: FieldErrors,
    /// `None` before a search.
    found: Option<Vec<Found>>,
}

page!(Find);

async fn find(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<FindQuery>,
) -> Response {
    let Some(who) = crate::console::staff(&state, &headers).await else {
        return see_other("/console/login");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    if !may(who.principal.role, Operation::FindSubjects) {
        if let Err(e) = state
            .store
            .record_denied(&who.principal, "find subjects by identifier")
            .await
        {
            return failure(&state, c, e);
        }
        return status_page(&state, &headers, &uri, StatusCode::FORBIDDEN);
    }
    let policy = state.store.policy();
    let kinds: Vec<(String, String)> = custode_finding::declared_identifier_kinds(&policy)
        .into_iter()
        .map(|k| (k.to_owned(), c.t(&format!("identifier-{k}"))))
        .collect();
    let searched = !(q.kind.is_empty() && q.value.is_empty() && q.reason.is_empty());
    let mut errors = FieldErrors::new();
    let mut found = None;
    if searched {
        if !kinds.iter().any(|(k, _)| *k == q.kind) {
            errors.insert("kind", c.t("error-choice"));
        }
        if q.value.trim().is_empty() {
            errors.insert("value", c.t("error-required"));
        }
        if q.reason.trim().is_empty() {
            errors.insert("reason", c.t("error-reason"));
        }
        if errors.is_empty() {
            match state
                .finder
                .find_by_identifier(&who.principal, &q.kind, &q.value, q.reason.trim())
                .await
            {
                Ok(subjects) => {
                    found = Some(
                        subjects
                            .into_iter()
                            .map(|s| Found {
                                id: s.id.to_string(),
                                kind: s.kind,
                                tenant: s.tenant.to_string(),
                                created: c.t.date(s.created_at),
                                erased: s.erased_at.is_some(),
                            })
                            .collect(),
                    );
                }
                // The value does not read as that kind of identifier.
                Err(StoreError::Invalid(_)) => {
                    errors.insert("value", c.t("error-identifier"));
                }
                Err(e) => return failure(&state, c, e),
            }
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = c.t("find-title");
    render(
        &state,
        status,
        &Find {
            c,
            title,
            kinds,
            kind: if q.kind.is_empty() {
                "email".to_owned()
            } else {
                q.kind
            },
            value: q.value,
            reason: q.reason,
            errors,
            found,
        },
    )
}

// ---- A person's page --------------------------------------------------------

#[derive(Deserialize, Default)]
struct SubjectQuery {
    /// Absent until the reason form is sent.
    reason: Option<String>,
    #[serde(default)]
    done: String,
}

/// An event of the consent ledger.
struct LedgerLine {
    at: String,
    kind: String,
    purpose: String,
    channel: String,
}

/// What the ledger decides for a purpose now.
struct DecisionLine {
    purpose: String,
    basis: String,
    allowed: bool,
}

/// A line of the audit trail, staff's view.
struct TrailLine {
    at: String,
    who: String,
    role: String,
    action: String,
    reason: String,
    categories: String,
}

/// What was read with the reason.
struct Read {
    /// `None` when the records are out of reach (restricted, erased).
    records: Option<Vec<RecordView>>,
    state: String,
    ledger: Option<Vec<LedgerLine>>,
    decisions: Option<Vec<DecisionLine>>,
    trail: Option<Vec<TrailLine>>,
}

#[derive(askama::Template)]
#[template(path = "console_subject.html")]
struct SubjectPage {
    c: Chrome,
    title: String,
    id: String,
    reason: String,
    read: Option<Read>,
    may_erase: bool,
    may_restrict: bool,
    /// (name, label) of the channels a restriction may come through.
    channels: Vec<(String, String)>,
    channel: String,
    erase_reason: String,
    done: String,
    errors: FieldErrors,
}

page!(SubjectPage);

/// The forms' values kept when the page comes back with a message.
#[derive(Default)]
struct SubjectDraft {
    reason: String,
    erase_reason: String,
    channel: String,
    /// Read the person's data with `reason` (a reason was given).
    read_now: bool,
    errors: FieldErrors,
    done: String,
}

const CHANNELS: [Channel; 4] = [
    Channel::Email,
    Channel::Phone,
    Channel::Paper,
    Channel::WebForm,
];

async fn subject_page(
    state: &AppState,
    c: Chrome,
    who: &Signed,
    id: &SubjectId,
    status: StatusCode,
    draft: SubjectDraft,
) -> Response {
    let p = &who.principal;
    let SubjectDraft {
        reason,
        erase_reason,
        channel,
        read_now,
        errors,
        done,
    } = draft;
    let reason = reason.trim().to_owned();
    let read = if read_now {
        match read_subject(state, &c, p, id, &reason).await {
            Ok(r) => Some(r),
            Err(e) => return failure(state, c, e),
        }
    } else {
        None
    };
    let title = c.t.with("subject-title", &[("id", id.as_str())]);
    let channels = CHANNELS
        .iter()
        .map(|ch| (ch.name().to_owned(), c.t(&format!("channel-{}", ch.name()))))
        .collect();
    render(
        state,
        status,
        &SubjectPage {
            title,
            id: id.to_string(),
            reason,
            read,
            may_erase: may(p.role, Operation::EraseSubject),
            may_restrict: may(p.role, Operation::RecordConsent),
            channels,
            channel,
            erase_reason,
            done,
            errors,
            c,
        },
    )
}

/// Reads the person's records, ledger and trail with the reason, each as
/// the role allows; each read is audited by its capability.
async fn read_subject(
    state: &AppState,
    c: &Chrome,
    p: &custode_domain::Principal,
    id: &SubjectId,
    reason: &str,
) -> Result<Read, StoreError> {
    let policy = state.store.policy();
    let lang = c.language();
    let (records, record_state) = match state.store.records(p, id, reason).await {
        Ok(r) => (Some(record_views(c, &policy, &r)), c.t("subject-active")),
        // What a partial erasure keeps is read only for its ground.
        Err(StoreError::Restricted { .. }) => (None, c.t("subject-restricted")),
        Err(StoreError::Erased(_)) => (None, c.t("find-erased")),
        Err(e) => return Err(e),
    };
    let purpose_name = |id: &str| {
        policy
            .purpose(id)
            .map_or_else(|| id.to_owned(), |p| p.name.get(lang).to_owned())
    };
    let (ledger, decisions) = if may(p.role, Operation::ReadConsent) && records.is_some() {
        let events = state.ledger.consent_history(p, id, reason).await?;
        let ledger = events
            .iter()
            .rev()
            .map(|e| LedgerLine {
                at: c.t.date(e.at),
                kind: c.t(&format!("consent-event-{}", e.kind.name())),
                purpose: e.purpose.as_deref().map(purpose_name).unwrap_or_default(),
                channel: c.t(&format!("channel-{}", e.channel.name())),
            })
            .collect();
        let mut decisions = Vec::new();
        for purpose in &policy.purposes {
            let d = state.ledger.decide(p, id, &purpose.id.value).await?;
            decisions.push(DecisionLine {
                purpose: purpose.name.get(lang).to_owned(),
                basis: custode_policy::Catalog::get(lang)
                    .msg(&format!("basis-{}", purpose.basis.key())),
                allowed: d.allowed,
            });
        }
        (Some(ledger), Some(decisions))
    } else {
        (None, None)
    };
    let trail = if may(p.role, Operation::ReadTrail) {
        let filter = custode_trail::TrailFilter {
            limit: 200,
            ..Default::default()
        };
        let t = state.trail.subject_trail(p, id, &filter, reason).await?;
        Some(
            t.entries
                .iter()
                .rev()
                .map(|e| TrailLine {
                    at: c.t.date(e.at),
                    who: e
                        .actor_name
                        .clone()
                        .or_else(|| e.actor.clone())
                        .unwrap_or_default(),
                    role: c.t(&format!("role-{}", e.role)),
                    action: e.action.clone(),
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
                .collect(),
        )
    } else {
        None
    };
    Ok(Read {
        records,
        state: record_state,
        ledger,
        decisions,
        trail,
    })
}

fn parse_id(s: &str) -> Option<SubjectId> {
    SubjectId::parse(s).ok()
}

async fn subject(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(q): Query<SubjectQuery>,
) -> Response {
    let Some(who) = staff(&state, &headers).await else {
        return see_other("/console/login");
    };
    if let Err(r) = allowed(
        &state,
        &headers,
        &uri,
        &who,
        Operation::ReadRecords,
        "read subjects' records",
    )
    .await
    {
        return r;
    }
    let Some(id) = parse_id(&id) else {
        return status_page(&state, &headers, &uri, StatusCode::NOT_FOUND);
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let done = Some(q.done.as_str())
        .filter(|d| ["erased", "restricted"].contains(d))
        .map(|d| c.t(&format!("done-{d}")))
        .unwrap_or_default();
    let mut errors = FieldErrors::new();
    let read_now = match &q.reason {
        Some(r) if r.trim().is_empty() => {
            errors.insert("reason", c.t("error-reason-read"));
            false
        }
        Some(_) => true,
        None => false,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let draft = SubjectDraft {
        reason: q.reason.unwrap_or_default(),
        ..SubjectDraft::default()
    };
    subject_page(
        &state,
        c,
        &who,
        &id,
        status,
        SubjectDraft {
            read_now,
            errors,
            done,
            ..draft
        },
    )
    .await
}

#[derive(Deserialize)]
struct SubjectAction {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    channel: String,
}

async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<SubjectAction>,
) -> Response {
    let Some(who) = cookies::signed_post(&state, &headers, &f.csrf).await else {
        return status_page(&state, &headers, &uri, StatusCode::FORBIDDEN);
    };
    if let Err(r) = allowed(
        &state,
        &headers,
        &uri,
        &who,
        Operation::EraseSubject,
        "erase subjects",
    )
    .await
    {
        return r;
    }
    let Some(id) = parse_id(&id) else {
        return status_page(&state, &headers, &uri, StatusCode::NOT_FOUND);
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let mut errors = FieldErrors::new();
    if f.reason.trim().is_empty() {
        errors.insert("erase-reason", c.t("error-erase-reason"));
    }
    if f.confirm != "yes" {
        errors.insert("erase-confirm", c.t("error-erase-confirm"));
    }
    if errors.is_empty() {
        // The same call as `POST /api/v1/subjects/{id}/erase`: the scope,
        // the audit entry and the key's destruction are the store's.
        match state
            .store
            .erase_subject(&who.principal, &id, f.reason.trim())
            .await
        {
            Ok(()) => return see_other(&format!("/console/subjects/{id}?done=erased")),
            Err(e) => return failure(&state, c, e),
        }
    }
    let draft = SubjectDraft {
        erase_reason: f.reason,
        ..SubjectDraft::default()
    };
    subject_page(
        &state,
        c,
        &who,
        &id,
        StatusCode::UNPROCESSABLE_ENTITY,
        SubjectDraft {
            read_now: false,
            errors,
            done: String::new(),
            ..draft
        },
    )
    .await
}

async fn restrict(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<SubjectAction>,
) -> Response {
    let Some(who) = cookies::signed_post(&state, &headers, &f.csrf).await else {
        return status_page(&state, &headers, &uri, StatusCode::FORBIDDEN);
    };
    if let Err(r) = allowed(
        &state,
        &headers,
        &uri,
        &who,
        Operation::RecordConsent,
        "record consent",
    )
    .await
    {
        return r;
    }
    let Some(id) = parse_id(&id) else {
        return status_page(&state, &headers, &uri, StatusCode::NOT_FOUND);
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let Some(channel) = CHANNELS.into_iter().find(|ch| ch.name() == f.channel) else {
        let mut errors = FieldErrors::new();
        errors.insert("channel", c.t("error-choice"));
        let draft = SubjectDraft {
            channel: f.channel,
            ..SubjectDraft::default()
        };
        return subject_page(
            &state,
            c,
            &who,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            SubjectDraft {
                read_now: false,
                errors,
                done: String::new(),
                ..draft
            },
        )
        .await;
    };
    // The same event as `POST /api/v1/subjects/{id}/consent` with
    // `restricted`: the ledger's rules decide what it stops (Art. 18(2)).
    match state
        .ledger
        .record_consent(
            &who.principal,
            &id,
            NewConsentEvent {
                kind: EventKind::Restricted,
                purpose: None,
                channel,
                language: None,
                evidence: Evidence {
                    operator: Some(who.principal.id.clone()),
                    ..Evidence::default()
                },
            },
        )
        .await
    {
        Ok(_) => see_other(&format!("/console/subjects/{id}?done=restricted")),
        Err(e) => failure(&state, c, e),
    }
}
