//! CDR ingestion: parse, link, seal, store, records per second.
//!
//! `cargo bench -p custode-traffic --bench ingest -- [sqlite|postgres] [RECORDS]`
//!
//! Writes a CSV of RECORDS calls (default 1,000,000) in the shipped layout,
//! from 10,000 synthetic subscribers (each with a number in the identifier
//! index) to random numbers over one month, then times `custode traffic
//! ingest`'s path on it (`Traffic::ingest`, batches of 5,000): every line
//! parsed, its caller linked through the keyed-hash index, its ends
//! computed, its payload sealed under the month's key, stored with the
//! cursor. Prints the rate and the bytes on disk per record (SQLite).

use std::sync::Arc;
use std::time::Instant;

use custode_domain::{NewRecord, Principal, SystemClock, TenantKind};
use custode_store::{MasterKeySource, OpenMode, StoreConfig};
use custode_testkit::Custode;
use custode_traffic::{IngestOptions, Kind};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SUBSCRIBERS: usize = 10_000;

fn number(i: usize) -> String {
    format!("+39333{:07}", i)
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
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("custode-bench-traffic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let tag = format!("bench_traffic_{}", std::process::id());
    let pg = "postgres://postgres@127.0.0.1:5432/test";
    let key = || MasterKeySource::Given(custode_crypto::Key::generate().expect("random"));
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
            master_key: key(),
            mode: OpenMode::CreateIfMissing,
            vault_url: format!("{pg}?options=-c%20search_path%3D{tag}_vault"),
            vault_key: key(),
        }
    } else {
        StoreConfig::in_data_dir(&dir, OpenMode::CreateIfMissing).expect("config")
    };
    let policy = custode_policy::load(
        "telecom.toml",
        include_str!("../../../policies/telecom.toml"),
    )
    .expect("policy");
    let app = Custode::open(&config, Arc::new(policy), Arc::new(SystemClock))
        .await
        .expect("open");
    let system = Principal::system("bench");
    let provider = app
        .store
        .create_tenant(&system, None, TenantKind::Provider, "provider")
        .await
        .expect("provider");
    let domain = app
        .store
        .create_tenant(&system, Some(&provider.id), TenantKind::Domain, "lines")
        .await
        .expect("domain");
    let ids = app
        .store
        .create_subjects(&system, &domain.id, "customer", SUBSCRIBERS, "bench")
        .await
        .expect("subjects");
    let batch: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                s.clone(),
                NewRecord {
                    category: "master_data".into(),
                    fields: [("phone".to_owned(), serde_json::Value::from(number(i)))]
                        .into_iter()
                        .collect(),
                    source: "bench".into(),
                    purposes: vec![],
                    collected_at: None,
                },
            )
        })
        .collect();
    app.store
        .write_records(&system, "bench", batch)
        .await
        .expect("records");

    let now = jiff::Timestamp::now();
    let start = now - jiff::SignedDuration::from_hours(24 * 30);
    let mut csv = String::with_capacity(records * 80);
    csv.push_str("caller,callee,start,duration,answered,cell\n");
    let mut seed: u64 = 1;
    for i in 0..records {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let caller = number((seed >> 20) as usize % SUBSCRIBERS);
        let callee = format!("+3906{:08}", (seed >> 33) % 100_000_000);
        let at =
            start + jiff::SignedDuration::from_millis((i as i64) * 2_592_000_000 / records as i64);
        csv.push_str(&format!(
            "{caller},{callee},{at},{},{},222-01-{}\n",
            seed % 1800,
            u8::from(!seed.is_multiple_of(7)),
            seed % 5000
        ));
    }
    let path = dir.join("calls.csv");
    std::fs::write(&path, &csv).expect("csv");
    let began = Instant::now();
    let summary = app
        .traffic
        .ingest(
            &system,
            Kind::Cdr,
            "calls.csv",
            std::fs::File::open(&path).expect("open"),
            &IngestOptions::default(),
        )
        .await
        .expect("ingest");
    let took = began.elapsed().as_secs_f64();
    assert_eq!(summary.stored as usize, records);
    println!(
        "{engine}: {records} CDRs ({} MB of CSV) ingested in {took:.2} s: {:.0} records/s ({} pending links)",
        csv.len() / 1_000_000,
        records as f64 / took,
        summary.pending
    );
    app.close().await;
    if engine == "sqlite" {
        let bytes: u64 = ["custode.db", "custode.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
        println!(
            "sqlite: {:.0} bytes on disk per CDR (the store whole), the CSV {:.0}",
            bytes as f64 / records as f64,
            csv.len() as f64 / records as f64
        );
    }
    if engine == "postgres" {
        let pool = sqlx::PgPool::connect(pg).await.expect("PostgreSQL");
        for s in [tag.clone(), format!("{tag}_keys"), format!("{tag}_vault")] {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {s} CASCADE")))
                .execute(&pool)
                .await;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
