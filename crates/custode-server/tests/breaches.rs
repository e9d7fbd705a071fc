//! The breach register over HTTP: who may call it, bad input answered 4xx
//! with what is wrong, a late notice refused without its reasons, the
//! clocks in `/metrics`, and the notification rendered for the DPO.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use custode_accounts::Grant;
use custode_domain::{ManualClock, Principal, Role, Scope, SubjectId, TenantKind};
use custode_server::{AppState, Custode, router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const EMAIL_HOSTING: &str = include_str!("../../../policies/email-hosting.toml");

struct World {
    app: Router,
    clock: Arc<ManualClock>,
    dir: std::path::PathBuf,
    domain_a: String,
    direct: String,
    tokens: Vec<(&'static str, String)>,
}

impl World {
    fn token(&self, role: &str) -> &str {
        self.tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("no {role} token"))
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        role: &str,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token(role)));
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let res = self
            .app
            .clone()
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("response");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

async fn world() -> World {
    let dir = std::env::temp_dir().join(format!("custode-breaches-{}", SubjectId::generate()));
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
    let policy = Arc::new(custode_policy::load("p.toml", EMAIL_HOSTING).expect("policy"));
    let clock = Arc::new(ManualClock::new(
        "2026-03-02T12:00:00Z".parse().expect("instant"),
    ));
    let custode = Custode::open(&config, policy, clock.clone())
        .await
        .expect("store");
    let sys = Principal::system("test");
    let store = &custode.store;
    let provider = store
        .create_tenant(&sys, None, TenantKind::Provider, "p")
        .await
        .expect("p");
    let reseller = store
        .create_tenant(&sys, Some(&provider.id), TenantKind::Reseller, "r")
        .await
        .expect("r");
    let domain_a = store
        .create_tenant(&sys, Some(&reseller.id), TenantKind::Domain, "a")
        .await
        .expect("a");
    let direct = store
        .create_tenant(&sys, Some(&provider.id), TenantKind::Domain, "direct")
        .await
        .expect("direct");
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let mut tokens = Vec::new();
    for (name, role, path) in [
        ("administrator", Role::Administrator, "/"),
        ("dpo", Role::Dpo, "/"),
        ("reseller_dpo", Role::Dpo, reseller.path.as_str()),
        ("support_agent", Role::SupportAgent, "/"),
    ] {
        let grant = Grant {
            role,
            scope_path: path.to_owned(),
            subject: None,
        };
        let t = custode
            .accounts
            .issue_held_token(&root, name, &format!("the test's {name}"), &grant, None)
            .await
            .expect("token");
        tokens.push((name, t.token));
    }
    World {
        app: router(AppState::new(custode.clone(), clock.clone())),
        clock,
        dir,
        domain_a: domain_a.id.to_string(),
        direct: direct.id.to_string(),
        tokens,
    }
}

fn parsed(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn breach(tenant: &str) -> Value {
    json!({
        "tenant": tenant,
        "detected_at": "2026-03-02T08:00:00Z",
        "aware_at": "2026-03-02T10:00:00Z",
        "nature": ["confidentiality", "availability"],
        "description": "The webmail's session store was exposed.",
        "data_categories": ["credentials"],
        "subject_kinds": ["mailbox_user"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_over_http() {
    let w = world().await;
    // Bad input: each says what is wrong.
    let mut no_awareness = breach(&w.domain_a);
    no_awareness
        .as_object_mut()
        .expect("object")
        .remove("aware_at");
    let (status, body) = w
        .call(Method::POST, "/api/v1/breaches", "dpo", Some(no_awareness))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("aware_at"), "{body}");
    let mut unknown = breach(&w.domain_a);
    unknown["data_categories"] = json!(["credentials", "mail_logs"]);
    let (status, body) = w
        .call(Method::POST, "/api/v1/breaches", "dpo", Some(unknown))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("mail_logs") && body.contains("usage"),
        "{body}"
    );
    let mut bad_nature = breach(&w.domain_a);
    bad_nature["nature"] = json!(["leak"]);
    let (status, body) = w
        .call(Method::POST, "/api/v1/breaches", "dpo", Some(bad_nature))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = w
        .call(Method::GET, "/api/v1/breaches", "support_agent", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = w
        .call(
            Method::POST,
            "/api/v1/breaches",
            "dpo",
            Some(breach(&w.domain_a)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mine = parsed(&body);
    assert_eq!(mine["clocks"]["authority_due"], "2026-03-05T10:00:00Z");
    assert_eq!(mine["clocks"]["hours_left"], 70);
    let id = mine["id"].as_str().expect("id").to_owned();
    let (status, body) = w
        .call(
            Method::POST,
            "/api/v1/breaches",
            "dpo",
            Some(breach(&w.direct)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let theirs = parsed(&body)["id"].as_str().expect("id").to_owned();

    // A reseller's DPO sees its own tenants' breaches only.
    let (_, body) = w
        .call(Method::GET, "/api/v1/breaches", "reseller_dpo", None)
        .await;
    assert_eq!(parsed(&body).as_array().map(Vec::len), Some(1), "{body}");
    assert!(body.contains(&id) && !body.contains(&theirs), "{body}");
    let (status, _) = w
        .call(
            Method::GET,
            &format!("/api/v1/breaches/{theirs}"),
            "reseller_dpo",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The clocks in /metrics.
    let (_, metrics) = w.call(Method::GET, "/metrics", "dpo", None).await;
    assert!(
        metrics.contains("custode_breaches_unnotified 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("custode_breach_hours_left 70\n"),
        "{metrics}"
    );

    // Four days on: late, and refused without the reasons for the delay.
    w.clock
        .set("2026-03-06T12:00:00Z".parse().expect("instant"));
    let (_, metrics) = w.call(Method::GET, "/metrics", "dpo", None).await;
    assert!(
        metrics.contains("custode_breaches_overdue 2\n"),
        "{metrics}"
    );
    let notify = format!("/api/v1/breaches/{id}/notifications");
    let (status, body) = w.call(Method::POST, &notify, "dpo", Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("late_reason"), "{body}");
    let (status, body) = w
        .call(
            Method::POST,
            &notify,
            "dpo",
            Some(json!({"late_reason": "The exposure was confirmed by the vendor only on 5 March.", "reference": "AP-2026-17"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parsed(&body)["clocks"]["notified_late"], true);

    // An empty scope, and the notice the DPO files.
    let (status, body) = w
        .call(
            Method::POST,
            &format!("/api/v1/breaches/{id}/assessment"),
            "dpo",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("scope is empty"), "{body}");
    let (status, body) = w
        .call(
            Method::GET,
            &format!("/api/v1/breaches/{id}/notice?lang=en"),
            "dpo",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("Notification of a personal data breach"),
        "{body}"
    );
    assert!(
        body.contains("The exposure was confirmed by the vendor only on 5 March."),
        "{body}"
    );
    assert!(
        body.contains("Access credentials") || body.contains("credentials"),
        "{body}"
    );
    let (status, _) = w
        .call(
            Method::GET,
            &format!("/api/v1/breaches/{id}/notice?format=pdf"),
            "dpo",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The administrator keeps the register but tells no people.
    let (status, _) = w
        .call(
            Method::POST,
            &format!("/api/v1/breaches/{id}/people/notify"),
            "administrator",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No relay, no notices.
    let (status, body) = w
        .call(
            Method::POST,
            &format!("/api/v1/breaches/{id}/people/notify"),
            "dpo",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, body) = w
        .call(
            Method::GET,
            &format!("/api/v1/breaches/{id}/versions"),
            "dpo",
            None,
        )
        .await;
    let versions = parsed(&body);
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(versions[1]["changed"], json!(["notified"]));
    let _ = std::fs::remove_dir_all(&w.dir);
}
