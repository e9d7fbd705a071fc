//! Telling of a breach: the authority's notification rendered from the
//! register with the fields of Art. 33(3) (a document the DPO files), and
//! the notice to each person it touched (Art. 34) in the language of the
//! notice they last accepted, mailed through the face's [`Courier`]; or
//! the exemption of Art. 34(3) that spares them, recorded in the register.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use custode_audit::{Action, Event};
use custode_domain::clock::to_micros;
use custode_domain::{BreachId, Principal, SubjectId};
use custode_policy::{Block, Document, IdentifierKind, Lang, Policy, ProviderKind};
use custode_store::StoreError;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::i18n::{Messages, messages};
use crate::register::Breach;
use crate::{Assessment, Breaches};

/// Why the people are not told one by one (Art. 34(3)).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    IntoStaticStr,
    EnumString,
    VariantArray,
    Serialize,
    Deserialize,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ExemptionGround {
    /// (a) The data are unintelligible to anyone not authorised (sealed
    /// payloads whose keys were not taken).
    Unintelligible,
    /// (b) Measures taken since make the high risk no longer likely.
    RiskNoLongerLikely,
    /// (c) Telling each would take disproportionate effort: a public
    /// communication instead.
    DisproportionateEffort,
}

impl ExemptionGround {
    /// Every value, in declaration order.
    pub const ALL: &'static [ExemptionGround] = <ExemptionGround as VariantArray>::VARIANTS;

    /// The stored name.
    pub fn key(self) -> &'static str {
        self.into()
    }

    /// The value with a stored name.
    pub fn from_key(name: &str) -> Option<ExemptionGround> {
        name.parse().ok()
    }
}

/// An exemption as the register keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exemption {
    /// The ground.
    pub ground: ExemptionGround,
    /// Why it applies, in the DPO's words.
    pub explanation: String,
    /// For disproportionate effort: the public communication (where, when).
    pub public_notice: Option<String>,
}

/// What sends a notice to a person: the face's mail relay.
pub trait Courier: Sync {
    /// Sends a plain-text message; the error is the relay's, never logged
    /// with the address.
    fn send(
        &self,
        to: &str,
        subject: &str,
        body: String,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// What a round of notices to the people did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeopleReport {
    /// The exemption that stopped every mail, if one is recorded.
    pub exempted: Option<ExemptionGround>,
    /// People told now.
    pub told: u64,
    /// People told before (not mailed again).
    pub already_told: u64,
    /// People the data hold no e-mail address of (to reach otherwise).
    pub without_address: Vec<SubjectId>,
    /// People whose mail the relay did not take (a rerun tries again).
    pub failed: Vec<SubjectId>,
}

/// An instant in the controller's time zone.
fn local(policy: &Policy, at: Timestamp) -> String {
    let zone = custode_domain::records::zone_for(&policy.meta.jurisdiction);
    at.to_zoned(jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC))
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The names of categories of data in a language (ids the policy no
/// longer declares stay as ids).
fn category_names(policy: &Policy, lang: Lang, ids: &[String]) -> Vec<String> {
    ids.iter()
        .map(|c| {
            policy
                .category(c)
                .map_or_else(|| c.clone(), |x| x.name.get(lang).to_owned())
        })
        .collect()
}

fn or_unknown(m: &Messages, s: &str) -> String {
    if s.trim().is_empty() {
        m.msg("unknown")
    } else {
        s.trim().to_owned()
    }
}

/// The authority's notification of a breach (Art. 33(3)): a document in
/// `lang` with the register's entry, the people and records computed from
/// the data, and what the people were told.
pub fn authority_document(
    policy: &Policy,
    lang: Lang,
    breach: &Breach,
    assessment: Option<&Assessment>,
    people_told: u64,
) -> Document {
    let m = messages(lang);
    let f = &breach.facts;
    let mut blocks = vec![Block::Para(m.get(
        "notice-breach",
        &[
            ("id", breach.id.as_str()),
            ("version", &breach.version.to_string()),
        ],
    ))];
    let c = &policy.controller;
    blocks.push(Block::Heading(2, m.msg("controller")));
    blocks.push(Block::List(
        [
            c.name.clone(),
            c.address.clone(),
            c.email.clone(),
            c.tax_id.clone(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    ));
    blocks.push(Block::Heading(2, m.msg("contact")));
    blocks.push(Block::Para(f.dpo_contact.clone()));
    blocks.push(Block::Heading(2, m.msg("timeline")));
    let mut when = vec![
        format!(
            "{}: {}",
            m.msg("detected"),
            local(policy, breach.detected_at)
        ),
        format!("{}: {}", m.msg("aware"), local(policy, breach.aware_at)),
        format!(
            "{}: {} ({})",
            m.msg("deadline"),
            local(policy, breach.clocks.authority_due),
            m.msg(&format!("rule-{}", breach.regime.key()))
        ),
    ];
    match &breach.notified {
        Some(n) => {
            when.push(format!("{}: {}", m.msg("notified"), local(policy, n.at)));
            if let Some(why) = &n.late_reason {
                when.push(format!("{}: {why}", m.msg("late-reason")));
            }
        }
        None => when.push(m.msg("not-notified")),
    }
    if let Some((at, why)) = &breach.follow_up {
        when.push(format!("{}: {}", m.msg("follow-up"), local(policy, *at)));
        if let Some(why) = why {
            when.push(format!("{}: {why}", m.msg("late-reason")));
        }
    }
    blocks.push(Block::List(when));
    blocks.push(Block::Heading(2, m.msg("nature")));
    blocks.push(Block::List(
        f.nature
            .iter()
            .map(|n| m.msg(&format!("nature-{}", n.key())))
            .collect(),
    ));
    blocks.push(Block::Heading(3, m.msg("description")));
    blocks.push(Block::Para(f.description.clone()));
    if !f.systems.is_empty() {
        blocks.push(Block::Heading(3, m.msg("systems")));
        blocks.push(Block::List(f.systems.clone()));
    }
    blocks.push(Block::Heading(2, m.msg("concerned")));
    let kinds: Vec<String> = f
        .subject_kinds
        .iter()
        .map(|k| {
            policy
                .subject(k)
                .map_or_else(|| k.clone(), |s| s.name.get(lang).to_owned())
        })
        .collect();
    let join = |v: Vec<String>| {
        if v.is_empty() {
            m.msg("unknown")
        } else {
            v.join(", ")
        }
    };
    blocks.push(Block::List(vec![
        format!(
            "{}: {}",
            m.msg("data-categories"),
            join(category_names(policy, lang, &f.data_categories))
        ),
        format!("{}: {}", m.msg("subject-kinds"), join(kinds)),
    ]));
    let number = |n: Option<u64>| n.map_or_else(|| m.msg("unknown"), |n| n.to_string());
    blocks.push(Block::Para(m.get(
        "approx",
        &[
            ("subjects", &number(f.approx_subjects)),
            ("records", &number(f.approx_records)),
        ],
    )));
    if let Some(a) = assessment {
        blocks.push(Block::Para(m.get(
            "computed",
            &[
                ("date", &local(policy, a.computed_at)),
                ("subjects", &a.subjects.to_string()),
                ("records", &a.records.to_string()),
            ],
        )));
        blocks.push(Block::Table(
            vec![
                m.msg("column-tenant"),
                m.msg("column-category"),
                m.msg("column-people"),
                m.msg("column-records"),
            ],
            a.counts
                .iter()
                .map(|c| {
                    vec![
                        c.tenant.to_string(),
                        category_names(policy, lang, std::slice::from_ref(&c.category)).join(""),
                        c.subjects.to_string(),
                        c.records.to_string(),
                    ]
                })
                .collect(),
        ));
    }
    for (heading, text) in [
        ("consequences", &f.consequences),
        ("measures-taken", &f.measures_taken),
        ("measures-proposed", &f.measures_proposed),
    ] {
        blocks.push(Block::Heading(2, m.msg(heading)));
        blocks.push(Block::Para(or_unknown(m, text)));
    }
    blocks.push(Block::Heading(2, m.msg("people")));
    match &breach.exemption {
        Some(e) => {
            blocks.push(Block::Para(m.msg(&format!("exemption-{}", e.ground.key()))));
            blocks.push(Block::Para(e.explanation.clone()));
            if let Some(public) = &e.public_notice {
                blocks.push(Block::Para(format!("{}: {public}", m.msg("public-notice"))));
            }
        }
        None if people_told > 0 => blocks.push(Block::Para(
            m.get("people-told", &[("count", &people_told.to_string())]),
        )),
        None => blocks.push(Block::Para(m.msg("people-not-yet"))),
    }
    Document {
        lang: lang.code().to_owned(),
        title: m.msg(if breach.regime == ProviderKind::ElectronicCommunications {
            "notice-title-telecom"
        } else {
            "notice-title"
        }),
        blocks,
    }
}

/// The notice to a person (Art. 34(2)): (subject line, body) in `lang`.
pub fn person_message(policy: &Policy, lang: Lang, breach: &Breach) -> (String, String) {
    let m = messages(lang);
    let f = &breach.facts;
    let controller = policy.controller.name.clone().unwrap_or_default();
    let date = custode_policy::Catalog::get(lang).date(
        &breach
            .aware_at
            .to_zoned(
                jiff::tz::TimeZone::get(custode_domain::records::zone_for(
                    &policy.meta.jurisdiction,
                ))
                .unwrap_or(jiff::tz::TimeZone::UTC),
            )
            .date()
            .to_string(),
    );
    let categories = category_names(policy, lang, &f.data_categories);
    let measures = [f.measures_taken.trim(), f.measures_proposed.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let categories = if categories.is_empty() {
        m.msg("unknown")
    } else {
        categories.join(", ")
    };
    let consequences = or_unknown(m, &f.consequences);
    let measures = or_unknown(m, &measures);
    let args: [(&str, &str); 8] = [
        ("controller", controller.as_str()),
        ("date", date.as_str()),
        ("description", f.description.trim()),
        ("categories", categories.as_str()),
        ("consequences", consequences.as_str()),
        ("measures", measures.as_str()),
        ("contact", f.dpo_contact.as_str()),
        ("authority", policy.authority.name.as_str()),
    ];
    (m.get("person-subject", &args), m.get("person-body", &args))
}

impl Breaches {
    /// The authority's notification of a breach in the caller's scope, in
    /// `lang` (the policy's first language when none).
    pub async fn authority_notice(
        &self,
        by: &Principal,
        id: &BreachId,
        lang: Option<Lang>,
    ) -> Result<Document, StoreError> {
        let breach = self.show(by, id).await?;
        let assessment = self.assessment(by, id).await?;
        let policy = self.store.policy();
        let lang = lang
            .filter(|l| policy.meta.languages.contains(l))
            .unwrap_or(policy.meta.languages[0]);
        let told: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM breach_notices WHERE breach_id = $1")
                .bind(id.as_str())
                .fetch_one(self.store.reader())
                .await?;
        Ok(authority_document(
            &policy,
            lang,
            &breach,
            assessment.as_ref(),
            u64::try_from(told).unwrap_or(0),
        ))
    }

    /// Records that the people are not told one by one (Art. 34(3)), with
    /// the ground and why; disproportionate effort needs the public
    /// communication made instead. Refused once someone was told.
    pub async fn exempt(
        &self,
        by: &Principal,
        id: &BreachId,
        exemption: Exemption,
    ) -> Result<Breach, StoreError> {
        self.check_role(by, "breach.exempt").await?;
        let explanation = exemption.explanation.trim().to_owned();
        if explanation.is_empty() {
            return Err(StoreError::Invalid(format!(
                "say why the exemption `{}` applies (`explanation`): the register keeps it for the authority",
                exemption.ground.key()
            )));
        }
        let public_notice = exemption
            .public_notice
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if exemption.ground == ExemptionGround::DisproportionateEffort && public_notice.is_none() {
            return Err(StoreError::Invalid(
                "disproportionate effort exempts from telling each person only with a public communication instead (Art. 34(3)(c)): say where and when it is made (`public_notice`)".to_owned(),
            ));
        }
        let now = self.store.now();
        let (mut tx, old) = self.begin_in_scope(by, id, now).await?;
        let told: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM breach_notices WHERE breach_id = $1")
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if told > 0 {
            return Err(StoreError::Conflict(format!(
                "{told} people have been told of breach {id} already: an exemption no longer spares them"
            )));
        }
        let stored = Exemption {
            ground: exemption.ground,
            explanation,
            public_notice,
        };
        if old.exemption.as_ref() == Some(&stored) {
            return Ok(old);
        }
        sqlx::query("UPDATE breaches SET exemption = $1, version = version + 1, updated_at = $2 WHERE id = $3")
            .bind(json!(stored).to_string())
            .bind(to_micros(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let breach = self
            .changed(
                &mut tx,
                by,
                id,
                &["exemption".to_owned()],
                now,
                json!({ "ground": stored.ground.key() }),
            )
            .await?;
        tx.commit().await?;
        Ok(breach)
    }

    /// Tells each person the latest assessment found (Art. 34), by mail to
    /// the addresses their records hold, in the language of the notice they
    /// last accepted (the policy's first otherwise); each person told is
    /// recorded and audited at once, so a rerun tells only the rest. An
    /// exemption in the register stops every mail.
    pub async fn notify_people(
        &self,
        by: &Principal,
        id: &BreachId,
        courier: &impl Courier,
    ) -> Result<PeopleReport, StoreError> {
        self.check_reads_people(by, "breach.notify_people").await?;
        let breach = self.show(by, id).await?;
        if let Some(e) = &breach.exemption {
            return Ok(PeopleReport {
                exempted: Some(e.ground),
                ..PeopleReport::default()
            });
        }
        let people = self.people_keys(by, id).await?;
        let told: BTreeSet<i64> =
            sqlx::query("SELECT subject_key FROM breach_notices WHERE breach_id = $1")
                .bind(id.as_str())
                .fetch_all(self.store.reader())
                .await?
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<Result<_, _>>()?;
        let policy = self.store.policy();
        // The fields that hold an e-mail address, per category.
        let mut email_fields: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in &policy.categories {
            for f in c
                .fields
                .iter()
                .filter(|f| f.identifier == Some(IdentifierKind::Email))
            {
                email_fields
                    .entry(c.id.value.as_str())
                    .or_default()
                    .push(f.id.value.as_str());
            }
        }
        let reason = format!("breach {id}: notice to the person (Art. 34)");
        let mut report = PeopleReport::default();
        for (key, subject) in people {
            if told.contains(&key) {
                report.already_told += 1;
                continue;
            }
            let records = match self.store.records(by, &subject, &reason).await {
                Ok(r) => r,
                // Restricted after an erasure, or erased meanwhile: reached
                // otherwise, if at all.
                Err(StoreError::Restricted { .. } | StoreError::Erased(_)) => {
                    report.without_address.push(subject);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let addresses: BTreeSet<String> = records
                .iter()
                .flat_map(|r| {
                    email_fields
                        .get(r.category.as_str())
                        .into_iter()
                        .flatten()
                        .filter_map(|f| r.fields.get(*f).and_then(|v| v.as_str()))
                        .map(|s| s.trim().to_lowercase())
                        .filter(|s| s.contains('@'))
                })
                .collect();
            if addresses.is_empty() {
                report.without_address.push(subject);
                continue;
            }
            let lang = self
                .ledger
                .consent_history(by, &subject, &reason)
                .await?
                .last()
                .map(|e| e.language)
                .filter(|l| policy.meta.languages.contains(l))
                .unwrap_or(policy.meta.languages[0]);
            let (title, body) = person_message(&policy, lang, &breach);
            let mut sent = 0usize;
            for to in &addresses {
                if courier.send(to, &title, body.clone()).await.is_ok() {
                    sent += 1;
                }
            }
            if sent == 0 {
                report.failed.push(subject);
                continue;
            }
            let now_us = to_micros(self.store.now());
            let mut tx = self.store.begin_write().await?;
            sqlx::query(
                "INSERT INTO breach_notices (breach_id, subject_key, language, sent_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(id.as_str())
            .bind(key)
            .bind(lang.code())
            .bind(now_us)
            .execute(&mut *tx)
            .await?;
            self.store
                .audit(
                    &mut tx,
                    now_us,
                    &[Event {
                        actor: by.id.clone(),
                        action: Action::BreachPersonNotified,
                        subject: Some(subject.to_string()),
                        reason: None,
                        detail: json!({
                            "breach": id.as_str(),
                            "channel": "mail",
                            "language": lang.code(),
                            "addresses": sent,
                        }),
                    }],
                )
                .await?;
            tx.commit().await?;
            report.told += 1;
        }
        Ok(report)
    }
}
