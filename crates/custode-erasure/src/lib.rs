//! Erasure that keeps only what a law requires (Art. 17(3) GDPR): in one
//! transaction, what no legal ground keeps is deleted, what only a vault
//! purpose keeps moves to the vault, and the rest is re-sealed under a new
//! key generation and restricted to its ground (cut down to the fields the
//! grounds' `keep_fields` keep); the old key is destroyed after the commit,
//! so every earlier copy of the erased part is unreadable at once. A subject
//! with nothing kept is crypto-shredded whole.
//!
//! Used by the erasure of a rights request (`custode-requests`) and by the
//! closing of a tenant (`closing.rs`), which erases every subject below it.
//! That kept data are then readable only for their ground is the kernel's
//! read path (`custode_store::Store::records_for`).

mod closing;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use custode_audit::{Action, Event};
use custode_domain::Principal;
use custode_domain::clock::{from_micros, to_micros};
use custode_policy::Basis;
use custode_store::{Store, StoreError, audit_log};
use custode_vault::{KeptLine, Vault};
use jiff::Timestamp;
use serde_json::json;
use sqlx::Row;

pub use closing::TenantClosure;

/// The erasure capability.
pub struct Eraser {
    store: Arc<Store>,
    vault: Arc<Vault>,
}

impl Eraser {
    /// Erasures over a store and its vault.
    pub fn new(vault: Arc<Vault>) -> Eraser {
        Eraser {
            store: vault.store().clone(),
            vault,
        }
    }
}

/// (category, purpose) pairs of a record whose purposes are stored
/// comma-separated.
pub fn held_pairs(category: &str, purposes: &str) -> impl Iterator<Item = (String, String)> {
    purposes
        .split(',')
        .filter(|p| !p.is_empty())
        .map(move |p| (category.to_owned(), p.to_owned()))
}

/// The purposes among a record's that keep it through an erasure: the
/// legal obligations (Art. 17(3)(b)). None: the record is erased.
pub fn legal_grounds<'a>(
    policy: &custode_policy::Policy,
    purposes: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    purposes
        .into_iter()
        .filter(|p| {
            policy
                .purpose(p)
                .is_some_and(|x| x.basis == Basis::LegalObligation)
        })
        .map(str::to_owned)
        .collect()
}

/// What an erasure of records held as (category, purposes) would keep, and
/// why, before anything is done: by the same grounds and `keep_fields` as
/// [`Eraser::erase_keeping`]. When each line ends is known only once the
/// account is closed, so `until` is left empty.
pub fn would_keep<'a>(
    policy: &custode_policy::Policy,
    held: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Vec<KeptLine> {
    let mut kept: BTreeMap<(String, Vec<String>), u64> = BTreeMap::new();
    for (category, purposes) in held {
        let grounds = legal_grounds(policy, purposes.iter().map(String::as_str));
        if !grounds.is_empty() {
            *kept.entry((category.to_owned(), grounds)).or_default() += 1;
        }
    }
    kept.into_iter()
        .map(|((category, grounds), records)| KeptLine {
            fields: policy.kept_fields(&category, &grounds).unwrap_or_default(),
            category,
            grounds,
            records,
            until: None,
        })
        .collect()
}

/// The keys of an erasure (see [`Eraser::erasure_keys`]).
pub struct ErasureKeys {
    /// The subject's row key.
    pub subject_key: i64,
    /// The generation the records are sealed under now.
    pub generation: i64,
    /// The key the records are sealed under now, if any.
    pub old: Option<custode_crypto::Key>,
    /// The key a re-seal uses, made before the transaction.
    pub new: Option<custode_crypto::Key>,
}

/// What [`Eraser::erase_keeping`] did.
pub struct Erasure {
    /// Records deleted.
    pub erased: usize,
    /// What stays, restricted to its ground (empty: nothing does).
    pub kept: Vec<KeptLine>,
    /// What the subject had, as (category, purpose): whom to tell.
    pub had: BTreeSet<(String, String)>,
}

impl Eraser {
    /// The keys an erasure that may keep records needs, made before its
    /// transaction: the current one, and the next generation's (kept, and
    /// reused by a rerun) to re-seal what is kept. Both none once the
    /// subject is erased whole.
    pub async fn erasure_keys(&self, subject: &str, key: i64) -> Result<ErasureKeys, StoreError> {
        let generation = self.key_generation(key).await?;
        let old = self
            .store
            .keys()
            .subject_keys(&[custode_store::keys::key_name(subject, generation).as_str()])
            .await?
            .into_values()
            .next();
        let new = match old {
            Some(_) => Some(
                self.store
                    .keys()
                    .ensure_key(
                        &custode_store::keys::key_name(subject, generation + 1),
                        to_micros(self.store.now()),
                    )
                    .await?,
            ),
            None => None,
        };
        Ok(ErasureKeys {
            subject_key: key,
            generation,
            old,
            new,
        })
    }

    /// Erases a subject as the policy allows, in the caller's transaction:
    /// the account is closed (starting the periods that run from closure),
    /// what only a law still needs goes to the vault, what no legal
    /// obligation keeps is deleted, and the rest stays, serving only that
    /// obligation, until its end, restricted to it and re-sealed under the
    /// new key of `keys`. Each record's retention is resolved once.
    ///
    /// The old key is the caller's to destroy after the commit
    /// ([`Store::finish_reseal`] when something is kept, every key when
    /// not): every copy of the records taken before the erasure then stops
    /// opening, the kept ones included.
    pub async fn erase_keeping(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        subject_id: &custode_domain::SubjectId,
        keys: &ErasureKeys,
        reason: &str,
        now: Timestamp,
    ) -> Result<Erasure, StoreError> {
        let key = keys.subject_key;
        let policy = self.store.policy();
        let micros = to_micros(now);
        let subject = subject_id.as_str();
        let generation = keys.generation;
        let (old_key, new_key) = (&keys.old, &keys.new);
        if self.key_generation_in(tx, key).await? != generation {
            return Err(StoreError::Conflict(format!(
                "subject {subject} was re-sealed meanwhile; the step is retried"
            )));
        }
        let closed = sqlx::query(
            "UPDATE subjects SET closed_at = $1 WHERE key = $2 AND closed_at IS NULL AND erased_at IS NULL",
        )
        .bind(micros)
        .bind(key)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let life = custode_store::lifecycle::life_of(tx, self.store.engine(), key).await?;
        let rows = sqlx::query(
            "SELECT id, category, purposes, collected_at, sealed FROM records WHERE subject_key = $1",
        )
        .bind(key)
        .fetch_all(&mut **tx)
        .await?;
        if closed == 1 {
            audit_log::append(
                tx,
                self.store.engine(),
                micros,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::SubjectEvent,
                    subject: Some(subject.to_owned()),
                    reason: Some(reason.to_owned()),
                    detail: json!({ "event": custode_store::LifeEvent::AccountClosed.name(), "at": now.to_string(), "records_rescheduled": rows.len() }),
                }],
            )
            .await?;
        }
        let mut erase: Vec<i64> = Vec::new();
        let mut to_vault: Vec<custode_vault::ToVault> = Vec::new();
        // What is kept: its grounds, end and rule, re-sealed under the new key.
        let mut held: Vec<(i64, String, Option<i64>, Option<String>, Vec<u8>)> = Vec::new();
        let mut kept: BTreeMap<(String, String), (u64, Option<Timestamp>)> = BTreeMap::new();
        // What the subject has, as (category, purpose): whom to tell.
        let mut had: BTreeSet<(String, String)> = BTreeSet::new();
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let category: String = r.try_get(1)?;
            let purposes: String = r.try_get(2)?;
            let collected = from_micros(r.try_get(3)?);
            had.extend(held_pairs(&category, &purposes));
            let legal = legal_grounds(&policy, purposes.split(','));
            if legal.is_empty() {
                erase.push(id);
                continue;
            }
            let resolved = custode_domain::retention::resolve(&policy, &legal, collected, &life);
            if resolved.vault_from.is_some_and(|from| from <= now) {
                to_vault.push(custode_vault::ToVault {
                    id,
                    subject: subject.to_owned(),
                    category,
                    purposes,
                    collected_at: to_micros(collected),
                    vault_until: resolved.vault_until.map(to_micros),
                    sealed: r.try_get(4)?,
                });
                continue;
            }
            let grounds = legal.join(",");
            let (Some(old_key), Some(new_key)) = (old_key, new_key) else {
                return Err(StoreError::Erased(subject.to_owned()));
            };
            let aad = format!("{subject}|{category}");
            let plain = old_key.open(&r.try_get::<Vec<u8>, _>(4)?, aad.as_bytes())?;
            // Only the fields its grounds keep (`keep_fields`) stay.
            let plain = match policy.kept_fields(&category, &legal) {
                Some(fields) => custode_vault::keep_only(&plain, &fields)?,
                None => plain,
            };
            let resealed = new_key.seal(&plain, aad.as_bytes())?;
            let entry = kept.entry((category, grounds.clone())).or_insert((0, None));
            entry.0 += 1;
            entry.1 = entry.1.max(resolved.retain_until);
            held.push((
                id,
                grounds,
                resolved.retain_until.map(to_micros),
                resolved.rule,
                resealed,
            ));
        }
        if !to_vault.is_empty() {
            let (moved, by_ground) = self.vault.copy_to_vault(to_vault).await?;
            self.vault
                .vaulted_in(tx, by, Some(subject_id), micros, &moved, &by_ground)
                .await?;
        }
        // One statement per 200 kept records, payload included: a statement
        // per record made a large erasure cost a round trip per row.
        for chunk in held.chunks(200) {
            let sql = format!(
                "UPDATE records SET purposes = v.column2, retain_until = CAST(v.column3 AS BIGINT), \
                 retain_rule = v.column4, sealed = v.column5, vault_from = NULL, vault_until = NULL \
                 FROM (VALUES {}) AS v WHERE records.id = v.column1",
                custode_store::values(self.store.engine(), chunk.len(), 5)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, purposes, until, rule, sealed) in chunk {
                q = q
                    .bind(*id)
                    .bind(purposes.clone())
                    .bind(*until)
                    .bind(rule.clone())
                    .bind(sealed.as_slice());
            }
            q.execute(&mut **tx).await?;
        }
        custode_store::delete_ids(
            tx,
            self.store.engine(),
            "DELETE FROM records WHERE id IN ({ids})",
            &erase,
        )
        .await?;
        if !held.is_empty() {
            // Restricted from now on: readable only for its ground, no new
            // data, every decision but the ground's answers `erased`.
            sqlx::query(
                "UPDATE subjects SET restricted_at = COALESCE(restricted_at, $1), key_generation = $2 WHERE key = $3",
            )
            .bind(micros)
            .bind(generation + 1)
            .bind(key)
            .execute(&mut **tx)
            .await?;
            custode_store::forget_passkeys(tx, key).await?;
            let grounds: BTreeSet<&str> = held.iter().map(|(_, g, _, _, _)| g.as_str()).collect();
            audit_log::append(
                tx,
                self.store.engine(),
                micros,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::SubjectErased,
                    subject: Some(subject.to_owned()),
                    reason: Some(reason.to_owned()),
                    detail: json!({ "method": "partial: kept records re-sealed under a new key, the old key destroyed", "kept": grounds, "records_kept": held.len() }),
                }],
            )
            .await?;
        }
        let kept: Vec<KeptLine> = kept
            .into_iter()
            .map(|((category, grounds), (records, until))| {
                let grounds: Vec<String> = grounds.split(',').map(str::to_owned).collect();
                KeptLine {
                    fields: policy.kept_fields(&category, &grounds).unwrap_or_default(),
                    category,
                    grounds,
                    records,
                    until,
                }
            })
            .collect();
        Ok(Erasure {
            erased: erase.len(),
            kept,
            had,
        })
    }

    /// A subject's key generation (see `keys::key_name`).
    pub async fn key_generation(&self, key: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT key_generation FROM subjects WHERE key = $1")
                .bind(key)
                .fetch_one(self.store.reader())
                .await?
                .try_get(0)?,
        )
    }

    async fn key_generation_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        key: i64,
    ) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT key_generation FROM subjects WHERE key = $1")
                .bind(key)
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?,
        )
    }

    /// Destroys a subject's keys older than the generation its records are
    /// sealed under. Idempotent: the `shred` step and the next start call
    /// it again, so a crash after the re-seal's commit loses nothing.
    pub async fn finish_reseal(&self, key: i64, subject: &str) -> Result<(), StoreError> {
        let generation = self.key_generation(key).await?;
        if generation == 0 {
            return Ok(());
        }
        let old: Vec<String> = (0..generation)
            .map(|g| custode_store::keys::key_name(subject, g))
            .collect();
        let old: Vec<&str> = old.iter().map(String::as_str).collect();
        self.store.keys().destroy(&old).await?;
        Ok(())
    }
}
