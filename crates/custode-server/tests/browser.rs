//! The public pages as people meet them, in a real headless Chromium
//! (custode-browser): the privacy notice and the unsubscribe confirmation,
//! read in their languages, with JavaScript on and off, by keyboard alone,
//! and checked by axe-core against WCAG 2.1 AA. Screenshots land in
//! `target/screenshots/`.

use std::sync::Arc;
use std::time::Duration;

use custode_browser::{Browser, Key, Options};
use custode_consent::{Channel, EventKind, Evidence};
use custode_domain::{Principal, SubjectId, TenantKind};
use custode_ledger::NewConsentEvent;
use custode_server::{AppState, Custode, serve};

const TELECOM: &str = include_str!("../../../policies/telecom.toml");

/// The server on a port of its own, over a fresh SQLite directory, under
/// the telecom example policy; stopped on drop.
struct Site {
    rt: tokio::runtime::Runtime,
    custode: Custode,
    base: String,
    dir: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Site {
    fn start() -> Site {
        let dir = std::env::temp_dir().join(format!("custode-pages-{}", SubjectId::generate()));
        std::fs::create_dir_all(&dir).expect("dir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
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
        let policy = Arc::new(custode_policy::load("telecom.toml", TELECOM).expect("policy"));
        let clock = Arc::new(custode_domain::SystemClock);
        let (custode, listener) = rt.block_on(async {
            let custode = Custode::open(&config, policy, clock.clone())
                .await
                .expect("store");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port");
            (custode, listener)
        });
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = AppState::new(custode.clone(), clock).with_public_url(&base);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Site {
            rt,
            custode,
            base,
            dir,
            stop: Some(stop),
        }
    }

    /// A customer who consented to marketing, and their unsubscribe link.
    fn customer_with_a_link(&self) -> (SubjectId, String) {
        let sys = Principal::system("test");
        self.rt.block_on(async {
            let c = &self.custode;
            let provider = c
                .store
                .create_tenant(&sys, None, TenantKind::Provider, "p")
                .await
                .expect("tenant");
            let subject = c
                .store
                .create_subject(&sys, &provider.id, "customer", "signup")
                .await
                .expect("subject");
            c.ledger
                .record_consent(
                    &sys,
                    &subject,
                    NewConsentEvent {
                        kind: EventKind::Given,
                        purpose: Some("marketing".into()),
                        channel: Channel::WebForm,
                        language: None,
                        evidence: Evidence::default(),
                    },
                )
                .await
                .expect("consent");
            let token = c
                .ledger
                .unsubscribe_token(&sys, &subject, "marketing")
                .await
                .expect("token");
            let url = custode_consent::unsubscribe::url(&self.base, &token);
            (subject, url)
        })
    }

    /// Whether marketing may reach the subject now, and why.
    fn marketing(&self, subject: &SubjectId) -> (bool, &'static str) {
        let d = self
            .rt
            .block_on(
                self.custode
                    .ledger
                    .decide(&Principal::system("test"), subject, "marketing"),
            )
            .expect("decision");
        (d.allowed, d.reason.code())
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn browser(options: Options) -> Browser {
    Browser::start_with(options).unwrap_or_else(|e| panic!("the page tests need a browser: {e}"))
}

/// What a reader of the notice looks for first, per language.
const NOTICE: [(&str, &str, &str, &str); 4] = [
    (
        "it",
        "Informativa sul trattamento dei dati personali",
        "I Suoi diritti",
        "Marketing e ricerche di mercato",
    ),
    (
        "en",
        "Privacy notice",
        "Your rights",
        "Marketing and market research",
    ),
    (
        "fr",
        "Politique de confidentialité",
        "Vos droits",
        "Marketing et études de marché",
    ),
    (
        "nl",
        "Privacyverklaring",
        "Uw rechten",
        "Marketing en marktonderzoek",
    ),
];

#[test]
fn the_notice_reads_in_every_language_and_passes_axe() {
    let site = Site::start();
    let b = browser(Options::default());
    for (lang, title, rights, purpose) in NOTICE {
        b.goto(&format!("{}/notice?lang={lang}", site.base))
            .expect("the notice opens");
        assert_eq!(
            b.find("html").and_then(|h| h.attr("lang")).expect("lang"),
            Some(lang.to_owned()),
            "[{lang}] the page declares its language"
        );
        let h1 = b.find("h1").and_then(|h| h.text()).expect("a heading");
        assert!(h1.starts_with(title), "[{lang}] {h1}");
        let text = b.text().expect("text");
        for shown in [
            rights,
            purpose,
            "Linea Vallata S.r.l.",
            "privacy@lineavallata.example",
            "Garante per la protezione dei dati personali",
        ] {
            assert!(text.contains(shown), "[{lang}] the reader sees `{shown}`");
        }
        let lesser = b.assert_accessible();
        for v in &lesser {
            eprintln!("[{lang}] axe, {}: {v}", v.impact);
        }
        let shot = b.screenshot("notice", lang).expect("screenshot");
        assert!(shot.exists());
    }
    // Without a choice the notice is in the policy's first language.
    b.goto(&format!("{}/notice", site.base)).expect("opens");
    let h1 = b.find("h1").and_then(|h| h.text()).expect("heading");
    assert!(h1.starts_with(NOTICE[0].1), "{h1}");
}

#[test]
fn the_notice_reads_the_same_without_javascript() {
    let site = Site::start();
    let on = browser(Options::default());
    let off = browser(Options {
        javascript: false,
        ..Options::default()
    });
    for lang in ["it", "en"] {
        let url = format!("{}/notice?lang={lang}", site.base);
        on.goto(&url).expect("opens");
        off.goto(&url).expect("opens");
        let text = off.text().expect("text");
        assert!(text.contains("Linea Vallata S.r.l."), "{text}");
        assert_eq!(
            text,
            on.text().expect("text"),
            "[{lang}] nothing on the notice depends on a script"
        );
        assert!(
            off.find_all("script").expect("scripts").is_empty(),
            "[{lang}] the notice carries no script"
        );
        off.assert_accessible();
        off.screenshot("notice-no-js", lang).expect("screenshot");
    }
}

#[test]
fn an_unsubscribe_link_asks_first_and_its_button_works_by_keyboard_without_javascript() {
    let site = Site::start();
    let (subject, url) = site.customer_with_a_link();
    let b = browser(Options {
        javascript: false,
        ..Options::default()
    });
    b.goto(&url).expect("the link opens");
    assert_eq!(
        b.find("html").and_then(|h| h.attr("lang")).expect("lang"),
        Some("it".to_owned())
    );
    let text = b.text().expect("text");
    assert!(
        text.contains(
            "Desidera smettere di ricevere messaggi per «Marketing e ricerche di mercato»?"
        ),
        "{text}"
    );
    assert_eq!(
        site.marketing(&subject),
        (true, "consent"),
        "opening the page unsubscribes nothing"
    );
    b.assert_accessible();
    b.screenshot("unsubscribe", "confirm-it")
        .expect("screenshot");

    // A keyboard user: the first Tab reaches the button, Enter presses it.
    let button = b.tab().expect("tab");
    assert_eq!(
        (
            button.tag().expect("tag"),
            button.text().expect("text").as_str()
        ),
        ("button".to_owned(), "Annulla l'iscrizione")
    );
    b.press(Key::Enter).expect("enter");
    b.wait_for("main p", Duration::from_secs(5))
        .expect("answer");
    let text = b.text().expect("text");
    assert!(
        text.contains("Fatto: non riceverà più messaggi per «Marketing e ricerche di mercato»."),
        "{text}"
    );
    assert_eq!(site.marketing(&subject), (false, "consent_withdrawn"));
    assert!(b.cookies().expect("cookies").is_empty(), "no cookie is set");
    b.assert_accessible();
    b.screenshot("unsubscribe", "done-it").expect("screenshot");
}

#[test]
fn an_unsubscribe_link_in_dutch_is_confirmed_with_a_click() {
    let site = Site::start();
    let (subject, url) = site.customer_with_a_link();
    let b = browser(Options::default());
    b.goto(&format!("{url}?lang=nl")).expect("opens");
    let text = b.text().expect("text");
    assert!(
        text.contains("Wilt u geen berichten meer ontvangen voor „Marketing en marktonderzoek”?"),
        "{text}"
    );
    b.assert_accessible();
    b.screenshot("unsubscribe", "confirm-nl")
        .expect("screenshot");
    b.find("form").and_then(|f| f.submit()).expect("submit");
    let text = b.text().expect("text");
    assert!(
        text.contains("Klaar: u ontvangt geen berichten meer voor „Marketing en marktonderzoek”."),
        "{text}"
    );
    assert_eq!(site.marketing(&subject), (false, "consent_withdrawn"));
}
