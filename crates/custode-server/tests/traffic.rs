//! The traffic endpoints as a provider's systems and its people call them:
//! a CDR file posted by a system token is stored and summarised, bad input
//! is a 4xx that says where, the extraction is the legal officer's alone,
//! and the bill check masks the numbers called.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use custode_accounts::Grant;
use custode_domain::{NewRecord, Principal, Role, TenantKind};
use custode_server::{AppState, Custode, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

const TELECOM: &str = include_str!("../../../policies/telecom.toml");

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    ctype: &str,
    body: String,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ctype)
        .body(Body::from(body))
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_is_ingested_extracted_and_itemised_over_the_api() {
    let dir = std::env::temp_dir().join(format!(
        "custode-api-traffic-{}",
        custode_domain::SubjectId::generate()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let key =
        || custode_store::MasterKeySource::Given(custode_crypto::Key::generate().expect("key"));
    let config = custode_store::StoreConfig {
        database_url: format!("sqlite://{}/c.db", dir.display()),
        keystore_url: format!("sqlite://{}/k.db", dir.display()),
        master_key: key(),
        mode: custode_store::OpenMode::CreateIfMissing,
        vault_url: format!("sqlite://{}/v.db", dir.display()),
        vault_key: key(),
    };
    let policy = Arc::new(custode_policy::load("telecom.toml", TELECOM).expect("policy"));
    let clock = Arc::new(custode_domain::SystemClock);
    let custode = Custode::open(&config, policy, clock.clone())
        .await
        .expect("store");
    let sys = Principal::system("test");
    let provider = custode
        .store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("provider");
    let domain = custode
        .store
        .create_tenant(&sys, Some(&provider.id), TenantKind::Domain, "lines")
        .await
        .expect("domain");
    let anna = custode
        .store
        .create_subject(&sys, &domain.id, "customer", "contract")
        .await
        .expect("subject");
    custode
        .store
        .write_records(
            &sys,
            "contract",
            vec![(
                anna.clone(),
                NewRecord {
                    category: "master_data".into(),
                    fields: [("phone".to_owned(), serde_json::Value::from("+393331000001"))]
                        .into_iter()
                        .collect(),
                    source: "contract".into(),
                    purposes: vec![],
                    collected_at: None,
                },
            )],
        )
        .await
        .expect("record");
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: custode_domain::Scope::everything(),
    };
    let mut tokens = std::collections::HashMap::new();
    for (name, role) in [
        ("system", Role::System),
        ("dpo", Role::Dpo),
        ("legal_officer", Role::LegalOfficer),
    ] {
        let grant = Grant {
            role,
            scope_path: "/".into(),
            subject: None,
        };
        let t = custode
            .accounts
            .issue_held_token(&root, name, "the test", &grant, None)
            .await
            .expect("token");
        tokens.insert(name, t.token);
    }
    let app = router(AppState::new(custode.clone(), clock));
    let yesterday = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    let cdr = format!(
        "caller,callee,start,duration,answered,cell\n+393331000001,+390287654321,{yesterday},61,1,c1\n+393331000001,+390287654321,{yesterday},61\n"
    );
    let (status, body) = send(
        &app,
        "POST",
        "/api/v1/traffic/ingest?kind=cdr",
        &tokens["system"],
        "text/plain",
        cdr.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stored"], 1);
    assert_eq!(body["pending"], 0);
    assert_eq!(body["rejected"][0]["line"], 3);
    assert_eq!(
        body["rejected"][0]["why"],
        "4 columns where the layout has 6"
    );

    // Bad input: a 4xx that says what and where, nothing stored.
    let (status, body) = send(
        &app,
        "POST",
        "/api/v1/traffic/ingest?kind=fax",
        &tokens["system"],
        "text/plain",
        cdr.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = send(
        &app,
        "POST",
        "/api/v1/traffic/ingest?kind=radius",
        &tokens["system"],
        "text/plain",
        cdr.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .starts_with("line 1:")
    );
    let (status, _) = send(
        &app,
        "POST",
        "/api/v1/traffic/ingest?kind=cdr",
        &tokens["dpo"],
        "text/plain",
        cdr,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The extraction: the legal officer's, with a person's fresh factor.
    let order = serde_json::json!({
        "order": {"authority": "Procura di Perugia", "number": "RG 1/2026", "date": "2026-12-01", "scope": "calls"},
        "crime": "other",
        "number": "+393331000001",
        "from": (yesterday - jiff::SignedDuration::from_hours(24)).to_string(),
        "to": jiff::Timestamp::now().to_string(),
        "totp": "123456",
    });
    let (status, body) = send(
        &app,
        "POST",
        "/api/v1/traffic/extract",
        &tokens["dpo"],
        "application/json",
        order.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = send(
        &app,
        "POST",
        "/api/v1/traffic/extract",
        &tokens["legal_officer"],
        "application/json",
        order.to_string(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a token is not a person: {body}"
    );
    let (status, body) = send(
        &app,
        "POST",
        "/api/v1/traffic/extract",
        &tokens["legal_officer"],
        "application/json",
        r#"{"crime": "other", "from": "x", "to": "y"}"#.to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The bill check: the number called, its last three digits masked.
    let from = (yesterday - jiff::SignedDuration::from_hours(1)).to_string();
    let to = jiff::Timestamp::now().to_string();
    let (status, body) = send(
        &app,
        "GET",
        &format!("/api/v1/subjects/{anna}/bill?from={from}&to={to}"),
        &tokens["system"],
        "application/json",
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["called"], "+390287654xxx");
    assert_eq!(body[0]["duration"], 61);
    let (status, _) = send(
        &app,
        "GET",
        &format!("/api/v1/subjects/{anna}/bill?from=bad&to={to}"),
        &tokens["system"],
        "application/json",
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let doc = serde_json::to_value(custode_server::openapi()).expect("openapi");
    for p in [
        "/api/v1/traffic/ingest",
        "/api/v1/traffic/extract",
        "/api/v1/subjects/{id}/bill",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} in /openapi.json");
    }
    custode.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
