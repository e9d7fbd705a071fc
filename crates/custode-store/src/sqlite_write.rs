//! The records write on SQLite, through a direct connection.
//!
//! A batch of 10,000 records is tens of thousands of statement executions;
//! through sqlx each one boxed its arguments and crossed to the driver's
//! connection thread and back. Here the whole transaction runs on a plain
//! rusqlite connection with cached prepared statements, on a blocking
//! thread, while the records are sealed on another.
//!
//! Same guarantees as every other write: `BEGIN IMMEDIATE` takes SQLite's
//! one write lock before anything is read (so the audit head read inside
//! is the chain's head), the audit entries are appended in the same
//! transaction, and a batch that fails anywhere is rolled back whole (also
//! when the caller goes away: dropping [`WriteTx`] rolls back). The
//! connection uses `synchronous = FULL`, so an acknowledged batch survives
//! a crash. In this process the caller also holds sqlx's single writer
//! connection meanwhile, so the two writers take turns without polling;
//! another process waits on `busy_timeout`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use custode_audit::Event;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{NewRecord, Principal, SubjectId};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{InScope, StoreError, ingest, lifecycle};

/// The direct writer connection to the main SQLite file.
#[derive(Clone)]
pub(crate) struct Writer {
    conn: Arc<Mutex<Connection>>,
    /// A second connection that copies the WAL into the main file while
    /// the writer goes on committing (see [`Writer::backfill`]).
    backfiller: Arc<std::sync::Mutex<Connection>>,
}

impl Writer {
    /// Opens the writer of the SQLite file at `path` (already migrated),
    /// with the settings of sqlx's connections (see `engine::connect`).
    pub(crate) fn open(path: &str) -> Result<Writer, StoreError> {
        let conn = open_with(
            path,
            &format!(
                "PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = FULL; \
             PRAGMA busy_timeout = 10000; \
             PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -65536; \
             PRAGMA mmap_size = 1073741824; \
             PRAGMA temp_store = MEMORY; \
             PRAGMA wal_autocheckpoint = {};",
                crate::engine::WAL_AUTOCHECKPOINT_FRAMES
            ),
        )?;
        conn.set_prepared_statement_cache_capacity(32);
        // FULL: the checkpoint syncs the WAL before copying and the main
        // file after, so a copied page is never the only copy in flight.
        // The busy timeout bounds how long a restart waits for readers
        // with this process's commits on hold (a `PASSIVE` backfill never
        // waits).
        let backfiller = open_with(
            path,
            "PRAGMA synchronous = FULL; \
             PRAGMA busy_timeout = 20; \
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        Ok(Writer {
            conn: Arc::new(Mutex::new(conn)),
            backfiller: Arc::new(std::sync::Mutex::new(backfiller)),
        })
    }

    /// Copies what the WAL holds into the main file without taking the
    /// write lock (a `PASSIVE` checkpoint on a connection of its own), so
    /// commits go on meanwhile. It cannot let the WAL start over, since
    /// commits keep landing while it copies: [`Writer::restart_wal`] ends
    /// the cycle.
    pub(crate) async fn backfill(&self) -> Result<(), StoreError> {
        let conn = self.backfiller.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("the SQLite checkpoint failed: {e}")))?
    }

    /// Copies the frames committed since the last [`Writer::backfill`]
    /// while this process's commits wait, then waits for readers to leave
    /// the WAL, so the next commit writes it from its start. After a
    /// backfill this is a few pages and one sync, not a whole log's worth.
    /// The wait for readers is short (the backfiller's busy timeout): a
    /// long read (an audit verification, an export) cannot hold the
    /// commits up, it only postpones the restart to the next cycle.
    pub(crate) async fn restart_wal(&self) -> Result<(), StoreError> {
        let writer = self.conn.clone().lock_owned().await;
        let conn = self.backfiller.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
            drop(writer);
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("the SQLite checkpoint failed: {e}")))?
    }

    /// Appends stand-alone audit entries in a transaction of their own
    /// (the group commit's batch): one hop to a blocking thread, where
    /// sqlx would take six round trips to its connection thread.
    pub(crate) async fn append_audit(&self, at: i64, events: Vec<Event>) -> Result<(), StoreError> {
        let conn = self.conn.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let tx = WriteTx { conn };
            crate::audit_log::append_direct(&tx.conn, at, &events)?;
            tx.conn.execute_batch("COMMIT")?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("the SQLite writer failed: {e}")))?
    }

    /// Waits for the connection, then begins a write transaction on a
    /// blocking thread (it may wait for another process's writer) and
    /// looks up the batch's subjects in it.
    pub(crate) async fn begin(
        &self,
        by: Principal,
        distinct: Vec<String>,
        with_consents: bool,
    ) -> Result<(WriteTx, Scope), StoreError> {
        let conn = self.conn.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let tx = WriteTx { conn };
            let scope = subjects_in_scope(&tx.conn, &by, &distinct, with_consents)?;
            Ok((tx, scope))
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("the SQLite writer failed: {e}")))?
    }
}

/// A read-write connection to the SQLite file at `path`, set up by
/// `pragmas`.
fn open_with(path: &str, pragmas: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(pragmas)?;
    Ok(conn)
}

/// An open write transaction on the writer; rolled back when dropped
/// uncommitted.
pub(crate) struct WriteTx {
    conn: OwnedMutexGuard<Connection>,
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            // Nothing else to do on failure: the connection closes with
            // the store, and SQLite discards an uncommitted WAL tail.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The batch's subjects found in the caller's scope, or the first one not.
pub(crate) enum Scope {
    Found(HashMap<String, InScope>),
    Missing(String),
}

/// Subjects by id, as `Store::subjects_in_scope` reads them; with their
/// consents when retention counts from a withdrawal.
fn subjects_in_scope(
    c: &Connection,
    by: &Principal,
    ids: &[String],
    with_consents: bool,
) -> Result<Scope, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT kind, tenant_path, erased_at, key, created_at, closed_at, contract_end, last_activity, restricted_at \
         FROM subjects WHERE id = ?1",
    )?;
    let mut found = HashMap::with_capacity(ids.len());
    for id in ids {
        let row = stmt
            .query_row([id], |r| {
                let kind: String = r.get(0)?;
                let path: String = r.get(1)?;
                // Erased whole, or erased by a request that kept records.
                let erased = r.get::<_, Option<i64>>(2)?.or(r.get(8)?);
                let key: i64 = r.get(3)?;
                let at = |i| r.get::<_, Option<i64>>(i).map(|v| v.map(from_micros));
                let life = custode_domain::retention::LifeEvents {
                    account_closed: at(5)?,
                    contract_end: at(6)?,
                    last_activity: at(7)?.or(at(4)?),
                    consent: BTreeMap::new(),
                };
                Ok((kind, path, erased, key, life))
            })
            .optional()?;
        let Some((kind, path, erased, key, life)) = row else {
            continue;
        };
        let sid = SubjectId::parse(id).map_err(|e| StoreError::Invalid(e.to_string()))?;
        if !by.scope.covers(&path, &sid) {
            continue;
        }
        if erased.is_some() {
            return Err(StoreError::Erased(id.clone()));
        }
        found.insert(
            id.clone(),
            InScope {
                key,
                kind,
                life,
                restricted: false,
            },
        );
    }
    if let Some(missing) = ids.iter().find(|s| !found.contains_key(*s)) {
        return Ok(Scope::Missing(missing.clone()));
    }
    if with_consents {
        let mut stmt = c.prepare_cached(
            "SELECT purpose, kind, at FROM consent_events WHERE subject_key = ?1 AND purpose IS NOT NULL \
             AND kind IN ('given', 'withdrawn', 'expired') ORDER BY seq",
        )?;
        for s in found.values_mut() {
            let mut rows = stmt.query([s.key])?;
            while let Some(r) = rows.next()? {
                let purpose: String = r.get(0)?;
                let kind: String = r.get(1)?;
                let at = from_micros(r.get(2)?);
                s.life
                    .consent
                    .insert(purpose, lifecycle::withdrawn_at(&kind, at));
            }
        }
    }
    Ok(Scope::Found(found))
}

/// What the rest of a batch needs once its subjects are known.
pub(crate) struct Batch {
    pub(crate) by: Principal,
    pub(crate) reason: String,
    pub(crate) items: Vec<(SubjectId, NewRecord)>,
    pub(crate) ctx: ingest::Context,
    pub(crate) policy_id: i64,
}

/// Seals, inserts, indexes and audits the batch, then commits; on a
/// blocking thread, with the sealing one chunk ahead on a second thread.
pub(crate) async fn finish(tx: WriteTx, batch: Batch) -> Result<u64, StoreError> {
    tokio::task::spawn_blocking(move || write(tx, batch))
        .await
        .map_err(|e| StoreError::Invalid(format!("the SQLite writer failed: {e}")))?
}

/// An insert of `rows` records, with plain `?` parameters (see
/// `crate::placeholders`).
fn records_insert(rows: usize) -> String {
    format!(
        "INSERT INTO records (subject_key, category, purposes, source, collected_at, retain_until, policy_id, sealed, written_at, vault_from, vault_until, retain_rule) VALUES {}",
        crate::values(crate::Engine::Sqlite, rows, crate::RECORD_COLUMNS)
    )
}

fn write(tx: WriteTx, batch: Batch) -> Result<u64, StoreError> {
    let Batch {
        by,
        reason,
        items,
        ctx,
        policy_id,
    } = batch;
    let c: &Connection = &tx.conn;
    let now_us = to_micros(ctx.now);
    let total = items.len();
    let mut identifiers: HashSet<(Vec<u8>, i64, &'static str)> = HashSet::new();
    let mut per_subject: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    let mut written = 0u64;
    std::thread::scope(|s| -> Result<(), StoreError> {
        let (chunks_tx, chunks) = std::sync::mpsc::sync_channel(2);
        let ctx = &ctx;
        let producer = s.spawn(move || {
            let mut nonces = custode_crypto::Nonces::new();
            let mut items = items.into_iter();
            for n in 0.. {
                let chunk: Vec<_> = items.by_ref().take(crate::RECORDS_PER_INSERT).collect();
                if chunk.is_empty() {
                    break;
                }
                let prepared =
                    ingest::prepare(ctx, &mut nonces, n * crate::RECORDS_PER_INSERT, chunk);
                let failed = prepared.is_err();
                if chunks_tx.send(prepared).is_err() || failed {
                    break;
                }
            }
        });
        let mut one = c.prepare_cached(&records_insert(1))?;
        let mut full = c.prepare_cached(&records_insert(crate::RECORDS_PER_INSERT))?;
        // On an error the receiver is dropped, which stops the producer.
        for prepared in chunks {
            let prepared: ingest::Prepared = prepared?;
            // A full chunk in one statement: a tenth of the per-statement
            // work of row-by-row execution; a short last chunk row by row.
            let (stmt, per_stmt) = if prepared.rows.len() == crate::RECORDS_PER_INSERT {
                (&mut full, crate::RECORDS_PER_INSERT)
            } else {
                (&mut one, 1)
            };
            for rows in prepared.rows.chunks(per_stmt) {
                let mut i = 0;
                for r in rows {
                    let mut bind = |v: &dyn rusqlite::ToSql| {
                        i += 1;
                        stmt.raw_bind_parameter(i, v)
                    };
                    bind(&r.subject_key)?;
                    bind(&r.category)?;
                    bind(&r.purposes)?;
                    bind(&r.source)?;
                    bind(&r.collected_at)?;
                    bind(&r.retain_until)?;
                    bind(&policy_id)?;
                    bind(&r.sealed)?;
                    bind(&now_us)?;
                    bind(&r.vault_from)?;
                    bind(&r.vault_until)?;
                    bind(&r.rule)?;
                }
                stmt.raw_execute()?;
            }
            written += prepared.rows.len() as u64;
            identifiers.extend(prepared.identifiers);
            for (subject, category) in prepared.written {
                let entry = per_subject.entry(subject).or_default();
                entry.0 += 1;
                entry.1.insert(category);
            }
        }
        producer
            .join()
            .map_err(|_| StoreError::Invalid("the sealing thread failed".to_owned()))
    })?;
    if written != total as u64 {
        return Err(StoreError::Invalid(format!(
            "only {written} of {total} records were prepared; nothing was written"
        )));
    }
    // In key order: neighbouring inserts land on neighbouring pages.
    let mut identifiers: Vec<_> = identifiers.into_iter().collect();
    identifiers.sort_unstable();
    let mut insert = c.prepare_cached(
        "INSERT INTO identifiers (hash, subject_key, kind) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for (hash, subject, kind) in &identifiers {
        insert.execute(params![hash, subject, kind])?;
    }
    let events = crate::written_events(&by, &reason, per_subject);
    crate::audit_log::append_direct(c, now_us, &events)?;
    c.execute_batch("COMMIT")?;
    Ok(written)
}
