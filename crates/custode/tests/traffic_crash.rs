//! `kill -9` in the middle of `custode traffic ingest`, then the same
//! command again: every line of the file stored exactly once, the restart
//! saying where it resumed, the audit chain intact.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use custode_domain::{NewRecord, Principal, SystemClock, TenantKind};
use custode_server::Custode;
use custode_store::{OpenMode, StoreConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn custode(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custode"));
    c.current_dir(root())
        .env_remove("CUSTODE_MASTER_KEY")
        .args(["--data", &data.display().to_string()])
        .args(["--policy", "policies/telecom.toml"]);
    c
}

async fn open(data: &std::path::Path, mode: OpenMode) -> Custode {
    let source = std::fs::read_to_string(root().join("policies/telecom.toml")).expect("policy");
    let policy = Arc::new(custode_policy::load("telecom.toml", &source).expect("valid"));
    Custode::open(
        &StoreConfig::in_data_dir(data, mode).expect("config"),
        policy,
        Arc::new(SystemClock),
    )
    .await
    .expect("store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_ingestion_resumes_and_stores_every_line_once() {
    let dir = std::env::temp_dir().join(format!("custode-traffic-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let app = open(&data, OpenMode::CreateIfMissing).await;
    let sys = Principal::system("setup");
    let provider = app
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("tenant");
    let domain = app
        .store
        .create_tenant(&sys, Some(&provider.id), TenantKind::Domain, "lines")
        .await
        .expect("domain");
    let subscribers = app
        .store
        .create_subjects(&sys, &domain.id, "customer", 100, "setup")
        .await
        .expect("subjects");
    let batch = subscribers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let record = NewRecord {
                category: "master_data".into(),
                fields: [(
                    "phone".to_owned(),
                    serde_json::Value::from(format!("+39333{i:07}")),
                )]
                .into_iter()
                .collect(),
                source: "setup".into(),
                purposes: vec![],
                collected_at: None,
            };
            (s.clone(), record)
        })
        .collect();
    app.store
        .write_records(&sys, "setup", batch)
        .await
        .expect("records");
    app.close().await;

    // 60,000 calls of the last days, from the subscribers and a few
    // numbers nobody holds.
    const CALLS: usize = 60_000;
    let path = dir.join("calls.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("file"));
    writeln!(file, "caller,callee,start,duration,answered,cell").expect("write");
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(72);
    for i in 0..CALLS {
        let at = start + jiff::SignedDuration::from_secs(i as i64 * 3);
        writeln!(
            file,
            "+39333{:07},+3906{:08},{at},{},{},cell-{}",
            i % 103,
            i * 7919 % 100_000_000,
            i % 600,
            u8::from(i % 9 != 0),
            i % 40
        )
        .expect("write");
    }
    drop(file);

    // Killed after its first committed batch.
    let mut child = custode(&data)
        .args(["traffic", "ingest", "--kind", "cdr", "--batch", "1000"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ingestion starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("line");
    assert!(first.starts_with("committed through line"), "{first}");
    child.kill().expect("kill -9");
    let _ = child.wait();

    let out = custode(&data)
        .args(["traffic", "ingest", "--kind", "cdr"])
        .arg(&path)
        .output()
        .expect("restart");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed: u64 = text
        .lines()
        .find_map(|l| l.split("resumed after line ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .expect("the restart says where it resumed");
    assert!(resumed > 1 && resumed < CALLS as u64 + 1, "{resumed}");
    assert!(
        text.contains(&format!(
            "lines read {}, stored {CALLS}, pending links",
            CALLS + 1
        )),
        "{text}"
    );
    // Once more: nothing read again.
    let out = custode(&data)
        .args(["traffic", "ingest", "--kind", "cdr"])
        .arg(&path)
        .output()
        .expect("again");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ingested before"));

    let app = open(&data, OpenMode::Existing).await;
    let mut rows = 0i64;
    let partitions = app.traffic.partitions().await.expect("partitions");
    for p in &partitions {
        rows += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            p.id
        )))
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    }
    assert_eq!(rows, CALLS as i64, "every line once");
    assert_eq!(
        partitions.iter().map(|p| p.records).sum::<u64>(),
        CALLS as u64
    );
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
