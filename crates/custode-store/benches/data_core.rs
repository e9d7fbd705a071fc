//! The data core under load.
//!
//! `cargo bench -p custode-store --bench data_core -- [sqlite|postgres] [RECORDS] [SUBJECTS]`
//!
//! Fills a fresh store with RECORDS records (default 10,000,000) over
//! SUBJECTS subjects (default 100,000), written in batches of 10,000 that
//! interleave 1,000 subjects each, as log ingestion would; then times
//! reading one subject's records, erasing a subject, and verifying the
//! audit chain. PostgreSQL: the local server, in fresh schemas.
//!
//! On SQLite the same run also measures the machine's own limit for those
//! rows — plain inserts into tables of the same definitions through the
//! same SQLite, without policy check, sealing, hashing or audit — and
//! prints the store's write rate as a share of it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use custode_domain::{NewRecord, Principal, SubjectId, SystemClock, TenantKind};
use custode_store::{MasterKeySource, OpenMode, Store, StoreConfig};

/// The allocator the `custode` binary ships with, so the figures are the
/// product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records per transaction; BENCH_BATCH overrides.
fn batch_size() -> usize {
    std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}
const SUBJECTS_PER_BATCH: usize = 1_000;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let engine = args.first().map_or("sqlite", String::as_str).to_owned();
    let records: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let subject_count: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    // BENCH_DIR keeps the SQLite data directory (keys in its files) after
    // the run; given again, the filled store is reused and only the audit
    // chain is verified (three times), to measure verification alone.
    let kept = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("custode-bench-{}", std::process::id()))
    });
    let reuse = kept.is_some() && dir.join("custode.db").exists();
    std::fs::create_dir_all(&dir).expect("dir");
    let master = MasterKeySource::Given(custode_crypto::Key::generate().expect("random"));
    let tag = format!("bench_{}", std::process::id());
    let pg = "postgres://postgres@127.0.0.1:5432/test";
    let config = if engine == "postgres" {
        let pool = sqlx::PgPool::connect(pg).await.expect("PostgreSQL");
        for s in [tag.clone(), format!("{tag}_keys"), format!("{tag}_vault")] {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {s}")))
                .execute(&pool)
                .await
                .expect("schema");
        }
        StoreConfig {
            database_url: format!("{pg}?options=-c%20search_path%3D{tag}"),
            keystore_url: format!("{pg}?options=-c%20search_path%3D{tag}_keys"),
            master_key: master,
            mode: OpenMode::CreateIfMissing,
            vault_url: format!("{pg}?options=-c%20search_path%3D{tag}_vault"),
            vault_key: MasterKeySource::Given(custode_crypto::Key::generate().expect("random")),
        }
    } else if kept.is_some() {
        StoreConfig::in_data_dir(
            &dir,
            if reuse {
                OpenMode::Existing
            } else {
                OpenMode::CreateIfMissing
            },
        )
        .expect("data directory")
    } else {
        StoreConfig {
            database_url: format!("sqlite://{}", dir.join("custode.db").display()),
            keystore_url: format!("sqlite://{}", dir.join("keys.db").display()),
            master_key: master,
            mode: OpenMode::CreateIfMissing,
            vault_url: format!("sqlite://{}", dir.join("vault.db").display()),
            vault_key: MasterKeySource::Given(custode_crypto::Key::generate().expect("random")),
        }
    };
    let policy_text = include_str!("../../../policies/email-hosting.toml");
    let policy = Arc::new(custode_policy::load("email-hosting.toml", policy_text).expect("policy"));
    let store = Store::open(
        &config,
        &[custode_store::migrations::KERNEL],
        policy,
        Arc::new(SystemClock),
    )
    .await
    .expect("open");
    let admin = Principal::system("bench");
    if reuse {
        for _ in 0..3 {
            let t = Instant::now();
            let report = store.audit_verify().await.expect("verify");
            let secs = t.elapsed().as_secs_f64();
            assert!(report.is_intact());
            println!(
                "{engine}: verified {} audit entries in {secs:.2} s: {:.0} entries/s",
                report.checked,
                report.checked as f64 / secs
            );
        }
        store.close().await;
        return;
    }
    let provider = store
        .create_tenant(&admin, None, TenantKind::Provider, "p")
        .await
        .expect("p");
    let domain = store
        .create_tenant(&admin, Some(&provider.id), TenantKind::Domain, "d")
        .await
        .expect("d");

    let t = Instant::now();
    let mut subjects: Vec<SubjectId> = Vec::with_capacity(subject_count);
    while subjects.len() < subject_count {
        let n = (subject_count - subjects.len()).min(10_000);
        subjects.extend(
            store
                .create_subjects(&admin, &domain.id, "mailbox_user", n, "bench")
                .await
                .expect("subjects"),
        );
    }
    println!(
        "{engine}: created {subject_count} subjects in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // BENCH_IDENTIFIERS=0 writes records without an identifier field, to
    // show what the keyed-hash index costs.
    let with_identifiers = std::env::var("BENCH_IDENTIFIERS").map_or(true, |v| v != "0");
    // Each subject connects from a handful of addresses, as real users do;
    // BENCH_UNIQUE_IPS=1 gives every record a new one (the worst case).
    let unique_ips = std::env::var("BENCH_UNIQUE_IPS").is_ok_and(|v| v == "1");
    let template = |i: usize, s: usize| {
        let mut fields = BTreeMap::new();
        if !with_identifiers {
            fields.insert(
                "message".to_owned(),
                serde_json::Value::from(format!(
                    "ticket {i}: mailbox over quota, please raise the limit"
                )),
            );
            return NewRecord {
                category: "requests".into(),
                fields,
                source: "helpdesk".into(),
                purposes: vec![],
                collected_at: None,
            };
        }
        fields.insert(
            "ip_address".to_owned(),
            serde_json::Value::from({
                let ip = if unique_ips { i } else { s * 4 + i % 4 };
                format!(
                    "10.{}.{}.{}",
                    ip % 250,
                    (ip / 250) % 250,
                    (ip / 62_500) % 250
                )
            }),
        );
        fields.insert(
            "access_time".to_owned(),
            serde_json::Value::from(format!("2026-11-23T01:{:02}:{:02}Z", i % 60, (i / 60) % 60)),
        );
        fields.insert("access_method".to_owned(), serde_json::Value::from("imap"));
        NewRecord {
            category: "usage".into(),
            fields,
            source: "dovecot".into(),
            purposes: vec![],
            collected_at: None,
        }
    };
    #[allow(non_snake_case)]
    let BATCH = batch_size();
    let t = Instant::now();
    let mut written = 0usize;
    let mut batch_no = 0usize;
    let mut window = Instant::now();
    // The time spent in the store, apart from building the batches here.
    let mut in_store = Duration::ZERO;
    while written < records {
        let n = (records - written).min(BATCH);
        let batch: Vec<(SubjectId, NewRecord)> = (0..n)
            .map(|k| {
                let s = (batch_no * SUBJECTS_PER_BATCH + k % SUBJECTS_PER_BATCH) % subjects.len();
                (subjects[s].clone(), template(written + k, s))
            })
            .collect();
        let call = Instant::now();
        written += store
            .write_records(&admin, "ingest", batch)
            .await
            .expect("write") as usize;
        in_store += call.elapsed();
        batch_no += 1;
        if window.elapsed() > Duration::from_secs(15) {
            println!(
                "  ... {written} records, {:.0}/s so far",
                written as f64 / t.elapsed().as_secs_f64()
            );
            window = Instant::now();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{engine}: wrote {written} records in batches of {BATCH}: {secs:.1} s, {:.0} records/s ({:.1} s inside write_records: {:.0} records/s)",
        written as f64 / secs,
        in_store.as_secs_f64(),
        written as f64 / in_store.as_secs_f64()
    );

    if engine == "sqlite" {
        let (db, scratch) = (dir.join("custode.db"), dir.join("plain"));
        let plain = tokio::task::spawn_blocking(move || plain_insert_rate(&db, &scratch, BATCH))
            .await
            .expect("plain inserts")
            .expect("plain inserts");
        let ours = written as f64 / secs;
        let inside = written as f64 / in_store.as_secs_f64();
        println!(
            "{engine}: the machine's own limit, plain inserts of the same rows into the same tables (same SQLite and settings, \
             batches of {BATCH}; no policy check, sealing, hashing or audit): {plain:.0} records/s; \
             ours is {:.1} % of it ({:.1} % inside write_records)",
            100.0 * ours / plain,
            100.0 * inside / plain
        );
    } else {
        println!("{engine}: the plain-insert limit is measured on SQLite only");
    }

    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut fetch = Vec::new();
    let mut count = 0;
    for _ in 0..500 {
        let s = &subjects[(rng(&mut state) as usize) % subjects.len()];
        let t = Instant::now();
        count += store
            .records(&admin, s, "bench read")
            .await
            .expect("read")
            .len();
        fetch.push(t.elapsed());
    }
    fetch.sort();
    println!(
        "{engine}: read all records of one subject ({} records each on average) among {written}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (500 reads, each audited)",
        count / 500,
        pct(&fetch, 0.5),
        pct(&fetch, 0.99),
        pct(&fetch, 1.0)
    );

    let mut erase = Vec::new();
    for i in 0..100 {
        let s = &subjects[(i * 997) % subjects.len()];
        let t = Instant::now();
        store
            .erase_subject(&admin, s, "bench erasure")
            .await
            .expect("erase");
        erase.push(t.elapsed());
    }
    erase.sort();
    println!(
        "{engine}: crypto-shred one subject with ~{} records: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (100 erasures)",
        written / subjects.len(),
        pct(&erase, 0.5),
        pct(&erase, 0.99),
        pct(&erase, 1.0)
    );

    let t = Instant::now();
    let report = store.audit_verify().await.expect("verify");
    let secs = t.elapsed().as_secs_f64();
    assert!(report.is_intact());
    println!(
        "{engine}: verified {} audit entries in {secs:.2} s: {:.0} entries/s",
        report.checked,
        report.checked as f64 / secs
    );
    if engine == "sqlite" {
        let size: u64 = std::fs::read_dir(&dir)
            .expect("dir")
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        println!(
            "{engine}: data directory {:.2} GiB",
            size as f64 / (1u64 << 30) as f64
        );
    }
    store.close().await;
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if engine == "postgres" {
        let pool = sqlx::PgPool::connect(pg).await.expect("pg");
        for s in [tag.clone(), format!("{tag}_keys"), format!("{tag}_vault")] {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {s} CASCADE")))
                .execute(&pool)
                .await;
        }
    }
}

/// The machine's own limit for the rows the store just wrote: as many
/// plain inserts, through the same SQLite library with the store's
/// settings (WAL, `synchronous = FULL`, foreign keys, cache), into tables
/// of the same definitions and indexes (copied from the store's file into
/// a fresh one in `scratch`), rows of the same sizes (records with a
/// payload as long as the sealed ones, identifier rows in the same
/// proportion), in transactions of `batch` records interleaving 1,000
/// subjects each. No policy check, no sealing, no keyed hash, no audit.
/// Returns records per second.
fn plain_insert_rate(
    store_db: &std::path::Path,
    scratch: &std::path::Path,
    batch: usize,
) -> rusqlite::Result<f64> {
    use rusqlite::{Connection, OpenFlags, params};
    let src = Connection::open_with_flags(store_db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let ddl: Vec<String> = src
        .prepare(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('tenants', 'subjects', 'identifiers', 'records') \
             AND sql IS NOT NULL ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, \
             CASE tbl_name WHEN 'tenants' THEN 0 WHEN 'subjects' THEN 1 WHEN 'identifiers' THEN 2 ELSE 3 END",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let count = |sql: &str| src.query_row(sql, [], |r| r.get::<_, i64>(0));
    let (records, identifiers, subjects) = (
        count("SELECT COUNT(*) FROM records")?.max(1) as usize,
        count("SELECT COUNT(*) FROM identifiers")? as usize,
        count("SELECT COUNT(*) FROM subjects")?.max(1) as usize,
    );
    let (category, purposes, source, policy_id, sealed_len, rule): (
        String,
        String,
        String,
        i64,
        i64,
        Option<String>,
    ) = src.query_row(
        "SELECT category, purposes, source, policy_id, \
         (SELECT CAST(AVG(LENGTH(sealed)) AS INTEGER) FROM records), retain_rule FROM records LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    let (kind, hash_len): (String, i64) = src
        .query_row(
            "SELECT kind, LENGTH(hash) FROM identifiers LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|_| ("ip".to_owned(), 16));
    drop(src);

    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch).expect("scratch dir");
    let mut db = Connection::open(scratch.join("plain.db"))?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824; PRAGMA temp_store = MEMORY;",
    )?;
    for statement in &ddl {
        db.execute_batch(statement)?;
    }
    {
        let tx = db.transaction()?;
        tx.execute(
            "INSERT INTO tenants (id, kind, name, path, created_at) VALUES ('t', 'domain', 'd', '/t/', 0)",
            [],
        )?;
        let mut insert = tx.prepare(
            "INSERT INTO subjects (key, id, tenant_id, tenant_path, kind, created_at) \
             VALUES (?1, ?2, 't', '/t/', 'mailbox_user', 0)",
        )?;
        for key in 1..=subjects as i64 {
            insert.execute(params![key, format!("s{key}")])?;
        }
        drop(insert);
        tx.commit()?;
    }
    let mut payload = vec![0x5au8; sealed_len.max(1) as usize];
    let mut hash = vec![0u8; hash_len.max(1) as usize];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let started = Instant::now();
    let mut written = 0usize;
    let mut ids_written = 0usize;
    let mut batch_no = 0usize;
    while written < records {
        let n = (records - written).min(batch);
        // Identifier rows in the store's proportion to records.
        let ids = (identifiers * (written + n) / records).saturating_sub(ids_written);
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut record = tx.prepare_cached(
                "INSERT INTO records (subject_key, category, purposes, source, collected_at, retain_until, \
                 policy_id, sealed, written_at, retain_rule) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?5, ?9)",
            )?;
            let mut identifier = tx.prepare_cached(
                "INSERT OR IGNORE INTO identifiers (hash, subject_key, kind) VALUES (?1, ?2, ?3)",
            )?;
            for k in 0..n {
                let subject = ((batch_no * SUBJECTS_PER_BATCH + k % SUBJECTS_PER_BATCH) % subjects
                    + 1) as i64;
                let i = (written + k) as u64;
                let stamp = 8.min(payload.len());
                payload[..stamp].copy_from_slice(&i.to_le_bytes()[..stamp]);
                let at = 1_790_000_000_000_000i64 + i as i64;
                record.execute(params![
                    subject,
                    category,
                    purposes,
                    source,
                    at,
                    at + 31_536_000_000_000,
                    policy_id,
                    payload,
                    rule
                ])?;
                if k < ids {
                    for b in hash.iter_mut() {
                        *b = rng(&mut state) as u8;
                    }
                    identifier.execute(params![hash, subject, kind])?;
                }
            }
        }
        tx.commit()?;
        written += n;
        ids_written += ids;
        batch_no += 1;
    }
    let rate = written as f64 / started.elapsed().as_secs_f64();
    drop(db);
    let _ = std::fs::remove_dir_all(scratch);
    Ok(rate)
}
