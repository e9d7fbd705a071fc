//! The main store's schema is the kernel's part and each capability's: a
//! new store gets every part, a store written by a newer build (a version
//! no part knows) is refused before anything is touched, and two parts
//! claiming one version are refused at open — on SQLite and PostgreSQL.

use custode_store::migrations::{KERNEL, Migration};
use custode_store::{Store, StoreError};
use custode_testkit::*;

async fn applied(store: &Store) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(store.reader())
        .await
        .expect("versions")
}

async fn every_part_is_applied_and_a_newer_store_is_refused(env: &Env) {
    let app = env.open().await;
    let mut expected: Vec<i64> = SCHEMA
        .iter()
        .flat_map(|part| part.iter().map(|m| m.version))
        .collect();
    expected.sort_unstable();
    assert_eq!(applied(&app.store).await, expected);
    // The capabilities' tables are there, not only the kernel's.
    for table in ["rights_requests", "invitations", "users"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(app.store.reader())
            .await
            .unwrap_or_else(|e| panic!("{table} exists: {e}"));
    }
    // A newer build applied a migration this one does not know.
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (2999, 'from the future', 0)")
        .execute(app.store.writer())
        .await
        .expect("insert");
    app.close().await;
    match Store::open(&env.config, SCHEMA, Env::policy(), env.clock.clone()).await {
        Err(StoreError::SchemaTooNew { found, .. }) => assert_eq!(found, 2999),
        other => panic!("a newer store must be refused: {:?}", other.err()),
    }
}
on_both_engines!(every_part_is_applied_and_a_newer_store_is_refused);

const CLASHING: &[Migration] = &[Migration {
    version: 1,
    name: "a capability that took the kernel's number",
    sql: "CREATE TABLE clash (id BIGINT)",
}];

async fn two_parts_claiming_one_version_are_refused(env: &Env) {
    let err = Store::open(
        &env.config,
        &[KERNEL, CLASHING],
        Env::policy(),
        env.clock.clone(),
    )
    .await
    .err()
    .expect("refused");
    let message = err.to_string();
    assert!(
        message.contains("migration 1") && message.contains("a capability that took"),
        "{message}"
    );
}
on_both_engines!(two_parts_claiming_one_version_are_refused);
