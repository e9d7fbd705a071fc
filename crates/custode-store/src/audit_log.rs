//! The audit log in the database: appended inside the transaction of the
//! change it records, so the change and its entry commit or vanish together.
//!
//! Writers take the chain head row first thing in their transaction; that
//! one lock orders every writer, on SQLite and across PostgreSQL instances.

use std::collections::HashMap;

use custode_audit::{Checkpoint, Entry, Event, GENESIS, Report, Verifier};
use custode_crypto::{SigningKey, VerifyingKey};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::StoreError;

/// Creates the chain head on a new database.
pub(crate) async fn init(pool: &AnyPool) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1) ON CONFLICT DO NOTHING")
        .bind(GENESIS.to_vec())
        .execute(pool)
        .await?;
    Ok(())
}

/// Takes the writer lock: must be the first statement of a writing
/// transaction, so no snapshot is read before the lock is held.
pub(crate) async fn lock(tx: &mut Transaction<'_, Any>) -> Result<(), StoreError> {
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends events after the current head; returns the new head's seq.
pub(crate) async fn append(
    tx: &mut Transaction<'_, Any>,
    at: i64,
    events: &[Event],
) -> Result<i64, StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let mut seq: i64 = head.try_get(0)?;
    let mut prev: Vec<u8> = head.try_get(1)?;
    for chunk in events.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO audit_log (seq, at, actor, action, subject_id, reason, detail, prev_hash, hash) VALUES ",
        );
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, event) in chunk.iter().enumerate() {
            seq += 1;
            let e = Entry::chain(&prev, seq, at, event);
            prev.clone_from(&e.hash);
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&crate::placeholders(i * 9 + 1, 9));
            sql.push(')');
            entries.push(e);
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for e in entries {
            q = q
                .bind(e.seq)
                .bind(e.at)
                .bind(e.actor)
                .bind(e.action)
                .bind(e.subject)
                .bind(e.reason)
                .bind(e.detail)
                .bind(e.prev_hash)
                .bind(e.hash);
        }
        q.execute(&mut **tx).await?;
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(prev)
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}

fn entry(row: &AnyRow) -> Result<Entry, sqlx::Error> {
    Ok(Entry {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        subject: row.try_get(4)?,
        reason: row.try_get(5)?,
        detail: row.try_get(6)?,
        prev_hash: row.try_get(7)?,
        hash: row.try_get(8)?,
    })
}

async fn checkpoints(pool: &AnyPool) -> Result<Vec<Checkpoint>, StoreError> {
    sqlx::query("SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Checkpoint {
                seq: r.try_get(0)?,
                hash: r.try_get(1)?,
                at: r.try_get(2)?,
                signature: r.try_get(3)?,
            })
        })
        .collect()
}

/// Reads the whole chain in pages and verifies it, with the checkpoints.
pub(crate) async fn verify(pool: &AnyPool, key: &VerifyingKey) -> Result<Report, StoreError> {
    const PAGE: i64 = 50_000;
    let cps = checkpoints(pool).await?;
    let wanted: std::collections::HashSet<i64> = cps.iter().map(|c| c.seq).collect();
    let mut at_checkpoints: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut verifier = Verifier::new();
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject_id, reason, detail, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let n = rows.len();
        for row in &rows {
            let e = entry(row)?;
            after = e.seq;
            if wanted.contains(&e.seq) {
                at_checkpoints.insert(e.seq, e.hash.clone());
            }
            verifier.push(e);
        }
        if (n as i64) < PAGE {
            break;
        }
    }
    Ok(verifier.finish(&cps, key, |seq| at_checkpoints.get(&seq).cloned()))
}

/// Signs the current head, unless it is already signed.
pub(crate) async fn checkpoint(
    pool: &AnyPool,
    key: &SigningKey,
    at: i64,
) -> Result<Option<Checkpoint>, StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    let seq: i64 = head.try_get(0)?;
    let hash: Vec<u8> = head.try_get(1)?;
    if seq == 0 {
        return Ok(None);
    }
    let cp = Checkpoint::sign(key, seq, &hash, at);
    let inserted = sqlx::query(
        "INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(cp.seq)
    .bind(cp.hash.clone())
    .bind(cp.at)
    .bind(cp.signature.clone())
    .execute(pool)
    .await?
    .rows_affected();
    Ok((inserted == 1).then_some(cp))
}

/// Entries about one subject, newest first (for the DPO and for access requests).
pub(crate) async fn for_subject(
    pool: &AnyPool,
    subject: &str,
    limit: i64,
) -> Result<Vec<Entry>, StoreError> {
    Ok(sqlx::query(
        "SELECT seq, at, actor, action, subject_id, reason, detail, prev_hash, hash \
         FROM audit_log WHERE subject_id = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(subject)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(entry)
    .collect::<Result<_, _>>()?)
}
