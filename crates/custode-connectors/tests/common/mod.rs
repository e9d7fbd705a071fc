//! Shared by the connector tests: a fresh schema (PostgreSQL) or database
//! (MariaDB) per test with a small synthetic copy of the benchmark's
//! application schema, the example systems file pointed at it, and a TCP
//! proxy that can be stopped and started to take a database away.
//!
//! The databases are the real ones on this machine; a test fails (never
//! skips) when one is absent. `scripts/services` installs and starts them.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use custode_connectors::{Engine, SystemMapping};
use custode_policy::Policy;
use sqlx::Row;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub const CUSTOMERS: i64 = 30;

pub fn pg_url() -> String {
    std::env::var("CUSTODE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn my_url() -> String {
    std::env::var("CUSTODE_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

pub fn policy() -> Policy {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/telecom.toml");
    let source = std::fs::read_to_string(path).expect("policies/telecom.toml");
    custode_policy::load("telecom.toml", &source).expect("the telecom policy loads")
}

/// A name no other run uses.
pub fn unique(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "conn_{tag}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An admin connection to one engine, for setting up and checking.
pub enum Admin {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
}

/// A fresh schema (or database) with the application tables in it.
pub struct TestDb {
    pub engine: Engine,
    pub url: String,
    pub schema: String,
    pub admin: Admin,
}

impl TestDb {
    pub async fn new(engine: Engine, tag: &str) -> TestDb {
        let schema = unique(tag);
        let (url, admin) = match engine {
            Engine::Postgres => {
                let url = pg_url();
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL must run at {url} (scripts/services starts it): {e}")
                    });
                (url, Admin::Pg(pool))
            }
            Engine::MySql => {
                let url = my_url();
                let pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("MariaDB must run at {url} (scripts/services starts it): {e}")
                    });
                (url, Admin::My(pool))
            }
        };
        let db = TestDb {
            engine,
            url,
            schema,
            admin,
        };
        match engine {
            Engine::Postgres => db.exec(&format!("CREATE SCHEMA {}", db.schema)).await,
            Engine::MySql => db.exec(&format!("CREATE DATABASE {}", db.schema)).await,
        }
        db
    }

    /// The application schema with `CUSTOMERS` customers and their rows.
    pub async fn with_app(engine: Engine, tag: &str) -> TestDb {
        let db = TestDb::new(engine, tag).await;
        let s = &db.schema;
        for sql in [
            format!(
                "CREATE TABLE {s}.customers(id bigint PRIMARY KEY, email varchar(255) NOT NULL, name varchar(255), \
                 phone varchar(64), address varchar(255), created_at timestamp DEFAULT CURRENT_TIMESTAMP)"
            ),
            format!(
                "CREATE TABLE {s}.orders(id bigint PRIMARY KEY, customer_id bigint, item varchar(255), amount numeric(10,2), \
                 shipping_address varchar(255), FOREIGN KEY (customer_id) REFERENCES {s}.customers(id))"
            ),
            format!(
                "CREATE TABLE {s}.login_events(id bigint PRIMARY KEY, customer_id bigint, ip varchar(64), at timestamp, \
                 FOREIGN KEY (customer_id) REFERENCES {s}.customers(id))"
            ),
            format!(
                "CREATE TABLE {s}.tickets(id bigint PRIMARY KEY, customer_id bigint, subject varchar(255), body text, \
                 FOREIGN KEY (customer_id) REFERENCES {s}.customers(id))"
            ),
            format!("CREATE INDEX customers_email ON {s}.customers(email)"),
            format!("CREATE INDEX customers_phone ON {s}.customers(phone)"),
        ] {
            db.exec(&sql).await;
        }
        let mut values = Vec::new();
        for i in 1..=CUSTOMERS {
            values.push(format!(
                "({i}, '{}', 'Name {i}', '{}', 'Via Roma {i}, Prato')",
                email(i),
                phone(i)
            ));
        }
        db.exec(&format!(
            "INSERT INTO {s}.customers(id, email, name, phone, address) VALUES {}",
            values.join(", ")
        ))
        .await;
        let rows =
            |n: i64, f: &dyn Fn(i64) -> String| (1..=n).map(f).collect::<Vec<_>>().join(", ");
        db.exec(&format!(
            "INSERT INTO {s}.orders VALUES {}",
            rows(90, &|j| format!(
                "({j}, {c}, 'item {j}', {}.50, 'Via Roma {c}, Prato')",
                j % 40,
                c = order_customer(j)
            ))
        ))
        .await;
        db.exec(&format!(
            "INSERT INTO {s}.login_events VALUES {}",
            rows(150, &|j| format!(
                "({j}, {}, '{}', '2026-01-01 10:00:00')",
                login_customer(j),
                login_ip(j)
            ))
        ))
        .await;
        db.exec(&format!(
            "INSERT INTO {s}.tickets VALUES {}",
            rows(45, &|j| format!(
                "({j}, {}, 'subject {j}', 'I have a problem with my mailbox {j}')",
                ticket_customer(j)
            ))
        ))
        .await;
        db
    }

    pub async fn exec(&self, sql: &str) {
        let r = match &self.admin {
            Admin::Pg(p) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .map(|_| ()),
            Admin::My(p) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .map(|_| ()),
        };
        r.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// A column read as text, in this engine's words.
    pub fn text(&self, column: &str) -> String {
        match self.engine {
            Engine::Postgres => format!("CAST({column} AS text)"),
            Engine::MySql => format!("CAST({column} AS CHAR CHARACTER SET utf8mb4)"),
        }
    }

    /// The rows of a query whose every column is text.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let decode =
            |n: usize, get: &dyn Fn(usize) -> Option<String>| (0..n).map(get).collect::<Vec<_>>();
        match &self.admin {
            Admin::Pg(p) => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_all(p)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| {
                    decode(r.len(), &|i| {
                        r.try_get::<Option<String>, _>(i).expect("text")
                    })
                })
                .collect(),
            Admin::My(p) => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_all(p)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| {
                    decode(r.len(), &|i| {
                        r.try_get::<Option<String>, _>(i).expect("text")
                    })
                })
                .collect(),
        }
    }

    /// The ids of a table's rows matching a condition, sorted.
    pub async fn ids(&self, table: &str, condition: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .rows(&format!(
                "SELECT {} FROM {}.{table} WHERE {condition}",
                self.text("id"),
                self.schema
            ))
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect();
        ids.sort();
        ids
    }

    /// Every value of every row of a table, as text, sorted: a fingerprint.
    pub async fn dump(&self, table: &str, columns: &[&str]) -> Vec<Vec<Option<String>>> {
        let select: Vec<String> = columns.iter().map(|c| self.text(c)).collect();
        let mut rows = self
            .rows(&format!(
                "SELECT {} FROM {}.{table}",
                select.join(", "),
                self.schema
            ))
            .await;
        rows.sort();
        rows
    }

    /// The example systems file, pointed at this schema.
    pub fn systems_file(&self) -> String {
        self.systems_file_at(&self.url)
    }

    pub fn systems_file_at(&self, url: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../systems/app.toml");
        let source = std::fs::read_to_string(path).expect("systems/app.toml");
        source
            .lines()
            .filter(|l| !l.starts_with("password_env"))
            .map(|l| {
                if l.starts_with("kind = ") {
                    format!("kind = \"{}\"", self.engine.key())
                } else if l.starts_with("url = ") {
                    format!("url = \"{url}\"")
                } else if l.starts_with("schema = ") {
                    format!("schema = \"{}\"", self.schema)
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn mapping(&self, policy: &Policy) -> SystemMapping {
        custode_connectors::load("app.toml", &self.systems_file(), policy)
            .expect("the example maps")
    }

    /// Holds a row lock on one row until the returned transaction ends.
    pub async fn lock_row(&self, table: &str, id: i64) -> HeldLock {
        let sql = format!(
            "SELECT id FROM {}.{table} WHERE id = {id} FOR UPDATE",
            self.schema
        );
        match &self.admin {
            Admin::Pg(p) => {
                let mut tx = p.begin().await.expect("begin");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *tx)
                    .await
                    .expect("lock");
                HeldLock::Pg(tx)
            }
            Admin::My(p) => {
                let mut tx = p.begin().await.expect("begin");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *tx)
                    .await
                    .expect("lock");
                HeldLock::My(tx)
            }
        }
    }

    /// How many statements naming this schema wait on a row lock.
    pub async fn lock_waits(&self) -> usize {
        let sql = match self.engine {
            Engine::Postgres => format!(
                "SELECT CAST(count(*) AS text) FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND query LIKE '%{}%'",
                self.schema
            ),
            // A statement blocked on a row lock stays in state `Updating`.
            Engine::MySql => format!(
                "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST \
                 WHERE STATE = 'Updating' AND INFO LIKE 'UPDATE `{}`%'",
                self.schema
            ),
        };
        self.rows(&sql)
            .await
            .first()
            .and_then(|r| r[0].as_deref())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    pub async fn drop_schema(&self) {
        match self.engine {
            Engine::Postgres => {
                self.exec(&format!("DROP SCHEMA {} CASCADE", self.schema))
                    .await
            }
            Engine::MySql => self.exec(&format!("DROP DATABASE {}", self.schema)).await,
        }
    }
}

/// A transaction holding a row lock.
pub enum HeldLock {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    My(sqlx::Transaction<'static, sqlx::MySql>),
}

impl HeldLock {
    pub async fn release(self) {
        match self {
            HeldLock::Pg(tx) => tx.rollback().await.expect("rollback"),
            HeldLock::My(tx) => tx.rollback().await.expect("rollback"),
        }
    }
}

pub fn email(i: i64) -> String {
    format!("user{i}@example.com")
}

pub fn phone(i: i64) -> String {
    format!("+39 055 {i:07}")
}

pub fn order_customer(j: i64) -> i64 {
    1 + (j * 7) % CUSTOMERS
}

pub fn login_customer(j: i64) -> i64 {
    1 + (j * 11) % CUSTOMERS
}

pub fn login_ip(j: i64) -> String {
    format!("10.0.{}.{}", j / 250, j % 250)
}

pub fn ticket_customer(j: i64) -> i64 {
    1 + (j * 13) % CUSTOMERS
}

/// A TCP proxy to a database that the test can take down and bring back
/// on the same port: a real outage, deterministic in time.
pub struct Proxy {
    pub port: u16,
    target: String,
    tasks: Arc<tokio::sync::Mutex<JoinSet<()>>>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let port = listener.local_addr().expect("its address").port();
        let proxy = Proxy {
            port,
            target: target.to_owned(),
            tasks: Arc::new(tokio::sync::Mutex::new(JoinSet::new())),
        };
        proxy.serve(listener).await;
        proxy
    }

    async fn serve(&self, listener: TcpListener) {
        let target = self.target.clone();
        let tasks = Arc::clone(&self.tasks);
        let inner = Arc::clone(&self.tasks);
        tasks.lock().await.spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                inner.lock().await.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }

    /// Closes the port and every connection through it.
    pub async fn stop(&self) {
        self.tasks.lock().await.abort_all();
        // Let the aborted tasks drop their sockets.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    /// Opens the same port again.
    pub async fn restart(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the proxy's port is free again");
        self.serve(listener).await;
    }

    /// The URL of a database through this proxy.
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let user = authority
            .rsplit_once('@')
            .map(|(u, _)| format!("{u}@"))
            .unwrap_or_default();
        format!("{scheme}://{user}127.0.0.1:{}/{path}", self.port)
    }

    pub fn target_of(url: &str) -> String {
        let rest = url.split_once("://").expect("a URL").1;
        let authority = rest.split('/').next().unwrap_or(rest);
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, h)| h)
            .to_owned()
    }
}
