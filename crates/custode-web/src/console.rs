//! The staff console: sign in (user, password, second-factor code), accept
//! an invitation (set a password, enrol TOTP), and the home page, which for
//! those who handle requests lists the open ones by days left. The role
//! and scope checks are the capabilities': a list is what the caller's
//! scope holds.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use custode_domain::{Operation, Role, may};
use custode_server::AppState;
use custode_store::{Credential, StoreError};
use serde::Deserialize;

use crate::cookies::{self, Signed};
use crate::{Chrome, failure, page, render, see_other, status_page};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/invite/{token}", get(invitation).post(accept))
}

type FieldErrors = std::collections::BTreeMap<&'static str, String>;

/// The signed-in staff member, if any: a subject's session is not one.
pub(crate) async fn staff(state: &AppState, headers: &HeaderMap) -> Option<Signed> {
    cookies::signed(state, headers)
        .await
        .filter(|w| w.principal.role != Role::Subject)
}

/// Whether the signed-in person's role may attempt `op`, as the API asks:
/// a refusal is audited (`record_denied`) and answered by the 403 page.
/// The scope of what it touches is the capability's check.
pub(crate) async fn allowed(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    who: &Signed,
    op: Operation,
    what: &str,
) -> Result<(), Response> {
    if may(who.principal.role, op) {
        return Ok(());
    }
    if let Err(e) = state.store.record_denied(&who.principal, what).await {
        let c = Chrome::new(state, headers, uri).signed(who);
        return Err(failure(state, c, e));
    }
    Err(status_page(state, headers, uri, StatusCode::FORBIDDEN))
}

#[derive(askama::Template)]
#[template(path = "console_login.html")]
struct Login {
    c: Chrome,
    title: String,
    username: String,
    errors: FieldErrors,
}

page!(Login);

async fn login_form(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if staff(&state, &headers).await.is_some() {
        return see_other("/console");
    }
    let c = Chrome::new(&state, &headers, &uri);
    let title = c.t("login-title");
    render(
        &state,
        StatusCode::OK,
        &Login {
            c,
            title,
            username: String::new(),
            errors: FieldErrors::new(),
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<LoginForm>,
) -> Response {
    if !cookies::anonymous_ok(&headers, &f.csrf) {
        return status_page(&state, &headers, &uri, StatusCode::FORBIDDEN);
    }
    let c = Chrome::new(&state, &headers, &uri);
    let username = f.username.trim().to_owned();
    let mut errors = FieldErrors::new();
    if username.is_empty() {
        errors.insert("username", c.t("error-required"));
    }
    if f.password.is_empty() {
        errors.insert("password", c.t("error-required"));
    }
    if errors.is_empty() {
        let totp = Some(f.totp.trim()).filter(|t| !t.is_empty());
        if state.attempts.check_user(&username).is_err() {
            errors.insert("password", c.t("error-code-too-many"));
        } else {
            match state.accounts.login(&username, &f.password, totp).await {
                Ok(session) => {
                    state.attempts.clear_user(&username);
                    return crate::portal::signed_in(
                        &state,
                        &session.id,
                        &session.csrf,
                        custode_accounts::SESSION_HOURS * 3600,
                        "/console",
                    );
                }
                Err(StoreError::Unauthenticated(Credential::Login)) => {
                    state.attempts.fail_user(&username);
                    errors.insert("password", c.t("error-login"));
                }
                Err(StoreError::SecondFactorRequired) => {
                    errors.insert("totp", c.t("error-second-factor"));
                }
                Err(e) => return failure(&state, c, e),
            }
        }
    }
    let title = c.t("login-title");
    render(
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        &Login {
            c,
            title,
            username,
            errors,
        },
    )
}

#[derive(Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<TokenOnly>,
) -> Response {
    crate::portal::end_session(&state, &headers, &uri, &f.csrf).await
}

/// An open request on the board.
struct Open {
    id: String,
    rights: String,
    due: String,
    days_left: i64,
    identity: String,
}

#[derive(askama::Template)]
#[template(path = "console_home.html")]
struct Home {
    c: Chrome,
    title: String,
    role: String,
    handles: bool,
    open: Vec<Open>,
}

page!(Home);

async fn home(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let Some(who) = staff(&state, &headers).await else {
        return see_other("/console/login");
    };
    let c = Chrome::new(&state, &headers, &uri).signed(&who);
    let handles = may(who.principal.role, Operation::HandleRequests);
    let mut open = Vec::new();
    if handles {
        // Nearest deadline first, late ones at the top: the capability's order.
        match state.requests.requests(&who.principal, true).await {
            Ok(all) => {
                open = all
                    .into_iter()
                    .map(|r| Open {
                        rights: r
                            .rights
                            .iter()
                            .map(|x| c.t(&format!("right-{}", x.name())))
                            .collect::<Vec<_>>()
                            .join(", "),
                        due: c.t.day(r.due),
                        days_left: r.days_left,
                        identity: c.t(&format!("identity-{}", r.identity)),
                        id: r.id,
                    })
                    .collect();
            }
            Err(e) => return failure(&state, c, e),
        }
    }
    let title = c.t("console-title");
    let role = c.t(&format!("role-{}", who.principal.role.name()));
    render(
        &state,
        StatusCode::OK,
        &Home {
            c,
            title,
            role,
            handles,
            open,
        },
    )
}

#[derive(askama::Template)]
#[template(path = "invite.html")]
struct Invite {
    c: Chrome,
    title: String,
    email: String,
    role: String,
    second_factor: bool,
    secret: String,
    uri: String,
    errors: FieldErrors,
    done: bool,
}

page!(Invite);

async fn invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(token): Path<String>,
) -> Response {
    let c = Chrome::new(&state, &headers, &uri);
    let info = match state.accounts.invitation(&token).await {
        Ok(i) => i,
        Err(StoreError::Unauthenticated(_)) => {
            return status_page(&state, &headers, &uri, StatusCode::NOT_FOUND);
        }
        Err(e) => return failure(&state, c, e),
    };
    // The enrolment starts when the page is shown: the secret is the
    // invitee's alone, and a reload replaces it.
    let (secret, otp_uri) = if info.second_factor_required {
        match state.accounts.invitation_totp(&token).await {
            Ok(s) => s,
            Err(e) => return failure(&state, c, e),
        }
    } else {
        (String::new(), String::new())
    };
    let title = c.t("invite-title");
    let role = c.t(&format!("role-{}", info.role.name()));
    render(
        &state,
        StatusCode::OK,
        &Invite {
            c,
            title,
            email: info.email,
            role,
            second_factor: info.second_factor_required,
            secret,
            uri: otp_uri,
            errors: FieldErrors::new(),
            done: false,
        },
    )
}

#[derive(Deserialize)]
struct AcceptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    uri: String,
}

async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(token): Path<String>,
    Form(f): Form<AcceptForm>,
) -> Response {
    if !cookies::anonymous_ok(&headers, &f.csrf) {
        return status_page(&state, &headers, &uri, StatusCode::FORBIDDEN);
    }
    let c = Chrome::new(&state, &headers, &uri);
    let info = match state.accounts.invitation(&token).await {
        Ok(i) => i,
        Err(StoreError::Unauthenticated(_)) => {
            return status_page(&state, &headers, &uri, StatusCode::NOT_FOUND);
        }
        Err(e) => return failure(&state, c, e),
    };
    let mut errors = FieldErrors::new();
    if f.password.chars().count() < 12 {
        errors.insert("password", c.t("error-password-short"));
    } else if f.password != f.confirm {
        errors.insert("confirm", c.t("error-password-mismatch"));
    }
    let totp = Some(f.totp.trim()).filter(|t| !t.is_empty());
    if info.second_factor_required && totp.is_none() {
        errors.insert("totp", c.t("error-required"));
    }
    let mut done = false;
    if errors.is_empty() {
        match state
            .accounts
            .accept_invitation(&token, &f.password, totp)
            .await
        {
            Ok(_) => done = true,
            Err(StoreError::Invalid(_)) => {
                errors.insert("password", c.t("error-password-short"));
            }
            Err(StoreError::Unauthenticated(_)) => {
                errors.insert("totp", c.t("error-code-wrong"));
            }
            Err(e) => return failure(&state, c, e),
        }
    }
    let title = c.t("invite-title");
    let role = c.t(&format!("role-{}", info.role.name()));
    render(
        &state,
        if done {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        &Invite {
            c,
            title,
            email: info.email,
            role,
            second_factor: info.second_factor_required && !done,
            secret: f.secret,
            uri: f.uri,
            errors,
            done,
        },
    )
}
