//! What the binary's tests share: fresh PostgreSQL schemas (main store, key
//! store, vault) and the flags that point `custode` at them.

#![allow(dead_code)]

/// The PostgreSQL the tests use; `scripts/services` starts it.
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Fresh main, key-store and vault schemas named after `tag`; dropped by `drop`.
pub struct Schemas {
    pub main: String,
    pub keys: String,
    pub vault: String,
}

impl Schemas {
    /// Creates the schemas, failing loudly when PostgreSQL is absent.
    pub async fn create(tag: &str) -> Schemas {
        let pool = sqlx::PgPool::connect(POSTGRES)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is required at {POSTGRES}: {e}"));
        let schemas = Schemas {
            main: tag.to_owned(),
            keys: format!("{tag}_keys"),
            vault: format!("{tag}_vault"),
        };
        for s in [&schemas.main, &schemas.keys, &schemas.vault] {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {s} CASCADE"
            )))
            .execute(&pool)
            .await;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {s}")))
                .execute(&pool)
                .await
                .expect("schema");
        }
        pool.close().await;
        schemas
    }

    /// `--database URL --keystore URL --vault URL` for these schemas.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--database".into(),
            format!("{POSTGRES}?options=-c%20search_path%3D{}", self.main),
            "--keystore".into(),
            format!("{POSTGRES}?options=-c%20search_path%3D{}", self.keys),
            "--vault".into(),
            format!("{POSTGRES}?options=-c%20search_path%3D{}", self.vault),
        ]
    }

    /// Drops the schemas.
    pub async fn drop(self) {
        if let Ok(pool) = sqlx::PgPool::connect(POSTGRES).await {
            for s in [self.main, self.keys, self.vault] {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {s} CASCADE")))
                    .execute(&pool)
                    .await;
            }
            pool.close().await;
        }
    }
}
