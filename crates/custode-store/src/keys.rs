//! The key store: the index key, the signing key and one data key per
//! subject, each wrapped under the master key, in a database of its own.
//!
//! Destroying a subject's data key is what erasure means: every sealed copy
//! of its records, wherever it lies, stops opening. On SQLite the key store
//! zeroes deleted bytes (`secure_delete`) and truncates its write-ahead log
//! after each destruction, so the key does not linger in the file.
//!
//! A subject whose erasure kept some records has its kept records re-sealed
//! under a new key, stored as `id#generation` (see [`key_name`]); the older
//! keys are destroyed, so an earlier copy of the erased records stops
//! opening although the subject still has a key.

use std::collections::HashMap;

use custode_crypto::{IdentifierHasher, Key, SigningKey, VerifyingKey};
use sqlx::{AnyPool, Executor, Row};

use crate::StoreError;
use crate::engine::Engine;
use crate::keyfile::MasterKeySource;

const CHECK_PLAINTEXT: &[u8] = b"custode master key check v1";

/// The name a subject's data key of a generation is stored under: the id
/// for the first, `id#n` after `n` re-seals.
pub fn key_name(subject: &str, generation: i64) -> String {
    if generation == 0 {
        subject.to_owned()
    } else {
        format!("{subject}#{generation}")
    }
}

/// Every name a subject's keys may have up to `generation` and the one
/// after it (made by a re-seal a crash cut short before its commit).
pub fn key_names_through(subject: &str, generation: i64) -> Vec<String> {
    (0..=generation.saturating_add(1).max(1))
        .map(|g| key_name(subject, g))
        .collect()
}

/// The subject and generation of a stored key name (request keys aside).
pub fn parse_key_name(name: &str) -> (&str, i64) {
    match name.split_once('#') {
        Some((subject, g)) => (subject, g.parse().unwrap_or(0)),
        None => (name, 0),
    }
}

/// The key store: every data key wrapped under the master key, and the keys derived from it.
pub struct Keyring {
    pool: AnyPool,
    engine: Engine,
    master: Key,
    index: Key,
    signing: Key,
    /// Recently unwrapped subject keys. An erasure on this instance drops
    /// the key at once; on another instance the key may stay here up to
    /// `KEY_CACHE_TTL`, but the store refuses an erased subject before any
    /// key is used, since `erased_at` is read from the database each time.
    cache: std::sync::Mutex<HashMap<String, (Key, std::time::Instant)>>,
}

/// How long an unwrapped subject key is kept in memory.
const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// At most this many keys are kept; past it the cache starts afresh.
const KEY_CACHE_MAX: usize = 50_000;

impl Keyring {
    /// Opens the key store with the master key, creating the inner keys on
    /// first start, and finishing or discarding a rotation a crash cut short.
    pub async fn open(
        pool: AnyPool,
        engine: Engine,
        source: &MasterKeySource,
        create: bool,
    ) -> Result<Keyring, StoreError> {
        let (current, next) = source.load(create)?;
        let check: Option<Vec<u8>> = sqlx::query("SELECT value FROM keystore WHERE name = 'check'")
            .fetch_optional(&pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let check = match check {
            Some(check) => check,
            None => {
                // First start. Another instance may be starting at the same
                // moment: whoever inserts first wins, and both read back
                // what was stored.
                let index = Key::generate()?;
                let signing = Key::generate()?;
                let mut tx = pool.begin().await?;
                for (name, value) in [
                    ("check", current.seal(CHECK_PLAINTEXT, b"check")?),
                    ("index_key", current.wrap(&index, b"index_key")?),
                    ("signing_key", current.wrap(&signing, b"signing_key")?),
                ] {
                    sqlx::query(
                        "INSERT INTO keystore (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(name)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                sqlx::query("SELECT value FROM keystore WHERE name = 'check'")
                    .fetch_one(&pool)
                    .await?
                    .try_get(0)?
            }
        };
        let master = if current.open(&check, b"check").is_ok() {
            source.discard_next()?;
            current
        } else if let Some(next) = next.filter(|n| n.open(&check, b"check").is_ok()) {
            source.promote()?;
            next
        } else {
            return Err(StoreError::WrongMasterKey {
                fingerprint: current.fingerprint(),
            });
        };
        let index = Self::inner(&pool, &master, "index_key").await?;
        let signing = Self::inner(&pool, &master, "signing_key").await?;
        Ok(Keyring {
            pool,
            engine,
            master,
            index,
            signing,
            cache: std::sync::Mutex::new(HashMap::new()),
        })
    }

    async fn inner(pool: &AnyPool, master: &Key, name: &'static str) -> Result<Key, StoreError> {
        let wrapped: Vec<u8> = sqlx::query("SELECT value FROM keystore WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        Ok(master.unwrap_key(&wrapped, name.as_bytes())?)
    }

    /// The keyed hash identifiers are indexed by.
    pub fn hasher(&self) -> IdentifierHasher {
        IdentifierHasher::new(self.index.clone())
    }

    /// A key for one use, derived from the index key with a label (an HMAC
    /// of the label), so every instance on one key store derives the same.
    pub fn derived_key(&self, label: &str) -> Result<Key, custode_crypto::CryptoError> {
        Key::from_bytes(&self.hasher().hash("key derivation", label))
    }

    /// The key that signs audit checkpoints.
    pub fn signing_key(&self) -> SigningKey {
        custode_crypto::signing_key(&self.signing)
    }

    /// The public key that verifies audit checkpoints.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing_key().verifying_key()
    }

    /// The master key's public fingerprint.
    pub fn master_fingerprint(&self) -> String {
        self.master.fingerprint()
    }

    /// Creates and stores a data key for each new subject, in one transaction.
    pub async fn create_subject_keys(&self, subjects: &[&str], now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in subjects.chunks(300) {
            let sql = format!(
                "INSERT INTO subject_keys (subject_id, wrapped, created_at) VALUES {}",
                crate::values(self.engine, chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for s in chunk {
                let key = Key::generate()?;
                q = q
                    .bind(*s)
                    .bind(self.master.wrap(&key, s.as_bytes())?)
                    .bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The key stored under `name`, created now unless it exists (a rerun
    /// after a crash finds the key its first run made, and uses it).
    pub async fn ensure_key(&self, name: &str, now: i64) -> Result<Key, StoreError> {
        let key = Key::generate()?;
        sqlx::query(
            "INSERT INTO subject_keys (subject_id, wrapped, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(self.master.wrap(&key, name.as_bytes())?)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.subject_keys(&[name])
            .await?
            .remove(name)
            .ok_or_else(|| StoreError::Invalid(format!("the key {name} vanished as it was made")))
    }

    /// The data keys of these subjects; an erased subject is simply absent.
    pub async fn subject_keys(
        &self,
        subjects: &[&str],
    ) -> Result<HashMap<String, Key>, StoreError> {
        let mut out = HashMap::with_capacity(subjects.len());
        let mut missing = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for s in subjects {
                match cache.get(*s) {
                    Some((key, at)) if at.elapsed() < KEY_CACHE_TTL => {
                        out.insert((*s).to_owned(), key.clone());
                    }
                    _ => missing.push(*s),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let subjects = missing;
        let mut fetched = Vec::new();
        for chunk in subjects.chunks(500) {
            let q = crate::in_query(
                self.engine,
                "SELECT subject_id, wrapped FROM subject_keys WHERE subject_id IN ({ids})",
                chunk,
            );
            for row in q.fetch_all(&self.pool).await? {
                let id: String = row.try_get(0)?;
                let wrapped: Vec<u8> = row.try_get(1)?;
                let key = self.master.unwrap_key(&wrapped, id.as_bytes())?;
                fetched.push((id.clone(), key.clone()));
                out.insert(id, key);
            }
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() + fetched.len() > KEY_CACHE_MAX {
            cache.clear();
        }
        let now = std::time::Instant::now();
        for (id, key) in fetched {
            cache.insert(id, (key, now));
        }
        Ok(out)
    }

    /// Destroys subjects' data keys. Returns how many existed.
    pub async fn destroy(&self, subjects: &[&str]) -> Result<u64, StoreError> {
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for s in subjects {
                cache.remove(*s);
            }
        }
        let mut destroyed = 0;
        for chunk in subjects.chunks(500) {
            let q = crate::in_query(
                self.engine,
                "DELETE FROM subject_keys WHERE subject_id IN ({ids})",
                chunk,
            );
            destroyed += q.execute(&self.pool).await?.rows_affected();
        }
        if self.engine == Engine::Sqlite {
            // Old page images of the key live on in the WAL until it is reset.
            self.pool.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        Ok(destroyed)
    }

    /// Ids of subjects that still have a key.
    pub async fn keyed_subjects(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query("SELECT subject_id FROM subject_keys")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?)
    }

    /// The users whose second factor is confirmed.
    pub async fn confirmed_second_factors(
        &self,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        sqlx::query("SELECT user_id FROM user_secrets WHERE confirmed_at IS NOT NULL")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }

    /// Forgets a user's second factor (a reset: the person enrols again).
    pub async fn remove_totp(&self, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM user_secrets WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a (new, unconfirmed) TOTP secret for a user.
    pub async fn set_totp(
        &self,
        user: &str,
        secret: &custode_crypto::totp::TotpSecret,
    ) -> Result<(), StoreError> {
        let wrapped = self
            .master
            .seal(secret, format!("totp:{user}").as_bytes())?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM user_secrets WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO user_secrets (user_id, wrapped) VALUES ($1, $2)")
            .bind(user)
            .bind(wrapped)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user's TOTP secret and whether it is confirmed.
    pub async fn totp(
        &self,
        user: &str,
    ) -> Result<Option<(custode_crypto::totp::TotpSecret, bool)>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT wrapped, confirmed_at FROM user_secrets WHERE user_id = $1")
                .bind(user)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let wrapped: Vec<u8> = row.try_get(0)?;
        let confirmed: Option<i64> = row.try_get(1)?;
        let plain = self
            .master
            .open(&wrapped, format!("totp:{user}").as_bytes())?;
        let secret: custode_crypto::totp::TotpSecret =
            plain.as_slice().try_into().map_err(|_| {
                StoreError::Invalid("a stored second-factor secret is malformed".to_owned())
            })?;
        Ok(Some((secret, confirmed.is_some())))
    }

    /// Accepts a TOTP step once: true when it is newer than every step
    /// accepted before (a replayed code is refused). Confirms enrolment.
    pub async fn use_totp_step(&self, user: &str, step: i64, now: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE user_secrets SET last_step = $1, confirmed_at = COALESCE(confirmed_at, $2) \
             WHERE user_id = $3 AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step)
        .bind(now)
        .bind(user)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Closes the key store's database.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Re-wraps every key under a new master key, in one transaction;
    /// payloads are not touched. Returns the number of keys re-wrapped.
    pub async fn rotate(&mut self, source: &MasterKeySource, new: Key) -> Result<u64, StoreError> {
        source.stage(&new)?;
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT subject_id, wrapped FROM subject_keys")
            .fetch_all(&mut *tx)
            .await?;
        let mut count = 0;
        for row in rows {
            let id: String = row.try_get(0)?;
            let wrapped: Vec<u8> = row.try_get(1)?;
            let key = self.master.unwrap_key(&wrapped, id.as_bytes())?;
            sqlx::query("UPDATE subject_keys SET wrapped = $1 WHERE subject_id = $2")
                .bind(new.wrap(&key, id.as_bytes())?)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }
        let secrets = sqlx::query("SELECT user_id, wrapped FROM user_secrets")
            .fetch_all(&mut *tx)
            .await?;
        for row in secrets {
            let user: String = row.try_get(0)?;
            let wrapped: Vec<u8> = row.try_get(1)?;
            let label = format!("totp:{user}");
            let plain = self.master.open(&wrapped, label.as_bytes())?;
            sqlx::query("UPDATE user_secrets SET wrapped = $1 WHERE user_id = $2")
                .bind(new.seal(&plain, label.as_bytes())?)
                .bind(&user)
                .execute(&mut *tx)
                .await?;
        }
        for (name, value) in [
            ("check", new.seal(CHECK_PLAINTEXT, b"check")?),
            ("index_key", new.wrap(&self.index, b"index_key")?),
            ("signing_key", new.wrap(&self.signing, b"signing_key")?),
        ] {
            sqlx::query("UPDATE keystore SET value = $1 WHERE name = $2")
                .bind(value)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        source.promote()?;
        self.master = new;
        Ok(count)
    }
}

// ---- Backups: the key store exported under a backup key generation ----

/// A day in microseconds: a backup key generation is made per day.
const DAY_MICROS: i64 = 86_400_000_000;

/// Everything a restored key store needs, in clear: only ever held in
/// memory, and written out sealed under a backup key generation.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct KeyExport {
    /// The identifier index key, hex.
    pub index_key: String,
    /// The checkpoint signing key, hex.
    pub signing_key: String,
    /// The vault's key, hex.
    pub vault_key: String,
    /// (subject id, data key) for every subject that still has one.
    pub subjects: Vec<(String, String)>,
    /// (user id, TOTP secret, confirmed at, last step accepted).
    pub second_factors: Vec<(String, String, Option<i64>, Option<i64>)>,
}

impl Drop for KeyExport {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.index_key.zeroize();
        self.signing_key.zeroize();
        self.vault_key.zeroize();
        for (_, k) in &mut self.subjects {
            k.zeroize();
        }
        for (_, s, _, _) in &mut self.second_factors {
            s.zeroize();
        }
    }
}

/// A backup key generation as listed: never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupGeneration {
    /// Its number: the day (since 1970-01-01, UTC) it was made.
    pub generation: i64,
    /// When it was made.
    pub created_at: jiff::Timestamp,
    /// When the rotation destroys it, and with it every backup sealed under it.
    pub destroy_at: jiff::Timestamp,
}

impl Keyring {
    /// The generation of the day `now` falls in, made (and its end fixed
    /// at `now + lifetime`) when it does not exist yet. Instances making it
    /// together all end with the one that was stored first.
    pub async fn backup_generation_for(
        &self,
        now: i64,
        lifetime_days: u32,
    ) -> Result<(i64, Key, bool), StoreError> {
        let generation = now.div_euclid(DAY_MICROS);
        if let Some(key) = self.backup_generation(generation).await? {
            return Ok((generation, key, false));
        }
        let key = Key::generate()?;
        let inserted = sqlx::query(
            "INSERT INTO backup_keys (generation, wrapped, created_at, destroy_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(generation)
        .bind(self.master.wrap(&key, backup_label(generation).as_bytes())?)
        .bind(now)
        .bind(now.saturating_add(lifetime_micros(lifetime_days)))
        .execute(&self.pool)
        .await?
        .rows_affected();
        // Another instance may have made it first: its key is the one.
        match self.backup_generation(generation).await? {
            Some(key) => Ok((generation, key, inserted == 1)),
            None => Err(StoreError::Conflict(format!(
                "backup key generation {generation} vanished while it was made: run the command again"
            ))),
        }
    }

    /// A backup key generation, unless it was destroyed.
    pub async fn backup_generation(&self, generation: i64) -> Result<Option<Key>, StoreError> {
        let Some(row) = sqlx::query("SELECT wrapped FROM backup_keys WHERE generation = $1")
            .bind(generation)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let wrapped: Vec<u8> = row.try_get(0)?;
        Ok(Some(self.master.unwrap_key(
            &wrapped,
            backup_label(generation).as_bytes(),
        )?))
    }

    /// The generations that exist, oldest first.
    pub async fn backup_generations(&self) -> Result<Vec<BackupGeneration>, StoreError> {
        sqlx::query(
            "SELECT generation, created_at, destroy_at FROM backup_keys ORDER BY generation",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(BackupGeneration {
                generation: r.try_get(0)?,
                created_at: custode_domain::clock::from_micros(r.try_get(1)?),
                destroy_at: custode_domain::clock::from_micros(r.try_get(2)?),
            })
        })
        .collect()
    }

    /// Destroys the generations whose end has come: the end fixed when each
    /// was made, or `lifetime` after it was made when the policy now
    /// promises less. Returns the generations destroyed.
    pub async fn destroy_expired_backup_generations(
        &self,
        now: i64,
        lifetime_days: Option<u32>,
    ) -> Result<Vec<i64>, StoreError> {
        let made_before =
            lifetime_days.map_or(i64::MIN, |d| now.saturating_sub(lifetime_micros(d)));
        let expired: Vec<i64> = sqlx::query(
            "SELECT generation FROM backup_keys WHERE destroy_at <= $1 OR created_at <= $2 ORDER BY generation",
        )
        .bind(now)
        .bind(made_before)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
        for generation in &expired {
            sqlx::query("DELETE FROM backup_keys WHERE generation = $1")
                .bind(generation)
                .execute(&self.pool)
                .await?;
        }
        if !expired.is_empty() && self.engine == Engine::Sqlite {
            // As for subject keys: no old page image of the key stays in the WAL.
            self.pool.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        Ok(expired)
    }

    /// Every key a restored key store needs, read in one transaction.
    pub async fn export(&self, vault_key: &Key) -> Result<KeyExport, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut subjects = Vec::new();
        for row in sqlx::query("SELECT subject_id, wrapped FROM subject_keys ORDER BY subject_id")
            .fetch_all(&mut *tx)
            .await?
        {
            let id: String = row.try_get(0)?;
            let wrapped: Vec<u8> = row.try_get(1)?;
            let key = self.master.unwrap_key(&wrapped, id.as_bytes())?;
            subjects.push((id, key.to_hex()));
        }
        let mut second_factors = Vec::new();
        for row in sqlx::query(
            "SELECT user_id, wrapped, confirmed_at, last_step FROM user_secrets ORDER BY user_id",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let user: String = row.try_get(0)?;
            let wrapped: Vec<u8> = row.try_get(1)?;
            let mut plain = self
                .master
                .open(&wrapped, format!("totp:{user}").as_bytes())?;
            second_factors.push((user, hex::encode(&plain), row.try_get(2)?, row.try_get(3)?));
            zeroize::Zeroize::zeroize(&mut plain);
        }
        tx.commit().await?;
        Ok(KeyExport {
            index_key: self.index.to_hex(),
            signing_key: self.signing.to_hex(),
            vault_key: vault_key.to_hex(),
            subjects,
            second_factors,
        })
    }
}

/// How long a generation lives, in microseconds: the policy's lifetime
/// less an hour, so that the rotation (every ten minutes on a running
/// server) destroys it before the bound the notice states, not after.
fn lifetime_micros(days: u32) -> i64 {
    i64::from(days)
        .saturating_mul(DAY_MICROS)
        .saturating_sub(3_600_000_000)
}

/// The label a backup key generation is wrapped under.
fn backup_label(generation: i64) -> String {
    format!("backup_key:{generation}")
}

/// Writes an exported key store into an empty key store, every key wrapped
/// under `master`, in one transaction. Refuses a key store already in use.
pub async fn install(
    pool: &AnyPool,
    engine: Engine,
    master: &Key,
    export: &KeyExport,
    now: i64,
) -> Result<u64, StoreError> {
    let in_use: Option<Vec<u8>> = sqlx::query("SELECT value FROM keystore WHERE name = 'check'")
        .fetch_optional(pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    if in_use.is_some() {
        return Err(StoreError::Conflict(
            "the target key store already holds keys: restore into a new, empty one".to_owned(),
        ));
    }
    let index = Key::from_hex(&export.index_key)?;
    let signing = Key::from_hex(&export.signing_key)?;
    let mut tx = pool.begin().await?;
    for (name, value) in [
        ("check", master.seal(CHECK_PLAINTEXT, b"check")?),
        ("index_key", master.wrap(&index, b"index_key")?),
        ("signing_key", master.wrap(&signing, b"signing_key")?),
    ] {
        sqlx::query("INSERT INTO keystore (name, value) VALUES ($1, $2)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
    }
    for chunk in export.subjects.chunks(300) {
        let sql = format!(
            "INSERT INTO subject_keys (subject_id, wrapped, created_at) VALUES {}",
            crate::values(engine, chunk.len(), 3)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for (id, hex_key) in chunk {
            let key = Key::from_hex(hex_key)?;
            q = q
                .bind(id.as_str())
                .bind(master.wrap(&key, id.as_bytes())?)
                .bind(now);
        }
        q.execute(&mut *tx).await?;
    }
    for (user, secret, confirmed, last_step) in &export.second_factors {
        let mut plain = hex::decode(secret).map_err(|_| {
            StoreError::Invalid("a second-factor secret in the backup is malformed".to_owned())
        })?;
        let wrapped = master.seal(&plain, format!("totp:{user}").as_bytes())?;
        zeroize::Zeroize::zeroize(&mut plain);
        sqlx::query(
            "INSERT INTO user_secrets (user_id, wrapped, confirmed_at, last_step) VALUES ($1, $2, $3, $4)",
        )
        .bind(user.as_str())
        .bind(wrapped)
        .bind(*confirmed)
        .bind(*last_step)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(export.subjects.len() as u64)
}
