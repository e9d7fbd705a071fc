//! Passkeys (WebAuthn) beside TOTP: their registration by a person logged
//! in, by an invitee (where a passkey is the second factor a privileged
//! role needs), and by a subject from its portal session; login with a
//! passkey alone; the fresh second factor of a vault query; listing and
//! removal. The checks of the responses themselves are `webauthn.rs`'s.
//!
//! **Passkey alone, with user verification, logs in.** Every ceremony asks
//! for and requires UV, so the authenticator has checked its PIN or
//! biometric: the passkey is then two factors (the device held, what
//! unlocks it), bound to this site's origin so that it cannot be phished.
//! Asking a password as well would add a phishable secret and no strength;
//! a password login keeps needing TOTP, as before.
//!
//! A challenge is 32 random bytes, stored as a hash with its purpose, its
//! owner (for a registration or a vault query) and an end five minutes
//! on; the response's challenge is compared in constant time, and the row
//! is spent by one conditional update, so a response is accepted once.
//! Refusals change nothing but the spent challenge; they are audited with
//! a short reason code, never with what the client sent.

use custode_audit::{Action, Event};
use custode_crypto::constant_time_eq;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, Role, Scope, SubjectId};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use sqlx::Row;

use crate::{Accounts, Session, random_hex, secret_hash};
use custode_store::{Store, StoreError, audit_log};
use custode_webauthn::{
    self as webauthn, PasskeyError, PublicKey, RelyingParty, b64url, to_b64url,
};

/// How long a ceremony may take, from its start.
pub const CHALLENGE_MINUTES: i64 = 5;
/// How many passkeys one person or subject may hold.
const MAX_PASSKEYS: i64 = 20;

/// What a challenge is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    /// Registering a passkey (owner bound).
    Register,
    /// A person's login.
    Login,
    /// A subject's portal login.
    PortalLogin,
    /// The fresh second factor of a vault query (owner bound).
    Vault,
}

impl Ceremony {
    fn name(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::Login => "login",
            Ceremony::PortalLogin => "portal_login",
            Ceremony::Vault => "vault",
        }
    }
}

/// A credential the page should not register twice, or may use.
#[derive(Clone, Debug)]
pub struct Descriptor {
    /// The credential id, base64url.
    pub id: String,
}

/// What `navigator.credentials.create` needs; the face renders it as
/// WebAuthn's JSON.
#[derive(Debug)]
pub struct CreationOptions {
    /// The challenge's id, sent back with the response.
    pub challenge_id: String,
    /// The challenge, base64url.
    pub challenge: String,
    /// The RP ID.
    pub rp_id: String,
    /// The RP's name.
    pub rp_name: String,
    /// The user handle (base64url of the owner's id: no personal data).
    pub user_handle: String,
    /// The account's name as the authenticator shows it.
    pub user_name: String,
    /// The owner's passkeys already registered.
    pub exclude: Vec<Descriptor>,
    /// How long the ceremony may take, in milliseconds.
    pub timeout_ms: u64,
}

/// What `navigator.credentials.get` needs.
#[derive(Debug)]
pub struct RequestOptions {
    /// The challenge's id, sent back with the response.
    pub challenge_id: String,
    /// The challenge, base64url.
    pub challenge: String,
    /// The RP ID.
    pub rp_id: String,
    /// The credentials allowed (empty: any of this site's passkeys).
    pub allow: Vec<Descriptor>,
    /// How long the ceremony may take, in milliseconds.
    pub timeout_ms: u64,
}

/// A registration response's fields, base64url as the page sends them.
#[derive(Debug)]
pub struct RegistrationResponse<'a> {
    /// The credential id the page reports (`rawId`).
    pub credential_id: &'a str,
    /// `response.clientDataJSON`.
    pub client_data_json: &'a str,
    /// `response.attestationObject`.
    pub attestation_object: &'a str,
}

/// An assertion's fields, base64url as the page sends them.
#[derive(Debug)]
pub struct AssertionResponse<'a> {
    /// `rawId`.
    pub credential_id: &'a str,
    /// `response.clientDataJSON`.
    pub client_data_json: &'a str,
    /// `response.authenticatorData`.
    pub authenticator_data: &'a str,
    /// `response.signature`.
    pub signature: &'a str,
    /// `response.userHandle`, when the authenticator gives it.
    pub user_handle: Option<&'a str>,
}

/// A passkey as its holder (or an administrator) sees it.
#[derive(Clone, Debug)]
pub struct PasskeyInfo {
    /// Its id here (`pk_…`), to remove it.
    pub id: String,
    /// The name its holder gave it.
    pub name: String,
    /// The attestation format it came with (`none` unless the
    /// authenticator insisted; never verified).
    pub format: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it was last used.
    pub last_used_at: Option<Timestamp>,
}

/// A fresh second factor for an operation that asks one (a vault query).
pub enum FreshFactor<'a> {
    /// A TOTP code not used before.
    Totp(&'a str),
    /// An assertion over a challenge issued for this operation
    /// ([`Accounts::vault_passkey_start`]).
    Passkey {
        /// This server.
        rp: &'a RelyingParty,
        /// The challenge's id.
        challenge_id: &'a str,
        /// The response.
        response: &'a AssertionResponse<'a>,
    },
}

/// Checks a fresh second factor of `user` for a vault query: `Ok(Err(why))`
/// when refused, saying why.
pub async fn check_fresh_factor(
    store: &Store,
    user: &str,
    factor: &FreshFactor<'_>,
) -> Result<Result<(), String>, StoreError> {
    match factor {
        FreshFactor::Totp(code) => Ok(crate::check_totp(store, user, code)
            .await
            .map_err(|_| "a fresh TOTP code is required (each code works once)".to_owned())),
        FreshFactor::Passkey {
            rp,
            challenge_id,
            response,
        } => {
            let owner = format!("user:{user}");
            Ok(verify_assertion(
                store,
                rp,
                Ceremony::Vault,
                Some(&owner),
                challenge_id,
                response,
            )
            .await?
            .map(|_| ())
            .map_err(|e| format!("a fresh passkey assertion is required: {e}")))
        }
    }
}

/// A short code for the audit, never the client's words.
fn reason(e: &PasskeyError) -> &'static str {
    match e {
        PasskeyError::Base64(_) => "base64",
        PasskeyError::ClientData(_) => "client_data",
        PasskeyError::WrongType { .. } => "type",
        PasskeyError::WrongOrigin { .. } => "origin",
        PasskeyError::CrossOrigin => "cross_origin",
        PasskeyError::ChallengeMismatch => "challenge_mismatch",
        PasskeyError::ChallengeUsed => "challenge_used",
        PasskeyError::ChallengeExpired => "challenge_expired",
        PasskeyError::ChallengeElsewhere => "challenge_elsewhere",
        PasskeyError::Cbor(_) | PasskeyError::Attestation(_) => "attestation",
        PasskeyError::AuthData(_) => "auth_data",
        PasskeyError::RpIdHash(_) => "rp_id",
        PasskeyError::NotPresent => "not_present",
        PasskeyError::NotVerified => "not_verified",
        PasskeyError::Algorithm(_) | PasskeyError::PublicKey(_) => "public_key",
        PasskeyError::Signature => "signature",
        PasskeyError::UnknownCredential => "unknown_credential",
        PasskeyError::Cloned { .. } => "cloned",
        PasskeyError::Duplicate => "duplicate",
        PasskeyError::WrongOwner => "wrong_owner",
    }
}

/// Issues a challenge for a ceremony; expired ones are swept on the way.
async fn issue_challenge(
    store: &Store,
    ceremony: Ceremony,
    owner: Option<&str>,
) -> Result<(String, String), StoreError> {
    let id = random_hex::<12>()?;
    let challenge = custode_crypto::random_bytes::<32>()?;
    let now = store.now();
    let expires = now + SignedDuration::from_mins(CHALLENGE_MINUTES);
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM passkey_challenges WHERE expires_at < $1")
        .bind(to_micros(now) - 3_600_000_000)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO passkey_challenges (id, challenge_hash, purpose, owner, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(&id)
    .bind(secret_hash(&to_b64url(&challenge)))
    .bind(ceremony.name())
    .bind(owner)
    .bind(to_micros(now))
    .bind(to_micros(expires))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, to_b64url(&challenge)))
}

/// Spends a challenge: once only, unexpired, for this ceremony and owner,
/// and equal (in constant time) to the one the response signed.
async fn spend_challenge(
    store: &Store,
    id: &str,
    ceremony: Ceremony,
    owner: Option<&str>,
    presented: &[u8],
) -> Result<Result<(), PasskeyError>, StoreError> {
    if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Err(PasskeyError::ChallengeUsed));
    }
    let now = to_micros(store.now());
    let spent =
        sqlx::query("UPDATE passkey_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(store.writer())
            .await?
            .rows_affected();
    if spent != 1 {
        return Ok(Err(PasskeyError::ChallengeUsed));
    }
    let row = sqlx::query(
        "SELECT challenge_hash, purpose, owner, expires_at FROM passkey_challenges WHERE id = $1",
    )
    .bind(id)
    .fetch_one(store.writer())
    .await?;
    let stored: Vec<u8> = row.try_get(0)?;
    let purpose: String = row.try_get(1)?;
    let bound: Option<String> = row.try_get(2)?;
    let expires: i64 = row.try_get(3)?;
    if purpose != ceremony.name() || bound.as_deref() != owner {
        return Ok(Err(PasskeyError::ChallengeElsewhere));
    }
    if expires <= now {
        return Ok(Err(PasskeyError::ChallengeExpired));
    }
    if !constant_time_eq(&stored, &secret_hash(&to_b64url(presented))) {
        return Ok(Err(PasskeyError::ChallengeMismatch));
    }
    Ok(Ok(()))
}

/// A passkey that signed: its id here and its owner.
struct Verified {
    passkey: String,
    owner: String,
}

/// Verifies an assertion end to end: the credential known (and the
/// owner's, when one is expected), the user handle agreeing, the client
/// and authenticator data, the signature, the challenge spent, and the
/// counter grown (then stored, by a conditional update that a racing
/// clone loses).
async fn verify_assertion(
    store: &Store,
    rp: &RelyingParty,
    ceremony: Ceremony,
    owner: Option<&str>,
    challenge_id: &str,
    response: &AssertionResponse<'_>,
) -> Result<Result<Verified, PasskeyError>, StoreError> {
    let decoded = (|| {
        Ok::<_, PasskeyError>((
            b64url("rawId", response.credential_id)?,
            b64url("response.clientDataJSON", response.client_data_json)?,
            b64url("response.authenticatorData", response.authenticator_data)?,
            b64url("response.signature", response.signature)?,
            response
                .user_handle
                .map(|h| b64url("response.userHandle", h))
                .transpose()?,
        ))
    })();
    let (credential_id, client_data, auth_data, signature, handle) = match decoded {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    let Some(row) = sqlx::query(
        "SELECT id, owner, public_key, sign_count FROM passkeys WHERE credential_id = $1",
    )
    .bind(&credential_id)
    .fetch_optional(store.reader())
    .await?
    else {
        return Ok(Err(PasskeyError::UnknownCredential));
    };
    let passkey: String = row.try_get(0)?;
    let holder: String = row.try_get(1)?;
    let public_key = PublicKey(row.try_get(2)?);
    let stored = u32::try_from(row.try_get::<i64, _>(3)?).unwrap_or(u32::MAX);
    if owner.is_some_and(|o| o != holder) {
        return Ok(Err(PasskeyError::WrongOwner));
    }
    if handle.is_some_and(|h| h != holder.as_bytes()) {
        return Ok(Err(PasskeyError::WrongOwner));
    }
    let asserted =
        match webauthn::check_assertion(rp, &public_key, &client_data, &auth_data, &signature) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
    if let Err(e) =
        spend_challenge(store, challenge_id, ceremony, owner, &asserted.challenge).await?
    {
        return Ok(Err(e));
    }
    if let Err(e) = webauthn::counter_ok(stored, asserted.sign_count) {
        return Ok(Err(e));
    }
    let moved = sqlx::query(
        "UPDATE passkeys SET sign_count = $1, last_used_at = $2 WHERE id = $3 AND sign_count = $4",
    )
    .bind(i64::from(asserted.sign_count))
    .bind(to_micros(store.now()))
    .bind(&passkey)
    .bind(i64::from(stored))
    .execute(store.writer())
    .await?
    .rows_affected();
    if moved != 1 {
        return Ok(Err(PasskeyError::Cloned {
            stored,
            presented: asserted.sign_count,
        }));
    }
    Ok(Ok(Verified {
        passkey,
        owner: holder,
    }))
}

/// The owner id of a principal that may hold passkeys: a person or a
/// subject logged in with a session, not a token.
fn owner_of(by: &Principal) -> Result<String, StoreError> {
    if by.id.starts_with("user:") || by.id.starts_with("subject:") {
        Ok(by.id.clone())
    } else {
        Err(StoreError::Invalid(
            "passkeys belong to people and subjects logged in with a session, not to API tokens"
                .to_owned(),
        ))
    }
}

fn checked_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "`name`: a passkey's name has 1 to 64 characters, none a control character (e.g. \"work laptop\")"
                .to_owned(),
        ));
    }
    Ok(name.to_owned())
}

fn not_registered(e: PasskeyError) -> StoreError {
    StoreError::Invalid(format!("passkey not registered: {e}"))
}

fn subject_of_owner(owner: &str) -> Option<String> {
    owner.strip_prefix("subject:").map(str::to_owned)
}

impl Accounts {
    async fn descriptors(&self, owner: &str) -> Result<Vec<Descriptor>, StoreError> {
        let rows = sqlx::query("SELECT credential_id FROM passkeys WHERE owner = $1 ORDER BY id")
            .bind(owner)
            .fetch_all(self.store.reader())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Descriptor {
                    id: to_b64url(&r.try_get::<Vec<u8>, _>(0)?),
                })
            })
            .collect()
    }

    /// How many passkeys an owner holds.
    pub(crate) async fn passkey_count(&self, owner: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM passkeys WHERE owner = $1")
                .bind(owner)
                .fetch_one(self.store.reader())
                .await?
                .try_get(0)?,
        )
    }

    /// The people (user ids) holding at least one passkey.
    pub(crate) async fn passkey_holders(
        &self,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT owner FROM passkeys")
            .fetch_all(self.store.reader())
            .await?;
        let mut out = std::collections::HashSet::new();
        for r in rows {
            let owner: String = r.try_get(0)?;
            if let Some(user) = owner.strip_prefix("user:") {
                out.insert(user.to_owned());
            }
        }
        Ok(out)
    }

    async fn creation_options(
        &self,
        rp: &RelyingParty,
        owner: &str,
        user_name: String,
    ) -> Result<CreationOptions, StoreError> {
        let exclude = self.descriptors(owner).await?;
        let (challenge_id, challenge) =
            issue_challenge(&self.store, Ceremony::Register, Some(owner)).await?;
        Ok(CreationOptions {
            challenge_id,
            challenge,
            rp_id: rp.id().to_owned(),
            rp_name: rp.name().to_owned(),
            user_handle: to_b64url(owner.as_bytes()),
            user_name,
            exclude,
            timeout_ms: 60_000 * CHALLENGE_MINUTES as u64,
        })
    }

    async fn request_options(
        &self,
        rp: &RelyingParty,
        ceremony: Ceremony,
        owner: Option<&str>,
    ) -> Result<RequestOptions, StoreError> {
        let allow = match owner {
            Some(o) => self.descriptors(o).await?,
            None => Vec::new(),
        };
        let (challenge_id, challenge) = issue_challenge(&self.store, ceremony, owner).await?;
        Ok(RequestOptions {
            challenge_id,
            challenge,
            rp_id: rp.id().to_owned(),
            allow,
            timeout_ms: 60_000 * CHALLENGE_MINUTES as u64,
        })
    }

    /// Starts registering a passkey for the person or subject logged in.
    pub async fn passkey_registration_start(
        &self,
        rp: &RelyingParty,
        by: &Principal,
    ) -> Result<CreationOptions, StoreError> {
        let owner = owner_of(by)?;
        let name = match owner.strip_prefix("user:") {
            Some(user) => sqlx::query("SELECT username FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(self.store.reader())
                .await?
                .map(|r| r.try_get::<String, _>(0))
                .transpose()?
                .unwrap_or_else(|| user.to_owned()),
            None => format!("privacy portal ({})", owner.trim_start_matches("subject:")),
        };
        self.creation_options(rp, &owner, name).await
    }

    /// Registers the passkey of a [`passkey_registration_start`] response
    /// for the person or subject logged in.
    ///
    /// [`passkey_registration_start`]: Accounts::passkey_registration_start
    pub async fn passkey_registration_finish(
        &self,
        rp: &RelyingParty,
        by: &Principal,
        challenge_id: &str,
        name: &str,
        response: &RegistrationResponse<'_>,
    ) -> Result<PasskeyInfo, StoreError> {
        let owner = owner_of(by)?;
        self.register_passkey(rp, &by.id, &owner, challenge_id, name, response)
            .await
    }

    /// Starts registering the invitee's passkey, while the invitation is
    /// valid: it counts as the second factor a privileged role needs.
    pub async fn invitation_passkey_start(
        &self,
        rp: &RelyingParty,
        token: &str,
    ) -> Result<CreationOptions, StoreError> {
        let inv = self.open_invitation(token).await?;
        self.creation_options(rp, &format!("user:{}", inv.user_id), inv.email)
            .await
    }

    /// Registers the invitee's passkey; the invitation stays open until
    /// accepted (with the password).
    pub async fn invitation_passkey_finish(
        &self,
        rp: &RelyingParty,
        token: &str,
        challenge_id: &str,
        name: &str,
        response: &RegistrationResponse<'_>,
    ) -> Result<PasskeyInfo, StoreError> {
        let inv = self.open_invitation(token).await?;
        let owner = format!("user:{}", inv.user_id);
        self.register_passkey(rp, &owner, &owner, challenge_id, name, response)
            .await
    }

    async fn register_passkey(
        &self,
        rp: &RelyingParty,
        actor: &str,
        owner: &str,
        challenge_id: &str,
        name: &str,
        response: &RegistrationResponse<'_>,
    ) -> Result<PasskeyInfo, StoreError> {
        let name = checked_name(name)?;
        let reported = b64url("rawId", response.credential_id).map_err(not_registered)?;
        let client_data =
            b64url("response.clientDataJSON", response.client_data_json).map_err(not_registered)?;
        let attestation = b64url("response.attestationObject", response.attestation_object)
            .map_err(not_registered)?;
        let reg =
            webauthn::check_registration(rp, &client_data, &attestation).map_err(not_registered)?;
        if reg.credential_id != reported {
            return Err(StoreError::Invalid(
                "passkey not registered: `rawId` is not the credential id in the authenticator data"
                    .to_owned(),
            ));
        }
        spend_challenge(
            &self.store,
            challenge_id,
            Ceremony::Register,
            Some(owner),
            &reg.challenge,
        )
        .await?
        .map_err(not_registered)?;
        let id = format!("pk_{}", random_hex::<12>()?);
        let now = self.store.now();
        let mut tx = self.store.begin_write().await?;
        let held: i64 = sqlx::query("SELECT COUNT(*) FROM passkeys WHERE owner = $1")
            .bind(owner)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if held >= MAX_PASSKEYS {
            return Err(StoreError::Conflict(format!(
                "at most {MAX_PASSKEYS} passkeys per account: remove one first"
            )));
        }
        let taken: i64 = sqlx::query("SELECT COUNT(*) FROM passkeys WHERE credential_id = $1")
            .bind(&reg.credential_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if taken > 0 {
            return Err(StoreError::Conflict(format!(
                "passkey not registered: {}",
                PasskeyError::Duplicate
            )));
        }
        sqlx::query(
            "INSERT INTO passkeys (id, owner, credential_id, public_key, sign_count, name, format, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(&id)
        .bind(owner)
        .bind(&reg.credential_id)
        .bind(&reg.public_key.0)
        .bind(i64::from(reg.sign_count))
        .bind(&name)
        .bind(&reg.format)
        .bind(to_micros(now))
        .execute(&mut *tx)
        .await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            to_micros(now),
            &[Event {
                actor: actor.to_owned(),
                action: Action::AccessGranted,
                subject: subject_of_owner(owner),
                reason: None,
                // The name is the holder's words: not in the chain.
                detail: json!({ "change": "passkey_added", "owner": owner, "passkey": id, "format": reg.format }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(PasskeyInfo {
            id,
            name,
            format: reg.format,
            created_at: now,
            last_used_at: None,
        })
    }

    async fn audit_refused_passkey(
        &self,
        attempt: &str,
        e: &PasskeyError,
    ) -> Result<(), StoreError> {
        self.store
            .audit_alone(Event {
                actor: "anonymous".to_owned(),
                action: Action::AccessDenied,
                subject: None,
                reason: None,
                detail: json!({ "attempt": attempt, "why": reason(e) }),
            })
            .await
    }

    /// A login's assertion checked; a refusal is audited under `attempt`
    /// and answered with what was wrong.
    async fn login_assertion(
        &self,
        rp: &RelyingParty,
        ceremony: Ceremony,
        attempt: &str,
        challenge_id: &str,
        response: &AssertionResponse<'_>,
    ) -> Result<Verified, StoreError> {
        match verify_assertion(&self.store, rp, ceremony, None, challenge_id, response).await? {
            Ok(v) => Ok(v),
            Err(e) => {
                self.audit_refused_passkey(attempt, &e).await?;
                Err(StoreError::PasskeyRefused(e.to_string()))
            }
        }
    }

    /// Starts a person's passkey login: any of this site's passkeys (the
    /// authenticator offers its discoverable ones).
    pub async fn passkey_login_start(
        &self,
        rp: &RelyingParty,
    ) -> Result<RequestOptions, StoreError> {
        self.request_options(rp, Ceremony::Login, None).await
    }

    /// Logs a person in with a passkey alone (user verified): a disabled
    /// person, or one whose invitation is not accepted, is refused.
    pub async fn passkey_login(
        &self,
        rp: &RelyingParty,
        challenge_id: &str,
        response: &AssertionResponse<'_>,
    ) -> Result<Session, StoreError> {
        let verified = self
            .login_assertion(rp, Ceremony::Login, "passkey_login", challenge_id, response)
            .await?;
        let refuse = |why: &str| StoreError::PasskeyRefused(why.to_owned());
        let Some(user) = verified.owner.strip_prefix("user:") else {
            return Err(refuse(
                "this passkey opens a subject's portal: log in there (POST /api/v1/portal/passkey/start)",
            ));
        };
        let row = sqlx::query(
            "SELECT role, scope_path, subject_id, activated_at, disabled_at FROM users WHERE id = $1",
        )
        .bind(user)
        .fetch_optional(self.store.reader())
        .await?
        .ok_or_else(|| refuse("the account of this passkey no longer exists"))?;
        if row.try_get::<Option<i64>, _>(4)?.is_some() {
            self.audit_refused_passkey("passkey_login", &PasskeyError::WrongOwner)
                .await?;
            return Err(refuse("this account is disabled"));
        }
        if row.try_get::<Option<i64>, _>(3)?.is_none() {
            return Err(refuse(
                "this account's invitation is not accepted yet: accept it with your password first",
            ));
        }
        let principal = crate::principal(
            format!("user:{user}"),
            &row.try_get::<String, _>(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
        )
        .ok_or_else(|| refuse("this account's role cannot log in"))?;
        self.open_session(principal, json!({ "passkey": verified.passkey }))
            .await
    }

    /// Starts a subject's passkey login to its portal.
    pub async fn portal_passkey_start(
        &self,
        rp: &RelyingParty,
    ) -> Result<RequestOptions, StoreError> {
        self.request_options(rp, Ceremony::PortalLogin, None).await
    }

    /// Opens a portal session, scoped to the subject alone, with a passkey
    /// the subject registered from an earlier portal session.
    pub async fn portal_passkey_login(
        &self,
        rp: &RelyingParty,
        challenge_id: &str,
        response: &AssertionResponse<'_>,
    ) -> Result<Session, StoreError> {
        let verified = self
            .login_assertion(
                rp,
                Ceremony::PortalLogin,
                "portal_passkey_login",
                challenge_id,
                response,
            )
            .await?;
        let refuse = |why: &str| StoreError::PasskeyRefused(why.to_owned());
        let subject = verified
            .owner
            .strip_prefix("subject:")
            .and_then(|s| SubjectId::parse(s).ok())
            .ok_or_else(|| {
                refuse(
                    "this passkey is a staff member's: log in at POST /api/v1/passkeys/login/start",
                )
            })?;
        let row = sqlx::query("SELECT tenant_path, erased_at FROM subjects WHERE id = $1")
            .bind(subject.as_str())
            .fetch_optional(self.store.reader())
            .await?
            .ok_or_else(|| refuse("the account of this passkey no longer exists"))?;
        if row.try_get::<Option<i64>, _>(1)?.is_some() {
            return Err(refuse("the account of this passkey was erased"));
        }
        let path: String = row.try_get(0)?;
        let mut tx = self.store.begin_write().await?;
        let session = self
            .open_portal_session(
                &mut tx,
                &subject,
                &path,
                json!({ "portal": true, "passkey": verified.passkey }),
            )
            .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Starts the fresh second factor of a vault query: a challenge for
    /// the person logged in, over their passkeys, valid five minutes.
    pub async fn vault_passkey_start(
        &self,
        rp: &RelyingParty,
        by: &Principal,
    ) -> Result<RequestOptions, StoreError> {
        let owner = owner_of(by)?;
        if !owner.starts_with("user:") || self.passkey_count(&owner).await? == 0 {
            return Err(StoreError::Conflict(
                "you hold no passkey: register one (POST /api/v1/passkeys/register/start) or send a TOTP code"
                    .to_owned(),
            ));
        }
        self.request_options(rp, Ceremony::Vault, Some(&owner))
            .await
    }

    /// The passkeys of the person or subject logged in.
    pub async fn list_passkeys(&self, by: &Principal) -> Result<Vec<PasskeyInfo>, StoreError> {
        self.passkeys_owned(&owner_of(by)?).await
    }

    /// A person's passkeys, for an administrator who manages them.
    pub async fn person_passkeys(
        &self,
        by: &Principal,
        user: &str,
    ) -> Result<Vec<PasskeyInfo>, StoreError> {
        let mut tx = self.store.begin_write().await?;
        self.managed_person(&mut tx, by, user).await?;
        drop(tx);
        self.passkeys_owned(&format!("user:{user}")).await
    }

    async fn passkeys_owned(&self, owner: &str) -> Result<Vec<PasskeyInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, format, created_at, last_used_at FROM passkeys WHERE owner = $1 ORDER BY created_at, id",
        )
        .bind(owner)
        .fetch_all(self.store.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PasskeyInfo {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    format: r.try_get(2)?,
                    created_at: from_micros(r.try_get(3)?),
                    last_used_at: r.try_get::<Option<i64>, _>(4)?.map(from_micros),
                })
            })
            .collect()
    }

    /// Removes a passkey: its holder's own, or (an administrator) one of a
    /// person it manages; others are not found. A holder whose role needs
    /// a second factor keeps at least one: removing the last, without TOTP,
    /// is refused (an administrator resets a lost one).
    pub async fn remove_passkey(&self, by: &Principal, id: &str) -> Result<(), StoreError> {
        let not_found = || StoreError::NotFound {
            what: "passkey",
            id: id.to_owned(),
        };
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        let owner: String = sqlx::query("SELECT owner FROM passkeys WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(not_found)?
            .try_get(0)?;
        if owner == by.id {
            if let Some(user) = owner.strip_prefix("user:") {
                let last = self.passkey_count(&owner).await? <= 1;
                let totp = matches!(self.store.keys().totp(user).await?, Some((_, true)));
                if last && !totp && crate::needs_second_factor(by.role) {
                    return Err(StoreError::Conflict(format!(
                        "this is your last second factor and a {} logs in with one: register another passkey or enrol TOTP first",
                        by.role.name()
                    )));
                }
            }
        } else {
            match owner.strip_prefix("user:") {
                Some(user) if by.role == Role::Administrator => {
                    self.managed_person(&mut tx, by, user).await?;
                }
                _ => return Err(not_found()),
            }
        }
        sqlx::query("DELETE FROM passkeys WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessRevoked,
                subject: subject_of_owner(&owner),
                reason: None,
                detail: json!({ "change": "passkey_removed", "owner": owner, "passkey": id }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens a person's session and audits the login, in one transaction.
    pub(crate) async fn open_session(
        &self,
        principal: Principal,
        detail: serde_json::Value,
    ) -> Result<Session, StoreError> {
        let user_id = principal.id.trim_start_matches("user:").to_owned();
        let id = random_hex::<32>()?;
        let csrf = random_hex::<32>()?;
        let now = self.store.now();
        let expires_at = now
            .checked_add(SignedDuration::from_hours(crate::SESSION_HOURS))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, csrf_hash, user_id, role, scope_path, subject_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(secret_hash(&id))
        .bind(secret_hash(&csrf))
        .bind(&user_id)
        .bind(principal.role.name())
        .bind(principal.scope.path())
        .bind(principal.scope.only_subject().map(|s| s.to_string()))
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut *tx)
        .await?;
        let mut detail = detail;
        detail["until"] = json!(expires_at.to_string());
        audit_log::append(
            &mut tx,
            self.store.engine(),
            to_micros(now),
            &[Event {
                actor: principal.id.clone(),
                action: Action::LoggedIn,
                subject: None,
                reason: None,
                detail,
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(Session {
            id,
            csrf,
            principal,
            expires_at,
        })
    }
}

/// The principal of a subject's portal session.
pub(crate) fn portal_principal(subject: &SubjectId, path: &str) -> Principal {
    Principal {
        id: format!("subject:{subject}"),
        role: Role::Subject,
        scope: Scope::subject(path, subject.clone()),
    }
}
