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

mod migrations;

pub use migrations::MIGRATIONS;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use custode_audit::{Action, Break, Entry, Event, GENESIS, Report, Verifier, entry_hash};
use custode_crypto::{IdentifierHasher, Key};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, SubjectId};
use custode_policy::{IdentifierKind, Lang};
use jiff::Timestamp;
use serde_json::json;
use sqlx::{Any, AnyPool, Row, Transaction};

use custode_store::engine::{self, Engine, OpenMode};
use custode_store::keyfile::MasterKeySource;
use custode_store::migrations::Migration;
use custode_store::{Store, StoreConfig, StoreError, audit_log};

/// The vault's schema.
pub const VAULT: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        name: "vault access log chained and scoped",
        // `seq`, `prev_hash` and `hash` make the log a hash chain; lines
        // written before are chained at the first start after the upgrade
        // (the head's hash is NULL until then), and shown only to reviewers
        // of the whole tree (`tenant_path` '/'), their scope being unknown.
        sql: r#"
ALTER TABLE vault_access_log ADD COLUMN seq BIGINT;
ALTER TABLE vault_access_log ADD COLUMN tenant_path {path};
ALTER TABLE vault_access_log ADD COLUMN prev_hash {blob};
ALTER TABLE vault_access_log ADD COLUMN hash {blob};
CREATE UNIQUE INDEX vault_access_by_seq ON vault_access_log (seq);
CREATE INDEX vault_access_by_path ON vault_access_log (tenant_path, seq);
CREATE TABLE vault_log_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash {blob}
);
INSERT INTO vault_log_head (id, seq, hash) VALUES (1, 0, NULL)
"#,
    },
];

/// The vault's database and keys.
struct VaultDb {
    engine: Engine,
    pool: AnyPool,
    key: Key,
    hasher: IdentifierHasher,
}

impl VaultDb {
    async fn open(
        url: &str,
        source: &MasterKeySource,
        mode: OpenMode,
        now: i64,
    ) -> Result<VaultDb, StoreError> {
        let (engine, pool) = engine::connect(url, mode, 4, true).await?;
        custode_store::migrations::run(&pool, engine, &[VAULT], now).await?;
        let (key, _) = source.load(mode == OpenMode::CreateIfMissing)?;
        let hasher = IdentifierHasher::new(key.clone());
        Ok(VaultDb {
            engine,
            pool,
            key,
            hasher,
        })
    }

    fn identifier_hash(&self, kind: &str, value: &str) -> Vec<u8> {
        custode_store::identifier_hash(&self.hasher, kind, value)
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn parts(&self) -> (Engine, &AnyPool, &Key) {
        (self.engine, &self.pool, &self.key)
    }
}

/// The vault capability: its database beside the main store's kernel.
pub struct Vault {
    store: Arc<Store>,
    vault: VaultDb,
}

impl Vault {
    /// Opens (and on first start creates) the vault's database, applies its
    /// migrations, and chains access-log lines written before the chain
    /// existed.
    pub async fn open(store: Arc<Store>, config: &StoreConfig) -> Result<Vault, StoreError> {
        if config.vault_url == config.database_url || config.vault_url == config.keystore_url {
            return Err(StoreError::Invalid(
                "the vault must be a database of its own, apart from the main store and the key store".to_owned(),
            ));
        }
        let now = to_micros(store.now());
        let vault = VaultDb::open(&config.vault_url, &config.vault_key, config.mode, now).await?;
        let vault = Vault { store, vault };
        vault.chain_vault_log_at_upgrade().await?;
        Ok(vault)
    }

    /// The kernel this vault sits beside.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The vault's engine, database and key, for the backup's export and
    /// copy.
    pub fn parts(&self) -> (Engine, &AnyPool, &Key) {
        self.vault.parts()
    }

    /// Closes the vault's database.
    pub async fn close(&self) {
        self.vault.close().await;
    }

    /// Verifies the main audit chain and its checkpoints, and the vault
    /// access log's chain against it.
    pub async fn audit_verify(&self) -> Result<Report, StoreError> {
        let mut report = self.store.audit_verify().await?;
        report.breaks.extend(self.verify_vault_log().await?);
        Ok(report)
    }
}

/// Writes the report lines of one retention step (the vault's moves and
/// expiries, the sweeper's erasures): per (category, rule or grounds), how
/// many records `action` concerned.
pub async fn log_lines(
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

/// The day of `now` in the controller's jurisdiction, as letters and logs
/// show it.
pub fn local_day_text(policy: &custode_policy::Policy, now: Timestamp) -> String {
    custode_domain::requests::local_day(&policy.meta.jurisdiction, now).to_string()
}

/// Data an erasure leaves, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptLine {
    /// The category.
    pub category: String,
    /// The purposes (legal obligations) that keep them.
    pub grounds: Vec<String>,
    /// How many records.
    pub records: u64,
    /// When they go.
    pub until: Option<Timestamp>,
    /// The only fields kept (the grounds' `keep_fields`); empty when the
    /// whole category is.
    pub fields: Vec<String>,
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
    kind.key()
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

/// What the vault keeps of a person under one category and set of vault
/// purposes, for an access request.
#[derive(Clone, Debug, PartialEq)]
pub struct VaultHolding {
    /// Described: category, count, vault purposes, end.
    pub held: custode_policy::VaultHeld,
    /// The content, when the policy gives it to the person.
    pub given: Vec<VaultRecord>,
}

/// A line of the vault access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultAccess {
    /// Its position in the log's chain, which `audit verify` names.
    pub line: i64,
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

/// An attempt on the vault, as it is logged.
struct Access<'a> {
    by: &'a Principal,
    outcome: String,
    order: &'a VaultOrder,
    target: String,
    /// Whom the line concerns, as a path of the tenancy tree: reviewers
    /// whose scope covers it see the line.
    tenant_path: String,
    records: u64,
    action: Action,
    subject: Option<String>,
    /// Why it was refused, for the audit entry.
    why: Option<String>,
}

/// The columns of a line of the vault access log that its hash covers.
struct Line {
    at: i64,
    actor: String,
    outcome: String,
    authority: String,
    order_number: String,
    order_date: String,
    scope: String,
    target: String,
    records: i64,
    tenant_path: String,
}

impl Line {
    /// Reads `at, actor, outcome, authority, order_number, order_date,
    /// scope, target, records[, tenant_path]` from `row`, starting at
    /// column `from`.
    fn of_row(row: &sqlx::any::AnyRow, from: usize) -> Result<Line, StoreError> {
        let text = |i: usize| -> Result<String, StoreError> {
            Ok(row
                .try_get::<Option<String>, _>(from + i)?
                .unwrap_or_default())
        };
        let tenant_path = if row.len() > from + 9 {
            text(9)?
        } else {
            String::new()
        };
        Ok(Line {
            at: row.try_get(from)?,
            actor: text(1)?,
            outcome: text(2)?,
            authority: text(3)?,
            order_number: text(4)?,
            order_date: text(5)?,
            scope: text(6)?,
            target: text(7)?,
            records: row.try_get(from + 8)?,
            tenant_path,
        })
    }

    /// The canonical text hashed into the chain (object keys sorted).
    fn body(&self) -> String {
        json!({
            "at": self.at,
            "actor": self.actor,
            "outcome": self.outcome,
            "authority": self.authority,
            "order_number": self.order_number,
            "order_date": self.order_date,
            "scope": self.scope,
            "target": self.target,
            "records": self.records,
            "tenant_path": self.tenant_path,
        })
        .to_string()
    }
}

/// The deepest node of the tree above every path given (paths end in
/// `/`); `None` when there is none.
fn common_path<'a>(mut paths: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut prefix = paths.next()?.to_owned();
    for p in paths {
        let same = prefix
            .bytes()
            .zip(p.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let mut same = same;
        while !prefix.is_char_boundary(same) {
            same -= 1;
        }
        prefix.truncate(same);
    }
    match prefix.rfind('/') {
        Some(i) => prefix.truncate(i + 1),
        None => prefix = "/".to_owned(),
    }
    Some(prefix)
}

fn vault_aad(source_id: i64, category: &str) -> String {
    format!("vault|{source_id}|{category}")
}

/// A record of the main store on its way to the vault.
pub struct ToVault {
    /// The record's id in the main store (the copy is idempotent on it).
    pub id: i64,
    /// Its subject.
    pub subject: String,
    /// Its category.
    pub category: String,
    /// Its purposes, comma-separated.
    pub purposes: String,
    /// When it was collected (µs).
    pub collected_at: i64,
    /// When the vault's legal period ends (µs), if known.
    pub vault_until: Option<i64>,
    /// Its payload, in the clear only between the two databases.
    pub sealed: Vec<u8>,
}

impl Vault {
    /// Moves up to `limit` records that only vault purposes still need into
    /// the vault; returns how many moved.
    pub async fn move_to_vault(&self, by: &Principal, limit: u32) -> Result<u64, StoreError> {
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
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
    pub async fn copy_to_vault(
        &self,
        due: Vec<ToVault>,
    ) -> Result<(Vec<i64>, BTreeMap<(String, String), u64>), StoreError> {
        let policy = self.store.policy();
        let now = to_micros(self.store.now());
        let subjects: Vec<&str> = due.iter().map(|r| r.subject.as_str()).collect();
        // Kept records of a partially erased subject are sealed under a
        // newer key than its first.
        let keys = self.store.current_keys(&subjects).await?;
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
            let fields = custode_store::payload_fields(&plain)?;
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
                custode_store::values(self.vault.engine, chunk.len(), 9)
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
                    custode_store::values(self.vault.engine, links.len(), 2)
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
    pub async fn vaulted_in(
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
        custode_store::delete_ids(
            tx,
            self.store.engine(),
            "DELETE FROM records WHERE id IN ({ids})",
            moved,
        )
        .await?;
        log_lines(tx, now, "vaulted", by_ground).await?;
        audit_log::append(
            tx,
            self.store.engine(),
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
        let policy = self.store.policy();
        let now = to_micros(self.store.now());
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
        let mut tx = self.store.begin_write().await?;
        let mut vtx = self.vault.pool.begin().await?;
        let ids: Vec<i64> = due.iter().map(|(id, _, _)| *id).collect();
        for template in [
            "DELETE FROM vault_records WHERE id IN ({ids})",
            "DELETE FROM vault_identifiers WHERE record_id IN ({ids})",
        ] {
            custode_store::delete_ids(&mut vtx, self.vault.engine, template, &ids).await?;
        }
        log_lines(&mut tx, now, "vault_erased", &by_ground).await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
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

    /// Records a query refused before it could reach the vault (a role
    /// that may not query, or a token rather than a person) in the audit
    /// chain only: the vault access log holds the legal officers' own
    /// attempts, not noise anyone with a token could write into it.
    async fn vault_denied(
        &self,
        by: &Principal,
        why: &str,
        order: &VaultOrder,
        target: &VaultTarget,
    ) -> Result<(), StoreError> {
        self.store
            .audit_alone(Event {
                actor: by.id.clone(),
                action: Action::AccessDenied,
                subject: target.subject_id(),
                reason: Some(format!("order {} of {}", order.number, order.authority)),
                detail: json!({ "attempt": "vault.query", "why": why }),
            })
            .await
    }

    /// Writes a line of the vault access log, then the audit entry that
    /// records it with the line's position and hash. The line commits
    /// first: an entry never names a line that is not there, and a line
    /// removed or rewritten later no longer matches its entry.
    async fn log_vault_access(&self, access: Access<'_>) -> Result<(), StoreError> {
        let line = Line {
            at: to_micros(self.store.now()),
            actor: access.by.id.clone(),
            outcome: access.outcome.clone(),
            authority: access.order.authority.clone(),
            order_number: access.order.number.clone(),
            order_date: access.order.date.clone(),
            scope: access.order.scope.clone(),
            target: access.target.clone(),
            records: i64::try_from(access.records).unwrap_or(i64::MAX),
            tenant_path: access.tenant_path,
        };
        let (seq, hash) = self.append_vault_line(&line).await?;
        let mut detail = json!({
            "authority": access.order.authority,
            "order": access.order.number,
            "date": access.order.date,
            "scope": access.order.scope,
            "target": access.target,
            "outcome": access.outcome,
            "records": access.records,
            "vault_log": { "line": seq, "hash": hex::encode(&hash) },
        });
        if let Some(why) = access.why {
            detail["attempt"] = json!("vault.query");
            detail["why"] = json!(why);
        }
        self.store
            .audit_alone(Event {
                actor: access.by.id.clone(),
                action: access.action,
                subject: access.subject,
                reason: Some(format!(
                    "order {} of {}",
                    access.order.number, access.order.authority
                )),
                detail,
            })
            .await
    }

    /// Appends a line to the vault access log's chain; returns its
    /// position and hash.
    async fn append_vault_line(&self, line: &Line) -> Result<(i64, Vec<u8>), StoreError> {
        let mut tx = self.vault.pool.begin().await?;
        // The head row is the writers' lock, as in the main chain.
        sqlx::query("UPDATE vault_log_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM vault_log_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (Some(head_seq), Some(prev)) = (
            head.as_ref().map(|h| h.try_get::<i64, _>(0)).transpose()?,
            head.as_ref()
                .map(|h| h.try_get::<Option<Vec<u8>>, _>(1))
                .transpose()?
                .flatten(),
        ) else {
            return Err(StoreError::AuditFailed(
                "the vault access log's head (table vault_log_head) is missing or unset: the log was tampered with; run `custode audit verify` and restore the vault from a backup".to_owned(),
            ));
        };
        let seq = head_seq + 1;
        let hash = entry_hash(&prev, seq, &line.body()).to_vec();
        sqlx::query(
            "INSERT INTO vault_access_log (seq, at, actor, outcome, authority, order_number, order_date, scope, target, records, tenant_path, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(seq)
        .bind(line.at)
        .bind(line.actor.as_str())
        .bind(line.outcome.as_str())
        .bind(line.authority.as_str())
        .bind(line.order_number.as_str())
        .bind(line.order_date.as_str())
        .bind(line.scope.as_str())
        .bind(line.target.as_str())
        .bind(line.records)
        .bind(line.tenant_path.as_str())
        .bind(prev)
        .bind(hash.clone())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE vault_log_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(hash.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((seq, hash))
    }

    /// Chains the lines written before the vault access log was a chain
    /// (an upgrade in place), once, and records the head they end at in
    /// the audit chain.
    pub async fn chain_vault_log_at_upgrade(&self) -> Result<(), StoreError> {
        let mut tx = self.vault.pool.begin().await?;
        sqlx::query("UPDATE vault_log_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let Some(head) = sqlx::query("SELECT seq, hash FROM vault_log_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
        else {
            // Verification names it; appending refuses.
            return Ok(());
        };
        if head.try_get::<Option<Vec<u8>>, _>(1)?.is_some() {
            return Ok(());
        }
        let mut seq: i64 = head.try_get(0)?;
        let mut prev = GENESIS.to_vec();
        let rows = sqlx::query(
            "SELECT id, at, actor, outcome, authority, order_number, order_date, scope, target, records \
             FROM vault_access_log WHERE seq IS NULL ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        // A line about a subject goes to the reviewers of its node; one
        // about an identifier, whose owners it does not name, to those of
        // the whole tree.
        let named: Vec<String> = rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>(8).ok())
            .filter_map(|t| t.strip_prefix("subject ").map(str::to_owned))
            .collect();
        let paths = self
            .subject_paths(&named.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        for r in &rows {
            let mut line = Line::of_row(r, 1)?;
            line.tenant_path = line
                .target
                .strip_prefix("subject ")
                .and_then(|s| paths.get(s))
                .cloned()
                .unwrap_or_else(|| "/".to_owned());
            seq += 1;
            let hash = entry_hash(&prev, seq, &line.body()).to_vec();
            sqlx::query(
                "UPDATE vault_access_log SET seq = $1, tenant_path = $2, prev_hash = $3, hash = $4 WHERE id = $5",
            )
            .bind(seq)
            .bind(line.tenant_path.as_str())
            .bind(prev.clone())
            .bind(hash.clone())
            .bind(r.try_get::<i64, _>(0)?)
            .execute(&mut *tx)
            .await?;
            prev = hash;
        }
        sqlx::query("UPDATE vault_log_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(prev.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_write().await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            to_micros(self.store.now()),
            &[Event {
                actor: "job:upgrade".to_owned(),
                action: Action::VaultLogChained,
                subject: None,
                reason: Some("the vault access log's earlier lines chained at upgrade".to_owned()),
                detail: json!({ "lines": rows.len(), "vault_log": { "line": seq, "hash": hex::encode(&prev) } }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks the vault access log: its own chain (each line's hash, its
    /// link to the line before, no gap), its head (nothing cut off the
    /// end), and every audit entry that recorded a line (the line is still
    /// there, unchanged: this catches a log rewritten whole). Returns each
    /// break, naming the line.
    pub async fn verify_vault_log(&self) -> Result<Vec<Break>, StoreError> {
        // The entries first: each line commits before the entry naming it,
        // so every line named here is in the vault snapshot read next.
        let mut anchors: Vec<(i64, i64, String)> = Vec::new();
        for r in sqlx::query(
            "SELECT seq, body FROM audit_log WHERE action IN ('vault.queried', 'access.denied', 'vault.log_chained') ORDER BY seq",
        )
        .fetch_all(self.store.reader())
        .await?
        {
            let body: String = r.try_get(1)?;
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let anchor = &v["detail"]["vault_log"];
            if let (Some(line), Some(hash)) = (anchor["line"].as_i64(), anchor["hash"].as_str()) {
                anchors.push((r.try_get(0)?, line, hash.to_owned()));
            }
        }
        let mut tx = self.vault.pool.begin().await?;
        if self.vault.engine == Engine::Postgres {
            // One snapshot for the head and the lines.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *tx)
                .await?;
        }
        let head = sqlx::query("SELECT seq, hash FROM vault_log_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|h| {
                Ok::<_, StoreError>((h.try_get::<i64, _>(0)?, h.try_get::<Option<Vec<u8>>, _>(1)?))
            })
            .transpose()?;
        let rows = sqlx::query(
            "SELECT id, at, actor, outcome, authority, order_number, order_date, scope, target, records, tenant_path, seq, prev_hash, hash \
             FROM vault_access_log ORDER BY seq, id",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;

        let mut breaks = Vec::new();
        let mut named: std::collections::HashSet<i64> = std::collections::HashSet::new();
        let mut hashes: HashMap<i64, Vec<u8>> = HashMap::new();
        let mut verifier = Verifier::new();
        for r in &rows {
            let line = Line::of_row(r, 1)?;
            let Some(seq) = r.try_get::<Option<i64>, _>(11)? else {
                breaks.push(Break::VaultLog {
                    line: 0,
                    what: format!(
                        "a line (row id {}, actor {}) was added outside the chain: it has no position and no hash",
                        r.try_get::<i64, _>(0)?,
                        line.actor
                    ),
                });
                continue;
            };
            let hash = r.try_get::<Option<Vec<u8>>, _>(13)?.unwrap_or_default();
            hashes.insert(seq, hash.clone());
            verifier.push(Entry {
                seq,
                body: line.body(),
                prev_hash: r.try_get::<Option<Vec<u8>>, _>(12)?.unwrap_or_default(),
                hash,
            });
        }
        let report = verifier.finish(&[], &self.store.keys().verifying_key(), |_| None);
        for b in report.breaks {
            let (line, what) = match b {
                Break::Altered { seq } => (
                    seq,
                    "altered: its content does not match its hash".to_owned(),
                ),
                Break::Missing { from, to } => {
                    named.extend(from..=to.min(from + 10_000));
                    if from == to {
                        (from, "missing: it was removed".to_owned())
                    } else {
                        (
                            from,
                            format!(
                                "missing, and every line after it to line {to}: they were removed"
                            ),
                        )
                    }
                }
                Break::OutOfOrder { seq, belongs_at } => (
                    seq,
                    format!("out of order: it belongs at line {belongs_at}"),
                ),
                Break::Unlinked { seq } => (
                    seq,
                    "does not link to the line before it: a line was removed or rewritten there"
                        .to_owned(),
                ),
                other => (0, other.to_string()),
            };
            named.insert(line);
            breaks.push(Break::VaultLog { line, what });
        }
        let last = report.last_seq;
        match head {
            None => breaks.push(Break::VaultLog {
                line: 0,
                what: "the chain's head (table vault_log_head) was removed".to_owned(),
            }),
            Some((seq, _)) if seq > last => {
                named.extend(last + 1..=seq.min(last + 10_000));
                breaks.push(Break::VaultLog {
                    line: last + 1,
                    what: if seq == last + 1 {
                        "missing: the last line was removed".to_owned()
                    } else {
                        format!("missing, and every line after it to line {seq}: the end of the log was removed")
                    },
                });
            }
            Some((seq, _)) if seq < last => breaks.push(Break::VaultLog {
                line: seq + 1,
                what: format!(
                    "lines {} to {last} come after the chain's head: they were written outside it",
                    seq + 1
                ),
            }),
            Some((seq, hash)) if seq > 0 && hash.as_deref() != Some(report.head.as_slice()) => {
                breaks.push(Break::VaultLog {
                    line: seq,
                    what: "does not match the chain's head: the last line was rewritten".to_owned(),
                });
            }
            Some(_) => {}
        }
        for (entry, line, hash) in anchors {
            if named.contains(&line) {
                continue;
            }
            let what = match hashes.get(&line) {
                None => format!("missing: audit entry {entry} recorded it"),
                Some(h) if hex::encode(h) != hash => format!(
                    "differs from what audit entry {entry} recorded: it was altered, or the log rewritten"
                ),
                Some(_) => continue,
            };
            named.insert(line);
            breaks.push(Break::VaultLog { line, what });
        }
        Ok(breaks)
    }

    /// Where subjects hang in the tenancy tree, by id; erased subjects
    /// too, whose vault records outlive them.
    async fn subject_paths(&self, ids: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            for row in custode_store::in_query(
                self.store.engine(),
                "SELECT id, tenant_path FROM subjects WHERE id IN ({ids})",
                chunk,
            )
            .fetch_all(self.store.reader())
            .await?
            {
                out.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
        Ok(out)
    }

    /// Answers an authority's order from the vault. Only the legal officer,
    /// logged in as a person, with a TOTP code not used before, and the
    /// order's reference (authority, number, date, scope); anything less is
    /// refused. The query is bounded by the officer's scope like any other:
    /// a subject outside it is not found, and records of subjects outside
    /// it are left out of an identifier's answer. The officer's attempts
    /// (answered, refused, not found) are lines of the vault access log,
    /// each shown to reviewers whose scope covers whom it concerns, and
    /// entries of the audit chain; a refusal for the role, or to a token,
    /// is an audit entry only.
    pub async fn vault_query(
        &self,
        by: &Principal,
        totp: Option<&str>,
        order: &VaultOrder,
        target: &VaultTarget,
    ) -> Result<Vec<VaultRecord>, StoreError> {
        let factor = totp.map(custode_accounts::FreshFactor::Totp);
        self.vault_query_fresh(by, factor.as_ref(), order, target)
            .await
    }

    /// [`Vault::vault_query`] with the fresh second factor a TOTP code or a
    /// passkey assertion over a challenge issued for this query.
    pub async fn vault_query_fresh(
        &self,
        by: &Principal,
        factor: Option<&custode_accounts::FreshFactor<'_>>,
        order: &VaultOrder,
        target: &VaultTarget,
    ) -> Result<Vec<VaultRecord>, StoreError> {
        if !custode_domain::may(by.role, custode_domain::Operation::QueryVault) {
            let why = "only the legal officer may query the vault";
            self.vault_denied(by, why, order, target).await?;
            return Err(StoreError::Forbidden(why.to_owned()));
        }
        let Some(user) = by.id.strip_prefix("user:") else {
            let why =
                "vault queries are made by a person logged in with a second factor, not by a token";
            self.vault_denied(by, why, order, target).await?;
            return Err(StoreError::Forbidden(why.to_owned()));
        };
        // Where the named subject hangs, when the officer may see it; a
        // line about it is shown to the reviewers of that part of the tree,
        // any other line to the reviewers of the officer's own scope.
        let subject_path = match target {
            VaultTarget::Subject(s) => self
                .subject_paths(&[s.as_str()])
                .await?
                .remove(s.as_str())
                .filter(|p| by.scope.covers(p, s)),
            VaultTarget::Identifier(..) => None,
        };
        let line_path = subject_path
            .clone()
            .unwrap_or_else(|| by.scope.path().to_owned());
        let attempt = |outcome: String, why: Option<String>, action: Action| Access {
            by,
            outcome,
            order,
            target: target.logged(),
            tenant_path: line_path.clone(),
            records: 0,
            action,
            subject: target.subject_id(),
            why,
        };
        if let Some(missing) = order.missing() {
            let why = format!(
                "an order reference is required (issuing authority, number, date, scope): {missing} is missing"
            );
            self.log_vault_access(attempt(
                format!("refused: {why}"),
                Some(why.clone()),
                Action::AccessDenied,
            ))
            .await?;
            return Err(StoreError::Invalid(why));
        }
        let fresh = match factor {
            Some(f) => custode_accounts::check_fresh_factor(&self.store, user, f).await?,
            None => Err(
                "a fresh TOTP code or passkey assertion is required (each works once)".to_owned(),
            ),
        };
        if let Err(why) = fresh {
            self.log_vault_access(attempt(
                format!("refused: {why}"),
                Some(why.clone()),
                Action::AccessDenied,
            ))
            .await?;
            return Err(StoreError::Forbidden(why));
        }
        if let VaultTarget::Subject(s) = target
            && subject_path.is_none()
        {
            // Unknown, or outside the scope: the same answer either way.
            let why = "no such subject in the caller's scope";
            self.log_vault_access(attempt(
                "not found".to_owned(),
                Some(why.to_owned()),
                Action::AccessDenied,
            ))
            .await?;
            return Err(StoreError::NotFound {
                what: "subject",
                id: s.to_string(),
            });
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
        let owners: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(1))
            .collect::<Result<std::collections::BTreeSet<_>, _>>()?
            .into_iter()
            .collect();
        let owner_refs: Vec<&str> = owners.iter().map(String::as_str).collect();
        let paths = self.subject_paths(&owner_refs).await?;
        let visible = |id: &str| -> Option<&String> {
            let path = paths.get(id)?;
            let sid = SubjectId::parse(id).ok()?;
            by.scope.covers(path, &sid).then_some(path)
        };
        let policy = self.store.policy();
        let lang = policy.meta.languages.first().copied().unwrap_or(Lang::En);
        let mut out = Vec::with_capacity(rows.len());
        let mut reached: Vec<&str> = Vec::new();
        for r in &rows {
            let subject: String = r.try_get(1)?;
            let Some(path) = visible(&subject) else {
                continue;
            };
            reached.push(path);
            let category: String = r.try_get(2)?;
            let source_id: i64 = r.try_get(7)?;
            let plain = self.vault.key.open(
                &r.try_get::<Vec<u8>, _>(6)?,
                vault_aad(source_id, &category).as_bytes(),
            )?;
            let grounds: String = r.try_get(3)?;
            out.push(VaultRecord {
                subject,
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
        let tenant_path = common_path(reached.into_iter()).unwrap_or(line_path.clone());
        self.log_vault_access(Access {
            records: out.len() as u64,
            tenant_path,
            ..attempt("answered".to_owned(), None, Action::VaultQueried)
        })
        .await?;
        Ok(out)
    }

    /// The vault access log, newest first, for the DPO's review: the lines
    /// that concern the reviewer's part of the tree, and only those.
    pub async fn vault_access_log(
        &self,
        by: &Principal,
        limit: u32,
    ) -> Result<Vec<VaultAccess>, StoreError> {
        if !custode_domain::may(by.role, custode_domain::Operation::ReviewVault) {
            self.store.record_denied(by, "vault.access_log").await?;
            return Err(StoreError::Forbidden(
                "the vault access log is for the DPO and the legal officer".to_owned(),
            ));
        }
        if by.scope.only_subject().is_some() {
            return Ok(Vec::new());
        }
        let (low, high) = by.scope.path_range();
        let rows = sqlx::query(
            "SELECT seq, at, actor, outcome, authority, order_number, order_date, scope, target, records \
             FROM vault_access_log WHERE tenant_path >= $1 AND tenant_path < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(low)
        .bind(high)
        .bind(i64::from(limit.min(10_000)))
        .fetch_all(&self.vault.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let line = Line::of_row(r, 1)?;
                Ok(VaultAccess {
                    line: r.try_get::<Option<i64>, _>(0)?.unwrap_or_default(),
                    at: from_micros(line.at),
                    actor: line.actor,
                    outcome: line.outcome,
                    order: VaultOrder {
                        authority: line.authority,
                        number: line.order_number,
                        date: line.order_date,
                        scope: line.scope,
                    },
                    target: line.target,
                    records: u64::try_from(line.records).unwrap_or(0),
                })
            })
            .collect()
    }

    /// What the vault keeps of `subject`, for the answer to an access
    /// request (Art. 15): per category and vault purposes, the count and
    /// the last end, and the content of the records whose vault purposes
    /// all give it to the person (`access_content = "given"`). Reading that
    /// content is a line of the vault access log, under the request's id,
    /// and an audit entry.
    pub async fn vault_holdings_for_access(
        &self,
        by: &Principal,
        subject: &SubjectId,
        request: &str,
    ) -> Result<Vec<VaultHolding>, StoreError> {
        let policy = self.store.policy();
        let rows = sqlx::query(
            "SELECT category, grounds, collected_at, vault_until, sealed, source_id \
             FROM vault_records WHERE subject_id = $1 ORDER BY category, grounds, id",
        )
        .bind(subject.as_str())
        .fetch_all(&self.vault.pool)
        .await?;
        let lang = policy.meta.languages.first().copied().unwrap_or(Lang::En);
        let mut out: Vec<VaultHolding> = Vec::new();
        // An end still open (`None`) outweighs every date.
        let mut ends: Vec<Option<Option<i64>>> = Vec::new();
        for r in &rows {
            let category: String = r.try_get(0)?;
            let grounds: Vec<String> = r
                .try_get::<String, _>(1)?
                .split(',')
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect();
            let until: Option<i64> = r.try_get(3)?;
            let same = out
                .last()
                .is_some_and(|h| h.held.category == category && h.held.grounds == grounds);
            if !same {
                out.push(VaultHolding {
                    held: custode_policy::VaultHeld {
                        category: category.clone(),
                        records: 0,
                        grounds: grounds.clone(),
                        until: None,
                    },
                    given: Vec::new(),
                });
                ends.push(None);
            }
            let (Some(h), Some(end)) = (out.last_mut(), ends.last_mut()) else {
                continue;
            };
            h.held.records += 1;
            *end = Some(match (*end, until) {
                (None, u) => u,
                (Some(Some(a)), Some(b)) => Some(a.max(b)),
                _ => None,
            });
            if custode_policy::vault_content_given(&policy, &grounds) {
                let source_id: i64 = r.try_get(5)?;
                let plain = self.vault.key.open(
                    &r.try_get::<Vec<u8>, _>(4)?,
                    vault_aad(source_id, &category).as_bytes(),
                )?;
                h.given.push(VaultRecord {
                    subject: subject.to_string(),
                    fields: serde_json::from_slice(&plain)
                        .map_err(|e| StoreError::Invalid(format!("vault payload: {e}")))?,
                    category: category.clone(),
                    grounds: grounds
                        .iter()
                        .map(|g| {
                            let law = policy
                                .purpose(g)
                                .and_then(|p| p.law.as_ref())
                                .map_or_else(String::new, |l| l.get(lang).to_owned());
                            (g.clone(), law)
                        })
                        .collect(),
                    collected_at: from_micros(r.try_get(2)?),
                    until: until.map(from_micros),
                });
            }
        }
        for (h, end) in out.iter_mut().zip(ends) {
            h.held.until = end
                .flatten()
                .map(|u| local_day_text(&policy, from_micros(u)));
        }
        let given: usize = out.iter().map(|h| h.given.len()).sum();
        if given > 0 {
            let path = self
                .subject_paths(&[subject.as_str()])
                .await?
                .remove(subject.as_str())
                .unwrap_or_else(|| "/".to_owned());
            let order = VaultOrder {
                authority: "the data subject (access request, Art. 15 GDPR)".to_owned(),
                number: request.to_owned(),
                date: local_day_text(&policy, self.store.now()),
                scope: "the requester's own data kept in the vault, as the policy gives them"
                    .to_owned(),
            };
            self.log_vault_access(Access {
                by,
                outcome: "answered".to_owned(),
                order: &order,
                target: VaultTarget::Subject(subject.clone()).logged(),
                tenant_path: path,
                records: given as u64,
                action: Action::VaultQueried,
                subject: Some(subject.to_string()),
                why: None,
            })
            .await?;
        }
        Ok(out)
    }

    /// What the vault holds of a subject, by category and ground: counts
    /// and end dates only, for the answer to an erasure request.
    pub async fn vault_lines_of(&self, subject: &SubjectId) -> Result<Vec<KeptLine>, StoreError> {
        let policy = self.store.policy();
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
            Ok(KeptLine {
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
pub fn grounds_of(policy: &custode_policy::Policy, purposes: &str) -> String {
    purposes
        .split(',')
        .filter(|p| policy.purpose(p).is_some_and(|x| x.vault))
        .collect::<Vec<_>>()
        .join(",")
}

/// A payload reduced to the fields a ground keeps: the others are gone
/// from the copy that is sealed again.
pub fn keep_only(plain: &[u8], kept: &[String]) -> Result<Vec<u8>, StoreError> {
    let mut fields = custode_store::payload_fields(plain)?;
    fields.retain(|k, _| kept.contains(k));
    serde_json::to_vec(&fields)
        .map_err(|e| StoreError::Invalid(format!("record payload does not serialise: {e}")))
}

/// The vault's half of the retention plan: what its own ends will erase,
/// and what it holds now. Counts only; nothing is decrypted or changed.
pub struct VaultOutlook {
    /// (instant due, never before now; category; grounds; records).
    pub ends: Vec<(i64, String, String, u64)>,
    /// Records held now, per category.
    pub held: Vec<(String, u64)>,
}

/// Life events per subject id, read once each (`None`: no such subject).
type Lives = HashMap<String, Option<custode_domain::retention::LifeEvents>>;

impl Vault {
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
            .fetch_optional(self.store.reader())
            .await?
            .map(|r| custode_store::lifecycle::life_of_row(&r, 0))
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
    pub async fn vault_outlook(&self, now: i64, until: i64) -> Result<VaultOutlook, StoreError> {
        let policy = self.store.policy();
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
