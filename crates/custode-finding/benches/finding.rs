//! Finding a subject by e-mail among many.
//!
//! `cargo bench -p custode-finding --bench finding -- [sqlite|postgres] [SUBJECTS]`
//!
//! Fills a fresh store with SUBJECTS subjects (the argument, else
//! `CUSTODE_BENCH_SUBJECTS`, else 1,000,000) under one reseller's two
//! domains, each with a contact record whose e-mail address is indexed by
//! its keyed hash, then times 1,000 finds by e-mail of random subjects
//! (each audited, as in production) by the reseller's administrator, and
//! 100 finds of an address nobody has. PostgreSQL: the local server, in
//! fresh schemas.
//!
//! With `CUSTODE_BIN` (a release `custode`, e.g. `target/release/custode`)
//! and SQLite, the same store is then served by that binary and the same
//! finds are timed over HTTP (`GET /api/v1/subjects?identifier=email:…`,
//! one kept-alive connection, a reseller administrator's token): the
//! request as a client sees it, authentication included.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use custode_domain::{NewRecord, Principal, Role, Scope, SubjectId, SystemClock, TenantKind};
use custode_store::{MasterKeySource, OpenMode, StoreConfig};
use custode_testkit::Custode;

/// The allocator the `custode` binary ships with, so the figures are the
/// product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn email(i: usize) -> String {
    format!("user{i}@example.com")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let engine = args.first().map_or("sqlite", String::as_str).to_owned();
    let count: usize = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("CUSTODE_BENCH_SUBJECTS").ok())
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("custode-bench-find-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let tag = format!("bench_find_{}", std::process::id());
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
        // The data directory's own layout and key files, so that `custode
        // serve` can open the same store afterwards.
        StoreConfig::in_data_dir(&dir, OpenMode::CreateIfMissing).expect("config")
    };
    let policy_text = include_str!("../../../policies/email-hosting.toml");
    let policy = Arc::new(custode_policy::load("email-hosting.toml", policy_text).expect("policy"));
    let app = Custode::open(&config, policy, Arc::new(SystemClock))
        .await
        .expect("open");
    let admin = Principal::system("bench");
    let provider = app
        .store
        .create_tenant(&admin, None, TenantKind::Provider, "p")
        .await
        .expect("p");
    let reseller = app
        .store
        .create_tenant(&admin, Some(&provider.id), TenantKind::Reseller, "r")
        .await
        .expect("r");
    let mut domains = Vec::new();
    for name in ["a", "b"] {
        domains.push(
            app.store
                .create_tenant(&admin, Some(&reseller.id), TenantKind::Domain, name)
                .await
                .expect("domain"),
        );
    }
    let t = Instant::now();
    let mut subjects: Vec<SubjectId> = Vec::with_capacity(count);
    while subjects.len() < count {
        let n = (count - subjects.len()).min(10_000);
        let domain = &domains[(subjects.len() / 10_000) % domains.len()];
        let ids = app
            .store
            .create_subjects(&admin, &domain.id, "mailbox_user", n, "bench")
            .await
            .expect("subjects");
        let first = subjects.len();
        let batch: Vec<(SubjectId, NewRecord)> = ids
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let mut fields = BTreeMap::new();
                fields.insert(
                    "email".to_owned(),
                    serde_json::Value::from(email(first + k)),
                );
                (
                    s.clone(),
                    NewRecord {
                        category: "contact".into(),
                        fields,
                        source: "signup".into(),
                        purposes: vec![],
                        collected_at: None,
                    },
                )
            })
            .collect();
        app.store
            .write_records(&admin, "bench", batch)
            .await
            .expect("records");
        subjects.extend(ids);
    }
    println!(
        "{engine}: {count} subjects, each with an e-mail address, in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    if engine == "postgres" {
        // What autovacuum does after a bulk load (it is off on the test
        // server): without statistics the planner walks every subject in
        // scope, 2.5-3.5 s a find at 1 M, instead of probing the hash.
        let pool = sqlx::PgPool::connect(pg).await.expect("PostgreSQL");
        for table in ["subjects", "identifiers"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {tag}.{table}")))
                .execute(&pool)
                .await
                .expect("analyze");
        }
    }
    let by = Principal {
        id: "user:bench-reseller".into(),
        role: Role::ResellerAdmin,
        scope: Scope::under(&reseller.path),
    };
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let i = (state as usize) % count;
        let t = Instant::now();
        let found = app
            .finder
            .find_by_identifier(&by, "email", &email(i), "bench find")
            .await
            .expect("find");
        times.push(t.elapsed());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, subjects[i]);
    }
    times.sort();
    println!(
        "{engine}: find by e-mail among {count}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (1,000 finds, each audited)",
        pct(&times, 0.5),
        pct(&times, 0.99),
        pct(&times, 1.0)
    );
    let mut misses = Vec::with_capacity(100);
    for i in 0..100 {
        let t = Instant::now();
        let found = app
            .finder
            .find_by_identifier(&by, "email", &format!("nobody{i}@example.org"), "bench")
            .await
            .expect("find");
        misses.push(t.elapsed());
        assert!(found.is_empty());
    }
    misses.sort();
    println!(
        "{engine}: find an address nobody has: p50 {:.2} ms, p99 {:.2} ms (100 finds, each audited)",
        pct(&misses, 0.5),
        pct(&misses, 0.99)
    );
    let served = std::env::var_os("CUSTODE_BIN").filter(|_| engine == "sqlite");
    let token = match &served {
        Some(_) => Some(
            app.accounts
                .issue_held_token(
                    &admin,
                    "bench",
                    "bench",
                    &custode_accounts::Grant {
                        role: Role::ResellerAdmin,
                        scope_path: reseller.path.clone(),
                        subject: None,
                    },
                    None,
                )
                .await
                .expect("token")
                .token,
        ),
        None => None,
    };
    app.close().await;
    if let (Some(bin), Some(token)) = (served, token) {
        over_http(&bin, &dir, &token, count);
    } else if engine == "sqlite" {
        println!("(set CUSTODE_BIN=target/release/custode to time the same finds over HTTP)");
    }
    let _ = std::fs::remove_dir_all(&dir);
    if engine == "postgres" {
        let pool = sqlx::PgPool::connect(pg).await.expect("pg");
        for s in [tag.clone(), format!("{tag}_keys"), format!("{tag}_vault")] {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {s} CASCADE")))
                .execute(&pool)
                .await;
        }
    }
}

/// The same finds through `custode serve` on the store just filled.
fn over_http(bin: &std::ffi::OsStr, dir: &std::path::Path, token: &str, count: usize) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let data = dir.display().to_string();
    let policy = format!("{root}/policies/email-hosting.toml");
    let server = custode_testkit::http::Server::start(
        std::path::Path::new(bin),
        &[
            "--data",
            &data,
            "--policy",
            &policy,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-jobs",
        ],
        &[("CUSTODE_LOG", "warn")],
    );
    let mut client = custode_testkit::http::Client::connect(&server.addr).expect("connect");
    let mut get = |address: &str| {
        client
            .send(
                "GET",
                &format!("/api/v1/subjects?identifier=email:{address}&reason=bench%20find"),
                Some(token),
                None,
            )
            .expect("HTTP")
    };
    for i in 0..20 {
        assert_eq!(get(&email(i % count)).status, 200);
    }
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let i = (state as usize) % count;
        let t = Instant::now();
        let answer = get(&email(i));
        times.push(t.elapsed());
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.json()["items"].as_array().map(Vec::len), Some(1));
    }
    times.sort();
    println!(
        "sqlite: GET /api/v1/subjects?identifier=email:… among {count}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (1,000 over one connection, each audited)",
        pct(&times, 0.5),
        pct(&times, 0.99),
        pct(&times, 1.0)
    );
}
