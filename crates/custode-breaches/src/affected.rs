//! Who a breach touched, computed from the data: a scope of tenants,
//! categories, a window of collection times and/or identifiers resolves,
//! in one set-based statement over the kernel's `records`, `subjects` and
//! keyed-hash `identifiers`, to the subjects and records it reached, with
//! counts by tenant and category. The result is stored with the scope and
//! the SQL that computed it, so the estimate given to the authority can be
//! explained and recomputed. No identifier value is kept: only the keyed
//! hashes the kernel's index holds.

use std::collections::BTreeSet;

use custode_audit::{Action, Event};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{BreachId, Principal, Scope as Tree, SubjectId, TenantId};
use custode_policy::IdentifierKind;
use custode_store::{Engine, StoreError, identifier_hash};
use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::Row;

use crate::Breaches;

/// At most this many identifiers in one scope (each is a bound parameter).
pub const MAX_IDENTIFIERS: usize = 10_000;

/// What a breach reached, as the DPO knows it.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Tenants under the breach's own (none: the breach's tenant).
    pub tenants: Vec<TenantId>,
    /// Categories of data the policy declares (none: every category).
    pub categories: Vec<String>,
    /// Records collected from this instant (inclusive)...
    pub collected_from: Option<Timestamp>,
    /// ...to this one (exclusive).
    pub collected_until: Option<Timestamp>,
    /// Identifiers, `kind:value` (`email:anna@example.org`), of a kind the
    /// policy declares: only the people known by one of them.
    pub identifiers: Vec<String>,
}

/// People and records of one category under one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    /// The tenant the people hang from.
    pub tenant: TenantId,
    /// The category.
    pub category: String,
    /// People with such records.
    pub subjects: u64,
    /// Records.
    pub records: u64,
}

/// The people and records a breach touched, as computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// Its id.
    pub id: i64,
    /// The breach.
    pub breach: BreachId,
    /// When it was computed.
    pub computed_at: Timestamp,
    /// Who computed it.
    pub actor: String,
    /// Distinct people touched.
    pub subjects: u64,
    /// Records touched.
    pub records: u64,
    /// By tenant and category.
    pub counts: Vec<Count>,
    /// The scope as bound (paths, categories, instants, identifier kinds
    /// and keyed hashes).
    pub scope: Value,
    /// The statement that computed it.
    pub query: String,
}

/// Placeholders numbered for PostgreSQL, plain for SQLite, in bind order.
struct Params {
    engine: Engine,
    n: usize,
}

impl Params {
    fn next(&mut self) -> String {
        self.n += 1;
        match self.engine {
            Engine::Sqlite => "?".to_owned(),
            Engine::Postgres => format!("${}", self.n),
        }
    }
}

/// A value bound to the statement.
#[derive(Clone)]
enum Bound {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Breaches {
    /// Computes and stores who and what a breach touched. Bad input says
    /// what is wrong: a scope naming nothing, an undeclared category or
    /// identifier kind, a tenant outside the breach's, an empty window.
    pub async fn assess(
        &self,
        by: &Principal,
        id: &BreachId,
        scope: Scope,
    ) -> Result<Assessment, StoreError> {
        if scope.identifiers.is_empty() {
            self.check_role(by, "breach.assess").await?;
        } else {
            // Who an identifier belongs to is personal data.
            self.check_reads_people(by, "breach.assess").await?;
        }
        if scope.tenants.is_empty()
            && scope.categories.is_empty()
            && scope.collected_from.is_none()
            && scope.collected_until.is_none()
            && scope.identifiers.is_empty()
        {
            return Err(StoreError::Invalid(
                "the breach's scope is empty: name the tenants, categories, time window of collection and/or identifiers it reached".to_owned(),
            ));
        }
        let policy = self.store.policy();
        let declared: Vec<&str> = policy
            .categories
            .iter()
            .map(|c| c.id.value.as_str())
            .collect();
        let categories: BTreeSet<&str> = scope.categories.iter().map(|c| c.trim()).collect();
        if let Some(unknown) = categories.iter().find(|c| policy.category(c).is_none()) {
            return Err(StoreError::Invalid(format!(
                "data category `{unknown}` is not declared in the policy (declared: {})",
                declared.join(", ")
            )));
        }
        if let (Some(from), Some(until)) = (scope.collected_from, scope.collected_until)
            && from >= until
        {
            return Err(StoreError::Invalid(format!(
                "the window of collection is empty: `collected_from` ({from}) must be before `collected_until` ({until})"
            )));
        }
        if scope.identifiers.len() > MAX_IDENTIFIERS {
            return Err(StoreError::Invalid(format!(
                "at most {MAX_IDENTIFIERS} identifiers in one scope; {} were given",
                scope.identifiers.len()
            )));
        }
        // The kinds some field of the policy is an identifier of.
        let kinds: Vec<&str> = IdentifierKind::ALL
            .iter()
            .filter(|k| {
                policy
                    .categories
                    .iter()
                    .flat_map(|c| &c.fields)
                    .any(|f| f.identifier == Some(**k))
            })
            .map(|k| k.key())
            .collect();
        let hasher = self.store.keys().hasher();
        let mut hashes: BTreeSet<(&'static str, Vec<u8>)> = BTreeSet::new();
        for (i, given) in scope.identifiers.iter().enumerate() {
            let parsed = given.split_once(':').and_then(|(kind, value)| {
                IdentifierKind::from_key(kind.trim())
                    .filter(|k| kinds.contains(&k.key()))
                    .map(|k| (k, value))
            });
            let Some((kind, value)) = parsed else {
                return Err(StoreError::Invalid(format!(
                    "identifier {} is not `kind:value` with a kind the policy declares ({})",
                    i + 1,
                    kinds.join(", ")
                )));
            };
            let normalised = custode_domain::normalise_identifier(kind, value);
            if normalised.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "identifier {} has no value",
                    i + 1
                )));
            }
            hashes.insert((
                kind.key(),
                identifier_hash(&hasher, kind.key(), &normalised),
            ));
        }
        let breach = self.show(by, id).await?;
        let breach_tenant = self.store.tenant(by, &breach.tenant).await?;
        let mut paths = Vec::new();
        for t in if scope.tenants.is_empty() {
            std::slice::from_ref(&breach.tenant)
        } else {
            &scope.tenants[..]
        } {
            let tenant = self.store.tenant(by, t).await?;
            if !tenant.path.starts_with(&breach_tenant.path) {
                return Err(StoreError::Invalid(format!(
                    "tenant {t} is not under the breach's tenant {}: record a breach of a tenant above both",
                    breach.tenant
                )));
            }
            paths.push(tenant.path);
        }
        // A tenant under another one named adds nothing.
        paths.sort();
        paths.dedup_by(|later, earlier| later.starts_with(earlier.as_str()));

        let engine = self.store.engine();
        let mut p = Params { engine, n: 0 };
        let mut binds: Vec<Bound> = Vec::new();
        let assessment_param = p.next();
        let mut conditions = vec!["s.erased_at IS NULL".to_owned()];
        let ranges: Vec<String> = paths
            .iter()
            .map(|path| {
                let (low, high) = Tree::under(path).path_range();
                binds.push(Bound::Text(low));
                binds.push(Bound::Text(high));
                format!(
                    "(s.tenant_path >= {} AND s.tenant_path < {})",
                    p.next(),
                    p.next()
                )
            })
            .collect();
        conditions.push(format!("({})", ranges.join(" OR ")));
        if !categories.is_empty() {
            let list: Vec<String> = categories
                .iter()
                .map(|c| {
                    binds.push(Bound::Text((*c).to_owned()));
                    p.next()
                })
                .collect();
            conditions.push(format!("r.category IN ({})", list.join(", ")));
        }
        if let Some(from) = scope.collected_from {
            binds.push(Bound::Int(to_micros(from)));
            conditions.push(format!("r.collected_at >= {}", p.next()));
        }
        if let Some(until) = scope.collected_until {
            binds.push(Bound::Int(to_micros(until)));
            conditions.push(format!("r.collected_at < {}", p.next()));
        }
        if !hashes.is_empty() {
            let list: Vec<String> = hashes
                .iter()
                .map(|(_, h)| {
                    binds.push(Bound::Bytes(h.clone()));
                    p.next()
                })
                .collect();
            conditions.push(format!(
                "r.subject_key IN (SELECT i.subject_key FROM identifiers i WHERE i.hash IN ({}))",
                list.join(", ")
            ));
        }
        // One statement: the records in scope, grouped per person and
        // category, straight into the register's table.
        let query = format!(
            "INSERT INTO breach_people (assessment_id, subject_key, tenant_id, category, records) \
             SELECT {assessment_param}, r.subject_key, s.tenant_id, r.category, COUNT(*) \
             FROM records r JOIN subjects s ON s.key = r.subject_key \
             WHERE {} GROUP BY r.subject_key, s.tenant_id, r.category",
            conditions.join(" AND ")
        );
        let bound_scope = json!({
            "tenants": paths,
            "categories": categories,
            "collected_from": scope.collected_from.map(to_micros),
            "collected_until": scope.collected_until.map(to_micros),
            "identifiers": hashes.iter().map(|(k, h)| json!({"kind": k, "hash": hex::encode(h)})).collect::<Vec<_>>(),
        });

        let now = self.store.now();
        let now_us = to_micros(now);
        let (mut tx, _) = self.begin_in_scope(by, id, now).await?;
        let assessment: i64 = sqlx::query_scalar(
            "INSERT INTO breach_assessments (breach_id, computed_at, actor, scope, query, subjects, records, counts) \
             VALUES ($1, $2, $3, $4, $5, 0, 0, '[]') RETURNING id",
        )
        .bind(id.as_str())
        .bind(now_us)
        .bind(by.id.as_str())
        .bind(bound_scope.to_string())
        .bind(query.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(query.as_str())).bind(assessment);
        for b in binds {
            q = match b {
                Bound::Int(v) => q.bind(v),
                Bound::Text(v) => q.bind(v),
                Bound::Bytes(v) => q.bind(v),
            };
        }
        q.execute(&mut *tx).await?;
        let rows = sqlx::query(
            "SELECT tenant_id, category, COUNT(*), CAST(SUM(records) AS BIGINT) FROM breach_people WHERE assessment_id = $1 \
             GROUP BY tenant_id, category ORDER BY tenant_id, category",
        )
        .bind(assessment)
        .fetch_all(&mut *tx)
        .await?;
        let counts = rows
            .iter()
            .map(|r| {
                let tenant: String = r.try_get(0)?;
                Ok(Count {
                    tenant: TenantId::parse(&tenant)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                    category: r.try_get(1)?,
                    subjects: u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
                    records: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let subjects: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT subject_key) FROM breach_people WHERE assessment_id = $1",
        )
        .bind(assessment)
        .fetch_one(&mut *tx)
        .await?;
        let records: u64 = counts.iter().map(|c| c.records).sum();
        let counts_json: Vec<Value> = counts
            .iter()
            .map(|c| json!({"tenant": c.tenant.as_str(), "category": c.category, "subjects": c.subjects, "records": c.records}))
            .collect();
        sqlx::query(
            "UPDATE breach_assessments SET subjects = $1, records = $2, counts = $3 WHERE id = $4",
        )
        .bind(subjects)
        .bind(i64::try_from(records).unwrap_or(i64::MAX))
        .bind(Value::from(counts_json).to_string())
        .bind(assessment)
        .execute(&mut *tx)
        .await?;
        self.store
            .audit(
                &mut tx,
                now_us,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::BreachAssessed,
                    subject: None,
                    reason: None,
                    detail: json!({
                        "breach": id.as_str(),
                        "assessment": assessment,
                        "subjects": subjects,
                        "records": records,
                        "categories": counts.iter().map(|c| c.category.as_str()).collect::<BTreeSet<_>>(),
                        "identifiers": hashes.len(),
                    }),
                }],
            )
            .await?;
        tx.commit().await?;
        Ok(Assessment {
            id: assessment,
            breach: id.clone(),
            computed_at: now,
            actor: by.id.clone(),
            subjects: u64::try_from(subjects).unwrap_or(0),
            records,
            counts,
            scope: bound_scope,
            query,
        })
    }

    /// The latest assessment of a breach, if one was computed.
    pub async fn assessment(
        &self,
        by: &Principal,
        id: &BreachId,
    ) -> Result<Option<Assessment>, StoreError> {
        self.show(by, id).await?;
        let Some(r) = sqlx::query(
            "SELECT id, computed_at, actor, subjects, records, counts, scope, query FROM breach_assessments \
             WHERE breach_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(id.as_str())
        .fetch_optional(self.store.reader())
        .await?
        else {
            return Ok(None);
        };
        let bad =
            || StoreError::Invalid("the breach register holds an unreadable assessment".to_owned());
        let counts: Value = serde_json::from_str(&r.try_get::<String, _>(5)?).map_err(|_| bad())?;
        let counts = counts
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|c| {
                Ok(Count {
                    tenant: c["tenant"]
                        .as_str()
                        .and_then(|t| TenantId::parse(t).ok())
                        .ok_or_else(bad)?,
                    category: c["category"].as_str().ok_or_else(bad)?.to_owned(),
                    subjects: c["subjects"].as_u64().ok_or_else(bad)?,
                    records: c["records"].as_u64().ok_or_else(bad)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(Assessment {
            id: r.try_get(0)?,
            breach: id.clone(),
            computed_at: from_micros(r.try_get(1)?),
            actor: r.try_get(2)?,
            subjects: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
            records: u64::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
            counts,
            scope: serde_json::from_str(&r.try_get::<String, _>(6)?).map_err(|_| bad())?,
            query: r.try_get(7)?,
        }))
    }

    /// The people the latest assessment found, not erased since: the DPO's
    /// read, audited (who was touched by a breach is personal data).
    pub async fn people(
        &self,
        by: &Principal,
        id: &BreachId,
    ) -> Result<Vec<SubjectId>, StoreError> {
        self.check_reads_people(by, "breach.people").await?;
        let keys = self.people_keys(by, id).await?;
        self.store
            .audit_alone(Event {
                actor: by.id.clone(),
                action: Action::BreachPeopleRead,
                subject: None,
                reason: None,
                detail: json!({ "breach": id.as_str(), "subjects": keys.len() }),
            })
            .await?;
        Ok(keys.into_iter().map(|(_, s)| s).collect())
    }

    /// (row key, id) of the people the latest assessment found, in the
    /// caller's scope and not erased.
    pub(crate) async fn people_keys(
        &self,
        by: &Principal,
        id: &BreachId,
    ) -> Result<Vec<(i64, SubjectId)>, StoreError> {
        let Some(a) = self.assessment(by, id).await? else {
            return Err(StoreError::Conflict(format!(
                "the people breach {id} touched have not been computed yet: assess its scope first"
            )));
        };
        let (low, high) = by.scope.path_range();
        let rows = sqlx::query(
            "SELECT DISTINCT s.key, s.id FROM breach_people p JOIN subjects s ON s.key = p.subject_key \
             WHERE p.assessment_id = $1 AND s.erased_at IS NULL AND s.tenant_path >= $2 AND s.tenant_path < $3 ORDER BY s.id",
        )
        .bind(a.id)
        .bind(low)
        .bind(high)
        .fetch_all(self.store.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let sid: String = r.try_get(1)?;
                Ok((
                    r.try_get(0)?,
                    SubjectId::parse(&sid).map_err(|e| StoreError::Invalid(e.to_string()))?,
                ))
            })
            .collect()
    }
}
