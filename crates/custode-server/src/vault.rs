//! The vault face: the legal officer's query under an authority's order,
//! and the access log the DPO reviews. Every check (role, person, fresh
//! second factor, order reference, scope) is the store's, so that each of
//! the officer's refusals is a line of the vault access log as well as an
//! audit entry, and each line reaches only the reviewers whose scope
//! covers whom it concerns.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use custode_policy::IdentifierKind;
use custode_vault::{VaultOrder, VaultTarget};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::parse_subject;
use crate::error::ApiError;
use crate::extract::{Body, Caller, Params};

/// The order a vault query answers.
#[derive(Deserialize, Serialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct OrderIn {
    /// The issuing authority (court, public prosecutor, police).
    #[serde(default)]
    pub authority: String,
    /// The order's number or reference.
    #[serde(default)]
    pub number: String,
    /// The order's date, YYYY-MM-DD.
    #[serde(default)]
    pub date: String,
    /// What the order asks for.
    #[serde(default)]
    pub scope: String,
}

/// An identifier to look up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierIn {
    /// `email`, `phone`, `ip_address`, `tax_code`, `vat_number`,
    /// `customer_code` or `username`.
    pub kind: String,
    /// The value, in any usual spelling.
    pub value: String,
}

/// A vault query.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultQueryIn {
    /// A code from the legal officer's authenticator, not used before ...
    pub totp: Option<String>,
    /// ... or a passkey assertion over a challenge issued for this query
    /// (POST /api/v1/vault/passkey-challenge), within five minutes.
    pub passkey: Option<crate::passkeys::AssertIn>,
    /// The order's reference.
    pub order: Option<OrderIn>,
    /// Whose data: a subject id ...
    pub subject: Option<String>,
    /// ... or an identifier.
    pub identifier: Option<IdentifierIn>,
}

/// A record held in the vault.
#[derive(Serialize, ToSchema)]
pub struct VaultRecordOut {
    /// The subject.
    pub subject: String,
    /// The category.
    pub category: String,
    /// Field values.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The legal grounds: purpose id and the law it names.
    pub grounds: Vec<GroundOut>,
    /// When it was collected.
    pub collected_at: String,
    /// When it will be erased; absent while it waits for an event.
    pub until: Option<String>,
}

/// A legal ground for keeping a record.
#[derive(Serialize, ToSchema)]
pub struct GroundOut {
    /// The vault purpose.
    pub purpose: String,
    /// The law it rests on.
    pub law: String,
}

/// Queries the vault under an authority's order: the legal officer only,
/// logged in as a person, with a fresh TOTP code (or a passkey assertion
/// over a challenge issued for the query) and the order's reference,
/// within the officer's scope (a subject outside it is not found). The
/// officer's refusals and answers are written to the audit chain and the
/// vault access log; other roles' and tokens' refusals to the audit chain.
#[utoipa::path(post, path = "/api/v1/vault/query", request_body = VaultQueryIn, responses((status = 200, body = Vec<VaultRecordOut>), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn query(
    State(state): State<AppState>,
    caller: Caller,
    Body(q): Body<VaultQueryIn>,
) -> Result<Json<Vec<VaultRecordOut>>, ApiError> {
    let target = match (q.subject, q.identifier) {
        (Some(s), None) => VaultTarget::Subject(parse_subject(&s)?),
        (None, Some(i)) => {
            let kind = IdentifierKind::from_key(&i.kind).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown identifier kind `{}`: use one of {}",
                    i.kind,
                    IdentifierKind::ALL
                        .iter()
                        .map(|k| k.key())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            VaultTarget::Identifier(kind, i.value)
        }
        _ => {
            return Err(ApiError::bad_request(
                "give either `subject` or `identifier`, not both",
            ));
        }
    };
    let order = q.order.unwrap_or_default();
    let rp;
    let assertion;
    let factor = match (q.totp.as_deref(), &q.passkey) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either `totp` or `passkey`, not both",
            ));
        }
        (Some(code), None) => Some(custode_accounts::FreshFactor::Totp(code)),
        (None, Some(p)) => {
            rp = crate::passkeys::relying_party(&state)?;
            assertion = p.credential.assertion()?;
            Some(custode_accounts::FreshFactor::Passkey {
                rp: &rp,
                challenge_id: &p.challenge_id,
                response: &assertion,
            })
        }
        (None, None) => None,
    };
    let records = state
        .vault
        .vault_query_fresh(
            &caller.0,
            factor.as_ref(),
            &VaultOrder {
                authority: order.authority,
                number: order.number,
                date: order.date,
                scope: order.scope,
            },
            &target,
        )
        .await?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| VaultRecordOut {
                subject: r.subject,
                category: r.category,
                fields: r.fields,
                grounds: r
                    .grounds
                    .into_iter()
                    .map(|(purpose, law)| GroundOut { purpose, law })
                    .collect(),
                collected_at: r.collected_at.to_string(),
                until: r.until.map(|t| t.to_string()),
            })
            .collect(),
    ))
}

/// How many log lines.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// At most this many, newest first (1 to 1000, default 100).
    pub limit: Option<u32>,
}

/// A line of the vault access log.
#[derive(Serialize, ToSchema)]
pub struct VaultAccessOut {
    /// Its position in the log's hash chain (as `audit verify` names it).
    pub line: i64,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// `answered`, or `refused: why`.
    pub outcome: String,
    /// The order's reference as given.
    pub order: OrderIn,
    /// Whose data (an identifier's value is never logged).
    pub target: String,
    /// Records returned.
    pub records: u64,
}

/// The vault access log, for the DPO's review (and the legal officer's):
/// the lines that concern the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/vault/access-log", params(LogQuery), responses((status = 200, body = Vec<VaultAccessOut>), (status = 403, body = crate::error::Problem)), security(("token" = [])))]
pub async fn access_log(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<LogQuery>,
) -> Result<Json<Vec<VaultAccessOut>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 1000"));
    }
    let lines = state.vault.vault_access_log(&caller.0, limit).await?;
    Ok(Json(
        lines
            .into_iter()
            .map(|l| VaultAccessOut {
                line: l.line,
                at: l.at.to_string(),
                actor: l.actor,
                outcome: l.outcome,
                order: OrderIn {
                    authority: l.order.authority,
                    number: l.order.number,
                    date: l.order.date,
                    scope: l.order.scope,
                },
                target: l.target,
                records: l.records,
            })
            .collect(),
    ))
}
