//! The register itself (Art. 33(5)): what a breach is, recorded, amended
//! and read back within the caller's scope. Every change is a new version
//! (who, when, which fields, the whole entry after it) written with its
//! audit entry in one transaction.

use std::collections::BTreeSet;

use custode_audit::{Action, Event};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{BreachId, Principal, TenantId};
use custode_policy::{Policy, ProviderKind};
use custode_store::{StoreError, not_found};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{Any, Row, Transaction};
use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::Breaches;
use crate::clock::{self, Clocks, Timeline};
use crate::notices::Exemption;

/// What a breach compromised (the three of the EDPB's guidelines).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    IntoStaticStr,
    EnumString,
    VariantArray,
    Serialize,
    Deserialize,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Nature {
    /// Data disclosed to or reached by someone not entitled to them.
    Confidentiality,
    /// Data altered without authorisation.
    Integrity,
    /// Data lost or made unreachable.
    Availability,
}

impl Nature {
    /// Every value, in declaration order.
    pub const ALL: &'static [Nature] = <Nature as VariantArray>::VARIANTS;

    /// The stored name.
    pub fn key(self) -> &'static str {
        self.into()
    }

    /// The value with a stored name.
    pub fn from_key(name: &str) -> Option<Nature> {
        name.parse().ok()
    }
}

/// What the DPO writes of a breach (Art. 33(3) and (5)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// Confidentiality, integrity and/or availability.
    pub nature: Vec<Nature>,
    /// What happened.
    pub description: String,
    /// The systems involved.
    pub systems: Vec<String>,
    /// The categories of data concerned: ids the policy declares.
    pub data_categories: Vec<String>,
    /// The categories of people concerned: subject kinds the policy declares.
    pub subject_kinds: Vec<String>,
    /// The approximate number of people concerned.
    pub approx_subjects: Option<u64>,
    /// The approximate number of records concerned.
    pub approx_records: Option<u64>,
    /// The likely consequences.
    pub consequences: String,
    /// The measures taken to address the breach and mitigate its effects.
    pub measures_taken: String,
    /// The measures proposed.
    pub measures_proposed: String,
    /// The contact point for more information (the DPO's, by default).
    pub dpo_contact: String,
}

/// A breach to record.
#[derive(Clone, Debug)]
pub struct NewBreach {
    /// The tenant it belongs to (the provider for an instance-wide one).
    pub tenant: TenantId,
    /// When it was detected.
    pub detected_at: Option<Timestamp>,
    /// When the controller became aware that personal data were breached.
    pub aware_at: Option<Timestamp>,
    /// The rest of the entry.
    pub facts: Facts,
}

/// A change to a breach's entry: the fields given replace the old ones.
#[derive(Clone, Debug, Default)]
#[allow(missing_docs)]
pub struct Amendment {
    pub detected_at: Option<Timestamp>,
    pub aware_at: Option<Timestamp>,
    pub nature: Option<Vec<Nature>>,
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

/// A notice given to the supervisory authority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// When it was given.
    pub at: Timestamp,
    /// Whether it said all Art. 33(3) asks (a telecom's incomplete first
    /// notice owes a follow-up within 3 days).
    pub complete: bool,
    /// Why it came after the deadline; required when it did.
    pub late_reason: Option<String>,
    /// The authority's reference for it, if any.
    pub reference: Option<String>,
}

/// A breach as the register shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Breach {
    /// Its id.
    pub id: BreachId,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The law its clock runs by (the policy's kind of provider when it was recorded).
    pub regime: ProviderKind,
    /// When it was detected.
    pub detected_at: Timestamp,
    /// When the controller became aware.
    pub aware_at: Timestamp,
    /// What the DPO wrote.
    pub facts: Facts,
    /// The entry's version, from 1.
    pub version: i64,
    /// The first notice to the authority.
    pub notified: Option<Notification>,
    /// The follow-up of an incomplete first notice: when, and why late.
    pub follow_up: Option<(Timestamp, Option<String>)>,
    /// Why the people are not told one by one (Art. 34(3)).
    pub exemption: Option<Exemption>,
    /// Its deadlines now.
    pub clocks: Clocks,
    /// When it was recorded, and by whom.
    pub created_at: Timestamp,
    /// Who recorded it.
    pub created_by: String,
    /// When its entry last changed.
    pub updated_at: Timestamp,
}

impl Breach {
    /// The whole entry as JSON: what each version keeps.
    pub fn entry(&self) -> Value {
        json!({
            "tenant": self.tenant.as_str(),
            "regime": self.regime.key(),
            "detected_at": self.detected_at.to_string(),
            "aware_at": self.aware_at.to_string(),
            "facts": self.facts,
            "notified": self.notified.as_ref().map(|n| json!({
                "at": n.at.to_string(), "complete": n.complete,
                "late_reason": n.late_reason, "reference": n.reference,
            })),
            "follow_up": self.follow_up.as_ref().map(|(at, why)| json!({
                "at": at.to_string(), "late_reason": why,
            })),
            "exemption": self.exemption,
        })
    }
}

/// A version of a breach's entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// Its number, from 1.
    pub version: i64,
    /// When.
    pub at: Timestamp,
    /// Who made the change.
    pub actor: String,
    /// Which fields changed (`recorded` for the first).
    pub changed: Vec<String>,
    /// The whole entry after the change.
    pub entry: Value,
}

/// The register's clocks over every breach, for monitoring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Breaches whose authority has not been told.
    pub unnotified: u64,
    /// Of those, past their deadline.
    pub overdue: u64,
    /// Follow-ups owed.
    pub follow_ups_owed: u64,
    /// Of those, past their deadline.
    pub follow_ups_overdue: u64,
    /// The fewest whole hours left on any running clock (negative when one
    /// is overdue), if one runs.
    pub least_hours_left: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, tenant_path, regime, detected_at, aware_at, details, version, \
     notified_at, notice_complete, late_reason, authority_reference, follow_up_at, follow_up_late_reason, \
     exemption, created_at, created_by, updated_at";

/// Words of an error about the entry.
fn invalid(s: impl Into<String>) -> StoreError {
    StoreError::Invalid(s.into())
}

fn bad_row(what: &str) -> StoreError {
    StoreError::Invalid(format!("the breach register holds an unreadable {what}"))
}

/// A row as a breach, with its clocks at `now`; also its tenant path.
fn breach_of(r: &sqlx::any::AnyRow, now: Timestamp) -> Result<(Breach, String), StoreError> {
    let id: String = r.try_get(0)?;
    let tenant: String = r.try_get(1)?;
    let regime: String = r.try_get(3)?;
    let regime = ProviderKind::from_key(&regime).ok_or_else(|| bad_row("regime"))?;
    let details: String = r.try_get(6)?;
    let facts: Facts = serde_json::from_str(&details).map_err(|_| bad_row("entry"))?;
    let notified = match r.try_get::<Option<i64>, _>(8)? {
        Some(at) => Some(Notification {
            at: from_micros(at),
            complete: r.try_get::<Option<i64>, _>(9)?.unwrap_or(1) != 0,
            late_reason: r.try_get(10)?,
            reference: r.try_get(11)?,
        }),
        None => None,
    };
    let follow_up = r
        .try_get::<Option<i64>, _>(12)?
        .map(|at| Ok::<_, StoreError>((from_micros(at), r.try_get(13)?)))
        .transpose()?;
    let exemption = r
        .try_get::<Option<String>, _>(14)?
        .map(|e| serde_json::from_str(&e).map_err(|_| bad_row("exemption")))
        .transpose()?;
    let detected_at = from_micros(r.try_get(4)?);
    let aware_at = from_micros(r.try_get(5)?);
    let clocks = clock::clocks(
        &Timeline {
            regime,
            detected_at,
            aware_at,
            notified: notified.as_ref().map(|n| (n.at, n.complete)),
            follow_up_at: follow_up.as_ref().map(|f| f.0),
        },
        now,
    );
    Ok((
        Breach {
            id: BreachId::parse(&id).map_err(|_| bad_row("id"))?,
            tenant: TenantId::parse(&tenant).map_err(|_| bad_row("tenant"))?,
            regime,
            detected_at,
            aware_at,
            facts,
            version: r.try_get(7)?,
            notified,
            follow_up,
            exemption,
            clocks,
            created_at: from_micros(r.try_get(15)?),
            created_by: r.try_get(16)?,
            updated_at: from_micros(r.try_get(17)?),
        },
        r.try_get(2)?,
    ))
}

/// Checks an entry against the policy and fills the contact point from
/// the policy's DPO when left out.
fn check_entry(
    policy: &Policy,
    detected_at: Timestamp,
    aware_at: Timestamp,
    facts: &mut Facts,
    now: Timestamp,
) -> Result<(), StoreError> {
    if facts.nature.is_empty() {
        return Err(invalid(
            "say what the breach compromised: `nature` is one or more of confidentiality, integrity, availability",
        ));
    }
    facts.nature = facts
        .nature
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if facts.description.trim().is_empty() {
        return Err(invalid("describe what happened (`description`)"));
    }
    // A little slack for clocks that differ by a few seconds.
    let soon = now
        .checked_add(jiff::SignedDuration::from_mins(5))
        .unwrap_or(now);
    if detected_at > soon || aware_at > soon {
        return Err(invalid(
            "`detected_at` and `aware_at` are moments that have happened: neither may be in the future",
        ));
    }
    if aware_at < detected_at {
        return Err(invalid(format!(
            "`aware_at` ({aware_at}) is before `detected_at` ({detected_at}): the controller becomes aware of a breach once it is detected"
        )));
    }
    let declared: Vec<&str> = policy
        .categories
        .iter()
        .map(|c| c.id.value.as_str())
        .collect();
    for c in &facts.data_categories {
        if policy.category(c).is_none() {
            return Err(invalid(format!(
                "data category `{c}` is not declared in the policy (declared: {})",
                declared.join(", ")
            )));
        }
    }
    let kinds: Vec<&str> = policy
        .subjects
        .iter()
        .map(|s| s.id.value.as_str())
        .collect();
    for k in &facts.subject_kinds {
        if policy.subject(k).is_none() {
            return Err(invalid(format!(
                "category of people `{k}` is not a subject kind of the policy (declared: {})",
                kinds.join(", ")
            )));
        }
    }
    for list in [
        &mut facts.data_categories,
        &mut facts.subject_kinds,
        &mut facts.systems,
    ] {
        list.retain(|s| !s.trim().is_empty());
        let set: BTreeSet<String> = list.iter().map(|s| s.trim().to_owned()).collect();
        *list = set.into_iter().collect();
    }
    if facts.dpo_contact.trim().is_empty() {
        let dpo = policy.dpo.as_ref();
        let contact = [
            dpo.and_then(|d| d.name.clone()),
            dpo.and_then(|d| d.email.clone()),
            dpo.and_then(|d| d.phone.clone()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        if contact.is_empty() {
            return Err(invalid(
                "give the contact point for more information (`dpo_contact`): the policy names no DPO",
            ));
        }
        facts.dpo_contact = contact;
    }
    for (name, text) in [
        ("description", &facts.description),
        ("consequences", &facts.consequences),
        ("measures_taken", &facts.measures_taken),
        ("measures_proposed", &facts.measures_proposed),
    ] {
        if text.chars().count() > 20_000 {
            return Err(invalid(format!(
                "`{name}` is longer than 20,000 characters"
            )));
        }
    }
    Ok(())
}

impl Breaches {
    /// Records a breach (notified or not: Art. 33(5)) under a tenant in the
    /// caller's scope; its clock starts from the policy's kind of provider.
    pub async fn record(&self, by: &Principal, new: NewBreach) -> Result<Breach, StoreError> {
        self.check_role(by, "breach.record").await?;
        let Some(aware_at) = new.aware_at else {
            return Err(invalid(
                "a breach needs the moment the controller became aware of it (`aware_at`): the 72 hours of Art. 33(1) count from it",
            ));
        };
        let Some(detected_at) = new.detected_at else {
            return Err(invalid(
                "a breach needs the moment it was detected (`detected_at`): an electronic communications provider's 24 hours count from it",
            ));
        };
        let policy = self.store.policy();
        let now = self.store.now();
        let mut facts = new.facts;
        check_entry(&policy, detected_at, aware_at, &mut facts, now)?;
        // The kernel's scope check: a tenant outside it is not found.
        let tenant = self.store.tenant(by, &new.tenant).await?;
        let id = BreachId::generate();
        let now_us = to_micros(now);
        let regime = policy.meta.provider;
        let details = serde_json::to_string(&facts).map_err(|e| invalid(e.to_string()))?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO breaches (id, tenant_id, tenant_path, regime, detected_at, aware_at, details, version, created_at, created_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $8)",
        )
        .bind(id.as_str())
        .bind(tenant.id.as_str())
        .bind(tenant.path.as_str())
        .bind(regime.key())
        .bind(to_micros(detected_at))
        .bind(to_micros(aware_at))
        .bind(details)
        .bind(now_us)
        .bind(by.id.as_str())
        .execute(&mut *tx)
        .await?;
        let breach = self.load(&mut tx, &id, now).await?.0;
        self.version(&mut tx, &breach, by, &["recorded".to_owned()], now_us)
            .await?;
        self.store
            .audit(
                &mut tx,
                now_us,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::BreachRecorded,
                    subject: None,
                    reason: None,
                    detail: json!({
                        "breach": id.as_str(),
                        "tenant": tenant.id.as_str(),
                        "regime": regime.key(),
                        "nature": breach.facts.nature,
                        "categories": breach.facts.data_categories,
                        "authority_due": breach.clocks.authority_due.to_string(),
                    }),
                }],
            )
            .await?;
        tx.commit().await?;
        Ok(breach)
    }

    /// Amends a breach's entry: a new version naming the fields changed,
    /// audited in the same transaction. Nothing changed, nothing written.
    pub async fn amend(
        &self,
        by: &Principal,
        id: &BreachId,
        change: Amendment,
    ) -> Result<Breach, StoreError> {
        self.check_role(by, "breach.amend").await?;
        let policy = self.store.policy();
        let now = self.store.now();
        let (mut tx, old) = self.begin_in_scope(by, id, now).await?;
        let mut facts = old.facts.clone();
        let detected_at = change.detected_at.unwrap_or(old.detected_at);
        let aware_at = change.aware_at.unwrap_or(old.aware_at);
        macro_rules! take {
            ($($field:ident),*) => {$(
                if let Some(v) = change.$field { facts.$field = v; }
            )*};
        }
        take!(
            nature,
            description,
            systems,
            data_categories,
            subject_kinds,
            consequences,
            measures_taken,
            measures_proposed,
            dpo_contact
        );
        if change.approx_subjects.is_some() {
            facts.approx_subjects = change.approx_subjects;
        }
        if change.approx_records.is_some() {
            facts.approx_records = change.approx_records;
        }
        check_entry(&policy, detected_at, aware_at, &mut facts, now)?;
        let mut changed = Vec::new();
        if detected_at != old.detected_at {
            changed.push("detected_at".to_owned());
        }
        if aware_at != old.aware_at {
            changed.push("aware_at".to_owned());
        }
        let (before, after) = (json!(old.facts), json!(facts));
        if let (Value::Object(b), Value::Object(a)) = (&before, &after) {
            changed.extend(
                a.iter()
                    .filter(|(k, v)| b.get(*k) != Some(*v))
                    .map(|(k, _)| k.clone()),
            );
        }
        if changed.is_empty() {
            return Ok(old);
        }
        if old.notified.is_some()
            && changed
                .iter()
                .any(|c| c == "detected_at" || c == "aware_at")
        {
            return Err(StoreError::Conflict(
                "the authority has been told of this breach: its times of detection and awareness stay as notified (describe a correction in the follow-up)".to_owned(),
            ));
        }
        let now_us = to_micros(now);
        sqlx::query(
            "UPDATE breaches SET detected_at = $1, aware_at = $2, details = $3, version = version + 1, updated_at = $4 WHERE id = $5",
        )
        .bind(to_micros(detected_at))
        .bind(to_micros(aware_at))
        .bind(serde_json::to_string(&facts).map_err(|e| invalid(e.to_string()))?)
        .bind(now_us)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let breach = self
            .changed(&mut tx, by, id, &changed, now, json!({}))
            .await?;
        tx.commit().await?;
        Ok(breach)
    }

    /// Records the notice to the supervisory authority (the first one; for
    /// a telecom's incomplete first notice, the next one is its follow-up).
    /// After the deadline a reason for the delay is required (Art. 33(1)).
    pub async fn notify_authority(
        &self,
        by: &Principal,
        id: &BreachId,
        notice: Notification,
    ) -> Result<Breach, StoreError> {
        self.check_role(by, "breach.notify_authority").await?;
        let now = self.store.now();
        let late_reason = notice
            .late_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        let reference = notice
            .reference
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        if notice.at
            > now
                .checked_add(jiff::SignedDuration::from_mins(5))
                .unwrap_or(now)
        {
            return Err(invalid(
                "the notice is recorded once given: its time may not be in the future",
            ));
        }
        let (mut tx, old) = self.begin_in_scope(by, id, now).await?;
        if notice.at < old.detected_at {
            return Err(invalid(format!(
                "the notice's time ({}) is before the breach was detected ({})",
                notice.at, old.detected_at
            )));
        }
        let now_us = to_micros(now);
        let (changed, detail) = match &old.notified {
            None => {
                let due = old.clocks.authority_due;
                if notice.at > due && late_reason.is_none() {
                    return Err(invalid(format!(
                        "the authority was told at {}, after the deadline of {due} ({}): give the reasons for the delay (`late_reason`, Art. 33(1))",
                        notice.at,
                        clock::rule(old.regime)
                    )));
                }
                sqlx::query(
                    "UPDATE breaches SET notified_at = $1, notice_complete = $2, late_reason = $3, authority_reference = $4, \
                     version = version + 1, updated_at = $5 WHERE id = $6",
                )
                .bind(to_micros(notice.at))
                .bind(i64::from(notice.complete))
                .bind(late_reason.clone())
                .bind(reference)
                .bind(now_us)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
                (
                    "notified",
                    json!({"notice": "first", "complete": notice.complete, "late": notice.at > due}),
                )
            }
            Some(first) => {
                let Some(due) = old.clocks.follow_up_due else {
                    return Err(StoreError::Conflict(format!(
                        "the authority was already told of this breach on {}{}: record further information as an amendment",
                        first.at,
                        if first.complete { ", in full" } else { "" }
                    )));
                };
                if old.follow_up.is_some() {
                    return Err(StoreError::Conflict(
                        "the follow-up of this breach's first notice is recorded already"
                            .to_owned(),
                    ));
                }
                if notice.at > due && late_reason.is_none() {
                    return Err(invalid(format!(
                        "the follow-up was given at {}, after its deadline of {due} (3 days after the first notice, Regulation 611/2013 Art. 2(3)): give the reasons for the delay (`late_reason`)",
                        notice.at
                    )));
                }
                sqlx::query(
                    "UPDATE breaches SET follow_up_at = $1, follow_up_late_reason = $2, version = version + 1, updated_at = $3 WHERE id = $4",
                )
                .bind(to_micros(notice.at))
                .bind(late_reason.clone())
                .bind(now_us)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
                (
                    "follow_up",
                    json!({"notice": "follow_up", "late": notice.at > due}),
                )
            }
        };
        let breach = self
            .changed(&mut tx, by, id, &[changed.to_owned()], now, json!({}))
            .await?;
        self.store
            .audit(
                &mut tx,
                now_us,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::BreachAuthorityNotified,
                    subject: None,
                    reason: late_reason,
                    detail: {
                        let mut d = detail;
                        d["breach"] = json!(id.as_str());
                        d
                    },
                }],
            )
            .await?;
        tx.commit().await?;
        Ok(breach)
    }

    /// A breach in the caller's scope.
    pub async fn show(&self, by: &Principal, id: &BreachId) -> Result<Breach, StoreError> {
        self.check_role(by, "breach.read").await?;
        let mut conn = self.store.reader().acquire().await?;
        let now = self.store.now();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM breaches WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| not_found("breach", id.as_str()))?;
        let (breach, path) = breach_of(&row, now)?;
        if !path.starts_with(by.scope.path()) {
            drop(conn);
            self.store.record_denied(by, "breach.read").await?;
            return Err(not_found("breach", id.as_str()));
        }
        Ok(breach)
    }

    /// The breaches in the caller's scope, the most urgent clock first,
    /// then the newest.
    pub async fn list(&self, by: &Principal) -> Result<Vec<Breach>, StoreError> {
        self.check_role(by, "breach.list").await?;
        let (low, high) = by.scope.path_range();
        let now = self.store.now();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM breaches WHERE tenant_path >= $1 AND tenant_path < $2 ORDER BY created_at DESC, id"
        )))
        .bind(low)
        .bind(high)
        .fetch_all(self.store.reader())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| breach_of(r, now).map(|b| b.0))
            .collect::<Result<Vec<_>, _>>()?;
        // Open clocks first (fewest hours left first), then the rest as listed.
        out.sort_by_key(|b| {
            let left = b.clocks.hours_left.or(b.clocks.follow_up_hours_left);
            (left.is_none(), left.unwrap_or(0))
        });
        Ok(out)
    }

    /// Every version of a breach's entry, oldest first.
    pub async fn versions(
        &self,
        by: &Principal,
        id: &BreachId,
    ) -> Result<Vec<Version>, StoreError> {
        self.show(by, id).await?;
        let rows = sqlx::query(
            "SELECT version, at, actor, changed, entry FROM breach_versions WHERE breach_id = $1 ORDER BY version",
        )
        .bind(id.as_str())
        .fetch_all(self.store.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let changed: String = r.try_get(3)?;
                let entry: String = r.try_get(4)?;
                Ok(Version {
                    version: r.try_get(0)?,
                    at: from_micros(r.try_get(1)?),
                    actor: r.try_get(2)?,
                    changed: serde_json::from_str(&changed).map_err(|_| bad_row("version"))?,
                    entry: serde_json::from_str(&entry).map_err(|_| bad_row("version"))?,
                })
            })
            .collect()
    }

    /// The clocks of every breach, for `/metrics`: no principal, no
    /// content, counts only.
    pub async fn health(&self) -> Result<Health, StoreError> {
        let now = self.store.now();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM breaches WHERE notified_at IS NULL OR (follow_up_at IS NULL AND notice_complete = 0)"
        )))
        .fetch_all(self.store.reader())
        .await?;
        let mut h = Health::default();
        for r in &rows {
            let c = breach_of(r, now)?.0.clocks;
            if let Some(left) = c.hours_left {
                h.unnotified += 1;
                h.overdue += u64::from(c.overdue);
                h.least_hours_left = Some(h.least_hours_left.map_or(left, |l| l.min(left)));
            }
            if let Some(left) = c.follow_up_hours_left {
                h.follow_ups_owed += 1;
                h.follow_ups_overdue += u64::from(c.follow_up_overdue);
                h.least_hours_left = Some(h.least_hours_left.map_or(left, |l| l.min(left)));
            }
        }
        Ok(h)
    }

    /// A breach read in a transaction, with its tenant path.
    pub(crate) async fn load(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &BreachId,
        now: Timestamp,
    ) -> Result<(Breach, String), StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM breaches WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| not_found("breach", id.as_str()))?;
        breach_of(&row, now)
    }

    /// A write transaction and the breach it changes, refused (audited, as
    /// not found) outside the caller's scope.
    pub(crate) async fn begin_in_scope(
        &self,
        by: &Principal,
        id: &BreachId,
        now: Timestamp,
    ) -> Result<(Transaction<'static, Any>, Breach), StoreError> {
        let mut tx = self.store.begin_write().await?;
        let (breach, path) = self.load(&mut tx, id, now).await?;
        if !path.starts_with(by.scope.path()) {
            // The refusal is audited through the writer this one holds.
            drop(tx);
            self.store.record_denied(by, "breach.change").await?;
            return Err(not_found("breach", id.as_str()));
        }
        Ok((tx, breach))
    }

    /// After an update of the row: the new version and its audit entry.
    pub(crate) async fn changed(
        &self,
        tx: &mut Transaction<'static, Any>,
        by: &Principal,
        id: &BreachId,
        changed: &[String],
        now: Timestamp,
        extra: Value,
    ) -> Result<Breach, StoreError> {
        let now_us = to_micros(now);
        let breach = self.load(tx, id, now).await?.0;
        self.version(tx, &breach, by, changed, now_us).await?;
        let mut detail =
            json!({ "breach": id.as_str(), "version": breach.version, "changed": changed });
        if let (Value::Object(d), Value::Object(e)) = (&mut detail, extra) {
            d.extend(e);
        }
        self.store
            .audit(
                tx,
                now_us,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::BreachChanged,
                    subject: None,
                    reason: None,
                    detail,
                }],
            )
            .await?;
        Ok(breach)
    }

    async fn version(
        &self,
        tx: &mut Transaction<'static, Any>,
        breach: &Breach,
        by: &Principal,
        changed: &[String],
        now_us: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO breach_versions (breach_id, version, at, actor, changed, entry) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(breach.id.as_str())
        .bind(breach.version)
        .bind(now_us)
        .bind(by.id.as_str())
        .bind(json!(changed).to_string())
        .bind(breach.entry().to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
