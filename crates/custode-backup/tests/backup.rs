//! Backups and erasure (issue "Every promise kept"): a backup holds no key,
//! only the key store's export sealed under a backup key generation; while
//! the generation lives the backup restores everyone, the subjects erased
//! since included; once the policy's `backup_key_lifetime` has passed and
//! the rotation ran, it restores no one, and a fresh backup restores every
//! subject not erased.

use std::path::{Path, PathBuf};

use custode_crypto::Key;
use custode_domain::{Clock, Principal, SubjectId};
use custode_store::{Engine, MasterKeySource, OpenMode, StoreConfig, StoreError};
use custode_testkit::*;
use jiff::SignedDuration;

const DAY: SignedDuration = SignedDuration::from_hours(24);

async fn new_user(app: &Custode, t: &Tree, email: &str) -> SubjectId {
    let s = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject");
    app.store
        .write_records(
            &admin(),
            "signup",
            vec![(s.clone(), contact(email, "+39 333 000 0000"))],
        )
        .await
        .expect("write");
    s
}

/// Runs a PostgreSQL command-line tool, failing the test when it fails.
fn pg_tool(tool: &str, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("write stdin");
    }
    drop(input);
    let out = child.wait_with_output().expect(tool);
    assert!(out.status.success(), "{tool} failed");
    out.stdout
}

/// Takes a backup as the README says: on PostgreSQL, the main store and
/// the vault dumped first (here restored at once under schema names of
/// their own, `{main}_{name}` and `{main}_{name}_vault`), then `backup`.
async fn take_backup(env: &Env, app: &Custode, name: &str) -> PathBuf {
    if let (Engine::Postgres, Some((main, _))) = (env.engine, &env.schemas) {
        let vault = format!("{main}_vault");
        let dump = pg_tool(
            "pg_dump",
            &["--no-owner", "-n", main, "-n", &vault, &postgres_url()],
            None,
        );
        let sql = String::from_utf8_lossy(&dump).replace(main.as_str(), &format!("{main}_{name}"));
        pg_tool(
            "psql",
            &["-q", "-v", "ON_ERROR_STOP=1", &postgres_url()],
            Some(sql.as_bytes()),
        );
    }
    let dir = env.dir.join(name);
    let report = app.backup.backup(&admin(), &dir).await.expect("backup");
    assert_eq!(
        report.restorable_until,
        env.clock.now() + SignedDuration::from_hours(35 * 24 - 1),
        "the generation made today lives the policy's 35 days (less the rotation's margin)"
    );
    dir
}

/// A new, empty place to restore into: a data directory on SQLite; on
/// PostgreSQL the dumped schemas of `backup` and a new key store schema.
async fn target(env: &Env, backup: &str, name: &str) -> StoreConfig {
    let dir = env.dir.join(name);
    let mut config = StoreConfig {
        database_url: format!("sqlite://{}", dir.join("custode.db").display()),
        keystore_url: format!("sqlite://{}", dir.join("keys.db").display()),
        master_key: MasterKeySource::Given(Key::generate().expect("random")),
        mode: OpenMode::CreateIfMissing,
        vault_url: format!("sqlite://{}", dir.join("vault.db").display()),
        vault_key: MasterKeySource::File(dir.join("vault.key")),
    };
    if let (Engine::Postgres, Some((main, keys))) = (env.engine, &env.schemas) {
        let copy = format!("{main}_{backup}");
        let keystore = format!("{copy}_{name}_keys");
        let admin_pool = sqlx::PgPool::connect(&postgres_url()).await.expect("pg");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {keystore}")))
            .execute(&admin_pool)
            .await
            .expect("schema");
        admin_pool.close().await;
        config.database_url = env.config.database_url.replace(main.as_str(), &copy);
        config.vault_url = env.config.vault_url.replace(main.as_str(), &copy);
        config.keystore_url = env.config.keystore_url.replace(keys.as_str(), &keystore);
    }
    config
}

/// Drops the PostgreSQL schemas the backups and restores made.
async fn drop_copies(env: &Env) {
    if let (Engine::Postgres, Some((main, _))) = (env.engine, &env.schemas) {
        let admin_pool = sqlx::PgPool::connect(&postgres_url()).await.expect("pg");
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name LIKE $1",
        )
        .bind(format!("{main}\\_b%"))
        .fetch_all(&admin_pool)
        .await
        .expect("schemas");
        for s in names {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {s} CASCADE")))
                .execute(&admin_pool)
                .await;
        }
        admin_pool.close().await;
    }
}

/// No file of a backup holds a key: the copies have no key table at all,
/// and the export is sealed (not even a subject id reads through).
async fn holds_no_key(dir: &Path, subjects: &[&SubjectId]) {
    for copy in ["custode.db", "vault.db"] {
        let path = dir.join(copy);
        if !path.exists() {
            continue;
        }
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", path.display()))
            .await
            .expect("open the copy");
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&pool)
                .await
                .expect("tables");
        pool.close().await;
        assert!(
            tables
                .iter()
                .any(|t| t == "records" || t == "vault_records")
        );
        for keyish in ["keystore", "subject_keys", "user_secrets", "backup_keys"] {
            assert!(
                !tables.iter().any(|t| t == keyish),
                "{copy} holds the key table {keyish}"
            );
        }
    }
    let sealed = std::fs::read(dir.join("keys.sealed")).expect("the key export");
    let text = String::from_utf8_lossy(&sealed);
    assert!(serde_json::from_slice::<serde_json::Value>(&sealed).is_err());
    for needle in ["index_key", "signing_key", "vault_key"] {
        assert!(!text.contains(needle), "the export shows {needle} in clear");
    }
    for s in subjects {
        assert!(
            !text.contains(s.as_str()),
            "the export shows a subject id in clear"
        );
    }
}

async fn email_of(app: &Custode, s: &SubjectId) -> Result<String, StoreError> {
    let records = app.store.records(&admin(), s, "backup check").await?;
    Ok(records[0].fields["email"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

on_both_engines!(an_erasure_reaches_every_backup_within_the_declared_lifetime);
async fn an_erasure_reaches_every_backup_within_the_declared_lifetime(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let erased = new_user(&app, &t, "gone@example.org").await;
    let kept = new_user(&app, &t, "stays@example.org").await;
    let job = Principal::system("backup-keys");

    let old_backup = take_backup(env, &app, "b1").await;
    holds_no_key(&old_backup, &[&erased, &kept]).await;
    app.store
        .erase_subject(&admin(), &erased, "erasure request r-12")
        .await
        .expect("erase");

    // While its generation lives, the old backup restores everyone: the
    // subject erased since is readable in it (so the notice's bound is
    // the generation's life, not zero).
    let restored_config = target(env, "b1", "r1").await;
    let report = app
        .backup
        .restore_backup(&admin(), &old_backup, &restored_config)
        .await
        .expect("restore while the generation lives");
    assert_eq!(report.subjects, 2);
    let restored = Custode::open(&restored_config, Env::policy(), env.clock.clone())
        .await
        .expect("the restored store opens");
    assert_eq!(
        email_of(&restored, &erased).await.expect("readable"),
        "gone@example.org"
    );
    assert_eq!(
        email_of(&restored, &kept).await.expect("readable"),
        "stays@example.org"
    );
    restored.close().await;

    // A day short of the lifetime the rotation makes new generations and
    // destroys nothing.
    env.clock.advance(DAY * 34);
    let rotation = app.backup.rotate_backup_keys(&job).await.expect("rotate");
    assert!(rotation.created);
    assert!(rotation.destroyed.is_empty());
    let generations = app.backup.backup_generations().await.expect("list");
    assert_eq!(generations.len(), 2);
    let first = generations[0].generation;

    // Once the lifetime has passed and the rotation ran, the old backup
    // opens for no one: not the erased subject, nor anyone else in it.
    env.clock.advance(DAY);
    let rotation = app.backup.rotate_backup_keys(&job).await.expect("rotate");
    assert_eq!(rotation.destroyed, [first]);
    match app
        .backup
        .restore_backup(&admin(), &old_backup, &target(env, "b1", "r2").await)
        .await
    {
        Err(StoreError::BackupKeyDestroyed { generation }) => assert_eq!(generation, first),
        other => panic!("a backup past its lifetime must not restore: {other:?}"),
    }
    // Running the rotation again changes nothing.
    assert!(
        app.backup
            .rotate_backup_keys(&job)
            .await
            .expect("rotate")
            .destroyed
            .is_empty()
    );

    // A fresh backup restores every subject not erased, and not the erased one.
    let new_backup = take_backup(env, &app, "b3").await;
    holds_no_key(&new_backup, &[&erased, &kept]).await;
    let restored_config = target(env, "b3", "r3").await;
    let report = app
        .backup
        .restore_backup(&admin(), &new_backup, &restored_config)
        .await
        .expect("restore the fresh backup");
    assert_eq!(report.subjects, 1);
    let restored = Custode::open(&restored_config, Env::policy(), env.clock.clone())
        .await
        .expect("the restored store opens");
    assert_eq!(
        email_of(&restored, &kept).await.expect("readable"),
        "stays@example.org"
    );
    assert!(matches!(
        email_of(&restored, &erased).await,
        Err(StoreError::Erased(_))
    ));
    let audit = restored.vault.audit_verify().await.expect("verify");
    assert!(audit.is_intact(), "the restored audit chain verifies");
    restored.close().await;

    // Restoring over a store that exists is refused: nothing is overwritten.
    assert!(
        app.backup
            .restore_backup(&admin(), &new_backup, &env.config)
            .await
            .is_err()
    );
    app.close().await;
    drop_copies(env).await;
}

on_both_engines!(only_the_administrator_and_jobs_handle_backups);
async fn only_the_administrator_and_jobs_handle_backups(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let dpo = principal_of(&t.provider, custode_domain::Role::Dpo);
    assert!(matches!(
        app.backup.backup(&dpo, &env.dir.join("b-refused")).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        app.backup.rotate_backup_keys(&dpo).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(!env.dir.join("b-refused").exists());
    app.close().await;
}

on_both_engines!(without_a_declared_lifetime_no_backup_is_taken);
async fn without_a_declared_lifetime_no_backup_is_taken(env: &Env) {
    // A generation made while the policy promised 35 days ...
    let app = env.open().await;
    let job = Principal::system("backup-keys");
    let made = app.backup.rotate_backup_keys(&job).await.expect("rotate");
    assert!(made.created);
    app.close().await;

    // ... still dies at its end after the promise is dropped from the
    // policy, while no new backup can be taken: the notice would say nothing.
    let without = POLICY
        .split("\n[security]")
        .next()
        .expect("the example")
        .to_owned();
    let policy = std::sync::Arc::new(custode_policy::load("p.toml", &without).expect("loads"));
    assert_eq!(policy.security.backup_key_lifetime_days, None);
    let app = env.open_with(policy).await;
    match app.backup.backup(&admin(), &env.dir.join("b-none")).await {
        Err(StoreError::Invalid(m)) => assert!(m.contains("backup_key_lifetime"), "{m}"),
        other => panic!("a backup without a declared bound must be refused: {other:?}"),
    }
    env.clock.advance(DAY * 35);
    let rotation = app.backup.rotate_backup_keys(&job).await.expect("rotate");
    assert_eq!(rotation.current, None);
    assert_eq!(
        rotation.destroyed,
        made.current.into_iter().collect::<Vec<_>>()
    );
    assert!(
        app.backup
            .backup_generations()
            .await
            .expect("list")
            .is_empty()
    );
    app.close().await;
}
