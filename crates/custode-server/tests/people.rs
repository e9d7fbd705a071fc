//! People over HTTP: the administrator invites by e-mail (the link goes by
//! mail, never back to the administrator for a role that reads personal
//! data), the invitee enrols TOTP and sets a password, logs in and works;
//! disabling, revoking tokens and ending sessions stop credentials at once;
//! bad input is a 4xx that changes nothing; and a subject opens its portal
//! with a code mailed to an address it is known by.

mod common;

use custode_server::Custode;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::SmtpPeer;
use custode_domain::{NewRecord, Principal, Role, Scope, SubjectId, TenantKind};
use custode_server::{AppState, router};

use custode_accounts::Grant;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const POLICY: &str = include_str!("../../../policies/email-hosting.toml");
const PASSWORD: &str = "correct horse battery staple";

struct World {
    custode: Custode,
    dir: std::path::PathBuf,
    domain_a: custode_store::Tenant,
    domain_b: custode_store::Tenant,
    reseller: custode_store::Tenant,
    a_subject: SubjectId,
    b_subject: SubjectId,
    admin: String,
    domain_admin: String,
}

impl World {
    fn app(&self, smtp: Option<&SmtpPeer>) -> Router {
        let mut state = AppState::new(self.custode.clone(), Arc::new(custode_domain::SystemClock))
            .with_public_url("https://privacy.example");
        if let Some(peer) = smtp {
            state = state.with_mailer(
                custode_server::mail::Mailer::new(
                    &format!("smtp://127.0.0.1:{}", peer.port),
                    "privacy@posta.example",
                    Default::default(),
                )
                .expect("mailer"),
            );
        }
        router(state)
    }
}

fn contact(email: &str) -> NewRecord {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("email".to_owned(), Value::from(email));
    NewRecord {
        category: "contact".into(),
        fields,
        source: "signup-form".into(),
        purposes: vec![],
        collected_at: None,
    }
}

async fn world() -> World {
    let dir = std::env::temp_dir().join(format!("custode-people-{}", SubjectId::generate()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = custode_store::StoreConfig {
        database_url: format!("sqlite://{}/c.db", dir.display()),
        keystore_url: format!("sqlite://{}/k.db", dir.display()),
        master_key: custode_store::MasterKeySource::Given(
            custode_crypto::Key::generate().expect("key"),
        ),
        mode: custode_store::OpenMode::CreateIfMissing,
        vault_url: format!("sqlite://{}/v.db", dir.display()),
        vault_key: custode_store::MasterKeySource::Given(
            custode_crypto::Key::generate().expect("key"),
        ),
    };
    let policy = Arc::new(custode_policy::load("p.toml", POLICY).expect("policy"));
    let custode = Custode::open(&config, policy, Arc::new(custode_domain::SystemClock))
        .await
        .expect("store");
    let sys = Principal::system("test");
    let provider = custode
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("p");
    let reseller = custode
        .store
        .create_tenant(&sys, Some(&provider.id), TenantKind::Reseller, "r")
        .await
        .expect("r");
    let domain_a = custode
        .store
        .create_tenant(&sys, Some(&reseller.id), TenantKind::Domain, "a")
        .await
        .expect("a");
    let domain_b = custode
        .store
        .create_tenant(&sys, Some(&reseller.id), TenantKind::Domain, "b")
        .await
        .expect("b");
    let mut subjects = Vec::new();
    for (t, email) in [(&domain_a, "mia@a.example"), (&domain_b, "bo@b.example")] {
        let s = custode
            .store
            .create_subject(&sys, &t.id, "mailbox_user", "t")
            .await
            .expect("s");
        custode
            .store
            .write_records(&sys, "signup", vec![(s.clone(), contact(email))])
            .await
            .expect("write");
        subjects.push(s);
    }
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let token = |role, path: &str| {
        let custode = custode.clone();
        let root = root.clone();
        let grant = Grant {
            role,
            scope_path: path.to_owned(),
            subject: None,
        };
        async move {
            custode
                .accounts
                .issue_held_token(&root, "test", "the test", &grant, None)
                .await
                .expect("token")
                .token
        }
    };
    let admin = token(Role::Administrator, "/").await;
    let domain_admin = token(Role::DomainAdmin, &domain_a.path).await;
    World {
        custode,
        dir,
        a_subject: subjects[0].clone(),
        b_subject: subjects[1].clone(),
        domain_a,
        domain_b,
        reseller,
        admin,
        domain_admin,
    }
}

/// Sends a request with a bearer token or a session (cookie, CSRF).
async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Auth<'_>,
    body: Option<String>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    match auth {
        Auth::None => {}
        Auth::Token(t) => req = req.header("authorization", format!("Bearer {t}")),
        Auth::Session(cookie, csrf) => {
            req = req.header("cookie", cookie).header("x-csrf-token", csrf)
        }
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = app.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Token(&'a str),
    Session(&'a str, &'a str),
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The session cookie pair and the CSRF token of a login answer.
fn session_of(headers: &axum::http::HeaderMap, body: &str) -> (String, String) {
    let cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let csrf = json(body)["csrf_token"].as_str().expect("csrf").to_owned();
    (pair, csrf)
}

fn now_secs() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).expect("after 1970")
}

/// Waits for the peer to hold `n` messages.
fn mails(peer: &SmtpPeer, n: usize) -> Vec<(String, String, String)> {
    for _ in 0..100 {
        let m = peer.messages();
        if m.len() >= n {
            return m;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("fewer than {n} mails arrived");
}

fn token_in_link(text: &str) -> String {
    let at = text.find("/invitation#").expect("a link") + "/invitation#".len();
    text[at..]
        .split_whitespace()
        .next()
        .expect("token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_dpo_gets_the_link_by_mail_enrols_logs_in_works_and_is_stopped() {
    let w = world().await;
    let smtp = SmtpPeer::start(&w.dir);
    let app = w.app(Some(&smtp));
    let admin = Auth::Token(&w.admin);
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/users",
        admin,
        Some(r#"{"email":"Dora@Example.org","role":"dpo"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let invited = json(&body);
    assert_eq!(invited["email"], "dora@example.org");
    assert_eq!(invited["mailed"], true);
    assert!(
        invited["link"].is_null(),
        "a DPO's link never reaches the administrator: {body}"
    );
    let user = invited["id"].as_str().expect("id").to_owned();
    let mail = mails(&smtp, 1);
    assert_eq!(mail[0].0, "dora@example.org");
    assert!(
        mail[0]
            .2
            .contains("https://privacy.example/invitation#inv_"),
        "{}",
        mail[0].2
    );
    let token = token_in_link(&mail[0].2);
    let with_token = |extra: &str| format!(r#"{{"token":"{token}"{extra}}}"#);

    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/invitations/show",
        Auth::None,
        Some(with_token("")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["role"], "dpo");
    assert_eq!(json(&body)["second_factor_required"], true);
    // No finishing without the second factor.
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/invitations/accept",
        Auth::None,
        Some(with_token(&format!(r#","password":"{PASSWORD}""#))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("second factor"), "{body}");
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/invitations/totp",
        Auth::None,
        Some(with_token("")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret =
        custode_crypto::totp::secret_from_base32(json(&body)["secret"].as_str().expect("secret"))
            .expect("160 bits");
    let now = now_secs();
    let first = custode_crypto::totp::code_at(&secret, now - 30);
    let accept = with_token(&format!(r#","password":"{PASSWORD}","totp":"{first}""#));
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/invitations/accept",
        Auth::None,
        Some(accept.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(json(&body)["username"], "dora@example.org");
    // The link works once.
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/invitations/accept",
        Auth::None,
        Some(accept),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("already used"), "{body}");

    // Logs in with the code, and works: reviews credentials, reads records.
    let code = custode_crypto::totp::code_at(&secret, now);
    let (status, headers, body) = call(
        &app,
        Method::POST,
        "/api/v1/login",
        Auth::None,
        Some(format!(
            r#"{{"username":"dora@example.org","password":"{PASSWORD}","totp":"{code}"}}"#
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (cookie, csrf) = session_of(&headers, &body);
    let dora = Auth::Session(&cookie, &csrf);
    let (status, _, body) = call(&app, Method::GET, "/api/v1/tokens", dora, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = call(
        &app,
        Method::GET,
        &format!("/api/v1/subjects/{}/records?reason=complaint", w.a_subject),
        dora,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _, body) = call(&app, Method::GET, "/api/v1/users", admin, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let people = json(&body);
    let row = people
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["id"] == user.as_str())
        .expect("listed");
    assert_eq!(row["state"], "active");
    assert_eq!(row["second_factor"], true);

    // Disabled: the session stops at once.
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/users/{user}/disable"),
        admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, _) = call(&app, Method::GET, "/api/v1/tokens", dora, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/users/{user}/disable"),
        admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/users/{user}/enable"),
        admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, _) = call(&app, Method::GET, "/api/v1/tokens", dora, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old session stays ended"
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_invitations_get_a_clear_4xx_and_change_nothing() {
    let w = world().await;
    let app = w.app(None);
    let admin = Auth::Token(&w.admin);
    let domain_admin = Auth::Token(&w.domain_admin);
    let b = w.domain_b.id.to_string();
    let r = w.reseller.id.to_string();
    let cases: Vec<(&str, Auth, String, u16, &str)> = vec![
        (
            "invalid address",
            admin,
            r#"{"email":"not-an-address","role":"support_agent"}"#.into(),
            422,
            "`email`",
        ),
        (
            "unknown role",
            admin,
            r#"{"email":"x@example.org","role":"king"}"#.into(),
            422,
            "unknown role `king`",
        ),
        (
            "subject role",
            admin,
            r#"{"email":"x@example.org","role":"subject"}"#.into(),
            422,
            "`role`",
        ),
        (
            "role above the inviter's",
            domain_admin,
            r#"{"email":"x@example.org","role":"dpo"}"#.into(),
            403,
            "above its own",
        ),
        (
            "tenant outside scope",
            domain_admin,
            format!(r#"{{"email":"x@example.org","role":"domain_admin","tenant":"{b}"}}"#),
            404,
            "not found",
        ),
        (
            "tenant above scope",
            domain_admin,
            format!(r#"{{"email":"x@example.org","role":"domain_admin","tenant":"{r}"}}"#),
            404,
            "not found",
        ),
        (
            "malformed tenant",
            admin,
            r#"{"email":"x@example.org","role":"dpo","tenant":"zz"}"#.into(),
            400,
            "`tenant`",
        ),
        (
            "unknown field",
            admin,
            r#"{"email":"x@example.org","role":"dpo","password":"x"}"#.into(),
            422,
            "unknown field",
        ),
        (
            "a DPO link with no relay",
            admin,
            r#"{"email":"x@example.org","role":"dpo"}"#.into(),
            409,
            "no mail relay",
        ),
    ];
    for (what, auth, body, want, says) in cases {
        let (status, headers, text) =
            call(&app, Method::POST, "/api/v1/users", auth, Some(body)).await;
        assert_eq!(status.as_u16(), want, "{what}: {text}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{what}"
        );
        assert!(text.contains(says), "{what}: {text}");
    }
    let (_, _, body) = call(&app, Method::GET, "/api/v1/users", admin, None).await;
    assert_eq!(json(&body), Value::Array(vec![]), "nobody was made");
    // A subject's or a DPO's token does not invite at all.
    let (status, _, _) = call(&app, Method::GET, "/api/v1/users", Auth::None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The administrator role reads no personal data: its link may come
    // back to the inviter (there is no relay here).
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/users",
        admin,
        Some(r#"{"email":"ops@example.org","role":"administrator"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let link = json(&body)["link"].as_str().expect("a link").to_owned();
    assert!(
        link.starts_with("https://privacy.example/invitation#inv_"),
        "{link}"
    );
    // ... and so that account never becomes one that reads personal data.
    let ops = json(&body)["id"].as_str().expect("id").to_owned();
    let (status, _, body) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{ops}"),
        admin,
        Some(r#"{"role":"dpo"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The domain admin invites below itself, within its domain (the link
    // of a role that reads personal data goes by mail).
    let smtp = SmtpPeer::start(&w.dir);
    let app = w.app(Some(&smtp));
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/users",
        domain_admin,
        Some(r#"{"email":"helper@a.example","role":"domain_admin"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(json(&body)["tenant"], w.domain_a.id.to_string());
    let helper = json(&body)["id"].as_str().expect("id").to_owned();
    // Changing a role above one's own is refused too, and changes nothing.
    let (status, _, body) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{helper}"),
        domain_admin,
        Some(r#"{"role":"administrator"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, _, body) = call(&app, Method::GET, "/api/v1/users", domain_admin, None).await;
    let listed = json(&body);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(listed[0]["role"], "domain_admin");
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_sessions_are_revoked_over_the_api() {
    let w = world().await;
    let app = w.app(None);
    let admin = Auth::Token(&w.admin);
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/tokens",
        admin,
        Some(r#"{"name":"ci","role":"administrator","days":7}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let issued = json(&body);
    let (id, token) = (
        issued["id"].as_str().expect("id").to_owned(),
        issued["token"].as_str().expect("token").to_owned(),
    );
    let (status, _, _) = call(
        &app,
        Method::GET,
        "/api/v1/users",
        Auth::Token(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the token works (and is cached)");
    // Outside the domain admin's scope: not found, and still valid.
    let (status, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        Auth::Token(&w.domain_admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, _) = call(
        &app,
        Method::GET,
        "/api/v1/users",
        Auth::Token(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once");
    let (status, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked already");

    // A person's sessions, ended by the administrator.
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let inv = w
        .custode
        .accounts
        .invite_person(
            &root,
            "sam@a.example",
            Role::SupportAgent,
            Some(&w.domain_a.id),
        )
        .await
        .expect("invite");
    w.custode
        .accounts
        .accept_invitation(&inv.token, PASSWORD, None)
        .await
        .expect("accept");
    let (status, headers, body) = call(
        &app,
        Method::POST,
        "/api/v1/login",
        Auth::None,
        Some(format!(
            r#"{{"username":"sam@a.example","password":"{PASSWORD}"}}"#
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (cookie, csrf) = session_of(&headers, &body);
    let sam = Auth::Session(&cookie, &csrf);
    let records = format!("/api/v1/subjects/{}/records?reason=ticket", w.a_subject);
    assert_eq!(
        call(&app, Method::GET, &records, sam, None).await.0,
        StatusCode::OK
    );
    let (status, _, body) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/users/{}/sessions", inv.user_id),
        admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["ended"], 1);
    assert_eq!(
        call(&app, Method::GET, &records, sam, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_opens_its_portal_with_a_code_mailed_to_a_known_address() {
    let w = world().await;
    let smtp = SmtpPeer::start(&w.dir);
    let app = w.app(Some(&smtp));
    // Known and unknown addresses get the same answer; only one mail goes.
    for email in ["nobody@a.example", "Mia@A.example"] {
        let (status, _, body) = call(
            &app,
            Method::POST,
            "/api/v1/portal/code",
            Auth::None,
            Some(format!(r#"{{"email":"{email}"}}"#)),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let mail = mails(&smtp, 1);
    assert_eq!(mail.len(), 1, "no mail to an unknown address");
    assert_eq!(mail[0].0, "Mia@A.example");
    let code: String = mail[0]
        .2
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a code")
        .to_owned();
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/portal/login",
        Auth::None,
        Some(r#"{"email":"mia@a.example","code":"12345x"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, headers, body) = call(
        &app,
        Method::POST,
        "/api/v1/portal/login",
        Auth::None,
        Some(format!(r#"{{"email":"mia@a.example","code":"{code}"}}"#)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["role"], "subject");
    let (cookie, csrf) = session_of(&headers, &body);
    let mia = Auth::Session(&cookie, &csrf);
    let (status, _, body) = call(
        &app,
        Method::GET,
        &format!("/api/v1/subjects/{}/records?reason=mine", w.a_subject),
        mia,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("mia@a.example"), "{body}");
    let (status, _, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/subjects/{}/records?reason=theirs", w.b_subject),
        mia,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another subject is not found"
    );
    let (status, _, _) = call(&app, Method::GET, "/api/v1/users", mia, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Logout ends the portal session.
    let (status, _, _) = call(&app, Method::POST, "/api/v1/logout", mia, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/subjects/{}/records?reason=mine", w.a_subject),
        mia,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[test]
fn the_openapi_document_lists_the_people_routes() {
    let doc = serde_json::to_value(custode_server::openapi()).expect("serialises");
    let paths = doc["paths"].as_object().expect("paths");
    for (p, method) in [
        ("/api/v1/users", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/users/{id}/disable", "post"),
        ("/api/v1/users/{id}/enable", "post"),
        ("/api/v1/users/{id}/reinvite", "post"),
        ("/api/v1/users/{id}/second-factor", "delete"),
        ("/api/v1/users/{id}/sessions", "delete"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/invitations/show", "post"),
        ("/api/v1/invitations/totp", "post"),
        ("/api/v1/invitations/accept", "post"),
        ("/api/v1/portal/code", "post"),
        ("/api/v1/portal/login", "post"),
    ] {
        assert!(
            paths.get(p).and_then(|m| m.get(method)).is_some(),
            "{method} {p} missing from /openapi.json"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_administrators_of_a_node_manage_people_and_refusals_are_audited() {
    let w = world().await;
    let app = w.app(None);
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    for (role, path, subject, want) in [
        (Role::Administrator, "/".to_owned(), None, 200),
        (Role::ResellerAdmin, w.reseller.path.clone(), None, 200),
        (Role::DomainAdmin, w.domain_a.path.clone(), None, 200),
        (Role::Dpo, "/".to_owned(), None, 403),
        (Role::SupportAgent, "/".to_owned(), None, 403),
        (Role::LegalOfficer, "/".to_owned(), None, 403),
        (Role::System, "/".to_owned(), None, 403),
        (
            Role::Subject,
            w.domain_a.path.clone(),
            Some(w.a_subject.clone()),
            403,
        ),
    ] {
        let token = w
            .custode
            .accounts
            .issue_held_token(
                &root,
                "matrix",
                "the test",
                &Grant {
                    role,
                    scope_path: path,
                    subject,
                },
                None,
            )
            .await
            .expect("token")
            .token;
        for (method, uri, body) in [
            (Method::GET, "/api/v1/users".to_owned(), None),
            (
                Method::POST,
                "/api/v1/users/u_000000000000000000000000/disable".to_owned(),
                None,
            ),
            (
                Method::DELETE,
                "/api/v1/tokens/000000000000000000000000".to_owned(),
                None,
            ),
            (
                Method::PATCH,
                "/api/v1/users/u_000000000000000000000000".to_owned(),
                Some(r#"{"role":"domain_admin"}"#.to_owned()),
            ),
        ] {
            let (status, _, text) =
                call(&app, method.clone(), &uri, Auth::Token(&token), body).await;
            // Allowed roles reach the custode, which finds nobody: 404.
            let expected = if want == 200 && method != Method::GET {
                404
            } else {
                want
            };
            assert_eq!(
                status.as_u16(),
                expected,
                "{} {method} {uri}: {text}",
                role.name()
            );
        }
    }
    let denied: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
        .fetch_one(w.custode.store.pool())
        .await
        .and_then(|r| sqlx::Row::try_get(&r, 0))
        .expect("count");
    assert!(denied >= 20, "each refusal audited: {denied}");
    let _ = std::fs::remove_dir_all(&w.dir);
}
