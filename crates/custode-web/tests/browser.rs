//! The pages as people use them, in a real headless Chromium
//! (custode-browser) against a real server on a port of its own: a
//! customer signs in with the code from the mail, reads its data,
//! withdraws a consent, asks for and downloads its package and closes its
//! account, with JavaScript off and by keyboard alone; an invited DPO sets
//! a password and a second factor, signs in and sees the open requests.
//! axe-core checks every page against WCAG 2.1 AA; screenshots land in
//! `target/screenshots/`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use custode_browser::{Browser, Key, Options};
use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::{Principal, Role, SubjectId};
use custode_ledger::NewConsentEvent;
use custode_server::{AppState, ConnectionLimits, Custode};
use custode_store::Engine;
use custode_testkit::smtp::SmtpPeer;
use custode_testkit::{Env, master_data, tree};
use jiff::SignedDuration;

/// A server of the pages and the API over a fresh SQLite directory under
/// the telecom example policy, mailing through a real SMTP peer; stopped
/// on drop.
struct Site {
    rt: tokio::runtime::Runtime,
    env: Option<Env>,
    custode: Custode,
    base: String,
    peer: SmtpPeer,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Site {
    fn start() -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (env, custode, listener) = rt.block_on(async {
            let env = Env::new(Engine::Sqlite).await;
            let custode = env.open_with(Env::telecom()).await;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            (env, custode, listener)
        });
        let base = format!("http://{}", listener.local_addr().unwrap());
        let peer = SmtpPeer::start(&env.dir);
        let state = AppState::new(custode.clone(), env.clock.clone())
            .with_public_url(&base)
            .with_mailer(
                custode_server::mail::Mailer::new(
                    &format!("smtp://127.0.0.1:{}", peer.port),
                    "privacy@telecom.example",
                    Default::default(),
                )
                .unwrap(),
            );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(custode_server::serve_app(
            listener,
            custode_web::app(state),
            ConnectionLimits::default(),
            async {
                let _ = stopped.await;
            },
        ));
        Site {
            rt,
            env: Some(env),
            custode,
            base,
            peer,
            stop: Some(stop),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn env(&self) -> &Env {
        self.env.as_ref().unwrap()
    }

    /// The six digits of the last code mailed to `to`.
    fn code_mailed_to(&self, to: &str) -> String {
        for _ in 0..100 {
            if let Some((_, _, body)) = self
                .peer
                .messages()
                .into_iter()
                .rev()
                .find(|(r, _, _)| r == to)
            {
                let at = body.find(": ").unwrap() + 2;
                return body[at..at + 6].to_owned();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no code was mailed to {to}");
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let custode = self.custode.clone();
        let env = self.env.take();
        self.rt.block_on(async move {
            custode.store.close().await;
            if let Some(env) = env {
                env.cleanup().await;
            }
        });
    }
}

/// A customer with master data and a marketing consent, and a second one
/// whose data must never show to the first.
fn customers(site: &Site) -> (SubjectId, SubjectId) {
    let sys = Principal::system("test");
    site.rt.block_on(async {
        let c = &site.custode;
        let t = tree(c).await;
        let mut made = Vec::new();
        for (tenant, email, name) in [
            (&t.domain_a, "mia@a.example", "Mia Rossi"),
            (&t.domain_b, "bo@b.example", "Bo Jansen"),
        ] {
            let s = c
                .store
                .create_subject(&sys, &tenant.id, "customer", "signup")
                .await
                .unwrap();
            c.store
                .write_records(&sys, "signup", vec![(s.clone(), master_data(email, name))])
                .await
                .unwrap();
            c.ledger
                .record_consent(
                    &sys,
                    &s,
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
            made.push(s);
        }
        (made[0].clone(), made[1].clone())
    })
}

/// Presses Tab until the element with `id` has the focus: the page is
/// usable by keyboard only if every control is reached this way.
fn tab_to(b: &Browser, id: &str) {
    for _ in 0..60 {
        let focused = b.tab().unwrap();
        if focused.attr("id").unwrap().as_deref() == Some(id) {
            return;
        }
    }
    panic!("#{id} is never reached by Tab on {}", b.url().unwrap());
}

/// Presses Tab until a button whose text holds `label` has the focus, then
/// presses it with Enter.
fn press_button(b: &Browser, label: &str) {
    for _ in 0..80 {
        let focused = b.tab().unwrap();
        if focused.tag().unwrap() == "button" && focused.text().unwrap().contains(label) {
            b.press(Key::Enter).unwrap();
            return;
        }
    }
    panic!(
        "no button `{label}` is reached by Tab on {}",
        b.url().unwrap()
    );
}

/// Checks the page with axe and keeps a screenshot of it.
fn check(b: &Browser, test: &str, page: &str) {
    b.assert_accessible();
    b.screenshot(test, page).unwrap();
}

fn text(id: &str) -> String {
    custode_web::Texts::of(custode_policy::Lang::En).get(id)
}

#[test]
fn a_customer_signs_in_by_code_and_uses_the_portal_without_javascript_by_keyboard() {
    let site = Site::start();
    let (mia, _bo) = customers(&site);
    let b = Browser::start_with(Options {
        javascript: false,
        accept_language: Some("en".into()),
        ..Options::default()
    })
    .unwrap();
    const T: &str = "portal";

    b.goto(&site.url("/")).unwrap();
    check(&b, T, "landing");
    b.goto(&site.url("/portal")).unwrap();
    check(&b, T, "sign-in");
    // The first Tab lands on the skip link, which leads to the content.
    let first = b.tab().unwrap();
    assert_eq!(first.attr("href").unwrap().as_deref(), Some("#main"));
    tab_to(&b, "email");
    b.focused().unwrap().type_text("mia@a.example").unwrap();
    b.press(Key::Enter).unwrap();
    b.wait_for("#code", Duration::from_secs(5)).unwrap();
    assert!(b.text().unwrap().contains(&text("code-sent")));
    check(&b, T, "code");
    let code = site.code_mailed_to("mia@a.example");
    tab_to(&b, "code");
    b.focused().unwrap().type_text(&code).unwrap();
    b.press(Key::Enter).unwrap();
    b.wait_for("#data", Duration::from_secs(5)).unwrap();
    assert!(b.url().unwrap().ends_with("/portal/me"));
    let session = b.cookie("custode_session").unwrap().expect("a session");
    assert!(session.http_only, "scripts never read the session");
    assert_eq!(session.same_site.as_deref(), Some("Strict"));

    // My data, with why it is held and until when; nobody else's.
    let page = b.text().unwrap();
    assert!(page.contains("Mia Rossi") && page.contains("mia@a.example"));
    assert!(!page.contains("Bo Jansen") && !page.contains("bo@b.example"));
    let policy = site.custode.store.policy();
    for purpose in ["service", "marketing"] {
        let name = policy
            .purpose(purpose)
            .unwrap()
            .name
            .get(custode_policy::Lang::En);
        assert!(page.contains(name), "{purpose}: {page}");
    }
    assert!(page.contains(&text("me-ends")));
    check(&b, T, "my-data");

    // Withdraw the marketing consent, by keyboard: the ledger says so.
    let decide = |purpose: &'static str| {
        site.rt.block_on(async {
            site.custode
                .ledger
                .decide(&Principal::system("test"), &mia, purpose)
                .await
                .unwrap()
                .allowed
        })
    };
    assert!(decide("marketing"));
    let marketing = policy
        .purpose("marketing")
        .unwrap()
        .name
        .get(custode_policy::Lang::En);
    press_button(&b, marketing);
    b.wait_for(".done", Duration::from_secs(5)).unwrap();
    assert!(b.text().unwrap().contains(&text("done-withdrawn")));
    assert!(!decide("marketing"), "withdrawn in the ledger");

    // Ask for the package; once the request is fulfilled, download it.
    press_button(&b, &text("me-ask-access"));
    b.wait_for("table", Duration::from_secs(5)).unwrap();
    assert!(b.url().unwrap().ends_with("/portal/requests"));
    check(&b, T, "requests");
    site.rt.block_on(async {
        let c = &site.custode;
        let sys = Principal::system("test");
        let open = c.requests.requests(&sys, false).await.unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].subject, mia);
        assert_eq!(
            open[0].identity, "verified",
            "the mailed code proved who asks"
        );
        c.requests
            .queue_fulfilment(&sys, &open[0].id, Default::default())
            .await
            .unwrap();
        c.requests
            .run_due_jobs(Duration::from_secs(60), &|_| {})
            .await
            .unwrap();
    });
    b.goto(&site.url("/portal/requests")).unwrap();
    let link = b.find("td a[href*='/portal/requests/']").unwrap();
    let href = link.attr("href").unwrap().unwrap();
    let zip = fetch(&site, &href, &session.value);
    assert!(zip.starts_with(b"PK"), "the package is a ZIP file");
    assert!(
        String::from_utf8_lossy(&zip).contains("mia@a.example") || zip.len() > 200,
        "it holds the data"
    );

    // Who looked at my data.
    b.goto(&site.url("/portal/trail")).unwrap();
    check(&b, T, "trail");

    // The correction form, then closing: what is kept is shown first.
    b.goto(&site.url("/portal/correct")).unwrap();
    check(&b, T, "correct");
    b.goto(&site.url("/portal/close")).unwrap();
    let tax = policy
        .purpose("tax_records")
        .unwrap()
        .name
        .get(custode_policy::Lang::En);
    assert!(b.text().unwrap().contains(tax), "the legal ground kept");
    check(&b, T, "close");
    // Sent without the box ticked: the error beside it, nothing filed.
    press_button(&b, &text("close-send"));
    b.wait_for("#confirm-error", Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        b.find("#confirm")
            .unwrap()
            .attr("aria-describedby")
            .unwrap()
            .as_deref(),
        Some("confirm-error")
    );
    check(&b, T, "close-error");
    tab_to(&b, "confirm");
    b.press(Key::Space).unwrap();
    press_button(&b, &text("close-send"));
    b.wait_for("table", Duration::from_secs(5)).unwrap();
    assert!(b.text().unwrap().contains(&text("right-erasure")));
    let rights: Vec<_> = site
        .rt
        .block_on(async {
            site.custode
                .requests
                .requests(&Principal::system("test"), false)
                .await
                .unwrap()
        })
        .into_iter()
        .filter(|r| r.subject == mia)
        .flat_map(|r| r.rights)
        .collect();
    assert!(
        rights.contains(&custode_domain::requests::Right::Erasure),
        "{rights:?}"
    );

    // Signing out ends the session: the portal asks again.
    press_button(&b, &text("logout"));
    b.goto(&site.url("/portal/me")).unwrap();
    assert!(b.url().unwrap().ends_with("/portal"));
}

/// `GET` of a path on the site with the session cookie: what a download
/// link gives.
fn fetch(site: &Site, path: &str, session: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let addr = site.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: custode_session={session}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = all[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
}

#[test]
fn an_invited_dpo_sets_a_password_and_a_second_factor_signs_in_and_sees_the_requests() {
    let site = Site::start();
    let (mia, _) = customers(&site);
    let invitation = site.rt.block_on(async {
        let c = &site.custode;
        c.requests
            .file_request(
                &Principal::system("test"),
                custode_requests::NewRequest {
                    subject: mia.clone(),
                    rights: vec![custode_domain::requests::Right::Access],
                    requester: custode_requests::Requester::Subject,
                    contact: "mia@a.example".into(),
                    text: String::new(),
                    language: None,
                },
            )
            .await
            .unwrap();
        c.accounts
            .invite_person(
                &custode_testkit::admin(),
                "dora@example.org",
                Role::Dpo,
                None,
            )
            .await
            .unwrap()
    });
    let b = Browser::start_with(Options {
        accept_language: Some("it".into()),
        ..Options::default()
    })
    .unwrap();
    const T: &str = "console";

    b.goto(&site.url(&format!("/invite/{}", invitation.token)))
        .unwrap();
    assert_eq!(
        b.find("html").unwrap().attr("lang").unwrap().as_deref(),
        Some("it")
    );
    check(&b, T, "invitation");
    let secret = b
        .find("input[name=secret]")
        .unwrap()
        .attr("value")
        .unwrap()
        .unwrap();
    let secret = custode_crypto::totp::secret_from_base32(&secret).unwrap();
    let now = || u64::try_from(custode_domain::Clock::now(&*site.env().clock).as_second()).unwrap();
    const PASSWORD: &str = "a long and private passphrase";
    b.find("#password").unwrap().type_text(PASSWORD).unwrap();
    b.find("#confirm").unwrap().type_text(PASSWORD).unwrap();
    b.find("#totp")
        .unwrap()
        .type_text(&custode_crypto::totp::code_at(&secret, now()))
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for(".done", Duration::from_secs(5)).unwrap();
    check(&b, T, "invitation-done");

    // A new time step, a new code: sign in.
    site.env().clock.advance(SignedDuration::from_secs(30));
    b.goto(&site.url("/console/login")).unwrap();
    check(&b, T, "sign-in");
    b.find("#username")
        .unwrap()
        .type_text("dora@example.org")
        .unwrap();
    b.find("#password").unwrap().type_text(PASSWORD).unwrap();
    b.find("#totp")
        .unwrap()
        .type_text(&custode_crypto::totp::code_at(&secret, now()))
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("main table", Duration::from_secs(5)).unwrap();
    assert!(b.url().unwrap().ends_with("/console"));
    // The open request, by days left.
    let page = b.text().unwrap();
    assert!(
        page.contains(&custode_web::Texts::of(custode_policy::Lang::It).get("right-access")),
        "{page}"
    );
    check(&b, T, "dashboard");

    // Find the customer by the address a request came from: a reason is
    // asked for, and only the one person in scope is listed.
    b.goto(&site.url("/console/subjects")).unwrap();
    check(&b, T, "find");
    b.find("#value")
        .unwrap()
        .type_text("Mia@A.example")
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#reason-error", Duration::from_secs(5)).unwrap();
    check(&b, T, "find-error");
    b.find("#reason")
        .unwrap()
        .type_text("request by e-mail")
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#found", Duration::from_secs(5)).unwrap();
    let rows = b
        .find_all("section[aria-labelledby=found] tbody tr")
        .unwrap();
    assert_eq!(rows.len(), 1, "{}", b.text().unwrap());
    assert!(rows[0].text().unwrap().contains(mia.as_str()));
    check(&b, T, "find-result");
    let logged = site.rt.block_on(async {
        site.custode
            .store
            .audit_of_subject(&mia, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.body.contains("\"request by e-mail\""))
            .count()
    });
    assert_eq!(logged, 1, "the search is in the audit log with its reason");

    // The breach register with its clock: a telecom has 24 hours from
    // detection, so a breach detected two hours ago has 22 left.
    site.rt.block_on(async {
        let tenant: String = sqlx::query_scalar("SELECT tenant_id FROM subjects WHERE id = $1")
            .bind(mia.as_str())
            .fetch_one(site.custode.store.pool())
            .await
            .unwrap();
        let now = custode_domain::Clock::now(&*site.env().clock);
        site.custode
            .breaches
            .record(
                &Principal {
                    id: "user:dpo".into(),
                    role: Role::Dpo,
                    scope: custode_domain::Scope::everything(),
                },
                custode_breaches::NewBreach {
                    tenant: custode_domain::TenantId::parse(&tenant).unwrap(),
                    detected_at: Some(now - SignedDuration::from_hours(2)),
                    aware_at: Some(now - SignedDuration::from_hours(1)),
                    facts: custode_breaches::Facts {
                        nature: vec![custode_breaches::Nature::Confidentiality],
                        description: "Il registro delle sessioni della webmail è stato esposto."
                            .into(),
                        data_categories: vec!["master_data".into()],
                        ..Default::default()
                    },
                },
            )
            .await
            .unwrap();
    });
    b.goto(&site.url("/console/breaches")).unwrap();
    b.wait_for("main table", Duration::from_secs(5)).unwrap();
    let rows = b.find_all("main tbody tr").unwrap();
    assert_eq!(rows.len(), 1, "{}", b.text().unwrap());
    let row = rows[0].text().unwrap();
    assert!(
        row.contains("Il registro delle sessioni della webmail"),
        "{row}"
    );
    assert!(row.contains("22"), "{row}");
    assert!(
        row.contains(
            &custode_web::Texts::of(custode_policy::Lang::It).get("breaches-state-to-notify")
        ),
        "{row}"
    );
    check(&b, T, "breaches");
}
