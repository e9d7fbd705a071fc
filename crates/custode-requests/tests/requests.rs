//! Rights requests: the deadline fixed at receipt, the extension only in
//! the first month and with reasons, duplicates linked, the nearest
//! deadline first, the scope respected — on SQLite and PostgreSQL.

use custode_domain::requests::Right;
use custode_domain::{Clock, Role, SubjectId};
use custode_requests::{
    DocumentKind, FulfilmentInput, NewRequest, Outcome, RequestSummary, Requester,
};
use custode_store::StoreError;
use custode_testkit::*;
use jiff::SignedDuration;
use jiff::civil::Date;

fn request(subject: &SubjectId, rights: &[Right]) -> NewRequest {
    NewRequest {
        subject: subject.clone(),
        rights: rights.to_vec(),
        requester: Requester::Subject,
        contact: "anna.verdi@example.org".into(),
        text: "Vorrei una copia dei miei dati.".into(),
        language: None,
    }
}

/// A staff member approves the subject's ID document.
async fn verify_by_document(app: &Custode, by: &custode_domain::Principal, id: &str) {
    app.requests
        .put_document(
            by,
            id,
            DocumentKind::IdDocument,
            "image/png",
            b"\x89PNG\r\n\x1a\n synthetic scan",
        )
        .await
        .expect("document");
    app.requests
        .approve_identity(by, id)
        .await
        .expect("approve");
}

/// Files a request for `subject` as `by`, and has `verifier` approve the
/// requester's ID document.
async fn filed_and_verified(
    app: &Custode,
    by: &custode_domain::Principal,
    verifier: &custode_domain::Principal,
    subject: &SubjectId,
    rights: &[Right],
) -> RequestSummary {
    let filed = app
        .requests
        .file_request(by, request(subject, rights))
        .await
        .expect("file");
    verify_by_document(app, verifier, &filed.id).await;
    filed
}

/// How many refusals the audit log holds.
async fn refusals_audited(app: &Custode) -> i64 {
    sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'access.denied'")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    )
}

/// Queues the fulfilment and runs its jobs to the end.
async fn fulfil(
    app: &Custode,
    by: &custode_domain::Principal,
    id: &str,
    input: FulfilmentInput,
) -> RequestSummary {
    app.requests
        .queue_fulfilment(by, id, input)
        .await
        .expect("queue");
    app.requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");
    app.requests.request(by, id).await.expect("request")
}

fn job<'a>(r: &'a RequestSummary, right: &str) -> &'a serde_json::Value {
    let j = r
        .jobs
        .iter()
        .find(|j| j.right == right)
        .unwrap_or_else(|| panic!("no {right} job: {r:?}"));
    assert_eq!(j.state, "done", "{j:?}");
    j.result.as_ref().expect("result")
}

async fn subject(app: &Custode, t: &Tree) -> SubjectId {
    app.store
        .create_subject(&admin(), &t.domain_a.id, "mailbox_user", "signup")
        .await
        .expect("subject")
}

on_both_engines!(a_request_gets_its_legal_deadline_and_one_extension_in_the_first_month);
async fn a_request_gets_its_legal_deadline_and_one_extension_in_the_first_month(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    // The clock reads 2026-01-01 (noon-ish UTC, Rome): the month ends on
    // Sunday 1 February, so the law says Monday 2 February; the policy's
    // promise of 30 days says 31 January, stricter.
    let filed = app
        .requests
        .file_request(&dpo, request(&s, &[Right::Access]))
        .await
        .expect("file");
    assert_eq!(filed.due, Date::new(2026, 1, 31).expect("date"));
    assert_eq!(filed.days_left, 30);
    assert_eq!(filed.duplicate_of, None);

    let err = app
        .requests
        .extend_request(&dpo, &filed.id, "  ")
        .await
        .expect_err("no reason");
    assert!(err.to_string().contains("reasons"), "{err}");
    env.clock.advance(SignedDuration::from_hours(24 * 20));
    let extended = app
        .requests
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
        app.requests
            .extend_request(&dpo, &filed.id, "again")
            .await
            .is_err(),
        "one extension"
    );

    // Another request, later, no longer extendable after its first month.
    let late = app
        .requests
        .file_request(&dpo, request(&s, &[Right::Erasure]))
        .await
        .expect("file");
    env.clock.advance(SignedDuration::from_hours(24 * 40));
    let err = app
        .requests
        .extend_request(&dpo, &late.id, "too busy")
        .await
        .expect_err("too late");
    assert!(err.to_string().contains("first month"), "{err}");
    let list = app.requests.requests(&dpo, true).await.expect("list");
    assert_eq!(list[0].id, late.id, "the late request comes first");
    assert!(list[0].days_left < 0);
    let health = app.requests.request_health().await.expect("health");
    assert_eq!((health.open, health.overdue), (2, 1), "{health:?}");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(duplicates_are_linked_and_scope_is_respected);
async fn duplicates_are_linked_and_scope_is_respected(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let agent = principal_of(&t.provider, Role::SupportAgent);
    let first = app
        .requests
        .file_request(&agent, request(&s, &[Right::Access, Right::Portability]))
        .await
        .expect("first");
    let again = app
        .requests
        .file_request(&agent, request(&s, &[Right::Portability, Right::Access]))
        .await
        .expect("again");
    assert_eq!(
        again.duplicate_of.as_deref(),
        Some(first.id.as_str()),
        "linked, not lost"
    );
    assert_eq!(
        app.requests
            .requests(&agent, true)
            .await
            .expect("list")
            .len(),
        2
    );

    let other_domain = principal_of(&t.domain_b, Role::DomainAdmin);
    assert!(matches!(
        app.requests
            .file_request(&other_domain, request(&s, &[Right::Erasure]))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        app.requests
            .requests(&other_domain, true)
            .await
            .expect("list")
            .is_empty()
    );
    let mut delegate = request(&s, &[Right::Access]);
    delegate.requester = Requester::Delegate { name: " ".into() };
    assert!(
        app.requests.file_request(&agent, delegate).await.is_err(),
        "a delegate names themselves"
    );
    let denied = refusals_audited(&app).await;
    assert_eq!(denied, 1, "the out-of-scope attempt is audited");
    app.close().await;
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
                    // An adult's: a policy naming the birth date refuses minors.
                    _ if f.dpv.as_deref() == Some("pd:BirthDate") => "1980-04-12".to_owned(),
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

on_both_engines!(portability_returns_what_a_customer_typed_into_a_form_under_each_example);
/// Issue "Every promise kept", item 4: a customer who signed up by form
/// finds those data in their portability package (Art. 20), under every
/// shipped policy; data the controller derives, or that come only from
/// third parties, stay out.
async fn portability_returns_what_a_customer_typed_into_a_form_under_each_example(env: &Env) {
    for (policy, kind, tenant_kind, categories) in [
        (Env::policy(), "customer", None, vec!["contact", "usage"]),
        (
            Env::messaging(),
            "subscriber",
            Some(custode_domain::TenantKind::Subscriber),
            vec!["subscriber_identity", "delivery"],
        ),
        (
            Env::messaging(),
            "interlocutor",
            Some(custode_domain::TenantKind::Subscriber),
            vec!["interlocutor_data"],
        ),
        (
            Env::telecom(),
            "customer",
            None,
            vec!["master_data", "net_traffic"],
        ),
    ] {
        // A data directory per policy, as a provider would have.
        let env = Env::new(env.engine).await;
        let app = env.open_with(policy.clone()).await;
        let t = tree(&app).await;
        let home = match tenant_kind {
            Some(k) => {
                app.store
                    .create_tenant(&admin(), Some(&t.provider.id), k, "Bottega Esempio")
                    .await
                    .expect("tenant")
                    .id
            }
            None => t.domain_a.id.clone(),
        };
        let s = app
            .store
            .create_subject(&admin(), &home, kind, "signup form")
            .await
            .expect("subject");
        let batch = categories
            .iter()
            .map(|c| (s.clone(), record(&policy, c)))
            .collect();
        app.store
            .write_records(&admin(), "signup form", batch)
            .await
            .expect("write");
        let dpo = principal_of(&t.provider, Role::Dpo);
        let req = filed_and_verified(&app, &dpo, &dpo, &s, &[Right::Portability]).await;
        fulfil(&app, &dpo, &req.id, FulfilmentInput::default()).await;
        let zip = app
            .requests
            .request_export(&dpo, &req.id, Right::Portability)
            .await
            .expect("package");
        let json: serde_json::Value =
            serde_json::from_slice(&unzip(&zip, "records.json")).expect("json");
        let mut got: Vec<&str> = json["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["category"].as_str())
            .collect();
        got.sort_unstable();
        let mut want = categories.clone();
        want.sort_unstable();
        assert_eq!(got, want, "{kind}: what was typed in and observed");
        app.close().await;
        env.cleanup().await;
    }
}

on_both_engines!(an_erasure_keeps_only_what_the_law_requires_and_says_why);
async fn an_erasure_keeps_only_what_the_law_requires_and_says_why(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let policy = app.store.policy();
    let sys = custode_domain::Principal::system("test");
    let categories = ["contact", "credentials", "usage", "billing", "mail"];
    app.store
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
    let req = app
        .requests
        .file_request(&dpo, request(&s, &[Right::Erasure]))
        .await
        .expect("file");
    assert!(
        matches!(
            app.requests
                .queue_fulfilment(&dpo, &req.id, FulfilmentInput::default())
                .await,
            Err(StoreError::Conflict(_))
        ),
        "nothing is done before the identity is checked"
    );
    verify_by_document(&app, &dpo, &req.id).await;
    let done = fulfil(&app, &dpo, &req.id, FulfilmentInput::default()).await;
    let answer = job(&done, "erasure").clone();
    // usage: kept for the law in the vault (ip_retention); contact and
    // billing: legal obligations kept in place with their ground; the rest
    // erased now.
    let vaulted = answer["vaulted"].as_array().expect("vaulted");
    assert_eq!(vaulted.len(), 1, "{answer}");
    assert_eq!(vaulted[0]["category"], "usage");
    assert_eq!(vaulted[0]["grounds"], serde_json::json!(["ip_retention"]));
    let kept: Vec<&str> = answer["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .filter_map(|k| k["category"].as_str())
        .collect();
    assert_eq!(kept, ["billing", "contact"], "{answer}");
    assert!(
        answer["kept"]
            .as_array()
            .expect("kept")
            .iter()
            .all(|k| k["until"].is_string()),
        "each with its end: {answer}"
    );
    assert_eq!(answer["erased"], 2, "credentials and mail go now");
    assert_eq!(answer["shredded"], false, "kept records need the key");
    assert!(
        !answer["recipients_to_tell"]
            .as_array()
            .expect("recipients")
            .is_empty(),
        "Art. 19: {answer}"
    );
    // Restricted to its ground: readable by the DPO for it, by no one else.
    assert!(matches!(
        app.store.records(&dpo, &s, "check").await,
        Err(StoreError::Restricted { .. })
    ));
    let left = app
        .store
        .records_for(&dpo, &s, "authority_requests", "check")
        .await
        .expect("read");
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
    // Queuing it again changes nothing.
    let again = fulfil(&app, &dpo, &req.id, FulfilmentInput::default()).await;
    assert_eq!(job(&again, "erasure"), &answer);
    let sent = app
        .requests
        .answer_request(&dpo, &req.id, Outcome::Accepted, "")
        .await
        .expect("answer");
    assert_eq!(sent.contact, "anna.verdi@example.org");
    let letter = sent.letter.to_markdown();
    assert!(
        letter.contains("Garante"),
        "the authority is named: {letter}"
    );
    let usage = policy
        .category("usage")
        .expect("usage")
        .name
        .get(sent.language);
    assert!(
        letter.contains(&format!("{usage}: 1 ")) && letter.contains("archivio separato"),
        "the vaulted category is listed with its ground: {letter}"
    );
    assert_eq!(
        app.requests.requests(&dpo, true).await.expect("list").len(),
        0,
        "answered"
    );
    assert!(
        matches!(
            app.requests
                .answer_request(&dpo, &req.id, Outcome::Accepted, "")
                .await,
            Err(StoreError::Conflict(_))
        ),
        "answered once"
    );
    let documents: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM request_documents")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    );
    assert_eq!(documents, 0, "the ID document goes with the answer");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

/// A store under the telecom policy and a prospect holding a record of
/// every category that no law keeps, so an erasure leaves nothing.
async fn prospect_with_nothing_kept(env: &Env) -> (Custode, Tree, SubjectId) {
    let app = env.open_with(Env::telecom()).await;
    let t = tree(&app).await;
    let s = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "prospect", "signup")
        .await
        .expect("subject");
    let policy = app.store.policy();
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
    app.store
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
    (app, t, s)
}

on_both_engines!(an_erasure_with_nothing_to_keep_destroys_the_key);
async fn an_erasure_with_nothing_to_keep_destroys_the_key(env: &Env) {
    let (app, t, s) = prospect_with_nothing_kept(env).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = filed_and_verified(&app, &dpo, &dpo, &s, &[Right::Erasure]).await;
    let done = fulfil(&app, &dpo, &req.id, FulfilmentInput::default()).await;
    let answer = job(&done, "erasure");
    assert_eq!(answer["kept"], serde_json::json!([]), "{answer}");
    assert_eq!(answer["vaulted"], serde_json::json!([]), "{answer}");
    assert_eq!(answer["shredded"], true);
    assert!(matches!(
        app.store.records(&dpo, &s, "check").await,
        Err(StoreError::Erased(_))
    ));
    app.close().await;
}

on_both_engines!(an_erasure_cut_short_under_schema_6_ends_after_the_upgrade);
async fn an_erasure_cut_short_under_schema_6_ends_after_the_upgrade(env: &Env) {
    let (app, t, s) = prospect_with_nothing_kept(env).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = filed_and_verified(&app, &dpo, &dpo, &s, &[Right::Erasure]).await;
    app.requests
        .queue_fulfilment(&dpo, &req.id, FulfilmentInput::default())
        .await
        .expect("queue");
    let claim = app
        .requests
        .claim_job(std::time::Duration::from_secs(30))
        .await
        .expect("claim")
        .expect("the erasure job is due");
    assert_eq!((claim.right, claim.step), (Right::Erasure, 0));
    app.requests
        .run_step(&claim, |_| {})
        .await
        .expect("external systems");
    // Schema 6 had five erasure steps (external systems, close the account,
    // move to the vault, erase, shred). Make this job one that a version 6
    // worker left with the account closed and the vault move next, its
    // lease lapsed, then upgrade.
    for statement in [
        "UPDATE request_jobs SET step = 2, next_at = 0 WHERE right_name = 'erasure'",
        "DELETE FROM schema_migrations WHERE version = 7",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(app.store.pool())
            .await
            .expect(statement);
    }
    app.close().await;

    let app = env.open_with(Env::telecom()).await;
    let before = app.requests.request(&dpo, &req.id).await.expect("request");
    assert_eq!(
        (before.jobs[0].step, before.jobs[0].steps),
        (1, 3),
        "old steps 1-3 are the new `erase`: {:?}",
        before.jobs
    );
    app.requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");
    let done = app.requests.request(&dpo, &req.id).await.expect("request");
    let answer = job(&done, "erasure");
    assert_eq!(answer["shredded"], true, "{answer}");
    assert!(matches!(
        app.store.records(&dpo, &s, "check").await,
        Err(StoreError::Erased(_))
    ));
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(a_code_checks_the_subjects_email_once_and_refuses_every_misuse);
async fn a_code_checks_the_subjects_email_once_and_refuses_every_misuse(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let policy = app.store.policy();
    let sys = custode_domain::Principal::system("test");
    app.store
        .write_records(
            &sys,
            "signup",
            vec![(s.clone(), record(&policy, "contact"))],
        )
        .await
        .expect("write");
    let me = custode_domain::Principal {
        id: "subject".into(),
        role: Role::Subject,
        scope: custode_domain::Scope::subject(&t.domain_a.path, s.clone()),
    };
    // A contact the subject is not known by gets no code.
    let stranger = app
        .requests
        .file_request(&me, request(&s, &[Right::Access]))
        .await
        .expect("file");
    let err = app
        .requests
        .issue_code(&me, &stranger.id)
        .await
        .err()
        .expect("unknown e-mail");
    assert!(err.to_string().contains("ID document"), "{err}");

    let mut known = request(&s, &[Right::Access]);
    known.contact = "Erase.Me@example.org".into();
    let filed = app.requests.file_request(&me, known).await.expect("file");
    let sent = app.requests.issue_code(&me, &filed.id).await.expect("code");
    assert_eq!(sent.code.len(), 6);
    assert!(
        app.requests.issue_code(&me, &filed.id).await.is_err(),
        "no second code within a minute"
    );
    let wrong = if sent.code == "000000" {
        "000001"
    } else {
        "000000"
    };
    let err = app
        .requests
        .check_code(&me, &filed.id, wrong)
        .await
        .expect_err("wrong");
    assert!(err.to_string().contains("4 attempt(s) left"), "{err}");
    // Expired: a fresh code, then the clock moves past its life.
    env.clock.advance(SignedDuration::from_mins(2));
    let second = app.requests.issue_code(&me, &filed.id).await.expect("code");
    assert!(
        app.requests
            .check_code(&me, &filed.id, &sent.code)
            .await
            .is_err(),
        "the first code is replaced"
    );
    env.clock.advance(SignedDuration::from_mins(16));
    let err = app
        .requests
        .check_code(&me, &filed.id, &second.code)
        .await
        .expect_err("expired");
    assert!(err.to_string().contains("expired"), "{err}");
    // Exhausted: five wrong codes, then even the right one is refused.
    let third = app.requests.issue_code(&me, &filed.id).await.expect("code");
    let wrong = if third.code == "999999" {
        "999998"
    } else {
        "999999"
    };
    for _ in 0..5 {
        assert!(
            app.requests
                .check_code(&me, &filed.id, wrong)
                .await
                .is_err()
        );
    }
    let err = app
        .requests
        .check_code(&me, &filed.id, &third.code)
        .await
        .expect_err("exhausted");
    assert!(err.to_string().contains("too many"), "{err}");
    // The right code, in time: verified; replayed: refused.
    env.clock.advance(SignedDuration::from_mins(2));
    let fourth = app.requests.issue_code(&me, &filed.id).await.expect("code");
    app.requests
        .check_code(&me, &filed.id, &fourth.code)
        .await
        .expect("verified");
    let err = app
        .requests
        .check_code(&me, &filed.id, &fourth.code)
        .await
        .expect_err("replay");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let r = app.requests.request(&me, &filed.id).await.expect("request");
    assert_eq!(r.identity, "verified");
    assert_eq!(r.identity_method.as_deref(), Some("email_code"));
    // Someone else's request is not found, and the attempt is audited.
    let other = principal_of(&t.domain_b, Role::DomainAdmin);
    assert!(matches!(
        app.requests
            .check_code(&other, &filed.id, &fourth.code)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let failed: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'request.verification_failed'")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    );
    assert_eq!(failed, 10, "every refused code is audited");
    let denied = refusals_audited(&app).await;
    assert_eq!(denied, 1);
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(a_delegate_needs_the_proxy_and_their_own_id);
async fn a_delegate_needs_the_proxy_and_their_own_id(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let agent = principal_of(&t.provider, Role::SupportAgent);
    let mut asked = request(&s, &[Right::Access]);
    asked.requester = Requester::Delegate {
        name: "Avv. Carla Neri".into(),
    };
    let filed = app
        .requests
        .file_request(&agent, asked)
        .await
        .expect("file");
    assert!(
        app.requests.issue_code(&agent, &filed.id).await.is_err(),
        "a delegate is not checked by the subject's code"
    );
    app.requests
        .put_document(
            &agent,
            &filed.id,
            DocumentKind::DelegateId,
            "application/pdf",
            b"%PDF-1.7 synthetic",
        )
        .await
        .expect("delegate id");
    let err = app
        .requests
        .approve_identity(&agent, &filed.id)
        .await
        .expect_err("no proxy");
    assert!(err.to_string().contains("missing: proxy"), "{err}");
    assert!(
        app.requests
            .put_document(&agent, &filed.id, DocumentKind::Proxy, "text/html", b"<p>")
            .await
            .is_err(),
        "documents are PDF or images"
    );
    app.requests
        .put_document(
            &agent,
            &filed.id,
            DocumentKind::Proxy,
            "application/pdf",
            b"%PDF-1.7 proxy",
        )
        .await
        .expect("proxy");
    let doc = app
        .requests
        .document(&agent, &filed.id, DocumentKind::Proxy)
        .await
        .expect("read");
    assert_eq!(doc.bytes, b"%PDF-1.7 proxy");
    app.requests
        .approve_identity(&agent, &filed.id)
        .await
        .expect("approve");
    let r = app
        .requests
        .request(&agent, &filed.id)
        .await
        .expect("request");
    assert_eq!(r.identity_method.as_deref(), Some("proxy_and_delegate_id"));
    // Documents are sealed: their bytes are nowhere in clear.
    let raw: Vec<u8> = sqlx::Row::get(
        &sqlx::query("SELECT sealed FROM request_documents WHERE kind = 'proxy'")
            .fetch_one(app.store.pool())
            .await
            .expect("row"),
        0,
    );
    assert!(!raw.windows(14).any(|w| w == b"%PDF-1.7 proxy"));
    app.close().await;
}

on_both_engines!(
    rectification_restriction_objection_and_withdrawal_go_through_the_ledger_and_the_audit
);
async fn rectification_restriction_objection_and_withdrawal_go_through_the_ledger_and_the_audit(
    env: &Env,
) {
    let app = env.open_with(Env::telecom()).await;
    let t = tree(&app).await;
    let policy = app.store.policy();
    let kind = policy.subjects[0].id.value.clone();
    let s = app
        .store
        .create_subject(&admin(), &t.domain_a.id, &kind, "signup")
        .await
        .expect("subject");
    let sys = custode_domain::Principal::system("test");
    let category = policy
        .purposes
        .iter()
        .filter(|p| p.subjects.iter().any(|k| k.value == kind))
        .flat_map(|p| p.categories.iter())
        .find(|c| {
            policy
                .category(&c.value)
                .is_some_and(|c| c.fields.iter().any(|f| f.identifier.is_none()))
        })
        .expect("a category with a plain field")
        .value
        .clone();
    app.store
        .write_records(
            &sys,
            "signup",
            vec![(s.clone(), record(&policy, &category))],
        )
        .await
        .expect("write");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let before = app.store.records(&dpo, &s, "check").await.expect("read");
    let field = policy
        .category(&category)
        .expect("category")
        .fields
        .iter()
        .find(|f| f.identifier.is_none())
        .expect("field")
        .id
        .value
        .clone();
    let req = app
        .requests
        .file_request(
            &dpo,
            request(
                &s,
                &[
                    Right::Rectification,
                    Right::Restriction,
                    Right::Objection,
                    Right::ConsentWithdrawal,
                    Right::Portability,
                ],
            ),
        )
        .await
        .expect("file");
    verify_by_document(&app, &dpo, &req.id).await;
    let input = FulfilmentInput {
        corrections: vec![custode_requests::Correction {
            record: before[0].id,
            fields: [(field.clone(), serde_json::json!("corrected value 42"))].into(),
        }],
        ..Default::default()
    };
    let done = fulfil(&app, &dpo, &req.id, input).await;
    assert_eq!(job(&done, "rectification")["rectified"], 1);
    let after = app.store.records(&dpo, &s, "check").await.expect("read");
    assert_eq!(after[0].fields[&field], "corrected value 42");
    // Before and after are in the audit, sealed: neither value in clear.
    let detail: String = sqlx::Row::get(
        &sqlx::query("SELECT body FROM audit_log WHERE action = 'records.rectified'")
            .fetch_one(app.store.pool())
            .await
            .expect("row"),
        0,
    );
    assert!(
        detail.contains("before_sealed") && detail.contains(&field),
        "{detail}"
    );
    assert!(
        !detail.contains("corrected value 42") && !detail.contains("synthetic"),
        "{detail}"
    );
    // Restricted: only legal obligations go on; objection to all direct
    // marketing; every consent withdrawn.
    let state = app
        .ledger
        .consent_history(&dpo, &s, "check")
        .await
        .expect("ledger");
    let kinds: Vec<&str> = state.iter().map(|e| e.kind.name()).collect();
    assert!(kinds.contains(&"restricted"), "{kinds:?}");
    assert!(kinds.contains(&"objected"), "{kinds:?}");
    for p in policy
        .purposes
        .iter()
        .filter(|p| p.basis != custode_policy::Basis::LegalObligation)
    {
        let d = app
            .ledger
            .decide(&dpo, &s, &p.id.value)
            .await
            .expect("decide");
        assert!(!d.allowed, "{} is stopped by the restriction", p.id.value);
    }
    assert!(job(&done, "restriction")["recipients_to_tell"].is_array());
    // Portability keeps what the person gave on consent or contract.
    let package = app
        .requests
        .request_export(&dpo, &req.id, Right::Portability)
        .await
        .expect("package");
    assert!(package.starts_with(b"PK"));
    // Answered partially: the reasons are required, and go in the letter.
    assert!(
        app.requests
            .answer_request(&dpo, &req.id, Outcome::PartiallyAccepted, " ")
            .await
            .is_err()
    );
    let sent = app
        .requests
        .answer_request(
            &dpo,
            &req.id,
            Outcome::PartiallyAccepted,
            "Il dato di fatturazione resta per legge.",
        )
        .await
        .expect("answer");
    assert!(
        sent.letter
            .to_markdown()
            .contains("Il dato di fatturazione resta per legge.")
    );
    assert!(
        matches!(
            app.requests
                .request_export(&dpo, &req.id, Right::Portability)
                .await,
            Err(StoreError::Conflict(_))
        ),
        "packages go with the answer"
    );
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}

on_both_engines!(a_refusal_needs_reasons_and_cancels_what_was_queued);
async fn a_refusal_needs_reasons_and_cancels_what_was_queued(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = app
        .requests
        .file_request(&dpo, request(&s, &[Right::Erasure]))
        .await
        .expect("file");
    assert!(
        app.requests
            .answer_request(&dpo, &req.id, Outcome::Accepted, "")
            .await
            .is_err(),
        "not verified, not carried out"
    );
    let err = app
        .requests
        .answer_request(&dpo, &req.id, Outcome::Refused, "")
        .await
        .expect_err("no reasons");
    assert!(err.to_string().contains("reasons"), "{err}");
    let sent = app
        .requests
        .answer_request(
            &dpo,
            &req.id,
            Outcome::Refused,
            "Quinta richiesta identica in una settimana: manifestamente eccessiva.",
        )
        .await
        .expect("refused");
    let letter = sent.letter.to_markdown();
    assert!(letter.contains("manifestamente eccessiva"), "{letter}");
    assert!(
        letter.contains("Garante"),
        "the right to complain: {letter}"
    );
    assert_eq!(
        app.requests.answer_of(&dpo, &req.id).await.expect("stored"),
        letter
    );
    app.close().await;
}

on_both_engines!(only_a_role_that_may_erase_queues_an_erasure_request);
async fn only_a_role_that_may_erase_queues_an_erasure_request(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let agent = principal_of(&t.provider, Role::SupportAgent);
    let access = filed_and_verified(&app, &agent, &dpo, &s, &[Right::Access]).await;
    let queued = app
        .requests
        .queue_fulfilment(&agent, &access.id, FulfilmentInput::default())
        .await
        .expect("a support agent carries out an access request");
    assert_eq!(queued.jobs.len(), 1, "{queued:?}");

    let erasure =
        filed_and_verified(&app, &agent, &dpo, &s, &[Right::Access, Right::Erasure]).await;
    let err = app
        .requests
        .queue_fulfilment(&agent, &erasure.id, FulfilmentInput::default())
        .await
        .expect_err("a support agent may not erase");
    assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
    assert!(err.to_string().contains("erasure"), "{err}");
    assert!(
        app.requests
            .request(&dpo, &erasure.id)
            .await
            .expect("request")
            .jobs
            .is_empty(),
        "nothing of the refused request is queued, not even its access package"
    );
    let denied = refusals_audited(&app).await;
    assert_eq!(denied, 1, "the refusal is audited");
    let queued = app
        .requests
        .queue_fulfilment(&dpo, &erasure.id, FulfilmentInput::default())
        .await
        .expect("the DPO carries it out");
    assert_eq!(queued.jobs.len(), 2, "{queued:?}");
    app.close().await;
}

on_both_engines!(a_failing_step_is_retried_and_shown_never_lost);
async fn a_failing_step_is_retried_and_shown_never_lost(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = filed_and_verified(&app, &dpo, &dpo, &s, &[Right::Rectification]).await;
    // A correction of a record that is not the subject's: the step fails.
    let input = FulfilmentInput {
        corrections: vec![custode_requests::Correction {
            record: 999_999,
            fields: [("email".to_owned(), serde_json::json!("x@example.org"))].into(),
        }],
        ..Default::default()
    };
    let shown = fulfil(&app, &dpo, &req.id, input).await;
    let job = &shown.jobs[0];
    assert_eq!(job.state, "pending", "{job:?}");
    assert_eq!(job.attempts, 1);
    assert!(
        job.last_error
            .as_deref()
            .is_some_and(|e| e.contains("not a record of the subject")),
        "{job:?}"
    );
    assert!(job.next_at > env.clock.now(), "retried later, not at once");
    assert_eq!(
        app.requests
            .request_health()
            .await
            .expect("health")
            .steps_failing,
        1
    );
    // Not due yet: nothing runs; once due, it fails again, twice as late.
    assert_eq!(
        app.requests
            .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
            .await
            .expect("run"),
        0
    );
    env.clock.advance(SignedDuration::from_secs(3));
    app.requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");
    let again = app.requests.request(&dpo, &req.id).await.expect("request");
    assert_eq!(again.jobs[0].attempts, 2, "{:?}", again.jobs[0]);
    assert!(again.jobs[0].next_at >= env.clock.now() + SignedDuration::from_secs(4));
    // Refusing the request ends the retries.
    app.requests
        .answer_request(
            &dpo,
            &req.id,
            Outcome::Refused,
            "the record named is not yours",
        )
        .await
        .expect("refused");
    assert_eq!(
        app.requests
            .request_health()
            .await
            .expect("health")
            .steps_failing,
        0
    );
    app.close().await;
}

/// One member of a ZIP, read with Python's standard library.
fn unzip(zip: &[u8], member: &str) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!(
        "custode-req-{}-{}.zip",
        std::process::id(),
        SubjectId::generate()
    ));
    std::fs::write(&path, zip).expect("write");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))",
        ])
        .arg(&path)
        .arg(member)
        .output()
        .expect("python3");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

on_both_engines!(a_request_reaches_the_providers_own_database);
/// A customer of the provider's CRM (PostgreSQL, a schema of its own): the
/// customer row found by e-mail and masked on erasure, its orders found
/// through it and kept under Art. 2220 c.c.; the subject's access and
/// erasure request filed and verified, ready to fulfil.
struct CrmCase {
    app: Custode,
    crm: sqlx::PgPool,
    schema: String,
    dpo: custode_domain::Principal,
    request: String,
}

async fn drop_crm(crm: &sqlx::PgPool, schema: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(crm)
        .await
        .expect("drop");
}

/// Answers the request and checks that the letter names the CRM's law for
/// the orders it keeps.
async fn the_answer_says_what_the_crm_keeps(
    app: &Custode,
    dpo: &custode_domain::Principal,
    request: &str,
) {
    let sent = app
        .requests
        .answer_request(dpo, request, Outcome::Accepted, "")
        .await
        .expect("answer");
    assert!(
        sent.letter
            .to_markdown()
            .contains("Art. 2220 codice civile"),
        "the answer says what the CRM keeps and why: {}",
        sent.letter.to_markdown()
    );
}

async fn crm_case(env: &Env) -> CrmCase {
    // The provider's CRM: customers and their orders, in PostgreSQL.
    let schema = format!("crm_{}", SubjectId::generate());
    let url = "postgres://postgres@127.0.0.1:5432/test";
    let crm = sqlx::postgres::PgPool::connect(url)
        .await
        .expect("the PostgreSQL of the tests runs on 127.0.0.1:5432");
    for sql in [
        format!("CREATE SCHEMA {schema}"),
        format!(
            "CREATE TABLE {schema}.customers (id bigint PRIMARY KEY, email text NOT NULL, name text)"
        ),
        format!(
            "CREATE TABLE {schema}.orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES {schema}.customers(id), item text)"
        ),
        format!(
            "INSERT INTO {schema}.customers VALUES (1, 'ext.user@example.org', 'Ext User'), (2, 'other@example.org', 'Other')"
        ),
        format!(
            "INSERT INTO {schema}.orders VALUES (10, 1, 'fibre 1 Gb/s'), (11, 1, 'router'), (12, 2, 'sim')"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&crm)
            .await
            .expect("crm");
    }
    let app = env.open_with(Env::telecom()).await;
    let policy = app.store.policy();
    let systems = format!(
        r#"
[system]
id = "crm"
kind = "postgres"
url = "{url}"
schema = "{schema}"

[erase]
master_data = {{ mask = "erased" }}
billing = {{ keep = "Art. 2220 codice civile: accounting records are kept 10 years" }}

[[table]]
name = "customers"
key = "id"
identifiers = {{ email = "email" }}
[table.columns]
email = {{ category = "master_data.email", erase = {{ mask = "erased-{{key}}@invalid.example" }} }}
name = "master_data.name"

[[table]]
name = "orders"
key = "id"
parents = [{{ table = "customers", column = "customer_id" }}]
[table.columns]
item = "billing.invoices"
"#
    );
    let mapping = custode_connectors::load("crm.toml", &systems, &policy).expect("mapping");
    app.requests
        .attach_systems(
            custode_connectors::Connectors::from_mappings(vec![mapping]).expect("connectors"),
        )
        .expect("attach");
    let t = tree(&app).await;
    let s = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "customer", "signup")
        .await
        .expect("subject");
    let sys = custode_domain::Principal::system("test");
    app.store
        .write_records(
            &sys,
            "signup",
            vec![(
                s.clone(),
                custode_domain::NewRecord {
                    category: "master_data".into(),
                    fields: [
                        (
                            "email".to_owned(),
                            serde_json::json!("ext.user@example.org"),
                        ),
                        ("name".to_owned(), serde_json::json!("Ext User")),
                    ]
                    .into(),
                    source: "signup".into(),
                    purposes: vec![],
                    collected_at: None,
                },
            )],
        )
        .await
        .expect("write");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = filed_and_verified(&app, &dpo, &dpo, &s, &[Right::Access, Right::Erasure]).await;
    CrmCase {
        app,
        crm,
        schema,
        dpo,
        request: req.id,
    }
}

async fn a_request_reaches_the_providers_own_database(env: &Env) {
    let CrmCase {
        app,
        crm,
        schema,
        dpo,
        request,
    } = crm_case(env).await;
    let req_id = request;
    let done = fulfil(&app, &dpo, &req_id, FulfilmentInput::default()).await;

    // The package holds the subject's rows of the CRM, and only them.
    let zip = app
        .requests
        .request_export(&dpo, &req_id, Right::Access)
        .await
        .expect("package");
    let external: serde_json::Value =
        serde_json::from_slice(&unzip(&zip, "systems.json")).expect("json");
    let tables = external["systems"].as_array().expect("tables");
    let rows_of = |table: &str| -> Vec<serde_json::Value> {
        tables
            .iter()
            .find(|t| t["table"] == table)
            .and_then(|t| t["rows"].as_array().cloned())
            .unwrap_or_default()
    };
    assert_eq!(rows_of("customers").len(), 1, "{external}");
    assert!(
        rows_of("customers")[0]
            .to_string()
            .contains("ext.user@example.org")
    );
    assert_eq!(rows_of("orders").len(), 2, "{external}");
    assert!(!external.to_string().contains("other@example.org"));
    // The same rows as CSV: the header as it always was, every field quoted.
    let csv = String::from_utf8(unzip(&zip, "systems.csv")).expect("utf-8");
    assert!(
        csv.starts_with("system,table,row,column,category,value\r\n\""),
        "{csv}"
    );
    assert!(csv.contains(",\"ext.user@example.org\"\r\n"), "{csv}");
    assert!(!csv.contains("other@example.org"), "{csv}");

    // Erased there too: the email masked, the orders kept with their law.
    let erasure = job(&done, "erasure");
    let crm_line = &erasure["systems"][0];
    assert_eq!(crm_line["system"], "crm", "{erasure}");
    assert!(
        crm_line["kept"]
            .to_string()
            .contains("Art. 2220 codice civile"),
        "{erasure}"
    );
    let left: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, email FROM {schema}.customers ORDER BY id"
    )))
    .fetch_all(&crm)
    .await
    .expect("customers");
    assert_eq!(
        left,
        vec![
            (1, "erased-1@invalid.example".to_owned()),
            (2, "other@example.org".to_owned())
        ]
    );
    the_answer_says_what_the_crm_keeps(&app, &dpo, &req_id).await;
    drop_crm(&crm, &schema).await;
    app.close().await;
}

on_both_engines!(a_crash_after_the_external_erasure_still_says_what_the_crm_keeps);
async fn a_crash_after_the_external_erasure_still_says_what_the_crm_keeps(env: &Env) {
    let case = crm_case(env).await;
    let app = case.app.clone();
    app.requests
        .queue_fulfilment(&case.dpo, &case.request, FulfilmentInput::default())
        .await
        .expect("queue");
    // The worker dies right after the CRM's erasure, before its outcome is
    // recorded: the customer's e-mail is masked, so the orders can no
    // longer be found through it.
    let worker = app.clone();
    let crashed = tokio::spawn(async move {
        worker
            .requests
            .run_due_jobs(std::time::Duration::from_secs(30), &|claim| {
                if claim.right == Right::Erasure && claim.step == 0 {
                    panic!("crash after the external erasure");
                }
            })
            .await
    })
    .await;
    assert!(crashed.is_err_and(|e| e.is_panic()));
    let masked: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT email FROM {}.customers WHERE id = 1",
        case.schema
    )))
    .fetch_all(&case.crm)
    .await
    .expect("customers");
    assert_eq!(masked, vec![("erased-1@invalid.example".to_owned(),)]);

    // Once the lease lapses, another run does the step again and still
    // reports the orders kept, with their law, as planned before erasing.
    env.clock.advance(SignedDuration::from_secs(31));
    app.requests
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");
    let done = app
        .requests
        .request(&case.dpo, &case.request)
        .await
        .expect("request");
    let erasure = job(&done, "erasure");
    let kept = &erasure["systems"][0]["kept"];
    assert_eq!(kept[0]["table"], "orders", "{erasure}");
    assert_eq!(kept[0]["rows"], 2, "{erasure}");
    assert_eq!(erasure["systems"][0]["rows_found"], 3, "{erasure}");
    the_answer_says_what_the_crm_keeps(&app, &case.dpo, &case.request).await;
    drop_crm(&case.crm, &case.schema).await;
    app.close().await;
}

on_both_engines!(a_rectified_identifier_finds_the_subject_only_while_a_record_carries_it);
async fn a_rectified_identifier_finds_the_subject_only_while_a_record_carries_it(env: &Env) {
    use custode_policy::IdentifierKind::Email;
    let app = env.open().await;
    let t = tree(&app).await;
    let policy = app.store.policy();
    let sys = custode_domain::Principal::system("test");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let field = policy
        .category("contact")
        .expect("contact category")
        .fields
        .iter()
        .find(|f| f.identifier == Some(Email))
        .expect("an e-mail field")
        .id
        .value
        .clone();
    // `kept` has two records with the old address, `moved` one.
    let kept = subject(&app, &t).await;
    let moved = subject(&app, &t).await;
    app.store
        .write_records(
            &sys,
            "signup",
            vec![
                (kept.clone(), record(&policy, "contact")),
                (kept.clone(), record(&policy, "contact")),
                (moved.clone(), record(&policy, "contact")),
            ],
        )
        .await
        .expect("write");
    let find = |address: &'static str| {
        let (app, dpo) = (&app, &dpo);
        async move {
            let mut found = app
                .finder
                .find_subjects(dpo, Email, address)
                .await
                .expect("find");
            found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            found
        }
    };
    let mut both = vec![kept.clone(), moved.clone()];
    both.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(find("erase.me@example.org").await, both);
    for s in [&kept, &moved] {
        let first = app.store.records(&dpo, s, "check").await.expect("read")[0].id;
        let req = filed_and_verified(&app, &dpo, &dpo, s, &[Right::Rectification]).await;
        let input = FulfilmentInput {
            corrections: vec![custode_requests::Correction {
                record: first,
                fields: [(
                    field.clone(),
                    serde_json::json!("Right.Address@Example.org"),
                )]
                .into(),
            }],
            ..Default::default()
        };
        let done = fulfil(&app, &dpo, &req.id, input).await;
        assert_eq!(job(&done, "rectification")["rectified"], 1);
    }
    // The old address still finds `kept` (its second record carries it),
    // no longer `moved`; the corrected one finds both.
    assert_eq!(find("erase.me@example.org").await, vec![kept.clone()]);
    assert_eq!(find(" right.address@example.org").await, both);
    app.close().await;
}

// Issue "Every promise kept", item 2 (Art. 19): only the recipients that
// received the subject's data are told — not the accountant (no billing
// data here), not the judicial authority (it receives only on an order) —
// each by mail or as a task staff confirm, dated and audited; the answer
// names those told with their day and those still pending, and no other.
on_both_engines!(recipients_that_received_the_data_are_told_and_the_answer_says_who_and_when);
async fn recipients_that_received_the_data_are_told_and_the_answer_says_who_and_when(env: &Env) {
    let app = env.open().await;
    let t = tree(&app).await;
    let s = subject(&app, &t).await;
    let policy = app.store.policy();
    let sys = custode_domain::Principal::system("test");
    app.store
        .write_records(
            &sys,
            "signup",
            ["contact", "usage"]
                .iter()
                .map(|c| (s.clone(), record(&policy, c)))
                .collect(),
        )
        .await
        .expect("write");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = filed_and_verified(&app, &dpo, &dpo, &s, &[Right::Erasure]).await;
    fulfil(&app, &dpo, &req.id, FulfilmentInput::default()).await;

    let pending = app
        .requests
        .recipient_notices(&dpo, true)
        .await
        .expect("notices");
    let ids: Vec<(&str, &str)> = pending
        .iter()
        .map(|n| (n.recipient.as_str(), n.channel.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("domain_admins", "task"),
            ("hosting", "mail"),
            ("mail_relay", "task"),
            ("resellers", "task")
        ],
        "{pending:?}"
    );
    let hosting = pending
        .iter()
        .find(|n| n.recipient == "hosting")
        .expect("hosting");
    assert_eq!(hosting.categories, ["contact", "usage"]);
    assert_eq!(
        hosting.address.as_deref(),
        Some("privacy@centrodati.example")
    );
    assert!(
        pending
            .iter()
            .all(|n| n.right == "erasure" && n.told_at.is_none())
    );
    // Out of scope: nothing listed, nothing confirmed.
    let other = principal_of(&t.domain_b, Role::Dpo);
    assert!(
        app.requests
            .recipient_notices(&other, false)
            .await
            .expect("notices")
            .is_empty()
    );
    assert!(matches!(
        app.requests
            .confirm_recipient_notice(&other, &req.id, "erasure", "mail_relay")
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // The mail goes to the one recipient with an address, naming the
    // subject by its id and the categories it received.
    let mails = app.requests.recipient_mails_due(10).await.expect("due");
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, "privacy@centrodati.example");
    assert!(mails[0].body.contains(s.as_str()), "{}", mails[0].body);
    assert!(mails[0].body.contains("cancellato"), "{}", mails[0].body);
    assert!(
        mails[0].subject_line.contains(&req.id),
        "{}",
        mails[0].subject_line
    );
    app.requests
        .recipient_mailed(&mails[0])
        .await
        .expect("mailed");
    assert!(
        app.requests
            .recipient_mails_due(10)
            .await
            .expect("due")
            .is_empty()
    );

    // A task confirmed by staff, once.
    let confirmed = app
        .requests
        .confirm_recipient_notice(&dpo, &req.id, "erasure", "mail_relay")
        .await
        .expect("confirm");
    assert_eq!(confirmed.told_by.as_deref(), Some(dpo.id.as_str()));
    assert!(confirmed.told_at.is_some());
    assert!(matches!(
        app.requests
            .confirm_recipient_notice(&dpo, &req.id, "erasure", "mail_relay")
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        app.requests
            .confirm_recipient_notice(&dpo, &req.id, "erasure", "accountant")
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let audited: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM audit_log WHERE body LIKE '%recipient_told%'")
            .fetch_one(app.store.pool())
            .await
            .expect("count"),
        0,
    );
    assert_eq!(audited, 2, "the mail and the confirmation are audited");

    let answer = app
        .requests
        .answer_request(&dpo, &req.id, Outcome::Accepted, "")
        .await
        .expect("answer");
    let letter = answer.letter.to_markdown();
    let (told, rest) = letter
        .split_once("Stiamo informando")
        .unwrap_or_else(|| panic!("pending recipients are named: {letter}"));
    assert!(told.contains("Centrodati Lumière SAS, il "), "{letter}");
    assert!(told.contains("Relais Alpin SA, il "), "{letter}");
    assert!(!told.contains("Rivenditori"), "{letter}");
    assert!(
        rest.contains("Rivenditori autorizzati Posta Cirro"),
        "{letter}"
    );
    assert!(rest.contains("Amministratore del dominio"), "{letter}");
    for never in [
        "Autorità giudiziaria e forze di polizia",
        "Studio Contabile Bardi",
    ] {
        assert!(
            !letter.contains(never),
            "{never} never got the data: {letter}"
        );
    }
    // The tasks outlive the answer, so staff can still confirm them.
    assert_eq!(
        app.requests
            .recipient_notices(&dpo, true)
            .await
            .expect("notices")
            .len(),
        2
    );
    app.close().await;
}

// Issue "Every promise kept", 3: seven months after a telecom subscriber's
// calls moved to the vault, the access package neither gave nor mentioned
// them.
on_both_engines!(an_access_request_says_what_the_vault_keeps_and_gives_what_the_policy_allows);
async fn an_access_request_says_what_the_vault_keeps_and_gives_what_the_policy_allows(env: &Env) {
    let app = env.open_with(Env::telecom()).await;
    let t = tree(&app).await;
    let s = app
        .store
        .create_subject(&admin(), &t.domain_a.id, "customer", "signup")
        .await
        .expect("subject");
    let policy = app.store.policy();
    let sys = custode_domain::Principal::system("test");
    app.store
        .write_records(
            &sys,
            "calls",
            vec![
                (s.clone(), record(&policy, "phone_traffic")),
                (s.clone(), record(&policy, "phone_traffic")),
            ],
        )
        .await
        .expect("write");
    // Billing and bill checks end after six months; the law keeps the
    // calls 24 months, in the vault.
    env.clock.advance(SignedDuration::from_hours(24 * 214));
    app.retention.sweep_all(&sys, 100).await.expect("sweep");
    assert_eq!(app.vault.vault_count().await.expect("count"), 2);

    let dpo = principal_of(&t.provider, Role::Dpo);
    let req = filed_and_verified(&app, &dpo, &dpo, &s, &[Right::Access]).await;
    let done = fulfil(&app, &dpo, &req.id, FulfilmentInput::default()).await;
    let result = job(&done, "access").clone();
    assert_eq!(
        result["vault"],
        serde_json::json!([{
            "category": "phone_traffic",
            "grounds": ["keep_phone_traffic"],
            "records": 2,
            "until": result["vault"][0]["until"],
            "given": 0,
        }]),
        "{result}"
    );
    let until = result["vault"][0]["until"].as_str().expect("an end date");
    assert!(
        until.starts_with("2028-01-0"),
        "24 months from the calls (2026-01-01): {until}"
    );
    let lang = custode_policy::Lang::parse(result["language"].as_str().expect("language"))
        .expect("a notice language");
    let zip = app
        .requests
        .request_export(&dpo, &req.id, Right::Access)
        .await
        .expect("package");
    let json: serde_json::Value =
        serde_json::from_slice(&unzip(&zip, "records.json")).expect("json");
    assert_eq!(json["vault"][0]["category"], "phone_traffic", "{json}");
    assert_eq!(json["vault"][0]["records"], 2);
    assert_eq!(json["vault"][0]["content"], "withheld");
    assert_eq!(json["vault"][0]["given"], serde_json::json!([]));
    let summary =
        String::from_utf8(unzip(&zip, &format!("summary-{}.md", lang.code()))).expect("utf-8");
    let purpose = policy.purpose("keep_phone_traffic").expect("purpose");
    let category = policy
        .category("phone_traffic")
        .expect("category")
        .name
        .get(lang);
    let reason = purpose
        .withheld_because
        .as_ref()
        .expect("the telecom policy states why")
        .get(lang);
    let law = purpose.law.as_ref().expect("law").get(lang);
    for (what, text) in [
        ("the category and count", format!("{category}: 2 ")),
        ("the law", law.to_owned()),
        ("the reason", reason.to_owned()),
    ] {
        assert!(
            summary.contains(&text),
            "the summary states {what}: {summary}"
        );
    }
    let letter = app
        .requests
        .answer_request(&dpo, &req.id, Outcome::Accepted, "")
        .await
        .expect("answer")
        .letter
        .to_markdown();
    assert!(
        letter.contains(&format!("{category}: 2 ")) && letter.contains(reason),
        "the letter says it too: {letter}"
    );
    let root_dpo = custode_domain::Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: custode_domain::Scope::everything(),
    };
    assert!(
        app.vault
            .vault_access_log(&root_dpo, 10)
            .await
            .expect("log")
            .is_empty(),
        "described, not read"
    );

    // A policy that gives the calls to the person: the content is in the
    // package, and reading it is a line of the vault access log.
    let giving = TELECOM.replacen(
        &format!(
            "withheld_because = {}",
            TELECOM
                .split("withheld_because = ")
                .nth(1)
                .and_then(|rest| rest.lines().next())
                .expect("a reason in the telecom policy")
        ),
        "access_content = \"given\"",
        1,
    );
    let giving =
        std::sync::Arc::new(custode_policy::load("telecom.toml", &giving).expect("policy"));
    assert_eq!(
        giving
            .purpose("keep_phone_traffic")
            .expect("purpose")
            .access_content,
        custode_policy::AccessContent::Given
    );
    app.store
        .set_policy(&admin(), giving)
        .await
        .expect("policy");
    let again = filed_and_verified(&app, &dpo, &dpo, &s, &[Right::Access]).await;
    let done = fulfil(&app, &dpo, &again.id, FulfilmentInput::default()).await;
    assert_eq!(job(&done, "access")["vault"][0]["given"], 2);
    let zip = app
        .requests
        .request_export(&dpo, &again.id, Right::Access)
        .await
        .expect("package");
    let json: serde_json::Value =
        serde_json::from_slice(&unzip(&zip, "records.json")).expect("json");
    assert_eq!(json["vault"][0]["content"], "given", "{json}");
    assert_eq!(
        json["vault"][0]["given"][0]["fields"]["called_number"],
        "synthetic called_number"
    );
    let csv = String::from_utf8(unzip(&zip, "records.csv")).expect("utf-8");
    assert!(csv.contains("\"vault\""), "{csv}");
    let log = app
        .vault
        .vault_access_log(&root_dpo, 10)
        .await
        .expect("log");
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].order.number, again.id);
    assert_eq!(log[0].records, 2);
    let of_domain_a = app
        .vault
        .vault_access_log(&principal_of(&t.domain_a, Role::Dpo), 10)
        .await
        .expect("log");
    assert_eq!(of_domain_a.len(), 1, "the subject's domain reviews it");
    assert!(app.vault.audit_verify().await.expect("verify").is_intact());
    app.close().await;
}
