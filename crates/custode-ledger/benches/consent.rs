//! A consent ledger of realistic size, for the decision benchmark.
//!
//! `cargo bench -p custode-ledger --bench consent -- DIR [SUBJECTS] [EVENTS]`
//!
//! Creates a data directory DIR (SQLite, telecom example policy) holding
//! SUBJECTS subjects (default 1,000,000) over 100 domains and EVENTS ledger
//! events (default 5,000,000: consents given and withdrawn to marketing and
//! the directory, objections and restrictions), recorded in batches through
//! the app, audit entries included. Writes the subject ids to
//! DIR/subjects.txt for the HTTP load generator (`scripts/bench-decisions`),
//! then times warming the decision cache and deciding in process.

use std::io::Write;
use std::sync::Arc;

use custode_app::Custode;
use std::time::Instant;

use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::{Principal, SubjectId, SystemClock, TenantKind};
use custode_ledger::NewConsentEvent;
use custode_store::{OpenMode, StoreConfig};

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
    let Some(dir) = args.first().map(std::path::PathBuf::from) else {
        eprintln!(
            "usage: cargo bench -p custode-ledger --bench consent -- DIR [SUBJECTS] [EVENTS]"
        );
        std::process::exit(2);
    };
    let subject_count: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let event_count: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/telecom.toml"),
    )
    .expect("policy");
    let policy = Arc::new(custode_policy::load("telecom.toml", &source).expect("policy"));
    let config = StoreConfig::in_data_dir(&dir, OpenMode::CreateIfMissing).expect("config");
    let app = Custode::open(&config, policy, Arc::new(SystemClock))
        .await
        .expect("store");
    let sys = Principal::system("bench");
    let provider = app
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "provider")
        .await
        .expect("provider");
    let mut domains = Vec::new();
    for i in 0..100 {
        domains.push(
            app.store
                .create_tenant(
                    &sys,
                    Some(&provider.id),
                    TenantKind::Domain,
                    &format!("d{i}"),
                )
                .await
                .expect("domain"),
        );
    }
    let started = Instant::now();
    let mut subjects: Vec<SubjectId> = Vec::with_capacity(subject_count);
    while subjects.len() < subject_count {
        let n = (subject_count - subjects.len()).min(10_000);
        let domain = &domains[subjects.len() / 10_000 % domains.len()];
        subjects.extend(
            app.store
                .create_subjects(&sys, &domain.id, "customer", n, "bench")
                .await
                .expect("subjects"),
        );
    }
    println!(
        "{} subjects created in {:.1} s",
        subjects.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut written = 0usize;
    // Each subject's events in order: a consent given, then by chance a
    // withdrawal, the directory, a renewed consent; a few objections and
    // restrictions.
    let plan = |r: u64| -> (EventKind, Option<&'static str>) {
        match r % 100 {
            0..=44 => (EventKind::Given, Some("marketing")),
            45..=69 => (EventKind::Withdrawn, Some("marketing")),
            70..=89 => (EventKind::Given, Some("directory")),
            90..=95 => (EventKind::Withdrawn, Some("directory")),
            96..=97 => (EventKind::Objected, None),
            98 => (EventKind::ObjectionLifted, Some("website")),
            _ => (EventKind::Restricted, None),
        }
    };
    while written < event_count {
        let n = (event_count - written).min(20_000);
        let batch: Vec<(SubjectId, NewConsentEvent)> = (0..n)
            .map(|_| {
                let subject = subjects[(rng(&mut seed) % subjects.len() as u64) as usize].clone();
                let (kind, purpose) = plan(rng(&mut seed));
                let evidence = if kind == EventKind::Given && rng(&mut seed).is_multiple_of(4) {
                    Evidence {
                        ip: Some(format!("192.0.2.{}", rng(&mut seed) % 250)),
                        user_agent: Some("Synthetic/1.0".into()),
                        form_id: Some("signup-v3".into()),
                        operator: None,
                    }
                } else {
                    Evidence::default()
                };
                (
                    subject,
                    NewConsentEvent {
                        kind,
                        purpose: purpose.map(str::to_owned),
                        channel: Channel::WebForm,
                        language: None,
                        evidence,
                    },
                )
            })
            .collect();
        written += app
            .ledger
            .record_consents(&sys, batch)
            .await
            .expect("events")
            .len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{written} ledger events recorded in {secs:.1} s ({:.0} events/s)",
        written as f64 / secs
    );
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(dir.join("subjects.txt")).expect("subjects file"),
    );
    for s in &subjects {
        writeln!(file, "{s}").expect("write");
    }
    file.flush().expect("flush");
    let started = Instant::now();
    let warm = app.ledger.warm_decisions().await.expect("warm");
    println!(
        "decision cache warmed with {warm} subjects in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let n = 2_000_000u64;
    let mut allowed = 0u64;
    for _ in 0..n {
        let s = &subjects[(rng(&mut seed) % subjects.len() as u64) as usize];
        if app
            .ledger
            .decide(&sys, s, "marketing")
            .await
            .expect("decide")
            .allowed
        {
            allowed += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "in process: {n} decisions in {secs:.2} s ({:.0}/s, one task), {:.1} % allowed",
        n as f64 / secs,
        allowed as f64 * 100.0 / n as f64
    );
    app.close().await;
}
