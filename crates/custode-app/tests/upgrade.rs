//! A data directory written by an earlier release (schema version 7, see
//! `fixtures/data-dir-v7/README.md`) opens with every capability of this
//! one, upgrades in place, verifies, and still answers as it did: the kept
//! subject's record reads back, the erased one stays erased.

use std::sync::Arc;

use custode_app::Custode;
use custode_domain::{ManualClock, Principal, Role, Scope, SubjectId};
use custode_policy::IdentifierKind;
use custode_store::{OpenMode, StoreConfig, StoreError};

const POLICY: &str = include_str!("../../../policies/email-hosting.toml");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data-dir-v7");
const KEPT: &str = "ae852e7b233d1044c4f34aa62f996e6e";
const ERASED: &str = "6b058f6a2981dafa9c779ce4d89cbde0";

fn dpo() -> Principal {
    Principal {
        id: "user:dpo".to_owned(),
        role: Role::Dpo,
        scope: Scope::everything(),
    }
}

async fn open(dir: &std::path::Path) -> Custode {
    let config = StoreConfig::in_data_dir(dir, OpenMode::Existing).expect("config");
    let policy = Arc::new(custode_policy::load("email-hosting.toml", POLICY).expect("policy"));
    let clock = Arc::new(ManualClock::new(
        jiff::Timestamp::new(1_796_688_000, 0).expect("2026-12-07"),
    ));
    Custode::open(&config, policy, clock)
        .await
        .expect("the earlier release's directory opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_an_earlier_release_opens_upgrades_and_verifies() {
    let dir = std::env::temp_dir().join(format!(
        "custode-upgrade-{}",
        &SubjectId::generate().as_str()[..12]
    ));
    // As an operator restores a data directory: its owner alone reads it
    // (git keeps no such mode, and the keys are refused without it).
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .expect("temp dir");
    for f in [
        "custode.db",
        "keys.db",
        "vault.db",
        "master.key",
        "vault.key",
    ] {
        let to = dir.join(f);
        std::fs::copy(format!("{FIXTURE}/{f}"), &to).expect("copy the fixture");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    let app = open(&dir).await;
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(app.store.reader())
        .await
        .expect("schema version");
    assert!(version > 7, "upgraded in place from 7, now {version}");
    let report = app.vault.audit_verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert!(report.checked >= 8, "the earlier entries are all there");

    let kept = SubjectId::parse(KEPT).expect("id");
    let records = app
        .store
        .records(&dpo(), &kept, "upgrade check")
        .await
        .expect("read");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].fields["email"], "ada@example.org");
    let found = app
        .finder
        .find_subjects(&dpo(), IdentifierKind::Email, "ada@example.org")
        .await
        .expect("find");
    assert_eq!(found, vec![kept.clone()]);

    let erased = SubjectId::parse(ERASED).expect("id");
    assert!(matches!(
        app.store.records(&dpo(), &erased, "upgrade check").await,
        Err(StoreError::Erased(_))
    ));
    app.close().await;

    // Opened again by this release: nothing left to migrate, still intact.
    let app = open(&dir).await;
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
