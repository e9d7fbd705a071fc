//! Time partitions: one table per category and month of the
//! communication (`traffic_phone_traffic_202611`), each sealed under a key
//! of its own in the key store (`traffic/phone_traffic/2026-11`), listed
//! in `traffic_partitions` with its row count and the day its last record
//! ends. An expired month goes whole: its key is destroyed (every copy of
//! its rows, backups included, becomes unreadable) and its table dropped,
//! at a cost that does not grow with its rows.
//!
//! Why a key per partition rather than per subject: the law keeps traffic
//! whatever the subscriber asks (an erasure leaves it to its legal end),
//! so what must be destroyable is the month, not the person; and one key
//! per month lets ingestion seal a million lines with one key in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use custode_audit::{Action, Event};
use custode_crypto::Key;
use custode_domain::Principal;
use custode_domain::clock::{from_micros, to_micros};
use custode_store::{Engine, Store, StoreError};
use jiff::Timestamp;
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use crate::TrafficError;

/// A partition: category and month.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    /// The category (`phone_traffic`, `unanswered_calls`, `net_traffic`).
    pub category: &'static str,
    /// Year and month, UTC.
    pub year: i16,
    /// 1 to 12.
    pub month: i8,
}

impl PartitionId {
    /// The partition a communication at `at` belongs to.
    pub fn of(category: &'static str, at: Timestamp) -> PartitionId {
        let d = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        PartitionId {
            category,
            year: d.year(),
            month: d.month(),
        }
    }

    /// Its table. Built from a fixed category and two numbers only, so it
    /// is safe to place in SQL.
    pub fn table(&self) -> String {
        format!(
            "traffic_{}_{:04}{:02}",
            self.category, self.year, self.month
        )
    }

    /// Its key's name in the key store.
    pub fn key_name(&self) -> String {
        format!("traffic/{}/{}", self.category, self.month_text())
    }

    /// `YYYY-MM`.
    pub fn month_text(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// The month's first instant and the next month's.
    pub fn span(&self) -> (Timestamp, Timestamp) {
        let at = |d: Option<jiff::civil::Date>| {
            d.and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
                .map_or(Timestamp::MAX, |z| z.timestamp())
        };
        let first = jiff::civil::Date::new(self.year, self.month, 1).ok();
        let next = first.and_then(|f| f.checked_add(jiff::Span::new().months(1)).ok());
        (at(first), at(next))
    }

    /// The associated data a row's payload is sealed with: its partition,
    /// time and link, so a payload moved to another row does not open.
    pub fn aad(&self, at: i64, link_hash: &[u8]) -> Vec<u8> {
        let mut aad = format!("traffic|{}|{at}|", self.table()).into_bytes();
        aad.extend_from_slice(link_hash);
        aad
    }
}

/// A partition as the catalogue lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Which.
    pub id: String,
    /// Category.
    pub category: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Rows.
    pub records: u64,
    /// Rows whose subscriber is not known yet.
    pub pending: u64,
    /// When its last record's period ends.
    pub kept_until: Timestamp,
    /// When it was dropped.
    pub dropped_at: Option<Timestamp>,
}

/// The partitions known to this instance, with their keys.
pub(crate) struct Partitions {
    store: Arc<Store>,
    keys: Mutex<HashMap<PartitionId, Key>>,
}

const PARTITION_DDL: &str = r#"
CREATE TABLE IF NOT EXISTS {t} (
    id {serial_pk},
    at BIGINT NOT NULL,
    subject_key BIGINT,
    link_hash {blob} NOT NULL,
    peer_hash {blob},
    answered BIGINT NOT NULL,
    legal_until BIGINT NOT NULL,
    billing_until BIGINT,
    kept_until BIGINT NOT NULL,
    sealed {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS {t}_link ON {t} (link_hash, at);
CREATE INDEX IF NOT EXISTS {t}_peer ON {t} (peer_hash, at);
CREATE INDEX IF NOT EXISTS {t}_subject ON {t} (subject_key, at)
"#;

/// The columns a row is inserted with, in order.
pub(crate) const ROW_COLUMNS: usize = 9;

impl Partitions {
    pub(crate) fn new(store: Arc<Store>) -> Partitions {
        Partitions {
            store,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The key of a partition, making the partition (table, catalogue row,
    /// key) when it is new. Each step is idempotent, so instances making
    /// the same month at once all end with the one table and key.
    pub(crate) async fn ensure(&self, id: &PartitionId) -> Result<Key, StoreError> {
        if let Some(k) = self.cached(id) {
            return Ok(k);
        }
        let now = to_micros(self.store.now());
        let key = self.store.keys().ensure_key(&id.key_name(), now).await?;
        let engine = self.store.engine();
        let table = id.table();
        let mut tx = self.store.begin_write().await?;
        for statement in engine.ddl(PARTITION_DDL).split(';') {
            let statement = statement.trim();
            if statement.is_empty() {
                continue;
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.replace("{t}", &table)))
                .execute(&mut *tx)
                .await?;
        }
        let (starts, ends) = id.span();
        sqlx::query(
            "INSERT INTO traffic_partitions (name, category, month, starts_at, ends_at, key_name, records, pending, kept_until, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, $7) ON CONFLICT DO NOTHING",
        )
        .bind(table.as_str())
        .bind(id.category)
        .bind(id.month_text())
        .bind(to_micros(starts))
        .bind(to_micros(ends))
        .bind(id.key_name())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let dropped: Option<i64> =
            sqlx::query("SELECT dropped_at FROM traffic_partitions WHERE name = $1")
                .bind(table.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        if dropped.is_some() {
            return Err(StoreError::Invalid(format!(
                "the month {} of {} was dropped at the end of its legal period: nothing can be added to it",
                id.month_text(),
                id.category
            )));
        }
        tx.commit().await?;
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), key.clone());
        Ok(key)
    }

    fn cached(&self, id: &PartitionId) -> Option<Key> {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// The key of an existing partition (none once dropped).
    pub(crate) async fn key(&self, id: &PartitionId) -> Result<Option<Key>, StoreError> {
        if let Some(k) = self.cached(id) {
            return Ok(Some(k));
        }
        let name = id.key_name();
        Ok(self
            .store
            .keys()
            .subject_keys(&[name.as_str()])
            .await?
            .remove(&name))
    }

    /// The live partitions of `categories` whose month meets `[from, to)`.
    pub(crate) async fn in_range(
        &self,
        categories: &[&'static str],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PartitionId>, StoreError> {
        let rows = sqlx::query(
            "SELECT category, month FROM traffic_partitions \
             WHERE dropped_at IS NULL AND starts_at < $1 AND ends_at > $2 ORDER BY starts_at, category",
        )
        .bind(to_micros(to))
        .bind(to_micros(from))
        .fetch_all(self.store.reader())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let category: String = r.try_get(0)?;
            let month: String = r.try_get(1)?;
            let Some(category) = categories.iter().find(|c| **c == category) else {
                continue;
            };
            let (y, m) = month.split_once('-').unwrap_or_default();
            let (Ok(year), Ok(month)) = (y.parse(), m.parse()) else {
                continue;
            };
            out.push(PartitionId {
                category,
                year,
                month,
            });
        }
        Ok(out)
    }

    /// Drops the partitions whose every record has passed its end: the
    /// table dropped and the catalogue marked with the audit entry in one
    /// transaction, then the key destroyed (and, after a crash between,
    /// by the next run). Returns what went.
    pub(crate) async fn drop_expired(&self, by: &Principal) -> Result<Vec<Listed>, TrafficError> {
        let now = to_micros(self.store.now());
        let due = self
            .listed(
                "WHERE dropped_at IS NULL AND kept_until <= $1 AND records > 0",
                Some(now),
            )
            .await?;
        for p in &due {
            let mut tx = self.store.begin_write().await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP TABLE IF EXISTS {}",
                checked(&p.id)?
            )))
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE traffic_partitions SET dropped_at = $1 WHERE name = $2")
                .bind(now)
                .bind(p.id.as_str())
                .execute(&mut *tx)
                .await?;
            self.store
                .audit(
                    &mut tx,
                    now,
                    &[Event {
                        actor: by.id.clone(),
                        action: Action::RetentionErased,
                        subject: None,
                        reason: Some("retention: traffic month past its legal period".to_owned()),
                        detail: json!({
                            "traffic_partition": p.id,
                            "category": p.category,
                            "month": p.month,
                            "records": p.records,
                            "kept_until": p.kept_until.to_string(),
                        }),
                    }],
                )
                .await?;
            tx.commit().await?;
        }
        // Keys of every dropped month, this run's and any a crash left.
        let dropped = self.listed("WHERE dropped_at IS NOT NULL", None).await?;
        let names: Vec<String> =
            sqlx::query("SELECT key_name FROM traffic_partitions WHERE dropped_at IS NOT NULL")
                .fetch_all(self.store.reader())
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.store.keys().destroy(&refs).await?;
        {
            let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            keys.retain(|id, _| !dropped.iter().any(|d| d.id == id.table()));
        }
        Ok(due)
    }

    /// The catalogue, by a condition with at most one parameter.
    async fn listed(&self, condition: &str, param: Option<i64>) -> Result<Vec<Listed>, StoreError> {
        let sql = format!(
            "SELECT name, category, month, records, pending, kept_until, dropped_at FROM traffic_partitions {condition} ORDER BY starts_at, category"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(p) = param {
            q = q.bind(p);
        }
        q.fetch_all(self.store.reader())
            .await?
            .iter()
            .map(|r| {
                Ok(Listed {
                    id: r.try_get(0)?,
                    category: r.try_get(1)?,
                    month: r.try_get(2)?,
                    records: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                    pending: u64::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
                    kept_until: from_micros(r.try_get(5)?),
                    dropped_at: r.try_get::<Option<i64>, _>(6)?.map(from_micros),
                })
            })
            .collect()
    }

    /// Every partition, dropped ones included.
    pub(crate) async fn all(&self) -> Result<Vec<Listed>, StoreError> {
        self.listed("", None).await
    }
}

/// A partition table's name as the catalogue holds it, checked before it
/// reaches SQL: `traffic_`, lower-case letters and underscores, six digits.
fn checked(name: &str) -> Result<&str, StoreError> {
    let ok = name
        .strip_prefix("traffic_")
        .and_then(|rest| rest.rsplit_once('_'))
        .is_some_and(|(cat, month)| {
            !cat.is_empty()
                && cat.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                && month.len() == 6
                && month.bytes().all(|b| b.is_ascii_digit())
        });
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Invalid(format!(
            "`{name}` in traffic_partitions is not a partition's name: the catalogue was altered"
        )))
    }
}

/// Inserts prepared rows of one partition, in the caller's transaction.
pub(crate) async fn insert_rows(
    tx: &mut Transaction<'static, Any>,
    engine: Engine,
    id: &PartitionId,
    rows: &[crate::ingest::Row],
) -> Result<(), StoreError> {
    let table = id.table();
    // SQLite binds at most 32,766 parameters a statement.
    for chunk in rows.chunks(500) {
        let sql = format!(
            "INSERT INTO {table} (at, subject_key, link_hash, peer_hash, answered, legal_until, billing_until, kept_until, sealed) VALUES {}",
            custode_store::values(engine, chunk.len(), ROW_COLUMNS)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.at)
                .bind(r.subject_key)
                .bind(r.link_hash.clone())
                .bind(r.peer_hash.clone())
                .bind(i64::from(r.answered))
                .bind(r.legal_until)
                .bind(r.billing_until)
                .bind(r.kept_until)
                .bind(r.sealed.clone());
        }
        q.execute(&mut **tx).await?;
    }
    let pending = rows.iter().filter(|r| r.subject_key.is_none()).count();
    let kept = rows.iter().map(|r| r.kept_until).max().unwrap_or(0);
    sqlx::query(
        "UPDATE traffic_partitions SET records = records + $1, pending = pending + $2, \
         kept_until = CASE WHEN kept_until < $3 THEN $3 ELSE kept_until END WHERE name = $4",
    )
    .bind(rows.len() as i64)
    .bind(pending as i64)
    .bind(kept)
    .bind(table.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counts per partition, for a summary or an audit entry.
pub(crate) fn counts(rows: &BTreeMap<PartitionId, Vec<crate::ingest::Row>>) -> serde_json::Value {
    rows.iter()
        .map(|(id, r)| (id.table(), json!(r.len())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

impl crate::Traffic {
    /// Drops every month whose records have all passed their end (the
    /// retention job's and `custode traffic sweep`'s step).
    pub async fn drop_expired(&self, by: &Principal) -> Result<Vec<Listed>, TrafficError> {
        if !custode_domain::may(by.role, custode_domain::Operation::EraseSubject) {
            self.store.record_denied(by, "traffic.drop_expired").await?;
            return Err(StoreError::Forbidden(
                "only the DPO or the system drops expired traffic".to_owned(),
            )
            .into());
        }
        self.partitions.drop_expired(by).await
    }

    /// The partitions, with their counts and ends (no personal data).
    pub async fn partitions(&self) -> Result<Vec<Listed>, TrafficError> {
        Ok(self.partitions.all().await?)
    }
}
