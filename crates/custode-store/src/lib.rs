//! Where personal data live, and the only code that touches them at rest.
//!
//! One schema on two engines (SQLite by default, PostgreSQL for scale), a
//! key store in a database of its own, and every change written together
//! with its audit entry in one transaction. Payloads are sealed under the
//! subject's data key before they reach SQL; identifiers are stored only as
//! keyed hashes; every query is bounded by the caller's scope.
//!
//! Entry point: [`Store::open`]. Data flow of a write: policy check
//! (`custode_domain`) → seal (`custode_crypto`) → insert → audit entry →
//! commit.

pub mod audit_log;
pub mod engine;
mod error;
mod ingest;
pub mod keyfile;
pub mod keys;
pub mod lifecycle;
pub mod migrations;
pub mod sql;
mod sqlite_read;
mod sqlite_write;
pub mod tenants;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use custode_audit::{Action, Checkpoint, Entry, Event, Report};
use custode_crypto::{Key, VerifyingKey};
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Clock, NewRecord, Principal, SubjectId, TenantId, TenantKind};
use custode_policy::Policy;
use jiff::Timestamp;
use serde_json::json;
use sqlx::{Any, AnyPool, Row, Transaction};

pub use engine::{Engine, OpenMode};
pub use error::{Credential, StoreError};
pub use ingest::identifier_hash;
pub use keyfile::{MASTER_KEY_ENV, MasterKeySource, VAULT_KEY_ENV};
pub use lifecycle::LifeEvent;
pub use sql::{delete_ids, in_query, placeholders, values};

use keys::Keyring;

/// Where the store and its key store are, and where the master key comes from.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// The main store: `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// The key store, a separate database: never inside the main store, so
    /// no copy of the main store holds a key.
    pub keystore_url: String,
    /// The master key.
    pub master_key: MasterKeySource,
    /// Whether a missing SQLite database or key file may be created.
    pub mode: OpenMode,
    /// The vault, a database of its own for data kept only under a legal
    /// obligation.
    pub vault_url: String,
    /// The vault's own key (never the master key).
    pub vault_key: MasterKeySource,
}

impl StoreConfig {
    /// Everything in one data directory: `custode.db`, `keys.db`,
    /// `master.key` (or the key from the environment).
    pub fn in_data_dir(dir: &Path, mode: OpenMode) -> Result<StoreConfig, StoreError> {
        if mode == OpenMode::CreateIfMissing && !dir.exists() {
            // The directory holds the master key: its owner alone may list it.
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot create the data directory {}: {e}",
                        dir.display()
                    ))
                })?;
        }
        Ok(StoreConfig {
            database_url: format!("sqlite://{}", dir.join("custode.db").display()),
            keystore_url: format!("sqlite://{}", dir.join("keys.db").display()),
            master_key: MasterKeySource::from_env_or(dir)?,
            mode,
            vault_url: format!("sqlite://{}", dir.join("vault.db").display()),
            vault_key: MasterKeySource::vault_from_env_or(dir)?,
        })
    }
}

/// A node of the tenancy tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Its parent, none for the provider.
    pub parent: Option<TenantId>,
    /// What it is.
    pub kind: TenantKind,
    /// Its name.
    pub name: String,
    /// Ids from the root, `/a/b/`.
    pub path: String,
}

/// A subject as listed: no personal data, only where it hangs and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectSummary {
    /// Its id.
    pub id: SubjectId,
    /// Its kind, from the policy.
    pub kind: String,
    /// The tenant it hangs from.
    pub tenant: TenantId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was erased, if it was.
    pub erased_at: Option<Timestamp>,
    /// How far it is erased.
    pub erasure: ErasureState,
}

/// How far a subject is erased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErasureState {
    /// Not erased.
    None,
    /// Erased except records kept under a legal ground, which are
    /// restricted to that ground until `kept_until` (none when the end
    /// waits on an event).
    Partial {
        /// When it was erased.
        at: Timestamp,
        /// When the last kept record goes.
        kept_until: Option<Timestamp>,
    },
    /// Erased whole: its key is destroyed.
    Erased,
}

impl ErasureState {
    /// The name in listings: `none`, `partial` or `erased`.
    pub fn name(&self) -> &'static str {
        match self {
            ErasureState::None => "none",
            ErasureState::Partial { .. } => "partial",
            ErasureState::Erased => "erased",
        }
    }
}

/// A record as read back, decrypted: its fields parsed into a map, or,
/// as [`RecordJson`], kept as the JSON text that was sealed.
#[derive(Clone, Debug, PartialEq)]
pub struct Record<F = BTreeMap<String, serde_json::Value>> {
    /// Its id.
    pub id: i64,
    /// The category.
    pub category: String,
    /// Field values.
    pub fields: F,
    /// Where it came from.
    pub source: String,
    /// The purposes it serves.
    pub purposes: Vec<String>,
    /// When it was collected.
    pub collected_at: Timestamp,
    /// When it must be gone, if already known.
    pub retain_until: Option<Timestamp>,
}

/// A record whose fields are one JSON object, as written (compact, keys
/// sorted).
pub type RecordJson = Record<Vec<u8>>;

/// The store.
pub struct Store {
    engine: Engine,
    /// Readers. On PostgreSQL the same pool as `writer`.
    db: AnyPool,
    /// The one connection SQLite writes through (a single writer keeps its
    /// page cache warm and never contends); on PostgreSQL the shared pool.
    writer: AnyPool,
    /// SQLite only: read-only connections for the hot read paths (see
    /// `sqlite_read`).
    reads: Option<Arc<sqlite_read::Readers>>,
    /// SQLite only: the direct connection records are written through (see
    /// `sqlite_write`).
    records_writer: Option<sqlite_write::Writer>,
    /// Group commit of stand-alone audit entries.
    audit_queue: tokio::sync::mpsc::Sender<audit_log::Pending>,
    /// The group commit's task, until [`Store::close`] ends it.
    audit_batcher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Tells the group commit to finish what is queued and stop.
    audit_shutdown: Arc<tokio::sync::Notify>,
    keys: Keyring,
    key_source: MasterKeySource,
    /// The policy in force, its id in `policy_versions`, its purposes' digests.
    policy: RwLock<InForce>,
    clock: Arc<dyn Clock>,
    /// What capabilities want to hear of (see [`Store::on_change`]).
    listeners: RwLock<Vec<Listener>>,
}

/// A change that capabilities holding derived state must hear of at once.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// A subject's data or state changed (erased, restricted, closed).
    Subject(&'a str),
    /// Something that every subject's derived state depends on changed (a
    /// policy's age rules).
    Everything,
    /// The credentials under a tenancy path were revoked (a closed tenant).
    CredentialsRevoked(&'a str),
}

type Listener = Arc<dyn Fn(Change<'_>) + Send + Sync>;

/// A subject as a write sees it.
pub struct InScope {
    /// Its row key (what other tables refer to it by).
    pub key: i64,
    /// Erased but for records kept under a legal ground: no new data.
    pub restricted: bool,
    /// Its kind in the policy.
    pub kind: String,
    /// What retention rules count from (consents aside).
    pub life: custode_domain::retention::LifeEvents,
}

/// The policy in force, with what is derived from it once per version.
#[derive(Clone)]
pub struct InForce {
    /// The policy.
    pub policy: Arc<Policy>,
    /// Its id in `policy_versions`.
    pub id: i64,
    /// Its purposes' digests, as consents cite them.
    pub digests: Arc<std::collections::BTreeMap<String, String>>,
}

impl InForce {
    fn new(policy: Arc<Policy>, id: i64) -> InForce {
        InForce {
            digests: Arc::new(custode_consent::purpose_digests(&policy)),
            policy,
            id,
        }
    }
}

/// Marks a subject erased and drops its identifier hashes and its
/// passkeys, in the caller's transaction; its key is destroyed after the
/// commit.
pub async fn mark_erased(
    tx: &mut Transaction<'static, Any>,
    subject_key: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE subjects SET erased_at = $1 WHERE key = $2")
        .bind(now)
        .bind(subject_key)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM identifiers WHERE subject_key = $1")
        .bind(subject_key)
        .execute(&mut **tx)
        .await?;
    forget_passkeys(tx, subject_key).await
}

/// Drops a subject's passkeys, in the caller's transaction: an erased or
/// closed account opens no portal, and its credential ids would still link
/// a device to the person.
pub async fn forget_passkeys(
    tx: &mut Transaction<'static, Any>,
    subject_key: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM passkeys WHERE owner = (SELECT 'subject:' || id FROM subjects WHERE key = $1)",
    )
    .bind(subject_key)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The error for something absent, or outside the caller's scope (the
/// two look the same from outside).
pub fn not_found(what: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_owned(),
    }
}

pub(crate) const RECORD_COLUMNS: usize = 12;
pub(crate) const RECORDS_PER_INSERT: usize = 500;

impl Store {
    /// Opens (and on first start creates) the store: connects both
    /// databases, applies the pending migrations of `schema` (the kernel's
    /// [`migrations::KERNEL`] and those of the capabilities that will work
    /// on this store: `custode_app::SCHEMA`), opens the key store with the
    /// master key, and finishes any erasure a crash interrupted.
    pub async fn open(
        config: &StoreConfig,
        schema: &[&[migrations::Migration]],
        policy: Arc<Policy>,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        let (engine, writer) = engine::connect(&config.database_url, config.mode, 8, false).await?;
        let (writer, db) = match engine {
            Engine::Sqlite => {
                writer.close().await;
                let (_, w) = engine::connect(&config.database_url, config.mode, 1, false).await?;
                let (_, r) =
                    engine::connect(&config.database_url, OpenMode::Existing, 8, false).await?;
                (w, r)
            }
            Engine::Postgres => (writer.clone(), writer),
        };
        let (key_engine, key_pool) =
            engine::connect(&config.keystore_url, config.mode, 4, true).await?;
        if config.database_url == config.keystore_url {
            return Err(StoreError::Invalid(
                "the key store must be a different database from the main store".to_owned(),
            ));
        }
        if config.vault_url == config.database_url || config.vault_url == config.keystore_url {
            return Err(StoreError::Invalid(
                "the vault must be a database of its own, apart from the main store and the key store".to_owned(),
            ));
        }
        let now = to_micros(clock.now());
        migrations::run(&writer, engine, schema, now).await?;
        migrations::run(&key_pool, key_engine, &[migrations::KEYS], now).await?;
        audit_log::init(&writer).await?;
        let policy_id = register_policy(&writer, &policy, now).await?;
        let keys = Keyring::open(
            key_pool,
            key_engine,
            &config.master_key,
            config.mode == OpenMode::CreateIfMissing,
        )
        .await?;
        let reads = (engine == Engine::Sqlite).then(|| {
            Arc::new(sqlite_read::Readers::new(engine::sqlite_path(
                &config.database_url,
            )))
        });
        let records_writer = match engine {
            Engine::Sqlite => Some(sqlite_write::Writer::open(&engine::sqlite_path(
                &config.database_url,
            ))?),
            Engine::Postgres => None,
        };
        let audit_shutdown = Arc::new(tokio::sync::Notify::new());
        let (audit_queue, audit_batcher) = audit_log::spawn_batcher(
            writer.clone(),
            records_writer.clone(),
            engine,
            clock.clone(),
            audit_shutdown.clone(),
        );
        let store = Store {
            engine,
            db,
            writer,
            reads,
            records_writer,
            audit_queue,
            audit_batcher: std::sync::Mutex::new(Some(audit_batcher)),
            audit_shutdown,
            keys,
            key_source: config.master_key.clone(),
            policy: RwLock::new(InForce::new(policy, policy_id)),
            clock,
            listeners: RwLock::new(Vec::new()),
        };
        store.finish_erasures().await?;
        Ok(store)
    }

    /// The engine of the main store.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy_with_id().0
    }

    /// The policy in force and its id in `policy_versions`, which records
    /// and consents refer to.
    pub fn policy_with_id(&self) -> (Arc<Policy>, i64) {
        let f = self.in_force();
        (f.policy, f.id)
    }

    /// Digests of the policy in force's purposes, as consents cite them.
    pub fn purpose_digests(&self) -> Arc<BTreeMap<String, String>> {
        self.in_force().digests
    }

    /// The policy in force with its id and digests, read at once.
    pub fn in_force(&self) -> InForce {
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a new (already validated) policy in force; records written from
    /// now on refer to it. The change is audited with both digests. Returns
    /// the consent purposes it changed: consents given to them before no
    /// longer count until given again.
    pub async fn set_policy(
        &self,
        by: &Principal,
        policy: Arc<Policy>,
    ) -> Result<Vec<String>, StoreError> {
        let now = to_micros(self.now());
        let id = register_policy(&self.writer, &policy, now).await?;
        let old = self.policy();
        let reconsent = custode_consent::changed_consent_purposes(&old, &policy);
        let mut tx = self.begin_write().await?;
        audit_log::append(
            &mut tx,
            self.engine,
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::PolicyLoaded,
                subject: None,
                reason: None,
                detail: json!({
                    "from": old.digest,
                    "to": policy.digest,
                    "version": policy.meta.version,
                    "reconsent": reconsent,
                }),
            }],
        )
        .await?;
        tx.commit().await?;
        let ages_moved = old.meta.minimum_age != policy.meta.minimum_age
            || old.meta.birth_date != policy.meta.birth_date;
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = InForce::new(policy, id);
        if ages_moved {
            // Who is of age is cached with each subject's state.
            self.changed(Change::Everything);
        }
        Ok(reconsent)
    }

    /// The public key that verifies audit checkpoints.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.keys.verifying_key()
    }

    /// The master key's public fingerprint.
    pub fn master_fingerprint(&self) -> String {
        self.keys.master_fingerprint()
    }

    // ---- For capabilities ----------------------------------------------
    //
    // A capability (`custode-requests`, `custode-vault`, ...) works through
    // these: it opens a write transaction, checks the caller's scope on the
    // subjects it touches, reads and writes its own tables, seals under the
    // subject's key, appends its audit entries in the same transaction,
    // and commits once.

    /// Now, by the store's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The store's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The pool reads go through (on SQLite, connections apart from the
    /// single writer).
    pub fn reader(&self) -> &AnyPool {
        &self.db
    }

    /// The single writer's pool, for a statement that needs no
    /// transaction of its own (most writes want [`Store::begin_write`]).
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// The key hierarchy: subjects' data keys, keys derived from the
    /// master key, second factors.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Where the master key comes from (for backups).
    pub fn key_source(&self) -> &MasterKeySource {
        &self.key_source
    }

    /// Appends audit entries in the caller's transaction: they commit or
    /// vanish with the change they record. Returns the last entry's
    /// sequence number.
    pub async fn audit(
        &self,
        tx: &mut Transaction<'static, Any>,
        at: i64,
        events: &[Event],
    ) -> Result<i64, StoreError> {
        audit_log::append(tx, self.engine, at, events).await
    }

    /// Registers a listener for changes that derived state (caches) must
    /// hear of at once; it runs on the caller's thread, after the commit.
    pub fn on_change(&self, listener: impl Fn(Change<'_>) + Send + Sync + 'static) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(listener));
    }

    /// Tells every listener of a committed change.
    pub fn changed(&self, change: Change<'_>) {
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for listener in listeners {
            listener(change);
        }
    }

    /// A write transaction holding the writers' lock (the audit chain's
    /// head): every change and its audit entries go through one.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        let mut tx = self.writer.begin().await?;
        audit_log::lock(&mut tx).await?;
        Ok(tx)
    }

    /// Appends an entry that records no change (a read, a refusal) through
    /// the group commit, and returns once it is durable.
    pub async fn audit_alone(&self, event: Event) -> Result<(), StoreError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.audit_queue
            .send((event, done))
            .await
            .map_err(|_| StoreError::AuditFailed("the audit writer has stopped".to_owned()))?;
        wait.await
            .map_err(|_| StoreError::AuditFailed("the audit writer has stopped".to_owned()))?
            .map_err(StoreError::AuditFailed)
    }

    /// Records that `by` was refused something (by a face's role check), in
    /// a transaction of its own.
    pub async fn record_denied(&self, by: &Principal, what: &str) -> Result<(), StoreError> {
        self.audit_denied(by, None, what).await
    }

    /// Records that `by` was refused, in a transaction of its own (the
    /// refused operation wrote nothing).
    pub async fn audit_denied(
        &self,
        by: &Principal,
        subject: Option<&str>,
        what: &str,
    ) -> Result<(), StoreError> {
        self.audit_alone(Event {
            actor: by.id.clone(),
            action: Action::AccessDenied,
            subject: subject.map(str::to_owned),
            reason: None,
            detail: json!({ "attempt": what }),
        })
        .await
    }

    // ---- Tenancy -------------------------------------------------------

    /// Creates a node of the tenancy tree under `parent` (the provider has none).
    pub async fn create_tenant(
        &self,
        by: &Principal,
        parent: Option<&TenantId>,
        kind: TenantKind,
        name: &str,
    ) -> Result<Tenant, StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("a tenant needs a name".to_owned()));
        }
        let mut tx = self.begin_write().await?;
        let id = TenantId::generate();
        let path = match parent {
            None => {
                if kind != TenantKind::Provider || by.scope.path() != "/" {
                    return Err(StoreError::Invalid(
                        "only the provider sits at the root, and only an instance-wide principal creates it".to_owned(),
                    ));
                }
                format!("/{id}/")
            }
            Some(parent_id) => {
                let row = sqlx::query("SELECT kind, path, closed_at FROM tenants WHERE id = $1")
                    .bind(parent_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| not_found("tenant", parent_id.as_str()))?;
                let parent_kind: String = row.try_get(0)?;
                let parent_path: String = row.try_get(1)?;
                if !parent_path.starts_with(by.scope.path()) || by.scope.only_subject().is_some() {
                    drop(tx);
                    self.audit_denied(by, None, "tenant.create").await?;
                    return Err(not_found("tenant", parent_id.as_str()));
                }
                tenants::refuse_closed(parent_id, row.try_get(2)?)?;
                let parent_kind = TenantKind::from_name(&parent_kind).ok_or_else(|| {
                    StoreError::Invalid(format!("unknown tenant kind `{parent_kind}`"))
                })?;
                if !parent_kind.may_contain(kind) {
                    return Err(StoreError::Invalid(format!(
                        "a {} cannot hang under a {}",
                        kind.name(),
                        parent_kind.name()
                    )));
                }
                format!("{parent_path}{id}/")
            }
        };
        let now = to_micros(self.now());
        sqlx::query("INSERT INTO tenants (id, parent_id, kind, name, path, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id.as_str())
            .bind(parent.map(|p| p.as_str().to_owned()))
            .bind(kind.name())
            .bind(name)
            .bind(&path)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        audit_log::append(&mut tx, self.engine,
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::TenantCreated,
                subject: None,
                reason: None,
                detail: json!({ "tenant": id.as_str(), "kind": kind.name(), "parent": parent.map(TenantId::as_str) }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(Tenant {
            id,
            parent: parent.cloned(),
            kind,
            name: name.to_owned(),
            path,
        })
    }

    /// A tenant, if it is in the caller's scope.
    pub async fn tenant(&self, by: &Principal, id: &TenantId) -> Result<Tenant, StoreError> {
        let row = sqlx::query("SELECT parent_id, kind, name, path FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.db)
            .await?
            .ok_or_else(|| not_found("tenant", id.as_str()))?;
        let path: String = row.try_get(3)?;
        if !path.starts_with(by.scope.path()) {
            return Err(not_found("tenant", id.as_str()));
        }
        let parent: Option<String> = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        Ok(Tenant {
            id: id.clone(),
            parent: parent.and_then(|p| TenantId::parse(&p).ok()),
            kind: TenantKind::from_name(&kind).unwrap_or(TenantKind::Domain),
            name: row.try_get(2)?,
            path,
        })
    }

    // ---- Subjects ------------------------------------------------------

    /// Creates a data subject of a policy subject kind under a tenant.
    pub async fn create_subject(
        &self,
        by: &Principal,
        tenant: &TenantId,
        kind: &str,
        reason: &str,
    ) -> Result<SubjectId, StoreError> {
        let mut ids = self.create_subjects(by, tenant, kind, 1, reason).await?;
        ids.pop()
            .ok_or_else(|| StoreError::Invalid("no subject was created".to_owned()))
    }

    /// Creates `count` subjects of one kind under a tenant in one
    /// transaction (bulk onboarding, migrations from another system).
    pub async fn create_subjects(
        &self,
        by: &Principal,
        tenant: &TenantId,
        kind: &str,
        count: usize,
        reason: &str,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let policy = self.policy();
        let Some(spec) = policy.subject(kind) else {
            return Err(StoreError::Invalid(format!(
                "subject kind `{kind}` is not declared in the policy (declared: {})",
                policy
                    .subjects
                    .iter()
                    .map(|s| s.id.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let t = self.tenant(by, tenant).await?;
        if by.scope.only_subject().is_some() {
            return Err(not_found("tenant", tenant.as_str()));
        }
        // Where the policy says this kind of person lives (seed 002: an
        // interlocutor exists only under its subscriber).
        if !spec.may_live_in(t.kind.name()) {
            return Err(StoreError::Invalid(format!(
                "a subject of kind `{kind}` cannot hang from a {} tenant: the policy puts it under a {}",
                t.kind.name(),
                spec.tenants
                    .iter()
                    .map(|k| k.value.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        if let Some(max) = spec.max_per_tenant
            && count > max as usize
        {
            return Err(StoreError::Conflict(format!(
                "a tenant holds at most {max} subject(s) of kind `{kind}` (max_per_tenant in the policy); {count} were asked for"
            )));
        }
        let ids: Vec<SubjectId> = (0..count).map(|_| SubjectId::generate()).collect();
        let now = to_micros(self.now());
        // Keys first: a crash after them leaves unused keys, never a
        // subject without one.
        let refs: Vec<&str> = ids.iter().map(SubjectId::as_str).collect();
        self.keys.create_subject_keys(&refs, now).await?;
        let mut tx = self.begin_write().await?;
        // Read under the write lock: a close committed meanwhile is seen.
        let closed: Option<i64> = sqlx::query("SELECT closed_at FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        tenants::refuse_closed(tenant, closed)?;
        for chunk in ids.chunks(400) {
            let sql = format!(
                "INSERT INTO subjects (id, tenant_id, tenant_path, kind, created_at) VALUES {}",
                values(self.engine, chunk.len(), 5)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for id in chunk {
                q = q
                    .bind(id.as_str())
                    .bind(tenant.as_str())
                    .bind(t.path.as_str())
                    .bind(kind)
                    .bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        let events: Vec<Event> = ids
            .iter()
            .map(|id| Event {
                actor: by.id.clone(),
                action: Action::SubjectCreated,
                subject: Some(id.to_string()),
                reason: Some(reason.to_owned()),
                detail: json!({ "kind": kind, "tenant": tenant.as_str() }),
            })
            .collect();
        audit_log::append(&mut tx, self.engine, now, &events).await?;
        if let Some(max) = spec.max_per_tenant {
            // Counted after the audit append, which holds the writers' lock
            // (the chain head), so two creations cannot both pass.
            let held: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM subjects WHERE tenant_id = $1 AND kind = $2 AND erased_at IS NULL",
            )
            .bind(tenant.as_str())
            .bind(kind)
            .fetch_one(&mut *tx)
            .await?;
            if held > i64::from(max) {
                drop(tx);
                return Err(StoreError::Conflict(format!(
                    "tenant {tenant} already holds {} subject(s) of kind `{kind}`, the most the policy allows (max_per_tenant = {max}); nothing was created",
                    held - ids.len() as i64
                )));
            }
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Loads subjects' row key, kind and life events, refusing any outside
    /// the scope (left out, so the caller reports them as not found) or
    /// erased.
    pub async fn subjects_in_scope(
        &self,
        tx: &mut Transaction<'static, Any>,
        by: &Principal,
        ids: &[&str],
    ) -> Result<HashMap<String, InScope>, StoreError> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let q = in_query(
                self.engine,
                "SELECT id, kind, tenant_path, erased_at, key, created_at, closed_at, contract_end, last_activity, restricted_at \
                 FROM subjects WHERE id IN ({ids})",
                chunk,
            );
            for row in q.fetch_all(&mut **tx).await? {
                let id: String = row.try_get(0)?;
                let path: String = row.try_get(2)?;
                let erased: Option<i64> = row.try_get(3)?;
                let sid = SubjectId::parse(&id).map_err(|e| StoreError::Invalid(e.to_string()))?;
                if !by.scope.covers(&path, &sid) {
                    continue;
                }
                if erased.is_some() {
                    return Err(StoreError::Erased(id));
                }
                found.insert(
                    id,
                    InScope {
                        key: row.try_get(4)?,
                        restricted: row.try_get::<Option<i64>, _>(9)?.is_some(),
                        kind: row.try_get(1)?,
                        life: lifecycle::life_of_row(&row, 5)?,
                    },
                );
            }
        }
        Ok(found)
    }

    /// Writes a batch of records in one transaction: all or nothing. Each is
    /// checked against the policy, sealed under its subject's key, indexed
    /// by its identifiers' keyed hashes, and recorded in the audit log.
    pub async fn write_records(
        &self,
        by: &Principal,
        reason: &str,
        batch: Vec<(SubjectId, NewRecord)>,
    ) -> Result<u64, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let (policy, policy_id) = self.policy_with_id();
        let now = self.now();
        let now_us = to_micros(now);
        let distinct: Vec<&str> = {
            let mut seen = HashSet::new();
            batch
                .iter()
                .map(|(s, _)| s.as_str())
                .filter(|s| seen.insert(*s))
                .collect()
        };
        if let Some(direct) = &self.records_writer {
            let distinct: Vec<String> = distinct.into_iter().map(str::to_owned).collect();
            return self
                .write_records_sqlite(
                    direct,
                    by,
                    reason,
                    batch,
                    (policy, policy_id),
                    now,
                    distinct,
                )
                .await;
        }
        let mut tx = self.begin_write().await?;
        let mut kinds = self.subjects_in_scope(&mut tx, by, &distinct).await?;
        if let Some(missing) = distinct.iter().find(|s| !kinds.contains_key(**s)) {
            let missing = (*missing).to_owned();
            drop(tx);
            self.audit_denied(by, Some(&missing), "records.write")
                .await?;
            return Err(not_found("subject", &missing));
        }
        if let Some((id, _)) = kinds.iter().find(|(_, s)| s.restricted) {
            // Erased by a request that kept some records: nothing new.
            return Err(StoreError::Erased(id.clone()));
        }
        if lifecycle::counts_from_withdrawal(&policy) {
            let keys: Vec<i64> = kinds.values().map(|s| s.key).collect();
            let mut consents = lifecycle::consents_of(&mut tx, self.engine, &keys).await?;
            for s in kinds.values_mut() {
                s.life.consent = consents.remove(&s.key).unwrap_or_default();
            }
        }
        let keys = self.keys.subject_keys(&distinct).await?;
        let total = batch.len();
        let ctx = ingest::Context {
            policy,
            subjects: kinds,
            keys,
            hasher: self.keys.hasher(),
            now,
        };
        // Sealing runs on a blocking thread one chunk ahead of the inserts,
        // so both cores work: one seals, the other writes.
        let (chunks_tx, mut chunks) =
            tokio::sync::mpsc::channel::<Result<ingest::Prepared, StoreError>>(2);
        let producer = tokio::task::spawn_blocking(move || {
            let mut nonces = custode_crypto::Nonces::new();
            let mut batch = batch.into_iter();
            for n in 0.. {
                let items: Vec<_> = batch.by_ref().take(RECORDS_PER_INSERT).collect();
                if items.is_empty() {
                    break;
                }
                let prepared = ingest::prepare(&ctx, &mut nonces, n * RECORDS_PER_INSERT, items);
                let failed = prepared.is_err();
                if chunks_tx.blocking_send(prepared).is_err() || failed {
                    break;
                }
            }
        });
        let full_insert = self.records_insert_sql(RECORDS_PER_INSERT);
        let mut identifiers: HashSet<(Vec<u8>, i64, &'static str)> = HashSet::new();
        let mut per_subject: BTreeMap<String, (u64, std::collections::BTreeSet<String>)> =
            BTreeMap::new();
        let mut written = 0u64;
        while let Some(prepared) = chunks.recv().await {
            let prepared = prepared?;
            let sql = if prepared.rows.len() == RECORDS_PER_INSERT {
                full_insert.clone()
            } else {
                self.records_insert_sql(prepared.rows.len())
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for r in &prepared.rows {
                q = q
                    .bind(r.subject_key)
                    .bind(r.category.as_str())
                    .bind(r.purposes.as_str())
                    .bind(r.source.as_str())
                    .bind(r.collected_at)
                    .bind(r.retain_until)
                    .bind(policy_id)
                    .bind(r.sealed.as_slice())
                    .bind(now_us)
                    .bind(r.vault_from)
                    .bind(r.vault_until)
                    .bind(r.rule.as_deref());
            }
            q.execute(&mut *tx).await?;
            written += prepared.rows.len() as u64;
            identifiers.extend(prepared.identifiers);
            for (subject, category) in prepared.written {
                let entry = per_subject.entry(subject).or_default();
                entry.0 += 1;
                entry.1.insert(category);
            }
        }
        producer
            .await
            .map_err(|e| StoreError::Invalid(format!("the sealing thread failed: {e}")))?;
        if written != total as u64 {
            return Err(StoreError::Invalid(format!(
                "only {written} of {total} records were prepared; nothing was written"
            )));
        }
        let identifiers: Vec<_> = identifiers.into_iter().collect();
        for chunk in identifiers.chunks(300) {
            let sql = format!(
                "INSERT INTO identifiers (hash, subject_key, kind) VALUES {} ON CONFLICT DO NOTHING",
                values(self.engine, chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (hash, subject, kind) in chunk {
                q = q.bind(hash.as_slice()).bind(*subject).bind(*kind);
            }
            q.execute(&mut *tx).await?;
        }
        let events = written_events(by, reason, per_subject);
        audit_log::append(&mut tx, self.engine, now_us, &events).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// `write_records` on SQLite: the same steps in the same order, through
    /// the direct writer connection.
    #[allow(clippy::too_many_arguments)]
    async fn write_records_sqlite(
        &self,
        direct: &sqlite_write::Writer,
        by: &Principal,
        reason: &str,
        batch: Vec<(SubjectId, NewRecord)>,
        (policy, policy_id): (Arc<Policy>, i64),
        now: Timestamp,
        distinct: Vec<String>,
    ) -> Result<u64, StoreError> {
        // Held until the commit: sqlx's one writer connection waits for
        // this transaction in the pool rather than on SQLite's busy handler.
        let held = self.writer.acquire().await?;
        let with_consents = lifecycle::counts_from_withdrawal(&policy);
        let (tx, scope) = direct
            .begin(by.clone(), distinct.clone(), with_consents)
            .await?;
        let subjects = match scope {
            sqlite_write::Scope::Found(subjects) => subjects,
            sqlite_write::Scope::Missing(missing) => {
                drop(tx);
                drop(held);
                self.audit_denied(by, Some(&missing), "records.write")
                    .await?;
                return Err(not_found("subject", &missing));
            }
        };
        let ids: Vec<&str> = distinct.iter().map(String::as_str).collect();
        let keys = self.keys.subject_keys(&ids).await?;
        let ctx = ingest::Context {
            policy,
            subjects,
            keys,
            hasher: self.keys.hasher(),
            now,
        };
        let written = sqlite_write::finish(
            tx,
            sqlite_write::Batch {
                by: by.clone(),
                reason: reason.to_owned(),
                items: batch,
                ctx,
                policy_id,
            },
        )
        .await?;
        drop(held);
        Ok(written)
    }

    fn records_insert_sql(&self, rows: usize) -> String {
        format!(
            "INSERT INTO records (subject_key, category, purposes, source, collected_at, retain_until, policy_id, sealed, written_at, vault_from, vault_until, retain_rule) VALUES {}",
            values(self.engine, rows, RECORD_COLUMNS)
        )
    }

    /// Every record of a subject, decrypted. The read is audited with the
    /// reader and the reason before any datum is returned. A subject whose
    /// erasure kept records under a legal ground is refused
    /// ([`StoreError::Restricted`]): read those with [`Store::records_for`].
    pub async fn records(
        &self,
        by: &Principal,
        subject: &SubjectId,
        reason: &str,
    ) -> Result<Vec<Record>, StoreError> {
        self.read_records(by, subject, reason, ReadFor::Caller, parse_fields)
            .await
    }

    /// [`Store::records`] with each record's fields left as the JSON object
    /// that was sealed, for a caller that only passes them on (the HTTP
    /// read): no parse into maps and no re-serialization. Audited the same.
    pub async fn records_json(
        &self,
        by: &Principal,
        subject: &SubjectId,
        reason: &str,
    ) -> Result<Vec<RecordJson>, StoreError> {
        self.read_records(by, subject, reason, ReadFor::Caller, json_fields)
            .await
    }

    /// The records that serve `purpose`, read for it. After a partial
    /// erasure this is the only read of what is kept: by the DPO, for one
    /// of the grounds that keep it, audited with the ground and the reason.
    pub async fn records_for(
        &self,
        by: &Principal,
        subject: &SubjectId,
        purpose: &str,
        reason: &str,
    ) -> Result<Vec<Record>, StoreError> {
        self.read_records(by, subject, reason, ReadFor::Ground(purpose), parse_fields)
            .await
    }

    /// [`Store::records_for`], with the fields as sealed JSON.
    pub async fn records_json_for(
        &self,
        by: &Principal,
        subject: &SubjectId,
        purpose: &str,
        reason: &str,
    ) -> Result<Vec<RecordJson>, StoreError> {
        self.read_records(by, subject, reason, ReadFor::Ground(purpose), json_fields)
            .await
    }

    /// A rights request's own read of its subject (Art. 15 reaches kept
    /// data too): the job, not a person, so no restriction applies.
    pub async fn records_for_request(
        &self,
        by: &Principal,
        subject: &SubjectId,
        reason: &str,
    ) -> Result<Vec<Record>, StoreError> {
        self.read_records(by, subject, reason, ReadFor::Request, parse_fields)
            .await
    }

    async fn read_records<F>(
        &self,
        by: &Principal,
        subject: &SubjectId,
        reason: &str,
        read_for: ReadFor<'_>,
        fields: Fields<F>,
    ) -> Result<Vec<Record<F>>, StoreError> {
        // One query for the subject and its records, and the key store
        // asked at the same time: a read is two round trips, not four.
        let wanted = [subject.as_str()];
        let (found, keys) = tokio::join!(
            self.subject_with_records(subject),
            self.keys.subject_keys(&wanted)
        );
        let Some((head, mut rows)) = found? else {
            return Err(not_found("subject", subject.as_str()));
        };
        if !by.scope.covers(&head.path, subject) {
            self.audit_denied(by, Some(subject.as_str()), "records.read")
                .await?;
            return Err(not_found("subject", subject.as_str()));
        }
        if head.erased {
            return Err(StoreError::Erased(subject.to_string()));
        }
        if let ReadFor::Ground(purpose) = read_for {
            let serves = |r: &SealedRow| r.purposes.split(',').any(|p| p == purpose);
            // The DPO answers for what a legal ground keeps; the local
            // operator (the CLI's administrator, which the API never lets
            // read records) holds the keys anyway.
            let ground_reader = matches!(
                by.role,
                custode_domain::Role::Dpo | custode_domain::Role::Administrator
            );
            if head.restricted && (!ground_reader || !rows.iter().any(serves)) {
                self.audit_denied(by, Some(subject.as_str()), "records.read_kept")
                    .await?;
                return Err(self.restriction(subject, &rows));
            }
            rows.retain(serves);
        } else if head.restricted && read_for == ReadFor::Caller {
            self.audit_denied(by, Some(subject.as_str()), "records.read")
                .await?;
            return Err(self.restriction(subject, &rows));
        }
        let mut keys = keys?;
        if head.generation != 0 {
            // Re-sealed by a partial erasure: the first key is gone.
            let name = keys::key_name(subject.as_str(), head.generation);
            keys = self.keys.subject_keys(&[name.as_str()]).await?;
            if let Some(key) = keys.remove(&name) {
                keys.insert(subject.to_string(), key);
            }
        }
        let key = keys
            .get(subject.as_str())
            .ok_or_else(|| StoreError::Erased(subject.to_string()))?;
        let records = open_records(key, subject, rows, fields)?;
        // Which of its data were shown, for the subject's trail.
        let categories: std::collections::BTreeSet<&str> =
            records.iter().map(|r| r.category.as_str()).collect();
        let detail = match read_for {
            ReadFor::Ground(purpose) => {
                json!({ "records": records.len(), "categories": categories, "ground": purpose })
            }
            _ => json!({ "records": records.len(), "categories": categories }),
        };
        self.audit_alone(Event {
            actor: by.id.clone(),
            action: Action::RecordsRead,
            subject: Some(subject.to_string()),
            reason: Some(reason.to_owned()),
            detail,
        })
        .await?;
        Ok(records)
    }

    /// Why a partially erased subject's records are refused: per ground
    /// that keeps some, its purpose, basis and law, and the last end.
    fn restriction(&self, subject: &SubjectId, rows: &[SealedRow]) -> StoreError {
        let policy = self.policy();
        let mut grounds: BTreeMap<&str, Option<i64>> = BTreeMap::new();
        for r in rows {
            for p in r.purposes.split(',').filter(|p| !p.is_empty()) {
                let until = grounds.entry(p).or_insert(r.retain_until);
                *until = (*until).max(r.retain_until);
            }
        }
        let lang = policy
            .meta
            .languages
            .first()
            .copied()
            .unwrap_or(custode_policy::Lang::En);
        let lines: Vec<String> = grounds
            .iter()
            .map(|(p, until)| {
                let purpose = policy.purpose(p);
                let basis = purpose.map_or("its legal basis", |x| x.basis.key());
                let law = purpose
                    .and_then(|x| x.law.as_ref())
                    .map(|l| format!(" ({})", l.get(lang)))
                    .unwrap_or_default();
                let until = until.map_or("an event not yet happened".to_owned(), |u| {
                    from_micros(u).to_string()
                });
                format!("kept only for {p} under {basis}{law} until {until}")
            })
            .collect();
        let kept = if lines.is_empty() {
            "nothing is kept".to_owned()
        } else {
            format!(
                "{}; only the DPO reads it, for that purpose (`purpose=` on the read, `--purpose` on the command line), with a reason",
                lines.join("; ")
            )
        };
        StoreError::Restricted {
            subject: subject.to_string(),
            kept,
        }
    }

    /// A subject (where it hangs, how far erased, its key's generation)
    /// and its sealed records in order. On SQLite through a direct
    /// read-only connection: two indexed look-ups that take less time than
    /// one hand-off to sqlx's connection thread, so they run where they
    /// are called.
    async fn subject_with_records(
        &self,
        subject: &SubjectId,
    ) -> Result<Option<(SubjectHead, Vec<SealedRow>)>, StoreError> {
        match (self.engine, &self.reads) {
            (Engine::Sqlite, Some(reads)) => reads.with(|c| {
                // One statement, so one snapshot: the subject and its records.
                let mut stmt = c.prepare_cached(
                    "SELECT s.tenant_path, s.erased_at, r.id, r.category, r.purposes, r.source, r.collected_at, r.retain_until, r.sealed, \
                     s.restricted_at, s.key_generation \
                     FROM subjects s LEFT JOIN records r ON r.subject_key = s.key WHERE s.id = ?1 ORDER BY r.id",
                )?;
                let mut rows = stmt.query([subject.as_str()])?;
                let mut found: Option<SubjectHead> = None;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    if found.is_none() {
                        found = Some(SubjectHead {
                            path: r.get(0)?,
                            erased: r.get::<_, Option<i64>>(1)?.is_some(),
                            restricted: r.get::<_, Option<i64>>(9)?.is_some(),
                            generation: r.get(10)?,
                        });
                    }
                    // A subject without records comes back as one row of NULLs.
                    let Some(id) = r.get::<_, Option<i64>>(2)? else {
                        continue;
                    };
                    out.push(SealedRow {
                        id,
                        category: r.get(3)?,
                        purposes: r.get(4)?,
                        source: r.get(5)?,
                        collected_at: r.get(6)?,
                        retain_until: r.get(7)?,
                        sealed: r.get(8)?,
                    });
                }
                Ok(found.map(|head| (head, out)))
            }),
            _ => {
                let rows = sqlx::query(
                    "SELECT s.tenant_path, s.erased_at, r.id, r.category, r.purposes, r.source, r.collected_at, r.retain_until, r.sealed, \
                     s.restricted_at, s.key_generation \
                     FROM subjects s LEFT JOIN records r ON r.subject_key = s.key WHERE s.id = $1 ORDER BY r.id",
                )
                .bind(subject.as_str())
                .fetch_all(&self.db)
                .await?;
                let Some(first) = rows.first() else {
                    return Ok(None);
                };
                let head = SubjectHead {
                    path: first.try_get(0)?,
                    erased: first.try_get::<Option<i64>, _>(1)?.is_some(),
                    restricted: first.try_get::<Option<i64>, _>(9)?.is_some(),
                    generation: first.try_get(10)?,
                };
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    // A subject without records comes back as one row of NULLs.
                    let Some(id) = r.try_get::<Option<i64>, _>(2)? else {
                        continue;
                    };
                    out.push(SealedRow {
                        id,
                        category: r.try_get(3)?,
                        purposes: r.try_get(4)?,
                        source: r.try_get(5)?,
                        collected_at: r.try_get(6)?,
                        retain_until: r.try_get(7)?,
                        sealed: r.try_get(8)?,
                    });
                }
                Ok(Some((head, out)))
            }
        }
    }

    /// Subjects in the caller's scope, by id, `limit` at a time after `after`.
    pub async fn subjects(
        &self,
        by: &Principal,
        after: Option<&SubjectId>,
        limit: u32,
    ) -> Result<Vec<SubjectSummary>, StoreError> {
        let (low, high) = by.scope.path_range();
        let only = by.scope.only_subject().map(|s| s.to_string());
        let rows = sqlx::query(
            "SELECT id, kind, tenant_id, created_at, erased_at, restricted_at, \
             (SELECT MAX(r.retain_until) FROM records r WHERE r.subject_key = subjects.key AND subjects.restricted_at IS NOT NULL) \
             FROM subjects WHERE tenant_path >= $1 AND tenant_path < $2 AND id > $3 AND ($4 IS NULL OR id = $4) \
             ORDER BY id LIMIT $5",
        )
        .bind(low)
        .bind(high)
        .bind(after.map_or(String::new(), |a| a.to_string()))
        .bind(only)
        .bind(i64::from(limit.min(10_000)))
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let tenant: String = r.try_get(2)?;
                let erased_at = r.try_get::<Option<i64>, _>(4)?.map(from_micros);
                let erasure = match (erased_at, r.try_get::<Option<i64>, _>(5)?) {
                    (Some(_), _) => ErasureState::Erased,
                    (None, Some(at)) => ErasureState::Partial {
                        at: from_micros(at),
                        kept_until: r.try_get::<Option<i64>, _>(6)?.map(from_micros),
                    },
                    (None, None) => ErasureState::None,
                };
                Ok(SubjectSummary {
                    id: SubjectId::parse(&id).map_err(|e| StoreError::Invalid(e.to_string()))?,
                    kind: r.try_get(1)?,
                    tenant: TenantId::parse(&tenant)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                    created_at: from_micros(r.try_get(3)?),
                    erased_at,
                    erasure,
                })
            })
            .collect()
    }

    /// How many subjects the caller can see.
    pub async fn count_subjects(&self, by: &Principal) -> Result<u64, StoreError> {
        let (low, high) = by.scope.path_range();
        let only = by.scope.only_subject().map(|s| s.to_string());
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM subjects WHERE tenant_path >= $1 AND tenant_path < $2 AND ($3 IS NULL OR id = $3)",
        )
        .bind(low)
        .bind(high)
        .bind(only)
        .fetch_one(&self.db)
        .await?
        .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Erases a subject by destroying its data key (crypto-shredding): every
    /// copy of its records, backups included, becomes unreadable at once,
    /// whatever their number. Its identifiers are deleted; the sealed
    /// records themselves are removed later by [`Store::purge_erased`].
    pub async fn erase_subject(
        &self,
        by: &Principal,
        subject: &SubjectId,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT tenant_path, erased_at, key, key_generation FROM subjects WHERE id = $1",
        )
        .bind(subject.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found("subject", subject.as_str()))?;
        let path: String = row.try_get(0)?;
        let generation: i64 = row.try_get(3)?;
        if !by.scope.covers(&path, subject) {
            drop(tx);
            self.audit_denied(by, Some(subject.as_str()), "subject.erase")
                .await?;
            return Err(not_found("subject", subject.as_str()));
        }
        if row.try_get::<Option<i64>, _>(1)?.is_some() {
            return Err(StoreError::Erased(subject.to_string()));
        }
        let now = to_micros(self.now());
        mark_erased(&mut tx, row.try_get(2)?, now).await?;
        audit_log::append(
            &mut tx,
            self.engine,
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::SubjectErased,
                subject: Some(subject.to_string()),
                reason: Some(reason.to_owned()),
                detail: json!({ "method": "crypto-shredding" }),
            }],
        )
        .await?;
        tx.commit().await?;
        self.changed(Change::Subject(subject.as_str()));
        // After the commit: a crash here leaves an erased subject with a key,
        // which `finish_erasures` destroys at the next start. Every
        // generation goes (a partial erasure re-sealed under a newer one).
        let names = keys::key_names_through(subject.as_str(), generation);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.keys.destroy(&names).await?;
        Ok(())
    }

    /// Destroys the keys that a crash let survive: every key of a subject
    /// marked erased, and the keys older than the generation a partial
    /// erasure re-sealed the kept records under. A key newer than the
    /// subject's generation is a re-seal not committed yet: it stays, and
    /// the job's rerun uses it.
    async fn finish_erasures(&self) -> Result<u64, StoreError> {
        let keyed = self.keys.keyed_subjects().await?;
        let mut by_subject: HashMap<&str, Vec<(&str, i64)>> = HashMap::new();
        for name in &keyed {
            let (subject, generation) = keys::parse_key_name(name);
            by_subject
                .entry(subject)
                .or_default()
                .push((name.as_str(), generation));
        }
        let subjects: Vec<&str> = by_subject.keys().copied().collect();
        let mut leftover: Vec<&str> = Vec::new();
        for chunk in subjects.chunks(500) {
            let q = in_query(
                self.engine,
                "SELECT id, erased_at, key_generation FROM subjects \
                 WHERE (erased_at IS NOT NULL OR key_generation > 0) AND id IN ({ids})",
                chunk,
            );
            for r in q.fetch_all(&self.db).await? {
                let id: String = r.try_get(0)?;
                let erased = r.try_get::<Option<i64>, _>(1)?.is_some();
                let current: i64 = r.try_get(2)?;
                for (name, generation) in by_subject.get(id.as_str()).into_iter().flatten() {
                    if erased || *generation < current {
                        leftover.push(name);
                    }
                }
            }
        }
        if leftover.is_empty() {
            return Ok(0);
        }
        self.keys.destroy(&leftover).await
    }

    /// The current data keys of subjects (the generation their records are
    /// sealed under); an erased subject is absent.
    pub async fn current_keys(
        &self,
        subjects: &[&str],
    ) -> Result<HashMap<String, Key>, StoreError> {
        let mut names: HashMap<String, String> = HashMap::with_capacity(subjects.len());
        for chunk in subjects.chunks(500) {
            let q = in_query(
                self.engine,
                "SELECT id, key_generation FROM subjects WHERE erased_at IS NULL AND id IN ({ids})",
                chunk,
            );
            for r in q.fetch_all(&self.db).await? {
                let id: String = r.try_get(0)?;
                let generation: i64 = r.try_get(1)?;
                names.insert(keys::key_name(&id, generation), id);
            }
        }
        let wanted: Vec<&str> = names.keys().map(String::as_str).collect();
        let mut found = self.keys.subject_keys(&wanted).await?;
        Ok(names
            .into_iter()
            .filter_map(|(name, id)| found.remove(&name).map(|k| (id, k)))
            .collect())
    }

    /// Deletes up to `limit` sealed records of erased subjects (unreadable
    /// already); returns how many. Bounded, so it can run in small steps.
    pub async fn purge_erased(&self, limit: u32) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM records WHERE id IN (SELECT r.id FROM records r JOIN subjects s ON s.key = r.subject_key \
             WHERE s.erased_at IS NOT NULL LIMIT $1)",
        )
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await?
        .rows_affected())
    }

    // ---- Keys and audit -------------------------------------------------

    /// Replaces the master key: every wrapped key is re-wrapped under the
    /// new one in one transaction; no payload is touched. Crash-safe: the
    /// new key is staged on disk before, and promoted after.
    pub async fn rotate_master_key(&mut self, by: &Principal, new: Key) -> Result<u64, StoreError> {
        let old = self.keys.master_fingerprint();
        let count = self.keys.rotate(&self.key_source, new).await?;
        let mut tx = self.begin_write().await?;
        audit_log::append(
            &mut tx,
            self.engine,
            to_micros(self.now()),
            &[Event {
                actor: by.id.clone(),
                action: Action::MasterKeyRotated,
                subject: None,
                reason: None,
                detail: json!({ "from": old, "to": self.keys.master_fingerprint(), "keys": count }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(count)
    }

    /// Verifies the whole audit chain and its signed checkpoints (the
    /// vault adds its access log's chain: `custode_vault::Vault::audit_verify`).
    pub async fn audit_verify(&self) -> Result<Report, StoreError> {
        let report = audit_log::verify(
            &self.db,
            self.engine,
            self.reads.clone(),
            &self.keys.verifying_key(),
        )
        .await?;
        Ok(report)
    }

    /// Signs the current chain head; `None` when the log is empty or the
    /// head is already signed.
    pub async fn audit_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        audit_log::checkpoint(
            &self.writer,
            &self.keys.signing_key(),
            to_micros(self.now()),
        )
        .await
    }

    /// The latest audit entries about a subject.
    pub async fn audit_of_subject(
        &self,
        subject: &SubjectId,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        audit_log::for_subject(&self.db, subject.as_str(), i64::from(limit)).await
    }

    /// Refreshes the query planner's statistics of the tables a bulk import
    /// fills. PostgreSQL without them (autovacuum off, or not yet run after
    /// a large import) walks every subject in scope for a find by e-mail:
    /// seconds instead of a fraction of a millisecond.
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        let sql = match self.engine() {
            Engine::Postgres => "ANALYZE subjects, identifiers, records",
            Engine::Sqlite => "PRAGMA optimize",
        };
        sqlx::query(sql).execute(&self.db).await?;
        Ok(())
    }

    /// The raw pool, for tests that tamper with the database on purpose.
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.writer
    }

    /// Closes the databases cleanly; the store is unusable afterwards.
    pub async fn close(&self) {
        // The group commit holds the direct writer: it ends first, so every
        // connection to the files is closed when this returns.
        self.audit_shutdown.notify_one();
        let batcher = self
            .audit_batcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(batcher) = batcher {
            let _ = batcher.await;
        }
        self.db.close().await;
        self.writer.close().await;
        self.keys.close().await;
    }
}

/// The id of a policy version, registering it when new.
async fn register_policy(pool: &AnyPool, policy: &Policy, now: i64) -> Result<i64, StoreError> {
    sqlx::query("INSERT INTO policy_versions (digest, version, loaded_at, source) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(policy.digest.as_str())
        .bind(policy.meta.version.as_str())
        .bind(now)
        .bind(&*policy.source)
        .execute(pool)
        .await?;
    // Versions registered before texts were kept get theirs now.
    sqlx::query("UPDATE policy_versions SET source = $1 WHERE digest = $2 AND source IS NULL")
        .bind(&*policy.source)
        .bind(policy.digest.as_str())
        .execute(pool)
        .await?;
    Ok(
        sqlx::query("SELECT id FROM policy_versions WHERE digest = $1")
            .bind(policy.digest.as_str())
            .fetch_one(pool)
            .await?
            .try_get(0)?,
    )
}

/// Who a records read is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadFor<'a> {
    /// The caller, for its own ends: refused after a partial erasure.
    Caller,
    /// The caller, for this purpose only (the ground that keeps data).
    Ground(&'a str),
    /// A rights request's job, for the subject.
    Request,
}

/// A subject as a records read sees it.
struct SubjectHead {
    path: String,
    erased: bool,
    /// Erased by a request that kept records under a legal ground.
    restricted: bool,
    /// Which of its keys seals its records.
    generation: i64,
}

/// A record as stored: metadata in clear, payload sealed.
struct SealedRow {
    id: i64,
    category: String,
    purposes: String,
    source: String,
    collected_at: i64,
    retain_until: Option<i64>,
    sealed: Vec<u8>,
}

/// The audit entries of a batch write: one per subject, with how many
/// records of which categories.
pub fn written_events(
    by: &Principal,
    reason: &str,
    per_subject: BTreeMap<String, (u64, std::collections::BTreeSet<String>)>,
) -> Vec<Event> {
    per_subject
        .into_iter()
        .map(|(subject, (count, categories))| Event {
            actor: by.id.clone(),
            action: Action::RecordsWritten,
            subject: Some(subject),
            reason: Some(reason.to_owned()),
            detail: json!({ "records": count, "categories": categories }),
        })
        .collect()
}

/// How a record's decrypted fields are taken.
type Fields<F> = fn(Vec<u8>) -> Result<F, StoreError>;

fn parse_fields(plain: Vec<u8>) -> Result<BTreeMap<String, serde_json::Value>, StoreError> {
    payload_fields(&plain)
}

/// A decrypted payload's fields.
pub fn payload_fields(plain: &[u8]) -> Result<BTreeMap<String, serde_json::Value>, StoreError> {
    serde_json::from_slice(plain)
        .map_err(|e| StoreError::Invalid(format!("record payload is not a JSON object: {e}")))
}

/// The seal proves the store wrote these bytes, and it writes only
/// serialized maps; still, whatever is passed on verbatim is checked to be
/// one JSON object (a syntax pass, no allocation).
fn json_fields(plain: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if plain.first() != Some(&b'{')
        || serde_json::from_slice::<serde::de::IgnoredAny>(&plain).is_err()
    {
        return Err(StoreError::Invalid(
            "record payload is not a JSON object".into(),
        ));
    }
    Ok(plain)
}

/// Decrypts a subject's sealed rows, each in its own buffer, and moves
/// their strings into the records: nothing is copied twice.
fn open_records<F>(
    key: &Key,
    subject: &SubjectId,
    rows: Vec<SealedRow>,
    fields: Fields<F>,
) -> Result<Vec<Record<F>>, StoreError> {
    // The associated data `subject|category`, built in one buffer.
    let mut aad = format!("{subject}|");
    let prefix = aad.len();
    rows.into_iter()
        .map(|r| {
            aad.truncate(prefix);
            aad.push_str(&r.category);
            Ok(Record {
                id: r.id,
                fields: fields(key.open_owned(r.sealed, aad.as_bytes())?)?,
                category: r.category,
                source: r.source,
                purposes: r
                    .purposes
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
                collected_at: from_micros(r.collected_at),
                retain_until: r.retain_until.map(from_micros),
            })
        })
        .collect()
}
