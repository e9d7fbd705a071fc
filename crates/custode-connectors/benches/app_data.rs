//! Access and erasure requests against the benchmark's application database
//! (`../shared/bench/app_data.sql`: 100k customers, 1.65M rows) in the
//! local PostgreSQL, through the example `systems/app.toml`: the time from
//! the request submitted to the result ready, per subject.
//!
//! `cargo bench -p custode-connectors --bench app_data`
//!
//! The data are loaded once into the schema `bench_app_data` (about a
//! minute) and reused. Erased subjects stay erased; each run picks subjects
//! not erased yet, and the schema is reloaded when few are left.
//! Environment: `CUSTODE_BENCH_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`), `CUSTODE_APP_DATA_SQL` (the
//! SQL file), `CUSTODE_BENCH_SUBJECTS` (default 25 per operation).

use std::time::{Duration, Instant};

use custode_connectors::{Connectors, SubjectIdentifiers};
use sqlx::{Connection, Executor, Row};

const SCHEMA: &str = "bench_app_data";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

async fn run() {
    let url = std::env::var("CUSTODE_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let n: usize = std::env::var("CUSTODE_BENCH_SUBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must run at {url}: {e}"));
    load_if_needed(&mut conn, 2 * n).await;
    let picked: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {SCHEMA}.customers WHERE email LIKE 'user%' ORDER BY random() LIMIT {}",
        2 * n
    )))
    .fetch_all(&mut conn)
    .await
    .expect("subjects")
    .iter()
    .map(|r| r.get::<i64, _>(0))
    .collect();
    let rows: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT count(*) FROM {SCHEMA}.customers) + (SELECT count(*) FROM {SCHEMA}.orders) \
         + (SELECT count(*) FROM {SCHEMA}.login_events) + (SELECT count(*) FROM {SCHEMA}.tickets)"
    )))
    .fetch_one(&mut conn)
    .await
    .expect("count")
    .get(0);

    let policy_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/telecom.toml");
    let policy = custode_policy::load(
        "telecom.toml",
        &std::fs::read_to_string(policy_path).expect("policy"),
    )
    .expect("policy loads");
    let systems_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../systems/app.toml");
    let source: String = std::fs::read_to_string(systems_path)
        .expect("systems/app.toml")
        .lines()
        .filter(|l| !l.starts_with("password_env"))
        .map(|l| {
            if l.starts_with("url = ") {
                format!("url = \"{url}\"\n")
            } else if l.starts_with("schema = ") {
                format!("schema = \"{SCHEMA}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let mapping = custode_connectors::load("app.toml", &source, &policy).expect("app.toml maps");
    let connectors = Connectors::from_mappings(vec![mapping]).expect("connectors");

    let ids = |id: i64| SubjectIdentifiers::new().email(format!("user{id}@example.com"));
    // Warm-up: the pool's first connection and the catalogue.
    for id in picked.iter().take(3) {
        connectors.access(&ids(*id)).await.expect("access");
    }
    let (access_ids, erase_ids) = picked.split_at(n.min(picked.len()));
    let mut access = Vec::new();
    let mut found_rows = 0usize;
    for id in access_ids {
        let start = Instant::now();
        let r = connectors.access(&ids(*id)).await.expect("access");
        access.push(start.elapsed());
        assert!(r.is_complete());
        found_rows += r.tables().map(|t| t.rows.len()).sum::<usize>();
    }
    let mut erase = Vec::new();
    let mut changed = 0u64;
    for id in erase_ids {
        let start = Instant::now();
        let r = connectors.erase(&ids(*id)).await.expect("erase");
        erase.push(start.elapsed());
        assert!(r.is_complete());
        changed += r.changes();
    }
    connectors.close().await;

    println!("app_data bench: PostgreSQL at {}", redact(&url));
    println!(
        "data: {rows} rows (customers, orders, login_events, tickets) in schema {SCHEMA}; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "access:  {} subjects, {:.1} rows each; {}",
        access.len(),
        found_rows as f64 / access.len().max(1) as f64,
        stats(&mut access)
    );
    println!(
        "erasure: {} subjects, {:.1} rows changed each; {}",
        erase.len(),
        changed as f64 / erase.len().max(1) as f64,
        stats(&mut erase)
    );
}

fn stats(d: &mut [Duration]) -> String {
    d.sort();
    if d.is_empty() {
        return "no sample".into();
    }
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    let pct = |p: f64| d[((d.len() - 1) as f64 * p).round() as usize];
    format!(
        "median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms",
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(d[0]),
        ms(d[d.len() - 1])
    )
}

fn redact(url: &str) -> String {
    custode_connectors::redact(url, &[])
}

/// Loads app_data.sql into its own schema unless enough subjects are left.
async fn load_if_needed(conn: &mut sqlx::PgConnection, need: usize) {
    let intact: Option<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {SCHEMA}.customers WHERE email LIKE 'user%'"
    )))
    .fetch_one(&mut *conn)
    .await
    .ok()
    .map(|r| r.get(0));
    if intact.is_some_and(|n| n as usize >= need.max(1000)) {
        return;
    }
    let path = std::env::var("CUSTODE_APP_DATA_SQL").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/bench/app_data.sql"
        )
        .into()
    });
    let sql = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (set CUSTODE_APP_DATA_SQL)"));
    eprintln!("loading {path} into schema {SCHEMA} (once)...");
    let start = Instant::now();
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; SET search_path TO {SCHEMA};"
    ))))
    .await
    .expect("schema");
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
        .await
        .expect("app_data.sql loads");
    conn.execute(sqlx::raw_sql("SET search_path TO DEFAULT"))
        .await
        .expect("search path");
    eprintln!("loaded in {:.1} s", start.elapsed().as_secs_f64());
}
