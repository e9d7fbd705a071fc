//! The consent ledger's promises, each shown on SQLite and on PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use custode_consent::receipt::{self, Format, Publication};
use custode_consent::{Channel, EventKind, Evidence, Reason};
use custode_domain::{Principal, Role, Scope, SubjectId};
use custode_store::{NewConsentEvent, Store, StoreError, Unsubscribed};

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

async fn customer(store: &Store) -> (Tree, SubjectId) {
    let t = tree(store).await;
    let s = store
        .create_subject(&admin(), &t.domain_a.id, "customer", "signup")
        .await
        .expect("subject");
    (t, s)
}

async fn allowed(store: &Store, s: &SubjectId, purpose: &str) -> (bool, Reason) {
    let d = store.decide(&agent(), s, purpose).await.expect("decision");
    (d.allowed, d.reason)
}

on_both_engines!(the_ledger_drives_decisions);
async fn the_ledger_drives_decisions(env: &Env) {
    let store = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&store).await;
    assert_eq!(
        allowed(&store, &s, "marketing").await,
        (false, Reason::NoConsent)
    );
    let mut given = event(EventKind::Given, Some("marketing"));
    given.evidence = Evidence {
        ip: Some("192.0.2.44".into()),
        user_agent: Some("Mozilla/5.0 (synthetic)".into()),
        form_id: Some("signup-v3".into()),
        operator: None,
    };
    let e = store
        .record_consent(&agent(), &s, given)
        .await
        .expect("given");
    assert_eq!(
        allowed(&store, &s, "marketing").await,
        (true, Reason::Consent(e.id))
    );
    // A contract purpose needs no consent and cannot be given one.
    assert_eq!(allowed(&store, &s, "service").await, (true, Reason::Basis));
    let err = store
        .record_consent(&agent(), &s, event(EventKind::Given, Some("website")))
        .await
        .expect_err("website rests on legitimate interests");
    assert!(err.to_string().contains("not on consent"), "{err}");

    let w = store
        .record_consent(&agent(), &s, event(EventKind::Withdrawn, Some("marketing")))
        .await
        .expect("withdrawn");
    assert_eq!(
        allowed(&store, &s, "marketing").await,
        (false, Reason::Withdrawn(w.id))
    );

    // The history keeps every event, evidence opened for the reader.
    let history = store
        .consent_history(&agent(), &s, "check")
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].kind, EventKind::Given);
    assert_eq!(
        history[0].evidence.as_ref().and_then(|e| e.ip.as_deref()),
        Some("192.0.2.44")
    );
    assert_eq!(history[0].policy_digest, store.policy().digest);
    assert_eq!(history[0].notice_digest.len(), 64);
    // Unknown purposes are refused with the list of known ones.
    let err = store
        .record_consent(&agent(), &s, event(EventKind::Given, Some("nope")))
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("marketing"), "{err}");
    store.close().await;
}

on_both_engines!(an_objection_to_direct_marketing_is_absolute);
async fn an_objection_to_direct_marketing_is_absolute(env: &Env) {
    let store = env.open_with(Env::telecom()).await;
    let (t, s) = customer(&store).await;
    let objection = store
        .record_consent(&agent(), &s, event(EventKind::Objected, None))
        .await
        .expect("objection");
    store
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("a fresh consent is recorded");
    assert_eq!(
        allowed(&store, &s, "marketing").await,
        (false, Reason::ObjectedToDirectMarketing(objection.id))
    );
    // Staff cannot lift it; the subject can.
    let err = store
        .record_consent(&agent(), &s, event(EventKind::ObjectionLifted, None))
        .await
        .expect_err("staff");
    assert!(matches!(err, StoreError::Forbidden(_)), "{err}");
    assert!(!allowed(&store, &s, "marketing").await.0);
    let me = Principal {
        id: "user:me".into(),
        role: Role::Subject,
        scope: Scope::subject(&t.domain_a.path, s.clone()),
    };
    store
        .record_consent(&me, &s, event(EventKind::ObjectionLifted, None))
        .await
        .expect("the subject lifts it");
    assert!(allowed(&store, &s, "marketing").await.0);
    // A restriction stops it again.
    let r = store
        .record_consent(&agent(), &s, event(EventKind::Restricted, None))
        .await
        .expect("restricted");
    assert_eq!(
        allowed(&store, &s, "marketing").await,
        (false, Reason::Restricted(r.id))
    );
    store.close().await;
}

on_both_engines!(another_instance_sees_the_change);
async fn another_instance_sees_the_change(env: &Env) {
    let a = env.open_with(Env::telecom()).await;
    let b = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&a).await;
    assert!(b.warm_decisions().await.expect("warm") >= 1);
    assert!(!allowed(&b, &s, "marketing").await.0, "cached: no consent");
    a.record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
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
    a.erase_subject(&Principal::system("test"), &s, "request 9")
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
    let store = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&store).await;
    let (_, other) = {
        let t = tree(&store).await;
        let o = store
            .create_subject(&admin(), &t.domain_b.id, "customer", "signup")
            .await
            .expect("subject");
        (t, o)
    };
    let old = store
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("given");
    store
        .record_consent(&agent(), &other, event(EventKind::Given, Some("directory")))
        .await
        .expect("given");
    let v1 = store.policy();
    let changed = store
        .set_policy(&admin(), with_longer_marketing(&v1))
        .await
        .expect("policy");
    assert_eq!(changed, ["marketing"]);
    assert_eq!(
        allowed(&store, &s, "marketing").await,
        (false, Reason::ReconsentNeeded(old.id))
    );
    assert!(
        allowed(&store, &other, "directory").await.0,
        "directory did not change"
    );
    let flagged = store
        .reconsent_needed(&agent(), "marketing", None, 100)
        .await
        .expect("list");
    assert_eq!(flagged, std::slice::from_ref(&s));

    // The receipt of the old consent cites the text it was given against.
    let key = store.verifying_key();
    let publication = Publication {
        notice_url: "https://privacy.example/notice",
    };
    let signed = store
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

    let renewed = store
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("renewed");
    assert_eq!(
        allowed(&store, &s, "marketing").await,
        (true, Reason::Consent(renewed.id))
    );
    assert!(
        store
            .reconsent_needed(&agent(), "marketing", None, 100)
            .await
            .expect("list")
            .is_empty()
    );
    store.close().await;
}

on_both_engines!(one_click_unsubscribe_withdraws_once);
async fn one_click_unsubscribe_withdraws_once(env: &Env) {
    let store = env.open_with(Env::telecom()).await;
    let (t, s) = customer(&store).await;
    store
        .record_consent(&agent(), &s, event(EventKind::Given, Some("marketing")))
        .await
        .expect("given");
    let token = store
        .unsubscribe_token(&agent(), &s, "marketing")
        .await
        .expect("token");
    assert!(!token.contains(s.as_str()));
    // A domain admin of another domain cannot mint one for this subject.
    let other = principal_of(&t.domain_b, Role::DomainAdmin);
    assert!(matches!(
        store.unsubscribe_token(&other, &s, "marketing").await,
        Err(StoreError::NotFound { .. })
    ));
    let first = store
        .one_click_unsubscribe(&token, Evidence::default())
        .await
        .expect("unsubscribe");
    let Unsubscribed::Done(id) = first else {
        panic!("not done: {first:?}")
    };
    assert_eq!(
        allowed(&store, &s, "marketing").await,
        (false, Reason::Withdrawn(id))
    );
    let again = store
        .one_click_unsubscribe(&token, Evidence::default())
        .await
        .expect("again");
    assert_eq!(
        again,
        Unsubscribed::Done(id),
        "a repeat records nothing new"
    );
    let history = store
        .consent_history(&agent(), &s, "check")
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].channel, Channel::OneClick);
    assert_eq!(history[1].actor, format!("subject:{s}"));
    assert_eq!(
        store
            .one_click_unsubscribe("bogus", Evidence::default())
            .await
            .expect("bogus"),
        Unsubscribed::Unknown
    );
    store
        .erase_subject(&Principal::system("test"), &s, "request")
        .await
        .expect("erase");
    assert_eq!(
        store
            .one_click_unsubscribe(&token, Evidence::default())
            .await
            .expect("erased"),
        Unsubscribed::Unknown
    );
    store.close().await;
}

on_both_engines!(erasure_shreds_the_evidence);
async fn erasure_shreds_the_evidence(env: &Env) {
    let store = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&store).await;
    let mut given = event(EventKind::Given, Some("marketing"));
    given.evidence.ip = Some("198.51.100.7".into());
    store
        .record_consent(&agent(), &s, given)
        .await
        .expect("given");
    store
        .erase_subject(&Principal::system("test"), &s, "request")
        .await
        .expect("erase");
    let history = store
        .consent_history(&agent(), &s, "check")
        .await
        .expect("history");
    assert_eq!(
        history.len(),
        1,
        "the event stays as proof of what was done"
    );
    assert_eq!(history[0].evidence, None, "its evidence is unreadable");
    assert_eq!(allowed(&store, &s, "marketing").await.1, Reason::Erased);
    store.close().await;
}

on_both_engines!(a_batch_is_all_or_nothing);
async fn a_batch_is_all_or_nothing(env: &Env) {
    let store = env.open_with(Env::telecom()).await;
    let (_, s) = customer(&store).await;
    let err = store
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
    let history = store
        .consent_history(&agent(), &s, "check")
        .await
        .expect("history");
    assert!(history.is_empty(), "nothing of the batch was recorded");
    let recorded = store
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
    assert!(allowed(&store, &s, "directory").await.0);
    assert!(store.audit_verify().await.expect("verify").is_intact());
    store.close().await;
}
