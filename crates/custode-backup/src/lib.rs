//! Backups whose erasures catch up with them.
//!
//! A backup is a directory: a consistent copy of the main store and of the
//! vault (SQLite: `VACUUM INTO`; on PostgreSQL the operator dumps them with
//! `pg_dump` first), and `keys.sealed`, the key store's export sealed under
//! the day's **backup key generation**. No file of a backup holds a key in
//! clear or under the master key: the copies hold no key at all (keys live in
//! the key store, a database of its own), and the export opens only with its
//! generation, which lives in the live key store.
//!
//! Each generation is destroyed the policy's `backup_key_lifetime` after it
//! was made (the rotation job: `custode backup rotate`, and the server every
//! ten minutes). Then no backup sealed under it can be restored, by anyone:
//! an erased subject's key, still in an old export, goes with it. So an
//! erasure reaches every backup within the lifetime the notice states —
//! and so does every other subject's data in those backups.
//!
//! A restore rebuilds a data directory (or new PostgreSQL databases already
//! loaded from the dumps) from a backup and its generation, which must still
//! exist in the live key store.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use custode_audit::{Action, Event};
use custode_crypto::Key;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, Role};
use jiff::Timestamp;
use serde_json::json;
use sqlx::AnyPool;

use custode_store::engine::{self, Engine, OpenMode};
use custode_store::keys::{self, KeyExport};
use custode_store::{Store, StoreConfig, StoreError, audit_log};
use custode_vault::Vault;

pub use custode_store::keys::BackupGeneration;

/// The backup's description: which generation seals it, what it holds.
pub const MANIFEST: &str = "backup.json";
/// The key store's export, sealed under the generation.
pub const KEY_EXPORT: &str = "keys.sealed";
/// The main store's copy (SQLite).
pub const MAIN_COPY: &str = "custode.db";
/// The vault's copy (SQLite).
pub const VAULT_COPY: &str = "vault.db";

const FORMAT: u32 = 1;

/// The manifest, `backup.json`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    format: u32,
    generation: i64,
    taken_at: String,
    /// The main store's copy in this directory, or `None` when it is a
    /// PostgreSQL database the operator dumped.
    main: Option<String>,
    /// The vault's copy, likewise.
    vault: Option<String>,
    subjects: u64,
}

/// What a backup wrote.
#[derive(Clone, Debug)]
pub struct BackupReport {
    /// The backup key generation its key export is sealed under.
    pub generation: i64,
    /// When that generation is destroyed, and the backup with it.
    pub restorable_until: Timestamp,
    /// Subjects whose keys the export holds.
    pub subjects: u64,
    /// The files written, in the backup directory.
    pub files: Vec<String>,
    /// Stores the operator must dump: PostgreSQL databases are not copied here.
    pub to_dump: Vec<&'static str>,
}

/// What a rotation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupRotation {
    /// The generation new backups are sealed under, none when the policy
    /// promises no backups.
    pub current: Option<i64>,
    /// Whether the current generation was made by this rotation.
    pub created: bool,
    /// Generations destroyed: their backups can no longer be restored.
    pub destroyed: Vec<i64>,
}

/// What a restore rebuilt.
#[derive(Clone, Debug)]
pub struct RestoreReport {
    /// The generation the export was sealed under.
    pub generation: i64,
    /// When the backup was taken.
    pub taken_at: String,
    /// Subject keys put back into the new key store.
    pub subjects: u64,
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("{}: {e}", path.display()))
}

/// The associated data the export is sealed with: a manifest that names
/// another generation or format cannot open it.
fn export_aad(generation: i64) -> Vec<u8> {
    format!("custode backup keys v{FORMAT}|{generation}").into_bytes()
}

/// Only the instance's operator and its jobs handle backups.
fn may_back_up(by: &Principal) -> bool {
    matches!(by.role, Role::Administrator | Role::System)
}

/// Writes a new file, owner only, durably.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io(path, e))
}

/// A consistent copy of an SQLite database (one read transaction), owner only.
async fn vacuum_into(pool: &AnyPool, to: &Path) -> Result<(), StoreError> {
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not valid UTF-8", to.display())))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(pool)
        .await?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o600)).map_err(|e| io(to, e))?;
    File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(to, e))
}

/// Copies a backup's SQLite file to where a restored store expects it.
fn copy_into(from: &Path, url: &str) -> Result<(), StoreError> {
    if Engine::of_url(url)? != Engine::Sqlite {
        return Err(StoreError::Invalid(format!(
            "the backup holds an SQLite copy ({}), but the target is not SQLite: restore into a data directory",
            from.display()
        )));
    }
    let to = PathBuf::from(engine::sqlite_path(url));
    if to.exists() {
        return Err(StoreError::Conflict(format!(
            "{} exists: restore into a new, empty data directory",
            to.display()
        )));
    }
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(dir, e))?;
    }
    fs::copy(from, &to).map_err(|e| io(&to, e))?;
    fs::set_permissions(&to, fs::Permissions::from_mode(0o600)).map_err(|e| io(&to, e))?;
    File::open(&to)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&to, e))
}

/// The backup capability.
pub struct Backup {
    store: Arc<Store>,
    vault: Arc<Vault>,
}

impl Backup {
    /// Backups of a store and its vault.
    pub fn new(vault: Arc<Vault>) -> Backup {
        Backup {
            store: vault.store().clone(),
            vault,
        }
    }

    /// Takes a backup into `dir` (created, or empty): the SQLite stores
    /// copied with `VACUUM INTO`, then the key store exported under the
    /// day's backup key generation — after the copies, so every subject in
    /// them has its key. On PostgreSQL, dump the main store and the vault
    /// before calling this (see the README). Refused while the policy
    /// declares no `[security] backup_key_lifetime`: the notice would
    /// promise nothing about backups.
    pub async fn backup(&self, by: &Principal, dir: &Path) -> Result<BackupReport, StoreError> {
        if !may_back_up(by) {
            self.store.audit_denied(by, None, "backup.take").await?;
            return Err(StoreError::Forbidden(
                "only the instance's administrator takes backups".to_owned(),
            ));
        }
        let Some(lifetime) = self.store.policy().security.backup_key_lifetime_days else {
            return Err(StoreError::Invalid(
                "the policy declares no [security] backup_key_lifetime: declare how long a backup may keep an erased person's data (e.g. \"35 days\"), so the notice can say it".to_owned(),
            ));
        };
        if dir.exists() && fs::read_dir(dir).map_err(|e| io(dir, e))?.next().is_some() {
            return Err(StoreError::Conflict(format!(
                "{} is not empty: give a new directory for each backup",
                dir.display()
            )));
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(dir, e))?;

        let mut files = Vec::new();
        let mut to_dump = Vec::new();
        let main = match self.store.engine() {
            Engine::Sqlite => {
                vacuum_into(self.store.reader(), &dir.join(MAIN_COPY)).await?;
                files.push(MAIN_COPY.to_owned());
                Some(MAIN_COPY.to_owned())
            }
            Engine::Postgres => {
                to_dump.push("the main store");
                None
            }
        };
        let (vault_engine, vault_pool, vault_key) = self.vault.parts();
        let vault = match vault_engine {
            Engine::Sqlite => {
                vacuum_into(vault_pool, &dir.join(VAULT_COPY)).await?;
                files.push(VAULT_COPY.to_owned());
                Some(VAULT_COPY.to_owned())
            }
            Engine::Postgres => {
                to_dump.push("the vault");
                None
            }
        };

        let now = to_micros(self.store.now());
        let (generation, key, _) = self
            .store
            .keys()
            .backup_generation_for(now, lifetime)
            .await?;
        let export = self.store.keys().export(vault_key).await?;
        let subjects = export.subjects.len() as u64;
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(&export)
                .map_err(|e| StoreError::Invalid(format!("cannot encode the key export: {e}")))?,
        );
        drop(export);
        write_file(
            &dir.join(KEY_EXPORT),
            &key.seal(&plain, &export_aad(generation))?,
        )?;
        files.push(KEY_EXPORT.to_owned());
        let manifest = Manifest {
            format: FORMAT,
            generation,
            taken_at: from_micros(now).to_string(),
            main,
            vault,
            subjects,
        };
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| StoreError::Invalid(format!("cannot encode the manifest: {e}")))?;
        write_file(&dir.join(MANIFEST), &text)?;
        files.push(MANIFEST.to_owned());
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(dir, e))?;

        let restorable_until = self
            .store
            .keys()
            .backup_generations()
            .await?
            .into_iter()
            .find(|g| g.generation == generation)
            .map_or_else(|| from_micros(now), |g| g.destroy_at);
        let mut tx = self.store.begin_write().await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::BackupTaken,
                subject: None,
                reason: None,
                detail: json!({ "generation": generation, "subjects": subjects, "copied": files, "to_dump": to_dump }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(BackupReport {
            generation,
            restorable_until,
            subjects,
            files,
            to_dump,
        })
    }

    /// The backup key rotation: destroys every generation whose end has
    /// come (and with it every backup sealed under it), and makes the
    /// day's generation. Idempotent, safe on every instance; audited when
    /// it changed something.
    pub async fn rotate_backup_keys(&self, by: &Principal) -> Result<BackupRotation, StoreError> {
        if !may_back_up(by) {
            self.store.audit_denied(by, None, "backup.rotate").await?;
            return Err(StoreError::Forbidden(
                "only the instance's administrator rotates backup keys".to_owned(),
            ));
        }
        let now = to_micros(self.store.now());
        let lifetime = self.store.policy().security.backup_key_lifetime_days;
        let destroyed = self
            .store
            .keys()
            .destroy_expired_backup_generations(now, lifetime)
            .await?;
        let (current, created) = match lifetime {
            Some(days) => {
                let (generation, _, created) =
                    self.store.keys().backup_generation_for(now, days).await?;
                (Some(generation), created)
            }
            None => (None, false),
        };
        if created || !destroyed.is_empty() {
            let mut tx = self.store.begin_write().await?;
            audit_log::append(
                &mut tx,
                self.store.engine(),
                now,
                &[Event {
                    actor: by.id.clone(),
                    action: Action::BackupKeysRotated,
                    subject: None,
                    reason: None,
                    detail: json!({ "current": current, "created": created, "destroyed": destroyed }),
                }],
            )
            .await?;
            tx.commit().await?;
        }
        Ok(BackupRotation {
            current,
            created,
            destroyed,
        })
    }

    /// The backup key generations that exist (never their keys).
    pub async fn backup_generations(&self) -> Result<Vec<BackupGeneration>, StoreError> {
        self.store.keys().backup_generations().await
    }

    /// Rebuilds a store at `target` from the backup in `from`, with its
    /// generation from this (the live) store's key store: the SQLite copies
    /// are copied into place (PostgreSQL targets must already hold the
    /// restored dumps), and a new key store is written from the export,
    /// under the target's master key. The vault's key is written beside
    /// it when the target has none. Then open `target` as usual.
    pub async fn restore_backup(
        &self,
        by: &Principal,
        from: &Path,
        target: &StoreConfig,
    ) -> Result<RestoreReport, StoreError> {
        if !may_back_up(by) {
            self.store.audit_denied(by, None, "backup.restore").await?;
            return Err(StoreError::Forbidden(
                "only the instance's administrator restores backups".to_owned(),
            ));
        }
        let manifest_path = from.join(MANIFEST);
        let text = fs::read(&manifest_path).map_err(|e| io(&manifest_path, e))?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
            StoreError::Invalid(format!(
                "{} is not a backup manifest: {e}",
                manifest_path.display()
            ))
        })?;
        if manifest.format != FORMAT {
            return Err(StoreError::Invalid(format!(
                "backup format {} is not known to this Custode (it knows {FORMAT})",
                manifest.format
            )));
        }
        let generation = manifest.generation;
        let key = self
            .store
            .keys()
            .backup_generation(generation)
            .await?
            .ok_or(StoreError::BackupKeyDestroyed { generation })?;
        let sealed_path = from.join(KEY_EXPORT);
        let sealed = fs::read(&sealed_path).map_err(|e| io(&sealed_path, e))?;
        let plain = zeroize::Zeroizing::new(key.open(&sealed, &export_aad(generation)).map_err(
            |_| {
                StoreError::Invalid(format!(
                    "{} does not open under generation {generation}: the file is damaged or belongs to another backup",
                    sealed_path.display()
                ))
            },
        )?);
        let export: KeyExport = serde_json::from_slice(&plain)
            .map_err(|e| StoreError::Invalid(format!("the key export is malformed: {e}")))?;
        drop(plain);

        if target.keystore_url == target.database_url || target.vault_url == target.database_url {
            return Err(StoreError::Invalid(
                "the target's key store and vault must be databases of their own".to_owned(),
            ));
        }
        // A target that is this store itself is refused below: its SQLite
        // files exist, and its key store already holds keys.
        for (copy, url) in [
            (&manifest.main, &target.database_url),
            (&manifest.vault, &target.vault_url),
        ] {
            match copy {
                Some(name) => copy_into(&from.join(name), url)?,
                None if Engine::of_url(url)? == Engine::Sqlite => {
                    return Err(StoreError::Invalid(
                        "this backup's stores were PostgreSQL dumps: restore them with pg_restore into new databases and give those as the target".to_owned(),
                    ));
                }
                None => {}
            }
        }
        target
            .vault_key
            .install(&Key::from_hex(&export.vault_key)?)?;
        let now = to_micros(self.store.now());
        let (key_engine, pool) =
            engine::connect(&target.keystore_url, OpenMode::CreateIfMissing, 2, true).await?;
        custode_store::migrations::run(&pool, key_engine, &[custode_store::migrations::KEYS], now)
            .await?;
        let (master, _) = target.master_key.load(true)?;
        let installed = keys::install(&pool, key_engine, &master, &export, now).await;
        pool.close().await;
        let subjects = installed?;
        drop(export);

        let mut tx = self.store.begin_write().await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::BackupRestored,
                subject: None,
                reason: None,
                detail: json!({ "generation": generation, "taken_at": manifest.taken_at, "subjects": subjects }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(RestoreReport {
            generation,
            taken_at: manifest.taken_at,
            subjects,
        })
    }
}
