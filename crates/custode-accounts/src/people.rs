//! People and their credentials: invitations by e-mail with a role and a
//! tenant, the invitee's own password and second factor, and the
//! administration of accounts (list, disable, enable, re-invite, change of
//! role or tenant, reset of a lost second factor, sessions ended, tokens
//! revoked); and the subject's own login to its portal with a one-time code
//! mailed to an address it is known by.
//!
//! An invited person is a `users` row not yet activated, with a random
//! password hash nobody knows; its invitation reads `inv_<id>.<secret>`,
//! found by id and compared as a hash in constant time, single use and
//! expiring. Nobody but the invitee sets the password: the administrator
//! learns no secret that reads personal data.
//!
//! Every change writes its audit entry in its own transaction; a refused
//! invitation or portal code is audited on its own.

use argon2::PasswordHasher;
use argon2::password_hash::SaltString;
use custode_audit::{Action, Event};
use custode_crypto::constant_time_eq;
use custode_domain::clock::{from_micros, to_micros};
use custode_domain::{Principal, Role, Scope, SubjectId, TenantId, reads_personal_data};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use sqlx::Row;

use crate::{Accounts, Session, argon2, random_hex, secret_hash};
use custode_store::{Credential, StoreError, audit_log};

/// How long an invitation link is valid.
pub const INVITATION_DAYS: i64 = 7;

/// How long a portal code is valid, how many wrong tries it takes, and how
/// soon another may be sent.
const PORTAL_CODE_LIFETIME: SignedDuration = SignedDuration::from_mins(15);
const PORTAL_CODE_ATTEMPTS: i64 = 5;
const PORTAL_CODE_RESEND_AFTER: SignedDuration = SignedDuration::from_secs(60);

/// How long a subject's portal session lasts.
const PORTAL_SESSION_HOURS: i64 = 1;

/// Portal session ids start with this, so one cookie serves both kinds.
pub(crate) const PORTAL_SESSION_PREFIX: &str = "p_";

/// Whether a role logs in (and finishes its invitation) only with a second
/// factor: those that run the instance, read everything in scope, or the
/// vault.
pub fn needs_second_factor(role: Role) -> bool {
    matches!(role, Role::Administrator | Role::Dpo | Role::LegalOfficer)
}

/// The roles a person holding `by` may give, to an invitee or by a change:
/// never one above its own. People are never invited as subjects (they log
/// in to the portal) or systems (which hold tokens).
fn grantable(by: Role, role: Role) -> bool {
    use Role::*;
    match by {
        Administrator => matches!(
            role,
            Administrator | Dpo | SupportAgent | LegalOfficer | ResellerAdmin | DomainAdmin
        ),
        ResellerAdmin => matches!(role, ResellerAdmin | DomainAdmin),
        DomainAdmin => matches!(role, DomainAdmin),
        _ => false,
    }
}

/// The names of the roles `by` may give, for error messages.
fn grantable_names(by: Role) -> String {
    let names: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| grantable(by, **r))
        .map(|r| r.name())
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// A normalised e-mail address, or what is wrong with it (never quoting
/// it: errors carry no personal value).
fn checked_email(email: &str) -> Result<String, StoreError> {
    let e = email.trim().to_lowercase();
    let bad = |why: &str| {
        StoreError::Invalid(format!(
            "`email` is not an e-mail address ({why}): write it as name@domain.example"
        ))
    };
    if e.is_empty() || e.len() > 254 {
        return Err(bad("it has 3 to 254 characters"));
    }
    if e.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
    {
        return Err(bad("no spaces, quotes, brackets, commas or semicolons"));
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err(bad("an `@` is missing"));
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Err(bad("one `@`, after a name of 1 to 64 characters"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
    {
        return Err(bad("the domain after `@` has a dot and no empty part"));
    }
    Ok(e)
}

/// A new invitation, returned once: its secret is stored only as a hash.
#[derive(Debug)]
pub struct Invitation {
    /// The invited person's user id.
    pub user_id: String,
    /// The address it goes to (the person's user name).
    pub email: String,
    /// The role the person will hold.
    pub role: Role,
    /// The scope path of the person's tenant (`/` for the whole tree).
    pub scope_path: String,
    /// The link's secret: `inv_<id>.<secret>`. Never stored.
    pub token: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// What an invitation is for, as its holder sees it before accepting.
#[derive(Debug)]
pub struct InvitationInfo {
    /// The invited person's user id.
    pub user_id: String,
    /// The user name it will log in with (its e-mail address).
    pub email: String,
    /// The role.
    pub role: Role,
    /// Whether the acceptance must enrol a second factor.
    pub second_factor_required: bool,
    /// When the invitation stops working.
    pub expires_at: Timestamp,
}

/// Where a person's account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonState {
    /// Invited; the invitation not accepted yet.
    Invited,
    /// Active: logs in.
    Active,
    /// Disabled: no session, no token.
    Disabled,
}

impl PersonState {
    /// The word shown.
    pub fn name(self) -> &'static str {
        match self {
            PersonState::Invited => "invited",
            PersonState::Active => "active",
            PersonState::Disabled => "disabled",
        }
    }
}

/// A person as the administrator sees it: never a password or a secret.
#[derive(Clone, Debug)]
pub struct PersonInfo {
    /// The user id.
    pub id: String,
    /// The user name (the address the person was invited at).
    pub email: String,
    /// The role.
    pub role: String,
    /// The scope path (`/` for the whole tree).
    pub scope_path: String,
    /// Invited, active or disabled.
    pub state: PersonState,
    /// Whether a second factor is enrolled and confirmed.
    pub second_factor: bool,
    /// When the account was made (or the person invited).
    pub created_at: Timestamp,
    /// While invited: when the pending invitation expires.
    pub invitation_expires_at: Option<Timestamp>,
}

/// A portal code to mail to the subject.
#[derive(Debug)]
pub struct PortalCode {
    /// The six digits.
    pub code: String,
    /// The address to mail it to, as given (the subject is known by it).
    pub email: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A person's row, as the checks need it.
pub(crate) struct Target {
    id: String,
    role: Role,
    scope_path: String,
    activated: bool,
    disabled: bool,
}

/// An invitation found by its link, its secret checked.
pub(crate) struct OpenInvitation {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) email: String,
    pub(crate) role: Role,
    pub(crate) expires_at: Timestamp,
}

fn user_principal_id(user: &str) -> String {
    format!("user:{user}")
}

impl Accounts {
    // ---- Invitations -----------------------------------------------------

    /// Invites a person by e-mail with a role, under a tenant in the
    /// caller's scope (or the caller's own node): a role above the caller's
    /// is `Forbidden` (and audited), a tenant outside its scope not found,
    /// an address already a user `Conflict`. The invitation's secret is
    /// returned once; the face mails it and only the local operator sees it
    /// printed.
    pub async fn invite_person(
        &self,
        by: &Principal,
        email: &str,
        role: Role,
        tenant: Option<&TenantId>,
    ) -> Result<Invitation, StoreError> {
        let email = self.check_invitation(by, email, role).await?;
        let scope_path = match tenant {
            Some(t) => self.store.tenant(by, t).await?.path,
            None => by.scope.path().to_owned(),
        };
        // A random password nobody knows: an invited person cannot log in,
        // and a login attempt costs the same Argon2 work as any other.
        let placeholder = hash_password(&random_hex::<32>()?)?;
        let id = format!("u_{}", random_hex::<12>()?);
        let now = self.store.now();
        let mut tx = self.store.begin_write().await?;
        custode_store::tenants::refuse_closed_scope(&mut tx, &scope_path).await?;
        let taken: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE username = $1")
            .bind(&email)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if taken > 0 {
            return Err(StoreError::Conflict(
                "a person with this address exists already: re-invite or enable them instead"
                    .to_owned(),
            ));
        }
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, scope_path, subject_id, created_at, activated_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6, NULL)",
        )
        .bind(&id)
        .bind(&email)
        .bind(placeholder)
        .bind(role.name())
        .bind(&scope_path)
        .bind(to_micros(now))
        .execute(&mut *tx)
        .await?;
        let (invitation, token, expires_at) = self.insert_invitation(&mut tx, by, &id, now).await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            to_micros(now),
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessGranted,
                subject: None,
                reason: None,
                detail: json!({ "change": "invited", "user": id, "role": role.name(), "scope": scope_path, "invitation": invitation, "expires_at": expires_at.to_string() }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(Invitation {
            user_id: id,
            email,
            role,
            scope_path,
            token,
            expires_at,
        })
    }

    /// Checks an invitation before anything is made: the address, and a
    /// role a person may hold that the caller may give (a refusal of the
    /// role is audited). Returns the normalised address.
    pub async fn check_invitation(
        &self,
        by: &Principal,
        email: &str,
        role: Role,
    ) -> Result<String, StoreError> {
        let email = checked_email(email)?;
        if matches!(role, Role::Subject | Role::System) {
            return Err(StoreError::Invalid(format!(
                "`role`: people are not invited as `{}` (a subject logs in to its portal, a system holds a token); invite as one of: {}",
                role.name(),
                grantable_names(Role::Administrator)
            )));
        }
        self.refuse_ungrantable(by, role).await?;
        Ok(email)
    }

    /// A new invitation for a person who has not accepted theirs yet; the
    /// earlier links stop working.
    pub async fn reinvite_person(
        &self,
        by: &Principal,
        user: &str,
    ) -> Result<Invitation, StoreError> {
        let now = self.store.now();
        let mut tx = self.store.begin_write().await?;
        let target = self.managed_person(&mut tx, by, user).await?;
        if target.activated {
            return Err(StoreError::Conflict(format!(
                "user {user} accepted an invitation already; to replace a lost second factor, reset it (`custode users reset-second-factor`)"
            )));
        }
        if target.disabled {
            return Err(StoreError::Conflict(format!(
                "user {user} is disabled: enable them first"
            )));
        }
        sqlx::query("DELETE FROM invitations WHERE user_id = $1 AND used_at IS NULL")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        // A passkey registered through an earlier link may be whoever held
        // that link's: the new link starts clean.
        sqlx::query("DELETE FROM passkeys WHERE owner = $1")
            .bind(user_principal_id(user))
            .execute(&mut *tx)
            .await?;
        let (invitation, token, expires_at) =
            self.insert_invitation(&mut tx, by, user, now).await?;
        let email: String = sqlx::query("SELECT username FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            to_micros(now),
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessGranted,
                subject: None,
                reason: None,
                detail: json!({ "change": "reinvited", "user": user, "role": target.role.name(), "scope": target.scope_path, "invitation": invitation, "expires_at": expires_at.to_string() }),
            }],
        )
        .await?;
        tx.commit().await?;
        // Nor does an authenticator enrolled through an earlier link count.
        self.store.keys().remove_totp(user).await?;
        Ok(Invitation {
            user_id: target.id,
            email,
            role: target.role,
            scope_path: target.scope_path,
            token,
            expires_at,
        })
    }

    async fn insert_invitation(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        user: &str,
        now: Timestamp,
    ) -> Result<(String, String, Timestamp), StoreError> {
        let id = random_hex::<12>()?;
        let secret = random_hex::<32>()?;
        let expires_at = now
            .checked_add(SignedDuration::from_hours(24 * INVITATION_DAYS))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        sqlx::query(
            "INSERT INTO invitations (id, secret_hash, user_id, created_by, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(&id)
        .bind(secret_hash(&secret))
        .bind(user)
        .bind(&by.id)
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut **tx)
        .await?;
        let token = format!("inv_{id}.{secret}");
        Ok((id, token, expires_at))
    }

    /// What an invitation is for, if its link is valid now.
    pub async fn invitation(&self, token: &str) -> Result<InvitationInfo, StoreError> {
        let inv = self.open_invitation(token).await?;
        Ok(InvitationInfo {
            second_factor_required: needs_second_factor(inv.role),
            user_id: inv.user_id,
            email: inv.email,
            role: inv.role,
            expires_at: inv.expires_at,
        })
    }

    /// Starts (or restarts) the invitee's TOTP enrolment: the secret in
    /// base32 and the `otpauth://` URI. It becomes active with the code
    /// sent when accepting.
    pub async fn invitation_totp(&self, token: &str) -> Result<(String, String), StoreError> {
        let inv = self.open_invitation(token).await?;
        let secret = custode_crypto::totp::new_secret()?;
        self.store.keys().set_totp(&inv.user_id, &secret).await?;
        let uri = custode_crypto::totp::otpauth_uri(&secret, "Custode", &inv.email);
        Ok((custode_crypto::totp::base32(&secret), uri))
    }

    /// Accepts an invitation: sets the person's password (Argon2id) and,
    /// for a role that needs one, confirms the second factor enrolled with
    /// [`Store::invitation_totp`] by its current code. The link works once.
    /// Returns the user id.
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<String, StoreError> {
        if password.chars().count() < 12 {
            return Err(StoreError::Invalid(
                "`password`: a password has at least 12 characters".to_owned(),
            ));
        }
        let inv = self.open_invitation(token).await?;
        // A code sent is checked even where the role needs none: an
        // enrolment begun is confirmed, or the acceptance refused.
        // A passkey registered during the invitation is a second factor.
        let passkey =
            totp.is_none() && self.passkey_count(&user_principal_id(&inv.user_id)).await? > 0;
        if (needs_second_factor(inv.role) && !passkey) || totp.is_some() {
            let enrolled = self.store.keys().totp(&inv.user_id).await?.is_some();
            let Some(code) = totp.filter(|_| enrolled) else {
                return Err(StoreError::Invalid(if needs_second_factor(inv.role) {
                    format!(
                        "a {} finishes the invitation with a second factor: register a passkey (POST /api/v1/invitations/passkey/start, then /finish), or enrol TOTP (POST /api/v1/invitations/totp) and send the authenticator's current code as `totp`",
                        inv.role.name()
                    )
                } else {
                    "`totp`: no authenticator was enrolled for this invitation (POST /api/v1/invitations/totp first), or leave `totp` out".to_owned()
                }));
            };
            if crate::check_totp(&self.store, &inv.user_id, code)
                .await
                .is_err()
            {
                return Err(StoreError::Invalid(
                    "`totp`: the code is not the authenticator's current one, or was used already"
                        .to_owned(),
                ));
            }
        }
        let hash = hash_password(password)?;
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        // Spent in the transaction that activates the person: of two
        // acceptances at once, one finds it used.
        let spent = sqlx::query(
            "UPDATE invitations SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(&inv.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let activated = sqlx::query(
            "UPDATE users SET password_hash = $1, activated_at = $2 WHERE id = $3 AND activated_at IS NULL AND disabled_at IS NULL",
        )
        .bind(&hash)
        .bind(now)
        .bind(&inv.user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent != 1 || activated != 1 {
            drop(tx);
            self.audit_refused_invitation(Some(&inv.id), "used").await?;
            return Err(StoreError::Unauthenticated(Credential::Invitation));
        }
        audit_log::append(
            &mut tx,
            self.store.engine(),
            now,
            &[Event {
                actor: user_principal_id(&inv.user_id),
                action: Action::AccessGranted,
                subject: None,
                reason: None,
                detail: json!({ "change": "accepted", "user": inv.user_id, "invitation": inv.id, "second_factor": needs_second_factor(inv.role), "passkey": passkey }),
            }],
        )
        .await?;
        tx.commit().await?;
        if totp.is_none() {
            // An enrolment begun and never confirmed is no second factor.
            self.store.keys().remove_totp(&inv.user_id).await?;
        }
        Ok(inv.user_id)
    }

    /// Finds an invitation by its link and checks it: the secret (in
    /// constant time), unused, unexpired, its person not disabled. Every
    /// refusal is audited and answers alike.
    pub(crate) async fn open_invitation(&self, token: &str) -> Result<OpenInvitation, StoreError> {
        let parsed = token
            .trim()
            .strip_prefix("inv_")
            .and_then(|t| t.split_once('.'))
            .filter(|(id, _)| id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some((id, secret)) = parsed else {
            self.audit_refused_invitation(None, "malformed").await?;
            return Err(StoreError::Unauthenticated(Credential::Invitation));
        };
        let row = sqlx::query(
            "SELECT i.secret_hash, i.user_id, i.expires_at, i.used_at, u.username, u.role, u.disabled_at, u.activated_at \
             FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.reader())
        .await?;
        let refusal = match &row {
            None => Some("unknown"),
            Some(r) => {
                let stored: Vec<u8> = r.try_get(0)?;
                let expires: i64 = r.try_get(2)?;
                let used: Option<i64> = r.try_get(3)?;
                let disabled: Option<i64> = r.try_get(6)?;
                let activated: Option<i64> = r.try_get(7)?;
                if !constant_time_eq(&stored, &secret_hash(secret)) {
                    Some("wrong")
                } else if used.is_some() || activated.is_some() {
                    Some("used")
                } else if expires <= to_micros(self.store.now()) {
                    Some("expired")
                } else if disabled.is_some() {
                    Some("disabled")
                } else {
                    None
                }
            }
        };
        match (row, refusal) {
            (Some(r), None) => {
                let role: String = r.try_get(5)?;
                Ok(OpenInvitation {
                    id: id.to_owned(),
                    user_id: r.try_get(1)?,
                    email: r.try_get(4)?,
                    role: Role::from_name(&role)
                        .ok_or(StoreError::Unauthenticated(Credential::Invitation))?,
                    expires_at: from_micros(r.try_get(2)?),
                })
            }
            (_, why) => {
                self.audit_refused_invitation(Some(id), why.unwrap_or("unknown"))
                    .await?;
                Err(StoreError::Unauthenticated(Credential::Invitation))
            }
        }
    }

    async fn audit_refused_invitation(
        &self,
        invitation: Option<&str>,
        why: &str,
    ) -> Result<(), StoreError> {
        self.store
            .audit_alone(Event {
                actor: "anonymous".to_owned(),
                action: Action::AccessDenied,
                subject: None,
                reason: None,
                detail: json!({ "attempt": "invitation", "invitation": invitation, "why": why }),
            })
            .await
    }

    // ---- Administration ----------------------------------------------------

    /// Refuses (and audits) a role the caller may not give.
    async fn refuse_ungrantable(&self, by: &Principal, role: Role) -> Result<(), StoreError> {
        if grantable(by.role, role) {
            return Ok(());
        }
        self.store
            .record_denied(by, &format!("grant the {} role", role.name()))
            .await?;
        Err(StoreError::Forbidden(format!(
            "a {} cannot give the {} role, which is above its own; it may give: {}",
            by.role.name(),
            role.name(),
            grantable_names(by.role)
        )))
    }

    /// A person the caller may manage: in its scope (else not found) and
    /// of a role it could give (else forbidden, audited).
    pub(crate) async fn managed_person(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        user: &str,
    ) -> Result<Target, StoreError> {
        let not_found = || StoreError::NotFound {
            what: "user",
            id: user.to_owned(),
        };
        let row = sqlx::query(
            "SELECT role, scope_path, activated_at, disabled_at FROM users WHERE id = $1",
        )
        .bind(user)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(not_found)?;
        let scope_path: String = row.try_get(1)?;
        let role = Role::from_name(&row.try_get::<String, _>(0)?).ok_or_else(not_found)?;
        if !scope_path.starts_with(by.scope.path()) || role == Role::Subject {
            return Err(not_found());
        }
        if !grantable(by.role, role) {
            self.store
                .record_denied(by, &format!("manage a {}", role.name()))
                .await?;
            return Err(StoreError::Forbidden(format!(
                "a {} cannot manage a {}; it manages: {}",
                by.role.name(),
                role.name(),
                grantable_names(by.role)
            )));
        }
        Ok(Target {
            id: user.to_owned(),
            role,
            scope_path,
            activated: row.try_get::<Option<i64>, _>(2)?.is_some(),
            disabled: row.try_get::<Option<i64>, _>(3)?.is_some(),
        })
    }

    /// Every person in the caller's scope, with role, state and whether a
    /// second factor is enrolled; never a password or a secret.
    pub async fn list_people(&self, by: &Principal) -> Result<Vec<PersonInfo>, StoreError> {
        let (lo, hi) = by.scope.path_range();
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.role, u.scope_path, u.created_at, u.activated_at, u.disabled_at, \
             (SELECT MAX(i.expires_at) FROM invitations i WHERE i.user_id = u.id AND i.used_at IS NULL) \
             FROM users u WHERE u.scope_path >= $1 AND u.scope_path < $2 AND u.role <> 'subject' \
             ORDER BY u.username",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(self.store.reader())
        .await?;
        let mut confirmed: std::collections::HashSet<String> =
            self.store.keys().confirmed_second_factors().await?;
        confirmed.extend(self.passkey_holders().await?);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get(0)?;
            let activated: Option<i64> = r.try_get(5)?;
            let disabled: Option<i64> = r.try_get(6)?;
            let state = match (disabled, activated) {
                (Some(_), _) => PersonState::Disabled,
                (None, None) => PersonState::Invited,
                (None, Some(_)) => PersonState::Active,
            };
            out.push(PersonInfo {
                second_factor: confirmed.contains(&id),
                id,
                email: r.try_get(1)?,
                role: r.try_get(2)?,
                scope_path: r.try_get(3)?,
                state,
                created_at: from_micros(r.try_get(4)?),
                invitation_expires_at: if state == PersonState::Invited {
                    r.try_get::<Option<i64>, _>(7)?.map(from_micros)
                } else {
                    None
                },
            });
        }
        Ok(out)
    }

    /// Disables a person: from this call on, their sessions and the tokens
    /// they issued are refused (on another instance, a token within the
    /// token cache's two seconds) and their pending invitation dies.
    pub async fn disable_person(&self, by: &Principal, user: &str) -> Result<(), StoreError> {
        if by.id == user_principal_id(user) {
            return Err(StoreError::Conflict(
                "you cannot disable yourself: another administrator does".to_owned(),
            ));
        }
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        let target = self.managed_person(&mut tx, by, user).await?;
        if target.disabled {
            return Err(StoreError::Conflict(format!(
                "user {user} is disabled already"
            )));
        }
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        let (sessions, tokens) = self.cut_credentials(&mut tx, user, now).await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessRevoked,
                subject: None,
                reason: None,
                detail: json!({ "change": "disabled", "user": user, "sessions_ended": sessions, "tokens_revoked": tokens }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enables a disabled person again (their old sessions and tokens stay
    /// ended; they log in afresh).
    pub async fn enable_person(&self, by: &Principal, user: &str) -> Result<(), StoreError> {
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        let target = self.managed_person(&mut tx, by, user).await?;
        if !target.disabled {
            return Err(StoreError::Conflict(format!("user {user} is not disabled")));
        }
        custode_store::tenants::refuse_closed_scope(&mut tx, &target.scope_path).await?;
        sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1")
            .bind(user)
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
                detail: json!({ "change": "enabled", "user": user, "role": target.role.name(), "scope": target.scope_path }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes a person's role and/or tenant, each no wider than the
    /// caller's; their sessions end and the tokens they issued are revoked,
    /// so nothing keeps the old grant. An administrator is never turned
    /// into a role that reads personal data (`Forbidden`, audited).
    pub async fn change_person(
        &self,
        by: &Principal,
        user: &str,
        role: Option<Role>,
        tenant: Option<&TenantId>,
    ) -> Result<(), StoreError> {
        if role.is_none() && tenant.is_none() {
            return Err(StoreError::Invalid(
                "give a new `role`, a new `tenant`, or both".to_owned(),
            ));
        }
        if let Some(r) = role {
            if matches!(r, Role::Subject | Role::System) {
                return Err(StoreError::Invalid(format!(
                    "`role`: a person cannot hold the `{}` role",
                    r.name()
                )));
            }
            self.refuse_ungrantable(by, r).await?;
        }
        let new_path = match tenant {
            Some(t) => Some(self.store.tenant(by, t).await?.path),
            None => None,
        };
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        let target = self.managed_person(&mut tx, by, user).await?;
        let new_role = role.unwrap_or(target.role);
        // An account that reads no personal data may have been made, and
        // be held, by the administrator itself (its link comes back over
        // the API): turned into a DPO, it would read what the administrator
        // must not. A role that reads personal data starts with an
        // invitation mailed to the person alone.
        if !reads_personal_data(target.role) && reads_personal_data(new_role) {
            drop(tx);
            self.store
                .record_denied(
                    by,
                    &format!("turn a {} into a {}", target.role.name(), new_role.name()),
                )
                .await?;
            return Err(StoreError::Forbidden(format!(
                "a {} reads no personal data and is not turned into a {}, which does: invite the person with that role instead (the link goes to them alone)",
                target.role.name(),
                new_role.name()
            )));
        }
        let scope_path = new_path.unwrap_or_else(|| target.scope_path.clone());
        custode_store::tenants::refuse_closed_scope(&mut tx, &scope_path).await?;
        sqlx::query("UPDATE users SET role = $1, scope_path = $2 WHERE id = $3")
            .bind(new_role.name())
            .bind(&scope_path)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        let (sessions, tokens) = self.cut_credentials(&mut tx, user, now).await?;
        audit_log::append(
            &mut tx,
            self.store.engine(),
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessGranted,
                subject: None,
                reason: None,
                detail: json!({
                    "change": "grant", "user": user,
                    "role": new_role.name(), "scope": scope_path,
                    "was_role": target.role.name(), "was_scope": target.scope_path,
                    "sessions_ended": sessions, "tokens_revoked": tokens,
                }),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a person's lost second factor, by another administrator:
    /// their sessions end, and they enrol a new one with their password
    /// (`POST /api/v1/totp/enroll`) before they can log in again.
    pub async fn reset_second_factor(&self, by: &Principal, user: &str) -> Result<(), StoreError> {
        if by.role != Role::Administrator {
            self.store
                .record_denied(by, "reset a second factor")
                .await?;
            return Err(StoreError::Forbidden(
                "only an administrator resets a second factor".to_owned(),
            ));
        }
        if by.id == user_principal_id(user) {
            return Err(StoreError::Forbidden(
                "another administrator resets your second factor: nobody resets their own"
                    .to_owned(),
            ));
        }
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        let _target = self.managed_person(&mut tx, by, user).await?;
        self.end_sessions_in(&mut tx, by, user, "second_factor_reset", now)
            .await?;
        sqlx::query("DELETE FROM passkeys WHERE owner = $1")
            .bind(user_principal_id(user))
            .execute(&mut *tx)
            .await?;
        // The secret lives in the key store: removed once the reset is on
        // the record, so nothing is done unaudited (a failure here leaves
        // the factor in place, and the reset can be asked again).
        tx.commit().await?;
        self.store.keys().remove_totp(user).await?;
        Ok(())
    }

    /// Ends every live session of a person; returns how many.
    pub async fn end_sessions(&self, by: &Principal, user: &str) -> Result<u64, StoreError> {
        let now = to_micros(self.store.now());
        let mut tx = self.store.begin_write().await?;
        self.managed_person(&mut tx, by, user).await?;
        let ended = self
            .end_sessions_in(&mut tx, by, user, "sessions_ended", now)
            .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends a person's live sessions in the caller's transaction, with the
    /// audit entry naming the change that ended them; returns how many.
    async fn end_sessions_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        by: &Principal,
        user: &str,
        change: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let ended = sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(user)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        audit_log::append(
            tx,
            self.store.engine(),
            now,
            &[Event {
                actor: by.id.clone(),
                action: Action::AccessRevoked,
                subject: None,
                reason: None,
                detail: json!({ "change": change, "user": user, "sessions_ended": ended }),
            }],
        )
        .await?;
        Ok(ended)
    }

    /// Revokes a token in the caller's scope (others are not found); a
    /// non-administrator revokes only tokens of roles it could give.
    pub async fn revoke_token_in_scope(&self, by: &Principal, id: &str) -> Result<(), StoreError> {
        let not_found = || StoreError::NotFound {
            what: "token",
            id: id.to_owned(),
        };
        let row = sqlx::query("SELECT role, scope_path FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(self.store.reader())
            .await?
            .ok_or_else(not_found)?;
        let scope_path: String = row.try_get(1)?;
        if !scope_path.starts_with(by.scope.path()) {
            return Err(not_found());
        }
        let role = Role::from_name(&row.try_get::<String, _>(0)?).ok_or_else(not_found)?;
        if by.role != Role::Administrator && !grantable(by.role, role) {
            self.store
                .record_denied(by, &format!("revoke a {} token", role.name()))
                .await?;
            return Err(StoreError::Forbidden(format!(
                "a {} cannot revoke a {} token",
                by.role.name(),
                role.name()
            )));
        }
        self.revoke_token(by, id).await
    }

    /// Ends a person's sessions and revokes the tokens they issued, in the
    /// caller's transaction; drops those tokens from this instance's cache
    /// at once. Returns (sessions, tokens).
    async fn cut_credentials(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user: &str,
        now: i64,
    ) -> Result<(u64, u64), StoreError> {
        let sessions = sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(user)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let issuer = user_principal_id(user);
        let tokens: Vec<String> =
            sqlx::query("SELECT id FROM api_tokens WHERE created_by = $1 AND revoked_at IS NULL")
                .bind(&issuer)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE created_by = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&issuer)
        .execute(&mut **tx)
        .await?;
        // Dropped before the commit: a check racing it reads the database,
        // which refuses once the commit lands.
        let mut cache = self.token_cache.lock().unwrap_or_else(|e| e.into_inner());
        for t in &tokens {
            cache.remove(t);
        }
        Ok((sessions, tokens.len() as u64))
    }

    // ---- The subject's portal ---------------------------------------------

    fn portal_email_hash(&self, email: &str) -> Vec<u8> {
        let normalised =
            custode_domain::normalise_identifier(custode_policy::IdentifierKind::Email, email);
        custode_store::identifier_hash(&self.store.keys().hasher(), "email", &normalised)
    }

    fn portal_code_mac(&self, email_hash: &[u8], code: &str) -> Vec<u8> {
        self.store.keys().hasher().hash(
            "portal-code",
            &format!("{}|{code}", hex::encode(email_hash)),
        )[..]
            .to_vec()
    }

    /// The live subjects known by this address (by keyed hash: no scan).
    async fn subjects_known_by(
        &self,
        email_hash: &[u8],
    ) -> Result<Vec<(SubjectId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.tenant_path FROM identifiers i JOIN subjects s ON s.key = i.subject_key \
             WHERE i.hash = $1 AND s.erased_at IS NULL ORDER BY s.id",
        )
        .bind(email_hash)
        .fetch_all(self.store.reader())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let Ok(id) = SubjectId::parse(&r.try_get::<String, _>(0)?) {
                out.push((id, r.try_get(1)?));
            }
        }
        Ok(out)
    }

    /// A one-time code for the subject's portal, to mail to `email` when a
    /// subject is known by it. `None` (nothing to send) when none is, or
    /// when a code went out less than a minute ago: the face answers the
    /// same either way, so the portal does not tell who is a customer.
    pub async fn portal_code(&self, email: &str) -> Result<Option<PortalCode>, StoreError> {
        let email = email.trim();
        checked_email(email)?;
        let hash = self.portal_email_hash(email);
        let subjects = self.subjects_known_by(&hash).await?;
        if subjects.is_empty() {
            return Ok(None);
        }
        let now = self.store.now();
        let mut tx = self.store.begin_write().await?;
        let previous = sqlx::query("SELECT sent_at FROM portal_codes WHERE email_hash = $1")
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?;
        if previous.is_some_and(|sent| now < from_micros(sent) + PORTAL_CODE_RESEND_AFTER) {
            return Ok(None);
        }
        let code = six_digits()?;
        let expires_at = now + PORTAL_CODE_LIFETIME;
        sqlx::query("DELETE FROM portal_codes WHERE email_hash = $1")
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO portal_codes (email_hash, code_mac, sent_at, expires_at, attempts, used_at) VALUES ($1, $2, $3, $4, 0, NULL)",
        )
        .bind(&hash)
        .bind(self.portal_code_mac(&hash, &code))
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut *tx)
        .await?;
        let events: Vec<Event> = subjects
            .iter()
            .map(|(s, _)| Event {
                actor: "anonymous".to_owned(),
                action: Action::PortalCodeSent,
                subject: Some(s.to_string()),
                reason: None,
                detail: json!({ "expires_at": expires_at.to_string() }),
            })
            .collect();
        audit_log::append(&mut tx, self.store.engine(), to_micros(now), &events).await?;
        tx.commit().await?;
        Ok(Some(PortalCode {
            code,
            email: email.to_owned(),
            expires_at,
        }))
    }

    /// Opens a portal session for the subject known by `email`, with the
    /// code mailed there. When the address belongs to several subjects,
    /// `subject` says which (the answer lists them once the code is right,
    /// and the code stays valid).
    pub async fn portal_login(
        &self,
        email: &str,
        code: &str,
        subject: Option<&SubjectId>,
    ) -> Result<Session, StoreError> {
        let hash = self.portal_email_hash(email);
        let now = self.store.now();
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(
            "SELECT code_mac, expires_at, attempts, used_at FROM portal_codes WHERE email_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let refusal = match &row {
            None => Some("no_code"),
            Some(r) => {
                let mac: Vec<u8> = r.try_get(0)?;
                let expires_at: i64 = r.try_get(1)?;
                let attempts: i64 = r.try_get(2)?;
                let used: Option<i64> = r.try_get(3)?;
                if used.is_some() {
                    Some("replayed")
                } else if to_micros(now) > expires_at {
                    Some("expired")
                } else if attempts >= PORTAL_CODE_ATTEMPTS {
                    Some("exhausted")
                } else if !constant_time_eq(&mac, &self.portal_code_mac(&hash, code.trim())) {
                    sqlx::query(
                        "UPDATE portal_codes SET attempts = attempts + 1 WHERE email_hash = $1",
                    )
                    .bind(&hash)
                    .execute(&mut *tx)
                    .await?;
                    Some("wrong")
                } else {
                    None
                }
            }
        };
        if let Some(why) = refusal {
            tx.commit().await?;
            self.store
                .audit_alone(Event {
                    actor: "anonymous".to_owned(),
                    action: Action::AccessDenied,
                    subject: None,
                    reason: None,
                    detail: json!({ "attempt": "portal_login", "why": why }),
                })
                .await?;
            return Err(StoreError::Unauthenticated(Credential::PortalCode));
        }
        let known = self.subjects_known_by(&hash).await?;
        let (id, path) = match (subject, known.as_slice()) {
            (_, []) => return Err(StoreError::Unauthenticated(Credential::PortalCode)),
            (None, [one]) => one.clone(),
            (None, many) => {
                let ids: Vec<String> = many.iter().map(|(s, _)| s.to_string()).collect();
                return Err(StoreError::Conflict(format!(
                    "this address belongs to {} accounts ({}): send the same code again with `subject` set to yours",
                    ids.len(),
                    ids.join(", ")
                )));
            }
            (Some(want), all) => all
                .iter()
                .find(|(s, _)| s == want)
                .cloned()
                .ok_or(StoreError::Unauthenticated(Credential::PortalCode))?,
        };
        sqlx::query("UPDATE portal_codes SET used_at = $1 WHERE email_hash = $2")
            .bind(to_micros(now))
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        let session = self
            .open_portal_session(&mut tx, &id, &path, json!({ "portal": true }))
            .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Opens a portal session for a subject, in the caller's transaction,
    /// with its login audited.
    pub(crate) async fn open_portal_session(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: &SubjectId,
        path: &str,
        detail: serde_json::Value,
    ) -> Result<Session, StoreError> {
        let now = self.store.now();
        let sid = format!("{PORTAL_SESSION_PREFIX}{}", random_hex::<32>()?);
        let csrf = random_hex::<32>()?;
        let expires_at = now
            .checked_add(SignedDuration::from_hours(PORTAL_SESSION_HOURS))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        sqlx::query(
            "INSERT INTO portal_sessions (id_hash, csrf_hash, subject_id, scope_path, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(secret_hash(&sid))
        .bind(secret_hash(&csrf))
        .bind(id.as_str())
        .bind(path)
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut **tx)
        .await?;
        let principal = crate::passkeys::portal_principal(id, path);
        let mut detail = detail;
        detail["until"] = json!(expires_at.to_string());
        audit_log::append(
            tx,
            self.store.engine(),
            to_micros(now),
            &[Event {
                actor: principal.id.clone(),
                action: Action::LoggedIn,
                subject: Some(id.to_string()),
                reason: None,
                detail,
            }],
        )
        .await?;
        Ok(Session {
            id: sid,
            csrf,
            principal,
            expires_at,
        })
    }

    /// The subject of a live portal session; ended once it is erased.
    pub(crate) async fn authenticate_portal_session(
        &self,
        id: &str,
        csrf: Option<&str>,
    ) -> Result<Principal, StoreError> {
        let refused = StoreError::Unauthenticated(Credential::Session);
        let Some(row) = sqlx::query(
            "SELECT p.csrf_hash, p.subject_id, p.scope_path, p.expires_at, p.ended_at, s.erased_at \
             FROM portal_sessions p JOIN subjects s ON s.id = p.subject_id WHERE p.id_hash = $1",
        )
        .bind(secret_hash(id))
        .fetch_optional(self.store.reader())
        .await?
        else {
            return Err(refused);
        };
        let expires: i64 = row.try_get(3)?;
        let ended: Option<i64> = row.try_get(4)?;
        let erased: Option<i64> = row.try_get(5)?;
        if ended.is_some() || erased.is_some() || expires <= to_micros(self.store.now()) {
            return Err(refused);
        }
        if let Some(csrf) = csrf {
            let stored: Vec<u8> = row.try_get(0)?;
            if !constant_time_eq(&stored, &secret_hash(csrf)) {
                return Err(refused);
            }
        }
        let subject = SubjectId::parse(&row.try_get::<String, _>(1)?).map_err(|_| refused)?;
        let path: String = row.try_get(2)?;
        Ok(Principal {
            id: format!("subject:{subject}"),
            role: Role::Subject,
            scope: Scope::subject(&path, subject),
        })
    }

    /// Ends a portal session (logout).
    pub(crate) async fn portal_logout(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE portal_sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL",
        )
        .bind(to_micros(self.store.now()))
        .bind(secret_hash(id))
        .execute(self.store.writer())
        .await?;
        Ok(())
    }
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt_bytes = custode_crypto::random_bytes::<16>()?;
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| StoreError::Invalid(format!("cannot hash the password: {e}")))?
        .to_string())
}

/// Six random digits, uniform (rejection sampling).
fn six_digits() -> Result<String, StoreError> {
    loop {
        let n = u32::from_le_bytes(custode_crypto::random_bytes::<4>()?);
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_without_quoting_them() {
        assert_eq!(
            checked_email(" Dpo@Example.ORG ").expect("valid"),
            "dpo@example.org"
        );
        for bad in [
            "",
            "no-at.example",
            "a@b",
            "a@@b.example",
            "a b@c.example",
            "<a@b.example>",
            "a@.example",
            "@b.example",
        ] {
            let e = checked_email(bad).expect_err(bad).to_string();
            assert!(e.contains("`email`"), "{e}");
            assert!(bad.is_empty() || !e.contains(bad), "quoted: {e}");
        }
    }

    #[test]
    fn nobody_gives_a_role_above_its_own() {
        assert!(grantable(Role::Administrator, Role::Dpo));
        assert!(grantable(Role::ResellerAdmin, Role::DomainAdmin));
        assert!(!grantable(Role::ResellerAdmin, Role::Administrator));
        assert!(!grantable(Role::DomainAdmin, Role::ResellerAdmin));
        assert!(!grantable(Role::Dpo, Role::Dpo));
        assert!(!grantable(Role::Administrator, Role::Subject));
        assert!(!grantable(Role::Administrator, Role::System));
    }
}
