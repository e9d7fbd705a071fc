//! Passkeys over HTTP, on SQLite and PostgreSQL, with a software
//! authenticator: an invited DPO enrols TOTP and a passkey, logs in with
//! the passkey alone and works; a legal officer enrolled with only a
//! passkey queries the vault with a fresh assertion; a replayed challenge,
//! another origin, a cloned authenticator, a tampered signature, an
//! unknown credential, an expired challenge and garbage CBOR are refused
//! with a 4xx saying what, nothing stored; a disabled person's passkey
//! stops at once; a subject registers a passkey from its portal and opens
//! the portal with it, scoped to itself alone.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use custode_domain::{Clock, Principal, Role, SubjectId};
use custode_server::{AppState, Custode, router};
use custode_store::Engine;
use custode_testkit::authenticator::Authenticator;
use custode_testkit::{Env, Tree};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::Row;
use tower::ServiceExt;

const ORIGIN: &str = "https://privacy.example";
const PASSWORD: &str = "correct horse battery staple";

struct World {
    env: Env,
    custode: Custode,
    app: Router,
    tree: Tree,
}

async fn world(engine: Engine) -> World {
    let env = Env::new(engine).await;
    let custode = env.open().await;
    let tree = custode_testkit::tree(&custode).await;
    let clock: Arc<dyn Clock> = env.clock.clone();
    let app = router(AppState::new(custode.clone(), clock).with_public_url(ORIGIN));
    World {
        env,
        custode,
        app,
        tree,
    }
}

#[derive(Clone)]
struct Reply {
    status: StatusCode,
    cookie: Option<String>,
    body: Value,
    text: String,
}

/// A session: the cookie and the anti-CSRF token.
#[derive(Clone)]
struct Sess(String, String);

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Option<&Sess>,
    body: Option<Value>,
) -> Reply {
    call_token(app, method, uri, auth, None, body).await
}

async fn call_token(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Option<&Sess>,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(Sess(cookie, csrf)) = auth {
        req = req.header("cookie", cookie).header("x-csrf-token", csrf);
    }
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Reply {
        status,
        cookie,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn session(r: &Reply) -> Sess {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    Sess(
        r.cookie.clone().expect("a session cookie"),
        r.body["csrf_token"].as_str().unwrap().to_owned(),
    )
}

async fn invite(w: &World, email: &str, role: Role) -> (String, String) {
    let inv = w
        .custode
        .accounts
        .invite_person(
            &custode_testkit::admin(),
            email,
            role,
            Some(&w.tree.domain_a.id),
        )
        .await
        .unwrap();
    (inv.user_id, inv.token)
}

/// Registers a passkey through the invitation.
async fn enrol_passkey(w: &World, token: &str, auth: &mut Authenticator) {
    let start = call(
        &w.app,
        Method::POST,
        "/api/v1/invitations/passkey/start",
        None,
        Some(json!({ "token": token })),
    )
    .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    assert_eq!(start.body["publicKey"]["rp"]["id"], "privacy.example");
    assert_eq!(start.body["publicKey"]["pubKeyCredParams"][0]["alg"], -7);
    let credential = auth.register(&start.body);
    let done = call(
        &w.app,
        Method::POST,
        "/api/v1/invitations/passkey/finish",
        None,
        Some(json!({ "token": token, "challenge_id": start.body["challenge_id"], "name": "work laptop", "credential": credential })),
    )
    .await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
}

async fn passkey_login(w: &World, auth: &mut Authenticator) -> Reply {
    let start = call(
        &w.app,
        Method::POST,
        "/api/v1/passkeys/login/start",
        None,
        None,
    )
    .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let credential = auth.assert(&start.body);
    call(
        &w.app,
        Method::POST,
        "/api/v1/passkeys/login/finish",
        None,
        Some(json!({ "challenge_id": start.body["challenge_id"], "credential": credential })),
    )
    .await
}

async fn audited(w: &World, needle: &str) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) FROM audit_log WHERE body LIKE $1")
        .bind(format!("%{needle}%"))
        .fetch_one(w.custode.store.reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn passkeys_stored(w: &World) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) FROM passkeys")
        .fetch_one(w.custode.store.reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn on_both<F, Fut>(f: F)
where
    F: Fn(World) -> Fut,
    Fut: std::future::Future<Output = Env>,
{
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let env = f(world(engine).await).await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn an_invited_dpo_enrols_totp_and_a_passkey_logs_in_with_the_passkey_and_works() {
    on_both(|w| async move {
        let (user, token) = invite(&w, "dpo@provider.example", Role::Dpo).await;
        let totp = call(&w.app, Method::POST, "/api/v1/invitations/totp", None, Some(json!({ "token": token }))).await;
        assert_eq!(totp.status, StatusCode::CREATED, "{}", totp.text);
        let mut auth = Authenticator::new(ORIGIN);
        enrol_passkey(&w, &token, &mut auth).await;
        let (secret, _) = w.custode.store.keys().totp(&user).await.unwrap().unwrap();
        let code = custode_crypto::totp::code_at(&secret, w.env.clock.now().as_second() as u64);
        let accepted = call(
            &w.app,
            Method::POST,
            "/api/v1/invitations/accept",
            None,
            Some(json!({ "token": token, "password": PASSWORD, "totp": code })),
        )
        .await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);

        let login = passkey_login(&w, &mut auth).await;
        assert_eq!(login.body["role"], "dpo", "{}", login.text);
        let dpo = session(&login);
        let requests = call(&w.app, Method::GET, "/api/v1/requests", Some(&dpo), None).await;
        assert_eq!(requests.status, StatusCode::OK, "{}", requests.text);
        let mine = call(&w.app, Method::GET, "/api/v1/passkeys", Some(&dpo), None).await;
        assert_eq!(mine.status, StatusCode::OK);
        let list = mine.body.as_array().unwrap();
        assert_eq!(list.len(), 1, "{}", mine.text);
        assert_eq!(list[0]["name"], "work laptop");
        assert_eq!(list[0]["format"], "none");
        assert!(list[0]["last_used_at"].is_string(), "{}", mine.text);
        // Registered and used on the record; the login too.
        assert_eq!(audited(&w, "passkey_added").await, 1);
        assert!(audited(&w, &format!("\"passkey\":\"{}\"", list[0]["id"].as_str().unwrap())).await >= 2);

        // A second passkey from the session, then the first removed.
        let start = call(&w.app, Method::POST, "/api/v1/passkeys/register/start", Some(&dpo), None).await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text);
        assert_eq!(start.body["publicKey"]["excludeCredentials"].as_array().unwrap().len(), 1);
        let mut phone = Authenticator::new(ORIGIN);
        let credential = phone.register(&start.body);
        let added = call(
            &w.app,
            Method::POST,
            "/api/v1/passkeys/register/finish",
            Some(&dpo),
            Some(json!({ "challenge_id": start.body["challenge_id"], "name": "phone", "credential": credential })),
        )
        .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        let first = list[0]["id"].as_str().unwrap();
        let removed = call(&w.app, Method::DELETE, &format!("/api/v1/passkeys/{first}"), Some(&dpo), None).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
        assert_eq!(audited(&w, "passkey_removed").await, 1);
        let refused = passkey_login(&w, &mut auth).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
        session(&passkey_login(&w, &mut phone).await);
        w.env
    })
    .await;
}

#[tokio::test]
async fn a_legal_officer_with_only_a_passkey_queries_the_vault_with_a_fresh_assertion() {
    on_both(|w| async move {
        let (_, token) = invite(&w, "legal@provider.example", Role::LegalOfficer).await;
        let mut auth = Authenticator::new(ORIGIN);
        enrol_passkey(&w, &token, &mut auth).await;
        let accepted = call(
            &w.app,
            Method::POST,
            "/api/v1/invitations/accept",
            None,
            Some(json!({ "token": token, "password": PASSWORD })),
        )
        .await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);
        // The password alone does not log in a role that needs a second factor.
        let password = call(
            &w.app,
            Method::POST,
            "/api/v1/login",
            None,
            Some(json!({ "username": "legal@provider.example", "password": PASSWORD })),
        )
        .await;
        assert_eq!(password.status, StatusCode::FORBIDDEN, "{}", password.text);
        assert!(password.text.contains("passkey"), "{}", password.text);

        let officer = session(&passkey_login(&w, &mut auth).await);
        let subject = w
            .custode
            .store
            .create_subject(&custode_testkit::admin(), &w.tree.domain_a.id, "mailbox_user", "t")
            .await
            .unwrap();
        let order = json!({ "authority": "Tribunale di Milano", "number": "RG 1/2026", "date": "2026-01-01", "scope": "mailbox" });
        let without = call(
            &w.app,
            Method::POST,
            "/api/v1/vault/query",
            Some(&officer),
            Some(json!({ "order": order, "subject": subject.to_string() })),
        )
        .await;
        assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", without.text);

        let start = call(&w.app, Method::POST, "/api/v1/vault/passkey-challenge", Some(&officer), None).await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text);
        assert_eq!(start.body["publicKey"]["allowCredentials"].as_array().unwrap().len(), 1);
        let query = json!({
            "order": order,
            "subject": subject.to_string(),
            "passkey": { "challenge_id": start.body["challenge_id"], "credential": auth.assert(&start.body) },
        });
        let answered = call(&w.app, Method::POST, "/api/v1/vault/query", Some(&officer), Some(query.clone())).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text);
        // The same assertion again: its challenge is spent.
        let replayed = call(&w.app, Method::POST, "/api/v1/vault/query", Some(&officer), Some(query)).await;
        assert_eq!(replayed.status, StatusCode::FORBIDDEN, "{}", replayed.text);
        assert!(replayed.text.contains("used already"), "{}", replayed.text);
        // A login challenge is not a vault query's.
        let login = call(&w.app, Method::POST, "/api/v1/passkeys/login/start", None, None).await;
        let wrong = call(
            &w.app,
            Method::POST,
            "/api/v1/vault/query",
            Some(&officer),
            Some(json!({
                "order": order,
                "subject": subject.to_string(),
                "passkey": { "challenge_id": login.body["challenge_id"], "credential": auth.assert(&login.body) },
            })),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.text);
        assert!(wrong.text.contains("another ceremony"), "{}", wrong.text);
        // A challenge older than five minutes.
        let start = call(&w.app, Method::POST, "/api/v1/vault/passkey-challenge", Some(&officer), None).await;
        w.env.clock.advance(jiff::SignedDuration::from_mins(6));
        let late = call(
            &w.app,
            Method::POST,
            "/api/v1/vault/query",
            Some(&officer),
            Some(json!({
                "order": order,
                "subject": subject.to_string(),
                "passkey": { "challenge_id": start.body["challenge_id"], "credential": auth.assert(&start.body) },
            })),
        )
        .await;
        assert_eq!(late.status, StatusCode::FORBIDDEN, "{}", late.text);
        assert!(late.text.contains("expired"), "{}", late.text);
        w.env
    })
    .await;
}

#[tokio::test]
async fn replays_other_origins_clones_tampering_and_garbage_are_refused_and_store_nothing() {
    on_both(|w| async move {
        let (_, token) = invite(&w, "dpo@provider.example", Role::Dpo).await;
        let mut auth = Authenticator::new(ORIGIN);
        enrol_passkey(&w, &token, &mut auth).await;
        let accepted = call(&w.app, Method::POST, "/api/v1/invitations/accept", None, Some(json!({ "token": token, "password": PASSWORD }))).await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);
        let sessions_before = audited(&w, "logged_in").await;

        let refused = |r: &Reply, why: &str| {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
            assert!(r.cookie.is_none(), "no session for a refusal");
            assert!(r.text.contains(why), "`{why}` not in {}", r.text);
        };

        // A replayed challenge: the same assertion twice.
        let start = call(&w.app, Method::POST, "/api/v1/passkeys/login/start", None, None).await;
        let body = json!({ "challenge_id": start.body["challenge_id"], "credential": auth.assert(&start.body) });
        session(&call(&w.app, Method::POST, "/api/v1/passkeys/login/finish", None, Some(body.clone())).await);
        refused(&call(&w.app, Method::POST, "/api/v1/passkeys/login/finish", None, Some(body)).await, "used already");

        // Another origin.
        let mut phished = auth.clone();
        phished.origin = "https://privacy.example.evil".to_owned();
        refused(&passkey_login(&w, &mut phished).await, "is not this server's");

        // A cloned authenticator: its counter does not grow past the original's.
        let mut clone = auth.clone();
        session(&passkey_login(&w, &mut auth).await);
        refused(&passkey_login(&w, &mut clone).await, "cloned");

        // A tampered signature.
        let start = call(&w.app, Method::POST, "/api/v1/passkeys/login/start", None, None).await;
        let mut assertion = auth.assertion(&start.body);
        let last = assertion.signature.len() - 1;
        assertion.signature[last] ^= 0x01;
        refused(
            &call(&w.app, Method::POST, "/api/v1/passkeys/login/finish", None, Some(json!({ "challenge_id": start.body["challenge_id"], "credential": assertion.to_json() }))).await,
            "signature does not verify",
        );

        // A passkey never registered.
        refused(&passkey_login(&w, &mut Authenticator::new(ORIGIN)).await, "not registered here");

        // A challenge that expired.
        let start = call(&w.app, Method::POST, "/api/v1/passkeys/login/start", None, None).await;
        w.env.clock.advance(jiff::SignedDuration::from_mins(6));
        refused(
            &call(&w.app, Method::POST, "/api/v1/passkeys/login/finish", None, Some(json!({ "challenge_id": start.body["challenge_id"], "credential": auth.assert(&start.body) }))).await,
            "expired",
        );

        // Exactly the two good logins opened sessions.
        assert_eq!(audited(&w, "logged_in").await, sessions_before + 2);

        // Registration: garbage CBOR, another origin, a spent challenge; nothing stored.
        let officer = session(&passkey_login(&w, &mut auth).await);
        let stored = passkeys_stored(&w).await;
        let start = call(&w.app, Method::POST, "/api/v1/passkeys/register/start", Some(&officer), None).await;
        let mut key = Authenticator::new(ORIGIN);
        let mut credential = key.register(&start.body);
        credential["response"]["attestationObject"] = json!("v_8AAA");
        let garbage = call(&w.app, Method::POST, "/api/v1/passkeys/register/finish", Some(&officer), Some(json!({ "challenge_id": start.body["challenge_id"], "name": "x", "credential": credential }))).await;
        assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", garbage.text);
        assert!(garbage.text.contains("CBOR"), "{}", garbage.text);
        let not_b64 = call(&w.app, Method::POST, "/api/v1/passkeys/register/finish", Some(&officer), Some(json!({ "challenge_id": start.body["challenge_id"], "name": "x", "credential": { "id": "%%%", "type": "public-key", "response": { "clientDataJSON": "%%%", "attestationObject": "%%%" } } }))).await;
        assert_eq!(not_b64.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", not_b64.text);
        assert!(not_b64.text.contains("base64url"), "{}", not_b64.text);
        let mut evil = Authenticator::new("https://evil.example");
        evil.rp_id = "privacy.example".to_owned();
        let wrong_origin = call(&w.app, Method::POST, "/api/v1/passkeys/register/finish", Some(&officer), Some(json!({ "challenge_id": start.body["challenge_id"], "name": "x", "credential": evil.register(&start.body) }))).await;
        assert_eq!(wrong_origin.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong_origin.text);
        assert!(wrong_origin.text.contains("origin"), "{}", wrong_origin.text);
        let good = call(&w.app, Method::POST, "/api/v1/passkeys/register/finish", Some(&officer), Some(json!({ "challenge_id": start.body["challenge_id"], "name": "key", "credential": key.register(&start.body) }))).await;
        assert_eq!(good.status, StatusCode::CREATED, "{}", good.text);
        let again = call(&w.app, Method::POST, "/api/v1/passkeys/register/finish", Some(&officer), Some(json!({ "challenge_id": start.body["challenge_id"], "name": "key", "credential": Authenticator::new(ORIGIN).register(&start.body) }))).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", again.text);
        assert!(again.text.contains("used already"), "{}", again.text);
        assert_eq!(passkeys_stored(&w).await, stored + 1);
        w.env
    })
    .await;
}

#[tokio::test]
async fn a_disabled_persons_passkey_stops_at_once() {
    on_both(|w| async move {
        let (user, token) = invite(&w, "agent@provider.example", Role::SupportAgent).await;
        let mut auth = Authenticator::new(ORIGIN);
        enrol_passkey(&w, &token, &mut auth).await;
        call(
            &w.app,
            Method::POST,
            "/api/v1/invitations/accept",
            None,
            Some(json!({ "token": token, "password": PASSWORD })),
        )
        .await;
        let agent = session(&passkey_login(&w, &mut auth).await);
        let admin = w
            .custode
            .accounts
            .issue_held_token(
                &Principal {
                    id: "test:root".into(),
                    role: Role::Administrator,
                    scope: custode_domain::Scope::everything(),
                },
                "t",
                "the test",
                &custode_accounts::Grant {
                    role: Role::Administrator,
                    scope_path: "/".into(),
                    subject: None,
                },
                None,
            )
            .await
            .unwrap()
            .token;
        let listed = call_token(
            &w.app,
            Method::GET,
            &format!("/api/v1/users/{user}/passkeys"),
            None,
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        assert_eq!(listed.body.as_array().unwrap().len(), 1);
        let people = call_token(
            &w.app,
            Method::GET,
            "/api/v1/users",
            None,
            Some(&admin),
            None,
        )
        .await;
        let me = people
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == user.as_str())
            .cloned()
            .unwrap();
        assert_eq!(me["second_factor"], true, "a passkey is a second factor");

        let disabled = call_token(
            &w.app,
            Method::POST,
            &format!("/api/v1/users/{user}/disable"),
            None,
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(disabled.status, StatusCode::NO_CONTENT, "{}", disabled.text);
        let after = call(&w.app, Method::GET, "/api/v1/passkeys", Some(&agent), None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        let again = passkey_login(&w, &mut auth).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.text);
        assert!(again.text.contains("disabled"), "{}", again.text);
        assert!(again.cookie.is_none());
        w.env
    })
    .await;
}

#[tokio::test]
async fn a_subject_registers_a_passkey_from_its_portal_and_opens_it_with_it_alone() {
    on_both(|w| async move {
        let sys = custode_testkit::admin();
        let mut subjects: Vec<SubjectId> = Vec::new();
        for email in ["mia@a.example", "bo@a.example"] {
            let s = w.custode.store.create_subject(&sys, &w.tree.domain_a.id, "mailbox_user", "t").await.unwrap();
            w.custode
                .store
                .write_records(&sys, "signup", vec![(s.clone(), custode_testkit::contact(email, "+39 333 000 0000"))])
                .await
                .unwrap();
            subjects.push(s);
        }
        let code = w.custode.accounts.portal_code("mia@a.example").await.unwrap().unwrap();
        let by_code = w.custode.accounts.portal_login("mia@a.example", &code.code, None).await.unwrap();
        let portal = Sess(format!("custode_session={}", by_code.id), by_code.csrf.clone());

        let start = call(&w.app, Method::POST, "/api/v1/passkeys/register/start", Some(&portal), None).await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text);
        let mut auth = Authenticator::new(ORIGIN);
        let credential = auth.register(&start.body);
        let added = call(&w.app, Method::POST, "/api/v1/passkeys/register/finish", Some(&portal), Some(json!({ "challenge_id": start.body["challenge_id"], "name": "my phone", "credential": credential }))).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        assert!(audited(&w, "passkey_added").await == 1);

        // The staff login does not take a subject's passkey.
        let staff = passkey_login(&w, &mut auth).await;
        assert_eq!(staff.status, StatusCode::UNAUTHORIZED, "{}", staff.text);

        let start = call(&w.app, Method::POST, "/api/v1/portal/passkey/start", None, None).await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text);
        let credential = auth.assert(&start.body);
        let login = call(&w.app, Method::POST, "/api/v1/portal/passkey/finish", None, Some(json!({ "challenge_id": start.body["challenge_id"], "credential": credential }))).await;
        assert_eq!(login.body["role"], "subject", "{}", login.text);
        let mia = session(&login);
        let own = call(&w.app, Method::GET, &format!("/api/v1/subjects/{}/records?reason=mine", subjects[0]), Some(&mia), None).await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.text);
        assert!(own.text.contains("mia@a.example"), "{}", own.text);
        let other = call(&w.app, Method::GET, &format!("/api/v1/subjects/{}/records?reason=theirs", subjects[1]), Some(&mia), None).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text);
        let users = call(&w.app, Method::GET, "/api/v1/users", Some(&mia), None).await;
        assert_eq!(users.status, StatusCode::FORBIDDEN);
        let mine = call(&w.app, Method::GET, "/api/v1/passkeys", Some(&mia), None).await;
        assert_eq!(mine.body.as_array().unwrap().len(), 1, "{}", mine.text);

        // Erased, the subject's passkeys go with it in the same step: no
        // credential id still links a device to the person.
        let held = |w: &World| {
            let pool = w.custode.store.pool().clone();
            let owner = format!("subject:{}", subjects[0]);
            async move {
                sqlx::query("SELECT COUNT(*) FROM passkeys WHERE owner = $1")
                    .bind(owner)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .get::<i64, _>(0)
            }
        };
        assert_eq!(held(&w).await, 1);
        w.custode.store.erase_subject(&Principal::system("test"), &subjects[0], "closure").await.unwrap();
        assert_eq!(held(&w).await, 0, "the passkey is gone with the subject");
        let start = call(&w.app, Method::POST, "/api/v1/portal/passkey/start", None, None).await;
        let credential = auth.assert(&start.body);
        let refused = call(&w.app, Method::POST, "/api/v1/portal/passkey/finish", None, Some(json!({ "challenge_id": start.body["challenge_id"], "credential": credential }))).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
        w.env
    })
    .await;
}

#[test]
fn the_openapi_document_lists_the_passkey_routes() {
    let doc = serde_json::to_value(custode_server::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (p, method) in [
        ("/api/v1/passkeys", "get"),
        ("/api/v1/passkeys/{id}", "delete"),
        ("/api/v1/passkeys/register/start", "post"),
        ("/api/v1/passkeys/register/finish", "post"),
        ("/api/v1/passkeys/login/start", "post"),
        ("/api/v1/passkeys/login/finish", "post"),
        ("/api/v1/users/{id}/passkeys", "get"),
        ("/api/v1/invitations/passkey/start", "post"),
        ("/api/v1/invitations/passkey/finish", "post"),
        ("/api/v1/portal/passkey/start", "post"),
        ("/api/v1/portal/passkey/finish", "post"),
        ("/api/v1/vault/passkey-challenge", "post"),
    ] {
        assert!(
            paths.get(p).and_then(|m| m.get(method)).is_some(),
            "{method} {p} missing"
        );
    }
}
