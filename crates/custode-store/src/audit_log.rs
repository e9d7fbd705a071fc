//! The audit log in the database: appended inside the transaction of the
//! change it records, so the change and its entry commit or vanish together.
//!
//! Writers take the chain head row first thing in their transaction; that
//! one lock orders every writer, on SQLite and across PostgreSQL instances.

use std::collections::HashMap;

use custode_audit::{Checkpoint, Entry, Event, GENESIS, QuickScan, Report, Verifier};
use custode_crypto::{SigningKey, VerifyingKey};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::StoreError;
use crate::engine::Engine;

/// An event waiting for a group commit, and who to tell when it is durable.
pub(crate) type Pending = (Event, tokio::sync::oneshot::Sender<Result<(), String>>);

/// Group commit for audit entries that stand alone (reads of personal data,
/// refusals): whatever arrived while the previous commit was syncing is
/// appended in one transaction, so one fsync serves many requests. Each
/// caller waits for its own entry to be durable before it goes on, so a
/// read is still audited before any datum is returned.
pub(crate) fn spawn_batcher(
    pool: AnyPool,
    engine: Engine,
    clock: std::sync::Arc<dyn custode_domain::Clock>,
) -> tokio::sync::mpsc::Sender<Pending> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Pending>(10_000);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 2_000 {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            let events: Vec<Event> = batch.iter().map(|(e, _)| e.clone()).collect();
            let at = custode_domain::clock::to_micros(clock.now());
            let result = async {
                let mut tx = pool.begin().await?;
                lock(&mut tx).await?;
                append(&mut tx, engine, at, &events).await?;
                tx.commit().await?;
                Ok::<(), StoreError>(())
            }
            .await
            .map_err(|e| e.to_string());
            for (_, done) in batch {
                let _ = done.send(result.clone());
            }
        }
    });
    tx
}

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
    engine: crate::Engine,
    at: i64,
    events: &[Event],
) -> Result<i64, StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let mut seq: i64 = head.try_get(0)?;
    let mut prev: Vec<u8> = head.try_get(1)?;
    for chunk in events.chunks(100) {
        let entries: Vec<Entry> = chunk
            .iter()
            .map(|event| {
                seq += 1;
                let e = Entry::chain(&prev, seq, at, event);
                prev.clone_from(&e.hash);
                e
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_log (seq, body, prev_hash, hash) VALUES {}",
            crate::values(engine, entries.len(), 4)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for e in entries {
            q = q.bind(e.seq).bind(e.body).bind(e.prev_hash).bind(e.hash);
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
        body: row.try_get(1)?,
        prev_hash: row.try_get(2)?,
        hash: row.try_get(3)?,
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

/// Verifies the whole chain and its checkpoints. A fast pass (two readers
/// fetching alternate pages while this task hashes) settles the common case,
/// an intact chain; only when it finds a break does a second, thorough pass
/// name each one.
pub(crate) async fn verify(
    pool: &AnyPool,
    engine: Engine,
    key: &VerifyingKey,
) -> Result<Report, StoreError> {
    let cps = checkpoints(pool).await?;
    let wanted: std::collections::HashSet<i64> = cps.iter().map(|c| c.seq).collect();
    let (first, last): (Option<i64>, Option<i64>) = {
        let row = sqlx::query("SELECT MIN(seq), MAX(seq) FROM audit_log")
            .fetch_one(pool)
            .await?;
        (row.try_get(0)?, row.try_get(1)?)
    };
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(QuickScan::default().finish(&cps, key, |_| None));
    };
    const PAGE: i64 = 8_000;
    const READERS: i64 = 2;
    let mut channels = Vec::new();
    let mut readers = Vec::new();
    for r in 0..READERS {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Page, StoreError>>(2);
        channels.push(rx);
        let pool = pool.clone();
        readers.push(tokio::spawn(async move {
            let mut start = first + r * PAGE;
            while start <= last {
                let page = fetch_range(&pool, engine, start, start + PAGE).await;
                let failed = page.is_err();
                if tx.send(page).await.is_err() || failed {
                    break;
                }
                start += READERS * PAGE;
            }
        }));
    }
    let mut scan = QuickScan::default();
    let mut at_checkpoints: HashMap<i64, Vec<u8>> = HashMap::new();
    let pages = ((last - first) / PAGE + 1) as usize;
    for n in 0..pages {
        let Some(page) = channels[n % READERS as usize].recv().await else {
            return Err(StoreError::Invalid(
                "the audit reader stopped early".to_owned(),
            ));
        };
        let mut visit = |seq: i64, body: &str, hash: &[u8]| {
            if wanted.contains(&seq) {
                at_checkpoints.insert(seq, hash.to_vec());
            }
            scan.push(seq, body, hash);
        };
        match page? {
            Page::Framed(text) => for_each_frame(&text, &mut visit)?,
            Page::Rows(entries) => {
                for e in entries {
                    visit(e.seq, &e.body, &e.hash);
                }
            }
        }
    }
    for r in readers {
        r.await
            .map_err(|e| StoreError::Invalid(format!("the audit reader failed: {e}")))?;
    }
    if scan.intact && scan.head().0 == last {
        return Ok(scan.finish(&cps, key, |seq| at_checkpoints.get(&seq).cloned()));
    }
    thorough(pool, &cps, key).await
}

/// A page of the chain as a reader fetched it.
enum Page {
    /// SQLite: one framed string (see [`sqlite_page`]).
    Framed(String),
    /// PostgreSQL: rows.
    Rows(Vec<Entry>),
}

/// Entries with `from <= seq < to`, in order.
async fn fetch_range(
    pool: &AnyPool,
    engine: Engine,
    from: i64,
    to: i64,
) -> Result<Page, StoreError> {
    match engine {
        Engine::Sqlite => sqlite_page(pool, from, to).await.map(Page::Framed),
        Engine::Postgres => sqlx::query(
            "SELECT seq, body, prev_hash, hash FROM audit_log WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| entry(r).map_err(StoreError::from))
        .collect::<Result<Vec<_>, _>>()
        .map(Page::Rows),
    }
}

/// The second pass: every entry with its stored links, every break named.
async fn thorough(
    pool: &AnyPool,
    cps: &[Checkpoint],
    key: &VerifyingKey,
) -> Result<Report, StoreError> {
    const PAGE: i64 = 20_000;
    let wanted: std::collections::HashSet<i64> = cps.iter().map(|c| c.seq).collect();
    let mut at_checkpoints: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut verifier = Verifier::new();
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(
            "SELECT seq, body, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
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
    Ok(verifier.finish(cps, key, |seq| at_checkpoints.get(&seq).cloned()))
}

/// One page of the chain from SQLite as a single value: the driver hands
/// rows over one at a time across threads, which would cost more than the
/// hashing, so the page is framed in SQL and split here. Each entry is
/// `seq:len:body` (len in bytes) followed by the hash in hex; the stored
/// link to the previous entry is left out, since the fast pass recomputes
/// it from the previous hash.
async fn sqlite_page(pool: &AnyPool, from: i64, to: i64) -> Result<String, StoreError> {
    let framed: Option<String> = sqlx::query(
        "SELECT group_concat(seq || ':' || octet_length(body) || ':' || body || hex(hash), '') \
         FROM (SELECT seq, body, hash FROM audit_log WHERE seq >= $1 AND seq < $2 ORDER BY seq)",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?
    .try_get(0)?;
    Ok(framed.unwrap_or_default())
}

/// Calls `visit(seq, body, hash)` for each frame, without copying bodies.
fn for_each_frame(mut s: &str, visit: &mut impl FnMut(i64, &str, &[u8])) -> Result<(), StoreError> {
    let bad = || StoreError::Invalid("an audit page is not framed as expected".to_owned());
    let mut hash = [0u8; 32];
    while !s.is_empty() {
        let (seq, rest) = s.split_once(':').ok_or_else(bad)?;
        let (len, rest) = rest.split_once(':').ok_or_else(bad)?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let body = rest.get(..len).ok_or_else(bad)?;
        let hex_hash = rest.get(len..len + 64).ok_or_else(bad)?;
        hex::decode_to_slice(hex_hash, &mut hash).map_err(|_| bad())?;
        visit(seq.parse().map_err(|_| bad())?, body, &hash);
        s = &rest[len + 64..];
    }
    Ok(())
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
        "SELECT seq, body, prev_hash, hash FROM audit_log WHERE subject_id = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(subject)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(entry)
    .collect::<Result<_, _>>()?)
}
