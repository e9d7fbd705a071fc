//! The console's pages over HTTP, in process, on both engines: every form
//! of the request workbench, the person's page and the vault refuses a
//! POST without its token or with a wrong one and changes nothing; a role
//! that may not take an action is refused (and the refusal audited); bad
//! input is answered beside its field in the page's language with nothing
//! saved; a request or a person outside the caller's scope is not found.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custode_domain::{Principal, Role};
use custode_requests::{NewRequest, Requester};
use custode_server::AppState;
use custode_testkit::{Env, master_data, on_both_engines, tree};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A browser: its cookies, its language.
struct Browser {
    app: Router,
    cookies: BTreeMap<String, String>,
    lang: &'static str,
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Browser {
    async fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT_LANGUAGE, self.lang)
            .header(header::USER_AGENT, "test-browser");
        if !cookie.is_empty() {
            req = req.header(header::COOKIE, cookie);
        }
        let body = match form {
            Some(fields) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(
                    fields
                        .iter()
                        .map(|(k, v)| format!("{k}={}", encode(v)))
                        .collect::<Vec<_>>()
                        .join("&"),
                )
            }
            None => Body::empty(),
        };
        let res = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        for c in res.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = res.status();
        let headers = res.headers().clone();
        let body = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        if headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
        {
            // Every page: the strict policy, its language, one h1.
            assert_eq!(
                headers.get(header::CONTENT_SECURITY_POLICY).unwrap(),
                custode_web::CSP,
                "{path}"
            );
            assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
            assert_eq!(headers.get("referrer-policy").unwrap(), "no-referrer");
            assert!(body.contains("<html lang=\""), "{path}: no lang");
            assert_eq!(body.matches("<h1").count(), 1, "{path}: one h1");
            assert!(
                !body.contains("style=") && !body.contains("<script"),
                "{path}"
            );
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.send("POST", path, Some(form)).await
    }
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The form token of a page.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

fn location(a: &Answer) -> &str {
    a.headers.get(header::LOCATION).unwrap().to_str().unwrap()
}

fn fr(id: &str) -> String {
    custode_web::Texts::of(custode_policy::Lang::Fr)
        .get(id)
        .replace('\'', "&#39;")
}

async fn console_forms(env: &Env) {
    let custode = env.open_with(Env::telecom()).await;
    let t = tree(&custode).await;
    let sys = Principal::system("test");
    let mut subjects = Vec::new();
    for (tenant, email, name) in [
        (&t.domain_a, "mia@a.example", "Mia Rossi"),
        (&t.domain_b, "bo@b.example", "Bo Jansen"),
    ] {
        let s = custode
            .store
            .create_subject(&sys, &tenant.id, "customer", "t")
            .await
            .unwrap();
        custode
            .store
            .write_records(&sys, "signup", vec![(s.clone(), master_data(email, name))])
            .await
            .unwrap();
        subjects.push(s);
    }
    let (mia, bo) = (subjects[0].clone(), subjects[1].clone());
    let mut ids = Vec::new();
    for (s, contact) in [(&mia, "mia@a.example"), (&bo, "bo@b.example")] {
        let r = custode
            .requests
            .file_request(
                &sys,
                NewRequest {
                    subject: s.clone(),
                    rights: vec![custode_domain::requests::Right::Access],
                    requester: Requester::Subject,
                    contact: contact.into(),
                    text: String::new(),
                    language: None,
                },
            )
            .await
            .unwrap();
        ids.push(r.id);
    }
    custode
        .requests
        .put_document(
            &sys,
            &ids[0],
            custode_requests::DocumentKind::IdDocument,
            "image/png",
            b"\x89PNG\r\n\x1a\n synthetic scan",
        )
        .await
        .unwrap();
    // A support agent of domain A: handles requests, may not erase.
    custode
        .accounts
        .create_user(
            &custode_testkit::admin(),
            "support-anna",
            "a long enough password",
            &custode_accounts::Grant {
                role: Role::SupportAgent,
                scope_path: t.domain_a.path.clone(),
                subject: None,
            },
        )
        .await
        .unwrap();
    let state = AppState::new(custode.clone(), env.clock.clone())
        .with_public_url("https://privacy.example");
    let mut b = Browser {
        app: custode_web::app(state),
        cookies: BTreeMap::new(),
        lang: "fr-BE, en;q=0.5",
    };
    let login = b.get("/console/login").await;
    let signed = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf(&login.body)),
                ("username", "support-anna"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(location(&signed), "/console");
    let page = b.get(&format!("/console/requests/{}", ids[0])).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = csrf(&page.body);
    assert!(page.body.contains(&format!(
        "/console/requests/{}/documents/id_document",
        ids[0]
    )));

    // Every form, without its token and with a wrong one: refused, nothing done.
    let id = ids[0].as_str();
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/console/requests/new".into(),
            vec![
                ("kind", "email"),
                ("value", "mia@a.example"),
                ("right", "erasure"),
                ("language", "it"),
            ],
        ),
        (format!("/console/requests/{id}/approve"), vec![]),
        (format!("/console/requests/{id}/fulfil"), vec![]),
        (
            format!("/console/requests/{id}/extend"),
            vec![("reason", "more time")],
        ),
        (
            format!("/console/requests/{id}/answer"),
            vec![("outcome", "refused"), ("reasons", "no"), ("do", "send")],
        ),
        (
            format!("/console/requests/{id}/notices/confirm"),
            vec![("right", "erasure"), ("recipient", "x")],
        ),
        (
            format!("/console/subjects/{mia}/restrict"),
            vec![("channel", "phone")],
        ),
        (
            format!("/console/subjects/{mia}/erase"),
            vec![("reason", "x"), ("confirm", "yes")],
        ),
        (
            "/console/vault".into(),
            vec![("kind", "email"), ("value", "mia@a.example")],
        ),
    ];
    let wrong = "0".repeat(64);
    for (path, fields) in &forms {
        for token in [None, Some(wrong.as_str())] {
            let mut f = fields.clone();
            if let Some(t) = token {
                f.push(("csrf", t));
            }
            let r = b.post(path, &f).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} with {token:?}");
            assert!(r.body.contains(&fr("error-403-title")), "{path}");
        }
    }
    let all = custode.requests.requests(&sys, false).await.unwrap();
    assert_eq!(all.len(), 2, "nothing filed");
    let r = custode.requests.request(&sys, id).await.unwrap();
    assert_eq!(
        (r.identity.as_str(), r.status.as_str()),
        ("unverified", "open")
    );
    assert!(r.extension.is_none() && r.jobs.is_empty());
    assert!(
        custode
            .ledger
            .decide(&sys, &mia, "service")
            .await
            .unwrap()
            .allowed,
        "not restricted"
    );
    assert!(
        custode.store.records(&sys, &mia, "check").await.is_ok(),
        "not erased"
    );

    // The role: a support agent may not erase, nor open the vault; each
    // refusal is audited.
    let denied_before = denials(&custode).await;
    let r = b
        .post(
            &format!("/console/subjects/{mia}/erase"),
            &[("csrf", &token), ("reason", "x"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        custode.store.records(&sys, &mia, "check").await.is_ok(),
        "not erased"
    );
    assert_eq!(b.get("/console/vault").await.status, StatusCode::FORBIDDEN);
    assert_eq!(denials(&custode).await, denied_before + 2);

    // Bad input: beside the field, in French, nothing saved.
    let r = b
        .post(
            "/console/requests/new",
            &[
                ("csrf", &token),
                ("kind", "email"),
                ("value", "mia@a.example"),
                ("right", "flying"),
                ("language", "it"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"rights-error\"") && r.body.contains(&fr("error-rights")));
    let r = b
        .post(
            "/console/requests/new",
            &[
                ("csrf", &token),
                ("kind", "email"),
                ("value", "not an address"),
                ("right", "access"),
                ("language", "it"),
            ],
        )
        .await;
    assert!(
        r.body.contains("aria-describedby=\"value-error\"")
            && r.body.contains(&fr("error-identifier"))
    );
    let r = b
        .post(
            &format!("/console/requests/{id}/extend"),
            &[("csrf", &token), ("reason", "  ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("aria-describedby=\"reason-error\"")
            && r.body.contains(&fr("error-extend-reason"))
    );
    let r = b
        .post(
            &format!("/console/requests/{id}/answer"),
            &[("csrf", &token), ("outcome", "maybe"), ("do", "send")],
        )
        .await;
    assert!(
        r.body.contains("aria-describedby=\"outcome-error\"")
            && r.body.contains(&fr("error-choice"))
    );
    let r = b
        .post(
            &format!("/console/requests/{id}/answer"),
            &[
                ("csrf", &token),
                ("outcome", "refused"),
                ("reasons", ""),
                ("do", "send"),
            ],
        )
        .await;
    assert!(
        r.body.contains("aria-describedby=\"reasons-error\"")
            && r.body.contains(&fr("error-answer-reasons"))
    );
    let r = b
        .post(
            &format!("/console/subjects/{mia}/restrict"),
            &[("csrf", &token), ("channel", "pigeon")],
        )
        .await;
    assert!(r.body.contains("aria-describedby=\"channel-error\""));
    let r = b.get(&format!("/console/subjects/{mia}?reason=")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(&fr("error-reason-read")) && !r.body.contains("Mia Rossi"));
    assert_eq!(
        custode.requests.requests(&sys, false).await.unwrap().len(),
        2,
        "nothing filed"
    );
    let r = custode.requests.request(&sys, id).await.unwrap();
    assert!(r.extension.is_none() && r.status == "open");
    assert!(
        custode
            .ledger
            .decide(&sys, &mia, "service")
            .await
            .unwrap()
            .allowed,
        "not restricted"
    );

    // Out of scope: Bo's request and Bo are not found, as if unknown.
    let r = b.get(&format!("/console/requests/{}", ids[1])).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = b
        .get(&format!(
            "/console/requests/{}/documents/id_document",
            ids[1]
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = b
        .get(&format!("/console/subjects/{bo}?reason=curious"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("Bo Jansen"));
    let r = b
        .post(
            &format!("/console/requests/{}/approve", ids[1]),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    custode.close().await;
}

async fn denials(custode: &custode_server::Custode) -> i64 {
    sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
            .fetch_one(custode.store.pool())
            .await
            .unwrap(),
        0,
    )
}

on_both_engines!(console_forms);
