//! What can go wrong in the store, in words a caller can act on. No variant
//! carries a personal value or a secret: URLs are redacted, data never quoted.

use custode_crypto::CryptoError;
use custode_domain::records::RecordError;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names no supported engine.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The database could not be reached.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// What the driver said.
        message: String,
    },
    /// An SQLite file that should exist does not.
    #[error("no database at {0}: run `custode init` to create it, or check the path")]
    Missing(String),
    /// The database was written by a newer Custode.
    #[error(
        "the database is at schema version {found}, newer than this Custode knows ({known}): upgrade Custode"
    )]
    SchemaTooNew {
        /// The version found.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A migration failed; nothing of it was applied.
    #[error("migration {version} ({name}) failed and was rolled back: {message}")]
    Migration {
        /// Its version.
        version: i64,
        /// Its name.
        name: &'static str,
        /// What the database said.
        message: String,
    },
    /// A key file (the master key's or the vault's) is missing, unreadable
    /// or unsafe; the message names the file.
    #[error("key file: {0}")]
    KeyFile(String),
    /// The master key does not open this key store.
    #[error(
        "the master key (fingerprint {fingerprint}) does not open this key store: it belongs to another installation, or the key file was replaced"
    )]
    WrongMasterKey {
        /// The public fingerprint of the key that was tried.
        fingerprint: String,
    },
    /// The thing asked for does not exist, or is outside the caller's scope
    /// (the two are not told apart, so scope cannot be probed).
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The credentials are wrong, expired or revoked (one answer for all
    /// of a kind, so nothing can be learnt by trying). Says which kind was
    /// refused, so the answer can say how to get a valid one.
    #[error("the credentials are not valid")]
    Unauthenticated(Credential),
    /// A privileged role must log in with a second factor it has not
    /// enrolled yet.
    #[error(
        "this role logs in with a second factor: log in with your passkey (POST /api/v1/passkeys/login/start), or enrol TOTP first (POST /api/v1/totp/enroll, then /api/v1/totp/confirm)"
    )]
    SecondFactorRequired,
    /// A passkey (WebAuthn) response was refused; the message says why.
    #[error("passkey refused: {0}")]
    PasskeyRefused(String),
    /// The subject was erased; its data are gone.
    #[error("subject {0} has been erased")]
    Erased(String),
    /// The subject was erased but some records are kept under a legal
    /// ground: they are readable only for that ground. The message says
    /// for which purpose, under which basis, until when, and how to ask.
    #[error("subject {subject} is restricted after erasure: {kept}")]
    Restricted {
        /// The subject.
        subject: String,
        /// What is kept, for what and until when, and who may read it.
        kept: String,
    },
    /// A request that the data model forbids.
    #[error("{0}")]
    Invalid(String),
    /// The caller may see the thing but not do this to it; the message says
    /// who may.
    #[error("{0}")]
    Forbidden(String),
    /// The thing exists but is not in a state that allows this (a request
    /// answered already, an identity not checked yet).
    #[error("{0}")]
    Conflict(String),
    /// A record of a batch was refused; nothing of the batch was written.
    #[error(
        "record {index} of the batch (subject {subject}) was refused, and nothing of the batch was written: {source}"
    )]
    InvalidRecord {
        /// Its position in the batch, from 0.
        index: usize,
        /// Its subject.
        subject: String,
        /// Why.
        source: RecordError,
    },
    /// The audit entry could not be written, so the operation did not
    /// happen (nothing is done, or shown, unaudited).
    #[error("the audit log could not be written, so nothing was done: {0}")]
    AuditFailed(String),
    /// The backup key generation a backup was sealed under no longer exists:
    /// by design, the backup can no longer be restored.
    #[error(
        "backup key generation {generation} has been destroyed (its lifetime, the policy's [security] backup_key_lifetime, is over): this backup can no longer be restored by anyone; restore a newer one"
    )]
    BackupKeyDestroyed {
        /// The generation.
        generation: i64,
    },
    /// A cryptographic failure.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A database error on SQLite's direct paths (reads, records writes).
    #[error("database error: {0}")]
    SqliteRead(#[from] rusqlite::Error),
}

/// A kind of credential a caller presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An API token (`Authorization: Bearer`).
    ApiToken,
    /// A browser session cookie, with its anti-CSRF token.
    Session,
    /// A user name, password and, for privileged roles, a second factor:
    /// which of them was wrong is not said.
    Login,
    /// The one-time token that creates the first administrator.
    SetupToken,
    /// An invitation link: wrong, used, expired or withdrawn.
    Invitation,
    /// A one-time code of the subject's portal: wrong, used or expired.
    PortalCode,
}
