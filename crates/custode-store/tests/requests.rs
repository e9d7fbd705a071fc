//! Rights requests: the deadline fixed at receipt, the extension only in
//! the first month and with reasons, duplicates linked, the nearest
//! deadline first, the scope respected — on SQLite and PostgreSQL.

mod common;

use common::*;
use custode_domain::requests::Right;
use custode_domain::{Role, SubjectId};
use custode_store::{NewRequest, Requester, Store, StoreError};
use jiff::SignedDuration;
use jiff::civil::Date;

fn request(subject: &SubjectId, rights: &[Right]) -> NewRequest {
    NewRequest {
        subject: subject.clone(),
        rights: rights.to_vec(),
        requester: Requester::Subject,
        contact: "anna.verdi@example.org".into(),
        text: "Vorrei una copia dei miei dati.".into(),
    }
}

async fn subject(store: &Store, t: &Tree) -> SubjectId {
    store
        .create_subject(&admin(), &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject")
}

on_both_engines!(a_request_gets_its_legal_deadline_and_one_extension_in_the_first_month);
async fn a_request_gets_its_legal_deadline_and_one_extension_in_the_first_month(env: &Env) {
    let store = env.open().await;
    let t = tree(&store).await;
    let s = subject(&store, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    // The clock reads 2026-01-01 (noon-ish UTC, Rome): the month ends on
    // Sunday 1 February, so the law says Monday 2 February; the policy's
    // promise of 30 days says 31 January, stricter.
    let filed = store
        .file_request(&dpo, request(&s, &[Right::Access]))
        .await
        .expect("file");
    assert_eq!(filed.due, Date::new(2026, 1, 31).expect("date"));
    assert_eq!(filed.days_left, 30);
    assert_eq!(filed.duplicate_of, None);

    let err = store
        .extend_request(&dpo, &filed.id, "  ")
        .await
        .expect_err("no reason");
    assert!(err.to_string().contains("reasons"), "{err}");
    env.clock.advance(SignedDuration::from_hours(24 * 20));
    let extended = store
        .extend_request(&dpo, &filed.id, "the request covers ten years of mail logs")
        .await
        .expect("extend");
    assert_eq!(
        extended.due,
        Date::new(2026, 4, 1).expect("date"),
        "three months from receipt"
    );
    assert_eq!(
        extended.extension.as_deref(),
        Some("the request covers ten years of mail logs")
    );
    assert!(
        store
            .extend_request(&dpo, &filed.id, "again")
            .await
            .is_err(),
        "one extension"
    );

    // Another request, later, no longer extendable after its first month.
    let late = store
        .file_request(&dpo, request(&s, &[Right::Erasure]))
        .await
        .expect("file");
    env.clock.advance(SignedDuration::from_hours(24 * 40));
    let err = store
        .extend_request(&dpo, &late.id, "too busy")
        .await
        .expect_err("too late");
    assert!(err.to_string().contains("first month"), "{err}");
    let list = store.requests(&dpo, true).await.expect("list");
    assert_eq!(list[0].id, late.id, "the late request comes first");
    assert!(list[0].days_left < 0);
    assert!(store.audit_verify().await.expect("verify").is_intact());
    store.close().await;
}

on_both_engines!(duplicates_are_linked_and_scope_is_respected);
async fn duplicates_are_linked_and_scope_is_respected(env: &Env) {
    let store = env.open().await;
    let t = tree(&store).await;
    let s = subject(&store, &t).await;
    let agent = principal_of(&t.provider, Role::SupportAgent);
    let first = store
        .file_request(&agent, request(&s, &[Right::Access, Right::Portability]))
        .await
        .expect("first");
    let again = store
        .file_request(&agent, request(&s, &[Right::Portability, Right::Access]))
        .await
        .expect("again");
    assert_eq!(
        again.duplicate_of.as_deref(),
        Some(first.id.as_str()),
        "linked, not lost"
    );
    assert_eq!(store.requests(&agent, true).await.expect("list").len(), 2);

    let other_domain = principal_of(&t.domain_b, Role::DomainAdmin);
    assert!(matches!(
        store
            .file_request(&other_domain, request(&s, &[Right::Erasure]))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .requests(&other_domain, true)
            .await
            .expect("list")
            .is_empty()
    );
    let mut delegate = request(&s, &[Right::Access]);
    delegate.requester = Requester::Delegate { name: " ".into() };
    assert!(
        store.file_request(&agent, delegate).await.is_err(),
        "a delegate names themselves"
    );
    let denied: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
            .fetch_one(store.pool())
            .await
            .expect("count"),
        0,
    );
    assert_eq!(denied, 1, "the out-of-scope attempt is audited");
    store.close().await;
}

fn record(policy: &custode_policy::Policy, category: &str) -> custode_domain::NewRecord {
    let c = policy.category(category).expect("category");
    custode_domain::NewRecord {
        category: category.to_owned(),
        fields: c
            .fields
            .iter()
            .map(|f| {
                let v = match f.identifier {
                    Some(custode_policy::IdentifierKind::Email) => {
                        "erase.me@example.org".to_owned()
                    }
                    Some(custode_policy::IdentifierKind::IpAddress) => "192.0.2.9".to_owned(),
                    Some(custode_policy::IdentifierKind::Phone) => "+39 055 000 1111".to_owned(),
                    _ => format!("synthetic {}", f.id.value),
                };
                (f.id.value.clone(), serde_json::Value::from(v))
            })
            .collect(),
        source: "test".into(),
        purposes: vec![],
        collected_at: None,
    }
}

on_both_engines!(an_erasure_keeps_only_what_the_law_requires_and_says_why);
async fn an_erasure_keeps_only_what_the_law_requires_and_says_why(env: &Env) {
    let store = env.open().await;
    let t = tree(&store).await;
    let s = subject(&store, &t).await;
    let policy = store.policy();
    let sys = custode_domain::Principal::system("test");
    let categories = ["contact", "credentials", "usage", "billing", "mail"];
    store
        .write_records(
            &sys,
            "signup",
            categories
                .iter()
                .map(|c| (s.clone(), record(&policy, c)))
                .collect(),
        )
        .await
        .expect("write");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = store
        .file_request(&dpo, request(&s, &[Right::Erasure]))
        .await
        .expect("file");
    let answer = store.fulfil_erasure(&dpo, &req.id).await.expect("erase");
    // usage: kept for the law in the vault (ip_retention); contact and
    // billing: legal obligations kept in place with their ground; the rest
    // erased now.
    assert_eq!(answer.vaulted.len(), 1, "{answer:?}");
    assert_eq!(answer.vaulted[0].category, "usage");
    assert_eq!(answer.vaulted[0].grounds, ["ip_retention"]);
    let kept: Vec<&str> = answer.kept.iter().map(|k| k.category.as_str()).collect();
    assert_eq!(kept, ["billing", "contact"], "{answer:?}");
    assert!(
        answer.kept.iter().all(|k| k.until.is_some()),
        "each with its end: {answer:?}"
    );
    assert_eq!(answer.erased, 2, "credentials and mail go now");
    assert!(!answer.shredded, "kept records need the key");
    let left = store.records(&dpo, &s, "check").await.expect("read");
    assert!(
        left.iter()
            .all(|r| r.category == "contact" || r.category == "billing")
    );
    assert!(
        left.iter().all(|r| r.purposes.iter().all(|p| {
            policy
                .purpose(p)
                .is_some_and(|x| x.basis == custode_policy::Basis::LegalObligation)
        })),
        "what stays serves only legal obligations: {left:?}"
    );
    // Running it again changes nothing.
    let again = store.fulfil_erasure(&dpo, &req.id).await.expect("again");
    assert_eq!(again.erased, 0);
    assert_eq!(again.kept, answer.kept);
    assert_eq!(
        store.requests(&dpo, true).await.expect("list").len(),
        0,
        "answered"
    );
    assert!(store.audit_verify().await.expect("verify").is_intact());
    store.close().await;
}

on_both_engines!(an_erasure_with_nothing_to_keep_destroys_the_key);
async fn an_erasure_with_nothing_to_keep_destroys_the_key(env: &Env) {
    let store = env.open_with(Env::telecom()).await;
    let t = tree(&store).await;
    let s = store
        .create_subject(&admin(), &t.domain_a.id, "prospect", "signup")
        .await
        .expect("subject");
    let policy = store.policy();
    let sys = custode_domain::Principal::system("test");
    let writable: Vec<String> = policy
        .categories
        .iter()
        .filter(|c| {
            policy.purposes_of_category(&c.id.value).any(|p| {
                p.subjects.iter().any(|k| k.value == "prospect")
                    && p.basis != custode_policy::Basis::LegalObligation
            }) && !policy.purposes_of_category(&c.id.value).any(|p| {
                p.subjects.iter().any(|k| k.value == "prospect")
                    && p.basis == custode_policy::Basis::LegalObligation
            })
        })
        .map(|c| c.id.value.clone())
        .collect();
    assert!(!writable.is_empty());
    store
        .write_records(
            &sys,
            "signup",
            writable
                .iter()
                .map(|c| (s.clone(), record(&policy, c)))
                .collect(),
        )
        .await
        .expect("write");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = store
        .file_request(&dpo, request(&s, &[Right::Erasure]))
        .await
        .expect("file");
    let answer = store.fulfil_erasure(&dpo, &req.id).await.expect("erase");
    assert!(
        answer.kept.is_empty() && answer.vaulted.is_empty(),
        "{answer:?}"
    );
    assert!(answer.shredded);
    assert!(matches!(
        store.records(&dpo, &s, "check").await,
        Err(StoreError::Erased(_))
    ));
    store.close().await;
}
