//! Resolving the people and records a breach touched, over many records.
//!
//! `cargo bench -p custode-breaches --bench affected -- [sqlite|postgres] [RECORDS]`
//!
//! Fills a fresh store (RECORDS, default 10,000,000, else
//! `CUSTODE_BENCH_RECORDS`) with 100 domains of a reseller, ten records a
//! person, seven in ten of them mail-server access logs (`usage`) and the
//! rest contact cards, collected over 52 weeks. The rows are written by
//! SQL with random 120-byte payloads in place of sealed ones (what the
//! query reads is the rows' metadata, never a payload; sealing 10 M
//! records first would take the machine minutes). Then times, each
//! assessment in one transaction as in production:
//! - one domain's access logs over one week (the breach);
//! - the whole reseller's access logs over one week (every record scanned
//!   for the window: the worst case).

use std::sync::Arc;
use std::time::Instant;

use custode_breaches::{Facts, Nature, NewBreach, Scope};
use custode_domain::{Principal, Role, Scope as Tree, SystemClock, TenantKind};
use custode_store::{Engine, MasterKeySource, OpenMode, StoreConfig};
use custode_testkit::Custode;
use jiff::{SignedDuration, Timestamp};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DOMAINS: i64 = 100;
const PER_SUBJECT: i64 = 10;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let engine = args.first().map_or("sqlite", String::as_str).to_owned();
    let records: i64 = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("CUSTODE_BENCH_RECORDS").ok())
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let subjects = records / PER_SUBJECT;
    let dir = std::env::temp_dir().join(format!("custode-bench-breach-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let tag = format!("bench_breach_{}", std::process::id());
    let pg = custode_testkit::postgres_url();
    let key = || MasterKeySource::Given(custode_crypto::Key::generate().expect("random"));
    let config = if engine == "postgres" {
        let pool = sqlx::PgPool::connect(&pg).await.expect("PostgreSQL");
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
        StoreConfig {
            database_url: format!("sqlite://{}", dir.join("custode.db").display()),
            keystore_url: format!("sqlite://{}", dir.join("keys.db").display()),
            master_key: key(),
            mode: OpenMode::CreateIfMissing,
            vault_url: format!("sqlite://{}", dir.join("vault.db").display()),
            vault_key: key(),
        }
    };
    let policy = Arc::new(
        custode_policy::load(
            "email-hosting.toml",
            include_str!("../../../policies/email-hosting.toml"),
        )
        .expect("policy"),
    );
    let app = Custode::open(&config, policy, Arc::new(SystemClock))
        .await
        .expect("open");
    let store = &app.store;
    let admin = Principal {
        id: "bench:admin".into(),
        role: Role::Administrator,
        scope: Tree::everything(),
    };
    let provider = store
        .create_tenant(&admin, None, TenantKind::Provider, "provider")
        .await
        .expect("provider");
    let reseller = store
        .create_tenant(&admin, Some(&provider.id), TenantKind::Reseller, "reseller")
        .await
        .expect("reseller");
    let mut domains = Vec::new();
    for d in 0..DOMAINS {
        domains.push(
            store
                .create_tenant(
                    &admin,
                    Some(&reseller.id),
                    TenantKind::Domain,
                    &format!("d{d}.example"),
                )
                .await
                .expect("domain"),
        );
    }
    let now = Timestamp::now();
    let week_us: i64 = 7 * 24 * 3600 * 1_000_000;
    let start_us = custode_domain::clock::to_micros(now) - 52 * week_us;
    let filled = Instant::now();
    let e = store.engine();
    let pool = store.writer();
    let (series, id_of, blob) = match e {
        Engine::Sqlite => (
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1) ",
            "printf('%032x', i + $2)",
            "randomblob(120)",
        ),
        Engine::Postgres => (
            "WITH n(i) AS (SELECT generate_series(0, $1 - 1)) ",
            "lpad(to_hex(i + $2), 32, '0')",
            "decode(repeat(md5(i::text), 8) || md5((i + 1)::text) || substr(md5((i + 2)::text), 1, 16), 'hex')",
        ),
    };
    // Subjects: a block per domain, so row keys run in order.
    let per_domain = subjects / DOMAINS;
    for (d, domain) in domains.iter().enumerate() {
        let sql = format!(
            "{series}INSERT INTO subjects (id, tenant_id, tenant_path, kind, created_at) \
             SELECT {id_of}, $3, $4, 'mailbox_user', $5 FROM n"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(per_domain)
            .bind(d as i64 * per_domain)
            .bind(domain.id.as_str())
            .bind(domain.path.as_str())
            .bind(start_us)
            .execute(pool)
            .await
            .expect("subjects");
    }
    let first_key: i64 = sqlx::query_scalar("SELECT MIN(key) FROM subjects")
        .fetch_one(pool)
        .await
        .expect("key");
    let total = per_domain * DOMAINS * PER_SUBJECT;
    // Record i: subject i / 10; usage unless i % 10 >= 7; a time spread
    // over the 52 weeks by a multiplicative hash of i.
    let sql = format!(
        "{series}INSERT INTO records (subject_key, category, purposes, source, collected_at, retain_until, policy_id, sealed, written_at) \
         SELECT $2 + i / {PER_SUBJECT}, CASE WHEN i % 10 < 7 THEN 'usage' ELSE 'contact' END, 'operation', 'bench', \
         $3 + ((i * 7919) % 52000) * ($4 / 1000), NULL, 1, {blob}, $3 FROM n"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(total)
        .bind(first_key)
        .bind(start_us)
        .bind(week_us)
        .execute(pool)
        .await
        .expect("records");
    store.refresh_statistics().await.expect("statistics");
    println!(
        "{engine}: {} subjects, {total} records in {DOMAINS} domains, filled in {:.1} s",
        per_domain * DOMAINS,
        filled.elapsed().as_secs_f64()
    );

    let dpo = Principal {
        id: "bench:dpo".into(),
        role: Role::Dpo,
        scope: Tree::everything(),
    };
    let week_from = custode_domain::clock::from_micros(start_us + 20 * week_us);
    let week = Scope {
        categories: vec!["usage".into()],
        collected_from: Some(week_from),
        collected_until: Some(week_from + SignedDuration::from_hours(24 * 7)),
        ..Scope::default()
    };
    let breach = |tenant: &custode_domain::TenantId| NewBreach {
        tenant: tenant.clone(),
        detected_at: Some(now - SignedDuration::from_hours(2)),
        aware_at: Some(now - SignedDuration::from_hours(1)),
        facts: Facts {
            nature: vec![Nature::Confidentiality],
            description: "access logs copied".into(),
            data_categories: vec!["usage".into()],
            ..Facts::default()
        },
    };
    for (name, tenant) in [
        ("one domain", &domains[7].id),
        ("the whole reseller", &reseller.id),
    ] {
        let b = app
            .breaches
            .record(&dpo, breach(tenant))
            .await
            .expect("breach");
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            last = Some(
                app.breaches
                    .assess(&dpo, &b.id, week.clone())
                    .await
                    .expect("assess"),
            );
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let a = last.expect("ran");
        println!(
            "{engine}: {name}, access logs over one week: {} people, {} records; median {:.3} s, best {:.3} s, worst {:.3} s (5 runs)",
            a.subjects, a.records, times[2], times[0], times[4]
        );
    }
    app.close().await;
    if engine == "postgres" {
        let pool = sqlx::PgPool::connect(&pg).await.expect("PostgreSQL");
        for s in [tag.clone(), format!("{tag}_keys"), format!("{tag}_vault")] {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {s} CASCADE")))
                .execute(&pool)
                .await;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
