//! Rights requests under load, on SQLite.
//!
//! `cargo bench -p custode-requests --bench requests -- [BACKGROUND] [PER_SUBJECT] [SUBJECTS]`
//!
//! A store holding BACKGROUND records (default 10,000,000: usage records of
//! the email-hosting example over 100,000 mailboxes), plus SUBJECTS
//! (default 20) mailboxes with PER_SUBJECT (default 1,000) records each in
//! four categories. For each of those: an access request is filed, its
//! identity approved, and its fulfilment timed from queuing to the package
//! read back (its job reads and audits the records and the consent ledger,
//! builds JSON, CSV, the Art. 15 summary and the ZIP, and stores it
//! sealed); then an erasure request, from queuing to its job done (account
//! closed, vault moves, legal holds, deletion, all four durable steps).
//! Prints the median and the worst of each.

use std::collections::BTreeMap;
use std::sync::Arc;

use custode_app::Custode;
use std::time::{Duration, Instant};

use custode_domain::requests::Right;
use custode_domain::{NewRecord, Principal, SubjectId, SystemClock, TenantKind};
use custode_requests::{DocumentKind, FulfilmentInput, NewRequest, Requester};
use custode_store::{OpenMode, StoreConfig};

fn record(category: &str, n: usize) -> NewRecord {
    let mut fields = BTreeMap::new();
    let (k, v) = match category {
        "contact" => ("email", format!("user{n}@example.org")),
        "usage" => ("ip_address", format!("192.0.2.{}", n % 250)),
        "requests" => ("message", format!("ticket {n}: please raise my quota")),
        _ => ("invoices", format!("2026/{n:06}")),
    };
    fields.insert(k.to_owned(), serde_json::Value::from(v));
    NewRecord {
        category: category.to_owned(),
        fields,
        source: "bench".into(),
        purposes: vec![],
        collected_at: None,
    }
}

/// Median and worst, and which of the runs (in order) the worst was: the
/// first after a fresh fill also waits for what the fill left behind.
fn stats(v: Vec<Duration>) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let worst_at = (0..v.len()).max_by_key(|&i| v[i]).unwrap_or(0);
    let mut sorted = v.clone();
    sorted.sort();
    format!(
        "median {:.1} ms, worst {:.1} ms (run {} of {})",
        ms(sorted[sorted.len() / 2]),
        ms(sorted[sorted.len() - 1]),
        worst_at + 1,
        v.len()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .filter_map(|a| a.parse().ok())
        .collect();
    let background = args.first().copied().unwrap_or(10_000_000);
    let per = args.get(1).copied().unwrap_or(1_000);
    let count = args.get(2).copied().unwrap_or(20);
    // BENCH_DIR keeps the data directory after the run and, given again,
    // reuses the records already there as the background (filling 10
    // million takes a quarter of an hour).
    let kept = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("custode-bench-requests-{}", std::process::id()))
    });
    let reuse = kept.is_some() && dir.join("custode.db").exists();
    std::fs::create_dir_all(&dir).expect("dir");
    // Key files in the bench's own directory, as `custode serve` keeps them.
    let config = StoreConfig::in_data_dir(&dir, OpenMode::CreateIfMissing).expect("config");
    let policy = Arc::new(
        custode_policy::load(
            "email-hosting.toml",
            include_str!("../../../policies/email-hosting.toml"),
        )
        .expect("policy"),
    );
    let app = Custode::open(&config, policy.clone(), Arc::new(SystemClock))
        .await
        .expect("store");
    let sys = Principal::system("bench");
    let provider = app
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("tenant");
    // Mailboxes live in a domain (the policy's `tenants`).
    let domain = app
        .store
        .create_tenant(&sys, Some(&provider.id), TenantKind::Domain, "d.example")
        .await
        .expect("domain");
    let started = Instant::now();
    let stored: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM records")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    );
    let background = if reuse {
        println!("reusing {stored} records in {}", dir.display());
        0
    } else {
        background
    };
    let mut others: Vec<SubjectId> = Vec::new();
    while background > 0 && others.len() < 100_000.min(background.max(1)) {
        others.extend(
            app.store
                .create_subjects(&sys, &domain.id, "mailbox_user", 10_000, "bench")
                .await
                .expect("subjects"),
        );
    }
    let mut written = 0;
    while written < background {
        let n = (background - written).min(10_000);
        let batch = (written..written + n)
            .map(|i| (others[i % others.len()].clone(), record("usage", i)))
            .collect();
        written += app
            .store
            .write_records(&sys, "bench", batch)
            .await
            .expect("write") as usize;
    }
    let subjects = app
        .store
        .create_subjects(&sys, &domain.id, "mailbox_user", count, "bench")
        .await
        .expect("subjects");
    let categories = ["contact", "usage", "requests", "billing"];
    for s in &subjects {
        let batch = (0..per)
            .map(|i| (s.clone(), record(categories[i % categories.len()], i)))
            .collect();
        app.store
            .write_records(&sys, "bench", batch)
            .await
            .expect("write");
    }
    println!(
        "{} records stored in {:.0} s; {count} subjects of {per} records each",
        stored as usize + background + count * per,
        started.elapsed().as_secs_f64()
    );
    let mut exports = Vec::new();
    let mut erasures = Vec::new();
    let mut size = 0;
    for s in &subjects {
        let file = |rights: Vec<Right>| NewRequest {
            subject: s.clone(),
            rights,
            requester: Requester::Subject,
            contact: "bench@example.org".into(),
            text: String::new(),
            language: None,
        };
        let access = app
            .requests
            .file_request(&sys, file(vec![Right::Access]))
            .await
            .expect("file");
        verify(&app, &sys, &access.id).await;
        // From the verified request queued to its package ready and read.
        let t = Instant::now();
        app.requests
            .queue_fulfilment(&sys, &access.id, FulfilmentInput::default())
            .await
            .expect("queue");
        app.requests
            .run_due_jobs(Duration::from_secs(30), &|_| {})
            .await
            .expect("jobs");
        let zip = app
            .requests
            .request_export(&sys, &access.id, Right::Access)
            .await
            .expect("package");
        exports.push(t.elapsed());
        size = zip.len();
        let erasure = app
            .requests
            .file_request(&sys, file(vec![Right::Erasure]))
            .await
            .expect("file");
        verify(&app, &sys, &erasure.id).await;
        let t = Instant::now();
        app.requests
            .queue_fulfilment(&sys, &erasure.id, FulfilmentInput::default())
            .await
            .expect("queue");
        app.requests
            .run_due_jobs(Duration::from_secs(30), &|_| {})
            .await
            .expect("jobs");
        erasures.push(t.elapsed());
        let done = app
            .requests
            .request(&sys, &erasure.id)
            .await
            .expect("request");
        assert!(
            done.jobs[0]
                .result
                .as_ref()
                .is_some_and(|r| r["erased"].as_u64() > Some(0)),
            "{done:?}"
        );
    }
    println!(
        "access package ({per} records, {} KiB ZIP): {}",
        size / 1024,
        stats(exports)
    );
    println!("erasure ({per} records): {}", stats(erasures));
    app.close().await;
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The identity, checked on a document (outside the timed part).
async fn verify(app: &Custode, by: &custode_domain::Principal, id: &str) {
    app.requests
        .put_document(
            by,
            id,
            DocumentKind::IdDocument,
            "application/pdf",
            b"%PDF-1.7 scan",
        )
        .await
        .expect("document");
    app.requests
        .approve_identity(by, id)
        .await
        .expect("approve");
}
