//! `custode audit verify` names a line removed from the vault access log
//! with plain SQL, and exits 1 (issue "Every promise kept", 2).

use custode_server::Custode;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use custode_domain::SystemClock;
use custode_store::{OpenMode, StoreConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn open(data: &std::path::Path) -> Custode {
    let source =
        std::fs::read_to_string(root().join("policies/email-hosting.toml")).expect("policy");
    let policy = Arc::new(custode_policy::load("p.toml", &source).expect("valid"));
    Custode::open(
        &StoreConfig::in_data_dir(data, OpenMode::CreateIfMissing).expect("config"),
        policy,
        Arc::new(SystemClock),
    )
    .await
    .expect("store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_a_line_deleted_from_the_vault_access_log() {
    let dir = std::env::temp_dir().join(format!("custode-vault-verify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    open(&data).await.close().await;
    // Three lines as an older version wrote them (no chain yet): the next
    // start chains them, as an upgrade does, and records their head.
    let vault = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("vault.db").display()))
        .await
        .expect("vault.db");
    for n in 1..=3 {
        sqlx::query(
            "INSERT INTO vault_access_log (at, actor, outcome, authority, order_number, order_date, scope, target, records) \
             VALUES (?, 'user:lea', 'answered', 'Tribunale di Prato', ?, '2026-01-05', 'identity', 'email (value not logged)', 1)",
        )
        .bind(n * 1_000_000)
        .bind(format!("RG {n}/2026"))
        .execute(&vault)
        .await
        .expect("line");
    }
    sqlx::query("UPDATE vault_log_head SET hash = NULL")
        .execute(&vault)
        .await
        .expect("head");
    open(&data).await.close().await;

    let verify = |data: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_custode"))
            .current_dir(root())
            .env_remove("CUSTODE_MASTER_KEY")
            .env_remove("CUSTODE_VAULT_KEY")
            .args(["--data", &data.display().to_string()])
            .args(["--policy", "policies/email-hosting.toml"])
            .args(["audit", "verify"])
            .output()
            .expect("custode")
    };
    let out = verify(&data);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    sqlx::query("DELETE FROM vault_access_log WHERE seq = 2")
        .execute(&vault)
        .await
        .expect("delete");
    vault.close().await;
    let out = verify(&data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("vault access log line 2: missing"),
        "the removed line is named: {stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
