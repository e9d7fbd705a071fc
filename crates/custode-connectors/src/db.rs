//! The two engines behind one small face: connecting (the password set on
//! the options, never in a URL string), one connection holding one
//! transaction, text-only binds and results, the catalogue, and the few SQL
//! words PostgreSQL and MySQL spell differently.
//!
//! Every value travels as text: it is bound as a parameter (cast to the
//! column's type on PostgreSQL) and read back through a cast to text. Names
//! are checked as plain identifiers when the file loads and against the
//! catalogue before the first query, and are quoted all the same.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{MySql, Postgres, Row};

use crate::error::{Error, Secret, redact};
use crate::mapping::{Engine, is_plain_name};

/// A pool of connections to one system.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
}

/// How long one attempt waits for a connection before it counts as failed.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A pool that connects on first use: loading systems does no I/O.
pub(crate) fn lazy_pool(
    system: &str,
    engine: Engine,
    url: &str,
    password: Option<&Secret>,
    read_only: bool,
) -> Result<Pool, Error> {
    let bad_url = |e: sqlx::Error| Error::Url {
        system: system.to_owned(),
        message: redact(&e.to_string(), &password.into_iter().collect::<Vec<_>>()),
    };
    match engine {
        Engine::Postgres => {
            let mut options = PgConnectOptions::from_str(url).map_err(bad_url)?;
            if let Some(p) = password {
                options = options.password(p.expose());
            }
            if read_only {
                options = options.options([("default_transaction_read_only", "on")]);
            }
            options = options.application_name("custode-connectors");
            Ok(Pool::Pg(
                PgPoolOptions::new()
                    .max_connections(4)
                    .min_connections(0)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options),
            ))
        }
        Engine::MySql => {
            let mut options = MySqlConnectOptions::from_str(url).map_err(bad_url)?;
            if let Some(p) = password {
                options = options.password(p.expose());
            }
            let mut pool = MySqlPoolOptions::new()
                .max_connections(4)
                .min_connections(0)
                .acquire_timeout(ACQUIRE_TIMEOUT);
            if read_only {
                pool = pool.after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::query("SET SESSION TRANSACTION READ ONLY")
                            .execute(conn)
                            .await
                            .map(|_| ())
                    })
                });
            }
            Ok(Pool::My(pool.connect_lazy_with(options)))
        }
    }
}

impl Pool {
    pub(crate) async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(match self {
            Pool::Pg(p) => Conn::Pg(p.acquire().await?),
            Pool::My(p) => Conn::My(p.acquire().await?),
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Pg(p) => p.close().await,
            Pool::My(p) => p.close().await,
        }
    }
}

/// A parameter: one text, or (PostgreSQL only) an array of texts.
#[derive(Clone, Debug)]
pub(crate) enum Bind {
    Text(Option<String>),
    Texts(Vec<String>),
}

/// One connection, used for one transaction at a time.
pub(crate) enum Conn {
    Pg(PoolConnection<Postgres>),
    My(PoolConnection<MySql>),
}

/// The rows of a query, every column read as text.
pub(crate) type TextRows = Vec<Vec<Option<String>>>;

impl Conn {
    pub(crate) async fn fetch(
        &mut self,
        sql: &str,
        binds: &[Bind],
    ) -> Result<TextRows, sqlx::Error> {
        match self {
            Conn::Pg(c) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for b in binds {
                    q = match b {
                        Bind::Text(t) => q.bind(t.clone()),
                        Bind::Texts(v) => q.bind(v.clone()),
                    };
                }
                let rows = q.fetch_all(&mut **c).await?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get::<Option<String>, _>(i))
                            .collect()
                    })
                    .collect()
            }
            Conn::My(c) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for b in binds {
                    q = match b {
                        Bind::Text(t) => q.bind(t.clone()),
                        Bind::Texts(_) => {
                            return Err(sqlx::Error::Protocol("array bound on MySQL".into()));
                        }
                    };
                }
                let rows = q.fetch_all(&mut **c).await?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get::<Option<String>, _>(i))
                            .collect()
                    })
                    .collect()
            }
        }
    }

    pub(crate) async fn execute(&mut self, sql: &str, binds: &[Bind]) -> Result<u64, sqlx::Error> {
        match self {
            Conn::Pg(c) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for b in binds {
                    q = match b {
                        Bind::Text(t) => q.bind(t.clone()),
                        Bind::Texts(v) => q.bind(v.clone()),
                    };
                }
                Ok(q.execute(&mut **c).await?.rows_affected())
            }
            Conn::My(c) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for b in binds {
                    q = match b {
                        Bind::Text(t) => q.bind(t.clone()),
                        Bind::Texts(_) => {
                            return Err(sqlx::Error::Protocol("array bound on MySQL".into()));
                        }
                    };
                }
                Ok(q.execute(&mut **c).await?.rows_affected())
            }
        }
    }

    /// A statement without parameters, outside the statement cache
    /// (transaction control).
    pub(crate) async fn simple(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        use sqlx::Executor;
        match self {
            Conn::Pg(c) => c
                .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
                .await
                .map(|_| ()),
            Conn::My(c) => c
                .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
                .await
                .map(|_| ()),
        }
    }

    /// Closes the connection instead of returning it to the pool: used after
    /// any error, so a half-done transaction never goes back to the pool.
    pub(crate) fn discard(self) {
        match self {
            Conn::Pg(c) => drop(c.detach()),
            Conn::My(c) => drop(c.detach()),
        }
    }
}

/// One column as the catalogue describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ColumnInfo {
    /// The type, as PostgreSQL's `format_type` or MySQL's `DATA_TYPE` names it.
    pub(crate) type_name: String,
    pub(crate) nullable: bool,
}

/// Tables and their columns, in one schema.
pub(crate) type Catalogue = BTreeMap<String, BTreeMap<String, ColumnInfo>>;

/// Reads the tables and columns of a schema (the connection's default when
/// none is named).
pub(crate) async fn catalogue(
    conn: &mut Conn,
    schema: Option<&str>,
) -> Result<Catalogue, sqlx::Error> {
    let schema = Bind::Text(schema.map(str::to_owned));
    let rows = match conn {
        Conn::Pg(_) => {
            conn.fetch(
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, NULL), \
                        CASE WHEN a.attnotnull THEN 'no' ELSE 'yes' END \
                 FROM pg_catalog.pg_attribute a \
                 JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = COALESCE($1, current_schema()) AND c.relkind IN ('r', 'p') \
                   AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY c.relname, a.attnum",
                &[schema],
            )
            .await?
        }
        Conn::My(_) => {
            conn.fetch(
                "SELECT CAST(c.TABLE_NAME AS CHAR CHARACTER SET utf8mb4), CAST(c.COLUMN_NAME AS CHAR CHARACTER SET utf8mb4), \
                        CAST(c.DATA_TYPE AS CHAR CHARACTER SET utf8mb4), CAST(c.IS_NULLABLE AS CHAR CHARACTER SET utf8mb4) \
                 FROM information_schema.COLUMNS c \
                 JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
                 WHERE c.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND t.TABLE_TYPE = 'BASE TABLE' \
                 ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
                &[schema],
            )
            .await?
        }
    };
    let mut out = Catalogue::new();
    for r in rows {
        let [Some(table), Some(column), Some(type_name), nullable] = r.as_slice() else {
            continue;
        };
        out.entry(table.clone()).or_default().insert(
            column.clone(),
            ColumnInfo {
                type_name: type_name.clone(),
                nullable: nullable
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case("yes")),
            },
        );
    }
    Ok(out)
}

/// The SQL dialect of one engine.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dialect(pub(crate) Engine);

impl Dialect {
    pub(crate) fn quote(self, name: &str) -> String {
        debug_assert!(is_plain_name(name));
        match self.0 {
            Engine::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Engine::MySql => format!("`{}`", name.replace('`', "``")),
        }
    }

    pub(crate) fn table(self, schema: Option<&str>, table: &str) -> String {
        match schema {
            Some(s) => format!("{}.{}", self.quote(s), self.quote(table)),
            None => self.quote(table),
        }
    }

    /// A column read as text.
    pub(crate) fn as_text(self, column: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("CAST({} AS text)", self.quote(column)),
            Engine::MySql => format!("CAST({} AS CHAR CHARACTER SET utf8mb4)", self.quote(column)),
        }
    }

    /// The next parameter, as a value of the column's type.
    pub(crate) fn param(
        self,
        binds: &mut Vec<Bind>,
        value: Option<String>,
        type_name: &str,
    ) -> String {
        binds.push(Bind::Text(value));
        match self.0 {
            Engine::Postgres => format!("CAST(CAST(${} AS text) AS {type_name})", binds.len()),
            Engine::MySql => "?".to_owned(),
        }
    }

    /// `column IN (values)`, the values bound: one array on PostgreSQL
    /// (`= ANY`, so one statement whatever the count), a list on MySQL.
    pub(crate) fn in_list(
        self,
        binds: &mut Vec<Bind>,
        column: &str,
        type_name: &str,
        values: &[String],
    ) -> String {
        match self.0 {
            Engine::Postgres => {
                binds.push(Bind::Texts(values.to_vec()));
                format!(
                    "{} = ANY(CAST(CAST(${} AS text[]) AS {type_name}[]))",
                    self.quote(column),
                    binds.len()
                )
            }
            Engine::MySql => {
                let marks: Vec<&str> = values.iter().map(|_| "?").collect();
                binds.extend(values.iter().map(|v| Bind::Text(Some(v.clone()))));
                format!("{} IN ({})", self.quote(column), marks.join(", "))
            }
        }
    }

    /// `a` differs from `b`, NULLs included.
    pub(crate) fn distinct(self, a: &str, b: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("{a} IS DISTINCT FROM {b}"),
            Engine::MySql => format!("NOT ({a} <=> {b})"),
        }
    }

    /// A mask, with `{key}` replaced by the row's key.
    pub(crate) fn mask(
        self,
        binds: &mut Vec<Bind>,
        mask: &str,
        key: Option<&str>,
        type_name: &str,
    ) -> String {
        match key.filter(|_| mask.contains("{key}")) {
            None => self.param(binds, Some(mask.to_owned()), type_name),
            Some(k) => {
                binds.push(Bind::Text(Some(mask.to_owned())));
                match self.0 {
                    Engine::Postgres => format!(
                        "CAST(replace(CAST(${} AS text), '{{key}}', {}) AS {type_name})",
                        binds.len(),
                        self.as_text(k)
                    ),
                    Engine::MySql => format!("REPLACE(?, '{{key}}', {})", self.as_text(k)),
                }
            }
        }
    }

    /// Starts a transaction; `read_only` for access.
    pub(crate) fn begin(self, read_only: bool) -> &'static str {
        match (self.0, read_only) {
            (Engine::Postgres, true) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            (Engine::Postgres, false) => "BEGIN",
            (Engine::MySql, true) => "START TRANSACTION READ ONLY",
            (Engine::MySql, false) => "START TRANSACTION",
        }
    }

    /// How many values one `IN` list carries at most.
    pub(crate) fn chunk(self) -> usize {
        match self.0 {
            Engine::Postgres => 10_000,
            Engine::MySql => 1_000,
        }
    }
}
