//! The API as its callers meet it: every endpoint with every role against
//! the intended permission table, and bad input of every kind answered with
//! a 4xx problem document that changes nothing.

mod common;

use custode_server::Custode;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::SmtpPeer;
use custode_domain::{Principal, Role, Scope, SubjectId, TenantKind};
use custode_server::{AppState, router};

use custode_accounts::Grant;
use http_body_util::BodyExt;
use tower::ServiceExt;

struct World {
    app: Router,
    custode: Custode,
    dir: std::path::PathBuf,
    a_subject: SubjectId,
    b_subject: SubjectId,
    domain_a: String,
    reseller: String,
    tokens: Vec<(&'static str, Option<String>)>,
}

const EMAIL_HOSTING: &str = include_str!("../../../policies/email-hosting.toml");
const TELECOM: &str = include_str!("../../../policies/telecom.toml");

async fn world() -> World {
    world_with(EMAIL_HOSTING, "mailbox_user").await
}

async fn world_with(policy_source: &str, subject_kind: &str) -> World {
    let dir = std::env::temp_dir().join(format!("custode-api-{}", SubjectId::generate()));
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
    let policy = Arc::new(custode_policy::load("p.toml", policy_source).expect("policy"));
    let clock = Arc::new(custode_domain::SystemClock);
    let custode = Custode::open(&config, policy, clock.clone())
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
    let a_subject = custode
        .store
        .create_subject(&sys, &domain_a.id, subject_kind, "t")
        .await
        .expect("s");
    let b_subject = custode
        .store
        .create_subject(&sys, &domain_b.id, subject_kind, "t")
        .await
        .expect("s");
    let grant = |role, path: &str, subject: Option<SubjectId>| Grant {
        role,
        scope_path: path.to_owned(),
        subject,
    };
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let mut tokens = vec![("anonymous", None)];
    for (name, g) in [
        ("administrator", grant(Role::Administrator, "/", None)),
        ("dpo", grant(Role::Dpo, "/", None)),
        (
            "support_agent",
            grant(Role::SupportAgent, &provider.path, None),
        ),
        ("legal_officer", grant(Role::LegalOfficer, "/", None)),
        (
            "reseller_admin",
            grant(Role::ResellerAdmin, &reseller.path, None),
        ),
        (
            "domain_admin",
            grant(Role::DomainAdmin, &domain_a.path, None),
        ),
        (
            "subject",
            grant(Role::Subject, &domain_a.path, Some(a_subject.clone())),
        ),
    ] {
        let t = custode
            .accounts
            .issue_held_token(&root, name, &format!("the test's {name}"), &g, None)
            .await
            .expect("token");
        tokens.push((name, Some(t.token)));
    }
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy_source).expect("policy copy");
    World {
        app: router(AppState::new(custode.clone(), clock).with_policy_path(policy_path)),
        custode,
        dir,
        a_subject,
        b_subject,
        domain_a: domain_a.id.to_string(),
        reseller: reseller.id.to_string(),
        tokens,
    }
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    // Documents are files; everything else is JSON.
    let content_type = if uri.contains("/documents/") {
        "application/pdf"
    } else {
        "application/json"
    };
    let req = match body {
        Some(b) => req.header("content-type", content_type).body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = app.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, ctype, String::from_utf8_lossy(&bytes).into_owned())
}

/// The intended permission table, written out by hand: one row per role,
/// one column per endpoint of `endpoints()`.
#[rustfmt::skip]
const MATRIX: &[(&str, [u16; 36])] = &[
    //                 list count rdA  rdB  wrA  newS newT erase audit ropa tok  notice policy reload conA hisA decA decB pubkey evtA plan report vaultQ vaultLog reqA reqs export fulfil show code verify docPut docGet approve answer lift
    ("anonymous",      [401, 401, 401, 401, 401, 401, 401, 401,  401,  401, 401, 200,   200,   401,   401, 401, 401, 401, 200, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("administrator",  [200, 200, 403, 403, 403, 403, 201, 403,  200,  200, 201, 200,   200,   200,   403, 403, 403, 403, 200, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("dpo",            [200, 200, 200, 200, 403, 403, 403, 204,  200,  200, 403, 200,   200,   200,   201, 200, 200, 200, 200, 403, 200, 200, 403, 200, 201, 200, 200, 409, 200, 409, 422, 204, 200, 409, 200, 409]),
    ("support_agent",  [200, 200, 200, 200, 201, 201, 403, 403,  403,  403, 403, 200,   200,   403,   201, 200, 200, 200, 200, 204, 403, 403, 403, 403, 201, 200, 200, 403, 200, 409, 422, 204, 200, 409, 200, 409]),
    ("legal_officer",  [403, 403, 403, 403, 403, 403, 403, 403,  403,  403, 403, 200,   200,   403,   403, 403, 403, 403, 200, 403, 403, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("reseller_admin", [200, 200, 200, 200, 201, 201, 201, 403,  403,  403, 403, 200,   200,   403,   201, 200, 200, 200, 200, 204, 403, 403, 403, 403, 201, 403, 403, 403, 200, 409, 422, 204, 403, 403, 403, 403]),
    ("domain_admin",   [200, 200, 200, 404, 201, 201, 403, 403,  403,  403, 403, 200,   200,   403,   201, 200, 200, 404, 200, 204, 403, 403, 403, 403, 201, 403, 403, 403, 200, 409, 422, 204, 403, 403, 403, 403]),
    ("subject",        [200, 200, 200, 404, 403, 403, 403, 403,  403,  403, 403, 200,   200,   403,   201, 200, 200, 404, 200, 403, 403, 403, 403, 403, 201, 403, 200, 403, 200, 409, 422, 204, 403, 403, 403, 403]),
];

fn endpoints(
    w: &World,
    erase_target: &SubjectId,
    request: &str,
    erase_request: &str,
    answer_request: &str,
) -> Vec<(Method, String, Option<String>)> {
    let a = &w.a_subject;
    let b = &w.b_subject;
    vec![
        (Method::GET, "/api/v1/subjects".into(), None),
        (Method::GET, "/api/v1/subjects/count".into(), None),
        (Method::GET, format!("/api/v1/subjects/{a}/records?reason=matrix"), None),
        (Method::GET, format!("/api/v1/subjects/{b}/records?reason=matrix"), None),
        (
            Method::POST,
            format!("/api/v1/subjects/{a}/records"),
            Some(r#"{"reason":"matrix","records":[{"category":"contact","fields":{"email":"m@a.example"},"source":"test"}]}"#.into()),
        ),
        (
            Method::POST,
            "/api/v1/subjects".into(),
            Some(format!(r#"{{"tenant":"{}","kind":"mailbox_user","reason":"matrix"}}"#, w.domain_a)),
        ),
        (
            Method::POST,
            "/api/v1/tenants".into(),
            Some(format!(r#"{{"kind":"domain","name":"new.example","parent":"{}"}}"#, w.reseller)),
        ),
        (Method::POST, format!("/api/v1/subjects/{erase_target}/erase"), Some(r#"{"reason":"matrix"}"#.into())),
        (Method::GET, "/api/v1/audit/verify".into(), None),
        (Method::GET, "/api/v1/policy/ropa".into(), None),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            Some(r#"{"name":"ci","role":"administrator","days":7}"#.into()),
        ),
        (Method::GET, "/notice?lang=it".into(), None),
        (Method::GET, "/api/v1/policy".into(), None),
        (Method::POST, "/api/v1/policy/reload".into(), None),
        (
            Method::POST,
            format!("/api/v1/subjects/{a}/consent"),
            Some(r#"{"kind":"objected","purpose":"analytics","channel":"web_form"}"#.into()),
        ),
        (Method::GET, format!("/api/v1/subjects/{a}/consent?reason=matrix"), None),
        (Method::GET, format!("/api/v1/subjects/{a}/decisions/analytics"), None),
        (Method::GET, format!("/api/v1/subjects/{b}/decisions/analytics"), None),
        (Method::GET, "/api/v1/consent/public-key".into(), None),
        (
            Method::POST,
            format!("/api/v1/subjects/{a}/events"),
            Some(r#"{"event":"activity","reason":"matrix"}"#.into()),
        ),
        (Method::GET, "/api/v1/retention/plan?days=30".into(), None),
        (Method::GET, "/api/v1/retention/report".into(), None),
        (
            Method::POST,
            "/api/v1/vault/query".into(),
            Some(format!(
                r#"{{"subject":"{a}","totp":"000000","order":{{"authority":"Tribunale","number":"1/2026","date":"2026-01-05","scope":"identity"}}}}"#
            )),
        ),
        (Method::GET, "/api/v1/vault/access-log".into(), None),
        (
            Method::POST,
            "/api/v1/requests".into(),
            Some(format!(
                r#"{{"subject":"{a}","rights":["access"],"contact":"a@example.org"}}"#
            )),
        ),
        (Method::GET, "/api/v1/requests".into(), None),
        (Method::GET, format!("/api/v1/requests/{request}/export"), None),
        (Method::POST, format!("/api/v1/requests/{erase_request}/fulfil"), Some("{}".into())),
        (Method::GET, format!("/api/v1/requests/{request}"), None),
        (Method::POST, format!("/api/v1/requests/{request}/code"), None),
        (Method::POST, format!("/api/v1/requests/{request}/verify"), Some(r#"{"code":"000000"}"#.into())),
        (Method::PUT, format!("/api/v1/requests/{request}/documents/id_document"), Some("%PDF-1.7 synthetic scan".into())),
        (Method::GET, format!("/api/v1/requests/{request}/documents/id_document"), None),
        (Method::POST, format!("/api/v1/requests/{request}/approve-identity"), None),
        (Method::POST, format!("/api/v1/requests/{answer_request}/answer"), Some(r#"{"outcome":"refused","reasons":"matrix: manifestly excessive"}"#.into())),
        (Method::POST, format!("/api/v1/subjects/{a}/restriction/lift"), Some(r#"{"notify":"m@a.example","reason":"matrix"}"#.into())),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_with_every_role_follows_the_permission_table() {
    let w = world().await;
    let request = w
        .custode
        .requests
        .file_request(
            &Principal::system("test"),
            custode_requests::NewRequest {
                subject: w.a_subject.clone(),
                rights: vec![custode_domain::requests::Right::Access],
                requester: custode_requests::Requester::Subject,
                contact: "a@example.org".into(),
                text: String::new(),
                language: None,
            },
        )
        .await
        .expect("request")
        .id;
    // Verified and carried out, so its package exists.
    let sys = Principal::system("test");
    w.custode
        .requests
        .put_document(
            &sys,
            &request,
            custode_requests::DocumentKind::IdDocument,
            "application/pdf",
            b"%PDF-1.7 scan",
        )
        .await
        .expect("document");
    w.custode
        .requests
        .approve_identity(&sys, &request)
        .await
        .expect("approve");
    w.custode
        .requests
        .queue_fulfilment(&sys, &request, custode_requests::FulfilmentInput::default())
        .await
        .expect("queue");
    w.custode
        .requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("jobs");
    let mut mismatches = Vec::new();
    for (role, expected) in MATRIX {
        let token = w
            .tokens
            .iter()
            .find(|(name, _)| name == role)
            .map(|(_, t)| t.clone())
            .expect("a token per role");
        // A subject of its own to erase, so one role's erasure does not
        // change the next role's answer.
        let domain = custode_domain::TenantId::parse(&w.domain_a).expect("id");
        let target = w
            .custode
            .store
            .create_subject(
                &Principal::system("test"),
                &domain,
                "mailbox_user",
                "matrix",
            )
            .await
            .expect("subject");
        let erase_request = w
            .custode
            .requests
            .file_request(
                &Principal::system("test"),
                custode_requests::NewRequest {
                    subject: target.clone(),
                    rights: vec![custode_domain::requests::Right::Erasure],
                    requester: custode_requests::Requester::Subject,
                    contact: "t@example.org".into(),
                    text: String::new(),
                    language: None,
                },
            )
            .await
            .expect("request")
            .id;
        let answer_request = w
            .custode
            .requests
            .file_request(
                &Principal::system("test"),
                custode_requests::NewRequest {
                    subject: target.clone(),
                    rights: vec![custode_domain::requests::Right::Access],
                    requester: custode_requests::Requester::Subject,
                    contact: "t@example.org".into(),
                    text: String::new(),
                    language: None,
                },
            )
            .await
            .expect("request")
            .id;
        for ((method, uri, body), want) in
            endpoints(&w, &target, &request, &erase_request, &answer_request)
                .into_iter()
                .zip(expected)
        {
            let (status, ctype, text) =
                call(&w.app, method.clone(), &uri, token.as_deref(), body).await;
            if status.as_u16() != *want {
                mismatches.push(format!(
                    "{role} {method} {uri}: got {status}, want {want}: {text}"
                ));
            }
            if status.is_client_error() {
                assert_eq!(
                    ctype, "application/problem+json",
                    "{role} {uri}: errors are problem documents"
                );
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "permission table violated:\n{}",
        mismatches.join("\n")
    );
    // Refusals are audited.
    let denied = w.custode.vault.audit_verify().await.expect("verify");
    assert!(denied.is_intact());
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// What is wrong, method, URI, body, content type, expected status.
type BadInput = (
    &'static str,
    Method,
    String,
    Option<Vec<u8>>,
    Option<&'static str>,
    u16,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_problem_and_changes_nothing() {
    let w = world().await;
    let support = w
        .tokens
        .iter()
        .find(|(n, _)| *n == "support_agent")
        .and_then(|(_, t)| t.clone());
    let t = support.as_deref();
    let a = w.a_subject.to_string();
    let sys = Principal::system("test");
    let before = w.custode.store.count_subjects(&sys).await.expect("count");
    let huge = format!(
        r#"{{"reason":"x","records":[{{"category":"contact","fields":{{"email":"{}"}},"source":"x"}}]}}"#,
        "a".repeat(5 * 1024 * 1024)
    );
    let cases: Vec<BadInput> = vec![
        (
            "malformed JSON",
            Method::POST,
            "/api/v1/subjects".into(),
            Some(b"{\"tenant\": ".to_vec()),
            Some("application/json"),
            400,
        ),
        (
            "wrong type",
            Method::POST,
            "/api/v1/subjects".into(),
            Some(br#"{"tenant": 5, "kind": "mailbox_user", "reason": "x"}"#.to_vec()),
            Some("application/json"),
            422,
        ),
        (
            "unknown field",
            Method::POST,
            "/api/v1/subjects".into(),
            Some(
                format!(
                    r#"{{"tenant":"{}","kind":"mailbox_user","reason":"x","admin":true}}"#,
                    w.domain_a
                )
                .into_bytes(),
            ),
            Some("application/json"),
            422,
        ),
        (
            "invalid UTF-8",
            Method::POST,
            "/api/v1/subjects".into(),
            Some(vec![b'{', b'"', 0xff, 0xfe, b'"', b'}']),
            Some("application/json"),
            400,
        ),
        (
            "no content type",
            Method::POST,
            "/api/v1/subjects".into(),
            Some(b"{}".to_vec()),
            None,
            415,
        ),
        (
            "oversized body",
            Method::POST,
            format!("/api/v1/subjects/{a}/records"),
            Some(huge.into_bytes()),
            Some("application/json"),
            413,
        ),
        (
            "huge page",
            Method::GET,
            "/api/v1/subjects?limit=99999999999999".into(),
            None,
            None,
            400,
        ),
        (
            "zero page",
            Method::GET,
            "/api/v1/subjects?limit=0".into(),
            None,
            None,
            400,
        ),
        (
            "bad subject id",
            Method::GET,
            "/api/v1/subjects/../../etc/records?reason=x".into(),
            None,
            None,
            404,
        ),
        (
            "bad subject id in path",
            Method::GET,
            "/api/v1/subjects/zzz/records?reason=x".into(),
            None,
            None,
            400,
        ),
        (
            "unknown query key",
            Method::GET,
            "/api/v1/subjects?offset=5".into(),
            None,
            None,
            400,
        ),
        (
            "unknown category",
            Method::POST,
            format!("/api/v1/subjects/{a}/records"),
            Some(
                br#"{"reason":"x","records":[{"category":"dna","fields":{"x":1},"source":"x"}]}"#
                    .to_vec(),
            ),
            Some("application/json"),
            422,
        ),
        (
            "unknown tenant kind",
            Method::POST,
            "/api/v1/tenants".into(),
            Some(br#"{"kind":"galaxy","name":"x"}"#.to_vec()),
            Some("application/json"),
            403,
        ),
        (
            "unknown endpoint",
            Method::GET,
            "/api/v2/everything".into(),
            None,
            None,
            404,
        ),
        (
            "missing reason",
            Method::GET,
            format!("/api/v1/subjects/{a}/records"),
            None,
            None,
            400,
        ),
    ];
    for (what, method, uri, body, ctype, want) in cases {
        let mut req = Request::builder().method(method).uri(&uri);
        if let Some(t) = t {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        let req = req
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        let res = w.app.clone().oneshot(req).await.expect("response");
        let status = res.status().as_u16();
        let is_problem = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/problem+json");
        let text =
            String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes())
                .into_owned();
        assert_eq!(status, want, "{what}: {text}");
        assert!(is_problem, "{what}: a problem document, got {text}");
        assert!(
            text.contains("\"detail\""),
            "{what}: says what is wrong: {text}"
        );
    }
    assert_eq!(
        w.custode.store.count_subjects(&sys).await.expect("count"),
        before,
        "nothing changed"
    );
    let records = w
        .custode
        .store
        .records(&sys, &w.a_subject, "check")
        .await
        .expect("records");
    assert!(records.is_empty(), "no record was written by bad input");
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_token_works_once_and_tokens_can_be_revoked() {
    let w = world().await;
    let token = w
        .custode
        .accounts
        .setup_token()
        .await
        .expect("setup")
        .expect("no user yet");
    let body = |t: &str| {
        format!(
            r#"{{"setup_token":"{t}","username":"admin","password":"correct horse battery staple"}}"#
        )
    };
    let (status, _, text) = call(
        &w.app,
        Method::POST,
        "/api/v1/setup",
        None,
        Some(body(&token)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let admin: serde_json::Value = serde_json::from_str(&text).expect("json");
    let admin_token = admin["token"].as_str().expect("token").to_owned();
    let (status, _, text) = call(
        &w.app,
        Method::POST,
        "/api/v1/setup",
        None,
        Some(body(&token)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the setup token works once"
    );
    let problem: serde_json::Value = serde_json::from_str(&text).expect("problem document");
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("setup token") && !detail.contains("Bearer"),
        "a spent setup token is explained as such, not as a bad API token: {detail}"
    );
    assert!(
        w.custode
            .accounts
            .setup_token()
            .await
            .expect("setup")
            .is_none(),
        "no new setup token once a user exists"
    );
    let (status, _, _) = call(
        &w.app,
        Method::GET,
        "/api/v1/audit/verify",
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let by = w
        .custode
        .accounts
        .authenticate_token(&admin_token)
        .await
        .expect("valid");
    let id = admin["id"].as_str().expect("id");
    w.custode
        .accounts
        .revoke_token(&by, id)
        .await
        .expect("revoke");
    let (status, _, _) = call(
        &w.app,
        Method::GET,
        "/api/v1/audit/verify",
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused at once"
    );
    // A forged secret for a real id is refused too.
    let forged = format!("cus_{id}.{}", "0".repeat(64));
    let (status, _, _) = call(&w.app, Method::GET, "/api/v1/subjects", Some(&forged), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_api_route() {
    let doc = custode_server::openapi();
    let json = serde_json::to_value(&doc).expect("serialises");
    let paths = json["paths"].as_object().expect("paths");
    for p in [
        "/api/v1/subjects",
        "/api/v1/subjects/count",
        "/api/v1/subjects/{id}/records",
        "/api/v1/subjects/{id}/erase",
        "/api/v1/tenants",
        "/api/v1/tenants/{id}/close",
        "/api/v1/tokens",
        "/api/v1/setup",
        "/api/v1/audit/verify",
        "/api/v1/policy",
        "/api/v1/policy/ropa",
        "/api/v1/requests/{id}/attest-identity",
        "/notice",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_policy_is_refused_and_the_old_one_stays() {
    let w = world().await;
    let dpo = w
        .tokens
        .iter()
        .find(|(n, _)| *n == "dpo")
        .and_then(|(_, t)| t.clone());
    let before = w.custode.store.policy().digest.clone();
    let path = w.dir.join("policy.toml");
    let good = std::fs::read_to_string(&path).expect("policy");
    std::fs::write(
        &path,
        good.replacen("basis = \"contract\"", "basis = \"whim\"", 1),
    )
    .expect("write");
    let (status, _, text) = call(
        &w.app,
        Method::POST,
        "/api/v1/policy/reload",
        dpo.as_deref(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(
        text.contains("policy.toml:") && text.contains("whim"),
        "the problem names the line: {text}"
    );
    assert_eq!(
        w.custode.store.policy().digest,
        before,
        "the policy in force is unchanged"
    );
    std::fs::write(
        &path,
        good.replacen("version = \"", "version = \"reloaded-", 1),
    )
    .expect("write");
    let (status, _, text) = call(
        &w.app,
        Method::POST,
        "/api/v1/policy/reload",
        dpo.as_deref(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_ne!(w.custode.store.policy().digest, before);
    assert!(
        w.custode
            .store
            .policy()
            .meta
            .version
            .starts_with("reloaded-")
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
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

fn login_request(user: &str, password: &str) -> Request<Body> {
    post_json(
        "/api/v1/login",
        format!(r#"{{"username":"{user}","password":"{password}"}}"#),
    )
}

fn post_json(uri: &str, body: String) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_log_in_with_a_session_cookie_guarded_against_csrf() {
    let w = world().await;
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let grant = Grant {
        role: Role::Dpo,
        scope_path: "/".into(),
        subject: None,
    };
    w.custode
        .accounts
        .create_user(&root, "dora", "a long passphrase 42", &grant)
        .await
        .expect("user");

    // The DPO logs in with a second factor: without one enrolled, no login.
    let (status, _, body) = send(&w.app, login_request("dora", "a long passphrase 42")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("second factor"), "{body}");
    let creds = r#"{"username":"dora","password":"a long passphrase 42"}"#;
    let (status, _, body) = send(&w.app, post_json("/api/v1/totp/enroll", creds.into())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let enrolled: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(
        enrolled["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("otpauth://totp/Custode:dora?secret="))
    );
    let secret =
        custode_crypto::totp::secret_from_base32(enrolled["secret"].as_str().expect("secret"))
            .expect("160 bits");
    let now = u64::try_from(jiff::Timestamp::now().as_second()).expect("after 1970");
    let code = custode_crypto::totp::code_at(&secret, now - 30);
    let confirm =
        format!(r#"{{"username":"dora","password":"a long passphrase 42","code":"{code}"}}"#);
    let (status, _, body) = send(&w.app, post_json("/api/v1/totp/confirm", confirm)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // A code already used, or a wrong one, does not log in.
    let login = |code: &str| {
        post_json(
            "/api/v1/login",
            format!(r#"{{"username":"dora","password":"a long passphrase 42","totp":"{code}"}}"#),
        )
    };
    assert_eq!(
        send(&w.app, login(&code)).await.0,
        StatusCode::UNAUTHORIZED,
        "replayed code"
    );
    let (status, _, body) = send(&w.app, login("000000")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong code");
    // The answer is about the login, not about API tokens, and does not
    // say which part was wrong.
    let detail = serde_json::from_str::<serde_json::Value>(&body).expect("problem")["detail"]
        .as_str()
        .expect("detail")
        .to_owned();
    assert!(
        detail.contains("password or second-factor code") && !detail.contains("Bearer"),
        "{detail}"
    );
    let fresh = custode_crypto::totp::code_at(&secret, now);
    let (status, headers, body) = send(&w.app, login(&fresh)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            cookie.contains(attr),
            "the session cookie is {attr}: {cookie}"
        );
    }
    let session = cookie.split(';').next().expect("pair").to_owned();
    let csrf = serde_json::from_str::<serde_json::Value>(&body).expect("json")["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();

    // Reading needs only the cookie.
    let get = Request::get("/api/v1/audit/verify")
        .header("cookie", &session)
        .body(Body::empty())
        .expect("req");
    assert_eq!(send(&w.app, get).await.0, StatusCode::OK);
    // A change without the CSRF token is refused, with a wrong one too.
    let erase = |csrf: Option<&str>| {
        let mut r = Request::post(format!("/api/v1/subjects/{}/erase", w.b_subject))
            .header("cookie", &session)
            .header("content-type", "application/json");
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.body(Body::from(r#"{"reason":"request r-1"}"#))
            .expect("req")
    };
    assert_eq!(send(&w.app, erase(None)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        send(&w.app, erase(Some("0123"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&w.app, erase(Some(&csrf))).await.0,
        StatusCode::NO_CONTENT
    );

    // Logout ends the session.
    let out = Request::post("/api/v1/logout")
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .body(Body::empty())
        .expect("req");
    assert_eq!(send(&w.app, out).await.0, StatusCode::NO_CONTENT);
    let get = Request::get("/api/v1/audit/verify")
        .header("cookie", &session)
        .body(Body::empty())
        .expect("req");
    assert_eq!(send(&w.app, get).await.0, StatusCode::UNAUTHORIZED);
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_audited_and_limited() {
    let w = world().await;
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let grant = Grant {
        role: Role::SupportAgent,
        scope_path: "/".into(),
        subject: None,
    };
    w.custode
        .accounts
        .create_user(&root, "sam", "the right passphrase", &grant)
        .await
        .expect("user");
    for _ in 0..5 {
        let (status, _, body) = send(&w.app, login_request("sam", "wrong guess 12345")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            !body.contains("sam"),
            "the answer does not say whether the user exists"
        );
    }
    let (status, _, body) = send(&w.app, login_request("sam", "the right passphrase")).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "locked after 5 failures, even with the right password: {body}"
    );
    let (status, _, _) = send(&w.app, login_request("nobody", "whatever 123456")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an unknown user gets the same answer"
    );
    let log = w.custode.vault.audit_verify().await.expect("verify");
    assert!(log.is_intact());
    let denied: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
            .fetch_one(w.custode.store.pool())
            .await
            .expect("count"),
        0,
    );
    assert!(denied >= 6, "every failed login is audited ({denied})");
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// Issue "Every promise kept", item 1: user names are held as fixed-size
/// hashes, and a credentials body of more than a few KiB is refused before
/// anything is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_login_body_is_refused_and_not_remembered() {
    let w = world().await;
    let state = AppState::new(w.custode.clone(), Arc::new(custode_domain::SystemClock));
    let app = router(state.clone());
    let long = "u".repeat(64 * 1024);
    for path in ["/api/v1/login", "/api/v1/totp/enroll", "/api/v1/setup"] {
        let body = format!(r#"{{"username":"{long}","password":"whatever 123456"}}"#);
        let (status, headers, text) = send(&app, post_json(path, body)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {text}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{path}"
        );
        assert!(text.contains("KiB"), "the problem says the limit: {text}");
    }
    assert_eq!(state.attempts.users_len(), 0, "nothing was counted");
    // A name that fits is counted once, whatever its length.
    let name = "n".repeat(4000);
    let (status, _, _) = send(&app, login_request(&name, "whatever 123456")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(state.attempts.users_len(), 1);
    let _ = std::fs::remove_dir_all(&w.dir);
}

fn from_address(mut req: Request<Body>, peer: &str, forwarded: Option<&str>) -> Request<Body> {
    let addr: std::net::SocketAddr = peer.parse().expect("address");
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    if let Some(f) = forwarded {
        req.headers_mut()
            .insert("x-forwarded-for", f.parse().expect("header"));
    }
    req
}

fn get_with(token: &str) -> Request<Body> {
    Request::get("/api/v1/subjects/count")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

/// Issue "Every promise kept", item 2: bad tokens from one address (a NAT,
/// a proxy) are refused past a limit, but a valid token from the same
/// address still works, and the answer speaks of the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_from_an_address_never_lock_out_valid_ones() {
    let w = world().await;
    let admin = w
        .tokens
        .iter()
        .find(|(n, _)| *n == "administrator")
        .and_then(|(_, t)| t.clone())
        .expect("token");
    let bad = format!("cus_{}.{}", "ab".repeat(12), "0".repeat(64));
    let proxy = "10.0.0.1".parse().expect("ip");
    let state = AppState::new(w.custode.clone(), Arc::new(custode_domain::SystemClock))
        .with_trusted_proxies(vec![proxy]);
    let app = router(state);
    let nat = "192.0.2.1:4000";
    for i in 0..custode_server::Attempts::ADDRESS_LIMIT {
        let (status, _, body) = send(&app, from_address(get_with(&bad), nat, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {i}: {body}");
    }
    let (status, _, body) = send(&app, from_address(get_with(&bad), nat, None)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body.contains("from your address") && !body.contains("this user"),
        "the answer speaks of the address: {body}"
    );
    let (status, _, body) = send(&app, from_address(get_with(&admin), nat, None)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a valid token from the same address works: {body}"
    );
    // Another address is not concerned; an untrusted peer cannot escape its
    // count by writing a forwarded address.
    let (status, _, _) = send(&app, from_address(get_with(&bad), "192.0.2.2:1", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(
        &app,
        from_address(get_with(&bad), nat, Some("198.51.100.99")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the header is not believed"
    );

    // Behind the trusted proxy, each client is counted by its forwarded
    // address: one guessing client does not stop the others.
    for _ in 0..custode_server::Attempts::ADDRESS_LIMIT {
        send(
            &app,
            from_address(
                get_with(&bad),
                "10.0.0.1:1",
                Some("203.0.113.5, 198.51.100.7"),
            ),
        )
        .await;
    }
    let (status, _, _) = send(
        &app,
        from_address(get_with(&bad), "10.0.0.1:2", Some("198.51.100.7")),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _, _) = send(
        &app,
        from_address(get_with(&bad), "10.0.0.1:3", Some("198.51.100.8")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "another client behind the proxy"
    );
    let (status, _, _) = send(
        &app,
        from_address(get_with(&admin), "10.0.0.1:4", Some("198.51.100.7")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "valid credentials behind the proxy work"
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// Issue "Every promise kept", item 3: a client that sends half a request
/// header, or nothing, is disconnected after the header timeout instead of
/// holding its connection for ever; a whole request is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_disconnected_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world().await;
    let state = AppState::new(w.custode.clone(), Arc::new(custode_domain::SystemClock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = custode_server::ConnectionLimits {
        header_timeout: std::time::Duration::from_millis(300),
        max_connections: 16,
    };
    tokio::spawn(custode_server::serve_with(
        listener,
        state,
        limits,
        std::future::pending(),
    ));
    // Reads until the server closes; `None` if it is still open after
    // far longer than the timeout.
    async fn closed_by_server(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
        let mut got = Vec::new();
        let read = async {
            let mut buf = [0u8; 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), read)
            .await
            .ok()
            .map(|()| got)
    }
    let mut half = tokio::net::TcpStream::connect(addr).await.expect("connect");
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    assert!(
        closed_by_server(&mut half).await.is_some(),
        "a half-sent header is cut off"
    );
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(
        closed_by_server(&mut silent).await.is_some(),
        "a connection that sends nothing is closed"
    );
    let mut whole = tokio::net::TcpStream::connect(addr).await.expect("connect");
    whole
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let answer = closed_by_server(&mut whole)
        .await
        .expect("answered and closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// The HTTP face never reaches the console's way of issuing tokens that
/// read personal data.
#[test]
fn the_server_never_issues_held_tokens() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("source");
        assert!(
            !text.contains("issue_held_token"),
            "{} calls the console's token issuing",
            path.display()
        );
    }
}

async fn denied_count(custode: &Custode) -> i64 {
    sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
            .fetch_one(custode.store.pool())
            .await
            .expect("count"),
        0,
    )
}

/// Issue "Every promise kept", item 4: the administrator reads no personal
/// data by any route, so it cannot mint itself a credential that does,
/// neither with its token nor in a session; such credentials come from the
/// console, bound to a holder, and the DPO sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_cannot_mint_credentials_that_read_personal_data() {
    let w = world().await;
    let token = |role: &str| {
        w.tokens
            .iter()
            .find(|(n, _)| *n == role)
            .and_then(|(_, t)| t.clone())
            .expect("token")
    };
    let admin = token("administrator");
    let a = &w.a_subject;
    let before = denied_count(&w.custode).await;
    let asks = [
        r#"{"name":"x","role":"dpo"}"#.to_owned(),
        r#"{"name":"x","role":"support_agent"}"#.to_owned(),
        r#"{"name":"x","role":"legal_officer"}"#.to_owned(),
        r#"{"name":"x","role":"reseller_admin"}"#.to_owned(),
        r#"{"name":"x","role":"domain_admin"}"#.to_owned(),
        r#"{"name":"x","role":"system"}"#.to_owned(),
        format!(r#"{{"name":"x","role":"subject","subject":"{a}"}}"#),
    ];
    for ask in &asks {
        let (status, _, body) = call(
            &w.app,
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(ask.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{ask}: {body}");
        assert!(
            body.contains("custode tokens issue") && body.contains("--holder"),
            "the refusal says how such a token is issued: {body}"
        );
    }
    assert_eq!(
        denied_count(&w.custode).await - before,
        asks.len() as i64,
        "every refusal is audited"
    );
    // Tokens that read no personal data are still the administrator's to issue.
    let (status, _, body) = call(
        &w.app,
        Method::POST,
        "/api/v1/tokens",
        Some(&admin),
        Some(r#"{"name":"deputy","role":"administrator"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The administrator in a browser session is refused the same way.
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let grant = Grant {
        role: Role::Administrator,
        scope_path: "/".into(),
        subject: None,
    };
    w.custode
        .accounts
        .create_user(&root, "ada", "an admin passphrase 7", &grant)
        .await
        .expect("user");
    let creds = r#"{"username":"ada","password":"an admin passphrase 7"}"#;
    let (status, _, body) = send(&w.app, post_json("/api/v1/totp/enroll", creds.into())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = custode_crypto::totp::secret_from_base32(
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["secret"]
            .as_str()
            .expect("secret"),
    )
    .expect("160 bits");
    let now = u64::try_from(jiff::Timestamp::now().as_second()).expect("after 1970");
    let code = custode_crypto::totp::code_at(&secret, now - 30);
    let confirm =
        format!(r#"{{"username":"ada","password":"an admin passphrase 7","code":"{code}"}}"#);
    let (status, _, body) = send(&w.app, post_json("/api/v1/totp/confirm", confirm)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let fresh = custode_crypto::totp::code_at(&secret, now);
    let login =
        format!(r#"{{"username":"ada","password":"an admin passphrase 7","totp":"{fresh}"}}"#);
    let (status, headers, body) = send(&w.app, post_json("/api/v1/login", login)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();
    let csrf = serde_json::from_str::<serde_json::Value>(&body).expect("json")["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let before = denied_count(&w.custode).await;
    let req = Request::post("/api/v1/tokens")
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name":"mine","role":"dpo"}"#))
        .expect("request");
    let (status, _, body) = send(&w.app, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(denied_count(&w.custode).await - before, 1, "audited");

    // The local operator issues one at the console, to a named holder; the
    // DPO sees it, with its holder and issuer, never its secret.
    let operator = Principal {
        id: "cli:operator".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let dpo_grant = Grant {
        role: Role::Dpo,
        scope_path: "/".into(),
        subject: None,
    };
    assert!(
        w.custode
            .accounts
            .issue_held_token(&operator, "laptop", "  ", &dpo_grant, None)
            .await
            .is_err(),
        "a holder is required"
    );
    let issued = w
        .custode
        .accounts
        .issue_held_token(&operator, "laptop", "Dora Rossi", &dpo_grant, None)
        .await
        .expect("issued");
    let (status, _, body) = call(
        &w.app,
        Method::GET,
        "/api/v1/tokens",
        Some(&token("dpo")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = issued.token.split_once('.').expect("secret").1;
    assert!(!body.contains(secret), "no secret in the list");
    assert!(!body.contains("hash"), "no hash in the list: {body}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&body).expect("json");
    let listed = list
        .iter()
        .find(|t| t["id"] == issued.id.as_str())
        .expect("the new token is listed");
    assert_eq!(listed["holder"], "Dora Rossi");
    assert_eq!(listed["role"], "dpo");
    assert_eq!(listed["issued_by"], "cli:operator");
    assert!(listed["last_used_at"].is_null(), "not used yet");
    let own = list
        .iter()
        .find(|t| t["holder"] == "the test's dpo")
        .expect("the DPO's own token");
    assert!(
        own["last_used_at"].is_string(),
        "its use is recorded: {own}"
    );
    let (status, _, _) = call(
        &w.app,
        Method::GET,
        "/api/v1/tokens",
        Some(&token("support_agent")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_jobs_sign_checkpoints_and_purge_erased_records() {
    let w = world().await;
    let sys = Principal::system("test");
    let mut fields = std::collections::BTreeMap::new();
    fields.insert(
        "email".to_owned(),
        serde_json::Value::from("gone@a.example"),
    );
    let record = custode_domain::NewRecord {
        category: "contact".into(),
        fields,
        source: "t".into(),
        purposes: vec![],
        collected_at: None,
    };
    w.custode
        .store
        .write_records(
            &sys,
            "t",
            vec![
                (w.a_subject.clone(), record.clone()),
                (w.a_subject.clone(), record),
            ],
        )
        .await
        .expect("write");
    w.custode
        .store
        .erase_subject(&sys, &w.a_subject, "request r-2")
        .await
        .expect("erase");
    let state = AppState::new(
        w.custode.clone(),
        std::sync::Arc::new(custode_domain::SystemClock),
    );
    custode_server::jobs::start(
        state,
        custode_server::jobs::Schedule {
            checkpoint_every: Some(std::time::Duration::from_millis(50)),
            purge_every: Some(std::time::Duration::from_millis(50)),
            sweep_every: None,
            fulfil_every: None,
            backup_keys_every: Some(std::time::Duration::from_millis(50)),
        },
    );
    let count = |sql: &'static str| {
        let pool = w.custode.store.pool().clone();
        async move {
            sqlx::Row::get::<i64, _>(&sqlx::query(sql).fetch_one(&pool).await.expect("count"), 0)
        }
    };
    let mut done = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if count("SELECT COUNT(*) FROM records").await == 0
            && count("SELECT COUNT(*) FROM audit_checkpoints").await > 0
            && w.custode
                .backup
                .backup_generations()
                .await
                .expect("list")
                .len()
                == 1
        {
            done = true;
            break;
        }
    }
    assert!(
        done,
        "the erased subject's sealed records are purged, a checkpoint is signed, and the day's backup key is made"
    );
    assert!(
        w.custode
            .vault
            .audit_verify()
            .await
            .expect("verify")
            .is_intact()
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// A request as a mail receiver or a browser sends it: any content type,
/// no credentials.
async fn anonymous(
    app: &Router,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    send(app, req.body(Body::from(body.to_owned())).expect("request")).await
}

fn token_of(w: &World, role: &str) -> String {
    w.tokens
        .iter()
        .find(|(name, _)| *name == role)
        .and_then(|(_, t)| t.clone())
        .expect("token")
}

async fn decision(w: &World, token: &str) -> serde_json::Value {
    let (status, _, body) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/subjects/{}/decisions/marketing", w.a_subject),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("json")
}

async fn consent(w: &World, token: &str, body: &str) -> (StatusCode, serde_json::Value) {
    let (status, _, text) = call(
        &w.app,
        Method::POST,
        &format!("/api/v1/subjects/{}/consent", w.a_subject),
        Some(token),
        Some(body.to_owned()),
    )
    .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_given_and_withdrawn_flips_the_decision_at_once() {
    let w = world_with(TELECOM, "customer").await;
    let agent = token_of(&w, "support_agent");
    assert_eq!(decision(&w, &agent).await["reason"], "no_consent");

    let (status, given) = consent(
        &w,
        &agent,
        r#"{"kind":"given","purpose":"marketing","channel":"web_form","language":"it",
            "evidence":{"ip":"203.0.113.9","user_agent":"Synthetic/1.0","form_id":"signup-v2"}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{given}");
    let d = decision(&w, &agent).await;
    assert_eq!(d["allowed"], true);
    assert_eq!(d["reason"], "consent");
    assert_eq!(d["event"], given["id"]);
    assert_eq!(d["basis"], "consent");

    // The receipt verifies offline with the published key.
    let (_, _, key) = call(
        &w.app,
        Method::GET,
        "/api/v1/consent/public-key",
        None,
        None,
    )
    .await;
    let key: serde_json::Value = serde_json::from_str(&key).expect("json");
    let key_bytes: [u8; 32] = hex::decode(key["public_key"].as_str().expect("hex"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let key = custode_crypto::VerifyingKey::from_bytes(&key_bytes).expect("key");
    let id = given["id"].as_str().expect("id");
    let (status, _, receipt) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/consent/events/{id}/receipt"),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let content = custode_consent::receipt::verify(&receipt, &key).expect("valid receipt");
    assert_eq!(content["consentReceiptID"], id);
    assert_eq!(content["language"], "it");
    let tampered = receipt.replace(w.a_subject.as_str(), "00000000000000000000000000000000");
    assert!(custode_consent::receipt::verify(&tampered, &key).is_err());

    let (status, withdrawn) =
        consent(&w, &agent, r#"{"kind":"withdrawn","purpose":"marketing"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    let d = decision(&w, &agent).await;
    assert_eq!(
        (d["allowed"].as_bool(), d["reason"].as_str()),
        (Some(false), Some("consent_withdrawn"))
    );
    let wid = withdrawn["id"].as_str().expect("id");
    let (status, _, body) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/consent/events/{wid}/receipt"),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Kantara records consents only: {body}"
    );
    let (status, _, body) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/consent/events/{wid}/receipt?format=iso27560"),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"event_state\":\"withdrawn\""), "{body}");

    // The ledger keeps both, with the evidence.
    let (status, _, history) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/subjects/{}/consent?reason=dispute", w.a_subject),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let history: serde_json::Value = serde_json::from_str(&history).expect("json");
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    assert_eq!(history[0]["evidence"]["ip"], "203.0.113.9");

    // Bad input is refused with what is wrong.
    let (status, problem) = consent(&w, &agent, r#"{"kind":"maybe","purpose":"marketing"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("given")),
        "{problem}"
    );
    let (status, _) = consent(&w, &agent, r#"{"kind":"given","purpose":"service"}"#).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "service rests on contract"
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unsubscribe_link_withdraws_on_post_only() {
    let w = world_with(TELECOM, "customer").await;
    let agent = token_of(&w, "support_agent");
    consent(&w, &agent, r#"{"kind":"given","purpose":"marketing"}"#).await;
    let (status, _, link) = call(
        &w.app,
        Method::POST,
        &format!("/api/v1/subjects/{}/unsubscribe-link", w.a_subject),
        Some(&agent),
        Some(r#"{"purpose":"marketing"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let link: serde_json::Value = serde_json::from_str(&link).expect("json");
    let url = link["url"].as_str().expect("url");
    assert_eq!(link["headers"]["List-Unsubscribe"], format!("<{url}>"));
    assert_eq!(
        link["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    assert!(
        !url.contains(w.a_subject.as_str()),
        "the link reveals nothing"
    );
    let path = url
        .split_once("/u/")
        .map(|(_, t)| format!("/u/{t}"))
        .expect("path");

    // Link scanners follow GETs: a GET shows a page and changes nothing.
    let (status, headers, page) = anonymous(&w.app, Method::GET, &path, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/html")
    );
    assert!(
        page.contains("name=\"List-Unsubscribe\" value=\"One-Click\""),
        "{page}"
    );
    assert_eq!(decision(&w, &agent).await["allowed"], true);

    // The wrong body does nothing either.
    let form = Some("application/x-www-form-urlencoded");
    let (status, _, _) = anonymous(&w.app, Method::POST, &path, form, "List-Unsubscribe=No").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(decision(&w, &agent).await["allowed"], true);

    // The one-click POST withdraws at once, sets no cookie, never redirects.
    let (status, headers, page) = anonymous(
        &w.app,
        Method::POST,
        &path,
        form,
        "List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!headers.contains_key("set-cookie"));
    assert!(!headers.contains_key("location"));
    let d = decision(&w, &agent).await;
    assert_eq!(
        (d["allowed"].as_bool(), d["reason"].as_str()),
        (Some(false), Some("consent_withdrawn"))
    );

    // Multipart works too, and repeating records nothing new.
    let body = "--b0\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0--\r\n";
    let (status, _, _) = anonymous(
        &w.app,
        Method::POST,
        &path,
        Some("multipart/form-data; boundary=b0"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(decision(&w, &agent).await["event"], d["event"]);

    // A forged or unknown link is a 404 page, not an error.
    let (status, _, _) = anonymous(
        &w.app,
        Method::POST,
        "/u/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        form,
        "List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_subject_lifts_an_objection_to_direct_marketing() {
    let w = world_with(TELECOM, "customer").await;
    let agent = token_of(&w, "support_agent");
    let me = token_of(&w, "subject");
    let (status, _) = consent(
        &w,
        &agent,
        r#"{"kind":"objected","channel":"phone","evidence":{"operator":"op-12"}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = consent(
        &w,
        &me,
        r#"{"kind":"given","purpose":"marketing","channel":"app"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        decision(&w, &agent).await["reason"],
        "objected_to_direct_marketing"
    );
    let (status, problem) = consent(&w, &agent, r#"{"kind":"objection_lifted"}"#).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(decision(&w, &agent).await["allowed"], false);
    let (status, _) = consent(&w, &me, r#"{"kind":"objection_lifted"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(decision(&w, &agent).await["reason"], "consent");
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_reload_that_changes_a_consent_purpose_flags_old_consents() {
    let w = world_with(TELECOM, "customer").await;
    let agent = token_of(&w, "support_agent");
    let admin = token_of(&w, "administrator");
    consent(&w, &agent, r#"{"kind":"given","purpose":"marketing"}"#).await;
    let changed = TELECOM.replace(
        "subjects = [\"customer\", \"prospect\"]\nretention = { keep = \"24 months\" }\ndirect_marketing = true",
        "subjects = [\"customer\", \"prospect\"]\nretention = { keep = \"36 months\" }\ndirect_marketing = true",
    );
    assert_ne!(changed, TELECOM);
    std::fs::write(w.dir.join("policy.toml"), changed).expect("write");
    let (status, _, body) = call(
        &w.app,
        Method::POST,
        "/api/v1/policy/reload",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reloaded: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(reloaded["reconsent"], serde_json::json!(["marketing"]));
    assert_eq!(decision(&w, &agent).await["reason"], "reconsent_needed");
    let (status, _, body) = call(
        &w.app,
        Method::GET,
        "/api/v1/consent/reconsent?purpose=marketing",
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(page["items"], serde_json::json!([w.a_subject.to_string()]));
    consent(&w, &agent, r#"{"kind":"given","purpose":"marketing"}"#).await;
    assert_eq!(decision(&w, &agent).await["reason"], "consent");
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// The first run of exactly six digits in a text.
fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_verified_by_mail_gets_a_zip_that_plain_readers_open_then_an_erasure_answered_by_mail()
 {
    let w = world().await;
    let smtp = SmtpPeer::start(&w.dir);
    let app = router(
        AppState::new(w.custode.clone(), Arc::new(custode_domain::SystemClock)).with_mailer(
            custode_server::mail::Mailer::new(
                &format!("smtp://127.0.0.1:{}", smtp.port),
                "privacy@posta.example",
                Default::default(),
            )
            .expect("mailer"),
        ),
    );
    let agent = token_of(&w, "support_agent");
    let dpo = token_of(&w, "dpo");
    let me = token_of(&w, "subject");
    let a = w.a_subject.to_string();
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/subjects/{a}/records"),
        Some(&agent),
        Some(
            r#"{"reason":"signup","records":[
                {"category":"contact","fields":{"email":"anna.verdi@example.org","phone":"+39 055 111 2222"},"source":"signup form"},
                {"category":"usage","fields":{"ip_address":"192.0.2.7","access_time":"2026-11-20T08:00:00Z","access_method":"imap, \"fast\""},"source":"dovecot"}
            ]}"#
            .into(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = consent(&w, &me, r#"{"kind":"objected","purpose":"analytics"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/requests",
        Some(&me),
        Some(format!(r#"{{"subject":"{a}","rights":["access"],"contact":"anna.verdi@example.org","text":"Una copia, grazie.","language":"it"}}"#)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let filed: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(filed["days_left"], 30, "the policy promises 30 days");
    assert_eq!(filed["identity"], "unverified");
    let id = filed["id"].as_str().expect("id").to_owned();
    let id = id.as_str();
    let (status, _, body) = call(
        &app,
        Method::GET,
        &format!("/api/v1/requests/{id}/export"),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "nothing before the identity is checked: {body}"
    );

    // An extension's reasons reach the requester.
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/extend"),
        Some(&agent),
        Some(r#"{"reason":"dieci anni di registri di posta da estrarre"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let extended: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(extended["mailed"], true, "{extended}");
    assert!(
        extended["request"]["days_left"].as_i64() > Some(80),
        "{extended}"
    );
    let mail = smtp.messages();
    assert!(
        mail.iter()
            .any(|m| m.0 == "anna.verdi@example.org" && m.2.contains("dieci anni di registri")),
        "{mail:?}"
    );

    // The code goes by mail to the address the subject is known by.
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/code"),
        Some(&me),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mail = smtp.messages();
    let coded: Vec<_> = mail.iter().filter(|m| m.1.contains("codice")).collect();
    assert_eq!(coded.len(), 1, "{mail:?}");
    assert_eq!(coded[0].0, "anna.verdi@example.org");
    assert!(
        coded[0].2.contains(id),
        "the message names the request: {}",
        coded[0].2
    );
    let code = code_in(&coded[0].2.replace(id, ""));
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/verify"),
        Some(&me),
        Some(format!(r#"{{"code":"{wrong}"}}"#)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("attempt(s) left"), "{body}");
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/verify"),
        Some(&me),
        Some(format!(r#"{{"code":"{code}"}}"#)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let verified: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(verified["identity"], "verified");
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/verify"),
        Some(&me),
        Some(format!(r#"{{"code":"{code}"}}"#)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a replayed code: {body}");

    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/fulfil"),
        Some(&agent),
        Some("{}".into()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    w.custode
        .requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("jobs");
    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .uri(format!("/api/v1/requests/{id}/export"))
                .header("authorization", format!("Bearer {agent}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let path = w.dir.join("access.zip");
    std::fs::write(&path, &bytes).expect("write");

    // Python's standard library, as any recipient might use.
    let check = r#"
import csv, io, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "corrupt member"
data = json.loads(z.read("records.json"))
assert len(data["records"]) == 2, data
assert {r["category"] for r in data["records"]} == {"contact", "usage"}
assert data["consent"][0]["kind"] == "objected"
rows = list(csv.DictReader(io.StringIO(z.read("records.csv").decode("utf-8"))))
assert len(rows) == 5, rows
assert any(r["value"] == 'imap, "fast"' for r in rows), rows
summary = z.read("summary-it.md").decode("utf-8")
for needle in ["I dati che conserviamo su di Lei", "Finalità e base giuridica", "Per quanto tempo li conserviamo",
               "Chi li riceve", "Da dove provengono", "I Suoi diritti", "reclamo"]:
    assert needle in summary, needle
print("ok")
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(check)
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let audited: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE reason = $1 AND action IN ('records.read', 'consent.read')")
            .bind(format!("rights request {id}"))
            .fetch_one(w.custode.store.pool())
            .await
            .expect("count"),
        0,
    );
    assert_eq!(
        audited, 2,
        "the records and the ledger were read under the request's id"
    );

    // Erasure: verified by a new code, carried out, answered by mail.
    let (status, _, body) = call(&app, Method::POST, "/api/v1/requests", Some(&me),
        Some(format!(r#"{{"subject":"{a}","rights":["erasure"],"contact":"anna.verdi@example.org","language":"it"}}"#))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let erase: serde_json::Value = serde_json::from_str(&body).expect("json");
    let eid = erase["id"].as_str().expect("id").to_owned();
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{eid}/code"),
        Some(&me),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mail = smtp.messages();
    let text = &mail
        .iter()
        .find(|m| m.2.contains(&eid))
        .expect("the second code")
        .2;
    let code = code_in(&text.replace(&eid, ""));
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{eid}/verify"),
        Some(&me),
        Some(format!(r#"{{"code":"{code}"}}"#)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{eid}/fulfil"),
        Some(&agent),
        Some("{}".into()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "erasure is the DPO's: {body}"
    );
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{eid}/fulfil"),
        Some(&dpo),
        Some("{}".into()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    w.custode
        .requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("jobs");
    let (status, _, body) = call(
        &app,
        Method::GET,
        &format!("/api/v1/requests/{eid}"),
        Some(&dpo),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shown: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(shown["jobs"][0]["state"], "done", "{shown}");
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{eid}/answer"),
        Some(&dpo),
        Some(r#"{"outcome":"accepted"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["mailed"], true, "{answer}");
    let letter = answer["letter"].as_str().expect("letter");
    for needle in ["archivio separato", "Garante", "reclamo"] {
        assert!(letter.contains(needle), "{needle}: {letter}");
    }
    let mail = smtp.messages();
    assert!(
        mail.iter()
            .any(|m| m.0 == "anna.verdi@example.org" && m.2.contains("archivio separato")),
        "the answer was delivered: {mail:?}"
    );
    // Issue "Every promise kept": what is left is restricted to the ground
    // that keeps it. Every other read is refused, and says why.
    for role in [
        "dpo",
        "support_agent",
        "reseller_admin",
        "domain_admin",
        "subject",
    ] {
        let (status, _, body) = call(
            &app,
            Method::GET,
            &format!("/api/v1/subjects/{a}/records?reason=check"),
            Some(&token_of(&w, role)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{role}: {body}");
        assert!(
            body.contains("restricted after erasure")
                && body.contains("kept only for authority_requests under legal_obligation")
                && body.contains(" until "),
            "{role}: {body}"
        );
    }
    let (status, _, body) = call(
        &app,
        Method::GET,
        &format!("/api/v1/subjects/{a}/records?reason=order%2012&purpose=authority_requests"),
        Some(&token_of(&w, "support_agent")),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "only the DPO, for the ground: {body}"
    );
    let (status, _, body) = call(
        &app,
        Method::GET,
        &format!("/api/v1/subjects/{a}/records?reason=order%2012&purpose=authority_requests"),
        Some(&dpo),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let left: serde_json::Value = serde_json::from_str(&body).expect("json");
    let policy = w.custode.store.policy();
    let left = left.as_array().expect("records");
    assert!(!left.is_empty());
    for r in left {
        assert_eq!(r["category"], "contact", "{r}");
        for p in r["purposes"].as_array().expect("purposes") {
            let p = policy.purpose(p.as_str().expect("purpose")).expect("known");
            assert_eq!(p.basis, custode_policy::Basis::LegalObligation, "{r}");
        }
    }
    // Decisions answer `erased` but for the ground that keeps data.
    for (purpose, allowed, reason) in [
        ("service", false, "erased"),
        ("support", false, "erased"),
        ("authority_requests", true, "legal_obligation"),
    ] {
        let (status, _, body) = call(
            &app,
            Method::GET,
            &format!("/api/v1/subjects/{a}/decisions/{purpose}"),
            Some(&agent),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let d: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(d["allowed"], allowed, "{purpose}: {d}");
        if !allowed {
            assert_eq!(d["reason"], reason, "{purpose}: {d}");
        }
    }
    // New data are refused as after a whole erasure.
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/subjects/{a}/records"),
        Some(&agent),
        Some(r#"{"reason":"late sync","records":[{"category":"contact","fields":{"email":"new@example.org"},"source":"crm"}]}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    // The list says how far it is erased, and until when.
    let (status, _, body) = call(&app, Method::GET, "/api/v1/subjects", Some(&dpo), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    let me_listed = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["id"] == a.as_str())
        .expect("listed");
    assert_eq!(me_listed["erasure"], "partial", "{me_listed}");
    assert!(me_listed["kept_until"].is_string(), "{me_listed}");
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restriction_is_lifted_only_after_the_subject_is_told_by_mail() {
    let w = world().await;
    let smtp = SmtpPeer::start(&w.dir);
    let app = router(
        AppState::new(w.custode.clone(), Arc::new(custode_domain::SystemClock)).with_mailer(
            custode_server::mail::Mailer::new(
                &format!("smtp://127.0.0.1:{}", smtp.port),
                "privacy@posta.example",
                Default::default(),
            )
            .expect("mailer"),
        ),
    );
    let agent = token_of(&w, "support_agent");
    let a = w.a_subject.to_string();
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/subjects/{a}/records"),
        Some(&agent),
        Some(r#"{"reason":"signup","records":[{"category":"contact","fields":{"email":"anna.verdi@example.org"},"source":"signup form"}]}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let lift = |notify: &str| {
        Some(format!(
            r#"{{"notify":"{notify}","reason":"the accuracy of your data was confirmed","language":"en"}}"#
        ))
    };
    let uri = format!("/api/v1/subjects/{a}/restriction/lift");
    let reason = || async {
        let (status, _, body) = call(
            &app,
            Method::GET,
            &format!("/api/v1/subjects/{a}/decisions/analytics"),
            Some(&agent),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["reason"].clone()
    };
    let (status, _, body) = call(
        &app,
        Method::POST,
        &uri,
        Some(&agent),
        lift("anna.verdi@example.org"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing to lift yet: {body}");
    let (status, _) = consent(&w, &agent, r#"{"kind":"restricted"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(reason().await, "restricted");
    let (status, body) = consent(&w, &agent, r#"{"kind":"restriction_lifted"}"#).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not without a notice: {body}"
    );
    let (status, _, body) = call(
        &w.app,
        Method::POST,
        &uri,
        Some(&agent),
        lift("anna.verdi@example.org"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "no relay, no notice, no lift: {body}"
    );
    let (status, _, body) = call(
        &app,
        Method::POST,
        &uri,
        Some(&agent),
        lift("someone.else@example.org"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(smtp.messages().is_empty(), "nothing sent to a stranger");
    let (status, _, body) = call(
        &app,
        Method::POST,
        &uri,
        Some(&agent),
        lift("anna.verdi@example.org"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].0, "anna.verdi@example.org");
    assert!(
        mail[0]
            .2
            .contains("the accuracy of your data was confirmed"),
        "{}",
        mail[0].2
    );
    assert!(mail[0].2.contains("Article 18"), "{}", mail[0].2);
    assert_ne!(reason().await, "restricted", "processing resumes");
    let _ = std::fs::remove_dir_all(&w.dir);
}

// Issue "Every promise kept", B: the HTTP plan is the store's whole plan —
// moves to the vault and the vault's own ends, by day — and `at` shows the
// state as of a later day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_plan_foresees_moves_to_the_vault_as_of_a_later_day() {
    let w = world_with(TELECOM, "customer").await;
    let field = |name: &str, value: &str| {
        [(name.to_owned(), serde_json::Value::from(value))]
            .into_iter()
            .collect()
    };
    let record = |category: &str, name: &str| custode_domain::NewRecord {
        category: category.to_owned(),
        fields: field(name, "synthetic"),
        source: "test".into(),
        purposes: vec![],
        collected_at: None,
    };
    w.custode
        .store
        .write_records(
            &Principal::system("test"),
            "test",
            vec![
                (
                    w.a_subject.clone(),
                    record("phone_traffic", "called_number"),
                ),
                (
                    w.a_subject.clone(),
                    record("phone_traffic", "called_number"),
                ),
                (
                    w.a_subject.clone(),
                    record("unanswered_calls", "unanswered_call"),
                ),
            ],
        )
        .await
        .expect("write");
    let dpo = token_of(&w, "dpo");
    let at = w
        .custode
        .retention
        .today()
        .checked_add(jiff::Span::new().months(7))
        .expect("day")
        .to_string();
    let (status, _, body) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/retention/plan?at={at}"),
        Some(&dpo),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let plan: serde_json::Value = serde_json::from_str(&body).expect("json");
    let has = |action: &str, category: &str, rule: &str, records: u64| {
        plan["actions"].as_array().is_some_and(|lines| {
            lines.iter().any(|l| {
                l["action"] == action
                    && l["category"] == category
                    && l["rule"] == rule
                    && l["records"] == records
            })
        })
    };
    assert!(
        has("vaulted", "phone_traffic", "keep_phone_traffic", 2),
        "{plan}"
    );
    assert!(
        has("vaulted", "unanswered_calls", "keep_unanswered_calls", 1),
        "{plan}"
    );
    assert!(
        has(
            "vault_erased",
            "unanswered_calls",
            "keep_unanswered_calls",
            1
        ),
        "{plan}"
    );
    assert_eq!(
        plan["closures"],
        serde_json::json!([]),
        "no account reaches its inactivity rule within 7 months: {plan}"
    );
    let held = plan["held"].as_array().expect("held");
    assert!(
        held.iter().any(|h| h["store"] == "vault"
            && h["category"] == "phone_traffic"
            && h["now"] == 0
            && h["then"] == 2),
        "{plan}"
    );
    for bad in ["at=2020-01-01", "at=tomorrow", "days=5&at=2030-01-01"] {
        let (status, _, body) = call(
            &w.app,
            Method::GET,
            &format!("/api/v1/retention/plan?{bad}"),
            Some(&dpo),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    assert_eq!(
        w.custode.vault.vault_count().await.expect("count"),
        0,
        "changes nothing"
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

// Issue "Every promise kept", item 2 (Art. 19): the recipient with an
// address gets its mail from a real SMTP peer, staff confirm the task of
// another over the API, and the letter names only the recipients told (with
// their day) and those pending — never one that did not get the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_are_told_by_mail_or_by_staff_and_the_letter_names_only_them() {
    let w = world().await;
    let smtp = SmtpPeer::start(&w.dir);
    let app = router(
        AppState::new(w.custode.clone(), Arc::new(custode_domain::SystemClock)).with_mailer(
            custode_server::mail::Mailer::new(
                &format!("smtp://127.0.0.1:{}", smtp.port),
                "privacy@posta.example",
                Default::default(),
            )
            .expect("mailer"),
        ),
    );
    let agent = token_of(&w, "support_agent");
    let dpo = token_of(&w, "dpo");
    let me = token_of(&w, "subject");
    let a = w.a_subject.to_string();
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/subjects/{a}/records"),
        Some(&agent),
        Some(
            r#"{"reason":"signup","records":[
                {"category":"contact","fields":{"email":"bruno.neri@example.org"},"source":"signup form"},
                {"category":"usage","fields":{"ip_address":"192.0.2.8","access_time":"2026-11-20T08:00:00Z","access_method":"imap"},"source":"dovecot"}
            ]}"#
            .into(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = call(&app, Method::POST, "/api/v1/requests", Some(&me),
        Some(format!(r#"{{"subject":"{a}","rights":["erasure"],"contact":"bruno.neri@example.org","language":"it"}}"#))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let filed: serde_json::Value = serde_json::from_str(&body).expect("json");
    let id = filed["id"].as_str().expect("id").to_owned();
    let sys = Principal::system("test");
    w.custode
        .requests
        .put_document(
            &sys,
            &id,
            custode_requests::DocumentKind::IdDocument,
            "application/pdf",
            b"%PDF-1.7 synthetic scan",
        )
        .await
        .expect("document");
    w.custode
        .requests
        .approve_identity(&sys, &id)
        .await
        .expect("approve");
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/fulfil"),
        Some(&dpo),
        Some("{}".into()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    w.custode
        .requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("jobs");

    let (status, _, body) = call(&app, Method::GET, "/api/v1/notices", Some(&me), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "staff only: {body}");
    let (status, _, body) = call(&app, Method::GET, "/api/v1/notices", Some(&dpo), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pending: serde_json::Value = serde_json::from_str(&body).expect("json");
    let mut names: Vec<&str> = pending
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["recipient"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["domain_admins", "hosting", "mail_relay", "resellers"],
        "{pending}"
    );
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/notices/confirm"),
        Some(&dpo),
        Some(r#"{"right":"erasure","recipient":"mail_relay"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let confirmed: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(confirmed["told_at"].is_string(), "{confirmed}");
    assert!(confirmed["told_by"].is_string(), "{confirmed}");

    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/requests/{id}/answer"),
        Some(&dpo),
        Some(r#"{"outcome":"accepted"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mail = smtp.messages();
    let told = mail
        .iter()
        .find(|m| m.0 == "privacy@centrodati.example")
        .unwrap_or_else(|| panic!("the recipient got its notice: {mail:?}"));
    assert!(
        told.2.contains(&a),
        "names the subject by its id: {}",
        told.2
    );
    assert!(told.1.contains(&id), "{}", told.1);
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    let letter = answer["letter"].as_str().expect("letter");
    let (told, pending) = letter
        .split_once("Stiamo informando")
        .unwrap_or_else(|| panic!("{letter}"));
    assert!(told.contains("Centrodati Lumière SAS, il "), "{letter}");
    assert!(told.contains("Relais Alpin SA, il "), "{letter}");
    assert!(
        pending.contains("Rivenditori autorizzati Posta Cirro"),
        "{letter}"
    );
    for never in [
        "Autorità giudiziaria e forze di polizia",
        "Studio Contabile Bardi",
    ] {
        assert!(!letter.contains(never), "{never}: {letter}");
    }
    let (status, _, body) = call(
        &app,
        Method::GET,
        "/api/v1/notices?all=true",
        Some(&dpo),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let all: serde_json::Value = serde_json::from_str(&body).expect("json");
    let told_by: Vec<&str> = all
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["told_by"].as_str())
        .collect();
    assert_eq!(told_by.len(), 2, "{all}");
    assert!(told_by.contains(&"mail"), "{all}");
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// Seed 002's "deactivation is prompt, permanent deletion" over the API:
/// closing a tenant erases its subjects (410 after), kills the tokens
/// scoped to it (401), replaces its name, refuses new subjects under it
/// (409), leaves its neighbours alone, and answers again without change.
/// Only a role that may close, from a node above, reaches it.
#[tokio::test]
async fn closing_a_tenant_erases_it_and_kills_its_credentials() {
    let w = world().await;
    let close = |id: &str| format!("/api/v1/tenants/{id}/close");
    let body = || Some(r#"{"reason":"subscriber deactivated"}"#.to_owned());
    let dpo = token_of(&w, "dpo");
    let domain_admin = token_of(&w, "domain_admin");
    let reseller_admin = token_of(&w, "reseller_admin");

    // The domain's own admin may not close (role), nor the reseller its own
    // node; outside one's scope the tenant is not found.
    let (status, _, _) = call(
        &w.app,
        Method::POST,
        &close(&w.domain_a),
        Some(&domain_admin),
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(
        &w.app,
        Method::POST,
        &close(&w.reseller),
        Some(&reseller_admin),
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let sys = Principal::system("test");
    let provider = w
        .custode
        .store
        .tenant(
            &sys,
            &custode_domain::TenantId::parse(&w.reseller).expect("id"),
        )
        .await
        .expect("reseller")
        .parent
        .expect("provider");
    let elsewhere = w
        .custode
        .store
        .create_tenant(
            &sys,
            Some(&provider),
            TenantKind::Domain,
            "elsewhere.example",
        )
        .await
        .expect("tenant");
    let (status, _, _) = call(
        &w.app,
        Method::POST,
        &close(elsewhere.id.as_str()),
        Some(&reseller_admin),
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, out) = call(
        &w.app,
        Method::POST,
        &close(&w.domain_a),
        Some(&reseller_admin),
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let out: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(out["already_closed"], false);
    assert_eq!(out["erased"], 1);
    assert_eq!(
        out["tokens_revoked"], 2,
        "the domain admin's and the subject's"
    );

    let a = &w.a_subject;
    let (status, _, _) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/subjects/{a}/records?reason=check"),
        Some(&dpo),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    let (status, _, _) = call(
        &w.app,
        Method::GET,
        "/api/v1/subjects",
        Some(&domain_admin),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a token of a closed tenant is dead"
    );
    let (status, _, problem) = call(
        &w.app,
        Method::POST,
        "/api/v1/subjects",
        Some(&token_of(&w, "support_agent")),
        Some(format!(
            r#"{{"tenant":"{}","kind":"mailbox_user","reason":"late"}}"#,
            w.domain_a
        )),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem.contains("closed"), "{problem}");
    let b = &w.b_subject;
    let (status, _, _) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/subjects/{b}/records?reason=check"),
        Some(&dpo),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the neighbour is untouched");
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM tenants")
        .fetch_all(w.custode.store.pool())
        .await
        .expect("names");
    assert!(
        names.contains(&format!("closed tenant {}", w.domain_a)),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n == "a"), "{names:?}");

    let (status, _, again) = call(
        &w.app,
        Method::POST,
        &close(&w.domain_a),
        Some(&reseller_admin),
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let again: serde_json::Value = serde_json::from_str(&again).expect("json");
    assert_eq!(again["already_closed"], true);
    assert_eq!(again["erased"], 0);
    assert_eq!(again["closed_at"], out["closed_at"]);

    let (status, _, report) = call(
        &w.app,
        Method::GET,
        "/api/v1/audit/verify",
        Some(&dpo),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(report.contains(r#""intact":true"#), "{report}");
}

/// Issue #21: a request filed by e-mail over the API, bad identifiers
/// refused with a 400 that changes nothing, and an attestation by a role
/// the policy does not name refused with a 403 that changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_by_identity_and_attestation_over_the_api() {
    // Telecom lets a trusted system attest, and no staff role.
    let w = world_with(TELECOM, "customer").await;
    let dpo = token_of(&w, "dpo");
    let agent = token_of(&w, "support_agent");
    let me = token_of(&w, "subject");
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let portal = w
        .custode
        .accounts
        .issue_held_token(
            &root,
            "selfcare",
            "the self-care portal",
            &Grant {
                role: Role::System,
                scope_path: "/".into(),
                subject: None,
            },
            None,
        )
        .await
        .expect("system token")
        .token;
    let subjects = w.custode.store.count_subjects(&root).await.expect("count");
    for (body, says) in [
        (
            r#"{"identifier":{"kind":"email","value":"not-an-address"},"rights":["access"]}"#,
            "not an e-mail address",
        ),
        (
            r#"{"identifier":{"kind":"passport","value":"X1"},"rights":["access"]}"#,
            "not declared by the policy",
        ),
        (
            r#"{"rights":["access"],"contact":"a@example.org"}"#,
            "exactly one of",
        ),
        (
            &format!(
                r#"{{"subject":"{}","identifier":{{"kind":"email","value":"a@example.org"}},"rights":["access"]}}"#,
                w.a_subject
            ),
            "exactly one of",
        ),
    ] {
        let (status, ctype, text) = call(
            &w.app,
            Method::POST,
            "/api/v1/requests",
            Some(&dpo),
            Some(body.to_owned()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert_eq!(ctype, "application/problem+json");
        assert!(text.contains(says), "{body}: {text}");
    }
    assert_eq!(
        w.custode.store.count_subjects(&root).await.expect("count"),
        subjects
    );

    // A subject files for itself only.
    let (status, _, text) = call(
        &w.app,
        Method::POST,
        "/api/v1/requests",
        Some(&me),
        Some(
            r#"{"identifier":{"kind":"email","value":"x@example.net"},"rights":["access"]}"#.into(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");

    let (status, _, text) = call(
        &w.app,
        Method::POST,
        "/api/v1/requests",
        Some(&dpo),
        Some(r#"{"identifier":{"kind":"email","value":"New.Person@Example.net"},"rights":["access"],"language":"en"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let filed: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(filed["found"], "created", "{filed}");
    let id = filed["id"].as_str().expect("id").to_owned();

    let attest = r#"{"method":"logged in to the self-care portal","verified_by":"selfcare","reference":"session 42"}"#;
    let denied = denied_count(&w.custode).await;
    for token in [&dpo, &agent] {
        let (status, ctype, text) = call(
            &w.app,
            Method::POST,
            &format!("/api/v1/requests/{id}/attest-identity"),
            Some(token),
            Some(attest.into()),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert_eq!(ctype, "application/problem+json");
        assert!(text.contains("attest_roles"), "{text}");
    }
    assert_eq!(
        denied_count(&w.custode).await,
        denied + 2,
        "refusals audited"
    );
    let (_, _, text) = call(
        &w.app,
        Method::GET,
        &format!("/api/v1/requests/{id}"),
        Some(&dpo),
        None,
    )
    .await;
    let shown: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(shown["identity"], "unverified", "nothing changed: {shown}");

    let (status, _, text) = call(
        &w.app,
        Method::POST,
        &format!("/api/v1/requests/{id}/attest-identity"),
        Some(&portal),
        Some(attest.into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let attested: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(attested["identity"], "verified");
    assert_eq!(attested["identity_method"], "attestation");

    // Carried out and answered: nothing is held about this address.
    let (status, _, text) = call(
        &w.app,
        Method::POST,
        &format!("/api/v1/requests/{id}/fulfil"),
        Some(&dpo),
        Some("{}".into()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    w.custode
        .requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("jobs");
    let (status, _, text) = call(
        &w.app,
        Method::POST,
        &format!("/api/v1/requests/{id}/answer"),
        Some(&dpo),
        Some(r#"{"outcome":"accepted"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("We hold no personal data about you"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}
