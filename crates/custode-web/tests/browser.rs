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
        Site::start_with(Env::telecom())
    }

    fn start_with(policy: std::sync::Arc<custode_policy::Policy>) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (env, custode, listener) = rt.block_on(async {
            let env = Env::new(Engine::Sqlite).await;
            let custode = env.open_with(policy).await;
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
    let (_, mia, bo) = customers_in(site);
    (mia, bo)
}

/// [`customers`], with the tenancy tree they live in.
fn customers_in(site: &Site) -> (custode_testkit::Tree, SubjectId, SubjectId) {
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
        (t, made[0].clone(), made[1].clone())
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

/// Invites a person with `role` (at `tenant`), has it accept with a
/// password and, where the role needs one, a TOTP factor, and signs it in
/// at the console in `b`. Returns its TOTP secret, if any.
fn staff_signs_in(
    site: &Site,
    b: &Browser,
    email: &str,
    role: Role,
    tenant: Option<&custode_domain::TenantId>,
) -> Option<[u8; 20]> {
    const PASSWORD: &str = "a long and private passphrase";
    let now = || u64::try_from(custode_domain::Clock::now(&*site.env().clock).as_second()).unwrap();
    let secret = site.rt.block_on(async {
        let c = &site.custode;
        let inv = c
            .accounts
            .invite_person(&custode_testkit::admin(), email, role, tenant)
            .await
            .unwrap();
        let info = c.accounts.invitation(&inv.token).await.unwrap();
        let secret = if info.second_factor_required {
            let (b32, _) = c.accounts.invitation_totp(&inv.token).await.unwrap();
            Some(custode_crypto::totp::secret_from_base32(&b32).unwrap())
        } else {
            None
        };
        let code = secret
            .as_ref()
            .map(|s| custode_crypto::totp::code_at(s, now()));
        c.accounts
            .accept_invitation(&inv.token, PASSWORD, code.as_deref())
            .await
            .unwrap();
        secret
    });
    // A new time step, a new code.
    site.env().clock.advance(SignedDuration::from_secs(30));
    b.goto(&site.url("/console/login")).unwrap();
    b.find("#username").unwrap().type_text(email).unwrap();
    b.find("#password").unwrap().type_text(PASSWORD).unwrap();
    if let Some(s) = &secret {
        b.find("#totp")
            .unwrap()
            .type_text(&custode_crypto::totp::code_at(s, now()))
            .unwrap();
    }
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("main h1", Duration::from_secs(5)).unwrap();
    assert!(
        b.url().unwrap().ends_with("/console"),
        "{}",
        b.url().unwrap()
    );
    secret
}

/// Submits the main form of the page with the button whose `value` is
/// given (two buttons share a form) and waits for `then`.
fn press(b: &Browser, css: &str, then: &str) {
    b.find(css).unwrap().click().unwrap();
    b.wait_for(then, Duration::from_secs(10)).unwrap();
}

fn mails_to(site: &Site, to: &str, n: usize) -> Vec<(String, String, String)> {
    for _ in 0..100 {
        let got: Vec<_> = site
            .peer
            .messages()
            .into_iter()
            .filter(|(r, _, _)| r == to)
            .collect();
        if got.len() >= n {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("fewer than {n} mails reached {to}");
}

#[test]
fn a_dpo_works_an_access_and_erasure_request_from_intake_to_the_mailed_answer() {
    let site = Site::start();
    let (mia, _) = customers(&site);
    let b = Browser::start_with(Options {
        accept_language: Some("en".into()),
        ..Options::default()
    })
    .unwrap();
    const T: &str = "workbench";
    staff_signs_in(&site, &b, "dora@example.org", Role::Dpo, None);

    // Intake: a mail from Mia, in Italian, asking for a copy and erasure.
    b.find("a[href='/console/requests/new']")
        .unwrap()
        .click()
        .unwrap();
    b.wait_for("#value", Duration::from_secs(5)).unwrap();
    check(&b, T, "intake");
    b.find("#value")
        .unwrap()
        .type_text("mia@a.example")
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#rights-error", Duration::from_secs(5)).unwrap();
    assert!(b.text().unwrap().contains(&text("error-rights")));
    check(&b, T, "intake-error");
    assert_eq!(
        b.find("#value").unwrap().attr("value").unwrap().as_deref(),
        Some("mia@a.example"),
        "what was typed stays"
    );
    b.find("#right-access").unwrap().click().unwrap();
    b.find("#right-erasure").unwrap().click().unwrap();
    b.find("#language option[value=it]")
        .unwrap()
        .click()
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#identity", Duration::from_secs(5)).unwrap();
    let id = b
        .url()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .split(['?', '#'])
        .next()
        .unwrap()
        .to_owned();
    let sys = Principal::system("test");
    let filed = site
        .rt
        .block_on(site.custode.requests.request(&sys, &id))
        .unwrap();
    assert_eq!(filed.subject, mia, "found by the address it came from");
    assert_eq!(filed.language, "it");
    let page = b.text().unwrap();
    assert!(page.contains(&text("identity-unverified")), "{page}");
    assert!(
        page.contains(&format!("{} days left", filed.days_left)),
        "{page}"
    );
    assert!(page.contains(&text("workbench-no-documents")));
    check(&b, T, "request-new");

    // Not verified: an acceptance cannot even be previewed, and says why
    // beside the outcome.
    press(&b, "button[value=preview]", "#outcome-error");
    assert!(b.text().unwrap().contains(&text("error-answer-not-ready")));
    check(&b, T, "answer-not-ready");

    // Mia's ID document arrives (the requester sends it through the API);
    // the DPO opens it, then approves.
    site.rt
        .block_on(site.custode.requests.put_document(
            &sys,
            &id,
            custode_requests::DocumentKind::IdDocument,
            "image/png",
            b"\x89PNG\r\n\x1a\n synthetic scan",
        ))
        .unwrap();
    b.goto(&site.url(&format!("/console/requests/{id}")))
        .unwrap();
    let href = b
        .find("#identity ~ table a, section[aria-labelledby=identity] table a")
        .unwrap()
        .attr("href")
        .unwrap()
        .unwrap();
    check(&b, T, "documents");
    let scan = fetch_as(&site, &href, &b);
    assert_eq!(
        scan, b"\x89PNG\r\n\x1a\n synthetic scan",
        "the document as sent"
    );
    press(&b, "#approve", ".done");
    assert!(b.text().unwrap().contains(&text("done-approved")));

    // An extension needs its reasons; with them, they are mailed to Mia.
    press(&b, "form[action$='/extend'] button", "#reason-error");
    assert!(b.text().unwrap().contains(&text("error-extend-reason")));
    check(&b, T, "extend-error");
    b.find("#reason")
        .unwrap()
        .type_text("Le copie d'archivio richiedono un recupero dal fornitore.")
        .unwrap();
    press(&b, "form[action$='/extend'] button", ".done");
    assert!(b.text().unwrap().contains(&text("done-extended")));
    let extension = mails_to(&site, "mia@a.example", 1);
    assert!(
        extension
            .iter()
            .any(|(_, _, body)| body.contains("recupero dal fornitore")),
        "{extension:?}"
    );
    let extended = site
        .rt
        .block_on(site.custode.requests.request(&sys, &id))
        .unwrap();
    assert!(extended.due > filed.due, "the deadline moved");
    assert!(b.find("#extension").is_err(), "extended once only");

    // Carry it out; the jobs run (the server's runner, here by hand).
    press(&b, "#fulfil", ".done");
    assert!(b.text().unwrap().contains(&text("done-queued")));
    site.rt
        .block_on(
            site.custode
                .requests
                .run_due_jobs(Duration::from_secs(60), &|_| {}),
        )
        .unwrap();
    b.goto(&site.url(&format!("/console/requests/{id}")))
        .unwrap();
    let jobs = b
        .find_all("section[aria-labelledby=fulfilment] tbody tr")
        .unwrap();
    assert_eq!(jobs.len(), 2, "access, then erasure");
    for j in &jobs {
        assert!(
            j.text().unwrap().contains(&text("job-done")),
            "{}",
            j.text().unwrap()
        );
    }
    check(&b, T, "fulfilled");
    // Art. 19: the recipients staff tell themselves, confirmed one by one.
    let mut told = Vec::new();
    while let Ok(button) = b.find("section[aria-labelledby=notices] form button") {
        let label = button.text().unwrap();
        told.push(label.split(" — ").nth(1).unwrap().to_owned());
        button.click().unwrap();
        b.wait_for(".done", Duration::from_secs(5)).unwrap();
        assert!(b.text().unwrap().contains(&text("done-told")));
    }
    let notices = site
        .rt
        .block_on(site.custode.requests.recipient_notices(&sys, false))
        .unwrap();
    assert_eq!(
        told.len(),
        notices.len(),
        "every task confirmed: {notices:?}"
    );
    assert!(notices.iter().all(|n| n.told_at.is_some()));

    // A partial answer needs reasons: said beside them.
    b.find("#outcome option[value=partially_accepted]")
        .unwrap()
        .click()
        .unwrap();
    press(&b, "button[value=preview]", "#reasons-error");
    check(&b, T, "answer-error");
    // The full acceptance, previewed in Mia's language, then sent.
    b.find("#outcome option[value=accepted]")
        .unwrap()
        .click()
        .unwrap();
    press(&b, "button[value=preview]", "pre.letter");
    let preview = b.find("pre.letter").unwrap();
    assert_eq!(preview.attr("lang").unwrap().as_deref(), Some("it"));
    let previewed = preview.text().unwrap();
    assert!(previewed.contains(&id), "{previewed}");
    for name in &told {
        assert!(
            previewed.contains(name.as_str()),
            "{name} told: {previewed}"
        );
    }
    check(&b, T, "answer-preview");
    assert_eq!(
        site.rt
            .block_on(site.custode.requests.request(&sys, &id))
            .unwrap()
            .status,
        "open",
        "a preview changes nothing"
    );
    press(&b, "#send", ".done");
    assert!(b.text().unwrap().contains(&text("done-answered")));
    check(&b, T, "answered");
    let mails = mails_to(&site, "mia@a.example", 2);
    // The maildir keeps no order: the answer is the mail that is not the
    // extension's.
    let (_, _, letter) = mails
        .iter()
        .find(|(_, _, body)| !body.contains("recupero dal fornitore"))
        .unwrap();
    assert!(letter.contains(&id), "{letter}");
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        words(letter),
        words(&previewed),
        "the letter mailed is the one previewed"
    );
    let answered = site
        .rt
        .block_on(site.custode.requests.request(&sys, &id))
        .unwrap();
    assert_eq!(
        (answered.status.as_str(), answered.outcome.as_deref()),
        ("answered", Some("accepted"))
    );
    // The look at the document is in the audit log.
    let looked = site.rt.block_on(async {
        site.custode
            .store
            .audit_of_subject(&mia, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.body.contains("\"did\":\"read\""))
            .count()
    });
    assert_eq!(
        looked, 1,
        "the document was opened once, and that is logged"
    );
}

/// `GET` of a path with the browser's session cookie.
fn fetch_as(site: &Site, path: &str, b: &Browser) -> Vec<u8> {
    let session = b.cookie("custode_session").unwrap().expect("a session");
    fetch(site, path, &session.value)
}

/// Finds `email` on the find page with `reason` and returns the rows.
fn find_by_email(b: &Browser, site: &Site, email: &str, reason: &str) -> Vec<String> {
    b.goto(&site.url("/console/subjects")).unwrap();
    b.find("#value").unwrap().type_text(email).unwrap();
    b.find("#reason").unwrap().type_text(reason).unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#found", Duration::from_secs(5)).unwrap();
    b.find_all("section[aria-labelledby=found] tbody tr")
        .unwrap()
        .iter()
        .map(|r| r.text().unwrap())
        .collect()
}

#[test]
fn a_dpo_reads_a_customer_with_a_reason_restricts_and_erases() {
    let site = Site::start();
    let (mia, bo) = customers(&site);
    let b = Browser::start_with(Options {
        accept_language: Some("en".into()),
        ..Options::default()
    })
    .unwrap();
    const T: &str = "subject";
    staff_signs_in(&site, &b, "dora@example.org", Role::Dpo, None);
    let rows = find_by_email(&b, &site, "mia@a.example", "complaint by phone");
    assert_eq!(rows.len(), 1);
    b.find(&format!("a[href='/console/subjects/{mia}']"))
        .unwrap()
        .click()
        .unwrap();
    b.wait_for("#reason", Duration::from_secs(5)).unwrap();
    // Nothing is read before a reason is given.
    assert!(!b.text().unwrap().contains("Mia Rossi"));
    check(&b, T, "ask-reason");
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#reason-error", Duration::from_secs(5)).unwrap();
    assert!(!b.text().unwrap().contains("Mia Rossi"));
    check(&b, T, "reason-error");
    b.find("#reason")
        .unwrap()
        .type_text("checking a complaint")
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#records", Duration::from_secs(5)).unwrap();
    let page = b.text().unwrap();
    let policy = site.custode.store.policy();
    let en = custode_policy::Lang::En;
    assert!(page.contains("Mia Rossi") && page.contains("mia@a.example"));
    assert!(!page.contains("Bo Jansen"));
    let marketing = policy.purpose("marketing").unwrap().name.get(en);
    assert!(page.contains(marketing), "purposes: {page}");
    assert!(page.contains(&text("subject-ends")), "retention ends");
    assert!(page.contains(&text("consent-event-given")), "the ledger");
    // The trail names the search and this very read, with their reasons.
    let trail = b
        .find("section[aria-labelledby=trail]")
        .unwrap()
        .text()
        .unwrap();
    assert!(trail.contains("complaint by phone"), "{trail}");
    assert!(trail.contains("checking a complaint"), "{trail}");
    check(&b, T, "subject");

    // Restrict at Mia's request: the channel is asked for.
    b.find("form[action$='/restrict'] button")
        .unwrap()
        .click()
        .unwrap();
    b.wait_for("#channel-error", Duration::from_secs(5))
        .unwrap();
    check(&b, T, "restrict-error");
    b.find("#channel option[value=phone]")
        .unwrap()
        .click()
        .unwrap();
    b.find("form[action$='/restrict'] button")
        .unwrap()
        .click()
        .unwrap();
    b.wait_for(".done", Duration::from_secs(5)).unwrap();
    assert!(b.text().unwrap().contains(&text("done-restricted")));
    let sys = Principal::system("test");
    let decided = site
        .rt
        .block_on(site.custode.ledger.decide(&sys, &mia, "marketing"))
        .unwrap();
    assert!(!decided.allowed, "a restriction stops marketing");

    // Erase Bo: the reason and the confirmation are asked for.
    b.goto(&site.url(&format!("/console/subjects/{bo}")))
        .unwrap();
    b.find("form[action$='/erase'] button")
        .unwrap()
        .click()
        .unwrap();
    b.wait_for("#erase-reason-error", Duration::from_secs(5))
        .unwrap();
    assert!(b.find("#erase-confirm-error").is_ok());
    check(&b, T, "erase-error");
    b.find("#erase-reason")
        .unwrap()
        .type_text("duplicate account opened by mistake")
        .unwrap();
    b.find("#erase-confirm").unwrap().click().unwrap();
    b.find("form[action$='/erase'] button")
        .unwrap()
        .click()
        .unwrap();
    b.wait_for(".done", Duration::from_secs(5)).unwrap();
    assert!(b.text().unwrap().contains(&text("done-erased")));
    let gone = site
        .rt
        .block_on(site.custode.store.records(&sys, &bo, "check"));
    assert!(
        matches!(gone, Err(custode_store::StoreError::Erased(_))),
        "{gone:?}"
    );
}

/// Dan, a customer of the provider's own domain, outside the reseller.
fn direct_customer(site: &Site, t: &custode_testkit::Tree) -> SubjectId {
    let sys = Principal::system("test");
    site.rt.block_on(async {
        let c = &site.custode;
        let s = c
            .store
            .create_subject(&sys, &t.direct.id, "customer", "signup")
            .await
            .unwrap();
        c.store
            .write_records(
                &sys,
                "signup",
                vec![(s.clone(), master_data("dan@direct.example", "Dan Weber"))],
            )
            .await
            .unwrap();
        s
    })
}

#[test]
fn a_reseller_and_a_domains_support_agent_see_only_their_own_people_and_requests() {
    let site = Site::start();
    let (tree, mia, bo) = customers_in(&site);
    let dan = direct_customer(&site, &tree);
    let sys = Principal::system("test");
    let mut requests = Vec::new();
    for (s, contact) in [(&mia, "mia@a.example"), (&bo, "bo@b.example")] {
        let r = site
            .rt
            .block_on(site.custode.requests.file_request(
                &sys,
                custode_requests::NewRequest {
                    subject: s.clone(),
                    rights: vec![custode_domain::requests::Right::Access],
                    requester: custode_requests::Requester::Subject,
                    contact: contact.into(),
                    text: String::new(),
                    language: None,
                },
            ))
            .unwrap();
        requests.push(r.id);
    }
    const T: &str = "scope";

    // The reseller: its domains' customers, never the provider's own.
    let b = Browser::start_with(Options {
        accept_language: Some("fr".into()),
        ..Options::default()
    })
    .unwrap();
    staff_signs_in(
        &site,
        &b,
        "rita@reseller.example",
        Role::ResellerAdmin,
        Some(&tree.reseller.id),
    );
    check(&b, T, "reseller-home");
    assert!(
        b.find("a[href='/console/vault']").is_err(),
        "no vault for it"
    );
    assert_eq!(
        find_by_email(&b, &site, "bo@b.example", "support ticket").len(),
        1
    );
    assert!(
        find_by_email(&b, &site, "dan@direct.example", "support ticket").is_empty(),
        "outside its tenants: nobody"
    );
    check(&b, T, "reseller-find-none");
    b.goto(&site.url(&format!("/console/subjects/{bo}?reason=support+ticket")))
        .unwrap();
    assert!(b.text().unwrap().contains("Bo Jansen"));
    check(&b, T, "reseller-subject");
    // No erasure for its role; Dan is not found, as if he did not exist.
    assert!(b.find("form[action$='/erase']").is_err());
    b.goto(&site.url(&format!("/console/subjects/{dan}?reason=curious")))
        .unwrap();
    let page = b.text().unwrap();
    assert!(!page.contains("Dan Weber"), "{page}");
    assert!(
        page.contains(&custode_web::Texts::of(custode_policy::Lang::Fr).get("error-404-title")),
        "{page}"
    );
    // Requests are handled by the provider's staff, not by the reseller.
    b.goto(&site.url(&format!("/console/requests/{}", requests[0])))
        .unwrap();
    assert!(
        b.text()
            .unwrap()
            .contains(&custode_web::Texts::of(custode_policy::Lang::Fr).get("error-403-title"))
    );
    drop(b);

    // A support agent of domain A: Mia's request, never Bo's.
    let b = Browser::start_with(Options {
        accept_language: Some("nl".into()),
        ..Options::default()
    })
    .unwrap();
    staff_signs_in(
        &site,
        &b,
        "sam@a.example",
        Role::SupportAgent,
        Some(&tree.domain_a.id),
    );
    let listed: Vec<String> = b
        .find_all("main tbody tr")
        .unwrap()
        .iter()
        .map(|r| r.text().unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].contains(&requests[0]));
    check(&b, T, "agent-home");
    b.goto(&site.url(&format!("/console/requests/{}", requests[0])))
        .unwrap();
    b.wait_for("#identity", Duration::from_secs(5)).unwrap();
    check(&b, T, "agent-request");
    b.goto(&site.url(&format!("/console/requests/{}", requests[1])))
        .unwrap();
    let page = b.text().unwrap();
    assert!(
        page.contains(&custode_web::Texts::of(custode_policy::Lang::Nl).get("error-404-title")),
        "another domain's request is not found: {page}"
    );
    assert!(!page.contains(bo.as_str()));
}

#[test]
fn a_legal_officer_queries_the_vault_with_an_order_and_a_fresh_code() {
    let site = Site::start_with(Env::messaging());
    let sys = Principal::system("test");
    site.rt.block_on(async {
        let c = &site.custode;
        let t = tree(c).await;
        let home = custode_testkit::home_for(c, &t, "subscriber").await;
        let s = c
            .store
            .create_subject(&sys, &home, "subscriber", "signup")
            .await
            .unwrap();
        let mut fields = std::collections::BTreeMap::new();
        for (k, v) in [
            ("business_name", "Bottega Sintetica"),
            ("email", "shop@example.org"),
            ("vat_number", "IT00000000000"),
        ] {
            fields.insert(k.to_owned(), serde_json::Value::from(v));
        }
        c.store
            .write_records(
                &sys,
                "signup",
                vec![(
                    s.clone(),
                    custode_domain::NewRecord {
                        category: "subscriber_identity".into(),
                        fields,
                        source: "signup".into(),
                        purposes: vec![],
                        collected_at: None,
                    },
                )],
            )
            .await
            .unwrap();
        c.retention
            .record_life_event(
                &sys,
                &s,
                custode_store::LifeEvent::AccountClosed,
                None,
                "left",
            )
            .await
            .unwrap();
        c.retention.sweep_all(&sys, 100).await.unwrap();
        assert_eq!(c.vault.vault_count().await.unwrap(), 1);
    });
    let b = Browser::start_with(Options {
        accept_language: Some("it".into()),
        ..Options::default()
    })
    .unwrap();
    const T: &str = "vault";
    let secret = staff_signs_in(&site, &b, "lea@example.org", Role::LegalOfficer, None)
        .expect("a second factor");
    let it = custode_web::Texts::of(custode_policy::Lang::It);
    b.find("a[href='/console/vault']").unwrap().click().unwrap();
    b.wait_for("#authority", Duration::from_secs(5)).unwrap();
    check(&b, T, "query");

    // No order, no code: refused, the message beside each part missing.
    b.find("#kind option[value=vat_number]")
        .unwrap()
        .click()
        .unwrap();
    b.find("#value")
        .unwrap()
        .type_text("IT00000000000")
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#authority-error", Duration::from_secs(5))
        .unwrap();
    assert!(b.find("#number-error").is_ok() && b.find("#scope-error").is_ok());
    assert!(b.text().unwrap().contains(&it.get("error-order")));
    check(&b, T, "query-error");
    // The order, but the code used to sign in: refused too.
    b.find("#authority")
        .unwrap()
        .type_text("Procura della Repubblica di Firenze")
        .unwrap();
    b.find("#number")
        .unwrap()
        .type_text("RG 1234/2026")
        .unwrap();
    b.execute(
        "document.getElementById('date').value = '2026-03-02';",
        vec![],
    )
    .unwrap();
    b.find("#scope")
        .unwrap()
        .type_text("identità del titolare della partita IVA")
        .unwrap();
    let now = || u64::try_from(custode_domain::Clock::now(&*site.env().clock).as_second()).unwrap();
    b.find("#totp")
        .unwrap()
        .type_text(&custode_crypto::totp::code_at(&secret, now()))
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#totp-error", Duration::from_secs(5)).unwrap();
    assert!(b.text().unwrap().contains(&it.get("error-fresh-code")));
    assert!(!b.text().unwrap().contains("Bottega Sintetica"));
    // A fresh code: the record and its legal ground.
    site.env().clock.advance(SignedDuration::from_secs(30));
    b.find("#totp")
        .unwrap()
        .type_text(&custode_crypto::totp::code_at(&secret, now()))
        .unwrap();
    b.find("main form").unwrap().submit().unwrap();
    b.wait_for("#found", Duration::from_secs(5)).unwrap();
    let found = b
        .find("section[aria-labelledby=found]")
        .unwrap()
        .text()
        .unwrap();
    assert!(
        found.contains("Bottega Sintetica") && found.contains("IT00000000000"),
        "{found}"
    );
    check(&b, T, "answered");
    // Its own trail: the refusals and the answer, each a line of the log.
    let lines: Vec<String> = b
        .find_all("section[aria-labelledby=log] tbody tr")
        .unwrap()
        .iter()
        .map(|r| r.text().unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].contains("answered") && lines[0].contains("RG 1234/2026"),
        "{lines:?}"
    );
    assert!(
        lines[1..].iter().all(|l| l.contains("refused")),
        "{lines:?}"
    );
    assert!(
        site.rt
            .block_on(site.custode.vault.audit_verify())
            .unwrap()
            .is_intact()
    );
}
