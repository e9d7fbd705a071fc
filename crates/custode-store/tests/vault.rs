//! The vault's promises: closing an account leaves only what a legal
//! obligation keeps, apart, until its legal end; and only the legal officer,
//! with a fresh code and an order reference, reads it — every attempt logged.

mod common;

use std::collections::BTreeMap;

use common::*;
use custode_domain::{NewRecord, Principal, Role, Scope, SubjectId};
use custode_policy::IdentifierKind;
use custode_store::{Grant, LifeEvent, Store, StoreError, VaultOrder, VaultTarget};
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

fn identity(email: &str) -> NewRecord {
    let mut fields = BTreeMap::new();
    fields.insert(
        "business_name".to_owned(),
        serde_json::Value::from("Bottega Sintetica"),
    );
    fields.insert("email".to_owned(), serde_json::Value::from(email));
    fields.insert(
        "vat_number".to_owned(),
        serde_json::Value::from("IT00000000000"),
    );
    NewRecord {
        category: "subscriber_identity".into(),
        fields,
        source: "signup".into(),
        purposes: vec![],
        collected_at: None,
    }
}

fn profile() -> NewRecord {
    let policy = Env::messaging();
    let c = policy.category("subscriber_profile").expect("category");
    NewRecord {
        category: "subscriber_profile".into(),
        fields: [(
            c.fields[0].id.value.clone(),
            serde_json::Value::from("synthetic"),
        )]
        .into_iter()
        .collect(),
        source: "app".into(),
        purposes: vec![],
        collected_at: None,
    }
}

async fn records_of(store: &Store, s: &SubjectId) -> i64 {
    sqlx::query(
        "SELECT COUNT(*) FROM records r JOIN subjects s ON s.key = r.subject_key WHERE s.id = $1",
    )
    .bind(s.as_str())
    .fetch_one(store.pool())
    .await
    .expect("count")
    .get(0)
}

/// A legal officer with a confirmed second factor; returns the principal
/// and the TOTP secret.
async fn legal_officer(env: &Env, store: &Store) -> (Principal, [u8; 20]) {
    let user = store
        .create_user(
            &admin(),
            "lea",
            "a long passphrase for lea",
            &Grant {
                role: Role::LegalOfficer,
                scope_path: "/".into(),
                subject: None,
            },
        )
        .await
        .expect("user");
    let (secret, _) = store
        .enroll_totp("lea", "a long passphrase for lea")
        .await
        .expect("enrol");
    let secret = custode_crypto::totp::secret_from_base32(&secret).expect("160 bits");
    env.clock.advance(SignedDuration::from_secs(30));
    let code = custode_crypto::totp::code_at(&secret, now_secs(env));
    store
        .confirm_totp("lea", "a long passphrase for lea", &code)
        .await
        .expect("confirm");
    (
        Principal {
            id: format!("user:{user}"),
            role: Role::LegalOfficer,
            scope: Scope::everything(),
        },
        secret,
    )
}

fn now_secs(env: &Env) -> u64 {
    u64::try_from(custode_domain::Clock::now(&*env.clock).as_second()).expect("after 1970")
}

fn fresh_code(env: &Env, secret: &[u8; 20]) -> String {
    env.clock.advance(SignedDuration::from_secs(30));
    custode_crypto::totp::code_at(secret, now_secs(env))
}

fn order() -> VaultOrder {
    VaultOrder {
        authority: "Procura della Repubblica di Firenze".into(),
        number: "RG 1234/2026".into(),
        date: "2026-03-02".into(),
        scope: "subscriber identity of the holder of the address".into(),
    }
}

on_both_engines!(closing_an_account_leaves_only_what_the_law_keeps_until_its_end);
async fn closing_an_account_leaves_only_what_the_law_keeps_until_its_end(env: &Env) {
    let store = env.open_with(Env::messaging()).await;
    let t = tree(&store).await;
    let system = Principal::system("test");
    let s = store
        .create_subject(&system, &t.domain_a.id, "subscriber", "signup")
        .await
        .expect("subject");
    store
        .write_records(
            &system,
            "signup",
            vec![
                (s.clone(), identity("shop@example.org")),
                (s.clone(), profile()),
            ],
        )
        .await
        .expect("write");
    store.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(
        store.vault_count().await.expect("count"),
        0,
        "an open account keeps its data"
    );

    env.clock.advance(SignedDuration::from_hours(24 * 10));
    let closed_at = custode_domain::Clock::now(&*env.clock);
    store
        .record_life_event(&system, &s, LifeEvent::AccountClosed, None, "customer left")
        .await
        .expect("close");
    let r = store.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(r.vaulted, 1, "the identity moves to the vault at closure");
    assert_eq!(
        records_of(&store, &s).await,
        1,
        "the profile waits for its own end"
    );

    env.clock.advance(SignedDuration::from_hours(24 * 31));
    store.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(
        records_of(&store, &s).await,
        0,
        "only vault-held records are left"
    );
    assert_eq!(store.vault_count().await.expect("count"), 1);
    let (officer, secret) = legal_officer(env, &store).await;
    let held = store
        .vault_query(
            &officer,
            Some(&fresh_code(env, &secret)),
            &order(),
            &VaultTarget::Subject(s.clone()),
        )
        .await
        .expect("query");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].category, "subscriber_identity");
    assert_eq!(
        held[0].grounds[0].0, "legal_minimum",
        "with its legal ground"
    );
    assert!(!held[0].grounds[0].1.is_empty(), "and the law it names");
    let until = held[0].until.expect("an end date");
    let expected = custode_domain::records::period_end(
        "IT",
        closed_at,
        custode_policy::Period {
            amount: 10,
            unit: custode_policy::Unit::Year,
        },
    )
    .expect("end");
    assert_eq!(until, expected, "ten years from closure, to the day");

    // The day before: still there. From its end: gone.
    env.clock.set(until - SignedDuration::from_hours(24));
    store.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(store.vault_count().await.expect("count"), 1);
    env.clock.set(until);
    let r = store.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(r.vault_erased, 1);
    assert_eq!(store.vault_count().await.expect("count"), 0);
    let report = store
        .retention_report(Timestamp::UNIX_EPOCH)
        .await
        .expect("report");
    for action in ["vaulted", "erased", "vault_erased"] {
        assert!(
            report.iter().any(|l| l.action == action),
            "report has {action}: {report:?}"
        );
    }
    assert!(store.audit_verify().await.expect("verify").is_intact());
    store.close().await;
}

on_both_engines!(only_the_legal_officer_with_a_fresh_code_and_an_order_reads_the_vault);
async fn only_the_legal_officer_with_a_fresh_code_and_an_order_reads_the_vault(env: &Env) {
    let store = env.open_with(Env::messaging()).await;
    let t = tree(&store).await;
    let system = Principal::system("test");
    let s = store
        .create_subject(&system, &t.domain_a.id, "subscriber", "signup")
        .await
        .expect("subject");
    store
        .write_records(
            &system,
            "signup",
            vec![(s.clone(), identity("Shop@Example.org"))],
        )
        .await
        .expect("write");
    store
        .record_life_event(&system, &s, LifeEvent::AccountClosed, None, "left")
        .await
        .expect("close");
    store.sweep_all(&system, 100).await.expect("sweep");
    assert_eq!(store.vault_count().await.expect("count"), 1);
    let (officer, secret) = legal_officer(env, &store).await;
    // Found by the VAT number the ground keeps: the e-mail address is not
    // among its `keep_fields`, so it did not go to the vault.
    let by_vat = VaultTarget::Identifier(IdentifierKind::VatNumber, "IT00000000000".into());

    let dpo = Principal {
        id: "user:dpo".into(),
        role: Role::Dpo,
        scope: Scope::everything(),
    };
    let err = store
        .vault_query(&dpo, Some(&fresh_code(env, &secret)), &order(), &by_vat)
        .await
        .expect_err("not the legal officer");
    assert!(matches!(err, StoreError::Forbidden(_)), "{err}");
    let token = Principal {
        id: "token:0123456789abcdef01234567".into(),
        ..officer.clone()
    };
    assert!(matches!(
        store
            .vault_query(&token, Some("123456"), &order(), &by_vat)
            .await,
        Err(StoreError::Forbidden(_))
    ));
    let no_order = VaultOrder {
        number: String::new(),
        ..order()
    };
    let err = store
        .vault_query(
            &officer,
            Some(&fresh_code(env, &secret)),
            &no_order,
            &by_vat,
        )
        .await
        .expect_err("no order number");
    assert!(err.to_string().contains("order number"), "{err}");
    assert!(matches!(
        store.vault_query(&officer, None, &order(), &by_vat).await,
        Err(StoreError::Forbidden(_))
    ));
    let code = fresh_code(env, &secret);
    let found = store
        .vault_query(&officer, Some(&code), &order(), &by_vat)
        .await
        .expect("allowed");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].fields["vat_number"], "IT00000000000");
    assert!(!found[0].fields.contains_key("email"));
    assert_eq!(found[0].subject, s.to_string());
    assert!(
        store
            .vault_query(&officer, Some(&code), &order(), &by_vat)
            .await
            .is_err(),
        "a code works once"
    );

    // Ordinary reads never reach the vault.
    let err = store
        .records(&system, &s, "rights request")
        .await
        .expect_err("erased");
    assert!(matches!(err, StoreError::Erased(_)), "{err}");

    let log = store.vault_access_log(&dpo, 100).await.expect("log");
    let answered: Vec<_> = log.iter().filter(|l| l.outcome == "answered").collect();
    assert_eq!(answered.len(), 1, "{log:?}");
    assert_eq!(answered[0].order, order());
    assert_eq!(answered[0].records, 1);
    assert!(
        !answered[0].target.contains("00000000000"),
        "the identifier is not logged"
    );
    let refused = log
        .iter()
        .filter(|l| l.outcome.starts_with("refused"))
        .count();
    assert_eq!(refused, 5, "{log:?}");
    let audited: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('vault.queried', 'access.denied')",
    )
    .fetch_one(store.pool())
    .await
    .expect("audit")
    .get(0);
    assert_eq!(audited, 6, "every attempt is in the audit chain");
    assert!(matches!(
        store.vault_access_log(&agent_of(&t), 10).await,
        Err(StoreError::Forbidden(_))
    ));
    store.close().await;
}

fn agent_of(t: &Tree) -> Principal {
    principal_of(&t.provider, Role::SupportAgent)
}

/// A telecom customer with the whole master-data record and billing data,
/// as seed 003's contract forms collect them.
fn telecom_records() -> Vec<NewRecord> {
    let master = [
        ("name", "Mario Sintetico"),
        ("birth_place", "Foligno"),
        ("birth_date", "1980-01-01"),
        ("tax_code", "SNTMRA80A01D653X"),
        ("vat_number", "IT00000000001"),
        ("address", "Via Esempio 1, 06034 Foligno"),
        ("customer_code", "C-000123"),
        ("email", "mario.sintetico@example.org"),
        ("phone", "+39 0742 000 111"),
    ];
    let billing = [
        ("bank_account", "IT60X0542811101000000123456"),
        ("invoices", "F-2026-001"),
        ("payment_terms", "30 days, paid"),
    ];
    [("master_data", &master[..]), ("billing", &billing[..])]
        .into_iter()
        .map(|(category, fields)| NewRecord {
            category: category.into(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect(),
            source: "contract".into(),
            purposes: vec![],
            collected_at: None,
        })
        .collect()
}

on_both_engines!(an_erasure_keeps_only_the_fields_the_law_needs);
async fn an_erasure_keeps_only_the_fields_the_law_needs(env: &Env) {
    let store = env.open_with(Env::telecom()).await;
    let t = tree(&store).await;
    let system = Principal::system("test");
    let s = store
        .create_subject(&system, &t.domain_a.id, "customer", "contract")
        .await
        .expect("subject");
    store
        .write_records(
            &system,
            "contract",
            telecom_records()
                .into_iter()
                .map(|r| (s.clone(), r))
                .collect(),
        )
        .await
        .expect("write");
    let dpo = principal_of(&t.provider, Role::Dpo);
    let filed = store
        .file_request(
            &dpo,
            custode_store::NewRequest {
                subject: s.clone(),
                rights: vec![custode_domain::requests::Right::Erasure],
                requester: custode_store::Requester::Subject,
                contact: "mario.sintetico@example.org".into(),
                text: "Cancellate i miei dati.".into(),
                language: Some(custode_policy::Lang::En),
            },
        )
        .await
        .expect("file");
    store
        .put_document(
            &dpo,
            &filed.id,
            custode_store::DocumentKind::IdDocument,
            "image/png",
            b"\x89PNG\r\n\x1a\n synthetic scan",
        )
        .await
        .expect("document");
    store
        .approve_identity(&dpo, &filed.id)
        .await
        .expect("approve");
    store
        .queue_fulfilment(&dpo, &filed.id, custode_store::FulfilmentInput::default())
        .await
        .expect("queue");
    store
        .run_due_jobs(std::time::Duration::from_secs(30), &|_| {})
        .await
        .expect("run");

    // Tax law and the authorities' orders keep master data and billing in
    // the vault: only the fields their `keep_fields` list went there.
    let (officer, secret) = legal_officer(env, &store).await;
    let mut held = store
        .vault_query(
            &officer,
            Some(&fresh_code(env, &secret)),
            &order(),
            &VaultTarget::Subject(s.clone()),
        )
        .await
        .expect("query");
    held.sort_by(|a, b| a.category.cmp(&b.category));
    let kept: Vec<(&str, Vec<&str>)> = held
        .iter()
        .map(|r| {
            (
                r.category.as_str(),
                r.fields.keys().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("billing", vec!["invoices", "payment_terms"]),
            (
                "master_data",
                vec!["address", "customer_code", "name", "tax_code", "vat_number"]
            ),
        ],
        "e-mail, phone, birth data and bank account are erased"
    );
    assert_eq!(held[1].fields["name"], "Mario Sintetico");
    // A kept identifier still finds the person; one not kept does not.
    let by_tax_code = VaultTarget::Identifier(IdentifierKind::TaxCode, "SNTMRA80A01D653X".into());
    assert_eq!(
        store
            .vault_query(
                &officer,
                Some(&fresh_code(env, &secret)),
                &order(),
                &by_tax_code,
            )
            .await
            .expect("query")
            .len(),
        1
    );
    let by_email =
        VaultTarget::Identifier(IdentifierKind::Email, "mario.sintetico@example.org".into());
    assert!(
        store
            .vault_query(
                &officer,
                Some(&fresh_code(env, &secret)),
                &order(),
                &by_email
            )
            .await
            .expect("query")
            .is_empty()
    );

    // The answer tells the person which fields are kept.
    let sent = store
        .answer_request(&dpo, &filed.id, custode_store::Outcome::Accepted, "")
        .await
        .expect("answer");
    let letter = sent.letter.to_markdown();
    assert!(
        letter.contains("Only these fields are kept: Name and surname or company name, Italian tax code (codice fiscale), VAT number, Residence or registered office, Customer code; the others are erased."),
        "{letter}"
    );
    assert!(
        letter.contains("Only these fields are kept: Invoices, Payment terms and status;"),
        "{letter}"
    );
    store.close().await;
}
