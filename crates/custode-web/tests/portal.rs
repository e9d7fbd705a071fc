//! The portal over HTTP, in process, on both engines: a subject signs in
//! with the code read from the mail, sees its data with purposes, bases and
//! erasure dates, withdraws a consent (and the decision then says so),
//! files a closure after seeing what is kept, and sees who looked; another
//! subject's data never shows; forms without their token or with a wrong
//! one change nothing; bad input is answered beside the field in the page's
//! language and nothing is half-saved; every page has its CSP and `lang`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::{Principal, Role, SubjectId};
use custode_ledger::NewConsentEvent;
use custode_server::AppState;
use custode_testkit::smtp::SmtpPeer;
use custode_testkit::{Env, master_data, on_both_engines, principal_of, tree};
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
    let t = custode_web::Texts::of(custode_policy::Lang::Fr);
    // What the template prints: HTML-escaped.
    t.get(id).replace('\'', "&#39;")
}

async fn code_from(peer: &SmtpPeer, to: &str) -> String {
    for _ in 0..100 {
        if let Some((_, _, body)) = peer.messages().into_iter().find(|(r, _, _)| r == to) {
            let at = body.find(": ").unwrap() + 2;
            return body[at..at + 6].to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no code was mailed to {to}");
}

async fn portal(env: &Env) {
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
    let (mia, bo): (SubjectId, SubjectId) = (subjects[0].clone(), subjects[1].clone());
    custode
        .ledger
        .record_consent(
            &sys,
            &mia,
            NewConsentEvent {
                kind: EventKind::Given,
                purpose: Some("marketing".into()),
                channel: Channel::WebForm,
                language: None,
                evidence: Evidence::default(),
            },
        )
        .await
        .unwrap();
    // Support looks at Mia's data, with a reason she will read.
    let grant = custode_accounts::Grant {
        role: Role::SupportAgent,
        scope_path: t.domain_a.path.clone(),
        subject: None,
    };
    let support_id = custode
        .accounts
        .create_user(
            &custode_testkit::admin(),
            "support-anna",
            "a long enough password",
            &grant,
        )
        .await
        .unwrap();
    let support = Principal {
        id: format!("user:{support_id}"),
        ..principal_of(&t.domain_a, Role::SupportAgent)
    };
    custode
        .store
        .records(&support, &mia, "ticket 4711: billing question")
        .await
        .unwrap();
    let peer = SmtpPeer::start(&env.dir);
    let state = AppState::new(custode.clone(), env.clock.clone())
        .with_public_url("https://privacy.example")
        .with_mailer(
            custode_server::mail::Mailer::new(
                &format!("smtp://127.0.0.1:{}", peer.port),
                "privacy@telecom.example",
                Default::default(),
            )
            .unwrap(),
        );
    let mut b = Browser {
        app: custode_web::app(state),
        cookies: BTreeMap::new(),
        lang: "fr-BE, en;q=0.5",
    };

    // The landing page, in the browser's language.
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("<html lang=\"fr\""));
    assert!(
        home.body.contains("href=\"/portal\"") && home.body.contains("href=\"/console/login\"")
    );
    assert!(home.body.contains("/notice?lang=fr"));
    let css = b.get("/assets/custode.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.len() + home.body.len() < 100 * 1024);
    // Unknown pages: HTML in the language; under /api/ the API's JSON.
    let nope = b.get("/nowhere").await;
    assert_eq!(nope.status, StatusCode::NOT_FOUND);
    assert!(nope.body.contains(&fr("error-404-title")));
    let api = b.get("/api/v1/nowhere").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/problem+json"
    );
    // Signed out, the portal's pages lead to the sign-in.
    assert_eq!(location(&b.get("/portal/me").await), "/portal");

    // Sign in by code.
    let start = b.get("/portal").await;
    assert!(start.body.contains("<label for=\"email\">"));
    let token = csrf(&start.body);
    let refused = b.post("/portal", &[("email", "mia@a.example")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = b
        .post(
            "/portal",
            &[
                ("csrf", "0".repeat(64).as_str()),
                ("email", "mia@a.example"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let bad = b
        .post("/portal", &[("csrf", &token), ("email", "not an address")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("aria-describedby=\"email-error\""));
    assert!(bad.body.contains(&fr("error-email")));
    // A stranger's address is answered as a customer's is.
    let stranger = b
        .post(
            "/portal",
            &[("csrf", &token), ("email", "nobody@x.example")],
        )
        .await;
    let sent = b
        .post("/portal", &[("csrf", &token), ("email", "mia@a.example")])
        .await;
    assert_eq!(stranger.status, sent.status);
    assert!(sent.body.contains(&fr("code-sent")) && stranger.body.contains(&fr("code-sent")));
    let code = code_from(&peer, "mia@a.example").await;
    let mail = peer.messages().into_iter().map(|m| m.2).collect::<String>();
    assert!(
        mail.contains("Votre code pour ouvrir votre portail de confidentialité"),
        "the code mail is in the page's language: {mail}"
    );
    assert_eq!(peer.messages().len(), 1, "only the known address got mail");
    let wrong = if code == "111111" { "222222" } else { "111111" };
    let bad = b
        .post(
            "/portal/code",
            &[
                ("csrf", &token),
                ("email", "mia@a.example"),
                ("code", wrong),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("aria-describedby=\"code-error\"")
            && bad.body.contains(&fr("error-code-wrong"))
    );
    let bad = b
        .post(
            "/portal/code",
            &[
                ("csrf", &token),
                ("email", "mia@a.example"),
                ("code", "12ab"),
            ],
        )
        .await;
    assert!(bad.body.contains(&fr("error-code-shape")));
    let signed = b
        .post(
            "/portal/code",
            &[
                ("csrf", &token),
                ("email", "mia@a.example"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&signed), "/portal/me");
    let cookies: Vec<_> = signed
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().all(|c| c.contains("HttpOnly")
            && c.contains("SameSite=Strict")
            && c.contains("Secure"))
    );

    // My data: purposes, bases, when they go; Bo's never.
    let me = b.get("/portal/me").await;
    assert_eq!(me.status, StatusCode::OK);
    let policy = custode.store.policy();
    let fr_catalog = custode_policy::Catalog::get(custode_policy::Lang::Fr);
    assert!(me.body.contains("mia@a.example") && me.body.contains("Mia Rossi"));
    assert!(!me.body.contains("bo@b.example") && !me.body.contains("Bo Jansen"));
    for purpose in ["service", "tax_records", "marketing"] {
        let p = policy.purpose(purpose).unwrap();
        assert!(
            me.body.contains(p.name.get(custode_policy::Lang::Fr)),
            "{purpose}"
        );
    }
    assert!(
        me.body.contains(
            &fr_catalog
                .msg("basis-legal_obligation")
                .replace('\'', "&#39;")
        )
    );
    assert!(me.body.contains(&fr("me-ends")));
    let token = csrf(&me.body);

    // Withdraw the marketing consent: refused without or with a wrong token.
    let allowed = |c: custode_server::Custode, s: SubjectId| async move {
        c.ledger
            .decide(&Principal::system("test"), &s, "marketing")
            .await
            .unwrap()
            .allowed
    };
    assert!(allowed(custode.clone(), mia.clone()).await);
    let form = [("purpose", "marketing"), ("action", "withdrawn")];
    assert_eq!(
        b.post("/portal/consent", &form).await.status,
        StatusCode::FORBIDDEN
    );
    let wrong_token = "f".repeat(64);
    let with_wrong = [("csrf", wrong_token.as_str()), form[0], form[1]];
    assert_eq!(
        b.post("/portal/consent", &with_wrong).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(
        allowed(custode.clone(), mia.clone()).await,
        "nothing changed"
    );
    let bad = b
        .post(
            "/portal/consent",
            &[
                ("csrf", &token),
                ("purpose", "marketing"),
                ("action", "given"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(&fr("error-choice")));
    let done = b
        .post("/portal/consent", &[("csrf", &token), form[0], form[1]])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(
        !allowed(custode.clone(), mia.clone()).await,
        "the decision says withdrawn"
    );
    assert!(
        b.get(location(&done))
            .await
            .body
            .contains(&fr("done-withdrawn"))
    );

    // Bad corrections: beside the field, and no request filed.
    let bad = b
        .post(
            "/portal/correct",
            &[
                ("csrf", &token),
                ("field", "master_data.nope"),
                ("value", " "),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("aria-describedby=\"field-error\"")
            && bad.body.contains(&fr("error-field"))
    );
    assert!(
        bad.body.contains("aria-describedby=\"value-error\"")
            && bad.body.contains(&fr("error-value"))
    );
    let requests_of = |c: custode_server::Custode| async move {
        c.requests
            .requests(&Principal::system("test"), false)
            .await
            .unwrap()
    };
    assert!(requests_of(custode.clone()).await.is_empty());

    // Closing: what is kept first; no confirmation, no request.
    let close = b.get("/portal/close").await;
    let tax = policy.purpose("tax_records").unwrap();
    assert!(
        close.body.contains(tax.name.get(custode_policy::Lang::Fr)),
        "the legal ground kept"
    );
    let bad = b.post("/portal/close", &[("csrf", &token)]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("aria-describedby=\"confirm-error\"")
            && bad.body.contains(&fr("error-confirm"))
    );
    assert!(requests_of(custode.clone()).await.is_empty());
    let filed = b
        .post("/portal/close", &[("csrf", &token), ("confirm", "yes")])
        .await;
    assert_eq!(location(&filed), "/portal/requests");
    let all = requests_of(custode.clone()).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].subject, mia);
    assert_eq!(
        all[0].identity, "verified",
        "the portal's code proved who asks"
    );
    assert_eq!(all[0].language, "fr");
    let mine = b.get("/portal/requests").await;
    assert!(mine.body.contains(&fr("right-erasure")) && mine.body.contains(&fr("status-open")));

    // Who looked: support, with its reason; no staff names.
    let trail = b.get("/portal/trail").await;
    assert!(trail.body.contains("ticket 4711: billing question"));
    assert!(trail.body.contains(&fr("role-support_agent")));
    assert!(!trail.body.contains("support-anna"), "no staff names");

    // Bo's request is not Mia's to download.
    let bos = custode
        .requests
        .file_request(
            &sys,
            custode_requests::NewRequest {
                subject: bo.clone(),
                rights: vec![custode_domain::requests::Right::Access],
                requester: custode_requests::Requester::Subject,
                contact: "bo@b.example".into(),
                text: String::new(),
                language: None,
            },
        )
        .await
        .unwrap();
    let other = b.get(&format!("/portal/requests/{}/access", bos.id)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert!(!b.get("/portal/requests").await.body.contains(&bos.id));

    // Sign out: the session ends.
    let out = b.post("/portal/logout", &[("csrf", &token)]).await;
    assert_eq!(location(&out), "/");
    assert_eq!(location(&b.get("/portal/me").await), "/portal");
    custode.store.close().await;
}

on_both_engines!(portal);

/// The language switcher's choice outlives the request, and wins over the
/// browser's.
async fn language(env: &Env) {
    let custode = env.open_with(Env::telecom()).await;
    let state = AppState::new(custode.clone(), env.clock.clone());
    let mut b = Browser {
        app: custode_web::app(state),
        cookies: BTreeMap::new(),
        lang: "fr",
    };
    let nl = b.get("/?lang=nl").await;
    assert!(nl.body.contains("<html lang=\"nl\""));
    assert!(nl.headers.get(header::SET_COOKIE).is_some());
    assert!(b.get("/portal").await.body.contains("<html lang=\"nl\""));
    let login = b.get("/console/login").await;
    for field in ["username", "password", "totp"] {
        assert!(login.body.contains(&format!("<label for=\"{field}\">")));
    }
    custode.store.close().await;
}

on_both_engines!(language);
