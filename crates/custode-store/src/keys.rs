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
pub(crate) fn key_name(subject: &str, generation: i64) -> String {
    if generation == 0 {
        subject.to_owned()
    } else {
        format!("{subject}#{generation}")
    }
}

/// Every name a subject's keys may have up to `generation` and the one
/// after it (made by a re-seal a crash cut short before its commit).
pub(crate) fn key_names_through(subject: &str, generation: i64) -> Vec<String> {
    (0..=generation.saturating_add(1).max(1))
        .map(|g| key_name(subject, g))
        .collect()
}

/// The subject and generation of a stored key name (request keys aside).
pub(crate) fn parse_key_name(name: &str) -> (&str, i64) {
    match name.split_once('#') {
        Some((subject, g)) => (subject, g.parse().unwrap_or(0)),
        None => (name, 0),
    }
}

pub(crate) struct Keyring {
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
    pub(crate) async fn open(
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

    pub(crate) fn hasher(&self) -> IdentifierHasher {
        IdentifierHasher::new(self.index.clone())
    }

    /// A key for one use, derived from the index key with a label (an HMAC
    /// of the label), so every instance on one key store derives the same.
    pub(crate) fn derived_key(&self, label: &str) -> Result<Key, custode_crypto::CryptoError> {
        Key::from_bytes(&self.hasher().hash("key derivation", label))
    }

    pub(crate) fn signing_key(&self) -> SigningKey {
        custode_crypto::signing_key(&self.signing)
    }

    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        self.signing_key().verifying_key()
    }

    pub(crate) fn master_fingerprint(&self) -> String {
        self.master.fingerprint()
    }

    /// Creates and stores a data key for each new subject, in one transaction.
    pub(crate) async fn create_subject_keys(
        &self,
        subjects: &[&str],
        now: i64,
    ) -> Result<(), StoreError> {
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
    pub(crate) async fn ensure_key(&self, name: &str, now: i64) -> Result<Key, StoreError> {
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
    pub(crate) async fn subject_keys(
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
    pub(crate) async fn destroy(&self, subjects: &[&str]) -> Result<u64, StoreError> {
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
    pub(crate) async fn keyed_subjects(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query("SELECT subject_id FROM subject_keys")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?)
    }

    /// Stores a (new, unconfirmed) TOTP secret for a user.
    pub(crate) async fn set_totp(
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
    pub(crate) async fn totp(
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
    pub(crate) async fn use_totp_step(
        &self,
        user: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
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

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Re-wraps every key under a new master key, in one transaction;
    /// payloads are not touched. Returns the number of keys re-wrapped.
    pub(crate) async fn rotate(
        &mut self,
        source: &MasterKeySource,
        new: Key,
    ) -> Result<u64, StoreError> {
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
