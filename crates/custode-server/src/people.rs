//! The people face: invitations (the administrator's side and the
//! invitee's), the accounts' administration, token revocation, and the
//! subject's own login to its portal with a code by mail. Every rule
//! (which role may be given, which tenant, single use, expiry) is the
//! store's (`custode_store` `people.rs`).
//!
//! An invitation link for a role that reads personal data never reaches
//! the inviter over the API: it goes by mail to the invitee only (or the
//! local operator prints it at the console, `custode users invite`), so the
//! administrator cannot invite itself into such a role and read the link.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use custode_domain::{Operation, Role, TenantId, reads_personal_data};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::api::{Enrolled, LoggedIn, parse_subject};
use crate::error::ApiError;
use crate::extract::{Body, Caller};

fn parse_role(name: &str) -> Result<Role, ApiError> {
    Role::from_name(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid body",
            format!(
                "`role`: unknown role `{name}`; roles are {}",
                Role::ALL
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

fn parse_tenant(id: Option<&str>) -> Result<Option<TenantId>, ApiError> {
    id.map(|t| TenantId::parse(t).map_err(|e| ApiError::bad_request(format!("`tenant`: {e}"))))
        .transpose()
}

/// The last tenant id of a scope path (none for the whole tree).
fn tenant_of(path: &str) -> Option<String> {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn no_relay(role: Role) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "No mail relay",
        format!(
            "a {} reads personal data, so its invitation link goes only to the person, by mail, and this instance has no mail relay (serve --smtp): configure one, or have the local operator invite at the console (`custode users invite`), which prints the link",
            role.name()
        ),
    )
}

/// The link the invitee opens; the secret is in the fragment, which no
/// browser sends to a server (so no log holds it).
fn invitation_link(state: &AppState, token: &str) -> String {
    format!("{}/invitation#{token}", state.public_url)
}

async fn mail_invitation(
    state: &AppState,
    inv: &custode_accounts::Invitation,
) -> Result<bool, ApiError> {
    let Some(mailer) = state.mailer.clone() else {
        return Ok(false);
    };
    let second = if custode_accounts::needs_second_factor(inv.role) {
        "\nYour role signs in with a second factor: you will add an authenticator app while accepting.\n"
    } else {
        ""
    };
    let body = format!(
        "You are invited to Custode as {role}.\n\n\
         Open this link to choose your password and finish your account:\n\n  {link}\n\n\
         It works once, until {until}.{second}\n\
         Your user name is this address. If you did not expect this invitation, ignore it.\n\n\
         (Without a browser: POST the part after `#` as `token` to {base}/api/v1/invitations/accept\n\
         with your `password`; see {base}/openapi.json.)\n",
        role = inv.role.name(),
        link = invitation_link(state, &inv.token),
        until = inv.expires_at,
        base = state.public_url,
    );
    mailer
        .send(&inv.email, "Your Custode account", body)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "Mail not sent",
                format!(
                    "the invitation of user {} was made but could not be mailed ({e}): re-invite once the relay works",
                    inv.user_id
                ),
            )
        })?;
    Ok(true)
}

/// An invitation to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteIn {
    /// The person's e-mail address: the link goes there, and it is their
    /// user name.
    pub email: String,
    /// `administrator`, `dpo`, `support_agent`, `legal_officer`,
    /// `reseller_admin` or `domain_admin`; never above the inviter's.
    pub role: String,
    /// The tenant the person is bound to, in the inviter's scope (default:
    /// the inviter's own node).
    pub tenant: Option<String>,
}

/// An invitation made.
#[derive(Serialize, ToSchema)]
pub struct Invited {
    /// The person's user id.
    pub id: String,
    /// The address (their user name).
    pub email: String,
    /// The role.
    pub role: String,
    /// The tenant; none for the whole tree.
    pub tenant: Option<String>,
    /// When the link stops working.
    pub expires_at: String,
    /// Whether the link was mailed to the person.
    pub mailed: bool,
    /// The link itself, only for a role that reads no personal data (the
    /// administrator's); otherwise it goes to the person alone.
    pub link: Option<String>,
}

fn invited(
    state: &AppState,
    inv: custode_accounts::Invitation,
    mailed: bool,
) -> (StatusCode, Json<Invited>) {
    let link = (!reads_personal_data(inv.role)).then(|| invitation_link(state, &inv.token));
    (
        StatusCode::CREATED,
        Json(Invited {
            tenant: tenant_of(&inv.scope_path),
            id: inv.user_id,
            email: inv.email,
            role: inv.role.name().to_owned(),
            expires_at: inv.expires_at.to_string(),
            mailed,
            link,
        }),
    )
}

/// Invites a person by e-mail with a role and a tenant. The link (single
/// use, valid seven days) is mailed; it is returned here only for the
/// administrator role, which reads no personal data.
#[utoipa::path(post, path = "/api/v1/users", request_body = InviteIn, responses((status = 201, body = Invited), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem), (status = 502, body = crate::error::Problem)), security(("token" = [])))]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Body(i): Body<InviteIn>,
) -> Result<(StatusCode, Json<Invited>), ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "invite people")
        .await?;
    let role = parse_role(&i.role)?;
    let tenant = parse_tenant(i.tenant.as_deref())?;
    // Every check of the input before the relay's: a bad invitation is
    // told as such, not as a missing relay.
    state
        .accounts
        .check_invitation(&caller.0, &i.email, role)
        .await?;
    if let Some(t) = &tenant {
        state.store.tenant(&caller.0, t).await?;
    }
    if reads_personal_data(role) && state.mailer.is_none() {
        return Err(no_relay(role));
    }
    let inv = state
        .accounts
        .invite_person(&caller.0, &i.email, role, tenant.as_ref())
        .await?;
    let mailed = mail_invitation(&state, &inv).await?;
    Ok(invited(&state, inv, mailed))
}

/// A person, as the administrator lists them.
#[derive(Serialize, ToSchema)]
pub struct PersonOut {
    /// The user id.
    pub id: String,
    /// The user name (the address they were invited at).
    pub email: String,
    /// The role.
    pub role: String,
    /// The tenant; none for the whole tree.
    pub tenant: Option<String>,
    /// `invited`, `active` or `disabled`.
    pub state: String,
    /// Whether a second factor is enrolled.
    pub second_factor: bool,
    /// When the account was made.
    pub created_at: String,
    /// While invited: when the link expires.
    pub invitation_expires_at: Option<String>,
}

/// Lists the people in the caller's scope: role, tenant, state, second
/// factor. Never a password or a secret, and no subject's data.
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = [PersonOut]), (status = 403, body = crate::error::Problem)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PersonOut>>, ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "list people")
        .await?;
    let people = state.accounts.list_people(&caller.0).await?;
    Ok(Json(
        people
            .into_iter()
            .map(|p| PersonOut {
                tenant: tenant_of(&p.scope_path),
                id: p.id,
                email: p.email,
                role: p.role,
                state: p.state.name().to_owned(),
                second_factor: p.second_factor,
                created_at: p.created_at.to_string(),
                invitation_expires_at: p.invitation_expires_at.map(|t| t.to_string()),
            })
            .collect(),
    ))
}

/// A change of role or tenant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeIn {
    /// The new role (never above the caller's).
    pub role: Option<String>,
    /// The new tenant (in the caller's scope).
    pub tenant: Option<String>,
}

/// Changes a person's role or tenant; their sessions end and the tokens
/// they issued are revoked.
#[utoipa::path(patch, path = "/api/v1/users/{id}", params(("id" = String, Path)), request_body = ChangeIn, responses((status = 204), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(c): Body<ChangeIn>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "change people's roles")
        .await?;
    let role = c.role.as_deref().map(parse_role).transpose()?;
    let tenant = parse_tenant(c.tenant.as_deref())?;
    state
        .accounts
        .change_person(&caller.0, &id, role, tenant.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables a person: their sessions and the tokens they issued stop at
/// once.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("token" = [])))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "disable people")
        .await?;
    state.accounts.disable_person(&caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a disabled person again.
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("token" = [])))]
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "enable people")
        .await?;
    state.accounts.enable_person(&caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a person who has not accepted yet a new invitation (the earlier
/// link stops working). Over the API the link is mailed, so a relay is
/// needed; the local operator re-invites at the console without one.
#[utoipa::path(post, path = "/api/v1/users/{id}/reinvite", params(("id" = String, Path)), responses((status = 201, body = Invited), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 502, body = crate::error::Problem)), security(("token" = [])))]
pub async fn reinvite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Invited>), ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "re-invite people")
        .await?;
    if state.mailer.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "No mail relay",
            "a new invitation goes to the person by mail, and this instance has no mail relay (serve --smtp): have the local operator re-invite at the console (`custode users reinvite`)",
        ));
    }
    let inv = state.accounts.reinvite_person(&caller.0, &id).await?;
    let mailed = mail_invitation(&state, &inv).await?;
    Ok(invited(&state, inv, mailed))
}

/// Removes a person's lost second factor (by another administrator,
/// audited); they enrol a new one with their password before logging in.
#[utoipa::path(delete, path = "/api/v1/users/{id}/second-factor", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn reset_second_factor(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "reset second factors")
        .await?;
    state.accounts.reset_second_factor(&caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sessions ended.
#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    /// How many live sessions were ended.
    pub ended: u64,
}

/// Ends every live session of a person.
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", params(("id" = String, Path)), responses((status = 200, body = SessionsEnded), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn end_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "end people's sessions")
        .await?;
    let ended = state.accounts.end_sessions(&caller.0, &id).await?;
    Ok(Json(SessionsEnded { ended }))
}

/// Revokes an API token in the caller's scope, at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path)), responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "revoke tokens")
        .await?;
    state.accounts.revoke_token_in_scope(&caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation link's secret.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationIn {
    /// The part of the link after `#` (`inv_…`).
    pub token: String,
}

/// What an invitation is for.
#[derive(Serialize, ToSchema)]
pub struct InvitationOut {
    /// The user name the person will log in with.
    pub email: String,
    /// The role.
    pub role: String,
    /// Whether accepting needs a second factor (enrol it first).
    pub second_factor_required: bool,
    /// When the link stops working.
    pub expires_at: String,
}

/// Shows what an invitation is for, if its link is valid.
#[utoipa::path(post, path = "/api/v1/invitations/show", request_body = InvitationIn, responses((status = 200, body = InvitationOut), (status = 401, body = crate::error::Problem)))]
pub async fn show_invitation(
    State(state): State<AppState>,
    Body(i): Body<InvitationIn>,
) -> Result<Json<InvitationOut>, ApiError> {
    let info = state.accounts.invitation(&i.token).await?;
    Ok(Json(InvitationOut {
        email: info.email,
        role: info.role.name().to_owned(),
        second_factor_required: info.second_factor_required,
        expires_at: info.expires_at.to_string(),
    }))
}

/// Starts the invitee's TOTP enrolment: the secret for the authenticator
/// app, confirmed by the code sent when accepting.
#[utoipa::path(post, path = "/api/v1/invitations/totp", request_body = InvitationIn, responses((status = 201, body = Enrolled), (status = 401, body = crate::error::Problem)))]
pub async fn invitation_totp(
    State(state): State<AppState>,
    Body(i): Body<InvitationIn>,
) -> Result<(StatusCode, Json<Enrolled>), ApiError> {
    let (secret, uri) = state.accounts.invitation_totp(&i.token).await?;
    Ok((StatusCode::CREATED, Json(Enrolled { secret, uri })))
}

/// Accepting an invitation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    /// The part of the link after `#` (`inv_…`).
    pub token: String,
    /// The password chosen (at least 12 characters).
    pub password: String,
    /// The authenticator's current code: required for the administrator,
    /// the DPO and the legal officer (enrol first with
    /// `/api/v1/invitations/totp`).
    pub totp: Option<String>,
}

/// An account ready.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// The user id.
    pub id: String,
    /// The user name to log in with.
    pub username: String,
    /// The role.
    pub role: String,
}

/// Accepts an invitation: sets the password and, for a role that needs
/// one, confirms the second factor. The link works once.
#[utoipa::path(post, path = "/api/v1/invitations/accept", request_body = AcceptIn, responses((status = 201, body = Accepted), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    Body(a): Body<AcceptIn>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let info = state.accounts.invitation(&a.token).await?;
    let id = state
        .accounts
        .accept_invitation(&a.token, &a.password, a.totp.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Accepted {
            id,
            username: info.email,
            role: info.role.name().to_owned(),
        }),
    ))
}

/// An address to send a portal code to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalCodeIn {
    /// An e-mail address the provider knows you by.
    pub email: String,
    /// The language of the mail (one of the policy's; its first when not
    /// given).
    pub language: Option<String>,
}

/// The same answer whether or not the address is known.
#[derive(Serialize, ToSchema)]
pub struct PortalCodeSent {
    /// What happens next.
    pub message: String,
}

/// Mails a one-time code for the subject's portal to the address, when a
/// subject is known by it. The answer is the same either way, so the
/// portal does not tell who is a customer.
#[utoipa::path(post, path = "/api/v1/portal/code", request_body = PortalCodeIn, responses((status = 202, body = PortalCodeSent), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn portal_code(
    State(state): State<AppState>,
    Body(p): Body<PortalCodeIn>,
) -> Result<(StatusCode, Json<PortalCodeSent>), ApiError> {
    let lang = crate::requests::language(&state, p.language.as_deref())?;
    match send_portal_code(&state, &p.email, lang).await {
        Ok(()) => {}
        Err(PortalCodeError::NoRelay) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "No mail relay",
                "this instance has no mail relay (serve --smtp), so it cannot send portal codes",
            ));
        }
        Err(PortalCodeError::Store(e)) => return Err(e.into()),
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(PortalCodeSent {
            message:
                "if the provider knows you by this address, a code is on its way (valid 15 minutes)"
                    .to_owned(),
        }),
    ))
}

/// Why a portal code was not sent.
#[derive(Debug)]
pub enum PortalCodeError {
    /// This instance has no mail relay.
    NoRelay,
    /// The address is not one (`Invalid`), or the store failed.
    Store(custode_store::StoreError),
}

/// Mails a one-time portal code to `email` when a subject is known by it,
/// in `lang` (the policy's first language when `None`), for the JSON API
/// and the portal's pages alike. Nothing tells a known address from an
/// unknown one: the mail leaves after the caller answers.
pub async fn send_portal_code(
    state: &AppState,
    email: &str,
    lang: Option<custode_policy::Lang>,
) -> Result<(), PortalCodeError> {
    let Some(mailer) = state.mailer.clone() else {
        return Err(PortalCodeError::NoRelay);
    };
    if let Some(code) = state
        .accounts
        .portal_code(email)
        .await
        .map_err(PortalCodeError::Store)?
    {
        let policy = state.store.policy();
        let lang = lang
            .filter(|l| policy.meta.languages.contains(l))
            .unwrap_or(policy.meta.languages[0]);
        let expires = code
            .expires_at
            .to_zoned(
                jiff::tz::TimeZone::get(custode_domain::records::zone_for(
                    &policy.meta.jurisdiction,
                ))
                .unwrap_or(jiff::tz::TimeZone::UTC),
            )
            .strftime("%H:%M")
            .to_string();
        let (subject, body) =
            custode_policy::portal_code_message(&policy, lang, &code.code, &expires);
        // Sent after the answer: waiting for the relay would make a known
        // address answer slower than an unknown one, and tell them apart.
        tokio::spawn(async move {
            // The relay's words may quote the address: not logged.
            if mailer.send(&code.email, &subject, body).await.is_err() {
                tracing::error!("a portal code could not be mailed: check the mail relay");
            }
        });
    }
    Ok(())
}

/// A portal login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalLoginIn {
    /// The address the code went to.
    pub email: String,
    /// The six digits.
    pub code: String,
    /// When the address belongs to several accounts: which one.
    pub subject: Option<String>,
}

/// Opens the subject's portal session with the code: a session cookie
/// scoped to that subject alone (role `subject`), for one hour.
#[utoipa::path(post, path = "/api/v1/portal/login", request_body = PortalLoginIn, responses((status = 200, body = LoggedIn), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn portal_login(
    State(state): State<AppState>,
    Body(p): Body<PortalLoginIn>,
) -> Result<Response, ApiError> {
    let key = p.email.trim().to_lowercase();
    state.attempts.check_user(&key)?;
    let subject = p.subject.as_deref().map(parse_subject).transpose()?;
    match state
        .accounts
        .portal_login(&p.email, &p.code, subject.as_ref())
        .await
    {
        Ok(session) => {
            state.attempts.clear_user(&key);
            let seconds = (session.expires_at.as_second() - state.store_now().as_second()).max(0);
            let cookie = format!(
                "{}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={seconds}",
                crate::extract::SESSION_COOKIE,
                session.id,
            );
            let body = LoggedIn {
                csrf_token: session.csrf,
                role: session.principal.role.name().to_owned(),
                expires_at: session.expires_at.to_string(),
            };
            Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
        }
        Err(e) => {
            state.attempts.fail_user(&key);
            Err(e.into())
        }
    }
}
