//! Retention at rest: the events of a subject's life that rules count from,
//! the re-resolution of its records' end dates when one happens, and the
//! sweeper that erases what is due, in bounded batches.
//!
//! A sweep batch is one transaction holding the writers' lock (the audit
//! chain head): the records it deletes, its report rows and its audit entry
//! commit together or not at all, so a crash loses nothing and a restart
//! just sweeps again; and two sweepers on one database take turns, each
//! seeing what the other already erased.

use std::collections::BTreeMap;

use custode_audit::{Action, Event};
use custode_consent::EventKind;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::retention::{LifeEvents, resolve};
use custode_domain::{Principal, SubjectId};
use jiff::Timestamp;
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use crate::{Store, StoreError, audit_log, not_found};

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

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Records erased.
    pub erased: u64,
    /// Records moved to the vault.
    pub vaulted: u64,
    /// Vault records erased at the end of their legal period.
    pub vault_erased: u64,
    /// Subjects shredded whole (closed, nothing left).
    pub subjects_shredded: u64,
    /// Accounts closed by their kind's inactivity rule
    /// (`close_after_inactivity`).
    pub accounts_closed: u64,
    /// Per (category, rule): records erased.
    pub by_rule: BTreeMap<(String, String), u64>,
}

impl SweepReport {
    /// Whether the step did nothing.
    pub fn is_empty(&self) -> bool {
        self.erased == 0
            && self.vaulted == 0
            && self.vault_erased == 0
            && self.subjects_shredded == 0
            && self.accounts_closed == 0
    }
}

/// A line of the retention report or plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionLine {
    /// When it was (report) or will be (plan) done; for the plan, the day.
    pub at: Timestamp,
    /// `erased`, `vaulted` or `vault_erased` (report); `due` (plan).
    pub action: String,
    /// The category.
    pub category: String,
    /// The purpose whose period ended.
    pub rule: String,
    /// How many records.
    pub records: u64,
}

/// The plan's actions, in the order a sweep takes them; the report's words.
const ACTIONS: [&str; 3] = ["vaulted", "vault_erased", "erased"];
const VAULTED: u8 = 0;
const VAULT_ERASED: u8 = 1;
const ERASED: u8 = 2;

/// A line of the retention plan: what retention will do on a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanLine {
    /// The day, in the controller's time zone.
    pub day: jiff::civil::Date,
    /// The first instant of that day at which it falls due (now, when
    /// already overdue).
    pub at: Timestamp,
    /// In the report's words: `vaulted` (moved from the main store to the
    /// vault), `vault_erased` (erased from the vault) or `erased` (erased
    /// from the main store).
    pub action: String,
    /// The category.
    pub category: String,
    /// For `erased`, the purpose whose period ends; for the vault's
    /// actions, the vault purposes that keep the records (comma-separated).
    pub rule: String,
    /// How many records.
    pub records: u64,
}

/// What one store holds of a category now and will hold at the plan's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// `main` or `vault`.
    pub store: &'static str,
    /// The category.
    pub category: String,
    /// Records held now.
    pub now: u64,
    /// Records it will hold at the plan's end, if nothing new comes in.
    pub then: u64,
}

/// The retention plan: every action due from now to a day, and what will
/// remain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPlan {
    /// When it was computed.
    pub now: Timestamp,
    /// The last instant it covers.
    pub until: Timestamp,
    /// The actions, by day, in sweep order.
    pub lines: Vec<PlanLine>,
    /// Per store and category: held now, and at `until`.
    pub held: Vec<Held>,
    /// Accounts that their kind's inactivity rule will close by `until`
    /// if they stay unused: per day and subject kind, how many.
    pub closures: Vec<Closure>,
}

/// Accounts an inactivity rule closes on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closure {
    /// The day, in the controller's time zone.
    pub day: jiff::civil::Date,
    /// The subject kind whose `close_after_inactivity` closes them.
    pub kind: String,
    /// How many accounts.
    pub accounts: u64,
}

/// The plan's running counts: per (day, action, category, rule) the first
/// instant and a signed count (a foreseen closure takes a record's current
/// line back and adds the one its closure sets), and per category what
/// leaves the main store and enters and leaves the vault.
struct Tally {
    tz: jiff::tz::TimeZone,
    now: i64,
    until: i64,
    lines: BTreeMap<(jiff::civil::Date, u8, String, String), (i64, i64)>,
    main_out: BTreeMap<String, i64>,
    vault_in: BTreeMap<String, i64>,
    vault_out: BTreeMap<String, i64>,
}

/// A record's retention dates, as the `records` columns hold them.
#[derive(Clone, Copy)]
struct Dates {
    retain_until: Option<i64>,
    vault_from: Option<i64>,
    vault_until: Option<i64>,
}

impl Tally {
    fn new(tz: jiff::tz::TimeZone, now: i64, until: i64) -> Tally {
        Tally {
            tz,
            now,
            until,
            lines: BTreeMap::new(),
            main_out: BTreeMap::new(),
            vault_in: BTreeMap::new(),
            vault_out: BTreeMap::new(),
        }
    }

    fn add(&mut self, at: i64, action: u8, category: &str, rule: &str, n: i64) {
        let day = from_micros(at).to_zoned(self.tz.clone()).date();
        let line = self
            .lines
            .entry((day, action, category.to_owned(), rule.to_owned()))
            .or_insert((at, 0));
        line.0 = line.0.min(at);
        line.1 += n;
    }

    /// One record's part of the plan, `sign` 1 to add it, -1 to take it
    /// back: the same rules as the plan's queries over the whole store.
    fn record(
        &mut self,
        policy: &custode_policy::Policy,
        category: &str,
        purposes: &str,
        rule: &str,
        d: Dates,
        sign: i64,
    ) {
        if let Some(from) = d.vault_from.filter(|f| *f <= self.until) {
            let at = from.max(self.now);
            let grounds = crate::vault::grounds_of(policy, purposes);
            self.add(at, VAULTED, category, &grounds, sign);
            *self.main_out.entry(category.to_owned()).or_default() += sign;
            *self.vault_in.entry(category.to_owned()).or_default() += sign;
            if let Some(end) = d.vault_until.filter(|e| *e <= self.until) {
                self.add(end.max(at), VAULT_ERASED, category, &grounds, sign);
                *self.vault_out.entry(category.to_owned()).or_default() += sign;
            }
        }
        if let Some(end) = d.retain_until.filter(|e| *e <= self.until)
            && d.vault_from.is_none_or(|f| f > end)
        {
            self.add(end.max(self.now), ERASED, category, rule, sign);
            *self.main_out.entry(category.to_owned()).or_default() += sign;
        }
    }
}

/// The controller's time zone, in which the plan counts days.
fn controller_zone(policy: &custode_policy::Policy) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(custode_domain::records::zone_for(&policy.meta.jurisdiction))
        .unwrap_or(jiff::tz::TimeZone::UTC)
}

/// Life events from a subjects row, starting at column `first`:
/// created_at, closed_at, contract_end, last_activity.
pub(crate) fn life_of_row(row: &sqlx::any::AnyRow, first: usize) -> Result<LifeEvents, StoreError> {
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
pub(crate) async fn life_of(
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

/// The due-records predicate of one batch: due now, and up to the keyset
/// cutoff (`$2`, `$3`) so a batch stays bounded even when many records end
/// at the same instant.
const IN_BATCH: &str =
    "retain_until <= $1 AND (retain_until < $2 OR (retain_until = $2 AND id <= $3))";

impl Store {
    /// Records an event of a subject's life and re-resolves the end of its
    /// records, with the audit entry, in one transaction.
    pub async fn record_life_event(
        &self,
        by: &Principal,
        subject: &SubjectId,
        event: LifeEvent,
        at: Option<Timestamp>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let at = at.unwrap_or(now);
        if at > now {
            return Err(StoreError::Invalid(format!(
                "`{}` cannot be in the future ({at})",
                event.name()
            )));
        }
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT key, tenant_path, erased_at, closed_at FROM subjects WHERE id = $1",
        )
        .bind(subject.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found("subject", subject.as_str()))?;
        let path: String = row.try_get(1)?;
        if !by.scope.covers(&path, subject) {
            drop(tx);
            self.audit_denied(by, Some(subject.as_str()), "subject.event")
                .await?;
            return Err(not_found("subject", subject.as_str()));
        }
        if row.try_get::<Option<i64>, _>(2)?.is_some() {
            return Err(StoreError::Erased(subject.to_string()));
        }
        let key: i64 = row.try_get(0)?;
        if event == LifeEvent::AccountClosed && row.try_get::<Option<i64>, _>(3)?.is_some() {
            return Err(StoreError::Invalid(format!(
                "the account of subject {subject} is already closed"
            )));
        }
        let column = match event {
            LifeEvent::AccountClosed => "closed_at",
            LifeEvent::ContractEnded => "contract_end",
            LifeEvent::Activity => "last_activity",
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE subjects SET {column} = $1 WHERE key = $2"
        )))
        .bind(to_micros(at))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let changed = self.resolve_subject(&mut tx, key).await?;
        audit_log::append(
            &mut tx,
            self.engine,
            to_micros(now),
            &[Event {
                actor: by.id.clone(),
                action: Action::SubjectEvent,
                subject: Some(subject.to_string()),
                reason: Some(reason.to_owned()),
                detail: json!({ "event": event.name(), "at": at.to_string(), "records_rescheduled": changed }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Recomputes the end (and vault date) of every record of a subject
    /// from its life events and consents; returns how many changed.
    pub(crate) async fn resolve_subject(
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

    /// One step of retention, each part bounded by `limit`: moves what
    /// only a vault purpose still needs to the vault, erases vault records
    /// whose legal period is over, and erases records whose end has passed
    /// (then shreds closed subjects left without records). Call until it
    /// does nothing.
    pub async fn sweep(&self, by: &Principal, limit: u32) -> Result<SweepReport, StoreError> {
        let accounts_closed = self.close_dormant(by, limit).await?;
        let vaulted = self.move_to_vault(by, limit).await?;
        let vault_erased = self.expire_vault(by, limit).await?;
        let mut report = self.erase_due(by, limit).await?;
        report.vaulted = vaulted;
        report.vault_erased = vault_erased;
        report.accounts_closed = accounts_closed;
        Ok(report)
    }

    /// Closes up to `limit` accounts per subject kind that have been
    /// inactive for their kind's `close_after_inactivity`, dated when the
    /// span ran out (not when the sweep noticed), re-resolving their
    /// records, with one audit entry each, in one transaction per kind.
    /// Seeds 000 and 004: no dormant account keeps its data forever.
    async fn close_dormant(&self, by: &Principal, limit: u32) -> Result<u64, StoreError> {
        let policy = self.policy();
        let now = self.now();
        let mut closed = 0u64;
        for kind in &policy.subjects {
            let Some(span) = kind.close_after_inactivity else {
                continue;
            };
            let Some(bound) = custode_domain::retention::inactive_before(&policy, now, span) else {
                continue;
            };
            let mut tx = self.begin_write().await?;
            let rows = sqlx::query(
                "SELECT key, id, COALESCE(last_activity, created_at) AS last FROM subjects \
                 WHERE kind = $1 AND closed_at IS NULL AND erased_at IS NULL \
                 AND COALESCE(last_activity, created_at) < $2 \
                 ORDER BY COALESCE(last_activity, created_at), key LIMIT $3",
            )
            .bind(kind.id.value.as_str())
            .bind(to_micros(bound))
            .bind(i64::from(limit.max(1)))
            .fetch_all(&mut *tx)
            .await?;
            let mut events = Vec::new();
            for r in rows {
                let key: i64 = r.try_get(0)?;
                let id: String = r.try_get(1)?;
                let last = from_micros(r.try_get(2)?);
                let Some(at) = custode_domain::retention::inactivity_closes_at(&policy, last, span)
                    .filter(|at| *at <= now)
                else {
                    continue;
                };
                sqlx::query(
                    "UPDATE subjects SET closed_at = $1 WHERE key = $2 AND closed_at IS NULL",
                )
                .bind(to_micros(at))
                .bind(key)
                .execute(&mut *tx)
                .await?;
                let changed = self.resolve_subject(&mut tx, key).await?;
                events.push(Event {
                    actor: by.id.clone(),
                    action: Action::SubjectEvent,
                    subject: Some(id),
                    reason: Some("close_after_inactivity".to_owned()),
                    detail: json!({
                        "event": LifeEvent::AccountClosed.name(),
                        "at": at.to_string(),
                        "inactive_since": last.to_string(),
                        "records_rescheduled": changed,
                    }),
                });
            }
            if events.is_empty() {
                continue;
            }
            audit_log::append(&mut tx, self.engine, to_micros(now), &events).await?;
            tx.commit().await?;
            closed += events.len() as u64;
        }
        Ok(closed)
    }

    /// Erases up to `limit` records whose end has passed, in one
    /// transaction with its report and audit entry, then shreds closed
    /// subjects left without records.
    async fn erase_due(&self, by: &Principal, limit: u32) -> Result<SweepReport, StoreError> {
        let now = to_micros(self.now());
        let mut tx = self.begin_write().await?;
        let cutoff = sqlx::query(
            "SELECT retain_until, id FROM records WHERE retain_until <= $1 ORDER BY retain_until, id LIMIT 1 OFFSET $2",
        )
        .bind(now)
        .bind(i64::from(limit.max(1)) - 1)
        .fetch_optional(&mut *tx)
        .await?;
        let (until, last_id) = match cutoff {
            Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?),
            None => (now, i64::MAX),
        };
        let mut report = SweepReport::default();
        for r in sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT category, COALESCE(retain_rule, ''), COUNT(*) FROM records WHERE {IN_BATCH} GROUP BY category, retain_rule"
        )))
        .bind(now)
        .bind(until)
        .bind(last_id)
        .fetch_all(&mut *tx)
        .await?
        {
            let n: i64 = r.try_get(2)?;
            report.erased += n as u64;
            report
                .by_rule
                .insert((r.try_get(0)?, r.try_get(1)?), n as u64);
        }
        let mut events = Vec::new();
        if report.erased > 0 {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM records WHERE {IN_BATCH}"
            )))
            .bind(now)
            .bind(until)
            .bind(last_id)
            .execute(&mut *tx)
            .await?;
            log_lines(&mut tx, now, "erased", &report.by_rule).await?;
            events.push(Event {
                actor: by.id.clone(),
                action: Action::RetentionErased,
                subject: None,
                reason: Some("retention".to_owned()),
                detail: json!({
                    "records": report.erased,
                    "by_rule": report.by_rule.iter().map(|((c, r), n)| json!({"category": c, "rule": r, "records": n})).collect::<Vec<_>>(),
                }),
            });
        }
        // Closed accounts with nothing left go whole: their key is
        // destroyed, so no backup of them stays readable.
        let emptied: Vec<(i64, String, i64)> = sqlx::query(
            "SELECT s.key, s.id, s.key_generation FROM subjects s WHERE s.closed_at IS NOT NULL AND s.erased_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM records r WHERE r.subject_key = s.key) LIMIT 1000",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<_, StoreError>>()?;
        for (key, id, _) in &emptied {
            crate::mark_erased(&mut tx, *key, now).await?;
            events.push(Event {
                actor: by.id.clone(),
                action: Action::SubjectErased,
                subject: Some(id.clone()),
                reason: Some("retention: account closed, nothing left to keep".to_owned()),
                detail: json!({ "method": "crypto-shredding" }),
            });
        }
        report.subjects_shredded = emptied.len() as u64;
        if !events.is_empty() {
            audit_log::append(&mut tx, self.engine, now, &events).await?;
        }
        tx.commit().await?;
        if !emptied.is_empty() {
            // Every generation of each key: a partial erasure re-sealed
            // what it kept under a newer one.
            let names: Vec<String> = emptied
                .iter()
                .flat_map(|(_, id, generation)| crate::keys::key_names_through(id, *generation))
                .collect();
            for (_, id, _) in &emptied {
                self.decisions.invalidate(id);
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.keys.destroy(&names).await?;
        }
        Ok(report)
    }

    /// Sweeps in batches of `batch` until nothing is due; the sum of the
    /// batches.
    pub async fn sweep_all(&self, by: &Principal, batch: u32) -> Result<SweepReport, StoreError> {
        let mut total = SweepReport::default();
        loop {
            let r = self.sweep(by, batch).await?;
            total.erased += r.erased;
            total.vaulted += r.vaulted;
            total.vault_erased += r.vault_erased;
            total.subjects_shredded += r.subjects_shredded;
            total.accounts_closed += r.accounts_closed;
            let done = r.is_empty();
            for (k, n) in r.by_rule {
                *total.by_rule.entry(k).or_default() += n;
            }
            if done {
                return Ok(total);
            }
        }
    }

    /// What retention will do from now to `until` if no new event happens
    /// (no activity, closure or withdrawal, no new record): every erasure
    /// from the main store, every move to the vault and every erasure from
    /// the vault, by day (in the controller's time zone), category and
    /// rule, then what each store will hold by then. A what-if: it reads,
    /// never changes anything. Counts only, never data.
    pub async fn retention_plan(&self, until: Timestamp) -> Result<RetentionPlan, StoreError> {
        let policy = self.policy();
        let tz = controller_zone(&policy);
        let now_at = self.now();
        let now = to_micros(now_at);
        let until = to_micros(until).max(now);
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut t = Tally::new(tz, now, until);
        let (lines, main_out, vault_in, vault_out) = (
            &mut t.lines,
            &mut t.main_out,
            &mut t.vault_in,
            &mut t.vault_out,
        );
        let tz = t.tz.clone();
        let mut add = |at: i64, action: u8, category: &str, rule: &str, n: u64| {
            let day = from_micros(at).to_zoned(tz.clone()).date();
            let line = lines
                .entry((day, action, category.to_owned(), rule.to_owned()))
                .or_insert((at, 0));
            line.0 = line.0.min(at);
            line.1 += n as i64;
        };
        // Moves, as the sweeper makes them (never for an erased subject),
        // each with the end of its vault copy. Overdue ones count as now.
        for r in sqlx::query(
            "SELECT at, category, purposes, vault_until, COUNT(*) FROM (SELECT CASE WHEN r.vault_from < $1 \
             THEN $1 ELSE r.vault_from END AS at, r.category, r.purposes, r.vault_until FROM records r \
             JOIN subjects s ON s.key = r.subject_key WHERE r.vault_from <= $2 AND s.erased_at IS NULL) due \
             GROUP BY at, category, purposes, vault_until",
        )
        .bind(now)
        .bind(until)
        .fetch_all(&self.db)
        .await?
        {
            let (at, category, purposes): (i64, String, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let vault_until: Option<i64> = r.try_get(3)?;
            let n = count(r.try_get(4)?);
            let grounds = crate::vault::grounds_of(&policy, &purposes);
            add(at, VAULTED, &category, &grounds, n);
            *main_out.entry(category.clone()).or_default() += n as i64;
            *vault_in.entry(category.clone()).or_default() += n as i64;
            if let Some(end) = vault_until.filter(|e| *e <= until) {
                add(end.max(at), VAULT_ERASED, &category, &grounds, n);
                *vault_out.entry(category).or_default() += n as i64;
            }
        }
        // Erasures from the main store: records that end before (or
        // without) a move.
        for r in sqlx::query(
            "SELECT at, category, rule, COUNT(*) FROM (SELECT CASE WHEN retain_until < $1 THEN $1 \
             ELSE retain_until END AS at, category, COALESCE(retain_rule, '') AS rule FROM records \
             WHERE retain_until <= $2 AND (vault_from IS NULL OR vault_from > retain_until)) due \
             GROUP BY at, category, rule",
        )
        .bind(now)
        .bind(until)
        .fetch_all(&self.db)
        .await?
        {
            let category: String = r.try_get(1)?;
            let n = count(r.try_get(3)?);
            add(
                r.try_get(0)?,
                ERASED,
                &category,
                &r.try_get::<String, _>(2)?,
                n,
            );
            *main_out.entry(category).or_default() += n as i64;
        }
        // The vault's own ends.
        let vault = self.vault_outlook(now, until).await?;
        for (at, category, grounds, n) in &vault.ends {
            add(*at, VAULT_ERASED, category, grounds, *n);
            *vault_out.entry(category.clone()).or_default() += *n as i64;
        }
        // Accounts their kind's inactivity rule closes by then (no activity
        // is foreseen): their records count with the ends that closure sets.
        let closures = self.foreseen_closures(&policy, &mut t).await?;
        let (lines, main_out, vault_in, vault_out) = (t.lines, t.main_out, t.vault_in, t.vault_out);
        let signed = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut held = Vec::new();
        for r in sqlx::query("SELECT category, COUNT(*) FROM records GROUP BY category")
            .fetch_all(&self.db)
            .await?
        {
            let category: String = r.try_get(0)?;
            let now = count(r.try_get(1)?);
            let then = now.saturating_sub(signed(main_out.get(&category).copied().unwrap_or(0)));
            held.push(Held {
                store: "main",
                category,
                now,
                then,
            });
        }
        let mut in_vault: BTreeMap<String, u64> = vault.held.into_iter().collect();
        for category in vault_in.keys() {
            in_vault.entry(category.clone()).or_default();
        }
        for (category, now) in in_vault {
            let then = (now + signed(vault_in.get(&category).copied().unwrap_or(0)))
                .saturating_sub(signed(vault_out.get(&category).copied().unwrap_or(0)));
            held.push(Held {
                store: "vault",
                category,
                now,
                then,
            });
        }
        Ok(RetentionPlan {
            now: now_at,
            until: from_micros(until),
            lines: lines
                .into_iter()
                .filter(|(_, (_, records))| *records > 0)
                .map(|((day, action, category, rule), (at, records))| PlanLine {
                    day,
                    at: from_micros(at),
                    action: ACTIONS[usize::from(action)].to_owned(),
                    category,
                    rule,
                    records: signed(records),
                })
                .collect(),
            held,
            closures,
        })
    }

    /// The accounts that their kind's `close_after_inactivity` closes by
    /// the tally's end if they stay unused, as the sweeper would close
    /// them; each one's records move in the tally from the line their
    /// present dates give to the line the closure's dates give. Reads only.
    async fn foreseen_closures(
        &self,
        policy: &custode_policy::Policy,
        t: &mut Tally,
    ) -> Result<Vec<Closure>, StoreError> {
        let mut closures: BTreeMap<(jiff::civil::Date, String), u64> = BTreeMap::new();
        let mut tx = self.db.begin().await?;
        for kind in &policy.subjects {
            let Some(span) = kind.close_after_inactivity else {
                continue;
            };
            let Some(bound) =
                custode_domain::retention::inactive_before(policy, from_micros(t.until), span)
            else {
                continue;
            };
            let dormant = sqlx::query(
                "SELECT key, COALESCE(last_activity, created_at) FROM subjects \
                 WHERE kind = $1 AND closed_at IS NULL AND erased_at IS NULL \
                 AND COALESCE(last_activity, created_at) < $2",
            )
            .bind(kind.id.value.as_str())
            .bind(to_micros(bound))
            .fetch_all(&mut *tx)
            .await?;
            for r in dormant {
                let key: i64 = r.try_get(0)?;
                let last = from_micros(r.try_get(1)?);
                let Some(at) = custode_domain::retention::inactivity_closes_at(policy, last, span)
                    .filter(|at| to_micros(*at) <= t.until)
                else {
                    continue;
                };
                let at = at.max(from_micros(t.now));
                let day = at.to_zoned(t.tz.clone()).date();
                *closures.entry((day, kind.id.value.clone())).or_default() += 1;
                let mut life = life_of(&mut tx, self.engine, key).await?;
                life.account_closed = Some(at);
                for rec in sqlx::query(
                    "SELECT category, purposes, collected_at, retain_until, vault_from, vault_until, \
                     COALESCE(retain_rule, '') FROM records WHERE subject_key = $1",
                )
                .bind(key)
                .fetch_all(&mut *tx)
                .await?
                {
                    let category: String = rec.try_get(0)?;
                    let purposes: String = rec.try_get(1)?;
                    let before = Dates {
                        retain_until: rec.try_get(3)?,
                        vault_from: rec.try_get(4)?,
                        vault_until: rec.try_get(5)?,
                    };
                    // What the record's present dates do before the
                    // closure happens as planned; only what is still in the
                    // main store then takes the closure's dates.
                    let closes = to_micros(at);
                    if before.vault_from.is_some_and(|f| f <= closes)
                        || before.retain_until.is_some_and(|e| e <= closes)
                    {
                        continue;
                    }
                    t.record(policy, &category, &purposes, &rec.try_get::<String, _>(6)?, before, -1);
                    let list: Vec<String> = purposes
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect();
                    let after = resolve(policy, &list, from_micros(rec.try_get(2)?), &life);
                    t.record(
                        policy,
                        &category,
                        &purposes,
                        after.rule.as_deref().unwrap_or(""),
                        Dates {
                            retain_until: after.retain_until.map(to_micros),
                            vault_from: after.vault_from.map(to_micros),
                            vault_until: after.vault_until.map(to_micros),
                        },
                        1,
                    );
                }
            }
        }
        Ok(closures
            .into_iter()
            .map(|((day, kind), accounts)| Closure {
                day,
                kind,
                accounts,
            })
            .collect())
    }

    /// The last instant of a day in the controller's time zone: a plan
    /// "as of" that day includes everything due on it.
    pub fn end_of_day(&self, day: jiff::civil::Date) -> Result<Timestamp, StoreError> {
        let tz = controller_zone(&self.policy());
        day.tomorrow()
            .and_then(|d| d.to_zoned(tz))
            .map(|z| z.timestamp() - jiff::SignedDuration::from_micros(1))
            .map_err(|e| StoreError::Invalid(format!("no such day {day}: {e}")))
    }

    /// The day a plan runs to: `at` (YYYY-MM-DD in the controller's time
    /// zone, today or later), or `days` after today (0 to 36,500; 30 when
    /// neither is given). A past day, a malformed one, or both at once are
    /// refused with what to write instead.
    pub fn plan_day(
        &self,
        days: Option<u32>,
        at: Option<&str>,
    ) -> Result<jiff::civil::Date, StoreError> {
        let today = self.today();
        match (days, at) {
            (Some(_), Some(_)) => Err(StoreError::Invalid(
                "give a number of days or a day, not both".to_owned(),
            )),
            (_, Some(text)) => {
                let day = custode_domain::deadline::parse_date(text.trim()).ok_or_else(|| {
                    StoreError::Invalid(format!("`{text}` is not a day: write YYYY-MM-DD"))
                })?;
                if day < today {
                    return Err(StoreError::Invalid(format!(
                        "{day} is past: the plan looks ahead; the retention report shows what was done"
                    )));
                }
                Ok(day)
            }
            (days, None) => {
                let days = days.unwrap_or(30);
                if days > 36_500 {
                    return Err(StoreError::Invalid(
                        "a plan looks at most 36,500 days ahead".to_owned(),
                    ));
                }
                today
                    .checked_add(jiff::Span::new().days(i64::from(days)))
                    .map_err(|_| StoreError::Invalid("too many days ahead".to_owned()))
            }
        }
    }

    /// Today in the controller's time zone, by the store's clock.
    pub fn today(&self) -> jiff::civil::Date {
        let tz = controller_zone(&self.policy());
        self.now().to_zoned(tz).date()
    }

    /// What retention did since `since`: counts by category and rule.
    pub async fn retention_report(
        &self,
        since: Timestamp,
    ) -> Result<Vec<RetentionLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, action, category, rule, records FROM retention_log WHERE at >= $1 ORDER BY id",
        )
        .bind(to_micros(since))
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RetentionLine {
                    at: from_micros(r.try_get(0)?),
                    action: r.try_get(1)?,
                    category: r.try_get(2)?,
                    rule: r.try_get(3)?,
                    records: u64::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// How many records are due now (for health and metrics).
    pub async fn retention_due(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM records WHERE retain_until <= $1")
            .bind(to_micros(self.now()))
            .fetch_one(&self.db)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Writes the report lines of one retention step: per (category, rule or
/// grounds), how many records `action` concerned.
pub(crate) async fn log_lines(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    action: &str,
    counts: &BTreeMap<(String, String), u64>,
) -> Result<(), StoreError> {
    for ((category, rule), n) in counts {
        sqlx::query(
            "INSERT INTO retention_log (at, action, category, rule, records) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(now)
        .bind(action)
        .bind(category)
        .bind(rule)
        .bind(i64::try_from(*n).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Per subject row key, per consent purpose: when consent was withdrawn
/// (or expired), or `None` while it is in force.
pub(crate) async fn consents_of(
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
pub(crate) fn withdrawn_at(kind: &str, at: Timestamp) -> Option<Timestamp> {
    (kind != EventKind::Given.name()).then_some(at)
}

/// Whether a policy has purposes kept "until N days after consent is
/// withdrawn", whose records' ends depend on the consent ledger.
pub(crate) fn counts_from_withdrawal(policy: &custode_policy::Policy) -> bool {
    policy
        .purposes
        .iter()
        .any(|p| p.retention.from == custode_policy::Event::ConsentWithdrawn)
}

/// Consent events that move a record's end: those of purposes whose
/// retention counts from the withdrawal.
pub(crate) fn moves_retention(policy: &custode_policy::Policy, purpose: Option<&str>) -> bool {
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
