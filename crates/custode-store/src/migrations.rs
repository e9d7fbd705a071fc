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

/// The main store: tenants, subjects, identifiers, records, audit log.
pub const MAIN: &[Migration] = &[
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
        version: 2,
        name: "people and machines",
        sql: r#"
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    scope_path {path} NOT NULL,
    subject_id TEXT,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    secret_hash {blob} NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    scope_path {path} NOT NULL,
    subject_id TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE TABLE setup_tokens (
    secret_hash {blob} PRIMARY KEY,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE TABLE sessions (
    id_hash {blob} PRIMARY KEY,
    csrf_hash {blob} NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    scope_path {path} NOT NULL,
    subject_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
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
        version: 5,
        name: "rights requests",
        sql: r#"
CREATE TABLE rights_requests (
    id TEXT PRIMARY KEY,
    subject_key BIGINT NOT NULL REFERENCES subjects(key),
    tenant_path {path} NOT NULL,
    rights TEXT NOT NULL,
    requester TEXT NOT NULL,
    -- Contact, free text, delegate: sealed under the subject's key.
    details {blob} NOT NULL,
    received_at BIGINT NOT NULL,
    due_on TEXT NOT NULL,
    extended_due_on TEXT,
    extension_reason TEXT,
    status TEXT NOT NULL,
    duplicate_of TEXT,
    created_by TEXT NOT NULL
);
CREATE INDEX requests_by_subject ON rights_requests (subject_key, status);
CREATE INDEX requests_by_path ON rights_requests (tenant_path)
"#,
    },
    Migration {
        version: 6,
        name: "identity checks and fulfilment",
        sql: r#"
ALTER TABLE rights_requests ADD COLUMN identity TEXT NOT NULL DEFAULT 'unverified';
ALTER TABLE rights_requests ADD COLUMN identity_method TEXT;
ALTER TABLE rights_requests ADD COLUMN language TEXT;
ALTER TABLE rights_requests ADD COLUMN outcome TEXT;
ALTER TABLE rights_requests ADD COLUMN answered_at BIGINT;
-- The answer as sent (reasons, what was done): sealed under the subject's key.
ALTER TABLE rights_requests ADD COLUMN answer {blob};
-- One live code per request, kept only as its keyed hash.
CREATE TABLE request_codes (
    request_id TEXT PRIMARY KEY REFERENCES rights_requests(id),
    code_mac {blob} NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    used_at BIGINT
);
-- ID documents and proxies, sealed under the subject's key, deleted when
-- the request is answered.
CREATE TABLE request_documents (
    request_id TEXT NOT NULL REFERENCES rights_requests(id),
    kind TEXT NOT NULL,
    media_type TEXT NOT NULL,
    sealed {blob} NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, kind)
);
-- Durable fulfilment: one job per right of a request, advanced one step at
-- a time. Each step is idempotent, so a crash repeats at most one.
CREATE TABLE request_jobs (
    request_id TEXT NOT NULL REFERENCES rights_requests(id),
    right_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    input TEXT NOT NULL,
    step INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    next_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    result TEXT,
    PRIMARY KEY (request_id, right_name)
);
CREATE INDEX request_jobs_due ON request_jobs (next_at) WHERE state = 'pending';
-- Access and portability packages, sealed under the subject's key.
CREATE TABLE request_exports (
    request_id TEXT NOT NULL REFERENCES rights_requests(id),
    right_name TEXT NOT NULL,
    sealed {blob} NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, right_name)
)
"#,
    },
    Migration {
        version: 7,
        name: "erasure in three steps",
        // Closing the account, the vault move and the erasure became one
        // step (old 1-3 are new 1, old 4 and after move down by two): a job
        // cut short before an upgrade redoes at most that one step.
        sql: r#"
UPDATE request_jobs SET step = CASE WHEN step >= 4 THEN step - 2 WHEN step >= 2 THEN 1 ELSE step END
WHERE right_name = 'erasure'
"#,
    },
    Migration {
        version: 8,
        name: "Art. 19 notices to recipients",
        // One row per recipient told of a request's change: mailed by the
        // server (channel 'mail') or a task staff confirm ('task'), with
        // the day and who told it. No personal data: ids and category ids.
        sql: r#"
CREATE TABLE recipient_notices (
    request_id TEXT NOT NULL REFERENCES rights_requests(id),
    right_name TEXT NOT NULL,
    recipient TEXT NOT NULL,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT,
    categories TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    told_at BIGINT,
    told_by TEXT,
    PRIMARY KEY (request_id, right_name, recipient)
);
CREATE INDEX recipient_notices_due ON recipient_notices (next_at) WHERE told_at IS NULL
"#,
    },
    Migration {
        version: 9,
        name: "token holders",
        // Who holds a token (a person or a system, named at the console)
        // and when it was last used, for the DPO's list of credentials.
        sql: r#"
ALTER TABLE api_tokens ADD COLUMN holder TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT
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
        version: 11,
        name: "vault access log anchors",
        // Each line of the vault access log is recorded (line and hash) by
        // an entry of this chain; verification reads those entries alone.
        sql: r#"
CREATE INDEX audit_vault_anchors ON audit_log (seq) WHERE action IN ('vault.queried', 'access.denied', 'vault.log_chained')
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
        version: 13,
        name: "people: invitations and the subject's portal",
        // An invited person is a user row not yet activated: its
        // invitations are single-use secrets stored as hashes. Users made
        // before are active. The portal's one-time codes and sessions are
        // the subject's own: keyed MACs and hashes, no address in clear.
        sql: r#"
ALTER TABLE users ADD COLUMN activated_at BIGINT;
UPDATE users SET activated_at = created_at;
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    secret_hash {blob} NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX invitations_by_user ON invitations (user_id);
CREATE TABLE portal_codes (
    email_hash {blob} PRIMARY KEY,
    code_mac {blob} NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    used_at BIGINT
);
CREATE TABLE portal_sessions (
    id_hash {blob} PRIMARY KEY,
    csrf_hash {blob} NOT NULL,
    subject_id TEXT NOT NULL,
    scope_path {path} NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
)
"#,
    },
    Migration {
        version: 14,
        name: "requests filed by identity",
        // The identifier a request was filed with (an e-mail address, a
        // phone number), sealed under the request's own key so that it dies
        // with the answer; whether Custode created the subject for it.
        sql: r#"
CREATE TABLE request_identities (
    request_id TEXT PRIMARY KEY REFERENCES rights_requests(id),
    kind TEXT NOT NULL,
    sealed {blob} NOT NULL,
    created_subject INTEGER NOT NULL
)
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

/// Applies every migration not yet applied, in order, each in one
/// transaction with its bookkeeping row, so a crash leaves a known version.
pub async fn run(
    pool: &AnyPool,
    engine: Engine,
    migrations: &[Migration],
    now: i64,
) -> Result<(), StoreError> {
    let known = migrations.last().map_or(0, |m| m.version);
    for m in migrations {
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
        if let Some(newer) = applied.iter().find(|v| **v > known) {
            return Err(StoreError::SchemaTooNew {
                found: *newer,
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
