//! The breach register's face: record and amend breaches, their clocks and
//! versions, the notice to the authority (recorded, and rendered as the
//! document the DPO files), the people and records a breach touched, the
//! exemption of Art. 34(3), and the notices to the people through the mail
//! relay. The DPO and the administrator; every rule is the capability's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use custode_breaches::{
    Amendment, Assessment, Breach, Exemption, ExemptionGround, Facts, Nature, NewBreach,
    Notification, Scope,
};
use custode_domain::{BreachId, Operation, TenantId};
use custode_policy::Format;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Caller, Params};

fn parse_breach(id: &str) -> Result<BreachId, ApiError> {
    BreachId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn instant(name: &str, value: Option<&str>) -> Result<Option<jiff::Timestamp>, ApiError> {
    value
        .map(|t| {
            t.parse::<jiff::Timestamp>().map_err(|_| {
                ApiError::bad_request(format!(
                    "`{name}`: `{t}` is not an RFC 3339 instant (e.g. 2026-03-02T08:00:00Z)"
                ))
            })
        })
        .transpose()
}

fn natures(list: &[String]) -> Result<Vec<Nature>, ApiError> {
    list.iter()
        .map(|n| {
            Nature::from_key(n).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`{n}` is not a nature of breach: use confidentiality, integrity or availability"
                ))
            })
        })
        .collect()
}

async fn keeper(state: &AppState, caller: &Caller, what: &str) -> Result<(), ApiError> {
    caller.require(state, Operation::ManageBreaches, what).await
}

/// A breach to record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreachIn {
    /// The tenant it belongs to (the provider's for an instance-wide one).
    pub tenant: String,
    /// When it was detected (RFC 3339).
    pub detected_at: Option<String>,
    /// When the controller became aware that personal data were breached
    /// (RFC 3339): the 72 hours of Art. 33(1) count from it.
    pub aware_at: Option<String>,
    /// `confidentiality`, `integrity`, `availability`: one or more.
    pub nature: Vec<String>,
    /// What happened.
    pub description: String,
    /// The systems involved.
    #[serde(default)]
    pub systems: Vec<String>,
    /// Categories of data the policy declares.
    #[serde(default)]
    pub data_categories: Vec<String>,
    /// Categories of people: subject kinds the policy declares.
    #[serde(default)]
    pub subject_kinds: Vec<String>,
    /// The approximate number of people concerned.
    pub approx_subjects: Option<u64>,
    /// The approximate number of records concerned.
    pub approx_records: Option<u64>,
    /// The likely consequences.
    #[serde(default)]
    pub consequences: String,
    /// Measures taken.
    #[serde(default)]
    pub measures_taken: String,
    /// Measures proposed.
    #[serde(default)]
    pub measures_proposed: String,
    /// The contact point; the policy's DPO when left out.
    #[serde(default)]
    pub dpo_contact: String,
}

/// A change to a breach: the fields given replace the old ones.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct BreachPatch {
    pub detected_at: Option<String>,
    pub aware_at: Option<String>,
    pub nature: Option<Vec<String>>,
    pub description: Option<String>,
    pub systems: Option<Vec<String>>,
    pub data_categories: Option<Vec<String>>,
    pub subject_kinds: Option<Vec<String>>,
    pub approx_subjects: Option<u64>,
    pub approx_records: Option<u64>,
    pub consequences: Option<String>,
    pub measures_taken: Option<String>,
    pub measures_proposed: Option<String>,
    pub dpo_contact: Option<String>,
}

/// A breach's deadlines.
#[derive(Serialize, ToSchema)]
pub struct ClocksOut {
    /// `electronic_communications` (24 h from detection) or `other` (72 h from awareness).
    pub regime: String,
    /// When the authority must have been told.
    pub authority_due: String,
    /// Whole hours left while it has not been (negative once past).
    pub hours_left: Option<i64>,
    /// Not told and past the deadline.
    pub overdue: bool,
    /// Told after the deadline.
    pub notified_late: bool,
    /// When the follow-up of an incomplete first notice is due.
    pub follow_up_due: Option<String>,
    /// Whole hours left for it while owed.
    pub follow_up_hours_left: Option<i64>,
    /// Owed and past its deadline.
    pub follow_up_overdue: bool,
}

/// A notice to the authority.
#[derive(Serialize, ToSchema)]
pub struct NotificationOut {
    /// When.
    pub at: String,
    /// Whether it was complete.
    pub complete: bool,
    /// Why late.
    pub late_reason: Option<String>,
    /// The authority's reference.
    pub reference: Option<String>,
}

/// An exemption from telling each person (Art. 34(3)).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemptionIo {
    /// `unintelligible`, `risk_no_longer_likely` or `disproportionate_effort`.
    pub ground: String,
    /// Why it applies.
    pub explanation: String,
    /// For disproportionate effort: the public communication made instead.
    pub public_notice: Option<String>,
}

/// A breach as the register shows it.
#[derive(Serialize, ToSchema)]
pub struct BreachOut {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// The entry's version.
    pub version: i64,
    /// When detected.
    pub detected_at: String,
    /// When the controller became aware.
    pub aware_at: String,
    /// Confidentiality, integrity, availability.
    pub nature: Vec<String>,
    /// What happened.
    pub description: String,
    /// Systems involved.
    pub systems: Vec<String>,
    /// Categories of data.
    pub data_categories: Vec<String>,
    /// Categories of people.
    pub subject_kinds: Vec<String>,
    /// Approximate number of people.
    pub approx_subjects: Option<u64>,
    /// Approximate number of records.
    pub approx_records: Option<u64>,
    /// Likely consequences.
    pub consequences: String,
    /// Measures taken.
    pub measures_taken: String,
    /// Measures proposed.
    pub measures_proposed: String,
    /// Contact point.
    pub dpo_contact: String,
    /// The deadlines.
    pub clocks: ClocksOut,
    /// The first notice to the authority.
    pub notified: Option<NotificationOut>,
    /// The follow-up: when.
    pub follow_up_at: Option<String>,
    /// The exemption from telling each person.
    pub exemption: Option<ExemptionIo>,
    /// When recorded.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
    /// When last changed.
    pub updated_at: String,
}

impl From<Breach> for BreachOut {
    fn from(b: Breach) -> Self {
        let c = b.clocks;
        let f = b.facts;
        BreachOut {
            id: b.id.to_string(),
            tenant: b.tenant.to_string(),
            version: b.version,
            detected_at: b.detected_at.to_string(),
            aware_at: b.aware_at.to_string(),
            nature: f.nature.iter().map(|n| n.key().to_owned()).collect(),
            description: f.description,
            systems: f.systems,
            data_categories: f.data_categories,
            subject_kinds: f.subject_kinds,
            approx_subjects: f.approx_subjects,
            approx_records: f.approx_records,
            consequences: f.consequences,
            measures_taken: f.measures_taken,
            measures_proposed: f.measures_proposed,
            dpo_contact: f.dpo_contact,
            clocks: ClocksOut {
                regime: c.regime.key().to_owned(),
                authority_due: c.authority_due.to_string(),
                hours_left: c.hours_left,
                overdue: c.overdue,
                notified_late: c.notified_late,
                follow_up_due: c.follow_up_due.map(|t| t.to_string()),
                follow_up_hours_left: c.follow_up_hours_left,
                follow_up_overdue: c.follow_up_overdue,
            },
            notified: b.notified.map(|n| NotificationOut {
                at: n.at.to_string(),
                complete: n.complete,
                late_reason: n.late_reason,
                reference: n.reference,
            }),
            follow_up_at: b.follow_up.map(|f| f.0.to_string()),
            exemption: b.exemption.map(|e| ExemptionIo {
                ground: e.ground.key().to_owned(),
                explanation: e.explanation,
                public_notice: e.public_notice,
            }),
            created_at: b.created_at.to_string(),
            created_by: b.created_by,
            updated_at: b.updated_at.to_string(),
        }
    }
}

/// Records a breach, notified or not (Art. 33(5)); its clock starts from
/// the policy's kind of provider.
#[utoipa::path(post, path = "/api/v1/breaches", request_body = BreachIn, responses((status = 201, body = BreachOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn record(
    State(state): State<AppState>,
    caller: Caller,
    Body(input): Body<BreachIn>,
) -> Result<(StatusCode, Json<BreachOut>), ApiError> {
    keeper(&state, &caller, "keep the breach register").await?;
    let tenant =
        TenantId::parse(&input.tenant).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let new = NewBreach {
        tenant,
        detected_at: instant("detected_at", input.detected_at.as_deref())?,
        aware_at: instant("aware_at", input.aware_at.as_deref())?,
        facts: Facts {
            nature: natures(&input.nature)?,
            description: input.description,
            systems: input.systems,
            data_categories: input.data_categories,
            subject_kinds: input.subject_kinds,
            approx_subjects: input.approx_subjects,
            approx_records: input.approx_records,
            consequences: input.consequences,
            measures_taken: input.measures_taken,
            measures_proposed: input.measures_proposed,
            dpo_contact: input.dpo_contact,
        },
    };
    let breach = state.breaches.record(&caller.0, new).await?;
    Ok((StatusCode::CREATED, Json(breach.into())))
}

/// The breaches in the caller's scope, the most urgent clock first.
#[utoipa::path(get, path = "/api/v1/breaches", responses((status = 200, body = [BreachOut]), (status = 403, body = crate::error::Problem)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<BreachOut>>, ApiError> {
    keeper(&state, &caller, "read the breach register").await?;
    let all = state.breaches.list(&caller.0).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// A breach.
#[utoipa::path(get, path = "/api/v1/breaches/{id}", params(("id" = String, Path)), responses((status = 200, body = BreachOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BreachOut>, ApiError> {
    keeper(&state, &caller, "read the breach register").await?;
    Ok(Json(
        state
            .breaches
            .show(&caller.0, &parse_breach(&id)?)
            .await?
            .into(),
    ))
}

/// Amends a breach: a new version naming the fields changed.
#[utoipa::path(patch, path = "/api/v1/breaches/{id}", params(("id" = String, Path)), request_body = BreachPatch, responses((status = 200, body = BreachOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn amend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(p): Body<BreachPatch>,
) -> Result<Json<BreachOut>, ApiError> {
    keeper(&state, &caller, "keep the breach register").await?;
    let id = parse_breach(&id)?;
    let change = Amendment {
        detected_at: instant("detected_at", p.detected_at.as_deref())?,
        aware_at: instant("aware_at", p.aware_at.as_deref())?,
        nature: p.nature.as_deref().map(natures).transpose()?,
        description: p.description,
        systems: p.systems,
        data_categories: p.data_categories,
        subject_kinds: p.subject_kinds,
        approx_subjects: p.approx_subjects,
        approx_records: p.approx_records,
        consequences: p.consequences,
        measures_taken: p.measures_taken,
        measures_proposed: p.measures_proposed,
        dpo_contact: p.dpo_contact,
    };
    Ok(Json(
        state.breaches.amend(&caller.0, &id, change).await?.into(),
    ))
}

/// A version of a breach's entry.
#[derive(Serialize, ToSchema)]
pub struct VersionOut {
    /// Its number.
    pub version: i64,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// The fields changed.
    pub changed: Vec<String>,
    /// The whole entry after the change.
    #[schema(value_type = Object)]
    pub entry: serde_json::Value,
}

/// Every version of a breach's entry.
#[utoipa::path(get, path = "/api/v1/breaches/{id}/versions", params(("id" = String, Path)), responses((status = 200, body = [VersionOut]), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<VersionOut>>, ApiError> {
    keeper(&state, &caller, "read the breach register").await?;
    let all = state
        .breaches
        .versions(&caller.0, &parse_breach(&id)?)
        .await?;
    Ok(Json(
        all.into_iter()
            .map(|v| VersionOut {
                version: v.version,
                at: v.at.to_string(),
                actor: v.actor,
                changed: v.changed,
                entry: v.entry,
            })
            .collect(),
    ))
}

/// A notice given to the authority.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationIn {
    /// When it was given (RFC 3339); now when left out.
    pub at: Option<String>,
    /// Whether it said all Art. 33(3) asks; a telecom's incomplete first
    /// notice owes a follow-up within 3 days. Default true.
    pub complete: Option<bool>,
    /// Why it came after the deadline: required when it did.
    pub late_reason: Option<String>,
    /// The authority's reference for it.
    pub reference: Option<String>,
}

/// Records the notice to the authority (or the follow-up of an incomplete
/// one); late without `late_reason` is refused (Art. 33(1)).
#[utoipa::path(post, path = "/api/v1/breaches/{id}/notifications", params(("id" = String, Path)), request_body = NotificationIn, responses((status = 200, body = BreachOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn notify_authority(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(n): Body<NotificationIn>,
) -> Result<Json<BreachOut>, ApiError> {
    keeper(&state, &caller, "keep the breach register").await?;
    let id = parse_breach(&id)?;
    let at = instant("at", n.at.as_deref())?.unwrap_or_else(|| state.store_now());
    let notice = Notification {
        at,
        complete: n.complete.unwrap_or(true),
        late_reason: n.late_reason,
        reference: n.reference,
    };
    Ok(Json(
        state
            .breaches
            .notify_authority(&caller.0, &id, notice)
            .await?
            .into(),
    ))
}

/// What a breach reached.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeIn {
    /// Tenants under the breach's own; its own when left out.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Categories of data the policy declares; every one when left out.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Records collected from this instant (RFC 3339, inclusive).
    pub collected_from: Option<String>,
    /// Records collected before this instant (RFC 3339, exclusive).
    pub collected_until: Option<String>,
    /// Identifiers `kind:value` (`email:anna@example.org`).
    #[serde(default)]
    pub identifiers: Vec<String>,
}

/// People and records of one category under one tenant.
#[derive(Serialize, ToSchema)]
pub struct CountOut {
    /// The tenant.
    pub tenant: String,
    /// The category.
    pub category: String,
    /// People.
    pub subjects: u64,
    /// Records.
    pub records: u64,
}

/// Who and what a breach touched, computed from the data.
#[derive(Serialize, ToSchema)]
pub struct AssessmentOut {
    /// Its id.
    pub id: i64,
    /// When computed.
    pub computed_at: String,
    /// By whom.
    pub actor: String,
    /// Distinct people.
    pub subjects: u64,
    /// Records.
    pub records: u64,
    /// By tenant and category.
    pub counts: Vec<CountOut>,
    /// The scope as bound (identifiers as keyed hashes only).
    #[schema(value_type = Object)]
    pub scope: serde_json::Value,
    /// The statement that computed it.
    pub query: String,
}

impl From<Assessment> for AssessmentOut {
    fn from(a: Assessment) -> Self {
        AssessmentOut {
            id: a.id,
            computed_at: a.computed_at.to_string(),
            actor: a.actor,
            subjects: a.subjects,
            records: a.records,
            counts: a
                .counts
                .into_iter()
                .map(|c| CountOut {
                    tenant: c.tenant.to_string(),
                    category: c.category,
                    subjects: c.subjects,
                    records: c.records,
                })
                .collect(),
            scope: a.scope,
            query: a.query,
        }
    }
}

/// Computes who and what a breach touched (one set-based query) and keeps
/// it with the scope and the statement.
#[utoipa::path(post, path = "/api/v1/breaches/{id}/assessment", params(("id" = String, Path)), request_body = ScopeIn, responses((status = 200, body = AssessmentOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn assess(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(s): Body<ScopeIn>,
) -> Result<Json<AssessmentOut>, ApiError> {
    keeper(&state, &caller, "keep the breach register").await?;
    let id = parse_breach(&id)?;
    let tenants = s
        .tenants
        .iter()
        .map(|t| TenantId::parse(t).map_err(|e| ApiError::bad_request(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let scope = Scope {
        tenants,
        categories: s.categories,
        collected_from: instant("collected_from", s.collected_from.as_deref())?,
        collected_until: instant("collected_until", s.collected_until.as_deref())?,
        identifiers: s.identifiers,
    };
    Ok(Json(
        state.breaches.assess(&caller.0, &id, scope).await?.into(),
    ))
}

/// The latest assessment of a breach.
#[utoipa::path(get, path = "/api/v1/breaches/{id}/assessment", params(("id" = String, Path)), responses((status = 200, body = AssessmentOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn assessment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AssessmentOut>, ApiError> {
    keeper(&state, &caller, "read the breach register").await?;
    let id = parse_breach(&id)?;
    match state.breaches.assessment(&caller.0, &id).await? {
        Some(a) => Ok(Json(a.into())),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Not assessed",
            format!(
                "the people breach {id} touched have not been computed yet: POST its scope to /api/v1/breaches/{id}/assessment"
            ),
        )),
    }
}

/// The language and format of the authority's notification.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    /// A language of the policy (`it`, `en`, `fr`, `nl`); its first when left out.
    pub lang: Option<String>,
    /// `markdown` (default) or `html`.
    pub format: Option<String>,
}

/// The notification to the authority (Art. 33(3)), as the document the
/// DPO files.
#[utoipa::path(get, path = "/api/v1/breaches/{id}/notice", params(("id" = String, Path), NoticeQuery), responses((status = 200, description = "the notification", content_type = "text/markdown"), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn notice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<NoticeQuery>,
) -> Result<Response, ApiError> {
    keeper(&state, &caller, "read the breach register").await?;
    let id = parse_breach(&id)?;
    let lang = crate::requests::language(&state, q.lang.as_deref())?;
    let (format, content_type) = match q.format.as_deref() {
        None | Some("markdown") => (Format::Markdown, "text/markdown; charset=utf-8"),
        Some("html") => (Format::Html, "text/html; charset=utf-8"),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`{other}` is not a format: use markdown or html"
            )));
        }
    };
    let doc = state
        .breaches
        .authority_notice(&caller.0, &id, lang)
        .await?;
    Ok(([(header::CONTENT_TYPE, content_type)], doc.render(format)).into_response())
}

/// Records that the people are not told one by one (Art. 34(3)).
#[utoipa::path(post, path = "/api/v1/breaches/{id}/exemption", params(("id" = String, Path)), request_body = ExemptionIo, responses((status = 200, body = BreachOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn exempt(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(e): Body<ExemptionIo>,
) -> Result<Json<BreachOut>, ApiError> {
    keeper(&state, &caller, "keep the breach register").await?;
    let id = parse_breach(&id)?;
    let ground = ExemptionGround::from_key(&e.ground).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`{}` is not a ground of Art. 34(3): use unintelligible, risk_no_longer_likely or disproportionate_effort",
            e.ground
        ))
    })?;
    let exemption = Exemption {
        ground,
        explanation: e.explanation,
        public_notice: e.public_notice,
    };
    Ok(Json(
        state
            .breaches
            .exempt(&caller.0, &id, exemption)
            .await?
            .into(),
    ))
}

/// The register's notices go out through the server's relay.
struct Relay<'a>(&'a crate::mail::Mailer);

impl custode_breaches::Courier for Relay<'_> {
    async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        self.0
            .send(to, subject, body)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What the notices to the people did.
#[derive(Serialize, ToSchema)]
pub struct PeopleOut {
    /// The exemption that stopped every mail, if any.
    pub exempted: Option<String>,
    /// People told now.
    pub told: u64,
    /// People told before.
    pub already_told: u64,
    /// People with no e-mail address in the data (reach them otherwise).
    pub without_address: Vec<String>,
    /// People whose mail the relay refused (call again to retry).
    pub failed: Vec<String>,
}

/// Tells each person the latest assessment found (Art. 34), in their
/// language, through the mail relay; an exemption stops every mail.
#[utoipa::path(post, path = "/api/v1/breaches/{id}/people/notify", params(("id" = String, Path)), responses((status = 200, body = PeopleOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("token" = [])))]
pub async fn notify_people(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PeopleOut>, ApiError> {
    caller
        .require(
            &state,
            Operation::ReadRecords,
            "tell the people a breach touched",
        )
        .await?;
    keeper(&state, &caller, "keep the breach register").await?;
    let id = parse_breach(&id)?;
    let Some(mailer) = state.mailer.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "No mail relay",
            "this instance has no mail relay (serve --smtp), so it cannot mail the notices",
        ));
    };
    let r = state
        .breaches
        .notify_people(&caller.0, &id, &Relay(&mailer))
        .await?;
    Ok(Json(PeopleOut {
        exempted: r.exempted.map(|g| g.key().to_owned()),
        told: r.told,
        already_told: r.already_told,
        without_address: r.without_address.iter().map(ToString::to_string).collect(),
        failed: r.failed.iter().map(ToString::to_string).collect(),
    }))
}
