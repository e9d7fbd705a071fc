//! Ingestion: a stream in a native format, parsed line by line, each
//! record linked to its subscriber through the kernel's keyed-hash index
//! (an identifier nobody in the caller's scope holds is kept under a
//! pending link), its ends counted from its own date, sealed under its
//! month's key, and stored in batches.
//!
//! Resumable: a file is known by its format and the SHA-256 of its first
//! 64 KiB (so a renamed or re-sent file is the same file), and each batch
//! commits its rows together with the byte offset and line number they end
//! at. A restart after `kill -9` skips to the committed offset: every line
//! is stored exactly once. The offset moves by compare-and-set, so two
//! instances fed the same file never store a batch twice.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read};

use custode_audit::{Action, Event as AuditEvent};
use custode_crypto::{IdentifierHasher, Key, Nonces};
use custode_domain::Principal;
use custode_domain::clock::to_micros;
use custode_store::StoreError;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use crate::parse::{self, Kind, Lines, Parsed, Rejection};
use crate::partitions::{self, PartitionId};
use crate::rules::{self, EndsCache, Rules};
use crate::{Traffic, TrafficError};

/// How much of a file names it.
const IDENTITY_PREFIX: usize = 64 * 1024;

/// Rejected line numbers kept with a file's cursor (the reasons are told
/// once, to whoever ran the ingestion: they may quote personal values).
const REJECTED_KEPT: usize = 10_000;

/// Told after each batch commits: the line reached and records stored
/// so far (all runs).
pub type Progress = std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>;

/// How an ingestion runs.
#[derive(Clone)]
pub struct IngestOptions {
    /// The CDR column mapping.
    pub cdr: crate::CdrMapping,
    /// Records per committed batch.
    pub batch: usize,
    /// Called after each committed batch.
    pub progress: Option<Progress>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            cdr: crate::CdrMapping::common(),
            batch: 5_000,
            progress: None,
        }
    }
}

/// What an ingestion did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// The file's identity (`kind:sha256-prefix`).
    pub source: String,
    /// Lines read in this file so far (all runs).
    pub lines: u64,
    /// Records stored (all runs).
    pub stored: u64,
    /// Of those, records whose subscriber is not known yet.
    pub pending: u64,
    /// Lines that record no communication (headers, other syslog lines).
    pub skipped: u64,
    /// Lines refused in this run, with why.
    pub rejected: Vec<Rejection>,
    /// Line numbers refused by an earlier, interrupted run.
    pub rejected_before: Vec<u64>,
    /// The line this run started after (0 for a fresh file).
    pub resumed_after: u64,
    /// The whole file had been ingested before: nothing was read.
    pub already_done: bool,
}

/// A row ready for a partition.
pub(crate) struct Row {
    pub(crate) at: i64,
    pub(crate) subject_key: Option<i64>,
    pub(crate) link_hash: Vec<u8>,
    pub(crate) peer_hash: Option<Vec<u8>>,
    pub(crate) answered: bool,
    pub(crate) legal_until: i64,
    pub(crate) billing_until: Option<i64>,
    pub(crate) kept_until: i64,
    pub(crate) sealed: Vec<u8>,
}

/// A parsed record waiting for its batch.
struct Waiting {
    line: u64,
    event: parse::Event,
}

/// The cursor of one file.
struct Cursor {
    identity: String,
    offset: u64,
    lines: u64,
    stored: u64,
    pending: u64,
    skipped: u64,
    rejected: Vec<u64>,
}

impl Traffic {
    /// Ingests `input`, a file of `kind` named `name` (for the operator;
    /// the file is known by its content). Lines are refused one by one
    /// (reported with their number); a first line that is not of the
    /// format refuses the whole file. See the module's doc for resuming.
    pub async fn ingest<R: Read>(
        &self,
        by: &Principal,
        kind: Kind,
        name: &str,
        input: R,
        options: &IngestOptions,
    ) -> Result<IngestSummary, TrafficError> {
        if !custode_domain::may(by.role, custode_domain::Operation::WriteRecords) {
            self.store.record_denied(by, "traffic.ingest").await?;
            return Err(StoreError::Forbidden(
                "only staff who write records, or the system, ingest traffic".to_owned(),
            )
            .into());
        }
        let rules = self.rules()?;
        let mut input = input;
        let mut prefix = Vec::with_capacity(IDENTITY_PREFIX.min(64 * 1024));
        (&mut input)
            .take(IDENTITY_PREFIX as u64)
            .read_to_end(&mut prefix)?;
        let identity = format!("{}:{}", kind.key(), hex::encode(Sha256::digest(&prefix)));
        let mut cursor = self.cursor(&identity, kind, name).await?;
        let mut summary = IngestSummary {
            source: identity.clone(),
            resumed_after: cursor.lines,
            rejected_before: cursor.rejected.clone(),
            ..IngestSummary::default()
        };
        if cursor.offset == u64::MAX {
            summary.already_done = true;
            summary.fill(&cursor);
            return Ok(summary);
        }
        let now = self.store.now();
        let mut parser = parse::parser(kind, &options.cdr, rules.zone());
        if cursor.offset > 0 && kind == Kind::Cdr && options.cdr.header {
            // Resuming past the header: the parser learns the columns again.
            let mut first = Lines::new(&prefix[..], 0, 0);
            if let Some(Ok(header)) = first.next_line()?.map(|l| l.text) {
                parser.line(1, header, now);
            }
        }
        let mut reader =
            std::io::BufReader::with_capacity(64 * 1024, std::io::Cursor::new(prefix).chain(input));
        skip(&mut reader, cursor.offset)?;
        let mut lines = Lines::new(reader, cursor.lines, cursor.offset);
        let mut batch: Vec<Waiting> = Vec::with_capacity(options.batch);
        let mut ends = EndsCache::default();
        let mut links: HashMap<Vec<u8>, Option<i64>> = HashMap::new();
        let hasher = self.store.keys().hasher();
        let mut nonces = Nonces::new();
        // Offsets reached with no record half-read, and the line there.
        let mut safe = (cursor.offset, cursor.lines);
        let mut skipped_since = 0u64;
        let first_line = cursor.lines == 0;
        loop {
            let (parsed, no) = match lines.next_line()? {
                Some(raw) => {
                    let no = raw.no;
                    let parsed = match raw.text {
                        Ok(text) => parser.line(no, text, now),
                        Err(why) => Parsed::Rejected(Rejection {
                            line: no,
                            why: why.to_owned(),
                        }),
                    };
                    (Some(parsed), no)
                }
                None => (None, 0),
            };
            let end_of_input = parsed.is_none();
            let parsed = parsed.unwrap_or_else(|| parser.finish(now));
            match parsed {
                Parsed::Nothing => {}
                Parsed::Skipped => skipped_since += 1,
                Parsed::Event { line, event } => batch.push(Waiting {
                    line,
                    event: *event,
                }),
                Parsed::Rejected(r) => {
                    // The first line itself refused: the wrong format (a
                    // RADIUS block's own faults surface later, at its end).
                    if first_line && no == 1 && r.line == 1 {
                        return Err(TrafficError::WrongFormat {
                            line: 1,
                            kind: kind.key(),
                            why: r.why,
                        });
                    }
                    summary.rejected.push(r);
                }
            }
            if parser.at_boundary() {
                safe = (lines.offset(), lines.line_no());
            }
            if end_of_input || (batch.len() >= options.batch && parser.at_boundary()) {
                let done = end_of_input;
                let rejected_now: Vec<u64> = summary
                    .rejected
                    .iter()
                    .map(|r| r.line)
                    .filter(|l| *l <= safe.1 && !cursor.rejected.contains(l))
                    .collect();
                self.commit(
                    by,
                    &rules,
                    &hasher,
                    &mut nonces,
                    &mut ends,
                    &mut links,
                    &mut cursor,
                    std::mem::take(&mut batch),
                    safe,
                    skipped_since,
                    rejected_now,
                    done,
                )
                .await?;
                skipped_since = 0;
                if let Some(progress) = &options.progress {
                    progress(cursor.lines, cursor.stored);
                }
                if done {
                    break;
                }
            }
        }
        summary.fill(&cursor);
        Ok(summary)
    }

    /// The cursor of a file, made at its first sight. A finished file's
    /// offset reads as `u64::MAX`.
    async fn cursor(&self, identity: &str, kind: Kind, name: &str) -> Result<Cursor, TrafficError> {
        let now = to_micros(self.store.now());
        // Only the base name: a path can name a person (a home directory).
        let name = std::path::Path::new(name)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("-");
        sqlx::query(
            "INSERT INTO traffic_sources (identity, kind, name, byte_offset, lines, stored, pending, skipped, rejected, rejected_lines, started_at, updated_at) \
             VALUES ($1, $2, $3, 0, 0, 0, 0, 0, 0, '[]', $4, $4) ON CONFLICT DO NOTHING",
        )
        .bind(identity)
        .bind(kind.key())
        .bind(name)
        .bind(now)
        .execute(self.store.writer())
        .await
        .map_err(StoreError::from)?;
        let r = sqlx::query(
            "SELECT byte_offset, lines, stored, pending, skipped, rejected_lines, finished_at FROM traffic_sources WHERE identity = $1",
        )
        .bind(identity)
        .fetch_one(self.store.writer())
        .await
        .map_err(StoreError::from)?;
        let rejected: String = r.try_get(5).map_err(StoreError::from)?;
        let finished: Option<i64> = r.try_get(6).map_err(StoreError::from)?;
        let count = |i: usize| -> Result<u64, TrafficError> {
            Ok(u64::try_from(r.try_get::<i64, _>(i).map_err(StoreError::from)?).unwrap_or(0))
        };
        Ok(Cursor {
            identity: identity.to_owned(),
            offset: if finished.is_some() {
                u64::MAX
            } else {
                count(0)?
            },
            lines: count(1)?,
            stored: count(2)?,
            pending: count(3)?,
            skipped: count(4)?,
            rejected: serde_json::from_str(&rejected).unwrap_or_default(),
        })
    }

    /// Links, seals and stores one batch with the cursor's move, in one
    /// transaction.
    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        by: &Principal,
        rules: &Rules,
        hasher: &IdentifierHasher,
        nonces: &mut Nonces,
        ends: &mut EndsCache,
        links: &mut HashMap<Vec<u8>, Option<i64>>,
        cursor: &mut Cursor,
        batch: Vec<Waiting>,
        (offset, lines): (u64, u64),
        skipped: u64,
        rejected_now: Vec<u64>,
        done: bool,
    ) -> Result<(), TrafficError> {
        let now = self.store.now();
        // Hash every identifier once; look the unknown link hashes up.
        let hashed: Vec<(Vec<u8>, Option<Vec<u8>>)> = batch
            .iter()
            .map(|w| {
                let (k, v) = &w.event.link;
                let link = custode_store::identifier_hash(hasher, k.key(), v);
                let peer = w
                    .event
                    .peer
                    .as_ref()
                    .map(|(k, v)| custode_store::identifier_hash(hasher, k.key(), v));
                (link, peer)
            })
            .collect();
        let unknown: Vec<&[u8]> = {
            let mut u: Vec<&[u8]> = hashed
                .iter()
                .map(|(l, _)| l.as_slice())
                .filter(|l| !links.contains_key(*l))
                .collect();
            u.sort_unstable();
            u.dedup();
            u
        };
        let found = self.link(by, &unknown).await?;
        for h in unknown {
            links.insert(h.to_vec(), found.get(h).copied().flatten());
        }
        if links.len() > 1_000_000 {
            links.clear();
        }
        let mut rows: BTreeMap<PartitionId, Vec<Row>> = BTreeMap::new();
        let mut keys: HashMap<PartitionId, Key> = HashMap::new();
        let mut late = 0u64;
        for (w, (link_hash, peer_hash)) in batch.into_iter().zip(hashed) {
            let category = if w.event.answered {
                if matches!(w.event.link.0, custode_policy::IdentifierKind::Phone) {
                    rules::PHONE
                } else {
                    rules::NET
                }
            } else {
                rules::UNANSWERED
            };
            let Some(end) = ends.ends(rules, category, w.event.at) else {
                return Err(TrafficError::Invalid(format!(
                    "line {}: the policy keeps no `{category}`: add its purposes before ingesting this file",
                    w.line
                )));
            };
            if end.kept_until <= now {
                // Past even its longest period: the law wants it gone.
                late += 1;
                continue;
            }
            let id = PartitionId::of(category, w.event.at);
            let key = match keys.get(&id) {
                Some(k) => k.clone(),
                None => {
                    let k = self.partitions.ensure(&id).await?;
                    keys.insert(id.clone(), k.clone());
                    k
                }
            };
            let at = to_micros(w.event.at);
            let plain = serde_json::to_vec(&w.event.fields)
                .map_err(|e| TrafficError::Invalid(format!("line {}: {e}", w.line)))?;
            let sealed = key
                .seal_with(nonces, &plain, &id.aad(at, &link_hash))
                .map_err(StoreError::from)?;
            rows.entry(id).or_default().push(Row {
                at,
                subject_key: links.get(&link_hash).copied().flatten(),
                link_hash,
                peer_hash,
                answered: w.event.answered,
                legal_until: to_micros(end.legal_until),
                billing_until: end.billing_until.map(to_micros),
                kept_until: to_micros(end.kept_until),
                sealed,
            });
        }
        let stored: u64 = rows.values().map(|r| r.len() as u64).sum();
        let pending: u64 = rows
            .values()
            .flatten()
            .filter(|r| r.subject_key.is_none())
            .count() as u64;
        let mut rejected = cursor.rejected.clone();
        if rejected.len() < REJECTED_KEPT {
            rejected.extend(rejected_now.iter().take(REJECTED_KEPT - rejected.len()));
        }
        let engine = self.store.engine();
        let mut tx = self.store.begin_write().await?;
        for (id, r) in &rows {
            partitions::insert_rows(&mut tx, engine, id, r).await?;
        }
        let at = to_micros(now);
        let moved = sqlx::query(
            "UPDATE traffic_sources SET byte_offset = $1, lines = $2, stored = stored + $3, pending = pending + $4, \
             skipped = skipped + $5, rejected = $6, rejected_lines = $7, updated_at = $8, finished_at = $9 \
             WHERE identity = $10 AND byte_offset = $11 AND finished_at IS NULL",
        )
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .bind(i64::try_from(lines).unwrap_or(i64::MAX))
        .bind(stored as i64)
        .bind(pending as i64)
        .bind(skipped as i64 + late as i64)
        .bind(rejected.len() as i64)
        .bind(serde_json::to_string(&rejected).unwrap_or_else(|_| "[]".to_owned()))
        .bind(at)
        .bind(done.then_some(at))
        .bind(cursor.identity.as_str())
        .bind(i64::try_from(cursor.offset).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if moved != 1 {
            return Err(TrafficError::Busy);
        }
        if stored > 0 || done {
            self.store
                .audit(
                    &mut tx,
                    at,
                    &[AuditEvent {
                        actor: by.id.clone(),
                        action: Action::RecordsWritten,
                        subject: None,
                        reason: Some("traffic ingestion".to_owned()),
                        detail: json!({
                            "traffic": partitions::counts(&rows),
                            "source": cursor.identity,
                            "lines": lines,
                            "pending": pending,
                            "finished": done,
                        }),
                    }],
                )
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        cursor.offset = offset;
        cursor.lines = lines;
        cursor.stored += stored;
        cursor.pending += pending;
        cursor.skipped += skipped + late;
        cursor.rejected = rejected;
        Ok(())
    }

    /// The subject each link hash names within the caller's scope; a hash
    /// held by several subjects (a shared line) or by nobody stays
    /// pending.
    async fn link(
        &self,
        by: &Principal,
        hashes: &[&[u8]],
    ) -> Result<HashMap<Vec<u8>, Option<i64>>, TrafficError> {
        let mut out: HashMap<Vec<u8>, Option<i64>> = HashMap::new();
        let engine = self.store.engine();
        let (low, high) = by.scope.path_range();
        for chunk in hashes.chunks(500) {
            let sql = format!(
                "SELECT i.hash, i.subject_key FROM identifiers i JOIN subjects s ON s.key = i.subject_key \
                 WHERE i.hash IN ({}) AND s.erased_at IS NULL AND s.tenant_path >= {} AND s.tenant_path < {}",
                custode_store::placeholders(engine, 1, chunk.len()),
                custode_store::placeholders(engine, chunk.len() + 1, 1),
                custode_store::placeholders(engine, chunk.len() + 2, 1),
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for h in chunk {
                q = q.bind(h.to_vec());
            }
            let rows = q
                .bind(low.clone())
                .bind(high.clone())
                .fetch_all(self.store.reader())
                .await
                .map_err(StoreError::from)?;
            for r in rows {
                let hash: Vec<u8> = r.try_get(0).map_err(StoreError::from)?;
                let key: i64 = r.try_get(1).map_err(StoreError::from)?;
                out.entry(hash)
                    .and_modify(|k| {
                        if *k != Some(key) {
                            *k = None;
                        }
                    })
                    .or_insert(Some(key));
            }
        }
        Ok(out)
    }

    /// Links records kept under a pending link to the subscriber who now
    /// holds their identifier (a number ported in, an account opened after
    /// its first session). Returns how many were linked.
    pub async fn link_pending(&self, by: &Principal) -> Result<u64, TrafficError> {
        if !custode_domain::may(by.role, custode_domain::Operation::WriteRecords) {
            self.store.record_denied(by, "traffic.link_pending").await?;
            return Err(StoreError::Forbidden(
                "only staff who write records, or the system, link traffic".to_owned(),
            )
            .into());
        }
        let partitions = self.partitions.all().await?;
        let mut linked = 0u64;
        for p in partitions
            .iter()
            .filter(|p| p.dropped_at.is_none() && p.pending > 0)
        {
            let table = &p.id;
            let hashes: Vec<Vec<u8>> = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT DISTINCT link_hash FROM {table} WHERE subject_key IS NULL"
            )))
            .fetch_all(self.store.reader())
            .await
            .map_err(StoreError::from)?
            .iter()
            .map(|r| r.try_get::<Vec<u8>, _>(0))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
            let refs: Vec<&[u8]> = hashes.iter().map(Vec::as_slice).collect();
            let found = self.link(by, &refs).await?;
            let now = to_micros(self.store.now());
            let mut tx = self.store.begin_write().await?;
            let mut here = 0u64;
            for (hash, key) in found {
                let Some(key) = key else { continue };
                here += sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET subject_key = $1 WHERE link_hash = $2 AND subject_key IS NULL"
                )))
                .bind(key)
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .rows_affected();
            }
            if here > 0 {
                sqlx::query("UPDATE traffic_partitions SET pending = pending - $1 WHERE name = $2")
                    .bind(here as i64)
                    .bind(table.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                self.store
                    .audit(
                        &mut tx,
                        now,
                        &[AuditEvent {
                            actor: by.id.clone(),
                            action: Action::RecordsWritten,
                            subject: None,
                            reason: Some("traffic: pending links resolved".to_owned()),
                            detail: json!({ "traffic_partition": table, "linked": here }),
                        }],
                    )
                    .await?;
            }
            tx.commit().await.map_err(StoreError::from)?;
            linked += here;
        }
        Ok(linked)
    }
}

impl IngestSummary {
    fn fill(&mut self, cursor: &Cursor) {
        self.lines = cursor.lines;
        self.stored = cursor.stored;
        self.pending = cursor.pending;
        self.skipped = cursor.skipped;
    }
}

/// Reads and drops `n` bytes (a resumed file; standard input cannot seek).
fn skip<R: BufRead>(reader: &mut R, n: u64) -> std::io::Result<()> {
    let skipped = std::io::copy(&mut reader.take(n), &mut std::io::sink())?;
    if skipped < n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "the file is shorter ({skipped} bytes) than the {n} bytes an earlier run stored: it is not the same file"
            ),
        ));
    }
    Ok(())
}
