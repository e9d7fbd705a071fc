//! The rights requests' tables in the main store: requests, their codes,
//! documents, durable jobs, exports, recipients' notices and the identity a
//! request was filed with. Versions keep the numbers they had when the
//! kernel held them, so stores written before the split upgrade unchanged.

use custode_store::migrations::Migration;

/// This capability's migrations of the main store, listed in `custode_app::SCHEMA`.
pub const MIGRATIONS: &[Migration] = &[
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
];
