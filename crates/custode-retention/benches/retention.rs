//! The retention sweeper under load, on SQLite.
//!
//! `cargo bench -p custode-retention --bench retention -- [TOTAL:EXPIRED ...]`
//!
//! For each pair, a fresh store holds TOTAL records (website visit
//! statistics of the email-hosting example, kept 13 months from collection)
//! over 1,000 visitors, of which EXPIRED were collected two years ago and
//! are due; the rest are a day old. Records are written in the order they
//! were collected (old first); with BENCH_SCATTER the expired ones are
//! spread evenly through the table instead. Then times `sweep_all` in batches of
//! 100,000 (as the server's job; BENCH_BATCH overrides; each one transaction with its report and audit entry) until
//! nothing is due, and checks that exactly EXPIRED records went.
//! Default: the two curves of BENCHMARKS.md — total fixed at 2,000,000 with
//! 100,000 to 1,000,000 expired, and 200,000 expired in 500,000 to
//! 4,000,000 stored.

use std::sync::Arc;

use custode_app::Custode;
use std::time::Instant;

use custode_domain::{NewRecord, Principal, SubjectId, SystemClock, TenantKind};
use custode_store::{OpenMode, StoreConfig};

/// Records per sweep transaction; BENCH_BATCH overrides.
fn batch() -> u32 {
    std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn visit(n: usize, days_ago: i64) -> NewRecord {
    NewRecord {
        category: "visits".into(),
        fields: [(
            "pages_viewed".to_owned(),
            serde_json::Value::from(format!("/page/{}", n % 97)),
        )]
        .into_iter()
        .collect(),
        source: "matomo".into(),
        purposes: vec![],
        collected_at: Some(
            jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days_ago),
        ),
    }
}

async fn run(total: usize, expired: usize) {
    let dir = std::env::temp_dir().join(format!(
        "custode-bench-sweep-{}-{total}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
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
    let app = Custode::open(&config, policy, Arc::new(SystemClock))
        .await
        .expect("store");
    let sys = Principal::system("bench");
    let provider = app
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("tenant");
    let visitors: Vec<SubjectId> = app
        .store
        .create_subjects(&sys, &provider.id, "visitor", 1000, "bench")
        .await
        .expect("subjects");
    let scatter = std::env::var_os("BENCH_SCATTER").is_some();
    let mut written = 0;
    while written < total {
        let n = (total - written).min(10_000);
        let batch = (written..written + n)
            .map(|i| {
                // Written in the order they were collected, as in life: the
                // old ones first. BENCH_SCATTER spreads them evenly through
                // the table instead (records freed by account closures).
                let old = if scatter {
                    i * expired / total != (i + 1) * expired / total
                } else {
                    i < expired
                };
                (
                    visitors[i % visitors.len()].clone(),
                    visit(i, if old { 730 } else { 1 }),
                )
            })
            .collect();
        written += app
            .store
            .write_records(&sys, "bench", batch)
            .await
            .expect("write") as usize;
    }
    let due = app.retention.retention_due().await.expect("due");
    assert_eq!(due as usize, expired, "the set-up made {due} records due");
    let started = Instant::now();
    let report = app.retention.sweep_all(&sys, batch()).await.expect("sweep");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.erased as usize, expired);
    assert_eq!(app.retention.retention_due().await.expect("due"), 0);
    println!(
        "total {total:>9}  expired {expired:>9}{}  swept in {secs:>7.3} s  {:>9.0} records/s",
        if scatter { " (scattered)" } else { "" },
        expired as f64 / secs
    );
    app.close().await;
    if std::env::var_os("BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<(usize, usize)> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .filter_map(|a| {
            let (t, e) = a.split_once(':')?;
            Some((t.parse().ok()?, e.parse().ok()?))
        })
        .collect();
    let runs = if args.is_empty() {
        vec![
            (2_000_000, 100_000),
            (2_000_000, 500_000),
            (2_000_000, 1_000_000),
            (500_000, 200_000),
            (1_000_000, 200_000),
            (2_000_000, 200_000),
            (4_000_000, 200_000),
        ]
    } else {
        args
    };
    for (total, expired) in runs {
        run(total, expired).await;
    }
}
