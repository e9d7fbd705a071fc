//! `kill -9` in the middle of a retention sweep, then a restart: everything
//! due ends erased, nothing else, each erasure reported once, the audit
//! chain intact.

use custode_server::Custode;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use custode_domain::{NewRecord, Principal, SystemClock, TenantKind};
use custode_store::{LifeEvent, OpenMode, StoreConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn custode(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custode"));
    c.current_dir(root())
        .env_remove("CUSTODE_MASTER_KEY")
        .args(["--data", &data.display().to_string()])
        .args(["--policy", "policies/email-hosting.toml"]);
    c
}

fn contact(n: usize) -> NewRecord {
    NewRecord {
        category: "contact".into(),
        fields: [(
            "email".to_owned(),
            serde_json::Value::from(format!("user{n}@example.org")),
        )]
        .into_iter()
        .collect(),
        source: "test".into(),
        purposes: vec![],
        collected_at: Some(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 800)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sweep_resumes_and_erases_exactly_what_is_due() {
    let dir = std::env::temp_dir().join(format!("custode-sweep-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let source =
        std::fs::read_to_string(root().join("policies/email-hosting.toml")).expect("policy");
    let policy = Arc::new(custode_policy::load("p.toml", &source).expect("valid"));
    let app = Custode::open(
        &StoreConfig::in_data_dir(&data, OpenMode::CreateIfMissing).expect("config"),
        policy,
        Arc::new(SystemClock),
    )
    .await
    .expect("store");
    let sys = Principal::system("setup");
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
    let closed = app
        .store
        .create_subjects(&sys, &domain.id, "mailbox_user", 30, "setup")
        .await
        .expect("subjects");
    for (i, s) in closed.iter().enumerate() {
        let batch = (0..2000)
            .map(|n| (s.clone(), contact(i * 2000 + n)))
            .collect();
        app.store
            .write_records(&sys, "setup", batch)
            .await
            .expect("write");
        app.retention
            .record_life_event(
                &sys,
                s,
                LifeEvent::AccountClosed,
                Some(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 700)),
                "closed",
            )
            .await
            .expect("close");
    }
    let open = app
        .store
        .create_subject(&sys, &domain.id, "mailbox_user", "setup")
        .await
        .expect("subject");
    let batch = (0..500)
        .map(|n| (open.clone(), contact(100_000 + n)))
        .collect();
    app.store
        .write_records(&sys, "setup", batch)
        .await
        .expect("write");
    assert_eq!(app.retention.retention_due().await.expect("due"), 60_000);
    app.close().await;

    // Killed after its first committed batch.
    let mut child = custode(&data)
        .args(["retention", "run", "--batch", "500"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sweep starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("line");
    assert!(first.starts_with("committed"), "{first}");
    child.kill().expect("kill -9");
    let _ = child.wait();

    let out = custode(&data)
        .args(["retention", "run", "--dry-run"])
        .output()
        .expect("dry run");
    let plan = String::from_utf8_lossy(&out.stdout);
    let due_after_kill: u64 = plan
        .lines()
        .filter_map(|l| l.split('\t').nth(4)?.parse::<u64>().ok())
        .sum();
    assert!(
        due_after_kill > 0 && due_after_kill < 60_000,
        "the kill came midway: {due_after_kill} still due"
    );
    assert_eq!(
        due_after_kill % 500,
        0,
        "whole batches or nothing: {due_after_kill}"
    );

    let out = custode(&data)
        .args(["retention", "run", "--batch", "500"])
        .output()
        .expect("restart");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("done: {due_after_kill} records erased")),
        "{text}"
    );

    let app = Custode::open(
        &StoreConfig::in_data_dir(&data, OpenMode::Existing).expect("config"),
        Arc::new(custode_policy::load("p.toml", &source).expect("valid")),
        Arc::new(SystemClock),
    )
    .await
    .expect("store");
    assert_eq!(app.retention.retention_due().await.expect("due"), 0);
    let kept = app.store.records(&sys, &open, "check").await.expect("read");
    assert_eq!(kept.len(), 500, "nothing that was not due was erased");
    let reported: u64 = app
        .retention
        .retention_report(jiff::Timestamp::UNIX_EPOCH)
        .await
        .expect("report")
        .iter()
        .map(|l| l.records)
        .sum();
    assert_eq!(reported, 60_000, "each erasure reported once");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
