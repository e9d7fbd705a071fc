//! The pages' cookies and the anti-CSRF check of every form.
//!
//! Three cookies, all HttpOnly, `Secure` when the public URL is https:
//! the session (`custode_session`, the accounts crate's, SameSite=Strict),
//! the form token (`custode_csrf`, SameSite=Strict) and the language
//! (`lang`, SameSite=Lax). A page puts the form token in a hidden field of
//! each form; a POST is refused unless the field is right. Signed in, the
//! form token is the session's own anti-CSRF token, checked by the accounts
//! crate against its hash; before sign-in it is a random value the form must
//! repeat (a third-party page can read neither the cookie nor our page).

use axum::http::HeaderMap;
use custode_domain::Principal;
use custode_server::AppState;

/// The form token's cookie.
pub const CSRF_COOKIE: &str = "custode_csrf";

/// A cookie's value from the request.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly always, Secure over https.
pub fn set(state: &AppState, name: &str, value: &str, same_site: &str, max_age: i64) -> String {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}")
}

/// A `Set-Cookie` that removes a cookie.
pub fn clear(state: &AppState, name: &str) -> String {
    set(state, name, "", "Strict", 0)
}

/// Someone signed in through the browser.
pub struct Signed {
    /// Who.
    pub principal: Principal,
    /// The session id (for logout).
    pub session: String,
    /// The form token to put in forms.
    pub csrf: String,
}

/// The live session of the request, if any (a GET: no token checked).
pub async fn signed(state: &AppState, headers: &HeaderMap) -> Option<Signed> {
    let session = get(headers, custode_server::SESSION_COOKIE)?;
    let principal = state
        .accounts
        .authenticate_session(&session, None)
        .await
        .ok()?;
    Some(Signed {
        principal,
        session,
        csrf: get(headers, CSRF_COOKIE).unwrap_or_default(),
    })
}

/// The session of a form's POST, its token checked by the accounts crate;
/// `None` when there is no live session or the token is wrong or missing.
pub async fn signed_post(state: &AppState, headers: &HeaderMap, form_csrf: &str) -> Option<Signed> {
    let session = get(headers, custode_server::SESSION_COOKIE)?;
    if form_csrf.is_empty() {
        return None;
    }
    let principal = state
        .accounts
        .authenticate_session(&session, Some(form_csrf))
        .await
        .ok()?;
    Some(Signed {
        principal,
        session,
        csrf: form_csrf.to_owned(),
    })
}

/// The form token of a visitor not signed in: the cookie's, or a new one
/// (with the cookie to set).
pub fn anonymous_token(headers: &HeaderMap) -> (String, bool) {
    match get(headers, CSRF_COOKIE) {
        Some(t) if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) => (t, false),
        _ => (
            custode_crypto::random_bytes::<32>()
                .map(hex::encode)
                .unwrap_or_default(),
            true,
        ),
    }
}

/// Whether an anonymous form repeats its cookie's token (compared in
/// constant time).
pub fn anonymous_ok(headers: &HeaderMap, form_csrf: &str) -> bool {
    match get(headers, CSRF_COOKIE) {
        Some(cookie) if !cookie.is_empty() => {
            custode_crypto::constant_time_eq(cookie.as_bytes(), form_csrf.as_bytes())
        }
        _ => false,
    }
}
