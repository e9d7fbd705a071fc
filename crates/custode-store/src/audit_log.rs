//! The audit log in the database: appended inside the transaction of the
//! change it records, so the change and its entry commit or vanish together.
//!
//! Writers take the chain head row first thing in their transaction; that
//! one lock orders every writer, on SQLite and across PostgreSQL instances.

use std::collections::{HashMap, HashSet};

use custode_audit::{Checkpoint, Entry, Event, GENESIS, QuickScan, Report, Segment, Verifier};
use custode_crypto::{SigningKey, VerifyingKey};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::StoreError;
use crate::engine::Engine;
use crate::sqlite_read::Readers;

/// An event waiting for a group commit, and who to tell when it is durable.
pub(crate) type Pending = (Event, tokio::sync::oneshot::Sender<Result<(), String>>);

/// Group commit for audit entries that stand alone (reads of personal data,
/// refusals): whatever arrived while the previous commit was syncing is
/// appended in one transaction, so one fsync serves many requests. Each
/// caller waits for its own entry to be durable before it goes on, so a
/// read is still audited before any datum is returned.
///
/// On SQLite the group commit also keeps the WAL short: every
/// [`COMMITS_PER_CHECKPOINT`] commits, a backfill copies the log into the
/// main file beside the commits, then a short restart under the write lock
/// lets the log start over. SQLite's own checkpoint, which runs inside the
/// commit that crosses its threshold, would hold every waiting read for
/// the whole copy and sync (a hundred milliseconds and more); it still
/// runs for bulk record writes, whose batches are not waited on one by one.
pub(crate) fn spawn_batcher(
    pool: AnyPool,
    direct: Option<crate::sqlite_write::Writer>,
    engine: Engine,
    clock: std::sync::Arc<dyn custode_domain::Clock>,
    shutdown: std::sync::Arc<tokio::sync::Notify>,
) -> (
    tokio::sync::mpsc::Sender<Pending>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Pending>(10_000);
    let batcher = tokio::spawn(async move {
        let mut commits = 0u32;
        let mut backfill: Option<tokio::task::JoinHandle<Result<(), StoreError>>> = None;
        loop {
            let first = tokio::select! {
                done = async { backfill.as_mut().expect("guarded by the branch condition").await },
                    if backfill.is_some() =>
                {
                    backfill = None;
                    if let Some(direct) = &direct {
                        let restarted = async {
                            done.map_err(|e| StoreError::Invalid(e.to_string()))??;
                            let started = std::time::Instant::now();
                            let _held = pool.acquire().await?;
                            direct.restart_wal().await?;
                            let ms = started.elapsed().as_secs_f64() * 1e3;
                            tracing::debug!(ms, "WAL restarted");
                            Ok::<(), StoreError>(())
                        };
                        if let Err(e) = restarted.await {
                            // The commits are unharmed; SQLite's own
                            // checkpoint keeps the WAL bounded meanwhile.
                            tracing::warn!(error = %e, "WAL checkpoint failed");
                        }
                    }
                    continue;
                }
                () = shutdown.notified() => {
                    // What is queued still commits; nothing new is taken.
                    rx.close();
                    continue;
                }
                first = rx.recv() => match first {
                    Some(first) => first,
                    None => break,
                },
            };
            let mut batch = vec![first];
            while batch.len() < 2_000 {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            let (events, waiting): (Vec<Event>, Vec<_>) = batch.into_iter().unzip();
            let at = custode_domain::clock::to_micros(clock.now());
            let started = std::time::Instant::now();
            let entries = events.len();
            let result = async {
                if let Some(direct) = &direct {
                    // sqlx's writer is held meanwhile, so its writers wait
                    // in the pool, not on SQLite's busy handler.
                    let _held = pool.acquire().await?;
                    return direct.append_audit(at, events).await;
                }
                let mut tx = pool.begin().await?;
                lock(&mut tx).await?;
                append(&mut tx, engine, at, &events).await?;
                tx.commit().await?;
                Ok::<(), StoreError>(())
            }
            .await
            .map_err(|e| e.to_string());
            let ms = started.elapsed().as_secs_f64() * 1e3;
            if ms > 50.0 {
                // Every read in the batch waited this long: the disk's sync
                // stalled, or the commit carried SQLite's WAL checkpoint.
                tracing::debug!(entries, ms, "slow audit group commit");
            }
            for done in waiting {
                let _ = done.send(result.clone());
            }
            commits += 1;
            if let Some(direct) = &direct
                && commits >= COMMITS_PER_CHECKPOINT
                && backfill.is_none()
            {
                commits = 0;
                let direct = direct.clone();
                backfill = Some(tokio::spawn(async move { direct.backfill().await }));
            }
        }
        if let Some(running) = backfill {
            // The store closes its files once this task ends.
            let _ = running.await;
        }
    });
    (tx, batcher)
}

/// Group commits between two checkpoints of the WAL. A commit rewrites
/// three to seven pages, so the log starts over at 2 to 5 MiB, far below
/// SQLite's own threshold (64 MiB, see `engine`). Shorter cycles copy less
/// at a time: the backfill's sync of the main file is short, and so is the
/// wait of a commit whose own sync the disk queues behind it (500 commits
/// a cycle gave a 70-190 ms commit in most HTTP runs, 150 in few; 50 was
/// no better than 150; BENCHMARKS.md, seventh session).
const COMMITS_PER_CHECKPOINT: u32 = 150;

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
pub async fn append(
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

/// [`append`] on the direct SQLite writer (see `sqlite_write`), in its
/// open transaction: the same rows, one cached statement per entry.
pub(crate) fn append_direct(
    c: &rusqlite::Connection,
    at: i64,
    events: &[Event],
) -> Result<i64, StoreError> {
    let (mut seq, mut prev): (i64, Vec<u8>) = c
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut insert = c.prepare_cached(
        "INSERT INTO audit_log (seq, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for event in events {
        seq += 1;
        let e = Entry::chain(&prev, seq, at, event);
        insert.execute(rusqlite::params![e.seq, e.body, e.prev_hash, e.hash])?;
        prev = e.hash;
    }
    c.prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")?
        .execute(rusqlite::params![seq, prev])?;
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

/// Verifies the whole chain and its checkpoints. A fast pass settles the
/// common case, an intact chain; only when it finds a break does a second,
/// thorough pass name each one.
///
/// The fast pass runs on both cores: an entry's hash depends only on the
/// stored hash before it, so runs of the chain are checked apart (each one
/// a [`Segment`]) and joined in order, which checks the one link between a
/// run and the next. On SQLite two blocking threads each read and check
/// half of the chain through a direct read-only connection, borrowing each
/// row from SQLite without copying it; on PostgreSQL readers fetch
/// alternate pages and check each on a blocking thread.
pub(crate) async fn verify(
    pool: &AnyPool,
    engine: Engine,
    reads: Option<std::sync::Arc<Readers>>,
    key: &VerifyingKey,
) -> Result<Report, StoreError> {
    let cps = checkpoints(pool).await?;
    let wanted: std::sync::Arc<HashSet<i64>> =
        std::sync::Arc::new(cps.iter().map(|c| c.seq).collect());
    let (first, last): (Option<i64>, Option<i64>) = {
        let row = sqlx::query("SELECT MIN(seq), MAX(seq) FROM audit_log")
            .fetch_one(pool)
            .await?;
        (row.try_get(0)?, row.try_get(1)?)
    };
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(QuickScan::default().finish(&cps, key, |_| None));
    };
    let runs = match (engine, reads) {
        (Engine::Sqlite, Some(reads)) => scan_sqlite(reads, first, last, wanted).await?,
        _ => scan_pages(pool, first, last, wanted).await?,
    };
    let mut scan = QuickScan::default();
    let mut at_checkpoints: HashMap<i64, Vec<u8>> = HashMap::new();
    for run in runs {
        scan.join(run.segment);
        at_checkpoints.extend(run.at_checkpoints);
    }
    if scan.intact && scan.head().0 == last {
        return Ok(scan.finish(&cps, key, |seq| at_checkpoints.get(&seq).cloned()));
    }
    thorough(pool, &cps, key).await
}

/// SQLite: the chain cut in two halves, each read and checked on a
/// blocking thread of its own. Returns the runs in chain order.
async fn scan_sqlite(
    reads: std::sync::Arc<Readers>,
    first: i64,
    last: i64,
    wanted: std::sync::Arc<HashSet<i64>>,
) -> Result<Vec<Checked>, StoreError> {
    const HALVES: i64 = 2;
    let step = (last - first) / HALVES + 1;
    let tasks: Vec<_> = (0..HALVES)
        .map(|i| {
            let (reads, wanted) = (reads.clone(), wanted.clone());
            let from = first + i * step;
            let to = (from + step).min(last + 1);
            tokio::task::spawn_blocking(move || reads.with(|c| scan_range(c, from, to, &wanted)))
        })
        .collect();
    let mut runs = Vec::with_capacity(tasks.len());
    for t in tasks {
        runs.push(
            t.await
                .map_err(|e| StoreError::Invalid(format!("the audit reader failed: {e}")))??,
        );
    }
    Ok(runs)
}

/// Checks the entries with `from <= seq < to`, read in order from SQLite.
fn scan_range(
    c: &rusqlite::Connection,
    from: i64,
    to: i64,
    wanted: &HashSet<i64>,
) -> Result<Checked, StoreError> {
    use rusqlite::types::ValueRef;
    let mut stmt = c.prepare(
        "SELECT seq, body, hash FROM audit_log WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query([from, to])?;
    let mut checked = Checked {
        segment: Segment::default(),
        at_checkpoints: Vec::new(),
    };
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        // Text is hashed as stored. A value of another type, or a body
        // that is not UTF-8, cannot match its hash: the entry then counts
        // as broken and the thorough pass names it.
        let body = match row.get_ref(1)? {
            ValueRef::Text(t) | ValueRef::Blob(t) => std::str::from_utf8(t).unwrap_or(""),
            _ => "",
        };
        let hash = match row.get_ref(2)? {
            ValueRef::Blob(h) => h,
            _ => &[],
        };
        if wanted.contains(&seq) {
            checked.at_checkpoints.push((seq, hash.to_vec()));
        }
        checked.segment.push(seq, body, hash);
    }
    Ok(checked)
}

/// PostgreSQL: readers fetch alternate pages, each checked on a blocking
/// thread. Returns the pages in chain order.
async fn scan_pages(
    pool: &AnyPool,
    first: i64,
    last: i64,
    wanted: std::sync::Arc<HashSet<i64>>,
) -> Result<Vec<Checked>, StoreError> {
    const PAGE: i64 = 8_000;
    const READERS: i64 = 2;
    let mut channels = Vec::new();
    let mut readers = Vec::new();
    for r in 0..READERS {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Checked, StoreError>>(2);
        channels.push(rx);
        let pool = pool.clone();
        let wanted = wanted.clone();
        readers.push(tokio::spawn(async move {
            let mut start = first + r * PAGE;
            while start <= last {
                let checked = match fetch_range(&pool, start, start + PAGE).await {
                    Ok(entries) => {
                        let wanted = wanted.clone();
                        tokio::task::spawn_blocking(move || check_page(entries, &wanted))
                            .await
                            .map_err(|e| {
                                StoreError::Invalid(format!("checking an audit page failed: {e}"))
                            })
                    }
                    Err(e) => Err(e),
                };
                let failed = checked.is_err();
                if tx.send(checked).await.is_err() || failed {
                    break;
                }
                start += READERS * PAGE;
            }
        }));
    }
    let pages = ((last - first) / PAGE + 1) as usize;
    let mut out = Vec::with_capacity(pages);
    for n in 0..pages {
        let Some(checked) = channels[n % READERS as usize].recv().await else {
            return Err(StoreError::Invalid(
                "the audit reader stopped early".to_owned(),
            ));
        };
        out.push(checked?);
    }
    for r in readers {
        r.await
            .map_err(|e| StoreError::Invalid(format!("the audit reader failed: {e}")))?;
    }
    Ok(out)
}

/// A run of the chain checked on its own: its links inside, and the hashes
/// found at checkpoint positions.
struct Checked {
    segment: Segment,
    at_checkpoints: Vec<(i64, Vec<u8>)>,
}

/// Checks the links inside a page (CPU work, for a blocking thread).
fn check_page(entries: Vec<Entry>, wanted: &HashSet<i64>) -> Checked {
    let mut checked = Checked {
        segment: Segment::default(),
        at_checkpoints: Vec::new(),
    };
    for e in entries {
        if wanted.contains(&e.seq) {
            checked.at_checkpoints.push((e.seq, e.hash.clone()));
        }
        checked.segment.push(e.seq, &e.body, &e.hash);
    }
    checked
}

/// Entries with `from <= seq < to`, in order.
async fn fetch_range(pool: &AnyPool, from: i64, to: i64) -> Result<Vec<Entry>, StoreError> {
    sqlx::query(
        "SELECT seq, body, prev_hash, hash FROM audit_log WHERE seq >= $1 AND seq < $2 ORDER BY seq",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| entry(r).map_err(StoreError::from))
    .collect()
}

/// The second pass: every entry with its stored links, every break named.
async fn thorough(
    pool: &AnyPool,
    cps: &[Checkpoint],
    key: &VerifyingKey,
) -> Result<Report, StoreError> {
    const PAGE: i64 = 20_000;
    let wanted: HashSet<i64> = cps.iter().map(|c| c.seq).collect();
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
pub async fn for_subject(
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
