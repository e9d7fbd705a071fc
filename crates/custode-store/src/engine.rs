//! The two database engines behind one schema: SQLite (the embedded default)
//! and PostgreSQL (scale-out), chosen by the URL scheme with strict errors.
//!
//! SQL is written once with `$1`-style parameters, which both engines accept
//! through sqlx's `Any` driver. The few words the engines spell differently
//! (blob types, auto-increment keys, byte-order collation) are filled into
//! the DDL from [`Engine::ddl`].

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::StoreError;

/// A supported database engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// SQLite in a file of the data directory.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Makes sqlx's `Any` driver know both engines; idempotent.
fn install_drivers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only when already installed, which the Once rules out.
        let _ =
            sqlx::any::install_drivers(&[sqlx::sqlite::any::DRIVER, sqlx::postgres::any::DRIVER]);
    });
}

/// The URL with any password replaced (in its user part or its query),
/// safe to print and log: the connectors' redaction, one for the project.
fn redact(url: &str) -> String {
    custode_connectors::redact(url, &[])
}

impl Engine {
    /// The engine a URL names. Anything but `sqlite:` and `postgres:` is an
    /// error: a typo must never create a fresh, empty database.
    pub fn of_url(url: &str) -> Result<Engine, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            _ => Err(StoreError::UnsupportedUrl(redact(url))),
        }
    }

    /// The audit log's readable columns, generated from the hashed body so
    /// that none can be changed on its own.
    fn audit_columns(self) -> &'static str {
        match self {
            Engine::Sqlite => {
                "at BIGINT GENERATED ALWAYS AS (json_extract(body, '$.at')) VIRTUAL,
    actor TEXT GENERATED ALWAYS AS (json_extract(body, '$.actor')) VIRTUAL,
    action TEXT GENERATED ALWAYS AS (json_extract(body, '$.action')) VIRTUAL,
    subject_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.subject')) VIRTUAL,
    reason TEXT GENERATED ALWAYS AS (json_extract(body, '$.reason')) VIRTUAL"
            }
            Engine::Postgres => {
                "at BIGINT GENERATED ALWAYS AS (((body::jsonb) ->> 'at')::bigint) STORED,
    actor TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'actor') STORED,
    action TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'action') STORED,
    subject_id TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'subject') STORED,
    reason TEXT GENERATED ALWAYS AS ((body::jsonb) ->> 'reason') STORED"
            }
        }
    }

    /// The DDL for this engine: `{blob}`, `{serial_pk}`, `{path}` and
    /// `{without_rowid}` replaced.
    pub fn ddl(self, template: &str) -> String {
        let (blob, serial, path, without_rowid) = match self {
            // AUTOINCREMENT: ids of purged rows are never handed out again.
            Engine::Sqlite => (
                "BLOB",
                "INTEGER PRIMARY KEY AUTOINCREMENT",
                "TEXT",
                " WITHOUT ROWID",
            ),
            // Paths compare byte by byte in both engines, so prefix ranges agree.
            Engine::Postgres => ("BYTEA", "BIGSERIAL PRIMARY KEY", "TEXT COLLATE \"C\"", ""),
        };
        template
            .replace("{blob}", blob)
            .replace("{serial_pk}", serial)
            .replace("{path}", path)
            .replace("{without_rowid}", without_rowid)
            // On SQLite only this exact spelling makes the key the rowid.
            .replace(
                "{int_pk}",
                if self == Engine::Sqlite {
                    "INTEGER PRIMARY KEY"
                } else {
                    "BIGINT PRIMARY KEY"
                },
            )
            .replace("{audit_columns}", self.audit_columns())
    }
}

/// How a database is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the SQLite file when it does not exist (first start).
    CreateIfMissing,
    /// Open only an existing database.
    Existing,
}

/// SQLite's own WAL checkpoint threshold on the main store's writers, in
/// 4 KiB frames (~64 MiB): a page rewritten by many bulk batches reaches
/// the main file once. The audit group commit restarts the log long before
/// this (see `audit_log`).
pub const WAL_AUTOCHECKPOINT_FRAMES: u32 = 16384;

/// Connects a pool, with the engine's settings chosen on purpose.
pub async fn connect(
    url: &str,
    mode: OpenMode,
    max_connections: u32,
    secure_delete: bool,
) -> Result<(Engine, AnyPool), StoreError> {
    install_drivers();
    let engine = Engine::of_url(url)?;
    let mut url = url.to_owned();
    if engine == Engine::Sqlite {
        let path = sqlite_path(&url);
        let exists = Path::new(&path).exists();
        if !exists && mode == OpenMode::Existing {
            return Err(StoreError::Missing(path));
        }
        if !url.contains("mode=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(if mode == OpenMode::CreateIfMissing {
                "mode=rwc"
            } else {
                "mode=rw"
            });
        }
    }
    let options =
        AnyConnectOptions::from_str(&url).map_err(|_| StoreError::UnsupportedUrl(redact(&url)))?;
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        // A pool pings each connection before lending it, by default: for
        // a server across a network that finds dead connections; an SQLite
        // connection is a file handle on a thread of this process, and the
        // ping only cost every query an extra round trip to that thread.
        .test_before_acquire(engine == Engine::Postgres)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if engine == Engine::Sqlite {
                    // WAL: readers never block the writer. FULL: a commit
                    // survives power loss. busy_timeout: writers queue rather
                    // than fail. secure_delete: erased key bytes are zeroed.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    // 64 MiB of page cache per connection: index pages of a
                    // large store stay in memory instead of churning.
                    conn.execute("PRAGMA cache_size = -65536").await?;
                    conn.execute("PRAGMA mmap_size = 1073741824").await?;
                    // Statement journals (one per multi-row insert) in memory,
                    // not in temporary files.
                    conn.execute("PRAGMA temp_store = MEMORY").await?;
                    if !secure_delete {
                        // The key store keeps SQLite's default, so the WAL
                        // truncated at each erasure stays small.
                        conn.execute(sqlx::AssertSqlSafe(format!(
                            "PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_FRAMES}"
                        )))
                        .await?;
                    }
                    if secure_delete {
                        conn.execute("PRAGMA secure_delete = ON").await?;
                    }
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Connect {
            url: redact(&url),
            message: e.to_string(),
        })?;
    if engine == Engine::Sqlite {
        owner_only(&sqlite_path(&url))?;
    }
    Ok((engine, pool))
}

/// Makes an SQLite file and its companions readable by their owner only:
/// they hold sealed data and keyed hashes, nothing anyone else needs.
fn owner_only(path: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        if Path::new(&file).exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(
                |e| StoreError::Invalid(format!("cannot restrict {file} to its owner: {e}")),
            )?;
        }
    }
    Ok(())
}

/// The file path of a `sqlite:` URL.
pub fn sqlite_path(url: &str) -> String {
    let rest = url.trim_start_matches("sqlite:");
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.split('?').next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_by_scheme_and_nothing_else() {
        assert_eq!(
            Engine::of_url("sqlite:///tmp/x.db").ok(),
            Some(Engine::Sqlite)
        );
        assert_eq!(
            Engine::of_url("postgres://u@h/db").ok(),
            Some(Engine::Postgres)
        );
        assert!(matches!(
            Engine::of_url("mysql://h/db"),
            Err(StoreError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            Engine::of_url("sqlit:///tmp/x.db"),
            Err(StoreError::UnsupportedUrl(_))
        ));
    }

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            redact("postgres://db/x?user=app&password=s3cret"),
            "postgres://db/x?user=app&password=***"
        );
        let err = Engine::of_url("mysql://root:hunter2@h/db").expect_err("unsupported");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/custode/main.db?mode=rw"),
            "/var/lib/custode/main.db"
        );
        assert_eq!(sqlite_path("sqlite://data/main.db"), "data/main.db");
    }
}
