//! The SQL every capability needs on both engines: placeholders, multi-row
//! `VALUES`, and batched `IN (...)` look-ups and deletes.

use sqlx::{Any, Transaction};

use crate::{Engine, StoreError};

/// A query whose `{ids}` is replaced by one placeholder per id, bound in
/// order: the `WHERE ... IN (...)` every batch look-up needs.
pub fn in_query<'q>(
    engine: Engine,
    template: &str,
    ids: &[&'q str],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    let sql = template.replace("{ids}", &placeholders(engine, 1, ids.len()));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(*id);
    }
    q
}

/// Runs `template` (a statement with `{ids}` in an `IN (...)`) over row ids,
/// 500 at a time, in the caller's transaction.
pub async fn delete_ids(
    tx: &mut Transaction<'static, Any>,
    engine: Engine,
    template: &str,
    ids: &[i64],
) -> Result<(), StoreError> {
    for chunk in ids.chunks(500) {
        let sql = template.replace("{ids}", &placeholders(engine, 1, chunk.len()));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `rows` parenthesised groups of `columns` placeholders, for a multi-row
/// `INSERT ... VALUES`.
pub fn values(engine: Engine, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|i| format!("({})", placeholders(engine, i * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `n` placeholders for parameters `start..start+n`, each bound once and in
/// order. PostgreSQL numbers them (`$1`); SQLite gets plain `?`, because it
/// resolves each named or numbered parameter by a linear search, which makes
/// a 5,000-parameter batch insert quadratic.
pub fn placeholders(engine: Engine, start: usize, n: usize) -> String {
    match engine {
        Engine::Sqlite => vec!["?"; n].join(", "),
        Engine::Postgres => (start..start + n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
