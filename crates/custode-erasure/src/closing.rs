//! Closing a tenant: a subscriber's "deactivation is prompt, permanent
//! deletion" (seed 002). The tenant and every node below it are marked
//! closed and their names replaced by a neutral marker, their credentials
//! (API tokens, sessions, users) revoked, and then each subject under them
//! erased as a rights request's erasure would: what no legal obligation
//! keeps is deleted, the rest re-sealed under a new key and restricted to
//! its ground, and a subject with nothing kept crypto-shredded whole.
//!
//! Resumable: the first transaction (marking and revocation, audited) makes
//! the tenant refuse anything new; each subject is then erased in a
//! transaction of its own with its audit entry. A crash anywhere leaves a
//! closed tenant with some subjects still to erase, and closing it again
//! finishes them; once nothing is left, closing again changes nothing.

use custode_audit::{Action, Event};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, Scope, SubjectId, TenantId};
use jiff::Timestamp;
use serde_json::json;
use sqlx::Row;

use custode_store::{StoreError, audit_log, keys, mark_erased, not_found};

use crate::Eraser;

/// Subjects erased per look-up; each is erased in its own transaction.
const BATCH: i64 = 200;

/// What closing a tenant did (counts only, never a name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantClosure {
    /// The tenant.
    pub tenant: TenantId,
    /// When it was closed (by this call or an earlier one).
    pub closed_at: Timestamp,
    /// Whether an earlier call had closed it already (this one finished
    /// what was left, if anything).
    pub already_closed: bool,
    /// Nodes closed by this call: the tenant and those below it.
    pub tenants: u64,
    /// Subjects crypto-shredded whole by this call.
    pub erased: u64,
    /// Subjects erased but for records a legal obligation keeps
    /// (restricted to that ground until its end).
    pub kept: u64,
    /// API tokens revoked.
    pub tokens_revoked: u64,
    /// Sessions ended.
    pub sessions_ended: u64,
    /// Users disabled (their user names replaced too).
    pub users_disabled: u64,
}

impl Eraser {
    /// Closes a tenant below the caller's own node (see the module doc).
    /// Outside the caller's scope it is not found; the caller's own node
    /// is refused (its parent's principals close it). Idempotent: a rerun
    /// finishes an interrupted close, and a finished one answers with
    /// zero counts and `already_closed`.
    pub async fn close_tenant(
        &self,
        by: &Principal,
        id: &TenantId,
        reason: &str,
    ) -> Result<TenantClosure, StoreError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Invalid(
                "closing a tenant needs a reason (it is audited)".to_owned(),
            ));
        }
        let row = sqlx::query("SELECT path, closed_at FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.store.reader())
            .await?;
        let Some(row) = row else {
            return Err(not_found("tenant", id.as_str()));
        };
        let path: String = row.try_get(0)?;
        let earlier: Option<i64> = row.try_get(1)?;
        if !path.starts_with(by.scope.path()) || by.scope.only_subject().is_some() {
            self.store.audit_denied(by, None, "tenant.close").await?;
            return Err(not_found("tenant", id.as_str()));
        }
        if path == by.scope.path() {
            self.store.audit_denied(by, None, "tenant.close").await?;
            return Err(StoreError::Forbidden(format!(
                "tenant {id} is the node your credentials are scoped to: a principal of the node above it (or the administrator) closes it"
            )));
        }
        let (low, high) = Scope::under(&path).path_range();
        let now = to_micros(self.store.now());

        // 1. Mark closed, rename, revoke: from this commit on nothing new
        // is created under it and no credential of it works.
        let mut tx = self.store.begin_write().await?;
        // The nodes, then every credential scoped inside them; a user name
        // is often an address, so it goes too.
        let mut counts = [0u64; 4];
        for (n, sql) in counts.iter_mut().zip([
            "UPDATE tenants SET closed_at = $1, name = 'closed tenant ' || id \
             WHERE path >= $2 AND path < $3 AND closed_at IS NULL",
            "UPDATE api_tokens SET revoked_at = $1 WHERE scope_path >= $2 AND scope_path < $3 AND revoked_at IS NULL",
            "UPDATE sessions SET ended_at = $1 WHERE scope_path >= $2 AND scope_path < $3 AND ended_at IS NULL",
            "UPDATE users SET disabled_at = $1, username = 'closed user ' || id \
             WHERE scope_path >= $2 AND scope_path < $3 AND disabled_at IS NULL",
        ]) {
            *n = sqlx::query(sql)
                .bind(now)
                .bind(&low)
                .bind(&high)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        let [tenants, tokens_revoked, sessions_ended, users_disabled] = counts;
        if tenants + tokens_revoked + sessions_ended + users_disabled > 0 {
            audit_log::append(
                &mut tx,
                self.store.engine(),
                now,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::TenantClosed,
                    subject: None,
                    reason: Some(reason.to_owned()),
                    detail: json!({
                        "tenant": id.as_str(),
                        "tenants": tenants,
                        "tokens_revoked": tokens_revoked,
                        "sessions_ended": sessions_ended,
                        "users_disabled": users_disabled,
                    }),
                }],
            )
            .await?;
        }
        tx.commit().await?;
        // This instance forgets the revoked tokens at once (others within
        // the token cache's two seconds).
        self.store
            .changed(custode_store::Change::CredentialsRevoked(&path));

        // 2. Each subject not yet erased, one transaction each.
        let mut erased = 0;
        let mut kept = 0;
        loop {
            let rows = sqlx::query(
                "SELECT id, key FROM subjects WHERE tenant_path >= $1 AND tenant_path < $2 \
                 AND erased_at IS NULL AND restricted_at IS NULL ORDER BY key LIMIT $3",
            )
            .bind(&low)
            .bind(&high)
            .bind(BATCH)
            .fetch_all(self.store.reader())
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in rows {
                let subject = SubjectId::parse(&r.try_get::<String, _>(0)?)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                if self
                    .close_subject(by, &subject, r.try_get(1)?, reason)
                    .await?
                {
                    erased += 1;
                } else {
                    kept += 1;
                }
            }
        }
        Ok(TenantClosure {
            tenant: id.clone(),
            closed_at: from_micros(earlier.unwrap_or(now)),
            already_closed: earlier.is_some(),
            tenants,
            erased,
            kept,
            tokens_revoked,
            sessions_ended,
            users_disabled,
        })
    }

    /// Erases one subject of a closed tenant as the policy allows; true
    /// when it was shredded whole, false when a legal ground keeps some of
    /// its records.
    async fn close_subject(
        &self,
        by: &Principal,
        subject: &SubjectId,
        key: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let keys = self.erasure_keys(subject.as_str(), key).await?;
        let generation = keys.generation;
        let mut tx = self.store.begin_write().await?;
        let done = self
            .erase_keeping(&mut tx, by, subject, &keys, reason, self.store.now())
            .await?;
        let whole = done.kept.is_empty();
        if whole {
            let now = to_micros(self.store.now());
            mark_erased(&mut tx, key, now).await?;
            audit_log::append(
                &mut tx,
                self.store.engine(),
                now,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::SubjectErased,
                    subject: Some(subject.to_string()),
                    reason: Some(reason.to_owned()),
                    detail: json!({ "method": "crypto-shredding", "tenant_closed": true, "records_erased": done.erased }),
                }],
            )
            .await?;
        }
        tx.commit().await?;
        self.store
            .changed(custode_store::Change::Subject(subject.as_str()));
        // After the commit, as `erase_subject` does: a crash here leaves
        // keys that `finish_erasures` destroys at the next start.
        if whole {
            // Through the next generation, made for a re-seal.
            let names = keys::key_names_through(subject.as_str(), generation);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.store.keys().destroy(&names).await?;
        } else {
            self.finish_reseal(key, subject.as_str()).await?;
        }
        Ok(whole)
    }
}
