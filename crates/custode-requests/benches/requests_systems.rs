//! Rights requests that reach the provider's own database, end to end.
//!
//! `cargo bench -p custode-requests --bench requests_systems`
//!
//! The benchmark database `../shared/bench/app_data.sql` (1.65M rows) in
//! the schema `bench_app_data` of the local PostgreSQL, as loaded by
//! `cargo bench -p custode-connectors --bench app_data` (run it first), is
//! attached to a Custode store (SQLite, telecom policy) through
//! `systems/app.toml`. For each of N customers (`CUSTODE_BENCH_SUBJECTS`,
//! default 20) Custode holds the subject with its email; a verified access
//! request is timed from queued to its package (Custode's records and every
//! row of the subject in the app database) read back, and a verified
//! erasure request from queued to its job done (the app database's declared
//! actions committed, then Custode's own steps). Prints medians and p90.
//!
//! With `CUSTODE_BENCH_BY_EMAIL=1` nothing is created first: each request
//! is filed by the customer's e-mail address (issue #21), its identity
//! attested by a system (the telecom policy's `attest_roles`), and timed
//! from filing to the package read back (access) or the job done
//! (erasure).

use std::sync::Arc;

use custode_app::Custode;
use std::time::{Duration, Instant};

use custode_connectors::Connectors;
use custode_domain::requests::Right;
use custode_domain::{NewRecord, Principal, SystemClock, TenantKind};
use custode_requests::{DocumentKind, FulfilmentInput, NewRequest, Requester};
use custode_store::{OpenMode, StoreConfig};
use sqlx::{Connection, Row};

const SCHEMA: &str = "bench_app_data";

fn stats(d: &mut [Duration]) -> String {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    let pct = |p: f64| d[((d.len() - 1) as f64 * p).round() as usize];
    format!(
        "median {:.1} ms, p90 {:.1} ms, worst {:.1} ms over {}",
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(d[d.len() - 1]),
        d.len()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = "postgres://postgres@127.0.0.1:5432/test";
    let n: usize = std::env::var("CUSTODE_BENCH_SUBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must run at {url}: {e}"));
    let picked: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {SCHEMA}.customers WHERE email LIKE 'user%' ORDER BY random() LIMIT {}",
        2 * n
    )))
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| {
        panic!(
            "load the app database first: cargo bench -p custode-connectors --bench app_data ({e})"
        )
    })
    .iter()
    .map(|r| r.get::<i64, _>(0))
    .collect();
    assert!(
        picked.len() >= 2 * n,
        "too few customers left: reload the schema"
    );

    let policy = Arc::new(
        custode_policy::load(
            "telecom.toml",
            include_str!("../../../policies/telecom.toml"),
        )
        .expect("policy"),
    );
    let source: String = include_str!("../../../systems/app.toml")
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
    let dir = std::env::temp_dir().join(format!("custode-bench-reqsys-{}", std::process::id()));
    let app = Custode::open(
        &StoreConfig::in_data_dir(&dir, OpenMode::CreateIfMissing).expect("config"),
        policy,
        Arc::new(SystemClock),
    )
    .await
    .expect("store");
    app.requests
        .attach_systems(Connectors::from_mappings(vec![mapping]).expect("connectors"))
        .expect("attach");
    let sys = Principal::system("bench");
    let provider = app
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("tenant");
    let mut access = Vec::new();
    let mut erasure = Vec::new();
    let mut external_rows = 0usize;
    let by_email = std::env::var("CUSTODE_BENCH_BY_EMAIL").is_ok_and(|v| v == "1");
    for (i, customer) in picked.iter().enumerate() {
        let right = if i < n { Right::Access } else { Right::Erasure };
        if by_email {
            let t = Instant::now();
            let id = app
                .requests
                .file_request_by_identity(
                    &sys,
                    custode_requests::RequestByIdentity {
                        identity: custode_requests::Identity::parse(
                            &app.store.policy(),
                            "email",
                            &format!("user{customer}@example.com"),
                        )
                        .expect("email"),
                        tenant: Some(provider.id.clone()),
                        subject_kind: None,
                        rights: vec![right],
                        requester: Requester::Subject,
                        contact: None,
                        text: String::new(),
                        language: None,
                    },
                )
                .await
                .expect("file")
                .request
                .id;
            app.requests
                .attest_identity(
                    &sys,
                    &id,
                    custode_requests::Attestation {
                        method: "bench".into(),
                        verified_by: "bench".into(),
                        reference: id.clone(),
                    },
                )
                .await
                .expect("attest");
            app.requests
                .queue_fulfilment(&sys, &id, FulfilmentInput::default())
                .await
                .expect("queue");
            app.requests
                .run_due_jobs(Duration::from_secs(30), &|_| {})
                .await
                .expect("jobs");
            if right == Right::Access {
                let zip = app
                    .requests
                    .request_export(&sys, &id, Right::Access)
                    .await
                    .expect("package");
                access.push(t.elapsed());
                external_rows += zip.windows(11).filter(|w| w == b"\"customers\"").count();
            } else {
                erasure.push(t.elapsed());
                let done = app.requests.request(&sys, &id).await.expect("request");
                assert_eq!(done.jobs[0].state, "done", "{:?}", done.jobs[0]);
            }
            continue;
        }
        let s = app
            .store
            .create_subject(&sys, &provider.id, "customer", "bench")
            .await
            .expect("subject");
        let record = NewRecord {
            category: "master_data".into(),
            fields: [(
                "email".to_owned(),
                serde_json::json!(format!("user{customer}@example.com")),
            )]
            .into(),
            source: "bench".into(),
            purposes: vec![],
            collected_at: None,
        };
        app.store
            .write_records(&sys, "bench", vec![(s.clone(), record)])
            .await
            .expect("write");
        let id = app
            .requests
            .file_request(
                &sys,
                NewRequest {
                    subject: s.clone(),
                    rights: vec![right],
                    requester: Requester::Subject,
                    contact: format!("user{customer}@example.com"),
                    text: String::new(),
                    language: None,
                },
            )
            .await
            .expect("file")
            .id;
        app.requests
            .put_document(
                &sys,
                &id,
                DocumentKind::IdDocument,
                "application/pdf",
                b"%PDF-1.7 scan",
            )
            .await
            .expect("document");
        app.requests
            .approve_identity(&sys, &id)
            .await
            .expect("approve");
        let t = Instant::now();
        app.requests
            .queue_fulfilment(&sys, &id, FulfilmentInput::default())
            .await
            .expect("queue");
        app.requests
            .run_due_jobs(Duration::from_secs(30), &|_| {})
            .await
            .expect("jobs");
        if right == Right::Access {
            let zip = app
                .requests
                .request_export(&sys, &id, Right::Access)
                .await
                .expect("package");
            access.push(t.elapsed());
            external_rows += zip.windows(11).filter(|w| w == b"\"customers\"").count();
        } else {
            erasure.push(t.elapsed());
            let done = app.requests.request(&sys, &id).await.expect("request");
            assert_eq!(done.jobs[0].state, "done", "{:?}", done.jobs[0]);
        }
    }
    println!(
        "app_data (1.65M rows) attached to a Custode app; {} cores",
        std::thread::available_parallelism().map_or(0, |c| c.get())
    );
    assert!(
        external_rows >= n,
        "every package holds the app database's rows"
    );
    let from = if by_email {
        "filed by e-mail"
    } else {
        "queued"
    };
    println!(
        "access request, {from} to package read: {}",
        stats(&mut access)
    );
    println!(
        "erasure request, {from} to job done:    {}",
        stats(&mut erasure)
    );
    app.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
