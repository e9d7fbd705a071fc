//! The console's subject pages: finding a person by an identifier the
//! policy declares (an e-mail address, a phone number...), with the reason
//! that goes into the audit log. The look-up, its scope and its audit entry
//! are the store's, as for `GET /api/v1/subjects?identifier=`; the page
//! checks the role the same way the API does and says why it refuses.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use custode_domain::{Operation, may};
use custode_server::AppState;
use custode_store::StoreError;
use serde::Deserialize;

use crate::{Chrome, failure, page, render, see_other, status_page};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/console/subjects", get(find))
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
