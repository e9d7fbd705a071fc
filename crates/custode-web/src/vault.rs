//! The legal officer's vault page: a query under an authority's order
//! (authority, reference, date, what it asks for), for whom an identifier
//! or a subject id names, with a fresh code from the officer's
//! authenticator; what it returns; and the vault access log, the officer's
//! own trail (the DPO reviews it on the same page).
//!
//! Every check — the role, a person not a token, the order, the fresh
//! factor, the scope — is `custode-vault`'s, called as
//! `POST /api/v1/vault/query` calls it, so each refusal is a line of the
//! access log as well as an audit entry. The page only places the
//! refusal's message beside the field it concerns.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use custode_domain::{Operation, SubjectId, may};
use custode_policy::IdentifierKind;
use custode_server::AppState;
use custode_store::StoreError;
use custode_vault::{VaultOrder, VaultTarget};
use serde::Deserialize;

use crate::console::{allowed, staff};
use crate::cookies::{self, Signed};
use crate::{Chrome, failure, page, render, see_other, status_page};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/console/vault", get(show).post(query))
}

type FieldErrors = std::collections::BTreeMap<&'static str, String>;

#[derive(Deserialize, Default)]
struct QueryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authority: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    scope: String,
    /// An identifier kind, or `subject` for a subject id.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    totp: String,
}

/// A record the vault returned.
struct Found {
    subject: String,
    category: String,
    fields: Vec<(String, String)>,
    grounds: Vec<(String, String)>,
    collected: String,
    until: String,
}

/// A line of the vault access log.
struct LogLine {
    line: i64,
    at: String,
    actor: String,
    outcome: String,
    order: String,
    target: String,
    records: u64,
}

#[derive(askama::Template)]
#[template(path = "console_vault.html")]
struct VaultPage {
    c: Chrome,
    title: String,
    may_query: bool,
    /// (kind, label) of what a query may name.
    kinds: Vec<(String, String)>,
    form: QueryForm,
    errors: FieldErrors,
    /// `None` before a query answered.
    found: Option<Vec<Found>>,
    log: Vec<LogLine>,
}

page!(VaultPage);

async fn vault_page(
    state: &AppState,
    c: Chrome,
    who: &Signed,
    status: StatusCode,
    form: QueryForm,
    errors: FieldErrors,
    found: Option<Vec<Found>>,
) -> Response {
    // The capability shows each reviewer the lines about its scope.
    let log = match state.vault.vault_access_log(&who.principal, 100).await {
        Ok(l) => l,
        Err(e) => return failure(state, c, e),
    };
    let log = log
        .into_iter()
        .map(|l| LogLine {
            line: l.line,
            at: format!("{} {}", c.t.date(l.at), l.at.strftime("%H:%M UTC")),
            actor: l.actor,
            outcome: l.outcome,
            order: [
                l.order.authority,
                l.order.number,
                l.order.date,
                l.order.scope,
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
            target: l.target,
            records: l.records,
        })
        .collect();
    let mut kinds = vec![("subject".to_owned(), c.t("vault-subject-id"))];
    kinds.extend(
        IdentifierKind::ALL
            .iter()
            .map(|k| (k.key().to_owned(), c.t(&format!("identifier-{}", k.key())))),
    );
    let title = c.t("vault-title");
    render(
        state,
        status,
        &VaultPage {
            title,
            may_query: may(who.principal.role, Operation::QueryVault),
            kinds,
            form: QueryForm {
                csrf: String::new(),
                totp: String::new(),
                ..form
            },
            errors,
            found,
            log,
            c,
        },
    )
}

async fn show(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some(who) = staff(&state, &headers).await else {
        return see_other("/console/login");
    };
    if let Err(r) = allowed(
        &state,
        &headers,
        &uri,
        &who,
        Operation::ReviewVault,
        "review the vault access log",
    )
    .await
    {
        return r;
    }
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    vault_page(
        &state,
        c,
        &who,
        StatusCode::OK,
        QueryForm {
            kind: "email".to_owned(),
            ..QueryForm::default()
        },
        FieldErrors::new(),
        None,
    )
    .await
}

async fn query(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<QueryForm>,
) -> Response {
    let Some(who) = cookies::signed_post(&state, &headers, &f.csrf).await else {
        return status_page(&state, &headers, &uri, StatusCode::FORBIDDEN);
    };
    // The role is the capability's check (it logs the refusal in the
    // access log too); the page is only shown to those who review it.
    if let Err(r) = allowed(
        &state,
        &headers,
        &uri,
        &who,
        Operation::ReviewVault,
        "review the vault access log",
    )
    .await
    {
        return r;
    }
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let mut errors = FieldErrors::new();
    let value = f.value.trim().to_owned();
    let target = if f.kind == "subject" {
        match SubjectId::parse(&value) {
            Ok(s) => Some(VaultTarget::Subject(s)),
            Err(_) => {
                errors.insert("value", c.t("error-subject-id"));
                None
            }
        }
    } else {
        match IdentifierKind::from_key(&f.kind) {
            Some(_) if value.is_empty() => {
                errors.insert("value", c.t("error-required"));
                None
            }
            Some(k) => Some(VaultTarget::Identifier(k, value.clone())),
            None => {
                errors.insert("kind", c.t("error-choice"));
                None
            }
        }
    };
    let mut found = None;
    if let Some(target) = target {
        let order = VaultOrder {
            authority: f.authority.trim().to_owned(),
            number: f.number.trim().to_owned(),
            date: f.date.trim().to_owned(),
            scope: f.scope.trim().to_owned(),
        };
        let totp = Some(f.totp.trim()).filter(|t| !t.is_empty());
        match state
            .vault
            .vault_query(&who.principal, totp, &order, &target)
            .await
        {
            Ok(records) => {
                let policy = state.store.policy();
                let lang = c.language();
                found = Some(
                    records
                        .into_iter()
                        .map(|r| Found {
                            category: policy.category(&r.category).map_or_else(
                                || r.category.clone(),
                                |k| k.name.get(lang).to_owned(),
                            ),
                            fields: r
                                .fields
                                .iter()
                                .map(|(k, v)| {
                                    (
                                        crate::portal::field_label(&policy, lang, &r.category, k),
                                        match v {
                                            serde_json::Value::String(s) => s.clone(),
                                            other => other.to_string(),
                                        },
                                    )
                                })
                                .collect(),
                            grounds: r
                                .grounds
                                .iter()
                                .map(|(p, law)| {
                                    (
                                        policy.purpose(p).map_or_else(
                                            || p.clone(),
                                            |x| x.name.get(lang).to_owned(),
                                        ),
                                        law.clone(),
                                    )
                                })
                                .collect(),
                            collected: c.t.date(r.collected_at),
                            until: r.until.map_or_else(|| c.t("ends-open"), |at| c.t.date(at)),
                            subject: r.subject,
                        })
                        .collect(),
                );
            }
            // The order's reference is incomplete: beside each part left
            // empty (the capability logged the refusal).
            Err(StoreError::Invalid(_)) => {
                for (field, v) in [
                    ("authority", &order.authority),
                    ("number", &order.number),
                    ("date", &order.date),
                    ("scope", &order.scope),
                ] {
                    if v.is_empty() {
                        errors.insert(field, c.t("error-order"));
                    }
                }
                if errors.is_empty() {
                    errors.insert("value", c.t("error-identifier"));
                }
            }
            // Not the legal officer, or the code is missing, wrong or used.
            Err(StoreError::Forbidden(_)) if may(who.principal.role, Operation::QueryVault) => {
                errors.insert("totp", c.t("error-fresh-code"));
            }
            Err(StoreError::NotFound { .. }) => {
                errors.insert("value", c.t("vault-none"));
            }
            Err(e) => return failure(&state, c, e),
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    vault_page(&state, c, &who, status, f, errors, found).await
}
