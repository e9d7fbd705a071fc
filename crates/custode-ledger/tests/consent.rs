//! The consent ledger's promises, each shown on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use custode_consent::receipt::{self, Format, Publication};
use custode_consent::{Channel, EventKind, Evidence, Reason};
use custode_domain::{Principal, Role, Scope, SubjectId};
use custode_ledger::{NewConsentEvent, Unsubscribed};
use custode_store::StoreError;
use custode_testkit::*;

fn agent() -> Principal {
    Principal {
        id: "user:agent".into(),
        role: Role::SupportAgent,
        scope: Scope::everything(),
    }
}

fn event(kind: EventKind, purpose: Option<&str>) -> NewConsentEvent {
    NewConsentEvent {
        kind,
        purpose: purpose.map(str::to_owned),
        channel: Channel::WebForm,
        language: None,
        evidence: Evidence::default(),
    }
}

async fn customer(app: &Custode) -> (Tree, SubjectId) {
    let t = tree(app).await;
    let s = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "customer", "signup")
        .await
        .expect("subject");
    (t, s)
}

async fn allowed(app: &Custode, s: &SubjectId, purpose: &str) -> (bool, Reason) {
    let d = app
        .ledger
        .decide(&agent(), s, purpose)
        .await
        .expect("decision");
    (d.allowed, d.reason)
}

on_both_engines!(the_ledger_drives_decisions);
async fn the_ledger_drives_decisions(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&app).await;
    assert_eq!(
        allowed(&app, &s, "marketing").await,
        (false, Reason::NoConsent)
    );
    let mut given = event(EventKind::Given, Some("marketing"));
    given.evidence = Evidence {
        ip: Some("192.0.2.44".into()),
        user_agent: Some("Mozilla/5.0 (synthetic)".into()),
        form_id: Some("signup-v3".into()),
        operator: None,
    };
    let e = app
        .ledger
        .record_consent(&agent(), &s, given)
        .await
        .expect("given");
    assert_eq!(
        allowed(&app, &s, "marketing").await,
        (true, Reason::Consent(e.id))
    );
    // A contract purpose needs no consent and cannot be given one.
    assert_eq!(allowed(&app, &s, "service").await, (true, Reason::Basis));
    let err = app
        .ledger
        .record_consent(&agent(), &s, event(EventKind::Given, Some("website")))
        .await
        .expect_err("website rests on legitimate interests");
    assert!(err.to_string().contains("not on consent"), "{err}");

    let w = app
        .ledger
        .record_consent(&agent(), &s, event(EventKind::Withdrawn, Some("marketing")))
        .await
        .expect("withdrawn");
    assert_eq!(
        allowed(&app, &s, "marketing").await,
        (false, Reason::Withdrawn(w.id))
    );

    // The history keeps every event, evidence opened for the reader.
    let history = app
        .ledger
        .consent_history(&agent(), &s, "check")
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].kind, EventKind::Given);
    assert_eq!(
        history[0].evidence.as_ref().and_then(|e| e.ip.as_deref()),
        Some("192.0.2.44")
    );
    assert_eq!(history[0].policy_digest, app.store.policy().digest);
    assert_eq!(history[0].notice_digest.len(), 64);
    // Unknown purposes are refused with the list of known ones.
    let err = app
        .ledger
        .record_consent(&agent(), &s, event(EventKind::Given, Some("nope")))
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("marketing"), "{err}");
    app.close().await;
}

on_both_engines!(an_objection_to_direct_marketing_is_absolute);
async fn an_objection_to_direct_marketing_is_absolute(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let (t, s) = customer(&app).await;
    let objection = app
        .ledger
        .record_consent(&agent(), &s, event(EventKind::Objected, None))
        .await
        .expect("objection");
    app.ledger
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("a fresh consent is recorded");
    assert_eq!(
        allowed(&app, &s, "marketing").await,
        (false, Reason::ObjectedToDirectMarketing(objection.id))
    );
    // Staff cannot lift it; the subject can.
    let err = app
        .ledger
        .record_consent(&agent(), &s, event(EventKind::ObjectionLifted, None))
        .await
        .expect_err("staff");
    assert!(matches!(err, StoreError::Forbidden(_)), "{err}");
    assert!(!allowed(&app, &s, "marketing").await.0);
    let me = Principal {
        id: "user:me".into(),
        role: Role::Subject,
        scope: Scope::subject(&t.domain_a.path, s.clone()),
    };
    app.ledger
        .record_consent(&me, &s, event(EventKind::ObjectionLifted, None))
        .await
        .expect("the subject lifts it");
    assert!(allowed(&app, &s, "marketing").await.0);
    // A restriction stops it again.
    let r = app
        .ledger
        .record_consent(&agent(), &s, event(EventKind::Restricted, None))
        .await
        .expect("restricted");
    assert_eq!(
        allowed(&app, &s, "marketing").await,
        (false, Reason::Restricted(r.id))
    );
    app.close().await;
}

on_both_engines!(another_instance_sees_the_change);
async fn another_instance_sees_the_change(env: &Env) {
    let a = env.open_with(Env::telecom()).await;
    let b = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&a).await;
    assert!(b.ledger.warm_decisions().await.expect("warm") >= 1);
    assert!(!allowed(&b, &s, "marketing").await.0, "cached: no consent");
    a.ledger
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("given on a");
    let mut seen = false;
    for _ in 0..50 {
        if allowed(&b, &s, "marketing").await.0 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "instance b never saw the consent given on instance a");
    a.store
        .erase_subject(&Principal::system("test"), &s, "request 9")
        .await
        .expect("erase");
    let mut erased = false;
    for _ in 0..50 {
        if allowed(&b, &s, "marketing").await.1 == Reason::Erased {
            erased = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(erased, "instance b never saw the erasure");
    a.close().await;
    b.close().await;
}

fn with_longer_marketing(policy: &custode_policy::Policy) -> Arc<custode_policy::Policy> {
    let source = policy.source.replace(
        "subjects = [\"customer\", \"prospect\"]\nretention = { keep = \"24 months\" }\ndirect_marketing = true",
        "subjects = [\"customer\", \"prospect\"]\nretention = { keep = \"36 months\" }\ndirect_marketing = true",
    );
    assert_ne!(*source, *policy.source, "the marketing retention is edited");
    Arc::new(custode_policy::load("telecom-v2.toml", &source).expect("valid"))
}

on_both_engines!(a_policy_change_flags_old_consents);
async fn a_policy_change_flags_old_consents(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&app).await;
    let (_, other) = {
        let t = tree(&app).await;
        let o = app
            .store
            .create_subject(&admin(), &t.domain_b.id, "customer", "signup")
            .await
            .expect("subject");
        (t, o)
    };
    let old = app
        .ledger
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("given");
    app.ledger
        .record_consent(&agent(), &other, event(EventKind::Given, Some("directory")))
        .await
        .expect("given");
    let v1 = app.store.policy();
    let changed = app
        .store
        .set_policy(&admin(), with_longer_marketing(&v1))
        .await
        .expect("policy");
    assert_eq!(changed, ["marketing"]);
    assert_eq!(
        allowed(&app, &s, "marketing").await,
        (false, Reason::ReconsentNeeded(old.id))
    );
    assert!(
        allowed(&app, &other, "directory").await.0,
        "directory did not change"
    );
    let flagged = app
        .ledger
        .reconsent_needed(&agent(), "marketing", None, 100)
        .await
        .expect("list");
    assert_eq!(flagged, std::slice::from_ref(&s));

    // The receipt of the old consent cites the text it was given against.
    let key = app.store.verifying_key();
    let publication = Publication {
        notice_url: "https://privacy.example/notice",
    };
    let signed = app
        .ledger
        .consent_receipt(&agent(), &old.id, Format::Iso27560, &publication)
        .await
        .expect("receipt");
    assert_eq!(
        signed.receipt["notice"]["policy_digest"],
        v1.digest.as_str()
    );
    let text = serde_json::to_string(&signed).expect("json");
    assert_eq!(
        receipt::verify(&text, &key).expect("verifies"),
        signed.receipt
    );

    let renewed = app
        .ledger
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("renewed");
    assert_eq!(
        allowed(&app, &s, "marketing").await,
        (true, Reason::Consent(renewed.id))
    );
    assert!(
        app.ledger
            .reconsent_needed(&agent(), "marketing", None, 100)
            .await
            .expect("list")
            .is_empty()
    );
    app.close().await;
}

on_both_engines!(one_click_unsubscribe_withdraws_once);
async fn one_click_unsubscribe_withdraws_once(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let (t, s) = customer(&app).await;
    app.ledger
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("given");
    let token = app
        .ledger
        .unsubscribe_token(&agent(), &s, "marketing")
        .await
        .expect("token");
    assert!(!token.contains(s.as_str()));
    // A domain admin of another domain cannot mint one for this subject.
    let other = principal_of(&t.domain_b, Role::DomainAdmin);
    assert!(matches!(
        app.ledger.unsubscribe_token(&other, &s, "marketing").await,
        Err(StoreError::NotFound { .. })
    ));
    let first = app
        .ledger
        .one_click_unsubscribe(&token, Evidence::default())
        .await
        .expect("unsubscribe");
    let Unsubscribed::Done(id) = first else {
        panic!("not done: {first:?}")
    };
    assert_eq!(
        allowed(&app, &s, "marketing").await,
        (false, Reason::Withdrawn(id))
    );
    let again = app
        .ledger
        .one_click_unsubscribe(&token, Evidence::default())
        .await
        .expect("again");
    assert_eq!(
        again,
        Unsubscribed::Done(id),
        "a repeat records nothing new"
    );
    let history = app
        .ledger
        .consent_history(&agent(), &s, "check")
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].channel, Channel::OneClick);
    assert_eq!(history[1].actor, format!("subject:{s}"));
    assert_eq!(
        app.ledger
            .one_click_unsubscribe("bogus", Evidence::default())
            .await
            .expect("bogus"),
        Unsubscribed::Unknown
    );
    app.store
        .erase_subject(&Principal::system("test"), &s, "request")
        .await
        .expect("erase");
    assert_eq!(
        app.ledger
            .one_click_unsubscribe(&token, Evidence::default())
            .await
            .expect("erased"),
        Unsubscribed::Unknown
    );
    app.close().await;
}

on_both_engines!(erasure_shreds_the_evidence);
async fn erasure_shreds_the_evidence(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&app).await;
    let mut given = event(EventKind::Given, Some("marketing"));
    given.evidence.ip = Some("198.51.100.7".into());
    app.ledger
        .record_consent(&agent(), &s, given)
        .await
        .expect("given");
    app.store
        .erase_subject(&Principal::system("test"), &s, "request")
        .await
        .expect("erase");
    let history = app
        .ledger
        .consent_history(&agent(), &s, "check")
        .await
        .expect("history");
    assert_eq!(
        history.len(),
        1,
        "the event stays as proof of what was done"
    );
    assert_eq!(history[0].evidence, None, "its evidence is unreadable");
    assert_eq!(allowed(&app, &s, "marketing").await.1, Reason::Erased);
    app.close().await;
}

on_both_engines!(a_batch_is_all_or_nothing);
async fn a_batch_is_all_or_nothing(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&app).await;
    let err = app
        .ledger
        .record_consents(
            &agent(),
            vec![
                (s.clone(), event(EventKind::Given, Some("marketing"))),
                (s.clone(), event(EventKind::Given, Some("service"))),
            ],
        )
        .await
        .expect_err("the second rests on contract");
    assert!(err.to_string().contains("event 1 of the batch"), "{err}");
    let history = app
        .ledger
        .consent_history(&agent(), &s, "check")
        .await
        .expect("history");
    assert!(history.is_empty(), "nothing of the batch was recorded");
    let recorded = app
        .ledger
        .record_consents(
            &agent(),
            vec![
                (s.clone(), event(EventKind::Given, Some("marketing"))),
                (s.clone(), event(EventKind::Given, Some("directory"))),
            ],
        )
        .await
        .expect("batch");
    assert_eq!(recorded.len(), 2);
    assert!(allowed(&app, &s, "directory").await.0);
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}
