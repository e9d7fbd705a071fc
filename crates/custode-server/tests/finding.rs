//! Finding people, the tenancy tree and a subject's audit trail over HTTP:
//! who may call each endpoint, what each caller sees within its scope, the
//! subject's own view of its trail, CSV and JSON, and bad input answered
//! 400 with nothing recorded.

use custode_server::Custode;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use custode_accounts::Grant;
use custode_domain::{NewRecord, Principal, Role, Scope, SubjectId, TenantKind};
use custode_server::{AppState, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

const EMAIL_HOSTING: &str = include_str!("../../../policies/email-hosting.toml");

struct World {
    app: Router,
    custode: Custode,
    dir: std::path::PathBuf,
    /// In domain A, known by mario.rossi@example.com.
    mario: SubjectId,
    /// In domain B, known by the same address.
    bianca: SubjectId,
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
}

fn contact(email: &str) -> NewRecord {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("email".to_owned(), serde_json::Value::from(email));
    NewRecord {
        category: "contact".into(),
        fields,
        source: "signup-form".into(),
        purposes: vec![],
        collected_at: None,
    }
}

async fn world() -> World {
    let dir = std::env::temp_dir().join(format!("custode-finding-{}", SubjectId::generate()));
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
    let policy = Arc::new(custode_policy::load("p.toml", EMAIL_HOSTING).expect("policy"));
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
    custode
        .store
        .create_tenant(&sys, Some(&provider.id), TenantKind::Domain, "direct")
        .await
        .expect("direct");
    let mario = custode
        .store
        .create_subject(&sys, &domain_a.id, "mailbox_user", "t")
        .await
        .expect("s");
    let bianca = custode
        .store
        .create_subject(&sys, &domain_b.id, "mailbox_user", "t")
        .await
        .expect("s");
    custode
        .store
        .write_records(
            &sys,
            "signup",
            vec![
                (mario.clone(), contact("mario.rossi@example.com")),
                (bianca.clone(), contact("mario.rossi@example.com")),
            ],
        )
        .await
        .expect("records");
    let root = Principal {
        id: "test:root".into(),
        role: Role::Administrator,
        scope: Scope::everything(),
    };
    let grant = |role, path: &str, subject: Option<SubjectId>| Grant {
        role,
        scope_path: path.to_owned(),
        subject,
    };
    let mut tokens = Vec::new();
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
            grant(Role::Subject, &domain_a.path, Some(mario.clone())),
        ),
    ] {
        let t = custode
            .accounts
            .issue_held_token(&root, name, &format!("the test's {name}"), &g, None)
            .await
            .expect("token");
        tokens.push((name, t.token));
    }
    World {
        app: router(AppState::new(custode.clone(), clock)),
        custode,
        dir,
        mario,
        bianca,
        tokens,
    }
}

async fn get(app: &Router, uri: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(Method::GET).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
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

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

async fn audit_rows(custode: &Custode) -> i64 {
    sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log")
            .fetch_one(custode.store.pool())
            .await
            .expect("count"),
        0,
    )
}

const FIND: &str = "/api/v1/subjects?identifier=email:Mario.Rossi%40example.com&reason=ticket%207";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_finds_lists_and_reads_trails_as_the_table_says() {
    let w = world().await;
    let mario = &w.mario;
    let trail = format!("/api/v1/subjects/{mario}/audit");
    // role: find, tenants, trail of Mario.
    let table: [(&str, [u16; 3]); 7] = [
        ("administrator", [403, 200, 403]),
        ("dpo", [200, 200, 200]),
        ("support_agent", [200, 200, 403]),
        ("legal_officer", [403, 403, 403]),
        ("reseller_admin", [200, 200, 403]),
        ("domain_admin", [200, 200, 403]),
        ("subject", [403, 403, 200]),
    ];
    for (role, expected) in table {
        let token = w.token(role).to_owned();
        for (uri, want) in [FIND, "/api/v1/tenants", trail.as_str()]
            .into_iter()
            .zip(expected)
        {
            let (status, _, body) = get(&w.app, uri, Some(&token)).await;
            assert_eq!(status.as_u16(), want, "{role} GET {uri}: {body}");
        }
    }
    for uri in [FIND, "/api/v1/tenants", trail.as_str()] {
        assert_eq!(get(&w.app, uri, None).await.0, StatusCode::UNAUTHORIZED);
    }
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_find_by_email_answers_the_callers_scope_and_is_audited() {
    let w = world().await;
    let (status, _, body) = get(&w.app, FIND, Some(w.token("reseller_admin"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut found: Vec<String> = json(&body)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect();
    found.sort();
    let mut both = vec![w.mario.to_string(), w.bianca.to_string()];
    both.sort();
    assert_eq!(found, both);
    let (status, _, body) = get(&w.app, FIND, Some(w.token("domain_admin"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = json(&body)["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(items[0]["id"], w.mario.as_str());
    assert_eq!(items[0]["kind"], "mailbox_user");
    let entries = w
        .custode
        .store
        .audit_of_subject(&w.mario, 20)
        .await
        .expect("audit");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.body.contains("\"subject.found\"") && e.body.contains("ticket 7"))
            .count(),
        2,
        "the reseller's find and the domain's"
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_finds_and_filters_are_400_and_record_nothing() {
    let w = world().await;
    let dpo = w.token("dpo").to_owned();
    let mario = &w.mario;
    let before = audit_rows(&w.custode).await;
    for (uri, says) in [
        (
            "/api/v1/subjects?identifier=tax_code:RSSMRA80A01H501U&reason=t".to_owned(),
            "email, phone, vat_number, ip_address, username",
        ),
        (
            "/api/v1/subjects?identifier=shoe_size:42&reason=t".to_owned(),
            "not declared",
        ),
        (
            "/api/v1/subjects?identifier=mario%40example.com&reason=t".to_owned(),
            "KIND:VALUE",
        ),
        (
            "/api/v1/subjects?identifier=email:mario%40example.com".to_owned(),
            "reason",
        ),
        (
            "/api/v1/subjects?identifier=email:mario%40example.com&reason=t&limit=5".to_owned(),
            "every match",
        ),
        ("/api/v1/subjects?reason=t".to_owned(), "identifier"),
        (
            format!("/api/v1/subjects/{mario}/audit?action=records.stolen"),
            "unknown action",
        ),
        (
            format!("/api/v1/subjects/{mario}/audit?format=xml"),
            "json or csv",
        ),
        (
            format!("/api/v1/subjects/{mario}/audit?from=yesterday"),
            "RFC 3339",
        ),
        (
            format!("/api/v1/subjects/{mario}/audit?from=2026-02-01&to=2026-01-01"),
            "before",
        ),
        (format!("/api/v1/subjects/{mario}/audit?after=x"), "next"),
        ("/api/v1/tenants?limit=0".to_owned(), "limit"),
        ("/api/v1/tenants?after=nope".to_owned(), ""),
    ] {
        let (status, ctype, body) = get(&w.app, &uri, Some(&dpo)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(ctype, "application/problem+json");
        assert!(
            json(&body)["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{uri}: {body}"
        );
    }
    // The subject's own view names no staff, so it takes no actor filter.
    let (status, _, body) = get(
        &w.app,
        &format!("/api/v1/subjects/{mario}/audit?actor=token:x"),
        Some(w.token("subject")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(audit_rows(&w.custode).await, before, "nothing recorded");
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseller_lists_only_its_domains() {
    let w = world().await;
    let (status, _, body) = get(&w.app, "/api/v1/tenants", Some(w.token("reseller_admin"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = json(&body);
    let names: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 3, "{body}");
    assert_eq!(names[0], "r", "the reseller first, then its domains");
    let mut domains = names[1..].to_vec();
    domains.sort_unstable();
    assert_eq!(domains, ["a", "b"], "{body}");
    assert_eq!(page["items"][0]["children"]["domain"], 2);
    assert_eq!(page["items"][1]["subjects"]["mailbox_user"], 1);
    assert_eq!(page["items"][2]["subjects"]["mailbox_user"], 1);
    assert!(page["next"].is_null());
    let (_, _, body) = get(&w.app, "/api/v1/tenants?limit=2", Some(w.token("dpo"))).await;
    let first = json(&body);
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let next = first["next"].as_str().expect("a next page");
    let (_, _, body) = get(
        &w.app,
        &format!("/api/v1/tenants?after={next}"),
        Some(w.token("dpo")),
    )
    .await;
    assert_eq!(
        json(&body)["items"].as_array().map(Vec::len),
        Some(3),
        "{body}"
    );
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dpo_exports_a_trail_and_the_subject_sees_its_own_and_no_one_elses() {
    let w = world().await;
    let mario = &w.mario;
    let support = w.token("support_agent").to_owned();
    let (status, _, body) = get(
        &w.app,
        &format!("/api/v1/subjects/{mario}/records?reason=ticket%2042"),
        Some(&support),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _, body) = get(
        &w.app,
        &format!("/api/v1/subjects/{mario}/audit?reason=complaint"),
        Some(w.token("dpo")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let trail = json(&body);
    assert_eq!(trail["view"], "staff");
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["subject.created", "records.written", "records.read"],
        "{body}"
    );
    let read = &trail["entries"][2];
    assert_eq!(read["role"], "support_agent");
    assert_eq!(read["actor_name"], "the test's support_agent");
    assert_eq!(read["reason"], "ticket 42");

    let (status, ctype, csv) = get(
        &w.app,
        &format!("/api/v1/subjects/{mario}/audit?format=csv&action=records.read"),
        Some(w.token("dpo")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(ctype.starts_with("text/csv"), "{ctype}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "seq,at,kind,action,actor,actor_name,role,reason,categories,records,detail"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("the test's support_agent") && lines[1].contains("ticket 42"));

    // The subject: its own, by role and purpose, no names.
    let me = w.token("subject").to_owned();
    let (status, _, body) = get(
        &w.app,
        &format!("/api/v1/subjects/{mario}/audit"),
        Some(&me),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let own = json(&body);
    assert_eq!(own["view"], "subject");
    assert!(own["note"].as_str().is_some_and(|n| n.contains("role")));
    let read = own["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "records.read")
        .expect("the support agent's read");
    assert_eq!(read["role"], "support_agent");
    assert_eq!(read["reason"], "ticket 42");
    assert!(
        read.get("actor").is_none() && read.get("actor_name").is_none(),
        "{read}"
    );
    assert!(!body.contains("the test's"), "{body}");
    // ... and no one else's.
    let bianca = &w.bianca;
    let (status, _, body) = get(
        &w.app,
        &format!("/api/v1/subjects/{bianca}/audit"),
        Some(&me),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[test]
fn the_openapi_document_lists_the_new_endpoints() {
    let doc = serde_json::to_value(custode_server::openapi()).expect("serialises");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths["/api/v1/tenants"].get("get").is_some());
    assert!(paths["/api/v1/tenants"].get("post").is_some());
    assert!(paths.contains_key("/api/v1/subjects/{id}/audit"));
    let params = paths["/api/v1/subjects"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    assert!(params.iter().any(|p| p["name"] == "identifier"));
}
