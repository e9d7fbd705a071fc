//! Preparing records for storage: checked against the policy, sealed under
//! the subject's key, identifiers hashed. CPU-bound and independent of the
//! database, so it runs on another core while the previous chunk is being
//! inserted.

use std::collections::HashMap;
use std::sync::Arc;

use custode_crypto::{IdentifierHasher, Key, Nonces};
use custode_domain::clock::to_micros;
use custode_domain::{NewRecord, SubjectId};
use custode_policy::Policy;
use jiff::Timestamp;

use crate::StoreError;

/// Bytes of the keyed hash kept for identifier look-up: 128 bits rule out
/// collisions in practice, and a collision would only add a candidate that
/// the scope check and the caller then weigh.
pub const IDENTIFIER_HASH_LEN: usize = 16;

/// The stored form of an identifier: its keyed hash, truncated.
pub fn identifier_hash(hasher: &IdentifierHasher, kind: &str, normalised: &str) -> Vec<u8> {
    hasher.hash(kind, normalised)[..IDENTIFIER_HASH_LEN].to_vec()
}

/// What every chunk of one batch shares.
pub(crate) struct Context {
    pub(crate) policy: Arc<Policy>,
    /// Subject id → row key, kind, life events.
    pub(crate) subjects: HashMap<String, crate::InScope>,
    pub(crate) keys: HashMap<String, Key>,
    pub(crate) hasher: IdentifierHasher,
    pub(crate) now: Timestamp,
}

/// One row ready for the records table.
pub(crate) struct Row {
    pub(crate) subject_key: i64,
    pub(crate) category: String,
    pub(crate) purposes: String,
    pub(crate) source: String,
    pub(crate) collected_at: i64,
    pub(crate) retain_until: Option<i64>,
    pub(crate) vault_from: Option<i64>,
    pub(crate) vault_until: Option<i64>,
    pub(crate) rule: Option<String>,
    pub(crate) sealed: Vec<u8>,
}

/// A prepared chunk.
pub(crate) struct Prepared {
    pub(crate) rows: Vec<Row>,
    /// (hash, subject row key, kind).
    pub(crate) identifiers: Vec<(Vec<u8>, i64, &'static str)>,
    /// (subject id, category) per record, for the audit entries.
    pub(crate) written: Vec<(String, String)>,
}

/// Prepares records `first_index..` of a batch.
pub(crate) fn prepare(
    ctx: &Context,
    nonces: &mut Nonces,
    first_index: usize,
    items: Vec<(SubjectId, NewRecord)>,
) -> Result<Prepared, StoreError> {
    let mut out = Prepared {
        rows: Vec::with_capacity(items.len()),
        identifiers: Vec::new(),
        written: Vec::with_capacity(items.len()),
    };
    for (offset, (subject, record)) in items.into_iter().enumerate() {
        let in_scope = &ctx.subjects[subject.as_str()];
        let subject_key = &in_scope.key;
        let checked = record
            .check(&ctx.policy, &in_scope.kind, ctx.now)
            .map_err(|source| StoreError::InvalidRecord {
                index: first_index + offset,
                subject: subject.to_string(),
                source,
            })?;
        let key = ctx
            .keys
            .get(subject.as_str())
            .ok_or_else(|| StoreError::Erased(subject.to_string()))?;
        let aad = format!("{}|{}", subject, checked.category);
        let sealed = key.seal_with(nonces, &checked.payload, aad.as_bytes())?;
        for (kind, value) in &checked.identifiers {
            out.identifiers.push((
                identifier_hash(&ctx.hasher, kind, value),
                *subject_key,
                kind,
            ));
        }
        out.written
            .push((subject.to_string(), checked.category.clone()));
        let resolved = custode_domain::retention::resolve(
            &ctx.policy,
            &checked.purposes,
            checked.collected_at,
            &in_scope.life,
        );
        out.rows.push(Row {
            subject_key: *subject_key,
            purposes: checked.purposes.join(","),
            category: checked.category,
            source: checked.source,
            collected_at: to_micros(checked.collected_at),
            retain_until: resolved.retain_until.map(to_micros),
            vault_from: resolved.vault_from.map(to_micros),
            vault_until: resolved.vault_until.map(to_micros),
            rule: resolved.rule,
            sealed,
        });
    }
    Ok(out)
}
