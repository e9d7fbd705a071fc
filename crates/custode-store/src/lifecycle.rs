//! What each record's end counts from: the events of a subject's life
//! (creation, account closure, contract end, last activity) and consent
//! withdrawals, and the re-resolution of a subject's records' ends when one
//! of them changes. The write path uses it to date every record; the
//! retention and consent capabilities call it when life moves on.

use std::collections::BTreeMap;

use custode_consent::EventKind;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::retention::{LifeEvents, resolve};
use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use crate::{Store, StoreError};

/// An event of a subject's life.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum LifeEvent {
    /// The account was closed: every purpose that lives with the account
    /// ends, and what a vault purpose keeps moves to the vault.
    AccountClosed,
    /// The contract ended.
    ContractEnded,
    /// The subject was active (a login, a message sent): inactivity rules
    /// count from the latest.
    Activity,
}

impl LifeEvent {
    /// Every event, in declaration order.
    pub const ALL: &'static [LifeEvent] = <LifeEvent as strum::VariantArray>::VARIANTS;

    /// The name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The event with a name.
    pub fn from_name(name: &str) -> Option<LifeEvent> {
        name.parse().ok()
    }
}

/// Life events from a subjects row, starting at column `first`:
/// created_at, closed_at, contract_end, last_activity.
pub fn life_of_row(row: &sqlx::any::AnyRow, first: usize) -> Result<LifeEvents, StoreError> {
    let at = |i: usize| -> Result<Option<Timestamp>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(first + i)?.map(from_micros))
    };
    Ok(LifeEvents {
        account_closed: at(1)?,
        contract_end: at(2)?,
        last_activity: at(3)?.or(at(0)?),
        consent: BTreeMap::new(),
    })
}

/// Everything retention rules count from for one subject, consents
/// included, read in the caller's transaction.
pub async fn life_of(
    tx: &mut Transaction<'static, Any>,
    engine: crate::Engine,
    subject_key: i64,
) -> Result<LifeEvents, StoreError> {
    let row = sqlx::query(
        "SELECT created_at, closed_at, contract_end, last_activity FROM subjects WHERE key = $1",
    )
    .bind(subject_key)
    .fetch_one(&mut **tx)
    .await?;
    let mut life = life_of_row(&row, 0)?;
    life.consent = consents_of(tx, engine, &[subject_key])
        .await?
        .remove(&subject_key)
        .unwrap_or_default();
    Ok(life)
}

impl Store {
    /// Recomputes the end (and vault date) of every record of a subject
    /// from its life events and consents; returns how many changed.
    pub async fn resolve_subject(
        &self,
        tx: &mut Transaction<'static, Any>,
        subject_key: i64,
    ) -> Result<u64, StoreError> {
        let policy = self.policy();
        let life = life_of(tx, self.engine, subject_key).await?;
        let rows = sqlx::query(
            "SELECT id, purposes, collected_at, retain_until, vault_from, vault_until, retain_rule \
             FROM records WHERE subject_key = $1",
        )
        .bind(subject_key)
        .fetch_all(&mut **tx)
        .await?;
        type Dates = (Option<i64>, Option<i64>, Option<i64>, Option<String>);
        let mut changed: Vec<(i64, Dates)> = Vec::new();
        for r in rows {
            let purposes: String = r.try_get(1)?;
            let purposes: Vec<String> = purposes
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            let resolved = resolve(&policy, &purposes, from_micros(r.try_get(2)?), &life);
            let now: Dates = (
                resolved.retain_until.map(to_micros),
                resolved.vault_from.map(to_micros),
                resolved.vault_until.map(to_micros),
                resolved.rule,
            );
            let before: Dates = (r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?);
            if now != before {
                changed.push((r.try_get(0)?, now));
            }
        }
        // One statement per 250 rows: a closure touches every record of the
        // subject, and a statement per row would cost more than the rest.
        for chunk in changed.chunks(250) {
            let sql = format!(
                "UPDATE records SET retain_until = CAST(v.column2 AS BIGINT), vault_from = CAST(v.column3 AS BIGINT), \
                 vault_until = CAST(v.column4 AS BIGINT), retain_rule = v.column5 \
                 FROM (VALUES {}) AS v WHERE records.id = v.column1",
                crate::values(self.engine, chunk.len(), 5)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, (until, from, vault_until, rule)) in chunk {
                q = q
                    .bind(*id)
                    .bind(*until)
                    .bind(*from)
                    .bind(*vault_until)
                    .bind(rule.clone());
            }
            q.execute(&mut **tx).await?;
        }
        Ok(changed.len() as u64)
    }
}

/// Per subject row key, per consent purpose: when consent was withdrawn
/// (or expired), or `None` while it is in force.
pub async fn consents_of(
    tx: &mut Transaction<'static, Any>,
    engine: crate::Engine,
    keys: &[i64],
) -> Result<std::collections::HashMap<i64, BTreeMap<String, Option<Timestamp>>>, StoreError> {
    let mut out: std::collections::HashMap<i64, BTreeMap<String, Option<Timestamp>>> =
        std::collections::HashMap::new();
    for chunk in keys.chunks(500) {
        let sql = format!(
            "SELECT subject_key, purpose, kind, at FROM consent_events WHERE purpose IS NOT NULL \
             AND kind IN ('given', 'withdrawn', 'expired') AND subject_key IN ({}) ORDER BY seq",
            crate::placeholders(engine, 1, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(*k);
        }
        for r in q.fetch_all(&mut **tx).await? {
            let kind: String = r.try_get(2)?;
            let at = from_micros(r.try_get(3)?);
            out.entry(r.try_get(0)?)
                .or_default()
                .insert(r.try_get(1)?, withdrawn_at(&kind, at));
        }
    }
    Ok(out)
}

/// What a consent event of `kind` at `at` leaves for retention: nothing
/// when given, its time when withdrawn or expired.
pub fn withdrawn_at(kind: &str, at: Timestamp) -> Option<Timestamp> {
    (kind != EventKind::Given.name()).then_some(at)
}

/// Whether a policy has purposes kept "until N days after consent is
/// withdrawn", whose records' ends depend on the consent ledger.
pub fn counts_from_withdrawal(policy: &custode_policy::Policy) -> bool {
    policy
        .purposes
        .iter()
        .any(|p| p.retention.from == custode_policy::Event::ConsentWithdrawn)
}

/// Consent events that move a record's end: those of purposes whose
/// retention counts from the withdrawal.
pub fn moves_retention(policy: &custode_policy::Policy, purpose: Option<&str>) -> bool {
    purpose
        .and_then(|p| policy.purpose(p))
        .is_some_and(|p| p.retention.from == custode_policy::Event::ConsentWithdrawn)
}

#[cfg(test)]
mod life_event_names {
    use super::*;

    /// The names as the API takes them and the subjects' events store them:
    /// never renamed, whatever the enum becomes.
    const STORED: [(LifeEvent, &str); 3] = [
        (LifeEvent::AccountClosed, "account_closed"),
        (LifeEvent::ContractEnded, "contract_ended"),
        (LifeEvent::Activity, "activity"),
    ];

    #[test]
    fn every_life_event_round_trips_and_keeps_its_name() {
        for (value, name) in STORED {
            assert_eq!(value.name(), name);
            assert_eq!(LifeEvent::from_name(name), Some(value));
        }
        for value in LifeEvent::ALL {
            assert_eq!(LifeEvent::from_name(value.name()), Some(*value));
        }
        assert_eq!(LifeEvent::from_name(""), None);
        assert_eq!(
            LifeEvent::from_name(&STORED[0].1.to_uppercase()),
            None,
            "names are exact"
        );
    }
}
