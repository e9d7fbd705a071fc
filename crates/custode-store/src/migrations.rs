//! Versioned schema migrations, embedded in the binary and applied at start,
//! each in its own transaction. One template per step serves both engines.

use sqlx::{AnyPool, Row};

use crate::StoreError;
use crate::engine::Engine;

/// One step of a schema: a version, a name, and its statements.
pub struct Migration {
    /// Its place in the order, unique in its list.
    pub version: i64,
    /// What it does, as `schema_migrations` records it.
    pub name: &'static str,
    /// Its statements, `;`-separated, with `{blob}`-style placeholders
    /// for the engine's types.
    pub sql: &'static str,
}

/// The kernel's part of the main store: tenants, subjects, identifiers,
/// records, the audit log, policy versions, consent events (the write path
/// reads withdrawals), retention columns, passkeys (dropped with their
/// subject). Each capability brings its own part (its `MIGRATIONS`); the
/// application lists them all in one schema (`custode_app::SCHEMA`).
///
/// Versions are one sequence across the parts: 1–999 for the kernel and
/// the capabilities that grew with it, then a block of a hundred per new
/// capability crate (its issue number × 100), so parts written in parallel
/// never claim the same number.
pub const KERNEL: &[Migration] = &[
    Migration {
        version: 1,
        name: "data core",
        sql: r#"
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES tenants(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    path {path} NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE policy_versions (
    id {serial_pk},
    digest TEXT NOT NULL UNIQUE,
    version TEXT NOT NULL,
    loaded_at BIGINT NOT NULL
);
CREATE TABLE subjects (
    key {serial_pk},
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    tenant_path {path} NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    erased_at BIGINT
);
CREATE INDEX subjects_by_path ON subjects (tenant_path);
CREATE TABLE identifiers (
    hash {blob} NOT NULL,
    subject_key BIGINT NOT NULL REFERENCES subjects(key),
    kind TEXT NOT NULL,
    PRIMARY KEY (hash, subject_key)
){without_rowid};
CREATE INDEX identifiers_by_subject ON identifiers (subject_key);
CREATE TABLE records (
    id {serial_pk},
    subject_key BIGINT NOT NULL REFERENCES subjects(key),
    category TEXT NOT NULL,
    purposes TEXT NOT NULL,
    source TEXT NOT NULL,
    collected_at BIGINT NOT NULL,
    retain_until BIGINT,
    -- No foreign key: policy versions are never deleted, and on SQLite each
    -- enforced key costs every record insert a lookup (about 10 % of ingest).
    policy_id BIGINT NOT NULL,
    sealed {blob} NOT NULL,
    written_at BIGINT NOT NULL
);
CREATE INDEX records_by_subject ON records (subject_key);
CREATE INDEX records_by_end ON records (retain_until);
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash {blob} NOT NULL
);
CREATE TABLE audit_log (
    seq {int_pk},
    body TEXT NOT NULL,
    prev_hash {blob} NOT NULL,
    hash {blob} NOT NULL,
    {audit_columns}
);
CREATE INDEX audit_by_subject ON audit_log (subject_id);
CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    hash {blob} NOT NULL,
    at BIGINT NOT NULL,
    signature {blob} NOT NULL
)
"#,
    },
    Migration {
        version: 3,
        name: "consent ledger",
        sql: r#"
ALTER TABLE policy_versions ADD COLUMN source TEXT;
CREATE TABLE consent_events (
    seq {serial_pk},
    id TEXT NOT NULL UNIQUE,
    subject_key BIGINT NOT NULL REFERENCES subjects(key),
    kind TEXT NOT NULL,
    purpose TEXT,
    purpose_digest TEXT,
    policy_id BIGINT NOT NULL,
    notice_digest TEXT NOT NULL,
    language TEXT NOT NULL,
    channel TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- IP, user agent, form, operator: sealed under the subject's key.
    evidence {blob},
    -- The audit entry written with the event: commit order, for other
    -- instances' caches.
    audit_seq BIGINT NOT NULL
);
CREATE INDEX consent_by_subject ON consent_events (subject_key, seq)
"#,
    },
    Migration {
        version: 4,
        name: "retention",
        sql: r#"
ALTER TABLE subjects ADD COLUMN closed_at BIGINT;
ALTER TABLE subjects ADD COLUMN contract_end BIGINT;
ALTER TABLE subjects ADD COLUMN last_activity BIGINT;
ALTER TABLE records ADD COLUMN vault_from BIGINT;
ALTER TABLE records ADD COLUMN vault_until BIGINT;
ALTER TABLE records ADD COLUMN retain_rule TEXT;
DROP INDEX records_by_end;
-- Partial indexes: records whose end is still open, or that never go to
-- the vault, cost no index upkeep on write or erase.
CREATE INDEX records_due ON records (retain_until, id) WHERE retain_until IS NOT NULL;
CREATE INDEX records_to_vault ON records (vault_from) WHERE vault_from IS NOT NULL;
CREATE INDEX subjects_closed ON subjects (closed_at) WHERE closed_at IS NOT NULL AND erased_at IS NULL;
CREATE TABLE retention_log (
    id {serial_pk},
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    category TEXT NOT NULL,
    rule TEXT NOT NULL,
    records BIGINT NOT NULL
)
"#,
    },
    Migration {
        version: 10,
        name: "erasure restricts what it keeps",
        // A partial erasure marks the subject restricted and re-seals what
        // is kept under a new data key (named `id#generation` in the key
        // store); `key_generation` says which key opens its records.
        sql: r#"
ALTER TABLE subjects ADD COLUMN restricted_at BIGINT;
ALTER TABLE subjects ADD COLUMN key_generation BIGINT NOT NULL DEFAULT 0
"#,
    },
    Migration {
        version: 12,
        name: "closed tenants",
        // When a tenant was closed: nothing new is created under it, and
        // its name has been replaced by a neutral marker.
        sql: r#"
ALTER TABLE tenants ADD COLUMN closed_at BIGINT
"#,
    },
    Migration {
        version: 15,
        name: "passkeys",
        // WebAuthn credentials of people (`user:…`) and subjects
        // (`subject:…`): public keys only, nothing secret. Challenges are
        // single use and short-lived, stored as hashes, bound to a purpose
        // and (for a registration or a vault query) to their owner.
        sql: r#"
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    credential_id {blob} NOT NULL UNIQUE,
    public_key {blob} NOT NULL,
    sign_count BIGINT NOT NULL,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_by_owner ON passkeys (owner);
CREATE TABLE passkey_challenges (
    id TEXT PRIMARY KEY,
    challenge_hash {blob} NOT NULL,
    purpose TEXT NOT NULL,
    owner TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX passkey_challenges_by_expiry ON passkey_challenges (expires_at)
"#,
    },
];

/// The key store: wrapped keys only, in a database of its own so that no
/// copy of the main store ever holds a key.
pub const KEYS: &[Migration] = &[
    Migration {
        version: 1,
        name: "key store",
        sql: r#"
CREATE TABLE keystore (
    name TEXT PRIMARY KEY,
    value {blob} NOT NULL
);
CREATE TABLE subject_keys (
    subject_id TEXT PRIMARY KEY,
    wrapped {blob} NOT NULL,
    created_at BIGINT NOT NULL
)
"#,
    },
    Migration {
        version: 2,
        name: "second factors",
        sql: r#"
CREATE TABLE user_secrets (
    user_id TEXT PRIMARY KEY,
    wrapped {blob} NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT
)
"#,
    },
    Migration {
        version: 3,
        name: "backup key generations",
        // One generation per day (its number is the day since the epoch),
        // wrapped under the master key; a row deleted is a generation
        // destroyed, and every backup sealed under it with it.
        sql: r#"
CREATE TABLE backup_keys (
    generation BIGINT PRIMARY KEY,
    wrapped {blob} NOT NULL,
    created_at BIGINT NOT NULL,
    destroy_at BIGINT NOT NULL
)
"#,
    },
];

/// Begins a transaction holding the migration lock: the write lock at once
/// on SQLite (`BEGIN IMMEDIATE`), an advisory lock on PostgreSQL. Instances
/// starting together thus migrate one after the other, and each re-reads
/// what is applied.
async fn begin_locked(
    pool: &AnyPool,
    engine: Engine,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
    match engine {
        Engine::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Engine::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(7478023150)")
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// Applies every migration of `parts` not yet applied, in version order
/// across the parts, each in one transaction with its bookkeeping row, so a
/// crash leaves a known version. A version applied that no part knows was
/// written by a newer build: refused, rather than run with a schema this
/// build does not understand.
pub async fn run(
    pool: &AnyPool,
    engine: Engine,
    parts: &[&[Migration]],
    now: i64,
) -> Result<(), StoreError> {
    let mut migrations: Vec<&Migration> = parts.iter().flat_map(|p| p.iter()).collect();
    migrations.sort_by_key(|m| m.version);
    if let Some(pair) = migrations.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(StoreError::Invalid(format!(
            "two parts of the schema claim migration {}: \"{}\" and \"{}\"",
            pair[0].version, pair[0].name, pair[1].name
        )));
    }
    let known = migrations.last().map_or(0, |m| m.version);
    for m in migrations.iter().copied() {
        let mut tx = begin_locked(pool, engine).await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        let applied: Vec<i64> =
            sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<Result<_, _>>()?;
        if let Some(unknown) = applied
            .iter()
            .find(|v| migrations.binary_search_by_key(*v, |m| m.version).is_err())
        {
            return Err(StoreError::SchemaTooNew {
                found: *unknown,
                known,
            });
        }
        if applied.contains(&m.version) {
            tx.commit().await?;
            continue;
        }
        let ddl = engine.ddl(m.sql);
        for statement in ddl.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::Migration {
                    version: m.version,
                    name: m.name,
                    message: e.to_string(),
                })?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}
