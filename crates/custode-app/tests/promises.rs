//! Issue "Every promise kept": what the seeds promise and the store now
//! holds to — where each kind of person lives (seed 002), adults only
//! (seed 001), no dormant account kept forever (seeds 000 and 004) — on
//! SQLite and PostgreSQL.

use std::sync::Arc;

use custode_consent::{Channel, EventKind, Evidence, Reason};
use custode_domain::records::RecordError;
use custode_domain::{NewRecord, Principal, SubjectId, TenantKind};
use custode_ledger::NewConsentEvent;
use custode_store::{LifeEvent, StoreError};
use custode_testkit::*;
use jiff::{SignedDuration, Timestamp};

on_both_engines!(interlocutors_live_under_their_subscriber_and_a_subscriber_is_one);
/// Seed 002: an interlocutor exists only under a subscriber, and a
/// subscriber tenant is one subscriber.
async fn interlocutors_live_under_their_subscriber_and_a_subscriber_is_one(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let t = tree(&app).await;
    let a = admin();
    let shop = app
        .store
        .create_tenant(&a, Some(&t.provider.id), TenantKind::Subscriber, "Bottega")
        .await
        .expect("subscriber tenant");
    // Not directly under the provider, nor under a domain.
    for (home, kind) in [
        (&t.provider.id, "interlocutor"),
        (&t.domain_a.id, "interlocutor"),
        (&t.provider.id, "subscriber"),
    ] {
        match app.store.create_subject(&a, home, kind, "signup").await {
            Err(StoreError::Invalid(m)) => assert!(
                m.contains(&format!("`{kind}`")) && m.contains("under a subscriber"),
                "{m}"
            ),
            other => panic!("{kind} created where the policy does not put it: {other:?}"),
        }
    }
    app.store
        .create_subject(&a, &shop.id, "subscriber", "signup")
        .await
        .expect("the shop's subscriber");
    for _ in 0..3 {
        app.store
            .create_subject(&a, &shop.id, "interlocutor", "added to the registry")
            .await
            .expect("an interlocutor under its subscriber");
    }
    // A second subscriber in the same tenant is refused, alone or in bulk.
    for n in [1, 2] {
        match app
            .store
            .create_subjects(&a, &shop.id, "subscriber", n, "signup")
            .await
        {
            Err(StoreError::Conflict(m)) => assert!(m.contains("max_per_tenant"), "{m}"),
            other => panic!("a second subscriber was created: {other:?}"),
        }
    }
    let subjects = app.store.subjects(&a, None, 100).await.expect("list");
    assert_eq!(
        subjects.iter().filter(|s| s.kind == "subscriber").count(),
        1,
        "nothing of a refused creation is left"
    );
    // Erased, the subscriber frees its place.
    let first = subjects
        .iter()
        .find(|s| s.kind == "subscriber")
        .expect("subscriber")
        .id
        .clone();
    app.store
        .erase_subject(&a, &first, "deactivated")
        .await
        .expect("erase");
    app.store
        .create_subject(&a, &shop.id, "subscriber", "signup again")
        .await
        .expect("a new subscriber once the old one is gone");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

/// Telecom master data with this birth date.
fn master_data(born: &str) -> NewRecord {
    NewRecord {
        category: "master_data".into(),
        fields: [
            ("name".to_owned(), serde_json::Value::from("Lia Esempio")),
            ("birth_date".to_owned(), serde_json::Value::from(born)),
        ]
        .into_iter()
        .collect(),
        source: "signup form".into(),
        purposes: vec![],
        collected_at: None,
    }
}

fn given(purpose: &str) -> NewConsentEvent {
    NewConsentEvent {
        kind: EventKind::Given,
        purpose: Some(purpose.to_owned()),
        channel: Channel::WebForm,
        language: None,
        evidence: Evidence::default(),
    }
}

async fn customer(app: &Custode, t: &Tree) -> SubjectId {
    app.store
        .create_subject(&admin(), &t.domain_a.id, "customer", "signup")
        .await
        .expect("customer")
}

on_both_engines!(a_customer_under_the_minimum_age_is_refused_where_the_policy_says);
/// Seed 001: adults only. A customer born in 2011 is not stored; one whose
/// birth date was stored under an earlier, younger limit gives no consent
/// and every decision but a legal obligation answers `under_age`, until
/// the day they come of age.
async fn a_customer_under_the_minimum_age_is_refused_where_the_policy_says(env: &Env) {
    let sys = Principal::system("test");
    // 2026-01-01: the policy of 14-year-olds first, as the law alone allows.
    let fourteen = Arc::new(
        custode_policy::load(
            "telecom.toml",
            &TELECOM.replace("minimum_age = 18", "minimum_age = 14"),
        )
        .expect("policy"),
    );
    let app = env.open_with(fourteen).await;
    let t = tree(&app).await;
    let teen = customer(&app, &t).await;
    app.store
        .write_records(
            &sys,
            "signup",
            vec![(teen.clone(), master_data("2011-05-01"))],
        )
        .await
        .expect("14 and over under the old policy");
    app.ledger
        .record_consent(&sys, &teen, given("marketing"))
        .await
        .expect("consent under the old policy");
    assert!(
        app.ledger
            .decide(&sys, &teen, "marketing")
            .await
            .expect("d")
            .allowed
    );

    // The shipped policy: adults only, birth date in master_data.
    app.store
        .set_policy(&sys, Env::telecom())
        .await
        .expect("adults only");
    let minor = customer(&app, &t).await;
    match app
        .store
        .write_records(
            &sys,
            "signup",
            vec![(minor.clone(), master_data("2011-05-01"))],
        )
        .await
    {
        Err(StoreError::InvalidRecord {
            source: RecordError::UnderAge { minimum: 18 },
            ..
        }) => {}
        other => panic!("a 14-year-old was stored: {other:?}"),
    }
    let err = app
        .store
        .write_records(
            &sys,
            "signup",
            vec![(minor.clone(), master_data("2011-05-01"))],
        )
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("younger than 18") && !err.to_string().contains("2011"),
        "{err}"
    );
    assert!(
        app.store
            .records(&sys, &minor, "check")
            .await
            .expect("read")
            .is_empty(),
        "nothing of the refused record is kept"
    );
    assert!(matches!(
        app.store
            .write_records(
                &sys,
                "signup",
                vec![(minor.clone(), master_data("01/05/2011"))]
            )
            .await,
        Err(StoreError::InvalidRecord {
            source: RecordError::BirthDate(_),
            ..
        })
    ));
    let adult = customer(&app, &t).await;
    app.store
        .write_records(
            &sys,
            "signup",
            vec![(adult.clone(), master_data("1990-02-03"))],
        )
        .await
        .expect("an adult");
    app.ledger
        .record_consent(&sys, &adult, given("marketing"))
        .await
        .expect("an adult's consent");
    assert!(
        app.ledger
            .decide(&sys, &adult, "marketing")
            .await
            .expect("d")
            .allowed
    );

    // The teenager stored before: no new consent, and no processing but
    // what the law requires.
    match app
        .ledger
        .record_consent(&sys, &teen, given("marketing"))
        .await
    {
        Err(StoreError::Invalid(m)) => assert!(m.contains("younger than 18"), "{m}"),
        other => panic!("a minor's consent was recorded: {other:?}"),
    }
    let d = app
        .ledger
        .decide(&sys, &teen, "marketing")
        .await
        .expect("decide");
    assert!(!d.allowed);
    assert_eq!(d.reason, Reason::UnderAge);
    assert_eq!(d.reason.code(), "under_age");
    assert_eq!(
        app.ledger
            .decide(&sys, &teen, "service")
            .await
            .expect("d")
            .reason,
        Reason::UnderAge
    );
    assert!(
        app.ledger
            .decide(&sys, &teen, "tax_records")
            .await
            .expect("d")
            .allowed
    );
    // Withdrawing is always possible.
    app.ledger
        .record_consent(
            &sys,
            &teen,
            NewConsentEvent {
                kind: EventKind::Withdrawn,
                ..given("marketing")
            },
        )
        .await
        .expect("a withdrawal is always recorded");

    // On their eighteenth birthday, 2029-05-01, they are of age.
    env.clock
        .set(Timestamp::new(1_872_331_200, 0).expect("2029-05-01 noon"));
    app.ledger
        .record_consent(&sys, &teen, given("marketing"))
        .await
        .expect("of age now");
    assert!(
        app.ledger
            .decide(&sys, &teen, "marketing")
            .await
            .expect("d")
            .allowed
    );
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(a_dormant_account_is_closed_and_its_data_end);
/// Seeds 000 and 004: a dormant mailbox does not keep everything until a
/// closure that never comes. After 24 months without activity its account
/// is closed (dated when the 24 months ran out), and 30 days later what no
/// law keeps is gone and the subject shredded.
async fn a_dormant_account_is_closed_and_its_data_end(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let sys = Principal::system("sweeper");
    let dormant = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject");
    let active = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject");
    for s in [&dormant, &active] {
        app.store
            .write_records(
                &sys,
                "signup",
                vec![(s.clone(), contact("dorm@example.org", "+39 055 123 4567"))],
            )
            .await
            .expect("write");
    }
    let day = SignedDuration::from_hours(24);
    let start = Timestamp::new(1_767_225_600, 0).expect("2026-01-01, the tests' start");
    // A year later the active one logs in; the dormant one never does.
    env.clock.set(start + day * 365);
    app.retention
        .record_life_event(&sys, &active, LifeEvent::Activity, None, "login")
        .await
        .expect("activity");
    // The day before the 24 months run out, nothing happens.
    env.clock.set(start + day * 729);
    let r = app.retention.sweep_all(&sys, 100).await.expect("sweep");
    assert_eq!(r.accounts_closed, 0);
    assert_eq!(
        app.store
            .records(&admin(), &dormant, "check")
            .await
            .expect("read")
            .len(),
        1
    );
    // 2028-01-02: 24 months after 2026-01-01 ran out.
    env.clock.set(start + day * 731);
    let r = app.retention.sweep_all(&sys, 100).await.expect("sweep");
    assert_eq!(r.accounts_closed, 1, "only the dormant account");
    let records = app
        .store
        .records(&admin(), &dormant, "check")
        .await
        .expect("read");
    let end = records[0].retain_until.expect("an end now");
    assert_eq!(
        end.to_string(),
        "2028-02-01T23:00:00Z",
        "30 days after the closure, Rome"
    );
    assert!(
        app.store
            .records(&admin(), &active, "check")
            .await
            .expect("read")[0]
            .retain_until
            .is_none(),
        "an active account keeps its end open"
    );
    // A second sweep closes nothing twice.
    assert_eq!(
        app.retention
            .sweep_all(&sys, 100)
            .await
            .expect("sweep")
            .accounts_closed,
        0
    );
    env.clock.set(start + day * 763);
    let r = app.retention.sweep_all(&sys, 100).await.expect("sweep");
    assert_eq!(r.erased, 1);
    assert_eq!(r.subjects_shredded, 1);
    assert!(matches!(
        app.store.records(&admin(), &dormant, "check").await,
        Err(StoreError::Erased(_))
    ));
    assert_eq!(
        app.store
            .records(&admin(), &active, "check")
            .await
            .expect("read")
            .len(),
        1
    );
    let closed: i64 = sqlx::Row::get(
        &sqlx::query(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'subject.event' AND body LIKE '%close_after_inactivity%'",
        )
        .fetch_one(app.store.pool())
        .await
        .expect("count"),
        0,
    );
    assert_eq!(closed, 1, "the closure is audited");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(closing_a_subscriber_erases_its_registry_and_revokes_its_credentials);
/// Seed 002: deactivating a subscriber is prompt permanent deletion. Its
/// interlocutor registry is erased, its tokens stop working, its name is
/// no longer in clear, nothing new can be created under it — and another
/// subscriber is untouched.
async fn closing_a_subscriber_erases_its_registry_and_revokes_its_credentials(env: &Env) {
    let app = env.open_with(Env::messaging()).await;
    let t = tree(&app).await;
    let a = admin();
    let provider = principal_of(&t.provider, custode_domain::Role::SupportAgent);
    let mut shops = Vec::new();
    for name in ["Bottega Chiusa", "Bottega Aperta"] {
        let shop = app
            .store
            .create_tenant(&a, Some(&t.provider.id), TenantKind::Subscriber, name)
            .await
            .expect("tenant");
        let mut people = vec![
            app.store
                .create_subject(&a, &shop.id, "subscriber", "signup")
                .await
                .expect("subscriber"),
        ];
        for _ in 0..2 {
            people.push(
                app.store
                    .create_subject(&a, &shop.id, "interlocutor", "registry")
                    .await
                    .expect("interlocutor"),
            );
        }
        let token = app
            .accounts
            .issue_held_token(
                &a,
                "shop",
                "the shop's own system",
                &custode_accounts::Grant {
                    role: custode_domain::Role::DomainAdmin,
                    scope_path: shop.path.clone(),
                    subject: None,
                },
                None,
            )
            .await
            .expect("token");
        shops.push((shop, people, token));
    }
    let (closed, gone, token) = &shops[0];
    // The shop itself cannot close itself; its provider can.
    let me = app
        .accounts
        .authenticate_token(&token.token)
        .await
        .expect("token works");
    assert!(matches!(
        app.erasure
            .close_tenant(&me, &closed.id, "deactivation")
            .await,
        Err(StoreError::Forbidden(_))
    ));
    let erased = app
        .erasure
        .close_tenant(&provider, &closed.id, "deactivation requested")
        .await
        .expect("close");
    assert_eq!(erased.erased + erased.kept, 3);
    for s in gone {
        // Erased, or erased but for what a law keeps, restricted to it.
        assert!(matches!(
            app.store.records(&a, s, "check").await,
            Err(StoreError::Erased(_) | StoreError::Restricted { .. })
        ));
    }
    assert!(matches!(
        app.accounts.authenticate_token(&token.token).await,
        Err(StoreError::Unauthenticated(_))
    ));
    assert!(
        app.store
            .tenant(&a, &closed.id)
            .await
            .expect("row")
            .name
            .starts_with("closed tenant ")
    );
    let names: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM tenants WHERE name LIKE '%Chiusa%'")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    );
    assert_eq!(names, 0, "the closed shop's name is not kept in clear");
    assert!(matches!(
        app.store
            .create_subject(&a, &closed.id, "interlocutor", "late")
            .await,
        Err(StoreError::Conflict(_))
    ));
    // Running it again finishes nothing more and breaks nothing.
    let again = app
        .erasure
        .close_tenant(&provider, &closed.id, "again")
        .await
        .expect("again");
    assert!(again.already_closed);
    assert_eq!(again.erased + again.kept, 0);
    let (open, kept, open_token) = &shops[1];
    app.accounts
        .authenticate_token(&open_token.token)
        .await
        .expect("other shop's token works");
    assert_eq!(
        app.store.tenant(&a, &open.id).await.expect("row").name,
        "Bottega Aperta"
    );
    for s in kept {
        app.store.records(&a, s, "check").await.expect("untouched");
    }
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}
