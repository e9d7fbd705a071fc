//! The accounts' tables in the main store: people, their sessions, API
//! tokens and their holders, invitations, and the portal's codes and
//! sessions. Versions keep the numbers they had when the kernel held them,
//! so stores written before the split upgrade unchanged.

use custode_store::migrations::Migration;

/// This capability's migrations of the main store, listed in `custode_app::SCHEMA`.
pub const MIGRATIONS: &[Migration] = &[
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
];
