//! People and machines that act on the store: users with Argon2id password
//! hashes, API tokens stored as SHA-256 of a 256-bit secret, and the
//! one-time setup token that creates the first administrator.
//!
//! A token reads `cus_<id>.<secret>`: the id finds the row, the secret is
//! compared as a hash in constant time. Nothing stored can be replayed.
//!
//! A token whose role reads personal data is never issued by the
//! administrator's own identity (over the API it could give itself one):
//! the local operator issues it at the console, bound to its holder, and
//! the DPO sees every credential with its holder, issuer and last use.

mod migrations;
mod passkeys;
mod people;

pub use custode_webauthn as webauthn;
pub use migrations::MIGRATIONS;
pub use passkeys::{
    AssertionResponse, CHALLENGE_MINUTES, Ceremony, CreationOptions, Descriptor, FreshFactor,
    PasskeyInfo, RegistrationResponse, RequestOptions, check_fresh_factor,
};
pub use people::{
    INVITATION_DAYS, Invitation, InvitationInfo, PersonInfo, PersonState, PortalCode,
    needs_second_factor,
};
pub use webauthn::{PasskeyError, RelyingParty};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use custode_audit::{Action, Event};
use custode_crypto::constant_time_eq;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, Role, Scope, SubjectId, reads_personal_data};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use custode_store::{Change, Credential, Store, StoreError, audit_log};

/// Argon2id with OWASP's minimum cost for interactive logins (19 MiB, 2 passes).
pub(crate) fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub(crate) fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Random bytes as hex: 12 bytes for ids, 32 for secrets.
pub(crate) fn random_hex<const N: usize>() -> Result<String, StoreError> {
    Ok(hex::encode(custode_crypto::random_bytes::<N>()?))
}

/// A new API token, shown once.
#[derive(Debug)]
pub struct IssuedToken {
    /// Its id (public, for revocation).
    pub id: String,
    /// The whole token to present: `cus_<id>.<secret>`. Never stored.
    pub token: String,
}

/// A credential as the DPO reviews it: who holds it, what it may do, who
/// issued it and when it was last used. Never its secret or hash.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    /// Its id.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// The person or system holding it (named when issued at the console).
    pub holder: Option<String>,
    /// Its role.
    pub role: String,
    /// Its scope path (`/` for the whole tree).
    pub scope_path: String,
    /// For the subject role: the subject.
    pub subject: Option<String>,
    /// Who issued it (`cli:USER` at the console, `user:…` or `token:…`).
    pub issued_by: String,
    /// When.
    pub issued_at: jiff::Timestamp,
    /// When it expires.
    pub expires_at: Option<jiff::Timestamp>,
    /// When it was last accepted, to the hour.
    pub last_used_at: Option<jiff::Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<jiff::Timestamp>,
}

/// How stale a token's recorded last use may get before a use writes it.
const LAST_USED_PRECISION_MICROS: i64 = 3_600_000_000;

/// A browser session, returned once at login.
#[derive(Debug)]
pub struct Session {
    /// The session id, for the HttpOnly cookie. Stored only as a hash.
    pub id: String,
    /// The anti-CSRF token the page sends back in `X-CSRF-Token` on every
    /// change. Stored only as a hash.
    pub csrf: String,
    /// Who logged in.
    pub principal: Principal,
    /// When it ends.
    pub expires_at: jiff::Timestamp,
}

/// How long a session lasts.
pub const SESSION_HOURS: i64 = 8;

/// How long a checked token is trusted without looking it up again.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);
/// Past this many cached tokens, stale ones are dropped.
const TOKEN_CACHE_MAX: usize = 10_000;

/// A token recently checked against the database.
struct CachedToken {
    secret_hash: Vec<u8>,
    principal: Principal,
    expires: Option<i64>,
    checked_at: std::time::Instant,
}

/// Checks a TOTP code for a user: valid now, and never used before.
/// A first valid code confirms the enrolment.
pub async fn check_totp(store: &Store, user_id: &str, code: &str) -> Result<(), StoreError> {
    let Some((secret, _)) = store.keys().totp(user_id).await? else {
        return Err(StoreError::SecondFactorRequired);
    };
    let now = store.now();
    let secs = u64::try_from(now.as_second()).unwrap_or(0);
    let step = custode_crypto::totp::check(&secret, code, secs)
        .ok_or(StoreError::Unauthenticated(Credential::Login))?;
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    if store
        .keys()
        .use_totp_step(user_id, step, to_micros(now))
        .await?
    {
        Ok(())
    } else {
        Err(StoreError::Unauthenticated(Credential::Login))
    }
}

/// The accounts capability: who may act, and how they prove it.
pub struct Accounts {
    store: Arc<Store>,
    /// Recently checked API tokens (see `authenticate_token`).
    token_cache: Arc<Mutex<HashMap<String, CachedToken>>>,
}

impl Accounts {
    /// Accounts over a store; credentials revoked by another capability (a
    /// closed tenant) leave this instance's token cache at once.
    pub fn new(store: Arc<Store>) -> Accounts {
        let token_cache: Arc<Mutex<HashMap<String, CachedToken>>> = Arc::default();
        let cache = Arc::downgrade(&token_cache);
        store.on_change(move |change| {
            if let (Change::CredentialsRevoked(path), Some(cache)) = (change, cache.upgrade()) {
                cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|_, t| !t.principal.scope.path().starts_with(path));
            }
        });
        Accounts { store, token_cache }
    }

    /// The kernel these accounts live in.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// What a principal is allowed to hold.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// The scope path (`/` for the whole tree).
    pub scope_path: String,
    /// For the subject role: the subject itself.
    pub subject: Option<SubjectId>,
}

fn principal(id: String, role: &str, path: String, subject: Option<String>) -> Option<Principal> {
    let role = Role::from_name(role)?;
    let scope = match subject.and_then(|s| SubjectId::parse(&s).ok()) {
        Some(s) => Scope::subject(&path, s),
        None if role == Role::Subject => return None,
        None => Scope::under(&path),
    };
    Some(Principal { id, role, scope })
}

impl Accounts {
    /// Creates the one-time setup token on a store with no user yet;
    /// `None` once anyone exists, or while a token issued in the last hour
    /// is pending.
    pub async fn setup_token(&self) -> Result<Option<String>, StoreError> {
        let users: i64 = sqlx::query("SELECT COUNT(*) FROM users")
            .fetch_one(self.store.reader())
            .await?
            .try_get(0)?;
        if users > 0 {
            return Ok(None);
        }
        let secret = format!("setup_{}", random_hex::<32>()?);
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        // Another instance starting at the same moment may have issued one:
        // it stays valid for an hour, and this start issues none.
        let recent: i64 = sqlx::query(
            "SELECT COUNT(*) FROM setup_tokens WHERE used_at IS NULL AND created_at > $1",
        )
        .bind(now - 3_600_000_000)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if recent > 0 {
            return Ok(None);
        }
        sqlx::query("DELETE FROM setup_tokens WHERE used_at IS NULL")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO setup_tokens (secret_hash, created_at) VALUES ($1, $2)")
            .bind(secret_hash(&secret))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(secret))
    }

    /// Uses the setup token to create the first administrator.
    pub async fn complete_setup(
        &self,
        setup_token: &str,
        username: &str,
        password: &str,
    ) -> Result<String, StoreError> {
        let hash = secret_hash(setup_token);
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query("SELECT secret_hash FROM setup_tokens WHERE used_at IS NULL")
            .fetch_optional(&mut *tx)
            .await?;
        let valid = row
            .map(|r| r.try_get::<Vec<u8>, _>(0))
            .transpose()?
            .is_some_and(|stored| constant_time_eq(&stored, &hash));
        if !valid {
            return Err(StoreError::Unauthenticated(Credential::SetupToken));
        }
        sqlx::query("UPDATE setup_tokens SET used_at = $1")
            .bind(to_micros(self.store.now()))
            .execute(&mut *tx)
            .await?;
        let grant = Grant {
            role: Role::Administrator,
            scope_path: "/".to_owned(),
            subject: None,
        };
        // The token is spent in the same transaction that creates the user.
        let id = self
            .insert_user(
                &mut tx,
                &Principal::system("setup"),
                username,
                password,
                &grant,
            )
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Creates a user; the password is kept only as an Argon2id hash.
    pub async fn create_user(
        &self,
        by: &Principal,
        username: &str,
        password: &str,
        grant: &Grant,
    ) -> Result<String, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let id = self
            .insert_user(&mut tx, by, username, password, grant)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn insert_user(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        username: &str,
        password: &str,
        grant: &Grant,
    ) -> Result<String, StoreError> {
        let username = username.trim();
        if username.is_empty() || username.len() > 100 {
            return Err(StoreError::Invalid(
                "a user name has 1 to 100 characters".to_owned(),
            ));
        }
        if password.chars().count() < 12 {
            return Err(StoreError::Invalid(
                "a password has at least 12 characters".to_owned(),
            ));
        }
        if !grant.scope_path.starts_with(by.scope.path()) {
            return Err(StoreError::Invalid(
                "a user's scope must lie within yours".to_owned(),
            ));
        }
        let salt_bytes = custode_crypto::random_bytes::<16>()?;
        let salt =
            SaltString::encode_b64(&salt_bytes).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let hash = argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| StoreError::Invalid(format!("cannot hash the password: {e}")))?
            .to_string();
        custode_store::tenants::refuse_closed_scope(tx, &grant.scope_path).await?;
        let id = format!("u_{}", random_hex::<12>()?);
        let now = to_micros(self.store.now());
        let taken: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        if taken > 0 {
            return Err(StoreError::Invalid(format!(
                "the user name `{username}` is taken"
            )));
        }
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, scope_path, subject_id, created_at, activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(username)
        .bind(hash)
        .bind(grant.role.name())
        .bind(&grant.scope_path)
        .bind(grant.subject.as_ref().map(|s| s.to_string()))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        audit_log::append(
            tx,
            self.store.engine(),
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessGranted,
                subject: None,
                reason: None,
                detail: json!({ "user": id, "role": grant.role.name(), "scope": grant.scope_path }),
            }],
        )
        .await?;
        Ok(id)
    }

    /// Checks a user's password; the same error, after the same work, for
    /// an unknown user and a wrong password. Failures are audited.
    pub async fn authenticate_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Principal, StoreError> {
        let row = sqlx::query("SELECT id, password_hash, role, scope_path, subject_id FROM users WHERE username = $1 AND disabled_at IS NULL")
            .bind(username)
            .fetch_optional(self.store.reader())
            .await?;
        // A fixed hash to verify against when the user does not exist, so
        // timing does not tell which user names exist.
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$WJ2vpzgh+JfKq3YMuS7u6zUj/QMd+BvgpLRLTNMo9vU";
        let (stored, found) = match &row {
            Some(r) => (r.try_get::<String, _>(1)?, true),
            None => (DUMMY.to_owned(), false),
        };
        let ok = PasswordHash::new(&stored)
            .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        match (row, ok && found) {
            (Some(r), true) => {
                let id: String = r.try_get(0)?;
                principal(
                    format!("user:{id}"),
                    &r.try_get::<String, _>(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                )
                .ok_or(StoreError::Unauthenticated(Credential::Login))
            }
            _ => {
                self.audit_failed_login(username).await?;
                Err(StoreError::Unauthenticated(Credential::Login))
            }
        }
    }

    async fn audit_failed_login(&self, username: &str) -> Result<(), StoreError> {
        self.store.audit_alone(Event {
            actor: "anonymous".to_owned(),
            action: Action::AccessDenied,
            subject: None,
            reason: None,
            // A hash, not the name: a mistyped password pasted into the
            // user field must not land in the log.
            detail: json!({ "attempt": "login", "user_hash": hex::encode(&secret_hash(username)[..8]) }),
        })
        .await
    }

    /// Issues an API token with a grant no wider than the issuer's, over
    /// the API. A role that reads personal data is refused (and the
    /// refusal audited): such a token is issued at the console with
    /// [`Store::issue_held_token`].
    pub async fn issue_token(
        &self,
        by: &Principal,
        name: &str,
        grant: &Grant,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<IssuedToken, StoreError> {
        if reads_personal_data(grant.role) {
            let role = grant.role.name();
            self.store
                .record_denied(by, &format!("issue a {role} token over the API"))
                .await?;
            return Err(StoreError::Forbidden(format!(
                "a {role} token reads personal data, so the administrator cannot issue one: \
                 the local operator issues it at the console, bound to the person or system \
                 that will hold it (`custode tokens issue --role {role} --holder \"NAME\" ...`), \
                 and the DPO sees it in `GET /api/v1/tokens`"
            )));
        }
        self.insert_token(by, name, None, grant, expires_at).await
    }

    /// Issues an API token of any role at the console, bound to the
    /// person or system that holds it; the audit entry names the issuer
    /// and the holder. Only the binary's `tokens issue` calls this: the
    /// HTTP face never does.
    pub async fn issue_held_token(
        &self,
        by: &Principal,
        name: &str,
        holder: &str,
        grant: &Grant,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<IssuedToken, StoreError> {
        let holder = holder.trim();
        if holder.is_empty() || holder.chars().count() > 200 {
            return Err(StoreError::Invalid(
                "a token's holder is the person or system that will use it, named in 1 to 200 characters".to_owned(),
            ));
        }
        self.insert_token(by, name, Some(holder), grant, expires_at)
            .await
    }

    async fn insert_token(
        &self,
        by: &Principal,
        name: &str,
        holder: Option<&str>,
        grant: &Grant,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<IssuedToken, StoreError> {
        if !grant.scope_path.starts_with(by.scope.path()) {
            return Err(StoreError::Invalid(
                "a token's scope must lie within yours".to_owned(),
            ));
        }
        let id = random_hex::<12>()?;
        let secret = random_hex::<32>()?;
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        custode_store::tenants::refuse_closed_scope(&mut tx, &grant.scope_path).await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, secret_hash, name, role, scope_path, subject_id, created_by, created_at, expires_at, holder) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(secret_hash(&secret))
        .bind(name)
        .bind(grant.role.name())
        .bind(&grant.scope_path)
        .bind(grant.subject.as_ref().map(|s| s.to_string()))
        .bind(&by.id)
        .bind(now)
        .bind(expires_at.map(to_micros))
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessGranted,
                subject: None,
                reason: None,
                detail: json!({ "token": id, "name": name, "holder": holder, "role": grant.role.name(), "scope": grant.scope_path }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedToken {
            token: format!("cus_{id}.{secret}"),
            id,
        })
    }

    /// Every token issued within `by`'s scope, newest first: holder, role,
    /// scope, issuer, issue, expiry, last use and revocation. Secrets and
    /// their hashes are never read.
    pub async fn list_tokens(&self, by: &Principal) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, holder, role, scope_path, subject_id, created_by, created_at, expires_at, last_used_at, revoked_at \
             FROM api_tokens ORDER BY created_at DESC, id",
        )
        .fetch_all(self.store.reader())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let scope_path: String = r.try_get(4)?;
            if !scope_path.starts_with(by.scope.path()) {
                continue;
            }
            let at = |i: usize| -> Result<Option<jiff::Timestamp>, StoreError> {
                Ok(r.try_get::<Option<i64>, _>(i)?.map(from_micros))
            };
            out.push(TokenInfo {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                holder: r.try_get(2)?,
                role: r.try_get(3)?,
                scope_path,
                subject: r.try_get(5)?,
                issued_by: r.try_get(6)?,
                issued_at: from_micros(r.try_get(7)?),
                expires_at: at(8)?,
                last_used_at: at(9)?,
                revoked_at: at(10)?,
            });
        }
        Ok(out)
    }

    /// The principal a presented token stands for, if valid, unexpired and
    /// not revoked.
    ///
    /// A token checked in the last [`TOKEN_CACHE_TTL`] is not looked up
    /// again: a revocation on this instance applies at once, on another
    /// instance within that time.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, StoreError> {
        let Some((id, secret)) = token.strip_prefix("cus_").and_then(|t| t.split_once('.')) else {
            return Err(StoreError::Unauthenticated(Credential::ApiToken));
        };
        if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Unauthenticated(Credential::ApiToken));
        }
        let presented = secret_hash(secret);
        {
            let cache = self.token_cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(hit) = cache.get(id) {
                let fresh = hit.checked_at.elapsed() < TOKEN_CACHE_TTL;
                let live = hit.expires.is_none_or(|e| e > to_micros(self.store.now()));
                if fresh && live && constant_time_eq(&hit.secret_hash, &presented) {
                    return Ok(hit.principal.clone());
                }
            }
        }
        let row = sqlx::query(
            "SELECT secret_hash, role, scope_path, subject_id, expires_at, revoked_at, last_used_at FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.reader())
        .await?
        .ok_or(StoreError::Unauthenticated(Credential::ApiToken))?;
        let stored: Vec<u8> = row.try_get(0)?;
        let expires: Option<i64> = row.try_get(4)?;
        let revoked: Option<i64> = row.try_get(5)?;
        let live = revoked.is_none() && expires.is_none_or(|e| e > to_micros(self.store.now()));
        if !constant_time_eq(&stored, &presented) || !live {
            return Err(StoreError::Unauthenticated(Credential::ApiToken));
        }
        let found = principal(
            format!("token:{id}"),
            &row.try_get::<String, _>(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        )
        .ok_or(StoreError::Unauthenticated(Credential::ApiToken))?;
        // The last use, for the DPO's list: written at most once an hour
        // per token, so the hot path stays a read.
        let now = to_micros(self.store.now());
        let last_used: Option<i64> = row.try_get(6)?;
        if last_used.is_none_or(|t| now - t >= LAST_USED_PRECISION_MICROS) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(self.store.writer())
                .await?;
        }
        let mut cache = self.token_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= TOKEN_CACHE_MAX {
            cache.retain(|_, t| t.checked_at.elapsed() < TOKEN_CACHE_TTL);
        }
        cache.insert(
            id.to_owned(),
            CachedToken {
                secret_hash: presented,
                principal: found.clone(),
                expires,
                checked_at: std::time::Instant::now(),
            },
        );
        Ok(found)
    }

    /// Revokes a token at once.
    pub async fn revoke_token(&self, by: &Principal, id: &str) -> Result<(), StoreError> {
        self.token_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        let mut tx = self.store.begin_write().await?;
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(to_micros(self.store.now()))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "token",
                id: id.to_owned(),
            });
        }
        audit_log::append(
            &mut tx,
            self.store.engine(),
            to_micros(self.store.now()),
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessRevoked,
                subject: None,
                reason: None,
                detail: json!({ "token": id }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts (or restarts, while unconfirmed) a user's TOTP enrolment;
    /// returns the secret in base32 and the `otpauth://` URI.
    pub async fn enroll_totp(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(String, String), StoreError> {
        let principal = self.authenticate_password(username, password).await?;
        let user_id = principal.id.trim_start_matches("user:").to_owned();
        if let Some((_, true)) = self.store.keys().totp(&user_id).await? {
            return Err(StoreError::Invalid(
                "a second factor is already active for this user; an administrator must reset it"
                    .to_owned(),
            ));
        }
        let secret = custode_crypto::totp::new_secret()?;
        self.store.keys().set_totp(&user_id, &secret).await?;
        let uri = custode_crypto::totp::otpauth_uri(&secret, "Custode", username);
        Ok((custode_crypto::totp::base32(&secret), uri))
    }

    /// Confirms an enrolment with a first code from the authenticator.
    pub async fn confirm_totp(
        &self,
        username: &str,
        password: &str,
        code: &str,
    ) -> Result<(), StoreError> {
        let principal = self.authenticate_password(username, password).await?;
        check_totp(&self.store, principal.id.trim_start_matches("user:"), code).await
    }

    /// Logs a user in with a password (and, for the administrator, the DPO
    /// and the legal officer, a TOTP code) and opens a session.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<Session, StoreError> {
        let principal = self.authenticate_password(username, password).await?;
        let user_id = principal.id.trim_start_matches("user:").to_owned();
        if matches!(
            principal.role,
            Role::Administrator | Role::Dpo | Role::LegalOfficer
        ) {
            match self.store.keys().totp(&user_id).await? {
                Some((_, true)) => {}
                _ => return Err(StoreError::SecondFactorRequired),
            }
            let checked = match totp {
                Some(code) => check_totp(&self.store, &user_id, code).await,
                None => Err(StoreError::Unauthenticated(Credential::Login)),
            };
            if let Err(e) = checked {
                self.audit_failed_login(username).await?;
                return Err(e);
            }
        }
        self.open_session(principal, json!({})).await
    }

    /// The principal of a live session. With `csrf` (for requests that
    /// change something), the anti-CSRF token must match too.
    pub async fn authenticate_session(
        &self,
        id: &str,
        csrf: Option<&str>,
    ) -> Result<Principal, StoreError> {
        if id.starts_with(crate::people::PORTAL_SESSION_PREFIX) {
            return self.authenticate_portal_session(id, csrf).await;
        }
        let row = sqlx::query(
            "SELECT csrf_hash, user_id, role, scope_path, subject_id, expires_at, ended_at FROM sessions WHERE id_hash = $1",
        )
        .bind(secret_hash(id))
        .fetch_optional(self.store.reader())
        .await?
        .ok_or(StoreError::Unauthenticated(Credential::Session))?;
        let expires: i64 = row.try_get(5)?;
        let ended: Option<i64> = row.try_get(6)?;
        if ended.is_some() || expires <= to_micros(self.store.now()) {
            return Err(StoreError::Unauthenticated(Credential::Session));
        }
        if let Some(csrf) = csrf {
            let stored: Vec<u8> = row.try_get(0)?;
            if !constant_time_eq(&stored, &secret_hash(csrf)) {
                return Err(StoreError::Unauthenticated(Credential::Session));
            }
        }
        let user: String = row.try_get(1)?;
        principal(
            format!("user:{user}"),
            &row.try_get::<String, _>(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
        )
        .ok_or(StoreError::Unauthenticated(Credential::Session))
    }

    /// Ends a session (logout).
    pub async fn logout(&self, id: &str) -> Result<(), StoreError> {
        if id.starts_with(crate::people::PORTAL_SESSION_PREFIX) {
            return self.portal_logout(id).await;
        }
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL")
            .bind(to_micros(self.store.now()))
            .bind(secret_hash(id))
            .execute(self.store.writer())
            .await?;
        Ok(())
    }

    /// Whether the main store answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .fetch_one(self.store.reader())
            .await?;
        Ok(())
    }
}
