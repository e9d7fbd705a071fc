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
