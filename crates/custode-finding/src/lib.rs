//! Finding people and the tree they hang from: a subject by one of its
//! identifiers (e-mail, phone, any kind the policy declares) through the
//! keyed-hash index, never a scan; and the tenancy tree with its counts.
//! Both are bounded by the caller's scope: what lies outside is simply not
//! there. A find tells whose a value is, so it is a read of personal data:
//! audited (one entry per subject found, with the identifier's kind and
//! never its value) before the answer is returned.
//!
//! It reads the kernel's tables (subjects, identifiers, tenants) through
//! the kernel's reader and owns none; it never writes anything but its
//! audit entries, and never opens a payload.

use std::collections::BTreeMap;
use std::sync::Arc;

use custode_audit::{Action, Event};
use custode_domain::clock::from_micros;
use custode_domain::{Principal, SubjectId, TenantId, TenantKind};
use custode_policy::{IdentifierKind, Policy};
use jiff::Timestamp;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use custode_store::{
    ErasureState, Store, StoreError, SubjectSummary, Tenant, identifier_hash, in_query,
};

/// At most this many subjects share one identifier in an answer (a shared
/// office phone, a family address); more is a sign of a data problem.
pub const FOUND_MAX: i64 = 1000;

/// The identifier kinds the policy declares (some field of a category is
/// one), by their names in the policy file, in the policy format's order.
pub fn declared_identifier_kinds(policy: &Policy) -> Vec<&'static str> {
    IdentifierKind::ALL
        .iter()
        .filter(|kind| {
            policy
                .categories
                .iter()
                .flat_map(|c| &c.fields)
                .any(|f| f.identifier == Some(**kind))
        })
        .map(|kind| kind.key())
        .collect()
}

/// A node of the tenancy tree as listed, with what hangs from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantListed {
    /// The node.
    pub tenant: Tenant,
    /// When it was closed, if it was.
    pub closed_at: Option<Timestamp>,
    /// Subjects hanging directly from it and not erased, by subject kind.
    pub subjects: BTreeMap<String, u64>,
    /// Its direct children, by tenant kind.
    pub children: BTreeMap<String, u64>,
}

/// The subject columns a find returns, in [`summary`]'s order.
const SUMMARY_COLUMNS: &str = "s.id, s.kind, s.tenant_id, s.created_at, s.erased_at, s.restricted_at, \
     (SELECT MAX(r.retain_until) FROM records r WHERE r.subject_key = s.key AND s.restricted_at IS NOT NULL)";

fn summary(r: &AnyRow) -> Result<SubjectSummary, StoreError> {
    let id: String = r.try_get(0)?;
    let tenant: String = r.try_get(2)?;
    let erased_at = r.try_get::<Option<i64>, _>(4)?.map(from_micros);
    let erasure = match (erased_at, r.try_get::<Option<i64>, _>(5)?) {
        (Some(_), _) => ErasureState::Erased,
        (None, Some(at)) => ErasureState::Partial {
            at: from_micros(at),
            kept_until: r.try_get::<Option<i64>, _>(6)?.map(from_micros),
        },
        (None, None) => ErasureState::None,
    };
    Ok(SubjectSummary {
        id: SubjectId::parse(&id).map_err(|e| StoreError::Invalid(e.to_string()))?,
        kind: r.try_get(1)?,
        tenant: TenantId::parse(&tenant).map_err(|e| StoreError::Invalid(e.to_string()))?,
        created_at: from_micros(r.try_get(3)?),
        erased_at,
        erasure,
    })
}

/// Finding over one store.
pub struct Finder {
    store: Arc<Store>,
}

impl Finder {
    /// Finding over `store`.
    pub fn new(store: Arc<Store>) -> Finder {
        Finder { store }
    }

    /// The subjects in the caller's scope that an identifier belongs to,
    /// found through the keyed-hash index: `kind` is an identifier kind
    /// the policy declares (`email`, `phone`, ...), `value` in any usual
    /// spelling. A kind the policy does not declare is
    /// [`StoreError::Invalid`] naming the declared ones, and nothing is
    /// read or written. Each subject found is audited as read (the kind,
    /// never the value, with the reason); a find that finds nobody is
    /// audited too. A subject outside the scope is not found, and no
    /// answer tells it exists.
    pub async fn find_by_identifier(
        &self,
        by: &Principal,
        kind: &str,
        value: &str,
        reason: &str,
    ) -> Result<Vec<SubjectSummary>, StoreError> {
        let policy = self.store.policy();
        let declared = declared_identifier_kinds(&policy);
        let Some((kind_name, parsed)) = IdentifierKind::from_key(kind)
            .filter(|_| declared.contains(&kind))
            .map(|parsed| (parsed.key(), parsed))
        else {
            return Err(StoreError::Invalid(format!(
                "identifier kind `{kind}` is not declared in the policy: find by {}",
                declared.join(", ")
            )));
        };
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid(
                "give the reason for looking someone up (it is recorded in the audit log)"
                    .to_owned(),
            ));
        }
        let normalised = custode_domain::normalise_identifier(parsed, value);
        if normalised.is_empty() || value.chars().count() > 1000 {
            return Err(StoreError::Invalid(format!(
                "give the {kind_name} to look up: 1 to 1000 characters"
            )));
        }
        let hash = identifier_hash(&self.store.keys().hasher(), kind_name, &normalised);
        let (low, high) = by.scope.path_range();
        let only = by.scope.only_subject().map(|s| s.to_string());
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM identifiers i JOIN subjects s ON s.key = i.subject_key \
             WHERE i.hash = $1 AND s.erased_at IS NULL AND s.tenant_path >= $2 AND s.tenant_path < $3 \
             AND ($4 IS NULL OR s.id = $4) ORDER BY s.id LIMIT $5"
        );
        let found: Vec<SubjectSummary> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash)
            .bind(low)
            .bind(high)
            .bind(only)
            .bind(FOUND_MAX)
            .fetch_all(self.store.reader())
            .await?
            .iter()
            .map(summary)
            .collect::<Result<_, _>>()?;
        let event = |subject: Option<String>| Event {
            actor: by.id.clone(),
            action: Action::SubjectFound,
            subject,
            reason: Some(reason.to_owned()),
            detail: json!({ "by": kind_name, "found": found.len() }),
        };
        // Audited before the answer leaves, as every read of personal data.
        if found.is_empty() {
            self.store.audit_alone(event(None)).await?;
        }
        for s in &found {
            self.store
                .audit_alone(event(Some(s.id.to_string())))
                .await?;
        }
        Ok(found)
    }

    /// The tenancy tree within the caller's scope, in tree order (each
    /// node after its parent), `limit` nodes after the node `after`; each
    /// with its subjects (not erased) by kind and its children by kind. A
    /// reseller's administrator sees its reseller and its domains, nothing
    /// else; a subject sees no tree. Names and counts only: no personal
    /// data, so not audited.
    pub async fn list_tenants(
        &self,
        by: &Principal,
        after: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<TenantListed>, StoreError> {
        if by.scope.only_subject().is_some() {
            return Ok(Vec::new());
        }
        let (low, high) = by.scope.path_range();
        let after_path = match after {
            Some(id) => self.store.tenant(by, id).await?.path,
            None => String::new(),
        };
        let rows = sqlx::query(
            "SELECT id, parent_id, kind, name, path, closed_at FROM tenants \
             WHERE path >= $1 AND path < $2 AND path > $3 ORDER BY path LIMIT $4",
        )
        .bind(low)
        .bind(high)
        .bind(after_path)
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(self.store.reader())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get(0)?;
            let kind: String = r.try_get(2)?;
            out.push(TenantListed {
                tenant: Tenant {
                    id: TenantId::parse(&id).map_err(|e| StoreError::Invalid(e.to_string()))?,
                    parent: r
                        .try_get::<Option<String>, _>(1)?
                        .and_then(|p| TenantId::parse(&p).ok()),
                    kind: TenantKind::from_name(&kind).ok_or_else(|| {
                        StoreError::Invalid(format!("unknown tenant kind `{kind}` in the store"))
                    })?,
                    name: r.try_get(3)?,
                    path: r.try_get(4)?,
                },
                closed_at: r.try_get::<Option<i64>, _>(5)?.map(from_micros),
                subjects: BTreeMap::new(),
                children: BTreeMap::new(),
            });
        }
        let index: BTreeMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, t)| (t.tenant.id.to_string(), i))
            .collect();
        let paths: Vec<String> = out.iter().map(|t| t.tenant.path.clone()).collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let ids: Vec<&str> = index.keys().map(String::as_str).collect();
        for chunk in paths.chunks(500) {
            // By path: the subjects' index is on it.
            let q = in_query(
                self.store.engine(),
                "SELECT tenant_id, kind, COUNT(*) FROM subjects \
                 WHERE tenant_path IN ({ids}) AND erased_at IS NULL GROUP BY tenant_id, kind",
                chunk,
            );
            for r in q.fetch_all(self.store.reader()).await? {
                let tenant: String = r.try_get(0)?;
                let n: i64 = r.try_get(2)?;
                if let Some(&i) = index.get(&tenant) {
                    out[i]
                        .subjects
                        .insert(r.try_get(1)?, u64::try_from(n).unwrap_or(0));
                }
            }
        }
        for chunk in ids.chunks(500) {
            let q = in_query(
                self.store.engine(),
                "SELECT parent_id, kind, COUNT(*) FROM tenants WHERE parent_id IN ({ids}) GROUP BY parent_id, kind",
                chunk,
            );
            for r in q.fetch_all(self.store.reader()).await? {
                let parent: String = r.try_get(0)?;
                let n: i64 = r.try_get(2)?;
                if let Some(&i) = index.get(&parent) {
                    out[i]
                        .children
                        .insert(r.try_get(1)?, u64::try_from(n).unwrap_or(0));
                }
            }
        }
        Ok(out)
    }

    /// Subjects in scope that an identifier belongs to, unaudited: for a
    /// capability that audits its own use of the answer (see
    /// [`subjects_by_identifier`]).
    pub async fn find_subjects(
        &self,
        by: &Principal,
        kind: IdentifierKind,
        value: &str,
    ) -> Result<Vec<SubjectId>, StoreError> {
        subjects_by_identifier(&self.store, by, kind, value).await
    }
}

/// Subjects in scope that an identifier (e-mail, phone, ...) belongs to,
/// not audited: the caller (a rights request filed by identity) audits what
/// it does with them, in its own transaction.
pub async fn subjects_by_identifier(
    store: &Store,
    by: &Principal,
    kind: IdentifierKind,
    value: &str,
) -> Result<Vec<SubjectId>, StoreError> {
    let kind_name = kind.key();
    let normalised = custode_domain::normalise_identifier(kind, value);
    let hash = identifier_hash(&store.keys().hasher(), kind_name, &normalised);
    let (low, high) = by.scope.path_range();
    let rows = sqlx::query(
        "SELECT s.id FROM identifiers i JOIN subjects s ON s.key = i.subject_key \
         WHERE i.hash = $1 AND s.erased_at IS NULL AND s.tenant_path >= $2 AND s.tenant_path < $3 ORDER BY s.id",
    )
    .bind(hash)
    .bind(low)
    .bind(high)
    .fetch_all(store.reader())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let id = SubjectId::parse(&r.try_get::<String, _>(0)?)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        if by.scope.only_subject().is_none_or(|only| *only == id) {
            out.push(id);
        }
    }
    Ok(out)
}
