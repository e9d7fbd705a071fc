//! The passkeys face (WebAuthn): options in the JSON that
//! `PublicKeyCredential.parseCreationOptionsFromJSON` and
//! `parseRequestOptionsFromJSON` take, responses as
//! `PublicKeyCredential.toJSON()` gives them. Registration by a person or a
//! subject logged in, or by an invitee; login with a passkey alone (user
//! verified); the vault query's challenge; listing and removal. Every check
//! is the accounts capability's (`custode_accounts` `passkeys.rs`).
//!
//! The relying party is the server's public URL (`serve --public-url`):
//! its host is the RP ID and its origin the only one accepted.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use custode_accounts::{
    AssertionResponse, CreationOptions, PasskeyInfo, RegistrationResponse, RelyingParty,
    RequestOptions, Session,
};
use custode_domain::Operation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::api::LoggedIn;
use crate::error::ApiError;
use crate::extract::{Body, Caller};

/// The relying party of this server's public URL.
pub(crate) fn relying_party(state: &AppState) -> Result<RelyingParty, ApiError> {
    RelyingParty::from_public_url(&state.public_url).map_err(|e| {
        ApiError::new(
            StatusCode::CONFLICT,
            "No usable public URL",
            format!("{e}: passkeys need the server's public URL (serve --public-url https://HOST)"),
        )
    })
}

/// A relying party.
#[derive(Serialize, ToSchema)]
pub struct RpOut {
    /// The RP ID: the server's host.
    pub id: String,
    /// The name authenticators show.
    pub name: String,
}

/// The account a passkey is made for.
#[derive(Serialize, ToSchema)]
pub struct UserOut {
    /// The user handle, base64url (an internal id, no personal data).
    pub id: String,
    /// The account's name.
    pub name: String,
    /// The same, for display.
    #[serde(rename = "displayName")]
    pub display_name: String,
}

/// An algorithm offered.
#[derive(Serialize, ToSchema)]
pub struct ParamOut {
    /// `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The COSE algorithm: -7 (ES256).
    pub alg: i64,
}

/// A credential named.
#[derive(Serialize, ToSchema)]
pub struct DescriptorOut {
    /// `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The credential id, base64url.
    pub id: String,
}

/// What the authenticator must be able to do.
#[derive(Serialize, ToSchema)]
pub struct SelectionOut {
    /// `required`: a discoverable passkey, so that it logs in alone.
    #[serde(rename = "residentKey")]
    pub resident_key: String,
    /// `true`, for older browsers.
    #[serde(rename = "requireResidentKey")]
    pub require_resident_key: bool,
    /// `required`: a PIN or biometric every time.
    #[serde(rename = "userVerification")]
    pub user_verification: String,
}

/// `PublicKeyCredentialCreationOptions`, as JSON.
#[derive(Serialize, ToSchema)]
pub struct CreationPublicKey {
    /// The challenge, base64url.
    pub challenge: String,
    /// This server.
    pub rp: RpOut,
    /// The account.
    pub user: UserOut,
    /// ES256 only.
    #[serde(rename = "pubKeyCredParams")]
    pub pub_key_cred_params: Vec<ParamOut>,
    /// Milliseconds.
    pub timeout: u64,
    /// `none`.
    pub attestation: String,
    /// Discoverable, user verified.
    #[serde(rename = "authenticatorSelection")]
    pub authenticator_selection: SelectionOut,
    /// Passkeys the account holds already.
    #[serde(rename = "excludeCredentials")]
    pub exclude_credentials: Vec<DescriptorOut>,
}

/// A registration ceremony started.
#[derive(Serialize, ToSchema)]
pub struct CreationOut {
    /// Send back with the response.
    pub challenge_id: String,
    /// For `navigator.credentials.create({ publicKey })`.
    #[serde(rename = "publicKey")]
    pub public_key: CreationPublicKey,
}

/// `PublicKeyCredentialRequestOptions`, as JSON.
#[derive(Serialize, ToSchema)]
pub struct RequestPublicKey {
    /// The challenge, base64url.
    pub challenge: String,
    /// The RP ID.
    #[serde(rename = "rpId")]
    pub rp_id: String,
    /// Milliseconds.
    pub timeout: u64,
    /// `required`.
    #[serde(rename = "userVerification")]
    pub user_verification: String,
    /// The passkeys allowed; empty: any of this site's.
    #[serde(rename = "allowCredentials")]
    pub allow_credentials: Vec<DescriptorOut>,
}

/// An authentication ceremony started.
#[derive(Serialize, ToSchema)]
pub struct RequestOut {
    /// Send back with the response.
    pub challenge_id: String,
    /// For `navigator.credentials.get({ publicKey })`.
    #[serde(rename = "publicKey")]
    pub public_key: RequestPublicKey,
}

fn descriptors(list: Vec<custode_accounts::Descriptor>) -> Vec<DescriptorOut> {
    list.into_iter()
        .map(|d| DescriptorOut {
            kind: "public-key".to_owned(),
            id: d.id,
        })
        .collect()
}

fn creation_out(o: CreationOptions) -> CreationOut {
    CreationOut {
        challenge_id: o.challenge_id,
        public_key: CreationPublicKey {
            challenge: o.challenge,
            rp: RpOut {
                id: o.rp_id,
                name: o.rp_name,
            },
            user: UserOut {
                id: o.user_handle,
                display_name: o.user_name.clone(),
                name: o.user_name,
            },
            pub_key_cred_params: vec![ParamOut {
                kind: "public-key".to_owned(),
                alg: custode_accounts::webauthn::ES256,
            }],
            timeout: o.timeout_ms,
            attestation: "none".to_owned(),
            authenticator_selection: SelectionOut {
                resident_key: "required".to_owned(),
                require_resident_key: true,
                user_verification: "required".to_owned(),
            },
            exclude_credentials: descriptors(o.exclude),
        },
    }
}

fn request_out(o: RequestOptions) -> RequestOut {
    RequestOut {
        challenge_id: o.challenge_id,
        public_key: RequestPublicKey {
            challenge: o.challenge,
            rp_id: o.rp_id,
            timeout: o.timeout_ms,
            user_verification: "required".to_owned(),
            allow_credentials: descriptors(o.allow),
        },
    }
}

/// The `response` of a `PublicKeyCredential`, as `toJSON()` gives it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialResponseIn {
    /// base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// Registration: the attestation object, base64url.
    #[serde(rename = "attestationObject")]
    pub attestation_object: Option<String>,
    /// Assertion (also given at registration): base64url.
    #[serde(rename = "authenticatorData")]
    pub authenticator_data: Option<String>,
    /// Assertion: the signature, base64url.
    pub signature: Option<String>,
    /// Assertion: the user handle, base64url.
    #[serde(rename = "userHandle")]
    pub user_handle: Option<String>,
    /// Registration: transports (not used).
    #[allow(
        dead_code,
        reason = "taken so that toJSON()'s output is accepted whole"
    )]
    pub transports: Option<Vec<String>>,
    /// Registration: the public key in SPKI (not used: read from the
    /// authenticator data).
    #[serde(rename = "publicKey")]
    #[allow(
        dead_code,
        reason = "taken so that toJSON()'s output is accepted whole"
    )]
    pub public_key: Option<String>,
    /// Registration: its algorithm (not used).
    #[serde(rename = "publicKeyAlgorithm")]
    #[allow(
        dead_code,
        reason = "taken so that toJSON()'s output is accepted whole"
    )]
    pub public_key_algorithm: Option<i64>,
}

/// A `PublicKeyCredential`, as `toJSON()` gives it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialIn {
    /// The credential id, base64url.
    pub id: String,
    /// The same.
    #[serde(rename = "rawId")]
    pub raw_id: Option<String>,
    /// `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The authenticator's answer.
    pub response: CredentialResponseIn,
    /// `platform` or `cross-platform` (not used).
    #[serde(rename = "authenticatorAttachment")]
    #[allow(
        dead_code,
        reason = "taken so that toJSON()'s output is accepted whole"
    )]
    pub authenticator_attachment: Option<String>,
    /// Extension outputs (not used).
    #[serde(rename = "clientExtensionResults")]
    #[schema(value_type = Object)]
    #[allow(
        dead_code,
        reason = "taken so that toJSON()'s output is accepted whole"
    )]
    pub client_extension_results: Option<serde_json::Value>,
}

impl CredentialIn {
    fn checked(&self) -> Result<&str, ApiError> {
        if self.kind != "public-key" {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid body",
                "`credential.type` is `public-key`",
            ));
        }
        if self.raw_id.as_deref().is_some_and(|r| r != self.id) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid body",
                "`credential.id` and `credential.rawId` differ",
            ));
        }
        Ok(&self.id)
    }

    fn registration(&self) -> Result<RegistrationResponse<'_>, ApiError> {
        let id = self.checked()?;
        let attestation = self.response.attestation_object.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid body",
                "`credential.response.attestationObject` is missing: send what navigator.credentials.create gave",
            )
        })?;
        Ok(RegistrationResponse {
            credential_id: id,
            client_data_json: &self.response.client_data_json,
            attestation_object: attestation,
        })
    }

    pub(crate) fn assertion(&self) -> Result<AssertionResponse<'_>, ApiError> {
        let id = self.checked()?;
        let missing = |what: &str| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid body",
                format!(
                    "`credential.response.{what}` is missing: send what navigator.credentials.get gave"
                ),
            )
        };
        Ok(AssertionResponse {
            credential_id: id,
            client_data_json: &self.response.client_data_json,
            authenticator_data: self
                .response
                .authenticator_data
                .as_deref()
                .ok_or_else(|| missing("authenticatorData"))?,
            signature: self
                .response
                .signature
                .as_deref()
                .ok_or_else(|| missing("signature"))?,
            user_handle: self.response.user_handle.as_deref(),
        })
    }
}

/// A passkey held.
#[derive(Serialize, ToSchema)]
pub struct PasskeyOut {
    /// Its id here (`pk_…`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The attestation format it came with (not verified).
    pub format: String,
    /// When it was registered.
    pub created_at: String,
    /// When it was last used.
    pub last_used_at: Option<String>,
}

fn passkey_out(p: PasskeyInfo) -> PasskeyOut {
    PasskeyOut {
        id: p.id,
        name: p.name,
        format: p.format,
        created_at: p.created_at.to_string(),
        last_used_at: p.last_used_at.map(|t| t.to_string()),
    }
}

/// A registration response.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterIn {
    /// From the start's answer.
    pub challenge_id: String,
    /// A name to tell it apart (1 to 64 characters).
    pub name: String,
    /// What `navigator.credentials.create` gave, as JSON.
    pub credential: CredentialIn,
}

/// An invitee's registration response.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRegisterIn {
    /// The part of the link after `#` (`inv_…`).
    pub token: String,
    /// From the start's answer.
    pub challenge_id: String,
    /// A name to tell it apart (1 to 64 characters).
    pub name: String,
    /// What `navigator.credentials.create` gave, as JSON.
    pub credential: CredentialIn,
}

/// An assertion.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertIn {
    /// From the start's answer.
    pub challenge_id: String,
    /// What `navigator.credentials.get` gave, as JSON.
    pub credential: CredentialIn,
}

/// Starts registering a passkey for the person or subject logged in (a
/// session, not a token).
#[utoipa::path(post, path = "/api/v1/passkeys/register/start", responses((status = 200, body = CreationOut), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn register_start(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<CreationOut>, ApiError> {
    let rp = relying_party(&state)?;
    let options = state
        .accounts
        .passkey_registration_start(&rp, &caller.0)
        .await?;
    Ok(Json(creation_out(options)))
}

/// Registers the passkey created for the start's options. Garbage, another
/// origin, a spent or expired challenge: 422 saying what, nothing stored.
#[utoipa::path(post, path = "/api/v1/passkeys/register/finish", request_body = RegisterIn, responses((status = 201, body = PasskeyOut), (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn register_finish(
    State(state): State<AppState>,
    caller: Caller,
    Body(r): Body<RegisterIn>,
) -> Result<(StatusCode, Json<PasskeyOut>), ApiError> {
    let rp = relying_party(&state)?;
    let response = r.credential.registration()?;
    let info = state
        .accounts
        .passkey_registration_finish(&rp, &caller.0, &r.challenge_id, &r.name, &response)
        .await?;
    Ok((StatusCode::CREATED, Json(passkey_out(info))))
}

/// The passkeys of the person or subject logged in.
#[utoipa::path(get, path = "/api/v1/passkeys", responses((status = 200, body = [PasskeyOut]), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PasskeyOut>>, ApiError> {
    let list = state.accounts.list_passkeys(&caller.0).await?;
    Ok(Json(list.into_iter().map(passkey_out).collect()))
}

/// Removes a passkey: one's own, or (an administrator) one of a person it
/// manages. Audited.
#[utoipa::path(delete, path = "/api/v1/passkeys/{id}", params(("id" = String, Path)), responses((status = 204), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("token" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.remove_passkey(&caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person's passkeys, for the administrator who manages them.
#[utoipa::path(get, path = "/api/v1/users/{id}/passkeys", params(("id" = String, Path)), responses((status = 200, body = [PasskeyOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("token" = [])))]
pub async fn of_person(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<PasskeyOut>>, ApiError> {
    caller
        .require(&state, Operation::ManagePeople, "see people's passkeys")
        .await?;
    let list = state.accounts.person_passkeys(&caller.0, &id).await?;
    Ok(Json(list.into_iter().map(passkey_out).collect()))
}

/// Starts the invitee's passkey registration: a passkey is the second
/// factor the administrator, the DPO and the legal officer need.
#[utoipa::path(post, path = "/api/v1/invitations/passkey/start", request_body = crate::people::InvitationIn, responses((status = 200, body = CreationOut), (status = 401, body = crate::error::Problem)))]
pub async fn invitation_start(
    State(state): State<AppState>,
    Body(i): Body<crate::people::InvitationIn>,
) -> Result<Json<CreationOut>, ApiError> {
    let rp = relying_party(&state)?;
    let options = state
        .accounts
        .invitation_passkey_start(&rp, &i.token)
        .await?;
    Ok(Json(creation_out(options)))
}

/// Registers the invitee's passkey; then accept the invitation with the
/// password (no `totp` needed).
#[utoipa::path(post, path = "/api/v1/invitations/passkey/finish", request_body = InvitationRegisterIn, responses((status = 201, body = PasskeyOut), (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn invitation_finish(
    State(state): State<AppState>,
    Body(r): Body<InvitationRegisterIn>,
) -> Result<(StatusCode, Json<PasskeyOut>), ApiError> {
    let rp = relying_party(&state)?;
    let response = r.credential.registration()?;
    let info = state
        .accounts
        .invitation_passkey_finish(&rp, &r.token, &r.challenge_id, &r.name, &response)
        .await?;
    Ok((StatusCode::CREATED, Json(passkey_out(info))))
}

fn session_response(state: &AppState, session: Session) -> Response {
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
    ([(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

/// Starts a person's passkey login (any of this site's passkeys).
#[utoipa::path(post, path = "/api/v1/passkeys/login/start", responses((status = 200, body = RequestOut)))]
pub async fn login_start(State(state): State<AppState>) -> Result<Json<RequestOut>, ApiError> {
    let rp = relying_party(&state)?;
    Ok(Json(request_out(
        state.accounts.passkey_login_start(&rp).await?,
    )))
}

/// Logs a person in with a passkey alone: the authenticator verified the
/// user (PIN or biometric), so the passkey is two factors and needs no
/// password. Sets the session cookie, as `/api/v1/login` does.
#[utoipa::path(post, path = "/api/v1/passkeys/login/finish", request_body = AssertIn, responses((status = 200, body = LoggedIn), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn login_finish(
    State(state): State<AppState>,
    Body(a): Body<AssertIn>,
) -> Result<Response, ApiError> {
    let rp = relying_party(&state)?;
    let response = a.credential.assertion()?;
    let session = state
        .accounts
        .passkey_login(&rp, &a.challenge_id, &response)
        .await?;
    Ok(session_response(&state, session))
}

/// Starts a subject's passkey login to its portal.
#[utoipa::path(post, path = "/api/v1/portal/passkey/start", responses((status = 200, body = RequestOut)))]
pub async fn portal_start(State(state): State<AppState>) -> Result<Json<RequestOut>, ApiError> {
    let rp = relying_party(&state)?;
    Ok(Json(request_out(
        state.accounts.portal_passkey_start(&rp).await?,
    )))
}

/// Opens the subject's portal session with a passkey it registered from
/// an earlier portal session: scoped to that subject alone, one hour.
#[utoipa::path(post, path = "/api/v1/portal/passkey/finish", request_body = AssertIn, responses((status = 200, body = LoggedIn), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn portal_finish(
    State(state): State<AppState>,
    Body(a): Body<AssertIn>,
) -> Result<Response, ApiError> {
    let rp = relying_party(&state)?;
    let response = a.credential.assertion()?;
    let session = state
        .accounts
        .portal_passkey_login(&rp, &a.challenge_id, &response)
        .await?;
    Ok(session_response(&state, session))
}

/// Starts the fresh second factor of a vault query: a challenge over the
/// legal officer's passkeys, to sign and send with the query (as
/// `passkey`) within five minutes.
#[utoipa::path(post, path = "/api/v1/vault/passkey-challenge", responses((status = 200, body = RequestOut), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("token" = [])))]
pub async fn vault_start(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RequestOut>, ApiError> {
    caller
        .require(&state, Operation::QueryVault, "query the vault")
        .await?;
    let rp = relying_party(&state)?;
    Ok(Json(request_out(
        state.accounts.vault_passkey_start(&rp, &caller.0).await?,
    )))
}
