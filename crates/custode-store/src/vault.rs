//! The vault: data kept only because a law requires it (customer identity
//! for tax law, traffic data under Art. 132 Codice privacy), in a database
//! of its own under a key of its own, read only by the legal officer with a
//! fresh second factor and an authority's order, every query written to the
//! audit chain and to an access log the DPO reviews.
//!
//! Nothing else reads it: records, exports and rights requests read the main
//! store only. Records reach the vault through the sweeper (`move_to_vault`)
//! when no purpose but a vault purpose still needs them, and leave it when
//! their legal period ends.
//!
//! Moving spans two databases. The sweeper holds the main store's writers'
//! lock throughout, commits the vault copy first (idempotent on the source
//! record id), then deletes the source with its report and audit entry: a
//! crash in between leaves a copy that the next run finds already there.

use std::collections::{BTreeMap, HashMap};

use custode_audit::{Action, Event};
use custode_crypto::{IdentifierHasher, Key};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, SubjectId};
use custode_policy::{IdentifierKind, Lang};
use jiff::Timestamp;
use serde_json::json;
use sqlx::{AnyPool, Row};

use crate::engine::{self, Engine, OpenMode};
use crate::keyfile::MasterKeySource;
use crate::migrations::Migration;
use crate::{Store, StoreError, audit_log};

/// The vault's schema.
pub(crate) const VAULT: &[Migration] = &[Migration {
    version: 1,
    name: "vault",
    sql: r#"
CREATE TABLE vault_records (
    id {serial_pk},
    source_id BIGINT NOT NULL UNIQUE,
    subject_id TEXT NOT NULL,
    category TEXT NOT NULL,
    purposes TEXT NOT NULL,
    grounds TEXT NOT NULL,
    collected_at BIGINT NOT NULL,
    vault_until BIGINT,
    sealed {blob} NOT NULL,
    moved_at BIGINT NOT NULL
);
CREATE INDEX vault_by_subject ON vault_records (subject_id);
CREATE INDEX vault_by_end ON vault_records (vault_until, id);
CREATE TABLE vault_identifiers (
    hash {blob} NOT NULL,
    record_id BIGINT NOT NULL,
    PRIMARY KEY (hash, record_id)
){without_rowid};
CREATE TABLE vault_access_log (
    id {serial_pk},
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    outcome TEXT NOT NULL,
    authority TEXT,
    order_number TEXT,
    order_date TEXT,
    scope TEXT,
    target TEXT NOT NULL,
    records BIGINT NOT NULL
)
"#,
}];

/// The vault's database and keys.
pub(crate) struct Vault {
    engine: Engine,
    pool: AnyPool,
    key: Key,
    hasher: IdentifierHasher,
}

impl Vault {
    pub(crate) async fn open(
        url: &str,
        source: &MasterKeySource,
        mode: OpenMode,
        now: i64,
    ) -> Result<Vault, StoreError> {
        let (engine, pool) = engine::connect(url, mode, 4, true).await?;
        crate::migrations::run(&pool, engine, VAULT, now).await?;
        let (key, _) = source.load(mode == OpenMode::CreateIfMissing)?;
        let hasher = IdentifierHasher::new(key.clone());
        Ok(Vault {
            engine,
            pool,
            key,
            hasher,
        })
    }

    fn identifier_hash(&self, kind: &str, value: &str) -> Vec<u8> {
        crate::ingest::identifier_hash(&self.hasher, kind, value)
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// The vault's key and database, for the backup's export and copy.
    pub(crate) fn parts(&self) -> (Engine, &AnyPool, &Key) {
        (self.engine, &self.pool, &self.key)
    }
}

/// An authority's order that a vault query answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VaultOrder {
    /// Who issued it (a court, a public prosecutor, the police).
    pub authority: String,
    /// Its number or reference.
    pub number: String,
    /// Its date, YYYY-MM-DD.
    pub date: String,
    /// What it asks for, in its words.
    pub scope: String,
}

impl VaultOrder {
    fn missing(&self) -> Option<&'static str> {
        if self.authority.trim().is_empty() {
            Some("the issuing authority")
        } else if self.number.trim().is_empty() {
            Some("the order number")
        } else if custode_domain::deadline::parse_date(self.date.trim()).is_none() {
            Some("the order date (YYYY-MM-DD)")
        } else if self.scope.trim().is_empty() {
            Some("the scope of the order")
        } else {
            None
        }
    }
}

/// Whose data a vault query asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultTarget {
    /// A subject by id.
    Subject(SubjectId),
    /// Whoever an identifier (phone number, IP address, e-mail) belongs to.
    Identifier(IdentifierKind, String),
}

impl VaultTarget {
    /// The subject's id, when the query names one.
    fn subject_id(&self) -> Option<String> {
        match self {
            VaultTarget::Subject(s) => Some(s.to_string()),
            VaultTarget::Identifier(..) => None,
        }
    }

    /// How the access log names it: an id, or the identifier's kind only.
    fn logged(&self) -> String {
        match self {
            VaultTarget::Subject(s) => format!("subject {s}"),
            VaultTarget::Identifier(k, _) => format!("{} (value not logged)", kind_name(*k)),
        }
    }
}

fn kind_name(kind: IdentifierKind) -> &'static str {
    IdentifierKind::ALL
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("identifier", |(n, _)| n)
}

/// A record as the vault holds it, opened for the legal officer.
#[derive(Clone, Debug, PartialEq)]
pub struct VaultRecord {
    /// The subject it belongs to.
    pub subject: String,
    /// The category.
    pub category: String,
    /// Field values.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The vault purposes that keep it, and the law each names.
    pub grounds: Vec<(String, String)>,
    /// When it was collected.
    pub collected_at: Timestamp,
    /// When it must be gone; `None` while its period waits for an event.
    pub until: Option<Timestamp>,
}

/// A line of the vault access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultAccess {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// `answered`, or `refused: why`.
    pub outcome: String,
    /// The order: authority, number, date, scope (as given; empty when not).
    pub order: VaultOrder,
    /// Whose data were asked for.
    pub target: String,
    /// How many records were returned.
    pub records: u64,
}

fn vault_aad(source_id: i64, category: &str) -> String {
    format!("vault|{source_id}|{category}")
}

/// A record of the main store on its way to the vault.
pub(crate) struct ToVault {
    pub(crate) id: i64,
    pub(crate) subject: String,
    pub(crate) category: String,
    pub(crate) purposes: String,
    pub(crate) collected_at: i64,
    pub(crate) vault_until: Option<i64>,
    pub(crate) sealed: Vec<u8>,
}

impl Store {
    /// Moves up to `limit` records that only vault purposes still need into
    /// the vault; returns how many moved.
    pub async fn move_to_vault(&self, by: &Principal, limit: u32) -> Result<u64, StoreError> {
        let now = to_micros(self.now());
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT r.id, s.id, r.category, r.purposes, r.collected_at, r.vault_until, r.sealed \
             FROM records r JOIN subjects s ON s.key = r.subject_key \
             WHERE r.vault_from <= $1 AND s.erased_at IS NULL ORDER BY r.vault_from, r.id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let due = rows
            .iter()
            .map(|r| {
                Ok(ToVault {
                    id: r.try_get(0)?,
                    subject: r.try_get(1)?,
                    category: r.try_get(2)?,
                    purposes: r.try_get(3)?,
                    collected_at: r.try_get(4)?,
                    vault_until: r.try_get(5)?,
                    sealed: r.try_get(6)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (moved, by_ground) = self.copy_to_vault(due).await?;
        self.vaulted_in(&mut tx, by, None, now, &moved, &by_ground)
            .await?;
        tx.commit().await?;
        Ok(moved.len() as u64)
    }

    /// Copies records into the vault, resealed under the vault's key, and
    /// commits the copy; returns the ids copied (now or by an earlier run
    /// cut short) and their counts per category and grounds. The caller
    /// holds the writers' lock and removes the sources with
    /// [`Store::vaulted_in`] in its own transaction.
    pub(crate) async fn copy_to_vault(
        &self,
        due: Vec<ToVault>,
    ) -> Result<(Vec<i64>, BTreeMap<(String, String), u64>), StoreError> {
        let policy = self.policy();
        let now = to_micros(self.now());
        let subjects: Vec<&str> = due.iter().map(|r| r.subject.as_str()).collect();
        // Kept records of a partially erased subject are sealed under a
        // newer key than its first.
        let keys = self.current_keys(&subjects).await?;
        let mut moved: Vec<i64> = Vec::with_capacity(due.len());
        let mut by_ground: BTreeMap<(String, String), u64> = BTreeMap::new();
        // Prepared first, then written in multi-row statements: a move is a
        // few round trips whatever its size.
        struct Moving {
            id: i64,
            subject: String,
            category: String,
            purposes: String,
            grounds: String,
            collected_at: i64,
            vault_until: Option<i64>,
            sealed: Vec<u8>,
            identifiers: Vec<Vec<u8>>,
        }
        let mut moving: Vec<Moving> = Vec::with_capacity(due.len());
        for r in due {
            let Some(key) = keys.get(&r.subject) else {
                continue;
            };
            let plain = key.open(
                &r.sealed,
                format!("{}|{}", r.subject, r.category).as_bytes(),
            )?;
            let grounds = grounds_of(&policy, &r.purposes);
            // Only what the vault grounds keep goes (their `keep_fields`).
            let ground_list: Vec<&str> = grounds.split(',').collect();
            let plain = match policy.kept_fields(&r.category, &ground_list) {
                Some(kept) => keep_only(&plain, &kept)?,
                None => plain,
            };
            let fields = crate::payload_fields(&plain)?;
            let resealed = self
                .vault
                .key
                .seal(&plain, vault_aad(r.id, &r.category).as_bytes())?;
            let mut identifiers = Vec::new();
            if let Some(c) = policy.category(&r.category) {
                for f in &c.fields {
                    let (Some(kind), Some(value)) = (
                        f.identifier,
                        fields.get(&f.id.value).and_then(|v| v.as_str()),
                    ) else {
                        continue;
                    };
                    let normalised = custode_domain::normalise_identifier(kind, value);
                    identifiers.push(self.vault.identifier_hash(kind_name(kind), &normalised));
                }
            }
            moved.push(r.id);
            *by_ground
                .entry((r.category.clone(), grounds.clone()))
                .or_default() += 1;
            moving.push(Moving {
                id: r.id,
                subject: r.subject,
                category: r.category,
                purposes: r.purposes,
                grounds,
                collected_at: r.collected_at,
                vault_until: r.vault_until,
                sealed: resealed,
                identifiers,
            });
        }
        let mut vtx = self.vault.pool.begin().await?;
        for chunk in moving.chunks(200) {
            // A record already copied by a move cut short is not copied again.
            let sql = format!(
                "INSERT INTO vault_records (source_id, subject_id, category, purposes, grounds, collected_at, vault_until, sealed, moved_at) \
                 VALUES {} ON CONFLICT (source_id) DO NOTHING RETURNING id, source_id",
                crate::values(self.vault.engine, chunk.len(), 9)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for m in chunk {
                q = q
                    .bind(m.id)
                    .bind(m.subject.clone())
                    .bind(m.category.clone())
                    .bind(m.purposes.clone())
                    .bind(m.grounds.clone())
                    .bind(m.collected_at)
                    .bind(m.vault_until)
                    .bind(m.sealed.clone())
                    .bind(now);
            }
            let inserted: std::collections::HashMap<i64, i64> = q
                .fetch_all(&mut *vtx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(0)?)))
                .collect::<Result<_, StoreError>>()?;
            let links: Vec<(&Vec<u8>, i64)> = chunk
                .iter()
                .filter_map(|m| inserted.get(&m.id).map(|vid| (m, *vid)))
                .flat_map(|(m, vid)| m.identifiers.iter().map(move |h| (h, vid)))
                .collect();
            for links in links.chunks(400) {
                let sql = format!(
                    "INSERT INTO vault_identifiers (hash, record_id) VALUES {} ON CONFLICT DO NOTHING",
                    crate::values(self.vault.engine, links.len(), 2)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (hash, vid) in links {
                    q = q.bind((*hash).clone()).bind(*vid);
                }
                q.execute(&mut *vtx).await?;
            }
        }
        vtx.commit().await?;
        Ok((moved, by_ground))
    }

    /// The main store's half of a move: deletes the copied sources and
    /// writes the retention report and the audit entry, in `tx`.
    pub(crate) async fn vaulted_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        subject: Option<&SubjectId>,
        now: i64,
        moved: &[i64],
        by_ground: &BTreeMap<(String, String), u64>,
    ) -> Result<(), StoreError> {
        if moved.is_empty() {
            return Ok(());
        }
        crate::delete_ids(
            tx,
            self.engine,
            "DELETE FROM records WHERE id IN ({ids})",
            moved,
        )
        .await?;
        crate::retention::log_lines(tx, now, "vaulted", by_ground).await?;
        audit_log::append(
            tx,
            self.engine,
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::RetentionVaulted,
                subject: subject.map(SubjectId::to_string),
                reason: Some("retention: only a legal obligation still needs them".to_owned()),
                detail: json!({
                    "records": moved.len(),
                    "by_ground": by_ground.iter().map(|((c, g), n)| json!({"category": c, "grounds": g, "records": n})).collect::<Vec<_>>(),
                }),
            }],
        )
        .await?;
        Ok(())
    }

    /// Settles the end of vault records still waiting for an event (a
    /// period "from account closure" while the account was open), then
    /// erases up to `limit` whose legal period is over; returns how many.
    pub async fn expire_vault(&self, by: &Principal, limit: u32) -> Result<u64, StoreError> {
        let policy = self.policy();
        let now = to_micros(self.now());
        let open: Vec<(i64, String, String, i64)> = sqlx::query(
            "SELECT id, subject_id, purposes, collected_at FROM vault_records WHERE vault_until IS NULL LIMIT 1000",
        )
        .fetch_all(&self.vault.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect::<Result<_, StoreError>>()?;
        let mut lives = HashMap::new();
        for (id, subject, purposes, collected) in open {
            let until = self
                .settled_vault_end(&policy, &mut lives, &subject, &purposes, collected)
                .await?;
            if let Some(until) = until {
                sqlx::query("UPDATE vault_records SET vault_until = $1 WHERE id = $2")
                    .bind(to_micros(until))
                    .bind(id)
                    .execute(&self.vault.pool)
                    .await?;
            }
        }
        let due: Vec<(i64, String, String)> = sqlx::query(
            "SELECT id, category, grounds FROM vault_records WHERE vault_until <= $1 ORDER BY vault_until, id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.vault.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<_, StoreError>>()?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut by_ground: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (_, category, grounds) in &due {
            *by_ground
                .entry((category.clone(), grounds.clone()))
                .or_default() += 1;
        }
        // The vault deletion commits first: a crash before the report is
        // committed leaves the report one batch short, never the vault
        // holding data past their legal end.
        let mut tx = self.begin_write().await?;
        let mut vtx = self.vault.pool.begin().await?;
        let ids: Vec<i64> = due.iter().map(|(id, _, _)| *id).collect();
        for template in [
            "DELETE FROM vault_records WHERE id IN ({ids})",
            "DELETE FROM vault_identifiers WHERE record_id IN ({ids})",
        ] {
            crate::delete_ids(&mut vtx, self.vault.engine, template, &ids).await?;
        }
        crate::retention::log_lines(&mut tx, now, "vault_erased", &by_ground).await?;
        audit_log::append(
            &mut tx,
            self.engine,
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::RetentionErased,
                subject: None,
                reason: Some("retention: legal period over (vault)".to_owned()),
                detail: json!({ "vault_records": due.len() }),
            }],
        )
        .await?;
        vtx.commit().await?;
        tx.commit().await?;
        Ok(due.len() as u64)
    }

    /// Records a refused vault query in the audit chain and the access log.
    async fn vault_refused(
        &self,
        by: &Principal,
        why: &str,
        order: &VaultOrder,
        target: &VaultTarget,
    ) -> Result<(), StoreError> {
        self.log_vault_access(by, &format!("refused: {why}"), order, target, 0)
            .await?;
        self.audit_alone(Event {
            actor: by.id.clone(),
            action: Action::AccessDenied,
            subject: target.subject_id(),
            reason: Some(format!("order {} of {}", order.number, order.authority)),
            detail: json!({ "attempt": "vault.query", "why": why }),
        })
        .await
    }

    async fn log_vault_access(
        &self,
        by: &Principal,
        outcome: &str,
        order: &VaultOrder,
        target: &VaultTarget,
        records: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO vault_access_log (at, actor, outcome, authority, order_number, order_date, scope, target, records) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(to_micros(self.now()))
        .bind(by.id.as_str())
        .bind(outcome)
        .bind(order.authority.as_str())
        .bind(order.number.as_str())
        .bind(order.date.as_str())
        .bind(order.scope.as_str())
        .bind(target.logged())
        .bind(records as i64)
        .execute(&self.vault.pool)
        .await?;
        Ok(())
    }

    /// Answers an authority's order from the vault. Only the legal officer,
    /// logged in as a person, with a TOTP code not used before, and the
    /// order's reference (authority, number, date, scope); anything less is
    /// refused, and both answers and refusals are logged with the reference.
    pub async fn vault_query(
        &self,
        by: &Principal,
        totp: Option<&str>,
        order: &VaultOrder,
        target: &VaultTarget,
    ) -> Result<Vec<VaultRecord>, StoreError> {
        if !custode_domain::may(by.role, custode_domain::Operation::QueryVault) {
            let why = "only the legal officer may query the vault";
            self.vault_refused(by, why, order, target).await?;
            return Err(StoreError::Forbidden(why.to_owned()));
        }
        let Some(user) = by.id.strip_prefix("user:") else {
            let why =
                "vault queries are made by a person logged in with a second factor, not by a token";
            self.vault_refused(by, why, order, target).await?;
            return Err(StoreError::Forbidden(why.to_owned()));
        };
        if let Some(missing) = order.missing() {
            let why = format!(
                "an order reference is required (issuing authority, number, date, scope): {missing} is missing"
            );
            self.vault_refused(by, &why, order, target).await?;
            return Err(StoreError::Invalid(why));
        }
        let fresh = match totp {
            Some(code) => self.check_totp(user, code).await.is_ok(),
            None => false,
        };
        if !fresh {
            let why = "a fresh TOTP code is required (each code works once)";
            self.vault_refused(by, why, order, target).await?;
            return Err(StoreError::Forbidden(why.to_owned()));
        }
        let rows = match target {
            VaultTarget::Subject(s) => {
                sqlx::query(
                    "SELECT id, subject_id, category, grounds, collected_at, vault_until, sealed, source_id \
                     FROM vault_records WHERE subject_id = $1 ORDER BY id",
                )
                .bind(s.as_str())
                .fetch_all(&self.vault.pool)
                .await?
            }
            VaultTarget::Identifier(kind, value) => {
                let normalised = custode_domain::normalise_identifier(*kind, value);
                sqlx::query(
                    "SELECT v.id, v.subject_id, v.category, v.grounds, v.collected_at, v.vault_until, v.sealed, v.source_id \
                     FROM vault_identifiers i JOIN vault_records v ON v.id = i.record_id WHERE i.hash = $1 ORDER BY v.id",
                )
                .bind(self.vault.identifier_hash(kind_name(*kind), &normalised))
                .fetch_all(&self.vault.pool)
                .await?
            }
        };
        let policy = self.policy();
        let lang = policy.meta.languages.first().copied().unwrap_or(Lang::En);
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let category: String = r.try_get(2)?;
            let source_id: i64 = r.try_get(7)?;
            let plain = self.vault.key.open(
                &r.try_get::<Vec<u8>, _>(6)?,
                vault_aad(source_id, &category).as_bytes(),
            )?;
            let grounds: String = r.try_get(3)?;
            out.push(VaultRecord {
                subject: r.try_get(1)?,
                fields: serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Invalid(format!("vault payload: {e}")))?,
                category,
                grounds: grounds
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(|g| {
                        let law = policy
                            .purpose(g)
                            .and_then(|p| p.law.as_ref())
                            .map_or_else(String::new, |l| l.get(lang).to_owned());
                        (g.to_owned(), law)
                    })
                    .collect(),
                collected_at: from_micros(r.try_get(4)?),
                until: r.try_get::<Option<i64>, _>(5)?.map(from_micros),
            });
        }
        self.log_vault_access(by, "answered", order, target, out.len() as u64)
            .await?;
        self.audit_alone(Event {
            actor: by.id.clone(),
            action: Action::VaultQueried,
            subject: target.subject_id(),
            reason: Some(format!("order {} of {}", order.number, order.authority)),
            detail: json!({
                "authority": order.authority,
                "order": order.number,
                "date": order.date,
                "scope": order.scope,
                "target": target.logged(),
                "records": out.len(),
            }),
        })
        .await?;
        Ok(out)
    }

    /// The vault access log, newest first, for the DPO's review.
    pub async fn vault_access_log(
        &self,
        by: &Principal,
        limit: u32,
    ) -> Result<Vec<VaultAccess>, StoreError> {
        if !custode_domain::may(by.role, custode_domain::Operation::ReviewVault) {
            self.record_denied(by, "vault.access_log").await?;
            return Err(StoreError::Forbidden(
                "the vault access log is for the DPO and the legal officer".to_owned(),
            ));
        }
        let rows = sqlx::query(
            "SELECT at, actor, outcome, authority, order_number, order_date, scope, target, records \
             FROM vault_access_log ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit.min(10_000)))
        .fetch_all(&self.vault.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let text = |i: usize| -> Result<String, StoreError> {
                    Ok(r.try_get::<Option<String>, _>(i)?.unwrap_or_default())
                };
                Ok(VaultAccess {
                    at: from_micros(r.try_get(0)?),
                    actor: r.try_get(1)?,
                    outcome: r.try_get(2)?,
                    order: VaultOrder {
                        authority: text(3)?,
                        number: text(4)?,
                        date: text(5)?,
                        scope: text(6)?,
                    },
                    target: r.try_get(7)?,
                    records: u64::try_from(r.try_get::<i64, _>(8)?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// What the vault holds of a subject, by category and ground: counts
    /// and end dates only, for the answer to an erasure request.
    pub(crate) async fn vault_lines_of(
        &self,
        subject: &SubjectId,
    ) -> Result<Vec<crate::requests::KeptLine>, StoreError> {
        let policy = self.policy();
        sqlx::query(
            "SELECT category, grounds, COUNT(*), MAX(vault_until) FROM vault_records WHERE subject_id = $1 \
             GROUP BY category, grounds ORDER BY category",
        )
        .bind(subject.as_str())
        .fetch_all(&self.vault.pool)
        .await?
        .iter()
        .map(|r| {
            let grounds: String = r.try_get(1)?;
            let category: String = r.try_get(0)?;
            let grounds: Vec<String> = grounds.split(',').map(str::to_owned).collect();
            Ok(crate::requests::KeptLine {
                fields: policy.kept_fields(&category, &grounds).unwrap_or_default(),
                category,
                grounds,
                records: u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
                until: r.try_get::<Option<i64>, _>(3)?.map(from_micros),
            })
        })
        .collect()
    }

    /// How many records the vault holds (counts only; for tests and health).
    pub async fn vault_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM vault_records")
            .fetch_one(&self.vault.pool)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// The vault purposes among a record's purposes, as the vault and the
/// retention report name its grounds.
pub(crate) fn grounds_of(policy: &custode_policy::Policy, purposes: &str) -> String {
    purposes
        .split(',')
        .filter(|p| policy.purpose(p).is_some_and(|x| x.vault))
        .collect::<Vec<_>>()
        .join(",")
}

/// A payload reduced to the fields a ground keeps: the others are gone
/// from the copy that is sealed again.
pub(crate) fn keep_only(plain: &[u8], kept: &[String]) -> Result<Vec<u8>, StoreError> {
    let mut fields = crate::payload_fields(plain)?;
    fields.retain(|k, _| kept.contains(k));
    serde_json::to_vec(&fields)
        .map_err(|e| StoreError::Invalid(format!("record payload does not serialise: {e}")))
}

/// The vault's half of the retention plan: what its own ends will erase,
/// and what it holds now. Counts only; nothing is decrypted or changed.
pub(crate) struct VaultOutlook {
    /// (instant due, never before now; category; grounds; records).
    pub(crate) ends: Vec<(i64, String, String, u64)>,
    /// Records held now, per category.
    pub(crate) held: Vec<(String, u64)>,
}

/// Life events per subject id, read once each (`None`: no such subject).
type Lives = HashMap<String, Option<custode_domain::retention::LifeEvents>>;

impl Store {
    /// The end of a vault record whose end waited for an event, from its
    /// subject's life as it stands; `None` while the event has not happened.
    async fn settled_vault_end(
        &self,
        policy: &custode_policy::Policy,
        lives: &mut Lives,
        subject: &str,
        purposes: &str,
        collected: i64,
    ) -> Result<Option<Timestamp>, StoreError> {
        if !lives.contains_key(subject) {
            let life = sqlx::query(
                "SELECT created_at, closed_at, contract_end, last_activity FROM subjects WHERE id = $1",
            )
            .bind(subject)
            .fetch_optional(&self.db)
            .await?
            .map(|r| crate::retention::life_of_row(&r, 0))
            .transpose()?;
            lives.insert(subject.to_owned(), life);
        }
        let Some(Some(life)) = lives.get(subject) else {
            return Ok(None);
        };
        let vault_purposes: Vec<String> = grounds_of(policy, purposes)
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(custode_domain::retention::resolve(
            policy,
            &vault_purposes,
            from_micros(collected),
            life,
        )
        .retain_until)
    }

    /// What the vault will erase from `now` to `until` (microseconds), its
    /// open ends settled as the sweeper would settle them, and what it
    /// holds now.
    pub(crate) async fn vault_outlook(
        &self,
        now: i64,
        until: i64,
    ) -> Result<VaultOutlook, StoreError> {
        let policy = self.policy();
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut ends = Vec::new();
        for r in sqlx::query(
            "SELECT at, category, grounds, COUNT(*) FROM (SELECT CASE WHEN vault_until < $1 THEN $1 \
             ELSE vault_until END AS at, category, grounds FROM vault_records WHERE vault_until <= $2) due \
             GROUP BY at, category, grounds",
        )
        .bind(now)
        .bind(until)
        .fetch_all(&self.vault.pool)
        .await?
        {
            ends.push((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                count(r.try_get(3)?),
            ));
        }
        let open = sqlx::query(
            "SELECT subject_id, purposes, collected_at, category, grounds, COUNT(*) FROM vault_records \
             WHERE vault_until IS NULL GROUP BY subject_id, purposes, collected_at, category, grounds",
        )
        .fetch_all(&self.vault.pool)
        .await?;
        let mut lives = Lives::new();
        for r in open {
            let subject: String = r.try_get(0)?;
            let purposes: String = r.try_get(1)?;
            let end = self
                .settled_vault_end(&policy, &mut lives, &subject, &purposes, r.try_get(2)?)
                .await?;
            if let Some(at) = end.map(|e| to_micros(e).max(now))
                && at <= until
            {
                ends.push((at, r.try_get(3)?, r.try_get(4)?, count(r.try_get(5)?)));
            }
        }
        let held = sqlx::query("SELECT category, COUNT(*) FROM vault_records GROUP BY category")
            .fetch_all(&self.vault.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?))))
            .collect::<Result<_, StoreError>>()?;
        Ok(VaultOutlook { ends, held })
    }
}
